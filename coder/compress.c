/* lac_compress: the format version 2 writer (docs/FORMAT.md). The input is read into a window
 * and cut into segments (segment.c): text segments are tokenized and coded with the model in
 * blocks of block_tokens tokens, binary segments with the best classic codec (codecs.c). A
 * text segment that a classic codec codes smaller than the model did is written that way
 * instead (the model runs once; the classic codecs are 100-1000x faster). Memory is bounded by
 * the window, one segment's tokens and its coded records, whatever the input size. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_estimate.h"
#include "codecs.h"
#include "container.h"
#include "container2.h"
#include "io.h"
#include "lac_error.h"
#include "rangecoder.h"
#include "segment.h"
#include "raw.h"
#include "stream_util.h"

#define WINDOW (8u << 20)   /* input bytes looked at to find segments; a binary segment's cap */
#define TEXT_MAX (1u << 20) /* a text segment is coded (and compared) in pieces of this size */
#define COMPRESS_ROWS 512   /* rows (tokens summed over streams) per forward call */
#define READ_STEP (64u << 10) /* the window grows by this much a read */

typedef struct compressor {
    const lac_model *m;
    const lac_params *p;
    const lac_model_config *cfg;
    lac_tokenizer *tk;
    lac_engine *eng;
    int eng_B, B, R;
    uint32_t block_tokens;
    lacio_writer w;
    EVP_MD_CTX *sha;
    uint64_t plain_bytes; /* written so far */
    uint8_t hdr[LACZ2_HEADER_MAX]; /* the stream header: the first record's check covers it */
    size_t hdr_n;
    int first; /* no record written yet */
    unsigned methods; /* the classic methods allowed (LACZ_METHOD_BIT), stored always */
    int use_model;    /* the model may code text */
    int last_written; /* the last record written ends the stream (LACZ2_MODEL_LAST) */
    lac_tokens toks;      /* the current text segment's tokens */
    int32_t *in, *tgt;    /* per block: [eot, t0 .. t(n-1)] -> [t0 .. t(n-1), eot] (the last
                           * symbol, the end, only in a partial block) */
    uint32_t *cum, *freq; /* the coder's symbols, one per token */
    size_t tok_cap;
    lacio_bytes recs;    /* the segment's model records, before the choice */
    lacio_bytes wout;    /* the window's records, before the whole-window choice */
    lac_stats wt;        /* ... and their counts */
    lacio_bytes scratch; /* classic codec output */
    lac_stats st;
} compressor;

/* ---- writing records ---- */
/* Counts a classic or stored record of the current window. */
static void count(compressor *c, int method, uint64_t plain, uint64_t packed) {
    c->wt.method_blocks[method]++;
    c->wt.method_plain[method] += plain;
    c->wt.method_packed[method] += packed;
    c->wt.blocks++;
    if (method == LACZ_METHOD_STORED) c->wt.stored_blocks++;
}

static void progress(compressor *c, uint64_t in_done) {
    if (c->p->progress) c->p->progress(c->p->progress_ctx, in_done, c->w.n);
}

/* Appends a record and its payload to out (a segment's buffer), or to the window's (out NULL). */
static lac_status emit_record(compressor *c, lacio_bytes *out, int kind, uint32_t n_tokens,
                              uint32_t plain_len, const uint8_t *payload, uint32_t packed_len,
                              lac_error *err) {
    lacz2_record r;
    lacz2_record_init(&r, kind, n_tokens, plain_len, packed_len);
    uint8_t head[LACZ2_RECORD_MAX];
    /* the stream's first record: nothing written or buffered before it */
    int first = c->first && c->wout.n == 0 && (!out || out->n == 0);
    uint16_t check = lacz2_record_check(&r, c->hdr, first ? c->hdr_n : 0, payload);
    size_t hn = lacz2_record_write(&r, check, head);
    if (!out) out = &c->wout;
    lac_status s = lacio_add(out, head, hn, err);
    return s ? s : lacio_add(out, payload, packed_len, err);
}

/* The plaintext of a segment is final: hash it and count it. */
static lac_status plain_done(compressor *c, const uint8_t *s, size_t n, lac_error *err) {
    if (n && !EVP_DigestUpdate(c->sha, s, n))
        return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
    c->plain_bytes += n;
    c->st.plain_bytes += n;
    return LAC_OK;
}

