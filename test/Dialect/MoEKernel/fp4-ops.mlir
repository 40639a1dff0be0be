// moek.dequant_fp4 (MXFP4 and NVFP4 scales) and moek.acc_scale: round trip
// and every verifier error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>

// CHECK-LABEL: func.func @roundtrip
// CHECK:         moek.dequant_fp4 %{{.+}}[%{{.+}}] from 2 to 1 scales(%{{.+}}[%{{.+}}, %{{.+}}]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>, !llvm.ptr<1>
func.func @roundtrip(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  moek.dequant_fp4 %ring[%i] from 2 to 1 scales(%scales[%row, %kb]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

// The tile's upper half's scales from another row (a fused layer's up rows).
!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>

// CHECK-LABEL: func.func @roundtrip_upper
// CHECK:         moek.dequant_fp4 %{{.+}}[%{{.+}}] from 2 to 1 scales(%{{.+}}[%{{.+}}, %{{.+}}]) upper(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64}
func.func @roundtrip_upper(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %up: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  moek.dequant_fp4 %ring[%i] from 2 to 1 scales(%scales[%row, %kb]) upper(%up) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

// NVFP4: e4m3 scales, one per 16 values (4 a 64-wide slice); acc_scale.
!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>

// CHECK-LABEL: func.func @roundtrip_nvfp4
// CHECK:         moek.dequant_fp4 %{{.+}}[%{{.+}}] from 2 to 1 scales(%{{.+}}[%{{.+}}, %{{.+}}]) {barrier = 7 : i64, first_thread = 128 : i64, nvfp4, scale_cols = 4 : i64, scale_rows = 2048 : i64, threads = 256 : i64}
// CHECK:         moek.acc_scale %{{.+}}, %{{.+}} : !moek.acc<64x128xf32>
func.func @roundtrip_nvfp4(%scales: !llvm.ptr<1>, %i: index, %row: index, %kb: index, %acc: !moek.acc<64x128xf32>, %g: f32) -> !moek.acc<64x128xf32> {
  %ring = moek.ring_alloc consumers(256) : !ring
  moek.dequant_fp4 %ring[%i] from 2 to 1 scales(%scales[%row, %kb]) {barrier = 7 : i64, first_thread = 128 : i64, nvfp4, scale_cols = 4 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  %a = moek.acc_scale %acc, %g : !moek.acc<64x128xf32>
  return %a : !moek.acc<64x128xf32>
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @nvfp4_scale_cols(%scales: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4' op expects scale_cols >= 4 (a 64-wide K slice spans four 16-value blocks), got 2}}
  moek.dequant_fp4 %ring[%i] from 2 to 1 scales(%scales[%i, %i]) {barrier = 7 : i64, first_thread = 128 : i64, nvfp4, scale_cols = 2 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @same_tile(%scales: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4' op expects two tile indices in [0, 3), got from = 2, to = 2}}
  moek.dequant_fp4 %ring[%i] from 2 to 2 scales(%scales[%i, %i]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @wrong_types(%scales: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4' op expands an f4E2M1FN tile into a bf16 tile, got 'bf16' into 'bf16'}}
  moek.dequant_fp4 %ring[%i] from 0 to 1 scales(%scales[%i, %i]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<64x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @shapes(%scales: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4' op expects tiles of one shape R x 64, got 128x64 and 64x64}}
  moek.dequant_fp4 %ring[%i] from 2 to 0 scales(%scales[%i, %i]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @threads(%scales: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4' op expects whole warps that divide the tile's 256 32-value blocks, got 96 threads}}
  moek.dequant_fp4 %ring[%i] from 2 to 1 scales(%scales[%i, %i]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 96 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @barrier(%scales: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4' op expects a named barrier in [1, 15], got 0}}
  moek.dequant_fp4 %ring[%i] from 2 to 1 scales(%scales[%i, %i]) {barrier = 0 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @scale_cols(%scales: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4' op expects scale_cols >= 2 (a 64-wide K slice spans two 32-value blocks), got 1}}
  moek.dequant_fp4 %ring[%i] from 2 to 1 scales(%scales[%i, %i]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 1 : i64, scale_rows = 2048 : i64, threads = 256 : i64} : !ring, !llvm.ptr<1>
  return
}
