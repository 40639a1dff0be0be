// moek.route lowered for sm_90a (the same code on sm_100a): one token a
// warp, lane l holding experts l, l + 32, ... Counted per kernel in the
// PTX:
//  * loads: one logit a register (ceil(E / 32): 2 for E = 40, 8 for 256;
//    a lane past E reads expert E - 1, clamped with min.u32 and never
//    held), one bias a register with a selection bias;
//  * butterflies (shfl.sync.bfly): a ranking is 5 steps of 2 shuffles
//    (score, expert), 3 when it carries the unbiased score (the top-k
//    slots); softmax adds a maximum and a sum (5 each). softmax40: 10 +
//    3 x 15 = 55; grouped256 (8 groups, 2 rankings each, top-8): 8 x 2 x
//    10 + 8 x 15 = 280;
//  * ex2.approx: one a register (the exponent of softmax or sigmoid);
//  * the stores of lane 0: K ids and K weights (st.global.b32: 6, 16),
//    each weight multiplied by routed_scaling_factor (2.5 = 0f40200000)
//    after the renormalization; with shared experts (shared2: 2 of them
//    after K = 3) K + 2 of each, the shared slots' ids 40 and 41 and
//    their weight 0.75 (0x3F400000 = 1061158912) written as constants, the row 5 slots
//    long (20 bytes).
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.mlir
// RUN: moe-translate --moe-to-ptx %t.mlir -o %t.ptx
// RUN: awk '/[.]entry/ {n = $NF} /ld[.]global[.]b32/ {l[n]++} /shfl[.]sync[.]bfly/ {s[n]++} /ex2[.]approx/ {x[n]++} /st[.]global[.]b32/ {w[n]++} END {for (k in s) print k, "loads", l[k]+0, "bfly", s[k]+0, "ex2", x[k]+0, "stores", w[k]+0}' %t.ptx | sort | FileCheck %s --check-prefix=COUNTS
// RUN: FileCheck %s --input-file=%t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %s | moe-translate --moe-to-ptx --chip=sm_100a -o %t.sm100.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a %t.sm100.ptx -o %t.sm100.cubin %}

// COUNTS: grouped256( loads 16 bfly 280 ex2 8 stores 16
// COUNTS: shared2( loads 2 bfly 55 ex2 2 stores 10
// COUNTS: softmax40( loads 2 bfly 55 ex2 2 stores 6

// CHECK-LABEL: .entry grouped256(
// CHECK:         mov.u32 {{.*}}, %tid.x;
// CHECK:         shfl.sync.bfly.b32
// CHECK:         mul.{{.*}}f32 {{.*}}, 0f40200000;
// CHECK-LABEL: .entry softmax40(
// CHECK:         min.u32 {{.*}}, 39;
// CHECK:         max.f32
// CHECK:         ex2.approx.f32
// CHECK-LABEL: .entry shared2(
// CHECK-DAG:     st.global.b32 [{{.*}}], 40;
// CHECK-DAG:     st.global.b32 [{{.*}}], 41;
// CHECK-DAG:     st.global.b32 [{{.*}}], 1061158912;
// CHECK-DAG:     mul.wide.{{[su]}}32 {{.*}}, 20;

// PTXAS-DAG: Compiling entry function 'grouped256' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'softmax40' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'shared2' for 'sm_90a'

gpu.module @kernels {
  llvm.func @grouped256(%logits: !llvm.ptr<1>, %bias: !llvm.ptr<1>,
                        %ids: !llvm.ptr<1>, %w: !llvm.ptr<1>, %n: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %t = arith.index_cast %n : i32 to index
    moek.route %logits bias(%bias) ids(%ids) weights(%w) tokens(%t) {num_experts = 256 : i64, top_k = 8 : i64, num_groups = 8 : i64, topk_groups = 4 : i64, scoring = "sigmoid", renormalize, routed_scaling_factor = 2.5 : f32, logits_type = f32}
    llvm.return
  }
  llvm.func @softmax40(%logits: !llvm.ptr<1>, %ids: !llvm.ptr<1>,
                       %w: !llvm.ptr<1>, %n: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %t = arith.index_cast %n : i32 to index
    moek.route %logits ids(%ids) weights(%w) tokens(%t) {num_experts = 40 : i64, top_k = 3 : i64, scoring = "softmax", logits_type = f32}
    llvm.return
  }
  llvm.func @shared2(%logits: !llvm.ptr<1>, %ids: !llvm.ptr<1>,
                     %w: !llvm.ptr<1>, %n: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %t = arith.index_cast %n : i32 to index
    moek.route %logits ids(%ids) weights(%w) tokens(%t) {num_experts = 40 : i64, top_k = 3 : i64, scoring = "softmax", logits_type = f32, shared_experts = 2 : i64, shared_weight = 0.75 : f32}
    llvm.return
  }
}
