/* libFuzzer target for the model-file loader (engine/model.c, docs/MODEL_FORMAT.md).
 *
 * Input: byte 0 = mode, the rest = a model image, parsed by lacm_parse from an aligned copy
 * (as the mmap gives). Mode bit 0: before parsing, rewrite file_size and the header check so
 * that mutations reach the fields behind them; bit 1: when the only fault is the identity hash,
 * store the hash the loader computed and parse again, so that arbitrary vocabularies and
 * weights reach the success path (widening, transpose, tokenizer). Checks: no crash, leak or
 * UB (ASan/UBSan); every failure has a status and a one-line message; a success gives a model
 * whose vocabulary builds a tokenizer that round-trips a few bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz_common.h"
#include "model.h"
#include "model_file.h"

static void fix_header(uint8_t *img, size_t size) {
    if (size < LACM_HEADER_SIZE) return;
    lac_le_put64(img + LACM_H_FILE_SIZE, size);
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_Digest(img, LACM_H_CHECK, d, &dl, EVP_sha256(), NULL);
    memcpy(img + LACM_H_CHECK, d, 8);
}

/* On failure *out still holds the partly filled model (its hash is the computed one after an
 * identity-hash mismatch); the caller closes it. */
static lac_status parse(uint8_t *img, size_t size, lac_model **out, lac_error *err) {
    lac_model *m = calloc(1, sizeof *m);
    if (!m) abort();
    lac_status st = lacm_parse(img, size, "fuzz.lacm", m, err);
    fuzz_check_error(st, err);
    *out = m;
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    size_t n = size - 1;
    /* 64-byte aligned copy, like an mmapped file */
    uint8_t *img = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!img) return 0;
    memcpy(img, data + 1, n);
    if (mode & 1) fix_header(img, n);

    lac_error err;
    lac_model *m = NULL;
    lac_status st = parse(img, n, &m, &err);
    if (st == LAC_ERR_CORRUPT && (mode & 2) && n >= LACM_HEADER_SIZE &&
        strstr(err.msg, "identity hash")) {
        memcpy(img + LACM_H_HASH, m->hash, 32);
        fix_header(img, n);
        lac_model_close(m);
        st = parse(img, n, &m, &err);
        if (st) abort(); /* the same image with its own hash must load */
    }
    if (st == LAC_OK) fuzz_check_model(m, data, size);
    lac_model_close(m);
    free(img);
    return 0;
}
