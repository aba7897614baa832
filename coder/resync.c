/* Salvage past damaged block headers and records (see decompress.h). v1 headers carry their
 * own 4-byte check, so a window slides over the stream. v2 records carry one 2-byte check over
 * record and payload, so a candidate must also be followed by an intact record (or the end of
 * its stream): the rest of the input is read into memory to search it. */
#include <stdlib.h>
#include <string.h>

#include "decompress.h"
#include "lac_error.h"
#include "stream_util.h"

lac_status lacd_resync_v1(decompressor *d, uint8_t rec[LACZ_BLOCK_HEADER_SIZE], uint64_t *off,
                          lacz_block_header *bh, lac_error *err) {
    for (;;) {
        memmove(rec, rec + 1, LACZ_BLOCK_HEADER_SIZE - 1);
        lac_status s = lacio_get_exact(&d->r, rec + LACZ_BLOCK_HEADER_SIZE - 1, 1,
                                       "block header (searching past a damaged one)", err);
        if (s) return s;
        (*off)++;
        if (lacz_block_header_parse(rec, *off, d->hs.block_tokens, bh, NULL) == LAC_OK &&
            (bh->type != LACZ_BLOCK_CODED ||
             (uint64_t)bh->plain_len <= (uint64_t)bh->n_tokens * d->max_token_len))
            return LAC_OK;
        if (lacs_interrupted(d->p)) return lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
    }
}

/* ---- v2 ---- */
static long mem_read(void *ctx, void *buf, size_t n) {
    decompressor *d = ctx;
    size_t k = d->rest.n - d->rest_pos;
    if (k > n) k = n;
    if (k) memcpy(buf, d->rest.p + d->rest_pos, k);
    d->rest_pos += k;
    return (long)k;
}

/* rest = prefix[0..np) + all the input left; the reader then reads rest from memory. */
static lac_status slurp(decompressor *d, const uint8_t *a, size_t na, const uint8_t *b,
                        size_t nb, lac_error *err) {
    lacio_bytes all = {0};
    lac_status s = lacio_add(&all, a, na, err);
    if (!s) s = lacio_add(&all, b, nb, err);
    for (size_t got = 1, room = 0; !s && got;) {
        if (!(s = lacio_room(&all, LACIO_BUF, &room, err)))
            s = lacio_get(&d->r, all.p + all.n, room, &got, err);
        if (!s) all.n += got;
    }
    if (s) return lacio_bytes_free(&all), s;
    lacio_bytes_free(&d->rest);
    d->rest = all;
    d->rest_pos = 0;
    d->r.rd = mem_read;
    d->r.ctx = d;
    d->r.pos = d->r.len = 0;
    d->r.eof = 0;
    return LAC_OK;
}

/* 1 when rest[j..] starts a record whose check matches (or the end record and a footer).
 * Parsed without an error message: the search tries every offset. */
static int intact_at(const decompressor *d, size_t j, int depth) {
    const uint8_t *p = d->rest.p + j;
    size_t n = d->rest.n - j, used = 0;
    lacz2_record rec;
    if (j >= d->rest.n ||
        lacz2_record_parse(p, n, 0, d->hs.block_tokens, &rec, &used, NULL) != LAC_OK)
        return 0;
    if (lacz2_ends_stream(rec.kind)) { /* then a footer, and the input's end or a stream */
        size_t at = used + rec.packed_len;
        uint64_t v;
        if (at >= n) return 0;
        int k = lacz2_varint_get(p + at, n - at, 10, &v);
        size_t foot = at + (size_t)(k > 0 ? k : 0) + (d->hs.sha256 ? 32 : 4);
        return k > 0 && foot <= n && (foot == n || lacz_is_magic(p + foot, n - foot));
    }
    if (rec.packed_len > n - used || lacz2_record_check(&rec, NULL, 0, p + used) != rec.check) return 0;
    return depth == 0 || intact_at(d, j + used + rec.packed_len, depth - 1);
}

/* Moves the reader to rest[j] (file offset base + j). */
static void seek_rest(decompressor *d, uint64_t base, size_t j) {
    d->rest_pos = j;
    d->r.pos = d->r.len = 0;
    d->r.eof = 0;
    d->r.n = base + j;
}

static lac_status search(decompressor *d, uint64_t base, size_t from, int *found,
                         lac_error *err) {
    *found = 0;
    for (size_t j = from; j < d->rest.n; j++) {
        if ((j & 0xffff) == 0 && lacs_interrupted(d->p))
            return lac_fail(err, LAC_ERR_INTERRUPTED, "interrupted");
        if (intact_at(d, j, 1)) {
            seek_rest(d, base, j);
            *found = 1;
            return LAC_OK;
        }
    }
    seek_rest(d, base, d->rest.n);
    return LAC_OK;
}

lac_status lacd_resync_v2(decompressor *d, uint64_t off, int *found, lac_error *err) {
    /* the bytes of the damaged record from `off` are gone from the reader: search from the
     * reader's position (the damaged record's first byte was read: start after it) */
    uint64_t base = d->r.n;
    lac_status s = slurp(d, NULL, 0, NULL, 0, err);
    if (s) return s;
    (void)off;
    return search(d, base, 0, found, err);
}

lac_status lacd_salvage_v2(decompressor *d, dblock *k, const uint8_t *head, size_t hn,
                           uint64_t *index, lac_error *err) {
    const lacio_bytes *pay = k->method == LAC_METHOD_STORED ? &k->plain : &k->packed;
    lac_status s = lacd_flush(d, err);
    if (!s) s = slurp(d, head, hn, pay->p, pay->n, err);
    if (s) return s;
    size_t next = hn + pay->n;
    uint64_t idx = (*index)++;
    if (intact_at(d, next, 1)) { /* only the payload was hit: k's record is right */
        seek_rest(d, k->offset, next);
        k->dead = 1;
        k->why = "block check mismatch";
        if (!k->plain_len) return lacd_gap(d, idx, k->offset, err);
        return lacd_emit(d, k, err); /* reports it with its plaintext range */
    }
    int found = 0;
    s = search(d, k->offset, 1, &found, err);
    if (!s) s = lacd_gap(d, idx, k->offset, err);
    if (!s && !found)
        s = lac_fail(err, LAC_ERR_CORRUPT, "offset %llu: no intact block record after a damaged "
                     "one", (unsigned long long)k->offset);
    return s;
}
