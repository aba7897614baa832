/* The multi-device backend: one engine per device, the streams cut into contiguous shares,
 * every share's forward call run at the same time on its own host thread. Each stream's rows
 * depend only on its own tokens and positions (docs/NUMERICS.md), so the bits are those of one
 * device whatever the split. The sub-engines are whole lac_engines: each chunks its share by
 * its own max_rows and uses its backend's fused paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "lac_error.h"

typedef struct multi_state {
    int n;                          /* sub-engines */
    lac_engine *sub[LAC_MAX_DEVICES];
    int lo[LAC_MAX_DEVICES + 1];    /* sub i owns streams [lo[i], lo[i+1]) */
    lac_error errs[LAC_MAX_DEVICES];
    char name[256];
} multi_state;

static void multi_destroy(void *state) {
    multi_state *s = state;
    if (!s) return;
    for (int i = 0; i < s->n; i++) lac_engine_free(s->sub[i]);
    free(s);
}

/* "2 devices: cuda:0 ... + cuda:1 ..." */
static void make_name(multi_state *s) {
    int k = snprintf(s->name, sizeof s->name, "%d devices: ", s->n);
    for (int i = 0; i < s->n && k > 0 && (size_t)k < sizeof s->name; i++)
        k += snprintf(s->name + k, sizeof s->name - (size_t)k, "%s%s", i ? " + " : "",
                      lac_engine_device_name(s->sub[i]));
}

static lac_status multi_create(const lac_model *m, const lac_engine_options *opt, void **state,
                               const char **name, lac_error *err) {
    multi_state *s = calloc(1, sizeof *s);
    if (!s) return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory");
    const int B = opt->n_streams;
    s->n = opt->n_devices < B ? opt->n_devices : B; /* no device without a stream */
    lac_status st = LAC_OK;
    for (int i = 0; i < s->n && !st; i++) {
        lac_engine_options o = *opt;
        o.n_devices = 0;
        if (o.device == LAC_DEVICE_CUDA) o.cuda_index = opt->devices[i];
        s->lo[i] = (int)((long)B * i / s->n);
        s->lo[i + 1] = (int)((long)B * (i + 1) / s->n);
        o.n_streams = s->lo[i + 1] - s->lo[i];
        o.max_rows = (opt->max_rows + s->n - 1) / s->n;
        st = lac_engine_create(m, &o, &s->sub[i], err);
    }
    if (st) {
        multi_destroy(s);
        return st;
    }
    make_name(s);
    *state = s;
    *name = s->name;
    return LAC_OK;
}

/* One call of every share that has rows, at the same time; the first failure is reported. */
typedef lac_status (*share_fn)(multi_state *s, int i, const void *args, lac_error *err);

static lac_status run_shares(multi_state *s, const int *counts, const int *positions,
                             share_fn fn, const void *args, lac_error *err) {
    int busy[LAC_MAX_DEVICES], nb = 0;
    for (int i = 0; i < s->n; i++) {
        int rows = 0;
        for (int b = s->lo[i]; b < s->lo[i + 1]; b++) {
            rows += counts[b];
            lac_engine_set_position(s->sub[i], b - s->lo[i], positions[b]);
        }
        if (rows) busy[nb++] = i;
    }
    lac_status st[LAC_MAX_DEVICES];
#pragma omp parallel for schedule(static, 1) num_threads(nb > 1 ? nb : 1) if (nb > 1)
    for (int j = 0; j < nb; j++) st[j] = fn(s, busy[j], args, &s->errs[busy[j]]);
    for (int j = 0; j < nb; j++)
        if (st[j]) {
            if (err) *err = s->errs[busy[j]];
            return st[j];
        }
    return LAC_OK;
}

typedef struct call_args {
    const int32_t *const *tokens;
    const int *counts;
    float *const *logits;
    const int32_t *const *targets;
    const lac_coder_params *p;
    uint32_t *const *cum, *const *freq, *const *freqs;
    const uint32_t *dtargets;
    int32_t *sym;
    uint32_t *dcum, *dfreq;
} call_args;

static lac_status share_forward(multi_state *s, int i, const void *v, lac_error *err) {
    const call_args *a = v;
    const int o = s->lo[i];
    return lac_engine_forward(s->sub[i], a->tokens + o, a->counts + o, a->logits + o, err);
}

static lac_status share_code(multi_state *s, int i, const void *v, lac_error *err) {
    const call_args *a = v;
    const int o = s->lo[i];
    return lac_engine_forward_code(s->sub[i], a->tokens + o, a->counts + o, a->targets + o, a->p,
                                   a->cum + o, a->freq + o, err);
}

static lac_status share_freqs(multi_state *s, int i, const void *v, lac_error *err) {
    const call_args *a = v;
    const int o = s->lo[i];
    return lac_engine_forward_freqs(s->sub[i], a->tokens + o, a->counts + o, a->p, a->freqs + o,
                                    err);
}

static lac_status share_decode(multi_state *s, int i, const void *v, lac_error *err) {
    const call_args *a = v;
    const int o = s->lo[i];
    return lac_engine_forward_decode(s->sub[i], a->tokens + o, a->counts + o, a->p,
                                     a->dtargets + o, a->sym + o, a->dcum + o, a->dfreq + o, err);
}

static lac_status multi_forward(void *state, const int32_t *const *tokens, const int *counts,
                                const int *positions, float *const *logits, lac_error *err) {
    call_args a = {.tokens = tokens, .counts = counts, .logits = logits};
    return run_shares(state, counts, positions, share_forward, &a, err);
}

static lac_status multi_code(void *state, const int32_t *const *tokens, const int *counts,
                             const int *positions, const int32_t *const *targets,
                             const lac_coder_params *p, uint32_t *const *cum,
                             uint32_t *const *freq, lac_error *err) {
    call_args a = {.tokens = tokens, .counts = counts, .targets = targets, .p = p, .cum = cum,
                   .freq = freq};
    return run_shares(state, counts, positions, share_code, &a, err);
}

static lac_status multi_freqs(void *state, const int32_t *const *tokens, const int *counts,
                              const int *positions, const lac_coder_params *p,
                              uint32_t *const *freqs, lac_error *err) {
    call_args a = {.tokens = tokens, .counts = counts, .p = p, .freqs = freqs};
    return run_shares(state, counts, positions, share_freqs, &a, err);
}

static lac_status multi_decode(void *state, const int32_t *const *tokens, const int *counts,
                               const int *positions, const lac_coder_params *p,
                               const uint32_t *targets, int32_t *sym, uint32_t *cum,
                               uint32_t *freq, lac_error *err) {
    call_args a = {.tokens = tokens, .counts = counts, .p = p, .dtargets = targets, .sym = sym,
                   .dcum = cum, .dfreq = freq};
    return run_shares(state, counts, positions, share_decode, &a, err);
}

int lac_multi_devices(const void *state) { return ((const multi_state *)state)->n; }

const lac_engine *lac_multi_sub(const void *state, int i) {
    const multi_state *s = state;
    return i >= 0 && i < s->n ? s->sub[i] : NULL;
}

const lac_backend_ops lac_backend_multi = {
    "multi", multi_create, multi_destroy, multi_forward, multi_code, multi_freqs, multi_decode,
};
