/* lac_decompress: reads .lacz streams of every format version (docs/FORMAT.md) and writes
 * their plaintext. Stages: the stream header (read_stream_header), the block loop
 * (next_block_v1 / next_block_v2, then dispatch to decode_blocks.c), the footer (end_stream).
 * Memory is bounded by B pending model blocks or one stored/classic block. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "decompress.h"
#include "lac_error.h"
#include "raw.h"
#include "stream_util.h"

/* ---- stream header ---- */
static lac_status model_mismatch(decompressor *d, const uint8_t *id, size_t id_len,
                                 const char *name, lac_error *err) {
    char a[17], b[17];
    lacio_hash_prefix(id, id_len, a);
    lacio_hash_prefix(lac_model_hash(d->m), id_len < 8 ? id_len : 8, b);
    if (name && name[0])
        return lac_fail(err, LAC_ERR_MODEL_MISMATCH,
                        "made with model %s (hash %s...); the loaded model is %s (hash %s...)",
                        name, a, d->cfg->name[0] ? d->cfg->name : "(unnamed)", b);
    return lac_fail(err, LAC_ERR_MODEL_MISMATCH,
                    "made with another model (identity %s...); the loaded model is %s "
                    "(identity %s...)", a, d->cfg->name[0] ? d->cfg->name : "(unnamed)", b);
}

static lac_status header_v1(decompressor *d, uint8_t rec[LACZ_HEADER_SIZE], lac_error *err) {
    uint64_t off = d->r.n - 5;
    lac_status s = lacio_get_exact(&d->r, rec + 5, LACZ_HEADER_SIZE - 5, "stream header", err);
    lacz_header h;
    if (!s) s = lacz_header_parse(rec, off, &h, err);
    if (s) return s;
    if (memcmp(h.model_hash, lac_model_hash(d->m), 32) != 0)
        return model_mismatch(d, h.model_hash, 32, h.model_name[0] ? h.model_name : "(unnamed)",
                              err);
    memset(&d->hs, 0, sizeof d->hs);
    d->hs.version = 1;
    d->hs.coder = h.coder;
    d->hs.block_tokens = h.block_tokens;
    return LAC_OK;
}

static lac_status header_v2(decompressor *d, uint8_t rec[LACZ2_HEADER_MAX], lac_error *err) {
    uint64_t off = d->r.n - 5;
    size_t n = 5, used = 0;
    lacz2_header h;
    lac_status s;
    while ((s = lacz2_header_parse(rec, n, off, &h, &used, err)) == LAC_ERR_TRUNCATED &&
           n < LACZ2_HEADER_MAX) {
        if ((s = lacio_get_exact(&d->r, rec + n, 1, "stream header", err))) return s;
        n++;
    }
    if (s) return s;
    memset(&d->hs, 0, sizeof d->hs);
    d->hs.id_mismatch = memcmp(h.model_id, lac_model_hash(d->m), LACZ2_ID_BYTES) != 0;
    memcpy(d->hs.id, h.model_id, LACZ2_ID_BYTES);
    d->hs.hdr_off = off;
    d->hs.version = 2;
    d->hs.coder = h.coder;
    d->hs.block_tokens = h.block_tokens;
    d->hs.sha256 = h.sha256;
    memcpy(d->hs.hdr, rec, used);
    d->hs.hdr_n = used;
    d->hs.first_off = d->r.n;
    return LAC_OK;
}

