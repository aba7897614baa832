/* bench_cuda_codec — compression and decompression speed through the public stream API.
 *
 *   bench_cuda_codec MODEL FILE [--device cuda|cpu] [--streams B] [--dstreams B]
 *                    [--block-tokens N] [--max-bytes N]
 *
 * Compresses FILE (its first max-bytes bytes) with B blocks per engine call, decompresses the
 * result with --dstreams blocks in lock-step (default B), checks the round trip and prints one
 * line: sizes, bits per byte, seconds, MB/s and tokens/s each way. A small warm-up run first
 * keeps CUDA's context and module loading out of the timings (engine creation, i.e. weight
 * upload and KV-cache allocation, is inside them, as for a user). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lac.h"

typedef struct membuf {
    uint8_t *p;
    size_t n, cap, pos;
} membuf;

static long mem_read(void *ctx, void *buf, size_t n) {
    membuf *m = ctx;
    const size_t k = m->n - m->pos < n ? m->n - m->pos : n;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (long)k;
}

static int mem_write(void *ctx, const void *buf, size_t n) {
    membuf *m = ctx;
    if (m->n + n > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 65536;
        while (cap < m->n + n) cap *= 2;
        uint8_t *q = realloc(m->p, cap);
        if (!q) return -1;
        m->p = q;
        m->cap = cap;
    }
    memcpy(m->p + m->n, buf, n);
    m->n += n;
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL FILE [--device cuda|cpu] [--streams B] "
                        "[--block-tokens N] [--max-bytes N]\n", argv[0]);
        return 2;
    }
    lac_params p;
    lac_params_default(&p);
    p.engine.device = LAC_DEVICE_CUDA;
    p.engine.n_streams = 16;
    size_t max_bytes = (size_t)1 << 20;
    int dstreams = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--device"))
            p.engine.device = !strcmp(argv[i + 1], "cpu") ? LAC_DEVICE_CPU : LAC_DEVICE_CUDA;
        else if (!strcmp(argv[i], "--streams"))
            p.engine.n_streams = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dstreams"))
            dstreams = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--block-tokens"))
            p.block_tokens = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-bytes"))
            max_bytes = (size_t)atoll(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    /* let one engine call hold every stream's block (0 would mean n_ctx rows) */
    p.engine.max_rows = p.engine.n_streams * 1024;
    lac_params q = p; /* decompression: dstreams blocks in lock-step, one row each per step */
    q.engine.n_streams = dstreams > 0 ? dstreams : p.engine.n_streams;
    q.engine.max_rows = q.engine.n_streams;
    lac_error err = {0};
    lac_model *m = NULL;
    if (lac_model_open(argv[1], &m, &err) != LAC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[2]);
        return 1;
    }
    membuf text = {malloc(max_bytes ? max_bytes : 1), 0, max_bytes, 0};
    text.n = fread(text.p, 1, max_bytes, f);
    fclose(f);

    membuf packed = {0}, back = {0};
    lac_stats st1, st2;
    { /* warm-up */
        membuf w = {text.p, text.n < 3000 ? text.n : 3000, 0, 0}, wp = {0}, wb = {0};
        if (lac_compress(m, &p, mem_read, &w, mem_write, &wp, &st1, &err) != LAC_OK ||
            lac_decompress(m, &q, mem_read, &wp, mem_write, &wb, &st2, &err) != LAC_OK) {
            fprintf(stderr, "warm-up: %s\n", err.msg);
            return 1;
        }
        free(wp.p);
        free(wb.p);
    }
    const char *graphs_env = getenv("LAC_CUDA_GRAPHS"); /* reported: CUDA graphs on or off */
    double t0 = now();
    if (lac_compress(m, &p, mem_read, &text, mem_write, &packed, &st1, &err) != LAC_OK) {
        fprintf(stderr, "compress: %s\n", err.msg);
        return 1;
    }
    double t1 = now();
    if (lac_decompress(m, &q, mem_read, &packed, mem_write, &back, &st2, &err) != LAC_OK) {
        fprintf(stderr, "decompress: %s\n", err.msg);
        return 1;
    }
    double t2 = now();
    const int same = back.n == text.n && memcmp(back.p, text.p, text.n) == 0;
    const double tc = t1 - t0, td = t2 - t1;
    printf("model=%s device=\"%s\" graphs=%s streams=%d dstreams=%d blocks=%llu bytes=%zu tokens=%llu packed=%zu bpb=%.4f "
           "compress_s=%.3f compress_MB/s=%.4f compress_tok/s=%.0f "
           "decompress_s=%.3f decompress_MB/s=%.4f decompress_tok/s=%.0f roundtrip=%s\n",
           lac_model_get_config(m)->name, st1.device[0] ? st1.device : "?",
           graphs_env && !strcmp(graphs_env, "0") ? "off" : "on", p.engine.n_streams,
           q.engine.n_streams, (unsigned long long)st1.blocks, text.n, (unsigned long long)st1.tokens, packed.n,
           text.n ? 8.0 * (double)packed.n / (double)text.n : 0.0, tc, text.n / tc * 1e-6,
           (double)st1.tokens / tc, td, text.n / td * 1e-6, (double)st1.tokens / td,
           same ? "ok" : "MISMATCH");
    free(text.p);
    free(packed.p);
    free(back.p);
    lac_model_close(m);
    return same ? 0 : 1;
}
