/* Kernels of the fast CPU backend (engine/forward_fast.c). Each ISA file fills one table; all
 * compute exactly docs/NUMERICS.md (one fmaf chain per output, vectorised across outputs; R32
 * with 32 partial sums), so every table gives the scalar backend's bits. */
#ifndef LAC_FORWARD_FAST_H
#define LAC_FORWARD_FAST_H
#include <stddef.h>
#include <stdint.h>

#define LAC_ATT_ROWS 6  /* rows of one stream that scores_rows / wsum_rows take at once */
#define LAC_ATT_HEADS 4 /* heads of one row that wsum_n takes at once (<= LAC_ATT_ROWS) */

/* Cached keys of one head lie in blocks of kb positions (the kernel table's key_block: 128 for
 * AVX-512 and the generic kernels, 64 for AVX2, whose passes of 8 vectors then read a block
 * from start to end: measured on Zen 3, a decoding step's scores ran at 10.7-15.4 GB/s
 * against 8.2-11.2 over half blocks of 128). Floats from one block to the next: hd * kb, and one cache
 * line more so that consecutive blocks do not start in the same L1 set. */
#define LAC_KEY_BLOCK 128 /* the generic kernels' and AVX-512's key_block */
static inline size_t lac_key_block(int kb, int hd) { return (size_t)hd * (size_t)kb + 16; }
/* where key j's channel d of one head lies in its blocks: a block holds channel 0 of its kb
 * positions, then channel 1, ..., so a pass of scores over one block reads it in order */
static inline size_t lac_key_at(int kb, int hd, int j, int d) {
    return (size_t)(j / kb) * lac_key_block(kb, hd) + (size_t)d * (size_t)kb + (size_t)(j % kb);
}

typedef struct lac_fast_kernels {
    const char *isa; /* "avx512", "avx2", "generic" */
    int panel;       /* output columns per matmul tile handed to one thread */
    /* Y[r][n] = chain_k(X[r*ldx + k], W[k*N + n]) (+ bias[n]) for r < R, n0 <= n < n1. */
    void (*matmul)(const float *X, int ldx, int R, int K, const float *W, int N,
                   const float *bias, float *const *Y, int n0, int n1);
    /* matmul with W in IEEE half precision (the LM head of F16 model files): each weight is
     * widened exactly to fp32 in registers, so the chains and bits are matmul's with half the
     * bytes read. NULL: not available (forward_fast.c falls back to matmul on the fp32 copy). */
    void (*matmul_f16)(const float *X, int ldx, int R, int K, const uint16_t *W, int N,
                       const float *bias, float *const *Y, int n0, int n1);
    /* matmul on packed weights: Wp holds W[K][N] as ceil(N/pack) groups of [K][pack] columns
     * (group g = columns pack*g .. pack*g+pack-1, the last one zero-padded), fp32 (f16 = 0) or
     * IEEE halves (f16 = 1, widened exactly in registers); n0 is a multiple of pack. Same chains
     * and bits as matmul. NULL: not available (forward_fast.c does not pack).
     * wide: NULL, or scratch of K * wide_cols floats: then a call on halves with enough rows
     * widens each block of wide_cols columns once, while its first rows are computed, and the
     * other rows read the fp32 copy (the same values, so the same bits). Worth it where
     * widening takes the FMA ports (forward_fast.c, f16_widen_pays). */
    void (*matmul_pk)(const float *X, int ldx, int R, int K, const void *Wp, int f16, int N,
                      const float *bias, float *const *Y, int n0, int n1, float *wide);
    int pack; /* columns per group of packed weights: one vector (8 for AVX2, 16 for AVX-512) */
    int wide_cols; /* columns matmul_pk widens at once, or 0: it ignores `wide` */
    int key_block; /* positions per block of the cached keys that scores reads (above) */
    /* s[j] = chain_d(q[d], key j's channel d) * scale, for j < nj, d < hd. Kb holds one head's
     * keys in blocks of kb = key_block positions, [ceil(n_ctx/kb)][hd][kb] with blocks
     * lac_key_block(kb, hd) floats apart: key j's channel d at lac_key_at(kb, hd, j, d). */
    void (*scores)(const float *q, const float *Kb, int hd, int nj, float scale, float *s);
    /* o[d] = chain_j(e[j], Vc[j*ldv + d]) / S, for d < hd, j < nj. */
    void (*wsum)(const float *e, const float *Vc, int ldv, int nj, int hd, float S, float *o);
    /* wsum for nh <= LAC_ATT_HEADS heads of the same row at once (e[h], Vc[h], S[h], o[h]):
     * more chains in flight, and the heads' parts of each value row read together. NULL:
     * forward_fast.c calls wsum per head. */
    void (*wsum_n)(int nh, const float *const *e, const float *const *Vc, int ldv, int nj,
                   int hd, const float *S, float *const *o);
    /* Attention of nr <= LAC_ATT_ROWS consecutive rows of one stream (positions p .. p + nr - 1,
     * so nj[r] = nj[0] + r) for one head, each key and value read once for all rows: row r's
     * scores s[r][j] for j < nj[r] as scores computes them (entries up to nj[nr-1] may be
     * written), and o[r] as wsum. Only for hd <= rows_max_hd. NULL: row by row. */
    void (*scores_rows)(const float *const *q, int nr, const float *Kb, int hd, const int *nj,
                        float scale, float *const *s);
    void (*wsum_rows)(const float *const *e, int nr, const float *Vc, int ldv, const int *nj,
                      int hd, const float *S, float *const *o);
    int rows_max_hd;
    float (*r32_sum)(const float *x, int n);
    float (*r32_sumsq)(const float *x, int n);
    /* y = LayerNorm(x; w, b) over C (docs/NUMERICS.md §3) */
    void (*layernorm)(const float *x, const float *w, const float *b, int C, float eps, float *y);
    /* h[k] = GELU(h[k]) for k < n (§4) */
    void (*gelu)(float *h, size_t n);
    /* s[j] = lac_expf(s[j] - max s) for j < n (§6) */
    void (*softmax_exp)(float *s, int n);
} lac_fast_kernels;

extern const lac_fast_kernels lac_fast_generic; /* forward_fast.c, any CPU */
#if defined(__x86_64__) || defined(__i386__)
#define LAC_FAST_X86 1
extern const lac_fast_kernels lac_fast_avx2;   /* forward_avx2.c (AVX2 + FMA; matmul_f16
                                                   also needs F16C: check before use) */
extern const lac_fast_kernels lac_fast_avx512; /* forward_avx512.c (AVX-512F) */
/* the same with the prefill's value sums unchecked for subnormals (AMD: no assists) */
extern const lac_fast_kernels lac_fast_avx512_plain;
#endif
#endif
