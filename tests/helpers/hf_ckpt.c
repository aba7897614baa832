/* Synthetic Hugging Face GPT-2 checkpoints for tests (see hf_ckpt.h). */
#include "hf_ckpt.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

static const char LETTERS[] = "etaoinsh";

void hf_ckpt_defaults(hf_ckpt_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_layer = 2;
    o->n_head = 2;
    o->n_embd = 16;
    o->n_ctx = 16;
    o->n_merges = 20;
    o->dtype = "F32";
}

uint32_t hf_ckpt_vocab_size(const hf_ckpt_opts *o) { return 256 + o->n_merges + 1; }

void hf_ckpt_merge(uint32_t j, uint32_t *left, uint32_t *right) {
    *left = (uint8_t)LETTERS[j / 8];
    *right = (uint8_t)LETTERS[j % 8];
}

const uint8_t *hf_ckpt_token(const hf_ckpt_opts *o, uint32_t id, size_t *len) {
    static uint8_t buf[16];
    if (id < 256) {
        buf[0] = (uint8_t)id;
        *len = 1;
    } else if (id < 256 + o->n_merges) {
        buf[0] = (uint8_t)LETTERS[(id - 256) / 8];
        buf[1] = (uint8_t)LETTERS[(id - 256) % 8];
        *len = 2;
    } else {
        memcpy(buf, "<|endoftext|>", 13);
        *len = 13;
    }
    return buf;
}

float hf_ckpt_value(uint32_t k, uint64_t i) {
    uint64_t h = (k + 1) * 0x9E3779B97F4A7C15ull ^ (i + 7) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (float)((int)(h % 255) - 127) / 256.0f;
}

/* ---- tensors -------------------------------------------------------------------------------- */
typedef struct {
    char name[96];
    const char *dtype;
    int ndim;
    uint64_t shape[4];
    uint8_t *data;
    size_t nbytes;
} tensor;

static uint16_t to_f16(float f) { /* values here are exact: k/256, |k| <= 127 */
    if (f == 0.0f) return 0;
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    int e = (int)((u >> 23) & 0xFF) - 127 + 15;
    return (uint16_t)(sign | (uint32_t)e << 10 | ((u >> 13) & 0x3FFu));
}

static void fill(tensor *t, const char *dtype, uint32_t k, int bump) {
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    size_t es = !strcmp(dtype, "F32") ? 4 : 2;
    t->dtype = dtype;
    t->nbytes = n * es;
    t->data = malloc(t->nbytes ? t->nbytes : 1);
    for (uint64_t i = 0; i < n; i++) {
        float v = hf_ckpt_value(k, i);
        if (bump && i == n / 2) v += 1.0f / 64;
        uint32_t u;
        memcpy(&u, &v, 4);
        if (es == 4)
            memcpy(t->data + 4 * i, &u, 4);
        else {
            uint16_t h = !strcmp(dtype, "F16") ? to_f16(v) : (uint16_t)(u >> 16);
            t->data[2 * i] = (uint8_t)h;
            t->data[2 * i + 1] = (uint8_t)(h >> 8);
        }
    }
}

