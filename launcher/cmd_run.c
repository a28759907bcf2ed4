/* launcher/cmd_run.c -- `tlm run JOB.yaml [--set key=value]...`: loads and validates the
 * job, applies the overrides, prints the resolved job, and runs the TTL loop
 * (worker/ttl.h) in this process. Errors are one message on stderr and exit status 1.
 * SIGINT/SIGTERM ask the loop to stop after the current batch's outputs are written
 * (exit 130); a second signal kills at once. One process for now: the process grid
 * (mpirun, tp/dp) and --resume arrive with the distributed and checkpoint issues. */
#include "launcher/commands.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/log.h"
#include "io/model_config.h"
#include "jobs/job.h"
#include "worker/ttl.h"

static const char k_usage[] =
    "usage: tlm run JOB.yaml [--set key=value]...\n"
    "  Runs test-time learning on the job's stream: answers every prompt while adapting\n"
    "  LoRA adapters to the prompts (DESIGN.md §1), writing generated_predictions.jsonl,\n"
    "  scores.jsonl, metrics.jsonl and summary.json to output.dir.\n"
    "  --set key=value  override one job key (dotted, e.g. --set optim.lr=1e-4); repeatable\n"
    "  Ctrl-C stops after the current stream batch's outputs are written.\n";

/* The one flag a signal handler may touch: written by the handler, read by the loop
 * between batches (the loop only polls it through TtlHooks.stop). */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    if (g_stop) { /* second signal: the user means it */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    g_stop = 1;
}

static void print_job(const JobSpec *j) {
    ModelConfig cfg;
    Err err = {{0}};
    char sizes[160] = "";
    if (cfg_load(j->model.path, &cfg, &err) == 0)
        snprintf(sizes, sizeof sizes, " %s: %lld layers, D %lld, %lld heads (%lld kv), V %lld",
                 cfg.arch_name, (long long)cfg.n_layers, (long long)cfg.dim,
                 (long long)cfg.n_heads, (long long)cfg.n_kv_heads, (long long)cfg.vocab_size);
    char targets[JOB_MAX_TARGETS * JOB_NAME_BYTES] = "", fields[256] = "";
    for (int i = 0; i < j->lora.n_targets; i++)
        snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s",
                 i ? "," : "", j->lora.targets[i]);
    for (int i = 0; i < j->data.n_prompt; i++)
        snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s", i ? "+" : "",
                 j->data.prompt[i]);
    log_info("tlm run %s", j->source);
    log_info("  model    %s (template %s)%s", j->model.path, j->model.template_name, sizes);
    char max_n[32] = "all";
    if (j->data.max_samples >= 0)
        snprintf(max_n, sizeof max_n, "%lld", (long long)j->data.max_samples);
    log_info("  data     %s (prompt %s, response %s, max_samples %s, cutoff_len %lld, "
             "on_error %s)", j->data.path, fields, j->data.response, max_n,
             (long long)j->data.cutoff_len,
             j->data.on_error == JOB_SKIP ? "skip" : "fail");
    log_info("  method   %s %s: threshold %g, lamb %g, stream_batch %lld",
             job_method_name(j->method.name), job_setting_name(j->method.setting),
             j->method.threshold, j->method.lamb, (long long)j->method.stream_batch);
    log_info("  lora     rank %lld, alpha %g, targets %s", (long long)j->lora.rank,
             j->lora.alpha, targets);
    log_info("  optim    lr %g %s, warmup_ratio %g, batch_size %lld, max_grad_norm %g, "
             "reset_per_batch %s", j->optim.lr, job_schedule_name(j->optim.schedule),
             j->optim.warmup_ratio, (long long)j->optim.batch_size, j->optim.max_grad_norm,
             j->optim.reset_per_batch ? "true" : "false");
    log_info("  generate max_new_tokens %lld; backend %s; tp %lld; output %s; seed %llu",
             (long long)j->generate.max_new_tokens, job_backend_name(j->backend),
             (long long)j->parallel.tp, j->output.dir, (unsigned long long)j->seed);
}

int cmd_run(int argc, char **argv) {
    const char *path = NULL;
    const char *sets[256];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(k_usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && n_sets < 256) {
            sets[n_sets++] = argv[++i];
        } else if (strncmp(argv[i], "--set=", 6) == 0 && n_sets < 256) {
            sets[n_sets++] = argv[i] + 6;
        } else if (argv[i][0] == '-' || path != NULL) {
            fprintf(stderr, "tlm run: unexpected argument \"%s\"\n%s", argv[i], k_usage);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (path == NULL) {
        fputs(k_usage, stderr);
        return 2;
    }
    JobSpec job;
    Err err = {{0}};
    if (job_load(path, &job, &err) != 0) {
        log_error("tlm run: %s", err.msg);
        return 1;
    }
    for (int i = 0; i < n_sets; i++)
        if (job_set(&job, sets[i], &err) != 0) {
            log_error("tlm run: %s", err.msg);
            return 1;
        }
    if (job.parallel.tp != 1) {
        log_error("tlm run: %s: parallel.tp = %lld needs the multi-rank launcher, which this "
                  "build does not have yet; use tp: 1", path, (long long)job.parallel.tp);
        return 1;
    }
    print_job(&job);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    TtlHooks hooks = {.comm = NULL, .stop = &g_stop, .progress = 1};
    TtlSummary sum;
    const int rc = ttl_run(&job, &hooks, &sum, &err);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (rc != 0) {
        log_error("tlm run: %s", err.msg);
        return 1;
    }
    if (sum.interrupted) {
        log_warn("tlm run: stopped by a signal after %lld samples; the outputs hold every "
                 "finished batch", (long long)sum.samples);
        return 130;
    }
    return 0;
}
