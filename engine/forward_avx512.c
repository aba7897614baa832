/* forward_avx512.c — AVX-512F kernels of the fast CPU backend (built with -mavx512f -mfma,
 * selected at run time). Each of the 16 lanes owns one output's fmaf chain (docs/NUMERICS.md
 * §1); register blocks of 6 rows x 4 vectors (64 columns); tails use lane masks. */
#include <stdlib.h>
#include "forward_fast.h"
#include "forward_ops.h"
#ifdef LAC_FAST_X86
#include <immintrin.h>

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

/* m[v] for nv vectors covering the next `left` lanes: full, partial, then empty */
static inline void lane_masks(int left, int nv, __mmask16 *m) {
    for (int v = 0; v < nv; v++) m[v] = left - 16 * v <= 0 ? 0 : tail_mask(left - 16 * v);
}

/* ---- value sums near the subnormal range ----------------------------------------------------
 * A value sum's chain a = fmaf(e[j], v[j], a) starts at 0, and the softmax weights e[j] of
 * far-off keys can be subnormal (1% of them in a lac-tiny prefill, most before a row's first
 * normal one, so that row's first sums are subnormal too). Intel cores take a microcode assist
 * of ~125 cycles for a multiply or FMA with a subnormal multiplicand or result, or a subnormal
 * addend of a nonzero product (measured on a Xeon, Emerald Rapids: 45-54 ns against 0.55; adds,
 * compares, and subnormal products that vanish into a normal sum cost nothing), which made the
 * prefill's value sums 3-4x slower there. AMD's cores have no such assist.
 * So on Intel, in prefills (wsum_rows; decoding steps wait on memory instead; AMD's cores get
 * wsum_rows_plain, the plain FMA: there the checks cost ~2.3% of -c's CPU time, perf on a Zen 4)
 * such stretches run scaled by 2^48 (fma_scaled), where none of these numbers is subnormal,
 * and give fmaf's bits: scaling by a power of two is exact, normal results round to 24 bits at
 * either scale, and results that are subnormal at scale 1 (on the grid of 2^-149) are rounded
 * on the grid of 2^-101 by adding 2^-78, whose binade has that grid, to the addend (exact),
 * and subtracting it from the rounded sum (exact). Subnormal floats are scaled from their
 * integer mantissas, and results that are subnormal at scale 1 are built from theirs. */
#define LAC_SUB_BITS 0x00800000u   /* 2^-126: below it (and above 0) a float is subnormal */
#define LAC_SMALL_BITS 0x0d800000u /* 2^-100: a chain starting below it starts scaled */

/* bit i: e[i] is subnormal, for i < n <= 64 */
static inline uint64_t sub_mask(const float *e, int n) {
    uint64_t m = 0;
    for (int i = 0; i < n; i += 16) {
        const __mmask16 lm = tail_mask(n - i);
        const __m512i b = _mm512_and_si512(_mm512_maskz_loadu_epi32(lm, e + i),
                                           _mm512_set1_epi32(0x7fffffff));
        const __mmask16 t = _mm512_mask_cmplt_epu32_mask(
            lm, _mm512_sub_epi32(b, _mm512_set1_epi32(1)), _mm512_set1_epi32(LAC_SUB_BITS - 1));
        m |= (uint64_t)t << i;
    }
    return m;
}

static inline int is_sub(float e) { return (lac_f2u(e) & 0x7fffffffu) - 1u < LAC_SUB_BITS - 1u; }

/* e * 2^48 for one weight, exactly */
static inline float scale_up1(float e) {
    const uint32_t b = lac_f2u(e);
    if (b & 0x7f800000u) return e * 0x1p48f;
    const float m = (float)(int32_t)(b & 0x7fffffu) * 0x1p-101f;
    return (b >> 31) ? -m : m;
}

/* x * 2^48 on 16 lanes, exactly (|x| < 2^80) */
static inline __m512 scale_up(__m512 x) {
    const __m512i b = _mm512_castps_si512(x);
    const __mmask16 sub = _mm512_testn_epi32_mask(b, _mm512_set1_epi32(0x7f800000));
    const __m512 n = _mm512_mul_ps(_mm512_maskz_mov_ps((__mmask16)~sub, x), _mm512_set1_ps(0x1p48f));
    const __m512 m = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(b, _mm512_set1_epi32(0x7fffff))),
                                   _mm512_set1_ps(0x1p-101f));
    const __m512i ms = _mm512_or_si512(_mm512_castps_si512(m),
                                       _mm512_and_si512(b, _mm512_set1_epi32((int)0x80000000u)));
    return _mm512_mask_blend_ps(sub, n, _mm512_castsi512_ps(ms));
}

/* x * 2^-48 on 16 lanes, x a float times 2^48, exactly: normal results by the multiply, ones
 * below 2^-126 (|x| < 2^-78) from the integer x * 2^101 */
static inline __m512 scale_down(__m512 x) {
    const __m512 ax = _mm512_abs_ps(x);
    const __mmask16 lo = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0x1p-78f), _CMP_LT_OQ);
    const __m512 n = _mm512_mul_ps(_mm512_maskz_mov_ps((__mmask16)~lo, x), _mm512_set1_ps(0x1p-48f));
    const __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_mov_ps(lo, ax), _mm512_set1_ps(0x1p101f)));
    const __m512i rs = _mm512_or_si512(r, _mm512_and_si512(_mm512_castps_si512(x),
                                                           _mm512_set1_epi32((int)0x80000000u)));
    return _mm512_mask_blend_ps(lo, n, _mm512_castsi512_ps(rs));
}

