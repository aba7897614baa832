/* Format v2 against v1 in one run: the same file compressed by lac_compress (v2: segments,
 * classic codecs, the small framing) and by the v1 writer kept for tests (coder/compress_v1.c),
 * alternately, N times each; prints sizes and median times, and their ratio. Both writers run
 * the same engine, so the ratio is what the v2 framing and choices cost in speed.
 *   bench_format MODEL FILE [N]      (default N = 3) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compress_v1.h"
#include "lac.h"

typedef struct buf {
    unsigned char *p;
    size_t n, cap, pos;
} buf;

static long rd(void *ctx, void *out, size_t n) {
    buf *b = ctx;
    size_t k = b->n - b->pos < n ? b->n - b->pos : n;
    memcpy(out, b->p + b->pos, k);
    b->pos += k;
    return (long)k;
}

static int wr(void *ctx, const void *d, size_t n) {
    buf *b = ctx;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) return -1;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_format MODEL FILE [N]\n");
        return 2;
    }
    int N = argc > 3 ? atoi(argv[3]) : 3;
    if (N < 1 || N > 50) N = 3;
    lac_model *m;
    lac_error err;
    if (lac_model_open(argv[1], &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) return 1;
    buf in = {0};
    unsigned char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) wr(&in, tmp, k);
    fclose(f);
    lac_params p;
    lac_params_default(&p);
    /* the v1 writer takes n_streams literally: give both the v2 default's count */
    p.engine.n_streams = lac_engine_auto_streams(m, p.engine.device, 0, LAC_PURPOSE_COMPRESS,
                                                 &p.engine.max_rows);
    double t[2][50];
    size_t size[2] = {0, 0};
    for (int i = 0; i < N; i++)
        for (int v = 0; v < 2; v++) { /* alternate: load changes hit both alike */
            buf out = {0};
            in.pos = 0;
            double t0 = now();
            lac_status s = v ? lac_compress(m, &p, rd, &in, wr, &out, NULL, &err)
                             : lacz_compress_v1(m, &p, rd, &in, wr, &out, NULL, &err);
            t[v][i] = now() - t0;
            if (s) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            size[v] = out.n;
            free(out.p);
        }
    qsort(t[0], (size_t)N, sizeof(double), cmpd);
    qsort(t[1], (size_t)N, sizeof(double), cmpd);
    double a = t[0][N / 2], b = t[1][N / 2];
    printf("file\tbytes\tv1_bytes\tv2_bytes\tv1_s\tv2_s\tv2_over_v1_time\n");
    printf("%s\t%zu\t%zu\t%zu\t%.2f\t%.2f\t%.3f\n", argv[2], in.n, size[0], size[1], a, b, b / a);
    lac_model_close(m);
    free(in.p);
    return 0;
}
