/* Test helpers for the engine: a random in-memory model, file loading, row comparison. */
#ifndef ENGINE_TESTUTIL_H
#define ENGINE_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>
#include "lac.h"

/* An in-memory model with random weights (deterministic in seed), built by filling
 * struct lac_model directly: N(0, 0.02)-like weights, LayerNorm weights near 1. No vocab.
 * Free with etu_free_model. */
lac_model *etu_random_model(uint32_t n_layer, uint32_t n_head, uint32_t n_embd, uint32_t n_ctx,
                            uint32_t vocab, uint64_t seed);
void etu_free_model(lac_model *m);

/* Reads a whole file (NULL on error); *n receives its size in bytes. */
void *etu_read_file(const char *path, size_t *n);
/* "$LAC_SHARED/rel", falling back to LAC_SOURCE_DIR/../shared or ../shared. Caller frees. */
char *etu_shared_path(const char *rel);
/* 1 when LAC_TEST_QUICK=1 (sanitizer runs): shrink heavy tests. */
int etu_quick(void);
/* Reads whitespace-separated decimal ids (tokenizer/golden/NAME.ids); NULL on error. */
int32_t *etu_read_ids_text(const char *path, size_t *n);

/* Runs `tokens` (n ids) through a fresh engine on stream `stream` of an engine with B streams,
 * feeding them in chunks of `chunk` tokens (chunk = n: one prefill). Other streams get
 * `other` tokens at the same time (NULL: idle). Writes n * V logits to out. Returns LAC_OK. */
lac_status etu_run(const lac_model *m, lac_device dev, int threads, int B, int stream,
                   const int32_t *tokens, int n, int chunk, const int32_t *other, float *out,
                   lac_error *err);
/* Fills x[0..n) with NaN before a run writes it: a row the run leaves unwritten then differs
 * from any real row under memcmp (NaN bytes never equal finite logits). */
void etu_poison(float *x, size_t n);
/* The first of `rows` rows of V floats that still holds a NaN (a row a run left unwritten,
 * after etu_poison), or -1 when every value is a number. */
long etu_first_nan_row(const float *x, size_t rows, size_t V);
/* lac-tiny (m): two 1024-token blocks of alice29 ([eot] + 1023 golden ids each); the first n
 * tokens of each are run by prefill on 2 threads (the reference), again, on 1 and 8 threads,
 * as single steps, as stream 3 of 7 busy streams, and the first scalar_n by the scalar
 * backend: every row must be bitwise equal (criterion expectations). */
void etu_tiny_bitwise_blocks(const lac_model *m, int n, int scalar_n);
#endif