/* Reads a stream header; *none = 1 at the clean end of a concatenation. */
static lac_status read_stream_header(decompressor *d, int first, int *none, lac_error *err) {
    uint8_t rec[LACZ_HEADER_SIZE];
    size_t got = 0;
    *none = 0;
    uint64_t off = d->r.n;
    lac_status s = lacio_get(&d->r, rec, 5, &got, err);
    if (s) return s;
    if (got == 0 && !first) return *none = 1, LAC_OK;
    if (got == 0) return lac_fail(err, LAC_ERR_TRUNCATED, "empty input: not a .lacz file");
    if (got < 4 && lacz_is_magic_prefix(rec, got))
        return lac_fail(err, LAC_ERR_TRUNCATED, "input is truncated in the magic at offset %llu",
                        (unsigned long long)off);
    if (got < 4 || !lacz_is_magic(rec, 4))
        return lac_fail(err, LAC_ERR_FORMAT,
                        off ? "offset %llu: trailing data that is not a .lacz stream"
                            : "not a .lacz file (bad magic at offset %llu)",
                        (unsigned long long)off);
    if (got < 5)
        return lac_fail(err, LAC_ERR_TRUNCATED, "input is truncated in the stream header at "
                        "offset %llu", (unsigned long long)off);
    if (rec[4] == 1) s = header_v1(d, rec, err);
    else if ((rec[4] & 7) == LACZ2_VERSION) s = header_v2(d, rec, err);
    else
        return lac_fail(err, LAC_ERR_VERSION,
                        "header at offset %llu: format version %u is not supported (this build "
                        "reads 1 and 2)", (unsigned long long)off, rec[4] & 7u);
    if (s) return s;
    if (d->hs.block_tokens > d->cfg->n_ctx)
        return lac_fail(err, LAC_ERR_FORMAT,
                        "header at offset %llu: block_tokens %u exceeds the model's context of "
                        "%u tokens", (unsigned long long)off, d->hs.block_tokens, d->cfg->n_ctx);
    return LAC_OK;
}

/* ---- blocks ---- */
/* Hands a block to its decoder: model blocks wait for a lock-step batch of B, the others are
 * decoded at once (after the pending model blocks, to keep the order). */
static lac_status dispatch(decompressor *d, dblock *k, lac_error *err) {
    if (k->method == LAC_METHOD_MODEL) {
        if (++d->nblk == d->B) return lacd_flush(d, err);
        return LAC_OK;
    }
    return lacd_classic(d, k, err);
}

/* The slot for the next block, emptied (its buffers kept): a model block takes the next batch
 * slot; any other block is decoded alone in slot 0, after the pending batch is flushed. */
static lac_status next_slot(decompressor *d, int model, dblock **out, lac_error *err) {
    if (!model) {
        lac_status s = lacd_flush(d, err);
        if (s) return s;
    }
    dblock *k = &d->blk[d->nblk];
    lacio_bytes packed = k->packed, plain = k->plain;
    memset(k, 0, sizeof *k);
    k->packed = packed, k->plain = plain;
    k->packed.n = k->plain.n = 0;
    *out = k;
    return LAC_OK;
}

/* v1: reads one block header (resynchronising past a damaged one under salvage) and its
 * payload. *end = 1 at the end marker. */
static lac_status next_block_v1(decompressor *d, uint64_t *index, int *end, lac_error *err) {
    uint8_t rec[LACZ_BLOCK_HEADER_SIZE];
    uint64_t off = d->r.n;
    lac_status s = lacio_get_exact(&d->r, rec, sizeof rec, "block header", err);
    lacz_block_header bh;
    if (!s) s = lacz_block_header_parse(rec, off, d->hs.block_tokens, &bh, err);
    if (!s && bh.type == LACZ_BLOCK_CODED &&
        (uint64_t)bh.plain_len > (uint64_t)bh.n_tokens * d->max_token_len)
        s = lac_fail(err, LAC_ERR_FORMAT,
                     "coded block at offset %llu: plaintext length %u exceeds %u tokens of at "
                     "most %u bytes (the model's longest token)", (unsigned long long)off,
                     bh.plain_len, bh.n_tokens, d->max_token_len);
    if (s && d->p->salvage && (s == LAC_ERR_CORRUPT || s == LAC_ERR_FORMAT)) {
        /* a damaged block header: skip to the next valid one; the plaintext lost is known
         * from the footer at the end of the stream */
        uint64_t gap_off = off;
        s = lacd_flush(d, err);
        if (!s) s = lacd_resync_v1(d, rec, &off, &bh, err);
        if (!s) s = lacd_gap(d, (*index)++, gap_off, err);
    }
    if (s) return s;
    if ((*end = bh.type == LACZ_BLOCK_END)) return LAC_OK;
    int model = bh.type == LACZ_BLOCK_CODED;
    dblock *k;
    if ((s = next_slot(d, model, &k, err))) return s;
    k->method = model ? LAC_METHOD_MODEL : LAC_METHOD_STORED;
    k->n_tokens = k->rows = bh.n_tokens;
    k->plain_len = bh.plain_len;
    k->packed_len = bh.packed_len;
    k->has_sum = 1;
    memcpy(k->sum8, bh.checksum, 8);
    k->offset = off;
    k->index = (*index)++;
    lacio_bytes *dst = model ? &k->packed : &k->plain;
    s = lacio_reserve(dst, bh.packed_len, err);
    if (!s && model) s = lacio_reserve(&k->plain, bh.plain_len, err);
    if (!s) s = lacio_get_exact(&d->r, dst->p, bh.packed_len, model ? "coded block data"
                                                                     : "stored block data", err);
    if (s) return s;
    dst->n = bh.packed_len;
    return dispatch(d, k, err);
}

