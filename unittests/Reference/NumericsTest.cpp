//===- NumericsTest.cpp - Number formats of the reference evaluator -------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Expected values are computed by hand from the format definitions:
//   e4m3:  S.EEEE.MMM, bias 7, subnormals at E = 0, S.1111.111 = NaN.
//   e2m1:  S.EE.M, bias 1, subnormal 0.5 at E = 0.
//   e8m0:  EEEEEEEE = 2^(E - 127), 0xFF = NaN.
//   bf16:  the top half of an IEEE float32.
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Numerics.h"
#include "moe/Reference/Random.h"
#include "moe/Reference/Tensor.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using namespace moe::ref;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

//===----------------------------------------------------------------------===//
// Kinds
//===----------------------------------------------------------------------===//

TEST(NumericsTest, NamesRoundTrip) {
  EXPECT_EQ(getName(ElemKind::F32), "f32");
  EXPECT_EQ(getName(ElemKind::BF16), "bf16");
  EXPECT_EQ(getName(ElemKind::F8E4M3FN), "f8E4M3FN");
  EXPECT_EQ(getName(ElemKind::F4E2M1FN), "f4E2M1FN");
  EXPECT_EQ(getName(ElemKind::F8E8M0FNU), "f8E8M0FNU");
  EXPECT_EQ(getName(ElemKind::I32), "i32");
  EXPECT_EQ(getName(ElemKind::I64), "i64");
  for (ElemKind k :
       {ElemKind::F32, ElemKind::BF16, ElemKind::F8E4M3FN, ElemKind::F4E2M1FN,
        ElemKind::F8E8M0FNU, ElemKind::I32, ElemKind::I64})
    EXPECT_EQ(parseElemKind(getName(k)), k);
  EXPECT_EQ(parseElemKind("f16"), std::nullopt);
  EXPECT_EQ(parseElemKind("F32"), std::nullopt);
}

TEST(NumericsTest, KindProperties) {
  EXPECT_TRUE(isFloatKind(ElemKind::F8E8M0FNU));
  EXPECT_FALSE(isFloatKind(ElemKind::I32));
  EXPECT_FALSE(isFloatKind(ElemKind::I64));
  EXPECT_EQ(getBitWidth(ElemKind::F32), 32u);
  EXPECT_EQ(getBitWidth(ElemKind::BF16), 16u);
  EXPECT_EQ(getBitWidth(ElemKind::F8E4M3FN), 8u);
  EXPECT_EQ(getBitWidth(ElemKind::F4E2M1FN), 4u);
  EXPECT_EQ(getBitWidth(ElemKind::F8E8M0FNU), 8u);
  EXPECT_EQ(getBitWidth(ElemKind::I64), 64u);
  EXPECT_EQ(getMaxFinite(ElemKind::F8E4M3FN), 448.0f);
  EXPECT_EQ(getMaxFinite(ElemKind::F4E2M1FN), 6.0f);
  EXPECT_EQ(getMaxFinite(ElemKind::F8E8M0FNU), std::ldexp(1.0f, 127));
  // bf16 max: (2 - 2^-7) * 2^127.
  EXPECT_EQ(getMaxFinite(ElemKind::BF16), std::ldexp(255.0f, 120));
  EXPECT_EQ(getMaxFinite(ElemKind::F32), std::numeric_limits<float>::max());
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

TEST(NumericsTest, DecodeE4M3) {
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x00), 0.0f);
  EXPECT_FALSE(std::signbit(decode(ElemKind::F8E4M3FN, 0x00)));
  EXPECT_TRUE(std::signbit(decode(ElemKind::F8E4M3FN, 0x80)));
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x80), 0.0f);
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x01), std::ldexp(1.0f, -9)); // min sub
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x08), std::ldexp(1.0f, -6)); // min norm
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x38), 1.0f);
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x3C), 1.5f);
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x40), 2.0f);
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x7E), 448.0f);
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0x78), 256.0f);
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0xFE), -448.0f);
  EXPECT_EQ(decode(ElemKind::F8E4M3FN, 0xB8), -1.0f);
  EXPECT_TRUE(std::isnan(decode(ElemKind::F8E4M3FN, 0x7F)));
  EXPECT_TRUE(std::isnan(decode(ElemKind::F8E4M3FN, 0xFF)));
  // No infinities: every other code is finite.
  for (uint32_t c = 0; c < 256; ++c) {
    if ((c & 0x7F) != 0x7F) {
      EXPECT_TRUE(std::isfinite(decode(ElemKind::F8E4M3FN, c))) << c;
    }
  }
}

