// A small sm_90a kernel: one 2D TMA load per operand completing on an mbarrier
// (arrive.expect_tx, try_wait.parity), one wgmma m64n128k16 bf16 -> f32 (fence,
// mma_async, commit, wait), setmaxnreg (which ptxas honours only with
// nvvm.maxntid + nvvm.minctasm), elect.sync and fence.proxy.

// RUN: moe-translate --moe-to-ptx --chip=sm_90a %s | FileCheck %s
// RUN: moe-translate --moe-to-ptx %s | FileCheck %s
// RUN: %if ptxas %{ moe-translate --moe-to-ptx %s -o %t.ptx && %ptxas -arch=sm_90a %t.ptx -o %t.ptxas.cubin %}
// RUN: %if ptxas %{ moe-translate --moe-to-cubin %s -o %t.cubin && test -s %t.cubin %}
// RUN: %if ptxas %{ moe-translate --moe-to-cubin --ptxas-verbose %s -o %t.v.cubin 2>&1 | FileCheck %s --check-prefix=VERBOSE %}

// CHECK:      .version 8.8
// CHECK:      .target sm_90a
// CHECK-LABEL: .entry wgmma_tma_sm90a(
// CHECK-NEXT: .param .align 64 .b8 wgmma_tma_sm90a_param_0[128]
// CHECK:      .maxntid 128, 1, 1
// CHECK:      .minnctapersm 1
// CHECK:      setmaxnreg.inc.sync.aligned.u32 232
// CHECK:      elect.sync
// CHECK:      mbarrier.init.shared.b64
// CHECK:      fence.proxy.async.shared::cta
// CHECK:      mbarrier.arrive.expect_tx.shared.b64
// CHECK:      cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// CHECK:      mbarrier.try_wait.parity
// CHECK:      wgmma.fence.sync.aligned
// CHECK:      wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK:      wgmma.commit_group.sync.aligned
// CHECK:      wgmma.wait_group.sync.aligned 0
// CHECK-NOT:  tcgen05

// VERBOSE: remark: ptxas -v:
// VERBOSE: Compiling entry function 'wgmma_tma_sm90a' for 'sm_90a'
// VERBOSE: Used {{[0-9]+}} registers

module attributes {gpu.container_module} {
  gpu.module @kernels [#nvvm.target<chip = "sm_90a", features = "+ptx88">] {
    llvm.mlir.global internal @smem_a() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<16384 x i8>
    llvm.mlir.global internal @smem_b() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<16384 x i8>
    llvm.mlir.global internal @smem_bar() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<1 x i64>

    llvm.func @wgmma_tma_sm90a(
        %tmapA: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
        %tmapB: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
        %out: !llvm.ptr<1>)
        attributes {nvvm.kernel, nvvm.maxntid = array<i32: 128, 1, 1>, nvvm.minctasm = 1 : i32} {
      %c0 = llvm.mlir.constant(0 : i32) : i32
      %c1 = llvm.mlir.constant(1 : i32) : i32
      %c4 = llvm.mlir.constant(4 : i32) : i32
      %c32 = llvm.mlir.constant(32 : i32) : i32
      %tx = llvm.mlir.constant(32768 : i32) : i32
      %ticks = llvm.mlir.constant(1000000 : i32) : i32
      %mask = llvm.mlir.constant(16383 : i64) : i64
      // 128B swizzle, SBO = 1024 B, LBO = 16 B (see research/wgmma-e2e.md)
      %dhi = llvm.mlir.constant(4611686293305360384 : i64) : i64
      nvvm.setmaxregister increase 232
      %a = llvm.mlir.addressof @smem_a : !llvm.ptr<3>
      %b = llvm.mlir.addressof @smem_b : !llvm.ptr<3>
      %bar = llvm.mlir.addressof @smem_bar : !llvm.ptr<3>
      %tid = nvvm.read.ptx.sreg.tid.x : i32
      %warp = llvm.udiv %tid, %c32 : i32
      %w0 = llvm.icmp "eq" %warp, %c0 : i32
      llvm.cond_br %w0, ^elect, ^sync
    ^elect:
      %leader = nvvm.elect.sync -> i1
      llvm.cond_br %leader, ^issue, ^sync
    ^issue:
      nvvm.mbarrier.init %bar, %c1 : !llvm.ptr<3>, i32
      nvvm.fence.mbarrier.init
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      %tok = nvvm.mbarrier.arrive.expect_tx %bar, %tx : !llvm.ptr<3>, i32 -> i64
      %a7 = llvm.addrspacecast %a : !llvm.ptr<3> to !llvm.ptr<7>
      %b7 = llvm.addrspacecast %b : !llvm.ptr<3> to !llvm.ptr<7>
      nvvm.cp.async.bulk.tensor.shared.cluster.global %a7, %tmapA, %bar, box[%c0, %c0] : !llvm.ptr<7>, !llvm.ptr
      nvvm.cp.async.bulk.tensor.shared.cluster.global %b7, %tmapB, %bar, box[%c0, %c0] : !llvm.ptr<7>, !llvm.ptr
      llvm.br ^sync
    ^sync:
      nvvm.barrier0
      nvvm.mbarrier.try_wait.parity %bar, %c0, %ticks : !llvm.ptr<3>, i32, i32
      %ai = llvm.ptrtoint %a : !llvm.ptr<3> to i32
      %bi = llvm.ptrtoint %b : !llvm.ptr<3> to i32
      %ai4 = llvm.lshr %ai, %c4 : i32
      %bi4 = llvm.lshr %bi, %c4 : i32
      %ai64 = llvm.zext %ai4 : i32 to i64
      %bi64 = llvm.zext %bi4 : i32 to i64
      %aim = llvm.and %ai64, %mask : i64
      %bim = llvm.and %bi64, %mask : i64
      %da = llvm.or %aim, %dhi : i64
      %db = llvm.or %bim, %dhi : i64
      %zero = llvm.mlir.zero : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.fence.aligned
      %acc = nvvm.wgmma.mma_async %da, %db, %zero,
          #nvvm.shape<m = 64, n = 128, k = 16>,
          D [<f32>, #nvvm.wgmma_scale_out<zero>],
          A [<bf16>, #nvvm.wgmma_scale_in<one>, <row>],
          B [<bf16>, #nvvm.wgmma_scale_in<one>, <col>]
          : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      // Store two of the 64 accumulator registers so that nothing is dead.
      %d0 = llvm.extractvalue %acc[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %d63 = llvm.extractvalue %acc[63] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %sum = llvm.fadd %d0, %d63 : f32
      %p = llvm.getelementptr %out[%tid] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, f32
      llvm.store %sum, %p : f32, !llvm.ptr<1>
      llvm.return
    }
  }
}
