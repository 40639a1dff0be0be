// RUN: moe-opt %s -split-input-file -verify-diagnostics
// RUN: %python %S/../../check-each-split.py moe-opt %s | FileCheck %s --check-prefix=EXIT
// EXIT: [[N:[0-9]+]] cases, [[N]] rejected cleanly

// Every diagnostic of the moe verifiers (MoEOps.cpp, MoEDialect.cpp) and the
// ODS-generated ones that matter. Shapes: E = 8, H = 256, I = 128, K = 2.

//===----------------------------------------------------------------------===//
// #moe.quant and #moe.placement
//===----------------------------------------------------------------------===//

// Bad block shape for a scheme: fp8_block takes [1, 128] or [128, 128] only.
func.func @negative_quant_fp8_block_bad_block(%x: tensor<?x256xbf16>) {
  // expected-error @+1 {{#moe.quant<fp8_block> expects block [1, 128] or [128, 128], got [1, 64]}}
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [1, 64]> %x : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x4xf32>
  return
}

// -----

// Bad block shape for a scheme: mxfp4 takes [1, 32] only.
func.func @negative_quant_mxfp4_bad_block(%x: tensor<?x256xbf16>) {
  // expected-error @+1 {{#moe.quant<mxfp4> expects block [1, 32], got [1, 16]}}
  %q, %s = moe.quantize #moe.quant<mxfp4, block = [1, 16]> %x : tensor<?x256xbf16> -> tensor<?x256xf4E2M1FN>, tensor<?x16xf8E8M0FNU>
  return
}

// -----

// Bad block shape for a scheme: mxfp8 takes [1, 32] only, not a 2-D block.
func.func @negative_quant_mxfp8_bad_block(%x: tensor<8x256x256xbf16>) {
  // expected-error @+1 {{#moe.quant<mxfp8> expects block [1, 32], got [32, 32]}}
  %q, %s = moe.quantize #moe.quant<mxfp8, block = [32, 32]> %x : tensor<8x256x256xbf16> -> tensor<8x256x256xf8E4M3FN>, tensor<8x8x8xf8E8M0FNU>
  return
}

// -----

// Bad block shape for a scheme: nvfp4 takes [1, 16] only.
func.func @negative_quant_nvfp4_bad_block(%x: tensor<?x256xbf16>) {
  // expected-error @+1 {{#moe.quant<nvfp4> expects block [1, 16], got [1, 32]}}
  %q, %s, %g = moe.quantize #moe.quant<nvfp4, block = [1, 32]> %x : tensor<?x256xbf16> -> tensor<?x256xf4E2M1FN>, tensor<?x8xf8E4M3FN>, tensor<f32>
  return
}

// -----

// A placement over zero ranks.
func.func @negative_placement_zero_ranks(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{#moe.placement expects ranks >= 1, got 0}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64, placement = #moe.placement<ranks = 0, experts_per_rank = 8>} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// A placement with no expert on a rank.
func.func @negative_placement_zero_experts_per_rank(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{#moe.placement expects experts_per_rank >= 1, got -1}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64, placement = #moe.placement<ranks = 8, experts_per_rank = -1>} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.gate
//===----------------------------------------------------------------------===//

// Gate input that is not a matrix.
func.func @negative_gate_x_rank(%x: tensor<4x2x256xbf16>, %wg: tensor<8x256xbf16>) {
  // expected-error @+1 {{'moe.gate' op expects x of rank 2 [T, H], got 'tensor<4x2x256xbf16>'}}
  %l = moe.gate %x, %wg : tensor<4x2x256xbf16>, tensor<8x256xbf16> -> tensor<4x8xf32>
  return
}

// -----

// Gate weight whose H disagrees with the tokens'.
func.func @negative_gate_weight_hidden_size(%x: tensor<?x256xbf16>, %wg: tensor<8x128xbf16>) {
  // expected-error @+1 {{'moe.gate' op expects weight of shape [E, H] = [8, 256], got [8, 128]}}
  %l = moe.gate %x, %wg : tensor<?x256xbf16>, tensor<8x128xbf16> -> tensor<?x8xf32>
  return
}

// -----

// Gate logits with the wrong number of experts.
func.func @negative_gate_logits_shape(%x: tensor<4x256xbf16>, %wg: tensor<8x256xbf16>) {
  // expected-error @+1 {{'moe.gate' op expects logits of shape [T, E] = [4, 8], got [4, 16]}}
  %l = moe.gate %x, %wg : tensor<4x256xbf16>, tensor<8x256xbf16> -> tensor<4x16xf32>
  return
}

// -----

// Gate logits rounded to FP8: a rounding point must be f32 or bf16.
func.func @negative_gate_logits_fp8(%x: tensor<?x256xbf16>, %wg: tensor<8x256xbf16>) {
  // expected-error @+1 {{'moe.gate' op expects logits element type f32 or bf16 (quantize explicitly with moe.quantize), got 'f8E4M3FN'}}
  %l = moe.gate %x, %wg : tensor<?x256xbf16>, tensor<8x256xbf16> -> tensor<?x8xf8E4M3FN>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.route
//===----------------------------------------------------------------------===//

// Route logits that are not a matrix.
func.func @negative_route_logits_rank(%logits: tensor<8xf32>) {
  // expected-error @+1 {{'moe.route' op expects logits of rank 2 [T, E], got 'tensor<8xf32>'}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// Top-k > E: more experts picked than there are.
func.func @negative_route_topk_gt_experts(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects top_k (9) <= the number of experts E (8)}}
  %ids, %w = moe.route softmax %logits {top_k = 9 : i64} : (tensor<?x8xf32>) -> (tensor<?x9xi32>, tensor<?x9xf32>)
  return
}

// -----

// E not divisible by num_groups.
func.func @negative_route_experts_not_divisible_by_groups(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects E (8) to be divisible by num_groups (3)}}
  %ids, %w = moe.route sigmoid %logits {top_k = 2 : i64, num_groups = 3 : i64, topk_groups = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// More groups kept than there are.
func.func @negative_route_topk_groups_gt_num_groups(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects topk_groups (4) <= num_groups (2)}}
  %ids, %w = moe.route sigmoid %logits {top_k = 2 : i64, num_groups = 2 : i64, topk_groups = 4 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// Top-k larger than the experts of the kept groups (1 group of 2 experts).
func.func @negative_route_topk_gt_kept_experts(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects top_k (3) <= the experts in the kept groups, topk_groups * E / num_groups = 2}}
  %ids, %w = moe.route sigmoid %logits {top_k = 3 : i64, num_groups = 4 : i64, topk_groups = 1 : i64} : (tensor<?x8xf32>) -> (tensor<?x3xi32>, tensor<?x3xf32>)
  return
}

// -----

// Shared experts: the ids hold K + S slots.
func.func @negative_route_shared_slots(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects ids of shape [T, K+S] = [?, 3], got [?, 2]}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, shared_experts = 1 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// A negative number of shared experts.
func.func @negative_route_shared_count(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{attribute 'shared_experts' failed to satisfy constraint}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, shared_experts = -1 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// An infinite shared weight.
func.func @negative_route_shared_weight(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects a finite shared_weight, got INF}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, shared_experts = 1 : i64, shared_weight = 0x7F800000 : f32} : (tensor<?x8xf32>) -> (tensor<?x3xi32>, tensor<?x3xf32>)
  return
}

// -----

// The shared expert (id 8) is not among the layer's 8 experts: its slot
// would be masked.
func.func @negative_fused_moe_missing_shared_expert(%x: tensor<?x256xbf16>, %logits: tensor<?x8xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, shared_experts = 1 : i64} : (tensor<?x8xf32>) -> (tensor<?x3xi32>, tensor<?x3xf32>)
  // expected-error @+1 {{'moe.fused_moe' op expects its experts (8) to include every expert that its moe.route picks: 8 routed + 1 shared}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x3xi32>, tensor<?x3xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// The same for an unfused dispatch: 8 routed + 1 shared experts, 8 in the
// dispatch.
func.func @negative_dispatch_missing_shared_expert(%x: tensor<?x256xbf16>, %logits: tensor<?x8xf32>) {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, shared_experts = 1 : i64} : (tensor<?x8xf32>) -> (tensor<?x3xi32>, tensor<?x3xf32>)
  // expected-error @+1 {{'moe.dispatch' op expects its experts (8) to include every expert that its moe.route picks: 8 routed + 1 shared}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x3xi32>, tensor<?x3xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x3xi32>, tensor<?xf32>
  return
}

