/* Byte plumbing shared by the stream API (compress.c, decompress.c, list.c, raw.c): a buffered
 * reader over the caller's lac_read_fn that counts consumed bytes (for offsets in messages),
 * a counting writer over lac_write_fn, and a growable byte buffer. No format knowledge. */
#ifndef LAC_CODER_IO_H
#define LAC_CODER_IO_H
#include <stddef.h>
#include <stdint.h>

#include "lac.h"

typedef struct lacio_writer {
    lac_write_fn wr; /* NULL: test mode, discard */
    void *ctx;
    uint64_t n; /* bytes written so far */
} lacio_writer;

lac_status lacio_put(lacio_writer *w, const void *data, size_t n, lac_error *err);

#define LACIO_BUF 65536u
typedef struct lacio_reader {
    lac_read_fn rd;
    void *ctx;
    uint64_t n;  /* bytes consumed by the parser so far (its offset in the input) */
    uint8_t *buf; /* read-ahead of LACIO_BUF bytes, NULL: unbuffered */
    size_t pos, len;
    int eof;
} lacio_reader;

/* Sets up r; buffered when the allocation succeeds (unbuffered otherwise, still correct). */
void lacio_reader_init(lacio_reader *r, lac_read_fn rd, void *ctx);
void lacio_reader_free(lacio_reader *r);
/* Reads up to n bytes, stopping only at end of input; *got = bytes read. */
lac_status lacio_get(lacio_reader *r, void *buf, size_t n, size_t *got, lac_error *err);
/* Exactly n bytes of a record called `what`, else LAC_ERR_TRUNCATED naming it and its offset. */
lac_status lacio_get_exact(lacio_reader *r, void *buf, size_t n, const char *what,
                           lac_error *err);
/* Skips n bytes of `what` (listing). */
lac_status lacio_skip(lacio_reader *r, uint64_t n, const char *what, lac_error *err);
/* 1 when the input has no byte left (may read ahead). */
int lacio_at_end(lacio_reader *r, lac_error *err, lac_status *s);

typedef struct lacio_bytes {
    uint8_t *p;
    size_t n, cap;
} lacio_bytes;

lac_status lacio_reserve(lacio_bytes *b, size_t need, lac_error *err);
/* Free room at the end of b for the next read (*room > 0 unless an error): b grows, by at
 * least step bytes, only when it is full, so that reading a short input allocates one buffer
 * and copies nothing (growing by step before every read doubled and copied a 64 KiB buffer
 * for any input). */
lac_status lacio_room(lacio_bytes *b, size_t step, size_t *room, lac_error *err);
lac_status lacio_add(lacio_bytes *b, const void *d, size_t n, lac_error *err);
void lacio_bytes_free(lacio_bytes *b);

/* Seconds on a monotonic clock. */
double lacio_now(void);
/* The first 16 hex digits of a hash (n >= 8 bytes) into out[17]. */
void lacio_hash_prefix(const uint8_t *h, size_t n, char out[17]);
#endif
