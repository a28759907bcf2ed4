/* comm/grid.c -- MPI start-up, the tp x dp split and the one-node-per-tp-group check. */
#include "comm/grid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "comm/comm_check.h"
#include "io/base/log.h"

/* A communicator handle worth freeing: neither MPI_COMM_NULL nor a zeroed field. */
static int comm_handle_live(MPI_Comm c) { return c != MPI_COMM_NULL && c != (MPI_Comm)0; }

static void short_hostname(char *out, size_t n_bytes) {
    if (gethostname(out, n_bytes) != 0)
        snprintf(out, n_bytes, "unknown-host");
    out[n_bytes - 1] = '\0';
    char *dot = strchr(out, '.');
    if (dot != NULL && dot != out)
        *dot = '\0';
}

static const char *host_of(const char *hosts, int rank) {
    return hosts != NULL ? hosts + (size_t)rank * GRID_HOST_BYTES : "?";
}

int grid_check_placement(int world, int tp, const int *node_of_rank, const char *hosts,
                         Err *err) {
    if (tp < 1 || world < 1)
        return err_set(err, "tp=%d, world %d: both must be >= 1", tp, world);
    for (int first = 0; first < world; first += tp) {
        for (int r = first + 1; r < first + tp && r < world; r++) {
            if (node_of_rank[r] == node_of_rank[first])
                continue;
            /* The group spans two nodes. Either some node holds a rank count that is not
             * a multiple of tp, or the ranks were dealt round-robin over the nodes. */
            for (int a = 0; a < world; a++) {
                int on_node = 0;
                for (int b = 0; b < world; b++)
                    on_node += node_of_rank[b] == node_of_rank[a];
                if (on_node % tp != 0)
                    return err_set(err,
                                   "tp=%d but node %s has %d ranks (world %d): a tp group "
                                   "must sit inside one node; launch a multiple of %d ranks "
                                   "per node (mpirun --npernode N, srun --ntasks-per-node N) "
                                   "or lower parallel.tp",
                                   tp, host_of(hosts, a), on_node, world, tp);
            }
            return err_set(err,
                           "tp=%d: tp group %d (world ranks %d..%d) spans nodes %s (rank %d) "
                           "and %s (rank %d): ranks must be numbered node by node; map them "
                           "by slot (mpirun --map-by slot or core, not --map-by node; srun "
                           "--distribution=block)",
                           tp, first / tp, first, first + tp - 1, host_of(hosts, first),
                           first, host_of(hosts, r), r);
        }
    }
    return 0;
}

/* Every rank learns the node (its lowest world rank: *leader for this rank) and the
 * host name of every rank: node_of (world) and hosts (world, GRID_HOST_BYTES). */
static int gather_nodes(const Grid *g, int *leader, int *node_of, char *hosts, Err *err) {
    *leader = g->rank;
    MPI_CHECK(MPI_Allreduce(&g->rank, leader, 1, MPI_INT, MPI_MIN, g->node_comm), err);
    MPI_CHECK(MPI_Allgather(leader, 1, MPI_INT, node_of, 1, MPI_INT, g->world_comm), err);
    MPI_CHECK(MPI_Allgather(g->host, GRID_HOST_BYTES, MPI_CHAR, hosts, GRID_HOST_BYTES,
                            MPI_CHAR, g->world_comm),
              err);
    return 0;
}

/* Fills node/n_nodes and checks placement: every rank learns the node and host of every
 * rank, so all ranks reach the same verdict. */
static int grid_check_nodes(Grid *g, Err *err) {
    int leader = g->rank;
    int *node_of = calloc((size_t)g->world, sizeof *node_of);
    char *hosts = calloc((size_t)g->world, GRID_HOST_BYTES);
    int rc = -1;
    if (node_of == NULL || hosts == NULL) {
        err_set(err, "out of memory for the node table of %d ranks", g->world);
        goto done;
    }
    if (gather_nodes(g, &leader, node_of, hosts, err) != 0) {
        err_prefix(err, "finding the node of every rank: ");
        goto done;
    }
    g->n_nodes = 0;
    for (int r = 0; r < g->world; r++) {
        if (node_of[r] != r)
            continue; /* rank r leads its node when it is its node's lowest rank */
        if (r == leader)
            g->node = g->n_nodes;
        g->n_nodes++;
    }
    rc = grid_check_placement(g->world, g->tp, node_of, hosts, err);
done:
    free(hosts);
    free(node_of);
    return rc;
}

