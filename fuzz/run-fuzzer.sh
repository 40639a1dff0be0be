#!/usr/bin/env bash
# Runs the libFuzzer target moe-fuzz for a given time.
#
#   fuzz/run-fuzzer.sh [SECONDS] [BUILD_DIR] [extra libFuzzer flags...]
#
# Builds it first if needed (BUILD_DIR, default build-fuzz: configured with
# clang-22 and -DMOE_BUILD_FUZZERS=ON). Seeds: every .mlir under test/ and
# examples/; the growing corpus is BUILD_DIR/fuzz-corpus, crashes land in
# BUILD_DIR/fuzz-artifacts. Runs nice'd on one core.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
build="${2:-$src/build-fuzz}"
shift $(( $# > 2 ? 2 : $# ))
if [[ ! -f "$build/build.ninja" ]]; then
  launcher=()
  command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S "$src" -B "$build" "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DMOE_BUILD_FUZZERS=ON -DMOE_BUILD_TESTS=OFF \
    -DMOE_ENABLE_CUDA_RUNTIME=OFF \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir
fi
nice -n 10 ninja -C "$build" -j "${MOE_FUZZ_JOBS:-1}" moe-fuzz
seeds="$build/fuzz-seeds"
rm -rf "$seeds" && mkdir -p "$seeds" "$build/fuzz-corpus" "$build/fuzz-artifacts"
# Every .mlir file, and each of its -split-input-file pieces ("// -----"),
# is a seed (pieces keep seeds under -max_len and make most of them valid).
python3 - "$src" "$seeds" <<'PY'
import os, re, sys
src, out = sys.argv[1], sys.argv[2]
n = 0
for root in ("test", "examples"):
    for d, _, files in sorted(os.walk(os.path.join(src, root))):
        for f in sorted(files):
            if not f.endswith(".mlir"):
                continue
            text = open(os.path.join(d, f), encoding="utf-8", errors="replace").read()
            for piece in [text] + re.split(r"(?m)^// -----\s*$", text):
                if piece.strip():
                    open(os.path.join(out, "%05d-%s" % (n, f)), "w").write(piece)
                    n += 1
print("fuzz seeds:", n)
PY
# One input: ASAN_OPTIONS keep reports short; UBSan stops at the first report.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec nice -n 10 "$build/bin/moe-fuzz" "$build/fuzz-corpus" "$seeds" \
  -dict="$src/fuzz/moe.dict" -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
  -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$build/fuzz-artifacts/" "$@"
