/* launcher/report/report_job.c -- OUT/job.yaml written by `tlm run`, found by `tlm report`
 * (or the newest checkpoint's spec, for directories written before job.yaml existed). */
#include "launcher/report/report_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/base/atomic_file.h"
#include "io/ckpt/ckpt.h"

int report_job_save(const JobSpec *job, Err *err) { return job_save_resolved(job, err); }

static int copy_source(char *source, size_t n_bytes, const char *what, Err *err) {
    if ((size_t)snprintf(source, n_bytes, "%s", what) >= n_bytes)
        return err_set(err, "%s: path too long", what);
    return 0;
}

/* The spec stored in the newest valid checkpoint of dir: 1, 0 (no checkpoint), -1. */
static int from_checkpoint(const char *dir, JobSpec *job, char *source, size_t n_bytes,
                           Err *err) {
    char path[CKPT_PATH_BYTES];
    int64_t step;
    const int found = ckpt_latest_valid(dir, path, sizeof path, &step, err);
    if (found <= 0)
        return found;
    CkptState st;
    if (ckpt_read(path, &st, err) != 0) {
        ckpt_free(&st);
        return -1;
    }
    int rc = job_load_string(st.job_yaml, path, job, err) == 0 ? 1 : -1;
    ckpt_free(&st);
    if (rc == 1 && copy_source(source, n_bytes, path, err) != 0)
        return -1;
    return rc;
}

int report_job_find(const char *out_dir, const char *given, JobSpec *job, char *source,
                    size_t n_bytes, Err *err) {
    if (given != NULL) {
        if (job_load(given, job, err) != 0)
            return err_prefix(err, "--job: ");
        return copy_source(source, n_bytes, given, err) == 0 ? 1 : -1;
    }
    char path[JOB_PATH_BYTES + 32];
    snprintf(path, sizeof path, "%s/" REPORT_JOB_FILE, out_dir);
    struct stat s;
    if (stat(path, &s) == 0) {
        if (job_load(path, job, err) != 0)
            return -1;
        return copy_source(source, n_bytes, path, err) == 0 ? 1 : -1;
    }
    return from_checkpoint(out_dir, job, source, n_bytes, err);
}
