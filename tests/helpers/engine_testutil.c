#define _POSIX_C_SOURCE 200809L
/* Test helpers for the engine (see engine_testutil.h). */
#include "engine_testutil.h"

#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* approximately N(0, sd): sum of 4 uniforms */
static float rnd(uint64_t *s, float sd) {
    double u = 0;
    for (int i = 0; i < 4; i++) u += (double)(splitmix(s) >> 11) * 0x1p-53;
    return (float)((u - 2.0) * 1.7320508 * sd);
}

static float *fill(float **cur, size_t n, uint64_t *s, float mean, float sd) {
    float *p = *cur;
    for (size_t i = 0; i < n; i++) p[i] = mean + rnd(s, sd);
    *cur += n;
    return p;
}

lac_model *etu_random_model(uint32_t L, uint32_t H, uint32_t C, uint32_t T, uint32_t V,
                            uint64_t seed) {
    lac_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg.n_layer = L;
    m->cfg.n_head = H;
    m->cfg.n_embd = C;
    m->cfg.n_ctx = T;
    m->cfg.vocab_size = V;
    m->cfg.n_inner = 4 * C;
    m->cfg.ln_eps = 1e-5f;
    m->cfg.eot_token = V - 1;
    m->cfg.is_random = 1;
    snprintf(m->cfg.name, sizeof m->cfg.name, "test-random");
    const size_t NI = 4 * (size_t)C;
    size_t per_layer = 2 * C + C * 3 * (size_t)C + 3 * C + (size_t)C * C + C + 2 * C +
                       C * NI + NI + NI * C + C;
    size_t total = 2 * (size_t)V * C + (size_t)T * C + L * per_layer + 2 * C;
    float *buf = malloc(total * sizeof(float));
    lac_layer_weights *lw = calloc(L, sizeof *lw);
    if (!buf || !lw) {
        free(buf);
        free(lw);
        free(m);
        return NULL;
    }
    uint64_t s = seed;
    float *cur = buf;
    float *wte = fill(&cur, (size_t)V * C, &s, 0.0f, 0.1f);
    float *wte_t = cur;
    cur += (size_t)V * C;
    for (size_t v = 0; v < V; v++)
        for (size_t k = 0; k < C; k++) wte_t[k * V + v] = wte[v * C + k];
    m->wte = wte;
    m->wte_t = wte_t;
    m->wpe = fill(&cur, (size_t)T * C, &s, 0.0f, 0.05f);
    for (uint32_t l = 0; l < L; l++) {
        lac_layer_weights *w = &lw[l];
        w->ln1_w = fill(&cur, C, &s, 1.0f, 0.1f);
        w->ln1_b = fill(&cur, C, &s, 0.0f, 0.05f);
        w->attn_w = fill(&cur, (size_t)C * 3 * C, &s, 0.0f, 0.08f);
        w->attn_b = fill(&cur, 3 * (size_t)C, &s, 0.0f, 0.02f);
        w->proj_w = fill(&cur, (size_t)C * C, &s, 0.0f, 0.05f);
        w->proj_b = fill(&cur, C, &s, 0.0f, 0.02f);
        w->ln2_w = fill(&cur, C, &s, 1.0f, 0.1f);
        w->ln2_b = fill(&cur, C, &s, 0.0f, 0.05f);
        w->fc_w = fill(&cur, C * NI, &s, 0.0f, 0.05f);
        w->fc_b = fill(&cur, NI, &s, 0.0f, 0.02f);
        w->fcproj_w = fill(&cur, NI * C, &s, 0.0f, 0.03f);
        w->fcproj_b = fill(&cur, C, &s, 0.0f, 0.02f);
    }
    m->lnf_w = fill(&cur, C, &s, 1.0f, 0.1f);
    m->lnf_b = fill(&cur, C, &s, 0.0f, 0.05f);
    m->layers = lw;
    m->owned = buf;
    return m;
}

void etu_free_model(lac_model *m) {
    if (!m) return;
    free(m->owned);
    free(m->layers);
    lac_model_free_caches(m);
    free(m);
}

void *etu_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        if (len == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
        }
        size_t k = fread(b + len, 1, cap - len, f);
        if (k == 0) break;
        len += k;
    }
    fclose(f);
    if (b) *n = len;
    return b;
}

char *etu_shared_path(const char *rel) {
    const char *sh = getenv("LAC_SHARED");
    const char *src = getenv("LAC_SOURCE_DIR");
    char base[4096];
    if (sh && *sh)
        snprintf(base, sizeof base, "%s", sh);
    else if (src && *src)
        snprintf(base, sizeof base, "%s/../shared", src);
    else
        snprintf(base, sizeof base, "../shared");
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", base, rel);
    return p;
}

int etu_quick(void) {
    const char *q = getenv("LAC_TEST_QUICK");
    return q && !strcmp(q, "1");
}

int32_t *etu_read_ids_text(const char *path, size_t *n) {
    size_t len;
    char *t = etu_read_file(path, &len);
    if (!t) return NULL;
    int32_t *ids = malloc((len / 2 + 1) * sizeof *ids);
    size_t k = 0;
    if (ids) {
        size_t i = 0;
        while (i < len) {
            while (i < len && (t[i] < '0' || t[i] > '9')) i++;
            if (i >= len) break;
            long v = 0;
            while (i < len && t[i] >= '0' && t[i] <= '9') v = v * 10 + (t[i++] - '0');
            ids[k++] = (int32_t)v;
        }
    }
    free(t);
    *n = k;
    return ids;
}

