/* matmul.cu — fp32 SGEMM on CUDA cores under docs/NUMERICS.md §2.
 *
 * Each output out[m][n] is ONE sequential chain acc = fmaf(A[m][k], W[k][n], acc) over
 * k = 0..K-1, started at +0.0f; the bias is added after the chain, then the optional GELU
 * (§4) and residual add (x = x + (chain + bias)). No split-K, no tensor cores, no atomics.
 *
 * Tiling: a block of 256 threads owns a BM x BN tile of outputs (128 x 128 for prefill;
 * 16 x 32 for at most 64 rows, i.e. decoding steps, so that more blocks stream the weights)
 * and walks k in steps of BK = 8, staging A (transposed) and W through shared memory; thread
 * (ty, tx) owns the outputs at rows ty + 16*i (i < TM) and columns tx + 16*j (j < TN), so its
 * shared-memory reads are
 * broadcasts / conflict-free and its stores are coalesced. The next k-tile is prefetched into
 * registers while the current one is consumed. The last, partial k-tile runs only its
 * remaining k (never an extra fmaf with 0, which could turn -0 into +0). */
#include "lac_cuda.h"

extern "C" {
#include "lac_math.h"
}

#define MM_BK 8
#define MM_THREADS 256
#define MM_APAD 4 /* As row padding: the transposed stores hit distinct banks */

/* NUMERICS §4, gelu_new. */
static __device__ __forceinline__ float gelu_dev(float x) {
    const float x3 = (x * x) * x;
    const float u = x + 0.044715f * x3;
    const float v = 0.7978845608028654f * u;
    return (0.5f * x) * (1.0f + lac_tanhf(v));
}

template <int BM, int TM, int TN>
__global__ void __launch_bounds__(MM_THREADS)
    matmul_kernel(float *__restrict__ out, const float *__restrict__ A,
                  const float *__restrict__ W, const float *__restrict__ bias, int M, int N,
                  int K, int flags) {
    static_assert(BM == 16 * TM, "16 thread rows x TM outputs");
    constexpr int MM_BN = 16 * TN, MM_TN = TN;
    static_assert(MM_BK * MM_BN % MM_THREADS == 0, "W tile split");
    constexpr int A_ELEMS = BM * MM_BK;
    constexpr int A_LOADS = (A_ELEMS + MM_THREADS - 1) / MM_THREADS; /* per thread */
    constexpr int W_LOADS = MM_BK * MM_BN / MM_THREADS;
    __shared__ float As[MM_BK][BM + MM_APAD];
    __shared__ float Ws[MM_BK][MM_BN];

    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * MM_BN;

    float acc[TM][MM_TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < MM_TN; j++) acc[i][j] = 0.0f;

    float ra[A_LOADS], rw[W_LOADS];
    /* loads k-tile starting at k0 into registers (0 outside the matrices: those values only
     * reach outputs that are never stored, or k beyond K, which is never consumed) */
    auto load_tile = [&](int k0) {
#pragma unroll
        for (int l = 0; l < A_LOADS; l++) {
            const int e = tid + l * MM_THREADS;
            const int r = e / MM_BK, k = k0 + e % MM_BK;
            ra[l] = (e < A_ELEMS && m0 + r < M && k < K) ? A[(size_t)(m0 + r) * K + k] : 0.0f;
        }
#pragma unroll
        for (int l = 0; l < W_LOADS; l++) {
            const int e = tid + l * MM_THREADS;
            const int k = k0 + e / MM_BN, c = n0 + e % MM_BN;
            rw[l] = (k < K && c < N) ? W[(size_t)k * N + c] : 0.0f;
        }
    };
    auto store_tile = [&]() {
#pragma unroll
        for (int l = 0; l < A_LOADS; l++) {
            const int e = tid + l * MM_THREADS;
            if (e < A_ELEMS) As[e % MM_BK][e / MM_BK] = ra[l];
        }
#pragma unroll
        for (int l = 0; l < W_LOADS; l++) {
            const int e = tid + l * MM_THREADS;
            Ws[e / MM_BN][e % MM_BN] = rw[l];
        }
    };

    if (K > 0) load_tile(0);
    for (int k0 = 0; k0 < K; k0 += MM_BK) {
        store_tile();
        __syncthreads();
        if (k0 + MM_BK < K) load_tile(k0 + MM_BK); /* prefetch; overlaps the math below */
        const int kn = min(MM_BK, K - k0);
        if (kn == MM_BK) {
#pragma unroll
            for (int kk = 0; kk < MM_BK; kk++) {
                float a[TM], w[MM_TN];
#pragma unroll
                for (int i = 0; i < TM; i++) a[i] = As[kk][ty + 16 * i];
#pragma unroll
                for (int j = 0; j < MM_TN; j++) w[j] = Ws[kk][tx + 16 * j];
#pragma unroll
                for (int i = 0; i < TM; i++)
#pragma unroll
                    for (int j = 0; j < MM_TN; j++) acc[i][j] = fmaf(a[i], w[j], acc[i][j]);
            }
        } else {
            for (int kk = 0; kk < kn; kk++) {
                float a[TM], w[MM_TN];
#pragma unroll
                for (int i = 0; i < TM; i++) a[i] = As[kk][ty + 16 * i];
#pragma unroll
                for (int j = 0; j < MM_TN; j++) w[j] = Ws[kk][tx + 16 * j];
#pragma unroll
                for (int i = 0; i < TM; i++)
#pragma unroll
                    for (int j = 0; j < MM_TN; j++) acc[i][j] = fmaf(a[i], w[j], acc[i][j]);
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < TM; i++) {
        const int m = m0 + ty + 16 * i;
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < MM_TN; j++) {
            const int n = n0 + tx + 16 * j;
            if (n >= N) continue;
            float v = acc[i][j];
            if (bias) v = v + bias[n];
            if (flags & LAC_MM_GELU) v = gelu_dev(v);
            float *o = out + (size_t)m * N + n;
            if (flags & LAC_MM_RESIDUAL) v = *o + v;
            *o = v;
        }
    }
}

void lac_cuda_matmul(float *out, const float *A, const float *W, const float *bias, int M, int N,
                     int K, int flags, cudaStream_t st) {
    if (M <= 0 || N <= 0) return;
    if (M <= 64) { /* decoding steps: few rows, short and narrow tiles */
        dim3 grid((unsigned)((N + 31) / 32), (unsigned)((M + 15) / 16));
        LAC_LAUNCH(grid, MM_THREADS, 0, st, matmul_kernel<16, 1, 2>)(out, A, W, bias, M, N, K,
                                                                     flags);
    } else {
        dim3 grid((unsigned)((N + 127) / 128), (unsigned)((M + 127) / 128));
        LAC_LAUNCH(grid, MM_THREADS, 0, st, matmul_kernel<128, 8, 8>)(out, A, W, bias, M, N, K,
                                                                      flags);
    }
}
