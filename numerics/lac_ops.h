/* lac_ops.h — GELU (docs/NUMERICS.md §4), LayerNorm (§3) and the R32 row sum (§1), written
 * once for the CPU backends (engine/forward_scalar.c, engine/forward_fast*.c) and the CUDA
 * kernels (kernels/matmul.cu, kernels/layers.cu). Same rules as lac_math.h: + - * / fmaf sqrtf
 * only, in the written order; `__host__ __device__` under nvcc. This code is normative.
 *
 * R32 is the order of a row sum: 32 partial sums p[i mod 32], then a fixed halving tree
 * (s = 16, 8, 4, 2, 1: p[j] += p[j + s]). The AVX2/AVX-512 kernels keep p[] in vector
 * registers and the CUDA kernels in the 32 lanes of a warp (shuffles); they end in the same
 * tree. */
#ifndef LAC_OPS_H
#define LAC_OPS_H

#include <math.h>

#include "lac_math.h"

/* §4, gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
LAC_MATH_FN float lac_gelu(float x) {
    const float x3 = (x * x) * x;
    const float u = x + 0.044715f * x3;
    const float v = 0.7978845608028654f * u;
    return (0.5f * x) * (1.0f + lac_tanhf(v));
}

/* §1: the halving tree over p[0..31] (p is overwritten); the result is p[0]. */
LAC_MATH_FN float lac_r32_tree(float *p) {
    for (int s = 16; s >= 1; s /= 2)
        for (int j = 0; j < s; j++) p[j] = p[j] + p[j + s];
    return p[0];
}

/* §1: R32(x[0..n)) and R32 of the squares (each partial sum one fmaf chain). */
LAC_MATH_FN float lac_r32_sum(const float *x, int n) {
    float p[32];
    for (int j = 0; j < 32; j++) p[j] = 0.0f;
    for (int i = 0; i < n; i++) p[i % 32] = p[i % 32] + x[i];
    return lac_r32_tree(p);
}

LAC_MATH_FN float lac_r32_sumsq(const float *x, int n) {
    float p[32];
    for (int j = 0; j < 32; j++) p[j] = 0.0f;
    for (int i = 0; i < n; i++) p[i % 32] = fmaf(x[i], x[i], p[i % 32]);
    return lac_r32_tree(p);
}

/* §3, the last two steps: rstd = 1 / sqrt(var + eps), y = fmaf(d * rstd, w, b) with
 * d = x - mean. */
LAC_MATH_FN float lac_ln_rstd(float var, float eps) { return 1.0f / sqrtf(var + eps); }
LAC_MATH_FN float lac_ln_out(float d, float rstd, float w, float b) {
    return fmaf(d * rstd, w, b);
}

/* §3, one row on the CPU: mean = R32(x) / C, d = x - mean (held in y), var = R32(d^2) / C.
 * r32 and r32sq are the caller's R32 (its ISA's vector form, or lac_r32_sum / _sumsq). */
static inline void lac_layernorm_row(float (*r32)(const float *, int),
                                     float (*r32sq)(const float *, int), const float *x,
                                     const float *w, const float *b, int C, float eps, float *y) {
    const float mean = r32(x, C) / (float)C;
    for (int i = 0; i < C; i++) y[i] = x[i] - mean;
    const float rstd = lac_ln_rstd(r32sq(y, C) / (float)C, eps);
    for (int i = 0; i < C; i++) y[i] = lac_ln_out(y[i], rstd, w[i], b[i]);
}

#endif
