/* The engine (engine/engine.c + CPU backends) against docs/NUMERICS.md:
 *  - random in-memory models: bitwise invariance (prefill vs steps, batch, threads, ISA,
 *    fast vs scalar, max_rows splitting, reset), argument checks, code/freqs paths;
 *  - the real lac-tiny model: logits vs the PyTorch reference, then bitwise invariance over
 *    two full 1024-token blocks of alice29. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_testutil.h"
#include "lac.h"
#include "model.h" /* struct lac_model: the random test model, eot token */
#include "model_file.h" /* lacm_f16_to_f32 */

/* ---- random model ------------------------------------------------------------------------ */
#define RL 2
#define RH 3
#define RC 48
#define RT 160
#define RV 1001

static lac_model *rm;
static int32_t toks[RT], other[512 + RT];
static float *ref; /* scalar prefill logits, RT x RV */

static void rsetup(void) {
    rm = etu_random_model(RL, RH, RC, RT, RV, 42);
    cr_assert(rm);
    uint64_t s = 7;
    for (int i = 0; i < RT; i++) toks[i] = (int32_t)((s = s * 6364136223846793005ull + 1) >> 33) % RV;
    for (int i = 0; i < 512 + RT; i++)
        other[i] = (int32_t)((s = s * 6364136223846793005ull + 1) >> 33) % RV;
    ref = malloc((size_t)RT * RV * sizeof(float));
    cr_assert(ref);
    etu_poison(ref, (size_t)RT * RV);
    lac_error err;
    cr_assert_eq(etu_run(rm, LAC_DEVICE_CPU_SCALAR, 1, 1, 0, toks, RT, RT, NULL, ref, &err),
                 LAC_OK, "%s", err.msg);
    const long unwritten = etu_first_nan_row(ref, RT, RV);
    cr_assert_eq(unwritten, -1, "scalar reference: row %ld is unwritten (NaN)", unwritten);
}

static void rteardown(void) {
    free(ref);
    etu_free_model(rm);
}

static void expect_same(lac_device dev, int threads, int B, int stream, int chunk,
                        const int32_t *oth, const char *what) {
    float *out = malloc((size_t)RT * RV * sizeof(float));
    cr_assert(out);
    etu_poison(out, (size_t)RT * RV); /* a row the run leaves unwritten differs */
    lac_error err;
    cr_assert_eq(etu_run(rm, dev, threads, B, stream, toks, RT, chunk, oth, out, &err), LAC_OK,
                 "%s: %s", what, err.msg);
    for (int i = 0; i < RT; i++)
        if (memcmp(out + (size_t)i * RV, ref + (size_t)i * RV, RV * sizeof(float)) != 0) {
            cr_expect(0, "%s: row %d differs from the scalar prefill", what, i);
            break;
        }
    free(out);
}

TestSuite(engine_random, .init = rsetup, .fini = rteardown);

Test(engine_random, logits_are_sane) {
    /* not all equal, finite, and depend on the token */
    int finite = 1;
    for (size_t i = 0; i < (size_t)RT * RV; i++) finite &= isfinite(ref[i]) != 0;
    cr_expect(finite);
    cr_expect(ref[0] != ref[1]);
    cr_expect(memcmp(ref, ref + RV, RV * sizeof(float)) != 0);
}

Test(engine_random, scalar_prefill_equals_steps) {
    expect_same(LAC_DEVICE_CPU_SCALAR, 1, 1, 0, 1, NULL, "scalar steps");
    expect_same(LAC_DEVICE_CPU_SCALAR, 1, 1, 0, 37, NULL, "scalar chunks of 37");
}

Test(engine_random, scalar_batch_invariant) {
    expect_same(LAC_DEVICE_CPU_SCALAR, 1, 4, 2, 23, other, "scalar B=4 stream 2");
}

/* The kernel family the fast backend picks on this CPU for LAC_CPU_ISA=isa (forward_fast.c:
 * "generic" always, "avx2" when the CPU has AVX2 and FMA, else the best it has), or NULL when
 * the CPU cannot run what isa names (the test is then skipped, visibly). */
static const char *isa_expected(const char *isa) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f");
    const int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!strcmp(isa, "generic")) return "generic";
    if (!strcmp(isa, "avx2")) return has2 ? "avx2" : NULL;
    return has512 ? "avx512" : has2 ? "avx2" : "generic";
#else
    return strcmp(isa, "avx2") ? "generic" : NULL;
#endif
}