/* lanes in (0, 2^-52) at scale 2^48: the next plain FMA might meet a subnormal */
static inline int scaled_small(__m512 as) {
    const __m512 ax = _mm512_abs_ps(as);
    return (_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0x1p-52f), _CMP_LT_OQ) &
            _mm512_cmp_ps_mask(ax, _mm512_setzero_ps(), _CMP_NEQ_UQ)) != 0;
}

/* x's sign bit on y (AVX-512F has no float and/or) */
static inline __m512 or_sign(__m512 y, __m512 x) {
    return _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(y),
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
}

/* fmaf(e, v, a) * 2^48 from es = e * 2^48 and as = a * 2^48 (see above) */
static inline __m512 fma_scaled(__m512 es, __m512 v, __m512 as, float e) {
    const __m512 c1 = _mm512_fmadd_ps(es, v, as);
    const __m512 ac = _mm512_abs_ps(c1);
    const __mmask16 low = _mm512_cmp_ps_mask(ac, _mm512_set1_ps(0x1p-78f), _CMP_LT_OQ) &
                          _mm512_cmp_ps_mask(ac, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    if (!low) return c1; /* a normal result (or zero): 24 bits at either scale */
    /* subnormal at scale 1: round on the grid of 2^-101 (c1's sign is the exact sum's) */
    const __m512 C = or_sign(_mm512_set1_ps(0x1p-78f), c1), t = _mm512_add_ps(as, C);
    __m512 c2 = _mm512_sub_ps(_mm512_fmadd_ps(es, v, t), C);
    c2 = _mm512_mask_mov_ps(c2, _mm512_cmp_ps_mask(c2, _mm512_setzero_ps(), _CMP_EQ_OQ),
                            or_sign(c2, c1)); /* a zero keeps the sum's sign */
    /* t = as + C is exact below 2^-77 (a multiple of 2^-101 there); larger addends (a
     * cancellation) take the hardware's fmaf at scale 1 (and its assist) */
    const __mmask16 far = low & _mm512_cmp_ps_mask(_mm512_abs_ps(t), _mm512_set1_ps(0x1p-77f), _CMP_GE_OQ);
    const __m512 r = _mm512_mask_blend_ps(low, c1, c2);
    if (!far) return r;
    return _mm512_mask_blend_ps(far, r, scale_up(_mm512_fmadd_ps(_mm512_set1_ps(e), v, scale_down(as))));
}

/* Positions j0 .. j1 - 1 of nr value sums (row r: weights e[r], values V[r] rows ldv apart,
 * accumulators a[r], chain ending at nj[r]), each row by the plain FMA except where a weight
 * is subnormal or the row's sums are small (bit r of small: they run scaled, fma_scaled);
 * returns small. Out of line, so that the plain loops keep their accumulators in registers. */
static __attribute__((noinline)) int
wsum_checked(int nr, const float *const *e, const float *const *V, int ldv, const int *nj,
             int j0, int j1, const __mmask16 *m, __m512 (*a)[4], int small) {
    for (int r = 0; r < nr; r++) {
        const int end = j1 < nj[r] ? j1 : nj[r];
        int sc = small >> r & 1; /* a[r] holds the sums * 2^48 */
        if (sc)
            for (int v = 0; v < 4; v++) a[r][v] = scale_up(a[r][v]);
        for (int j = j0; j < end; j++) {
            const float *vp = V[r] + (size_t)j * ldv;
            const float ej = e[r][j];
            if (!sc && !is_sub(ej)) {
                const __m512 eb = _mm512_set1_ps(ej);
                for (int v = 0; v < 4; v++)
                    a[r][v] = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[v], vp + 16 * v), a[r][v]);
                continue;
            }
            if (!sc)
                for (int v = 0; v < 4; v++) a[r][v] = scale_up(a[r][v]);
            const __m512 es = _mm512_set1_ps(scale_up1(ej));
            int still = 0;
            for (int v = 0; v < 4; v++) {
                a[r][v] = fma_scaled(es, _mm512_maskz_loadu_ps(m[v], vp + 16 * v), a[r][v], ej);
                still |= scaled_small(a[r][v]);
            }
            sc = still;
            if (!sc)
                for (int v = 0; v < 4; v++) a[r][v] = scale_down(a[r][v]);
        }
        if (sc)
            for (int v = 0; v < 4; v++) a[r][v] = scale_down(a[r][v]);
        small = (small & ~(1 << r)) | sc << r;
    }
    return small;
}

/* Bit r: row r's chain starts (at its first nonzero weight) with a weight below 2^-100, so
 * its first sums may be subnormal: it starts scaled (wsum_checked) */
static inline int small_starts(int nr, const float *const *e, const int *nj) {
    int small = 0;
    for (int r = 0; r < nr; r++) {
        int j = 0;
        while (j < nj[r] && e[r][j] == 0.0f) j++;
        if (j < nj[r] && (lac_f2u(e[r][j]) & 0x7fffffffu) < LAC_SMALL_BITS) small |= 1 << r;
    }
    return small;
}

/* W[i..i+15] widened to fp32 (F16: W16 holds IEEE halves, widened exactly by vcvtph2ps);
 * lanes outside the mask read as 0 and are never stored. */
static inline __attribute__((always_inline)) __m512
load_w(const int F16, const float *W, const uint16_t *W16, size_t i, __mmask16 m) {
    if (!F16) return m == 0xffff ? _mm512_loadu_ps(W + i) : _mm512_maskz_loadu_ps(m, W + i);
    if (m == 0xffff) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(W16 + i)));
    uint16_t t[16] = {0}; /* tail: AVX-512F has no masked 16-bit load */
    for (int j = 0; j < 16; j++)
        if (m >> j & 1) t[j] = W16[i + j];
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)t));
}

