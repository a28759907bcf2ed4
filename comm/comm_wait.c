/* comm/comm_wait.c -- the bounded wait of every collective (comm_impl.h): the timeout from
 * TLM_COMM_TIMEOUT and the MPI transport's poll. MPI collectives block without limit and
 * Open MPI detects no dead peer by itself when the launcher does not kill the job (srun's
 * default KillOnBadExit=0 leaves the survivors running), so comm.c starts the nonblocking
 * form and waits here: MPI_Test in a loop, napping after the first fast polls, until done
 * or until the timeout has passed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "comm/comm_check.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int comm_timeout_from_env(double *timeout_s, Err *err) {
    const char *v = getenv("TLM_COMM_TIMEOUT");
    *timeout_s = COMM_DEFAULT_TIMEOUT_S;
    if (v == NULL || v[0] == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    const double t = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !isfinite(t) || t < 0)
        return err_set(err, "TLM_COMM_TIMEOUT=%s: expected seconds, a number >= 0 (0 waits "
                            "forever; unset: %d)", v, COMM_DEFAULT_TIMEOUT_S);
    *timeout_s = t;
    return 0;
}

int comm_timeout_fail(const Comm *c, CommGroup g, Err *err) {
    return err_set(err, "still waiting after %.0f s (TLM_COMM_TIMEOUT) for the %s group "
                        "(rank %d of %d): a peer is dead, stuck or far behind (raise "
                        "TLM_COMM_TIMEOUT if ranks legitimately drift this far apart)",
                   c->timeout_s, comm_group_name(g), c->rank[g], c->size[g]);
}

int comm_mpi_wait(const Comm *c, CommGroup g, MPI_Request *req, Err *err) {
    const double start = now_s();
    for (long poll = 0;; poll++) {
        int done = 0;
        MPI_CHECK(MPI_Test(req, &done, MPI_STATUS_IGNORE), err);
        if (done)
            return 0;
        if (c->timeout_s > 0 && now_s() - start > c->timeout_s)
            return comm_timeout_fail(c, g, err); /* the request stays: comm_abort follows */
        if (poll > 1000) { /* past ~1000 fast polls, 50 us naps: a waiting rank idles */
            struct timespec nap = {0, 50000};
            nanosleep(&nap, NULL);
        }
    }
}
