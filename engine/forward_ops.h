/* Row operations shared by the fast kernels (included by forward_fast.c, forward_avx2.c and
 * forward_avx512.c so that each is compiled with its file's ISA flags: fmaf is then one
 * instruction). Exactly docs/NUMERICS.md §3 (LayerNorm) and §4 (GELU). */
#ifndef LAC_FORWARD_OPS_H
#define LAC_FORWARD_OPS_H
#include <math.h>
#include <stddef.h>

#include "lac_math.h"

static inline void lac_op_layernorm(float (*r32)(const float *, int),
                                    float (*r32sq)(const float *, int), const float *x,
                                    const float *w, const float *b, int C, float eps, float *y) {
    const float mean = r32(x, C) / (float)C;
    for (int i = 0; i < C; i++) y[i] = x[i] - mean;
    const float var = r32sq(y, C) / (float)C;
    const float rstd = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < C; i++) y[i] = fmaf(y[i] * rstd, w[i], b[i]);
}

static inline void lac_op_gelu(float *h, size_t n) {
    for (size_t k = 0; k < n; k++) {
        const float x = h[k];
        const float x3 = (x * x) * x;
        const float u = x + 0.044715f * x3;
        const float v = 0.7978845608028654f * u;
        h[k] = (0.5f * x) * (1.0f + lac_tanhf(v));
    }
}

/* e[j] = lac_expf(s[j] - max_j s[j]) for j < n (the max is order-free). */
static inline void lac_op_softmax_exp(float *s, int n) {
    float mx = s[0];
    for (int j = 1; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    for (int j = 0; j < n; j++) s[j] = lac_expf(s[j] - mx);
}
#endif
