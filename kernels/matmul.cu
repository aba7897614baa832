/* matmul.cu — fp32 SGEMM on CUDA cores under docs/NUMERICS.md §2.
 *
 * Each output out[m][n] is ONE sequential chain acc = fmaf(A[m][k], W[k][n], acc) over
 * k = 0..K-1, started at +0.0f; the bias is added after the chain, then the optional GELU
 * (§4) and residual add (x = x + (chain + bias)). No split-K, no tensor cores, no atomics.
 *
 * One kernel template, several tile shapes ("variants", mm_variants below). A block owns a
 * BM x BN tile of outputs and walks k in tiles of BK = 16 through double-buffered shared memory
 * (A stored transposed, W as is): while tile t is consumed from one buffer, tile t+1 is loaded
 * from global memory into registers and then stored into the other buffer, so there is one
 * __syncthreads per k-tile. Global loads are float4 when K and ldw are multiples of 4 and the
 * pointers are 16-byte aligned, scalar otherwise (same values, same order).
 *
 * Warp tiling: a warp owns a WH x WW sub-tile, its lanes an LY x LX grid; a thread owns TM x TN
 * outputs as groups of VM x VN (4 or 1) contiguous rows / columns, repeated at the warp's lane
 * stride. With 4-wide groups every shared-memory read is one float4 (LDS.128) and a warp reads
 * few distinct addresses (broadcasts), which keeps shared memory below the FMA rate.
 *
 * Every thread consumes k strictly in order 0..K-1 for each of its outputs; the tile shape only
 * decides who computes which chain, so every variant gives the same bits. The last, partial
 * k-tile runs only its remaining k (never an extra fmaf with 0, which could turn -0 into +0). */
#include <atomic>
#include <stdlib.h>
#include <string.h>

#include "lac_cuda.h"

extern "C" {
#include "lac_ops.h"
}

#define MM_BK 16
#define MM_GROUP_M 8 /* block order: 8 row tiles share each column tile while it is in L2 */

/* The geometry of one variant (all compile-time). */
template <int BM_, int BN_, int TM_, int TN_, int LY_, int MINB_> struct mm_shape {
    static constexpr int BM = BM_, BN = BN_, TM = TM_, TN = TN_, LY = LY_, LX = 32 / LY_;
    static constexpr int MINB = MINB_; /* blocks per SM for __launch_bounds__ */
    static constexpr int VM = TM % 4 == 0 ? 4 : 1, VN = TN % 4 == 0 ? 4 : 1;
    static constexpr int GA = TM / VM, GB = TN / VN;          /* groups per thread */
    static constexpr int WH = GA * LY * VM, WW = GB * LX * VN; /* warp tile */
    static constexpr int WY = BM / WH, WX = BN / WW;           /* warps per block */
    static constexpr int THREADS = 32 * WY * WX;
    static constexpr int APAD = VM == 4 ? 4 : 1; /* As row padding (keeps float4 alignment) */
    static constexpr int A_VECS = BM * MM_BK / 4, W_VECS = MM_BK * BN / 4; /* 4-float units */
    static constexpr int A_LOADS = (A_VECS + THREADS - 1) / THREADS;
    static constexpr int W_LOADS = (W_VECS + THREADS - 1) / THREADS;
    static_assert(LY * LX == 32 && WY * WH == BM && WX * WW == BN, "tile geometry");
    static_assert(THREADS <= 1024, "block size");
};

/* One k-tile of A (transposed) and W in shared memory, and its register staging. */
template <class S> struct mm_smem {
    float As[2][MM_BK][S::BM + S::APAD];
    float Ws[2][MM_BK][S::BN];
};

static __device__ __forceinline__ float4 mm_zero4() { return make_float4(0.f, 0.f, 0.f, 0.f); }

/* Loads the k-tile at k0 into registers (0 outside the matrices: such values only reach outputs
 * that are never stored, or k >= K, which is never consumed). VEC: float4 loads (K % 4 == 0,
 * ldw % 4 == 0, 16-byte aligned A and W), so a 4-group is either wholly inside or outside. */
