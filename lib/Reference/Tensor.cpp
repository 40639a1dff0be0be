//===- Tensor.cpp - Host tensors of the reference evaluator ---------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Tensor.h"

#include <algorithm>
#include <cassert>

using namespace moe::ref;

Generator::~Generator() = default;

Tensor::Tensor(ElemKind kind, llvm::ArrayRef<int64_t> shape)
    : kind(kind), shape(shape.begin(), shape.end()) {
  int64_t n = getNumElements();
  if (isFloatKind(kind))
    floatData.assign(n, 0.0f);
  else
    intData.assign(n, 0);
}

Tensor::Tensor(ElemKind kind, llvm::ArrayRef<int64_t> shape,
               std::shared_ptr<const Generator> generator)
    : kind(kind), shape(shape.begin(), shape.end()),
      generator(std::move(generator)) {}

int64_t Tensor::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

void Tensor::readFloat(int64_t begin, int64_t count, float *out) const {
  assert(begin >= 0 && count >= 0 && begin + count <= getNumElements() &&
         "readFloat: range out of bounds");
  if (count <= 0)
    return;
  if (generator) {
    generator->fillFloat(begin, count, out);
    return;
  }
  if (isFloatKind(kind)) {
    std::copy_n(floatData.data() + begin, count, out);
    return;
  }
  // Integer tensor read as floats: convert (not used by the kernels).
  for (int64_t i = 0; i < count; ++i)
    out[i] = static_cast<float>(intData[begin + i]);
}

void Tensor::readInt(int64_t begin, int64_t count, int64_t *out) const {
  assert(begin >= 0 && count >= 0 && begin + count <= getNumElements() &&
         "readInt: range out of bounds");
  if (count <= 0)
    return;
  if (generator) {
    generator->fillInt(begin, count, out);
    return;
  }
  if (!isFloatKind(kind)) {
    std::copy_n(intData.data() + begin, count, out);
    return;
  }
  // Float tensor read as integers: truncate (not used by the kernels).
  for (int64_t i = 0; i < count; ++i)
    out[i] = static_cast<int64_t>(floatData[begin + i]);
}

float Tensor::getFloat(int64_t flatIndex) const {
  float value = 0.0f;
  readFloat(flatIndex, 1, &value);
  return value;
}

int64_t Tensor::getInt(int64_t flatIndex) const {
  int64_t value = 0;
  readInt(flatIndex, 1, &value);
  return value;
}

Tensor Tensor::materialize() const {
  if (!generator)
    return *this;
  Tensor result(kind, shape);
  int64_t n = getNumElements();
  constexpr int64_t chunk = int64_t(1) << 20;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    int64_t count = std::min(chunk, n - begin);
    if (isFloatKind(kind))
      generator->fillFloat(begin, count, result.floatData.data() + begin);
    else
      generator->fillInt(begin, count, result.intData.data() + begin);
  }
  return result;
}
