/* Hostile inputs: headers whose checks are valid but whose fields lie. No count or length in a
 * .lacz file, a model file, a safetensors header or a config.json may make a reader allocate
 * without bound or loop: each is checked against the model, the input size or a documented cap
 * (docs/FORMAT.md "Caps", docs/MODEL_FORMAT.md) before use, and refused with a one-line
 * message naming the field and the offset. Also: a corrupted model file is caught by its
 * identity hash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hf_internal.h"
#include "lac.h"
#include "lacz_testutil.h"
#include "model.h"
#include "model_file.h"

static lac_model *g_m;

static void setup(void) {
    g_m = tiny_model(7);
    cr_assert(g_m);
}
static void teardown(void) { lac_model_close(g_m); }

TestSuite(hostile, .init = setup, .fini = teardown);

static const char k_text[] =
    "the tree in the rain, and then the sun shone on the hill. she said that the old "
    "stone house on the north road had stood there since the last time it snowed.\n";

/* A valid file of several coded blocks (16 tokens each). */
static tmem valid_file(void) {
    lac_params p;
    tiny_params(&p, 16, 1);
    tmem z;
    lac_error err;
    cr_assert_eq(compress_mem_v1(g_m, &p, k_text, sizeof k_text - 1, &z, &err), LAC_OK, "%s", err.msg);
    return z;
}

/* Decodes z with n_streams streams; checks status, that the message names `field` and an
 * offset, and that nothing was written on failure. lac_list must refuse it too when
 * list_too. */
static void expect_refused(const tmem *z, int streams, lac_status want, const char *field,
                           int list_too) {
    lac_params p;
    tiny_params(&p, 16, streams);
    tmem out;
    lac_error err;
    lac_status s = decompress_mem(g_m, &p, z->p, z->n, &out, NULL, &err);
    cr_assert_eq(s, want, "status %s, expected %s: %s", lac_status_name(s),
                 lac_status_name(want), err.msg);
    cr_assert(strstr(err.msg, field), "message does not name '%s': %s", field, err.msg);
    cr_assert(strstr(err.msg, "offset"), "message has no offset: %s", err.msg);
    cr_assert(!strchr(err.msg, '\n'));
    tmem_free(&out);
    if (list_too) {
        lac_file_info info;
        s = list_mem(z->p, z->n, &info, &err);
        cr_assert_neq(s, LAC_OK, "lac_list accepted it");
        cr_assert(strstr(err.msg, "offset"), "list message has no offset: %s", err.msg);
    }
}

/* ---- .lacz stream header ------------------------------------------------------------------ */
static void set_header_field(tmem *z, size_t off, uint32_t v) {
    wr32(z->p + off, v);
    reseal_header(z->p);
}

Test(hostile, header_block_tokens_zero) {
    tmem z = valid_file();
    set_header_field(&z, 28, 0);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "block_tokens", 1);
    tmem_free(&z);
}

Test(hostile, header_block_tokens_beyond_cap) {
    tmem z = valid_file();
    set_header_field(&z, 28, 65537);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "block_tokens", 1);
    set_header_field(&z, 28, 0xFFFFFFFFu);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "block_tokens", 1);
    tmem_free(&z);
}

/* Within the format's cap but beyond the model's context: the decoder refuses it (a block of
 * more tokens than n_ctx cannot be decoded), lac_list (no model) accepts it. */
Test(hostile, header_block_tokens_beyond_model_context) {
    tmem z = valid_file();
    set_header_field(&z, 28, 65);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "block_tokens", 0);
    tmem_free(&z);
}

Test(hostile, header_coder_params) {
    tmem z = valid_file();
    set_header_field(&z, 16, 27);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "precision", 1);
    set_header_field(&z, 16, 30);
    set_header_field(&z, 20, 13);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "fraction bits", 1);
    set_header_field(&z, 20, 12);
    set_header_field(&z, 24, 0x7FC00000u); /* NaN */
    expect_refused(&z, 1, LAC_ERR_FORMAT, "temperature", 1);
    set_header_field(&z, 24, 0x7F800000u); /* +inf */
    expect_refused(&z, 1, LAC_ERR_FORMAT, "temperature", 1);
    tmem_free(&z);
}

