/* forward_fast.c — the fast CPU backend (lac_backend_cpu): OpenMP threads over rows and
 * column tiles, SIMD kernels chosen at run time (AVX-512, AVX2, or the portable kernels
 * below). Same bits as engine/forward_scalar.c: every kernel keeps docs/NUMERICS.md's order
 * (one fmaf chain per output, vectorised across outputs; R32 row sums). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "backend.h"
#include "forward_fast.h"
#include "forward_ops.h"
#include "lac_error.h"
#include "lac_math.h"
#include "model_file.h" /* lacm_f16_to_f32: exact half -> float */
#ifdef LAC_FAST_X86
#include <cpuid.h>
#endif

/* ---- portable kernels (any CPU) ---------------------------------------------------------- */
/* One body for both weight forms (W32 fp32, or W16 halves widened exactly before use): one
 * fmaf chain per output over k in order, 16 outputs at a time. */
static inline void g_matmul_w(const float *X, int ldx, int R, int K, const float *W32,
                              const uint16_t *W16, int N, const float *bias, float *const *Y,
                              int n0, int n1) {
    enum { NB = 16 };
    for (int r = 0; r < R; r++) {
        const float *x = X + (size_t)r * ldx;
        for (int n = n0; n < n1; n += NB) {
            const int nb = n1 - n < NB ? n1 - n : NB;
            float acc[NB] = {0}, w[NB];
            for (int k = 0; k < K; k++) {
                const size_t row = (size_t)k * N + n;
                for (int i = 0; i < nb; i++)
                    w[i] = W16 ? lacm_f16_to_f32(W16[row + i]) : W32[row + i];
                for (int i = 0; i < nb; i++) acc[i] = fmaf(x[k], w[i], acc[i]);
            }
            for (int i = 0; i < nb; i++) Y[r][n + i] = bias ? acc[i] + bias[n + i] : acc[i];
        }
    }
}

static void g_matmul(const float *X, int ldx, int R, int K, const float *W, int N,
                     const float *bias, float *const *Y, int n0, int n1) {
    g_matmul_w(X, ldx, R, K, W, NULL, N, bias, Y, n0, n1);
}

static void g_matmul_f16(const float *X, int ldx, int R, int K, const uint16_t *W, int N,
                         const float *bias, float *const *Y, int n0, int n1) {
    g_matmul_w(X, ldx, R, K, NULL, W, N, bias, Y, n0, n1);
}

/* packed weights (forward_fast.h): 16 outputs = two groups of 8 at a time, same chains */
static void g_matmul_p8(const float *X, int ldx, int R, int K, const void *Wp, int f16, int N,
                        const float *bias, float *const *Y, int n0, int n1, float *wide) {
    enum { NB = 16 };
    (void)wide; /* wide_cols = 0 */
    (void)N; /* n1 <= N: the padding is never read */
    const size_t gs = (size_t)K * 8;
    for (int r = 0; r < R; r++) {
        const float *x = X + (size_t)r * ldx;
        for (int n = n0; n < n1; n += NB) {
            const int nb = n1 - n < NB ? n1 - n : NB;
            float acc[NB] = {0}, w[NB];
            const size_t g0 = (size_t)(n / 8) * gs;
            for (int k = 0; k < K; k++) {
                for (int i = 0; i < nb; i++) {
                    const size_t at = g0 + (size_t)(i / 8) * gs + (size_t)k * 8 + (size_t)(i % 8);
                    w[i] = f16 ? lacm_f16_to_f32(((const uint16_t *)Wp)[at]) : ((const float *)Wp)[at];
                }
                for (int i = 0; i < nb; i++) acc[i] = fmaf(x[k], w[i], acc[i]);
            }
            for (int i = 0; i < nb; i++) Y[r][n + i] = bias ? acc[i] + bias[n + i] : acc[i];
        }
    }
}

static void g_scores(const float *q, const float *Kb, int hd, int nj, float scale, float *s) {
    for (int j = 0; j < nj; j++) s[j] = 0.0f;
    for (int d = 0; d < hd; d++)
        for (int j = 0; j < nj; j++)
            s[j] = fmaf(q[d], Kb[lac_key_at(LAC_KEY_BLOCK, hd, j, d)], s[j]);
    for (int j = 0; j < nj; j++) s[j] = s[j] * scale;
}

static void g_wsum(const float *e, const float *Vc, int ldv, int nj, int hd, float S, float *o) {
    for (int d = 0; d < hd; d++) o[d] = 0.0f;
    for (int j = 0; j < nj; j++)
        for (int d = 0; d < hd; d++) o[d] = fmaf(e[j], Vc[(size_t)j * ldv + d], o[d]);
    for (int d = 0; d < hd; d++) o[d] = o[d] / S;
}

static float g_r32_sum(const float *x, int n) { return lac_r32_sum(x, n); }
static float g_r32_sumsq(const float *x, int n) { return lac_r32_sumsq(x, n); }

static void g_layernorm(const float *x, const float *w, const float *b, int C, float eps,
                       float *y) {
    lac_layernorm_row(lac_r32_sum, lac_r32_sumsq, x, w, b, C, eps, y);
}
static void g_gelu(float *h, size_t n) { lac_op_gelu(h, n); }
static void g_softmax_exp(float *s, int n) { lac_op_softmax_exp(s, n); }

const lac_fast_kernels lac_fast_generic = {
    .isa = "generic", .panel = 64, .matmul = g_matmul, .matmul_f16 = g_matmul_f16,
    .matmul_pk = g_matmul_p8, .pack = 8,
    .key_block = LAC_KEY_BLOCK, .scores = g_scores, .wsum = g_wsum,
    .r32_sum = g_r32_sum, .r32_sumsq = g_r32_sumsq,
    .layernorm = g_layernorm, .gelu = g_gelu, .softmax_exp = g_softmax_exp,
};

