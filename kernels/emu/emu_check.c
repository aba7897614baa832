/* emu_check.c — runs lac_backend_cuda (the kernels built for host emulation)
 * against lac_backend_cpu_scalar on small random models and compares with memcmp: logits of
 * prefill, single steps and uneven mixed calls with several streams, and forward_code /
 * forward_freqs against the scalar logits + lac_quantize_freqs. Exit status 0 = all equal.
 * Built and run by kernels/emu/check.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "lac.h"
#include "model.h"

static uint64_t rng = 12345;
static double unit(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) * 0x1.0p-53;
}
static float gauss(float sd) {
    const double u = unit() + 1e-300, v = unit();
    return (float)(sd * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}
static float *arr(size_t n, float mean, float sd) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = mean + gauss(sd);
    return p;
}

static struct lac_model *make_model(uint32_t L, uint32_t H, uint32_t C, uint32_t ctx,
                                    uint32_t V) {
    struct lac_model *m = calloc(1, sizeof *m);
    m->cfg.n_layer = L;
    m->cfg.n_head = H;
    m->cfg.n_embd = C;
    m->cfg.n_ctx = ctx;
    m->cfg.vocab_size = V;
    m->cfg.n_inner = 4 * C;
    m->cfg.ln_eps = 1e-5f;
    m->cfg.eot_token = V - 1;
    const uint32_t NI = 4 * C;
    float *wte = arr((size_t)V * C, 0, 0.3f), *wte_t = malloc((size_t)V * C * sizeof(float));
    for (uint32_t v = 0; v < V; v++)
        for (uint32_t k = 0; k < C; k++) wte_t[(size_t)k * V + v] = wte[(size_t)v * C + k];
    m->wte = wte;
    m->wte_t = wte_t;
    m->wpe = arr((size_t)ctx * C, 0, 0.1f);
    m->layers = calloc(L, sizeof *m->layers);
    for (uint32_t l = 0; l < L; l++) {
        lac_layer_weights *w = &m->layers[l];
        w->ln1_w = arr(C, 1, 0.1f);
        w->ln1_b = arr(C, 0, 0.1f);
        w->attn_w = arr((size_t)C * 3 * C, 0, 0.25f); /* large: peaky attention */
        w->attn_b = arr(3 * C, 0, 0.1f);
        w->proj_w = arr((size_t)C * C, 0, 0.05f);
        w->proj_b = arr(C, 0, 0.02f);
        w->ln2_w = arr(C, 1, 0.1f);
        w->ln2_b = arr(C, 0, 0.1f);
        w->fc_w = arr((size_t)C * NI, 0, 0.1f);
        w->fc_b = arr(NI, 0, 0.1f);
        w->fcproj_w = arr((size_t)NI * C, 0, 0.05f);
        w->fcproj_b = arr(C, 0, 0.02f);
    }
    m->lnf_w = arr(C, 1, 0.1f);
    m->lnf_b = arr(C, 0, 0.1f);
    return m;
}

static int32_t tok_of(int b, int i, uint32_t V) {
    return (int32_t)(((uint64_t)i * 7919u + (uint64_t)b * 104729u + 17u) % V);
}

/* Runs a schedule (ncalls x B counts) on one backend; returns [B][T][V] logits. */
static float *run(const lac_backend_ops *ops, const struct lac_model *m, int B, const int *calls,
                  int ncalls, int T) {
    const uint32_t V = m->cfg.vocab_size;
    lac_engine_options opt = {.device = LAC_DEVICE_CUDA, .n_streams = B,
                              .max_rows = B * (int)m->cfg.n_ctx};
    void *st = NULL;
    const char *name = NULL;
    lac_error err = {0};
    if (ops->create(m, &opt, &st, &name, &err) != LAC_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        exit(2);
    }
    float *out = malloc((size_t)B * T * V * sizeof(float));
    int done[16] = {0};
    for (int c = 0; c < ncalls; c++) {
        int32_t *toks[16];
        const int32_t *ct[16];
        float *lg[16];
        for (int b = 0; b < B; b++) {
            const int n = calls[c * B + b];
            toks[b] = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
            for (int i = 0; i < n; i++) toks[b][i] = tok_of(b, done[b] + i, V);
            ct[b] = toks[b];
            lg[b] = out + ((size_t)b * T + done[b]) * V;
        }
        if (ops->forward(st, ct, calls + c * B, done, lg, &err) != LAC_OK) {
            fprintf(stderr, "forward: %s\n", err.msg);
            exit(2);
        }
        for (int b = 0; b < B; b++) {
            done[b] += calls[c * B + b];
            free(toks[b]);
        }
    }
    ops->destroy(st);
    return out;
}

