#!/usr/bin/env bash
# Installs what is missing (Debian packages) and builds the project into
# build/ (or $MOE_BUILD_DIR). Safe to run again: it only does what is needed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_BUILD_DIR:-$root/build}"

packages=(llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools libzstd-dev
          nlohmann-json3-dev libgtest-dev ninja-build cmake clang-22 lld-22
          ccache python3 libclang-rt-22-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
# Two jobs: each MLIR translation unit takes up to 1.7 GB and the machines
# have 2 cores.
ninja -C "$build" -j "${MOE_JOBS:-2}" all mlir-doc
