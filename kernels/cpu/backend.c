/* kernels/cpu/backend.c -- the CPU backend's op table (fp32, OpenBLAS + OpenMP).
 * The reference backend: what CI runs and what the CUDA backend is checked against. The
 * ops themselves live one group per file beside this one (see cpu_ops.h). */
#include "kernels/cpu/cpu_ops.h"

const Ops *ops_cpu(void) {
    /* Static const: no state, so one table serves every caller and thread. */
    static const Ops table = {
        .name = "cpu",
        .elem = DTYPE_F32,
        .elem_bytes = sizeof(float),

        .alloc = cpu_alloc,
        .release = cpu_release,
        .upload = cpu_upload,
        .upload_raw = cpu_upload_raw,
        .download = cpu_download,
        .download_raw = cpu_download_raw,
        .zero = cpu_zero,
        .copy = cpu_copy,
        .sync = cpu_sync,

        .matmul_fwd = cpu_matmul_fwd,
        .matmul_bwd = cpu_matmul_bwd,
        .lora_fwd = cpu_lora_fwd,
        .lora_bwd = cpu_lora_bwd,

        .rmsnorm_fwd = cpu_rmsnorm_fwd,
        .rmsnorm_bwd = cpu_rmsnorm_bwd,
        .rope_fwd = cpu_rope_fwd,
        .rope_bwd = cpu_rope_bwd,
        .swiglu_fwd = cpu_swiglu_fwd,
        .swiglu_bwd = cpu_swiglu_bwd,
        .add = cpu_add,
        .embed_fwd = cpu_embed_fwd,
        .rows_scatter = cpu_rows_scatter,
        .rows_gather = cpu_rows_gather,

        .attn_fwd = cpu_attn_fwd,
        .attn_bwd = cpu_attn_bwd,

        .xent_fwd = cpu_xent_fwd,
        .xent_bwd = cpu_xent_bwd,
        .argmax = cpu_argmax,
        .embed_slice_fwd = cpu_embed_slice_fwd,
        .xent_slice_fwd = cpu_xent_slice_fwd,
        .xent_slice_bwd = cpu_xent_slice_bwd,
        .argmax_slice = cpu_argmax_slice,
        .entropy_fwd = cpu_entropy_fwd,
        .entropy_bwd = cpu_entropy_bwd,

        .sumsq = cpu_sumsq,
        .scale = cpu_scale,
        .adamw = cpu_adamw,
    };
    return &table;
}
