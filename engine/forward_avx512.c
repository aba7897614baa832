/* forward_avx512.c — AVX-512F kernels of the fast CPU backend (built with -mavx512f -mfma,
 * selected at run time). Each of the 16 lanes owns one output's fmaf chain (docs/NUMERICS.md
 * §1); register blocks of 6 rows x 4 vectors (64 columns); tails use lane masks. */
#include "forward_fast.h"
#include "forward_ops.h"
#ifdef LAC_FAST_X86
#include <immintrin.h>

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

/* NR rows x NV vectors from column n; mask applies to the last vector. */
static inline __attribute__((always_inline)) void
mk(const int NR, const int NV, const float *X, int ldx, int K, const float *W, int N,
   const float *bias, float *const *Y, int n, __mmask16 m) {
    __m512 acc[6][4];
    _Pragma("GCC unroll 6")
    for (int r = 0; r < NR; r++)
        _Pragma("GCC unroll 6")
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    const float *w = W + n;
    for (int k = 0; k < K; k++, w += N) {
        __m512 wv[4];
        _Pragma("GCC unroll 6")
        for (int v = 0; v < NV; v++)
            wv[v] = (v == NV - 1) ? _mm512_maskz_loadu_ps(m, w + 16 * v) : _mm512_loadu_ps(w + 16 * v);
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) {
            const __m512 xb = _mm512_set1_ps(X[(size_t)r * ldx + k]);
            _Pragma("GCC unroll 6")
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(xb, wv[v], acc[r][v]);
        }
    }
    _Pragma("GCC unroll 6")
    for (int v = 0; v < NV; v++) {
        const __mmask16 mv = (v == NV - 1) ? m : (__mmask16)0xffff;
        const __m512 bv = bias ? _mm512_maskz_loadu_ps(mv, bias + n + 16 * v) : _mm512_setzero_ps();
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) {
            __m512 o = bias ? _mm512_add_ps(acc[r][v], bv) : acc[r][v];
            _mm512_mask_storeu_ps(Y[r] + n + 16 * v, mv, o);
        }
    }
}

#define MK_ROWS(NV, mask)                                                                   \
    do {                                                                                    \
        int r = 0;                                                                          \
        for (; r + 6 <= R; r += 6) mk(6, NV, X + (size_t)r * ldx, ldx, K, W, N, bias, Y + r, n, mask); \
        switch (R - r) {                                                                    \
        case 5: mk(5, NV, X + (size_t)r * ldx, ldx, K, W, N, bias, Y + r, n, mask); break;  \
        case 4: mk(4, NV, X + (size_t)r * ldx, ldx, K, W, N, bias, Y + r, n, mask); break;  \
        case 3: mk(3, NV, X + (size_t)r * ldx, ldx, K, W, N, bias, Y + r, n, mask); break;  \
        case 2: mk(2, NV, X + (size_t)r * ldx, ldx, K, W, N, bias, Y + r, n, mask); break;  \
        case 1: mk(1, NV, X + (size_t)r * ldx, ldx, K, W, N, bias, Y + r, n, mask); break;  \
        default: break;                                                                     \
        }                                                                                   \
    } while (0)

static void matmul(const float *X, int ldx, int R, int K, const float *W, int N,
                   const float *bias, float *const *Y, int n0, int n1) {
    int n = n0;
    for (; n + 64 <= n1; n += 64) MK_ROWS(4, (__mmask16)0xffff);
    for (; n < n1; n += 16) MK_ROWS(1, tail_mask(n1 - n));
}

static void scores(const float *q, const float *Kt, int ldk, int hd, int nj, float scale,
                   float *s) {
    const __m512 sc = _mm512_set1_ps(scale);
    int j = 0;
    for (; j + 64 <= nj; j += 64) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *k = Kt + j;
        for (int d = 0; d < hd; d++, k += ldk) {
            const __m512 qb = _mm512_set1_ps(q[d]);
            a0 = _mm512_fmadd_ps(qb, _mm512_loadu_ps(k), a0);
            a1 = _mm512_fmadd_ps(qb, _mm512_loadu_ps(k + 16), a1);
            a2 = _mm512_fmadd_ps(qb, _mm512_loadu_ps(k + 32), a2);
            a3 = _mm512_fmadd_ps(qb, _mm512_loadu_ps(k + 48), a3);
        }
        _mm512_storeu_ps(s + j, _mm512_mul_ps(a0, sc));
        _mm512_storeu_ps(s + j + 16, _mm512_mul_ps(a1, sc));
        _mm512_storeu_ps(s + j + 32, _mm512_mul_ps(a2, sc));
        _mm512_storeu_ps(s + j + 48, _mm512_mul_ps(a3, sc));
    }
    for (; j < nj; j += 16) {
        const __mmask16 m = tail_mask(nj - j);
        __m512 a0 = _mm512_setzero_ps();
        const float *k = Kt + j;
        for (int d = 0; d < hd; d++, k += ldk)
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[d]), _mm512_maskz_loadu_ps(m, k), a0);
        _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(a0, sc));
    }
}

