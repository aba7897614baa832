/* Decoding blocks and writing their plaintext (see decompress.h). */
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "decode_spec.h"
#include "decompress.h"
#include "lac_error.h"
#include "rangecoder.h"
#include "stream_util.h"

static void count(decompressor *d, const dblock *k) {
    d->blocks++;
    d->st.blocks++;
    d->st.method_blocks[k->method]++;
    d->st.method_packed[k->method] += k->packed_len;
    if (k->method == LAC_METHOD_STORED) d->st.stored_blocks++;
    if (k->method == LAC_METHOD_MODEL) d->st.tokens += k->n_tokens;
}

/* Keeps a damage report for the stream's end (decompress.c, lacd_report_gaps). */
static lac_status queue(decompressor *d, uint64_t index, uint64_t offset, uint64_t len,
                        lac_error *err) {
    if (d->ngaps == (int)(sizeof d->gap / sizeof d->gap[0]))
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "offset %llu: more than %d damaged blocks in one stream: giving up",
                        (unsigned long long)offset, d->ngaps);
    lac_damage *g = &d->gap[d->ngaps++];
    memset(g, 0, sizeof *g);
    g->stream = d->stream;
    g->block = index;
    g->file_offset = offset;
    g->plain_offset = d->plain_before + d->plain_bytes; /* before the unknown lengths */
    g->plain_len = len;
    g->out_offset = d->w.n;
    d->st.damaged_blocks++;
    return LAC_OK;
}

lac_status lacd_gap(decompressor *d, uint64_t index, uint64_t offset, lac_error *err) {
    return queue(d, index, offset, UINT64_MAX, err);
}

lac_status lacd_emit(decompressor *d, dblock *k, lac_error *err) {
    if (k->hold && !k->dead) { /* checked by the footer (decompress.c, footer_v2) */
        d->held = k;
        return LAC_OK;
    }
    int bad = k->dead || (k->plain_len && k->plain.n != k->plain_len);
    if (!bad && k->has_sum) {
        uint8_t sum[8];
        if (lacz_block_checksum(k->plain.p, k->plain.n, sum))
            return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
        bad = memcmp(sum, k->sum8, 8) != 0;
    }
    count(d, k);
    if (bad) {
        if (!d->p->salvage)
            return lac_fail(err, LAC_ERR_CORRUPT,
                            "block %llu at offset %llu: %s (damaged data)",
                            (unsigned long long)k->index, (unsigned long long)k->offset,
                            k->why ? k->why : "plaintext checksum mismatch");
        if (!k->plain_len) return lacd_gap(d, k->index, k->offset, err);
        if (d->ngaps) { /* after a block of unknown length: its place is known at the end */
            lac_status s = queue(d, k->index, k->offset, k->plain_len, err);
            d->plain_bytes += k->plain_len;
            return s;
        }
        d->st.damaged_blocks++;
        if (d->p->damage) {
            lac_damage dm = {d->stream, k->index, k->offset, d->plain_before + d->plain_bytes,
                             k->plain_len, d->w.n, 0, 0};
            d->p->damage(d->p->damage_ctx, &dm);
        }
        d->plain_bytes += k->plain_len;
        return LAC_OK;
    }
    lac_status s = lacio_put(&d->w, k->plain.p, k->plain.n, err);
    if (s) return s;
    if (!EVP_DigestUpdate(d->sha, k->plain.p, k->plain.n))
        return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
    d->plain_bytes += k->plain.n;
    d->st.plain_bytes += k->plain.n;
    d->st.method_plain[k->method] += k->plain.n;
    if (d->p->progress) d->p->progress(d->p->progress_ctx, d->r.n, d->w.n);
    return LAC_OK;
}

lac_status lacd_classic(decompressor *d, dblock *k, lac_error *err) {
    if (k->dead || k->method == LAC_METHOD_STORED) return lacd_emit(d, k, err);
    k->plain.n = 0;
    lac_status s = lacio_reserve(&k->plain, k->plain_len, err);
    if (s) return s;
    lac_error e2;
    s = lacz_codec_decompress(k->method, k->packed.p, k->packed.n, k->plain.p, k->plain_len, &e2);
    if (s == LAC_ERR_NOMEM) return lac_fail(err, s, "%s", e2.msg);
    if (s) k->dead = 1, k->why = "the payload does not decode";
    else k->plain.n = k->plain_len;
    return lacd_emit(d, k, err);
}