template <class S, bool VEC>
static __device__ __forceinline__ void mm_load(float4 *ra, float4 *rw, const float *A,
                                               const float *W, int ldw, int M, int N, int K,
                                               int m0, int n0, int k0, int tid) {
#pragma unroll
    for (int l = 0; l < S::A_LOADS; l++) {
        const int e = tid + l * S::THREADS;
        const int r = e / (MM_BK / 4), k = k0 + (e % (MM_BK / 4)) * 4, m = m0 + r;
        float4 v = mm_zero4();
        if (e < S::A_VECS && m < M) {
            const float *p = A + (size_t)m * K + k;
            if constexpr (VEC) {
                if (k < K) v = *reinterpret_cast<const float4 *>(p);
            } else {
                if (k + 0 < K) v.x = p[0];
                if (k + 1 < K) v.y = p[1];
                if (k + 2 < K) v.z = p[2];
                if (k + 3 < K) v.w = p[3];
            }
        }
        ra[l] = v;
    }
#pragma unroll
    for (int l = 0; l < S::W_LOADS; l++) {
        const int e = tid + l * S::THREADS;
        const int k = k0 + e / (S::BN / 4), n = n0 + (e % (S::BN / 4)) * 4;
        float4 v = mm_zero4();
        if (e < S::W_VECS && k < K) {
            const float *p = W + (size_t)k * ldw + n;
            if constexpr (VEC) {
                if (n < N) v = *reinterpret_cast<const float4 *>(p); /* n + 3 < ldw */
            } else {
                if (n + 0 < N) v.x = p[0];
                if (n + 1 < N) v.y = p[1];
                if (n + 2 < N) v.z = p[2];
                if (n + 3 < N) v.w = p[3];
            }
        }
        rw[l] = v;
    }
}

/* Stores the staged k-tile into buffer b: A transposed (As[k][m]), W as is. */
template <class S>
static __device__ __forceinline__ void mm_store(mm_smem<S> &sm, int b, const float4 *ra,
                                                const float4 *rw, int tid) {
#pragma unroll
    for (int l = 0; l < S::A_LOADS; l++) {
        const int e = tid + l * S::THREADS;
        if (e >= S::A_VECS) break;
        const int r = e / (MM_BK / 4), k = (e % (MM_BK / 4)) * 4;
        sm.As[b][k + 0][r] = ra[l].x;
        sm.As[b][k + 1][r] = ra[l].y;
        sm.As[b][k + 2][r] = ra[l].z;
        sm.As[b][k + 3][r] = ra[l].w;
    }
#pragma unroll
    for (int l = 0; l < S::W_LOADS; l++) {
        const int e = tid + l * S::THREADS;
        if (e >= S::W_VECS) break;
        const int k = e / (S::BN / 4), n = (e % (S::BN / 4)) * 4;
        *reinterpret_cast<float4 *>(&sm.Ws[b][k][n]) = rw[l];
    }
}

/* One k step of the thread's TM x TN chains: acc[i][j] = fmaf(a[i], w[j], acc[i][j]). */
template <class S>
static __device__ __forceinline__ void mm_step(float (&acc)[S::TM][S::TN], const float *as,
                                               const float *ws) {
    float a[S::TM], w[S::TN];
#pragma unroll
    for (int g = 0; g < S::GA; g++) {
        if constexpr (S::VM == 4) {
            const float4 v = *reinterpret_cast<const float4 *>(as + g * S::LY * 4);
            a[4 * g + 0] = v.x, a[4 * g + 1] = v.y, a[4 * g + 2] = v.z, a[4 * g + 3] = v.w;
        } else {
            a[g] = as[g * S::LY];
        }
    }
#pragma unroll
    for (int g = 0; g < S::GB; g++) {
        if constexpr (S::VN == 4) {
            const float4 v = *reinterpret_cast<const float4 *>(ws + g * S::LX * 4);
            w[4 * g + 0] = v.x, w[4 * g + 1] = v.y, w[4 * g + 2] = v.z, w[4 * g + 3] = v.w;
        } else {
            w[g] = ws[g * S::LX];
        }
    }
#pragma unroll
    for (int i = 0; i < S::TM; i++)
#pragma unroll
        for (int j = 0; j < S::TN; j++) acc[i][j] = fmaf(a[i], w[j], acc[i][j]);
}

/* v = chain + bias, gelu, residual: exactly the CPU's expression order. */
static __device__ __forceinline__ float mm_epilogue(float acc, const float *bias, int n,
                                                    const float *o, int flags) {
    float v = acc;
    if (bias) v = v + bias[n];
    if (flags & LAC_MM_GELU) v = lac_gelu(v);
    if (flags & LAC_MM_RESIDUAL) v = *o + v;
    return v;
}

/* The scalar-load fallback needs more registers (per-element bounds): no blocks-per-SM bound
 * there, so that it does not spill. */
