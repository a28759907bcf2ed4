#!/usr/bin/env bash
# tests/slurm/run_slurm_test.sh -- the sbatch scripts on a real one-node Slurm cluster
# (tests/slurm/cluster.sh: the packages tools/setup.sh installs, started on 127.0.0.1,
# torn down on exit):
#   (a) a trivial batch job completes;
#   (b) slurm/tlm-1node.sbatch with a stand-in tlm: SIGUSR1 (what --signal=B:USR1@120
#       sends before the time limit) reaches each rank once, the job requeues itself and
#       its second run (`--resume auto`, not the first run's `--resume PATH`) finishes
#       without requeueing again;
#   (d) slurm/tlm-srun.sbatch (srun, a GPU per task): binding with faked device counts,
#       a mixed GPU/CPU job refused on every rank, the demo job on 2 srun ranks;
#   (c) slurm/tlm-1node.sbatch with the real tlm, 2 ranks on the demo model: requeued
#       (`scontrol requeue`) after its first checkpoint, the job resumes and its
#       predictions, scores and final adapter equal an uninterrupted run's.
# Exit 77 (skipped) when it cannot run: not root, Slurm not installed, the daemons do not start,
# or tlm lacks what (c) needs. Env (set by CTest): TLM_BIN, TLM_SOURCE_DIR.
set -euo pipefail

