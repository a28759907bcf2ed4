/* launcher/signals.c -- stop-flag handlers for `tlm run` (see signals.h). A handler does
 * only async-signal-safe work: it stores the signal number, or, for a second SIGINT,
 * restores the default action and re-raises so the process dies of SIGINT (130). */
#include "launcher/signals.h"

#include <stddef.h>

/* The program's one mutable global: written by the handlers, read by the loop. */
static volatile sig_atomic_t g_stop;

static void on_stop(int sig) {
    if (sig == SIGINT && g_stop != 0) { /* Ctrl-C while stopping: the user means it */
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    if (g_stop == 0)
        g_stop = sig;
}

volatile sig_atomic_t *sig_install(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    /* a file size limit (ulimit -f) then fails the write with EFBIG, which the output
     * writers report and undo, instead of killing the process mid-line */
    signal(SIGXFSZ, SIG_IGN);
    return &g_stop;
}

void sig_restore(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
}

const char *sig_name(int sig) {
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGINT: return "SIGINT";
    default: return "a signal";
    }
}
