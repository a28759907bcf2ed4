# shellcheck shell=bash
# tests/slurm/cluster.sh -- sourced by run_slurm_test.sh: a throwaway one-node Slurm
# cluster on 127.0.0.1 with its own munge key and socket, config, state and logs under one
# temp dir, so it neither needs nor disturbs a Slurm or munge the machine may already run.
# Functions return non-zero (after saying why) instead of exiting: the caller turns a
# cluster that cannot start into "skipped" (77).
#   cluster_install         checks that tools/setup.sh brought the daemons and clients
#   cluster_start DIR NGPU  munged + slurmctld + slurmd, node idle; exports SLURM_CONF
#   cluster_stop            kills exactly the daemons cluster_start started

CLUSTER_PIDS=()

cluster_install() {
  local pkgs=(munge slurmctld slurmd slurm-client) missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "slurm test: ${missing[*]} not installed (tools/setup.sh installs them)"
  return 1
}

# Polls CMD (a string for eval) once a second until it succeeds or SECS have passed.
cluster_wait() {
  local secs=$1 cmd=$2 i
  for ((i = 0; i < secs; i++)); do
    eval "$cmd" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

# 0 when nothing listens on 127.0.0.1:PORT (bash's /dev/tcp: no ss or netstat needed).
cluster_port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cluster_start() {
  local dir=$1 ngpu=$2 mem i
  # munged insists that every directory above its socket is world-executable.
  chmod 755 "$dir"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  # mungekey ships with munge >= 0.5.14 (Debian 12); 1 KiB of urandom is the old way.
  mungekey --create --keyfile="$dir/munge.key" 2>/dev/null ||
    { dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 2>/dev/null &&
      chmod 600 "$dir/munge.key"; }
  munged -F --socket="$dir/munge.sock" --key-file="$dir/munge.key" \
    --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munged.seed" >"$dir/log/munged.out" 2>&1 &
  CLUSTER_PIDS+=($!)
  cluster_wait 10 "munge -n -S '$dir/munge.sock' | unmunge -S '$dir/munge.sock'" ||
    { echo "slurm test: munged did not start:"; tail -5 "$dir/log/munged.out"; return 1; }

  # Ports of our own: two test runs at once (or a real Slurm) must not meet on fixed ones.
  local base tries
  for ((tries = 0; tries < 20; tries++)); do
    base=$((20000 + RANDOM % 40000))
    cluster_port_free "$base" && cluster_port_free $((base + 1)) && break
  done
  # RealMemory must not exceed what slurmd measures, or the node is drained at once.
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  # Fake GPUs, so that the sbatch scripts' --gpus-per-node runs here as on a GPU cluster.
  # gres/gpu drops entries without File=. Character devices (/dev/null's numbers) make
  # slurmd set CUDA_VISIBLE_DEVICES per task as on a real node; where mknod is refused,
  # plain files still allocate (slurmd logs "not a valid character or block device" and
  # goes on, no cgroup constrains devices here) but set no CUDA_VISIBLE_DEVICES.
  mkdir -p "$dir/dev"
  for ((i = 0; i < ngpu; i++)); do
    mknod "$dir/dev/nvidia$i" c 1 3 2>/dev/null || touch "$dir/dev/nvidia$i"
  done
  echo "Name=gpu File=$dir/dev/nvidia[0-$((ngpu - 1))]" >"$dir/gres.conf"
  # slurmd reads cgroup.conf even when, as here, nothing uses cgroups (containers seldom
  # let it manage them): proctrack/linuxproc tracks a job by parent pid, task/none binds
  # nothing.
  echo "CgroupPlugin=autodetect" >"$dir/cgroup.conf"
  cat >"$dir/slurm.conf" <<EOF
ClusterName=tlmtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SrunPortRange=$((base + 3))-$((base + 82))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also how long a requeued job is held (default 120 s) -- releasing it
# sooner makes slurmd refuse it ("Job credential revoked").
AuthInfo=socket=$dir/munge.sock,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=${CLUSTER_DEBUG:-info}
SlurmdDebug=${CLUSTER_DEBUG:-info}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
GresTypes=gpu
JobRequeue=1
ReturnToService=2
# Fast turnaround for a test: SIGKILL 10 s after SIGTERM (mpirun, given SIGTERM, only
# exits then), forget finished jobs after 5 min.
KillWait=10
MinJobAge=300
SchedulerParameters=sched_interval=1
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem Gres=gpu:$ngpu State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -D -i -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
  CLUSTER_PIDS+=($!)
  slurmd -D -N localhost -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
  CLUSTER_PIDS+=($!)
  # Should this script be killed without its EXIT trap (a CTest timeout), take the
  # daemons down with it.
  local daemons=("${CLUSTER_PIDS[@]}") parent=$$
  # (Its sleep runs in the background so that SIGTERM ends it at once.)
  (
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while kill -0 "$parent" 2>/dev/null; do
      sleep 2 & nap=$!
      wait "$nap"
    done
    kill "${daemons[@]}" 2>/dev/null
  ) &
  CLUSTER_PIDS+=($!)
  if ! cluster_wait 30 "sinfo -h -N -o '%T' | grep -qx idle"; then
    echo "slurm test: the node did not become idle in 30 s:"
    sinfo -N -l 2>&1 | tail -3
    tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" "$dir/log/slurmd.out" 2>/dev/null
    return 1
  fi
}

cluster_stop() {
  local i
  # Jobs first: their processes hang off slurmstepd, which outlives slurmd.
  if [ -n "${SLURM_CONF:-}" ] && scancel --full -u root >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # evaluated by cluster_wait
    cluster_wait 30 '[ -z "$(squeue -h 2>/dev/null)" ]' || true
  fi
  # Then the watchdog and the daemons, newest first; whatever ignores SIGTERM for 10 s
  # (slurmd waiting on a stuck slurmstepd) gets SIGKILL.
  for ((i = ${#CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
    kill "${CLUSTER_PIDS[i]}" 2>/dev/null || true
  done
  (
    trap 'kill "$pause" 2>/dev/null; exit 0' TERM
    sleep 10 & pause=$!
    wait "$pause"
    kill -KILL "${CLUSTER_PIDS[@]}" 2>/dev/null
  ) &
  local killer=$!
  for i in "${CLUSTER_PIDS[@]}"; do
    wait "$i" 2>/dev/null || true
  done
  kill "$killer" 2>/dev/null || true
  wait "$killer" 2>/dev/null || true
  CLUSTER_PIDS=()
}
