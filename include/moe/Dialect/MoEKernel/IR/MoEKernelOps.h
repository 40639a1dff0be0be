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

namespace mlir::moe::kernel {
/// The shared memory a CTA may have on sm_90a and sm_100a (227 KB): the
/// bound convert-moek-to-nvvm's planner enforces, and the one the kernel
/// builders size their buffers against.
constexpr int64_t kMaxSharedMemory = 232448;
/// One staging half of moek.store_acc_tma: a 64 x 64 bf16 box (8 KB). The
/// kernel builders size the staging in halves; the lowering places box b in
/// half b mod halves.
constexpr int64_t kStagingHalfBytes = 64 * 64 * 2;
} // namespace mlir::moe::kernel

#endif // MOE_DIALECT_MOEKERNEL_IR_MOEKERNELOPS_H
