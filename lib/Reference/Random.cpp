//===- Random.cpp - Seeded inputs for the reference evaluator -------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Counter-based generation. A tensor's key is a hash of (seed, stream); the
// 64-bit word of counter c is splitmix64's output for state key + (c+1)*phi,
// and element i takes the 16-bit chunk i%4 of word i/4. A float distribution
// maps those 16 bits to an index into a small table of exact values (built
// once per tensor, already exact in the tensor's kind), so generation is a
// hash per four elements plus a lookup per element.
//
// ExpertIds rows are generated whole: a splitmix64 sequence seeded by
// hash(key, row) drives a partial Fisher-Yates shuffle of [0, numExperts)
// (only the K swapped positions are stored), then one draw per slot decides
// the mask.
//
// GroupOffsets are small ([E+1]) and made whole: row r goes to the expert
// that hash(key, r) picks, and the offsets are the prefix sums of the counts.
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Random.h"

#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

using namespace moe::ref;

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t makeKey(uint64_t seed, uint64_t stream) {
  return mix64(mix64(seed + kGolden) ^
               mix64(stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL));
}

/// Uniform integer in [0, range) from 16 random bits (multiply-shift).
inline uint32_t scale16(uint32_t bits16, uint32_t range) {
  return (bits16 * range) >> 16;
}

/// Float distributions: element = table[scale16(bits16, table.size())].
class TableGenerator final : public Generator {
public:
  TableGenerator(uint64_t key, std::vector<float> table)
      : key(key), table(std::move(table)) {
    // Affine tables (Symmetric bf16/f32 with a power-of-two scale,
    // Probability): value i is float(i + offset) * step, exactly.
    if (this->table.size() >= 2) {
      for (int32_t offset : {-255, 1, 0}) {
        float step = this->table[1] / float(1 + offset);
        bool ok = std::isfinite(step);
        for (size_t i = 0; ok && i < this->table.size(); ++i) {
          float v = float(int32_t(i) + offset) * step;
          ok = std::memcmp(&v, &this->table[i], sizeof(float)) == 0;
        }
        if (ok) {
          affine = true;
          affineOffset = offset;
          affineStep = step;
          break;
        }
      }
    }
  }

  void fillFloat(int64_t begin, int64_t count, float *out) const override {
    fill(begin, count, out, [](float v) { return v; });
  }
  void fillInt(int64_t begin, int64_t count, int64_t *out) const override {
    fill(begin, count, out, [](float v) { return static_cast<int64_t>(v); });
  }

private:
  template <typename T, typename Convert>
  void fill(int64_t begin, int64_t count, T *out, Convert convert) const {
    const float *values = table.data();
    const uint32_t range = static_cast<uint32_t>(table.size());
    int64_t i = begin, end = begin + count;
    // Leading elements up to a multiple of 4.
    while (i < end && (i & 3) != 0) {
      uint64_t word = mix64(key + (uint64_t(i >> 2) + 1) * kGolden);
      uint32_t bits = (word >> (16 * (i & 3))) & 0xFFFF;
      *out++ = convert(values[scale16(bits, range)]);
      ++i;
    }
    // Whole words, in blocks: the 16-bit indices of a block first (AVX2:
    // four splitmix64 words per vector), then the table lookups.
    uint64_t c = uint64_t(i >> 2);
    constexpr int64_t kBlockWords = 256;
    uint16_t idx[kBlockWords * 4];
    while (i + 4 <= end) {
      int64_t words = std::min<int64_t>(kBlockWords, (end - i) / 4);
      computeIndices(c, words, range, idx);
      lookup(idx, words * 4, out, convert);
      out += words * 4;
      i += words * 4;
      c += uint64_t(words);
    }
    uint64_t state = key + (c + 1) * kGolden;
    // Trailing elements.
    if (i < end) {
      uint64_t word = mix64(state);
      for (; i < end; ++i)
        *out++ =
            convert(values[scale16((word >> (16 * (i & 3))) & 0xFFFF, range)]);
    }
  }

