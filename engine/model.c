/* Model files: open (mmap), validate, widen 16-bit storage, identity hash, getters.
 * Layout and hash are described in docs/MODEL_FORMAT.md and engine/model_file.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lac_error.h"
#include "model.h"
#include "model_file.h"

/* ---- dtype helpers ------------------------------------------------------------------------ */
size_t lacm_dtype_size(uint32_t dtype) {
    switch (dtype) {
    case LAC_DTYPE_F32: return 4;
    case LAC_DTYPE_F16: return 2;
    case LAC_DTYPE_BF16: return 2;
    }
    return 0;
}

const char *lacm_dtype_name(uint32_t dtype) {
    switch (dtype) {
    case LAC_DTYPE_F32: return "f32";
    case LAC_DTYPE_F16: return "f16";
    case LAC_DTYPE_BF16: return "bf16";
    }
    return "unknown";
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

float lacm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000u | (man << 13)); /* inf / nan */
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: man * 2^-24, exact in fp32 */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400u));
        man &= 0x3FFu;
        return bits_f32(sign | (uint32_t)(127 - 15 - e) << 23 | (man << 13));
    }
    return bits_f32(sign | (exp + 112u) << 23 | (man << 13));
}

float lacm_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t lacm_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet nan */
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

uint16_t lacm_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u);
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {                                   /* below 2^-14: subnormal */
        if (a < 0x33000000u) return sign;                    /* below 2^-25: zero */
        uint32_t e = a >> 23, man = (a & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126u - e; /* value = man * 2^(e-150); f16 ulp = 2^-24 */
        /* result = man >> (shift - 0)... computed as man * 2^(e-150+24) = man >> (126 - e) */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = a + 0xFFFu + ((a >> 13) & 1u); /* round to nearest even at bit 13 */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float lacm_load_value(const uint8_t *s, lac_dtype dt, size_t i) {
    if (dt == LAC_DTYPE_F32) {
        uint32_t u = lac_le_get32(s + 4 * i);
        return bits_f32(u);
    }
    uint16_t h = (uint16_t)(s[2 * i] | s[2 * i + 1] << 8);
    return dt == LAC_DTYPE_F16 ? lacm_f16_to_f32(h) : lacm_bf16_to_f32(h);
}

/* ---- tensor specs ------------------------------------------------------------------------- */
int lacm_tensor_spec(const lac_model_config *cfg, uint32_t i, char *name, uint32_t shape[2]) {
    uint32_t C = cfg->n_embd, F = cfg->n_inner;
    uint32_t nl = cfg->n_layer;
    shape[1] = 0;
    if (i == 0) {
        snprintf(name, LACM_NAME_LEN, "wte.weight");
        shape[0] = cfg->vocab_size, shape[1] = C;
        return 2;
    }
    if (i == 1) {
        snprintf(name, LACM_NAME_LEN, "wpe.weight");
        shape[0] = cfg->n_ctx, shape[1] = C;
        return 2;
    }
    if (i >= 2 + 12u * nl) {
        snprintf(name, LACM_NAME_LEN, "ln_f.%s", i == 2 + 12u * nl ? "weight" : "bias");
        shape[0] = C;
        return 1;
    }
    uint32_t l = (i - 2) / 12, t = (i - 2) % 12;
    static const char *const names[12] = {
        "ln_1.weight",    "ln_1.bias",       "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",   "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias",  "mlp.c_proj.weight",  "mlp.c_proj.bias"};
    static const uint32_t rows[12] = {1, 1, 1, 3, 1, 1, 1, 1, 1, 0, 0, 1};
    snprintf(name, LACM_NAME_LEN, "h.%u.%s", l, names[t]);
    switch (t) {
    case LACM_T_ATTN_W: shape[0] = C, shape[1] = 3 * C; return 2;
    case LACM_T_PROJ_W: shape[0] = C, shape[1] = C; return 2;
    case LACM_T_FC_W: shape[0] = C, shape[1] = F; return 2;
    case LACM_T_FCPROJ_W: shape[0] = F, shape[1] = C; return 2;
    case LACM_T_FC_B: shape[0] = F; return 1;
    default: shape[0] = rows[t] * C; return 1;
    }
}

/* ---- identity hash ------------------------------------------------------------------------- */
static int hash_u32(EVP_MD_CTX *ctx, uint32_t v) {
    uint8_t b[4];
    lac_le_put32(b, v);
    return EVP_DigestUpdate(ctx, b, 4);
}

static int hash_u32_array(EVP_MD_CTX *ctx, const uint32_t *a, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return EVP_DigestUpdate(ctx, a, n * 4);
#else
    for (size_t i = 0; i < n; i++)
        if (!hash_u32(ctx, a[i])) return 0;
    return 1;
#endif
}

int lacm_hash_prefix(EVP_MD_CTX *ctx, const lac_model_config *cfg, const lac_vocab *v) {
    uint8_t b[8];
    int ok = EVP_DigestUpdate(ctx, LACM_HASH_TAG, sizeof LACM_HASH_TAG);
    ok = ok && hash_u32(ctx, cfg->n_layer) && hash_u32(ctx, cfg->n_head) &&
         hash_u32(ctx, cfg->n_embd) && hash_u32(ctx, cfg->n_ctx) &&
         hash_u32(ctx, cfg->vocab_size) && hash_u32(ctx, cfg->n_inner) &&
         hash_u32(ctx, f32_bits(cfg->ln_eps)) && hash_u32(ctx, cfg->eot_token);
    ok = ok && hash_u32(ctx, v->n_tokens) && hash_u32_array(ctx, v->tok_off, v->n_tokens + 1u);
    lac_le_put64(b, v->tok_off[v->n_tokens]);
    ok = ok && EVP_DigestUpdate(ctx, b, 8) &&
         EVP_DigestUpdate(ctx, v->tok_bytes, v->tok_off[v->n_tokens]);
    ok = ok && hash_u32(ctx, v->n_merges) &&
         hash_u32_array(ctx, v->merges, (size_t)v->n_merges * 2u);
    return ok;
}

void lac_hash_hex(const uint8_t hash[32], char out[65]) {
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[hash[i] >> 4];
        out[2 * i + 1] = hx[hash[i] & 15];
    }
    out[64] = '\0';
}

/* ---- parsing ------------------------------------------------------------------------------- */
/* Checks that [off, off+len) is aligned, starts at or after min and lies within size. field
 * is the file offset of the field that holds off (for messages). */
static lac_status check_section(const char *label, const char *what, uint64_t field,
                                uint64_t off, uint64_t len, uint64_t min, uint64_t size,
                                lac_error *err) {
    unsigned long long fo = (unsigned long long)field;
    if (off % LACM_ALIGN)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: %s offset %llu is not %u-byte aligned (field "
                        "at offset %llu)", label, what, (unsigned long long)off, LACM_ALIGN, fo);
    if (off < min)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: %s offset %llu overlaps the previous section "
                        "(which ends at %llu; field at offset %llu)", label, what,
                        (unsigned long long)off, (unsigned long long)min, fo);
    if (off > size || len > size - off)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: %s [%llu, +%llu) lies beyond the end of the "
                        "file (%llu bytes; field at offset %llu)", label, what,
                        (unsigned long long)off, (unsigned long long)len,
                        (unsigned long long)size, fo);
    return LAC_OK;
}