/* NR rows x NV vectors from column n, k = k0..k1-1; the mask applies to the last vector.
 * The chains continue across calls: the first k block starts from 0, later ones reload the
 * partial sums from Y (stored as floats, so the chain is unchanged); the last adds the bias.
 * F16 (a constant): W is read from W16 instead of W; nothing else changes. */
static inline __attribute__((always_inline)) void
mk(const int F16, const int NR, const int NV, const float *X, int ldx, int k0, int k1,
   const float *W, const uint16_t *W16, int N, const float *bias, float *const *Y, int n,
   __mmask16 m, int first, int last) {
    __m512 acc[6][4];
    _Pragma("GCC unroll 6")
    for (int r = 0; r < NR; r++)
        _Pragma("GCC unroll 6")
        for (int v = 0; v < NV; v++) {
            const __mmask16 mv = (v == NV - 1) ? m : (__mmask16)0xffff;
            acc[r][v] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mv, Y[r] + n + 16 * v);
        }
    size_t w = (size_t)k0 * N + n;
    for (int k = k0; k < k1; k++, w += N) {
        __m512 wv[4];
        _Pragma("GCC unroll 6")
        for (int v = 0; v < NV; v++)
            wv[v] = load_w(F16, W, W16, w + 16 * v, (v == NV - 1) ? m : (__mmask16)0xffff);
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
        const int addb = last && bias;
        const __m512 bv = addb ? _mm512_maskz_loadu_ps(mv, bias + n + 16 * v) : _mm512_setzero_ps();
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) {
            __m512 o = addb ? _mm512_add_ps(acc[r][v], bv) : acc[r][v];
            _mm512_mask_storeu_ps(Y[r] + n + 16 * v, mv, o);
        }
    }
}

#define MK_CALL(NRR, NV, mask) \
    mk(F16, NRR, NV, X + (size_t)r * ldx, ldx, k0, k1, W, W16, N, bias, Y + r, n, mask, first, last)
#define MK_ROWS(NV, mask)                                                                   \
    do {                                                                                    \
        int r = 0;                                                                          \
        for (; r + 6 <= R; r += 6) MK_CALL(6, NV, mask);                                    \
        switch (R - r) {                                                                    \
        case 5: MK_CALL(5, NV, mask); break;                                                \
        case 4: MK_CALL(4, NV, mask); break;                                                \
        case 3: MK_CALL(3, NV, mask); break;                                                \
        case 2: MK_CALL(2, NV, mask); break;                                                \
        case 1: MK_CALL(1, NV, mask); break;                                                \
        default: break;                                                                     \
        }                                                                                   \
    } while (0)

/* k blocks of 256 keep a 256 x 64 block of W in L1/L2 while all rows of the tile use it */
#define KBLOCK 256

static inline __attribute__((always_inline)) void
matmul_any(const int F16, const float *X, int ldx, int R, int K, const float *W,
           const uint16_t *W16, int N, const float *bias, float *const *Y, int n0, int n1) {
    for (int k0 = 0; k0 < K; k0 += KBLOCK) {
        const int k1 = k0 + KBLOCK < K ? k0 + KBLOCK : K;
        const int first = k0 == 0, last = k1 == K;
        int n = n0;
        for (; n + 64 <= n1; n += 64) MK_ROWS(4, (__mmask16)0xffff);
        for (; n < n1; n += 16) MK_ROWS(1, tail_mask(n1 - n));
    }
}

static void matmul(const float *X, int ldx, int R, int K, const float *W, int N,
                   const float *bias, float *const *Y, int n0, int n1) {
    matmul_any(0, X, ldx, R, K, W, NULL, N, bias, Y, n0, n1);
}

static void matmul_f16(const float *X, int ldx, int R, int K, const uint16_t *W, int N,
                       const float *bias, float *const *Y, int n0, int n1) {
    matmul_any(1, X, ldx, R, K, NULL, W, N, bias, Y, n0, n1);
}

/* ---- packed weights: W[K][N] as ceil(N/16) groups of [K][16] (forward_fast.c packs them,
 * the last group zero-padded), so that each vector of a column strip is one sequential stream
 * through memory and every k is one 64-byte (fp32) or 32-byte (halves) step of it. The chains
 * are mk's (k = 0..K-1 in order, the bias after), so are the bits. */
static inline __attribute__((always_inline)) __m512 load_p(const int F16, const void *Wp,
                                                            size_t i) {
    if (F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)Wp + i)));
    return _mm512_loadu_ps((const float *)Wp + i);
}

/* NR rows x NV groups (16 columns each) from column n (a multiple of 16) of the packed
 * weights whose first group for this block is at Wg; columns >= N (the padding of the last
 * group) are computed from zeros and never stored. PF (one row, or the first row block of
 * many): each k also prefetches the same k of the next NV groups, which the next call or block
 * reads, so the short group streams (8 KB for K = 256 halves) do not each start cold.
 * wout (halves only): the block's weights widened to fp32 are also stored there, as NV packed
 * groups [NV][K][16], for the next row blocks to read (matmul_pk_any). Each output line of Y is
 * prefetched for writing first: the rows of the LM head's logits lie 200 KB apart, and their
 * stores otherwise wait for each line's read from memory at the end of the block (measured on a
 * Xeon: 0.55 -> 0.62 of the FMA peak for the LM head of a 256-row prefill). */
