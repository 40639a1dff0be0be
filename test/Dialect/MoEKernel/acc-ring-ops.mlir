// The tensor-memory accumulator ring of sm_100a's single-issuer kernels
// (!moek.acc_ring, moek.acc_ring_alloc, moek.acc_acquire, moek.mma_tmem,
// moek.mma_release, moek.acc_commit, moek.acc_wait, moek.acc_store_rows,
// moek.acc_release) and moek.elect_one's warp: round trip and every
// verifier error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics | moe-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @roundtrip
// CHECK:         %[[ACCS:.+]] = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
// CHECK:         moek.elect_one {warp = 1 : i64}
// CHECK:         moek.acc_acquire %[[ACCS]][%{{.+}}] : !moek.acc_ring<2, 128x256xf32>
// CHECK:         moek.mma_tmem %{{.+}}[%{{.+}}] a(0) b(1), %[[ACCS]][%{{.+}}] accumulate(%{{.+}}) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>, !moek.acc_ring<2, 128x256xf32>
// CHECK:         moek.mma_release %{{.+}}[%{{.+}}] : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
// CHECK:         moek.acc_commit %[[ACCS]][%{{.+}}], %{{.+}} : !moek.acc_ring<2, 128x256xf32>
// CHECK:         %{{.+}} = moek.acc_wait %[[ACCS]][%{{.+}}] : !moek.acc_ring<2, 128x256xf32>
// CHECK:         moek.acc_store_rows %[[ACCS]][%{{.+}}] cols(%{{.+}}, 128), %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) {element_type = bf16, ld = 4096 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
// CHECK:         moek.acc_release %[[ACCS]][%{{.+}}] : !moek.acc_ring<2, 128x256xf32>
!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
!accs = !moek.acc_ring<2, 128x256xf32>
func.func @roundtrip(%out: !llvm.ptr<1>, %i: index, %j: index, %row: index, %end: index, %on: i1) -> index {
  %ring = moek.ring_alloc consumers(1) : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !accs
  %issuer = moek.elect_one {warp = 1 : i64}
  moek.acc_acquire %accs[%j] : !accs
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%on) : !ring, !accs
  moek.mma_release %ring[%i] : !ring
  moek.acc_commit %accs[%j], %row : !accs
  %t = moek.acc_wait %accs[%j] : !accs
  moek.acc_store_rows %accs[%j] cols(%row, 128), %out[%row, %row] row_limit(%end) {element_type = bf16, ld = 4096 : i64} : !accs, !llvm.ptr<1>
  moek.acc_release %accs[%j] : !accs
  return %t : index
}

// -----

// expected-error @+1 {{!moek.acc_ring expects 128 rows (one per tensor-memory lane), got 64}}
func.func @rows(%a: !moek.acc_ring<2, 64x128xf32>)

// -----

// expected-error @+1 {{!moek.acc_ring expects 32..256 columns in steps of 32 (tcgen05.ld reads 32 at a time), got 200}}
func.func @cols(%a: !moek.acc_ring<2, 128x200xf32>)

// -----

// expected-error @+1 {{!moek.acc_ring expects at least one accumulator and at most 512 tensor-memory columns in all, got 3 x 256}}
func.func @columns(%a: !moek.acc_ring<3, 128x256xf32>)

// -----

// expected-error @+1 {{!moek.acc_ring expects f32 accumulation, got 'f16'}}
func.func @element(%a: !moek.acc_ring<2, 128x128xf16>)

// -----

func.func @consumers() {
  // expected-error @+1 {{'moek.acc_ring_alloc' op expects at least one consumer thread, got 0}}
  %accs = moek.acc_ring_alloc {consumers = 0 : i64} : !moek.acc_ring<2, 128x256xf32>
  return
}

// -----