/* in_file: the config comes from a model-file header, whose field offsets the messages name. */
static lac_status check_config(const char *label, const lac_model_config *c, int in_file,
                               lac_error *err) {
    char at[48];
#define AT(hoff) (in_file ? (snprintf(at, sizeof at, " (header offset %u)", (unsigned)(hoff)), at) : "")
#define CAP(field, lo, hi, hoff)                                                                 \
    if (c->field < (lo) || c->field > (hi))                                                      \
        return lac_fail(err, (c->field > (hi)) ? LAC_ERR_LIMIT : LAC_ERR_FORMAT,                 \
                        "%s: " #field " = %u is outside %u..%u%s", label, c->field,              \
                        (unsigned)(lo), (unsigned)(hi), AT(hoff));
    CAP(n_layer, 1u, LACM_MAX_LAYER, LACM_H_N_LAYER)
    CAP(n_head, 1u, LACM_MAX_HEAD, LACM_H_N_HEAD)
    CAP(n_embd, 1u, LACM_MAX_EMBD, LACM_H_N_EMBD)
    CAP(n_ctx, 1u, LACM_MAX_CTX, LACM_H_N_CTX)
    CAP(vocab_size, 257u, LACM_MAX_VOCAB, LACM_H_VOCAB)
    CAP(n_inner, 1u, LACM_MAX_INNER, LACM_H_N_INNER)
#undef CAP
    if (c->n_embd % c->n_head)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: n_embd %u is not a multiple of n_head %u%s",
                        label, c->n_embd, c->n_head, AT(LACM_H_N_EMBD));
    if (!(c->ln_eps > 0.0f && c->ln_eps < 1.0f))
        return lac_fail(err, LAC_ERR_FORMAT, "%s: ln_eps %g is not in (0, 1)%s", label,
                        (double)c->ln_eps, AT(LACM_H_LN_EPS));
    if (c->eot_token >= c->vocab_size)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: eot_token %u is not below vocab_size %u%s",
                        label, c->eot_token, c->vocab_size, AT(LACM_H_EOT));
