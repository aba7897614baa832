/* lac_convert_hf: every checkpoint layout converts and loads with the right values; the output
 * is deterministic and the identity hash does not depend on the storage dtype; every broken
 * checkpoint gives a one-line error naming the file and leaves no output behind. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hf_ckpt.h"
#include "lac.h"
#include "model.h"

/* The identity hash of shared/models/lac-tiny (docs/MODEL_FORMAT.md). It changes only when
 * the hash definition or the weights change; every .lacz made with lac-tiny records it. */
#define LAC_TINY_HASH "fe9217bf92681fd7b0aec1d4556d42cf958707f3be0afaf512ef2ce066a28ef9"

static void check_values(const float *p, uint32_t k, uint64_t n, const char *what) {
    uint64_t bad = 0, first = 0;
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != hf_ckpt_value(k, i) && !bad++) first = i;
    cr_assert_eq(bad, 0, "%s: %llu of %llu values differ, first at %llu (%g vs %g)", what,
                 (unsigned long long)bad, (unsigned long long)n, (unsigned long long)first,
                 (double)p[first], (double)hf_ckpt_value(k, first));
}

static void check_model(const lac_model *m, const hf_ckpt_opts *o, lac_dtype storage,
                        const char *name) {
    const lac_model_config *c = lac_model_get_config(m);
    uint32_t C = o->n_embd, V = hf_ckpt_vocab_size(o), F = 4 * C, L = o->n_layer;
    cr_assert_eq(c->n_layer, L);
    cr_assert_eq(c->n_head, o->n_head);
    cr_assert_eq(c->n_embd, C);
    cr_assert_eq(c->n_ctx, o->n_ctx);
    cr_assert_eq(c->vocab_size, V);
    cr_assert_eq(c->n_inner, F);
    cr_assert_eq(c->ln_eps, 1e-5f);
    cr_assert_eq(c->eot_token, V - 1);
    cr_assert_eq(c->storage, storage);
    cr_assert_eq(c->is_random, 0);
    cr_assert_str_eq(c->name, name);
    uint64_t params = (uint64_t)V * C + (uint64_t)o->n_ctx * C +
                      (uint64_t)L * (4ull * C + 3ull * C * C + 3ull * C + C * C + C +
                                     2ull * C * F + F + C) + 2ull * C;
    cr_assert_eq(lac_model_param_count(m), params);
    cr_assert_eq(m->n_params, params);

    /* vocabulary exactly as written */
    cr_assert_eq(m->vocab.n_tokens, V);
    for (uint32_t id = 0; id < V; id++) {
        size_t len;
        const uint8_t *b = hf_ckpt_token(o, id, &len);
        cr_assert_eq(m->vocab.tok_off[id + 1] - m->vocab.tok_off[id], len, "token %u", id);
        cr_assert_eq(memcmp(m->vocab.tok_bytes + m->vocab.tok_off[id], b, len), 0, "token %u", id);
    }
    cr_assert_eq(m->vocab.n_merges, o->n_merges);
    for (uint32_t j = 0; j < o->n_merges; j++) {
        uint32_t l, r;
        hf_ckpt_merge(j, &l, &r);
        cr_assert_eq(m->vocab.merges[2 * j], l);
        cr_assert_eq(m->vocab.merges[2 * j + 1], r);
    }

    /* every tensor in the engine's layout */
    check_values(m->wte, 0, (uint64_t)V * C, "wte");
    check_values(m->wpe, 1, (uint64_t)o->n_ctx * C, "wpe");
    for (uint32_t l = 0; l < L; l++) {
        const lac_layer_weights *w = &m->layers[l];
        uint32_t k = 2 + 12 * l;
        check_values(w->ln1_w, k + 0, C, "ln1_w");
        check_values(w->ln1_b, k + 1, C, "ln1_b");
        check_values(w->attn_w, k + 2, 3ull * C * C, "attn_w");
        check_values(w->attn_b, k + 3, 3ull * C, "attn_b");
        check_values(w->proj_w, k + 4, (uint64_t)C * C, "proj_w");
        check_values(w->proj_b, k + 5, C, "proj_b");
        check_values(w->ln2_w, k + 6, C, "ln2_w");
        check_values(w->ln2_b, k + 7, C, "ln2_b");
        check_values(w->fc_w, k + 8, (uint64_t)C * F, "fc_w");
        check_values(w->fc_b, k + 9, F, "fc_b");
        check_values(w->fcproj_w, k + 10, (uint64_t)F * C, "fcproj_w");
        check_values(w->fcproj_b, k + 11, C, "fcproj_b");
    }
    check_values(m->lnf_w, 2 + 12 * L, C, "lnf_w");
    check_values(m->lnf_b, 3 + 12 * L, C, "lnf_b");
    const float *wte_t = lac_model_wte_t(m);
    cr_assert_not_null(wte_t);
    for (uint32_t v = 0; v < V; v++)
        for (uint32_t k = 0; k < C; k++)
            if (wte_t[(size_t)k * V + v] != m->wte[(size_t)v * C + k])
                cr_assert_fail("wte_t[%u][%u] is not wte[%u][%u]", k, v, v, k);
}

