/* The engine's device backends. engine/engine.c owns stream positions and argument checks,
 * then hands each forward call to one backend. Every backend computes docs/NUMERICS.md, so
 * they all return the same bits. */
#ifndef LAC_BACKEND_H
#define LAC_BACKEND_H
#include <stdint.h>
#include "lac.h"
#include "model.h"

typedef struct lac_backend_ops {
    const char *kind; /* "cpu", "cpu-scalar", "cuda" */
    /* opt->n_streams and opt->max_rows are already resolved (> 0). *name receives a
     * description of the device ("cpu-avx512 (2 threads)", "cuda:0 NVIDIA H100 ..."). */
    lac_status (*create)(const lac_model *m, const lac_engine_options *opt, void **state,
                         const char **name, lac_error *err);
    void (*destroy)(void *state);
    /* Appends counts[b] tokens to stream b, whose first new token sits at positions[b]
     * (positions[b] + counts[b] <= n_ctx, checked by the caller; sum of counts <= max_rows).
     * Writes counts[b] rows of vocab_size logits to logits[b]. */
    lac_status (*forward)(void *state, const int32_t *const *tokens, const int *counts,
                          const int *positions, float *const *logits, lac_error *err);
    /* Optional fused versions of lac_engine_forward_code / _freqs (NULL: engine.c runs
     * forward and then lac_quantize_freqs on the host). Same arguments plus positions. */
    lac_status (*forward_code)(void *state, const int32_t *const *tokens, const int *counts,
                               const int *positions, const int32_t *const *targets,
                               const lac_coder_params *p, uint32_t *const *cum,
                               uint32_t *const *freq, lac_error *err);
    lac_status (*forward_freqs)(void *state, const int32_t *const *tokens, const int *counts,
                                const int *positions, const lac_coder_params *p,
                                uint32_t *const *freqs, lac_error *err);
    /* Optional fused lac_engine_forward_decode (NULL: engine.c runs forward, the host
     * quantizer and lac_freqs_find). counts[b] is 0 or 1 and their sum <= max_rows; sym, cum,
     * freq and targets are indexed by stream. */
    lac_status (*forward_decode)(void *state, const int32_t *const *tokens, const int *counts,
                                 const int *positions, const lac_coder_params *p,
                                 const uint32_t *targets, int32_t *sym, uint32_t *cum,
                                 uint32_t *freq, lac_error *err);
} lac_backend_ops;

extern const lac_backend_ops lac_backend_cpu;        /* engine/forward_fast.c */
extern const lac_backend_ops lac_backend_cpu_scalar; /* engine/forward_scalar.c */
/* engine/backend_multi.c: n_devices > 1 sub-engines, one per device, streams split among
 * them. opt->n_devices is resolved (> 1) and opt->devices holds the GPU indices for CUDA. */
extern const lac_backend_ops lac_backend_multi;
int lac_multi_devices(const void *state);
const lac_engine *lac_multi_sub(const void *state, int i); /* NULL out of range */
/* Sets stream b's position (engine.c): the multi backend keeps its sub-engines at the
 * positions the outer engine hands it (after its resets and truncations). */
void lac_engine_set_position(lac_engine *e, int stream, int pos);
#ifdef LAC_HAVE_CUDA
extern const lac_backend_ops lac_backend_cuda;       /* kernels/backend_cuda.cu */
/* Number of usable CUDA devices (0 when no driver or no GPU); never fails loudly. */
int lac_cuda_device_count(void);
/* Free memory of GPU `index` in bytes (0 when it cannot be read). */
uint64_t lac_cuda_free_memory(int index);
#endif
#endif
