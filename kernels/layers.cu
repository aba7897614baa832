/* layers.cu — embedding, LayerNorm, KV-cache store and causal attention under
 * docs/NUMERICS.md §1, §3, §5, §6. Rows are the tokens of all streams gathered into one
 * [R][C] matrix; tok/pos/stream give each row's token, position and stream. */
#include "lac_cuda.h"

extern "C" {
#include "lac_math.h"
}

#define WARP 32
#define FULL_MASK 0xffffffffu

/* §1 R32 tail: lane j holds p[j]; after s = 16, 8, 4, 2, 1 lane 0 holds the result, which is
 * broadcast to every lane. */
static __device__ __forceinline__ float r32_finish(float p) {
    for (int s = 16; s >= 1; s >>= 1) p = p + __shfl_down_sync(FULL_MASK, p, s);
    return __shfl_sync(FULL_MASK, p, 0);
}

/* ---- embedding (§5) ------------------------------------------------------------------------ */
__global__ void embed_kernel(float *__restrict__ x, const float *__restrict__ wte,
                             const float *__restrict__ wpe, const int32_t *__restrict__ tok,
                             const int32_t *__restrict__ pos, int R, int C) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)R * C) return;
    const int r = (int)(idx / C), i = (int)(idx % C);
    x[idx] = wte[(size_t)tok[r] * C + i] + wpe[(size_t)pos[r] * C + i];
}

void lac_cuda_embed(float *x, const float *wte, const float *wpe, const int32_t *tok,
                    const int32_t *pos, int R, int C, cudaStream_t st) {
    const size_t n = (size_t)R * C;
    if (n == 0) return;
    LAC_LAUNCH((unsigned)((n + 255) / 256), 256, 0, st, embed_kernel)(x, wte, wpe, tok, pos, R, C);
}

/* ---- LayerNorm (§3): one warp per row ------------------------------------------------------ */
__global__ void layernorm_kernel(float *__restrict__ y, const float *__restrict__ x,
                                 const float *__restrict__ w, const float *__restrict__ b,
                                 float eps, int R, int C) {
    const int lane = threadIdx.x % WARP;
    const int r = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
    if (r >= R) return; /* whole warp leaves together */
    const float *xr = x + (size_t)r * C;
    float *yr = y + (size_t)r * C;
    float p = 0.0f;
    for (int i = lane; i < C; i += WARP) p = p + xr[i];
    const float mean = r32_finish(p) / (float)C;
    p = 0.0f;
    for (int i = lane; i < C; i += WARP) {
        const float d = xr[i] - mean;
        p = fmaf(d, d, p);
    }
    const float var = r32_finish(p) / (float)C;
    const float rstd = 1.0f / sqrtf(var + eps);
    for (int i = lane; i < C; i += WARP) {
        const float d = xr[i] - mean;
        yr[i] = fmaf(d * rstd, w[i], b[i]);
    }
}

void lac_cuda_layernorm(float *y, const float *x, const float *w, const float *b, float eps, int R,
                        int C, cudaStream_t st) {
    if (R <= 0) return;
    const int rows_per_block = 4;
    LAC_LAUNCH((unsigned)((R + rows_per_block - 1) / rows_per_block), rows_per_block * WARP, 0,
               st, layernorm_kernel)(y, x, w, b, eps, R, C);
}

/* ---- KV cache store ------------------------------------------------------------------------ */
__global__ void kv_store_kernel(float *__restrict__ kc, float *__restrict__ vc,
                                const float *__restrict__ qkv, const int32_t *__restrict__ stream,
                                const int32_t *__restrict__ pos, int R, int C, int n_ctx) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)R * C) return;
    const int r = (int)(idx / C), i = (int)(idx % C);
    const size_t dst = ((size_t)stream[r] * n_ctx + pos[r]) * C + i;
    const float *src = qkv + (size_t)r * 3 * C;
    kc[dst] = src[C + i];
    vc[dst] = src[2 * C + i];
}

void lac_cuda_kv_store(float *kc, float *vc, const float *qkv, const int32_t *stream,
                       const int32_t *pos, int R, int C, int n_ctx, cudaStream_t st) {
    const size_t n = (size_t)R * C;
    if (n == 0) return;
    LAC_LAUNCH((unsigned)((n + 255) / 256), 256, 0, st, kv_store_kernel)(kc, vc, qkv, stream, pos,
                                                                         R, C, n_ctx);
}

/* ---- causal attention (§6) -----------------------------------------------------------------
 * One block per (group of up to qb rows of ONE stream, head): the rows share the loads of the
 * stream's keys and values. Per row i (position t_i):
 * 1. q to shared memory; 2. every score s[i][j] = chain_d(q_i[d], k_j[d]) * scale, j = 0..t_i,
 * each by one thread, into shared memory; 3. warp w takes rows w, w + 8, ...: the row max (a
 * warp reduction, order-free), then lane l computes e[j] = lac_expf(s[j] - m) for j = l, l+32,
 * ... and adds them in that order — exactly R32 — and the warp's shuffle tree gives S; 4. each
 * output o_i[d] is one thread's chain over j = 0..t_i in order, then one division by S_i. */
#define ATT_THREADS 256
#define ATT_WARPS (ATT_THREADS / WARP)
#define ATT_MAX_OUT 4 /* outputs per thread: qb * head_dim <= ATT_MAX_OUT * ATT_THREADS */
#define ATT_QB 8      /* rows per block at most */

