/* numerics/quantize.h — the quantizer's ISA variants by name (numerics/quantize.c). The public
 * lac_quantize_freqs (lac.h) calls the best one the CPU runs; tests call each
 * variant directly to hold it against the spec. */
#ifndef LAC_NUMERICS_QUANTIZE_H
#define LAC_NUMERICS_QUANTIZE_H
#include <stdint.h>

#include "lac.h"

/* x86-64-v3 (AVX2) and x86-64-v4 (AVX-512) variants: GCC on x86-64 Linux only. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(LAC_QUANT_NO_CLONES)
#define LAC_QUANT_ISA_VARIANTS 1
#else
#define LAC_QUANT_ISA_VARIANTS 0
#endif

/* The plain build (the default target of the compiler). */
void lac_quantize_freqs_generic(const lac_coder_params *p, const float *logits, uint32_t vocab,
                                uint32_t *freq);
#if LAC_QUANT_ISA_VARIANTS
void lac_quantize_freqs_x86_64_v3(const lac_coder_params *p, const float *logits,
                                  uint32_t vocab, uint32_t *freq);
void lac_quantize_freqs_x86_64_v4(const lac_coder_params *p, const float *logits,
                                  uint32_t vocab, uint32_t *freq);
#endif
#endif
