/* The stream API: lac_compress / lac_decompress / lac_list over the .lacz format
 * (docs/FORMAT.md). Memory is bounded by a few blocks whatever the input size: input is read
 * in chunks, tokenized incrementally and cut into blocks of at most block_tokens tokens; the
 * output is written one block at a time and never seeked. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container.h"
#include "lac.h"
#include "lac_error.h"
#include "model.h"
#include "rangecoder.h"

#define READ_CHUNK (64u * 1024u)
/* Stored runs are merged up to this many bytes (binary data gets few block headers). */
#define STORED_RUN_MAX (1u << 20)
/* Rows (tokens summed over streams) per forward call during compression. */
#define COMPRESS_ROWS 512

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lac_params_default(lac_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->engine.device = LAC_DEVICE_AUTO;
    p->engine.cuda_index = 0;
    p->engine.n_threads = 0;
    p->engine.n_streams = 1;
    p->engine.max_rows = 0;
    p->block_tokens = 0;
    lac_coder_params_default(&p->coder);
}

static int interrupted(const lac_params *p) { return p->interrupt && *p->interrupt; }

/* ---- I/O helpers ---- */
typedef struct writer {
    lac_write_fn wr; /* NULL: test mode, discard */
    void *ctx;
    uint64_t n;
} writer;

static lac_status put(writer *w, const void *data, size_t n, lac_error *err) {
    if (n && w->wr && w->wr(w->ctx, data, n) != 0)
        return lac_fail(err, LAC_ERR_IO, "output: write failed: %s", strerror(errno));
    w->n += n;
    return LAC_OK;
}

typedef struct reader {
    lac_read_fn rd;
    void *ctx;
    uint64_t n; /* bytes consumed so far */
} reader;

/* Reads up to n bytes, stopping only at end of input. *got = bytes read. */
static lac_status get(reader *r, void *buf, size_t n, size_t *got, lac_error *err) {
    size_t k = 0;
    while (k < n) {
        long m = r->rd(r->ctx, (uint8_t *)buf + k, n - k);
        if (m < 0) return lac_fail(err, LAC_ERR_IO, "input: read failed: %s", strerror(errno));
        if (m == 0) break;
        k += (size_t)m;
    }
    r->n += k;
    *got = k;
    return LAC_OK;
}

/* Reads exactly n bytes of a record called `what`, else LAC_ERR_TRUNCATED. */
static lac_status get_exact(reader *r, void *buf, size_t n, const char *what, lac_error *err) {
    uint64_t off = r->n;
    size_t got = 0;
    lac_status s = get(r, buf, n, &got, err);
    if (s) return s;
    if (got != n)
        return lac_fail(err, LAC_ERR_TRUNCATED,
                        "input is truncated: %s at offset %llu needs %zu bytes, %zu left", what,
                        (unsigned long long)off, n, got);
    return LAC_OK;
}

/* Skips n bytes (lac_list). */
static lac_status skip(reader *r, uint64_t n, const char *what, lac_error *err) {
    uint8_t buf[4096];
    while (n) {
        size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
        lac_status s = get_exact(r, buf, k, what, err);
        if (s) return s;
        n -= k;
    }
    return LAC_OK;
}

static void hash_prefix(const uint8_t h[32], char out[20]) {
    char hex[65];
    lac_hash_hex(h, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

/* ---- text detection: cheap, without the model ----
 * A block is "binary" (stored raw, the model never runs) when it holds a NUL byte, or when more
 * than 1/8 of its bytes are control characters (other than \t \n \v \f \r and ESC) or bytes of
 * invalid UTF-8. An incomplete sequence at the very end is not counted (it may continue). */
static int looks_binary(const uint8_t *s, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c == 0) return 1;
        if (c < 0x80) {
            if ((c < 0x20 && !(c >= 0x09 && c <= 0x0d) && c != 0x1b) || c == 0x7f) bad++;
            i++;
            continue;
        }
        size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!len) {
            bad++;
            i++;
            continue;
        }
        size_t j = 1;
        while (j < len && i + j < n && (s[i + j] & 0xc0) == 0x80) j++;
        if (j == len || i + j == n) {
            i += j;
        } else {
            bad += j;
            i += j;
        }
    }
    return bad * 8 > n;
}

/* ---- a growable byte buffer ---- */
typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static lac_status bytes_reserve(bytes *b, size_t need, lac_error *err) {
    if (need <= b->cap) return LAC_OK;
    size_t c = b->cap ? b->cap : 4096;
    while (c < need) c *= 2;
    uint8_t *q = realloc(b->p, c);
    if (!q) return lac_fail(err, LAC_ERR_NOMEM, "out of memory (%zu bytes for a block)", c);
    b->p = q;
    b->cap = c;
    return LAC_OK;
}

static lac_status bytes_add(bytes *b, const void *d, size_t n, lac_error *err) {
    lac_status s = bytes_reserve(b, b->n + n, err);
    if (s) return s;
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return LAC_OK;
}

static void *xcalloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

/* ============================================================================================
 * Compression
 * ========================================================================================== */
typedef struct cblock {
    int32_t *in;     /* [eot, t0 .. t_{n-2}] */
    int32_t *tgt;    /* t0 .. t_{n-1} */
    uint32_t *cum, *freq;
    uint32_t n;
    bytes plain;
} cblock;

