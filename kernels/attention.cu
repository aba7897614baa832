/* attention.cu — causal attention under docs/NUMERICS.md §1 and §6: the prefill kernel (groups
 * of rows of one stream) and the step kernel (one row), same bits. Rows are the tokens of all
 * streams gathered into one [R][C] matrix; pos/stream give each row's position and stream. */
#include "lac_cuda.h"

extern "C" {
#include "lac_math.h"
}
#include "warp.cuh"

/* ---- causal attention (§6) -----------------------------------------------------------------
 * Rows come in groups of consecutive rows of ONE stream (built by the backend), so that the
 * rows of a group share the loads of the stream's keys and values. Two kernels, same bits:
 *
 * attention_prefill_kernel — groups of 2..ATT_QB rows (prefill). One block of 256 threads per
 *   (group, head). Keys and values go through shared memory in tiles of ATT_TJ positions,
 *   loaded coalesced, the next tile already in registers while the current one is used.
 *   1. scores: thread (ty, tx) computes s[i][j] for rows i = ty, ty + 16 and keys
 *      j = j0 + tx + 16c (c < 4) of the tile: 8 independent chains over d = 0..hd-1 in order,
 *      q and k read 4 d at a time (float4), each value consumed in order; then * scale.
 *   2. warp w takes rows w, w + 8, ...: the row max (order-free), then lane l computes
 *      e[j] = lac_expf(s[j] - m) for j = l, l+32, ... and adds them in that order — exactly
 *      R32 — and the warp's shuffle tree gives S.
 *   3. outputs: thread (ty, tx) owns o[i][d] for rows i = ty, ty + 16 and d = 4tx + 64c + u
 *      (u < 4): one chain each over j = 0..t_i in order (tiles in order, j in order inside),
 *      then one division by S_i. Rows whose t_i ends inside a tile stop exactly at t_i.
 * attention_step_kernel — one row (decoding steps). One block of 64 threads per (row, head):
 *   tiles of 64 keys through shared memory, thread j computes s[j] (one chain over d); the
 *   max over all threads, e[j] = lac_expf(s[j] - m) by all threads; warp 0 adds e in the R32
 *   order; each output o[d] is one thread's chain over j = 0..t in order (value tiles through
 *   shared memory), then / S. Small blocks so that many rows stream their prefixes at once.
 * No online softmax, no split of a chain, no atomics. */
#define ATT_THREADS 256 /* prefill kernel: threads per block (16 x 16) */
#define ATT_QB 32       /* prefill kernel: rows per group at most (ty and ty + 16) */
#define ATT_TJ 64       /* prefill kernel: key / value positions per tile */
#define ATT_HD_MAX 256  /* prefill kernel: largest head size (64 per float4 column group) */
#define STEP_THREADS 64 /* step kernel: threads per block = positions per tile */
#define STEP_WARPS (STEP_THREADS / WARP)
#define STEP_MAX_OUT 16 /* step kernel: outputs per thread (head size <= 1024) */

/* Padded row stride of q / key / value tiles in shared memory: a multiple of 4 (float4 rows)
 * plus 4, so that the float4 reads of 8 consecutive rows hit 32 different banks. */
static __host__ __device__ int att_ld(int hd) { return ((hd + 3) & ~3) + 4; }
/* Row stride of the score rows (float4 reads along j). */
static __host__ __device__ int att_lde(int n_ctx) { return (n_ctx + 3) & ~3; }

static size_t prefill_smem(int n_ctx, int hd, int qb) {
    return ((size_t)(qb + ATT_TJ) * att_ld(hd) + (size_t)qb * att_lde(n_ctx) + qb) *
           sizeof(float);
}
static size_t step_smem(int n_ctx, int hd) {
    return ((size_t)(1 + STEP_THREADS) * att_ld(hd) + att_lde(n_ctx) + STEP_WARPS + 1) *
           sizeof(float);
}

/* Prefill tiles: element x = tid + k * ATT_THREADS of rows [j0, j1) (hd floats each, row
 * stride C in global memory) is register k of thread tid: consecutive threads read
 * consecutive floats of a row (coalesced). */