#undef AT
    if (lacm_dtype_size((uint32_t)c->storage) == 0)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: unknown storage dtype %d", label,
                        (int)c->storage);
    return LAC_OK;
}

lac_status lacm_check_config(const char *label, const lac_model_config *c, lac_error *err) {
    return check_config(label, c, 0, err);
}

/* dst[c][r] = src[r][c], in 32x32 tiles; threads own disjoint rows of dst. */
static void transpose(const float *src, float *dst, uint32_t rows, uint32_t cols) {
    const long B = 32;
#pragma omp parallel for schedule(static) if ((uint64_t)rows * cols > (1u << 20))
    for (long c0 = 0; c0 < (long)cols; c0 += B)
        for (long r0 = 0; r0 < (long)rows; r0 += B) {
            long r1 = r0 + B < (long)rows ? r0 + B : (long)rows;
            long c1 = c0 + B < (long)cols ? c0 + B : (long)cols;
            for (long r = r0; r < r1; r++)
                for (long c = c0; c < c1; c++)
                    dst[(size_t)c * rows + (size_t)r] = src[(size_t)r * cols + (size_t)c];
        }
}

/* dst[c][r] = src[r][c] for 16-bit little-endian src (as transpose above). */
static void transpose_u16(const uint8_t *src, uint16_t *dst, uint32_t rows, uint32_t cols) {
    const long B = 32;
#pragma omp parallel for schedule(static) if ((uint64_t)rows * cols > (1u << 20))
    for (long c0 = 0; c0 < (long)cols; c0 += B)
        for (long r0 = 0; r0 < (long)rows; r0 += B) {
            long r1 = r0 + B < (long)rows ? r0 + B : (long)rows;
            long c1 = c0 + B < (long)cols ? c0 + B : (long)cols;
            for (long r = r0; r < r1; r++)
                for (long c = c0; c < c1; c++) {
                    const uint8_t *h = src + 2 * ((size_t)r * cols + (size_t)c);
                    dst[(size_t)c * rows + (size_t)r] = (uint16_t)(h[0] | h[1] << 8);
                }
        }
}

/* Widens n 16-bit little-endian values exactly (table: all 65536 F16 values, or NULL for BF16). */
static void widen(const uint8_t *s, float *d, size_t n, const float *f16_table) {
#pragma omp parallel for schedule(static) if (n > (1u << 20))
    for (long k = 0; k < (long)n; k++) {
        uint16_t h = (uint16_t)(s[2 * k] | s[2 * k + 1] << 8);
        d[k] = f16_table ? f16_table[h] : lacm_bf16_to_f32(h);
    }
}

/* The section offsets and counts of a model file's header. */
typedef struct lacm_sections {
    uint32_t n_merges, n_tensors;
    uint64_t off_tok, off_bytes, bytes_len, off_merges, off_dir, off_data;
} lacm_sections;

