/* Format version 2 (docs/FORMAT.md): the records (coder/container2.c) byte for byte, and the
 * writer's choices (coder/compress.c): framing sizes, classic codecs where they win, stored
 * where nothing does, --check sha256, raw messages, salvage past damaged records. Uses the tiny
 * random model of tests/helpers/lacz_testutil.h. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "container2.h"
#include "lac.h"
#include "lacz_testutil.h"

static lac_model *g_m;

static void setup(void) {
    g_m = tiny_model(11);
    cr_assert(g_m);
}
static void teardown(void) { lac_model_close(g_m); }

TestSuite(format2, .init = setup, .fini = teardown);

/* ---- varints ---- */
Test(format2, varints) {
    const uint64_t v[] = {0, 1, 127, 128, 300, 16383, 16384, 1u << 28, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t b[10];
        size_t n = lacz2_varint_put(b, v[i]);
        uint64_t back = 0;
        cr_assert_eq(lacz2_varint_get(b, n, 10, &back), (int)n);
        cr_assert_eq(back, v[i]);
        for (size_t k = 0; k < n; k++) cr_assert_eq(lacz2_varint_get(b, k, 10, &back), 0);
        if (n > 1) cr_assert_eq(lacz2_varint_get(b, n, n - 1, &back), -1, "too long");
    }
    const uint8_t padded[] = {0x81, 0x00}; /* 1, not in its shortest form */
    uint64_t x;
    cr_assert_eq(lacz2_varint_get(padded, 2, 10, &x), -1);
}

/* ---- the stream header ---- */
Test(format2, header_default_is_11_bytes) {
    lac_coder_params c;
    lac_coder_params_default(&c);
    uint8_t hash[32];
    for (int i = 0; i < 32; i++) hash[i] = (uint8_t)(i * 7 + 1);
    lacz2_header h, g;
    lacz2_header_init(&h, &c, LACZ2_DEFAULT_BLOCK_TOKENS, hash, 0);
    uint8_t b[LACZ2_HEADER_MAX];
    size_t n = lacz2_header_write(&h, b), used = 0;
    cr_assert_eq(n, 11);
    cr_assert_eq(b[4], 2, "version 2, no flags");
    lac_error e;
    cr_assert_eq(lacz2_header_parse(b, n, 0, &g, &used, &e), LAC_OK, "%s", e.msg);
    cr_assert_eq(used, n);
    cr_assert_eq(memcmp(g.model_id, hash, 6), 0);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(lacz2_header_parse(b, k, 0, &g, &used, &e), LAC_ERR_TRUNCATED, "prefix %zu", k);
}

Test(format2, header_optional_fields) {
    uint8_t hash[32] = {9};
    lac_coder_params c = {29, 9, 0.75f};
    for (int mask = 0; mask < 8; mask++) {
        lac_coder_params cc;
        lac_coder_params_default(&cc);
        if (mask & 1) cc = c;
        uint32_t bt = mask & 2 ? 200 : LACZ2_DEFAULT_BLOCK_TOKENS;
        lacz2_header h, g;
        lacz2_header_init(&h, &cc, bt, hash, mask & 4);
        uint8_t b[LACZ2_HEADER_MAX];
        size_t n = lacz2_header_write(&h, b), used = 0;
        size_t want = 11 + (mask & 1 ? 6 : 0) + (mask & 2 ? 2 : 0);
        cr_assert_eq(n, want, "mask %d: %zu bytes", mask, n);
        lac_error e;
        cr_assert_eq(lacz2_header_parse(b, n, 0, &g, &used, &e), LAC_OK, "%s", e.msg);
        cr_assert_eq(used, n);
        cr_assert_eq(g.coder.precision, cc.precision);
        cr_assert_eq(g.coder.frac_bits, cc.frac_bits);
        cr_assert_eq(g.coder.temperature, cc.temperature);
        cr_assert_eq(g.block_tokens, bt);
        cr_assert_eq(g.sha256, (mask & 4) != 0);
    }
}

