// The grouped matmul's pingpong schedule adds no per-expert bias (the
// cooperative kernels do: fused-moe-bias.mlir): a remark, the op stays.
// RUN: moe-opt %s --convert-moe-to-moek="schedule=pingpong" -verify-diagnostics -o /dev/null
func.func @grouped_pingpong(%x: tensor<?x256xbf16>, %w: tensor<8x128x256xbf16>, %offsets: tensor<9xi32>, %bias: tensor<8x128xf32>) -> tensor<?x128xbf16> {
  // expected-remark @+1 {{convert-moe-to-moek: not lowered: a per-expert bias is not added by this kernel yet (chip = sm_90a, schedule = pingpong)}}
  %y = moe.expert_matmul %x, %w, %offsets bias(%bias) : (tensor<?x256xbf16>, tensor<8x128x256xbf16>, tensor<9xi32>, tensor<8x128xf32>) -> tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}
