#!/usr/bin/env bash
# tools/gpu/check.sh -- run THERE (a GPU machine with the CUDA toolkit, none of the
# project's Debian packages, no registry), from the repository root, as root, with OUT
# set to a folder whose files come back; gpukit/ made here by tools/gpu/prepare.sh must
# travel with the tree. One command gives every answer, in <= 8 minutes wall, each stage
# capped by its own timeout:
#   unpack   the kit into a private prefix ($TLM_GPUKIT_DIR, default /tmp/tlm-gpukit; never /)
#   cudalibs find the toolkit's libcublas/libcublasLt/libnccl (CUDA_HOME, /usr/local/cuda,
#            the pip nvidia-* wheels of python3) and put them on LD_LIBRARY_PATH
#   load     every program's libraries resolve (ldd), and `tlm --version` runs and loads
#            the CUDA backend module
#   gpu      a GPU answers (nvidia-smi); without one the check stops here: "no GPU"
#   tests    the gpu tests: test_ops_cuda (every op vs the CPU backend), test_worker_cuda
#   memcheck / racecheck  compute-sanitizer on test_ops_cuda at small sizes
#   bench*   tlm bench --backend cuda --random llama3-8b (T 512 with --profile), then the
#            saved model at T 1k / 2k / 4k, batch 8 and 64; online TLM end to end over
#            256 prompts of AdaptEval-like lengths with the T 2k run
#   torch    tools/gpu/bench_torch_cuda.py (HF + PEFT on the same weights) and the ratios
#   nograph  bench512's decode again with TLM_CUDA_GRAPHS=0 (no step graphs): what they save
# Stdout ends with the summary table; full logs in $OUT (6 files). Exit 0: every stage
# passed; 3: stopped at "no GPU" (or no CUDA libraries); 1: a stage failed.
#   OUT=/tmp/out bash tools/gpu/check.sh
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
: "${OUT:?set OUT to a folder for the logs}"
mkdir -p "$OUT"
kit_tar=${TLM_GPUKIT_TAR:-$repo/gpukit/tlm-gpukit.tar.gz}
prefix=${TLM_GPUKIT_DIR:-/tmp/tlm-gpukit}
budget=${TLM_CHECK_BUDGET_S:-480} # the whole check, seconds
start=$SECONDS
log=$OUT/check.log
: >"$log"
names=() results=() times=()

say() { echo "check: $*" | tee -a "$log"; }
# Seconds a stage may take: its cap, or what is left of the budget, whichever is less.
cap() { local left=$((budget - (SECONDS - start))); echo $(($1 < left ? $1 : (left > 1 ? left : 1))); }
record() { names+=("$1"); results+=("$2"); times+=("$3"); say "[$1] $2 ($3 s)"; }
# run_stage NAME CAP LOGFILE CMD...: runs CMD under timeout, output appended to LOGFILE.
run_stage() {
  local name=$1 secs t0=$SECONDS rc
  secs=$(cap "$2")
  local out=$3
  shift 3
  echo "=== $name: $* (timeout ${secs}s)" >>"$out"
  timeout --kill-after=10 "$secs" "$@" >>"$out" 2>&1
  rc=$?
  local verdict="ok"
  case $rc in
    0) ;;
    77) verdict="skipped (exit 77)" ;;
    124 | 137) verdict="TIMEOUT after ${secs}s" ;;
    *) verdict="FAILED (exit $rc)" ;;
  esac
  echo "=== $name: exit $rc" >>"$out"
  record "$name" "$verdict" $((SECONDS - t0))
  return $rc
}
summary() {
  {
    echo
    echo "check summary ($(date -u +%H:%M:%SZ), $((SECONDS - start)) s of ${budget} s, logs in $OUT):"
    printf '  %-10s %-6s %s\n' stage secs result
    for i in "${!names[@]}"; do printf '  %-10s %-6s %s\n' "${names[i]}" "${times[i]}" "${results[i]}"; done
  } | tee -a "$log" "$OUT/summary.txt"
}
finish() { summary; exit "$1"; }

