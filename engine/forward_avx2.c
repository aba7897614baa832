/* forward_avx2.c — AVX2 + FMA kernels of the fast CPU backend (built with -mavx2 -mfma, and
 * -mf16c for matmul_f16 only; selected at run time). Each of the 8 lanes owns one output's
 * fmaf chain (docs/NUMERICS.md §1); matmul register blocks of 4 rows x 3 vectors (24 columns),
 * attention blocks of 8 chains or of 6 rows x 2 vectors; tails use maskload/maskstore. */
#include <limits.h>
#include <math.h>

#include "forward_fast.h"
#include "forward_ops.h"
#ifdef LAC_FAST_X86
#include <immintrin.h>

#define KEYB 64 /* positions per block of cached keys (key_block, forward_fast.h) */

static inline __m256i tail_mask(int n) {
    static const int32_t t[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    if (n > 8) n = 8;
    return _mm256_loadu_si256((const __m256i *)(t + 8 - n));
}

/* W[i..i+7] widened to fp32 (F16: W16 holds IEEE halves, widened exactly by F16C's
 * vcvtph2ps); lanes outside the mask read as 0 and are never stored. */
static inline __attribute__((always_inline)) __m256
load_w(const int F16, const int full, const float *W, const uint16_t *W16, size_t i,
       __m256i m) {
    if (!F16) return full ? _mm256_loadu_ps(W + i) : _mm256_maskload_ps(W + i, m);
    if (full) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(W16 + i)));
    const int bits = _mm256_movemask_ps(_mm256_castsi256_ps(m));
    uint16_t t[8] = {0}; /* tail: there is no masked 16-bit load */
    for (int j = 0; j < 8; j++)
        if (bits >> j & 1) t[j] = W16[i + j];
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)t));
}

/* NR rows x NV vectors from column n; the mask m applies to the last vector (FULL: m is all
 * ones). F16 (a constant): W is read from W16 instead of W; nothing else changes. */
static inline __attribute__((always_inline)) void
mk(const int F16, const int FULL, const int NR, const int NV, const float *X, int ldx, int K,
   const float *W, const uint16_t *W16, int N, const float *bias, float *const *Y, int n,
   __m256i m) {
    __m256 acc[4][3];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < NR; r++)
        _Pragma("GCC unroll 4")
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    size_t w = (size_t)n;
    for (int k = 0; k < K; k++, w += N) {
        __m256 wv[3];
        _Pragma("GCC unroll 4")
        for (int v = 0; v < NV; v++)
            wv[v] = load_w(F16, FULL || v < NV - 1, W, W16, w + 8 * v, m);
        _Pragma("GCC unroll 4")
        for (int r = 0; r < NR; r++) {
            const __m256 xb = _mm256_broadcast_ss(X + (size_t)r * ldx + k);
            _Pragma("GCC unroll 4")
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(xb, wv[v], acc[r][v]);
        }
    }
    const __m256i full = _mm256_set1_epi32(-1);
    _Pragma("GCC unroll 4")
    for (int v = 0; v < NV; v++) {
        const __m256i mv = (v == NV - 1) ? m : full;
        const __m256 bv = bias ? _mm256_maskload_ps(bias + n + 8 * v, mv) : _mm256_setzero_ps();
        _Pragma("GCC unroll 4")
        for (int r = 0; r < NR; r++) {
            __m256 o = bias ? _mm256_add_ps(acc[r][v], bv) : acc[r][v];
            _mm256_maskstore_ps(Y[r] + n + 8 * v, mv, o);
        }
    }
}

#define MK_CALL(NRR, NV, FULL, mask) \
    mk(F16, FULL, NRR, NV, X + (size_t)r * ldx, ldx, K, W, W16, N, bias, Y + r, n, mask)
#define MK_ROWS(NV, FULL, mask)                                                             \
    do {                                                                                    \
        int r = 0;                                                                          \
        for (; r + 4 <= R; r += 4) MK_CALL(4, NV, FULL, mask);                              \
        switch (R - r) {                                                                    \
        case 3: MK_CALL(3, NV, FULL, mask); break;                                          \
        case 2: MK_CALL(2, NV, FULL, mask); break;                                          \
        case 1: MK_CALL(1, NV, FULL, mask); break;                                          \
        default: break;                                                                     \
        }                                                                                   \
    } while (0)

