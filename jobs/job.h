/* jobs/job.h -- the job spec (DESIGN.md §6): a YAML file read with libyaml into a
 * validated JobSpec holding every default of §1/§6, `--set key=value` overrides with the
 * same typing, and the resolved spec written back as YAML (stored in checkpoints and
 * compared on resume). Unknown keys, wrong types and impossible values are errors naming
 * file:line:column and the dotted key, with the nearest valid key suggested; values are
 * never clamped. Paths are kept as written (relative ones are relative to the working
 * directory, as in the reference's configs). JobSpec is plain data with fixed-size
 * buffers: copy it freely, nothing to free. Not thread-safe while being modified. */
#ifndef TLM_JOBS_JOB_H
#define TLM_JOBS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"
#include "io/base/strbuf.h"
#include "io/data/dataset.h"
#include "jobs/job_methods.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JOB_PATH_BYTES 1024
#define JOB_NAME_BYTES 64
#define JOB_MAX_FIELDS DS_MAX_PROMPT_FIELDS
#define JOB_MAX_TARGETS 7
#define JOB_MAX_DATASETS DS_MAX_DATASETS
/* ttt.tasks_per_pass at most: a pass packs that many tasks' batches, and each task holds
 * its own adapter and AdamW moments beside the stack (4 + 2 adapters' floats per task) */
#define TTT_MAX_TASKS_PER_PASS 256
/* Keys the schema may hold (jobs/job_schema.c asserts its table fits): sizes the per-key
 * bookkeeping of a JobSpec. */
#define JOB_MAX_KEYS 64
/* `--set` overrides one command line takes: every key of the schema, several times over. */
#define JOB_MAX_SETS (4 * JOB_MAX_KEYS)

typedef enum JobSetting { JOB_ONLINE = 0, JOB_OFFLINE } JobSetting;
typedef enum JobSchedule { JOB_CONSTANT = 0, JOB_COSINE } JobSchedule;
typedef enum JobBackend { JOB_AUTO = 0, JOB_CPU, JOB_CUDA } JobBackend;
/* backend.cpu_weights: how the CPU backend stores the frozen matrices (fp32, the default
 * and reference, or bf16: half the bytes per decode step; kernels/ops.h WeightFormat). */
typedef enum JobCpuWeights { JOB_WEIGHTS_FP32 = 0, JOB_WEIGHTS_BF16 } JobCpuWeights;
/* model.weights: the frozen matrices' storage on any backend (kernels/ops.h WeightFormat,
 * same spellings): auto (backend.cpu_weights on CPU, the backend's elem type elsewhere),
 * f32, bf16, or a block format quantized at load (q8_0, q4_0, q4_1, nf4; q4_k and q6_k
 * only come from GGUF files and are refused for safetensors). */
typedef enum JobWeights {
    JOB_W_AUTO = 0,
    JOB_W_F32,
    JOB_W_BF16,
    JOB_W_Q8_0,
    JOB_W_Q4_0,
    JOB_W_Q4_1,
    JOB_W_Q4_K,
    JOB_W_Q6_K,
    JOB_W_NF4
} JobWeights;
/* method.loss_tokens: which input tokens a sample's ce averages (selection, weight and
 * loss alike): every one (the reference), or the sample's own text only. */
typedef enum JobLossTokens { JOB_LOSS_ALL = 0, JOB_LOSS_CONTENT } JobLossTokens;
typedef enum JobOnError { JOB_FAIL = 0, JOB_SKIP } JobOnError;
/* ttt.loss_on: the tokens a training example's loss averages: its target output only
 * (Akyurek et al. 2024) or the whole example. */
typedef enum JobTttLoss { JOB_TTT_LOSS_OUTPUT = 0, JOB_TTT_LOSS_ALL } JobTttLoss;

