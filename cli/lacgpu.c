/* lacgpu: the command-line compressor. Argument parsing, file handling and byte moving only;
 * all compression work is done by liblac (include/lac.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lac.h"

#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2
#define SUFFIX ".lacz"
#define DEFAULT_MODEL "lac-tiny"

enum mode { MODE_NONE, MODE_COMPRESS, MODE_DECOMPRESS, MODE_TEST, MODE_LIST };

typedef struct options {
    enum mode mode;
    const char *output;
    int to_stdout, force, rm_input, verbose, quiet, salvage;
    const char *model;
    lac_params params;
} options;

/* ---- signals: a flag the library polls, and the temp file to remove ---- */
static volatile sig_atomic_t g_signal;
static volatile int g_interrupt;
static char g_tmp_path[PATH_MAX + 32];

static void on_signal(int sig) {
    if (g_signal) { /* second signal: give up at once, leaving nothing behind */
        if (g_tmp_path[0]) unlink(g_tmp_path);
        _exit(EXIT_ERR);
    }
    g_signal = sig;
    g_interrupt = 1;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is a write error, reported like any other */
}

/* ---- messages ---- */
static void errmsg(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errmsg(const char *file, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lacgpu: ");
    if (file) fprintf(stderr, "%s: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* --salvage: one line per skipped block (ctx: the input's name) */
static void on_damage(void *ctx, const lac_damage *d) {
    if (d->plain_len == UINT64_MAX) { /* one of several damaged block headers */
        errmsg((const char *)ctx,
               "damaged block header %llu of stream %llu (file offset %llu) skipped: plaintext "
               "from byte %llu on is missing (length unknown)",
               (unsigned long long)d->block, (unsigned long long)d->stream,
               (unsigned long long)d->file_offset, (unsigned long long)d->plain_offset);
        return;
    }
    errmsg((const char *)ctx,
           "damaged block %llu of stream %llu (file offset %llu) skipped: plaintext bytes "
           "[%llu, %llu) (%llu bytes) are missing from the output",
           (unsigned long long)d->block, (unsigned long long)d->stream,
           (unsigned long long)d->file_offset, (unsigned long long)d->plain_offset,
           (unsigned long long)(d->plain_offset + d->plain_len),
           (unsigned long long)d->plain_len);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: lacgpu [MODE] [OPTIONS] [FILE...]\n"
            "Lossless text compression with a GPT-2 language model (.lacz files).\n"
            "\n"
            "Modes (default -c):\n"
            "  -c, --compress        compress FILE to FILE.lacz\n"
            "  -d, --decompress      decompress FILE.lacz to FILE\n"
            "  -t, --test            decode and verify, write nothing\n"
            "  -l, --list            show model, sizes, ratio, bits per byte, blocks (no decoding)\n"
            "Options:\n"
            "  -o, --output FILE     write to FILE (one input only)\n"
            "      --stdout          write to standard output\n"
            "  -k, --keep            keep the input files (the default)\n"
            "      --rm              delete each input after it was processed successfully\n"
            "  -f, --force           overwrite existing outputs; allow compressed data on a terminal\n"
            "  -m, --model MODEL     model file, or NAME looked up as NAME.lacm in the model dirs\n"
            "      --device DEV      cpu, cpu-scalar, cuda, cuda:N or auto (default auto)\n"
            "      --threads N       CPU threads (0 = all)\n"
            "      --streams N       blocks coded/decoded at once (default: by KV cache memory)\n"
            "      --block-tokens N  tokens per block (default: the model's context)\n"
            "  -T, --temperature T   model temperature (default 1)\n"
            "      --salvage         decompress: write intact blocks, skip damaged ones\n"
            "      --raw             a bare message: no header, no checks (both ways; the\n"
            "                        model and -T must match; nothing is verified)\n"
            "      --check CHECK     compress: end each stream with `short' (32 bits of\n"
            "                        SHA-256, the default) or `sha256' (all of it)\n"
            "  -v, --verbose         ratio, bits per byte, tokens/s and time for each file\n"
            "  -q, --quiet           no progress line, no warnings\n"
            "  -h, --help            this help\n"
            "  -V, --version         versions and build features\n"
            "\n"
            "With no FILE, or when FILE is -, read standard input and write standard output.\n"
            "Outputs are written to a temporary file and renamed on success; an existing output\n"
            "is never overwritten without -f.\n"
            "\n"
            "Environment: LACGPU_MODEL (default -m), LACGPU_DEVICE (default --device),\n"
            "LACGPU_THREADS (default --threads). The default model lac-tiny.lacm is looked up\n"
            "in <exe dir>/../share/lacgpu, %s and %s.\n"
            "\n"
            "Exit status: 0 success, 1 error (bad or damaged input, I/O, model mismatch,\n"
            "interrupted), 2 usage error.\n",
            LAC_MODEL_INSTALL_DIR, LAC_MODEL_BUILD_DIR);
}

static void version(void) {
    printf("lacgpu %s\n", LAC_VERSION_STRING);
    printf(".lacz format version %d, numerics version %d, model format version %d\n",
           LAC_FORMAT_VERSION, LAC_NUMERICS_VERSION, LAC_MODEL_FORMAT_VERSION);
#ifdef LAC_HAVE_CUDA
    printf("CUDA: built\n");
#else
    printf("CUDA: not built\n");
#endif
}

/* ---- argument values ---- */
static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_device(const char *s, lac_engine_options *o) {
    long n;
    if (!strcmp(s, "auto")) o->device = LAC_DEVICE_AUTO;
    else if (!strcmp(s, "cpu")) o->device = LAC_DEVICE_CPU;
    else if (!strcmp(s, "cpu-scalar")) o->device = LAC_DEVICE_CPU_SCALAR;
    else if (!strcmp(s, "cuda")) o->device = LAC_DEVICE_CUDA, o->cuda_index = 0;
    else if (!strncmp(s, "cuda:", 5) && !parse_long(s + 5, 0, 255, &n))
        o->device = LAC_DEVICE_CUDA, o->cuda_index = (int)n;
    else return -1;
    return 0;
}

/* ---- model lookup ---- */
static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Model directories in search order; returns how many were filled. */
static int model_dirs(char dirs[3][PATH_MAX + 32]) {
    int n = 0;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(dirs[n++], sizeof dirs[0], "%s/../share/lacgpu", exe);
        }
    }
    snprintf(dirs[n++], sizeof dirs[0], "%s", LAC_MODEL_INSTALL_DIR);
    snprintf(dirs[n++], sizeof dirs[0], "%s", LAC_MODEL_BUILD_DIR);
    return n;
}