static void wsum(const float *e, const float *Vc, int ldv, int nj, int hd, float S, float *o) {
    const __m512 sv = _mm512_set1_ps(S);
    for (int d0 = 0; d0 < hd; d0 += 64) {
        const int nv = (hd - d0 + 15) / 16 < 4 ? (hd - d0 + 15) / 16 : 4;
        __mmask16 m[4];
        for (int v = 0; v < 4; v++) {
            const int left = hd - d0 - 16 * v;
            m[v] = left <= 0 ? 0 : tail_mask(left);
        }
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *vp = Vc + d0;
        if (nv == 4) {
            for (int j = 0; j < nj; j++, vp += ldv) {
                const __m512 eb = _mm512_set1_ps(e[j]);
                a0 = _mm512_fmadd_ps(eb, _mm512_loadu_ps(vp), a0);
                a1 = _mm512_fmadd_ps(eb, _mm512_loadu_ps(vp + 16), a1);
                a2 = _mm512_fmadd_ps(eb, _mm512_loadu_ps(vp + 32), a2);
                a3 = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[3], vp + 48), a3);
            }
        } else {
            for (int j = 0; j < nj; j++, vp += ldv) {
                const __m512 eb = _mm512_set1_ps(e[j]);
                a0 = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[0], vp), a0);
                if (nv > 1) a1 = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[1], vp + 16), a1);
                if (nv > 2) a2 = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[2], vp + 32), a2);
            }
        }
        _mm512_mask_storeu_ps(o + d0, m[0], _mm512_div_ps(a0, sv));
        _mm512_mask_storeu_ps(o + d0 + 16, m[1], _mm512_div_ps(a1, sv));
        _mm512_mask_storeu_ps(o + d0 + 32, m[2], _mm512_div_ps(a2, sv));
        _mm512_mask_storeu_ps(o + d0 + 48, m[3], _mm512_div_ps(a3, sv));
    }
}

/* p[0..15] in lo, p[16..31] in hi; then the halving tree of docs/NUMERICS.md §1. */
static float r32_finish(__m512 lo, __m512 hi) {
    float p[16];
    _mm512_storeu_ps(p, _mm512_add_ps(lo, hi)); /* s = 16 */
    for (int s = 8; s >= 1; s /= 2)
        for (int j = 0; j < s; j++) p[j] = p[j] + p[j + s];
    return p[0];
}

static float r32_sum(const float *x, int n) {
    __m512 lo = _mm512_setzero_ps(), hi = lo;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        lo = _mm512_add_ps(lo, _mm512_loadu_ps(x + i));
        hi = _mm512_add_ps(hi, _mm512_loadu_ps(x + i + 16));
    }
    if (i < n) {
        lo = _mm512_mask_add_ps(lo, tail_mask(n - i), lo, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
        if (n - i > 16) {
            const __mmask16 m = tail_mask(n - i - 16);
            hi = _mm512_mask_add_ps(hi, m, hi, _mm512_maskz_loadu_ps(m, x + i + 16));
        }
    }
    return r32_finish(lo, hi);
}

static float r32_sumsq(const float *x, int n) {
    __m512 lo = _mm512_setzero_ps(), hi = lo;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        lo = _mm512_fmadd_ps(a, a, lo);
        hi = _mm512_fmadd_ps(b, b, hi);
    }
    if (i < n) {
        const __mmask16 m0 = tail_mask(n - i);
        const __m512 a = _mm512_maskz_loadu_ps(m0, x + i);
        lo = _mm512_mask3_fmadd_ps(a, a, lo, m0);
        if (n - i > 16) {
            const __mmask16 m = tail_mask(n - i - 16);
            const __m512 b = _mm512_maskz_loadu_ps(m, x + i + 16);
            hi = _mm512_mask3_fmadd_ps(b, b, hi, m);
        }
    }
    return r32_finish(lo, hi);
}

static void layernorm(const float *x, const float *w, const float *b, int C, float eps,
                       float *y) {
    lac_op_layernorm(r32_sum, r32_sumsq, x, w, b, C, eps, y);
}
static void gelu(float *h, size_t n) { lac_op_gelu(h, n); }
static void softmax_exp(float *s, int n) { lac_op_softmax_exp(s, n); }

const lac_fast_kernels lac_fast_avx512 = {
    .isa = "avx512", .panel = 64, .matmul = matmul, .scores = scores, .wsum = wsum,
    .r32_sum = r32_sum, .r32_sumsq = r32_sumsq,
    .layernorm = layernorm, .gelu = gelu, .softmax_exp = softmax_exp,
};
#endif
