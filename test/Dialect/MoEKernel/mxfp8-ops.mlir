// moek.dequant_mxfp8: round trip and every verifier error; the ring's 64-byte
// e4m3 tiles.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>, memref<128x64xf8E4M3FN, 3>]>

// CHECK-LABEL: func.func @roundtrip
// CHECK:         moek.dequant_mxfp8 %{{.+}}[%{{.+}}] from 3 to 0 scales(%{{.+}}[%{{.+}}, %{{.+}}]) row_limit(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>, memref<128x64xf8E4M3FN, 3>]>, !llvm.ptr<1>
func.func @roundtrip(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  moek.dequant_mxfp8 %ring[%i] from 3 to 0 scales(%scales[%row, %kb]) row_limit(%end) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

// upper(%u): a fused GEMM1 tile's up rows read their scales from there.
!ring = !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf8E4M3FN, 3>]>
// CHECK-LABEL: func.func @upper
// CHECK:         moek.dequant_mxfp8 %{{.+}}[%{{.+}}] from 2 to 1 scales(%{{.+}}[%{{.+}}, %{{.+}}]) row_limit(%{{.+}}) upper(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64}
func.func @upper(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index, %u: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  moek.dequant_mxfp8 %ring[%i] from 2 to 1 scales(%scales[%row, %kb]) row_limit(%end) upper(%u) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>, memref<128x64xf8E4M3FN, 3>]>
func.func @same_tile(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_mxfp8' op expects two tile indices in [0, 4), got from = 3, to = 3}}
  moek.dequant_mxfp8 %ring[%i] from 3 to 3 scales(%scales[%row, %kb]) row_limit(%end) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>, memref<128x64xf8E4M3FN, 3>]>
func.func @wrong_types(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_mxfp8' op expands an f8E4M3FN tile into a bf16 tile, got 'bf16' into 'bf16'}}
  moek.dequant_mxfp8 %ring[%i] from 1 to 0 scales(%scales[%row, %kb]) row_limit(%end) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<64x64xf8E4M3FN, 3>]>
func.func @wrong_shape(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_mxfp8' op expects tiles of one shape R x 64, got 64x64 and 128x64}}
  moek.dequant_mxfp8 %ring[%i] from 1 to 0 scales(%scales[%row, %kb]) row_limit(%end) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>]>
func.func @threads(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_mxfp8' op expects whole warps that divide the tile's 256 32-value blocks, got 96 threads}}
  moek.dequant_mxfp8 %ring[%i] from 1 to 0 scales(%scales[%row, %kb]) row_limit(%end) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 96 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>]>
func.func @first_thread(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_mxfp8' op expects first_thread a multiple of 32, got 100}}
  moek.dequant_mxfp8 %ring[%i] from 1 to 0 scales(%scales[%row, %kb]) row_limit(%end) {barrier = 7 : i64, first_thread = 100 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>]>
func.func @barrier(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_mxfp8' op expects a named barrier in [1, 15], got 0}}
  moek.dequant_mxfp8 %ring[%i] from 1 to 0 scales(%scales[%row, %kb]) row_limit(%end) {barrier = 0 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xf8E4M3FN, 3>]>
func.func @scale_cols(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %end: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_mxfp8' op expects scale_cols >= 2 (a 64-wide K slice spans two 32-value blocks), got 1}}
  moek.dequant_mxfp8 %ring[%i] from 1 to 0 scales(%scales[%row, %kb]) row_limit(%end) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 1 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

// An e4m3 tile row must be 64 values (or 128: the 128-byte swizzle span).
// expected-error @+1 {{!moek.ring expects tile rows of 128 bytes (the TMA swizzle span), 64 or 128 f4E2M1FN values, or 64 f8E4M3FN values, got 'memref<128x32xf8E4M3FN, 3>'}}
func.func @ring_tile(%r: !moek.ring<4, [memref<128x32xf8E4M3FN, 3>]>) {
  return
}
