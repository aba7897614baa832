/* backend_cuda.cu — the CUDA backend (lac_backend_cuda, engine/backend.h).
 *
 * create uploads the widened fp32 weights (incl. the transposed embedding wte_t for the LM
 * head), allocates the KV cache of n_streams x n_ctx positions per layer and the activations
 * of max_rows rows. A forward call gathers the new tokens of all streams into one [R][C]
 * activation matrix with per-row (token, position, stream) tables, runs the layers
 * (kernels/layers.cu, kernels/matmul.cu) and then the LM head in chunks of rows, followed by
 * a copy of the logits, or by the quantizer (kernels/quantize.cu) for the fused calls.
 * Every kernel follows docs/NUMERICS.md, so the bits equal those of the CPU backends.
 * Every CUDA error becomes LAC_ERR_DEVICE with the CUDA error string. */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac_cuda.h"

extern "C" {
#include "backend.h"
#include "lac_error.h"
#include "model.h"
}

#define HEAD_CHUNK_ROWS 1024 /* rows of logits (or frequencies) kept on the device at once */

namespace {

/* A decoding step captured as a CUDA graph: replaying it costs one launch instead of ~100.
 * The kernels read the row tables from device memory, so one graph serves every step with the
 * same rows, groups and coder parameters (the key). seen: the key ran once eagerly (a key is
 * captured the second time it comes, so one-off shapes are never captured). */
struct step_graph {
    int R, n_groups, n_multi, seen, used;
    uint32_t P, frac;
    float T;
#ifndef LAC_CUDA_EMU
    cudaGraphExec_t exec;
#endif
};
#define N_GRAPHS 8

struct cuda_state {
    int dev;
    char name[288];
    int L, C, H, V, NI, n_ctx, B, max_rows, chunk, qb;
    float eps;
    cudaStream_t st;
    float *weights; /* one allocation holding every tensor below */
    lac_layer_weights *layers; /* device pointers (the F16 fields stay NULL) */
    const float *wte, *wte_t, *wpe, *lnf_w, *lnf_b;
    int ldv; /* row stride of wte_t [C][ldv]: V padded to a multiple of 4 (float4 loads) */
    float *kv;                           /* [L][2][B][n_ctx][C] */
    float *x, *a, *qkv, *att, *h;        /* activations [max_rows][...] */
    float *logits;                       /* [chunk][V] */
    uint32_t *freqs;                     /* [chunk][V] */
    int32_t *d_rows; /* tok | pos | stream | target | group first | group rows, [max_rows] each */
    uint32_t *d_code;                    /* cum | freq | sym, [max_rows] each */
    int32_t *h_rows;                     /* pinned mirror of d_rows */
    uint32_t *h_code;                    /* pinned mirror of d_code */
    int *row_start;                      /* [B]: first row of each stream in this call */
    int n_groups, n_multi;               /* attention groups of this call; the first n_multi
                                          * have several rows (prefill kernel) */
    step_graph graphs[N_GRAPHS];         /* decoding steps captured as CUDA graphs */
    int graphs_off, graph_clock;
    const int32_t **dec_tg;              /* [B]: decode targets as per-stream row tables */
};

lac_status cuda_fail(lac_error *err, cudaError_t e, const char *what) {
    return lac_fail(err, LAC_ERR_DEVICE, "cuda: %s: %s", what, cudaGetErrorString(e));
}

/* In a function returning lac_status with a lac_error *err in scope: a failing CUDA call
 * returns LAC_ERR_DEVICE naming what failed (kernels/lac_cuda_prog.h has the exiting variant
 * for standalone programs). */
#define CUDA_TRY(call, what)                                                                   \
    do {                                                                                       \
        cudaError_t e_ = (call);                                                               \
        if (e_ != cudaSuccess) return cuda_fail(err, e_, what);                                \
    } while (0)

void state_free(cuda_state *s) {
    if (!s) return;
    cudaSetDevice(s->dev);
    if (s->st) cudaStreamSynchronize(s->st);
#ifndef LAC_CUDA_EMU
    for (int i = 0; i < N_GRAPHS; i++)
        if (s->graphs[i].exec) cudaGraphExecDestroy(s->graphs[i].exec);
#endif
    cudaFree(s->weights);
    cudaFree(s->kv);
    cudaFree(s->x);
    cudaFree(s->a);
    cudaFree(s->qkv);
    cudaFree(s->att);
    cudaFree(s->h);
    cudaFree(s->logits);
    cudaFree(s->freqs);
    cudaFree(s->d_rows);
    cudaFree(s->d_code);
    cudaFreeHost(s->h_rows);
    cudaFreeHost(s->h_code);
    if (s->st) cudaStreamDestroy(s->st);
    free(s->layers);
    free(s->row_start);
    free(s->dec_tg);
    free(s);
}

/* Copies n floats of host tensor src to the device bump allocator at *dst. */
const float *upload(float **cursor, const float *src, size_t n, cudaError_t *e) {
    float *d = *cursor;
    *cursor += (n + 63) & ~(size_t)63; /* keep every tensor 256-byte aligned */
    if (*e == cudaSuccess) *e = cudaMemcpy(d, src, n * sizeof(float), cudaMemcpyHostToDevice);
    return d;
}

lac_status cuda_create(const lac_model *m, const lac_engine_options *opt, void **state,
                       const char **name, lac_error *err) {
    *state = NULL;
    const lac_model_config *cfg = &m->cfg;
    int count = 0;
    cudaError_t ce = cudaGetDeviceCount(&count);
    if (ce != cudaSuccess) {
        cudaGetLastError();
        return cuda_fail(err, ce, "no usable CUDA device");
    }
    if (opt->cuda_index < 0 || opt->cuda_index >= count)
        return lac_fail(err, LAC_ERR_ARG, "cuda: device index %d out of range (%d devices)",
                        opt->cuda_index, count);
    if (cfg->n_head == 0 || cfg->n_embd % cfg->n_head != 0)
        return lac_fail(err, LAC_ERR_ARG, "cuda: n_embd %u is not a multiple of n_head %u",
                        cfg->n_embd, cfg->n_head);
    CUDA_TRY(cudaSetDevice(opt->cuda_index), "cudaSetDevice");
    cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, opt->cuda_index), "cudaGetDeviceProperties");
    const int hd = (int)(cfg->n_embd / cfg->n_head);
    const int qb = lac_cuda_attention_rows((int)cfg->n_ctx, hd, prop.sharedMemPerBlockOptin);
    if (qb < 1)
        return lac_fail(err, LAC_ERR_LIMIT,
                        "cuda: head size %d with n_ctx %u needs %zu bytes of shared memory per "
                        "block for attention, the device has %zu (head size at most 1024)",
                        hd, cfg->n_ctx, lac_cuda_attention_smem((int)cfg->n_ctx, hd, 1),
                        (size_t)prop.sharedMemPerBlockOptin);

    cuda_state *s = (cuda_state *)calloc(1, sizeof *s);
    if (!s) return lac_fail(err, LAC_ERR_NOMEM, "cuda: out of host memory");
    s->dev = opt->cuda_index;
    s->L = (int)cfg->n_layer;
    s->C = (int)cfg->n_embd;
    s->H = (int)cfg->n_head;
    s->V = (int)cfg->vocab_size;
    s->NI = (int)cfg->n_inner;
    s->n_ctx = (int)cfg->n_ctx;
    s->B = opt->n_streams;
    s->max_rows = opt->max_rows;
    s->chunk = s->max_rows < HEAD_CHUNK_ROWS ? s->max_rows : HEAD_CHUNK_ROWS;
    s->eps = cfg->ln_eps;
    s->qb = qb;
    { /* LAC_CUDA_GRAPHS=0: decoding steps without CUDA graphs (for comparisons) */
        const char *g = getenv("LAC_CUDA_GRAPHS");
        s->graphs_off = g && !strcmp(g, "0");
    }
    snprintf(s->name, sizeof s->name, "cuda:%d %s", s->dev, prop.name);
    s->layers = (lac_layer_weights *)calloc((size_t)s->L ? (size_t)s->L : 1,
                                           sizeof(lac_layer_weights));
    s->row_start = (int *)calloc((size_t)s->B, sizeof(int));
    s->dec_tg = (const int32_t **)calloc((size_t)s->B, sizeof(int32_t *));
    if (!s->layers || !s->row_start || !s->dec_tg) {
        state_free(s);
        return lac_fail(err, LAC_ERR_NOMEM, "cuda: out of host memory");
    }

    const float *wte_t_host = lac_model_wte_t(m); /* built on first use (model.h) */
    if (!wte_t_host) {
        state_free(s);
        return lac_fail(err, LAC_ERR_NOMEM, "cuda: out of host memory (LM head)");
    }
    lac_status rc = LAC_OK;
