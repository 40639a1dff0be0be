//===- Descriptors.cpp - Tensor-core descriptor encodings -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/Descriptors.h"

#include "llvm/ADT/Twine.h"

using namespace mlir::moe::desc;

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// A byte address or offset as the 14-bit field that holds it >> 4.
static llvm::Expected<uint64_t> field14(uint64_t bytes, const char *name) {
  if (bytes % 16 != 0)
    return fail(llvm::Twine(name) + " must be a multiple of 16 bytes, got " +
                llvm::Twine(bytes));
  if ((bytes >> 4) >= (uint64_t(1) << 14))
    return fail(llvm::Twine(name) + " must be below 2^18 bytes, got " +
                llvm::Twine(bytes));
  return bytes >> 4;
}

/// Start, leading and stride fields (bits 0-13, 16-29, 32-45) and the base
/// offset (49-51), common to both descriptors.
static llvm::Expected<uint64_t> commonFields(const SmemMatrix &m,
                                             bool withStart) {
  uint64_t bits = 0;
  if (withStart) {
    auto start = field14(m.startAddress, "start address");
    if (!start)
      return start.takeError();
    bits |= *start;
  }
  auto lead = field14(m.leadingByteOffset, "leading byte offset");
  if (!lead)
    return lead.takeError();
  auto stride = field14(m.strideByteOffset, "stride byte offset");
  if (!stride)
    return stride.takeError();
  if (m.baseOffset > 7)
    return fail("base offset must be 0-7, got " + llvm::Twine(m.baseOffset));
  return bits | (*lead << 16) | (*stride << 32) |
         (uint64_t(m.baseOffset) << 49);
}

static uint64_t wgmmaSwizzle(Swizzle s) {
  switch (s) {
  case Swizzle::None:
    return 0;
  case Swizzle::B128:
    return 1;
  case Swizzle::B64:
    return 2;
  case Swizzle::B32:
    return 3;
  }
  return 0;
}

llvm::Expected<uint64_t>
mlir::moe::desc::encodeWgmmaSmemDescriptor(const SmemMatrix &m) {
  auto bits = commonFields(m, /*withStart=*/true);
  if (!bits)
    return bits.takeError();
  return *bits | (wgmmaSwizzle(m.swizzle) << 62);
}

llvm::Expected<uint64_t>
mlir::moe::desc::wgmmaSmemDescriptorConstant(const SmemMatrix &m) {
  auto bits = commonFields(m, /*withStart=*/false);
  if (!bits)
    return bits.takeError();
  return *bits | (wgmmaSwizzle(m.swizzle) << 62);
}

llvm::Expected<uint64_t>
mlir::moe::desc::encodeTcgen05SmemDescriptor(const SmemMatrix &m,
                                             bool absoluteLeading) {
  auto bits = commonFields(m, /*withStart=*/true);
  if (!bits)
    return bits.takeError();
  uint64_t swizzle = 0;
  switch (m.swizzle) {
  case Swizzle::None:
    swizzle = 0;
    break;
  case Swizzle::B128:
    swizzle = 2;
    break;
  case Swizzle::B64:
    swizzle = 4;
    break;
  case Swizzle::B32:
    swizzle = 6;
    break;
  }
  return *bits | (uint64_t(1) << 46) | (uint64_t(absoluteLeading) << 52) |
         (swizzle << 61);
}

static const char *kindName(MmaKind k) {
  switch (k) {
  case MmaKind::F16:
    return ".kind::f16";
  case MmaKind::TF32:
    return ".kind::tf32";
  case MmaKind::F8F6F4:
    return ".kind::f8f6f4";
  case MmaKind::I8:
    return ".kind::i8";
  }
  return "?";
}

/// The 3-bit A/B type code of `t` for `kind`, or -1 if the kind has no
/// such type.
static int operandCode(MmaKind kind, ElemType t) {
  switch (kind) {
  case MmaKind::F16:
    return t == ElemType::F16 ? 0 : t == ElemType::BF16 ? 1 : -1;
  case MmaKind::TF32:
    return t == ElemType::TF32 ? 2 : -1;
  case MmaKind::F8F6F4:
    switch (t) {
    case ElemType::E4M3:
      return 0;
    case ElemType::E5M2:
      return 1;
    case ElemType::E2M3:
      return 3;
    case ElemType::E3M2:
      return 4;
    case ElemType::E2M1:
      return 5;
    default:
      return -1;
    }
  case MmaKind::I8:
    return t == ElemType::U8 ? 0 : t == ElemType::S8 ? 1 : -1;
  }
  return -1;
}

