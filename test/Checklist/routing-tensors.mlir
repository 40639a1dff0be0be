// Items 14-16, 18 and 19 of the bad-input checklist (users.md §3.3): expert
// ids and router weights that are out of range, masked, duplicated, NaN or
// of either index type reach the reference evaluator (moe-run) through .npy
// inputs; each gives the defined result of include/moe/Reference/Kernels.h
// and nothing reads out of bounds. E = 4, H = 4, K = 2, T = 3.
// x = [[1 1 1 1], [2 2 2 2], [3 3 3 3]].
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/npy.py write %t/x.npy f4 3x4 1,1,1,1,2,2,2,2,3,3,3,3
// RUN: %python %S/Inputs/npy.py write %t/ones.npy f4 3x2 1

// Item 14: expert ids out of range (>= E, negative other than -1, huge stale
// values): the slot is masked (no row, slot_map -1), deterministically.
// RUN: %python %S/Inputs/npy.py write %t/ids14.npy i4 3x2 0,4,-5,2147483647,3,-2147483648
// RUN: moe-run %s --entry=dispatch_combine --input=0=%t/x.npy --input=1=%t/ids14.npy --input=2=%t/ones.npy --output-dir=%t/o14
// RUN: %python %S/Inputs/npy.py print %t/o14/result0.npy | FileCheck %s --check-prefix=ITEM14
// ITEM14: <f4 3x4 1.0 1.0 1.0 1.0 0.0 0.0 0.0 0.0 3.0 3.0 3.0 3.0
// The same with i64 ids at the int64 extremes.
// RUN: %python %S/Inputs/npy.py write %t/ids14l.npy i8 3x2 0,9223372036854775807,-9223372036854775808,4294967296,3,-2
// RUN: moe-run %s --entry=dispatch_combine_i64 --input=0=%t/x.npy --input=1=%t/ids14l.npy --input=2=%t/ones.npy --output-dir=%t/o14l
// RUN: %python %S/Inputs/npy.py print %t/o14l/result0.npy | FileCheck %s --check-prefix=ITEM14
// The fused layer masks them too: token 1 (no valid slot) gets a zero row.
// RUN: moe-run %s --entry=fused --input=0=%t/x.npy --input=1=%t/ids14.npy --input=2=%t/ones.npy --output-dir=%t/o14f
// RUN: %python %S/Inputs/npy.py print %t/o14f/result0.npy | FileCheck %s --check-prefix=ITEM14F
// ITEM14F: <f4 3x4 {{[^ ]+ [^ ]+ [^ ]+ [^ ]+}} 0.0 0.0 0.0 0.0 {{[^ ]+ [^ ]+ [^ ]+ [^ ]+$}}

// Item 15: -1 ("no selection") at random positions and a whole row of -1
// (a padded token): that token's output is a zero row.
// RUN: %python %S/Inputs/npy.py write %t/ids15.npy i4 3x2 -1,0,-1,-1,2,-1
// RUN: moe-run %s --entry=dispatch_combine --input=0=%t/x.npy --input=1=%t/ids15.npy --input=2=%t/ones.npy --output-dir=%t/o15
// RUN: %python %S/Inputs/npy.py print %t/o15/result0.npy | FileCheck %s --check-prefix=ITEM15
// ITEM15: <f4 3x4 1.0 1.0 1.0 1.0 0.0 0.0 0.0 0.0 3.0 3.0 3.0 3.0

// Item 16: duplicate expert ids within a row: each slot is its own row, so a
// duplicated expert counts twice (defined, no uninitialised state).
// RUN: %python %S/Inputs/npy.py write %t/ids16.npy i4 3x2 1,1,0,0,2,3
// RUN: moe-run %s --entry=dispatch_combine --input=0=%t/x.npy --input=1=%t/ids16.npy --input=2=%t/ones.npy --output-dir=%t/o16
// RUN: %python %S/Inputs/npy.py print %t/o16/result0.npy | FileCheck %s --check-prefix=ITEM16
// ITEM16: <f4 3x4 2.0 2.0 2.0 2.0 4.0 4.0 4.0 4.0 6.0 6.0 6.0 6.0
// RUN: moe-run %s --entry=fused --input=0=%t/x.npy --input=1=%t/ids16.npy --input=2=%t/ones.npy --print-hash | FileCheck %s --check-prefix=ITEM16F
// ITEM16F: result 0: f32 [3, 4]  finite 12/12

