/* roofline [--quick] [--threads "1 2"] [--model NAME=PATH]... [--streams "1 8 32 64"]
 * The machine's limits and what the engine reaches, in one run:
 *  - fp32 FMA peak per ISA (AVX-512 when the CPU has it, AVX2+FMA, scalar fmaf): a
 *    register-only kernel, 12 independent chains per thread, on T threads;
 *  - memory bandwidth: a STREAM-style triad a[i] = b[i] + s * c[i] over 3 x 128 MiB
 *    (bytes counted as STREAM does: 12 per element);
 *  - the engine (fast CPU backend): prefill of one stream (T = 256 tokens) and lock-step
 *    decoding steps of B streams after a 64-token prefill, as GFLOP/s (2 flops per multiply-add
 *    of the matmuls, the LM head and attention) and as fractions of the peak of the engine's
 *    ISA measured again right after that line (a VM's host lends and takes back cycles within
 *    minutes: a peak from the start of the run made fractions of up to 1.01); for B = 1 also
 *    the bandwidth bound: bytes of weights one step reads (at the width the engine reads them)
 *    over the bandwidth of a triad of the same bytes measured right after (the caches', where
 *    they hold the weights), and the fraction of that bound reached; the memory's triad too.
 *  - long-context decoding (step-ctx): lock-step steps of B streams (the largest B asked, at
 *    most 32) at 3/4 of the context, where each step also reads every stream's cached keys
 *    and values: the bytes a step reads (weights + KV) per second, as a fraction of the
 *    memory's triad (no cache holds B streams' KV), and the GFLOP/s as a fraction of the peak.
 * Tab-separated lines: "kind name threads B value unit fraction note". */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lac.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define ITERS 20000000L
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static float peak_avx512(long n) {
    __m512 a[12], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < n; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], x, y);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx2,fma"))) static float peak_avx2(long n) {
    __m256 a[12], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < n; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], x, y);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[7];
}
__attribute__((target("fma"))) static float peak_scalar(long n) {
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    for (long k = 0; k < n; k++)
        for (int i = 0; i < 12; i++) a[i] = fmaf(a[i], 0.999999f, 1e-7f);
    float s = 0;
    for (int i = 0; i < 12; i++) s += a[i];
    return s;
}
#endif

static volatile float sink;

/* GFLOP/s (2 per FMA lane) of kernel `isa` on T threads */
static double peak(const char *isa, int T, long iters) {
    int lanes = 1;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
#pragma omp parallel num_threads(T)
        {
            float r = 0;
#if defined(__x86_64__)
            if (!strcmp(isa, "avx512")) r = peak_avx512(iters), lanes = 16;
            else if (!strcmp(isa, "avx2")) r = peak_avx2(iters), lanes = 8;
            else r = peak_scalar(iters), lanes = 1;
#endif
            sink = r;
        }
        double g = 2.0 * 12 * lanes * (double)iters * T / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    return best;
}

static double triad(int T, size_t n) {
    float *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4);
    if (!a || !b || !c) return 0;
#pragma omp parallel for num_threads(T) schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = 0, b[i] = 1, c[i] = 2;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        const float s = 3.0f;
        double t0 = now();
#pragma omp parallel for num_threads(T) schedule(static)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        double g = 12.0 * (double)n / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    sink = a[n / 2];
    free(a), free(b), free(c);
    return best;
}

/* flops of one token at position pos */
static double tok_flops(const lac_model_config *c, int pos) {
    const double C = c->n_embd, L = c->n_layer, NI = c->n_inner, V = c->vocab_size;
    return 2.0 * (L * (C * 3 * C + C * C + 2 * C * NI) + C * V) + 4.0 * L * C * (pos + 1);
}

/* weight bytes one step reads */
static double step_bytes(const lac_model_config *c, const char *dev) {
    const double C = c->n_embd, L = c->n_layer, NI = c->n_inner, V = c->vocab_size;
    const double wl = strstr(dev, "f16layers") ? 2 : 4, wh = strstr(dev, "f16head") ? 2 : 4;
    return L * (C * 3 * C + C * C + 2 * C * NI) * wl + C * V * wh;
}

