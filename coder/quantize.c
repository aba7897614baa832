/* coder/quantize.c — logits -> integer frequencies (docs/NUMERICS.md §9, docs/CODER.md).
 *
 * This code is normative: the CUDA kernel (kernels/) computes the same integers. Only steps
 * 1-5 touch floats, and each is a single IEEE fp32 operation in the written order (the build
 * uses -ffp-contract=off). Everything after step 5 is unsigned integer arithmetic with shift
 * counts below 64, so the result depends only on the logit bits, on every compiler/machine.
 *
 * Work: one pass for the max, one for steps 3-5 (freq[i] = u[i] << (12 - s)), one for step 6
 * (freq[i] = w[i], W, i*), one for step 8. freq[] is the only scratch; nothing is allocated.
 * Each pass runs over blocks of LANES elements with a fixed inner trip count, which gcc -O2
 * vectorises, then a scalar tail: the results are those of one plain loop per step (a test
 * compares against such a literal reference). */
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

/* Loops run over blocks of LANES elements with a fixed inner trip count (then a scalar tail),
 * which gcc -O2 vectorises; the results are the same as one plain loop. */
#define LANES 16u

/* Steps 3-5 for one logit: y = (z - m) * c, clamped to [-L, 0] (NaN -> -L), then
 * u = (uint32)((0 - y) + 0.5). The value converted is in [0.5, L + 0.5], so converting
 * through int32 (one SSE2 instruction) gives the same integer as a direct unsigned one. */
static inline uint32_t quant_u(float zi, float m, float c, float negL) {
    float y = (zi - m) * c;
    y = y >= negL ? y : negL; /* also NaN -> -L */
    return (uint32_t)(int32_t)((0.0f - y) + 0.5f);
}

/* Step 6 for u12 = u << (12 - s): EXP2[u12 mod 4096] >> (u12 / 4096). That equals the
 * 64-bit EXP2[(u & (2^s - 1)) << (12 - s)] >> (u >> s) of NUMERICS §9: shifts of 32 or more
 * give 0 (EXP2 < 2^32), written out so that no shift is undefined. */
static inline uint32_t exp2_w(uint32_t u12) {
    const uint32_t sh = u12 >> 12, t = LAC_EXP2_TABLE[u12 & 4095u];
    return sh < 32 ? t >> sh : 0;
}

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

