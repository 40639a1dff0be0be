// RUN: moe-opt %s -split-input-file --moe-expert-parallel --convert-moe-to-moek -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNSPLIT
// RUN: %if ptxas %{ rm -rf %t && mkdir -p %t && moe-opt %s --moe-expert-parallel --convert-moe-to-moek --moek-to-nvvm-pipeline=chip=sm_90a 2>/dev/null | moe-translate --moe-to-ptx -o %t/ep.ptx && %ptxas -arch=sm_90a -v %t/ep.ptx -o %t/ep.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS %}

// The per-rank form of an expert-parallel layer (bf16 here, FP8 below; R = 2 ranks of 4
// experts; moe-expert-parallel made it) becomes one kernel per rank: the
// single-GPU fused kernel's parameters plus this rank, the epoch, the
// waits' timeout and the wait record; moek.ep_dispatch instead of
// moek.dispatch (its operands in the symmetric part of the workspace, which
// the runtime does not zero); GEMM2 rows stored back into their source
// ranks (moek.store_acc_remote); after the third grid barrier, one thread
// of CTA 0 adds 1 to `combined` on every rank and one thread per CTA waits
// for epoch * R (wait phase 3) before the consumer warpgroups combine.
// CHECK-LABEL: func.func @layer
// CHECK:         moek.launch @moe_kernels::@layer_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x512x256xbf16>, tensor<4x256x256xbf16>) -> tensor<?x256xbf16>
// CHECK:       llvm.func @layer_fused_moe_0(
// CHECK-SAME:    %arg9: i32, %arg10: i32, %arg11: i64, %arg12: i64, %arg13: i64)
// Every rank's rows: R * max_tokens * K = 16384 rows of the TMA views.
// CHECK-SAME:    {box = [64, 64], dtype = "bf16", kind = "tma", shape = [16384, 256], swizzle = 128 : i64, workspace = "rows"
// CHECK-SAME:    {kind = "workspace"}, {kind = "token_count"}, {kind = "i32", name = "rank"}, {kind = "i64", name = "epoch"}, {kind = "i64", name = "timeout_ns"}, {kind = "i64", name = "wait_record"}]
// CHECK-SAME:    moek.expert_parallel = {bases_offset = [[BASES:[0-9]+]] : i64, experts_per_rank = 4 : i64, ranks = 2 : i64, symmetric_offset = [[BASES]] : i64}
// CHECK:         %[[REC:.+]] = llvm.inttoptr %arg13 : i64 to !llvm.ptr<1>
// CHECK:         moek.ep_dispatch %arg4, %arg5, %arg6 tokens(%{{.+}}) counts(%{{.+}}) cursor(%{{.+}}) offsets(%[[OFF:.+]]) slot_rows(%[[SLOTS:.+]]) barrier(%{{.+}}) count_matrix(%{{.+}}) counted(%{{.+}}) rows_done(%{{.+}}) rows(%{{.+}}) row_weights(%{{.+}}) row_slots(%[[RS:.+]]) row_ranks(%[[RR:.+]]) bases(%[[B:.+]]) self(%arg10) epoch(%arg11) timeout_ns(%arg12) record(%[[REC]]) {experts_per_rank = 4 : i64, hidden = 256 : i64, phase = 1 : i64, ranks = 2 : i64, top_k = 2 : i64}
// The local experts' tiles.
// CHECK:         moek.grouped_tile_count %[[OFF]] {col_tiles = 2 : i64, num_experts = 4 : i64, tile_rows = 128 : i64}
// CHECK:         moek.store_acc_remote %{{.+}}, %[[Y:.+]][%{{.+}}, %{{.+}}] row_limit(%{{.+}}) slots(%[[RS]]) ranks(%[[RR]]) bases(%[[B]]) self(%arg10) {element_type = bf16, ld = 256 : i64} : !moek.acc<64x256xf32>
// CHECK:         moek.grid_barrier %{{.+}} phase(3) id(4) threads(256)
// CHECK:         moek.map_peer %[[COMBINED:.+]] to %{{.+}} bases(%[[B]]) self(%arg10)
// CHECK-NEXT:    moek.remote_add
// CHECK:         moek.map_peer %[[COMBINED]] to %{{.+}} bases(%[[B]]) self(%arg10)
// CHECK-NEXT:    moek.remote_add
// CHECK:         moek.remote_wait %[[COMBINED]] geq(%{{.+}}) timeout_ns(%arg12) record(%[[REC]]) rank(%arg10) phase(3)
// CHECK:         moek.barrier_sync id(4) threads(256)
// CHECK-NEXT:    moek.combine %[[Y]], %[[SLOTS]] weights(%arg6) out(%arg7)
// PTXAS-COUNT-2: 0 bytes spill stores, 0 bytes spill loads
func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x256xbf16>, %w2: tensor<8x256x256xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
// Without moe-expert-parallel the layer is not lowered, and a remark says why.
// UNSPLIT: remark: convert-moe-to-moek: not lowered: an expert-parallel layer is lowered in its per-rank form (run moe-expert-parallel first)

// -----

// An FP8 layer (DeepSeek-V3's recipe): the dispatch quantizes the rows on
// the way to their owners (row_scales), and the FP8 kernel's GEMM2 stores
// its 64 x 128 accumulators back into the source ranks.
// CHECK-LABEL: func.func @fp8
// CHECK:       llvm.func @fp8_fused_moe_0(
// CHECK-SAME:    %arg11: i32, %arg12: i32, %arg13: i64, %arg14: i64, %arg15: i64)
// CHECK-SAME:    moek.expert_parallel = {bases_offset = {{[0-9]+}} : i64, experts_per_rank = 4 : i64, ranks = 2 : i64
// CHECK:         moek.ep_dispatch {{.*}} self(%arg12) epoch(%arg13) timeout_ns(%arg14) record(%{{.+}}) row_scales(%{{.+}}) {experts_per_rank = 4 : i64, hidden = 256 : i64, phase = 1 : i64, ranks = 2 : i64, top_k = 2 : i64}
// CHECK:         moek.store_acc_remote {{.*}} : !moek.acc<64x128xf32>
// CHECK:         moek.remote_wait {{.*}} phase(3)
// CHECK:         moek.combine
func.func @fp8(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
