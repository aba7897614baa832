/* bench_tokenizer: single-core tokenizer throughput over a corpus.
 *
 *   bench_tokenizer [--vocab DIR] [--reps N] [PATH...]
 *
 * DIR holds vocab.json + merges.txt (default ../shared/tokenizer/gpt2 next to the sources);
 * each PATH is a file or a directory of files (default ../shared/corpus/gutenberg). Every file
 * is read into memory first, then tokenized N times (default 3) two ways: one feed of the
 * whole file, and 64 KiB feeds. Prints the best run of each in MB/s (10^6 bytes per second),
 * by wall clock and by the thread's CPU time (steadier on a loaded machine).
 * The tokenizer is built from the HF files (engine/vocab.h), so no model file is needed. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lac.h"
#include "vocab.h"

#ifndef LAC_DEFAULT_SHARED
#define LAC_DEFAULT_SHARED "../shared"
#endif

typedef struct {
    char *name;
    unsigned char *data;
    size_t n;
} file_t;

static file_t *files;
static size_t nfiles, capfiles;

static int add_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_tokenizer: %s: cannot open\n", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (!b) break;
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nb = realloc(b, cap *= 2);
        if (!nb) free(b);
        b = nb;
    }
    int bad = ferror(f) || !b;
    fclose(f);
    if (bad) {
        free(b);
        fprintf(stderr, "bench_tokenizer: %s: read error\n", path);
        return -1;
    }
    if (nfiles == capfiles) {
        capfiles = capfiles ? 2 * capfiles : 64;
        file_t *nf = realloc(files, capfiles * sizeof *files);
        if (!nf) return -1;
        files = nf;
    }
    files[nfiles].name = strdup(path);
    files[nfiles].data = b;
    files[nfiles].n = n;
    nfiles++;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_path(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "bench_tokenizer: %s: not found\n", path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) return add_file(path);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "bench_tokenizer: %s: cannot list\n", path);
        return -1;
    }
    char **names = NULL;
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char **nb = realloc(names, (nn + 1) * sizeof *names);
        if (!nb) break;
        names = nb;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[nn] = malloc(len);
        snprintf(names[nn], len, "%s/%s", path, e->d_name);
        nn++;
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        if (!rc && stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) rc = add_file(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this thread: the figure that matters on a shared machine */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Tokenizes every file once; returns wall seconds (and CPU seconds in *cpu), or -1 on error. */
static double run(lac_tokenizer *tk, size_t chunk, uint64_t *ntok, double *cpu) {
    lac_tokens t = {0};
    lac_error err = {0};
    *ntok = 0;
    double c0 = cpu_now(), t0 = now();
    for (size_t i = 0; i < nfiles; i++) {
        lac_tokenizer_reset(tk);
        t.n = 0;
        size_t off = 0, n = files[i].n;
        while (chunk && n - off > chunk) {
            if (lac_tokenizer_feed(tk, files[i].data + off, chunk, 0, &t, &err) != LAC_OK) goto fail;
            off += chunk;
        }
        if (lac_tokenizer_feed(tk, files[i].data + off, n - off, 1, &t, &err) != LAC_OK) goto fail;
        *ntok += t.n;
    }
    double dt = now() - t0;
    *cpu = cpu_now() - c0;
    lac_tokens_free(&t);
    return dt;
fail:
    fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
    lac_tokens_free(&t);
    return -1;
}

int main(int argc, char **argv) {
    const char *vocab_dir = LAC_DEFAULT_SHARED "/tokenizer/gpt2";
    int reps = 3, npaths = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vocab") && i + 1 < argc) {
            vocab_dir = argv[++i];
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1) reps = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: bench_tokenizer [--vocab DIR] [--reps N] [PATH...]\n");
            return 0;
        } else {
            if (add_path(argv[i]) != 0) return 1;
            npaths++;
        }
    }
    if (!npaths && add_path(LAC_DEFAULT_SHARED "/corpus/gutenberg") != 0) return 1;
    size_t total = 0;
    for (size_t i = 0; i < nfiles; i++) total += files[i].n;

    char vj[4096], mt[4096];
    snprintf(vj, sizeof vj, "%s/vocab.json", vocab_dir);
    snprintf(mt, sizeof mt, "%s/merges.txt", vocab_dir);
    lac_vocab_owned v;
    lac_tokenizer *tk = NULL;
    lac_error err = {0};
    double t0 = now();
    if (lac_vocab_load_hf(vj, mt, &v, &err) != LAC_OK ||
        lac_tokenizer_create_from_vocab(&v.v, &tk, &err) != LAC_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double t_load = now() - t0;
    printf("files %zu, %.2f MB; vocab load + tokenizer create %.3f s\n", nfiles, total / 1e6,
           t_load);
    static const size_t chunks[] = {0, 65536};
    for (int c = 0; c < 2; c++) {
        double best = 1e30, best_cpu = 1e30, cpu;
        uint64_t ntok = 0;
        for (int r = 0; r < reps; r++) {
            double dt = run(tk, chunks[c], &ntok, &cpu);
            if (dt < 0) return 1;
            if (dt < best) best = dt;
            if (cpu < best_cpu) best_cpu = cpu;
        }
        printf("%-13s %9llu tokens (%.3f bytes/token)  wall %.3f s %6.2f MB/s  "
               "cpu %.3f s %6.2f MB/s\n",
               chunks[c] ? "64 KiB feeds" : "whole-file", (unsigned long long)ntok,
               ntok ? (double)total / (double)ntok : 0.0, best, total / 1e6 / best, best_cpu,
               total / 1e6 / best_cpu);
    }
    lac_tokenizer_free(tk);
    lac_vocab_owned_free(&v);
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i].name);
        free(files[i].data);
    }
    free(files);
    return 0;
}
