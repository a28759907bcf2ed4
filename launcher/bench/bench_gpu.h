/* launcher/bench/bench_gpu.h -- the accelerator view of `tlm bench`: the ceilings measured
 * on the backend before anything else (the fastest square bf16/fp32 GEMM, i.e. cuBLAS on
 * CUDA, a device-to-device copy and a streaming read), then, for a measured BenchResult, the
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
#include "launcher/bench/bench_profile.h"

/* Plain data: what the backend can do at best, as measured here. */
typedef struct BenchCeilings {
    int64_t gemm_n;      /* the middle of the cubes measured (n/2, n, 2n) */
    ProfPeak gemm;       /* the fastest of them, forward or backward */
    double gemm_flop_s;  /* its FLOP/s (2 n^3 / median seconds) */
    size_t copy_bytes;   /* bytes of one measured copy, and of the read pass */
    double copy_bytes_s; /* read + write bytes/s of backend -> backend copies */
    double read_bytes_s; /* bytes/s of a streaming read (sumsq), the decode's pattern */
} BenchCeilings;

/* Measures c on ops: the cube matmuls around gemm_n, copies and reads of copy_bytes (all
 * larger than caches). Errors: a failed allocation. */
int bench_ceilings(const Ops *ops, int64_t gemm_n, size_t copy_bytes, BenchCeilings *c,
                   Err *err);

void bench_print_ceilings(const Ops *ops, const BenchCeilings *c);

/* Parameters a token passes through (every linear layer and lm_head; the embedding is a
 * lookup), from the model's shape. */
double bench_matmul_params(const ModelConfig *mc);

/* The MFU of the update step and the roofline share of both decodes of r (cfg k, model
 * mc, elem_bytes per weight/KV element: fractional for a block format), each with its
 * formula. */
void bench_print_efficiency(const ModelConfig *mc, const BenchConfig *k, const BenchResult *r,
                            const BenchCeilings *c, double elem_bytes);

#endif
