// A fused layer of bf16 rows and NVFP4 weights (e2m1 with an e4m3 scale per
// 1x16 block, under an f32 scale per expert): the bf16 x MXFP4 fused kernel
// (fused-moe-mxfp4.mlir) with moek.dequant_fp4 {nvfp4} (two 16-value scales
// a 32-value block), and each GEMM's accumulator times its expert's global
// scale (moek.acc_scale) before the epilogue: GEMM1's before the activation,
// GEMM2's before the rows of y are stored. The kernel takes the two global
// scales (operands 7 and 8) after the two scale tensors.
// RUN: moe-opt %s --convert-moe-to-moek | FileCheck %s
// RUN: moe-opt %s --convert-moe-to-moek | moe-opt -o /dev/null
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_90a" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.sm90a.ptx
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_100a" --moek-to-nvvm-pipeline=chip=sm_100a | moe-translate --moe-to-ptx --chip=sm_100a -o %t.sm100a.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.sm90a.ptx
// RUN: FileCheck %s --check-prefix=PTX100 < %t.sm100a.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.sm90a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.sm100a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// The per-rank form of an expert-parallel NVFP4 layer is not lowered (the
// bf16 x FP4 kernel is single-GPU): a remark says so.
// RUN: sed 's/\(w2_quant = #moe.quant<nvfp4, block = \[1, 16\]>\)}/\1, placement = #moe.placement<ranks = 2, experts_per_rank = 4>}/' %s | moe-opt --moe-expert-parallel --convert-moe-to-moek -o /dev/null 2>&1 | FileCheck %s --check-prefix=EP

// CHECK-LABEL: func.func @fm
// CHECK:         moek.launch @moe_kernels::@fm_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6, %arg7, %arg8)
// CHECK:       llvm.func @fm_fused_moe_0(
// CHECK-SAME:    {kind = "ptr", operand = 5 : i64}, {kind = "ptr", operand = 6 : i64}, {kind = "ptr", operand = 7 : i64}, {kind = "ptr", operand = 8 : i64}, {kind = "ptr", result = 0 : i64}
// CHECK:         moek.ring_alloc consumers(256) : !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>
// CHECK:         moek.smem_alloc {bytes = 16384 : i64} : !llvm.ptr<3>
// CHECK:         moek.warp_role "consumer"
// GEMM1: w13's e4m3 scales (arg 7, [E * 2I, H / 16]), then w13's global
// scale of the tile's expert (arg 9) on the accumulator, then the activation.
// A tile of at most 16 rows first (sm_90a): each warpgroup's 128 weight
// rows from registers (moek.mma_fp4_bf16 {nvfp4}, four e4m3 scales a row
// and slice) times the first 16 token rows, transposed back through the
// 16 KB buffer into a 64 x 256 accumulator.
// CHECK:           moek.load_fp4_slice_scales %arg7[%{{.+}}, %{{.+}}] {nvfp4, scale_cols = 32 : i64, scale_rows = 4096 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK:           moek.mma_fp4_bf16 %{{.+}}[%{{.+}}] packed(2, %{{.+}}) b(0) acc(%{{.+}}, %{{.+}}) scales(%{{.+}}) {nvfp4}
// Each stage's MMAs waited for before the next is expanded (the A
// registers are read asynchronously):
// CHECK:           moek.mma_wait %{{.+}} pending(0) : !moek.acc<64x16xf32>
// After the loop the products times 2^9 (NVFP4's products are 2^-9 times
// the exact ones):
// CHECK:           %[[TWO9:.+]] = arith.constant 5.120000e+02 : f32
// CHECK:           moek.acc_scale %{{.+}}, %[[TWO9]] : !moek.acc<64x16xf32>
// CHECK:           moek.acc_store_transposed
// CHECK:           moek.barrier_sync id(10) threads(256)
// CHECK:           moek.acc_load_smem %{{.+}} {rows = 16 : i64} : !llvm.ptr<3> -> !moek.acc<64x256xf32>
// Larger tiles: the expansion into shared memory.
// CHECK:           moek.dequant_fp4 %{{.+}} from 2 to 1 scales(%arg7[%{{.+}}, %{{.+}}]) upper(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, nvfp4, scale_cols = 32 : i64, scale_rows = 4096 : i64, threads = 256 : i64}
// CHECK:           %[[E1:.+]] = arith.index_cast %expert : index to i64
// CHECK-NEXT:      %[[P1:.+]] = llvm.getelementptr %arg9[%[[E1]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, f32
// CHECK-NEXT:      %[[G1:.+]] = llvm.load %[[P1]] {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK-NEXT:      %[[S1:.+]] = moek.acc_scale %{{.+}}, %[[G1]] : !moek.acc<64x256xf32>
// CHECK:           moek.store_act %[[S1]],
// GEMM2: w2's (arg 8, [E * H, I / 16]) and global scale (arg 10).
// CHECK:           moek.dequant_fp4 %{{.+}} from 2 to 1 scales(%arg8[%{{.+}}, %{{.+}}]) upper(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, nvfp4, scale_cols = 16 : i64, scale_rows = 4096 : i64, threads = 256 : i64}
// CHECK:           %[[E2:.+]] = arith.index_cast %expert : index to i64
// CHECK-NEXT:      %[[P2:.+]] = llvm.getelementptr %arg10[%[[E2]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, f32
// CHECK-NEXT:      %[[G2:.+]] = llvm.load %[[P2]] {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK-NEXT:      %[[S2:.+]] = moek.acc_scale %{{.+}}, %[[G2]] : !moek.acc<64x256xf32>
// CHECK:           moek.store_acc %[[S2]],

// The expansion: 16-bit loads of two e4m3 scales, times 2^126 and the
// scale, the proxy fence and barrier 7; bf16 MMAs (wgmma on sm_90a,
// tcgen05 on sm_100a).
// PTX:     ld.global.b16
// PTX:     mul.rn.bf16x2
// PTX:     fence.proxy.async.shared::cta
// PTX-NEXT: barrier.sync 7, 256
// PTX:     wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16
// PTX100:  tcgen05.mma.cta_group::1.kind::f16
// PTX100-NOT: wgmma

// PTXAS: 0 bytes spill stores, 0 bytes spill loads

// EP: remark: convert-moe-to-moek: not lowered: the bf16 x NVFP4 fused kernel is single-GPU (no expert parallelism yet)
func.func @fm(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>,
              %w: tensor<?x2xf32>, %w13: tensor<8x512x512xf4E2M1FN>,
              %w2: tensor<8x512x256xf4E2M1FN>,
              %w13s: tensor<8x512x32xf8E4M3FN>,
              %w2s: tensor<8x512x16xf8E4M3FN>, %w13g: tensor<8xf32>,
              %w2g: tensor<8xf32>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_global_scale(%w13g) w2_global_scale(%w2g) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<nvfp4, block = [1, 16]>, w2_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xf4E2M1FN>, tensor<8x512x256xf4E2M1FN>, tensor<8x512x32xf8E4M3FN>, tensor<8x512x16xf8E4M3FN>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
