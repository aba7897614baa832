/* The classic fallback codecs (coder/codecs.h): round trips on Canterbury files and edge sizes,
 * exact caps, the plain length as a strict contract, damaged payloads (truncation, bit flips,
 * trailing bytes) and the pick of the smallest. Damaged payloads are decoded from exact-size
 * heap copies into an output with a guard after it, so any overread or overwrite shows (ASan
 * in the sanitizer build, the guard in both). */
#include <bzlib.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codecs.h"

static const int k_methods[] = {LACZ_METHOD_STORED, LACZ_METHOD_LZMA2, LACZ_METHOD_ZSTD,
                                LACZ_METHOD_BROTLI, LACZ_METHOD_BZIP2};
#define N_METHODS (sizeof k_methods / sizeof k_methods[0])
#define GUARD 64

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

static const char *shared_dir(char *buf, size_t n) {
    const char *s = getenv("LAC_SHARED");
    if (s) return s;
    const char *src = getenv("LAC_SOURCE_DIR");
    snprintf(buf, n, "%s/../shared", src ? src : ".");
    return buf;
}

static void corpus_path(const char *name, char *path, size_t n) {
    char sbuf[1024];
    snprintf(path, n, "%s/corpus/canterbury/%s", shared_dir(sbuf, sizeof sbuf), name);
}

/* A Canterbury file, or the test is skipped when the corpus is absent. */
static blob load(const char *name) {
    char path[1400];
    corpus_path(name, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) cr_skip_test("no %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    cr_assert_geq(len, 0);
    rewind(f);
    blob b = {malloc((size_t)len + 1), (size_t)len};
    cr_assert_not_null(b.p);
    cr_assert_eq(fread(b.p, 1, b.n, f), b.n);
    fclose(f);
    return b;
}

/* Payload of in[0..n) with method m (a generous cap). */
static blob encode(int m, const uint8_t *in, size_t n) {
    size_t cap = n + n / 8 + 1024;
    blob b = {malloc(cap), 0};
    cr_assert_not_null(b.p);
    lac_error err;
    lac_status st = lacz_codec_compress(m, in, n, b.p, cap, &b.n, &err);
    cr_assert_eq(st, LAC_OK, "%s on %zu bytes: %s", lacz_method_name(m), n, err.msg);
    return b;
}

/* Decodes payload[0..n) (copied to an exact-size buffer) into plain_len bytes with a guard
 * after them; checks the guard and the error contract; returns the status and, on LAC_OK, the
 * output in *got (caller frees). */
static lac_status decode_checked(int m, const uint8_t *payload, size_t n, size_t plain_len,
                                 uint8_t **got) {
    uint8_t *in = malloc(n ? n : 1);
    cr_assert_not_null(in);
    if (n) memcpy(in, payload, n);
    uint8_t *out = malloc(plain_len + GUARD);
    cr_assert_not_null(out);
    memset(out, 0xA5, plain_len + GUARD);
    lac_error err;
    memset(&err, 0, sizeof err);
    lac_status st = lacz_codec_decompress(m, in, n, out, plain_len, &err);
    for (size_t i = 0; i < GUARD; i++)
        cr_assert_eq(out[plain_len + i], 0xA5, "%s wrote past plain_len", lacz_method_name(m));
    if (st != LAC_OK) {
        cr_assert_eq(err.code, st);
        cr_assert_neq(err.msg[0], '\0');
        cr_assert_null(strchr(err.msg, '\n'));
        cr_assert_not_null(strstr(err.msg, lacz_method_name(m)), "message %s", err.msg);
    }
    free(in);
    if (got && st == LAC_OK)
        *got = out;
    else
        free(out);
    return st;
}

static void round_trip(int m, const uint8_t *in, size_t n) {
    blob c = encode(m, in, n);
    uint8_t *got = NULL;
    lac_status st = decode_checked(m, c.p, c.n, n, &got);
    cr_assert_eq(st, LAC_OK, "%s: decoding %zu bytes failed", lacz_method_name(m), n);
    cr_assert_eq(memcmp(got, in, n), 0, "%s: round trip of %zu bytes differs",
                 lacz_method_name(m), n);
    free(got);
    free(c.p);
}

static void round_trip_file(const char *name) {
    blob b = load(name);
    for (size_t i = 0; i < N_METHODS; i++) round_trip(k_methods[i], b.p, b.n);
    free(b.p);
}

Test(codecs, names) {
    static const char *const names[] = {"model", "stored", "lzma2", "zstd", "brotli", "bzip2"};
    for (int m = 0; m < LACZ_METHOD_COUNT; m++) cr_assert_str_eq(lacz_method_name(m), names[m]);
    cr_assert_str_eq(lacz_method_name(-1), "?");
    cr_assert_str_eq(lacz_method_name(6), "?");
}

Test(codecs, round_trip_text) { round_trip_file("alice29.txt"); }
Test(codecs, round_trip_xls) { round_trip_file("kennedy.xls"); }
Test(codecs, round_trip_ptt5) { round_trip_file("ptt5"); }

Test(codecs, round_trip_tiny) {
    static const char *const inputs[] = {"", "a", "\0", "ab", "aaa", "hello, world\n",
                                         "abababababababababababababababababababab"};
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        size_t n = k == 2 ? 1 : strlen(inputs[k]);
        for (size_t i = 0; i < N_METHODS; i++)
            round_trip(k_methods[i], (const uint8_t *)inputs[k], n);
    }
    /* every single byte value through every codec */
    for (int v = 0; v < 256; v += 51) {
        uint8_t one = (uint8_t)v;
        for (size_t i = 0; i < N_METHODS; i++) round_trip(k_methods[i], &one, 1);
    }
}