template <int PF>
static __device__ __forceinline__ void tile_fetch(float (&r)[PF], const float *__restrict__ src,
                                                  int C, int hd, int j0, int j1, int tid) {
    const int n = (j1 - j0) * hd;
#pragma unroll
    for (int k = 0; k < PF; k++) {
        const int x = tid + k * ATT_THREADS;
        r[k] = x < n ? src[(size_t)(j0 + x / hd) * C + x % hd] : 0.0f;
    }
}
template <int PF>
static __device__ __forceinline__ void tile_store(float *dst, int ld, const float (&r)[PF],
                                                  int hd, int rows, int tid) {
    const int n = rows * hd;
#pragma unroll
    for (int k = 0; k < PF; k++) {
        const int x = tid + k * ATT_THREADS;
        if (x < n) dst[(x / hd) * ld + x % hd] = r[k];
    }
}

/* acc[c] = fmaf(a.x, b.x, acc) ... fmaf(a.w, b.w, acc): four steps of one chain, in d order */
static __device__ __forceinline__ float chain4(float acc, float4 a, float4 b) {
    acc = fmaf(a.x, b.x, acc);
    acc = fmaf(a.y, b.y, acc);
    acc = fmaf(a.z, b.z, acc);
    return fmaf(a.w, b.w, acc);
}
/* acc[u] = fmaf(e, v.u, acc[u]): one step of four chains (four outputs) */
static __device__ __forceinline__ void step4(float (&acc)[4], float e, float4 v) {
    acc[0] = fmaf(e, v.x, acc[0]);
    acc[1] = fmaf(e, v.y, acc[1]);
    acc[2] = fmaf(e, v.z, acc[2]);
    acc[3] = fmaf(e, v.w, acc[3]);
}

/* Prefill stage 1, scores: e[i][j] = chain_d(q[i][d] * k[j][d]) * scale for this thread's rows
 * i = ri[a] (those with rt[a] >= 0) and keys j = j0 + tx + 16c of each tile, over key tiles
 * j0 = 0, ATT_TJ, ... <= tmax. pf holds the first key tile on entry (the next one is fetched
 * while the current one is used). */
template <int PF>
static __device__ __forceinline__ void prefill_scores(float (&pf)[PF], const float *__restrict__ K,
                                                      float *kv, float *e, const float *q0,
                                                      const float *q1, const int (&ri)[2],
                                                      const int (&rt)[2], int C, int hd, int ld,
                                                      int lde, int tmax, int tid, int tx) {
    const float scale = 1.0f / sqrtf((float)hd);
    const int hd4 = hd & ~3;
    for (int j0 = 0; j0 <= tmax; j0 += ATT_TJ) {
        const int j1 = min(j0 + ATT_TJ, tmax + 1);
        __syncthreads(); /* the previous tile is used up (first time: q is stored) */
        tile_store<PF>(kv, ld, pf, hd, j1 - j0, tid);
        __syncthreads();
        if (j1 <= tmax) tile_fetch<PF>(pf, K, C, hd, j1, min(j1 + ATT_TJ, tmax + 1), tid);
        float acc[2][4];
#pragma unroll
        for (int c = 0; c < 4; c++) acc[0][c] = acc[1][c] = 0.0f;
        for (int d = 0; d < hd4; d += 4) {
            const float4 a0 = *(const float4 *)(q0 + d), a1 = *(const float4 *)(q1 + d);
#pragma unroll
            for (int c = 0; c < 4; c++) {
                const float4 k = *(const float4 *)(kv + (tx + 16 * c) * ld + d);
                acc[0][c] = chain4(acc[0][c], a0, k);
                acc[1][c] = chain4(acc[1][c], a1, k);
            }
        }
        for (int d = hd4; d < hd; d++) {
#pragma unroll
            for (int c = 0; c < 4; c++) {
                const float k = kv[(tx + 16 * c) * ld + d];
                acc[0][c] = fmaf(q0[d], k, acc[0][c]);
                acc[1][c] = fmaf(q1[d], k, acc[1][c]);
            }
        }
#pragma unroll
        for (int a = 0; a < 2; a++)
#pragma unroll
            for (int c = 0; c < 4; c++) {
                const int j = j0 + tx + 16 * c;
                if (rt[a] >= 0 && j < j1) e[ri[a] * lde + j] = acc[a][c] * scale;
            }
    }
}

