# kernels/cpu tests: the CPU backend against naive double references (forward), central finite
# differences (backward) and a double-precision torch.optim.AdamW (optimizer).
set(TLM_KREF ${CMAKE_CURRENT_LIST_DIR}/kref.c)
tlm_add_test(test_ops_cpu_fwd SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_fwd.c
             ${TLM_KREF} LABELS cpu)
tlm_add_test(test_ops_cpu_grad SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_grad.c
             ${TLM_KREF} LABELS cpu)
tlm_add_test(test_ops_cpu_adamw SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_adamw.c
             LABELS cpu)
tlm_add_test(test_ops_cpu_entropy
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_entropy.c ${TLM_KREF}
             LABELS cpu)

# The vocabulary-parallel CPU ops against the whole-vocabulary ones (one process).
tlm_add_test(test_ops_cpu_vocab_slice
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_vocab_slice.c
             ${CMAKE_SOURCE_DIR}/tests/worker/wtest.c LABELS cpu)

# The BLAS kernel family against the CPU (kernels/cpu/blas.c): the decision table and this
# machine; then the same program with OpenBLAS forced onto its SSE3 fallback, which the
# start-up check must replace by re-executing (skipped on CPUs without AVX2).
tlm_add_test(test_blas_family SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_blas_family.c
             LABELS cpu TIMEOUT 30)
tlm_add_test(test_blas_family_corrected COMMAND test_blas_family
             ARGS --expect-corrected Prescott LABELS cpu TIMEOUT 30)
set_tests_properties(test_blas_family_corrected PROPERTIES ENVIRONMENT
                     "${TLM_TEST_ENV};OPENBLAS_CORETYPE=Prescott")

# The fast CPU kernels against their simple twins (kernels/cpu/cpu_simple.h).
tlm_add_test(test_ops_cpu_fast SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_fast.c
             LABELS cpu)
# The multi-adapter LoRA ops (one adapter per row) against lora_fwd/lora_bwd one adapter at
# a time.
tlm_add_test(test_ops_cpu_lora_rows
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_lora_rows.c LABELS cpu)
# The CPU backend's mem_info (host memory) and the device-memory test hook of ops_mem_room.
tlm_add_test(test_ops_mem_info SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_mem_info.c
             LABELS cpu)
# The fused ops (add + RMSNorm, RMSNorm backward into an fp32 residual gradient, RoPE on q
# and k in one pass) against the separate ops they replace.
tlm_add_test(test_ops_cpu_fused SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_fused.c
             LABELS cpu)
# Frozen weights in the block formats (issue 18): decoded panels bit-identical to
# io/base/quant.c, wmatmul_fwd / wmatmul_bwd against dequantize-then-sgemm for every format.
tlm_add_test(test_ops_cpu_quant SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cpu_quant.c
             LABELS cpu)
