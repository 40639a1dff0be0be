//===- MoEDialect.h - The moe dialect ---------------------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOE_IR_MOEDIALECT_H
#define MOE_DIALECT_MOE_IR_MOEDIALECT_H

#include "mlir/IR/Dialect.h"

#include "moe/Dialect/MoE/IR/MoEOpsDialect.h.inc"

#endif // MOE_DIALECT_MOE_IR_MOEDIALECT_H