/* Prefill stage 2: warp w takes rows w, w + 8, ... of the group: the row max (order-free),
 * e[j] = lac_expf(s[j] - m) for j <= t, S[i] = R32(e). */
static __device__ __forceinline__ void prefill_softmax(float *e, float *S,
                                                       const int32_t *__restrict__ pos, int r0,
                                                       int n, int lde, int lane, int warp) {
    for (int i = warp; i < n; i += ATT_THREADS / WARP) {
        const int t = pos[r0 + i];
        float *ei = e + (size_t)i * lde;
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
        p = warp_r32_finish(p);
        if (lane == 0) S[i] = p;
    }
}

/* Prefill stage 3: acc[a][c][u] = chain_j(e[ri[a]][j] * v[j][d]) for d = 4tx + 64c + u, over
 * value tiles in order and j in order inside, stopping exactly at rt[a]. pf holds the first
 * value tile on entry. */
template <int DC4, int PF>
static __device__ __forceinline__ void prefill_weighted_sum(float (&acc)[2][DC4][4],
                                                            float (&pf)[PF],
                                                            const float *__restrict__ V,
                                                            float *kv, const float *e0,
                                                            const float *e1, const int (&rt)[2],
                                                            int C, int hd, int ld, int tmax,
                                                            int tid, int tx) {
#pragma unroll
    for (int a = 0; a < 2; a++)
#pragma unroll
        for (int c = 0; c < DC4; c++)
#pragma unroll
            for (int u = 0; u < 4; u++) acc[a][c][u] = 0.0f;
    for (int j0 = 0; j0 <= tmax; j0 += ATT_TJ) {
        const int j1 = min(j0 + ATT_TJ, tmax + 1);
        __syncthreads(); /* the previous tile is used up (first time: e and S are final) */
        tile_store<PF>(kv, ld, pf, hd, j1 - j0, tid);
        __syncthreads();
        if (j1 <= tmax) tile_fetch<PF>(pf, V, C, hd, j1, min(j1 + ATT_TJ, tmax + 1), tid);
        /* a whole tile for both rows (a missing row computes along, unused): no bounds */
        const bool full = j1 == j0 + ATT_TJ && (rt[0] < 0 || rt[0] >= j1 - 1) &&
                          (rt[1] < 0 || rt[1] >= j1 - 1);
        if (full) {
            for (int jj = 0; jj < ATT_TJ; jj += 4) {
                const float4 x0 = *(const float4 *)(e0 + j0 + jj);
                const float4 x1 = *(const float4 *)(e1 + j0 + jj);
                const float ev[2][4] = {{x0.x, x0.y, x0.z, x0.w}, {x1.x, x1.y, x1.z, x1.w}};
#pragma unroll
                for (int u = 0; u < 4; u++)
#pragma unroll
                    for (int c = 0; c < DC4; c++) {
                        if (4 * tx + 64 * c >= hd) continue;
                        const float4 v = *(const float4 *)(kv + (jj + u) * ld + 4 * tx + 64 * c);
                        step4(acc[0][c], ev[0][u], v);
                        step4(acc[1][c], ev[1][u], v);
                    }
            }
        } else {
#pragma unroll
            for (int a = 0; a < 2; a++) {
                const float *ea = a ? e1 : e0;
                const int jend = min(j1, rt[a] + 1);
                for (int j = j0; j < jend; j++) {
#pragma unroll
                    for (int c = 0; c < DC4; c++) {
                        if (4 * tx + 64 * c >= hd) continue;
                        const float4 v = *(const float4 *)(kv + (j - j0) * ld + 4 * tx + 64 * c);
                        step4(acc[a][c], ea[j], v);
                    }
                }
            }
        }
    }
}

