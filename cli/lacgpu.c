/* lacgpu: the command-line compressor. This file parses the command line (and the environment)
 * into `options` and finds the model; fileio.c does the files, progress.c writes stderr,
 * signals.c handles signals. All compression work is done by liblac (include/lac.h).
 *
 * Adding an option: a row in `longs` (and its letter in `shorts`), a case in apply_option, a
 * line in usage() and in man/lacgpu.1. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lacgpu [MODE] [OPTIONS] [FILE...]\n"
            "Lossless text compression with a GPT-2 language model (.lacz files).\n"
            "\n"
            "Modes (default -c; unlacgpu is lacgpu -d, lacgpucat is lacgpu -d --stdout):\n"
            "  -c, --compress        compress FILE to FILE.lacz (not zstd's -c: see --stdout)\n"
            "  -d, --decompress      decompress FILE.lacz to FILE\n"
            "  -t, --test            decode and verify, write nothing\n"
            "  -l, --list            show model, sizes, ratio, bits per byte, blocks (no decoding);\n"
            "                        with -v also the header fields; a total for several files\n"
            "Options:\n"
            "  -o, --output FILE     write to FILE (one input only; - is standard output)\n"
            "      --stdout          write to standard output\n"
            "  -k, --keep            keep the input files (the default)\n"
            "      --rm              delete each input after its output is complete and synced\n"
            "  -f, --force           overwrite existing outputs; allow terminals\n"
            "  -r, --recursive       go into directories\n"
            "  -m, --model MODEL     model file, or NAME looked up as NAME.lacm in the model dirs\n"
            "      --device DEV      cpu, cpu-scalar, cuda, cuda:N, cuda:all (every GPU),\n"
            "                        cuda:N,M,... or auto (default auto)\n"
            "      --threads N       CPU threads (0 = all)\n"
            "      --streams N       blocks coded/decoded at once (default: by KV cache memory)\n"
            "      --block-tokens N  tokens per block (default: 1024, or the model's context)\n"
            "  -T, --temperature T   model temperature (default 1; not zstd's -T threads)\n"
            "      --salvage         decompress: write intact blocks, skip damaged ones, keep\n"
            "                        the intact prefix of a truncated file\n"
            "      --raw             a bare message, for short texts: no header and no checks\n"
            "                        (both ways: the model, -T and --block-tokens must match;\n"
            "                        -d --raw verifies nothing; it refuses only what no\n"
            "                        message could be, such as an empty input)\n"
            "      --check CHECK     compress: end each stream with `short' (32 bits of SHA-256,\n"
            "                        the default) or `sha256' (all of it)\n"
            "      --methods LIST    compress: what segments may be coded with, of model, lzma2,\n"
            "                        zstd, brotli, bzip2 (comma-separated; stored is always\n"
            "                        allowed; default all: the smallest wins)\n"
            "      --chunk K/N       piece K of N of FILE: -c codes the K-th of N pieces cut at\n"
            "                        line ends, -d/-t decodes the K-th of N groups of streams;\n"
            "                        the N outputs concatenated in order are the whole\n"
            "                        (GNU parallel, Slurm arrays: docs/SCALE.md)\n"
            "  -v, --verbose         ratio, bits per byte, tokens/s and time for each file\n"
            "  -q, --quiet           no progress line\n"
            "  -h, --help            this help\n"
            "  -V, --version         versions and build features\n"
            "  -1..-9, --fast, --best  refused: there are no compression levels\n"
            "\n"
            "With no FILE, or when FILE is -, read standard input and write standard output.\n"
            "Named inputs must be regular files. Outputs are written to a temporary file, synced\n"
            "and renamed on success, with the input's mode, owner and times; an existing output\n"
            "is never overwritten without -f, and -o onto a device or FIFO writes into it.\n"
            "\n"
            "Environment: LACGPU_MODEL (default -m), LACGPU_DEVICE (default --device),\n"
            "LACGPU_THREADS (default --threads). The default model lac-tiny.lacm is looked up\n"
            "in <exe dir>/../share/lacgpu, %s and %s.\n"
            "\n"
            "Exit status: 0 success, 1 error (bad or damaged input, I/O, model mismatch),\n"
            "2 usage error; killed by SIGINT/SIGTERM/SIGHUP (after cleaning up) or SIGPIPE.\n",
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

/* --device / LACGPU_DEVICE (what: the option's name for the message); -1 after a message. */
static int parse_device(const char *what, const char *s, lac_engine_options *o) {
    lac_error err;
    if (lac_device_parse(s, o, &err) == LAC_OK) return 0;
    errmsg(NULL, "%s: %s", what, err.msg);
    return -1;
}

