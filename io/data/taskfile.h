/* io/data/taskfile.h -- the few-shot task file of per-task test-time training (method.name:
 * ttt, Akyurek et al. 2024): JSONL, one task per line,
 *   {"id": "t1", "train": [{"input": .., "output": ..}, ...], "test": [{"input": ..,
 *    "output": ..?}, ...]}
 * under a field mapping (every key renamable, as the dataset's prompt/response fields).
 * A task's id is a string or an integer (written back as a string); "train" holds the
 * solved demonstrations (at least one, every output a string), "test" the queries (at least
 * one; an output is optional: the label scored when present). Blank lines are skipped.
 * Bounds: at most TF_MAX_ITEMS demonstrations and queries per task and TF_MAX_TEXT_BYTES
 * per text. Every defect is an error naming file:line, the key (train[2].output) and what
 * was expected. No tokenization here. Not thread-safe: one reader per TaskFile. */
#ifndef TLM_IO_TASKFILE_H
#define TLM_IO_TASKFILE_H

#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TF_MAX_ITEMS 1024           /* demonstrations or queries in one task */
#define TF_MAX_TEXT_BYTES (1 << 20) /* one input or output */

/* The field names (borrowed; NULL takes the default named in each comment). */
typedef struct TfFields {
    const char *id;     /* "id" */
    const char *train;  /* "train" */
    const char *test;   /* "test" */
    const char *input;  /* "input" */
    const char *output; /* "output" */
} TfFields;

typedef struct TfConfig {
    const char *path; /* borrowed */
    TfFields fields;
    int64_t max_tasks; /* the first N tasks; -1: all */
} TfConfig;

/* One demonstration or query. */
typedef struct TfPair {
    char *input;    /* owned */
    char *output;   /* owned; "" when absent (has_output 0) */
    int has_output; /* 1 when the output field is a string */
} TfPair;

typedef struct TfTask {
    int64_t index;  /* position among the file's tasks, from 0 */
    int64_t line;   /* 1-based line in the file */
    char *id;       /* owned */
    TfPair *train;  /* owned, (n_train) */
    TfPair *test;   /* owned, (n_test) */
    int32_t n_train, n_test;
} TfTask;

typedef struct TaskFile TaskFile;

/* Opens cfg->path and counts its tasks (non-blank lines, capped by max_tasks); cfg is
 * copied, its strings stay borrowed. Errors name the file. Owned handle or NULL. */
TaskFile *tf_open(const TfConfig *cfg, Err *err);
void tf_close(TaskFile *tf); /* accepts NULL */

/* The next task into *out (owned-after-return: tf_task_free): 1, 0 at the end, -1 on a
 * defect (file:line: key: what was expected). */
int tf_next(TaskFile *tf, TfTask *out, Err *err);
/* Moves past the next n tasks without keeping them (a resume); -1 on a defect or when the
 * file has fewer. */
int tf_skip(TaskFile *tf, int64_t n, Err *err);
void tf_task_free(TfTask *t); /* accepts a zeroed task; safe twice */

int64_t tf_total(const TaskFile *tf); /* tasks the file will deliver */
const char *tf_path(const TaskFile *tf); /* borrowed */

#ifdef __cplusplus
}
#endif
#endif
