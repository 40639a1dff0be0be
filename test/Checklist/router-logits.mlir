// Item 17 of the bad-input checklist (users.md §3.3): NaN, +-Inf and
// degenerate router logits through moe.route in the reference evaluator.
// Kernels.h: NaN scores lose to every number, ties go to the lower index;
// softmax ignores NaN in the max. Every id stays in [0, E) and every run is
// deterministic. E = 4, K = 2.
// RUN: rm -rf %t && mkdir -p %t
// Rows: all NaN; partial NaN; all negative (one -inf); ties; +inf; all -inf.
// RUN: %python %S/Inputs/npy.py write %t/logits.npy f4 6x4 nan,nan,nan,nan,nan,1,2,nan,-1e30,-5,-3,-inf,1,1,1,1,0,inf,0,inf,-inf,-inf,-inf,-inf
// RUN: moe-run %s --entry=softmax --input=0=%t/logits.npy --output-dir=%t/sm
// RUN: %python %S/Inputs/npy.py print %t/sm/result0.npy | FileCheck %s --check-prefix=SMIDS
// RUN: %python %S/Inputs/npy.py print %t/sm/result1.npy | FileCheck %s --check-prefix=SMW
// Item 17: softmax ids: all-NaN row -> 0 1; partial NaN -> 0 1 (NaN poisons the row); negatives
// -> 2 1; ties -> 0 1; two +inf -> NaN scores, lowest indices; all -inf -> 0 1.
// SMIDS: <i4 6x2 0 1 0 1 2 1 0 1 0 1 0 1
// Item 17: softmax weights: a NaN logit poisons the whole row (documented),
// a finite row renormalises to 1.
// SMW: <f4 6x2 nan nan nan nan 0.8807970881462097 0.11920292675495148 0.5 0.5 nan nan nan nan
// RUN: %python %S/Inputs/npy.py write %t/bias.npy f4 4 0,0,0,100
// RUN: moe-run %s --entry=sigmoid_bias --input=0=%t/logits.npy --input=1=%t/bias.npy --output-dir=%t/sg
// RUN: %python %S/Inputs/npy.py print %t/sg/result0.npy | FileCheck %s --check-prefix=SGIDS
// Item 17: sigmoid with a large bias on expert 3 (tiny scores + large bias):
// the bias decides the selection, NaN scores still lose (NaN + bias is NaN),
// and the weights use the unbiased score.
// SGIDS: <i4 6x2 0 1 2 1 3 2 3 0 3 1 3 0
// RUN: %python %S/Inputs/npy.py print %t/sg/result1.npy | FileCheck %s --check-prefix=SGW
// Item 18 (rows summing to 0): all -inf logits give sigmoid scores 0, whose
// sum is 0: renormalize leaves them 0 (Kernels.h: "if d == 0 the weights
// stay"), no division by zero.
// SGW: <f4 6x2 nan nan 1.3661227226257324 1.1338772773742676 0.0 2.5 1.25 1.25 1.25 1.25 0.0 0.0
// Shared experts (shared_experts = 2, shared_weight = 0.5): after each
// token's two routed slots, experts 4 and 5 with the weight 0.5, whatever
// the logits (NaN rows included); the routed slots are the softmax ones.
// RUN: moe-run %s --entry=shared --input=0=%t/logits.npy --output-dir=%t/sh
// RUN: %python %S/Inputs/npy.py print %t/sh/result0.npy | FileCheck %s --check-prefix=SHIDS
// RUN: %python %S/Inputs/npy.py print %t/sh/result1.npy | FileCheck %s --check-prefix=SHW
// SHIDS: <i8 6x4 0 1 4 5 0 1 4 5 2 1 4 5 0 1 4 5 0 1 4 5 0 1 4 5
// SHW: <f4 6x4 nan nan 0.5 0.5 nan nan 0.5 0.5 0.8807970881462097 0.11920292675495148 0.5 0.5 0.5 0.5 0.5 0.5 nan nan 0.5 0.5 nan nan 0.5 0.5

func.func @shared(%logits: tensor<?x4xf32>) -> (tensor<?x4xi64>, tensor<?x4xf32>) {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, renormalize, shared_experts = 2 : i64, shared_weight = 0.5 : f32} : (tensor<?x4xf32>) -> (tensor<?x4xi64>, tensor<?x4xf32>)
  return %ids, %w : tensor<?x4xi64>, tensor<?x4xf32>
}

func.func @softmax(%logits: tensor<?x4xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  %ids, %w = moe.route softmax %logits {top_k = 2 : i64, renormalize} : (tensor<?x4xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return %ids, %w : tensor<?x2xi32>, tensor<?x2xf32>
}

func.func @sigmoid_bias(%logits: tensor<?x4xf32>, %bias: tensor<4xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  %ids, %w = moe.route sigmoid %logits bias(%bias) {top_k = 2 : i64, renormalize, routed_scaling_factor = 2.5 : f32} : (tensor<?x4xf32>, tensor<4xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>)
  return %ids, %w : tensor<?x2xi32>, tensor<?x2xf32>
}
