/* lac_cuda.h — internal (CUDA C++ only): host-side launchers of the kernels (kernels/ .cu files),
 * used by kernels/backend_cuda.cu and bench/bench_cuda_matmul.cu.
 *
 * Every kernel computes docs/NUMERICS.md exactly: one sequential fmaf chain per matmul output,
 * R32 row sums in the order of one warp, lac_expf/lac_tanhf from numerics/lac_math.h, and the
 * quantizer of §9 in integers. Launchers only enqueue work on `st`; the caller checks
 * cudaGetLastError() / the stream for errors. Row tables (tok, pos, stream) are int32 [R]. */
#ifndef LAC_CUDA_H
#define LAC_CUDA_H

#include <stdint.h>

#ifdef LAC_CUDA_EMU
/* kernels/emu/: the same sources compiled by a host C++ compiler, blocks and warps emulated
 * with threads, to check the kernels against the CPU reference on a machine without a GPU. */
#include "emu/cuda_emu.h"
#else
#include <cuda_runtime.h>
/* kernel<<<grid, block, smem, stream>>>(args), written LAC_LAUNCH(grid, block, smem, stream,
 * kernel)(args) (the kernel last: template arguments may contain commas). */
#define LAC_LAUNCH(grid, block, smem, st, ...) __VA_ARGS__<<<grid, block, smem, st>>>
#define LAC_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[] /* float4 reads */
#endif

/* matmul epilogue flags: out = [out +] gelu?(chain + bias) */
enum { LAC_MM_GELU = 1, LAC_MM_RESIDUAL = 2 };

/* out[m][n] = epilogue(chain_k(A[m][k], W[k][n]) (+ bias[n] when bias != NULL)), with
 * A [M][K] (row stride K), W [K][ldw] (ldw >= N; only columns < N are used, but W must hold
 * K * ldw floats), out [M][N], all row-major fp32. With LAC_MM_RESIDUAL the result is
 * out[m][n] = out[m][n] + (chain + bias); with LAC_MM_GELU gelu is applied to chain + bias.
 * Loads are float4 when K % 4 == 0, ldw % 4 == 0 and A, W are 16-byte aligned (pad ldw for odd
 * N), stores when N % 4 == 0. The tile shape comes from lac_cuda_matmul_choose, or from the
 * environment variable LAC_MM_KERNEL=<variant name> (read once). Every variant gives the same
 * bits: the choice never changes the output. */
void lac_cuda_matmul(float *out, const float *A, const float *W, int ldw, const float *bias,
                     int M, int N, int K, int flags, cudaStream_t st);
/* The same with an explicit variant 0 .. lac_cuda_matmul_variants() - 1 (benches, tests). */
void lac_cuda_matmul_variant(int variant, float *out, const float *A, const float *W, int ldw,
                             const float *bias, int M, int N, int K, int flags, cudaStream_t st);
int lac_cuda_matmul_variants(void);
/* "big", "mid", "small", "tiny" (NULL outside the range). */
const char *lac_cuda_matmul_variant_name(int variant);
/* The variant the heuristic takes for M x N outputs on the current device. */
int lac_cuda_matmul_choose(int M, int N);

/* x[r][i] = wte[tok[r]][i] + wpe[pos[r]][i] */
void lac_cuda_embed(float *x, const float *wte, const float *wpe, const int32_t *tok,
                    const int32_t *pos, int R, int C, cudaStream_t st);

/* y[r] = LayerNorm(x[r]; w, b, eps), one warp per row (NUMERICS §3). */
void lac_cuda_layernorm(float *y, const float *x, const float *w, const float *b, float eps, int R,
                        int C, cudaStream_t st);

/* Copies the k and v parts of qkv [R][3C] into the layer's caches [n_streams][n_ctx][C] at
 * (stream[r], pos[r]). */
void lac_cuda_kv_store(float *kc, float *vc, const float *qkv, const int32_t *stream,
                       const int32_t *pos, int R, int C, int n_ctx, cudaStream_t st);

/* Causal attention (NUMERICS §6) of each row over positions 0..pos[r] of its stream's cache;
 * out [R][C]. Rows come in groups: group g is rows group_first[g] .. + group_n[g] - 1, all of
 * one stream. Groups 0 .. n_multi - 1 have 2..qb rows each (the prefill kernel, qb from
 * lac_cuda_attention_rows); groups n_multi .. n_groups - 1 have one row each (the step kernel,
 * for decoding steps). Both give the same bits. Call lac_cuda_attention_setup once per device
 * first. */
void lac_cuda_attention(float *out, const float *qkv, const float *kc, const float *vc,
                        const int32_t *stream, const int32_t *pos, const int32_t *group_first,
                        const int32_t *group_n, int n_groups, int n_multi, int qb, int C,
                        int n_head, int n_ctx, cudaStream_t st);
/* Rows per attention group (qb) for a model with n_ctx positions and this head size on a
 * device that allows max_smem bytes of shared memory per block: the most (up to 32) that fit;
 * 1 = one-row groups only; 0 = not even one row fits (or head_dim > 1024). */
int lac_cuda_attention_rows(int n_ctx, int head_dim, size_t max_smem);
/* Allows the attention kernels up to max_smem bytes of shared memory per block (beyond the
 * default 48 KiB): call once per device with the device's opt-in limit, so that engines with
 * different n_ctx can share the device. */
cudaError_t lac_cuda_attention_setup(size_t max_smem);
/* Shared memory per block of the attention kernel for groups of qb rows (qb = 1: the step
 * kernel) and n_ctx positions. */
size_t lac_cuda_attention_smem(int n_ctx, int head_dim, int qb);

/* Uploads numerics/exp2_table.h into __constant__ memory (once per device). */
cudaError_t lac_cuda_quantize_setup(void);
/* The quantizer of NUMERICS §9 over rows of V logits. When freqs != NULL, writes the full
 * frequency rows freqs [rows][V]. When targets != NULL, writes cum[r] = sum of f[i] for
 * i < targets[r] and freq[r] = f[targets[r]]. */
void lac_cuda_quantize(const float *logits, int rows, int V, uint32_t P, uint32_t s, float T,
                       const int32_t *targets, uint32_t *cum, uint32_t *freq, uint32_t *freqs,
                       cudaStream_t st);
/* Decoding: the same rows, written in full to the scratch freqs [rows][V], then for row r the
 * symbol whose interval [cum, cum + freq) holds dec_targets[r] (< 2^P): sym[r], cum[r],
 * freq[r] — what lac_freqs_find gives on the host. */
void lac_cuda_quantize_find(const float *logits, int rows, int V, uint32_t P, uint32_t s, float T,
                            const uint32_t *dec_targets, int32_t *sym, uint32_t *cum,
                            uint32_t *freq, uint32_t *freqs, cudaStream_t st);

#endif