/* Codes s[0..n) with the smallest classic method (stored included) into the window's records,
 * unless that is not below `beat` bytes of payload: then *won = 0 and nothing is added. The
 * caller accounts for the plaintext (plain_done). */
static lac_status write_classic(compressor *c, const uint8_t *s, size_t n, size_t beat, int *won,
                                lac_error *err) {
    *won = 0;
    if (!n || beat == 0) return LAC_OK;
    lac_status st = lacio_reserve(&c->scratch, n, err);
    if (st) return st;
    int method = 0;
    size_t len = 0;
    size_t cap = beat < n ? beat : n;
    st = lacz_codec_best(c->methods, s, n, c->scratch.p, cap, &method, &len, err);
    if (st == LAC_ERR_LIMIT) return LAC_OK;
    if (st) return st;
    if (len >= beat) return LAC_OK;
    int kind = method + 2; /* LACZ2_STORED .. LACZ2_BZIP2 */
    st = emit_record(c, NULL, kind, 0, (uint32_t)n, c->scratch.p, (uint32_t)len, err);
    if (st) return st;
    count(c, method, n, len);
    c->last_written = 0;
    *won = 1;
    return LAC_OK;
}

/* ---- the model path ---- */
typedef struct mblock {
    size_t t0;     /* first row in c->in / c->tgt */
    uint32_t n;    /* tokens */
    uint32_t rows; /* symbols: n, or n + 1 (the end) in a partial block */
    size_t plain;  /* bytes of plaintext */
} mblock;

static lac_status reserve_tokens(compressor *c, size_t n, lac_error *err) {
    if (n <= c->tok_cap) return LAC_OK;
    int32_t *in = realloc(c->in, n * sizeof *in);
    if (in) c->in = in;
    int32_t *tgt = realloc(c->tgt, n * sizeof *tgt);
    if (tgt) c->tgt = tgt;
    uint32_t *cum = realloc(c->cum, n * sizeof *cum);
    if (cum) c->cum = cum;
    uint32_t *freq = realloc(c->freq, n * sizeof *freq);
    if (freq) c->freq = freq;
    if (!in || !tgt || !cum || !freq)
        return lac_fail(err, LAC_ERR_NOMEM, "out of memory (%zu tokens of a segment)", n);
    c->tok_cap = n;
    return LAC_OK;
}

/* Tokenizes s[0..n) and cuts the tokens into blocks (*blocks, *nb; the caller frees). */
static lac_status cut_blocks(compressor *c, const uint8_t *s, size_t n, mblock **blocks,
                             size_t *nb, lac_error *err) {
    c->toks.n = 0;
    lac_tokenizer_reset(c->tk);
    lac_status st = lac_tokenizer_feed(c->tk, s, n, 1, &c->toks, err);
    if (st) return st;
    size_t T = c->toks.n, k = 0, max = T / c->block_tokens + 1;
    if ((st = reserve_tokens(c, T + 1, err))) return st;
    mblock *b = lacs_calloc(max, sizeof *b);
    if (!b) return lac_fail(err, LAC_ERR_NOMEM, "out of memory (%zu blocks)", max);
    const int32_t eot = (int32_t)c->cfg->eot_token;
    size_t plain_total = 0;
    for (size_t t = 0; t < T; t++) {
        size_t len = 0;
        const uint8_t *tb = lac_token_bytes(c->tk, c->toks.ids[t], &len);
        if (!tb || !len || c->toks.ids[t] == eot) {
            free(b);
            return lac_fail(err, LAC_ERR_FORMAT, "tokenizer produced an invalid token id %d",
                            (int)c->toks.ids[t]);
        }
        if (k == 0 || b[k - 1].n == c->block_tokens) b[k++] = (mblock){t, 0, 0, 0};
        c->in[t] = b[k - 1].n ? c->toks.ids[t - 1] : eot;
        c->tgt[t] = c->toks.ids[t];
        b[k - 1].n++;
        b[k - 1].rows++;
        b[k - 1].plain += len;
        plain_total += len;
    }
    if (k && b[k - 1].n < c->block_tokens) { /* the partial block ends with its end symbol */
        c->in[T] = c->toks.ids[T - 1];
        c->tgt[T] = eot;
        b[k - 1].rows++;
    }
    if (plain_total != n) { /* the tokenizer must be lossless: never write what won't decode */
        free(b);
        return lac_fail(err, LAC_ERR_FORMAT,
                        "internal error: the token bytes (%zu) differ from the input (%zu bytes)",
                        plain_total, n);
    }
    *blocks = b;
    *nb = k;
    return LAC_OK;
}

