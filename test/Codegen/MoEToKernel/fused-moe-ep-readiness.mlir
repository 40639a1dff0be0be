// convert-moe-to-moek{dispatch-readiness} on an expert-parallel bf16 layer
// (docs/ExpertParallel.md, "Per-block readiness across ranks"): no wait
// for every rank's rows (ep_dispatch's step 5). Each source adds 1 per row
// to seg_ready[local expert, source] on the owner (release, system scope);
// GEMM1's producer waits, for each source whose segment of the expert's
// rows its tile overlaps, until that counter has grown by the segment's
// rows in this launch (moek.remote_wait phase 4, bounded); after the last
// grid barrier one thread of CTA 0 moves the bases on, reading the count
// matrix before it tells the other ranks `combined` (they may then write
// the matrix for their next launch). The producer
// takes 48 registers (the MMA warpgroups 224): in 40 the waits spilled at
// four ranks. The FP8 kernel the same, with its 64-row tiles. Off by
// default: not yet run on a GPU.
// RUN: moe-opt %s --moe-expert-parallel --convert-moe-to-moek="dispatch-readiness=true" | FileCheck %s
// RUN: %if ptxas %{ moe-opt %s --moe-expert-parallel --convert-moe-to-moek="dispatch-readiness=true" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx -o %t.ptx && %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS-COUNT-2: 0 bytes spill stores, 0 bytes spill loads

// CHECK-LABEL: llvm.func @layer_fused_moe_0(
// CHECK:         moek.ep_dispatch {{.*}} count_matrix(%[[MATRIX:[^)]+]]) {{.*}} record(%[[REC:[^)]+]]) seg_ready(%[[SEG:[^)]+]]) offsets_ready(%{{[^)]+}})
// CHECK:         moek.warp_role "producer" warpgroups(0, 1) max_regs(48)
// CHECK:           moek.grouped_tile
// The segment's rows: count_matrix[source, self * 4 + expert]; the target:
// the base plus them.
// CHECK:           llvm.getelementptr %[[MATRIX]]
// CHECK:           %[[BASE:.+]] = llvm.load %{{.+}} : !llvm.ptr<1> -> i64
// CHECK:           %[[TARGET:.+]] = arith.addi %[[BASE]], %{{.+}} : i64
// CHECK:           %[[COUNTER:.+]] = llvm.getelementptr %[[SEG]]
// CHECK-NEXT:      moek.remote_wait %[[COUNTER]] geq(%[[TARGET]]) timeout_ns(%{{.+}}) record(%[[REC]]) rank(%{{.+}}) phase(4)
// CHECK:           moek.tma_load
// CHECK:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(224)
// CHECK:           moek.grid_barrier %{{.+}} phase(2) id(4) threads(256)
// The bases move on (16 counters: 4 local experts x 4 sources), then
// `combined` is told and awaited.
// CHECK:           scf.for %{{.+}} = %{{.+}} to %c16{{.*}} step
// CHECK:             llvm.load %{{.+}} : !llvm.ptr<1> -> i32
// CHECK:             llvm.store %{{.+}} : i64, !llvm.ptr<1>
// CHECK:           moek.remote_add
// CHECK:           moek.remote_wait %{{.+}} phase(3)
// CHECK:           moek.combine

// CHECK-LABEL: llvm.func @fp8_fused_moe_1(
// CHECK:         moek.ep_dispatch {{.*}} row_scales(%{{[^)]+}}) seg_ready(%[[FP8_SEG:[^)]+]]) offsets_ready(%{{[^)]+}})
// CHECK:         moek.warp_role "producer" warpgroups(0, 1) max_regs(48)
// CHECK:           %[[FP8_COUNTER:.+]] = llvm.getelementptr %[[FP8_SEG]]
// CHECK-NEXT:      moek.remote_wait %[[FP8_COUNTER]] geq(%{{.+}}) {{.*}} phase(4)
// CHECK:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(224)
// CHECK:           moek.grid_barrier %{{.+}} phase(2) id(4) threads(256)
// CHECK:           scf.for %{{.+}} = %{{.+}} to %c16{{.*}} step
// CHECK:             llvm.store %{{.+}} : i64, !llvm.ptr<1>
// CHECK:           moek.remote_add
// CHECK:           moek.remote_wait %{{.+}} phase(3)
// CHECK:           moek.combine

func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<16x512x256xbf16>, %w2: tensor<16x256x256xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, placement = #moe.placement<ranks = 4, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<16x512x256xbf16>, tensor<16x256x256xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

func.func @fp8(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<16x512x256xf8E4M3FN>, %w2: tensor<16x256x256xf8E4M3FN>, %w13s: tensor<16x4x2xf32>, %w2s: tensor<16x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>, placement = #moe.placement<ranks = 4, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<16x512x256xf8E4M3FN>, tensor<16x256x256xf8E4M3FN>, tensor<16x4x2xf32>, tensor<16x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