/* Starts the lock-step batch: one range decoder per pending block. */
static void batch_init(decompressor *d, lac_rc_decoder *rc, int32_t *cur, const int32_t **tok,
                       uint32_t *maxn) {
    *maxn = 0;
    for (int b = 0; b < d->eng_B; b++) {
        lac_engine_reset(d->eng, b);
        cur[b] = (int32_t)d->cfg->eot_token;
        tok[b] = &cur[b];
        if (b >= d->nblk) continue;
        dblock *k = &d->blk[b];
        k->plain.n = 0;
        lac_rc_dec_init(&rc[b], k->packed.p, k->packed.n);
        if (!k->dead && k->rows > *maxn) *maxn = k->rows;
    }
}

/* Appends the decoded token to its block; a token that cannot be there kills the block. */
static lac_status take_token(decompressor *d, dblock *k, uint32_t v, int32_t *cur,
                             lac_error *err) {
    if (v == d->cfg->eot_token && k->eot_ends) { /* the end of a partial block */
        k->ended = 1;
        return LAC_OK;
    }
    size_t len = 0;
    const uint8_t *tb = v == d->cfg->eot_token ? NULL : lac_model_token_bytes(d->m, v, &len);
    size_t cap = k->plain_len ? k->plain_len : (size_t)k->rows * d->max_token_len;
    if (!tb || !len || k->plain.n + len > cap) {
        k->dead = 1;
        k->why = "the payload decodes to an impossible token";
        return LAC_OK;
    }
    *cur = (int32_t)v;
    if (k->eot_ends) k->n_tokens++;
    return lacio_add(&k->plain, tb, len, err);
}

/* A valid block is consumed exactly (docs/CODER.md): bytes left over mean damage. */
static void check_consumed(decompressor *d, const lac_rc_decoder *rc) {
    for (int b = 0; b < d->nblk; b++) {
        dblock *k = &d->blk[b];
        if (!k->dead && k->eot_ends && !k->ended) {
            k->dead = 1;
            k->why = "the payload does not end within the block";
        } else if (!k->dead && lac_rc_dec_consumed(&rc[b], k->packed.p) != k->packed.n) {
            k->dead = 1;
            k->why = "the payload has bytes after its last token";
        }
    }
}

/* Blocks of a stream whose header nothing vouches for (dstream.unvouched): decoded with wrong
 * P, s, T or model, a payload still yields tokens, and since the range coder's output is the
 * fewest bytes that pin its interval, those tokens code back to the payload only by chance.
 * (A larger block_tokens is not caught: a payload also codes the longer sequence that its
 * zero padding decodes to.) `again` holds each block's tokens coded again. */
static lac_status check_codes_back(decompressor *d, lac_rc_encoder *again, lac_error *err) {
    for (int b = 0; b < d->nblk; b++) {
        dblock *k = &d->blk[b];
        if (k->dead) continue;
        if (lac_rc_enc_finish(&again[b]))
            return lac_fail(err, LAC_ERR_NOMEM, "out of memory in the range coder");
        if (again[b].n != k->packed.n || memcmp(again[b].buf, k->packed.p, k->packed.n)) {
            k->dead = 1;
            k->why = "its tokens do not code back to the payload (the stream header, which "
                     "nothing vouches for, is damaged)";
        }
    }
    return LAC_OK;
}

/* One block alone (nothing to decode in lock-step with it): exact speculative decoding, which
 * guesses the next tokens and checks them in one call (coder/decode_spec.h). */