/* Writes the checkpoint, converts it, loads it and checks everything. */
static void roundtrip(const hf_ckpt_opts *o, int storage, lac_dtype expect_storage) {
    char *tmp = hf_tmpdir();
    cr_assert_not_null(tmp);
    char dir[512], out[512];
    snprintf(dir, sizeof dir, "%s/ckpt", tmp);
    snprintf(out, sizeof out, "%s/model.lacm", tmp);
    cr_assert_eq(hf_ckpt_write(dir, o), 0);
    lac_error err;
    lac_error_clear(&err);
    cr_assert_eq(lac_convert_hf(dir, out, storage, "test-model", &err), LAC_OK, "%s", err.msg);
    lac_model *m = NULL;
    cr_assert_eq(lac_model_open(out, &m, &err), LAC_OK, "%s", err.msg);
    struct stat sb;
    cr_assert_eq(stat(out, &sb), 0);
    cr_assert_eq(lac_model_file_size(m), (uint64_t)sb.st_size);
    check_model(m, o, expect_storage, "test-model");
    lac_model_close(m);
    cr_assert_eq(hf_count_entries(tmp, ".tmp"), 0, "a temp file was left behind");
    hf_rmtree(tmp);
    free(tmp);
}

Test(convert, gpt2_style_f32_no_prefix_buffers_no_head) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.n_layer = 12, o.n_head = 12, o.n_embd = 24; /* gpt2: 12 layers, 12 heads */
    o.attn_buffers = 1;
    roundtrip(&o, -1, LAC_DTYPE_F32);
}

Test(convert, gpt2_medium_style) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.n_layer = 24, o.n_head = 16, o.n_embd = 32;
    o.attn_buffers = 1;
    roundtrip(&o, -1, LAC_DTYPE_F32);
}

Test(convert, gpt2_large_style) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.n_layer = 36, o.n_head = 20, o.n_embd = 40;
    o.attn_buffers = 1;
    roundtrip(&o, -1, LAC_DTYPE_F32);
}

Test(convert, gpt2_xl_style) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.n_layer = 48, o.n_head = 25, o.n_embd = 50;
    o.attn_buffers = 1;
    roundtrip(&o, -1, LAC_DTYPE_F32);
}

Test(convert, f16_with_transformer_prefix) { /* like lac-tiny */
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.dtype = "F16";
    o.prefix = 1;
    roundtrip(&o, -1, LAC_DTYPE_F16);
}

Test(convert, bf16) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.dtype = "BF16";
    o.prefix = 1;
    o.attn_buffers = 1;
    roundtrip(&o, -1, LAC_DTYPE_BF16);
}

Test(convert, sharded_with_index) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.n_layer = 4;
    o.shards = 3;
    o.attn_buffers = 1;
    roundtrip(&o, -1, LAC_DTYPE_F32);
}

Test(convert, tied_lm_head_present) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.lm_head = 1;
    o.dtype = "F16";
    roundtrip(&o, -1, LAC_DTYPE_F16);
}

Test(convert, encoder_json_vocab_bpe_and_null_n_inner) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.encoder_names = 1;
    o.n_inner_null = 1;
    roundtrip(&o, -1, LAC_DTYPE_F32);
}

Test(convert, storage_override) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    roundtrip(&o, LAC_DTYPE_F16, LAC_DTYPE_F16);  /* F32 checkpoint stored as F16 */
    o.dtype = "F16";
    roundtrip(&o, LAC_DTYPE_F32, LAC_DTYPE_F32);  /* F16 widened into F32 storage */
    roundtrip(&o, LAC_DTYPE_BF16, LAC_DTYPE_BF16); /* values here are exact in BF16 too */
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