#define STEP(call, what)                                                                       \
    do {                                                                                       \
        cudaError_t e_ = (call);                                                               \
        if (e_ != cudaSuccess) {                                                               \
            rc = cuda_fail(err, e_, what);                                                     \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)
    {
        const size_t C = (size_t)s->C, V = (size_t)s->V, NI = (size_t)s->NI;
        const size_t R = (size_t)s->max_rows, B = (size_t)s->B, T = (size_t)s->n_ctx;
        auto al = [](size_t n) { return (n + 63) & ~(size_t)63; };
        const size_t per_layer = 4 * al(C) + al(C * 3 * C) + al(3 * C) + al(C * C) +
                                 al(C * NI) + al(NI) + al(NI * C) + al(C) + al(C);
        const size_t ldv = (V + 3) & ~(size_t)3;
        s->ldv = (int)ldv;
        const size_t total =
            al(V * C) + al(C * ldv) + al(T * C) + 2 * al(C) + (size_t)s->L * per_layer;

        STEP(cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking), "cudaStreamCreate");
        STEP(cudaMalloc((void **)&s->weights, total * sizeof(float)), "allocating the weights");
        float *cur = s->weights;
        cudaError_t e = cudaSuccess;
        s->wte = upload(&cur, m->wte, V * C, &e);
        { /* wte_t with rows padded to ldv; the pad columns (never stored) are 0 */
            float *d = cur;
            cur += al(C * ldv);
            if (e == cudaSuccess) e = cudaMemset(d, 0, C * ldv * sizeof(float));
            if (e == cudaSuccess)
                e = cudaMemcpy2D(d, ldv * sizeof(float), wte_t_host, V * sizeof(float),
                                 V * sizeof(float), C, cudaMemcpyHostToDevice);
            s->wte_t = d;
        }
        s->wpe = upload(&cur, m->wpe, T * C, &e);
        s->lnf_w = upload(&cur, m->lnf_w, C, &e);
        s->lnf_b = upload(&cur, m->lnf_b, C, &e);
        for (int l = 0; l < s->L; l++) {
            const lac_layer_weights *w = &m->layers[l];
            lac_layer_weights *d = &s->layers[l];
            d->ln1_w = upload(&cur, w->ln1_w, C, &e);
            d->ln1_b = upload(&cur, w->ln1_b, C, &e);
            d->attn_w = upload(&cur, w->attn_w, C * 3 * C, &e);
            d->attn_b = upload(&cur, w->attn_b, 3 * C, &e);
            d->proj_w = upload(&cur, w->proj_w, C * C, &e);
            d->proj_b = upload(&cur, w->proj_b, C, &e);
            d->ln2_w = upload(&cur, w->ln2_w, C, &e);
            d->ln2_b = upload(&cur, w->ln2_b, C, &e);
            d->fc_w = upload(&cur, w->fc_w, C * NI, &e);
            d->fc_b = upload(&cur, w->fc_b, NI, &e);
            d->fcproj_w = upload(&cur, w->fcproj_w, NI * C, &e);
            d->fcproj_b = upload(&cur, w->fcproj_b, C, &e);
        }
        STEP(e, "uploading the weights");

        STEP(cudaMalloc((void **)&s->kv, (size_t)s->L * 2 * B * T * C * sizeof(float)),
             "allocating the KV cache");
        STEP(cudaMalloc((void **)&s->x, R * C * sizeof(float)), "allocating activations");
        STEP(cudaMalloc((void **)&s->a, R * C * sizeof(float)), "allocating activations");
        STEP(cudaMalloc((void **)&s->qkv, R * 3 * C * sizeof(float)), "allocating activations");
        STEP(cudaMalloc((void **)&s->att, R * C * sizeof(float)), "allocating activations");
        STEP(cudaMalloc((void **)&s->h, R * NI * sizeof(float)), "allocating activations");
        STEP(cudaMalloc((void **)&s->logits, (size_t)s->chunk * V * sizeof(float)),
             "allocating logits");
        STEP(cudaMalloc((void **)&s->freqs, (size_t)s->chunk * V * sizeof(uint32_t)),
             "allocating frequencies");
        STEP(cudaMalloc((void **)&s->d_rows, 6 * R * sizeof(int32_t)), "allocating row tables");
        STEP(cudaMalloc((void **)&s->d_code, 3 * R * sizeof(uint32_t)), "allocating row tables");
        STEP(cudaMallocHost((void **)&s->h_rows, 6 * R * sizeof(int32_t)), "pinned host memory");
        STEP(cudaMallocHost((void **)&s->h_code, 3 * R * sizeof(uint32_t)),
             "pinned host memory");
        STEP(lac_cuda_attention_setup(prop.sharedMemPerBlockOptin), "attention shared memory");
        STEP(lac_cuda_quantize_setup(), "uploading the exp2 table");
        STEP(cudaDeviceSynchronize(), "create");
    }
