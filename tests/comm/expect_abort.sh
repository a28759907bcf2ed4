#!/bin/sh
# tests/comm/expect_abort.sh SECONDS RANK/WORLD COMMAND... -- runs an MPI job in which one
# rank fails and passes only when the job stops by itself within SECONDS (no hang), exits
# non-zero, and its output names the failing rank with its log prefix "[rRANK/WORLD".
# (The bracket is added here: an unbalanced "[" in a CMake argument list swallows the
# list separators after it.)
limit=$1
pattern="[r$2"
shift 2
log=$(mktemp)
timeout -k 5 "$limit" "$@" >"$log" 2>&1
rc=$?
cat "$log"
verdict=""
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    verdict="the job hung: still running after ${limit}s instead of aborting"
elif [ "$rc" -eq 0 ]; then
    verdict="the job exited 0 although a rank failed"
elif ! grep -qF -- "$pattern" "$log"; then
    verdict="the output does not name the failing rank (\"$pattern\")"
elif grep -q "passed a barrier" "$log"; then
    verdict="a rank passed a barrier the failed rank never entered"
fi
rm -f "$log"
if [ -n "$verdict" ]; then
    echo "FAIL: $verdict (exit status $rc)"
    exit 1
fi
echo "PASS: the job stopped with exit status $rc and named the failing rank"
exit 0
