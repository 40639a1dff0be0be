// A fused layer the code generator does not take: DeepSeek-V3's FP8 rows
// and activation (f32 scales per 1x128 block) by NVFP4 weights.
func.func @fp8_nvfp4(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>,
              %w: tensor<?x2xf32>, %w13: tensor<8x512x256xf4E2M1FN>,
              %w2: tensor<8x256x256xf4E2M1FN>,
              %w13s: tensor<8x512x16xf8E4M3FN>,
              %w2s: tensor<8x256x16xf8E4M3FN>, %w13g: tensor<8xf32>,
              %w2g: tensor<8xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_global_scale(%w13g) w2_global_scale(%w2g) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<fp8_block, block = [1, 128]>, w13_quant = #moe.quant<nvfp4, block = [1, 16]>, act_quant = #moe.quant<fp8_block, block = [1, 128]>, w2_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf4E2M1FN>, tensor<8x256x256xf4E2M1FN>, tensor<8x512x16xf8E4M3FN>, tensor<8x256x16xf8E4M3FN>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