Test(codecs, empty_with_null_pointers) {
    for (size_t i = 0; i < N_METHODS; i++) {
        uint8_t out[64];
        size_t len = 99;
        lac_error err;
        cr_assert_eq(lacz_codec_compress(k_methods[i], NULL, 0, out, sizeof out, &len, &err),
                     LAC_OK, "%s", err.msg);
        cr_assert_eq(lacz_codec_decompress(k_methods[i], out, len, NULL, 0, &err), LAC_OK, "%s",
                     err.msg);
    }
}

Test(codecs, zeros_1mib) {
    size_t n = 1u << 20;
    uint8_t *z = calloc(n, 1);
    cr_assert_not_null(z);
    for (size_t i = 0; i < N_METHODS; i++) {
        int m = k_methods[i];
        round_trip(m, z, n);
        if (m == LACZ_METHOD_STORED) continue;
        blob c = encode(m, z, n);
        cr_assert_lt(c.n, 1024, "%s: 1 MiB of zeros in %zu bytes", lacz_method_name(m), c.n);
        free(c.p);
    }
    free(z);
}

Test(codecs, deterministic) {
    blob b = load("fields.c");
    for (size_t i = 0; i < N_METHODS; i++) {
        blob c1 = encode(k_methods[i], b.p, b.n), c2 = encode(k_methods[i], b.p, b.n);
        cr_assert_eq(c1.n, c2.n);
        cr_assert_eq(memcmp(c1.p, c2.p, c1.n), 0);
        free(c1.p);
        free(c2.p);
    }
    free(b.p);
}

/* bzip2's block size level is fitted to the input (coder/codec_bzip2.c), and the payload must
 * still be bzip2 -9's, header dropped, at every level's edge: runs of 4 equal bytes are the
 * input that bzip2's first run-length step grows most (by 1.25), so n = 79 920 is the longest
 * that level 1 holds in one block (99 000 would be two blocks at level 1) and 639 921 the
 * shortest that gets level 9. */
Test(codecs, bzip2_fitted_level_is_bzip2_9) {
    static const size_t sizes[] = {0, 1, 1000, 79920, 79921, 99000, 639920, 639921};
    uint8_t *in = malloc(639921);
    cr_assert_not_null(in);
    for (size_t i = 0; i < 639921; i++) in[i] = (uint8_t)(i / 4 % 251);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        unsigned cap = (unsigned)(n + n / 8 + 1024);
        char *want = malloc(cap);
        cr_assert_not_null(want);
        cr_assert_eq(BZ2_bzBuffToBuffCompress(want, &cap, (char *)in, (unsigned)n, 9, 0, 0), BZ_OK);
        blob c = encode(LACZ_METHOD_BZIP2, in, n);
        cr_assert_eq(c.n + 4, cap, "%zu bytes: payload %zu, bzip2 -9 %u with its header", n, c.n, cap);
        cr_assert_eq(memcmp(c.p, want + 4, c.n), 0, "%zu bytes: not bzip2 -9's payload", n);
        round_trip(LACZ_METHOD_BZIP2, in, n);
        free(want);
        free(c.p);
    }
    free(in);
}

