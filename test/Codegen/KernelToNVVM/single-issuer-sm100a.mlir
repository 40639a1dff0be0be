// Blackwell's kernel shape (docs/CodegenPasses.md, "sm_100a"): one thread
// issues every MMA into a ring of two tensor-memory accumulators that the
// epilogue warpgroups drain. Warp 0 allocates 2 x 256 columns; thread 0
// initializes each accumulator's full barrier for two arrivals (the tag's
// and the MMAs' commit) and its empty barrier for the 256 epilogue
// threads. The issuer (lane 0 of warp 1) waits for a drained accumulator,
// issues a stage's four K steps as tcgen05.mma M = 128, N = 256 (the first
// overwriting unless `accumulate`), frees the stage with a commit to its
// empty barrier, and commits the accumulator with its tag; each epilogue
// thread waits, reads its lane (row) with tcgen05.ld .32x32b.x32, 32
// columns at a time, stores 16-byte pieces of bf16 and arrives.
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %s -o %t.mlir
// RUN: FileCheck %s < %t.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_100a %t.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=wgmma < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// On sm_90a, an error naming the op.
// RUN: not moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o /dev/null 2>&1 | FileCheck %s --check-prefix=SM90

// CHECK-DAG:   llvm.mlir.global internal @single_issuer_moek_tmem() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<1 x i32>
// CHECK-DAG:   llvm.mlir.global internal @single_issuer_moek_acc_bars() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<6 x i64>
// CHECK-LABEL: llvm.func @single_issuer
// CHECK-SAME:    moek.tmem = {bars = @single_issuer_moek_acc_bars, columns = 512 : i64, slot = @single_issuer_moek_tmem}
// CHECK-DAG:     %[[TWO:.+]] = llvm.mlir.constant(2 : i32) : i32
// CHECK-DAG:     %[[C256:.+]] = llvm.mlir.constant(256 : i32) : i32
// CHECK:         nvvm.tcgen05.alloc
// CHECK:         nvvm.mbarrier.init %{{.+}}, %[[TWO]]
// CHECK:         nvvm.mbarrier.init %{{.+}}, %[[TWO]]
// CHECK:         nvvm.mbarrier.init %{{.+}}, %[[C256]]
// CHECK:         nvvm.mbarrier.init %{{.+}}, %[[C256]]
// CHECK-NOT:     nvvm.mbarrier.init
// CHECK:         nvvm.fence.mbarrier.init
// CHECK-NOT:     moek.
// CHECK-NOT:     unrealized_conversion_cast

// PTX:         .target sm_100a
// PTX:         tcgen05.alloc.cta_group::1.sync.aligned.shared::cta.b32 [single_issuer_moek_tmem], {{%r[0-9]+}};
// The accumulator's commit (LLVM lays its block out before the K loop's):
// the tag, then an arrival, then the MMAs' commit, on its full barrier.
// PTX:         st.shared.b64 [[[FULL:%rd[0-9]+]]+32], %rd{{[0-9]+}};
// PTX-NEXT:    mbarrier.arrive.shared.b64 %rd{{[0-9]+}}, [[[FULL]]];
// PTX-NEXT:    tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64 [[[FULL]]];
// A stage: M >> 4 = 8 in bits 24-28, N >> 3 = 32 in bits 17-22, f32 D,
// bf16 A and B (0x08400490); then a commit to the stage's empty barrier
// (the ring's 4 full barriers come first).
// PTX:         mov.b32 [[IDESC:%r[0-9]+]], 138413200;
// PTX-COUNT-4: tcgen05.mma.cta_group::1.kind::f16{{.*}} [%r{{[0-9]+}}], %rd{{[0-9]+}}, %rd{{[0-9]+}}, [[IDESC]], %p{{[0-9]+}};
// PTX-NEXT:    tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64 [%rd{{[0-9]+}}+32];
// The epilogue's release (laid out first), then its 4 loads of 32 columns,
// 4 stores of 16 bytes after each.
// PTX:         tcgen05.fence::before_thread_sync;
// PTX-NEXT:    mbarrier.arrive.shared.b64 %rd{{[0-9]+}}, [%rd{{[0-9]+}}+16];
// PTX:         tcgen05.ld.sync.aligned.32x32b.x32.b32
// PTX-NEXT:    tcgen05.wait::ld.sync.aligned
// PTX-COUNT-4: cvt.rn.bf16x2.f32
// PTX:         st.global.v4.b32
// PTX-COUNT-3: tcgen05.ld.sync.aligned.32x32b.x32.b32
// PTX:         tcgen05.dealloc.cta_group::1.sync.aligned.b32

// PTXAS: Compiling entry function 'single_issuer' for 'sm_100a'
// PTXAS: 0 bytes spill stores, 0 bytes spill loads

// SM90: error: 'moek.acc_ring_alloc' op keeps accumulators in tensor memory: sm_100a only

!ring = !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
!accs = !moek.acc_ring<2, 128x256xf32>

gpu.module @kernels {
  llvm.func @single_issuer(%out: !llvm.ptr<1>, %n: i64, %slices: i64, %e: i64)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %tiles = arith.index_cast %n : i64 to index
    %ks = arith.index_cast %slices : i64 to index
    %end = arith.index_cast %e : i64 to index
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %ring = moek.ring_alloc consumers(1) : !ring
    %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !accs
    moek.warp_role "mma" warpgroups(0, 1) {
      %issuer = moek.elect_one {warp = 1 : i64}
      scf.if %issuer {
        scf.for %j = %c0 to %tiles step %c1 {
          moek.acc_acquire %accs[%j] : !accs
          %i0 = arith.muli %j, %ks : index
          scf.for %k = %c0 to %ks step %c1 {
            %i = arith.addi %i0, %k : index
            moek.ring_wait %ring[%i] : !ring
            %acc = arith.cmpi ugt, %k, %c0 : index
            moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) : !ring, !accs
            moek.mma_release %ring[%i] : !ring
          }
          moek.acc_commit %accs[%j], %j : !accs
        }
      }
    }
    moek.warp_role "epilogue" warpgroups(1, 2) max_regs(232) {
      %wg = moek.warpgroup_index
      %first = arith.muli %wg, %c128 : index
      scf.for %j = %c0 to %tiles step %c1 {
        %t = moek.acc_wait %accs[%j] : !accs
        %row = arith.muli %t, %c128 : index
        moek.acc_store_rows %accs[%j] cols(%first, 128), %out[%row, %first] row_limit(%end) {element_type = bf16, ld = 256 : i64} : !accs, !llvm.ptr<1>
        moek.acc_release %accs[%j] : !accs
      }
    }
    llvm.return
  }
}
