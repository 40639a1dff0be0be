// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// A block-scaled FP8 K step: the partial product of one 128-wide K block
// (zero_init), the rows' scales, and the promotion into the main accumulator.
// CHECK-LABEL: func.func @fp8_block_step
// CHECK:         %[[P:.+]] = moek.mma %{{.+}}[%{{.+}}] a(0, %{{.+}}) b(1) acc(%{{.+}}) {zero_init} : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>, !moek.acc<64x128xf32>
// CHECK:         %[[S:.+]] = moek.load_rows %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) {ld = 56 : i64} : !llvm.ptr<1> -> !moek.rows<64xf32>
// CHECK:         %[[W:.+]] = moek.mma_wait %[[P]] pending(0)
// CHECK:         moek.mma_promote %{{.+}}, %[[W]] scales(%[[S]], %{{.+}}) : !moek.acc<64x128xf32>, !moek.rows<64xf32>
func.func @fp8_block_step(%ring: !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>, %i: index, %row: index, %kb: index, %end: index, %xs: !llvm.ptr<1>, %ws: f32, %acc: !moek.acc<64x128xf32>, %part: !moek.acc<64x128xf32>) -> !moek.acc<64x128xf32> {
  %c0 = arith.constant 0 : index
  %p = moek.mma %ring[%i] a(0, %c0) b(1) acc(%part) {zero_init} : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>, !moek.acc<64x128xf32>
  %s = moek.load_rows %xs[%row, %kb] row_limit(%end) {ld = 56 : i64} : !llvm.ptr<1> -> !moek.rows<64xf32>
  %w = moek.mma_wait %p pending(0) : !moek.acc<64x128xf32>
  %a = moek.mma_promote %acc, %w scales(%s, %ws) : !moek.acc<64x128xf32>, !moek.rows<64xf32>
  return %a : !moek.acc<64x128xf32>
}
