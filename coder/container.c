/* .lacz records: see container.h and docs/FORMAT.md. All integers are little-endian. */
#include "container.h"

#include <math.h>
#include <openssl/evp.h>
#include <string.h>

#include "lac_error.h"
#include "lac_le.h"

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int lacz_sha256(const void *data, size_t n, uint8_t out[32]) {
    unsigned int len = 0;
    if (!EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) || len != 32) return -1;
    return 0;
}

int lacz_block_checksum(const void *data, size_t n, uint8_t out[8]) {
    uint8_t h[32];
    if (lacz_sha256(data, n, h)) return -1;
    memcpy(out, h, 8);
    return 0;
}

/* First 4 bytes of SHA-256 of a record's body, as a little-endian u32. */
static uint32_t record_check(const uint8_t *body, size_t n) {
    uint8_t h[32];
    if (lacz_sha256(body, n, h)) return 0; /* cannot happen with the default provider */
    return lac_le_get32(h);
}

int lacz_is_magic_prefix(const uint8_t *buf, size_t n) {
    static const uint8_t magic[4] = {LACZ_MAGIC_0, LACZ_MAGIC_1, LACZ_MAGIC_2, LACZ_MAGIC_3};
    return n < 4 && memcmp(buf, magic, n) == 0;
}

int lacz_is_magic(const uint8_t *buf, size_t n) {
    return n >= 4 && buf[0] == LACZ_MAGIC_0 && buf[1] == LACZ_MAGIC_1 &&
           buf[2] == LACZ_MAGIC_2 && buf[3] == LACZ_MAGIC_3;
}

/* ---- stream header ----
 *   0  magic (4)          4 format_version u32   8 numerics_version u32   12 flags u32
 *  16  precision P u32   20 frac_bits s u32     24 temperature fp32 bits  28 block_tokens u32
 *  32  model hash (32)   64 model name (64, NUL-padded)                  128 check u32 */
void lacz_header_init(lacz_header *h, const lac_coder_params *coder, uint32_t block_tokens,
                      const uint8_t model_hash[32], const char *model_name) {
    memset(h, 0, sizeof *h);
    h->format_version = LACZ_V1_VERSION;
    h->numerics_version = LAC_NUMERICS_VERSION;
    h->flags = 0;
    h->coder = *coder;
    h->block_tokens = block_tokens;
    memcpy(h->model_hash, model_hash, 32);
    if (model_name) {
        size_t n = strnlen(model_name, sizeof h->model_name - 1);
        memcpy(h->model_name, model_name, n);
    }
}

lac_status lacz_header_check(const lacz_header *h, uint64_t off, lac_error *err) {
    const lac_coder_params *c = &h->coder;
    if (c->precision < LAC_PRECISION_MIN || c->precision > LAC_PRECISION_MAX)
        return lac_fail(err, LAC_ERR_FORMAT,
                        "header at offset %llu: precision P = %u is outside %u..%u",
                        (unsigned long long)off, c->precision, LAC_PRECISION_MIN,
                        LAC_PRECISION_MAX);
    if (c->frac_bits < LAC_FRAC_BITS_MIN || c->frac_bits > LAC_FRAC_BITS_MAX)
        return lac_fail(err, LAC_ERR_FORMAT,
                        "header at offset %llu: fraction bits s = %u is outside %u..%u",
                        (unsigned long long)off, c->frac_bits, LAC_FRAC_BITS_MIN,
                        LAC_FRAC_BITS_MAX);
    if (!(c->temperature > 0.0f) || !isfinite(c->temperature))
        return lac_fail(err, LAC_ERR_FORMAT,
                        "header at offset %llu: temperature %g is not a positive finite number",
                        (unsigned long long)off, (double)c->temperature);
    if (h->block_tokens < 1 || h->block_tokens > LACZ_MAX_BLOCK_TOKENS)
        return lac_fail(err, LAC_ERR_FORMAT,
                        "header at offset %llu: block_tokens = %u is outside 1..%u",
                        (unsigned long long)off, h->block_tokens, LACZ_MAX_BLOCK_TOKENS);
    size_t n = strnlen(h->model_name, sizeof h->model_name);
    if (n == sizeof h->model_name)
        return lac_fail(err, LAC_ERR_FORMAT,
                        "header at offset %llu: model name is not NUL-terminated",
                        (unsigned long long)off);
    for (size_t i = n; i < sizeof h->model_name; i++)
        if (h->model_name[i])
            return lac_fail(err, LAC_ERR_FORMAT,
                            "header at offset %llu: model name padding is not zero",
                            (unsigned long long)off);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)h->model_name[i] < 0x20 || h->model_name[i] == 0x7f)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "header at offset %llu: model name has a control character",
                            (unsigned long long)off);
    return LAC_OK;
}

