/* lac_cuda_prog.h — for standalone CUDA programs only (benches, kernel checks), never for the
 * library (which returns errors instead of exiting: CUDA_TRY in backend_cuda.cu).
 * LAC_CUDA_OR_EXIT(call) prints the failing CUDA call's file, line and error string and exits
 * with status 1; lac_fill() fills device memory with deterministic test values. */
#ifndef LAC_CUDA_PROG_H
#define LAC_CUDA_PROG_H
#include <stdio.h>
#include <stdlib.h>

#define LAC_CUDA_OR_EXIT(x)                                                                    \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_));        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#ifndef LAC_CUDA_EMU
#include <stdint.h>
/* Fills p[0..n) on the device with deterministic values in about [-1, 1). */
static __global__ void lac_fill_kernel(float *p, size_t n, uint32_t seed) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint32_t x = (uint32_t)i * 2654435761u ^ seed;
    x ^= x >> 16;
    x *= 2246822519u;
    x ^= x >> 13;
    p[i] = (float)(int32_t)(x & 0xffffff) / 8388608.0f - 1.0f;
}
static inline void lac_fill(float *p, size_t n, uint32_t seed) {
    lac_fill_kernel<<<(unsigned)((n + 255) / 256), 256>>>(p, n, seed);
    LAC_CUDA_OR_EXIT(cudaGetLastError());
}
#endif
#endif