/* The ISA of the engine's kernels, from its name ("cpu-avx512+packed (2 threads)") */
static const char *engine_isa(const char *dev) {
    return strstr(dev, "avx512") ? "avx512" : strstr(dev, "avx2") ? "avx2" : "scalar";
}

/* A CPU engine of B streams on T threads (NULL after a message) and its call tables */
typedef struct call_tables {
    const int32_t **tp;
    float **lp;
    int *cnt;
} call_tables;

static lac_engine *open_engine(const lac_model *m, int T, int B, int max_rows, call_tables *ct) {
    lac_error err;
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = T, .n_streams = B,
                            .max_rows = max_rows};
    lac_engine *e;
    if (lac_engine_create(m, &o, &e, &err)) {
        fprintf(stderr, "roofline: %s\n", err.msg);
        return NULL;
    }
    ct->tp = calloc((size_t)B, sizeof *ct->tp);
    ct->lp = calloc((size_t)B, sizeof *ct->lp);
    ct->cnt = calloc((size_t)B, sizeof *ct->cnt);
    if (ct->tp && ct->lp && ct->cnt) return e;
    fprintf(stderr, "roofline: out of memory\n");
    lac_engine_free(e);
    return NULL;
}

static void close_engine(lac_engine *e, call_tables *ct) {
    free(ct->tp), free(ct->lp), free(ct->cnt);
    lac_engine_free(e);
}

/* Seconds a step of the best of `reps` runs of S lock-step steps (one token per stream, logits
 * of stream b at lg + b * V), run r's steps taking ids[first + r * S ...]; < 0 on failure.
 * The best run: a VM's neighbours take a core at times. */
static double best_steps(lac_engine *e, call_tables *ct, int B, size_t V, float *lg,
                         const int32_t *ids, int first, int S, int reps) {
    lac_error err;
    for (int b = 0; b < B; b++) ct->cnt[b] = 1, ct->lp[b] = lg + (size_t)b * V;
    double t = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int st = 0; st < S; st++) {
            for (int b = 0; b < B; b++) ct->tp[b] = ids + first + r * S + st;
            if (lac_engine_forward(e, ct->tp, ct->cnt, ct->lp, &err)) {
                fprintf(stderr, "roofline: %s\n", err.msg);
                return -1;
            }
        }
        const double ts = (now() - t0) / S;
        if (ts < t) t = ts;
    }
    return t;
}

/* bytes of keys and values one step reads for a stream at position pos (fp32, pos + 1 cached
 * positions in every layer) */
static double kv_step_bytes(const lac_model_config *c, int pos) {
    return 2.0 * c->n_layer * c->n_embd * 4.0 * (pos + 1);
}

/* step-ctx: B streams prefilled (untimed) to P = 3/4 n_ctx, then the best of 3 runs of S steps */
static int step_ctx(const char *name, const lac_model *m, int T, int B, long iters, float *lg,
                    const int32_t *tok, int ntok) {
    const lac_model_config *c = lac_model_get_config(m);
    const size_t V = c->vocab_size;
    const int P = (int)(c->n_ctx * 3 / 4), S = 4, chunk = 256;
    lac_error err;
    call_tables ct;
    lac_engine *e = open_engine(m, T, B, chunk > B ? chunk : B, &ct);
    int32_t *ids = malloc((size_t)(P + 3 * S) * sizeof *ids);
    if (!e || !ids) return 1;
    const char *dev = lac_engine_device_name(e);
    for (int i = 0; i < P + 3 * S; i++) ids[i] = tok[i % ntok];
    for (int b = 0; b < B; b++) /* each stream: P tokens in calls of `chunk`, untimed */
        for (int at = 0; at < P; at += chunk) {
            for (int k = 0; k < B; k++) ct.cnt[k] = k == b ? (P - at < chunk ? P - at : chunk) : 0;
            ct.tp[b] = ids + at, ct.lp[b] = lg;
            if (lac_engine_forward(e, ct.tp, ct.cnt, ct.lp, &err)) return 1;
        }
    const double t = best_steps(e, &ct, B, V, lg, ids, P, S, 3);
    if (t < 0) return 1;
    const int pos = P + S + S / 2; /* the middle run's middle step */
    const double kvb = B * kv_step_bytes(c, pos), wb = step_bytes(c, dev);
    const double bw = triad(T, 32u << 20), pk = peak(engine_isa(dev), T, iters);
    const double fl = B * tok_flops(c, pos);
    printf("step-ctx\t%s\t%d\t%d\t%.2f\tGB/s\t%.3f\t%.1f tok/s at position %d; %.0f MB of KV + "
           "%.0f MB of weights a step over the memory's triad %.1f GB/s; %.1f GFLOP/s, %.3f of "
           "peak %.1f; %s\n", name, T, B, (kvb + wb) / t / 1e9, (kvb + wb) / t / 1e9 / bw, B / t,
           pos, kvb / 1e6, wb / 1e6, bw, fl / t / 1e9, fl / t / 1e9 / pk, pk, dev);
    fflush(stdout);
    free(ids);
    close_engine(e, &ct);
    return 0;
}

