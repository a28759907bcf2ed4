/* io/base/sysmem.c -- MemAvailable and the memory cgroup's room (see sysmem.h). The
 * cgroup is the one /proc/self/cgroup names: "0::/path" (v2, unified; tried first) or
 * "N:memory:/path" (v1), under /sys/fs/cgroup. */
#include "io/base/sysmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first integer in a file, or -1 ("max", missing, unreadable). */
static int64_t read_int_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1)
        v = -1;
    fclose(f);
    return (int64_t)v;
}

/* MemAvailable and MemTotal of /proc/meminfo, in bytes; -1 each when unknown. */
static void meminfo(int64_t *available, int64_t *total) {
    *available = *total = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return;
    char line[256];
    long long kib = -1;
    while (fgets(line, sizeof line, f) != NULL && (*available < 0 || *total < 0)) {
        if (sscanf(line, "MemAvailable: %lld kB", &kib) == 1 && kib >= 0)
            *available = (int64_t)kib * 1024;
        else if (sscanf(line, "MemTotal: %lld kB", &kib) == 1 && kib >= 0)
            *total = (int64_t)kib * 1024;
    }
    fclose(f);
}

/* This process's cgroup paths from /proc/self/cgroup: v2's ("0::/path") into v2 and v1's
 * memory controller's ("N:...memory...:/path") into v1; "" when absent. */
static void cgroup_paths(char *v2, char *v1, size_t n) {
    v2[0] = v1[0] = '\0';
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        const char *ctl = c1 + 1, *path = strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1;
        if (ctl[0] == '\0' && strcmp(line, "0") == 0)
            snprintf(v2, n, "%s", path);
        else if (strstr(ctl, "memory") != NULL)
            snprintf(v1, n, "%s", path);
    }
    fclose(f);
}

/* Reads limit and usage under base+path, or under base alone (a container sees its own
 * cgroup at the root). 0 when a real limit was found. */
static int try_cgroup(SysMem *m, const char *base, const char *path, const char *limit_name,
                      const char *usage_name) {
    for (int at_root = 0; at_root < 2; at_root++) {
        char file[sizeof m->cgroup_file];
        snprintf(file, sizeof file, "%s%s/%s", base, at_root ? "" : path, limit_name);
        const int64_t limit = read_int_file(file);
        /* "max" (v2), or v1's "no limit": a huge page-rounded number */
        if (limit < 0 || limit >= ((int64_t)1 << 62))
            continue;
        m->cgroup_limit = limit;
        snprintf(m->cgroup_file, sizeof m->cgroup_file, "%s", file);
        snprintf(file, sizeof file, "%s%s/%s", base, at_root ? "" : path, usage_name);
        const int64_t usage = read_int_file(file);
        m->cgroup_usage = usage > 0 ? usage : 0;
        return 0;
    }
    return -1;
}

static void read_cgroup(SysMem *m) {
    char v2[256], v1[256];
    cgroup_paths(v2, v1, sizeof v2);
    if (try_cgroup(m, "/sys/fs/cgroup", v2, "memory.max", "memory.current") != 0)
        try_cgroup(m, "/sys/fs/cgroup/memory", v1, "memory.limit_in_bytes",
                   "memory.usage_in_bytes");
}

void sysmem_read(SysMem *m) {
    memset(m, 0, sizeof *m);
    m->cgroup_limit = -1;
    meminfo(&m->mem_available, &m->mem_total);
    read_cgroup(m);
    m->available = m->mem_available;
    if (m->cgroup_limit >= 0) {
        const int64_t room = m->cgroup_limit > m->cgroup_usage
                                 ? m->cgroup_limit - m->cgroup_usage : 0;
        if (m->available < 0 || room < m->available)
            m->available = room;
    }
}
