/* tests/launcher/test_run_ranks.c -- `mpirun -np N tlm run` reproduces the one-process
 * run (DESIGN §3, §4): the demo job at tp = 2, dp = 2 and tp = 2 x dp = 2 against tp = dp
 * = 1 with the same optim.batch_size. Predictions must be identical, per-sample ce within
 * 1e-5 relative, and the final adapter (exported from the last checkpoint) within 1e-4
 * relative (norm-wise, per tensor). argv: the mpiexec command line (as one string) and the
 * layout "ranks tp". Also: a job whose tp does not divide the KV heads is refused on
 * every rank with a message naming num_key_value_heads. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model/safetensors.h"
#include "tests/testutil.h"

/* The demo, short, with a final checkpoint to export. */
#define SETS "--set data.max_samples=24 --set output.checkpoint_every=1000"

static int run_job(const char *launch, const char *out, const char *extra) {
    return tu_system("cd '%s' && %s '%s' run jobs/demo.yaml " SETS " --set output.dir='%s' %s "
                     "> '%s.log' 2>&1", tu_source_dir(), launch, tu_tlm_bin(), out, extra, out);
}

static int export_adapter(const char *out) {
    return tu_system("'%s' export \"$(ls '%s'/ckpt-*.h5 | sort -V | tail -1)\" --peft '%s/peft' "
                     "> /dev/null", tu_tlm_bin(), out, out);
}

/* Per-sample ce of a scores.jsonl into ce (n_max); returns the count or -1. */
static int read_ce(const char *out, double *ce, int n_max) {
    char *text = tu_read_file(tu_path(out, "scores.jsonl"), NULL);
    if (text == NULL)
        return -1;
    int n = 0;
    for (char *l = strtok(text, "\n"); l != NULL && n < n_max; l = strtok(NULL, "\n")) {
        json_t *row = json_loads(l, 0, NULL);
        ce[n++] = json_number_value(json_object_get(row, "ce"));
        json_decref(row);
    }
    free(text);
    return n;
}

static int compare_adapters(const char *a_dir, const char *b_dir) {
    Err err;
    SafeTensors *a = st_open(tu_path(a_dir, "peft/adapter_model.safetensors"), &err);
    SafeTensors *b = a ? st_open(tu_path(b_dir, "peft/adapter_model.safetensors"), &err) : NULL;
    if (a == NULL || b == NULL) {
        st_close(a);
        return tu_fail("%s", err.msg);
    }
    int fails = 0;
    double worst = 0;
    for (int i = 0; i < st_count(a); i++) {
        StTensor ta = st_at(a, i), tb;
        if (st_get(b, ta.name, ta.ndim, ta.shape, &tb, &err) != 0 || ta.dtype != DTYPE_F32) {
            fails += tu_fail("%s", err.msg);
            continue;
        }
        double e;
        fails += tu_compare_norm(ta.name, tb.data, ta.data, (int64_t)(ta.n_bytes / 4), 1e-4, &e);
        worst = e > worst ? e : worst;
    }
    printf("final adapter: %d tensors, worst relative error %.3e\n", st_count(a), worst);
    st_close(b);
    st_close(a);
    return fails;
}

int main(int argc, char **argv) {
    if (argc != 4)
        return fprintf(stderr, "usage: test_run_ranks 'MPIEXEC ...' RANKS TP\n"), 2;
    const int ranks = atoi(argv[2]), tp = atoi(argv[3]);
    char one[4096], many[4096], launch[4096], set_tp[64];
    snprintf(one, sizeof one, "%s/ranks-one-%d-%d", tu_tmp_dir(), ranks, tp);
    snprintf(many, sizeof many, "%s/ranks-n%d-tp%d", tu_tmp_dir(), ranks, tp);
    snprintf(launch, sizeof launch, "%s -n %d", argv[1], ranks);
    snprintf(set_tp, sizeof set_tp, "--set parallel.tp=%d", tp);
    tu_system("rm -rf '%s' '%s'", one, many);
    if (run_job("", one, "") != 0 || run_job(launch, many, set_tp) != 0)
        return tu_report(tu_fail("tlm run (logs: %s.log, %s.log)", one, many));
    int fails = 0;
    fails += tu_check(tu_system("cmp '%s/generated_predictions.jsonl' "
                                "'%s/generated_predictions.jsonl'", one, many) == 0,
                      "predictions differ between 1 rank and %d ranks (tp %d)", ranks, tp);
    double ce1[64], ce2[64];
    const int n1 = read_ce(one, ce1, 64), n2 = read_ce(many, ce2, 64);
    fails += tu_check(n1 == 24 && n2 == 24, "%d and %d scored samples, want 24", n1, n2);
    double worst = 0;
    for (int i = 0; i < n1 && i < n2; i++) {
        const double e = fabs(ce2[i] - ce1[i]) / fabs(ce1[i]);
        worst = e > worst ? e : worst;
    }
    printf("%d ranks, tp %d: per-sample ce worst relative error %.3e\n", ranks, tp, worst);
    fails += tu_check(worst <= 1e-5, "ce differs by more than 1e-5 relative");
    if (export_adapter(one) != 0 || export_adapter(many) != 0)
        return tu_report(fails + tu_fail("tlm export"));
    fails += compare_adapters(one, many);
    /* tp = 4 cannot divide the demo model's 2 KV heads: refused on every rank, no hang */
    if (ranks == 4) {
        char bad[4096];
        snprintf(bad, sizeof bad, "%s/ranks-bad", tu_tmp_dir());
        const int rc = run_job(launch, bad, "--set parallel.tp=4");
        char *log = tu_read_file(tu_path(tu_tmp_dir(), "ranks-bad.log"), NULL);
        fails += tu_check(rc != 0 && log != NULL && strstr(log, "num_key_value_heads") != NULL,
                          "tp = 4 on 2 KV heads: exit %d, log %s", rc, log ? log : "(none)");
        free(log);
    }
    return tu_report(fails);
}
