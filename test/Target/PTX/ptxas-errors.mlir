// --moe-to-cubin: a missing ptxas and a failing ptxas are diagnostics that
// carry ptxas's own messages; the search order is $MOE_PTXAS first, then
// $CUDA_HOME/bin/ptxas.

// RUN: not moe-translate --moe-to-cubin --ptxas=/nonexistent %s -o %t.cubin 2>&1 | FileCheck %s --check-prefix=MISSING

// A stand-in ptxas that fails, found through $MOE_PTXAS and $CUDA_HOME.
// RUN: rm -rf %t.fake && mkdir -p %t.fake/bin
// RUN: printf '#!/bin/sh\necho "fake ptxas: $*" >&2\nexit 3\n' > %t.fake/bin/ptxas
// RUN: chmod +x %t.fake/bin/ptxas
// RUN: env MOE_PTXAS=%t.fake/bin/ptxas not moe-translate --moe-to-cubin --ptxas-options="--opt-level 2" %s -o %t.cubin 2>&1 | FileCheck %s --check-prefixes=FAKE,OPTIONS
// RUN: env -u MOE_PTXAS CUDA_HOME=%t.fake not moe-translate --moe-to-cubin %s -o %t.cubin 2>&1 | FileCheck %s --check-prefix=FAKE

// The real ptxas rejects an unknown instruction written as inline PTX.
// RUN: %if ptxas %{ not moe-translate --moe-to-cubin --ptxas=%ptxas %s -o %t.cubin 2>&1 | FileCheck %s --check-prefix=REJECT %}

// MISSING:    ptxas-errors.mlir:[[@LINE+9]]:3: error: ptxas '/nonexistent' does not exist or is not executable
// FAKE:       ptxas-errors.mlir:[[@LINE+8]]:3: error: ptxas -arch=sm_90a failed with exit code 3:
// FAKE-NEXT:  fake ptxas: -arch=sm_90a
// OPTIONS-SAME: --opt-level 2
// FAKE-SAME:  {{.*}}.ptx -o {{.*}}.cubin
// REJECT:     ptxas-errors.mlir:[[@LINE+4]]:3: error: ptxas -arch=sm_90a failed with exit code
// REJECT:     error{{ *}}: Not a name of any known instruction: 'moe_no_such_instruction'

module attributes {gpu.container_module} {
  gpu.module @kernels [#nvvm.target<chip = "sm_90a", features = "+ptx88">] {
    llvm.func @negative_bad_inline_ptx(%x: i32) attributes {nvvm.kernel} {
      nvvm.inline_ptx "moe_no_such_instruction.u32 $0;" ro(%x : i32)
      llvm.return
    }
  }
}
