/* libFuzzer target for the quantizer (numerics/quantize.c, docs/NUMERICS.md §9, docs/CODER.md).
 *
 * Input layout: byte 0 -> P (28..31 mostly, sometimes out of range), byte 1 -> s, bytes 2..5 ->
 * the temperature's fp32 bits, the rest -> logits (raw fp32 bits: NaN, inf, subnormals...).
 * Checks: valid parameters give every freq >= 1 and a sum of exactly 2^P; invalid ones (as
 * lac_coder_params_check says) give all zeros. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 6) return 0;
    lac_coder_params p;
    const uint32_t n_p = LAC_PRECISION_MAX - LAC_PRECISION_MIN + 1;
    const uint32_t n_s = LAC_FRAC_BITS_MAX - LAC_FRAC_BITS_MIN + 1;
    p.precision = data[0] < 240 ? LAC_PRECISION_MIN + data[0] % n_p : data[0] % 40u;
    p.frac_bits = data[1] < 240 ? LAC_FRAC_BITS_MIN + data[1] % n_s : data[1] % 16u;
    memcpy(&p.temperature, data + 2, sizeof p.temperature);
    if (data[0] & 1) p.temperature = 1.0f; /* keep half the inputs at a sane temperature */
    size_t V = (size - 6) / sizeof(float);
    if (V == 0) return 0;
    float *z = malloc(V * sizeof *z);
    uint32_t *f = malloc(V * sizeof *f);
    if (!z || !f) abort();
    memcpy(z, data + 6, V * sizeof *z);
    memset(f, 0xA5, V * sizeof *f);
    lac_quantize_freqs(&p, z, (uint32_t)V, f);
    if (lac_coder_params_check(&p, NULL) == LAC_OK) {
        uint64_t sum = 0;
        for (size_t i = 0; i < V; i++) {
            if (f[i] == 0) abort();
            sum += f[i];
        }
        if (sum != (uint64_t)1 << p.precision) abort();
    } else {
        for (size_t i = 0; i < V; i++)
            if (f[i] != 0) abort();
    }
    free(z);
    free(f);
    return 0;
}
