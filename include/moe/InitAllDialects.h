//===- InitAllDialects.h - Register the project's dialects ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_INITALLDIALECTS_H
#define MOE_INITALLDIALECTS_H

namespace mlir {
class DialectRegistry;
namespace moe {

/// Adds every dialect a moe pipeline reads or produces to `registry`: moe,
/// moek, and the upstream func, arith, scf, llvm, nvvm and gpu dialects.
/// (Defined out of line so that tools do not pay for the dialect headers.)
void registerAllDialects(DialectRegistry &registry);

} // namespace moe
} // namespace mlir

#endif // MOE_INITALLDIALECTS_H