static void fast_all(const char *isa) {
    const char *want = isa_expected(isa);
    if (!want) cr_skip_test("LAC_CPU_ISA=%s: this CPU cannot run it", isa);
    setenv("LAC_CPU_ISA", isa, 1);
    /* the engine names the kernels it runs ("cpu-avx2+f16head (2 threads)"): the ones asked */
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 1, .n_streams = 1};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    char name[96];
    snprintf(name, sizeof name, "cpu-%s", want);
    const char *got = lac_engine_device_name(e);
    const size_t k = strlen(name);
    cr_expect(!strncmp(got, name, k) && (got[k] == ' ' || got[k] == '+'),
              "LAC_CPU_ISA=%s ran '%s', expected %s", isa, got, name);
    lac_engine_free(e);
    char what[96];
    const int th[3] = {1, 2, 8};
    for (int t = 0; t < 3; t++) {
        snprintf(what, sizeof what, "%s prefill %d threads", isa, th[t]);
        expect_same(LAC_DEVICE_CPU, th[t], 1, 0, RT, NULL, what);
    }
    snprintf(what, sizeof what, "%s steps", isa);
    expect_same(LAC_DEVICE_CPU, 2, 1, 0, 1, NULL, what);
    snprintf(what, sizeof what, "%s B=7 stream 5 with others", isa);
    expect_same(LAC_DEVICE_CPU, 2, 7, 5, 19, other, what);
    unsetenv("LAC_CPU_ISA");
}

/* Row groups (forward_fast.c row_groups: each thread takes some streams through all layers):
 * forced on for every call of 2+ streams, and off, each against the scalar prefill; chunks of
 * 19 rows put a stream's consecutive rows (multi-row attention) inside a group */
Test(engine_random, fast_row_groups) {
    const char *mode[2] = {"1", "0"};
    const int th[2] = {2, 3}, chunk[3] = {1, 5, 19};
    char what[96];
    for (int g = 0; g < 2; g++) {
        setenv("LAC_ROW_GROUPS", mode[g], 1);
        for (int t = 0; t < 2; t++)
            for (int c = 0; c < 3; c++) {
                snprintf(what, sizeof what, "LAC_ROW_GROUPS=%s, %d threads, B=7, chunks of %d",
                         mode[g], th[t], chunk[c]);
                expect_same(LAC_DEVICE_CPU, th[t], 7, 5, chunk[c], other, what);
            }
    }
    unsetenv("LAC_ROW_GROUPS");
}

Test(engine_random, fast_best_isa) { fast_all("best"); }
Test(engine_random, fast_avx2) { fast_all("avx2"); }
Test(engine_random, fast_generic) { fast_all("generic"); }

Test(engine_random, device_name) {
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 2, .n_streams = 1};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    cr_expect(strncmp(lac_engine_device_name(e), "cpu-", 4) == 0, "%s",
              lac_engine_device_name(e));
    lac_engine_free(e);
    o.device = LAC_DEVICE_CPU_SCALAR;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    cr_expect_str_eq(lac_engine_device_name(e), "cpu-scalar");
    lac_engine_free(e);
}

Test(engine_random, max_rows_split_and_reset) {
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 2, .n_streams = 2,
                            .max_rows = 13};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    float *out = malloc((size_t)RT * RV * sizeof(float));
    float *junk = malloc((size_t)RT * RV * sizeof(float));
    cr_assert(out && junk);
    etu_poison(out, (size_t)RT * RV);
    /* stream 1 first fills with other tokens, then is reset and gets toks in one call */
    const int32_t *tk[2] = {other, other + 3};
    int cnt[2] = {RT, 50};
    float *lg[2] = {junk, junk};
    cr_assert_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_OK, "%s", err.msg);
    cr_expect_eq(lac_engine_position(e, 0), RT);
    cr_expect_eq(lac_engine_position(e, 1), 50);
    lac_engine_reset(e, 1);
    cr_expect_eq(lac_engine_position(e, 1), 0);
    tk[1] = toks;
    cnt[0] = 0;
    cnt[1] = RT;
    lg[1] = out;
    cr_assert_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_OK, "%s", err.msg);
    cr_expect(memcmp(out, ref, (size_t)RT * RV * sizeof(float)) == 0,
              "max_rows splitting / reset changed the logits");
    free(out);
    free(junk);
    lac_engine_free(e);
}

