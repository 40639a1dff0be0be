// Items 8, 9, 10 and 12 of the bad-input checklist (users.md §3.2), in the
// reference evaluator: odd sizes give a result, bad group offsets are
// clamped (never read out of bounds), degenerate and large-but-legal
// routing shapes run.
// RUN: rm -rf %t && mkdir -p %t

// Item 8: sizes that are not a multiple of any tile (H = 7, I = 5, E = 3,
// T = 7 and T = 65): a finite result.
// RUN: moe-run %s --entry=odd_sizes --tokens=7 | FileCheck %s --check-prefix=ITEM8
// RUN: moe-run %s --entry=odd_sizes --tokens=65 | FileCheck %s --check-prefix=ITEM8-65
// ITEM8: result 0: bf16 [7, 7]  finite 49/49
// ITEM8-65: result 0: bf16 [65, 7]  finite 455/455

// Item 9: group offsets that are not a prefix sum (decreasing, past M,
// negative, offs[-1] < M with a garbage tail): clamped to [0, M]; rows of
// no expert are zero. M = 4 rows, E = 2.
// RUN: %python %S/Inputs/npy.py write %t/rows.npy f4 4x4 1
// RUN: %python %S/Inputs/npy.py write %t/off-bad.npy i4 3 3,-7,1000
// RUN: moe-run %s --entry=grouped --input=0=%t/rows.npy --input=1=%t/off-bad.npy --output-dir=%t/o9
// RUN: %python %S/Inputs/npy.py print %t/o9/result0.npy | FileCheck %s --check-prefix=ITEM9
// ITEM9: <f4 4x2 {{([-0-9.e+]+ ){7}[-0-9.e+]+$}}
// RUN: %python %S/Inputs/npy.py write %t/off-short.npy i4 3 0,1,2
// RUN: moe-run %s --entry=grouped --input=0=%t/rows.npy --input=1=%t/off-short.npy --output-dir=%t/o9s
// RUN: %python %S/Inputs/npy.py print %t/o9s/result0.npy | FileCheck %s --check-prefix=ITEM9-TAIL
// ITEM9-TAIL: <f4 4x2 {{[^ ]+ [^ ]+ [^ ]+ [^ ]+}} 0.0 0.0 0.0 0.0
// RUN: %python %S/Inputs/npy.py write %t/off-wrong.npy i4 2 0,4
// RUN: not moe-run %s --entry=grouped --input=0=%t/rows.npy --input=1=%t/off-wrong.npy 2>&1 | FileCheck %s --check-prefix=ITEM9-SHAPE
// ITEM9-SHAPE: moe-run: error: argument #1: {{.*}}

// Item 10: zero tokens (a [0, H] input), one token, top_k = 1 and
// top_k = E.
// RUN: %python %S/Inputs/npy.py write %t/x0.npy f4 0x4 ""
// RUN: moe-run %s --entry=route_layer_k1 --input=0=%t/x0.npy | FileCheck %s --check-prefix=ITEM10-T0
// ITEM10-T0: result 0: f32 [0, 4]  finite 0/0
// RUN: moe-run %s --entry=route_layer_k1 --tokens=1 | FileCheck %s --check-prefix=ITEM10-T1
// ITEM10-T1: result 0: f32 [1, 4]  finite 4/4
// RUN: moe-run %s --entry=route_layer_ke --tokens=3 | FileCheck %s --check-prefix=ITEM10-KE
// ITEM10-KE: result 0: f32 [3, 4]  finite 12/12

// Item 11: sizes crossing int32 at run time (dynamic T): the first
// overflowing row, T*K = 2^31 (T = 2^30, K = 2), is a clear error before
// anything of that size is allocated.
// RUN: not moe-run %s --entry=rows_int32 --tokens=1073741824 2>&1 | FileCheck %s --check-prefix=ITEM11
// ITEM11: dispatch: T*K rows (T = 1073741824, K = 2) do not fit i32 row indices (slot_map is i32)

