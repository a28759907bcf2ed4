/* tests/comm/test_comm_bind.c -- the job-wide GPU binding (comm/bind.h) without a GPU.
 * Every rank first checks the verdict rule bind_check on made-up layouts no test machine
 * has (8 ranks on 4 shared GPUs with tp 8, srun's one GPU per task, mixed GPU/CPU
 * ranks), then bind_backend itself over the real world with device counts faked through
 * TLM_TEST_FAKE_GPUS: the same verdict on every rank, the device local_rank % visible.
 * Run under mpiexec -n 2 (the collective cases need two ranks). Failures are counted per
 * rank and summed, so every rank gives the same answer. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/bind.h"
#include "io/base/log.h"

static long long g_checks, g_bad;

static void check(int ok, const char *what, const char *detail) {
    g_checks++;
    if (!ok) {
        g_bad++;
        log_error("%s%s%s", what, detail[0] ? ": " : "", detail);
    }
}

/* World ranks on nodes of per_node ranks each, every rank seeing n_visible GPUs: the
 * node's set shared (mpirun) or one of its own (own != 0: srun --gpus-per-task=1). */
static void layout(BindRank *r, int world, int per_node, int n_visible, int own) {
    for (int i = 0; i < world; i++) {
        memset(&r[i], 0, sizeof r[i]);
        const int local = i % per_node;
        r[i].n_visible = n_visible;
        r[i].device = bind_device(local, n_visible);
        r[i].usable = r[i].device >= 0;
        snprintf(r[i].host, sizeof r[i].host, "node%d", i / per_node);
        if (r[i].usable)
            snprintf(r[i].bus_id, sizeof r[i].bus_id, "%s:%d", r[i].host,
                     own ? local : r[i].device);
    }
}

/* bind_check must give use_cuda == want (want >= 0), or fail with `needle` in its message. */
static void expect(const char *what, int world, int tp, const char *backend, const BindRank *r,
                   int want, const char *needle) {
    Err err = {{0}};
    int use_cuda = -1;
    const int rc = bind_check(world, tp, backend, r, &use_cuda, &err);
    if (want >= 0) {
        check(rc == 0, what, err.msg);
        check(rc != 0 || use_cuda == want, what, "wrong backend chosen");
    } else {
        check(rc != 0, what, "accepted");
        check(rc == 0 || strstr(err.msg, needle) != NULL, what, err.msg);
    }
}

static void check_rule(void) {
    check(bind_device(0, 4) == 0 && bind_device(5, 4) == 1 && bind_device(3, 1) == 0 &&
              bind_device(2, 0) == -1 && bind_device(7, 8) == 7,
          "bind_device", "local_rank % visible, -1 with none");
    BindRank r[16];
    layout(r, 8, 8, 4, 0);
    expect("tp 8 on 4 GPUs", 8, 8, "cuda", r, -1, "ranks 0 and 4 of tp group 0 (host node0)");
    expect("tp 8 on 4 GPUs, auto", 8, 8, "auto", r, -1, "tp can be at most the GPUs of a node");
    expect("tp 4 x dp 2 on 4 GPUs (each group its own 4)", 8, 4, "cuda", r, 1, "");
    expect("tp 2 x dp 4 on 4 GPUs (dp ranks share)", 8, 2, "cuda", r, 1, "");
    layout(r, 8, 8, 8, 0);
    expect("tp 8 on 8 GPUs", 8, 8, "cuda", r, 1, "");
    layout(r, 16, 8, 1, 1);
    expect("srun --gpus-per-task=1, tp 8, 2 nodes", 16, 8, "auto", r, 1, "");
    layout(r, 8, 8, 1, 0);
    expect("8 ranks sharing device 0 of one GPU, tp 2", 8, 2, "cuda", r, -1,
           "both drive GPU node0:0");
    layout(r, 4, 4, 2, 0);
    r[1].usable = 0; /* it sees GPUs but the backend did not open on it */
    expect("cuda, rank 1 unusable", 4, 1, "cuda", r, -1, "1 of 4 ranks have no usable GPU: rank 1 (node0)");
    expect("auto, rank 1 unusable", 4, 1, "auto", r, -1, "but rank 1 (node0) has none");
    layout(r, 4, 4, 0, 0);
    expect("auto, no GPU anywhere", 4, 1, "auto", r, 0, "");
    expect("cuda, no GPU anywhere", 4, 2, "cuda", r, -1, "4 of 4 ranks have no usable GPU");
    expect("tp not dividing the world", 6, 4, "cuda", r, -1, "tp must divide the world");
}

