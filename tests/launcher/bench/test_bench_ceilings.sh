#!/bin/sh
# tests/launcher/bench/test_bench_ceilings.sh -- the GPU bench's lines on the CPU backend
# (launcher/bench/bench_gpu.c): `tlm bench --ceilings` on the BF16 preset llama-2x64-bf16
# writes a BF16 safetensors + "torch_dtype": "bfloat16", measures the ceilings before the
# model, and prints MFU and roofline shares with their formulas and the exact matmul
# parameter count of the shape. Env: TLM_BIN (set by CTest).
set -eu
tlm=${TLM_BIN:?set TLM_BIN to the tlm executable}
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/tlm-ceil.XXXXXX")
trap 'rm -rf "$dir"' EXIT
out=$("$tlm" bench --backend cpu --random llama-2x64-bf16 --save-model "$dir/m" --ceilings \
  --tokens 32 --batch 2 --new-tokens 4 --repeat 1 2>/dev/null) || fail "tlm bench exited $?"
echo "$out"
grep -q '"torch_dtype": "bfloat16"' "$dir/m/config.json" || fail "config.json is not bfloat16"
# the safetensors header (its first 8 bytes are its length) names only BF16 tensors
hdr=$(head -c 4096 "$dir/m/model.safetensors" | tr -d '\000' | tr -c '[:print:]' ' ')
echo "$hdr" | grep -q '"dtype":"BF16"' || fail "no BF16 tensor in the header"
echo "$hdr" | grep -q '"F32"' && fail "an F32 tensor in a BF16 preset"
# ceilings come first, before the model's lines
first=$(echo "$out" | grep -n -m1 '^ceilings on' | cut -d: -f1)
model=$(echo "$out" | grep -n -m1 '^model llama-2x64-bf16' | cut -d: -f1)
[ -n "$first" ] && [ -n "$model" ] && [ "$first" -lt "$model" ] || fail "ceilings not measured first"
echo "$out" | grep -Eq 'matmul peak +[0-9.e+-]+ TFLOP/s .*(fwd|bwd) (256|512|1024)\^3' ||
  fail "no matmul peak naming the fastest cube"
echo "$out" | grep -Eq 'streaming read +[0-9.]+ GB/s' || fail "no streaming-read bandwidth"
echo "$out" | grep -q 'roofline = B x read bandwidth' || fail "roofline not on the read bandwidth"
# L 2 x (64*64 + 2*64*32 + 64*64 + 3*64*172) + 256*64 = 107008
echo "$out" | grep -q 'N = 107008 matmul parameters' || fail "wrong matmul parameter count"
echo "$out" | grep -q 'MFU = tok/s x (4 N + 6 L T QD) / peak' || fail "no MFU formula"
[ "$(echo "$out" | grep -c '% of the roofline')" = 2 ] || fail "not two decode roofline lines"
echo "PASS"
