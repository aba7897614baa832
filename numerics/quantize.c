/* numerics/quantize.c — logits -> integer frequencies (docs/NUMERICS.md §9, docs/CODER.md).
 *
 * This code is normative: the CUDA kernel (kernels/quantize.cu) computes the same integers,
 * from the same per-element steps (numerics/quant_steps.h). Only steps
 * 1-5 touch floats, and each is a single IEEE fp32 operation in the written order (the build
 * uses -ffp-contract=off). Everything after step 5 is unsigned integer arithmetic with shift
 * counts below 64, so the result depends only on the logit bits, on every compiler/machine.
 *
 * Work: one pass for the max, one for steps 3-5 (freq[i] = u[i] << (12 - s)), one finding i*
 * (step 9), one for step 6 (freq[i] = w[i], W), one for step 8. freq[] is the only scratch; nothing is allocated.
 * Each pass runs over blocks of LANES elements with a fixed inner trip count, which gcc -O2
 * vectorises, then a scalar tail: the results are those of one plain loop per step (a test
 * compares against such a literal reference). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lac.h"
#include "lac_error.h"

#include "exp2_table.h"
#include "quant_steps.h"
#include "quantize.h"

/* Loops run over blocks of LANES elements with a fixed inner trip count (then a scalar tail),
 * which gcc -O2 vectorises; the results are the same as one plain loop. */
#define LANES 16u

void lac_coder_params_default(lac_coder_params *p) {
    if (!p) return;
    p->precision = LAC_PRECISION_DEFAULT;
    p->frac_bits = LAC_FRAC_BITS_DEFAULT;
    p->temperature = 1.0f;
}

lac_status lac_coder_params_check(const lac_coder_params *p, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    if (!p) return lac_fail(err, LAC_ERR_ARG, "coder params: NULL");
    if (p->precision < LAC_PRECISION_MIN || p->precision > LAC_PRECISION_MAX)
        return lac_fail(err, LAC_ERR_ARG, "coder params: precision %u out of range %u..%u",
                        p->precision, LAC_PRECISION_MIN, LAC_PRECISION_MAX);
    if (p->frac_bits < LAC_FRAC_BITS_MIN || p->frac_bits > LAC_FRAC_BITS_MAX)
        return lac_fail(err, LAC_ERR_ARG, "coder params: frac_bits %u out of range %u..%u",
                        p->frac_bits, LAC_FRAC_BITS_MIN, LAC_FRAC_BITS_MAX);
    if (!isfinite(p->temperature) || !(p->temperature > 0.0f))
        return lac_fail(err, LAC_ERR_ARG,
                        "coder params: temperature %g is not a finite number > 0",
                        (double)p->temperature);
    return LAC_OK;
}

/* Vector forms of step 1 (returns m) and step 6 (replaces each u12 in f by w, returns W), for
 * the AVX-512 variant, where gcc leaves those two loops scalar (a conditional max; a lookup
 * with a shift that may reach 32). NULL: the plain loops below. They compute exactly the
 * step's values, which tests/test_quantize.c checks for every variant against the spec. */
typedef float (*q_max_fn)(const float *z, uint32_t V);
typedef uint64_t (*q_w12_fn)(uint32_t *f, uint32_t V);

/* The quantizer of one row, written once. It is always inlined into each ISA variant below,
 * so that every variant compiles the same C for its own instruction set (gcc turns the table
 * lookups into gathers with AVX2 / AVX-512). */