Test(format2, header_refusals) {
    uint8_t hash[32] = {1};
    lac_coder_params c;
    lac_coder_params_default(&c);
    lacz2_header h, g;
    lacz2_header_init(&h, &c, 5, hash, 0);
    uint8_t b[LACZ2_HEADER_MAX];
    size_t n = lacz2_header_write(&h, b), used;
    lac_error e;
    b[4] |= 16u << 3; /* an unknown flag */
    cr_assert_eq(lacz2_header_parse(b, n, 0, &g, &used, &e), LAC_ERR_VERSION);
    cr_assert(strstr(e.msg, "flags"), "%s", e.msg);
    b[4] = (uint8_t)(2 | LACZ2_F_BLOCK << 3);
    b[11] = 0; /* block_tokens 0 */
    cr_assert_eq(lacz2_header_parse(b, n, 0, &g, &used, &e), LAC_ERR_FORMAT);
    cr_assert(strstr(e.msg, "block_tokens"), "%s", e.msg);
    /* numerics version 2 is refused */
    uint8_t d[] = {LACZ_MAGIC_0, LACZ_MAGIC_1, LACZ_MAGIC_2, LACZ_MAGIC_3,
                   2 | LACZ2_F_NUMERICS << 3, 1, 2, 3, 4, 5, 6, 2};
    cr_assert_eq(lacz2_header_parse(d, sizeof d, 0, &g, &used, &e), LAC_ERR_VERSION);
    /* coder parameters out of range */
    uint8_t f[] = {LACZ_MAGIC_0, LACZ_MAGIC_1, LACZ_MAGIC_2, LACZ_MAGIC_3,
                   2 | LACZ2_F_CODER << 3, 1, 2, 3, 4, 5, 6, 40, 12, 0, 0, 0x80, 0x3f};
    cr_assert_eq(lacz2_header_parse(f, sizeof f, 0, &g, &used, &e), LAC_ERR_FORMAT);
}

/* ---- block records ---- */
Test(format2, records_round_trip) {
    const struct { int kind; uint32_t plain, packed; } k[] = {
        {LACZ2_MODEL_FULL, 0, 900},  {LACZ2_MODEL_PART, 0, 0},   {LACZ2_MODEL_LAST, 0, 33},
        {LACZ2_STORED, 0, 5000},     {LACZ2_LZMA2, 70000, 900}, {LACZ2_ZSTD, 2, 1},
        {LACZ2_BROTLI, 1u << 24, 7}, {LACZ2_BZIP2, 100, 99},    {LACZ2_END, 0, 0}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        lacz2_record r, g;
        lacz2_record_init(&r, k[i].kind, 0, k[i].plain, k[i].packed);
        uint8_t b[LACZ2_RECORD_MAX];
        size_t n = lacz2_record_write(&r, 0xBEEF, b), used = 0;
        lac_error e;
        cr_assert_eq(lacz2_record_parse(b, n, 0, 1024, &g, &used, &e), LAC_OK, "kind %d: %s",
                     k[i].kind, e.msg);
        cr_assert_eq(used, n);
        cr_assert_eq(g.kind, k[i].kind);
        cr_assert_eq(g.packed_len, k[i].packed);
        if (k[i].kind >= LACZ2_LZMA2 && k[i].kind <= LACZ2_BZIP2) cr_assert_eq(g.plain_len, k[i].plain);
        if (k[i].kind == LACZ2_STORED) cr_assert_eq(g.plain_len, k[i].packed);
        int checked = !lacz2_ends_stream(k[i].kind);
        if (checked) cr_assert_eq(g.check, 0xBEEF);
        for (size_t j = 0; j < n; j++)
            cr_assert_eq(lacz2_record_parse(b, j, 0, 1024, &g, &used, &e), LAC_ERR_TRUNCATED);
    }
    /* a default text block costs 4 bytes: a 2-byte tag for payloads below 2 KiB, 2 of check */
    lacz2_record r;
    lacz2_record_init(&r, LACZ2_MODEL_FULL, 1024, 0, 2047);
    uint8_t b[LACZ2_RECORD_MAX];
    cr_assert_eq(lacz2_record_write(&r, 0, b), 4);
}

Test(format2, record_caps) {
    const struct { int kind; uint32_t plain, packed; } bad[] = {
        {LACZ2_STORED, 0, 0},        {LACZ2_STORED, 0, (1u << 24) + 1},
        {LACZ2_LZMA2, 100, 100},     {LACZ2_ZSTD, 0, 1},
        {LACZ2_BROTLI, 100, 0},      {LACZ2_BZIP2, (1u << 24) + 1, 5},
        {LACZ2_MODEL_FULL, 0, 4 * 64 + 17}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lacz2_record r, g;
        lacz2_record_init(&r, bad[i].kind, 0, bad[i].plain, bad[i].packed);
        uint8_t b[LACZ2_RECORD_MAX];
        size_t n = lacz2_record_write(&r, 0, b), used;
        lac_error e;
        cr_assert_eq(lacz2_record_parse(b, n, 1234, 64, &g, &used, &e), LAC_ERR_FORMAT, "case %zu",
                     i);
        cr_assert(strstr(e.msg, "1234"), "the offset is named: %s", e.msg);
    }
}

/* ---- the writer ---- */
static lac_params all_methods(uint32_t block_tokens) {
    lac_params p;
    tiny_params(&p, block_tokens, 2);
    return p;
}

static tmem compress_ok(const lac_params *p, const void *d, size_t n, lac_stats *st) {
    tmem in = tmem_copy(d, n), out = {0};
    in.step = 777;
    lac_error e;
    cr_assert_eq(lac_compress(g_m, p, tmem_read, &in, tmem_write, &out, st, &e), LAC_OK, "%s",
                 e.msg);
    tmem_free(&in);
    return out;
}