typedef struct JobSpec {
    char source[JOB_PATH_BYTES]; /* the file it was read from ("" for job_defaults) */
    struct {
        char path[JOB_PATH_BYTES];           /* required: HF model directory */
        char template_name[JOB_NAME_BYTES]; /* auto (default) | llama3 | llama2 | qwen | chatml | mistral | none */
    } model;
    struct {
        char path[JOB_PATH_BYTES]; /* required unless dataset: JSON array or JSONL */
        /* Or datasets by name in a LLaMA-Factory registry (dataset_info.json, whose
         * columns and formatting replace prompt/response), read one after the other. */
        char dataset_info[JOB_PATH_BYTES]; /* default "": not used */
        int n_datasets;                    /* default 0 */
        char datasets[JOB_MAX_DATASETS][JOB_NAME_BYTES];
        int n_prompt;              /* default 2: instruction, input */
        char prompt[JOB_MAX_FIELDS][JOB_NAME_BYTES];
        char response[JOB_NAME_BYTES]; /* default output */
        int64_t max_samples;           /* -1 (default): all records; of each dataset */
        int64_t cutoff_len;            /* tokens, default 4096 */
        JobOnError on_error;           /* default fail */
    } data;
    struct {
        JobMethod name;       /* default tlm (jobs/job_methods.h lists them) */
        JobSetting setting;   /* default online */
        JobLossTokens loss_tokens; /* default all */
        double threshold;     /* ln P0, default 3.0 */
        double lamb;          /* default 0.1 */
        int64_t stream_batch; /* samples per online batch, default 100 (the paper) */
        /* method.<name>.<param> of every method, by JobMethodParam; defaults and ranges
         * in jobs/job_methods.h */
        double params[JOB_METHOD_PARAM_SLOTS];
    } method;
    /* Per-task test-time training (method.name: ttt; data.path is then a task file,
     * io/data/taskfile.h). Written and compared only for a ttt job. */
    struct {
        int64_t epochs;       /* passes over a task's training examples, default 2 */
        int leave_one_out;    /* each demonstration in turn the target, default true */
        int64_t permutations; /* demonstration orders per example and per query, seeded;
                               * default 1 (the file's order); > 1 votes the answers */
        JobTttLoss loss_on;   /* default output */
        int64_t max_demos;    /* demonstrations in one prompt, default 8 */
        /* tasks of one rank trained together in one batched pass (one adapter per task
         * row, kernels lora_rows_*), default 1 (one task at a time); at most
         * TTT_MAX_TASKS_PER_PASS */
        int64_t tasks_per_pass;
        /* 1: each task's trained adapter kept as output.dir/adapters/task-<index>.
         * safetensors (PEFT's F32 file), default false (the adapter is dropped) */
        int save_adapters;
        char separator[JOB_NAME_BYTES]; /* between demonstrations, default "\n\n" */
        char join[JOB_NAME_BYTES];      /* between an input and its output, default "\n" */
        struct {
            char id[JOB_NAME_BYTES], train[JOB_NAME_BYTES], test[JOB_NAME_BYTES];
            char input[JOB_NAME_BYTES], output[JOB_NAME_BYTES];
        } fields; /* the task file's keys, default id, train, test, input, output */
    } ttt;
    struct {
        int64_t rank;  /* default 8 */
        double alpha;  /* default 16; scale = alpha / rank */
        int n_targets; /* default 2: q_proj, v_proj */
        char targets[JOB_MAX_TARGETS][JOB_NAME_BYTES];
    } lora;
    struct {
        double lr;            /* default 5e-5 */
        JobSchedule schedule; /* default: constant online, cosine offline */
        double warmup_ratio;  /* default: 0 online, 0.1 offline */
        int64_t batch_size;   /* samples per update step, default 1 */
        double max_grad_norm; /* default 1.0; 0 disables clipping */
        int reset_per_batch;  /* restart AdamW moments every stream batch, default 1 */
        /* activation recomputation (HF's gradient checkpointing): a train pass keeps each
         * layer's input only and the backward reruns each layer's forward; the same
         * numbers bit for bit, far less activation memory, one more forward of the
         * layers per backward; default false (a LLaMA-Factory job: true unless
         * disable_gradient_checkpointing) */
        int gradient_checkpointing;
        double beta1, beta2, eps, weight_decay; /* 0.9, 0.999, 1e-8, 0 */
    } optim;
    struct {
        int64_t max_new_tokens; /* default 512 */
    } generate;
    struct {
        int64_t tp; /* tensor-parallel ranks, default 1 */
    } parallel;
    JobBackend backend; /* backend.name (or the shorthand `backend: NAME`), default auto */
    JobCpuWeights cpu_weights; /* backend.cpu_weights, default fp32 */
    JobWeights weights;        /* model.weights, default auto */
    struct {
        char dir[JOB_PATH_BYTES]; /* default out */
        int64_t checkpoint_every; /* update steps between checkpoints, default 50; 0: off */
        int64_t keep;             /* checkpoints kept, default 3 */
        /* Also write the predictions where the TLM reference puts them:
         * dir/predict-temperature_0.0-max_new_tokens_<N>/generated_predictions.jsonl
         * (default false; a LLaMA-Factory job file sets it) */
        int reference_layout;
    } output;
    uint64_t seed; /* default 42 */
    /* Bookkeeping, not part of the job (job_diff and job_to_yaml ignore it): where each
     * key was given, by its index in the schema's table: line and column in `source`
     * (1-based), 0 when defaulted, -1 when set by job_set. The setting-dependent defaults
     * apply to keys not given; cross-key refusals cite the position. */
    int32_t given_line[JOB_MAX_KEYS], given_col[JOB_MAX_KEYS];
} JobSpec;

