//===- Numerics.cpp - Number formats of the reference evaluator -----------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Decoding is a table lookup: the tables of the narrow kinds (and the 65536
// bf16 encodings) are built once, with llvm::APFloat, on first use (C++11
// thread-safe static initialization). Encoding rounds with
// APFloat::convert(rmNearestTiesToEven); satfinite is a clamp to +-max before
// the conversion, which cannot then overflow.
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Numerics.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APInt.h"
#include "llvm/Support/ErrorHandling.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

using namespace moe::ref;
using llvm::APFloat;
using llvm::APInt;

namespace {

float bitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint32_t floatToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

const llvm::fltSemantics &getSemantics(ElemKind kind) {
  switch (kind) {
  case ElemKind::F32:
    return APFloat::IEEEsingle();
  case ElemKind::BF16:
    return APFloat::BFloat();
  case ElemKind::F8E4M3FN:
    return APFloat::Float8E4M3FN();
  case ElemKind::F4E2M1FN:
    return APFloat::Float4E2M1FN();
  case ElemKind::F8E8M0FNU:
    return APFloat::Float8E8M0FNU();
  case ElemKind::I32:
  case ElemKind::I64:
    break;
  }
  llvm_unreachable("not a float kind");
}

/// Exact float32 value of one encoding, through APFloat. NaN encodings give a
/// quiet float NaN of the same sign.
float decodeWithAPFloat(const llvm::fltSemantics &sem, unsigned width,
                        uint32_t bits) {
  APFloat value(sem, APInt(width, bits));
  if (value.isNaN()) {
    float nan = std::numeric_limits<float>::quiet_NaN();
    return value.isNegative() ? -nan : nan;
  }
  bool losesInfo = false;
  value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                &losesInfo);
  (void)losesInfo;
  return value.convertToFloat();
}

template <size_t Size>
std::unique_ptr<std::array<float, Size>>
buildTable(const llvm::fltSemantics &sem, unsigned width) {
  auto table = std::make_unique<std::array<float, Size>>();
  for (uint32_t bits = 0; bits < Size; ++bits)
    (*table)[bits] = decodeWithAPFloat(sem, width, bits);
  return table;
}

const std::array<float, 65536> &bf16Table() {
  static const std::unique_ptr<std::array<float, 65536>> table =
      buildTable<65536>(APFloat::BFloat(), 16);
  return *table;
}
const std::array<float, 256> &e4m3Table() {
  static const std::unique_ptr<std::array<float, 256>> table =
      buildTable<256>(APFloat::Float8E4M3FN(), 8);
  return *table;
}
const std::array<float, 16> &e2m1Table() {
  static const std::unique_ptr<std::array<float, 16>> table =
      buildTable<16>(APFloat::Float4E2M1FN(), 4);
  return *table;
}
const std::array<float, 256> &e8m0Table() {
  static const std::unique_ptr<std::array<float, 256>> table =
      buildTable<256>(APFloat::Float8E8M0FNU(), 8);
  return *table;
}

/// Rounds `value` (an APFloat of IEEEsingle or IEEEdouble semantics) into
/// `kind` and returns the encoding.
template <typename T> uint32_t encodeImpl(ElemKind kind, T value) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  bool losesInfo = false;
  switch (kind) {
  case ElemKind::F32: {
    if constexpr (std::is_same_v<T, float>)
      return floatToBits(value);
    APFloat apf(static_cast<double>(value));
    apf.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                &losesInfo);
    return static_cast<uint32_t>(apf.bitcastToAPInt().getZExtValue());
  }
  case ElemKind::BF16: {
    APFloat apf(value);
    apf.convert(APFloat::BFloat(), APFloat::rmNearestTiesToEven, &losesInfo);
    return static_cast<uint32_t>(apf.bitcastToAPInt().getZExtValue());
  }
  case ElemKind::F8E4M3FN:
  case ElemKind::F4E2M1FN: {
    bool isE4M3 = kind == ElemKind::F8E4M3FN;
    if (std::isnan(value))
      return isE4M3 ? 0x7F : 0x7;
    // satfinite: clamp first; the conversion then never overflows.
    T maxFinite = isE4M3 ? T(448) : T(6);
    if (value > maxFinite)
      value = maxFinite;
    else if (value < -maxFinite)
      value = -maxFinite;
    APFloat apf(value);
    apf.convert(getSemantics(kind), APFloat::rmNearestTiesToEven, &losesInfo);
    return static_cast<uint32_t>(apf.bitcastToAPInt().getZExtValue());
  }
  case ElemKind::F8E8M0FNU: {
    // Not a rounding target of the IR; defined here only so that
    // isRepresentable can round-trip. Non-positive, infinite and NaN values
    // give the NaN encoding 0xFF.
    if (!(value > T(0)) || std::isinf(value))
      return 0xFF;
    APFloat apf(value);
    APFloat::opStatus status = apf.convert(
        APFloat::Float8E8M0FNU(), APFloat::rmNearestTiesToEven, &losesInfo);
    if (status & APFloat::opOverflow)
      return 0xFF;
    return static_cast<uint32_t>(apf.bitcastToAPInt().getZExtValue());
  }
  case ElemKind::I32:
  case ElemKind::I64:
    break;
  }
  llvm_unreachable("encode: not a float kind");
}

} // namespace

