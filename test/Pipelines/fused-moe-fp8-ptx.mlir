// DeepSeek-V3's FP8 layer (examples/deepseek-v3-fp8.mlir: the experts part
// fused by the graph pipeline), from moe IR to PTX: one kernel with the
// quantizing dispatch, both block-scaled GEMMs, SwiGLU with the 1x128
// requantization, and the combine, checked where no GPU is.
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-fp8.mlir | moe-opt --moe-to-nvvm-pipeline=chip=sm_90a -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s < %t.ptx
// RUN: moe-translate --moe-to-manifest %t.nvvm.mlir | FileCheck %s --check-prefix=MANIFEST

// CHECK:     .entry deepseek_v3_fp8_fused_moe_0(
// The dispatch's block amax over a half-warp, and both quantizations.
// CHECK-DAG: shfl.sync.bfly.b32 {{.*}}, 8, 31, -1;
// CHECK-DAG: cvt.rn.satfinite.e4m3x2.f32
// The block-scaled MMAs and their promotion.
// CHECK-DAG: wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3
// CHECK-DAG: fma.rn.f32
// The up projection's accumulator handed over (named barriers 5 and 6),
// and the warpgroups' turns (11 and 12).
// CHECK-DAG: barrier.sync 5, 256;
// CHECK-DAG: barrier.sync 6, 256;
// CHECK-DAG: barrier.arrive 11, 256;
// CHECK-DAG: barrier.sync 12, 256;
// The activation's row amax over a quad.
// CHECK-DAG: shfl.sync.bfly.b32 {{.*}}, 2, 31, -1;

// The dispatch takes a token at a time (top_k = 8): each quantized piece
// of its row (two e4m3 words) is stored into all 8 of its rows, so the
// same register pair is stored 8 times, in both kernels.
// RUN: awk '/[.]entry/ {n = $NF} /st[.]global[.]v2[.]b32/ {i = index($0, "{"); c[n " " substr($0, i)]++; if (c[n " " substr($0, i)] > m[n]) m[n] = c[n " " substr($0, i)]} END {for (k in m) print k, "most stores of one pair:", m[k]}' %t.ptx | sort | FileCheck %s --check-prefix=TOKENS
// TOKENS: deepseek_v3_fp8_fused_moe_0( most stores of one pair: 8
// TOKENS: deepseek_v3_fp8_fused_moe_0_m128( most stores of one pair: 8
// Mixtral's FP8 layer (top_k = 2) keeps the slot walk: each slot's row
// quantized and stored on its own, eight 8-byte pieces a lane a step
// (st.global.v4.b16), none stored twice.
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/mixtral-8x7b-fp8.mlir | moe-opt --moe-to-nvvm-pipeline=chip=sm_90a -o %t.mixtral.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.mixtral.nvvm.mlir -o %t.mixtral.ptx
// RUN: awk '/[.]entry/ {n = $NF} /st[.]global[.]v4[.]b16/ {s[n]++} /st[.]global[.]v2[.]b32/ {p[n]++} END {for (k in s) print k, "piece stores", s[k], "pair stores", p[k] + 0}' %t.mixtral.ptx | sort | FileCheck %s --check-prefix=SLOTS
// SLOTS: mixtral_8x7b_fp8_fused_moe_0( piece stores 8 pair stores 0
// SLOTS: mixtral_8x7b_fp8_fused_moe_0_m128( piece stores 8 pair stores 0

// MANIFEST: "kernel": "deepseek_v3_fp8_fused_moe_0"
// MANIFEST: "dtype": "f8E4M3FN"

// ptxas accepts it with no spills and keeps the wgmmas asynchronous.
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS: 0 bytes spill stores, 0 bytes spill loads
