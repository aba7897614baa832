/* quantize.cu — logits -> integer frequencies (docs/NUMERICS.md §9) on the GPU, bitwise equal
 * to numerics/quantize.c. One block per row. The per-element steps are numerics/quant_steps.h (the
 * same code the host self-check runs); the reductions are a max (order-free) and sums / minima
 * of integers (exact, so any order gives the same result).
 *
 * Passes over the row: (1) max; (2) u, w: W = sum w, i* = smallest i with u = 0;
 * (3) k = (A << 32) / W, f = 1 + ((w k) >> 32), F = sum f (and, for coding, the sum of f below
 * the target); R = 2^P - F goes to f[i*]. A row without u = 0 is uniform (quant_steps.h). */
#include "lac_cuda.h"

extern "C" {
#include "exp2_table.h"
}
#include "quant_steps.h"
#include "warp.cuh"

#define Q_THREADS 1024
#define Q_WARPS (Q_THREADS / 32)

static __constant__ uint32_t c_exp2[4096];

cudaError_t lac_cuda_quantize_setup(void) {
    return cudaMemcpyToSymbol(c_exp2, LAC_EXP2_TABLE, sizeof LAC_EXP2_TABLE);
}

/* Block-wide reductions; every thread gets the result. `sh` holds Q_WARPS entries. */
static __device__ float block_max(float v, float *sh) {
    for (int o = 16; o >= 1; o >>= 1) v = lac_q_max(v, __shfl_down_sync(FULL_MASK, v, o));
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    float m = sh[0];
    for (int w = 1; w < Q_WARPS; w++) m = lac_q_max(m, sh[w]);
    __syncthreads();
    return m;
}

static __device__ unsigned long long block_sum(unsigned long long v, unsigned long long *sh) {
    for (int o = 16; o >= 1; o >>= 1) v += __shfl_down_sync(FULL_MASK, v, o);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    unsigned long long s = 0;
    for (int w = 0; w < Q_WARPS; w++) s += sh[w];
    __syncthreads();
    return s;
}

static __device__ uint32_t block_min(uint32_t v, uint32_t *sh) {
    for (int o = 16; o >= 1; o >>= 1) v = min(v, __shfl_down_sync(FULL_MASK, v, o));
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    uint32_t m = sh[0];
    for (int w = 1; w < Q_WARPS; w++) m = min(m, sh[w]);
    __syncthreads();
    return m;
}

/* Decoding (lac_engine_forward_decode): frow holds the finished row; finds the symbol v with
 * cum(v) <= t < cum(v) + f[v] (as lac_freqs_find; the row sums to 2^P > t, so v is unique).
 * Thread i sums the contiguous segment i of the row, each warp sums its 32 segments, then one
 * thread walks warps, segments and elements: about 100 sequential steps instead of V. */
static __device__ void find_symbol(const uint32_t *frow, int V, uint32_t t, int r,
                                   int32_t *sym, uint32_t *cum, uint32_t *freq) {
    __shared__ unsigned long long seg_sum[Q_THREADS], warp_sum[Q_WARPS];
    __syncthreads(); /* frow (global) is complete, f[i*] included */
    const int tid = threadIdx.x, seg = (V + Q_THREADS - 1) / Q_THREADS;
    const int lo = min(V, tid * seg), hi = min(V, lo + seg);
    unsigned long long sum = 0;
    for (int i = lo; i < hi; i++) sum += frow[i];
    seg_sum[tid] = sum;
    for (int o = 16; o >= 1; o >>= 1) sum += __shfl_down_sync(FULL_MASK, sum, o);
    if (tid % 32 == 0) warp_sum[tid / 32] = sum;
    __syncthreads();
    if (tid != 0) return;
    unsigned long long c = 0;
    int w = 0, g, i;
    while (w + 1 < Q_WARPS && t - c >= warp_sum[w]) c += warp_sum[w++];
    for (g = w * 32; g + 1 < (w + 1) * 32 && t - c >= seg_sum[g]; g++) c += seg_sum[g];
    for (i = min(V - 1, g * seg); i + 1 < V && t - c >= frow[i]; i++) c += frow[i];
    sym[r] = i;
    cum[r] = (uint32_t)c;
    freq[r] = frow[i];
}

