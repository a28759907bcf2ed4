#!/usr/bin/env bash
# Installs every Debian package tlm needs to build, test and run its demo (idempotent; run
# as root). Nothing is installed later: tests only check for what this brought.
# CUDA (nvcc, cuBLAS, NCCL) is not installed here: the CUDA backend builds where the
# toolkit already is, and the CPU build needs none of it.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  ninja-build                         # builds configured with `cmake -G Ninja`
  libopenmpi-dev openmpi-bin          # launcher, comm (MPI)
  libhdf5-dev hdf5-tools              # checkpoints; h5dump
  libyaml-dev                         # job files
  libjansson-dev                      # JSON: safetensors headers, config, tokenizer, data
  libpcre2-dev                        # tokenizer split regex
  libutf8proc-dev                     # NFC normalization
  # CPU matmul: OpenBLAS built for OpenMP. libopenblas-dev alone brings the pthread build,
  # whose thread pool fights libgomp's (2-3x slower here); CMake links this one by path.
  libopenblas-openmp-dev
  libcmocka-dev                       # unit tests
  libcairo2-dev fonts-dejavu-core     # tlm report: charts drawn to SVG and PNG, their font
  libxml2-dev                         # tests: parse report.html as XML
  chromium                            # tests: render report.html headless to a PNG
  python3                             # small tools/ scripts, check-setup
  clang libclang-rt-14-dev libomp-14-dev # tests/fuzz: libFuzzer harnesses (clang's runtime and OpenMP)
  munge slurmctld slurmd slurm-client # the Slurm test's one-node cluster (tests/slurm)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} packages present"
fi
