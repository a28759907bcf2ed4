/* launcher/report/report_data.h -- what `tlm report` reads from a run's output directory
 * (worker/loop/ttl_out.c writes it): scores.jsonl (one line per scored sample),
 * metrics.jsonl (one per update step), summary.json (end of run; absent when the run
 * died), the job (launcher/report/report_job.h) and the predictions, scored with every
 * similarity metric through io/eval as `tlm eval --metric all` does. Reads only;
 * errors name file:line and the field. Single-threaded. */
#ifndef TLM_LAUNCHER_REPORT_REPORT_DATA_H
#define TLM_LAUNCHER_REPORT_REPORT_DATA_H

#include <stdint.h>

#include "io/base/err.h"
#include "io/eval/eval.h"
#include "jobs/job.h"

#define REPORT_PATH_BYTES 4096

typedef struct ReportScore {
    int64_t sample, step; /* stream index; update step it belonged to */
    int32_t tokens;
    double ce, ppl, weight;
    int selected;
} ReportScore;

typedef struct ReportStep {
    int64_t step, selected, samples, tokens;
    double loss, mean_ce, lr, grad_norm, tokens_per_s;
} ReportStep;

/* summary.json; present = 0 when the file is absent (a run that did not finish). */
typedef struct ReportSummary {
    int present;
    char model[JOB_PATH_BYTES], data[JOB_PATH_BYTES];
    char method[32], setting[32], backend[32];
    int64_t samples, selected, update_steps, skipped, input_tokens, generated_tokens;
    double selected_pct, ppl_first, ppl_last;
    double t_generate, t_score, t_update, t_total; /* seconds */
    int interrupted;
} ReportSummary;

typedef struct ReportRun {
    char dir[REPORT_PATH_BYTES];
    ReportScore *scores; /* owned, (n_scores), by sample */
    int64_t n_scores;
    ReportStep *steps;   /* owned, (n_steps), by step */
    int64_t n_steps;
    ReportSummary sum;
    int has_job;         /* job and job_source valid */
    JobSpec job;
    char job_source[REPORT_PATH_BYTES];
    int has_eval;        /* eval valid; else eval_note says why not */
    EvalResult eval;
    char predictions[REPORT_PATH_BYTES];
    char eval_note[512];
} ReportRun;

/* Loads the run in dir (borrowed). job_path (nullable) overrides where the job comes from.
 * scores.jsonl is required (it is the run); metrics.jsonl, summary.json, the job and the
 * predictions are optional, their absence noted in the run. *run is caller-owned, zeroed
 * first; release with report_run_free (also after an error). 0, or -1 with err. */
int report_run_load(const char *dir, const char *job_path, ReportRun *run, Err *err);
void report_run_free(ReportRun *run); /* zeroed or freed twice is fine */

/* Tokens per second of each phase: generation (generated tokens / generate time),
 * scoring (input tokens / score time), update (tokens of the update steps / update
 * time); NAN where the run has no such phase or no summary. */
void report_phase_speed(const ReportRun *run, double out[3]);

#endif