/* With GCC on x86-64 Linux the function is also compiled for x86-64-v3 (AVX2) and x86-64-v4
 * (AVX-512), picked at load time: the same C, where gcc turns the table lookups into gathers.
 * All clones give the same integers (the float steps are single IEEE operations on any ISA,
 * and -ffp-contract=off forbids FMA contraction). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(LAC_QUANT_NO_CLONES)
#define LAC_QUANT_CLONES                                                                   \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LAC_QUANT_CLONES
#endif

LAC_QUANT_CLONES
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
    const float *restrict z = logits;
    uint32_t *restrict f = freq;

    /* Step 1: m = max z[i], NaN entries ignored (a comparison with NaN is false, so the
     * result does not depend on the order). All NaN/-inf rows give m = -inf. */
    float m = -INFINITY;
    {
        /* LANES partial maxima (vectorisable); max is order-free, so this is just speed. */
        float lm[LANES];
        for (uint32_t j = 0; j < LANES; j++) lm[j] = -INFINITY;
        uint32_t i = 0;
        for (; i + LANES <= V; i += LANES) {
            const float *zb = z + i;
            for (uint32_t j = 0; j < LANES; j++) lm[j] = zb[j] > lm[j] ? zb[j] : lm[j];
        }
        for (; i < V; i++) m = z[i] > m ? z[i] : m;
        for (uint32_t j = 0; j < LANES; j++) m = lm[j] > m ? lm[j] : m;
    }

    /* Step 2: c = (log2(e) * 2^s) / T. The product is exact (power of two). */
    const float c = (1.44269504f * (float)(1u << s)) / p->temperature;
    /* Step 4's bound: L = 48 * 2^s (exact in fp32). */
    const float negL = -(float)(48u << s);

    /* Steps 3-5: u[i] = (uint32)((0 - y[i]) + 0.5), y[i] = max((z[i] - m) * c, -L) with NaN
     * mapped to -L. y[i] is in [-L, 0], so the converted value is in [0.5, L + 0.5] and
     * converting through int32 equals the unsigned conversion. u[i] <= L = 48 * 2^s.
     * Stored: freq[i] = u12 = u[i] << (12 - s), u in units of 2^-12 (see exp2_w). */
    const uint32_t fshift = 12u - s;
    uint32_t i = 0;
    for (; i + LANES <= V; i += LANES) {
        const float *zb = z + i;
        uint32_t *fb = f + i;
        for (uint32_t j = 0; j < LANES; j++) fb[j] = quant_u(zb[j], m, c, negL) << fshift;
    }
    for (; i < V; i++) f[i] = quant_u(z[i], m, c, negL) << fshift;

    /* ---- From here on: integers only. ---- */

    /* Step 6: w[i] = EXP2[(u & (2^s - 1)) << (12 - s)] >> (u >> s) (64-bit in the spec),
     * computed from u12 by exp2_w(). w[i] <= 2^31, and w[i] == 2^31 exactly when u[i] == 0
     * (EXP2[f] < 2^31 for f > 0). w[i] replaces u12 in freq[i].
     * Also W = sum w[i] (step 7) and i* = the smallest index with u[i] == 0 (step 9). */
    uint64_t W = 0;
    uint32_t istar = V; /* V = none yet */
    for (i = 0; i + LANES <= V; i += LANES) {
        uint32_t *fb = f + i;
        uint32_t zero = 0;
        for (uint32_t j = 0; j < LANES; j++) zero |= fb[j] == 0;
        if (zero && istar == V)
            for (uint32_t j = 0; j < LANES && istar == V; j++)
                if (fb[j] == 0) istar = i + j;
        uint64_t wb = 0;
        for (uint32_t j = 0; j < LANES; j++) { /* the lookups become a gather with AVX2 */
            fb[j] = exp2_w(fb[j]);
            wb += fb[j];
        }
        W += wb;
    }
    for (; i < V; i++) {
        if (f[i] == 0 && istar == V) istar = i;
        f[i] = exp2_w(f[i]);
        W += f[i];
    }
    /* No u[i] is 0 only when the row has no finite maximum (every logit NaN or -inf, or a
     * +inf logit) or when c overflowed to +inf (T below ~1.7e-35): then every y[i] was
     * clamped to -L and the row is treated as uniform, u[i] = 0 for all i, i* = 0. */
    if (istar == V) {
        for (i = 0; i < V; i++) f[i] = LAC_EXP2_TABLE[0];
        W = (uint64_t)V << 31;
        istar = 0;
    }

    /* Step 7: A = 2^P - V, k = (A << 32) / W. W >= 2^31 and A < 2^31, so k < 2^32. */
    const uint64_t A = ((uint64_t)1 << P) - V;
    const uint32_t k = (uint32_t)((A << 32) / W);

    /* Step 8: f[i] = 1 + ((w[i] * k) >> 32); w * k < 2^63. Sum f <= V + W*k/2^32 <= 2^P,
     * so the running sum fits in 32 bits. */
    uint32_t sum = 0;
    {
        uint32_t lsum[LANES] = {0};
        for (i = 0; i + LANES <= V; i += LANES) {
            uint32_t *fb = f + i;
            for (uint32_t j = 0; j < LANES; j++) {
                fb[j] = 1u + (uint32_t)(((uint64_t)fb[j] * k) >> 32);
                lsum[j] += fb[j];
            }
        }
        for (; i < V; i++) {
            f[i] = 1u + (uint32_t)(((uint64_t)f[i] * k) >> 32);
            sum += f[i];
        }
        for (uint32_t j = 0; j < LANES; j++) sum += lsum[j];
    }

    /* Step 9: the remainder R = 2^P - sum f (>= 0) goes to i*. */
    f[istar] += (uint32_t)(((uint64_t)1 << P) - sum);
}

uint32_t lac_freqs_find(const uint32_t *freq, uint32_t vocab, uint32_t target, uint32_t *cum,
                        uint32_t *sym_freq) {
    uint32_t c = 0, s = 0;
    if (freq && vocab) {
        /* linear: the row is read once anyway, and integer sums are exact in any order */
        for (s = 0; s + 1 < vocab && target - c >= freq[s]; s++) c += freq[s];
    }
    if (cum) *cum = c;
    if (sym_freq) *sym_freq = freq && vocab ? freq[s] : 0;
    return s;
}
