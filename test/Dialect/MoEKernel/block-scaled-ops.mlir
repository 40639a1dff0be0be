// moek.unpack_fp4 and moek.mma_block_scaled (sm_100a's block-scaled FP8 x
// MXFP4 tiles): round trip and every verifier error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics | moe-opt -split-input-file | FileCheck %s

// One K block: the packed tile 3 staged into tile 1 with the block scales
// of K block %kb, then the two 64-row halves of the product.
// CHECK-LABEL: func.func @roundtrip
// CHECK:         moek.unpack_fp4 %{{.+}}[%{{.+}}] from 3 to 1 scales(%{{.+}}[%{{.+}}, %{{.+}}]) sf(%{{.+}}) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
// CHECK:         %{{.+}}, %{{.+}} = moek.mma_block_scaled %{{.+}}[%{{.+}}] a(1) b(0) sf(%{{.+}}) : !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>, !moek.acc<64x64xf32>, !moek.acc<64x64xf32>
!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @roundtrip(%ws: !llvm.ptr<1>, %sf: !llvm.ptr<3>, %i: index, %row: index, %kb: index) -> !moek.acc<64x64xf32> {
  %ring = moek.ring_alloc consumers(256) : !ring
  moek.unpack_fp4 %ring[%i] from 3 to 1 scales(%ws[%row, %kb]) sf(%sf) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !ring
  %p:2 = moek.mma_block_scaled %ring[%i] a(1) b(0) sf(%sf) : !ring, !moek.acc<64x64xf32>, !moek.acc<64x64xf32>
  return %p#1 : !moek.acc<64x64xf32>
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @unpack_into_e4m3(%ws: !llvm.ptr<1>, %sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.unpack_fp4' op expands an f4E2M1FN tile into an i8 tile, got 'f4E2M1FN' into 'f8E4M3FN'}}
  moek.unpack_fp4 %ring[%i] from 2 to 1 scales(%ws[%i, %i]) sf(%sf) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<64x128xi8, 3>, memref<64x128xf4E2M1FN, 3>]>
func.func @unpack_rows(%ws: !llvm.ptr<1>, %sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.unpack_fp4' op expects 128-row tiles (tcgen05's M), got 64 rows}}
  moek.unpack_fp4 %ring[%i] from 2 to 1 scales(%ws[%i, %i]) sf(%sf) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @unpack_scale_cols(%ws: !llvm.ptr<1>, %sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.unpack_fp4' op expects scale_cols a positive multiple of 4 (whole 128-wide K blocks), got 6}}
  moek.unpack_fp4 %ring[%i] from 2 to 1 scales(%ws[%i, %i]) sf(%sf) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 6 : i64, scale_rows = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @unpack_first_thread(%ws: !llvm.ptr<1>, %sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.unpack_fp4' op expects first_thread a multiple of 32, got 100}}
  moek.unpack_fp4 %ring[%i] from 2 to 1 scales(%ws[%i, %i]) sf(%sf) {barrier = 8 : i64, first_thread = 100 : i64, scale_cols = 8 : i64, scale_rows = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_tile_index(%sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_block_scaled' op expects tile indices in [0, 3), got a = 3, b = 0}}
  %p:2 = moek.mma_block_scaled %ring[%i] a(3) b(0) sf(%sf) : !ring, !moek.acc<64x64xf32>, !moek.acc<64x64xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_packed_a(%sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_block_scaled' op expects tile a of 128 x 128 i8 (moek.unpack_fp4's e2m1 values), got 'memref<128x128xf4E2M1FN, 3>'}}
  %p:2 = moek.mma_block_scaled %ring[%i] a(2) b(0) sf(%sf) : !ring, !moek.acc<64x64xf32>, !moek.acc<64x64xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x64xbf16, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_bf16_b(%sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_block_scaled' op expects tile b of f8E4M3FN, 128 columns, got 'memref<64x64xbf16, 3>'}}
  %p:2 = moek.mma_block_scaled %ring[%i] a(1) b(0) sf(%sf) : !ring, !moek.acc<64x64xf32>, !moek.acc<64x64xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_too_many_columns(%sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_block_scaled' op expects two f32 accumulators of 64 rows and a multiple of 16 columns, at most tile b's 64 rows, got '!moek.acc<64x128xf32>' and '!moek.acc<64x128xf32>'}}
  %p:2 = moek.mma_block_scaled %ring[%i] a(1) b(0) sf(%sf) : !ring, !moek.acc<64x128xf32>, !moek.acc<64x128xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_mixed_halves(%sf: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_block_scaled' op expects two f32 accumulators of 64 rows and a multiple of 16 columns, at most tile b's 64 rows, got '!moek.acc<64x64xf32>' and '!moek.acc<64x32xf32>'}}
  %p:2 = moek.mma_block_scaled %ring[%i] a(1) b(0) sf(%sf) : !ring, !moek.acc<64x64xf32>, !moek.acc<64x32xf32>
  return
}