static tensor *build(const hf_ckpt_opts *o, size_t *count) {
    uint32_t C = o->n_embd, V = hf_ckpt_vocab_size(o), F = 4 * C;
    size_t cap = 4 + 14 * (size_t)o->n_layer + 1;
    tensor *ts = calloc(cap, sizeof *ts);
    size_t n = 0;
    const char *pre = o->prefix ? "transformer." : "";
    uint32_t k = 0;
#define ADD(nm_fmt, l, d0, d1)                                                                   \
    do {                                                                                         \
        char nm[80];                                                                             \
        snprintf(nm, sizeof nm, nm_fmt, l);                                                      \
        if (!(o->skip_tensor && !strcmp(o->skip_tensor, nm))) {                                  \
            tensor *t = &ts[n++];                                                                \
            snprintf(t->name, sizeof t->name, "%s%s", pre, nm);                                 \
            t->ndim = ((d1) != 0) ? 2 : 1;                                                            \
            t->shape[0] = (d0);                                                                  \
            t->shape[1] = (d1);                                                                  \
            if (o->bad_shape_tensor && !strcmp(o->bad_shape_tensor, nm)) t->shape[0]++;          \
            fill(t, o->dtype, k, 0);                                                             \
            if (o->bad_dtype && k == 0) t->dtype = o->bad_dtype;                                 \
        }                                                                                        \
        k++;                                                                                     \
    } while (0)
    ADD("wte.weight%.0u", 0u, V, C);
    ADD("wpe.weight%.0u", 0u, o->n_ctx, C);
    for (uint32_t l = 0; l < o->n_layer; l++) {
        ADD("h.%u.ln_1.weight", l, C, 0);
        ADD("h.%u.ln_1.bias", l, C, 0);
        ADD("h.%u.attn.c_attn.weight", l, C, 3 * C);
        ADD("h.%u.attn.c_attn.bias", l, 3 * C, 0);
        ADD("h.%u.attn.c_proj.weight", l, C, C);
        ADD("h.%u.attn.c_proj.bias", l, C, 0);
        ADD("h.%u.ln_2.weight", l, C, 0);
        ADD("h.%u.ln_2.bias", l, C, 0);
        ADD("h.%u.mlp.c_fc.weight", l, C, F);
        ADD("h.%u.mlp.c_fc.bias", l, F, 0);
        ADD("h.%u.mlp.c_proj.weight", l, F, C);
        ADD("h.%u.mlp.c_proj.bias", l, C, 0);
        if (o->attn_buffers) {
            tensor *t = &ts[n++];
            snprintf(t->name, sizeof t->name, "%sh.%u.attn.bias", pre, l);
            t->ndim = 4;
            t->shape[0] = t->shape[1] = 1;
            t->shape[2] = t->shape[3] = o->n_ctx;
            fill(t, "F32", 1000, 0);
            t = &ts[n++];
            snprintf(t->name, sizeof t->name, "%sh.%u.attn.masked_bias", pre, l);
            t->ndim = 0;
            fill(t, "F32", 1001, 0);
        }
    }
    ADD("ln_f.weight%.0u", 0u, C, 0);
    ADD("ln_f.bias%.0u", 0u, C, 0);
#undef ADD
    if (o->lm_head) {
        tensor *t = &ts[n++];
        snprintf(t->name, sizeof t->name, "lm_head.weight");
        t->ndim = 2;
        t->shape[0] = V;
        t->shape[1] = C;
        fill(t, o->dtype, 0, o->lm_head == 2);
    }
    *count = n;
    return ts;
}

static int write_all(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Writes tensors [a, b) as one safetensors file; faults when first != 0. */
static int write_st(const char *path, tensor *ts, size_t a, size_t b, const hf_ckpt_opts *o,
                    int first) {
    cJSON *hdr = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(hdr, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    uint64_t off = 0;
    for (size_t i = a; i < b; i++) {
        tensor *t = &ts[i];
        cJSON *e = cJSON_AddObjectToObject(hdr, t->name);
        cJSON_AddStringToObject(e, "dtype", t->dtype);
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        uint64_t beg = off, end = off + t->nbytes;
        if (first && o->overlap && i == a + 1) beg -= 4, end -= 4;
        if (first && o->out_of_range && i == b - 1) beg += 64, end += 64;
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)beg));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)end));
        off += t->nbytes;
    }
    char *js = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    size_t jl = strlen(js), hl = (jl + 7) & ~(size_t)7;
    size_t total = 8 + hl + off;
    uint8_t *buf = malloc(total);
    uint64_t hlen = hl + (first ? o->header_len_add : 0);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, js, jl);
    memset(buf + 8 + jl, ' ', hl - jl);
    if (first && o->garbage_header) buf[8 + jl - 1] = ','; /* the closing brace */
    free(js);
    uint8_t *p = buf + 8 + hl;
    for (size_t i = a; i < b; i++) {
        memcpy(p, ts[i].data, ts[i].nbytes);
        p += ts[i].nbytes;
    }
    if (first && o->truncate) total = o->truncate < total ? total - o->truncate : 0;
    int r = write_all(path, buf, total);
    free(buf);
    return r;
}

/* GPT-2's byte -> alias code point (bytes_to_unicode). */
static unsigned alias_of(unsigned b) {
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    if (printable) return b;
    unsigned n = 0;
    for (unsigned x = 0; x < b; x++) {
        int p = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE);
        if (!p) n++;
    }
    return 256 + n;
}

