/* lac_convert_hf: a Hugging Face GPT-2 directory -> a lacgpu model file.
 *
 * Reads config.json (cJSON), the tokenizer (vocab.json + merges.txt or encoder.json +
 * vocab.bpe, engine/vocab_hf.c) and the weights from model.safetensors or from the shards named
 * by model.safetensors.index.json. safetensors: 8-byte little-endian header length N, N bytes
 * of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
 * data; offsets are relative to the data start. Files are mmapped and streamed into the model
 * writer (engine/model_write.c), which leaves no output behind on error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lac_error.h"
#include "model.h"
#include "model_file.h"
#include "hf_internal.h"

#define MAX_ST_HEADER (100u << 20)
#define MAX_SHARDS 1024
#define MAX_CONFIG_BYTES (16u << 20)

typedef struct {
    char *path;
    uint8_t *map;
    size_t size;
    uint64_t data_start, data_len;
    cJSON *hdr;
} st_file;

typedef struct {
    const char *name; /* as in the file (points into the cJSON tree) */
    int file;
    int dtype;        /* lac_dtype, or -1 for another known safetensors dtype */
    const char *dtype_name;
    int ndim;
    uint64_t shape[8];
    uint64_t begin, end; /* relative to the data start */
} st_tensor;

typedef struct {
    const char *dir;
    st_file *files;
    int n_files;
    st_tensor *tensors;
    size_t n_tensors, cap_tensors;
    char *index_path; /* sharded checkpoints */
} ckpt;

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static char *slurp(const char *path, size_t cap, size_t *len, lac_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        lac_fail(err, LAC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, c = 0;
    for (;;) {
        if (n == c) {
            if (c >= cap) {
                lac_fail(err, LAC_ERR_LIMIT, "%s: larger than %zu bytes", path, cap);
                goto fail;
            }
            c = c ? c * 2 : 65536;
            char *nb = realloc(buf, c + 1);
            if (!nb) {
                lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", path);
                goto fail;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, c - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        lac_fail(err, LAC_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

static cJSON *load_json(const char *path, lac_error *err) {
    size_t len = 0;
    char *txt = slurp(path, MAX_CONFIG_BYTES, &len, err);
    if (!txt) return NULL;
    cJSON *j = cJSON_ParseWithLength(txt, len);
    free(txt);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        lac_fail(err, LAC_ERR_FORMAT, "%s: bad JSON (not a JSON object)", path);
        return NULL;
    }
    return j;
}

/* ---- config.json ---------------------------------------------------------------------------- */
/* 1: found and valid, 0: absent or null, -1: error (filled). */
static int get_uint(const cJSON *root, const char *key, uint32_t *out, const char *path,
                    lac_error *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 4294967295.0 ||
        it->valuedouble != (double)(uint64_t)it->valuedouble) {
        lac_fail(err, LAC_ERR_FORMAT, "%s: %s is not a non-negative integer", path, key);
        return -1;
    }
    *out = (uint32_t)it->valuedouble;
    return 1;
}

static int get_bool(const cJSON *root, const char *key, int dflt) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsBool(it)) return cJSON_IsTrue(it);
    return dflt;
}

/* Fills c from a parsed config.json (path names it in messages); frees nothing. */
static lac_status config_from_json(const cJSON *j, const char *path, lac_model_config *c,
                                   lac_error *err) {
    lac_status st = LAC_OK;
    memset(c, 0, sizeof *c);
    static const char *const req[] = {"n_layer", "n_head", "n_embd", "vocab_size"};
    uint32_t *dst[] = {&c->n_layer, &c->n_head, &c->n_embd, &c->vocab_size};
    for (int i = 0; i < 4; i++) {
        int r = get_uint(j, req[i], dst[i], path, err);
        if (r <= 0) {
            st = r < 0 ? LAC_ERR_FORMAT : lac_fail(err, LAC_ERR_FORMAT, "%s: missing %s", path,
                                                   req[i]);
            goto done;
        }
    }
    int r = get_uint(j, "n_positions", &c->n_ctx, path, err);
    if (r == 0) r = get_uint(j, "n_ctx", &c->n_ctx, path, err);
    if (r <= 0) {
        st = r < 0 ? LAC_ERR_FORMAT
                   : lac_fail(err, LAC_ERR_FORMAT, "%s: missing n_positions (or n_ctx)", path);
        goto done;
    }
    r = get_uint(j, "n_inner", &c->n_inner, path, err);
    if (r < 0) {
        st = LAC_ERR_FORMAT;
        goto done;
    }
    if (r == 0) c->n_inner = c->n_embd <= UINT32_MAX / 4 ? 4 * c->n_embd : UINT32_MAX;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(j, "layer_norm_epsilon");
    c->ln_eps = 1e-5f;
    if (eps && !cJSON_IsNull(eps)) {
        if (!cJSON_IsNumber(eps)) {
            st = lac_fail(err, LAC_ERR_FORMAT, "%s: layer_norm_epsilon is not a number", path);
            goto done;
        }
        c->ln_eps = (float)eps->valuedouble;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "activation_function");
    if (act && !cJSON_IsNull(act) &&
        (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu_new"))) {
        st = lac_fail(err, LAC_ERR_UNSUPPORTED,
                      "%s: activation_function %s is not supported (need gelu_new)", path,
                      cJSON_IsString(act) ? act->valuestring : "(not a string)");
        goto done;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    if (cJSON_IsString(mt) && strcmp(mt->valuestring, "gpt2")) {
        st = lac_fail(err, LAC_ERR_UNSUPPORTED, "%s: model_type %s is not supported (need gpt2)",
                      path, mt->valuestring);
        goto done;
    }
    static const struct {
        const char *key;
        int bad; /* the value we cannot run */
        int dflt;
    } flags[] = {{"scale_attn_by_inverse_layer_idx", 1, 0},
                 {"reorder_and_upcast_attn", 1, 0},
                 {"add_cross_attention", 1, 0},
                 {"scale_attn_weights", 0, 1}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (get_bool(j, flags[i].key, flags[i].dflt) == flags[i].bad) {
            st = lac_fail(err, LAC_ERR_UNSUPPORTED, "%s: %s = %s is not supported", path,
                          flags[i].key, flags[i].bad ? "true" : "false");
            goto done;
        }
    if (c->n_head == 0 || c->n_embd % c->n_head) {
        st = lac_fail(err, LAC_ERR_UNSUPPORTED, "%s: n_embd %u is not a multiple of n_head %u",
                      path, c->n_embd, c->n_head);
        goto done;
    }
    r = get_uint(j, "eos_token_id", &c->eot_token, path, err);
    if (r == 0) r = get_uint(j, "bos_token_id", &c->eot_token, path, err);
    if (r < 0) {
        st = LAC_ERR_FORMAT;
        goto done;
    }
    if (r == 0) c->eot_token = c->vocab_size ? c->vocab_size - 1 : 0;
    c->storage = LAC_DTYPE_F32;
    st = lacm_check_config(path, c, err);
done:
    return st;
}

static lac_status read_config(const char *path, lac_model_config *c, lac_error *err) {
    cJSON *j = load_json(path, err);
    if (!j) return err ? err->code : LAC_ERR_FORMAT;
    lac_status st = config_from_json(j, path, c, err);
    cJSON_Delete(j);
    return st;
}

lac_status lac_hf_parse_config(const char *json, size_t len, const char *label,
                               lac_model_config *cfg, lac_error *err) {
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return lac_fail(err, LAC_ERR_FORMAT, "%s: bad JSON (not a JSON object)", label);
    }
    lac_status st = config_from_json(j, label, cfg, err);
    cJSON_Delete(j);
    return st;
}

/* ---- safetensors ----------------------------------------------------------------------------- */
static const struct {
    const char *name;
    int dtype;
    unsigned size;
} st_dtypes[] = {{"F32", LAC_DTYPE_F32, 4}, {"F16", LAC_DTYPE_F16, 2}, {"BF16", LAC_DTYPE_BF16, 2},
                 {"F64", -1, 8},  {"I64", -1, 8},  {"I32", -1, 4}, {"I16", -1, 2},
                 {"I8", -1, 1},   {"U8", -1, 1},   {"U16", -1, 2}, {"U32", -1, 4},
                 {"U64", -1, 8},  {"BOOL", -1, 1}, {"F8_E4M3", -1, 1}, {"F8_E5M2", -1, 1}};

static int cmp_range(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static lac_status parse_st(ckpt *ck, int fi, lac_error *err);

static lac_status open_st(ckpt *ck, int fi, lac_error *err) {
    st_file *f = &ck->files[fi];
    const char *path = f->path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lac_fail(err, LAC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return lac_fail(err, LAC_ERR_IO, "%s: not a readable regular file", path);
    }
    f->size = (size_t)sb.st_size;
    if (f->size < 8) {
        close(fd);
        return lac_fail(err, LAC_ERR_TRUNCATED,
                        "%s: truncated safetensors file (%zu bytes, no header length)", path,
                        f->size);
    }
    void *map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return lac_fail(err, LAC_ERR_IO, "%s: cannot mmap: %s", path, strerror(e));
    f->map = map;
    return parse_st(ck, fi, err);
}

/* Parses and checks the header of ck->files[fi] (map and size set) and appends its tensors. */
static lac_status parse_st(ckpt *ck, int fi, lac_error *err) {
    st_file *f = &ck->files[fi];
    const char *path = f->path;
    if (f->size < 8)
        return lac_fail(err, LAC_ERR_TRUNCATED,
                        "%s: truncated safetensors file (%zu bytes, no header length)", path,
                        f->size);
    uint64_t n = lac_le_get64(f->map);
    if (n > f->size - 8)
        return lac_fail(err, LAC_ERR_TRUNCATED,
                        "%s: safetensors header length %llu goes beyond the end of the file "
                        "(%zu bytes)", path, (unsigned long long)n, f->size);
    if (n > MAX_ST_HEADER)
        return lac_fail(err, LAC_ERR_LIMIT, "%s: safetensors header of %llu bytes exceeds %u",
                        path, (unsigned long long)n, MAX_ST_HEADER);
    f->data_start = 8 + n;
    f->data_len = f->size - f->data_start;
    f->hdr = cJSON_ParseWithLength((const char *)f->map + 8, (size_t)n);
    if (!f->hdr || !cJSON_IsObject(f->hdr))
        return lac_fail(err, LAC_ERR_FORMAT, "%s: malformed safetensors header (bad JSON)", path);
    size_t first = ck->n_tensors;
    for (cJSON *it = f->hdr->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) continue;
        const char *nm = it->string;
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsObject(it) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) ||
            !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || cJSON_GetArraySize(sh) > 8)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "%s: malformed safetensors entry '%.60s' (needs dtype, shape, "
                            "data_offsets)", path, nm);
        if (ck->n_tensors == ck->cap_tensors) {
            size_t nc = ck->cap_tensors ? 2 * ck->cap_tensors : 256;
            st_tensor *nt = realloc(ck->tensors, nc * sizeof *nt);
            if (!nt) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", path);
            ck->tensors = nt;
            ck->cap_tensors = nc;
        }
        st_tensor *t = &ck->tensors[ck->n_tensors];
        memset(t, 0, sizeof *t);
        t->name = nm;
        t->file = fi;
        unsigned esz = 0;
        for (size_t k = 0; k < sizeof st_dtypes / sizeof st_dtypes[0]; k++)
            if (!strcmp(dt->valuestring, st_dtypes[k].name)) {
                t->dtype = st_dtypes[k].dtype;
                t->dtype_name = st_dtypes[k].name;
                esz = st_dtypes[k].size;
            }
        if (!esz)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: tensor %.60s has unknown dtype '%.20s'",
                            path, nm, dt->valuestring);
        uint64_t numel = 1;
        int overflow = 0;
        for (const cJSON *d = sh->child; d; d = d->next) {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 4294967295.0 ||
                d->valuedouble != (double)(uint64_t)d->valuedouble)
                return lac_fail(err, LAC_ERR_FORMAT, "%s: tensor %.60s has a bad shape", path,
                                nm);
            uint64_t v = (uint64_t)d->valuedouble;
            t->shape[t->ndim++] = v;
            if (v && numel > UINT64_MAX / 8 / v) overflow = 1;
            numel *= v;
        }
        double b = of->child->valuedouble, e2 = of->child->next->valuedouble;
        if (!cJSON_IsNumber(of->child) || !cJSON_IsNumber(of->child->next) || b < 0 || e2 < b ||
            e2 > (double)f->data_len || b != (double)(uint64_t)b || e2 != (double)(uint64_t)e2)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "%s: tensor %.60s: data_offsets [%.0f, %.0f] out of range (the data "
                            "section is %llu bytes)", path, nm, b, e2,
                            (unsigned long long)f->data_len);
        t->begin = (uint64_t)b;
        t->end = (uint64_t)e2;
        if (overflow || t->end - t->begin != numel * esz)
            return lac_fail(err, LAC_ERR_FORMAT,
                            "%s: tensor %.60s: data_offsets span %llu bytes, shape and dtype "
                            "need %llu", path, nm, (unsigned long long)(t->end - t->begin),
                            (unsigned long long)(numel * esz));
        ck->n_tensors++;
    }
    /* no two tensors may share bytes */
    size_t cnt = ck->n_tensors - first;
    const st_tensor **order = malloc((cnt ? cnt : 1) * sizeof *order);
    if (!order) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < cnt; i++) order[i] = &ck->tensors[first + i];
    qsort(order, cnt, sizeof *order, cmp_range);
    /* sorted by begin: a non-empty tensor overlaps an earlier one iff it begins before the
     * furthest end so far (empty tensors own no bytes and are skipped) */
    const st_tensor *far = NULL;
    for (size_t i = 0; i < cnt; i++) {
        const st_tensor *t = order[i];
        if (t->end == t->begin) continue;
        if (far && t->begin < far->end) {
            lac_status st = lac_fail(err, LAC_ERR_FORMAT,
                                     "%s: tensors %.60s and %.60s have overlapping data_offsets",
                                     path, far->name, t->name);
            free(order);
            return st;
        }
        if (!far || t->end > far->end) far = t;
    }
    free(order);
    return LAC_OK;
}