/* Header: magic, version, checksum, reserved bytes, the config (checked) and the file size. */
static lac_status parse_header(const uint8_t *img, size_t size, const char *label,
                               lac_model_config *c, lac_error *err) {
    if (size < LACM_HEADER_SIZE)
        return lac_fail(err, LAC_ERR_TRUNCATED, "%s: %zu bytes, shorter than the %u-byte header",
                        label, size, LACM_HEADER_SIZE);
    const uint8_t *h = img;
    if (memcmp(h + LACM_H_MAGIC, LACM_MAGIC, 8))
        return lac_fail(err, LAC_ERR_FORMAT, "%s: bad magic (not a lacgpu model file)", label);
    uint32_t version = lac_le_get32(h + LACM_H_VERSION);
    if (version > LAC_MODEL_FORMAT_VERSION)
        return lac_fail(err, LAC_ERR_VERSION,
                        "%s: model format version %u is newer than this build's (%d)", label,
                        version, LAC_MODEL_FORMAT_VERSION);
    if (version == 0)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: model format version 0 is invalid", label);
    if (lac_le_get32(h + LACM_H_HEADER_SIZE) != LACM_HEADER_SIZE)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: header_size %u, expected %u", label,
                        lac_le_get32(h + LACM_H_HEADER_SIZE), LACM_HEADER_SIZE);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (!EVP_Digest(h, LACM_H_CHECK, digest, &dlen, EVP_sha256(), NULL))
        return lac_fail(err, LAC_ERR_NOMEM, "%s: SHA-256 failed", label);
    if (memcmp(digest, h + LACM_H_CHECK, 8))
        return lac_fail(err, LAC_ERR_CORRUPT, "%s: header checksum mismatch (header corrupted)",
                        label);
    for (unsigned i = LACM_H_CHECK + 8; i < LACM_HEADER_SIZE; i++)
        if (h[i])
            return lac_fail(err, LAC_ERR_FORMAT, "%s: reserved header byte %u is not zero", label,
                            i);

    memset(c, 0, sizeof *c);
    c->n_layer = lac_le_get32(h + LACM_H_N_LAYER);
    c->n_head = lac_le_get32(h + LACM_H_N_HEAD);
    c->n_embd = lac_le_get32(h + LACM_H_N_EMBD);
    c->n_ctx = lac_le_get32(h + LACM_H_N_CTX);
    c->vocab_size = lac_le_get32(h + LACM_H_VOCAB);
    c->n_inner = lac_le_get32(h + LACM_H_N_INNER);
    c->ln_eps = bits_f32(lac_le_get32(h + LACM_H_LN_EPS));
    c->eot_token = lac_le_get32(h + LACM_H_EOT);
    uint32_t storage = lac_le_get32(h + LACM_H_STORAGE);
    if (lacm_dtype_size(storage) == 0)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: unknown storage dtype %u", label, storage);
    c->storage = (lac_dtype)storage;
    uint32_t flags = lac_le_get32(h + LACM_H_FLAGS);
    if (flags & ~LACM_FLAG_RANDOM)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: unknown flags 0x%x", label, flags);
    c->is_random = (flags & LACM_FLAG_RANDOM) != 0;
    const uint8_t *nm = h + LACM_H_NAME;
    size_t nlen = 0;
    while (nlen < 64 && nm[nlen]) nlen++;
    if (nlen == 64)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: model name is not NUL-terminated", label);
    for (size_t i = 0; i < nlen; i++)
        if (nm[i] < 0x20 || nm[i] == 0x7F)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: model name has a control character",
                            label);
    memcpy(c->name, nm, nlen + 1);
    lac_status st = check_config(label, c, 1, err);
    if (st) return st;

    uint64_t fsize = lac_le_get64(h + LACM_H_FILE_SIZE);
    if (fsize > size)
        return lac_fail(err, LAC_ERR_TRUNCATED,
                        "%s: file is %zu bytes but its header says %llu (truncated; file_size at "
                        "header offset %u)", label, size, (unsigned long long)fsize,
                        LACM_H_FILE_SIZE);
    if (fsize < size)
        return lac_fail(err, LAC_ERR_FORMAT,
                        "%s: file is %zu bytes but its header says %llu (trailing data; file_size "
                        "at header offset %u)", label, size, (unsigned long long)fsize,
                        LACM_H_FILE_SIZE);

    return LAC_OK;
}