/* ---- dispatch ----------------------------------------------------------------------------- */
static const lac_fast_kernels *pick_kernels(void) {
    const char *force = getenv("LAC_CPU_ISA"); /* "avx512", "avx2", "generic": for tests */
#ifdef LAC_FAST_X86
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f");
    const int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (force && !strcmp(force, "generic")) return &lac_fast_generic;
    if (force && !strcmp(force, "avx2") && has2) return &lac_fast_avx2;
    if (has512) {
        /* the prefill's value sums check for subnormals only where that spares microcode
         * assists (Intel's cores; AMD's take none): the same bits either way
         * (forward_avx512.c). LAC_SUBNORMAL_CHECK=0 / =1 chooses (A/B timing, tests). */
        const char *chk = getenv("LAC_SUBNORMAL_CHECK");
        const int check = chk && *chk ? strcmp(chk, "0") != 0 : !__builtin_cpu_is("amd");
        return check ? &lac_fast_avx512 : &lac_fast_avx512_plain;
    }
    if (has2) return &lac_fast_avx2;
#else
    (void)force;
#endif
    return &lac_fast_generic;
}

#ifdef LAC_FAST_X86
/* F16C (CPUID leaf 1, ECX bit 29), asked directly: clang's __builtin_cpu_supports does not
 * know "f16c" (the fuzz build uses clang). */
static int cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

/* The LM head kernel on 16-bit weights, or NULL to use matmul on wte_t: needs an F16 model
 * file, the ISA's kernel (AVX2's needs F16C), and LAC_F16_HEAD not "0" (for A/B timing). */
typedef void (*matmul_f16_fn)(const float *, int, int, int, const uint16_t *, int,
                              const float *, float *const *, int, int);
static matmul_f16_fn pick_head_f16(const lac_model *m, const lac_fast_kernels *kr) {
    const char *env = getenv("LAC_F16_HEAD");
    if (!m->wte16 || !kr->matmul_f16 || (env && !strcmp(env, "0"))) return NULL;
#ifdef LAC_FAST_X86
    if (kr == &lac_fast_avx2 && !cpu_has_f16c()) return NULL;
#endif
    return kr->matmul_f16;
}

/* Calls of at most this many rows read the packed weights: all of them by default (measured
 * with bench_engine on a 2-core Zen 3, lac-tiny, 1 thread, same run: B = 32 steps 1.85x and
 * a 256-token prefill 1.25x faster packed in halves than on the fp32 arrays); LAC_PACK_ROWS=N
 * sets it for A/B timing and the tests. */
#define LAC_PACK_ROWS_DEFAULT (1 << 30)

/* Fewer multiply-adds than this in one operation: run it on the calling thread. 2^16 puts a
 * B = 1 step's layer matmuls (196k-786k of them for lac-tiny) on the team as well as its LM
 * head: measured on a 2-vCPU Xeon whose L3 holds the weights, 2 threads, one-block
 * decompression 1.70 -> 1.48 s (best of 3) and B = 1 steps 740 -> 860 tok/s, against 2^20;
 * B = 8 unchanged. On a 2-vCPU Zen 3 (32 MiB L3, smaller than the weights) too: B = 1 steps
 * at 2 threads 895 against 599 tok/s with 2^20 (best of 10, alternating). */
#define LAC_PAR_MIN_FMA (1 << 16)

/* Row groups (row_groups below): at most this many (one per thread), taken by calls whose
 * streams have at most LAC_GROUP_MAX_ROWS rows each and at least LAC_GROUP_MIN_ROWS rows a
 * group */
#define LAC_MAX_ROW_GROUPS 64
#define LAC_GROUP_MAX_ROWS 8
#define LAC_GROUP_MIN_ROWS 4

/* ---- the backend -------------------------------------------------------------------------- */
/* Attention work of one thread: rows r0 .. r0 + nr - 1, heads h0 .. h0 + nh - 1 */
typedef struct att_item {
    int r0, nr, h0, nh;
} att_item;

/* The rows [r0, r1) of a call that one pass of the layers works on, and how: spread over the
 * team (thread < 0), or all on the calling thread, number `thread` (row groups, below) */
typedef struct row_span {
    int r0, r1, thread;
} row_span;

typedef struct fast_state {
    const lac_model *m;
    const lac_fast_kernels *kr;
    matmul_f16_fn head_f16; /* the LM head on wte_t_f16, or NULL: matmul on wte_t */
    /* the unpacked LM head, [C][V] (lac_model_wte_t*): only when calls can bypass pk */
    const float *wte_t;
    const uint16_t *wte_t_f16;
    int n_streams, max_rows, n_threads;
    /* Packed weights (forward_fast.h, matmul_pk), or NULL: per layer attn, proj, fc, fcproj,
     * then the LM head, each fp32 or (F16 files) halves. Calls of at most pk_rows rows read
     * them; larger calls read the model's fp32 arrays. Same bits either way. */
    const void **pk; /* [4 * n_layer + 1] */
    unsigned char *pk_f16;
    void *pk_mem;
    int pk_rows;
    int row_groups; /* 0 off, 1 when they pay, 2 always (LAC_ROW_GROUPS: "0", unset, "1") */
    /* Scratch for matmul_pk's widened blocks (f16_widen_pays): wide_floats floats per thread,
     * or NULL: the kernels read the halves in every row block */
    float *wide;
    size_t wide_floats;
    int wide_call; /* this call passes `wide`: a prefill (a stream with more than
                    * LAC_GROUP_MAX_ROWS rows); decoding steps read the halves (measured: a
                    * 19-block file decoded 4% slower widened, compression 6% faster) */
    /* per layer, per stream: each head's keys in blocks of kr->key_block positions
     * (key_floats, lac_key_at), then each head's values (value_floats, row_cache) */
    float *kv;
    float *x, *a, *qkv, *att, *h;
    float *s; /* [n_threads][LAC_ATT_ROWS][n_ctx] attention scores */
    int *row_pos, *row_stream;
    att_item *items; /* [max_rows * n_head] a layer's attention work (attention_items) */
    float **yrow; /* [max_rows] output row pointers */
    char name[64];
} fast_state;

