//===- Pipelines.cpp - Named pipelines of the moe dialect -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void moe::buildGraphOptimizationPipeline(OpPassManager &pm) {
  // Canonicalize first so that the fusion sees one spelling of each chain.
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  // The fusion itself: whole layers become one moe.fused_moe.
  pm.addNestedPass<func::FuncOp>(createMoEFuseExpertsPass());
  // Drop what the fusion left dead and merge duplicated routing.
  pm.addNestedPass<func::FuncOp>(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
}

void moe::registerMoEPassesAndPipelines() {
  registerMoETransformsPasses();
  PassPipelineRegistration<>(
      "moe-graph-optimization-pipeline",
      "Graph-level optimization of moe layers: canonicalize, fuse each "
      "dispatch..combine chain into moe.fused_moe, clean up",
      [](OpPassManager &pm) { buildGraphOptimizationPipeline(pm); });
}