/* Resolves MODEL (a path, or a name) to a file path. */
static int find_model(const char *spec, char *out, size_t outsz) {
    size_t len = strlen(spec);
    int is_path = strchr(spec, '/') || (len > 5 && !strcmp(spec + len - 5, ".lacm"));
    if (is_path || file_exists(spec)) {
        if (!file_exists(spec)) {
            errmsg(spec, "model file not found");
            return -1;
        }
        snprintf(out, outsz, "%s", spec);
        return 0;
    }
    char dirs[3][PATH_MAX + 32];
    int n = model_dirs(dirs);
    for (int i = 0; i < n; i++) {
        if (snprintf(out, outsz, "%s/%s.lacm", dirs[i], spec) >= (int)outsz) continue;
        if (file_exists(out)) return 0;
    }
    errmsg(NULL, "model '%s' not found: no %s.lacm in %s, %s or %s (use -m FILE or LACGPU_MODEL)",
           spec, spec, n > 2 ? dirs[0] : "", dirs[n - 2], dirs[n - 1]);
    return -1;
}

/* ---- byte moving ---- */
typedef struct fd_reader {
    int fd;
} fd_reader;

static long read_fd(void *ctx, void *buf, size_t n) {
    fd_reader *r = ctx;
    for (;;) {
        ssize_t k = read(r->fd, buf, n);
        if (k >= 0) return (long)k;
        if (errno == EINTR && !g_interrupt) continue;
        return -1;
    }
}

static int write_file(void *ctx, const void *buf, size_t n) {
    FILE *f = ctx;
    if (g_interrupt) {
        errno = EINTR;
        return -1;
    }
    return fwrite(buf, 1, n, f) == n ? 0 : -1;
}