Test(engine_random, argument_checks) {
    lac_engine_options o = {.device = LAC_DEVICE_CPU_SCALAR, .n_streams = 2};
    lac_engine *e = NULL;
    lac_error err;
    o.n_streams = -1;
    cr_expect_eq(lac_engine_create(rm, &o, &e, &err), LAC_ERR_ARG);
    cr_expect(strstr(err.msg, "n_streams") != NULL, "%s", err.msg);
    o.n_streams = 2;
    o.device = (lac_device)99;
    cr_expect_eq(lac_engine_create(rm, &o, &e, &err), LAC_ERR_ARG);
#ifndef LAC_HAVE_CUDA
    o.device = LAC_DEVICE_CUDA;
    cr_expect_eq(lac_engine_create(rm, &o, &e, &err), LAC_ERR_UNSUPPORTED);
    cr_expect(strstr(err.msg, "without CUDA") != NULL, "%s", err.msg);
    o.device = LAC_DEVICE_AUTO;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    cr_expect(strncmp(lac_engine_device_name(e), "cpu", 3) == 0);
    lac_engine_free(e);
#endif
    o.device = LAC_DEVICE_CPU_SCALAR;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    float *lg1 = malloc((size_t)4 * RV * sizeof(float));
    cr_assert(lg1);
    int32_t bad[2] = {5, RV};
    const int32_t *tk[2] = {bad, NULL};
    int cnt[2] = {2, 0};
    float *lg[2] = {lg1, NULL};
    cr_expect_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_ERR_ARG);
    cr_expect(strstr(err.msg, "token") != NULL, "%s", err.msg);
    bad[1] = -1;
    cr_expect_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_ERR_ARG);
    cr_expect_eq(lac_engine_position(e, 0), 0, "a failed call must not advance");
    cnt[0] = -1;
    cr_expect_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_ERR_ARG);
    /* fill stream 0 up to n_ctx - 1, then 2 more tokens exceed n_ctx */
    cnt[0] = 1;
    bad[0] = 3;
    for (int i = 0; i < RT - 1; i++)
        cr_assert_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_OK, "%s", err.msg);
    bad[1] = 4;
    cnt[0] = 2;
    cr_expect_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_ERR_LIMIT);
    cr_expect(strstr(err.msg, "n_ctx") != NULL, "%s", err.msg);
    cnt[0] = 1;
    cr_expect_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_OK, "%s", err.msg);
    cr_expect_eq(lac_engine_position(e, 0), RT);
    cr_expect_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_ERR_LIMIT);
    cr_expect_eq(lac_engine_forward(e, NULL, cnt, lg, &err), LAC_ERR_ARG);
    cr_expect_eq(lac_engine_position(e, 5), -1);
    free(lg1);
    lac_engine_free(e);
    cr_expect_eq(lac_engine_kv_bytes(&rm->cfg, 3), 2ull * RL * RT * RC * 4 * 3);
}

/* n_streams = 0 / max_rows = 0: the engine chooses (lac_engine_auto_streams) */
Test(engine_random, auto_streams) {
    int rows = -1;
    const int bd = lac_engine_auto_streams(rm, LAC_DEVICE_CPU, 0, LAC_PURPOSE_DECOMPRESS, &rows);
    const int bc = lac_engine_auto_streams(rm, LAC_DEVICE_CPU, 0, LAC_PURPOSE_COMPRESS, NULL);
    cr_expect(bd >= 1 && bd <= 64, "decompress: %d streams", bd);
    cr_expect(bc >= 1 && bc <= 8, "compress: %d streams", bc);
    cr_expect_eq(rows, 0);
    cr_expect_eq(lac_engine_auto_streams(NULL, LAC_DEVICE_CPU, 0, LAC_PURPOSE_COMPRESS, NULL), 1);
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 1};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    cr_expect_eq(lac_engine_streams(e), bd);
    lac_engine_free(e);
    lac_engine_options o2 = {.device = LAC_DEVICE_CPU, .n_streams = 3};
    lac_engine_options_auto(rm, LAC_PURPOSE_DECOMPRESS, &o2);
    cr_expect_eq(o2.n_streams, 3, "a chosen n_streams is kept");
    cr_expect_eq(o2.max_rows, RT);
}

/* lac_engine_truncate: prefill k guessed tokens, roll back to j, go on with the true ones:
 * every row is the plain sequence's (the speculative decoder relies on it) */
