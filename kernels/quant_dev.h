/* quant_dev.h — the per-element steps of the logit quantizer (docs/NUMERICS.md §9), written
 * once for the CUDA kernel (kernels/quantize.cu) and for the host self-check in
 * tests/test_cuda.c, which compares lac_qd_row() with coder/quantize.c on the CPU.
 *
 * Plain C, also valid CUDA: every function is `static inline`, and `__host__ __device__` when
 * compiled by nvcc. Float work stops at lac_qd_u(); everything after is 64-bit integers.
 * Include <stdint.h> first. */
#ifndef LAC_QUANT_DEV_H
#define LAC_QUANT_DEV_H

#include <stdint.h>

#ifdef __CUDACC__
#define LAC_QD static inline __host__ __device__
#else
#define LAC_QD static inline
#endif

/* Step 1 accumulation: the larger of m and z (NaN never wins; order-free). */
LAC_QD float lac_qd_max(float m, float z) { return (z > m) ? z : m; }

/* Step 2: c = (log2 e * 2^s) / T. */
LAC_QD float lac_qd_scale(uint32_t s, float T) { return (1.44269504f * (float)(1u << s)) / T; }

/* Step 4's bound L = 48 * 2^s (exact in fp32). */
LAC_QD float lac_qd_limit(uint32_t s) { return (float)(48u << s); }

/* Steps 3-5: u = round(-y) with y = (z - m) * c clamped to [-L, 0]. NaN clamps to -L. */
LAC_QD uint32_t lac_qd_u(float z, float m, float c, float L) {
    float y = (z - m) * c;
    if (!(y >= -L)) y = -L;
    return (uint32_t)((0.0f - y) + 0.5f);
}

/* Step 6: w = EXP2[(u mod 2^s) << (12 - s)] >> (u >> s), 64-bit (u >> s <= 48, so the shift
 * is defined; any shift >= 32 gives 0 because EXP2 < 2^32). */
LAC_QD uint64_t lac_qd_w(uint32_t u, uint32_t s, const uint32_t *exp2_table) {
    const uint32_t f = (u & ((1u << s) - 1u)) << (12u - s);
    return (uint64_t)exp2_table[f] >> (u >> s);
}

/* A row where no u is 0 (no finite maximum: every logit NaN or -inf, or a +inf logit; or c
 * overflowed) is treated as uniform, as coder/quantize.c does: every w = EXP2[0] = 2^31 and
 * i* = 0. `uniform` selects that. */
LAC_QD uint64_t lac_qd_w_row(uint32_t u, uint32_t s, const uint32_t *exp2_table, int uniform) {
    return uniform ? (uint64_t)exp2_table[0] : lac_qd_w(u, s, exp2_table);
}

/* Step 7: k = (A << 32) / W with A = 2^P - V. W >= 2^31 (some w is 2^31), so k < 2^32;
 * W == 0 cannot happen and would give k = 0 (never divides by zero). */
LAC_QD uint64_t lac_qd_k(uint32_t P, uint32_t V, uint64_t W) {
    const uint64_t A = ((uint64_t)1 << P) - V;
    return W ? (A << 32) / W : 0;
}

/* Step 8: f = 1 + ((w * k) >> 32); w <= 2^31 and k < 2^32 (A < 2^31 <= W), so w * k < 2^63. */
LAC_QD uint32_t lac_qd_f(uint64_t w, uint64_t k) { return (uint32_t)(1u + ((w * k) >> 32)); }

/* Host/device reference of a whole row, built from the steps above: the kernel does the same
 * with block reductions (integer sums are exact, so their order does not matter). */
LAC_QD void lac_qd_row(const float *z, uint32_t V, uint32_t P, uint32_t s, float T,
                       const uint32_t *exp2_table, uint32_t *freq) {
    if (V == 0) return;
    float m = -__builtin_inff();
    for (uint32_t i = 0; i < V; i++) m = lac_qd_max(m, z[i]);
    const float c = lac_qd_scale(s, T), L = lac_qd_limit(s);
    uint64_t W = 0;
    uint32_t imax = V;
    for (uint32_t i = 0; i < V; i++) {
        const uint32_t u = lac_qd_u(z[i], m, c, L);
        W += lac_qd_w(u, s, exp2_table);
        if (u == 0 && imax == V) imax = i;
    }
    const int uniform = imax == V;
    if (uniform) {
        W = (uint64_t)V * exp2_table[0];
        imax = 0;
    }
    const uint64_t k = lac_qd_k(P, V, W);
    uint64_t F = 0;
    for (uint32_t i = 0; i < V; i++) {
        freq[i] = lac_qd_f(lac_qd_w_row(lac_qd_u(z[i], m, c, L), s, exp2_table, uniform), k);
        F += freq[i];
    }
    freq[imax] += (uint32_t)(((uint64_t)1 << P) - F);
}

#endif
