// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="max-tokens=16" -verify-diagnostics | FileCheck %s --check-prefix=SMALL
// RUN: not moe-opt %s --convert-moe-to-moek="max-tokens=0" 2>&1 | FileCheck %s --check-prefix=MAXERR
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="phase-timers=true" -verify-diagnostics | FileCheck %s --check-prefix=TIMERS
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="phase-timers=true" -verify-diagnostics | FileCheck %s --check-prefix=TRACE
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s --check-prefix=APPROX
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="approx-activation=false" -verify-diagnostics | FileCheck %s --check-prefix=EXACT
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s --check-prefix=SMALLT
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="small-tiles=false" -verify-diagnostics | FileCheck %s --check-prefix=LARGET

// small-tiles (the default, sm_90a): a tile whose expert has at most 16
// rows left multiplies each MMA warpgroup's 128 weight rows (tile 1, two
// 64-row A blocks) by the tile's first 16 token rows (tile 0, m64n16k16);
// the products go back through y's staging, once both warpgroups' TMA
// stores of y have read it, into a 64 x 256 accumulator; the epilogue is
// the large tiles'. small-tiles=false: the large tiles only.
// SMALLT-LABEL: llvm.func @layer_fused_moe_0(
// SMALLT:         %[[STAGING:.+]] = moek.smem_alloc {bytes = 32768 : i64}
// SMALLT:         moek.warp_role "consumer"
// SMALLT:           %[[FEW:.+]] = arith.cmpi ule, %row_end, %{{.+}} : index
// SMALLT-NEXT:      scf.if %[[FEW]] -> (!moek.acc<64x256xf32>, index) {
// SMALLT:             moek.mma %{{.+}} a(1, %{{.+}}) b(0) acc(%{{.+}}) : {{.*}}, !moek.acc<64x16xf32>
// SMALLT-NEXT:        moek.mma %{{.+}} a(1, %{{.+}}) b(0) acc(%{{.+}}) : {{.*}}, !moek.acc<64x16xf32>
// SMALLT:             moek.store_acc_tma_wait {read}
// SMALLT-NEXT:        moek.barrier_sync id(10) threads(256)
// SMALLT:             moek.acc_store_transposed %{{.+}}, %{{.+}} {col = 0 : i64, cols = 128 : i64}
// SMALLT-NEXT:        moek.acc_store_transposed %{{.+}}, %{{.+}} {col = 64 : i64, cols = 128 : i64}
// SMALLT-NEXT:        moek.barrier_sync id(10) threads(256)
// SMALLT-NEXT:        moek.acc_load_smem %[[STAGING]] {rows = 16 : i64}
// SMALLT:           } else {
// SMALLT:           moek.store_act
// LARGET-LABEL: llvm.func @layer_fused_moe_0(
// LARGET-NOT:     acc<64x16xf32>
// LARGET:         moek.store_act
// LARGET-NOT:     acc<64x16xf32>
// LARGET-LABEL: func.func @before_down

// approx-activation (the default): the bf16 GEMM1 epilogue's divisions by
// rcp.approx (moek.store_act {approx}); the IEEE division with it false.
// APPROX-LABEL: llvm.func @layer_fused_moe_0(
// APPROX:         moek.store_act {{.*}}approx
// EXACT-NOT:      approx

// phase-timers: the phases (two stamps in the dispatch, one when the
// producer is done) and the first MMA warpgroup's tile parts, summed: the
// wait for a tile's first stage (6), its K loop (8), its epilogue (9), the
// tile count (10); of a GEMM1 tile its whole time (12), its count (11),
// the activation's store (14) and the signal (15).
// TIMERS-LABEL: llvm.func @layer_fused_moe_0(
// TIMERS-SAME:    timers = {{[0-9]+}} : i64
// TIMERS:         moek.dispatch
// TIMERS:         moek.warp_role "consumer"
// TIMERS:         moek.timestamp %[[T:.+]][%{{.+}}] {mode = "sub"}
// TIMERS:         scf.while
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "add"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "sub"}
// GEMM1:
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "sub"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "count"}
// TIMERS:         moek.mma
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "add"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "sub"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "sub"}
// TIMERS:         moek.store_act
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "add"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "sub"}
// TIMERS:         moek.signal
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "add"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "add"}
// GEMM2:
// TIMERS:         moek.mma
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "add"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "sub"}
// TIMERS:         moek.store_acc
// The tile's end:
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "add"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "sub"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "count"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}] {mode = "add"}
// TIMERS:         moek.timestamp %[[T]][%{{.+}}]{{$}}
// TIMERS-NEXT:    }
// TIMERS:         moek.grid_barrier %{{.+}} phase(3)

