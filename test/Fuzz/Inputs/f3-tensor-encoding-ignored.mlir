func.func @f(%x: tensor<?x4xf32, "strided">, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<?x4xf32, "strided">, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x4xf32>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  %out = moe.combine %rows, %slots weights(%w) : (tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}