/* Section offsets: counts within their limits, sections in file order inside the file. */
static lac_status parse_sections(const uint8_t *h, size_t size, const char *label,
                                 const lac_model_config *c, lacm_sections *sec, lac_error *err) {
    const uint32_t V = c->vocab_size;
    lac_status st;
    uint32_t n_merges = lac_le_get32(h + LACM_H_N_MERGES);
    uint32_t n_tensors = lac_le_get32(h + LACM_H_N_TENSORS);
    uint64_t off_tok = lac_le_get64(h + LACM_H_TOK_OFF), off_bytes = lac_le_get64(h + LACM_H_TOK_BYTES);
    uint64_t bytes_len = lac_le_get64(h + LACM_H_TOK_BYTES_LEN);
    uint64_t off_merges = lac_le_get64(h + LACM_H_MERGES), off_dir = lac_le_get64(h + LACM_H_DIR);
    uint64_t off_data = lac_le_get64(h + LACM_H_DATA);
    if (n_merges > LACM_MAX_MERGES)
        return lac_fail(err, LAC_ERR_LIMIT, "%s: n_merges %u exceeds %u (header offset %u)",
                        label, n_merges, LACM_MAX_MERGES, LACM_H_N_MERGES);
    if (bytes_len > LACM_MAX_VOCAB_BYTES)
        return lac_fail(err, LAC_ERR_LIMIT, "%s: tok_bytes_len %llu exceeds %u (header offset %u)",
                        label, (unsigned long long)bytes_len, LACM_MAX_VOCAB_BYTES,
                        LACM_H_TOK_BYTES_LEN);
    if (n_tensors != lacm_n_tensors(c->n_layer))
        return lac_fail(err, LAC_ERR_FORMAT, "%s: n_tensors %u, expected %u for %u layers (header "
                        "offset %u)", label, n_tensors, lacm_n_tensors(c->n_layer), c->n_layer,
                        LACM_H_N_TENSORS);
    if ((st = check_section(label, "tok_off", LACM_H_TOK_OFF, off_tok, ((uint64_t)V + 1) * 4,
                            LACM_HEADER_SIZE, size, err)) ||
        (st = check_section(label, "tok_bytes", LACM_H_TOK_BYTES, off_bytes, bytes_len,
                            off_tok + ((uint64_t)V + 1) * 4, size, err)) ||
        (st = check_section(label, "merges", LACM_H_MERGES, off_merges, (uint64_t)n_merges * 8,
                            off_bytes + bytes_len, size, err)) ||
        (st = check_section(label, "tensor directory", LACM_H_DIR, off_dir,
                            (uint64_t)n_tensors * LACM_DIR_ENTRY_SIZE,
                            off_merges + (uint64_t)n_merges * 8, size, err)) ||
        (st = check_section(label, "tensor data", LACM_H_DATA, off_data, 0,
                            off_dir + (uint64_t)n_tensors * LACM_DIR_ENTRY_SIZE, size, err)))
        return st;
    *sec = (lacm_sections){.n_merges = n_merges, .n_tensors = n_tensors, .off_tok = off_tok,
                           .off_bytes = off_bytes, .bytes_len = bytes_len,
                           .off_merges = off_merges, .off_dir = off_dir, .off_data = off_data};
    return LAC_OK;
}

/* The vocabulary (token offsets, bytes, merges), checked, as views into the image. */
static lac_status parse_vocab(const uint8_t *img, const char *label, const lac_model_config *c,
                              const lacm_sections *sec, lac_vocab *vocab, lac_error *err) {
    const uint32_t V = c->vocab_size, n_merges = sec->n_merges;
    const uint64_t off_tok = sec->off_tok, bytes_len = sec->bytes_len;
    const uint64_t off_merges = sec->off_merges;
    const uint32_t *tok_off = (const uint32_t *)(img + off_tok);
    if (tok_off[0] != 0)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: tok_off[0] = %u, expected 0", label, tok_off[0]);
    for (uint32_t i = 0; i < V; i++)
        if (tok_off[i + 1] <= tok_off[i] || tok_off[i + 1] > bytes_len ||
            tok_off[i + 1] - tok_off[i] > LACM_MAX_TOKEN_BYTES)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "%s: tok_off[%u] = %u is not within 1..%u bytes above tok_off[%u] = "
                            "%u and within tok_bytes_len %llu (at offset %llu)", label, i + 1,
                            tok_off[i + 1], LACM_MAX_TOKEN_BYTES, i, tok_off[i],
                            (unsigned long long)bytes_len,
                            (unsigned long long)(off_tok + 4ull * (i + 1)));
    if (tok_off[V] != bytes_len)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: tok_off[%u] = %u, expected tok_bytes_len %llu",
                        label, V, tok_off[V], (unsigned long long)bytes_len);
    const uint32_t *merges = (const uint32_t *)(img + off_merges);
    for (uint64_t i = 0; i < 2ull * n_merges; i++)
        if (merges[i] >= V)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "%s: merge %llu names token %u, not below vocab_size %u (at offset "
                            "%llu)", label, (unsigned long long)(i / 2), merges[i], V,
                            (unsigned long long)(off_merges + 4 * i));
    vocab->n_tokens = V;
    vocab->tok_off = tok_off;
    vocab->tok_bytes = img + sec->off_bytes;
    vocab->n_merges = n_merges;
    vocab->merges = merges;
    return LAC_OK;
}