#undef STEP
    *state = s;
    *name = s->name;
    return LAC_OK;
fail:
    state_free(s);
    return rc;
}

void cuda_destroy(void *state) { state_free((cuda_state *)state); }

/* Uploads the row tables (filled in h_rows) and enqueues embedding, the layers and the final
 * LayerNorm for the R rows (s->n_groups attention groups); the LM-head input ends in s->a. */
lac_status enqueue_layers(cuda_state *s, int R, lac_error *err) {
    const int MR = s->max_rows, n_groups = s->n_groups;
    CUDA_TRY(cudaMemcpyAsync(s->d_rows, s->h_rows, 6 * (size_t)MR * sizeof(int32_t),
                       cudaMemcpyHostToDevice, s->st),
       "uploading row tables");
    const int32_t *d_tok = s->d_rows, *d_pos = s->d_rows + MR, *d_str = s->d_rows + 2 * MR;
    const int32_t *d_gfirst = s->d_rows + 4 * MR, *d_gn = s->d_rows + 5 * MR;

    const int C = s->C;
    const size_t kv_layer = (size_t)s->B * s->n_ctx * C;
    lac_cuda_embed(s->x, s->wte, s->wpe, d_tok, d_pos, R, C, s->st);
    for (int l = 0; l < s->L; l++) {
        const lac_layer_weights *w = &s->layers[l];
        float *kc = s->kv + (size_t)l * 2 * kv_layer, *vc = kc + kv_layer;
        lac_cuda_layernorm(s->a, s->x, w->ln1_w, w->ln1_b, s->eps, R, C, s->st);
        lac_cuda_matmul(s->qkv, s->a, w->attn_w, 3 * C, w->attn_b, R, 3 * C, C, 0, s->st);
        lac_cuda_kv_store(kc, vc, s->qkv, d_str, d_pos, R, C, s->n_ctx, s->st);
        lac_cuda_attention(s->att, s->qkv, kc, vc, d_str, d_pos, d_gfirst, d_gn, n_groups,
                           s->n_multi, s->qb, C, s->H, s->n_ctx, s->st);
        lac_cuda_matmul(s->x, s->att, w->proj_w, C, w->proj_b, R, C, C, LAC_MM_RESIDUAL, s->st);
        lac_cuda_layernorm(s->a, s->x, w->ln2_w, w->ln2_b, s->eps, R, C, s->st);
        lac_cuda_matmul(s->h, s->a, w->fc_w, s->NI, w->fc_b, R, s->NI, C, LAC_MM_GELU, s->st);
        lac_cuda_matmul(s->x, s->h, w->fcproj_w, C, w->fcproj_b, R, C, s->NI, LAC_MM_RESIDUAL,
                        s->st);
    }
    lac_cuda_layernorm(s->a, s->x, s->lnf_w, s->lnf_b, s->eps, R, C, s->st);
    CUDA_TRY(cudaGetLastError(), "launching the layers");
    return LAC_OK;
}

