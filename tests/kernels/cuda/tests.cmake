# kernels/cuda tests (owner: kernels/cuda). Label gpu: they exit 77 (skipped) when the
# CUDA runtime reports no device, so they build everywhere nvcc exists and run where a
# GPU is lent. Run with TLM_CUDA_SYNC=1 to pin an asynchronous fault on its op.
if(TLM_HAVE_CUDA)
  tlm_add_test(test_ops_cuda
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cuda.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_dense.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_lora_rows.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_attn.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_entropy.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_vocab_slice.c
    LABELS gpu)
  target_link_libraries(test_ops_cuda PRIVATE CUDA::cudart)
endif()
