/* io/base/sysmem.h -- how much host memory this process may still take: Linux's
 * MemAvailable (/proc/meminfo) and the limit of its memory cgroup, if any (v2
 * memory.max minus memory.current; v1 memory.limit_in_bytes minus memory.usage_in_bytes),
 * so a job that cannot fit is refused before it loads instead of being OOM-killed hours
 * in. Reads files only; thread-safe. */
#ifndef TLM_IO_BASE_SYSMEM_H
#define TLM_IO_BASE_SYSMEM_H

#include <stdint.h>

typedef struct SysMem {
    int64_t mem_available; /* MemAvailable in bytes, -1 when unknown (not Linux) */
    int64_t mem_total;     /* MemTotal in bytes, -1 when unknown */
    int64_t cgroup_limit;  /* the cgroup's limit in bytes, -1 when none ("max") */
    int64_t cgroup_usage;  /* what the cgroup uses now, bytes (0 when unknown) */
    int64_t available;     /* the smaller of mem_available and limit - usage; -1 unknown */
    char cgroup_file[320]; /* the limit's file, "" when none */
} SysMem;

/* Fills *m from /proc and /sys/fs/cgroup. Never fails: what it cannot read is unknown. */
void sysmem_read(SysMem *m);

#endif