static void expect_round_trip(const tmem *z, const void *d, size_t n) {
    lac_params p = all_methods(0);
    tmem out;
    lac_error e;
    cr_assert_eq(decompress_mem(g_m, &p, z->p, z->n, &out, NULL, &e), LAC_OK, "%s", e.msg);
    cr_assert_eq(out.n, n);
    cr_assert(n == 0 || memcmp(out.p, d, n) == 0);
    tmem_free(&out);
}

/* Text the tiny model codes smaller than stored (its merged tokens are made of the letters
 * " etaoinshrdlu"), about n bytes of it. */
static tmem tiny_text(size_t n) {
    static const char *w[] = {"the ", "tree ", "in ", "rain ", "and ", "then ", "sun ",
                              "shone ", "on ", "hill ", "she ", "said ", "that ", "old ",
                              "stone ", "house ", "north ", "road ", "had ", "there ", "since ",
                              "last ", "time ", "it ", "snowed ", "sheep ", "shed "};
    tmem t = {0};
    for (unsigned i = 0; t.n < n; i++) {
        const char *x = w[(i * 7 + i / 5) % (sizeof w / sizeof w[0])];
        tmem_write(&t, x, strlen(x));
        if (i % 11 == 10) tmem_write(&t, ".\n", 2);
    }
    return t;
}

static tmem canterbury(const char *name, size_t max) {
    char path[1024];
    const char *sh = getenv("LAC_SHARED");
    snprintf(path, sizeof path, "%s/corpus/canterbury/%s", sh && *sh ? sh : "../shared", name);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    tmem t = {0};
    uint8_t buf[65536];
    size_t k;
    while (t.n < max && (k = fread(buf, 1, sizeof buf, f)) > 0)
        tmem_write(&t, buf, t.n + k > max ? max - t.n : k);
    fclose(f);
    return t;
}

Test(format2, empty_input_is_small) {
    lac_params p = all_methods(0);
    lac_stats st;
    tmem z = compress_ok(&p, "", 0, &st);
    /* header 11 + block_tokens 1 (the tiny model's context is 64) + end 1 + length 1 + check 4 */
    cr_assert_eq(z.n, 18);
    expect_round_trip(&z, "", 0);
    tmem_free(&z);
}

Test(format2, binary_data_gets_a_classic_codec) {
    tmem t = canterbury("kennedy.xls", 200000);
    lac_params p = all_methods(0);
    lac_stats st;
    tmem z = compress_ok(&p, t.p, t.n, &st);
    cr_assert_eq(st.method_blocks[LAC_METHOD_MODEL], 0);
    cr_assert_eq(st.blocks, 1, "one segment, one block");
    cr_assert_lt(z.n, t.n / 5, "%zu -> %zu", t.n, z.n);
    uint64_t classic = st.method_blocks[LAC_METHOD_LZMA2] + st.method_blocks[LAC_METHOD_ZSTD] +
                       st.method_blocks[LAC_METHOD_BROTLI] + st.method_blocks[LAC_METHOD_BZIP2];
    cr_assert_eq(classic, 1);
    expect_round_trip(&z, t.p, t.n);
    tmem_free(&z);
    tmem_free(&t);
}

Test(format2, random_bytes_are_stored_with_framing_only) {
    size_t n = 5000;
    uint8_t *d = malloc(n);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        d[i] = (uint8_t)x;
    }
    lac_params p = all_methods(0);
    lac_stats st;
    tmem z = compress_ok(&p, d, n, &st);
    cr_assert_eq(st.method_blocks[LAC_METHOD_STORED], 1);
    /* 12 header, 3 tag + 2 check, 1 end, 2 length, 4 check */
    cr_assert_eq(z.n, n + 24, "%zu bytes", z.n);
    expect_round_trip(&z, d, n);
    tmem_free(&z);
    free(d);
}

/* A random model codes English badly: a classic codec takes the text, and the file is no larger
 * than that codec's output plus the framing. */
Test(format2, classic_wins_over_a_bad_model) {
    tmem t = canterbury("alice29.txt", 3000);
    lac_params p = all_methods(0);
    lac_stats st, sm;
    tmem z = compress_ok(&p, t.p, t.n, &st);
    cr_assert_eq(st.method_blocks[LAC_METHOD_MODEL], 0);
    cr_assert_eq(st.blocks, 1);
    lac_params pm = all_methods(0);
    pm.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL);
    tmem zm = compress_ok(&pm, t.p, t.n, &sm);
    cr_assert_gt(sm.method_blocks[LAC_METHOD_MODEL], 0);
    cr_assert_lt(z.n, zm.n, "the model alone: %zu, the best: %zu", zm.n, z.n);
    expect_round_trip(&z, t.p, t.n);
    expect_round_trip(&zm, t.p, t.n);
    tmem_free(&z);
    tmem_free(&zm);
    tmem_free(&t);
}

