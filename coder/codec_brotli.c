/* brotli for the classic fallback (coder/codecs.h): quality 11, generic mode, the window fitted
 * to the input (BROTLI_MIN_WINDOW_BITS .. BROTLI_MAX_WINDOW_BITS). A brotli stream is already
 * bare (its window bits are its only header), so nothing is stripped. The decoder writes
 * straight into the caller's buffer and refuses a stream whose window is larger than the plain
 * length needs, which bounds the ring buffer brotli allocates by the plain length. */
#include <brotli/decode.h>
#include <brotli/encode.h>

#include "codecs.h"
#include "lac_error.h"

static unsigned brotli_lgwin(size_t plain_len) {
    /* brotli's window holds 2^lgwin - 16 bytes */
    return lacz_codec_log2_fit(plain_len + 16, BROTLI_MIN_WINDOW_BITS, BROTLI_MAX_WINDOW_BITS);
}

/* The window bits of a stream (RFC 7932 section 9.1, bits read from the low end), 0 when the
 * first bytes are not a valid window code (or the large-window extension, which we never
 * write). */
static unsigned brotli_stream_wbits(const uint8_t *in, size_t n) {
    if (n == 0) return 0;
    unsigned v = in[0] | (n > 1 ? (unsigned)in[1] << 8 : 0u);
    if ((v & 1u) == 0) return 16;
    unsigned a = (v >> 1) & 7u;
    if (a != 0) return 17 + a;
    unsigned b = (v >> 4) & 7u;
    if (b == 1) return 0; /* large window */
    return b ? 8 + b : 17;
}

lac_status lacz_brotli_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                size_t *out_len, lac_error *err) {
    BrotliEncoderState *s = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (!s) return lac_fail(err, LAC_ERR_NOMEM, "brotli: cannot create the encoder");
    if (!BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, BROTLI_MAX_QUALITY) ||
        !BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, brotli_lgwin(n)) ||
        !BrotliEncoderSetParameter(s, BROTLI_PARAM_MODE, BROTLI_MODE_GENERIC) ||
        !BrotliEncoderSetParameter(s, BROTLI_PARAM_SIZE_HINT,
                                   n > (1u << 30) ? (1u << 30) : (uint32_t)n)) {
        BrotliEncoderDestroyInstance(s);
        return lac_fail(err, LAC_ERR_ARG, "brotli: parameter refused");
    }
    size_t avail_in = n, avail_out = cap;
    const uint8_t *next_in = in;
    uint8_t *next_out = out;
    lac_status st = LAC_OK;
    while (!BrotliEncoderIsFinished(s)) {
        if (avail_out == 0) {
            st = lac_fail(err, LAC_ERR_LIMIT, "brotli: output exceeds cap %zu", cap);
            break;
        }
        if (!BrotliEncoderCompressStream(s, BROTLI_OPERATION_FINISH, &avail_in, &next_in,
                                         &avail_out, &next_out, NULL)) {
            st = lac_fail(err, LAC_ERR_NOMEM, "brotli: encoder failed");
            break;
        }
    }
    /* brotli can hold output back until it has room: a finished stream has flushed it all */
    if (st == LAC_OK && BrotliEncoderHasMoreOutput(s))
        st = lac_fail(err, LAC_ERR_LIMIT, "brotli: output exceeds cap %zu", cap);
    BrotliEncoderDestroyInstance(s);
    if (st == LAC_OK) *out_len = cap - avail_out;
    return st;
}

lac_status lacz_brotli_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t plain_len,
                                  lac_error *err) {
    unsigned wbits = brotli_stream_wbits(in, n);
    if (wbits == 0 || wbits > brotli_lgwin(plain_len))
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "brotli: window code %u is not what %zu bytes of plain text use", wbits,
                        plain_len);
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!s) return lac_fail(err, LAC_ERR_NOMEM, "brotli: cannot create the decoder");
    size_t avail_in = n, avail_out = plain_len;
    const uint8_t *next_in = in;
    uint8_t *next_out = out;
    BrotliDecoderResult r =
        BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
    lac_status st = LAC_OK;
    switch (r) {
    case BROTLI_DECODER_RESULT_SUCCESS:
        if (avail_in != 0)
            st = lac_fail(err, LAC_ERR_CORRUPT, "brotli: %zu bytes after the end of the stream",
                          avail_in);
        else if (avail_out != 0)
            st = lac_fail(err, LAC_ERR_CORRUPT, "brotli: payload expands to %zu bytes, not %zu",
                          plain_len - avail_out, plain_len);
        break;
    case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
        st = lac_fail(err, LAC_ERR_CORRUPT, "brotli: payload truncated after %zu bytes of output",
                      plain_len - avail_out);
        break;
    case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
        st = lac_fail(err, LAC_ERR_CORRUPT, "brotli: payload expands beyond %zu bytes", plain_len);
        break;
    default: {
        BrotliDecoderErrorCode c = BrotliDecoderGetErrorCode(s);
        int alloc = c <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
                    c >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES;
        st = lac_fail(err, alloc ? LAC_ERR_NOMEM : LAC_ERR_CORRUPT,
                      "brotli: malformed payload at byte %zu: %s", n - avail_in,
                      BrotliDecoderErrorString(c));
        break;
    }
    }
    BrotliDecoderDestroyInstance(s);
    return st;
}
