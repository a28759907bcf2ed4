/* kernels/cpu/memory.c -- allocation and host <-> backend copies for the CPU backend.
 * "Backend memory" is ordinary host memory here, so copies are memcpy and sync is a no-op.
 * Buffers are 64-byte aligned (one cache line, the widest SIMD load) so BLAS and the
 * vectorized loops never straddle lines at row starts. */
#include "kernels/cpu/cpu_ops.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/sysmem.h"

/* Elements per chunk when widening on several threads: large enough to amortize the
 * fork, small enough to spread a 1 GB tensor over every core. */
#define UPLOAD_CHUNK ((int64_t)1 << 18)

void *cpu_alloc(size_t n_bytes, Err *err) {
    /* aligned_alloc wants a size that is a multiple of the alignment, and a zero-byte
     * request must still give a pointer the caller may release. */
    size_t rounded = (n_bytes + 63) & ~(size_t)63;
    if (rounded < n_bytes) {
        err_set(err, "cpu alloc: %zu bytes overflows size_t when rounded to 64", n_bytes);
        return NULL;
    }
    if (rounded == 0)
        rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (p == NULL) {
        err_set(err, "cpu alloc: out of host memory allocating %zu bytes", n_bytes);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

void cpu_release(void *p) { free(p); }

void cpu_upload(void *dst, const void *src, DType src_type, int64_t n) {
    float *d = dst;
    const char *s = src;
    size_t esz = dtype_bytes(src_type);
    int64_t n_chunks = (n + UPLOAD_CHUNK - 1) / UPLOAD_CHUNK;
    /* Chunks are independent (dtype_to_f32 is pure), so widening a model's weights
     * uses every core. */
#pragma omp parallel for schedule(static) if (n_chunks > 1)
    for (int64_t c = 0; c < n_chunks; c++) {
        int64_t i0 = c * UPLOAD_CHUNK;
        int64_t len = n - i0 < UPLOAD_CHUNK ? n - i0 : UPLOAD_CHUNK;
        dtype_to_f32(d + i0, s + (size_t)i0 * esz, src_type, len);
    }
}

void cpu_upload_raw(void *dst, const void *src, size_t n_bytes) {
    if (n_bytes > 0)
        memcpy(dst, src, n_bytes);
}

void cpu_download(float *dst, const void *src, int64_t n) {
    if (n > 0)
        memcpy(dst, src, (size_t)n * sizeof(float));
}

void cpu_download_raw(void *dst, const void *src, size_t n_bytes) {
    if (n_bytes > 0)
        memcpy(dst, src, n_bytes);
}

void cpu_zero(void *p, size_t n_bytes) {
    if (n_bytes > 0)
        memset(p, 0, n_bytes);
}

/* memmove: a caller shifting rows inside one buffer (KV cache compaction) stays correct. */
void cpu_copy(void *dst, const void *src, size_t n_bytes) {
    if (n_bytes > 0 && dst != src)
        memmove(dst, src, n_bytes);
}

/* CPU ops complete on return; nothing is ever in flight. */
void cpu_sync(void) {}

void *cpu_host_alloc(size_t n_bytes, Err *err) {
    void *p = calloc(1, n_bytes > 0 ? n_bytes : 1);
    if (p == NULL)
        err_set(err, "out of host memory (%zu bytes of staging)", n_bytes);
    return p;
}

void cpu_host_release(void *p) { free(p); }

void cpu_upload_async(void *dst, const void *src, size_t n_bytes) {
    cpu_upload_raw(dst, src, n_bytes);
}

void cpu_download_async(void *dst, const void *src, size_t n_bytes) {
    cpu_download_raw(dst, src, n_bytes);
}

/* No graphs on CPU: every step runs its ops. */
int cpu_graph_begin(uint64_t key) {
    (void)key;
    return 0;
}

void cpu_graph_end(void) {}

void cpu_graph_reset(void) {}

int cpu_mem_info(size_t *free_bytes, size_t *total_bytes, Err *err) {
    SysMem m;
    sysmem_read(&m);
    if (m.available < 0 || m.mem_total < 0)
        return err_set(err, "cpu mem_info: /proc/meminfo gives no MemAvailable or MemTotal");
    int64_t total = m.mem_total;
    if (m.cgroup_limit >= 0 && m.cgroup_limit < total)
        total = m.cgroup_limit;
    *free_bytes = (size_t)m.available;
    *total_bytes = (size_t)total;
    return 0;
}
