/* coder/quantize.c — logits -> integer frequencies (docs/NUMERICS.md §9, docs/CODER.md).
 *
 * This code is normative: the CUDA kernel (kernels/) computes the same integers. Only steps
 * 1-5 touch floats, and each is a single IEEE fp32 operation in the written order (the build
 * uses -ffp-contract=off). Everything after step 5 is unsigned integer arithmetic with shift
 * counts below 64, so the result depends only on the logit bits, on every compiler/machine.
 *
 * Work is split into three loops over the row so that gcc can vectorise the float loop and the
 * final integer loop (the table lookup in the middle stays scalar on baseline x86-64). freq[]
 * is used as scratch for u[i] and then w[i] before it receives the frequencies. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lac.h"
#include "lac_error.h"

#include "exp2_table.h"

#define LAC_P_MIN 28u
#define LAC_P_MAX 31u
#define LAC_S_MIN 8u
#define LAC_S_MAX 12u

void lac_coder_params_default(lac_coder_params *p) {
    if (!p) return;
    p->precision = 30;
    p->frac_bits = 12;
    p->temperature = 1.0f;
}

lac_status lac_coder_params_check(const lac_coder_params *p, lac_error *err) {
    if (!p) return lac_fail(err, LAC_ERR_ARG, "coder params: NULL");
    if (p->precision < LAC_P_MIN || p->precision > LAC_P_MAX)
        return lac_fail(err, LAC_ERR_ARG, "coder params: precision %u out of range %u..%u",
                        p->precision, LAC_P_MIN, LAC_P_MAX);
    if (p->frac_bits < LAC_S_MIN || p->frac_bits > LAC_S_MAX)
        return lac_fail(err, LAC_ERR_ARG, "coder params: frac_bits %u out of range %u..%u",
                        p->frac_bits, LAC_S_MIN, LAC_S_MAX);
    if (!isfinite(p->temperature) || !(p->temperature > 0.0f))
        return lac_fail(err, LAC_ERR_ARG,
                        "coder params: temperature %g is not a finite number > 0",
                        (double)p->temperature);
    return LAC_OK;
}

void lac_quantize_freqs(const lac_coder_params *p, const float *logits, uint32_t vocab,
                        uint32_t *freq) {
    if (!freq || vocab == 0) return;
    /* Arguments that lac_coder_params_check rejects, or V >= 2^P: every frequency is 0,
     * which the range coder refuses (lac_rc_enc_finish returns -1). Never undefined. */
    if (!p || !logits || p->precision < LAC_P_MIN || p->precision > LAC_P_MAX ||
        p->frac_bits < LAC_S_MIN || p->frac_bits > LAC_S_MAX || !isfinite(p->temperature) ||
        !(p->temperature > 0.0f) || (uint64_t)vocab >= ((uint64_t)1 << p->precision)) {
        memset(freq, 0, (size_t)vocab * sizeof *freq);
        return;
    }
    const uint32_t P = p->precision, s = p->frac_bits, V = vocab;

    /* Step 1: m = max z[i], NaN entries ignored (a comparison with NaN is false, so the
     * result does not depend on the order). All NaN/-inf rows give m = -inf. */
    float m = -INFINITY;
    for (uint32_t i = 0; i < V; i++) m = logits[i] > m ? logits[i] : m;

    /* Step 2: c = (log2(e) * 2^s) / T. The product is exact (power of two). */
    const float c = (1.44269504f * (float)(1u << s)) / p->temperature;
    /* Step 4's bound: L = 48 * 2^s (exact in fp32). */
    const float negL = -(float)(48u << s);

    /* Steps 3-5: u[i] = (uint32)((0 - y[i]) + 0.5), y[i] = max((z[i] - m) * c, -L) with NaN
     * mapped to -L. y[i] is in [-L, 0], so the converted value is in [0.5, L + 0.5] and the
     * conversion through int32 equals the unsigned one. u[i] <= L, stored in freq[i]. */
    for (uint32_t i = 0; i < V; i++) {
        float y = (logits[i] - m) * c;
        if (!(y >= negL)) y = negL;
        freq[i] = (uint32_t)(int32_t)((0.0f - y) + 0.5f);
    }
    /* ---- From here on: integers only. ---- */

    /* Step 6: w[i] = EXP2[(u & (2^s - 1)) << (12 - s)] >> (u >> s), in 64 bits. u >> s <= 48,
     * so the shift is defined; it yields 0 from 32 on since EXP2 < 2^32. w[i] <= 2^31, and
     * w[i] == 2^31 exactly when u[i] == 0 (EXP2[f] < 2^31 for f > 0).
     * Also: W = sum w[i] (step 7) and i* = the smallest index with u[i] == 0 (step 9). */
    const uint32_t fmask = (1u << s) - 1u, fshift = 12u - s;
    uint64_t W = 0;
    uint32_t istar = V; /* V = none yet */
    for (uint32_t i = 0; i < V; i++) {
        const uint32_t u = freq[i];
        const uint64_t w = (uint64_t)LAC_EXP2_TABLE[(u & fmask) << fshift] >> (u >> s);
        if (u == 0 && istar == V) istar = i;
        freq[i] = (uint32_t)w;
        W += w;
    }
    /* No u[i] is 0 only when the row has no finite maximum (every logit NaN or -inf, or a
     * +inf logit) or when c overflowed to +inf (T below ~1.7e-35): then every y[i] was
     * clamped to -L and the row is treated as uniform, u[i] = 0 for all i, i* = 0. */
    if (istar == V) {
        for (uint32_t i = 0; i < V; i++) freq[i] = LAC_EXP2_TABLE[0];
        W = (uint64_t)V << 31;
        istar = 0;
    }

    /* Step 7: A = 2^P - V, k = (A << 32) / W. W >= 2^31 and A < 2^31, so k < 2^32. */
    const uint64_t A = ((uint64_t)1 << P) - V;
    const uint32_t k = (uint32_t)((A << 32) / W);

    /* Step 8: f[i] = 1 + ((w[i] * k) >> 32); w * k < 2^63. Sum f <= V + W*k/2^32 <= 2^P,
     * so the running sum fits in 32 bits. */
    uint32_t sum = 0;
    for (uint32_t i = 0; i < V; i++) {
        const uint32_t f = 1u + (uint32_t)(((uint64_t)freq[i] * k) >> 32);
        freq[i] = f;
        sum += f;
    }

    /* Step 9: the remainder R = 2^P - sum f (>= 0) goes to i*. */
    freq[istar] += (uint32_t)(((uint64_t)1 << P) - sum);
}
