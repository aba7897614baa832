/* Raw messages: see raw.h. The model sees each block of block_tokens tokens from an empty
 * context, as in a .lacz; after the last token the model codes <|endoftext|> (at the start of a
 * fresh block when the last one is full), so the message's length costs what the model thinks
 * of its end, and the range coder's flush adds at most a byte or so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container2.h"
#include "io.h"
#include "lac_error.h"
#include "rangecoder.h"
#include "raw.h"
#include "stream_util.h"

/* The block size both sides use (default 1024, or n_ctx when smaller), and the parameters'
 * check. */
static lac_status raw_params(const lac_model *m, const lac_params *p, uint32_t *bt,
                             lac_error *err) {
    uint32_t ctx = lac_model_get_config(m)->n_ctx;
    uint32_t def = ctx < LACZ2_DEFAULT_BLOCK_TOKENS ? ctx : LACZ2_DEFAULT_BLOCK_TOKENS;
    *bt = p->block_tokens ? p->block_tokens : def;
    lac_status s = lac_coder_params_check(&p->coder, err);
    if (!s && (*bt < 1 || *bt > ctx))
        s = lac_fail(err, LAC_ERR_ARG, "block size %u tokens is outside 1..%u", *bt, ctx);
    return s;
}

/* A decoder of a raw message reads 8 + `shifted` bytes (the encoder's bytes before its flush)
 * by the end symbol; the flush drops trailing zero bytes, which the decoder supplies past the
 * end. So that it can tell a message from garbage (RAW_PAST_MAX), no message makes it supply
 * more than RAW_PAST_MAX of them: the (rare: a carry through a run of 0xFF bytes) dropped zeros
 * beyond RAW_PAST_MAX - 8 are written after all. Older decoders read the same message. */
#define RAW_PAST_MAX 24

/* Reads all of the input into *all. */
static lac_status read_all(lac_read_fn rd, void *rctx, lacio_bytes *all, lac_error *err) {
    for (;;) {
        size_t room = 0;
        lac_status s = lacio_room(all, LACIO_BUF, &room, err);
        if (s) return s;
        long got = rd(rctx, all->p + all->n, room);
        if (got < 0) return lac_fail(err, LAC_ERR_IO, "input: read failed: %s", strerror(errno));
        if (got == 0) return LAC_OK;
        all->n += (size_t)got;
    }
}

/* A block's rows: inputs, targets and what the model gives them (bt + 1 each, the end symbol
 * included), allocated once per message rather than per block (blocks may be one token). */
typedef struct raw_rows {
    int32_t *in, *tgt;
    uint32_t *cum, *freq;
} raw_rows;

static lac_status rows_alloc(raw_rows *r, uint32_t bt, lac_error *err) {
    r->in = lacs_calloc((size_t)bt + 1, sizeof *r->in);
    r->tgt = lacs_calloc((size_t)bt + 1, sizeof *r->tgt);
    r->cum = lacs_calloc((size_t)bt + 1, sizeof *r->cum);
    r->freq = lacs_calloc((size_t)bt + 1, sizeof *r->freq);
    if (!r->in || !r->tgt || !r->cum || !r->freq) return lac_fail(err, LAC_ERR_NOMEM, "out of memory");
    return LAC_OK;
}

static void rows_free(raw_rows *r) { free(r->in), free(r->tgt), free(r->cum), free(r->freq); }

/* Codes tokens ids[0..n) as one block (and the end symbol when last); n <= bt of r. */
static lac_status code_block(lac_engine *e, const lac_params *p, const int32_t *ids, uint32_t n,
                             int last, int32_t eot, const raw_rows *r, lac_rc_encoder *rc,
                             lac_error *err) {
    uint32_t rows = n + (last ? 1 : 0);
    for (uint32_t i = 0; i < rows; i++) {
        r->in[i] = i ? ids[i - 1] : eot;
        r->tgt[i] = i < n ? ids[i] : eot;
    }
    lac_engine_reset(e, 0);
    const int32_t *tk[1] = {r->in}, *tg[1] = {r->tgt};
    uint32_t *cu[1] = {r->cum}, *fr[1] = {r->freq};
    int counts[1] = {(int)rows};
    lac_status s = lac_engine_forward_code(e, tk, counts, tg, &p->coder, cu, fr, err);
    for (uint32_t i = 0; !s && i < rows; i++)
        lac_rc_encode(rc, r->cum[i], r->freq[i], p->coder.precision);
    return s;
}

