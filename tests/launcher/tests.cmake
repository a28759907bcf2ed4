# `tlm run` under mpiexec against one process (tests/launcher/). Uses the MPI settings of
# tests/CMakeLists.txt (TLM_MPIEXEC, TLM_MPI_ENV, tlm_add_mpi_test).
add_executable(test_run_ranks ${CMAKE_CURRENT_LIST_DIR}/test_run_ranks.c)
target_link_libraries(test_run_ranks PRIVATE tlm_testutil)
add_dependencies(test_run_ranks tlm)
string(REPLACE ";" " " TLM_MPIEXEC_LINE "${TLM_MPIEXEC}")
foreach(layout "2;2" "2;1" "4;2")
  list(GET layout 0 n)
  list(GET layout 1 tp)
  tlm_add_mpi_test(test_run_n${n}_tp${tp} RANKS ${n} LABELS "mpi;cpu"
    COMMAND $<TARGET_FILE:test_run_ranks> "${TLM_MPIEXEC_LINE}" ${n} ${tp})
endforeach()

# One rank killed with SIGKILL mid-run: the job must end with an error within 60 s.
tlm_add_mpi_test(test_run_dead_rank RANKS 2 LABELS "mpi;cpu"
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/dead_rank.sh $<TARGET_FILE:tlm> ${TLM_MPIEXEC})

# tlm bench: correctness only (it runs, writes a loadable random model, prints valid JSON,
# rejects bad options). Benchmarks are programs, never timed tests (DESIGN §8).
tlm_add_test(test_bench_json
             COMMAND ${CMAKE_COMMAND} -P ${CMAKE_CURRENT_LIST_DIR}/bench/check_bench_json.cmake
             LABELS cpu TIMEOUT 120)

# The GPU bench's ceilings, MFU and roofline lines and the BF16 preset, on the CPU.
tlm_add_test(test_bench_ceilings COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/bench/test_bench_ceilings.sh
             LABELS cpu TIMEOUT 60)
# tlm bench --online: online TLM end to end (answer, then train on each stream batch).
tlm_add_test(test_bench_online COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/bench/test_bench_online.sh
             LABELS cpu TIMEOUT 60)

# tlm --version and the nearest-command suggestion for a mistyped command.
tlm_add_test(test_version COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_version.sh LABELS cpu
             TIMEOUT 30)
# Bad inputs, table-driven: exit status, message and the previous outputs untouched per row.
tlm_add_test(test_bad_inputs
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bad_inputs.sh $<TARGET_FILE:tlm>
          ${CMAKE_CURRENT_LIST_DIR}/bad_inputs.table
  LABELS cpu TIMEOUT 300)

# The LLaMA-Factory example jobs (jobs/llamafactory/) run unchanged on the demo model,
# predictions in both layouts, the printed native job equal to the flat one; and on
# stories260K over AdaptEval GSM8K (label shared).
foreach(case online offline)
  tlm_add_test(test_lf_run_${case} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_lf_run.sh
               ARGS ${case} LABELS cpu TIMEOUT 180)
endforeach()
tlm_add_test(test_lf_run_stories COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_lf_run.sh
             ARGS stories LABELS "cpu;shared" TIMEOUT 300)

# One rank stopped (SIGSTOP) mid-run, nothing killing the job: the collectives' timeout
# (TLM_COMM_TIMEOUT=5 here) must end it with an error naming the wait within 60 s.
tlm_add_mpi_test(test_run_stuck_rank RANKS 2 LABELS "mpi;cpu"
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/stuck_rank.sh $<TARGET_FILE:tlm> ${TLM_MPIEXEC})
# One rank that never arrives at start-up (sleeps before MPI_Init): the start-up watchdog
# (comm/comm_watchdog.h, TLM_COMM_TIMEOUT=5 here) must end the job with its error in < 30 s.
tlm_add_mpi_test(test_run_stall_init RANKS 2 LABELS "mpi;cpu"
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/stall_init.sh $<TARGET_FILE:tlm> ${TLM_MPIEXEC})
