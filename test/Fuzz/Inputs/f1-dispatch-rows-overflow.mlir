func.func @f(%x: tensor<4611686018427387904x4xf32>, %ids: tensor<4611686018427387904x4xi32>, %w: tensor<4611686018427387904x4xf32>) {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<4611686018427387904x4xf32>, tensor<4611686018427387904x4xi32>, tensor<4611686018427387904x4xf32> -> tensor<?x4xf32>, tensor<5xi32>, tensor<4611686018427387904x4xi32>, tensor<?xf32>
  return
}
