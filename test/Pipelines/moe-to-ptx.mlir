// DeepSeek-V3's gate/up grouped matmul, from moe IR to PTX and a cubin: the
// whole code generation path, checked where no GPU is.
// RUN: moe-opt --moe-to-nvvm-pipeline=chip=sm_90a %examples/deepseek-v3-expert-matmul.mlir -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a %t.ptx -o %t.sm90a.cubin %}
// RUN: %if ptxas %{ moe-translate --moe-to-cubin --chip=sm_90a %t.nvvm.mlir -o %t.cubin %}

// CHECK:     .version 8.8
// CHECK:     .target sm_90a
// CHECK:     .entry deepseek_v3_gate_up_expert_matmul_0(
// CHECK-DAG: setmaxnreg.dec.sync.aligned.u32 40
// CHECK-DAG: setmaxnreg.inc.sync.aligned.u32 232
// CHECK-DAG: mbarrier.init.shared.b64
// CHECK-DAG: mbarrier.try_wait.parity.shared.b64
// CHECK-DAG: mbarrier.arrive.expect_tx.shared.b64
// CHECK-DAG: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// CHECK-DAG: wgmma.fence.sync.aligned
// CHECK-DAG: wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16
// CHECK-DAG: wgmma.commit_group.sync.aligned
// CHECK-DAG: wgmma.wait_group.sync.aligned 0
// CHECK-DAG: cvt.rn.bf16x2.f32
// The 192-row-tile variant's loads carry L2 eviction hints.
// CHECK-DAG: .entry deepseek_v3_gate_up_expert_matmul_0_m192(
// CHECK-DAG: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.L2::cache_hint

// ptxas accepts the kernel with no spills and keeps the wgmmas asynchronous
// (it reports serialized ones as "info: (C75xx) Potential Performance Loss").
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.v.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS: 0 bytes spill stores, 0 bytes spill loads

// The transposed 192-row variant (transposed-wide=true): wgmma's N is the
// tile's tokens, 16 to 192; the accumulator goes by stmatrix.trans into the
// staging, out by TMA stores or, for a block's last rows, 16-byte stores.
// ptxas: no spill, no serialized wgmma.
// RUN: moe-opt --convert-moe-to-moek=transposed-wide=true --moek-to-nvvm-pipeline=chip=sm_90a %examples/deepseek-v3-expert-matmul.mlir -o %t.tw.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.tw.nvvm.mlir -o %t.tw.ptx
// RUN: FileCheck %s --check-prefix=TRANS < %t.tw.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.tw.ptx -o %t.tw.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// TRANS:     .entry deepseek_v3_gate_up_expert_matmul_0_m192(
// TRANS-DAG: wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16
// TRANS-DAG: wgmma.mma_async.sync.aligned.m64n96k16.f32.bf16.bf16
// TRANS-DAG: wgmma.mma_async.sync.aligned.m64n192k16.f32.bf16.bf16
// TRANS-DAG: stmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// TRANS-DAG: cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group
// TRANS-DAG: st.global.v4.b32

// The 256-row tile (two 64x128 accumulators per MMA warpgroup, MMAs skipped
// per accumulator): m64n128k16 wgmmas, and ptxas keeps them asynchronous
// (no serialization warning) with no spills.
// RUN: moe-opt --convert-moe-to-moek=tile-m=256 --moek-to-nvvm-pipeline=chip=sm_90a %examples/deepseek-v3-expert-matmul.mlir -o %t.m256.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.m256.nvvm.mlir -o %t.m256.ptx
// RUN: FileCheck %s --check-prefix=M256 < %t.m256.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.m256.ptx -o %t.m256.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// M256: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// M256-NOT: m64n256k16

// The pingpong schedule: the two MMA warpgroups take turns on named
// barriers 1 and 2; ptxas accepts it with no spills and no warning.
// RUN: moe-opt --convert-moe-to-moek=schedule=pingpong --moek-to-nvvm-pipeline=chip=sm_90a %examples/deepseek-v3-expert-matmul.mlir -o %t.pp.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.pp.nvvm.mlir -o %t.pp.ptx
// RUN: FileCheck %s --check-prefix=PP < %t.pp.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.pp.ptx -o %t.pp.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PP-DAG: barrier.sync {{.*}}1, 256;
// PP-DAG: barrier.sync {{.*}}2, 256;
// PP-DAG: barrier.arrive 1, 256;
// PP-DAG: barrier.arrive 2, 256;
// PP-DAG: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16

// A short K loop (qwen3's down GEMM: K = 768, 12 slices) with two
// accumulators per warpgroup, in both schedules that have them.
// RUN: moe-opt --convert-moe-to-moek=schedule=pingpong --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.short-pp.nvvm.mlir
// RUN: %if ptxas %{ moe-translate --moe-to-cubin --chip=sm_90a %t.short-pp.nvvm.mlir -o %t.short-pp.cubin 2>&1 | FileCheck %s --check-prefix=QUIET --allow-empty %}
// RUN: moe-opt --convert-moe-to-moek=tile-m=256 --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.short-m256.nvvm.mlir
// RUN: %if ptxas %{ moe-translate --moe-to-cubin --chip=sm_90a %t.short-m256.nvvm.mlir -o %t.short-m256.cubin 2>&1 | FileCheck %s --check-prefix=QUIET --allow-empty %}
// QUIET-NOT: Performance Loss
func.func @qwen3_down(%x: tensor<?x768xbf16>, %w: tensor<128x2048x768xbf16>, %o: tensor<129xi32>) -> tensor<?x2048xbf16> {
  %y = moe.expert_matmul %x, %w, %o : (tensor<?x768xbf16>, tensor<128x2048x768xbf16>, tensor<129xi32>) -> tensor<?x2048xbf16>
  return %y : tensor<?x2048xbf16>
}
