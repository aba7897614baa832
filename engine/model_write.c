/* Streaming writer of model files (docs/MODEL_FORMAT.md). The layout is fixed by the config
 * and the vocab, so every offset is known up front; tensors are appended in file order in
 * pieces of any size, narrowed to the storage dtype and hashed as fp32 on the way, and the
 * header (with the identity hash) is written last. Files go through a temp file in the output's
 * directory that is renamed into place only on success. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lac_error.h"
#include "model.h"
#include "model_file.h"

#define CHUNK 16384

struct lacm_writer {
    lac_model_config cfg;
    const lac_vocab *v;
    char *out_path, *tmp_path;
    FILE *f;
    uint8_t *mem; /* in-memory image */
    uint8_t header[LACM_HEADER_SIZE];
    uint64_t off_tok, off_bytes, off_merges, off_dir, file_size;
    uint64_t *t_off, *t_numel;
    uint32_t n_tensors, cur;
    uint64_t cur_done, pos;
    size_t esz;
    EVP_MD_CTX *ctx;
    float wide[CHUNK];
    uint8_t out[CHUNK * 4];
    char label[LACM_NAME_LEN + 8];
};

static const char *wpath(const lacm_writer *w) { return w->out_path ? w->out_path : "(memory)"; }

static lac_status emit(lacm_writer *w, const void *data, size_t n, lac_error *err) {
    if (!n) return LAC_OK;
    if (w->mem) {
        if (w->pos + n > w->file_size)
            return lac_fail(err, LAC_ERR_ARG, "%s: write beyond the planned size", wpath(w));
        memcpy(w->mem + w->pos, data, n);
    } else if (fwrite(data, 1, n, w->f) != n) {
        return lac_fail(err, LAC_ERR_IO, "%s: write failed: %s", w->tmp_path, strerror(errno));
    }
    w->pos += n;
    return LAC_OK;
}

static lac_status pad_to(lacm_writer *w, uint64_t off, lac_error *err) {
    static const uint8_t zeros[LACM_ALIGN];
    while (w->pos < off) {
        size_t k = off - w->pos < LACM_ALIGN ? (size_t)(off - w->pos) : LACM_ALIGN;
        lac_status st = emit(w, zeros, k, err);
        if (st) return st;
    }
    return LAC_OK;
}

static lac_status emit_u32s(lacm_writer *w, const uint32_t *a, size_t n, lac_error *err) {
    for (size_t i = 0; i < n;) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < k; j++) lac_le_put32(w->out + 4 * j, a[i + j]);
        lac_status st = emit(w, w->out, k * 4, err);
        if (st) return st;
        i += k;
    }
    return LAC_OK;
}

void lacm_writer_abort(lacm_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    if (w->tmp_path) unlink(w->tmp_path);
    free(w->tmp_path);
    free(w->out_path);
    free(w->mem);
    free(w->t_off);
    free(w->t_numel);
    EVP_MD_CTX_free(w->ctx);
    free(w);
}

static lac_status check_vocab(const char *label, const lac_model_config *cfg, const lac_vocab *v,
                              lac_error *err) {
    if (!v || !v->tok_off || !v->tok_bytes || (v->n_merges && !v->merges))
        return lac_fail(err, LAC_ERR_ARG, "%s: no vocabulary", label);
    if (v->n_tokens != cfg->vocab_size)
        return lac_fail(err, LAC_ERR_FORMAT,
                        "%s: vocab_size %u in the config but the tokenizer has %u tokens", label,
                        cfg->vocab_size, v->n_tokens);
    if (v->tok_off[0] != 0 || v->tok_off[v->n_tokens] > LACM_MAX_VOCAB_BYTES)
        return lac_fail(err, LAC_ERR_FORMAT, "%s: bad token offsets", label);
    for (uint32_t i = 0; i < v->n_tokens; i++)
        if (v->tok_off[i + 1] <= v->tok_off[i] ||
            v->tok_off[i + 1] - v->tok_off[i] > LACM_MAX_TOKEN_BYTES)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: token %u is empty or longer than %u bytes",
                            label, i, LACM_MAX_TOKEN_BYTES);
    if (v->n_merges > LACM_MAX_MERGES)
        return lac_fail(err, LAC_ERR_LIMIT, "%s: %u merges exceed %u", label, v->n_merges,
                        LACM_MAX_MERGES);
    for (uint64_t i = 0; i < 2ull * v->n_merges; i++)
        if (v->merges[i] >= v->n_tokens)
            return lac_fail(err, LAC_ERR_FORMAT, "%s: merge %llu names token %u beyond the vocab",
                            label, (unsigned long long)(i / 2), v->merges[i]);
    return LAC_OK;
}

