/* .lacz version 2 records: see container2.h and docs/FORMAT.md. */
#include "container2.h"

#include <openssl/evp.h>
#include <string.h>

#include "container.h"
#include "lac_error.h"
#include "lac_le.h"

size_t lacz2_varint_put(uint8_t *out, uint64_t v) {
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        out[n++] = v ? (uint8_t)(b | 0x80) : b;
    } while (v);
    return n;
}

int lacz2_varint_get(const uint8_t *in, size_t n, size_t max_len, uint64_t *v) {
    uint64_t x = 0;
    for (size_t i = 0; i < max_len; i++) {
        if (i == n) return 0;
        uint8_t b = in[i];
        if (i == 9 && b > 1) return -1; /* beyond 64 bits */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0) return -1; /* not the shortest form */
            *v = x;
            return (int)i + 1;
        }
    }
    return -1;
}

static uint16_t check16(const uint8_t *pre, size_t np, const uint8_t *a, size_t na,
                        const uint8_t *b, size_t nb) {
    uint8_t h[32];
    unsigned int len = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
             (!np || EVP_DigestUpdate(c, pre, np)) && EVP_DigestUpdate(c, a, na) &&
             (!nb || EVP_DigestUpdate(c, b, nb)) && EVP_DigestFinal_ex(c, h, &len);
    EVP_MD_CTX_free(c);
    if (!ok) return 0; /* cannot happen with OpenSSL's default provider */
    return (uint16_t)(h[0] | h[1] << 8);
}

/* ---- stream header ----
 *  0 magic (4)   4 version (low 3 bits) = 2 | flags << 3   5 model id (6)
 *  [numerics varint] [P u8, s u8, T binary32 LE] [block_tokens varint] */
void lacz2_header_init(lacz2_header *h, const lac_coder_params *coder, uint32_t block_tokens,
                       const uint8_t model_hash[32], int sha256) {
    memset(h, 0, sizeof *h);
    h->numerics_version = LAC_NUMERICS_VERSION;
    h->coder = *coder;
    h->block_tokens = block_tokens;
    memcpy(h->model_id, model_hash, LACZ2_ID_BYTES);
    h->sha256 = sha256 != 0;
}

static int coder_is_default(const lac_coder_params *c) {
    lac_coder_params d;
    lac_coder_params_default(&d);
    return c->precision == d.precision && c->frac_bits == d.frac_bits &&
           memcmp(&c->temperature, &d.temperature, sizeof d.temperature) == 0;
}

size_t lacz2_header_write(const lacz2_header *h, uint8_t out[LACZ2_HEADER_MAX]) {
    uint8_t flags = 0;
    if (h->numerics_version != 1) flags |= LACZ2_F_NUMERICS;
    if (!coder_is_default(&h->coder)) flags |= LACZ2_F_CODER;
    if (h->block_tokens != LACZ2_DEFAULT_BLOCK_TOKENS) flags |= LACZ2_F_BLOCK;
    if (h->sha256) flags |= LACZ2_F_SHA256;
    size_t n = 0;
    out[n++] = LACZ_MAGIC_0, out[n++] = LACZ_MAGIC_1, out[n++] = LACZ_MAGIC_2;
    out[n++] = LACZ_MAGIC_3, out[n++] = (uint8_t)(LACZ2_VERSION | flags << 3);
    memcpy(out + n, h->model_id, LACZ2_ID_BYTES);
    n += LACZ2_ID_BYTES;
    if (flags & LACZ2_F_NUMERICS) n += lacz2_varint_put(out + n, h->numerics_version);
    if (flags & LACZ2_F_CODER) {
        uint32_t t;
        memcpy(&t, &h->coder.temperature, 4);
        out[n++] = (uint8_t)h->coder.precision;
        out[n++] = (uint8_t)h->coder.frac_bits;
        lac_le_put32(out + n, t);
        n += 4;
    }
    if (flags & LACZ2_F_BLOCK) n += lacz2_varint_put(out + n, h->block_tokens);
    return n;
}

#define NEED(k)                                                                                \
    do {                                                                                       \
        if (n < (k)) return LAC_ERR_TRUNCATED;                                                \
    } while (0)

/* Reads a varint field; returns LAC_OK, LAC_ERR_TRUNCATED (more bytes needed) or a format
 * error naming it. */
