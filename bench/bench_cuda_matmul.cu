/* bench_cuda_matmul — lacgpu's contract matmul (kernels/matmul.cu: one fmaf chain per output,
 * fp32 CUDA cores) against cuBLAS SGEMM with TF32 off, on the GPT-2 shapes.
 *
 *   bench_cuda_matmul [M] [reps]        (default M = 16384, reps = 5)
 *
 * For each (K, N) it prints the time and GFLOP/s of both and checks 256 sampled outputs of
 * lacgpu's kernel bit for bit against a host fmaf chain (+ bias), which is the contract. */
#include <cublas_v2.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac_cuda.h"

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)
#define CB(x)                                                                                  \
    do {                                                                                       \
        cublasStatus_t s_ = (x);                                                               \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                     \
            fprintf(stderr, "%s:%d: cublas status %d\n", __FILE__, __LINE__, (int)s_);         \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* deterministic values in about [-1, 1) */
__global__ void fill_kernel(float *p, size_t n, uint32_t seed) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint32_t x = (uint32_t)i * 2654435761u ^ seed;
    x ^= x >> 16;
    x *= 2246822519u;
    x ^= x >> 13;
    p[i] = (float)(int32_t)(x & 0xffffff) / 8388608.0f - 1.0f;
}

static void fill(float *p, size_t n, uint32_t seed) {
    fill_kernel<<<(unsigned)((n + 255) / 256), 256>>>(p, n, seed);
    CK(cudaGetLastError());
}

int main(int argc, char **argv) {
    const int M = argc > 1 ? atoi(argv[1]) : 16384;
    const int reps = argc > 2 ? atoi(argv[2]) : 5;
    const int shapes[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}};
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s; M = %d, reps = %d; cuBLAS SGEMM with CUBLAS_DEFAULT_MATH (no TF32)\n",
           prop.name, M, reps);
    printf("%6s %6s %10s %10s %10s %10s %7s %s\n", "K", "N", "lac_ms", "lac_GF/s", "cublas_ms",
           "cublas_GF/s", "ratio", "bitwise(256 samples)");
    cublasHandle_t h;
    CB(cublasCreate(&h));
    CB(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    int failures = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int K = shapes[si][0], N = shapes[si][1];
        float *A, *W, *b, *C;
        CK(cudaMalloc(&A, (size_t)M * K * sizeof(float)));
        CK(cudaMalloc(&W, (size_t)K * N * sizeof(float)));
        CK(cudaMalloc(&b, (size_t)N * sizeof(float)));
        CK(cudaMalloc(&C, (size_t)M * N * sizeof(float)));
        fill(A, (size_t)M * K, 1u + (uint32_t)si);
        fill(W, (size_t)K * N, 101u + (uint32_t)si);
        fill(b, (size_t)N, 202u + (uint32_t)si);
        float ms_lac = 0, ms_cb = 0;

        lac_cuda_matmul(C, A, W, b, M, N, K, 0, 0); /* warm-up */
        CK(cudaEventRecord(t0));
        for (int r = 0; r < reps; r++) lac_cuda_matmul(C, A, W, b, M, N, K, 0, 0);
        CK(cudaEventRecord(t1));
        CK(cudaEventSynchronize(t1));
        CK(cudaGetLastError());
        CK(cudaEventElapsedTime(&ms_lac, t0, t1));
        ms_lac /= (float)reps;

        /* bitwise check of sampled outputs against the host chain */
        int ok = 1;
        {
            float *hA = (float *)malloc((size_t)K * sizeof(float));
            float *hw = (float *)malloc((size_t)K * sizeof(float));
            for (int sIdx = 0; sIdx < 256; sIdx++) {
                const int m = (int)(((uint64_t)sIdx * 2654435761u) % (uint64_t)M);
                const int n = (int)(((uint64_t)sIdx * 40503u + 7u) % (uint64_t)N);
                float got, bias;
                CK(cudaMemcpy(hA, A + (size_t)m * K, (size_t)K * sizeof(float),
                              cudaMemcpyDeviceToHost));
                CK(cudaMemcpy2D(hw, sizeof(float), W + n, (size_t)N * sizeof(float),
                                sizeof(float), (size_t)K, cudaMemcpyDeviceToHost));
                CK(cudaMemcpy(&got, C + (size_t)m * N + n, sizeof got, cudaMemcpyDeviceToHost));
                CK(cudaMemcpy(&bias, b + n, sizeof bias, cudaMemcpyDeviceToHost));
                float acc = 0.0f;
                for (int k = 0; k < K; k++) acc = fmaf(hA[k], hw[k], acc);
                acc = acc + bias;
                if (memcmp(&acc, &got, sizeof acc) != 0) ok = 0;
            }
            free(hA);
            free(hw);
        }
        failures += !ok;

        const float one = 1.0f, zero = 0.0f;
        /* row-major C[M][N] = A[M][K] W[K][N] is column-major C^T = W^T A^T */
        CB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, W, N, A, K, &zero, C, N));
        CK(cudaEventRecord(t0));
        for (int r = 0; r < reps; r++)
            CB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, W, N, A, K, &zero, C, N));
        CK(cudaEventRecord(t1));
        CK(cudaEventSynchronize(t1));
        CK(cudaEventElapsedTime(&ms_cb, t0, t1));
        ms_cb /= (float)reps;

        const double flop = 2.0 * M * (double)N * K;
        printf("%6d %6d %10.3f %10.0f %10.3f %10.0f %7.2f %s\n", K, N, ms_lac,
               flop / ms_lac * 1e-6, ms_cb, flop / ms_cb * 1e-6, ms_lac / ms_cb,
               ok ? "ok" : "MISMATCH");
        fflush(stdout);
        CK(cudaFree(A));
        CK(cudaFree(W));
        CK(cudaFree(b));
        CK(cudaFree(C));
    }
    cublasDestroy(h);
    return failures ? 1 : 0;
}