/// The 2-bit D type code of `t` for `kind`, or -1.
static int accumulatorCode(MmaKind kind, ElemType t) {
  switch (kind) {
  case MmaKind::F16:
    return t == ElemType::F16 ? 0 : t == ElemType::F32 ? 1 : -1;
  case MmaKind::TF32:
  case MmaKind::F8F6F4:
    return t == ElemType::F32 ? 1 : -1;
  case MmaKind::I8:
    return t == ElemType::S32 ? 2 : -1;
  }
  return -1;
}

/// The (M, N) shapes of tcgen05.mma per CTA group: cta_group::1 M = 64 or
/// 128 (128 only for the block-scaled kinds), N a multiple of 8 from 8 to
/// 256; cta_group::2 M = 128 or 256, N a multiple of 16 from 16 to 256.
static llvm::Error checkShape(unsigned ctaGroup, unsigned m, unsigned n,
                              bool blockScaled) {
  if (ctaGroup == 1) {
    if (blockScaled && m != 128)
      return fail("M must be 128 for a block-scaled MMA with cta_group::1, "
                  "got " +
                  llvm::Twine(m));
    if (m != 64 && m != 128)
      return fail("M must be 64 or 128 with cta_group::1, got " +
                  llvm::Twine(m));
    if (n < 8 || n > 256 || n % 8 != 0)
      return fail("N must be a multiple of 8 from 8 to 256 with "
                  "cta_group::1, got " +
                  llvm::Twine(n));
  } else if (ctaGroup == 2) {
    if (m != 128 && m != 256)
      return fail("M must be 128 or 256 with cta_group::2, got " +
                  llvm::Twine(m));
    if (n < 16 || n > 256 || n % 16 != 0)
      return fail("N must be a multiple of 16 from 16 to 256 with "
                  "cta_group::2, got " +
                  llvm::Twine(n));
  } else {
    return fail("the CTA group is 1 or 2, got " + llvm::Twine(ctaGroup));
  }
  return llvm::Error::success();
}

llvm::Expected<uint32_t>
mlir::moe::desc::encodeTcgen05InstrDescriptor(const Tcgen05Mma &mma) {
  const char *kind = kindName(mma.kind);
  int a = operandCode(mma.kind, mma.a), b = operandCode(mma.kind, mma.b);
  int d = accumulatorCode(mma.kind, mma.d);
  if (a < 0)
    return fail(llvm::Twine("atype is not a type of ") + kind);
  if (b < 0)
    return fail(llvm::Twine("btype is not a type of ") + kind);
  if (d < 0)
    return fail(llvm::Twine("dtype is not an accumulator type of ") + kind);
  if (mma.kind == MmaKind::F16 && mma.d == ElemType::F16 &&
      (mma.a != ElemType::F16 || mma.b != ElemType::F16))
    return fail("a .kind::f16 MMA into f16 takes f16 operands");
  if (mma.saturate && mma.kind != MmaKind::I8)
    return fail(llvm::Twine("saturate is for .kind::i8 only, not ") + kind);
  if ((mma.negateA || mma.negateB) && mma.kind == MmaKind::I8)
    return fail(".kind::i8 cannot negate its operands");
  if (mma.sparsitySelector > 3 || (!mma.sparse && mma.sparsitySelector))
    return fail("the sparsity selector is 0-3, and 0 for a dense MMA");
  // Shapes (dense and sparse alike: sparsity changes K, not M and N).
  if (llvm::Error e = checkShape(mma.ctaGroup, mma.m, mma.n,
                                 /*blockScaled=*/false))
    return std::move(e);
  // M and N as in the PTX ISA's shape table of the kind and CTA group.
  uint32_t bits = mma.sparsitySelector | (uint32_t(mma.sparse) << 2) |
                  (uint32_t(mma.saturate) << 3) | (uint32_t(d) << 4) |
                  (uint32_t(a) << 7) | (uint32_t(b) << 10) |
                  (uint32_t(mma.negateA) << 13) |
                  (uint32_t(mma.negateB) << 14) |
                  (uint32_t(mma.transposeA) << 15) |
                  (uint32_t(mma.transposeB) << 16) |
                  (uint32_t(mma.n >> 3) << 17) | (uint32_t(mma.m >> 4) << 24);
  return bits;
}

