/* bench_spec MODEL [--threads N] [--tokens N] [--k "3 7 15"] FILE...
 * Speculative vs plain decoding of one block (coder/decode_spec.c): each file's first N tokens
 * (default 1024, at most n_ctx) are coded as one block with the engine and the range coder,
 * then decoded by the plain loop (one lac_engine_forward_decode step per token, what
 * coder/decode_blocks.c runs) and by lac_decode_block_spec for each k; the ids are checked equal.
 * Lines: "file tokens k seconds tok/s speedup accepted/guessed calls". */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode_spec.h"
#include "lac.h"
#include "rangecoder.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(const char *what, const lac_error *err) {
    fprintf(stderr, "bench_spec: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

int main(int argc, char **argv) {
    const char *model = NULL, *klist = "3 7 15";
    int threads = 0, maxtok = 1024;
    const char *files[64];
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc) maxtok = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) klist = argv[++i];
        else if (!model) model = argv[i];
        else if (nf < 64) files[nf++] = argv[i];
    }
    if (!model || !nf) {
        fprintf(stderr, "usage: bench_spec MODEL [--threads N] [--tokens N] [--k LIST] FILE...\n");
        return 2;
    }
    lac_error err;
    lac_model *m;
    lac_tokenizer *tk;
    if (lac_model_open(model, &m, &err)) die(model, &err);
    if (lac_tokenizer_create(m, &tk, &err)) die("tokenizer", &err);
    const lac_model_config *cfg = lac_model_get_config(m);
    if (maxtok > (int)cfg->n_ctx) maxtok = (int)cfg->n_ctx;
    const int32_t eot = (int32_t)cfg->eot_token;
    lac_coder_params p;
    lac_coder_params_default(&p);
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = threads, .n_streams = 1};
    lac_engine *e;
    if (lac_engine_create(m, &o, &e, &err)) die("engine", &err);
    printf("file\ttokens\tk\tseconds\ttok/s\tspeedup\taccepted/guessed\tcalls\t%s\n",
           lac_engine_device_name(e));
    for (int f = 0; f < nf; f++) {
        FILE *fp = fopen(files[f], "rb");
        if (!fp) die(files[f], NULL);
        char *txt = malloc(1 << 20);
        size_t n = fread(txt, 1, 1 << 20, fp);
        fclose(fp);
        lac_tokens t = {0};
        lac_tokenizer_reset(tk);
        if (lac_tokenizer_feed(tk, txt, n, 1, &t, &err)) die("tokenize", &err);
        free(txt);
        const int N = (int)t.n < maxtok ? (int)t.n : maxtok;
        if (N < 2) continue;
        /* encode */
        int32_t *in = malloc((size_t)N * sizeof *in);
        uint32_t *cum = malloc((size_t)N * 4), *fr = malloc((size_t)N * 4);
        in[0] = eot;
        memcpy(in + 1, t.ids, (size_t)(N - 1) * sizeof *in);
        const int32_t *tp[1] = {in}, *tg[1] = {t.ids};
        int cnt[1] = {N};
        uint32_t *cp[1] = {cum}, *fq[1] = {fr};
        lac_engine_reset(e, 0);
        if (lac_engine_forward_code(e, tp, cnt, tg, &p, cp, fq, &err)) die("encode", &err);
        lac_rc_encoder enc;
        lac_rc_enc_init(&enc);
        for (int i = 0; i < N; i++) lac_rc_encode(&enc, cum[i], fr[i], p.precision);
        lac_rc_enc_finish(&enc);
        /* plain */
        int32_t *out = malloc((size_t)N * sizeof *out);
        lac_rc_decoder rc;
        lac_rc_dec_init(&rc, enc.buf, enc.n);
        lac_engine_reset(e, 0);
        int32_t cur = eot;
        const int32_t *cp1[1] = {&cur};
        int one[1] = {1};
        double t0 = now();
        for (int i = 0; i < N; i++) {
            uint32_t target = lac_rc_decode_target(&rc, p.precision), c1, f1;
            int32_t sym;
            if (lac_engine_forward_decode(e, cp1, one, &p, &target, &sym, &c1, &f1, &err))
                die("decode", &err);
            lac_rc_decode_update(&rc, c1, f1, p.precision);
            out[i] = cur = sym;
        }
        const double tp0 = now() - t0;
        if (memcmp(out, t.ids, (size_t)N * 4)) die("plain decode differs", NULL);
        const char *base = strrchr(files[f], '/') ? strrchr(files[f], '/') + 1 : files[f];
        printf("%s\t%d\tplain\t%.3f\t%.1f\t1.00\t-\t%d\n", base, N, tp0, N / tp0, N);
        fflush(stdout);
        for (const char *kp = klist; *kp;) {
            char *end;
            long k = strtol(kp, &end, 10);
            if (end == kp) break;
            kp = end;
            lac_rc_dec_init(&rc, enc.buf, enc.n);
            lac_spec_stats st = {0};
            t0 = now();
            if (lac_decode_block_spec(e, 0, &rc, &p, eot, (uint32_t)N, -1, (int)k, out, NULL, &st,
                                      &err))
                die("spec", &err);
            const double ts = now() - t0;
            if (memcmp(out, t.ids, (size_t)N * 4)) die("speculative decode differs", NULL);
            printf("%s\t%d\t%ld\t%.3f\t%.1f\t%.2f\t%llu/%llu\t%llu\n", base, N, k, ts, N / ts,
                   tp0 / ts, (unsigned long long)st.accepted, (unsigned long long)st.guessed,
                   (unsigned long long)st.calls);
            fflush(stdout);
        }
        lac_rc_enc_free(&enc);
        free(in), free(cum), free(fr), free(out);
        lac_tokens_free(&t);
    }
    lac_engine_free(e);
    lac_tokenizer_free(tk);
    lac_model_close(m);
    return 0;
}
