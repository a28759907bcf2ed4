#!/usr/bin/env bash
# tools/gpu/ptxas-report.sh -- run HERE: the compile-clean proof of the CUDA backend. A
# Release build for sm_80 + sm_90 with every warning an error (C: -DTLM_WERROR=ON; nvcc
# and ptxas: --Werror all-warnings) and ptxas's resource report (-Xptxas -v), every CUDA
# object of kernels/cuda compiled afresh; then the table of the fast kernels (file,
# kernel, arch, registers, spill stores / loads bytes) and a FAIL for any spill there.
#   bash tools/gpu/ptxas-report.sh [build-dir]      # default build-ptxas; ~10 min, 2 cores
# Exit 0: built, no fast kernel spills; 1: a spill; the build's own status otherwise.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
build=${1:-build-ptxas}
jobs=${TLM_PTXAS_JOBS:-2}
log=$build/ptxas.log
# The fast kernels (tools/gpu/README.md): tensor-core attention, flash-decoding, the LoRA
# kernels, fused RMSNorm / RoPE / SwiGLU and the elementwise ops.
fast='attention_fwd_tc|attention_bwd_tc|attention_decode|lora|lora_rows|rmsnorm|rope|elementwise'
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTLM_WERROR=ON -DTLM_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="80;90" "-DCMAKE_CUDA_FLAGS=-Xptxas=-v --Werror=all-warnings" \
  >/dev/null
find "$build" -path '*tlm_kernels_cuda.dir*' -name '*.cu.o' -delete
set +e
nice -n 10 cmake --build "$build" -j "$jobs" >"$log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  grep -E 'error|warning' "$log" | head -40
  echo "ptxas-report: the build failed (status $rc); log $log"
  exit "$rc"
fi
python3 - "$log" "$fast" <<'PY'
import re, subprocess, sys
log, fast = sys.argv[1], re.compile(r'/(%s)\.cu\b' % sys.argv[2])
rows, src, kern, arch = [], None, None, None
for line in open(log, errors='replace'):
    m = re.search(r'Building CUDA object \S*?/cuda/(\w+)\.cu\.o', line)
    if m:
        src = m.group(1)
        continue
    m = re.search(r"Compiling entry function '(\w+)' for '(sm_\d+)'", line)
    if m:
        kern, arch = m.group(1), m.group(2)
        continue
    m = re.search(r'(\d+) bytes spill stores, (\d+) bytes spill loads', line)
    if m and kern:
        spill = (int(m.group(1)), int(m.group(2)))
        continue
    m = re.search(r'Used (\d+) registers', line)
    if m and kern:
        rows.append((src, kern, arch, int(m.group(1))) + spill)
        kern = None
names = subprocess.run(['c++filt'], input='\n'.join(r[1] for r in rows), text=True,
                       capture_output=True).stdout.split('\n') if rows else []
bad = 0
print('%-18s %-6s %5s %7s %7s  kernel' % ('file', 'arch', 'regs', 'st', 'ld'))
for r, name in zip(rows, names):
    if not fast.search('/' + (r[0] or '') + '.cu'):
        continue
    short = re.sub(r'\(.*', '', name)
    flag = '' if r[4] == 0 and r[5] == 0 else '   SPILL'
    bad += flag != ''
    print('%-18s %-6s %5d %7d %7d  %s%s' % (r[0], r[2], r[3], r[4], r[5], short[:90], flag))
n = sum(1 for r in rows if fast.search('/' + (r[0] or '') + '.cu'))
print('ptxas-report: %d fast kernel entries (sm_80 + sm_90), %d with spills; %d entries in all'
      % (n, bad, len(rows)))
sys.exit(1 if bad or n == 0 else 0)
PY
