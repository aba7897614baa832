/* weights_tools eval MODEL FILE [--block-tokens N] [--threads N] [--device DEV]
 * The ideal code length of FILE under MODEL: FILE is tokenized, cut into blocks of N tokens
 * (default n_ctx), each block is fed as [eot] + tokens[0..n-2] so that position i predicts
 * token i, and the bits are sum of -log2 softmax(logits)[token] in double precision. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac.h"
#include "wt.h"

#define EVAL_CHUNK 64 /* rows per forward call: bounds the logits buffer */

static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static double row_bits(const float *z, size_t V, int32_t target) {
    double m = z[0];
    for (size_t i = 1; i < V; i++)
        if (z[i] > m) m = z[i];
    double s = 0.0;
    for (size_t i = 0; i < V; i++) s += exp((double)z[i] - m);
    return (m + log(s) - (double)z[target]) / log(2.0);
}

int wt_eval(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL;
    long block = 0, threads = 0;
    lac_engine_options o = {.device = LAC_DEVICE_AUTO};
    lac_error perr;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--block-tokens") || !strcmp(a, "--threads") || !strcmp(a, "--device")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "weights_tools eval: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--device")) {
                /* the names lacgpu takes (one stream: a device list runs on its first) */
                if (lac_device_parse(v, &o, &perr) != LAC_OK) {
                    fprintf(stderr, "weights_tools eval: --device: %s\n", perr.msg);
                    return 2;
                }
            } else if (parse_int(v, 0, 1 << 20, !strcmp(a, "--threads") ? &threads : &block)) {
                fprintf(stderr, "weights_tools eval: %s: bad number '%s'\n", a, v);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "weights_tools eval: unknown option '%s'\n", a);
            return 2;
        } else if (!model_path) {
            model_path = a;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "weights_tools eval: too many arguments\n");
            return 2;
        }
    }
    if (!model_path || !file) {
        fprintf(stderr, "usage: weights_tools eval MODEL FILE [--block-tokens N] [--threads N]"
                        " [--device auto|cpu|cpu-scalar|cuda|cuda:N]\n");
        return 2;
    }

    int rc = 1;
    lac_error err = {0};
    lac_model *m = NULL;
    lac_tokenizer *tk = NULL;
    lac_engine *e = NULL;
    lac_tokens toks = {0};
    unsigned char *buf = NULL;
    float *logits = NULL;
    int32_t *in = NULL;
    FILE *f = NULL;
    uint64_t nbytes = 0;

    if (lac_model_open(model_path, &m, &err) != LAC_OK) goto fail;
    const lac_model_config *cfg = lac_model_get_config(m);
    if (block == 0) block = cfg->n_ctx;
    if (block < 1 || block > (long)cfg->n_ctx) {
        fprintf(stderr, "weights_tools eval: --block-tokens %ld out of range 1..%u\n", block,
                cfg->n_ctx);
        rc = 2;
        goto out;
    }
    if (lac_tokenizer_create(m, &tk, &err) != LAC_OK) goto fail;
    f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "weights_tools eval: %s: %s\n", file, strerror(errno));
        goto out;
    }
    buf = malloc(1 << 16);
    if (!buf) {
        fprintf(stderr, "weights_tools eval: out of memory\n");
        goto out;
    }
    for (;;) {
        size_t n = fread(buf, 1, 1 << 16, f);
        nbytes += n;
        int fin = n < (1 << 16);
        if (fin && ferror(f)) {
            fprintf(stderr, "weights_tools eval: %s: read error\n", file);
            goto out;
        }
        if (lac_tokenizer_feed(tk, buf, n, fin, &toks, &err) != LAC_OK) goto fail;
        if (fin) break;
    }

    o.n_threads = (int)threads;
    o.n_streams = 1;
    o.max_rows = EVAL_CHUNK;
    if (lac_engine_create(m, &o, &e, &err) != LAC_OK) goto fail;
    const size_t V = cfg->vocab_size;
    logits = malloc((size_t)EVAL_CHUNK * V * sizeof(float));
    in = malloc((size_t)block * sizeof(int32_t));
    if (!logits || !in) {
        fprintf(stderr, "weights_tools eval: out of memory\n");
        goto out;
    }
    double bits = 0.0;
    size_t blocks = 0;
    for (size_t b0 = 0; b0 < toks.n; b0 += (size_t)block, blocks++) {
        const size_t n = toks.n - b0 < (size_t)block ? toks.n - b0 : (size_t)block;
        in[0] = (int32_t)cfg->eot_token;
        memcpy(in + 1, toks.ids + b0, (n - 1) * sizeof(int32_t));
        lac_engine_reset(e, 0);
        for (size_t i = 0; i < n; i += EVAL_CHUNK) {
            int cnt = (int)(n - i < EVAL_CHUNK ? n - i : EVAL_CHUNK);
            const int32_t *tp = in + i;
            float *lp = logits;
            if (lac_engine_forward(e, &tp, &cnt, &lp, &err) != LAC_OK) goto fail;
            double rb[EVAL_CHUNK];
            /* rows in parallel, summed in order: the total does not depend on threads */
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? (int)threads : omp_get_max_threads())
            for (int r = 0; r < cnt; r++)
                rb[r] = row_bits(logits + (size_t)r * V, V, toks.ids[b0 + i + (size_t)r]);
            for (int r = 0; r < cnt; r++) bits += rb[r];
        }
    }
    printf("model: %s\n", cfg->name);
    printf("device: %s\n", lac_engine_device_name(e));
    printf("file: %s\n", file);
    printf("bytes: %llu\n", (unsigned long long)nbytes);
    printf("tokens: %zu\n", toks.n);
    printf("blocks: %zu (%ld tokens)\n", blocks, block);
    printf("bits: %.3f\n", bits);
    printf("bits_per_token: %.6f\n", toks.n ? bits / (double)toks.n : 0.0);
    printf("bpb: %.6f\n", nbytes ? bits / (double)nbytes : 0.0);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "weights_tools eval: %s: %s\n", lac_status_name(err.code), err.msg);
    rc = 1;
out:
    if (f) fclose(f);
    free(buf);
    free(logits);
    free(in);
    lac_tokens_free(&toks);
    lac_engine_free(e);
    lac_tokenizer_free(tk);
    lac_model_close(m);
    return rc;
}