lac_status lacz_compress_raw(const lac_model *m, const lac_params *p, lac_read_fn rd, void *rctx,
                             lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err) {
    double t0 = lacio_now();
    const lac_model_config *cfg = lac_model_get_config(m);
    uint32_t bt = 0;
    lac_status s = raw_params(m, p, &bt, err);
    lac_stats out;
    memset(&out, 0, sizeof out);
    lacio_bytes all = {0};
    lac_tokens toks = {0};
    lac_tokenizer *tk = NULL;
    lac_engine *e = NULL;
    int eB = 0;
    raw_rows rows = {0};
    lac_rc_encoder rc;
    lac_rc_enc_init(&rc);
    if (!s) s = rows_alloc(&rows, bt, err);
    if (!s) s = read_all(rd, rctx, &all, err);
    if (!s) s = lac_tokenizer_create(m, &tk, err);
    if (!s) s = lac_tokenizer_feed(tk, all.p, all.n, 1, &toks, err);
    if (!s) s = lacs_ensure_engine(m, p, 1, (int)bt, &e, &eB, err);
    /* blocks of bt tokens; the last (maybe empty) block also codes the end */
    for (size_t t = 0; !s; t += bt) {
        uint32_t n = toks.n - t < bt ? (uint32_t)(toks.n - t) : bt;
        int last = n < bt;
        if (lacs_interrupted(p)) s = lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
        const int32_t *ids = toks.ids ? toks.ids + t : NULL; /* an empty input has no ids */
        if (!s) s = code_block(e, p, ids, n, last, (int32_t)cfg->eot_token, &rows, &rc, err);
        if (p->progress && !s) p->progress(p->progress_ctx, t + n, 0);
        if (last) break;
    }
    const size_t shifted = rc.n; /* the bytes the decoder reads, less its first 8, at the end */
    const size_t keep = shifted > RAW_PAST_MAX - 8 ? shifted - (RAW_PAST_MAX - 8) : 0;
    if (!s && (lac_rc_enc_finish(&rc) || lac_rc_enc_pad(&rc, keep)))
        s = lac_fail(err, LAC_ERR_NOMEM, "out of memory in the range coder");
    if (!s && rc.n && wr(wctx, rc.buf, rc.n) != 0)
        s = lac_fail(err, LAC_ERR_IO, "output: write failed: %s", strerror(errno));
    out.in_bytes = out.plain_bytes = all.n;
    out.out_bytes = out.packed_bytes = s ? 0 : rc.n;
    out.tokens = toks.n;
    out.blocks = out.method_blocks[LAC_METHOD_MODEL] = 1;
    out.method_plain[LAC_METHOD_MODEL] = all.n;
    out.method_packed[LAC_METHOD_MODEL] = out.packed_bytes;
    out.seconds = lacio_now() - t0;
    if (e) snprintf(out.device, sizeof out.device, "%s", lac_engine_device_name(e));
    if (st) *st = out;
    lac_rc_enc_free(&rc);
    rows_free(&rows);
    lac_engine_free(e);
    lac_tokenizer_free(tk);
    lac_tokens_free(&toks);
    lacio_bytes_free(&all);
    return s;
}

lac_status lacz_decompress_raw(const lac_model *m, const lac_params *p, lac_read_fn rd,
                               void *rctx, lac_write_fn wr, void *wctx, lac_stats *st,
                               lac_error *err) {
    double t0 = lacio_now();
    const lac_model_config *cfg = lac_model_get_config(m);
    const uint32_t P = p->coder.precision;
    const int32_t eot = (int32_t)cfg->eot_token;
    uint32_t bt = 0;
    lac_status s = raw_params(m, p, &bt, err);
    lac_stats out;
    memset(&out, 0, sizeof out);
    lacio_bytes all = {0};
    lacio_writer w = {wr, wctx, 0};
    lac_engine *e = NULL;
    int eB = 0;
    if (!s) s = read_all(rd, rctx, &all, err);
    if (!s) s = lacs_ensure_engine(m, p, 1, 1, &e, &eB, err);
    lac_rc_decoder rc;
    lac_rc_dec_init(&rc, all.p, all.n);
    int32_t cur = eot;
    uint32_t pos = 0;
    if (e) lac_engine_reset(e, 0);
    while (!s) {
        if (lacs_interrupted(p)) {
            s = lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
            break;
        }
        const int32_t *tok[1] = {&cur};
        int counts[1] = {1};
        uint32_t target = lac_rc_decode_target(&rc, P), cum = 0, freq = 0;
        int32_t sym = 0;
        s = lac_engine_forward_decode(e, tok, counts, &p->coder, &target, &sym, &cum, &freq, err);
        if (s) break;
        lac_rc_decode_update(&rc, cum, freq, P);
        if (sym == eot) break; /* the end of the message */
        if (rc.past > RAW_PAST_MAX) { /* no message reaches this far past its end */
            s = lac_fail(err, LAC_ERR_CORRUPT, "input: not a raw message (no end within its "
                         "%zu bytes)", all.n);
            break;
        }
        size_t len = 0;
        const uint8_t *tb = lac_model_token_bytes(m, (uint32_t)sym, &len);
        if ((s = lacio_put(&w, tb, len, err))) break;
        out.tokens++;
        cur = sym;
        if (++pos == bt) { /* a full block: the next starts from an empty context */
            lac_engine_reset(e, 0);
            cur = eot;
            pos = 0;
        }
        if (p->progress) p->progress(p->progress_ctx, lac_rc_dec_consumed(&rc, all.p), w.n);
    }
    out.in_bytes = out.packed_bytes = all.n;
    out.out_bytes = out.plain_bytes = w.n;
    out.blocks = out.method_blocks[LAC_METHOD_MODEL] = 1;
    out.method_plain[LAC_METHOD_MODEL] = w.n;
    out.method_packed[LAC_METHOD_MODEL] = all.n;
    out.seconds = lacio_now() - t0;
    if (e) snprintf(out.device, sizeof out.device, "%s", lac_engine_device_name(e));
    if (st) *st = out;
    lac_engine_free(e);
    lacio_bytes_free(&all);
    return s;
}
