#!/usr/bin/env bash
# tools/gpu/prepare.sh -- run HERE (the build machine: Debian packages of tools/setup.sh,
# nvcc): makes the GPU kit, gpukit/tlm-gpukit.tar.gz (ignored by git; <= 60 MiB), that
# tools/gpu/check.sh unpacks on a GPU machine which has the CUDA toolkit (cuBLAS, NCCL)
# but none of the project's Debian packages and no registry (tools/gpu/README.md).
#   bash tools/gpu/prepare.sh            # then carry gpukit/ to the GPU machine
# (-O2, as CI builds it: gcc -O3 finds -Werror maybe-uninitialized noise in io/convert.)
# What is in it: a Release build for sm_80 + sm_90 (build-gpukit/) of tlm and the GPU
# test programs, and every shared library they load that is neither glibc's nor the
# CUDA toolkit's big ones (libcublas, libcublasLt, libnccl, the driver's libcuda), tlm's
# own libtlm_io_base.so and CUDA backend module among them: HDF5,
# libyaml, jansson, PCRE2, utf8proc, OpenBLAS, libgomp, Open MPI and their own needs,
# copied from this machine, plus libcudart. The executables find them through an
# $ORIGIN/../lib rpath (DT_RPATH, so the libraries' own needs resolve there too, except
# under a library with its own RUNPATH: check.sh also sets LD_LIBRARY_PATH).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
build=${TLM_GPUKIT_BUILD:-build-gpukit}
kit=gpukit
stage=$kit/stage
max_mib=60
jobs=${TLM_GPUKIT_JOBS:-2}
# The programs check.sh runs; the tests read tests/data from the repository it runs in.
programs=(launcher/tlm tests/test_ops_cuda tests/test_worker_cuda tests/test_comm_mpi)
# Not carried: glibc (every Linux has one; ours is older than the GPU image's), the C++
# runtime every image has, and the CUDA libraries the GPU image's toolkit brings (too big
# to carry: libcublasLt alone is 520 MiB).
skip_re='^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s|libcuda|libcublas|libcublasLt|libnccl|linux-vdso)\.so'

echo "gpukit: configuring $build (Release, CUDA sm_80;sm_90, \$ORIGIN rpath)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTLM_WERROR=ON -DTLM_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="80;90" -DCMAKE_SKIP_RPATH=ON -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
  "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath,\\\$ORIGIN/../lib -Wl,--disable-new-dtags" >/dev/null
targets=()
for p in "${programs[@]}"; do targets+=("$(basename "$p")"); done
echo "gpukit: building ${targets[*]} (-j$jobs; the CUDA objects take minutes)"
nice -n 10 cmake --build "$build" -j "$jobs" --target "${targets[@]}"

rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/lib"
for p in "${programs[@]}"; do cp "$build/$p" "$stage/bin/"; done
# tlm's own shared libraries: libtlm_io_base and the CUDA backend module that ops_cuda()
# dlopens (kernels/ops_cuda.c), which ldd of the programs does not show: cuBLAS is its need.
cp "$build"/lib/libtlm_*.so "$stage/lib/"
objects=("$stage"/bin/* "$stage"/lib/libtlm_*.so)
# Every library ldd resolves for them, by soname, minus the skipped ones.
declare -A seen=()
for exe in "${objects[@]}"; do
  while read -r name _ path _; do
    [[ "$path" == /* ]] || continue
    [[ "$name" =~ $skip_re ]] && continue
    [ -n "${seen[$name]:-}" ] && continue
    seen[$name]=1
    [ -e "$stage/lib/$name" ] || cp -L "$path" "$stage/lib/$name"
  done < <(LD_LIBRARY_PATH="$stage/lib" ldd "$exe" | grep '=>')
done
# Check: with the kit's lib/ first (check.sh puts it on LD_LIBRARY_PATH too: Debian's
# libmpi carries its own RUNPATH, which hides the executable's RPATH from its needs),
# nothing but the skipped glibc/CUDA libraries may come from elsewhere.
libdir=$(cd "$stage/lib" && pwd -P)
for exe in "${objects[@]}"; do
  bad=$(LD_LIBRARY_PATH=$libdir ldd "$exe" | awk '/=>/ {print $1, $3}' | { grep -Ev "$skip_re" || true; } |
    while read -r name path; do
      [ "$(dirname "$(realpath -m "$path")")" = "$libdir" ] || echo "$name $path"
    done)
  [ -z "$bad" ] || { echo "gpukit: $exe loads from outside the kit: $bad" >&2; exit 1; }
done
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -c . || true)
[ "${dirty:-0}" -gt 0 ] || dirty=""
{
  echo "commit $commit${dirty:+ (+$dirty modified files)}"
  echo "made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) ($(. /etc/os-release; echo "$PRETTY_NAME"), glibc $(ldd --version | head -1 | awk '{print $NF}'))"
  echo "nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), archs 80;90"
  echo "programs: ${targets[*]}"
  echo "libraries: $(cd "$stage/lib" && ls | paste -sd ' ')"
  echo "needs from the GPU image: $(for e in "${objects[@]}"; do LD_LIBRARY_PATH=$libdir ldd "$e"; done | awk '{print $1}' | grep -E '^lib(cublas|cublasLt|nccl|cuda)\.so' | sort -u | paste -sd ' ')"
} >"$stage/MANIFEST"
# gzip, not xz: every image has gzip (a bare Debian minbase has no xz)
tar -C "$stage" -cf - . | gzip -9 >"$kit/tlm-gpukit.tar.gz"
cp "$stage/MANIFEST" "$kit/MANIFEST"
mib=$(( $(stat -c %s "$kit/tlm-gpukit.tar.gz") / 1048576 ))
[ "$mib" -le "$max_mib" ] || { echo "gpukit: $kit/tlm-gpukit.tar.gz is $mib MiB > $max_mib" >&2; exit 1; }
rm -rf "$stage"
cat "$kit/MANIFEST"
echo "gpukit: $kit/tlm-gpukit.tar.gz, $mib MiB ($(du -sh "$kit" | cut -f1) with the manifest); carry gpukit/ and run tools/gpu/check.sh there"
