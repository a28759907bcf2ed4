/* tests/comm/comm_fail_test.c -- one rank fails, the whole job must stop.
 * Usage: comm_fail_test TP FAIL_RANK (under mpiexec). After grid_init (which points the log
 * abort hook at comm_abort) rank FAIL_RANK reports a bad job setting with log_fatal, as
 * the launcher would; every other rank waits in a barrier FAIL_RANK never enters. A job
 * that hangs or exits 0 is a failure; tests/comm/expect_abort.sh judges the outcome. */
#include <stdio.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "io/base/log.h"

int main(int argc, char **argv) {
    const int tp = argc > 1 ? atoi(argv[1]) : 1;
    const int fail_rank = argc > 2 ? atoi(argv[2]) : 1;
    Grid grid;
    Comm *comm = NULL;
    Err err;
    if (grid_init(&argc, &argv, tp, &grid, &err) != 0)
        log_fatal("%s", err.msg);
    if (comm_open(&grid, ops_cpu(), &comm, &err) != 0)
        log_fatal("%s", err.msg);
    if (comm_barrier(comm, COMM_WORLD, &err) != 0) /* everyone is up */
        log_fatal("%s", err.msg);
    if (grid.rank == fail_rank)
        log_fatal("jobs/bad.yaml:12:9: lora.rank: expected a positive integer, got "
                  "\"sixteen\"");
    /* Blocks forever unless the abort reaches this rank. */
    if (comm_barrier(comm, COMM_WORLD, &err) != 0)
        log_fatal("%s", err.msg);
    printf("rank %d passed a barrier that rank %d never entered\n", grid.rank, fail_rank);
    comm_close(&comm);
    grid_free(&grid);
    return 0;
}
