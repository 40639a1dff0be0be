// A small sm_100a kernel: TMEM allocated by warp 0, one tcgen05.mma kind::f16
// from shared-memory descriptors, completion through tcgen05.commit on an
// mbarrier, the accumulator read back with tcgen05.ld, then dealloc. Checked
// for PTX and ptxas only (never run: the descriptors are not validated).

// RUN: moe-translate --moe-to-ptx --chip=sm_100a %s | FileCheck %s
// RUN: moe-translate --moe-to-ptx %s | FileCheck %s
// RUN: %if ptxas %{ moe-translate --moe-to-ptx %s -o %t.ptx && %ptxas -arch=sm_100a %t.ptx -o %t.cubin %}
// RUN: %if ptxas %{ moe-translate --moe-to-cubin %s -o %t.2.cubin && test -s %t.2.cubin %}

// CHECK:      .version 8.8
// CHECK:      .target sm_100a
// CHECK-LABEL: .entry tcgen05_sm100a(
// CHECK:      tcgen05.alloc.cta_group::1.sync.aligned.shared::cta.b32
// CHECK:      tcgen05.relinquish_alloc_permit.cta_group::1.sync.aligned
// CHECK:      tcgen05.fence::before_thread_sync
// CHECK:      tcgen05.fence::after_thread_sync
// CHECK:      tcgen05.mma.cta_group::1.kind::f16
// CHECK:      tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64
// CHECK:      mbarrier.try_wait.parity
// CHECK:      tcgen05.ld.sync.aligned.32x32b.x4.b32
// CHECK:      tcgen05.wait::ld.sync.aligned
// CHECK:      tcgen05.dealloc.cta_group::1.sync.aligned.b32
// CHECK-NOT:  wgmma

module attributes {gpu.container_module} {
  gpu.module @kernels [#nvvm.target<chip = "sm_100a", features = "+ptx88">] {
    llvm.mlir.global internal @tmem_slot() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<1 x i32>
    llvm.mlir.global internal @bar() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<1 x i64>
    llvm.mlir.global internal @smem_ab() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<8192 x i8>

    llvm.func @tcgen05_sm100a(%out: !llvm.ptr<1>)
        attributes {nvvm.kernel, nvvm.maxntid = array<i32: 128, 1, 1>} {
      %c0 = llvm.mlir.constant(0 : i32) : i32
      %c1 = llvm.mlir.constant(1 : i32) : i32
      %c4 = llvm.mlir.constant(4 : i32) : i32
      %c32 = llvm.mlir.constant(32 : i32) : i32
      %c64 = llvm.mlir.constant(64 : i32) : i32
      %ncols = llvm.mlir.constant(32 : i32) : i32
      %ticks = llvm.mlir.constant(1000000 : i32) : i32
      // kind::f16 instruction descriptor (CUTLASS UMMA::InstrDescriptor):
      // f32 accumulator, bf16 A and B, both K-major, N = 32, M = 128.
      %idesc = llvm.mlir.constant(134743184 : i32) : i32
      %false = llvm.mlir.constant(false) : i1
      %b0 = llvm.mlir.constant(0 : i8) : i8
      %swz = llvm.mlir.constant(2 : i8) : i8
      %lbo = llvm.mlir.constant(1 : i32) : i32
      %sbo = llvm.mlir.constant(64 : i32) : i32
      %slot = llvm.mlir.addressof @tmem_slot : !llvm.ptr<3>
      %bar = llvm.mlir.addressof @bar : !llvm.ptr<3>
      %ab = llvm.mlir.addressof @smem_ab : !llvm.ptr<3>
      %tid = nvvm.read.ptx.sreg.tid.x : i32
      %warp = llvm.udiv %tid, %c32 : i32
      %w0 = llvm.icmp "eq" %warp, %c0 : i32
      %t0 = llvm.icmp "eq" %tid, %c0 : i32
      llvm.cond_br %w0, ^alloc, ^allocated
    ^alloc:
      nvvm.tcgen05.alloc %slot, %ncols : !llvm.ptr<3>, i32
      nvvm.tcgen05.relinquish_alloc_permit
      llvm.cond_br %t0, ^initbar, ^allocated
    ^initbar:
      nvvm.mbarrier.init %bar, %c1 : !llvm.ptr<3>, i32
      nvvm.fence.mbarrier.init
      llvm.br ^allocated
    ^allocated:
      nvvm.tcgen05.fence #nvvm.tcgen05_fence<before>
      nvvm.barrier0
      nvvm.tcgen05.fence #nvvm.tcgen05_fence<after>
      %t32 = llvm.load %slot : !llvm.ptr<3> -> i32
      %t64 = llvm.zext %t32 : i32 to i64
      %tmem = llvm.inttoptr %t64 : i64 to !llvm.ptr<6>
      llvm.cond_br %t0, ^mma, ^wait
    ^mma:
      %abi = llvm.ptrtoint %ab : !llvm.ptr<3> to i32
      %bbi = llvm.add %abi, %c64 : i32
      %da = nvvm.tcgen05.mma_smem_desc (%abi, %lbo, %sbo, %b0, %false, %swz) : (i32, i32, i32, i8, i1, i8) -> i64
      %db = nvvm.tcgen05.mma_smem_desc (%bbi, %lbo, %sbo, %b0, %false, %swz) : (i32, i32, i32, i8, i1, i8) -> i64
      nvvm.tcgen05.mma %tmem, %da, %db, %idesc, %false {kind = #nvvm.tcgen05_mma_kind<f16>, ctaGroup = #nvvm.cta_group<cta_1>}
          : (!llvm.ptr<6>, i64, i64, i32, i1)
      nvvm.tcgen05.commit %bar : !llvm.ptr<3>
      llvm.br ^wait
    ^wait:
      nvvm.mbarrier.try_wait.parity %bar, %c0, %ticks : !llvm.ptr<3>, i32, i32
      nvvm.tcgen05.fence #nvvm.tcgen05_fence<after>
      %v = nvvm.tcgen05.ld %tmem {shape = #nvvm.tcgen05_ldst_shape<shape_32x32b>} : vector<4xi32>
      nvvm.tcgen05.wait #nvvm.tcgen05_wait<load>
      %off = llvm.mul %tid, %c4 : i32
      %p = llvm.getelementptr %out[%off] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i32
      llvm.store %v, %p {alignment = 16 : i64} : vector<4xi32>, !llvm.ptr<1>
      nvvm.tcgen05.fence #nvvm.tcgen05_fence<before>
      nvvm.barrier0
      llvm.cond_br %w0, ^dealloc, ^exit
    ^dealloc:
      nvvm.tcgen05.fence #nvvm.tcgen05_fence<after>
      nvvm.tcgen05.dealloc %tmem, %ncols : !llvm.ptr<6>, i32
      llvm.br ^exit
    ^exit:
      llvm.return
    }
  }
}
