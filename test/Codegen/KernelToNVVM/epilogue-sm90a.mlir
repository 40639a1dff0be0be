// The GEMM1 epilogue of the FP8 fused kernel and its bookkeeping, lowered
// for sm_90a:
//  * moek.store_act_fp8 (swiglu): the 64 activations of a thread, eight at
//    a time, divide by rcp.approx and a Newton step with the remainder's
//    correction (no branch between them); a chunk whose divisions left
//    their exact range is computed again with div.rn (64 in all), and the
//    two 1x128 block scales of each half divide with div.rn (4);
//  * moek.signal: the proxy fence and named barrier 3 for the CTA's
//    warpgroup 1, 15 for warpgroup 2 (no other op uses them: 8 + the
//    warpgroup was also the FP8 x MXFP4 kernel's expansion barrier 9),
//    chosen with {fresh_thread_id} from a %tid.x read of its own;
//  * moek.timestamp: "sub" and "add" read the word, subtract or add
//    %globaltimer and write it back; "count" adds 1; the default stores it.

// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.90.mlir
// RUN: moe-translate --moe-to-ptx %t.90.mlir -o %t.90.ptx
// RUN: FileCheck %s --input-file=%t.90.ptx
// RUN: awk '/rcp[.]approx[.]ftz[.]f32/ {r++} /div[.]rn[.]f32/ {d++} /ex2[.]approx[.]f32/ {e++} END {print "rcp", r+0; print "div", d+0; print "ex2", e+0}' %t.90.ptx | FileCheck %s --check-prefix=COUNTS
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.ptx -o %t.90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: .entry epilogue(
// CHECK:       mov.u64 [[T0:%rd[0-9]+]], %globaltimer;
// CHECK-NEXT:  ld.volatile.global.b64 [[OLD0:%rd[0-9]+]], {{\[}}[[SLOT:%rd[0-9]+]]{{\]}};
// CHECK-NEXT:  sub.s64 [[NEW0:%rd[0-9]+]], [[OLD0]], [[T0]];
// CHECK-NEXT:  st.volatile.global.b64 {{\[}}[[SLOT]]{{\]}}, [[NEW0]];
// CHECK:       fence.proxy.async.global;
// CHECK-NEXT:  barrier.sync 3, 128;
// CHECK:       mov.u64 [[T1:%rd[0-9]+]], %globaltimer;
// CHECK-NEXT:  ld.volatile.global.b64 [[OLD1:%rd[0-9]+]], {{\[}}[[SLOT]]{{\]}};
// CHECK-NEXT:  add.s64 [[NEW1:%rd[0-9]+]], [[OLD1]], [[T1]];
// CHECK-NEXT:  st.volatile.global.b64 {{\[}}[[SLOT]]{{\]}}, [[NEW1]];
// CHECK-NEXT:  ld.volatile.global.b64 [[OLD2:%rd[0-9]+]], {{\[}}[[SLOT]]+8{{\]}};
// CHECK-NEXT:  add.s64 [[NEW2:%rd[0-9]+]], [[OLD2]], 1;
// CHECK-NEXT:  st.volatile.global.b64 {{\[}}[[SLOT]]+8{{\]}}, [[NEW2]];
// CHECK-NEXT:  mov.u64 [[T3:%rd[0-9]+]], %globaltimer;
// CHECK-NEXT:  st.volatile.global.b64 {{\[}}[[SLOT]]+16{{\]}}, [[T3]];
// CHECK:       fence.proxy.async.global;
// CHECK-NEXT:  barrier.sync 15, 128;
// With fresh_thread_id, the barrier chosen from a %tid.x read of its own.
// CHECK:       fence.proxy.async.global;
// CHECK-NEXT:  // begin inline asm
// CHECK-NEXT:  mov.u32 [[TID:%r[0-9]+]], %tid.x;
// CHECK-NEXT:  // end inline asm
// CHECK-NEXT:  and.b32 [[WG:%r[0-9]+]], [[TID]], -128;
// CHECK-NEXT:  setp.eq.b32 [[IS1:%p[0-9]+]], [[WG]], 128;
// CHECK-NEXT:  selp.b32 [[ID:%r[0-9]+]], 3, 15, [[IS1]];
// CHECK-NEXT:  barrier.sync [[ID]], 128;

// COUNTS: rcp 64
// COUNTS: div 68
// COUNTS: ex2 64

// PTXAS: Compiling entry function 'epilogue' for 'sm_90a'

gpu.module @kernels {
  llvm.func @epilogue(%act: !llvm.ptr<1>, %scales: !llvm.ptr<1>,
                      %ready: !llvm.ptr<1>, %timers: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      moek.timestamp %timers[%c0] {mode = "sub"}
      %g = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      moek.store_act_fp8 %g, %g, %act[%c0, %c0] scales(%scales) row_limit(%limit) {activation = "swiglu", gemm1_type = bf16, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
      moek.signal %ready[%c0]
      moek.timestamp %timers[%c0] {mode = "add"}
      moek.timestamp %timers[%c1] {mode = "count"}
      moek.timestamp %timers[%c2]
    }
    moek.warp_role "other" warpgroups(2, 1) max_regs(232) {
      moek.signal %ready[%c1]
      moek.signal %ready[%c2] {fresh_thread_id}
    }
    llvm.return
  }
}