static inline __attribute__((always_inline)) void
quantize_row(const lac_coder_params *p, const float *logits, uint32_t vocab, uint32_t *freq,
             q_max_fn max_vec, q_w12_fn w12_vec) {
    if (!freq || vocab == 0) return;
    /* Arguments that lac_coder_params_check rejects, or V >= 2^P: every frequency is 0,
     * which the range coder refuses (lac_rc_enc_finish returns -1). Never undefined. */
    if (!p || !logits || p->precision < LAC_PRECISION_MIN || p->precision > LAC_PRECISION_MAX ||
        p->frac_bits < LAC_FRAC_BITS_MIN || p->frac_bits > LAC_FRAC_BITS_MAX ||
        !isfinite(p->temperature) || !(p->temperature > 0.0f) ||
        (uint64_t)vocab >= ((uint64_t)1 << p->precision)) {
        memset(freq, 0, (size_t)vocab * sizeof *freq);
        return;
    }
    const uint32_t P = p->precision, s = p->frac_bits, V = vocab;
    const float *restrict z = logits;
    uint32_t *restrict f = freq;

    /* Step 1: m = max z[i], NaN entries ignored (a comparison with NaN is false, so the
     * result does not depend on the order). All NaN/-inf rows give m = -inf. */
    float m = -INFINITY;
    if (max_vec) {
        m = max_vec(z, V);
    } else {
        /* LANES partial maxima (vectorisable); max is order-free, so this is just speed. */
        float lm[LANES];
        for (uint32_t j = 0; j < LANES; j++) lm[j] = -INFINITY;
        uint32_t i = 0;
        for (; i + LANES <= V; i += LANES) {
            const float *zb = z + i;
            for (uint32_t j = 0; j < LANES; j++) lm[j] = lac_q_max(lm[j], zb[j]);
        }
        for (; i < V; i++) m = lac_q_max(m, z[i]);
        for (uint32_t j = 0; j < LANES; j++) m = lac_q_max(m, lm[j]);
    }

    /* Step 2: c; step 4's bound -L. */
    const float c = lac_q_scale(s, p->temperature), negL = lac_q_neg_limit(s);

    /* Steps 3-5: u[i] <= L = 48 * 2^s. Stored: freq[i] = u12 = u[i] << (12 - s), u in units
     * of 2^-12, which step 6 (lac_q_w12) reads. */
    const uint32_t fshift = 12u - s;
    uint32_t i = 0;
    for (; i + LANES <= V; i += LANES) {
        const float *zb = z + i;
        uint32_t *fb = f + i;
        for (uint32_t j = 0; j < LANES; j++) fb[j] = lac_q_u(zb[j], m, c, negL) << fshift;
    }
    for (; i < V; i++) f[i] = lac_q_u(z[i], m, c, negL) << fshift;

    /* ---- From here on: integers only. ---- */

    /* Step 9's i* = the smallest index with u[i] == 0, found first (a compare-only pass over
     * an L2-resident row), so that step 6's loop is plain lookups and sums, which gcc
     * vectorises (gathers with AVX2 / AVX-512). */
    uint32_t istar = V; /* V = none yet */
    for (i = 0; i + LANES <= V && istar == V; i += LANES) {
        const uint32_t *fb = f + i;
        uint32_t zero = 0;
        for (uint32_t j = 0; j < LANES; j++) zero |= fb[j] == 0;
        if (zero)
            for (uint32_t j = 0; j < LANES && istar == V; j++)
                if (fb[j] == 0) istar = i + j;
    }
    for (; i < V && istar == V; i++)
        if (f[i] == 0) istar = i;

    /* Step 6: w[i] replaces u12 in freq[i]. w[i] == 2^31 exactly when u[i] == 0. Also
     * W = sum w[i] (step 7), in LANES 64-bit partial sums (integer sums: any order). */
    uint64_t W = 0;
    if (w12_vec) {
        W = w12_vec(f, V);
    } else {
        uint64_t lw[LANES] = {0};
        for (i = 0; i + LANES <= V; i += LANES) {
            uint32_t *fb = f + i;
            for (uint32_t j = 0; j < LANES; j++) fb[j] = lac_q_w12(fb[j], LAC_EXP2_TABLE);
            for (uint32_t j = 0; j < LANES; j++) lw[j] += fb[j];
        }
        for (; i < V; i++) {
            f[i] = lac_q_w12(f[i], LAC_EXP2_TABLE);
            W += f[i];
        }
        for (uint32_t j = 0; j < LANES; j++) W += lw[j];
    }
    /* No u[i] is 0 only when the row has no finite maximum (every logit NaN or -inf, or a
     * +inf logit) or when c overflowed to +inf (T below ~1.7e-35): then every y[i] was
     * clamped to -L and the row is treated as uniform, u[i] = 0 for all i, i* = 0. */
    if (istar == V) {
        for (i = 0; i < V; i++) f[i] = LAC_EXP2_TABLE[0];
        W = (uint64_t)V << 31;
        istar = 0;
    }

    /* Step 7: k < 2^32 (see lac_q_k). */
    const uint32_t k = (uint32_t)lac_q_k(P, V, W);

    /* Step 8: f[i] = 1 + ((w[i] * k) >> 32). Sum f <= V + W*k/2^32 <= 2^P, so the running
     * sum fits in 32 bits. */
    uint32_t sum = 0;
    {
        uint32_t lsum[LANES] = {0};
        for (i = 0; i + LANES <= V; i += LANES) {
            uint32_t *fb = f + i;
            for (uint32_t j = 0; j < LANES; j++) {
                fb[j] = lac_q_f(fb[j], k);
                lsum[j] += fb[j];
            }
        }
        for (; i < V; i++) {
            f[i] = lac_q_f(f[i], k);
            sum += f[i];
        }
        for (uint32_t j = 0; j < LANES; j++) sum += lsum[j];
    }

    /* Step 9: the remainder R = 2^P - sum f (>= 0) goes to i*. */
    f[istar] += (uint32_t)(((uint64_t)1 << P) - sum);
}

