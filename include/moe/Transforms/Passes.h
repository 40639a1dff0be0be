//===- Passes.h - Graph-level passes of the moe dialect ---------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TRANSFORMS_PASSES_H
#define MOE_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace mlir::moe {

#define GEN_PASS_DECL
#include "moe/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "moe/Transforms/Passes.h.inc"

/// Builds the graph-level pipeline: canonicalize, fuse, clean up.
void buildGraphOptimizationPipeline(OpPassManager &pm);

/// Registers the passes and the named pipelines with the global registry.
void registerMoEPassesAndPipelines();

} // namespace mlir::moe

#endif // MOE_TRANSFORMS_PASSES_H
