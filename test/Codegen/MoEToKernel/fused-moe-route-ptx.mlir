// The routed kernels of fused-moe-route.mlir (DeepSeek-V3's sigmoid routing
// with a bias and groups on the bf16 kernel, Qwen3's softmax on the FP8
// one) through both chips' pipelines to PTX and ptxas: no spill. (The FP8
// layer's 64-row kernel alone on sm_90a: its 128-row variant is
// fused-moe-fp8-tile-rows.mlir's, and an artifact keeps it only where it
// does not spill.)
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_90a fp8-tile-rows=64" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.ptx
// RUN: grep -c "shfl.sync.bfly.b32" %t.ptx | FileCheck %s --check-prefix=BFLY
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_100a" --moek-to-nvvm-pipeline=chip=sm_100a | moe-translate --moe-to-ptx --chip=sm_100a -o %t.sm100.ptx
// RUN: grep -c "shfl.sync.bfly.b32" %t.sm100.ptx | FileCheck %s --check-prefix=BFLY
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.sm100.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS100 --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// Every ranking is a butterfly over the warp (5 steps): DeepSeek-V3's 8
// groups of 2 experts take two rankings each (2 shuffles a step: score,
// expert), its 4 slots one each (3: the unbiased score too): 8 x 2 x 10 +
// 4 x 15 = 220; Qwen3's softmax a maximum and a sum (5 each) and 2 slots
// (15 each): 40; and the FP8 kernel's own 40 (its 1x128 blocks' amax).
// BFLY: {{^}}300{{$}}

// PTXAS-DAG: Compiling entry function 'dsv3_fused_moe_0' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'qwen3_fp8_fused_moe_1' for 'sm_90a'
// PTXAS100-DAG: Compiling entry function 'dsv3_fused_moe_0' for 'sm_100a'
// PTXAS100-DAG: Compiling entry function 'qwen3_fp8_fused_moe_1' for 'sm_100a'

func.func @dsv3(%x: tensor<?x256xbf16>, %logits: tensor<?x16xf32>, %rb: tensor<16xf32>, %w13: tensor<16x256x256xbf16>, %w2: tensor<16x256x128xbf16>) -> tensor<?x256xbf16> {
  %ids, %w = moe.route sigmoid %logits bias(%rb) {top_k = 4 : i64, num_groups = 8 : i64, topk_groups = 4 : i64, renormalize, routed_scaling_factor = 2.5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x4xi32>, tensor<?x4xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<16x256x256xbf16>, tensor<16x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

func.func @qwen3_fp8(%x: tensor<?x256xbf16>, %logits: tensor<?x8xbf16>, %w13: tensor<8x256x256xf8E4M3FN>, %w2: tensor<8x256x128xf8E4M3FN>, %w13s: tensor<8x2x2xf32>, %w2s: tensor<8x2x1xf32>) -> tensor<?x256xbf16> {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, renormalize} : (tensor<?x8xbf16>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<fp8_block, block = [1, 128]>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, act_quant = #moe.quant<fp8_block, block = [1, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<8x2x2xf32>, tensor<8x2x1xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