  /// out[t] = table[idx[t]]. For float outputs of an affine table
  /// (table[i] == float(i + affineOffset) * affineStep exactly, checked when
  /// the table is built) the values are computed instead of looked up.
  template <typename T, typename Convert>
  void lookup(const uint16_t *idx, int64_t n, T *out, Convert convert) const {
    const float *values = table.data();
    int64_t t = 0;
#if defined(__AVX2__)
    if constexpr (std::is_same_v<T, float>) {
      if (affine) {
        const __m256i offset = _mm256_set1_epi32(affineOffset);
        const __m256 step = _mm256_set1_ps(affineStep);
        for (; t + 8 <= n; t += 8) {
          __m256i i32 = _mm256_cvtepu16_epi32(
              _mm_loadu_si128(reinterpret_cast<const __m128i *>(idx + t)));
          __m256 v = _mm256_mul_ps(
              _mm256_cvtepi32_ps(_mm256_add_epi32(i32, offset)), step);
          _mm256_storeu_ps(out + t, v);
        }
      } else if (table.size() <= 16) {
        // e2m1: two 8-entry register tables, selected by bit 3.
        float padded[16] = {};
        std::copy(table.begin(), table.end(), padded);
        const __m256 lo = _mm256_loadu_ps(padded);
        const __m256 hi = _mm256_loadu_ps(padded + 8);
        for (; t + 8 <= n; t += 8) {
          __m256i i32 = _mm256_cvtepu16_epi32(
              _mm_loadu_si128(reinterpret_cast<const __m128i *>(idx + t)));
          __m256 a = _mm256_permutevar8x32_ps(lo, i32);
          __m256 b = _mm256_permutevar8x32_ps(hi, i32);
          __m256 useHi = _mm256_castsi256_ps(_mm256_slli_epi32(i32, 28));
          _mm256_storeu_ps(out + t, _mm256_blendv_ps(a, b, useHi));
        }
      }
    }
#endif
    for (; t + 4 <= n; t += 4) {
      T a = convert(values[idx[t]]), b = convert(values[idx[t + 1]]);
      T c = convert(values[idx[t + 2]]), d = convert(values[idx[t + 3]]);
      out[t] = a;
      out[t + 1] = b;
      out[t + 2] = c;
      out[t + 3] = d;
    }
    for (; t < n; ++t)
      out[t] = convert(values[idx[t]]);
  }

  /// idx[4*w + q] = scale16(chunk q of the word of counter c + w, range).
  void computeIndices(uint64_t c, int64_t words, uint32_t range,
                      uint16_t *idx) const {
    int64_t w = 0;
#if defined(__AVX2__)
    const __m256i golden4 = _mm256_set1_epi64x(int64_t(4 * kGolden));
    __m256i state = _mm256_setr_epi64x(
        int64_t(key + (c + 1) * kGolden), int64_t(key + (c + 2) * kGolden),
        int64_t(key + (c + 3) * kGolden), int64_t(key + (c + 4) * kGolden));
    const __m256i rangeV = _mm256_set1_epi16(static_cast<short>(range));
    for (; w + 4 <= words; w += 4) {
      __m256i z = state;
      z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)),
                0xBF58476D1CE4E5B9ULL);
      z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)),
                0x94D049BB133111EBULL);
      z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
      // (bits * range) >> 16 on each 16-bit lane.
      z = _mm256_mulhi_epu16(z, rangeV);
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(idx + 4 * w), z);
      state = _mm256_add_epi64(state, golden4);
    }
#endif
    for (; w < words; ++w) {
      uint64_t word = mix64(key + (c + uint64_t(w) + 1) * kGolden);
      for (int q = 0; q < 4; ++q)
        idx[4 * w + q] =
            static_cast<uint16_t>(scale16((word >> (16 * q)) & 0xFFFF, range));
    }
  }

#if defined(__AVX2__)
  /// Lane-wise a * b modulo 2^64.
  static __m256i mul64(__m256i a, uint64_t b) {
    const __m256i bLo = _mm256_set1_epi64x(int64_t(b & 0xFFFFFFFFULL));
    const __m256i bHi = _mm256_set1_epi64x(int64_t(b >> 32));
    __m256i lo = _mm256_mul_epu32(a, bLo);
    __m256i cross =
        _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), bLo),
                         _mm256_mul_epu32(a, bHi));
    return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
  }