Test(convert, deterministic_and_hash_independent_of_storage) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.n_layer = 3;
    char *tmp = hf_tmpdir();
    char dir[512], a[512], b[512], c[512], d[512];
    snprintf(dir, sizeof dir, "%s/ckpt", tmp);
    snprintf(a, sizeof a, "%s/a.lacm", tmp);
    snprintf(b, sizeof b, "%s/b.lacm", tmp);
    snprintf(c, sizeof c, "%s/c.lacm", tmp);
    snprintf(d, sizeof d, "%s/d.lacm", tmp);
    cr_assert_eq(hf_ckpt_write(dir, &o), 0);
    lac_error err;
    cr_assert_eq(lac_convert_hf(dir, a, -1, NULL, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_convert_hf(dir, b, -1, NULL, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_convert_hf(dir, c, LAC_DTYPE_F16, NULL, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_convert_hf(dir, d, LAC_DTYPE_BF16, NULL, &err), LAC_OK, "%s", err.msg);
    size_t na, nb, nc;
    uint8_t *ba = read_all(a, &na), *bb = read_all(b, &nb), *bc = read_all(c, &nc);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(ba, bb, na), 0, "two conversions differ");
    cr_assert_lt(nc, na, "F16 storage should be smaller");
    free(ba), free(bb), free(bc);

    lac_model *ma, *mc, *md;
    cr_assert_eq(lac_model_open(a, &ma, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_model_open(c, &mc, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_model_open(d, &md, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(memcmp(lac_model_hash(ma), lac_model_hash(mc), 32), 0, "F32 vs F16 hash");
    cr_assert_eq(memcmp(lac_model_hash(ma), lac_model_hash(md), 32), 0, "F32 vs BF16 hash");
    cr_assert_str_eq(lac_model_get_config(ma)->name, "ckpt"); /* default: directory name */
    lac_model_close(ma), lac_model_close(mc), lac_model_close(md);

    /* a different weight gives a different hash */
    hf_ckpt_opts o2 = o;
    o2.n_merges = 19;
    hf_rmtree(dir);
    cr_assert_eq(hf_ckpt_write(dir, &o2), 0);
    cr_assert_eq(lac_convert_hf(dir, b, -1, NULL, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_model_open(a, &ma, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_model_open(b, &mc, &err), LAC_OK, "%s", err.msg);
    cr_assert_neq(memcmp(lac_model_hash(ma), lac_model_hash(mc), 32), 0);
    lac_model_close(ma), lac_model_close(mc);
    hf_rmtree(tmp);
    free(tmp);
}

/* ---- errors ----------------------------------------------------------------------------------- */
static void expect_fail(const hf_ckpt_opts *o, lac_status code, const char *file,
                        const char *needle) {
    char *tmp = hf_tmpdir();
    char dir[512], out[512];
    snprintf(dir, sizeof dir, "%s/ckpt", tmp);
    snprintf(out, sizeof out, "%s/out.lacm", tmp);
    cr_assert_eq(hf_ckpt_write(dir, o), 0);
    lac_error err;
    lac_error_clear(&err);
    lac_status st = lac_convert_hf(dir, out, -1, NULL, &err);
    cr_assert_eq(st, code, "expected %s, got %s: %s", lac_status_name(code), lac_status_name(st),
                 err.msg);
    cr_assert_eq(err.code, code);
    cr_assert_not_null(strstr(err.msg, file), "message does not name %s: %s", file, err.msg);
    cr_assert_not_null(strstr(err.msg, needle), "message lacks '%s': %s", needle, err.msg);
    cr_log_info("%s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
    cr_assert_neq(access(out, F_OK), 0, "an output file was left behind");
    cr_assert_eq(hf_count_entries(tmp, ".tmp"), 0, "a temp file was left behind");
    hf_rmtree(tmp);
    free(tmp);
}

Test(convert_errors, missing_tensor) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.skip_tensor = "h.1.mlp.c_fc.weight";
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors", "missing tensor h.1.mlp.c_fc.weight");
}

Test(convert_errors, missing_tensor_sharded) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.shards = 2;
    o.skip_tensor = "ln_f.bias";
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors.index.json", "missing tensor ln_f.bias");
}

Test(convert_errors, wrong_shape) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.bad_shape_tensor = "h.0.attn.c_proj.weight";
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors", "h.0.attn.c_proj.weight has shape");
}

Test(convert_errors, unknown_dtype) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.bad_dtype = "Q7";
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors", "unknown dtype 'Q7'");
}

Test(convert_errors, unsupported_dtype) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.bad_dtype = "I32"; /* known to safetensors, same size as F32, not a weight dtype */
    expect_fail(&o, LAC_ERR_UNSUPPORTED, "model.safetensors", "dtype I32");
}

Test(convert_errors, truncated_data) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.truncate = 10;
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors", "out of range");
}

Test(convert_errors, truncated_before_header_length) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.truncate = (uint64_t)1 << 40; /* leaves nothing */
    expect_fail(&o, LAC_ERR_TRUNCATED, "model.safetensors", "truncated");
}

Test(convert_errors, header_length_beyond_eof) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.header_len_add = 1000000;
    expect_fail(&o, LAC_ERR_TRUNCATED, "model.safetensors", "beyond the end of the file");
}

