//===- Evaluator.h - Evaluate moe functions on the CPU ----------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The reference evaluator: interprets a func.func of moe ops on host tensors
// with the kernels of Kernels.h, and makes seeded random arguments for it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_REFERENCE_EVALUATOR_H
#define MOE_REFERENCE_EVALUATOR_H

#include "moe/Reference/Tensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/Error.h"

namespace moe::ref {

/// The element kind of an MLIR element type, or an error naming the type.
llvm::Expected<ElemKind> getElemKind(mlir::Type type);

/// The concrete shape of argument `index` of `func`: every dynamic dimension
/// is the token count `tokens` (only T may be dynamic in a moe function).
llvm::SmallVector<int64_t> getArgumentShape(mlir::func::FuncOp func,
                                            unsigned index, int64_t tokens);

/// A seeded random value for argument `index`, whose distribution follows
/// the argument's role, read from its uses: expert weights are scaled by
/// 1/sqrt(fan-in), block scales are positive, expert ids are K distinct
/// experts per token with about 1 slot in 16 masked (-1), router weights are
/// in (0, 1], group offsets (the [E+1] offsets operand of moe.expert_matmul)
/// give each of the rows (`tokens` if the row dim is dynamic) to a random
/// expert: nondecreasing, offsets[0] = 0, offsets[E] = the row count, some
/// experts empty. The same (seed, index, role) gives the same values, so a
/// function and its fused form see the same inputs.
llvm::Expected<Tensor> makeRandomArgument(mlir::func::FuncOp func,
                                          unsigned index, int64_t tokens,
                                          uint64_t seed);

/// Evaluates `func` on `args` (one per argument, of its element kind and
/// shape). Fails with a message naming the op on an op it cannot evaluate or
/// a shape that contradicts the IR.
llvm::Expected<llvm::SmallVector<Tensor>>
evaluate(mlir::func::FuncOp func, llvm::ArrayRef<Tensor> args);

} // namespace moe::ref

#endif // MOE_REFERENCE_EVALUATOR_H
