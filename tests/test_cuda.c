/* test_cuda.c — the CUDA backend gives the CPU's bits.
 *
 * quantizer_port: host self-check, runs everywhere: numerics/quant_steps.h (the element steps the
 *   GPU quantizer runs) rebuilt into whole rows equals numerics/quantize.c, bit for bit.
 * Every other test needs CUDA built (LAC_HAVE_CUDA) and a GPU; otherwise it is skipped with a
 * message. They compare with memcmp: GPU logits == CPU scalar logits (random tiny models and
 * lac-tiny, prefill and steps, several batch sizes); forward_code / forward_freqs == CPU
 * forward + lac_quantize_freqs; a .lacz made on the GPU == the one made on the CPU. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "exp2_table.h"
#include "lac.h"
#include "lacz_testutil.h" /* tmem: in-memory reader / writer */
#include "model.h"
#include "quant_steps.h"

/* ---- deterministic pseudo-random numbers -------------------------------------------------- */
static uint64_t rng_next(uint64_t *s) {
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }
static float rng_gauss(uint64_t *s) {
    const double u = rng_unit(s) + 1e-300, v = rng_unit(s);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ---- host self-check of the GPU quantizer's code ----------------------------------------- */
static void check_quant_row(const float *z, uint32_t V, const lac_coder_params *p) {
    uint32_t *want = malloc(V * sizeof *want), *got = malloc(V * sizeof *got);
    cr_assert(want && got);
    lac_quantize_freqs(p, z, V, want);
    lac_q_row(z, V, p->precision, p->frac_bits, p->temperature, LAC_EXP2_TABLE, got);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < V; i++) sum += got[i];
    cr_expect_eq(sum, (uint64_t)1 << p->precision, "V=%u P=%u: sum %llu", V, p->precision,
                 (unsigned long long)sum);
    uint32_t bad = V;
    for (uint32_t i = 0; i < V && bad == V; i++)
        if (got[i] != want[i]) bad = i;
    cr_expect_eq(bad, V, "V=%u P=%u s=%u T=%g: first difference at %u: port %u, quantize.c %u",
                 V, p->precision, p->frac_bits, (double)p->temperature, bad,
                 bad < V ? got[bad] : 0, bad < V ? want[bad] : 0);
    free(want);
    free(got);
}

Test(cuda, quantizer_port_matches_quantize_c) {
    const uint32_t V = 50257;
    float *z = malloc(V * sizeof *z);
    cr_assert(z);
    uint64_t seed = 42;
    const lac_coder_params params[] = {
        {30, 12, 1.0f}, {28, 8, 1.0f}, {31, 12, 0.7f}, {29, 10, 1.9f}, {30, 11, 1e-3f},
        {30, 12, 1e-38f}, {28, 9, 3e38f}};
    for (size_t pi = 0; pi < sizeof params / sizeof params[0]; pi++) {
        const lac_coder_params *p = &params[pi];
        for (int rep = 0; rep < 3; rep++) { /* realistic rows */
            const float sd = 2.0f + 1.5f * (float)rep;
            for (uint32_t i = 0; i < V; i++) z[i] = sd * rng_gauss(&seed);
            check_quant_row(z, V, p);
        }
        for (uint32_t i = 0; i < V; i++) z[i] = 0.25f; /* all equal */
        check_quant_row(z, V, p);
        for (uint32_t i = 0; i < V; i++) z[i] = rng_gauss(&seed); /* one huge */
        z[777] = 1e30f;
        check_quant_row(z, V, p);
        for (uint32_t i = 0; i < V; i++) z[i] = 1e4f * rng_gauss(&seed); /* huge range */
        check_quant_row(z, V, p);
        for (uint32_t i = 0; i < V; i++) z[i] = rng_gauss(&seed); /* specials */
        z[3] = -INFINITY;
        z[10] = NAN;
        z[11] = -0.0f;
        z[12] = 1e-40f;
        check_quant_row(z, V, p);
        z[5000] = INFINITY;
        check_quant_row(z, V, p);
        z[0] = NAN; /* NaN first */
        z[5000] = 3.0f;
        check_quant_row(z, V, p);
        for (uint32_t i = 0; i < V; i++) z[i] = (i % 3) ? -INFINITY : NAN; /* no maximum */
        check_quant_row(z, V, p);
        for (uint32_t i = 0; i < V; i++) z[i] = -INFINITY;
        check_quant_row(z, V, p);
        for (uint32_t n = 1; n <= 5; n++) { /* tiny vocabularies, ties */
            for (uint32_t i = 0; i < n; i++) z[i] = (float)(i % 2);
            check_quant_row(z, n, p);
        }
    }
    free(z);
}

