// The ops of the fused kernels' gathered rows (convert-moe-to-moek's
// gather-rows): moek.dispatch with row_tokens (no copy), moek.load_row_tokens
// (a producer warp's lanes' tokens of a tile, once a tile) and
// moek.gather_rows (their cp.async copies of the token rows into a stage).
// Round trip and every verifier error.
// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file -verify-diagnostics | moe-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @roundtrip
// CHECK:         moek.dispatch %arg0, %arg1, %arg2 tokens(%arg4) counts(%arg3) cursor(%arg3) offsets(%arg3) slot_rows(%arg3) row_weights(%arg3) row_tokens(%arg3) barrier(%arg3) {hidden = 512 : i64, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64}
// CHECK:         moek.dispatch %arg0, %arg1, %arg2 tokens(%arg4) counts(%arg3) cursor(%arg3) offsets(%arg3) slot_rows(%arg3) row_weights(%arg3) rows(%arg3) row_tokens(%arg3) row_scales(%arg3) barrier(%arg3) {hidden = 512 : i64, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64}
// CHECK:         %[[TOK:.+]] = moek.load_row_tokens row_tokens(%arg3) row(%arg4) row_end(%arg5) : vector<8xi32>
// CHECK:         moek.gather_rows %{{.+}}[%arg4] tile 0 x(%arg0) tokens(%[[TOK]]) k(%arg6) {hidden = 512 : i64} : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>, vector<8xi32>
// CHECK:         moek.ring_arrive_copies %{{.+}}[%arg4]
// CHECK:         moek.gather_rows %{{.+}}[%arg4] tile 0 x(%arg0) tokens(%[[TOK]]) k(%arg6) {hidden = 512 : i64, l2_hint = "evict_last"}
// CHECK:         %[[TOK4:.+]] = moek.load_row_tokens row_tokens(%arg3) row(%arg4) row_end(%arg5) : vector<4xi32>
// CHECK:         moek.gather_rows %{{.+}}[%arg4] tile 0 x(%arg0) tokens(%[[TOK4]]) k(%arg6) {hidden = 256 : i64} : !moek.ring<4, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>, vector<4xi32>
!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
func.func @roundtrip(%x: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %ws: !llvm.ptr<1>, %i: index, %end: index, %k: index) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  moek.dispatch %x, %ids, %w tokens(%i) counts(%ws) cursor(%ws) offsets(%ws) slot_rows(%ws) row_weights(%ws) row_tokens(%ws) barrier(%ws) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
  moek.dispatch %x, %ids, %w tokens(%i) counts(%ws) cursor(%ws) offsets(%ws) slot_rows(%ws) row_weights(%ws) rows(%ws) row_tokens(%ws) row_scales(%ws) barrier(%ws) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
  %tok = moek.load_row_tokens row_tokens(%ws) row(%i) row_end(%end) : vector<8xi32>
  moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%tok) k(%k) {hidden = 512 : i64} : !ring, vector<8xi32>
  moek.ring_arrive_copies %ring[%i] : !ring
  moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%tok) k(%k) {hidden = 512 : i64, l2_hint = "evict_last"} : !ring, vector<8xi32>
  %fp8 = moek.ring_alloc consumers(256) {producers = 33 : i64} : !moek.ring<4, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>
  %tok4 = moek.load_row_tokens row_tokens(%ws) row(%i) row_end(%end) : vector<4xi32>
  moek.gather_rows %fp8[%i] tile 0 x(%x) tokens(%tok4) k(%k) {hidden = 256 : i64} : !moek.ring<4, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>, vector<4xi32>
  return
}

// -----

func.func @dispatch_neither(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects rows (the rows copied) or row_tokens (each row's token recorded), or both (FP8 rows stored once per token)}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
  return
}

// -----

func.func @dispatch_tokens_bf16_rows(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects row_tokens either alone (bf16 rows, not copied) or with rows and row_scales (FP8 rows quantized once per token)}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_tokens(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
  return
}

// -----

func.func @dispatch_tokens_scales_alone(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects row_tokens either alone (bf16 rows, not copied) or with rows and row_scales (FP8 rows quantized once per token)}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) row_tokens(%p) row_scales(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
  return
}

// -----

func.func @dispatch_tokens_mx_round(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects row_tokens without rows_ready, mx_round or permute_k}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) row_tokens(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64, mx_round}
  return
}

// -----

func.func @dispatch_tokens_fp8_top_k(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects top_k at most 32 with FP8 rows stored once per token (a warp's lanes place a token's slots), got 33}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_tokens(%p) row_scales(%p) barrier(%p) {num_experts = 64 : i64, top_k = 33 : i64, hidden = 512 : i64, phase = 1 : i64}
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
func.func @gather_tile_index(%x: !llvm.ptr<1>, %i: index, %t: vector<8xi32>) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.gather_rows' op expects a tile index in [0, 2), got 2}}
  moek.gather_rows %ring[%i] tile 2 x(%x) tokens(%t) k(%i) {hidden = 512 : i64} : !ring, vector<8xi32>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xf8E4M3FN, 3>, memref<256x128xf8E4M3FN, 3>]>
func.func @gather_fp8_tile(%x: !llvm.ptr<1>, %i: index, %t: vector<8xi32>) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.gather_rows' op expects a tile of 128-byte rows (bf16 x 64 or e4m3 x 128) and a multiple of 16 rows, got 'memref<128x64xf8E4M3FN, 3>'}}
  moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%t) k(%i) {hidden = 512 : i64} : !ring, vector<8xi32>
  return
}

// -----

!ring = !moek.ring<4, [memref<24x64xbf16, 3>, memref<256x64xbf16, 3>]>
func.func @gather_few_rows(%x: !llvm.ptr<1>, %i: index, %t: vector<8xi32>) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.gather_rows' op expects a tile of 128-byte rows (bf16 x 64 or e4m3 x 128) and a multiple of 16 rows, got 'memref<24x64xbf16, 3>'}}
  moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%t) k(%i) {hidden = 512 : i64} : !ring, vector<8xi32>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
func.func @gather_hidden(%x: !llvm.ptr<1>, %i: index, %t: vector<8xi32>) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.gather_rows' op expects hidden a positive multiple of the tile's 64 columns (whole K slices), got 96}}
  moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%t) k(%i) {hidden = 96 : i64} : !ring, vector<8xi32>
  return
}

// -----

!ring = !moek.ring<4, [memref<64x128xf8E4M3FN, 3>, memref<256x128xf8E4M3FN, 3>]>
func.func @gather_token_count(%x: !llvm.ptr<1>, %i: index, %t: vector<8xi32>) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.gather_rows' op expects 4 tokens a lane (the tile's rows / 16), got 'vector<8xi32>'}}
  moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%t) k(%i) {hidden = 512 : i64} : !ring, vector<8xi32>
  return
}

// -----

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
func.func @gather_hint(%x: !llvm.ptr<1>, %i: index, %t: vector<8xi32>) {
  %ring = moek.ring_alloc consumers(256) {producers = 33 : i64} : !ring
  // expected-error @+1 {{'moek.gather_rows' op expects l2_hint "evict_first" or "evict_last", got "evict_normal"}}
  moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%t) k(%i) {hidden = 512 : i64, l2_hint = "evict_normal"} : !ring, vector<8xi32>
  return
}