static const char *kindName(BlockScaledKind k) {
  switch (k) {
  case BlockScaledKind::MXF8F6F4:
    return ".kind::mxf8f6f4";
  case BlockScaledKind::MXF4:
    return ".kind::mxf4";
  case BlockScaledKind::MXF4NVF4:
    return ".kind::mxf4nvf4";
  }
  return "?";
}

llvm::Expected<uint32_t> mlir::moe::desc::encodeTcgen05BlockScaledInstrDescriptor(
    const Tcgen05BlockScaledMma &mma) {
  const char *kind = kindName(mma.kind);
  bool fp4Kind = mma.kind != BlockScaledKind::MXF8F6F4;
  // Operand codes: the f8f6f4 table for mxf8f6f4, E2M1 = 1 for the FP4
  // kinds.
  auto code = [&](ElemType t) -> int {
    if (fp4Kind)
      return t == ElemType::E2M1 ? 1 : -1;
    return operandCode(MmaKind::F8F6F4, t);
  };
  int a = code(mma.a), b = code(mma.b);
  if (a < 0)
    return fail(llvm::Twine("atype is not a type of ") + kind);
  if (b < 0)
    return fail(llvm::Twine("btype is not a type of ") + kind);
  bool ue8m0 = mma.scale == ScaleType::UE8M0;
  if (mma.kind == BlockScaledKind::MXF4NVF4) {
    if (!((ue8m0 && mma.vectorSize == 32) ||
          (!ue8m0 && mma.vectorSize == 16)))
      return fail(".kind::mxf4nvf4 takes UE8M0 scales per 32 values or "
                  "UE4M3 scales per 16, got " +
                  llvm::Twine(ue8m0 ? "UE8M0" : "UE4M3") + " per " +
                  llvm::Twine(mma.vectorSize));
  } else if (!ue8m0 || mma.vectorSize != 32) {
    return fail(llvm::Twine(kind) + " takes UE8M0 scales per 32 values, got " +
                (ue8m0 ? "UE8M0" : "UE4M3") + " per " +
                llvm::Twine(mma.vectorSize));
  }
  auto transposable = [](ElemType t) {
    return t == ElemType::E4M3 || t == ElemType::E5M2;
  };
  if ((mma.transposeA && !transposable(mma.a)) ||
      (mma.transposeB && !transposable(mma.b)))
    return fail("only E4M3 and E5M2 operands can be MN-major (transposed)");
  if (fp4Kind && (mma.negateA || mma.negateB))
    return fail(llvm::Twine(kind) + " cannot negate its operands");
  if (mma.sparsitySelector > 3 || (!mma.sparse && mma.sparsitySelector))
    return fail("the sparsity selector is 0-3, and 0 for a dense MMA");
  if (mma.scaleIdA > 3 || mma.scaleIdB > 3)
    return fail("the scale-factor ids are 0-3 (a byte of a 32-bit column)");
  if (llvm::Error e = checkShape(mma.ctaGroup, mma.m, mma.n,
                                 /*blockScaled=*/true))
    return std::move(e);
  return mma.sparsitySelector | (uint32_t(mma.sparse) << 2) |
         (uint32_t(mma.scaleIdB) << 4) | (uint32_t(a) << 7) |
         (uint32_t(b) << 10) | (uint32_t(mma.negateA) << 13) |
         (uint32_t(mma.negateB) << 14) | (uint32_t(mma.transposeA) << 15) |
         (uint32_t(mma.transposeB) << 16) | (uint32_t(mma.n >> 3) << 17) |
         (uint32_t(ue8m0) << 23) | (uint32_t(mma.m >> 4) << 24) |
         (uint32_t(mma.scaleIdA) << 29);
}