static inline __attribute__((always_inline)) void
matmul_any(const int F16, const float *X, int ldx, int R, int K, const float *W,
           const uint16_t *W16, int N, const float *bias, float *const *Y, int n0, int n1) {
    const __m256i full = _mm256_set1_epi32(-1);
    int n = n0;
    for (; n + 24 <= n1; n += 24) MK_ROWS(3, 1, full);
    for (; n < n1; n += 8) MK_ROWS(1, 0, tail_mask(n1 - n));
}

static void matmul(const float *X, int ldx, int R, int K, const float *W, int N,
                   const float *bias, float *const *Y, int n0, int n1) {
    matmul_any(0, X, ldx, R, K, W, NULL, N, bias, Y, n0, n1);
}

/* Needs F16C (vcvtph2ps; this file is built with -mf16c for it, and it is the only F16C
 * instruction here): forward_fast.c checks the CPU before using it. */
static void matmul_f16(const float *X, int ldx, int R, int K, const uint16_t *W, int N,
                       const float *bias, float *const *Y, int n0, int n1) {
    matmul_any(1, X, ldx, R, K, NULL, W, N, bias, Y, n0, n1);
}

/* ---- packed weights: W[K][N] as ceil(N/8) groups of [K][8] (forward_fast.c packs them,
 * the last group zero-padded), so that each vector of a column strip is one sequential stream
 * through memory instead of K short reads N apart. The chains are mk's (k = 0..K-1 in order,
 * the bias after), so are the bits. F16: the groups hold halves, widened by vcvtph2ps. */
static inline __attribute__((always_inline)) __m256 load_p(const int F16, const void *Wp,
                                                            size_t i) {
    if (F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)Wp + i)));
    return _mm256_loadu_ps((const float *)Wp + i);
}

/* NR rows x NV groups (8 columns each) from column n (a multiple of 8); columns >= N (the
 * padding of the last group) are computed from zeros and never stored. PF: also prefetch
 * the next column block's weights (the NV groups that follow), as far into them each k as
 * this block has read: a group is one 4 KiB page, where the hardware's stream prefetcher
 * starts cold. The first row block of a small call's column block does (LAC_PF_MAX_ROWS),
 * so that weights coming from memory (a decoding step reads every one once) arrive early and
 * the other row blocks reuse them from L1. */
static inline __attribute__((always_inline)) void
mkp(const int F16, const int NR, const int NV, const int PF, const float *X, int ldx, int K,
    const void *Wp, int N, const float *bias, float *const *Y, int n) {
    __m256 acc[4][6];
    _Pragma("GCC unroll 6")
    for (int r = 0; r < NR; r++)
        _Pragma("GCC unroll 6")
        for (int v = 0; v < NV; v++) {
            acc[r][v] = _mm256_setzero_ps();
            /* each output line prefetched for writing (see forward_avx512.c mkp) */
            if (n + 8 * v < N) __builtin_prefetch(Y[r] + n + 8 * v, 1, 3);
        }
    const size_t es = F16 ? 2 : 4, gsb = (size_t)K * 8 * es; /* bytes per group */
    const char *wk = (const char *)Wp + (size_t)(n / 8) * gsb, *next = wk + (size_t)NV * gsb;
    /* pointers stepped through k: rows 0-2 at x0 + r * ldx (scaled-index addressing), row 3
     * from x3, so that every address stays in a register */
    const float *x0 = X, *x3 = X + (size_t)3 * ldx;
    for (int k = 0; k < K; k++, wk += 8 * es, next += 8 * es, x0++, x3++) {
        __m256 wv[6];
        _Pragma("GCC unroll 6")
        for (int v = 0; v < NV; v++) wv[v] = load_p(F16, wk + v * gsb, 0);
        if (PF)
            _Pragma("GCC unroll 6")
            for (int v = 0; v < NV; v++) _mm_prefetch(next + v * gsb, _MM_HINT_T0);
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) {
            const __m256 xb = _mm256_broadcast_ss(r == 3 ? x3 : x0 + (size_t)r * ldx);
            _Pragma("GCC unroll 6")
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(xb, wv[v], acc[r][v]);
        }
    }
    _Pragma("GCC unroll 6")
    for (int v = 0; v < NV; v++) {
        const int col = n + 8 * v;
        if (col >= N) break;
        const __m256i mv = tail_mask(N - col);
        const __m256 bv = bias ? _mm256_maskload_ps(bias + col, mv) : _mm256_setzero_ps();
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) {
            __m256 o = bias ? _mm256_add_ps(acc[r][v], bv) : acc[r][v];
            _mm256_maskstore_ps(Y[r] + col, mv, o);
        }
    }
}