/* Fills the row tables for this call, uploads them, and runs embedding + all layers + the
 * final LayerNorm, leaving the LM-head input in s->a. *R_out receives the row count and
 * s->n_groups the attention groups. With enqueue = 0 only the host tables are filled (a
 * captured graph replays the rest). */
lac_status run_layers(cuda_state *s, const int32_t *const *tokens, const int *counts,
                      const int *positions, const int32_t *const *targets, int *R_out,
                      int enqueue, lac_error *err) {
    int R = 0;
    for (int b = 0; b < s->B; b++) {
        if (counts[b] < 0 || counts[b] > s->max_rows - R)
            return lac_fail(err, LAC_ERR_ARG, "cuda: %d rows in one call exceed max_rows %d",
                            R + counts[b], s->max_rows);
        s->row_start[b] = R;
        R += counts[b];
    }
    *R_out = R;
    if (R == 0) return LAC_OK;
    const int MR = s->max_rows;
    int32_t *tok = s->h_rows, *pos = s->h_rows + MR, *str = s->h_rows + 2 * MR,
            *tgt = s->h_rows + 3 * MR, *gfirst = s->h_rows + 4 * MR, *gn = s->h_rows + 5 * MR;
    for (int b = 0; b < s->B; b++) {
        for (int i = 0; i < counts[b]; i++) {
            const int r = s->row_start[b] + i;
            tok[r] = tokens[b][i];
            pos[r] = positions[b] + i;
            str[r] = b;
            tgt[r] = targets ? targets[b][i] : 0;
        }
    }
    /* attention groups: up to qb consecutive rows of one stream; those of 2 or more rows
     * (prefill kernel) first, then the one-row groups (step kernel) */
    int n_groups = 0, n_multi = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < s->B; b++)
            for (int i = 0; i < counts[b]; i += s->qb) {
                const int n = counts[b] - i < s->qb ? counts[b] - i : s->qb;
                if ((n > 1) != (pass == 0)) continue;
                gfirst[n_groups] = s->row_start[b] + i;
                gn[n_groups] = n;
                n_groups++;
            }
        if (pass == 0) n_multi = n_groups;
    }
    s->n_groups = n_groups;
    s->n_multi = n_multi;
    if (!enqueue) return LAC_OK;
    CUDA_TRY(cudaSetDevice(s->dev), "cudaSetDevice");
    return enqueue_layers(s, R, err);
}