typedef struct compressor {
    const lac_model *m;
    const lac_params *p;
    const lac_model_config *cfg;
    lac_tokenizer *tk;
    lac_engine *eng;
    int eng_B; /* the engine's streams (<= B: sized to the blocks at hand) */
    int B, R;
    uint32_t block_tokens;
    cblock *blk; /* B slots */
    int nblk;
    bytes stored; /* pending stored run */
    lac_rc_encoder rc;
    writer w;
    EVP_MD_CTX *sha_plain, *sha_in;
    uint64_t plain_bytes, blocks;
    lac_stats st;
} compressor;

static lac_status write_block(compressor *c, uint8_t type, uint32_t n_tokens, const bytes *plain,
                              const uint8_t *packed, uint32_t packed_len, lac_error *err) {
    lacz_block_header bh;
    memset(&bh, 0, sizeof bh);
    bh.type = type;
    bh.n_tokens = n_tokens;
    bh.plain_len = (uint32_t)plain->n;
    bh.packed_len = packed_len;
    if (lacz_block_checksum(plain->p, plain->n, bh.checksum))
        return lac_fail(err, LAC_ERR_NOMEM, "SHA-256 failed (OpenSSL)");
    uint8_t rec[LACZ_BLOCK_HEADER_SIZE];
    lacz_block_header_write(&bh, rec);
    lac_status s = put(&c->w, rec, sizeof rec, err);
    if (!s) s = put(&c->w, packed, packed_len, err);
    if (s) return s;
    if (!EVP_DigestUpdate(c->sha_plain, plain->p, plain->n))
        return lac_fail(err, LAC_ERR_NOMEM, "SHA-256 failed (OpenSSL)");
    c->plain_bytes += plain->n;
    c->blocks++;
    c->st.blocks++;
    if (type == LACZ_BLOCK_STORED) c->st.stored_blocks++;
    else c->st.tokens += n_tokens;
    if (c->p->progress) c->p->progress(c->p->progress_ctx, c->st.in_bytes, c->w.n);
    return LAC_OK;
}

static lac_status flush_stored(compressor *c, lac_error *err) {
    if (!c->stored.n) return LAC_OK;
    lac_status s = write_block(c, LACZ_BLOCK_STORED, 0, &c->stored, c->stored.p,
                               (uint32_t)c->stored.n, err);
    c->stored.n = 0;
    return s;
}

/* Creates the engine with `want` streams (max_rows = want * rows_per_stream), or re-creates it
 * when it has fewer: engines are sized to the blocks at hand, so a small input on a GPU does
 * not allocate 256 KV caches, and they grow when a later flush has more blocks. */
static lac_status ensure_engine(const lac_model *m, const lac_params *p, int want,
                                int rows_per_stream, lac_engine **eng, int *eng_B,
                                lac_error *err) {
    if (*eng && *eng_B >= want) return LAC_OK;
    lac_engine_free(*eng);
    *eng = NULL;
    *eng_B = 0;
    lac_engine_options o = p->engine;
    o.n_streams = want;
    o.max_rows = want * rows_per_stream;
    lac_status s = lac_engine_create(m, &o, eng, err);
    if (s == LAC_OK) *eng_B = want;
    return s;
}

/* Runs the model over the pending coded blocks (B at a time) and writes them. */
static lac_status flush_coded(compressor *c, lac_error *err) {
    if (!c->nblk) return LAC_OK;
    lac_status s = ensure_engine(c->m, c->p, c->nblk, c->R, &c->eng, &c->eng_B, err);
    if (s) return s;
    int B = c->eng_B;
    const int32_t *tok[B];
    const int32_t *tgt[B];
    uint32_t *cum[B], *freq[B];
    int counts[B];
    uint32_t maxn = 0;
    for (int b = 0; b < B; b++) {
        lac_engine_reset(c->eng, b);
        if (b < c->nblk && c->blk[b].n > maxn) maxn = c->blk[b].n;
    }
    for (uint32_t off = 0; off < maxn; off += (uint32_t)c->R) {
        if (interrupted(c->p)) return lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
        for (int b = 0; b < B; b++) {
            cblock *k = &c->blk[b];
            uint32_t left = b < c->nblk && k->n > off ? k->n - off : 0;
            counts[b] = (int)(left < (uint32_t)c->R ? left : (uint32_t)c->R);
            tok[b] = counts[b] ? k->in + off : NULL;
            tgt[b] = counts[b] ? k->tgt + off : NULL;
            cum[b] = counts[b] ? k->cum + off : NULL;
            freq[b] = counts[b] ? k->freq + off : NULL;
        }
        s = lac_engine_forward_code(c->eng, tok, counts, tgt, &c->p->coder, cum, freq, err);
        if (s) return s;
    }
    uint32_t P = c->p->coder.precision;
    for (int b = 0; b < c->nblk; b++) {
        cblock *k = &c->blk[b];
        lac_rc_enc_init(&c->rc);
        for (uint32_t i = 0; i < k->n; i++) lac_rc_encode(&c->rc, k->cum[i], k->freq[i], P);
        if (lac_rc_enc_finish(&c->rc)) {
            lac_rc_enc_free(&c->rc);
            return lac_fail(err, LAC_ERR_NOMEM, "out of memory in the range coder");
        }
        if (c->rc.n < k->plain.n && c->rc.n <= LACZ_CODED_MAX_PACKED(k->n)) {
            s = write_block(c, LACZ_BLOCK_CODED, k->n, &k->plain, c->rc.buf, (uint32_t)c->rc.n,
                            err);
        } else { /* coding would expand the block: store it */
            s = write_block(c, LACZ_BLOCK_STORED, 0, &k->plain, k->plain.p,
                            (uint32_t)k->plain.n, err);
        }
        lac_rc_enc_free(&c->rc);
        if (s) return s;
        k->plain.n = 0;
        k->n = 0;
    }
    c->nblk = 0;
    return LAC_OK;
}

