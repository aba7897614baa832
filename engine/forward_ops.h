/* Row operations shared by the fast kernels (included by forward_fast.c, forward_avx2.c and
 * forward_avx512.c so that each is compiled with its file's ISA flags: fmaf is then one
 * instruction). The formulas are numerics/lac_ops.h (§3 LayerNorm, §4 GELU) and lac_math.h. */
#ifndef LAC_FORWARD_OPS_H
#define LAC_FORWARD_OPS_H
#include <math.h>
#include <stddef.h>

#include "lac_math.h"
#include "lac_ops.h"

static inline void lac_op_gelu(float *h, size_t n) {
    for (size_t k = 0; k < n; k++) h[k] = lac_gelu(h[k]);
}

/* e[j] = lac_expf(s[j] - max_j s[j]) for j < n (the max is order-free). */
static inline void lac_op_softmax_exp(float *s, int n) {
    float mx = s[0];
    for (int j = 1; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    for (int j = 0; j < n; j++) s[j] = lac_expf(s[j] - mx);
}
#endif
