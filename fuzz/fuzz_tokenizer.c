/* libFuzzer target for the tokenizer (engine/tokenizer.c) as a round-trip property.
 *
 * Input: byte 0 = mode (bit 0: the synthetic 300-token vocabulary of the tiny model instead
 * of GPT-2's), byte 1 = number of chunk sizes c (mod 9), c bytes of chunk sizes, then the
 * text. Checks: detokenize(tokenize(x)) == x; feeding x in chunks gives the same ids as
 * feeding it whole; every id is a valid non-eot token. GPT-2's vocabulary comes from the
 * default model (LAC_DEFAULT_MODEL, else models/lac-tiny.lacm of the source tree). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#ifndef LAC_FUZZ_DEFAULT_MODEL
#define LAC_FUZZ_DEFAULT_MODEL "models/lac-tiny.lacm"
#endif

static int32_t eot[2];

static lac_tokenizer *tokenizer(int synthetic) {
    static lac_tokenizer *tk[2];
    static lac_model *gpt2;
    if (tk[synthetic]) return tk[synthetic];
    lac_error err;
    const lac_model *m;
    if (synthetic) {
        m = fuzz_tiny_model();
    } else {
        const char *path = getenv("LAC_DEFAULT_MODEL");
        if (!path) path = LAC_FUZZ_DEFAULT_MODEL;
        if (lac_model_open(path, &gpt2, &err)) FUZZ_FAIL("%s", err.msg);
        m = gpt2;
    }
    if (lac_tokenizer_create(m, &tk[synthetic], &err)) FUZZ_FAIL("%s", err.msg);
    eot[synthetic] = (int32_t)lac_model_get_config(m)->eot_token;
    return tk[synthetic];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int synthetic = data[0] & 1;
    size_t nc = data[1] % 9;
    if (nc > size - 2) nc = size - 2;
    const uint8_t *cuts = data + 2, *x = data + 2 + nc;
    size_t n = size - 2 - nc;
    uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
    if (!copy) abort();
    memcpy(copy, x, n);
    lac_tokenizer *tk = tokenizer(synthetic);
    fuzz_tokenizer_roundtrip(tk, eot[synthetic], copy, n, cuts, nc);
    free(copy);
    return 0;
}