TEST(NumericsTest, DecodeE2M1AllCodes) {
  const float expected[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,
                              4.0f,  6.0f,  -0.0f, -0.5f, -1.0f, -1.5f,
                              -2.0f, -3.0f, -4.0f, -6.0f};
  for (uint32_t c = 0; c < 16; ++c) {
    float v = decode(ElemKind::F4E2M1FN, c);
    EXPECT_EQ(bitsOf(v), bitsOf(expected[c])) << "code " << c << " -> " << v;
  }
}

TEST(NumericsTest, DecodeE8M0) {
  EXPECT_EQ(decode(ElemKind::F8E8M0FNU, 0x00), std::ldexp(1.0f, -127));
  EXPECT_GT(decode(ElemKind::F8E8M0FNU, 0x00), 0.0f);
  EXPECT_EQ(decode(ElemKind::F8E8M0FNU, 0x7F), 1.0f);
  EXPECT_EQ(decode(ElemKind::F8E8M0FNU, 0x80), 2.0f);
  EXPECT_EQ(decode(ElemKind::F8E8M0FNU, 0x7D), 0.25f);
  EXPECT_EQ(decode(ElemKind::F8E8M0FNU, 0xFE), std::ldexp(1.0f, 127));
  EXPECT_TRUE(std::isnan(decode(ElemKind::F8E8M0FNU, 0xFF)));
}

TEST(NumericsTest, DecodeBF16) {
  EXPECT_EQ(decode(ElemKind::BF16, 0x3F80), 1.0f);
  EXPECT_EQ(decode(ElemKind::BF16, 0xC000), -2.0f);
  EXPECT_EQ(decode(ElemKind::BF16, 0x3F81), 1.0f + 0.0078125f); // 1 + 2^-7
  EXPECT_EQ(decode(ElemKind::BF16, 0x0001), std::ldexp(1.0f, -133));
  EXPECT_EQ(decode(ElemKind::BF16, 0x7F80), kInf);
  EXPECT_EQ(decode(ElemKind::BF16, 0xFF80), -kInf);
  EXPECT_TRUE(std::isnan(decode(ElemKind::BF16, 0x7FC0)));
  EXPECT_TRUE(std::isnan(decode(ElemKind::BF16, 0x7F81))); // signaling NaN
  EXPECT_EQ(decode(ElemKind::BF16, 0x7F7F), std::ldexp(255.0f, 120));
  EXPECT_TRUE(std::signbit(decode(ElemKind::BF16, 0x8000)));
}

TEST(NumericsTest, DecodeF32IsBitCast) {
  EXPECT_EQ(decode(ElemKind::F32, 0x3F800000), 1.0f);
  EXPECT_EQ(decode(ElemKind::F32, 0x00000001), std::ldexp(1.0f, -149));
}

//===----------------------------------------------------------------------===//
// Rounding
//===----------------------------------------------------------------------===//