/* Runs the model over blocks b[0..nb) (at most B at a time), filling cum/freq. */
static lac_status run_model(compressor *c, const mblock *b, size_t nb, uint64_t in_base,
                            size_t seg_len, lac_error *err) {
    int want = nb < (size_t)c->B ? (int)nb : c->B;
    lac_status s = lacs_ensure_engine(c->m, c->p, want, c->R, &c->eng, &c->eng_B, err);
    if (s) return s;
    const int B = c->eng_B;
    const int32_t **tok = lacs_calloc((size_t)B, sizeof *tok);
    const int32_t **tgt = lacs_calloc((size_t)B, sizeof *tgt);
    uint32_t **cum = lacs_calloc((size_t)B, sizeof *cum), **freq = lacs_calloc((size_t)B, sizeof *freq);
    int *counts = lacs_calloc((size_t)B, sizeof *counts);
    if (!tok || !tgt || !cum || !freq || !counts) s = lac_fail(err, LAC_ERR_NOMEM, "out of memory");
    const size_t T = c->toks.n + 1;
    size_t done = 0;
    for (size_t g = 0; !s && g < nb; g += (size_t)B) {
        size_t ng = nb - g < (size_t)B ? nb - g : (size_t)B;
        uint32_t maxn = 0;
        for (size_t j = 0; j < ng; j++) maxn = b[g + j].rows > maxn ? b[g + j].rows : maxn;
        for (int j = 0; j < B; j++) lac_engine_reset(c->eng, j);
        for (uint32_t off = 0; !s && off < maxn; off += (uint32_t)c->R) {
            if (lacs_interrupted(c->p)) {
                s = lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
                break;
            }
            for (int j = 0; j < B; j++) {
                const mblock *k = (size_t)j < ng ? &b[g + (size_t)j] : NULL;
                uint32_t left = k && k->rows > off ? k->rows - off : 0;
                counts[j] = (int)(left < (uint32_t)c->R ? left : (uint32_t)c->R);
                size_t at = k ? k->t0 + off : 0;
                tok[j] = counts[j] ? c->in + at : NULL;
                tgt[j] = counts[j] ? c->tgt + at : NULL;
                cum[j] = counts[j] ? c->cum + at : NULL;
                freq[j] = counts[j] ? c->freq + at : NULL;
                done += (size_t)counts[j];
            }
            s = lac_engine_forward_code(c->eng, tok, counts, tgt, &c->p->coder, cum, freq, err);
            /* partial credit: the share of the segment's tokens coded so far */
            if (!s) progress(c, in_base + (uint64_t)((double)seg_len * (double)done / (double)T));
        }
    }
    free(tok), free(tgt), free(cum), free(freq), free(counts);
    return s;
}