/* ---- GPU tests ---------------------------------------------------------------------------- */
static int gpu_available(void) {
#ifdef LAC_HAVE_CUDA
    return lac_cuda_device_count() > 0;
#else
    return 0;
#endif
}

#define NEED_GPU()                                                                             \
    do {                                                                                       \
        if (!gpu_available())                                                                  \
            cr_skip_test("%s", "no CUDA GPU (or built without CUDA): GPU comparison skipped"); \
    } while (0)

static int32_t tok_of(int b, int i, uint32_t V) {
    return (int32_t)(((uint64_t)i * 7919u + (uint64_t)b * 104729u + 17u) % V);
}

/* Runs `ncalls` forward calls on a fresh engine: call c appends calls[c*B + b] tokens to stream
 * b (tokens tok_of(b, position)). Returns the logits of every stream, [B][T][V], where T is
 * the per-stream total (the same for every stream). */
static float *run_logits(const lac_model *m, lac_device dev, int B, const int *calls, int ncalls,
                         int T) {
    const uint32_t V = m->cfg.vocab_size;
    lac_engine_options opt = {.device = dev, .n_streams = B, .max_rows = B * (int)m->cfg.n_ctx};
    lac_engine *e = NULL;
    lac_error err = {0};
    cr_assert_eq(lac_engine_create(m, &opt, &e, &err), LAC_OK, "engine: %s", err.msg);
    float *out = malloc((size_t)B * T * V * sizeof(float));
    cr_assert(out);
    int done[64] = {0};
    for (int c = 0; c < ncalls; c++) {
        int32_t *toks[64];
        const int32_t *ctoks[64];
        float *lg[64];
        for (int b = 0; b < B; b++) {
            const int n = calls[c * B + b];
            toks[b] = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
            for (int i = 0; i < n; i++) toks[b][i] = tok_of(b, done[b] + i, V);
            ctoks[b] = toks[b];
            lg[b] = out + ((size_t)b * T + done[b]) * V;
        }
        cr_assert_eq(lac_engine_forward(e, ctoks, calls + c * B, lg, &err), LAC_OK, "%s",
                     err.msg);
        for (int b = 0; b < B; b++) {
            done[b] += calls[c * B + b];
            free(toks[b]);
        }
    }
    for (int b = 0; b < B; b++) cr_assert_eq(done[b], T);
    lac_engine_free(e);
    return out;
}

static void expect_same(const float *a, const float *b, size_t n, const char *what) {
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (memcmp(a + i, b + i, sizeof(float)) != 0) bad = i;
    cr_expect_eq(bad, n, "%s: first differing logit at %zu: %.9g vs %.9g", what, bad,
                 bad < n ? (double)a[bad] : 0.0, bad < n ? (double)b[bad] : 0.0);
}

static lac_model *random_model(uint32_t layers, uint32_t heads, uint32_t C, uint32_t n_ctx,
                               uint32_t V, uint64_t seed) {
    lac_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_layer = layers;
    cfg.n_head = heads;
    cfg.n_embd = C;
    cfg.n_ctx = n_ctx;
    cfg.vocab_size = V;
    cfg.n_inner = 4 * C;
    cfg.ln_eps = 1e-5f;
    cfg.eot_token = V - 1;
    cfg.storage = LAC_DTYPE_F32;
    cfg.is_random = 1;
    snprintf(cfg.name, sizeof cfg.name, "cuda-test");
    lac_model *m = NULL;
    lac_error err = {0};
    cr_assert_eq(lac_model_create_random(&cfg, seed, NULL, &m, &err), LAC_OK, "%s", err.msg);
    return m;
}

