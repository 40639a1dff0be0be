// convert-moe-to-moek{gather-rows}: the fused kernels without a copy of
// the routed rows. bf16: moek.dispatch records each row's token
// (row_tokens, in the workspace's rows part) instead of copying the row.
// FP8: it quantizes each token's row once into row t of the rows part and
// stores the scales per routed row, the row tokens after the token rows.
// Warp 0 of the producer warpgroup runs the tile loop (moek.fetch_add
// {warp}), lane 0 expecting only the weight boxes' bytes and issuing their
// TMA copies, and every lane loads its share of each GEMM1 tile's row
// tokens once (moek.load_row_tokens), then gathers its share of each
// stage's token rows (moek.gather_rows, cp.async) and arrives when they
// land: the
// ring's full barriers count 1 + 32 arrivals (a GEMM2 stage's and the
// stop mark's lanes arrive at once). The MMA warpgroups and GEMM2 are
// unchanged; the FP8 layer keeps its 128-row variant. Off by default:
// correct on the GPU but slower so far (docs/FusedKernel.md). The copies
// carry gather-l2-hint's L2 priority (evict_last by default; none: no
// hint, plain cp.async).
// RUN: moe-opt --convert-moe-to-moek="gather-rows=true" %s | FileCheck %s
// RUN: moe-opt --convert-moe-to-moek %s | FileCheck %s --check-prefix=OFF
// RUN: moe-opt --convert-moe-to-moek="gather-rows=true gather-l2-hint=evict_first" %s | FileCheck %s --check-prefix=FIRST
// RUN: moe-opt --convert-moe-to-moek="gather-rows=true gather-l2-hint=none" --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.none.mlir
// RUN: FileCheck %s --check-prefix=NONE < %t.none.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.none.mlir | FileCheck %s --check-prefix=NONE-PTX
// RUN: not moe-opt --convert-moe-to-moek="gather-rows=true gather-l2-hint=evict_normal" %s 2>&1 | FileCheck %s --check-prefix=BADHINT
// BADHINT: convert-moe-to-moek: gather-l2-hint must be 'evict_last', 'evict_first' or 'none', got 'evict_normal'
// FIRST-COUNT-3: moek.gather_rows {{.*}}l2_hint = "evict_first"
// NONE-NOT: L2::cache_hint
// NONE-PTX-LABEL: .entry fm_fused_moe_0(
// NONE-PTX-NOT: L2::cache_hint
// NONE-PTX-COUNT-32: cp.async.cg.shared.global [%rd{{[0-9]+}}{{.*}}], [%rd{{[0-9]+}}{{.*}}], 16, %r{{[0-9]+}};
// NONE-PTX-NEXT:  cp.async.mbarrier.arrive.noinc.shared.b64
// RUN: moe-opt --convert-moe-to-moek="gather-rows=true" --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS-COUNT-3: 0 bytes spill stores, 0 bytes spill loads

// CHECK-LABEL: llvm.func @fm_fused_moe_0(
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) {producers = 33 : i64}
// CHECK:         moek.dispatch %[[X:[^,]+]], {{.*}} row_weights(%{{[^)]+}}) row_tokens(%[[TOKENS:[^)]+]]) barrier(
// CHECK:         moek.warp_role "producer"
// CHECK:           moek.in_warp
// CHECK:           %[[LEADER:.+]] = moek.elect_one
// CHECK:           moek.fetch_add %{{.+}} {warp}
// CHECK:           %{{.+}}, %[[ROW:.+]], %[[END:.+]], %{{.+}} = moek.grouped_tile
// CHECK:           %[[TOK:.+]] = moek.load_row_tokens row_tokens(%[[TOKENS]]) row(%[[ROW]]) row_end(%[[END]]) : vector<8xi32>
// CHECK:           scf.for
// CHECK:           scf.if %[[LEADER]]
// CHECK:             moek.ring_expect %[[RING]][%{{.+}}] bytes(%c32768)
// CHECK-NOT:         tile 0
// CHECK:             moek.tma_load {{.*}} tile 1
// CHECK:             moek.tma_load {{.*}} tile 1 {row_offset = 128 : i64}
// CHECK:           moek.gather_rows %[[RING]][%{{.+}}] tile 0 x(%[[X]]) tokens(%[[TOK]]) k(%{{.+}}) {hidden = 512 : i64, l2_hint = "evict_last"}
// CHECK:           moek.ring_arrive_copies %[[RING]]
// GEMM2's stages: the activation rows by TMA, every lane arriving.
// CHECK:           moek.wait_counter
// CHECK:           moek.tma_load {{.*}} tile 0
// CHECK:           moek.ring_arrive_copies %[[RING]]
// The stop mark.
// CHECK:           moek.ring_expect %[[RING]][%{{.+}}] bytes(%c0
// CHECK:           moek.ring_arrive_copies %[[RING]]
// CHECK:         moek.warp_role "consumer"
// CHECK:           moek.ring_tag
// CHECK:           moek.ring_wait
// CHECK-NEXT:      moek.mma
// CHECK:           moek.grid_barrier %{{.+}} phase(3)
// CHECK:           moek.combine