/* Range-codes each block into c->recs (a block that would not shrink is stored). */
static lac_status encode_blocks(compressor *c, const uint8_t *s, const mblock *b, size_t nb,
                                int is_last, lac_stats *tally, lac_error *err) {
    const uint32_t P = c->p->coder.precision;
    c->recs.n = 0;
    size_t plain_off = 0;
    lac_status st = LAC_OK;
    for (size_t j = 0; !st && j < nb; j++) {
        lac_rc_encoder rc;
        lac_rc_enc_init(&rc);
        for (uint32_t i = 0; i < b[j].rows; i++)
            lac_rc_encode(&rc, c->cum[b[j].t0 + i], c->freq[b[j].t0 + i], P);
        if (lac_rc_enc_finish(&rc)) {
            lac_rc_enc_free(&rc);
            return lac_fail(err, LAC_ERR_NOMEM, "out of memory in the range coder");
        }
        const uint8_t *plain = s + plain_off;
        if (rc.n < b[j].plain && rc.n <= lacz2_model_max_packed(c->block_tokens)) {
            int kind = b[j].n == c->block_tokens ? LACZ2_MODEL_FULL : LACZ2_MODEL_PART;
            /* the input's last block, when partial, needs neither check nor end record */
            if (kind == LACZ2_MODEL_PART && is_last && j == nb - 1) kind = LACZ2_MODEL_LAST;
            c->last_written = kind == LACZ2_MODEL_LAST;
            st = emit_record(c, &c->recs, kind, b[j].n, 0, rc.buf, (uint32_t)rc.n, err);
            tally->method_blocks[LACZ_METHOD_MODEL]++;
            tally->method_plain[LACZ_METHOD_MODEL] += b[j].plain;
            tally->method_packed[LACZ_METHOD_MODEL] += rc.n;
            tally->tokens += b[j].n;
        } else { /* coding would expand the block: store it */
            st = emit_record(c, &c->recs, LACZ2_STORED, 0, (uint32_t)b[j].plain, plain,
                             (uint32_t)b[j].plain, err);
            c->last_written = 0;
            tally->method_blocks[LACZ_METHOD_STORED]++;
            tally->method_plain[LACZ_METHOD_STORED] += b[j].plain;
            tally->method_packed[LACZ_METHOD_STORED] += b[j].plain;
            tally->stored_blocks++;
        }
        tally->blocks++;
        lac_rc_enc_free(&rc);
        plain_off += b[j].plain;
    }
    return st;
}

/* A quick zstd estimate tells whether the slow classic codecs could beat the model at all. */
static int classic_may_win(const uint8_t *s, size_t n, size_t model_bytes) {
    size_t est = 0;
    if (lacz_codec_estimate(s, n, &est) != LAC_OK) return 1;
    return est * 7 / 10 < model_bytes; /* max effort rarely gains more than 30% over zstd -3 */
}

static void add_tally(lac_stats *st, const lac_stats *t) {
    for (int i = 0; i < LAC_METHODS; i++) {
        st->method_blocks[i] += t->method_blocks[i];
        st->method_plain[i] += t->method_plain[i];
        st->method_packed[i] += t->method_packed[i];
    }
    st->blocks += t->blocks;
    st->stored_blocks += t->stored_blocks;
    st->tokens += t->tokens;
}

/* Text: the model's records, or one classic record when that is smaller. */
static lac_status code_text(compressor *c, const uint8_t *s, size_t n, uint64_t in_base,
                            int is_last, lac_error *err) {
    mblock *b = NULL;
    size_t nb = 0;
    lac_stats tally;
    memset(&tally, 0, sizeof tally);
    lac_status st = cut_blocks(c, s, n, &b, &nb, err);
    if (!st) st = run_model(c, b, nb, in_base, n, err);
    if (!st) st = encode_blocks(c, s, b, nb, is_last, &tally, err);
    free(b);
    if (st) return st;
    int won = 0;
    unsigned others = c->methods & ~LACZ_METHOD_BIT(LACZ_METHOD_STORED);
    if (others && classic_may_win(s, n, c->recs.n)) {
        /* the classic record has a head of up to 10 bytes and a 2-byte check */
        size_t beat = c->recs.n > 12 ? c->recs.n - 12 : 0;
        st = write_classic(c, s, n, beat, &won, err);
        if (st) return st;
        if (won) return plain_done(c, s, n, err);
    }
    st = lacio_add(&c->wout, c->recs.p, c->recs.n, err);
    if (st) return st;
    add_tally(&c->wt, &tally);
    return plain_done(c, s, n, err);
}

