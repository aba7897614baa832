/* Chunks for independent workers (lac.h, docs/SCALE.md): where piece k of n of a file starts
 * and ends, from the file's bytes alone, and which streams of a .lacz form group k of n. Every
 * worker computes the same cuts, so n processes need no coordination; the compressed pieces
 * concatenated are one .lacz (concatenated streams decode as one file). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lac_error.h"

#define LINE_SEARCH (64u << 10) /* a cut moves to a line end at most this far from its mark */

static lac_status check_kn(int k, int n, lac_error *err) {
    if (n < 1 || n > LAC_MAX_CHUNKS)
        return lac_fail(err, LAC_ERR_ARG, "chunk: N = %d is not in 1..%d", n, LAC_MAX_CHUNKS);
    if (k < 1 || k > n)
        return lac_fail(err, LAC_ERR_ARG, "chunk: K = %d is not in 1..N = %d", k, n);
    return LAC_OK;
}

/* Reads exactly n bytes at off (the input is seekable and at least that long). */
static lac_status read_at(lac_pread_fn rd, void *ctx, uint8_t *buf, size_t n, uint64_t off,
                          lac_error *err) {
    for (size_t got = 0; got < n;) {
        long k = rd(ctx, buf + got, n - got, off + got);
        if (k < 0)
            return lac_fail(err, LAC_ERR_IO, "chunk: read at offset %llu failed: %s",
                            (unsigned long long)(off + got), strerror(errno));
        if (k == 0)
            return lac_fail(err, LAC_ERR_TRUNCATED, "chunk: the input ends at offset %llu, "
                            "before its given size (did it shrink?)",
                            (unsigned long long)(off + got));
        got += (size_t)k;
    }
    return LAC_OK;
}

/* floor(size * i / n) without overflow */
static uint64_t mark_of(uint64_t size, int i, int n) {
    return size / (uint64_t)n * (uint64_t)i + size % (uint64_t)n * (uint64_t)i / (uint64_t)n;
}

/* Cut i (0 < i < n) of an input of `size` >= n bytes: just after the line end nearest the
 * mark within the search radius (ties: the earlier), else the mark itself. */
static lac_status cut_at(lac_pread_fn rd, void *ctx, uint64_t size, int i, int n, uint8_t *buf,
                         uint64_t *cut, lac_error *err) {
    const uint64_t mark = mark_of(size, i, n);
    uint64_t r = (size / (uint64_t)n - 1) / 2; /* cuts stay apart: 2r < size/n */
    if (r > LINE_SEARCH) r = LINE_SEARCH;
    /* a cut c = p + 1 after a line end at p, mark - r <= c <= mark + r */
    const uint64_t lo = mark - r - 1;
    lac_status s = read_at(rd, ctx, buf, (size_t)(2 * r + 1), lo, err);
    if (s) return s;
    *cut = mark;
    uint64_t best = UINT64_MAX;
    for (uint64_t j = 0; j <= 2 * r; j++) {
        if (buf[j] != '\n') continue;
        const uint64_t c = lo + j + 1, d = c > mark ? c - mark : mark - c;
        if (d < best) best = d, *cut = c;
    }
    return LAC_OK;
}

lac_status lac_chunk_range(lac_pread_fn rd, void *ctx, uint64_t size, int k, int n,
                           uint64_t *begin, uint64_t *end, lac_error *err) {
    lac_error_clear(err);
    if (!rd || !begin || !end)
        return lac_fail(err, LAC_ERR_ARG, "chunk: reader, begin and end are required");
    lac_status s = check_kn(k, n, err);
    if (s) return s;
    if ((uint64_t)n > (size ? size : 1))
        return lac_fail(err, LAC_ERR_LIMIT, "chunk: N = %d pieces of a %llu-byte input: at most "
                        "%llu (a piece is at least one byte)", n, (unsigned long long)size,
                        (unsigned long long)(size ? size : 1));
    uint8_t *buf = malloc(2 * LINE_SEARCH + 1);
    if (!buf) return lac_fail(err, LAC_ERR_NOMEM, "chunk: out of memory");
    *begin = 0, *end = size;
    if (k > 1) s = cut_at(rd, ctx, size, k - 1, n, buf, begin, err);
    if (!s && k < n) s = cut_at(rd, ctx, size, k, n, buf, end, err);
    free(buf);
    return s;
}

/* lac_chunk_streams: the stream offsets, from the listing */
typedef struct stream_span {
    uint64_t *off; /* off[i]: start of stream i; off[S]: the end of the last */
    size_t n, cap;
    int nomem;
} stream_span;

static void on_stream(void *ctx, const lac_stream_info *si) {
    stream_span *sp = ctx;
    if (sp->nomem) return;
    if (sp->n + 2 > sp->cap) {
        size_t cap = sp->cap ? 2 * sp->cap : 64;
        uint64_t *o = realloc(sp->off, cap * sizeof *o);
        if (!o) {
            sp->nomem = 1;
            return;
        }
        sp->off = o, sp->cap = cap;
    }
    sp->off[sp->n++] = si->offset;
    sp->off[sp->n] = si->offset + si->packed_len;
}

lac_status lac_chunk_streams(lac_read_fn rd, void *rctx, int k, int n, uint64_t *begin,
                             uint64_t *end, lac_error *err) {
    lac_error_clear(err);
    if (!rd || !begin || !end)
        return lac_fail(err, LAC_ERR_ARG, "chunk: reader, begin and end are required");
    lac_status s = check_kn(k, n, err);
    if (s) return s;
    stream_span sp = {0};
    lac_file_info info;
    s = lac_list_streams(rd, rctx, NULL, on_stream, &sp, &info, err);
    if (!s && sp.nomem) s = lac_fail(err, LAC_ERR_NOMEM, "chunk: out of memory");
    const uint64_t S = sp.n;
    if (!s && (uint64_t)n > S)
        s = lac_fail(err, LAC_ERR_LIMIT, "chunk: N = %d groups of %llu stream%s: at most %llu "
                     "(groups are whole streams)", n, (unsigned long long)S, S == 1 ? "" : "s",
                     (unsigned long long)S);
    if (!s) {
        *begin = sp.off[mark_of(S, k - 1, n)];
        *end = sp.off[mark_of(S, k, n)];
    }
    free(sp.off);
    return s;
}