/* ---- progress line (stderr is a terminal, work lasts more than a second) ---- */
typedef struct progress {
    double t0, last;
    uint64_t total; /* input size, 0 if unknown */
    int shown;
} progress;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_progress(void *ctx, uint64_t in, uint64_t out) {
    (void)out;
    progress *p = ctx;
    double t = now_s();
    if (t - p->t0 < 1.0 || t - p->last < 0.25) return;
    p->last = t;
    p->shown = 1;
    double mbs = (double)in / 1e6 / (t - p->t0);
    if (p->total) {
        double frac = (double)in / (double)p->total;
        if (frac > 1) frac = 1;
        double eta = frac > 0 ? (t - p->t0) * (1 - frac) / frac : 0;
        fprintf(stderr, "\r%10.2f MB %5.1f%% %8.3f MB/s ETA %d:%02d  ", (double)in / 1e6,
                100 * frac, mbs, (int)eta / 60, (int)eta % 60);
    } else {
        fprintf(stderr, "\r%10.2f MB %8.3f MB/s  ", (double)in / 1e6, mbs);
    }
    fflush(stderr);
}

static void progress_clear(progress *p) {
    if (p->shown) fprintf(stderr, "\r\033[K");
    p->shown = 0;
}

/* ---- one file ---- */
static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a > b && !strcmp(s + a - b, suf);
}

static int is_stdin_name(const char *s) { return !s || !strcmp(s, "-"); }

/* One line: how many blocks and bytes went to each method (lacgpu -v, -l -v). For v2 model
 * blocks the listing knows no plaintext length: only the payload is shown. */
