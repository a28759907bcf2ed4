/* tests/launcher/report/report_fixture.h -- synthetic run output directories for the
 * `tlm report` tests, with values known in closed form: what worker/loop/ttl_out.c
 * writes (scores.jsonl, metrics.jsonl, summary.json), the job.yaml tlm run saves, and
 * generated_predictions.jsonl cut from tests/data/eval/text.jsonl. */
#ifndef TLM_TESTS_REPORT_FIXTURE_H
#define TLM_TESTS_REPORT_FIXTURE_H

#include <stdint.h>

#define FX_N 40          /* samples in a fixture run */
#define FX_BATCH 8       /* its method.stream_batch */
#define FX_THRESHOLD 3.0 /* its method.threshold */

/* Sample i's ce in the run (base: + 0.5); selected when above FX_THRESHOLD (run only). */
double fx_ce(int64_t i, int base);
/* The summary.json values the fixture writes (seconds; tokens). */
#define FX_T_GENERATE 2.0
#define FX_T_SCORE 0.5
#define FX_T_UPDATE 1.25
#define FX_GEN_TOKENS 960
#define FX_INPUT_TOKENS 1000
/* Loss and grad norm of update step s (1-based). */
double fx_loss(int64_t s);
double fx_grad_norm(int64_t s);

/* Writes a run into dir (created fresh): base = 0 a tlm online run with FX_N update
 * steps, base = 1 a none run (no steps) of the same samples, predictions from lines
 * [first_line, first_line + FX_N) of text.jsonl. Aborts the test on failure. */
void fx_write_run(const char *dir, int base, int first_line);

#endif