__global__ void __launch_bounds__(Q_THREADS)
    quantize_kernel(const float *__restrict__ logits, int V, uint32_t P, uint32_t s, float T,
                    const int32_t *__restrict__ targets, uint32_t *__restrict__ cum,
                    uint32_t *__restrict__ freq, uint32_t *__restrict__ freqs,
                    const uint32_t *__restrict__ dec_targets, int32_t *__restrict__ sym) {
    __shared__ uint32_t table[4096];
    __shared__ unsigned long long red64[Q_WARPS];
    __shared__ float redf[Q_WARPS];
    __shared__ uint32_t red32[Q_WARPS];
    const int r = blockIdx.x, tid = threadIdx.x;
    const float *z = logits + (size_t)r * V;
    for (int i = tid; i < 4096; i += Q_THREADS) table[i] = c_exp2[i];

    /* (1) max */
    float m = -INFINITY;
    for (int i = tid; i < V; i += Q_THREADS) m = lac_q_max(m, z[i]);
    m = block_max(m, redf); /* its barrier also publishes `table` */

    /* (2) W and the argmax i* */
    const float c = lac_q_scale(s, T), negL = lac_q_neg_limit(s);
    unsigned long long W = 0;
    uint32_t imax = (uint32_t)V;
    for (int i = tid; i < V; i += Q_THREADS) {
        const uint32_t u = lac_q_u(z[i], m, c, negL);
        W += lac_q_w(u, s, table);
        if (u == 0 && (uint32_t)i < imax) imax = (uint32_t)i;
    }
    W = block_sum(W, red64);
    imax = block_min(imax, red32);
    const int uniform = imax == (uint32_t)V; /* no u == 0: uniform row, as quantize.c */
    if (uniform) {
        W = (unsigned long long)V * table[0];
        imax = 0;
    }

    /* (3) frequencies */
    const uint64_t k = lac_q_k(P, (uint32_t)V, W);
    const int target = targets ? targets[r] : -1;
    unsigned long long F = 0, below = 0;
    uint32_t *frow = freqs ? freqs + (size_t)r * V : NULL;
    for (int i = tid; i < V; i += Q_THREADS) {
        const uint32_t f = lac_q_f(lac_q_w_row(lac_q_u(z[i], m, c, negL), s, table, uniform), k);
        F += f;
        if (i < target) below += f;
        if (frow) frow[i] = f;
        if (freq && i == target) freq[r] = f;
    }
    F = block_sum(F, red64);
    if (targets) below = block_sum(below, red64);
    if (tid == 0) {
        const uint32_t R = (uint32_t)(((uint64_t)1 << P) - F);
        if (frow) frow[imax] += R;
        if (targets && (int)imax == target) freq[r] += R;
        if (targets && (int)imax < target) below += R;
        if (targets) cum[r] = (uint32_t)below;
    }
    if (dec_targets) find_symbol(frow, V, dec_targets[r], r, sym, cum, freq);
}

void lac_cuda_quantize(const float *logits, int rows, int V, uint32_t P, uint32_t s, float T,
                       const int32_t *targets, uint32_t *cum, uint32_t *freq, uint32_t *freqs,
                       cudaStream_t st) {
    if (rows <= 0) return;
    LAC_LAUNCH((unsigned)rows, Q_THREADS, 0, st, quantize_kernel)(logits, V, P, s, T, targets, cum,
                                                                  freq, freqs, (const uint32_t *)nullptr,
                                                                  (int32_t *)nullptr);
}

void lac_cuda_quantize_find(const float *logits, int rows, int V, uint32_t P, uint32_t s, float T,
                            const uint32_t *dec_targets, int32_t *sym, uint32_t *cum,
                            uint32_t *freq, uint32_t *freqs, cudaStream_t st) {
    if (rows <= 0) return;
    LAC_LAUNCH((unsigned)rows, Q_THREADS, 0, st, quantize_kernel)(logits, V, P, s, T, (const int32_t *)nullptr, cum,
                                                                  freq, freqs, dec_targets, sym);
}
