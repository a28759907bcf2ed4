/* kernels/ops.c -- choosing a backend by name, the room in its memory (with the test
 * hook that fakes it). The CUDA backend's own entry points are in ops_cuda.c. */
#include "kernels/ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const Ops *ops_select(const char *name, int device, Err *err) {
    if (strcmp(name, "cpu") == 0)
        return ops_cpu();
    if (strcmp(name, "cuda") == 0)
        return ops_cuda(device, err);
    if (strcmp(name, "auto") == 0) {
        Err ignored;
        const Ops *cuda = ops_cuda(device, &ignored);
        return cuda != NULL ? cuda : ops_cpu();
    }
    err_set(err, "backend \"%s\": expected auto, cpu or cuda", name);
    return NULL;
}

int ops_mem_room(const Ops *ops, size_t *free_bytes, size_t *total_bytes, int *faked,
                 Err *err) {
    *faked = 0;
    const char *v = getenv("TLM_TEST_DEVICE_FREE");
    if (v == NULL || v[0] == '\0')
        return ops->mem_info(free_bytes, total_bytes, err);
    *faked = 1; /* from here on the hook decides, a malformed one included */
    char *end = NULL;
    errno = 0;
    const unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-')
        return err_set(err, "TLM_TEST_DEVICE_FREE=%s: expected a byte count (tests only)", v);
    size_t total = 0;
    Err ignored;
    if (ops->mem_info(free_bytes, &total, &ignored) != 0 || total < (size_t)n)
        total = (size_t)n;
    *free_bytes = (size_t)n;
    *total_bytes = total;
    return 0;
}
