#!/bin/sh
# tests/launcher/test_version.sh -- `tlm --version` / `tlm version` name the version, the
# commit, the backends (a CUDA build's module loading), the BLAS with its kernel family and the MPI library; a mistyped
# command suggests the nearest one and exits 2. Env: TLM_BIN (set by CTest).
set -eu
tlm=${TLM_BIN:?set TLM_BIN to the tlm executable}
fail() { echo "FAIL: $*"; exit 1; }

out=$("$tlm" --version) || fail "tlm --version exited $?"
echo "$out"
[ "$("$tlm" version)" = "$out" ] || fail "tlm version differs from tlm --version"
echo "$out" | grep -Eq '^tlm [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{7,}(-dirty)?|^tlm [0-9.]+ \(commit unknown' ||
  fail "no version and commit line"
echo "$out" | grep -Eq '^backends: cpu' || fail "no backends line"
# a CUDA build's backend is a module loaded at run time: it must load (all symbols bound)
if echo "$out" | grep -q '^backends: cpu, cuda'; then
  echo "$out" | grep -Eq '^backends: cpu, cuda \(.*; libtlm_kernels_cuda\.so loads\)$' ||
    fail "the CUDA backend module does not load"
fi
echo "$out" | grep -Eq '^blas: OpenBLAS [0-9.]+ \(OpenMP\), kernels [A-Za-z0-9_]+ \(' ||
  fail "no BLAS line with its kernel family"
echo "$out" | grep -Eq '^comm: .*MPI' || fail "no MPI line"

check_typo() { # TYPED WANT
  set +e
  msg=$("$tlm" "$1" 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "tlm $1: exit $rc, want 2"
  echo "$msg" | grep -q "did you mean \"$2\"" || fail "tlm $1: no suggestion of $2: $msg"
}
check_typo rnu run
check_typo benhc bench
check_typo exprot export
set +e
msg=$("$tlm" frobnicate 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "tlm frobnicate: exit $rc, want 2"
echo "$msg" | grep -q "did you mean" && fail "tlm frobnicate: suggested a command: $msg"
echo "$msg" | grep -q "usage:" || fail "tlm frobnicate: no usage"
echo "version and command suggestions: ok"