/* prefill vs steps vs batch size: each engine run against the CPU scalar reference */
static void compare_model(const lac_model *m, int T) {
    const uint32_t V = m->cfg.vocab_size;
    for (int B = 1; B <= 3; B += 2) {
        int prefill[3], *steps = malloc((size_t)T * B * sizeof(int)), mixed[3 * 3];
        for (int b = 0; b < B; b++) prefill[b] = T;
        for (int i = 0; i < T * B; i++) steps[i] = 1;
        /* mixed: uneven chunks, some streams idle in some calls */
        const int a = T / 3, c2 = T / 2;
        for (int b = 0; b < B; b++) {
            mixed[0 * B + b] = (b % 2) ? 0 : a;
            mixed[1 * B + b] = (b % 2) ? c2 : 1;
            mixed[2 * B + b] = T - mixed[0 * B + b] - mixed[1 * B + b];
        }
        float *cpu = run_logits(m, LAC_DEVICE_CPU_SCALAR, B, prefill, 1, T);
        float *g1 = run_logits(m, LAC_DEVICE_CUDA, B, prefill, 1, T);
        float *g2 = run_logits(m, LAC_DEVICE_CUDA, B, steps, T, T);
        float *g3 = run_logits(m, LAC_DEVICE_CUDA, B, mixed, 3, T);
        const size_t n = (size_t)B * T * V;
        expect_same(g1, cpu, n, "GPU prefill vs CPU scalar");
        expect_same(g2, cpu, n, "GPU steps vs CPU scalar");
        expect_same(g3, cpu, n, "GPU mixed calls vs CPU scalar");
        free(cpu);
        free(g1);
        free(g2);
        free(g3);
        free(steps);
    }
}

Test(cuda, random_models_match_cpu) {
    NEED_GPU();
    struct { uint32_t L, H, C, ctx, V; } shapes[] = {
        {2, 4, 64, 48, 300}, {1, 3, 96, 40, 509}, {3, 2, 40, 33, 257}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        lac_model *m = random_model(shapes[i].L, shapes[i].H, shapes[i].C, shapes[i].ctx,
                                    shapes[i].V, 1000 + i);
        compare_model(m, (int)shapes[i].ctx);
        lac_model_close(m);
    }
}

static lac_model *open_default_model(void) {
    const char *path = getenv("LAC_DEFAULT_MODEL");
    cr_assert(path, "LAC_DEFAULT_MODEL is not set (run through ctest)");
    lac_model *m = NULL;
    lac_error err = {0};
    cr_assert_eq(lac_model_open(path, &m, &err), LAC_OK, "%s", err.msg);
    return m;
}

Test(cuda, lac_tiny_matches_cpu) {
    NEED_GPU();
    lac_model *m = open_default_model();
    const int T = 160, B = 2;
    const uint32_t V = m->cfg.vocab_size;
    int prefill[2] = {T, T}, chunks[4] = {100, 1, 60, T - 1};
    float *cpu = run_logits(m, LAC_DEVICE_CPU, B, prefill, 1, T);
    float *g1 = run_logits(m, LAC_DEVICE_CUDA, B, prefill, 1, T);
    float *g2 = run_logits(m, LAC_DEVICE_CUDA, B, chunks, 2, T);
    expect_same(g1, cpu, (size_t)B * T * V, "lac-tiny GPU prefill vs CPU");
    expect_same(g2, cpu, (size_t)B * T * V, "lac-tiny GPU chunks vs CPU");
    free(cpu);
    free(g1);
    free(g2);
    lac_model_close(m);
}

