/* jobs/lf_map.h -- internal to jobs/: the flat keys of a LLaMA-Factory ttl job and their
 * mapping onto a JobSpec (lf_map.c), fed by the YAML reader of lf_job.c. */
#ifndef TLM_JOBS_LF_MAP_H
#define TLM_JOBS_LF_MAP_H

#include "jobs/lf_job.h"

#define LF_MAX_ENTRIES 96
#define LF_KEY_BYTES 64
#define LF_VALUE_BYTES 1024

/* One top-level key of the file (or of the command line). */
typedef struct LfEntry {
    char key[LF_KEY_BYTES];
    char value[LF_VALUE_BYTES]; /* scalar text; a YAML list is joined with "," */
    int plain;                  /* 1: an unquoted scalar (numbers, booleans, null) */
    int line, col;              /* 1-based in the file; -1: a key=value override */
} LfEntry;

typedef struct LfEntries {
    int n;
    LfEntry e[LF_MAX_ENTRIES];
} LfEntries;

/* Maps every entry onto *spec (job_defaults first, then the reference's defaults for
 * keys not given), then job_validate. name: the file, for messages. */
int lf_map(const LfEntries *entries, const char *name, JobSpec *spec, LfNotes *notes,
           Err *err);

#endif
