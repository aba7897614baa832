/* --chunk K/N: the byte range of the input that this worker reads (liblac chooses it:
 * lac_chunk_range for compression, lac_chunk_streams for decoding) and a reader confined to
 * it. The input must be seekable: every worker reads its own piece of the same file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "cli.h"

static long pread_fd(void *ctx, void *buf, size_t n, uint64_t off) {
    const chunk_reader *r = ctx;
    for (;;) {
        ssize_t k = pread(r->fd, buf, n, (off_t)off);
        if (k >= 0) return (long)k;
        if (errno == EINTR && !g_interrupt) continue;
        return -1;
    }
}

/* sequential reads from offset 0, for lac_chunk_streams */
static long read_seq(void *ctx, void *buf, size_t n) {
    chunk_reader *r = ctx;
    long k = pread_fd(r, buf, n, r->pos);
    if (k > 0) r->pos += (uint64_t)k;
    return k;
}

long chunk_read(void *ctx, void *buf, size_t n) {
    chunk_reader *r = ctx;
    if (r->pos >= r->end) return 0;
    if ((uint64_t)n > r->end - r->pos) n = (size_t)(r->end - r->pos);
    long k = pread_fd(r, buf, n, r->pos);
    if (k > 0) r->pos += (uint64_t)k;
    return k;
}

int chunk_open(const options *o, const char *shown, int fd, const struct stat *st,
               chunk_reader *r) {
    memset(r, 0, sizeof *r);
    r->fd = fd;
    if (!S_ISREG(st->st_mode) || lseek(fd, 0, SEEK_CUR) < 0) {
        errmsg(shown, "--chunk needs a seekable input (a regular file): every worker reads "
                      "its own piece of it");
        return -1;
    }
    lac_error err;
    lac_status s;
    if (o->mode == MODE_COMPRESS)
        s = lac_chunk_range(pread_fd, r, (uint64_t)st->st_size, o->chunk_k, o->chunk_n,
                            &r->begin, &r->end, &err);
    else
        s = lac_chunk_streams(read_seq, r, o->chunk_k, o->chunk_n, &r->begin, &r->end, &err);
    if (s) {
        errmsg(shown, "--chunk %d/%d: %s", o->chunk_k, o->chunk_n, err.msg);
        return -1;
    }
    r->pos = r->begin;
    return 0;
}