# unpack -----------------------------------------------------------------------------
t0=$SECONDS
[ -r "$kit_tar" ] || { record unpack "FAILED: no $kit_tar (run tools/gpu/prepare.sh on the build machine and carry gpukit/)" 0; finish 1; }
case "$prefix" in /|/usr|/usr/*|/bin|/lib|/lib64) record unpack "FAILED: TLM_GPUKIT_DIR=$prefix is not private" 0; finish 1 ;; esac
rm -rf "$prefix" && mkdir -p "$prefix" && tar -C "$prefix" -xzf "$kit_tar" ||
  { record unpack "FAILED: tar" $((SECONDS - t0)); finish 1; }
head -1 "$prefix/MANIFEST" | tee -a "$log"
kit_commit=$(sed -n 's/^commit \([0-9a-f]*\).*/\1/p' "$prefix/MANIFEST")
here=$(git rev-parse HEAD 2>/dev/null || echo unknown)
note=""
[ "$kit_commit" = "$here" ] || [ "$here" = unknown ] || note=", kit made at ${kit_commit:0:12}, tree at ${here:0:12}"
record unpack "ok: $(ls "$prefix/bin" | wc -l) programs, $(ls "$prefix/lib" | wc -l) libraries$note" $((SECONDS - t0))

# cudalibs ---------------------------------------------------------------------------
t0=$SECONDS
need=$(sed -n 's/^needs from the GPU image: //p' "$prefix/MANIFEST")
dirs=("${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib
  /usr/lib/x86_64-linux-gnu /usr/local/nvidia/lib64 /usr/local/nvidia/lib)
