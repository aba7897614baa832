/* The classic fallback codecs (coder/codecs.h) on whole files: for each FILE, the payload size
 * of every method, the smallest, and the compress / decompress time of each (one run, wall
 * clock). Every payload is decoded and compared, so a size printed is a size that round-trips.
 * Usage: bench_codecs FILE... (tab-separated: file, bytes, then method=size:ctime_ms:dtime_ms,
 * then best=method:size:ms of lacz_codec_best) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codecs.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *p = malloc(cap);
    for (size_t k; p && (k = fread(p + len, 1, cap - len, f)) > 0;) {
        len += k;
        if (len == cap) {
            uint8_t *q = realloc(p, cap *= 2);
            if (!q) free(p);
            p = q;
        }
    }
    fclose(f);
    *n = len;
    return p;
}

int main(int argc, char **argv) {
    static const int methods[] = {LACZ_METHOD_LZMA2, LACZ_METHOD_ZSTD, LACZ_METHOD_BROTLI,
                                  LACZ_METHOD_BZIP2};
    int rc = 0;
    for (int a = 1; a < argc; a++) {
        size_t n;
        uint8_t *in = slurp(argv[a], &n);
        if (!in) {
            fprintf(stderr, "bench_codecs: cannot read %s\n", argv[a]);
            return 1;
        }
        size_t cap = n + n / 8 + 1024;
        uint8_t *out = malloc(cap), *back = malloc(n ? n : 1);
        if (!out || !back) return 1;
        printf("%s\t%zu", argv[a], n);
        size_t best = n;
        const char *best_name = "stored";
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
            lac_error err;
            size_t len;
            double t0 = now_ms();
            lac_status st = lacz_codec_compress(methods[i], in, n, out, cap, &len, &err);
            double t1 = now_ms();
            if (st) {
                fprintf(stderr, "bench_codecs: %s: %s\n", argv[a], err.msg);
                rc = 1;
                continue;
            }
            st = lacz_codec_decompress(methods[i], out, len, back, n, &err);
            double t2 = now_ms();
            if (st || memcmp(back, in, n)) {
                fprintf(stderr, "bench_codecs: %s: %s does not round-trip: %s\n", argv[a],
                        lacz_method_name(methods[i]), st ? err.msg : "bytes differ");
                rc = 1;
                continue;
            }
            printf("\t%s=%zu:%.1f:%.1f", lacz_method_name(methods[i]), len, t1 - t0, t2 - t1);
            if (len < best) best = len, best_name = lacz_method_name(methods[i]);
        }
        /* lacz_codec_best: the same pick, with the lowered caps cutting losers short */
        int bm;
        size_t blen;
        lac_error err;
        double t0 = now_ms();
        if (lacz_codec_best(LACZ_METHODS_CLASSIC, in, n, out, cap, &bm, &blen, &err) ||
            blen != best) {
            fprintf(stderr, "bench_codecs: %s: lacz_codec_best disagrees\n", argv[a]);
            rc = 1;
        }
        printf("\tbest=%s:%zu:%.1f\n", best_name, best, now_ms() - t0);
        free(in);
        free(out);
        free(back);
    }
    return rc;
}
