// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// Round trip of every moe op and its important variants, in the custom form
// and through the generic form. Shapes: E = 8 experts, H = 256, I = 128,
// K = 2; T is dynamic unless the function name says `static`.

//===----------------------------------------------------------------------===//
// moe.gate
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @gate(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[WG:[^:]+]]: tensor<8x256xbf16>)
// CHECK:         %[[L:.+]] = moe.gate %[[X]], %[[WG]] : tensor<?x256xbf16>, tensor<8x256xbf16> -> tensor<?x8xf32>
// CHECK:         return %[[L]]
func.func @gate(%x: tensor<?x256xbf16>, %wg: tensor<8x256xbf16>) -> tensor<?x8xf32> {
  %logits = moe.gate %x, %wg : tensor<?x256xbf16>, tensor<8x256xbf16> -> tensor<?x8xf32>
  return %logits : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @gate_static_bf16_logits(
// CHECK:         moe.gate %{{[^ ,)]+}}, %{{[^ ,)]+}} : tensor<4x256xf32>, tensor<8x256xf32> -> tensor<4x8xbf16>
func.func @gate_static_bf16_logits(%x: tensor<4x256xf32>, %wg: tensor<8x256xf32>) -> tensor<4x8xbf16> {
  %logits = moe.gate %x, %wg : tensor<4x256xf32>, tensor<8x256xf32> -> tensor<4x8xbf16>
  return %logits : tensor<4x8xbf16>
}

// The example of moe.gate's description.
// CHECK-LABEL: func.func @gate_description_example(
// CHECK:         moe.gate %{{[^ ,)]+}}, %{{[^ ,)]+}} : tensor<?x7168xbf16>, tensor<256x7168xbf16> -> tensor<?x256xf32>
func.func @gate_description_example(%x: tensor<?x7168xbf16>, %wg: tensor<256x7168xbf16>) -> tensor<?x256xf32> {
  %logits = moe.gate %x, %wg : tensor<?x7168xbf16>, tensor<256x7168xbf16> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}

//===----------------------------------------------------------------------===//
// moe.route
//===----------------------------------------------------------------------===//

// The defaults (num_groups = 1, topk_groups = 1, routed_scaling_factor = 1.0)
// are not printed; no bias.
// CHECK-LABEL: func.func @route_softmax(
// CHECK-SAME:    %[[L:[^:]+]]: tensor<?x8xf32>)
// CHECK:         %[[IDS:[^,]+]], %[[W:[^ ]+]] = moe.route softmax %[[L]] {renormalize, top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
// CHECK:         return %[[IDS]], %[[W]]
func.func @route_softmax(%logits: tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  %ids, %weights = moe.route softmax %logits {top_k = 2 : i64, renormalize} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return %ids, %weights : tensor<?x2xi32>, tensor<?x2xf32>
}

// Without renormalize, i64 ids, an explicit default routed_scaling_factor.
// CHECK-LABEL: func.func @route_softmax_i64_no_renormalize(
// CHECK:         moe.route softmax %{{[^ ,)]+}} {top_k = 1 : i64} : (tensor<?x8xf32>) -> (tensor<?x1xi64>, tensor<?x1xf32>)
func.func @route_softmax_i64_no_renormalize(%logits: tensor<?x8xf32>) -> (tensor<?x1xi64>, tensor<?x1xf32>) {
  %ids, %weights = moe.route softmax %logits {top_k = 1 : i64, routed_scaling_factor = 1.0 : f32} : (tensor<?x8xf32>) -> (tensor<?x1xi64>, tensor<?x1xf32>)
  return %ids, %weights : tensor<?x1xi64>, tensor<?x1xf32>
}

// DeepSeek-V3 style: sigmoid, correction bias, grouped top-k, scaling.
// CHECK-LABEL: func.func @route_sigmoid_grouped_bias(
// CHECK-SAME:    %[[L:[^:]+]]: tensor<4x8xf32>,
// CHECK-SAME:    %[[B:[^:]+]]: tensor<8xf32>)
// CHECK:         moe.route sigmoid %[[L]] bias(%[[B]])
// CHECK-SAME:      num_groups = 4 : i64
// CHECK-SAME:      renormalize
// CHECK-SAME:      routed_scaling_factor = 2.500000e+00 : f32
// CHECK-SAME:      top_k = 2 : i64
// CHECK-SAME:      topk_groups = 2 : i64
// CHECK-SAME:      : (tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x2xi32>, tensor<4x2xf32>)
func.func @route_sigmoid_grouped_bias(%logits: tensor<4x8xf32>, %bias: tensor<8xf32>) -> (tensor<4x2xi32>, tensor<4x2xf32>) {
  %ids, %weights = moe.route sigmoid %logits bias(%bias) {top_k = 2 : i64, num_groups = 4 : i64, topk_groups = 2 : i64, renormalize, routed_scaling_factor = 2.5 : f32} : (tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x2xi32>, tensor<4x2xf32>)
  return %ids, %weights : tensor<4x2xi32>, tensor<4x2xf32>
}

// The example of moe.route's description.
// CHECK-LABEL: func.func @route_description_example(
// CHECK:         moe.route sigmoid %{{[^ ,)]+}} bias(%{{[^ ,)]+}}) {num_groups = 8 : i64, renormalize, routed_scaling_factor = 2.500000e+00 : f32, top_k = 8 : i64, topk_groups = 4 : i64} : (tensor<?x256xf32>, tensor<256xf32>) -> (tensor<?x8xi32>, tensor<?x8xf32>)
func.func @route_description_example(%logits: tensor<?x256xf32>, %bias: tensor<256xf32>) -> (tensor<?x8xi32>, tensor<?x8xf32>) {
  %ids, %weights = moe.route sigmoid %logits bias(%bias) {top_k = 8 : i64, num_groups = 8 : i64, topk_groups = 4 : i64, renormalize, routed_scaling_factor = 2.5 : f32} : (tensor<?x256xf32>, tensor<256xf32>) -> (tensor<?x8xi32>, tensor<?x8xf32>)
  return %ids, %weights : tensor<?x8xi32>, tensor<?x8xf32>
}

// DeepSeek-V3's layer with its shared expert: ids [T, 8 + 1], the ninth slot
// naming expert 256 of the fused layer's 257.
// CHECK-LABEL: func.func @route_shared_expert(
// CHECK:         moe.route sigmoid %{{[^ ,)]+}} bias(%{{[^ ,)]+}}) {num_groups = 8 : i64, renormalize, routed_scaling_factor = 2.500000e+00 : f32, shared_experts = 1 : i64, top_k = 8 : i64, topk_groups = 4 : i64} : (tensor<?x256xf32>, tensor<256xf32>) -> (tensor<?x9xi32>, tensor<?x9xf32>)
// CHECK:         moe.fused_moe
// CHECK-LABEL: func.func @route_shared_weight(
// CHECK:         moe.route softmax %{{[^ ,)]+}} {shared_experts = 2 : i64, shared_weight = 5.000000e-01 : f32, top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x4xi64>, tensor<?x4xf32>)
func.func @route_shared_expert(%x: tensor<?x256xbf16>, %logits: tensor<?x256xf32>, %bias: tensor<256xf32>, %w13: tensor<257x256x256xbf16>, %w2: tensor<257x256x128xbf16>) -> tensor<?x256xbf16> {
  %ids, %weights = moe.route sigmoid %logits bias(%bias) {top_k = 8 : i64, num_groups = 8 : i64, topk_groups = 4 : i64, renormalize, routed_scaling_factor = 2.5 : f32, shared_experts = 1 : i64} : (tensor<?x256xf32>, tensor<256xf32>) -> (tensor<?x9xi32>, tensor<?x9xf32>)
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x9xi32>, tensor<?x9xf32>, tensor<257x256x256xbf16>, tensor<257x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
func.func @route_shared_weight(%logits: tensor<?x8xf32>) -> (tensor<?x4xi64>, tensor<?x4xf32>) {
  %ids, %weights = moe.route softmax %logits {top_k = 2 : i64, shared_experts = 2 : i64, shared_weight = 0.5 : f32} : (tensor<?x8xf32>) -> (tensor<?x4xi64>, tensor<?x4xf32>)
  return %ids, %weights : tensor<?x4xi64>, tensor<?x4xf32>
}

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @dispatch_i64_ids(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[IDS:[^:]+]]: tensor<?x2xi64>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<?x2xf32>)
// CHECK:         %[[ROWS:[^,]+]], %[[OFF:[^,]+]], %[[SLOTS:[^,]+]], %[[RW:[^ ]+]] = moe.dispatch %[[X]], %[[IDS]], %[[W]] {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi64>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
// CHECK:         return %[[ROWS]], %[[OFF]], %[[SLOTS]], %[[RW]]
func.func @dispatch_i64_ids(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi64>, %w: tensor<?x2xf32>) -> (tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi64>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return %rows, %offsets, %slot_map, %row_weights : tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
}

// Static T = 4: M = T*K = 8 rows.
// CHECK-LABEL: func.func @dispatch_static(
// CHECK:         moe.dispatch %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} {num_experts = 8 : i64} : tensor<4x256xf32>, tensor<4x2xi32>, tensor<4x2xf32> -> tensor<8x256xf32>, tensor<9xi32>, tensor<4x2xi32>, tensor<8xf32>
func.func @dispatch_static(%x: tensor<4x256xf32>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>) -> tensor<8x256xf32> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<4x256xf32>, tensor<4x2xi32>, tensor<4x2xf32> -> tensor<8x256xf32>, tensor<9xi32>, tensor<4x2xi32>, tensor<8xf32>
  return %rows : tensor<8x256xf32>
}

// CHECK-LABEL: func.func @dispatch_with_placement(
// CHECK:         moe.dispatch %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} {num_experts = 8 : i64, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
func.func @dispatch_with_placement(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return %rows : tensor<?x256xbf16>
}

// The example of moe.dispatch's description, with the example placement of
// #moe.placement's description.
// CHECK-LABEL: func.func @dispatch_description_example(
// CHECK:         moe.dispatch %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} {num_experts = 256 : i64} : tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32> -> tensor<?x7168xbf16>, tensor<257xi32>, tensor<?x8xi32>, tensor<?xf32>
// CHECK:         moe.dispatch %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} {num_experts = 256 : i64, placement = #moe.placement<ranks = 8, experts_per_rank = 32>}
func.func @dispatch_description_example(%x: tensor<?x7168xbf16>, %ids: tensor<?x8xi32>, %weights: tensor<?x8xf32>) -> (tensor<?x7168xbf16>, tensor<?x7168xbf16>) {
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %weights {num_experts = 256 : i64} : tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32> -> tensor<?x7168xbf16>, tensor<257xi32>, tensor<?x8xi32>, tensor<?xf32>
  %rows2, %offsets2, %slot_map2, %row_weights2 = moe.dispatch %x, %ids, %weights {num_experts = 256 : i64, placement = #moe.placement<ranks = 8, experts_per_rank = 32>} : tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32> -> tensor<?x7168xbf16>, tensor<257xi32>, tensor<?x8xi32>, tensor<?xf32>
  return %rows, %rows2 : tensor<?x7168xbf16>, tensor<?x7168xbf16>
}

//===----------------------------------------------------------------------===//
// moe.expert_matmul
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @expert_matmul_bf16(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<8x256x256xbf16>,
// CHECK-SAME:    %[[OFF:[^:]+]]: tensor<9xi32>)
// CHECK:         %[[H:.+]] = moe.expert_matmul %[[X]], %[[W]], %[[OFF]] : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
// CHECK:         return %[[H]]
func.func @expert_matmul_bf16(%x: tensor<?x256xbf16>, %w13: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>) -> tensor<?x256xbf16> {
  %h = moe.expert_matmul %x, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  return %h : tensor<?x256xbf16>
}

// Static M, f32 output of a bf16 matmul (the down projection: N = H, K = I).
// CHECK-LABEL: func.func @expert_matmul_static_f32_out(
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} : (tensor<8x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<8x256xf32>
func.func @expert_matmul_static_f32_out(%a: tensor<8x128xbf16>, %w2: tensor<8x256x128xbf16>, %offsets: tensor<9xi32>) -> tensor<8x256xf32> {
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<8x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<8x256xf32>
  return %y : tensor<8x256xf32>
}

// DeepSeek-V3's FP8: 1x128 activation blocks, 128x128 weight blocks, f32
// scales.
// CHECK-LABEL: func.func @expert_matmul_fp8_block(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xf8E4M3FN>,
// CHECK-SAME:    %[[XS:[^:]+]]: tensor<?x2xf32>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<8x256x256xf8E4M3FN>,
// CHECK-SAME:    %[[WS:[^:]+]]: tensor<8x2x2xf32>,
// CHECK-SAME:    %[[OFF:[^:]+]]: tensor<9xi32>)
// CHECK:         moe.expert_matmul %[[X]], %[[W]], %[[OFF]] x_scales(%[[XS]]) w_scales(%[[WS]])
// CHECK-SAME:      w_quant = #moe.quant<fp8_block, block = [128, 128]>
// CHECK-SAME:      x_quant = #moe.quant<fp8_block, block = [1, 128]>
// CHECK-SAME:      : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<?x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
func.func @expert_matmul_fp8_block(%xq: tensor<?x256xf8E4M3FN>, %xs: tensor<?x2xf32>, %w13: tensor<8x256x256xf8E4M3FN>, %ws: tensor<8x2x2xf32>, %offsets: tensor<9xi32>) -> tensor<?x256xbf16> {
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<?x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %h : tensor<?x256xbf16>
}

// FP8 weights with 1x128 weight blocks too (per output row).
// CHECK-LABEL: func.func @expert_matmul_fp8_block_1x128_weights(
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} x_scales(%{{[^ ,)]+}}) w_scales(%{{[^ ,)]+}}) {w_quant = #moe.quant<fp8_block, block = [1, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x128x256xf8E4M3FN>, tensor<9xi32>, tensor<?x2xf32>, tensor<8x128x2xf32>) -> tensor<?x128xf32>
func.func @expert_matmul_fp8_block_1x128_weights(%xq: tensor<?x256xf8E4M3FN>, %xs: tensor<?x2xf32>, %w: tensor<8x128x256xf8E4M3FN>, %ws: tensor<8x128x2xf32>, %offsets: tensor<9xi32>) -> tensor<?x128xf32> {
  %h = moe.expert_matmul %xq, %w, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x128x256xf8E4M3FN>, tensor<9xi32>, tensor<?x2xf32>, tensor<8x128x2xf32>) -> tensor<?x128xf32>
  return %h : tensor<?x128xf32>
}

