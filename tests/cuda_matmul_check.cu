/* cuda_matmul_check.cu — every tile variant of kernels/matmul.cu computes the contract's bits
 * (docs/NUMERICS.md §2): each output equals the host chain acc = fmaf(A[m][k], W[k][n], acc)
 * over k = 0..K-1 from +0.0f, then + bias, gelu, residual, compared with memcmp (sign of zero
 * included). Also: all variants and the heuristic's choice give identical output buffers, the
 * pad columns of W (ldw > N, filled with NaN) never leak, nothing is written past the output.
 *
 * One source, two builds:
 *  - kernels/emu/check.sh compiles it with g++ against kernels/emu/cuda_emu.h (LAC_CUDA_EMU):
 *    small odd shapes only (the emulator is slow);
 *  - CMake builds it with nvcc as the ctest `cuda_matmul_check` (label ci): the same odd shapes
 *    and the GPT-2 K/N shapes with M = 2085; exits 77 (skipped) when there is no GPU.
 * Shapes cover M, N, K off the tiles, K < BK, K % 16 != 0, K = 0 and 1, odd N, padded ldw,
 * misaligned pointers (scalar path), and rows whose chain ends in -0.0 (a tiny negative
 * product that underflows as the last k: an extra fmaf(0, 0, acc) would make it +0). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac_cuda.h"
#include "lac_cuda_prog.h"

extern "C" {
#include "lac_math.h"
}


static uint64_t rng_state = 12345;
static float rnd(void) { /* about [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(int32_t)(rng_state >> 40 & 0xffffff) / 8388608.0f - 1.0f;
}

static float gelu_host(float x) { /* NUMERICS §4, as kernels/matmul.cu */
    const float x3 = (x * x) * x;
    const float u = x + 0.044715f * x3;
    const float v = 0.7978845608028654f * u;
    return (0.5f * x) * (1.0f + lac_tanhf(v));
}

struct shape {
    int M, N, K, ldw, flags, bias, misalign; /* misalign: A and W one float off 16 bytes */
};

static const int CANARY = 64; /* floats after the output that must stay untouched */

