//===- InitAllPasses.h - Register the project's passes ----------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_INITALLPASSES_H
#define MOE_INITALLPASSES_H

#include "moe/Codegen/Passes.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Transforms/Passes.h"

namespace mlir::moe {

/// Registers our passes and pipelines plus the upstream ones our pipelines
/// use (canonicalize, cse, ...).
inline void registerAllPasses() {
  registerMoEPassesAndPipelines();
  registerMoECodegenPassesAndPipelines();
  registerTransformsPasses();
}

} // namespace mlir::moe

#endif // MOE_INITALLPASSES_H
