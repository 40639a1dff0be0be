// The chip comes from --chip or the gpu.module's #nvvm.target; when both are
// given they must agree, and a gpu.module with several targets needs --chip.

// RUN: not moe-translate --moe-to-ptx --chip=sm_100a --split-input-file %s 2>&1 | FileCheck %s --check-prefix=CHIP100
// RUN: not moe-translate --moe-to-cubin --chip=sm_100a --split-input-file %s 2>&1 | FileCheck %s --check-prefix=CHIP100
// RUN: not moe-translate --moe-to-ptx --split-input-file %s 2>&1 | FileCheck %s --check-prefix=NOCHIP
// RUN: moe-translate --moe-to-ptx --chip=sm_90a --split-input-file %s | FileCheck %s --check-prefix=CHIP90

// A kernel verified for sm_90a is not compiled for another chip.
// CHIP100: error: --chip=sm_100a differs from the chip of gpu.module @sm90a_kernels (sm_90a)
// NOCHIP-NOT: error: {{.*}}sm90a_kernels
// CHIP90: .target sm_90a
// CHIP90: .entry wgmma_fence_sm90a()
gpu.module @sm90a_kernels [#nvvm.target<chip = "sm_90a", features = "+ptx88">] {
  llvm.func @wgmma_fence_sm90a() attributes {nvvm.kernel} {
    nvvm.wgmma.fence.aligned
    llvm.return
  }
}

// -----

// Several targets: --chip picks one of them, and must name one of them.
// CHIP100: error: --chip=sm_100a differs from the chip of gpu.module @two_targets (sm_90a, sm_90)
// NOCHIP: error: gpu.module @two_targets has several #nvvm.target (sm_90a, sm_90); choose one with --chip
// CHIP90: .target sm_90a
// CHIP90: .entry two_targets_kernel()
gpu.module @two_targets [#nvvm.target<chip = "sm_90a", features = "+ptx88">, #nvvm.target<chip = "sm_90">] {
  llvm.func @two_targets_kernel() attributes {nvvm.kernel} {
    llvm.return
  }
}
