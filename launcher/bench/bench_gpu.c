/* launcher/bench/bench_gpu.c -- ceilings, MFU and roofline lines of `tlm bench` (see
 * bench_gpu.h). The counts follow the definition: a trained token costs 4 N
 * FLOPs in the matmuls (2 N forward, 2 N for the input gradients: the frozen base has no
 * weight gradients) plus attention; a decode step reads every weight once and each
 * sequence's KV cache once. */
#include "launcher/bench/bench_gpu.h"

#include <stdio.h>

#include "launcher/bench/bench_profile.h"

int bench_ceilings(const Ops *ops, int64_t gemm_n, size_t copy_bytes, BenchCeilings *c,
                   Err *err) {
    *c = (BenchCeilings){.gemm_n = gemm_n, .copy_bytes = copy_bytes};
    if (prof_matmul_best(ops, gemm_n, &c->gemm, err) != 0)
        return err_prefix(err, "the matmuls around %lld^3: ", (long long)gemm_n);
    c->gemm_flop_s = c->gemm.flop_s;
    if (prof_copy_bandwidth(ops, copy_bytes, &c->copy_bytes_s, err) != 0)
        return err_prefix(err, "the %zu-byte copy: ", copy_bytes);
    if (prof_read_bandwidth(ops, copy_bytes, &c->read_bytes_s, err) != 0)
        return err_prefix(err, "the %zu-byte read: ", copy_bytes);
    return 0;
}

void bench_print_ceilings(const Ops *ops, const BenchCeilings *c) {
    char what[256];
    ops->describe(what, sizeof what);
    printf("ceilings on %s (measured first)\n", what);
    printf("  %-40s %12.4g TFLOP/s  (%s, the fastest of %lld^3, %lld^3, %lld^3 fwd and bwd: "
           "%s %lld^3, 2 n^3 / median s)\n", "matmul peak", c->gemm_flop_s * 1e-12,
           ops->elem_bytes == 2 ? "bf16, fp32 accumulate" : "fp32",
           (long long)(c->gemm_n > 1 ? c->gemm_n / 2 : 1), (long long)c->gemm_n,
           (long long)(2 * c->gemm_n), c->gemm.bwd ? "bwd" : "fwd", (long long)c->gemm.n);
    printf("  %-40s %12.1f GB/s     (%.0f MiB copies, read + write bytes / median s)\n",
           "copy, backend to backend", c->copy_bytes_s * 1e-9,
           (double)c->copy_bytes / (1024.0 * 1024.0));
    printf("  %-40s %12.1f GB/s     (sumsq over %.0f MiB, bytes read / median s)\n",
           "streaming read", c->read_bytes_s * 1e-9, (double)c->copy_bytes / (1024.0 * 1024.0));
}

double bench_matmul_params(const ModelConfig *mc) {
    const double D = (double)mc->dim, F = (double)mc->ffn_dim, V = (double)mc->vocab_size;
    const double QD = (double)(mc->n_heads * mc->head_dim);
    const double KD = (double)(mc->n_kv_heads * mc->head_dim);
    const double per_layer = D * QD + 2.0 * D * KD + QD * D + 3.0 * D * F;
    return (double)mc->n_layers * per_layer + V * D;
}

/* One decode's line: measured tok/s against the roofline of batch b at context ctx. */
static void print_decode(const char *what, double tok_s, int32_t b, double ctx, double n_params,
                         const ModelConfig *mc, double elem_bytes, double bw) {
    const double kv = 2.0 * (double)mc->n_layers * (double)(mc->n_kv_heads * mc->head_dim);
    const double step_bytes = elem_bytes * (n_params + (double)b * ctx * kv);
    const double roof = step_bytes > 0 ? (double)b * bw / step_bytes : 0.0;
    printf("  %-40s %12.1f tok/s = %5.1f%% of the roofline %.1f tok/s\n", what, tok_s,
           roof > 0 ? 100.0 * tok_s / roof : 0.0, roof);
    printf("    roofline = B x read bandwidth / bytes per step; bytes per step = %.0f B x "
           "(N %.3g + B %d x ctx %.0f x 2 L KVH HD %.0f) = %.3g GB\n",
           elem_bytes, n_params, b, ctx, kv, step_bytes * 1e-9);
}

void bench_print_efficiency(const ModelConfig *mc, const BenchConfig *k, const BenchResult *r,
                            const BenchCeilings *c, double elem_bytes) {
    const double N = bench_matmul_params(mc), T = (double)k->n_tokens;
    const double QD = (double)(mc->n_heads * mc->head_dim), L = (double)mc->n_layers;
    /* causal attention over a mean context of T/2: QK^T and PV are 2 x 2 (T/2) QD FLOPs
     * per token and layer forward, about twice that backward (dq, dk, dv) */
    const double attn = 6.0 * L * T * QD;
    const double per_token = 4.0 * N + attn;
    const double mfu = c->gemm_flop_s > 0 ? r->step_tok_s * per_token / c->gemm_flop_s : 0.0;
    printf("efficiency at T %lld (N = %.0f matmul parameters: L (D QD + 2 D KVD + QD D + 3 D F)"
           " + V D)\n", (long long)k->n_tokens, N);
    printf("  %-40s %12.1f tok/s = %5.1f%% MFU of the measured matmul peak\n",
           "update step", r->step_tok_s, 100.0 * mfu);
    printf("    MFU = tok/s x (4 N + 6 L T QD) / peak = %.1f x (%.4g + %.4g) / %.4g; "
           "%.4g TFLOP/s\n", r->step_tok_s, 4.0 * N, attn, c->gemm_flop_s,
           r->step_tok_s * per_token * 1e-12);
    const double ctx = T + 0.5 * (double)k->new_tokens; /* mean context while decoding */
    print_decode("decode, batch 1", r->gen1_tok_s, 1, ctx, N, mc, elem_bytes,
                 c->read_bytes_s);
    char what[48];
    snprintf(what, sizeof what, "decode, batch %d", k->batch);
    print_decode(what, r->genb_tok_s, k->batch, ctx, N, mc, elem_bytes, c->read_bytes_s);
}
