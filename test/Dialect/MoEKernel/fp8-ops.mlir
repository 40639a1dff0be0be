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

// The FP8 fused layer's ops: a quantizing dispatch, the up projection's
// accumulator handed over through shared memory, and the activation
// quantized per 1x128 block.
// CHECK-LABEL: func.func @fp8_layer_ops
// CHECK:         moek.dispatch %{{.+}}, %{{.+}}, %{{.+}} tokens(%{{.+}}) counts(%{{.+}}) cursor(%{{.+}}) offsets(%{{.+}}) slot_rows(%{{.+}}) row_weights(%{{.+}}) rows(%{{.+}}) row_scales(%{{.+}}) barrier(%{{.+}}) {hidden = 256 : i64, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64}
// CHECK:         %[[BUF:.+]] = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
// CHECK:         moek.acc_store_smem %{{.+}}, %[[BUF]] : !moek.acc<64x128xf32>, !llvm.ptr<3>
// CHECK:         %[[UP:.+]] = moek.acc_load_smem %[[BUF]] : !llvm.ptr<3> -> !moek.acc<64x128xf32>
// CHECK:         moek.store_act_fp8 %{{.+}}, %[[UP]], %{{.+}}[%{{.+}}, %{{.+}}] scales(%{{.+}}) row_limit(%{{.+}}) row_weights(%{{.+}}) {activation = "swiglu", gemm1_type = bf16, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
func.func @fp8_layer_ops(%p: !llvm.ptr<1>, %t: index, %gate: !moek.acc<64x128xf32>, %up: !moek.acc<64x128xf32>) {
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_scales(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 256 : i64, phase = 1 : i64}
  %buf = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
  moek.acc_store_smem %up, %buf : !moek.acc<64x128xf32>, !llvm.ptr<3>
  %u = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
  moek.store_act_fp8 %gate, %u, %p[%t, %t] scales(%p) row_limit(%t) row_weights(%p) {activation = "swiglu", gemm1_type = bf16, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}

// The split activation: each warpgroup hands over half of its accumulator
// (values [b, e] of its fragment) and takes the other's, then computes one
// half of the columns, the two halves' amax met in shared memory.
// CHECK-LABEL: func.func @fp8_split_activation
// CHECK:         moek.acc_store_smem %{{.+}}, %[[BUF:.+]] {values = array<i64: 32, 64>} : !moek.acc<64x128xf32>, !llvm.ptr<3>
// CHECK:         %[[UP:.+]] = moek.acc_load_smem %[[BUF]] {values = array<i64: 0, 32>} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
// CHECK:         moek.store_act_fp8 %{{.+}}, %[[UP]], %{{.+}}[%{{.+}}, %{{.+}}] scales(%{{.+}}) row_limit(%{{.+}}) amax(%{{.+}}) {activation = "swiglu", barrier = 9 : i64, gemm1_type = bf16, half = 0 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
func.func @fp8_split_activation(%p: !llvm.ptr<1>, %t: index, %gate: !moek.acc<64x128xf32>, %buf: !llvm.ptr<3>, %amax: !llvm.ptr<3>) {
  moek.acc_store_smem %gate, %buf {values = array<i64: 32, 64>} : !moek.acc<64x128xf32>, !llvm.ptr<3>
  %u = moek.acc_load_smem %buf {values = array<i64: 0, 32>} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
  moek.store_act_fp8 %gate, %u, %p[%t, %t] scales(%p) row_limit(%t) amax(%amax) {activation = "swiglu", barrier = 9 : i64, gemm1_type = bf16, half = 0 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}
