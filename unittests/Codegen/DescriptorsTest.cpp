//===- DescriptorsTest.cpp - Tensor-core descriptor encodings --*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Each descriptor field against the bit positions of the PTX ISA's tables
// (wgmma matrix descriptor; tcgen05 shared-memory descriptor; tcgen05
// instruction descriptor for .kind::f16/tf32/f8f6f4/i8), on the formats the
// compiler uses and on every rejected combination.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/Descriptors.h"

#include "gtest/gtest.h"

using namespace mlir::moe::desc;

namespace {

uint64_t bitsOf(uint64_t v, unsigned lo, unsigned width) {
  return (v >> lo) & ((uint64_t(1) << width) - 1);
}

std::string errorOf(llvm::Error e) { return llvm::toString(std::move(e)); }

// The K-major bf16 tile with 128-byte swizzle that the sm_90a kernels use:
// 64 bf16 (128 bytes) per row, 8-row core-matrix groups 1024 bytes apart.
SmemMatrix swizzled128(uint64_t start) {
  SmemMatrix m;
  m.startAddress = start;
  m.leadingByteOffset = 16;
  m.strideByteOffset = 1024;
  m.swizzle = Swizzle::B128;
  return m;
}

TEST(WgmmaDescriptor, SwizzledBf16TileOfTheKernels) {
  // The constant KernelToNVVM ORs the address into.
  EXPECT_EQ(llvm::cantFail(wgmmaSmemDescriptorConstant(swizzled128(0))),
            0x4000004000010000ull);
  uint64_t d = llvm::cantFail(encodeWgmmaSmemDescriptor(swizzled128(0x2400)));
  EXPECT_EQ(bitsOf(d, 0, 14), 0x2400u >> 4);   // start address >> 4
  EXPECT_EQ(bitsOf(d, 14, 2), 0u);
  EXPECT_EQ(bitsOf(d, 16, 14), 1u);            // leading byte offset >> 4
  EXPECT_EQ(bitsOf(d, 30, 2), 0u);
  EXPECT_EQ(bitsOf(d, 32, 14), 64u);           // stride byte offset >> 4
  EXPECT_EQ(bitsOf(d, 46, 3), 0u);
  EXPECT_EQ(bitsOf(d, 49, 3), 0u);             // base offset
  EXPECT_EQ(bitsOf(d, 52, 10), 0u);
  EXPECT_EQ(bitsOf(d, 62, 2), 1u);             // 128B swizzle
}

TEST(WgmmaDescriptor, SwizzleCodes) {
  SmemMatrix m = swizzled128(0);
  for (auto [s, code] : {std::pair(Swizzle::None, 0u), {Swizzle::B128, 1u},
                         {Swizzle::B64, 2u}, {Swizzle::B32, 3u}}) {
    m.swizzle = s;
    EXPECT_EQ(bitsOf(llvm::cantFail(encodeWgmmaSmemDescriptor(m)), 62, 2),
              code);
  }
  m.baseOffset = 5;
  EXPECT_EQ(bitsOf(llvm::cantFail(encodeWgmmaSmemDescriptor(m)), 49, 3), 5u);
}

TEST(WgmmaDescriptor, RejectsWhatTheFieldsCannotHold) {
  SmemMatrix m = swizzled128(0x2408);
  EXPECT_EQ(errorOf(encodeWgmmaSmemDescriptor(m).takeError()),
            "start address must be a multiple of 16 bytes, got 9224");
  m = swizzled128(0);
  m.strideByteOffset = uint64_t(1) << 18;
  EXPECT_EQ(errorOf(encodeWgmmaSmemDescriptor(m).takeError()),
            "stride byte offset must be below 2^18 bytes, got 262144");
  m = swizzled128(0);
  m.baseOffset = 8;
  EXPECT_EQ(errorOf(encodeWgmmaSmemDescriptor(m).takeError()),
            "base offset must be 0-7, got 8");
}

TEST(Tcgen05SmemDescriptor, SwizzledBf16Tile) {
  uint64_t d =
      llvm::cantFail(encodeTcgen05SmemDescriptor(swizzled128(0x2400)));
  EXPECT_EQ(bitsOf(d, 0, 14), 0x2400u >> 4);
  EXPECT_EQ(bitsOf(d, 16, 14), 1u);
  EXPECT_EQ(bitsOf(d, 32, 14), 64u);
  EXPECT_EQ(bitsOf(d, 46, 3), 1u);             // fixed 0b001
  EXPECT_EQ(bitsOf(d, 49, 3), 0u);
  EXPECT_EQ(bitsOf(d, 52, 1), 0u);             // relative leading offset
  EXPECT_EQ(bitsOf(d, 53, 8), 0u);
  EXPECT_EQ(bitsOf(d, 61, 3), 2u);             // 128B swizzle
  EXPECT_EQ(d, 0x4000404000010240ull);
}

TEST(Tcgen05SmemDescriptor, SwizzleCodesAndLeadingMode) {
  SmemMatrix m = swizzled128(0);
  for (auto [s, code] : {std::pair(Swizzle::None, 0u), {Swizzle::B128, 2u},
                         {Swizzle::B64, 4u}, {Swizzle::B32, 6u}}) {
    m.swizzle = s;
    EXPECT_EQ(bitsOf(llvm::cantFail(encodeTcgen05SmemDescriptor(m)), 61, 3),
              code);
  }
  EXPECT_EQ(
      bitsOf(llvm::cantFail(encodeTcgen05SmemDescriptor(m, true)), 52, 1), 1u);
}

TEST(Tcgen05InstrDescriptor, Bf16IntoF32) {
  Tcgen05Mma mma; // bf16 x bf16 -> f32, 128 x 256, both K-major
  uint32_t d = llvm::cantFail(encodeTcgen05InstrDescriptor(mma));
  EXPECT_EQ(bitsOf(d, 0, 2), 0u);   // sparsity selector
  EXPECT_EQ(bitsOf(d, 2, 1), 0u);   // dense
  EXPECT_EQ(bitsOf(d, 3, 1), 0u);   // no saturate
  EXPECT_EQ(bitsOf(d, 4, 2), 1u);   // D = F32
  EXPECT_EQ(bitsOf(d, 6, 1), 0u);
  EXPECT_EQ(bitsOf(d, 7, 3), 1u);   // A = BF16
  EXPECT_EQ(bitsOf(d, 10, 3), 1u);  // B = BF16
  EXPECT_EQ(bitsOf(d, 13, 4), 0u);  // no negate, no transpose
  EXPECT_EQ(bitsOf(d, 17, 6), 32u); // N >> 3
  EXPECT_EQ(bitsOf(d, 23, 1), 0u);
  EXPECT_EQ(bitsOf(d, 24, 5), 8u);  // M >> 4
  EXPECT_EQ(bitsOf(d, 29, 3), 0u);
  EXPECT_EQ(d, 0x08400490u);
}

// The CTA pair's MMA (convert-moe-to-moek cta-pair): M = 256 over two CTAs,
// N = 256; only M's field differs from the single CTA's 128 x 256.
TEST(Tcgen05InstrDescriptor, CtaPairBf16) {
  Tcgen05Mma mma;
  mma.ctaGroup = 2;
  mma.m = 256;
  uint32_t d = llvm::cantFail(encodeTcgen05InstrDescriptor(mma));
  EXPECT_EQ(bitsOf(d, 24, 5), 16u); // M >> 4
  EXPECT_EQ(bitsOf(d, 17, 6), 32u); // N >> 3
  EXPECT_EQ(d, 0x10400490u);
}

TEST(Tcgen05InstrDescriptor, EveryKindsTypes) {
  Tcgen05Mma f16;
  f16.d = f16.a = f16.b = ElemType::F16;
  f16.m = 64;
  f16.n = 8;
  uint32_t d = llvm::cantFail(encodeTcgen05InstrDescriptor(f16));
  EXPECT_EQ(bitsOf(d, 4, 2), 0u);
  EXPECT_EQ(bitsOf(d, 7, 6), 0u);
  EXPECT_EQ(bitsOf(d, 17, 6), 1u);
  EXPECT_EQ(bitsOf(d, 24, 5), 4u);

  Tcgen05Mma tf32;
  tf32.kind = MmaKind::TF32;
  tf32.a = tf32.b = ElemType::TF32;
  d = llvm::cantFail(encodeTcgen05InstrDescriptor(tf32));
  EXPECT_EQ(bitsOf(d, 7, 3), 2u);
  EXPECT_EQ(bitsOf(d, 10, 3), 2u);

  // FP8 activations x FP4 weights, as Mega MoE multiplies them.
  Tcgen05Mma f8f4;
  f8f4.kind = MmaKind::F8F6F4;
  f8f4.a = ElemType::E4M3;
  f8f4.b = ElemType::E2M1;
  f8f4.n = 128;
  d = llvm::cantFail(encodeTcgen05InstrDescriptor(f8f4));
  EXPECT_EQ(d, 0x08201410u);
  for (auto [t, code] : {std::pair(ElemType::E4M3, 0u), {ElemType::E5M2, 1u},
                         {ElemType::E2M3, 3u}, {ElemType::E3M2, 4u},
                         {ElemType::E2M1, 5u}}) {
    f8f4.a = f8f4.b = t;
    d = llvm::cantFail(encodeTcgen05InstrDescriptor(f8f4));
    EXPECT_EQ(bitsOf(d, 7, 3), code);
    EXPECT_EQ(bitsOf(d, 10, 3), code);
  }

  Tcgen05Mma i8;
  i8.kind = MmaKind::I8;
  i8.d = ElemType::S32;
  i8.a = ElemType::S8;
  i8.b = ElemType::U8;
  i8.saturate = true;
  d = llvm::cantFail(encodeTcgen05InstrDescriptor(i8));
  EXPECT_EQ(bitsOf(d, 3, 1), 1u);
  EXPECT_EQ(bitsOf(d, 4, 2), 2u);
  EXPECT_EQ(bitsOf(d, 7, 3), 1u);
  EXPECT_EQ(bitsOf(d, 10, 3), 0u);
}

TEST(Tcgen05InstrDescriptor, FlagsAndSparsity) {
  Tcgen05Mma mma;
  mma.negateA = mma.transposeB = true;
  mma.sparse = true;
  mma.sparsitySelector = 3;
  uint32_t d = llvm::cantFail(encodeTcgen05InstrDescriptor(mma));
  EXPECT_EQ(bitsOf(d, 0, 2), 3u);
  EXPECT_EQ(bitsOf(d, 2, 1), 1u);
  EXPECT_EQ(bitsOf(d, 13, 1), 1u);
  EXPECT_EQ(bitsOf(d, 14, 1), 0u);
  EXPECT_EQ(bitsOf(d, 15, 1), 0u);
  EXPECT_EQ(bitsOf(d, 16, 1), 1u);
}

TEST(Tcgen05InstrDescriptor, EveryShape) {
  for (unsigned group : {1u, 2u}) {
    for (unsigned m : {64u, 128u, 256u}) {
      for (unsigned n = 8; n <= 256; n += 8) {
        Tcgen05Mma mma;
        mma.ctaGroup = group;
        mma.m = m;
        mma.n = n;
        bool ok = group == 1 ? m != 256 : (m != 64 && n % 16 == 0);
        auto d = encodeTcgen05InstrDescriptor(mma);
        ASSERT_EQ(bool(d), ok) << "cta_group " << group << " " << m << "x"
                               << n;
        if (!d) {
          llvm::consumeError(d.takeError());
          continue;
        }
        EXPECT_EQ(bitsOf(*d, 17, 6), n >> 3);
        EXPECT_EQ(bitsOf(*d, 24, 5), m >> 4);
      }
    }
  }
}

TEST(Tcgen05InstrDescriptor, RejectsWhatThePtxIsaDoesNotHave) {
  auto error = [](Tcgen05Mma mma) {
    return errorOf(encodeTcgen05InstrDescriptor(mma).takeError());
  };
  Tcgen05Mma m;
  m.m = 96;
  EXPECT_EQ(error(m), "M must be 64 or 128 with cta_group::1, got 96");
  m = Tcgen05Mma();
  m.n = 12;
  EXPECT_EQ(error(m),
            "N must be a multiple of 8 from 8 to 256 with cta_group::1, got 12");
  m = Tcgen05Mma();
  m.ctaGroup = 2;
  m.m = 64;
  EXPECT_EQ(error(m), "M must be 128 or 256 with cta_group::2, got 64");
  m = Tcgen05Mma();
  m.ctaGroup = 2;
  m.n = 24;
  EXPECT_EQ(error(m),
            "N must be a multiple of 16 from 16 to 256 with cta_group::2, got "
            "24");
  m = Tcgen05Mma();
  m.ctaGroup = 3;
  EXPECT_EQ(error(m), "the CTA group is 1 or 2, got 3");
  m = Tcgen05Mma();
  m.a = ElemType::E4M3;
  EXPECT_EQ(error(m), "atype is not a type of .kind::f16");
  m = Tcgen05Mma();
  m.kind = MmaKind::F8F6F4;
  m.a = ElemType::E4M3;
  EXPECT_EQ(error(m), "btype is not a type of .kind::f8f6f4");
  m = Tcgen05Mma();
  m.d = ElemType::S32;
  EXPECT_EQ(error(m), "dtype is not an accumulator type of .kind::f16");
  m = Tcgen05Mma();
  m.d = ElemType::F16;
  EXPECT_EQ(error(m), "a .kind::f16 MMA into f16 takes f16 operands");
  m = Tcgen05Mma();
  m.saturate = true;
  EXPECT_EQ(error(m), "saturate is for .kind::i8 only, not .kind::f16");
  m = Tcgen05Mma();
  m.kind = MmaKind::I8;
  m.d = ElemType::S32;
  m.a = m.b = ElemType::S8;
  m.negateB = true;
  EXPECT_EQ(error(m), ".kind::i8 cannot negate its operands");
  m = Tcgen05Mma();
  m.sparsitySelector = 1;
  EXPECT_EQ(error(m), "the sparsity selector is 0-3, and 0 for a dense MMA");
}

// Block-scaled kinds: the fields of CUTLASS's
// UMMA::InstrDescriptorBlockScaled, written out by hand. FP8 x MXFP4
// (DeepGEMM's Mega MoE on Blackwell): A E4M3 (0), B E2M1 (5 in the f8f6f4
// table), UE8M0 scales (bit 23), M = 128 (8 << 24), N = 256 (32 << 17).
TEST(Tcgen05BlockScaledInstrDescriptor, Fp8TimesMxfp4) {
  Tcgen05BlockScaledMma m;
  llvm::Expected<uint32_t> d = encodeTcgen05BlockScaledInstrDescriptor(m);
  ASSERT_TRUE(bool(d)) << errorOf(d.takeError());
  EXPECT_EQ(*d, (5u << 10) | (32u << 17) | (1u << 23) | (8u << 24));
  EXPECT_EQ(*d, 0x08C01400u);
}

// MXFP8 rows as A by MXFP4 weights as B, N = 128 (the sm_100a MXFP8 x
// MXFP4 grouped matmul, moek.mma_tmem {a_scales, b_scales}): K step k's
// scale ids in 29-30 (A) and 4-5 (B), the four constants its PTX carries
// (test/Codegen/MoEToKernel/expert-matmul-mxfp8-mxfp4.mlir).
TEST(Tcgen05BlockScaledInstrDescriptor, Mxfp8TimesMxfp4N128) {
  Tcgen05BlockScaledMma m;
  m.n = 128;
  const uint32_t expected[] = {0x08A01400u, 0x28A01410u, 0x48A01420u,
                               0x68A01430u};
  for (unsigned k = 0; k < 4; ++k) {
    m.scaleIdA = m.scaleIdB = k;
    llvm::Expected<uint32_t> d = encodeTcgen05BlockScaledInstrDescriptor(m);
    ASSERT_TRUE(bool(d)) << errorOf(d.takeError());
    EXPECT_EQ(*d, (5u << 10) | (16u << 17) | (1u << 23) | (8u << 24) |
                      (k << 29) | (k << 4));
    EXPECT_EQ(*d, expected[k]);
  }
}

// The weights as A (the fused FP8 x MXFP4 kernel on sm_100a,
// moek.mma_block_scaled): A E2M1 (5 << 7), B E4M3 (0), UE8M0 (bit 23),
// M = 128, N = 64 (8 << 17), and K step k's scale ids in 29-30 (A) and 4-5
// (B): the four constants the kernel's PTX carries.
TEST(Tcgen05BlockScaledInstrDescriptor, Mxfp4WeightsAsA) {
  Tcgen05BlockScaledMma m;
  m.a = ElemType::E2M1;
  m.b = ElemType::E4M3;
  m.n = 64;
  for (unsigned k = 0; k < 4; ++k) {
    m.scaleIdA = m.scaleIdB = k;
    llvm::Expected<uint32_t> d = encodeTcgen05BlockScaledInstrDescriptor(m);
    ASSERT_TRUE(bool(d)) << errorOf(d.takeError());
    EXPECT_EQ(*d, (5u << 7) | (8u << 17) | (1u << 23) | (8u << 24) |
                      (k << 29) | (k << 4));
  }
  m.scaleIdA = m.scaleIdB = 0;
  llvm::Expected<uint32_t> d = encodeTcgen05BlockScaledInstrDescriptor(m);
  ASSERT_TRUE(bool(d)) << errorOf(d.takeError());
  EXPECT_EQ(*d, 0x08900280u);
}

// NVFP4 x NVFP4: .kind::mxf4nvf4, E2M1 is 1 in the FP4 kinds, UE4M3 scales
// per 16 values (bit 23 clear), M = 128, N = 128.
TEST(Tcgen05BlockScaledInstrDescriptor, Nvfp4) {
  Tcgen05BlockScaledMma m;
  m.kind = BlockScaledKind::MXF4NVF4;
  m.a = m.b = ElemType::E2M1;
  m.scale = ScaleType::UE4M3;
  m.vectorSize = 16;
  m.n = 128;
  llvm::Expected<uint32_t> d = encodeTcgen05BlockScaledInstrDescriptor(m);
  ASSERT_TRUE(bool(d)) << errorOf(d.takeError());
  EXPECT_EQ(*d, (1u << 7) | (1u << 10) | (16u << 17) | (8u << 24));
  m.scale = ScaleType::UE8M0;
  m.vectorSize = 32;
  d = encodeTcgen05BlockScaledInstrDescriptor(m);
  ASSERT_TRUE(bool(d)) << errorOf(d.takeError());
  EXPECT_EQ(bitsOf(*d, 23, 1), 1u);
}

// Every field in its place: scale-factor ids (B in 4-5, A in 29-30),
// negate, transpose, sparsity, the 2-CTA shapes.
TEST(Tcgen05BlockScaledInstrDescriptor, FieldPlacement) {
  Tcgen05BlockScaledMma m;
  m.a = ElemType::E5M2;
  m.b = ElemType::E3M2;
  m.scaleIdA = 3;
  m.scaleIdB = 2;
  m.negateA = m.negateB = true;
  m.transposeA = true;
  m.sparse = true;
  m.sparsitySelector = 1;
  m.ctaGroup = 2;
  m.m = 256;
  m.n = 48;
  llvm::Expected<uint32_t> d = encodeTcgen05BlockScaledInstrDescriptor(m);
  ASSERT_TRUE(bool(d)) << errorOf(d.takeError());
  EXPECT_EQ(bitsOf(*d, 0, 2), 1u);
  EXPECT_EQ(bitsOf(*d, 2, 1), 1u);
  EXPECT_EQ(bitsOf(*d, 3, 1), 0u);
  EXPECT_EQ(bitsOf(*d, 4, 2), 2u);
  EXPECT_EQ(bitsOf(*d, 6, 1), 0u);
  EXPECT_EQ(bitsOf(*d, 7, 3), 1u);  // E5M2
  EXPECT_EQ(bitsOf(*d, 10, 3), 4u); // E3M2
  EXPECT_EQ(bitsOf(*d, 13, 1), 1u);
  EXPECT_EQ(bitsOf(*d, 14, 1), 1u);
  EXPECT_EQ(bitsOf(*d, 15, 1), 1u);
  EXPECT_EQ(bitsOf(*d, 16, 1), 0u);
  EXPECT_EQ(bitsOf(*d, 17, 6), 6u);  // 48 >> 3
  EXPECT_EQ(bitsOf(*d, 23, 1), 1u);  // UE8M0
  EXPECT_EQ(bitsOf(*d, 24, 5), 16u); // 256 >> 4
  EXPECT_EQ(bitsOf(*d, 29, 2), 3u);
  EXPECT_EQ(bitsOf(*d, 31, 1), 0u);
}

TEST(Tcgen05BlockScaledInstrDescriptor, RejectsWhatThePtxIsaDoesNotHave) {
  auto error = [](Tcgen05BlockScaledMma mma) {
    return errorOf(encodeTcgen05BlockScaledInstrDescriptor(mma).takeError());
  };
  Tcgen05BlockScaledMma m;
  m.m = 64;
  EXPECT_EQ(error(m),
            "M must be 128 for a block-scaled MMA with cta_group::1, got 64");
  m = Tcgen05BlockScaledMma();
  m.scale = ScaleType::UE4M3;
  EXPECT_EQ(error(m),
            ".kind::mxf8f6f4 takes UE8M0 scales per 32 values, got UE4M3 per "
            "32");
  m = Tcgen05BlockScaledMma();
  m.kind = BlockScaledKind::MXF4NVF4;
  m.a = m.b = ElemType::E2M1;
  m.scale = ScaleType::UE4M3;
  EXPECT_EQ(error(m), ".kind::mxf4nvf4 takes UE8M0 scales per 32 values or "
                      "UE4M3 scales per 16, got UE4M3 per 32");
  m = Tcgen05BlockScaledMma();
  m.kind = BlockScaledKind::MXF4;
  EXPECT_EQ(error(m), "atype is not a type of .kind::mxf4");
  m.a = m.b = ElemType::E2M1;
  m.negateB = true;
  EXPECT_EQ(error(m), ".kind::mxf4 cannot negate its operands");
  m = Tcgen05BlockScaledMma();
  m.transposeB = true; // B is E2M1
  EXPECT_EQ(error(m),
            "only E4M3 and E5M2 operands can be MN-major (transposed)");
  m = Tcgen05BlockScaledMma();
  m.scaleIdA = 4;
  EXPECT_EQ(error(m),
            "the scale-factor ids are 0-3 (a byte of a 32-bit column)");
  m = Tcgen05BlockScaledMma();
  m.b = ElemType::BF16;
  EXPECT_EQ(error(m), "btype is not a type of .kind::mxf8f6f4");
}

} // namespace
