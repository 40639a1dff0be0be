// moek.dispatch and moek.store_act {mx_round} (bf16 rows and activations
// rounded to MXFP8 values per 1x32 block): round trip and every verifier
// error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @roundtrip
// CHECK:         moek.dispatch {{.*}} rows(%{{.+}}) barrier(%{{.+}}) {hidden = 96 : i64, mx_round, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64}
// MXFP8 rows (e4m3 and UE8M0 scales): hidden a multiple of 32 only.
// CHECK:         moek.dispatch {{.*}} rows(%{{.+}}) row_scales(%{{.+}}) barrier(%{{.+}}) {hidden = 96 : i64, mx_round, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64}
// CHECK:         moek.store_act {{.*}} {activation = "swiglu", element_type = bf16, gemm1_type = bf16, ld = 224 : i64, mx_round}
func.func @roundtrip(%p: !llvm.ptr<1>, %t: index) {
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 96 : i64, phase = 1 : i64, mx_round}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_scales(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 96 : i64, phase = 1 : i64, mx_round}
  %acc = moek.mma_zero : !moek.acc<64x256xf32>
  moek.store_act %acc, %p[%t, %t] row_limit(%t) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 224 : i64, mx_round} : !moek.acc<64x256xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @dispatch_hidden(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects hidden a multiple of 32 (1x32 blocks) with mx_round, got 200}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 200 : i64, phase = 1 : i64, mx_round}
  return
}

// -----

func.func @dispatch_permute(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects permute_k with the 1x128 FP8 rows only, not with mx_round}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_scales(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 256 : i64, phase = 1 : i64, mx_round, permute_k}
  return
}

// -----

func.func @store_act_f32(%p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x256xf32>
  // expected-error @+1 {{'moek.store_act' op expects bf16 elements and ld a multiple of 32 (1x32 blocks) with mx_round, got 'f32' and 256}}
  moek.store_act %acc, %p[%t, %t] row_limit(%t) {activation = "swiglu", gemm1_type = bf16, element_type = f32, ld = 256 : i64, mx_round} : !moek.acc<64x256xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @store_act_ld(%p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x256xf32>
  // expected-error @+1 {{'moek.store_act' op expects bf16 elements and ld a multiple of 32 (1x32 blocks) with mx_round, got 'bf16' and 200}}
  moek.store_act %acc, %p[%t, %t] row_limit(%t) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 200 : i64, mx_round} : !moek.acc<64x256xf32>, !llvm.ptr<1>
  return
}