template <class S, bool VEC>
__global__ void __launch_bounds__(S::THREADS, VEC ? S::MINB : 1)
    matmul_kernel(float *__restrict__ out, const float *__restrict__ A,
                  const float *__restrict__ W, int ldw, const float *__restrict__ bias, int M,
                  int N, int K, int flags, int vec_out) {
    __shared__ __align__(16) mm_smem<S> sm;

    /* block -> tile, in groups of MM_GROUP_M row tiles (L2 reuse of W's column tiles) */
    const int nbm = (M + S::BM - 1) / S::BM, nbn = (N + S::BN - 1) / S::BN;
    const int bid = (int)blockIdx.x, per_group = MM_GROUP_M * nbn;
    const int first = bid / per_group * MM_GROUP_M, gsz = min(nbm - first, MM_GROUP_M);
    const int bm = first + bid % per_group % gsz, bn = bid % per_group / gsz;
    const int m0 = bm * S::BM, n0 = bn * S::BN;

    const int tid = (int)threadIdx.x, lane = tid % 32, warp = tid / 32;
    const int wy = warp / S::WX, wx = warp % S::WX, ly = lane / S::LX, lx = lane % S::LX;
    const int row = wy * S::WH + ly * S::VM, col = wx * S::WW + lx * S::VN; /* in the tile */
    /* warps whose rows or columns lie wholly outside skip the math (warp-uniform) */
    const bool active = m0 + wy * S::WH < M && n0 + wx * S::WW < N;

    float acc[S::TM][S::TN];
#pragma unroll
    for (int i = 0; i < S::TM; i++)
#pragma unroll
        for (int j = 0; j < S::TN; j++) acc[i][j] = 0.0f;

    float4 ra[S::A_LOADS], rw[S::W_LOADS];
    const int ntiles = (K + MM_BK - 1) / MM_BK;
    if (ntiles > 0) {
        mm_load<S, VEC>(ra, rw, A, W, ldw, M, N, K, m0, n0, 0, tid);
        mm_store<S>(sm, 0, ra, rw, tid);
    }
    __syncthreads();
    for (int t = 0; t < ntiles; t++) {
        const int b = t & 1;
        if (t + 1 < ntiles) mm_load<S, VEC>(ra, rw, A, W, ldw, M, N, K, m0, n0, (t + 1) * MM_BK, tid);
        if (active) {
            const int kn = min(MM_BK, K - t * MM_BK);
            if (kn == MM_BK) {
#pragma unroll
                for (int kk = 0; kk < MM_BK; kk++)
                    mm_step<S>(acc, &sm.As[b][kk][row], &sm.Ws[b][kk][col]);
            } else {
                for (int kk = 0; kk < kn; kk++)
                    mm_step<S>(acc, &sm.As[b][kk][row], &sm.Ws[b][kk][col]);
            }
        }
        /* the other buffer was last read in step t - 1, before the barrier that ended it */
        if (t + 1 < ntiles) mm_store<S>(sm, b ^ 1, ra, rw, tid);
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < S::TM; i++) {
        const int m = m0 + row + (i / S::VM) * S::LY * S::VM + i % S::VM;
        if (m >= M) continue;
        float *orow = out + (size_t)m * N;
#pragma unroll
        for (int g = 0; g < S::GB; g++) {
            const int n = n0 + col + g * S::LX * S::VN;
            if (n >= N) continue;
            if (S::VN == 4 && vec_out) { /* N % 4 == 0: the whole group is inside */
                float4 r;
                const float4 o = (flags & LAC_MM_RESIDUAL)
                                     ? *reinterpret_cast<const float4 *>(orow + n)
                                     : mm_zero4();
                r.x = mm_epilogue(acc[i][4 * g + 0], bias, n + 0, &o.x, flags);
                r.y = mm_epilogue(acc[i][4 * g + 1], bias, n + 1, &o.y, flags);
                r.z = mm_epilogue(acc[i][4 * g + 2], bias, n + 2, &o.z, flags);
                r.w = mm_epilogue(acc[i][4 * g + 3], bias, n + 3, &o.w, flags);
                *reinterpret_cast<float4 *>(orow + n) = r;
            } else {
#pragma unroll
                for (int u = 0; u < S::VN; u++) {
                    if (n + u >= N) break;
                    orow[n + u] =
                        mm_epilogue(acc[i][S::VN * g + u], bias, n + u, orow + n + u, flags);
                }
            }
        }
    }
}

/* ---- variants and the heuristic ----------------------------------------------------------- */
/*                 BM   BN  TM TN LY minblocks        threads  outputs/thread */
typedef mm_shape<128, 128, 8, 8, 8, 2> mm_big;   /*   256       64  (warp tile 64 x 32) */
typedef mm_shape<64, 64, 4, 4, 8, 4> mm_mid;     /*   256       16  (warp tile 32 x 16) */
typedef mm_shape<32, 32, 4, 4, 8, 8> mm_small;   /*    64       16  (warp tile 32 x 16) */
typedef mm_shape<4, 64, 1, 1, 1, 4> mm_tiny;     /*   256        1  (warp tile  1 x 32) */

