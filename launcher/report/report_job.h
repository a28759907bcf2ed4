/* launcher/report/report_job.h -- the job a run's output directory was made by: written
 * there by `tlm run` (OUT/job.yaml, the resolved spec) and found again by `tlm report`,
 * which needs its threshold, stream batch and method to draw the run. Older output
 * directories without job.yaml fall back to the newest checkpoint's stored spec.
 * Single-threaded; world rank 0 only writes. */
#ifndef TLM_LAUNCHER_REPORT_REPORT_JOB_H
#define TLM_LAUNCHER_REPORT_REPORT_JOB_H

#include <stddef.h>

#include "io/base/err.h"
#include "jobs/job.h"

#define REPORT_JOB_FILE JOB_RESOLVED_FILE

/* job_save_resolved (jobs/job.h): job->output.dir/job.yaml, atomically (the directory
 * must exist; tlm run's loop writes it, the report's tests call this). */
int report_job_save(const JobSpec *job, Err *err);

/* The job of the run in out_dir: given (a job file, when not NULL), else out_dir/job.yaml,
 * else the job stored in out_dir's newest valid checkpoint. Fills *job and writes where
 * it came from into source (n_bytes). Returns 1 found, 0 none of them there, -1 when the
 * one found does not load (err names it). */
int report_job_find(const char *out_dir, const char *given, JobSpec *job, char *source,
                    size_t n_bytes, Err *err);

#endif
