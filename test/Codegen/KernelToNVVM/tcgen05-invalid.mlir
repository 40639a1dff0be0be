// What the sm_100a lowering cannot map is an error that names the op and
// the limit (planTensorMemory), never a kernel that computes garbage.
// RUN: moe-opt %s -split-input-file --convert-moek-to-nvvm=chip=sm_100a -verify-diagnostics

!ring = !moek.ring<2, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>

gpu.module @kernels {
  llvm.func @outside_role() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) : !ring
    %zero = moek.mma_zero : !moek.acc<64x128xf32>
    // expected-error @+1 {{'moek.mma' op outside a moek.warp_role has no warpgroup on sm_100a}}
    %a = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%zero) : !ring, !moek.acc<64x128xf32>
    llvm.return
  }
}

// -----

!ring = !moek.ring<2, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>

gpu.module @kernels {
  llvm.func @too_many_pending() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) : !ring
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x128xf32>
      %a = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%zero) : !ring, !moek.acc<64x128xf32>
      // expected-error @+1 {{'moek.mma_wait' op waits with 8 MMAs pending; sm_100a allows fewer than 8}}
      %b = moek.mma_wait %a pending(8) : !moek.acc<64x128xf32>
    }
    llvm.return
  }
}

// -----

!ring = !moek.ring<2, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>

gpu.module @kernels {
  llvm.func @register_accumulator() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) : !ring
    %buf = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %r = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      // expected-error @+1 {{'moek.mma' op accumulates into a register accumulator (from moek.acc_load_smem): on sm_100a an MMA's accumulator starts at mma_zero or zero_init}}
      %a = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%r) : !ring, !moek.acc<64x128xf32>
    }
    llvm.return
  }
}

// -----

// Nor one whose columns were scaled in registers (moek.acc_scale_cols): the
// MMA would add to the unscaled tensor memory.
!ring = !moek.ring<2, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>

gpu.module @kernels {
  llvm.func @scaled_accumulator() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) : !ring
    %cs = moek.smem_alloc {bytes = 576 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x128xf32>
      %a = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%zero) : !ring, !moek.acc<64x128xf32>
      %b = moek.mma_wait %a pending(0) : !moek.acc<64x128xf32>
      %s = moek.acc_scale_cols %b col_scales(%cs) : !moek.acc<64x128xf32>, !llvm.ptr<3>
      // expected-error @+1 {{'moek.mma' op accumulates into a register accumulator (from moek.acc_scale_cols): on sm_100a an MMA's accumulator starts at mma_zero or zero_init}}
      %c = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%s) : !ring, !moek.acc<64x128xf32>
    }
    llvm.return
  }
}

// -----

!ring = !moek.ring<2, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>

gpu.module @kernels {
  // expected-error @+1 {{'llvm.func' op needs 768 tensor-memory columns (2 MMA warpgroups, 768 columns each); a CTA has 512}}
  llvm.func @too_many_columns() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) : !ring
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x256xf32>
      %a = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%zero) : !ring, !moek.acc<64x256xf32>
      %b = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%zero) : !ring, !moek.acc<64x256xf32>
      %c = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%zero) : !ring, !moek.acc<64x256xf32>
    }
    llvm.return
  }
}

// -----

!ring = !moek.ring<2, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>

gpu.module @kernels {
  // expected-error @+1 {{'llvm.func' op has 4 MMA warpgroups; the sm_100a lowering supports up to 3}}
  llvm.func @four_warpgroups() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 640, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(512) : !ring
    moek.warp_role "consumer" warpgroups(1, 4) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x128xf32>
      %a = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%zero) : !ring, !moek.acc<64x128xf32>
    }
    llvm.return
  }
}

// -----

// A block-scaled MMA (M = 128, all lanes, a column range per warpgroup)
// beside a moek.mma (M = 64, two warpgroups in lane halves): one kernel
// lays tensor memory out for one kind.
!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xf8E4M3FN, 3>]>

gpu.module @kernels {
  llvm.func @mixed_kinds() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) : !ring
    %sf = moek.smem_alloc {bytes = 1024 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x128xf32>
      %a = moek.mma %ring[%c0] a(0, %c0) b(2) acc(%zero) {zero_init} : !ring, !moek.acc<64x128xf32>
      // expected-error @+1 {{'moek.mma_block_scaled' op shares its kernel with a moek.mma (M = 64, lane halves): the sm_100a lowering lays tensor memory out for one kind}}
      %p:2 = moek.mma_block_scaled %ring[%c0] a(1) b(0) sf(%sf) : !ring, !moek.acc<64x64xf32>, !moek.acc<64x64xf32>
    }
    llvm.return
  }
}

// -----

// A tensor-memory accumulator ring beside a moek.mma: the ring takes the
// kernel's tensor memory.
!ring = !moek.ring<2, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>

gpu.module @kernels {
  llvm.func @acc_ring_and_mma() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %c0 = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) : !ring
    %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x128xf32>
      // expected-error @+1 {{'moek.mma' op shares its kernel with a moek.acc_ring_alloc: the sm_100a lowering gives tensor memory to one accumulator ring}}
      %a = moek.mma %ring[%c0] a(0, %c0) b(1) acc(%zero) {zero_init} : !ring, !moek.acc<64x128xf32>
    }
    llvm.return
  }
}

// -----

gpu.module @kernels {
  llvm.func @two_acc_rings() attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
    %a = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
    // expected-error @+1 {{'moek.acc_ring_alloc' op shares its kernel with a moek.acc_ring_alloc: the sm_100a lowering gives tensor memory to one accumulator ring}}
    %b = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x128xf32>
    llvm.return
  }
}
