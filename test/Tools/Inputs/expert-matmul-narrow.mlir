// expert-matmul-small.mlir with N = 128: an artifact of that one does not fit
// this function.
func.func @narrower_expert_matmul(
    %rows: tensor<?x128xbf16>,
    %w: tensor<8x128x128xbf16>,
    %offsets: tensor<9xi32>) -> tensor<?x128xbf16> {
  %h = moe.expert_matmul %rows, %w, %offsets : (tensor<?x128xbf16>, tensor<8x128x128xbf16>, tensor<9xi32>) -> tensor<?x128xbf16>
  return %h : tensor<?x128xbf16>
}
