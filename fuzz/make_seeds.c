/* Writes the seed corpora of the fuzz targets: make_seeds OUTDIR writes OUTDIR/<target>/<name>.
 * Small valid inputs of each kind (tiny model images, a config.json + safetensors pair, texts,
 * .lacz files made with the tiny model of fuzz_common.h) plus a few edge cases. The committed
 * fuzz/corpus/ was made with it; run it again after a format change. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codecs.h"
#include "compress_v1.h"
#include "fuzz_common.h"
#include "model.h"
#include "model_file.h"

static const char *g_out;

static void put(const char *target, const char *name, const void *a, size_t na, const void *b,
                size_t nb) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_out, target);
    if (mkdir(path, 0755) && errno != EEXIST) FUZZ_FAIL("mkdir %s", path);
    snprintf(path, sizeof path, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(a, 1, na, f) != na || (nb && fwrite(b, 1, nb, f) != nb) || fclose(f))
        FUZZ_FAIL("write %s", path);
}

/* ---- fuzz_model ---------------------------------------------------------------------------- */
static void model_seeds(void) {
    static const lac_dtype dts[3] = {LAC_DTYPE_F32, LAC_DTYPE_F16, LAC_DTYPE_BF16};
    static const char *const names[3] = {"tiny_f32", "tiny_f16", "tiny_bf16"};
    for (int i = 0; i < 3; i++) {
        lac_model_config c;
        memset(&c, 0, sizeof c);
        c.n_layer = 1, c.n_head = 2, c.n_embd = 4, c.n_ctx = 4, c.vocab_size = 272;
        c.n_inner = 8, c.ln_eps = 1e-5f, c.storage = dts[i];
        snprintf(c.name, sizeof c.name, "seed");
        lac_model *m;
        lac_error err;
        if (lac_model_create_random(&c, 1, NULL, &m, &err)) FUZZ_FAIL("%s", err.msg);
        uint8_t mode = (uint8_t)(i == 0 ? 0 : 3); /* plain, and with the check fix-ups */
        put("fuzz_model", names[i], &mode, 1, m->owned_extra, m->file_size);
        lac_model_close(m);
    }
}

/* ---- fuzz_safetensors ------------------------------------------------------------------- */
static void st_seed(const char *name, const char *config, const char *json, size_t data_len) {
    size_t k = strlen(config), jn = strlen(json);
    fuzz_buf b = {0};
    uint8_t len2[2] = {(uint8_t)k, (uint8_t)(k >> 8)};
    fuzz_buf_add(&b, len2, 2);
    fuzz_buf_add(&b, config, k);
    uint8_t h8[8];
    lac_le_put64(h8, jn);
    fuzz_buf_add(&b, h8, 8);
    fuzz_buf_add(&b, json, jn);
    for (size_t i = 0; i < data_len; i++) fuzz_buf_add(&b, &(uint8_t){(uint8_t)(i * 37)}, 1);
    put("fuzz_safetensors", name, b.p, b.n, NULL, 0);
    free(b.p);
}

static void safetensors_seeds(void) {
    const char *cfg = "{\"n_layer\": 1, \"n_head\": 2, \"n_embd\": 4, \"n_positions\": 4, "
                      "\"vocab_size\": 272, \"layer_norm_epsilon\": 1e-05, \"n_inner\": null, "
                      "\"activation_function\": \"gelu_new\", \"model_type\": \"gpt2\", "
                      "\"eos_token_id\": 271, \"bos_token_id\": 271}";
    st_seed("tiny", cfg,
            "{\"__metadata__\": {\"format\": \"pt\"}, "
            "\"wte.weight\": {\"dtype\": \"F16\", \"shape\": [272, 4], \"data_offsets\": [0, 2176]}, "
            "\"wpe.weight\": {\"dtype\": \"F16\", \"shape\": [4, 4], \"data_offsets\": [2176, 2208]}, "
            "\"h.0.ln_1.weight\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [2208, 2224]}, "
            "\"h.0.attn.bias\": {\"dtype\": \"BOOL\", \"shape\": [1, 1, 4, 4], \"data_offsets\": [2224, 2240]}, "
            "\"ln_f.bias\": {\"dtype\": \"BF16\", \"shape\": [4], \"data_offsets\": [2240, 2248]}}",
            2248);
    st_seed("empty", "{}", "{}", 0);
    st_seed("sharded_cfg", "{\"n_layer\": 2, \"n_head\": 1, \"n_embd\": 8, \"n_ctx\": 16, "
                           "\"vocab_size\": 300, \"n_inner\": 32, \"scale_attn_weights\": true}",
            "{\"transformer.h.1.mlp.c_fc.bias\": {\"dtype\": \"F32\", \"shape\": [32], "
            "\"data_offsets\": [0, 128]}, \"lm_head.weight\": {\"dtype\": \"F32\", \"shape\": "
            "[0, 8], \"data_offsets\": [128, 128]}}", 128);
}