Test(hostile, header_versions_and_flags) {
    tmem z = valid_file();
    set_header_field(&z, 12, 1);
    expect_refused(&z, 1, LAC_ERR_VERSION, "flags", 1);
    set_header_field(&z, 12, 0);
    set_header_field(&z, 8, 99);
    expect_refused(&z, 1, LAC_ERR_VERSION, "numerics", 1);
    set_header_field(&z, 8, LAC_NUMERICS_VERSION);
    set_header_field(&z, 4, 3); /* 2 would be read as a version 2 header */
    expect_refused(&z, 1, LAC_ERR_VERSION, "version", 1);
    tmem_free(&z);
}

/* ---- block headers ------------------------------------------------------------------------- */
static tmem file_with_block_field(size_t field, uint32_t v, uint8_t type) {
    tmem z = valid_file();
    rec_block b[16];
    int nb = walk_blocks(z.p, z.n, b, 16, NULL);
    cr_assert_gt(nb, 1);
    uint8_t *h = z.p + b[0].off;
    if (type) h[0] = type;
    if (field) wr32(h + field, v);
    reseal_block(h);
    return z;
}

Test(hostile, coded_token_count) {
    tmem z = file_with_block_field(4, 0, 0);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "token count", 1);
    tmem_free(&z);
    z = file_with_block_field(4, 17, 0); /* > block_tokens */
    expect_refused(&z, 1, LAC_ERR_FORMAT, "token count", 1);
    tmem_free(&z);
    z = file_with_block_field(4, 0xFFFFFFFFu, 0);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "token count", 1);
    tmem_free(&z);
}

Test(hostile, plain_len_beyond_cap) {
    tmem z = file_with_block_field(8, (1u << 24) + 1, 0);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "plaintext length", 1);
    tmem_free(&z);
    z = valid_file(); /* a stored block of 4 GiB */
    rec_block b[16];
    walk_blocks(z.p, z.n, b, 16, NULL);
    uint8_t *h = z.p + b[0].off;
    h[0] = LACZ_BLOCK_STORED;
    wr32(h + 4, 0);
    wr32(h + 8, 0xFFFFFFFFu);
    wr32(h + 12, 0xFFFFFFFFu);
    reseal_block(h);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "plaintext length", 1);
    tmem_free(&z);
}

/* A coded block cannot hold more plaintext than its tokens can spell: plain_len is checked
 * against n_tokens x the model's longest token before anything is allocated. (Before this
 * check a 28-byte header made each of the B decoding streams reserve 16 MiB.) */
Test(hostile, coded_plain_len_beyond_the_model) {
    tmem z = file_with_block_field(8, 1u << 24, 0);
    expect_refused(&z, 64, LAC_ERR_FORMAT, "plaintext length", 0);
    tmem_free(&z);
}

Test(hostile, packed_len) {
    tmem z = file_with_block_field(12, 0xFFFFFFFFu, 0);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "packed length", 1);
    tmem_free(&z);
    z = file_with_block_field(12, 4 * 16 + 17, 0); /* above 4 n + 16 */
    expect_refused(&z, 1, LAC_ERR_FORMAT, "packed length", 1);
    tmem_free(&z);
}

/* A stored block claiming the 16 MiB cap in a short input: truncated, nothing written. */
Test(hostile, stored_block_longer_than_input) {
    tmem z = valid_file();
    rec_block b[16];
    walk_blocks(z.p, z.n, b, 16, NULL);
    uint8_t *h = z.p + b[0].off;
    h[0] = LACZ_BLOCK_STORED;
    wr32(h + 4, 0);
    wr32(h + 8, 1u << 24);
    wr32(h + 12, 1u << 24);
    reseal_block(h);
    expect_refused(&z, 1, LAC_ERR_TRUNCATED, "stored block", 1);
    tmem_free(&z);
}

Test(hostile, unknown_block_type_and_reserved) {
    tmem z = file_with_block_field(0, 0, 'X');
    expect_refused(&z, 1, LAC_ERR_FORMAT, "type", 1);
    tmem_free(&z);
    z = valid_file();
    rec_block b[16];
    walk_blocks(z.p, z.n, b, 16, NULL);
    z.p[b[0].off + 2] = 1;
    reseal_block(z.p + b[0].off);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "reserved", 1);
    tmem_free(&z);
}

