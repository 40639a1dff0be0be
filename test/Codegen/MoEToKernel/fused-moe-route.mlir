// Routing inside the fused kernel (convert-moe-to-moek's fuse-routing, on by
// default): when a moe.route computes the layer's ids and weights and
// nothing else reads them, the kernel takes the router logits (launch
// operand 1) and the route's bias (operand 2, if any; without one the
// operands after it move down by one) instead. At its start every warp
// routes its tokens (moek.route) into two buffers appended to the
// workspace, then a grid barrier on its own counter (byte 16 of the zeroed
// first 64); the dispatch and the combine read those buffers (an
// expert-parallel rank's too: it routes its own tokens before the
// exchange). Routing whose ids or weights have other uses stays outside
// with a remark; fuse-routing=false keeps it outside.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="fuse-routing=false" 2>/dev/null | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a" 2>/dev/null | FileCheck %s --check-prefix=SM100
// The PTX and ptxas for both chips: fused-moe-route-ptx.mlir.

// DeepSeek-V3's routing (sigmoid, a selection bias, 8 groups of which 4 are
// kept, renormalized, times 2.5).
// CHECK-LABEL: func.func @dsv3
// CHECK-NOT:     moe.route
// CHECK:         moek.launch @moe_kernels::@dsv3_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4) : (tensor<?x256xbf16>, tensor<?x16xf32>, tensor<16xf32>, tensor<16x256x256xbf16>, tensor<16x256x128xbf16>)
// CHECK:       llvm.func @dsv3_fused_moe_0(
// CHECK-SAME:    kind = "tma", operand = 3 : i64
// CHECK-SAME:    {kind = "ptr", operand = 0 : i64}, {kind = "ptr", operand = 1 : i64}, {kind = "ptr", operand = 2 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}, {kind = "token_count"}
// The workspace grows by the ids and weights (2 x 4096 x 4 x 4 bytes).
// CHECK-SAME:    moek.workspace = {bytes = 21234688 : i64, max_tokens = 4096 : i64
// CHECK:         %[[IDS:.+]] = llvm.getelementptr %[[WS:arg[0-9]+]][%{{.+}}]
// CHECK:         %[[W:.+]] = llvm.getelementptr %[[WS]][%{{.+}}]
// CHECK:         moek.route %arg6 bias(%arg7) ids(%[[IDS]]) weights(%[[W]]) tokens(%{{.+}}) {logits_type = f32, num_experts = 16 : i64, num_groups = 8 : i64, renormalize, routed_scaling_factor = 2.500000e+00 : f32, scoring = "sigmoid", top_k = 4 : i64, topk_groups = 4 : i64}
// CHECK:         %[[C16:.+]] = llvm.mlir.constant(16 : i64)
// CHECK:         %[[CTR:.+]] = llvm.getelementptr %[[WS]][%[[C16]]]
// CHECK:         moek.grid_barrier %[[CTR]] phase(1) id(0) threads(384)
// CHECK:         moek.dispatch %arg5, %[[IDS]], %[[W]] tokens
// OFF-LABEL: func.func @dsv3
// OFF:         moe.route sigmoid
// OFF:         moek.launch @moe_kernels::@dsv3_fused_moe_0(%arg0, %ids, %weights, %arg3, %arg4)
// OFF-NOT:     moek.route
// SM100-LABEL: func.func @dsv3
// SM100:         moek.launch @moe_kernels::@dsv3_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4)
// SM100:         moek.route %arg{{[0-9]+}} bias(%arg{{[0-9]+}})
func.func @dsv3(%x: tensor<?x256xbf16>, %logits: tensor<?x16xf32>, %rb: tensor<16xf32>, %w13: tensor<16x256x256xbf16>, %w2: tensor<16x256x128xbf16>) -> tensor<?x256xbf16> {
  %ids, %w = moe.route sigmoid %logits bias(%rb) {top_k = 4 : i64, num_groups = 8 : i64, topk_groups = 4 : i64, renormalize, routed_scaling_factor = 2.5 : f32} : (tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x4xi32>, tensor<?x4xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<16x256x256xbf16>, tensor<16x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Qwen3's routing (softmax, renormalized; bf16 logits) on the FP8 kernel:
// no bias, so the weights' scales and everything after the logits move
// down by one operand, and the kernel has one parameter fewer.
// CHECK-LABEL: func.func @qwen3_fp8
// CHECK:         moek.launch @moe_kernels::@qwen3_fp8_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5) : (tensor<?x256xbf16>, tensor<?x8xbf16>, tensor<8x256x256xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<8x2x2xf32>, tensor<8x2x1xf32>)
// The kernel's parameters: 5 TMA descriptors, x, the logits, the two
// weight scales, out, the workspace, T (12: the weights' pointer is gone).
// CHECK:       llvm.func @qwen3_fp8_fused_moe_0(
// CHECK-SAME:    %arg10: !llvm.ptr<1>, %arg11: i32)
// CHECK-SAME:    kind = "tma", operand = 2 : i64
// CHECK-SAME:    {kind = "ptr", operand = 0 : i64}, {kind = "ptr", operand = 1 : i64}, {kind = "ptr", operand = 4 : i64}, {kind = "ptr", operand = 5 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}, {kind = "token_count"}
// CHECK:         moek.route %arg{{[0-9]+}} ids(%{{.+}}) weights(%{{.+}}) tokens(%{{.+}}) {logits_type = bf16, num_experts = 8 : i64, renormalize, scoring = "softmax", top_k = 2 : i64}
// CHECK:         moek.grid_barrier %{{.+}} phase(1) id(0) threads(384)
func.func @qwen3_fp8(%x: tensor<?x256xbf16>, %logits: tensor<?x8xbf16>, %w13: tensor<8x256x256xf8E4M3FN>, %w2: tensor<8x256x128xf8E4M3FN>, %w13s: tensor<8x2x2xf32>, %w2s: tensor<8x2x1xf32>) -> tensor<?x256xbf16> {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, renormalize} : (tensor<?x8xbf16>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, x_quant = #moe.quant<fp8_block, block = [1, 128]>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, act_quant = #moe.quant<fp8_block, block = [1, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xf8E4M3FN>, tensor<8x256x128xf8E4M3FN>, tensor<8x2x2xf32>, tensor<8x2x1xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// The ids are also a result: the routing stays outside.
// CHECK-LABEL: func.func @ids_returned
// CHECK:         moe.route softmax
// CHECK:         moek.launch @moe_kernels::@ids_returned_fused_moe_0(%arg0, %ids, %weights, %arg2, %arg3)
func.func @ids_returned(%x: tensor<?x256xbf16>, %logits: tensor<?x8xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> (tensor<?x256xbf16>, tensor<?x2xi32>) {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  // expected-remark @+1 {{convert-moe-to-moek: the routing stays outside the kernel: its ids or weights have other uses}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return %out, %ids : tensor<?x256xbf16>, tensor<?x2xi32>
}

// -----

// An expert-parallel layer (the per-rank form): each rank routes its own
// tokens over every rank's experts (the logits' 8 columns; this rank holds
// 4) in its kernel, before the exchange (moek.ep_dispatch reads the ids it
// wrote).
// CHECK-LABEL: func.func @per_rank
// CHECK-NOT:     moe.route
// CHECK:         moek.launch @moe_kernels::@per_rank_fused_moe_0(%arg0, %arg1, %arg2, %arg3)
// CHECK:         moek.route %arg{{[0-9]+}} ids(%[[IDS:.+]]) weights(%[[W:.+]]) tokens(%{{.+}}) {logits_type = f32, num_experts = 8 : i64, scoring = "softmax", top_k = 2 : i64}
// CHECK:         moek.grid_barrier %{{.+}} phase(1) id(0) threads(384)
// CHECK:         moek.ep_dispatch %arg{{[0-9]+}}, %[[IDS]], %[[W]] tokens
func.func @per_rank(%x: tensor<?x256xbf16>, %logits: tensor<?x8xf32>, %w13: tensor<4x256x256xbf16>, %w2: tensor<4x256x128xbf16>) -> tensor<?x256xbf16> {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, placement = #moe.placement<ranks = 2, experts_per_rank = 4>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x256x256xbf16>, tensor<4x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// i64 ids (vLLM's): the kernel takes i32 topk_ids, but with the routing
// inside it the ids are its own (i32 in its workspace), so the layer is
// lowered; with fuse-routing=false it is not.
// CHECK-LABEL: func.func @i64_ids
// CHECK:         moek.launch @moe_kernels::@i64_ids_fused_moe_0(%arg0, %arg1, %arg2, %arg3)
// CHECK:       llvm.func @i64_ids_fused_moe_0({{.*}}, %arg8: !llvm.ptr<1>, %arg9: i32)
// OFF-LABEL: func.func @i64_ids
// OFF:         moe.fused_moe
func.func @i64_ids(%x: tensor<?x256xbf16>, %logits: tensor<?x8xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<?x8xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x2xi64>, tensor<?x2xf32>, tensor<8x256x256xbf16>, tensor<8x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// More experts than moek.route takes (1024): the routing stays outside.
// CHECK-LABEL: func.func @many_experts
// CHECK:         moe.route softmax
// CHECK:         moek.launch @moe_kernels::@many_experts_fused_moe_0(%arg0, %ids, %weights, %arg2, %arg3)
func.func @many_experts(%x: tensor<?x128xbf16>, %logits: tensor<?x2048xf32>, %w13: tensor<2048x256x128xbf16>, %w2: tensor<2048x128x128xbf16>) -> tensor<?x128xbf16> {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64} : (tensor<?x2048xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  // expected-remark @+1 {{convert-moe-to-moek: the routing stays outside the kernel: moek.route takes at most 1024 experts and top_k and num_groups of at most 32; this route has 2048, 2 and 1}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x128xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<2048x256x128xbf16>, tensor<2048x128x128xbf16>) -> tensor<?x128xbf16>
  return %out : tensor<?x128xbf16>
}

// -----

// A shared expert (moe.route shared_experts = 1): every token has 2 routed
// slots and a third naming expert 8 with the weight 0.5; the kernel's
// route writes all three, and its dispatch and combine take 3 slots a token
// over the 9 experts. The workspace grows by 2 x 4096 x 3 x 4 bytes (15827968
// without the route in it).
// CHECK-LABEL: func.func @shared_expert
// CHECK:         moek.launch @moe_kernels::@shared_expert_fused_moe_0(%arg0, %arg1, %arg2, %arg3) : (tensor<?x256xbf16>, tensor<?x8xf32>, tensor<9x256x256xbf16>, tensor<9x256x128xbf16>)
// CHECK:       llvm.func @shared_expert_fused_moe_0(
// CHECK-SAME:    moek.workspace = {bytes = 15926272 : i64
// CHECK:         moek.route %arg6 ids(%[[IDS:.+]]) weights(%[[W:.+]]) tokens(%{{.+}}) {logits_type = f32, num_experts = 8 : i64, renormalize, scoring = "softmax", shared_experts = 1 : i64, shared_weight = 5.000000e-01 : f32, top_k = 2 : i64}
// CHECK:         moek.dispatch %arg5, %[[IDS]], %[[W]] {{.*}} {hidden = 256 : i64, num_experts = 9 : i64, phase = 1 : i64, top_k = 3 : i64}
// CHECK:         moek.combine {{.*}} top_k = 3 : i64
// OFF-LABEL: func.func @shared_expert
// OFF:         moe.route softmax %arg1 {renormalize, shared_experts = 1 : i64
// OFF:         moek.workspace = {bytes = 15827968 : i64
func.func @shared_expert(%x: tensor<?x256xbf16>, %logits: tensor<?x8xf32>, %w13: tensor<9x256x256xbf16>, %w2: tensor<9x256x128xbf16>) -> tensor<?x256xbf16> {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, renormalize, shared_experts = 1 : i64, shared_weight = 0.5 : f32} : (tensor<?x8xf32>) -> (tensor<?x3xi32>, tensor<?x3xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x3xi32>, tensor<?x3xf32>, tensor<9x256x256xbf16>, tensor<9x256x128xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
