/* bench_engine MODEL [--device DEV (lacgpu's names)] [--threads N] [--prefill T]
 *              [--steps S] [--streams B] [--reps R]
 * Engine throughput: prefill (one stream, T tokens in one call) and decoding steps
 * (B streams, one token each per call, after a short prefill), in tokens per second.
 * One line per measurement: "model device threads mode B tokens seconds tok/s". */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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

static long num(const char *opt, const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0) {
        fprintf(stderr, "bench_engine: %s: bad number '%s'\n", opt, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    lac_engine_options dev = {.device = LAC_DEVICE_CPU};
    long threads = 0, T = 256, S = 16, B = 1, reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            path = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_engine: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--device")) {
            lac_error perr; /* lacgpu's names, device lists included (cuda:all) */
            if (lac_device_parse(v, &dev, &perr) != LAC_OK) {
                fprintf(stderr, "bench_engine: --device: %s\n", perr.msg);
                return 2;
            }
        } else if (!strcmp(a, "--threads")) threads = num(a, v);
        else if (!strcmp(a, "--prefill")) T = num(a, v);
        else if (!strcmp(a, "--steps")) S = num(a, v);
        else if (!strcmp(a, "--streams")) B = num(a, v);
        else if (!strcmp(a, "--reps")) reps = num(a, v);
        else {
            fprintf(stderr, "bench_engine: unknown option %s\n", a);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: bench_engine MODEL [--device D] [--threads N] [--prefill T] "
                        "[--steps S] [--streams B] [--reps R]\n");
        return 2;
    }
    if (B < 1) B = 1;
    if (reps < 1) reps = 1;
    lac_error err = {0};
    lac_model *m;
    if (lac_model_open(path, &m, &err) != LAC_OK) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        return 1;
    }
    const lac_model_config *c = lac_model_get_config(m);
    if (T < 1 || T + S > (long)c->n_ctx) {
        fprintf(stderr, "bench_engine: --prefill + --steps must be in 1..n_ctx (%u)\n", c->n_ctx);
        return 2;
    }
    const size_t V = c->vocab_size;
    const long rows = T > B ? T : B;
    lac_engine_options o = dev;
    o.n_threads = (int)threads;
    o.n_streams = (int)B;
    o.max_rows = (int)rows;
    lac_engine *e;
    if (lac_engine_create(m, &o, &e, &err) != LAC_OK) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        lac_model_close(m);
        return 1;
    }
    int32_t *tok = malloc((size_t)(T + S) * sizeof *tok);
    float *lg = malloc((size_t)rows * V * sizeof(float));
    const int32_t **tp = calloc((size_t)B, sizeof *tp);
    float **lp = calloc((size_t)B, sizeof *lp);
    int *cnt = calloc((size_t)B, sizeof *cnt);
    if (!tok || !lg || !tp || !lp || !cnt) {
        fprintf(stderr, "bench_engine: out of memory\n");
        return 1;
    }
    for (long i = 0; i < T + S; i++) tok[i] = (int32_t)((i * 7919 + 13) % (long)V);
    const char *name = lac_engine_device_name(e);
    int rc = 0;
    double best_p = 1e30, best_s = 1e30;
    for (long r = 0; r < reps && rc == 0; r++) {
        /* prefill: stream 0 only */
        for (long b = 0; b < B; b++) {
            lac_engine_reset(e, (int)b);
            tp[b] = tok;
            lp[b] = lg;
            cnt[b] = 0;
        }
        cnt[0] = (int)T;
        double t0 = now();
        if (lac_engine_forward(e, tp, cnt, lp, &err) != LAC_OK) rc = 1;
        double t1 = now();
        if (t1 - t0 < best_p) best_p = t1 - t0;
        /* the other streams get the same prefill (not timed), then S steps of B tokens */
        for (long b = 1; b < B && rc == 0; b++) {
            for (long k = 0; k < B; k++) cnt[k] = k == b ? (int)T : 0;
            if (lac_engine_forward(e, tp, cnt, lp, &err) != LAC_OK) rc = 1;
        }
        for (long b = 0; b < B; b++) {
            cnt[b] = 1;
            lp[b] = lg + (size_t)b * V;
        }
        t0 = now();
        for (long s = 0; s < S && rc == 0; s++) {
            for (long b = 0; b < B; b++) tp[b] = tok + T + s;
            if (lac_engine_forward(e, tp, cnt, lp, &err) != LAC_OK) rc = 1;
        }
        t1 = now();
        if (t1 - t0 < best_s) best_s = t1 - t0;
    }
    if (rc) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
    } else {
        printf("%s\t%s\t%ld\tprefill\t1\t%ld\t%.4f\t%.1f\n", c->name, name, threads, T, best_p,
               (double)T / best_p);
        if (S > 0)
            printf("%s\t%s\t%ld\tstep\t%ld\t%ld\t%.4f\t%.1f\n", c->name, name, threads, B, S * B,
                   best_s, (double)(S * B) / best_s);
    }
    free(tok);
    free(lg);
    free(tp);
    free(lp);
    free(cnt);
    lac_engine_free(e);
    lac_model_close(m);
    return rc;
}
