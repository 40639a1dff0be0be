// moek.load_fp4_scales, moek.fp4_row_scale, moek.dequant_fp4_fp8,
// moek.mma_promote and moek.acc_scale_cols, and the small-tile ops
// (moek.fp4_fragment_row_max, load_fp4_fragment_scales, mma_fp4,
// load_col_scales, mma_promote_cols, acc_store_transposed, acc_load_smem
// {rows}): round trip and every verifier
// error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics | moe-opt -split-input-file | FileCheck %s

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged [1, 2]>

// One MXFP4 tile of the FP8 kernel: the rows' largest scales and the
// column scales (tile prologue), one K block's four block scales, the
// packed tile 3 expanded into tile 1 relative to the row maximum, the
// promotion by the row scales only, and the column scales applied once
// after the K loop.
// CHECK-LABEL: func.func @roundtrip
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) : !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
// CHECK:         %[[M:.+]] = moek.fp4_row_scale %[[WS:.+]][%[[ROW:.+]]] col_scales(%[[CS:.+]]) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
// CHECK:         %[[W:.+]] = moek.load_fp4_scales %[[WS]][%[[ROW]], %{{.+}}] {first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> i32
// CHECK:         moek.dequant_fp4_fp8 %[[RING]][%{{.+}}] from 3 to 1 scales(%[[W]]) row_max(%[[M]]) {barrier = 8 : i64, first_thread = 128 : i64} : !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>{{$}}
// CHECK:         %[[A:.+]] = moek.mma_promote %{{.+}}, %{{.+}} scales(%{{.+}}, %{{.+}}) : !moek.acc<64x128xf32>, !moek.rows<64xf32>{{$}}
// CHECK:         %[[B:.+]] = moek.acc_scale_cols %[[A]] col_scales(%[[CS]]) : !moek.acc<64x128xf32>, !llvm.ptr<3>{{$}}
// CHECK:         return %[[B]] : !moek.acc<64x128xf32>
func.func @roundtrip(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index, %row: index, %kb: index, %acc: !moek.acc<64x128xf32>, %part: !moek.acc<64x128xf32>, %s: !moek.rows<64xf32>, %one: f32) -> !moek.acc<64x128xf32> {
  %ring = moek.ring_alloc consumers(256) : !ring
  %m = moek.fp4_row_scale %ws[%row] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  %w = moek.load_fp4_scales %ws[%row, %kb] {first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> i32
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  %a = moek.mma_promote %acc, %part scales(%s, %one) : !moek.acc<64x128xf32>, !moek.rows<64xf32>
  %b = moek.acc_scale_cols %a col_scales(%cs) : !moek.acc<64x128xf32>, !llvm.ptr<3>
  return %b : !moek.acc<64x128xf32>
}

// -----

// The smallest forms the verifiers accept: one K block of scales, one warp,
// a whole CTA of threads, barriers 1 and 15, 32 rows, from thread 0.
// CHECK-LABEL: func.func @bounds
// CHECK:         %[[M:.+]] = moek.fp4_row_scale %{{.+}}[%{{.+}}] col_scales(%{{.+}}) {barrier = 1 : i64, first_thread = 0 : i64, scale_cols = 4 : i64, scale_rows = 1 : i64, threads = 32 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
// CHECK:         moek.fp4_row_scale %{{.+}}[%{{.+}}] col_scales(%{{.+}}) {barrier = 15 : i64, first_thread = 0 : i64, scale_cols = 12 : i64, scale_rows = 1 : i64, threads = 1024 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
// CHECK:         %[[W:.+]] = moek.load_fp4_scales %{{.+}}[%{{.+}}, %{{.+}}] {first_thread = 0 : i64, scale_cols = 4 : i64, scale_rows = 1 : i64} : !llvm.ptr<1> -> i32
// CHECK:         moek.dequant_fp4_fp8 %{{.+}}[%{{.+}}] from 1 to 0 scales(%[[W]]) row_max(%[[M]]) {barrier = 15 : i64, first_thread = 0 : i64} : !moek.ring<2, [memref<32x128xf8E4M3FN, 3>, memref<32x128xf4E2M1FN, 3>]>{{$}}
!ring = !moek.ring<2, [memref<32x128xf8E4M3FN, 3>, memref<32x128xf4E2M1FN, 3>]>
func.func @bounds(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(32) : !ring
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 1 : i64, first_thread = 0 : i64, scale_cols = 4 : i64, scale_rows = 1 : i64, threads = 32 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  %m2 = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 15 : i64, first_thread = 0 : i64, scale_cols = 12 : i64, scale_rows = 1 : i64, threads = 1024 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  %w = moek.load_fp4_scales %ws[%i, %i] {first_thread = 0 : i64, scale_cols = 4 : i64, scale_rows = 1 : i64} : !llvm.ptr<1> -> i32
  moek.dequant_fp4_fp8 %ring[%i] from 1 to 0 scales(%w) row_max(%m) {barrier = 15 : i64, first_thread = 0 : i64} : !ring
  return
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

func.func @load_first_thread_negative(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_scales' op expects first_thread a multiple of 32, got -32}}
  %w = moek.load_fp4_scales %ws[%i, %i] {first_thread = -32 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> i32
  return
}

// -----

// The scales are in global memory.
func.func @load_shared_scales(%ws: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_scales' op operand #0 must be LLVM pointer in address space 1, but got '!llvm.ptr<3>'}}
  %w = moek.load_fp4_scales %ws[%i, %i] {first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_scale_rows(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects scale_rows >= 1, got 0}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 0 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_scale_cols(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects scale_cols a positive multiple of 4 (whole 128-wide K blocks), got 226}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 226 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_scale_cols_zero(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects scale_cols a positive multiple of 4 (whole 128-wide K blocks), got 0}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 0 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_threads(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects whole warps, got 48 threads}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 48 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_threads_zero(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects whole warps, got 0 threads}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 0 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

// Threads past a CTA's 1024.
func.func @row_scale_threads_past_block(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects its threads within a block of 1024, got first_thread 992 + 64 threads}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 992 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 64 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

// More than a CTA's 1024 threads.
func.func @row_scale_threads_high(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects whole warps, got 1056 threads}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 1056 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_first_thread(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects first_thread a multiple of 32, got 136}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 136 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_first_thread_negative(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects first_thread a multiple of 32, got -128}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = -128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_barrier_zero(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects a named barrier in [1, 15], got 0}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 0 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

func.func @row_scale_barrier_high(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op expects a named barrier in [1, 15], got 16}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 16 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
  return
}

// -----

// The scales are in global memory...
func.func @row_scale_shared_scales(%ws: !llvm.ptr<3>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op operand #0 must be LLVM pointer in address space 1, but got '!llvm.ptr<3>'}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<3>, !llvm.ptr<3> -> i32
  return
}

// -----

// ... and the column scales in shared memory.
func.func @row_scale_global_col_scales(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op operand #2 must be LLVM pointer in address space 3, but got '!llvm.ptr<1>'}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<1> -> i32
  return
}

// -----

// The row maximum is an i32 (a UE8M0 byte, for dequant_fp4_fp8's row_max).
func.func @row_scale_result(%ws: !llvm.ptr<1>, %cs: !llvm.ptr<3>, %i: index) {
  // expected-error @+1 {{'moek.fp4_row_scale' op result #0 must be 32-bit signless integer, but got 'i64'}}
  %m = moek.fp4_row_scale %ws[%i] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 2048 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i64
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @same_tile(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects two tile indices in [0, 5), got from = 3, to = 3}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 3 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @tile_out_of_range(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects two tile indices in [0, 5), got from = 5, to = 1}}
  moek.dequant_fp4_fp8 %ring[%i] from 5 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @tile_negative(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects two tile indices in [0, 5), got from = 3, to = -1}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to -1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @wrong_source(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expands an f4E2M1FN tile into an f8E4M3FN tile, got 'f8E4M3FN' into 'f8E4M3FN'}}
  moek.dequant_fp4_fp8 %ring[%i] from 2 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<3, [memref<64x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @bf16_target(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expands an f4E2M1FN tile into an f8E4M3FN tile, got 'f4E2M1FN' into 'bf16'}}
  moek.dequant_fp4_fp8 %ring[%i] from 2 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @shapes(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects tiles of one shape R x 128, got 128x128 and 64x128}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 0 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

// A packed tile of 64 values a row (moek.dequant_fp4's) is not one.
!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x64xf4E2M1FN, 3>]>
func.func @narrow_source(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects tiles of one shape R x 128, got 128x64 and 128x128}}
  moek.dequant_fp4_fp8 %ring[%i] from 2 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<3, [memref<64x128xf8E4M3FN, 3>, memref<48x128xf8E4M3FN, 3>, memref<48x128xf4E2M1FN, 3>]>
func.func @rows(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects whole warps (one thread a row), got 48 rows}}
  moek.dequant_fp4_fp8 %ring[%i] from 2 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @first_thread(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects first_thread a multiple of 32, got 136}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 136 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @first_thread_negative(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects first_thread a multiple of 32, got -32}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = -32 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @barrier_zero(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects a named barrier in [1, 15], got 0}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) row_max(%m) {barrier = 0 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @barrier_high(%w: i32, %m: i32, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op expects a named barrier in [1, 15], got 16}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) row_max(%m) {barrier = 16 : i64, first_thread = 128 : i64} : !ring
  return
}

