/* lac_expf / lac_tanhf (numerics/lac_math.h): <= 2 ulp against libm (double) over dense samples
 * of every float, densely around the branch points, and exact results on special values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine_testutil.h"
#include "lac_math.h"

/* Error of got in units of the last place of the float nearest ref (denormal ulp 2^-149). */
static double ulp_err(float got, double ref) {
    if (isnan(ref)) return isnan(got) ? 0.0 : 1e9;
    const float rf = (float)ref;
    if (got == rf) return 0.0;
    if (isinf(got) || isnan(got)) return 1e9;
    if (isinf(rf)) return fabs((double)got - ref) / 0x1p104; /* ulp at FLT_MAX */
    int e;
    frexp(fabs(ref), &e);
    e -= 1;
    if (e < -126) e = -126;
    return fabs((double)got - ref) / ldexp(1.0, e - 23);
}

typedef struct worst {
    double err;
    float x;
} worst;

static void check_range(uint32_t lo, uint32_t hi, uint32_t step, worst *we, worst *wt) {
    for (uint64_t u = lo; u <= hi; u += step) {
        const float x = lac_u2f((uint32_t)u);
        if (isnan(x)) continue;
        const double ee = ulp_err(lac_expf(x), exp((double)x));
        const double et = ulp_err(lac_tanhf(x), tanh((double)x));
        if (ee > we->err) {
            we->err = ee;
            we->x = x;
        }
        if (et > wt->err) {
            wt->err = et;
            wt->x = x;
        }
    }
}

Test(math, dense_all_floats) {
    worst we = {0, 0}, wt = {0, 0};
    const uint32_t step = etu_quick() ? 65537 : 1021;
    check_range(0, 0xffffffffu - step, step, &we, &wt);
    cr_expect(we.err <= 2.0, "lac_expf: %.3f ulp at %a", we.err, (double)we.x);
    cr_expect(wt.err <= 2.0, "lac_tanhf: %.3f ulp at %a", wt.err, (double)wt.x);
}

Test(math, dense_branch_points) {
    worst we = {0, 0}, wt = {0, 0};
    const uint32_t step = etu_quick() ? 61 : 3;
    /* every |x| in [0.5, 0.6] (tanh polynomial / exp switch), both signs */
    for (int sgn = 0; sgn < 2; sgn++) {
        const uint32_t s = sgn ? 0x80000000u : 0;
        check_range(s | lac_f2u(0.5f), s | lac_f2u(0.6f), step, &we, &wt);
        /* around 2^-12 (tanh returns x below), around 9 (tanh returns +-1) */
        check_range(s | lac_f2u(2.0e-4f), s | lac_f2u(3.0e-4f), step, &we, &wt);
        check_range(s | lac_f2u(8.5f), s | lac_f2u(9.5f), step, &we, &wt);
    }
    /* exp near overflow, near the denormal range and near underflow to zero */
    check_range(lac_f2u(88.0f), lac_f2u(89.0f), 1, &we, &wt);
    check_range(0x80000000u | lac_f2u(86.0f), 0x80000000u | lac_f2u(88.0f), step, &we, &wt);
    check_range(0x80000000u | lac_f2u(102.0f), 0x80000000u | lac_f2u(105.0f), 1, &we, &wt);
    cr_expect(we.err <= 2.0, "lac_expf: %.3f ulp at %a", we.err, (double)we.x);
    cr_expect(wt.err <= 2.0, "lac_tanhf: %.3f ulp at %a", wt.err, (double)wt.x);
}

static int same_bits(float a, float b) { return lac_f2u(a) == lac_f2u(b); }

