/* launcher/bench/bench_gpu.h -- the accelerator view of `tlm bench`: the ceilings measured
 * on the backend before anything else (a square bf16/fp32 GEMM through matmul_fwd, i.e.
 * cuBLAS on CUDA, and a device-to-device copy), then, for a measured BenchResult, the
 * update step's model FLOPs utilisation and each decode's share of the memory roofline,
 * every formula printed with its numbers. Printing only reads; measuring allocates on the
 * backend and releases before return. Not thread-safe. */
#ifndef TLM_LAUNCHER_BENCH_GPU_H
#define TLM_LAUNCHER_BENCH_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"
#include "io/model/model_config.h"
#include "kernels/ops.h"
#include "launcher/bench/bench.h"

/* Plain data: what the backend can do at best, as measured here. */
typedef struct BenchCeilings {
    int64_t gemm_n;      /* the n x n x n matmul measured */
    double gemm_flop_s;  /* its FLOP/s (2 n^3 / median seconds) */
    size_t copy_bytes;   /* bytes of one measured copy */
    double copy_bytes_s; /* read + write bytes/s of backend -> backend copies */
} BenchCeilings;

/* Measures c on ops: the gemm_n^3 matmul and copies of copy_bytes (both > caches).
 * Errors: a failed allocation. */
int bench_ceilings(const Ops *ops, int64_t gemm_n, size_t copy_bytes, BenchCeilings *c,
                   Err *err);

void bench_print_ceilings(const Ops *ops, const BenchCeilings *c);

/* Parameters a token passes through (every linear layer and lm_head; the embedding is a
 * lookup), from the model's shape. */
double bench_matmul_params(const ModelConfig *mc);

/* The MFU of the update step and the roofline share of both decodes of r (cfg k, model
 * mc, elem_bytes per weight/KV element), each with its formula. */
void bench_print_efficiency(const ModelConfig *mc, const BenchConfig *k, const BenchResult *r,
                            const BenchCeilings *c, size_t elem_bytes);

#endif
