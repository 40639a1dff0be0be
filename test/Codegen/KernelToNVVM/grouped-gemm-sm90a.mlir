// The warp-specialized grouped matmul of test/Dialect/MoEKernel/ops.mlir,
// lowered for sm_90a: no moek op and no cast is left; roles are warpgroup
// guards with setmaxnreg; rings are mbarrier rings in 1024-aligned dynamic
// shared memory (barriers: full, empty, then the stages' tag words); MMAs
// are four wgmma m64n128k16 per 64-wide stage.
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %S/../../Dialect/MoEKernel/ops.mlir | FileCheck %s
// RUN: not moe-opt --convert-moek-to-nvvm=chip=sm_120a %S/../../Dialect/MoEKernel/ops.mlir 2>&1 | FileCheck %s --check-prefix=CHIP

// CHECK-DAG:   llvm.mlir.global internal @grouped_gemm_moek_barriers_0() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<12 x i64>
// CHECK-DAG:   llvm.mlir.global external @moek_dynamic_smem() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// CHECK-LABEL: llvm.func @grouped_gemm
// CHECK-SAME:    moek.dynamic_smem_bytes = 132096 : i64
// CHECK-COUNT-4: nvvm.mbarrier.init %{{.+}}, %{{.+}} : !llvm.ptr<3>, i32
// CHECK-COUNT-4: nvvm.mbarrier.init
// CHECK:         nvvm.fence.mbarrier.init
// CHECK:         nvvm.barrier0
// CHECK:         nvvm.setmaxregister decrease 40
// CHECK:         nvvm.mbarrier.try_wait.parity
// CHECK:         nvvm.mbarrier.arrive.expect_tx %{{.+}}, %{{.+}} : !llvm.ptr<3>, i32
// CHECK:         nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.+}}, %{{.+}}, %{{.+}}, box[%{{.+}}, %{{.+}}]
// CHECK:         nvvm.setmaxregister increase 232
// CHECK:         nvvm.wgmma.fence.aligned
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}}<m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK:         nvvm.wgmma.commit.group.sync.aligned
// CHECK:         nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:         nvvm.mbarrier.arrive
// CHECK:         llvm.fptrunc %{{.+}} : vector<2xf32> to vector<2xbf16>
// CHECK-NOT:     moek.
// CHECK-NOT:     unrealized_conversion_cast

// CHIP: error: convert-moek-to-nvvm: chip 'sm_120a' is not supported (supported: sm_90a, sm_100a)
