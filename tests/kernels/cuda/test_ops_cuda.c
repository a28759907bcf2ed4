/* tests/kernels/cuda/test_ops_cuda.c -- every CUDA op against the CPU op (the reference) on
 * random inputs with awkward sizes; see harness.h for the tolerances. Exits 77 (CTest:
 * skipped) when the CUDA runtime reports no device, non-zero when any check fails.
 * Run with TLM_CUDA_SYNC=1 to pin an asynchronous fault on the op that caused it. */
#include "tests/kernels/cuda/harness.h"

#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_kernels.h"
#include "tests/testutil.h"

const Ops *h_cpu, *h_gpu;

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

void h_seed(uint64_t seed) { g_rng = seed ? seed : 0x9E3779B97F4A7C15ull; }

static uint64_t next_u64(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1Dull;
}

float h_uniform(float lo, float hi) {
    const double u = (double)(next_u64() >> 11) / 9007199254740992.0; /* [0, 1) */
    return (float)(lo + (hi - lo) * u);
}

float h_round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

float *h_rand(int64_t n, float lo, float hi) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = h_round_bf16(h_uniform(lo, hi));
    return x;
}

int32_t *h_rand_ids(int64_t n, int32_t lo, int32_t hi) {
    int32_t *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + (int32_t)(next_u64() % (uint64_t)(hi - lo));
    return x;
}

static size_t kind_bytes(const Ops *ops, BufKind kind) {
    return kind == BUF_ELEM ? ops->elem_bytes : 4;
}

static void *backend_alloc(const Ops *ops, BufKind kind, int64_t n) {
    Err err;
    void *p = ops->alloc((size_t)(n > 0 ? n : 1) * kind_bytes(ops, kind), &err);
    if (p == NULL) {
        fprintf(stderr, "%s alloc failed: %s\n", ops->name, err.msg);
        exit(1);
    }
    return p;
}

Dual dual_new(BufKind kind, int64_t n, const void *host) {
    Dual d = {backend_alloc(h_cpu, kind, n), backend_alloc(h_gpu, kind, n), n, kind};
    if (host != NULL)
        dual_set(&d, host);
    return d;
}

void dual_set(const Dual *d, const void *host) {
    const Ops *both[2] = {h_cpu, h_gpu};
    for (int i = 0; i < 2; i++) {
        void *p = i == 0 ? d->c : d->g;
        if (d->kind == BUF_ELEM)
            both[i]->upload(p, host, DTYPE_F32, d->n);
        else
            both[i]->upload_raw(p, host, (size_t)d->n * 4);
    }
}

void dual_poison(const Dual *d) {
    const Ops *both[2] = {h_cpu, h_gpu};
    for (int i = 0; i < 2; i++) {
        const size_t n_bytes = (size_t)d->n * kind_bytes(both[i], d->kind);
        unsigned char *ff = malloc(n_bytes > 0 ? n_bytes : 1);
        memset(ff, 0xFF, n_bytes);
        both[i]->upload_raw(i == 0 ? d->c : d->g, ff, n_bytes);
        free(ff);
    }
}

void dual_free(Dual *d) {
    h_cpu->release(d->c);
    h_gpu->release(d->g);
    memset(d, 0, sizeof *d);
}

float *dual_get(const Dual *d, int gpu) {
    const Ops *ops = gpu ? h_gpu : h_cpu;
    const void *p = gpu ? d->g : d->c;
    float *out = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *out);
    if (d->kind == BUF_ELEM) {
        ops->download(out, p, d->n);
    } else if (d->kind == BUF_F32) {
        ops->download_raw(out, p, (size_t)d->n * 4);
    } else {
        int32_t *ids = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *ids);
        ops->download_raw(ids, p, (size_t)d->n * 4);
        for (int64_t i = 0; i < d->n; i++)
            out[i] = (float)ids[i];
        free(ids);
    }
    return out;
}

int check_host(const char *label, const float *got, const float *want, int64_t n, Tol tol) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)want[i] * want[i];
    const double rms = n > 0 ? sqrt(ss / (double)n) : 0.0;
    const double rel = tu_rel_norm_err(got, want, n);
    const int64_t bad = tu_compare(label, got, want, n, tol.atol_rms * rms, tol.rtol);
    const int ok = bad == 0 && rel <= tol.rel_norm;
    printf("%-4s %-44s n=%-8lld rel_norm=%.3g (tol %.3g) elementwise bad=%lld\n",
           ok ? "ok" : "FAIL", label, (long long)n, rel, tol.rel_norm, (long long)bad);
    return ok ? 0 : 1;
}

int check(const char *label, const Dual *d, int64_t n, Tol tol) {
    float *got = dual_get(d, 1), *want = dual_get(d, 0);
    const int fail = check_host(label, got, want, n < 0 ? d->n : n, tol);
    free(got);
    free(want);
    return fail;
}

int main(void) {
    int n_devices = 0;
    const cudaError_t e = cudaGetDeviceCount(&n_devices);
    if (e != cudaSuccess || n_devices == 0) {
        char why[256];
        snprintf(why, sizeof why, "no CUDA device (%s)",
                 e != cudaSuccess ? cudaGetErrorString(e) : "device count 0");
        tu_skip(why);
    }
    Err err;
    h_cpu = ops_cpu();
    h_gpu = ops_cuda(0, &err);
    if (h_gpu == NULL) {
        fprintf(stderr, "FAIL: a device exists but ops_cuda(0) failed: %s\n", err.msg);
        return 1;
    }
    if (h_gpu->elem != DTYPE_BF16 || h_gpu->elem_bytes != 2 || strcmp(h_gpu->name, "cuda")) {
        fprintf(stderr, "FAIL: the CUDA table does not describe bf16 elements\n");
        return 1;
    }
    int fails = 0;
    fails += cases_memory();
    fails += cases_matmul();
    fails += cases_lora(); /* the split-M LoRA backward, then its simple twin */
    const int lora_was = cuda_kernels_simple(1);
    printf("-- LoRA, simple kernels\n");
    fails += cases_lora();
    cuda_kernels_simple(lora_was);
    fails += cases_lora_rows();
    fails += cases_norm_rope();
    fails += cases_elementwise();
    const int fused_was = cuda_kernels_simple(0); /* the fused kernels, then the unfused ops */
    printf("-- fused ops, fast kernels\n");
    fails += cases_fused();
    cuda_kernels_simple(1);
    printf("-- fused ops, simple kernels\n");
    fails += cases_fused();
    cuda_kernels_simple(fused_was);
    /* attention in both kernel families: the fast (tensor cores, the default) and the
     * simple twins (TLM_CUDA_KERNELS=simple), each against the CPU backend */
    const int was_simple = cuda_kernels_simple(0);
    printf("-- attention, fast kernels\n");
    fails += cases_attention();
    fails += cases_attention_llama();
    cuda_kernels_simple(1);
    printf("-- attention, simple kernels\n");
    fails += cases_attention();
    fails += cases_attention_llama();
    cuda_kernels_simple(was_simple);
    fails += cases_llama_dense();
    fails += cases_xent_argmax();
    fails += cases_entropy();
    fails += cases_vocab_slice();
    fails += cases_optim();
    fails += cases_quant();
    const int graph_was = cuda_kernels_simple(0);
    fails += cases_graph();
    cuda_kernels_simple(graph_was);
    h_gpu->sync();
    printf("%s: %d failed check(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