static lac_status open_checkpoint(ckpt *ck, lac_error *err) {
    char *single = join(ck->dir, "model.safetensors");
    if (!single) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", ck->dir);
    if (exists(single)) {
        ck->files = calloc(1, sizeof *ck->files);
        if (!ck->files) {
            free(single);
            return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", ck->dir);
        }
        ck->files[0].path = single;
        ck->n_files = 1;
        return open_st(ck, 0, err);
    }
    free(single);
    ck->index_path = join(ck->dir, "model.safetensors.index.json");
    if (!ck->index_path) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", ck->dir);
    if (!exists(ck->index_path))
        return lac_fail(err, LAC_ERR_IO,
                        "%s: no model.safetensors or model.safetensors.index.json", ck->dir);
    cJSON *idx = load_json(ck->index_path, err);
    if (!idx) return err ? err->code : LAC_ERR_FORMAT;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(idx, "weight_map");
    lac_status st = LAC_OK;
    if (!cJSON_IsObject(wm)) {
        st = lac_fail(err, LAC_ERR_FORMAT, "%s: no weight_map object", ck->index_path);
        goto done;
    }
    ck->files = calloc(MAX_SHARDS, sizeof *ck->files);
    if (!ck->files) {
        st = lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", ck->index_path);
        goto done;
    }
    for (const cJSON *it = wm->child; it; it = it->next) {
        if (!cJSON_IsString(it) || !it->valuestring[0] || strchr(it->valuestring, '/') ||
            !strcmp(it->valuestring, "..") || !strcmp(it->valuestring, ".")) {
            st = lac_fail(err, LAC_ERR_FORMAT, "%s: weight_map entry %.60s is not a file name",
                          ck->index_path, it->string);
            goto done;
        }
        char *p = join(ck->dir, it->valuestring);
        if (!p) {
            st = lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", ck->index_path);
            goto done;
        }
        int seen = 0;
        for (int i = 0; i < ck->n_files && !seen; i++) seen = !strcmp(ck->files[i].path, p);
        if (seen) {
            free(p);
            continue;
        }
        if (ck->n_files == MAX_SHARDS) {
            free(p);
            st = lac_fail(err, LAC_ERR_LIMIT, "%s: more than %d shards", ck->index_path,
                          MAX_SHARDS);
            goto done;
        }
        ck->files[ck->n_files].path = p;
        if ((st = open_st(ck, ck->n_files++, err))) goto done;
    }
    if (ck->n_files == 0) st = lac_fail(err, LAC_ERR_FORMAT, "%s: empty weight_map", ck->index_path);
done:
    cJSON_Delete(idx);
    return st;
}

