//===- InitAllDialects.h - Register the project's dialects ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_INITALLDIALECTS_H
#define MOE_INITALLDIALECTS_H

#include "moe/Dialect/MoE/IR/MoEDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"

namespace mlir::moe {

/// Adds every dialect a moe pipeline reads or produces to `registry`.
inline void registerAllDialects(DialectRegistry &registry) {
  registry.insert<MoEDialect, func::FuncDialect, arith::ArithDialect>();
}

} // namespace mlir::moe

#endif // MOE_INITALLDIALECTS_H
