#!/usr/bin/env bash
# A peer that never arrives at start-up ends a 2-rank `tlm run` with an error within the
# comm timeout instead of waiting forever: world rank 1 sleeps 90 s before MPI_Init
# (TLM_TEST_INIT_STALL=1:90, comm/comm_watchdog.h), TLM_COMM_TIMEOUT=5; rank 0, blocked in
# MPI_Init's wire-up, must give up after 5 s with the watchdog's message, and the job must
# end non-zero in under 30 s (without the watchdog it waits the 90 s, then runs to exit 0).
# Then the same job without the stall runs to the end (the watchdog stopped in time).
# argv: the tlm binary, then the mpiexec command line.
set -uo pipefail
bin=$1; shift
out="${TLM_TEST_TMP:?}/stall-init"
rm -rf "$out" && mkdir -p "$out"
cd "${TLM_SOURCE_DIR:?}"
start=$(date +%s)
TLM_COMM_TIMEOUT=5 TLM_TEST_INIT_STALL=1:90 "$@" -x TLM_COMM_TIMEOUT -x TLM_TEST_INIT_STALL \
    -n 2 "$bin" run jobs/demo.yaml --set output.dir="$out/stalled" > "$out/stall.log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
fails=0
[ $rc -ne 0 ] || { echo "FAIL: exit 0 with a peer that never arrived"; fails=1; }
[ $took -lt 30 ] || { echo "FAIL: took $took s, expected < 30 (TLM_COMM_TIMEOUT=5)"; fails=1; }
grep -qF "[rank 0 " "$out/stall.log" &&
    grep -qF "starting the process grid (MPI_Init, the node check, the tp/dp groups, the device binding, the NCCL communicators): still waiting after 5 s (TLM_COMM_TIMEOUT): a peer rank has not arrived" \
        "$out/stall.log" || { echo "FAIL: no watchdog message from rank 0"; fails=1; }
[ $fails -eq 0 ] || cat "$out/stall.log"
echo "stalled peer: exit $rc after $took s"
# the bound does not touch a healthy start: a whole short run under the same timeout
TLM_COMM_TIMEOUT=5 "$@" -x TLM_COMM_TIMEOUT -n 2 "$bin" run jobs/demo.yaml \
    --set output.dir="$out/ok" --set data.max_samples=8 --set generate.max_new_tokens=4 \
    > "$out/ok.log" 2>&1 || { echo "FAIL: the unstalled run failed"; tail -5 "$out/ok.log"; fails=1; }
[ "$(wc -l < "$out/ok/scores.jsonl" 2>/dev/null)" = 8 ] || { echo "FAIL: no 8 scores"; fails=1; }
[ $fails -eq 0 ] && echo PASS
[ $fails -eq 0 ]
