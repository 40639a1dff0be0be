
// Weights whose K disagrees with the ids'.cases, [[N]] rejected cleanly

// The compile-time itemed weight with no format at all.
func.func @item01_quantized_weight_without_format(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf8E4M3FN>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_ element type 'f8E4M3FN' (quantized values need a format and block scales)}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>) -> tensor<?xf32>
  return
}

