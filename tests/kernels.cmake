# Kernel tests: the CPU backend against naive double references (forward), central finite
# differences (backward) and a double-precision torch.optim.AdamW (optimizer).
set(TLM_KREF ${CMAKE_CURRENT_SOURCE_DIR}/kernels/kref.c)
tlm_add_test(test_ops_cpu_fwd SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_ops_cpu_fwd.c
             ${TLM_KREF} LABELS cpu)
tlm_add_test(test_ops_cpu_grad SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_ops_cpu_grad.c
             ${TLM_KREF} LABELS cpu)
tlm_add_test(test_ops_cpu_adamw SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_ops_cpu_adamw.c
             LABELS cpu)
tlm_add_test(test_ops_cpu_entropy
             SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_ops_cpu_entropy.c ${TLM_KREF}
             LABELS cpu)
