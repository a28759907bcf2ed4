/* kernels/ops.h -- the one op API the worker computes through.
 * A backend is a table of function pointers (Ops); kernels/cpu (fp32, OpenBLAS + OpenMP,
 * the reference and what CI runs) and kernels/cuda (bf16 activations and weights, fp32
 * accumulation, cuBLAS) fill one each from one list, kernels/ops_list.h, which states
 * every op's signature and contract once. Ops never allocate persistent memory: callers
 * pass outputs and workspaces.
 *
 * Element types. `void *` buffers hold the backend's element type (Ops.elem: fp32 on CPU,
 * bf16 on CUDA): frozen weights and activations. `float *` buffers are fp32 on every
 * backend: LoRA weights and gradients, AdamW moments, losses, softmax and norm statistics.
 * `int32_t *` are token ids, positions and index tables. Every pointer passed to an op is
 * a backend pointer (device memory on CUDA) unless the comment says host.
 *
 * Streams: CUDA ops enqueue on the backend's stream and do not synchronize; results read
 * on the host go through download(), which synchronizes. CPU ops complete on return.
 *
 * Shapes use the vocabulary of worker/model/model.h: T tokens (packed over all sequences of a
 * batch), D hidden, H heads, KVH kv heads, HD head dim, F ffn dim, V vocab, R LoRA rank.
 * Matrices are row-major; weights are stored as Hugging Face stores them, (out, in). */
#ifndef TLM_KERNELS_OPS_H
#define TLM_KERNELS_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/dtype.h"
#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One sequence of a packed batch, for attention. Query rows [q_start, q_start + q_len)
 * sit at positions pos0 .. pos0 + q_len - 1; their keys and values are rows
 * [kv_start, kv_start + pos0 + q_len) of the k/v buffers (row i of those = position i).
 * Training packs k/v like q (kv_start = q_start, pos0 = 0); decoding reads a KV cache
 * slot (kv_start = slot * max_T, pos0 = tokens already cached). Causal: the query at
 * position p sees keys 0..p. */
typedef struct SeqSpan {
    int32_t q_start, q_len, pos0, kv_start;
} SeqSpan;

/* How a frozen weight matrix is stored on the backend. WEIGHT_ELEM is the backend's
 * element type (fp32 on CPU: the default and the reference); WEIGHT_BF16 keeps bf16 and
 * widens inside the matmul (halves the bytes a decode step reads). On CUDA, whose element
 * type is bf16 already, both are the same storage. The block formats (issue 18) keep each
 * row of a (rows, cols) matrix as ceil(cols / block) blocks of the format, the last one
 * zero-padded: ggml's Q8_0, Q4_0, Q4_1 (32 elements a block), Q4_K, Q6_K (256) as GGUF
 * files carry them (io/base/quant.h), and QLoRA's NF4 (64, fp32 absmax). The matmuls
 * dequantize a block at a time and multiply in fp32 (CPU) or bf16 (CUDA). The worker
 * only passes Weight views to weight_upload(_blocks) / wmatmul_fwd / wmatmul_bwd. */
typedef enum WeightFormat {
    WEIGHT_ELEM = 0,
    WEIGHT_BF16 = 1,
    WEIGHT_Q8_0,
    WEIGHT_Q4_0,
    WEIGHT_Q4_1,
    WEIGHT_Q4_K,
    WEIGHT_Q6_K,
    WEIGHT_NF4,
} WeightFormat;
#define WEIGHT_N_FORMATS 8

/* The job spelling of a format ("f32" for WEIGHT_ELEM, "bf16", "q8_0", ..., "nf4"). */
const char *weight_format_name(WeightFormat f);
/* Parses that spelling; -1 for anything else. */
int weight_format_parse(const char *s, WeightFormat *out);
/* Elements and bytes of one block (1 and 0 for WEIGHT_ELEM and WEIGHT_BF16, whose bytes
 * are the backend's); the ggml type id of a ggml block format, or -1 (ELEM, BF16, NF4). */
int64_t weight_block_elems(WeightFormat f);
size_t weight_block_bytes(WeightFormat f);
int weight_ggml_type(WeightFormat f);
/* 1 for the block formats. */
int weight_is_blocked(WeightFormat f);
/* Bytes of one row of cols elements in a block format (whole blocks). */
size_t weight_row_bytes(WeightFormat f, int64_t cols);

/* A view of one frozen weight: backend memory in `format`. */
typedef struct Weight {
    void *data;
    WeightFormat format;
} Weight;

/* The backend table: the element type and one function pointer per op. The fields and
 * each op's contract (shapes, ownership, accumulate-or-overwrite) are in
 * kernels/ops_list.h, the one list both backends are generated from. */
typedef struct Ops {
    const char *name; /* "cpu" or "cuda" */
    DType elem;       /* element type of `void *` buffers */
    size_t elem_bytes;
#define OP(ret, op, params) ret(*op) params;
#include "kernels/ops_list.h"
#undef OP
} Ops;

/* The CPU backend (always built). */
const Ops *ops_cpu(void);

/* The CUDA backend on local device `device`, or NULL with err filled when tlm was built
 * without CUDA or no usable device exists. */
const Ops *ops_cuda(int device, Err *err);

/* Loads the CUDA backend module (libtlm_kernels_cuda.so, cuBLAS with it) without touching
 * a device: 0 once it loads with every symbol resolved, -1 with err naming the module and
 * the loader's reason (and always -1 in a build without CUDA). ops_cuda() calls it. */
int ops_cuda_load(Err *err);

/* The CUDA devices this process sees (the runtime applies CUDA_VISIBLE_DEVICES), 0 when
 * tlm was built without CUDA or no driver or device answers. Opens nothing. */
int ops_cuda_device_count(void);

/* The PCI bus id ("0000:1b:00.0") of local device `device` into buf (host, n_bytes);
 * 0, or -1 with buf "" when it has none (no CUDA, no such device). */
int ops_cuda_bus_id(int device, char *buf, size_t n_bytes);

/* "cpu", "cuda" or "auto" (cuda when a device is usable, else cpu). */
const Ops *ops_select(const char *name, int device, Err *err);

/* ops->mem_info, unless the test hook TLM_TEST_DEVICE_FREE=BYTES is set: then
 * *free_bytes is BYTES (and *total_bytes at least that), so a test can make any
 * backend's memory too small for a job (the check before loading, worker/loop/
 * ttl_check.c) on a machine without a GPU. *faked says whether the hook was set (also
 * when it fails). Errors: mem_info's, a malformed variable. */
int ops_mem_room(const Ops *ops, size_t *free_bytes, size_t *total_bytes, int *faked,
                 Err *err);

#ifdef __cplusplus
}
#endif
#endif