/* Calls of 2 to this many rows prefetch the weights (measured on a 2-vCPU Zen 3, 1 thread,
 * lac-tiny, best and mean of 10 alternating: lock-step steps of 5 streams 13-26% faster; of 16
 * or 32 no faster; a 256-token prefill 12% slower with it; one-row calls 10-45% slower in a
 * microbenchmark, so they have none) */
#define LAC_PF_MAX_ROWS 12
#define MKP_CALL(NRR, NV, PF) \
    mkp(F16, NRR, NV, PF, X + (size_t)r * ldx, ldx, K, Wp, N, bias, Y + r, n)
/* all rows of one column block: blocks of 4 rows, then the rest; the first block prefetches
 * the next column block */
#define MKP_ROWS(NV)                                                                        \
    do {                                                                                    \
        int r = 0;                                                                          \
        if (R >= 4) {                                                                       \
            if (R <= LAC_PF_MAX_ROWS) MKP_CALL(4, NV, 1);                                   \
            else MKP_CALL(4, NV, 0);                                                        \
            for (r = 4; r + 4 <= R; r += 4) MKP_CALL(4, NV, 0);                             \
        }                                                                                   \
        const int pf = r == 0;                                                              \
        switch (R - r) {                                                                    \
        case 3: if (pf) MKP_CALL(3, NV, 1); else MKP_CALL(3, NV, 0); break;                 \
        case 2: if (pf) MKP_CALL(2, NV, 1); else MKP_CALL(2, NV, 0); break;                 \
        case 1: if (pf) MKP_CALL(1, NV, 1); else MKP_CALL(1, NV, 0); break;                 \
        default: break;                                                                     \
        }                                                                                   \
    } while (0)

static inline __attribute__((always_inline)) void
matmul_p8_any(const int F16, const float *X, int ldx, int R, int K, const void *Wp, int N,
              const float *bias, float *const *Y, int n0, int n1) {
    int n = n0;
    if (R == 1) { /* one row: six chains in flight instead of three */
        for (; n + 48 <= n1; n += 48) {
            const int r = 0;
            MKP_CALL(1, 6, 0);
        }
    }
    for (; n + 24 <= n1; n += 24) MKP_ROWS(3);
    for (; n < n1; n += 8) MKP_ROWS(1);
}

/* f16 != 0 needs F16C (checked by forward_fast.c before packing halves) */
static void matmul_p8(const float *X, int ldx, int R, int K, const void *Wp, int f16, int N,
                      const float *bias, float *const *Y, int n0, int n1, float *wide) {
    (void)wide; /* wide_cols = 0 */
    if (f16) matmul_p8_any(1, X, ldx, R, K, Wp, N, bias, Y, n0, n1);
    else matmul_p8_any(0, X, ldx, R, K, Wp, N, bias, Y, n0, n1);
}

/* ---- attention. Masks for the vectors of a stretch of `left` lanes: m[v] covers lanes
 * 8v .. 8v + 7 (all, some or none; a masked-off load reads 0 and cannot fault). */
static inline void lane_masks(int left, int nv, __m256i *m) {
    for (int v = 0; v < nv; v++)
        m[v] = left - 8 * v <= 0 ? _mm256_setzero_si256() : tail_mask(left - 8 * v);
}