/* forward_code / forward_freqs on the GPU == CPU logits + lac_quantize_freqs */
static void check_fused(const lac_model *m, const lac_coder_params *p, int B, int T) {
    const uint32_t V = m->cfg.vocab_size;
    int prefill[8];
    for (int b = 0; b < B; b++) prefill[b] = T;
    float *cpu = run_logits(m, LAC_DEVICE_CPU, B, prefill, 1, T);

    lac_engine_options opt = {.device = LAC_DEVICE_CUDA, .n_streams = B, .max_rows = B * T};
    lac_engine *e = NULL, *e2 = NULL;
    lac_error err = {0};
    cr_assert_eq(lac_engine_create(m, &opt, &e, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_engine_create(m, &opt, &e2, &err), LAC_OK, "%s", err.msg);
    int32_t *toks = malloc((size_t)B * T * sizeof(int32_t)),
            *tgts = malloc((size_t)B * T * sizeof(int32_t));
    uint32_t *cum = malloc((size_t)B * T * 4), *fr = malloc((size_t)B * T * 4),
             *rows = malloc((size_t)B * T * V * 4), *want = malloc((size_t)V * 4);
    cr_assert(toks && tgts && cum && fr && rows && want);
    const int32_t *tp[8], *gp[8];
    uint32_t *cp[8], *fp[8], *rp[8];
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < T; i++) {
            toks[b * T + i] = tok_of(b, i, V);
            tgts[b * T + i] = tok_of(b, i + 1, V);
        }
        tp[b] = toks + b * T;
        gp[b] = tgts + b * T;
        cp[b] = cum + b * T;
        fp[b] = fr + b * T;
        rp[b] = rows + (size_t)b * T * V;
    }
    cr_assert_eq(lac_engine_forward_code(e, tp, prefill, gp, p, cp, fp, &err), LAC_OK, "%s",
                 err.msg);
    cr_assert_eq(lac_engine_forward_freqs(e2, tp, prefill, p, rp, &err), LAC_OK, "%s", err.msg);
    int bad_code = 0, bad_rows = 0;
    for (int r = 0; r < B * T; r++) {
        lac_quantize_freqs(p, cpu + (size_t)r * V, V, want);
        uint32_t c = 0;
        for (int i = 0; i < tgts[r]; i++) c += want[i];
        if (cum[r] != c || fr[r] != want[tgts[r]]) bad_code++;
        if (memcmp(rows + (size_t)r * V, want, (size_t)V * 4) != 0) bad_rows++;
    }
    cr_expect_eq(bad_code, 0, "forward_code: %d of %d rows differ from the CPU (P=%u s=%u)",
                 bad_code, B * T, p->precision, p->frac_bits);
    cr_expect_eq(bad_rows, 0, "forward_freqs: %d of %d rows differ from the CPU", bad_rows,
                 B * T);
    lac_engine_free(e);
    lac_engine_free(e2);
    free(cpu);
    free(toks);
    free(tgts);
    free(cum);
    free(fr);
    free(rows);
    free(want);
}

Test(cuda, fused_quantizer_matches_cpu) {
    NEED_GPU();
    lac_coder_params p;
    lac_coder_params_default(&p);
    lac_model *m = random_model(2, 4, 64, 64, 400, 7);
    check_fused(m, &p, 3, 64);
    lac_coder_params q = {28, 8, 0.8f};
    check_fused(m, &q, 2, 50);
    lac_model_close(m);
    m = open_default_model();
    check_fused(m, &p, 2, 96);
    lac_model_close(m);
}

/* forward_decode on the GPU == on the CPU: B streams, one token each per call (stream 1
 * idles every third call), targets over [0, 2^P) including both ends. */