/* Runs one shape through every variant and the heuristic; returns the number of failures. */
static int check_shape(const shape &s, int full) {
    const int M = s.M, N = s.N, K = s.K, ldw = s.ldw, off = s.misalign ? 1 : 0;
    const size_t nA = (size_t)M * K, nW = (size_t)K * ldw, nO = (size_t)M * N;
    float *hA = (float *)malloc((nA + 1) * sizeof(float));
    float *hW = (float *)malloc((nW + 1) * sizeof(float));
    float *hb = (float *)malloc((size_t)N * sizeof(float));
    float *hO0 = (float *)malloc((nO + CANARY) * sizeof(float)); /* out before (residual) */
    float *hO = (float *)malloc((nO + CANARY) * sizeof(float));
    float *hFirst = (float *)malloc((nO + CANARY) * sizeof(float));
    if (!hA || !hW || !hb || !hO0 || !hO || !hFirst) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    for (size_t i = 0; i < nA; i++) hA[i] = rnd();
    for (int k = 0; k < K; k++)
        for (int n = 0; n < ldw; n++) hW[(size_t)k * ldw + n] = n < N ? rnd() : NAN;
    for (int n = 0; n < N; n++) hb[n] = n % 2 == 0 ? -0.0f : rnd();
    if (K > 0) {
        /* rows m % 5 == 2: zeros, then -1e-30 * 1e-30 as the last k -> the chain is -0 */
        for (int m = 2; m < M; m += 5) {
            for (int k = 0; k < K - 1; k++) hA[(size_t)m * K + k] = 0.0f;
            hA[(size_t)m * K + K - 1] = -1e-30f;
        }
        for (int n = 0; n < N; n++)
            if (n % 3 != 1) hW[(size_t)(K - 1) * ldw + n] = 1e-30f;
    }
    for (size_t i = 0; i < nO + CANARY; i++) hO0[i] = i < nO ? rnd() : 12345.0f;

    float *dA, *dW, *db, *dO;
    LAC_CUDA_OR_EXIT(cudaMalloc(&dA, (nA + 1) * sizeof(float)));
    LAC_CUDA_OR_EXIT(cudaMalloc(&dW, (nW + 1) * sizeof(float)));
    LAC_CUDA_OR_EXIT(cudaMalloc(&db, (size_t)N * sizeof(float)));
    LAC_CUDA_OR_EXIT(cudaMalloc(&dO, (nO + CANARY) * sizeof(float)));
    LAC_CUDA_OR_EXIT(cudaMemcpy(dA + off, hA, nA * sizeof(float), cudaMemcpyHostToDevice));
    LAC_CUDA_OR_EXIT(cudaMemcpy(dW + off, hW, nW * sizeof(float), cudaMemcpyHostToDevice));
    LAC_CUDA_OR_EXIT(cudaMemcpy(db, hb, (size_t)N * sizeof(float), cudaMemcpyHostToDevice));
    const float *bias = s.bias ? db : NULL;

    /* outputs to compare with the host chain: all, or whole sampled rows + random ones */
    const int nv = lac_cuda_matmul_variants();
    int failures = 0, neg_zeros = 0;
    for (int v = -1; v < nv; v++) { /* -1: lac_cuda_matmul (heuristic) */
        if (s.flags & LAC_MM_RESIDUAL) {
            LAC_CUDA_OR_EXIT(cudaMemcpy(dO, hO0, (nO + CANARY) * sizeof(float), cudaMemcpyHostToDevice));
        } else {
            LAC_CUDA_OR_EXIT(cudaMemset(dO, 0xff, nO * sizeof(float))); /* NaN: unwritten outputs show */
            LAC_CUDA_OR_EXIT(cudaMemcpy(dO + nO, hO0 + nO, CANARY * sizeof(float), cudaMemcpyHostToDevice));
        }
        if (v < 0)
            lac_cuda_matmul(dO, dA + off, dW + off, ldw, bias, M, N, K, s.flags, 0);
        else
            lac_cuda_matmul_variant(v, dO, dA + off, dW + off, ldw, bias, M, N, K, s.flags, 0);
        LAC_CUDA_OR_EXIT(cudaGetLastError());
        LAC_CUDA_OR_EXIT(cudaDeviceSynchronize());
        LAC_CUDA_OR_EXIT(cudaMemcpy(hO, dO, (nO + CANARY) * sizeof(float), cudaMemcpyDeviceToHost));
        const char *name = v < 0 ? "heuristic" : lac_cuda_matmul_variant_name(v);
        int bad = 0;
        if (memcmp(hO + nO, hO0 + nO, CANARY * sizeof(float)) != 0) {
            fprintf(stderr, "  %s: wrote past the output\n", name);
            bad++;
        }
        if (v < 0) {
            /* the heuristic's output against the host chain */
            const int rows_step = full ? 1 : (M > 8 ? M / 7 : 1);
            for (int m = 0; m < M; m++) {
                if (m % rows_step != 0 && m != M - 1) continue;
                for (int n = 0; n < N; n++) {
                    float acc = 0.0f;
                    for (int k = 0; k < K; k++)
                        acc = fmaf(hA[(size_t)m * K + k], hW[(size_t)k * ldw + n], acc);
                    float x = acc;
                    if (s.bias) x = x + hb[n];
                    if (s.flags & LAC_MM_GELU) x = gelu_host(x);
                    if (s.flags & LAC_MM_RESIDUAL) x = hO0[(size_t)m * N + n] + x;
                    const float got = hO[(size_t)m * N + n];
                    if (x == 0.0f && signbit(x)) neg_zeros++;
                    if (memcmp(&x, &got, sizeof x) != 0) {
                        if (bad < 5)
                            fprintf(stderr, "  %s: out[%d][%d] = %a, chain gives %a\n", name, m,
                                    n, (double)got, (double)x);
                        bad++;
                    }
                }
            }
            memcpy(hFirst, hO, (nO + CANARY) * sizeof(float));
        } else if (memcmp(hO, hFirst, nO * sizeof(float)) != 0) {
            size_t i = 0;
            while (i < nO && memcmp(hO + i, hFirst + i, sizeof(float)) == 0) i++;
            fprintf(stderr, "  %s differs from the heuristic's output at [%zu][%zu]: %a vs %a\n",
                    name, i / (size_t)N, i % (size_t)N, (double)hO[i], (double)hFirst[i]);
            bad++;
        }
        failures += bad != 0;
    }
    printf("M=%d N=%d K=%d ldw=%d flags=%d bias=%d misalign=%d: heuristic=%s, -0 outputs "
           "checked: %d: %s\n",
           M, N, K, ldw, s.flags, s.bias, s.misalign,
           lac_cuda_matmul_variant_name(lac_cuda_matmul_choose(M, N)), neg_zeros,
           failures ? "FAIL" : "ok");
    /* the -0 rows must really be exercised where nothing can turn -0 into +0 */
    if (K > 0 && M > 2 && !(s.flags & LAC_MM_RESIDUAL) && neg_zeros == 0) {
        fprintf(stderr, "  no -0 output was produced: the test lost its signed-zero case\n");
        failures++;
    }
    fflush(stdout);
    LAC_CUDA_OR_EXIT(cudaFree(dA));
    LAC_CUDA_OR_EXIT(cudaFree(dW));
    LAC_CUDA_OR_EXIT(cudaFree(db));
    LAC_CUDA_OR_EXIT(cudaFree(dO));
    free(hA);
    free(hW);
    free(hb);
    free(hO0);
    free(hO);
    free(hFirst);
    return failures;
}