/* Footer totals that disagree with the blocks: corrupt, in both the reader and the lister. */
Test(hostile, footer_totals) {
    for (int field = 0; field < 2; field++) {
        tmem z = valid_file();
        size_t foot = 0;
        cr_assert_gt(walk_blocks(z.p, z.n, NULL, 0, &foot), 0);
        uint8_t *f = z.p + foot;
        f[8 * field] ^= 1;
        reseal_footer(f);
        expect_refused(&z, 1, LAC_ERR_CORRUPT, "footer", 1);
        tmem_free(&z);
    }
}

/* A payload whose decoding produces the end-of-text token or overruns plain_len stops at once
 * (the block is damaged), never loops or writes. Every payload byte value is tried in the
 * first block. */
Test(hostile, garbage_payload_never_runs_away) {
    tmem z = valid_file();
    rec_block b[16];
    walk_blocks(z.p, z.n, b, 16, NULL);
    uint8_t *pay = z.p + b[0].off + LACZ_BLOCK_HEADER_SIZE;
    for (int v = 0; v < 256; v += 15) {
        memset(pay, v, b[0].packed_len);
        lac_params p;
        tiny_params(&p, 16, 1);
        tmem out;
        lac_error err;
        lac_status s = decompress_mem(g_m, &p, z.p, z.n, &out, NULL, &err);
        cr_assert_eq(s, LAC_ERR_CORRUPT, "byte 0x%02x: %s", v, err.msg);
        cr_assert(strstr(err.msg, "offset"), "%s", err.msg);
        cr_assert_eq(out.n, 0);
        tmem_free(&out);
    }
    tmem_free(&z);
}

/* Trailing data after a stream: garbage is a format error, a partial magic is truncation. */
Test(hostile, trailing_data) {
    tmem z = valid_file();
    size_t n = z.n;
    tmem_write(&z, "garbage!", 8);
    expect_refused(&z, 1, LAC_ERR_FORMAT, "trailing", 0);
    z.n = n;
    static const uint8_t magic2[2] = {LACZ_MAGIC_0, LACZ_MAGIC_1};
    tmem_write(&z, magic2, 2);
    expect_refused(&z, 1, LAC_ERR_TRUNCATED, "magic", 0);
    tmem_free(&z);
}

Test(hostile, other_model) {
    tmem z = valid_file();
    lac_model *other = tiny_model(8);
    cr_assert(other);
    lac_params p;
    tiny_params(&p, 16, 1);
    tmem out;
    lac_error err;
    lac_status s = decompress_mem(other, &p, z.p, z.n, &out, NULL, &err);
    cr_assert_eq(s, LAC_ERR_MODEL_MISMATCH, "%s", err.msg);
    cr_assert(strstr(err.msg, "tiny-test"), "names the model: %s", err.msg);
    tmem_free(&out);
    lac_model_close(other);
    tmem_free(&z);
}

/* ---- model files ---------------------------------------------------------------------- */
typedef struct img {
    uint8_t *p;
    size_t n;
} img;

static img model_image(void) {
    img m;
    m.n = (size_t)lac_model_file_size(g_m);
    m.p = aligned_alloc(64, (m.n + 63) / 64 * 64);
    cr_assert(m.p);
    memcpy(m.p, g_m->owned_extra, m.n);
    return m;
}

static void reseal_model(img *m) {
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_Digest(m->p, LACM_H_CHECK, d, &dl, EVP_sha256(), NULL);
    memcpy(m->p + LACM_H_CHECK, d, 8);
}

static void expect_model_refused(img *m, size_t size, lac_status want, const char *field,
                                 int want_offset) {
    lac_model *x = calloc(1, sizeof *x);
    lac_error err;
    lac_status s = lacm_parse(m->p, size, "hostile.lacm", x, &err);
    cr_assert_eq(s, want, "status %s, expected %s: %s", lac_status_name(s),
                 lac_status_name(want), err.msg);
    cr_assert(strstr(err.msg, "hostile.lacm"), "names the file: %s", err.msg);
    cr_assert(strstr(err.msg, field), "message does not name '%s': %s", field, err.msg);
    if (want_offset) cr_assert(strstr(err.msg, "offset"), "no offset: %s", err.msg);
    lac_model_close(x);
}