/* 8 floats from p: a plain load when all are wanted (masked loads measured slower in the
 * row blocks), else masked by m */
static inline __attribute__((always_inline)) __m256 load8(const float *p, int full, __m256i m) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

/* NV vectors of scores from position j (NV = 8: 64 positions, one key block read in order,
 * which the hardware prefetchers follow; software prefetches measured slower): eight chains
 * keep both FMA pipes busy (latency 4); m: NULL, or the masks of a last partial pass */
static inline __attribute__((always_inline)) void
scores_nv(const int NV, const float *q, const float *Kb, int hd, float scale, float *s, int j,
          const __m256i *m) {
    __m256 a[8];
    _Pragma("GCC unroll 8")
    for (int v = 0; v < NV; v++) a[v] = _mm256_setzero_ps();
    const float *k = Kb + (size_t)(j / KEYB) * lac_key_block(KEYB, hd) + j % KEYB;
    for (int d = 0; d < hd; d++, k += KEYB) {
        const __m256 qb = _mm256_set1_ps(q[d]);
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++)
            a[v] = _mm256_fmadd_ps(qb, m ? _mm256_maskload_ps(k + 8 * v, m[v])
                                         : _mm256_loadu_ps(k + 8 * v), a[v]);
    }
    const __m256 sc = _mm256_set1_ps(scale);
    _Pragma("GCC unroll 8")
    for (int v = 0; v < NV; v++) {
        if (m) _mm256_maskstore_ps(s + j + 8 * v, m[v], _mm256_mul_ps(a[v], sc));
        else _mm256_storeu_ps(s + j + 8 * v, _mm256_mul_ps(a[v], sc));
    }
}

/* keys in blocks of KEYB = 64 positions (forward_fast.h): one pass a block; the rest (< 64)
 * in one masked pass of 2, 4 or 8 vectors */
static void scores(const float *q, const float *Kb, int hd, int nj, float scale, float *s) {
    int j = 0;
    for (; j + 64 <= nj; j += 64) scores_nv(8, q, Kb, hd, scale, s, j, NULL);
    if (j == nj) return;
    __m256i m[8];
    lane_masks(nj - j, 8, m);
    if (nj - j <= 16) scores_nv(2, q, Kb, hd, scale, s, j, m);
    else if (nj - j <= 32) scores_nv(4, q, Kb, hd, scale, s, j, m);
    else scores_nv(8, q, Kb, hd, scale, s, j, m);
}

/* o[d0 ..] for up to 64 channels (NV vectors, m: NULL = all, or their masks), one chain per
 * channel over j in order: eight chains for GPT-2's heads of 64 */
static inline __attribute__((always_inline)) void
wsum_nv(const int NV, const float *e, const float *Vc, int ldv, int nj, float S, float *o,
        const __m256i *m) {
    __m256 a[8];
    _Pragma("GCC unroll 8")
    for (int v = 0; v < NV; v++) a[v] = _mm256_setzero_ps();
    const float *vp = Vc;
    for (int j = 0; j < nj; j++, vp += ldv) {
        const __m256 eb = _mm256_set1_ps(e[j]);
        _Pragma("GCC unroll 8")
        for (int v = 0; v < NV; v++)
            a[v] = _mm256_fmadd_ps(eb, m ? _mm256_maskload_ps(vp + 8 * v, m[v])
                                         : _mm256_loadu_ps(vp + 8 * v), a[v]);
    }
    const __m256 sv = _mm256_set1_ps(S);
    _Pragma("GCC unroll 8")
    for (int v = 0; v < NV; v++) {
        if (m) _mm256_maskstore_ps(o + 8 * v, m[v], _mm256_div_ps(a[v], sv));
        else _mm256_storeu_ps(o + 8 * v, _mm256_div_ps(a[v], sv));
    }
}