static void truncate_exact(lac_device dev, int threads) {
    lac_engine_options o = {.device = dev, .n_threads = threads, .n_streams = 2};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    float *out = malloc((size_t)RT * RV * sizeof(float));
    float *junk = malloc((size_t)RT * RV * sizeof(float));
    int32_t guess[RT];
    cr_assert(out && junk);
    for (int i = 0; i < RT; i++) guess[i] = (toks[i] + 1 + i % 3) % RV;
    const int32_t *tk[2] = {NULL, NULL};
    int cnt[2] = {0, 0};
    float *lg[2] = {NULL, NULL};
    int pos = 0;
    for (int round = 0; pos < RT; round++) {
        /* k = 1..6 rows: the true token, then (k - 1) guesses of which the first j are right */
        int k = 1 + round % 6;
        if (pos + k > RT) k = RT - pos;
        int32_t in[8];
        const int j = round % (k + 1) < k ? round % (k + 1) : k - 1; /* rows kept, 1..k */
        const int keep = j < 1 ? 1 : j;
        for (int i = 0; i < k; i++) in[i] = i < keep ? toks[pos + i] : guess[pos + i];
        tk[0] = in;
        cnt[0] = k;
        lg[0] = junk;
        cr_assert_eq(lac_engine_forward(e, tk, cnt, lg, &err), LAC_OK, "%s", err.msg);
        cr_assert_eq(lac_engine_truncate(e, 0, pos + keep, &err), LAC_OK, "%s", err.msg);
        memcpy(out + (size_t)pos * RV, junk, (size_t)keep * RV * sizeof(float));
        pos += keep;
        cr_assert_eq(lac_engine_position(e, 0), pos);
    }
    cr_expect(memcmp(out, ref, (size_t)RT * RV * sizeof(float)) == 0,
              "rows after truncation differ from the plain prefill");
    cr_expect_eq(lac_engine_truncate(e, 0, RT + 1, &err), LAC_ERR_ARG);
    cr_expect_eq(lac_engine_truncate(e, 0, -1, &err), LAC_ERR_ARG);
    cr_expect_eq(lac_engine_truncate(e, 2, 0, &err), LAC_ERR_ARG);
    cr_expect_eq(lac_engine_truncate(e, 1, 0, &err), LAC_OK, "%s", err.msg);
    free(out);
    free(junk);
    lac_engine_free(e);
}

Test(engine_random, truncate_is_exact_scalar) { truncate_exact(LAC_DEVICE_CPU_SCALAR, 1); }
Test(engine_random, truncate_is_exact_fast) { truncate_exact(LAC_DEVICE_CPU, 2); }

/* forward_code / forward_freqs give what forward + lac_quantize_freqs give. */
static void code_paths(lac_device dev) {
    const int n = 40;
    lac_coder_params p;
    lac_coder_params_default(&p);
    lac_engine_options o = {.device = dev, .n_threads = 2, .n_streams = 2, .max_rows = 17};
    lac_engine *e1, *e2;
    lac_error err;
    cr_assert_eq(lac_engine_create(rm, &o, &e1, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_engine_create(rm, &o, &e2, &err), LAC_OK, "%s", err.msg);
    uint32_t *fr = malloc((size_t)2 * n * RV * sizeof(uint32_t));
    uint32_t *row = malloc(RV * sizeof(uint32_t));
    uint32_t cum[2][40], frq[2][40];
    cr_assert(fr && row);
    const int32_t *tk[2] = {toks, other};
    const int32_t *tg[2] = {toks + 1, other + 1};
    int cnt[2] = {n, n - 9};
    uint32_t *cu[2] = {cum[0], cum[1]}, *fq[2] = {frq[0], frq[1]};
    uint32_t *fs[2] = {fr, fr + (size_t)n * RV};
    cr_assert_eq(lac_engine_forward_code(e1, tk, cnt, tg, &p, cu, fq, &err), LAC_OK, "%s",
                 err.msg);
    cr_assert_eq(lac_engine_forward_freqs(e2, tk, cnt, &p, fs, &err), LAC_OK, "%s", err.msg);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < cnt[b]; i++) {
            const uint32_t *f = fs[b] + (size_t)i * RV;
            const float *z = NULL;
            (void)z;
            if (b == 0) { /* the reference logits are stream toks's: compare freqs too */
                lac_quantize_freqs(&p, ref + (size_t)i * RV, RV, row);
                cr_assert(memcmp(row, f, RV * sizeof(uint32_t)) == 0, "freqs row %d", i);
            }
            uint64_t c = 0, tot = 0;
            for (int v = 0; v < RV; v++) {
                if (v < tg[b][i]) c += f[v];
                tot += f[v];
            }
            cr_assert_eq(tot, 1ull << p.precision);
            cr_assert_eq(cum[b][i], (uint32_t)c, "cum stream %d row %d", b, i);
            cr_assert_eq(frq[b][i], f[tg[b][i]], "freq stream %d row %d", b, i);
        }
    cr_expect_eq(lac_engine_position(e1, 0), n);
    cr_expect_eq(lac_engine_position(e2, 1), n - 9);
    free(fr);
    free(row);
    lac_engine_free(e1);
    lac_engine_free(e2);
}

/* forward_decode, one token per stream per call (stream 1 idles every third call), gives the
 * symbol of the reference row's interval that holds each target; bad calls are refused. */