func.func @warp() {
  // expected-error @+1 {{'moek.elect_one' op expects a warp of the warpgroup (0 to 3), got 4}}
  %e = moek.elect_one {warp = 4 : i64}
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
func.func @narrow_b(%i: index, %on: i1) {
  %ring = moek.ring_alloc consumers(1) : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
  // expected-error @+1 {{'moek.mma_tmem' op expects tile a of the accumulators' 128 rows and tile b of at least 256 rows, got 'memref<128x64xbf16, 3>' and 'memref<128x64xbf16, 3>'}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%i] accumulate(%on) : !ring, !moek.acc_ring<2, 128x256xf32>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x128xf8E4M3FN, 3>]>
func.func @mixed(%i: index, %on: i1) {
  %ring = moek.ring_alloc consumers(1) : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
  // expected-error @+1 {{'moek.mma_tmem' op expects tiles a and b both bf16 or both f8E4M3FN, got 'bf16' and 'f8E4M3FN'}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%i] accumulate(%on) : !ring, !moek.acc_ring<2, 128x256xf32>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
func.func @tile_index(%i: index, %on: i1) {
  %ring = moek.ring_alloc consumers(1) : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
  // expected-error @+1 {{'moek.mma_tmem' op expects tile indices in [0, 2), got a = 0, b = 2}}
  moek.mma_tmem %ring[%i] a(0) b(2), %accs[%i] accumulate(%on) : !ring, !moek.acc_ring<2, 128x256xf32>
  return
}

// -----

func.func @store_cols(%out: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
  // expected-error @+1 {{'moek.acc_store_rows' op expects cols a positive multiple of 32 (one tcgen05.ld), at most the accumulator's 128, got 256}}
  moek.acc_store_rows %accs[%i] cols(%i, 256), %out[%i, %i] row_limit(%i) {element_type = bf16, ld = 4096 : i64} : !moek.acc_ring<2, 128x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @store_type(%out: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
  // expected-error @+1 {{'moek.acc_store_rows' op stores bf16 or f32, got 'f16'}}
  moek.acc_store_rows %accs[%i] cols(%i, 64), %out[%i, %i] row_limit(%i) {element_type = f16, ld = 4096 : i64} : !moek.acc_ring<2, 128x128xf32>, !llvm.ptr<1>
  return
}

// -----

// A CTA pair: each CTA's tile b holds half of B's rows; its copies complete
// on the even CTA's barrier.
// CHECK-LABEL: func.func @pair
// CHECK:         moek.acc_ring_alloc {consumers = 256 : i64, cta_pair} : !moek.acc_ring<2, 128x256xf32>
// CHECK:         moek.tma_load %{{.+}}[%{{.+}}, %{{.+}}] -> %{{.+}}[%{{.+}}] tile 1 {leader_barrier} : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
// CHECK:         moek.mma_tmem
!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
func.func @pair(%desc: !llvm.ptr, %i: index, %on: i1) {
  %ring = moek.ring_alloc consumers(1) : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64, cta_pair} : !moek.acc_ring<2, 128x256xf32>
  moek.tma_load %desc[%i, %i] -> %ring[%i] tile 1 {leader_barrier} : !llvm.ptr, !ring
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%i] accumulate(%on) : !ring, !moek.acc_ring<2, 128x256xf32>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<64x64xbf16, 3>]>
func.func @pair_half_b(%i: index, %on: i1) {
  %ring = moek.ring_alloc consumers(1) : !ring
  %accs = moek.acc_ring_alloc {consumers = 256 : i64, cta_pair} : !moek.acc_ring<2, 128x256xf32>
  // expected-error @+1 {{'moek.mma_tmem' op expects tile a of the accumulators' 128 rows and tile b of at least 128 rows, got 'memref<128x64xbf16, 3>' and 'memref<64x64xbf16, 3>'}}
  moek.mma_tmem %ring[%i] a(0) b(1), %accs[%i] accumulate(%on) : !ring, !moek.acc_ring<2, 128x256xf32>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
func.func @leader_multicast(%desc: !llvm.ptr, %i: index) {
  %ring = moek.ring_alloc consumers(256) {cluster = 2 : i64} : !ring
  // expected-error @+1 {{'moek.tma_load' op completes on the CTA pair's even barrier (leader_barrier), so it cannot multicast}}
  moek.tma_load %desc[%i, %i] -> %ring[%i] tile 1 {leader_barrier, multicast} : !llvm.ptr, !ring
  return
}

// -----

// CHECK-LABEL: func.func @act_rows
// CHECK:         moek.acc_store_act_rows %{{.+}}[%{{.+}}] cols(%{{.+}}, 64), %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) row_weights(%{{.+}}) {activation = "clamped_swiglu", alpha = 1.702000e+00 : f32, element_type = bf16, gemm1_type = f32, layout = "interleaved", ld = 2880 : i64, limit = 7.000000e+00 : f32} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
// CHECK:         moek.acc_store_act_rows %{{.+}}[%{{.+}}] cols(%{{.+}}, 32), %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) row_weights(%{{.+}}) out_scales(%{{.+}}) {activation = "swiglu", element_type = f8E4M3FN, gemm1_type = bf16, ld = 2048 : i64} : !moek.acc_ring<2, 128x128xf32>, !llvm.ptr<1>
func.func @act_rows(%out: !llvm.ptr<1>, %rw: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
  moek.acc_store_act_rows %accs[%i] cols(%i, 64), %out[%i, %i] row_limit(%i) row_weights(%rw) {activation = "clamped_swiglu", alpha = 1.702 : f32, limit = 7.0 : f32, layout = "interleaved", gemm1_type = f32, element_type = bf16, ld = 2880 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
  // MXFP8 activations (e4m3 and UE8M0 scales) from a 128-column accumulator.
  %mx = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
  moek.acc_store_act_rows %mx[%i] cols(%i, 32), %out[%i, %i] row_limit(%i) row_weights(%rw) out_scales(%rw) {activation = "swiglu", gemm1_type = bf16, element_type = f8E4M3FN, ld = 2048 : i64} : !moek.acc_ring<2, 128x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @act_rows_narrow(%out: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x64xf32>
  // expected-error @+1 {{'moek.acc_store_act_rows' op expects accumulators of 256 or 128 columns (a gate and an up block of 128 or 64), got '!moek.acc_ring<2, 128x64xf32>'}}
  moek.acc_store_act_rows %accs[%i] cols(%i, 32), %out[%i, %i] row_limit(%i) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 2048 : i64} : !moek.acc_ring<2, 128x64xf32>, !llvm.ptr<1>
  return
}

// -----

// 64 output columns in a 128-column accumulator.
func.func @act_rows_half_cols(%out: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
  // expected-error @+1 {{'moek.acc_store_act_rows' op expects cols a multiple of 32 up to the 64 output columns, got 96}}
  moek.acc_store_act_rows %accs[%i] cols(%i, 96), %out[%i, %i] row_limit(%i) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 2048 : i64} : !moek.acc_ring<2, 128x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @act_rows_mx_bf16(%out: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
  // expected-error @+1 {{'moek.acc_store_act_rows' op expects f8E4M3FN elements and ld a multiple of 32 (1x32 blocks) with out_scales, got 'bf16' and 2048}}
  moek.acc_store_act_rows %accs[%i] cols(%i, 32), %out[%i, %i] row_limit(%i) out_scales(%out) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 2048 : i64} : !moek.acc_ring<2, 128x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @act_rows_e4m3_no_scales(%out: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
  // expected-error @+1 {{'moek.acc_store_act_rows' op stores f8E4M3FN only with out_scales (MXFP8)}}
  moek.acc_store_act_rows %accs[%i] cols(%i, 32), %out[%i, %i] row_limit(%i) {activation = "swiglu", gemm1_type = bf16, element_type = f8E4M3FN, ld = 2048 : i64} : !moek.acc_ring<2, 128x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @act_rows_cols(%out: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
  // expected-error @+1 {{'moek.acc_store_act_rows' op expects cols a multiple of 32 up to the 128 output columns, got 256}}
  moek.acc_store_act_rows %accs[%i] cols(%i, 256), %out[%i, %i] row_limit(%i) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 2048 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @act_rows_kind(%out: !llvm.ptr<1>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
  // expected-error @+1 {{'moek.acc_store_act_rows' op expects activation 'swiglu', 'clamped_swiglu', 'gelu_mul' or 'gelu_tanh_mul', got 'relu'}}
  moek.acc_store_act_rows %accs[%i] cols(%i, 64), %out[%i, %i] row_limit(%i) {activation = "relu", gemm1_type = bf16, element_type = bf16, ld = 2048 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
  return
}

// -----

// CHECK-LABEL: func.func @promote
// CHECK:         %{{.+}} = moek.acc_promote_rows %{{.+}}[%{{.+}}] cols(%{{.+}}, %{{.+}}), %{{.+}}[%{{.+}}, %{{.+}}] ws(%{{.+}}[%{{.+}}]) row_limit(%{{.+}}) {ld = 56 : i64} : !moek.acc_ring<4, 128x128xf32>, vector<64xf32>
// CHECK:         moek.store_thread_row %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) {element_type = bf16, ld = 4096 : i64} : vector<64xf32>, !llvm.ptr<1>
func.func @promote(%xs: !llvm.ptr<1>, %ws: !llvm.ptr<1>, %out: !llvm.ptr<1>, %v: vector<64xf32>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<4, 128x128xf32>
  %p = moek.acc_promote_rows %accs[%i] cols(%i, %v), %xs[%i, %i] ws(%ws[%i]) row_limit(%i) {ld = 56 : i64} : !moek.acc_ring<4, 128x128xf32>, vector<64xf32>
  moek.store_thread_row %p, %out[%i, %i] row_limit(%i) {element_type = bf16, ld = 4096 : i64} : vector<64xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @promote_wide(%xs: !llvm.ptr<1>, %ws: !llvm.ptr<1>, %v: vector<256xf32>, %i: index) {
  %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<4, 128x128xf32>
  // expected-error @+1 {{'moek.acc_promote_rows' op expects a vector of a multiple of 32 values (one tcgen05.ld), at most the accumulator's 128 columns, got 256}}
  %p = moek.acc_promote_rows %accs[%i] cols(%i, %v), %xs[%i, %i] ws(%ws[%i]) row_limit(%i) {ld = 56 : i64} : !moek.acc_ring<4, 128x128xf32>, vector<256xf32>
  return
}

// -----

func.func @store_row_count(%out: !llvm.ptr<1>, %v: vector<48xf32>, %i: index) {
  // expected-error @+1 {{'moek.store_thread_row' op expects a multiple of 32 values, got 48}}
  moek.store_thread_row %v, %out[%i, %i] row_limit(%i) {element_type = bf16, ld = 4096 : i64} : vector<48xf32>, !llvm.ptr<1>
  return
}