/* Copies rows [r0, r0 + n) (in call order) of a device matrix with row_bytes bytes per row
 * to the per-stream host arrays dst[b]. */
lac_status copy_rows_to_streams(cuda_state *s, const int *counts, void *const *dst,
                                const void *src, int r0, int n, size_t row_bytes,
                                lac_error *err) {
    for (int b = 0; b < s->B; b++) {
        const int lo = s->row_start[b] > r0 ? s->row_start[b] : r0;
        const int end_b = s->row_start[b] + counts[b];
        const int hi = end_b < r0 + n ? end_b : r0 + n;
        if (lo >= hi) continue;
        CUDA_TRY(cudaMemcpyAsync((char *)dst[b] + (size_t)(lo - s->row_start[b]) * row_bytes,
                           (const char *)src + (size_t)(lo - r0) * row_bytes,
                           (size_t)(hi - lo) * row_bytes, cudaMemcpyDeviceToHost, s->st),
           "copying results to the host");
    }
    return LAC_OK;
}

/* What each chunk of LM-head rows is followed by. */
enum head_mode {
    HEAD_LOGITS, /* nothing: the logits go to dst[b] */
    HEAD_CODE,   /* the quantizer with targets: cum and freq of each row in d_code */
    HEAD_FREQS,  /* the quantizer: frequency rows, to dst[b] */
    HEAD_DECODE  /* the quantizer and the symbol search: sym, cum, freq in d_code */
};

