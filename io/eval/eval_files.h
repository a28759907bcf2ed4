/* io/eval/eval_files.h -- where a run's generated_predictions.jsonl is: the file itself,
 * or found in a run's output directory, in tlm's layout (OUT/generated_predictions.jsonl)
 * or in the TLM reference's (LLaMA-Factory's ttl workflow writes
 * OUT/predict-temperature_<T>-max_new_tokens_<N>/generated_predictions.jsonl).
 * Only looks at the file system; reads no file. */
#ifndef TLM_IO_EVAL_FILES_H
#define TLM_IO_EVAL_FILES_H

#include <stddef.h>

#include "io/base/err.h"

#define EVAL_PREDICTIONS_FILE "generated_predictions.jsonl"

/* path (borrowed): a file (returned as is) or a directory, searched in this order:
 * path/generated_predictions.jsonl, then the one path/predict-temperature_*-max_new_tokens_*
 * folder that holds the file. Writes the file's path into out (n_bytes). 0, or -1 when
 * path does not exist, when a directory holds no predictions (the message names both
 * layouts), or when it holds several predict-* folders (the message lists them: pass one). */
int eval_find_predictions(const char *path, char *out, size_t n_bytes, Err *err);

#endif
