//===- Numerics.h - Number formats of the reference evaluator ---*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The element kinds the reference evaluator knows, and exact conversions
// between them. Every value of every float kind is exactly representable as
// an IEEE float32 (NaN encodings decode to a quiet float NaN), so evaluator
// tensors hold float32 values and round only at the rounding points of the
// IR. Decoding and rounding go through llvm::APFloat with the semantics of the
// matching MLIR float types; no hand-written bit tricks.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_REFERENCE_NUMERICS_H
#define MOE_REFERENCE_NUMERICS_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace moe::ref {

/// Element kinds, named after the MLIR types they mirror.
enum class ElemKind : uint8_t {
  F32,       ///< f32
  BF16,      ///< bf16
  F8E4M3FN,  ///< f8E4M3FN: FP8 e4m3, no infinities, max 448, NaN = S.1111.111
  F4E2M1FN,  ///< f4E2M1FN: FP4 e2m1, no infinities and no NaN, max 6
  F8E8M0FNU, ///< f8E8M0FNU: UE8M0 scale, 2^-127 .. 2^127, 0xFF = NaN, no zero
  I32,       ///< i32
  I64,       ///< i64
};

/// The MLIR spelling of a kind ("bf16", "f8E4M3FN", ...).
llvm::StringRef getName(ElemKind kind);
/// Parses the MLIR spelling; std::nullopt if the kind is unknown.
std::optional<ElemKind> parseElemKind(llvm::StringRef name);
bool isFloatKind(ElemKind kind);
/// Width of one encoding in bits (4 for F4E2M1FN).
unsigned getBitWidth(ElemKind kind);
/// Largest finite magnitude of a float kind (448 for e4m3, 6 for e2m1).
float getMaxFinite(ElemKind kind);

/// The exact float32 value of the encoding `bits` (in the low bits) of a
/// float kind.
float decode(ElemKind kind, uint32_t bits);

/// Encodes `value` into a float kind, rounding to nearest, ties to even.
/// F32 and BF16 follow IEEE (overflow to infinity). F8E4M3FN and F4E2M1FN
/// saturate: finite or infinite values beyond the largest finite magnitude
/// become +-max ("satfinite", as PTX `cvt.rn.satfinite`). A NaN becomes the
/// NaN encoding of F8E4M3FN (0x7F) and, since F4E2M1FN has no NaN, +6.0
/// (0x7) for F4E2M1FN. F8E8M0FNU is not a rounding target (use
/// `computeUE8M0Scale`).
uint32_t encode(ElemKind kind, float value);

/// Rounds `value` to the nearest value of `kind` (decode(encode(value))).
/// Identity for F32. Not valid for integer kinds or F8E8M0FNU.
float roundTo(ElemKind kind, float value);

/// Rounds a double directly to `kind` (one rounding), same rules as `encode`.
float roundTo(ElemKind kind, double value);

/// True if `value` is exactly a value of `kind` (NaN counts as representable
/// for kinds that have a NaN).
bool isRepresentable(ElemKind kind, float value);

/// The UE8M0 scale exponent for a block whose largest finite magnitude is
/// `amax`, for elements of `elemKind`: the smallest e in [-127, 127] with
/// 2^e * maxFinite(elemKind) >= amax (round the scale up, so no element of
/// the block saturates), computed as e = ceil(log2(amax / maxFinite)) on the
/// float32 quotient. amax == 0 gives -127. Returns the exponent; the UE8M0
/// encoding is e + 127.
int computeUE8M0Exponent(float amax, ElemKind elemKind);

} // namespace moe::ref

#endif // MOE_REFERENCE_NUMERICS_H
