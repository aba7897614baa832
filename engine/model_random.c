/* Random-weight models of real shapes: config presets, a synthetic byte-level vocabulary for
 * tiny test models, in-memory models (tests, fuzzers) and streamed model files (benches).
 *
 * The weights depend only on (seed, tensor index, element index) and are computed with exact
 * integer arithmetic and one IEEE multiplication, so they are the same on every machine:
 * a sum of four 24-bit uniforms (Irwin-Hall, variance 4/12) scaled to N(0, 0.02)-like values.
 * LayerNorm weights are 1 + noise, everything else noise (biases included, so that every
 * parameter matters in tests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lac_error.h"
#include "model.h"
#include "model_file.h"

lac_status lac_model_config_preset(const char *preset, lac_model_config *cfg, lac_error *err) {
    static const struct {
        const char *name;
        uint32_t n_layer, n_head, n_embd;
        lac_dtype storage;
    } presets[] = {{"gpt2", 12, 12, 768, LAC_DTYPE_F32},
                   {"gpt2-medium", 24, 16, 1024, LAC_DTYPE_F32},
                   {"gpt2-large", 36, 20, 1280, LAC_DTYPE_F32},
                   {"gpt2-xl", 48, 25, 1600, LAC_DTYPE_F32},
                   {"tiny", 8, 4, 256, LAC_DTYPE_F16}};
    if (!cfg) return lac_fail(err, LAC_ERR_ARG, "lac_model_config_preset: cfg is NULL");
    for (size_t i = 0; preset && i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(preset, presets[i].name)) continue;
        memset(cfg, 0, sizeof *cfg);
        cfg->n_layer = presets[i].n_layer;
        cfg->n_head = presets[i].n_head;
        cfg->n_embd = presets[i].n_embd;
        cfg->n_ctx = 1024;
        cfg->vocab_size = 50257;
        cfg->n_inner = 4 * presets[i].n_embd;
        cfg->ln_eps = 1e-5f;
        cfg->eot_token = 50256;
        cfg->storage = presets[i].storage;
        cfg->is_random = 0;
        snprintf(cfg->name, sizeof cfg->name, "%s", presets[i].name);
        return LAC_OK;
    }
    return lac_fail(err, LAC_ERR_ARG,
                    "unknown config preset '%s' (gpt2, gpt2-medium, gpt2-large, gpt2-xl, tiny)",
                    preset ? preset : "(null)");
}

/* ---- synthetic vocabulary ------------------------------------------------------------------ */
/* Tokens 0..255 are the bytes, then merged tokens built from a small alphabet (pairs of
 * letters, then those pairs plus a letter, ...), and the last token is "<|endoftext|>". */
static lac_status synth_vocab(uint32_t V, lac_vocab_owned *o, lac_error *err) {
    static const char alpha[] = " etaoinshrdlu";
    const uint32_t na = sizeof alpha - 1;
    memset(o, 0, sizeof *o);
    if (V < 257 || V > 8192)
        return lac_fail(err, LAC_ERR_ARG,
                        "synthetic vocabulary: vocab_size %u is outside 257..8192", V);
    uint32_t n_merged = V - 257;
    o->tok_off = malloc(((size_t)V + 1) * sizeof(uint32_t));
    o->tok_bytes = malloc((size_t)V * 16 + 16);
    o->merges = malloc(((size_t)n_merged + 1) * 2 * sizeof(uint32_t));
    if (!o->tok_off || !o->tok_bytes || !o->merges) {
        lac_vocab_owned_free(o);
        return lac_fail(err, LAC_ERR_NOMEM, "synthetic vocabulary: out of memory");
    }
    uint32_t off = 0, id = 0;
    for (; id < 256; id++) {
        o->tok_off[id] = off;
        o->tok_bytes[off++] = (uint8_t)id;
    }
    /* level 1: alpha x alpha from byte tokens; level k: (level k-1 token) x alpha */
    uint32_t prev_lo = 0, prev_hi = 0; /* previous level's id range, [lo, hi) */
    uint32_t made = 0;
    for (int level = 1; made < n_merged; level++) {
        uint32_t lo = id;
        uint32_t n_left = level == 1 ? na : prev_hi - prev_lo;
        for (uint32_t a = 0; a < n_left && made < n_merged; a++)
            for (uint32_t b = 0; b < na && made < n_merged; b++) {
                uint32_t left = level == 1 ? (uint8_t)alpha[a] : prev_lo + a;
                uint32_t right = (uint8_t)alpha[b];
                uint32_t ll = o->tok_off[left + 1] - o->tok_off[left];
                o->tok_off[id] = off;
                memcpy(o->tok_bytes + off, o->tok_bytes + o->tok_off[left], ll);
                off += ll;
                o->tok_bytes[off++] = (uint8_t)alpha[b];
                o->merges[2 * made] = left;
                o->merges[2 * made + 1] = right;
                made++;
                id++;
                o->tok_off[id] = off; /* provisional end, fixes tok_off[left+1] lookups */
            }
        prev_lo = lo;
        prev_hi = id;
    }
    o->tok_off[id] = off;
    memcpy(o->tok_bytes + off, "<|endoftext|>", 13);
    off += 13;
    id++;
    o->tok_off[id] = off;
    o->v.n_tokens = V;
    o->v.tok_off = o->tok_off;
    o->v.tok_bytes = o->tok_bytes;
    o->v.n_merges = n_merged;
    o->v.merges = o->merges;
    return LAC_OK;
}

