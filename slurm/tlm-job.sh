#!/usr/bin/env bash
# slurm/tlm-job.sh -- the body both sbatch scripts (slurm/tlm-1node.sbatch,
# slurm/tlm-multinode.sbatch, slurm/tlm-srun.sbatch) exec after their #SBATCH header:
# checks tlm, raises Open MPI's kill delay, traps SIGUSR1/SIGTERM, picks the --resume
# mode, runs tlm under mpirun (or srun when TLM_LAUNCHER=srun, as tlm-srun.sbatch sets)
# and requeues the job after a time-limit checkpoint (slurm/README.md).
#   exec bash slurm/tlm-job.sh JOB.yaml [--set key=value]... [--resume auto|PATH]
# Runs as the batch shell itself (exec keeps its pid), so the `--signal=B:USR1` the
# headers ask for reaches the traps below. Needs a Slurm job's environment; not meant to
# be run by hand.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: sbatch slurm/tlm-1node.sbatch|slurm/tlm-multinode.sbatch JOB.yaml" \
    "[--set key=value]..." >&2
  exit 2
fi
tlm=${TLM_BIN:-tlm}
command -v "$tlm" >/dev/null || { echo "tlm: '$tlm' not found: set TLM_BIN or PATH" >&2; exit 2; }

echo "tlm: ${SLURM_NTASKS} ranks (${SLURM_TASKS_PER_NODE} per node)," \
  "GPUs per node ${SLURM_GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-none}}," \
  "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}"

# On SIGTERM (scancel, preemption, `scontrol requeue`, the time limit) slurmstepd signals
# every process of the job, ranks included, and SIGKILLs what is left KillWait (30 s by
# default) later. mpirun, signalled too, would SIGKILL its ranks after 1 s (Open MPI's
# default): let them finish the step and write the checkpoint in Slurm's time instead.
# The price: mpirun itself then lingers until KillWait, and when a rank fails, the
# others may run that long before mpirun kills them.
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-30}

stop_sig=""
# shellcheck disable=SC2317 # (trap handlers)
on_usr1() {
  # The time-limit warning (or `scancel -b -s USR1`): ask tlm, once, to checkpoint and
  # exit 0. mpirun is signalled alone, not its process group: mpirun forwards SIGUSR1 to
  # every rank, and a rank signalled twice may take the second as "stop now".
  if [ -z "$stop_sig" ]; then
    stop_sig=USR1
    echo "tlm: SIGUSR1 at $(date -u +%H:%M:%SZ): asking tlm to checkpoint and stop"
    kill -USR1 "$launcher_pid" 2>/dev/null || true
  fi
}
# shellcheck disable=SC2317
on_term() {
  # Slurm has already signalled every rank itself; this job ends, and whether it comes
  # back is Slurm's decision (preemption with requeue: yes; scancel: no).
  stop_sig=${stop_sig:-TERM}
  echo "tlm: SIGTERM at $(date -u +%H:%M:%SZ): tlm checkpoints and stops"
}
trap on_usr1 USR1
trap on_term TERM

# Resume: `--resume auto` (the newest valid checkpoint in output.dir, or a fresh start),
# unless the first run was given `--resume PATH`; a requeued run always takes `auto`, as
# its own checkpoints are newer than PATH.
args=()
resume=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --resume) resume=${2:?--resume needs auto or a checkpoint path}; shift 2 ;;
    --resume=*) resume=${1#--resume=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ "${SLURM_RESTART_COUNT:-0}" -eq 0 ] || resume=auto

# tp from the job file must fit inside one node: tlm checks that and says so. Each rank
# takes GPU local_rank % (the GPUs it sees), and all ranks agree on GPU or CPU first.
case "${TLM_LAUNCHER:-mpirun}" in
  mpirun)
    launch=(mpirun -np "${SLURM_NTASKS}" --map-by slot --bind-to none) ;;
  srun)
    # --kill-on-bad-exit=1: a rank that exits non-zero ends the step, no rank hangs in a
    # collective. The tasks and their GPUs (--gpus-per-task) come from the allocation.
    launch=(srun --kill-on-bad-exit=1 --mpi="${TLM_SRUN_MPI:-pmix}" --ntasks="${SLURM_NTASKS}") ;;
  *)
    echo "tlm: TLM_LAUNCHER=${TLM_LAUNCHER}: expected mpirun or srun" >&2; exit 2 ;;
esac
echo "tlm: ${launch[*]} ${tlm} run ${args[*]} --resume ${resume}"
"${launch[@]}" "$tlm" run "${args[@]}" --resume "$resume" &
launcher_pid=$!
# A trapped signal interrupts `wait` while mpirun still runs: wait until it is gone, then
# take its exit status (bash keeps it for a second `wait`).
while :; do
  wait "$launcher_pid" || true
  kill -0 "$launcher_pid" 2>/dev/null || break
done
rc=0
wait "$launcher_pid" || rc=$?
echo "tlm: ${launch[0]} exited with status ${rc} at $(date -u +%H:%M:%SZ)"

# Stopped by the time-limit warning and checkpointed (exit 0): come back and resume.
# A run that finished, failed, or was cancelled is not requeued.
if [ "$stop_sig" = USR1 ] && [ "$rc" -eq 0 ]; then
  echo "tlm: requeueing job ${SLURM_JOB_ID}; it resumes from the latest checkpoint"
  scontrol requeue "${SLURM_JOB_ID}" || echo "tlm: scontrol requeue failed" >&2
fi
exit "$rc"
