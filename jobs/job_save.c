/* jobs/job_save.c -- the resolved job written beside a run's outputs (see job.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/atomic_file.h"
#include "jobs/job.h"

int job_save_resolved(const JobSpec *job, Err *err) {
    char path[JOB_PATH_BYTES + 32];
    snprintf(path, sizeof path, "%s/" JOB_RESOLVED_FILE, job->output.dir);
    char *yaml = job_to_yaml(job);
    if (yaml == NULL)
        return err_set(err, "%s: out of memory writing the job", path);
    static const char head[] = "# The resolved job of this run (tlm run writes it; tlm report "
                               "reads it).\n";
    const size_t n_head = sizeof head - 1, n_yaml = strlen(yaml);
    char *text = malloc(n_head + n_yaml + 1);
    int rc = -1;
    if (text == NULL) {
        err_set(err, "%s: out of memory writing the job", path);
    } else {
        memcpy(text, head, n_head);
        memcpy(text + n_head, yaml, n_yaml + 1);
        rc = af_write_file(path, text, n_head + n_yaml, err);
    }
    free(text);
    free(yaml);
    return rc;
}
