/* worker/loop/ttl_out.h -- the files a run leaves in output.dir (DESIGN §5, §6), named here
 * and nowhere else: the predictions, scores and metrics JSONL files and summary.json.
 * The JSONL lines of a batch (and the metrics of its update steps) are gathered in memory
 * and appended to the three files together at the batch's end, each fsync'd; when any
 * write fails, all three are cut back to the last batch every one of them holds, so the
 * files always end at one batch boundary (a kill -9 in between is cut back by the resume,
 * to the checkpoint's counts). summary.json is written atomically at the end. Opened
 * fresh (emptied) or, on a resume, cut back to a checkpoint's line counts; either way
 * an earlier summary.json is removed first (the run is not finished). Taking and
 * checking output.dir itself (lock, earlier results) is worker/loop/ttl_ledger.h. Only
 * world rank 0 calls these. Not thread-safe. */
#ifndef TLM_WORKER_TTL_OUT_H
#define TLM_WORKER_TTL_OUT_H

#include <stdint.h>

#include "io/base/err.h"
#include "io/base/strbuf.h"
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
    int fd[TTL_OUT_SUMMARY];       /* the appended files, by TtlOutFile */
    int is_open[TTL_OUT_SUMMARY];
    int64_t good[TTL_OUT_SUMMARY]; /* each file's bytes at the last batch all three hold */
    StrBuf pending[TTL_OUT_SUMMARY]; /* lines not yet written (the batch in progress) */
    Err io_err;                    /* first metrics line that could not be kept */
    int failed;
} TtlOut;

/* The file's name in output.dir ("scores.jsonl"; static). */
const char *ttl_out_name(TtlOutFile f);

/* Creates dir and its parents (mkdir -p); errors name the part that failed. */
int ttl_out_make_dir(const char *dir, Err *err);
/* Creates dir (and its parents) and opens the JSONL files empty. */
int ttl_out_open(TtlOut *o, const char *dir, Err *err);
/* A resume: cuts each JSONL file of dir back to its first n_lines[f] lines (what was
 * written after the checkpoint goes) and opens it for appending. Errors: a file with
 * fewer lines than the checkpoint counts (outputs lost or from another run), I/O. */
int ttl_out_reopen(TtlOut *o, const char *dir, const int64_t n_lines[TTL_OUT_SUMMARY],
                   Err *err);
/* Appends predictions of samples [from, to) of b (when pred; decoded with tok), their
 * scores (when scores) and the metrics lines kept since the last call to the three files,
 * then fsyncs them. On any failure every file is cut back to where the previous call
 * left it; the error names the file, the sample and the system's reason. */
int ttl_out_batch(TtlOut *o, const TtlBatch *b, const Tokenizer *tok, int32_t from,
                  int32_t to, int pred, int scores, Err *err);
/* Keeps one update step's line for the next ttl_out_batch; an error (out of memory, a
 * number JSON cannot hold) is kept and reported by it (a step hook cannot fail). */
void ttl_out_metrics(TtlOut *o, const TtlStepStats *st, double tokens_per_s);
/* Writes summary.json (atomically) from s, naming the job's model, data, method and the
 * backend that ran it. */
int ttl_out_summary(const TtlOut *o, const TtlSummary *s, const JobSpec *job,
                    const char *backend, Err *err);
/* output.reference_layout: copies output.dir/generated_predictions.jsonl (atomically) to
 * output.dir/predict-temperature_0.0-max_new_tokens_<N>/, where the reference's scripts
 * look. Called by the loop at a finished run's end, under output.dir's lock. Errors name
 * the folder or file. */
int ttl_out_reference_layout(const JobSpec *job, Err *err);
void ttl_out_close(TtlOut *o); /* accepts a zeroed struct; safe twice */

#endif