/* bind_backend over the real world (2 ranks) with TLM_TEST_FAKE_GPUS = fake; want: the
 * device this rank must get (-1: CPU), or -2 for an error containing needle. */
static void expect_bind(const Grid *g, const char *fake, const char *backend, int want,
                        const char *needle) {
    char what[160];
    snprintf(what, sizeof what, "rank %d: bind_backend(%s, TLM_TEST_FAKE_GPUS=%s, tp %d)",
             g->rank, backend, fake, g->tp);
    setenv("TLM_TEST_FAKE_GPUS", fake, 1);
    Binding b;
    Err err = {{0}};
    const int rc = bind_backend(g, backend, &b, &err);
    unsetenv("TLM_TEST_FAKE_GPUS");
    if (want == -2) {
        check(rc != 0, what, "accepted");
        check(rc == 0 || strstr(err.msg, needle) != NULL, what, err.msg);
        return;
    }
    check(rc == 0, what, err.msg);
    check(rc != 0 || b.device == want, what, "wrong device");
    check(rc != 0 || (want >= 0 ? b.ops == NULL && b.fake : b.ops == ops_cpu()), what,
          "a fake GPU must open nothing; CPU must be the CPU backend");
}

static void check_collective(void) {
    Grid g;
    Err err = {{0}};
    if (grid_init(NULL, NULL, 1, &g, &err) != 0) {
        check(0, "grid_init(tp 1)", err.msg);
        return;
    }
    expect_bind(&g, "2", "auto", g.local_rank % 2, "");
    expect_bind(&g, "3", "cuda", g.local_rank % 3, "");
    expect_bind(&g, "0", "auto", -1, "");
    expect_bind(&g, "1,0", "auto", -2, "but rank 1 (");
    expect_bind(&g, "1,0", "cuda", -2, "have no usable GPU: rank 1 (");
    expect_bind(&g, "two", "auto", -2, "TLM_TEST_FAKE_GPUS=\"two\"");
    Binding b;
    check(bind_backend(&g, "cpu", &b, &err) == 0 && b.ops == ops_cpu() && b.device == -1,
          "bind_backend(cpu)", err.msg);
    check(bind_backend(&g, "tpu", &b, &err) != 0 && strstr(err.msg, "expected auto") != NULL,
          "bind_backend(tpu) must fail", err.msg);
    grid_free(&g);
    if (grid_init(NULL, NULL, 2, &g, &err) != 0) {
        check(0, "grid_init(tp 2)", err.msg);
        return;
    }
    /* mpirun on a node with one GPU: both ranks of the tp group land on it */
    expect_bind(&g, "1", "auto", -2, "both drive GPU fake:");
    /* srun --gpus-per-task=1: one GPU each, told apart by CUDA_VISIBLE_DEVICES */
    char mine[16];
    snprintf(mine, sizeof mine, "%d", g.rank);
    setenv("CUDA_VISIBLE_DEVICES", mine, 1);
    expect_bind(&g, "1", "cuda", 0, "");
    unsetenv("CUDA_VISIBLE_DEVICES");
    grid_free(&g);
}

int main(int argc, char **argv) {
    int provided = 0, rank = 0, world = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    unsetenv("TLM_TEST_FAKE_GPUS");
    check_rule();
    if (world == 2)
        check_collective();
    else
        check(0, "world", "run me under mpiexec -n 2");
    long long mine[2] = {g_checks, g_bad}, total[2] = {0, 0};
    MPI_Allreduce(mine, total, 2, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("test_comm_bind: %lld checks on %d ranks, %lld failed\n", total[0], world,
               total[1]);
    MPI_Finalize();
    return total[1] == 0 && total[0] > 0 ? 0 : 1;
}
