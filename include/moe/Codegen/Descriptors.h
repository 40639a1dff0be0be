//===- Descriptors.h - Tensor-core descriptor encodings ---------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The bit encodings of the descriptors that Hopper and Blackwell tensor-core
// instructions read, from the PTX ISA's tables:
//  * the shared-memory matrix descriptor of wgmma.mma_async (sm_90a,
//    "Matrix Descriptor Format" of the asynchronous warpgroup MMA);
//  * the shared-memory descriptor of tcgen05.mma (sm_100a, "Shared Memory
//    Descriptor" of tcgen05);
//  * the 32-bit instruction descriptor of tcgen05.mma for .kind::f16,
//    ::tf32, ::f8f6f4 and ::i8 ("Instruction descriptor format", the table
//    for those kinds), with the shapes each kind and CTA group accepts;
//  * the instruction descriptor of the block-scaled kinds (::mxf8f6f4,
//    ::mxf4, ::mxf4nvf4 with .block_scale; the same table's second form,
//    as CUTLASS's UMMA::InstrDescriptorBlockScaled lays it out).
// No MLIR, no GPU: the code generator builds these values (as constants or
// from run-time addresses with the constant part from here) and the unit
// tests check them field by field.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_CODEGEN_DESCRIPTORS_H
#define MOE_CODEGEN_DESCRIPTORS_H

#include "llvm/Support/Error.h"

#include <cstdint>