/* --chunk K/N: 1 <= K <= N <= LAC_MAX_CHUNKS; -1 after a message. */
static int parse_chunk(const char *s, int *k, int *n) {
    char a[24];
    const char *slash = strchr(s, '/');
    long kv, nv;
    if (slash && (size_t)(slash - s) < sizeof a) {
        memcpy(a, s, (size_t)(slash - s));
        a[slash - s] = '\0';
        if (!parse_long(a, 1, LAC_MAX_CHUNKS, &kv) &&
            !parse_long(slash + 1, 1, LAC_MAX_CHUNKS, &nv) && kv <= nv) {
            *k = (int)kv, *n = (int)nv;
            return 0;
        }
    }
    errmsg(NULL, "--chunk: '%s' is not K/N with 1 <= K <= N <= %d (piece K of N)", s,
           LAC_MAX_CHUNKS);
    return -1;
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

/* Resolves MODEL (a path, or a name) to a file path; env: the value came from LACGPU_MODEL
 * (the message says so). */
static int find_model(const char *spec, int env, char *out, size_t outsz) {
    size_t len = strlen(spec);
    int is_path = strchr(spec, '/') || (len > 5 && !strcmp(spec + len - 5, ".lacm"));
    if (is_path || file_exists(spec)) {
        if (!file_exists(spec)) {
            if (env) errmsg("LACGPU_MODEL", "model file '%s' not found", spec);
            else errmsg(spec, "model file not found");
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
    errmsg(env ? "LACGPU_MODEL" : NULL,
           "model '%s' not found: no %s.lacm in %s, %s or %s (use -m FILE or LACGPU_MODEL)",
           spec, spec, n > 2 ? dirs[0] : "", dirs[n - 2], dirs[n - 1]);
    return -1;
}


/* ---- the command line ---- */
enum {
    OPT_STDOUT = 256, OPT_RM, OPT_DEVICE, OPT_THREADS, OPT_BLOCK, OPT_STREAMS, OPT_SALVAGE,
    OPT_FAST, OPT_BEST, OPT_RAW, OPT_CHECK, OPT_METHODS, OPT_CHUNK
};
static const char shorts[] = ":cdtlo:kfrm:T:vqhV123456789";
static const struct option longs[] = {
    {"compress", no_argument, 0, 'c'},     {"decompress", no_argument, 0, 'd'},
    {"uncompress", no_argument, 0, 'd'},   {"test", no_argument, 0, 't'},
    {"list", no_argument, 0, 'l'},         {"output", required_argument, 0, 'o'},
    {"stdout", no_argument, 0, OPT_STDOUT}, {"keep", no_argument, 0, 'k'},
    {"rm", no_argument, 0, OPT_RM},        {"force", no_argument, 0, 'f'},
    {"recursive", no_argument, 0, 'r'},    {"model", required_argument, 0, 'm'},
    {"device", required_argument, 0, OPT_DEVICE},
    {"threads", required_argument, 0, OPT_THREADS},
    {"streams", required_argument, 0, OPT_STREAMS},
    {"block-tokens", required_argument, 0, OPT_BLOCK},
    {"temperature", required_argument, 0, 'T'},
    {"salvage", no_argument, 0, OPT_SALVAGE},
    {"raw", no_argument, 0, OPT_RAW},      {"check", required_argument, 0, OPT_CHECK},
    {"methods", required_argument, 0, OPT_METHODS},
    {"chunk", required_argument, 0, OPT_CHUNK},
    {"verbose", no_argument, 0, 'v'},      {"quiet", no_argument, 0, 'q'},
    {"fast", no_argument, 0, OPT_FAST},    {"best", no_argument, 0, OPT_BEST},
    {"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0}};

/* What the command line set, beyond `options`: the environment only fills the rest. */
typedef struct cmdline {
    enum mode mode; /* MODE_NONE: not given */
    int device_set, threads_set;
    int stdout_set, o_stdout; /* --stdout given; the last -o was "-" */
} cmdline;

/* Applies one option. Returns -1 to go on, else the exit status to return. */
/* --methods model,zstd,...: a mask of LAC_METHOD_BIT()s; 0 after a message on a bad name. */
static int parse_methods(const char *arg, unsigned *mask) {
    unsigned m = 0;
    char buf[256];
    if (strlen(arg) >= sizeof buf) {
        errmsg(NULL, "--methods: the list is too long (model, stored, lzma2, zstd, brotli, "
                     "bzip2)");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < LAC_METHODS && strcmp(t, lac_method_name(k))) k++;
        if (k == LAC_METHODS) {
            errmsg(NULL, "--methods: unknown method '%s' (model, stored, lzma2, zstd, brotli, "
                         "bzip2)", t);
            return -1;
        }
        m |= LAC_METHOD_BIT(k);
    }
    if (!m) {
        errmsg(NULL, "--methods: no method given");
        return -1;
    }
    *mask = m | LAC_METHOD_BIT(LAC_METHOD_STORED);
    return 0;
}

static int apply_option(options *o, cmdline *cl, int ch, const char *arg, char **argv) {
    enum mode want = MODE_NONE;
    long v;
    switch (ch) {
    case 'c': want = MODE_COMPRESS; break;
    case 'd': want = MODE_DECOMPRESS; break;
    case 't': want = MODE_TEST; break;
    case 'l': want = MODE_LIST; break;
    case 'o': /* the last -o wins; --stdout stays */
        if (!*arg) {
            errmsg(NULL, "-o: an empty file name");
            return EXIT_USAGE;
        }
        if (!strcmp(arg, "-")) o->to_stdout = 1, o->output = NULL, cl->o_stdout = 1;
        else {
            if (cl->o_stdout && !cl->stdout_set) o->to_stdout = 0;
            o->output = arg, cl->o_stdout = 0;
        }
        break;
    case OPT_STDOUT: o->to_stdout = 1, cl->stdout_set = 1; break;
    case 'k': o->rm_input = 0; break;
    case OPT_RM: o->rm_input = 1; break;
    case 'f': o->force = 1; break;
    case 'r': o->recursive = 1; break;
    case 'm': o->model = arg; break;
    case OPT_DEVICE:
        if (parse_device("--device", arg, &o->params.engine)) return EXIT_USAGE;
        cl->device_set = 1;
        break;
    case OPT_CHUNK:
        if (parse_chunk(arg, &o->chunk_k, &o->chunk_n)) return EXIT_USAGE;
        break;
    case OPT_THREADS:
        if (parse_long(arg, 0, 4096, &v)) {
            errmsg(NULL, "--threads: '%s' is not a thread count (0..4096)", arg);
            return EXIT_USAGE;
        }
        o->params.engine.n_threads = (int)v;
        cl->threads_set = 1;
        break;
    case OPT_STREAMS:
        if (parse_long(arg, 1, 4096, &v)) {
            errmsg(NULL, "--streams: '%s' is not a stream count (1..4096)", arg);
            return EXIT_USAGE;
        }
        o->params.engine.n_streams = (int)v;
        break;
    case OPT_BLOCK:
        if (parse_long(arg, 1, 65536, &v)) {
            errmsg(NULL, "--block-tokens: '%s' is not a token count (1..65536)", arg);
            return EXIT_USAGE;
        }
        o->params.block_tokens = (uint32_t)v;
        break;
    case 'T': {
        char *end;
        errno = 0;
        float t = strtof(arg, &end);
        if (errno || end == arg || *end || !(t > 0.0f) || !isfinite(t)) {
            errmsg(NULL, "-T: '%s' is not a positive temperature (lacgpu's -T is not a thread "
                         "count: see --threads)", arg);
            return EXIT_USAGE;
        }
        o->params.coder.temperature = t;
        break;
    }
    case OPT_SALVAGE: o->salvage = 1; break;
    case OPT_RAW: o->params.raw = 1; break;
    case OPT_METHODS:
        if (parse_methods(arg, &o->params.methods)) return EXIT_USAGE;
        break;
    case OPT_CHECK:
        if (!strcmp(arg, "sha256")) o->params.check_sha256 = 1;
        else if (!strcmp(arg, "short")) o->params.check_sha256 = 0;
        else {
            errmsg(NULL, "--check: unknown check '%s' (short, sha256)", arg);
            return EXIT_USAGE;
        }
        break;
    case 'v': o->verbose = 1; break;
    case 'q': o->quiet = 1; break;
    case 'h': usage(stdout); return stdout_close() ? EXIT_ERR : EXIT_OK;
    case 'V': version(); return stdout_close() ? EXIT_ERR : EXIT_OK;
    case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
    case OPT_FAST: case OPT_BEST: {
        char name[8];
        snprintf(name, sizeof name, "-%c", ch < 256 ? ch : '?');
        errmsg(ch < 256 ? name : ch == OPT_FAST ? "--fast" : "--best",
               "compression levels do not apply: lacgpu always codes with the model at full "
               "strength (sizes and speed depend on -m and --block-tokens; see lacgpu(1))");
        return EXIT_USAGE;
    }
    case ':':
        errmsg(NULL, "option %s needs a value (try -h)", argv[optind - 1]);
        return EXIT_USAGE;
    default:
        if (optopt) errmsg(NULL, "unknown option -%c (try -h)", optopt);
        else errmsg(NULL, "unknown option %s (try -h)", argv[optind - 1]);
        return EXIT_USAGE;
    }
    if (want != MODE_NONE) {
        if (cl->mode != MODE_NONE && cl->mode != want) {
            errmsg(NULL, "choose one of -c, -d, -t, -l");
            return EXIT_USAGE;
        }
        cl->mode = want;
    }
    return -1;
}

/* Defaults from the environment for what the command line left open (only those are checked). */
static int apply_env(options *o, const cmdline *cl) {
    const char *env;
    if (!o->model && (env = getenv("LACGPU_MODEL")) && *env) o->model = env, o->model_env = 1;
    if (!cl->device_set && (env = getenv("LACGPU_DEVICE")) && *env &&
        parse_device("LACGPU_DEVICE", env, &o->params.engine))
        return EXIT_USAGE;
    long v;
    if (!cl->threads_set && (env = getenv("LACGPU_THREADS")) && *env) {
        if (parse_long(env, 0, 4096, &v)) {
            errmsg(NULL, "LACGPU_THREADS: '%s' is not a thread count", env);
            return EXIT_USAGE;
        }
        o->params.engine.n_threads = (int)v;
    }
    return -1;
}

/* unlacgpu = lacgpu -d, lacgpucat = lacgpu -d --stdout (as unxz and xzcat) */
static enum mode mode_from_argv0(const char *argv0, int *cat) {
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    *cat = !strcmp(base, "lacgpucat");
    return *cat || !strcmp(base, "unlacgpu") ? MODE_DECOMPRESS : MODE_COMPRESS;
}

/* Rules between options and file names. */
static int check_combination(const options *o, int nfiles, char **files) {
    if (o->output && nfiles > 1) {
        errmsg(NULL, "-o takes one input file, %d given", nfiles);
        return EXIT_USAGE;
    }
    if (o->output && (o->to_stdout || o->recursive)) {
        errmsg(NULL, "-o excludes --stdout and -r");
        return EXIT_USAGE;
    }
    if ((o->mode == MODE_TEST || o->mode == MODE_LIST) && (o->output || o->to_stdout)) {
        errmsg(NULL, "-t and -l write no output (-o/--stdout not allowed)");
        return EXIT_USAGE;
    }
    if (o->chunk_n && (o->mode == MODE_LIST || o->rm_input || o->recursive || nfiles != 1)) {
        errmsg(NULL, "--chunk K/N takes one input file, and not -l, --rm or -r");
        return EXIT_USAGE;
    }
    if (o->chunk_n && o->params.raw) {
        errmsg(NULL, "--chunk K/N and --raw exclude each other (raw pieces cannot be joined)");
        return EXIT_USAGE;
    }
    if (o->chunk_n && o->mode != MODE_TEST && !o->output && !o->to_stdout) {
        errmsg(NULL, "--chunk K/N needs -o FILE or --stdout (each worker names its piece)");
        return EXIT_USAGE;
    }
    int n_stdin = 0;
    for (int i = 0; i < nfiles; i++) n_stdin += !strcmp(files[i], "-");
    if (n_stdin > 1) {
        errmsg(NULL, "standard input (-) given more than once");
        return EXIT_USAGE;
    }
    return -1;
}

/* An OpenMP thread-binding setting that binds (OMP_PROC_BIND other than "false", or
 * OMP_PLACES): libgomp has then already bound this thread to the first place when main runs,
 * and a process started again would inherit that one CPU (it ran on one thread). */
static int openmp_binds(void) {
    const char *b = getenv("OMP_PROC_BIND"), *p = getenv("OMP_PLACES");
    return (b && *b && strcasecmp(b, "false") != 0) || (p && *p);
}

/* OpenMP threads that wait by spinning (libgomp's default spins ~300k times) steal the cores
 * from each other as soon as anything else runs on the machine: measured on a busy 2-core box,
 * compressing 5 kB took 13.6 s with the default and 1.6-2.2 s with short spins. libgomp reads
 * its settings when it is loaded, before main, so when the user has chosen neither policy we
 * set a short spin count and start ourselves again (once; on failure we simply go on). Not when
 * the user binds threads (openmp_binds): such machines are usually dedicated to the job. */
static void prefer_short_openmp_spins(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || openmp_binds()) return;
    if (setenv("GOMP_SPINCOUNT", "10000", 0) != 0) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
    prefer_short_openmp_spins(argv);
    options o;
    memset(&o, 0, sizeof o);
    lac_params_default(&o.params);
    cmdline cl = {MODE_NONE, 0, 0, 0, 0};
    int cat;
    enum mode def = mode_from_argv0(argv[0], &cat);
    opterr = 0;
    int ch, rc;
    while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1)
        if ((rc = apply_option(&o, &cl, ch, optarg, argv)) >= 0) return rc;
    o.mode = cl.mode != MODE_NONE ? cl.mode : def;
    if (cat && o.mode == MODE_DECOMPRESS && !o.output) o.to_stdout = 1;
    if ((rc = apply_env(&o, &cl)) >= 0) return rc;
    int nfiles = argc - optind;
    if ((rc = check_combination(&o, nfiles, argv + optind)) >= 0) return rc;
    signals_install();

    char model_path[PATH_MAX + 64];
    if (o.mode != MODE_LIST) {
        if (find_model(o.model ? o.model : DEFAULT_MODEL, o.model_env, model_path,
                       sizeof model_path))
            return EXIT_ERR;
        o.model_path = model_path;
    }
    return fileio_run(&o, nfiles, argv + optind);
}
