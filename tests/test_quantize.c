/* Quantizer tests (numerics/quantize.c, docs/NUMERICS.md §9, docs/CODER.md). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lac.h"

#include "exp2_table.h"
#include "quantize.h"

#define GPT2_V 50257u

/* ---- deterministic PRNG (splitmix64) and a Gaussian from it ---- */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return ((double)(rng_next(s) >> 11) + 0.5) * 0x1p-53; }
static double rng_gauss(uint64_t *s) {
    return sqrt(-2.0 * log(rng_unit(s))) * cos(6.283185307179586 * rng_unit(s));
}

static lac_coder_params params(uint32_t P, uint32_t s, float T) {
    lac_coder_params p = {.precision = P, .frac_bits = s, .temperature = T};
    return p;
}

/* Every freq >= 1, sum == 2^P exactly; returns the index of the largest freq. */
static uint32_t check_row(const lac_coder_params *p, const float *z, uint32_t V, uint32_t *f,
                          const char *what) {
    memset(f, 0xA5, (size_t)V * sizeof *f);
    lac_quantize_freqs(p, z, V, f);
    uint64_t sum = 0;
    uint32_t best = 0;
    for (uint32_t i = 0; i < V; i++) {
        if (f[i] < 1)
            cr_assert_fail("%s: freq[%u] = 0 (V=%u P=%u s=%u T=%g)", what, i, V, p->precision,
                           p->frac_bits, (double)p->temperature);
        sum += f[i];
        if (f[i] > f[best]) best = i;
    }
    cr_assert_eq(sum, (uint64_t)1 << p->precision, "%s: sum %llu != 2^%u (V=%u s=%u T=%g)", what,
                 (unsigned long long)sum, p->precision, V, p->frac_bits,
                 (double)p->temperature);
    return best;
}

/* lac_freqs_find: every target of a small row, both ends, and a clamped target. */
Test(quantize, freqs_find) {
    const uint32_t f[5] = {3, 1, 4, 1, 7}; /* total 16 */
    const uint32_t want[16] = {0, 0, 0, 1, 2, 2, 2, 2, 3, 4, 4, 4, 4, 4, 4, 4};
    for (uint32_t t = 0; t < 16; t++) {
        uint32_t c = 99, fr = 99;
        const uint32_t s = lac_freqs_find(f, 5, t, &c, &fr);
        cr_assert_eq(s, want[t], "target %u", t);
        cr_assert(c <= t && t - c < fr, "target %u: cum %u freq %u", t, c, fr);
        cr_assert_eq(fr, f[s]);
    }
    uint32_t c, fr;
    cr_expect_eq(lac_freqs_find(f, 5, 1000, &c, &fr), 4u);
    cr_expect_eq(c, 9u);
    cr_expect_eq(lac_freqs_find(f, 0, 3, &c, &fr), 0u);
    cr_expect_eq(fr, 0u);
}

