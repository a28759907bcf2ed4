/* worker/methods/method.c -- the registry's rows (jobs/job_methods.h) linked to their
 * implementations: row NAME is `const Method method_NAME`, so a row without its file, or a
 * file without its row, fails to link or goes unused (test_method_registry checks that
 * every row's Method carries the row's name). */
#include "worker/methods/method.h"

#include <string.h>

#define METHOD_PTR_(ID, name, needs, what) [JOB_##ID] = &method_##name,
static const Method *const k_methods[JOB_N_METHODS] = {JOB_METHOD_LIST(METHOD_PTR_)};
#undef METHOD_PTR_

const Method *method_of(JobMethod m) {
    return (unsigned)m < JOB_N_METHODS ? k_methods[m] : NULL;
}

const Method *method_find(const char *name) {
    const int m = job_method_find(name);
    return m >= 0 ? k_methods[m] : NULL;
}