/* An A/B switch of the environment set to "0" */
static int env_off(const char *name) {
    const char *v = getenv(name);
    return v && !strcmp(v, "0");
}

/* Large buffers (the KV cache, the packed weights): 2 MiB aligned and asked for as
 * transparent huge pages (Linux; LAC_HUGE_PAGES=0 leaves them to the system's default). A
 * decoding step's attention reads each head's keys and values, a few hundred KB apart, for
 * every stream and layer; on 4 KiB pages that is a TLB miss every 4 KiB and (likely, not
 * measured apart) a hardware prefetch stream restarted at each page's end. Measured on a
 * 2-vCPU Zen 4 VM (THP "madvise"), alternating: `-d` of 19 blocks 10.8-11.8 s against
 * 11.4-12.5 s (every pair faster), of 64 blocks 37.5-39.8 against 39.0-40.3 s; lock-step steps
 * of 32 streams at position 774 1,672-1,690 against 1,153-1,453 tok/s; `-c` unchanged (6.1-6.5
 * s either way). (A Zen 5 VM before the per-head KV layout: steps up to 5% faster, compression
 * 5% slower.) Only speed changes; freed with free(). */
static void *big_alloc(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) return malloc(bytes ? bytes : 1);
    const size_t n = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, n);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p && !env_off("LAC_HUGE_PAGES"))
        (void)madvise(p, n, MADV_HUGEPAGE); /* advice: failure leaves normal pages */
#endif
    return p;
}

/* Floats of one stream's cached keys per layer: every head's blocks of kb positions
 * (forward_fast.h, lac_key_at), n_ctx rounded up to whole blocks */
static size_t key_floats(const lac_model_config *c, int kb) {
    const size_t nb = ((size_t)c->n_ctx + (size_t)kb - 1) / (size_t)kb;
    return (size_t)c->n_head * nb * lac_key_block(kb, (int)(c->n_embd / c->n_head));
}

/* Floats from one head's cached values to the next: [n_ctx][hd], and one cache line more.
 * Each head's values lie together so that a decoding step's value sums read them in order
 * (measured on Zen 3: 12.0-13.6 GB/s against 7.2-9.1 from a quarter of each [C] row). */
static size_t value_floats(const lac_model_config *c) {
    return (size_t)c->n_ctx * (c->n_embd / c->n_head) + 16;
}

/* floats per (layer, stream) of the KV cache: the keys, then the values */
static size_t kv_floats(const lac_model_config *c, int kb) {
    return key_floats(c, kb) + (size_t)c->n_head * value_floats(c);
}

static void fast_destroy(void *st) {
    fast_state *s = st;
    if (!s) return;
    free(s->kv);
    free(s->x);
    free(s->a);
    free(s->qkv);
    free(s->att);
    free(s->h);
    free(s->s);
    free(s->row_pos);
    free(s->row_stream);
    free(s->yrow);
    free(s->items);
    free(s->pk);
    free(s->pk_f16);
    free(s->pk_mem);
    free(s->wide);
    free(s);
}

/* Packs W[K][N] (fp32 W32, or little-endian halves in W16b) into ceil(N/P) groups of [K][P]
 * (P = the kernels' pack), the last group zero-padded; dst holds floats or halves (f16).
 * src_t: the source holds W transposed, [N][K] (the LM head: wte is [V][C]). */
static void pack_groups(void *dst, int f16, const float *W32, const uint8_t *W16b, int src_t,
                        int K, int N, int P, int n_threads) {
    const int G = (N + P - 1) / P;
#pragma omp parallel for schedule(static) num_threads(n_threads) if ((double)K * N > (1 << 20))
    for (int g = 0; g < G; g++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < P; i++) {
                const int n = P * g + i;
                const size_t at = ((size_t)g * K + k) * P + (size_t)i;
                const size_t src = src_t ? (size_t)n * K + k : (size_t)k * N + n;
                if (f16) {
                    uint16_t h = 0;
                    if (n < N) h = (uint16_t)(W16b[2 * src] | W16b[2 * src + 1] << 8);
                    ((uint16_t *)dst)[at] = h;
                } else {
                    ((float *)dst)[at] = n < N ? W32[src] : 0.0f;
                }
            }
}

/* Most bytes of packed weights an engine makes (beyond that the model's arrays are read). */
#define LAC_PACK_MAX_BYTES (1ull << 30)

/* Packs the layers and the LM head for matmul_pk, when the kernels have it and LAC_PACK is not
 * "0". F16 files: halves (LAC_F16_LAYERS=0 packs the layers as fp32, for A/B timing); the head
 * in halves when head_f16 was chosen. Returns 0, or -1 when out of memory. */