/* ---- the driver ---- */
static lac_status setup(compressor *c, const lac_model *m, const lac_params *p, lac_error *err) {
    memset(c, 0, sizeof *c);
    c->m = m;
    c->p = p;
    c->cfg = lac_model_get_config(m);
    lac_status s = lac_coder_params_check(&p->coder, err);
    if (s) return s;
    uint32_t def = c->cfg->n_ctx < LACZ2_DEFAULT_BLOCK_TOKENS ? c->cfg->n_ctx
                                                              : LACZ2_DEFAULT_BLOCK_TOKENS;
    c->block_tokens = p->block_tokens ? p->block_tokens : def;
    if (c->block_tokens > c->cfg->n_ctx || c->block_tokens > LACZ_MAX_BLOCK_TOKENS)
        return lac_fail(err, LAC_ERR_ARG,
                        "block size %u tokens exceeds the model's context of %u tokens",
                        c->block_tokens, c->cfg->n_ctx);
    /* 0 streams / rows: the library's choice for the device and its memory */
    int auto_rows = 0;
    if (p->engine.n_streams < 0)
        return lac_fail(err, LAC_ERR_ARG, "n_streams %d is negative", p->engine.n_streams);
    c->B = p->engine.n_streams > 0 ? p->engine.n_streams
                                    : lac_engine_options_streams(m, &p->engine,
                                                                 LAC_PURPOSE_COMPRESS, &auto_rows);
    if (c->B > LACS_MAX_STREAMS)
        return lac_fail(err, LAC_ERR_ARG, "n_streams %d is above %d", c->B, LACS_MAX_STREAMS);
    int rows = p->engine.max_rows > 0 ? p->engine.max_rows
                                      : auto_rows > 0 ? auto_rows : COMPRESS_ROWS;
    c->R = rows / c->B;
    if (c->R < 1) c->R = 1;
    if ((uint32_t)c->R > c->block_tokens) c->R = (int)c->block_tokens;
    c->methods = (p->methods ? p->methods : ~0u) & LACZ_METHODS_CLASSIC;
    c->methods |= LACZ_METHOD_BIT(LACZ_METHOD_STORED);
    c->use_model = !p->methods || (p->methods & LACZ_METHOD_BIT(LACZ_METHOD_MODEL));
    c->sha = EVP_MD_CTX_new();
    if (!c->sha || !EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL))
        return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
    return lac_tokenizer_create(m, &c->tk, err);
}

static void teardown(compressor *c) {
    lac_tokens_free(&c->toks);
    free(c->in), free(c->tgt), free(c->cum), free(c->freq);
    lacio_bytes_free(&c->recs);
    lacio_bytes_free(&c->wout);
    lacio_bytes_free(&c->scratch);
    lac_tokenizer_free(c->tk);
    lac_engine_free(c->eng);
    EVP_MD_CTX_free(c->sha);
}

/* Fills the window from the input; *eof at its end. */
static lac_status fill(lacio_bytes *win, lac_read_fn rd, void *rctx, int *eof, lac_error *err) {
    lac_status s = LAC_OK;
    while (!s && !*eof && win->n < WINDOW) {
        /* grow as the input comes: a short input never touches 8 MiB */
        size_t room = 0;
        if ((s = lacio_room(win, READ_STEP, &room, err))) break;
        if (room > WINDOW - win->n) room = WINDOW - win->n;
        long got = rd(rctx, win->p + win->n, room);
        if (got < 0) return lac_fail(err, LAC_ERR_IO, "input: read failed: %s", strerror(errno));
        if (got == 0) *eof = 1;
        win->n += (size_t)got;
    }
    return s;
}

/* The window's records are written, unless its segments were several and one classic record of
 * the whole window is smaller (the pieces of a binary file that looked like text, say). */
static lac_status window_done(compressor *c, const uint8_t *s, size_t n, int nseg, lac_error *err) {
    unsigned others = c->methods & ~LACZ_METHOD_BIT(LACZ_METHOD_STORED);
    if (nseg > 1 && others && c->wout.n > 12) {
        size_t est = 0, segmented = c->wout.n;
        int won = 0;
        if (lacz_codec_estimate(s, n, &est) != LAC_OK || est * 7 / 10 < segmented) {
            int last = c->last_written;
            lacio_bytes keep = c->wout;
            lac_stats keep_t = c->wt;
            c->wout = (lacio_bytes){0};
            memset(&c->wt, 0, sizeof c->wt);
            lac_status st = write_classic(c, s, n, segmented - 12, &won, err);
            if (st || !won) { /* keep the segments */
                lacio_bytes_free(&c->wout);
                c->wout = keep;
                c->wt = keep_t;
                c->last_written = last;
                if (st) return st;
            } else {
                lacio_bytes_free(&keep);
            }
        }
    }
    lac_status st = lacio_put(&c->w, c->wout.p, c->wout.n, err);
    if (st) return st;
    if (c->wout.n) c->first = 0;
    add_tally(&c->st, &c->wt);
    c->wout.n = 0;
    memset(&c->wt, 0, sizeof c->wt);
    return LAC_OK;
}