void lacz_header_write(const lacz_header *h, uint8_t out[LACZ_HEADER_SIZE]) {
    memset(out, 0, LACZ_HEADER_SIZE);
    out[0] = LACZ_MAGIC_0;
    out[1] = LACZ_MAGIC_1;
    out[2] = LACZ_MAGIC_2;
    out[3] = LACZ_MAGIC_3;
    lac_le_put32(out + 4, h->format_version);
    lac_le_put32(out + 8, h->numerics_version);
    lac_le_put32(out + 12, h->flags);
    lac_le_put32(out + 16, h->coder.precision);
    lac_le_put32(out + 20, h->coder.frac_bits);
    lac_le_put32(out + 24, f32_bits(h->coder.temperature));
    lac_le_put32(out + 28, h->block_tokens);
    memcpy(out + 32, h->model_hash, 32);
    memcpy(out + 64, h->model_name, 64);
    lac_le_put32(out + 128, record_check(out, 128));
}

lac_status lacz_header_parse(const uint8_t in[LACZ_HEADER_SIZE], uint64_t off, lacz_header *h,
                             lac_error *err) {
    unsigned long long o = (unsigned long long)off;
    if (!lacz_is_magic(in, LACZ_HEADER_SIZE))
        return lac_fail(err, LAC_ERR_FORMAT, "offset %llu: not a .lacz stream (bad magic)", o);
    memset(h, 0, sizeof *h);
    h->format_version = lac_le_get32(in + 4);
    if (h->format_version != LACZ_V1_VERSION)
        return lac_fail(err, LAC_ERR_VERSION,
                        "header at offset %llu: .lacz format version %u is not supported "
                        "(this build reads version %d)",
                        o, h->format_version, LACZ_V1_VERSION);
    if (lac_le_get32(in + 128) != record_check(in, 128))
        return lac_fail(err, LAC_ERR_CORRUPT, "header at offset %llu: header check mismatch",
                        o);
    h->numerics_version = lac_le_get32(in + 8);
    h->flags = lac_le_get32(in + 12);
    h->coder.precision = lac_le_get32(in + 16);
    h->coder.frac_bits = lac_le_get32(in + 20);
    h->coder.temperature = bits_f32(lac_le_get32(in + 24));
    h->block_tokens = lac_le_get32(in + 28);
    memcpy(h->model_hash, in + 32, 32);
    memcpy(h->model_name, in + 64, 64);
    if (h->numerics_version != LAC_NUMERICS_VERSION)
        return lac_fail(err, LAC_ERR_VERSION,
                        "header at offset %llu: numerics version %u is not supported "
                        "(this build computes version %d)",
                        o, h->numerics_version, LAC_NUMERICS_VERSION);
    if (h->flags & ~LACZ_FLAGS_KNOWN)
        return lac_fail(err, LAC_ERR_VERSION,
                        "header at offset %llu: unknown flags 0x%08x (this build knows 0x%08x)",
                        o, h->flags, LACZ_FLAGS_KNOWN);
    return lacz_header_check(h, off, err);
}

/* ---- block header / end marker ----
 *   0 type u8   1 reserved (3, zero)   4 n_tokens u32   8 plain_len u32   12 packed_len u32
 *  16 plaintext checksum (8)           24 check u32 */
void lacz_block_header_write(const lacz_block_header *b, uint8_t out[LACZ_BLOCK_HEADER_SIZE]) {
    memset(out, 0, LACZ_BLOCK_HEADER_SIZE);
    out[0] = b->type;
    lac_le_put32(out + 4, b->n_tokens);
    lac_le_put32(out + 8, b->plain_len);
    lac_le_put32(out + 12, b->packed_len);
    memcpy(out + 16, b->checksum, 8);
    lac_le_put32(out + 24, record_check(out, 24));
}