TEST(NumericsTest, BF16RoundsToNearestEven) {
  const float u = std::ldexp(1.0f, -8); // half an ulp of bf16 at 1
  // 1 + 2^-8 is halfway between 1 (even) and 1 + 2^-7 (odd): 1.
  EXPECT_EQ(roundTo(ElemKind::BF16, 1.0f + u), 1.0f);
  EXPECT_EQ(encode(ElemKind::BF16, 1.0f + u), 0x3F80u);
  // 1 + 3*2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(roundTo(ElemKind::BF16, 1.0f + 3 * u), 1.0f + 4 * u);
  EXPECT_EQ(encode(ElemKind::BF16, 1.0f + 3 * u), 0x3F82u);
  // Just above the tie rounds up.
  EXPECT_EQ(roundTo(ElemKind::BF16, 1.0f + u + std::ldexp(1.0f, -20)),
            1.0f + 2 * u);
  EXPECT_EQ(roundTo(ElemKind::BF16, -(1.0f + u)), -1.0f);
  EXPECT_EQ(roundTo(ElemKind::BF16, 3.0f), 3.0f);
  // Overflow follows IEEE: FLT_MAX is past the midpoint to 2^128.
  EXPECT_EQ(roundTo(ElemKind::BF16, std::numeric_limits<float>::max()), kInf);
  EXPECT_EQ(encode(ElemKind::BF16, -kInf), 0xFF80u);
  EXPECT_TRUE(std::isnan(roundTo(ElemKind::BF16, kNaN)));
  // Signed zero survives.
  EXPECT_EQ(encode(ElemKind::BF16, -0.0f), 0x8000u);
}

TEST(NumericsTest, E4M3RoundsToNearestEven) {
  // Step 1/8 in [1, 2).
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, 1.0625f), 1.0f);  // tie -> even
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, 1.1875f), 1.25f); // tie -> even
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, 1.07f), 1.125f);
  // Step 16 in [128, 256).
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, 149.33f), 144.0f);
  // Subnormals: step 2^-9.
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, std::ldexp(1.0f, -10)), 0.0f);
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, std::ldexp(3.0f, -10)),
            std::ldexp(1.0f, -8));
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, std::ldexp(1.0f, -11)), 0.0f);
  EXPECT_EQ(encode(ElemKind::F8E4M3FN, 1.0f), 0x38u);
  EXPECT_EQ(encode(ElemKind::F8E4M3FN, -1.5f), 0xBCu);
}

TEST(NumericsTest, E4M3Saturates) {
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, 500.0f), 448.0f);
  EXPECT_EQ(encode(ElemKind::F8E4M3FN, 500.0f), 0x7Eu);
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, 464.0f), 448.0f); // would-be tie
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, -1e30f), -448.0f);
  EXPECT_EQ(encode(ElemKind::F8E4M3FN, -1e30f), 0xFEu);
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, kInf), 448.0f);
  EXPECT_EQ(encode(ElemKind::F8E4M3FN, kInf), 0x7Eu);
  EXPECT_EQ(encode(ElemKind::F8E4M3FN, -kInf), 0xFEu);
}

TEST(NumericsTest, E4M3NaN) {
  EXPECT_EQ(encode(ElemKind::F8E4M3FN, kNaN), 0x7Fu);
  EXPECT_EQ(encode(ElemKind::F8E4M3FN, -kNaN), 0x7Fu);
  EXPECT_TRUE(std::isnan(roundTo(ElemKind::F8E4M3FN, kNaN)));
}

TEST(NumericsTest, E2M1Rounding) {
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 2.5f), 2.0f);  // tie -> 2 (M=0)
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 2.75f), 3.0f); // nearest
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 3.5f), 4.0f);  // tie -> 4 (M=0)
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 5.0f), 4.0f);  // tie -> 4 (M=0)
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 5.01f), 6.0f);
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 7.0f), 6.0f); // saturates
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, -100.0f), -6.0f);
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, -kInf), -6.0f);
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 0.25f), 0.0f); // tie -> 0
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 0.75f), 1.0f); // tie -> 1 (even)
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 1.25f), 1.0f); // tie -> 1 (even)
  EXPECT_EQ(encode(ElemKind::F4E2M1FN, -5.0f), 0xEu);
  EXPECT_EQ(encode(ElemKind::F4E2M1FN, 6.0f), 0x7u);
  EXPECT_EQ(encode(ElemKind::F4E2M1FN, -0.1f), 0x8u); // -0
  // No NaN in e2m1: NaN becomes +6.
  EXPECT_EQ(encode(ElemKind::F4E2M1FN, kNaN), 0x7u);
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, kNaN), 6.0f);
}

