# Tensor-parallel tests (owner: worker/, DESIGN §3): tp = 2 and tp = 4, and tp = 2 x dp = 2,
# against the single-rank engine each rank also runs and against the goldens; refusals
# of a tp that does not divide the kv heads. Registered as tests/comm.cmake's MPI tests
# (same mpiexec flags and Open MPI environment: tlm_add_mpi_test).
set(TLM_TP_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/tp)
add_executable(test_tp ${TLM_TP_TESTS}/test_tp.c ${TLM_TP_TESTS}/tp_checks.c
               ${TLM_TP_TESTS}/tptest.c ${CMAKE_CURRENT_SOURCE_DIR}/worker/wtest.c)
target_link_libraries(test_tp PRIVATE tlm_testutil)

# (name, ranks, tp, cases, labels)
tlm_add_mpi_test(test_tp_n2_tp2 RANKS 2 LABELS "mpi;cpu;golden"
  COMMAND ${TLM_MPIEXEC} -n 2 $<TARGET_FILE:test_tp> 2 llama_gqa qwen2_bias uneven)
tlm_add_mpi_test(test_tp_n4_tp2_dp2 RANKS 4 LABELS "mpi;cpu;golden"
  COMMAND ${TLM_MPIEXEC} -n 4 $<TARGET_FILE:test_tp> 2 llama_gqa qwen2_bias)
tlm_add_mpi_test(test_tp_n4_tp4 RANKS 4 LABELS "mpi;cpu;golden"
  COMMAND ${TLM_MPIEXEC} -n 4 $<TARGET_FILE:test_tp> 4 uneven refuse:qwen2_bias
          refuse:llama_gqa)
foreach(n 2 4)
  tlm_add_mpi_test(test_tp_stories_n${n}_tp${n} RANKS ${n} LABELS "mpi;cpu;shared;golden"
    COMMAND ${TLM_MPIEXEC} -n ${n} $<TARGET_FILE:test_tp> ${n} stories260k)
endforeach()

# The vocabulary-parallel CPU ops against the whole-vocabulary ones (one process).
tlm_add_test(test_ops_cpu_vocab_slice
             SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_ops_cpu_vocab_slice.c
             ${CMAKE_CURRENT_SOURCE_DIR}/worker/wtest.c LABELS cpu)
