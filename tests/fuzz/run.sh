#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each for SECONDS, JOBS at a
# time, starting from its committed seed corpus (tests/fuzz/corpus/<harness>/, read only:
# what a run finds goes to WORK/<harness>/). Prints each harness's executions and coverage;
# exits non-zero when any harness crashed, leaked or broke an invariant, leaving the
# reproducer in WORK/<harness>/crash-* (add it to the corpus and a unit test).
# usage: tests/fuzz/run.sh [SECONDS=30] [JOBS=2] [WORK=build-fuzz/runs] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
jobs=${2:-2}
work=${3:-build-fuzz/runs}
harnesses=(safetensors tokenizer config job dataset gguf)
[ $# -gt 3 ] && harnesses=("${@:4}")

cmake -S . -B build-fuzz -DTLM_FUZZ=ON -DCMAKE_C_COMPILER=clang -DTLM_WERROR=ON > /dev/null
cmake --build build-fuzz --target fuzzers -j "$(nproc)" > /dev/null

run_one() { # harness
    local h=$1 dir="$work/$1"
    mkdir -p "$dir/corpus"
    # -max_len: room to grow past the largest seed (5 KB); the guard tests of jobs/ use
    # larger files on their own. -timeout: one input taking > 10 s is a finding (a hang).
    ( cd "$dir" && exec "$OLDPWD/build-fuzz/tests/fuzz/fuzz_$h" -max_total_time="$secs" \
          -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
          corpus "$OLDPWD/tests/fuzz/corpus/$h" ) > "$dir/log" 2>&1
}

status=0
pids=()
for h in "${harnesses[@]}"; do
    run_one "$h" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}" || true
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || true; done

printf '%-12s %10s %8s %8s %6s  %s\n' harness execs exec/s cov ft result
for h in "${harnesses[@]}"; do
    log="$work/$h/log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    result=ok
    if grep -qE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error|invariant broken' "$log" ||
       [ -z "$execs" ]; then
        result="FAILED (see $log)"
        status=1
    fi
    printf '%-12s %10s %8s %8s %6s  %s\n' "$h" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $status
