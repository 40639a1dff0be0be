// moek.store_act_fp8 {approx} (approx-activation), lowered for sm_90a: each
// division of the activation is a multiplication by rcp.approx, in one
// sequence with no fallback. The whole-row form (@whole): a thread's 64
// activations, 64 rcp.approx and 64 ex2.approx; no test of an all-ones
// significand (divideInRange's) and no IEEE division in the activation:
// the only div.rn are the 1x128 block scale and its inverse, for each row
// half (4).
// The split form (@split, half 0 and half 1 at once): 16 + 16 activations
// a row half, 64 rcp.approx and 64 ex2.approx, and the scales' div.rn:
// half 0's 2 a row half (the stored scale amax / 448 and its inverse 448 /
// amax), half 1's one (the inverse it quantizes with; it stores no scale).

// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.90.mlir
// RUN: moe-translate --moe-to-ptx %t.90.mlir -o %t.90.ptx
// RUN: FileCheck %s --input-file=%t.90.ptx
// RUN: awk '/[.]entry/ {n = $NF} /rcp[.]approx[.]ftz[.]f32/ {r[n]++} /(div|rcp)[.]rn[.]f32/ {d[n]++} /ex2[.]approx[.]f32/ {e[n]++} /setp[.]ne[.]b32.*, 8388607;/ {s[n]++} END {for (k in e) print k, "rcp", r[k]+0, "div", d[k]+0, "ex2", e[k]+0, "ones", s[k]+0}' %t.90.ptx | sort | FileCheck %s --check-prefix=COUNTS
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.ptx -o %t.90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: .entry whole(
// CHECK:       rcp.approx.ftz.f32
// CHECK:       cvt.rn.satfinite.e4m3x2.f32
// CHECK-LABEL: .entry split(
// CHECK:       barrier.sync {{[[:space:]]*}}7, 256;
// CHECK:       cvt.rn.satfinite.e4m3x2.f32

// COUNTS: split( rcp 64 div 6 ex2 64 ones 0
// COUNTS: whole( rcp 64 div 4 ex2 64 ones 0

// PTXAS-DAG: Compiling entry function 'whole' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'split' for 'sm_90a'

gpu.module @kernels {
  llvm.func @whole(%act: !llvm.ptr<1>, %scales: !llvm.ptr<1>, %rw: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %g = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      %u = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      moek.store_act_fp8 %g, %u, %act[%c0, %c0] scales(%scales) row_limit(%limit) row_weights(%rw) {activation = "swiglu", approx, gemm1_type = bf16, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
  llvm.func @split(%act: !llvm.ptr<1>, %scales: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 33280 : i64} : !llvm.ptr<3>
    %amax = llvm.getelementptr %buf[32768] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %wg = moek.warpgroup_index
      %first = arith.cmpi eq, %wg, %c0 : index
      %g = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      %u = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      scf.if %first {
        moek.store_act_fp8 %g, %u, %act[%c0, %c0] scales(%scales) row_limit(%limit) amax(%amax) {activation = "clamped_swiglu", alpha = 1.702 : f32, limit = 7.0 : f32, approx, gemm1_type = bf16, half = 0 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
      } else {
        moek.store_act_fp8 %g, %u, %act[%c0, %c0] scales(%scales) row_limit(%limit) amax(%amax) {activation = "clamped_swiglu", alpha = 1.702 : f32, limit = 7.0 : f32, approx, gemm1_type = bf16, half = 1 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
      }
    }
    llvm.return
  }
}
