/* Stream API (coder/compress.c, decompress.c, list.c): round trips through lac_compress / lac_decompress / lac_list
 * with a small random in-memory model (GPT-2 vocabulary), and with the real lac-tiny on short
 * texts when it is built. Damage of every kind must give an error, never wrong output. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container2.h"
#include "lac.h"
#include "lacz_testutil.h"
#include "model.h"
#include "vocab.h"

/* ---- memory I/O ---- */
typedef struct mem {
    uint8_t *p;
    size_t n, cap, pos;
    size_t max_read; /* 0: unlimited; else at most this many bytes per read (chunking) */
} mem;

static long mem_read(void *ctx, void *buf, size_t n) {
    mem *m = ctx;
    size_t k = m->n - m->pos;
    if (k > n) k = n;
    if (m->max_read && k > m->max_read) k = m->max_read;
    if (k) memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (long)k;
}

static int mem_write(void *ctx, const void *buf, size_t n) {
    mem *m = ctx;
    if (m->n + n > m->cap) {
        size_t c = (m->cap ? m->cap * 2 : 4096) + n;
        m->p = realloc(m->p, c);
        cr_assert(m->p);
        m->cap = c;
    }
    memcpy(m->p + m->n, buf, n);
    m->n += n;
    return 0;
}

static mem mem_of(const void *d, size_t n) {
    mem m = {0};
    m.p = malloc(n ? n : 1);
    memcpy(m.p, d, n);
    m.n = m.cap = n;
    return m;
}

/* ---- models ---- */
static lac_model *g_model, *g_model2;
static lac_vocab_owned g_vocab;

static const char *shared_dir(void) {
    const char *s = getenv("LAC_SHARED");
    return s && *s ? s : "../shared";
}

static lac_model *random_model(uint64_t seed) {
    lac_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_layer = 1;
    cfg.n_head = 1;
    cfg.n_embd = 64;
    cfg.n_ctx = 64;
    cfg.vocab_size = g_vocab.v.n_tokens;
    cfg.n_inner = 256;
    cfg.ln_eps = 1e-5f;
    cfg.eot_token = g_vocab.v.n_tokens - 1;
    cfg.storage = LAC_DTYPE_F32;
    snprintf(cfg.name, sizeof cfg.name, "random-%llu", (unsigned long long)seed);
    lac_model *m = NULL;
    lac_error err;
    cr_assert_eq(lac_model_create_random(&cfg, seed, &g_vocab.v, &m, &err), LAC_OK, "%s",
                 err.msg);
    return m;
}

static void setup(void) {
    char v[1024], mg[1024];
    snprintf(v, sizeof v, "%s/tokenizer/gpt2/vocab.json", shared_dir());
    snprintf(mg, sizeof mg, "%s/tokenizer/gpt2/merges.txt", shared_dir());
    lac_error err;
    cr_assert_eq(lac_vocab_load_hf(v, mg, &g_vocab, &err), LAC_OK, "%s", err.msg);
    g_model = random_model(1);
    g_model2 = random_model(2);
}

static void teardown(void) {
    lac_model_close(g_model);
    lac_model_close(g_model2);
    lac_vocab_owned_free(&g_vocab);
}

TestSuite(stream, .init = setup, .fini = teardown);

static lac_params params(uint32_t block_tokens, int streams) {
    lac_params p;
    lac_params_default(&p);
    p.block_tokens = block_tokens;
    p.engine.device = LAC_DEVICE_CPU;
    p.engine.n_threads = 1;
    p.engine.n_streams = streams;
    /* the random models code text worse than any classic codec: these tests are about the
     * model's blocks, so the writer may only choose the model or stored (test_format2.c has
     * the classic codecs) */
    p.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL) | LAC_METHOD_BIT(LAC_METHOD_STORED);
    return p;
}

static mem compress(const lac_model *m, const lac_params *p, const void *d, size_t n,
                    lac_stats *st) {
    mem in = mem_of(d, n), out = {0};
    in.max_read = 1000; /* many small reads: chunking must not change anything */
    lac_error err;
    lac_status s = lac_compress(m, p, mem_read, &in, mem_write, &out, st, &err);
    cr_assert_eq(s, LAC_OK, "compress: %s", err.msg);
    free(in.p);
    return out;
}