static int pack_weights(fast_state *s) {
    const lac_model *m = s->m;
    const lac_model_config *c = &m->cfg;
    if (!s->kr->matmul_pk || env_off("LAC_PACK")) return 0;
#ifdef LAC_FAST_X86
    const int can16 = s->kr != &lac_fast_avx2 || cpu_has_f16c();
#else
    const int can16 = 1;
#endif
    const int L = (int)c->n_layer, C = (int)c->n_embd, NI = (int)c->n_inner;
    const int V = (int)c->vocab_size, P = s->kr->pack;
    const int layers16 = can16 && m->layers[0].attn_w16 && !env_off("LAC_F16_LAYERS");
    const int head16 = can16 && s->head_f16 != NULL;
    struct { int K, N; } sh[4] = {{C, 3 * C}, {C, C}, {C, NI}, {NI, C}};
    size_t bytes = 0, off[4 * 1024 + 1];
    if (L > 1024) return 0;
    for (int l = 0; l < L; l++)
        for (int j = 0; j < 4; j++) {
            off[4 * l + j] = bytes;
            bytes += (size_t)sh[j].K * (size_t)((sh[j].N + P - 1) / P * P) * (layers16 ? 2 : 4);
            bytes = (bytes + 63) & ~(size_t)63;
        }
    off[4 * L] = bytes;
    bytes += (size_t)C * (size_t)((V + P - 1) / P * P) * (head16 ? 2 : 4);
    if (bytes > LAC_PACK_MAX_BYTES) return 0;
    s->pk = calloc((size_t)4 * L + 1, sizeof *s->pk);
    s->pk_f16 = calloc((size_t)4 * L + 1, 1);
    s->pk_mem = big_alloc(bytes);
    if (!s->pk || !s->pk_f16 || !s->pk_mem) return -1;
    unsigned char *base = s->pk_mem;
    for (int l = 0; l < L; l++) {
        const lac_layer_weights *w = &m->layers[l];
        const float *w32[4] = {w->attn_w, w->proj_w, w->fc_w, w->fcproj_w};
        const uint8_t *w16[4] = {w->attn_w16, w->proj_w16, w->fc_w16, w->fcproj_w16};
        for (int j = 0; j < 4; j++) {
            void *d = base + off[4 * l + j];
            pack_groups(d, layers16, w32[j], w16[j], 0, sh[j].K, sh[j].N, P, s->n_threads);
            s->pk[4 * l + j] = d;
            s->pk_f16[4 * l + j] = (unsigned char)layers16;
        }
    }
    void *d = base + off[4 * L];
    pack_groups(d, head16, m->wte, m->wte16, 1, C, V, P, s->n_threads);
    s->pk[4 * L] = d;
    s->pk_f16[4 * L] = (unsigned char)head16;
    const char *rows = getenv("LAC_PACK_ROWS");
    s->pk_rows = rows && *rows ? atoi(rows) : LAC_PACK_ROWS_DEFAULT;
    return 0;
}

/* Whether matmuls on packed halves should widen each block of columns once into fp32 scratch
 * (forward_fast.h, matmul_pk's `wide`) rather than in every row block's registers. On Intel
 * cores vcvtph2ps takes the two FMA ports: measured on a 2-vCPU Xeon (Emerald Rapids), 64 rows
 * x 256 x 768 ran at 0.63 of the FMA peak on halves and 0.86 on fp32. AMD's cores convert on
 * other pipes (a Zen 5 VM reached 0.89-0.95 on halves), so they read the halves.
 * LAC_WIDEN_F16=0/1 overrides (A/B timing, tests). Only speed changes: a half widens exactly. */
static int f16_widen_pays(void) {
    const char *env = getenv("LAC_WIDEN_F16");
    if (env && *env) return strcmp(env, "0") != 0;
#ifdef LAC_FAST_X86
    __builtin_cpu_init();
    return __builtin_cpu_is("intel");
#else
    return 0;
#endif
}

/* s->wide for packed F16 weights, when f16_widen_pays. Returns 0, or -1 when out of memory. */
static int alloc_wide(fast_state *s) {
    const lac_model_config *c = &s->m->cfg;
    int any16 = 0;
    for (int i = 0; s->pk && i <= 4 * (int)c->n_layer; i++) any16 |= s->pk_f16[i];
    if (!any16 || !s->kr->wide_cols || !f16_widen_pays()) return 0;
    const size_t K = c->n_inner > c->n_embd ? c->n_inner : c->n_embd;
    s->wide_floats = K * (size_t)s->kr->wide_cols;
    s->wide = malloc((size_t)s->n_threads * s->wide_floats * sizeof(float));
    return s->wide ? 0 : -1;
}

