// Block-scaled FP8 grouped matmul (DeepSeek-V3's recipe: e4m3 rows with 1x128
// scales, e4m3 weights with 128x128 scales): 128 x 128 tiles of 128-wide K
// slices, one K block per stage; each block's product goes into a partial
// accumulator that is added to the main one times the block's scales.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s
// RUN: not moe-opt %s --convert-moe-to-moek="tile-n=256" 2>&1 | FileCheck %s --check-prefix=TILEERR
// RUN: not moe-opt %s --convert-moe-to-moek="schedule=pingpong" 2>&1 | FileCheck %s --check-prefix=PINGERR

// CHECK-LABEL: func.func @lower_fp8_block
// CHECK:         moek.launch @moe_kernels::@lower_fp8_block_expert_matmul_0(%arg0, %arg1, %arg2, %arg3, %arg4)
// CHECK:       llvm.func @lower_fp8_block_expert_matmul_0(%{{.*}}: !llvm.ptr {{.*}}, %{{.*}}: !llvm.ptr {{.*}}, %{{.*}}: !llvm.ptr<1>, %[[XS:.*]]: !llvm.ptr<1>, %[[WS:.*]]: !llvm.ptr<1>, %[[OUT:.*]]: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>)
// CHECK-SAME:    moek.abi = [{box = [128, 64], {{.*}}operand = 0{{.*}}}, {box = [128, 128], {{.*}}operand = 1{{.*}}}, {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 3 : i64}, {kind = "ptr", operand = 4 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}]
// CHECK-NOT:     variants
// CHECK:         moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>
// CHECK:         moek.grouped_tile_count {{.*}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// The producer: one 128-element (128-byte) K slice per stage.
// CHECK:         %[[C128:.*]] = arith.constant 128 : index
// CHECK:         arith.muli %{{.*}}, %[[C128]] : index
// CHECK:         moek.tma_load
// The MMA warpgroups take turns issuing their K blocks (named barriers 11
// and 12; the second one gives the first its first turn, the first takes
// the turn left over at the end), so one promotes while the other's MMAs
// run; one copy of the tile per warpgroup (the barriers are constants),
// the second's first. The first block's scales before the loop; then per
// block a fresh partial product, the next block's scales loaded while it
// runs, the wait, the release and the promotion with this block's scales.
// CHECK:         moek.warp_role "consumer"
// CHECK:           scf.if
// CHECK-NEXT:        moek.barrier_arrive id(11) threads(256)
// CHECK:         %[[S0:.*]] = moek.load_rows %[[XS]][%{{.*}}, %c0{{.*}}] row_limit(%{{.*}}) {ld = 4 : i64}
// CHECK:         %[[W0:.*]] = llvm.load %{{.*}} : !llvm.ptr<1> -> f32
// CHECK:         scf.for %[[KB:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}, %[[PART:.*]] = %{{.*}}, %[[S:.*]] = %[[S0]], %[[W:.*]] = %[[W0]], %[[IT:.*]] = %{{.*}})
// CHECK:           moek.ring_wait
// CHECK-NEXT:      moek.barrier_sync id(12) threads(256)
// CHECK-NEXT:      %[[P:.*]] = moek.mma %{{.*}}[%[[IT]]] a(0, %{{.*}}) b(1) acc(%[[PART]]) {zero_init}
// CHECK-NEXT:      moek.barrier_arrive id(11) threads(256)
// CHECK:           %[[NEXT:.*]] = arith.addi %[[KB]], %c1
// CHECK:           %[[KB1:.*]] = arith.minui %[[NEXT]], %c3
// CHECK:           %[[S1:.*]] = moek.load_rows %[[XS]][%{{.*}}, %[[KB1]]] row_limit(%{{.*}}) {ld = 4 : i64}
// CHECK:           %[[W1:.*]] = llvm.load %{{.*}} : !llvm.ptr<1> -> f32
// CHECK:           %[[PW:.*]] = moek.mma_wait %[[P]] pending(0)
// CHECK:           moek.ring_release %{{.*}}[%[[IT]]]
// CHECK:           %[[A:.*]] = moek.mma_promote %[[ACC]], %[[PW]] scales(%[[S]], %[[W]])
// CHECK:           scf.yield %[[A]], %[[PW]], %[[S1]], %[[W1]]
// The second warpgroup's pass loop (no rows) takes its turns too.
// CHECK:           moek.ring_wait
// CHECK-NEXT:      moek.barrier_sync id(12) threads(256)
// CHECK-NEXT:      moek.barrier_arrive id(11) threads(256)
// CHECK-NEXT:      moek.ring_release
// The first warpgroup's copy.
// CHECK:           moek.barrier_sync id(11) threads(256)
// CHECK-NEXT:      moek.mma {{.*}} {zero_init}
// CHECK-NEXT:      moek.barrier_arrive id(12) threads(256)
// CHECK:         moek.store_acc {{.*}}, %[[OUT]][{{.*}}] row_limit({{.*}}) {element_type = bf16, ld = 256 : i64}
// CHECK:         scf.if
// CHECK-NEXT:    } else {
// CHECK-NEXT:      moek.barrier_sync id(11) threads(256)
func.func @lower_fp8_block(%x: tensor<?x512xf8E4M3FN>, %w: tensor<8x256x512xf8E4M3FN>, %offsets: tensor<9xi32>, %xs: tensor<?x4xf32>, %ws: tensor<8x2x4xf32>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x512xf8E4M3FN>, tensor<8x256x512xf8E4M3FN>, tensor<9xi32>, tensor<?x4xf32>, tensor<8x2x4xf32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// TILEERR: error: convert-moe-to-moek: fp8_block kernels use 128 x 128 tiles and the cooperative schedule (tile-m = 0, tile-n = 256, schedule = cooperative given)
// PINGERR: error: convert-moe-to-moek: fp8_block kernels use 128 x 128 tiles and the cooperative schedule (tile-m = 0, tile-n = 0, schedule = pingpong given)

// -----

// MXFP8 with a K that is not a multiple of the 64-wide K slice: the op
// stays, with a remark (test/Codegen/MoEToKernel/expert-matmul-mxfp8.mlir
// has the generated kernel).
// CHECK-LABEL: func.func @negative_lower_mxfp8
// CHECK:         moe.expert_matmul
// CHECK-NOT:     moek.launch
func.func @negative_lower_mxfp8(%x: tensor<?x96xf8E4M3FN>, %w: tensor<8x256x96xf8E4M3FN>, %offsets: tensor<9xi32>, %xs: tensor<?x3xf8E8M0FNU>, %ws: tensor<8x256x3xf8E8M0FNU>) -> tensor<?x256xbf16> {
  // expected-remark @+1 {{convert-moe-to-moek: not lowered: with MXFP8 operands, N (256) must be a multiple of 8 and K (96) of the K slice (64)}}
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<mxfp8, block = [1, 32]>, w_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x96xf8E4M3FN>, tensor<8x256x96xf8E4M3FN>, tensor<9xi32>, tensor<?x3xf8E8M0FNU>, tensor<8x256x3xf8E8M0FNU>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// -----

// fp8_block rows by bf16 weights: not generated.
// CHECK-LABEL: func.func @negative_lower_fp8_rows_bf16_weights
// CHECK:         moe.expert_matmul
func.func @negative_lower_fp8_rows_bf16_weights(%x: tensor<?x256xf8E4M3FN>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>, %xs: tensor<?x2xf32>) -> tensor<?x256xbf16> {
  // expected-remark @+1 {{convert-moe-to-moek: not lowered: the generated kernel takes bf16 operands, fp8_block rows (block [1, 128]) by fp8_block weights (block [128, 128]), mxfp8 rows by mxfp8 weights (block [1, 32]), bf16 rows by mxfp4 (block [1, 32]) or nvfp4 (block [1, 16]) weights, or (sm_100a) mxfp8 rows by mxfp4 weights}}
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) {x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xbf16>, tensor<9xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
