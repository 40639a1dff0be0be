//===- MoEKernelOps.h - Types and ops of the moek dialect -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEKERNEL_IR_MOEKERNELOPS_H
#define MOE_DIALECT_MOEKERNEL_IR_MOEKERNELOPS_H

#include "moe/Dialect/MoEKernel/IR/MoEKernelDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/LLVMIR/LLVMTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_TYPEDEF_CLASSES
#include "moe/Dialect/MoEKernel/IR/MoEKernelOpsTypes.h.inc"

#define GET_OP_CLASSES
#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.h.inc"

#endif // MOE_DIALECT_MOEKERNEL_IR_MOEKERNELOPS_H
