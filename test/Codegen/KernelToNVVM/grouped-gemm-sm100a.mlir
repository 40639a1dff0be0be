// The grouped matmul of test/Dialect/MoEKernel/ops.mlir lowered for sm_100a
// (docs/CodegenPasses.md, "sm_100a"): the rings, roles and epilogue are the
// sm_90a ones; the accumulators live in tensor memory. Warp 0 allocates the
// columns (128: the two MMA warpgroups share them, in lane halves 0 and 16)
// and frees them at exit; each MMA warpgroup has 8 commit barriers; its
// thread 0 issues the four k16 steps of a 64-wide stage as tcgen05.mma
// (M = 64, N = 128, bf16 -> f32) and commits them; mma_wait pending(0)
// waits for the commit and reads the accumulator back with 16 tcgen05.ld
// .16x256b.x1 (the wgmma fragment's layout), then syncs the warpgroup.
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %S/../../Dialect/MoEKernel/ops.mlir -o %t.mlir
// RUN: FileCheck %s < %t.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_100a %t.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=wgmma < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-DAG:   llvm.mlir.global internal @grouped_gemm_moek_tmem() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<1 x i32>
// CHECK-DAG:   llvm.mlir.global internal @grouped_gemm_moek_mma_bars() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<16 x i64>
// CHECK-LABEL: llvm.func @grouped_gemm
// CHECK-SAME:    moek.chip = "sm_100a"
// CHECK-SAME:    moek.tmem = {bars = @grouped_gemm_moek_mma_bars, columns = 128 : i64, per_warpgroup = 128 : i64, slot = @grouped_gemm_moek_tmem}
// CHECK:         llvm.alloca {{.*}} {alignment = 4 : i64, moek.mma_issued}
// CHECK:         llvm.alloca {{.*}} {alignment = 4 : i64, moek.mma_waited}
// CHECK:         nvvm.tcgen05.alloc %{{.+}}, %{{.+}} : !llvm.ptr<3>, i32
// CHECK:         nvvm.tcgen05.relinquish_alloc_permit
// CHECK-COUNT-16: nvvm.mbarrier.init
// CHECK:         nvvm.fence.mbarrier.init
// CHECK:         nvvm.tcgen05.fence <before>
// CHECK-NEXT:    nvvm.barrier0
// CHECK-NEXT:    nvvm.tcgen05.fence <after>
// The producer is the sm_90a one.
// CHECK:         nvvm.setmaxregister  decrease 40
// CHECK:         nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK:         nvvm.setmaxregister  increase 232
// CHECK:         nvvm.tcgen05.fence <after>
// CHECK-COUNT-4: nvvm.tcgen05.mma %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} {ctaGroup = #nvvm.cta_group<cta_1>, kind = #nvvm.tcgen05_mma_kind<f16>} : (!llvm.ptr<6>, i64, i64, i32, i1)
// CHECK:         nvvm.tcgen05.commit %{{.+}} : !llvm.ptr<3>
// CHECK:         nvvm.mbarrier.try_wait.parity
// CHECK:         nvvm.tcgen05.fence <after>
// CHECK-COUNT-16: nvvm.tcgen05.ld %{{.+}} {shape = #nvvm.tcgen05_ldst_shape<shape_16x256b>} : vector<4xi32>
// CHECK:         nvvm.tcgen05.wait <load>
// CHECK-NEXT:    nvvm.tcgen05.fence <before>
// CHECK:         llvm.call_intrinsic "llvm.nvvm.barrier.cta.sync.count"(%{{.+}}, %{{.+}}) : (i32, i32) -> ()
// CHECK:         llvm.fptrunc %{{.+}} : vector<2xf32> to vector<2xbf16>
// At the return: everyone done, then warp 0 frees the columns.
// CHECK:         nvvm.tcgen05.fence <before>
// CHECK:         nvvm.barrier0
// CHECK:         nvvm.tcgen05.fence <after>
// CHECK:         nvvm.tcgen05.dealloc %{{.+}}, %{{.+}} : !llvm.ptr<6>, i32
// CHECK:         llvm.return
// CHECK-NOT:     moek.mma
// CHECK-NOT:     nvvm.wgmma
// CHECK-NOT:     unrealized_conversion_cast

// The instruction descriptor: f32 D (1 << 4), bf16 A and B (1 << 7, 1 << 10),
// both K-major, N >> 3 = 16 in bits 17-22, M >> 4 = 4 in bits 24-28.
// PTX:         .target sm_100a
// PTX-DAG:     tcgen05.alloc.cta_group::1.sync.aligned.shared::cta.b32 [grouped_gemm_moek_tmem], %r{{[0-9]+}};
// PTX-DAG:     tcgen05.relinquish_alloc_permit.cta_group::1.sync.aligned;
// PTX-DAG:     mov.b32 [[IDESC:%r[0-9]+]], 69207184;
// PTX-DAG:     tcgen05.mma.cta_group::1.kind::f16{{.*}} [%r{{[0-9]+}}], %rd{{[0-9]+}}, %rd{{[0-9]+}}, [[IDESC]], %p{{[0-9]+}};
// PTX-DAG:     tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64
// PTX-DAG:     tcgen05.ld.sync.aligned.16x256b.x1.b32
// PTX-DAG:     tcgen05.wait::ld.sync.aligned;
// PTX-DAG:     barrier.sync {{%r[0-9]+}}, 128;
// PTX-DAG:     tcgen05.dealloc.cta_group::1.sync.aligned.b32
// Four MMA steps and sixteen loads (the blocks' order in the PTX varies).
// RUN: grep -c "tcgen05.mma.cta_group::1.kind::f16" %t.ptx | FileCheck %s --check-prefix=MMAS
// MMAS: 4
// RUN: grep -c "tcgen05.ld.sync.aligned.16x256b.x1.b32" %t.ptx | FileCheck %s --check-prefix=LOADS
// LOADS: 16

// PTXAS: Compiling entry function 'grouped_gemm' for 'sm_100a'
// PTXAS: 0 bytes spill stores, 0 bytes spill loads
