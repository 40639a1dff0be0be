// The ops of sm_100a's MXFP8 x MXFP4 grouped matmul (both operands' UE8M0
// scales applied by the tensor cores): moek.in_warp, moek.fetch_add {warp},
// moek.ring_alloc {producers}, moek.stage_scales, moek.ring_arrive_copies
// and the block-scaled moek.mma_tmem. Round trip and every verifier error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics | moe-opt -split-input-file | FileCheck %s

// A producer warp stages one K block's scales of the rows (tile 2) and the
// weights (tile 3) and arrives once they land; the issuer multiplies.
// CHECK-LABEL: func.func @roundtrip
// CHECK:         moek.ring_alloc consumers(1) {producers = 33 : i64}
// CHECK:         moek.in_warp{{$}}
// CHECK:         moek.in_warp {warp = 2 : i64}
// CHECK:         moek.fetch_add %{{.+}}[%{{.+}}] {warp}
// CHECK:         moek.stage_scales %{{.+}}[%{{.+}}] tile 2 scales(%{{.+}}[%{{.+}}, %{{.+}}]) last(%{{.+}}) {scale_cols = 224 : i64}
// CHECK:         moek.ring_arrive_copies %{{.+}}[%{{.+}}]
// CHECK:         moek.mma_tmem %{{.+}}[%{{.+}}] a(0) b(1), %{{.+}}[%{{.+}}] accumulate(%{{.+}}) {a_scales = 2 : i64, b_scales = 3 : i64}
!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
!accs = !moek.acc_ring<2, 128x128xf32>
func.func @roundtrip(%xs: !llvm.ptr<1>, %next: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %last: index, %j: index, %acc: i1) -> index {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !accs
  %w0 = moek.in_warp
  %w2 = moek.in_warp {warp = 2 : i64}
  %t = moek.fetch_add %next[%i] {warp}
  moek.stage_scales %ring[%i] tile 2 scales(%xs[%row, %kb]) last(%last) {scale_cols = 224 : i64} : !ring
  moek.ring_arrive_copies %ring[%i] : !ring
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) {a_scales = 2 : i64, b_scales = 3 : i64} : !ring, !accs
  return %t : index
}

// -----

func.func @in_warp_range() {
  // expected-error @+1 {{'moek.in_warp' op expects a warp of the warpgroup (0 to 3), got 4}}
  %w = moek.in_warp {warp = 4 : i64}
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>]>
func.func @no_producers() {
  // expected-error @+1 {{'moek.ring_alloc' op expects at least one producer arrival, got 0}}
  %ring = moek.ring_alloc consumers(1) {producers = 0 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
func.func @arrive_copies_one_producer(%i: index) {
  %ring = moek.ring_alloc consumers(1) : !ring
  // expected-error @+1 {{'moek.ring_arrive_copies' op expects a ring whose full barriers count more than moek.ring_expect's arrival (producers >= 2), got producers = 1}}
  moek.ring_arrive_copies %ring[%i] : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
func.func @stage_scales_into_e4m3(%xs: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.stage_scales' op expects tile an i8 tile of 4 columns and a multiple of 128 rows (UE8M0 scales), got 'memref<128x128xf8E4M3FN, 3>'}}
  moek.stage_scales %ring[%i] tile 0 scales(%xs[%i, %i]) last(%i) {scale_cols = 8 : i64} : !ring
  return
}

// -----

// A scale tile of 64 rows is no tile of a ring.
// expected-error @+1 {{!moek.ring expects tile rows of 128 bytes (the TMA swizzle span), 64 or 128 f4E2M1FN values, or 64 f8E4M3FN values, got 'memref<64x4xi8, 3>'}}
func.func @stage_scales_rows(%r: !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<64x4xi8, 3>]>) {
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
func.func @stage_scales_index(%xs: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.stage_scales' op expects tile a tile index in [0, 3), got 3}}
  moek.stage_scales %ring[%i] tile 3 scales(%xs[%i, %i]) last(%i) {scale_cols = 8 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
func.func @stage_scales_cols(%xs: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.stage_scales' op expects scale_cols a positive multiple of 4 (whole 128-wide K blocks, 4-byte copies), got 6}}
  moek.stage_scales %ring[%i] tile 1 scales(%xs[%i, %i]) last(%i) {scale_cols = 6 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
!accs = !moek.acc_ring<2, 128x128xf32>
func.func @one_scale_tile(%i: index, %j: index, %acc: i1) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !accs
  // expected-error @+1 {{'moek.mma_tmem' op expects both a_scales and b_scales, or neither}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) {a_scales = 2 : i64} : !ring, !accs
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
!accs = !moek.acc_ring<2, 128x128xf32>
func.func @b_not_padded_fp4(%i: index, %j: index, %acc: i1) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !accs
  // expected-error @+1 {{'moek.mma_tmem' op block-scaled: expects tile b of i8 (e2m1 in tcgen05's padded form), 128 columns and at least 128 rows, got 'memref<128x128xf8E4M3FN, 3>'}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) {a_scales = 2 : i64, b_scales = 3 : i64} : !ring, !accs
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x128xi8, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
!accs = !moek.acc_ring<2, 128x128xf32>
func.func @a_not_e4m3(%i: index, %j: index, %acc: i1) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !accs
  // expected-error @+1 {{'moek.mma_tmem' op block-scaled: expects tile a of 128 x 128 f8E4M3FN, got 'memref<128x64xbf16, 3>'}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) {a_scales = 2 : i64, b_scales = 3 : i64} : !ring, !accs
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<256x128xi8, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
!accs = !moek.acc_ring<2, 128x256xf32>
func.func @b_scales_rows(%i: index, %j: index, %acc: i1) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !accs
  // expected-error @+1 {{'moek.mma_tmem' op expects b_scales an i8 tile of 4 columns and at least 256 rows (UE8M0 scales), got 'memref<128x4xi8, 3>'}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) {a_scales = 2 : i64, b_scales = 3 : i64} : !ring, !accs
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
!accs = !moek.acc_ring<2, 128x64xf32>
func.func @narrow_acc(%i: index, %j: index, %acc: i1) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !accs
  // expected-error @+1 {{'moek.mma_tmem' op block-scaled: expects accumulators of 128 rows and 128 or 256 columns, got '!moek.acc_ring<2, 128x64xf32>'}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) {a_scales = 2 : i64, b_scales = 3 : i64} : !ring, !accs
  return
}

// -----

!ring = !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
!accs = !moek.acc_ring<2, 128x128xf32>
func.func @pair(%i: index, %j: index, %acc: i1) {
  %ring = moek.ring_alloc consumers(1) {producers = 33 : i64} : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64, cta_pair} : !accs
  // expected-error @+1 {{'moek.mma_tmem' op has no block-scaled form for CTA pairs}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) {a_scales = 2 : i64, b_scales = 3 : i64} : !ring, !accs
  return
}

// -----

// expected-error @+1 {{!moek.ring expects its scale tiles (i8, 4 columns) after every other tile, got 'memref<128x128xf8E4M3FN, 3>' after one}}
func.func @scale_tile_first(%r: !moek.ring<4, [memref<128x4xi8, 3>, memref<128x4xi8, 3>, memref<128x128xf8E4M3FN, 3>]>) {
  return
}

// -----

// expected-error @+1 {{!moek.ring expects its scale tiles to take a multiple of 1024 bytes a stage (the swizzled tiles' alignment), got 512}}
func.func @scale_tile_alone(%r: !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x4xi8, 3>]>) {
  return
}