/* The exact framing of a one-block text: header, tag, payload, length, check (the last block
 * needs neither a check nor an end record). */
Test(format2, one_block_framing) {
    const char *t = "the sun and the rain on the hill";
    lac_params p = all_methods(0);
    p.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL);
    lac_stats st;
    tmem z = compress_ok(&p, t, strlen(t), &st);
    cr_assert_eq(st.method_blocks[LAC_METHOD_MODEL], 1);
    size_t payload = st.method_packed[LAC_METHOD_MODEL];
    size_t tag = payload * 8 < 128 ? 1 : 2;
    cr_assert_eq(z.n, 12 + tag + payload + 1 + 4, "%zu bytes, payload %zu", z.n, payload);
    rec2 r[4];
    cr_assert_eq(walk_records(z.p, z.n, 64, r, 4, NULL), 2);
    cr_assert_eq(r[0].kind, LACZ2_MODEL_LAST);
    expect_round_trip(&z, t, strlen(t));
    tmem_free(&z);
}

Test(format2, check_sha256) {
    tmem t = canterbury("alice29.txt", 500);
    lac_params p = all_methods(0), q = all_methods(0);
    q.check_sha256 = 1;
    tmem a = compress_ok(&p, t.p, t.n, NULL), b = compress_ok(&q, t.p, t.n, NULL);
    cr_assert_eq(b.n, a.n + 28);
    uint8_t sha[32];
    lacz_sha256(t.p, t.n, sha);
    cr_assert_eq(memcmp(b.p + b.n - 32, sha, 32), 0, "the footer ends with the SHA-256");
    cr_assert_eq(memcmp(a.p + a.n - 4, sha, 4), 0, "or with its first 4 bytes");
    expect_round_trip(&b, t.p, t.n);
    lac_file_info fi;
    lac_error e;
    cr_assert_eq(list_mem(b.p, b.n, &fi, &e), LAC_OK, "%s", e.msg);
    cr_assert_eq(fi.sha256, 1);
    b.p[b.n - 1] ^= 1;
    tmem out;
    cr_assert_eq(decompress_mem(g_m, &p, b.p, b.n, &out, NULL, &e), LAC_ERR_CORRUPT);
    tmem_free(&out);
    tmem_free(&a);
    tmem_free(&b);
    tmem_free(&t);
}

/* A model block with bytes after its last symbol is malformed (docs/CODER.md). */
Test(format2, trailing_bytes_in_a_model_block) {
    tmem t = tiny_text(400);
    lac_params p = all_methods(8);
    p.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL);
    tmem z = compress_ok(&p, t.p, t.n, NULL);
    rec2 r[256];
    int nr = walk_records(z.p, z.n, 8, r, 256, NULL);
    cr_assert_gt(nr, 3);
    cr_assert_eq(r[1].kind, LACZ2_MODEL_FULL);
    /* rebuild record 1 with 16 more payload bytes and a valid check */
    tmem y = {0};
    tmem_write(&y, z.p, r[1].off);
    uint8_t pay[4 * 8 + 16];
    memcpy(pay, z.p + r[1].payload, r[1].packed_len);
    memset(pay + r[1].packed_len, 0x5A, 16);
    lacz2_record rec;
    lacz2_record_init(&rec, LACZ2_MODEL_FULL, 8, 0, r[1].packed_len + 16);
    cr_assert_leq(rec.packed_len, lacz2_model_max_packed(8));
    uint8_t head[LACZ2_RECORD_MAX];
    size_t hn = lacz2_record_write(&rec, lacz2_record_check(&rec, NULL, 0, pay), head);
    tmem_write(&y, head, hn);
    tmem_write(&y, pay, rec.packed_len);
    size_t next = r[1].payload + r[1].packed_len;
    tmem_write(&y, z.p + next, z.n - next);
    tmem out;
    lac_error e;
    lac_params d = all_methods(0);
    cr_assert_eq(decompress_mem(g_m, &d, y.p, y.n, &out, NULL, &e), LAC_ERR_CORRUPT);
    cr_assert(strstr(e.msg, "bytes after its last token"), "%s", e.msg);
    tmem_free(&out);
    tmem_free(&y);
    tmem_free(&z);
    tmem_free(&t);
}

