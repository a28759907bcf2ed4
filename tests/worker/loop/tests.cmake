# TTL loop tests (worker/ttl*.c, worker/method_*.c, tlm run): the update path against the
# golden 20-step run of tests/ref/make_golden.py; the bundled demo end to end through the
# tlm binary; the offline setting; malformed data (fail and skip).
set(TLM_TTL_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
tlm_add_test(test_ttl_golden SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_golden.c
             ${CMAKE_SOURCE_DIR}/tests/worker/wtest.c LABELS "cpu;golden")
tlm_add_test(test_ttl_run SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_run.c LABELS cpu)
add_dependencies(test_ttl_run tlm)
tlm_add_test(test_ttl_shared SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_shared.c
             LABELS "cpu;shared")
add_dependencies(test_ttl_shared tlm)

# The dp seam under mpiexec: dp = 2 equals one process for batch_size 1 and 2
# (tlm_add_mpi_test and the MPI environment come from tests/CMakeLists.txt).
add_executable(test_ttl_dp ${TLM_TTL_TEST_DIR}/test_ttl_dp.c)
target_link_libraries(test_ttl_dp PRIVATE tlm_testutil)
foreach(bs 1 2)
  tlm_add_mpi_test(test_ttl_dp_n2_bs${bs} RANKS 2 LABELS mpi
    COMMAND ${TLM_MPIEXEC} -n 2 $<TARGET_FILE:test_ttl_dp> ${bs})
endforeach()

# NF4 on a real float model: stories260K quantized at load vs fp32 and bf16, base ce and
# the online TLM loop's selections on test_ttl_shared's stream (six short runs).
tlm_add_test(test_ttl_stories_nf4 SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_stories_nf4.c
             LABELS "cpu;shared" TIMEOUT 300)
add_dependencies(test_ttl_stories_nf4 tlm)

# The TLM effect on stories260K over 200 GSM8K samples (two runs, ~30 s of CPU).
tlm_add_test(test_ttl_effect SOURCES ${TLM_TTL_TEST_DIR}/test_ttl_effect.c
             LABELS "cpu;shared" TIMEOUT 600)
add_dependencies(test_ttl_effect tlm)

# Resume tests (worker/loop/ttl_ckpt.c, worker/loop/ttl_resume.c, launcher/signals.c): the bundled
# demo job through the tlm binary, interrupted by SIGTERM/SIGUSR1 and by kill -9 at 20
# moments, resumed with --resume auto and compared bit for bit with an uninterrupted run;
# mismatched checkpoints refused; a corrupt newest checkpoint skipped.
foreach(case signal kill9 refuse offline offline_epoch corrupt nan_online)
  tlm_add_test(test_resume_${case} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_resume.sh
               ARGS ${case} LABELS cpu TIMEOUT 180)
endforeach()

# method.loss_tokens all | content end to end on the demo job (tlm run).
tlm_add_test(test_loss_tokens SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_loss_tokens.c LABELS cpu
             TIMEOUT 60)
add_dependencies(test_loss_tokens tlm)

# Refusals before loading (worker/loop/ttl_check.c, jobs/job_schema.c ranges): integer keys
# above their storage type, a LoRA rank above the projections, a memory estimate above
# MemAvailable / the cgroup limit, token ids past the model's vocabulary.
tlm_add_test(test_checks COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_checks.sh LABELS cpu
             TIMEOUT 60)

# output.dir as a ledger (worker/loop/ttl_ledger.c, ttl_out.c): refusals that leave the
# directory untouched, the lock, --overwrite, --resume auto without a checkpoint, a write
# failure cut back to a batch boundary, an all-bad dataset, method none's would-select.
tlm_add_test(test_ledger COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_ledger.sh LABELS cpu
             TIMEOUT 120)

# Per-task test-time training (method ttt, worker/loop/ttt*.c): one task's training
# against tests/ref/make_golden_ttt.py (PyTorch + PEFT, float64).
tlm_add_test(test_ttt_golden SOURCES ${TLM_TTL_TEST_DIR}/test_ttt_golden.c
             ${CMAKE_SOURCE_DIR}/tests/worker/wtest.c LABELS "cpu;golden")
# method ttt through tlm run on jobs/demo-ttt.yaml: no state leaks between tasks, resume at
# task boundaries, dp = 2 and tp = 2 under mpiexec equal one process.
# pass: ttt.tasks_per_pass 3 and 4 (several tasks in one batched pass) against one task
# at a time: adapters, predictions, no leak, resume.
foreach(mode noleak resume pass)
  tlm_add_test(test_ttt_${mode} COMMAND $<TARGET_FILE:test_ttt_run> ARGS ${mode} LABELS cpu
               TIMEOUT 240)
endforeach()
add_executable(test_ttt_run ${TLM_TTL_TEST_DIR}/test_ttt_run.c)
target_link_libraries(test_ttt_run PRIVATE tlm_testutil)
add_dependencies(test_ttt_run tlm)
string(REPLACE ";" " " TLM_TTT_MPIEXEC "${TLM_MPIEXEC}")
foreach(mode dp tp dp_pass tp_pass)
  tlm_add_mpi_test(test_ttt_${mode}2 RANKS 2 LABELS mpi
    COMMAND $<TARGET_FILE:test_ttt_run> ${mode} "${TLM_TTT_MPIEXEC}")
endforeach()
