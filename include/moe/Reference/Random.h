//===- Random.h - Seeded inputs for the reference evaluator -----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Counter-based random tensors: value i of stream s under seed S depends only
// on (S, s, i), so any slice can be generated alone, in any order, by any
// thread, and a function evaluated before and after a pass sees the same
// inputs. Generated values are exactly representable in the tensor's kind
// (no rounding at generation).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_REFERENCE_RANDOM_H
#define MOE_REFERENCE_RANDOM_H

#include "moe/Reference/Tensor.h"

namespace moe::ref {

enum class Distribution : uint8_t {
  /// Float kinds: bf16/f32: (n / 256) * scale with n uniform in [-255, 255]
  /// (scale should be a power of two so values stay exact); e4m3 and e2m1:
  /// a uniformly random finite encoding (scale ignored).
  Symmetric,
  /// Positive block scales around `scale`: f32: scale * (1 + n/256), n in
  /// [0, 255]; UE8M0: 2^(round(log2 scale) + j), j in {-1, 0, 1}; e4m3: the
  /// e4m3 value nearest to scale * (1 + n/16), n in [0, 15].
  PositiveScale,
  /// Integer kinds, shape [T, K]: each row holds K distinct expert ids drawn
  /// uniformly from [0, numExperts) (K <= numExperts); then each slot is
  /// masked to -1 with probability maskFraction.
  ExpertIds,
  /// F32 in (0, 1]: (n + 1) / 256, n in [0, 255].
  Probability,
  /// Integer kinds, shape [E+1]: the row offsets of numRows rows grouped by
  /// expert. Each row goes to an expert drawn uniformly from [0, E), alone
  /// (a multinomial: experts without rows are common, counts are arbitrary);
  /// offsets[0] = 0, offsets[e+1] = offsets[e] + rows of expert e, so
  /// offsets[E] = numRows.
  GroupOffsets,
};

struct RandomSpec {
  Distribution distribution = Distribution::Symmetric;
  float scale = 1.0f;
  int64_t numExperts = 0;
  double maskFraction = 0.0;
  int64_t numRows = 0; ///< GroupOffsets
};

/// A generated tensor of `kind` and `shape` whose values follow `spec`,
/// determined by (seed, stream, flat index) alone.
Tensor makeRandomTensor(ElemKind kind, llvm::ArrayRef<int64_t> shape,
                        uint64_t seed, uint64_t stream, const RandomSpec &spec);

} // namespace moe::ref

#endif // MOE_REFERENCE_RANDOM_H
