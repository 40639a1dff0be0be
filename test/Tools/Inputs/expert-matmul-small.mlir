// A small grouped matmul for moe-run's tests: 8 experts, N = 256, K = 128,
// BF16 with FP32 accumulation (examples/deepseek-v3-expert-matmul.mlir, cut
// down).
func.func @small_expert_matmul(
    %rows: tensor<?x128xbf16>,
    %w: tensor<8x256x128xbf16>,
    %offsets: tensor<9xi32>) -> tensor<?x256xbf16> {
  %h = moe.expert_matmul %rows, %w, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  return %h : tensor<?x256xbf16>
}
