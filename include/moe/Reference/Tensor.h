//===- Tensor.h - Host tensors of the reference evaluator -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A row-major host tensor. Float kinds store exact float32 values; integer
// kinds store int64. A tensor is either materialized (owns its values) or
// generated: its values are a pure function of the flat index, produced on
// demand, so that a DeepSeek-V3-sized expert weight (11 G values) never has
// to exist in memory at once and each expert slice can be made when a kernel
// reads it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_REFERENCE_TENSOR_H
#define MOE_REFERENCE_TENSOR_H

#include "moe/Reference/Numerics.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace moe::ref {

/// Produces the values of a generated tensor. Implementations must be pure
/// (the same index always gives the same value) and thread-safe.
class Generator {
public:
  virtual ~Generator();
  /// Writes the float values of flat indices [begin, begin + count).
  virtual void fillFloat(int64_t begin, int64_t count, float *out) const = 0;
  /// Writes the integer values of flat indices [begin, begin + count).
  virtual void fillInt(int64_t begin, int64_t count, int64_t *out) const = 0;
};

class Tensor {
public:
  Tensor() = default;
  /// A materialized tensor, zero-filled.
  Tensor(ElemKind kind, llvm::ArrayRef<int64_t> shape);
  /// A generated tensor.
  Tensor(ElemKind kind, llvm::ArrayRef<int64_t> shape,
         std::shared_ptr<const Generator> generator);

  ElemKind getKind() const { return kind; }
  llvm::ArrayRef<int64_t> getShape() const { return shape; }
  int64_t getRank() const { return shape.size(); }
  int64_t getDim(int64_t i) const { return shape[i]; }
  int64_t getNumElements() const;
  bool isFloat() const { return isFloatKind(kind); }
  bool isGenerated() const { return generator != nullptr; }

  /// Reads values of flat indices [begin, begin + count) into `out`, whether
  /// materialized or generated. Float kinds only.
  void readFloat(int64_t begin, int64_t count, float *out) const;
  /// Same for integer kinds.
  void readInt(int64_t begin, int64_t count, int64_t *out) const;
  float getFloat(int64_t flatIndex) const;
  int64_t getInt(int64_t flatIndex) const;

  /// Storage of a materialized tensor (empty for generated tensors).
  std::vector<float> &floats() { return floatData; }
  const std::vector<float> &floats() const { return floatData; }
  std::vector<int64_t> &ints() { return intData; }
  const std::vector<int64_t> &ints() const { return intData; }

  /// A materialized copy (a no-op copy for materialized tensors).
  Tensor materialize() const;

private:
  ElemKind kind = ElemKind::F32;
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<float> floatData;
  std::vector<int64_t> intData;
  std::shared_ptr<const Generator> generator;
};

} // namespace moe::ref

#endif // MOE_REFERENCE_TENSOR_H
