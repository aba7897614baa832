/* The classic fallback codecs of .lacz format v2 (coder/codecs.c dispatches, one codec_*.c per
 * codec): a segment the model codes badly is stored, or coded with LZMA2, zstd, brotli or bzip2,
 * whichever is smallest. Every payload is bare: no magic, no sizes, no checksum, nothing the
 * decoder can derive from the method and the segment's plain length, which the container
 * records anyway. The codec parameters (dictionary, window) are fixed functions of the plain
 * length, so the encoder and the decoder agree without storing them, and the decoder's memory
 * is bounded by the plain length plus each codec's fixed state, whatever the payload says. */
#ifndef LAC_CODECS_H
#define LAC_CODECS_H
#include <stddef.h>
#include <stdint.h>
#include "lac.h"

/* The method ids are written in the file: never renumber. */
typedef enum lacz_method {
    LACZ_METHOD_MODEL = 0,
    LACZ_METHOD_STORED = 1,
    LACZ_METHOD_LZMA2 = 2,
    LACZ_METHOD_ZSTD = 3,
    LACZ_METHOD_BROTLI = 4,
    LACZ_METHOD_BZIP2 = 5
} lacz_method;
#define LACZ_METHOD_COUNT 6

/* Bit mask of methods for lacz_codec_best: LACZ_METHOD_BIT(LACZ_METHOD_ZSTD) | ... */
#define LACZ_METHOD_BIT(m) (1u << (m))
/* Stored and the four classic codecs (everything lacz_codec_compress handles). */
#define LACZ_METHODS_CLASSIC                                                                     \
    (LACZ_METHOD_BIT(LACZ_METHOD_STORED) | LACZ_METHOD_BIT(LACZ_METHOD_LZMA2) |                  \
     LACZ_METHOD_BIT(LACZ_METHOD_ZSTD) | LACZ_METHOD_BIT(LACZ_METHOD_BROTLI) |                  \
     LACZ_METHOD_BIT(LACZ_METHOD_BZIP2))

/* "model", "stored", "lzma2", "zstd", "brotli", "bzip2"; "?" for any other value. */
const char *lacz_method_name(int method);

/* Compresses in[0..n) with `method` (LZMA2/ZSTD/BROTLI/BZIP2 at maximum effort, or STORED =
 * copy) into out[0..cap). LAC_OK with *out_len; LAC_ERR_LIMIT when the result would not fit in
 * cap (the caller then does not use that method); LAC_ERR_ARG for MODEL or an unknown method;
 * other codes for real failures (LAC_ERR_NOMEM...). Deterministic: same input, same bytes.
 * in may be NULL when n == 0. */
lac_status lacz_codec_compress(int method, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                               size_t *out_len, lac_error *err);

/* Decodes a payload in[0..n) that must expand to exactly plain_len bytes into
 * out[0..plain_len). Malformed data, a different length (shorter or longer) or bytes after the
 * codec's end are LAC_ERR_CORRUPT with a one-line message naming the method; MODEL or an
 * unknown method is LAC_ERR_FORMAT. Never reads or writes out of bounds; allocates at most a
 * bound derived from plain_len plus the codec's fixed state (bzip2: 3.6 MB; brotli: its
 * window, at most 16 MiB), whatever the payload claims. out may be NULL when plain_len == 0. */
lac_status lacz_codec_decompress(int method, const uint8_t *in, size_t n, uint8_t *out,
                                 size_t plain_len, lac_error *err);

/* Tries each method of `methods` (a LACZ_METHOD_BIT mask; MODEL is ignored) in the fixed order
 * stored, zstd, brotli, lzma2, bzip2 (fastest decoder first) and keeps the smallest in
 * out[0..cap): *method and *out_len. A later method must be strictly smaller to win, so ties
 * are deterministic and favour the faster decoder. Each candidate is coded into one scratch
 * buffer with the cap lowered to beat the best so far (a loser stops early). LAC_ERR_LIMIT when
 * no method fits in cap; other codes for real failures. */
lac_status lacz_codec_best(unsigned methods, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                           int *method, size_t *out_len, lac_error *err);

/* ---- one entry pair per codec (coder/codec_<name>.c), called through the two above, which
 * have checked the method and the NULL/empty cases ---------------------------------------- */
lac_status lacz_lzma2_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                               size_t *out_len, lac_error *err);
lac_status lacz_lzma2_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t plain_len,
                                 lac_error *err);
lac_status lacz_zstd_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                              size_t *out_len, lac_error *err);
lac_status lacz_zstd_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t plain_len,
                                lac_error *err);
lac_status lacz_brotli_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                                size_t *out_len, lac_error *err);
lac_status lacz_brotli_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t plain_len,
                                  lac_error *err);
lac_status lacz_bzip2_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                               size_t *out_len, lac_error *err);
lac_status lacz_bzip2_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t plain_len,
                                 lac_error *err);

/* ceil(log2(n)) clamped to [lo, hi]: the dictionary / window size every codec derives from the
 * plain length (the same function on both sides, so nothing is stored). */
unsigned lacz_codec_log2_fit(size_t n, unsigned lo, unsigned hi);

#endif
