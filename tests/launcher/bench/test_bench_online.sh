#!/bin/sh
# tests/launcher/bench/test_bench_online.sh -- `tlm bench --online S` (launcher/bench/
# bench_online.c) on the tiny random model: S prompts answered and trained on, each with N
# new tokens and one update step (ce ln 256 > threshold 3: every prompt selected), every
# prompt cut to T, the lines and the JSON object printed. Correctness only: no timing is
# checked. Env: TLM_BIN (set by CTest).
set -eu
tlm=${TLM_BIN:?set TLM_BIN to the tlm executable}
fail() { echo "FAIL: $*"; exit 1; }
out=$("$tlm" bench --backend cpu --random llama-2x64 --tokens 16 --batch 3 --new-tokens 5 \
  --repeat 1 --online 20 --json 2>&1) || fail "tlm bench exited $?"
echo "$out"
echo "$out" | grep -q '^online TLM: 20 prompts of AdaptEval-like lengths' || fail "no online line"
echo "$out" | grep -Eq 'online TLM end to end +[0-9.]+ prompts/s' || fail "no end-to-end rate"
echo "$out" | grep -q '20 steps, 20 of 20 selected' || fail "not one selected step per prompt"
json=$(echo "$out" | grep '^{')
echo "$json" | grep -q '"online": {"prompts": 20,' || fail "no online object in the JSON"
echo "$json" | grep -q '"gen_tokens": 100,' || fail "not 20 x 5 generated tokens"
echo "$json" | grep -q '"steps": 20,' || fail "not 20 update steps"
# every prompt has 3.. tokens + 10 of the template, cut to T 16: 20 x 13 .. 20 x 16
n=$(echo "$json" | sed -n 's/.*"prompt_tokens": \([0-9]*\),.*/\1/p')
[ -n "$n" ] && [ "$n" -ge 260 ] && [ "$n" -le 320 ] || fail "prompt tokens $n not in 260..320"
echo "PASS"