Test(quantize, params_default_and_check) {
    lac_coder_params p;
    lac_coder_params_default(&p);
    cr_assert_eq(p.precision, 30);
    cr_assert_eq(p.frac_bits, 12);
    cr_assert_eq(p.temperature, 1.0f);
    lac_error err;
    cr_assert_eq(lac_coder_params_check(&p, &err), LAC_OK);
    for (uint32_t P = 28; P <= 31; P++)
        for (uint32_t s = 8; s <= 12; s++) {
            lac_coder_params q = params(P, s, 0.5f);
            cr_assert_eq(lac_coder_params_check(&q, &err), LAC_OK);
        }
    struct {
        lac_coder_params p;
        const char *field;
    } bad[] = {
        {params(27, 12, 1), "precision"},     {params(32, 12, 1), "precision"},
        {params(0, 12, 1), "precision"},      {params(30, 7, 1), "frac_bits"},
        {params(30, 13, 1), "frac_bits"},     {params(30, 12, 0), "temperature"},
        {params(30, 12, -1), "temperature"},  {params(30, 12, INFINITY), "temperature"},
        {params(30, 12, NAN), "temperature"}, {params(30, 12, -0.0f), "temperature"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lac_error_clear(&err);
        cr_assert_eq(lac_coder_params_check(&bad[i].p, &err), LAC_ERR_ARG, "case %zu", i);
        cr_assert_eq(err.code, LAC_ERR_ARG);
        cr_assert(strstr(err.msg, bad[i].field), "case %zu: message '%s' lacks '%s'", i,
                  err.msg, bad[i].field);
        cr_assert(!strchr(err.msg, '\n'));
    }
    cr_assert_eq(lac_coder_params_check(NULL, &err), LAC_ERR_ARG);
    cr_assert_eq(lac_coder_params_check(&bad[0].p, NULL), LAC_ERR_ARG); /* NULL err is fine */
}

Test(quantize, exp2_table_matches_long_double) {
    cr_assert_eq(LAC_EXP2_TABLE[0], 1u << 31);
    long double worst = 0;
    for (int f = 0; f < 4096; f++) {
        long double exact = 2147483648.0L * exp2l(-(long double)f / 4096.0L);
        long double d = fabsl((long double)LAC_EXP2_TABLE[f] - exact);
        if (d > worst) worst = d;
        cr_assert(d <= 1.0L, "EXP2[%d] = %u, exp2l gives %.6Lf", f, LAC_EXP2_TABLE[f], exact);
        if (f > 0) cr_assert_lt(LAC_EXP2_TABLE[f], LAC_EXP2_TABLE[f - 1]);
    }
    /* the generator rounds exactly, so the error is at most half a unit */
    cr_assert(worst <= 0.5L + 1e-6L, "worst error %.9Lf units", worst);
}

Test(quantize, random_rows_all_params) {
    uint64_t rs = 11;
    uint32_t *f = malloc(GPT2_V * sizeof *f);
    float *z = malloc(GPT2_V * sizeof *z);
    const float temps[] = {1.0f, 0.7f, 1.3f, 0.05f, 20.0f};
    for (int trial = 0; trial < 120; trial++) {
        uint32_t P = 28 + (uint32_t)(trial % 4);
        uint32_t s = 8 + (uint32_t)((trial / 4) % 5);
        float T = temps[(trial / 20) % 5];
        uint32_t V = trial % 3 == 0 ? GPT2_V : 1 + (uint32_t)(rng_next(&rs) % GPT2_V);
        double sd = 0.5 + 10.0 * rng_unit(&rs), mean = 40.0 * rng_gauss(&rs);
        for (uint32_t i = 0; i < V; i++) z[i] = (float)(mean + sd * rng_gauss(&rs));
        lac_coder_params p = params(P, s, T);
        /* i* (which also receives the rounding remainder) has the first largest freq */
        uint32_t istar = check_row(&p, z, V, f, "random");
        /* monotone: a larger logit never gets a smaller frequency; compare neighbours */
        for (uint32_t i = 1; i < V; i++) {
            uint32_t a = i - 1, b = i;
            if (a == istar || b == istar) continue;
            if (z[a] > z[b]) cr_assert_geq(f[a], f[b], "monotonicity at %u", i);
            if (z[a] < z[b]) cr_assert_leq(f[a], f[b], "monotonicity at %u", i);
        }
    }
    free(f);
    free(z);
}

Test(quantize, extreme_rows) {
    uint32_t *f = malloc(GPT2_V * sizeof *f);
    float *z = malloc(GPT2_V * sizeof *z);
    const uint32_t Vs[] = {1, 2, 3, 7, 1000, GPT2_V};
    for (uint32_t P = 28; P <= 31; P++)
        for (uint32_t s = 8; s <= 12; s += 2)
            for (size_t vi = 0; vi < sizeof Vs / sizeof Vs[0]; vi++) {
                uint32_t V = Vs[vi];
                lac_coder_params p = params(P, s, 1.0f);
                uint64_t total = (uint64_t)1 << P;

                /* all equal: uniform, the remainder on index 0 */
                for (uint32_t i = 0; i < V; i++) z[i] = 3.25f;
                check_row(&p, z, V, f, "all equal");
                for (uint32_t i = 1; i < V; i++) cr_assert_eq(f[i], f[1]);
                if (V > 1) cr_assert_geq(f[0], f[1]);
                if (V > 1) cr_assert_leq((uint64_t)f[1], total / V);

                /* one huge logit: it gets nearly everything, the others 1 */
                for (uint32_t i = 0; i < V; i++) z[i] = (float)(i % 17) - 8.0f;
                z[V / 2] = 1e30f;
                uint32_t best = check_row(&p, z, V, f, "one huge");
                cr_assert_eq(best, V / 2);
                for (uint32_t i = 0; i < V; i++)
                    if (i != V / 2) cr_assert_eq(f[i], 1);

                /* huge range: -FLT_MAX .. FLT_MAX (z - m overflows to -inf) */
                for (uint32_t i = 0; i < V; i++)
                    z[i] = (i & 1) ? -3.4028235e38f : 3.4028235e38f * (float)(i % 5) / 4.0f;
                check_row(&p, z, V, f, "huge range");

                /* -inf and NaN entries among finite ones: they get freq 1 */
                for (uint32_t i = 0; i < V; i++)
                    z[i] = i % 3 == 1 ? -INFINITY : i % 3 == 2 ? NAN : (float)(i % 11);
                check_row(&p, z, V, f, "-inf/NaN");
                for (uint32_t i = 0; i < V; i++)
                    if (i % 3 != 0) cr_assert_eq(f[i], 1, "-inf/NaN entry %u got %u", i, f[i]);

                /* rows without a finite maximum are uniform (docs/CODER.md) */
                for (int kind = 0; kind < 4; kind++) {
                    for (uint32_t i = 0; i < V; i++)
                        z[i] = kind == 0   ? NAN
                               : kind == 1 ? -INFINITY
                               : kind == 2 ? (i % 2 ? NAN : -INFINITY)
                                           : (float)i;
                    if (kind == 3) z[V - 1] = INFINITY;
                    check_row(&p, z, V, f, "no finite max");
                    for (uint32_t i = 1; i < V; i++) cr_assert_eq(f[i], f[1]);
                    if (V > 1) cr_assert_leq((uint64_t)f[1], total / V);
                }
            }
    /* temperatures at the extremes of the accepted range */
    for (uint32_t i = 0; i < GPT2_V; i++) z[i] = (float)(i % 1000) * 0.01f;
    const float Ts[] = {1e-38f, 1e-30f, 1e-6f, 1e6f, 3.4e38f};
    for (size_t t = 0; t < sizeof Ts / sizeof Ts[0]; t++) {
        lac_coder_params p = params(30, 12, Ts[t]);
        check_row(&p, z, GPT2_V, f, "extreme T");
    }
    /* invalid arguments write zeros (which the range coder refuses), never crash */
    lac_coder_params bad = params(30, 12, -1.0f);
    lac_quantize_freqs(&bad, z, 10, f);
    for (int i = 0; i < 10; i++) cr_assert_eq(f[i], 0);
    bad = params(28, 12, 1.0f);
    f[0] = 7;
    lac_quantize_freqs(&bad, z, 0, f); /* V = 0: nothing */
    cr_assert_eq(f[0], 7);
    free(f);
    free(z);
}

/* Cross-entropy of the quantized distribution against the ideal double-precision softmax,
 * Gaussian logits with std 3..5 at V = 50257, default parameters. */
Test(quantize, cross_entropy_overhead) {
    uint64_t rs = 12;
    uint32_t *f = malloc(GPT2_V * sizeof *f);
    float *z = malloc(GPT2_V * sizeof *z);
    double *pr = malloc(GPT2_V * sizeof *pr);
    const double sds[] = {3.0, 4.0, 5.0};
    lac_coder_params p;
    lac_coder_params_default(&p);
    double worst = 0;
    for (int trial = 0; trial < 6; trial++) {
        double sd = sds[trial % 3];
        for (uint32_t i = 0; i < GPT2_V; i++) z[i] = (float)(sd * rng_gauss(&rs));
        check_row(&p, z, GPT2_V, f, "gaussian");
        double m = -INFINITY, S = 0;
        for (uint32_t i = 0; i < GPT2_V; i++) m = fmax(m, z[i]);
        for (uint32_t i = 0; i < GPT2_V; i++) S += (pr[i] = exp((double)z[i] - m));
        double H = 0, X = 0;
        for (uint32_t i = 0; i < GPT2_V; i++) {
            double q = pr[i] / S;
            if (q <= 0) continue;
            H -= q * log2(q);
            X -= q * (log2((double)f[i]) - (double)p.precision);
        }
        double rel = (X - H) / H;
        printf("quantize: gaussian sd=%.0f entropy %.4f bits, cross-entropy %.4f, overhead "
               "%.5f%%\n",
               sd, H, X, rel * 100);
        cr_assert_geq(rel, -1e-12, "cross-entropy below the entropy?");
        cr_assert_leq(rel, 0.003, "overhead %.4f%% > 0.3%%", rel * 100);
        if (rel > worst) worst = rel;
    }
    printf("quantize: worst cross-entropy overhead %.5f%%\n", worst * 100);
    free(f);
    free(z);
    free(pr);
}

/* NUMERICS §9 written out literally, one plain loop per step (64-bit shift as in the spec, the
 * no-u=0 rule of docs/CODER.md). lac_quantize_freqs (blocked, vectorised, with AVX2/AVX-512
 * clones on x86-64) must give exactly these integers. */
static void ref_quantize(const lac_coder_params *p, const float *z, uint32_t V, uint32_t *f,
                         uint64_t *w, uint32_t *u) {
    const uint32_t P = p->precision, s = p->frac_bits;
    float m = -INFINITY;
    for (uint32_t i = 0; i < V; i++)
        if (z[i] > m) m = z[i];
    const float c = (1.44269504f * (float)(1 << s)) / p->temperature;
    const float L = (float)(48 << s);
    for (uint32_t i = 0; i < V; i++) {
        float y = (z[i] - m) * c;
        if (!(y >= -L)) y = -L;
        u[i] = (uint32_t)((0.0f - y) + 0.5f);
    }
    uint32_t istar = V;
    for (uint32_t i = 0; i < V && istar == V; i++)
        if (u[i] == 0) istar = i;
    if (istar == V) {
        for (uint32_t i = 0; i < V; i++) u[i] = 0;
        istar = 0;
    }
    uint64_t W = 0;
    for (uint32_t i = 0; i < V; i++) {
        uint64_t e = LAC_EXP2_TABLE[(u[i] & ((1u << s) - 1)) << (12 - s)];
        w[i] = e >> (u[i] >> s);
        W += w[i];
    }
    uint64_t A = ((uint64_t)1 << P) - V, k = (A << 32) / W, sum = 0;
    for (uint32_t i = 0; i < V; i++) {
        f[i] = (uint32_t)(1 + ((w[i] * k) >> 32));
        sum += f[i];
    }
    f[istar] += (uint32_t)(((uint64_t)1 << P) - sum);
}

/* fn against ref_quantize on 200 rows: random sizes (the scalar tails), all P and s, several
 * temperatures, NaN / +-inf / signed zeros / subnormals, the argmax in the tail. */
typedef void quantize_fn(const lac_coder_params *, const float *, uint32_t, uint32_t *);
static void matches_reference_with(quantize_fn *fn, const char *name) {
    uint64_t rs = 14;
    uint32_t *f = malloc(GPT2_V * sizeof *f), *g = malloc(GPT2_V * sizeof *g);
    uint32_t *u = malloc(GPT2_V * sizeof *u);
    uint64_t *w = malloc(GPT2_V * sizeof *w);
    float *z = malloc(GPT2_V * sizeof *z);
    const float temps[] = {1.0f, 0.8f, 2.5f, 1e-3f};
    for (int trial = 0; trial < 200; trial++) {
        uint32_t V = trial % 4 == 0 ? GPT2_V
                                    : 1 + (uint32_t)(rng_next(&rs) % (trial < 100 ? 70 : GPT2_V));
        lac_coder_params p = params(28 + (uint32_t)(trial % 4), 8 + (uint32_t)(trial % 5),
                                    temps[(trial / 7) % 4]);
        double sd = 0.1 + 8.0 * rng_unit(&rs);
        int special = trial % 3 == 0;
        for (uint32_t i = 0; i < V; i++) {
            z[i] = (float)(sd * rng_gauss(&rs));
            if (special) {
                uint64_t r = rng_next(&rs) % 64;
                if (r == 0) z[i] = NAN;
                else if (r == 1) z[i] = -INFINITY;
                else if (r == 2) z[i] = 0.0f;
                else if (r == 3) z[i] = -0.0f;
                else if (r == 4) z[i] = 1e-40f; /* subnormal */
            }
        }
        if (trial % 11 == 5) z[rng_next(&rs) % V] = INFINITY;
        if (trial % 13 == 6) z[V - 1] = 1e4f; /* argmax in the scalar tail */
        if (trial % 17 == 8) /* no finite maximum: the uniform row */
            for (uint32_t i = 0; i < V; i++) z[i] = i % 2 ? NAN : -INFINITY;
        memset(f, 0xA5, (size_t)V * sizeof *f); /* nothing left over from the last row */
        fn(&p, z, V, f);
        ref_quantize(&p, z, V, g, w, u);
        for (uint32_t i = 0; i < V; i++)
            if (f[i] != g[i])
                cr_assert_fail("%s: trial %d V=%u P=%u s=%u: freq[%u] = %u, reference %u", name,
                               trial, V, p.precision, p.frac_bits, i, f[i], g[i]);
    }
    free(f);
    free(g);
    free(u);
    free(w);
    free(z);
}

/* The public entry point: whichever variant the loader picked on this CPU. */
Test(quantize, matches_reference) {
    matches_reference_with(lac_quantize_freqs, "lac_quantize_freqs");
}

/* Every ISA variant by name (numerics/quantize.h): a variant that computed other frequencies
 * would break decoding between machines, whichever one this CPU happens to pick. A variant
 * the CPU cannot run is skipped, with the reason on stderr. */
Test(quantize, variant_generic) {
    matches_reference_with(lac_quantize_freqs_generic, "generic");
}

#if LAC_QUANT_ISA_VARIANTS
Test(quantize, variant_x86_64_v3) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("x86-64-v3")) {
        fprintf(stderr, "SKIP quantize::variant_x86_64_v3: this CPU has no AVX2 (x86-64-v3)\n");
        cr_skip_test("this CPU has no AVX2 (x86-64-v3)");
    }
    matches_reference_with(lac_quantize_freqs_x86_64_v3, "x86-64-v3");
}