/* Our raw LZMA2 must not lose to `xz -9e` (which adds its container on top). */
Test(codecs, lzma2_not_worse_than_xz) {
    if (system("command -v xz >/dev/null 2>&1") != 0) cr_skip_test("xz not on PATH");
    blob b = load("kennedy.xls");
    char path[1400], cmd[1600];
    corpus_path("kennedy.xls", path, sizeof path);
    snprintf(cmd, sizeof cmd, "xz -9e -k -c '%s' | wc -c", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    unsigned long xz_size = 0;
    cr_assert_eq(fscanf(p, "%lu", &xz_size), 1);
    cr_assert_eq(pclose(p), 0);
    cr_assert_gt(xz_size, 0);
    blob c = encode(LACZ_METHOD_LZMA2, b.p, b.n);
    cr_assert_leq(c.n, xz_size, "lzma2 %zu bytes, xz -9e %lu", c.n, xz_size);
    free(c.p);
    free(b.p);
}

/* cap exactly the payload size fits; one byte less is LAC_ERR_LIMIT (the codecs that drop a
 * fixed header or end byte must count it right). */
Test(codecs, cap_exact_and_too_small) {
    blob b = load("grammar.lsp");
    static const size_t tiny_n[] = {0, 1, 5};
    for (size_t i = 0; i < N_METHODS; i++) {
        int m = k_methods[i];
        for (size_t t = 0; t < 4; t++) {
            const uint8_t *in = b.p;
            size_t n = t < 3 ? tiny_n[t] : b.n;
            blob c = encode(m, in, n);
            uint8_t *out = malloc(c.n + GUARD);
            cr_assert_not_null(out);
            size_t len = 0;
            lac_error err;
            cr_assert_eq(lacz_codec_compress(m, in, n, out, c.n, &len, &err), LAC_OK,
                         "%s cap %zu: %s", lacz_method_name(m), c.n, err.msg);
            cr_assert_eq(len, c.n);
            cr_assert_eq(memcmp(out, c.p, len), 0);
            if (c.n > 0) {
                memset(out, 0xA5, c.n + GUARD);
                lac_status st = lacz_codec_compress(m, in, n, out, c.n - 1, &len, &err);
                cr_assert_eq(st, LAC_ERR_LIMIT, "%s cap %zu - 1: %d", lacz_method_name(m), c.n,
                             st);
                cr_assert_eq(err.code, LAC_ERR_LIMIT);
                for (size_t g = c.n - 1; g < c.n + GUARD; g++) cr_assert_eq(out[g], 0xA5);
                st = lacz_codec_compress(m, in, n, out, 0, &len, &err);
                cr_assert_eq(st, LAC_ERR_LIMIT, "%s n %zu cap 0: %d (%s)", lacz_method_name(m), n, st,
                             err.msg);
            }
            free(out);
            free(c.p);
        }
    }
    free(b.p);
}

Test(codecs, plain_len_off_by_one) {
    blob b = load("fields.c");
    static const size_t sizes[] = {1, 2, 100, 0};
    for (size_t i = 0; i < N_METHODS; i++) {
        int m = k_methods[i];
        for (size_t s = 0; s < 4; s++) {
            size_t n = sizes[s] ? sizes[s] : b.n;
            blob c = encode(m, b.p, n);
            cr_assert_eq(decode_checked(m, c.p, c.n, n - 1, NULL), LAC_ERR_CORRUPT,
                         "%s: %zu bytes decoded as %zu", lacz_method_name(m), n, n - 1);
            cr_assert_eq(decode_checked(m, c.p, c.n, n + 1, NULL), LAC_ERR_CORRUPT,
                         "%s: %zu bytes decoded as %zu", lacz_method_name(m), n, n + 1);
            cr_assert_eq(decode_checked(m, c.p, c.n, n, NULL), LAC_OK);
            free(c.p);
        }
        /* an empty input's payload is not a 1-byte one, nor the other way round */
        blob e = encode(m, b.p, 0);
        cr_assert_eq(decode_checked(m, e.p, e.n, 1, NULL), LAC_ERR_CORRUPT);
        free(e.p);
        blob one = encode(m, b.p, 1);
        cr_assert_eq(decode_checked(m, one.p, one.n, 0, NULL), LAC_ERR_CORRUPT);
        free(one.p);
    }
    free(b.p);
}

Test(codecs, truncated) {
    blob b = load("cp.html");
    for (size_t i = 0; i < N_METHODS; i++) {
        int m = k_methods[i];
        blob c = encode(m, b.p, b.n);
        size_t cuts[] = {0, 1, 2, 3, 4, 7, c.n / 4, c.n / 2, c.n - 2, c.n - 1};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            if (cuts[k] >= c.n) continue;
            uint8_t *got = NULL;
            lac_status st = decode_checked(m, c.p, cuts[k], b.n, &got);
            cr_assert(st == LAC_OK || st == LAC_ERR_CORRUPT, "%s cut at %zu: status %d",
                      lacz_method_name(m), cuts[k], st);
            free(got);
        }
        free(c.p);
    }
    free(b.p);
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(codecs, bit_flips) {
    blob b = load("xargs.1");
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < N_METHODS; i++) {
        int m = k_methods[i];
        blob c = encode(m, b.p, b.n);
        int refused = 0;
        for (int trial = 0; trial < 300; trial++) {
            uint8_t *d = malloc(c.n);
            cr_assert_not_null(d);
            memcpy(d, c.p, c.n);
            int flips = 1 + (int)(xorshift(&seed) % 3);
            for (int f = 0; f < flips; f++) {
                size_t bit = (size_t)(xorshift(&seed) % (c.n * 8));
                d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            uint8_t *got = NULL;
            lac_status st = decode_checked(m, d, c.n, b.n, &got);
            cr_assert(st == LAC_OK || st == LAC_ERR_CORRUPT, "%s: status %d",
                      lacz_method_name(m), st);
            refused += st != LAC_OK;
            free(got);
            free(d);
        }
        /* stored has no check at all; bzip2 has CRCs (only the final byte's padding bits are
         * unchecked) */
        cr_log_info("%s: %d of 300 damaged payloads refused", lacz_method_name(m), refused);
        if (m == LACZ_METHOD_BZIP2) cr_assert_geq(refused, 290);
        free(c.p);
    }
    free(b.p);
}

Test(codecs, trailing_bytes_refused) {
    blob b = load("grammar.lsp");
    static const uint8_t tails[][4] = {{0x00}, {0xFF}, {0x00, 0x00}, {0x17, 0x72, 0x45, 0x38}};
    static const size_t tail_n[] = {1, 1, 2, 4};
    for (size_t i = 0; i < N_METHODS; i++) {
        int m = k_methods[i];
        for (size_t s = 0; s < 2; s++) {
            size_t n = s ? b.n : 0;
            blob c = encode(m, b.p, n);
            for (size_t t = 0; t < 4; t++) {
                uint8_t *d = malloc(c.n + 4);
                cr_assert_not_null(d);
                memcpy(d, c.p, c.n);
                memcpy(d + c.n, tails[t], tail_n[t]);
                cr_assert_eq(decode_checked(m, d, c.n + tail_n[t], n, NULL), LAC_ERR_CORRUPT,
                             "%s: %zu trailing bytes accepted", lacz_method_name(m), tail_n[t]);
                free(d);
            }
            /* a payload twice over is not one payload */
            uint8_t *d2 = malloc(2 * c.n + 1);
            cr_assert_not_null(d2);
            memcpy(d2, c.p, c.n);
            memcpy(d2 + c.n, c.p, c.n);
            if (c.n) cr_assert_eq(decode_checked(m, d2, 2 * c.n, n, NULL), LAC_ERR_CORRUPT);
            free(d2);
            free(c.p);
        }
    }
    free(b.p);
}

Test(codecs, unknown_method) {
    uint8_t in[4] = {1, 2, 3, 4}, out[16];
    size_t len;
    lac_error err;
    static const int bad[] = {LACZ_METHOD_MODEL, -1, 6, 255};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(lacz_codec_decompress(bad[i], in, 4, out, 4, &err), LAC_ERR_FORMAT);
        cr_assert_eq(err.code, LAC_ERR_FORMAT);
        cr_assert_neq(err.msg[0], '\0');
        cr_assert_eq(lacz_codec_compress(bad[i], in, 4, out, sizeof out, &len, &err), LAC_ERR_ARG);
        cr_assert_eq(err.code, LAC_ERR_ARG);
    }
}