static void wsum(const float *e, const float *Vc, int ldv, int nj, int hd, float S, float *o) {
    for (int d0 = 0; d0 < hd; d0 += 64) {
        if (hd - d0 >= 64) {
            wsum_nv(8, e, Vc + d0, ldv, nj, S, o + d0, NULL);
            continue;
        }
        __m256i m[8];
        lane_masks(hd - d0, 8, m);
        wsum_nv(8, e, Vc + d0, ldv, nj, S, o + d0, m);
    }
}

/* ---- attention of up to 6 consecutive rows of one stream (a prefill), one head, in register
 * blocks of NR rows x 2 vectors (12 accumulators of 16): each key and value vector is read
 * once for all rows instead of once a row (a head's keys outgrow L1 at 64 positions). Row r
 * has nj[r] = nj[0] + r keys; the chains are those of scores / wsum, row by row. */
static inline __attribute__((always_inline)) void
scores_rows_nr(const int NR, const float *const *q, const float *Kb, int hd, int njmax,
               float scale, float *const *s) {
    const __m256 sc = _mm256_set1_ps(scale);
    const size_t bs = lac_key_block(KEYB, hd);
    for (int j = 0; j < njmax; j += 16) { /* 16 positions a pass, within one key block */
        __m256i m[2];
        lane_masks(njmax - j, 2, m);
        __m256 a[6][2];
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) a[r][0] = a[r][1] = _mm256_setzero_ps();
        const float *k = Kb + (size_t)(j / KEYB) * bs + j % KEYB;
        const int full = njmax - j >= 16;
        for (int d = 0; d < hd; d++, k += KEYB) {
            const __m256 k0 = load8(k, full, m[0]), k1 = load8(k + 8, full, m[1]);
            _Pragma("GCC unroll 6")
            for (int r = 0; r < NR; r++) {
                const __m256 qb = _mm256_set1_ps(q[r][d]);
                a[r][0] = _mm256_fmadd_ps(qb, k0, a[r][0]);
                a[r][1] = _mm256_fmadd_ps(qb, k1, a[r][1]);
            }
        }
        /* scores past a row's own nj are written too (its scratch holds n_ctx) and never read */
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) {
            _mm256_maskstore_ps(s[r] + j, m[0], _mm256_mul_ps(a[r][0], sc));
            _mm256_maskstore_ps(s[r] + j + 8, m[1], _mm256_mul_ps(a[r][1], sc));
        }
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

/* 16 channels from d0 of NR rows' value sums: every row's positions j < nj[0], then the
 * later rows' last ones (row r has nj[0] + r), each chain j in order */
static inline __attribute__((always_inline)) void
wsum_rows_nr(const int NR, const float *const *e, const float *Vc, int ldv, const int *nj,
             int hd, const float *S, float *const *o) {
    for (int d0 = 0; d0 < hd; d0 += 16) {
        __m256i m[2];
        lane_masks(hd - d0, 2, m);
        __m256 a[6][2];
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) a[r][0] = a[r][1] = _mm256_setzero_ps();
        const float *vp = Vc + d0;
        int j = 0;
        const int full = hd - d0 >= 16;
        for (; j < nj[0]; j++, vp += ldv) {
            const __m256 v0 = load8(vp, full, m[0]), v1 = load8(vp + 8, full, m[1]);
            _Pragma("GCC unroll 6")
            for (int r = 0; r < NR; r++) {
                const __m256 eb = _mm256_set1_ps(e[r][j]);
                a[r][0] = _mm256_fmadd_ps(eb, v0, a[r][0]);
                a[r][1] = _mm256_fmadd_ps(eb, v1, a[r][1]);
            }
        }
        for (; j < nj[NR - 1]; j++, vp += ldv) {
            const __m256 v0 = load8(vp, full, m[0]), v1 = load8(vp + 8, full, m[1]);
            _Pragma("GCC unroll 6")
            for (int r = 1; r < NR; r++)
                if (j < nj[r]) {
                    const __m256 eb = _mm256_set1_ps(e[r][j]);
                    a[r][0] = _mm256_fmadd_ps(eb, v0, a[r][0]);
                    a[r][1] = _mm256_fmadd_ps(eb, v1, a[r][1]);
                }
        }
        _Pragma("GCC unroll 6")
        for (int r = 0; r < NR; r++) {
            const __m256 sv = _mm256_set1_ps(S[r]);
            _mm256_maskstore_ps(o[r] + d0, m[0], _mm256_div_ps(a[r][0], sv));
            _mm256_maskstore_ps(o[r] + d0 + 8, m[1], _mm256_div_ps(a[r][1], sv));
        }
    }
}

