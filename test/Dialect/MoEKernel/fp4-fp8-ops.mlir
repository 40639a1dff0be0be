// moek.load_fp4_scales, moek.dequant_fp4_fp8 and moek.mma_promote's
// col_scales: round trip and every verifier error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics | moe-opt -split-input-file | FileCheck %s

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>

// One MXFP4 K block of the FP8 kernel: the rows' four block scales, the
// packed tile 3 expanded into tile 1 with its column scales, and the
// promotion by row and column scales (and without column scales, as before).
// CHECK-LABEL: func.func @roundtrip
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) : !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
// CHECK:         %[[W:.+]] = moek.load_fp4_scales %{{.+}}[%{{.+}}, %{{.+}}] {first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> i32
// CHECK:         moek.dequant_fp4_fp8 %[[RING]][%{{.+}}] from 3 to 1 scales(%[[W]]) col_scales(%[[CS:.+]]) {barrier = 8 : i64, first_thread = 128 : i64} : !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>, !llvm.ptr<3>
// CHECK:         %[[A:.+]] = moek.mma_promote %{{.+}}, %[[P:.+]] scales(%[[S:.+]], %[[ONE:.+]]) col_scales(%[[CS]]) : !moek.acc<64x128xf32>, !moek.rows<64xf32>, !llvm.ptr<3>
// CHECK:         moek.mma_promote %[[A]], %[[P]] scales(%[[S]], %[[ONE]]) : !moek.acc<64x128xf32>, !moek.rows<64xf32>{{$}}
func.func @roundtrip(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index, %row: index, %kb: index, %acc: !moek.acc<64x128xf32>, %part: !moek.acc<64x128xf32>, %s: !moek.rows<64xf32>, %one: f32) -> !moek.acc<64x128xf32> {
  %ring = moek.ring_alloc consumers(256) : !ring
  %w = moek.load_fp4_scales %ws[%row, %kb] {first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> i32
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  %a = moek.mma_promote %acc, %part scales(%s, %one) col_scales(%cs) : !moek.acc<64x128xf32>, !moek.rows<64xf32>, !llvm.ptr<3>
  %b = moek.mma_promote %a, %part scales(%s, %one) : !moek.acc<64x128xf32>, !moek.rows<64xf32>
  return %b : !moek.acc<64x128xf32>
}

// -----

func.func @load_scale_rows(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_scales' op expects scale_rows >= 1, got 0}}
  %w = moek.load_fp4_scales %ws[%i, %i] {first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 0 : i64} : !llvm.ptr<1> -> i32
  return
}

// -----

func.func @load_scale_cols(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_scales' op expects scale_cols a positive multiple of 4 (four 32-value blocks a 128-wide K block, loaded as one aligned word), got 226}}
  %w = moek.load_fp4_scales %ws[%i, %i] {first_thread = 128 : i64, scale_cols = 226 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> i32
  return
}

// -----

func.func @load_scale_cols_zero(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_scales' op expects scale_cols a positive multiple of 4 (four 32-value blocks a 128-wide K block, loaded as one aligned word), got 0}}
  %w = moek.load_fp4_scales %ws[%i, %i] {first_thread = 128 : i64, scale_cols = 0 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> i32
  return
}

// -----

func.func @load_first_thread(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_scales' op expects first_thread a multiple of 32, got 144}}
  %w = moek.load_fp4_scales %ws[%i, %i] {first_thread = 144 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> i32
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @same_tile(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects two tile indices in [0, 5), got from = 3, to = 3}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 3 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @tile_out_of_range(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects two tile indices in [0, 5), got from = 5, to = 1}}
  moek.dequant_fp4_fp8 %ring[%i] from 5 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @wrong_source(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expands an f4E2M1FN tile into an f8E4M3FN tile, got 'f8E4M3FN' into 'f8E4M3FN'}}
  moek.dequant_fp4_fp8 %ring[%i] from 2 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

!ring = !moek.ring<3, [memref<64x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @bf16_target(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expands an f4E2M1FN tile into an f8E4M3FN tile, got 'f4E2M1FN' into 'bf16'}}
  moek.dequant_fp4_fp8 %ring[%i] from 2 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @shapes(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects tiles of one shape R x 128, got 128x128 and 64x128}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 0 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

// A packed tile of 64 values a row (moek.dequant_fp4's) is not one.
!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @narrow_source(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects tiles of one shape R x 128, got 128x64 and 128x128}}
  moek.dequant_fp4_fp8 %ring[%i] from 2 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<48x128xf8E4M3FN, 3>, memref<48x128xf4E2M1FN, 3>]>
func.func @rows(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects whole warps (one thread a row), got 48 rows}}
  moek.dequant_fp4_fp8 %ring[%i] from 2 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @first_thread(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects first_thread a multiple of 32, got 136}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 136 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @barrier_zero(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects a named barrier in [1, 15], got 0}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) col_scales(%cs) {barrier = 0 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @barrier_high(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects a named barrier in [1, 15], got 16}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) col_scales(%cs) {barrier = 16 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

// The column scales are in shared memory.
!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @global_col_scales(%w: i32, %cs: !llvm.ptr<1>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op operand #3 must be LLVM pointer in address space 3, but got '!llvm.ptr<1>'}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<1>
  return
}

// -----

// mma_promote with col_scales: the operand types are still checked (its own
// verifier's one row scale per row cannot fail: !moek.acc and !moek.rows
// both have 64 rows).
func.func @promote_global_col_scales(%acc: !moek.acc<64x128xf32>, %s: !moek.rows<64xf32>, %one: f32, %cs: !llvm.ptr<1>) {
  // expected-error @+1 {{'moek.mma_promote' op operand #4 must be LLVM pointer in address space 3, but got '!llvm.ptr<1>'}}
  %a = moek.mma_promote %acc, %acc scales(%s, %one) col_scales(%cs) : !moek.acc<64x128xf32>, !moek.rows<64xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @promote_partial_type(%acc: !moek.acc<64x128xf32>, %part: !moek.acc<64x64xf32>, %s: !moek.rows<64xf32>, %one: f32, %cs: !llvm.ptr<3>) {
  // expected-error @+1 {{'moek.mma_promote' op failed to verify that all of {acc, partial, result} have same type}}
  %a = "moek.mma_promote"(%acc, %part, %s, %one, %cs) : (!moek.acc<64x128xf32>, !moek.acc<64x64xf32>, !moek.rows<64xf32>, f32, !llvm.ptr<3>) -> !moek.acc<64x128xf32>
  return
}