static lac_status fast_create(const lac_model *m, const lac_engine_options *opt, void **out,
                              const char **name, lac_error *err) {
    const lac_model_config *c = &m->cfg;
    fast_state *s = calloc(1, sizeof *s);
    if (!s) return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (cpu state)");
    s->m = m;
    s->kr = pick_kernels();
    s->head_f16 = pick_head_f16(m, s->kr);
    s->n_streams = opt->n_streams;
    s->max_rows = opt->max_rows;
    s->n_threads = opt->n_threads > 0 ? opt->n_threads : omp_get_max_threads();
    if (s->n_threads < 1) s->n_threads = 1;
    {
        const char *g = getenv("LAC_ROW_GROUPS");
        s->row_groups = !g || !*g ? 1 : !strcmp(g, "0") ? 0 : 2;
    }
    const size_t R = (size_t)opt->max_rows, C = c->n_embd;
    const size_t kv =
        (size_t)c->n_layer * (size_t)opt->n_streams * kv_floats(c, s->kr->key_block);
    s->kv = big_alloc(kv * sizeof(float));
    s->x = malloc(R * C * sizeof(float));
    s->a = malloc(R * C * sizeof(float));
    s->qkv = malloc(R * 3 * C * sizeof(float));
    s->att = malloc(R * C * sizeof(float));
    s->h = malloc(R * c->n_inner * sizeof(float));
    s->s = malloc((size_t)s->n_threads * LAC_ATT_ROWS * c->n_ctx * sizeof(float));
    s->row_pos = malloc(R * sizeof(int));
    s->row_stream = malloc(R * sizeof(int));
    s->yrow = malloc(R * sizeof(float *));
    s->items = malloc(R * c->n_head * sizeof(att_item));
    if (!s->kv || !s->x || !s->a || !s->qkv || !s->att || !s->h || !s->s || !s->row_pos ||
        !s->row_stream || !s->yrow || !s->items) {
        fast_destroy(s);
        return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (cpu: %zu MiB of KV cache)",
                        kv * sizeof(float) >> 20);
    }
    if (pack_weights(s) || alloc_wide(s)) {
        fast_destroy(s);
        return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (cpu: packed weights)");
    }
    if (!s->pk || s->pk_rows < opt->max_rows) { /* some LM head calls read [C][V] */
        if (s->head_f16)
            s->wte_t_f16 = lac_model_wte_t_f16(m);
        else
            s->wte_t = lac_model_wte_t(m);
        if (!s->wte_t && !s->wte_t_f16) {
            fast_destroy(s);
            return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (cpu: LM head)");
        }
    }
    const int l16 = s->pk && s->pk_f16[0];
    snprintf(s->name, sizeof s->name, "cpu-%s%s%s%s (%d thread%s)", s->kr->isa,
             s->head_f16 ? "+f16head" : "", s->pk ? "+packed" : "", l16 ? "+f16layers" : "",
             s->n_threads, s->n_threads == 1 ? "" : "s");
    *out = s;
    *name = s->name;
    return LAC_OK;
}

/* What a matmul tile does to its outputs once they are final (same elementwise operations
 * as separate passes, done while the tile is in cache and without another OpenMP region) */
enum { EPI_NONE, EPI_GELU, EPI_RESIDUAL };

/* Tile t of mm_tiles: columns of panel t / nr, rows of chunk t % nr; then the epilogue:
 * GELU of the outputs, or the residual stream res (rows of N floats) += the outputs. */
static void mm_tile(const fast_state *s, const float *X, int R, int K, const float *W,
                    const uint16_t *W16, int N, const float *bias, float *const *Y,
                    const void *Wp, int pf16, int nr, int t, int epi, float *res, int slot) {
    const int P = s->kr->panel, RC = 64;
    const int p = t / nr, rc = t % nr;
    const int n0 = p * P, n1 = n0 + P < N ? n0 + P : N;
    const int r0 = rc * RC, r1 = r0 + RC < R ? r0 + RC : R;
    if (Wp) {
        float *wide = pf16 && s->wide_call ? s->wide + (size_t)slot * s->wide_floats : NULL;
        s->kr->matmul_pk(X + (size_t)r0 * K, K, r1 - r0, K, Wp, pf16, N, bias, Y + r0, n0, n1,
                         wide);
    }
    else if (W16)
        s->head_f16(X + (size_t)r0 * K, K, r1 - r0, K, W16, N, bias, Y + r0, n0, n1);
    else
        s->kr->matmul(X + (size_t)r0 * K, K, r1 - r0, K, W, N, bias, Y + r0, n0, n1);
    if (epi == EPI_GELU)
        for (int r = r0; r < r1; r++) s->kr->gelu(Y[r] + n0, (size_t)(n1 - n0));
    if (epi == EPI_RESIDUAL)
        for (int r = r0; r < r1; r++) {
            float *x = res + (size_t)r * N;
            for (int n = n0; n < n1; n++) x[n] = x[n] + Y[r][n];
        }
}

/* Rows sp of Y = X[R][K] x W[K][N] (+ bias) (X and s->yrow indexed by the call's rows),
 * tiles of (panel columns x 64 rows) over the threads (sp->thread < 0) or all on the calling
 * one, each followed by the epilogue epi (EPI_RESIDUAL: N is the residual width C, s->x).
 * W is fp32 (W16 NULL) or, for the LM head, halves in W16 (W NULL) read by s->head_f16.
 * Small products (a decoding step's layers) are not worth waking the team, and they do not
 * enter the OpenMP runtime at all: an if(0) region still costs a serialized region per call
 * (libomp allocates for each), which is most of a tiny model's decoding step. */
static void mm_tiles(const fast_state *s, const row_span *sp, const float *X, int K,
                     const float *W, const uint16_t *W16, int N, const float *bias, int pki,
                     int epi) {
    const int R = sp->r1 - sp->r0;
    float *const *Y = s->yrow + sp->r0;
    float *res = epi == EPI_RESIDUAL ? s->x + (size_t)sp->r0 * N : NULL;
    X += (size_t)sp->r0 * K;
    const void *Wp = s->pk && R <= s->pk_rows ? s->pk[pki] : NULL;
    const int pf16 = Wp ? s->pk_f16[pki] : 0;
    const int P = s->kr->panel, RC = 64;
    const int np = (N + P - 1) / P, nr = (R + RC - 1) / RC;
    const int tiles = np * nr;
    if (sp->thread < 0 && tiles > 1 && (double)R * K * N >= LAC_PAR_MIN_FMA && s->n_threads > 1) {
#pragma omp parallel for schedule(static) num_threads(s->n_threads)
        for (int t = 0; t < tiles; t++)
            mm_tile(s, X, R, K, W, W16, N, bias, Y, Wp, pf16, nr, t, epi, res,
                    omp_get_thread_num());
    } else {
        const int slot = sp->thread >= 0 ? sp->thread : 0;
        for (int t = 0; t < tiles; t++)
            mm_tile(s, X, R, K, W, W16, N, bias, Y, Wp, pf16, nr, t, epi, res, slot);
    }
}

