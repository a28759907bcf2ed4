/* worker/loop/loop_weights.c -- the job's model.weights (and backend.cpu_weights) as the
 * ModelOptions of the frozen matrices, for both loops (worker/loop/loop_weights.h). */
#include "worker/loop/loop_weights.h"

#include "io/convert/gguf_source.h"

/* model.weights, or with auto backend.cpu_weights (fp32 or bf16): the frozen matrices'
 * storage; auto for a .gguf model.path keeps each matrix in the file's own type (the
 * estimate sized by its main one). The spellings are kernels/ops.h's (jobs/job_schema.c
 * lists them). */
void loop_weight_format(const JobSpec *job, ModelOptions *mo) {
    static const char *const names[] = {"auto", "f32",  "bf16", "q8_0", "q4_0",
                                        "q4_1", "q4_k", "q6_k", "nf4"};
    WeightFormat f = WEIGHT_ELEM;
    if (job->weights == JOB_W_AUTO && model_src_is_gguf(job->model.path)) {
        mo->weight_file_types = 1;
        f = model_file_weight_format(job->model.path);
    } else if (job->weights == JOB_W_AUTO) {
        f = job->cpu_weights == JOB_WEIGHTS_BF16 ? WEIGHT_BF16 : WEIGHT_ELEM;
    } else if ((unsigned)job->weights < sizeof names / sizeof names[0]) {
        weight_format_parse(names[job->weights], &f);
    }
    mo->weight_format = f;
}
