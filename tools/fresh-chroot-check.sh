#!/usr/bin/env bash
# tools/fresh-chroot-check.sh -- the README's two commands on a brand-new Debian 12, as a
# new user runs them: a `debootstrap --variant=minbase bookworm` chroot that holds only a
# clone of this repository's main branch and ../shared (bound read-only). A machine that
# has been worked on hides missing set-up steps; this cannot.
#
#   sudo bash tools/fresh-chroot-check.sh [CHROOT_DIR] [BRANCH]
#
# Makes CHROOT_DIR (default /work/chroot/fresh; removed first) from a cached minbase
# tarball when CHROOT_TARBALL names one, else with debootstrap (needs the Debian mirror),
# clones BRANCH (default main), then inside the chroot runs, timed, with their exit codes:
#   1. bash tools/setup.sh && cmake -S . -B build && cmake --build build -j && \
#      ./build/launcher/tlm run jobs/demo.yaml
#   2. bash .ci/run
# and prints a summary. Needs root (chroot, mount). Exit 0 when both commands pass.
set -euo pipefail
root=${1:-/work/chroot/fresh}
branch=${2:-main}
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" 2>/dev/null && pwd) || { echo "no ../shared beside $repo"; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (debootstrap, chroot, mount)"; exit 2; }

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() { # SRC DST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mounted+=("$2")
  [ "${3:-}" = ro ] && mount -o remount,bind,ro "$2"
  return 0
}

rm -rf "$root"
mkdir -p "$root"
if [ -n "${CHROOT_TARBALL:-}" ]; then
  tar -C "$root" -xf "$CHROOT_TARBALL"
else
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -d /etc/apt/sources.list.d ] && cp -r /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/" 2>/dev/null || true
mkdir -p "$root/work"
git clone -q --branch "$branch" "$repo" "$root/work/main"
bind /proc "$root/proc"
bind /sys "$root/sys"
bind /dev "$root/dev"
bind /dev/pts "$root/dev/pts"
bind "$shared" "$root/work/shared" ro
mkdir -p "$root/dev/shm" "$root/tmp"
chmod 1777 "$root/tmp"

run_timed() { # NAME COMMAND: runs COMMAND in the chroot's clone, logs, records rc and time
  local name=$1 cmd=$2 t0 rc
  t0=$(date +%s)
  set +e
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM=dumb bash -c "cd /work/main && $cmd" > "$root/work/$name.log" 2>&1
  rc=$?
  set -e
  echo "$name: exit $rc, $(($(date +%s) - t0)) s wall (log: $root/work/$name.log)"
  tail -n 5 "$root/work/$name.log" | sed 's/^/    /'
  return $rc
}

rc=0
run_timed readme-main "bash tools/setup.sh && cmake -S . -B build && cmake --build build -j && ./build/launcher/tlm run jobs/demo.yaml" || rc=1
run_timed readme-tests "bash .ci/run" || rc=1
echo "fresh chroot ($root, $(chroot "$root" dpkg-query -W -f='.\n' | wc -l) packages after set-up): $([ $rc -eq 0 ] && echo PASS || echo FAIL)"
exit $rc
