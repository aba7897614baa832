/* forward_scalar.c — the plain-loop reference backend (lac_backend_cpu_scalar).
 *
 * Written to read like docs/NUMERICS.md: one loop per formula, one chain per output, the R32
 * order for row sums. Every other backend must give these bits. Single-threaded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "lac_error.h"
#include "lac_math.h"
#include "lac_ops.h"

typedef struct scalar_state {
    const lac_model *m;
    int n_streams, max_rows;
    float *kv;                   /* [n_layer][n_streams][2][n_ctx][C] */
    float *x, *a, *qkv, *att, *h; /* scratch for max_rows rows */
    float *s;                    /* [n_ctx] attention scores */
    int *row_pos;                /* [max_rows] position of each row */
    int *row_stream;             /* [max_rows] stream of each row */
    const float *wte_t;          /* [C][V] the LM head (lac_model_wte_t) */
} scalar_state;

/* R32 row sums (§1), LayerNorm (§3) and GELU (§4) are numerics/lac_ops.h. */
static void layernorm(const float *x, const float *w, const float *b, int C, float eps,
                      float *y) {
    lac_layernorm_row(lac_r32_sum, lac_r32_sumsq, x, w, b, C, eps, y);
}

/* y[N] = chain_k(x[k], W[k][n]) (+ b[n]). Every y[n] is its own chain over k = 0..K-1; the
 * loop runs k outside so that W is read row by row (y must not alias x). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
/* The same plain loop, also compiled for FMA-capable CPUs (fmaf becomes one instruction
 * instead of a libm call; the bits are the same either way). Chosen at load time. */
#define LAC_SCALAR_CLONES __attribute__((target_clones("fma", "default")))
#else
#define LAC_SCALAR_CLONES
#endif

LAC_SCALAR_CLONES
static void linear(const float *x, const float *W, const float *b, int K, int N, float *y) {
    for (int n = 0; n < N; n++) y[n] = 0.0f;
    for (int k = 0; k < K; k++) {
        const float *w = W + (size_t)k * N;
        for (int n = 0; n < N; n++) y[n] = fmaf(x[k], w[n], y[n]);
    }
    if (b)
        for (int n = 0; n < N; n++) y[n] = y[n] + b[n];
}

static void scalar_destroy(void *st) {
    scalar_state *s = st;
    if (!s) return;
    free(s->kv);
    free(s->x);
    free(s->a);
    free(s->qkv);
    free(s->att);
    free(s->h);
    free(s->s);
    free(s->row_pos);
    free(s->row_stream);
    free(s);
}

static lac_status scalar_create(const lac_model *m, const lac_engine_options *opt, void **out,
                                const char **name, lac_error *err) {
    const lac_model_config *c = &m->cfg;
    scalar_state *s = calloc(1, sizeof *s);
    if (!s) return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (scalar state)");
    s->m = m;
    s->n_streams = opt->n_streams;
    s->max_rows = opt->max_rows;
    const size_t R = (size_t)opt->max_rows, C = c->n_embd;
    const size_t kv = (size_t)c->n_layer * (size_t)opt->n_streams * 2 * c->n_ctx * C;
    s->kv = malloc(kv * sizeof(float));
    s->x = malloc(R * C * sizeof(float));
    s->a = malloc(R * C * sizeof(float));
    s->qkv = malloc(R * 3 * C * sizeof(float));
    s->att = malloc(R * C * sizeof(float));
    s->h = malloc(R * c->n_inner * sizeof(float));
    s->s = malloc((size_t)c->n_ctx * sizeof(float));
    s->row_pos = malloc(R * sizeof(int));
    s->row_stream = malloc(R * sizeof(int));
    s->wte_t = lac_model_wte_t(m);
    if (!s->kv || !s->x || !s->a || !s->qkv || !s->att || !s->h || !s->s || !s->row_pos ||
        !s->row_stream || !s->wte_t) {
        scalar_destroy(s);
        return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (scalar: %zu MiB of KV cache)",
                        kv * sizeof(float) >> 20);
    }
    *out = s;
    *name = "cpu-scalar";
    return LAC_OK;
}