/* Each ISA variant is a named function (numerics/quantize.h), so that tests/test_quantize.c
 * can hold every one that the CPU runs against the literal spec: a variant computing other
 * frequencies would break decoding between machines. All give the same integers (the float
 * steps are single IEEE operations on any ISA, and -ffp-contract=off forbids contraction). */
void lac_quantize_freqs_generic(const lac_coder_params *p, const float *logits, uint32_t vocab,
                                uint32_t *freq) {
    quantize_row(p, logits, vocab, freq, NULL, NULL);
}

#if LAC_QUANT_ISA_VARIANTS
#include <immintrin.h>

/* step 1 on 16 lanes: max_ps(z, lm) is z > lm ? z : lm (a NaN z yields lm), lac_q_max(lm, z);
 * lane j holds the same elements as the plain loop's lm[j] */
__attribute__((target("arch=x86-64-v4"))) static float max_v4(const float *z, uint32_t V) {
    __m512 lm = _mm512_set1_ps(-INFINITY);
    uint32_t i = 0;
    for (; i + LANES <= V; i += LANES) lm = _mm512_max_ps(_mm512_loadu_ps(z + i), lm);
    float m = -INFINITY, t[LANES];
    for (; i < V; i++) m = lac_q_max(m, z[i]);
    _mm512_storeu_ps(t, lm);
    for (uint32_t j = 0; j < LANES; j++) m = lac_q_max(m, t[j]);
    return m;
}

/* step 6 on 16 lanes: EXP2[u12 & 4095] >> (u12 >> 12), and vpsrlvd gives 0 for shifts of 32
 * or more, exactly lac_q_w12; W in 64-bit lanes */
__attribute__((target("arch=x86-64-v4"))) static uint64_t w12_v4(uint32_t *f, uint32_t V) {
    const __m512i low = _mm512_set1_epi32(4095);
    __m512i lo = _mm512_setzero_si512(), hi = lo;
    uint32_t i = 0;
    for (; i + LANES <= V; i += LANES) {
        const __m512i u = _mm512_loadu_si512((const void *)(f + i));
        const __m512i sh = _mm512_srli_epi32(u, 12);
        /* lanes shifted by 32 or more are 0 whatever the table holds: not looked up (most of
         * a row's vocabulary, and a gather costs per lane) */
        const __mmask16 live = _mm512_cmplt_epu32_mask(sh, _mm512_set1_epi32(32));
        const __m512i t = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live,
                                                      _mm512_and_si512(u, low), LAC_EXP2_TABLE, 4);
        const __m512i w = _mm512_srlv_epi32(t, sh);
        _mm512_storeu_si512((void *)(f + i), w);
        lo = _mm512_add_epi64(lo, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(w)));
        hi = _mm512_add_epi64(hi, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(w, 1)));
    }
    uint64_t W = (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
    for (; i < V; i++) {
        f[i] = lac_q_w12(f[i], LAC_EXP2_TABLE);
        W += f[i];
    }
    return W;
}

