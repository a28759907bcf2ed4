/* launcher/cmd_inspect.c -- `tlm inspect CKPT.h5`: a human summary of one checkpoint:
 * progress (step, samples, stream positions), the adapter (rank, alpha, targets, tensor
 * and parameter counts), the score table (rows, selected %, mean ce/ppl and a text
 * histogram of per-sample perplexity) and the job it was written by. Validates the
 * whole file first (a corrupt file gets the reader's message, not a partial summary).
 * Exit status: 0 shown, 1 unreadable checkpoint, 2 bad usage. */
#include "launcher/commands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/ckpt/ckpt.h"
#include "io/base/err.h"
#include "io/base/log.h"
#include "jobs/job.h"

#define HIST_BINS 12
#define HIST_WIDTH 40

static const char k_usage[] =
    "usage: tlm inspect CKPT.h5\n"
    "  Prints a checkpoint's step, samples, selected %, mean ce/ppl, a histogram of\n"
    "  per-sample perplexity, the adapter's shape and the job spec it was run with.\n";

static void print_progress(const CkptState *st) {
    printf("step %lld (AdamW step %lld in this stream batch, schedule position %lld), "
           "lr %.6g\n", (long long)st->step, (long long)st->optim_step,
           (long long)st->schedule_pos, st->lr);
    printf("samples done %lld; stream position per dp rank (%d):", (long long)st->samples_done,
           st->dp_size);
    for (int i = 0; i < st->dp_size && i < 16; i++)
        printf(" %lld", (long long)st->stream_pos[i]);
    printf("%s\n", st->dp_size > 16 ? " ..." : "");
    printf("model %s (config hash %016llx)\n", st->model_dir,
           (unsigned long long)st->model_hash);
}

static void print_adapter(const CkptState *st) {
    int64_t n_params = 0;
    for (int i = 0; i < st->n_tensors; i++)
        n_params += st->tensors[i].n_rows * st->tensors[i].n_cols;
    printf("adapter: LoRA r %d, alpha %g (scale %g), targets", st->lora_rank, st->lora_alpha,
           st->lora_alpha / st->lora_rank);
    for (int i = 0; i < st->n_targets; i++)
        printf("%s%s", i ? "," : " ", st->targets[i]);
    printf("; %d tensors, %lld parameters (%.2f MB fp32, x3 with AdamW moments)\n",
           st->n_tensors, (long long)n_params, (double)n_params * 4.0 / 1e6);
}

/* Per-sample ppl in HIST_BINS bins, log-spaced when the range spans a factor > 10. */
static void print_histogram(const CkptScores *s, double lo, double hi) {
    int64_t count[HIST_BINS] = {0}, peak = 1;
    int log_scale = lo > 0 && hi / lo > 10.0;
    double a = log_scale ? log(lo) : lo, b = log_scale ? log(hi) : hi;
    double width = (b - a) / HIST_BINS;
    for (int64_t i = 0; i < s->n_rows; i++) {
        double x = log_scale ? log(s->rows[i].ppl) : s->rows[i].ppl;
        int k = width > 0 ? (int)((x - a) / width) : 0;
        k = k < 0 ? 0 : k >= HIST_BINS ? HIST_BINS - 1 : k;
        if (++count[k] > peak)
            peak = count[k];
    }
    printf("per-sample perplexity (%s bins):\n", log_scale ? "log-spaced" : "linear");
    for (int k = 0; k < HIST_BINS; k++) {
        double e0 = a + k * width, e1 = a + (k + 1) * width;
        if (log_scale) {
            e0 = exp(e0);
            e1 = exp(e1);
        }
        int bar = (int)((count[k] * HIST_WIDTH + peak - 1) / peak);
        printf("  %10.4g .. %-10.4g %8lld |", e0, e1, (long long)count[k]);
        for (int j = 0; j < bar; j++)
            putchar('#');
        putchar('\n');
        if (width <= 0)
            break;
    }
}

static void print_scores(const CkptScores *s, double threshold) {
    if (s->n_rows == 0) {
        printf("scores: none yet\n");
        return;
    }
    int64_t n_sel = 0, n_finite = 0;
    double sum_ce = 0, sum_ppl = 0, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < s->n_rows; i++) {
        const CkptScoreRow *r = &s->rows[i];
        n_sel += r->selected != 0;
        if (!isfinite(r->ppl) || !isfinite(r->ce))
            continue;
        n_finite++;
        sum_ce += r->ce;
        sum_ppl += r->ppl;
        lo = r->ppl < lo ? r->ppl : lo;
        hi = r->ppl > hi ? r->ppl : hi;
    }
    printf("scores: %lld samples, %lld selected (%.1f%%)", (long long)s->n_rows,
           (long long)n_sel, 100.0 * (double)n_sel / (double)s->n_rows);
    if (n_finite == 0) {
        printf("; no finite ce\n");
        return;
    }
    printf(", mean ce %.4f, mean ppl %.4g", sum_ce / n_finite, sum_ppl / n_finite);
    if (n_finite < s->n_rows)
        printf(" (%lld non-finite rows left out)", (long long)(s->n_rows - n_finite));
    putchar('\n');
    if (isfinite(threshold))
        printf("selection: ce > %.4g, i.e. ppl > %.4g\n", threshold, exp(threshold));
    print_histogram(s, lo, hi);
}

/* The job spec, parsed back; a spec this tlm cannot parse is shown raw. */
static double print_job(const char *ckpt, const char *yaml) {
    JobSpec j;
    Err err = {{0}};
    char name[1100];
    snprintf(name, sizeof name, "%s:/job", ckpt);
    if (job_load_string(yaml, name, &j, &err) != 0) {
        printf("job (as stored; this tlm cannot parse it: %s):\n%s\n", err.msg, yaml);
        return NAN;
    }
    printf("job: model %s (template %s), data %s", j.model.path, j.model.template_name,
           j.data.path);
    if (j.data.max_samples >= 0)
        printf(" (max %lld samples)", (long long)j.data.max_samples);
    printf("\n     method %s, %s, threshold %g, lamb %g, stream_batch %lld\n",
           job_method_name(j.method.name), job_setting_name(j.method.setting),
           j.method.threshold, j.method.lamb, (long long)j.method.stream_batch);
    printf("     lora r %lld alpha %g; optim lr %g %s, batch %lld, reset per batch %s,"
           " activations %s; tp %lld; seed %llu; output %s\n", (long long)j.lora.rank,
           j.lora.alpha, j.optim.lr, job_schedule_name(j.optim.schedule),
           (long long)j.optim.batch_size, j.optim.reset_per_batch ? "yes" : "no",
           j.optim.gradient_checkpointing ? "recomputed" : "kept", (long long)j.parallel.tp,
           (unsigned long long)j.seed, j.output.dir);
    return j.method.threshold;
}

int cmd_inspect(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fputs(k_usage, stderr);
        return 2;
    }
    CkptState st;
    Err err = {{0}};
    if (ckpt_read(argv[1], &st, &err) != 0) {
        log_error("tlm inspect: %s", err.msg);
        ckpt_free(&st);
        return 1;
    }
    printf("%s: tlm checkpoint, format %d\n", argv[1], CKPT_FORMAT_VERSION);
    print_progress(&st);
    print_adapter(&st);
    double threshold = print_job(argv[1], st.job_yaml);
    print_scores(&st.scores, threshold);
    ckpt_free(&st);
    return 0;
}
