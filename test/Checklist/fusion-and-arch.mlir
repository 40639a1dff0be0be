// Items 3 and 5 of the bad-input checklist (users.md §3.1).
// RUN: moe-opt %s --moe-fuse-experts -verify-diagnostics -split-input-file
// Item 5: architecture gating: a chip the code generator does not support
// is rejected by name at compile time, never a silent fallback.
// RUN: not moe-opt --convert-moek-to-nvvm=chip=sm_120a %S/../Dialect/MoEKernel/ops.mlir 2>&1 | FileCheck %s --check-prefix=ITEM5
// ITEM5: error: convert-moek-to-nvvm: chip 'sm_120a' is not supported (supported: sm_90a, sm_100a)

// Item 3: routing-semantics mismatch: the router weight applied twice (on the
// activation and in the combine) is not fused silently; a remark says why.
func.func @item03_router_weight_twice(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h row_weights(%rw) : (tensor<?x256xbf16>, tensor<?xf32>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the router weight is applied twice (in moe.activation and in moe.combine)}}
  %out = moe.combine %y, %slots weights(%w) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// Item 3: the combine weighting with other weights than the router's is not
// fused as "in_combine".
func.func @item03_combine_other_weights(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w_other: tensor<?x2xf32>, %w13: tensor<8x256x256xbf16>, %w2: tensor<8x256x128xbf16>) -> tensor<?x256xbf16> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xbf16>, tensor<9xi32>, tensor<?x2xi32>, tensor<?xf32>
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x256xbf16>, tensor<8x256x256xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  %a = moe.activation swiglu(concat) %h : (tensor<?x256xbf16>) -> tensor<?x128xbf16>
  %y = moe.expert_matmul %a, %w2, %offsets : (tensor<?x128xbf16>, tensor<8x256x128xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  // expected-remark @+1 {{moe-fuse-experts: not fused: the combine's weights are not the weights given to the dispatch}}
  %out = moe.combine %y, %slots weights(%w_other) : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
