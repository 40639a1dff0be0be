// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// A warp-specialized grouped matmul in moek: warpgroup 0 produces tiles with
// TMA into a 4-stage ring, warpgroups 1-2 consume them with MMAs and store
// 64-row halves of each 128x128 output tile, masked at the expert's last row.
// Sizes: E = 8 experts, N = 256, K = 512 (8 slices of 64).

// CHECK-LABEL: llvm.func @grouped_gemm
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
// CHECK:         %[[NTILES:.+]] = moek.grouped_tile_count %{{.+}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// CHECK:         moek.warp_role "producer" warpgroups(0, 1) max_regs(40)
// CHECK:           moek.elect_one
// CHECK:           moek.grouped_tile
// CHECK:           moek.ring_acquire %[[RING]]
// CHECK:           moek.ring_expect %[[RING]]
// CHECK:           moek.tma_load %{{.+}}[%{{.+}}, %{{.+}}] -> %[[RING]][%{{.+}}] tile 0
// CHECK:           moek.tma_load %{{.+}}[%{{.+}}, %{{.+}}] -> %[[RING]][%{{.+}}] tile 1
// CHECK:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(232)
// CHECK:           moek.warpgroup_index
// CHECK:           moek.mma_zero : !moek.acc<64x128xf32>
// CHECK:           moek.ring_wait %[[RING]]
// CHECK:           moek.mma %[[RING]][%{{.+}}] a(0, %{{.+}}) b(1) acc(%{{.+}})
// CHECK:           moek.mma_wait %{{.+}} pending(0)
// CHECK:           moek.ring_release %[[RING]]
// CHECK:           moek.store_acc %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) {element_type = bf16, ld = 256 : i64}

gpu.module @kernels {
  llvm.func @grouped_gemm(
      %tmap_x: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %tmap_w: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %offsets: !llvm.ptr<1>, %out: !llvm.ptr<1>)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %cN = arith.constant 256 : index
    %cKT = arith.constant 8 : index
    %ring = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
    %ntiles = moek.grouped_tile_count %offsets {num_experts = 8 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64} : !llvm.ptr<1>
    %bid = moek.block_id
    %grid = moek.grid_size
    moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
      %leader = moek.elect_one
      scf.if %leader {
        %done = scf.for %t = %bid to %ntiles step %grid iter_args(%i0 = %c0) -> (index) {
          %e, %row, %end, %ct = moek.grouped_tile %offsets[%t] {num_experts = 8 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64} : !llvm.ptr<1>
          %wbase = arith.muli %e, %cN : index
          %wcol = arith.muli %ct, %c128 : index
          %wrow = arith.addi %wbase, %wcol : index
          %i1 = scf.for %k = %c0 to %cKT step %c1 iter_args(%i = %i0) -> (index) {
            %kx = arith.muli %k, %c64 : index
            moek.ring_acquire %ring[%i] : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
            moek.ring_expect %ring[%i] : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
            moek.tma_load %tmap_x[%kx, %row] -> %ring[%i] tile 0 : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
            moek.tma_load %tmap_w[%kx, %wrow] -> %ring[%i] tile 1 : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
            %next = arith.addi %i, %c1 : index
            scf.yield %next : index
          }
          scf.yield %i1 : index
        }
      }
    }
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %wg = moek.warpgroup_index
      %arow = arith.muli %wg, %c64 : index
      %done = scf.for %t = %bid to %ntiles step %grid iter_args(%i0 = %c0) -> (index) {
        %e, %row, %end, %ct = moek.grouped_tile %offsets[%t] {num_experts = 8 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64} : !llvm.ptr<1>
        %zero = moek.mma_zero : !moek.acc<64x128xf32>
        %acc, %i1 = scf.for %k = %c0 to %cKT step %c1 iter_args(%a = %zero, %i = %i0) -> (!moek.acc<64x128xf32>, index) {
          moek.ring_wait %ring[%i] : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
          %a1 = moek.mma %ring[%i] a(0, %arow) b(1) acc(%a) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>, !moek.acc<64x128xf32>
          %a2 = moek.mma_wait %a1 pending(0) : !moek.acc<64x128xf32>
          moek.ring_release %ring[%i] : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
          %next = arith.addi %i, %c1 : index
          scf.yield %a2, %next : !moek.acc<64x128xf32>, index
        }
        %r = arith.addi %row, %arow : index
        %col = arith.muli %ct, %c128 : index
        moek.store_acc %acc, %out[%r, %col] row_limit(%end) {element_type = bf16, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
        scf.yield %i1 : index
      }
    }
    llvm.return
  }
}

// Named barriers order two warpgroups: one signals, the other waits.
// CHECK-LABEL: func.func @turns
// CHECK:         moek.barrier_arrive id(1) threads(256)
// CHECK:         moek.barrier_sync id(2) threads(256)
func.func @turns() {
  moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
    moek.barrier_arrive id(1) threads(256)
    moek.barrier_sync id(2) threads(256)
  }
  return
}