/* ---- raw messages ---- */
Test(format2, raw_round_trip_costs_only_the_payload) {
    const char *t[] = {"", "a", "the tree in the rain", "one two three four five six seven"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = strlen(t[i]);
        lac_params p = all_methods(0);
        p.raw = 1;
        lac_stats st;
        tmem z = compress_ok(&p, t[i], n, &st);
        cr_assert_eq(z.n, st.method_packed[LAC_METHOD_MODEL]);
        /* the same text in a .lacz: the raw message is its payload and the end symbol */
        lac_params q = all_methods(0);
        q.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL);
        tmem y = compress_ok(&q, t[i], n, NULL);
        if (n) cr_assert_lt(z.n + 12, y.n, "raw %zu, .lacz %zu", z.n, y.n);
        tmem out;
        lac_error e;
        cr_assert_eq(decompress_mem(g_m, &p, z.p, z.n, &out, NULL, &e), LAC_OK, "%s", e.msg);
        cr_assert_eq(out.n, n);
        cr_assert(n == 0 || memcmp(out.p, t[i], n) == 0);
        tmem_free(&out);
        tmem_free(&y);
        tmem_free(&z);
    }
}

/* Longer than one block (the tiny model's context is 64 tokens): blocks restart the context. */
Test(format2, raw_several_blocks) {
    tmem t = canterbury("fields.c", 700);
    lac_params p = all_methods(0);
    p.raw = 1;
    tmem z = compress_ok(&p, t.p, t.n, NULL);
    tmem out;
    lac_error e;
    cr_assert_eq(decompress_mem(g_m, &p, z.p, z.n, &out, NULL, &e), LAC_OK, "%s", e.msg);
    cr_assert_eq(out.n, t.n);
    cr_assert_eq(memcmp(out.p, t.p, t.n), 0);
    tmem_free(&out);
    tmem_free(&z);
    tmem_free(&t);
}

/* --raw on the decoder checks nothing: garbage decodes to something or is refused as no
 * message, and always ends. */
Test(format2, raw_garbage_ends) {
    lac_params p = all_methods(0);
    p.raw = 1;
    for (int i = 0; i < 20; i++) {
        uint8_t g[6];
        for (int k = 0; k < 6; k++) g[k] = (uint8_t)(i * 41 + k * 13 + 7);
        tmem out;
        lac_error e;
        lac_status s = decompress_mem(g_m, &p, g, sizeof g, &out, NULL, &e);
        cr_assert(s == LAC_OK || s == LAC_ERR_CORRUPT, "%s", e.msg);
        tmem_free(&out);
    }
}

/* An empty input is no raw message (the empty text codes to bytes): it is refused as soon as
 * the decoder has read RAW_PAST_MAX zeros past the end, not after the ~10^5 tokens that a
 * bound from the coder's precision alone allowed (a hang of many minutes on lacgpu). */
Test(format2, raw_empty_input_is_refused) {
    lac_params p = all_methods(0);
    p.raw = 1;
    tmem out;
    lac_error e;
    lac_stats st;
    cr_assert_eq(decompress_mem(g_m, &p, NULL, 0, &out, &st, &e), LAC_ERR_CORRUPT, "%s", e.msg);
    cr_assert(strstr(e.msg, "not a raw message"), "%s", e.msg);
    /* 24 zero bytes are at most 192 bits of what the model's code would say */
    cr_assert_lt(st.tokens, 20000, "%llu tokens decoded from nothing",
                 (unsigned long long)st.tokens);
    tmem_free(&out);
}

/* ---- salvage ---- */
typedef struct reports {
    lac_damage d[64];
    int n;
} reports;
static void on_damage(void *ctx, const lac_damage *d) {
    reports *r = ctx;
    if (r->n < 64) r->d[r->n] = *d;
    r->n++;
}

static tmem salvage_text(void) {
    tmem t = tiny_text(1200);
    uint8_t bin[400];
    for (int i = 0; i < 400; i++) bin[i] = (uint8_t)(i * 37 + 1);
    tmem_write(&t, bin, sizeof bin); /* a classic or stored block in the middle */
    tmem u = tiny_text(900);
    tmem_write(&t, u.p, u.n);
    tmem_free(&u);
    return t;
}

static lac_status salvage(const tmem *z, reports *rep, tmem *out, lac_error *e) {
    lac_params p = all_methods(0);
    p.salvage = 1;
    p.damage = on_damage;
    memset(rep, 0, sizeof *rep);
    p.damage_ctx = rep;
    return decompress_mem(g_m, &p, z->p, z->n, out, NULL, e);
}

/* Damage in any block's payload but the first costs that block alone; its plaintext range is
 * reported. (The first record's check also covers the stream header: salvage_header_*.) */
