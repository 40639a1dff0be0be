// MXFP8 rows by MXFP8 weights (e4m3 with a UE8M0 scale per 1x32 block on
// both sides, gpt-oss-120b-fp8's expert matmuls): the bf16 kernel with two
// more tiles per stage. The producer copies each 64-wide K slice of the
// rows into tile 3 and of the weights into tile 2 (e4m3, 64 bytes a row,
// unswizzled); both MMA warpgroups wait for the stage and expand tile 3
// into tile 0 (the rows' scales from the tile's first row, rows past the
// expert's end reading its last row's) and tile 2 into tile 1 (bf16, 128B
// swizzle) with moek.dequant_mxfp8, named barrier 7 over their 256 threads
// after each, then multiply as the bf16 kernel does. A warpgroup without
// rows in a tile still expands its share. No 256-row variant (four such
// stages do not fit in shared memory).
// RUN: moe-opt %s --convert-moe-to-moek | FileCheck %s
// RUN: moe-opt %s --convert-moe-to-moek | moe-opt -o /dev/null
// RUN: not moe-opt %s --convert-moe-to-moek="tile-m=256" 2>&1 | FileCheck %s --check-prefix=TILEERR
// RUN: not moe-opt %s --convert-moe-to-moek="schedule=pingpong" 2>&1 | FileCheck %s --check-prefix=PINGERR
// The PTX for both chips, through ptxas with no spill.
// RUN: moe-opt %s --moe-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.sm90a.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.sm90a.ptx
// RUN: moe-opt %s --moe-to-nvvm-pipeline=chip=sm_100a | moe-translate --moe-to-ptx --chip=sm_100a -o %t.sm100a.ptx
// RUN: FileCheck %s --check-prefix=PTX100 < %t.sm100a.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.sm90a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.sm100a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: func.func @mxfp8
// CHECK:         moek.launch @moe_kernels::@mxfp8_expert_matmul_0(%arg0, %arg1, %arg2, %arg3, %arg4)
// CHECK:       llvm.func @mxfp8_expert_matmul_0(
// CHECK-SAME:    [{box = [64, 64], inner = 256 : i64, kind = "tma", operand = 0 : i64, swizzle = 0 : i64, view = "[M, K]"}, {box = [64, 128], inner = 256 : i64, kind = "tma", operand = 1 : i64, rows = 2880 : i64, swizzle = 0 : i64, view = "[E*N, K]"}, {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 3 : i64}, {kind = "ptr", operand = 4 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}]
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>, memref<128x64xf8E4M3FN, 3>]>
// CHECK:         moek.warp_role "producer"
// CHECK:           moek.tma_load %arg0[%{{.+}}, %{{.+}}] -> %[[RING]][%{{.+}}] tile 3
// CHECK:           moek.tma_load %arg1[%{{.+}}, %{{.+}}] -> %[[RING]][%{{.+}}] tile 2
// CHECK:         moek.warp_role "consumer"
// CHECK:           %{{[a-z_0-9]+}}, %[[ROW:[a-z_0-9]+]], %[[ROW_END:[a-z_0-9]+]], %{{[a-z_0-9]+}} = moek.grouped_tile
// CHECK:           moek.ring_wait %[[RING]]
// CHECK:           moek.dequant_mxfp8 %[[RING]][%{{.+}}] from 3 to 0 scales(%arg3[%[[ROW]], %{{.+}}]) row_limit(%[[ROW_END]]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, threads = 256 : i64}
// CHECK-NEXT:      %[[WROWS:.+]] = arith.constant 2880 : index
// CHECK-NEXT:      moek.dequant_mxfp8 %[[RING]][%{{.+}}] from 2 to 1 scales(%arg4[%{{.+}}, %{{.+}}]) row_limit(%[[WROWS]]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, threads = 256 : i64}
// The last column tile (N = 360: 104 columns) multiplies only those
// (narrow-tiles), the others the whole 128.
// CHECK:           moek.mma %[[RING]][%{{.+}}] a(0, %{{.+}}) b(1) acc(%{{.+}}) {cols = 104 : i64}
// CHECK:           moek.mma %[[RING]][%{{.+}}] a(0, %{{.+}}) b(1) acc(%{{[^)]+}}) :
// The pass loop of a warpgroup without rows expands its share too.
// CHECK:           moek.ring_wait %[[RING]]
// CHECK-NEXT:      arith.constant 2 : index
// CHECK-NEXT:      arith.muli
// CHECK-NEXT:      moek.dequant_mxfp8 %[[RING]]{{.+}} from 3 to 0
// CHECK-NEXT:      arith.constant 2880 : index
// CHECK-NEXT:      moek.dequant_mxfp8 %[[RING]]{{.+}} from 2 to 1
// CHECK-NEXT:      moek.ring_release
// CHECK-NOT:   llvm.func @mxfp8_expert_matmul_0_m256(

// TILEERR: error: convert-moe-to-moek: kernels of MXFP8 operands use 128-row tiles
// PINGERR: error: convert-moe-to-moek: kernels of FP4 weights or MXFP8 operands use 128-wide tiles and the cooperative schedule

// Expanding two e4m3 values: cvt to f16x2 (exact), to f32, times the
// block's scale, to bf16x2; each 16-byte chunk stored in the 128B swizzle;
// the tiles for the tensor cores after a proxy fence and the 256-thread
// barrier, twice a stage (rows, then weights).
// PTX:     ld.global.b8
// PTX:     cvt.rn.f16x2.e4m3x2
// PTX:     cvt.f32.f16
// PTX:     mul.rn.f32
// PTX:     cvt.rn.bf16x2.f32
// PTX:     st.shared.v4.b32
// PTX:     fence.proxy.async.shared::cta
// PTX-NEXT: barrier.sync 7, 256
// PTX:     fence.proxy.async.shared::cta
// PTX-NEXT: barrier.sync 7, 256
// PTX:     wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// PTX100:  cvt.rn.f16x2.e4m3x2
// PTX100:  tcgen05.mma.cta_group::1.kind::f16
// PTX100-NOT: wgmma

// PTXAS: 0 bytes spill stores, 0 bytes spill loads
func.func @mxfp8(%x: tensor<?x256xf8E4M3FN>, %w: tensor<8x360x256xf8E4M3FN>, %offsets: tensor<9xi32>, %xs: tensor<?x8xf8E8M0FNU>, %ws: tensor<8x360x8xf8E8M0FNU>) -> tensor<?x360xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<mxfp8, block = [1, 32]>, w_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x256xf8E4M3FN>, tensor<8x360x256xf8E4M3FN>, tensor<9xi32>, tensor<?x8xf8E8M0FNU>, tensor<8x360x8xf8E8M0FNU>) -> tensor<?x360xbf16>
  return %y : tensor<?x360xbf16>
}
