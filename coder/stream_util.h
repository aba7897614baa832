/* Pieces shared by the writers and readers of the stream API (compress.c, compress_v1.c,
 * decompress*.c, raw.c): engine sizing, the interrupt flag and the text test. */
#ifndef LAC_STREAM_UTIL_H
#define LAC_STREAM_UTIL_H
#include <stddef.h>
#include <stdint.h>

#include "lac.h"

/* Most streams (blocks in lock-step): the engine's cap */
#define LACS_MAX_STREAMS LAC_MAX_STREAMS

static inline int lacs_interrupted(const lac_params *p) { return p->interrupt && *p->interrupt; }

/* Creates the engine with `want` streams (max_rows = want * rows_per_stream), or re-creates it
 * when it has fewer: engines are sized to the blocks at hand, so a small input on a GPU does
 * not allocate 256 KV caches, and they grow when a later flush has more blocks. */
lac_status lacs_ensure_engine(const lac_model *m, const lac_params *p, int want,
                              int rows_per_stream, lac_engine **eng, int *eng_B, lac_error *err);

/* 1 when s[0..n) is not text: a NUL byte, or more than 1/8 of its bytes are control characters
 * (other than \t \n \v \f \r and ESC) or bytes of invalid UTF-8. An incomplete sequence at the
 * very end is not counted (it may continue). */
int lacs_looks_binary(const uint8_t *s, size_t n);

/* calloc that never returns NULL for a zero count when memory is there. */
void *lacs_calloc(size_t n, size_t size);
#endif