static void check_decode(const lac_model *m, const lac_coder_params *p, int B, int steps) {
    const uint32_t V = m->cfg.vocab_size;
    lac_engine_options og = {.device = LAC_DEVICE_CUDA, .n_streams = B, .max_rows = B};
    lac_engine_options oc = {.device = LAC_DEVICE_CPU, .n_streams = B, .max_rows = B};
    lac_engine *g = NULL, *c = NULL;
    lac_error err = {0};
    cr_assert_eq(lac_engine_create(m, &og, &g, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_engine_create(m, &oc, &c, &err), LAC_OK, "%s", err.msg);
    int32_t tok[8], sg[8], sc[8];
    const int32_t *tp[8];
    uint32_t tg[8], cg[8], fg[8], cc[8], fc[8];
    int counts[8], bad = 0, n = 0;
    uint64_t rs = 5;
    for (int i = 0; i < steps; i++) {
        for (int b = 0; b < B; b++) {
            counts[b] = !(b == 1 && i % 3 == 2);
            tok[b] = tok_of(b, lac_engine_position(g, b), V);
            tp[b] = &tok[b];
            tg[b] = i % 7 == 0 ? 0 : i % 7 == 1 ? (1u << p->precision) - 1
                                : (uint32_t)(rng_unit(&rs) * (double)(1u << p->precision));
        }
        cr_assert_eq(lac_engine_forward_decode(g, tp, counts, p, tg, sg, cg, fg, &err), LAC_OK,
                     "%s", err.msg);
        cr_assert_eq(lac_engine_forward_decode(c, tp, counts, p, tg, sc, cc, fc, &err), LAC_OK,
                     "%s", err.msg);
        for (int b = 0; b < B; b++) {
            if (!counts[b]) continue;
            n++;
            bad += sg[b] != sc[b] || cg[b] != cc[b] || fg[b] != fc[b];
        }
    }
    cr_expect_eq(bad, 0, "forward_decode: %d of %d symbols differ from the CPU (P=%u)", bad, n,
                 p->precision);
    lac_engine_free(g);
    lac_engine_free(c);
}

Test(cuda, decode_step_matches_cpu) {
    NEED_GPU();
    lac_coder_params p;
    lac_coder_params_default(&p);
    lac_model *m = random_model(2, 4, 64, 64, 3000, 9);
    check_decode(m, &p, 5, 60);
    lac_coder_params q = {28, 8, 0.8f};
    check_decode(m, &q, 3, 40);
    lac_model_close(m);
    m = open_default_model();
    check_decode(m, &p, 4, 48);
    /* the same steps without CUDA graphs (the default replays captured steps) */
    setenv("LAC_CUDA_GRAPHS", "0", 1);
    check_decode(m, &p, 4, 20);
    unsetenv("LAC_CUDA_GRAPHS");
    lac_model_close(m);
}

/* ---- .lacz made on the GPU == made on the CPU --------------------------------------------- */
/* alice29.txt from ../shared, or (a machine without it) this project's own NUMERICS.md */
static tmem read_text(size_t max) {
    const char *shared = getenv("LAC_SHARED"), *src = getenv("LAC_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/corpus/canterbury/alice29.txt", shared ? shared : "../shared");
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(path, sizeof path, "%s/docs/NUMERICS.md", src ? src : ".");
        f = fopen(path, "rb");
    }
    cr_assert(f, "cannot open %s", path);
    tmem b = {malloc(max), 0, max, 0, 0};
    cr_assert(b.p);
    b.n = fread(b.p, 1, max, f);
    fclose(f);
    return b;
}

static tmem compress_with(const lac_model *m, const tmem *text, lac_device dev, int B) {
    lac_params p;
    lac_params_default(&p);
    p.engine.device = dev;
    p.engine.n_streams = B;
    p.block_tokens = 256;
    tmem in = *text, out = {0};
    in.pos = 0;
    lac_stats st;
    lac_error err = {0};
    cr_assert_eq(lac_compress(m, &p, tmem_read, &in, tmem_write, &out, &st, &err), LAC_OK, "%s",
                 err.msg);
    return out;
}

Test(cuda, lacz_identical_to_cpu) {
    NEED_GPU();
    lac_model *m = open_default_model();
    tmem text = read_text(12000);
    tmem cpu = compress_with(m, &text, LAC_DEVICE_CPU, 1);
    tmem gpu = compress_with(m, &text, LAC_DEVICE_CUDA, 4);
    cr_expect_eq(gpu.n, cpu.n, "GPU .lacz is %zu bytes, CPU %zu", gpu.n, cpu.n);
    cr_expect(gpu.n == cpu.n && memcmp(gpu.p, cpu.p, cpu.n) == 0, "GPU .lacz differs from CPU");

    /* and the GPU decodes it back (4 blocks in lock-step) */
    lac_params p;
    lac_params_default(&p);
    p.engine.device = LAC_DEVICE_CUDA;
    p.engine.n_streams = 4;
    tmem out = {0};
    lac_stats st;
    lac_error err = {0};
    gpu.pos = 0;
    cr_assert_eq(lac_decompress(m, &p, tmem_read, &gpu, tmem_write, &out, &st, &err), LAC_OK, "%s",
                 err.msg);
    cr_expect(out.n == text.n && memcmp(out.p, text.p, text.n) == 0, "GPU round trip differs");
    /* and the CPU decodes the GPU's file */
    p.engine.device = LAC_DEVICE_CPU;
    out.n = 0;
    gpu.pos = 0;
    cr_assert_eq(lac_decompress(m, &p, tmem_read, &gpu, tmem_write, &out, &st, &err), LAC_OK, "%s",
                 err.msg);
    cr_expect(out.n == text.n && memcmp(out.p, text.p, text.n) == 0,
              "CPU decoding of the GPU file differs");
    free(out.p);
    free(cpu.p);
    free(gpu.p);
    free(text.p);
    lac_model_close(m);
}
