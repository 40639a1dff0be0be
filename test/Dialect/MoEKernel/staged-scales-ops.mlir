// The ops of the FP8 128-row kernel's staged block scales (convert-moe-to-
// moek's fp8-staged-scales): moek.stage_block_scales (a producer warp's
// cp.async copies of a K block's row and weight scales into a stage's
// scale tile), moek.load_staged_scales (an MMA warpgroup's reads of them),
// and the block-major scale layout of moek.dispatch and moek.store_act_fp8
// (scales_stride). Round trip and every verifier error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics | moe-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @roundtrip
// CHECK:         moek.stage_block_scales %{{.+}}[%arg3] tile 3 rows(%arg0[%arg3, %arg4]) last(%arg5) weights(%arg1[%arg3, %arg4]) {kb_stride = 4096 : i64, ld = 1 : i64, rows = 128 : i64} : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
// CHECK:         moek.stage_block_scales %{{.+}}[%arg3] tile 3 rows(%arg0[%arg3, %arg4]) last(%arg5) weights(%arg1[%arg3, %arg4]) {ld = 56 : i64, rows = 128 : i64}
// CHECK:         moek.load_staged_scales %{{.+}}[%arg3] tile 3 row(%arg4) {rows = 128 : i64} : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]> -> !moek.rows<64xf32>
// CHECK:         moek.dispatch {{.*}} row_scales(%arg1) barrier(%arg1) {hidden = 512 : i64, num_experts = 8 : i64, phase = 1 : i64, scales_stride = 4096 : i64, top_k = 2 : i64}
// CHECK:         moek.store_act_fp8 {{.*}} scales_stride = 4096 : i64
!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
func.func @roundtrip(%xs: !llvm.ptr<1>, %ws: !llvm.ptr<1>, %x: !llvm.ptr<1>, %i: index, %kb: index, %last: index, %acc: !moek.acc<64x128xf32>) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  moek.stage_block_scales %ring[%i] tile 3 rows(%xs[%i, %kb]) last(%last) weights(%ws[%i, %kb]) {ld = 1 : i64, rows = 128 : i64, kb_stride = 4096 : i64} : !ring
  moek.stage_block_scales %ring[%i] tile 3 rows(%xs[%i, %kb]) last(%last) weights(%ws[%i, %kb]) {ld = 56 : i64, rows = 128 : i64} : !ring
  moek.ring_arrive_copies %ring[%i] : !ring
  %rs, %w0, %w1 = moek.load_staged_scales %ring[%i] tile 3 row(%kb) {rows = 128 : i64} : !ring -> !moek.rows<64xf32>
  moek.dispatch %x, %x, %x tokens(%i) counts(%ws) cursor(%ws) offsets(%ws) slot_rows(%ws) row_weights(%ws) rows(%ws) row_scales(%ws) barrier(%ws) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64, scales_stride = 4096 : i64}
  moek.store_act_fp8 %acc, %acc, %x[%i, %kb] scales(%xs) row_limit(%last) {activation = "swiglu", gemm1_type = bf16, ld = 256 : i64, scales_stride = 4096 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
func.func @stage_rows(%p: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.stage_block_scales' op expects rows a multiple of 32 and at least 64 (a 64-row accumulator's), got 48}}
  moek.stage_block_scales %ring[%i] tile 1 rows(%p[%i, %i]) last(%i) weights(%p[%i, %i]) {ld = 1 : i64, rows = 48 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
func.func @stage_tile_index(%p: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.stage_block_scales' op expects a tile index in [0, 2), got 2}}
  moek.stage_block_scales %ring[%i] tile 2 rows(%p[%i, %i]) last(%i) weights(%p[%i, %i]) {ld = 1 : i64, rows = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
func.func @stage_not_scale_tile(%p: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.stage_block_scales' op expects a staged scale tile (i8, 4 columns) of at least 520 bytes, got 'memref<128x128xf8E4M3FN, 3>'}}
  moek.stage_block_scales %ring[%i] tile 0 rows(%p[%i, %i]) last(%i) weights(%p[%i, %i]) {ld = 1 : i64, rows = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
func.func @stage_tile_small(%p: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.stage_block_scales' op expects a staged scale tile (i8, 4 columns) of at least 1032 bytes, got 'memref<256x4xi8, 3>'}}
  moek.stage_block_scales %ring[%i] tile 1 rows(%p[%i, %i]) last(%i) weights(%p[%i, %i]) {ld = 1 : i64, rows = 256 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
func.func @stage_strides(%p: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.stage_block_scales' op expects a positive ld and kb_stride, got 1 and 0}}
  moek.stage_block_scales %ring[%i] tile 1 rows(%p[%i, %i]) last(%i) weights(%p[%i, %i]) {ld = 1 : i64, rows = 128 : i64, kb_stride = 0 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
func.func @load_tile(%i: index) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.load_staged_scales' op expects a staged scale tile (i8, 4 columns) of at least 520 bytes, got 'memref<128x128xf8E4M3FN, 3>'}}
  %rs, %w0, %w1 = moek.load_staged_scales %ring[%i] tile 0 row(%i) {rows = 128 : i64} : !ring -> !moek.rows<64xf32>
  return
}

// -----

func.func @dispatch_stride_bf16(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects scales_stride with the 1x128 FP8 rows' f32 row_scales only}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64, scales_stride = 64 : i64}
  return
}

// -----

func.func @dispatch_stride_mx(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects scales_stride with the 1x128 FP8 rows' f32 row_scales only}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_scales(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64, mx_round, scales_stride = 64 : i64}
  return
}

// -----

func.func @dispatch_stride_negative(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects a non-negative scales_stride, got -1}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_scales(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64, scales_stride = -1 : i64}
  return
}

// -----

func.func @store_act_stride(%acc: !moek.acc<64x128xf32>, %p: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.store_act_fp8' op expects a non-negative scales_stride, got -2}}
  moek.store_act_fp8 %acc, %acc, %p[%i, %i] scales(%p) row_limit(%i) {activation = "swiglu", gemm1_type = bf16, ld = 256 : i64, scales_stride = -2 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}