template <class S>
static void mm_launch(float *out, const float *A, const float *W, int ldw, const float *bias,
                      int M, int N, int K, int flags, cudaStream_t st) {
    const bool vec_in = K % 4 == 0 && ldw % 4 == 0 && (uintptr_t)A % 16 == 0 &&
                        (uintptr_t)W % 16 == 0;
    const int vec_out = N % 4 == 0 && (uintptr_t)out % 16 == 0;
    const long long blocks =
        (long long)((M + S::BM - 1) / S::BM) * (long long)((N + S::BN - 1) / S::BN);
    const dim3 grid((unsigned)blocks);
    if (vec_in)
        LAC_LAUNCH(grid, S::THREADS, 0, st, matmul_kernel<S, true>)(out, A, W, ldw, bias, M, N,
                                                                    K, flags, vec_out);
    else
        LAC_LAUNCH(grid, S::THREADS, 0, st, matmul_kernel<S, false>)(out, A, W, ldw, bias, M,
                                                                     N, K, flags, vec_out);
}

struct mm_variant {
    const char *name;
    int bm, bn;
    void (*launch)(float *, const float *, const float *, int, const float *, int, int, int,
                   int, cudaStream_t);
};
static const mm_variant mm_variants[] = {
    {"big", mm_big::BM, mm_big::BN, mm_launch<mm_big>},
    {"mid", mm_mid::BM, mm_mid::BN, mm_launch<mm_mid>},
    {"small", mm_small::BM, mm_small::BN, mm_launch<mm_small>},
    {"tiny", mm_tiny::BM, mm_tiny::BN, mm_launch<mm_tiny>},
};
enum { MM_NVARIANTS = (int)(sizeof mm_variants / sizeof mm_variants[0]) };

int lac_cuda_matmul_variants(void) { return MM_NVARIANTS; }

const char *lac_cuda_matmul_variant_name(int v) {
    return v >= 0 && v < MM_NVARIANTS ? mm_variants[v].name : NULL;
}

/* SM count of the current device, queried once per device (fallback 132, an H100). */
static int mm_sm_count(void) {
    static std::atomic<int> cache[16];
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 16) return 132;
    int n = cache[dev].load(std::memory_order_relaxed);
    if (n == 0) {
        if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
            n <= 0)
            n = 132;
        cache[dev].store(n, std::memory_order_relaxed);
    }
    return n;
}

/* The tile choice. Each output is one sequential chain over K, so the only parallelism is the
 * M x N outputs. Take the largest tile (the most outputs per thread: best FMA / load ratio)
 * that (a) wastes at most half its rows (BM <= 2M) and (b) still gives at least one block per
 * SM; when none does (decoding steps, few rows and narrow N), "tiny": one chain per thread,
 * the most threads in flight. Examples on 132 SMs: M = 16384 -> big; M = 1024, N = 768 -> mid;
 * M = 256, N = 768 -> small (192 blocks); M = 16, N = 50257 -> small; M = 16, N = 768 -> tiny. */
int lac_cuda_matmul_choose(int M, int N) {
    const int sms = mm_sm_count();
    for (int v = 0; v < MM_NVARIANTS - 1; v++) {
        const mm_variant *d = &mm_variants[v];
        const long long blocks = (long long)((M + d->bm - 1) / d->bm) * ((N + d->bn - 1) / d->bn);
        if (2 * M >= d->bm && blocks >= sms) return v;
    }
    return MM_NVARIANTS - 1;
}

/* LAC_MM_KERNEL=<variant name> forces one variant (benches); read once. -1: none. */
static int mm_forced(void) {
    static std::atomic<int> forced{-2};
    int f = forced.load(std::memory_order_relaxed);
    if (f == -2) {
        f = -1;
        const char *e = getenv("LAC_MM_KERNEL");
        for (int v = 0; e && v < MM_NVARIANTS; v++)
            if (strcmp(e, mm_variants[v].name) == 0) f = v;
        forced.store(f, std::memory_order_relaxed);
    }
    return f;
}

void lac_cuda_matmul_variant(int variant, float *out, const float *A, const float *W, int ldw,
                             const float *bias, int M, int N, int K, int flags, cudaStream_t st) {
    if (M <= 0 || N <= 0 || variant < 0 || variant >= MM_NVARIANTS) return;
    mm_variants[variant].launch(out, A, W, ldw, bias, M, N, K, flags, st);
}

void lac_cuda_matmul(float *out, const float *A, const float *W, int ldw, const float *bias,
                     int M, int N, int K, int flags, cudaStream_t st) {
    if (M <= 0 || N <= 0) return;
    const int f = mm_forced();
    lac_cuda_matmul_variant(f >= 0 ? f : lac_cuda_matmul_choose(M, N), out, A, W, ldw, bias, M,
                            N, K, flags, st);
}
