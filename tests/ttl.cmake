# TTL loop tests (worker/ttl*.c, worker/method_*.c, tlm run): the update path against the
# golden 20-step run of tests/ref/make_golden.py; the bundled demo end to end through the
# tlm binary; the offline setting; malformed data (fail and skip).
set(TLM_TTL_TEST_DIR ${CMAKE_CURRENT_SOURCE_DIR}/ttl)
tlm_add_test(test_ttl_golden SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_golden.c
             ${CMAKE_CURRENT_SOURCE_DIR}/worker/wtest.c LABELS "cpu;golden")
tlm_add_test(test_ttl_run SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_run.c LABELS cpu)
add_dependencies(test_ttl_run tlm)
tlm_add_test(test_ttl_shared SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_shared.c
             LABELS "cpu;shared")
add_dependencies(test_ttl_shared tlm)

# The dp seam under mpiexec: dp = 2 equals one process for batch_size 1 and 2
# (tlm_add_mpi_test and the MPI environment come from tests/comm.cmake).
if(COMMAND tlm_add_mpi_test)
  add_executable(test_ttl_dp ${TLM_TTL_TEST_DIR}/test_ttl_dp.c)
  target_link_libraries(test_ttl_dp PRIVATE tlm_testutil)
  foreach(bs 1 2)
    tlm_add_mpi_test(test_ttl_dp_n2_bs${bs} RANKS 2 LABELS mpi
      COMMAND ${TLM_MPIEXEC} -n 2 $<TARGET_FILE:test_ttl_dp> ${bs})
  endforeach()
endif()

# The TLM effect on stories260K over 1,000 GSM8K samples (two ~20 s runs).
tlm_add_test(test_ttl_effect SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_effect.c
             LABELS "cpu;shared" TIMEOUT 900)
add_dependencies(test_ttl_effect tlm)
