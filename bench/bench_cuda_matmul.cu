/* bench_cuda_matmul — lacgpu's contract matmul (kernels/matmul.cu: one fmaf chain per output,
 * fp32 CUDA cores) against cuBLAS SGEMM with TF32 off, on the GPT-2 shapes.
 *
 *   bench_cuda_matmul [M[,M...]] [reps]     (default M = 16384,256,16; reps = 5)
 *
 * For each M and (K, N) it times every tile variant (lac_cuda_matmul_variant) and cuBLAS,
 * prints GFLOP/s, the variant the heuristic picks (marked *), and time ratios to cuBLAS
 * (cublas_ms / lac_ms: 1.00 = as fast as cuBLAS), and checks 256 sampled outputs of every
 * variant bit for bit against a host fmaf chain (+ bias), which is the contract. The LM head
 * (N = 50257) uses W with its row stride padded to 50260, as the backend does. */
#include <cublas_v2.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac_cuda.h"
#include "lac_cuda_prog.h"

#define CB(x)                                                                                  \
    do {                                                                                       \
        cublasStatus_t s_ = (x);                                                               \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                     \
            fprintf(stderr, "%s:%d: cublas status %d\n", __FILE__, __LINE__, (int)s_);         \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)


static void fill(float *p, size_t n, uint32_t seed) { lac_fill(p, n, seed); }

/* 256 sampled outputs of C against the host chain (+ bias); 1 when all equal */
static int check_sampled(const float *A, const float *W, int ldw, const float *b,
                         const float *C, int M, int N, int K) {
    int ok = 1;
    float *hA = (float *)malloc((size_t)K * sizeof(float));
    float *hw = (float *)malloc((size_t)K * sizeof(float));
    if (!hA || !hw) exit(1);
    for (int sIdx = 0; sIdx < 256; sIdx++) {
        const int m = (int)(((uint64_t)sIdx * 2654435761u) % (uint64_t)M);
        const int n = (int)(((uint64_t)sIdx * 40503u + 7u) % (uint64_t)N);
        float got, bias;
        LAC_CUDA_OR_EXIT(cudaMemcpy(hA, A + (size_t)m * K, (size_t)K * sizeof(float), cudaMemcpyDeviceToHost));
        LAC_CUDA_OR_EXIT(cudaMemcpy2D(hw, sizeof(float), W + n, (size_t)ldw * sizeof(float), sizeof(float),
                        (size_t)K, cudaMemcpyDeviceToHost));
        LAC_CUDA_OR_EXIT(cudaMemcpy(&got, C + (size_t)m * N + n, sizeof got, cudaMemcpyDeviceToHost));
        LAC_CUDA_OR_EXIT(cudaMemcpy(&bias, b + n, sizeof bias, cudaMemcpyDeviceToHost));
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc = fmaf(hA[k], hw[k], acc);
        acc = acc + bias;
        if (memcmp(&acc, &got, sizeof acc) != 0) ok = 0;
    }
    free(hA);
    free(hw);
    return ok;
}

