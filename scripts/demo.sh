#!/usr/bin/env bash
# The main job, on a bundled example: sets up and builds, runs the graph
# pipeline on a real model's MoE layer (default: DeepSeek-V3 with FP8
# weights and activations), then evaluates the layer before and after fusion
# with the CPU reference evaluator at a small token count, compiles the
# layer's gate/up grouped matmul to an sm_90a kernel and, where there is a
# GPU, runs it through the runtime against the CPU reference; prints a short
# summary.
#
#   scripts/demo.sh [examples/<model>-<variant>.mlir] [tokens]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_BUILD_DIR:-$root/build}"
example="${1:-$root/examples/deepseek-v3-fp8.mlir}"
tokens="${2:-8}"
"$root/scripts/setup.sh" > "$build.setup.log" 2>&1 || {
  cat "$build.setup.log"; exit 1; }
bin="$build/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== $(basename "$example"): the unfused layer"
ops() { grep -oE '(= |^ *)moe\.[a-z_]+' "$1" | grep -oE 'moe\.[a-z_]+' | sort | uniq -c | sed 's/^ */   /'; }
ops "$example"

echo "== moe-opt --moe-graph-optimization-pipeline"
"$bin/moe-opt" --moe-graph-optimization-pipeline "$example" -o "$work/fused.mlir" 2> "$work/remarks.txt"
ops "$work/fused.mlir"
sed 's/^/   /' "$work/remarks.txt"

echo "== the fused layer (moe-translate --moe-to-layer-json)"
"$bin/moe-translate" --moe-to-layer-json "$work/fused.mlir" |
  grep -E '"(E|H|I|K|activation|gate_up_layout|router_weight|gemm1_type|act_type|gemm2_type|scheme)"' |
  tr -d ' ,' | paste -sd' ' | sed 's/^/   /'

echo "== CPU reference evaluator, T = $tokens, seeded random inputs"
"$bin/moe-run" "$example" --tokens="$tokens" --seed=1 --print-hash | tee "$work/before.txt" | sed 's/^/   unfused: /'
"$bin/moe-run" "$work/fused.mlir" --tokens="$tokens" --seed=1 --print-hash | tee "$work/after.txt" | sed 's/^/   fused:   /'
if diff <(grep '^result' "$work/before.txt") <(grep '^result' "$work/after.txt") > /dev/null; then
  echo "== fusion preserved every output bit: yes"
else
  echo "== fusion preserved every output bit: NO"; exit 1
fi
echo "== code generation: DeepSeek-V3's gate/up grouped matmul -> sm_90a artifact"
gg="$root/examples/deepseek-v3-expert-matmul.mlir"
"$bin/moe-opt" --moe-to-nvvm-pipeline=chip=sm_90a "$gg" -o "$work/gg.nvvm.mlir"
if ! "$bin/moe-translate" --moe-to-manifest --artifact-dir="$work/artifact" \
     "$work/gg.nvvm.mlir" -o /dev/null 2> "$work/ptxas.txt"; then
  "$bin/moe-translate" --moe-to-ptx "$work/gg.nvvm.mlir" -o "$work/gg.ptx"
  echo "   PTX written ($(wc -c < "$work/gg.ptx") bytes); no cubin: $(head -1 "$work/ptxas.txt")"
  echo "== no cubin (is ptxas installed?): the kernel was not run"
  exit 0
fi
ls -l "$work/artifact" | awk 'NR > 1 { printf "   %8d  %s\n", $5, $9 }'
grep -oE '"(kernel|arch|dynamic_smem_bytes)": [^,]*' "$work/artifact/manifest.json" | paste -sd' ' | sed 's/^/   /'

echo "== code generation: the fused layer's experts (dispatch, GEMM1, activation, GEMM2, combine) -> one sm_90a kernel (with FP8 128-row variants, which the runtime launches from 64 rows an expert: the first that ptxas compiled without a spill), through the JIT cache (moe-jit)"
if "$bin/moe-jit" "$work/fused.mlir" --cache-dir="$work/cache" > "$work/jit.txt" 2>&1; then
  grep -E '^(kernel|cache|warning):' "$work/jit.txt" | sed 's/^/   /'
  grep -ohE '"kernel": "[a-z0-9_]*_m128[a-z0-9]*"' "$work"/cache/*/manifest.json 2>/dev/null | sed 's/^/   variant: /'
  "$bin/moe-jit" "$work/fused.mlir" --cache-dir="$work/cache" | grep '^cache:' | sed 's/^/   again: /'
else
  sed 's/^/   not compiled: /' "$work/jit.txt" | head -3
fi

gpu_tokens=512
echo "== the grouped matmul on the GPU against the CPU reference (moe-run --gpu, T = $gpu_tokens)"
if ! "$bin/moe-run" "$gg" --tokens="$gpu_tokens" --seed=1 --gpu="$work/artifact" > "$work/gpu.txt" 2>&1; then
  sed 's/^/   /' "$work/gpu.txt"
  echo "== moe-run --gpu failed (above)"; exit 1
fi
grep '^gpu:' "$work/gpu.txt" | sed 's/^/   /'
if grep -q '^gpu: not run: moe-run was built without' "$work/gpu.txt"; then
  echo "== no CUDA runtime in this build (see the gpu: line): the kernel was compiled, not run"
elif grep -q '^gpu: not run' "$work/gpu.txt"; then
  echo "== no GPU here: the kernel was compiled, not run"
else
  echo "== the kernel ran on the GPU and matches the reference"
fi