lac_status lacm_writer_begin(lacm_writer **out, const char *out_path, const lac_model_config *cfg,
                             const lac_vocab *v, lac_error *err) {
    *out = NULL;
    const char *label = out_path ? out_path : "(memory)";
    lac_status st = lacm_check_config(label, cfg, err);
    if (st) return st;
    if (memchr(cfg->name, '\0', sizeof cfg->name) == NULL)
        return lac_fail(err, LAC_ERR_ARG, "%s: model name is longer than 63 bytes", label);
    for (const char *p = cfg->name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            return lac_fail(err, LAC_ERR_ARG, "%s: model name has a control character", label);
    if ((st = check_vocab(label, cfg, v, err))) return st;

    lacm_writer *w = calloc(1, sizeof *w);
    if (!w) return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", label);
    w->cfg = *cfg;
    w->v = v;
    w->esz = lacm_dtype_size((uint32_t)cfg->storage);
    w->n_tensors = lacm_n_tensors(cfg->n_layer);
    w->t_off = calloc(w->n_tensors, sizeof *w->t_off);
    w->t_numel = calloc(w->n_tensors, sizeof *w->t_numel);
    w->ctx = EVP_MD_CTX_new();
    if (!w->t_off || !w->t_numel || !w->ctx) {
        lacm_writer_abort(w);
        return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", label);
    }
    uint32_t V = cfg->vocab_size;
    w->off_tok = lacm_align(LACM_HEADER_SIZE);
    w->off_bytes = lacm_align(w->off_tok + 4ull * (V + 1));
    w->off_merges = lacm_align(w->off_bytes + v->tok_off[V]);
    w->off_dir = lacm_align(w->off_merges + 8ull * v->n_merges);
    uint64_t p = w->off_dir + (uint64_t)w->n_tensors * LACM_DIR_ENTRY_SIZE;
    for (uint32_t i = 0; i < w->n_tensors; i++) {
        char name[LACM_NAME_LEN];
        uint32_t shape[2];
        int nd = lacm_tensor_spec(cfg, i, name, shape);
        w->t_numel[i] = (uint64_t)shape[0] * (nd == 2 ? shape[1] : 1);
        w->t_off[i] = p = lacm_align(p);
        p += w->t_numel[i] * w->esz;
    }
    w->file_size = p;

    if (!out_path) {
        if (p > (uint64_t)1 << 34) {
            lacm_writer_abort(w);
            return lac_fail(err, LAC_ERR_LIMIT, "(memory): a %llu-byte model is too large to "
                            "build in memory", (unsigned long long)p);
        }
        w->mem = calloc(1, (size_t)p);
        if (!w->mem) {
            lacm_writer_abort(w);
            return lac_fail(err, LAC_ERR_NOMEM, "(memory): out of memory for %llu bytes",
                            (unsigned long long)p);
        }
    } else {
        size_t n = strlen(out_path);
        w->out_path = malloc(n + 1);
        w->tmp_path = malloc(n + 16);
        if (!w->out_path || !w->tmp_path) {
            free(w->tmp_path);
            w->tmp_path = NULL;
            lacm_writer_abort(w);
            return lac_fail(err, LAC_ERR_NOMEM, "%s: out of memory", out_path);
        }
        memcpy(w->out_path, out_path, n + 1);
        snprintf(w->tmp_path, n + 16, "%s.tmp.XXXXXX", out_path);
        int fd = mkstemp(w->tmp_path);
        if (fd < 0) {
            int e = errno;
            free(w->tmp_path);
            w->tmp_path = NULL;
            lacm_writer_abort(w);
            return lac_fail(err, LAC_ERR_IO, "%s: cannot create a temp file next to it: %s",
                            out_path, strerror(e));
        }
        mode_t um = umask(0);
        umask(um);
        if (fchmod(fd, 0666 & ~um) != 0 || !(w->f = fdopen(fd, "wb"))) {
            int e = errno;
            close(fd);
            lacm_writer_abort(w);
            return lac_fail(err, LAC_ERR_IO, "%s: cannot open: %s", out_path, strerror(e));
        }
    }

    /* everything up to the first tensor */
    if (!EVP_DigestInit_ex(w->ctx, EVP_sha256(), NULL) || !lacm_hash_prefix(w->ctx, cfg, v)) {
        lacm_writer_abort(w);
        return lac_fail(err, LAC_ERR_NOMEM, "%s: SHA-256 failed", label);
    }
    if ((st = emit(w, w->header, LACM_HEADER_SIZE, err)) || (st = pad_to(w, w->off_tok, err)) ||
        (st = emit_u32s(w, v->tok_off, (size_t)V + 1, err)) ||
        (st = pad_to(w, w->off_bytes, err)) ||
        (st = emit(w, v->tok_bytes, v->tok_off[V], err)) ||
        (st = pad_to(w, w->off_merges, err)) ||
        (st = emit_u32s(w, v->merges, (size_t)v->n_merges * 2, err)) ||
        (st = pad_to(w, w->off_dir, err))) {
        lacm_writer_abort(w);
        return st;
    }
    for (uint32_t i = 0; i < w->n_tensors; i++) {
        uint8_t e[LACM_DIR_ENTRY_SIZE];
        uint32_t shape[2];
        memset(e, 0, sizeof e);
        int nd = lacm_tensor_spec(cfg, i, (char *)e + LACM_E_NAME, shape);
        lac_le_put32(e + LACM_E_DTYPE, (uint32_t)cfg->storage);
        lac_le_put32(e + LACM_E_NDIM, (uint32_t)nd);
        lac_le_put32(e + LACM_E_SHAPE0, shape[0]);
        lac_le_put32(e + LACM_E_SHAPE1, nd == 2 ? shape[1] : 0);
        lac_le_put64(e + LACM_E_OFFSET, w->t_off[i]);
        lac_le_put64(e + LACM_E_NBYTES, w->t_numel[i] * w->esz);
        if ((st = emit(w, e, sizeof e, err))) {
            lacm_writer_abort(w);
            return st;
        }
    }
    *out = w;
    return LAC_OK;
}

uint32_t lacm_writer_tensor(const lacm_writer *w) { return w->cur; }

lac_status lacm_writer_append(lacm_writer *w, const void *src, lac_dtype src_dtype, uint64_t n,
                              const char *label, lac_error *err) {
    const uint8_t *s = src;
    size_t ssz = lacm_dtype_size((uint32_t)src_dtype);
    if (!ssz) return lac_fail(err, LAC_ERR_ARG, "%s: unknown source dtype", wpath(w));
    while (n) {
        char tname[LACM_NAME_LEN];
        uint32_t shape[2];
        if (w->cur >= w->n_tensors)
            return lac_fail(err, LAC_ERR_ARG, "%s: more tensor values than the model has",
                            wpath(w));
        lacm_tensor_spec(&w->cfg, w->cur, tname, shape);
        const char *lb = label ? label : wpath(w);
        lac_status st;
        if (w->cur_done == 0 && (st = pad_to(w, w->t_off[w->cur], err))) return st;
        uint64_t left = w->t_numel[w->cur] - w->cur_done;
        size_t k = (size_t)(n < left ? n : left);
        if (k > CHUNK) k = CHUNK;
        for (size_t i = 0; i < k; i++) {
            float f = lacm_load_value(s, src_dtype, i);
            if (!isfinite(f))
                return lac_fail(err, LAC_ERR_FORMAT, "%s: value %llu of %s is not finite", lb,
                                (unsigned long long)(w->cur_done + i), tname);
            uint32_t u;
            switch (w->cfg.storage) {
            case LAC_DTYPE_F16: {
                uint16_t h = lacm_f32_to_f16(f);
                w->wide[i] = lacm_f16_to_f32(h);
                u = h;
                break;
            }
            case LAC_DTYPE_BF16: {
                uint16_t h = lacm_f32_to_bf16(f);
                w->wide[i] = lacm_bf16_to_f32(h);
                u = h;
                break;
            }
            default:
                w->wide[i] = f;
                memcpy(&u, &f, 4);
                break;
            }
            if (!isfinite(w->wide[i]))
                return lac_fail(err, LAC_ERR_FORMAT, "%s: value %g (index %llu of %s) is out of "
                                "%s range", lb, (double)f, (unsigned long long)(w->cur_done + i),
                                tname, lacm_dtype_name((uint32_t)w->cfg.storage));
            if (w->esz == 4)
                lac_le_put32(w->out + 4 * i, u);
            else
                w->out[2 * i] = (uint8_t)u, w->out[2 * i + 1] = (uint8_t)(u >> 8);
        }
        if (!EVP_DigestUpdate(w->ctx, w->wide, k * sizeof(float)))
            return lac_fail(err, LAC_ERR_NOMEM, "%s: SHA-256 failed", wpath(w));
        if ((st = emit(w, w->out, k * w->esz, err))) return st;
        s += k * ssz;
        n -= k;
        w->cur_done += k;
        if (w->cur_done == w->t_numel[w->cur]) w->cur++, w->cur_done = 0;
    }
    return LAC_OK;
}

static lac_status finish_header(lacm_writer *w, lac_error *err) {
    if (w->cur != w->n_tensors)
        return lac_fail(err, LAC_ERR_ARG, "%s: only %u of %u tensors were written", wpath(w),
                        w->cur, w->n_tensors);
    if (w->pos != w->file_size)
        return lac_fail(err, LAC_ERR_ARG, "%s: wrote %llu bytes, planned %llu", wpath(w),
                        (unsigned long long)w->pos, (unsigned long long)w->file_size);
    uint8_t *h = w->header;
    const lac_model_config *c = &w->cfg;
    memset(h, 0, LACM_HEADER_SIZE);
    memcpy(h + LACM_H_MAGIC, LACM_MAGIC, 8);
    lac_le_put32(h + LACM_H_VERSION, LAC_MODEL_FORMAT_VERSION);
    lac_le_put32(h + LACM_H_HEADER_SIZE, LACM_HEADER_SIZE);
    lac_le_put32(h + LACM_H_N_LAYER, c->n_layer);
    lac_le_put32(h + LACM_H_N_HEAD, c->n_head);
    lac_le_put32(h + LACM_H_N_EMBD, c->n_embd);
    lac_le_put32(h + LACM_H_N_CTX, c->n_ctx);
    lac_le_put32(h + LACM_H_VOCAB, c->vocab_size);
    lac_le_put32(h + LACM_H_N_INNER, c->n_inner);
    uint32_t eps;
    memcpy(&eps, &c->ln_eps, 4);
    lac_le_put32(h + LACM_H_LN_EPS, eps);
    lac_le_put32(h + LACM_H_EOT, c->eot_token);
    lac_le_put32(h + LACM_H_STORAGE, (uint32_t)c->storage);
    lac_le_put32(h + LACM_H_FLAGS, c->is_random ? LACM_FLAG_RANDOM : 0);
    memcpy(h + LACM_H_NAME, c->name, strlen(c->name)); /* NUL-padded by the memset */
    lac_le_put32(h + LACM_H_N_MERGES, w->v->n_merges);
    lac_le_put32(h + LACM_H_N_TENSORS, w->n_tensors);
    lac_le_put64(h + LACM_H_TOK_OFF, w->off_tok);
    lac_le_put64(h + LACM_H_TOK_BYTES, w->off_bytes);
    lac_le_put64(h + LACM_H_TOK_BYTES_LEN, w->v->tok_off[w->v->n_tokens]);
    lac_le_put64(h + LACM_H_MERGES, w->off_merges);
    lac_le_put64(h + LACM_H_DIR, w->off_dir);
    lac_le_put64(h + LACM_H_DATA, w->t_off[0]);
    lac_le_put64(h + LACM_H_FILE_SIZE, w->file_size);
    unsigned hl = 0;
    uint8_t d[EVP_MAX_MD_SIZE];
    if (!EVP_DigestFinal_ex(w->ctx, h + LACM_H_HASH, &hl) ||
        !EVP_Digest(h, LACM_H_CHECK, d, &hl, EVP_sha256(), NULL))
        return lac_fail(err, LAC_ERR_NOMEM, "%s: SHA-256 failed", wpath(w));
    memcpy(h + LACM_H_CHECK, d, 8);
    return LAC_OK;
}

lac_status lacm_writer_finish(lacm_writer *w, lac_error *err) {
    lac_status st = finish_header(w, err);
    if (!st && !w->f) st = lac_fail(err, LAC_ERR_ARG, "(memory): use lacm_writer_finish_mem");
    if (!st) {
        if (fflush(w->f) != 0 || fseeko(w->f, 0, SEEK_SET) != 0 ||
            fwrite(w->header, 1, LACM_HEADER_SIZE, w->f) != LACM_HEADER_SIZE ||
            fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
            st = lac_fail(err, LAC_ERR_IO, "%s: write failed: %s", w->tmp_path, strerror(errno));
    }
    if (!st) {
        FILE *f = w->f;
        w->f = NULL;
        if (fclose(f) != 0)
            st = lac_fail(err, LAC_ERR_IO, "%s: write failed: %s", w->tmp_path, strerror(errno));
    }
    if (!st && rename(w->tmp_path, w->out_path) != 0)
        st = lac_fail(err, LAC_ERR_IO, "%s: cannot rename %s into place: %s", w->out_path,
                      w->tmp_path, strerror(errno));
    if (!st) {
        free(w->tmp_path);
        w->tmp_path = NULL; /* nothing to unlink */
    }
    lacm_writer_abort(w);
    return st;
}

lac_status lacm_writer_finish_mem(lacm_writer *w, uint8_t **buf, size_t *size, lac_error *err) {
    *buf = NULL;
    *size = 0;
    lac_status st = finish_header(w, err);
    if (!st && !w->mem) st = lac_fail(err, LAC_ERR_ARG, "%s: not an in-memory writer", wpath(w));
    if (!st) {
        memcpy(w->mem, w->header, LACM_HEADER_SIZE);
        *buf = w->mem;
        *size = (size_t)w->file_size;
        w->mem = NULL;
    }
    lacm_writer_abort(w);
    return st;
}