/* The tp and dp communicators: ranks of one tp group are consecutive world ranks. */
static int grid_split(Grid *g, Err *err) {
    int n = 0;
    MPI_CHECK(MPI_Comm_split(g->world_comm, g->dp_rank, g->tp_rank, &g->tp_comm), err);
    MPI_CHECK(MPI_Comm_set_errhandler(g->tp_comm, MPI_ERRORS_RETURN), err);
    MPI_CHECK(MPI_Comm_split(g->world_comm, g->tp_rank, g->dp_rank, &g->dp_comm), err);
    MPI_CHECK(MPI_Comm_set_errhandler(g->dp_comm, MPI_ERRORS_RETURN), err);
    MPI_CHECK(MPI_Comm_size(g->tp_comm, &n), err);
    if (n != g->tp)
        return err_set(err, "tp group has %d ranks, expected %d", n, g->tp);
    MPI_CHECK(MPI_Comm_size(g->dp_comm, &n), err);
    if (n != g->dp)
        return err_set(err, "dp group has %d ranks, expected %d", n, g->dp);
    return 0;
}

/* MPI_Init_thread unless MPI already runs (then g does not own it), the abort hook, and
 * g's world rank and size; errors return instead of aborting from here on. */
static int start_mpi(int *argc, char ***argv, Grid *g, int *provided, Err *err) {
    int started = 0;
    MPI_CHECK(MPI_Initialized(&started), err);
    if (!started) {
        const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, provided);
        if (rc != MPI_SUCCESS)
            return err_set(err, "MPI_Init_thread failed (code %d) on host %s", rc, g->host);
        g->owns_mpi = 1;
    } else {
        MPI_CHECK(MPI_Query_thread(provided), err);
    }
    log_set_abort_hook(comm_abort);
    g->world_comm = MPI_COMM_WORLD;
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), err);
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &g->rank), err);
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &g->world), err);
    return 0;
}

/* The ranks sharing this rank's node: g->node_comm, local_rank, local_size. */
static int open_node_comm(Grid *g, Err *err) {
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g->rank,
                                  MPI_INFO_NULL, &g->node_comm),
              err);
    MPI_CHECK(MPI_Comm_set_errhandler(g->node_comm, MPI_ERRORS_RETURN), err);
    MPI_CHECK(MPI_Comm_rank(g->node_comm, &g->local_rank), err);
    MPI_CHECK(MPI_Comm_size(g->node_comm, &g->local_size), err);
    return 0;
}

int grid_init(int *argc, char ***argv, int tp, Grid *g, Err *err) {
    memset(g, 0, sizeof *g);
    g->world_comm = g->node_comm = g->tp_comm = g->dp_comm = MPI_COMM_NULL;
    short_hostname(g->host, sizeof g->host);

    int provided = 0;
    if (start_mpi(argc, argv, g, &provided, err) != 0)
        return err_prefix(err, "starting MPI: ");
    log_set_identity(g->rank, g->world, g->host, -1);
    if (provided < MPI_THREAD_FUNNELED)
        return err_set(err, "the MPI library provides thread level %d, below "
                            "MPI_THREAD_FUNNELED", provided);

    if (tp < 1)
        return err_set(err, "parallel.tp must be >= 1, got %d", tp);
    if (g->world % tp != 0)
        return err_set(err,
                       "world of %d ranks is not divisible by tp=%d (dp = world / "
                       "tp must be whole): launch a multiple of %d ranks or change "
                       "parallel.tp",
                       g->world, tp, tp);
    g->tp = tp;
    g->dp = g->world / tp;
    g->tp_rank = g->rank % tp;
    g->dp_rank = g->rank / tp;

    if (open_node_comm(g, err) != 0)
        return err_prefix(err, "starting MPI: ");
    if (grid_check_nodes(g, err) != 0)
        return -1;
    if (grid_split(g, err) != 0)
        return err_prefix(err, "splitting tp and dp groups: ");
    g->ready = 1;
    log_debug("grid: rank %d/%d tp %d/%d dp %d/%d, node %d/%d (%s), local rank %d/%d",
              g->rank, g->world, g->tp_rank, g->tp, g->dp_rank, g->dp, g->node, g->n_nodes,
              g->host, g->local_rank, g->local_size);
    return 0;
}

void grid_free(Grid *g) {
    if (g == NULL)
        return;
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down) {
        /* Reverse order of creation; the world communicator is MPI's, not ours. */
        if (comm_handle_live(g->dp_comm))
            MPI_Comm_free(&g->dp_comm);
        if (comm_handle_live(g->tp_comm))
            MPI_Comm_free(&g->tp_comm);
        if (comm_handle_live(g->node_comm))
            MPI_Comm_free(&g->node_comm);
        if (g->owns_mpi)
            MPI_Finalize();
    }
    memset(g, 0, sizeof *g);
    g->world_comm = g->node_comm = g->tp_comm = g->dp_comm = MPI_COMM_NULL;
}
