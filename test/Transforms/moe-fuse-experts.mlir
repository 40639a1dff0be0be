// RUN: moe-opt %s -split-input-file --moe-fuse-experts -verify-diagnostics | FileCheck %s

// moe-fuse-experts: each chain dispatch -> [quantize] -> expert_matmul ->
// activation -> [quantize] -> expert_matmul -> combine becomes one
// moe.fused_moe that records every rounding point; a chain that does not
// match exactly stays, with a remark on its combine saying why.
// Shapes: E = 8, H = 256, I = 128, K = 2.

// bf16 everywhere, router weight in the combine.
// CHECK-LABEL: func.func @fuse_bf16_in_combine(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[IDS:[^:]+]]: tensor<?x2xi32>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<?x2xf32>,
// CHECK-SAME:    %[[W13:[^:]+]]: tensor<8x256x256xbf16>,
// CHECK-SAME:    %[[W2:[^:]+]]: tensor<8x256x128xbf16>)
// CHECK-NOT:     moe.dispatch
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK:         %[[OUT:.+]] = moe.fused_moe %[[X]], %[[IDS]], %[[W]], %[[W13]], %[[W2]] {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
// CHECK:         return %[[OUT]]
func.func @fuse_bf16_in_combine(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// DeepSeek-V3's FP8 recipe: both activations quantized 1x128, 128x128 weight
// blocks, the router weight on the activation (before_down); the second
// matmul rounds to f32 and the combine to bf16.
// CHECK-LABEL: func.func @fuse_fp8_before_down(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[IDS:[^:]+]]: tensor<?x2xi32>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<?x2xf32>,
// CHECK-SAME:    %[[W13:[^:]+]]: tensor<8x256x256xf8E4M3FN>,
// CHECK-SAME:    %[[W13S:[^:]+]]: tensor<8x2x2xf32>,
// CHECK-SAME:    %[[W2:[^:]+]]: tensor<8x256x128xf8E4M3FN>,
// CHECK-SAME:    %[[W2S:[^:]+]]: tensor<8x2x1xf32>)
// CHECK-NOT:     moe.dispatch
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK:         %[[OUT:.+]] = moe.fused_moe %[[X]], %[[IDS]], %[[W]], %[[W13]], %[[W2]] w13_scales(%[[W13S]]) w2_scales(%[[W2S]]) {
// CHECK-SAME:      act_quant = #moe.quant<fp8_block, block = [1, 128]>,
// CHECK-SAME:      act_type = bf16,
// CHECK-SAME:      activation = #moe<activation swiglu>,
// CHECK-SAME:      gate_up_layout = #moe<gate_up_layout concat>,
// CHECK-SAME:      gemm1_type = bf16,
// CHECK-SAME:      gemm2_type = f32,
// CHECK-SAME:      router_weight = #moe<router_weight before_down>,
// CHECK-SAME:      w13_quant = #moe.quant<fp8_block, block = [128, 128]>,
// CHECK-SAME:      w2_quant = #moe.quant<fp8_block, block = [128, 128]>,
// CHECK-SAME:      x_quant = #moe.quant<fp8_block, block = [1, 128]>}
// CHECK-SAME:      : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<8x2x2xf32>, tensor<8x2x1xf32>) -> tensor<?x256xbf16>
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
// CHECK:         return %[[OUT]]
func.func @fuse_fp8_before_down(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x2x2xf32>, %w2: tensor<8x256x128xf8E4M3FN>, %w2s: tensor<8x2x1xf32>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %xq, %xs = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %rows : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x2xf32>
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%w13s) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<?x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h row_weights(%row_weights) : (tensor<?x256xbf16>, tensor<?xf32>) -> tensor<?x128xbf16>
  %aq, %as = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %a : tensor<?x128xbf16> -> tensor<?x128xf8E4M3FN>, tensor<?x1xf32>
  %y = moe.expert_matmul %aq, %w2, %offsets x_scales(%as) w_scales(%w2s) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x128xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<9xi32>, tensor<?x1xf32>, tensor<8x2x1xf32>) -> tensor<?x256xf32>
  %out = moe.combine %y, %slot_map : (tensor<?x256xf32>, tensor<?x2xi32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// No router weight at all (router_weight = none); static T = 4; the first
// matmul outputs f32, so gemm1_type = f32; the activation rounds to bf16.
// CHECK-LABEL: func.func @fuse_no_router_weight_f32_gemm1(
// CHECK-NOT:     moe.dispatch
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK:         %[[OUT:.+]] = moe.fused_moe %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} {
// CHECK-SAME:      act_type = bf16,
// CHECK-SAME:      gemm1_type = f32,
// CHECK-SAME:      gemm2_type = f32,
// CHECK-SAME:      router_weight = #moe<router_weight none>}
// CHECK-SAME:      -> tensor<4x256xf32>
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
// CHECK:         return %[[OUT]]
func.func @fuse_no_router_weight_f32_gemm1(%x: tensor<4x256xbf16>, %ids: tensor<4x2xi64>, %w: tensor<4x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<4x256xf32> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<4x256xbf16>, tensor<4x2xi64>, tensor<4x2xf32> -> tensor<8x256xbf16>, tensor<9xi32>, tensor<4x2xi32>, tensor<8xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<8x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<8x256xf32>
  %a = moe.activation swiglu(concat) %h : (tensor<8x256xf32>) -> tensor<8x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<8x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<8x256xf32>
  %out = moe.combine %y, %slot_map : (tensor<8x256xf32>, tensor<4x2xi32>) -> tensor<4x256xf32>
  return %out : tensor<4x256xf32>
}

// -----

// MXFP4 weights with bf16 activations, clamped SwiGLU on interleaved rows
// (gpt-oss): the weight formats, alpha and limit are carried over.
// CHECK-LABEL: func.func @fuse_mxfp4_weights_clamped_swiglu(
// CHECK-SAME:    %[[W13S:[^:]+]]: tensor<8x256x8xf8E8M0FNU>,
// CHECK-SAME:    %[[W2S:[^:]+]]: tensor<8x256x4xf8E8M0FNU>)
// CHECK-NOT:     moe.dispatch
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK:         moe.fused_moe %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} w13_scales(%[[W13S]]) w2_scales(%[[W2S]]) {
// CHECK-SAME:      act_type = bf16,
// CHECK-SAME:      activation = #moe<activation clamped_swiglu>,
// CHECK-SAME:      alpha = 1.702000e+00 : f32,
// CHECK-SAME:      gate_up_layout = #moe<gate_up_layout interleaved>,
// CHECK-SAME:      gemm1_type = bf16,
// CHECK-SAME:      gemm2_type = bf16,
// CHECK-SAME:      limit = 7.000000e+00 : f32,
// CHECK-SAME:      router_weight = #moe<router_weight in_combine>,
// CHECK-SAME:      w13_quant = #moe.quant<mxfp4, block = [1, 32]>,
// CHECK-SAME:      w2_quant = #moe.quant<mxfp4, block = [1, 32]>}
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
func.func @fuse_mxfp4_weights_clamped_swiglu(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf4E2M1FN>, %w2: tensor<8x256x128xf4E2M1FN>, %w13s: tensor<8x256x8xf8E8M0FNU>, %w2s: tensor<8x256x4xf8E8M0FNU>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets w_scales(%w13s) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  %a = moe.activation clamped_swiglu(interleaved) %h {alpha = 1.702 : f32, limit = 7.0 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets w_scales(%w2s) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x128xbf16>, tensor<8x256x128xf4E2M1FN>, tensor<9xi32>, tensor<8x256x4xf8E8M0FNU>) -> tensor<?x256xbf16>
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// MXFP8 activations and weights (UE8M0 scales), gelu_mul.
// CHECK-LABEL: func.func @fuse_mxfp8_gelu_mul(
// CHECK-NOT:     moe.dispatch
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK:         moe.fused_moe
// CHECK-SAME:      act_quant = #moe.quant<mxfp8, block = [1, 32]>,
// CHECK-SAME:      activation = #moe<activation gelu_mul>,
// CHECK-SAME:      w13_quant = #moe.quant<mxfp8, block = [1, 32]>,
// CHECK-SAME:      w2_quant = #moe.quant<mxfp8, block = [1, 32]>,
// CHECK-SAME:      x_quant = #moe.quant<mxfp8, block = [1, 32]>}
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
func.func @fuse_mxfp8_gelu_mul(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x256x8xf8E8M0FNU>, %w2: tensor<8x256x128xf8E4M3FN>, %w2s: tensor<8x256x4xf8E8M0FNU>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %xq, %xs = moe.quantize #moe.quant<mxfp8, block = [1, 32]> %rows : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x8xf8E8M0FNU>
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%w13s) {x_quant = #moe.quant<mxfp8, block = [1, 32]>, w_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<?x8xf8E8M0FNU>, tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  %a = moe.activation gelu_mul(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %aq, %as = moe.quantize #moe.quant<mxfp8, block = [1, 32]> %a : tensor<?x128xbf16> -> tensor<?x128xf8E4M3FN>, tensor<?x4xf8E8M0FNU>
  %y = moe.expert_matmul %aq, %w2, %offsets x_scales(%as) w_scales(%w2s) {x_quant = #moe.quant<mxfp8, block = [1, 32]>, w_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x128xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<9xi32>, tensor<?x4xf8E8M0FNU>, tensor<8x256x4xf8E8M0FNU>) -> tensor<?x256xbf16>
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// NVFP4 weights: block scales and per-expert global scales are carried over.
// CHECK-LABEL: func.func @fuse_nvfp4_weights(
// CHECK-SAME:    %[[W13S:[^:]+]]: tensor<8x256x16xf8E4M3FN>,
// CHECK-SAME:    %[[W13G:[^:]+]]: tensor<8xf32>,
// CHECK-SAME:    %[[W2S:[^:]+]]: tensor<8x256x8xf8E4M3FN>,
// CHECK-SAME:    %[[W2G:[^:]+]]: tensor<8xf32>)
// CHECK-NOT:     moe.dispatch
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK:         moe.fused_moe %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} w13_scales(%[[W13S]]) w2_scales(%[[W2S]]) w13_global_scale(%[[W13G]]) w2_global_scale(%[[W2G]]) {
// CHECK-SAME:      w13_quant = #moe.quant<nvfp4, block = [1, 16]>,
// CHECK-SAME:      w2_quant = #moe.quant<nvfp4, block = [1, 16]>}
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
func.func @fuse_nvfp4_weights(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf4E2M1FN>, %w13s: tensor<8x256x16xf8E4M3FN>, %w13g: tensor<8xf32>, %w2: tensor<8x256x128xf4E2M1FN>, %w2s: tensor<8x256x8xf8E4M3FN>, %w2g: tensor<8xf32>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets w_scales(%w13s) w_global_scale(%w13g) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x16xf8E4M3FN>, tensor<8xf32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets w_scales(%w2s) w_global_scale(%w2g) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x128xbf16>, tensor<8x256x128xf4E2M1FN>, tensor<9xi32>, tensor<8x256x8xf8E4M3FN>, tensor<8xf32>) -> tensor<?x256xbf16>
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// The expert-parallel placement of the dispatch is carried over.
// CHECK-LABEL: func.func @fuse_placement(
// CHECK-NOT:     moe.dispatch
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK:         moe.fused_moe
// CHECK-SAME:      placement = #moe.placement<ranks = 4, experts_per_rank = 2>
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
func.func @fuse_placement(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64, placement = #moe.placement<ranks = 4, experts_per_rank = 2>} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Two independent layers in one function, the second fed by the first: both
// fused; the router (gate, route) of each stays.
// CHECK-LABEL: func.func @fuse_two_layers(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-NOT:     moe.dispatch
// CHECK:         %[[L1:.+]] = moe.gate %[[X]]
// CHECK:         %[[IDS1:[^,]+]], %[[W1:[^ ]+]] = moe.route softmax %[[L1]]
// CHECK-NOT:     moe.dispatch
// CHECK:         %[[OUT1:.+]] = moe.fused_moe %[[X]], %[[IDS1]], %[[W1]], %{{[^ ,)]+}}, %{{[^ ,)]+}} {
// CHECK-SAME:      activation = #moe<activation swiglu>
// CHECK-SAME:      router_weight = #moe<router_weight in_combine>
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
// CHECK:         %[[L2:.+]] = moe.gate %[[OUT1]]
// CHECK:         %[[IDS2:[^,]+]], %[[W2:[^ ]+]] = moe.route sigmoid %[[L2]]
// CHECK-NOT:     moe.dispatch
// CHECK:         %[[OUT2:.+]] = moe.fused_moe %[[OUT1]], %[[IDS2]], %[[W2]], %{{[^ ,)]+}}, %{{[^ ,)]+}} {
// CHECK-SAME:      activation = #moe<activation gelu_tanh_mul>
// CHECK-SAME:      router_weight = #moe<router_weight before_down>
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
// CHECK:         return %[[OUT2]]
func.func @fuse_two_layers(%x: tensor<?x256xbf16>, %wg1: tensor<8x256xbf16>, %w13a: tensor<8x256x256xbf16>, %w2a: tensor<8x256x128xbf16>, %wg2: tensor<8x256xbf16>, %w13b: tensor<8x256x256xbf16>, %w2b: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %l1 = moe.gate %x, %wg1 : tensor<?x256xbf16>, tensor<8x256xbf16> -> tensor<?x8xf32>
  %ids1, %w1 = moe.route softmax %l1 {top_k = 2 : i64, renormalize} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  %rows1, %offsets1, %slots1, %rw1 = moe.dispatch %x, %ids1, %w1 {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h1 = moe.expert_matmul %rows1, %w13a, %offsets1 : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a1 = moe.activation swiglu(concat) %h1 : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y1 = moe.expert_matmul %a1, %w2a, %offsets1 : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %out1 = moe.combine %y1, %slots1 weights(%w1) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  %l2 = moe.gate %out1, %wg2 : tensor<?x256xbf16>, tensor<8x256xbf16> -> tensor<?x8xf32>
  %ids2, %w2 = moe.route sigmoid %l2 {top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  %rows2, %offsets2, %slots2, %rw2 = moe.dispatch %out1, %ids2, %w2 {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h2 = moe.expert_matmul %rows2, %w13b, %offsets2 : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a2 = moe.activation gelu_tanh_mul(concat) %h2 row_weights(%rw2) : (tensor<?x256xbf16>, tensor<?xf32>) -> tensor<?x128xbf16>
  %y2 = moe.expert_matmul %a2, %w2b, %offsets2 : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %out2 = moe.combine %y2, %slots2 : (tensor<?x256xbf16>, tensor<?x2xi32>) -> tensor<?x256xbf16>
  return %out2 : tensor<?x256xbf16>
}

// -----

// The examples' DeepSeek-V3 FP8 layer at its real sizes.
// CHECK-LABEL: func.func @fuse_deepseek_v3_fp8(
// CHECK-NOT:     moe.dispatch
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK:         moe.fused_moe
// CHECK-SAME:      router_weight = #moe<router_weight before_down>
// CHECK-SAME:      : (tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32>, tensor<256x4096x7168xf8E4M3FN>, tensor<256x7168x2048xf8E4M3FN>, tensor<256x32x56xf32>, tensor<256x56x16xf32>) -> tensor<?x7168xbf16>
// CHECK-NOT:     moe.quantize
// CHECK-NOT:     moe.expert_matmul
// CHECK-NOT:     moe.activation
// CHECK-NOT:     moe.combine
func.func @fuse_deepseek_v3_fp8(%x: tensor<?x7168xbf16>, %ids: tensor<?x8xi32>, %weights: tensor<?x8xf32>, %w13: tensor<256x4096x7168xf8E4M3FN>, %w13_scales: tensor<256x32x56xf32>, %w2: tensor<256x7168x2048xf8E4M3FN>, %w2_scales: tensor<256x56x16xf32>) -> tensor<?x7168xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %weights {num_experts = 256 : i64} : tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32> -> tensor<?x7168xbf16>, tensor<257xi32>, tensor<?x8xi32>, tensor<?xf32>
  %xq, %xs = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %rows : tensor<?x7168xbf16> -> tensor<?x7168xf8E4M3FN>, tensor<?x56xf32>
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%w13_scales) {w_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x7168xf8E4M3FN>, tensor<256x4096x7168xf8E4M3FN>, tensor<257xi32>, tensor<?x56xf32>, tensor<256x32x56xf32>) -> tensor<?x4096xbf16>
  %a = moe.activation swiglu(concat) %h row_weights(%row_weights) : (tensor<?x4096xbf16>, tensor<?xf32>) -> tensor<?x2048xbf16>
  %aq, %as = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %a : tensor<?x2048xbf16> -> tensor<?x2048xf8E4M3FN>, tensor<?x16xf32>
  %y = moe.expert_matmul %aq, %w2, %offsets x_scales(%as) w_scales(%w2_scales) {w_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x2048xf8E4M3FN>, tensor<256x7168x2048xf8E4M3FN>, tensor<257xi32>, tensor<?x16xf32>, tensor<256x56x16xf32>) -> tensor<?x7168xbf16>
  %out = moe.combine %y, %slot_map : (tensor<?x7168xbf16>, tensor<?x8xi32>) -> tensor<?x7168xbf16>
  return %out : tensor<?x7168xbf16>
}

// -----

//===----------------------------------------------------------------------===//
// Chains left unfused
//===----------------------------------------------------------------------===//

// Router weight applied twice: on the activation and in the combine.
// CHECK-LABEL: func.func @negative_fuse_router_weight_twice(
// CHECK:         moe.dispatch
// CHECK:         moe.expert_matmul
// CHECK:         moe.activation swiglu({{ ?}}concat) %{{[^ ,)]+}} row_weights(
// CHECK:         moe.expert_matmul
// CHECK:         moe.combine %{{[^ ,)]+}}, %{{[^ ,)]+}} weights(
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_router_weight_twice(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h row_weights(%row_weights) : (tensor<?x256xbf16>, tensor<?xf32>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the router weight is applied twice (in moe.activation and in moe.combine)}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Intermediate used elsewhere: the first matmul's output %h is returned too.
// CHECK-LABEL: func.func @negative_fuse_intermediate_used_elsewhere(
// CHECK:         moe.dispatch
// CHECK:         %[[H:.+]] = moe.expert_matmul
// CHECK:         moe.activation
// CHECK:         moe.expert_matmul
// CHECK:         %[[OUT:.+]] = moe.combine
// CHECK-NOT:     moe.fused_moe
// CHECK:         return %[[OUT]], %[[H]]
func.func @negative_fuse_intermediate_used_elsewhere(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: a value of the chain (first matmul's output) is used outside it}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %h : tensor<?x256xbf16>, tensor<?x256xbf16>
}

// -----

// Intermediate used elsewhere: the activation's output.
// CHECK-LABEL: func.func @negative_fuse_activation_output_used_elsewhere(
// CHECK:         moe.dispatch
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_activation_output_used_elsewhere(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x128xbf16>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: a value of the chain (activation's output) is used outside it}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %a : tensor<?x256xbf16>, tensor<?x128xbf16>
}

// -----

// Intermediate used elsewhere: the dispatch's row weights, which the fused op
// would not produce, are returned.
// CHECK-LABEL: func.func @negative_fuse_row_weights_used_elsewhere(
// CHECK:         %{{[^,]+}}, %{{[^,]+}}, %{{[^,]+}}, %[[RW:[^ ]+]] = moe.dispatch
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
// CHECK:         return %{{[^ ,)]+}}, %[[RW]]
func.func @negative_fuse_row_weights_used_elsewhere(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?xf32>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: a value of the chain (row weights) is used outside it}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %row_weights : tensor<?x256xbf16>, tensor<?xf32>
}

// -----

// Intermediate used elsewhere: the quantization scales of the activation.
// CHECK-LABEL: func.func @negative_fuse_quantize_scales_used_elsewhere(
// CHECK:         moe.quantize
// CHECK:         moe.quantize
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_quantize_scales_used_elsewhere(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x2x2xf32>, %w2: tensor<8x256x128xf8E4M3FN>, %w2s: tensor<8x2x1xf32>) -> (tensor<?x256xbf16>, tensor<?x1xf32>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %xq, %xs = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %rows : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x2xf32>
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%w13s) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<?x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h row_weights(%row_weights) : (tensor<?x256xbf16>, tensor<?xf32>) -> tensor<?x128xbf16>
  %aq, %as = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %a : tensor<?x128xbf16> -> tensor<?x128xf8E4M3FN>, tensor<?x1xf32>
  %y = moe.expert_matmul %aq, %w2, %offsets x_scales(%as) w_scales(%w2s) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x128xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<9xi32>, tensor<?x1xf32>, tensor<8x2x1xf32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: a value of the chain (quantization scales) is used outside it}}
  %out = moe.combine %y, %slot_map : (tensor<?x256xbf16>, tensor<?x2xi32>) -> tensor<?x256xbf16>
  return %out, %as : tensor<?x256xbf16>, tensor<?x1xf32>
}

// -----

// Combine weights not the dispatch's weights.
// CHECK-LABEL: func.func @negative_fuse_combine_weights_not_dispatch_weights(
// CHECK-SAME:    %[[W:[^:]+]]: tensor<?x2xf32>,
// CHECK-SAME:    %[[OTHER:[^:]+]]: tensor<?x2xf32>,
// CHECK:         moe.dispatch %{{[^ ,)]+}}, %{{[^ ,)]+}}, %[[W]]
// CHECK:         moe.combine %{{[^ ,)]+}}, %{{[^ ,)]+}} weights(%[[OTHER]])
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_combine_weights_not_dispatch_weights(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %other: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the combine's weights are not the weights given to the dispatch}}
  %out = moe.combine %y, %slot_map weights(%other) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// The activation's row weights come from another dispatch.
// CHECK-LABEL: func.func @negative_fuse_row_weights_of_other_dispatch(
// CHECK-COUNT-2: moe.dispatch
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_row_weights_of_other_dispatch(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %ids2: tensor<?x2xi32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %rows2, %offsets2, %slot_map2, %row_weights2 = moe.dispatch %x, %ids2, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h row_weights(%row_weights2) : (tensor<?x256xbf16>, tensor<?xf32>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the activation's row weights are not the dispatch's row_weights}}
  %out = moe.combine %y, %slot_map : (tensor<?x256xbf16>, tensor<?x2xi32>) -> tensor<?x256xbf16>
  return %out, %rows2, %offsets2, %slot_map2 : tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>
}

// -----

// Matmuls using different offsets (two dispatches): the second matmul reads
// the offsets of another dispatch.
// CHECK-LABEL: func.func @negative_fuse_second_matmul_other_offsets(
// CHECK:         %{{[^,]+}}, %[[OFF1:[^,]+]], %{{[^,]+}}, %{{[^ ]+}} = moe.dispatch
// CHECK:         %{{[^,]+}}, %[[OFF2:[^,]+]], %{{[^,]+}}, %{{[^ ]+}} = moe.dispatch
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %[[OFF1]]
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %[[OFF2]]
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_second_matmul_other_offsets(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %ids2: tensor<?x2xi32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %rows2, %offsets2, %slot_map2, %row_weights2 = moe.dispatch %x, %ids2, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets2 : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the second matmul does not use the offsets of the dispatch}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Matmuls using different offsets (two dispatches): the first matmul reads
// the offsets of another dispatch.
// CHECK-LABEL: func.func @negative_fuse_first_matmul_other_offsets(
// CHECK-COUNT-2: moe.dispatch
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_first_matmul_other_offsets(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %ids2: tensor<?x2xi32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %rows2, %offsets2, %slot_map2, %row_weights2 = moe.dispatch %x, %ids2, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets2 : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the first matmul does not use the offsets of the dispatch}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// The first matmul reads the rows of another dispatch (same offsets).
// CHECK-LABEL: func.func @negative_fuse_first_matmul_other_rows(
// CHECK-COUNT-2: moe.dispatch
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_first_matmul_other_rows(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %ids2: tensor<?x2xi32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %rows2, %offsets2, %slot_map2, %row_weights2 = moe.dispatch %x, %ids2, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows2, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the first matmul does not read the rows of the dispatch}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Activation fed by something else: its input is a function argument.
// CHECK-LABEL: func.func @negative_fuse_activation_fed_by_argument(
// CHECK-SAME:    %{{[^:]+}}: tensor<?x256xbf16>, %{{[^:]+}}: tensor<?x2xi32>, %{{[^:]+}}: tensor<?x2xf32>,
// CHECK-SAME:    %[[H:[^:]+]]: tensor<?x256xbf16>,
// CHECK:         moe.dispatch
// CHECK:         moe.activation swiglu({{ ?}}concat) %[[H]]
// CHECK:         moe.expert_matmul
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_activation_fed_by_argument(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %h: tensor<?x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the activation's input is not produced by moe.expert_matmul}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %rows : tensor<?x256xbf16>, tensor<?x256xbf16>
}

// -----

// The second matmul reads something other than an activation (a dequantize).
// CHECK-LABEL: func.func @negative_fuse_second_matmul_not_after_activation(
// CHECK:         moe.dequantize
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_second_matmul_not_after_activation(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %aq: tensor<?x128xf4E2M1FN>, %as: tensor<?x4xf8E8M0FNU>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %a = moe.dequantize #moe.quant<mxfp4, block = [1, 32]> %aq, %as : (tensor<?x128xf4E2M1FN>, tensor<?x4xf8E8M0FNU>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the second matmul's input is not produced by moe.activation}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %rows : tensor<?x256xbf16>, tensor<?x256xbf16>
}

// -----

// Combined rows that no expert matmul produced.
// CHECK-LABEL: func.func @negative_fuse_rows_not_from_matmul(
// CHECK:         moe.dispatch
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_rows_not_from_matmul(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the combined rows are not produced by moe.expert_matmul}}
  %out = moe.combine %rows, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// A slot map that no dispatch produced.
// CHECK-LABEL: func.func @negative_fuse_slot_map_not_from_dispatch(
// CHECK:         moe.expert_matmul
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_slot_map_not_from_dispatch(%a: tensor<?x128xbf16>, %slot_map: tensor<?x2xi32>, %offsets: tensor<9xi32>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the slot map is not produced by moe.dispatch}}
  %out = moe.combine %y, %slot_map : (tensor<?x256xbf16>, tensor<?x2xi32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Quantize scales not matching: the first matmul reads the values of one
// quantize with the scales of another.
// CHECK-LABEL: func.func @negative_fuse_quantize_scales_not_matching(
// CHECK:         %[[Q1:[^,]+]], %[[S1:[^ ]+]] = moe.quantize
// CHECK:         %[[Q2:[^,]+]], %[[S2:[^ ]+]] = moe.quantize
// CHECK:         moe.expert_matmul %[[Q1]], %{{[^ ,)]+}}, %{{[^ ,)]+}} x_scales(%[[S2]])
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_quantize_scales_not_matching(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %x2: tensor<?x256xbf16>, %w13: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x2x2xf32>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x2xf32>, tensor<?x256xf8E4M3FN>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %xq, %xs = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %rows : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x2xf32>
  %xq2, %xs2 = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x2 : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x2xf32>
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs2) w_scales(%w13s) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<?x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: a moe.expert_matmul reads quantized values without the scales and format of their moe.quantize}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %xs, %xq2 : tensor<?x256xbf16>, tensor<?x2xf32>, tensor<?x256xf8E4M3FN>
}

// -----

// Quantized input not from a quantize: the first matmul reads pre-quantized rows from an argument.
// CHECK-LABEL: func.func @negative_fuse_quantized_input_not_from_quantize(
// CHECK:         moe.dispatch
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_quantized_input_not_from_quantize(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %xq: tensor<?x256xf8E4M3FN>, %xs: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) {x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xbf16>, tensor<9xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the quantized input of a moe.expert_matmul does not come from moe.quantize}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %rows : tensor<?x256xbf16>, tensor<?x256xbf16>
}

// -----

// NVFP4 activations (a per-call global scale) are not fused.
// CHECK-LABEL: func.func @negative_fuse_nvfp4_activations(
// CHECK:         moe.quantize
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_nvfp4_activations(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf4E2M1FN>, %w13s: tensor<8x256x16xf8E4M3FN>, %w13g: tensor<8xf32>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %xq, %xs, %xg = moe.quantize #moe.quant<nvfp4, block = [1, 16]> %rows : tensor<?x256xbf16> -> tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>, tensor<f32>
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%w13s) x_global_scale(%xg) w_global_scale(%w13g) {x_quant = #moe.quant<nvfp4, block = [1, 16]>, w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xf4E2M1FN>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<?x16xf8E4M3FN>, tensor<8x256x16xf8E4M3FN>, tensor<f32>, tensor<8xf32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: activations with a per-tensor global scale (nvfp4) are not fused}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Of two layers, the first is fused and the second (whose slot map is also
// returned) stays.
// CHECK-LABEL: func.func @negative_fuse_one_of_two_layers(
// CHECK:         %[[OUT1:.+]] = moe.fused_moe
// CHECK:         moe.dispatch %[[OUT1]]
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_one_of_two_layers(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x2xi32>) {
  %rows1, %offsets1, %slots1, %rw1 = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h1 = moe.expert_matmul %rows1, %w13, %offsets1 : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a1 = moe.activation swiglu(concat) %h1 : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y1 = moe.expert_matmul %a1, %w2, %offsets1 : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %out1 = moe.combine %y1, %slots1 weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  %rows2, %offsets2, %slots2, %rw2 = moe.dispatch %out1, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h2 = moe.expert_matmul %rows2, %w13, %offsets2 : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a2 = moe.activation swiglu(concat) %h2 : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y2 = moe.expert_matmul %a2, %w2, %offsets2 : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: a value of the chain (slot map) is used outside it}}
  %out2 = moe.combine %y2, %slots2 weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out2, %slots2 : tensor<?x256xbf16>, tensor<?x2xi32>
}

// -----

// Intermediate used elsewhere: the expert offsets are returned.
// CHECK-LABEL: func.func @negative_fuse_offsets_used_elsewhere(
// CHECK:         %{{[^,]+}}, %[[OFF:[^,]+]], %{{[^,]+}}, %{{[^ ]+}} = moe.dispatch
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
// CHECK:         return %{{[^ ,)]+}}, %[[OFF]]
func.func @negative_fuse_offsets_used_elsewhere(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<9xi32>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: a value of the chain (expert offsets) is used outside it}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %offsets : tensor<?x256xbf16>, tensor<9xi32>
}

// -----

// Intermediate used elsewhere: the dispatched rows also feed a second matmul.
// CHECK-LABEL: func.func @negative_fuse_dispatched_rows_used_elsewhere(
// CHECK:         moe.dispatch
// CHECK-COUNT-3: moe.expert_matmul
// CHECK:         moe.combine
// CHECK-NOT:     moe.fused_moe
func.func @negative_fuse_dispatched_rows_used_elsewhere(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>, %offsets2: tensor<9xi32>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %h2 = moe.expert_matmul %rows, %w13, %offsets2 : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: a value of the chain (dispatched rows) is used outside it}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out, %h2 : tensor<?x256xbf16>, tensor<?x256xbf16>
}

// -----

// The second matmul maps to 512 features, not back to H = 256: a fused layer
// returns [T, H], so the chain stays.
func.func @negative_fuse_output_not_hidden_size(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x512x128xbf16>) -> tensor<?x512xbf16> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x512x128xbf16>, tensor<9xi32>) -> tensor<?x512xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the second matmul does not map back to the hidden size H of x}}
  %out = moe.combine %y, %slots weights(%w) : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
// CHECK-LABEL: func.func @negative_fuse_output_not_hidden_size
// CHECK:       moe.dispatch
// CHECK:       moe.combine
// CHECK-NOT:   moe.fused_moe
