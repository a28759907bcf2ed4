/* jobs/job_methods.c -- the registry's tables, generated from the lists in job_methods.h. */
#include "jobs/job_methods.h"

#include <stdio.h>
#include <string.h>

#define METHOD_ROW_(ID, name, needs, what) [JOB_##ID] = {#name, needs, what},
const JobMethodInfo job_method_rows[JOB_N_METHODS] = {JOB_METHOD_LIST(METHOD_ROW_)};
#undef METHOD_ROW_

#define PARAM_ROW_(M, ID, m, p, def, lo, hi, lo_open, hi_open, what)                      \
    [JOB_MP_##M##_##ID] = {JOB_##M, "method." #m "." #p, def, lo, hi, lo_open, hi_open, what},
const JobMethodParamInfo job_method_param_rows[JOB_METHOD_PARAM_SLOTS] = {
    JOB_METHOD_PARAM_LIST(PARAM_ROW_)};
#undef PARAM_ROW_

const JobMethodInfo *job_method_info(JobMethod m) {
    return (unsigned)m < JOB_N_METHODS ? &job_method_rows[m] : NULL;
}

const char *job_method_name(JobMethod m) {
    return (unsigned)m < JOB_N_METHODS ? job_method_rows[m].name : "?";
}

int job_method_find(const char *name) {
    for (int m = 0; m < JOB_N_METHODS; m++)
        if (strcmp(job_method_rows[m].name, name) == 0)
            return m;
    return -1;
}

double job_method_param_default(JobMethodParam p) {
    return (unsigned)p < JOB_N_METHOD_PARAMS ? job_method_param_rows[p].def : 0.0;
}

void job_method_names(const char *sep, char *out, size_t out_bytes) {
    size_t at = 0;
    out[0] = '\0';
    for (int m = 0; m < JOB_N_METHODS && at < out_bytes; m++)
        at += (size_t)snprintf(out + at, out_bytes - at, "%s%s", m ? sep : "",
                               job_method_rows[m].name);
}