/* The LM head over the R rows of s->a in chunks of s->chunk rows (s->logits holds one chunk),
 * each chunk followed by what `mode` asks; for HEAD_LOGITS and HEAD_FREQS its rows are copied
 * to the per-stream host arrays dst[b]. Only enqueues (the caller synchronises), so that a
 * decoding step can be captured as a graph. */
lac_status run_lm_head(cuda_state *s, int R, head_mode mode, const lac_coder_params *p,
                       const int *counts, void *const *dst, lac_error *err) {
    const int MR = s->max_rows;
    const int32_t *d_tgt = s->d_rows + 3 * MR;
    uint32_t *d_cum = s->d_code, *d_freq = s->d_code + MR;
    int32_t *d_sym = (int32_t *)(s->d_code + 2 * MR);
    const size_t row_bytes = (size_t)s->V * (mode == HEAD_LOGITS ? sizeof(float) : sizeof(uint32_t));
    for (int r0 = 0; r0 < R; r0 += s->chunk) {
        const int n = R - r0 < s->chunk ? R - r0 : s->chunk;
        lac_cuda_matmul(s->logits, s->a + (size_t)r0 * s->C, s->wte_t, s->ldv, NULL, n, s->V,
                        s->C, 0, s->st);
        if (mode == HEAD_CODE)
            lac_cuda_quantize(s->logits, n, s->V, p->precision, p->frac_bits, p->temperature,
                              d_tgt + r0, d_cum + r0, d_freq + r0, NULL, s->st);
        else if (mode == HEAD_FREQS)
            lac_cuda_quantize(s->logits, n, s->V, p->precision, p->frac_bits, p->temperature,
                              NULL, NULL, NULL, s->freqs, s->st);
        else if (mode == HEAD_DECODE)
            lac_cuda_quantize_find(s->logits, n, s->V, p->precision, p->frac_bits,
                                   p->temperature, (const uint32_t *)d_tgt + r0, d_sym + r0,
                                   d_cum + r0, d_freq + r0, s->freqs, s->st);
        if (mode == HEAD_DECODE) continue; /* checked once after the loop */
        CUDA_TRY(cudaGetLastError(), mode == HEAD_LOGITS ? "launching the LM head"
                                                         : "launching the LM head and quantizer");
        if (mode == HEAD_CODE) continue;
        const lac_status rc = copy_rows_to_streams(
            s, counts, dst, mode == HEAD_LOGITS ? (const void *)s->logits : s->freqs, r0, n,
            row_bytes, err);
        if (rc != LAC_OK) return rc;
    }
    if (mode == HEAD_DECODE) CUDA_TRY(cudaGetLastError(), "launching the decoding step");
    return LAC_OK;
}

lac_status cuda_forward(void *state, const int32_t *const *tokens, const int *counts,
                        const int *positions, float *const *logits, lac_error *err) {
    cuda_state *s = (cuda_state *)state;
    int R = 0;
    lac_status rc = run_layers(s, tokens, counts, positions, NULL, &R, 1, err);
    if (rc != LAC_OK || R == 0) return rc;
    rc = run_lm_head(s, R, HEAD_LOGITS, NULL, counts, (void *const *)logits, err);
    if (rc != LAC_OK) return rc;
    CUDA_TRY(cudaStreamSynchronize(s->st), "forward");
    return LAC_OK;
}

lac_status check_coder(const cuda_state *s, const lac_coder_params *p, lac_error *err) {
    if (p->precision < LAC_PRECISION_MIN || p->precision > LAC_PRECISION_MAX ||
        p->frac_bits < LAC_FRAC_BITS_MIN || p->frac_bits > LAC_FRAC_BITS_MAX ||
        !(p->temperature > 0.0f) || !(p->temperature <= FLT_MAX) ||
        (uint64_t)s->V >= ((uint64_t)1 << p->precision))
        return lac_fail(err, LAC_ERR_ARG, "cuda: coder params P=%u s=%u T=%g out of range",
                        p->precision, p->frac_bits, (double)p->temperature);
    return LAC_OK;
}