int main(void) {
    int count = 0;
#ifndef LAC_CUDA_EMU
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        cudaGetLastError();
        printf("SKIP: no CUDA device\n");
        return 77;
    }
#endif
    (void)count;
    static const shape odd[] = {
        /* M    N   K  ldw  flags                           bias mis */
        {37, 45, 19, 45, 0, 1, 0},         /* scalar path: K % 4, odd N */
        {37, 45, 20, 48, 0, 0, 0},         /* float4 loads, padded ldw, scalar stores */
        {130, 132, 36, 132, LAC_MM_GELU, 1, 0}, /* 2 x 2 big tiles, K % 16 = 4 */
        {5, 67, 7, 68, LAC_MM_RESIDUAL, 1, 0},  /* K < BK */
        {70, 64, 32, 64, LAC_MM_GELU | LAC_MM_RESIDUAL, 1, 0},
        {1, 50, 20, 52, 0, 0, 0},          /* one row, no bias */
        {17, 33, 40, 36, LAC_MM_RESIDUAL, 0, 0},
        {33, 40, 24, 40, LAC_MM_GELU, 1, 1}, /* misaligned A and W: scalar path */
        {3, 9, 1, 9, 0, 1, 0},             /* K = 1 */
        {4, 8, 0, 8, LAC_MM_GELU, 1, 0},   /* K = 0: out = gelu(0 + bias) */
    };
    int failures = 0;
    for (const shape &s : odd) failures += check_shape(s, 1);
#ifndef LAC_CUDA_EMU
    /* GPT-2 124M K/N (the LM head with V padded to a multiple of 4), M off the tiles */
    static const shape gpt2[] = {
        {2085, 2304, 768, 2304, 0, 1, 0},
        {2085, 768, 768, 768, LAC_MM_RESIDUAL, 1, 0},
        {2085, 3072, 768, 3072, LAC_MM_GELU, 1, 0},
        {2085, 768, 3072, 768, LAC_MM_RESIDUAL, 1, 0},
        {2085, 50257, 768, 50260, 0, 0, 0},
        {16, 50257, 768, 50260, 0, 0, 0},
        {16, 768, 3072, 768, LAC_MM_RESIDUAL, 1, 0},
        {256, 768, 768, 768, 0, 1, 0},
    };
    for (const shape &s : gpt2) failures += check_shape(s, 0);
#endif
    printf("%s\n", failures ? "FAILED" : "all variants bit-exact");
    return failures ? 1 : 0;
}
