/* worker/loop/ttl_ledger.h -- output.dir as a ledger (DESIGN §5): one run at a time, and
 * nothing an earlier run wrote is lost by a later one. A run holds an exclusive flock on
 * output.dir/.tlm.lock for its lifetime (the kernel drops it when the process dies, kill
 * -9 included), with its pid and host in the file so a second run is refused naming the
 * holder. A directory that holds an earlier run's results (non-empty JSONL files,
 * summary.json, job.yaml or checkpoints) is refused unless the run resumes it, or is told
 * to overwrite it: then the old results move to output.dir/previous-<UTC time>/, never
 * deleted. (summary.json, the mark of a finished run, goes when the outputs are opened,
 * worker/loop/ttl_out.h, so a run refused before that changes nothing.) Only
 * world rank 0 calls these. Not thread-safe. */
#ifndef TLM_WORKER_TTL_LEDGER_H
#define TLM_WORKER_TTL_LEDGER_H

#include <stddef.h>

#include "io/base/err.h"

typedef enum TtlLedgerMode {
    TTL_LEDGER_FRESH = 0, /* a new run: refused when results are there */
    TTL_LEDGER_RESUME,    /* --resume: the results are the run's own */
    TTL_LEDGER_OVERWRITE  /* --overwrite: results moved to previous-<time>/ first */
} TtlLedgerMode;

/* Plain struct: zeroed = not held. */
typedef struct TtlLedger {
    int fd;   /* the lock file, open while held */
    int held;
    int was_finished; /* ttl_ledger_finished(dir) when it was opened */
} TtlLedger;

/* Creates dir (and its parents), takes its lock and applies mode. Errors: another run
 * holds the lock (its pid and host), results of an earlier run (FRESH: naming what was
 * found and the options), a move that failed (OVERWRITE), I/O. */
int ttl_ledger_open(TtlLedger *l, const char *dir, TtlLedgerMode mode, Err *err);
void ttl_ledger_close(TtlLedger *l); /* releases the lock; accepts a zeroed struct */

/* 1 when dir holds results of a run, naming them in what (n bytes: "scores.jsonl,
 * summary.json, 2 checkpoints"); 0 when none (a missing dir holds none). */
int ttl_ledger_results(const char *dir, char *what, size_t n);

/* 1 when dir holds the marks of a finished run (summary.json, or the job.yaml tlm run
 * leaves at the end). */
int ttl_ledger_finished(const char *dir);

/* Moves dir's results (outputs, job.yaml, checkpoints) to a new dir/previous-<UTC
 * time>/ and logs where. Errors name the file that could not move. */
int ttl_ledger_move_results(const char *dir, Err *err);

#endif
