/* In-memory GPT-2 BPE vocabulary: what the model file stores and the tokenizer consumes.
 * Token strings are raw bytes (the byte-level "unicode" aliases of vocab.json already undone). */
#ifndef LAC_VOCAB_H
#define LAC_VOCAB_H
#include <stddef.h>
#include <stdint.h>
#include "lac.h"

typedef struct lac_vocab {
    uint32_t n_tokens;         /* vocab size (50257 for GPT-2) */
    const uint32_t *tok_off;   /* n_tokens + 1 offsets into tok_bytes; token i = [off[i], off[i+1]) */
    const uint8_t *tok_bytes;
    uint32_t n_merges;         /* 50000 for GPT-2 */
    const uint32_t *merges;    /* n_merges pairs (left id, right id) in rank order (rank 0 first) */
} lac_vocab;

/* Token bytes -> id map over a vocab (engine/vocab_map.c). add() keeps the first id of
 * duplicate byte strings; find() returns the id or -1. The vocab must outlive the map. */
typedef struct lac_vocab_map {
    const lac_vocab *v;
    uint32_t *slots; /* id + 1, 0 = empty */
    uint32_t mask;
} lac_vocab_map;
int lac_vocab_map_init(lac_vocab_map *m, const lac_vocab *v); /* 0, or -1 out of memory */
void lac_vocab_map_add(lac_vocab_map *m, uint32_t id);
int64_t lac_vocab_map_find(const lac_vocab_map *m, const uint8_t *p, size_t n);
void lac_vocab_map_free(lac_vocab_map *m);

/* Owned version, produced by the HF-file parser (engine/vocab_hf.c). */
typedef struct lac_vocab_owned {
    lac_vocab v;
    uint32_t *tok_off;
    uint8_t *tok_bytes;
    uint32_t *merges;
} lac_vocab_owned;

/* Parses a Hugging Face tokenizer: vocab.json + merges.txt (or encoder.json + vocab.bpe, the
 * same formats). Every merge's two halves and its result must be in the vocab. */
lac_status lac_vocab_load_hf(const char *vocab_json_path, const char *merges_path,
                             lac_vocab_owned *out, lac_error *err);
void lac_vocab_owned_free(lac_vocab_owned *v);

/* Builds a tokenizer straight from a vocab (the model-file path uses this too). The vocab
 * memory must outlive the tokenizer. eot_token is never produced from input. */
lac_status lac_tokenizer_create_from_vocab(const lac_vocab *v, lac_tokenizer **out,
                                           lac_error *err);
#endif