// MXFP8: UE8M0 (f8E8M0FNU) scales over 1x32 blocks.
// CHECK-LABEL: func.func @expert_matmul_mxfp8(
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} x_scales(%{{[^ ,)]+}}) w_scales(%{{[^ ,)]+}})
// CHECK-SAME:      w_quant = #moe.quant<mxfp8, block = [1, 32]>
// CHECK-SAME:      x_quant = #moe.quant<mxfp8, block = [1, 32]>
// CHECK-SAME:      : (tensor<?x256xf8E4M3FN>, tensor<8x128x256xf8E4M3FN>, tensor<9xi32>, tensor<?x8xf8E8M0FNU>, tensor<8x128x8xf8E8M0FNU>) -> tensor<?x128xbf16>
func.func @expert_matmul_mxfp8(%xq: tensor<?x256xf8E4M3FN>, %xs: tensor<?x8xf8E8M0FNU>, %w: tensor<8x128x256xf8E4M3FN>, %ws: tensor<8x128x8xf8E8M0FNU>, %offsets: tensor<9xi32>) -> tensor<?x128xbf16> {
  %h = moe.expert_matmul %xq, %w, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<mxfp8, block = [1, 32]>, w_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x256xf8E4M3FN>, tensor<8x128x256xf8E4M3FN>, tensor<9xi32>, tensor<?x8xf8E8M0FNU>, tensor<8x128x8xf8E8M0FNU>) -> tensor<?x128xbf16>
  return %h : tensor<?x128xbf16>
}

