// RUN: moe-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// moek.route (routing inside a fused kernel) round-trips; its verifier
// rejects what its lowering cannot do: more than 1024 experts (32 a lane),
// top_k or num_groups above 32, groups of unequal size, kept groups that
// hold fewer than top_k experts, an unknown scoring, f64 logits, a
// negative number of shared experts.

// CHECK-LABEL: func.func @deepseek
// CHECK: moek.route %arg0 bias(%arg1) ids(%arg2) weights(%arg3) tokens(%arg4) {logits_type = f32, num_experts = 256 : i64, num_groups = 8 : i64, renormalize, routed_scaling_factor = 2.500000e+00 : f32, scoring = "sigmoid", top_k = 8 : i64, topk_groups = 4 : i64}
func.func @deepseek(%logits: !llvm.ptr<1>, %bias: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  moek.route %logits bias(%bias) ids(%ids) weights(%w) tokens(%t) {num_experts = 256 : i64, top_k = 8 : i64, num_groups = 8 : i64, topk_groups = 4 : i64, scoring = "sigmoid", renormalize, routed_scaling_factor = 2.5 : f32, logits_type = f32}
  return
}

// CHECK-LABEL: func.func @shared
// CHECK: moek.route %arg0 ids(%arg1) weights(%arg2) tokens(%arg3) {logits_type = f32, num_experts = 256 : i64, scoring = "sigmoid", shared_experts = 1 : i64, shared_weight = 5.000000e-01 : f32, top_k = 8 : i64}
func.func @shared(%logits: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  moek.route %logits ids(%ids) weights(%w) tokens(%t) {num_experts = 256 : i64, top_k = 8 : i64, scoring = "sigmoid", logits_type = f32, shared_experts = 1 : i64, shared_weight = 0.5 : f32}
  return
}

// CHECK-LABEL: func.func @qwen3
// CHECK: moek.route %arg0 ids(%arg1) weights(%arg2) tokens(%arg3) {logits_type = bf16, num_experts = 128 : i64, renormalize, scoring = "softmax", top_k = 8 : i64}
func.func @qwen3(%logits: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  moek.route %logits ids(%ids) weights(%w) tokens(%t) {num_experts = 128 : i64, top_k = 8 : i64, scoring = "softmax", renormalize, logits_type = bf16}
  return
}

// -----

func.func @too_many_experts(%l: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.route' op expects 1 <= num_experts <= 1024, got 2048}}
  moek.route %l ids(%ids) weights(%w) tokens(%t) {num_experts = 2048 : i64, top_k = 8 : i64, scoring = "softmax", logits_type = f32}
  return
}

// -----

func.func @top_k(%l: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.route' op expects 1 <= top_k <= min(num_experts, 32), got 9}}
  moek.route %l ids(%ids) weights(%w) tokens(%t) {num_experts = 8 : i64, top_k = 9 : i64, scoring = "softmax", logits_type = f32}
  return
}

// -----

func.func @uneven_groups(%l: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.route' op expects num_groups in [1, 32] dividing num_experts (160), got 3}}
  moek.route %l ids(%ids) weights(%w) tokens(%t) {num_experts = 160 : i64, top_k = 6 : i64, num_groups = 3 : i64, topk_groups = 2 : i64, scoring = "softmax", logits_type = f32}
  return
}

// -----

func.func @kept_groups(%l: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.route' op expects 1 <= topk_groups <= num_groups with at least top_k experts in the kept groups, got 1}}
  moek.route %l ids(%ids) weights(%w) tokens(%t) {num_experts = 64 : i64, top_k = 8 : i64, num_groups = 16 : i64, topk_groups = 1 : i64, scoring = "sigmoid", logits_type = f32}
  return
}

// -----

func.func @scoring(%l: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.route' op expects scoring 'softmax' or 'sigmoid', got 'relu'}}
  moek.route %l ids(%ids) weights(%w) tokens(%t) {num_experts = 8 : i64, top_k = 2 : i64, scoring = "relu", logits_type = f32}
  return
}

// -----

func.func @f64_logits(%l: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.route' op expects f32, bf16 or f16 logits, got 'f64'}}
  moek.route %l ids(%ids) weights(%w) tokens(%t) {num_experts = 8 : i64, top_k = 2 : i64, scoring = "softmax", logits_type = f64}
  return
}

// -----

func.func @negative_shared(%l: !llvm.ptr<1>, %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %t: index) {
  // expected-error @+1 {{'moek.route' op expects shared_experts >= 0, got -1}}
  moek.route %l ids(%ids) weights(%w) tokens(%t) {num_experts = 8 : i64, top_k = 2 : i64, scoring = "softmax", logits_type = f32, shared_experts = -1 : i64}
  return
}