static inline __attribute__((always_inline)) void
mkp(const int F16, const int NR, const int NV, const int PF, const float *X, int ldx, int K,
    const void *Wg, float *wout, int N, const float *bias, float *const *Y, int n) {
    __m512 acc[14][8]; /* NR x NV <= 28 of them used */
    _Pragma("GCC unroll 14")
    for (int r = 0; r < NR; r++)
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++) {
            acc[r][v] = _mm512_setzero_ps();
            if (n + 16 * v < N) __builtin_prefetch(Y[r] + n + 16 * v, 1, 3);
        }
    const size_t es = F16 ? 2 : 4, gsb = (size_t)K * 16 * es; /* bytes per group */
    /* pointers stepped through k (not indices recomputed per row): the row reads are then
     * base + ldx * {0..3} for four bases (rows 0, 4, 8, 12), all in registers */
    const char *wk = (const char *)Wg;
    const char *next = wk + (size_t)NV * gsb;
    const size_t l4 = (size_t)4 * ldx;
    const float *x0 = X, *x4 = X + l4, *x8 = X + 2 * l4, *x12 = X + 3 * l4;
    const size_t ld = (size_t)ldx;
    for (int k = 0; k < K; k++, wk += 16 * es, next += 16 * es, x0++, x4++, x8++, x12++) {
        __m512 wv[8];
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++) wv[v] = load_p(F16, wk + v * gsb, 0);
        if (F16 && wout)
            _Pragma("GCC unroll 8")
            for (int v = 0; v < NV; v++) _mm512_storeu_ps(wout + ((size_t)v * K + k) * 16, wv[v]);
        if (PF && (!F16 || !(k & 1)))
            _Pragma("GCC unroll 8")
            for (int v = 0; v < NV; v++) _mm_prefetch(next + v * gsb, _MM_HINT_T0);
        _Pragma("GCC unroll 14")
        for (int r = 0; r < NR; r++) {
            const float *xr = r < 4 ? x0 : r < 8 ? x4 : r < 12 ? x8 : x12;
            const __m512 xb = _mm512_set1_ps(xr[(r % 4) * ld]);
            _Pragma("GCC unroll 8")
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(xb, wv[v], acc[r][v]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int v = 0; v < NV; v++) {
        const int col = n + 16 * v;
        if (col >= N) break;
        const __mmask16 mv = tail_mask(N - col);
        const __m512 bv = bias ? _mm512_maskz_loadu_ps(mv, bias + col) : _mm512_setzero_ps();
        _Pragma("GCC unroll 14")
        for (int r = 0; r < NR; r++) {
            const __m512 o = bias ? _mm512_add_ps(acc[r][v], bv) : acc[r][v];
            _mm512_mask_storeu_ps(Y[r] + col, mv, o);
        }
    }
}

/* mkp on the packed array Wp (group n / 16), or on the widened block in `wide` (fp32) */
#define MKP_CALL(NRR, NV, PF)                                                               \
    mkp(F16, NRR, NV, PF, X + (size_t)r * ldx, ldx, K,                                      \
        (const char *)Wp + (size_t)(n / 16) * K * 16 * (F16 ? 2 : 4), NULL, N, bias, Y + r, n)
#define MKP_WIDEN(NRR) mkp(1, NRR, 2, 1, X + (size_t)r * ldx, ldx, K,                       \
                           (const uint16_t *)Wp + (size_t)(n / 16) * K * 16, wide, N, bias, Y + r, n)
#define MKP_WIDE(NRR) mkp(0, NRR, 2, 0, X + (size_t)r * ldx, ldx, K, wide, NULL, N, bias, Y + r, n)
/* rows r .. r + nr - 1 (nr <= 6) of one column block: CALL(6) .. CALL(1) */
#define MKP_NR(CALL)                                                                        \
    switch (nr) {                                                                           \
    case 6: CALL(6); break;                                                                 \
    case 5: CALL(5); break;                                                                 \
    case 4: CALL(4); break;                                                                 \
    case 3: CALL(3); break;                                                                 \
    case 2: CALL(2); break;                                                                 \
    case 1: CALL(1); break;                                                                 \
    default: break;                                                                         \
    }
/* the same for nr <= 14 */
#define MKP_NR14(CALL)                                                                      \
    switch (nr) {                                                                           \
    case 14: CALL(14); break;                                                               \
    case 13: CALL(13); break;                                                               \
    case 12: CALL(12); break;                                                               \
    case 11: CALL(11); break;                                                               \
    case 10: CALL(10); break;                                                               \
    case 9: CALL(9); break;                                                                 \
    case 8: CALL(8); break;                                                                 \
    case 7: CALL(7); break;                                                                 \
    default: MKP_NR(CALL)                                                                   \
    }
#define MKP_PF4(NRR) MKP_CALL(NRR, 4, 1)
#define MKP_NP4(NRR) MKP_CALL(NRR, 4, 0)
#define MKP_PF2(NRR) MKP_CALL(NRR, 2, 1)
#define MKP_NP2(NRR) MKP_CALL(NRR, 2, 0)
#define MKP_PF1(NRR) MKP_CALL(NRR, 1, 1)
#define MKP_NP1(NRR) MKP_CALL(NRR, 1, 0)
/* all rows of one column block, in ceil(R / H) blocks of as equal sizes as can be (19 rows,
 * H = 6: 5 + 5 + 5 + 4, not 6 + 6 + 6 + 1, whose last block has four chains: too few for two
 * FMA pipes), each through SWITCH (MKP_NR or MKP_NR14); the first block (FIRST) prefetches the
 * next column block, the others are REST */
#define MKP_ROWS(H, SWITCH, FIRST, REST)                                                    \
    do {                                                                                    \
        const int nblk = (R + (H) - 1) / (H), small = R / nblk, big = R % nblk;             \
        for (int b = 0, r = 0; b < nblk; b++) {                                             \
            const int nr = small + (b < big);                                               \
            if (b == 0) {                                                                   \
                SWITCH(FIRST)                                                               \
            } else {                                                                        \
                SWITCH(REST)                                                                \
            }                                                                               \
            r += nr;                                                                        \
        }                                                                                   \
    } while (0)

