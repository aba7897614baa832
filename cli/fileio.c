/* lacgpu's file handling: one input at a time, from opening it to removing it (--rm).
 *
 * Safety rules (README "Data safety"): a named input must be a regular file; an output is
 * written to a temporary file next to its final name, fsynced, given the input's mode, owner
 * and times, and renamed; -o onto an existing non-regular file (a device, a FIFO) writes into
 * it; nothing is replaced without -f, and nothing that is not a regular file is ever replaced
 * or removed; --rm removes an input only after its output is complete and on disk. */
#define _GNU_SOURCE /* renameat2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum out_kind { OUT_NONE, OUT_STDOUT, OUT_TEMP, OUT_DIRECT };

typedef struct output {
    enum out_kind kind;
    int fd;
    char path[PATH_MAX];      /* final name (OUT_TEMP, OUT_DIRECT) */
    char tmp[PATH_MAX + 32];  /* OUT_TEMP: the temporary file */
    uint64_t written;         /* bytes handed to write(2) */
    int epipe;                /* stdout's reader went away */
    size_t used;
    unsigned char buf[1 << 16];
} output;

typedef struct totals {
    uint64_t packed, plain, blocks, stored, tokens;
    int files, header; /* files listed; the column header was printed */
    int tokens_open;   /* some file's token count is only a lower bound */
} totals;

typedef struct ctx {
    options *o;
    lac_model *model;
    mode_t umask;
    totals list;
    int usage_error;  /* an option the model rules out: stop, exit 2 */
    int model_failed; /* the model did not load: stop (one message, not one a file) */
    output out; /* one at a time; big, so not on the stack */
} ctx;

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a > b && !strcmp(s + a - b, suf);
}

static int is_stdin_name(const char *s) { return !s || !strcmp(s, "-"); }

/* ---- byte moving ---- */
static long read_fd(void *ctx, void *buf, size_t n) {
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t k = read(fd, buf, n);
        if (k >= 0) return (long)k;
        if (errno == EINTR && !g_interrupt) continue;
        return -1;
    }
}

static int out_flush(output *w) {
    size_t k = 0;
    while (k < w->used) {
        ssize_t m = write(w->fd, w->buf + k, w->used - k);
        if (m < 0 && errno == EINTR && !g_interrupt) continue;
        if (m < 0) {
            if (errno == EPIPE && w->kind != OUT_TEMP) w->epipe = 1;
            return -1;
        }
        k += (size_t)m;
        w->written += (uint64_t)m;
    }
    w->used = 0;
    return 0;
}

static int out_write(void *ctx, const void *buf, size_t n) {
    output *w = ctx;
    if (g_interrupt) {
        errno = EINTR;
        return -1;
    }
    const unsigned char *p = buf;
    while (n) {
        size_t k = sizeof w->buf - w->used < n ? sizeof w->buf - w->used : n;
        memcpy(w->buf + w->used, p, k);
        w->used += k, p += k, n -= k;
        if (w->used == sizeof w->buf && out_flush(w)) return -1;
    }
    return 0;
}

/* ---- the model (loaded at the first file that needs it) ---- */
static int load_model(ctx *c) {
    if (c->model) return 0;
    lac_error err;
    if (lac_model_open(c->o->model_path, &c->model, &err)) {
        errmsg(NULL, "%s", err.msg); /* the message names the model file */
        c->model_failed = 1;
        return -1;
    }
    const uint32_t bt = c->o->params.block_tokens, ctxlen = lac_model_get_config(c->model)->n_ctx;
    if (bt > ctxlen && (c->o->mode == MODE_COMPRESS || c->o->params.raw)) {
        errmsg(NULL, "--block-tokens: %u is more than the model's context of %u tokens", bt,
               ctxlen);
        c->usage_error = 1;
        return -1;
    }
    /* without --streams the library chooses B for the device, its memory and the direction
     * (n_streams 0: lac_engine_auto_streams) */
    return 0;
}