/* v2: reads a record's bytes until it parses. */
static lac_status read_record(decompressor *d, uint8_t buf[LACZ2_RECORD_MAX], size_t *n,
                              lacz2_record *rec, lac_error *err) {
    uint64_t off = d->r.n;
    size_t used = 0;
    for (*n = 0;;) {
        size_t got = 0;
        lac_status s = lacio_get(&d->r, buf + *n, 1, &got, err);
        if (s) return s;
        if (!got)
            return lac_fail(err, LAC_ERR_TRUNCATED,
                            "input is truncated: block record at offset %llu", (unsigned long long)off);
        (*n)++;
        s = lacz2_record_parse(buf, *n, off, d->hs.block_tokens, rec, &used, err);
        if (s != LAC_ERR_TRUNCATED) return s;
        if (*n == LACZ2_RECORD_MAX) /* cannot happen: every field is capped */
            return lac_fail(err, LAC_ERR_FORMAT, "block record at offset %llu: too long",
                            (unsigned long long)off);
    }
}

static void fill_block(decompressor *d, dblock *k, const lacz2_record *rec, uint64_t off,
                       uint64_t index) {
    k->method = lacz2_is_model(rec->kind) ? LAC_METHOD_MODEL : rec->kind - 2;
    k->n_tokens = rec->n_tokens;
    k->rows = d->hs.block_tokens;
    k->eot_ends = rec->kind == LACZ2_MODEL_PART || rec->kind == LACZ2_MODEL_LAST;
    k->hold = rec->kind == LACZ2_MODEL_LAST;
    k->plain_len = rec->plain_len;
    k->packed_len = rec->packed_len;
    k->offset = off;
    k->index = index;
}

/* The stream's first record (at off) has been read: its check (ok; -1 for a record with none,
 * or one that did not parse) vouches for the header. A header naming another model is a real
 * mismatch when the check holds (or there is none to tell), else damage. */
static lac_status vouch_header(decompressor *d, int ok, lac_error *err) {
    if (ok == 0 && d->p->salvage) d->hs.unvouched = 1;
    if (!d->hs.id_mismatch || (ok == 0 && d->p->salvage)) return LAC_OK;
    if (ok != 0) {
        lac_error e;
        lac_status s = model_mismatch(d, d->hs.id, LACZ2_ID_BYTES, NULL, &e);
        if (!d->stream) return lac_fail(err, s, "%s", e.msg);
        return lac_fail(err, s, "stream %llu (offset %llu): %s", (unsigned long long)d->stream,
                        (unsigned long long)d->hs.hdr_off, e.msg); /* which of the streams */
    }
    char a[17];
    lacio_hash_prefix(d->hs.id, LACZ2_ID_BYTES, a);
    return lac_fail(err, LAC_ERR_CORRUPT,
                    "stream header at offset %llu or its first block is damaged (the first "
                    "record's check fails; the model identity it reads, %s..., is not this "
                    "model's and may be the damage)",
                    (unsigned long long)d->hs.hdr_off, a);
}

/* v2: the next block: its record and payload (whose check is verified). *end = 1 at the end
 * record. Under salvage a record that does not parse or check starts a resync. */
