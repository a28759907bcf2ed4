/* worker/loop/ttt.h -- per-task test-time training (method.name: ttt; Akyurek et al. 2024,
 * "The Surprising Effectiveness of Test-Time Training for Few-Shot Learning"): for each
 * task of the task file (data.path, io/data/taskfile.h) a fresh LoRA adapter (seeded by
 * the task id) and a fresh AdamW are trained for ttt.epochs on the task's own examples
 * (worker/loop/ttt_examples.h; the loss on the target outputs), the task's queries are
 * answered with it (greedy; with ttt.permutations > 1 once per demonstration order and
 * voted), then the adapter is dropped: no state passes from one task to the next.
 * Same engine as TLM (worker/loop/ttl_core.h with method ttt); only the adapter's
 * lifetime and the loss targets differ.
 * Distribution: task i belongs to dp rank i mod dp; each rank trains its tasks' adapters
 * alone (no gradient all-reduce across tasks), a tp group shards the model and the
 * adapter as in TLM. Tasks go in rounds of dp; with ttt.tasks_per_pass P > 1 in rounds
 * of dp x P, rank d taking the d-th block of them and training its block in one batched
 * pass (worker/loop/ttt_pass.c: one adapter per task row). After each round world rank 0
 * appends the round's lines to output.dir (fsync'd) and records the tasks done in ttt_progress.json
 * (atomically), the task boundary a resume continues from. Not thread-safe. */
#ifndef TLM_WORKER_TTT_H
#define TLM_WORKER_TTT_H

#include "io/base/err.h"
#include "jobs/job.h"
#include "worker/loop/ttl.h"

/* Runs the ttt job (borrowed, validated) to the end of its task file, writing
 * generated_predictions.jsonl (one line per query: prompt, label, predict, task, query,
 * votes, label_ce and label_ce_base when the query has an output), ttt_tasks.jsonl (one
 * line per task: its training metrics and wall times), ttt_progress.json and summary.json
 * under output.dir. hooks as ttl_run's (hooks->resume: "auto" or a ttt_progress.json
 * path continues after the last finished round). summary (may be NULL): samples =
 * queries, steps = update steps of every task, t_update/t_generate the time training and
 * answering. Errors name the task file's line, the task id or the model file. */
int ttt_run(const JobSpec *job, const TtlHooks *hooks, TtlSummary *summary, Err *err);

/* The training of one task's adapter, usable without a job (test_ttt_golden drives it):
 * a fresh lr schedule and AdamW state on core (method ttt, ttl_core_init), then `epochs`
 * passes over the examples s (borrowed; each one's loss over s->mask when content_loss)
 * in their order, optim.batch_size examples per step. core->lora must hold the task's
 * fresh adapter (lora_init). Errors: an example longer than the engine's max_len. */
int ttt_train(TtlCore *core, const TtlSamples *s, int64_t epochs, Err *err);

#endif
