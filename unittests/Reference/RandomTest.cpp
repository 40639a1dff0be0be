//===- RandomTest.cpp - Seeded inputs of the reference evaluator ----------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The GroupOffsets distribution: valid offsets of rows grouped by expert,
// determined by (seed, stream), spread like a multinomial.
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Random.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <vector>

using namespace moe::ref;

namespace {

std::vector<int64_t> groupOffsets(int64_t numExperts, int64_t numRows,
                                  uint64_t seed, uint64_t stream,
                                  ElemKind kind = ElemKind::I32) {
  RandomSpec spec;
  spec.distribution = Distribution::GroupOffsets;
  spec.numRows = numRows;
  Tensor t = makeRandomTensor(kind, {numExperts + 1}, seed, stream, spec);
  std::vector<int64_t> v(numExperts + 1);
  t.readInt(0, numExperts + 1, v.data());
  return v;
}

TEST(GroupOffsetsTest, ValidOffsets) {
  for (int64_t E : {1, 2, 8, 256})
    for (int64_t rows : {0, 1, 7, 64, 512, 1000})
      for (uint64_t seed : {1, 2, 99}) {
        std::vector<int64_t> off = groupOffsets(E, rows, seed, 2);
        ASSERT_EQ(off.size(), size_t(E + 1));
        EXPECT_EQ(off.front(), 0);
        EXPECT_EQ(off.back(), rows) << "E " << E << " seed " << seed;
        for (int64_t e = 0; e < E; ++e)
          EXPECT_LE(off[e], off[e + 1]) << "E " << E << " e " << e;
      }
}

TEST(GroupOffsetsTest, DeterministicInSeedAndStream) {
  EXPECT_EQ(groupOffsets(8, 512, 1, 2), groupOffsets(8, 512, 1, 2));
  EXPECT_EQ(groupOffsets(8, 512, 1, 2, ElemKind::I64),
            groupOffsets(8, 512, 1, 2));
  EXPECT_NE(groupOffsets(8, 512, 1, 2), groupOffsets(8, 512, 2, 2));
  EXPECT_NE(groupOffsets(8, 512, 1, 2), groupOffsets(8, 512, 1, 3));
}

TEST(GroupOffsetsTest, SpreadLikeAMultinomial) {
  // 512 rows over 256 experts (2 per expert on average): about e^-2 = 13.5%
  // of the experts get none, and the counts vary.
  std::vector<int64_t> off = groupOffsets(256, 512, 1, 2);
  int64_t empty = 0, maxCount = 0;
  for (int64_t e = 0; e < 256; ++e) {
    empty += off[e + 1] == off[e];
    maxCount = std::max(maxCount, off[e + 1] - off[e]);
  }
  EXPECT_GE(empty, 15);
  EXPECT_LE(empty, 55);
  EXPECT_GE(maxCount, 5);
  // Many rows: each of 8 experts gets close to an eighth.
  off = groupOffsets(8, 80000, 3, 1);
  for (int64_t e = 0; e < 8; ++e) {
    EXPECT_GT(off[e + 1] - off[e], 9500) << "expert " << e;
    EXPECT_LT(off[e + 1] - off[e], 10500) << "expert " << e;
  }
}

} // namespace