/* The tensor directory: every entry's name, dtype, shape and extent as the config says;
 * *n_params receives the parameter count. */
static lac_status parse_directory(const uint8_t *img, size_t size, const char *label,
                                  const lac_model_config *c, const lacm_sections *sec,
                                  uint64_t *n_params_out, lac_error *err) {
    const uint32_t storage = (uint32_t)c->storage, n_tensors = sec->n_tensors;
    const uint64_t off_dir = sec->off_dir, off_data = sec->off_data;
    lac_status st;
    size_t esz = lacm_dtype_size(storage);
    uint64_t prev_end = off_data, n_params = 0;
    const uint8_t *dir = img + off_dir;
    for (uint32_t i = 0; i < n_tensors; i++) {
        const uint8_t *e = dir + (size_t)i * LACM_DIR_ENTRY_SIZE;
        unsigned long long eo = (unsigned long long)(off_dir + (uint64_t)i * LACM_DIR_ENTRY_SIZE);
        char want[LACM_NAME_LEN];
        uint32_t shape[2];
        memset(want, 0, sizeof want);
        int ndim = lacm_tensor_spec(c, i, want, shape);
        if (memcmp(e + LACM_E_NAME, want, LACM_NAME_LEN))
            return lac_fail(err, LAC_ERR_FORMAT, "%s: tensor directory entry %u is not '%s' "
                            "(entry at offset %llu)", label, i, want, eo);
        if (lac_le_get32(e + LACM_E_DTYPE) != storage)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: tensor %s: dtype %u, expected storage %u "
                            "(entry at offset %llu)", label, want, lac_le_get32(e + LACM_E_DTYPE),
                            storage, eo);
        if (lac_le_get32(e + LACM_E_NDIM) != (uint32_t)ndim ||
            lac_le_get32(e + LACM_E_SHAPE0) != shape[0] ||
            lac_le_get32(e + LACM_E_SHAPE1) != (ndim == 2 ? shape[1] : 0))
            return lac_fail(err, LAC_ERR_FORMAT,
                            "%s: tensor %s: shape [%u,%u] (ndim %u), expected [%u,%u] from the "
                            "config (entry at offset %llu)", label, want,
                            lac_le_get32(e + LACM_E_SHAPE0), lac_le_get32(e + LACM_E_SHAPE1),
                            lac_le_get32(e + LACM_E_NDIM), shape[0], ndim == 2 ? shape[1] : 0, eo);
        uint64_t numel = (uint64_t)shape[0] * (ndim == 2 ? shape[1] : 1);
        uint64_t off = lac_le_get64(e + LACM_E_OFFSET), nb = lac_le_get64(e + LACM_E_NBYTES);
        if (nb != numel * esz)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: tensor %s: nbytes %llu, expected %llu "
                            "(entry at offset %llu)", label, want, (unsigned long long)nb,
                            (unsigned long long)(numel * esz), eo);
        if (i == 0 && off != off_data)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: first tensor at %llu, header says %llu "
                            "(entry at offset %llu)", label, (unsigned long long)off,
                            (unsigned long long)off_data, eo);
        char what[80];
        snprintf(what, sizeof what, "tensor %s", want);
        if ((st = check_section(label, what, eo + LACM_E_OFFSET, off, nb, prev_end, size, err)))
            return st;
        prev_end = off + nb;
        n_params += numel;
    }
    *n_params_out = n_params;

    return LAC_OK;
}

/* The weights: widened (16-bit storage) or mapped in place, hashed and compared with the
 * header's identity hash, assigned to the layers; wte transposed for the LM head. */