static void close_checkpoint(ckpt *ck) {
    for (int i = 0; i < ck->n_files; i++) {
        if (ck->files[i].map) munmap(ck->files[i].map, ck->files[i].size);
        cJSON_Delete(ck->files[i].hdr);
        free(ck->files[i].path);
    }
    free(ck->files);
    free(ck->tensors);
    free(ck->index_path);
}

lac_status lac_hf_check_safetensors(const uint8_t *buf, size_t size, const char *label,
                                    size_t *n_tensors, lac_error *err) {
    st_file f;
    memset(&f, 0, sizeof f);
    f.path = (char *)label;
    f.map = (uint8_t *)buf; /* read only: parse_st never writes through it */
    f.size = size;
    ckpt ck;
    memset(&ck, 0, sizeof ck);
    ck.dir = label;
    ck.files = &f;
    ck.n_files = 1;
    lac_status st = parse_st(&ck, 0, err);
    if (n_tensors) *n_tensors = ck.n_tensors;
    cJSON_Delete(f.hdr);
    free(ck.tensors);
    return st;
}

static const uint8_t *tensor_data(const ckpt *ck, const st_tensor *t) {
    const st_file *f = &ck->files[t->file];
    return f->map + f->data_start + t->begin;
}

/* ---- conversion -------------------------------------------------------------------------------- */
static int is_ignored(const char *n) {
    size_t l = strlen(n);
    static const char *const suffixes[] = {".attn.bias", ".attn.masked_bias"};
    if (strncmp(n, "h.", 2)) return 0;
    for (int i = 0; i < 2; i++) {
        size_t s = strlen(suffixes[i]);
        if (l > s && !strcmp(n + l - s, suffixes[i])) return 1;
    }
    return 0;
}

