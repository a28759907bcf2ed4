/* worker/loop/ttl_totals.h -- what a run has done so far, for its summary (DESIGN §6):
 * samples scored, selected, input and generated tokens, update steps, and the input ce of
 * every sample in stream order (for the perplexity of the first and last 10%). The run
 * adds to it after each epoch and a resume rebuilds it from the checkpoint's score table,
 * both through ttl_totals_add, so the two cannot count differently. Host memory only; the
 * ce history grows between batches, never inside the update steps. Not thread-safe. */
#ifndef TLM_WORKER_TTL_TOTALS_H
#define TLM_WORKER_TTL_TOTALS_H

#include <stdint.h>

#include "io/base/err.h"
#include "worker/loop/ttl.h"

/* Plain struct: zeroed = empty; callers read the counters, only ttl_totals.c writes them. */
typedef struct TtlTotals {
    int64_t samples, selected, input_tokens, gen_tokens, steps;
    float *ce;         /* (cap) owned: input ce of sample i of the stream, i < samples */
    int64_t cap;
} TtlTotals;

/* Counts n scored samples (host, borrowed) that follow the ones counted so far in stream
 * order: their ce, selection and input tokens. Errors: out of memory (nothing counted). */
int ttl_totals_add(TtlTotals *t, const TtlScore *scores, int64_t n, Err *err);

/* Counts n_steps update steps taken. */
void ttl_totals_updated(TtlTotals *t, int64_t n_steps);

/* Counts n_tokens generated answer tokens. */
void ttl_totals_generated(TtlTotals *t, int64_t n_tokens);

/* Fills the totals' part of *s: samples, selected, steps, input_tokens, gen_tokens and the
 * mean input perplexity of the first and last tenth of the stream (n_first, n_last). */
void ttl_totals_summary(const TtlTotals *t, TtlSummary *s);

void ttl_totals_free(TtlTotals *t); /* accepts a zeroed struct; safe twice */

#endif
