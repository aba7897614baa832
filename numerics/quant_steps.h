/* quant_steps.h — the per-element steps of the logit quantizer (docs/NUMERICS.md §9), written
 * once: numerics/quantize.c (the CPU quantizer, vectorised loops around these steps) and
 * kernels/quantize.cu (one CUDA block per row) both call them, so the two cannot drift apart.
 * lac_q_row() is a plain whole-row reference built from the same steps (tests/test_cuda.c).
 *
 * Plain C, also valid CUDA: every function is `static inline`, and `__host__ __device__` when
 * compiled by nvcc. Float work stops at lac_q_u(); everything after is integers.
 * Include <stdint.h> first. */
#ifndef LAC_QUANT_STEPS_H
#define LAC_QUANT_STEPS_H

#include <stdint.h>

#ifdef __CUDACC__
#define LAC_QS static inline __host__ __device__
#else
#define LAC_QS static inline
#endif

/* Step 1 accumulation: the larger of m and z (NaN never wins; order-free). */
LAC_QS float lac_q_max(float m, float z) { return (z > m) ? z : m; }

/* Step 2: c = (log2 e * 2^s) / T. The product is exact (a power of two). */
LAC_QS float lac_q_scale(uint32_t s, float T) { return (1.44269504f * (float)(1u << s)) / T; }

/* Step 4's bound, negated: -L = -48 * 2^s (exact in fp32). */
LAC_QS float lac_q_neg_limit(uint32_t s) { return -(float)(48u << s); }

/* Steps 3-5: u = (uint32)((0 - y) + 0.5) with y = (z - m) * c clamped to [-L, 0]; NaN clamps
 * to -L. The value converted is in [0.5, L + 0.5], so converting through int32 (one SSE2
 * instruction on the CPU) gives the same integer as a direct unsigned conversion. */
LAC_QS uint32_t lac_q_u(float z, float m, float c, float neg_limit) {
    float y = (z - m) * c;
    y = y >= neg_limit ? y : neg_limit; /* also NaN -> -L */
    return (uint32_t)(int32_t)((0.0f - y) + 0.5f);
}

/* Step 6 for u12 = u << (12 - s) (u in units of 2^-12): EXP2[u12 mod 4096] >> (u12 / 4096).
 * That equals the 64-bit EXP2[(u & (2^s - 1)) << (12 - s)] >> (u >> s) of NUMERICS §9:
 * shifts of 32 or more give 0 (EXP2 < 2^32), written out so that no shift is undefined.
 * w <= 2^31, and w == 2^31 exactly when u == 0. */
LAC_QS uint32_t lac_q_w12(uint32_t u12, const uint32_t *exp2_table) {
    const uint32_t sh = u12 >> 12, t = exp2_table[u12 & 4095u];
    return sh < 32 ? t >> sh : 0;
}

/* Step 6 from u itself (u <= 48 * 2^s, so u << (12 - s) cannot overflow). */
LAC_QS uint32_t lac_q_w(uint32_t u, uint32_t s, const uint32_t *exp2_table) {
    return lac_q_w12(u << (12u - s), exp2_table);
}

/* A row where no u is 0 (no finite maximum: every logit NaN or -inf, or a +inf logit; or c
 * overflowed) is treated as uniform: every w = EXP2[0] = 2^31 and i* = 0. `uniform` selects
 * that. */
LAC_QS uint32_t lac_q_w_row(uint32_t u, uint32_t s, const uint32_t *exp2_table, int uniform) {
    return uniform ? exp2_table[0] : lac_q_w(u, s, exp2_table);
}

/* Step 7: k = (A << 32) / W with A = 2^P - V. W >= 2^31 (some w is 2^31) and A < 2^31, so
 * k < 2^32; W == 0 cannot happen and would give k = 0 (never divides by zero). */
LAC_QS uint64_t lac_q_k(uint32_t P, uint32_t V, uint64_t W) {
    const uint64_t A = ((uint64_t)1 << P) - V;
    return W ? (A << 32) / W : 0;
}

/* Step 8: f = 1 + ((w * k) >> 32); w <= 2^31 and k < 2^32, so w * k < 2^63. */
LAC_QS uint32_t lac_q_f(uint64_t w, uint64_t k) { return (uint32_t)(1u + ((w * k) >> 32)); }

/* A whole row from the steps above, one plain loop per step (host and device): the CUDA
 * kernel does the same with block reductions (integer sums are exact in any order). */
LAC_QS void lac_q_row(const float *z, uint32_t V, uint32_t P, uint32_t s, float T,
                      const uint32_t *exp2_table, uint32_t *freq) {
    if (V == 0) return;
    float m = -__builtin_inff();
    for (uint32_t i = 0; i < V; i++) m = lac_q_max(m, z[i]);
    const float c = lac_q_scale(s, T), negL = lac_q_neg_limit(s);
    uint64_t W = 0;
    uint32_t imax = V;
    for (uint32_t i = 0; i < V; i++) {
        const uint32_t u = lac_q_u(z[i], m, c, negL);
        W += lac_q_w(u, s, exp2_table);
        if (u == 0 && imax == V) imax = i;
    }
    const int uniform = imax == V;
    if (uniform) {
        W = (uint64_t)V * exp2_table[0];
        imax = 0;
    }
    const uint64_t k = lac_q_k(P, V, W);
    uint64_t F = 0;
    for (uint32_t i = 0; i < V; i++) {
        freq[i] = lac_q_f(lac_q_w_row(lac_q_u(z[i], m, c, negL), s, exp2_table, uniform), k);
        F += freq[i];
    }
    freq[imax] += (uint32_t)(((uint64_t)1 << P) - F);
}

#endif