/* DC4: float4 column groups per thread in the output phase (head size <= 64 * DC4). */
template <int DC4>
__global__ void __launch_bounds__(ATT_THREADS)
    attention_prefill_kernel(float *__restrict__ out, const float *__restrict__ qkv,
                             const float *__restrict__ kc, const float *__restrict__ vc,
                             const int32_t *__restrict__ stream, const int32_t *__restrict__ pos,
                             const int32_t *__restrict__ group_first,
                             const int32_t *__restrict__ group_n, int n_groups, int C, int hd,
                             int n_ctx, int qb) {
    constexpr int PF = ATT_TJ * 64 * DC4 / ATT_THREADS; /* tile floats per thread */
    LAC_DYNAMIC_SHARED(float, sh);
    const int ld = att_ld(hd), lde = att_lde(n_ctx);
    float *q = sh;                              /* [qb][ld] */
    float *kv = q + (size_t)qb * ld;            /* [ATT_TJ][ld]: a key tile, later a value tile */
    float *e = kv + (size_t)ATT_TJ * ld;        /* [qb][lde]: scores, then exponentials */
    float *S = e + (size_t)qb * lde;            /* [qb] */
    const int g = n_groups - 1 - (int)blockIdx.x; /* late groups (the longest) start first */
    const int h = blockIdx.y;
    const int tid = threadIdx.x, lane = tid % WARP, warp = tid / WARP;
    const int tx = tid % 16, ty = tid / 16;
    const int r0 = group_first[g], n = group_n[g];
    const size_t base = (size_t)stream[r0] * n_ctx * C + (size_t)h * hd;
    const float *K = kc + base, *V = vc + base;
    int tmax = 0;
    for (int i = 0; i < n; i++) tmax = max(tmax, (int)pos[r0 + i]);
    /* this thread's rows ty, ty + 16: row index clamped to a real row (its results are not
     * stored), position -1 when there is no such row */
    int ri[2], rt[2];
#pragma unroll
    for (int a = 0; a < 2; a++) {
        ri[a] = min(ty + 16 * a, n - 1);
        rt[a] = ty + 16 * a < n ? (int)pos[r0 + ty + 16 * a] : -1;
    }

    for (int x = tid; x < n * hd; x += ATT_THREADS) {
        const int i = x / hd, d = x % hd;
        q[i * ld + d] = qkv[(size_t)(r0 + i) * 3 * C + (size_t)h * hd + d];
    }

    float pf[PF];
    tile_fetch<PF>(pf, K, C, hd, 0, min(ATT_TJ, tmax + 1), tid);
    prefill_scores<PF>(pf, K, kv, e, q + ri[0] * ld, q + ri[1] * ld, ri, rt, C, hd, ld, lde,
                       tmax, tid, tx);
    tile_fetch<PF>(pf, V, C, hd, 0, min(ATT_TJ, tmax + 1), tid); /* in flight during 2. */
    __syncthreads();
    prefill_softmax(e, S, pos, r0, n, lde, lane, warp);
    float acc[2][DC4][4];
    prefill_weighted_sum<DC4, PF>(acc, pf, V, kv, e + ri[0] * lde, e + ri[1] * lde, rt, C, hd,
                                  ld, tmax, tid, tx);

    /* o = acc / S, the rows that exist */
#pragma unroll
    for (int a = 0; a < 2; a++) {
        if (rt[a] < 0) continue;
        const float Sa = S[ri[a]];
        float *o = out + (size_t)(r0 + ri[a]) * C + (size_t)h * hd;
#pragma unroll
        for (int c = 0; c < DC4; c++)
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int d = 4 * tx + 64 * c + u;
                if (d < hd) o[d] = acc[a][c][u] / Sa;
            }
    }
}

/* Step tiles: rows [j0, j1) (hd floats each, row stride C) into dst (row stride ld), by all
 * STEP_THREADS threads, coalesced; float4 when every row start is 16-byte aligned. Loads are
 * issued four at a time before their stores, so that several are in flight. */