// -----

// Nonpositive routed_scaling_factor (zero).
func.func @negative_route_zero_scaling_factor(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects a finite routed_scaling_factor > 0, got 0}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, routed_scaling_factor = 0.0 : f32} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// Nonpositive routed_scaling_factor (negative).
func.func @negative_route_negative_scaling_factor(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects a finite routed_scaling_factor > 0, got -2.5}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, routed_scaling_factor = -2.5 : f32} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// An infinite routed_scaling_factor.
func.func @negative_route_infinite_scaling_factor(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects a finite routed_scaling_factor > 0, got INF}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, routed_scaling_factor = 0x7F800000 : f32} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// A bias of the wrong number of experts.
func.func @negative_route_bias_shape(%logits: tensor<?x8xf32>, %bias: tensor<16xf32>) {
  // expected-error @+1 {{'moe.route' op expects bias of shape [E] = [8], got [16]}}
  %ids, %w = moe.route sigmoid %logits bias(%bias) {top_k = 2 : i64} : (tensor<?x8xf32>, tensor<16xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// Ids with a K other than top_k.
func.func @negative_route_ids_k(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects ids of shape [T, K] = [?, 2], got [?, 4]}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x4xi32>, tensor<?x2xf32>)
  return
}

// -----

// Weights with a T other than the logits'.
func.func @negative_route_weights_tokens(%logits: tensor<4x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects weights of shape [T, K] = [4, 2], got [5, 2]}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<4x8xf32>) -> (tensor<4x2xi32>, tensor<5x2xf32>)
  return
}

// -----

// ODS: top_k = 0.
func.func @negative_route_topk_zero(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op attribute 'top_k' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %ids, %w = moe.route softmax %logits {top_k = 0 : i64} : (tensor<?x8xf32>) -> (tensor<?x0xi32>, tensor<?x0xf32>)
  return
}

// -----

// ODS: num_groups = 0.
func.func @negative_route_num_groups_zero(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op attribute 'num_groups' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, num_groups = 0 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// ODS: missing required attribute top_k.
func.func @negative_route_missing_topk(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op requires attribute 'top_k'}}
  %ids, %w = moe.route softmax %logits : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// ODS: wrong element type of ids (float ids).
func.func @negative_route_float_ids(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op result #0 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<?x2xf32>'}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>)
  return
}

// -----

// ODS: an unknown scoring function.
func.func @negative_route_unknown_scoring(%logits: tensor<?x8xf32>) {
  // expected-error @+2 {{expected ::mlir::moe::Scoring to be one of: softmax, sigmoid}}
  // expected-error @+1 {{failed to parse MoE_ScoringAttr parameter 'value' which is to be a `::mlir::moe::Scoring`}}
  %ids, %w = moe.route relu %logits {top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

// Ids that are not [T, K].
func.func @negative_dispatch_ids_rank(%x: tensor<?x256xbf16>, %ids: tensor<?xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects ids of rank 2 [T, K], got 'tensor<?xi32>'}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// ODS: wrong element type of ids (i16).
func.func @negative_dispatch_i16_ids(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi16>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<?x2xi16>'}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi16>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// ODS: missing required attribute num_experts.
func.func @negative_dispatch_missing_num_experts(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op requires attribute 'num_experts'}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// Weights whose K disagrees with the ids'.
func.func @negative_dispatch_weights_shape(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x4xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects weights of shape [T, K] = [?, 2], got [?, 4]}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x4xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// Dispatched rows must be M = T*K, not T.
func.func @negative_dispatch_rows_not_t_times_k(%x: tensor<4x256xbf16>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects rows of shape [T*K, H] = [8, 256], got [4, 256]}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<4x256xbf16>, tensor<4x2xi32>, tensor<4x2xf32> -> tensor<4x256xbf16>, tensor<9xi32>, tensor<4x2xi32>, tensor<8xf32>
  return
}

// -----

// Offsets must be [E+1] (a prefix sum), not [E].
func.func @negative_dispatch_offsets_e(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects offsets of shape [E+1] = [9], got 'tensor<8xi32>'}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<8xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// A slot map of the wrong K.
func.func @negative_dispatch_slot_map_shape(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects slot_map of shape [T, K] = [?, 2], got [?, 1]}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x1xi32>, tensor<?xf32>
  return
}

// -----

// Row weights must be [T*K].
func.func @negative_dispatch_row_weights_shape(%x: tensor<4x256xbf16>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects row_weights of shape [T*K] = [8], got [4]}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<4x256xbf16>, tensor<4x2xi32>, tensor<4x2xf32> -> tensor<8x256xbf16>, tensor<9xi32>, tensor<4x2xi32>, tensor<4xf32>
  return
}

