// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fp8-tile-rows=128" -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fp8-tile-rows=128 dispatch-readiness=true" 2>&1 | FileCheck %s --check-prefix=READY
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fp8-tile-rows=0" -verify-diagnostics | FileCheck %s --check-prefix=AUTO
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s --check-prefix=AUTO
// RUN: not moe-opt %s --convert-moe-to-moek="fp8-tile-rows=96" 2>&1 | FileCheck %s --check-prefix=BAD

// fp8-tile-rows=128: the FP8 fused kernel's tiles have 128 rows, and MMA
// warpgroup w takes rows 64 w to 64 w + 63 of each, all 256 columns, in
// two halves (weight tiles 1 and 2) through one partial accumulator: per K
// block the MMAs of half 0, the wait, the promotion into the first main
// accumulator; the same for half 1 into the second (no turns between the
// warpgroups). So a stage holds 128 rows and 256 weight rows (48 KB), and no
// exchange buffer: GEMM1's warpgroup holds both the gate's and the up's
// columns of its rows and applies the activation alone (store_act_fp8
// without `half`), then signals its own 64-row block (readiness index +
// warpgroup); GEMM2's producer waits for the tile's first block and, where
// the tile has rows past 64, its second, each signalled once a GEMM1 tile
// (I / 128 = 2 times). The second warpgroup of a tile without rows of its
// own passes the stages.
// CHECK-LABEL: llvm.func @layer_fused_moe_0(
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>
// CHECK-NEXT:    moek.smem_alloc {bytes = 32768 : i64}
// CHECK-NOT:     moek.smem_alloc
// CHECK:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// CHECK:         moek.grouped_tile_count %{{.+}} {col_tiles = 1 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// CHECK:         moek.warp_role "producer"
// CHECK:           moek.tma_load {{.*}} tile 0 :
// CHECK:           moek.tma_load {{.*}} tile 0 {row_offset = 64 : i64}
// CHECK:           moek.tma_load {{.*}} tile 1
// CHECK:           moek.tma_load {{.*}} tile 2
// CHECK:           moek.wait_counter %[[CNT:[0-9a-z_]+]][%{{.+}}] geq(%c2
// CHECK:           %[[ROW64:.+]] = arith.addi %row, %c64
// CHECK-NEXT:      %[[HAS:.+]] = arith.cmpi ult, %[[ROW64]], %row_end
// CHECK-NEXT:      scf.if %[[HAS]] {
// CHECK:             %[[SECOND:.+]] = arith.addi %{{.+}}, %c1
// CHECK:             moek.wait_counter %[[CNT]][%[[SECOND]]] geq(%c2
// CHECK:         moek.warp_role "consumer"
// No turns: each warpgroup issues as it goes.
// CHECK-NOT:       moek.barrier_arrive id(11)
// The first warpgroup, rows 0-63 of the tile.
// CHECK:           moek.mma %[[RING]][%[[I:.+]]] a(0, %c0) b(1) acc(%{{.+}}) {zero_init}
// CHECK:           moek.mma_wait
// CHECK-NEXT:      moek.mma_promote
// CHECK-NEXT:      moek.mma %[[RING]][%[[I]]] a(0, %c0) b(2) acc(%{{.+}}) {zero_init}
// CHECK-NEXT:      moek.mma_wait
// CHECK-NEXT:      moek.ring_release %[[RING]][%[[I]]]
// CHECK-NEXT:      moek.mma_promote
// The second warpgroup, rows 64-127, or (no rows there) its stages passed.
// CHECK:           moek.mma %[[RING]][%{{.+}}] a(0, %c64{{.*}}) b(1) acc(%{{.+}}) {zero_init}
// CHECK:           moek.mma %[[RING]][%{{.+}}] a(0, %c64{{.*}}) b(2) acc(%{{.+}}) {zero_init}
// CHECK:           moek.ring_wait
// CHECK-NEXT:      moek.ring_release
// GEMM1's epilogue: the tile decoded again (its values are not kept
// across the K loops, where 192 accumulator registers leave too few: ptxas
// spilled them), the warpgroup's rows, the whole-row activation, its
// block's signal.
// CHECK:           %{{[^,]+}}, %{{[^,]+}}, %[[END1:[^,]+]], %{{[^,]+}} = moek.grouped_tile
// CHECK:           moek.store_act_fp8 %[[ACC:.+]]#0, %[[ACC]]#1, {{.*}} row_limit(%[[END1]]) {{.*}} {activation = "swiglu", approx, gemm1_type = bf16, ld = 256 : i64}
// CHECK:           moek.signal
// GEMM2: after its K loops the tile decoded again, each half of the
// warpgroup's 64 x 256 by TMA.
// CHECK:           moek.grouped_tile %{{.+}} {col_tiles = 1
// CHECK:           moek.mma_promote
// CHECK:           %{{[^,]+}}, %{{[^,]+}}, %[[END2:[^,]+]], %{{[^,]+}} = moek.grouped_tile
// CHECK:           moek.store_acc_tma {{.*}} row_limit(%[[END2]])
// CHECK:           moek.store_acc_tma {{.*}} row_limit(%[[END2]])
// CHECK:           moek.combine
func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight before_down>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// With dispatch-readiness (or FP4 weights, sm_100a, expert parallelism)
// the option does not apply: a remark, and 64-row tiles.
// READY: remark: convert-moe-to-moek: fp8-tile-rows=128 not applied (it takes FP8 weights on sm_90a, one GPU, without dispatch-readiness): 64-row tiles
// READY: moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 64 : i64}

// fp8-tile-rows=0 (auto, the default): the 64-row kernel, and the 128-row
// one as its variant from T = 64 E / K = 256 tokens (64 rows an expert on
// average).
// AUTO:       llvm.func @layer_fused_moe_0(
// AUTO-SAME:    moek.variants = [{kernel = @layer_fused_moe_0_m128, min_tokens = 256 : i64}]
// AUTO:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 64 : i64}
// AUTO:       llvm.func @layer_fused_moe_0_m128(
// AUTO:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}

// BAD: convert-moe-to-moek: fp8-tile-rows must be 0 (auto), 64 or 128, got 96