static __device__ __forceinline__ void step_stage(float *dst, int ld, const float *__restrict__ src,
                                                  int C, int hd, int j0, int j1, int tid) {
    if ((hd & 3) == 0 && (C & 3) == 0) {
        const int w = hd / 4, n = (j1 - j0) * w;
        for (int x0 = tid; x0 < n; x0 += 4 * STEP_THREADS) {
            float4 v[4];
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int x = x0 + u * STEP_THREADS;
                if (x < n) v[u] = *(const float4 *)(src + (size_t)(j0 + x / w) * C + 4 * (x % w));
            }
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int x = x0 + u * STEP_THREADS;
                if (x < n) *(float4 *)(dst + (x / w) * ld + 4 * (x % w)) = v[u];
            }
        }
    } else {
        const int n = (j1 - j0) * hd;
        for (int x = tid; x < n; x += STEP_THREADS)
            dst[(x / hd) * ld + x % hd] = src[(size_t)(j0 + x / hd) * C + x % hd];
    }
}

/* NOUT: outputs per thread (head size <= NOUT * STEP_THREADS) */
template <int NOUT>
__global__ void __launch_bounds__(STEP_THREADS)
    attention_step_kernel(float *__restrict__ out, const float *__restrict__ qkv,
                          const float *__restrict__ kc, const float *__restrict__ vc,
                          const int32_t *__restrict__ stream, const int32_t *__restrict__ pos,
                          const int32_t *__restrict__ rows, int C, int hd, int n_ctx) {
    LAC_DYNAMIC_SHARED(float, sh);
    const int ld = att_ld(hd);
    float *q = sh;                               /* [ld] */
    float *kv = q + ld;                          /* [STEP_THREADS][ld]: key tile, value tile */
    float *e = kv + (size_t)STEP_THREADS * ld;   /* [lde]: scores, then exponentials */
    float *red = e + att_lde(n_ctx);             /* [STEP_WARPS] maxima, then S */
    const int r = rows[blockIdx.x], h = blockIdx.y, t = pos[r];
    const int tid = threadIdx.x, lane = tid % WARP, warp = tid / WARP;
    const size_t base = (size_t)stream[r] * n_ctx * C + (size_t)h * hd;
    const float *K = kc + base, *V = vc + base;
    for (int d = tid; d < hd; d += STEP_THREADS) q[d] = qkv[(size_t)r * 3 * C + (size_t)h * hd + d];

    /* scores: thread tid takes position j0 + tid of each tile; its running max */
    const float scale = 1.0f / sqrtf((float)hd);
    const int hd4 = hd & ~3;
    float m = -INFINITY;
    for (int j0 = 0; j0 <= t; j0 += STEP_THREADS) {
        const int j1 = min(j0 + STEP_THREADS, t + 1);
        __syncthreads(); /* the previous tile is used up (first time: q is stored) */
        step_stage(kv, ld, K, C, hd, j0, j1, tid);
        __syncthreads();
        if (j0 + tid < j1) {
            const float *kj = kv + tid * ld;
            float acc = 0.0f;
            for (int d = 0; d < hd4; d += 4)
                acc = chain4(acc, *(const float4 *)(q + d), *(const float4 *)(kj + d));
            for (int d = hd4; d < hd; d++) acc = fmaf(q[d], kj[d], acc);
            const float s = acc * scale;
            e[j0 + tid] = s;
            m = (s > m) ? s : m;
        }
    }
    /* max over the block (order-free), then the exponentials by all threads */
    for (int o = 16; o >= 1; o >>= 1) {
        const float other = __shfl_down_sync(FULL_MASK, m, o);
        m = (other > m) ? other : m;
    }
    if (lane == 0) red[warp] = m;
    __syncthreads();
    m = red[0];
    for (int w = 1; w < STEP_WARPS; w++) m = (red[w] > m) ? red[w] : m;
    for (int j = tid; j <= t; j += STEP_THREADS) e[j] = lac_expf(e[j] - m);
    __syncthreads();
    /* S = R32(e): lane l of warp 0 adds j = l, l + 32, ... in order, then the shuffle tree */
    if (warp == 0) {
        float p = 0.0f;
        for (int j = lane; j <= t; j += WARP) p = p + e[j];
        p = warp_r32_finish(p);
        if (lane == 0) red[STEP_WARPS] = p;
    }

    /* outputs: o[d] for d = tid + k * STEP_THREADS, one chain over j = 0..t in order each */
    float acc[NOUT];
#pragma unroll
    for (int k = 0; k < NOUT; k++) acc[k] = 0.0f;
    for (int j0 = 0; j0 <= t; j0 += STEP_THREADS) {
        const int j1 = min(j0 + STEP_THREADS, t + 1);
        __syncthreads(); /* the previous tile is used up (first time: S is stored) */
        step_stage(kv, ld, V, C, hd, j0, j1, tid);
        __syncthreads();
#pragma unroll
        for (int k = 0; k < NOUT; k++) {
            const int d = tid + k * STEP_THREADS;
            if (d >= hd) break;
            for (int j = j0; j < j1; j++) acc[k] = fmaf(e[j], kv[(j - j0) * ld + d], acc[k]);
        }
    }
    const float S = red[STEP_WARPS];
    float *o = out + (size_t)r * C + (size_t)h * hd;
#pragma unroll
    for (int k = 0; k < NOUT; k++) {
        const int d = tid + k * STEP_THREADS;
        if (d >= hd) break;
        o[d] = acc[k] / S;
    }
}