/* ---- the input ---- */
/* Opens a named input (a regular file) or takes stdin; -1 after a message. */
static int open_input(const options *o, const char *name, int *fd, struct stat *st) {
    memset(st, 0, sizeof *st);
    if (is_stdin_name(name)) {
        *fd = STDIN_FILENO;
        if (isatty(STDIN_FILENO) && !o->force) {
            if (o->mode == MODE_COMPRESS)
                errmsg("(stdin)", "stdin is a terminal, aborting (give a FILE, a redirection, "
                                  "or -f to compress what is typed)");
            else
                errmsg("(stdin)", "refusing to read compressed data from a terminal (use -f)");
            return -1;
        }
        if (fstat(STDIN_FILENO, st) != 0) memset(st, 0, sizeof *st);
        return 0;
    }
    *fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (*fd < 0) {
        errmsg(name, "%s", strerror(errno));
        return -1;
    }
    const char *why = NULL;
    if (fstat(*fd, st) != 0) why = strerror(errno);
    else if (S_ISDIR(st->st_mode)) why = "is a directory (use -r to go into it)";
    else if (!S_ISREG(st->st_mode))
        why = "not a regular file (a device, FIFO or socket): refused; use < NAME to read it";
    if (!why) { /* O_NONBLOCK was only there so that opening a FIFO cannot hang */
        int fl = fcntl(*fd, F_GETFL);
        if (fl < 0 || fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK) < 0) why = strerror(errno);
    }
    if (why) {
        errmsg(name, "%s", why);
        close(*fd);
        return -1;
    }
    return 0;
}

static void close_input(const char *name, int fd) {
    if (!is_stdin_name(name)) close(fd);
}

/* ---- the output ---- */
/* FILE.lacz for compression, FILE without .lacz for decompression. */
static int derive_name(enum mode mode, const char *in, char *out, size_t n) {
    if (mode == MODE_COMPRESS) {
        if (has_suffix(in, SUFFIX)) {
            errmsg(in, "already has the %s suffix (use -o or --stdout)", SUFFIX);
            return -1;
        }
        if (snprintf(out, n, "%s%s", in, SUFFIX) < (int)n) return 0;
    } else {
        if (!has_suffix(in, SUFFIX)) {
            errmsg(in, "unknown suffix, expected %s (use -o or --stdout)", SUFFIX);
            return -1;
        }
        if (snprintf(out, n, "%.*s", (int)(strlen(in) - strlen(SUFFIX)), in) < (int)n) return 0;
    }
    errmsg(in, "output name too long");
    return -1;
}

/* Decides how the output is written (OUT_TEMP or OUT_DIRECT) from what exists at its name. */
static int choose_output(const options *o, const char *shown, const struct stat *in_st,
                         int from_stdin, output *w) {
    struct stat st;
    w->kind = OUT_TEMP;
    if (stat(w->path, &st) != 0) {
        /* a symbolic link to nothing is still a name that exists (xz, gzip) */
        if (lstat(w->path, &st) == 0 && !o->force) {
            errmsg(w->path, "already exists (a symbolic link to nothing; use -f to overwrite)");
            return -1;
        }
        return 0;
    }
    if (!from_stdin && st.st_dev == in_st->st_dev && st.st_ino == in_st->st_ino) {
        errmsg(shown, "input and output are the same file");
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        errmsg(w->path, "is a directory");
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        if (o->output) { /* -o DEVICE/FIFO: write into it, never replace it */
            w->kind = OUT_DIRECT;
            return 0;
        }
        errmsg(w->path, "exists and is not a regular file: not replaced");
        return -1;
    }
    if (!o->force) {
        errmsg(w->path, "already exists (use -f to overwrite)");
        return -1;
    }
    return 0;
}

/* The temporary file's name: PATH.lacgpu-XXXXXX beside the output, with its last component cut
 * short enough for NAME_MAX (else an output name of over 241 bytes could not be written). */