namespace mlir::moe::desc {

/// Shared-memory swizzle of a K-major operand tile.
enum class Swizzle { None, B32, B64, B128 };

/// The fields of a shared-memory matrix descriptor. Addresses and byte
/// offsets are in bytes; the encoding stores them >> 4 in 14 bits, so each
/// must be a multiple of 16 below 2^18.
struct SmemMatrix {
  uint64_t startAddress = 0;   // shared-window address of the tile
  uint64_t leadingByteOffset = 0;
  uint64_t strideByteOffset = 0;
  unsigned baseOffset = 0;     // 3 bits; 0 for tiles aligned to the pattern
  Swizzle swizzle = Swizzle::None;
};

/// wgmma.mma_async's descriptor (sm_90a): start >> 4 in bits 0-13, leading
/// byte offset >> 4 in 16-29, stride byte offset >> 4 in 32-45, base offset
/// in 49-51, swizzle in 62-63 (0 none, 1 128B, 2 64B, 3 32B).
llvm::Expected<uint64_t> encodeWgmmaSmemDescriptor(const SmemMatrix &m);

/// The same descriptor without the start address (bits 0-13 zero): the
/// code generator ORs in the run-time address >> 4.
llvm::Expected<uint64_t> wgmmaSmemDescriptorConstant(const SmemMatrix &m);

/// tcgen05.mma's shared-memory descriptor (sm_100a): start >> 4 in bits
/// 0-13, leading byte offset >> 4 in 16-29, stride byte offset >> 4 in
/// 32-45, the fixed version 0b001 in 46-48, base offset in 49-51, the
/// leading-offset mode in 52 (0 relative, 1 absolute), swizzle in 61-63
/// (0 none, 2 128B, 4 64B, 6 32B; 1, 128B with 32-byte atoms, is not
/// produced here).
llvm::Expected<uint64_t> encodeTcgen05SmemDescriptor(const SmemMatrix &m,
                                                     bool absoluteLeading =
                                                         false);

/// tcgen05.mma kinds with the plain (not block-scaled) instruction
/// descriptor.
enum class MmaKind { F16, TF32, F8F6F4, I8 };

/// Element types of the instruction descriptor's fields.
enum class ElemType {
  F16, BF16, TF32, F32, E4M3, E5M2, E2M3, E3M2, E2M1, U8, S8, S32
};

struct Tcgen05Mma {
  MmaKind kind = MmaKind::F16;
  ElemType d = ElemType::F32, a = ElemType::BF16, b = ElemType::BF16;
  unsigned m = 128, n = 256;
  unsigned ctaGroup = 1;        // 1 or 2 (cta_group::2 pairs two CTAs)
  bool transposeA = false;      // false: K-major A
  bool transposeB = false;      // false: K-major B
  bool negateA = false, negateB = false;
  bool saturate = false;        // .kind::i8 only
  bool sparse = false;
  unsigned sparsitySelector = 0; // 0-3, with sparse
};

/// The 32-bit instruction descriptor of tcgen05.mma: sparsity selector in
/// bits 0-1, sparsity in 2, saturate in 3, D type in 4-5, A type in 7-9, B
/// type in 10-12, negate A/B in 13/14, transpose A/B in 15/16, N >> 3 in
/// 17-22, M >> 4 in 24-28. Checks that the types fit the kind and that
/// (M, N) is a shape of the kind and CTA group (dense: cta_group::1 M = 64
/// or 128, N a multiple of 8 from 8 to 256; cta_group::2 M = 128 or 256, N a
/// multiple of 16 from 16 to 256); an error names the field.
llvm::Expected<uint32_t> encodeTcgen05InstrDescriptor(const Tcgen05Mma &mma);

/// Block-scaled tcgen05.mma kinds (`.block_scale`): FP8/FP6/FP4 operands
/// whose K blocks carry scale factors read from tensor memory.
enum class BlockScaledKind { MXF8F6F4, MXF4, MXF4NVF4 };

/// Scale-factor types: UE8M0 (MX formats), UE4M3 (NVFP4).
enum class ScaleType { UE8M0, UE4M3 };

struct Tcgen05BlockScaledMma {
  BlockScaledKind kind = BlockScaledKind::MXF8F6F4;
  ElemType a = ElemType::E4M3, b = ElemType::E2M1;
  ScaleType scale = ScaleType::UE8M0;
  /// Values per scale factor along K: 32 (scale_vec::1X for mxf8f6f4,
  /// ::2X for the FP4 kinds) or 16 (NVFP4: ::4X, UE4M3 scales).
  unsigned vectorSize = 32;
  unsigned m = 128, n = 256;
  unsigned ctaGroup = 1;
  bool transposeA = false, transposeB = false; // false: K-major
  bool negateA = false, negateB = false;
  bool sparse = false;
  unsigned sparsitySelector = 0;
  /// The scale factors' byte within their 32-bit tensor-memory column
  /// (bits 30-31 of the scale factors' tensor-memory address).
  unsigned scaleIdA = 0, scaleIdB = 0;
};

/// The 32-bit instruction descriptor of a block-scaled tcgen05.mma:
/// sparsity selector in bits 0-1, sparsity in 2, B's scale-factor id in
/// 4-5, A type in 7-9, B type in 10-12, negate A/B in 13/14, transpose A/B
/// in 15/16, N >> 3 in 17-22, the scale type in 23 (0 UE4M3, 1 UE8M0),
/// M >> 4 in 24-28, A's scale-factor id in 29-30, bit 31 (K = 96) zero.
/// Operand codes: mxf8f6f4 E4M3 0, E5M2 1, E2M3 3, E3M2 4, E2M1 5; the FP4
/// kinds E2M1 1. Checks each kind's types, scale type and vector size
/// (mxf8f6f4: UE8M0 per 32; mxf4: UE8M0 per 32; mxf4nvf4: UE8M0 per 32 or
/// UE4M3 per 16), that only E4M3/E5M2 operands are transposed, that the FP4
/// kinds do not negate, and the shapes (cta_group::1: M = 128, N a multiple
/// of 8 from 8 to 256; cta_group::2: M = 128 or 256, N a multiple of 16 from
/// 16 to 256); an error names the field.
llvm::Expected<uint32_t>
encodeTcgen05BlockScaledInstrDescriptor(const Tcgen05BlockScaledMma &mma);

} // namespace mlir::moe::desc

#endif // MOE_CODEGEN_DESCRIPTORS_H