Test(convert_errors, malformed_header) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.garbage_header = 1;
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors", "bad JSON");
}

Test(convert_errors, offsets_out_of_range) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.out_of_range = 1;
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors", "ln_f.bias: data_offsets");
}

Test(convert_errors, overlapping_offsets) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.overlap = 1;
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors", "overlapping");
}

Test(convert_errors, bad_config_json) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.bad_config_json = 1;
    expect_fail(&o, LAC_ERR_FORMAT, "config.json", "bad JSON");
}

Test(convert_errors, bad_index_json) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.shards = 2;
    o.bad_index_json = 1;
    expect_fail(&o, LAC_ERR_FORMAT, "model.safetensors.index.json", "bad JSON");
}

Test(convert_errors, untied_lm_head) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.lm_head = 2;
    expect_fail(&o, LAC_ERR_UNSUPPORTED, "model.safetensors", "untied");
}

Test(convert_errors, unsupported_config) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.config_extra = "\"scale_attn_by_inverse_layer_idx\": true";
    expect_fail(&o, LAC_ERR_UNSUPPORTED, "config.json", "scale_attn_by_inverse_layer_idx");
    o.config_extra = "\"add_cross_attention\": true";
    expect_fail(&o, LAC_ERR_UNSUPPORTED, "config.json", "add_cross_attention");
    o.config_extra = NULL;
    o.n_head = 3; /* 16 % 3 != 0 */
    expect_fail(&o, LAC_ERR_UNSUPPORTED, "config.json", "n_head");
}

/* Overwrites the first value of the first tensor (wte, F32) of dir/model.safetensors. */
static void patch_first_value(const char *dir, float v) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    uint8_t len[8];
    cr_assert_eq(fread(len, 1, 8, f), 8);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)len[i] << (8 * i);
    fseek(f, (long)(8 + hl), SEEK_SET);
    fwrite(&v, 4, 1, f);
    fclose(f);
}

