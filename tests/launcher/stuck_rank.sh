#!/usr/bin/env bash
# A stuck rank ends a 2-rank `tlm run` with an error, not a hang, even when nothing kills
# the job (srun's default KillOnBadExit=0, a hung GPU, a rank stopped by a debugger): start
# the demo under mpiexec with TLM_COMM_TIMEOUT=5, SIGSTOP world rank 1 once the first
# stream batch is written, and require the launcher to exit non-zero within 60 s with rank
# 0's timeout message (comm/comm_wait.c). A malformed TLM_COMM_TIMEOUT is refused by name.
# argv: the tlm binary, then the mpiexec command line.
set -uo pipefail
bin=$1; shift
out="${TLM_TEST_TMP:?}/stuck-rank"
rm -rf "$out" && mkdir -p "$out"
cd "${TLM_SOURCE_DIR:?}"
if TLM_COMM_TIMEOUT=soon "$@" -x TLM_COMM_TIMEOUT -n 1 "$bin" run jobs/demo.yaml \
       --set output.dir="$out/bad-env" > "$out/env.log" 2>&1; then
    echo "FAIL: TLM_COMM_TIMEOUT=soon accepted"; exit 1
fi
grep -qF "TLM_COMM_TIMEOUT=soon: expected seconds, a number >= 0" "$out/env.log" ||
    { echo "FAIL: no message naming TLM_COMM_TIMEOUT=soon:"; cat "$out/env.log"; exit 1; }

# (options first: test_run_dead_rank looks for "tlm run jobs/demo.yaml" processes)
TLM_COMM_TIMEOUT=5 "$@" -x TLM_COMM_TIMEOUT -n 2 "$bin" run --set generate.max_new_tokens=200 \
    --set output.dir="$out" jobs/demo.yaml > "$out/log" 2>&1 &
launcher=$!
for _ in $(seq 3000); do # up to 30 s for the first batch
    [ -s "$out/generated_predictions.jsonl" ] && break
    kill -0 $launcher 2>/dev/null || break
    sleep 0.01
done
victim=""
for pid in $(pgrep -f "$bin run --set generate.max_new_tokens=200 --set output.dir=$out"); do
    if tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
        victim=$pid
    fi
done
if [ -z "$victim" ]; then
    echo "FAIL: rank 1 not found (did the job end before the stop? log:)"; cat "$out/log"
    kill -9 $launcher 2>/dev/null; exit 1
fi
start=$(date +%s)
kill -STOP "$victim"
for _ in $(seq 600); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
if kill -0 $launcher 2>/dev/null; then
    echo "FAIL: the job still runs 60 s after rank 1 stopped (a hang)"
    kill -9 "$victim" $launcher 2>/dev/null; exit 1
fi
wait $launcher; rc=$?
took=$(( $(date +%s) - start ))
kill -9 "$victim" 2>/dev/null
echo "rank 1 (pid $victim) stopped; the job ended in ${took} s with exit status $rc"
[ $rc -ne 0 ] || { echo "FAIL: exit status 0 with a rank stopped"; cat "$out/log"; exit 1; }
grep -qE "still waiting after 5 s \(TLM_COMM_TIMEOUT\) for the (world|tp|dp) group" "$out/log" ||
    { echo "FAIL: no timeout message from rank 0:"; cat "$out/log"; exit 1; }
exit 0
