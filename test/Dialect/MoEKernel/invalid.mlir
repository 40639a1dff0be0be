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

func.func @negative_grouped_tile_tail_rows(%offsets: !llvm.ptr<1>, %t: index) -> index {
  // expected-error @+1 {{'moek.grouped_tile' op expects tail_rows in [0, tile_rows), got 128}}
  %e, %row, %end, %ct = moek.grouped_tile %offsets[%t] {num_experts = 8 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64, tail_rows = 128 : i64} : !llvm.ptr<1>
  return %row : index
}

// -----

func.func @negative_grouped_tile_count_tail_rows(%offsets: !llvm.ptr<1>) -> index {
  // expected-error @+1 {{'moek.grouped_tile_count' op expects tail_rows in [0, tile_rows), got -1}}
  %n = moek.grouped_tile_count %offsets {num_experts = 8 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64, tail_rows = -1 : i64} : !llvm.ptr<1>
  return %n : index
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

// expected-error @+1 {{!moek.ring expects unstaged tile indices below its 2 tiles, got 2}}
func.func @negative_ring_unstaged_index(%r: !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>], unstaged [2]>) {
  return
}

// -----

// expected-error @+1 {{!moek.ring expects its unstaged tile indices strictly increasing, got 0 after 1}}
func.func @negative_ring_unstaged_order(%r: !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xbf16, 3>], unstaged [1, 0]>) {
  return
}

// -----

// expected-error @+1 {{!moek.ring expects at least one staged tile}}
func.func @negative_ring_all_unstaged(%r: !moek.ring<4, [memref<128x64xbf16, 3>], unstaged [0]>) {
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

// -----

func.func @negative_grid_barrier_phase(%c: !llvm.ptr<1>) {
  // expected-error @+1 {{'moek.grid_barrier' op expects a phase >= 1 (the barrier's number in the kernel), got 0}}
  moek.grid_barrier %c phase(0) id(0) threads(384)
  return
}

// -----

func.func @negative_grid_barrier_threads(%c: !llvm.ptr<1>) {
  // expected-error @+1 {{'moek.grid_barrier' op expects a thread count in [32, 1024], a multiple of 32 (whole warps), got 100}}
  moek.grid_barrier %c phase(1) id(4) threads(100)
  return
}

// -----

func.func @negative_dispatch_hidden(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects hidden a positive multiple of 8 (rows are copied in 16-byte pieces), got 100}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 100 : i64, phase = 1 : i64}
  return
}

// -----

func.func @negative_combine_type(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.combine' op expects bf16 or f32 rows, got 'f16'}}
  moek.combine %p, %p out(%p) tokens(%t) {top_k = 2 : i64, hidden = 512 : i64, y_type = f16, element_type = bf16, first_thread = 128 : i64, threads = 256 : i64}
  return
}

// -----

func.func @negative_combine_threads(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.combine' op expects whole warps: first_thread and threads multiples of 32, threads >= 32, within 1024; got 100 and 256}}
  moek.combine %p, %p out(%p) tokens(%t) {top_k = 2 : i64, hidden = 512 : i64, y_type = bf16, element_type = bf16, first_thread = 100 : i64, threads = 256 : i64}
  return
}

// -----