static void put_alias(char *out, size_t *n, unsigned b) {
    unsigned cp = alias_of(b);
    if (cp < 0x80)
        out[(*n)++] = (char)cp;
    else {
        out[(*n)++] = (char)(0xC0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int write_tokenizer(const char *dir, const hf_ckpt_opts *o) {
    char path[1024];
    cJSON *v = cJSON_CreateObject();
    uint32_t V = hf_ckpt_vocab_size(o);
    for (uint32_t id = 0; id < V; id++) {
        size_t len, n = 0;
        const uint8_t *b = hf_ckpt_token(o, id, &len);
        char s[64];
        if (id == V - 1)
            snprintf(s, sizeof s, "<|endoftext|>");
        else {
            for (size_t i = 0; i < len; i++) put_alias(s, &n, b[i]);
            s[n] = '\0';
        }
        cJSON_AddItemToObject(v, s, cJSON_CreateNumber(id));
    }
    char *js = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    snprintf(path, sizeof path, "%s/%s", dir, o->encoder_names ? "encoder.json" : "vocab.json");
    int r = write_all(path, js, strlen(js));
    free(js);
    if (r) return r;
    char txt[4096];
    size_t n = (size_t)snprintf(txt, sizeof txt, "#version: 0.2\n");
    for (uint32_t j = 0; j < o->n_merges; j++) {
        uint32_t l, rr;
        hf_ckpt_merge(j, &l, &rr);
        n += (size_t)snprintf(txt + n, sizeof txt - n, "%c %c\n", (char)l, (char)rr);
    }
    snprintf(path, sizeof path, "%s/%s", dir, o->encoder_names ? "vocab.bpe" : "merges.txt");
    return write_all(path, txt, n);
}

int hf_ckpt_write(const char *dir, const hf_ckpt_opts *o) {
    if (mkdir(dir, 0755) != 0) {
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return -1;
    }
    char path[1024], cfg[2048];
    uint32_t V = hf_ckpt_vocab_size(o);
    char inner[32];
    if (o->n_inner_null)
        snprintf(inner, sizeof inner, "null");
    else
        snprintf(inner, sizeof inner, "%u", 4 * o->n_embd);
    int n = snprintf(cfg, sizeof cfg,
                     "{\"activation_function\": \"gelu_new\", \"architectures\": [\"GPT2LMHeadModel\"],"
                     " \"bos_token_id\": %u, \"eos_token_id\": %u, \"layer_norm_epsilon\": 1e-05,"
                     " \"model_type\": \"gpt2\", \"n_embd\": %u, \"n_head\": %u, \"n_inner\": %s,"
                     " \"n_layer\": %u, \"n_positions\": %u, \"vocab_size\": %u,"
                     " \"reorder_and_upcast_attn\": false, \"scale_attn_weights\": true%s%s}\n",
                     V - 1, V - 1, o->n_embd, o->n_head, inner, o->n_layer, o->n_ctx, V,
                     o->config_extra ? ", " : "", o->config_extra ? o->config_extra : "");
    if (o->bad_config_json) cfg[n - 2] = ',';
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (write_all(path, cfg, (size_t)n)) return -1;
    if (write_tokenizer(dir, o)) return -1;

    size_t count;
    tensor *ts = build(o, &count);
    int r = 0;
    if (o->shards <= 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        r = write_st(path, ts, 0, count, o, 1);
    } else {
        cJSON *idx = cJSON_CreateObject();
        cJSON *meta = cJSON_AddObjectToObject(idx, "metadata");
        cJSON_AddNumberToObject(meta, "total_size", 0);
        cJSON *wm = cJSON_AddObjectToObject(idx, "weight_map");
        size_t per = (count + (size_t)o->shards - 1) / (size_t)o->shards;
        for (int s = 0; s < o->shards && !r; s++) {
            size_t a = (size_t)s * per, b = a + per < count ? a + per : count;
            char fname[128];
            snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, o->shards);
            snprintf(path, sizeof path, "%s/%s", dir, fname);
            if (a < b) r = write_st(path, ts, a, b, o, s == 0);
            for (size_t i = a; i < b; i++) cJSON_AddStringToObject(wm, ts[i].name, fname);
        }
        char *js = cJSON_Print(idx);
        cJSON_Delete(idx);
        size_t jl = strlen(js);
        if (o->bad_index_json) js[jl - 1] = ',';
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        if (!r) r = write_all(path, js, jl);
        free(js);
    }
    for (size_t i = 0; i < count; i++) free(ts[i].data);
    free(ts);
    return r;
}

char *hf_tmpdir(void) {
    char *d = strdup("/tmp/lac_test_XXXXXX");
    if (d && !mkdtemp(d)) {
        free(d);
        return NULL;
    }
    return d;
}

void hf_rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        unlink(dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            hf_rmtree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

int hf_count_entries(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, needle)) n++;
    closedir(d);
    return n;
}

float hf_f16_decode(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                      : ldexpf((float)(1024 + m), e - 25);
    return (h & 0x8000) ? -v : v;
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
int hf_have_hw_f16(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)); /* CPUID.1:ECX.F16C */
}
__attribute__((target("f16c"))) uint16_t hf_hw_f32_to_f16(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
#else
int hf_have_hw_f16(void) { return 0; }
uint16_t hf_hw_f32_to_f16(float f) {
    (void)f;
    return 0;
}
#endif