Test(format2, salvage_each_payload) {
    tmem t = salvage_text();
    lac_params p = all_methods(16);
    p.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL); /* and stored: the binary part */
    lac_stats st;
    tmem z = compress_ok(&p, t.p, t.n, &st);
    rec2 r[512];
    int nr = walk_records(z.p, z.n, 16, r, 512, NULL);
    cr_assert_gt(nr, 10);
    int classic = 0;
    for (int k = 0; k + 1 < nr; k++) {
        classic += r[k].kind == LACZ2_ZSTD || r[k].kind == LACZ2_STORED;
        if (!r[k].packed_len || k == 0) continue;
        z.p[r[k].payload] ^= 0x21;
        reports rep;
        tmem out;
        lac_error e;
        lac_status s = salvage(&z, &rep, &out, &e);
        z.p[r[k].payload] ^= 0x21;
        cr_assert_eq(s, LAC_ERR_CORRUPT, "block %d: %s", k, e.msg);
        cr_assert_eq(rep.n, 1, "block %d: %d reports (%s)", k, rep.n, e.msg);
        cr_assert_eq(rep.d[0].block, (uint64_t)k);
        cr_assert_eq(rep.d[0].file_offset, r[k].off);
        uint64_t a = rep.d[0].plain_offset, len = rep.d[0].plain_len;
        cr_assert_neq(len, UINT64_MAX, "one damaged block: its length is known");
        cr_assert_eq(out.n, t.n - len);
        cr_assert_eq(memcmp(out.p, t.p, a), 0);
        cr_assert_eq(memcmp(out.p + a, t.p + a + len, t.n - a - len), 0);
        tmem_free(&out);
    }
    cr_assert_gt(classic, 0, "want a classic block too");
    tmem_free(&z);
    tmem_free(&t);
}

/* The first record's check covers the stream header too, so when it fails nothing says whether
 * the header (its P, s, T, model identity) or the record was hit. Model blocks decoded with a
 * damaged header's parameters pass their own checks (which cover payloads) and wrote invented
 * text; now each is kept only when its tokens code back to its payload. So a damaged
 * temperature costs the stream's model blocks (the stored and classic ones, which need no
 * header, come back), a damaged first payload or model identity only the first block. Without
 * salvage, a header that names another model is told from damage by the same check. */
static void expect_only_classic(const tmem *z, const rec2 *r, int nr, const tmem *t) {
    reports rep;
    tmem out;
    lac_error e;
    cr_assert_eq(salvage(z, &rep, &out, &e), LAC_ERR_CORRUPT, "%s", e.msg);
    int model = 0;
    size_t want = 0;
    for (int k = 0; k + 1 < nr; k++) {
        model += lacz2_is_model(r[k].kind);
        if (!lacz2_is_model(r[k].kind) && r[k].kind != LACZ2_END) want += r[k].plain_len;
    }
    cr_assert_eq(rep.n, model, "%d reports, %d model blocks", rep.n, model);
    cr_assert_eq(out.n, want, "%zu bytes out, want the %zu of the classic blocks", out.n, want);
    for (int k = 0, at = 0; k + 1 < nr; k++) /* the classic blocks' plaintexts, in order */
        if (!lacz2_is_model(r[k].kind) && r[k].kind != LACZ2_END) {
            cr_assert(memmem(t->p, t->n, out.p + at, r[k].plain_len),
                      "block %d (kind %d, %u bytes at %d of the output) is not from the text", k,
                      r[k].kind, r[k].plain_len, at);
            at += (int)r[k].plain_len;
        }
    tmem_free(&out);
}

static void expect_first_block_lost(const tmem *z, const tmem *t) {
    reports rep;
    tmem out;
    lac_error e;
    cr_assert_eq(salvage(z, &rep, &out, &e), LAC_ERR_CORRUPT, "%s", e.msg);
    cr_assert_eq(rep.n, 1, "%d reports (%s)", rep.n, e.msg);
    cr_assert_eq(rep.d[0].block, 0u);
    const uint64_t len = rep.d[0].plain_len;
    cr_assert_neq(len, UINT64_MAX, "the only damaged block: its length is known");
    cr_assert_eq(out.n, t->n - len);
    cr_assert_eq(memcmp(out.p, t->p + len, out.n), 0, "not the text after the first block");
    tmem_free(&out);
}

Test(format2, salvage_header_not_vouched) {
    tmem t = salvage_text();
    lac_params p = all_methods(48); /* fewer than the 64 damaged blocks salvage takes a stream */
    p.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL); /* and stored: the binary part */
    p.coder.temperature = 0.9f;
    tmem z = compress_ok(&p, t.p, t.n, NULL);
    rec2 r[512];
    size_t hn = 0;
    int nr = walk_records(z.p, z.n, 48, r, 512, &hn);
    cr_assert_eq(hn, 18, "want a header with P, s, T and block_tokens (%zu bytes)", hn);
    cr_assert(lacz2_is_model(r[0].kind));
    z.p[16] ^= 1; /* T's sign and exponent byte: 0.9 -> 0.225 */
    expect_only_classic(&z, r, nr, &t);
    z.p[16] ^= 1;
    z.p[r[0].payload] ^= 1;
    expect_first_block_lost(&z, &t);
    z.p[r[0].payload] ^= 1;
    /* a damaged model identity: named as damage, not as another model */
    z.p[6] ^= 1;
    tmem out;
    lac_error e;
    lac_params d = all_methods(0);
    cr_assert_eq(decompress_mem(g_m, &d, z.p, z.n, &out, NULL, &e), LAC_ERR_CORRUPT, "%s", e.msg);
    cr_assert(strstr(e.msg, "is damaged"), "%s", e.msg);
    tmem_free(&out);
    expect_first_block_lost(&z, &t);
    z.p[6] ^= 1;
    /* another model's file (the identity and its check agree): a model mismatch */
    lac_model *other = tiny_model(8);
    cr_assert_eq(decompress_mem(other, &d, z.p, z.n, &out, NULL, &e), LAC_ERR_MODEL_MISMATCH,
                 "%s", e.msg);
    tmem_free(&out);
    lac_model_close(other);
    tmem_free(&z);
    tmem_free(&t);
}

