/* worker/loop/ttl_out.h -- the files a run leaves in output.dir (DESIGN §5, §6), named here
 * and nowhere else: the predictions, scores and metrics JSONL files, appended per batch
 * and fsync'd before the next batch starts (a crash loses at most the batch in flight),
 * and summary.json, written atomically at the end. Opened fresh (truncated) or, on a
 * resume, cut back to a checkpoint's line counts and appended to. Only world rank 0
 * calls these. Not thread-safe. */
#ifndef TLM_WORKER_TTL_OUT_H
#define TLM_WORKER_TTL_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "io/base/err.h"
#include "io/text/tokenizer.h"
#include "jobs/job.h"
#include "worker/loop/ttl.h"
#include "worker/loop/ttl_batch.h"

/* The files, in the order ttl_out_name lists them. */
typedef enum TtlOutFile {
    TTL_OUT_PREDICTIONS = 0, /* generated_predictions.jsonl: {"prompt","label","predict"} */
    TTL_OUT_SCORES,          /* scores.jsonl: one line per scored sample */
    TTL_OUT_METRICS,         /* metrics.jsonl: one line per update step */
    TTL_OUT_SUMMARY,         /* summary.json */
    TTL_OUT_N_FILES
} TtlOutFile;

/* Plain struct: zeroed = closed; only ttl_out.c writes it. */
typedef struct TtlOut {
    char dir[JOB_PATH_BYTES];
    FILE *jsonl[TTL_OUT_SUMMARY]; /* the appended files, by TtlOutFile */
    Err io_err;              /* first metrics write error (reported at the batch end) */
    int failed;
} TtlOut;

/* The file's name in output.dir ("scores.jsonl"; static). */
const char *ttl_out_name(TtlOutFile f);

/* Creates dir (and its parents) and opens the JSONL files empty. */
int ttl_out_open(TtlOut *o, const char *dir, Err *err);
/* A resume: cuts each JSONL file of dir back to its first n_lines[f] lines (what was
 * written after the checkpoint goes) and opens it for appending. Errors: a file with
 * fewer lines than the checkpoint counts (outputs lost or from another run), I/O. */
int ttl_out_reopen(TtlOut *o, const char *dir, const int64_t n_lines[TTL_OUT_SUMMARY],
                   Err *err);
/* Appends predictions of samples [from, to) of b (when pred; decoded with tok) and their
 * scores (when scores), then fsyncs every file written since the last call, metrics
 * included. Errors name the file and the sample. */
int ttl_out_batch(TtlOut *o, const TtlBatch *b, const Tokenizer *tok, int32_t from,
                  int32_t to, int pred, int scores, Err *err);
/* Appends one update step's line; a write error is kept and reported by the next
 * ttl_out_batch (a step hook cannot fail). */
void ttl_out_metrics(TtlOut *o, const TtlStepStats *st, double tokens_per_s);
/* Writes summary.json (atomically) from s, naming the job's model, data, method and the
 * backend that ran it. */
int ttl_out_summary(const TtlOut *o, const TtlSummary *s, const JobSpec *job,
                    const char *backend, Err *err);
void ttl_out_close(TtlOut *o); /* accepts a zeroed struct; safe twice */

#endif