// The per-tile trace (a region after the timers): the producer stamps a
// tile's start (word 0 of tile t), the first MMA warpgroup the arrival of
// its first stage (word 1, with its CTA and GEMM in word 3) and its end
// (word 2); plain stores of the clock, not sums.
// TRACE-LABEL: llvm.func @layer_fused_moe_0(
// TRACE-SAME:    timers = {{[0-9]+}} : i64
// TRACE:         moek.warp_role "producer"
// TRACE:           moek.fetch_add
// TRACE:           %[[C4:.+]] = arith.constant 4 : index
// TRACE-NEXT:      %[[W0:.+]] = arith.muli %{{.+}}, %[[C4]] : index
// TRACE:           moek.timestamp %[[TR:[0-9]+]][%{{.+}}]{{$}}
// TRACE:         moek.warp_role "consumer"
// TRACE:           moek.timestamp %[[TR]][%{{.+}}]{{$}}
// TRACE:           llvm.store %{{.+}}, %{{.+}} : i64, !llvm.ptr<1>
// TRACE:           moek.timestamp %[[TR]][%{{.+}}]{{$}}
// TRACE:         moek.grid_barrier %{{.+}} phase(3)

// A bf16 layer becomes one launch of one persistent kernel: dispatch (two
// grid barriers), the tiles of GEMM1 then GEMM2 in one list, GEMM1 tiles
// ending with SwiGLU and a signal per row block that GEMM2's producer waits
// for, then a third grid barrier and the combine in slot order.
// CHECK-LABEL: func.func @layer
// CHECK:         %[[OUT:.+]] = moek.launch @moe_kernels::@layer_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x384x256xbf16>, tensor<4x256x192xbf16>) -> tensor<?x256xbf16>
// CHECK:         return %[[OUT]]
// CHECK:       llvm.func @layer_fused_moe_0(
// The weights' descriptors, three over the workspace (routed rows,
// activations and GEMM2's rows y, sized for max-tokens * top_k = 8192
// rows), the pointers, the workspace and T.
// CHECK-SAME:    moek.abi = [{box = [64, 128], inner = 256 : i64, kind = "tma", operand = 3 : i64, rows = 1536 : i64, swizzle = 128 : i64, view = "[E*2I, H]"}, {box = [64, 128], inner = 192 : i64, kind = "tma", operand = 4 : i64, rows = 1024 : i64, swizzle = 128 : i64, view = "[E*H, I]"}, {box = [64, 64], dtype = "bf16", kind = "tma", shape = [8192, 256], swizzle = 128 : i64, workspace = "rows", workspace_offset = [[ROWSOFF:[0-9]+]] : i64}, {box = [64, 64], dtype = "bf16", kind = "tma", shape = [8192, 192], swizzle = 128 : i64, workspace = "act", workspace_offset = {{[0-9]+}} : i64}, {box = [64, 64], dtype = "bf16", kind = "tma", shape = [8192, 256], swizzle = 128 : i64, workspace = "y", workspace_offset = [[YOFF:[0-9]+]] : i64}, {kind = "ptr", operand = 0 : i64}, {kind = "ptr", operand = 1 : i64}, {kind = "ptr", operand = 2 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}, {kind = "token_count"}]
// CHECK-SAME:    moek.workspace = {bytes = {{[0-9]+}} : i64, max_tokens = 4096 : i64, zero_bytes = 384 : i64}
// Workspace parts at i64 offsets (a GEP's constant indices hold 29 bits).
// CHECK:         %[[C32:.+]] = llvm.mlir.constant(32 : i64) : i64
// CHECK-NEXT:    %[[NEXT:.+]] = llvm.getelementptr %arg9[%[[C32]]]
// CHECK:         %[[C0:.+]] = llvm.mlir.constant(0 : i64) : i64
// CHECK-NEXT:    %[[BAR:.+]] = llvm.getelementptr %arg9[%[[C0]]]
// CHECK:         %[[C96:.+]] = llvm.mlir.constant(96 : i64) : i64
// CHECK-NEXT:    %[[READY:.+]] = llvm.getelementptr %arg9[%[[C96]]]
// CHECK:         %[[C384:.+]] = llvm.mlir.constant(384 : i64) : i64
// CHECK-NEXT:    %[[OFFS:.+]] = llvm.getelementptr %arg9[%[[C384]]]
// CHECK:         %[[CROWS:.+]] = llvm.mlir.constant([[ROWSOFF]] : i64) : i64
// CHECK-NEXT:    %[[ROWS:.+]] = llvm.getelementptr %arg9[%[[CROWS]]]
// CHECK:         %[[CY:.+]] = llvm.mlir.constant([[YOFF]] : i64) : i64
// CHECK-NEXT:    %[[Y:.+]] = llvm.getelementptr %arg9[%[[CY]]]
// CHECK:         moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
// GEMM2's TMA epilogue: two 8 KB staging halves a warpgroup.
// CHECK-NEXT:    %[[STAGING:.+]] = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
// CHECK:         moek.dispatch %arg5, %arg6, %arg7 tokens(%{{.+}}) counts(%{{.+}}) cursor(%{{.+}}) offsets(%[[OFFS]]) slot_rows(%{{.+}}) row_weights(%{{.+}}) rows(%[[ROWS]]) barrier(%[[BAR]]) {hidden = 256 : i64, num_experts = 4 : i64, phase = 1 : i64, top_k = 2 : i64}
// I = 192: two GEMM1 column blocks of 128 (the second half masked); H =
// 256: one GEMM2 column block of 256.
// CHECK:         %[[N1:.+]] = moek.grouped_tile_count %[[OFFS]] {col_tiles = 2 : i64, num_experts = 4 : i64, tile_rows = 128 : i64}
// CHECK:         %[[N2:.+]] = moek.grouped_tile_count %[[OFFS]] {col_tiles = 1 : i64, num_experts = 4 : i64, tile_rows = 128 : i64}
// CHECK:         %[[TOTAL:.+]] = arith.addi %[[N1]], %[[N2]]
// A dynamic scheduler: the producer fetches tile indices from a device
// counter and tags each stage with its tile; past the last tile, one more
// stage tagged TOTAL, with no loads, stops the MMA warpgroups.
// CHECK:         moek.warp_role "producer" warpgroups(0, 1) max_regs(40)
// CHECK:           %[[LAST:.+]]:2 = scf.while
// CHECK:             %[[T:.+]] = moek.fetch_add %[[NEXT]][%{{.+}}]
// CHECK:             %[[MORE:.+]] = arith.cmpi ult, %[[T]], %[[TOTAL]]
// CHECK:             scf.condition(%[[MORE]])
// CHECK:           arith.cmpi ult, %{{.+}}, %[[N1]]
// GEMM1: the rows, and the gate and up boxes of the weights.
// CHECK:           moek.ring_set_tag
// CHECK:           moek.tma_load %arg2[{{.+}}] {{.*}} tile 0 :
// CHECK:           moek.tma_load %arg0[{{.+}}] {{.*}} tile 1 :
// CHECK:           moek.tma_load %arg0[{{.+}}] {{.*}} tile 1 {row_offset = 128 : i64}
// GEMM2: all 4 GEMM1 signals of the row block (2 column blocks x 2
// warpgroups) first, then the activations and w2.
// CHECK:           moek.wait_counter %[[READY]][%{{.+}}] geq(%c4
// CHECK:           moek.tma_load %arg3[{{.+}}] {{.*}} tile 0 :
// CHECK:           moek.tma_load %arg1[{{.+}}] {{.*}} tile 1 :
// CHECK:           moek.ring_acquire %{{.+}}[%[[LAST]]#0]
// CHECK-NEXT:      moek.ring_set_tag %{{.+}}[%[[LAST]]#0], %[[TOTAL]]
// CHECK:           moek.ring_expect %{{.+}}[%[[LAST]]#0] bytes(%c0
// CHECK:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(232)
// CHECK:           %[[END:.+]]:2 = scf.while
// CHECK:             moek.ring_wait
// CHECK-NEXT:        %[[TILE:.+]] = moek.ring_tag
// CHECK-NEXT:        arith.cmpi ult, %[[TILE]], %[[TOTAL]]
// CHECK:           moek.store_act %{{.+}}, %{{.+}} row_limit(%{{.+}}) {activation = "swiglu", approx, element_type = bf16, gemm1_type = bf16, ld = 192 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
// CHECK:           moek.signal %[[READY]][%{{.+}}] {relayed}
// CHECK:           moek.store_acc_tma %{{.+}}, %arg4, %{{.+}}, %[[Y]][%{{.+}}, %{{.+}}] row_limit(%{{.+}}) barrier(%{{.+}}) {halves = 2 : i64, ld = 256 : i64} : !moek.acc<64x256xf32>
// CHECK:         moek.ring_release %{{.+}}[%[[END]]#0]
// CHECK-NEXT:    moek.signal_end
// CHECK-NEXT:    moek.store_acc_tma_wait
// CHECK:         moek.grid_barrier %[[BAR]] phase(3) id(4) threads(256)
// CHECK-NEXT:    moek.combine %[[Y]], %{{.+}} weights(%arg7) out(%arg8) tokens(%{{.+}}) {element_type = bf16, first_thread = 128 : i64, hidden = 256 : i64, threads = 256 : i64, top_k = 2 : i64, y_type = bf16}
// SMALL:         moek.workspace = {bytes = {{[0-9]+}} : i64, max_tokens = 16 : i64
// MAXERR: error: convert-moe-to-moek: max-tokens must be >= 1, got 0
func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x384x256xbf16>, %w2: tensor<4x256x192xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x384x256xbf16>, tensor<4x256x192xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// The router weight before the down projection: applied to the activation
// rows (row_weights, from the dispatch), not in the combine. Clamped SwiGLU
// keeps its alpha and limit; GEMM1 rounded to f32, GEMM2 to f32.
// CHECK-LABEL: func.func @before_down
// CHECK:         moek.store_act {{.*}} row_weights(%{{.+}}) {activation = "clamped_swiglu", alpha = 1.702000e+00 : f32, approx, element_type = bf16, gemm1_type = f32, ld = 128 : i64, limit = 7.000000e+00 : f32}
// CHECK:         moek.store_acc {{.*}} {element_type = f32, ld = 256 : i64}
// CHECK:         moek.combine %{{.+}}, %{{.+}} out(%arg7)
// CHECK-SAME:      y_type = f32
func.func @before_down(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x256x256xbf16>, %w2: tensor<4x256x128xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation clamped_swiglu>, alpha = 1.702 : f32, limit = 7.0 : f32, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = f32, act_type = bf16, gemm2_type = f32} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x256x256xbf16>, tensor<4x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Gate/up interleaved: a GEMM1 tile's weights are 256 consecutive rows
// (128 gate/up pairs), in two boxes; GELU-mul in the epilogue.
// CHECK-LABEL: func.func @interleaved
// CHECK:         moek.warp_role "producer"
// CHECK:           %[[COL:.+]] = arith.muli %col_tile, %c256
// CHECK-NEXT:      %[[BASE:.+]] = arith.addi %{{.+}}, %[[COL]]
// CHECK-NEXT:      %c128{{.*}} = arith.constant 128 : index
// CHECK-NEXT:      %[[SECOND:.+]] = arith.addi %[[BASE]], %c128
// CHECK:           moek.tma_load %arg0[%{{.+}}, %[[BASE]]]
// CHECK:           moek.tma_load %arg0[%{{.+}}, %[[SECOND]]]
// CHECK:         moek.store_act {{.*}} {activation = "gelu_mul", approx, element_type = bf16, gemm1_type = bf16, layout = "interleaved", ld = 128 : i64}
func.func @interleaved(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x256x256xbf16>, %w2: tensor<4x256x128xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation gelu_mul>, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x256x256xbf16>, tensor<4x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// CHECK-LABEL: func.func @gelu_tanh
// CHECK:         moek.store_act {{.*}} {activation = "gelu_tanh_mul", approx, element_type = bf16, gemm1_type = bf16, ld = 128 : i64}
func.func @gelu_tanh(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x256x256xbf16>, %w2: tensor<4x256x128xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation gelu_tanh_mul>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x256x256xbf16>, tensor<4x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// 256 experts: the static shared memory (three prefix sums of 4 bytes an
// expert) leaves one 8 KB staging half a warpgroup for GEMM2's TMA stores.
// CHECK-LABEL: func.func @many_experts
// CHECK:         moek.smem_alloc {bytes = 16384 : i64} : !llvm.ptr<3>
// CHECK:         moek.store_acc_tma {{.*}} {halves = 1 : i64, ld = 256 : i64}
func.func @many_experts(%x: tensor<?x256xbf16>, %ids: tensor<?x8xi32>, %w: tensor<?x8xf32>, %w13: tensor<256x256x256xbf16>, %w2: tensor<256x256x128xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x8xi32>, tensor<?x8xf32>, tensor<256x256x256xbf16>, tensor<256x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// What the generated kernel does not do yet stays a moe.fused_moe, with a
// remark that says why.
func.func @i64_ids(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi64>, %w: tensor<?x2xf32>, %w13: tensor<4x256x256xbf16>, %w2: tensor<4x256x128xbf16>) -> tensor<?x256xbf16> {
  // expected-remark @+1 {{convert-moe-to-moek: not lowered: the generated fused kernel takes i32 topk_ids}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<4x256x256xbf16>, tensor<4x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

func.func @odd_hidden(%x: tensor<?x200xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x256x200xbf16>, %w2: tensor<4x200x128xbf16>) -> tensor<?x200xbf16> {
  // expected-remark @+1 {{convert-moe-to-moek: not lowered: H (200) and I (128) must be multiples of the K slice (64)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x200xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x256x200xbf16>, tensor<4x200x128xbf16>) -> tensor<?x200xbf16>
  return %out : tensor<?x200xbf16>
}