static void mm(const fast_state *s, const row_span *sp, const float *X, int K, const float *W,
               int N, const float *bias, int pki, int epi) {
    mm_tiles(s, sp, X, K, W, NULL, N, bias, pki, epi);
}

/* Y rows = LayerNorm(X rows), rows sp (both [R][C], indexed by the call's rows) */
static void layernorm_rows(const fast_state *s, const row_span *sp, const float *X,
                           const float *w, const float *b, float *Y) {
    const int C = (int)s->m->cfg.n_embd;
    const float eps = s->m->cfg.ln_eps;
    const lac_fast_kernels *kr = s->kr;
    const int r0 = sp->r0, r1 = sp->r1;
    if (sp->thread < 0 && r1 - r0 >= 16 && s->n_threads > 1) { /* (see mm_tiles) */
#pragma omp parallel for schedule(static) num_threads(s->n_threads)
        for (int r = r0; r < r1; r++) kr->layernorm(X + (size_t)r * C, w, b, C, eps, Y + (size_t)r * C);
    } else {
        for (int r = r0; r < r1; r++) kr->layernorm(X + (size_t)r * C, w, b, C, eps, Y + (size_t)r * C);
    }
}

/* s->yrow[r] = row r of base (rows of ld floats), for rows sp */
static void rows_of(fast_state *s, const row_span *sp, float *base, int ld) {
    for (int r = sp->r0; r < sp->r1; r++) s->yrow[r] = base + (size_t)r * ld;
}

/* Row r's stream's cache in layer kvl: its keys (returned; each head's head_keys floats
 * apart) and its values (*vc; each head's value_floats apart, rows of hd floats) */
static const float *row_cache(const fast_state *s, const float *kvl, size_t kv_stream, int r,
                              size_t *head_keys, const float **vc) {
    const lac_model_config *c = &s->m->cfg;
    const float *kt = kvl + (size_t)s->row_stream[r] * kv_stream;
    const size_t keys = key_floats(c, s->kr->key_block);
    *head_keys = keys / c->n_head;
    *vc = kt + keys;
    return kt;
}

/* Attention of nh (<= LAC_ATT_HEADS) heads from h0 for row r: scores against the row's cached
 * keys, softmax, the weighted sums of values into s->att (thread `thread`'s scratch scores).
 * Heads together let wsum_n keep more chains in flight and read each value row once; each
 * head's operations are unchanged. */
static void attend_heads(const fast_state *s, const float *kvl, size_t kv_stream, float scale,
                         int r, int h0, int nh, int thread) {
    const lac_model_config *c = &s->m->cfg;
    const int C = (int)c->n_embd, hd = C / (int)c->n_head, NCTX = (int)c->n_ctx;
    const lac_fast_kernels *kr = s->kr;
    size_t head_keys;
    const float *vc, *kt = row_cache(s, kvl, kv_stream, r, &head_keys, &vc);
    const int nj = s->row_pos[r] + 1;
    const float *e[LAC_ATT_HEADS], *v[LAC_ATT_HEADS];
    float S[LAC_ATT_HEADS], *o[LAC_ATT_HEADS];
    for (int h = 0; h < nh; h++) {
        float *sc = s->s + ((size_t)thread * LAC_ATT_ROWS + (size_t)h) * NCTX;
        const int hh = h0 + h;
        kr->scores(s->qkv + (size_t)r * 3 * C + hh * hd, kt + hh * head_keys, hd, nj, scale, sc);
        kr->softmax_exp(sc, nj);
        S[h] = kr->r32_sum(sc, nj);
        e[h] = sc, v[h] = vc + hh * value_floats(c), o[h] = s->att + (size_t)r * C + hh * hd;
    }
    if (kr->wsum_n) {
        kr->wsum_n(nh, e, v, hd, nj, hd, S, o);
        return;
    }
    for (int h = 0; h < nh; h++) kr->wsum(e[h], v[h], hd, nj, hd, S[h], o[h]);
}

/* Attention of rows r0 .. r0 + nr - 1 (nr > 1: consecutive positions of one stream) for head
 * hh with scores_rows / wsum_rows: every key and value read once for the nr rows. Each row's
 * operations are attend_heads' (thread `thread`'s scratch scores). */
static void attend_rows_head(const fast_state *s, const float *kvl, size_t kv_stream,
                             float scale, int r0, int nr, int hh, int thread) {
    const lac_model_config *c = &s->m->cfg;
    const int C = (int)c->n_embd, hd = C / (int)c->n_head, NCTX = (int)c->n_ctx;
    const lac_fast_kernels *kr = s->kr;
    size_t head_keys;
    const float *vc, *kt = row_cache(s, kvl, kv_stream, r0, &head_keys, &vc);
    const float *q[LAC_ATT_ROWS] = {0}, *e[LAC_ATT_ROWS] = {0};
    float *sc[LAC_ATT_ROWS] = {0}, *o[LAC_ATT_ROWS] = {0}, S[LAC_ATT_ROWS] = {0};
    int nj[LAC_ATT_ROWS] = {0};
    for (int i = 0; i < nr; i++) {
        sc[i] = s->s + ((size_t)thread * LAC_ATT_ROWS + (size_t)i) * NCTX;
        q[i] = s->qkv + (size_t)(r0 + i) * 3 * C + hh * hd;
        nj[i] = s->row_pos[r0 + i] + 1;
    }
    kr->scores_rows(q, nr, kt + hh * head_keys, hd, nj, scale, sc);
    for (int i = 0; i < nr; i++) {
        kr->softmax_exp(sc[i], nj[i]);
        S[i] = kr->r32_sum(sc[i], nj[i]);
        e[i] = sc[i], o[i] = s->att + (size_t)(r0 + i) * C + hh * hd;
    }
    kr->wsum_rows(e, nr, vc + hh * value_floats(c), hd, nj, hd, S, o);
}

