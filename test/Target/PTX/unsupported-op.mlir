// An op the chip lacks (here wgmma, sm_90a only, compiled for sm_100a) is an
// MLIR diagnostic and a non-zero exit, never an LLVM "Cannot select" abort:
// whether the kernel has no target, a target with verifyTarget = false, or
// no gpu.module at all. Ops of other dialects are refused as well, and the
// last case reaches LLVM: its fatal error becomes a diagnostic too.

// RUN: not moe-translate --moe-to-ptx --chip=sm_100a --split-input-file %s 2>&1 | FileCheck %s --implicit-check-not="LLVM ERROR" --implicit-check-not="Stack dump"
// RUN: not moe-translate --moe-to-cubin --chip=sm_100a --split-input-file %s 2>&1 | FileCheck %s --implicit-check-not="LLVM ERROR" --implicit-check-not="Stack dump"

// No #nvvm.target: emitPTX attaches one for --chip and re-verifies.
module attributes {gpu.container_module} {
  gpu.module @no_target {
    llvm.func @negative_wgmma_no_target() attributes {nvvm.kernel} {
      // CHECK: error: 'nvvm.wgmma.fence.aligned' op is not supported on sm_100a
      nvvm.wgmma.fence.aligned
      llvm.return
    }
  }
}

// -----

// verifyTarget = false turns the upstream check off; ours still runs.
module attributes {gpu.container_module} {
  gpu.module @unverified [#nvvm.target<chip = "sm_100a", features = "+ptx88", verifyTarget = false>] {
    llvm.func @negative_wgmma_unverified_target() attributes {nvvm.kernel} {
      // CHECK: error: 'nvvm.wgmma.fence.aligned' op is not supported on sm_100a
      nvvm.wgmma.fence.aligned
      llvm.return
    }
  }
}

// -----

// No gpu.module: llvm.func kernels directly; each unsupported op kind once.
llvm.func @negative_wgmma_plain_module() attributes {nvvm.kernel} {
  // CHECK: error: 'nvvm.wgmma.fence.aligned' op is not supported on sm_100a
  nvvm.wgmma.fence.aligned
  nvvm.wgmma.fence.aligned
  // CHECK-NOT: error: 'nvvm.wgmma.fence.aligned'
  // CHECK: error: 'nvvm.wgmma.commit.group.sync.aligned' op is not supported on sm_100a
  nvvm.wgmma.commit.group.sync.aligned
  llvm.return
}

// -----

// Kernels must be lowered to LLVM + NVVM first. (This gpu.module also gets
// its #nvvm.target while the NVVM dialect is not loaded yet.)
module attributes {gpu.container_module} {
  gpu.module @not_lowered {
    // CHECK: error: expects LLVM and NVVM dialect ops only, found 'gpu.func'; lower it first
    gpu.func @negative_gpu_func() kernel {
      gpu.return
    }
  }
}

// -----

// An intrinsic called directly escapes the NVVM checks; instruction
// selection fails, and the fatal error becomes a diagnostic.
// CHECK: error: LLVM failed to generate PTX: Cannot select: intrinsic %llvm.nvvm.wgmma.fence.sync.aligned
llvm.func @negative_wgmma_intrinsic() attributes {nvvm.kernel} {
  llvm.call_intrinsic "llvm.nvvm.wgmma.fence.sync.aligned"() : () -> ()
  llvm.return
}