static void temp_name(const char *path, char *tmp, size_t n) {
    static const char tail[] = ".lacgpu-XXXXXX";
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t len = strlen(base);
    if (len > NAME_MAX - (sizeof tail - 1)) len = NAME_MAX - (sizeof tail - 1);
    snprintf(tmp, n, "%.*s%.*s%s", (int)(base - path), path, (int)len, base, tail);
}

/* rename(2) that never replaces an existing name (without -f an output that appeared while
 * lacgpu ran, say a parallel worker's, is kept): -1 with errno EEXIST when it exists. */
static int rename_noreplace(const char *from, const char *to) {
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -1;
    /* a file system without RENAME_NOREPLACE: link(2) never replaces either */
    if (link(from, to) == 0) return unlink(from), 0;
    if (errno == EEXIST) return -1;
    /* nor hard links (FAT): look, then rename (the window between is left open) */
    struct stat st;
    if (lstat(to, &st) == 0) return errno = EEXIST, -1;
    return rename(from, to);
}

static int open_output(output *w) {
    w->used = 0;
    w->written = 0;
    w->epipe = 0;
    if (w->kind == OUT_STDOUT) {
        w->fd = STDOUT_FILENO;
        return 0;
    }
    if (w->kind == OUT_DIRECT) {
        w->fd = open(w->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (w->fd < 0) errmsg(w->path, "%s", strerror(errno));
        return w->fd < 0 ? -1 : 0;
    }
    temp_name(w->path, w->tmp, sizeof w->tmp);
    w->fd = signals_mkstemp(w->tmp);
    if (w->fd < 0) {
        errmsg(w->path, "cannot create a temporary file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The input's owner (as root; else only its group, when allowed), mode and times. */
static void copy_metadata(int fd, const struct stat *in_st, int from_stdin, mode_t um) {
    if (from_stdin || !S_ISREG(in_st->st_mode)) {
        (void)fchmod(fd, 0644 & ~um);
        return;
    }
    mode_t mode = in_st->st_mode & 0777;
    if (fchown(fd, geteuid() == 0 ? in_st->st_uid : (uid_t)-1, in_st->st_gid) != 0)
        mode &= ~(mode_t)070 | ((mode & 07) << 3); /* group not ours: no more than others */
    (void)fchmod(fd, mode);
    struct timespec ts[2] = {in_st->st_atim, in_st->st_mtim};
    (void)futimens(fd, ts);
}

static void fsync_dir(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Finishes the output: ok -> flushed, synced, metadata, renamed; else the temp file is removed.
 * Returns 0 when the output is complete. */
static int finish_output(ctx *c, output *w, int ok, const struct stat *in_st, int from_stdin) {
    if (w->kind == OUT_NONE) return ok ? 0 : -1;
    const char *name = w->kind == OUT_STDOUT ? "(stdout)" : w->path;
    if (ok && out_flush(w) != 0) {
        if (!w->epipe) errmsg(name, "write failed: %s", strerror(errno));
        ok = 0;
    }
    if (w->kind == OUT_STDOUT) return ok ? 0 : -1;
    if (ok && w->kind == OUT_TEMP) {
        copy_metadata(w->fd, in_st, from_stdin, c->umask);
        if (fsync(w->fd) != 0) {
            errmsg(name, "write failed: %s", strerror(errno));
            ok = 0;
        }
    }
    if (close(w->fd) != 0 && ok) {
        errmsg(name, "write failed: %s", strerror(errno));
        ok = 0;
    }
    if (w->kind == OUT_TEMP) {
        const int moved = !ok ? -1
                          : c->o->force ? rename(w->tmp, w->path)
                                        : rename_noreplace(w->tmp, w->path);
        if (ok && moved != 0) {
            if (errno == EEXIST)
                errmsg(name, "appeared while lacgpu ran: not overwritten (use -f)");
            else
                errmsg(name, "cannot rename the temporary file: %s", strerror(errno));
            ok = 0;
        }
        if (ok) fsync_dir(w->path);
        else unlink(w->tmp);
        signals_set_temp(NULL);
    }
    return ok ? 0 : -1;
}

/* ---- -l ---- */
/* One line: how many blocks and bytes went to each method (-v, -l -v). A v2 listing knows no
 * plaintext length for model blocks: only their payload is shown. */
static void print_methods(FILE *f, const char *name, const uint64_t *blocks,
                          const uint64_t *plain, const uint64_t *packed, int plain_known) {
    fprintf(f, "%s%smethods:", name, name[0] == ' ' ? " " : ": ");
    const char *sep = " ";
    for (int m = 0; m < LAC_METHODS; m++) {
        if (!blocks[m]) continue;
        if (plain_known || plain[m])
            fprintf(f, "%s%s %llu block%s, %llu -> %llu bytes", sep, lac_method_name(m),
                    (unsigned long long)blocks[m], blocks[m] == 1 ? "" : "s",
                    (unsigned long long)plain[m], (unsigned long long)packed[m]);
        else
            fprintf(f, "%s%s %llu block%s, %llu bytes", sep, lac_method_name(m),
                    (unsigned long long)blocks[m], blocks[m] == 1 ? "" : "s",
                    (unsigned long long)packed[m]);
        sep = "; ";
    }
    fprintf(f, "%s\n", *sep == ' ' ? " none" : "");
}

/* tokens_open: the count is a lower bound, shown as >=N (v2 records no token count for a
 * partial model block: only decoding tells; each holds at least one) */
static void print_list_row(const char *name, uint64_t packed, uint64_t plain, uint64_t blocks,
                           uint64_t stored, uint64_t tokens, int tokens_open, const char *model) {
    double ratio = packed ? (double)plain / (double)packed : 0;
    double bpb = plain ? 8.0 * (double)packed / (double)plain : 0;
    char tok[32];
    snprintf(tok, sizeof tok, "%s%llu", tokens_open ? ">=" : "", (unsigned long long)tokens);
    printf("%12llu %12llu %7.3f %9.4f %8llu %7llu %9s  %-24s %s\n", (unsigned long long)packed,
           (unsigned long long)plain, ratio, bpb, (unsigned long long)blocks,
           (unsigned long long)stored, tok, model, name);
}

/* others: streams that name another model than the first (the column then says so) */
static void list_one(ctx *c, const char *shown, const lac_file_info *fi, uint64_t open_blocks,
                     int others) {
    c->list.files++;
    if (!c->list.header++)
        printf("%12s %12s %7s %9s %8s %7s %9s  %-24s %s\n", "compressed", "uncompressed",
               "ratio", "bits/byte", "blocks", "stored", "tokens", "model", "file");
    char hex[65], model[128];
    lac_hash_hex(fi->model_hash, hex);
    hex[fi->model_hash_len < 6 ? 2 * fi->model_hash_len : 12] = '\0'; /* v2 records 6 bytes */
    if (fi->model_name[0]) snprintf(model, sizeof model, "%.63s (%.8s)", fi->model_name, hex);
    else snprintf(model, sizeof model, "%s", hex);
    if (others) /* -l -v names each stream's */
        snprintf(model + strlen(model), sizeof model - strlen(model),
                 " +%d stream%s of other models", others, others == 1 ? "" : "s");
    print_list_row(shown, fi->packed_bytes, fi->plain_bytes, fi->blocks, fi->stored_blocks,
                   fi->tokens + open_blocks, open_blocks > 0, model);
    if (c->o->verbose)
        printf("    format %u, numerics %u, %d stream%s, %u tokens per block, %llu coded + "
               "%llu stored blocks, precision %u, frac_bits %u, temperature %g, model %s\n",
               fi->format_version, fi->numerics_version, fi->streams, fi->streams == 1 ? "" : "s",
               fi->block_tokens, (unsigned long long)(fi->blocks - fi->stored_blocks),
               (unsigned long long)fi->stored_blocks, fi->coder.precision, fi->coder.frac_bits,
               (double)fi->coder.temperature, hex);
    if (c->o->verbose)
        print_methods(stdout, "   ", fi->method_blocks, fi->method_plain, fi->method_packed,
                      fi->format_version == 1);
    totals *t = &c->list;
    t->packed += fi->packed_bytes, t->plain += fi->plain_bytes, t->blocks += fi->blocks;
    t->stored += fi->stored_blocks, t->tokens += fi->tokens + open_blocks;
    t->tokens_open |= open_blocks > 0;
}

/* -l: counts the model blocks whose tokens only decoding tells; -l -v: one line per block */
typedef struct block_lister {
    int verbose;
    uint64_t open_blocks;
    int models;             /* streams naming another model than the first */
    uint8_t first_hash[32]; /* the first stream's model */
} block_lister;

static void print_block(void *ctx, const lac_block_info *b) {
    block_lister *bl = ctx;
    if (b->method == LAC_METHOD_MODEL && !b->n_tokens) bl->open_blocks++;
    if (!bl->verbose) return;
    char tok[24] = "", plain[24] = "";
    if (b->n_tokens) snprintf(tok, sizeof tok, ", %u tokens", b->n_tokens);
    if (b->plain_len) snprintf(plain, sizeof plain, "%u -> ", b->plain_len);
    printf("    stream %llu block %llu at %llu: %s, %s%u bytes%s\n", (unsigned long long)b->stream,
           (unsigned long long)b->index, (unsigned long long)b->offset,
           lac_method_name(b->method), plain, b->packed_len, tok);
}

/* -l: notes streams of other models than the first's (concatenated files); -l -v: one line per
 * stream, after its blocks, with its model */
static void print_stream(void *ctx, const lac_stream_info *s) {
    block_lister *bl = ctx;
    const size_t n = s->model_hash_len < 32 ? (size_t)s->model_hash_len : 32;
    if (s->index == 0) memcpy(bl->first_hash, s->model_hash, n);
    else bl->models += memcmp(bl->first_hash, s->model_hash, n) != 0;
    if (!bl->verbose) return;
    char hex[65];
    lac_hash_hex(s->model_hash, hex);
    hex[2 * n < 12 ? 2 * n : 12] = '\0';
    printf("    stream %llu at %llu: %llu bytes, %llu bytes of plaintext, %llu block%s, model %s\n",
           (unsigned long long)s->index, (unsigned long long)s->offset,
           (unsigned long long)s->packed_len, (unsigned long long)s->plain_bytes,
           (unsigned long long)s->blocks, s->blocks == 1 ? "" : "s", hex);
}

static int list_file(ctx *c, const char *shown, int fd) {
    lac_file_info fi;
    lac_error err;
    if (c->o->verbose && !c->list.header++) /* the column header first */
        printf("%12s %12s %7s %9s %8s %7s %9s  %-24s %s\n", "compressed", "uncompressed",
               "ratio", "bits/byte", "blocks", "stored", "tokens", "model", "file");
    const int v = c->o->verbose;
    block_lister bl = {v, 0, 0, {0}};
    if (lac_list_streams(read_fd, &fd, print_block, print_stream, &bl, &fi, &err)) {
        errmsg(shown, "%s", err.msg);
        return -1;
    }
    list_one(c, shown, &fi, bl.open_blocks, bl.models);
    return 0;
}

/* ---- -c, -d, -t ---- */
static void print_verbose(const char *shown, enum mode mode, const lac_stats *st) {
    double bpb = st->plain_bytes ? 8.0 * (double)st->packed_bytes / (double)st->plain_bytes : 0;
    double ratio = st->packed_bytes ? (double)st->plain_bytes / (double)st->packed_bytes : 0;
    double tps = st->seconds > 0 ? (double)st->tokens / st->seconds : 0;
    fprintf(stderr,
            "%s: %llu -> %llu bytes, ratio %.3f, %.4f bits/byte, %llu tokens, %llu blocks "
            "(%llu stored), %.2f s, %.0f tokens/s%s%s%s\n",
            shown, (unsigned long long)st->in_bytes, (unsigned long long)st->out_bytes, ratio, bpb,
            (unsigned long long)st->tokens, (unsigned long long)st->blocks,
            (unsigned long long)st->stored_blocks, st->seconds, tps, st->device[0] ? ", " : "",
            st->device, mode == MODE_TEST ? ", OK" : "");
    print_methods(stderr, shown, st->method_blocks, st->method_plain, st->method_packed, 1);
}

/* --salvage: one line per skipped block (ctx: the input's name). "at byte N of the output" is
 * where the bytes are missing in what was written; "[a, b)" the range in the original, when
 * every earlier block's length is known. */
static void on_damage(void *ctx, const lac_damage *d) {
    char where[96], blk[192];
    if (d->plain_offset == UINT64_MAX)
        snprintf(where, sizeof where, "at byte %llu of the output",
                 (unsigned long long)d->out_offset);
    else
        snprintf(where, sizeof where, "from byte %llu", (unsigned long long)d->plain_offset);
    snprintf(blk, sizeof blk, "damaged block %llu of stream %llu (file offset %llu)",
             (unsigned long long)d->block, (unsigned long long)d->stream,
             (unsigned long long)d->file_offset);
    if (d->plain_len == UINT64_MAX) { /* docs/FORMAT.md, "Salvage" */
        char total[64] = "an unknown number of bytes (the stream's footer is lost)";
        if (d->unknown_len != UINT64_MAX)
            snprintf(total, sizeof total, "%llu bytes", (unsigned long long)d->unknown_len);
        errmsg((const char *)ctx,
               "%s skipped: its plaintext %s is missing, length unknown (the format records "
               "none): the stream's %llu damaged blocks of unknown length miss %s together",
               blk, where, (unsigned long long)d->unknown_blocks, total);
        return;
    }
    if (d->plain_offset == UINT64_MAX) {
        errmsg((const char *)ctx,
               "%s skipped: %llu plaintext bytes %s are missing (where they start in the "
               "original is unknown: an earlier damaged block's length is)",
               blk, (unsigned long long)d->plain_len, where);
        return;
    }
    errmsg((const char *)ctx,
           "%s skipped: plaintext bytes [%llu, %llu) (%llu bytes) are missing from the output",
           blk, (unsigned long long)d->plain_offset,
           (unsigned long long)(d->plain_offset + d->plain_len), (unsigned long long)d->plain_len);
}

/* --salvage after an error in the input: the output is kept (*kept = 1) when it holds anything
 * intact: skipped damaged blocks, the prefix before a cut, the streams before trailing data or
 * a stream this build or model cannot read. Nothing intact (not a .lacz at all, the wrong
 * model from the start): no output. */
static void salvage_verdict(const char *shown, lac_status s, const lac_stats *st,
                            const output *w, int *kept) {
    const uint64_t out = w->written + w->used;
    const int input_fault = s == LAC_ERR_CORRUPT || s == LAC_ERR_TRUNCATED ||
                            s == LAC_ERR_FORMAT || s == LAC_ERR_VERSION ||
                            s == LAC_ERR_MODEL_MISMATCH;
    if (!input_fault || (st->blocks <= st->damaged_blocks && !out)) {
        if (input_fault) errmsg(shown, "salvage: nothing intact to write");
        return;
    }
    *kept = 1;
    if (s == LAC_ERR_TRUNCATED)
        errmsg(shown, "salvage: the output holds the intact prefix, %llu bytes, and stops where "
                      "the input is cut", (unsigned long long)out);
    else if (!st->damaged_blocks) /* (each damaged one was reported as it was skipped) */
        errmsg(shown, "salvage: the output holds the %llu intact bytes before that point",
               (unsigned long long)out);
}

/* Runs liblac on one input; returns its status, *kept = 1 when a damaged input's intact part
 * is to be kept (--salvage). */
static lac_status run_codec(ctx *c, const char *shown, lac_read_fn rd, void *rctx,
                            uint64_t total, output *w, lac_stats *st, int *kept) {
    options *o = c->o;
    lac_params prm = o->params;
    progress *pr = o->quiet ? NULL : progress_start(shown, total, o->mode != MODE_COMPRESS);
    if (pr) prm.progress = progress_update, prm.progress_ctx = pr;
    prm.interrupt = &g_interrupt;
    prm.salvage = o->salvage;
    if (o->salvage) prm.damage = on_damage, prm.damage_ctx = (void *)shown;
    lac_error err;
    lac_error_clear(&err);
    memset(st, 0, sizeof *st);
    lac_write_fn wr = w->kind == OUT_NONE ? NULL : out_write;
    lac_status s = o->mode == MODE_COMPRESS
                       ? lac_compress(c->model, &prm, rd, rctx, wr, w, st, &err)
                       : lac_decompress(c->model, &prm, rd, rctx, wr, w, st, &err);
    progress_stop(pr);
    *kept = 0;
    if (s == LAC_OK) return s;
    if (s == LAC_ERR_INTERRUPTED || g_signal) {
        errmsg(shown, "interrupted");
        return LAC_ERR_INTERRUPTED;
    }
    if (w->epipe) return s; /* quiet: the reader went away */
    const char *where = !strncmp(err.msg, "output:", 7)
                            ? (w->kind == OUT_STDOUT ? "(stdout)" : w->path) : shown;
    errmsg(where, "%s", err.msg);
    if (o->salvage && w->kind != OUT_NONE) salvage_verdict(shown, s, st, w, kept);
    return s;
}

/* --rm: only a regular file, only once its output is complete and on disk */
static int remove_input(const char *name, const struct stat *st) {
    struct stat now;
    if (lstat(name, &now) != 0 || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino ||
        now.st_dev != st->st_dev) {
        errmsg(name, "not removed: it is no longer the regular file that was read");
        return -1;
    }
    if (unlink(name) != 0) {
        errmsg(name, "cannot remove: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Sets up w for one input; -1 after a message. */
static int plan_output(ctx *c, const char *name, const char *shown, const struct stat *in_st,
                       output *w) {
    options *o = c->o;
    int from_stdin = is_stdin_name(name);
    if (o->mode == MODE_TEST) {
        w->kind = OUT_NONE;
        return 0;
    }
    if (o->to_stdout || (from_stdin && !o->output)) {
        w->kind = OUT_STDOUT;
    } else {
        if (o->output) snprintf(w->path, sizeof w->path, "%s", o->output);
        else if (derive_name(o->mode, name, w->path, sizeof w->path)) return -1;
        if (choose_output(o, shown, in_st, from_stdin, w)) return -1;
    }
    if (open_output(w)) return -1;
    if (o->mode == MODE_COMPRESS && !o->force && isatty(w->fd)) {
        errmsg(shown, "refusing to write compressed data to a terminal (use -o, a redirection "
                      "or -f)");
        if (w->kind == OUT_DIRECT) close(w->fd);
        return -1;
    }
    return 0;
}

/* One input (NULL or "-": stdin). Returns 0, or -1 after a message. */
static int process(ctx *c, const char *name) {
    options *o = c->o;
    const int from_stdin = is_stdin_name(name);
    const char *shown = from_stdin ? "(stdin)" : name;
    int fd;
    struct stat in_st;
    if (open_input(o, name, &fd, &in_st)) return -1;
    if (o->mode == MODE_LIST) {
        int rc = list_file(c, shown, fd);
        close_input(name, fd);
        return rc;
    }
    struct stat ln;
    if (o->rm_input && !from_stdin && !o->to_stdout && o->mode != MODE_TEST &&
        lstat(name, &ln) == 0 && S_ISLNK(ln.st_mode)) {
        errmsg(name, "is a symbolic link: --rm removes only regular files, so it is skipped "
                     "(use -k)");
        close_input(name, fd);
        return -1;
    }
    output *w = &c->out;
    chunk_reader piece;
    if ((o->chunk_n && chunk_open(o, shown, fd, &in_st, &piece)) || load_model(c) ||
        plan_output(c, name, shown, &in_st, w)) {
        close_input(name, fd);
        return -1;
    }
    lac_stats st;
    int kept;
    uint64_t total = S_ISREG(in_st.st_mode) ? (uint64_t)in_st.st_size : 0;
    if (o->chunk_n) total = piece.end - piece.begin;
    lac_status s = o->chunk_n ? run_codec(c, shown, chunk_read, &piece, total, w, &st, &kept)
                              : run_codec(c, shown, read_fd, &fd, total, w, &st, &kept);
    close_input(name, fd);
    int done = finish_output(c, w, s == LAC_OK || kept, &in_st, from_stdin) == 0;
    if (w->epipe) signals_die_epipe();
    if (s != LAC_OK || !done) return -1;
    if (o->verbose) print_verbose(shown, o->mode, &st);
    if (o->rm_input && w->kind == OUT_TEMP && !from_stdin) return remove_input(name, &in_st);
    return 0;
}

/* ---- -r ---- */
static int process_tree(ctx *c, const char *dir);

/* An entry met while walking: directories are entered, regular files with the right suffix
 * processed, everything else (links, devices) skipped. */
static int walk_entry(ctx *c, const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        errmsg(path, "%s", strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) return process_tree(c, path);
    if (!S_ISREG(st.st_mode)) return 0;
    int lacz = has_suffix(path, SUFFIX);
    if (c->o->mode == MODE_COMPRESS ? lacz : !lacz) return 0;
    return process(c, path);
}

static int process_tree(ctx *c, const char *dir) {
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0) {
        errmsg(dir, "%s", strerror(errno));
        return -1;
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        const char *e = ents[i]->d_name;
        if (!g_signal && strcmp(e, ".") && strcmp(e, "..")) {
            char path[PATH_MAX];
            size_t dl = strlen(dir);
            int sep = dl && dir[dl - 1] != '/';
            if (snprintf(path, sizeof path, "%s%s%s", dir, sep ? "/" : "", e) >= (int)sizeof path) {
                errmsg(dir, "%s: path too long", e);
                failed = 1;
            } else {
                failed |= walk_entry(c, path) != 0;
            }
        }
        free(ents[i]);
    }
    free(ents);
    return failed ? -1 : 0;
}

static int process_arg(ctx *c, const char *name) {
    struct stat st;
    if (c->o->recursive && !is_stdin_name(name) && stat(name, &st) == 0 && S_ISDIR(st.st_mode))
        return process_tree(c, name);
    return process(c, name);
}

int stdout_close(void) {
    errno = 0;
    const int flushed = fflush(stdout) == 0;
    if (flushed && !ferror(stdout)) return 0;
    const int e = !flushed && errno ? errno : EIO; /* an earlier printf's errno is gone */
    if (e == EPIPE) signals_die_epipe();
    errmsg("(stdout)", "write failed: %s", strerror(e));
    return -1;
}

int fileio_run(options *o, int nfiles, char **files) {
    static ctx c; /* holds the 64 KiB output buffer */
    memset(&c, 0, sizeof c);
    c.o = o;
    c.umask = umask(0);
    umask(c.umask);
    int failed = 0;
    if (nfiles == 0) failed |= process(&c, NULL) != 0;
    for (int i = 0; i < nfiles && !g_signal && !c.usage_error && !c.model_failed; i++)
        failed |= process_arg(&c, files[i]) != 0;
    if (c.list.files > 1) {
        char model[32];
        snprintf(model, sizeof model, "(%d files)", c.list.files);
        print_list_row("(total)", c.list.packed, c.list.plain, c.list.blocks, c.list.stored,
                       c.list.tokens, c.list.tokens_open, model);
    }
    if (c.model) lac_model_close(c.model);
    signals_reraise();
    failed |= stdout_close() != 0;
    return c.usage_error ? EXIT_USAGE : failed ? EXIT_ERR : EXIT_OK;
}