static lac_status load_tensors(const uint8_t *img, const char *label, const lacm_sections *sec,
                               lac_model *m, lac_error *err) {
    const lac_model_config *c = &m->cfg;
    const uint8_t *h = img, *dir = img + sec->off_dir;
    const uint32_t storage = (uint32_t)c->storage, n_tensors = sec->n_tensors;
    const uint64_t n_params = m->n_params;
    const size_t esz = lacm_dtype_size(storage);
    /* memory: one owned block of widened copies (16-bit storage only); wte_t is built on
     * first use (lac_model_wte_t) */
    m->layers = calloc(c->n_layer, sizeof *m->layers);
    uint64_t n_wide = storage != LAC_DTYPE_F32 ? n_params : 0;
    float *own = n_wide ? malloc((size_t)n_wide * sizeof(float)) : NULL;
    m->owned = own;
    if (!m->layers || (n_wide && !own))
        return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory for %llu parameters", label,
                        (unsigned long long)n_params);
    float *wide = own;

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) || !lacm_hash_prefix(ctx, c, &m->vocab)) {
        EVP_MD_CTX_free(ctx);
        return lac_fail(err, LAC_ERR_NOMEM, "%s: SHA-256 failed", label);
    }
    const float **ptrs = calloc(n_tensors, sizeof *ptrs);
    const uint8_t **raw = calloc(n_tensors, sizeof *raw); /* each tensor in the file image */
    if (!ptrs || !raw) {
        free(raw);
        EVP_MD_CTX_free(ctx);
        return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", label);
    }
    float *f16_table = NULL;
    if (storage == LAC_DTYPE_F16) {
        f16_table = malloc(65536 * sizeof(float));
        if (!f16_table) {
            free(ptrs);
            free(raw);
            EVP_MD_CTX_free(ctx);
            return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", label);
        }
        for (uint32_t u = 0; u < 65536; u++) f16_table[u] = lacm_f16_to_f32((uint16_t)u);
    }
    size_t wpos = 0;
    int ok = 1;
    for (uint32_t i = 0; i < n_tensors && ok; i++) {
        const uint8_t *e = dir + (size_t)i * LACM_DIR_ENTRY_SIZE;
        uint64_t off = lac_le_get64(e + LACM_E_OFFSET);
        size_t numel = (size_t)(lac_le_get64(e + LACM_E_NBYTES) / esz);
        const float *p;
        if (storage == LAC_DTYPE_F32) {
            p = (const float *)(img + off);
        } else {
            widen(img + off, wide + wpos, numel, f16_table);
            p = wide + wpos;
            wpos += numel;
        }
        ptrs[i] = p;
        raw[i] = img + off;
        ok = EVP_DigestUpdate(ctx, p, numel * sizeof(float));
    }
    free(f16_table);
    unsigned hl = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, m->hash, &hl);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        free(ptrs);
        free(raw);
        return lac_fail(err, LAC_ERR_NOMEM, "%s: SHA-256 failed", label);
    }
    if (memcmp(m->hash, h + LACM_H_HASH, 32)) {
        free(ptrs);
        free(raw);
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "%s: identity hash mismatch: the vocabulary or weights are corrupted",
                        label);
    }
    m->wte = ptrs[0];
    m->wpe = ptrs[1];
    for (uint32_t l = 0; l < c->n_layer; l++) {
        const float **t = ptrs + 2 + 12 * l;
        lac_layer_weights *L = &m->layers[l];
        L->ln1_w = t[LACM_T_LN1_W], L->ln1_b = t[LACM_T_LN1_B];
        L->attn_w = t[LACM_T_ATTN_W], L->attn_b = t[LACM_T_ATTN_B];
        L->proj_w = t[LACM_T_PROJ_W], L->proj_b = t[LACM_T_PROJ_B];
        L->ln2_w = t[LACM_T_LN2_W], L->ln2_b = t[LACM_T_LN2_B];
        L->fc_w = t[LACM_T_FC_W], L->fc_b = t[LACM_T_FC_B];
        L->fcproj_w = t[LACM_T_FCPROJ_W], L->fcproj_b = t[LACM_T_FCPROJ_B];
        if (storage == LAC_DTYPE_F16) {
            const uint8_t **u = raw + 2 + 12 * l;
            L->attn_w16 = u[LACM_T_ATTN_W], L->proj_w16 = u[LACM_T_PROJ_W];
            L->fc_w16 = u[LACM_T_FC_W], L->fcproj_w16 = u[LACM_T_FCPROJ_W];
        }
    }
    m->lnf_w = ptrs[n_tensors - 2];
    m->lnf_b = ptrs[n_tensors - 1];
    if (storage == LAC_DTYPE_F16) m->wte16 = raw[0]; /* tensor 0 is wte, [V][C] */
    free(ptrs);
    free(raw);
    return LAC_OK;
}

/* Publishes a derived array built on first use into *slot (the first thread wins; a loser
 * frees its copy) and records it in *built for lac_model_free_caches. */
