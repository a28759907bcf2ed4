/* tests/kernels/cpu/test_ops_mem_info.c -- the CPU backend's mem_info (kernels/ops_list.h:
 * host memory from io/base/sysmem.h) and ops_mem_room's test hook TLM_TEST_DEVICE_FREE
 * (kernels/ops.h). mem_info must report 0 < free <= total with total no more than
 * /proc/meminfo's MemTotal and free no more than its MemAvailable read around the call
 * (other processes move it, hence the slack); the hook must replace free by its value,
 * keep total >= it, say it decided, and refuse a malformed value. Exit status = failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"

/* MemTotal or MemAvailable of /proc/meminfo in bytes, 0 when absent. */
static size_t meminfo_field(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kib = 0;
    const size_t n = strlen(key);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%llu", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return (size_t)kib * 1024;
}

static int check_real(const Ops *o) {
    size_t free_bytes = 0, total = 0;
    Err err;
    const size_t total_file = meminfo_field("MemTotal");
    if (total_file == 0)
        return tu_fail("no MemTotal in /proc/meminfo (not Linux?)");
    if (o->mem_info(&free_bytes, &total, &err) != 0)
        return tu_fail("cpu mem_info: %s", err.msg);
    const size_t avail = meminfo_field("MemAvailable");
    int fails = tu_check(free_bytes > 0 && free_bytes <= total, "free %zu, total %zu",
                         free_bytes, total);
    fails += tu_check(total <= total_file, "total %zu above MemTotal %zu", total, total_file);
    fails += tu_check(free_bytes <= avail + avail / 10, "free %zu above MemAvailable %zu + 10%%",
                      free_bytes, avail);
    tu_note("cpu mem_info: %.2f GiB free of %.2f GiB (MemAvailable %.2f, MemTotal %.2f)",
            (double)free_bytes / (1 << 30), (double)total / (1 << 30),
            (double)avail / (1 << 30), (double)total_file / (1 << 30));
    return fails;
}

static int check_hook(const Ops *o) {
    size_t free_bytes = 0, total = 0;
    int faked = -1, fails = 0;
    Err err;
    unsetenv("TLM_TEST_DEVICE_FREE");
    tu_check_rc(ops_mem_room(o, &free_bytes, &total, &faked, &err), "ops_mem_room", err.msg);
    fails += tu_check(faked == 0, "no hook set, yet faked = %d", faked);
    setenv("TLM_TEST_DEVICE_FREE", "1048576", 1);
    tu_check_rc(ops_mem_room(o, &free_bytes, &total, &faked, &err), "ops_mem_room hook", err.msg);
    fails += tu_check(faked == 1 && free_bytes == 1048576 && total >= free_bytes,
                      "hook 1048576: faked %d, free %zu, total %zu", faked, free_bytes, total);
    /* a room above the machine's: total follows it */
    setenv("TLM_TEST_DEVICE_FREE", "1152921504606846976", 1); /* 2^60 */
    tu_check_rc(ops_mem_room(o, &free_bytes, &total, &faked, &err), "ops_mem_room 2^60", err.msg);
    fails += tu_check(free_bytes == ((size_t)1 << 60) && total == free_bytes,
                      "hook 2^60: free %zu, total %zu", free_bytes, total);
    const char *bad[] = {"lots", "-5", "12x", "99999999999999999999999"};
    for (int i = 0; i < 4; i++) {
        setenv("TLM_TEST_DEVICE_FREE", bad[i], 1);
        faked = 0;
        err_clear(&err);
        const int rc = ops_mem_room(o, &free_bytes, &total, &faked, &err);
        char want[96];
        snprintf(want, sizeof want, "TLM_TEST_DEVICE_FREE=%s: expected a byte count", bad[i]);
        fails += tu_check(rc == -1 && faked == 1 && strstr(err.msg, want) != NULL,
                          "hook \"%s\": rc %d, faked %d, message \"%s\"", bad[i], rc, faked,
                          err.msg);
    }
    unsetenv("TLM_TEST_DEVICE_FREE");
    return fails;
}

int main(void) {
    const Ops *o = ops_cpu();
    int fails = check_real(o);
    fails += check_hook(o);
    return tu_report(fails);
}
