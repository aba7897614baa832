/* .lacz records (coder/container.c): round trips and the error of every bad field. */
#include <criterion/criterion.h>
#include <string.h>

#include "container.h"

static void reseal(uint8_t *rec, size_t body) {
    uint8_t h[32];
    cr_assert_eq(lacz_sha256(rec, body, h), 0);
    memcpy(rec + body, h, 4); /* little-endian u32 of the first 4 bytes = the bytes themselves */
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void make_header(lacz_header *h, uint8_t rec[LACZ_HEADER_SIZE]) {
    lac_coder_params c = {30, 12, 1.0f};
    uint8_t hash[32];
    for (int i = 0; i < 32; i++) hash[i] = (uint8_t)(i * 7 + 1);
    lacz_header_init(h, &c, 1024, hash, "lac-tiny");
    lacz_header_write(h, rec);
}

Test(container, magic_is_not_utf8) {
    uint8_t rec[LACZ_HEADER_SIZE];
    lacz_header h;
    make_header(&h, rec);
    cr_assert_eq(rec[0], 0x32);
    cr_assert_eq(rec[1], 0x82); /* a continuation byte after ASCII: invalid UTF-8 */
    cr_assert_eq(rec[2], 0xC2);
    cr_assert_eq(rec[3], 0x5A);
    cr_assert(lacz_is_magic(rec, 4));
    cr_assert_not(lacz_is_magic(rec, 3));
}

Test(container, header_round_trip) {
    uint8_t rec[LACZ_HEADER_SIZE];
    lacz_header h, g;
    make_header(&h, rec);
    lac_error err;
    cr_assert_eq(lacz_header_parse(rec, 0, &g, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(g.format_version, LACZ_V1_VERSION);
    cr_assert_eq(g.numerics_version, LAC_NUMERICS_VERSION);
    cr_assert_eq(g.flags, 0);
    cr_assert_eq(g.coder.precision, 30);
    cr_assert_eq(g.coder.frac_bits, 12);
    cr_assert_eq(g.coder.temperature, 1.0f);
    cr_assert_eq(g.block_tokens, 1024);
    cr_assert_eq(memcmp(g.model_hash, h.model_hash, 32), 0);
    cr_assert_str_eq(g.model_name, "lac-tiny");
    /* the layout is fixed: P at 16, block_tokens at 28, name at 64 */
    cr_assert_eq(rec[16], 30);
    cr_assert_eq(rec[28], 0x00);
    cr_assert_eq(rec[29], 0x04);
    cr_assert_eq(memcmp(rec + 64, "lac-tiny", 9), 0);
}

/* Sets a u32 at off, reseals, and expects code with a message containing word. */
static void bad_u32(size_t off, uint32_t v, lac_status code, const char *word) {
    uint8_t rec[LACZ_HEADER_SIZE];
    lacz_header h;
    make_header(&h, rec);
    put32(rec + off, v);
    reseal(rec, 128);
    lac_error err;
    lac_status s = lacz_header_parse(rec, 0, &h, &err);
    cr_assert_eq(s, code, "offset %zu value %u: got %s (%s)", off, v, lac_status_name(s), err.msg);
    cr_assert(strstr(err.msg, word), "message '%s' lacks '%s'", err.msg, word);
}

Test(container, header_bad_fields) {
    bad_u32(4, 2, LAC_ERR_VERSION, "format version 2");
    bad_u32(4, 0, LAC_ERR_VERSION, "format version 0");
    bad_u32(8, LAC_NUMERICS_VERSION + 1, LAC_ERR_VERSION, "numerics version");
    bad_u32(12, 1, LAC_ERR_VERSION, "flags");
    bad_u32(12, 0x80000000u, LAC_ERR_VERSION, "flags");
    bad_u32(16, 27, LAC_ERR_FORMAT, "precision");
    bad_u32(16, 32, LAC_ERR_FORMAT, "precision");
    bad_u32(20, 7, LAC_ERR_FORMAT, "fraction bits");
    bad_u32(20, 13, LAC_ERR_FORMAT, "fraction bits");
    bad_u32(24, 0x00000000u, LAC_ERR_FORMAT, "temperature");  /* 0.0 */
    bad_u32(24, 0xbf800000u, LAC_ERR_FORMAT, "temperature");  /* -1.0 */
    bad_u32(24, 0x7fc00000u, LAC_ERR_FORMAT, "temperature");  /* NaN */
    bad_u32(24, 0x7f800000u, LAC_ERR_FORMAT, "temperature");  /* +inf */
    bad_u32(28, 0, LAC_ERR_FORMAT, "block_tokens");
    bad_u32(28, LACZ_MAX_BLOCK_TOKENS + 1, LAC_ERR_FORMAT, "block_tokens");
}

Test(container, header_future_version_before_check) {
    /* a future version is reported as such even though its layout (and check) differ */
    uint8_t rec[LACZ_HEADER_SIZE];
    lacz_header h;
    make_header(&h, rec);
    put32(rec + 4, 9);
    lac_error err;
    cr_assert_eq(lacz_header_parse(rec, 0, &h, &err), LAC_ERR_VERSION);
    cr_assert(strstr(err.msg, "version 9"), "%s", err.msg);
}

Test(container, header_name_rules) {
    uint8_t rec[LACZ_HEADER_SIZE];
    lacz_header h;
    lac_error err;
    make_header(&h, rec);
    memset(rec + 64, 'a', 64); /* no NUL */
    reseal(rec, 128);
    cr_assert_eq(lacz_header_parse(rec, 0, &h, &err), LAC_ERR_FORMAT);
    cr_assert(strstr(err.msg, "NUL"), "%s", err.msg);
    make_header(&h, rec);
    rec[64 + 20] = 'x'; /* garbage after the terminator */
    reseal(rec, 128);
    cr_assert_eq(lacz_header_parse(rec, 0, &h, &err), LAC_ERR_FORMAT);
    cr_assert(strstr(err.msg, "padding"), "%s", err.msg);
    make_header(&h, rec);
    rec[65] = '\n';
    reseal(rec, 128);
    cr_assert_eq(lacz_header_parse(rec, 0, &h, &err), LAC_ERR_FORMAT);
    /* a long name is cut to 63 bytes by init */
    lac_coder_params c = {30, 12, 1.0f};
    uint8_t hash[32] = {0};
    char longname[100];
    memset(longname, 'n', 99);
    longname[99] = 0;
    lacz_header_init(&h, &c, 8, hash, longname);
    lacz_header_write(&h, rec);
    cr_assert_eq(lacz_header_parse(rec, 0, &h, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(strlen(h.model_name), 63);
}

Test(container, header_every_bit_flip_is_caught) {
    uint8_t rec[LACZ_HEADER_SIZE], bad[LACZ_HEADER_SIZE];
    lacz_header h;
    make_header(&h, rec);
    lac_error err;
    for (size_t i = 0; i < LACZ_HEADER_SIZE * 8; i++) {
        memcpy(bad, rec, sizeof bad);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        lac_status s = lacz_header_parse(bad, 0, &h, &err);
        cr_assert_neq(s, LAC_OK, "bit %zu flipped was accepted", i);
        cr_assert(err.msg[0]);
        if (i < 32) cr_assert_eq(s, LAC_ERR_FORMAT, "magic bit %zu: %s", i, err.msg);
    }
}

Test(container, header_offset_in_message) {
    uint8_t rec[LACZ_HEADER_SIZE];
    lacz_header h;
    make_header(&h, rec);
    rec[100] ^= 1;
    lac_error err;
    cr_assert_eq(lacz_header_parse(rec, 4242, &h, &err), LAC_ERR_CORRUPT);
    cr_assert(strstr(err.msg, "offset 4242"), "%s", err.msg);
}

static void block_rt(uint8_t type, uint32_t nt, uint32_t pl, uint32_t pk) {
    lacz_block_header b, g;
    memset(&b, 0, sizeof b);
    b.type = type;
    b.n_tokens = nt;
    b.plain_len = pl;
    b.packed_len = pk;
    for (int i = 0; i < 8; i++) b.checksum[i] = (uint8_t)(0xa0 + i);
    uint8_t rec[LACZ_BLOCK_HEADER_SIZE];
    lacz_block_header_write(&b, rec);
    lac_error err;
    cr_assert_eq(lacz_block_header_parse(rec, 0, 1024, &g, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(g.type, type);
    cr_assert_eq(g.n_tokens, nt);
    cr_assert_eq(g.plain_len, pl);
    cr_assert_eq(g.packed_len, pk);
    cr_assert_eq(memcmp(g.checksum, b.checksum, 8), 0);
}

Test(container, block_round_trip) {
    block_rt(LACZ_BLOCK_CODED, 1, 5, 0);
    block_rt(LACZ_BLOCK_CODED, 1024, 4000, 900);
    block_rt(LACZ_BLOCK_CODED, 3, 1000, 28);
    block_rt(LACZ_BLOCK_STORED, 0, 1, 1);
    block_rt(LACZ_BLOCK_STORED, 0, LACZ_MAX_BLOCK_PLAIN, LACZ_MAX_BLOCK_PLAIN);
    lacz_block_header e, g;
    lacz_end_marker(&e);
    uint8_t rec[LACZ_BLOCK_HEADER_SIZE];
    lacz_block_header_write(&e, rec);
    lac_error err;
    cr_assert_eq(lacz_block_header_parse(rec, 0, 1024, &g, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(g.type, LACZ_BLOCK_END);
}

static void block_bad(uint8_t type, uint32_t nt, uint32_t pl, uint32_t pk, lac_status code,
                      const char *word) {
    uint8_t rec[LACZ_BLOCK_HEADER_SIZE];
    memset(rec, 0, sizeof rec);
    rec[0] = type;
    put32(rec + 4, nt);
    put32(rec + 8, pl);
    put32(rec + 12, pk);
    reseal(rec, 24);
    lacz_block_header g;
    lac_error err;
    lac_status s = lacz_block_header_parse(rec, 777, 1024, &g, &err);
    cr_assert_eq(s, code, "type %c %u/%u/%u: %s", type, nt, pl, pk, err.msg);
    cr_assert(strstr(err.msg, word), "'%s' lacks '%s'", err.msg, word);
    cr_assert(strstr(err.msg, "offset 777"), "%s", err.msg);
}

Test(container, block_bad_fields) {
    block_bad('X', 1, 5, 2, LAC_ERR_FORMAT, "unknown type");
    block_bad(0, 0, 0, 0, LAC_ERR_FORMAT, "unknown type");
    block_bad(LACZ_BLOCK_CODED, 0, 5, 2, LAC_ERR_FORMAT, "token count");
    block_bad(LACZ_BLOCK_CODED, 1025, 5000, 2, LAC_ERR_FORMAT, "token count"); /* > block_tokens */
    block_bad(LACZ_BLOCK_CODED, 10, 9, 2, LAC_ERR_FORMAT, "plaintext length");
    block_bad(LACZ_BLOCK_CODED, 10, LACZ_MAX_BLOCK_PLAIN + 1, 2, LAC_ERR_FORMAT, "plaintext length");
    block_bad(LACZ_BLOCK_CODED, 10, 50, 50, LAC_ERR_FORMAT, "packed length");
    block_bad(LACZ_BLOCK_CODED, 10, 500, 57, LAC_ERR_FORMAT, "packed length"); /* > 4n+16 */
    block_bad(LACZ_BLOCK_STORED, 1, 5, 5, LAC_ERR_FORMAT, "token count");
    block_bad(LACZ_BLOCK_STORED, 0, 0, 0, LAC_ERR_FORMAT, "plaintext length");
    block_bad(LACZ_BLOCK_STORED, 0, LACZ_MAX_BLOCK_PLAIN + 1, LACZ_MAX_BLOCK_PLAIN + 1,
              LAC_ERR_FORMAT, "plaintext length");
    block_bad(LACZ_BLOCK_STORED, 0, 5, 4, LAC_ERR_FORMAT, "packed length");
    block_bad(LACZ_BLOCK_END, 0, 1, 0, LAC_ERR_FORMAT, "not zero");
    block_bad(LACZ_BLOCK_END, 1, 0, 0, LAC_ERR_FORMAT, "not zero");
}

Test(container, block_reserved_and_check) {
    lacz_block_header b, g;
    memset(&b, 0, sizeof b);
    b.type = LACZ_BLOCK_STORED;
    b.plain_len = b.packed_len = 10;
    uint8_t rec[LACZ_BLOCK_HEADER_SIZE], bad[LACZ_BLOCK_HEADER_SIZE];
    lacz_block_header_write(&b, rec);
    lac_error err;
    memcpy(bad, rec, sizeof bad);
    bad[2] = 1;
    reseal(bad, 24);
    cr_assert_eq(lacz_block_header_parse(bad, 0, 1024, &g, &err), LAC_ERR_FORMAT);
    cr_assert(strstr(err.msg, "reserved"), "%s", err.msg);
    for (size_t i = 0; i < LACZ_BLOCK_HEADER_SIZE * 8; i++) {
        memcpy(bad, rec, sizeof bad);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        cr_assert_neq(lacz_block_header_parse(bad, 0, 1024, &g, &err), LAC_OK, "bit %zu", i);
    }
    /* block_tokens of the stream bounds a coded block */
    b.type = LACZ_BLOCK_CODED;
    b.n_tokens = 100;
    b.plain_len = 200;
    b.packed_len = 100;
    lacz_block_header_write(&b, rec);
    cr_assert_eq(lacz_block_header_parse(rec, 0, 100, &g, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lacz_block_header_parse(rec, 0, 99, &g, &err), LAC_ERR_FORMAT);
}

Test(container, footer_round_trip_and_flips) {
    lacz_footer f, g;
    f.plain_bytes = 0x0102030405060708ull;
    f.blocks = 77;
    for (int i = 0; i < 32; i++) f.sha256[i] = (uint8_t)(255 - i);
    uint8_t rec[LACZ_FOOTER_SIZE], bad[LACZ_FOOTER_SIZE];
    lacz_footer_write(&f, rec);
    lac_error err;
    cr_assert_eq(lacz_footer_parse(rec, 0, &g, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(g.plain_bytes, f.plain_bytes);
    cr_assert_eq(g.blocks, 77);
    cr_assert_eq(memcmp(g.sha256, f.sha256, 32), 0);
    cr_assert_eq(rec[0], 0x08);
    for (size_t i = 0; i < LACZ_FOOTER_SIZE * 8; i++) {
        memcpy(bad, rec, sizeof bad);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        cr_assert_eq(lacz_footer_parse(bad, 99, &g, &err), LAC_ERR_CORRUPT, "bit %zu", i);
        cr_assert(strstr(err.msg, "footer at offset 99"), "%s", err.msg);
    }
}

Test(container, checksums_are_sha256) {
    /* SHA-256("abc") = ba7816bf 8f01cfea ... (FIPS 180-4 example) */
    uint8_t h[32], s8[8];
    cr_assert_eq(lacz_sha256("abc", 3, h), 0);
    static const uint8_t want[8] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea};
    cr_assert_eq(memcmp(h, want, 8), 0);
    cr_assert_eq(lacz_block_checksum("abc", 3, s8), 0);
    cr_assert_eq(memcmp(s8, want, 8), 0);
}