// MXFP4 weights with bf16 activations (gpt-oss): no x_quant, no x_scales.
// CHECK-LABEL: func.func @expert_matmul_mxfp4_weights(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<8x256x256xf4E2M1FN>,
// CHECK-SAME:    %[[WS:[^:]+]]: tensor<8x256x8xf8E8M0FNU>,
// CHECK-SAME:    %[[OFF:[^:]+]]: tensor<9xi32>)
// CHECK:         moe.expert_matmul %[[X]], %[[W]], %[[OFF]] w_scales(%[[WS]]) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
func.func @expert_matmul_mxfp4_weights(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<8x256x8xf8E8M0FNU>, %offsets: tensor<9xi32>) -> tensor<?x256xbf16> {
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  return %h : tensor<?x256xbf16>
}

// NVFP4 on both operands: e4m3 block scales over 1x16 blocks and f32 global
// scales, [] for the activations and [E] for the weights.
// CHECK-LABEL: func.func @expert_matmul_nvfp4(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xf4E2M1FN>,
// CHECK-SAME:    %[[XS:[^:]+]]: tensor<?x16xf8E4M3FN>,
// CHECK-SAME:    %[[XG:[^:]+]]: tensor<f32>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<8x256x256xf4E2M1FN>,
// CHECK-SAME:    %[[WS:[^:]+]]: tensor<8x256x16xf8E4M3FN>,
// CHECK-SAME:    %[[WG:[^:]+]]: tensor<8xf32>,
// CHECK-SAME:    %[[OFF:[^:]+]]: tensor<9xi32>)
// CHECK:         moe.expert_matmul %[[X]], %[[W]], %[[OFF]] x_scales(%[[XS]]) w_scales(%[[WS]]) x_global_scale(%[[XG]]) w_global_scale(%[[WG]])
// CHECK-SAME:      w_quant = #moe.quant<nvfp4, block = [1, 16]>
// CHECK-SAME:      x_quant = #moe.quant<nvfp4, block = [1, 16]>
// CHECK-SAME:      : (tensor<?x256xf4E2M1FN>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<?x16xf8E4M3FN>, tensor<8x256x16xf8E4M3FN>, tensor<f32>, tensor<8xf32>) -> tensor<?x256xf32>
func.func @expert_matmul_nvfp4(%xq: tensor<?x256xf4E2M1FN>, %xs: tensor<?x16xf8E4M3FN>, %xg: tensor<f32>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<8x256x16xf8E4M3FN>, %wg: tensor<8xf32>, %offsets: tensor<9xi32>) -> tensor<?x256xf32> {
  %h = moe.expert_matmul %xq, %w, %offsets x_scales(%xs) w_scales(%ws) x_global_scale(%xg) w_global_scale(%wg) {x_quant = #moe.quant<nvfp4, block = [1, 16]>, w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xf4E2M1FN>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<?x16xf8E4M3FN>, tensor<8x256x16xf8E4M3FN>, tensor<f32>, tensor<8xf32>) -> tensor<?x256xf32>
  return %h : tensor<?x256xf32>
}

// A per-expert bias [E, N] after the global scale.
// CHECK-LABEL: func.func @expert_matmul_bias(
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} w_scales(%{{[^ ,)]+}}) w_global_scale(%{{[^ ,)]+}}) bias(%{{[^ ,)]+}}) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x16xf8E4M3FN>, tensor<8xf32>, tensor<8x256xf32>) -> tensor<?x256xbf16>
// CHECK-LABEL: func.func @expert_matmul_bias_bf16(
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} bias(%{{[^ ,)]+}}) : (tensor<?x256xbf16>, tensor<8x128x256xbf16>, tensor<9xi32>, tensor<8x128xbf16>) -> tensor<?x128xbf16>
func.func @expert_matmul_bias(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<8x256x16xf8E4M3FN>, %wg: tensor<8xf32>, %offsets: tensor<9xi32>, %bias: tensor<8x256xf32>) -> tensor<?x256xbf16> {
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) w_global_scale(%wg) bias(%bias) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x16xf8E4M3FN>, tensor<8xf32>, tensor<8x256xf32>) -> tensor<?x256xbf16>
  return %h : tensor<?x256xbf16>
}
func.func @expert_matmul_bias_bf16(%x: tensor<?x256xbf16>, %w: tensor<8x128x256xbf16>, %offsets: tensor<9xi32>, %bias: tensor<8x128xbf16>) -> tensor<?x128xbf16> {
  %h = moe.expert_matmul %x, %w, %offsets bias(%bias) : (tensor<?x256xbf16>, tensor<8x128x256xbf16>, tensor<9xi32>, tensor<8x128xbf16>) -> tensor<?x128xbf16>
  return %h : tensor<?x128xbf16>
}