// CHECK-LABEL: llvm.func @fp8_fused_moe_1(
// CHECK:         %[[FP8_RING:.+]] = moek.ring_alloc consumers(256) {producers = 33 : i64} : !moek.ring<4, [memref<64x128xf8E4M3FN, 3>
// CHECK:         moek.dispatch {{.*}} rows(%[[TOKEN_ROWS:[^)]+]]) row_tokens(%[[FP8_TOKENS:[^)]+]]) row_scales(
// CHECK:         moek.warp_role "producer"
// CHECK:           moek.in_warp
// CHECK:           moek.fetch_add %{{.+}} {warp}
// CHECK:           %[[FP8_TOK:.+]] = moek.load_row_tokens row_tokens(%[[FP8_TOKENS]]) {{.*}} : vector<4xi32>
// CHECK:           moek.ring_expect %[[FP8_RING]][%{{.+}}] bytes(%c32768)
// CHECK-NOT:       tile 0
// CHECK:           moek.gather_rows %[[FP8_RING]][%{{.+}}] tile 0 x(%[[TOKEN_ROWS]]) tokens(%[[FP8_TOK]]) {{.*}} {hidden = 256 : i64, l2_hint = "evict_last"}
// CHECK:           moek.ring_arrive_copies %[[FP8_RING]]
// CHECK-LABEL: llvm.func @fp8_fused_moe_1_m128(
// CHECK:         moek.ring_alloc consumers(256) {producers = 33 : i64} : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>
// CHECK:         moek.load_row_tokens {{.*}} : vector<8xi32>
// CHECK:         moek.gather_rows {{.*}} tile 0 {{.*}}l2_hint = "evict_last"

// OFF-NOT: row_tokens
// OFF-NOT: moek.gather_rows

// The producer warp's copies: per GEMM1 stage a lane copies 16 bytes of
// each of its rows (32 of a 128-row tile, 16 of the FP8 kernel's 64-row
// one), a row past the expert's end 0 bytes (zeros), then arrives. The
// tokens come from registers (loaded once a tile): no load in the stage.
// Each copy carries the evict_last policy (createpolicy's encoding,
// 0x14F0000000000000 = 1508705875169116160) in a register of its own.
// RUN: grep -c "mov.b64.*, 1508705875169116160;" %t.ptx | FileCheck %s --check-prefix=POLICY
// POLICY: {{^[1-9]}}
// PTX-LABEL: .entry fm_fused_moe_0(
// PTX:       mov.b32 %r{{[0-9]+}}, %r{{[0-9]+}};
// PTX-NOT:   ld.global
// PTX-COUNT-32: cp.async.cg.shared.global.L2::cache_hint [%r{{[0-9]+}}], [%rd{{[0-9]+}}], 16, %r{{[0-9]+}}, %rd{{[0-9]+}};
// PTX-NEXT:  // end inline asm
// PTX-NEXT:  cp.async.mbarrier.arrive.noinc.shared.b64
// PTX-LABEL: .entry fp8_fused_moe_1(
// PTX-COUNT-16: cp.async.cg.shared.global.L2::cache_hint [%r{{[0-9]+}}], [%rd{{[0-9]+}}], 16, %r{{[0-9]+}}, %rd{{[0-9]+}};
// PTX-NEXT:  // end inline asm
// PTX-NEXT:  cp.async.mbarrier.arrive.noinc.shared.b64
// PTX-LABEL: .entry fp8_fused_moe_1_m128(
// PTX-COUNT-32: cp.async.cg.shared.global.L2::cache_hint [%r{{[0-9]+}}], [%rd{{[0-9]+}}], 16, %r{{[0-9]+}}, %rd{{[0-9]+}};
// PTX-NEXT:  // end inline asm
// PTX-NEXT:  cp.async.mbarrier.arrive.noinc.shared.b64
// Each kernel's full barriers count 33 arrivals (the bf16 kernel, and the
// FP8 layer's 64-row kernel and its three 128-row variants: staged scales
// with 224 and 216 consumer registers, and plain).
// RUN: grep -B2 "mbarrier.init.shared.b64" %t.ptx | grep -c "mov.b32.*, 33;" | FileCheck %s --check-prefix=INIT
// INIT: 5

func.func @fm(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}

func.func @fp8(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight before_down>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
