// RUN: moe-opt %s -verify-diagnostics | moe-opt | FileCheck %s
// The legal side of checklist items 10-12 (users.md §3.2): edge sizes that
// must verify (and print and parse back), next to the rejections of
// compile-time.mlir.

// Item 10: top_k = 1 and top_k = E verify.
// CHECK-LABEL: func.func @item10_top_k_one_and_all
func.func @item10_top_k_one_and_all(%logits: tensor<?x8xf32>) {
  %i1, %w1 = moe.route softmax %logits {top_k = 1 : i64} : (tensor<?x8xf32>) -> (tensor<?x1xi32>, tensor<?x1xf32>)
  %i8, %w8 = moe.route softmax %logits {top_k = 8 : i64, renormalize} : (tensor<?x8xf32>) -> (tensor<?x8xi32>, tensor<?x8xf32>)
  return
}

// Item 10: zero tokens as a static size verify.
// CHECK-LABEL: func.func @item10_zero_tokens
func.func @item10_zero_tokens(%x: tensor<0x256xbf16>, %ids: tensor<0x2xi32>, %w: tensor<0x2xf32>) {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<0x256xbf16>, tensor<0x2xi32>, tensor<0x2xf32> -> tensor<0x256xbf16>, tensor<9xi32>, tensor<0x2xi32>, tensor<0xf32>
  return
}

// Item 11: one slot below the i32 row bound (T*K = 2^31 - 8) verifies.
// CHECK-LABEL: func.func @item11_rows_just_fit
func.func @item11_rows_just_fit(%x: tensor<268435455x256xbf16>, %ids: tensor<268435455x8xi32>, %w: tensor<268435455x8xf32>) {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : tensor<268435455x256xbf16>, tensor<268435455x8xi32>, tensor<268435455x8xf32> -> tensor<2147483640x256xbf16>, tensor<9xi32>, tensor<268435455x8xi32>, tensor<2147483640xf32>
  return
}

// Item 12: E = 2048 with top_k = 32, E = 384 over 8 EP ranks, E = 257 ungrouped.
// CHECK-LABEL: func.func @item12_large_e_and_k
func.func @item12_large_e_and_k(%l2048: tensor<?x2048xf32>, %l257: tensor<?x257xf32>, %x: tensor<?x256xbf16>, %ids: tensor<?x32xi32>, %w: tensor<?x32xf32>) {
  %a, %b = moe.route sigmoid %l2048 {top_k = 32 : i64, num_groups = 8 : i64, topk_groups = 4 : i64} : (tensor<?x2048xf32>) -> (tensor<?x32xi32>, tensor<?x32xf32>)
  %c, %d = moe.route softmax %l257 {top_k = 16 : i64} : (tensor<?x257xf32>) -> (tensor<?x16xi64>, tensor<?x16xf32>)
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 384 : i64, placement = #moe.placement<ranks = 8, experts_per_rank = 48>} : tensor<?x256xbf16>, tensor<?x32xi32>, tensor<?x32xf32> -> tensor<?x256xbf16>, tensor<385xi32>, tensor<?x32xi32>, tensor<?xf32>
  return
}
