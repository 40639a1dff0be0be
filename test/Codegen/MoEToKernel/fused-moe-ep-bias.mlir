// An expert-parallel layer with per-expert biases: moe-expert-parallel
// splits w13_bias and w2_bias with the weights (each rank's [E_l, 2I] and
// [E_l, H]), and the per-rank kernel takes them as operands 5 and 6, before
// the result and the expert-parallel scalars (rank, epoch, timeout, wait
// record); through PTX and ptxas with no spill.
// RUN: moe-opt %s --moe-expert-parallel --convert-moe-to-moek | FileCheck %s
// RUN: moe-opt %s --moe-expert-parallel --convert-moe-to-moek="chip=sm_90a" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: func.func @ep(
// CHECK-SAME:    %{{.+}}: tensor<4x512xbf16>, %{{.+}}: tensor<4x512xf32>)
// CHECK:         moek.launch @moe_kernels::@ep_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6)
// CHECK:       llvm.func @ep_fused_moe_0(
// CHECK-SAME:    {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 5 : i64}, {kind = "ptr", operand = 6 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}, {kind = "token_count"}, {kind = "i32", name = "rank"}
// CHECK:         moek.ep_dispatch
// CHECK:         moek.acc_add_cols %{{.+}} {element_type = bf16, in_row, ld = 512 : i64}
// CHECK:         moek.acc_add_cols %{{.+}} {element_type = f32, in_row, ld = 512 : i64}
// PTXAS: Compiling entry function 'ep_fused_moe_0' for 'sm_90a'
func.func @ep(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>, %b13: tensor<8x512xbf16>, %b2: tensor<8x512xf32>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_bias(%b13) w2_bias(%b2) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>, tensor<8x512xbf16>, tensor<8x512xf32>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