/* Takes one block from ids[0..n) (n >= 1 tokens available); returns how many it took. */
static lac_status cut_block(compressor *c, const int32_t *ids, size_t n, size_t *taken,
                            lac_error *err) {
    if (c->nblk == c->B) {
        lac_status s = flush_coded(c, err);
        if (s) return s;
    }
    cblock *k = &c->blk[c->nblk];
    k->plain.n = 0;
    size_t i = 0;
    for (; i < n && i < c->block_tokens; i++) {
        size_t len;
        const uint8_t *tb = lac_token_bytes(c->tk, ids[i], &len);
        if (!tb || !len || ids[i] == (int32_t)c->cfg->eot_token)
            return lac_fail(err, LAC_ERR_FORMAT, "tokenizer produced an invalid token id %d",
                            (int)ids[i]);
        if (k->plain.n + len > LACZ_MAX_BLOCK_PLAIN && i > 0) break;
        lac_status s = bytes_add(&k->plain, tb, len, err);
        if (s) return s;
        k->in[i] = i ? ids[i - 1] : (int32_t)c->cfg->eot_token;
        k->tgt[i] = ids[i];
    }
    *taken = i;
    k->n = (uint32_t)i;
    if (looks_binary(k->plain.p, k->plain.n)) {
        /* order: pending coded blocks first, then this raw run */
        lac_status s = flush_coded(c, err);
        if (s) return s;
        if (c->stored.n + k->plain.n > STORED_RUN_MAX) {
            s = flush_stored(c, err);
            if (s) return s;
        }
        s = bytes_add(&c->stored, k->plain.p, k->plain.n, err);
        k->plain.n = 0;
        k->n = 0;
        return s;
    }
    lac_status s = flush_stored(c, err);
    if (s) return s;
    c->nblk++;
    return LAC_OK;
}

