/* tests/fuzz/fuzz_job.c -- the job loader over arbitrary bytes (the guard before libyaml,
 * the document walk, every setter and the validation), and for an accepted job the
 * round trip job.h promises: job_to_yaml's text loads again into an equal spec. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "jobs/job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err = {0};
    JobSpec spec;
    if (job_load_text((const char *)data, size, "fuzz.yaml", &spec, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    char *yaml = job_to_yaml(&spec);
    FUZZ_CHECK(yaml != NULL);
    JobSpec again;
    if (job_load_string(yaml, "emitted.yaml", &again, &err) != 0)
        fuzz_fail(__FILE__, __LINE__, err.msg); /* what we wrote we must read */
    char diff[2200];
    if (job_diff(&spec, &again, diff, sizeof diff) != 0)
        fuzz_fail(__FILE__, __LINE__, diff);
    free(yaml);
    return 0;
}
