// convert-moe-to-moek{act-tma}: in the bf16 fused kernel whose y leaves by
// TMA, GEMM1's activation rows leave by TMA too: moek.store_act takes the
// act descriptor (its 64 x 64 boxes, 128B swizzle, are the staging's
// layout), the warpgroup's staging and named barrier, and the tile's
// moek.signal waits for the bulk stores first (bulk_stores). Concatenated
// gate/up only: with interleaved gate/up a thread holds single output
// columns, not an accumulator's pairs, and the stores stay as they are.
// Off by default: not yet run on a GPU.
// RUN: moe-opt --convert-moe-to-moek="act-tma=true" %s | FileCheck %s
// RUN: moe-opt --convert-moe-to-moek %s | FileCheck %s --check-prefix=OFF
// RUN: moe-opt --convert-moe-to-moek="act-tma=true" --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS-COUNT-2: 0 bytes spill stores, 0 bytes spill loads

// CHECK-LABEL: llvm.func @fm_fused_moe_0(
// The act descriptor is parameter 3, y's 4.
// CHECK:         moek.warp_role "consumer"
// CHECK:           moek.store_act %{{.+}} row_weights(%{{.+}}) tma(%arg3, %[[STAGING:.+]], %[[BARRIER:.+]]) {activation = "swiglu", {{.*}}halves = 2 : i64, ld = 256 : i64}
// CHECK-NOT:       moek.store_act
// CHECK:           moek.signal %{{.+}}[%{{.+}}] {bulk_stores}
// CHECK:           moek.store_acc_tma %{{.+}}, %arg4, %[[STAGING]], %{{.+}} barrier(%[[BARRIER]]) {halves = 2 : i64, ld = 512 : i64}

// CHECK-LABEL: llvm.func @il_fused_moe_1(
// CHECK:           moek.store_act %{{.+}} row_limit(%{{[^)]+}}) {activation = "swiglu", {{.*}}layout = "interleaved"
// CHECK-NOT:       bulk_stores
// CHECK:           moek.store_acc_tma

// OFF-NOT: bulk_stores
// OFF-NOT: tma(

func.func @fm(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}

func.func @il(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