/* The tokenizer files (vocab.json + merges.txt, or GPT-2's encoder.json + vocab.bpe), whose
 * vocabulary must have config.json's vocab_size. */
static lac_status load_tokenizer(const char *hf_dir, const char *cfg_path,
                                 const lac_model_config *cfg, lac_vocab_owned *vocab,
                                 lac_error *err) {
    lac_status st = LAC_OK;
    char *p1 = join(hf_dir, "vocab.json"), *p2 = join(hf_dir, "merges.txt");
    if (p1 && p2 && !exists(p1)) {
        free(p1);
        free(p2);
        p1 = join(hf_dir, "encoder.json");
        p2 = join(hf_dir, "vocab.bpe");
        if (p1 && p2 && !exists(p1))
            st = lac_fail(err, LAC_ERR_IO, "%s: no tokenizer (vocab.json + merges.txt or "
                          "encoder.json + vocab.bpe)", hf_dir);
    }
    if (!st && (!p1 || !p2)) st = lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", hf_dir);
    if (!st) st = lac_vocab_load_hf(p1, p2, vocab, err);
    if (!st && vocab->v.n_tokens != cfg->vocab_size)
        st = lac_fail(err, LAC_ERR_FORMAT, "%s: vocab_size %u but %s has %u tokens", cfg_path,
                      cfg->vocab_size, p1, vocab->v.n_tokens);
    free(p1);
    free(p2);
    return st;
}

