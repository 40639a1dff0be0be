//===- GpuCheck.h - Run an artifact on the reference's inputs ---*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// moe-run --gpu=<artifact dir>: after the reference evaluation, launch the
// compiled kernel of the same function through the runtime (MoERuntime.h) on
// the same inputs and compare its outputs with the reference's. The manifest's
// tensors name the function's values: "arg<N>" is argument N, "result<N>" is
// result N.
//
// Built with the runtime only when MOE_ENABLE_CUDA_RUNTIME is on (and cuda.h
// was found); otherwise GpuCheckStub.cpp says that it did not run.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_MOE_RUN_GPUCHECK_H
#define MOE_TOOLS_MOE_RUN_GPUCHECK_H

#include "moe/Reference/Tensor.h"

#include <string>

namespace moe::run {

struct GpuCheckOptions {
  std::string artifactDir;
  int32_t device = 0;
  /// Largest accepted relative Frobenius error of an output.
  double tolerance = 2e-2;
  /// Not running (no driver, no suitable GPU) is a failure (exit 2).
  bool required = false;
};

/// An argument or a result of the evaluated function: the reference's values
/// and the dims of its IR type, -1 for the dynamic (T) dims.
struct GpuOperand {
  const ::moe::ref::Tensor *value = nullptr;
  llvm::SmallVector<int64_t, 4> typeShape;
};

/// Runs the check and prints its `gpu:` lines. Returns moe-run's exit code:
/// 0 if every output matches or if it could not run (no driver, no GPU, a GPU
/// of another architecture), 2 if it could not run and `required` is set, 1
/// on a mismatch or any other error (the message says which).
int runGpuCheck(const GpuCheckOptions &options, llvm::ArrayRef<GpuOperand> args,
                llvm::ArrayRef<GpuOperand> results);

} // namespace moe::run

#endif // MOE_TOOLS_MOE_RUN_GPUCHECK_H