/* Calls of at least this many rows run tall blocks: up to 14 rows x 2 vectors (28 chains),
 * where 6 x 4 needs a weight load (and on halves a conversion, which takes an FMA port on
 * Intel's cores) for every 6 FMAs, 14 x 2 one for every 14. Measured on a 2-vCPU Xeon
 * (model 167 as the guest reports it, AMX, 2 MiB L2), 1 thread, the same run: 32 x 256 x 1024 on halves 107 -> 120
 * GFLOP/s, on fp32 117 -> 131; the LM head's 64 x 256 x 50,257 105 -> 117. */
#define LAC_TALL_MIN_ROWS 7
/* Calls of at least this many rows on halves, given scratch, widen each 32-column block once
 * (its first row block) and read it as fp32 in the others (see forward_fast.h) */
#define LAC_WIDEN_MIN_ROWS 12

static inline __attribute__((always_inline)) void
matmul_pk_any(const int F16, const float *X, int ldx, int R, int K, const void *Wp, int N,
              const float *bias, float *const *Y, int n0, int n1, float *wide) {
    int n = n0;
    if (R == 1) { /* one row: eight chains and streams in flight, the next ones prefetched */
        const int r = 0;
        for (; n + 128 <= n1; n += 128) MKP_CALL(1, 8, 1);
        for (; n + 64 <= n1; n += 64) MKP_CALL(1, 4, 1);
    }
    if (F16 && wide && R >= LAC_WIDEN_MIN_ROWS)
        for (; n + 32 <= n1; n += 32) MKP_ROWS(14, MKP_NR14, MKP_WIDEN, MKP_WIDE);
    if (R >= LAC_TALL_MIN_ROWS)
        for (; n + 32 <= n1; n += 32) MKP_ROWS(14, MKP_NR14, MKP_PF2, MKP_NP2);
    for (; n + 64 <= n1; n += 64) MKP_ROWS(6, MKP_NR, MKP_PF4, MKP_NP4);
    for (; n < n1; n += 16) MKP_ROWS(6, MKP_NR, MKP_PF1, MKP_NP1);
}

static void matmul_pk(const float *X, int ldx, int R, int K, const void *Wp, int f16, int N,
                      const float *bias, float *const *Y, int n0, int n1, float *wide) {
    if (f16) matmul_pk_any(1, X, ldx, R, K, Wp, N, bias, Y, n0, n1, wide);
    else matmul_pk_any(0, X, ldx, R, K, Wp, N, bias, Y, n0, n1, NULL);
}

/* NV vectors of scores from position j (a multiple of 16; keys in blocks of 128 positions,
 * forward_fast.h: the NV vectors lie in one block, j % 128 + 16 NV <= 128). Masks m: the last
 * vectors may be partial or empty. The chain of each s[j] runs over d in order from 0, then the
 * scale, as the scalar kernel's. */
static inline __attribute__((always_inline)) void
scores_nv(const int NV, const float *q, const float *Kb, int hd, float scale, float *s, int j,
          const __mmask16 *m) {
    __m512 a[8];
    _Pragma("GCC unroll 8")
    for (int v = 0; v < NV; v++) a[v] = _mm512_setzero_ps();
    const float *k = Kb + (size_t)(j / LAC_KEY_BLOCK) * lac_key_block(LAC_KEY_BLOCK, hd) +
                     j % LAC_KEY_BLOCK;
    for (int d = 0; d < hd; d++, k += LAC_KEY_BLOCK) {
        const __m512 qb = _mm512_set1_ps(q[d]);
        /* a decoding step reads every cached key once: 4 KiB ahead asked for now */
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++) _mm_prefetch((const char *)(k + 8 * LAC_KEY_BLOCK + 16 * v), _MM_HINT_T0);
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++)
            a[v] = _mm512_fmadd_ps(qb, m ? _mm512_maskz_loadu_ps(m[v], k + 16 * v)
                                         : _mm512_loadu_ps(k + 16 * v), a[v]);
    }
    const __m512 sc = _mm512_set1_ps(scale);
    _Pragma("GCC unroll 8")
    for (int v = 0; v < NV; v++) {
        if (m) _mm512_mask_storeu_ps(s + j + 16 * v, m[v], _mm512_mul_ps(a[v], sc));
        else _mm512_storeu_ps(s + j + 16 * v, _mm512_mul_ps(a[v], sc));
    }
}

/* eight chains in flight (two FMA pipes of latency 4): one block of 128 scores a pass, the
 * rest (< 128, the start of the last block) in one masked pass of 4 or 8 vectors */
static void scores(const float *q, const float *Kb, int hd, int nj, float scale, float *s) {
    int j = 0;
    for (; j + 128 <= nj; j += 128) scores_nv(8, q, Kb, hd, scale, s, j, NULL);
    if (j == nj) return;
    __mmask16 m[8];
    lane_masks(nj - j, 8, m);
    if (nj - j <= 64) scores_nv(4, q, Kb, hd, scale, s, j, m);
    else scores_nv(8, q, Kb, hd, scale, s, j, m);
}

/* o[h][d] = chain_j(e[h][j], Vc[h][j*ldv + d]) / S[h] for NH heads (1 to 4) of hd <= 64 at
 * once: two heads give eight independent chains (GPT-2's heads are 64 wide, four vectors, too
 * few for two FMA pipes of latency 4); each head's values lie together (forward_fast.c,
 * value_floats), so NH heads read NH sequential streams (a decoding step reads every cached
 * value once). Each chain is the scalar kernel's, j in order. */
