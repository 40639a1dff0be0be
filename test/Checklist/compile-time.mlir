// RUN: moe-opt %s -split-input-file -verify-diagnostics
// RUN: %python %S/../check-each-split.py moe-opt %s | FileCheck %s --check-prefix=EXIT
// EXIT: [[N:[0-9]+]] cases, [[N]] rejected cleanly

// The compile-time items of the bad-input checklist
// (the research notes' users.md, §3.1-§3.3) that the verifiers answer: each
// case is named after its item and shows the diagnostic. docs/Robustness.md
// has the table (item -> test -> behaviour). Shapes: E = 8, H = 256,
// I = 128, K = 2.

// Item 1: malformed IR: w2 has a different expert count than w13.
func.func @item01_w2_expert_count(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<4x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w2 of shape [E, H, I] = [8, 256, 128], got [4, 256, 128]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<4x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 1: malformed IR: w13 disagrees with H of x.
func.func @item01_w13_hidden_size(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x512xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w13 of shape [E, 2*I, H] = [8, 256, 256], got [8, 256, 512]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x512xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 1: missing scale for a quantised operand.
func.func @item01_missing_w13_scales(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xf8E4M3FN>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w13_scales for w13_quant = #moe.quant<fp8_block, block = [128, 128]>}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf8E4M3FN>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 1: quantised weight with no format at all.
func.func @item01_quantized_weight_without_format(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf8E4M3FN>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_quant for weight of element type 'f8E4M3FN' (quantized values need a format and block scales)}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 1: scale tensor of the wrong shape.
func.func @item01_w_scales_shape(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf8E4M3FN>, %ws: tensor<8x2x4xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_scales of shape [..., rows/128, cols/128] = [8, 2, 2], got [8, 2, 4]}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<8x2x4xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 1: router bias of the wrong length.
func.func @item01_route_bias_shape(%logits: tensor<?x8xf32>, %bias: tensor<4xf32>) {
  // expected-error @+1 {{'moe.route' op expects bias of shape [E] = [8], got [4]}}
  %ids, %w = moe.route sigmoid %logits bias(%bias) {top_k = 2 : i64} : (tensor<?x8xf32>, tensor<4xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// Item 1: a gated activation needs w13 = [E, 2*I, H]; an odd gate/up dimension is not one.
func.func @item01_w13_not_gated(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x127x256xbf16>, %w2: tensor<8x256x127xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w13 of shape [E, 2*I, H] with an even dimension 1 (gate and up halves), got 127}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x127x256xbf16>, tensor<8x256x127xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 1: w13 given as [E, I, H] (ungated): I from w2 is not half of w13's rows.
func.func @item01_w13_ungated_layout(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x128x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects w2 of shape [E, H, I] = [8, 256, 64], got [8, 256, 128]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x128x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 2: layout ambiguity: the gate/up layout is required (no default).
func.func @item02_gate_up_layout_required(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{expected '('}}
  %a = moe.activation swiglu %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// Item 2: layout ambiguity: the fused op needs gate_up_layout too.
func.func @item02_fused_gate_up_layout_required(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op requires attribute 'gate_up_layout'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 2: UE8M0 scales where the format says FP32 (fp8_block).
func.func @item02_ue8m0_scales_for_fp32_format(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf8E4M3FN>, %ws: tensor<8x2x2xf8E8M0FNU>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_scales of element type 'f32' for #moe.quant<fp8_block, block = [128, 128]>, got 'f8E8M0FNU'}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<9xi32>, tensor<8x2x2xf8E8M0FNU>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 2: FP32 scales where the format says UE8M0 (mxfp4).
func.func @item02_fp32_scales_for_ue8m0_format(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %ws: tensor<8x256x8xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects w_scales of element type 'f8E8M0FNU' for #moe.quant<mxfp4, block = [1, 32]>, got 'f32'}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x8xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 2: MN-major ([E, K, N]) weight where K-major [E, N, K] is the layout.
func.func @item02_weight_mn_major(%x: tensor<?x256xbf16>, %w: tensor<8x256x128xbf16>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects weight of shape [E, N, K] = [8, 256, 256], got [8, 256, 128]}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x128xbf16>
  return
}

// -----

// Item 2: a scale block that is not the format's (swizzled / other block shapes are not accepted).
func.func @item02_scale_block_not_the_formats(%x: tensor<?x256xbf16>) {
  // expected-error @+1 {{#moe.quant<mxfp8> expects block [1, 32], got [32, 32]}}
  %q, %s = moe.quantize #moe.quant<mxfp8, block = [32, 32]> %x : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?x8xf8E8M0FNU>
  return
}

// -----

// Item 3: routing semantics: the router-weight placement is required on the fused op.
func.func @item03_router_weight_required(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op requires attribute 'router_weight'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 3: routing semantics: a scaling factor that is not a finite positive number.
func.func @item03_routed_scaling_factor_zero(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects a finite routed_scaling_factor > 0, got 0}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, routed_scaling_factor = 0.0 : f32} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return
}

// -----

// Item 4: unsupported combination: NVFP4 activations in the fused layer.
func.func @item04_fused_x_quant_nvfp4(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op does not support x_quant = #moe.quant<nvfp4, block = [1, 16]> (a per-call global scale of the activations)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 4: unsupported combination: clamped_swiglu without its limit.
func.func @item04_clamped_swiglu_without_limit(%h: tensor<?x256xbf16>) {
  // expected-error @+1 {{'moe.activation' op expects alpha and limit for clamped_swiglu}}
  %a = moe.activation clamped_swiglu(interleaved) %h {alpha = 1.702 : f32} : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// Item 4: unsupported combination: a [128, 128] block on token rows.
func.func @item04_x_quant_2d_block(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects a [1, 128] block for x_quant (its rows are tokens), got #moe.quant<fp8_block, block = [128, 128]>}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 4: unsupported combination: an FP8 accumulator type.
func.func @item04_fp8_gemm1_type(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects gemm1_type element type f32 or bf16 (quantize explicitly with moe.quantize), got 'f8E4M3FN'}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f8E4M3FN, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 7: output-shape drift: the result must be [T, H] of the inputs.
func.func @item07_result_shape(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects out of shape [T, H] = [?, 256], got [?, 128]}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x128xbf16>
  return
}

// -----

// Item 7: output-shape drift: the combine's output hidden size.
func.func @item07_combine_result_shape(%rows: tensor<?x256xbf16>, %slots: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.combine' op expects out of shape [T, H] = [?, 256], got [?, 512]}}
  %out = moe.combine %rows, %slots : (tensor<?x256xbf16>, tensor<?x2xi32>) -> tensor<?x512xbf16>
  return
}

// -----

// Item 8: sizes not a multiple of the block: a precise rejection for quantised K.
func.func @item08_k_not_multiple_of_block(%x: tensor<?x200xbf16>, %w: tensor<8x256x200xf8E4M3FN>, %ws: tensor<8x2x2xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects the last dimension of weight (200) to be a multiple of the block (128) of w_quant}}
  %h = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x200xbf16>, tensor<8x256x200xf8E4M3FN>, tensor<9xi32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 8: sizes not a multiple of the block: H = 2880 (gpt-oss) against a 128 block of x_quant.
func.func @item08_h2880_x_block(%x: tensor<?x2880xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x2880xbf16>, %w2: tensor<8x2880x128xbf16>) {
  // expected-error @+1 {{'moe.fused_moe' op expects H (2880) to be a multiple of the block of x_quant (128)}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x2880xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x2880xbf16>, tensor<8x2880x128xbf16>) -> tensor<?x2880xbf16>
  return
}

// -----

// Item 9: group offsets must be a static [E+1] i32 prefix table.
func.func @item09_offsets_dynamic(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xbf16>, %offsets: tensor<?xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects offsets of static shape [E+1], got 'tensor<?xi32>'}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<?xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 9: group offsets of the wrong length ([E] instead of [E+1]).
func.func @item09_offsets_length(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xbf16>, %offsets: tensor<8xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects offsets of shape [E+1] = [9], got 'tensor<8xi32>'}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<8xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 9: group offsets of a wider type (they are i32 by definition).
func.func @item09_offsets_i64(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xbf16>, %offsets: tensor<9xi64>) {
  // expected-error @+1 {{'moe.expert_matmul' op operand #2 must be ranked tensor of 32-bit signless integer values, but got 'tensor<9xi64>'}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi64>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 10: degenerate dims: top_k = 0.
func.func @item10_top_k_zero(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op attribute 'top_k' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %ids, %w = moe.route softmax %logits {top_k = 0 : i64} : (tensor<?x8xf32>) -> (tensor<?x0xi32>, tensor<?x0xf32>)
  return
}

// -----

// Item 10: degenerate dims: top_k > num_experts (top_k = E is accepted: checklist-runtime.mlir).
func.func @item10_top_k_above_experts(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op expects top_k (9) <= the number of experts E (8)}}
  %ids, %w = moe.route softmax %logits {top_k = 9 : i64} : (tensor<?x8xf32>) -> (tensor<?x9xi32>, tensor<?x9xf32>)
  return
}

// -----

// Item 11: sizes crossing int32: E + 1 offsets do not fit i32.
func.func @item11_num_experts_int32(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects num_experts < 2^31 - 1 (offsets are i32), got 2147483647}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 2147483647 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// Item 11: sizes crossing int32: M = T*K rows (the first overflowing row is
// 2^31: T = 2^28, K = 8) cannot be indexed by the i32 slot map.
func.func @item11_rows_int32(%x: tensor<268435456x256xbf16>, %ids: tensor<268435456x8xi32>, %w: tensor<268435456x8xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects T*K rows to fit i32 row indices (slot_map and offsets are i32), got T = 268435456, K = 8}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<268435456x256xbf16>, tensor<268435456x8xi32>, tensor<268435456x8xf32> -> tensor<2147483648x256xbf16>, tensor<9xi32>, tensor<268435456x8xi32>, tensor<2147483648xf32>
  return
}

// -----

// Item 12: huge top_k and expert counts: E = 257 does not split into 8 groups.
func.func @item12_e257_groups(%logits: tensor<?x257xf32>) {
  // expected-error @+1 {{'moe.route' op expects E (257) to be divisible by num_groups (8)}}
  %ids, %w = moe.route sigmoid %logits {top_k = 9 : i64, num_groups = 8 : i64, topk_groups = 4 : i64} : (tensor<?x257xf32>) -> (tensor<?x9xi32>, tensor<?x9xf32>)
  return
}

// -----

// Item 12: E not divisible by the EP size.
func.func @item12_e_not_divisible_by_ep(%x: tensor<?x256xbf16>, %ids: tensor<?x16xi32>, %w: tensor<?x16xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects E (129) to be divisible by the ranks (8) of #moe.placement<ranks = 8, experts_per_rank = 16>}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 129 : i64, placement = #moe.placement<ranks = 8, experts_per_rank = 16>} : tensor<?x256xbf16>, tensor<?x16xi32>, tensor<?x16xf32> -> tensor<?x256xbf16>, tensor<130xi32>, tensor<?x16xi32>, tensor<?xf32>
  return
}

// -----

// Item 12: top_k = 32 needs 32 experts in the kept groups.
func.func @item12_top_k_32_kept_groups(%logits: tensor<?x256xf32>) {
  // expected-error @+1 {{'moe.route' op expects top_k (32) <= the experts in the kept groups, topk_groups * E / num_groups = 16}}
  %ids, %w = moe.route sigmoid %logits {top_k = 32 : i64, num_groups = 16 : i64, topk_groups = 1 : i64} : (tensor<?x256xf32>) -> (tensor<?x32xi32>, tensor<?x32xf32>)
  return
}

// -----

// Item 13: non-contiguous / strided inputs: IR tensors are dense and
// row-major; a layout encoding on a tensor is rejected, not ignored (the
// runtime checks strides of the real buffers: lib/Runtime).
func.func @item13_strided_x(%x: tensor<?x4xf32, "strided">, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects operand #0 without a tensor encoding (moe tensors are dense and row-major), got 'tensor<?x4xf32, "strided">'}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<?x4xf32, "strided">, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x4xf32>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// Item 13: a transposed-weight layout annotation on an expert weight.
func.func @item13_transposed_weight(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xbf16, #moe<gate_up_layout interleaved>>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects operand #1 without a tensor encoding (moe tensors are dense and row-major), got 'tensor<8x256x256xbf16, #moe<gate_up_layout interleaved>>'}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16, #moe<gate_up_layout interleaved>>, tensor<9xi32>) -> tensor<?x256xbf16>
  return
}

// -----

// Item 19: wrong index dtype: i16 expert ids.
func.func @item19_i16_ids(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi16>, %w: tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.dispatch' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<?x2xi16>'}}
  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi16>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  return
}

// -----

// Item 19: wrong index dtype: float expert ids from the router.
func.func @item19_float_ids(%logits: tensor<?x8xf32>) {
  // expected-error @+1 {{'moe.route' op result #0 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<?x2xf32>'}}
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>)
  return
}

// -----

// Item 19: wrong index dtype: a slot map of i64 (rows are indexed by i32).
func.func @item19_i64_slot_map(%rows: tensor<?x256xbf16>, %slots: tensor<?x2xi64>) {
  // expected-error @+1 {{'moe.combine' op operand #1 must be ranked tensor of 32-bit signless integer values, but got 'tensor<?x2xi64>'}}
  %out = moe.combine %rows, %slots : (tensor<?x256xbf16>, tensor<?x2xi64>) -> tensor<?x256xbf16>
  return
}
