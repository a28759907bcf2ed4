#!/usr/bin/env bash
# One dead rank ends a 2-rank `tlm run` with an error, not a hang: start the demo under
# mpiexec, kill -9 world rank 1 once the first stream batch is written, and require the
# launcher to exit non-zero within 60 s. (Open MPI's runtime sees the rank die and tears
# the job down; on GPUs, NCCL waits also poll ncclCommGetAsyncError -- comm/comm_nccl.c.)
# argv: the tlm binary, then the mpiexec command line.
set -uo pipefail
bin=$1; shift
out="${TLM_TEST_TMP:?}/dead-rank"
rm -rf "$out" && mkdir -p "$out"
cd "${TLM_SOURCE_DIR:?}"
"$@" -n 2 "$bin" run jobs/demo.yaml --set generate.max_new_tokens=200 \
    --set output.dir="$out" > "$out/log" 2>&1 &
launcher=$!
for _ in $(seq 3000); do # up to 30 s for the first batch
    [ -s "$out/generated_predictions.jsonl" ] && break
    kill -0 $launcher 2>/dev/null || break
    sleep 0.01
done
victim=""
for pid in $(pgrep -f "$bin run jobs/demo.yaml"); do
    if tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
        victim=$pid
    fi
done
if [ -z "$victim" ]; then
    echo "FAIL: rank 1 not found (did the job end before the kill? log:)"; cat "$out/log"
    kill -9 $launcher 2>/dev/null; exit 1
fi
start=$(date +%s)
kill -9 "$victim"
for _ in $(seq 600); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
if kill -0 $launcher 2>/dev/null; then
    echo "FAIL: the job still runs 60 s after rank 1 died (a hang)"
    pkill -9 -f "$bin run jobs/demo.yaml"; exit 1
fi
wait $launcher; rc=$?
took=$(( $(date +%s) - start ))
echo "rank 1 (pid $victim) killed; the job ended in ${took} s with exit status $rc"
[ $rc -ne 0 ] || { echo "FAIL: exit status 0 after a rank died"; cat "$out/log"; exit 1; }
exit 0
