//===- Pipelines.cpp - Codegen pipelines ------------------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void moe::buildMoEKernelToNVVMPipeline(OpPassManager &pm, StringRef chip) {
  // Kernel ops to NVVM; structured control flow and arith stay for now.
  ConvertMoEKernelToNVVMPassOptions options;
  options.chip = chip.str();
  pm.addPass(createConvertMoEKernelToNVVMPass(options));
  // Loops and ifs (ours and the ones the lowering created) to branches.
  pm.addPass(createSCFToControlFlowPass());
  // Index and integer arithmetic, then branches, to the LLVM dialect.
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  // The casts between converted types must all cancel out now.
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void moe::buildMoEToNVVMPipeline(OpPassManager &pm, StringRef chip) {
  // Generate a kernel for every moe op the code generator supports.
  ConvertMoEToMoEKernelPassOptions options;
  options.chip = chip.str();
  pm.addPass(createConvertMoEToMoEKernelPass(options));
  buildMoEKernelToNVVMPipeline(pm, chip);
}

namespace {
struct KernelToNVVMPipelineOptions
    : public PassPipelineOptions<KernelToNVVMPipelineOptions> {
  Option<std::string> chip{*this, "chip", llvm::cl::desc("Target chip"),
                           llvm::cl::init("sm_90a")};
};
} // namespace

void moe::registerMoECodegenPassesAndPipelines() {
  registerMoECodegenPasses();
  PassPipelineRegistration<KernelToNVVMPipelineOptions>(
      "moek-to-nvvm-pipeline",
      "Lower moek kernels to NVVM + LLVM dialect ops, ready for "
      "moe-translate --moe-to-ptx",
      [](OpPassManager &pm, const KernelToNVVMPipelineOptions &options) {
        buildMoEKernelToNVVMPipeline(pm, options.chip);
      });
  PassPipelineRegistration<KernelToNVVMPipelineOptions>(
      "moe-to-nvvm-pipeline",
      "Generate kernels for moe ops and lower them to NVVM + LLVM dialect "
      "ops (convert-moe-to-moek, then moek-to-nvvm-pipeline)",
      [](OpPassManager &pm, const KernelToNVVMPipelineOptions &options) {
        buildMoEToNVVMPipeline(pm, options.chip);
      });
}