func.func @negative_store_act_width(%p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x128xf32>
  // expected-error @+1 {{'moek.store_act' op expects a 64x256 accumulator (a gate and an up block of 128 columns), got '!moek.acc<64x128xf32>'}}
  moek.store_act %acc, %p[%t, %t] row_limit(%t) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @negative_store_act_kind(%p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x256xf32>
  // expected-error @+1 {{'moek.store_act' op expects activation 'swiglu', 'clamped_swiglu', 'gelu_mul' or 'gelu_tanh_mul', got 'relu'}}
  moek.store_act %acc, %p[%t, %t] row_limit(%t) {activation = "relu", gemm1_type = bf16, element_type = bf16, ld = 256 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @negative_store_act_layout(%p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x256xf32>
  // expected-error @+1 {{'moek.store_act' op expects layout 'concat' or 'interleaved', got 'blocked'}}
  moek.store_act %acc, %p[%t, %t] row_limit(%t) {activation = "swiglu", layout = "blocked", gemm1_type = bf16, element_type = bf16, ld = 256 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @negative_load_rows_ld(%xs: !llvm.ptr<1>, %r: index) -> !moek.rows<64xf32> {
  // expected-error @+1 {{'moek.load_rows' op expects a positive ld, got 0}}
  %s = moek.load_rows %xs[%r, %r] row_limit(%r) {ld = 0 : i64} : !llvm.ptr<1> -> !moek.rows<64xf32>
  return %s : !moek.rows<64xf32>
}

// -----

// expected-error @+1 {{!moek.rows expects 64 rows (one accumulator), got 32}}
func.func private @negative_rows_count(!moek.rows<32xf32>)

// -----

// expected-error @+1 {{!moek.rows expects f32 values, got 'bf16'}}
func.func private @negative_rows_type(!moek.rows<64xbf16>)

// -----

func.func @negative_mma_f16(%ring: !moek.ring<4, [memref<128x64xf16, 3>, memref<128x64xf16, 3>]>, %i: index, %acc: !moek.acc<64x128xf32>) -> !moek.acc<64x128xf32> {
  // expected-error @+1 {{'moek.mma' op supports bf16 and f8E4M3FN tiles, got 'f16'}}
  %a = moek.mma %ring[%i] a(0, %i) b(1) acc(%acc) : !moek.ring<4, [memref<128x64xf16, 3>, memref<128x64xf16, 3>]>, !moek.acc<64x128xf32>
  return %a : !moek.acc<64x128xf32>
}

// -----

func.func @negative_dispatch_block_rows(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects block_rows 64 or 128 (the fused kernels' tile rows), got 96}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_scales(%p) rows_ready(%p) offsets_ready(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64, block_rows = 96 : i64}
  return
}

// -----

func.func @negative_dispatch_ready_alone(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects rows_ready and offsets_ready together}}
  "moek.dispatch"(%p, %p, %p, %t, %p, %p, %p, %p, %p, %p, %p, %p) <{hidden = 512 : i64, num_experts = 8 : i64, phase = 1 : i64, top_k = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0>}> : (!llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, index, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>) -> ()
  return
}

// -----

func.func @negative_ep_dispatch_ready_alone(%p: !llvm.ptr<1>, %t: index, %r: i32, %n: i64) {
  // expected-error @+1 {{'moek.ep_dispatch' op expects seg_ready and offsets_ready together}}
  "moek.ep_dispatch"(%p, %p, %p, %t, %p, %p, %p, %p, %p, %p, %p, %p, %p, %p, %p, %p, %p, %r, %n, %n, %p, %p) <{ranks = 2 : i64, experts_per_rank = 4 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0>}> : (!llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, index, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, !llvm.ptr<1>, i32, i64, i64, !llvm.ptr<1>, !llvm.ptr<1>) -> ()
  return
}

// -----

func.func @negative_mma_cols_step(%ring: !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>, %i: index, %acc: !moek.acc<64x128xf32>) -> !moek.acc<64x128xf32> {
  // expected-error @+1 {{'moek.mma' op expects cols (60) to be a multiple of 8 below the accumulator's columns (128)}}
  %a = moek.mma %ring[%i] a(0, %i) b(1) acc(%acc) {cols = 60 : i64} : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>, !moek.acc<64x128xf32>
  return %a : !moek.acc<64x128xf32>
}

// -----

func.func @negative_mma_cols_whole(%ring: !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>, %i: index, %acc: !moek.acc<64x128xf32>) -> !moek.acc<64x128xf32> {
  // expected-error @+1 {{'moek.mma' op expects cols (128) to be a multiple of 8 below the accumulator's columns (128)}}
  %a = moek.mma %ring[%i] a(0, %i) b(1) acc(%acc) {cols = 128 : i64} : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>, !moek.acc<64x128xf32>
  return %a : !moek.acc<64x128xf32>
}

// -----

// An accumulator wider than tile b's rows.
func.func @negative_mma_acc_wider(%ring: !moek.ring<4, [memref<128x64xbf16, 3>, memref<64x64xbf16, 3>]>, %i: index, %acc: !moek.acc<64x128xf32>) -> !moek.acc<64x128xf32> {
  // expected-error @+1 {{'moek.mma' op expects the accumulator's columns (128) to be at most tile b's rows (64)}}
  %a = moek.mma %ring[%i] a(0, %i) b(1) acc(%acc) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<64x64xbf16, 3>]>, !moek.acc<64x128xf32>
  return %a : !moek.acc<64x128xf32>
}

// -----

func.func @negative_store_act_fp8_ld(%p: !llvm.ptr<1>, %t: index, %g: !moek.acc<64x128xf32>) {
  // expected-error @+1 {{'moek.store_act_fp8' op expects ld a positive multiple of 128 (whole 1x128 blocks), got 192}}
  moek.store_act_fp8 %g, %g, %p[%t, %t] scales(%p) row_limit(%t) {activation = "swiglu", gemm1_type = bf16, ld = 192 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @negative_store_act_fp8_half_without_amax(%p: !llvm.ptr<1>, %t: index, %g: !moek.acc<64x128xf32>) {
  // expected-error @+1 {{'moek.store_act_fp8' op expects half and amax together}}
  moek.store_act_fp8 %g, %g, %p[%t, %t] scales(%p) row_limit(%t) {activation = "swiglu", gemm1_type = bf16, half = 1 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @negative_store_act_fp8_half(%p: !llvm.ptr<1>, %t: index, %g: !moek.acc<64x128xf32>, %a: !llvm.ptr<3>) {
  // expected-error @+1 {{'moek.store_act_fp8' op expects half 0 or 1, got 2}}
  moek.store_act_fp8 %g, %g, %p[%t, %t] scales(%p) row_limit(%t) amax(%a) {activation = "swiglu", gemm1_type = bf16, half = 2 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @negative_acc_store_smem_values(%g: !moek.acc<64x128xf32>, %b: !llvm.ptr<3>) {
  // expected-error @+1 {{'moek.acc_store_smem' op expects values [b, e] with 0 <= b < e <= 64 (the fragment's values a thread)}}
  moek.acc_store_smem %g, %b {values = array<i64: 32, 96>} : !moek.acc<64x128xf32>, !llvm.ptr<3>
  return
}

// -----

func.func @negative_acc_load_smem_values_rows(%b: !llvm.ptr<3>) {
  // expected-error @+1 {{'moek.acc_load_smem' op expects values only with 64 rows, got 16}}
  %a = moek.acc_load_smem %b {rows = 16 : i64, values = array<i64: 0, 32>} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
  return
}

// -----

func.func @negative_store_act_fp8_width(%p: !llvm.ptr<1>, %t: index, %g: !moek.acc<64x256xf32>) {
  // expected-error @+1 {{'moek.store_act_fp8' op expects 64x128 gate and up accumulators}}
  moek.store_act_fp8 %g, %g, %p[%t, %t] scales(%p) row_limit(%t) {activation = "swiglu", gemm1_type = bf16, ld = 256 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @negative_dispatch_quantized_hidden(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.dispatch' op expects hidden a multiple of 128 (1x128 blocks) with row_scales, got 200}}
  moek.dispatch %p, %p, %p tokens(%t) counts(%p) cursor(%p) offsets(%p) slot_rows(%p) row_weights(%p) rows(%p) row_scales(%p) barrier(%p) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 200 : i64, phase = 1 : i64}
  return
}

// -----

func.func @negative_smem_alloc() {
  // expected-error @+1 {{'moek.smem_alloc' op expects a positive size, got 0}}
  %b = moek.smem_alloc {bytes = 0 : i64} : !llvm.ptr<3>
  return
}

// -----

func.func @negative_timestamp_mode(%p: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.timestamp' op expects mode "store", "add", "sub" or "count", got "max"}}
  moek.timestamp %p[%t] {mode = "max"}
  return
}

// -----

func.func @negative_store_acc_tma_width(%tmap: !llvm.ptr, %s: !llvm.ptr<3>, %p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x64xf32>
  // expected-error @+1 {{'moek.store_acc_tma' op stores a warpgroup's 64 x C f32 accumulator (C a multiple of 128: pairs of 64-column boxes, one a staging half), got '!moek.acc<64x64xf32>'}}
  moek.store_acc_tma %acc, %tmap, %s, %p[%t, %t] row_limit(%t) barrier(%t) {halves = 2 : i64, ld = 256 : i64} : !moek.acc<64x64xf32>
  return
}

// -----

func.func @negative_store_acc_tma_transposed_width(%tmap: !llvm.ptr, %s: !llvm.ptr<3>, %p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x96xf32>
  // expected-error @+1 {{'moek.store_acc_tma' op stores a transposed 64 x C f32 accumulator (C a multiple of 64: 64-token blocks, one a staging half), got '!moek.acc<64x96xf32>'}}
  moek.store_acc_tma %acc, %tmap, %s, %p[%t, %t] row_limit(%t) barrier(%t) {halves = 1 : i64, ld = 256 : i64, transposed} : !moek.acc<64x96xf32>
  return
}

// -----

func.func @negative_store_acc_tma_halves(%tmap: !llvm.ptr, %s: !llvm.ptr<3>, %p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x256xf32>
  // expected-error @+1 {{'moek.store_acc_tma' op expects 1 or 2 staging halves, got 4}}
  moek.store_acc_tma %acc, %tmap, %s, %p[%t, %t] row_limit(%t) barrier(%t) {halves = 4 : i64, ld = 256 : i64} : !moek.acc<64x256xf32>
  return
}

// -----

func.func @negative_store_acc_tma_barrier(%tmap: !llvm.ptr, %s: !llvm.ptr<3>, %p: !llvm.ptr<1>, %t: index) {
  %acc = moek.mma_zero : !moek.acc<64x256xf32>
  %b = arith.constant 16 : index
  // expected-error @+1 {{'moek.store_acc_tma' op expects a named barrier in [1, 15], got 16}}
  moek.store_acc_tma %acc, %tmap, %s, %p[%t, %t] row_limit(%t) barrier(%b) {halves = 2 : i64, ld = 256 : i64} : !moek.acc<64x256xf32>
  return
}

// -----

func.func @signal_relay_warpgroup(%p: !llvm.ptr<1>) {
  // expected-error @+1 {{'moek.signal_relay' op expects the warpgroup whose signals it relays to be 1 or 2, got 0}}
  moek.signal_relay %p warpgroup(0)
  return
}