int main(int argc, char **argv) {
    int Ms[8], nM = 0;
    {
        const char *list = argc > 1 ? argv[1] : "16384,256,16";
        for (const char *p = list; *p && nM < 8;) {
            Ms[nM++] = atoi(p);
            while (*p && *p != ',') p++;
            if (*p == ',') p++;
        }
    }
    const int reps = argc > 2 ? atoi(argv[2]) : 5;
    const int shapes[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}};
    const int nv = lac_cuda_matmul_variants();
    cudaDeviceProp prop;
    LAC_CUDA_OR_EXIT(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (%d SMs); reps = %d; cuBLAS SGEMM with CUBLAS_DEFAULT_MATH (no TF32)\n",
           prop.name, prop.multiProcessorCount, reps);
    printf("columns: GF/s per variant (* = the heuristic's choice); ratio = cublas_ms / ms of the "
           "chosen and of the best variant; bitwise = 256 sampled outputs of every variant\n");
    printf("%6s %6s %6s", "M", "K", "N");
    for (int v = 0; v < nv; v++) printf(" %9s", lac_cuda_matmul_variant_name(v));
    printf(" %9s %7s %7s %s\n", "cublas", "r_chosen", "r_best", "bitwise");
    cublasHandle_t h;
    CB(cublasCreate(&h));
    CB(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    cudaEvent_t t0, t1;
    LAC_CUDA_OR_EXIT(cudaEventCreate(&t0));
    LAC_CUDA_OR_EXIT(cudaEventCreate(&t1));
    int failures = 0;
    for (int mi = 0; mi < nM; mi++) {
        const int M = Ms[mi];
        if (M <= 0) continue;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int K = shapes[si][0], N = shapes[si][1], ldw = (N + 3) & ~3;
            float *A, *W, *b, *C;
            LAC_CUDA_OR_EXIT(cudaMalloc(&A, (size_t)M * K * sizeof(float)));
            LAC_CUDA_OR_EXIT(cudaMalloc(&W, (size_t)K * ldw * sizeof(float)));
            LAC_CUDA_OR_EXIT(cudaMalloc(&b, (size_t)N * sizeof(float)));
            LAC_CUDA_OR_EXIT(cudaMalloc(&C, (size_t)M * N * sizeof(float)));
            fill(A, (size_t)M * K, 1u + (uint32_t)si);
            fill(W, (size_t)K * ldw, 101u + (uint32_t)si);
            fill(b, (size_t)N, 202u + (uint32_t)si);
            const double flop = 2.0 * M * (double)N * K;
            const int chosen = lac_cuda_matmul_choose(M, N);
            float ms[16] = {0};
            int ok = 1;
            printf("%6d %6d %6d", M, K, N);
            for (int v = 0; v < nv && v < 16; v++) {
                lac_cuda_matmul_variant(v, C, A, W, ldw, b, M, N, K, 0, 0); /* warm-up */
                LAC_CUDA_OR_EXIT(cudaEventRecord(t0));
                for (int r = 0; r < reps; r++)
                    lac_cuda_matmul_variant(v, C, A, W, ldw, b, M, N, K, 0, 0);
                LAC_CUDA_OR_EXIT(cudaEventRecord(t1));
                LAC_CUDA_OR_EXIT(cudaEventSynchronize(t1));
                LAC_CUDA_OR_EXIT(cudaGetLastError());
                LAC_CUDA_OR_EXIT(cudaEventElapsedTime(&ms[v], t0, t1));
                ms[v] /= (float)reps;
                ok &= check_sampled(A, W, ldw, b, C, M, N, K);
                printf(" %8.0f%c", flop / ms[v] * 1e-6, v == chosen ? '*' : ' ');
            }
            failures += !ok;

            float ms_cb = 0;
            const float one = 1.0f, zero = 0.0f;
            /* row-major C[M][N] = A[M][K] W[K][ldw] is column-major C^T = W^T A^T */
            CB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, W, ldw, A, K, &zero, C, N));
            LAC_CUDA_OR_EXIT(cudaEventRecord(t0));
            for (int r = 0; r < reps; r++)
                CB(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, W, ldw, A, K, &zero, C,
                               N));
            LAC_CUDA_OR_EXIT(cudaEventRecord(t1));
            LAC_CUDA_OR_EXIT(cudaEventSynchronize(t1));
            LAC_CUDA_OR_EXIT(cudaEventElapsedTime(&ms_cb, t0, t1));
            ms_cb /= (float)reps;
            float best = ms[0];
            for (int v = 1; v < nv && v < 16; v++) best = ms[v] < best ? ms[v] : best;
            printf(" %9.0f %7.2f %7.2f %s\n", flop / ms_cb * 1e-6, ms_cb / ms[chosen], ms_cb / best,
                   ok ? "ok" : "MISMATCH");
            fflush(stdout);
            LAC_CUDA_OR_EXIT(cudaFree(A));
            LAC_CUDA_OR_EXIT(cudaFree(W));
            LAC_CUDA_OR_EXIT(cudaFree(b));
            LAC_CUDA_OR_EXIT(cudaFree(C));
        }
    }
    cublasDestroy(h);
    return failures ? 1 : 0;
}