Test(math, exp_specials) {
    const float inf = INFINITY, dmin = 0x1p-149f, fmin = 0x1p-126f;
    cr_expect(isnan(lac_expf(NAN)));
    cr_expect(isnan(lac_expf(-NAN)));
    cr_expect(same_bits(lac_expf(inf), inf));
    cr_expect(same_bits(lac_expf(-inf), 0.0f));
    cr_expect(same_bits(lac_expf(0.0f), 1.0f));
    cr_expect(same_bits(lac_expf(-0.0f), 1.0f));
    cr_expect(same_bits(lac_expf(dmin), 1.0f));
    cr_expect(same_bits(lac_expf(-dmin), 1.0f));
    cr_expect(same_bits(lac_expf(fmin), 1.0f));
    cr_expect(same_bits(lac_expf(1e30f), inf));
    cr_expect(same_bits(lac_expf(-1e30f), 0.0f));
    cr_expect(same_bits(lac_expf(1.0f), 2.71828175f), "e = %a", (double)lac_expf(1.0f));
    /* overflow edge: ln(FLT_MAX) lies between these two floats */
    cr_expect(same_bits(lac_expf(88.72283935546875f), inf));
    cr_expect(isfinite(lac_expf(88.7228317260742188f)));
    cr_expect(same_bits(lac_expf(88.7228317260742188f), expf(88.7228317260742188f)));
    /* underflow: below -103.97208 the result is +0; just above it the smallest denormal */
    cr_expect(same_bits(lac_expf(-103.972084045410156f), 0.0f) ||
              same_bits(lac_expf(-103.972084045410156f), dmin));
    cr_expect(same_bits(lac_expf(nextafterf(-103.972084045410156f, -200.0f)), 0.0f));
    cr_expect(same_bits(lac_expf(-103.5f), expf(-103.5f)) ||
                  ulp_err(lac_expf(-103.5f), exp(-103.5)) <= 2.0,
              "exp(-103.5) = %a", (double)lac_expf(-103.5f));
    cr_expect(lac_expf(-95.0f) > 0.0f && lac_expf(-95.0f) < fmin); /* denormal result */
    cr_expect(ulp_err(lac_expf(-87.33654475f), exp((double)-87.33654475f)) <= 2.0); /* ~FLT_MIN */
    for (int k = -20; k <= 20; k++) /* integers: monotone and accurate */
        cr_expect(ulp_err(lac_expf((float)k), exp((double)k)) <= 2.0, "exp(%d)", k);
}

Test(math, tanh_specials) {
    const float inf = INFINITY, dmin = 0x1p-149f;
    cr_expect(isnan(lac_tanhf(NAN)));
    cr_expect(same_bits(lac_tanhf(0.0f), 0.0f));
    cr_expect(same_bits(lac_tanhf(-0.0f), -0.0f));
    cr_expect(same_bits(lac_tanhf(dmin), dmin));
    cr_expect(same_bits(lac_tanhf(-dmin), -dmin));
    cr_expect(same_bits(lac_tanhf(inf), 1.0f));
    cr_expect(same_bits(lac_tanhf(-inf), -1.0f));
    cr_expect(same_bits(lac_tanhf(1e30f), 1.0f));
    cr_expect(same_bits(lac_tanhf(-1e30f), -1.0f));
    cr_expect(same_bits(lac_tanhf(9.0f), 1.0f));
    cr_expect(same_bits(lac_tanhf(-9.0f), -1.0f));
    /* odd symmetry, bit for bit */
    for (float x = 1e-5f; x < 10.0f; x *= 1.37f)
        cr_expect(same_bits(lac_tanhf(-x), -lac_tanhf(x)), "tanh(-%a)", (double)x);
}

/* The fast backend's vectorised GELU and softmax exponentials (engine/forward_*.c) give the
 * bits of the scalar formulas, specials included. */
#include "forward_fast.h"
#include "forward_ops.h"
#include "model_file.h"