static inline __attribute__((always_inline)) void
wsum_heads(const int NH, const float *const *e, const float *const *Vc, int ldv, int nj,
           int hd, const float *S, float *const *o) {
    __mmask16 m[4];
    lane_masks(hd, 4, m);
    __m512 a[4][4];
    _Pragma("GCC unroll 4")
    for (int h = 0; h < NH; h++)
        _Pragma("GCC unroll 4")
        for (int v = 0; v < 4; v++) a[h][v] = _mm512_setzero_ps();
    const int full = hd == 64;
    /* (plain FMAs: in decoding steps these sums wait on their values' reads from memory, and
     * the subnormal checks of wsum_rows_nr measured 3-8% slower here, not faster) */
    for (int j = 0; j < nj; j++) {
        _Pragma("GCC unroll 4")
        for (int h = 0; h < NH; h++) {
            const __m512 eb = _mm512_set1_ps(e[h][j]);
            const float *vp = Vc[h] + (size_t)j * ldv;
            _Pragma("GCC unroll 4")
            for (int v = 0; v < 4; v++)
                a[h][v] = _mm512_fmadd_ps(eb, full ? _mm512_loadu_ps(vp + 16 * v)
                                                   : _mm512_maskz_loadu_ps(m[v], vp + 16 * v),
                                          a[h][v]);
        }
    }
    _Pragma("GCC unroll 4")
    for (int h = 0; h < NH; h++) {
        const __m512 sv = _mm512_set1_ps(S[h]);
        _Pragma("GCC unroll 4")
        for (int v = 0; v < 4; v++) _mm512_mask_storeu_ps(o[h] + 16 * v, m[v], _mm512_div_ps(a[h][v], sv));
    }
}

static void wsum_wide(const float *e, const float *Vc, int ldv, int nj, int hd, float S,
                      float *o) {
    const __m512 sv = _mm512_set1_ps(S);
    for (int d0 = 0; d0 < hd; d0 += 64) {
        const int nv = (hd - d0 + 15) / 16 < 4 ? (hd - d0 + 15) / 16 : 4;
        __mmask16 m[4];
        lane_masks(hd - d0, 4, m);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *vp = Vc + d0;
        for (int j = 0; j < nj; j++, vp += ldv) { /* (no GPT-2 has hd > 64: plain FMAs) */
            const __m512 eb = _mm512_set1_ps(e[j]);
            a0 = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[0], vp), a0);
            if (nv > 1) a1 = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[1], vp + 16), a1);
            if (nv > 2) a2 = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[2], vp + 32), a2);
            if (nv > 3) a3 = _mm512_fmadd_ps(eb, _mm512_maskz_loadu_ps(m[3], vp + 48), a3);
        }
        _mm512_mask_storeu_ps(o + d0, m[0], _mm512_div_ps(a0, sv));
        _mm512_mask_storeu_ps(o + d0 + 16, m[1], _mm512_div_ps(a1, sv));
        _mm512_mask_storeu_ps(o + d0 + 32, m[2], _mm512_div_ps(a2, sv));
        _mm512_mask_storeu_ps(o + d0 + 48, m[3], _mm512_div_ps(a3, sv));
    }
}

static void wsum(const float *e, const float *Vc, int ldv, int nj, int hd, float S, float *o) {
    if (hd > 64) {
        wsum_wide(e, Vc, ldv, nj, hd, S, o);
        return;
    }
    wsum_heads(1, &e, &Vc, ldv, nj, hd, &S, &o);
}

static void wsum_n(int nh, const float *const *e, const float *const *Vc, int ldv, int nj,
                   int hd, const float *S, float *const *o) {
    if (hd > 64) {
        for (int h = 0; h < nh; h++) wsum_wide(e[h], Vc[h], ldv, nj, hd, S[h], o[h]);
        return;
    }
    switch (nh) {
    case 4: wsum_heads(4, e, Vc, ldv, nj, hd, S, o); break;
    case 3: wsum_heads(3, e, Vc, ldv, nj, hd, S, o); break;
    case 2: wsum_heads(2, e, Vc, ldv, nj, hd, S, o); break;
    default: wsum_heads(1, e, Vc, ldv, nj, hd, S, o); break;
    }
}

/* ---- attention of up to 6 consecutive rows of one stream (a prefill), one head: each key
 * and value vector is read once for all rows (compute instead of cache traffic). Row r has
 * nj[r] keys; the chains are those of scores / wsum, row by row. hd <= 64. */
static inline __attribute__((always_inline)) void
scores_rows_nr(const int NR, const float *const *q, const float *Kb, int hd, int njmax,
               float scale, float *const *s) {
    const __m512 sc = _mm512_set1_ps(scale);
    const size_t bs = lac_key_block(LAC_KEY_BLOCK, hd);
    for (int j = 0; j < njmax; j += 64) {
        __mmask16 m[4];
        lane_masks(njmax - j, 4, m);
        __m512 a[6][4];
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++)
            _Pragma("GCC unroll 4")
            for (int v = 0; v < 4; v++) a[r][v] = _mm512_setzero_ps();
        const float *k = Kb + (size_t)(j / LAC_KEY_BLOCK) * bs + j % LAC_KEY_BLOCK;
        for (int d = 0; d < hd; d++, k += LAC_KEY_BLOCK) {
            __m512 kv[4];
            _Pragma("GCC unroll 4")
            for (int v = 0; v < 4; v++) kv[v] = _mm512_maskz_loadu_ps(m[v], k + 16 * v);
            _Pragma("GCC unroll 6")
            for (int r = 0; r < NR; r++) {
                const __m512 qb = _mm512_set1_ps(q[r][d]);
                _Pragma("GCC unroll 4")
                for (int v = 0; v < 4; v++) a[r][v] = _mm512_fmadd_ps(qb, kv[v], a[r][v]);
            }
        }
        /* scores past a row's own nj are written too (its scratch holds n_ctx) and never read */
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++)
            _Pragma("GCC unroll 4")
            for (int v = 0; v < 4; v++)
                _mm512_mask_storeu_ps(s[r] + j + 16 * v, m[v], _mm512_mul_ps(a[r][v], sc));
    }
}