/* A damaged record tag: the decoder finds the next intact record and goes on. */
Test(format2, salvage_damaged_tag) {
    tmem t = salvage_text();
    lac_params p = all_methods(16);
    p.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL);
    tmem z = compress_ok(&p, t.p, t.n, NULL);
    rec2 r[512];
    int nr = walk_records(z.p, z.n, 16, r, 512, NULL);
    for (int k = 1; k + 2 < nr; k += 5) {
        z.p[r[k].off] ^= 0x44;
        reports rep;
        tmem out;
        lac_error e;
        lac_status s = salvage(&z, &rep, &out, &e);
        z.p[r[k].off] ^= 0x44;
        cr_assert_eq(s, LAC_ERR_CORRUPT, "block %d: %s", k, e.msg);
        cr_assert_eq(rep.n, 1, "block %d: %d reports (%s)", k, rep.n, e.msg);
        uint64_t a = rep.d[0].plain_offset, len = rep.d[0].plain_len;
        cr_assert_eq(a + len <= t.n, 1);
        cr_assert_eq(out.n, t.n - len, "block %d", k);
        cr_assert_eq(memcmp(out.p, t.p, a), 0);
        cr_assert_eq(memcmp(out.p + a, t.p + a + len, t.n - a - len), 0);
        tmem_free(&out);
    }
    tmem_free(&z);
    tmem_free(&t);
}

/* The plaintext range of record k, learnt by damaging it alone (then its length is known). */
static void range_of(tmem *z, const rec2 *r, uint64_t *off, uint64_t *len) {
    reports rep;
    tmem out;
    lac_error e;
    z->p[r->payload] ^= 0x21;
    lac_status s = salvage(z, &rep, &out, &e);
    z->p[r->payload] ^= 0x21;
    cr_assert_eq(s, LAC_ERR_CORRUPT, "%s", e.msg);
    cr_assert_eq(rep.n, 1);
    cr_assert_neq(rep.d[0].plain_len, UINT64_MAX);
    *off = rep.d[0].plain_offset, *len = rep.d[0].plain_len;
    tmem_free(&out);
}

/* Two damaged model blocks with a damaged stored block between them. v2 model blocks record no
 * plaintext length, so the footer's plain_bytes gives only what the two miss together: each
 * is reported with that total and the count; the first one's range starts where it is known,
 * the later ones' original offsets are unknown; every report says where the bytes are
 * missing in the output, in stream order. Without the footer (cut) the total is lost too.
 * With one of the two, the footer gives its length and every offset. */