/* Reads the whole input, a window at a time; each window is cut into segments. */
static lac_status code_input(compressor *c, lac_read_fn rd, void *rctx, lac_error *err) {
    lacio_bytes win = {0};
    int eof = 0;
    lac_status s = LAC_OK;
    uint64_t base = 0; /* input offset of win.p[0] */
    while (!s && !(eof && !win.n)) {
        if (lacs_interrupted(c->p)) {
            s = lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
            break;
        }
        if ((s = fill(&win, rd, rctx, &eof, err))) break;
        c->st.in_bytes = base + win.n;
        size_t pos = 0;
        int nseg = 0;
        while (!s && pos < win.n) { /* the window is full or the input ended: it is all cut */
            int text = 0;
            size_t len = lacz_next_segment(win.p + pos, win.n - pos, 1, TEXT_MAX, &text);
            int is_last = eof && pos + len == win.n;
            if (text && c->use_model) {
                s = code_text(c, win.p + pos, len, base + pos, is_last, err);
            } else {
                int won = 0;
                s = write_classic(c, win.p + pos, len, len + 1, &won, err);
                if (!s) s = plain_done(c, win.p + pos, len, err);
            }
            pos += len;
            nseg++;
            if (!s) progress(c, base + pos);
        }
        if (!s) s = window_done(c, win.p, pos, nseg, err);
        base += pos;
        win.n = 0;
    }
    lacio_bytes_free(&win);
    return s;
}

static lac_status write_footer(compressor *c, lac_error *err) {
    uint8_t sha[32], rec[LACZ2_FOOTER_MAX];
    unsigned int l = 0;
    if (!EVP_DigestFinal_ex(c->sha, sha, &l))
        return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
    if (c->plain_bytes != c->st.in_bytes)
        return lac_fail(err, LAC_ERR_FORMAT, "internal error: %llu bytes coded of %llu read",
                        (unsigned long long)c->plain_bytes, (unsigned long long)c->st.in_bytes);
    size_t n = lacz2_footer_write(c->plain_bytes, sha, c->p->check_sha256, !c->last_written, rec);
    return lacio_put(&c->w, rec, n, err);
}

lac_status lac_compress(const lac_model *m, const lac_params *pp, lac_read_fn rd, void *rctx,
                        lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err) {
    lac_error_clear(err);
    if (!m || !rd || !wr)
        return lac_fail(err, LAC_ERR_ARG, "lac_compress: model, reader and writer are required");
    lac_params defaults;
    lac_params_default(&defaults);
    const lac_params *p = pp ? pp : &defaults;
    if (p->raw) return lacz_compress_raw(m, p, rd, rctx, wr, wctx, st, err);
    double t0 = lacio_now();
    compressor c;
    lac_status s = setup(&c, m, p, err);
    c.w.wr = wr;
    c.w.ctx = wctx;
    if (!s) {
        lacz2_header h;
        lacz2_header_init(&h, &p->coder, c.block_tokens, lac_model_hash(m), p->check_sha256);
        c.hdr_n = lacz2_header_write(&h, c.hdr);
        c.first = 1;
        s = lacio_put(&c.w, c.hdr, c.hdr_n, err);
    }
    if (!s) s = code_input(&c, rd, rctx, err);
    if (!s) s = write_footer(&c, err);
    if (!s) progress(&c, c.st.in_bytes);
    c.st.out_bytes = c.st.packed_bytes = c.w.n;
    c.st.seconds = lacio_now() - t0;
    if (c.eng) snprintf(c.st.device, sizeof c.st.device, "%s", lac_engine_device_name(c.eng));
    c.st.devices = lac_engine_devices(c.eng);
    if (st) *st = c.st;
    teardown(&c);
    return s;
}