site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null || true)
[ -n "$site" ] && for d in "$site"/nvidia/*/lib; do dirs+=("$d"); done
libpath="" missing=""
for lib in $need; do
  [ "$lib" = libcuda.so.1 ] && continue # the driver's: the loader finds it or there is no GPU
  found=""
  for d in "${dirs[@]}"; do [ -e "$d/$lib" ] && { found=$d; break; }; done
  if [ -z "$found" ]; then
    found=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print $NF; exit}' | xargs -r dirname)
  fi
  if [ -z "$found" ]; then missing+=" $lib"; continue; fi
  case ":$libpath:" in *":$found:"*) ;; *) libpath=${libpath:+$libpath:}$found ;; esac
done
# For the kit's programs only (python3, nvidia-smi keep the image's own libraries): the
# kit's lib/ first (Debian's libmpi has a RUNPATH of its build machine's layout), then
# the toolkit's.
kit_ld=$prefix/lib${libpath:+:$libpath}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
kit=(env "LD_LIBRARY_PATH=$kit_ld") # a command prefix: timeout runs it too
{ echo "LD_LIBRARY_PATH for the kit: $kit_ld"; cat "$prefix/MANIFEST"; } >"$OUT/env.log"
if [ -n "$missing" ]; then
  record cudalibs "STOP: not found:$missing (not a CUDA image: no toolkit libraries)" $((SECONDS - t0))
  for e in "$prefix"/bin/*; do echo "== ldd $e"; "${kit[@]}" ldd "$e"; done >>"$OUT/env.log" 2>&1
  finish 3
fi
record cudalibs "ok: ${libpath:-system}" $((SECONDS - t0))

# load -------------------------------------------------------------------------------
t0=$SECONDS
unresolved=""
for e in "$prefix"/bin/* "$prefix"/lib/libtlm_kernels_cuda.so; do
  { echo "== ldd $e"; "${kit[@]}" ldd "$e"; } >>"$OUT/env.log" 2>&1
  bad=$("${kit[@]}" ldd "$e" 2>&1 | grep -E 'not found|No such file' | awk '{print $1}' | paste -sd ' ')
  [ -z "$bad" ] || unresolved+=" $(basename "$e"): $bad;"
done
tlm=$prefix/bin/tlm
version=$("${kit[@]}" "$tlm" --version 2>&1)
vrc=$?
echo "tlm --version: $version" >>"$OUT/env.log"
# the CUDA backend is a module tlm dlopens: --version says whether it loads
backends=$(grep '^backends:' <<<"$version")
[[ "$backends" == *"libtlm_kernels_cuda.so loads)" ]] || unresolved+=" $backends;"
version=$(head -1 <<<"$version")
if [ -n "$unresolved" ] || [ $vrc -ne 0 ]; then
  record load "FAILED:${unresolved:- tlm --version: $version}" $((SECONDS - t0)); finish 1
fi
record load "ok: every program's libraries resolve; $version" $((SECONDS - t0))

# gpu --------------------------------------------------------------------------------
t0=$SECONDS
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >>"$OUT/env.log" 2>&1; then
  # the programs still start: the op test must say "no CUDA device" and skip (77)
  "${kit[@]}" "$prefix/bin/test_ops_cuda" >>"$OUT/env.log" 2>&1
  orc=$?
  record gpu "STOP: no GPU (nvidia-smi $(command -v nvidia-smi >/dev/null && echo 'lists none' || echo 'absent'); test_ops_cuda ran and exited $orc$([ $orc = 77 ] && echo ', skipped'))" $((SECONDS - t0))
  finish 3
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,pci.bus_id --format=csv >>"$OUT/env.log" 2>&1
record gpu "ok: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)" $((SECONDS - t0))

# tests, sanitizer, bench ------------------------------------------------------------
failed=0
export TLM_SOURCE_DIR=$repo
run_stage ops 90 "$OUT/tests.log" "${kit[@]}" "$prefix/bin/test_ops_cuda" || failed=1
run_stage worker 45 "$OUT/tests.log" "${kit[@]}" "$prefix/bin/test_worker_cuda" || failed=1
sanitizer=$(command -v compute-sanitizer || true)
for d in "${CUDA_HOME:-/usr/local/cuda}/bin" /usr/local/cuda/bin /opt/nvidia/compute-sanitizer; do
  [ -n "$sanitizer" ] || { [ -x "$d/compute-sanitizer" ] && sanitizer=$d/compute-sanitizer; }
done
if [ -n "$sanitizer" ]; then
  for tool in memcheck racecheck; do
    TLM_OPS_TEST_SIZES=small run_stage "$tool" 45 "$OUT/sanitizer.log" "${kit[@]}" "$sanitizer" \
      --tool "$tool" --error-exitcode 9 "$prefix/bin/test_ops_cuda" || failed=1
  done
else
  record memcheck "skipped: no compute-sanitizer" 0
fi
# The GPU bench on Llama-3-8B's shape (random BF16 weights written once, then reloaded):
# ceilings first, update step at T 512 and 2048, decode at batch 1, 8, 64 and contexts
# 1k / 4k, the per-op table (--profile) at T 512, online TLM over 256 prompts (answered
# in stream batches of 8, 16 new tokens, then trained on) with the T 2k run, on the model
# it has loaded. JSON lines feed the torch ratios.
model=${TLM_GPU_MODEL:-/tmp/tlm-llama3-8b}
bench() { # NAME CAP ARGS...
  local name=$1 secs=$2
  shift 2
  run_stage "$name" "$secs" "$OUT/bench.log" "${kit[@]}" "$tlm" bench --backend cuda --json "$@"
}
if "${kit[@]}" "$tlm" bench --help 2>&1 | grep -q llama3-8b; then
  rm -rf "$model"
  bench bench512 130 --random llama3-8b --save-model "$model" --tokens 512 --batch 8 \
    --new-tokens 32 --repeat 3 --profile || failed=1
  if [ -s "$model/model.safetensors" ]; then
    bench bench1k 60 --model "$model" --tokens 1024 --batch 64 --new-tokens 16 --repeat 2 || failed=1
    bench bench2k 90 --model "$model" --tokens 2048 --batch 8 --new-tokens 16 --repeat 2 \
      --online 256 || failed=1
    bench bench4k 50 --model "$model" --tokens 4096 --batch 8 --new-tokens 16 --repeat 1 || failed=1
  fi
else
  record bench "not built: tlm bench has no --random llama3-8b yet" 0
fi
if [ -s "$model/model.safetensors" ]; then
  grep '^{' "$OUT/bench.log" >"$prefix/bench.jsonl" || true
  PYTHONUNBUFFERED=1 run_stage torch 75 "$OUT/bench_torch.log" python3 tools/gpu/bench_torch_cuda.py \
    --model "$model" --tokens 512,2048 --new-tokens 32 --repeat 2 --tlm-json "$prefix/bench.jsonl" ||
    failed=1
else
  record torch "skipped: no model written by the bench" 0
fi
# Decode without step graphs (TLM_CUDA_GRAPHS=0: every op launched from the host), on
# bench512's shapes, against its decode rows: what the graphs save. Last: what is left.
if [ -s "$model/model.safetensors" ]; then
  TLM_CUDA_GRAPHS=0 bench nograph 40 --model "$model" --tokens 512 --batch 8 --new-tokens 32 \
    --repeat 1 || failed=1
fi
# the bench's own tables are the answer: show their last lines above the summary
[ -s "$OUT/bench.log" ] && grep -E '^(ceilings|  matmul peak|  copy,|model |efficiency|  update step|  decode|  generation|online TLM|  online TLM|    (generation|updates) \(|=== (bench|nograph))' "$OUT/bench.log"
[ -s "$OUT/bench_torch.log" ] && tail -n 15 "$OUT/bench_torch.log"
finish $((failed ? 1 : 0))