/* Puts each checkpoint tensor in its .lacm slot (slot[nt], directory order), the LM head in
 * *lm_head; the attention masks are skipped, anything else is an error. */
static lac_status assign_tensors(const ckpt *ck, const lac_model_config *cfg,
                                 const st_tensor **slot, const st_tensor **lm_head,
                                 lac_error *err) {
    const uint32_t nt = lacm_n_tensors(cfg->n_layer);
    for (size_t i = 0; i < ck->n_tensors; i++) {
        const st_tensor *t = &ck->tensors[i];
        const char *n = t->name;
        const char *fpath = ck->files[t->file].path;
        if (!strncmp(n, "transformer.", 12)) n += 12;
        if (is_ignored(n)) continue;
        const st_tensor **dst = NULL;
        if (!strcmp(n, "lm_head.weight")) {
            dst = lm_head;
        } else {
            /* h.N.* names: parse N to find the slot without a linear search */
            char want[LACM_NAME_LEN];
            uint32_t shape[2], lo = 0, hi = nt;
            if (!strncmp(n, "h.", 2)) {
                char *endp;
                unsigned long l = strtoul(n + 2, &endp, 10);
                if (endp != n + 2 && *endp == '.' && l < cfg->n_layer)
                    lo = 2 + 12 * (uint32_t)l, hi = lo + 12;
                else
                    lo = hi = 0;
            }
            for (uint32_t k = lo; k < hi && !dst; k++) {
                lacm_tensor_spec(cfg, k, want, shape);
                if (!strcmp(n, want)) dst = &slot[k];
            }
        }
        if (!dst)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: unexpected tensor %.60s (not part of a "
                            "%u-layer GPT-2)", fpath, t->name, cfg->n_layer);
        if (*dst)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: tensor %.60s appears twice (%.60s)", fpath,
                            t->name, (*dst)->name);
        *dst = t;
    }
    return LAC_OK;
}