static lac_status next_block_v2(decompressor *d, uint64_t *index, int *end, lac_error *err) {
    uint8_t head[LACZ2_RECORD_MAX];
    size_t hn = 0;
    lacz2_record rec;
    uint64_t off = d->r.n;
    const int first = off == d->hs.first_off;
    lac_status s = read_record(d, head, &hn, &rec, err);
    if (first && s == LAC_ERR_FORMAT && d->p->salvage) d->hs.unvouched = 1;
    if (first && !s && (rec.kind == LACZ2_END || rec.kind == LACZ2_MODEL_LAST) &&
        (s = vouch_header(d, -1, err)))
        return s;
    if (s == LAC_ERR_FORMAT && d->p->salvage) {
        int found = 0;
        if (!(s = lacd_flush(d, err))) s = lacd_resync_v2(d, off, &found, err);
        if (!s) s = lacd_gap(d, (*index)++, off, err);
        if (!s && !found) s = lac_fail(err, LAC_ERR_CORRUPT, "offset %llu: no intact block "
                                       "record after a damaged one", (unsigned long long)off);
        if (s) return s;
        return next_block_v2(d, index, end, err);
    }
    if (s) return s;
    if ((*end = rec.kind == LACZ2_END)) return LAC_OK;
    int model = lacz2_is_model(rec.kind);
    dblock *k;
    if ((s = next_slot(d, model, &k, err))) return s;
    fill_block(d, k, &rec, off, *index);
    lacio_bytes *dst = rec.kind == LACZ2_STORED ? &k->plain : &k->packed;
    s = lacio_reserve(dst, rec.packed_len, err);
    if (!s) s = lacio_get_exact(&d->r, dst->p, rec.packed_len, "block data", err);
    if (s) return s;
    dst->n = rec.packed_len;
    if (rec.kind == LACZ2_MODEL_LAST) { /* no check: the footer's stream check covers it */
        (*index)++;
        *end = 1;
        return dispatch(d, k, err);
    }
    const int ok = lacz2_record_check(&rec, d->hs.hdr, first ? d->hs.hdr_n : 0, dst->p) == rec.check;
    if (first && (s = vouch_header(d, ok, err))) return s;
    if (!ok) {
        if (!d->p->salvage)
            return lac_fail(err, LAC_ERR_CORRUPT,
                            "block %llu at offset %llu: block check mismatch (damaged data)",
                            (unsigned long long)*index, (unsigned long long)off);
        return lacd_salvage_v2(d, k, head, hn, index, err);
    }
    (*index)++;
    return dispatch(d, k, err);
}

/* ---- footers ---- */
static lac_status digest(decompressor *d, uint8_t sha[32], lac_error *err) {
    unsigned int l = 0;
    if (!EVP_DigestFinal_ex(d->sha, sha, &l))
        return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
    return LAC_OK;
}

/* Salvage: the queued damage of the stream, in stream order. The footer's plain_bytes less
 * what was decoded and the known lengths skipped is what its blocks of unknown length miss
 * together: the length of the only one, else their shared total. A plaintext offset holds the
 * lengths before it, so after a block whose length stays unknown, offsets are unknown too. */
lac_status lacd_report_gaps(decompressor *d, uint64_t foot_plain, uint64_t foff,
                            lac_error *err) {
    if (!d->ngaps) return LAC_OK;
    const int foot = foot_plain != UINT64_MAX;
    if (foot && foot_plain < d->plain_bytes)
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "footer at offset %llu: %llu bytes recorded, more found after skipping "
                        "damaged blocks", (unsigned long long)foff,
                        (unsigned long long)foot_plain);
    const uint64_t missing = foot ? foot_plain - d->plain_bytes : UINT64_MAX;
    uint64_t unknown = 0, shift = 0;
    for (int g = 0; g < d->ngaps; g++) unknown += d->gap[g].plain_len == UINT64_MAX;
    int lost = 0; /* an earlier block's length is unknown */
    for (int g = 0; g < d->ngaps; g++) {
        lac_damage *e = &d->gap[g];
        e->plain_offset = lost ? UINT64_MAX : e->plain_offset + shift;
        if (e->plain_len != UINT64_MAX) continue;
        if (unknown == 1 && foot) {
            e->plain_len = missing;
            shift += missing;
        } else {
            e->unknown_len = missing;
            e->unknown_blocks = unknown;
            lost = 1;
        }
    }
    for (int g = 0; g < d->ngaps; g++)
        if (d->p->damage) d->p->damage(d->p->damage_ctx, &d->gap[g]);
    d->ngaps = 0;
    if (foot) d->plain_bytes = foot_plain;
    return LAC_OK;
}