Test(convert_errors, non_finite_and_overflowing_values) {
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    char *tmp = hf_tmpdir();
    char dir[512], out[512];
    snprintf(dir, sizeof dir, "%s/ckpt", tmp);
    snprintf(out, sizeof out, "%s/out.lacm", tmp);
    cr_assert_eq(hf_ckpt_write(dir, &o), 0);
    lac_error err;
    patch_first_value(dir, 1e6f); /* fine in F32, beyond F16 */
    cr_assert_eq(lac_convert_hf(dir, out, -1, NULL, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(unlink(out), 0);
    cr_assert_eq(lac_convert_hf(dir, out, LAC_DTYPE_F16, NULL, &err), LAC_ERR_FORMAT);
    cr_assert_not_null(strstr(err.msg, "model.safetensors: tensor wte.weight"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "out of f16 range"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0);
    patch_first_value(dir, NAN);
    cr_assert_eq(lac_convert_hf(dir, out, -1, NULL, &err), LAC_ERR_FORMAT);
    cr_assert_not_null(strstr(err.msg, "not finite"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0);
    cr_assert_eq(hf_count_entries(tmp, ".tmp"), 0);
    hf_rmtree(tmp);
    free(tmp);
}

Test(convert_errors, unreadable_path_and_existing_output_kept) {
    char *tmp = hf_tmpdir();
    char dir[512], out[512];
    snprintf(dir, sizeof dir, "%s/does-not-exist", tmp);
    snprintf(out, sizeof out, "%s/out.lacm", tmp);
    lac_error err;
    cr_assert_eq(lac_convert_hf(dir, out, -1, NULL, &err), LAC_ERR_IO);
    cr_assert_not_null(strstr(err.msg, "does-not-exist"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0);

    /* a failed conversion never touches an existing output */
    FILE *f = fopen(out, "wb");
    fputs("keep", f);
    fclose(f);
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.overlap = 1;
    snprintf(dir, sizeof dir, "%s/ckpt", tmp);
    cr_assert_eq(hf_ckpt_write(dir, &o), 0);
    cr_assert_eq(lac_convert_hf(dir, out, -1, NULL, &err), LAC_ERR_FORMAT);
    size_t n;
    uint8_t *b = read_all(out, &n);
    cr_assert(n == 4 && !memcmp(b, "keep", 4));
    free(b);
    cr_assert_eq(hf_count_entries(tmp, ".tmp"), 0);
    hf_rmtree(tmp);
    free(tmp);
}

/* ---- the real lac-tiny checkpoint ---------------------------------------------------------- */
static const char *shared_dir(char *buf, size_t n) {
    const char *s = getenv("LAC_SHARED");
    if (s) return s;
    const char *src = getenv("LAC_SOURCE_DIR");
    snprintf(buf, n, "%s/../shared", src ? src : ".");
    return buf;
}

Test(convert, lac_tiny) {
    char sbuf[1024], dir[1200], st_path[1300];
    snprintf(dir, sizeof dir, "%s/models/lac-tiny", shared_dir(sbuf, sizeof sbuf));
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    if (access(st_path, R_OK) != 0) cr_skip_test("no %s", st_path);
    char *tmp = hf_tmpdir();
    char out[512];
    snprintf(out, sizeof out, "%s/lac-tiny.lacm", tmp);
    lac_error err;
    cr_assert_eq(lac_convert_hf(dir, out, LAC_DTYPE_F16, "lac-tiny", &err), LAC_OK, "%s", err.msg);
    lac_model *m;
    cr_assert_eq(lac_model_open(out, &m, &err), LAC_OK, "%s", err.msg);
    const lac_model_config *c = lac_model_get_config(m);
    cr_assert_eq(c->n_layer, 8);
    cr_assert_eq(c->n_embd, 256);
    cr_assert_eq(c->n_head, 4);
    cr_assert_eq(c->vocab_size, 50257);
    cr_assert_eq(c->eot_token, 50256);
    cr_assert_eq(lac_model_param_count(m), 19446528); /* shared/models/lac-tiny/README.md */
    char hex[65];
    lac_hash_hex(lac_model_hash(m), hex);
    cr_assert_str_eq(hex, LAC_TINY_HASH);

    /* spot-check weights against the safetensors file, decoded independently */
    size_t n;
    uint8_t *raw = read_all(st_path, &n);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)raw[i] << (8 * i);
    cJSON *h = cJSON_ParseWithLength((const char *)raw + 8, (size_t)hl);
    cr_assert_not_null(h);
    static const struct {
        const char *name;
        int which; /* 0 wte, 1 wpe, 2 layer 7 fc_w, 3 ln_f.bias */
    } probes[] = {{"transformer.wte.weight", 0}, {"transformer.wpe.weight", 1},
                  {"transformer.h.7.mlp.c_fc.weight", 2}, {"transformer.ln_f.bias", 3}};
    for (int p = 0; p < 4; p++) {
        cJSON *e = cJSON_GetObjectItem(h, probes[p].name);
        cr_assert_not_null(e, "%s", probes[p].name);
        cJSON *of = cJSON_GetObjectItem(e, "data_offsets");
        size_t beg = (size_t)cJSON_GetArrayItem(of, 0)->valuedouble;
        const uint8_t *d = raw + 8 + hl + beg;
        const float *got = probes[p].which == 0   ? m->wte
                           : probes[p].which == 1 ? m->wpe
                           : probes[p].which == 2 ? m->layers[7].fc_w
                                                  : m->lnf_b;
        for (size_t i = 0; i < 256; i++) {
            float want = hf_f16_decode((uint16_t)(d[2 * i] | d[2 * i + 1] << 8));
            cr_assert_eq(got[i], want, "%s[%zu]", probes[p].name, i);
        }
    }
    cJSON_Delete(h);
    free(raw);

    /* the embedded default model, when present, is this conversion */
    const char *def = getenv("LAC_DEFAULT_MODEL");
    if (def && access(def, R_OK) == 0) {
        lac_model *d;
        cr_assert_eq(lac_model_open(def, &d, &err), LAC_OK, "%s", err.msg);
        cr_assert_eq(memcmp(lac_model_hash(d), lac_model_hash(m), 32), 0);
        cr_assert_eq(lac_model_file_size(d), lac_model_file_size(m));
        lac_model_close(d);
    }
    lac_model_close(m);
    hf_rmtree(tmp);
    free(tmp);
}

/* ---- weights_tools convert / info / random ------------------------------------------------- */
#include <sys/wait.h>

static int run(const char *cmd) {
    int r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

Test(cli, convert_info_random) {
    const char *wt = getenv("WEIGHTS_TOOLS");
    if (!wt || access(wt, X_OK) != 0) cr_skip_test("WEIGHTS_TOOLS not set");
    char *tmp = hf_tmpdir();
    char dir[512], out[512], cmd[4096], txt[512];
    snprintf(dir, sizeof dir, "%s/ckpt", tmp);
    snprintf(out, sizeof out, "%s/m.lacm", tmp);
    snprintf(txt, sizeof txt, "%s/info.txt", tmp);
    hf_ckpt_opts o;
    hf_ckpt_defaults(&o);
    o.dtype = "BF16";
    cr_assert_eq(hf_ckpt_write(dir, &o), 0);

    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --dtype f16 --name cli-test >/dev/null 2>&1",
             wt, dir, out);
    cr_assert_eq(run(cmd), 0);
    cr_assert_eq(run(cmd), 1, "must refuse to overwrite without -f");
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' -f >/dev/null", wt, dir, out);
    cr_assert_eq(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --dtype f8 2>/dev/null", wt, dir, out);
    cr_assert_eq(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s/nope' -o '%s/x.lacm' 2>/dev/null", wt, tmp, tmp);
    cr_assert_eq(run(cmd), 1);
    cr_assert_neq(access(txt, F_OK), 0);

    snprintf(cmd, sizeof cmd, "'%s' info '%s' > '%s'", wt, out, txt);
    cr_assert_eq(run(cmd), 0);
    size_t n;
    uint8_t *b = read_all(txt, &n);
    b[n] = 0;
    lac_model *m;
    lac_error err;
    cr_assert_eq(lac_model_open(out, &m, &err), LAC_OK, "%s", err.msg);
    char hex[65], line[128];
    lac_hash_hex(lac_model_hash(m), hex);
    cr_assert_not_null(strstr((char *)b, hex), "%s", b);
    cr_assert_not_null(strstr((char *)b, "storage:     bf16"), "%s", b);
    cr_assert_not_null(strstr((char *)b, "name:        ckpt"), "%s", b);
    cr_assert_not_null(strstr((char *)b, "random:      no"), "%s", b);
    snprintf(line, sizeof line, "parameters:  %llu", (unsigned long long)lac_model_param_count(m));
    cr_assert_not_null(strstr((char *)b, line), "%s", b);
    lac_model_close(m);
    free(b);

    /* random: tiny shapes with this checkpoint's vocab would not match vocab_size 50257 */
    snprintf(cmd, sizeof cmd, "'%s' random --config tiny --seed 1 -o '%s/r.lacm' --vocab-from '%s' 2>/dev/null",
             wt, tmp, out);
    cr_assert_eq(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "'%s' random --config gpt5 --seed 1 -o '%s/r.lacm' 2>/dev/null", wt, tmp);
    cr_assert_eq(run(cmd), 2);
    const char *def = getenv("LAC_DEFAULT_MODEL");
    if (def && access(def, R_OK) == 0) {
        snprintf(cmd, sizeof cmd, "'%s' random --config tiny --seed 9 -o '%s/r.lacm' >/dev/null && "
                 "'%s' info '%s/r.lacm' > '%s'", wt, tmp, wt, tmp, txt);
        cr_assert_eq(run(cmd), 0);
        b = read_all(txt, &n);
        b[n] = 0;
        cr_assert_not_null(strstr((char *)b, "random:      yes"), "%s", b);
        cr_assert_not_null(strstr((char *)b, "parameters:  19446528"), "%s", b);
        free(b);
    }
    hf_rmtree(tmp);
    free(tmp);
}
