/* numerics/quantize.c — logits -> integer frequencies (docs/NUMERICS.md §9, docs/CODER.md).
 *
 * This code is normative: the CUDA kernel (kernels/quantize.cu) computes the same integers,
 * from the same per-element steps (numerics/quant_steps.h). Only steps
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
#include "quant_steps.h"
#include "quantize.h"

/* Loops run over blocks of LANES elements with a fixed inner trip count (then a scalar tail),
 * which gcc -O2 vectorises; the results are the same as one plain loop. */
#define LANES 16u

void lac_coder_params_default(lac_coder_params *p) {
    if (!p) return;
    p->precision = LAC_PRECISION_DEFAULT;
    p->frac_bits = LAC_FRAC_BITS_DEFAULT;
    p->temperature = 1.0f;
}

lac_status lac_coder_params_check(const lac_coder_params *p, lac_error *err) {
    if (!p) return lac_fail(err, LAC_ERR_ARG, "coder params: NULL");
    if (p->precision < LAC_PRECISION_MIN || p->precision > LAC_PRECISION_MAX)
        return lac_fail(err, LAC_ERR_ARG, "coder params: precision %u out of range %u..%u",
                        p->precision, LAC_PRECISION_MIN, LAC_PRECISION_MAX);
    if (p->frac_bits < LAC_FRAC_BITS_MIN || p->frac_bits > LAC_FRAC_BITS_MAX)
        return lac_fail(err, LAC_ERR_ARG, "coder params: frac_bits %u out of range %u..%u",
                        p->frac_bits, LAC_FRAC_BITS_MIN, LAC_FRAC_BITS_MAX);
    if (!isfinite(p->temperature) || !(p->temperature > 0.0f))
        return lac_fail(err, LAC_ERR_ARG,
                        "coder params: temperature %g is not a finite number > 0",
                        (double)p->temperature);
    return LAC_OK;
}

/* The quantizer of one row, written once. It is always inlined into each ISA variant below,
 * so that every variant compiles the same C for its own instruction set (gcc turns the table
 * lookups into gathers with AVX2 / AVX-512). */
static inline __attribute__((always_inline)) void
quantize_row(const lac_coder_params *p, const float *logits, uint32_t vocab, uint32_t *freq) {
    if (!freq || vocab == 0) return;
    /* Arguments that lac_coder_params_check rejects, or V >= 2^P: every frequency is 0,
     * which the range coder refuses (lac_rc_enc_finish returns -1). Never undefined. */
    if (!p || !logits || p->precision < LAC_PRECISION_MIN || p->precision > LAC_PRECISION_MAX ||
        p->frac_bits < LAC_FRAC_BITS_MIN || p->frac_bits > LAC_FRAC_BITS_MAX ||
        !isfinite(p->temperature) || !(p->temperature > 0.0f) ||
        (uint64_t)vocab >= ((uint64_t)1 << p->precision)) {
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
            for (uint32_t j = 0; j < LANES; j++) lm[j] = lac_q_max(lm[j], zb[j]);
        }
        for (; i < V; i++) m = lac_q_max(m, z[i]);
        for (uint32_t j = 0; j < LANES; j++) m = lac_q_max(m, lm[j]);
    }

    /* Step 2: c; step 4's bound -L. */
    const float c = lac_q_scale(s, p->temperature), negL = lac_q_neg_limit(s);

    /* Steps 3-5: u[i] <= L = 48 * 2^s. Stored: freq[i] = u12 = u[i] << (12 - s), u in units
     * of 2^-12, which step 6 (lac_q_w12) reads. */
    const uint32_t fshift = 12u - s;
    uint32_t i = 0;
    for (; i + LANES <= V; i += LANES) {
        const float *zb = z + i;
        uint32_t *fb = f + i;
        for (uint32_t j = 0; j < LANES; j++) fb[j] = lac_q_u(zb[j], m, c, negL) << fshift;
    }
    for (; i < V; i++) f[i] = lac_q_u(z[i], m, c, negL) << fshift;

    /* ---- From here on: integers only. ---- */

    /* Step 6: w[i] replaces u12 in freq[i]. w[i] == 2^31 exactly when u[i] == 0.
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
            fb[j] = lac_q_w12(fb[j], LAC_EXP2_TABLE);
            wb += fb[j];
        }
        W += wb;
    }
    for (; i < V; i++) {
        if (f[i] == 0 && istar == V) istar = i;
        f[i] = lac_q_w12(f[i], LAC_EXP2_TABLE);
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

    /* Step 7: k < 2^32 (see lac_q_k). */
    const uint32_t k = (uint32_t)lac_q_k(P, V, W);

    /* Step 8: f[i] = 1 + ((w[i] * k) >> 32). Sum f <= V + W*k/2^32 <= 2^P, so the running
     * sum fits in 32 bits. */
    uint32_t sum = 0;
    {
        uint32_t lsum[LANES] = {0};
        for (i = 0; i + LANES <= V; i += LANES) {
            uint32_t *fb = f + i;
            for (uint32_t j = 0; j < LANES; j++) {
                fb[j] = lac_q_f(fb[j], k);
                lsum[j] += fb[j];
            }
        }
        for (; i < V; i++) {
            f[i] = lac_q_f(f[i], k);
            sum += f[i];
        }
        for (uint32_t j = 0; j < LANES; j++) sum += lsum[j];
    }

    /* Step 9: the remainder R = 2^P - sum f (>= 0) goes to i*. */
    f[istar] += (uint32_t)(((uint64_t)1 << P) - sum);
}

/* Each ISA variant is a named function (numerics/quantize.h), so that tests/test_quantize.c
 * can hold every one that the CPU runs against the literal spec: a variant computing other
 * frequencies would break decoding between machines. All give the same integers (the float
 * steps are single IEEE operations on any ISA, and -ffp-contract=off forbids contraction). */
void lac_quantize_freqs_generic(const lac_coder_params *p, const float *logits, uint32_t vocab,
                                uint32_t *freq) {
    quantize_row(p, logits, vocab, freq);
}

#if LAC_QUANT_ISA_VARIANTS
__attribute__((target("arch=x86-64-v3"))) void
lac_quantize_freqs_x86_64_v3(const lac_coder_params *p, const float *logits, uint32_t vocab,
                             uint32_t *freq) {
    quantize_row(p, logits, vocab, freq);
}

__attribute__((target("arch=x86-64-v4"))) void
lac_quantize_freqs_x86_64_v4(const lac_coder_params *p, const float *logits, uint32_t vocab,
                             uint32_t *freq) {
    quantize_row(p, logits, vocab, freq);
}

/* The best variant this CPU runs (the order target_clones would pick). A plain test per call,
 * not an ifunc: a resolver runs before the sanitizers' runtime is up, and the two reads of
 * what libgcc found at start-up cost nothing next to a row. */
void lac_quantize_freqs(const lac_coder_params *p, const float *logits, uint32_t vocab,
                        uint32_t *freq) {
    if (__builtin_cpu_supports("x86-64-v4"))
        lac_quantize_freqs_x86_64_v4(p, logits, vocab, freq);
    else if (__builtin_cpu_supports("x86-64-v3"))
        lac_quantize_freqs_x86_64_v3(p, logits, vocab, freq);
    else
        lac_quantize_freqs_generic(p, logits, vocab, freq);
}
#else
void lac_quantize_freqs(const lac_coder_params *p, const float *logits, uint32_t vocab,
                        uint32_t *freq) {
    quantize_row(p, logits, vocab, freq);
}
#endif

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