/* ---- fuzz_tokenizer ---------------------------------------------------------------------- */
static const char *const texts[] = {
    "Hello, world! It's a test: we'll see what they've done, I'm sure you'd agree.",
    "  leading spaces\n\n\ttabs and\r\nCRLF lines   \n",
    ("caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 "
     "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 12345 3.14159"),
    "bad utf8: \xff\xfe \xc3\x28 \xe2\x82 \xf0\x90\x80 \xed\xa0\x80 end",
    "<|endoftext|> is text here, not the eot token<|endoftext|>",
    "int main(void) { return x->y[3] != 0 && a <= b; } /* comment */",
};

static void tokenizer_seeds(void) {
    char name[32];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        uint8_t pre[5] = {(uint8_t)(i & 1), 3, 1, 7, 64};
        snprintf(name, sizeof name, "text%zu", i);
        put("fuzz_tokenizer", name, pre, sizeof pre, texts[i], strlen(texts[i]));
    }
    uint8_t pre[2] = {0, 0};
    char run[5000];
    memset(run, ' ', sizeof run);
    put("fuzz_tokenizer", "space_run", pre, 2, run, sizeof run);
    memset(run, 'a', sizeof run);
    put("fuzz_tokenizer", "letter_run", pre, 2, run, sizeof run);
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++) bytes[i] = (uint8_t)i;
    put("fuzz_tokenizer", "all_bytes", pre, 2, bytes, sizeof bytes);
}

/* ---- fuzz_lacz ------------------------------------------------------------------------ */
/* version 1 (the v1 writer kept for tests) or 2; methods 0 = all */
static int g_version = 1;
static unsigned g_methods;
static void compress(const void *x, size_t n, uint32_t block_tokens, fuzz_buf *out) {
    lac_params p;
    lac_params_default(&p);
    p.engine.device = LAC_DEVICE_CPU;
    p.engine.n_threads = 1;
    p.engine.n_streams = 1;
    p.block_tokens = block_tokens;
    p.methods = g_methods;
    fuzz_reader r = {x, n, 0, 0};
    fuzz_writer w = {{0}, 0};
    lac_error err;
    lac_status s = g_version == 1
                       ? lacz_compress_v1(fuzz_tiny_model(), &p, fuzz_read, &r, fuzz_write, &w,
                                          NULL, &err)
                       : lac_compress(fuzz_tiny_model(), &p, fuzz_read, &r, fuzz_write, &w, NULL,
                                      &err);
    if (s) FUZZ_FAIL("compress: %s", err.msg);
    *out = w.out;
}

/* v2 files: model blocks (full, partial, last), stored and classic blocks, the SHA-256 flag,
 * concatenation with v1, raw messages */
static void lacz2_seeds(void) {
    fuzz_buf f, g;
    uint8_t pre[2] = {1, 0}; /* fix the checks */
    const char *t = "the tree in the rain, and then the sun shone on the hill. the old stone "
                    "house on the north road had stood there since the last time it snowed.\n";
    g_version = 2;
    g_methods = LAC_METHOD_BIT(LAC_METHOD_MODEL);
    compress(t, strlen(t), FUZZ_BLOCK_TOKENS, &f);
    put("fuzz_lacz", "v2_model", pre, 2, f.p, f.n);
    pre[0] = 2 | 4; /* salvage, two streams */
    put("fuzz_lacz", "v2_model_salvage", pre, 2, f.p, f.n);
    compress("", 0, FUZZ_BLOCK_TOKENS, &g);
    fuzz_buf two = {0};
    fuzz_buf_add(&two, f.p, f.n);
    fuzz_buf_add(&two, g.p, g.n);
    pre[0] = 1, pre[1] = 0x80;
    put("fuzz_lacz", "v2_two_streams_empty", pre, 2, two.p, two.n);
    free(two.p), free(f.p), free(g.p);
    g_methods = 0;
    uint8_t mix[900];
    for (int i = 0; i < 900; i++) mix[i] = i < 300 || i >= 600 ? (uint8_t)t[i % 60] : (uint8_t)(i % 7);
    compress(mix, sizeof mix, 0, &f);
    pre[0] = 1, pre[1] = 0;
    put("fuzz_lacz", "v2_classic", pre, 2, f.p, f.n);
    free(f.p);
    pre[0] = 32; /* raw decoding of the body */
    put("fuzz_lacz", "v2_raw_decode", pre, 2, t, 24);
    pre[0] = 32 | 16, pre[1] = 0x40; /* fuzz_compress: a raw message, the model alone */
    put("fuzz_compress", "v2_raw_roundtrip", pre, 2, t, strlen(t));
    pre[0] = 16, pre[1] = 0x40 | 3;
    put("fuzz_compress", "v2_roundtrip_model", pre, 2, t, strlen(t));
    g_version = 1;
}

