/* A quick size estimate (zstd level 3) that tells the writer whether the classic codecs at full
 * effort could beat the model on a text segment (compress.c). */
#include <stdlib.h>
#include <zstd.h>

#include "codecs.h"
#include "lac_error.h"

lac_status lacz_codec_estimate(const uint8_t *in, size_t n, size_t *size) {
    size_t cap = ZSTD_compressBound(n);
    void *out = malloc(cap ? cap : 1);
    if (!out) return LAC_ERR_NOMEM;
    size_t r = ZSTD_compress(out, cap, in, n, 3);
    free(out);
    if (ZSTD_isError(r)) return LAC_ERR_FORMAT;
    *size = r;
    return LAC_OK;
}
