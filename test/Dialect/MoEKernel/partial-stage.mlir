// RUN: moe-opt %s | moe-opt | FileCheck %s
// RUN: moe-opt %s --mlir-print-op-generic | moe-opt | FileCheck %s

// A stage filled in part: one 64-row box of tile 0 (8 KB) and tile 1 (16 KB).
// CHECK-LABEL: func.func @partial_stage
// CHECK:         moek.ring_expect %{{.+}}[%{{.+}}] bytes(%{{.+}})
// CHECK:         moek.tma_load {{.*}} tile 0 {row_offset = 64 : i64}
func.func @partial_stage(%tmap: !llvm.ptr, %i: index, %x: index) {
  %bytes = arith.constant 24576 : index
  %ring = moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
    moek.ring_expect %ring[%i] bytes(%bytes) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
    moek.tma_load %tmap[%x, %x] -> %ring[%i] tile 0 {row_offset = 64 : i64} : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
    moek.tma_load %tmap[%x, %x] -> %ring[%i] tile 1 : !llvm.ptr, !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
  }
  return
}
