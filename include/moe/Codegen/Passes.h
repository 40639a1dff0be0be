//===- Passes.h - Conversions and codegen pipelines -------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_CODEGEN_PASSES_H
#define MOE_CODEGEN_PASSES_H

#include "moe/Dialect/MoEKernel/IR/MoEKernelDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::moe {

#define GEN_PASS_DECL
#include "moe/Codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "moe/Codegen/Passes.h.inc"

/// convert-moek-to-nvvm, then the upstream conversions of scf, arith, index
/// and cf to LLVM, and cleanup: a module ready for moe-translate --moe-to-ptx.
void buildMoEKernelToNVVMPipeline(OpPassManager &pm, StringRef chip);

/// convert-moe-to-moek, then buildMoEKernelToNVVMPipeline.
void buildMoEToNVVMPipeline(OpPassManager &pm, StringRef chip);

/// Registers the codegen passes and the `moek-to-nvvm-pipeline`.
void registerMoECodegenPassesAndPipelines();

} // namespace mlir::moe

#endif // MOE_CODEGEN_PASSES_H
