// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// The ops of the fused MoE kernel (docs/FusedKernel.md) round-trip: grid
// phases (dispatch, grid barrier, combine), readiness counters, the gated
// activation epilogue, the dynamic scheduler's counter and stage tags, and
// the phase timer.

// CHECK-LABEL: func.func @fused_ops
// CHECK:   moek.dispatch %arg0, %arg1, %arg2 tokens(%arg4) counts(%arg3) cursor(%arg3) offsets(%arg3) slot_rows(%arg3) row_weights(%arg3) rows(%arg3) barrier(%arg3) {hidden = 512 : i64, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64}
// CHECK:   moek.dispatch %arg0, %arg1, %arg2 tokens(%arg4) counts(%arg3) cursor(%arg3) offsets(%arg3) slot_rows(%arg3) row_weights(%arg3) rows(%arg3) rows_ready(%arg3) offsets_ready(%arg3) barrier(%arg3) {hidden = 512 : i64, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64}
// CHECK:   moek.dispatch %arg0, %arg1, %arg2 tokens(%arg4) counts(%arg3) cursor(%arg3) offsets(%arg3) slot_rows(%arg3) row_weights(%arg3) rows(%arg3) row_scales(%arg3) rows_ready(%arg3) offsets_ready(%arg3) barrier(%arg3) {block_rows = 64 : i64, hidden = 512 : i64, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64}
// CHECK:   moek.grid_barrier %arg3 phase(3) id(4) threads(256)
// CHECK:   moek.signal %arg3[%arg4]
// CHECK:   moek.signal %arg3[%arg4] {relayed}
// CHECK:   moek.signal_relay %arg3 warpgroup(2)
// CHECK:   moek.signal_end
// CHECK:   moek.wait_counter %arg3[%arg4] geq(%arg4)
// CHECK:   %{{.+}} = moek.fetch_add %arg3[%arg4]
// CHECK:   moek.timestamp %arg3[%arg4]
// CHECK:   moek.timestamp %arg3[%arg4] {mode = "sub"}
// CHECK:   moek.ring_set_tag %{{.+}}[%arg4], %arg4 : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
// CHECK:   %{{.+}} = moek.ring_tag %{{.+}}[%arg4] : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
// CHECK:   moek.store_act %{{.+}}, %arg3[%arg4, %arg4] row_limit(%arg4) row_weights(%arg3) {activation = "clamped_swiglu", alpha = 1.702000e+00 : f32, element_type = bf16, gemm1_type = bf16, layout = "interleaved", ld = 256 : i64, limit = 7.000000e+00 : f32} : !moek.acc<64x256xf32>, !llvm.ptr<1>
// CHECK:   moek.store_acc_tma %{{.+}}, %arg5, %arg6, %arg3[%arg4, %arg4] row_limit(%arg4) barrier(%arg4) {halves = 2 : i64, ld = 2048 : i64} : !moek.acc<64x256xf32>
// CHECK:   moek.store_acc_tma %{{.+}}, %arg5, %arg6, %arg3[%arg4, %arg4] row_limit(%arg4) barrier(%arg4) {halves = 1 : i64, ld = 5760 : i64, transposed} : !moek.acc<64x192xf32>
// CHECK:   moek.store_acc_tma_wait
// CHECK:   moek.combine %arg3, %arg3 weights(%arg2) out(%arg3) tokens(%arg4) {element_type = bf16, first_thread = 128 : i64, hidden = 512 : i64, threads = 256 : i64, top_k = 2 : i64, y_type = f32}
func.func @fused_ops(%x: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %ws: !llvm.ptr<1>, %t: index, %tmap: !llvm.ptr, %staging: !llvm.ptr<3>) {
  %ring = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
  moek.dispatch %x, %ids, %w tokens(%t) counts(%ws) cursor(%ws) offsets(%ws) slot_rows(%ws) row_weights(%ws) rows(%ws) barrier(%ws) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
  moek.dispatch %x, %ids, %w tokens(%t) counts(%ws) cursor(%ws) offsets(%ws) slot_rows(%ws) row_weights(%ws) rows(%ws) rows_ready(%ws) offsets_ready(%ws) barrier(%ws) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
  moek.dispatch %x, %ids, %w tokens(%t) counts(%ws) cursor(%ws) offsets(%ws) slot_rows(%ws) row_weights(%ws) rows(%ws) row_scales(%ws) rows_ready(%ws) offsets_ready(%ws) barrier(%ws) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64, block_rows = 64 : i64}
  moek.grid_barrier %ws phase(3) id(4) threads(256)
  moek.signal %ws[%t]
  moek.signal %ws[%t] {relayed}
  moek.signal_relay %ws warpgroup(2)
  moek.signal_end
  moek.wait_counter %ws[%t] geq(%t)
  %n = moek.fetch_add %ws[%t]
  moek.timestamp %ws[%t]
  moek.timestamp %ws[%t] {mode = "sub"}
  moek.ring_set_tag %ring[%t], %t : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
  %tag = moek.ring_tag %ring[%t] : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
  %acc = moek.mma_zero : !moek.acc<64x256xf32>
  moek.store_act %acc, %ws[%t, %t] row_limit(%t) row_weights(%ws) {activation = "clamped_swiglu", layout = "interleaved", alpha = 1.702 : f32, limit = 7.0 : f32, gemm1_type = bf16, element_type = bf16, ld = 256 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
  moek.store_acc_tma %acc, %tmap, %staging, %ws[%t, %t] row_limit(%t) barrier(%t) {halves = 2 : i64, ld = 2048 : i64} : !moek.acc<64x256xf32>
  %acct = moek.mma_zero : !moek.acc<64x192xf32>
  moek.store_acc_tma %acct, %tmap, %staging, %ws[%t, %t] row_limit(%t) barrier(%t) {halves = 1 : i64, ld = 5760 : i64, transposed} : !moek.acc<64x192xf32>
  moek.store_acc_tma_wait
  moek.combine %ws, %ws weights(%w) out(%ws) tokens(%t) {top_k = 2 : i64, hidden = 512 : i64, y_type = f32, element_type = bf16, first_thread = 128 : i64, threads = 256 : i64}
  return
}