static lac_status scalar_forward(void *st, const int32_t *const *tokens, const int *counts,
                                 const int *positions, float *const *logits, lac_error *err) {
    (void)err;
    scalar_state *s = st;
    const lac_model *m = s->m;
    const lac_model_config *c = &m->cfg;
    const int C = (int)c->n_embd, H = (int)c->n_head, hd = C / H, NI = (int)c->n_inner;
    const int V = (int)c->vocab_size, NCTX = (int)c->n_ctx;
    const float scale = 1.0f / sqrtf((float)hd);

    /* gather the rows of all streams */
    int R = 0;
    for (int b = 0; b < s->n_streams; b++)
        for (int i = 0; i < counts[b]; i++) {
            const int pos = positions[b] + i;
            float *x = s->x + (size_t)R * C;
            const float *te = m->wte + (size_t)tokens[b][i] * C;
            const float *pe = m->wpe + (size_t)pos * C;
            for (int k = 0; k < C; k++) x[k] = te[k] + pe[k];
            s->row_pos[R] = pos;
            s->row_stream[R] = b;
            R++;
        }

    for (int l = 0; l < (int)c->n_layer; l++) {
        const lac_layer_weights *w = &m->layers[l];
        for (int r = 0; r < R; r++) {
            float *x = s->x + (size_t)r * C, *a = s->a + (size_t)r * C;
            float *qkv = s->qkv + (size_t)r * 3 * C;
            layernorm(x, w->ln1_w, w->ln1_b, C, c->ln_eps, a);
            linear(a, w->attn_w, w->attn_b, C, 3 * C, qkv);
            /* store k and v in the stream's cache */
            float *kc = s->kv + (((size_t)l * s->n_streams + s->row_stream[r]) * 2) * NCTX * C;
            float *vc = kc + (size_t)NCTX * C;
            memcpy(kc + (size_t)s->row_pos[r] * C, qkv + C, (size_t)C * sizeof(float));
            memcpy(vc + (size_t)s->row_pos[r] * C, qkv + 2 * C, (size_t)C * sizeof(float));
        }
        for (int r = 0; r < R; r++) {
            const float *qkv = s->qkv + (size_t)r * 3 * C;
            const float *kc =
                s->kv + (((size_t)l * s->n_streams + s->row_stream[r]) * 2) * NCTX * C;
            const float *vc = kc + (size_t)NCTX * C;
            const int t = s->row_pos[r];
            for (int hh = 0; hh < H; hh++) {
                const float *q = qkv + hh * hd;
                float mx = -INFINITY;
                for (int j = 0; j <= t; j++) {
                    const float *kj = kc + (size_t)j * C + hh * hd;
                    float acc = 0.0f;
                    for (int d = 0; d < hd; d++) acc = fmaf(q[d], kj[d], acc);
                    s->s[j] = acc * scale;
                    if (s->s[j] > mx) mx = s->s[j];
                }
                for (int j = 0; j <= t; j++) s->s[j] = lac_expf(s->s[j] - mx);
                const float S = lac_r32_sum(s->s, t + 1);
                float *o = s->att + (size_t)r * C + hh * hd;
                /* o[d] = chain_j(e[j], v_j[d]) / S, j outside (each o[d] its own chain) */
                for (int d = 0; d < hd; d++) o[d] = 0.0f;
                for (int j = 0; j <= t; j++) {
                    const float *vj = vc + (size_t)j * C + hh * hd;
                    for (int d = 0; d < hd; d++) o[d] = fmaf(s->s[j], vj[d], o[d]);
                }
                for (int d = 0; d < hd; d++) o[d] = o[d] / S;
            }
        }
        for (int r = 0; r < R; r++) {
            float *x = s->x + (size_t)r * C, *a = s->a + (size_t)r * C;
            float *h = s->h + (size_t)r * NI;
            linear(s->att + (size_t)r * C, w->proj_w, w->proj_b, C, C, a);
            for (int k = 0; k < C; k++) x[k] = x[k] + a[k];
            layernorm(x, w->ln2_w, w->ln2_b, C, c->ln_eps, a);
            linear(a, w->fc_w, w->fc_b, C, NI, h);
            for (int k = 0; k < NI; k++) h[k] = lac_gelu(h[k]);
            linear(h, w->fcproj_w, w->fcproj_b, NI, C, a);
            for (int k = 0; k < C; k++) x[k] = x[k] + a[k];
        }
    }
    int r = 0;
    for (int b = 0; b < s->n_streams; b++)
        for (int i = 0; i < counts[b]; i++, r++) {
            float *a = s->a + (size_t)r * C;
            layernorm(s->x + (size_t)r * C, m->lnf_w, m->lnf_b, C, c->ln_eps, a);
            linear(a, s->wte_t, NULL, C, V, logits[b] + (size_t)i * V);
        }
    return LAC_OK;
}

const lac_backend_ops lac_backend_cpu_scalar = {
    .kind = "cpu-scalar",
    .create = scalar_create,
    .destroy = scalar_destroy,
    .forward = scalar_forward,
    .forward_code = NULL,
    .forward_freqs = NULL,
};
