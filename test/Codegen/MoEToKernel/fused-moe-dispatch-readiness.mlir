// convert-moe-to-moek{dispatch-readiness}: the bf16 fused kernel without a
// grid barrier after the dispatch. moek.dispatch publishes its rows per
// 128-row block (rows_ready) and `offsets` by a flag (offsets_ready), both
// in the workspace's zeroed part; GEMM1's producer waits for its tile's
// block (the block's row count, min(128, end - row)) before loading it, and
// the combine's grid barrier is the second (phase 2). The FP8 kernel the
// same with its 64-row tiles (block_rows = 64; the quantized rows and their
// scales are published with the block). Off by default: not yet run on a
// GPU.
// RUN: moe-opt --convert-moe-to-moek="dispatch-readiness=true" %s | FileCheck %s
// RUN: moe-opt --convert-moe-to-moek %s | FileCheck %s --check-prefix=OFF
// RUN: moe-opt --convert-moe-to-moek="dispatch-readiness=true" --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS-COUNT-2: 0 bytes spill stores, 0 bytes spill loads

// CHECK-LABEL: llvm.func @fm_fused_moe_0(
// CHECK:         moek.dispatch {{.*}} rows(%{{.+}}) rows_ready(%[[ROWS_READY:[^)]+]]) offsets_ready(%{{.+}}) barrier(%{{.+}})
// CHECK:         moek.warp_role "producer"
// CHECK:           %[[E:.+]], %[[ROW:.+]], %[[END:.+]], %{{.+}} = moek.grouped_tile
// CHECK:           %[[BLOCK_END:.+]] = arith.addi %[[ROW]], %{{.+}} : index
// CHECK:           %[[LAST:.+]] = arith.minui %[[END]], %[[BLOCK_END]] : index
// CHECK:           %[[COUNT:.+]] = arith.subi %[[LAST]], %[[ROW]] : index
// CHECK:           moek.wait_counter %[[ROWS_READY]][%{{.+}}] geq(%[[COUNT]])
// CHECK:           moek.tma_load
// CHECK:         moek.warp_role "consumer"
// CHECK:           moek.grid_barrier %{{.+}} phase(2) id(4) threads(256)
// CHECK-NOT:       moek.grid_barrier
// CHECK:           moek.combine

// OFF:     moek.dispatch
// OFF-NOT: rows_ready
// OFF:     moek.grid_barrier %{{.+}} phase(3) id(4) threads(256)
// OFF:     moek.dispatch
// OFF-NOT: rows_ready
// OFF-NOT: block_rows
// OFF:     moek.grid_barrier %{{.+}} phase(3) id(4) threads(256)

// CHECK-LABEL: llvm.func @fp8_fused_moe_1(
// CHECK:         moek.dispatch {{.*}} row_scales(%{{.+}}) rows_ready(%[[FP8_READY:[^)]+]]) offsets_ready(%{{.+}}) barrier(%{{.+}}) {block_rows = 64 : i64
// CHECK:         moek.warp_role "producer"
// CHECK:           %{{.+}}, %[[FP8_ROW:.+]], %[[FP8_END:.+]], %{{.+}} = moek.grouped_tile
// CHECK:           %[[FP8_BLOCK_END:.+]] = arith.addi %[[FP8_ROW]], %{{.+}} : index
// CHECK:           %[[FP8_LAST:.+]] = arith.minui %[[FP8_END]], %[[FP8_BLOCK_END]] : index
// CHECK:           %[[FP8_COUNT:.+]] = arith.subi %[[FP8_LAST]], %[[FP8_ROW]] : index
// CHECK:           moek.wait_counter %[[FP8_READY]][%{{.+}}] geq(%[[FP8_COUNT]])
// CHECK:         moek.warp_role "consumer"
// CHECK:           moek.grid_barrier %{{.+}} phase(2) id(4) threads(256)

// The dispatch: CTA 0 publishes `offsets` (release), each warp fences its
// copies to the async proxy, synchronizes and adds to the rows' blocks
// (release); thread 0 of each CTA then waits for the flag (acquire) instead
// of a grid barrier.
// PTX-LABEL: .entry fm_fused_moe_0(
// PTX:       red.release.gpu.global.add.u32
// PTX:       bar.warp.sync -1;
// PTX:       red.release.gpu.global.add.u32
// PTX:       ld.acquire.gpu.global.u32
// RUN: grep -B1 "bar.warp.sync" %t.ptx | FileCheck %s --check-prefix=FENCE
// FENCE:      fence.proxy.async.global;
// FENCE-NEXT: bar.warp.sync -1;

func.func @fm(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}

func.func @fp8(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight before_down>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
