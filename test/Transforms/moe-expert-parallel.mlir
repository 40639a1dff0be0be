// RUN: moe-opt %s -split-input-file --moe-expert-parallel -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --moe-expert-parallel | moe-opt -split-input-file | FileCheck %s --check-prefix=VERIFIED
// RUN: not moe-run %s --entry=per_rank --tokens=4 2>&1 | FileCheck %s --check-prefix=EVAL

// moe-expert-parallel: a moe.fused_moe whose placement spreads its experts
// over R > 1 ranks becomes the program of one rank: the weight arguments
// (and their block and global scales) take the rank's E / R experts; the
// tokens, the global expert ids and the result keep their types. The output
// verifies (VERIFIED). The reference evaluator refuses the per-rank form (EVAL).

// CHECK-LABEL: func.func @layer(
// CHECK-SAME:    %{{.+}}: tensor<?x256xbf16>, %{{.+}}: tensor<?x2xi32>, %{{.+}}: tensor<?x2xf32>, %{{.+}}: tensor<4x512x256xbf16>, %{{.+}}: tensor<4x256x256xbf16>) -> tensor<?x256xbf16>
// CHECK:         moe.fused_moe {{.*}}placement = #moe.placement<ranks = 2, experts_per_rank = 4>{{.*}} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x512x256xbf16>, tensor<4x256x256xbf16>) -> tensor<?x256xbf16>
// VERIFIED-LABEL: func.func @layer(
func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x256xbf16>, %w2: tensor<8x256x256xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// FP8: the block scales are split with the weights.
// CHECK-LABEL: func.func @fp8(
// CHECK-SAME:    tensor<2x512x256xf8E4M3FN>, %{{.+}}: tensor<2x256x256xf8E4M3FN>, %{{.+}}: tensor<2x4x2xf32>, %{{.+}}: tensor<2x2x2xf32>)
func.func @fp8(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>, placement = #moe.placement<ranks = 4, experts_per_rank = 2>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// NVFP4: the e4m3 block scales and the f32 global scales per expert ([E])
// are split with the weights.
// CHECK-LABEL: func.func @nvfp4(
// CHECK-SAME:    tensor<4x512x256xf4E2M1FN>, %{{.+}}: tensor<4x256x256xf4E2M1FN>, %{{.+}}: tensor<4x512x16xf8E4M3FN>, %{{.+}}: tensor<4x256x16xf8E4M3FN>, %{{.+}}: tensor<4xf32>, %{{.+}}: tensor<4xf32>)
func.func @nvfp4(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x256xf4E2M1FN>, %w2: tensor<8x256x256xf4E2M1FN>, %w13s: tensor<8x512x16xf8E4M3FN>, %w2s: tensor<8x256x16xf8E4M3FN>, %w13g: tensor<8xf32>, %w2g: tensor<8xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_global_scale(%w13g) w2_global_scale(%w2g) {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, w13_quant = #moe.quant<nvfp4, block = [1, 16]>, w2_quant = #moe.quant<nvfp4, block = [1, 16]>, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf4E2M1FN>, tensor<8x256x256xf4E2M1FN>, tensor<8x512x16xf8E4M3FN>, tensor<8x256x16xf8E4M3FN>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// One rank, or no placement: nothing to split.
// CHECK-LABEL: func.func @one_rank(
// CHECK-SAME:    tensor<8x512x256xbf16>
func.func @one_rank(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x256xbf16>, %w2: tensor<8x256x256xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, placement = #moe.placement<ranks = 1, experts_per_rank = 8>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Already the per-rank form: unchanged (and the evaluator refuses it).
// CHECK-LABEL: func.func @per_rank(
// CHECK-SAME:    tensor<4x512x256xbf16>
func.func @per_rank(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x512x256xbf16>, %w2: tensor<4x256x256xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x512x256xbf16>, tensor<4x256x256xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
// EVAL: moe.fused_moe{{.*}}: the per-rank form of an expert-parallel layer (w13 holds one rank's experts) is not evaluated alone: evaluate the layer before moe-expert-parallel

// -----

// Weights that are not function arguments, or have other uses: left
// unchanged, with a remark.
func.func @weights_used_twice(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x256xbf16>, %w2: tensor<8x256x256xbf16>) -> (tensor<?x256xbf16>, tensor<8x256x256xbf16>) {
  // expected-remark @+1 {{moe-expert-parallel: left unchanged: its weight arguments must have no other use}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>) -> tensor<?x256xbf16>
  return %out, %w2 : tensor<?x256xbf16>, tensor<8x256x256xbf16>
}
// CHECK-LABEL: func.func @weights_used_twice(
// CHECK-SAME:    tensor<8x512x256xbf16>