static void check_matmul(const lac_fast_kernels *kr);
static void check_kernels(const lac_fast_kernels *kr) {
    enum { N = 4099 };
    check_matmul(kr);
    static float in[N], a[N], b[N];
    const float sp[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 0x1p-149f, -0x1p-149f, 1e-30f,
                        2.44140625e-4f, -2.44140625e-4f, 0.55f, -0.55f, 9.0f, -9.0f, 12.0f,
                        -12.0f, 88.8f, -104.5f, 200.0f, -200.0f, 3.4e38f, -3.4e38f};
    const int ns = (int)(sizeof sp / sizeof sp[0]);
    uint64_t s = 1;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const float u = (float)((double)(s >> 11) * 0x1p-53);
        in[i] = i < ns ? sp[i] : (u - 0.5f) * (i % 3 ? 12.0f : 240.0f);
    }
    memcpy(a, in, sizeof in);
    memcpy(b, in, sizeof in);
    kr->gelu(a, N);
    lac_op_gelu(b, N);
    for (int i = 0; i < N; i++)
        cr_expect(lac_f2u(a[i]) == lac_f2u(b[i]) || (isnan(a[i]) && isnan(b[i])),
                  "%s gelu(%a): %a vs %a", kr->isa, (double)in[i], (double)a[i], (double)b[i]);
    for (int n = 1; n <= 40; n += 13) { /* softmax rows with tails, -inf and huge spreads */
        memcpy(a, in + 5, sizeof(float) * N / 2);
        memcpy(b, in + 5, sizeof(float) * N / 2);
        kr->softmax_exp(a, N / 2 - n);
        lac_op_softmax_exp(b, N / 2 - n);
        cr_expect(memcmp(a, b, sizeof(float) * (N / 2 - n)) == 0, "%s softmax_exp n=%d", kr->isa,
                  N / 2 - n);
    }
}

/* matmul tiles against the plain chain: several k blocks, row and column tails */
static void check_matmul(const lac_fast_kernels *kr) {
    enum { R = 13, K = 600, N = 83 };
    static float X[R * K], W[K * N], bias[N], Y[R * N], Z[R * N];
    uint64_t s = 5;
    for (int i = 0; i < R * K; i++) X[i] = (float)((int)((s = s * 6364136223846793005ull + 1) >> 40) % 2001 - 1000) / 997.0f;
    for (int i = 0; i < K * N; i++) W[i] = (float)((int)((s = s * 6364136223846793005ull + 1) >> 40) % 2001 - 1000) / 1013.0f;
    for (int i = 0; i < N; i++) bias[i] = (float)i / 7.0f - 5.0f;
    float *rows[R];
    for (int r = 0; r < R; r++) rows[r] = Y + (size_t)r * N;
    kr->matmul(X, K, R, K, W, N, bias, rows, 0, 50);
    kr->matmul(X, K, R, K, W, N, bias, rows, 50, N);
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = fmaf(X[r * K + k], W[k * N + n], acc);
            Z[r * N + n] = acc + bias[n];
        }
    cr_expect(memcmp(Y, Z, sizeof Y) == 0, "%s matmul differs from the chain", kr->isa);
}

/* The packed matmul (matmul_pk) against the plain chain, for every row count from 1 to 40 (the
 * kernels pick their register blocks by rows: one row, 6 x 4, 14 x 2 tall blocks, balanced
 * splits), fp32 and halves, with and without the widening scratch, on column ranges that leave
 * vector and group tails (N = 150: 4 x 32 + 16 + 6 columns) */