static void attend_item(const fast_state *s, const float *kvl, size_t kv_stream, float scale,
                        const att_item *it, int thread) {
    if (it->nr > 1)
        attend_rows_head(s, kvl, kv_stream, scale, it->r0, it->nr, it->h0, thread);
    else
        attend_heads(s, kvl, kv_stream, scale, it->r0, it->h0, it->nh, thread);
}

/* The work items of a layer's attention for rows sp into items (room for H per row): runs of
 * up to LAC_ATT_ROWS rows of one stream at consecutive positions (a prefill) one head each,
 * when the kernels have scores_rows; lone rows (decoding steps) LAC_ATT_HEADS heads each.
 * Returns the count. */
static int attention_items(const fast_state *s, const row_span *sp, att_item *items) {
    const lac_model_config *c = &s->m->cfg;
    const int H = (int)c->n_head, hd = (int)(c->n_embd / c->n_head);
    const int multi = s->kr->scores_rows && hd <= s->kr->rows_max_hd;
    const int R = sp->r1;
    int n = 0;
    for (int r = sp->r0; r < R;) {
        int nr = 1;
        while (multi && nr < LAC_ATT_ROWS && r + nr < R &&
               s->row_stream[r + nr] == s->row_stream[r] && s->row_pos[r + nr] == s->row_pos[r] + nr)
            nr++;
        if (nr > 1)
            for (int h = 0; h < H; h++) items[n++] = (att_item){r, nr, h, 1};
        else
            for (int h = 0; h < H; h += LAC_ATT_HEADS)
                items[n++] = (att_item){r, 1, h, H - h < LAC_ATT_HEADS ? H - h : LAC_ATT_HEADS};
        r += nr;
    }
    return n;
}

/* Attention of every head of rows sp in one layer (items: s->items from row r0 on) */
static void attend_rows(const fast_state *s, const row_span *sp, const float *kvl,
                        size_t kv_stream, float scale) {
    const int C = (int)s->m->cfg.n_embd, H = (int)s->m->cfg.n_head;
    att_item *items = s->items + (size_t)sp->r0 * H;
    const int work = attention_items(s, sp, items);
    double att_fma = 0;
    for (int r = sp->r0; r < sp->r1; r++) att_fma += 2.0 * (s->row_pos[r] + 1) * C;
    if (sp->thread < 0 && work > 1 && att_fma >= LAC_PAR_MIN_FMA && s->n_threads > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->n_threads)
        for (int t = 0; t < work; t++)
            attend_item(s, kvl, kv_stream, scale, &items[t], omp_get_thread_num());
    } else {
        const int th = sp->thread < 0 ? 0 : sp->thread;
        for (int t = 0; t < work; t++) attend_item(s, kvl, kv_stream, scale, &items[t], th);
    }
}

/* k (transposed per head, lac_key_at) and v (per head) of rows sp into their streams' caches
 * in kvl */
static void kv_write(const fast_state *s, const row_span *sp, float *kvl) {
    const lac_model_config *c = &s->m->cfg;
    const int C = (int)c->n_embd, H = (int)c->n_head, hd = C / H, kb = s->kr->key_block;
    const size_t keys = key_floats(c, kb), kv_stream = kv_floats(c, kb);
    const size_t head_keys = keys / c->n_head, head_vals = value_floats(c);
    for (int r = sp->r0; r < sp->r1; r++) {
        float *kt = kvl + (size_t)s->row_stream[r] * kv_stream;
        float *vc = kt + keys;
        const float *qkv = s->qkv + (size_t)r * 3 * C;
        const int p = s->row_pos[r];
        for (int h = 0; h < H; h++) {
            float *kh = kt + h * head_keys;
            for (int d = 0; d < hd; d++) kh[lac_key_at(kb, hd, p, d)] = qkv[C + h * hd + d];
            memcpy(vc + h * head_vals + (size_t)p * hd, qkv + 2 * C + h * hd,
                   (size_t)hd * sizeof(float));
        }
    }
}

/* Transformer block l for rows sp (the residual stream s->x) */
static void layer_rows(fast_state *s, const row_span *sp, int l) {
    const lac_model_config *c = &s->m->cfg;
    const lac_layer_weights *w = &s->m->layers[l];
    const int C = (int)c->n_embd, NI = (int)c->n_inner;
    const size_t kv_stream = kv_floats(c, s->kr->key_block);
    float *kvl = s->kv + (size_t)l * s->n_streams * kv_stream;
    const float scale = 1.0f / sqrtf((float)(C / (int)c->n_head));
    layernorm_rows(s, sp, s->x, w->ln1_w, w->ln1_b, s->a);
    rows_of(s, sp, s->qkv, 3 * C);
    mm(s, sp, s->a, C, w->attn_w, 3 * C, w->attn_b, 4 * l, EPI_NONE);
    kv_write(s, sp, kvl);
    attend_rows(s, sp, kvl, kv_stream, scale);
    rows_of(s, sp, s->a, C);
    mm(s, sp, s->att, C, w->proj_w, C, w->proj_b, 4 * l + 1, EPI_RESIDUAL);
    layernorm_rows(s, sp, s->x, w->ln2_w, w->ln2_b, s->a);
    rows_of(s, sp, s->h, NI);
    mm(s, sp, s->a, C, w->fc_w, NI, w->fc_b, 4 * l + 2, EPI_GELU);
    rows_of(s, sp, s->a, C);
    mm(s, sp, s->h, NI, w->fcproj_w, C, w->fcproj_b, 4 * l + 3, EPI_RESIDUAL);
}