static const void *publish(const void **slot, void **built, void *mine) {
    const void *seen = NULL;
    if (!mine) return NULL;
    if (!__atomic_compare_exchange_n(slot, &seen, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        free(mine);
        return seen;
    }
    *built = mine;
    return mine;
}

const float *lac_model_wte_t(const lac_model *m) {
    lac_model *w = (lac_model *)m; /* the model is read-only but for its caches */
    const float *t = __atomic_load_n(&w->wte_t, __ATOMIC_ACQUIRE);
    if (t) return t;
    const uint32_t V = m->cfg.vocab_size, C = m->cfg.n_embd;
    float *mine = malloc((size_t)V * C * sizeof(float));
    if (mine) transpose(m->wte, mine, V, C);
    return publish((const void **)&w->wte_t, &w->wte_t_built, mine);
}

const uint16_t *lac_model_wte_t_f16(const lac_model *m) {
    lac_model *w = (lac_model *)m;
    const uint16_t *t = __atomic_load_n(&w->wte_t_f16, __ATOMIC_ACQUIRE);
    if (t || !m->wte16) return t;
    const uint32_t V = m->cfg.vocab_size, C = m->cfg.n_embd;
    uint16_t *mine = malloc((size_t)V * C * sizeof(uint16_t));
    if (mine) transpose_u16(m->wte16, mine, V, C);
    return publish((const void **)&w->wte_t_f16, &w->wte_t_f16_built, mine);
}

lac_status lacm_parse(const uint8_t *img, size_t size, const char *label, lac_model *m,
                      lac_error *err) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return lac_fail(err, LAC_ERR_UNSUPPORTED, "%s: model files need a little-endian host", label);
#endif
    lacm_sections sec = {0};
    lac_status st;
    if ((st = parse_header(img, size, label, &m->cfg, err)) ||
        (st = parse_sections(img, size, label, &m->cfg, &sec, err)) ||
        (st = parse_vocab(img, label, &m->cfg, &sec, &m->vocab, err)) ||
        (st = parse_directory(img, size, label, &m->cfg, &sec, &m->n_params, err)) ||
        (st = load_tensors(img, label, &sec, m, err)))
        return st;
    m->file_size = size;
    return LAC_OK;
}

/* ---- public API --------------------------------------------------------------------------- */
lac_status lac_model_open(const char *path, lac_model **out, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    if (!out) return lac_fail(err, LAC_ERR_ARG, "lac_model_open: out is NULL");
    *out = NULL;
    if (!path) return lac_fail(err, LAC_ERR_ARG, "lac_model_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lac_fail(err, LAC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return lac_fail(err, LAC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return lac_fail(err, LAC_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < LACM_HEADER_SIZE) {
        close(fd);
        return lac_fail(err, LAC_ERR_TRUNCATED,
                        "%s: %zu bytes, shorter than the %u-byte header", path, size,
                        LACM_HEADER_SIZE);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return lac_fail(err, LAC_ERR_IO, "%s: cannot mmap: %s", path, strerror(e));
    lac_model *m = calloc(1, sizeof *m);
    if (!m) {
        munmap(map, size);
        return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", path);
    }
    m->map = map;
    m->map_size = size;
    lac_status st = lacm_parse(map, size, path, m, err);
    if (st) {
        lac_model_close(m);
        return st;
    }
    *out = m;
    return LAC_OK;
}

void lac_model_close(lac_model *m) {
    if (!m) return;
    if (m->map) munmap(m->map, m->map_size);
    free(m->owned);       /* widened tensors + wte_t */
    free(m->owned_extra); /* the image of an in-memory model (lac_model_create_random) */
    free(m->layers);
    lac_model_free_caches(m);
    free(m);
}

const lac_model_config *lac_model_get_config(const lac_model *m) { return m ? &m->cfg : NULL; }
const uint8_t *lac_model_hash(const lac_model *m) { return m ? m->hash : NULL; }
uint64_t lac_model_param_count(const lac_model *m) { return m ? m->n_params : 0; }
uint64_t lac_model_file_size(const lac_model *m) { return m ? m->file_size : 0; }

const uint8_t *lac_model_token_bytes(const lac_model *m, uint32_t id, size_t *len) {
    if (!m || id >= m->vocab.n_tokens) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = m->vocab.tok_off[id + 1] - m->vocab.tok_off[id];
    return m->vocab.tok_bytes + m->vocab.tok_off[id];
}

uint32_t lac_model_max_token_len(const lac_model *m) {
    uint32_t best = 0;
    for (uint32_t v = 0; m && v < m->cfg.vocab_size; v++) {
        const uint32_t len = m->vocab.tok_off[v + 1] - m->vocab.tok_off[v];
        if (len > best) best = len;
    }
    return best;
}