TEST(NumericsTest, RoundFromDoubleRoundsOnce) {
  // 1 + 2^-8 + 2^-40: float rounding alone would give the tie 1 + 2^-8 and
  // then bf16 would give 1; one rounding from double gives 1 + 2^-7.
  double v = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40);
  EXPECT_EQ(roundTo(ElemKind::BF16, v), 1.0f + 0.0078125f);
  EXPECT_EQ(roundTo(ElemKind::BF16, static_cast<float>(v)), 1.0f);
  // e2m1: 2.5 + 2^-40 is above the tie.
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 2.5 + std::ldexp(1.0, -40)), 3.0f);
  EXPECT_EQ(roundTo(ElemKind::F4E2M1FN, 2.5), 2.0f);
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, 1e300), 448.0f);
  EXPECT_EQ(roundTo(ElemKind::F8E4M3FN, std::ldexp(1.0, -200)), 0.0f);
  // f32 from double: one IEEE rounding.
  EXPECT_EQ(roundTo(ElemKind::F32, 1.0 + std::ldexp(1.0, -24)), 1.0f);
  EXPECT_EQ(roundTo(ElemKind::F32, 1.0 + std::ldexp(3.0, -24)),
            1.0f + std::ldexp(1.0f, -22));
}

TEST(NumericsTest, F32RoundToIsIdentity) {
  EXPECT_EQ(roundTo(ElemKind::F32, 0.1f), 0.1f);
  EXPECT_EQ(bitsOf(roundTo(ElemKind::F32, -0.0f)), 0x80000000u);
  EXPECT_EQ(encode(ElemKind::F32, 1.0f), 0x3F800000u);
}

TEST(NumericsTest, EncodeDecodeRoundTripsEveryCode) {
  for (uint32_t c = 0; c < 256; ++c) {
    if ((c & 0x7F) != 0x7F) {
      EXPECT_EQ(encode(ElemKind::F8E4M3FN, decode(ElemKind::F8E4M3FN, c)), c);
    }
  }
  for (uint32_t c = 0; c < 16; ++c)
    EXPECT_EQ(encode(ElemKind::F4E2M1FN, decode(ElemKind::F4E2M1FN, c)), c);
  for (uint32_t c = 0; c < 65536; c += 7) {
    float v = decode(ElemKind::BF16, c);
    if (!std::isnan(v)) {
      EXPECT_EQ(encode(ElemKind::BF16, v), c);
    }
  }
}

//===----------------------------------------------------------------------===//
// Representability and UE8M0 exponents
//===----------------------------------------------------------------------===//

