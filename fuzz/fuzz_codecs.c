/* libFuzzer target for the classic fallback codecs (coder/codecs.h).
 *
 * Input layout: byte 0 = mode: bits 0-2 pick the method (stored, lzma2, zstd, brotli, bzip2,
 * and model / two out-of-range values, which must be refused), bit 3 = round trip; bytes 1-2 =
 * plain_len (little-endian, up to 64 KiB); the rest is the payload.
 *  - decode: the payload decodes into plain_len bytes followed by a guard that must stay
 *    untouched; the only outcomes are LAC_OK and LAC_ERR_CORRUPT (LAC_ERR_FORMAT for a method
 *    that is not a classic codec), with the error contract of fuzz_common.h.
 *  - round trip: the rest is compressed with the method and must decode back to itself, the
 *    same bytes come out a second time, and plain_len one too small or too large is refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "fuzz_common.h"

#define GUARD 32

static const int k_pick[8] = {LACZ_METHOD_STORED, LACZ_METHOD_LZMA2, LACZ_METHOD_ZSTD,
                              LACZ_METHOD_BROTLI, LACZ_METHOD_BZIP2, LACZ_METHOD_MODEL,
                              LACZ_METHOD_COUNT, -1};

static int classic(int m) { return m >= LACZ_METHOD_STORED && m <= LACZ_METHOD_BZIP2; }

/* Decodes payload[0..n) (an exact-size copy) into plain_len bytes; checks the outcome and the
 * guard; on LAC_OK returns the output (caller frees). */
static uint8_t *decode(int m, const uint8_t *payload, size_t n, size_t plain_len,
                       lac_status *status) {
    uint8_t *in = malloc(n ? n : 1), *out = malloc(plain_len + GUARD);
    if (!in || !out) abort();
    if (n) memcpy(in, payload, n);
    memset(out + plain_len, 0x5A, GUARD);
    lac_error err;
    lac_status st = lacz_codec_decompress(m, in, n, out, plain_len, &err);
    free(in);
    fuzz_check_error(st, &err);
    for (size_t i = 0; i < GUARD; i++)
        if (out[plain_len + i] != 0x5A) FUZZ_FAIL("%s wrote past plain_len", lacz_method_name(m));
    lac_status want = classic(m) ? LAC_ERR_CORRUPT : LAC_ERR_FORMAT;
    if (st != LAC_OK && st != want)
        FUZZ_FAIL("%s: status %d (%s)", lacz_method_name(m), st, err.msg);
    if (st == LAC_OK && !classic(m)) FUZZ_FAIL("method %d accepted", m);
    if (st != LAC_OK && classic(m) && !strstr(err.msg, lacz_method_name(m)))
        FUZZ_FAIL("message does not name %s: %s", lacz_method_name(m), err.msg);
    *status = st;
    if (st == LAC_OK) return out;
    free(out);
    return NULL;
}

static void round_trip(int m, const uint8_t *x, size_t n) {
    size_t cap = n + n / 8 + 1024;
    uint8_t *c1 = malloc(cap), *c2 = malloc(cap);
    if (!c1 || !c2) abort();
    size_t l1, l2;
    lac_error err;
    lac_status st = lacz_codec_compress(m, x, n, c1, cap, &l1, &err);
    fuzz_check_error(st, &err);
    if (st) FUZZ_FAIL("%s compress of %zu bytes: %s", lacz_method_name(m), n, err.msg);
    st = lacz_codec_compress(m, x, n, c2, cap, &l2, &err);
    if (st || l1 != l2 || memcmp(c1, c2, l1)) FUZZ_FAIL("%s is not deterministic", lacz_method_name(m));
    /* cap one byte short of the result is a clean LAC_ERR_LIMIT */
    if (l1 > 0) {
        st = lacz_codec_compress(m, x, n, c2, l1 - 1, &l2, &err);
        fuzz_check_error(st, &err);
        if (st != LAC_ERR_LIMIT) FUZZ_FAIL("%s: cap %zu - 1 gave %d", lacz_method_name(m), l1, st);
    }
    lac_status ds;
    uint8_t *back = decode(m, c1, l1, n, &ds);
    if (!back || memcmp(back, x, n)) FUZZ_FAIL("%s round trip of %zu bytes", lacz_method_name(m), n);
    free(back);
    if (n > 0) {
        back = decode(m, c1, l1, n - 1, &ds);
        if (back) FUZZ_FAIL("%s: %zu bytes accepted as %zu", lacz_method_name(m), n, n - 1);
    }
    back = decode(m, c1, l1, n + 1, &ds);
    if (back) FUZZ_FAIL("%s: %zu bytes accepted as %zu", lacz_method_name(m), n, n + 1);
    free(c1);
    free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    int m = k_pick[data[0] & 7];
    size_t plain_len = (size_t)data[1] | (size_t)data[2] << 8;
    const uint8_t *rest = data + 3;
    size_t n = size - 3;
    if ((data[0] & 8) && classic(m)) {
        round_trip(m, rest, n);
        return 0;
    }
    lac_status st;
    free(decode(m, rest, n, plain_len, &st));
    return 0;
}