llvm::StringRef moe::ref::getName(ElemKind kind) {
  switch (kind) {
  case ElemKind::F32:
    return "f32";
  case ElemKind::BF16:
    return "bf16";
  case ElemKind::F8E4M3FN:
    return "f8E4M3FN";
  case ElemKind::F4E2M1FN:
    return "f4E2M1FN";
  case ElemKind::F8E8M0FNU:
    return "f8E8M0FNU";
  case ElemKind::I32:
    return "i32";
  case ElemKind::I64:
    return "i64";
  }
  llvm_unreachable("unknown element kind");
}

std::optional<ElemKind> moe::ref::parseElemKind(llvm::StringRef name) {
  for (ElemKind kind :
       {ElemKind::F32, ElemKind::BF16, ElemKind::F8E4M3FN, ElemKind::F4E2M1FN,
        ElemKind::F8E8M0FNU, ElemKind::I32, ElemKind::I64})
    if (getName(kind) == name)
      return kind;
  return std::nullopt;
}

bool moe::ref::isFloatKind(ElemKind kind) {
  return kind != ElemKind::I32 && kind != ElemKind::I64;
}

unsigned moe::ref::getBitWidth(ElemKind kind) {
  switch (kind) {
  case ElemKind::F32:
    return 32;
  case ElemKind::BF16:
    return 16;
  case ElemKind::F8E4M3FN:
    return 8;
  case ElemKind::F4E2M1FN:
    return 4;
  case ElemKind::F8E8M0FNU:
    return 8;
  case ElemKind::I32:
    return 32;
  case ElemKind::I64:
    return 64;
  }
  llvm_unreachable("unknown element kind");
}

float moe::ref::getMaxFinite(ElemKind kind) {
  switch (kind) {
  case ElemKind::F32:
    return std::numeric_limits<float>::max();
  case ElemKind::BF16:
    return bf16Table()[0x7F7F];
  case ElemKind::F8E4M3FN:
    return e4m3Table()[0x7E];
  case ElemKind::F4E2M1FN:
    return e2m1Table()[0x7];
  case ElemKind::F8E8M0FNU:
    return e8m0Table()[0xFE];
  case ElemKind::I32:
  case ElemKind::I64:
    break;
  }
  llvm_unreachable("getMaxFinite: not a float kind");
}

float moe::ref::decode(ElemKind kind, uint32_t bits) {
  switch (kind) {
  case ElemKind::F32:
    return bitsToFloat(bits);
  case ElemKind::BF16:
    return bf16Table()[bits & 0xFFFF];
  case ElemKind::F8E4M3FN:
    return e4m3Table()[bits & 0xFF];
  case ElemKind::F4E2M1FN:
    return e2m1Table()[bits & 0xF];
  case ElemKind::F8E8M0FNU:
    return e8m0Table()[bits & 0xFF];
  case ElemKind::I32:
  case ElemKind::I64:
    break;
  }
  llvm_unreachable("decode: not a float kind");
}

uint32_t moe::ref::encode(ElemKind kind, float value) {
  return encodeImpl(kind, value);
}

float moe::ref::roundTo(ElemKind kind, float value) {
  if (kind == ElemKind::F32)
    return value;
  return decode(kind, encodeImpl(kind, value));
}

float moe::ref::roundTo(ElemKind kind, double value) {
  return decode(kind, encodeImpl(kind, value));
}

bool moe::ref::isRepresentable(ElemKind kind, float value) {
  switch (kind) {
  case ElemKind::F32:
    return true;
  case ElemKind::BF16:
  case ElemKind::F8E4M3FN:
    if (std::isnan(value))
      return true;
    if (kind == ElemKind::F8E4M3FN && std::isinf(value))
      return false;
    return floatToBits(roundTo(kind, value)) == floatToBits(value);
  case ElemKind::F4E2M1FN:
    if (!std::isfinite(value))
      return false;
    return floatToBits(roundTo(kind, value)) == floatToBits(value);
  case ElemKind::F8E8M0FNU:
    if (std::isnan(value))
      return true;
    if (!(value > 0.0f) || std::isinf(value))
      return false;
    return decode(kind, encodeImpl(kind, value)) == value;
  case ElemKind::I32:
    return std::isfinite(value) && std::trunc(value) == value &&
           value >= -2147483648.0f && value < 2147483648.0f;
  case ElemKind::I64:
    return std::isfinite(value) && std::trunc(value) == value &&
           value >= -9223372036854775808.0f && value < 9223372036854775808.0f;
  }
  llvm_unreachable("unknown element kind");
}

int moe::ref::computeUE8M0Exponent(float amax, ElemKind elemKind) {
  amax = std::fabs(amax);
  if (amax == 0.0f)
    return -127;
  if (!std::isfinite(amax))
    return 127;
  float quotient = amax / getMaxFinite(elemKind);
  if (quotient == 0.0f) // underflow: any scale works
    return -127;
  if (std::isinf(quotient))
    return 127;
  // ceil(log2(q)), exactly: q = m * 2^ex with m in [0.5, 1); q is a power of
  // two iff m == 0.5, and then log2(q) = ex - 1.
  int ex = 0;
  float mantissa = std::frexp(quotient, &ex);
  int e = mantissa == 0.5f ? ex - 1 : ex;
  if (e < -127)
    return -127;
  if (e > 127)
    return 127;
  return e;
}