static void wsum_rows(const float *const *e, int nr, const float *Vc, int ldv, const int *nj,
                      int hd, const float *S, float *const *o) {
    switch (nr) {
    case 6: wsum_rows_nr(6, e, Vc, ldv, nj, hd, S, o); break;
    case 5: wsum_rows_nr(5, e, Vc, ldv, nj, hd, S, o); break;
    case 4: wsum_rows_nr(4, e, Vc, ldv, nj, hd, S, o); break;
    case 3: wsum_rows_nr(3, e, Vc, ldv, nj, hd, S, o); break;
    case 2: wsum_rows_nr(2, e, Vc, ldv, nj, hd, S, o); break;
    default: wsum(e[0], Vc, ldv, nj[0], hd, S[0], o[0]); break;
    }
}

/* p[0..31] in four vectors; s = 16 adds p[j] + p[j+16], then the halving tree. */
static float r32_finish(__m256 p0, __m256 p1, __m256 p2, __m256 p3) {
    float p[16];
    _mm256_storeu_ps(p, _mm256_add_ps(p0, p2));
    _mm256_storeu_ps(p + 8, _mm256_add_ps(p1, p3));
    for (int s = 8; s >= 1; s /= 2)
        for (int j = 0; j < s; j++) p[j] = p[j] + p[j + s];
    return p[0];
}

static float r32_sum(const float *x, int n) {
    __m256 p[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int i = 0;
    for (; i + 32 <= n; i += 32)
        for (int v = 0; v < 4; v++) p[v] = _mm256_add_ps(p[v], _mm256_loadu_ps(x + i + 8 * v));
    for (int v = 0; v < 4 && i + 8 * v < n; v++) {
        const __m256i m = tail_mask(n - i - 8 * v);
        /* masked-off lanes add +0, which leaves a partial sum unchanged (a partial sum that
         * starts at +0 is never -0 under round-to-nearest) */
        p[v] = _mm256_add_ps(p[v], _mm256_maskload_ps(x + i + 8 * v, m));
    }
    return r32_finish(p[0], p[1], p[2], p[3]);
}

static float r32_sumsq(const float *x, int n) {
    __m256 p[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int i = 0;
    for (; i + 32 <= n; i += 32)
        for (int v = 0; v < 4; v++) {
            const __m256 a = _mm256_loadu_ps(x + i + 8 * v);
            p[v] = _mm256_fmadd_ps(a, a, p[v]);
        }
    for (int v = 0; v < 4 && i + 8 * v < n; v++) {
        const __m256 a = _mm256_maskload_ps(x + i + 8 * v, tail_mask(n - i - 8 * v));
        p[v] = _mm256_fmadd_ps(a, a, p[v]);
    }
    return r32_finish(p[0], p[1], p[2], p[3]);
}

static void layernorm(const float *x, const float *w, const float *b, int C, float eps,
                       float *y) {
    lac_layernorm_row(r32_sum, r32_sumsq, x, w, b, C, eps, y);
}
/* lac_expf (numerics/lac_math.h) on 8 lanes: forward_avx512.c's expf16 with AVX2 operations,
 * the same operations in the same order, the special cases blended in at the end. */
static inline __m256 expf8(__m256 x) {
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(88.72283935546875f), _CMP_GT_OQ);
    const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-103.972084045410156f), _CMP_LT_OQ);
    const __m256 big = _mm256_set1_ps(12582912.0f);
    const __m256 kf = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269502f), big), big);
    __m256 r = _mm256_fmadd_ps(kf, _mm256_set1_ps(-0.693147182464599609375f), x);
    r = _mm256_fmadd_ps(kf, _mm256_set1_ps(1.904654323148236017e-09f), r);
    __m256 p = _mm256_set1_ps(1.98412698412698413e-04f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.38888888888888889e-03f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.33333333333333333e-03f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.16666666666666667e-02f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.66666666666666667e-01f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i k = _mm256_cvtps_epi32(kf); /* kf is an integer: exact */
    const __m256i k1 = _mm256_srai_epi32(k, 1); /* floor(k / 2) */
    const __m256i k2 = _mm256_sub_epi32(k, k1);
    const __m256i e127 = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, e127), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, e127), 23));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), over);
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), under);
    return _mm256_blendv_ps(y, _mm256_add_ps(x, x), nan);
}