static void print_methods(FILE *f, const char *name, const uint64_t *blocks,
                          const uint64_t *plain, const uint64_t *packed, int plain_known) {
    fprintf(f, "%s: methods:", name);
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

static void print_list(const char *name, const lac_file_info *fi, int header) {
    if (header)
        printf("%12s %12s %7s %9s %8s %7s %9s  %-24s %s\n", "compressed", "uncompressed",
               "ratio", "bits/byte", "blocks", "stored", "tokens", "model", "file");
    char hex[65];
    lac_hash_hex(fi->model_hash, hex);
    hex[fi->model_hash_len < 6 ? 2 * fi->model_hash_len : 12] = '\0';
    char model[128];
    if (fi->model_name[0]) snprintf(model, sizeof model, "%.63s (%.8s)", fi->model_name, hex);
    else snprintf(model, sizeof model, "%s", hex);
    double ratio = fi->packed_bytes ? (double)fi->plain_bytes / (double)fi->packed_bytes : 0;
    double bpb = fi->plain_bytes ? 8.0 * (double)fi->packed_bytes / (double)fi->plain_bytes : 0;
    printf("%12llu %12llu %7.3f %9.4f %8llu %7llu %9llu  %-24s %s\n",
           (unsigned long long)fi->packed_bytes, (unsigned long long)fi->plain_bytes, ratio, bpb,
           (unsigned long long)fi->blocks, (unsigned long long)fi->stored_blocks,
           (unsigned long long)fi->tokens, model, name);
}

typedef struct ctx {
    options *o;
    lac_model *model;
    const char *model_path;
    int listed;
    int streams_set;
} ctx;

/* Default B (blocks coded/decoded at once): decoding runs one token per stream per step, so
 * several streams share each pass over the weights. Bounded by the KV cache memory: on a GPU a
 * third of its free memory and at most 256 streams (decoding hundreds of blocks in lock-step is
 * what keeps a GPU busy), on the CPU 512 MiB and 8 streams. A GPU also gets larger forward
 * calls (16 rows of 1024 tokens) unless --streams was given. */
static int default_streams(const lac_model *m, lac_engine_options *eo) {
    uint64_t free_b = 0;
    const int gpu = lac_device_resolve(eo->device, eo->cuda_index, &free_b) == LAC_DEVICE_CUDA;
    uint64_t kv = lac_engine_kv_bytes(lac_model_get_config(m), 1);
    uint64_t budget = gpu ? (free_b ? free_b / 3 : (4ull << 30)) : (512ull << 20);
    int cap = gpu ? 256 : 8;
    uint64_t b = kv ? budget / kv : 1;
    if (b < 1) b = 1;
    if (b > (uint64_t)cap) b = (uint64_t)cap;
    if (gpu && eo->max_rows == 0) eo->max_rows = 16384;
    return (int)b;
}

static int load_model(ctx *c) {
    if (c->model) return 0;
    lac_error err;
    if (lac_model_open(c->model_path, &c->model, &err)) {
        errmsg(NULL, "%s", err.msg); /* the message names the model file */
        return -1;
    }
    if (!c->streams_set)
        c->o->params.engine.n_streams = default_streams(c->model, &c->o->params.engine);
    return 0;
}

static int process(ctx *c, const char *in_name) {
    options *o = c->o;
    int from_stdin = is_stdin_name(in_name);
    const char *shown = from_stdin ? "(stdin)" : in_name;
    enum mode mode = o->mode;
    int fd = STDIN_FILENO;
    struct stat in_st;
    memset(&in_st, 0, sizeof in_st);

    if (!from_stdin) {
        fd = open(in_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            errmsg(shown, "%s", strerror(errno));
            return -1;
        }
        if (fstat(fd, &in_st) != 0 || S_ISDIR(in_st.st_mode)) {
            errmsg(shown, "%s", S_ISDIR(in_st.st_mode) ? "is a directory" : strerror(errno));
            close(fd);
            return -1;
        }
    } else if (fstat(fd, &in_st) != 0) {
        memset(&in_st, 0, sizeof in_st);
    }
    fd_reader rd = {fd};
    lac_error err;
    lac_error_clear(&err);
    int rc = -1;

    if (mode == MODE_LIST) {
        lac_file_info fi;
        if (lac_list(read_fd, &rd, &fi, &err)) {
            errmsg(shown, "%s", err.msg);
        } else {
            print_list(shown, &fi, !c->listed++);
            if (c->o->verbose)
                print_methods(stdout, shown, fi.method_blocks, fi.method_plain, fi.method_packed,
                              fi.format_version == 1);
            rc = 0;
        }
        if (!from_stdin) close(fd);
        return rc;
    }

    /* ---- where the output goes ---- */
    char out_path[PATH_MAX];
    int to_stdout = o->to_stdout || (from_stdin && !o->output);
    int write_out = mode == MODE_COMPRESS || mode == MODE_DECOMPRESS;
    if (write_out && !to_stdout) {
        if (o->output) {
            snprintf(out_path, sizeof out_path, "%s", o->output);
        } else if (mode == MODE_COMPRESS) {
            if (has_suffix(in_name, SUFFIX)) {
                errmsg(shown, "already has the %s suffix (use -o or --stdout)", SUFFIX);
                close(fd);
                return -1;
            }
            if (snprintf(out_path, sizeof out_path, "%s%s", in_name, SUFFIX) >= (int)sizeof out_path) {
                errmsg(shown, "output name too long");
                close(fd);
                return -1;
            }
        } else {
            if (!has_suffix(in_name, SUFFIX)) {
                errmsg(shown, "unknown suffix, expected %s (use -o or --stdout)", SUFFIX);
                close(fd);
                return -1;
            }
            snprintf(out_path, sizeof out_path, "%.*s", (int)(strlen(in_name) - strlen(SUFFIX)),
                     in_name);
        }
        struct stat ost;
        if (stat(out_path, &ost) == 0) {
            if (!from_stdin && ost.st_dev == in_st.st_dev && ost.st_ino == in_st.st_ino) {
                errmsg(shown, "input and output are the same file");
                close(fd);
                return -1;
            }
            if (!o->force) {
                errmsg(out_path, "already exists (use -f to overwrite)");
                close(fd);
                return -1;
            }
            if (S_ISDIR(ost.st_mode)) {
                errmsg(out_path, "is a directory");
                close(fd);
                return -1;
            }
        }
    }
    if (write_out && to_stdout && mode == MODE_COMPRESS && isatty(STDOUT_FILENO) && !o->force) {
        errmsg(shown, "refusing to write compressed data to a terminal (use -o, a redirection "
                      "or -f)");
        close(fd);
        return -1;
    }
    if (mode != MODE_LIST && load_model(c)) {
        if (!from_stdin) close(fd);
        return -1;
    }

    /* ---- temp output next to the final name ---- */
    FILE *out = NULL;
    int tmp_fd = -1;
    if (write_out && !to_stdout) {
        snprintf(g_tmp_path, sizeof g_tmp_path, "%s.lacgpu-XXXXXX", out_path);
        tmp_fd = mkstemp(g_tmp_path);
        if (tmp_fd < 0) {
            errmsg(out_path, "cannot create a temporary file: %s", strerror(errno));
            g_tmp_path[0] = '\0';
            if (!from_stdin) close(fd);
            return -1;
        }
        out = fdopen(tmp_fd, "wb");
        if (!out) {
            errmsg(out_path, "%s", strerror(errno));
            close(tmp_fd);
            unlink(g_tmp_path);
            g_tmp_path[0] = '\0';
            if (!from_stdin) close(fd);
            return -1;
        }
    } else if (write_out) {
        out = stdout;
    }

    progress pr = {now_s(), 0, S_ISREG(in_st.st_mode) ? (uint64_t)in_st.st_size : 0, 0};
    lac_params prm = o->params;
    if (!o->quiet && isatty(STDERR_FILENO)) {
        prm.progress = on_progress;
        prm.progress_ctx = &pr;
    }
    prm.interrupt = &g_interrupt;
    prm.salvage = o->salvage;
    if (o->salvage) {
        prm.damage = on_damage;
        prm.damage_ctx = (void *)shown;
    }
    lac_stats st;
    memset(&st, 0, sizeof st);
    lac_status s;
    if (mode == MODE_COMPRESS)
        s = lac_compress(c->model, &prm, read_fd, &rd, write_file, out, &st, &err);
    else
        s = lac_decompress(c->model, &prm, read_fd, &rd, mode == MODE_TEST ? NULL : write_file,
                           out, &st, &err);
    progress_clear(&pr);
    if (!from_stdin) close(fd);

    /* ---- finish the output ---- */
    const char *out_shown = to_stdout ? "(stdout)" : out_path;
    int ok = s == LAC_OK;
    /* --salvage: the intact blocks are kept, but the exit status still says "damaged" */
    int salvaged = o->salvage && s == LAC_ERR_CORRUPT && st.damaged_blocks > 0 && !g_signal;
    if (s == LAC_ERR_INTERRUPTED || g_signal) {
        errmsg(shown, "interrupted");
        ok = 0;
    } else if (!ok) {
        errmsg(err.msg[0] && !strncmp(err.msg, "output:", 7) ? out_shown : shown, "%s",
               err.msg);
        ok = salvaged;
    }
    if (out && out != stdout) {
        if (ok && (fflush(out) != 0 || fsync(fileno(out)) != 0)) {
            errmsg(out_path, "write failed: %s", strerror(errno));
            ok = 0;
        }
        if (ok && !from_stdin) (void)fchmod(fileno(out), in_st.st_mode & 0777);
        if (fclose(out) != 0 && ok) {
            errmsg(out_path, "write failed: %s", strerror(errno));
            ok = 0;
        }
        if (ok && rename(g_tmp_path, out_path) != 0) {
            errmsg(out_path, "cannot rename the temporary file: %s", strerror(errno));
            ok = 0;
        }
        if (!ok) unlink(g_tmp_path);
        g_tmp_path[0] = '\0';
    } else if (out == stdout && ok && fflush(stdout) != 0) {
        errmsg("(stdout)", "write failed: %s", strerror(errno));
        ok = 0;
    }
    if (!ok || salvaged) return -1;

    if (o->verbose && !o->quiet) {
        double bpb = st.plain_bytes ? 8.0 * (double)st.packed_bytes / (double)st.plain_bytes : 0;
        double ratio = st.packed_bytes ? (double)st.plain_bytes / (double)st.packed_bytes : 0;
        double tps = st.seconds > 0 ? (double)st.tokens / st.seconds : 0;
        fprintf(stderr,
                "%s: %llu -> %llu bytes, ratio %.3f, %.4f bits/byte, %llu tokens, %llu blocks "
                "(%llu stored), %.2f s, %.0f tokens/s%s%s%s\n",
                shown, (unsigned long long)st.in_bytes, (unsigned long long)st.out_bytes, ratio,
                bpb, (unsigned long long)st.tokens, (unsigned long long)st.blocks,
                (unsigned long long)st.stored_blocks, st.seconds, tps,
                st.device[0] ? ", " : "", st.device, mode == MODE_TEST ? ", OK" : "");
        print_methods(stderr, shown, st.method_blocks, st.method_plain, st.method_packed, 1);
    }
    if (o->rm_input && write_out && !to_stdout && !from_stdin) {
        if (unlink(in_name) != 0) {
            errmsg(shown, "cannot remove: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* OpenMP threads that wait by spinning (libgomp's default spins ~300k times) steal the cores
 * from each other as soon as anything else runs on the machine: measured on a busy 2-core box,
 * compressing 5 kB took 13.6 s with the default and 1.6-2.2 s with short spins. libgomp reads
 * its settings when it is loaded, before main, so when the user has chosen neither policy we
 * set a short spin count and start ourselves again (once; on failure we simply go on). */
static void prefer_short_openmp_spins(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "10000", 0) != 0) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
    prefer_short_openmp_spins(argv);
    options o;
    memset(&o, 0, sizeof o);
    lac_params_default(&o.params);
    int streams_set = 0;
    const char *env;
    if ((env = getenv("LACGPU_MODEL")) && *env) o.model = env;
    if ((env = getenv("LACGPU_DEVICE")) && *env && parse_device(env, &o.params.engine)) {
        errmsg(NULL, "LACGPU_DEVICE: unknown device '%s' (cpu, cpu-scalar, cuda[:N], auto)", env);
        return EXIT_USAGE;
    }
    long v;
    if ((env = getenv("LACGPU_THREADS")) && *env) {
        if (parse_long(env, 0, 4096, &v)) {
            errmsg(NULL, "LACGPU_THREADS: '%s' is not a thread count", env);
            return EXIT_USAGE;
        }
        o.params.engine.n_threads = (int)v;
    }

    enum { OPT_STDOUT = 256, OPT_RM, OPT_DEVICE, OPT_THREADS, OPT_BLOCK, OPT_STREAMS, OPT_SALVAGE,
           OPT_RAW, OPT_CHECK };
    static const struct option longs[] = {
        {"compress", no_argument, 0, 'c'},   {"decompress", no_argument, 0, 'd'},
        {"test", no_argument, 0, 't'},       {"list", no_argument, 0, 'l'},
        {"output", required_argument, 0, 'o'}, {"stdout", no_argument, 0, OPT_STDOUT},
        {"keep", no_argument, 0, 'k'},       {"rm", no_argument, 0, OPT_RM},
        {"force", no_argument, 0, 'f'},      {"model", required_argument, 0, 'm'},
        {"device", required_argument, 0, OPT_DEVICE},
        {"threads", required_argument, 0, OPT_THREADS},
        {"streams", required_argument, 0, OPT_STREAMS},
        {"block-tokens", required_argument, 0, OPT_BLOCK},
        {"temperature", required_argument, 0, 'T'},
        {"salvage", no_argument, 0, OPT_SALVAGE},
        {"raw", no_argument, 0, OPT_RAW},
        {"check", required_argument, 0, OPT_CHECK},
        {"verbose", no_argument, 0, 'v'},    {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},       {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":cdtlo:kfm:T:vqhV", longs, NULL)) != -1) {
        enum mode want = MODE_NONE;
        switch (ch) {
        case 'c': want = MODE_COMPRESS; break;
        case 'd': want = MODE_DECOMPRESS; break;
        case 't': want = MODE_TEST; break;
        case 'l': want = MODE_LIST; break;
        case 'o': o.output = optarg; break;
        case OPT_STDOUT: o.to_stdout = 1; break;
        case 'k': o.rm_input = 0; break;
        case OPT_RM: o.rm_input = 1; break;
        case 'f': o.force = 1; break;
        case 'm': o.model = optarg; break;
        case OPT_DEVICE:
            if (parse_device(optarg, &o.params.engine)) {
                errmsg(NULL, "--device: unknown device '%s' (cpu, cpu-scalar, cuda[:N], auto)",
                       optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_THREADS:
            if (parse_long(optarg, 0, 4096, &v)) {
                errmsg(NULL, "--threads: '%s' is not a thread count (0..4096)", optarg);
                return EXIT_USAGE;
            }
            o.params.engine.n_threads = (int)v;
            break;
        case OPT_STREAMS:
            if (parse_long(optarg, 1, 4096, &v)) {
                errmsg(NULL, "--streams: '%s' is not a stream count (1..4096)", optarg);
                return EXIT_USAGE;
            }
            o.params.engine.n_streams = (int)v;
            streams_set = 1;
            break;
        case OPT_BLOCK:
            if (parse_long(optarg, 1, 65536, &v)) {
                errmsg(NULL, "--block-tokens: '%s' is not a token count (1..65536)", optarg);
                return EXIT_USAGE;
            }
            o.params.block_tokens = (uint32_t)v;
            break;
        case 'T': {
            char *end;
            errno = 0;
            float t = strtof(optarg, &end);
            if (errno || end == optarg || *end || !(t > 0.0f) || !isfinite(t)) {
                errmsg(NULL, "-T: '%s' is not a positive temperature", optarg);
                return EXIT_USAGE;
            }
            o.params.coder.temperature = t;
            break;
        }
        case OPT_SALVAGE: o.salvage = 1; break;
        case OPT_RAW: o.params.raw = 1; break;
        case OPT_CHECK:
            if (!strcmp(optarg, "sha256")) o.params.check_sha256 = 1;
            else if (!strcmp(optarg, "short")) o.params.check_sha256 = 0;
            else {
                errmsg(NULL, "--check: unknown check '%s' (short, sha256)", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'v': o.verbose = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': version(); return EXIT_OK;
        case ':':
            errmsg(NULL, "option %s needs a value (try -h)", argv[optind - 1]);
            return EXIT_USAGE;
        default:
            if (optopt) errmsg(NULL, "unknown option -%c (try -h)", optopt);
            else errmsg(NULL, "unknown option %s (try -h)", argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (want != MODE_NONE) {
            if (o.mode != MODE_NONE && o.mode != want) {
                errmsg(NULL, "choose one of -c, -d, -t, -l");
                return EXIT_USAGE;
            }
            o.mode = want;
        }
    }
    if (o.mode == MODE_NONE) o.mode = MODE_COMPRESS;
    int nfiles = argc - optind;
    if (o.output && nfiles > 1) {
        errmsg(NULL, "-o takes one input file, %d given", nfiles);
        return EXIT_USAGE;
    }
    if (o.output && o.to_stdout) {
        errmsg(NULL, "-o and --stdout exclude each other");
        return EXIT_USAGE;
    }
    if ((o.mode == MODE_TEST || o.mode == MODE_LIST) && (o.output || o.to_stdout)) {
        errmsg(NULL, "-t and -l write no output (-o/--stdout not allowed)");
        return EXIT_USAGE;
    }
    int n_stdin = 0;
    for (int i = optind; i < argc; i++) n_stdin += is_stdin_name(argv[i]);
    if (n_stdin > 1) {
        errmsg(NULL, "standard input (-) given more than once");
        return EXIT_USAGE;
    }
    install_signals();

    ctx c = {&o, NULL, NULL, 0, streams_set};
    char model_path[PATH_MAX + 64];
    if (o.mode != MODE_LIST) {
        if (find_model(o.model ? o.model : DEFAULT_MODEL, model_path, sizeof model_path))
            return EXIT_ERR;
        c.model_path = model_path;
    }
    int failed = 0;
    if (nfiles == 0) {
        failed |= process(&c, NULL) != 0;
    } else {
        for (int i = optind; i < argc && !g_signal; i++) failed |= process(&c, argv[i]) != 0;
    }
    if (c.model) lac_model_close(c.model);
    if (g_signal) failed = 1;
    return failed ? EXIT_ERR : EXIT_OK;
}