int lac_cuda_attention_rows(int head_dim) {
    int qb = ATT_MAX_OUT * ATT_THREADS / head_dim;
    return qb > ATT_QB ? ATT_QB : qb;
}

size_t lac_cuda_attention_smem(int n_ctx, int head_dim) {
    const size_t qb = (size_t)lac_cuda_attention_rows(head_dim);
    return (qb * (size_t)head_dim + qb * (size_t)n_ctx + qb) * sizeof(float);
}

__global__ void __launch_bounds__(ATT_THREADS)
    attention_kernel(float *__restrict__ out, const float *__restrict__ qkv,
                     const float *__restrict__ kc, const float *__restrict__ vc,
                     const int32_t *__restrict__ stream, const int32_t *__restrict__ pos,
                     const int32_t *__restrict__ group_first, const int32_t *__restrict__ group_n,
                     int C, int hd, int n_ctx, int qb) {
    LAC_DYNAMIC_SHARED(float, sh);
    float *q = sh;                      /* [qb][hd] */
    float *e = q + (size_t)qb * hd;     /* [qb][n_ctx]: scores, then exponentials */
    float *S = e + (size_t)qb * n_ctx;  /* [qb] */
    const int g = blockIdx.x, h = blockIdx.y;
    const int tid = threadIdx.x, lane = tid % WARP, warp = tid / WARP;
    const int r0 = group_first[g], n = group_n[g];
    const size_t base = (size_t)stream[r0] * n_ctx * C + (size_t)h * hd;
    const float *K = kc + base, *V = vc + base;
    int tmax = 0;
    for (int i = 0; i < n; i++) tmax = max(tmax, (int)pos[r0 + i]);

    for (int x = tid; x < n * hd; x += ATT_THREADS) {
        const int i = x / hd, d = x % hd;
        q[x] = qkv[(size_t)(r0 + i) * 3 * C + (size_t)h * hd + d];
    }
    __syncthreads();

    /* 2. scores; neighbouring threads share a key row (j = x / n) */
    const float scale = 1.0f / sqrtf((float)hd);
    for (int x = tid; x < n * (tmax + 1); x += ATT_THREADS) {
        const int j = x / n, i = x % n;
        if (j > pos[r0 + i]) continue;
        const float *kj = K + (size_t)j * C, *qi = q + (size_t)i * hd;
        float acc = 0.0f;
        for (int d = 0; d < hd; d++) acc = fmaf(qi[d], kj[d], acc);
        e[(size_t)i * n_ctx + j] = acc * scale;
    }
    __syncthreads();

    /* 3. max, exponentials and S = R32(e), one warp per row */
    for (int i = warp; i < n; i += ATT_WARPS) {
        const int t = pos[r0 + i];
        float *ei = e + (size_t)i * n_ctx;
        float m = -INFINITY;
        for (int j = lane; j <= t; j += WARP) m = (ei[j] > m) ? ei[j] : m;
        for (int o = 16; o >= 1; o >>= 1) {
            const float other = __shfl_down_sync(FULL_MASK, m, o);
            m = (other > m) ? other : m;
        }
        m = __shfl_sync(FULL_MASK, m, 0);
        float p = 0.0f;
        for (int j = lane; j <= t; j += WARP) {
            const float ej = lac_expf(ei[j] - m);
            ei[j] = ej;
            p = p + ej;
        }
        p = r32_finish(p);
        if (lane == 0) S[i] = p;
    }
    __syncthreads();

    /* 4. outputs: thread tid owns outputs x = tid + k * ATT_THREADS, (row, d) = (x / hd, x % hd) */
    float acc[ATT_MAX_OUT];
    int oi[ATT_MAX_OUT], od[ATT_MAX_OUT], ot[ATT_MAX_OUT];
    int no = 0;
#pragma unroll
    for (int k = 0; k < ATT_MAX_OUT; k++) {
        const int x = tid + k * ATT_THREADS;
        acc[k] = 0.0f;
        oi[k] = x / hd;
        od[k] = x % hd;
        ot[k] = x < n * hd ? (int)pos[r0 + x / hd] : -1; /* -1: no such output */
        no += x < n * hd;
    }
    if (no == 0) return;
    for (int j = 0; j <= tmax; j++) {
        const float *vj = V + (size_t)j * C;
#pragma unroll
        for (int k = 0; k < ATT_MAX_OUT; k++)
            if (j <= ot[k]) acc[k] = fmaf(e[(size_t)oi[k] * n_ctx + j], vj[od[k]], acc[k]);
    }
#pragma unroll
    for (int k = 0; k < ATT_MAX_OUT; k++)
        if (ot[k] >= 0)
            out[(size_t)(r0 + oi[k]) * C + (size_t)h * hd + od[k]] = acc[k] / S[oi[k]];
}

cudaError_t lac_cuda_attention_setup(size_t max_smem) {
    return cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)max_smem);
}

void lac_cuda_attention(float *out, const float *qkv, const float *kc, const float *vc,
                        const int32_t *stream, const int32_t *pos, const int32_t *group_first,
                        const int32_t *group_n, int n_groups, int C, int n_head, int n_ctx,
                        cudaStream_t st) {
    if (n_groups <= 0) return;
    const int hd = C / n_head;
    dim3 grid((unsigned)n_groups, (unsigned)n_head);
    LAC_LAUNCH(grid, ATT_THREADS, lac_cuda_attention_smem(n_ctx, hd), st, attention_kernel)(
        out, qkv, kc, vc, stream, pos, group_first, group_n, C, hd, n_ctx,
        lac_cuda_attention_rows(hd));
}