lac_status cuda_forward_code(void *state, const int32_t *const *tokens, const int *counts,
                             const int *positions, const int32_t *const *targets,
                             const lac_coder_params *p, uint32_t *const *cum,
                             uint32_t *const *freq, lac_error *err) {
    cuda_state *s = (cuda_state *)state;
    lac_status rc = check_coder(s, p, err);
    if (rc != LAC_OK) return rc;
    int R = 0;
    rc = run_layers(s, tokens, counts, positions, targets, &R, 1, err);
    if (rc != LAC_OK || R == 0) return rc;
    const int MR = s->max_rows;
    rc = run_lm_head(s, R, HEAD_CODE, p, counts, NULL, err);
    if (rc != LAC_OK) return rc;
    CUDA_TRY(cudaMemcpyAsync(s->h_code, s->d_code, 2 * (size_t)MR * sizeof(uint32_t),
                       cudaMemcpyDeviceToHost, s->st),
       "copying frequencies to the host");
    CUDA_TRY(cudaStreamSynchronize(s->st), "forward_code");
    for (int b = 0; b < s->B; b++) {
        if (counts[b] == 0) continue;
        memcpy(cum[b], s->h_code + s->row_start[b], (size_t)counts[b] * sizeof(uint32_t));
        memcpy(freq[b], s->h_code + MR + s->row_start[b], (size_t)counts[b] * sizeof(uint32_t));
    }
    return LAC_OK;
}

lac_status cuda_forward_freqs(void *state, const int32_t *const *tokens, const int *counts,
                              const int *positions, const lac_coder_params *p,
                              uint32_t *const *freqs, lac_error *err) {
    cuda_state *s = (cuda_state *)state;
    lac_status rc = check_coder(s, p, err);
    if (rc != LAC_OK) return rc;
    int R = 0;
    rc = run_layers(s, tokens, counts, positions, NULL, &R, 1, err);
    if (rc != LAC_OK || R == 0) return rc;
    rc = run_lm_head(s, R, HEAD_FREQS, p, counts, (void *const *)freqs, err);
    if (rc != LAC_OK) return rc;
    CUDA_TRY(cudaStreamSynchronize(s->st), "forward_freqs");
    return LAC_OK;
}

/* The device work of a decoding step after the row tables are filled on the host: upload
 * them, the layers, the LM head and symbol search per chunk, the results back to h_code. */
lac_status enqueue_decode(cuda_state *s, int R, const lac_coder_params *p, lac_error *err) {
    const int MR = s->max_rows;
    lac_status rc = enqueue_layers(s, R, err);
    if (rc != LAC_OK) return rc;
    rc = run_lm_head(s, R, HEAD_DECODE, p, NULL, NULL, err);
    if (rc != LAC_OK) return rc;
    for (int k = 0; k < 3; k++)
        CUDA_TRY(cudaMemcpyAsync(s->h_code + (size_t)k * MR, s->d_code + (size_t)k * MR,
                           (size_t)R * sizeof(uint32_t), cudaMemcpyDeviceToHost, s->st),
           "copying symbols to the host");
    return LAC_OK;
}

#ifndef LAC_CUDA_EMU
/* Runs the step through a cached graph when its key has come before; captures it the second
 * time. Any failure of the graph API switches graphs off for this engine and returns 0, so
 * the caller runs the step eagerly (the bits are the same: the same kernels run either way). */