static lac_status field_varint(const uint8_t *in, size_t n, size_t *pos, size_t max_len,
                               uint64_t off, const char *what, uint64_t *v, lac_error *err) {
    int k = lacz2_varint_get(in + *pos, n - *pos, max_len, v);
    if (k == 0) return LAC_ERR_TRUNCATED;
    if (k < 0)
        return lac_fail(err, LAC_ERR_FORMAT, "%s at offset %llu: malformed varint", what,
                        (unsigned long long)(off + *pos));
    *pos += (size_t)k;
    return LAC_OK;
}

static lac_status header_fields(const uint8_t *in, size_t n, uint64_t off, lacz2_header *h,
                                size_t *pos, lac_error *err) {
    NEED(5 + LACZ2_ID_BYTES);
    uint8_t flags = in[4] >> 3;
    if (flags & ~LACZ2_F_KNOWN)
        return lac_fail(err, LAC_ERR_VERSION,
                        "header at offset %llu: unknown flags 0x%02x (a newer lacgpu wrote it)",
                        (unsigned long long)off, flags);
    lac_coder_params_default(&h->coder);
    h->numerics_version = 1;
    h->block_tokens = LACZ2_DEFAULT_BLOCK_TOKENS;
    h->sha256 = (flags & LACZ2_F_SHA256) != 0;
    memcpy(h->model_id, in + 5, LACZ2_ID_BYTES);
    *pos = 5 + LACZ2_ID_BYTES;
    uint64_t v;
    lac_status s;
    if (flags & LACZ2_F_NUMERICS) {
        if ((s = field_varint(in, n, pos, 5, off, "header numerics_version", &v, err))) return s;
        if (v != LAC_NUMERICS_VERSION)
            return lac_fail(err, LAC_ERR_VERSION,
                            "header at offset %llu: numerics version %llu is not supported "
                            "(this build has %d)", (unsigned long long)off,
                            (unsigned long long)v, LAC_NUMERICS_VERSION);
        h->numerics_version = (uint32_t)v;
    }
    if (flags & LACZ2_F_CODER) {
        NEED(*pos + 6);
        const uint32_t t = lac_le_get32(in + *pos + 2);
        h->coder.precision = in[*pos];
        h->coder.frac_bits = in[*pos + 1];
        memcpy(&h->coder.temperature, &t, 4);
        *pos += 6;
    }
    if (flags & LACZ2_F_BLOCK) {
        if ((s = field_varint(in, n, pos, 3, off, "header block_tokens", &v, err))) return s;
        if (v < 1 || v > LACZ_MAX_BLOCK_TOKENS)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "header at offset %llu: block_tokens %llu is outside 1..%u",
                            (unsigned long long)off, (unsigned long long)v, LACZ_MAX_BLOCK_TOKENS);
        h->block_tokens = (uint32_t)v;
    }
    return LAC_OK;
}

lac_status lacz2_header_parse(const uint8_t *in, size_t n, uint64_t off, lacz2_header *h,
                              size_t *used, lac_error *err) {
    *used = 0;
    size_t pos = 0;
    lac_status s = header_fields(in, n, off, h, &pos, err);
    if (s) return s;
    lac_error e2;
    if (lac_coder_params_check(&h->coder, &e2))
        return lac_fail(err, LAC_ERR_FORMAT, "header at offset %llu: %s",
                        (unsigned long long)off, e2.msg);
    *used = pos;
    return LAC_OK;
}

/* ---- block records ---- */
uint32_t lacz2_model_max_packed(uint32_t n_tokens) { return 4u * n_tokens + 16u; }

void lacz2_record_init(lacz2_record *r, int kind, uint32_t n_tokens, uint32_t plain_len,
                       uint32_t packed_len) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->n_tokens = n_tokens;
    r->plain_len = plain_len;
    r->packed_len = packed_len;
    r->head_len = lacz2_varint_put(r->head, (uint64_t)packed_len << 3 | (uint64_t)(kind & 7));
    if (lacz2_is_classic(kind))
        r->head_len += lacz2_varint_put(r->head + r->head_len, plain_len);
}

uint16_t lacz2_record_check(const lacz2_record *r, const uint8_t *prefix, size_t np,
                            const uint8_t *payload) {
    return check16(prefix, np, r->head, r->head_len, payload, r->packed_len);
}

