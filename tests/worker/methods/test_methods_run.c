/* tests/worker/methods/test_methods_run.c -- tent, eata and come online through ttl_run on the
 * bundled demo job (jobs/demo.yaml: the repository's tiny Llama, V 2002), 6 samples in
 * stream batches of 3, answers of up to 24 tokens: each run must finish and write
 * generated_predictions.jsonl, scores.jsonl and metrics.jsonl with one line per sample
 * (batch_size 1: one update step each) and summary.json; tent and come use every sample
 * with an answer. The offline setting is refused with a message that says why (its
 * answers come after the update epoch, so there is no entropy to minimise). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/testutil.h"
#include "worker/loop/ttl.h"

#define N_SAMPLES 6

static int count_lines(const char *path) {
    size_t n_bytes;
    char *text = tu_read_file(path, &n_bytes);
    if (text == NULL)
        return -1;
    int n = 0;
    for (size_t i = 0; i < n_bytes; i++)
        n += text[i] == '\n';
    free(text);
    return n;
}

static int run(const char *method, const char *setting, TtlSummary *sum, Err *err,
               char *dir, size_t dir_bytes) {
    JobSpec job;
    if (job_load("jobs/demo.yaml", &job, err) != 0)
        return -1;
    snprintf(dir, dir_bytes, "%s", tu_path(tu_tmp_dir(), method));
    tu_fresh_dir(dir);
    char sets[6][1100];
    snprintf(sets[0], sizeof sets[0], "method.name=%s", method);
    snprintf(sets[1], sizeof sets[1], "method.setting=%s", setting);
    snprintf(sets[2], sizeof sets[2], "data.max_samples=%d", N_SAMPLES);
    snprintf(sets[3], sizeof sets[3], "method.stream_batch=3");
    snprintf(sets[4], sizeof sets[4], "output.dir=%s", dir);
    snprintf(sets[5], sizeof sets[5], "optim.lr=1.0e-3");
    for (int i = 0; i < 6; i++)
        if (job_set(&job, sets[i], err) != 0)
            return -1;
    return ttl_run(&job, NULL, sum, err);
}

static int check_online(const char *method) {
    TtlSummary sum;
    Err err = {{0}};
    char dir[1024];
    if (run(method, "online", &sum, &err, dir, sizeof dir) != 0) {
        printf("FAIL: %s online: %s\n", method, err.msg);
        return 1;
    }
    int fails = 0;
    static const char *const files[] = {"generated_predictions.jsonl", "scores.jsonl",
                                        "metrics.jsonl"};
    for (int i = 0; i < 3; i++) {
        const int n = count_lines(tu_path(dir, files[i]));
        if (n != N_SAMPLES) {
            printf("FAIL: %s: %s has %d lines, expected %d\n", method, files[i], n, N_SAMPLES);
            fails++;
        }
    }
    if (count_lines(tu_path(dir, "summary.json")) < 0) {
        printf("FAIL: %s: no summary.json\n", method);
        fails++;
    }
    if (sum.samples != N_SAMPLES || sum.steps != N_SAMPLES) {
        printf("FAIL: %s: %lld samples, %lld steps\n", method, (long long)sum.samples,
               (long long)sum.steps);
        fails++;
    }
    if (strcmp(method, "eata") != 0 && sum.selected == 0) {
        printf("FAIL: %s selected nothing (every sample with an answer counts)\n", method);
        fails++;
    }
    printf("%s %s online: %lld samples, %lld selected, %lld steps, ppl %.1f -> %.1f, "
           "%lld generated tokens\n", fails ? "FAIL" : "ok", method, (long long)sum.samples,
           (long long)sum.selected, (long long)sum.steps, sum.ppl_first, sum.ppl_last,
           (long long)sum.gen_tokens);
    return fails;
}

int main(void) {
    if (chdir(tu_source_dir()) != 0) { /* the demo job's paths are relative to the root */
        printf("FAIL: cannot chdir to %s\n", tu_source_dir());
        return 1;
    }
    int fails = 0;
    fails += check_online("tent");
    fails += check_online("eata");
    fails += check_online("come");
    TtlSummary sum;
    Err err = {{0}};
    char dir[1024];
    if (run("tent", "offline", &sum, &err, dir, sizeof dir) == 0 ||
        strstr(err.msg, "online") == NULL) {
        printf("FAIL: tent offline: expected a refusal naming the online setting, got \"%s\"\n",
               err.msg);
        fails++;
    } else {
        printf("ok tent offline refused: %s\n", err.msg);
    }
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "PASSED", fails);
    return fails != 0;
}
