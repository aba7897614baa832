/* zstd for the classic fallback (coder/codecs.h): a magicless frame (ZSTD_f_zstd1_magicless,
 * libzstd's static-linking-only API, present in 1.5.4 and exported by the shared library)
 * without content size, checksum or dictionary id: 2 header bytes instead of 6 to 18. The
 * window is a function of the plain length, so the decoder caps its window at exactly that and
 * decodes straight into the caller's buffer (ZSTD_d_stableOutBuffer): no window allocation. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "lac_error.h"

/* Level 22 (ZSTD_maxCLevel) with the window fitted to the input: on Canterbury it gains little
 * over 19 but costs little either, since a window no larger than the input keeps the
 * ultra levels' tables small. */
#define LACZ_ZSTD_LEVEL 22

static unsigned zstd_window_log(size_t plain_len) {
    return lacz_codec_log2_fit(plain_len, ZSTD_WINDOWLOG_MIN, 27);
}

static lac_status zstd_fail(size_t r, const char *what, lac_error *err) {
    lac_status code = ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? LAC_ERR_NOMEM
                                                                            : LAC_ERR_CORRUPT;
    return lac_fail(err, code, "zstd: %s: %s", what, ZSTD_getErrorName(r));
}

lac_status lacz_zstd_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                              size_t *out_len, lac_error *err) {
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c) return lac_fail(err, LAC_ERR_NOMEM, "zstd: cannot create the compression context");
    size_t r = 0;
    const int params[][2] = {
        {ZSTD_c_compressionLevel, LACZ_ZSTD_LEVEL},
        {ZSTD_c_windowLog, (int)zstd_window_log(n)},
        {ZSTD_c_format, ZSTD_f_zstd1_magicless},
        {ZSTD_c_contentSizeFlag, 0},
        {ZSTD_c_checksumFlag, 0},
        {ZSTD_c_dictIDFlag, 0},
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0] && !ZSTD_isError(r); i++)
        r = ZSTD_CCtx_setParameter(c, (ZSTD_cParameter)params[i][0], params[i][1]);
    if (ZSTD_isError(r)) {
        ZSTD_freeCCtx(c);
        return lac_fail(err, LAC_ERR_ARG, "zstd: parameter refused: %s", ZSTD_getErrorName(r));
    }
    /* zstd's choices depend on the room it has (a header needs 18 bytes before it is known to
     * take 2; a block that would not fit is coded differently): below the worst case, code
     * into a buffer of the worst-case size, so the bytes never depend on cap, then check the
     * fit. */
    size_t bound = ZSTD_compressBound(n);
    uint8_t *tmp = NULL;
    if (cap < bound) {
        tmp = malloc(bound);
        if (!tmp) {
            ZSTD_freeCCtx(c);
            return lac_fail(err, LAC_ERR_NOMEM, "zstd: %zu bytes of output buffer", bound);
        }
    }
    r = ZSTD_compress2(c, tmp ? tmp : out, tmp ? bound : cap, in, n);
    ZSTD_freeCCtx(c);
    int too_big = ZSTD_isError(r) ? ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall : r > cap;
    if (tmp && !ZSTD_isError(r) && !too_big && r) memcpy(out, tmp, r);
    free(tmp);
    if (too_big) return lac_fail(err, LAC_ERR_LIMIT, "zstd: output exceeds cap %zu", cap);
    if (ZSTD_isError(r)) return zstd_fail(r, "compress", err);
    *out_len = r;
    return LAC_OK;
}

lac_status lacz_zstd_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t plain_len,
                                lac_error *err) {
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) return lac_fail(err, LAC_ERR_NOMEM, "zstd: cannot create the decompression context");
    size_t r = ZSTD_DCtx_setParameter(d, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    if (!ZSTD_isError(r))
        r = ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, (int)zstd_window_log(plain_len));
    if (!ZSTD_isError(r)) r = ZSTD_DCtx_setParameter(d, ZSTD_d_stableOutBuffer, 1);
    if (ZSTD_isError(r)) {
        ZSTD_freeDCtx(d);
        return lac_fail(err, LAC_ERR_ARG, "zstd: parameter refused: %s", ZSTD_getErrorName(r));
    }
    ZSTD_inBuffer ib = {in, n, 0};
    ZSTD_outBuffer ob = {out, plain_len, 0};
    lac_status st = LAC_OK;
    for (;;) {
        size_t ipos = ib.pos, opos = ob.pos;
        r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r)) {
            st = zstd_fail(r, "malformed payload", err);
            break;
        }
        if (r == 0) { /* the frame is complete */
            if (ib.pos != n)
                st = lac_fail(err, LAC_ERR_CORRUPT, "zstd: %zu bytes after the end of the frame",
                              n - ib.pos);
            else if (ob.pos != plain_len)
                st = lac_fail(err, LAC_ERR_CORRUPT, "zstd: payload expands to %zu bytes, not %zu",
                              ob.pos, plain_len);
            break;
        }
        if (ib.pos == ipos && ob.pos == opos) { /* no progress: the frame cannot end */
            if (ob.pos == plain_len)
                st = lac_fail(err, LAC_ERR_CORRUPT, "zstd: payload expands beyond %zu bytes",
                              plain_len);
            else
                st = lac_fail(err, LAC_ERR_CORRUPT,
                              "zstd: payload truncated after %zu bytes of output", ob.pos);
            break;
        }
    }
    ZSTD_freeDCtx(d);
    return st;
}
