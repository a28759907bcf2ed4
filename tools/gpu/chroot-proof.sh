#!/usr/bin/env bash
# tools/gpu/chroot-proof.sh -- proves the GPU kit HERE, without a GPU: tools/gpu/check.sh
# run inside a `debootstrap --variant=minbase bookworm` chroot, which has none of the
# project's Debian packages (no HDF5, libyaml, Open MPI, OpenBLAS, ...) and no CUDA.
#   sudo bash tools/gpu/chroot-proof.sh [MINBASE_TAR] [DIR]
# MINBASE_TAR (default /work/chroot/bookworm-minbase.tar) is made once with
#   debootstrap --variant=minbase bookworm /tmp/mb http://deb.debian.org/debian &&
#   tar -C /tmp/mb -cf /work/chroot/bookworm-minbase.tar .
# Two runs, each must end as stated:
#   1. bare: no CUDA at all: check.sh unpacks the kit and stops at "cudalibs" naming the
#      toolkit libraries it needs from the GPU image (exit 3);
#   2. with this machine's CUDA toolkit bound read-only at /usr/local/cuda (what the GPU
#      image has; no driver, no GPU): every program's libraries resolve (ldd), `tlm
#      --version` runs, test_ops_cuda starts and skips, and check.sh stops at "no GPU"
#      (exit 3).
# Needs root (chroot, mount) and gpukit/ from tools/gpu/prepare.sh. Exit 0 when both hold.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tarball=${1:-/work/chroot/bookworm-minbase.tar}
root=${2:-/tmp/tlm-gpukit-chroot}
[ "$(id -u)" -eq 0 ] || { echo "needs root (chroot, mount)"; exit 2; }
[ -r "$tarball" ] || { echo "no minbase tarball $tarball (see the header)"; exit 2; }
[ -r "$repo/gpukit/tlm-gpukit.tar.gz" ] || { echo "no gpukit/: run tools/gpu/prepare.sh"; exit 2; }
mounted=()
cleanup() { for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -rf "$root" && mkdir -p "$root" && tar -C "$root" -xf "$tarball"
# The chroot must really lack the project's libraries.
for pkg in libhdf5-103-1 libyaml-0-2 libjansson4 libpcre2-8-0 libutf8proc2 libopenblas0-pthread libopenmpi3 libcmocka0 libgomp1; do
  ! chroot "$root" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
    echo "chroot-proof: note: $pkg is in the minbase chroot (the kit carries its own copy anyway)"
done
[ ! -e "$root/usr/local/cuda" ] || { echo "chroot-proof: the chroot has CUDA"; exit 1; }
# The repository as it travels to the GPU machine: tracked files (and untracked ones git
# does not ignore) plus gpukit/.
mkdir -p "$root/repo" "$root/out1" "$root/out2"
(cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$root/repo" -xf -
cp -r "$repo/gpukit" "$root/repo/"
mkdir -p "$root/proc" && mount -t proc proc "$root/proc" && mounted+=("$root/proc")
ok=1
set +e
echo "chroot-proof: run 1, bare minbase (no CUDA)"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin OUT=/out1 bash -c 'cd /repo && bash tools/gpu/check.sh'
rc=$?
tail -n 3 "$root/out1/summary.txt" | grep -q "cudalibs.*STOP: not found: libcublas" && [ $rc = 3 ] || { echo "chroot-proof: run 1 ended $rc, not at cudalibs"; ok=0; }
echo "chroot-proof: run 2, the CUDA toolkit bound read-only at /usr/local/cuda, no driver"
mkdir -p "$root/usr/local/cuda" && mount --bind /usr/local/cuda "$root/usr/local/cuda" &&
  mount -o remount,bind,ro "$root/usr/local/cuda" && mounted+=("$root/usr/local/cuda")
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin OUT=/out2 bash -c 'cd /repo && bash tools/gpu/check.sh'
rc=$?
grep -q "load .*ok: every program's libraries resolve; tlm " "$root/out2/summary.txt" &&
  grep -q "gpu .*STOP: no GPU.*test_ops_cuda ran and exited 77" "$root/out2/summary.txt" && [ $rc = 3 ] ||
  { echo "chroot-proof: run 2 ended $rc, not at \"no GPU\" with everything loading"; ok=0; }
grep -c "=> not found" "$root/out2/env.log" | xargs echo "chroot-proof: run 2: unresolved ldd lines:"
set -e
[ $ok = 1 ] && echo "chroot-proof: PASSED (logs: $root/out1, $root/out2)" || { echo "chroot-proof: FAILED"; exit 1; }