static void scores_rows(const float *const *q, int nr, const float *Kb, int hd, const int *nj,
                        float scale, float *const *s) {
    const int njmax = nj[nr - 1]; /* consecutive positions: the last row has the most */
    switch (nr) {
    case 6: scores_rows_nr(6, q, Kb, hd, njmax, scale, s); break;
    case 5: scores_rows_nr(5, q, Kb, hd, njmax, scale, s); break;
    case 4: scores_rows_nr(4, q, Kb, hd, njmax, scale, s); break;
    case 3: scores_rows_nr(3, q, Kb, hd, njmax, scale, s); break;
    case 2: scores_rows_nr(2, q, Kb, hd, njmax, scale, s); break;
    default: scores(q[0], Kb, hd, nj[0], scale, s[0]); break;
    }
}

static inline __attribute__((always_inline)) void
wsum_rows_nr(const int CHECK, const int NR, const float *const *e, const float *Vc, int ldv,
             const int *nj, int hd, const float *S, float *const *o) {
    __mmask16 m[4];
    lane_masks(hd, 4, m);
    __m512 a[6][4];
    _Pragma("GCC unroll 6")
    for (int r = 0; r < NR; r++)
        _Pragma("GCC unroll 4")
        for (int v = 0; v < 4; v++) a[r][v] = _mm512_setzero_ps();
    const int njmin = nj[0], njmax = nj[NR - 1], full = hd == 64;
    const float *Vr[6] = {Vc, Vc, Vc, Vc, Vc, Vc};
    __m512 spill[6][4];
    int small = CHECK ? small_starts(NR, e, nj) : 0; /* ("value sums near the subnormal
                                                        * range", above) */
    /* every row's positions in blocks of 64, then the later rows' last ones (j1 = njmax) */
    for (int j0 = 0, j1; j0 < njmax; j0 = j1) {
        j1 = j0 < njmin ? (njmin - j0 < 64 ? njmin : j0 + 64) : njmax;
        uint64_t tm = 0;
        for (int r = 0; CHECK && r < NR && j0 < njmin; r++) tm |= sub_mask(e[r] + j0, j1 - j0);
        if (tm || small || j0 >= njmin) {
            _Pragma("GCC unroll 6")
            for (int r = 0; r < NR; r++)
                _Pragma("GCC unroll 4")
                for (int v = 0; v < 4; v++) spill[r][v] = a[r][v];
            const __mmask16 mc[4] = {m[0], m[1], m[2], m[3]}; /* (m stays in registers) */
            small = wsum_checked(NR, e, Vr, ldv, nj, j0, j1, mc, spill, small);
            _Pragma("GCC unroll 6")
            for (int r = 0; r < NR; r++)
                _Pragma("GCC unroll 4")
                for (int v = 0; v < 4; v++) a[r][v] = spill[r][v];
            continue;
        }
        for (int j = j0; j < j1; j++) { /* every row */
            const float *vp = Vc + (size_t)j * ldv;
            __m512 vv[4];
            _Pragma("GCC unroll 4")
            for (int v = 0; v < 4; v++)
                vv[v] = full ? _mm512_loadu_ps(vp + 16 * v) : _mm512_maskz_loadu_ps(m[v], vp + 16 * v);
            _Pragma("GCC unroll 6")
            for (int r = 0; r < NR; r++) {
                const __m512 eb = _mm512_set1_ps(e[r][j]);
                _Pragma("GCC unroll 4")
                for (int v = 0; v < 4; v++) a[r][v] = _mm512_fmadd_ps(eb, vv[v], a[r][v]);
            }
        }
    }
    _Pragma("GCC unroll 6")
    for (int r = 0; r < NR; r++) {
        const __m512 sv = _mm512_set1_ps(S[r]);
        _Pragma("GCC unroll 4")
        for (int v = 0; v < 4; v++) _mm512_mask_storeu_ps(o[r] + 16 * v, m[v], _mm512_div_ps(a[r][v], sv));
    }
}

#define WSUM_ROWS(NAME, CHECK)                                                              \
    static void NAME(const float *const *e, int nr, const float *Vc, int ldv, const int *nj,  \
                     int hd, const float *S, float *const *o) {                               \
        switch (nr) {                                                                         \
        case 6: wsum_rows_nr(CHECK, 6, e, Vc, ldv, nj, hd, S, o); break;                      \
        case 5: wsum_rows_nr(CHECK, 5, e, Vc, ldv, nj, hd, S, o); break;                      \
        case 4: wsum_rows_nr(CHECK, 4, e, Vc, ldv, nj, hd, S, o); break;                      \
        case 3: wsum_rows_nr(CHECK, 3, e, Vc, ldv, nj, hd, S, o); break;                      \
        case 2: wsum_rows_nr(CHECK, 2, e, Vc, ldv, nj, hd, S, o); break;                      \
        default: wsum(e[0], Vc, ldv, nj[0], hd, S[0], o[0]); break;                           \
        }                                                                                     \
    }
/* wsum_rows: subnormal stretches scaled (for Intel's assists); wsum_rows_plain: the plain FMA
 * throughout, the same bits (IEEE fma with subnormals, FTZ/DAZ off), for AMD's cores, which
 * take no assist: there the checks only cost time */
