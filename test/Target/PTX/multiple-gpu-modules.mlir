// Several gpu.modules would make several PTX files (each with its own
// .version and .target), so one is compiled at a time: --gpu-module picks it.

// RUN: not moe-translate --moe-to-ptx %s 2>&1 | FileCheck %s --check-prefix=AMBIGUOUS
// RUN: moe-translate --moe-to-ptx --gpu-module=hopper %s | FileCheck %s --check-prefix=HOPPER
// RUN: moe-translate --moe-to-ptx --gpu-module=blackwell %s | FileCheck %s --check-prefix=BLACKWELL
// RUN: not moe-translate --moe-to-ptx --gpu-module=ampere %s 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: %if ptxas %{ moe-translate --moe-to-cubin --gpu-module=blackwell %s -o %t.cubin && test -s %t.cubin %}

// AMBIGUOUS:     error: the input holds 2 gpu.modules (@hopper, @blackwell); choose one with --gpu-module=<name>
// HOPPER:        .target sm_90a
// HOPPER:        .entry hopper_kernel()
// HOPPER-NOT:    blackwell_kernel
// BLACKWELL:     .target sm_100a
// BLACKWELL-NOT: hopper_kernel
// BLACKWELL:     .entry blackwell_kernel()
// MISSING:       error: no gpu.module named @ampere

module attributes {gpu.container_module} {
  gpu.module @hopper [#nvvm.target<chip = "sm_90a", features = "+ptx88">] {
    llvm.func @hopper_kernel() attributes {nvvm.kernel} {
      nvvm.wgmma.fence.aligned
      llvm.return
    }
  }
  gpu.module @blackwell [#nvvm.target<chip = "sm_100a", features = "+ptx88">] {
    llvm.func @blackwell_kernel() attributes {nvvm.kernel} {
      nvvm.tcgen05.fence #nvvm.tcgen05_fence<before>
      llvm.return
    }
  }
}
