/* tests/worker/loop/test_ttl_dp.c -- the loop's dp seam (worker/loop/ttl_comm.c) under mpiexec: the
 * demo job run by every rank with a Comm (dp = world, tp = 1; sample i of a stream batch
 * on rank i mod dp) must give what one process gives (DESIGN §3: the same update
 * sequence for the same optim.batch_size): rank 0 reruns the job alone (comm NULL) and
 * compares scores.jsonl (selection identical, ce within 1e-5 relative) and the predictions
 * (identical). argv[1]: optim.batch_size (default 1). Every rank exits with the verdict
 * rank 0 broadcasts, so a failure is one clear message and a non-zero status. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/comm.h"
#include "comm/grid.h"
#include "tests/testutil.h"
#include "worker/loop/ttl.h"

static int run(const char *dir, const char *bs, Comm *comm, Err *err) {
    JobSpec job;
    char set_dir[4200], set_bs[64];
    snprintf(set_dir, sizeof set_dir, "output.dir=%s", dir);
    snprintf(set_bs, sizeof set_bs, "optim.batch_size=%s", bs);
    if (job_load("jobs/demo.yaml", &job, err) != 0 || job_set(&job, set_dir, err) != 0 ||
        job_set(&job, set_bs, err) != 0)
        return -1;
    TtlHooks hooks = {.comm = comm, .stop = NULL, .progress = 0};
    return ttl_run(&job, &hooks, NULL, err);
}

/* Compares two runs' outputs; returns the number of mismatches. */
static int compare(const char *a, const char *b) {
    int fails = 0, lines = 0;
    const char *files[] = {"scores.jsonl", "generated_predictions.jsonl"};
    for (int f = 0; f < 2; f++) {
        char *ta = tu_read_file(tu_path(a, files[f]), NULL);
        char *tb = tu_read_file(tu_path(b, files[f]), NULL);
        if (ta == NULL || tb == NULL) {
            printf("FAIL: cannot read %s\n", files[f]);
            return 1;
        }
        char *sa = NULL, *sb = NULL;
        double worst = 0;
        char *la = strtok_r(ta, "\n", &sa), *lb = strtok_r(tb, "\n", &sb);
        for (; la != NULL && lb != NULL; la = strtok_r(NULL, "\n", &sa),
                                         lb = strtok_r(NULL, "\n", &sb), lines++) {
            if (f == 1) {
                fails += strcmp(la, lb) != 0;
                continue;
            }
            json_t *ja = json_loads(la, 0, NULL), *jb = json_loads(lb, 0, NULL);
            const double ca = json_real_value(json_object_get(ja, "ce"));
            const double cb = json_real_value(json_object_get(jb, "ce"));
            const double r = fabs(ca - cb) / fabs(ca);
            worst = r > worst ? r : worst;
            fails += !(r <= 1e-5) || json_is_true(json_object_get(ja, "selected")) !=
                                         json_is_true(json_object_get(jb, "selected"));
            json_decref(ja);
            json_decref(jb);
        }
        fails += (la != NULL) != (lb != NULL);
        if (f == 0)
            printf("%s: ce max rel diff dp vs one process %.3g\n", files[f], worst);
        free(ta);
        free(tb);
    }
    printf("%d lines compared, %d mismatches\n", lines, fails);
    return fails;
}

int main(int argc, char **argv) {
    Grid g;
    Comm *c = NULL;
    Err err = {{0}};
    if (grid_init(&argc, &argv, 1, &g, &err) != 0 || comm_open(&g, ops_cpu(), &c, &err) != 0) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    const char *bs = argc > 1 ? argv[1] : "1";
    if (chdir(tu_source_dir()) != 0)
        return 1;
    char dp_dir[4096], one_dir[4096];
    snprintf(dp_dir, sizeof dp_dir, "%s/ttl_dp%d_bs%s", tu_tmp_dir(), g.world, bs);
    snprintf(one_dir, sizeof one_dir, "%s/ttl_dp1_bs%s", tu_tmp_dir(), bs);
    int32_t fails = 0;
    if (g.rank == 0) { /* the writer's dirs, fresh (tlm refuses earlier results) */
        tu_fresh_dir(dp_dir);
        tu_fresh_dir(one_dir);
    }
    if (run(dp_dir, bs, c, &err) != 0) {
        printf("FAIL: rank %d: dp run: %s\n", g.rank, err.msg);
        fails = 1;
    }
    if (g.rank == 0 && fails == 0) {
        if (run(one_dir, bs, NULL, &err) != 0) {
            printf("FAIL: one-process run: %s\n", err.msg);
            fails = 1;
        } else {
            fails = compare(dp_dir, one_dir);
        }
    }
    if (comm_all_reduce(c, COMM_WORLD, &fails, 1, COMM_I32, COMM_MAX, &err) != 0)
        fails = 1;
    if (g.rank == 0)
        printf("dp %d, batch_size %s: %s\n", g.world, bs, fails == 0 ? "ok" : "FAILED");
    comm_close(&c);
    grid_free(&g);
    return fails == 0 ? 0 : 1;
}
