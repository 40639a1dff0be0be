//===- MoEKernelDialect.h - The moek dialect --------------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEKERNEL_IR_MOEKERNELDIALECT_H
#define MOE_DIALECT_MOEKERNEL_IR_MOEKERNELDIALECT_H

#include "mlir/IR/Dialect.h"

#include "moe/Dialect/MoEKernel/IR/MoEKernelOpsDialect.h.inc"

#endif // MOE_DIALECT_MOEKERNEL_IR_MOEKERNELDIALECT_H