static void set_model32(img *m, size_t off, uint32_t v) {
    lac_le_put32(m->p + off, v);
    reseal_model(m);
}
static void set_model64(img *m, size_t off, uint64_t v) {
    lac_le_put64(m->p + off, v);
    reseal_model(m);
}

Test(hostile, model_header_caps) {
    static const struct {
        size_t off;
        uint32_t v;
        const char *field;
    } cases[] = {{LACM_H_N_LAYER, 1000000, "n_layer"},   {LACM_H_N_HEAD, 0xFFFFFFFFu, "n_head"},
                 {LACM_H_N_EMBD, 1u << 20, "n_embd"},    {LACM_H_N_CTX, 1u << 30, "n_ctx"},
                 {LACM_H_VOCAB, 1u << 23, "vocab_size"}, {LACM_H_N_INNER, 1u << 20, "n_inner"},
                 {LACM_H_N_MERGES, 1u << 23, "n_merges"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        img m = model_image();
        set_model32(&m, cases[i].off, cases[i].v);
        expect_model_refused(&m, m.n, LAC_ERR_LIMIT, cases[i].field, 1);
        free(m.p);
    }
    img m = model_image();
    set_model64(&m, LACM_H_TOK_BYTES_LEN, 1ull << 40);
    expect_model_refused(&m, m.n, LAC_ERR_LIMIT, "tok_bytes_len", 1);
    free(m.p);
}

/* Shapes within the caps but far bigger than the file: refused by the section checks before
 * any allocation (a 16384-wide model of this vocabulary would need 20 MB of wte alone). */
Test(hostile, model_shapes_beyond_the_file) {
    img m = model_image();
    set_model32(&m, LACM_H_N_EMBD, 16384);
    set_model32(&m, LACM_H_N_HEAD, 1);
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "wte", 1);
    free(m.p);
}

Test(hostile, model_sizes_and_sections) {
    img m = model_image();
    set_model64(&m, LACM_H_FILE_SIZE, (uint64_t)m.n + 64);
    expect_model_refused(&m, m.n, LAC_ERR_TRUNCATED, "file_size", 1);
    set_model64(&m, LACM_H_FILE_SIZE, m.n);
    expect_model_refused(&m, m.n - 64, LAC_ERR_TRUNCATED, "truncated", 1); /* cut file */
    set_model64(&m, LACM_H_FILE_SIZE, (uint64_t)m.n - 64);
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "trailing data", 1);
    free(m.p);

    m = model_image();
    set_model64(&m, LACM_H_TOK_OFF, 1ull << 62);
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "tok_off", 1);
    free(m.p);
    m = model_image();
    set_model64(&m, LACM_H_DIR, lac_le_get64(m.p + LACM_H_MERGES)); /* overlaps the merges */
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "tensor directory", 1);
    free(m.p);
    m = model_image();
    set_model64(&m, LACM_H_DATA, UINT64_MAX - 63);
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "tensor data", 1);
    free(m.p);
}

/* Vocabulary tables with a valid header check but impossible contents. (The identity hash
 * covers them too; these checks come first and name the offset.) */
Test(hostile, model_vocab_tables) {
    img m = model_image();
    uint64_t tok = lac_le_get64(m.p + LACM_H_TOK_OFF);
    lac_le_put32(m.p + tok + 4 * 5, lac_le_get32(m.p + tok + 4 * 4)); /* an empty token */
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "tok_off[5]", 1);
    free(m.p);
    m = model_image();
    tok = lac_le_get64(m.p + LACM_H_TOK_OFF);
    lac_le_put32(m.p + tok + 4 * 7, 0xFFFFFFF0u);
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "tok_off[7]", 1);
    free(m.p);
    m = model_image();
    uint64_t mg = lac_le_get64(m.p + LACM_H_MERGES);
    cr_assert_gt(lac_le_get32(m.p + LACM_H_N_MERGES), 0);
    lac_le_put32(m.p + mg, 300); /* = vocab_size */
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "merge", 1);
    free(m.p);
}

