/* Model files: random models, dtype conversions, presets, and the loader's checks on corrupted
 * and hostile files (never a crash, always a one-line error naming the file). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hf_ckpt.h"
#include "lac.h"
#include "model.h"
#include "model_file.h"

static lac_model_config tiny_cfg(void) {
    lac_model_config c;
    memset(&c, 0, sizeof c);
    c.n_layer = 2, c.n_head = 2, c.n_embd = 16, c.n_ctx = 32, c.vocab_size = 300;
    c.n_inner = 64, c.ln_eps = 1e-5f, c.eot_token = 299, c.storage = LAC_DTYPE_F32;
    snprintf(c.name, sizeof c.name, "tiny-test");
    return c;
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    cr_assert_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void write_all(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

Test(model, random_in_memory) {
    lac_model_config c = tiny_cfg();
    lac_model *m = NULL, *m2 = NULL, *m3 = NULL;
    lac_error err;
    cr_assert_eq(lac_model_create_random(&c, 7, NULL, &m, &err), LAC_OK, "%s", err.msg);
    const lac_model_config *g = lac_model_get_config(m);
    cr_assert_eq(g->is_random, 1);
    cr_assert_eq(g->vocab_size, 300);
    cr_assert_eq(g->eot_token, 299);
    cr_assert_str_eq(g->name, "tiny-test");
    /* synthetic vocab: 256 single bytes, merges of earlier tokens, <|endoftext|> last */
    const lac_vocab *v = &m->vocab;
    cr_assert_eq(v->n_tokens, 300);
    for (uint32_t i = 0; i < 256; i++) {
        cr_assert_eq(v->tok_off[i + 1] - v->tok_off[i], 1);
        cr_assert_eq(v->tok_bytes[v->tok_off[i]], i);
    }
    cr_assert_eq(v->tok_off[300] - v->tok_off[299], 13);
    cr_assert_eq(memcmp(v->tok_bytes + v->tok_off[299], "<|endoftext|>", 13), 0);
    cr_assert_eq(v->n_merges, 300 - 257);
    for (uint32_t j = 0; j < v->n_merges; j++) {
        uint32_t a = v->merges[2 * j], b = v->merges[2 * j + 1], r = 256 + j;
        cr_assert(a < r && b < r, "merge %u uses a later token", j);
        uint32_t la = v->tok_off[a + 1] - v->tok_off[a], lb = v->tok_off[b + 1] - v->tok_off[b];
        cr_assert_eq(v->tok_off[r + 1] - v->tok_off[r], la + lb);
        cr_assert_eq(memcmp(v->tok_bytes + v->tok_off[r], v->tok_bytes + v->tok_off[a], la), 0);
        cr_assert_eq(memcmp(v->tok_bytes + v->tok_off[r] + la, v->tok_bytes + v->tok_off[b], lb), 0);
    }
    /* GPT-2-like init: LayerNorm weights near 1, other weights N(0, 0.02)-like */
    double s = 0, s2 = 0;
    uint64_t n = (uint64_t)16 * 48;
    for (uint64_t i = 0; i < n; i++) s += m->layers[1].attn_w[i], s2 += (double)m->layers[1].attn_w[i] * m->layers[1].attn_w[i];
    double sd = sqrt(s2 / (double)n - (s / (double)n) * (s / (double)n));
    cr_assert(sd > 0.015 && sd < 0.025, "sd %g", sd);
    for (int i = 0; i < 16; i++) cr_assert(fabsf(m->layers[0].ln1_w[i] - 1.0f) < 0.2f);
    for (uint32_t i = 0; i < 300; i++)
        for (uint32_t k = 0; k < 16; k++)
            cr_assert_eq(lac_model_wte_t(m)[k * 300 + i], m->wte[i * 16 + k]);
    uint64_t C = 16, F = 64, L = 2;
    cr_assert_eq(lac_model_param_count(m),
                 300 * C + 32 * C + L * (4 * C + 4 * C * C + 4 * C + 2 * C * F + F + C) + 2 * C);

    /* deterministic in the seed */
    cr_assert_eq(lac_model_create_random(&c, 7, NULL, &m2, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_model_create_random(&c, 8, NULL, &m3, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(memcmp(lac_model_hash(m), lac_model_hash(m2), 32), 0);
    cr_assert_neq(memcmp(lac_model_hash(m), lac_model_hash(m3), 32), 0);
    cr_assert_eq(memcmp(m->wte, m2->wte, 300 * 16 * sizeof(float)), 0);
    lac_model_close(m2);
    lac_model_close(m3);

    /* with a given vocab (this model's) the same weights come out */
    cr_assert_eq(lac_model_create_random(&c, 7, &m->vocab, &m2, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(memcmp(lac_model_hash(m), lac_model_hash(m2), 32), 0);
    lac_model_close(m2);
    /* a vocab that does not match vocab_size is refused */
    lac_model_config c2 = c;
    c2.vocab_size = 301, c2.eot_token = 300;
    cr_assert_eq(lac_model_create_random(&c2, 7, &m->vocab, &m2, &err), LAC_ERR_FORMAT);
    cr_assert_null(m2);
    /* a token over 1024 bytes is refused */
    static uint8_t big[2000 + 300];
    static uint32_t off[301];
    for (uint32_t i = 0; i <= 300; i++) off[i] = i < 300 ? i : 2300;
    lac_vocab bv = {300, off, big, 0, NULL};
    cr_assert_eq(lac_model_create_random(&c, 7, &bv, &m2, &err), LAC_ERR_FORMAT);
    cr_assert_not_null(strstr(err.msg, "longer than 1024"), "%s", err.msg);
    lac_model_close(m);
}

Test(model, write_random_matches_in_memory) {
    lac_model_config c = tiny_cfg();
    char *tmp = hf_tmpdir();
    char p32[512], p16[512];
    snprintf(p32, sizeof p32, "%s/r32.lacm", tmp);
    snprintf(p16, sizeof p16, "%s/r16.lacm", tmp);
    lac_error err;
    lac_model *mem, *f32, *f16;
    cr_assert_eq(lac_model_create_random(&c, 3, NULL, &mem, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_model_write_random(&c, 3, NULL, NULL, LAC_DTYPE_F32, p32, &err), LAC_OK, "%s",
                 err.msg);
    cr_assert_eq(lac_model_write_random(&c, 3, mem, NULL, LAC_DTYPE_F16, p16, &err), LAC_OK, "%s",
                 err.msg);
    cr_assert_eq(lac_model_open(p32, &f32, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_model_open(p16, &f16, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(memcmp(lac_model_hash(mem), lac_model_hash(f32), 32), 0);
    cr_assert_eq(lac_model_get_config(f32)->is_random, 1);
    cr_assert_eq(lac_model_get_config(f16)->storage, LAC_DTYPE_F16);
    /* F16 storage holds the F32 weights rounded to nearest */
    for (uint32_t i = 0; i < 300 * 16; i++) {
        float w = f32->wte[i], got = f16->wte[i];
        /* the nearest F16 value: within half an F16 ulp (2^-25 in the subnormal range) */
        int e;
        frexpf(w, &e);
        cr_assert_leq(fabsf(got - w), fmaxf(ldexpf(1.0f, e - 12), ldexpf(1.0f, -25)), "wte[%u]", i);
        if (hf_have_hw_f16())
            cr_assert_eq(got, hf_f16_decode(hf_hw_f32_to_f16(w)), "wte[%u]", i);
    }
    cr_assert_neq(memcmp(lac_model_hash(f16), lac_model_hash(f32), 32), 0);
    lac_model_close(mem);
    lac_model_close(f32);
    lac_model_close(f16);
    /* hf_vocab_dir: the GPT-2 tokenizer files */
    const char *sh = getenv("LAC_SHARED");
    char vd[1024];
    snprintf(vd, sizeof vd, "%s/tokenizer/gpt2", sh ? sh : "../shared");
    if (access(vd, R_OK) == 0) {
        lac_model_config g = c;
        g.vocab_size = 50257, g.eot_token = 50256, g.n_layer = 1, g.n_embd = 8, g.n_head = 1;
        g.n_inner = 32;
        cr_assert_eq(lac_model_write_random(&g, 1, NULL, vd, LAC_DTYPE_BF16, p32, &err), LAC_OK,
                     "%s", err.msg);
        cr_assert_eq(lac_model_open(p32, &f32, &err), LAC_OK, "%s", err.msg);
        cr_assert_eq(f32->vocab.n_merges, 50000);
        cr_assert_eq(lac_model_get_config(f32)->storage, LAC_DTYPE_BF16);
        lac_model_close(f32);
    }
    hf_rmtree(tmp);
    free(tmp);
}

Test(model, presets) {
    static const struct {
        const char *name;
        uint64_t params; /* the published parameter counts (tied head counted once) */
    } p[] = {{"gpt2", 124439808ull},
             {"gpt2-medium", 354823168ull},
             {"gpt2-large", 774030080ull},
             {"gpt2-xl", 1557611200ull},
             {"tiny", 19446528ull}};
    for (int i = 0; i < 5; i++) {
        lac_model_config c;
        lac_error err;
        cr_assert_eq(lac_model_config_preset(p[i].name, &c, &err), LAC_OK, "%s", err.msg);
        uint64_t C = c.n_embd, F = c.n_inner;
        uint64_t n = c.vocab_size * C + c.n_ctx * C +
                     c.n_layer * (4 * C + 3 * C * C + 3 * C + C * C + C + 2 * C * F + F + C) + 2 * C;
        cr_assert_eq(n, p[i].params, "%s: %llu", p[i].name, (unsigned long long)n);
        cr_assert_eq(c.n_embd % c.n_head, 0);
        cr_assert_eq(c.n_embd / c.n_head, 64);
    }
    lac_model_config c;
    lac_error err;
    cr_assert_eq(lac_model_config_preset("gpt3", &c, &err), LAC_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, "gpt3"));
}

Test(model, dtype_conversions) {
    /* every f16 widens exactly and every finite one narrows back to itself */
    for (uint32_t u = 0; u < 65536; u++) {
        uint16_t b = (uint16_t)u;
        float f = lacm_f16_to_f32(b), want = hf_f16_decode(b);
        if ((u & 0x7C00u) == 0x7C00u && (u & 0x3FFu)) {
            cr_assert(isnan(f), "f16 %04x", u);
            continue;
        }
        cr_assert_eq(memcmp(&f, &want, 4), 0, "f16 %04x: %g vs %g", u, (double)f, (double)want);
        cr_assert_eq(lacm_f32_to_f16(f), b, "f16 %04x round trip", u);
        cr_assert_eq(lacm_f32_to_bf16(lacm_bf16_to_f32(b)), b);
    }
    /* narrowing rounds to nearest even, like the CPU's F16C conversion */
    uint64_t s = 12345;
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t bits = (uint32_t)(s >> 32);
        if (i % 2) bits = (bits & 0x807FFFFFu) | ((uint32_t)(100 + (s >> 20) % 50) << 23);
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f)) continue;
        if (hf_have_hw_f16())
            cr_assert_eq(lacm_f32_to_f16(f), hf_hw_f32_to_f16(f), "f32 %08x", bits);
        /* bf16: nearest even on the top half */
        uint16_t bb = lacm_f32_to_bf16(f);
        float back = lacm_bf16_to_f32(bb);
        if (isfinite(back)) {
            uint32_t d = bits & 0xFFFFu, top = bits >> 16;
            uint16_t want = (uint16_t)(top + (d > 0x8000u || (d == 0x8000u && (top & 1))));
            cr_assert_eq(bb, want, "bf16 of %08x", bits);
        }
    }
}

/* ---- corrupted and hostile files ------------------------------------------------------------ */
typedef struct {
    char *tmp;
    char path[512];
    uint8_t *img;
    size_t size;
} fixture;

static void make_file(fixture *fx, lac_dtype storage) {
    fx->tmp = hf_tmpdir();
    snprintf(fx->path, sizeof fx->path, "%s/m.lacm", fx->tmp);
    lac_model_config c = tiny_cfg();
    lac_error err;
    cr_assert_eq(lac_model_write_random(&c, 5, NULL, NULL, storage, fx->path, &err), LAC_OK, "%s",
                 err.msg);
    fx->img = read_all(fx->path, &fx->size);
}

static void drop_file(fixture *fx) {
    free(fx->img);
    hf_rmtree(fx->tmp);
    free(fx->tmp);
}

/* Rewrites the header checksum so that a field edit reaches the field checks. */
static void fix_check(uint8_t *img) {
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned n;
    EVP_Digest(img, LACM_H_CHECK, d, &n, EVP_sha256(), NULL);
    memcpy(img + LACM_H_CHECK, d, 8);
}

static void expect_open(fixture *fx, const uint8_t *img, size_t n, lac_status code,
                        const char *needle) {
    write_all(fx->path, img, n);
    lac_model *m = (lac_model *)1;
    lac_error err;
    lac_error_clear(&err);
    lac_status st = lac_model_open(fx->path, &m, &err);
    cr_assert_eq(st, code, "expected %s, got %s: %s", lac_status_name(code), lac_status_name(st),
                 err.msg);
    if (st == LAC_OK) {
        lac_model_close(m);
        return;
    }
    cr_assert_null(m);
    cr_assert_not_null(strstr(err.msg, fx->path), "message does not name the file: %s", err.msg);
    if (needle) cr_assert_not_null(strstr(err.msg, needle), "lacks '%s': %s", needle, err.msg);
    cr_log_info("%s", err.msg);
}

Test(model_corrupt, flipped_bytes) {
    fixture fx;
    make_file(&fx, LAC_DTYPE_F16);
    uint8_t *b = malloc(fx.size);
    /* a tensor byte (the last one, in ln_f.bias), a vocab byte, a merge id */
    size_t where[] = {fx.size - 1, lac_le_get64(fx.img + LACM_H_TOK_BYTES) + 100,
                      lac_le_get64(fx.img + LACM_H_MERGES) + 8};
    for (int i = 0; i < 3; i++) {
        memcpy(b, fx.img, fx.size);
        b[where[i]] ^= 0x01;
        expect_open(&fx, b, fx.size, LAC_ERR_CORRUPT, "identity hash mismatch");
    }
    /* the name is not part of the identity: the header checksum covers it */
    memcpy(b, fx.img, fx.size);
    b[LACM_H_NAME] ^= 0x01;
    expect_open(&fx, b, fx.size, LAC_ERR_CORRUPT, "header checksum");
    /* the intact file still opens */
    expect_open(&fx, fx.img, fx.size, LAC_OK, "");
    free(b);
    drop_file(&fx);
}

Test(model_corrupt, truncated_magic_version) {
    fixture fx;
    make_file(&fx, LAC_DTYPE_F32);
    uint8_t *b = malloc(fx.size);
    expect_open(&fx, fx.img, fx.size - 100, LAC_ERR_TRUNCATED, "truncated");
    expect_open(&fx, fx.img, 100, LAC_ERR_TRUNCATED, "header");
    expect_open(&fx, fx.img, 0, LAC_ERR_TRUNCATED, "header");
    memcpy(b, fx.img, fx.size);
    b[0] = 'X';
    expect_open(&fx, b, fx.size, LAC_ERR_FORMAT, "magic");
    memcpy(b, fx.img, fx.size);
    lac_le_put32(b + LACM_H_VERSION, LAC_MODEL_FORMAT_VERSION + 1);
    expect_open(&fx, b, fx.size, LAC_ERR_VERSION, "newer");
    /* trailing garbage */
    uint8_t *big = calloc(1, fx.size + 64);
    memcpy(big, fx.img, fx.size);
    expect_open(&fx, big, fx.size + 64, LAC_ERR_FORMAT, "trailing");
    free(big);
    free(b);
    drop_file(&fx);

    lac_model *m;
    lac_error err;
    cr_assert_eq(lac_model_open("/nonexistent/x.lacm", &m, &err), LAC_ERR_IO);
    cr_assert_not_null(strstr(err.msg, "/nonexistent/x.lacm"));
}

Test(model_corrupt, hostile_fields) {
    fixture fx;
    make_file(&fx, LAC_DTYPE_F32);
    uint8_t *b = malloc(fx.size);
    static const struct {
        unsigned off;
        int wide; /* 64-bit field */
        uint64_t val;
        lac_status code;
        const char *needle;
    } cases[] = {
        {LACM_H_N_LAYER, 0, 100000, LAC_ERR_LIMIT, "n_layer"},
        {LACM_H_N_LAYER, 0, 0, LAC_ERR_FORMAT, "n_layer"},
        {LACM_H_N_LAYER, 0, 3, LAC_ERR_FORMAT, "n_tensors"},
        {LACM_H_N_EMBD, 0, 1u << 30, LAC_ERR_LIMIT, "n_embd"},
        {LACM_H_N_HEAD, 0, 3, LAC_ERR_FORMAT, "n_head"},
        {LACM_H_VOCAB, 0, 0xFFFFFFFFu, LAC_ERR_LIMIT, "vocab_size"},
        {LACM_H_VOCAB, 0, 1000, LAC_ERR_FORMAT, NULL},
        {LACM_H_EOT, 0, 300, LAC_ERR_FORMAT, "eot_token"},
        {LACM_H_STORAGE, 0, 7, LAC_ERR_FORMAT, "storage"},
        {LACM_H_FLAGS, 0, 6, LAC_ERR_FORMAT, "flags"},
        {LACM_H_LN_EPS, 0, 0x7FC00000u, LAC_ERR_FORMAT, "ln_eps"},
        {LACM_H_N_MERGES, 0, 0xFFFFFFFFu, LAC_ERR_LIMIT, "n_merges"},
        {LACM_H_N_MERGES, 0, 1000, LAC_ERR_FORMAT, NULL},
        {LACM_H_TOK_OFF, 1, 260, LAC_ERR_FORMAT, "aligned"},
        {LACM_H_TOK_OFF, 1, 0, LAC_ERR_FORMAT, "tok_off"},
        {LACM_H_TOK_BYTES, 1, (uint64_t)1 << 62, LAC_ERR_FORMAT, "beyond the end"},
        {LACM_H_TOK_BYTES_LEN, 1, 5, LAC_ERR_FORMAT, "tok_off"},
        {LACM_H_MERGES, 1, 0xFFFFFFFFFFFFFFC0ull, LAC_ERR_FORMAT, "merges"},
        {LACM_H_DIR, 1, 64, LAC_ERR_FORMAT, "tensor directory"},
        {LACM_H_DATA, 1, 0, LAC_ERR_FORMAT, "tensor data"},
        {LACM_H_FILE_SIZE, 1, 1, LAC_ERR_FORMAT, "header says"},
        {LACM_H_HEADER_SIZE, 0, 512, LAC_ERR_FORMAT, "header_size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, fx.img, fx.size);
        if (cases[i].wide)
            lac_le_put64(b + cases[i].off, cases[i].val);
        else
            lac_le_put32(b + cases[i].off, (uint32_t)cases[i].val);
        fix_check(b);
        expect_open(&fx, b, fx.size, cases[i].code, cases[i].needle);
    }
    /* vocab offsets and merge ids, with the identity hash left stale: structure first */
    uint64_t to = lac_le_get64(fx.img + LACM_H_TOK_OFF);
    memcpy(b, fx.img, fx.size);
    lac_le_put32(b + to + 4 * 10, lac_le_get32(b + to + 4 * 9)); /* empty token 9 */
    expect_open(&fx, b, fx.size, LAC_ERR_FORMAT, "tok_off[10]");
    memcpy(b, fx.img, fx.size);
    lac_le_put32(b + lac_le_get64(fx.img + LACM_H_MERGES) + 4, 300);
    expect_open(&fx, b, fx.size, LAC_ERR_FORMAT, "merge 0");
    /* directory entries */
    uint64_t dir = lac_le_get64(fx.img + LACM_H_DIR);
    memcpy(b, fx.img, fx.size);
    b[dir + LACM_DIR_ENTRY_SIZE * 3 + 2] ^= 1;
    expect_open(&fx, b, fx.size, LAC_ERR_FORMAT, "directory entry 3");
    memcpy(b, fx.img, fx.size);
    lac_le_put32(b + dir + LACM_DIR_ENTRY_SIZE * 4 + LACM_E_SHAPE1, 17);
    expect_open(&fx, b, fx.size, LAC_ERR_FORMAT, "shape");
    memcpy(b, fx.img, fx.size);
    lac_le_put64(b + dir + LACM_DIR_ENTRY_SIZE * 5 + LACM_E_OFFSET, lac_le_get64(b + dir + LACM_DIR_ENTRY_SIZE * 4 + LACM_E_OFFSET));
    expect_open(&fx, b, fx.size, LAC_ERR_FORMAT, "overlaps");
    memcpy(b, fx.img, fx.size);
    lac_le_put64(b + dir + LACM_DIR_ENTRY_SIZE * 5 + LACM_E_NBYTES, 1ull << 40);
    expect_open(&fx, b, fx.size, LAC_ERR_FORMAT, "nbytes");
    free(b);
    drop_file(&fx);
}

Test(model_corrupt, random_header_and_directory_damage_never_crashes) {
    fixture fx;
    make_file(&fx, LAC_DTYPE_F16);
    uint8_t *b = malloc(fx.size);
    uint64_t dir_end = lac_le_get64(fx.img + LACM_H_DIR) + 16ull * LACM_DIR_ENTRY_SIZE;
    uint64_t s = 99;
    int ok = 0;
    for (int it = 0; it < 300; it++) {
        memcpy(b, fx.img, fx.size);
        for (int k = 0; k < 3; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)((s >> 33) % (it % 2 ? LACM_H_CHECK : dir_end));
            b[pos] = (uint8_t)(s >> 13);
        }
        fix_check(b);
        write_all(fx.path, b, fx.size);
        lac_model *m = NULL;
        lac_error err;
        lac_status st = lac_model_open(fx.path, &m, &err);
        if (st == LAC_OK) {
            ok++;
            lac_model_close(m);
        } else {
            cr_assert_null(m);
            cr_assert_not_null(strstr(err.msg, fx.path), "%s", err.msg);
        }
    }
    cr_log_info("%d of 300 damaged files still opened (damage to the name or padding)", ok);
    free(b);
    drop_file(&fx);
}

/* ---- end to end: the embedded lac-tiny against the PyTorch reference ----------------------
 * At position 0 attention sees one token, so its output is that token's v: the forward pass is
 * a few matrix-vector products. Computed in double here; it checks the whole file layout
 * (Conv1D orientation, q|k|v column order, widening, tied head) against the reference logits. */
static void layer_norm(const double *x, const float *w, const float *b, uint32_t C, double eps,
                       double *y) {
    double mean = 0, var = 0;
    for (uint32_t i = 0; i < C; i++) mean += x[i];
    mean /= C;
    for (uint32_t i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= C;
    for (uint32_t i = 0; i < C; i++) y[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i];
}

static void matvec(const double *x, const float *W, const float *b, uint32_t K, uint32_t N,
                   double *y) {
    for (uint32_t n = 0; n < N; n++) y[n] = b[n];
    for (uint32_t k = 0; k < K; k++)
        for (uint32_t n = 0; n < N; n++) y[n] += x[k] * W[(size_t)k * N + n];
}

Test(model, lac_tiny_position0_matches_reference) {
    const char *def = getenv("LAC_DEFAULT_MODEL");
    const char *sh = getenv("LAC_SHARED");
    char ref[1024];
    snprintf(ref, sizeof ref, "%s/models/lac-tiny/reference/alice29_logits_pos0-15.f32",
             sh ? sh : "../shared");
    if (!def || access(def, R_OK) != 0 || access(ref, R_OK) != 0)
        cr_skip_test("no default model or reference logits");
    lac_model *m;
    lac_error err;
    cr_assert_eq(lac_model_open(def, &m, &err), LAC_OK, "%s", err.msg);
    const lac_model_config *c = lac_model_get_config(m);
    uint32_t C = c->n_embd, V = c->vocab_size, F = c->n_inner;
    double *x = calloc(C, sizeof *x), *a = calloc(C, sizeof *a), *qkv = calloc(3 * C, sizeof *qkv);
    double *o = calloc(C, sizeof *o), *h = calloc(F, sizeof *h);
    for (uint32_t i = 0; i < C; i++)
        x[i] = (double)m->wte[(size_t)c->eot_token * C + i] + (double)m->wpe[i];
    for (uint32_t l = 0; l < c->n_layer; l++) {
        const lac_layer_weights *w = &m->layers[l];
        layer_norm(x, w->ln1_w, w->ln1_b, C, c->ln_eps, a);
        matvec(a, w->attn_w, w->attn_b, C, 3 * C, qkv);
        matvec(qkv + 2 * C, w->proj_w, w->proj_b, C, C, o);
        for (uint32_t i = 0; i < C; i++) x[i] += o[i];
        layer_norm(x, w->ln2_w, w->ln2_b, C, c->ln_eps, a);
        matvec(a, w->fc_w, w->fc_b, C, F, h);
        for (uint32_t i = 0; i < F; i++)
            h[i] = 0.5 * h[i] * (1 + tanh(0.7978845608028654 * (h[i] + 0.044715 * h[i] * h[i] * h[i])));
        matvec(h, w->fcproj_w, w->fcproj_b, F, C, o);
        for (uint32_t i = 0; i < C; i++) x[i] += o[i];
    }
    layer_norm(x, m->lnf_w, m->lnf_b, C, c->ln_eps, a);
    const float *wte_t = lac_model_wte_t(m);
    cr_assert_not_null(wte_t);
    FILE *f = fopen(ref, "rb");
    cr_assert_not_null(f);
    float *want = malloc((size_t)V * sizeof *want);
    cr_assert_eq(fread(want, sizeof *want, V, f), V);
    fclose(f);
    double worst = 0;
    for (uint32_t v = 0; v < V; v++) {
        double logit = 0;
        for (uint32_t k = 0; k < C; k++) logit += a[k] * wte_t[(size_t)k * V + v];
        double d = fabs(logit - want[v]);
        if (d > worst) worst = d;
    }
    cr_log_info("position 0: largest logit difference from the reference %.3g", worst);
    cr_assert_lt(worst, 1e-3);
    free(x), free(a), free(qkv), free(o), free(h), free(want);
    lac_model_close(m);
}
