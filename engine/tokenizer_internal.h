/* Tokenizer internals exposed for tests (tests/test_tokenizer.c). Not part of the API. */
#ifndef LAC_TOKENIZER_INTERNAL_H
#define LAC_TOKENIZER_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "lac.h"

/* Longest pre-token in bytes (see engine/tokenizer.c, rule 4). */
#define LAC_TOKENIZER_MAX_PRETOKEN 4096

/* BPE-merges one pre-token of n bytes (n <= LAC_TOKENIZER_MAX_PRETOKEN) into ids (room for n)
 * and returns the count. force_heap selects the heap algorithm even for short inputs, so tests
 * can check that both algorithms agree. */
size_t lac_tokenizer_bpe(lac_tokenizer *tk, const uint8_t *s, size_t n, int force_heap,
                         int32_t *ids);
#endif
