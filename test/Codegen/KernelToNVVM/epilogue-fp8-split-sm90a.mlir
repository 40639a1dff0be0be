// The FP8 fused kernel's split GEMM1 epilogue, lowered for sm_90a: each MMA
// warpgroup stores the half of its accumulator the other lacks
// (acc_store_smem {values}: 32 of its 64 values a thread), loads the other's
// half (the rest of the fragment is 0), and moek.store_act_fp8 {half}
// computes 16 activations a row half (32 a thread: half the ex2s of the
// whole-row form's 64), writes each row's amax over its 64 columns to
// shared memory, meets the other warpgroup at named barrier 7 (256
// threads) once per row half, and takes the larger amax; half 0 stores the
// block scales, half 1 does not.

// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.90.mlir
// RUN: moe-translate --moe-to-ptx %t.90.mlir -o %t.90.ptx
// RUN: FileCheck %s --input-file=%t.90.ptx
// RUN: awk '/ex2[.]approx[.]f32/ {e++} /barrier[.]sync[ \t]+7, 256;/ {b++} END {print "ex2", e+0; print "bar7", b+0}' %t.90.ptx | FileCheck %s --check-prefix=COUNTS
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.ptx -o %t.90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: .entry split(
// CHECK:       barrier.sync {{[[:space:]]*}}5, 256;
// CHECK:       st.shared.b32 {{.*}}+32768]
// CHECK:       barrier.sync {{[[:space:]]*}}7, 256;
// CHECK-NEXT:  ld.shared.b32 {{.*}}+33024]
// CHECK:       cvt.rn.satfinite.e4m3x2.f32

// Half 0 writes its amax at float r (byte 32768 + 4r of the buffer) and
// reads half 1's at 64 + r (byte 33024 + 4r). Two ops of 16 + 16
// activations a thread: 64 ex2; one barrier 7 a row half: 4.
// COUNTS: ex2 64
// COUNTS: bar7 4

// PTXAS: Compiling entry function 'split' for 'sm_90a'

gpu.module @kernels {
  llvm.func @split(%act: !llvm.ptr<1>, %scales: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 33280 : i64} : !llvm.ptr<3>
    %amax = llvm.getelementptr %buf[32768] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %wg = moek.warpgroup_index
      %first = arith.cmpi eq, %wg, %c0 : index
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      scf.if %first {
        moek.acc_store_smem %acc, %buf {values = array<i64: 32, 64>} : !moek.acc<64x128xf32>, !llvm.ptr<3>
        moek.barrier_sync id(5) threads(256)
        %up = moek.acc_load_smem %buf {values = array<i64: 0, 32>} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
        moek.store_act_fp8 %acc, %up, %act[%c0, %c0] scales(%scales) row_limit(%limit) amax(%amax) {activation = "swiglu", gemm1_type = bf16, half = 0 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
      } else {
        moek.acc_store_smem %acc, %buf {values = array<i64: 0, 32>} : !moek.acc<64x128xf32>, !llvm.ptr<3>
        moek.barrier_sync id(5) threads(256)
        %gate = moek.acc_load_smem %buf {values = array<i64: 32, 64>} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
        moek.store_act_fp8 %gate, %acc, %act[%c0, %c0] scales(%scales) row_limit(%limit) amax(%amax) {activation = "swiglu", gemm1_type = bf16, half = 1 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
      }
    }
    llvm.return
  }
}
