// The bf16 fused layer on sm_100a in Blackwell's shape (convert-moe-to-moek
// single-issuer, the default): the producer is the sm_90a one, its ring
// freed by the MMAs' commits; lane 0 of warp 1 issues every tile's 128 x 256
// MMAs (a GEMM1 tile's stages over H, a GEMM2 tile's over I) into two
// tensor-memory accumulators; warpgroups 1 and 2 drain them: a GEMM1 tile
// is its 128 rows' gated activation, 64 output columns a warpgroup, then a
// signal; a GEMM2 tile its rows of y, 128 columns a warpgroup. Then grid
// barrier 3 and the combine, as on sm_90a.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a" -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a" -o %t.all.mlir
// RUN: awk '/^\/\/ -----/{exit} {print}' %t.all.mlir | moe-opt --moek-to-nvvm-pipeline=chip=sm_100a | moe-translate --moe-to-ptx --chip=sm_100a -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=wgmma < %t.ptx
// RUN: FileCheck %s --check-prefix=PTX-HAS < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a single-issuer=false" | FileCheck %s --check-prefix=WG

// CHECK-LABEL: func.func @layer
// CHECK:         moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
// CHECK:         moek.dispatch
// CHECK:         moek.warp_role "producer" warpgroups(0, 1) max_regs(56)
// CHECK:           moek.wait_counter
// CHECK:         %[[ACCS:.+]] = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
// CHECK:         moek.warp_role "mma" warpgroups(0, 1) {
// CHECK:           moek.elect_one {warp = 1 : i64}
// A tile's stages: H / 64 = 4 for GEMM1, I / 64 = 3 for GEMM2.
// CHECK:           arith.select %{{.+}}, %c4{{.*}}, %c3
// CHECK:             moek.mma_tmem
// CHECK-NEXT:        moek.mma_release
// CHECK:           moek.acc_commit
// CHECK:         moek.warp_role "epilogue" warpgroups(1, 2) max_regs(216)
// CHECK:           moek.acc_wait %[[ACCS]]
// CHECK:             moek.acc_store_act_rows %[[ACCS]][%{{.+}}] cols(%{{.+}}, 64), %{{.+}} row_limit(%{{.+}}) {activation = "swiglu", element_type = bf16, gemm1_type = bf16, ld = 192 : i64}
// CHECK:             moek.signal
// CHECK:           } else {
// CHECK:             moek.acc_store_rows %[[ACCS]][%{{.+}}] cols(%{{.+}}, 128), %{{.+}} row_limit(%{{.+}}) {element_type = bf16, ld = 256 : i64}
// CHECK:           moek.acc_release %[[ACCS]]
// CHECK:         moek.grid_barrier
// CHECK:         moek.combine
// CHECK-NOT:     moek.mma {{.*}}acc(

// The epilogue: per 16 outputs a .32x32b.x16 load of the gates and one of
// the ups, the activation (ex2), bf16 pairs, 16-byte stores; GEMM2's rows
// 32 columns a load.
// PTX:         tcgen05.ld.sync.aligned.32x32b.x16.b32
// PTX-NEXT:    add.s32
// PTX-NEXT:    tcgen05.ld.sync.aligned.32x32b.x16.b32
// PTX-NEXT:    tcgen05.wait::ld.sync.aligned
// PTX:         ex2.approx
// PTX:         cvt.rn.bf16x2.f32
// PTX:         st.global.v4.b32
// PTX:         tcgen05.ld.sync.aligned.32x32b.x32.b32
// PTX-HAS-DAG: tcgen05.alloc.cta_group::1
// PTX-HAS-DAG: tcgen05.mma.cta_group::1.kind::f16
// PTX-HAS-DAG: tcgen05.dealloc.cta_group::1

// PTXAS: 0 bytes spill stores, 0 bytes spill loads

// WG-LABEL: func.func @layer
// WG:         moek.ring_alloc consumers(256)
// WG-NOT:     moek.acc_ring_alloc
// WG:         moek.store_act
func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x384x256xbf16>, %w2: tensor<4x256x192xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x384x256xbf16>, tensor<4x256x192xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Interleaved gate/up, clamped SwiGLU, the router weight before the down
// projection, f32 rounding points: the same op with those attributes.
// CHECK-LABEL: func.func @interleaved
// CHECK:         moek.acc_store_act_rows {{.*}} row_weights(%{{.+}}) {activation = "clamped_swiglu", alpha = 1.702000e+00 : f32, element_type = bf16, gemm1_type = f32, layout = "interleaved", ld = 128 : i64, limit = 7.000000e+00 : f32}
// CHECK:         moek.acc_store_rows {{.*}} {element_type = f32, ld = 256 : i64}
func.func @interleaved(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x256x256xbf16>, %w2: tensor<4x256x128xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation clamped_swiglu>, alpha = 1.702 : f32, limit = 7.0 : f32, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight before_down>, gemm1_type = f32, act_type = bf16, gemm2_type = f32} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x256x256xbf16>, tensor<4x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// MXFP4 weights, which both warpgroups expand before their MMAs: the
// warpgroup shape (moek.dequant_fp4, moek.mma).
// CHECK-LABEL: func.func @mxfp4
// CHECK-NOT:     moek.acc_ring_alloc
// CHECK:         moek.dequant_fp4
// CHECK:         moek.store_act
func.func @mxfp4(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>,
                 %w: tensor<?x2xf32>, %w13: tensor<8x512x512xf4E2M1FN>,
                 %w2: tensor<8x512x256xf4E2M1FN>,
                 %w13s: tensor<8x512x16xf8E8M0FNU>,
                 %w2s: tensor<8x512x8xf8E8M0FNU>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp4, block = [1, 32]>, w2_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xf4E2M1FN>, tensor<8x512x256xf4E2M1FN>, tensor<8x512x16xf8E8M0FNU>, tensor<8x512x8xf8E8M0FNU>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