static void decode_path(lac_device dev) {
    lac_coder_params p;
    lac_coder_params_default(&p);
    lac_engine_options o = {.device = dev, .n_threads = 2, .n_streams = 2, .max_rows = 2};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    uint32_t *row = malloc(RV * sizeof(uint32_t));
    cr_assert(row);
    uint64_t s = 99;
    int done = 0;
    for (int call = 0; done < 30; call++) {
        const int32_t *tk[2] = {toks + done, other + lac_engine_position(e, 1)};
        int cnt[2] = {1, call % 3 != 2};
        uint32_t tg[2], cum[2] = {7, 7}, frq[2] = {7, 7};
        int32_t sym[2] = {-5, -5};
        for (int b = 0; b < 2; b++)
            tg[b] = call % 4 == 0 ? 0 : call % 4 == 1 ? (1u << p.precision) - 1
                                  : (uint32_t)((s = s * 6364136223846793005ull + 1) >> 34);
        cr_assert_eq(lac_engine_forward_decode(e, tk, cnt, &p, tg, sym, cum, frq, &err), LAC_OK,
                     "%s", err.msg);
        lac_quantize_freqs(&p, ref + (size_t)done * RV, RV, row);
        uint32_t c, f;
        const uint32_t v = lac_freqs_find(row, RV, tg[0], &c, &f);
        cr_assert_eq((uint32_t)sym[0], v, "call %d", call);
        cr_assert_eq(cum[0], c);
        cr_assert_eq(frq[0], f);
        cr_assert(c <= tg[0] && tg[0] - c < f);
        if (!cnt[1]) cr_assert(sym[1] == -5 && cum[1] == 7, "an idle stream was written");
        else cr_assert(sym[1] >= 0 && sym[1] < RV && cum[1] <= tg[1] && tg[1] - cum[1] < frq[1]);
        done++;
    }
    cr_expect_eq(lac_engine_position(e, 0), 30);
    cr_expect_eq(lac_engine_position(e, 1), 20);
    /* refused: two tokens in a stream, a target >= 2^P */
    int32_t sym[2];
    uint32_t tg[2] = {0, 0}, cum[2], frq[2];
    const int32_t *tk[2] = {toks, toks};
    int two[2] = {2, 0}, one[2] = {1, 0};
    cr_expect_eq(lac_engine_forward_decode(e, tk, two, &p, tg, sym, cum, frq, &err), LAC_ERR_ARG);
    tg[0] = 1u << p.precision;
    cr_expect_eq(lac_engine_forward_decode(e, tk, one, &p, tg, sym, cum, frq, &err), LAC_ERR_ARG);
    cr_expect_eq(lac_engine_position(e, 0), 30, "a refused call moved the stream");
    free(row);
    lac_engine_free(e);
}

Test(engine_random, decode_scalar) { decode_path(LAC_DEVICE_CPU_SCALAR); }
Test(engine_random, decode_fast) { decode_path(LAC_DEVICE_CPU); }

Test(engine_random, code_and_freqs_scalar) { code_paths(LAC_DEVICE_CPU_SCALAR); }
Test(engine_random, code_and_freqs_fast) { code_paths(LAC_DEVICE_CPU); }

/* ---- the real model: lac-tiny ------------------------------------------------------------ */
#define TV 50257
#define TN 1024

static lac_model *tm;

