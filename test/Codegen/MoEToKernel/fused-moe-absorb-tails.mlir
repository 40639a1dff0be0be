// absorb-tails (sm_90a, bf16 weights and rows, one GPU, y by TMA, no
// biases): an expert's last row block of at most 16 rows past a full
// 128-row block joins the block before (moek.grouped_tile{_count}
// tail_rows = 16). The producer copies those rows into tile 2 of each
// stage (a second descriptor over the rows, and over the activation for
// GEMM2, in 16-row boxes); the tile's MMA
// warpgroups multiply them transposed in the same stages (each its 128
// weight rows of tile 1 by tile 2, m64n16k16) beside the tile's 128 rows,
// and after the tile's own epilogue the first warpgroup stores them,
// through y's staging (one 8 KB half a warpgroup: four 50 KB stages leave
// no room for two), from the tile's row + 128.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="absorb-tails=true" | FileCheck %s
// The default ('auto'): absorbed where an expert has at most 192 rows on
// average at max-tokens (this layer, E = 8, top_k 2: max-tokens 768, not
// the default 4096 or 769).
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="max-tokens=769" | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="absorb-tails=false max-tokens=768" | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="max-tokens=768" | FileCheck %s --check-prefix=AUTO
// RUN: not moe-opt %s --convert-moe-to-moek="absorb-tails=yes" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="absorb-tails=true" 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a absorb-tails=true" | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_90a absorb-tails=true" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: llvm.func @layer_fused_moe_0(
// Two more descriptors (the rows', then the activation's, 16-row boxes).
// CHECK-SAME:    %arg5: !llvm.ptr {{{.*}}nvvm.grid_constant}, %arg6: !llvm.ptr {{{.*}}nvvm.grid_constant}
// CHECK:         moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<16x64xbf16, 3>]>
// CHECK-NEXT:    %[[STAGING:.+]] = moek.smem_alloc {bytes = 16384 : i64}
// CHECK:         moek.grouped_tile_count {{.*}}tail_rows = 16 : i64, tile_rows = 128 : i64}
// CHECK-NEXT:    moek.grouped_tile_count {{.*}}tail_rows = 16 : i64, tile_rows = 128 : i64}
// The producer: GEMM1's tail from the rows, GEMM2's from the activation.
// CHECK:         moek.warp_role "producer"
// CHECK:           moek.grouped_tile {{.*}}tail_rows = 16 : i64
// CHECK:           %[[LEFT:.+]] = arith.subi %row_end, %row : index
// CHECK:           %[[PAST:.+]] = arith.cmpi ugt, %[[LEFT]], %c128{{.*}} : index
// CHECK:           %[[WITHIN:.+]] = arith.cmpi ule, %[[LEFT]], %c144{{.*}} : index
// CHECK-NEXT:      %[[TAIL:.+]] = arith.andi %[[PAST]], %[[WITHIN]] : i1
// CHECK:           arith.select %[[TAIL]], %c2048{{.*}}, %c0
// CHECK:           scf.if %[[TAIL]] {
// CHECK:             moek.tma_load %arg5[{{.*}}] -> %{{.+}} tile 2 :
// CHECK:           moek.tma_load %arg6[{{.*}}] -> %{{.+}} tile 2 :
// The MMA warpgroups: the tile's accumulator and the tail's two products
// in one K loop (three commit groups a stage).
// CHECK:         moek.warp_role "consumer"
// CHECK:           scf.if %{{.+}} -> (!moek.acc<64x256xf32>, !moek.acc<64x16xf32>, !moek.acc<64x16xf32>, index) {
// CHECK:             moek.mma %{{.+}} a(0, %{{.+}}) b(1) acc(%{{.+}}) : {{.*}}, !moek.acc<64x256xf32>
// CHECK-NEXT:        moek.mma %{{.+}} a(1, %{{.+}}) b(2) acc(%{{.+}}) : {{.*}}, !moek.acc<64x16xf32>
// CHECK-NEXT:        moek.mma %{{.+}} a(1, %{{.+}}) b(2) acc(%{{.+}}) : {{.*}}, !moek.acc<64x16xf32>
// CHECK-NEXT:        moek.mma_wait %{{.+}} pending(3)
// GEMM1: the products into the staging before the tile's activation, back
// after it, the first warpgroup's activation of the tail, then the signal.
// CHECK:             moek.store_acc_tma_wait {read}
// CHECK-NEXT:        moek.barrier_sync id(10) threads(256)
// CHECK:             moek.acc_store_transposed
// CHECK-NEXT:        moek.acc_store_transposed %{{.+}} {col = 64 : i64, cols = 128 : i64}
// CHECK-NEXT:      }
// CHECK:           moek.store_act
// CHECK:           scf.if %{{.+}} {
// CHECK-NEXT:        moek.barrier_sync id(10) threads(256)
// CHECK-NEXT:        %[[BACK:.+]] = moek.acc_load_smem %[[STAGING]] {rows = 16 : i64}
// CHECK-NEXT:        moek.barrier_sync id(10) threads(256)
// CHECK:             %[[FIRST:.+]] = arith.cmpi eq, %{{.+}}, %c0{{.*}} : index
// CHECK-NEXT:        scf.if %[[FIRST]] {
// CHECK:               %[[ROW:.+]] = arith.addi %row, %c128{{.*}} : index
// CHECK:               moek.store_act %[[BACK]], %{{.+}}[%[[ROW]], %{{.+}}] row_limit(%row_end)
// CHECK:           moek.signal
// GEMM2: the tile's rows of y first (their staging is the products'), then
// the tail's.
// CHECK:           moek.store_acc_tma %{{.+}} row_limit(%row_end) barrier(%{{.+}}) {halves = 1 : i64
// CHECK-NEXT:      %{{.+}} = arith.subi %row_end, %row : index
// CHECK:           moek.store_acc_tma_wait {read}
// CHECK:           %[[BACK2:.+]] = moek.acc_load_smem %[[STAGING]] {rows = 16 : i64}
// CHECK:             %[[ROW2:.+]] = arith.addi %row, %c128{{.*}} : index
// CHECK:             moek.store_acc_tma %[[BACK2]], {{.*}}[%[[ROW2]], %{{.+}}] row_limit(%row_end)