static int engine_runs(const char *name, const char *path, int T, const int *Bs, int nB,
                       long iters, int quick) {
    lac_error err;
    lac_model *m;
    if (lac_model_open(path, &m, &err)) {
        fprintf(stderr, "roofline: %s\n", err.msg);
        return 1;
    }
    const lac_model_config *c = lac_model_get_config(m);
    const size_t V = c->vocab_size;
    const int TP = quick ? 32 : 256, T0 = 64, S = quick ? 2 : 8;
    int32_t tok[512];
    for (int i = 0; i < 512; i++) tok[i] = (int32_t)((i * 7919 + 13) % (long)V);
    int maxB = 1;
    for (int i = 0; i < nB; i++) maxB = Bs[i] > maxB ? Bs[i] : maxB;
    const int rows = TP > maxB ? (TP > T0 ? TP : T0) : (maxB > T0 ? maxB : T0);
    float *lg = malloc((size_t)rows * V * sizeof(float));
    for (int bi = -1; bi < nB; bi++) {
        const int B = bi < 0 ? 1 : Bs[bi];
        call_tables ct;
        lac_engine *e = open_engine(m, T, B, TP > B ? TP : B, &ct);
        if (!e) return 1;
        const char *dev = lac_engine_device_name(e);
        const int32_t **tp = ct.tp;
        float **lp = ct.lp;
        int *cnt = ct.cnt;
        if (bi < 0) { /* prefill */
            double best = 1e30;
            for (int rep = 0; rep < (quick ? 1 : 3); rep++) {
                lac_engine_reset(e, 0);
                tp[0] = tok, lp[0] = lg, cnt[0] = TP;
                double t0 = now();
                if (lac_engine_forward(e, tp, cnt, lp, &err)) return 1;
                double t = now() - t0;
                if (t < best) best = t;
            }
            double fl = 0;
            for (int p = 0; p < TP; p++) fl += tok_flops(c, p);
            const double pk = peak(engine_isa(dev), T, iters);
            printf("prefill\t%s\t%d\t1\t%.2f\tGFLOP/s\t%.3f\t%.1f tok/s; %s; peak %.1f\n", name,
                   T, fl / best / 1e9, fl / best / 1e9 / pk, TP / best, dev, pk);
        } else {
            for (int b = 0; b < B; b++) { /* each stream: T0 tokens, untimed */
                for (int k = 0; k < B; k++) cnt[k] = k == b ? T0 : 0;
                tp[b] = tok, lp[b] = lg;
                if (lac_engine_forward(e, tp, cnt, lp, &err)) return 1;
            }
            /* the best of three runs of S steps: positions T0 .. T0 + 3S - 1; the flops of the
             * middle run */
            const double t = best_steps(e, &ct, B, V, lg, tok, T0, S, quick ? 1 : 3);
            if (t < 0) return 1;
            double fl = 0;
            for (int s = 0; s < S; s++) fl += B * tok_flops(c, T0 + S + s);
            fl /= S;
            const double pk = peak(engine_isa(dev), T, iters);
            printf("step\t%s\t%d\t%d\t%.2f\tGFLOP/s\t%.3f\t%.1f tok/s; %s; peak %.1f\n", name, T,
                   B, fl / t / 1e9, fl / t / 1e9 / pk, B / t, dev, pk);
            if (B == 1) {
                /* the bound: the step's bytes over a triad of the same size (three arrays of
                 * step_bytes / 3: where the caches hold the weights, as a 260 MB L3 does, that is
                 * the caches' bandwidth, not the memory's), and the memory's triad for reference */
                const double sb = step_bytes(c, dev);
                const double bw = triad(T, (size_t)(sb / 12));
                const size_t mem_n = quick ? (8u << 20) : (32u << 20); /* floats an array */
                const double bw_mem = triad(T, mem_n);
                const double bound = sb / (bw * 1e9);
                printf("step-bw\t%s\t%d\t1\t%.2f\tGB/s\t%.3f\t%.1f MB/step, bound %.1f tok/s; "
                       "triad %.1f GB/s over %.0f MB (%.1f GB/s over %.0f MB)\n",
                       name, T, sb / t / 1e9, bound / t, sb / 1e6, 1.0 / bound, bw, sb / 1e6, bw_mem,
                       12.0 * (double)mem_n / 1e6);
            }
        }
        fflush(stdout);
        close_engine(e, &ct);
    }
    int Bc = 0; /* step-ctx: the largest B asked, at most 32 (not in a quick run) */
    for (int i = 0; i < nB; i++) Bc = Bs[i] <= 32 && Bs[i] > Bc ? Bs[i] : Bc;
    if (!quick && Bc > 1 && step_ctx(name, m, T, Bc, iters, lg, tok, 512)) return 1;
    free(lg);
    lac_model_close(m);
    return 0;
}

