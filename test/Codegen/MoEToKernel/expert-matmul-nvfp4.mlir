// bf16 rows by NVFP4 weights (e2m1, an e4m3 scale per 1x16 block, an f32
// scale per expert): the MXFP4 kernel (expert-matmul-mxfp4.mlir) with
// moek.dequant_fp4's `nvfp4` form (two e4m3 scales a 32-value block, K / 16
// scale columns, the slice's first at 4 per slice), and the expert's
// global scale (operand 4) multiplying each accumulator (moek.acc_scale)
// before the store.
// RUN: moe-opt %s --convert-moe-to-moek | FileCheck %s
// The generated kernel parses back.
// RUN: moe-opt %s --convert-moe-to-moek | moe-opt -o /dev/null
// RUN: not moe-opt %s --convert-moe-to-moek="schedule=pingpong" 2>&1 | FileCheck %s --check-prefix=PINGERR
// The PTX for both chips, through ptxas with no spill.
// RUN: moe-opt %s --moe-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.sm90a.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.sm90a.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.sm90a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: %if ptxas %{ moe-opt %s --moe-to-nvvm-pipeline=chip=sm_100a | moe-translate --moe-to-ptx --chip=sm_100a -o %t.sm100a.ptx && %ptxas -arch=sm_100a -v %t.sm100a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: func.func @nvfp4
// CHECK:         moek.launch @moe_kernels::@nvfp4_expert_matmul_0(%arg0, %arg1, %arg2, %arg3, %arg4)
// CHECK:       llvm.func @nvfp4_expert_matmul_0(
// CHECK-SAME:    {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 3 : i64}, {kind = "ptr", operand = 4 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}]
// CHECK:         moek.warp_role "consumer"
// CHECK:           %[[C4:.+]] = arith.constant 4 : index
// CHECK:           %[[KB:.+]] = arith.muli %{{.+}}, %[[C4]] : index
// CHECK:           moek.dequant_fp4 %{{.+}}[%{{.+}}] from 2 to 1 scales(%arg3[%{{.+}}, %[[KB]]]) {barrier = 7 : i64, first_thread = 128 : i64, nvfp4, scale_cols = 16 : i64, scale_rows = 2048 : i64, threads = 256 : i64}
// CHECK:           moek.mma
// The expert's global scale, then each accumulator times it, then stored.
// CHECK:           %[[G:.+]] = llvm.load %{{.+}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK:           %[[A:.+]] = moek.acc_scale %{{.+}}, %[[G]] : !moek.acc<64x128xf32>
// CHECK:           moek.store_acc %[[A]]

// PINGERR: error: convert-moe-to-moek: kernels of FP4 weights or MXFP8 operands use 128-wide tiles and the cooperative schedule

// Two scales a 32-value block in one 16-bit load; an e4m3 scale to bf16 as
// its bits at 4-15 times 2^120 (0x7B80 a lane: 2072017792 for the pair),
// an e4m3 NaN (0x7F) as a bf16 NaN pair (2143322048); the values times the
// scales two at a time; the tile published after a proxy fence and the
// 256-thread barrier; the global scale after the MMAs.
// PTX:     ld.global.b16
// PTX:     selp.b32 {{%r[0-9]+}}, 2143322048,
// PTX:     mov.b32 [[TWO120:%r[0-9]+]], 2072017792;
// PTX:     mul.rn.bf16x2 {{%r[0-9]+}}, {{%r[0-9]+}}, [[TWO120]];
// PTX:     fence.proxy.async.shared::cta
// PTX:     barrier.sync 7, 256
// PTX:     wgmma.mma_async

// PTXAS: 0 bytes spill stores, 0 bytes spill loads
func.func @nvfp4(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %offsets: tensor<9xi32>, %ws: tensor<8x256x16xf8E4M3FN>, %wg: tensor<8xf32>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets w_scales(%ws) w_global_scale(%wg) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x16xf8E4M3FN>, tensor<8xf32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
