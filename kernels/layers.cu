/* layers.cu — embedding, LayerNorm and the KV-cache store under docs/NUMERICS.md §1, §3, §5
 * (causal attention is attention.cu). Rows are the tokens of all streams gathered into one
 * [R][C] matrix; tok/pos/stream give each row's token, position and stream. */
#include "lac_cuda.h"

extern "C" {
#include "lac_ops.h"
}
#include "warp.cuh"

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
    const float mean = warp_r32_finish(p) / (float)C;
    p = 0.0f;
    for (int i = lane; i < C; i += WARP) {
        const float d = xr[i] - mean;
        p = fmaf(d, d, p);
    }
    const float rstd = lac_ln_rstd(warp_r32_finish(p) / (float)C, eps);
    for (int i = lane; i < C; i += WARP) yr[i] = lac_ln_out(xr[i] - mean, rstd, w[i], b[i]);
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