#endif

  uint64_t key;
  std::vector<float> table;
  bool affine = false;
  int32_t affineOffset = 0;
  float affineStep = 0.0f;
};

/// ExpertIds: rows of K distinct ids in [0, numExperts), masked to -1 with
/// probability maskFraction.
class ExpertIdsGenerator final : public Generator {
public:
  ExpertIdsGenerator(uint64_t key, int64_t rowLength, int64_t numExperts,
                     double maskFraction)
      : key(key), rowLength(std::max<int64_t>(rowLength, 1)),
        numExperts(numExperts), maskFraction(maskFraction) {}

  void fillInt(int64_t begin, int64_t count, int64_t *out) const override {
    llvm::SmallVector<int64_t, 16> row;
    int64_t end = begin + count;
    for (int64_t r = begin / rowLength; r * rowLength < end; ++r) {
      generateRow(r, row);
      int64_t lo = std::max(begin, r * rowLength);
      int64_t hi = std::min(end, (r + 1) * rowLength);
      for (int64_t i = lo; i < hi; ++i)
        out[i - begin] = row[i - r * rowLength];
    }
  }
  void fillFloat(int64_t begin, int64_t count, float *out) const override {
    std::vector<int64_t> ids(count);
    fillInt(begin, count, ids.data());
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<float>(ids[i]);
  }

private:
  void generateRow(int64_t r, llvm::SmallVectorImpl<int64_t> &row) const {
    uint64_t state =
        mix64(key ^ mix64(uint64_t(r) * kGolden + 0x5851F42D4C957F2DULL));
    auto next = [&state]() {
      state += kGolden;
      return mix64(state);
    };
    row.assign(rowLength, -1);
    // Partial Fisher-Yates over the virtual array a[i] = i; only the
    // positions that were swapped are stored.
    llvm::SmallVector<std::pair<int64_t, int64_t>, 16> swapped;
    auto get = [&swapped](int64_t pos) {
      for (auto &[p, v] : swapped)
        if (p == pos)
          return v;
      return pos;
    };
    auto set = [&swapped](int64_t pos, int64_t value) {
      for (auto &[p, v] : swapped)
        if (p == pos) {
          v = value;
          return;
        }
      swapped.push_back({pos, value});
    };
    int64_t k = std::min(rowLength, std::max<int64_t>(numExperts, 0));
    for (int64_t i = 0; i < k; ++i) {
      uint64_t span = uint64_t(numExperts - i);
      int64_t j =
          i + int64_t((static_cast<unsigned __int128>(next()) * span) >> 64);
      int64_t vi = get(i), vj = get(j);
      set(j, vi);
      row[i] = vj;
    }
    for (int64_t i = 0; i < rowLength; ++i) {
      double u = double(next() >> 11) * 0x1.0p-53;
      if (u < maskFraction)
        row[i] = -1;
    }
  }

  uint64_t key;
  int64_t rowLength;
  int64_t numExperts;
  double maskFraction;
};

bool isPowerOfTwo(float scale) {
  if (!(scale > 0.0f) || std::isinf(scale))
    return false;
  int ex = 0;
  return std::frexp(scale, &ex) == 0.5f;
}

/// Rounds a table entry into the tensor's kind where it may not be exact
/// (E8M0 tables are built from exact powers of two and never get here).
float toKind(ElemKind kind, float value) {
  if (!isFloatKind(kind) || kind == ElemKind::F32 ||
      kind == ElemKind::F8E8M0FNU)
    return value;
  return roundTo(kind, value);
}

