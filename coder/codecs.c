/* Dispatch over the classic codecs (coder/codecs.h) and the pick of the smallest. The per-codec
 * files see only non-NULL pointers: an empty input or output gets a dummy one here, because the
 * libraries differ in whether NULL with length 0 is allowed. */
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "lac_error.h"

const char *lacz_method_name(int method) {
    switch (method) {
    case LACZ_METHOD_MODEL: return "model";
    case LACZ_METHOD_STORED: return "stored";
    case LACZ_METHOD_LZMA2: return "lzma2";
    case LACZ_METHOD_ZSTD: return "zstd";
    case LACZ_METHOD_BROTLI: return "brotli";
    case LACZ_METHOD_BZIP2: return "bzip2";
    default: return "?";
    }
}

unsigned lacz_codec_log2_fit(size_t n, unsigned lo, unsigned hi) {
    unsigned b = lo;
    while (b < hi && ((size_t)1 << b) < n) b++;
    return b;
}

static uint8_t g_dummy[1];

lac_status lacz_codec_compress(int method, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                               size_t *out_len, lac_error *err) {
    if ((!in && n) || (!out && cap) || !out_len)
        return lac_fail(err, LAC_ERR_ARG, "codec compress: NULL buffer");
    if (!in) in = g_dummy;
    if (!out) out = g_dummy;
    *out_len = 0;
    switch (method) {
    case LACZ_METHOD_STORED:
        if (n > cap) return lac_fail(err, LAC_ERR_LIMIT, "stored: %zu bytes exceed cap %zu", n, cap);
        memcpy(out, in, n);
        *out_len = n;
        return LAC_OK;
    case LACZ_METHOD_LZMA2: return lacz_lzma2_compress(in, n, out, cap, out_len, err);
    case LACZ_METHOD_ZSTD: return lacz_zstd_compress(in, n, out, cap, out_len, err);
    case LACZ_METHOD_BROTLI: return lacz_brotli_compress(in, n, out, cap, out_len, err);
    case LACZ_METHOD_BZIP2: return lacz_bzip2_compress(in, n, out, cap, out_len, err);
    default:
        return lac_fail(err, LAC_ERR_ARG, "codec compress: method %d (%s) is not a classic codec",
                        method, lacz_method_name(method));
    }
}

lac_status lacz_codec_decompress(int method, const uint8_t *in, size_t n, uint8_t *out,
                                 size_t plain_len, lac_error *err) {
    if ((!in && n) || (!out && plain_len))
        return lac_fail(err, LAC_ERR_ARG, "codec decompress: NULL buffer");
    if (!in) in = g_dummy;
    if (!out) out = g_dummy;
    switch (method) {
    case LACZ_METHOD_STORED:
        if (n != plain_len)
            return lac_fail(err, LAC_ERR_CORRUPT, "stored: payload is %zu bytes, plain length %zu",
                            n, plain_len);
        memcpy(out, in, n);
        return LAC_OK;
    case LACZ_METHOD_LZMA2: return lacz_lzma2_decompress(in, n, out, plain_len, err);
    case LACZ_METHOD_ZSTD: return lacz_zstd_decompress(in, n, out, plain_len, err);
    case LACZ_METHOD_BROTLI: return lacz_brotli_decompress(in, n, out, plain_len, err);
    case LACZ_METHOD_BZIP2: return lacz_bzip2_decompress(in, n, out, plain_len, err);
    default:
        return lac_fail(err, LAC_ERR_FORMAT, "codec: method %d (%s) is not a classic codec",
                        method, lacz_method_name(method));
    }
}

lac_status lacz_codec_best(unsigned methods, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                           int *method, size_t *out_len, lac_error *err) {
    /* fastest decoder first: a tie keeps the earlier one */
    static const int order[] = {LACZ_METHOD_STORED, LACZ_METHOD_ZSTD, LACZ_METHOD_BROTLI,
                                LACZ_METHOD_LZMA2, LACZ_METHOD_BZIP2};
    if ((!in && n) || (!out && cap) || !method || !out_len)
        return lac_fail(err, LAC_ERR_ARG, "codec best: NULL buffer");
    *method = -1;
    *out_len = 0;
    size_t best = SIZE_MAX;
    uint8_t *scratch = NULL;
    lac_status st = LAC_OK;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int m = order[i];
        if (!(methods & LACZ_METHOD_BIT(m))) continue;
        if (best == 0) break; /* nothing beats an empty payload */
        /* a candidate must beat the best so far, so its cap is one byte less */
        size_t c = best == SIZE_MAX ? cap : best - 1;
        uint8_t *dst = out;
        if (best != SIZE_MAX) {
            if (!scratch) {
                /* every later candidate is smaller than the first winner: best bytes suffice */
                scratch = malloc(best ? best : 1);
                if (!scratch) {
                    st = lac_fail(err, LAC_ERR_NOMEM, "codec best: scratch of %zu bytes", best);
                    break;
                }
            }
            dst = scratch;
        }
        size_t len;
        st = lacz_codec_compress(m, in, n, dst, c, &len, err);
        if (st == LAC_ERR_LIMIT) {
            st = LAC_OK;
            continue;
        }
        if (st != LAC_OK) break;
        if (dst != out) memcpy(out, dst, len);
        best = len;
        *method = m;
        *out_len = len;
    }
    free(scratch);
    if (st != LAC_OK) {
        *method = -1;
        *out_len = 0;
        return st;
    }
    if (*method < 0)
        return lac_fail(err, LAC_ERR_LIMIT, "codec best: no method fits %zu bytes in cap %zu", n,
                        cap);
    lac_error_clear(err);
    return LAC_OK;
}
