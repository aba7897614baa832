/* Everything lacgpu writes to stderr: one-line messages and the progress line.
 *
 * The progress line (stderr a terminal, no -q) is drawn by a small ticker thread once a second
 * from the last counts liblac reported (lac_progress_fn): when compressing, input bytes whose
 * coding is finished; when decompressing, compressed bytes whose decoding is finished. It shows
 * the share of the input's size done, the speed and the ETA, and is erased when the file is
 * finished. Messages erase it first, so they never end up mid-line. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct progress {
    pthread_t thread;
    pthread_cond_t wake;
    char name[40];
    uint64_t total, in, out;
    double t0;
    int decoding, stop, shown;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static progress *g_current; /* the line on screen, under g_lock */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "12.3 kB" style: 4 significant digits at most */
static void human(char *buf, size_t n, double bytes) {
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    while (bytes >= 1000 && i < 4) bytes /= 1000, i++;
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", bytes, u[i]);
}

static void clear_line(progress *p) {
    if (p && p->shown) fputs("\r\033[K", stderr);
    if (p) p->shown = 0;
}

/* under g_lock */
static void draw(progress *p) {
    double el = now_s() - p->t0;
    char done[24], speed[24], outb[24];
    human(done, sizeof done, (double)p->in);
    human(speed, sizeof speed, el > 0 ? (double)p->in / el : 0);
    human(outb, sizeof outb, (double)p->out);
    char line[200];
    unsigned e = el > 359999 ? 359999 : (unsigned)el;
    int k = snprintf(line, sizeof line, "%s: %u:%02u:%02u ", p->name, e / 3600, e / 60 % 60, e % 60);
    if (p->total) {
        double frac = (double)p->in / (double)p->total;
        if (frac > 1) frac = 1;
        k += snprintf(line + k, sizeof line - (size_t)k, "%5.1f%% ", 100 * frac);
    }
    k += snprintf(line + k, sizeof line - (size_t)k, "%s%s -> %s, %s/s", done,
                  p->decoding ? " compressed" : "", outb, speed);
    if (p->total && p->in > 0 && p->in < p->total) {
        double eta = el * (double)(p->total - p->in) / (double)p->in;
        unsigned s = eta > 359999 ? 359999 : (unsigned)eta;
        snprintf(line + k, sizeof line - (size_t)k, ", ETA %u:%02u:%02u", s / 3600, s / 60 % 60,
                 s % 60);
    } else if (p->total && p->in == 0) {
        snprintf(line + k, sizeof line - (size_t)k, ", ETA ?");
    }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->shown = 1;
}

static void *ticker(void *arg) {
    progress *p = arg;
    pthread_mutex_lock(&g_lock);
    /* on a fixed schedule (start + 1 s, + 2 s, ...): a slow redraw does not delay the next */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    while (!p->stop) {
        ts.tv_sec += 1;
        while (!p->stop && pthread_cond_timedwait(&p->wake, &g_lock, &ts) == 0) {
        }
        if (!p->stop) draw(p);
    }
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

progress *progress_start(const char *name, uint64_t total, int decoding) {
    if (!isatty(STDERR_FILENO)) return NULL;
    progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    const char *base = strrchr(name, '/');
    snprintf(p->name, sizeof p->name, "%s", base && base[1] ? base + 1 : name);
    p->total = total;
    p->decoding = decoding;
    p->t0 = now_s();
    pthread_cond_init(&p->wake, NULL);
    /* the ticker must not take the signals meant for the main thread's reads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int bad = pthread_create(&p->thread, NULL, ticker, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (bad) {
        pthread_cond_destroy(&p->wake);
        free(p);
        return NULL;
    }
    pthread_mutex_lock(&g_lock);
    g_current = p;
    pthread_mutex_unlock(&g_lock);
    return p;
}

void progress_update(void *ctx, uint64_t in_bytes, uint64_t out_bytes) {
    progress *p = ctx;
    pthread_mutex_lock(&g_lock);
    p->in = in_bytes;
    p->out = out_bytes;
    pthread_mutex_unlock(&g_lock);
}

void progress_stop(progress *p) {
    if (!p) return;
    pthread_mutex_lock(&g_lock);
    p->stop = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&g_lock);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&g_lock);
    clear_line(p);
    fflush(stderr);
    if (g_current == p) g_current = NULL;
    pthread_mutex_unlock(&g_lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}

void errmsg(const char *file, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&g_lock);
    clear_line(g_current);
    fprintf(stderr, "lacgpu: ");
    if (file) fprintf(stderr, "%s: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&g_lock);
    va_end(ap);
}