int decode_with_graph(cuda_state *s, int R, const lac_coder_params *p, lac_error *err,
                      lac_status *rc) {
    if (s->graphs_off) return 0;
    step_graph *g = NULL, *lru = &s->graphs[0];
    for (int i = 0; i < N_GRAPHS; i++) {
        step_graph *c = &s->graphs[i];
        if (c->seen && c->R == R && c->n_groups == s->n_groups && c->n_multi == s->n_multi &&
            c->P == p->precision &&
            c->frac == p->frac_bits && memcmp(&c->T, &p->temperature, sizeof c->T) == 0)
            g = c;
        if (c->used < lru->used) lru = c;
    }
    if (!g) { /* first time: remember the key, run eagerly */
        if (lru->exec) cudaGraphExecDestroy(lru->exec);
        memset(lru, 0, sizeof *lru);
        *lru = step_graph{R, s->n_groups, s->n_multi, 1, ++s->graph_clock, p->precision,
                          p->frac_bits, p->temperature, NULL};
        return 0;
    }
    g->used = ++s->graph_clock;
    if (!g->exec) {
        cudaGraph_t graph = NULL;
        if (cudaStreamBeginCapture(s->st, cudaStreamCaptureModeThreadLocal) != cudaSuccess)
            goto off;
        {
            const lac_status erc = enqueue_decode(s, R, p, err);
            const cudaError_t ce = cudaStreamEndCapture(s->st, &graph);
            if (erc != LAC_OK || ce != cudaSuccess || !graph) goto off;
        }
        if (cudaGraphInstantiate(&g->exec, graph, 0) != cudaSuccess) {
            g->exec = NULL;
            cudaGraphDestroy(graph);
            goto off;
        }
        cudaGraphDestroy(graph);
    }
    if (cudaGraphLaunch(g->exec, s->st) != cudaSuccess) goto off;
    *rc = LAC_OK;
    return 1;
off:
    cudaGetLastError(); /* capture errors are not sticky: clear and go on without graphs */
    s->graphs_off = 1;
    return 0;
}
#endif

lac_status cuda_forward_decode(void *state, const int32_t *const *tokens, const int *counts,
                               const int *positions, const lac_coder_params *p,
                               const uint32_t *targets, int32_t *sym, uint32_t *cum,
                               uint32_t *freq, lac_error *err) {
    cuda_state *s = (cuda_state *)state;
    lac_status rc = check_coder(s, p, err);
    if (rc != LAC_OK) return rc;
    /* the targets travel in the row table's target column (bit patterns, one row a stream) */
    for (int b = 0; b < s->B; b++) s->dec_tg[b] = (const int32_t *)&targets[b];
    int R = 0;
    rc = run_layers(s, tokens, counts, positions, s->dec_tg, &R, 0, err);
    if (rc != LAC_OK || R == 0) return rc;
    CUDA_TRY(cudaSetDevice(s->dev), "cudaSetDevice");
    int done = 0;
#ifndef LAC_CUDA_EMU
    done = decode_with_graph(s, R, p, err, &rc);
#endif
    if (!done) rc = enqueue_decode(s, R, p, err);
    if (rc != LAC_OK) return rc;
    CUDA_TRY(cudaStreamSynchronize(s->st), "forward_decode");
    const int MR = s->max_rows;
    for (int b = 0; b < s->B; b++) {
        if (counts[b] == 0) continue;
        const int r = s->row_start[b];
        cum[b] = s->h_code[r];
        freq[b] = s->h_code[MR + r];
        sym[b] = (int32_t)s->h_code[2 * MR + r];
    }
    return LAC_OK;
}

} /* namespace */

extern "C" {

int lac_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
        return 0;
    }
    return n;
}

uint64_t lac_cuda_free_memory(int index) {
    size_t free_b = 0, total = 0;
    int prev = 0;
    if (cudaGetDevice(&prev) != cudaSuccess || cudaSetDevice(index) != cudaSuccess ||
        cudaMemGetInfo(&free_b, &total) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    cudaSetDevice(prev);
    return (uint64_t)free_b;
}

const lac_backend_ops lac_backend_cuda = {
    .kind = "cuda",
    .create = cuda_create,
    .destroy = cuda_destroy,
    .forward = cuda_forward,
    .forward_code = cuda_forward_code,
    .forward_freqs = cuda_forward_freqs,
    .forward_decode = cuda_forward_decode,
};

} /* extern "C" */
