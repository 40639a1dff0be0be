// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="phase-timers=true fp8-tile-rows=64" | FileCheck %s --check-prefix=TIMERS
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="approx-activation=false" | FileCheck %s --check-prefix=EXACT

// A layer with DeepSeek-V3's FP8 recipe becomes one launch of the FP8 fused
// kernel: the dispatch quantizes the routed rows; 64-row tiles whose columns
// the two MMA warpgroups split (GEMM1: the gate's 128 weight rows and the
// up's; GEMM2: 2 x 128 columns), block-scaled MMAs; each warpgroup hands the
// other the accumulator half it lacks through shared memory (named barrier
// 5), both apply SwiGLU to 64 columns and quantize per 1x128 block (their
// amax met in the 512 bytes after the exchange), wait on 6 and signal the
// 64-row block, whose GEMM2 tiles' producer waits for 2 x 2 signals. GEMM2's
// bf16 rows leave by TMA (the y descriptor, parameter 4).
// CHECK-LABEL: func.func @layer
// CHECK:         moek.launch @moe_kernels::@layer_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6)
// CHECK:       llvm.func @layer_fused_moe_0(
// CHECK-SAME:    moek.abi = [{box = [128, 128], {{.*}}operand = 3 : i64{{.*}}}, {box = [128, 128], {{.*}}operand = 4 : i64{{.*}}}, {box = [128, 64], dtype = "f8E4M3FN", {{.*}}workspace = "rows"{{.*}}}, {box = [128, 64], dtype = "f8E4M3FN", {{.*}}workspace = "act"{{.*}}}, {box = [64, 64], dtype = "bf16", {{.*}}workspace = "y"{{.*}}}, {kind = "ptr", operand = 0 : i64}, {kind = "ptr", operand = 1 : i64}, {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 5 : i64}, {kind = "ptr", operand = 6 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}, {kind = "token_count"}]
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>
// CHECK:         %[[BUF:.+]] = moek.smem_alloc {bytes = 33280 : i64}
// CHECK-NEXT:    %[[STAGING:.+]] = moek.smem_alloc {bytes = 32768 : i64}
// CHECK:         moek.dispatch {{.*}} rows(%{{.+}}) row_scales(%{{.+}}) barrier
// CHECK:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 64 : i64}
// CHECK:         moek.grouped_tile_count %{{.+}} {col_tiles = 1 : i64, num_experts = 8 : i64, tile_rows = 64 : i64}
// The producer: GEMM1's rows and the gate's and up's boxes in tiles 0, 1, 2;
// GEMM2 waits for the block's 2 GEMM1 tiles, each signalled by both MMA
// warpgroups.
// CHECK:         moek.warp_role "producer"
// CHECK:           moek.tma_load {{.*}} tile 0
// CHECK:           moek.tma_load {{.*}} tile 1
// CHECK:           moek.tma_load {{.*}} tile 2
// CHECK:           moek.wait_counter %{{.+}}[%{{.+}}] geq(%c4
// CHECK:         moek.warp_role "consumer"
// The warpgroups take turns issuing K blocks (named barriers 11, 12).
// CHECK:           moek.barrier_arrive id(11) threads(256)
// CHECK:           moek.barrier_sync id(11) threads(256)
// CHECK-NEXT:      moek.mma %[[RING]][%{{.+}}] a(0, %{{.+}}) b(1) acc(%{{.+}}) {zero_init}
// CHECK-NEXT:      moek.barrier_arrive id(12) threads(256)
// CHECK:           moek.mma_promote
// CHECK:           moek.barrier_sync id(12) threads(256)
// CHECK-NEXT:      moek.mma %[[RING]][%{{.+}}] a(0, %{{.+}}) b(2) acc(%{{.+}}) {zero_init}
// CHECK-NEXT:      moek.barrier_arrive id(11) threads(256)
// CHECK:           moek.acc_store_smem %[[GATE:.+]], %[[BUF]] {values = array<i64: 32, 64>}
// CHECK-NEXT:      moek.barrier_sync id(5) threads(256)
// CHECK-NEXT:      %[[UP:.+]] = moek.acc_load_smem %[[BUF]] {values = array<i64: 0, 32>}
// CHECK-NEXT:      %[[AMAX:.+]] = llvm.getelementptr %[[BUF]][32768]
// approx-activation (the default) divides by rcp.approx in store_act_fp8
// as in store_act; with it false, the IEEE division (no `approx`).
// EXACT:           moek.store_act_fp8 {{.*}} {activation = "swiglu", gemm1_type = bf16, half = 0 : i64, ld = 256 : i64}
// EXACT:           moek.store_act_fp8 {{.*}} {activation = "swiglu", gemm1_type = bf16, half = 1 : i64, ld = 256 : i64}
// CHECK:           moek.store_act_fp8 %[[GATE]], %[[UP]], %{{.+}} scales(%{{.+}}) row_limit(%{{.+}}) row_weights(%{{.+}}) amax(%[[AMAX]]) {activation = "swiglu", approx, gemm1_type = bf16, half = 0 : i64, ld = 256 : i64}
// CHECK:           moek.acc_store_smem %[[UP2:.+]], %[[BUF]] {values = array<i64: 0, 32>}
// CHECK-NEXT:      moek.barrier_sync id(5) threads(256)
// CHECK-NEXT:      %[[GATE2:.+]] = moek.acc_load_smem %[[BUF]] {values = array<i64: 32, 64>}
// CHECK:           moek.store_act_fp8 %[[GATE2]], %[[UP2]], {{.*}} {activation = "swiglu", approx, gemm1_type = bf16, half = 1 : i64, ld = 256 : i64}
// CHECK:           moek.barrier_sync id(6) threads(256)
// CHECK:           moek.signal
// CHECK:           moek.store_acc_tma %{{.+}}, %arg4, %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) barrier(%{{.+}}) {halves = 2 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>
// CHECK:           moek.barrier_sync id(11) threads(256)
// CHECK:           moek.store_acc_tma_wait
// CHECK:           moek.grid_barrier
// CHECK:           moek.combine
func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight before_down>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
// phase-timers: the workspace's timer region and the six stamps (start and
// dispatch done before the roles; producer done; MMA tiles done, past the
// grid barrier and combine done by the first MMA warpgroup).
// TIMERS-LABEL: llvm.func @layer_fused_moe_0(
// TIMERS-SAME:    moek.workspace = {bytes = {{[0-9]+}} : i64, max_tokens = {{[0-9]+}} : i64, timers = {{[0-9]+}} : i64, zero_bytes = {{[0-9]+}} : i64}
// TIMERS-COUNT-4: moek.timestamp
// TIMERS:         moek.grid_barrier
// TIMERS:         moek.timestamp
// TIMERS:         moek.combine
// TIMERS:         moek.timestamp
// TIMERS-NOT:     moek.timestamp
// TIMERS-LABEL: func.func @negative_interleaved

// -----

// Gate/up interleaved in FP8: a 128-row weight box would mix gates and ups.
// CHECK-LABEL: func.func @negative_interleaved
// CHECK:         moe.fused_moe
func.func @negative_interleaved(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  // expected-remark @+1 {{convert-moe-to-moek: not lowered: the FP8 fused kernel takes gate/up concatenated (an interleaved 128-row box would mix gates and ups)}}
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight before_down>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
