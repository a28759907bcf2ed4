/* comm/grid.h -- the process grid: MPI world = tp x dp ranks, tp groups inside a node.
 * grid_init starts MPI (or joins an MPI someone else started), splits the world into
 * tensor-parallel groups of tp consecutive ranks (world rank r = dp_rank * tp + tp_rank)
 * and data-parallel groups of every tp-th rank, checks that each tp group sits on one
 * node, and sets the log identity and abort hook. It does not pick a GPU or open NCCL
 * (comm_open does) and does not read the job. MPI is initialized FUNNELED: every MPI and
 * comm call of a rank comes from the thread that called grid_init. */
#ifndef TLM_COMM_GRID_H
#define TLM_COMM_GRID_H

#include <mpi.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GRID_HOST_BYTES 64 /* host names are cut to 63 characters */

/* A plain, caller-owned struct: grid_init fills it, grid_free releases it. */
typedef struct Grid {
    int rank, world;            /* this process in MPI_COMM_WORLD */
    int tp, dp;                 /* world = tp * dp */
    int tp_rank, dp_rank;       /* rank = dp_rank * tp + tp_rank */
    int local_rank, local_size; /* on this node (the launcher's GPU index is local_rank) */
    int node, n_nodes;          /* node index, numbered by each node's lowest world rank */
    char host[GRID_HOST_BYTES]; /* short host name (up to the first '.') */
    MPI_Comm world_comm;        /* MPI_COMM_WORLD, errors returned */
    MPI_Comm node_comm;         /* the ranks of this node */
    MPI_Comm tp_comm;           /* my tp group, ranked by tp_rank */
    MPI_Comm dp_comm;           /* my dp group, ranked by dp_rank */
    int owns_mpi;               /* grid_init started MPI: grid_free finalizes it */
    int ready;                  /* grid_init completed */
} Grid;

/* Starts MPI (MPI_Init_thread, FUNNELED; an MPI already initialized is joined, not
 * finalized later) and fills *g for `tp` ranks per tensor-parallel group. argc/argv:
 * borrowed, as MPI_Init takes them (NULL allowed). A world of 1 without mpirun works.
 * Sets MPI_ERRORS_RETURN on every communicator, calls log_set_identity(rank, world,
 * host, -1) and points the log abort hook at comm_abort. Collective over the world.
 * Errors (the same verdict on every rank): tp < 1; world not divisible by tp; a tp group
 * spanning two nodes (the message names the node, its rank count and what to change).
 * On error MPI stays initialized and the abort hook set: stop with log_fatal, which
 * aborts every rank, or release with grid_free. */
int grid_init(int *argc, char ***argv, int tp, Grid *g, Err *err);

/* Frees the sub-communicators and, when grid_init started MPI, finalizes it. Every Comm
 * opened on the grid must be closed first. Accepts a zeroed struct; safe to call twice. */
void grid_free(Grid *g);

/* The placement rule, exposed so tests can feed layouts no test machine has.
 * node_of_rank (world): a node id per world rank (equal ids = same node); hosts: NULL or
 * world names of GRID_HOST_BYTES each (borrowed, host memory). Returns 0 when every tp
 * group (ranks g*tp .. g*tp+tp-1) sits on one node, else -1 with err saying why. */
int grid_check_placement(int world, int tp, const int *node_of_rank, const char *hosts,
                         Err *err);

#ifdef __cplusplus
}
#endif
#endif