TEST(NumericsTest, IsRepresentable) {
  EXPECT_TRUE(isRepresentable(ElemKind::BF16, 1.0f + 0.0078125f));
  EXPECT_FALSE(isRepresentable(ElemKind::BF16, 1.0f + 0.00390625f));
  EXPECT_TRUE(isRepresentable(ElemKind::BF16, kNaN));
  EXPECT_TRUE(isRepresentable(ElemKind::BF16, -kInf));
  EXPECT_TRUE(isRepresentable(ElemKind::F8E4M3FN, 448.0f));
  EXPECT_FALSE(isRepresentable(ElemKind::F8E4M3FN, 480.0f));
  EXPECT_FALSE(isRepresentable(ElemKind::F8E4M3FN, kInf));
  EXPECT_TRUE(isRepresentable(ElemKind::F8E4M3FN, kNaN));
  EXPECT_TRUE(isRepresentable(ElemKind::F8E4M3FN, std::ldexp(1.0f, -9)));
  EXPECT_FALSE(isRepresentable(ElemKind::F8E4M3FN, std::ldexp(1.0f, -10)));
  EXPECT_TRUE(isRepresentable(ElemKind::F8E4M3FN, -0.0f));
  EXPECT_TRUE(isRepresentable(ElemKind::F4E2M1FN, -6.0f));
  EXPECT_FALSE(isRepresentable(ElemKind::F4E2M1FN, 2.5f));
  EXPECT_FALSE(isRepresentable(ElemKind::F4E2M1FN, 8.0f));
  EXPECT_FALSE(isRepresentable(ElemKind::F4E2M1FN, kNaN));
  EXPECT_TRUE(isRepresentable(ElemKind::F8E8M0FNU, 0.25f));
  EXPECT_TRUE(isRepresentable(ElemKind::F8E8M0FNU, std::ldexp(1.0f, -127)));
  EXPECT_TRUE(isRepresentable(ElemKind::F8E8M0FNU, kNaN));
  EXPECT_FALSE(isRepresentable(ElemKind::F8E8M0FNU, 0.0f));
  EXPECT_FALSE(isRepresentable(ElemKind::F8E8M0FNU, 3.0f));
  EXPECT_FALSE(isRepresentable(ElemKind::F8E8M0FNU, -2.0f));
  EXPECT_FALSE(isRepresentable(ElemKind::F8E8M0FNU, std::ldexp(1.0f, -128)));
  EXPECT_TRUE(isRepresentable(ElemKind::F32, 0.1f));
  EXPECT_TRUE(isRepresentable(ElemKind::I32, -7.0f));
  EXPECT_FALSE(isRepresentable(ElemKind::I32, 0.5f));
}

TEST(NumericsTest, UE8M0Exponent) {
  // 448 / 448 = 1 = 2^0.
  EXPECT_EQ(computeUE8M0Exponent(448.0f, ElemKind::F8E4M3FN), 0);
  // 449 / 448 > 1: 2^0 * 448 < 449, 2^1 * 448 >= 449.
  EXPECT_EQ(computeUE8M0Exponent(449.0f, ElemKind::F8E4M3FN), 1);
  EXPECT_EQ(computeUE8M0Exponent(0.0f, ElemKind::F8E4M3FN), -127);
  // 1 / 448 = 2^-8.81: 2^-8 * 448 = 1.75 >= 1, 2^-9 * 448 = 0.875 < 1.
  EXPECT_EQ(computeUE8M0Exponent(1.0f, ElemKind::F8E4M3FN), -8);
  EXPECT_EQ(computeUE8M0Exponent(896.0f, ElemKind::F8E4M3FN), 1); // exactly 2
  EXPECT_EQ(computeUE8M0Exponent(6.0f, ElemKind::F4E2M1FN), 0);
  EXPECT_EQ(computeUE8M0Exponent(6.5f, ElemKind::F4E2M1FN), 1);
  EXPECT_EQ(computeUE8M0Exponent(3.0f, ElemKind::F4E2M1FN), -1); // exactly 1/2
  EXPECT_EQ(computeUE8M0Exponent(4.0f, ElemKind::F4E2M1FN), 0);
  // 1e38 / 6 = 1.67e37 = 2^123.65.
  EXPECT_EQ(computeUE8M0Exponent(1e38f, ElemKind::F4E2M1FN), 124);
  // 1e-38 / 448 = 2^-135.4: clamped to the smallest UE8M0 exponent.
  EXPECT_EQ(computeUE8M0Exponent(1e-38f, ElemKind::F8E4M3FN), -127);
  // 2^-120 / 448 = 2^-128.8 -> -128 -> clamped.
  EXPECT_EQ(computeUE8M0Exponent(std::ldexp(1.0f, -120), ElemKind::F8E4M3FN),
            -127);
  // 2^-110 / 6 = 2^-112.58 -> -112.
  EXPECT_EQ(computeUE8M0Exponent(std::ldexp(1.0f, -110), ElemKind::F4E2M1FN),
            -112);
}