// AUTO-LABEL: llvm.func @layer_fused_moe_0(
// AUTO:         moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<16x64xbf16, 3>]>
// AUTO:         moek.grouped_tile_count {{.*}}tail_rows = 16 : i64

// BAD: error: convert-moe-to-moek: absorb-tails must be 'auto', 'true' or 'false', got 'yes'

// OFF-LABEL: llvm.func @layer_fused_moe_0(
// OFF-NOT:     tail_rows
// OFF-NOT:     memref<16x64xbf16
// OFF:         llvm.return

// REMARK: remark: convert-moe-to-moek: absorb-tails not applied (it takes bf16 weights and rows on sm_90a, one GPU, small-tiles, bf16 y stored by TMA, without gather-rows, dispatch-readiness or biases)
// REMARK-NOT: absorb-tails not applied

// PTX-LABEL: .entry layer_fused_moe_0(
// PTX:         wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16
// PTX:         cp.async.bulk.wait_group.read 0;
// PTXAS: Compiling entry function 'layer_fused_moe_0' for 'sm_90a'
func.func @layer(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}

// -----

// With per-expert biases the tails are not absorbed (ptxas spilled).
// OFF-LABEL: llvm.func @with_bias_fused_moe_0(
// OFF-NOT:     tail_rows
func.func @with_bias(%x: tensor<?x256xbf16>, %ids: tensor<?x4xi32>, %w: tensor<?x4xf32>, %w13: tensor<8x512x256xbf16>, %w2: tensor<8x256x256xbf16>, %b13: tensor<8x512xbf16>, %b2: tensor<8x256xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_bias(%b13) w2_bias(%b2) {activation = #moe<activation clamped_swiglu>, alpha = 1.702 : f32, limit = 7.0 : f32, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>, tensor<8x512xbf16>, tensor<8x256xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