Test(hostile, model_directory_entry) {
    img m = model_image();
    uint64_t dir = lac_le_get64(m.p + LACM_H_DIR);
    lac_le_put64(m.p + dir + LACM_E_NBYTES, 1ull << 60);
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "nbytes", 1);
    free(m.p);
    m = model_image();
    dir = lac_le_get64(m.p + LACM_H_DIR);
    lac_le_put64(m.p + dir + LACM_DIR_ENTRY_SIZE + LACM_E_OFFSET, 1ull << 62);
    expect_model_refused(&m, m.n, LAC_ERR_FORMAT, "wpe", 1);
    free(m.p);
}

/* Damage the identity hash covers: any flipped weight or vocabulary byte of a model file is
 * caught at open (LAC_ERR_CORRUPT), through the real mmap path. */
Test(hostile, corrupted_model_file_is_caught_by_the_identity_hash) {
    img m = model_image();
    uint64_t data = lac_le_get64(m.p + LACM_H_DATA), tb = lac_le_get64(m.p + LACM_H_TOK_BYTES);
    size_t spots[3] = {(size_t)data + 5, (size_t)m.n - 1, (size_t)tb + 3};
    for (int i = 0; i < 3; i++) {
        char path[] = "/tmp/lac_hostile_XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        m.p[spots[i]] ^= 0x10;
        cr_assert_eq(write(fd, m.p, m.n), (ssize_t)m.n);
        close(fd);
        m.p[spots[i]] ^= 0x10;
        lac_model *x = NULL;
        lac_error err;
        lac_status s = lac_model_open(path, &x, &err);
        unlink(path);
        cr_assert_eq(s, LAC_ERR_CORRUPT, "byte %zu: %s", spots[i], err.msg);
        cr_assert(strstr(err.msg, "identity hash"), "%s", err.msg);
        cr_assert_null(x);
    }
    free(m.p);
}

/* ---- safetensors and config.json ----------------------------------------------------------- */
static lac_status st_check(const char *json, size_t data_len, uint64_t hdr_len_override,
                           lac_error *err) {
    size_t jn = strlen(json);
    uint8_t *b = calloc(8 + jn + data_len, 1);
    lac_le_put64(b, hdr_len_override ? hdr_len_override : jn);
    memcpy(b + 8, json, jn);
    size_t nt;
    lac_status s = lac_hf_check_safetensors(b, 8 + jn + data_len, "x.safetensors", &nt, err);
    free(b);
    return s;
}

Test(hostile, safetensors_header_length) {
    lac_error err;
    cr_assert_eq(st_check("{}", 0, 1ull << 40, &err), LAC_ERR_TRUNCATED);
    cr_assert(strstr(err.msg, "header length"), "%s", err.msg);
    cr_assert_eq(st_check("{}", 0, UINT64_MAX, &err), LAC_ERR_TRUNCATED);
    uint8_t seven[7] = {0};
    cr_assert_eq(lac_hf_check_safetensors(seven, 7, "x.safetensors", NULL, &err), LAC_ERR_TRUNCATED);
}

Test(hostile, safetensors_entries) {
    lac_error err;
    cr_assert_eq(st_check("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
                          16, 0, &err), LAC_OK, "%s", err.msg);
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 17]}}", "data_offsets"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [5], \"data_offsets\": [0, 16]}}", "data_offsets"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967295, 4294967295, 4294967295], "
         "\"data_offsets\": [0, 16]}}", "data_offsets"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [-4], \"data_offsets\": [0, 16]}}", "shape"},
        {"{\"a\": {\"dtype\": \"F33\", \"shape\": [4], \"data_offsets\": [0, 16]}}", "dtype"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [1e300, 16]}}", "data_offsets"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4]}}", "data_offsets"},
        {"{\"a\": 5}", "malformed"},
        {"[1, 2]", "JSON"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}", "JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lac_status s = st_check(bad[i].json, 16, 0, &err);
        cr_assert_eq(s, LAC_ERR_FORMAT, "case %zu: %s", i, err.msg);
        cr_assert(strstr(err.msg, bad[i].field), "case %zu names %s: %s", i, bad[i].field, err.msg);
        cr_assert(strstr(err.msg, "x.safetensors"), "%s", err.msg);
    }
}

/* Regression (found by fuzz_safetensors): an overlap hidden behind an empty tensor that sorts
 * between the two was accepted. */
