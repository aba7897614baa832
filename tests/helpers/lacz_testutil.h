/* Test helpers for hostile and damaged .lacz files (tests/test_hostile.c, tests/test_salvage.c):
 * memory reader/writer, the tiny random model, compressing into memory, walking the records of
 * a file and re-sealing the check fields after a deliberate edit. Header-only (static inline). */
#ifndef LAC_LACZ_TESTUTIL_H
#define LAC_LACZ_TESTUTIL_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "compress_v1.h"
#include "container.h"
#include "container2.h"
#include "lac.h"
#include "model.h"

typedef struct tmem {
    uint8_t *p;
    size_t n, cap, pos;
    size_t step; /* most bytes per read, 0 = any */
} tmem;

static inline long tmem_read(void *ctx, void *buf, size_t n) {
    tmem *m = ctx;
    size_t k = m->n - m->pos;
    if (k > n) k = n;
    if (m->step && k > m->step) k = m->step;
    if (k) memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (long)k;
}

static inline int tmem_write(void *ctx, const void *buf, size_t n) {
    tmem *m = ctx;
    if (m->n + n > m->cap) {
        size_t c = m->cap ? m->cap : 4096;
        while (c < m->n + n) c *= 2;
        uint8_t *q = realloc(m->p, c);
        if (!q) return -1;
        m->p = q;
        m->cap = c;
    }
    if (n) memcpy(m->p + m->n, buf, n); /* empty writes: m->p may be NULL */
    m->n += n;
    return 0;
}

static inline tmem tmem_copy(const void *d, size_t n) {
    tmem m = {0};
    tmem_write(&m, d, n);
    return m;
}

static inline void tmem_free(tmem *m) {
    free(m->p);
    memset(m, 0, sizeof *m);
}

/* The tiny model: 1 layer, 8 wide, 64 positions, 300-token synthetic byte-level vocabulary
 * (eot = 299), random weights of the given seed. */
static inline lac_model *tiny_model(uint64_t seed) {
    lac_model_config c;
    memset(&c, 0, sizeof c);
    c.n_layer = 1, c.n_head = 1, c.n_embd = 8, c.n_ctx = 64, c.vocab_size = 300, c.n_inner = 32;
    c.ln_eps = 1e-5f, c.eot_token = 299, c.storage = LAC_DTYPE_F32;
    strcpy(c.name, "tiny-test");
    lac_model *m = NULL;
    lac_error err;
    return lac_model_create_random(&c, seed, NULL, &m, &err) == LAC_OK ? m : NULL;
}

static inline void tiny_params(lac_params *p, uint32_t block_tokens, int streams) {
    lac_params_default(p);
    p->engine.device = LAC_DEVICE_CPU;
    p->engine.n_threads = 1;
    p->engine.n_streams = streams;
    p->block_tokens = block_tokens;
}

/* Compresses x into *out; returns the status. */
static inline lac_status compress_mem(const lac_model *m, const lac_params *p, const void *x,
                                      size_t n, tmem *out, lac_error *err) {
    tmem in = tmem_copy(x, n);
    memset(out, 0, sizeof *out);
    lac_status s = lac_compress(m, p, tmem_read, &in, tmem_write, out, NULL, err);
    tmem_free(&in);
    return s;
}

/* The same, written in format version 1 (compress_v1.c): the v1 reader's tests. */
static inline lac_status compress_mem_v1(const lac_model *m, const lac_params *p, const void *x,
                                         size_t n, tmem *out, lac_error *err) {
    tmem in = tmem_copy(x, n);
    memset(out, 0, sizeof *out);
    lac_status s = lacz_compress_v1(m, p, tmem_read, &in, tmem_write, out, NULL, err);
    tmem_free(&in);
    return s;
}

/* Decompresses z (read in pieces of `step` bytes, 0 = any) into *out. */
static inline lac_status decompress_mem(const lac_model *m, const lac_params *p, const uint8_t *z,
                                        size_t n, tmem *out, lac_stats *st, lac_error *err) {
    tmem in = {(uint8_t *)z, n, n, 0, 0};
    memset(out, 0, sizeof *out);
    return lac_decompress(m, p, tmem_read, &in, tmem_write, out, st, err);
}

