// convert-moe-to-moek{transposed-wide=true}: the bf16 grouped matmul's
// 192-row variant multiplies the transposed product. Each MMA warpgroup
// takes 64 of the tile's 128 weight rows (tile 1, from row 64 w) as wgmma's
// A and the tile's tokens (tile 0) as B, over the first N tokens, N the
// tile's rows rounded up to 16 (one K loop per N, chosen per tile), so an
// expert's last rows cost MMAs in steps of 16 tokens, not 64; the
// accumulator (64 weight rows x 192 tokens) is stored transposed.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="transposed-wide=true" -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek | FileCheck %s --check-prefix=OFF
// sm_100a's MMA warpgroups (single-issuer=false) keep the usual product.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a single-issuer=false transposed-wide=true" | FileCheck %s --check-prefix=SM100
// SM100-LABEL: func.func @transposed
// SM100:         llvm.func @transposed_expert_matmul_0_m192(
// SM100-NOT:       transposed}
// SM100-NOT:       b(0)
// SM100:           moek.mma {{.*}} a(0, %{{.+}}) b(1)

// CHECK-LABEL: func.func @transposed
// The 128-row kernel is the usual one.
// CHECK:         llvm.func @transposed_expert_matmul_0(
// CHECK:           moek.mma {{.*}} a(0, %{{.+}}) b(1) acc(%{{.+}}) : {{.*}}, !moek.acc<64x256xf32>
// CHECK:         llvm.func @transposed_expert_matmul_0_m192(
// CHECK:           moek.ring_alloc consumers(256) : !moek.ring<5, [memref<192x64xbf16, 3>, memref<128x64xbf16, 3>]>
// CHECK:           moek.warp_role "consumer"
// CHECK:             %[[C192:.+]] = arith.constant 192 : index
// CHECK-NEXT:        %[[TEND:.+]] = arith.addi %[[ROW:.+]], %[[C192]] : index
// CHECK-NEXT:        %[[LIMIT:.+]] = arith.minui %row_end, %[[TEND]] : index
// CHECK-NEXT:        %[[ROWS:.+]] = arith.subi %[[LIMIT]], %[[ROW]] : index
// CHECK-NEXT:        %[[C64:.+]] = arith.constant 64 : index
// CHECK-NEXT:        %[[WROW:.+]] = arith.muli %{{.+}}, %[[C64]] : index
// CHECK:             arith.cmpi ule, %[[ROWS]], %c16 : index
// CHECK:               moek.mma {{.*}} a(1, %[[WROW]]) b(0) acc(%{{.+}}) {cols = 16 : i64} : {{.*}}, !moek.acc<64x192xf32>
// CHECK:               arith.cmpi ule, %[[ROWS]], %c32 : index
// CHECK:                 moek.mma {{.*}} a(1, %[[WROW]]) b(0) acc(%{{.+}}) {cols = 32 : i64}
// CHECK-COUNT-9:         moek.mma {{.*}} a(1, %[[WROW]]) b(0) acc(%{{.+}}) {cols = {{[0-9]+}} : i64}
// All 192 tokens: no cols.
// CHECK:                 moek.mma {{.*}} a(1, %[[WROW]]) b(0) acc(%{{.+}}) : {{.*}}, !moek.acc<64x192xf32>
// Rows from the tile's first, columns from the warpgroup's 64.
// CHECK:             %[[COL:.+]] = arith.addi %{{.+}}, %[[WROW]] : index
// CHECK-NEXT:        moek.store_acc_tma %{{.+}}, %arg2, %{{.+}}, %arg4[%[[ROW]], %[[COL]]] row_limit(%[[LIMIT]]) barrier(%{{.+}}) {halves = 1 : i64, ld = 256 : i64, transposed} : !moek.acc<64x192xf32>
// OFF-LABEL: func.func @transposed
// OFF-NOT:     transposed}
// OFF-NOT:     b(0)
func.func @transposed(%x: tensor<?x512xbf16>, %w: tensor<8x256x512xbf16>, %offsets: tensor<9xi32>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x512xbf16>, tensor<8x256x512xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// -----

// A per-expert bias (one per output column, which the transposed product
// holds along its rows) keeps the usual product.
// CHECK-LABEL: func.func @with_bias
// CHECK:         llvm.func @with_bias_expert_matmul_0_m192(
// CHECK-NOT:       transposed}
// CHECK-NOT:       b(0)
// CHECK:           moek.mma {{.*}} a(0, %{{.+}}) b(1)
func.func @with_bias(%x: tensor<?x512xbf16>, %w: tensor<8x256x512xbf16>, %offsets: tensor<9xi32>, %bias: tensor<8x256xbf16>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets bias(%bias) : (tensor<?x512xbf16>, tensor<8x256x512xbf16>, tensor<9xi32>, tensor<8x256xbf16>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// -----

// N = 320: the last column tile holds 64 weight rows, all the first
// warpgroup's; the second one's are past N, so there it only waits for
// and releases the stages (no MMA) and stores nothing.
// CHECK-LABEL: func.func @last_tile_half
// CHECK:         llvm.func @last_tile_half_expert_matmul_0_m192(
// CHECK:           moek.warp_role "consumer"
// CHECK:             %[[WROW:.+]] = arith.muli %{{.+}}, %c64 : index
// CHECK:             %[[FIRST:.+]] = arith.addi %{{.+}}, %[[WROW]] : index
// CHECK-NEXT:        %[[N:.+]] = arith.constant 320 : index
// CHECK-NEXT:        %[[ACTIVE:.+]] = arith.cmpi ult, %[[FIRST]], %[[N]] : index
// CHECK-NEXT:        scf.if %[[ACTIVE]] -> (index) {
// CHECK:               moek.mma {{.*}} a(1, %[[WROW]]) b(0)
// CHECK:               moek.store_acc_tma {{.*}} transposed}
// CHECK:             } else {
// CHECK-NEXT:          %{{.+}} = arith.constant 0 : index
// CHECK-NEXT:          %{{.+}} = arith.constant 1 : index
// CHECK-NEXT:          scf.for
// CHECK-NEXT:            moek.ring_wait
// CHECK-NEXT:            moek.ring_release
// CHECK-NOT:           moek.mma
// CHECK-NOT:           moek.store_acc_tma {{.*}} transposed}
// CHECK:           moek.store_acc_tma_wait
// With narrow-tiles=false the second warpgroup multiplies the weight rows
// past N as well (its skip is the transposed product's form of narrow-tiles).
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="transposed-wide=true narrow-tiles=false" | FileCheck %s --check-prefix=WHOLE
// WHOLE-LABEL: func.func @last_tile_half
// WHOLE:         llvm.func @last_tile_half_expert_matmul_0_m192(
// WHOLE:           moek.warp_role "consumer"
// WHOLE:             %[[WROW:.+]] = arith.muli %{{.+}}, %c64 : index
// WHOLE-NOT:         arith.cmpi ult
// WHOLE:             moek.mma {{.*}} a(1, %[[WROW]]) b(0)
// WHOLE:             moek.store_acc_tma {{.*}} transposed}
func.func @last_tile_half(%x: tensor<?x512xbf16>, %w: tensor<8x320x512xbf16>, %offsets: tensor<9xi32>) -> tensor<?x320xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x512xbf16>, tensor<8x320x512xbf16>, tensor<9xi32>) -> tensor<?x320xbf16>
  return %y : tensor<?x320xbf16>
}