std::vector<float> makeTable(ElemKind kind, const RandomSpec &spec) {
  std::vector<float> table;
  Distribution dist = spec.distribution;
  if (kind == ElemKind::F8E8M0FNU &&
      (dist == Distribution::Symmetric || dist == Distribution::Probability))
    dist = Distribution::PositiveScale;
  switch (dist) {
  case Distribution::Symmetric:
    if (kind == ElemKind::F8E4M3FN) {
      for (uint32_t code = 0; code < 256; ++code)
        if ((code & 0x7F) != 0x7F)
          table.push_back(decode(kind, code));
    } else if (kind == ElemKind::F4E2M1FN) {
      for (uint32_t code = 0; code < 16; ++code)
        table.push_back(decode(kind, code));
    } else {
      bool exact = isPowerOfTwo(spec.scale) || !isFloatKind(kind);
      float scale = isFloatKind(kind) ? spec.scale : 1.0f;
      for (int n = -255; n <= 255; ++n) {
        float v = isFloatKind(kind) ? (float(n) / 256.0f) * scale : float(n);
        table.push_back(exact ? v : toKind(kind, v));
      }
    }
    break;
  case Distribution::PositiveScale:
    if (kind == ElemKind::F8E8M0FNU) {
      // round(log2 scale); a non-positive or non-finite scale counts as 1.
      double l2 = spec.scale > 0.0f && std::isfinite(spec.scale)
                      ? std::log2(double(spec.scale))
                      : 0.0;
      int e0 = static_cast<int>(std::lround(l2));
      for (int j = -1; j <= 1; ++j)
        table.push_back(std::ldexp(1.0f, std::clamp(e0 + j, -127, 127)));
    } else if (kind == ElemKind::F8E4M3FN || kind == ElemKind::F4E2M1FN) {
      for (int n = 0; n < 16; ++n)
        table.push_back(roundTo(kind, spec.scale * (1.0f + float(n) / 16.0f)));
    } else if (!isFloatKind(kind)) {
      for (int n = 0; n < 256; ++n)
        table.push_back(float(n));
    } else {
      for (int n = 0; n < 256; ++n)
        table.push_back(toKind(kind, spec.scale * (1.0f + float(n) / 256.0f)));
    }
    break;
  case Distribution::Probability:
  case Distribution::ExpertIds:    // float kinds only reach here for
  case Distribution::GroupOffsets: // Probability
    for (int n = 0; n < 256; ++n)
      table.push_back(isFloatKind(kind) ? toKind(kind, float(n + 1) / 256.0f)
                                        : float(n + 1));
    break;
  }
  return table;
}

/// GroupOffsets: `numRows` rows, each to an expert in [0, E) drawn alone,
/// as prefix sums over E = numElements - 1 experts.
Tensor makeGroupOffsets(ElemKind kind, llvm::ArrayRef<int64_t> shape,
                        uint64_t key, int64_t numRows) {
  Tensor t(kind, shape);
  int64_t n = t.getNumElements();
  int64_t numExperts = n - 1;
  if (numExperts < 1)
    return t; // [0] or [1]: no expert to give rows to
  std::vector<int64_t> counts(static_cast<size_t>(numExperts), 0);
  for (int64_t r = 0; r < numRows; ++r) {
    uint64_t bits =
        mix64(key ^ mix64(uint64_t(r) * kGolden + 0x2545F4914F6CDD1DULL));
    uint64_t e = uint64_t(
        (static_cast<unsigned __int128>(bits) * uint64_t(numExperts)) >> 64);
    ++counts[e];
  }
  std::vector<int64_t> offsets(static_cast<size_t>(n), 0);
  for (int64_t e = 0; e < numExperts; ++e)
    offsets[e + 1] = offsets[e] + counts[e];
  if (t.isFloat())
    for (int64_t i = 0; i < n; ++i)
      t.floats()[i] = static_cast<float>(offsets[i]);
  else
    t.ints() = std::move(offsets);
  return t;
}

} // namespace

Tensor moe::ref::makeRandomTensor(ElemKind kind, llvm::ArrayRef<int64_t> shape,
                                  uint64_t seed, uint64_t stream,
                                  const RandomSpec &spec) {
  uint64_t key = makeKey(seed, stream);
  if (spec.distribution == Distribution::ExpertIds) {
    int64_t rowLength = shape.empty() ? 1 : shape.back();
    return Tensor(kind, shape,
                  std::make_shared<ExpertIdsGenerator>(
                      key, rowLength, spec.numExperts, spec.maskFraction));
  }
  if (spec.distribution == Distribution::GroupOffsets)
    return makeGroupOffsets(kind, shape, key, spec.numRows);
  return Tensor(kind, shape,
                std::make_shared<TableGenerator>(key, makeTable(kind, spec)));
}
