// The GEMM1 epilogue of the bf16 fused kernels (moek.store_act), lowered
// for sm_90a: a thread's 64 activations divide by rcp.approx and a Newton
// step with the remainder's correction, with no branch between the
// divisions of a chunk (4 values for SwiGLU, 1 for the GELU forms: larger
// chunks spill the 168 registers a thread has next to its 128 accumulator
// values in the FP4-weight kernels); a chunk whose divisions left their exact range is
// computed again with the IEEE division (div.rn, or rcp.rn for erf's
// 1 / d). So each form has 64 rcp.approx, 64 tests of an all-ones
// significand, 64 IEEE divisions (the fallbacks) and 64 ex2.approx. With
// mx_round (MXFP8 activations; its 1x32 blocks' scales divide with div.rn,
// 8 more) every lane computes (the block's shuffles), under a test that
// skips a half whose eight rows all lie past the limit. With approx, each
// division is a multiplication by rcp.approx: 64 of them and nothing else
// (no IEEE division, no range test, no fallback).

// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.mlir
// RUN: moe-translate --moe-to-ptx %t.mlir -o %t.ptx
// RUN: awk '/[.]entry/ {n = $NF} /rcp[.]approx[.]ftz[.]f32/ {r[n]++} /(div|rcp)[.]rn[.]f32/ {d[n]++} /ex2[.]approx[.]f32/ {e[n]++} /setp[.]ne[.]b32.*, 8388607;/ {s[n]++} END {for (k in r) print k, "rcp", r[k]+0, "div", d[k]+0, "ex2", e[k]+0, "ones", s[k]+0}' %t.ptx | sort | FileCheck %s --check-prefix=COUNTS
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// COUNTS: gelu( rcp 64 div 64 ex2 64 ones 64
// COUNTS: gelu_approx( rcp 64 div 0 ex2 64 ones 0
// COUNTS: mx( rcp 64 div 72 ex2 64 ones 64
// COUNTS: swiglu( rcp 64 div 64 ex2 64 ones 64
// COUNTS: swiglu_approx( rcp 64 div 0 ex2 64 ones 0

// PTXAS-DAG: Compiling entry function 'swiglu' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'gelu' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'mx' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'swiglu_approx' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'gelu_approx' for 'sm_90a'

gpu.module @kernels {
  llvm.func @swiglu(%act: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_act %acc, %act[%c0, %c0] row_limit(%limit) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 768 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
  llvm.func @gelu(%act: !llvm.ptr<1>, %rw: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_act %acc, %act[%c0, %c0] row_limit(%limit) row_weights(%rw) {activation = "gelu_mul", layout = "interleaved", gemm1_type = bf16, element_type = bf16, ld = 768 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
  llvm.func @mx(%act: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_act %acc, %act[%c0, %c0] row_limit(%limit) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 768 : i64, mx_round} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
  llvm.func @swiglu_approx(%act: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_act %acc, %act[%c0, %c0] row_limit(%limit) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 768 : i64, approx} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
  llvm.func @gelu_approx(%act: !llvm.ptr<1>, %rw: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_act %acc, %act[%c0, %c0] row_limit(%limit) row_weights(%rw) {activation = "gelu_mul", layout = "interleaved", gemm1_type = bf16, element_type = bf16, ld = 768 : i64, approx} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
}