static void tsetup(void) {
    const char *path = getenv("LAC_DEFAULT_MODEL");
    cr_assert(path && *path, "LAC_DEFAULT_MODEL is not set");
    lac_error err;
    cr_assert_eq(lac_model_open(path, &tm, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_model_get_config(tm)->vocab_size, TV);
    cr_assert_eq(lac_model_get_config(tm)->n_ctx, TN);
}

static void tteardown(void) { lac_model_close(tm); }

static void *shared_file(const char *rel, size_t want) {
    char *p = etu_shared_path(rel);
    size_t n = 0;
    void *d = p ? etu_read_file(p, &n) : NULL;
    cr_assert(d, "cannot read %s", p ? p : rel);
    cr_assert(want == 0 || n == want, "%s: %zu bytes, expected %zu", p, n, want);
    free(p);
    return d;
}

/* -log2 softmax(z)[t] in double */
static double bits_of(const float *z, int32_t t) {
    double m = z[0], s = 0.0;
    for (int i = 1; i < TV; i++) m = z[i] > m ? z[i] : m;
    for (int i = 0; i < TV; i++) s += exp((double)z[i] - m);
    return (m + log(s) - (double)z[t]) / log(2.0);
}

TestSuite(engine_tiny, .init = tsetup, .fini = tteardown, .timeout = 1200);

Test(engine_tiny, matches_pytorch_reference) {
    const int n = etu_quick() ? 64 : TN;
    int32_t *ids = shared_file("models/lac-tiny/reference/alice29_input_ids.i32", TN * 4);
    float *rl = shared_file("models/lac-tiny/reference/alice29_logits_pos0-15.f32",
                            (size_t)16 * TV * 4);
    float *tv = shared_file("models/lac-tiny/reference/alice29_top16_values.f32", TN * 16 * 4);
    int32_t *ti = shared_file("models/lac-tiny/reference/alice29_top16_ids.i32", TN * 16 * 4);
    double *rb = shared_file("models/lac-tiny/reference/alice29_bits_per_token.f64", TN * 8);
    int32_t in[TN];
    in[0] = (int32_t)lac_model_get_config(tm)->eot_token;
    memcpy(in + 1, ids, (TN - 1) * sizeof(int32_t));
    float *out = malloc((size_t)n * TV * sizeof(float));
    cr_assert(out);
    lac_error err;
    cr_assert_eq(etu_run(tm, LAC_DEVICE_CPU, 2, 1, 0, in, n, n, NULL, out, &err), LAC_OK, "%s",
                 err.msg);
    /* full logits of positions 0..15 */
    double worst = 0;
    for (size_t i = 0; i < (size_t)16 * TV; i++) {
        const double d = fabs((double)out[i] - (double)rl[i]);
        worst = d > worst ? d : worst;
    }
    cr_expect(worst <= 1e-4, "logits 0..15: max |diff| %.3g > 1e-4", worst);
    /* top-16 ids where the reference values are separated by more than 1e-3; bits per token */
    int bad_top = 0, checked = 0;
    double worst_bits = 0, sum_bits = 0, sum_ref = 0;
    for (int p = 0; p < n; p++) {
        const float *z = out + (size_t)p * TV;
        int32_t top[16];
        float topv[16];
        int k = 0;
        for (int v = 0; v < TV; v++) { /* insertion into a sorted top-16 */
            if (k == 16 && z[v] <= topv[15]) continue;
            int j = k < 16 ? k++ : 15;
            while (j > 0 && topv[j - 1] < z[v]) {
                topv[j] = topv[j - 1];
                top[j] = top[j - 1];
                j--;
            }
            topv[j] = z[v];
            top[j] = v;
        }
        const float *rv = tv + (size_t)p * 16;
        for (int r = 0; r < 16; r++) {
            const int sep_prev = r == 0 || rv[r - 1] - rv[r] > 1e-3f;
            const int sep_next = r == 15 || rv[r] - rv[r + 1] > 1e-3f;
            if (!sep_prev || !sep_next) continue;
            checked++;
            if (top[r] != ti[(size_t)p * 16 + r]) {
                if (bad_top++ < 5)
                    cr_expect(0, "position %d rank %d: id %d, reference %d", p, r, top[r],
                              ti[(size_t)p * 16 + r]);
            }
        }
        const double b = bits_of(z, ids[p]);
        sum_bits += b;
        sum_ref += rb[p];
        const double d = fabs(b - rb[p]);
        if (d > worst_bits) worst_bits = d;
    }
    cr_log_info("lac-tiny vs PyTorch: logits 0..15 max |diff| %.3g; bits/token max |diff| %.3g;"
                " %d top-16 ranks checked; total bits %.4f (reference %.4f)",
                worst, worst_bits, checked, sum_bits, sum_ref);
    cr_expect(bad_top == 0, "%d of %d top-16 ranks differ", bad_top, checked);
    cr_expect(checked > n * 8, "too few separated ranks checked (%d)", checked);
    cr_expect(worst_bits <= 1e-3, "bits per token: max |diff| %.3g > 1e-3", worst_bits);
    if (!etu_quick())
        cr_expect(fabs(sum_ref - 6976.06) < 0.01, "reference sum %.3f", sum_ref);
    cr_expect(fabs(sum_bits - sum_ref) < 0.05, "total bits %.4f vs %.4f", sum_bits, sum_ref);
    free(out);
    free(ids);
    free(rl);
    free(tv);
    free(ti);
    free(rb);
}

Test(engine_tiny, bitwise_two_blocks) {
    const int quick = etu_quick();
    /* the scalar reference runs ~30 tokens/s: 128 tokens per block here, whole blocks in
     * tests/full_engine.c */
    etu_tiny_bitwise_blocks(tm, quick ? 128 : TN, quick ? 32 : 128);
}

/* weights_tools eval on alice29.txt: the ideal code length of shared/models/lac-tiny. */
Test(engine_tiny, eval_alice29_bpb) {
    if (etu_quick()) cr_skip_test("LAC_TEST_QUICK: whole-file eval skipped");
    const char *wt = getenv("WEIGHTS_TOOLS"), *model = getenv("LAC_DEFAULT_MODEL");
    cr_assert(wt && model, "WEIGHTS_TOOLS / LAC_DEFAULT_MODEL not set");
    char *txt = etu_shared_path("corpus/canterbury/alice29.txt");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' eval '%s' '%s' --threads 2", wt, model, txt);
    free(txt);
    FILE *f = popen(cmd, "r");
    cr_assert(f, "cannot run %s", cmd);
    char line[512];
    double bpb = -1, tokens = -1;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "bpb: %lf", &bpb);
        sscanf(line, "tokens: %lf", &tokens);
    }
    cr_assert_eq(pclose(f), 0, "%s failed", cmd);
    cr_expect_eq(tokens, 47022.0);
    cr_expect(fabs(bpb - 2.1385) <= 0.0005, "alice29.txt: %.6f bpb, expected 2.1385", bpb);
}

