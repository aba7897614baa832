/* The format version 1 writer (docs/FORMAT.md, "Version 1"), kept so that the v1 reader keeps
 * being tested against files made the way released versions made them (tests/test_hostile.c,
 * tests/test_salvage.c). lac_compress writes version 2; nothing else calls this. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress_v1.h"
#include "container.h"
#include "io.h"
#include "lac_error.h"
#include "rangecoder.h"
#include "stream_util.h"

#define READ_CHUNK (64u * 1024u)
/* Stored runs are merged up to this many lacio_bytes (binary data gets few block headers). */
#define STORED_RUN_MAX (1u << 20)
/* Rows (tokens summed over streams) per forward call during compression. */
#define COMPRESS_ROWS 512

typedef struct cblock {
    int32_t *in;     /* [eot, t0 .. t_{n-2}] */
    int32_t *tgt;    /* t0 .. t_{n-1} */
    uint32_t *cum, *freq;
    uint32_t n;
    lacio_bytes plain;
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
    lacio_bytes stored; /* pending stored run */
    lac_rc_encoder rc;
    lacio_writer w;
    EVP_MD_CTX *sha_plain, *sha_in;
    uint64_t plain_bytes, blocks;
    lac_stats st;
} compressor;

static lac_status write_block(compressor *c, uint8_t type, uint32_t n_tokens, const lacio_bytes *plain,
                              const uint8_t *packed, uint32_t packed_len, lac_error *err) {
    lacz_block_header bh;
    memset(&bh, 0, sizeof bh);
    bh.type = type;
    bh.n_tokens = n_tokens;
    bh.plain_len = (uint32_t)plain->n;
    bh.packed_len = packed_len;
    if (lacz_block_checksum(plain->p, plain->n, bh.checksum))
        return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
    uint8_t rec[LACZ_BLOCK_HEADER_SIZE];
    lacz_block_header_write(&bh, rec);
    lac_status s = lacio_put(&c->w, rec, sizeof rec, err);
    if (!s) s = lacio_put(&c->w, packed, packed_len, err);
    if (s) return s;
    if (!EVP_DigestUpdate(c->sha_plain, plain->p, plain->n))
        return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
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

/* Runs the model over the pending coded blocks (B at a time) and writes them. */
static lac_status flush_coded(compressor *c, lac_error *err) {
    if (!c->nblk) return LAC_OK;
    lac_status s = lacs_ensure_engine(c->m, c->p, c->nblk, c->R, &c->eng, &c->eng_B, err);
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
        if (lacs_interrupted(c->p)) return lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
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
        lac_status s = lacio_add(&k->plain, tb, len, err);
        if (s) return s;
        k->in[i] = i ? ids[i - 1] : (int32_t)c->cfg->eot_token;
        k->tgt[i] = ids[i];
    }
    *taken = i;
    k->n = (uint32_t)i;
    if (lacs_looks_binary(k->plain.p, k->plain.n)) {
        /* order: pending coded blocks first, then this raw run */
        lac_status s = flush_coded(c, err);
        if (s) return s;
        if (c->stored.n + k->plain.n > STORED_RUN_MAX) {
            s = flush_stored(c, err);
            if (s) return s;
        }
        s = lacio_add(&c->stored, k->plain.p, k->plain.n, err);
        k->plain.n = 0;
        k->n = 0;
        return s;
    }
    lac_status s = flush_stored(c, err);
    if (s) return s;
    c->nblk++;
    return LAC_OK;
}

lac_status lacz_compress_v1(const lac_model *m, const lac_params *pp, lac_read_fn rd, void *rctx,
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
    double t0 = lacio_now();
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

    c.blk = lacs_calloc((size_t)c.B, sizeof *c.blk);
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
    s = lacio_put(&c.w, rec, sizeof rec, err);
    if (s) goto done;

    struct { uint64_t n; } r = {0};
    size_t pos = 0; /* tokens of toks already cut into blocks */
    for (int eof = 0; !eof;) {
        if (lacs_interrupted(p)) {
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
            s = lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
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
        s = lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
        goto done;
    }
    /* The tokenizer must be lossless; never write a file that would not decode. */
    if (c.plain_bytes != r.n || memcmp(in_sha, f.sha256, 32) != 0) {
        s = lac_fail(err, LAC_ERR_FORMAT,
                     "internal error: the token lacio_bytes (%llu) differ from the input (%llu lacio_bytes)",
                     (unsigned long long)c.plain_bytes, (unsigned long long)r.n);
        goto done;
    }
    lacz_block_header end;
    lacz_end_marker(&end);
    uint8_t erec[LACZ_BLOCK_HEADER_SIZE], frec[LACZ_FOOTER_SIZE];
    lacz_block_header_write(&end, erec);
    lacz_footer_write(&f, frec);
    s = lacio_put(&c.w, erec, sizeof erec, err);
    if (!s) s = lacio_put(&c.w, frec, sizeof frec, err);
    if (s) goto done;
    if (p->progress) p->progress(p->progress_ctx, r.n, c.w.n);

done:
    c.st.out_bytes = c.w.n;
    c.st.plain_bytes = c.plain_bytes;
    c.st.packed_bytes = c.w.n;
    c.st.seconds = lacio_now() - t0;
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