/* lac_tanhf on 8 lanes (both branches computed, then blended), as tanhf16. */
static inline __m256 tanhf8(__m256 x) {
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256 a = _mm256_andnot_ps(sign, x);
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    const __m256 tiny = _mm256_cmp_ps(a, _mm256_set1_ps(2.44140625e-4f), _CMP_LT_OQ);
    const __m256 one = _mm256_cmp_ps(a, _mm256_set1_ps(9.0f), _CMP_GE_OQ);
    const __m256 poly = _mm256_cmp_ps(a, _mm256_set1_ps(0.55f), _CMP_LT_OQ);
    const __m256 a2 = _mm256_mul_ps(a, a);
    __m256 p = _mm256_set1_ps(5.9002744094558598e-04f);
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-1.4558343870513183e-03f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(3.5921280365724810e-03f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-8.8632355299021966e-03f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(2.1869488536155203e-02f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-5.3968253968253968e-02f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(1.3333333333333333e-01f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-3.3333333333333333e-01f));
    const __m256 yp = _mm256_fmadd_ps(_mm256_mul_ps(a, a2), p, a);
    const __m256 one_v = _mm256_set1_ps(1.0f);
    const __m256 e = expf8(_mm256_add_ps(a, a));
    const __m256 ye = _mm256_sub_ps(one_v, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one_v)));
    __m256 y = _mm256_blendv_ps(ye, yp, poly);
    y = _mm256_blendv_ps(y, one_v, one);
    /* y >= 0: setting x's sign bit gives -y where x < 0 */
    y = _mm256_or_ps(y, _mm256_and_ps(x, sign));
    y = _mm256_blendv_ps(y, x, tiny);
    return _mm256_blendv_ps(y, _mm256_add_ps(x, x), nan);
}

static void gelu(float *h, size_t n) {
    size_t k = 0;
    const __m256 c0 = _mm256_set1_ps(0.044715f), c1 = _mm256_set1_ps(0.7978845608028654f);
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    for (; k + 8 <= n; k += 8) {
        const __m256 x = _mm256_loadu_ps(h + k);
        const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        const __m256 u = _mm256_add_ps(x, _mm256_mul_ps(c0, x3));
        const __m256 v = _mm256_mul_ps(c1, u);
        const __m256 y = _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, tanhf8(v)));
        _mm256_storeu_ps(h + k, y);
    }
    lac_op_gelu(h + k, n - k);
}

static void softmax_exp(float *s, int n) {
    float mx = s[0];
    for (int j = 1; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    const __m256 m = _mm256_set1_ps(mx);
    int j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(s + j, expf8(_mm256_sub_ps(_mm256_loadu_ps(s + j), m)));
    for (; j < n; j++) s[j] = lac_expf(s[j] - mx);
}

const lac_fast_kernels lac_fast_avx2 = {
    .isa = "avx2", .panel = 48, .matmul = matmul, .matmul_f16 = matmul_f16,
    .matmul_pk = matmul_p8, .pack = 8,
    .key_block = KEYB, .scores = scores, .wsum = wsum,
    .scores_rows = scores_rows, .wsum_rows = wsum_rows,
    .rows_max_hd = INT_MAX, /* (16-channel passes: any head width) */
    .r32_sum = r32_sum, .r32_sumsq = r32_sumsq,
    .layernorm = layernorm, .gelu = gelu, .softmax_exp = softmax_exp,
};
#endif