//===----------------------------------------------------------------------===//
// Tensor and Random
//===----------------------------------------------------------------------===//

TEST(TensorTest, ShapesAndReads) {
  Tensor scalar(ElemKind::F32, {});
  EXPECT_EQ(scalar.getRank(), 0);
  EXPECT_EQ(scalar.getNumElements(), 1);
  EXPECT_EQ(scalar.floats().size(), 1u);
  Tensor empty(ElemKind::BF16, {3, 0});
  EXPECT_EQ(empty.getNumElements(), 0);
  Tensor t(ElemKind::F32, {2, 3});
  for (int i = 0; i < 6; ++i)
    t.floats()[i] = float(i) * 0.5f;
  float buf[3];
  t.readFloat(2, 3, buf);
  EXPECT_EQ(buf[0], 1.0f);
  EXPECT_EQ(buf[2], 2.0f);
  EXPECT_EQ(t.getFloat(5), 2.5f);
  Tensor ids(ElemKind::I64, {4});
  ids.ints() = {5, -1, 7, 2};
  EXPECT_EQ(ids.getInt(1), -1);
  EXPECT_FALSE(ids.isFloat());
  EXPECT_FALSE(ids.isGenerated());
}

TEST(RandomTest, ValuesAreExactAndPure) {
  const int64_t n = 10007;
  for (ElemKind kind : {ElemKind::BF16, ElemKind::F32, ElemKind::F8E4M3FN,
                        ElemKind::F4E2M1FN}) {
    Tensor t =
        makeRandomTensor(kind, {n}, 42, 3, {Distribution::Symmetric, 0.5f});
    EXPECT_TRUE(t.isGenerated());
    std::vector<float> all(n);
    t.readFloat(0, n, all.data());
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(isRepresentable(kind, all[i]))
          << getName(kind).str() << " " << i;
      ASSERT_FALSE(std::isnan(all[i]));
    }
    // Any sub-range, at any alignment, gives the same values.
    for (int64_t begin : {0, 1, 2, 3, 5, 1021, 4093})
      for (int64_t count : {1, 3, 4, 9, 1030, 5000}) {
        std::vector<float> part(count);
        t.readFloat(begin, count, part.data());
        ASSERT_EQ(std::memcmp(part.data(), all.data() + begin, count * 4), 0)
            << getName(kind).str() << " begin " << begin << " count " << count;
      }
    // Another stream or seed gives other values.
    Tensor other = makeRandomTensor(kind, {n}, 42, 4, {});
    std::vector<float> o(n);
    other.readFloat(0, n, o.data());
    EXPECT_NE(std::memcmp(o.data(), all.data(), n * 4), 0);
    // Materializing gives the same values.
    Tensor m = t.materialize();
    EXPECT_FALSE(m.isGenerated());
    EXPECT_EQ(std::memcmp(m.floats().data(), all.data(), n * 4), 0);
  }
}