// NVFP4 weights only (bf16 activations): only w_global_scale.
// CHECK-LABEL: func.func @expert_matmul_nvfp4_weights_only(
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} w_scales(%{{[^ ,)]+}}) w_global_scale(%{{[^ ,)]+}}) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x16xf8E4M3FN>, tensor<8xf32>) -> tensor<?x256xbf16>
func.func @expert_matmul_nvfp4_weights_only(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<8x256x16xf8E4M3FN>, %wg: tensor<8xf32>, %offsets: tensor<9xi32>) -> tensor<?x256xbf16> {
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) w_global_scale(%wg) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x16xf8E4M3FN>, tensor<8xf32>) -> tensor<?x256xbf16>
  return %h : tensor<?x256xbf16>
}

// The example of moe.expert_matmul's description.
// CHECK-LABEL: func.func @expert_matmul_description_example(
// CHECK:         moe.expert_matmul %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} x_scales(%{{[^ ,)]+}}) w_scales(%{{[^ ,)]+}}) {w_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x7168xf8E4M3FN>, tensor<256x4096x7168xf8E4M3FN>, tensor<257xi32>, tensor<?x56xf32>, tensor<256x32x56xf32>) -> tensor<?x4096xbf16>
func.func @expert_matmul_description_example(%xq: tensor<?x7168xf8E4M3FN>, %w13: tensor<256x4096x7168xf8E4M3FN>, %offsets: tensor<257xi32>, %xs: tensor<?x56xf32>, %ws: tensor<256x32x56xf32>) -> tensor<?x4096xbf16> {
  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x7168xf8E4M3FN>, tensor<256x4096x7168xf8E4M3FN>, tensor<257xi32>, tensor<?x56xf32>, tensor<256x32x56xf32>) -> tensor<?x4096xbf16>
  return %h : tensor<?x4096xbf16>
}

//===----------------------------------------------------------------------===//
// moe.activation
//===----------------------------------------------------------------------===//

// The printer puts a space after the `(` of the layout: match either form.
// CHECK-LABEL: func.func @activation_swiglu_concat(
// CHECK-SAME:    %[[H:[^:]+]]: tensor<?x256xbf16>)
// CHECK:         %[[A:.+]] = moe.activation swiglu({{ ?}}concat) %[[H]] : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
// CHECK:         return %[[A]]
func.func @activation_swiglu_concat(%h: tensor<?x256xbf16>) -> tensor<?x128xbf16> {
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return %a : tensor<?x128xbf16>
}

