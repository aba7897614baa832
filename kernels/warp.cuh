/* warp.cuh — warp-level pieces shared by the kernels (layers.cu, attention.cu, quantize.cu). */
#ifndef LAC_WARP_CUH
#define LAC_WARP_CUH

#define WARP 32
#define FULL_MASK 0xffffffffu

/* §1 R32 tail (numerics/lac_ops.h): lane j holds partial sum p[j]; after s = 16, 8, 4, 2, 1
 * (p[j] += p[j + s], the halving tree of lac_r32_tree) lane 0 holds the result, which is
 * broadcast to every lane. */
static __device__ __forceinline__ float warp_r32_finish(float p) {
    for (int s = 16; s >= 1; s >>= 1) p = p + __shfl_down_sync(FULL_MASK, p, s);
    return __shfl_sync(FULL_MASK, p, 0);
}

#endif