static void check_matmul_pk(const lac_fast_kernels *kr) {
    enum { RMAX = 40, K = 70, N = 150 };
    const int P = kr->pack, G = (N + P - 1) / P;
    static float X[RMAX * K], W[K * N], bias[N], Y[RMAX * N], Z[RMAX * N], wide[K * 64];
    static float W32p[K * 160];
    static uint16_t W16p[K * 160];
    uint64_t s = 11;
    for (int i = 0; i < RMAX * K; i++) X[i] = (float)((int)((s = s * 6364136223846793005ull + 1) >> 40) % 2001 - 1000) / 997.0f;
    /* weights that halves hold exactly, so one reference serves both widths */
    for (int i = 0; i < K * N; i++) W[i] = (float)((int)((s = s * 6364136223846793005ull + 1) >> 40) % 2001 - 1000) / 1024.0f;
    for (int i = 0; i < N; i++) bias[i] = (float)i / 7.0f - 5.0f;
    for (int g = 0; g < G; g++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < P; j++) {
                const int n = g * P + j;
                const float w = n < N ? W[k * N + n] : 0.0f;
                W32p[((size_t)g * K + k) * P + j] = w;
                W16p[((size_t)g * K + k) * P + j] = lacm_f32_to_f16(w);
            }
    for (int r = 0; r < RMAX; r++)
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = fmaf(X[r * K + k], W[k * N + n], acc);
            Z[r * N + n] = acc + bias[n];
        }
    const int split = 3 * P; /* two calls: [0, split) and [split, N) */
    for (int R = 1; R <= RMAX; R++)
        for (int v = 0; v < 3; v++) {
            float *rows[RMAX];
            for (int r = 0; r < R; r++) rows[r] = Y + (size_t)r * N;
            memset(Y, 0xff, sizeof Y);
            const int f16 = v > 0;
            const void *Wp = f16 ? (const void *)W16p : (const void *)W32p;
            float *scratch = v == 2 && kr->wide_cols ? wide : NULL;
            kr->matmul_pk(X, K, R, K, Wp, f16, N, bias, rows, 0, split, scratch);
            kr->matmul_pk(X, K, R, K, Wp, f16, N, bias, rows, split, N, scratch);
            cr_expect(memcmp(Y, Z, (size_t)R * N * sizeof(float)) == 0,
                      "%s matmul_pk, %d rows, %s%s, differs from the chain", kr->isa, R,
                      f16 ? "halves" : "fp32", scratch ? ", widened" : "");
        }
}

Test(math, packed_matmul_matches_the_chain) {
    check_matmul_pk(&lac_fast_generic);
#ifdef LAC_FAST_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) check_matmul_pk(&lac_fast_avx2);
    if (__builtin_cpu_supports("avx512f")) check_matmul_pk(&lac_fast_avx512);
#endif
}

/* ---- value sums with weights and sums near the subnormal range (forward_avx512.c runs those
 * stretches scaled, to spare Intel's microcode assists): every kernel against the fmaf chain */
enum { WJ = 300, WD = 64, WLD = 256 };
static float wv_vals[WJ * WLD], we_rows[6][WJ];

static uint64_t wrng = 77;
static float wuni(void) { /* [0, 1) */
    wrng = wrng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(wrng >> 11) * 0x1p-53);
}

/* weight row pattern p: subnormal or tiny starts, zeros, softmax-like spreads down to 0 */
static void weight_row(float *e, int p) {
    for (int j = 0; j < WJ; j++) {
        const float u = wuni();
        switch (p % 6) {
        case 0: e[j] = j < 100 ? u * 0x1p-130f : u; break;             /* subnormal start */
        case 1: e[j] = j < 7 ? 0.0f : j < 40 ? u * 1e-35f : u; break;  /* zeros, then tiny */
        case 2: e[j] = lac_expf(-u * 120.0f); break;                    /* normal .. 0 */
        case 3: e[j] = j % 17 == 5 ? u * 0x1p-140f : u * 0.1f; break;   /* sporadic */
        case 4: e[j] = j == 0 ? 1.0f : j == 1 ? 1.0f : u * 0x1p-128f; break; /* cancel, then tiny */
        default: e[j] = u < 0.5f ? u * 0x1p-149f * 64.0f : u * 0x1p-110f; break;
        }
    }
}

static void value_rows(void) {
    for (int j = 0; j < WJ; j++)
        for (int d = 0; d < WLD; d++) {
            const float u = wuni() * 2.0f - 1.0f;
            float v = u;
            if (d % 23 == 7) v = u * 1e-30f;   /* tiny normal */
            if (d % 29 == 3) v = 0.0f;
            if (j == 1) v = -wv_vals[d];      /* cancels position 0 (pattern 4) */
            wv_vals[(size_t)j * WLD + d] = v;
        }
}