static void lacz_seeds(void) {
    fuzz_buf f;
    uint8_t pre[2] = {0, 0};
    const char *t = "the tree in the rain, and then the sun shone on the hill.\n";
    compress(t, strlen(t), FUZZ_BLOCK_TOKENS, &f);
    put("fuzz_lacz", "text", pre, 2, f.p, f.n);
    pre[0] = 1; /* fix checks */
    put("fuzz_lacz", "text_fix", pre, 2, f.p, f.n);
    pre[0] = 2 | 4 | 8; /* salvage, two streams, short reads */
    pre[1] = 3;
    put("fuzz_lacz", "text_salvage_b2", pre, 2, f.p, f.n);
    fuzz_buf two = {0};
    fuzz_buf_add(&two, f.p, f.n);
    fuzz_buf_add(&two, f.p, f.n);
    pre[0] = 1, pre[1] = 0x80; /* fix checks; test mode must agree */
    put("fuzz_lacz", "two_streams", pre, 2, two.p, two.n);
    free(two.p);
    free(f.p);
    uint8_t bin[300];
    for (int i = 0; i < 300; i++) bin[i] = (uint8_t)(i * 7);
    compress(bin, sizeof bin, FUZZ_BLOCK_TOKENS, &f);
    pre[0] = 1, pre[1] = 0;
    put("fuzz_lacz", "stored", pre, 2, f.p, f.n);
    free(f.p);
    compress("", 0, FUZZ_BLOCK_TOKENS, &f);
    put("fuzz_lacz", "empty", pre, 2, f.p, f.n);
    free(f.p);
    pre[0] = 16, pre[1] = 5; /* fuzz_compress (bit 4 is unused there) */
    put("fuzz_compress", "roundtrip_text", pre, 2, texts[2], strlen(texts[2]));
    pre[0] = 16 | 8 | 4, pre[1] = 2;
    put("fuzz_compress", "roundtrip_mixed", pre, 2, texts[3], strlen(texts[3]));
}

/* ---- fuzz_codecs ------------------------------------------------------------------------ */
/* A valid payload of each classic method for a few texts (decode mode, the right plain_len),
 * and the texts themselves in round-trip mode. */
static void codecs_seeds(void) {
    static const int methods[] = {LACZ_METHOD_STORED, LACZ_METHOD_LZMA2, LACZ_METHOD_ZSTD,
                                  LACZ_METHOD_BROTLI, LACZ_METHOD_BZIP2};
    char run[3000];
    memset(run, 'a', sizeof run);
    const void *in[4] = {texts[0], texts[2], run, ""};
    size_t len[4] = {strlen(texts[0]), strlen(texts[2]), sizeof run, 0};
    static uint8_t out[8192];
    char name[64];
    for (size_t k = 0; k < 5; k++) {
        int m = methods[k];
        for (size_t t = 0; t < 4; t++) {
            size_t n;
            lac_error err;
            if (lacz_codec_compress(m, in[t], len[t], out, sizeof out, &n, &err))
                FUZZ_FAIL("codec seed: %s", err.msg);
            uint8_t pre[3] = {(uint8_t)k, (uint8_t)len[t], (uint8_t)(len[t] >> 8)};
            snprintf(name, sizeof name, "%s_%zu", lacz_method_name(m), t);
            put("fuzz_codecs", name, pre, 3, out, n);
        }
        uint8_t pre[3] = {(uint8_t)(k | 8), 0, 0};
        snprintf(name, sizeof name, "%s_roundtrip", lacz_method_name(m));
        put("fuzz_codecs", name, pre, 3, texts[5], strlen(texts[5]));
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    g_out = argv[1];
    model_seeds();
    safetensors_seeds();
    tokenizer_seeds();
    lacz_seeds();
    lacz2_seeds();
    codecs_seeds();
    return 0;
}