Test(format2, salvage_two_model_blocks) {
    tmem t = salvage_text();
    lac_params p = all_methods(16);
    p.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL); /* and stored: the binary part */
    tmem z = compress_ok(&p, t.p, t.n, NULL);
    rec2 r[512];
    int nr = walk_records(z.p, z.n, 16, r, 512, NULL);
    int st = 1;
    while (st < nr && r[st].kind != LACZ2_STORED) st++;
    /* two intact records after each damaged one: the decoder then knows the damage was in the
     * payload alone (resync.c) */
    int k[3] = {1, st, st + 3};
    cr_assert(st > 3 && st + 4 < nr && r[k[2]].kind == LACZ2_MODEL_FULL, "want model, stored, model");
    cr_assert_eq(r[1].kind, LACZ2_MODEL_FULL);
    uint64_t off[3], len[3];
    for (int i = 0; i < 3; i++) range_of(&z, &r[k[i]], &off[i], &len[i]);
    reports rep;
    tmem out;
    lac_error e;
    /* one model block and the stored one: the footer gives the model block's length, and so
     * the stored block's original offset too */
    for (int i = 0; i < 2; i++) z.p[r[k[i]].payload] ^= 0x21;
    cr_assert_eq(salvage(&z, &rep, &out, &e), LAC_ERR_CORRUPT, "%s", e.msg);
    cr_assert_eq(rep.n, 2, "%d reports", rep.n);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(rep.d[i].plain_offset, off[i], "one unknown length: report %d's offset", i);
        cr_assert_eq(rep.d[i].plain_len, len[i], "one unknown length: report %d's length", i);
        cr_assert_eq(rep.d[i].unknown_blocks, 0u);
    }
    tmem_free(&out);
    z.p[r[k[2]].payload] ^= 0x21;
    cr_assert_eq(salvage(&z, &rep, &out, &e), LAC_ERR_CORRUPT, "%s", e.msg);
    cr_assert_eq(rep.n, 3, "%d reports", rep.n);
    uint64_t gone = 0;
    for (int i = 0; i < 3; i++) {
        const lac_damage *d = &rep.d[i];
        cr_assert_eq(d->block, (uint64_t)k[i], "report %d is of block %llu", i,
                     (unsigned long long)d->block);
        cr_assert_eq(d->file_offset, r[k[i]].off);
        cr_assert_eq(d->out_offset, off[i] - gone, "report %d: where it is missing in the output", i);
        cr_assert_eq(d->plain_offset, i ? UINT64_MAX : off[0], "report %d: original offset", i);
        const int model = i != 1;
        cr_assert_eq(d->plain_len, model ? UINT64_MAX : len[1], "report %d: length", i);
        cr_assert_eq(d->unknown_len, model ? len[0] + len[2] : 0, "report %d: total", i);
        cr_assert_eq(d->unknown_blocks, model ? 2u : 0u, "report %d", i);
        gone += len[i];
    }
    cr_assert_eq(out.n, t.n - gone);
    for (int i = 0, at = 0; i <= 3; i++) { /* the output is the text without the three ranges */
        uint64_t from = i ? off[i - 1] + len[i - 1] : 0, to = i < 3 ? off[i] : t.n;
        cr_assert_eq(memcmp(out.p + at, t.p + from, to - from), 0, "piece %d differs", i);
        at += (int)(to - from);
    }
    tmem_free(&out);
    /* the footer cut off: the total is unknown too */
    tmem cut = tmem_copy(z.p, r[nr - 1].off);
    cr_assert_eq(salvage(&cut, &rep, &out, &e), LAC_ERR_TRUNCATED, "%s", e.msg);
    cr_assert_eq(rep.n, 3, "%d reports without the footer", rep.n);
    cr_assert_eq(rep.d[0].unknown_len, UINT64_MAX);
    cr_assert_eq(rep.d[2].unknown_blocks, 2u);
    tmem_free(&out);
    tmem_free(&cut);
    tmem_free(&z);
    tmem_free(&t);
}

/* The last block has no check of its own: the stream check catches its damage, and salvage
 * drops it with its length from the footer. */
Test(format2, salvage_last_block) {
    tmem t = tiny_text(300);
    lac_params p = all_methods(16);
    p.methods = LAC_METHOD_BIT(LAC_METHOD_MODEL);
    tmem z = compress_ok(&p, t.p, t.n, NULL);
    rec2 r[512];
    int nr = walk_records(z.p, z.n, 16, r, 512, NULL);
    cr_assert_eq(r[nr - 2].kind, LACZ2_MODEL_LAST);
    z.p[r[nr - 2].payload] ^= 0x10;
    tmem out;
    lac_error e;
    lac_params d = all_methods(0);
    cr_assert_eq(decompress_mem(g_m, &d, z.p, z.n, &out, NULL, &e), LAC_ERR_CORRUPT);
    tmem_free(&out);
    reports rep;
    cr_assert_eq(salvage(&z, &rep, &out, &e), LAC_ERR_CORRUPT, "%s", e.msg);
    cr_assert_eq(rep.n, 1);
    cr_assert_eq(rep.d[0].plain_offset + rep.d[0].plain_len, t.n);
    cr_assert_eq(out.n, rep.d[0].plain_offset);
    cr_assert_eq(memcmp(out.p, t.p, out.n), 0);
    tmem_free(&out);
    tmem_free(&z);
    tmem_free(&t);
}

/* A binary file with runs that look like text (an executable's strings) is cut into several
 * segments; when one classic record of the whole window is smaller, it is chosen: never worse
 * than the best classic codec plus the framing. */
Test(format2, mixed_window_never_worse_than_classic) {
    tmem t = canterbury("sum", 1 << 20);
    lac_params p = all_methods(0);
    lac_stats st;
    tmem z = compress_ok(&p, t.p, t.n, &st);
    uint8_t *out = malloc(t.n);
    int method = 0;
    size_t len = 0;
    lac_error e;
    cr_assert_eq(lacz_codec_best(LACZ_METHODS_CLASSIC, t.p, t.n, out, t.n, &method, &len, &e),
                 LAC_OK, "%s", e.msg);
    /* 12 header, 3 tag, 3 plain_len, 2 check, 1 end, 3 plain_bytes, 4 check */
    cr_assert_leq(z.n, len + 28, "%zu bytes, the best classic codec %zu", z.n, len);
    expect_round_trip(&z, t.p, t.n);
    free(out);
    tmem_free(&z);
    tmem_free(&t);
}