/* ---- the LM head read as F16 (engine/forward_fast.c: head_f16) ----------------------------- */
/* Engine names end the ISA with "+f16head" when the fast backend reads the LM head from
 * wte_t_f16; these tests check that the path is taken and that its bits are the scalar's. */
static const char *const f16_isas[3] = {"best", "avx2", "generic"};

static int f16_head_taken(const lac_model *m) {
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 1, .n_streams = 1};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(m, &o, &e, &err), LAC_OK, "%s", err.msg);
    const int taken = strstr(lac_engine_device_name(e), "+f16head") != NULL;
    cr_log_info("%s", lac_engine_device_name(e));
    lac_engine_free(e);
    return taken;
}

/* the ISA LAC_CPU_ISA names can read halves (AVX2's kernel needs F16C) */
static int f16_isa_can(const char *isa) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!strcmp(isa, "avx2") && !__builtin_cpu_supports("avx512f"))
        return __builtin_cpu_supports("f16c");
#endif
    (void)isa;
    return 1;
}

/* fast == ref (scalar logits of toks[0..n)) bitwise, for prefill on 1 and 2 threads and for
 * single steps, with the ISA LAC_CPU_ISA names; the f16 head must be taken */
static void f16_expect_fast(const lac_model *m, const int32_t *tk, int n, const float *ref,
                            const char *isa) {
    const size_t V = m->cfg.vocab_size;
    float *out = malloc((size_t)n * V * sizeof(float));
    cr_assert(out);
    const struct {
        int threads, chunk;
        const char *what;
    } runs[] = {{1, n, "prefill 1 thread"}, {2, n, "prefill 2 threads"}, {2, 1, "steps"}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        lac_error err;
        etu_poison(out, (size_t)n * V); /* each run writes every row itself */
        cr_assert_eq(etu_run(m, LAC_DEVICE_CPU, runs[r].threads, 1, 0, tk, n, runs[r].chunk,
                             NULL, out, &err), LAC_OK, "%s", err.msg);
        for (int i = 0; i < n; i++)
            if (memcmp(out + (size_t)i * V, ref + (size_t)i * V, V * sizeof(float))) {
                cr_expect(0, "%s %s: row %d differs from the scalar backend", isa,
                          runs[r].what, i);
                break;
            }
    }
    free(out);
}

/* widen: also with the widened halves forced on and off (the random model only: on lac-tiny
 * those runs took an ASan build past the suite's timeout; lac-tiny runs the CPU's default) */
static void f16_all_isas(const lac_model *m, const int32_t *tk, int n, int widen) {
    const size_t V = m->cfg.vocab_size;
    float *ref = malloc((size_t)n * V * sizeof(float));
    cr_assert(ref);
    etu_poison(ref, (size_t)n * V);
    lac_error err;
    cr_assert_eq(etu_run(m, LAC_DEVICE_CPU_SCALAR, 1, 1, 0, tk, n, n, NULL, ref, &err), LAC_OK,
                 "%s", err.msg);
    const long unwritten = etu_first_nan_row(ref, (size_t)n, V);
    cr_assert_eq(unwritten, -1, "scalar reference: row %ld is unwritten (NaN)", unwritten);
    for (int i = 0; i < 3; i++) {
        setenv("LAC_CPU_ISA", f16_isas[i], 1);
        if (f16_isa_can(f16_isas[i]))
            cr_expect(f16_head_taken(m), "%s: the LM head is not read as F16", f16_isas[i]);
        f16_expect_fast(m, tk, n, ref, f16_isas[i]);
    }
    /* packed weights (forward_fast.c) for every call, prefills included, and not at all */
    setenv("LAC_PACK_ROWS", "100000", 1);
    for (int i = 0; i < 3; i++) {
        setenv("LAC_CPU_ISA", f16_isas[i], 1);
        f16_expect_fast(m, tk, n, ref, f16_isas[i]);
    }
    unsetenv("LAC_CPU_ISA");
    /* halves widened once per block of columns in prefills (forward_fast.c f16_widen_pays:
     * Intel's cores by default), forced on and off on any CPU */
    if (widen) {
        setenv("LAC_WIDEN_F16", "1", 1);
        f16_expect_fast(m, tk, n, ref, "LAC_WIDEN_F16=1");
        setenv("LAC_WIDEN_F16", "0", 1);
        f16_expect_fast(m, tk, n, ref, "LAC_WIDEN_F16=0");
        unsetenv("LAC_WIDEN_F16");
    }
    setenv("LAC_F16_LAYERS", "0", 1);
    f16_expect_fast(m, tk, n, ref, "LAC_F16_LAYERS=0 packed fp32 layers");
    unsetenv("LAC_F16_LAYERS");
    unsetenv("LAC_PACK_ROWS");
    setenv("LAC_PACK", "0", 1);
    f16_expect_fast(m, tk, n, ref, "LAC_PACK=0");
    unsetenv("LAC_PACK");
    /* switched off for A/B timing: the fp32 head, same bits */
    setenv("LAC_F16_HEAD", "0", 1);
    cr_expect(!f16_head_taken(m), "LAC_F16_HEAD=0 did not switch the F16 head off");
    f16_expect_fast(m, tk, n, ref, "LAC_F16_HEAD=0");
    unsetenv("LAC_F16_HEAD");
    free(ref);
}