WSUM_ROWS(wsum_rows, 1)
WSUM_ROWS(wsum_rows_plain, 0)

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
    lac_layernorm_row(r32_sum, r32_sumsq, x, w, b, C, eps, y);
}
/* lac_expf (numerics/lac_math.h) on 16 lanes: the same operations in the same order, the
 * special cases blended in at the end. */
static inline __m512 expf16(__m512 x) {
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    const __mmask16 over = _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.72283935546875f), _CMP_GT_OQ);
    const __mmask16 under =
        _mm512_cmp_ps_mask(x, _mm512_set1_ps(-103.972084045410156f), _CMP_LT_OQ);
    const __m512 big = _mm512_set1_ps(12582912.0f);
    const __m512 kf = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269502f), big), big);
    __m512 r = _mm512_fmadd_ps(kf, _mm512_set1_ps(-0.693147182464599609375f), x);
    r = _mm512_fmadd_ps(kf, _mm512_set1_ps(1.904654323148236017e-09f), r);
    __m512 p = _mm512_set1_ps(1.98412698412698413e-04f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.38888888888888889e-03f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.33333333333333333e-03f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.16666666666666667e-02f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.66666666666666667e-01f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i k = _mm512_cvtps_epi32(kf); /* kf is an integer: exact */
    const __m512i k1 = _mm512_srai_epi32(k, 1); /* floor(k / 2) */
    const __m512i k2 = _mm512_sub_epi32(k, k1);
    const __m512i e127 = _mm512_set1_epi32(127);
    const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k1, e127), 23));
    const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k2, e127), 23));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
    y = _mm512_mask_blend_ps(over, y, _mm512_set1_ps(INFINITY));
    y = _mm512_mask_blend_ps(under, y, _mm512_setzero_ps());
    return _mm512_mask_blend_ps(nan, y, _mm512_add_ps(x, x));
}

/* lac_tanhf on 16 lanes (both branches computed, then blended). */
static inline __m512 tanhf16(__m512 x) {
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i xi = _mm512_castps_si512(x);
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_epi32(sign, xi));
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    const __mmask16 tiny = _mm512_cmp_ps_mask(a, _mm512_set1_ps(2.44140625e-4f), _CMP_LT_OQ);
    const __mmask16 one = _mm512_cmp_ps_mask(a, _mm512_set1_ps(9.0f), _CMP_GE_OQ);
    const __mmask16 poly = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.55f), _CMP_LT_OQ);
    const __m512 a2 = _mm512_mul_ps(a, a);
    __m512 p = _mm512_set1_ps(5.9002744094558598e-04f);
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-1.4558343870513183e-03f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(3.5921280365724810e-03f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-8.8632355299021966e-03f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(2.1869488536155203e-02f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-5.3968253968253968e-02f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(1.3333333333333333e-01f));
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-3.3333333333333333e-01f));
    const __m512 yp = _mm512_fmadd_ps(_mm512_mul_ps(a, a2), p, a);
    const __m512 one_v = _mm512_set1_ps(1.0f);
    const __m512 e = expf16(_mm512_add_ps(a, a));
    const __m512 ye =
        _mm512_sub_ps(one_v, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one_v)));
    __m512 y = _mm512_mask_blend_ps(poly, ye, yp);
    y = _mm512_mask_blend_ps(one, y, one_v);
    /* y >= 0: setting x's sign bit gives -y where x < 0 */
    y = _mm512_castsi512_ps(_mm512_or_epi32(_mm512_castps_si512(y), _mm512_and_epi32(xi, sign)));
    y = _mm512_mask_blend_ps(tiny, y, x);
    return _mm512_mask_blend_ps(nan, y, _mm512_add_ps(x, x));
}

static void gelu(float *h, size_t n) {
    size_t k = 0;
    const __m512 c0 = _mm512_set1_ps(0.044715f), c1 = _mm512_set1_ps(0.7978845608028654f);
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    for (; k + 16 <= n; k += 16) {
        const __m512 x = _mm512_loadu_ps(h + k);
        const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        const __m512 u = _mm512_add_ps(x, _mm512_mul_ps(c0, x3));
        const __m512 v = _mm512_mul_ps(c1, u);
        const __m512 y = _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, tanhf16(v)));
        _mm512_storeu_ps(h + k, y);
    }
    lac_op_gelu(h + k, n - k);
}

static void softmax_exp(float *s, int n) {
    float mx = s[0];
    for (int j = 1; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    const __m512 m = _mm512_set1_ps(mx);
    int j = 0;
    for (; j + 16 <= n; j += 16)
        _mm512_storeu_ps(s + j, expf16(_mm512_sub_ps(_mm512_loadu_ps(s + j), m)));
    for (; j < n; j++) s[j] = lac_expf(s[j] - mx);
}

#define AVX512_TABLE(WSUM_ROWS_FN)                                                          \
    .isa = "avx512", .panel = 128, .matmul = matmul, .matmul_f16 = matmul_f16,                \
    .matmul_pk = matmul_pk, .pack = 16, .wide_cols = 64, .key_block = LAC_KEY_BLOCK,          \
    .scores = scores, .wsum = wsum, .wsum_n = wsum_n, .scores_rows = scores_rows,             \
    .wsum_rows = WSUM_ROWS_FN, .rows_max_hd = 64, .r32_sum = r32_sum, .r32_sumsq = r32_sumsq, \
    .layernorm = layernorm, .gelu = gelu, .softmax_exp = softmax_exp
const lac_fast_kernels lac_fast_avx512 = {AVX512_TABLE(wsum_rows)};
const lac_fast_kernels lac_fast_avx512_plain = {AVX512_TABLE(wsum_rows_plain)};
#endif
