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

/* ---- causal attention (§6): one block per (row, head) -------------------------------------
 * 1. q to shared memory; 2. every score s[j] = chain_d(q[d], k_j[d]) * scale, j = 0..t, each
 * by one thread, into shared memory, with a block max; 3. e[j] = lac_expf(s[j] - m) in place;
 * 4. S = R32(e) by warp 0 (lane l sums j = l, l+32, ... in order); 5. each output o[d] is one
 * thread's chain over j = 0..t in order, then one division by S. */
#define ATT_THREADS 128

size_t lac_cuda_attention_smem(int n_ctx, int head_dim) {
    return ((size_t)head_dim + (size_t)n_ctx + ATT_THREADS / WARP + 1) * sizeof(float);
}

__global__ void __launch_bounds__(ATT_THREADS)
    attention_kernel(float *__restrict__ out, const float *__restrict__ qkv,
                     const float *__restrict__ kc, const float *__restrict__ vc,
                     const int32_t *__restrict__ stream, const int32_t *__restrict__ pos, int C,
                     int hd, int n_ctx) {
    LAC_DYNAMIC_SHARED(float, sh);
    float *q = sh;               /* [hd] */
    float *e = sh + hd;          /* [n_ctx]: scores, then exponentials */
    float *red = e + n_ctx;      /* [ATT_THREADS / WARP + 1]: warp maxima, then S */
    const int r = blockIdx.x, h = blockIdx.y;
    const int tid = threadIdx.x, lane = tid % WARP, warp = tid / WARP;
    const int t = pos[r];
    const size_t base = (size_t)stream[r] * n_ctx * C + (size_t)h * hd;
    const float *K = kc + base, *V = vc + base;

    const float *qr = qkv + (size_t)r * 3 * C + (size_t)h * hd;
    for (int d = tid; d < hd; d += ATT_THREADS) q[d] = qr[d];
    __syncthreads();

    const float scale = 1.0f / sqrtf((float)hd);
    float m = -INFINITY;
    for (int j = tid; j <= t; j += ATT_THREADS) {
        const float *kj = K + (size_t)j * C;
        float acc = 0.0f;
        for (int d = 0; d < hd; d++) acc = fmaf(q[d], kj[d], acc);
        const float s = acc * scale;
        e[j] = s;
        m = (s > m) ? s : m;
    }
    /* block max (order-free) */
    for (int o = 16; o >= 1; o >>= 1) {
        const float other = __shfl_down_sync(FULL_MASK, m, o);
        m = (other > m) ? other : m;
    }
    if (lane == 0) red[warp] = m;
    __syncthreads();
    m = red[0];
    for (int w = 1; w < ATT_THREADS / WARP; w++) m = (red[w] > m) ? red[w] : m;

    for (int j = tid; j <= t; j += ATT_THREADS) e[j] = lac_expf(e[j] - m);
    __syncthreads();

    if (warp == 0) {
        float p = 0.0f;
        for (int j = lane; j <= t; j += WARP) p = p + e[j];
        p = r32_finish(p);
        if (lane == 0) red[ATT_THREADS / WARP] = p;
    }
    __syncthreads();
    const float S = red[ATT_THREADS / WARP];

    float *orow = out + (size_t)r * C + (size_t)h * hd;
    for (int d = tid; d < hd; d += ATT_THREADS) {
        float acc = 0.0f;
        for (int j = 0; j <= t; j++) acc = fmaf(e[j], V[(size_t)j * C + d], acc);
        orow[d] = acc / S;
    }
}

cudaError_t lac_cuda_attention_setup(int n_ctx, int head_dim) {
    return cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)lac_cuda_attention_smem(n_ctx, head_dim));
}

void lac_cuda_attention(float *out, const float *qkv, const float *kc, const float *vc,
                        const int32_t *stream, const int32_t *pos, int R, int C, int n_head,
                        int n_ctx, cudaStream_t st) {
    if (R <= 0) return;
    const int hd = C / n_head;
    dim3 grid((unsigned)R, (unsigned)n_head);
    LAC_LAUNCH(grid, ATT_THREADS, lac_cuda_attention_smem(n_ctx, hd), st, attention_kernel)(
        out, qkv, kc, vc, stream, pos, C, hd, n_ctx);
}
