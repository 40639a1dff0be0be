// Kernels with short K loops (8 slices of 64) for E = 8: LLVM unrolled such
// loops fully, and the unrolled producer loop spilled out of the producer's
// 40 registers (40-48 bytes; 164 in the 256-row variant with masked
// columns). Every K loop is now marked not to be unrolled: ptxas reports no
// spill and no serialized wgmma for any of the four kernels (the 128-row
// kernel and the 256-row variant of N = 256 and of N = 200).
// RUN: moe-opt --moe-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// CHECK-COUNT-4: 0 bytes spill stores, 0 bytes spill loads

func.func @n256(%x: tensor<?x512xbf16>, %w: tensor<8x256x512xbf16>, %o: tensor<9xi32>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %o : (tensor<?x512xbf16>, tensor<8x256x512xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

func.func @n200(%x: tensor<?x512xbf16>, %w: tensor<8x200x512xbf16>, %o: tensor<9xi32>) -> tensor<?x200xbf16> {
  %y = moe.expert_matmul %x, %w, %o : (tensor<?x512xbf16>, tensor<8x200x512xbf16>, tensor<9xi32>) -> tensor<?x200xbf16>
  return %y : tensor<?x200xbf16>
}
