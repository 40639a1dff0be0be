// convert-moe-to-moek{gather-rows gather-tma}: the gathered rows by TMA.
// As with gather-rows alone (fused-moe-gather-rows.mlir) the dispatch
// records each row's token and warp 0 of the producer warpgroup loads a
// GEMM1 tile's tokens once (moek.load_row_tokens), but each stage's rows
// come as one 128-byte TMA box a row (moek.tma_gather_rows, over x for
// bf16, over the quantized token rows for FP8), completing on the stage's
// full barrier like the weights' boxes: lane 0 expects the weight boxes'
// bytes plus 128 bytes a row of the tile's live 64-row boxes, no lane
// arrives for copies and the full barriers count one arrival.
// RUN: moe-opt --convert-moe-to-moek="gather-rows=true gather-tma=true" %s | FileCheck %s
// RUN: moe-opt --convert-moe-to-moek="gather-tma=true" %s | FileCheck %s --check-prefix=ALONE
// RUN: moe-opt --convert-moe-to-moek="gather-rows=true gather-tma=true" --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS-COUNT-3: 0 bytes spill stores, 0 bytes spill loads

// The descriptors: boxes of one row (bf16: 64 values of x; FP8: 128 of
// the token rows in the workspace).
// CHECK-LABEL: llvm.func @fm_fused_moe_0(
// CHECK-SAME:    moek.abi = [{{.*}}{box = [64, 1], inner = 512 : i64, kind = "tma", operand = 0 : i64, swizzle = 128 : i64, view = "[T, H]"}
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>
// CHECK:         moek.dispatch {{.*}} row_tokens(%[[TOKENS:[^)]+]]) barrier(
// CHECK:         moek.warp_role "producer"
// CHECK:           %[[LEADER:.+]] = moek.elect_one
// CHECK:           moek.fetch_add %{{.+}} {warp}
// CHECK:           %{{.+}}, %[[ROW:.+]], %[[END:.+]], %{{.+}} = moek.grouped_tile
// CHECK:           %[[TOK:.+]] = moek.load_row_tokens row_tokens(%[[TOKENS]]) row(%[[ROW]]) row_end(%[[END]]) : vector<8xi32>
// The live rows: the 64-row boxes that hold rows below the end.
// CHECK:           %[[LEFT:.+]] = arith.subi %[[END]], %[[ROW]]
// CHECK:           %[[BOXES:.+]] = arith.ceildivui %[[LEFT]], %c64
// CHECK:           %[[MIN:.+]] = arith.minui %[[BOXES]], %c2
// CHECK:           %[[LIVE:.+]] = arith.muli %[[MIN]], %c64
// CHECK:           %[[ROWBYTES:.+]] = arith.muli %[[LIVE]], %c128
// CHECK:           %[[BYTES:.+]] = arith.addi %c32768{{.*}}, %[[ROWBYTES]]
// CHECK:           scf.for
// CHECK:             scf.if %[[LEADER]]
// CHECK:               moek.ring_expect %[[RING]][%{{.+}}] bytes(%[[BYTES]])
// CHECK-NOT:           tile 0
// CHECK:               moek.tma_load {{.*}} tile 1
// CHECK:               moek.tma_load {{.*}} tile 1 {row_offset = 128 : i64}
// CHECK:             moek.tma_gather_rows %arg2[%{{.+}}] -> %[[RING]][%{{.+}}] tile 0 tokens(%[[TOK]]) live(%[[LIVE]])
// CHECK-NOT:         moek.ring_arrive_copies
// CHECK:         moek.warp_role "consumer"

// CHECK-LABEL: llvm.func @fp8_fused_moe_1(
// CHECK-SAME:    {box = [128, 1], dtype = "f8E4M3FN", kind = "tma", shape = [8192, 256], swizzle = 128 : i64, workspace = "rows"
// CHECK:         moek.ring_alloc consumers(256) : !moek.ring<4, [memref<64x128xf8E4M3FN, 3>
// CHECK:         moek.load_row_tokens {{.*}} : vector<4xi32>
// CHECK:         moek.tma_gather_rows %arg2[%{{.+}}] -> {{.*}} tile 0 tokens(
// CHECK-NOT:     moek.ring_arrive_copies
// CHECK-LABEL: llvm.func @fp8_fused_moe_1_m128(
// CHECK:         moek.load_row_tokens {{.*}} : vector<8xi32>
// CHECK:         moek.tma_gather_rows {{.*}} tile 0 tokens(
// CHECK-NOT:     moek.ring_arrive_copies

// gather-tma changes nothing without gather-rows.
// ALONE-NOT: row_tokens
// ALONE-NOT: tma_gather_rows
// ALONE-NOT: box = [64, 1]

// A stage's rows: R / 32 predicated TMA copies a lane (4 of a 128-row
// tile, 2 of the FP8 kernel's 64-row one), no cp.async, no copy arrival.
// PTX-LABEL: .entry fm_fused_moe_0(
// PTX-NOT:   cp.async.cg
// PTX-COUNT-4: @%p{{[0-9]+}} cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes
// PTX-NOT:   cp.async.mbarrier.arrive
// PTX-LABEL: .entry fp8_fused_moe_1(
// PTX-NOT:   cp.async.cg
// PTX-COUNT-2: @%p{{[0-9]+}} cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes
// PTX-NOT:   cp.async.mbarrier.arrive
// PTX-LABEL: .entry fp8_fused_moe_1_m128(
// PTX-NOT:   cp.async.cg
// PTX-COUNT-4: @%p{{[0-9]+}} cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes
// PTX-NOT:   cp.async.mbarrier.arrive
// No full barrier counts the lanes' copy arrivals (33, with cp.async).
// RUN: grep -B2 "mbarrier.init.shared.b64" %t.ptx | FileCheck %s --check-prefix=INIT --implicit-check-not=", 33;"
// INIT: mbarrier.init.shared.b64

func.func @fm(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}

func.func @fp8(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight before_down>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