static int failures = 0;
static void same(const float *a, const float *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, 4) != 0) {
            printf("FAIL %s: logit %zu: %.9g vs %.9g\n", what, i, (double)a[i], (double)b[i]);
            failures++;
            return;
        }
    printf("ok   %s (%zu logits)\n", what, n);
}

static void check_fused(const struct lac_model *m, int B, int T, const float *ref,
                        const lac_coder_params *p) {
    const uint32_t V = m->cfg.vocab_size;
    lac_engine_options opt = {.device = LAC_DEVICE_CUDA, .n_streams = B, .max_rows = B * T};
    void *s1 = NULL, *s2 = NULL;
    const char *name;
    lac_error err = {0};
    lac_backend_cuda.create(m, &opt, &s1, &name, &err);
    lac_backend_cuda.create(m, &opt, &s2, &name, &err);
    int counts[16], pos[16] = {0};
    const int32_t *tp[16], *gp[16];
    uint32_t *cp[16], *fp[16], *rp[16];
    int32_t *toks = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
    uint32_t *cum = malloc((size_t)B * T * 4), *fr = malloc((size_t)B * T * 4);
    uint32_t *rows = malloc((size_t)B * T * V * 4), *want = malloc(V * 4);
    for (int b = 0; b < B; b++) {
        counts[b] = T;
        for (int i = 0; i < T; i++) {
            toks[b * T + i] = tok_of(b, i, V);
            tg[b * T + i] = tok_of(b + 5, i * 3, V);
        }
        tp[b] = toks + b * T;
        gp[b] = tg + b * T;
        cp[b] = cum + b * T;
        fp[b] = fr + b * T;
        rp[b] = rows + (size_t)b * T * V;
    }
    if (lac_backend_cuda.forward_code(s1, tp, counts, pos, gp, p, cp, fp, &err) != LAC_OK ||
        lac_backend_cuda.forward_freqs(s2, tp, counts, pos, p, rp, &err) != LAC_OK) {
        printf("FAIL fused: %s\n", err.msg);
        failures++;
        return;
    }
    int bad_code = 0, bad_rows = 0;
    for (int r = 0; r < B * T; r++) {
        lac_quantize_freqs(p, ref + (size_t)r * V, V, want);
        uint32_t c = 0;
        for (int i = 0; i < tg[r]; i++) c += want[i];
        bad_code += cum[r] != c || fr[r] != want[tg[r]];
        bad_rows += memcmp(rows + (size_t)r * V, want, V * 4) != 0;
    }
    printf("%s fused P=%u s=%u T=%g: forward_code %d/%d rows differ, forward_freqs %d/%d\n",
           bad_code || bad_rows ? "FAIL" : "ok  ", p->precision, p->frac_bits,
           (double)p->temperature, bad_code, B * T, bad_rows, B * T);
    failures += bad_code || bad_rows;
    lac_backend_cuda.destroy(s1);
    lac_backend_cuda.destroy(s2);
    free(toks);
    free(tg);
    free(cum);
    free(fr);
    free(rows);
    free(want);
}

/* forward_decode, one token per stream per call (stream 1 skips every third step, so calls mix
 * streams with and without a token), against the reference rows + lac_freqs_find. */
static void check_decode(const struct lac_model *m, int B, int T, const float *ref,
                         const lac_coder_params *p) {
    const uint32_t V = m->cfg.vocab_size;
    lac_engine_options opt = {.device = LAC_DEVICE_CUDA, .n_streams = B, .max_rows = B};
    void *st = NULL;
    const char *name;
    lac_error err = {0};
    if (lac_backend_cuda.create(m, &opt, &st, &name, &err) != LAC_OK) {
        printf("FAIL decode create: %s\n", err.msg);
        failures++;
        return;
    }
    int pos[16] = {0}, counts[16];
    int32_t tok[16], sym[16];
    const int32_t *tp[16];
    uint32_t tg[16], cum[16], fr[16], *row = malloc(V * 4);
    int bad = 0, n = 0;
    for (int step = 0; step < 2 * T; step++) {
        int any = 0;
        for (int b = 0; b < B; b++) {
            counts[b] = pos[b] < T && !(b == 1 && step % 3 == 2);
            any |= counts[b];
            tok[b] = tok_of(b, pos[b], V);
            tp[b] = &tok[b];
            /* targets spread over [0, 2^P), also the ends */
            tg[b] = step % 5 == 0 ? 0 : step % 5 == 1 ? (1u << p->precision) - 1
                                   : (uint32_t)(unit() * (double)(1u << p->precision));
            sym[b] = -1;
        }
        if (!any) break;
        if (lac_backend_cuda.forward_decode(st, tp, counts, pos, p, tg, sym, cum, fr, &err) !=
            LAC_OK) {
            printf("FAIL decode: %s\n", err.msg);
            failures++;
            break;
        }
        for (int b = 0; b < B; b++) {
            if (!counts[b]) continue;
            lac_quantize_freqs(p, ref + ((size_t)b * T + pos[b]) * V, V, row);
            uint32_t c, f;
            const int32_t v = (int32_t)lac_freqs_find(row, V, tg[b], &c, &f);
            bad += sym[b] != v || cum[b] != c || fr[b] != f || !(c <= tg[b] && tg[b] - c < f);
            n++;
            pos[b]++;
        }
    }
    printf("%s decode P=%u: %d/%d symbols differ\n", bad ? "FAIL" : "ok  ", p->precision, bad, n);
    failures += bad != 0;
    free(row);
    lac_backend_cuda.destroy(st);
}

