/* jobs/job_defaults.c -- job_defaults (see job.h): every default of DESIGN §1/§6 in one
 * place, for the reader (job.c) and the checks that compare against them
 * (job_validate.c). */
#include <string.h>

#include "jobs/job.h"

void job_defaults(JobSpec *spec) {
    memset(spec, 0, sizeof *spec);
    strcpy(spec->model.template_name, "auto"); /* the model's own template */
    spec->data.n_prompt = 2; /* Alpaca: instruction, input (converter.py defaults) */
    strcpy(spec->data.prompt[0], "instruction");
    strcpy(spec->data.prompt[1], "input");
    strcpy(spec->data.response, "output");
    spec->data.max_samples = -1;
    spec->data.cutoff_len = 4096;
    spec->data.on_error = JOB_FAIL;
    spec->method.name = JOB_TLM;
    spec->method.setting = JOB_ONLINE;
    spec->method.threshold = 3.0;
    spec->method.lamb = 0.1;
    spec->method.stream_batch = 100; /* the paper; the reference's example job uses 8 */
    for (int p = 0; p < JOB_N_METHOD_PARAMS; p++)
        spec->method.params[p] = job_method_param_rows[p].def;
    spec->ttt.epochs = 2;
    spec->ttt.leave_one_out = 1;
    spec->ttt.permutations = 1;
    spec->ttt.loss_on = JOB_TTT_LOSS_OUTPUT;
    spec->ttt.max_demos = 8;
    spec->ttt.tasks_per_pass = 1;
    strcpy(spec->ttt.separator, "\n\n");
    strcpy(spec->ttt.join, "\n");
    strcpy(spec->ttt.fields.id, "id");
    strcpy(spec->ttt.fields.train, "train");
    strcpy(spec->ttt.fields.test, "test");
    strcpy(spec->ttt.fields.input, "input");
    strcpy(spec->ttt.fields.output, "output");
    spec->lora.rank = 8;
    spec->lora.alpha = 16.0;
    spec->lora.n_targets = 2;
    strcpy(spec->lora.targets[0], "q_proj");
    strcpy(spec->lora.targets[1], "v_proj");
    spec->optim.lr = 5e-5;
    spec->optim.schedule = JOB_CONSTANT;
    spec->optim.warmup_ratio = 0.0;
    spec->optim.batch_size = 1;
    spec->optim.max_grad_norm = 1.0;
    spec->optim.reset_per_batch = 1;
    spec->optim.gradient_checkpointing = 0; /* speed first; LLaMA-Factory's default is on */
    spec->optim.beta1 = 0.9; /* AdamW as HF Trainer's defaults */
    spec->optim.beta2 = 0.999;
    spec->optim.eps = 1e-8;
    spec->optim.weight_decay = 0.0;
    spec->generate.max_new_tokens = 512;
    spec->parallel.tp = 1;
    spec->backend = JOB_AUTO;
    strcpy(spec->output.dir, "out");
    spec->output.checkpoint_every = 50;
    spec->output.keep = 3;
    spec->seed = 42;
}
