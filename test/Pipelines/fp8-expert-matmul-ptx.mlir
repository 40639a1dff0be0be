// DeepSeek-V3's FP8 gate/up grouped matmul (e4m3 rows with 1x128 scales,
// e4m3 weights with 128x128 scales, bf16 out), from moe IR to PTX and a
// cubin, checked where no GPU is.
// RUN: moe-opt --moe-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s < %t.ptx
// RUN: FileCheck %s --check-prefix=PROMOTE < %t.ptx
// RUN: moe-translate --moe-to-manifest %t.nvvm.mlir | FileCheck %s --check-prefix=MANIFEST

// CHECK:     .entry dsv3_fp8_gate_up_expert_matmul_0(
// CHECK-DAG: setmaxnreg.inc.sync.aligned.u32 232
// CHECK-DAG: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// Four k32 steps per 128-wide K block, the first one overwriting the
// partial accumulator (scale-d = 0), the others adding to it.
// CHECK:     setp.ne.b32 p, 0, 0;
// CHECK-NEXT: wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3
// CHECK:     setp.ne.b32 p, 1, 0;
// CHECK-NEXT: wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3
// CHECK:     setp.ne.b32 p, 1, 0;
// CHECK-NEXT: wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3
// CHECK:     setp.ne.b32 p, 1, 0;
// CHECK-NEXT: wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3
// CHECK:     wgmma.commit_group.sync.aligned
// The promotion (laid out before the MMAs in the loop's blocks): the
// block's scales multiplied, then one FMA per element.
// PROMOTE:     wgmma.wait_group.sync.aligned 0
// PROMOTE-NEXT: mbarrier.arrive.shared.b64
// PROMOTE-NEXT: mul.rn.f32
// PROMOTE-NEXT: mul.rn.f32
// PROMOTE-COUNT-64: fma.rn.f32
// PROMOTE:     cvt.rn.bf16x2.f32

// The manifest: fp8 boxes 128 elements (128 bytes) wide, then the scales.
// MANIFEST:      "params": [
// MANIFEST-NEXT:   {
// MANIFEST-NEXT:     "kind": "tma",
// MANIFEST-NEXT:     "tma": "arg0_desc"
// MANIFEST:          "tma": "arg1_desc"
// MANIFEST:          "kind": "tensor",
// MANIFEST-NEXT:     "tensor": "arg2"
// MANIFEST:          "tensor": "arg3"
// MANIFEST:          "tensor": "arg4"
// MANIFEST:          "tensor": "result0"
// MANIFEST:          "kind": "workspace"
// MANIFEST:      "tensors": [
// MANIFEST:          "dtype": "f8E4M3FN",
// MANIFEST:          "dtype": "f8E4M3FN",
// MANIFEST:      "tma": [
// MANIFEST-NEXT:   {
// MANIFEST-NEXT:     "box": [
// MANIFEST-NEXT:       64,
// MANIFEST-NEXT:       128
// MANIFEST-NEXT:     ],

// ptxas accepts it with no spills and keeps the wgmmas asynchronous.
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS: 0 bytes spill stores, 0 bytes spill loads

func.func @dsv3_fp8_gate_up(%x: tensor<?x7168xf8E4M3FN>, %w: tensor<256x4096x7168xf8E4M3FN>, %offsets: tensor<257xi32>, %xs: tensor<?x56xf32>, %ws: tensor<256x32x56xf32>) -> tensor<?x4096xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x7168xf8E4M3FN>, tensor<256x4096x7168xf8E4M3FN>, tensor<257xi32>, tensor<?x56xf32>, tensor<256x32x56xf32>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}