/* ---- deterministic weights ----------------------------------------------------------------- */
static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Streams tensor i's values into w, generated in chunks. */
static lac_status gen_tensor(lacm_writer *w, const lac_model_config *cfg, uint64_t seed,
                             uint32_t i, lac_error *err) {
    char name[LACM_NAME_LEN];
    uint32_t shape[2];
    int nd = lacm_tensor_spec(cfg, i, name, shape);
    uint64_t n = (uint64_t)shape[0] * (nd == 2 ? shape[1] : 1);
    int is_ln_w = strstr(name, "ln_") && strstr(name, ".weight");
    uint64_t s = seed * 0x2545F4914F6CDD1Dull ^ ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ull;
    float buf[4096];
    for (uint64_t done = 0; done < n;) {
        size_t k = n - done < 4096 ? (size_t)(n - done) : 4096;
        for (size_t j = 0; j < k; j++) {
            uint64_t r = splitmix(&s), r2 = splitmix(&s);
            /* four 24-bit uniforms: sum in [0, 4*2^24), mean 2*2^24, sd 2^24/sqrt(3) */
            int64_t sum = (int64_t)(r & 0xFFFFFF) + (int64_t)((r >> 24) & 0xFFFFFF) +
                          (int64_t)(r2 & 0xFFFFFF) + (int64_t)((r2 >> 24) & 0xFFFFFF) -
                          ((int64_t)2 << 24);
            /* 0.02 * sqrt(3) / 2^24: unit-variance noise times 0.02 */
            float v = (float)((double)sum * (0.034641016151377546 / 16777216.0));
            buf[j] = is_ln_w ? 1.0f + v : v;
        }
        lac_status st = lacm_writer_append(w, buf, LAC_DTYPE_F32, k, NULL, err);
        if (st) return st;
        done += k;
    }
    return LAC_OK;
}

static lac_status write_random(const lac_model_config *cfg_in, uint64_t seed, const lac_vocab *v,
                               const char *out_path, uint8_t **img, size_t *img_size,
                               lac_error *err) {
    lac_model_config cfg = *cfg_in;
    cfg.is_random = 1;
    lacm_writer *w = NULL;
    lac_status st = lacm_writer_begin(&w, out_path, &cfg, v, err);
    if (st) return st;
    for (uint32_t i = 0; i < lacm_n_tensors(cfg.n_layer); i++)
        if ((st = gen_tensor(w, &cfg, seed, i, err))) {
            lacm_writer_abort(w);
            return st;
        }
    return out_path ? lacm_writer_finish(w, err) : lacm_writer_finish_mem(w, img, img_size, err);
}

lac_status lac_model_create_random(const lac_model_config *cfg, uint64_t seed,
                                   const lac_vocab *v, lac_model **out, lac_error *err) {
    if (!out || !cfg)
        return lac_fail(err, LAC_ERR_ARG, "lac_model_create_random: NULL argument");
    *out = NULL;
    lac_model_config c = *cfg;
    lac_vocab_owned syn;
    memset(&syn, 0, sizeof syn);
    if (!v) {
        lac_status st = synth_vocab(c.vocab_size, &syn, err);
        if (st) return st;
        v = &syn.v;
        c.eot_token = c.vocab_size - 1;
    }
    uint8_t *img = NULL;
    size_t size = 0;
    lac_status st = write_random(&c, seed, v, NULL, &img, &size, err);
    lac_vocab_owned_free(&syn); /* the image holds its own copy */
    if (st) return st;
    lac_model *m = calloc(1, sizeof *m);
    if (!m) {
        free(img);
        return lac_fail(err, LAC_ERR_NOMEM, "random model: out of memory");
    }
    m->owned_extra = img;
    st = lacm_parse(img, size, "(random model)", m, err);
    if (st) {
        lac_model_close(m);
        return st;
    }
    *out = m;
    return LAC_OK;
}

lac_status lac_model_write_random(const lac_model_config *cfg, uint64_t seed,
                                  const lac_model *vocab_from, const char *hf_vocab_dir,
                                  lac_dtype storage, const char *out_path, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    if (!cfg || !out_path)
        return lac_fail(err, LAC_ERR_ARG, "lac_model_write_random: NULL argument");
    lac_model_config c = *cfg;
    c.storage = storage;
    lac_vocab_owned o;
    memset(&o, 0, sizeof o);
    const lac_vocab *v = NULL;
    lac_status st = LAC_OK;
    if (vocab_from) {
        v = &vocab_from->vocab;
        if (c.vocab_size == vocab_from->cfg.vocab_size) c.eot_token = vocab_from->cfg.eot_token;
    } else if (hf_vocab_dir) {
        size_t n = strlen(hf_vocab_dir) + 32;
        char *a = malloc(n), *b = malloc(n);
        if (!a || !b) {
            free(a);
            free(b);
            return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", hf_vocab_dir);
        }
        snprintf(a, n, "%s/vocab.json", hf_vocab_dir);
        snprintf(b, n, "%s/merges.txt", hf_vocab_dir);
        if (access(a, F_OK) != 0) {
            snprintf(a, n, "%s/encoder.json", hf_vocab_dir);
            snprintf(b, n, "%s/vocab.bpe", hf_vocab_dir);
        }
        st = lac_vocab_load_hf(a, b, &o, err);
        free(a);
        free(b);
        if (st) return st;
        v = &o.v;
    } else {
        if ((st = synth_vocab(c.vocab_size, &o, err))) return st;
        v = &o.v;
        c.eot_token = c.vocab_size - 1;
    }
    st = write_random(&c, seed, v, out_path, NULL, NULL, err);
    lac_vocab_owned_free(&o);
    return st;
}