/* Row groups: a call of several streams runs its transformer blocks as one group of streams
 * per thread, each thread through all layers on its own, with no barrier until the LM head,
 * which all threads then share by columns. Each row's operations are the same either way
 * (batch invariance, docs/NUMERICS.md). They pay in two kinds of call:
 * - few rows a stream (decoding steps, short speculative runs): attention reads every cached
 *   key and value once from memory while the matmuls are bound by arithmetic, and threads that
 *   do not wait for each other overlap the two;
 * - prefills of at least one stream a thread (compression's chunks, engine.c scratch_rows),
 *   split evenly: a team pass meets ~7 barriers a layer, and on a 2-core VM the threads spent
 *   ~6% of their CPU time at them (bench/results/cpu-amd-epyc-zen4-2c/two_process_lead.txt);
 *   in groups book03 compressed 3-6% faster, as fast as two 1-thread processes.
 * Fills bounds[0..g] (rows, split between streams) and returns g, or 1: one pass over all rows
 * on the team. LAC_ROW_GROUPS=0 turns them off, =1 on for every call of 2+ streams (tests). */
static int row_groups(const fast_state *s, const int *counts, int R, int *bounds) {
    int g = s->n_threads < LAC_MAX_ROW_GROUPS ? s->n_threads : LAC_MAX_ROW_GROUPS;
    int streams = 0, most = 0;
    for (int b = 0; b < s->n_streams; b++) {
        streams += counts[b] > 0;
        most = counts[b] > most ? counts[b] : most;
    }
    if (s->row_groups == 0 || g < 2 || streams < 2) return 1;
    const int prefill = most > LAC_GROUP_MAX_ROWS;
    if (s->row_groups == 1 && (prefill ? streams < g : R < LAC_GROUP_MIN_ROWS * g)) return 1;
    if (g > streams) g = streams;
    bounds[0] = 0;
    int t = 1, r = 0;
    for (int b = 0; b < s->n_streams && t < g; b++) {
        r += counts[b];
        if ((long)r * g >= (long)R * t) bounds[t++] = r;
    }
    while (t <= g) bounds[t++] = R;
    /* a prefill's groups within a quarter of the even share: the slowest sets the pace */
    for (t = 0; prefill && s->row_groups == 1 && t < g; t++)
        if ((long)(bounds[t + 1] - bounds[t]) * g * 4 > (long)R * 5) return 1;
    return g;
}

static lac_status fast_forward(void *st, const int32_t *const *tokens, const int *counts,
                               const int *positions, float *const *logits, lac_error *err) {
    (void)err;
    fast_state *s = st;
    const lac_model *m = s->m;
    const lac_model_config *c = &m->cfg;
    const int C = (int)c->n_embd, V = (int)c->vocab_size, B = s->n_streams;
    int R = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < counts[b]; i++) {
            s->row_pos[R] = positions[b] + i;
            s->row_stream[R] = b;
            R++;
        }
    if (R == 0) return LAC_OK;
    s->wide_call = 0;
    for (int b = 0; b < B && s->wide; b++) s->wide_call |= counts[b] > LAC_GROUP_MAX_ROWS;
    {
        int r = 0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < counts[b]; i++, r++) {
                float *x = s->x + (size_t)r * C;
                const float *te = m->wte + (size_t)tokens[b][i] * C;
                const float *pe = m->wpe + (size_t)(positions[b] + i) * C;
                for (int k = 0; k < C; k++) x[k] = te[k] + pe[k];
            }
    }

    int bounds[LAC_MAX_ROW_GROUPS + 1];
    const int groups = row_groups(s, counts, R, bounds);
    if (groups > 1) {
        /* OpenMP may grant fewer threads than asked (a nested region, as in the multi-device
         * backend's sub-engines, gets a team of one): each thread takes every group its number
         * reaches, so all groups run (group t's scratch slot t is used by one thread only). */
#pragma omp parallel num_threads(groups)
        for (int t = omp_get_thread_num(); t < groups; t += omp_get_num_threads()) {
            const row_span sp = {bounds[t], bounds[t + 1], t};
            for (int l = 0; l < (int)c->n_layer; l++) layer_rows(s, &sp, l);
        }
    } else {
        const row_span sp = {0, R, -1};
        for (int l = 0; l < (int)c->n_layer; l++) layer_rows(s, &sp, l);
    }
    const row_span all = {0, R, -1};
    layernorm_rows(s, &all, s->x, m->lnf_w, m->lnf_b, s->a);
    {
        int r = 0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < counts[b]; i++, r++) s->yrow[r] = logits[b] + (size_t)i * V;
    }
    /* the LM head: reading W is most of a decoding step's time; halves read half the bytes */
    if (s->head_f16)
        mm_tiles(s, &all, s->a, C, NULL, s->wte_t_f16, V, NULL, 4 * (int)c->n_layer, EPI_NONE);
    else
        mm(s, &all, s->a, C, s->wte_t, V, NULL, 4 * (int)c->n_layer, EPI_NONE);
    return LAC_OK;
}

const lac_backend_ops lac_backend_cpu = {
    .kind = "cpu",
    .create = fast_create,
    .destroy = fast_destroy,
    .forward = fast_forward,
    .forward_code = NULL,
    .forward_freqs = NULL,
};
