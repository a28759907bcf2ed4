/* jobs/job_save.c -- what a run leaves about its job beside its outputs (see job.h): the
 * resolved job, and the name of its data. */
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

void job_data_source(const JobSpec *job, char *buf, size_t n_bytes) {
    if (n_bytes == 0)
        return;
    if (job->data.n_datasets == 0) {
        snprintf(buf, n_bytes, "%s", job->data.path);
        return;
    }
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < job->data.n_datasets && len < n_bytes; i++)
        len += (size_t)snprintf(buf + len, n_bytes - len, "%s%s", i > 0 ? ", " : "",
                                job->data.datasets[i]);
    if (len < n_bytes)
        snprintf(buf + len, n_bytes - len, " from %s", job->data.dataset_info);
}
