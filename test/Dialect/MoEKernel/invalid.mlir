// RUN: moe-opt %s -split-input-file -verify-diagnostics

// The moek verifiers: each bad attribute or type gets a diagnostic naming the
// op and the value.

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>

func.func @negative_grouped_tile_zero_rows(%offsets: !llvm.ptr<1>) -> index {
  // expected-error @+1 {{'moek.grouped_tile_count' op expects num_experts, tile_rows and col_tiles >= 1}}
  %n = moek.grouped_tile_count %offsets {num_experts = 8 : i64, tile_rows = 0 : i64, col_tiles = 2 : i64} : !llvm.ptr<1>
  return %n : index
}

// -----

func.func @negative_grouped_tile_row_group(%offsets: !llvm.ptr<1>, %t: index) -> index {
  // expected-error @+1 {{'moek.grouped_tile' op expects row_group >= 1, got 0}}
  %e, %row, %end, %ct = moek.grouped_tile %offsets[%t] {num_experts = 8 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64, row_group = 0 : i64} : !llvm.ptr<1>
  return %row : index
}

// -----

func.func @negative_grouped_tile_no_experts(%offsets: !llvm.ptr<1>, %t: index) -> index {
  // expected-error @+1 {{'moek.grouped_tile' op expects num_experts, tile_rows and col_tiles >= 1}}
  %e, %row, %end, %ct = moek.grouped_tile %offsets[%t] {num_experts = 0 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64} : !llvm.ptr<1>
  return %row : index
}

// -----

func.func @negative_ring_alloc_no_consumers() {
  // expected-error @+1 {{'moek.ring_alloc' op expects at least one consumer arrival, got 0}}
  %ring = moek.ring_alloc consumers(0) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  return
}

// -----

func.func @negative_ring_alloc_in_role() {
  moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
    // expected-error @+1 {{'moek.ring_alloc' op must be outside every moek.warp_role}}
    %ring = moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  }
  return
}

// -----

func.func @negative_warp_role_max_regs() {
  // expected-error @+1 {{'moek.warp_role' op expects max_regs in [24, 256], a multiple of}}
  moek.warp_role "producer" warpgroups(0, 1) max_regs(41) {
  }
  return
}

// -----

func.func @negative_warp_role_empty_range() {
  // expected-error @+1 {{'moek.warp_role' op expects a non-empty warpgroup range, got (1, 0)}}
  moek.warp_role "producer" warpgroups(1, 0) max_regs(40) {
  }
  return
}

// -----

func.func @negative_warpgroup_index_outside_role() -> index {
  // expected-error @+1 {{'moek.warpgroup_index' op must be inside a moek.warp_role}}
  %wg = moek.warpgroup_index
  return %wg : index
}

// -----

func.func @negative_tma_load_tile_index(%tmap: !llvm.ptr, %i: index, %x: index) {
  %ring = moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  // expected-error @+1 {{'moek.tma_load' op expects a tile index in [0, 2), got 2}}
  moek.tma_load %tmap[%x, %x] -> %ring[%i] tile 2 : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  return
}

// -----

// expected-error @+1 {{!moek.ring expects tile rows of 128 bytes}}
func.func @negative_ring_row_bytes(%r: !moek.ring<4, [memref<128x32xbf16, 3>]>) {
  return
}

// -----

// expected-error @+1 {{!moek.acc expects 64 rows (one warpgroup), got 128}}
func.func @negative_acc_rows(%a: !moek.acc<128x128xf32>) {
  return
}

// -----

// expected-error @+1 {{!moek.acc expects f32 accumulation, got 'bf16'}}
func.func @negative_acc_type(%a: !moek.acc<64x128xbf16>) {
  return
}

// -----

func.func @negative_barrier_id_zero() {
  // expected-error @+1 {{'moek.barrier_sync' op expects a barrier id in [1, 15] (0 is the CTA-wide barrier), got 0}}
  moek.barrier_sync id(0) threads(256)
  return
}

// -----

func.func @negative_barrier_threads() {
  // expected-error @+1 {{'moek.barrier_arrive' op expects a thread count in [32, 1024], a multiple of 32 (whole warps), got 100}}
  moek.barrier_arrive id(1) threads(100)
  return
}

// -----

func.func @negative_tma_load_row_offset(%tmap: !llvm.ptr, %i: index, %x: index) {
  %ring = moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  // expected-error @+1 {{'moek.tma_load' op expects row_offset a multiple of 8 in [0, 128), got 130}}
  moek.tma_load %tmap[%x, %x] -> %ring[%i] tile 0 {row_offset = 130 : i64} : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  return
}

// -----

func.func @negative_tma_load_l2_hint(%tmap: !llvm.ptr, %i: index, %x: index) {
  %ring = moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  // expected-error @+1 {{'moek.tma_load' op expects l2_hint "evict_first" or "evict_last", got "evict_normal"}}
  moek.tma_load %tmap[%x, %x] -> %ring[%i] tile 1 {l2_hint = "evict_normal"} : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  return
}

// -----

func.func @negative_ring_alloc_cluster_size() {
  // expected-error @+1 {{'moek.ring_alloc' op expects a cluster of 1 to 16 CTAs, got 17}}
  %ring = moek.ring_alloc consumers(256) {cluster = 17 : i64} : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  return
}

// -----

func.func @negative_ring_alloc_cluster_consumers() {
  // expected-error @+1 {{'moek.ring_alloc' op with cluster = 2 expects consumers to be whole warpgroups (a multiple of 128), got 100}}
  %ring = moek.ring_alloc consumers(100) {cluster = 2 : i64} : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  return
}

// -----

func.func @negative_tma_load_multicast_one_cta(%tmap: !llvm.ptr, %i: index, %x: index) {
  %ring = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  // expected-error @+1 {{'moek.tma_load' op multicasts into a ring of one CTA (its moek.ring_alloc has no cluster > 1)}}
  moek.tma_load %tmap[%x, %x] -> %ring[%i] tile 1 {multicast} : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  return
}

// -----

func.func @negative_cluster_sync_in_role() {
  moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
    // expected-error @+1 {{'moek.cluster_sync' op must be outside every moek.warp_role (every thread of the cluster takes part)}}
    moek.cluster_sync
  }
  return
}
