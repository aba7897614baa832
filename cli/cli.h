/* Shared declarations of the lacgpu command (cli/): lacgpu.c parses arguments into `options`,
 * fileio.c does one file at a time, progress.c owns stderr (messages and the progress line),
 * signals.c turns SIGINT/SIGTERM/SIGHUP into a clean exit by the signal. */
#ifndef LACGPU_CLI_H
#define LACGPU_CLI_H

#include <signal.h>
#include <stdint.h>

#include "lac.h"

#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2
#define SUFFIX ".lacz"
#define DEFAULT_MODEL "lac-tiny"

enum mode { MODE_NONE, MODE_COMPRESS, MODE_DECOMPRESS, MODE_TEST, MODE_LIST };

typedef struct options {
    enum mode mode;
    const char *output;  /* -o FILE (never "-": that is to_stdout) */
    int to_stdout;       /* --stdout, -o - */
    int force, rm_input, verbose, quiet, salvage, recursive;
    const char *model;   /* -m or LACGPU_MODEL; NULL: the default model */
    int model_env;       /* model came from LACGPU_MODEL */
    const char *model_path; /* resolved file (not for -l) */
    int chunk_k, chunk_n;   /* --chunk K/N (chunk_n 0: the whole input) */
    lac_params params;
} options;

/* ---- fileio.c ---- */
/* Processes every name (NULL/none: stdin); returns the exit status. May not return when a
 * signal or a closed stdout pipe ended the run: it then dies by that signal. */
int fileio_run(options *o, int nfiles, char **files);
/* Flushes what printf wrote (-l, -h, -V); -1 after a message when it could not be written
 * (dies quietly by SIGPIPE when the reader went away). */
int stdout_close(void);

/* ---- chunk.c: --chunk K/N ---- */
#include <sys/stat.h>
typedef struct chunk_reader {
    int fd;
    uint64_t begin, end, pos; /* the piece [begin, end) and the next byte to read */
} chunk_reader;
/* Finds this worker's piece of fd (a seekable input; compression: bytes, decoding: streams);
 * -1 after a message naming `shown`. */
int chunk_open(const options *o, const char *shown, int fd, const struct stat *st,
               chunk_reader *r);
long chunk_read(void *ctx, void *buf, size_t n); /* a lac_read_fn over the piece */

/* ---- progress.c: everything written to stderr ---- */
void errmsg(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
typedef struct progress progress;
/* Starts the progress line for one file (NULL when stderr is not a terminal or -q): redrawn
 * once a second from what progress_update last recorded. total: bytes of input (0: unknown);
 * unit_in: what in_bytes counts ("compressed" when decoding). */
progress *progress_start(const char *name, uint64_t total, int decoding);
void progress_update(void *ctx, uint64_t in_bytes, uint64_t out_bytes); /* a lac_progress_fn */
/* Stops the ticker and erases the line. NULL-safe. */
void progress_stop(progress *p);

/* ---- signals.c ---- */
extern volatile int g_interrupt;          /* polled by liblac (lac_params.interrupt) */
extern volatile sig_atomic_t g_signal;    /* the first signal received, 0 if none */
void signals_install(void);
/* The temporary output the handler removes on a second signal ("" for none). */
void signals_set_temp(const char *path);
/* mkstemp(tmpl), the name it made becoming the temporary output at once (signals blocked in
 * between); the descriptor, or -1 with errno. */
int signals_mkstemp(char *tmpl);
/* Called once everything is cleaned up: when a signal arrived, dies by it (default action). */
void signals_reraise(void);
/* Dies by SIGPIPE, quietly, as a classic filter does when its reader went away. */
void signals_die_epipe(void) __attribute__((noreturn));

#endif