size_t lacz2_record_write(const lacz2_record *r, uint16_t check, uint8_t out[LACZ2_RECORD_MAX]) {
    memcpy(out, r->head, r->head_len);
    if (lacz2_ends_stream(r->kind)) return r->head_len;
    out[r->head_len] = (uint8_t)check;
    out[r->head_len + 1] = (uint8_t)(check >> 8);
    return r->head_len + 2;
}

static lac_status record_limits(lacz2_record *r, uint64_t off, uint32_t block_tokens,
                                lac_error *err) {
    const unsigned long long o = (unsigned long long)off;
    switch (r->kind) {
    case LACZ2_END:
        return LAC_OK;
    case LACZ2_MODEL_FULL:
    case LACZ2_MODEL_PART:
    case LACZ2_MODEL_LAST:
        /* a partial block has at most block_tokens - 1 tokens and its end: block_tokens
         * symbols, like a full one */
        r->n_tokens = r->kind == LACZ2_MODEL_FULL ? block_tokens : 0;
        if (r->packed_len > lacz2_model_max_packed(block_tokens))
            return lac_fail(err, LAC_ERR_FORMAT,
                            "model block at offset %llu: %u payload bytes for at most %u tokens "
                            "(at most %u)", o, r->packed_len, block_tokens,
                            lacz2_model_max_packed(block_tokens));
        return LAC_OK;
    case LACZ2_STORED:
        r->plain_len = r->packed_len;
        if (r->plain_len < 1 || r->plain_len > LACZ2_MAX_PLAIN)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "stored block at offset %llu: length %u is outside 1..%u", o,
                            r->plain_len, LACZ2_MAX_PLAIN);
        return LAC_OK;
    default:
        if (r->plain_len < 1 || r->plain_len > LACZ2_MAX_PLAIN || r->packed_len < 1 ||
            r->packed_len >= r->plain_len)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "block at offset %llu: %u bytes packed for %u plain (needs 1..%u "
                            "plain, fewer packed)", o, r->packed_len, r->plain_len,
                            LACZ2_MAX_PLAIN);
        return LAC_OK;
    }
}

lac_status lacz2_record_parse(const uint8_t *in, size_t n, uint64_t off, uint32_t block_tokens,
                              lacz2_record *r, size_t *used, lac_error *err) {
    *used = 0;
    memset(r, 0, sizeof *r);
    size_t pos = 0;
    uint64_t tag, v = 0;
    lac_status s = field_varint(in, n, &pos, 5, off, "block tag", &tag, err);
    if (s) return s;
    if (tag >> 3 > LACZ2_MAX_PLAIN)
        return lac_fail(err, LAC_ERR_FORMAT, "block at offset %llu: length %llu is beyond %u",
                        (unsigned long long)off, (unsigned long long)(tag >> 3), LACZ2_MAX_PLAIN);
    r->kind = (int)(tag & 7);
    r->packed_len = (uint32_t)(tag >> 3);
    if (r->kind == LACZ2_END && r->packed_len) r->kind = LACZ2_MODEL_LAST;
    if (lacz2_is_classic(r->kind)) {
        s = field_varint(in, n, &pos, 4, off, "block length", &v, err);
        if (s) return s;
        if (v > LACZ2_MAX_PLAIN)
            return lac_fail(err, LAC_ERR_FORMAT, "block at offset %llu: length %llu is beyond %u",
                            (unsigned long long)off, (unsigned long long)v, LACZ2_MAX_PLAIN);
        r->plain_len = (uint32_t)v;
    }
    if ((s = record_limits(r, off, block_tokens, err))) return s;
    memcpy(r->head, in, pos);
    r->head_len = pos;
    if (!lacz2_ends_stream(r->kind)) {
        NEED(pos + 2);
        r->check = (uint16_t)(in[pos] | in[pos + 1] << 8);
        pos += 2;
    }
    *used = pos;
    return LAC_OK;
}

size_t lacz2_footer_write(uint64_t plain_bytes, const uint8_t sha256[32], int full, int with_end,
                          uint8_t out[LACZ2_FOOTER_MAX]) {
    size_t n = 0;
    if (with_end) out[n++] = 0; /* the end tag */
    n += lacz2_varint_put(out + n, plain_bytes);
    size_t k = full ? 32 : 4;
    memcpy(out + n, sha256, k);
    return n + k;
}
