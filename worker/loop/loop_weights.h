/* worker/loop/loop_weights.h -- how the frozen matrices are stored, from the job, for both
 * loops (ttl.c, ttt.c): model.weights, its auto meaning backend.cpu_weights for a model
 * directory and the file's own types for a .gguf model.path (issue 18). */
#ifndef TLM_WORKER_LOOP_LOOP_WEIGHTS_H
#define TLM_WORKER_LOOP_LOOP_WEIGHTS_H

#include "jobs/job.h"
#include "worker/model/model.h"

/* Sets mo->weight_format and mo->weight_file_types (mo borrowed, written). */
void loop_weight_format(const JobSpec *job, ModelOptions *mo);

#endif
