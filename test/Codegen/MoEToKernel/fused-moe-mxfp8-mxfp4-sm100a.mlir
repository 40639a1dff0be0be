// The MXFP8 x MXFP4 fused layer on sm_100a (DeepGEMM's Blackwell formats:
// MXFP8 rows and activation, MXFP4 weights, UE8M0 scales per 1x32 block),
// every product block-scaled by the tensor cores in the single-issuer
// shape: the dispatch quantizes each routed row to e4m3 and UE8M0 scales in
// the workspace; GEMM1 tiles (128 rows x 64 outputs: the gate's 64 weight
// rows and the up's as one 128-row B tile, two 64-row TMA boxes, the up's
// scales from `upper`) and GEMM2 tiles (128 x 128) go through the producer
// warp (TMA from lane 0, scales by every lane), the MMA issuer (four
// block-scaled MMAs a stage) and the epilogue, whose GEMM1 part applies the
// activation, rounds it to bf16 and quantizes each 1x32 block to MXFP8 in
// its thread (32 e4m3 bytes, one scale byte), then signals.
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_100a" -o %t.moek.mlir
// RUN: FileCheck %s < %t.moek.mlir
// RUN: moe-opt %s --moe-to-nvvm-pipeline=chip=sm_100a -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_100a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=wgmma < %t.ptx
// RUN: FileCheck %s --check-prefix=ACT < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// On sm_90a the same layer takes the bf16 kernel (rows and activation
// rounded to MXFP8 values in bf16, weights expanded).
// RUN: moe-opt %s --convert-moe-to-moek | FileCheck %s --check-prefix=SM90

// CHECK-LABEL: llvm.func @concat_fused_moe_0
// CHECK-SAME:    moek.abi = [{box = [128, 64], fp4_padded, inner = 256 : i64, kind = "tma", operand = 3 : i64, rows = 8192 : i64, swizzle = 128 : i64, view = "[E*2I, H]"}, {box = [128, 64], fp4_padded, inner = 256 : i64, kind = "tma", operand = 4 : i64, rows = 4096 : i64, swizzle = 128 : i64, view = "[E*H, I]"}, {box = [128, 64], dtype = "f8E4M3FN", kind = "tma", shape = [{{[0-9]+}}, 256], swizzle = 128 : i64, workspace = "rows", workspace_offset = {{[0-9]+}} : i64}, {box = [128, 64], dtype = "f8E4M3FN", kind = "tma", shape = [{{[0-9]+}}, 256], swizzle = 128 : i64, workspace = "act", workspace_offset = {{[0-9]+}} : i64}
// CHECK:         moek.dispatch {{.*}} rows(%{{.+}}) row_scales(%[[RS:.+]]) barrier(%{{.+}}) {hidden = 256 : i64, mx_round, num_experts = 16 : i64
// CHECK:         %[[R:.+]] = moek.ring_alloc consumers(1) {producers = 33 : i64} : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x4xi8, 3>, memref<128x4xi8, 3>]>
// GEMM1: 256 / 64 = 4 column tiles; GEMM2: 256 / 128 = 2.
// CHECK:         moek.grouped_tile_count %{{.+}} {col_tiles = 4 : i64
// CHECK:         moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64
// CHECK:         moek.warp_role "producer" warpgroups(0, 1) max_regs(80)
// CHECK:           moek.fetch_add %{{.+}} {warp}
// A GEMM1 stage: the gate's and the up's 64-row boxes, their scales from
// the gate row and, for the second half, the up row.
// CHECK:             moek.tma_load %arg0[%[[K1:[a-z0-9_]+]], %[[GATE:[a-z0-9_]+]]] -> %[[R]][%{{.+}}] tile 1 :
// CHECK-NEXT:        moek.tma_load %arg0[%[[K1]], %[[UP:[a-z0-9_]+]]] -> %[[R]][%{{.+}}] tile 1 {row_offset = 64 : i64}
// CHECK:           moek.stage_scales %[[R]][%{{.+}}] tile 2 scales(%[[RS]][%{{.+}}, %{{.+}}]) last(%{{.+}}) {scale_cols = 8 : i64}
// CHECK:           moek.stage_scales %[[R]][%{{.+}}] tile 3 scales(%arg7[%[[GATE]], %{{.+}}]) upper(%[[UP]]) last(%{{.+}}) {scale_cols = 8 : i64}
// CHECK-NEXT:      moek.ring_arrive_copies
// A GEMM2 stage, after its row block's 2 x 4 GEMM1 signals (every lane).
// CHECK:           moek.wait_counter %{{.+}}[%{{.+}}] geq(%c8)
// CHECK:           moek.stage_scales %[[R]][%{{.+}}] tile 3 scales(%arg8[%{{.+}}, %{{.+}}]) last(%{{.+}}) {scale_cols = 8 : i64}
// CHECK:         moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
// CHECK:         moek.mma_tmem %[[R]][%{{.+}}] a(0) b(1), %{{.+}}[%{{.+}}] accumulate(%{{.+}}) {a_scales = 2 : i64, b_scales = 3 : i64}
// CHECK:         moek.warp_role "epilogue" warpgroups(1, 2) max_regs(216)
// CHECK:           moek.acc_store_act_rows %{{.+}}[%{{.+}}] cols(%{{.+}}, 32), %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) row_weights(%{{.+}}) out_scales(%{{.+}}) {activation = "swiglu", element_type = f8E4M3FN, gemm1_type = bf16, ld = 256 : i64}
// CHECK:           moek.signal
// CHECK:           moek.acc_store_rows %{{.+}}[%{{.+}}] cols(%{{.+}}, 64), %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) {element_type = bf16, ld = 256 : i64}
// CHECK:           moek.combine

