func.func @f(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x?x4xf32>, %w2: tensor<8x4x4611686018427387904xf32>) {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x?x4xf32>, tensor<8x4x4611686018427387904xf32>) -> tensor<?x4xf32>
  return
}