Test(quantize, variant_x86_64_v4) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("x86-64-v4")) {
        fprintf(stderr, "SKIP quantize::variant_x86_64_v4: this CPU has no AVX-512 "
                        "(x86-64-v4); the AVX-512 variant is not checked here\n");
        cr_skip_test("this CPU has no AVX-512 (x86-64-v4)");
    }
    matches_reference_with(lac_quantize_freqs_x86_64_v4, "x86-64-v4");
}
#else
Test(quantize, variant_isa) {
    fprintf(stderr, "SKIP quantize::variant_isa: no ISA variants in this build (not GCC on "
                    "x86-64 Linux): only the generic one exists\n");
    cr_skip_test("no ISA variants in this build");
}
#endif

/* Golden vectors: the frequencies are part of the .lacz format (NUMERICS §9). Computed once
 * with this implementation; any change here is a new numerics version. */
Test(quantize, golden) {
    const float z[16] = {1.5f,  -2.25f, 7.0f,      7.0f,      0.0f,     -100.0f, 3.1415927f, NAN,
                         6.99f, -INFINITY, 2.71828f, -0.001f, 12.5f, 12.4999f, -7.75f, 4.0f};
    const lac_coder_params p1 = params(30, 12, 1.0f), p2 = params(28, 8, 0.7f);
    const uint32_t golden1[16] = {8912u,     210u,       2180539u, 2180539u, 1989u,      1u,
                                  46016u,    1u,         2158876u, 1u,       30132u,     1987u,
                                  533557176u, 533466884u, 1u,      108560u};
    /* 12.5 and 12.4999 both quantize to u = 0 here: i* = 12 (the first) gets the remainder */
    const uint32_t golden2[16] = {21u, 1u, 51892u, 51892u, 3u,         1u,         210u, 1u,
                                  51195u, 1u, 115u, 3u, 134139706u, 134139700u, 1u,  714u};
    uint32_t f[16];
    check_row(&p1, z, 16, f, "golden1");
    cr_assert_arr_eq(f, golden1, sizeof f);
    check_row(&p2, z, 16, f, "golden2");
    cr_assert_arr_eq(f, golden2, sizeof f);
}

/* Speed of one V = 50257 row (printed; the bound is loose so that sanitizer builds pass). */
Test(quantize, speed) {
    uint64_t rs = 13;
    uint32_t *f = malloc(GPT2_V * sizeof *f);
    float *z = malloc(GPT2_V * sizeof *z);
    for (uint32_t i = 0; i < GPT2_V; i++) z[i] = (float)(4.0 * rng_gauss(&rs));
    lac_coder_params p;
    lac_coder_params_default(&p);
    const int reps = 200;
    struct timespec t0, t1;
    lac_quantize_freqs(&p, z, GPT2_V, f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < reps; r++) {
        z[r % GPT2_V] += 0.001f; /* not hoistable */
        lac_quantize_freqs(&p, z, GPT2_V, f);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                1e3 / reps;
    printf("quantize: %.1f us per row (V=%u)\n", us, GPT2_V);
    check_row(&p, z, GPT2_V, f, "speed");
    cr_assert_lt(us, 5000.0, "%.1f us per row", us);
    free(f);
    free(z);
}
