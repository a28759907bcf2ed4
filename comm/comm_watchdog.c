/* comm/comm_watchdog.c -- the start-up bound (see comm_watchdog.h): one thread waiting on a
 * condition variable until the deadline or the stop. */
#include "comm/comm_watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm.h"
#include "comm/comm_impl.h"

struct CommWatchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    double timeout_s;
    const char *what;
};

/* The world rank the MPI launcher gave this process, -1 when it says none. */
static int launcher_rank(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
                                       "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL && v[0] != '\0')
            return atoi(v);
    }
    return -1;
}

static void *watch(void *arg) {
    CommWatchdog *w = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    const double end = (double)until.tv_sec + 1e-9 * (double)until.tv_nsec + w->timeout_s;
    until.tv_sec = (time_t)end;
    until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (!w->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
    const int done = w->done;
    pthread_mutex_unlock(&w->mu);
    if (done)
        return NULL;
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    /* no MPI here: MPI may be inside MPI_Init on the main thread */
    fprintf(stderr, "[rank %d %s] error: comm/comm_watchdog.c: %s: still waiting after %.0f s "
            "(TLM_COMM_TIMEOUT): a peer rank has not arrived (not started, stuck or dead); "
            "this rank gives up so the job ends (raise TLM_COMM_TIMEOUT if ranks "
            "legitimately start this far apart)\n", launcher_rank(), host, w->what,
            w->timeout_s);
    fflush(stderr);
    _exit(1);
}

int comm_watchdog_start(const char *what, CommWatchdog **out, Err *err) {
    *out = NULL;
    double t = 0;
    if (comm_timeout_from_env(&t, err) != 0)
        return -1;
    if (t <= 0)
        return 0;
    CommWatchdog *w = calloc(1, sizeof *w);
    if (w == NULL)
        return err_set(err, "out of memory");
    w->timeout_s = t;
    w->what = what;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    const int rc = pthread_create(&w->thread, NULL, watch, w);
    if (rc != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return err_set(err, "starting the start-up watchdog thread: error %d", rc);
    }
    *out = w;
    return 0;
}

void comm_watchdog_stop(CommWatchdog *w) {
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void comm_test_init_stall(void) {
    const char *v = getenv("TLM_TEST_INIT_STALL");
    int rank = -1;
    double s = 0;
    if (v == NULL || sscanf(v, "%d:%lf", &rank, &s) != 2 || rank != launcher_rank() || s <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}
