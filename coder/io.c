/* See io.h. */
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lac_error.h"

lac_status lacio_put(lacio_writer *w, const void *data, size_t n, lac_error *err) {
    if (n && w->wr && w->wr(w->ctx, data, n) != 0)
        return lac_fail(err, LAC_ERR_IO, "output: write failed: %s", strerror(errno));
    w->n += n;
    return LAC_OK;
}

void lacio_reader_init(lacio_reader *r, lac_read_fn rd, void *ctx) {
    memset(r, 0, sizeof *r);
    r->rd = rd;
    r->ctx = ctx;
    r->buf = malloc(LACIO_BUF);
}

void lacio_reader_free(lacio_reader *r) {
    free(r->buf);
    r->buf = NULL;
}

/* One call of the caller's reader; -1 on error (errno set). */
static long raw_read(lacio_reader *r, void *buf, size_t n) {
    if (r->eof) return 0;
    long m = r->rd(r->ctx, buf, n);
    if (m == 0) r->eof = 1;
    return m;
}

lac_status lacio_get(lacio_reader *r, void *out, size_t n, size_t *got, lac_error *err) {
    size_t k = 0;
    uint8_t *dst = out;
    while (k < n) {
        if (r->pos < r->len) { /* buffered bytes first */
            size_t m = r->len - r->pos < n - k ? r->len - r->pos : n - k;
            memcpy(dst + k, r->buf + r->pos, m);
            r->pos += m;
            k += m;
            continue;
        }
        long m;
        if (!r->buf || n - k >= LACIO_BUF) { /* large reads go straight to the caller */
            m = raw_read(r, dst + k, n - k);
            if (m > 0) k += (size_t)m;
        } else {
            m = raw_read(r, r->buf, LACIO_BUF);
            r->pos = 0;
            r->len = m > 0 ? (size_t)m : 0;
        }
        if (m < 0) {
            r->n += k;
            return lac_fail(err, LAC_ERR_IO, "input: read failed: %s", strerror(errno));
        }
        if (m == 0) break;
    }
    r->n += k;
    *got = k;
    return LAC_OK;
}

lac_status lacio_get_exact(lacio_reader *r, void *buf, size_t n, const char *what,
                           lac_error *err) {
    uint64_t off = r->n;
    size_t got = 0;
    lac_status s = lacio_get(r, buf, n, &got, err);
    if (s) return s;
    if (got != n)
        return lac_fail(err, LAC_ERR_TRUNCATED,
                        "input is truncated: %s at offset %llu needs %zu bytes, %zu left", what,
                        (unsigned long long)off, n, got);
    return LAC_OK;
}

lac_status lacio_skip(lacio_reader *r, uint64_t n, const char *what, lac_error *err) {
    uint8_t tmp[4096];
    while (n) {
        size_t k = n < sizeof tmp ? (size_t)n : sizeof tmp;
        lac_status s = lacio_get_exact(r, tmp, k, what, err);
        if (s) return s;
        n -= k;
    }
    return LAC_OK;
}

int lacio_at_end(lacio_reader *r, lac_error *err, lac_status *s) {
    *s = LAC_OK;
    if (r->pos < r->len) return 0;
    if (!r->buf) return r->eof; /* unbuffered: only a previous short read tells */
    long m = raw_read(r, r->buf, LACIO_BUF);
    if (m < 0) {
        *s = lac_fail(err, LAC_ERR_IO, "input: read failed: %s", strerror(errno));
        return 0;
    }
    r->pos = 0;
    r->len = (size_t)m;
    return m == 0;
}

lac_status lacio_reserve(lacio_bytes *b, size_t need, lac_error *err) {
    if (need <= b->cap) return LAC_OK;
    size_t c = b->cap ? b->cap : 4096;
    while (c < need) c *= 2;
    uint8_t *q = realloc(b->p, c);
    if (!q) return lac_fail(err, LAC_ERR_NOMEM, "out of memory (%zu bytes for a block)", c);
    b->p = q;
    b->cap = c;
    return LAC_OK;
}

lac_status lacio_room(lacio_bytes *b, size_t step, size_t *room, lac_error *err) {
    lac_status s = b->n < b->cap ? LAC_OK : lacio_reserve(b, b->n + step, err);
    *room = s ? 0 : b->cap - b->n;
    return s;
}

lac_status lacio_add(lacio_bytes *b, const void *d, size_t n, lac_error *err) {
    lac_status s = lacio_reserve(b, b->n + n, err);
    if (s) return s;
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
    return LAC_OK;
}

void lacio_bytes_free(lacio_bytes *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

double lacio_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lacio_hash_prefix(const uint8_t *h, size_t n, char out[17]) {
    uint8_t full[32] = {0};
    char hex[65];
    size_t k = n < 8 ? n : 8;
    memcpy(full, h, k);
    lac_hash_hex(full, hex); /* the one hex writer */
    memcpy(out, hex, 2 * k);
    out[2 * k] = '\0';
}