Test(codecs, best_picks_smallest) {
    static const char *const files[] = {"alice29.txt", "ptt5", "sum"};
    for (size_t f = 0; f < 3; f++) {
        blob b = load(files[f]);
        size_t cap = b.n + 1024, sizes[LACZ_METHOD_COUNT];
        size_t smallest = SIZE_MAX;
        for (size_t i = 0; i < N_METHODS; i++) {
            blob c = encode(k_methods[i], b.p, b.n);
            sizes[k_methods[i]] = c.n;
            if (c.n < smallest) smallest = c.n;
            free(c.p);
        }
        uint8_t *out = malloc(cap);
        cr_assert_not_null(out);
        int m;
        size_t len;
        lac_error err;
        cr_assert_eq(lacz_codec_best(LACZ_METHODS_CLASSIC, b.p, b.n, out, cap, &m, &len, &err),
                     LAC_OK, "%s", err.msg);
        cr_assert_eq(len, smallest, "%s: best %zu, smallest %zu", files[f], len, smallest);
        cr_assert_eq(sizes[m], len);
        uint8_t *got = NULL;
        cr_assert_eq(decode_checked(m, out, len, b.n, &got), LAC_OK);
        cr_assert_eq(memcmp(got, b.p, b.n), 0);
        free(got);
        /* a cap below the smallest: nothing fits */
        cr_assert_eq(lacz_codec_best(LACZ_METHODS_CLASSIC, b.p, b.n, out, smallest - 1, &m, &len,
                                     &err),
                     LAC_ERR_LIMIT);
        cr_assert_eq(m, -1);
        /* one method only */
        cr_assert_eq(lacz_codec_best(LACZ_METHOD_BIT(LACZ_METHOD_ZSTD), b.p, b.n, out, cap, &m,
                                     &len, &err),
                     LAC_OK);
        cr_assert_eq(m, LACZ_METHOD_ZSTD);
        cr_assert_eq(len, sizes[LACZ_METHOD_ZSTD]);
        free(out);
        free(b.p);
    }
}