/* Every slot filled, with the config's shape and a dtype we read; *common receives the one
 * dtype of all tensors (F32 when they differ). */
static lac_status check_tensors(const ckpt *ck, const lac_model_config *cfg,
                                const st_tensor *const *slot, const char *wlabel, int *common,
                                lac_error *err) {
    const uint32_t nt = lacm_n_tensors(cfg->n_layer);
    *common = -2;
    for (uint32_t k = 0; k < nt; k++) {
        char want[LACM_NAME_LEN];
        uint32_t shape[2];
        int nd = lacm_tensor_spec(cfg, k, want, shape);
        const st_tensor *t = slot[k];
        if (!t) return lac_fail(err, LAC_ERR_FORMAT, "%s: missing tensor %s", wlabel, want);
        const char *fpath = ck->files[t->file].path;
        if (t->ndim != nd || t->shape[0] != shape[0] || (nd == 2 && t->shape[1] != shape[1])) {
            char got[200];
            int o = snprintf(got, sizeof got, "[");
            for (int d = 0; d < t->ndim && o < 150; d++)
                o += snprintf(got + o, sizeof got - (size_t)o, "%s%llu", d ? "," : "",
                              (unsigned long long)t->shape[d]);
            snprintf(got + o, sizeof got - (size_t)o, "]");
            if (nd == 2)
                return lac_fail(err, LAC_ERR_FORMAT, "%s: tensor %.60s has shape %s, expected "
                                "[%u,%u] from config.json", fpath, t->name, got, shape[0],
                                shape[1]);
            return lac_fail(err, LAC_ERR_FORMAT, "%s: tensor %.60s has shape %s, expected "
                            "[%u] from config.json", fpath, t->name, got, shape[0]);
        }
        if (t->dtype < 0)
            return lac_fail(err, LAC_ERR_UNSUPPORTED,
                            "%s: tensor %.60s has dtype %s (need F32, F16 or BF16)", fpath,
                            t->name, t->dtype_name);
        *common = *common == -2 ? t->dtype : *common == t->dtype ? *common : LAC_DTYPE_F32;
    }
    return LAC_OK;
}

/* A present LM head must be the tied embedding, value for value. */
static lac_status check_tied_head(const ckpt *ck, const lac_model_config *cfg,
                                  const st_tensor *wte, const st_tensor *lm_head,
                                  lac_error *err) {
    const char *fpath = ck->files[lm_head->file].path;
    if (lm_head->dtype < 0 || lm_head->ndim != 2 || lm_head->shape[0] != cfg->vocab_size ||
        lm_head->shape[1] != cfg->n_embd)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: lm_head.weight has the wrong dtype or shape",
                        fpath);
    size_t C = cfg->n_embd;
    const uint8_t *pa = tensor_data(ck, wte), *pb = tensor_data(ck, lm_head);
    for (size_t r = 0; r < cfg->vocab_size; r++)
        for (size_t k = 0; k < C; k++) {
            float a = lacm_load_value(pa, (lac_dtype)wte->dtype, r * C + k);
            float b = lacm_load_value(pb, (lac_dtype)lm_head->dtype, r * C + k);
            if (memcmp(&a, &b, 4))
                return lac_fail(err, LAC_ERR_UNSUPPORTED,
                                "%s: lm_head.weight differs from wte.weight at [%zu][%zu]: "
                                "untied LM head not supported", fpath, r, k);
        }
    return LAC_OK;
}

