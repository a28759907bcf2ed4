/* comm/bind.c -- the job-wide choice of backend and GPU (comm/bind.h): each rank probes
 * its own devices, the facts are gathered over the world, and every rank reads the same
 * verdict off the same array. */
#include "comm/bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_check.h"
#include "io/base/log.h"

#define BIND_LIST_MAX 8 /* ranks named in one message; the rest are counted */

int bind_device(int local_rank, int n_visible) {
    return n_visible < 1 || local_rank < 0 ? -1 : local_rank % n_visible;
}

/* Appends "r (host), r (host), ..." of the ranks whose usable flag equals `usable` to buf;
 * returns how many there are. */
static int list_ranks(char *buf, size_t n_bytes, int world, const BindRank *ranks, int usable) {
    int n = 0;
    size_t len = 0;
    buf[0] = '\0';
    for (int r = 0; r < world; r++) {
        if ((ranks[r].usable != 0) != (usable != 0))
            continue;
        if (n < BIND_LIST_MAX && len < n_bytes)
            len += (size_t)snprintf(buf + len, n_bytes - len, "%s%d (%s)", n ? ", " : "", r,
                                    ranks[r].host);
        else if (n == BIND_LIST_MAX && len < n_bytes)
            len += (size_t)snprintf(buf + len, n_bytes - len, ", ...");
        n++;
    }
    return n;
}

/* -1 with err when two ranks of one tp group drive the same GPU. */
static int check_tp_groups(int world, int tp, const BindRank *ranks, Err *err) {
    for (int first = 0; first + tp <= world; first += tp)
        for (int a = first; a < first + tp; a++)
            for (int b = a + 1; b < first + tp; b++) {
                if (strcmp(ranks[a].bus_id, ranks[b].bus_id) != 0)
                    continue;
                return err_set(err,
                               "parallel.tp = %d: ranks %d and %d of tp group %d (host %s) "
                               "both drive GPU %s (device %d of the %d they see): "
                               "a tp group needs one GPU per rank, so tp can be at most the "
                               "GPUs of a node; lower parallel.tp or give each rank its own "
                               "GPU (srun --gpus-per-task=1, or CUDA_VISIBLE_DEVICES)",
                               tp, a, b, first / tp, ranks[a].host, ranks[a].bus_id,
                               ranks[a].device, ranks[a].n_visible);
            }
    return 0;
}

int bind_check(int world, int tp, const char *backend, const BindRank *ranks, int *use_cuda,
               Err *err) {
    *use_cuda = 0;
    if (world < 1 || tp < 1 || world % tp != 0)
        return err_set(err, "world %d, tp %d: tp must divide the world", world, tp);
    const int is_auto = strcmp(backend, "auto") == 0;
    if (!is_auto && strcmp(backend, "cuda") != 0)
        return err_set(err, "backend \"%s\": bind_check decides only cuda or auto", backend);
    char with[512], without[512];
    const int n_with = list_ranks(with, sizeof with, world, ranks, 1);
    const int n_without = list_ranks(without, sizeof without, world, ranks, 0);
    if (is_auto && n_with == 0)
        return 0; /* no rank has a GPU: all on CPU */
    if (!is_auto && n_without > 0)
        return err_set(err,
                       "backend cuda: %d of %d ranks have no usable GPU: rank%s %s; every "
                       "rank needs one (one rank per GPU: srun --gpus-per-task=1, mpirun -np "
                       "= GPUs per node x nodes), or set backend: cpu",
                       n_without, world, n_without > 1 ? "s" : "", without);
    if (is_auto && n_without > 0)
        return err_set(err,
                       "backend auto: %d of %d ranks have a GPU (rank%s %s) but rank%s %s "
                       "ha%s none: a job runs all on GPU or all on CPU, never mixed; give "
                       "every rank a GPU (srun --gpus-per-task=1, or CUDA_VISIBLE_DEVICES) "
                       "or set backend: cpu",
                       n_with, world, n_with > 1 ? "s" : "", with, n_without > 1 ? "s" : "",
                       without, n_without > 1 ? "ve" : "s");
    if (check_tp_groups(world, tp, ranks, err) != 0)
        return -1;
    *use_cuda = 1;
    return 0;
}

/* TLM_TEST_FAKE_GPUS for world rank `rank`: the count, or -1 when the variable is unset.
 * A bad value is an error (a test that meant to fake must not silently probe). */
static int fake_count(int rank, int *count, Err *err) {
    *count = -1;
    const char *v = getenv("TLM_TEST_FAKE_GPUS");
    if (v == NULL || v[0] == '\0')
        return 0;
    const char *p = v;
    for (int r = 0;; r++) {
        char *end = NULL;
        long n = strtol(p, &end, 10);
        if (end == p || n < 0 || n > 1024 || (*end != ',' && *end != '\0'))
            return err_set(err, "TLM_TEST_FAKE_GPUS=\"%s\": expected N or N0,N1,... (one "
                           "count per world rank)", v);
        if (r == rank || (r == 0 && *end == '\0' && p == v)) {
            *count = (int)n;
            return 0;
        }
        if (*end == '\0')
            return err_set(err, "TLM_TEST_FAKE_GPUS=\"%s\": no count for world rank %d", v,
                           rank);
        p = end + 1;
    }
}

