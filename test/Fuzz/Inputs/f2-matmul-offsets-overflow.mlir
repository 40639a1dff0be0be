func.func @f(%x: tensor<?x4xf32>, %w: tensor<9223372036854775807x4x4xf32>, %offsets: tensor<9xi32>) {
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x4xf32>, tensor<9223372036854775807x4x4xf32>, tensor<9xi32>) -> tensor<?x4xf32>
  return
}