// Item 18: router-weight edge cases: zeros give a zero row, a NaN weight
// poisons only its own token, unnormalised weights are used as given, and
// weights summing to 0 give 0 (x - x).
// RUN: %python %S/Inputs/npy.py write %t/ids18.npy i4 3x2 0,1,0,1,0,1
// RUN: %python %S/Inputs/npy.py write %t/w18.npy f4 3x2 0,0,nan,1,1,-1
// RUN: moe-run %s --entry=dispatch_combine --input=0=%t/x.npy --input=1=%t/ids18.npy --input=2=%t/w18.npy --output-dir=%t/o18
// RUN: %python %S/Inputs/npy.py print %t/o18/result0.npy | FileCheck %s --check-prefix=ITEM18
// ITEM18: <f4 3x4 0.0 0.0 0.0 0.0 nan nan nan nan 0.0 0.0 0.0 0.0
// RUN: %python %S/Inputs/npy.py write %t/w18b.npy f4 3x2 0.5,3,1e30,1e30,inf,0
// RUN: moe-run %s --entry=dispatch_combine --input=0=%t/x.npy --input=1=%t/ids18.npy --input=2=%t/w18b.npy --output-dir=%t/o18b
// RUN: %python %S/Inputs/npy.py print %t/o18b/result0.npy | FileCheck %s --check-prefix=ITEM18B
// ITEM18B: <f4 3x4 3.5 3.5 3.5 3.5 4.000000060189865e+30 4.000000060189865e+30 4.000000060189865e+30 4.000000060189865e+30 inf inf inf inf

// Item 19: both index types give the same result (i32 and i64 ids).
// RUN: %python %S/Inputs/npy.py write %t/ids19.npy i4 3x2 0,1,2,3,3,2
// RUN: %python %S/Inputs/npy.py write %t/ids19l.npy i8 3x2 0,1,2,3,3,2
// RUN: moe-run %s --entry=dispatch_combine --input=0=%t/x.npy --input=1=%t/ids19.npy --input=2=%t/ones.npy --print-hash | grep hash | sed 's/.*hash//' > %t/h32
// RUN: moe-run %s --entry=dispatch_combine_i64 --input=0=%t/x.npy --input=1=%t/ids19l.npy --input=2=%t/ones.npy --print-hash | grep hash | sed 's/.*hash//' > %t/h64
// RUN: diff %t/h32 %t/h64
// An int64 .npy for i32 ids is converted (Npy.h: I32 takes '<i4' or
// '<i8'), and a value that does not fit i32 is a clear error, never a
// silent truncation.
// RUN: moe-run %s --entry=dispatch_combine --input=0=%t/x.npy --input=1=%t/ids19l.npy --input=2=%t/ones.npy --print-hash | grep hash | sed 's/.*hash//' > %t/h64to32
// RUN: diff %t/h32 %t/h64to32
// RUN: %python %S/Inputs/npy.py write %t/ids19big.npy i8 3x2 0,1,2,4294967296,3,2
// RUN: not moe-run %s --entry=dispatch_combine --input=0=%t/x.npy --input=1=%t/ids19big.npy --input=2=%t/ones.npy 2>&1 | FileCheck %s --check-prefix=ITEM19
// ITEM19: moe-run: error: argument #1: {{.*}}out of range for i32

func.func @dispatch_combine(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x4xf32>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  %out = moe.combine %rows, %slots weights(%w) : (tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

func.func @dispatch_combine_i64(%x: tensor<?x4xf32>, %ids: tensor<?x2xi64>, %w: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<?x4xf32>, tensor<?x2xi64>, tensor<?x2xf32> -> tensor<?x4xf32>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  %out = moe.combine %rows, %slots weights(%w) : (tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

func.func @fused(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<4x8x4xf32>, %w2: tensor<4x4x4xf32>) -> tensor<?x4xf32> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x8x4xf32>, tensor<4x4x4xf32>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}