lac_status etu_run(const lac_model *m, lac_device dev, int threads, int B, int stream,
                   const int32_t *tokens, int n, int chunk, const int32_t *other, float *out,
                   lac_error *err) {
    lac_engine_options o = {.device = dev, .n_threads = threads, .n_streams = B};
    lac_engine *e;
    lac_status st = lac_engine_create(m, &o, &e, err);
    if (st != LAC_OK) return st;
    const size_t V = m->cfg.vocab_size;
    const int32_t **tok = calloc((size_t)B, sizeof *tok);
    int *cnt = calloc((size_t)B, sizeof *cnt);
    float **lg = calloc((size_t)B, sizeof *lg);
    float *junk = NULL;
    if (!tok || !cnt || !lg) {
        st = LAC_ERR_NOMEM;
        goto done;
    }
    if (other) {
        junk = malloc((size_t)chunk * V * sizeof(float));
        if (!junk) {
            st = LAC_ERR_NOMEM;
            goto done;
        }
    }
    for (int i = 0; i < n && st == LAC_OK; i += chunk) {
        int k = n - i < chunk ? n - i : chunk;
        for (int b = 0; b < B; b++) {
            cnt[b] = 0;
            if (b == stream) {
                tok[b] = tokens + i;
                cnt[b] = k;
                lg[b] = out + (size_t)i * V;
            } else if (other) {
                /* each other stream gets a different slice of `other`, of a different length */
                int kb = 1 + (b * 7 + i) % (k < 16 ? k : 16);
                tok[b] = other + ((size_t)b * 131 + (size_t)i) % 512;
                cnt[b] = kb;
                lg[b] = junk;
                if (lac_engine_position(e, b) + kb > (int)m->cfg.n_ctx) {
                    lac_engine_reset(e, b);
                }
            }
        }
        st = lac_engine_forward(e, tok, cnt, lg, err);
    }
done:
    free(junk);
    free(tok);
    free(cnt);
    free(lg);
    lac_engine_free(e);
    return st;
}

#define ETU_TV 50257
#define ETU_TN 1024

void etu_poison(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

long etu_first_nan_row(const float *x, size_t rows, size_t V) {
    for (size_t i = 0; i < rows * V; i++)
        if (isnan(x[i])) return (long)(i / V);
    return -1;
}

/* Two full blocks of alice29 (golden GPT-2 ids), each [eot] + 1023 tokens: every way of
 * running them gives the same bits. The scalar comparison covers `scalar_n` tokens of each
 * block (the whole block in tests/full_engine.c). */
void etu_tiny_bitwise_blocks(const lac_model *m, int n, int scalar_n) {
    char *p = etu_shared_path("tokenizer/golden/alice29.txt.ids");
    size_t nids = 0;
    int32_t *ids = p ? etu_read_ids_text(p, &nids) : NULL;
    free(p);
    cr_assert(ids && nids == 47022, "alice29.txt.ids: %zu ids", nids);
    float *ref_l = malloc((size_t)n * ETU_TV * sizeof(float));
    float *out = malloc((size_t)n * ETU_TV * sizeof(float));
    cr_assert(ref_l && out);
    lac_error err;
    for (int blk = 0; blk < 2; blk++) {
        int32_t in[ETU_TN];
        in[0] = (int32_t)m->cfg.eot_token;
        memcpy(in + 1, ids + (size_t)blk * (ETU_TN - 1), (ETU_TN - 1) * sizeof(int32_t));
        etu_poison(ref_l, (size_t)n * ETU_TV);
        cr_assert_eq(etu_run(m, LAC_DEVICE_CPU, 2, 1, 0, in, n, n, NULL, ref_l, &err), LAC_OK,
                     "%s", err.msg);
        const long unwritten = etu_first_nan_row(ref_l, (size_t)n, ETU_TV);
        cr_assert_eq(unwritten, -1, "block %d, reference: row %ld is unwritten (NaN)", blk,
                     unwritten);
        struct {
            lac_device dev;
            int threads, B, stream, chunk, len;
            const int32_t *other;
            const char *what;
        } runs[] = {
            {LAC_DEVICE_CPU, 2, 1, 0, n, n, NULL, "second run"},
            {LAC_DEVICE_CPU, 1, 1, 0, n, n, NULL, "1 thread"},
            {LAC_DEVICE_CPU, 8, 1, 0, n, n, NULL, "8 threads"},
            {LAC_DEVICE_CPU, 1, 1, 0, 1, n, NULL, "single steps"},
            {LAC_DEVICE_CPU, 2, 7, 3, 200, n, ids + 30000, "B=7 stream 3, other streams busy"},
            {LAC_DEVICE_CPU_SCALAR, 1, 1, 0, scalar_n, scalar_n, NULL, "scalar"},
        };
        for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
            struct timespec t0, t1;
            etu_poison(out, (size_t)n * ETU_TV); /* a row the run leaves unwritten differs */
            clock_gettime(CLOCK_MONOTONIC, &t0);
            cr_assert_eq(etu_run(m, runs[r].dev, runs[r].threads, runs[r].B, runs[r].stream, in,
                                 runs[r].len, runs[r].chunk, runs[r].other, out, &err),
                         LAC_OK, "%s: %s", runs[r].what, err.msg);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (getenv("LAC_TEST_TIMES"))
                fprintf(stderr, "block %d %-34s %7.2f s\n", blk, runs[r].what,
                        (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
            for (int i = 0; i < runs[r].len; i++)
                if (memcmp(out + (size_t)i * ETU_TV, ref_l + (size_t)i * ETU_TV, ETU_TV * sizeof(float))) {
                    cr_expect(0, "block %d, %s: row %d differs", blk, runs[r].what, i);
                    break;
                }
        }
    }
    free(ids);
    free(ref_l);
    free(out);
}

