//===- DivisionTest.cpp - The fused epilogue's branch-free division -------===//
//
// A host model of divideInRange (lib/Codegen/KernelToNVVM/Activation.cpp):
// r1 = r0 + r0 (1 - d r0), q0 = n r1, q = q0 + r1 (n - d q0), each step one
// IEEE f32 operation (fma where the kernel has fma.rn.f32), with r0 the
// hardware's reciprocal approximation (rcp.approx: at most 1 ulp off; here
// up to 2 ulps either side of the correctly rounded reciprocal). Where the
// kernel's range check passes, q must be the IEEE quotient n / d, also for
// quotients next to a tie between two floats; divisors whose significand
// is all ones are the case the check must exclude.
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#pragma clang fp contract(off)

namespace {

float model(float n, float d, float r0) {
  float r1 = std::fma(r0, std::fma(-d, r0, 1.0f), r0);
  float q0 = n * r1;
  return std::fma(std::fma(-d, q0, n), r1, q0);
}

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

float fromBits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// divideInRange's range check (d >= 1 in every use).
bool inRange(float n, float d, float q) {
  return d <= 0x1p100f && std::fabs(n) <= 0x1p100f &&
         std::fabs(q) >= 0x1p-100f && (bits(d) & 0x7fffff) != 0x7fffff;
}

struct Mismatches {
  long checked = 0, wrong = 0;
};

// Divisors 1 + 2^u and 2^u (sigmoid and general), near powers of two and
// near an all-ones significand; dividends 1, random, or such that n / d lies
// next to the midpoint of two floats.
Mismatches sample(long count, bool allOnes) {
  std::mt19937_64 gen(20261204);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto pow2 = [&](double lo, double hi) {
    return static_cast<float>(std::exp2(lo + (hi - lo) * unit(gen)));
  };
  Mismatches m;
  for (long i = 0; i < count; ++i) {
    float d = gen() % 2 ? pow2(0, 100) : 1.0f + pow2(-30, 2);
    if (gen() % 8 == 0)
      d = std::ldexp(1.0f, static_cast<int>(gen() % 100));
    if (gen() % 5 == 0)
      d = fromBits((bits(d) & ~0x7fffffu) | (0x7fffffu - gen() % 16));
    if (allOnes)
      d = fromBits(bits(d) | 0x7fffffu);
    if (!(d >= 1.0f))
      d = 1.0f;
    float n = pow2(-100, 100) * (gen() % 2 ? 1.0f : -1.0f);
    if (gen() % 4 == 0)
      n = 1.0f;
    if (gen() % 3 == 0) {
      float q = pow2(-60, 60);
      double mid = (static_cast<double>(q) +
                    static_cast<double>(std::nextafter(q, INFINITY))) /
                   2;
      n = static_cast<float>(mid * static_cast<double>(d));
    }
    float ref = n / d;
    if (allOnes ? !(d <= 0x1p100f && std::fabs(n) <= 0x1p100f &&
                    std::fabs(ref) >= 0x1p-100f)
                : !inRange(n, d, ref))
      continue;
    float rc = static_cast<float>(1.0 / static_cast<double>(d));
    float r0 = rc;
    for (int k = 0; k < 2; ++k)
      r0 = std::nextafter(r0, 0.0f);
    for (int k = 0; k < 5; ++k, r0 = std::nextafter(r0, INFINITY)) {
      ++m.checked;
      if (model(n, d, r0) != ref)
        ++m.wrong;
    }
  }
  return m;
}

TEST(DivideInRange, IeeeQuotientInItsRange) {
  Mismatches m = sample(2000000, /*allOnes=*/false);
  EXPECT_GT(m.checked, 5000000);
  EXPECT_EQ(m.wrong, 0);
}

TEST(DivideInRange, AllOnesSignificandsNeedTheFallback) {
  // The case the range check excludes: the Newton step can miss the
  // correctly rounded reciprocal, and the quotient then rounds the other
  // way at a tie (e.g. 1 / 0x1.fffffep+72 with r0 one ulp above).
  Mismatches m = sample(200000, /*allOnes=*/true);
  EXPECT_GT(m.checked, 500000);
  EXPECT_GT(m.wrong, 0);
  EXPECT_NE(model(1.0f, 0x1.fffffep+72f, 0x1.000004p-73f), 1.0f / 0x1.fffffep+72f);
}

} // namespace
