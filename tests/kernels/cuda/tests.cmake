# kernels/cuda tests (owner: kernels/cuda). Label gpu: they exit 77 (skipped) when the
# CUDA runtime reports no device, so they build everywhere nvcc exists and run where a
# GPU is lent. Run with TLM_CUDA_SYNC=1 to pin an asynchronous fault on its op.
if(TLM_HAVE_CUDA)
  tlm_add_test(test_ops_cuda
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops_cuda.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_dense.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_lora_rows.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_attn.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_llama.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_entropy.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_fused.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_vocab_slice.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_quant.c
            ${CMAKE_CURRENT_LIST_DIR}/cases_graph.c
    LABELS gpu)
  # it calls the module's own cuda_kernels_simple, so it links the module itself
  target_link_libraries(test_ops_cuda PRIVATE tlm_kernels_cuda CUDA::cudart)
  # The tensor-core attention kernels compiled for the host and run lane by lane by a
  # lockstep emulator against a float64 reference: their indexing checked without a GPU
  # (label cpu, so CI runs it wherever nvcc and its headers are).
  tlm_add_test(test_attn_tc_emu SOURCES ${CMAKE_CURRENT_LIST_DIR}/emu/test_attn_tc_emu.cpp
    LABELS cpu)
  target_compile_definitions(test_attn_tc_emu PRIVATE TLM_CUDA_HOST_EMU=1)
  target_include_directories(test_attn_tc_emu SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
  target_compile_options(test_attn_tc_emu PRIVATE -Wall -Wextra -Wshadow -Wno-unknown-pragmas
                         $<$<BOOL:${TLM_WERROR}>:-Werror>)
endif()
