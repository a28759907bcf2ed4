/* kernels/cpu/cpu_ops.h -- the CPU backend's op functions, one group per file.
 * Private to kernels/cpu: the public way in is ops_cpu() (kernels/ops.h), whose table
 * (cpu/backend.c) points at these. cpu_<op> is declared from kernels/ops_list.h and
 * follows that entry's contract; `void *` buffers are fp32 here. Ops run on the
 * calling thread with OpenMP / OpenBLAS threads inside, complete on return, never
 * allocate, and must not be called from inside an OpenMP parallel region. */
#ifndef TLM_KERNELS_CPU_CPU_OPS_H
#define TLM_KERNELS_CPU_CPU_OPS_H

#include "kernels/ops.h"

/* memory.c, matmul.c, lora.c, rmsnorm.c, rope.c, elementwise.c (swiglu, add, rows),
 * attention.c, vocab.c (embed, xent, argmax), entropy.c, optim.c */
#define OP(ret, op, params) ret cpu_##op params;
#include "kernels/ops_list.h"
#undef OP

/* attention.c: head dim at most this (tiles live on each thread's stack) */
#define CPU_ATTN_MAX_HD 256

/* Below this many elements an elementwise op stays on one thread: forking costs more. */
#define CPU_PAR_MIN 16384

#endif
