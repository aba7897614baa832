/* codec_estimate.c */
#ifndef LAC_CODEC_ESTIMATE_H
#define LAC_CODEC_ESTIMATE_H
#include <stddef.h>
#include <stdint.h>
#include "lac.h"
/* The size of in[0..n) under zstd level 3 (fast): an upper bound of what lacz_codec_best finds
 * for zstd, used to skip the slow codecs where the model is far ahead. */
lac_status lacz_codec_estimate(const uint8_t *in, size_t n, size_t *size);
#endif
