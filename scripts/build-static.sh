#!/usr/bin/env bash
# Builds self-contained tools (LLVM and MLIR linked statically, static
# libstdc++; they need only glibc >= 2.36) into build-static/, for machines
# without LLVM, such as the GPU machines: copy build-static/bin/moe-run there.
# With cuda.h at configure time (the CUDA toolkit, or -DMOE_CUDA_INCLUDE_DIR)
# moe-run includes the runtime, so `moe-run --gpu=<artifact>` runs kernels
# there; it needs only the NVIDIA driver (libcuda.so.1, loaded at run time).
#   scripts/build-static.sh [targets...]    (default: moe-run)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_STATIC_BUILD_DIR:-$root/build-static}"
"$root/scripts/setup.sh" > /dev/null # the packages
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DMOE_STATIC=ON -DMOE_BUILD_TESTS=OFF
fi
ninja -C "$build" -j "${MOE_JOBS:-2}" "${@:-moe-run}"
if ninja -C "$build" -t query lib/libmoe_cuda_runtime_static.a > /dev/null 2>&1; then
  echo "build-static: moe-run includes the CUDA runtime (moe-run --gpu works)"
else
  echo "build-static: cuda.h was not found, so moe-run --gpu only says 'not run'" \
       "(reconfigure $build with -DMOE_CUDA_INCLUDE_DIR=<dir with cuda.h>)"
fi