int lac_cuda_attention_rows(int n_ctx, int head_dim, size_t max_smem) {
    if (head_dim < 1 || n_ctx < 1 || head_dim > STEP_THREADS * STEP_MAX_OUT ||
        step_smem(n_ctx, head_dim) > max_smem)
        return 0;
    if (head_dim > ATT_HD_MAX) return 1;
    for (int qb = ATT_QB; qb > 1; qb /= 2)
        if (prefill_smem(n_ctx, head_dim, qb) <= max_smem) return qb;
    return 1;
}

size_t lac_cuda_attention_smem(int n_ctx, int head_dim, int qb) {
    return qb > 1 ? prefill_smem(n_ctx, head_dim, qb) : step_smem(n_ctx, head_dim);
}

cudaError_t lac_cuda_attention_setup(size_t max_smem) {
    const int s = (int)max_smem;
    cudaError_t e = cudaFuncSetAttribute(attention_prefill_kernel<1>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, s);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(attention_prefill_kernel<4>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, s);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(attention_step_kernel<1>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, s);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(attention_step_kernel<STEP_MAX_OUT>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, s);
    return e;
}

void lac_cuda_attention(float *out, const float *qkv, const float *kc, const float *vc,
                        const int32_t *stream, const int32_t *pos, const int32_t *group_first,
                        const int32_t *group_n, int n_groups, int n_multi, int qb, int C,
                        int n_head, int n_ctx, cudaStream_t st) {
    const int hd = C / n_head;
    if (n_multi > 0) {
        const dim3 grid((unsigned)n_multi, (unsigned)n_head);
        const size_t smem = prefill_smem(n_ctx, hd, qb);
        if (hd <= 64)
            LAC_LAUNCH(grid, ATT_THREADS, smem, st, attention_prefill_kernel<1>)(
                out, qkv, kc, vc, stream, pos, group_first, group_n, n_multi, C, hd, n_ctx, qb);
        else
            LAC_LAUNCH(grid, ATT_THREADS, smem, st, attention_prefill_kernel<4>)(
                out, qkv, kc, vc, stream, pos, group_first, group_n, n_multi, C, hd, n_ctx, qb);
    }
    if (n_groups > n_multi) {
        const dim3 grid((unsigned)(n_groups - n_multi), (unsigned)n_head);
        const size_t smem = step_smem(n_ctx, hd);
        if (hd <= STEP_THREADS)
            LAC_LAUNCH(grid, STEP_THREADS, smem, st, attention_step_kernel<1>)(
                out, qkv, kc, vc, stream, pos, group_first + n_multi, C, hd, n_ctx);
        else
            LAC_LAUNCH(grid, STEP_THREADS, smem, st, attention_step_kernel<STEP_MAX_OUT>)(
                out, qkv, kc, vc, stream, pos, group_first + n_multi, C, hd, n_ctx);
    }
}