static void check_model(uint32_t L, uint32_t H, uint32_t C, uint32_t ctx, uint32_t V, int B) {
    struct lac_model *m = make_model(L, H, C, ctx, V);
    const int T = (int)ctx;
    printf("model L=%u H=%u C=%u n_ctx=%u V=%u, B=%d\n", L, H, C, ctx, V, B);
    int prefill[16], mixed[3 * 16], *steps = malloc((size_t)T * B * sizeof(int));
    for (int b = 0; b < B; b++) {
        prefill[b] = T;
        mixed[b] = (b % 2) ? 0 : T / 3;
        mixed[B + b] = (b % 2) ? T / 2 : 1;
        mixed[2 * B + b] = T - mixed[b] - mixed[B + b];
    }
    for (int i = 0; i < T * B; i++) steps[i] = 1;
    const size_t n = (size_t)B * T * V;
    float *ref = run(&lac_backend_cpu_scalar, m, B, prefill, 1, T);
    float *g = run(&lac_backend_cuda, m, B, prefill, 1, T);
    same(g, ref, n, "prefill");
    free(g);
    g = run(&lac_backend_cuda, m, B, mixed, 3, T);
    same(g, ref, n, "mixed calls");
    free(g);
    g = run(&lac_backend_cuda, m, B, steps, T, T);
    same(g, ref, n, "single steps");
    free(g);
    lac_coder_params p = {30, 12, 1.0f}, q = {28, 9, 0.6f};
    check_fused(m, B, T, ref, &p);
    check_fused(m, B, T, ref, &q);
    check_decode(m, B, T, ref, &p);
    check_decode(m, B, T, ref, &q);
    free(ref);
    free(steps);
}

/* A real model file (e.g. models/lac-tiny.lacm: head size 64, V = 50257), few tokens. */
static void check_file(const char *path, int T) {
    lac_model *m = NULL;
    lac_error err = {0};
    if (lac_model_open(path, &m, &err) != LAC_OK) {
        printf("FAIL %s\n", err.msg);
        failures++;
        return;
    }
    const int B = 2;
    const uint32_t V = m->cfg.vocab_size;
    printf("model %s: T=%d, B=%d\n", path, T, B);
    int prefill[2] = {T, T}, chunks[4] = {T / 2, 1, T - T / 2, T - 1};
    float *ref = run(&lac_backend_cpu_scalar, m, B, prefill, 1, T);
    float *g = run(&lac_backend_cuda, m, B, prefill, 1, T);
    same(g, ref, (size_t)B * T * V, "prefill");
    free(g);
    g = run(&lac_backend_cuda, m, B, chunks, 2, T);
    same(g, ref, (size_t)B * T * V, "two calls");
    free(g);
    lac_coder_params p = {30, 12, 1.0f};
    check_fused(m, B, T, ref, &p);
    check_decode(m, B, T, ref, &p);
    free(ref);
    lac_model_close(m);
}

int main(int argc, char **argv) {
    if (argc > 1) { /* emu_check MODEL [T] */
        check_file(argv[1], argc > 2 ? atoi(argv[2]) : 6);
        printf(failures ? "EMULATION CHECK FAILED (%d)\n" : "emulation check: all equal\n",
               failures);
        return failures ? 1 : 0;
    }
    check_model(2, 4, 64, 24, 300, 3);  /* hd 16; prefill R = 72 > 64: the 128-row tiles */
    check_model(1, 3, 96, 20, 509, 2);  /* hd 32, K = 96, 384 */
    check_model(1, 2, 40, 13, 257, 1);  /* hd 20, K = 40 and 160: partial k-tiles */
    printf(failures ? "EMULATION CHECK FAILED (%d)\n" : "emulation check: all equal\n",
           failures);
    return failures ? 1 : 0;
}