static void wsum_ref(const float *e, const float *V, int nj, float S, float *o) {
    for (int d = 0; d < WD; d++) {
        float acc = 0.0f;
        for (int j = 0; j < nj; j++) acc = fmaf(e[j], V[(size_t)j * WLD + d], acc);
        o[d] = acc / S;
    }
}

static void check_wsum(const lac_fast_kernels *kr) {
    value_rows();
    float got[6][WD], want[6][WD];
    for (int p = 0; p < 12; p++) {
        for (int r = 0; r < 6; r++) weight_row(we_rows[r], p + r);
        const int nj0 = 250 + p;
        const float S = p % 2 ? 1.0f : 3.0f;
        /* one row */
        kr->wsum(we_rows[0], wv_vals + 64, WLD, nj0, WD, S, got[0]);
        wsum_ref(we_rows[0], wv_vals + 64, nj0, S, want[0]);
        cr_expect(memcmp(got[0], want[0], sizeof got[0]) == 0, "%s wsum, pattern %d", kr->isa, p);
        const float *e[6], *vc[6];
        float Ss[6], *o[6];
        int nj[6];
        for (int r = 0; r < 6; r++)
            e[r] = we_rows[r], vc[r] = wv_vals + 64 * (r % 4), Ss[r] = S, o[r] = got[r], nj[r] = nj0 + r;
        if (kr->wsum_n)
            for (int nh = 1; nh <= 4; nh++) {
                kr->wsum_n(nh, e, vc, WLD, nj0, WD, Ss, o);
                for (int h = 0; h < nh; h++) {
                    wsum_ref(e[h], vc[h], nj0, S, want[h]);
                    cr_expect(memcmp(got[h], want[h], sizeof got[h]) == 0,
                              "%s wsum_n %d heads, head %d, pattern %d", kr->isa, nh, h, p);
                }
            }
        if (kr->wsum_rows)
            for (int nr = 2; nr <= 6; nr++) {
                kr->wsum_rows(e, nr, wv_vals, WLD, nj, WD, Ss, o);
                for (int r = 0; r < nr; r++) {
                    wsum_ref(e[r], wv_vals, nj[r], S, want[r]);
                    cr_expect(memcmp(got[r], want[r], sizeof got[r]) == 0,
                              "%s wsum_rows %d rows, row %d, pattern %d", kr->isa, nr, r, p);
                }
            }
    }
}

Test(math, value_sums_near_subnormals_match_the_chain) {
    check_wsum(&lac_fast_generic);
#ifdef LAC_FAST_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) check_wsum(&lac_fast_avx2);
    if (__builtin_cpu_supports("avx512f")) {
        check_wsum(&lac_fast_avx512);
        check_wsum(&lac_fast_avx512_plain); /* no subnormal checks: the hardware's FMA */
    }
#endif
}

/* ---- scores (keys in blocks of the kernels' key_block positions, lac_key_at) and value sums
 * against the fmaf chains, for head widths 64 and 40 (vector tails) and context lengths around
 * every pass and block edge of the kernels, one row and runs of 2..6 rows (prefills) */
enum { SJ = 300, SNB = SJ / 64 + 1 }; /* blocks of 64 positions or more */
static float sk_keys[SNB * (64 * 128 + 16)], sk_q[6][64], sk_s[6][SJ + 64];