static lac_status decompress(const lac_model *m, const lac_params *p, const mem *z, mem *out,
                             lac_stats *st, lac_error *err) {
    mem in = *z;
    in.pos = 0;
    return lac_decompress(m, p, mem_read, &in, out ? mem_write : NULL, out, st, err);
}

static void round_trip(const void *d, size_t n, uint32_t block_tokens, int enc_b, int dec_b,
                       lac_stats *cst) {
    lac_params pe = params(block_tokens, enc_b), pd = params(0, dec_b);
    lac_stats st1, st2;
    mem z = compress(g_model, &pe, d, n, &st1);
    cr_assert_eq(st1.in_bytes, n);
    cr_assert_eq(st1.out_bytes, z.n);
    mem out = {0};
    lac_error err;
    cr_assert_eq(decompress(g_model, &pd, &z, &out, &st2, &err), LAC_OK, "decompress: %s",
                 err.msg);
    cr_assert_eq(out.n, n, "length %zu, want %zu", out.n, n);
    cr_assert(n == 0 || memcmp(out.p, d, n) == 0, "decoded bytes differ");
    cr_assert_eq(st2.blocks, st1.blocks);
    cr_assert_eq(st2.tokens, st1.tokens);
    /* test mode: same verdict, nothing written */
    cr_assert_eq(decompress(g_model, &pd, &z, NULL, NULL, &err), LAC_OK, "%s", err.msg);
    /* lac_list agrees without the model */
    lac_file_info fi;
    mem in = z;
    in.pos = 0;
    cr_assert_eq(lac_list(mem_read, &in, &fi, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(fi.plain_bytes, n);
    cr_assert_eq(fi.packed_bytes, z.n);
    cr_assert_eq(fi.blocks, st1.blocks);
    cr_assert_eq(fi.stored_blocks, st1.stored_blocks);
    /* v2 records give the tokens of full blocks only (a partial one ends with its end symbol) */
    cr_assert_leq(fi.tokens, st1.tokens);
    for (int m = 0; m < LAC_METHODS; m++) {
        cr_assert_eq(fi.method_blocks[m], st1.method_blocks[m], "method %d", m);
        cr_assert_eq(fi.method_packed[m], st1.method_packed[m], "method %d", m);
        cr_assert_eq(st2.method_blocks[m], st1.method_blocks[m], "method %d", m);
        cr_assert_eq(st2.method_plain[m], st1.method_plain[m], "method %d", m);
    }
    cr_assert_eq(fi.streams, 1);
    cr_assert_eq(fi.format_version, 2);
    cr_assert_str_eq(fi.model_name, "", "v2 does not record the name");
    cr_assert_eq(fi.model_hash_len, LACZ2_ID_BYTES);
    cr_assert_eq(memcmp(fi.model_hash, lac_model_hash(g_model), LACZ2_ID_BYTES), 0);
    if (cst) *cst = st1;
    free(out.p);
    free(z.p);
}

static const char TEXT[] =
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having "
    "nothing to do: once or twice she had peeped into the book her sister was reading, but it "
    "had no pictures or conversations in it, 'and what is the use of a book,' thought Alice "
    "'without pictures or conversations?'\n";

Test(stream, empty_input) {
    lac_stats st;
    round_trip("", 0, 0, 1, 1, &st);
    cr_assert_eq(st.blocks, 0);
    lac_params p = params(0, 1);
    mem z = compress(g_model, &p, "", 0, NULL);
    /* header 11 + block_tokens varint 1 (n_ctx 64 is not the default 1024), end tag 1,
     * plain_bytes 1, check 4 */
    cr_assert_eq(z.n, 18);
    free(z.p);
}

Test(stream, one_byte) { round_trip("x", 1, 0, 1, 1, NULL); }

Test(stream, text_is_coded) {
    lac_stats st;
    round_trip(TEXT, strlen(TEXT), 0, 1, 1, &st);
    cr_assert_gt(st.blocks, 1); /* n_ctx 64 */
    cr_assert_gt(st.blocks, st.stored_blocks, "English text must be coded, not stored");
    cr_assert_gt(st.tokens, 40);
}

Test(stream, small_blocks_and_streams) {
    round_trip(TEXT, strlen(TEXT), 7, 1, 3, NULL);
    round_trip(TEXT, strlen(TEXT), 5, 4, 1, NULL);
    round_trip(TEXT, strlen(TEXT), 1, 3, 2, NULL);
}

Test(stream, binary_is_stored) {
    uint8_t all[256 * 4];
    for (int i = 0; i < (int)sizeof all; i++) all[i] = (uint8_t)(i * 37);
    lac_stats st;
    round_trip(all, sizeof all, 0, 1, 1, &st);
    cr_assert_eq(st.tokens, 0);
    cr_assert_eq(st.blocks, st.stored_blocks);
    uint8_t nul[3000] = {0};
    round_trip(nul, sizeof nul, 16, 1, 1, &st);
    cr_assert_eq(st.blocks, 1, "a NUL run is merged into one stored block");
}

Test(stream, mixed_text_and_binary) {
    size_t n = 4 * strlen(TEXT) + 600; /* the middle text (twice TEXT) is long enough to be a
                                          * segment of its own (segment.h, LACZ_MIN_TEXT) */
    uint8_t *d = malloc(n);
    size_t k = 0;
    memcpy(d + k, TEXT, strlen(TEXT)), k += strlen(TEXT);
    for (int i = 0; i < 300; i++) d[k++] = (uint8_t)(i & 0xff);
    memcpy(d + k, TEXT, strlen(TEXT)), k += strlen(TEXT);
    memcpy(d + k, TEXT, strlen(TEXT)), k += strlen(TEXT);
    for (int i = 0; i < 300; i++) d[k++] = (uint8_t)(0x80 + (i % 64)); /* invalid UTF-8 */
    memcpy(d + k, TEXT, strlen(TEXT)), k += strlen(TEXT);
    cr_assert_eq(k, n);
    lac_stats st;
    round_trip(d, n, 32, 2, 3, &st);
    cr_assert_gt(st.stored_blocks, 0);
    cr_assert_gt(st.blocks, st.stored_blocks);
    free(d);
}

Test(stream, special_texts) {
    const char *t[] = {"a\r\nb\r\n\r\nc", "<|endoftext|>", "x<|endoftext|>y<|endoftext|>",
                       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\xff\xfe text \xc3",
                       "   \t\t\n\n  trailing spaces   "};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) round_trip(t[i], strlen(t[i]), 0, 1, 1, NULL);
}

Test(stream, concatenated_streams) {
    lac_params p = params(16, 1);
    mem a = compress(g_model, &p, TEXT, 100, NULL);
    mem b = compress(g_model, &p, "", 0, NULL);
    mem c = compress(g_model, &p, TEXT + 100, strlen(TEXT) - 100, NULL);
    mem z = {0};
    mem_write(&z, a.p, a.n);
    mem_write(&z, b.p, b.n);
    mem_write(&z, c.p, c.n);
    mem out = {0};
    lac_error err;
    cr_assert_eq(decompress(g_model, &p, &z, &out, NULL, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(out.n, strlen(TEXT));
    cr_assert_eq(memcmp(out.p, TEXT, out.n), 0);
    lac_file_info fi;
    mem in = z;
    in.pos = 0;
    cr_assert_eq(lac_list(mem_read, &in, &fi, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(fi.streams, 3);
    cr_assert_eq(fi.plain_bytes, strlen(TEXT));
    /* trailing garbage after a stream is an error */
    mem_write(&z, "junk", 4);
    free(out.p);
    out = (mem){0};
    cr_assert_eq(decompress(g_model, &p, &z, &out, NULL, &err), LAC_ERR_FORMAT);
    cr_assert(strstr(err.msg, "trailing"), "%s", err.msg);
    free(a.p), free(b.p), free(c.p), free(z.p), free(out.p);
}

Test(stream, wrong_model) {
    lac_params p = params(0, 1);
    mem z = compress(g_model, &p, TEXT, 50, NULL);
    lac_error err;
    mem out = {0};
    cr_assert_eq(decompress(g_model2, &p, &z, &out, NULL, &err), LAC_ERR_MODEL_MISMATCH);
    cr_assert(strstr(err.msg, "made with another model"), "%s", err.msg);
    cr_assert(strstr(err.msg, "random-2"), "%s", err.msg);
    cr_assert_eq(out.n, 0);
    free(z.p);
    free(out.p);
}

/* Decoding a damaged file fails (or, when the damage is in slack bits of a coded payload,
 * gives exactly the plaintext); whatever was written is a prefix of the plaintext. */
static int expect_failure(const mem *z, const char *plain, size_t n, const char *what) {
    lac_params p = params(0, 2);
    mem out = {0};
    lac_error err;
    lac_status s = decompress(g_model, &p, z, &out, NULL, &err);
    if (s == LAC_OK) {
        cr_assert(out.n == n && memcmp(out.p, plain, n) == 0, "%s: wrong output accepted", what);
        free(out.p);
        return 1;
    }
    cr_assert(err.msg[0], "%s: empty message", what);
    cr_assert(out.n <= n && (out.n == 0 || memcmp(out.p, plain, out.n) == 0),
              "%s: wrong bytes written", what);
    free(out.p);
    return 0;
}

Test(stream, truncation_at_every_byte) {
    lac_params p = params(8, 1);
    const char *t = TEXT + 20;
    size_t n = 30;
    mem z = compress(g_model, &p, t, n, NULL);
    for (size_t cut = 0; cut < z.n; cut++) {
        mem c = z;
        c.n = cut;
        char what[64];
        snprintf(what, sizeof what, "truncation at %zu of %zu", cut, z.n);
        cr_assert_eq(expect_failure(&c, t, n, what), 0, "%s was accepted", what);
        lac_file_info fi;
        lac_error err;
        c.pos = 0;
        cr_assert_neq(lac_list(mem_read, &c, &fi, &err), LAC_OK, "list: %s", what);
    }
    free(z.p);
}

Test(stream, every_bit_flip_is_caught) {
    lac_params p = params(4, 1);
    const char *t = TEXT + 5;
    size_t n = 12;
    mem z = compress(g_model, &p, t, n, NULL);
    int accepted = 0;
    /* every bit: the header is covered by the first record's check, each record and payload
     * by its check, the last block (no check of its own) by the stream check. Damage that
     * changes nothing decoded may pass, with the right output: slack bits at the end of the
     * last block's payload, and header fields its decoding does not depend on (this stream is
     * that one block: block_tokens 4 read as 5, 6, 12, ...) */
    for (size_t i = 0; i < z.n * 8; i++) {
        z.p[i / 8] ^= (uint8_t)(1u << (i % 8));
        char what[64];
        snprintf(what, sizeof what, "bit flip %zu of %zu", i, z.n * 8);
        accepted += expect_failure(&z, t, n, what);
        z.p[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    cr_assert_lt(accepted, 16, "%d of %zu bit flips were accepted", accepted, z.n * 8);
    free(z.p);
}

Test(stream, random_damage) {
    lac_params p = params(16, 1);
    mem z = compress(g_model, &p, TEXT, strlen(TEXT), NULL);
    srand(12345);
    for (int k = 0; k < 100; k++) {
        mem c = mem_of(z.p, z.n);
        int flips = 1 + rand() % 8;
        for (int j = 0; j < flips; j++) c.p[(size_t)rand() % c.n] ^= (uint8_t)(1 + rand() % 255);
        expect_failure(&c, TEXT, strlen(TEXT), "random bytes changed");
        free(c.p);
    }
    free(z.p);
}

Test(stream, salvage_skips_damaged_block) {
    lac_params p = params(16, 1);
    mem z = compress(g_model, &p, TEXT, strlen(TEXT), NULL);
    /* damage the last byte of the first block's payload */
    rec2 r[64];
    cr_assert_gt(walk_records(z.p, z.n, 16, r, 64, NULL), 2);
    z.p[r[0].payload + r[0].packed_len - 1] ^= 0x55;
    p.salvage = 1;
    mem out = {0};
    lac_stats st;
    lac_error err;
    cr_assert_eq(decompress(g_model, &p, &z, &out, &st, &err), LAC_ERR_CORRUPT);
    cr_assert_eq(st.damaged_blocks, 1, "%s", err.msg);
    cr_assert_gt(out.n, 0);
    cr_assert_lt(out.n, strlen(TEXT));
    /* what was written is the tail of the text (the first block is missing) */
    cr_assert_eq(memcmp(out.p, TEXT + strlen(TEXT) - out.n, out.n), 0);
    free(out.p);
    free(z.p);
}

static volatile int g_stop = 1;
Test(stream, interrupt) {
    lac_params p = params(0, 1);
    p.interrupt = &g_stop;
    mem in = mem_of(TEXT, strlen(TEXT)), out = {0};
    lac_error err;
    cr_assert_eq(lac_compress(g_model, &p, mem_read, &in, mem_write, &out, NULL, &err),
                 LAC_ERR_INTERRUPTED);
    free(in.p);
    free(out.p);
}

Test(stream, bad_params) {
    lac_params p = params(65, 1); /* > n_ctx 64 */
    mem in = mem_of(TEXT, 10), out = {0};
    lac_error err;
    cr_assert_eq(lac_compress(g_model, &p, mem_read, &in, mem_write, &out, NULL, &err),
                 LAC_ERR_ARG);
    cr_assert(strstr(err.msg, "context"), "%s", err.msg);
    p = params(0, 1);
    p.coder.precision = 40;
    in.pos = 0;
    cr_assert_neq(lac_compress(g_model, &p, mem_read, &in, mem_write, &out, NULL, &err), LAC_OK);
    cr_assert_eq(out.n, 0, "nothing is written for bad parameters");
    free(in.p);
    free(out.p);
}

Test(stream, not_lacz) {
    lac_params p = params(0, 1);
    lac_error err;
    mem z = mem_of("hello world, this is not a lacz file at all ...", 47);
    cr_assert_eq(decompress(g_model, &p, &z, NULL, NULL, &err), LAC_ERR_FORMAT);
    cr_assert(strstr(err.msg, "magic"), "%s", err.msg);
    mem e = {0};
    cr_assert_eq(decompress(g_model, &p, &e, NULL, NULL, &err), LAC_ERR_TRUNCATED);
    free(z.p);
}

/* The real default model on short texts (skipped when it is not built yet). */
Test(stream, lac_tiny_short_texts) {
    const char *path = getenv("LAC_DEFAULT_MODEL");
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) cr_skip_test("LAC_DEFAULT_MODEL (lac-tiny.lacm) is not available");
    fclose(f);
    lac_model *m;
    lac_error err;
    cr_assert_eq(lac_model_open(path, &m, &err), LAC_OK, "%s", err.msg);
    lac_params p = params(0, 1);
    const char *texts[] = {TEXT, "<|endoftext|>a\r\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = strlen(texts[i]);
        lac_stats st;
        mem z = compress(m, &p, texts[i], n, &st);
        mem out = {0};
        cr_assert_eq(decompress(m, &p, &z, &out, NULL, &err), LAC_OK, "%s", err.msg);
        cr_assert_eq(out.n, n);
        cr_assert(n == 0 || memcmp(out.p, texts[i], n) == 0);
        if (i == 0) { /* a trained model codes English well below 4 bits per byte */
            size_t payload = st.method_packed[LAC_METHOD_MODEL];
            cr_assert_eq(st.stored_blocks, 0);
            cr_assert_lt(8.0 * (double)payload / (double)n, 4.0, "%zu -> %zu bytes", n, z.n);
        }
        free(z.p);
        free(out.p);
    }
    lac_model_close(m);
}
