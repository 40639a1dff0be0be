//===- Support.h - Helpers shared by the reference evaluator ----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Private to lib/Reference: error and formatting helpers of the kernels, the
// .npy reader and the interpreter.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_REFERENCE_SUPPORT_H
#define MOE_LIB_REFERENCE_SUPPORT_H

#include "moe/Reference/Kernels.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace moe::ref::detail {

/// "[2, 3, 4]".
inline std::string shapeStr(llvm::ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << '[';
  llvm::interleaveComma(shape, os);
  os << ']';
  return s;
}

inline llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

/// The IR spelling of a scheme ("fp8_block", ...).
inline llvm::StringRef schemeName(QuantScheme scheme) {
  switch (scheme) {
  case QuantScheme::FP8Block:
    return "fp8_block";
  case QuantScheme::MXFP8:
    return "mxfp8";
  case QuantScheme::MXFP4:
    return "mxfp4";
  case QuantScheme::NVFP4:
    return "nvfp4";
  }
  return "?";
}

} // namespace moe::ref::detail

#endif // MOE_LIB_REFERENCE_SUPPORT_H