// Interleaved gate/up rows: 64 pairs, the two boxes 64 rows apart and
// their scales contiguous (no upper).
// CHECK-LABEL: llvm.func @interleaved_fused_moe_1
// CHECK:           moek.stage_scales %{{.+}}[%{{.+}}] tile 3 scales(%arg7[%{{.+}}, %{{.+}}]) last
// CHECK:           moek.acc_store_act_rows {{.*}} {activation = "clamped_swiglu", alpha = 1.702000e+00 : f32, element_type = f8E4M3FN, gemm1_type = bf16, layout = "interleaved", ld = 256 : i64, limit = 7.000000e+00 : f32}

// The dispatch's 1x32 blocks: four lanes' maxima by shuffles, 8 e4m3 bytes
// a lane, the scale byte from the block's first lane; the MMAs.
// PTX:         shfl.sync.bfly.b32
// PTX:         cvt.rn.satfinite.e4m3x2.f32
// PTX:         st.global.v4.b16
// PTX:         st.global.b8
// PTX:         tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32
// After the dispatch's 8-byte stores, the epilogue's activation blocks: 32
// outputs to e4m3 in the thread (16 conversions), two 16-byte stores, one
// scale byte.
// ACT:         st.global.v4.b16
// ACT-COUNT-16: cvt.rn.satfinite.e4m3x2.f32
// ACT:         st.global.v4.b32 [[[A:%rd[0-9]+]]+[[#OFF:]]]
// ACT:         st.global.v4.b32 [[[A]]+[[#OFF+16]]]
// ACT:         st.global.b8

// PTXAS: 0 bytes spill stores, 0 bytes spill loads
// PTXAS: 0 bytes spill stores, 0 bytes spill loads

// SM90-LABEL: llvm.func @concat_fused_moe_0
// SM90-NOT:     moek.stage_scales
// SM90:         moek.dequant_fp4
// SM90:         moek.store_act {{.*}} mx_round
func.func @concat(%x: tensor<?x256xbf16>, %ids: tensor<?x4xi32>,
              %w: tensor<?x4xf32>, %w13: tensor<16x512x256xf4E2M1FN>,
              %w2: tensor<16x256x256xf4E2M1FN>,
              %w13s: tensor<16x512x8xf8E8M0FNU>,
              %w2s: tensor<16x256x8xf8E8M0FNU>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp4, block = [1, 32]>, w2_quant = #moe.quant<mxfp4, block = [1, 32]>, x_quant = #moe.quant<mxfp8, block = [1, 32]>, act_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<16x512x256xf4E2M1FN>, tensor<16x256x256xf4E2M1FN>, tensor<16x512x8xf8E8M0FNU>, tensor<16x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

func.func @interleaved(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>,
              %w: tensor<?x2xf32>, %w13: tensor<8x512x256xf4E2M1FN>,
              %w2: tensor<8x256x256xf4E2M1FN>,
              %w13s: tensor<8x512x8xf8E8M0FNU>,
              %w2s: tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation clamped_swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp4, block = [1, 32]>, w2_quant = #moe.quant<mxfp4, block = [1, 32]>, alpha = 1.702 : f32, limit = 7.0 : f32, x_quant = #moe.quant<mxfp8, block = [1, 32]>, act_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf4E2M1FN>, tensor<8x256x256xf4E2M1FN>, tensor<8x512x8xf8E8M0FNU>, tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
