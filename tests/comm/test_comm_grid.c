/* tests/comm/test_comm_grid.c -- the process grid under mpiexec -n N.
 * For every tp from 0 to N + 1: a divisor of N gives contiguous tp groups and strided dp
 * groups (checked by gathering world ranks over each group, through MPI and through
 * comm/); any other tp fails on every rank with a message naming world and tp. The
 * node-placement rule is checked on made-up multi-node layouts (no test machine has
 * several nodes). MPI is started here, so grid_init joins it and grid_free leaves it. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "comm/comm.h"
#include "io/base/log.h"
#include "tests/testutil.h"

static long long g_checks, g_bad;

static void check(int ok, const char *what, const char *detail) {
    g_checks++;
    if (!ok) {
        g_bad++;
        log_error("%s%s%s", what, detail[0] ? ": " : "", detail);
    }
}

/* Gathers world ranks over group g of c and compares with first + k * stride. */
static void check_members(Comm *c, CommGroup g, int rank, int first, int stride) {
    int32_t ranks[64], me = rank;
    Err err;
    int n = comm_size(c, g);
    char what[96];
    snprintf(what, sizeof what, "members of the %s group of rank %d", comm_group_name(g), rank);
    if (n > 64 || comm_all_gather(c, g, &me, ranks, 1, COMM_I32, &err) != 0) {
        check(0, what, n > 64 ? "group too large for the test" : err.msg);
        return;
    }
    for (int k = 0; k < n; k++)
        check(ranks[k] == first + k * stride, what, ranks[k] == first + k * stride ? "" : "wrong");
}

static void check_layout(int tp) {
    Grid g;
    Err err;
    char what[96];
    snprintf(what, sizeof what, "grid_init(tp=%d)", tp);
    if (grid_init(NULL, NULL, tp, &g, &err) != 0) {
        check(0, what, err.msg);
        grid_free(&g);
        return;
    }
    check(g.tp == tp && g.dp * tp == g.world, what, "tp * dp != world");
    check(g.tp_rank == g.rank % tp && g.dp_rank == g.rank / tp, what, "rank != dp_rank*tp+tp_rank");
    check(g.n_nodes == 1 && g.node == 0 && g.local_size == g.world && g.local_rank == g.rank,
          what, "one node expected");
    Comm *c = NULL;
    if (comm_open(&g, ops_cpu(), &c, &err) != 0) {
        check(0, what, err.msg);
    } else {
        check_members(c, COMM_TP, g.rank, g.dp_rank * tp, 1); /* contiguous */
        check_members(c, COMM_DP, g.rank, g.tp_rank, tp);     /* strided */
        check_members(c, COMM_WORLD, g.rank, 0, 1);
    }
    comm_close(&c);
    grid_free(&g);
    grid_free(&g); /* safe twice */
}

static void check_refused(int tp, int world) {
    Grid g;
    Err err;
    char want1[64], want2[32], what[64];
    snprintf(what, sizeof what, "grid_init(tp=%d) on %d ranks must fail", tp, world);
    int rc = grid_init(NULL, NULL, tp, &g, &err);
    if (tp < 1) {
        snprintf(want1, sizeof want1, "parallel.tp must be >= 1");
        snprintf(want2, sizeof want2, "got %d", tp);
    } else {
        snprintf(want1, sizeof want1, "world of %d ranks is not divisible", world);
        snprintf(want2, sizeof want2, "tp=%d", tp);
    }
    check(rc != 0, what, "it succeeded");
    if (rc != 0) {
        check(strstr(err.msg, want1) != NULL && strstr(err.msg, want2) != NULL, what, err.msg);
        if (g.rank == 0)
            printf("refused as expected: %s\n", err.msg);
    }
    grid_free(&g);
}

/* Multi-node layouts for the pure placement rule. */
static void check_placement(int world, int tp, int per_node, int round_robin, const char *want) {
    int node_of[64];
    char hosts[64 * GRID_HOST_BYTES];
    const int n_nodes = (world + per_node - 1) / per_node;
    for (int r = 0; r < world; r++) {
        int node = round_robin ? r % n_nodes : r / per_node;
        node_of[r] = round_robin ? node : node * per_node; /* ids need not be ranks */
        snprintf(hosts + r * GRID_HOST_BYTES, GRID_HOST_BYTES, "node-%c", 'a' + node);
    }
    Err err;
    err_clear(&err);
    int rc = grid_check_placement(world, tp, node_of, hosts, &err);
    char what[96];
    snprintf(what, sizeof what, "placement world=%d tp=%d %d/node%s", world, tp, per_node,
             round_robin ? " round-robin" : "");
    if (want == NULL) {
        check(rc == 0, what, err.msg);
    } else {
        check(rc != 0 && strstr(err.msg, want) != NULL, what, rc ? err.msg : "accepted");
    }
}

int main(int argc, char **argv) {
    int provided = 0, rank = 0, world = 1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);

    for (int tp = 0; tp <= world + 1; tp++) {
        if (tp >= 1 && world % tp == 0)
            check_layout(tp);
        else
            check_refused(tp, world);
    }
    check_placement(16, 8, 8, 0, NULL);
    check_placement(16, 1, 8, 1, NULL);
    check_placement(8, 8, 4, 0, "tp=8 but node node-a has 4 ranks");
    check_placement(12, 4, 6, 0, "has 6 ranks");
    check_placement(16, 4, 8, 1, "spans nodes node-a (rank 0) and node-b (rank 1)");
    check_placement(16, 4, 8, 1, "--map-by slot");
    Grid zero;
    memset(&zero, 0, sizeof zero);
    grid_free(&zero); /* a zeroed struct is fine */

    long long mine[2] = {g_checks, g_bad}, total[2] = {0, 0};
    MPI_Allreduce(mine, total, 2, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    int status = total[1] != 0; /* world-summed: every rank gives the same verdict */
    if (rank == 0) {
        printf("test_comm_grid world=%d: %lld checks, %lld failed\n", world, total[0], total[1]);
        status = tu_report(total[1]);
    }
    MPI_Finalize();
    return status;
}
