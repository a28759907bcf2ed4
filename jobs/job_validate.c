/* jobs/job_validate.c -- job_validate (see job.h): the required keys and the checks across
 * keys, including what the job's method needs of the rest of the job (its registry row,
 * jobs/job_methods.h). A refusal names the key, where it was given (file:line:column, or
 * --set) and why. */
#include <stdio.h>
#include <string.h>

#include "jobs/job.h"
#include "jobs/job_schema.h"

/* "file:line:col: key: " when key was given in the file, "file: key (--set): " by job_set,
 * "file: key: " when defaulted: where a cross-key refusal points. */
static void key_where(const JobSpec *spec, const char *key, char *out, size_t out_bytes) {
    const char *name = spec->source[0] != '\0' ? spec->source : "job";
    const JobField *f = jf_find(key);
    const int line = f != NULL ? spec->given_line[jf_index(f)] : 0;
    if (line > 0)
        snprintf(out, out_bytes, "%s:%d:%d: %s", name, line,
                 (int)spec->given_col[jf_index(f)], key);
    else
        snprintf(out, out_bytes, "%s: %s%s", name, key, line < 0 ? " (--set)" : "");
}

/* Where key was given, for a second key a refusal names: "line 4", "--set" or "default". */
static void key_origin(const JobSpec *spec, const char *key, char *out, size_t out_bytes) {
    const JobField *f = jf_find(key);
    const int line = f != NULL ? spec->given_line[jf_index(f)] : 0;
    if (line > 0)
        snprintf(out, out_bytes, "line %d", line);
    else
        snprintf(out, out_bytes, "%s", line < 0 ? "--set" : "default");
}

/* What the job's method needs of the job (its registry row, jobs/job_methods.h). */
static int check_method_needs(const JobSpec *spec, Err *err) {
    const JobMethodInfo *m = job_method_info(spec->method.name);
    char at[JOB_PATH_BYTES + 64], by[32];
    if (m == NULL)
        return err_set(err, "%s: method.name: %d is not a method",
                       spec->source[0] != '\0' ? spec->source : "job", (int)spec->method.name);
    key_origin(spec, "method.name", by, sizeof by);
    if ((m->needs & JOB_NEEDS_ANSWERS) && spec->method.setting == JOB_OFFLINE) {
        key_where(spec, "method.setting", at, sizeof at);
        return err_set(err, "%s: offline with method.name: %s (%s): %s trains on each "
                       "sample's generated answer, and offline the answers are generated "
                       "only after the update epoch; use method.setting: online", at,
                       m->name, by, m->name);
    }
    if ((m->needs & JOB_NEEDS_ANSWERS) && spec->optim.batch_size > 1) {
        key_where(spec, "optim.batch_size", at, sizeof at);
        return err_set(err, "%s: %lld with method.name: %s (%s): %s trains on each sample's "
                       "generated answer, and an update step hands a method the answer of "
                       "one sample only; use optim.batch_size: 1", at,
                       (long long)spec->optim.batch_size, m->name, by, m->name);
    }
    if ((m->needs & JOB_NEEDS_WHOLE_VOCAB) && spec->parallel.tp > 1) {
        key_where(spec, "parallel.tp", at, sizeof at);
        return err_set(err, "%s: %lld with method.name: %s (%s): %s needs every token's "
                       "probability on one rank, and under tensor parallelism each rank "
                       "holds a slice of the vocabulary; use parallel.tp: 1 (data "
                       "parallelism still scales it)", at, (long long)spec->parallel.tp,
                       m->name, by, m->name);
    }
    return 0;
}

/* The stream is one file (data.path) or datasets of a registry (data.dataset with
 * data.dataset_info, whose columns replace data.prompt and data.response). */
static int check_data_source(const JobSpec *spec, Err *err) {
    const char *name = spec->source[0] != '\0' ? spec->source : "job";
    char at[JOB_PATH_BYTES + 64];
    if (spec->data.n_datasets == 0) {
        if (spec->data.path[0] == '\0')
            return err_set(err, "%s: data.path: required key missing", name);
        return 0;
    }
    /* The resolved job (job_to_yaml) writes every key: the defaults it writes for the
     * replaced keys are not a conflict, other values are. */
    static const char *const replaced[] = {"data.path", "data.prompt", "data.response"};
    JobSpec def;
    job_defaults(&def);
    for (size_t i = 0; i < sizeof replaced / sizeof replaced[0]; i++) {
        const JobField *f = jf_find(replaced[i]);
        char now[JOB_PATH_BYTES + 8], was[JOB_PATH_BYTES + 8];
        jf_format(f, spec, now, sizeof now);
        jf_format(f, &def, was, sizeof was);
        if (strcmp(now, was) != 0) {
            key_where(spec, replaced[i], at, sizeof at);
            return err_set(err, "%s: not with data.dataset: the datasets' files and "
                           "columns come from data.dataset_info", at);
        }
    }
    if (spec->data.dataset_info[0] == '\0') {
        key_where(spec, "data.dataset", at, sizeof at);
        return err_set(err, "%s: needs data.dataset_info (the dataset_info.json that "
                       "names the datasets)", at);
    }
    return 0;
}

int job_validate(const JobSpec *spec, Err *err) {
    const char *name = spec->source[0] != '\0' ? spec->source : "job";
    if (spec->model.path[0] == '\0')
        return err_set(err, "%s: model.path: required key missing", name);
    if (check_data_source(spec, err) != 0)
        return -1;
    /* An update step takes its samples from one stream batch (DESIGN §1/§3). */
    if (spec->method.setting == JOB_ONLINE && spec->optim.batch_size > spec->method.stream_batch)
        return err_set(err, "%s: optim.batch_size: %lld exceeds method.stream_batch %lld "
                       "(an online update step takes its samples from one stream batch)",
                       name, (long long)spec->optim.batch_size,
                       (long long)spec->method.stream_batch);
    return check_method_needs(spec, err);
}