/* Fills *spec with every default; model.path and data.path stay empty. */
void job_defaults(JobSpec *spec);

/* The bytes of the job file at path into *text (caller frees; empty file: n_bytes 0).
 * Errors: cannot open, a directory, a read failure, each naming path. */
int job_read_file(const char *path, StrBuf *text, Err *err);

/* Reads and validates the job file at path into *spec (caller-owned). Errors look like
 * "jobs/geo.yaml:12:5: lora.rnak: unknown key (did you mean lora.rank?)". */
int job_load(const char *path, JobSpec *spec, Err *err);

/* Parses YAML text as if read from a file named name (for tests and embedded jobs). */
int job_load_string(const char *text, const char *name, JobSpec *spec, Err *err);
/* The same for n bytes that need not end in a NUL. Before any YAML document is built the
 * text is refused (file:line:col) for a NUL byte, a UTF-8 byte-order mark, more than one
 * document or nesting deeper than 64 (jobs/job_yaml_guard.h). */
int job_load_text(const char *text, size_t n, const char *name, JobSpec *spec, Err *err);

/* Applies one `--set key=value` override (value typed as a YAML scalar or flow list),
 * then re-validates the whole spec. Errors name `--set key`. */
int job_set(JobSpec *spec, const char *assignment, Err *err);

/* Cross-field checks and required keys; job_load and job_set call it. Refuses a method
 * whose registry row needs what the job does not give (jobs/job_methods.h: an answer-
 * trained method offline, with optim.batch_size > 1 or under parallel.tp > 1), naming
 * the key, where it was given and why. */
int job_validate(const JobSpec *spec, Err *err);

/* The resolved spec as YAML, every key written (owned-after-return, free()); NULL when
 * out of memory. Loading it again gives an equal spec. */
char *job_to_yaml(const JobSpec *spec);

/* What the job reads, for summaries and reports: data.path, or the data.dataset names
 * and their registry ("alpaca_a, alpaca_b from data/dataset_info.json"); NUL-terminated,
 * truncated to n_bytes. */
void job_data_source(const JobSpec *job, char *buf, size_t n_bytes);

/* The file in output.dir holding the resolved job of the run that wrote the outputs. */
#define JOB_RESOLVED_FILE "job.yaml"

/* Writes job (borrowed) as YAML, under a one-line comment, to job->output.dir/job.yaml
 * atomically (the directory must exist). The loop writes it while it holds output.dir's
 * lock, so no later run's directory gets it. 0, or -1 with err naming the file. */
int job_save_resolved(const JobSpec *job, Err *err);

/* Compares two specs key by key; on the first difference writes "lora.rank: 8 vs 16"
 * into diff (when not NULL) and returns 1; 0 when equal. The source file name and the
 * given-or-defaulted bookkeeping are not compared. */
int job_diff(const JobSpec *a, const JobSpec *b, char *diff, size_t diff_bytes);

/* The dataset reader's view of the spec: pointers borrow from *spec. */
void job_dataset_config(const JobSpec *spec, DsConfig *cfg);

/* Names of the enum values ("online", ...), borrowed, static (job_method_name:
 * jobs/job_methods.h). */
const char *job_setting_name(JobSetting s);
const char *job_loss_tokens_name(JobLossTokens l);
const char *job_schedule_name(JobSchedule s);
const char *job_backend_name(JobBackend b);
const char *job_ttt_loss_name(JobTttLoss l);

#ifdef __cplusplus
}
#endif
#endif
