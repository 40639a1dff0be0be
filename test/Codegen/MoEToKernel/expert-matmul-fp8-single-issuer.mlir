// DeepSeek-V3's block-scaled FP8 grouped matmul on sm_100a in the
// single-issuer shape: the MMA issuer puts each 128-wide K block's product
// into an accumulator of its own (four of 128 x 128 in tensor memory,
// overwriting: accumulate false), committed with the tile index; each
// epilogue warpgroup promotes its 64 columns of the blocks in order into
// registers by the row's and the weight block's scales
// (moek.acc_promote_rows) and stores the sum (moek.store_thread_row).
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_100a" -o %t.moek.mlir
// RUN: FileCheck %s < %t.moek.mlir
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %t.moek.mlir | moe-translate --moe-to-ptx --chip=sm_100a -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=wgmma < %t.ptx
// RUN: FileCheck %s --check-prefix=MMA < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_100a single-issuer=false" | FileCheck %s --check-prefix=WG

// CHECK-LABEL: llvm.func @lower_fp8_block_expert_matmul_0
// CHECK:         %[[R:.+]] = moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>]>
// CHECK:         moek.warp_role "producer" warpgroups(0, 1) max_regs(80)
// CHECK:         %[[ACCS:.+]] = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<4, 128x128xf32>
// CHECK:         moek.warp_role "mma" warpgroups(0, 1) {
// CHECK:           scf.for
// CHECK:             %{{.+}} = arith.addi
// CHECK-NEXT:        %[[J:.+]] = arith.addi
// CHECK-NEXT:        moek.acc_acquire %[[ACCS]][%[[J]]]
// CHECK-NEXT:        moek.ring_wait %[[R]]
// CHECK-NEXT:        %[[OFF:.+]] = arith.constant false
// CHECK-NEXT:        moek.mma_tmem %[[R]][%{{.+}}] a(0) b(1), %[[ACCS]][%[[J]]] accumulate(%[[OFF]])
// CHECK-NEXT:        moek.mma_release %[[R]]
// CHECK-NEXT:        moek.acc_commit %[[ACCS]][%[[J]]]
// CHECK:         moek.warp_role "epilogue" warpgroups(1, 2) max_regs(192)
// CHECK:           arith.constant dense<0.000000e+00> : vector<64xf32>
// CHECK:           scf.for {{.*}} -> (vector<64xf32>)
// CHECK:             moek.acc_wait %[[ACCS]]
// CHECK:             %[[V:.+]] = moek.acc_promote_rows %[[ACCS]][%{{.+}}] cols(%{{.+}}, %{{.+}}), %arg3[%{{.+}}, %{{.+}}] ws(%arg4[%{{.+}}]) row_limit(%{{.+}}) {ld = 4 : i64} : !moek.acc_ring<4, 128x128xf32>, vector<64xf32>
// CHECK-NEXT:        moek.acc_release %[[ACCS]]
// CHECK:           moek.store_thread_row %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) {element_type = bf16, ld = 256 : i64} : vector<64xf32>, !llvm.ptr<1>

// M >> 4 = 8, N >> 3 = 16, f32 D, e4m3 A and B (.kind::f8f6f4: 0x08200010);
// the promotion: two .32x32b.x32 loads, the row's scale, 64 fused
// multiply-adds.
// MMA:         mov.b32 [[IDESC:%r[0-9]+]], 136314896;
// MMA-COUNT-4: tcgen05.mma.cta_group::1.kind::f8f6f4{{.*}} [[IDESC]], %p{{[0-9]+}};
// MMA-NEXT:    tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64
// PTX:         tcgen05.ld.sync.aligned.32x32b.x32.b32
// PTX:         tcgen05.ld.sync.aligned.32x32b.x32.b32
// PTX:         tcgen05.wait::ld.sync.aligned
// PTX-COUNT-64: fma.rn.f32

// PTXAS: 0 bytes spill stores, 0 bytes spill loads

// WG-LABEL: llvm.func @lower_fp8_block_expert_matmul_0
// WG-NOT:     moek.acc_ring_alloc
// WG:         moek.mma_promote
func.func @lower_fp8_block(%x: tensor<?x512xf8E4M3FN>, %w: tensor<8x256x512xf8E4M3FN>, %offsets: tensor<9xi32>, %xs: tensor<?x4xf32>, %ws: tensor<8x2x4xf32>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x512xf8E4M3FN>, tensor<8x256x512xf8E4M3FN>, tensor<9xi32>, tensor<?x4xf32>, tensor<8x2x4xf32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