/* wte16 and wte_t_f16 hold exactly wte's and wte_t's values; a packed engine builds neither
 * transposed copy (model.h: they are made on first use) */
static void f16_copy_is_exact(const lac_model *m) {
    const size_t V = m->cfg.vocab_size, C = m->cfg.n_embd;
    cr_assert(m->wte16, "F16 model without wte16");
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 1, .n_streams = 1};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(m, &o, &e, &err), LAC_OK, "%s", err.msg);
    if (strstr(lac_engine_device_name(e), "+packed"))
        cr_expect(!m->wte_t && !m->wte_t_f16, "a packed engine built the transposed head");
    lac_engine_free(e);
    const uint16_t *t16 = lac_model_wte_t_f16(m);
    const float *t = lac_model_wte_t(m);
    cr_assert(t16 && t, "out of memory");
    size_t bad = 0;
    for (size_t i = 0; i < V * C; i++) {
        const float w = lacm_f16_to_f32(t16[i]);
        const float u = lacm_f16_to_f32((uint16_t)(m->wte16[2 * i] | m->wte16[2 * i + 1] << 8));
        bad += memcmp(&w, &t[i], sizeof w) != 0;
        bad += memcmp(&u, &m->wte[i], sizeof u) != 0;
        bad += t[(i % C) * V + i / C] != m->wte[i];
    }
    cr_expect(bad == 0, "%zu of %zu wte16 / wte_t_f16 / wte_t values are not wte's", bad, V * C);
}

/* a random F16 model of odd shapes: V = 1001 leaves tails after every ISA's panels and
 * vectors, n_embd = 288 > 256 spans two k blocks of the AVX-512 kernel */
Test(engine_f16_head, random_f16_model_odd_shapes) {
    lac_model_config cfg = {.n_layer = 1, .n_head = 4, .n_embd = 288, .n_ctx = 80,
                            .vocab_size = 1001, .n_inner = 200, .ln_eps = 1e-5f,
                            .storage = LAC_DTYPE_F16};
    lac_model *m;
    lac_error err;
    cr_assert_eq(lac_model_create_random(&cfg, 11, NULL, &m, &err), LAC_OK, "%s", err.msg);
    f16_copy_is_exact(m);
    int32_t tk[70];
    uint64_t s = 3;
    for (int i = 0; i < 70; i++) tk[i] = (int32_t)((s = s * 6364136223846793005ull + 1) >> 33) % 1001;
    f16_all_isas(m, tk, 70, 1);
    lac_model_close(m);
}

/* F32 and BF16 files keep the fp32 head */
Test(engine_f16_head, other_storage_has_no_f16_copy) {
    const lac_dtype dt[2] = {LAC_DTYPE_F32, LAC_DTYPE_BF16};
    for (int i = 0; i < 2; i++) {
        lac_model_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 32, .n_ctx = 16,
                                .vocab_size = 300, .n_inner = 64, .ln_eps = 1e-5f,
                                .storage = dt[i]};
        lac_model *m;
        lac_error err;
        cr_assert_eq(lac_model_create_random(&cfg, 5, NULL, &m, &err), LAC_OK, "%s", err.msg);
        cr_expect(m->wte16 == NULL && lac_model_wte_t_f16(m) == NULL, "storage %d has halves",
                  (int)dt[i]);
        cr_expect(!f16_head_taken(m));
        lac_model_close(m);
    }
}

/* lac-tiny (an F16 file): the first 48 tokens of alice29, every ISA */
Test(engine_tiny, f16_head_bitwise) {
    cr_assert(tm->cfg.storage == LAC_DTYPE_F16, "lac-tiny is expected to be stored as F16");
    f16_copy_is_exact(tm);
    int32_t *ids = shared_file("models/lac-tiny/reference/alice29_input_ids.i32", TN * 4);
    int32_t in[48];
    in[0] = (int32_t)tm->cfg.eot_token;
    memcpy(in + 1, ids, 47 * sizeof(int32_t));
    f16_all_isas(tm, in, 48, 0);
    free(ids);
}
