/* Shared pieces of the libFuzzer targets (fuzz/fuzz_*.c) and the seed generator (fuzz/make_seeds.c):
 * error-message checks, the tokenizer round-trip property, the tiny model the .lacz targets
 * decode with, and in-memory readers/writers for the stream API. */
#ifndef LAC_FUZZ_COMMON_H
#define LAC_FUZZ_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac.h"
#include "model.h"

#define FUZZ_FAIL(...)                                                                           \
    do {                                                                                         \
        fprintf(stderr, "fuzz check failed: " __VA_ARGS__);                                      \
        fputc('\n', stderr);                                                                     \
        abort();                                                                                 \
    } while (0)

/* Every failure carries its status and a one-line, non-empty message. */
static inline void fuzz_check_error(lac_status st, const lac_error *err) {
    if (st == LAC_OK) return;
    if (err->code != st) FUZZ_FAIL("status %d but err.code %d (%s)", st, err->code, err->msg);
    size_t n = strnlen(err->msg, sizeof err->msg);
    if (n == 0 || n >= sizeof err->msg) FUZZ_FAIL("status %d with an empty message", st);
    if (memchr(err->msg, '\n', n)) FUZZ_FAIL("message has a newline: %s", err->msg);
}

/* ---- growable byte buffer ---------------------------------------------------------------- */
typedef struct fuzz_buf {
    uint8_t *p;
    size_t n, cap;
} fuzz_buf;

static inline void fuzz_buf_add(fuzz_buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n) c *= 2;
        uint8_t *q = realloc(b->p, c);
        if (!q) abort();
        b->p = q;
        b->cap = c;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

/* ---- in-memory reader / writer for the stream API ----------------------------------------- */
typedef struct fuzz_reader {
    const uint8_t *p;
    size_t n, pos;
    size_t step; /* most bytes per call (0: all), to exercise short reads */
} fuzz_reader;

static inline long fuzz_read(void *ctx, void *buf, size_t n) {
    fuzz_reader *r = ctx;
    size_t k = r->n - r->pos;
    if (k > n) k = n;
    if (r->step && k > r->step) k = r->step;
    memcpy(buf, r->p + r->pos, k);
    r->pos += k;
    return (long)k;
}

typedef struct fuzz_writer {
    fuzz_buf out;
    size_t limit; /* writes beyond this many bytes are a failure of the reader's bounds */
} fuzz_writer;

static inline int fuzz_write(void *ctx, const void *buf, size_t n) {
    fuzz_writer *w = ctx;
    if (w->limit && w->out.n + n > w->limit) FUZZ_FAIL("decoder wrote more than %zu bytes", w->limit);
    fuzz_buf_add(&w->out, buf, n);
    return 0;
}

/* ---- tokenizer round trip -------------------------------------------------------------- */
/* detokenize(tokenize(x)) == x, no id is eot, and feeding x in pieces (cut where cuts[] says)
 * gives the same ids as feeding it whole. Returns the number of tokens. */
static inline size_t fuzz_tokenizer_roundtrip(lac_tokenizer *tk, int32_t eot, const uint8_t *x,
                                              size_t n, const uint8_t *cuts, size_t ncuts) {
    lac_error err;
    lac_tokens whole = {0}, parts = {0};
    lac_tokenizer_reset(tk);
    lac_status st = lac_tokenizer_feed(tk, x, n, 1, &whole, &err);
    fuzz_check_error(st, &err);
    if (st) FUZZ_FAIL("tokenizer failed on %zu bytes: %s", n, err.msg);
    fuzz_buf back = {0};
    for (size_t i = 0; i < whole.n; i++) {
        size_t len = 0;
        const uint8_t *b = lac_token_bytes(tk, whole.ids[i], &len);
        if (!b || !len) FUZZ_FAIL("token %d has no bytes", whole.ids[i]);
        if (whole.ids[i] == eot) FUZZ_FAIL("the tokenizer produced eot (%d)", eot);
        fuzz_buf_add(&back, b, len);
    }
    if (back.n != n || (n && memcmp(back.p, x, n)))
        FUZZ_FAIL("detokenize(tokenize(x)) != x (%zu bytes in, %zu out)", n, back.n);
    size_t pos = 0, c = 0;
    while (pos < n) {
        size_t k = c < ncuts ? (size_t)cuts[c++] % 97 : n - pos;
        if (k > n - pos) k = n - pos;
        st = lac_tokenizer_feed(tk, x + pos, k, 0, &parts, &err);
        if (st) FUZZ_FAIL("chunked feed failed: %s", err.msg);
        pos += k; /* (once the cuts are used up, k takes the rest) */
    }
    st = lac_tokenizer_feed(tk, NULL, 0, 1, &parts, &err);
    if (st) FUZZ_FAIL("final feed failed: %s", err.msg);
    if (parts.n != whole.n || (whole.n && memcmp(parts.ids, whole.ids, whole.n * sizeof *whole.ids)))
        FUZZ_FAIL("chunked tokenization differs from whole (%zu vs %zu ids)", parts.n, whole.n);
    size_t nt = whole.n;
    free(back.p);
    lac_tokens_free(&whole);
    lac_tokens_free(&parts);
    return nt;
}

/* ---- the tiny model of the .lacz targets ---------------------------------------------------
 * Random weights (seed FUZZ_MODEL_SEED) over the synthetic 300-token byte-level vocabulary:
 * 1 layer, 1 head, 8 wide, 64 positions. make_seeds.c writes the seed .lacz files with it, so
 * the seeds carry its hash. */
#define FUZZ_MODEL_SEED 7u
#define FUZZ_BLOCK_TOKENS 16u


static inline lac_model *fuzz_tiny_model(void) {
    static lac_model *m;
    if (m) return m;
    lac_model_config c;
    memset(&c, 0, sizeof c);
    c.n_layer = 1;
    c.n_head = 1;
    c.n_embd = 8;
    c.n_ctx = 64;
    c.vocab_size = 300;
    c.n_inner = 32;
    c.ln_eps = 1e-5f;
    c.eot_token = 299;
    c.storage = LAC_DTYPE_F32;
    snprintf(c.name, sizeof c.name, "fuzz-tiny");
    lac_error err;
    if (lac_model_create_random(&c, FUZZ_MODEL_SEED, NULL, &m, &err))
        FUZZ_FAIL("tiny model: %s", err.msg);
    return m;
}
/* A loaded (possibly hostile) model: its vocabulary either builds a tokenizer that
 * round-trips x, or is refused with a proper error. */
static inline void fuzz_check_model(const lac_model *m, const uint8_t *x, size_t n) {
    lac_tokenizer *tk = NULL;
    lac_error err;
    lac_status st = lac_tokenizer_create(m, &tk, &err);
    fuzz_check_error(st, &err);
    if (st) return;
    if (n > 512) n = 512;
    fuzz_tokenizer_roundtrip(tk, (int32_t)m->cfg.eot_token, x, n, x, n < 8 ? n : 8);
    lac_tokenizer_free(tk);
}
#endif
