/* jobs/lf_job.h -- LLaMA-Factory-style flat job files, as the TLM reference runs them
 * with `llamafactory-cli train FILE.yaml` (its examples/train_lora/online_ttl.yaml and
 * offline_ttl.yaml): top-level keys such as `stage: ttl`, `model_name_or_path`,
 * `dataset` (names resolved through dataset_dir/dataset_info.json), mapped onto the native
 * JobSpec (jobs/job.h) with the reference's meaning and defaults. Keys with no meaning
 * here are accepted and reported as notes with the reason; values tlm cannot honour
 * (lora_dropout > 0, sampling, several epochs, ...) and unknown keys are errors naming
 * file:line:column, the key and why. llamafactory-cli's `key=value` overrides apply over
 * the file's keys. Plain data in, plain data out; not thread-safe while writing *spec. */
#ifndef TLM_JOBS_LF_JOB_H
#define TLM_JOBS_LF_JOB_H

#include <stddef.h>

#include "io/base/err.h"
#include "jobs/job.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LF_MAX_NOTES 64
#define LF_NOTE_BYTES 256

/* What the mapping says beside the job: keys accepted with no effect (and why), and the
 * reference's defaults applied where tlm's own differ. One line per key. */
typedef struct LfNotes {
    /* overwrite_output_dir: true -- what tlm run --overwrite does (an earlier run's
     * results in output_dir moved aside to previous-<time>/, nothing deleted): a run
     * option, not a job key. */
    int overwrite_output_dir;
    int n_notes;
    char notes[LF_MAX_NOTES][LF_NOTE_BYTES]; /* "plot_loss: ignored: tlm report draws ..." */
} LfNotes;

/* 1 when text (n bytes) is a flat file: its top-level mapping holds `stage` or
 * `model_name_or_path` (keys no native job has); 0 otherwise, also when it is not YAML
 * or fails the checks before parsing (job_load_text then says why). */
int lf_is_flat(const char *text, size_t n);

/* Reads flat YAML text as if from a file named name, applies overrides[0..n_overrides)
 * ("key=value", each value a YAML scalar, replacing or adding the file's key) and maps
 * the result into *spec (caller-owned), validated as job_load does. *notes (may be NULL)
 * receives the notes. */
int lf_job_load_string(const char *text, const char *name, const char *const *overrides,
                       int n_overrides, JobSpec *spec, LfNotes *notes, Err *err);

/* The same for n bytes that need not end in a NUL: refused first, as job_load_text
 * does, for a NUL byte, a byte-order mark, a second document or deep nesting. */
int lf_job_load_text(const char *text, size_t n, const char *name, const char *const *overrides,
                     int n_overrides, JobSpec *spec, LfNotes *notes, Err *err);

/* lf_job_load_text on the file at path. */
int lf_job_load(const char *path, const char *const *overrides, int n_overrides,
                JobSpec *spec, LfNotes *notes, Err *err);

/* 1 when arg looks like a flat override ("key=value" with a key of letters, digits and
 * '_', no '.'), for the command line. */
int lf_is_override(const char *arg);

#ifdef __cplusplus
}
#endif
#endif
