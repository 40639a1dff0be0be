//===- GpuCheckStub.cpp - moe-run --gpu without the runtime ---------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Compiled instead of GpuCheck.cpp when the CUDA runtime is not built
// (MOE_ENABLE_CUDA_RUNTIME off, or cuda.h not found).
//
//===----------------------------------------------------------------------===//

#include "GpuCheck.h"

#include "llvm/Support/raw_ostream.h"

int moe::run::runGpuCheck(const GpuCheckOptions &options,
                          llvm::ArrayRef<GpuOperand>,
                          llvm::ArrayRef<GpuOperand>) {
  llvm::outs() << "gpu: not run: moe-run was built without the CUDA runtime "
                  "(cuda.h not found, or MOE_ENABLE_CUDA_RUNTIME=OFF)\n";
  return options.required ? 2 : 0;
}