static lac_status footer_v1(decompressor *d, lac_error *err) {
    uint8_t frec[LACZ_FOOTER_SIZE], sha[32];
    uint64_t foff = d->r.n;
    lacz_footer f;
    lac_status s = lacio_get_exact(&d->r, frec, sizeof frec, "footer", err);
    if (!s) s = lacz_footer_parse(frec, foff, &f, err);
    if (!s && d->ngaps) {
        if (f.blocks < d->blocks) s = lac_fail(err, LAC_ERR_CORRUPT,
                                              "footer at offset %llu: %llu blocks recorded, more "
                                              "found", (unsigned long long)foff,
                                              (unsigned long long)f.blocks);
        if (!s) s = lacd_report_gaps(d, f.plain_bytes, foff, err);
        d->blocks = f.blocks;
    }
    if (!s) s = digest(d, sha, err);
    if (s) return s;
    if (f.plain_bytes != d->plain_bytes || f.blocks != d->blocks)
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "footer at offset %llu: %llu bytes in %llu blocks recorded, %llu bytes "
                        "in %llu blocks found", (unsigned long long)foff,
                        (unsigned long long)f.plain_bytes, (unsigned long long)f.blocks,
                        (unsigned long long)d->plain_bytes, (unsigned long long)d->blocks);
    if (d->st.damaged_blocks == 0 && memcmp(sha, f.sha256, 32) != 0)
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "footer at offset %llu: SHA-256 of the plaintext does not match",
                        (unsigned long long)foff);
    return LAC_OK;
}

/* The stream's last block has no check of its own: the stream check tells whether it is
 * intact (when every earlier block was; after damage elsewhere only its decoding vouches). */
static lac_status check_held(decompressor *d, uint64_t plain, const uint8_t *want, size_t nsum,
                             lac_error *err) {
    dblock *k = d->held;
    d->held = NULL;
    k->hold = 0;
    if (d->st.damaged_blocks == 0) {
        uint8_t sha[32];
        unsigned int l = 0;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int ok = c && EVP_MD_CTX_copy_ex(c, d->sha) &&
                 EVP_DigestUpdate(c, k->plain.p, k->plain.n) && EVP_DigestFinal_ex(c, sha, &l);
        EVP_MD_CTX_free(c);
        if (!ok) return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
        if (memcmp(sha, want, nsum) != 0 || d->plain_bytes + k->plain.n != plain) {
            k->dead = 1;
            k->why = "the stream check does not match";
            if (plain > d->plain_bytes) k->plain_len = (uint32_t)(plain - d->plain_bytes);
        }
    }
    return lacd_emit(d, k, err);
}

static lac_status footer_v2(decompressor *d, lac_error *err) {
    uint64_t foff = d->r.n, plain = 0;
    uint8_t buf[10], sha[32], want[32];
    size_t n = 0;
    int k = 0;
    while (k == 0) { /* the varint plain_bytes */
        lac_status s = lacio_get_exact(&d->r, buf + n, 1, "footer", err);
        if (s) return s;
        k = lacz2_varint_get(buf, ++n, 10, &plain);
    }
    if (k < 0)
        return lac_fail(err, LAC_ERR_FORMAT, "footer at offset %llu: malformed length",
                        (unsigned long long)foff);
    size_t nsum = d->hs.sha256 ? 32 : 4;
    lac_status s = lacio_get_exact(&d->r, want, nsum, "footer check", err);
    if (!s && d->held) s = check_held(d, plain, want, nsum, err);
    if (!s) s = lacd_report_gaps(d, plain, foff, err);
    if (!s) s = digest(d, sha, err);
    if (s) return s;
    if (plain != d->plain_bytes)
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "footer at offset %llu: %llu bytes recorded, %llu decoded",
                        (unsigned long long)foff, (unsigned long long)plain,
                        (unsigned long long)d->plain_bytes);
    if (d->st.damaged_blocks == 0 && memcmp(sha, want, nsum) != 0)
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "footer at offset %llu: the plaintext's %s does not match",
                        (unsigned long long)foff, d->hs.sha256 ? "SHA-256" : "check");
    return LAC_OK;
}

/* Salvage of a truncated stream: the complete blocks read before the cut are still written
 * (those waiting for a lock-step batch, and a last block whose footer was cut off: its
 * decoding vouches for it, no check can). The truncation stays the result. */
static void salvage_cut(decompressor *d) {
    lac_error e2;
    if (lacd_flush(d, &e2) != LAC_OK) return;
    if (d->held) {
        dblock *k = d->held;
        d->held = NULL;
        k->hold = 0;
        lacd_emit(d, k, &e2);
    }
}

