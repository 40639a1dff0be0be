//===- Npy.h - .npy files for evaluator inputs and outputs ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads and writes NumPy .npy files (format 1.0/2.0/3.0, C order).
//
// Accepted input dtypes per element kind:
//   F32                      '<f4'
//   BF16                     '<u2' (bf16 bit patterns, as
//                            torch.Tensor.view(torch.uint16)) or '<f4'
//   F8E4M3FN, F8E8M0FNU      '|u1' (bit patterns) or '<f4'
//   F4E2M1FN                 '|u1' (one value per byte, low nibble) or '<f4'
//   I32, I64                 '<i4' or '<i8'
// A '<f4' value that is not exactly a value of the kind is an error that names
// the flat index: inputs are never rounded silently.
// Outputs are written as '<f4' for float kinds (exact) and '<i4'/'<i8' for
// integer kinds.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_REFERENCE_NPY_H
#define MOE_REFERENCE_NPY_H

#include "moe/Reference/Tensor.h"

#include "llvm/Support/Error.h"

namespace moe::ref {

/// Reads `path` as a tensor of `kind`. `expectedShape` must match the file's
/// shape; a dimension of -1 matches any size.
llvm::Expected<Tensor> readNpy(llvm::StringRef path, ElemKind kind,
                               llvm::ArrayRef<int64_t> expectedShape);

/// Writes `tensor` (materialized or generated) to `path`.
llvm::Error writeNpy(llvm::StringRef path, const Tensor &tensor);

} // namespace moe::ref

#endif // MOE_REFERENCE_NPY_H