/* The model name: the caller's, or the directory's base name (cut to 63 bytes). */
static lac_status set_model_name(lac_model_config *cfg, const char *name, const char *hf_dir,
                                 lac_error *err) {
    size_t nlen;
    const char *nm = name;
    if (nm) {
        nlen = strlen(nm);
        if (nlen >= sizeof cfg->name)
            return lac_fail(err, LAC_ERR_ARG, "model name '%.70s' is longer than %zu bytes", nm,
                            sizeof cfg->name - 1);
    } else {
        size_t l = strlen(hf_dir);
        while (l > 1 && hf_dir[l - 1] == '/') l--;
        size_t s = l;
        while (s > 0 && hf_dir[s - 1] != '/') s--;
        nm = hf_dir + s;
        nlen = l - s < sizeof cfg->name - 1 ? l - s : sizeof cfg->name - 1;
    }
    memcpy(cfg->name, nm, nlen);
    cfg->name[nlen] = '\0';
    return LAC_OK;
}

/* The .lacm file: header and vocabulary, then the tensors in slot (directory) order. */
static lac_status write_model(const char *out_path, const lac_model_config *cfg,
                              const lac_vocab *vocab, const ckpt *ck,
                              const st_tensor *const *slot, lac_error *err) {
    lacm_writer *w = NULL;
    lac_status st = lacm_writer_begin(&w, out_path, cfg, vocab, err);
    for (uint32_t k = 0; !st && k < lacm_n_tensors(cfg->n_layer); k++) {
        const st_tensor *t = slot[k];
        char label[512];
        snprintf(label, sizeof label, "%s: tensor %s", ck->files[t->file].path, t->name);
        uint64_t numel = t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
        st = lacm_writer_append(w, tensor_data(ck, t), (lac_dtype)t->dtype, numel, label, err);
    }
    if (st) {
        lacm_writer_abort(w);
        return st;
    }
    return lacm_writer_finish(w, err);
}

lac_status lac_convert_hf(const char *hf_dir, const char *out_path, int storage,
                          const char *name, lac_error *err) {
    if (!hf_dir || !out_path)
        return lac_fail(err, LAC_ERR_ARG, "lac_convert_hf: NULL directory or output path");
    if (storage < -1 || storage > LAC_DTYPE_BF16)
        return lac_fail(err, LAC_ERR_ARG, "lac_convert_hf: unknown storage dtype %d", storage);
    struct stat sb;
    if (stat(hf_dir, &sb) != 0)
        return lac_fail(err, LAC_ERR_IO, "%s: cannot open: %s", hf_dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return lac_fail(err, LAC_ERR_IO, "%s: not a directory", hf_dir);

    lac_model_config cfg;
    lac_vocab_owned vocab;
    memset(&vocab, 0, sizeof vocab);
    ckpt ck;
    memset(&ck, 0, sizeof ck);
    ck.dir = hf_dir;
    const st_tensor **slot = NULL, *lm_head = NULL;
    char *cfg_path = join(hf_dir, "config.json");
    if (!cfg_path) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", hf_dir);
    int common = -2;
    lac_status st = read_config(cfg_path, &cfg, err);
    if (!st) st = load_tokenizer(hf_dir, cfg_path, &cfg, &vocab, err);
    if (!st) st = open_checkpoint(&ck, err);
    if (!st && !(slot = calloc(lacm_n_tensors(cfg.n_layer), sizeof *slot)))
        st = lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", hf_dir);
    if (!st) st = assign_tensors(&ck, &cfg, slot, &lm_head, err);
    if (!st)
        st = check_tensors(&ck, &cfg, slot, ck.index_path ? ck.index_path : ck.files[0].path,
                           &common, err);
    if (!st && lm_head) st = check_tied_head(&ck, &cfg, slot[0], lm_head, err);
    if (!st) st = set_model_name(&cfg, name, hf_dir, err);
    if (!st) {
        cfg.storage = storage >= 0 ? (lac_dtype)storage : (lac_dtype)common;
        cfg.is_random = 0;
        st = write_model(out_path, &cfg, &vocab.v, &ck, slot, err);
    }
    free(slot);
    close_checkpoint(&ck);
    lac_vocab_owned_free(&vocab);
    free(cfg_path);
    return st;
}
