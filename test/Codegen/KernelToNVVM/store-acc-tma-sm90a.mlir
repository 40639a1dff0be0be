// moek.store_acc_tma lowered for sm_90a: a warpgroup's 64 x 256 accumulator
// in four 64 x 64 boxes, each by four stmatrix.x4 into a staging half (the
// lane's row of matrix l/8, its 16-byte chunk XOR the row's low bits: the
// 128-byte swizzle), made visible to the async proxy, then one thread's
// TMA store and bulk group. Two halves: the first thread waits for the
// previous box's store to have read its half before the box's barrier
// (four waits, four barriers); one half: before each box's writes too
// (eight barriers). Rows past the limit: the plain stores (64 of
// st.global.b32 a thread). moek.store_acc_tma_wait: wait_group 0 and the
// async-to-generic proxy fence.

// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.mlir
// RUN: moe-translate --moe-to-ptx %t.mlir -o %t.ptx
// RUN: FileCheck %s --input-file=%t.ptx
// RUN: awk '/[.]entry/ {n = $NF} /stmatrix[.]sync[.]aligned[.]m8n8[.]x4[.]shared[.]b16/ {m[n]++} /cp[.]async[.]bulk[.]tensor[.]2d[.]global[.]shared::cta[.]tile[.]bulk_group/ {t[n]++} /cp[.]async[.]bulk[.]commit_group/ {c[n]++} /cp[.]async[.]bulk[.]wait_group[.]read/ {r[n]++} /barrier[.]sync/ {b[n]++} /st[.]global[.]b32/ {s[n]++} END {for (k in m) print k, "stmatrix", m[k]+0, "tma", t[k]+0, "commit", c[k]+0, "read", r[k]+0, "bar", b[k]+0, "st", s[k]+0}' %t.ptx | sort | FileCheck %s --check-prefix=COUNTS
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// COUNTS: one( stmatrix 16 tma 4 commit 4 read 4 bar 8 st 64
// COUNTS: two( stmatrix 16 tma 4 commit 4 read 4 bar 4 st 64

// CHECK-LABEL: .entry two(
// CHECK:       stmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK:       fence.proxy.async.shared::cta;
// CHECK:       cp.async.bulk.wait_group.read 0;
// CHECK:       barrier.sync
// CHECK:       cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%rd{{[0-9]+}}, {%r{{[0-9]+}}, %r{{[0-9]+}}}], [%rd{{[0-9]+}}];
// CHECK-NEXT:  cp.async.bulk.commit_group;
// CHECK:       cp.async.bulk.wait_group 0;
// CHECK-NEXT:  fence.proxy.async.global;

// PTXAS-DAG: Compiling entry function 'one' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'two' for 'sm_90a'

gpu.module @kernels {
  llvm.func @two(%tmap: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant}, %y: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c13 = arith.constant 13 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    %staging = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_acc_tma %acc, %tmap, %staging, %y[%c0, %c0] row_limit(%limit) barrier(%c13) {halves = 2 : i64, ld = 2048 : i64} : !moek.acc<64x256xf32>
      moek.store_acc_tma_wait
    }
    llvm.return
  }
  llvm.func @one(%tmap: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant}, %y: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c13 = arith.constant 13 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    %staging = moek.smem_alloc {bytes = 16384 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_acc_tma %acc, %tmap, %staging, %y[%c0, %c0] row_limit(%limit) barrier(%c13) {halves = 1 : i64, ld = 2048 : i64} : !moek.acc<64x256xf32>
      moek.store_acc_tma_wait
    }
    llvm.return
  }
}
