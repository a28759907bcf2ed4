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
