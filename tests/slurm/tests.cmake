# Slurm tests (owner: slurm/). A real one-node Slurm cluster on 127.0.0.1 (its packages
# come from tools/setup.sh; root and Debian, skipped otherwise): a trivial batch job, the
# sbatch scripts' SIGUSR1 -> checkpoint -> requeue path with a stand-in tlm, and the demo
# job run on 2 ranks, requeued after its first checkpoint, resuming to the same outputs
# and adapter as an uninterrupted run. ~1 to 3 minutes, most of it the two demo runs.
tlm_add_test(test_slurm_requeue LABELS "slurm;mpi" TIMEOUT 600
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_slurm_test.sh)
# Its jobs take both CPUs of the test node.
set_tests_properties(test_slurm_requeue PROPERTIES PROCESSORS 2)
