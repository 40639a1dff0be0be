// The kernels of fused-moe-bias.mlir (per-expert biases) in one module
// (and an NVFP4 layer with both biases and partial last tiles),
// through the sm_90a pipeline to PTX and ptxas: every kernel compiles with
// no spill (the loads and adds of moek.acc_add_cols are counted in
// test/Codegen/KernelToNVVM/acc-add-cols-sm90a.mlir).
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_90a" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.ptx
// RUN: grep -c "ld.global.b64" %t.ptx | FileCheck %s --check-prefix=PAIRS
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// f32 biases are loaded in pairs of 64 bits, nothing else in these kernels
// is: the GEMM2 bias of the bf16 layer (32 pairs), the MXFP4 layer's
// w13_bias (32) and the FP8 grouped matmul's (16), all tiles in their rows
// (in_row: no predicated form).
// PAIRS: 80

// PTXAS-DAG: Compiling entry function 'gpt_oss_fused_moe_0' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'tails_fused_moe_1' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'nvfp4_tails_fused_moe_2' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'mxfp4_w13_bias_fused_moe_3' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'grouped_expert_matmul_0' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'grouped_expert_matmul_0_m192' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'grouped_fp8_expert_matmul_1' for 'sm_90a'

func.func @gpt_oss(%x: tensor<?x256xbf16>, %ids: tensor<?x4xi32>, %w: tensor<?x4xf32>, %w13: tensor<8x512x256xbf16>, %w2: tensor<8x256x256xbf16>, %b13: tensor<8x512xbf16>, %b2: tensor<8x256xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_bias(%b13) w2_bias(%b2) {activation = #moe<activation clamped_swiglu>, alpha = 1.702 : f32, limit = 7.0 : f32, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>, tensor<8x512xbf16>, tensor<8x256xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

func.func @tails(%x: tensor<?x320xbf16>, %ids: tensor<?x4xi32>, %w: tensor<?x4xf32>, %w13: tensor<8x384x320xbf16>, %w2: tensor<8x320x192xbf16>, %b13: tensor<8x384xbf16>, %b2: tensor<8x320xbf16>) -> tensor<?x320xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_bias(%b13) w2_bias(%b2) {activation = #moe<activation clamped_swiglu>, alpha = 1.702 : f32, limit = 7.0 : f32, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x320xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<8x384x320xbf16>, tensor<8x320x192xbf16>, tensor<8x384xbf16>, tensor<8x320xbf16>) -> tensor<?x320xbf16>
  return %out : tensor<?x320xbf16>
}

func.func @nvfp4_tails(%x: tensor<?x320xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x384x320xf4E2M1FN>, %w2: tensor<8x320x192xf4E2M1FN>, %w13s: tensor<8x384x20xf8E4M3FN>, %w2s: tensor<8x320x12xf8E4M3FN>, %g13: tensor<8xf32>, %g2: tensor<8xf32>, %b13: tensor<8x384xbf16>, %b2: tensor<8x320xbf16>) -> tensor<?x320xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_global_scale(%g13) w2_global_scale(%g2) w13_bias(%b13) w2_bias(%b2) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<nvfp4, block = [1, 16]>, w2_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x320xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x384x320xf4E2M1FN>, tensor<8x320x192xf4E2M1FN>, tensor<8x384x20xf8E4M3FN>, tensor<8x320x12xf8E4M3FN>, tensor<8xf32>, tensor<8xf32>, tensor<8x384xbf16>, tensor<8x320xbf16>) -> tensor<?x320xbf16>
  return %out : tensor<?x320xbf16>
}

func.func @mxfp4_w13_bias(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xf4E2M1FN>, %w2: tensor<8x512x256xf4E2M1FN>, %w13s: tensor<8x512x16xf8E8M0FNU>, %w2s: tensor<8x512x8xf8E8M0FNU>, %b13: tensor<8x512xf32>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_bias(%b13) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp4, block = [1, 32]>, w2_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xf4E2M1FN>, tensor<8x512x256xf4E2M1FN>, tensor<8x512x16xf8E8M0FNU>, tensor<8x512x8xf8E8M0FNU>, tensor<8x512xf32>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}

func.func @grouped(%x: tensor<?x256xbf16>, %w: tensor<8x512x256xbf16>, %offsets: tensor<9xi32>, %bias: tensor<8x512xbf16>) -> tensor<?x512xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets bias(%bias) : (tensor<?x256xbf16>, tensor<8x512x256xbf16>, tensor<9xi32>, tensor<8x512xbf16>) -> tensor<?x512xbf16>
  return %y : tensor<?x512xbf16>
}

func.func @grouped_fp8(%x: tensor<?x512xf8E4M3FN>, %w: tensor<8x256x512xf8E4M3FN>, %offsets: tensor<9xi32>, %xs: tensor<?x4xf32>, %ws: tensor<8x2x4xf32>, %bias: tensor<8x256xf32>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) bias(%bias) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x512xf8E4M3FN>, tensor<8x256x512xf8E4M3FN>, tensor<9xi32>, tensor<?x4xf32>, tensor<8x2x4xf32>, tensor<8x256xf32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