// Item 12: top_k = 9 and 16 over E = 33 and E = 257 (grouped, DeepSeek-style
// with 257 = 1 group): the route runs and every id is in range.
// RUN: moe-run %s --entry=route_e33_k9 --tokens=5 | FileCheck %s --check-prefix=ITEM12
// RUN: moe-run %s --entry=route_e257_k16 --tokens=5 | FileCheck %s --check-prefix=ITEM12-257
// ITEM12: result 0: f32 [5, 4]  finite 20/20
// ITEM12-257: result 0: f32 [5, 4]  finite 20/20

func.func @odd_sizes(%x: tensor<?x7xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<3x10x7xbf16>, %w2: tensor<3x7x5xbf16>) -> tensor<?x7xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x7xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<3x10x7xbf16>, tensor<3x7x5xbf16>) -> tensor<?x7xbf16>
  return %out : tensor<?x7xbf16>
}

func.func @grouped(%rows: tensor<4x4xf32>, %offsets: tensor<3xi32>, %w: tensor<2x2x4xf32>) -> tensor<4x2xf32> {
  %y = moe.expert_matmul %rows, %w, %offsets : (tensor<4x4xf32>, tensor<2x2x4xf32>, tensor<3xi32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

func.func @route_layer_k1(%x: tensor<?x4xf32>, %wg: tensor<8x4xf32>, %w13: tensor<8x8x4xf32>, %w2: tensor<8x4x4xf32>) -> tensor<?x4xf32> {
  %logits = moe.gate %x, %wg : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
  %ids, %w = moe.route softmax %logits {top_k = 1 : i64} : (tensor<?x8xf32>) -> (tensor<?x1xi32>, tensor<?x1xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<?x4xf32>, tensor<?x1xi32>, tensor<?x1xf32>, tensor<8x8x4xf32>, tensor<8x4x4xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

func.func @route_layer_ke(%x: tensor<?x4xf32>, %wg: tensor<8x4xf32>, %w13: tensor<8x8x4xf32>, %w2: tensor<8x4x4xf32>) -> tensor<?x4xf32> {
  %logits = moe.gate %x, %wg : tensor<?x4xf32>, tensor<8x4xf32> -> tensor<?x8xf32>
  %ids, %w = moe.route softmax %logits {top_k = 8 : i64, renormalize} : (tensor<?x8xf32>) -> (tensor<?x8xi32>, tensor<?x8xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<?x4xf32>, tensor<?x8xi32>, tensor<?x8xf32>, tensor<8x8x4xf32>, tensor<8x4x4xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

func.func @route_e33_k9(%x: tensor<?x4xf32>, %wg: tensor<33x4xf32>, %w13: tensor<33x8x4xf32>, %w2: tensor<33x4x4xf32>) -> tensor<?x4xf32> {
  %logits = moe.gate %x, %wg : tensor<?x4xf32>, tensor<33x4xf32> -> tensor<?x33xf32>
  %ids, %w = moe.route sigmoid %logits {top_k = 9 : i64, num_groups = 3 : i64, topk_groups = 2 : i64, renormalize, routed_scaling_factor = 2.5 : f32} : (tensor<?x33xf32>) -> (tensor<?x9xi32>, tensor<?x9xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<?x4xf32>, tensor<?x9xi32>, tensor<?x9xf32>, tensor<33x8x4xf32>, tensor<33x4x4xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

func.func @route_e257_k16(%x: tensor<?x4xf32>, %wg: tensor<257x4xf32>, %w13: tensor<257x8x4xf32>, %w2: tensor<257x4x4xf32>) -> tensor<?x4xf32> {
  %logits = moe.gate %x, %wg : tensor<?x4xf32>, tensor<257x4xf32> -> tensor<?x257xf32>
  %ids, %w = moe.route sigmoid %logits {top_k = 16 : i64, renormalize} : (tensor<?x257xf32>) -> (tensor<?x16xi64>, tensor<?x16xf32>)
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<?x4xf32>, tensor<?x16xi64>, tensor<?x16xf32>, tensor<257x8x4xf32>, tensor<257x4x4xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

func.func @rows_int32(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x4xf32>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  %out = moe.combine %rows, %slots weights(%w) : (tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}
