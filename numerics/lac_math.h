/* lac_math.h — exp and tanh of the numeric contract (docs/NUMERICS.md §8).
 *
 * Built only from + - * /, fmaf, comparisons and bit manipulation, so that the CPU (C) and the
 * CUDA kernels (which include this same file) compute exactly the same bits. This code is
 * normative: changing any constant or any operation here is a new LAC_NUMERICS_VERSION.
 * Accuracy: <= 2 ulp against libm (tests/test_math.c). */
#ifndef LAC_MATH_H
#define LAC_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Under nvcc the functions are __host__ __device__: fmaf (one rounding) exists on both sides,
 * the bit casts use the device intrinsics only in device code (__CUDA_ARCH__). */
#ifdef __CUDACC__
#define LAC_MATH_FN static inline __host__ __device__
#else
#define LAC_MATH_FN static inline
#endif
#define LAC_FMAF(a, b, c) fmaf((a), (b), (c))

LAC_MATH_FN uint32_t lac_f2u(float f) {
#ifdef __CUDA_ARCH__
    return (uint32_t)__float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
#endif
}

LAC_MATH_FN float lac_u2f(uint32_t u) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
#endif
}

/* 2^n for -126 <= n <= 127, from the exponent bits. */
LAC_MATH_FN float lac_pow2i(int n) { return lac_u2f((uint32_t)(n + 127) << 23); }

/* e^x.
 *   x NaN -> NaN; x > 88.72283935546875 -> +inf; x < -103.972084045410156 -> +0.
 *   k = rint(x * log2 e) by the 1.5 * 2^23 trick (one fmaf, then one subtraction);
 *   r = x - k ln2 in two fmaf steps (Cody-Waite, the first one exact);
 *   e^r by a degree-7 Taylor polynomial in Horner form with fmaf (|r| <= 0.347);
 *   result = (p * 2^k1) * 2^k2 with k1 = floor(k / 2), k2 = k - k1: the first product is
 *   exact (normal range), the second rounds once, also in the denormal range and at overflow. */
LAC_MATH_FN float lac_expf(float x) {
    if (x != x) return x + x;
    if (x > 88.72283935546875f) return lac_u2f(0x7f800000u);
    if (x < -103.972084045410156f) return 0.0f;
    const float kf = LAC_FMAF(x, 1.44269502f, 12582912.0f) - 12582912.0f;
    /* ln2 = LN2_HI + LN2_LO; LN2_HI is the float nearest ln2, so kf * LN2_HI is a multiple of
     * 2^-24 and x - kf * LN2_HI (|.| < 1) is exact in the first fmaf. */
    const float LN2_HI = 0.693147182464599609375f;
    const float LN2_LO = -1.904654323148236017e-09f;
    float r = LAC_FMAF(kf, -LN2_HI, x);
    r = LAC_FMAF(kf, -LN2_LO, r);
    float p = 1.98412698412698413e-04f; /* 1/7! */
    p = LAC_FMAF(p, r, 1.38888888888888889e-03f); /* 1/6! */
    p = LAC_FMAF(p, r, 8.33333333333333333e-03f); /* 1/5! */
    p = LAC_FMAF(p, r, 4.16666666666666667e-02f); /* 1/4! */
    p = LAC_FMAF(p, r, 1.66666666666666667e-01f); /* 1/3! */
    p = LAC_FMAF(p, r, 0.5f);
    p = LAC_FMAF(p, r, 1.0f);
    p = LAC_FMAF(p, r, 1.0f);
    const int k = (int)kf; /* -150 .. 128 */
    const int k1 = (k >= 0) ? k / 2 : -((1 - k) / 2); /* floor(k / 2) */
    const int k2 = k - k1;
    return (p * lac_pow2i(k1)) * lac_pow2i(k2);
}

/* tanh(x).
 *   NaN -> NaN; |x| < 2^-12 -> x; |x| >= 9 -> +-1;
 *   |x| < 0.55: odd Taylor polynomial x + x^3 * P(x^2) (terms up to x^17), Horner with fmaf;
 *   otherwise 1 - 2 / (lac_expf(2|x|) + 1), with the sign of x. */
LAC_MATH_FN float lac_tanhf(float x) {
    if (x != x) return x + x;
    const float a = (x < 0.0f) ? -x : x;
    if (a < 2.44140625e-4f) return x; /* 2^-12 */
    if (a >= 9.0f) return (x < 0.0f) ? -1.0f : 1.0f;
    float y;
    if (a < 0.55f) {
        const float a2 = a * a;
        float p = 5.9002744094558598e-04f;              /* 6404582/10854718875 */
        p = LAC_FMAF(p, a2, -1.4558343870513183e-03f);  /* -929569/638512875 */
        p = LAC_FMAF(p, a2, 3.5921280365724810e-03f);   /* 21844/6081075 */
        p = LAC_FMAF(p, a2, -8.8632355299021966e-03f);  /* -1382/155925 */
        p = LAC_FMAF(p, a2, 2.1869488536155203e-02f);   /* 62/2835 */
        p = LAC_FMAF(p, a2, -5.3968253968253968e-02f);  /* -17/315 */
        p = LAC_FMAF(p, a2, 1.3333333333333333e-01f);   /* 2/15 */
        p = LAC_FMAF(p, a2, -3.3333333333333333e-01f);  /* -1/3 */
        y = LAC_FMAF(a * a2, p, a);
    } else {
        y = 1.0f - 2.0f / (lac_expf(a + a) + 1.0f);
    }
    return (x < 0.0f) ? -y : y;
}

#endif