static void check_scores_hd(const lac_fast_kernels *kr, int hd) {
    uint64_t st = 3;
    for (size_t i = 0; i < sizeof sk_keys / sizeof sk_keys[0]; i++)
        sk_keys[i] = (float)((int)((st = st * 6364136223846793005ull + 1) >> 40) % 2001 - 1000) / 999.0f;
    for (int r = 0; r < 6; r++)
        for (int d = 0; d < hd; d++) sk_q[r][d] = (float)((r * 37 + d * 11) % 23 - 11) / 7.0f;
    const float scale = 0.125f;
    const int kb = kr->key_block;
    cr_assert(kb == 64 || kb == 128, "%s: key_block %d", kr->isa, kb);
    const int njs[] = {1, 5, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129, 191, 192, 193, 200, 255,
                       256, SJ - 5};
    for (size_t t = 0; t < sizeof njs / sizeof njs[0]; t++) {
        const int nj0 = njs[t];
        const float *q[6];
        float *s[6];
        int nj[6];
        for (int r = 0; r < 6; r++) q[r] = sk_q[r], s[r] = sk_s[r], nj[r] = nj0 + r;
        for (int nr = 1; nr <= 6; nr++) {
            memset(sk_s, 0xff, sizeof sk_s); /* no score left from an earlier call */
            if (nr == 1) kr->scores(q[0], sk_keys, hd, nj0, scale, s[0]);
            else if (kr->scores_rows && hd <= kr->rows_max_hd) kr->scores_rows(q, nr, sk_keys, hd, nj, scale, s);
            else break;
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < nj[r]; j++) {
                    float acc = 0.0f;
                    for (int d = 0; d < hd; d++) acc = fmaf(q[r][d], sk_keys[lac_key_at(kb, hd, j, d)], acc);
                    cr_expect(same_bits(s[r][j], acc * scale), "%s scores hd %d, %d rows, row %d, j %d of %d",
                              kr->isa, hd, nr, r, j, nj[r]);
                }
        }
    }
}

/* value sums of head width 40 (the 64-channel one is check_wsum's) */
static void check_wsum_40(const lac_fast_kernels *kr) {
    enum { HD = 40 };
    value_rows();
    for (int r = 0; r < 6; r++) weight_row(we_rows[r], 3 + 2 * r);
    float got[6][HD], want[HD];
    const float *e[6];
    float S[6], *o[6];
    int nj[6];
    for (int r = 0; r < 6; r++) e[r] = we_rows[r], S[r] = 2.0f, o[r] = got[r], nj[r] = 120 + r;
    for (int nr = 1; nr <= 6; nr++) {
        memset(got, 0xff, sizeof got);
        if (nr == 1) kr->wsum(e[0], wv_vals + 8, WLD, nj[0], HD, S[0], o[0]);
        else if (kr->wsum_rows && HD <= kr->rows_max_hd) kr->wsum_rows(e, nr, wv_vals + 8, WLD, nj, HD, S, o);
        else break;
        for (int r = 0; r < nr; r++) {
            for (int d = 0; d < HD; d++) {
                float acc = 0.0f;
                for (int j = 0; j < nj[r]; j++) acc = fmaf(e[r][j], wv_vals[(size_t)j * WLD + 8 + d], acc);
                want[d] = acc / S[r];
            }
            cr_expect(memcmp(got[r], want, sizeof want) == 0, "%s wsum hd 40, %d rows, row %d", kr->isa, nr, r);
        }
    }
}

static void check_attention(const lac_fast_kernels *kr) {
    check_scores_hd(kr, 64);
    check_scores_hd(kr, 40);
    check_wsum_40(kr);
}

Test(math, attention_kernels_match_the_chain) {
    check_attention(&lac_fast_generic);
#ifdef LAC_FAST_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) check_attention(&lac_fast_avx2);
    if (__builtin_cpu_supports("avx512f")) {
        check_attention(&lac_fast_avx512);
        check_attention(&lac_fast_avx512_plain);
    }
#endif
}

Test(math, fast_kernels_match_scalar_formulas) {
    check_kernels(&lac_fast_generic);
#ifdef LAC_FAST_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) check_kernels(&lac_fast_avx2);
    if (__builtin_cpu_supports("avx512f")) check_kernels(&lac_fast_avx512);
#endif
}
