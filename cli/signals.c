/* Signals like gzip, xz and zstd: the first SIGINT/SIGTERM/SIGHUP raises a flag that liblac
 * polls; the current file's temporary output is removed, and then the process dies by the same
 * signal (default action), so that a shell loop around lacgpu stops too (status 128 + N). A
 * second signal removes the temporary file at once and dies. Signals ignored at start (nohup)
 * stay ignored. SIGPIPE is ignored so that a closed pipe is an EPIPE the CLI sees; it then
 * dies by SIGPIPE quietly (signals_die_epipe). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

volatile sig_atomic_t g_signal;
volatile int g_interrupt;
static char g_tmp_path[PATH_MAX + 32];
static const int k_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void die_by(int sig) {
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached */
}

static void on_signal(int sig) {
    if (g_signal) { /* second signal: give up at once, leaving nothing behind */
        if (g_tmp_path[0]) unlink(g_tmp_path);
        die_by(sig);
    }
    g_signal = sig;
    g_interrupt = 1;
}

void signals_install(void) {
    for (size_t i = 0; i < sizeof k_signals / sizeof k_signals[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(k_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; /* no SA_RESTART: a blocked read returns EINTR */
        sigaction(k_signals[i], &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
}

/* the handler reads g_tmp_path: the signals are blocked while it changes */
static void block_signals(sigset_t *old) {
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof k_signals / sizeof k_signals[0]; i++) sigaddset(&set, k_signals[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

void signals_set_temp(const char *path) {
    sigset_t old;
    block_signals(&old);
    snprintf(g_tmp_path, sizeof g_tmp_path, "%s", path ? path : "");
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int signals_mkstemp(char *tmpl) {
    /* mkstemp fills in the name: a second signal between the two would know only the
     * template (and leave the file behind), so both happen with the signals blocked */
    sigset_t old;
    block_signals(&old);
    int fd = mkstemp(tmpl);
    snprintf(g_tmp_path, sizeof g_tmp_path, "%s", fd >= 0 ? tmpl : "");
    sigprocmask(SIG_SETMASK, &old, NULL);
    return fd;
}

void signals_reraise(void) {
    if (g_signal) die_by(g_signal);
}

void signals_die_epipe(void) {
    fflush(stdout);
    die_by(SIGPIPE);
    _exit(EXIT_ERR);
}
