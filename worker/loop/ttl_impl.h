/* worker/loop/ttl_impl.h -- the state of one ttl_run (not a public API): the resources the
 * run opens, and its parts, each with its own header, file and fields. A part's fields
 * are written only by its own file; the others read them or call its functions:
 *   core  worker/loop/ttl_core.c   the update engine and its counters
 *   b     worker/loop/ttl_batch.c  the stream batch (ttl_comm_gather fills other dp ranks'
 *                                  rows)
 *   out   worker/loop/ttl_out.c    the output files
 *   tot   worker/loop/ttl_totals.c the run's totals and ce history
 *   prog  worker/loop/progress.c   the progress line
 *   ck    worker/loop/ttl_ckpt.c   checkpoint bookkeeping; capture and restore of the state
 * The resources and the run-level fields below them are ttl.c's. Single-threaded. */
#ifndef TLM_WORKER_TTL_IMPL_H
#define TLM_WORKER_TTL_IMPL_H

#include "io/data/dataset.h"
#include "io/text/chat_template.h"
#include "io/text/tokenizer.h"
#include "worker/loop/progress.h"
#include "worker/loop/ttl.h"
#include "worker/loop/ttl_batch.h"
#include "worker/loop/ttl_ckpt.h"
#include "worker/loop/ttl_comm.h"
#include "worker/loop/ttl_core.h"
#include "worker/loop/ttl_ledger.h"
#include "worker/loop/ttl_out.h"
#include "worker/loop/ttl_totals.h"
#include "worker/model/generate.h"

/* Stop token ids a run collects: the template's EOS and stop words plus
 * generation_config.json's eos_token_id list (Llama-3.1 lists 3, Qwen2 2; 16 leaves room). */
#define TTL_MAX_STOP 16

/* The whole run's state (ttl_run), one per rank. */
typedef struct Ttl {
    /* resources, opened by ttl.c in this order and closed in reverse */
    const JobSpec *job;      /* borrowed */
    TtlHooks hooks;
    const Ops *ops;          /* static */
    Model *m;
    Tokenizer *tok;
    const ChatTemplate *tmpl; /* static */
    Dataset *ds;
    Generator *gen;
    Lora lora;
    int32_t stop_ids[TTL_MAX_STOP];
    int n_stop;
    int writer;              /* world rank 0 writes the files and prints */
    TtlLedger ledger;        /* writer: output.dir's lock, held for the run */
    int64_t expected;        /* records the stream will deliver (ds_total) */
    /* the parts (see above) */
    TtlCore core;
    TtlBatch b;
    TtlOut out;
    TtlTotals tot;
    Progress prog;
    TtlCkpt *ck;             /* owned */
    /* run-level numbers for the summary (ttl.c) */
    double t_generate, t_comm_generate; /* seconds generating, of which in collectives */
    int interrupted;         /* stopped by the stop flag after a whole batch */
    long test_step_delay_ms; /* TLM_TEST_STEP_DELAY_MS (tests only, ttl.c): each step
                              * slowed so a signal can land inside a short epoch */
    int64_t test_nan_sample; /* TLM_TEST_NAN_SAMPLE (tests only, ttl.c): the stream sample
                              * whose ce is made NaN when it is scored; -1 none */
} Ttl;

#endif