/* The device's entry in CUDA_VISIBLE_DEVICES (its index when unset) into buf. */
static void visible_entry(int device, char *buf, size_t n_bytes) {
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    snprintf(buf, n_bytes, "%d", device);
    if (v == NULL || v[0] == '\0')
        return;
    const char *p = v;
    for (int i = 0; i < device && p != NULL; i++)
        if ((p = strchr(p, ',')) != NULL)
            p++;
    if (p == NULL)
        return;
    size_t len = strcspn(p, ",");
    snprintf(buf, n_bytes, "%.*s", (int)(len < n_bytes ? len : n_bytes - 1), p);
}

/* Fills this rank's facts; on a rank that has no usable GPU, why not goes to reason. */
static int probe(const Grid *g, BindRank *me, Binding *b, char *reason, size_t n_reason,
                 Err *err) {
    int fake = -1;
    if (fake_count(g->rank, &fake, err) != 0)
        return -1;
    b->fake = fake >= 0;
    me->n_visible = b->fake ? fake : ops_cuda_device_count();
    me->device = bind_device(g->local_rank, me->n_visible);
    snprintf(me->host, sizeof me->host, "%s", g->host);
    snprintf(reason, n_reason, "it sees no CUDA device (CUDA_VISIBLE_DEVICES=%s)",
             getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "unset");
    if (me->device < 0)
        return 0;
    if (b->fake) {
        char entry[16];
        visible_entry(me->device, entry, sizeof entry);
        snprintf(me->bus_id, sizeof me->bus_id, "fake:%s:%s", g->host, entry);
        me->usable = 1;
        return 0;
    }
    Err open_err = {{0}};
    b->ops = ops_cuda(me->device, &open_err);
    me->usable = b->ops != NULL;
    if (!me->usable)
        snprintf(reason, n_reason, "%.900s", open_err.msg);
    else if (ops_cuda_bus_id(me->device, me->bus_id, sizeof me->bus_id) != 0)
        snprintf(me->bus_id, sizeof me->bus_id, "%s:device%d", g->host, me->device);
    return 0;
}

static void log_choice(const Grid *g, const Binding *b) {
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    if (b->device < 0) {
        if (g->rank == 0)
            log_info("backend cpu on all %d ranks (no rank sees a GPU)", g->world);
        return;
    }
    log_info("rank %d (local %d of %d on %s): GPU %d of the %d it sees, PCI %s, "
             "CUDA_VISIBLE_DEVICES=%s%s", g->rank, g->local_rank, g->local_size, g->host,
             b->device, b->n_visible, b->bus_id, cvd ? cvd : "unset",
             b->fake ? " (TLM_TEST_FAKE_GPUS: nothing opened)" : "");
}

int bind_backend(const Grid *g, const char *backend, Binding *b, Err *err) {
    memset(b, 0, sizeof *b);
    b->device = -1;
    if (strcmp(backend, "cpu") == 0) {
        b->ops = ops_cpu();
        return 0;
    }
    if (strcmp(backend, "cuda") != 0 && strcmp(backend, "auto") != 0)
        return err_set(err, "backend \"%s\": expected auto, cpu or cuda", backend);
    BindRank me = {0};
    char reason[ERR_MSG_BYTES];
    /* A bad TLM_TEST_FAKE_GPUS shows on every rank alike: same environment. */
    if (probe(g, &me, b, reason, sizeof reason, err) != 0)
        return -1;
    BindRank *all = calloc((size_t)g->world, sizeof *all);
    if (all == NULL)
        return err_set(err, "out of memory gathering %d ranks' devices", g->world);
    const int rc = MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE,
                                 g->world_comm);
    int use_cuda = 0;
    if (rc != MPI_SUCCESS) {
        comm_mpi_fail(err, TLM_SRC_FILE, __LINE__, __func__, "MPI_Allgather", rc);
        free(all);
        return -1;
    }
    const int verdict = bind_check(g->world, g->tp, backend, all, &use_cuda, err);
    free(all);
    if (verdict != 0) {
        const size_t len = strlen(err->msg);
        if (!me.usable && len < sizeof err->msg)
            snprintf(err->msg + len, sizeof err->msg - len, " (here, rank %d: %.400s)", g->rank,
                     reason);
        return -1;
    }
    b->n_visible = me.n_visible;
    if (use_cuda) {
        b->device = me.device;
        snprintf(b->bus_id, sizeof b->bus_id, "%s", me.bus_id);
    } else {
        b->ops = ops_cpu();
    }
    log_choice(g, b);
    return 0;
}