/* ---- the driver ---- */
static lac_status one_stream(decompressor *d, lac_error *err) {
    d->ngaps = 0;
    d->plain_bytes = d->blocks = 0;
    if (!EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL))
        return lac_fail(err, LAC_ERR_INTERNAL, "SHA-256 failed (OpenSSL)");
    lac_status s = LAC_OK;
    uint64_t index = 0;
    for (int end = 0; !s && !end;) {
        if (lacs_interrupted(d->p)) return lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
        s = d->hs.version == 1 ? next_block_v1(d, &index, &end, err)
                               : next_block_v2(d, &index, &end, err);
    }
    if (!s) s = lacd_flush(d, err);
    if (!s) s = d->hs.version == 1 ? footer_v1(d, err) : footer_v2(d, err);
    if (s == LAC_ERR_TRUNCATED && d->p->salvage) salvage_cut(d);
    if (d->ngaps) { /* the footer was not reached: what was skipped is still reported */
        lac_error e2;
        lacd_report_gaps(d, UINT64_MAX, 0, &e2);
    }
    d->plain_before += d->plain_bytes;
    return s;
}

static lac_status setup(decompressor *d, const lac_model *m, const lac_params *p,
                        lac_read_fn rd, void *rctx, lac_write_fn wr, void *wctx,
                        lac_error *err) {
    memset(d, 0, sizeof *d);
    d->m = m;
    d->p = p;
    d->cfg = lac_model_get_config(m);
    d->w.wr = wr;
    d->w.ctx = wctx;
    lacio_reader_init(&d->r, rd, rctx);
    if (p->engine.n_streams < 0)
        return lac_fail(err, LAC_ERR_ARG, "n_streams %d is negative", p->engine.n_streams);
    d->B = p->engine.n_streams > 0 ? p->engine.n_streams
                                    : lac_engine_options_streams(m, &p->engine,
                                                                 LAC_PURPOSE_DECOMPRESS, NULL);
    if (d->B > LACS_MAX_STREAMS)
        return lac_fail(err, LAC_ERR_ARG, "n_streams %d is above %d", d->B, LACS_MAX_STREAMS);
    d->max_token_len = lac_model_max_token_len(m);
    d->blk = lacs_calloc((size_t)d->B, sizeof *d->blk);
    d->sha = EVP_MD_CTX_new();
    if (!d->blk || !d->sha) return lac_fail(err, LAC_ERR_NOMEM, "out of memory");
    return LAC_OK;
}

static void teardown(decompressor *d) {
    if (d->blk)
        for (int b = 0; b < d->B; b++) {
            lacio_bytes_free(&d->blk[b].packed);
            lacio_bytes_free(&d->blk[b].plain);
        }
    free(d->blk);
    lacio_bytes_free(&d->rest);
    lacio_reader_free(&d->r);
    lac_engine_free(d->eng);
    EVP_MD_CTX_free(d->sha);
}

lac_status lac_decompress(const lac_model *m, const lac_params *pp, lac_read_fn rd, void *rctx,
                          lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err) {
    lac_error_clear(err);
    if (!m || !rd)
        return lac_fail(err, LAC_ERR_ARG, "lac_decompress: model and reader are required");
    lac_params defaults;
    lac_params_default(&defaults);
    const lac_params *p = pp ? pp : &defaults;
    if (p->raw) return lacz_decompress_raw(m, p, rd, rctx, wr, wctx, st, err);
    double t0 = lacio_now();
    decompressor d;
    lac_status s = setup(&d, m, p, rd, rctx, wr, wctx, err);
    for (int nstream = 0; !s; nstream++) {
        int none = 0;
        s = read_stream_header(&d, nstream == 0, &none, err);
        if (s || none) break;
        d.stream = (uint64_t)nstream;
        s = one_stream(&d, err);
    }
    if (!s && d.st.damaged_blocks)
        s = lac_fail(err, LAC_ERR_CORRUPT, "%llu damaged blocks were skipped (salvage)",
                     (unsigned long long)d.st.damaged_blocks);
    d.st.in_bytes = d.st.packed_bytes = d.r.n;
    d.st.out_bytes = d.w.n;
    d.st.seconds = lacio_now() - t0;
    if (d.eng) snprintf(d.st.device, sizeof d.st.device, "%s", lac_engine_device_name(d.eng));
    d.st.devices = lac_engine_devices(d.eng);
    if (st) *st = d.st;
    teardown(&d);
    return s;
}