Test(codecs, best_stored_wins_ties_and_noise) {
    /* random bytes: nothing compresses them, stored (first in the order) wins */
    size_t n = 4096;
    uint8_t *r = malloc(n), *out = malloc(n + 64);
    cr_assert(r && out);
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) r[i] = (uint8_t)xorshift(&s);
    int m;
    size_t len;
    lac_error err;
    cr_assert_eq(lacz_codec_best(LACZ_METHODS_CLASSIC, r, n, out, n + 64, &m, &len, &err), LAC_OK);
    cr_assert_eq(m, LACZ_METHOD_STORED);
    cr_assert_eq(len, n);
    /* empty input: stored (0 bytes) wins and nothing else is tried */
    cr_assert_eq(lacz_codec_best(LACZ_METHODS_CLASSIC, NULL, 0, out, 0, &m, &len, &err), LAC_OK);
    cr_assert_eq(m, LACZ_METHOD_STORED);
    cr_assert_eq(len, 0);
    /* without stored, random data does not fit in n bytes */
    cr_assert_eq(lacz_codec_best(LACZ_METHODS_CLASSIC & ~LACZ_METHOD_BIT(LACZ_METHOD_STORED), r,
                                 n, out, n, &m, &len, &err),
                 LAC_ERR_LIMIT);
    /* the model bit is ignored */
    cr_assert_eq(lacz_codec_best(LACZ_METHOD_BIT(LACZ_METHOD_MODEL), r, n, out, n + 64, &m, &len,
                                 &err),
                 LAC_ERR_LIMIT);
    free(r);
    free(out);
}