/* step 1 on 2 x 8 lanes: lane j of (lo, hi) holds the plain loop's lm[j] (as max_v4) */
__attribute__((target("arch=x86-64-v3"))) static float max_v3(const float *z, uint32_t V) {
    __m256 lo = _mm256_set1_ps(-INFINITY), hi = lo;
    uint32_t i = 0;
    for (; i + LANES <= V; i += LANES) {
        lo = _mm256_max_ps(_mm256_loadu_ps(z + i), lo);
        hi = _mm256_max_ps(_mm256_loadu_ps(z + i + 8), hi);
    }
    float m = -INFINITY, t[LANES];
    for (; i < V; i++) m = lac_q_max(m, z[i]);
    _mm256_storeu_ps(t, lo);
    _mm256_storeu_ps(t + 8, hi);
    for (uint32_t j = 0; j < LANES; j++) m = lac_q_max(m, t[j]);
    return m;
}

/* step 6 on 8 lanes, as w12_v4; AVX2 has no cheap masked gather, so a block of 8 with no live
 * lane (most of a row) skips the lookup altogether */
__attribute__((target("arch=x86-64-v3"))) static uint64_t w12_v3(uint32_t *f, uint32_t V) {
    const __m256i low = _mm256_set1_epi32(4095), b32 = _mm256_set1_epi32(32);
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    uint32_t i = 0;
    for (; i + 8 <= V; i += 8) {
        const __m256i u = _mm256_loadu_si256((const __m256i *)(f + i));
        const __m256i sh = _mm256_srli_epi32(u, 12);
        const __m256i live = _mm256_cmpgt_epi32(b32, sh); /* sh <= 48: no sign issue */
        if (_mm256_testz_si256(live, live)) {
            _mm256_storeu_si256((__m256i *)(f + i), _mm256_setzero_si256());
            continue;
        }
        const __m256i t = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)LAC_EXP2_TABLE,
                                                      _mm256_and_si256(u, low), live, 4);
        const __m256i w = _mm256_srlv_epi32(t, sh);
        _mm256_storeu_si256((__m256i *)(f + i), w);
        lo = _mm256_add_epi64(lo, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(w)));
        hi = _mm256_add_epi64(hi, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(w, 1)));
    }
    uint64_t l[4];
    _mm256_storeu_si256((__m256i *)l, _mm256_add_epi64(lo, hi));
    uint64_t W = l[0] + l[1] + l[2] + l[3];
    for (; i < V; i++) {
        f[i] = lac_q_w12(f[i], LAC_EXP2_TABLE);
        W += f[i];
    }
    return W;
}

__attribute__((target("arch=x86-64-v3"))) void
lac_quantize_freqs_x86_64_v3(const lac_coder_params *p, const float *logits, uint32_t vocab,
                             uint32_t *freq) {
    quantize_row(p, logits, vocab, freq, max_v3, w12_v3);
}

__attribute__((target("arch=x86-64-v4"))) void
lac_quantize_freqs_x86_64_v4(const lac_coder_params *p, const float *logits, uint32_t vocab,
                             uint32_t *freq) {
    quantize_row(p, logits, vocab, freq, max_v4, w12_v4);
}

/* The best variant this CPU runs (the order target_clones would pick). A plain test per call,
 * not an ifunc: a resolver runs before the sanitizers' runtime is up, and the two reads of
 * what libgcc found at start-up cost nothing next to a row. */
void lac_quantize_freqs(const lac_coder_params *p, const float *logits, uint32_t vocab,
                        uint32_t *freq) {
    if (__builtin_cpu_supports("x86-64-v4"))
        lac_quantize_freqs_x86_64_v4(p, logits, vocab, freq);
    else if (__builtin_cpu_supports("x86-64-v3"))
        lac_quantize_freqs_x86_64_v3(p, logits, vocab, freq);
    else
        lac_quantize_freqs_generic(p, logits, vocab, freq);
}
#else
void lac_quantize_freqs(const lac_coder_params *p, const float *logits, uint32_t vocab,
                        uint32_t *freq) {
    quantize_row(p, logits, vocab, freq, NULL, NULL);
}
#endif

uint32_t lac_freqs_find(const uint32_t *freq, uint32_t vocab, uint32_t target, uint32_t *cum,
                        uint32_t *sym_freq) {
    uint32_t c = 0, s = 0;
    if (freq && vocab) {
        /* linear: the row is read once anyway, and integer sums are exact in any order */
        for (s = 0; s + 1 < vocab && target - c >= freq[s]; s++) c += freq[s];
    }
    if (cum) *cum = c;
    if (sym_freq) *sym_freq = freq && vocab ? freq[s] : 0;
    return s;
}
