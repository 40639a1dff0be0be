// A ring shared by the two CTAs of a cluster, lowered for sm_90a: the empty
// barriers wait for one arrival per consumer warpgroup of each CTA (2 x 2),
// the init ends on a cluster barrier, multicast loads carry the CTA mask,
// a release is one thread per destination CTA arriving on that CTA's
// barrier (mapa, cluster scope; predicated, so that the warp does not
// diverge around the waits), and moek.cluster_sync is a cluster barrier.
// RUN: moe-opt %s | moe-opt | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s | FileCheck %s

// ROUNDTRIP:     moek.ring_alloc consumers(256) {cluster = 2 : i64}
// ROUNDTRIP:     moek.cluster_rank
// ROUNDTRIP:     moek.tma_load {{.*}} tile 1 {multicast, row_offset = 128 : i64}
// ROUNDTRIP:     moek.cluster_sync

// CHECK-LABEL:   llvm.func @pair
// CHECK-DAG:     %[[MASK:.+]] = llvm.mlir.constant(3 : i16) : i16
// CHECK-DAG:     %[[FOUR:.+]] = llvm.mlir.constant(4 : i32) : i32
// CHECK:         %[[TID:.+]] = nvvm.read.ptx.sreg.tid.x : i32
// CHECK-COUNT-2: nvvm.mbarrier.init %{{.+}}, %{{.+}} : !llvm.ptr<3>, i32
// CHECK-COUNT-2: nvvm.mbarrier.init %{{.+}}, %[[FOUR]] : !llvm.ptr<3>, i32
// CHECK:         nvvm.fence.mbarrier.init
// CHECK-NOT:     nvvm.barrier0
// CHECK:         nvvm.bar.warp.sync
// CHECK-NEXT:    nvvm.cluster.arrive{{$}}
// CHECK-NEXT:    nvvm.cluster.wait{{$}}
// CHECK:         nvvm.read.ptx.sreg.cluster.ctarank
// CHECK:         nvvm.cp.async.bulk.tensor.shared.cluster.global {{.*}} multicast_mask = %[[MASK]]
// CHECK:         %[[LANE:.+]] = llvm.urem %[[TID]], %{{.+}} : i32
// CHECK-NEXT:    %[[SIGNALS:.+]] = llvm.icmp "ult" %[[LANE]]
// CHECK-NEXT:    %[[FLAG:.+]] = llvm.zext %[[SIGNALS]] : i1 to i32
// CHECK-NEXT:    %[[TARGET:.+]] = llvm.urem %[[LANE]]
// CHECK-NEXT:    %[[REMOTE:.+]] = nvvm.mapa %{{.+}}, %[[TARGET]] : !llvm.ptr<3> -> !llvm.ptr<7>
// CHECK-NEXT:    %[[ADDR:.+]] = llvm.ptrtoint %[[REMOTE]]
// CHECK-NEXT:    llvm.inline_asm has_side_effects "{{.*}}@p mbarrier.arrive.shared::cluster.b64 _, [$0];{{.*}}", "l,r" %[[ADDR]], %[[FLAG]]
// CHECK:         nvvm.bar.warp.sync
// CHECK-NEXT:    nvvm.cluster.arrive{{$}}
// CHECK-NEXT:    nvvm.cluster.wait{{$}}
// CHECK-NEXT:    llvm.return
// CHECK-NOT:     moek.

gpu.module @kernels {
  llvm.func @pair(%tmap: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant})
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) {cluster = 2 : i64} : !moek.ring<2, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
    %rank = moek.cluster_rank
    moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
      moek.ring_acquire %ring[%c0] : !moek.ring<2, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
      moek.ring_expect %ring[%c0] : !moek.ring<2, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
      moek.tma_load %tmap[%c0, %rank] -> %ring[%c0] tile 1 {multicast, row_offset = 128 : i64} : !llvm.ptr, !moek.ring<2, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
    }
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      moek.ring_wait %ring[%c0] : !moek.ring<2, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
      moek.ring_release %ring[%c0] : !moek.ring<2, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
    }
    moek.cluster_sync
    llvm.return
  }
}