TEST(RandomTest, SymmetricRangeAndMean) {
  const int64_t n = 1 << 16;
  Tensor t = makeRandomTensor(ElemKind::BF16, {n}, 1, 1,
                              {Distribution::Symmetric, 2.0f});
  std::vector<float> v(n);
  t.readFloat(0, n, v.data());
  double sum = 0;
  for (float f : v) {
    EXPECT_LE(std::fabs(f), 255.0f / 128.0f);
    // (n / 256) * 2: multiples of 2^-7.
    EXPECT_EQ(std::ldexp(f, 7), std::trunc(std::ldexp(f, 7)));
    sum += f;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
}

TEST(RandomTest, ScaleAndProbabilityDistributions) {
  const int64_t n = 4096;
  std::vector<float> v(n);
  makeRandomTensor(ElemKind::F8E8M0FNU, {n}, 1, 2,
                   {Distribution::PositiveScale, 8.0f})
      .readFloat(0, n, v.data());
  for (float f : v)
    EXPECT_TRUE(f == 4.0f || f == 8.0f || f == 16.0f) << f;
  makeRandomTensor(ElemKind::F32, {n}, 1, 3,
                   {Distribution::PositiveScale, 0.5f})
      .readFloat(0, n, v.data());
  for (float f : v) {
    EXPECT_GE(f, 0.5f);
    EXPECT_LT(f, 1.0f);
  }
  makeRandomTensor(ElemKind::F8E4M3FN, {n}, 1, 4,
                   {Distribution::PositiveScale, 1.0f})
      .readFloat(0, n, v.data());
  for (float f : v) {
    EXPECT_GE(f, 1.0f);
    EXPECT_LE(f, 2.0f);
    EXPECT_TRUE(isRepresentable(ElemKind::F8E4M3FN, f));
  }
  makeRandomTensor(ElemKind::F32, {n}, 1, 5, {Distribution::Probability})
      .readFloat(0, n, v.data());
  for (float f : v) {
    EXPECT_GT(f, 0.0f);
    EXPECT_LE(f, 1.0f);
    EXPECT_EQ(f * 256.0f, std::trunc(f * 256.0f));
  }
}

TEST(RandomTest, ExpertIdsAreDistinctPerRow) {
  const int64_t T = 500, K = 8, E = 16;
  Tensor ids = makeRandomTensor(ElemKind::I32, {T, K}, 9, 1,
                                {Distribution::ExpertIds, 1.0f, E, 0.0});
  std::vector<int64_t> v(T * K);
  ids.readInt(0, T * K, v.data());
  std::vector<int64_t> hits(E);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < K; ++k) {
      int64_t id = v[t * K + k];
      ASSERT_GE(id, 0);
      ASSERT_LT(id, E);
      ++hits[id];
      for (int64_t j = 0; j < k; ++j)
        ASSERT_NE(v[t * K + j], id) << "row " << t;
    }
  for (int64_t e = 0; e < E; ++e)
    EXPECT_GT(hits[e], T * K / E / 2) << e;
  // Partial reads agree.
  std::vector<int64_t> part(13);
  ids.readInt(37, 13, part.data());
  for (int i = 0; i < 13; ++i)
    EXPECT_EQ(part[i], v[37 + i]);
  // K == E: every row is a permutation.
  Tensor perm = makeRandomTensor(ElemKind::I64, {3, 4}, 1, 1,
                                 {Distribution::ExpertIds, 1.0f, 4, 0.0});
  for (int64_t t = 0; t < 3; ++t) {
    int64_t seen = 0;
    for (int64_t k = 0; k < 4; ++k)
      seen |= int64_t(1) << perm.getInt(t * 4 + k);
    EXPECT_EQ(seen, 0xF);
  }
}

TEST(RandomTest, ExpertIdsMasking) {
  const int64_t T = 2000, K = 4;
  Tensor ids = makeRandomTensor(ElemKind::I32, {T, K}, 9, 2,
                                {Distribution::ExpertIds, 1.0f, 8, 0.25});
  int64_t masked = 0;
  for (int64_t i = 0; i < T * K; ++i)
    masked += ids.getInt(i) == -1;
  EXPECT_NEAR(double(masked) / (T * K), 0.25, 0.03);
  Tensor all = makeRandomTensor(ElemKind::I32, {5, K}, 9, 2,
                                {Distribution::ExpertIds, 1.0f, 8, 1.0});
  for (int64_t i = 0; i < 5 * K; ++i)
    EXPECT_EQ(all.getInt(i), -1);
}

} // namespace