static inline lac_status list_mem(const uint8_t *z, size_t n, lac_file_info *info,
                                  lac_error *err) {
    tmem in = {(uint8_t *)z, n, n, 0, 0};
    return lac_list(tmem_read, &in, info, err);
}

/* ---- record walking -------------------------------------------------------------------- */
typedef struct rec_block {
    size_t off;        /* of the block header in the file */
    uint8_t type;
    uint32_t n_tokens, plain_len, packed_len;
    uint64_t plain_off; /* of its plaintext in the stream's output */
} rec_block;

static inline uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* v1: lists the data blocks of the first stream of z (up to max); returns their count, or -1 when
 * the walk does not reach the end marker. *footer_off receives the footer's offset. */
static inline int walk_blocks(const uint8_t *z, size_t n, rec_block *b, int max,
                              size_t *footer_off) {
    size_t pos = LACZ_HEADER_SIZE;
    uint64_t plain = 0;
    int k = 0;
    while (n - pos >= LACZ_BLOCK_HEADER_SIZE) {
        const uint8_t *h = z + pos;
        if (h[0] == LACZ_BLOCK_END) {
            if (footer_off) *footer_off = pos + LACZ_BLOCK_HEADER_SIZE;
            return k;
        }
        if (k < max) {
            b[k].off = pos;
            b[k].type = h[0];
            b[k].n_tokens = rd32(h + 4);
            b[k].plain_len = rd32(h + 8);
            b[k].packed_len = rd32(h + 12);
            b[k].plain_off = plain;
        }
        plain += rd32(h + 8);
        pos += LACZ_BLOCK_HEADER_SIZE + (size_t)rd32(h + 12);
        k++;
        if (pos > n) return -1;
    }
    return -1;
}

/* v2: the records of the first stream of z (up to max): offset, kind, payload offset and length
 * (kind LACZ2_END for the end record, whose `payload` is the footer). Returns their count, or -1
 * when the walk does not end at the footer. *hdr_n receives the header's length. */
typedef struct rec2 {
    size_t off, payload;
    int kind;
    uint32_t packed_len, plain_len;
} rec2;
static inline int walk_records(const uint8_t *z, size_t n, uint32_t block_tokens, rec2 *b,
                               int max, size_t *hdr_n) {
    lacz2_header h;
    size_t pos = 0, used = 0;
    lac_error e;
    if (lacz2_header_parse(z, n, 0, &h, &pos, &e) != LAC_OK) return -1;
    if (hdr_n) *hdr_n = pos;
    for (int k = 0; k < max; k++) {
        lacz2_record r;
        if (lacz2_record_parse(z + pos, n - pos, pos, block_tokens, &r, &used, &e) != LAC_OK)
            return -1;
        b[k] = (rec2){pos, pos + used, r.kind, r.packed_len, r.plain_len};
        if (r.kind == LACZ2_END) return k + 1;
        pos += used + r.packed_len;
        if (pos > n) return -1;
        if (r.kind == LACZ2_MODEL_LAST) {
            b[++k] = (rec2){pos, pos, LACZ2_END, 0, 0};
            return k + 1;
        }
    }
    return -1;
}

/* Re-seals a record's check field: check(bytes 0..len) stored at rec + len. */
static inline void reseal(uint8_t *rec, size_t len) {
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_Digest(rec, len, d, &dl, EVP_sha256(), NULL);
    memcpy(rec + len, d, 4);
}
static inline void reseal_header(uint8_t *z) { reseal(z, LACZ_HEADER_SIZE - 4); }
static inline void reseal_block(uint8_t *h) { reseal(h, LACZ_BLOCK_HEADER_SIZE - 4); }
static inline void reseal_footer(uint8_t *f) { reseal(f, LACZ_FOOTER_SIZE - 4); }
#endif
