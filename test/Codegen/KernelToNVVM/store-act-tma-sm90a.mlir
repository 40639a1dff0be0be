// moek.store_act with tma (convert-moe-to-moek{act-tma}) lowered for
// sm_90a: a warpgroup whose 64 rows are all below the limit computes its
// 64 x 128 activations (SwiGLU, times the row weights) and stores them as
// moek.store_acc_tma does, in two 64 x 64 boxes: four stmatrix.x4 each into
// a staging half, the async-proxy fence, one thread's TMA store and bulk
// group (two halves: a wait for the previous box's store to have read its
// half before each box's barrier; one half: before each box's writes too).
// A warpgroup with rows at or past the limit: the plain stores (32 of
// st.global.b32 a thread). moek.signal {bulk_stores}: after the
// warpgroup's barrier, the first thread waits for its bulk stores to
// complete and fences them to the generic proxy before the release add.

// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.mlir
// RUN: moe-translate --moe-to-ptx %t.mlir -o %t.ptx
// RUN: FileCheck %s --input-file=%t.ptx
// RUN: awk '/[.]entry/ {n = $NF} /stmatrix[.]sync[.]aligned[.]m8n8[.]x4[.]shared[.]b16/ {m[n]++} /cp[.]async[.]bulk[.]tensor[.]2d[.]global[.]shared::cta[.]tile[.]bulk_group/ {t[n]++} /cp[.]async[.]bulk[.]commit_group/ {c[n]++} /cp[.]async[.]bulk[.]wait_group[.]read/ {r[n]++} /cp[.]async[.]bulk[.]wait_group[ \t]+0/ {w[n]++} /barrier[.]sync/ {b[n]++} /st[.]global[.]b32/ {s[n]++} END {for (k in m) print k, "stmatrix", m[k]+0, "tma", t[k]+0, "commit", c[k]+0, "read", r[k]+0, "wait", w[k]+0, "bar", b[k]+0, "st", s[k]+0}' %t.ptx | sort | FileCheck %s --check-prefix=COUNTS
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// COUNTS: one( stmatrix 8 tma 2 commit 2 read 2 wait 1 bar 5 st 32
// COUNTS: two( stmatrix 8 tma 2 commit 2 read 2 wait 1 bar 3 st 32

// CHECK-LABEL: .entry two(
// CHECK:       ex2.approx
// CHECK:       stmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK:       fence.proxy.async.shared::cta;
// CHECK:       cp.async.bulk.wait_group.read 0;
// CHECK:       barrier.sync
// CHECK:       cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%rd{{[0-9]+}}, {%r{{[0-9]+}}, %r{{[0-9]+}}}], [%rd{{[0-9]+}}];
// CHECK-NEXT:  cp.async.bulk.commit_group;
// The signal: the warpgroup's barrier, then its first thread's wait.
// CHECK:       barrier.sync
// CHECK:       cp.async.bulk.wait_group 0;
// CHECK-NEXT:  fence.proxy.async.global;
// CHECK:       red.release.gpu.global.add.u32

// PTXAS-DAG: Compiling entry function 'one' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'two' for 'sm_90a'

gpu.module @kernels {
  llvm.func @two(%tmap: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant}, %act: !llvm.ptr<1>, %rw: !llvm.ptr<1>, %ready: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c13 = arith.constant 13 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    %staging = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_act %acc, %act[%c0, %c0] row_limit(%limit) row_weights(%rw) tma(%tmap, %staging, %c13) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, halves = 2 : i64, ld = 768 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
      moek.signal %ready[%c0] {bulk_stores}
    }
    llvm.return
  }
  llvm.func @one(%tmap: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant}, %act: !llvm.ptr<1>, %rw: !llvm.ptr<1>, %ready: !llvm.ptr<1>, %rows: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c13 = arith.constant 13 : index
    %limit = arith.index_cast %rows : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    %staging = moek.smem_alloc {bytes = 16384 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      moek.store_act %acc, %act[%c0, %c0] row_limit(%limit) row_weights(%rw) tma(%tmap, %staging, %c13) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, halves = 1 : i64, ld = 768 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
      moek.signal %ready[%c0] {bulk_stores}
    }
    llvm.return
  }
}