static lac_status flush_one_spec(decompressor *d, int k_max, lac_error *err) {
    dblock *k = &d->blk[0];
    k->plain.n = 0;
    int32_t *ids = malloc((k->rows ? k->rows : 1) * sizeof *ids);
    if (!ids) return lac_fail(err, LAC_ERR_NOMEM, "out of memory (%u tokens)", k->rows);
    lac_rc_decoder rc;
    lac_rc_dec_init(&rc, k->packed.p, k->packed.n);
    const int32_t eot = (int32_t)d->cfg->eot_token;
    uint32_t n = 0;
    lac_status s = k->dead ? LAC_OK
                           : lac_decode_block_spec(d->eng, 0, &rc, &d->hs.coder, eot, k->rows,
                                                   eot, k_max, ids, &n, NULL, err);
    int32_t cur = eot;
    for (uint32_t i = 0; !s && i < n && !k->dead && !k->ended; i++)
        s = take_token(d, k, (uint32_t)ids[i], &cur, err);
    free(ids);
    if (!s) check_consumed(d, &rc);
    if (!s) s = lacd_emit(d, k, err);
    d->nblk = 0;
    return s;
}

lac_status lacd_flush(decompressor *d, lac_error *err) {
    if (!d->nblk) return LAC_OK;
    /* a lone block may be decoded speculatively: room for a few guessed rows per call */
    lac_status s = lacs_ensure_engine(d->m, d->p, d->nblk, d->nblk == 1 ? 8 : 1, &d->eng,
                                      &d->eng_B, err);
    if (s) return s;
    /* a stream header nothing vouches for: lock-step, with each block's tokens coded again */
    const int verify = d->hs.unvouched;
    int k_spec = d->nblk == 1 && !verify ? lac_decode_spec_default_k(d->eng) : 0;
    if (k_spec > 0) return flush_one_spec(d, k_spec, err);
    const int B = d->eng_B;
    const uint32_t P = d->hs.coder.precision;
    lac_rc_decoder *rc = lacs_calloc((size_t)B, sizeof *rc);
    int32_t *cur = lacs_calloc((size_t)B, sizeof *cur), *sym = lacs_calloc((size_t)B, sizeof *sym);
    const int32_t **tok = lacs_calloc((size_t)B, sizeof *tok);
    uint32_t *target = lacs_calloc((size_t)B, 3 * sizeof *target);
    int *counts = lacs_calloc((size_t)B, sizeof *counts);
    lac_rc_encoder *again = verify ? lacs_calloc((size_t)B, sizeof *again) : NULL;
    if (!rc || !cur || !sym || !tok || !target || !counts || (verify && !again))
        s = lac_fail(err, LAC_ERR_NOMEM, "out of memory (%d streams)", B);
    for (int b = 0; again && b < B; b++) lac_rc_enc_init(&again[b]);
    uint32_t *cum = target + B, *freq = target + 2 * B, maxn = 0;
    const uint64_t first = d->blk[0].offset, span = d->r.n - first;
    if (!s) batch_init(d, rc, cur, tok, &maxn);
    for (uint32_t i = 0; !s && i < maxn; i++) {
        if (lacs_interrupted(d->p)) {
            s = lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
            break;
        }
        /* with a power-of-two total the decoder's target does not depend on the row, so the
         * symbol search can run where the frequencies are (the GPU) */
        for (int b = 0; b < B; b++) {
            const dblock *k = &d->blk[b];
            counts[b] = b < d->nblk && !k->dead && !k->ended && i < k->rows;
            if (counts[b]) target[b] = lac_rc_decode_target(&rc[b], P);
        }
        s = lac_engine_forward_decode(d->eng, tok, counts, &d->hs.coder, target, sym, cum, freq,
                                      err);
        for (int b = 0; !s && b < d->nblk; b++) {
            if (!counts[b]) continue;
            lac_rc_decode_update(&rc[b], cum[b], freq[b], P);
            if (again) lac_rc_encode(&again[b], cum[b], freq[b], P);
            s = take_token(d, &d->blk[b], (uint32_t)sym[b], &cur[b], err);
        }
        if (!s && d->p->progress)
            d->p->progress(d->p->progress_ctx, first + span * (i + 1) / maxn, d->w.n);
    }
    if (!s) check_consumed(d, rc);
    if (!s && again) s = check_codes_back(d, again, err);
    for (int b = 0; !s && b < d->nblk; b++) s = lacd_emit(d, &d->blk[b], err);
    for (int b = 0; again && b < B; b++) lac_rc_enc_free(&again[b]);
    free(rc), free(cur), free(sym), free(tok), free(target), free(counts), free(again);
    d->nblk = 0;
    return s;
}