void lacz_end_marker(lacz_block_header *b) {
    memset(b, 0, sizeof *b);
    b->type = LACZ_BLOCK_END;
}

lac_status lacz_block_header_parse(const uint8_t in[LACZ_BLOCK_HEADER_SIZE], uint64_t off,
                                   uint32_t block_tokens, lacz_block_header *b,
                                   lac_error *err) {
    unsigned long long o = (unsigned long long)off;
    memset(b, 0, sizeof *b);
    if (lac_le_get32(in + 24) != record_check(in, 24))
        return lac_fail(err, LAC_ERR_CORRUPT, "block header at offset %llu: header check mismatch",
                        o);
    b->type = in[0];
    b->n_tokens = lac_le_get32(in + 4);
    b->plain_len = lac_le_get32(in + 8);
    b->packed_len = lac_le_get32(in + 12);
    memcpy(b->checksum, in + 16, 8);
    if (in[1] | in[2] | in[3])
        return lac_fail(err, LAC_ERR_FORMAT,
                        "block header at offset %llu: reserved bytes are not zero", o);
    switch (b->type) {
    case LACZ_BLOCK_END:
        for (int i = 4; i < 24; i++)
            if (in[i])
                return lac_fail(err, LAC_ERR_FORMAT,
                                "end marker at offset %llu: field bytes are not zero", o);
        return LAC_OK;
    case LACZ_BLOCK_STORED:
        if (b->n_tokens != 0)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "stored block at offset %llu: token count %u is not 0", o,
                            b->n_tokens);
        if (b->plain_len < 1 || b->plain_len > LACZ_MAX_BLOCK_PLAIN)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "stored block at offset %llu: plaintext length %u is outside 1..%u",
                            o, b->plain_len, LACZ_MAX_BLOCK_PLAIN);
        if (b->packed_len != b->plain_len)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "stored block at offset %llu: packed length %u != plaintext "
                            "length %u",
                            o, b->packed_len, b->plain_len);
        return LAC_OK;
    case LACZ_BLOCK_CODED:
        if (b->n_tokens < 1 || b->n_tokens > block_tokens)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "coded block at offset %llu: token count %u is outside 1..%u "
                            "(block_tokens)",
                            o, b->n_tokens, block_tokens);
        if (b->plain_len < b->n_tokens || b->plain_len > LACZ_MAX_BLOCK_PLAIN)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "coded block at offset %llu: plaintext length %u is outside %u..%u",
                            o, b->plain_len, b->n_tokens, LACZ_MAX_BLOCK_PLAIN);
        if (b->packed_len >= b->plain_len ||
            b->packed_len > LACZ_CODED_MAX_PACKED(b->n_tokens))
            return lac_fail(err, LAC_ERR_FORMAT,
                            "coded block at offset %llu: packed length %u is not below the "
                            "plaintext length %u and %u",
                            o, b->packed_len, b->plain_len, LACZ_CODED_MAX_PACKED(b->n_tokens));
        return LAC_OK;
    default:
        return lac_fail(err, LAC_ERR_FORMAT, "block header at offset %llu: unknown type 0x%02x",
                        o, b->type);
    }
}

/* ---- footer ----
 *   0 plain_bytes u64   8 blocks u64   16 SHA-256 of the plaintext (32)   48 check u32 */
void lacz_footer_write(const lacz_footer *f, uint8_t out[LACZ_FOOTER_SIZE]) {
    memset(out, 0, LACZ_FOOTER_SIZE);
    lac_le_put64(out, f->plain_bytes);
    lac_le_put64(out + 8, f->blocks);
    memcpy(out + 16, f->sha256, 32);
    lac_le_put32(out + 48, record_check(out, 48));
}

lac_status lacz_footer_parse(const uint8_t in[LACZ_FOOTER_SIZE], uint64_t off, lacz_footer *f,
                             lac_error *err) {
    memset(f, 0, sizeof *f);
    if (lac_le_get32(in + 48) != record_check(in, 48))
        return lac_fail(err, LAC_ERR_CORRUPT, "footer at offset %llu: footer check mismatch",
                        (unsigned long long)off);
    f->plain_bytes = lac_le_get64(in);
    f->blocks = lac_le_get64(in + 8);
    memcpy(f->sha256, in + 16, 32);
    return LAC_OK;
}
