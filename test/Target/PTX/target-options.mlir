// --chip, --features, --opt-level and --gpu-module: the default target,
// overrides, and what is refused before LLVM sees it.

// RUN: moe-translate --moe-to-ptx %s | FileCheck %s --check-prefix=DEFAULT
// RUN: moe-translate --moe-to-ptx --chip=sm_100a --features=+ptx90 --opt-level=0 %s | FileCheck %s --check-prefix=SM100
// RUN: not moe-translate --moe-to-ptx --chip=sm_999 %s 2>&1 | FileCheck %s --check-prefix=BADCHIP
// RUN: not moe-translate --moe-to-ptx --features=+ptx91 %s 2>&1 | FileCheck %s --check-prefix=BADFEATURE
// RUN: not moe-translate --moe-to-ptx --opt-level=4 %s 2>&1 | FileCheck %s --check-prefix=BADLEVEL
// The PTX ISA is below sm_100a's minimum (8.6): LLVM's fatal error, caught.
// RUN: not moe-translate --moe-to-ptx --chip=sm_100a --features=+ptx80 %s 2>&1 | FileCheck %s --check-prefix=OLDPTX
// RUN: %if ptxas %{ moe-translate --moe-to-ptx %s -o %t.ptx && %ptxas -arch=sm_90a %t.ptx -o %t.cubin %}

// A module of llvm.func (no gpu.module) compiles as a whole, for sm_90a with
// PTX ISA 8.8 unless told otherwise.
// DEFAULT:     .version 8.8
// DEFAULT:     .target sm_90a
// DEFAULT:     .entry plain_kernel(
// DEFAULT:     mov.u32 {{.*}}%tid.x
// DEFAULT:     ld.acquire.sys.global.u32

// SM100:       .version 9.0
// SM100:       .target sm_100a
// SM100:       .entry plain_kernel(

// BADCHIP-NOT: not a recognized processor
// BADCHIP:     error: unknown chip 'sm_999' (expected e.g. sm_90a, sm_100a)
// BADFEATURE-NOT: not a recognized feature
// BADFEATURE:  error: unknown NVPTX target feature 'ptx91'
// BADLEVEL:    error: opt level must be 0-3, got 4
// OLDPTX:      error: LLVM failed to generate PTX: PTX version 8.0 does not support target 'sm_100a'. Minimum required PTX version is 8.6.
// OLDPTX-NOT:  LLVM ERROR

llvm.func @plain_kernel(%flag: !llvm.ptr<1>, %out: !llvm.ptr<1>) attributes {nvvm.kernel} {
  %tid = nvvm.read.ptx.sreg.tid.x : i32
  // inline_ptx needs convert-nvvm-to-llvm, which emitPTX runs.
  %seen = nvvm.inline_ptx "ld.acquire.sys.global.u32 $0, [$1];" ro(%flag : !llvm.ptr<1>) -> i32
  %sum = llvm.add %tid, %seen : i32
  %p = llvm.getelementptr %out[%tid] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, i32
  llvm.store %sum, %p : i32, !llvm.ptr<1>
  llvm.return
}
