// The bf16 x FP4 kernel's small-tile ops (moek.load_fp4_slice_scales,
// moek.mma_fp4_bf16, moek.acc_store_transposed without row_max): round trip
// and every verifier error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics | moe-opt -split-input-file | FileCheck %s

!ring = !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>

// One slice of a small tile: the scales (MXFP4, NVFP4), the two 64-row
// weight blocks from tile row 128 times the first 16 token rows, the
// products stored transposed with no row scale.
// CHECK-LABEL: func.func @roundtrip
// CHECK:         %[[W:.+]] = moek.load_fp4_slice_scales %{{.+}}[%{{.+}}, %{{.+}}] {scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK:         moek.load_fp4_slice_scales %{{.+}}[%{{.+}}, %{{.+}}] {nvfp4, scale_cols = 448 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK:         %[[P:.+]]:2 = moek.mma_fp4_bf16 %{{.+}}[%{{.+}}] packed(2, %{{.+}}) b(0) acc(%{{.+}}, %{{.+}}) scales(%[[W]]) : !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>, !moek.acc<64x16xf32>, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
// CHECK:         moek.mma_fp4_bf16 %{{.+}}[%{{.+}}] packed(2, %{{.+}}) b(0) acc(%{{.+}}) scales(%[[W]]) {nvfp4} : !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>
// CHECK:         moek.acc_store_transposed %[[P]]#0, %{{.+}} {col = 0 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>{{$}}
// CHECK:         moek.acc_store_transposed %[[P]]#1, %{{.+}} {col = 64 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>{{$}}
func.func @roundtrip(%ws: !llvm.ptr<1>, %buf: !llvm.ptr<3>, %i: index, %row: index, %ks: index, %a: !moek.acc<64x16xf32>) {
  %c128 = arith.constant 128 : index
  %ring = moek.ring_alloc consumers(256) : !ring
  %w = moek.load_fp4_slice_scales %ws[%row, %ks] {scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> vector<4xi32>
  %v = moek.load_fp4_slice_scales %ws[%row, %ks] {nvfp4, scale_cols = 448 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> vector<4xi32>
  %p:2 = moek.mma_fp4_bf16 %ring[%i] packed(2, %c128) b(0) acc(%a, %a) scales(%w) : !ring, !moek.acc<64x16xf32>, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
  %q = moek.mma_fp4_bf16 %ring[%i] packed(2, %c128) b(0) acc(%a) scales(%w) {nvfp4} : !ring, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>
  moek.acc_store_transposed %p#0, %buf {col = 0 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
  moek.acc_store_transposed %p#1, %buf {col = 64 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
  return
}

// -----

func.func @slice_scale_rows(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_slice_scales' op expects scale_rows >= 1, got 0}}
  %w = moek.load_fp4_slice_scales %ws[%i, %i] {scale_cols = 224 : i64, scale_rows = 0 : i64} : !llvm.ptr<1> -> vector<4xi32>
  return
}

// -----

func.func @slice_scale_cols(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_slice_scales' op expects scale_cols a positive multiple of 2 (whole 64-wide K slices of 32-value blocks), got 3}}
  %w = moek.load_fp4_slice_scales %ws[%i, %i] {scale_cols = 3 : i64, scale_rows = 8 : i64} : !llvm.ptr<1> -> vector<4xi32>
  return
}

// -----

func.func @slice_scale_cols_nvfp4(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_slice_scales' op expects scale_cols a positive multiple of 4 (whole 64-wide K slices of 16-value blocks), got 6}}
  %w = moek.load_fp4_slice_scales %ws[%i, %i] {nvfp4, scale_cols = 6 : i64, scale_rows = 8 : i64} : !llvm.ptr<1> -> vector<4xi32>
  return
}

// -----

func.func @slice_scale_result(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_slice_scales' op result #0 must be vector of 32-bit signless integer values of length 4, but got 'vector<2xi32>'}}
  %w = moek.load_fp4_slice_scales %ws[%i, %i] {scale_cols = 4 : i64, scale_rows = 8 : i64} : !llvm.ptr<1> -> vector<2xi32>
  return
}

// -----

!ring = !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>
func.func @mma_tile_index(%i: index, %w: vector<4xi32>, %a: !moek.acc<64x16xf32>) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.mma_fp4_bf16' op expects tile indices in [0, 3), got packed = 3, b = 0}}
  %p = moek.mma_fp4_bf16 %ring[%i] packed(3, %i) b(0) acc(%a) scales(%w) : !ring, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>
func.func @mma_packed_type(%i: index, %w: vector<4xi32>, %a: !moek.acc<64x16xf32>) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.mma_fp4_bf16' op expects tile packed of f4E2M1FN, 64-row blocks by 64 columns, got 'memref<256x64xbf16, 3>'}}
  %p = moek.mma_fp4_bf16 %ring[%i] packed(1, %i) b(0) acc(%a) scales(%w) : !ring, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>
func.func @mma_b_type(%i: index, %w: vector<4xi32>, %a: !moek.acc<64x16xf32>) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.mma_fp4_bf16' op expects tile b of bf16, 64 columns, got 'memref<256x64xf4E2M1FN, 3>'}}
  %p = moek.mma_fp4_bf16 %ring[%i] packed(2, %i) b(2) acc(%a) scales(%w) : !ring, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<64x64xf4E2M1FN, 3>]>
func.func @mma_blocks(%i: index, %w: vector<4xi32>, %a: !moek.acc<64x16xf32>) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.mma_fp4_bf16' op expects one to 1 results (64-row blocks of tile packed), got 2}}
  %p:2 = moek.mma_fp4_bf16 %ring[%i] packed(2, %i) b(0) acc(%a, %a) scales(%w) : !ring, !moek.acc<64x16xf32>, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>
func.func @mma_accs(%i: index, %w: vector<4xi32>, %a: !moek.acc<64x16xf32>) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.mma_fp4_bf16' op expects an accumulator of its result type for each of its 2 results, got 1}}
  %p:2 = moek.mma_fp4_bf16 %ring[%i] packed(2, %i) b(0) acc(%a) scales(%w) : !ring, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>
func.func @mma_acc_shape(%i: index, %w: vector<4xi32>, %a: !moek.acc<64x128xf32>) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.mma_fp4_bf16' op expects 64-row accumulators of 16, 32, 48 or 64 columns, at most tile b's 128 rows, got '!moek.acc<64x128xf32>'}}
  %p = moek.mma_fp4_bf16 %ring[%i] packed(2, %i) b(0) acc(%a) scales(%w) : !ring, !moek.acc<64x128xf32> -> !moek.acc<64x128xf32>
  return
}