Test(hostile, safetensors_overlap_behind_empty_tensor) {
    lac_error err;
    lac_status s = st_check("{\"a\": {\"dtype\": \"U8\", \"shape\": [100], \"data_offsets\": [0, 100]},"
                            " \"b\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [10, 10]},"
                            " \"c\": {\"dtype\": \"U8\", \"shape\": [10], \"data_offsets\": [50, 60]}}",
                            100, 0, &err);
    cr_assert_eq(s, LAC_ERR_FORMAT, "%s", err.msg);
    cr_assert(strstr(err.msg, "overlapping"), "%s", err.msg);
    s = st_check("{\"a\": {\"dtype\": \"U8\", \"shape\": [50], \"data_offsets\": [0, 50]},"
                 " \"b\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [50, 50]},"
                 " \"c\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [20, 20]},"
                 " \"d\": {\"dtype\": \"U8\", \"shape\": [50], \"data_offsets\": [50, 100]}}",
                 100, 0, &err);
    cr_assert_eq(s, LAC_OK, "adjacent and empty tensors are fine: %s", err.msg);
}

Test(hostile, config_json) {
    static const struct {
        const char *json, *field;
        lac_status want;
    } cases[] = {
        {"{\"n_layer\": 1000000, \"n_head\": 1, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 300}",
         "n_layer", LAC_ERR_LIMIT},
        {"{\"n_layer\": 1, \"n_head\": 1, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 1e12}",
         "vocab_size", LAC_ERR_FORMAT},
        {"{\"n_layer\": -1, \"n_head\": 1, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 300}",
         "n_layer", LAC_ERR_FORMAT},
        {"{\"n_layer\": 1, \"n_head\": 3, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 300}",
         "n_head", LAC_ERR_UNSUPPORTED},
        {"{\"n_layer\": 1, \"n_head\": 0, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 300}",
         "n_head", LAC_ERR_UNSUPPORTED},
        {"{\"n_layer\": 1, \"n_head\": 1, \"n_embd\": 8, \"n_positions\": 1e9, \"vocab_size\": 300}",
         "n_ctx", LAC_ERR_LIMIT},
        {"{\"n_layer\": 1, \"n_head\": 1, \"n_embd\": 4294967295, \"n_positions\": 8, "
         "\"vocab_size\": 300}", "n_embd", LAC_ERR_LIMIT},
        {"{\"n_layer\": 1, \"n_head\": 1, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 300, "
         "\"eos_token_id\": 300}", "eot_token", LAC_ERR_FORMAT},
        {"{\"n_layer\": 1, \"n_head\": 1, \"n_embd\": 8, \"n_positions\": 8, \"vocab_size\": 300, "
         "\"layer_norm_epsilon\": 1e300}", "ln_eps", LAC_ERR_FORMAT},
        {"{\"n_layer\": 1}", "n_head", LAC_ERR_FORMAT},
        {"{\"n_layer\": 1,", "JSON", LAC_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lac_model_config c;
        lac_error err;
        lac_status s = lac_hf_parse_config(cases[i].json, strlen(cases[i].json), "config.json",
                                           &c, &err);
        cr_assert_eq(s, cases[i].want, "case %zu: %s", i, err.msg);
        cr_assert(strstr(err.msg, cases[i].field), "case %zu names %s: %s", i, cases[i].field,
                  err.msg);
    }
}

/* ---- tokenizer ------------------------------------------------------------------------------ */
/* Regression (found by fuzz_tokenizer under clang's UBSan): feeding (NULL, 0), which the API
 * allows, did pointer arithmetic on NULL. It must be a no-op, final or not. */
Test(hostile, tokenizer_feed_null_and_empty) {
    lac_tokenizer *tk;
    lac_error err;
    cr_assert_eq(lac_tokenizer_create(g_m, &tk, &err), LAC_OK, "%s", err.msg);
    lac_tokens a = {0}, b = {0};
    static const char x[] = "the rain in the tree";
    cr_assert_eq(lac_tokenizer_feed(tk, NULL, 0, 0, &a, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_tokenizer_feed(tk, x, sizeof x - 1, 0, &a, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_tokenizer_feed(tk, NULL, 0, 0, &a, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_tokenizer_feed(tk, NULL, 0, 1, &a, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_tokenizer_feed(tk, x, sizeof x - 1, 1, &b, &err), LAC_OK, "%s", err.msg);
    cr_assert_gt(b.n, 0);
    cr_assert_eq(a.n, b.n);
    cr_assert_arr_eq(a.ids, b.ids, b.n * sizeof *b.ids);
    cr_assert_eq(lac_tokenizer_feed(tk, NULL, 1, 1, &a, &err), LAC_ERR_ARG);
    lac_tokens_free(&a);
    lac_tokens_free(&b);
    lac_tokenizer_free(tk);
}

/* ---- the public API's arguments (a QA pass's findings) ------------------------------------ */
/* A device outside the enum is refused: -1 used to select the multi-device backend, whose
 * forward calls then returned LAC_OK without computing anything. */
Test(hostile, engine_device_out_of_range) {
    const int bad[] = {-1, -2, 4, 42};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lac_engine_options o = {.device = (lac_device)bad[i], .n_streams = 1};
        lac_engine *e = (lac_engine *)&o;
        lac_error err;
        cr_assert_eq(lac_engine_create(g_m, &o, &e, &err), LAC_ERR_ARG, "device %d: %s", bad[i],
                     err.msg);
        cr_assert_null(e);
        cr_assert(strstr(err.msg, "unknown device"), "%s", err.msg);
    }
    lac_params p;
    tiny_params(&p, 8, 1);
    p.engine.device = (lac_device)-1;
    tmem z;
    lac_error err;
    cr_assert_eq(compress_mem(g_m, &p, k_text, sizeof k_text - 1, &z, &err), LAC_ERR_ARG, "%s",
                 err.msg);
    tmem_free(&z);
}

/* Negative stream counts are refused by the stream functions too, as by lac_engine_create. */
Test(hostile, negative_stream_count) {
    lac_params p;
    tiny_params(&p, 8, 1);
    p.engine.n_streams = -5;
    tmem z, out;
    lac_error err;
    cr_assert_eq(compress_mem(g_m, &p, k_text, sizeof k_text - 1, &z, &err), LAC_ERR_ARG, "%s",
                 err.msg);
    tmem_free(&z);
    tmem v = valid_file();
    cr_assert_eq(decompress_mem(g_m, &p, v.p, v.n, &out, NULL, &err), LAC_ERR_ARG, "%s", err.msg);
    tmem_free(&out);
    tmem_free(&v);
}

/* lac.h: msg is "" when the result is LAC_OK, also in an error reused after a failure. */
Test(hostile, error_cleared_on_success) {
    lac_error err;
    lac_model *m = NULL;
    cr_assert_neq(lac_model_open("/nonexistent/x.lacm", &m, &err), LAC_OK);
    cr_assert_neq(err.msg[0], '\0');
    lac_tokenizer *tk = NULL;
    cr_assert_eq(lac_tokenizer_create(g_m, &tk, &err), LAC_OK);
    cr_assert_eq(err.code, LAC_OK);
    cr_assert_str_eq(err.msg, "");
    lac_tokenizer_free(tk);
    lac_coder_params bad = {0}, good;
    lac_params q;
    lac_params_default(&q);
    good = q.coder;
    bad.precision = 99;
    cr_assert_neq(lac_coder_params_check(&bad, &err), LAC_OK);
    cr_assert_eq(lac_coder_params_check(&good, &err), LAC_OK);
    cr_assert_str_eq(err.msg, "");
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_streams = -1};
    lac_engine *e = NULL;
    cr_assert_neq(lac_engine_create(g_m, &o, &e, &err), LAC_OK);
    o.n_streams = 1;
    cr_assert_eq(lac_engine_create(g_m, &o, &e, &err), LAC_OK, "%s", err.msg);
    cr_assert_str_eq(err.msg, "");
    lac_engine_free(e);
}

/* lac_model_token_bytes with no room for the length: the bytes, no crash. */
Test(hostile, token_bytes_without_length) {
    cr_assert_not_null(lac_model_token_bytes(g_m, 1, NULL));
    cr_assert_null(lac_model_token_bytes(g_m, 0xffffffffu, NULL));
}