lac_status lac_compress(const lac_model *m, const lac_params *pp, lac_read_fn rd, void *rctx,
                        lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err) {
    lac_error_clear(err);
    if (!m || !rd || !wr)
        return lac_fail(err, LAC_ERR_ARG, "lac_compress: model, reader and writer are required");
    lac_params defaults;
    lac_params_default(&defaults);
    const lac_params *p = pp ? pp : &defaults;
    lac_status s = lac_coder_params_check(&p->coder, err);
    if (s) return s;
    compressor c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.p = p;
    c.cfg = lac_model_get_config(m);
    c.w.wr = wr;
    c.w.ctx = wctx;
    double t0 = now_s();
    c.block_tokens = p->block_tokens ? p->block_tokens : c.cfg->n_ctx;
    if (c.block_tokens > c.cfg->n_ctx || c.block_tokens > LACZ_MAX_BLOCK_TOKENS)
        return lac_fail(err, LAC_ERR_ARG,
                        "block size %u tokens exceeds the model's context of %u tokens",
                        c.block_tokens, c.cfg->n_ctx);
    if (c.block_tokens < 1)
        return lac_fail(err, LAC_ERR_ARG, "block size must be at least 1 token");
    c.B = p->engine.n_streams > 0 ? p->engine.n_streams : 1;
    if (c.B > 4096) return lac_fail(err, LAC_ERR_ARG, "n_streams %d is above 4096", c.B);
    int rows = p->engine.max_rows > 0 ? p->engine.max_rows : COMPRESS_ROWS;
    c.R = rows / c.B;
    if (c.R < 1) c.R = 1;
    if ((uint32_t)c.R > c.block_tokens) c.R = (int)c.block_tokens;

    lac_tokens toks = {0};
    uint8_t *chunk = NULL;
    lacz_header h;
    lacz_header_init(&h, &p->coder, c.block_tokens, lac_model_hash(m), c.cfg->name);
    s = lacz_header_check(&h, 0, err);
    if (s) return s;

    c.blk = xcalloc((size_t)c.B, sizeof *c.blk);
    chunk = malloc(READ_CHUNK);
    c.sha_plain = EVP_MD_CTX_new();
    c.sha_in = EVP_MD_CTX_new();
    if (!c.blk || !chunk || !c.sha_plain || !c.sha_in ||
        !EVP_DigestInit_ex(c.sha_plain, EVP_sha256(), NULL) ||
        !EVP_DigestInit_ex(c.sha_in, EVP_sha256(), NULL)) {
        s = lac_fail(err, LAC_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int b = 0; b < c.B; b++) {
        cblock *k = &c.blk[b];
        k->in = malloc(c.block_tokens * sizeof *k->in);
        k->tgt = malloc(c.block_tokens * sizeof *k->tgt);
        k->cum = malloc(c.block_tokens * sizeof *k->cum);
        k->freq = malloc(c.block_tokens * sizeof *k->freq);
        if (!k->in || !k->tgt || !k->cum || !k->freq) {
            s = lac_fail(err, LAC_ERR_NOMEM, "out of memory (%d blocks of %u tokens)", c.B,
                         c.block_tokens);
            goto done;
        }
    }
    s = lac_tokenizer_create(m, &c.tk, err);
    if (s) goto done;

    uint8_t rec[LACZ_HEADER_SIZE];
    lacz_header_write(&h, rec);
    s = put(&c.w, rec, sizeof rec, err);
    if (s) goto done;

    reader r = {rd, rctx, 0};
    size_t pos = 0; /* tokens of toks already cut into blocks */
    for (int eof = 0; !eof;) {
        if (interrupted(p)) {
            s = lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
            goto done;
        }
        long got = rd(rctx, chunk, READ_CHUNK);
        if (got < 0) {
            s = lac_fail(err, LAC_ERR_IO, "input: read failed: %s", strerror(errno));
            goto done;
        }
        eof = got == 0;
        r.n += (uint64_t)got;
        c.st.in_bytes = r.n;
        if (got && !EVP_DigestUpdate(c.sha_in, chunk, (size_t)got)) {
            s = lac_fail(err, LAC_ERR_NOMEM, "SHA-256 failed (OpenSSL)");
            goto done;
        }
        s = lac_tokenizer_feed(c.tk, chunk, (size_t)got, eof, &toks, err);
        if (s) goto done;
        while (toks.n - pos >= c.block_tokens || (eof && toks.n > pos)) {
            size_t taken = 0;
            s = cut_block(&c, toks.ids + pos, toks.n - pos, &taken, err);
            if (s) goto done;
            pos += taken;
        }
        if (pos) {
            memmove(toks.ids, toks.ids + pos, (toks.n - pos) * sizeof *toks.ids);
            toks.n -= pos;
            pos = 0;
        }
    }
    s = flush_coded(&c, err);
    if (!s) s = flush_stored(&c, err);
    if (s) goto done;

    lacz_footer f;
    memset(&f, 0, sizeof f);
    f.plain_bytes = c.plain_bytes;
    f.blocks = c.blocks;
    uint8_t in_sha[32];
    unsigned int l1 = 0, l2 = 0;
    if (!EVP_DigestFinal_ex(c.sha_plain, f.sha256, &l1) ||
        !EVP_DigestFinal_ex(c.sha_in, in_sha, &l2)) {
        s = lac_fail(err, LAC_ERR_NOMEM, "SHA-256 failed (OpenSSL)");
        goto done;
    }
    /* The tokenizer must be lossless; never write a file that would not decode. */
    if (c.plain_bytes != r.n || memcmp(in_sha, f.sha256, 32) != 0) {
        s = lac_fail(err, LAC_ERR_FORMAT,
                     "internal error: the token bytes (%llu) differ from the input (%llu bytes)",
                     (unsigned long long)c.plain_bytes, (unsigned long long)r.n);
        goto done;
    }
    lacz_block_header end;
    lacz_end_marker(&end);
    uint8_t erec[LACZ_BLOCK_HEADER_SIZE], frec[LACZ_FOOTER_SIZE];
    lacz_block_header_write(&end, erec);
    lacz_footer_write(&f, frec);
    s = put(&c.w, erec, sizeof erec, err);
    if (!s) s = put(&c.w, frec, sizeof frec, err);
    if (s) goto done;
    if (p->progress) p->progress(p->progress_ctx, r.n, c.w.n);

done:
    c.st.out_bytes = c.w.n;
    c.st.plain_bytes = c.plain_bytes;
    c.st.packed_bytes = c.w.n;
    c.st.seconds = now_s() - t0;
    if (c.eng) snprintf(c.st.device, sizeof c.st.device, "%s", lac_engine_device_name(c.eng));
    if (st) *st = c.st;
    if (c.blk)
        for (int b = 0; b < c.B; b++) {
            free(c.blk[b].in);
            free(c.blk[b].tgt);
            free(c.blk[b].cum);
            free(c.blk[b].freq);
            free(c.blk[b].plain.p);
        }
    free(c.blk);
    free(c.stored.p);
    free(chunk);
    lac_tokens_free(&toks);
    lac_tokenizer_free(c.tk);
    lac_engine_free(c.eng);
    EVP_MD_CTX_free(c.sha_plain);
    EVP_MD_CTX_free(c.sha_in);
    return s;
}

/* ============================================================================================
 * Decompression
 * ========================================================================================== */
typedef struct dblock {
    lacz_block_header h;
    uint64_t offset; /* of the block header */
    uint64_t index;  /* block number in its stream, from 0 */
    bytes packed;
    bytes plain;
    int dead; /* decoding went off the rails (an impossible token): damaged */
} dblock;

typedef struct decompressor {
    const lac_model *m;
    const lac_params *p;
    const lac_model_config *cfg;
    lac_tokenizer *tk;
    lac_engine *eng;
    int eng_B; /* the engine's streams (<= B: sized to the blocks at hand) */
    int B;
    dblock *blk;
    int nblk;
    lac_coder_params coder;
    writer w;
    reader r;
    EVP_MD_CTX *sha;
    uint64_t plain_bytes, blocks; /* this stream */
    uint64_t stream;              /* index of this stream in the concatenation */
    uint64_t plain_before;        /* original plaintext bytes of the earlier streams */
    uint32_t max_token_len;       /* the model's longest token, in bytes */
    /* salvage: damaged block headers skipped by resynchronising (this stream) */
    int ngaps;
    lac_damage gap[16];
    lac_stats st;
} decompressor;

/* Checks a block's plaintext and writes it (or, salvaging, skips a damaged one). */
static lac_status emit_block(decompressor *d, dblock *k, lac_error *err) {
    uint8_t sum[8];
    if (lacz_block_checksum(k->plain.p, k->plain.n, sum))
        return lac_fail(err, LAC_ERR_NOMEM, "SHA-256 failed (OpenSSL)");
    int bad = k->dead || k->plain.n != k->h.plain_len || memcmp(sum, k->h.checksum, 8) != 0;
    d->blocks++;
    d->st.blocks++;
    if (k->h.type == LACZ_BLOCK_STORED) d->st.stored_blocks++;
    else d->st.tokens += k->h.n_tokens;
    if (bad) {
        if (!d->p->salvage)
            return lac_fail(err, LAC_ERR_CORRUPT,
                            "block %llu at offset %llu: plaintext checksum mismatch (damaged data)",
                            (unsigned long long)k->index, (unsigned long long)k->offset);
        d->st.damaged_blocks++;
        if (d->p->damage) {
            lac_damage dm = {d->stream, k->index, k->offset, d->plain_before + d->plain_bytes,
                             k->h.plain_len};
            d->p->damage(d->p->damage_ctx, &dm);
        }
        d->plain_bytes += k->h.plain_len;
        return LAC_OK;
    }
    lac_status s = put(&d->w, k->plain.p, k->plain.n, err);
    if (s) return s;
    if (!EVP_DigestUpdate(d->sha, k->plain.p, k->plain.n))
        return lac_fail(err, LAC_ERR_NOMEM, "SHA-256 failed (OpenSSL)");
    d->plain_bytes += k->plain.n;
    d->st.plain_bytes += k->plain.n;
    if (d->p->progress) d->p->progress(d->p->progress_ctx, d->r.n, d->w.n);
    return LAC_OK;
}

/* Decodes the pending coded blocks in lock-step (one token per stream per step). */
static lac_status flush_decode(decompressor *d, lac_error *err) {
    if (!d->nblk) return LAC_OK;
    lac_status s = ensure_engine(d->m, d->p, d->nblk, 1, &d->eng, &d->eng_B, err);
    if (s) return s;
    if (!d->tk && (s = lac_tokenizer_create(d->m, &d->tk, err))) return s;
    int B = d->eng_B;
    const uint32_t P = d->coder.precision;
    lac_rc_decoder rc[B];
    int32_t cur[B], sym[B];
    const int32_t *tok[B];
    uint32_t target[B], cum[B], freq[B];
    int counts[B];
    int dead[B]; /* a decoded token overflowed the block: stop it, the checksum fails */
    uint32_t maxn = 0;
    for (int b = 0; b < B; b++) {
        lac_engine_reset(d->eng, b);
        dead[b] = 0;
        cur[b] = (int32_t)d->cfg->eot_token;
        tok[b] = &cur[b];
        target[b] = 0;
        if (b < d->nblk) {
            dblock *k = &d->blk[b];
            k->plain.n = 0;
            lac_rc_dec_init(&rc[b], k->packed.p, k->packed.n);
            if (k->h.n_tokens > maxn) maxn = k->h.n_tokens;
        }
    }
    for (uint32_t i = 0; i < maxn; i++) {
        if (interrupted(d->p)) return lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
        /* with a power-of-two total the decoder's target does not depend on the row, so the
         * symbol search can run where the frequencies are (the GPU) */
        for (int b = 0; b < B; b++) {
            counts[b] = b < d->nblk && !dead[b] && i < d->blk[b].h.n_tokens;
            if (counts[b]) target[b] = lac_rc_decode_target(&rc[b], P);
        }
        s = lac_engine_forward_decode(d->eng, tok, counts, &d->coder, target, sym, cum, freq,
                                      err);
        if (s) return s;
        for (int b = 0; b < d->nblk; b++) {
            if (!counts[b]) continue;
            dblock *k = &d->blk[b];
            lac_rc_decode_update(&rc[b], cum[b], freq[b], P);
            size_t len = 0;
            const uint32_t v = (uint32_t)sym[b];
            const uint8_t *tb = v == d->cfg->eot_token ? NULL : lac_token_bytes(d->tk, (int32_t)v, &len);
            if (!tb || !len || k->plain.n + len > k->h.plain_len) {
                dead[b] = 1; /* damaged: the checksum test rejects the block */
                continue;
            }
            s = bytes_add(&k->plain, tb, len, err);
            if (s) return s;
            cur[b] = (int32_t)v;
        }
    }
    for (int b = 0; b < d->nblk; b++) {
        d->blk[b].dead = dead[b];
        s = emit_block(d, &d->blk[b], err);
        if (s) return s;
    }
    d->nblk = 0;
    return LAC_OK;
}

/* Salvage: the block header in rec (read at *off) is damaged. Slides a 28-byte window forward
 * one byte at a time until it holds a valid block header (its 4-byte check matches and its
 * fields pass), which is taken as the next block. The bytes skipped are the damaged block. */
static lac_status resync(decompressor *d, uint8_t rec[LACZ_BLOCK_HEADER_SIZE], uint64_t *off,
                         uint32_t block_tokens, lacz_block_header *bh, lac_error *err) {
    lac_error e2;
    for (;;) {
        memmove(rec, rec + 1, LACZ_BLOCK_HEADER_SIZE - 1);
        lac_status s = get_exact(&d->r, rec + LACZ_BLOCK_HEADER_SIZE - 1, 1,
                                 "block header (searching past a damaged one)", err);
        if (s) return s;
        (*off)++;
        if (lacz_block_header_parse(rec, *off, block_tokens, bh, &e2) == LAC_OK &&
            (bh->type != LACZ_BLOCK_CODED ||
             (uint64_t)bh->plain_len <= (uint64_t)bh->n_tokens * d->max_token_len))
            return LAC_OK;
        if (interrupted(d->p)) return lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
    }
}

/* Reads the rest of a header whose 4 first bytes (the magic) are in rec. */
static lac_status read_header(reader *r, uint8_t rec[LACZ_HEADER_SIZE], lacz_header *h,
                              lac_error *err) {
    uint64_t off = r->n - 4;
    if (!lacz_is_magic(rec, 4))
        return lac_fail(err, LAC_ERR_FORMAT,
                        off ? "offset %llu: trailing data that is not a .lacz stream"
                            : "not a .lacz file (bad magic at offset %llu)",
                        (unsigned long long)off);
    lac_status s = get_exact(r, rec + 4, LACZ_HEADER_SIZE - 4, "stream header", err);
    if (s) return s;
    return lacz_header_parse(rec, off, h, err);
}

lac_status lac_decompress(const lac_model *m, const lac_params *pp, lac_read_fn rd, void *rctx,
                          lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err) {
    lac_error_clear(err);
    if (!m || !rd) return lac_fail(err, LAC_ERR_ARG, "lac_decompress: model and reader are required");
    lac_params defaults;
    lac_params_default(&defaults);
    const lac_params *p = pp ? pp : &defaults;
    decompressor d;
    memset(&d, 0, sizeof d);
    d.m = m;
    d.p = p;
    d.cfg = lac_model_get_config(m);
    d.w.wr = wr;
    d.w.ctx = wctx;
    d.r.rd = rd;
    d.r.ctx = rctx;
    d.B = p->engine.n_streams > 0 ? p->engine.n_streams : 1;
    double t0 = now_s();
    lac_status s = LAC_OK;
    if (d.B > 4096) return lac_fail(err, LAC_ERR_ARG, "n_streams %d is above 4096", d.B);
    uint32_t V = d.cfg->vocab_size;
    for (uint32_t v = 0; v < V; v++) {
        uint32_t len = m->vocab.tok_off[v + 1] - m->vocab.tok_off[v];
        if (len > d.max_token_len) d.max_token_len = len;
    }
    d.blk = xcalloc((size_t)d.B, sizeof *d.blk);
    d.sha = EVP_MD_CTX_new();
    if (!d.blk || !d.sha) {
        s = lac_fail(err, LAC_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int nstream = 0;; nstream++) {
        uint8_t rec[LACZ_HEADER_SIZE];
        size_t got = 0;
        s = get(&d.r, rec, 4, &got, err);
        if (s) goto done;
        if (got == 0 && nstream > 0) break; /* end of the concatenation */
        if (got < 4) {
            if (got == 0) s = lac_fail(err, LAC_ERR_TRUNCATED, "empty input: not a .lacz file");
            else if (lacz_is_magic(rec, got) || (got < 4 && rec[0] == LACZ_MAGIC_0))
                s = lac_fail(err, LAC_ERR_TRUNCATED, "input is truncated in the magic at offset %llu",
                             (unsigned long long)(d.r.n - got));
            else
                s = lac_fail(err, LAC_ERR_FORMAT, "not a .lacz file (bad magic at offset %llu)",
                             (unsigned long long)(d.r.n - got));
            goto done;
        }
        lacz_header h;
        s = read_header(&d.r, rec, &h, err);
        if (s) goto done;
        if (memcmp(h.model_hash, lac_model_hash(m), 32) != 0) {
            char a[20], b[20];
            hash_prefix(h.model_hash, a);
            hash_prefix(lac_model_hash(m), b);
            s = lac_fail(err, LAC_ERR_MODEL_MISMATCH,
                         "made with model %s (hash %s...); the loaded model is %s (hash %s...)",
                         h.model_name[0] ? h.model_name : "(unnamed)", a,
                         d.cfg->name[0] ? d.cfg->name : "(unnamed)", b);
            goto done;
        }
        if (h.block_tokens > d.cfg->n_ctx) {
            s = lac_fail(err, LAC_ERR_FORMAT,
                         "header at offset %llu: block_tokens %u exceeds the model's context of "
                         "%u tokens", (unsigned long long)(d.r.n - LACZ_HEADER_SIZE),
                         h.block_tokens, d.cfg->n_ctx);
            goto done;
        }
        d.stream = (uint64_t)nstream;
        d.ngaps = 0;
        d.coder = h.coder;
        d.plain_bytes = 0;
        d.blocks = 0;
        if (!EVP_DigestInit_ex(d.sha, EVP_sha256(), NULL)) {
            s = lac_fail(err, LAC_ERR_NOMEM, "SHA-256 failed (OpenSSL)");
            goto done;
        }
        for (uint64_t index = 0;; index++) {
            if (interrupted(p)) {
                s = lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
                goto done;
            }
            uint8_t brec[LACZ_BLOCK_HEADER_SIZE];
            uint64_t off = d.r.n;
            s = get_exact(&d.r, brec, sizeof brec, "block header", err);
            if (s) goto done;
            lacz_block_header bh;
            s = lacz_block_header_parse(brec, off, h.block_tokens, &bh, err);
            if (s && p->salvage && (s == LAC_ERR_CORRUPT || s == LAC_ERR_FORMAT) &&
                d.ngaps < (int)(sizeof d.gap / sizeof d.gap[0])) {
                /* a damaged block header: skip to the next valid one; the plaintext lost is
                 * known from the footer at the end of the stream */
                uint64_t gap_off = off;
                s = flush_decode(&d, err);
                if (!s) s = resync(&d, brec, &off, h.block_tokens, &bh, err);
                if (s) goto done;
                lac_damage *g = &d.gap[d.ngaps++];
                g->stream = d.stream;
                g->block = index++;
                g->file_offset = gap_off;
                g->plain_offset = d.plain_before + d.plain_bytes;
                g->plain_len = UINT64_MAX;
                d.st.damaged_blocks++;
            }
            if (s) goto done;
            if (bh.type == LACZ_BLOCK_END) break;
            /* a coded block spells at most n_tokens of the model's longest tokens: checked
             * before its buffers are reserved (B of them may be pending) */
            if (bh.type == LACZ_BLOCK_CODED &&
                (uint64_t)bh.plain_len > (uint64_t)bh.n_tokens * d.max_token_len) {
                s = lac_fail(err, LAC_ERR_FORMAT,
                             "coded block at offset %llu: plaintext length %u exceeds %u tokens "
                             "of at most %u bytes (the model's longest token)",
                             (unsigned long long)off, bh.plain_len, bh.n_tokens,
                             d.max_token_len);
                goto done;
            }
            if (bh.type == LACZ_BLOCK_STORED) {
                s = flush_decode(&d, err);
                if (s) goto done;
                dblock *k = &d.blk[0];
                k->h = bh;
                k->offset = off;
                k->index = index;
                k->plain.n = 0;
                k->dead = 0;
                s = bytes_reserve(&k->plain, bh.plain_len, err);
                if (!s) s = get_exact(&d.r, k->plain.p, bh.plain_len, "stored block data", err);
                if (s) goto done;
                k->plain.n = bh.plain_len;
                s = emit_block(&d, k, err);
                if (s) goto done;
                continue;
            }
            dblock *k = &d.blk[d.nblk];
            k->h = bh;
            k->offset = off;
            k->index = index;
            k->packed.n = 0;
            s = bytes_reserve(&k->packed, bh.packed_len, err);
            if (!s) s = bytes_reserve(&k->plain, bh.plain_len, err);
            if (!s) s = get_exact(&d.r, k->packed.p, bh.packed_len, "coded block data", err);
            if (s) goto done;
            k->packed.n = bh.packed_len;
            if (++d.nblk == d.B) {
                s = flush_decode(&d, err);
                if (s) goto done;
            }
        }
        s = flush_decode(&d, err);
        if (s) goto done;
        uint8_t frec[LACZ_FOOTER_SIZE];
        uint64_t foff = d.r.n;
        s = get_exact(&d.r, frec, sizeof frec, "footer", err);
        if (s) goto done;
        lacz_footer f;
        s = lacz_footer_parse(frec, foff, &f, err);
        if (s) goto done;
        if (d.ngaps) {
            /* the footer gives what the skipped headers held: all of it when there was one
             * gap (the later gaps' lengths and offsets are then unknown: UINT64_MAX / as if
             * the earlier gaps were empty) */
            if (f.plain_bytes < d.plain_bytes || f.blocks < d.blocks) {
                s = lac_fail(err, LAC_ERR_CORRUPT,
                             "footer at offset %llu: %llu bytes in %llu blocks recorded, more "
                             "found after skipping damaged block headers",
                             (unsigned long long)foff, (unsigned long long)f.plain_bytes,
                             (unsigned long long)f.blocks);
                goto done;
            }
            if (d.ngaps == 1) d.gap[0].plain_len = f.plain_bytes - d.plain_bytes;
            for (int g = 0; g < d.ngaps; g++)
                if (p->damage) p->damage(p->damage_ctx, &d.gap[g]);
            d.plain_bytes = f.plain_bytes;
            d.blocks = f.blocks;
        }
        d.plain_before += d.plain_bytes;
        uint8_t sha[32];
        unsigned int l = 0;
        if (!EVP_DigestFinal_ex(d.sha, sha, &l)) {
            s = lac_fail(err, LAC_ERR_NOMEM, "SHA-256 failed (OpenSSL)");
            goto done;
        }
        if (f.plain_bytes != d.plain_bytes || f.blocks != d.blocks) {
            s = lac_fail(err, LAC_ERR_CORRUPT,
                         "footer at offset %llu: %llu bytes in %llu blocks recorded, %llu bytes "
                         "in %llu blocks found",
                         (unsigned long long)foff, (unsigned long long)f.plain_bytes,
                         (unsigned long long)f.blocks, (unsigned long long)d.plain_bytes,
                         (unsigned long long)d.blocks);
            goto done;
        }
        if (d.st.damaged_blocks == 0 && memcmp(sha, f.sha256, 32) != 0) {
            s = lac_fail(err, LAC_ERR_CORRUPT,
                         "footer at offset %llu: SHA-256 of the plaintext does not match",
                         (unsigned long long)foff);
            goto done;
        }
    }
    if (d.st.damaged_blocks)
        s = lac_fail(err, LAC_ERR_CORRUPT, "%llu damaged blocks were skipped (salvage)",
                     (unsigned long long)d.st.damaged_blocks);

done:
    d.st.in_bytes = d.r.n;
    d.st.out_bytes = d.w.n;
    d.st.packed_bytes = d.r.n;
    d.st.seconds = now_s() - t0;
    if (d.eng) snprintf(d.st.device, sizeof d.st.device, "%s", lac_engine_device_name(d.eng));
    if (st) *st = d.st;
    if (d.blk)
        for (int b = 0; b < d.B; b++) {
            free(d.blk[b].packed.p);
            free(d.blk[b].plain.p);
        }
    free(d.blk);
    lac_tokenizer_free(d.tk);
    lac_engine_free(d.eng);
    EVP_MD_CTX_free(d.sha);
    return s;
}

/* ============================================================================================
 * Listing: headers and block headers only, no model
 * ========================================================================================== */
lac_status lac_list(lac_read_fn rd, void *rctx, lac_file_info *info, lac_error *err) {
    lac_error_clear(err);
    if (!rd || !info) return lac_fail(err, LAC_ERR_ARG, "lac_list: reader and info are required");
    memset(info, 0, sizeof *info);
    reader r = {rd, rctx, 0};
    lac_status s;
    for (int nstream = 0;; nstream++) {
        uint8_t rec[LACZ_HEADER_SIZE];
        size_t got = 0;
        s = get(&r, rec, 4, &got, err);
        if (s) return s;
        if (got == 0 && nstream > 0) break;
        if (got < 4) {
            if (got == 0) return lac_fail(err, LAC_ERR_TRUNCATED, "empty input: not a .lacz file");
            return lac_fail(err, rec[0] == LACZ_MAGIC_0 ? LAC_ERR_TRUNCATED : LAC_ERR_FORMAT,
                            "not a complete .lacz magic at offset %llu",
                            (unsigned long long)(r.n - got));
        }
        lacz_header h;
        s = read_header(&r, rec, &h, err);
        if (s) return s;
        if (nstream == 0) {
            info->format_version = h.format_version;
            info->numerics_version = h.numerics_version;
            memcpy(info->model_hash, h.model_hash, 32);
            memcpy(info->model_name, h.model_name, sizeof info->model_name);
            info->coder = h.coder;
            info->block_tokens = h.block_tokens;
        }
        uint64_t plain = 0, blocks = 0;
        for (;;) {
            uint8_t brec[LACZ_BLOCK_HEADER_SIZE];
            uint64_t off = r.n;
            s = get_exact(&r, brec, sizeof brec, "block header", err);
            if (s) return s;
            lacz_block_header bh;
            s = lacz_block_header_parse(brec, off, h.block_tokens, &bh, err);
            if (s) return s;
            if (bh.type == LACZ_BLOCK_END) break;
            s = skip(&r, bh.packed_len, "block data", err);
            if (s) return s;
            blocks++;
            plain += bh.plain_len;
            if (bh.type == LACZ_BLOCK_STORED) info->stored_blocks++;
            info->tokens += bh.n_tokens;
        }
        uint8_t frec[LACZ_FOOTER_SIZE];
        uint64_t foff = r.n;
        s = get_exact(&r, frec, sizeof frec, "footer", err);
        if (s) return s;
        lacz_footer f;
        s = lacz_footer_parse(frec, foff, &f, err);
        if (s) return s;
        if (f.plain_bytes != plain || f.blocks != blocks)
            return lac_fail(err, LAC_ERR_CORRUPT,
                            "footer at offset %llu: %llu bytes in %llu blocks recorded, block "
                            "headers give %llu bytes in %llu blocks",
                            (unsigned long long)foff, (unsigned long long)f.plain_bytes,
                            (unsigned long long)f.blocks, (unsigned long long)plain,
                            (unsigned long long)blocks);
        info->blocks += blocks;
        info->plain_bytes += plain;
        info->streams++;
    }
    info->packed_bytes = r.n;
    return LAC_OK;
}