// CHECK-LABEL: func.func @activation_clamped_swiglu_interleaved(
// CHECK:         moe.activation clamped_swiglu({{ ?}}interleaved) %{{[^ ,)]+}} {alpha = 1.702000e+00 : f32, limit = 7.000000e+00 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
func.func @activation_clamped_swiglu_interleaved(%h: tensor<?x256xbf16>) -> tensor<?x128xbf16> {
  %a = moe.activation clamped_swiglu(interleaved) %h {alpha = 1.702 : f32, limit = 7.0 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return %a : tensor<?x128xbf16>
}

// Router weight applied to the activation (before_down), f32 output.
// CHECK-LABEL: func.func @activation_gelu_mul_row_weights(
// CHECK-SAME:    %[[H:[^:]+]]: tensor<?x256xf32>,
// CHECK-SAME:    %[[RW:[^:]+]]: tensor<?xf32>)
// CHECK:         moe.activation gelu_mul({{ ?}}concat) %[[H]] row_weights(%[[RW]]) : (tensor<?x256xf32>, tensor<?xf32>) -> tensor<?x128xf32>
func.func @activation_gelu_mul_row_weights(%h: tensor<?x256xf32>, %rw: tensor<?xf32>) -> tensor<?x128xf32> {
  %a = moe.activation gelu_mul(concat) %h row_weights(%rw) : (tensor<?x256xf32>, tensor<?xf32>) -> tensor<?x128xf32>
  return %a : tensor<?x128xf32>
}

// CHECK-LABEL: func.func @activation_gelu_tanh_mul(
// CHECK:         moe.activation gelu_tanh_mul({{ ?}}interleaved) %{{[^ ,)]+}} : (tensor<8x256xbf16>) -> tensor<8x128xbf16>
func.func @activation_gelu_tanh_mul(%h: tensor<8x256xbf16>) -> tensor<8x128xbf16> {
  %a = moe.activation gelu_tanh_mul(interleaved) %h : (tensor<8x256xbf16>) -> tensor<8x128xbf16>
  return %a : tensor<8x128xbf16>
}

// The example of moe.activation's description.
// CHECK-LABEL: func.func @activation_description_example(
// CHECK:         moe.activation clamped_swiglu({{ ?}}interleaved) %{{[^ ,)]+}} {alpha = 1.702000e+00 : f32, limit = 7.000000e+00 : f32} : (tensor<?x5760xbf16>) -> tensor<?x2880xbf16>
func.func @activation_description_example(%h: tensor<?x5760xbf16>) -> tensor<?x2880xbf16> {
  %a = moe.activation clamped_swiglu(interleaved) %h {alpha = 1.702 : f32, limit = 7.0 : f32} : (tensor<?x5760xbf16>) -> tensor<?x2880xbf16>
  return %a : tensor<?x2880xbf16>
}

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @combine_weighted(
// CHECK-SAME:    %[[Y:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[S:[^:]+]]: tensor<?x2xi32>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<?x2xf32>)
// CHECK:         %[[OUT:.+]] = moe.combine %[[Y]], %[[S]] weights(%[[W]]) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
// CHECK:         return %[[OUT]]
func.func @combine_weighted(%y: tensor<?x256xbf16>, %slot_map: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// Static T = 4 (M = 8), f32 rows, no weights.
// CHECK-LABEL: func.func @combine_unweighted(
// CHECK-SAME:    %[[Y:[^:]+]]: tensor<8x256xf32>,
// CHECK-SAME:    %[[S:[^:]+]]: tensor<4x2xi32>)
// CHECK:         moe.combine %[[Y]], %[[S]] : (tensor<8x256xf32>, tensor<4x2xi32>) -> tensor<4x256xf32>
func.func @combine_unweighted(%y: tensor<8x256xf32>, %slot_map: tensor<4x2xi32>) -> tensor<4x256xf32> {
  %out = moe.combine %y, %slot_map : (tensor<8x256xf32>, tensor<4x2xi32>) -> tensor<4x256xf32>
  return %out : tensor<4x256xf32>
}

// The example of moe.combine's description.
// CHECK-LABEL: func.func @combine_description_example(
// CHECK:         moe.combine %{{[^ ,)]+}}, %{{[^ ,)]+}} weights(%{{[^ ,)]+}}) : (tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32>) -> tensor<?x7168xbf16>
func.func @combine_description_example(%y: tensor<?x7168xbf16>, %slot_map: tensor<?x8xi32>, %weights: tensor<?x8xf32>) -> tensor<?x7168xbf16> {
  %out = moe.combine %y, %slot_map weights(%weights) : (tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32>) -> tensor<?x7168xbf16>
  return %out : tensor<?x7168xbf16>
}

//===----------------------------------------------------------------------===//
// moe.quantize
//===----------------------------------------------------------------------===//

// The op's format is printed without the `#moe.quant` prefix; the
// {{(#moe.quant)?}} accepts both spellings.

// Activations: 1x128 blocks along H.
// CHECK-LABEL: func.func @quantize_fp8_block_tokens(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>)
// CHECK:         %[[Q:[^,]+]], %[[S:[^ ]+]] = moe.quantize {{(#moe.quant)?}}<fp8_block, block = [1, 128]> %[[X]] : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x2xf32>
// CHECK:         return %[[Q]], %[[S]]
func.func @quantize_fp8_block_tokens(%x: tensor<?x256xbf16>) -> (tensor<?x256xf8E4M3FN>, tensor<?x2xf32>) {
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x2xf32>
  return %q, %s : tensor<?x256xf8E4M3FN>, tensor<?x2xf32>
}

// Weights [E, N, K]: 128x128 blocks over the last two dimensions.
// CHECK-LABEL: func.func @quantize_fp8_block_weight_128x128(
// CHECK:         moe.quantize {{(#moe.quant)?}}<fp8_block, block = [128, 128]> %{{[^ ,)]+}} : tensor<8x256x128xbf16> -> tensor<8x256x128xf8E4M3FN>, tensor<8x2x1xf32>
func.func @quantize_fp8_block_weight_128x128(%w: tensor<8x256x128xbf16>) -> (tensor<8x256x128xf8E4M3FN>, tensor<8x2x1xf32>) {
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [128, 128]> %w : tensor<8x256x128xbf16> -> tensor<8x256x128xf8E4M3FN>, tensor<8x2x1xf32>
  return %q, %s : tensor<8x256x128xf8E4M3FN>, tensor<8x2x1xf32>
}

// CHECK-LABEL: func.func @quantize_mxfp8(
// CHECK:         moe.quantize {{(#moe.quant)?}}<mxfp8, block = [1, 32]> %{{[^ ,)]+}} : tensor<8x128xf32> -> tensor<8x128xf8E4M3FN>, tensor<8x4xf8E8M0FNU>
func.func @quantize_mxfp8(%a: tensor<8x128xf32>) -> (tensor<8x128xf8E4M3FN>, tensor<8x4xf8E8M0FNU>) {
  %q, %s = moe.quantize #moe.quant<mxfp8, block = [1, 32]> %a : tensor<8x128xf32> -> tensor<8x128xf8E4M3FN>, tensor<8x4xf8E8M0FNU>
  return %q, %s : tensor<8x128xf8E4M3FN>, tensor<8x4xf8E8M0FNU>
}

// CHECK-LABEL: func.func @quantize_mxfp4(
// CHECK:         moe.quantize {{(#moe.quant)?}}<mxfp4, block = [1, 32]> %{{[^ ,)]+}} : tensor<8x256x256xbf16> -> tensor<8x256x256xf4E2M1FN>, tensor<8x256x8xf8E8M0FNU>
func.func @quantize_mxfp4(%w: tensor<8x256x256xbf16>) -> (tensor<8x256x256xf4E2M1FN>, tensor<8x256x8xf8E8M0FNU>) {
  %q, %s = moe.quantize #moe.quant<mxfp4, block = [1, 32]> %w : tensor<8x256x256xbf16> -> tensor<8x256x256xf4E2M1FN>, tensor<8x256x8xf8E8M0FNU>
  return %q, %s : tensor<8x256x256xf4E2M1FN>, tensor<8x256x8xf8E8M0FNU>
}

// NVFP4: a third result, the per-tensor f32 global scale.
// CHECK-LABEL: func.func @quantize_nvfp4_global(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>)
// CHECK:         %[[Q:[^,]+]], %[[S:[^,]+]], %[[G:[^ ]+]] = moe.quantize {{(#moe.quant)?}}<nvfp4, block = [1, 16]> %[[X]] : tensor<?x256xbf16> -> tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>, tensor<f32>
// CHECK:         return %[[Q]], %[[S]], %[[G]]
func.func @quantize_nvfp4_global(%x: tensor<?x256xbf16>) -> (tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>, tensor<f32>) {
  %q, %s, %g = moe.quantize #moe.quant<nvfp4, block = [1, 16]> %x : tensor<?x256xbf16> -> tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>, tensor<f32>
  return %q, %s, %g : tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>, tensor<f32>
}

// The example of moe.quantize's description.
// CHECK-LABEL: func.func @quantize_description_example(
// CHECK:         moe.quantize {{(#moe.quant)?}}<fp8_block, block = [1, 128]> %{{[^ ,)]+}} : tensor<?x7168xbf16> -> tensor<?x7168xf8E4M3FN>, tensor<?x56xf32>
func.func @quantize_description_example(%x: tensor<?x7168xbf16>) -> (tensor<?x7168xf8E4M3FN>, tensor<?x56xf32>) {
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x : tensor<?x7168xbf16> -> tensor<?x7168xf8E4M3FN>, tensor<?x56xf32>
  return %q, %s : tensor<?x7168xf8E4M3FN>, tensor<?x56xf32>
}

//===----------------------------------------------------------------------===//
// moe.dequantize
//===----------------------------------------------------------------------===//

// The example of moe.dequantize's description.
// CHECK-LABEL: func.func @dequantize_mxfp4(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<8x64x128xf4E2M1FN>,
// CHECK-SAME:    %[[S:[^:]+]]: tensor<8x64x4xf8E8M0FNU>)
// CHECK:         %[[W:.+]] = moe.dequantize {{(#moe.quant)?}}<mxfp4, block = [1, 32]> %[[Q]], %[[S]] : (tensor<8x64x128xf4E2M1FN>, tensor<8x64x4xf8E8M0FNU>) -> tensor<8x64x128xbf16>
// CHECK:         return %[[W]]
func.func @dequantize_mxfp4(%q: tensor<8x64x128xf4E2M1FN>, %s: tensor<8x64x4xf8E8M0FNU>) -> tensor<8x64x128xbf16> {
  %w = moe.dequantize #moe.quant<mxfp4, block = [1, 32]> %q, %s : (tensor<8x64x128xf4E2M1FN>, tensor<8x64x4xf8E8M0FNU>) -> tensor<8x64x128xbf16>
  return %w : tensor<8x64x128xbf16>
}

// CHECK-LABEL: func.func @dequantize_fp8_block_128x128(
// CHECK:         moe.dequantize {{(#moe.quant)?}}<fp8_block, block = [128, 128]> %{{[^ ,)]+}}, %{{[^ ,)]+}} : (tensor<8x256x128xf8E4M3FN>, tensor<8x2x1xf32>) -> tensor<8x256x128xf32>
func.func @dequantize_fp8_block_128x128(%q: tensor<8x256x128xf8E4M3FN>, %s: tensor<8x2x1xf32>) -> tensor<8x256x128xf32> {
  %w = moe.dequantize #moe.quant<fp8_block, block = [128, 128]> %q, %s : (tensor<8x256x128xf8E4M3FN>, tensor<8x2x1xf32>) -> tensor<8x256x128xf32>
  return %w : tensor<8x256x128xf32>
}

// CHECK-LABEL: func.func @dequantize_nvfp4_global(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<?x256xf4E2M1FN>,
// CHECK-SAME:    %[[S:[^:]+]]: tensor<?x16xf8E4M3FN>,
// CHECK-SAME:    %[[G:[^:]+]]: tensor<f32>)
// CHECK:         moe.dequantize {{(#moe.quant)?}}<nvfp4, block = [1, 16]> %[[Q]], %[[S]] global_scale(%[[G]]) : (tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>, tensor<f32>) -> tensor<?x256xbf16>
func.func @dequantize_nvfp4_global(%q: tensor<?x256xf4E2M1FN>, %s: tensor<?x16xf8E4M3FN>, %g: tensor<f32>) -> tensor<?x256xbf16> {
  %x = moe.dequantize #moe.quant<nvfp4, block = [1, 16]> %q, %s global_scale(%g) : (tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>, tensor<f32>) -> tensor<?x256xbf16>
  return %x : tensor<?x256xbf16>
}

//===----------------------------------------------------------------------===//
// moe.fused_moe
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @fused_moe_bf16(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[IDS:[^:]+]]: tensor<?x2xi32>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<?x2xf32>,
// CHECK-SAME:    %[[W13:[^:]+]]: tensor<8x256x256xbf16>,
// CHECK-SAME:    %[[W2:[^:]+]]: tensor<8x256x128xbf16>)
// CHECK:         %[[OUT:.+]] = moe.fused_moe %[[X]], %[[IDS]], %[[W]], %[[W13]], %[[W2]] {
// CHECK-SAME:      act_type = bf16
// CHECK-SAME:      activation = #moe<activation swiglu>
// CHECK-SAME:      gate_up_layout = #moe<gate_up_layout concat>
// CHECK-SAME:      gemm1_type = bf16
// CHECK-SAME:      gemm2_type = bf16
// CHECK-SAME:      router_weight = #moe<router_weight in_combine>
// CHECK-SAME:      } : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
// CHECK:         return %[[OUT]]
func.func @fused_moe_bf16(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// gpt-oss's per-expert biases: w13_bias (bf16, in w13's interleaved row
// order) and w2_bias (f32).
// CHECK-LABEL: func.func @fused_moe_biases(
// CHECK:         moe.fused_moe %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} w13_bias(%{{[^ ,)]+}}) w2_bias(%{{[^ ,)]+}}) {{{.*}}} : (tensor<?x256xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>, tensor<8x256xbf16>, tensor<8x256xf32>) -> tensor<?x256xbf16>
func.func @fused_moe_biases(%x: tensor<?x256xbf16>, %ids: tensor<?x4xi32>, %w: tensor<?x4xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>, %b13: tensor<8x256xbf16>, %b2: tensor<8x256xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_bias(%b13) w2_bias(%b2) {activation = #moe<activation clamped_swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, alpha = 1.702 : f32, limit = 7.0 : f32, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>, tensor<8x256xbf16>, tensor<8x256xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// Static T = 4, i64 ids, f32 at every rounding point, no router weight.
// CHECK-LABEL: func.func @fused_moe_static_f32(
// CHECK:         moe.fused_moe %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} {act_type = f32, activation = #moe<activation gelu_tanh_mul>, gate_up_layout = #moe<gate_up_layout interleaved>, gemm1_type = f32, gemm2_type = f32, router_weight = #moe<router_weight none>} : (tensor<4x256xf32>, tensor<4x2xi64>, tensor<4x2xf32>, tensor<8x256x256xf32>, tensor<8x256x128xf32>) -> tensor<4x256xf32>
func.func @fused_moe_static_f32(%x: tensor<4x256xf32>, %ids: tensor<4x2xi64>, %w: tensor<4x2xf32>, %w13: tensor<8x256x256xf32>, %w2: tensor<8x256x128xf32>) -> tensor<4x256xf32> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation gelu_tanh_mul>, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight none>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<4x256xf32>, tensor<4x2xi64>, tensor<4x2xf32>, tensor<8x256x256xf32>, tensor<8x256x128xf32>) -> tensor<4x256xf32>
  return %out : tensor<4x256xf32>
}

// DeepSeek-V3's FP8 layer: both activations quantized 1x128, weights 128x128,
// the router weight applied before the down projection.
// CHECK-LABEL: func.func @fused_moe_fp8_before_down(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x256xbf16>,
// CHECK-SAME:    %[[IDS:[^:]+]]: tensor<?x2xi32>,
// CHECK-SAME:    %[[W:[^:]+]]: tensor<?x2xf32>,
// CHECK-SAME:    %[[W13:[^:]+]]: tensor<8x256x256xf8E4M3FN>,
// CHECK-SAME:    %[[W13S:[^:]+]]: tensor<8x2x2xf32>,
// CHECK-SAME:    %[[W2:[^:]+]]: tensor<8x256x128xf8E4M3FN>,
// CHECK-SAME:    %[[W2S:[^:]+]]: tensor<8x2x1xf32>)
// CHECK:         moe.fused_moe %[[X]], %[[IDS]], %[[W]], %[[W13]], %[[W2]] w13_scales(%[[W13S]]) w2_scales(%[[W2S]]) {
// CHECK-SAME:      act_quant = #moe.quant<fp8_block, block = [1, 128]>
// CHECK-SAME:      act_type = bf16
// CHECK-SAME:      activation = #moe<activation swiglu>
// CHECK-SAME:      gate_up_layout = #moe<gate_up_layout concat>
// CHECK-SAME:      gemm1_type = bf16
// CHECK-SAME:      gemm2_type = f32
// CHECK-SAME:      router_weight = #moe<router_weight before_down>
// CHECK-SAME:      w13_quant = #moe.quant<fp8_block, block = [128, 128]>
// CHECK-SAME:      w2_quant = #moe.quant<fp8_block, block = [128, 128]>
// CHECK-SAME:      x_quant = #moe.quant<fp8_block, block = [1, 128]>
// CHECK-SAME:      } : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<8x2x2xf32>, tensor<8x2x1xf32>) -> tensor<?x256xbf16>
func.func @fused_moe_fp8_before_down(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x2x2xf32>, %w2: tensor<8x256x128xf8E4M3FN>, %w2s: tensor<8x2x1xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = f32, x_quant = #moe.quant<fp8_block, block = [1, 128]>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, act_quant = #moe.quant<fp8_block, block = [1, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<8x2x2xf32>, tensor<8x2x1xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// gpt-oss: MXFP4 weights, clamped SwiGLU on interleaved gate/up rows.
// CHECK-LABEL: func.func @fused_moe_mxfp4_clamped_swiglu(
// CHECK:         moe.fused_moe %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} w13_scales(%{{[^ ,)]+}}) w2_scales(%{{[^ ,)]+}}) {
// CHECK-SAME:      act_type = bf16
// CHECK-SAME:      activation = #moe<activation clamped_swiglu>
// CHECK-SAME:      alpha = 1.702000e+00 : f32
// CHECK-SAME:      gate_up_layout = #moe<gate_up_layout interleaved>
// CHECK-SAME:      limit = 7.000000e+00 : f32
// CHECK-SAME:      w13_quant = #moe.quant<mxfp4, block = [1, 32]>
// CHECK-SAME:      w2_quant = #moe.quant<mxfp4, block = [1, 32]>
// CHECK-SAME:      : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf4E2M1FN>, tensor<8x256x128xf4E2M1FN>, tensor<8x256x8xf8E8M0FNU>, tensor<8x256x4xf8E8M0FNU>) -> tensor<?x256xbf16>
func.func @fused_moe_mxfp4_clamped_swiglu(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf4E2M1FN>, %w13s: tensor<8x256x8xf8E8M0FNU>, %w2: tensor<8x256x128xf4E2M1FN>, %w2s: tensor<8x256x4xf8E8M0FNU>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation clamped_swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, alpha = 1.702 : f32, limit = 7.0 : f32, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp4, block = [1, 32]>, w2_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf4E2M1FN>, tensor<8x256x128xf4E2M1FN>, tensor<8x256x8xf8E8M0FNU>, tensor<8x256x4xf8E8M0FNU>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// NVFP4 weights: per-expert global scales of both weights.
// CHECK-LABEL: func.func @fused_moe_nvfp4_weights(
// CHECK-SAME:    %[[W13G:[^:]+]]: tensor<8xf32>,
// CHECK-SAME:    %[[W2G:[^:]+]]: tensor<8xf32>)
// CHECK:         moe.fused_moe %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} w13_scales(%{{[^ ,)]+}}) w2_scales(%{{[^ ,)]+}}) w13_global_scale(%[[W13G]]) w2_global_scale(%[[W2G]]) {
// CHECK-SAME:      w13_quant = #moe.quant<nvfp4, block = [1, 16]>
// CHECK-SAME:      w2_quant = #moe.quant<nvfp4, block = [1, 16]>
func.func @fused_moe_nvfp4_weights(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf4E2M1FN>, %w13s: tensor<8x256x16xf8E4M3FN>, %w2: tensor<8x256x128xf4E2M1FN>, %w2s: tensor<8x256x8xf8E4M3FN>, %w13g: tensor<8xf32>, %w2g: tensor<8xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_global_scale(%w13g) w2_global_scale(%w2g) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<nvfp4, block = [1, 16]>, w2_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf4E2M1FN>, tensor<8x256x128xf4E2M1FN>, tensor<8x256x16xf8E4M3FN>, tensor<8x256x8xf8E4M3FN>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// Expert parallelism: 8 experts over 4 ranks.
// CHECK-LABEL: func.func @fused_moe_placement(
// CHECK:         moe.fused_moe
// CHECK-SAME:      placement = #moe.placement<ranks = 4, experts_per_rank = 2>
// CHECK-SAME:      : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
func.func @fused_moe_placement(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, placement = #moe.placement<ranks = 4, experts_per_rank = 2>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// The example of moe.fused_moe's description.
// CHECK-LABEL: func.func @fused_moe_description_example(
// CHECK:         moe.fused_moe %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}}, %{{[^ ,)]+}} {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>} : (tensor<?x2048xbf16>, tensor<?x8xi32>, tensor<?x8xf32>, tensor<128x1536x2048xbf16>, tensor<128x2048x768xbf16>) -> tensor<?x2048xbf16>
func.func @fused_moe_description_example(%x: tensor<?x2048xbf16>, %ids: tensor<?x8xi32>, %weights: tensor<?x8xf32>, %w13: tensor<128x1536x2048xbf16>, %w2: tensor<128x2048x768xbf16>) -> tensor<?x2048xbf16> {
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x2048xbf16>, tensor<?x8xi32>, tensor<?x8xf32>, tensor<128x1536x2048xbf16>, tensor<128x2048x768xbf16>) -> tensor<?x2048xbf16>
  return %out : tensor<?x2048xbf16>
}

//===----------------------------------------------------------------------===//
// A whole unfused layer
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @layer_unfused_bf16(
// CHECK:         %[[L:.+]] = moe.gate
// CHECK:         %[[IDS:[^,]+]], %[[W:[^ ]+]] = moe.route softmax %[[L]]
// CHECK:         %[[ROWS:[^,]+]], %[[OFF:[^,]+]], %[[SLOTS:[^,]+]], %[[RW:[^ ]+]] = moe.dispatch %{{[^ ,)]+}}, %[[IDS]], %[[W]]
// CHECK:         %[[H:.+]] = moe.expert_matmul %[[ROWS]], %{{[^ ,)]+}}, %[[OFF]]
// CHECK:         %[[A:.+]] = moe.activation swiglu({{ ?}}concat) %[[H]]
// CHECK:         %[[Y:.+]] = moe.expert_matmul %[[A]], %{{[^ ,)]+}}, %[[OFF]]
// CHECK:         %[[OUT:.+]] = moe.combine %[[Y]], %[[SLOTS]] weights(%[[W]])
// CHECK:         return %[[OUT]]
func.func @layer_unfused_bf16(%x: tensor<?x256xbf16>, %wg: tensor<8x256xbf16>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %logits = moe.gate %x, %wg : tensor<?x256xbf16>, tensor<8x256xbf16> -> tensor<?x8xf32>
  %ids, %weights = moe.route softmax %logits {top_k = 2 : i64, renormalize} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %weights {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %out = moe.combine %y, %slot_map weights(%weights) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
