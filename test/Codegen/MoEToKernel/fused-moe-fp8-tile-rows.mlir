// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fp8-tile-rows=128 fp8-staged-scales=false" -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fp8-tile-rows=128 dispatch-readiness=true" 2>&1 | FileCheck %s --check-prefix=READY
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fp8-tile-rows=0" -verify-diagnostics | FileCheck %s --check-prefix=AUTO
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s --check-prefix=AUTO
// RUN: not moe-opt %s --convert-moe-to-moek="fp8-tile-rows=96" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fp8-tile-rows=128" | FileCheck %s --check-prefix=STAGED
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fp8-tile-rows=128" --moek-to-nvvm-pipeline=chip=sm_90a -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=STAGED-PTX < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a %t.ptx -o %t.cubin %}

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
// ones as its variants from T = 64 E / K = 256 tokens (64 rows an expert on
// average): the one with staged scales first (224 consumer registers), the
// same with 216 after it, then the plain one, all for the same token counts
// (where ptxas spills in one, an artifact leaves it out and the next runs).
// AUTO:       llvm.func @layer_fused_moe_0(
// AUTO-SAME:    moek.variants = [{kernel = @layer_fused_moe_0_m128s, min_tokens = 256 : i64}, {kernel = @layer_fused_moe_0_m128s216, min_tokens = 256 : i64}, {kernel = @layer_fused_moe_0_m128, min_tokens = 256 : i64}]
// AUTO:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 64 : i64}
// AUTO:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(232)
// AUTO:       llvm.func @layer_fused_moe_0_m128s(
// AUTO:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// AUTO:         moek.stage_block_scales
// AUTO:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(224)
// AUTO:       llvm.func @layer_fused_moe_0_m128s216(
// AUTO:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// AUTO:         moek.stage_block_scales
// AUTO:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(216)
// AUTO:       llvm.func @layer_fused_moe_0_m128(
// AUTO:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// AUTO-NOT:     moek.stage_block_scales

// BAD: convert-moe-to-moek: fp8-tile-rows must be 0 (auto), 64 or 128, got 96

// fp8-staged-scales (the default; the checks above are of the plain
// kernel, fp8-staged-scales=false): each stage has a fourth tile, 1 KB of
// bytes, into which warp 0 of the producer warpgroup (a tile loop per warp:
// moek.fetch_add {warp}) copies the K block's 128 row scales and two
// weight scales (moek.stage_block_scales, cp.async) beside lane 0's TMA
// copies, then each lane arrives on the stage's full barrier when its
// copies land (1 + 32 arrivals). The dispatch and GEMM1's epilogue store
// the row scales block-major (scales_stride = the workspace's 8192 rows:
// T K at max-tokens 4096), so a stage's are 512 contiguous bytes
// (kb_stride). Each MMA warpgroup reads its rows' two scales and the two
// weight scales from the stage while its first half's MMAs run
// (moek.load_staged_scales), with nothing carried across K blocks, and
// has 224 registers (ptxas spilled more with 232 here).
// STAGED-LABEL: llvm.func @layer_fused_moe_0(
// STAGED:         %[[RING:.+]] = moek.ring_alloc consumers(256) {producers = 33 : i64} : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<256x4xi8, 3>]>
// STAGED:         moek.dispatch {{.*}} row_scales(%[[XS:[^)]+]]) {{.*}}scales_stride = 8192 : i64
// STAGED:         moek.warp_role "producer" warpgroups(0, 1) max_regs(40)
// STAGED:           moek.fetch_add {{.*}} {warp}
// STAGED:           moek.tma_load {{.*}} tile 2
// STAGED:           moek.stage_block_scales %[[RING]][%[[S1:.+]]] tile 3 rows(%[[XS]][%row, %{{.+}}]) last(%{{.+}}) weights(%arg8[%{{.+}}, %{{.+}}]) {kb_stride = 8192 : i64, ld = 1 : i64, rows = 128 : i64}
// STAGED-NEXT:      moek.ring_arrive_copies %[[RING]][%[[S1]]]
// STAGED:           moek.stage_block_scales %[[RING]][%[[S2:.+]]] tile 3 rows(%[[AS:[0-9a-z_]+]][%row, %{{.+}}]) {{.*}} weights(%arg9[%{{.+}}, %{{.+}}]) {kb_stride = 8192 : i64, ld = 1 : i64, rows = 128 : i64}
// STAGED-NEXT:      moek.ring_arrive_copies %[[RING]][%[[S2]]]
// STAGED:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(224)
// STAGED:           moek.mma %[[RING]][%[[I:[0-9a-z_]+]]] a(0, %c0) b(1) acc(%{{.+}}) {zero_init}
// STAGED-NEXT:      %[[RS:.+]], %[[W0:.+]], %[[W1:.+]] = moek.load_staged_scales %[[RING]][%[[I]]] tile 3 row(%c0) {rows = 128 : i64}
// STAGED-NEXT:      moek.mma_wait
// STAGED-NEXT:      moek.mma_promote %{{.+}}, %{{.+}} scales(%[[RS]], %[[W0]])
// STAGED-NEXT:      moek.mma %[[RING]][%[[I]]] a(0, %c0) b(2) acc(%{{.+}}) {zero_init}
// STAGED-NEXT:      moek.mma_wait
// STAGED-NEXT:      moek.ring_release %[[RING]][%[[I]]]
// STAGED-NEXT:      moek.mma_promote %{{.+}}, %{{.+}} scales(%[[RS]], %[[W1]])
// STAGED:           moek.load_staged_scales %[[RING]][%{{.+}}] tile 3 row(%c64{{.*}}) {rows = 128 : i64}
// STAGED:           moek.store_act_fp8 {{.*}} scales(%[[AS]]) {{.*}}scales_stride = 8192 : i64
// STAGED-NOT:       moek.load_rows
// STAGED:           moek.combine
// In PTX: per stage each lane's four 4-byte copies of its rows' scales
// (32 j + lane: 128 bytes apart in the scale tile, 48 KB into the stage),
// lanes 0 and 1 one more (a weight scale), the lane's copy arrival; the
// reads at 32-bit shared addresses, rows r and r + 8 and the two weight
// scales.
// STAGED-PTX-LABEL: .entry layer_fused_moe_0(
// STAGED-PTX:       cp.async.ca.shared.global [%rd[[D:[0-9]+]]+49152], [%rd{{[0-9]+}}{{.*}}], 4;
// STAGED-PTX:       cp.async.ca.shared.global [%rd[[D]]+49280], [%rd{{[0-9]+}}{{.*}}], 4;
// STAGED-PTX:       cp.async.ca.shared.global [%rd[[D]]+49408], [%rd{{[0-9]+}}{{.*}}], 4;
// STAGED-PTX:       cp.async.ca.shared.global [%rd[[D]]+49536], [%rd{{[0-9]+}}{{.*}}], 4;
// STAGED-PTX:       cp.async.ca.shared.global [%rd{{[0-9]+}}], [%rd{{[0-9]+}}], 4;
// STAGED-PTX:       cp.async.mbarrier.arrive.noinc.shared.b64
// STAGED-PTX:       ld.shared.f32 %r{{[0-9]+}}, [%r[[A:[0-9]+]]];
// STAGED-PTX-NEXT:  ld.shared.f32 %r{{[0-9]+}}, [%r[[A]]+32];
// STAGED-PTX:       ld.shared.v2.f32 {%r{{[0-9]+}}, %r{{[0-9]+}}}, [%r{{[0-9]+}}];