// -----

// Dispatch copies rows: it does not change their element type.
func.func @negative_dispatch_rows_element_type(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects rows of the element type of x ('bf16'), got 'f32'}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xf32>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// E not divisible by the ranks of the placement.
func.func @negative_dispatch_placement_ranks_do_not_divide(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects E (8) to be divisible by the ranks (3) of #moe.placement<ranks = 3, experts_per_rank = 3>}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64, placement = #moe.placement<ranks = 3, experts_per_rank = 3>} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// A placement that does not cover exactly the E experts.
func.func @negative_dispatch_placement_wrong_total(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects E (8) to equal ranks * experts_per_rank = 2 * 2}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64, placement = #moe.placement<ranks = 2, experts_per_rank = 2>} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

// A slot map that is not [T, K].
func.func @negative_combine_slot_map_rank(%y: tensor<?x256xbf16>, %slot_map: tensor<?xi32>) {
  // expected-error @+1 {{'moe.combine' op expects slot_map of rank 2 [T, K], got 'tensor<?xi32>'}}
  %out = moe.combine %y, %slot_map : (tensor<?x256xbf16>, tensor<?xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Rows of the combine must be M = T*K.
func.func @negative_combine_rows_shape(%y: tensor<4x256xbf16>, %slot_map: tensor<4x2xi32>) {
  // expected-error @+1 {{'moe.combine' op expects rows of shape [M = T*K, H] = [8, 256], got [4, 256]}}
  %out = moe.combine %y, %slot_map : (tensor<4x256xbf16>, tensor<4x2xi32>) -> tensor<4x256xbf16>
  return
}

// -----

// Combine weights of the wrong K.
func.func @negative_combine_weights_shape(%y: tensor<?x256xbf16>, %slot_map: tensor<?x2xi32>, %w: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.combine' op expects weights of shape [T, K] = [?, 2], got [?, 8]}}
  %out = moe.combine %y, %slot_map weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x8xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// Combine output of a T other than the slot map's.
func.func @negative_combine_out_tokens(%y: tensor<?x256xbf16>, %slot_map: tensor<4x2xi32>) {
  // expected-error @+1 {{'moe.combine' op expects out of shape [T, H] = [4, 256], got [5, 256]}}
  %out = moe.combine %y, %slot_map : (tensor<?x256xbf16>, tensor<4x2xi32>) -> tensor<5x256xbf16>
  return
}

// -----

// Combine output whose H disagrees with the rows'.
func.func @negative_combine_out_hidden(%y: tensor<?x256xbf16>, %slot_map: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.combine' op expects out of shape [T, H] = [?, 256], got [?, 128]}}
  %out = moe.combine %y, %slot_map : (tensor<?x256xbf16>, tensor<?x2xi32>) -> tensor<?x128xbf16>
  return
}

// -----

// The combine accumulates in FP32 and rounds to f32 or bf16, never FP8.
func.func @negative_combine_out_fp8(%y: tensor<?x256xbf16>, %slot_map: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.combine' op expects out element type f32 or bf16 (quantize explicitly with moe.quantize), got 'f8E4M3FN'}}
  %out = moe.combine %y, %slot_map : (tensor<?x256xbf16>, tensor<?x2xi32>) -> tensor<?x256xf8E4M3FN>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.expert_matmul
//===----------------------------------------------------------------------===//

// A weight that is not [E, N, K].
func.func @negative_matmul_weight_rank(%x: tensor<?x256xbf16>, %w: tensor<256x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects weight of rank 3 [E, N, K], got 'tensor<256x256xbf16>'}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// A weight given [E, K, N] instead of K-major [E, N, K]: the reduction dims disagree.
func.func @negative_matmul_weight_not_k_major(%x: tensor<?x256xbf16>, %w: tensor<8x256x128xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects weight of shape [E, N, K] = [8, 256, 256], got [8, 256, 128]}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Offsets of a matmul must be [E+1].
func.func @negative_matmul_offsets_shape(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xbf16>, %offsets: tensor<8xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects offsets of shape [E+1] = [9], got 'tensor<8xi32>'}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<8xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Output rows disagree with the input rows.
func.func @negative_matmul_out_rows(%x: tensor<8x256xbf16>, %w: tensor<8x128x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects out of shape [M, N] = [8, 128], got [4, 128]}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<8x256xbf16>, tensor<8x128x256xbf16>, tensor<9xi32>) -> tensor<4x128xbf16>
  return
}

// -----

// A matmul rounded to FP8: quantize explicitly instead.
func.func @negative_matmul_out_fp8(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects out element type f32 or bf16 (quantize explicitly with moe.quantize), got 'f8E4M3FN'}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xf8E4M3FN>
  return
}

// -----

// Missing scale for a quantized operand: FP8 weights without w_scales.
func.func @negative_matmul_missing_w_scales(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf8E4M3FN>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_scales for w_quant = #moe.quant<fp8_block, block = [128, 128]>}}
  %h = moe.expert_matmul %x, %w, %offsets {w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Quantized values without a format: FP8 activations without x_quant.
func.func @negative_matmul_quantized_x_without_format(%x: tensor<?x256xf8E4M3FN>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects x_quant for x of element type 'f8E4M3FN' (quantized values need a format and block scales)}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Scales without a format saying what they are.
func.func @negative_matmul_scales_without_format(%x: tensor<?x256xbf16>, %xs: tensor<?x2xf32>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op has x_scales but no x_quant saying their format}}
  %h = moe.expert_matmul %x, %w, %offsets x_scales(%xs) : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// A global scale without a format saying what it is.
func.func @negative_matmul_global_scale_without_format(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xbf16>, %wg: tensor<8xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op has w_global_scale but no w_quant saying its format}}
  %h = moe.expert_matmul %x, %w, %offsets w_global_scale(%wg) : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>, tensor<8xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// Values of the wrong element type for their format (FP8 values named MXFP4).
func.func @negative_matmul_weight_element_type_vs_format(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf8E4M3FN>, %ws: tensor<8x256x8xf8E8M0FNU>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects weight of element type 'f4E2M1FN' for w_quant = #moe.quant<mxfp4, block = [1, 32]>, got 'f8E4M3FN'}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  return
}

// -----

// x_quant with 128x128 blocks on token rows: activations need [1, bc].
func.func @negative_matmul_x_quant_128x128(%x: tensor<?x256xf8E4M3FN>, %xs: tensor<?x2xf32>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects a [1, 128] block for x (its rows are tokens), got #moe.quant<fp8_block, block = [128, 128]>}}
  %h = moe.expert_matmul %x, %w, %offsets x_scales(%xs) {x_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xbf16>, tensor<9xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// H not multiple of the block: K = 192 is not a multiple of 128.
func.func @negative_matmul_k_not_multiple_of_block(%x: tensor<?x192xbf16>, %w: tensor<8x256x192xf8E4M3FN>, %ws: tensor<8x2x2xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects the last dimension of weight (192) to be a multiple of the block (128) of w_quant}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x192xbf16>, tensor<8x256x192xf8E4M3FN>, tensor<9xi32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// N not a multiple of the 128-row weight block.
func.func @negative_matmul_n_not_multiple_of_block(%x: tensor<?x256xbf16>, %w: tensor<8x192x256xf8E4M3FN>, %ws: tensor<8x2x2xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects dimension 1 of weight (192) to be a multiple of the block (128) of w_quant}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<8x192x256xf8E4M3FN>, tensor<9xi32>, tensor<8x2x2xf32>) -> tensor<?x192xbf16>
  return
}

// -----

// Weight/scale shape disagreement: 128x128 blocks of [8, 256, 256] need [8, 2, 2] scales.
func.func @negative_matmul_weight_scale_shape(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf8E4M3FN>, %ws: tensor<8x256x2xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_scales of shape [..., rows/128, cols/128] = [8, 2, 2], got [8, 256, 2]}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<8x256x2xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// Weight/scale shape disagreement in rank: per-tensor scales of [E, N, K].
func.func @negative_matmul_weight_scale_rank(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<256x8xf8E8M0FNU>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_scales of rank 3 [..., rows/1, cols/32], got 'tensor<256x8xf8E8M0FNU>'}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  return
}

// -----

// Activation scales with the wrong number of K blocks.
func.func @negative_matmul_x_scale_shape(%x: tensor<?x256xf8E4M3FN>, %xs: tensor<?x4xf32>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects x_scales of shape [..., rows/1, cols/128] = [?, 2], got [?, 4]}}
  %h = moe.expert_matmul %x, %w, %offsets x_scales(%xs) {x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xbf16>, tensor<9xi32>, tensor<?x4xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// Wrong scale element type: MXFP8 needs UE8M0 (f8E8M0FNU) scales, not f32.
func.func @negative_matmul_mxfp8_f32_scales(%x: tensor<?x256xf8E4M3FN>, %xs: tensor<?x8xf32>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects x_scales of element type 'f8E8M0FNU' for #moe.quant<mxfp8, block = [1, 32]>, got 'f32'}}
  %h = moe.expert_matmul %x, %w, %offsets x_scales(%xs) {x_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x256xf8E4M3FN>, tensor<8x256x256xbf16>, tensor<9xi32>, tensor<?x8xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// Wrong scale element type: fp8_block needs f32 scales, not UE8M0.
func.func @negative_matmul_fp8_block_ue8m0_scales(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf8E4M3FN>, %ws: tensor<8x2x2xf8E8M0FNU>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_scales of element type 'f32' for #moe.quant<fp8_block, block = [128, 128]>, got 'f8E8M0FNU'}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<8x2x2xf8E8M0FNU>) -> tensor<?x256xbf16>
  return
}

// -----

// NVFP4 without a global scale.
func.func @negative_matmul_nvfp4_without_global_scale(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<8x256x16xf8E4M3FN>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_global_scale for #moe.quant<nvfp4, block = [1, 16]>}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x16xf8E4M3FN>) -> tensor<?x256xbf16>
  return
}

// -----

// A global scale for a format that has none (MXFP4).
func.func @negative_matmul_mxfp4_with_global_scale(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<8x256x8xf8E8M0FNU>, %wg: tensor<8xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op has w_global_scale but #moe.quant<mxfp4, block = [1, 32]> has no global scale}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) w_global_scale(%wg) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x8xf8E8M0FNU>, tensor<8xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// The weight global scale is per expert, [E].
func.func @negative_matmul_weight_global_scale_shape(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<8x256x16xf8E4M3FN>, %wg: tensor<4xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_global_scale of shape [E] = [8], got [4]}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) w_global_scale(%wg) {w_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x16xf8E4M3FN>, tensor<4xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// The activation global scale is per tensor, [].
func.func @negative_matmul_x_global_scale_rank(%x: tensor<?x256xf4E2M1FN>, %xs: tensor<?x16xf8E4M3FN>, %xg: tensor<1xf32>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects x_global_scale of rank 0 [], got 'tensor<1xf32>'}}
  %h = moe.expert_matmul %x, %w, %offsets x_scales(%xs) x_global_scale(%xg) {x_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xf4E2M1FN>, tensor<8x256x256xbf16>, tensor<9xi32>, tensor<?x16xf8E4M3FN>, tensor<1xf32>) -> tensor<?x256xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.activation
//===----------------------------------------------------------------------===//

// Gate/up layout missing: the layout is required, so omitting it is a parse error.
func.func @negative_activation_layout_missing(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{expected '('}}
  %a = moe.activation swiglu %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// An unknown gate/up layout.
func.func @negative_activation_unknown_layout(%h: tensor<?x256xbf16>) {
  // expected-error @+2 {{expected ::mlir::moe::GateUpLayout to be one of: concat, interleaved}}
  // expected-error @+1 {{failed to parse MoE_GateUpLayoutAttr parameter 'value' which is to be a `::mlir::moe::GateUpLayout`}}
  %a = moe.activation swiglu(split) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// Odd 2*I: the input cannot be split into gate and up halves.
func.func @negative_activation_odd_two_i(%h: tensor<?x255xbf16>) {
  // expected-error @+1 {{'moe.activation' op expects input of shape [M, 2*I] with an even last dimension (gate and up halves), got 255}}
  %a = moe.activation swiglu(concat) %h : (tensor<?x255xbf16>) -> tensor<?x127xbf16>
  return
}

// -----

// An output that is not half the input.
func.func @negative_activation_out_not_half(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.activation' op expects out of shape [M, I] = [?, 128], got [?, 256]}}
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// An input that is not [M, 2*I].
func.func @negative_activation_input_rank(%h: tensor<256xbf16>) {
  // expected-error @+1 {{'moe.activation' op expects input of rank 2 [M, 2*I], got 'tensor<256xbf16>'}}
  %a = moe.activation swiglu(concat) %h : (tensor<256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// Row weights of a number of rows other than M.
func.func @negative_activation_row_weights_shape(%h: tensor<8x256xbf16>, %rw: tensor<4xf32>) {
  // expected-error @+1 {{'moe.activation' op expects row_weights of shape [M] = [8], got [4]}}
  %a = moe.activation swiglu(concat) %h row_weights(%rw) : (tensor<8x256xbf16>, tensor<4xf32>) -> tensor<8x128xbf16>
  return
}

// -----

// Alpha/limit on swiglu: only clamped_swiglu takes them.
func.func @negative_activation_alpha_limit_on_swiglu(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.activation' op has alpha or limit, which only clamped_swiglu takes, with swiglu}}
  %a = moe.activation swiglu(concat) %h {alpha = 1.702 : f32, limit = 7.0 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// A limit alone on gelu_mul.
func.func @negative_activation_limit_on_gelu_mul(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.activation' op has alpha or limit, which only clamped_swiglu takes, with gelu_mul}}
  %a = moe.activation gelu_mul(concat) %h {limit = 7.0 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// Clamped_swiglu without limit.
func.func @negative_activation_clamped_swiglu_without_limit(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.activation' op expects alpha and limit for clamped_swiglu}}
  %a = moe.activation clamped_swiglu(interleaved) %h {alpha = 1.702 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// Clamped_swiglu with a nonpositive limit.
func.func @negative_activation_clamped_swiglu_negative_limit(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.activation' op expects a finite limit > 0, got -7}}
  %a = moe.activation clamped_swiglu(interleaved) %h {alpha = 1.702 : f32, limit = -7.0 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// Clamped_swiglu with a NaN alpha.
func.func @negative_activation_clamped_swiglu_nan_alpha(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.activation' op expects a finite alpha, got nan}}
  %a = moe.activation clamped_swiglu(interleaved) %h {alpha = 0x7FC00000 : f32, limit = 7.0 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// An activation rounded to FP8: quantize explicitly instead.
func.func @negative_activation_out_fp8(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.activation' op expects out element type f32 or bf16 (quantize explicitly with moe.quantize), got 'f8E4M3FN'}}
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xf8E4M3FN>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.quantize
//===----------------------------------------------------------------------===//

// A vector input: blocks cover the last two dimensions.
func.func @negative_quantize_input_rank(%x: tensor<256xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects input of rank >= 2 (blocks cover the last two dimensions), got 'tensor<256xbf16>'}}
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x : tensor<256xbf16> -> tensor<256xf8E4M3FN>, tensor<2xf32>
  return
}

// -----

// Quantizing already quantized values.
func.func @negative_quantize_quantized_input(%x: tensor<?x256xf8E4M3FN>) {
  // expected-error @+1 {{'moe.quantize' op expects input of element type f32 or bf16, got 'f8E4M3FN'}}
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x : tensor<?x256xf8E4M3FN> -> tensor<?x256xf8E4M3FN>, tensor<?x2xf32>
  return
}

// -----

// Values of a shape other than the input's.
func.func @negative_quantize_values_shape(%x: tensor<4x256xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects values of shape the shape of input = [4, 256], got [8, 256]}}
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x : tensor<4x256xbf16> -> tensor<8x256xf8E4M3FN>, tensor<4x2xf32>
  return
}

// -----

// Values of the wrong element type for the format (mxfp4 values are e2m1).
func.func @negative_quantize_values_element_type(%x: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects values of element type 'f4E2M1FN' for format = #moe.quant<mxfp4, block = [1, 32]>, got 'f8E4M3FN'}}
  %q, %s = moe.quantize #moe.quant<mxfp4, block = [1, 32]> %x : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x8xf8E8M0FNU>
  return
}

// -----

// H not multiple of the block: 200 columns in 128-column blocks.
func.func @negative_quantize_h_not_multiple_of_block(%x: tensor<?x200xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects the last dimension of values (200) to be a multiple of the block (128) of format}}
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x : tensor<?x200xbf16> -> tensor<?x200xf8E4M3FN>, tensor<?x2xf32>
  return
}

// -----

// Rows not a multiple of a 128x128 block.
func.func @negative_quantize_rows_not_multiple_of_block(%w: tensor<8x192x256xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects dimension 1 of values (192) to be a multiple of the block (128) of format}}
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [128, 128]> %w : tensor<8x192x256xbf16> -> tensor<8x192x256xf8E4M3FN>, tensor<8x2x2xf32>
  return
}

// -----

// Weight/scale shape disagreement for a quantize of weights.
func.func @negative_quantize_scales_shape(%w: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects scales of shape [..., rows/128, cols/128] = [8, 2, 1], got [8, 1, 2]}}
  %q, %s = moe.quantize #moe.quant<fp8_block, block = [128, 128]> %w : tensor<8x256x128xbf16> -> tensor<8x256x128xf8E4M3FN>, tensor<8x1x2xf32>
  return
}

// -----

// Wrong scale element type: MXFP4 scales are UE8M0, not f32.
func.func @negative_quantize_mxfp4_f32_scales(%w: tensor<8x256x256xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects scales of element type 'f8E8M0FNU' for #moe.quant<mxfp4, block = [1, 32]>, got 'f32'}}
  %q, %s = moe.quantize #moe.quant<mxfp4, block = [1, 32]> %w : tensor<8x256x256xbf16> -> tensor<8x256x256xf4E2M1FN>, tensor<8x256x8xf32>
  return
}

// -----

// NVFP4 without a global scale result.
func.func @negative_quantize_nvfp4_without_global_scale(%x: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects global_scale for #moe.quant<nvfp4, block = [1, 16]>}}
  %q, %s = moe.quantize #moe.quant<nvfp4, block = [1, 16]> %x : tensor<?x256xbf16> -> tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>
  return
}

// -----

// A global scale result for a format that has none.
func.func @negative_quantize_fp8_with_global_scale(%x: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.quantize' op has global_scale but #moe.quant<fp8_block, block = [1, 128]> has no global scale}}
  %q, %s, %g = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x2xf32>, tensor<f32>
  return
}

// -----

// A per-row global scale: NVFP4's global scale is one f32, [].
func.func @negative_quantize_nvfp4_global_scale_shape(%x: tensor<4x256xbf16>) {
  // expected-error @+1 {{'moe.quantize' op expects global_scale of rank 0 [], got 'tensor<4xf32>'}}
  %q, %s, %g = moe.quantize #moe.quant<nvfp4, block = [1, 16]> %x : tensor<4x256xbf16> -> tensor<4x256xf4E2M1FN>, tensor<4x16xf8E4M3FN>, tensor<4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.dequantize
//===----------------------------------------------------------------------===//

// Vector values: blocks cover the last two dimensions.
func.func @negative_dequantize_values_rank(%q: tensor<256xf4E2M1FN>, %s: tensor<8xf8E8M0FNU>) {
  // expected-error @+1 {{'moe.dequantize' op expects values of rank >= 2, got 'tensor<256xf4E2M1FN>'}}
  %x = moe.dequantize #moe.quant<mxfp4, block = [1, 32]> %q, %s : (tensor<256xf4E2M1FN>, tensor<8xf8E8M0FNU>) -> tensor<256xbf16>
  return
}

// -----

// An output of a shape other than the values'.
func.func @negative_dequantize_out_shape(%q: tensor<8x64x128xf4E2M1FN>, %s: tensor<8x64x4xf8E8M0FNU>) {
  // expected-error @+1 {{'moe.dequantize' op expects out of shape the shape of values = [8, 64, 128], got [8, 128, 64]}}
  %x = moe.dequantize #moe.quant<mxfp4, block = [1, 32]> %q, %s : (tensor<8x64x128xf4E2M1FN>, tensor<8x64x4xf8E8M0FNU>) -> tensor<8x128x64xbf16>
  return
}

// -----

// Dequantizing into a quantized type.
func.func @negative_dequantize_out_fp8(%q: tensor<8x64x128xf4E2M1FN>, %s: tensor<8x64x4xf8E8M0FNU>) {
  // expected-error @+1 {{'moe.dequantize' op expects out element type f32 or bf16 (quantize explicitly with moe.quantize), got 'f8E4M3FN'}}
  %x = moe.dequantize #moe.quant<mxfp4, block = [1, 32]> %q, %s : (tensor<8x64x128xf4E2M1FN>, tensor<8x64x4xf8E8M0FNU>) -> tensor<8x64x128xf8E4M3FN>
  return
}

// -----

// Wrong scale element type: NVFP4 block scales are e4m3, not UE8M0.
func.func @negative_dequantize_nvfp4_ue8m0_scales(%q: tensor<?x256xf4E2M1FN>, %s: tensor<?x16xf8E8M0FNU>, %g: tensor<f32>) {
  // expected-error @+1 {{'moe.dequantize' op expects scales of element type 'f8E4M3FN' for #moe.quant<nvfp4, block = [1, 16]>, got 'f8E8M0FNU'}}
  %x = moe.dequantize #moe.quant<nvfp4, block = [1, 16]> %q, %s global_scale(%g) : (tensor<?x256xf4E2M1FN>, tensor<?x16xf8E8M0FNU>, tensor<f32>) -> tensor<?x256xbf16>
  return
}

// -----

// NVFP4 without a global scale, on dequantize.
func.func @negative_dequantize_nvfp4_without_global_scale(%q: tensor<?x256xf4E2M1FN>, %s: tensor<?x16xf8E4M3FN>) {
  // expected-error @+1 {{'moe.dequantize' op expects global_scale for #moe.quant<nvfp4, block = [1, 16]>}}
  %x = moe.dequantize #moe.quant<nvfp4, block = [1, 16]> %q, %s : (tensor<?x256xf4E2M1FN>, tensor<?x16xf8E4M3FN>) -> tensor<?x256xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// moe.fused_moe
//===----------------------------------------------------------------------===//

// Gate/up layout missing on the fused op: a required attribute.
func.func @negative_fused_layout_missing(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op requires attribute 'gate_up_layout'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// A missing rounding point (gemm1_type) on the fused op.
func.func @negative_fused_gemm1_type_missing(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op requires attribute 'gemm1_type'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// A w13 that is not [E, 2*I, H].
func.func @negative_fused_w13_rank(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w13 of rank 3 [E, 2*I, H], got 'tensor<256x256xbf16>'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Odd 2*I in w13.
func.func @negative_fused_odd_two_i(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x255x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w13 of shape [E, 2*I, H] with an even dimension 1 (gate and up halves), got 255}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x255x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// A w2 whose I is not half of w13's 2*I.
func.func @negative_fused_w2_intermediate(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x256xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w2 of shape [E, H, I] = [8, 256, 128], got [8, 256, 256]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// w13 and w2 of different numbers of experts.
func.func @negative_fused_w2_experts(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<4x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w2 of shape [E, H, I] = [8, 256, 128], got [4, 256, 128]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<4x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Ids and weights of different K.
func.func @negative_fused_weights_shape(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x4xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects weights of shape [T, K] = [?, 2], got [?, 4]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x4xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Already quantized tokens: x_quant quantizes the dispatched rows.
func.func @negative_fused_quantized_x(%x: tensor<?x256xf8E4M3FN>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects x of element type f32 or bf16 (x_quant quantizes the dispatched rows), got 'f8E4M3FN'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xf8E4M3FN>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// x_quant with 128x128 blocks on token rows, on the fused op.
func.func @negative_fused_x_quant_128x128(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects a [1, 128] block for x_quant (its rows are tokens), got #moe.quant<fp8_block, block = [128, 128]>}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// act_quant with 128x128 blocks on token rows.
func.func @negative_fused_act_quant_128x128(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects a [1, 128] block for act_quant (its rows are tokens), got #moe.quant<fp8_block, block = [128, 128]>}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, act_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// H not multiple of the block of x_quant (H = 192, 128-column blocks).
func.func @negative_fused_h_not_multiple_of_x_block(%x: tensor<?x192xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x192xbf16>, %w2: tensor<8x192x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects H (192) to be a multiple of the block of x_quant (128)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x192xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x192xbf16>, tensor<8x192x128xbf16>) -> tensor<?x192xbf16>
  return
}

// -----

// I not a multiple of the block of act_quant (I = 64, 128-column blocks).
func.func @negative_fused_i_not_multiple_of_act_block(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x128x256xbf16>, %w2: tensor<8x256x64xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects I (64) to be a multiple of the block of act_quant (128)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, act_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x128x256xbf16>, tensor<8x256x64xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Missing scale for a quantized operand: FP8 w13 without w13_scales.
func.func @negative_fused_missing_w13_scales(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf8E4M3FN>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w13_scales for w13_quant = #moe.quant<fp8_block, block = [128, 128]>}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf8E4M3FN>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Quantized w2 without a w2_quant saying its format.
func.func @negative_fused_w2_quantized_without_format(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xf4E2M1FN>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w2_quant for w2 of element type 'f4E2M1FN' (quantized values need a format and block scales)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xf4E2M1FN>) -> tensor<?x256xbf16>
  return
}

// -----

// Weight/scale shape disagreement on w2 (MXFP4: [E, H, I/32] = [8, 256, 4]).
func.func @negative_fused_w2_scales_shape(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf4E2M1FN>, %w13s: tensor<8x256x8xf8E8M0FNU>, %w2: tensor<8x256x128xf4E2M1FN>, %w2s: tensor<8x256x8xf8E8M0FNU>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w2_scales of shape [..., rows/1, cols/32] = [8, 256, 4], got [8, 256, 8]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp4, block = [1, 32]>, w2_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf4E2M1FN>, tensor<8x256x128xf4E2M1FN>, tensor<8x256x8xf8E8M0FNU>, tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  return
}

// -----

// NVFP4 without a global scale, on the fused op's w13.
func.func @negative_fused_nvfp4_without_global_scale(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf4E2M1FN>, %w13s: tensor<8x256x16xf8E4M3FN>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w13_global_scale for #moe.quant<nvfp4, block = [1, 16]>}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf4E2M1FN>, tensor<8x256x128xbf16>, tensor<8x256x16xf8E4M3FN>) -> tensor<?x256xbf16>
  return
}

// -----

// NVFP4 activations: a per-call global scale of x is not supported.
func.func @negative_fused_x_quant_nvfp4(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op does not support x_quant = #moe.quant<nvfp4, block = [1, 16]> (a per-call global scale of the activations)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// NVFP4 act_quant: likewise not supported.
func.func @negative_fused_act_quant_nvfp4(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op does not support act_quant = #moe.quant<nvfp4, block = [1, 16]> (a per-call global scale of the activations)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, act_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// A rounding point that is not f32 or bf16: gemm1_type = f8E4M3FN.
func.func @negative_fused_gemm1_type_fp8(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects gemm1_type element type f32 or bf16 (quantize explicitly with moe.quantize), got 'f8E4M3FN'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f8E4M3FN, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// A rounding point that is not a float: act_type = i32.
func.func @negative_fused_act_type_int(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects act_type element type f32 or bf16 (quantize explicitly with moe.quantize), got 'i32'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = i32, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// gemm2_type = f16: not a rounding point of the dialect.
func.func @negative_fused_gemm2_type_f16(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects gemm2_type element type f32 or bf16 (quantize explicitly with moe.quantize), got 'f16'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = f16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Clamped_swiglu without limit, on the fused op.
func.func @negative_fused_clamped_swiglu_without_limit(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects alpha and limit for clamped_swiglu}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation clamped_swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, alpha = 1.702 : f32, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Alpha/limit on swiglu, on the fused op.
func.func @negative_fused_alpha_on_swiglu(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op has alpha or limit, which only clamped_swiglu takes, with swiglu}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, alpha = 1.702 : f32, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// E neither the whole layer's experts nor one rank's, on the fused op.
func.func @negative_fused_placement_ranks_do_not_divide(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects E (8, the experts of w13 and w2) to be ranks * experts_per_rank = 16 * 1 (the whole layer) or experts_per_rank = 1 (one rank's experts)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, placement = #moe.placement<ranks = 16, experts_per_rank = 1>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// A placement that does not cover exactly the E experts, on the fused op.
func.func @negative_fused_placement_wrong_total(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects E (8, the experts of w13 and w2) to be ranks * experts_per_rank = 4 * 4 (the whole layer) or experts_per_rank = 4 (one rank's experts)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, placement = #moe.placement<ranks = 4, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// ODS: an unknown router-weight placement.
func.func @negative_fused_unknown_router_weight(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+2 {{expected ::mlir::moe::RouterWeight to be one of: before_down, in_combine, none}}
  // expected-error @+1 {{failed to parse MoE_RouterWeightAttr parameter 'value' which is to be a `::mlir::moe::RouterWeight`}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight after_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Offsets of unknown size would hide E: dispatch must give [E+1].
func.func @negative_dispatch_dynamic_offsets(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects offsets of static shape [E+1], got 'tensor<?xi32>'}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<?xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// Offsets of unknown size would hide E: expert_matmul needs [E+1] too.
func.func @negative_expert_matmul_dynamic_offsets(%x: tensor<?x256xbf16>, %w: tensor<8x128x256xbf16>, %offsets: tensor<?xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects offsets of static shape [E+1], got 'tensor<?xi32>'}}
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x128x256xbf16>, tensor<?xi32>) -> tensor<?x128xbf16>
  return
}

// -----

// Quantized values without a format: moe.gate takes no scales.
func.func @negative_gate_quantized_input(%x: tensor<?x256xf4E2M1FN>, %wg: tensor<8x256xbf16>) {
  // expected-error @+1 {{'moe.gate' op expects x of element type f32 or bf16, got 'f4E2M1FN'}}
  %l = moe.gate %x, %wg : tensor<?x256xf4E2M1FN>, tensor<8x256xbf16> -> tensor<?x8xf32>
  return
}

// -----

// Quantized values without a format: moe.combine takes no scales.
func.func @negative_combine_quantized_rows(%y: tensor<?x256xf8E4M3FN>, %slots: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.combine' op expects rows of element type f32 or bf16, got 'f8E4M3FN'}}
  %out = moe.combine %y, %slots : (tensor<?x256xf8E4M3FN>, tensor<?x2xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Quantized values without a format: moe.activation takes no scales.
func.func @negative_activation_quantized_input(%h: tensor<?x256xf8E4M3FN>) {
  // expected-error @+1 {{'moe.activation' op expects input of element type f32 or bf16, got 'f8E4M3FN'}}
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xf8E4M3FN>) -> tensor<?x128xbf16>
  return
}

// -----

// Quantized values without a format: moe.route takes no scales.
func.func @negative_route_quantized_logits(%l: tensor<?x8xf8E4M3FN>) {
  // expected-error @+1 {{'moe.route' op expects logits of element type f32 or bf16, got 'f8E4M3FN'}}
  %ids, %w = moe.route softmax %l {top_k = 2 : i64} : (tensor<?x8xf8E4M3FN>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// Quantized values without a format: dispatch quantized rows without scales.
func.func @negative_dispatch_quantized_x(%x: tensor<?x256xf8E4M3FN>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects x of element type f32 or bf16, got 'f8E4M3FN'}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xf8E4M3FN>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xf8E4M3FN>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// int32-overflowing sizes: offsets are i32, so E + 1 must fit.
func.func @negative_dispatch_huge_num_experts(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects num_experts < 2^31 - 1 (offsets are i32), got 9223372036854775807}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 9223372036854775807 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// A placement whose ranks * experts_per_rank would overflow int64 is checked
// without multiplying.
func.func @negative_placement_overflow(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects E (8) to equal ranks * experts_per_rank = 2 * 4611686018427387908}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64, placement = #moe.placement<ranks = 2, experts_per_rank = 4611686018427387908>} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// A bias is one row per expert, [E, N].
func.func @negative_matmul_bias_shape(%x: tensor<?x256xbf16>, %w: tensor<8x128x256xbf16>, %offsets: tensor<9xi32>, %bias: tensor<8x256xbf16>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects bias of shape [E, N] = [8, 128], got [8, 256]}}
  %h = moe.expert_matmul %x, %w, %offsets bias(%bias) : (tensor<?x256xbf16>, tensor<8x128x256xbf16>, tensor<9xi32>, tensor<8x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

func.func @negative_matmul_bias_rank(%x: tensor<?x256xbf16>, %w: tensor<8x128x256xbf16>, %offsets: tensor<9xi32>, %bias: tensor<128xbf16>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects bias of rank 2 [E, N], got 'tensor<128xbf16>'}}
  %h = moe.expert_matmul %x, %w, %offsets bias(%bias) : (tensor<?x256xbf16>, tensor<8x128x256xbf16>, tensor<9xi32>, tensor<128xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// A bias of quantized values: biases are f32 or bf16.
func.func @negative_matmul_bias_type(%x: tensor<?x256xbf16>, %w: tensor<8x128x256xbf16>, %offsets: tensor<9xi32>, %bias: tensor<8x128xf8E4M3FN>) {
  // expected-error @+1 {{'moe.expert_matmul' op operand #3 must be ranked tensor of 32-bit float or bfloat16 type values, but got 'tensor<8x128xf8E4M3FN>'}}
  %h = moe.expert_matmul %x, %w, %offsets bias(%bias) : (tensor<?x256xbf16>, tensor<8x128x256xbf16>, tensor<9xi32>, tensor<8x128xf8E4M3FN>) -> tensor<?x128xbf16>
  return
}

// -----

// w13_bias follows w13's rows, [E, 2*I].
func.func @negative_fused_w13_bias_shape(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>, %b13: tensor<8x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w13_bias of shape [E, 2*I] = [8, 256], got [8, 128]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_bias(%b13) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>, tensor<8x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

func.func @negative_fused_w2_bias_experts(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>, %b2: tensor<4x256xf32>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w2_bias of shape [E, H] = [8, 256], got [4, 256]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w2_bias(%b2) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>, tensor<4x256xf32>) -> tensor<?x256xbf16>
  return
}