int main(int argc, char **argv) {
    int quick = 0;
    const char *threads = "1 2", *streams = "1 8 32 64";
    const char *models[8];
    int nm = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = argv[++i];
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc) streams = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc && nm < 8) models[nm++] = argv[++i];
        else {
            fprintf(stderr, "usage: roofline [--quick] [--threads LIST] [--streams LIST] "
                            "[--model NAME=PATH]...\n");
            return 2;
        }
    }
    int Bs[16], nB = 0;
    for (const char *p = streams; *p && nB < 16;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        Bs[nB++] = (int)v;
        p = end;
    }
    printf("kind\tname\tthreads\tB\tvalue\tunit\tfraction\tnote\n");
    const long iters = quick ? ITERS / 20 : ITERS;
    for (const char *p = threads; *p;) {
        char *end;
        long T = strtol(p, &end, 10);
        if (end == p) break;
        p = end;
        const char *isas[3] = {"avx512", "avx2", "scalar"};
        for (int i = 0; i < 3; i++) {
#if defined(__x86_64__)
            __builtin_cpu_init();
            if (i == 0 && !__builtin_cpu_supports("avx512f")) continue;
            if (i == 1 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) continue;
#else
            if (i < 2) continue;
#endif
            const double g = peak(isas[i], (int)T, iters);
            printf("peak\t%s\t%ld\t-\t%.2f\tGFLOP/s\t-\tfp32 FMA, register-only\n", isas[i], T, g);
        }
        const double bw = triad((int)T, quick ? (8u << 20) : (32u << 20));
        printf("bandwidth\ttriad\t%ld\t-\t%.2f\tGB/s\t-\tSTREAM triad, 3 x %d MiB\n", T, bw,
               quick ? 32 : 128);
        fflush(stdout);
        for (int mi = 0; mi < nm; mi++) {
            char nb[64];
            const char *eq = strchr(models[mi], '=');
            if (!eq) continue;
            snprintf(nb, sizeof nb, "%.*s", (int)(eq - models[mi]), models[mi]);
            if (engine_runs(nb, eq + 1, (int)T, Bs, nB, iters / 4, quick)) return 1;
        }
    }
    return 0;
}
