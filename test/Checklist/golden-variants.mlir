// Items 2 and 3 of the bad-input checklist (users.md §3.1): a reference
// result per gate/up layout and per routing variant, on inputs small enough
// to check by hand (include/moe/Reference/Kernels.h).
// RUN: rm -rf %t && mkdir -p %t

// Item 2: layout: input row [1, 2, 3, 4]. concat: g = (1, 2), u = (3, 4);
// interleaved: g = (1, 3), u = (2, 4). swiglu = silu(g) * u.
// silu(1) = 0.7310586, silu(2) = 1.7615942, silu(3) = 2.8577223.
// RUN: %python %S/Inputs/npy.py write %t/h.npy f4 1x4 1,2,3,4
// RUN: moe-run %s --entry=concat --input=0=%t/h.npy --output-dir=%t/c
// RUN: %python %S/Inputs/npy.py print %t/c/result0.npy | FileCheck %s --check-prefix=CONCAT
// CONCAT: <f4 1x2 2.19317{{[0-9]*}} 7.04637{{[0-9]*}}
// RUN: moe-run %s --entry=interleaved --input=0=%t/h.npy --output-dir=%t/i
// RUN: %python %S/Inputs/npy.py print %t/i/result0.npy | FileCheck %s --check-prefix=INTERLEAVED
// INTERLEAVED: <f4 1x2 1.46211{{[0-9]*}} 11.4308{{[0-9]*}}

// Item 3: routing variants on logits [0, 0, 0, 0] (softmax 0.25 each), K = 2:
// plain: 0.25 0.25; renormalize: 0.5 0.5; renormalize with
// routed_scaling_factor 2.5 (applied once, here): 1.25 1.25.
// RUN: %python %S/Inputs/npy.py write %t/l.npy f4 1x4 0,0,0,0
// RUN: moe-run %s --entry=routes --input=0=%t/l.npy --output-dir=%t/r
// RUN: %python %S/Inputs/npy.py print %t/r/result0.npy | FileCheck %s --check-prefix=PLAIN
// RUN: %python %S/Inputs/npy.py print %t/r/result1.npy | FileCheck %s --check-prefix=RENORM
// RUN: %python %S/Inputs/npy.py print %t/r/result2.npy | FileCheck %s --check-prefix=SCALED
// PLAIN: <f4 1x2 0.25 0.25
// RENORM: <f4 1x2 0.5 0.5
// SCALED: <f4 1x2 1.25 1.25

// Item 3: the router weight is applied where the IR says, once: fusing the
// before_down chain keeps its value (same hash as the unfused chain).
// RUN: moe-run %s --entry=before_down --tokens=3 --print-hash | grep hash | sed 's/.*hash//' > %t/unfused
// RUN: moe-opt %s --moe-graph-optimization-pipeline | moe-run - --entry=before_down --tokens=3 --print-hash | grep hash | sed 's/.*hash//' > %t/fused
// RUN: diff %t/unfused %t/fused
// RUN: moe-opt %s --moe-graph-optimization-pipeline | FileCheck %s --check-prefix=FUSED
// FUSED: moe.fused_moe {{.*}}router_weight = #moe<router_weight before_down>

func.func @concat(%h: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %a = moe.activation swiglu(concat) %h : (tensor<1x4xf32>) -> tensor<1x2xf32>
  return %a : tensor<1x2xf32>
}

func.func @interleaved(%h: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %a = moe.activation swiglu(interleaved) %h : (tensor<1x4xf32>) -> tensor<1x2xf32>
  return %a : tensor<1x2xf32>
}

func.func @routes(%l: tensor<1x4xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) {
  %i0, %w0 = moe.route softmax %l {top_k = 2 : i64} : (tensor<1x4xf32>) -> (tensor<1x2xi32>, tensor<1x2xf32>)
  %i1, %w1 = moe.route softmax %l {top_k = 2 : i64, renormalize} : (tensor<1x4xf32>) -> (tensor<1x2xi32>, tensor<1x2xf32>)
  %i2, %w2 = moe.route softmax %l {top_k = 2 : i64, renormalize, routed_scaling_factor = 2.5 : f32} : (tensor<1x4xf32>) -> (tensor<1x2xi32>, tensor<1x2xf32>)
  return %w0, %w1, %w2 : tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>
}

func.func @before_down(%x: tensor<?x8xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x8x8xf32>, %w2: tensor<4x8x4xf32>) -> tensor<?x8xf32> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<?x8xf32>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x8xf32>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x8xf32>, tensor<4x8x8xf32>, tensor<5xi32>) -> tensor<?x8xf32>
  %a = moe.activation swiglu(concat) %h row_weights(%rw) : (tensor<?x8xf32>, tensor<?xf32>) -> tensor<?x4xf32>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x4xf32>, tensor<4x8x4xf32>, tensor<5xi32>) -> tensor<?x8xf32>
  %out = moe.combine %y, %slots : (tensor<?x8xf32>, tensor<?x2xi32>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}