// -----

// row_max is an i32 (moek.fp4_row_scale's result); the custom form gives it
// no type, so the generic form.
!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @row_max_type(%w: i32, %m: i64, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{'moek.dequant_fp4_fp8' op operand #3 must be 32-bit signless integer, but got 'i64'}}
  "moek.dequant_fp4_fp8"(%ring, %i, %w, %m) <{barrier = 8 : i64, first_thread = 128 : i64, from = 3 : i64, to = 1 : i64}> : (!ring, index, i32, i64) -> ()
  return
}

// -----

// The column scales are moek.fp4_row_scale's now: no col_scales operand.
!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @dequant_col_scales(%w: i32, %cs: !llvm.ptr<3>, %i: index) {
  %ring = moek.ring_alloc consumers(256) : !ring
  // expected-error @+1 {{expected 'row_max'}}
  moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
  return
}

// -----

// Nor does mma_promote take column scales (moek.acc_scale_cols applies them).
func.func @promote_col_scales(%acc: !moek.acc<64x128xf32>, %s: !moek.rows<64xf32>, %one: f32, %cs: !llvm.ptr<3>) {
  // expected-error @+1 {{expected ':'}}
  %a = moek.mma_promote %acc, %acc scales(%s, %one) col_scales(%cs) : !moek.acc<64x128xf32>, !moek.rows<64xf32>, !llvm.ptr<3>
  return
}

// -----

// mma_promote: the operand types are still checked (its own verifier's one
// row scale per row cannot fail: !moek.acc and !moek.rows both have 64
// rows).
func.func @promote_partial_type(%acc: !moek.acc<64x128xf32>, %part: !moek.acc<64x64xf32>, %s: !moek.rows<64xf32>, %one: f32) {
  // expected-error @+1 {{'moek.mma_promote' op failed to verify that all of {acc, partial, result} have same type}}
  %a = "moek.mma_promote"(%acc, %part, %s, %one) : (!moek.acc<64x128xf32>, !moek.acc<64x64xf32>, !moek.rows<64xf32>, f32) -> !moek.acc<64x128xf32>
  return
}

// -----

// acc_scale_cols has no verifier of its own: its operand types.
func.func @scale_cols_global(%acc: !moek.acc<64x128xf32>, %cs: !llvm.ptr<1>) {
  // expected-error @+1 {{'moek.acc_scale_cols' op operand #1 must be LLVM pointer in address space 3, but got '!llvm.ptr<1>'}}
  %a = moek.acc_scale_cols %acc col_scales(%cs) : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @scale_cols_result_type(%acc: !moek.acc<64x128xf32>, %cs: !llvm.ptr<3>) {
  // expected-error @+1 {{'moek.acc_scale_cols' op failed to verify that all of {acc, result} have same type}}
  %a = "moek.acc_scale_cols"(%acc, %cs) : (!moek.acc<64x128xf32>, !llvm.ptr<3>) -> !moek.acc<64x64xf32>
  return
}

// -----

// The transposed small-tile ops (moek.mma_fp4 and its companions): round
// trip.
// CHECK-LABEL: func.func @small_tile
// CHECK:         %[[M:.+]] = moek.fp4_fragment_row_max %{{.+}}[%{{.+}}] {scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> vector<2xi32>
// CHECK:         %[[W:.+]] = moek.load_fp4_fragment_scales %{{.+}}[%{{.+}}, %{{.+}}] {scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> vector<2xi32>
// CHECK:         %[[T:.+]] = moek.fp4_fragment_tables %[[W]], %[[M]] : vector<4xi32>
// CHECK:         %[[P:.+]]:2 = moek.mma_fp4 %{{.+}}[%{{.+}}] packed(3, %{{.+}}) b(0) tables(%[[T]], %[[T]]) {steps_per_fence = 2 : i64} : !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>, !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
// CHECK:         moek.mma_fp4 %{{.+}}[%{{.+}}] packed(3, %{{.+}}) b(0) tables(%[[T]]) : !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>, !moek.acc<64x16xf32>
// CHECK:         %[[S:.+]] = moek.load_col_scales %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) {acc = !moek.acc<64x16xf32>, ld = 56 : i64} : !llvm.ptr<1> -> vector<4xf32>
// CHECK:         %[[A:.+]] = moek.mma_promote_cols %{{.+}}, %[[P]]#1 scales(%[[S]]) : !moek.acc<64x16xf32>, vector<4xf32>
// CHECK:         moek.acc_store_transposed %[[A]], %{{.+}} row_max(%[[M]] : vector<2xi32>) {col = 64 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
// CHECK:         moek.acc_load_smem %{{.+}} {rows = 16 : i64} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
!ring = !moek.ring<6, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>], unstaged[1, 2]>
func.func @small_tile(%ws: !llvm.ptr<1>, %xs: !llvm.ptr<1>, %buf: !llvm.ptr<3>, %i: index, %row: index, %acc: !moek.acc<64x16xf32>) -> !moek.acc<64x128xf32> {
  %ring = moek.ring_alloc consumers(256) : !ring
  %m = moek.fp4_fragment_row_max %ws[%row] {scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> vector<2xi32>
  %w = moek.load_fp4_fragment_scales %ws[%row, %i] {scale_cols = 224 : i64, scale_rows = 2048 : i64} : !llvm.ptr<1> -> vector<2xi32>
  %t = moek.fp4_fragment_tables %w, %m : vector<4xi32>
  %p:2 = moek.mma_fp4 %ring[%i] packed(3, %i) b(0) tables(%t, %t) {steps_per_fence = 2 : i64} : !ring, !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
  %q = moek.mma_fp4 %ring[%i] packed(3, %i) b(0) tables(%t) {steps_per_fence = 1 : i64} : !ring, !moek.acc<64x16xf32>
  %s = moek.load_col_scales %xs[%row, %i] row_limit(%i) {acc = !moek.acc<64x16xf32>, ld = 56 : i64} : !llvm.ptr<1> -> vector<4xf32>
  %a = moek.mma_promote_cols %acc, %p#1 scales(%s) : !moek.acc<64x16xf32>, vector<4xf32>
  moek.acc_store_transposed %a, %buf row_max(%m : vector<2xi32>) {col = 64 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
  %b = moek.acc_load_smem %buf {rows = 16 : i64} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
  return %b : !moek.acc<64x128xf32>
}

// -----

func.func @fragment_row_max_cols(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.fp4_fragment_row_max' op expects scale_cols a positive multiple of 4 (whole 128-wide K blocks), got 6}}
  %m = moek.fp4_fragment_row_max %ws[%i] {scale_cols = 6 : i64, scale_rows = 8 : i64} : !llvm.ptr<1> -> vector<2xi32>
  return
}

// -----

func.func @fragment_scales_rows(%ws: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_fp4_fragment_scales' op expects scale_rows >= 1, got 0}}
  %w = moek.load_fp4_fragment_scales %ws[%i, %i] {scale_cols = 4 : i64, scale_rows = 0 : i64} : !llvm.ptr<1> -> vector<2xi32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_fp4_tile_index(%w: vector<4xi32>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_fp4' op expects tile indices in [0, 2), got packed = 2, b = 0}}
  %p = moek.mma_fp4 %ring[%i] packed(2, %i) b(0) tables(%w) : !ring, !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>
func.func @mma_fp4_packed_type(%w: vector<4xi32>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_fp4' op expects tile packed of f4E2M1FN, 64-row blocks by 128 columns, got 'memref<128x128xf8E4M3FN, 3>'}}
  %p = moek.mma_fp4 %ring[%i] packed(1, %i) b(0) tables(%w) : !ring, !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf4E2M1FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_fp4_b_type(%w: vector<4xi32>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_fp4' op expects tile b of f8E4M3FN, 128 columns, got 'memref<64x128xf4E2M1FN, 3>'}}
  %p = moek.mma_fp4 %ring[%i] packed(1, %i) b(0) tables(%w) : !ring, !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_fp4_columns(%w: vector<4xi32>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_fp4' op expects 64-row accumulators of 16, 32, 48 or 64 columns, at most tile b's 64 rows, got '!moek.acc<64x8xf32>'}}
  %p = moek.mma_fp4 %ring[%i] packed(1, %i) b(0) tables(%w) : !ring, !moek.acc<64x8xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_fp4_blocks(%w: vector<4xi32>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_fp4' op expects one to 2 results (64-row blocks of tile packed), got 3}}
  %p:3 = moek.mma_fp4 %ring[%i] packed(1, %i) b(0) tables(%w, %w, %w) : !ring, !moek.acc<64x16xf32>, !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_fp4_tables(%w: vector<4xi32>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_fp4' op expects tables for each of its 2 blocks, got 1}}
  %p:2 = moek.mma_fp4 %ring[%i] packed(1, %i) b(0) tables(%w) : !ring, !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_fp4_result_types(%w: vector<4xi32>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_fp4' op expects results of one accumulator type}}
  %p:2 = moek.mma_fp4 %ring[%i] packed(1, %i) b(0) tables(%w, %w) : !ring, !moek.acc<64x16xf32>, !moek.acc<64x32xf32>
  return
}

// -----

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>
func.func @mma_fp4_fence_steps(%w: vector<4xi32>, %i: index) {
  %ring = moek.ring_alloc consumers(128) : !ring
  // expected-error @+1 {{'moek.mma_fp4' op expects steps_per_fence 1, 2 or 4, got 3}}
  %p = moek.mma_fp4 %ring[%i] packed(1, %i) b(0) tables(%w) {steps_per_fence = 3 : i64} : !ring, !moek.acc<64x16xf32>
  return
}

// -----

func.func @fragment_tables_type(%w: vector<2xi32>) {
  // expected-error @+1 {{'moek.fp4_fragment_tables' op result #0 must be vector of 32-bit signless integer values of length 4, but got 'vector<2xi32>'}}
  %t = moek.fp4_fragment_tables %w, %w : vector<2xi32>
  return
}

// -----

func.func @col_scales_ld(%xs: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_col_scales' op expects a positive ld, got 0}}
  %s = moek.load_col_scales %xs[%i, %i] row_limit(%i) {acc = !moek.acc<64x16xf32>, ld = 0 : i64} : !llvm.ptr<1> -> vector<4xf32>
  return
}

// -----

func.func @col_scales_acc(%xs: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_col_scales' op expects acc an accumulator type, got 'f32'}}
  %s = moek.load_col_scales %xs[%i, %i] row_limit(%i) {acc = f32, ld = 2 : i64} : !llvm.ptr<1> -> vector<4xf32>
  return
}

// -----

func.func @col_scales_count(%xs: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.load_col_scales' op expects 8 scales a thread for 32 columns, got 4}}
  %s = moek.load_col_scales %xs[%i, %i] row_limit(%i) {acc = !moek.acc<64x32xf32>, ld = 2 : i64} : !llvm.ptr<1> -> vector<4xf32>
  return
}

// -----

func.func @promote_cols_count(%a: !moek.acc<64x16xf32>, %s: vector<8xf32>) {
  // expected-error @+1 {{'moek.mma_promote_cols' op expects 4 column scales a thread for 16 columns, got 8}}
  %b = moek.mma_promote_cols %a, %a scales(%s) : !moek.acc<64x16xf32>, vector<8xf32>
  return
}

// -----

func.func @transposed_columns(%a: !moek.acc<64x8xf32>, %buf: !llvm.ptr<3>, %m: vector<2xi32>) {
  // expected-error @+1 {{'moek.acc_store_transposed' op expects 16, 32, 48 or 64 columns (the rows of the transposed accumulator), got 8}}
  moek.acc_store_transposed %a, %buf row_max(%m : vector<2xi32>) {col = 0 : i64, cols = 128 : i64} : !moek.acc<64x8xf32>, !llvm.ptr<3>
  return
}

// -----

func.func @transposed_cols(%a: !moek.acc<64x16xf32>, %buf: !llvm.ptr<3>, %m: vector<2xi32>) {
  // expected-error @+1 {{'moek.acc_store_transposed' op expects cols in 8..256 in steps of 8, got 260}}
  moek.acc_store_transposed %a, %buf row_max(%m : vector<2xi32>) {col = 0 : i64, cols = 260 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
  return
}

// -----

func.func @transposed_col(%a: !moek.acc<64x16xf32>, %buf: !llvm.ptr<3>, %m: vector<2xi32>) {
  // expected-error @+1 {{'moek.acc_store_transposed' op expects col a multiple of 8 with col + 64 <= 128, got 72}}
  moek.acc_store_transposed %a, %buf row_max(%m : vector<2xi32>) {col = 72 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
  return
}

// -----

func.func @load_smem_rows(%buf: !llvm.ptr<3>) {
  // expected-error @+1 {{'moek.acc_load_smem' op expects rows 16, 32, 48 or 64, got 8}}
  %b = moek.acc_load_smem %buf {rows = 8 : i64} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
  return
}
