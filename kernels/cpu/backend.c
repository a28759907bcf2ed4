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

#define OP(ret, op, params) .op = cpu_##op,
#include "kernels/ops_list.h"
#undef OP
    };
    return &table;
}