skip() { echo "slurm test: SKIPPED: $*"; exit 77; }
fail() { echo "slurm test: FAILED: $*"; exit 1; }
step() { echo "slurm test: [${SECONDS}s] $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (slurmd runs jobs as root)"
command -v dpkg-query >/dev/null || skip "not a Debian system (no dpkg-query)"
src=${TLM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tlm=${TLM_BIN:?set TLM_BIN to the tlm executable}
command -v mpirun >/dev/null || skip "no mpirun"

# shellcheck source=tests/slurm/cluster.sh
source "$src/tests/slurm/cluster.sh"
cd "$src" # job files name their paths relative to the repository root
cluster_install || skip "Slurm and munge are not installed (tools/setup.sh installs them)"

work=$(mktemp -d "${TMPDIR:-/tmp}/tlm-slurm.XXXXXX")
cleanup() {
  local rc=$?
  cluster_stop
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    echo "slurm test: the daemons' logs, last lines:"
    tail -n 15 "$work"/log/slurmctld.log "$work"/log/slurmd.log 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
cluster_start "$work" 2 || skip "the Slurm daemons did not start (see above)"
step "cluster up: $(sinfo -h -N -o '%N %T %c CPUs %G')"

# Open MPI as root in a container, as tests/comm.cmake runs it; sbatch passes the
# environment on to the job.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 \
  OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none \
  OMPI_MCA_mpi_yield_when_idle=1 OMP_NUM_THREADS=1

job_field() { # JOBID FIELD: one field of `scontrol show job`
  scontrol show job -o "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# Waits up to SECS for JOBID to end; returns its final state on stdout. (A requeued job
# is held for AuthInfo's cred_expire, 5 s here: tests/slurm/cluster.sh.)
wait_job_end() { # JOBID SECS
  local jid=$1 secs=$2 i state
  for ((i = 0; i < secs * 5; i++)); do
    state=$(job_field "$jid" JobState)
    case "$state" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        echo "$state"; return 0 ;;
    esac
    sleep 0.2
  done
  echo "still-$state"
}
# sbatch for the tests: RANKS ranks (at most 2, the test node's CPUs), a fake GPU each.
submit() { # RANKS LOG ARGS...
  local ranks=$1 log=$2
  shift 2
  sbatch --parsable --ntasks-per-node="$ranks" --gpus-per-node="$ranks" --output="$log" "$@"
}

# (a) ---------------------------------------------------------------------------------
# shellcheck disable=SC2016 # expanded in the job
jid=$(sbatch --parsable --output="$work/hello.out" --wrap 'echo "hello from job $SLURM_JOB_ID on $(hostname)"')
state=$(wait_job_end "$jid" 30)
[ "$state" = COMPLETED ] || fail "(a) trivial job $jid: $state"
grep -q "hello from job $jid" "$work/hello.out" || fail "(a) no output: $(cat "$work/hello.out")"
step "(a) trivial batch job $jid completed"

# The sbatch scripts share their body (only the #SBATCH header differs).
for other in tlm-multinode.sbatch tlm-srun.sbatch; do
  diff <(sed -n '/^# --- everything below/,$p' "$src/slurm/tlm-1node.sbatch") \
    <(sed -n '/^# --- everything below/,$p' "$src/slurm/$other") ||
    fail "slurm/tlm-1node.sbatch and $other bodies differ"
done

# (b) ---------------------------------------------------------------------------------
# A stand-in for tlm: counts the SIGUSR1s it gets, "checkpoints" on the first and exits
# 0; started again after a checkpoint it finishes at once, as `--resume auto` would.
# mpirun signals a rank's whole process group: `sleep` dies of the SIGUSR1 too (|| true).
mkdir -p "$work/fake"
cat >"$work/fake-tlm" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
dir=$FAKE_DIR r=$OMPI_COMM_WORLD_RANK n=0
echo "$*" >"$dir/args.$r.${SLURM_RESTART_COUNT:-0}"
if [ -e "$dir/ckpt.$r" ]; then echo "fake tlm rank $r: resumed, done"; exit 0; fi
trap 'n=$((n + 1))' USR1
touch "$dir/started.$r"
for ((i = 0; i < 600 && n == 0; i++)); do sleep 0.1 || true; done
sleep 1 || true # a second signal, if any, arrives meanwhile
echo "$n" >"$dir/usr1.$r"
touch "$dir/ckpt.$r"
echo "fake tlm rank $r: $n SIGUSR1, checkpointed"
EOF
chmod +x "$work/fake-tlm"
jid=$(FAKE_DIR=$work/fake TLM_BIN=$work/fake-tlm submit 2 "$work/fake.out" \
  "$src/slurm/tlm-1node.sbatch" jobs/demo.yaml --resume "$work/given.h5" --set seed=7)
cluster_wait 30 "[ -e '$work/fake/started.0' ] && [ -e '$work/fake/started.1' ]" ||
  fail "(b) the stand-in ranks did not start: $(cat "$work/fake.out")"
# What Slurm does 120 s before the time limit.
scancel --batch --signal=USR1 "$jid"
state=$(wait_job_end "$jid" 60)
[ "$state" = COMPLETED ] || fail "(b) job $jid: $state: $(cat "$work/fake.out")"
[ "$(job_field "$jid" Restarts)" = 1 ] ||
  fail "(b) job $jid restarted $(job_field "$jid" Restarts) times, not once: $(cat "$work/fake.out")"
for r in 0 1; do
  [ "$(cat "$work/fake/usr1.$r")" = 1 ] || fail "(b) rank $r got $(cat "$work/fake/usr1.$r") SIGUSR1"
  # The first run resumes from the checkpoint it was given, the requeued one from its own.
  grep -qx "run jobs/demo.yaml --set seed=7 --resume $work/given.h5" "$work/fake/args.$r.0" ||
    fail "(b) rank $r's first run: $(cat "$work/fake/args.$r.0")"
  grep -qx "run jobs/demo.yaml --set seed=7 --resume auto" "$work/fake/args.$r.1" ||
    fail "(b) rank $r's second run: $(cat "$work/fake/args.$r.1")"
done
grep -q "requeueing job $jid" "$work/fake.out" || fail "(b) no requeue in the log"
[ "$(grep -c "resumed, done" "$work/fake.out")" = 2 ] || fail "(b) not resumed: $(cat "$work/fake.out")"
step "(b) SIGUSR1 -> each rank once -> exit 0 -> requeued -> resumed -> completed, no 2nd requeue"

# (d) ---------------------------------------------------------------------------------
# slurm/tlm-srun.sbatch: srun starts the ranks (PMIx), Slurm gives each task its own
# (fake) GPU and CUDA_VISIBLE_DEVICES. With the device counts faked (TLM_TEST_FAKE_GPUS,
# comm/bind.h) tlm binds and stops before loading: each rank its device 0, the two told
# apart by their CUDA_VISIBLE_DEVICES; a job with one rank lacking a GPU is refused on
# every rank; then the demo job runs for real (CPU) under srun.
srun_job() { # LOG FAKE ARGS...
  local log=$1 fake=$2
  shift 2
  TLM_BIN=$tlm TLM_TEST_FAKE_GPUS=$fake sbatch --parsable --ntasks-per-node=2 \
    --gpus-per-task=1 --output="$log" slurm/tlm-srun.sbatch "$@"
}
srun --mpi=list 2>&1 | grep -q pmix || skip "(d): this Slurm has no PMIx plugin (srun --mpi=list)"
[ -c "$work/dev/nvidia0" ] ||
  skip "(d): mknod refused, so Slurm sets no CUDA_VISIBLE_DEVICES (tests/slurm/cluster.sh)"
jid=$(srun_job "$work/srun-bind.out" 1 jobs/demo.yaml --set backend=cuda --set parallel.tp=2 \
  --set "output.dir=$work/srun-bind")
state=$(wait_job_end "$jid" 60)
[ "$state" = COMPLETED ] || fail "(d) srun binding job $jid: $state: $(tail -20 "$work/srun-bind.out")"
bound=$(grep -c "GPU 0 of the 1 it sees, PCI fake:" "$work/srun-bind.out" || true)
cvds=$(grep -o "GPU 0 of the 1 it sees.*CUDA_VISIBLE_DEVICES=[^ ]*" "$work/srun-bind.out" |
  sed 's/.*CUDA_VISIBLE_DEVICES=//' | sort -u | wc -l)
{ [ "$bound" = 2 ] && [ "$cvds" = 2 ]; } ||
  fail "(d) srun ranks not bound one GPU each: $(grep -i "gpu\|error" "$work/srun-bind.out")"
jid=$(srun_job "$work/srun-mixed.out" 1,0 jobs/demo.yaml --set backend=auto \
  --set "output.dir=$work/srun-mixed")
state=$(wait_job_end "$jid" 60)
[ "$state" = FAILED ] || fail "(d) a job with rank 1 lacking a GPU ended $state: $(tail -20 "$work/srun-mixed.out")"
[ "$(grep -c "never mixed" "$work/srun-mixed.out")" = 2 ] ||
  fail "(d) the mixed job was not refused on both ranks: $(tail -20 "$work/srun-mixed.out")"
[ ! -e "$work/srun-mixed/generated_predictions.jsonl" ] || fail "(d) the mixed job ran"
jid=$(srun_job "$work/srun-run.out" "" jobs/demo.yaml --set data.max_samples=8 \
  --set generate.max_new_tokens=4 --set "output.dir=$work/srun-run")
state=$(wait_job_end "$jid" 90)
[ "$state" = COMPLETED ] || fail "(d) srun demo job $jid: $state: $(tail -20 "$work/srun-run.out")"
grep -q "\[r1/2[] ]" "$work/srun-run.out" || fail "(d) not one 2-rank job: $(tail "$work/srun-run.out")"
[ "$(wc -l <"$work/srun-run/generated_predictions.jsonl")" = 8 ] ||
  fail "(d) srun demo job: $(wc -l <"$work/srun-run/generated_predictions.jsonl") predictions, not 8"
step "(d) srun: one fake GPU per task ($(grep -o "it sees.*CUDA_VISIBLE_DEVICES=[^ ]*" "$work/srun-bind.out" | sed "s/.*CUDA_/CUDA_/" | sort -u | paste -sd ' ')), a mixed GPU/CPU job refused on both ranks, the demo job on 2 srun ranks"

# (c) ---------------------------------------------------------------------------------
"$tlm" run --help 2>&1 | grep -q -- --resume || skip "(c): tlm run has no --resume yet"
"$tlm" export --help >/dev/null 2>&1 || skip "(c): tlm has no export command yet"
# The demo job on RANKS ranks, long enough to requeue mid-stream (~20 s a run on 2 cores):
# its 64 prompts repeated REPEAT times, longer answers, a checkpoint every CKPT_EVERY
# steps. (TLM_SLURM_* change them, for trying things by hand.)
ranks=${TLM_SLURM_RANKS:-2} repeat=${TLM_SLURM_REPEAT:-16} new_tokens=${TLM_SLURM_NEW_TOKENS:-256}
ckpt_every=${TLM_SLURM_CKPT_EVERY:-64}
# A tlm without the process grid runs RANKS independent copies (each logs as [r0/1]).
if [ "$ranks" -gt 1 ]; then
  probe=$(mpirun -np "$ranks" "$tlm" run jobs/demo.yaml --set data.max_samples=2 \
    --set generate.max_new_tokens=1 --set "output.dir=$work/probe" 2>&1 || true)
  grep -q "\[r1/${ranks}[] ]" <<<"$probe" ||
    skip "(c): under mpirun -np $ranks, tlm does not run as one $ranks-rank job yet"
fi
for ((i = 0; i < repeat; i++)); do cat jobs/demo/data.jsonl; done >"$work/data.jsonl"
n=$(wc -l <"$work/data.jsonl")
sets=(--set "data.path=$work/data.jsonl" --set "generate.max_new_tokens=$new_tokens"
  --set "output.checkpoint_every=$ckpt_every" --set output.keep=2)

# The uninterrupted run: finishes, and is not requeued.
jid=$(TLM_BIN=$tlm submit "$ranks" "$work/ref.out" slurm/tlm-1node.sbatch jobs/demo.yaml \
  "${sets[@]}" --set "output.dir=$work/ref")
state=$(wait_job_end "$jid" 120)
{ [ "$state" = COMPLETED ] && [ "$(job_field "$jid" Restarts)" = 0 ]; } ||
  fail "(c) uninterrupted job $jid: $state, $(job_field "$jid" Restarts) restarts: $(tail -20 "$work/ref.out")"
step "(c) uninterrupted run: job $jid completed"

# The same run, requeued as soon as its first checkpoint is on disk.
jid=$(TLM_BIN=$tlm submit "$ranks" "$work/req.out" slurm/tlm-1node.sbatch jobs/demo.yaml \
  "${sets[@]}" --set "output.dir=$work/req")
cluster_wait 120 "compgen -G '$work/req/ckpt-*.h5'" || fail "(c) no checkpoint: $(tail -20 "$work/req.out")"
done_lines=0
[ ! -e "$work/req/generated_predictions.jsonl" ] ||
  done_lines=$(wc -l <"$work/req/generated_predictions.jsonl")
scontrol requeue "$jid"
step "(c) requeued job $jid after $(basename "$(compgen -G "$work/req/ckpt-*.h5" | head -1)") ($done_lines of $n predictions written)"
state=$(wait_job_end "$jid" 150)
[ "$state" = COMPLETED ] || fail "(c) requeued job $jid: $state: $(tail -30 "$work/req.out")"
[ "$(job_field "$jid" Restarts)" = 1 ] || fail "(c) job $jid: $(job_field "$jid" Restarts) restarts"
step "(c) requeued run: job $jid completed"

# It resumed mid-stream (tlm's log in the second run: "resumed from DIR/ckpt-STEP.h5") ...
from=$(sed -n '/restart 1,/,$p' "$work/req.out" | grep -o 'resumed from .*ckpt-[0-9]*\.h5' |
  head -1 | sed 's/.*ckpt-\([0-9]*\)\.h5/\1/')
{ [ -n "$from" ] && [ "$from" -gt 0 ] && [ "$from" -lt "$n" ]; } ||
  fail "(c) the second run did not resume mid-stream: $(sed -n '/restart 1,/,$p' "$work/req.out" | head -30)"
# ... scored every sample exactly once ...
[ "$(wc -l <"$work/req/generated_predictions.jsonl")" = "$n" ] ||
  fail "(c) $(wc -l <"$work/req/generated_predictions.jsonl") predictions for $n samples"
samples=$(grep -o '"sample": *[0-9]*' "$work/req/scores.jsonl" | grep -o '[0-9]*$' | sort -n)
[ "$samples" = "$(seq 0 $((n - 1)))" ] || fail "(c) scores.jsonl: samples missing or repeated"
# ... and ended where the uninterrupted run did: same outputs, same final adapter.
for f in generated_predictions.jsonl scores.jsonl; do
  cmp "$work/ref/$f" "$work/req/$f" || fail "(c) $f differs from the uninterrupted run's"
done
for run in ref req; do
  last=$(find "$work/$run" -name 'ckpt-*.h5' -printf '%f\n' | sort -t- -k2 -n | tail -1)
  "$tlm" export "$work/$run/$last" --peft "$work/$run-peft" >/dev/null
  echo "$last" >"$work/$run-last"
done
cmp "$work/ref-last" "$work/req-last" || fail "(c) last checkpoints: $(cat "$work/ref-last") vs $(cat "$work/req-last")"
cmp "$work/ref-peft/adapter_model.safetensors" "$work/req-peft/adapter_model.safetensors" ||
  fail "(c) the final adapter differs from the uninterrupted run's"
step "(c) resumed at step $from: $n predictions, each sample once, outputs and final adapter ($(cat "$work/req-last")) equal the uninterrupted run's"
