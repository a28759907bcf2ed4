# comm tests (owner: comm/). Label mpi: several ranks of one machine under mpiexec.
set(TLM_COMM_TESTS ${CMAKE_CURRENT_LIST_DIR})

foreach(prog test_comm_mpi test_comm_grid test_comm_bind comm_fail_test)
  add_executable(${prog} ${TLM_COMM_TESTS}/${prog}.c)
  target_link_libraries(${prog} PRIVATE tlm_testutil)
endforeach()


# Every collective on every group, host buffers (MPI): (ranks, tp) layouts, and a world
# of one started without mpiexec (singleton init, as a plain `tlm run`).
foreach(layout "2;1" "2;2" "4;1" "4;2" "4;4")
  list(GET layout 0 n)
  list(GET layout 1 tp)
  tlm_add_mpi_test(test_comm_mpi_n${n}_tp${tp} RANKS ${n} LABELS mpi
    COMMAND ${TLM_MPIEXEC} -n ${n} $<TARGET_FILE:test_comm_mpi> cpu ${tp})
endforeach()
tlm_add_mpi_test(test_comm_mpi_single RANKS 1 LABELS mpi COMMAND $<TARGET_FILE:test_comm_mpi> cpu 1)

# The grid: layouts for every tp, refusals naming the sizes, multi-node placement rules.
foreach(n 2 4)
  tlm_add_mpi_test(test_comm_grid_n${n} RANKS ${n} LABELS mpi
    COMMAND ${TLM_MPIEXEC} -n ${n} $<TARGET_FILE:test_comm_grid>)
endforeach()

# The GPU binding without a GPU: the verdict rule on made-up layouts (tp 8 on 4 GPUs,
# srun's GPU per task, mixed ranks) and bind_backend with TLM_TEST_FAKE_GPUS counts.
tlm_add_mpi_test(test_comm_bind_n2 RANKS 2 LABELS mpi
  COMMAND ${TLM_MPIEXEC} -n 2 $<TARGET_FILE:test_comm_bind>)

# Rank 1 fails with log_fatal: the job must stop on every rank (no hang), exit non-zero
# and name rank 1.
tlm_add_mpi_test(test_comm_abort_n2 RANKS 2 LABELS mpi
  COMMAND sh ${TLM_COMM_TESTS}/expect_abort.sh 60 1/2
          ${TLM_MPIEXEC} -n 2 $<TARGET_FILE:comm_fail_test> 1 1)
tlm_add_mpi_test(test_comm_abort_n4 RANKS 4 LABELS mpi
  COMMAND sh ${TLM_COMM_TESTS}/expect_abort.sh 60 1/4
          ${TLM_MPIEXEC} -n 4 $<TARGET_FILE:comm_fail_test> 2 1)

# The same sums on device buffers through the CUDA backend and NCCL. NCCL allows one rank
# per GPU: with fewer GPUs than ranks (or none, or a CPU-only build) they exit 77.
foreach(n 1 2)
  tlm_add_mpi_test(test_comm_nccl_n${n} RANKS ${n} LABELS "gpu;mpi"
    COMMAND ${TLM_MPIEXEC} -n ${n} $<TARGET_FILE:test_comm_mpi> cuda 1)
endforeach()
