//===- Fp4Transposed.cpp - Lower moek transposed FP4 products ---*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Small tiles multiplied transposed on sm_90a: the expert's FP4 weights as
// wgmma's A operand from registers by the tokens as B, their scales, and the
// transposed stores of the product.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <array>

namespace mlir::moe::kernel::nvvm {

//===----------------------------------------------------------------------===//
// Transposed MXFP4 products for small tiles (sm_90a: A from registers)
//===----------------------------------------------------------------------===//

namespace {
//
// A tile of few tokens (moe-to-moek: at most 16) multiplies the expert's
// weights as wgmma's A operand, expanded to e4m3 in each thread's own
// registers, by the tokens as B (m64n16k32): the weights need no
// shared-memory round trip, fence or barrier, and the tensor cores work on
// 16 token columns instead of 64 rows. Each warpgroup thread holds rows
// `16 * warp + lane / 4` and + 8 of the 64-row fragment, and in K step s
// of a 128-wide block the K positions 4q..4q+3 and 16+4q..16+4q+3 (q =
// lane % 4). The token rows are stored in the matching K order
// (`permute_k`, permutedKWord): those positions hold values 8s..8s+7 of
// 32-value block q, so over the four steps each thread expands block q of
// its two rows (one UE8M0 scale, one 16-byte load a row).

/// Lane `lane % 4` of the calling thread (i32).
Value quadLane(OpBuilder &b, Location loc) {
  return LLVM::AndOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 3));
}

/// The weight rows (i64, clamped to `scaleRows - 1`) of the calling
/// thread's A fragment rows of `blocks` 64-row blocks from `row` (index):
/// element 2f + h is row r + 8h of block f.
SmallVector<Value, 4> fragmentWeightRows(OpBuilder &b, Location loc, Value row,
                                         int64_t scaleRows,
                                         int64_t blocks = 1) {
  Value r0 = LLVM::AddOp::create(
      b, loc, toI64(b, loc, row),
      LLVM::ZExtOp::create(b, loc, b.getI64Type(), fragmentRow(b, loc)));
  SmallVector<Value, 4> rows;
  for (int64_t f = 0; f < blocks; ++f)
    for (int64_t h = 0; h < 2; ++h)
      rows.push_back(LLVM::UMinOp::create(
          b, loc, LLVM::AddOp::create(b, loc, r0, i64c(b, loc, 64 * f + 8 * h)),
          i64c(b, loc, scaleRows - 1)));
  return rows;
}

Value pairOf(OpBuilder &b, Location loc, Value v0, Value v1) {
  auto ty = VectorType::get({2}, v0.getType());
  Value v = LLVM::UndefOp::create(b, loc, ty);
  v = LLVM::InsertElementOp::create(b, loc, v, v0, i32c(b, loc, 0));
  return LLVM::InsertElementOp::create(b, loc, v, v1, i32c(b, loc, 1));
}

struct Fp4FragmentRowMaxLowering : OpConversionPattern<Fp4FragmentRowMaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Fp4FragmentRowMaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    int64_t cols = op.getScaleColsAttr().getInt();
    auto rows = fragmentWeightRows(rewriter, loc, adaptor.getRow(),
                                   op.getScaleRowsAttr().getInt());
    Value bases[2];
    for (int64_t h = 0; h < 2; ++h)
      bases[h] = gepBytes(rewriter, loc, adaptor.getScales(),
                          LLVM::MulOp::create(rewriter, loc, rows[h],
                                              i64c(rewriter, loc, cols)));
    // Pieces q, q + 4, ... of each row (16 bytes when the row is a multiple
    // of 16, else 4), kPerIter of a row an iteration all in flight (a
    // piece past the row rereads the first), then the quad's maximum.
    constexpr int64_t kPerIter = 4;
    int64_t width = cols % 16 == 0 ? 4 : 1;
    int64_t pieces = cols / (4 * width);
    int64_t perLane = llvm::divideCeil(pieces, 4);
    auto vecTy = VectorType::get({width}, i32);
    Value q4 = quadLane(rewriter, loc);
    auto loop = scf::ForOp::create(
        rewriter, loc, arith::ConstantIndexOp::create(rewriter, loc, 0),
        arith::ConstantIndexOp::create(rewriter, loc, perLane),
        arith::ConstantIndexOp::create(rewriter, loc, kPerIter),
        ValueRange{i32c(rewriter, loc, 0), i32c(rewriter, loc, 0)},
        [&](OpBuilder &lb, Location ll, Value i0, ValueRange it) {
          SmallVector<Value> vals[2];
          for (int64_t u = 0; u < kPerIter; ++u) {
            // Piece 4 (i0 + u) + q.
            Value j = LLVM::AddOp::create(
                lb, ll,
                LLVM::ShlOp::create(lb, ll,
                                    LLVM::AddOp::create(lb, ll,
                                                        toI32(lb, ll, i0),
                                                        i32c(lb, ll, u)),
                                    i32c(lb, ll, 2)),
                q4);
            Value inside = LLVM::ICmpOp::create(
                lb, ll, LLVM::ICmpPredicate::ult, j, i32c(lb, ll, pieces));
            Value jj =
                LLVM::SelectOp::create(lb, ll, inside, j, i32c(lb, ll, 0));
            Value off = LLVM::ZExtOp::create(
                lb, ll, lb.getI64Type(),
                LLVM::MulOp::create(lb, ll, jj, i32c(lb, ll, 4 * width)));
            for (int64_t h = 0; h < 2; ++h)
              vals[h].push_back(LLVM::LoadOp::create(
                  lb, ll, vecTy, gepBytes(lb, ll, bases[h], off), 4 * width));
          }
          SmallVector<Value> next;
          for (int64_t h = 0; h < 2; ++h) {
            Value mh = it[h];
            for (Value v : vals[h])
              for (int64_t e = 0; e < width; ++e)
                mh = LLVM::UMaxOp::create(
                    lb, ll, mh,
                    maxByte(lb, ll,
                            LLVM::ExtractElementOp::create(lb, ll, v,
                                                           i32c(lb, ll, e))));
            next.push_back(mh);
          }
          scf::YieldOp::create(lb, ll, next);
        });
    loop->setAttr("loop_annotation", noUnrollAnnotation(rewriter.getContext()));
    Value m[2];
    for (int64_t h = 0; h < 2; ++h) {
      m[h] = loop.getResult(h);
      for (int64_t d = 1; d < 4; d *= 2)
        m[h] = LLVM::UMaxOp::create(
            rewriter, loc, m[h],
            NVVM::ShflOp::create(rewriter, loc, i32, i32c(rewriter, loc, -1),
                                 m[h], i32c(rewriter, loc, d),
                                 i32c(rewriter, loc, 0x1f),
                                 NVVM::ShflKindAttr::get(rewriter.getContext(),
                                                         NVVM::ShflKind::bfly),
                                 UnitAttr()));
    }
    rewriter.replaceOp(op, pairOf(rewriter, loc, m[0], m[1]));
    return success();
  }
};

struct LoadFp4FragmentScalesLowering
    : OpConversionPattern<LoadFp4FragmentScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadFp4FragmentScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    auto rows = fragmentWeightRows(rewriter, loc, adaptor.getRow(),
                                   op.getScaleRowsAttr().getInt());
    Value words[2];
    for (int64_t h = 0; h < 2; ++h) {
      // Word (row * scale_cols + 4 * k_block) / 4.
      Value word = LLVM::AddOp::create(
          rewriter, loc,
          LLVM::MulOp::create(
              rewriter, loc, rows[h],
              i64c(rewriter, loc, op.getScaleColsAttr().getInt() / 4)),
          toI64(rewriter, loc, adaptor.getKBlock()));
      words[h] = LLVM::LoadOp::create(
          rewriter, loc, i32,
          LLVM::GEPOp::create(rewriter, loc, adaptor.getScales().getType(), i32,
                              adaptor.getScales(), ValueRange{word}),
          4);
    }
    rewriter.replaceOp(op, pairOf(rewriter, loc, words[0], words[1]));
    return success();
  }
};

/// wgmma.mma_async m64nNk32 e4m3 (with `bf16`: m64nNk16 bf16, B not
/// transposed) with A from the four registers `a` and B from descriptor
/// `descB`, into `acc` (struct of N/2 f32) or, when `acc` is null, a fresh
/// product (scale-d false).
Value wgmmaRegA(OpBuilder &b, Location loc, LLVM::LLVMStructType accTy,
                Value acc, ArrayRef<Value> a, Value descB, int64_t n,
                bool bf16 = false) {
  int64_t nd = n / 2;
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, $" +
                     std::to_string(nd + (acc ? nd : 0) + 5) +
                     ", 0;\nwgmma.mma_async.sync.aligned.m64n" +
                     std::to_string(n) +
                     (bf16 ? "k16.f32.bf16.bf16 {" : "k32.f32.e4m3.e4m3 {");
  std::string constraints;
  for (int64_t i = 0; i < nd; ++i) {
    text += (i ? ", $" : "$") + std::to_string(i);
    constraints += (i ? ",=f" : "=f");
  }
  SmallVector<Value> operands;
  if (acc)
    for (int64_t i = 0; i < nd; ++i) {
      operands.push_back(
          LLVM::ExtractValueOp::create(b, loc, acc, ArrayRef<int64_t>{i}));
      constraints += "," + std::to_string(i);
    }
  int64_t a0 = nd + (acc ? nd : 0);
  text += "}, {";
  for (int64_t i = 0; i < 4; ++i) {
    text += (i ? ", $" : "$") + std::to_string(a0 + i);
    operands.push_back(a[i]);
    constraints += ",r";
  }
  text += "}, $" + std::to_string(a0 + 4) +
          (bf16 ? ", p, 1, 1, 0;\n}" : ", p, 1, 1;\n}");
  operands.push_back(descB);
  constraints += ",l,r";
  operands.push_back(i32c(b, loc, acc ? 1 : 0));
  return LLVM::InlineAsmOp::create(
             b, loc, TypeRange{accTy}, operands, text, constraints,
             /*has_side_effects=*/true, /*is_align_stack=*/false,
             LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

struct Fp4FragmentTablesLowering : OpConversionPattern<Fp4FragmentTablesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Fp4FragmentTablesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value tables = fp4SharedTables(rewriter, loc);
    Value q = quadLane(rewriter, loc);
    Value tab[2];
    for (int64_t h = 0; h < 2; ++h)
      // Block q's table: its scale is byte q of the row's word.
      tab[h] = fp4BlockTable(
          rewriter, loc, tables,
          LLVM::ExtractElementOp::create(rewriter, loc, adaptor.getScales(),
                                         i32c(rewriter, loc, h)),
          q,
          LLVM::ExtractElementOp::create(rewriter, loc, adaptor.getRowMax(),
                                         i32c(rewriter, loc, h)));
    // Row r's two words, then row r + 8's.
    rewriter.replaceOp(
        op, LLVM::ShuffleVectorOp::create(rewriter, loc, tab[0], tab[1],
                                          ArrayRef<int32_t>{0, 1, 2, 3}));
    return success();
  }
};

struct MmaFp4Lowering : OpConversionPattern<MmaFp4Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaFp4Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i64 = rewriter.getI64Type();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    Value packed =
        tileAddress(rewriter, loc, p, type, op.getPackedAttr().getInt());
    Value descB = smemDescriptor(
        rewriter, loc,
        tileAddress(rewriter, loc, p, type, op.getBAttr().getInt()));
    Value q = quadLane(rewriter, loc);
    Value r0 = LLVM::AddOp::create(rewriter, loc,
                                   toI32(rewriter, loc, adaptor.getARow()),
                                   fragmentRow(rewriter, loc));
    int64_t blocks = op.getResults().size();
    // Per block f and fragment row h (r and r + 8): the row's packed block
    // q (16 bytes).
    SmallVector<std::array<Value, 2>> packedBlock(blocks);
    auto quadTy = VectorType::get({4}, rewriter.getI32Type());
    for (int64_t f = 0; f < blocks; ++f)
      for (int64_t h = 0; h < 2; ++h) {
        Value r = LLVM::AddOp::create(rewriter, loc, r0, c32(64 * f + 8 * h));
        // Block q of the row: 16-byte chunk q at (q ^ (r / 2 % 4)) * 16 (the
        // 64-byte swizzle).
        Value chunk = LLVM::XOrOp::create(
            rewriter, loc, q,
            LLVM::AndOp::create(rewriter, loc,
                                LLVM::LShrOp::create(rewriter, loc, r, c32(1)),
                                c32(3)));
        Value rowBase = gepBytes(
            rewriter, loc, packed,
            LLVM::ZExtOp::create(
                rewriter, loc, i64,
                LLVM::AddOp::create(
                    rewriter, loc,
                    LLVM::MulOp::create(rewriter, loc, r, c32(64)),
                    LLVM::ShlOp::create(rewriter, loc, chunk, c32(4)))));
        packedBlock[f][h] =
            LLVM::LoadOp::create(rewriter, loc, quadTy, rowBase, 16);
      }
    int64_t n = cast<AccType>(op.getResults().front().getType()).getCols();
    auto accTy = cast<LLVM::LLVMStructType>(
        getTypeConverter()->convertType(op.getResults().front().getType()));
    SmallVector<Value> acc(blocks);
    int64_t group = op.getStepsPerFence();
    for (int64_t s0 = 0; s0 < 4; s0 += group) {
      // Registers of step s: (row r, K positions 4q..), (row r + 8, 4q..),
      // (row r, 16 + 4q..), (row r + 8, 16 + 4q..): values 8s..8s+3 and
      // 8s+4..8s+7 of block q (packed word s), where the permuted tile b
      // holds those K indices. The group's registers of every block first,
      // then one fence, then its MMAs.
      SmallVector<std::array<Value, 4>> regs(group * blocks);
      for (int64_t s = s0; s < s0 + group; ++s)
        for (int64_t f = 0; f < blocks; ++f)
          for (int64_t h = 0; h < 2; ++h) {
            auto [lo, hi] = e2m1ToE4m3(
                rewriter, loc,
                LLVM::ExtractElementOp::create(rewriter, loc, packedBlock[f][h],
                                               c32(s)),
                LLVM::ExtractElementOp::create(
                    rewriter, loc, adaptor.getTables()[f], c32(2 * h)),
                LLVM::ExtractElementOp::create(
                    rewriter, loc, adaptor.getTables()[f], c32(2 * h + 1)));
            regs[(s - s0) * blocks + f][h] = lo;
            regs[(s - s0) * blocks + f][2 + h] = hi;
          }
      NVVM::WgmmaFenceAlignedOp::create(rewriter, loc);
      for (int64_t s = s0; s < s0 + group; ++s)
        for (int64_t f = 0; f < blocks; ++f)
          acc[f] = wgmmaRegA(rewriter, loc, accTy, acc[f],
                             regs[(s - s0) * blocks + f],
                             LLVM::AddOp::create(rewriter, loc, descB,
                                                 i64c(rewriter, loc, 2 * s)),
                             n);
    }
    NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
    rewriter.replaceOp(op, acc);
    return success();
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// Transposed FP4 products for small tiles of the bf16 kernel (sm_90a)
//===----------------------------------------------------------------------===//

namespace {
//
// As moek.mma_fp4, with bf16: a tile of few tokens multiplies the weights
// as wgmma's A operand, expanded to bf16 in each thread's registers, by the
// tokens as B (m64n16k16). In K step s of a 64-wide slice a thread holds,
// for rows r and r + 8 of a 64-row block, K positions 16s + 2q, + 1 and
// 16s + 8 + 2q, + 1 (q = lane % 4): bytes 8s + q and 8s + 4 + q of the
// row's 32 packed bytes, byte q of words 2s and 2s + 1. No K order is
// permuted: the token rows are the kernel's usual tile.

struct LoadFp4SliceScalesLowering : OpConversionPattern<LoadFp4SliceScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadFp4SliceScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    bool nvfp4 = op.getNvfp4();
    int64_t per = nvfp4 ? 4 : 2;
    Type word = nvfp4 ? i32 : rewriter.getI16Type();
    Value slice = toI64(rewriter, loc, adaptor.getSlice());
    Value result =
        LLVM::UndefOp::create(rewriter, loc, VectorType::get({4}, i32));
    SmallVector<Value, 4> rows =
        fragmentWeightRows(rewriter, loc, adaptor.getRow(),
                           op.getScaleRowsAttr().getInt(), /*blocks=*/2);
    for (int64_t f = 0; f < 2; ++f) {
      for (int64_t h = 0; h < 2; ++h) {
        Value r = rows[2 * f + h];
        // Element (r * scale_cols + per * slice) / per of per-byte words.
        Value index = LLVM::AddOp::create(
            rewriter, loc,
            LLVM::MulOp::create(
                rewriter, loc, r,
                i64c(rewriter, loc, op.getScaleColsAttr().getInt() / per)),
            slice);
        Value v = LLVM::LoadOp::create(
            rewriter, loc, word,
            LLVM::GEPOp::create(rewriter, loc, adaptor.getScales().getType(),
                                word, adaptor.getScales(), ValueRange{index}),
            per);
        if (!nvfp4)
          v = LLVM::ZExtOp::create(rewriter, loc, i32, v);
        result = LLVM::InsertElementOp::create(rewriter, loc, result, v,
                                               i32c(rewriter, loc, 2 * f + h));
      }
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct MmaFp4Bf16Lowering : OpConversionPattern<MmaFp4Bf16Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaFp4Bf16Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type(), i64 = rewriter.getI64Type();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    Value packed =
        tileAddress(rewriter, loc, p, type, op.getPackedAttr().getInt());
    Value descB = smemDescriptor(
        rewriter, loc,
        tileAddress(rewriter, loc, p, type, op.getBAttr().getInt()));
    // prmt's selector of byte q alone in the low byte.
    Value select =
        LLVM::OrOp::create(rewriter, loc, quadLane(rewriter, loc), c32(0x4440));
    Value r0 = LLVM::AddOp::create(rewriter, loc,
                                   toI32(rewriter, loc, adaptor.getARow()),
                                   fragmentRow(rewriter, loc));
    int64_t blocks = op.getResults().size();
    bool nvfp4 = op.getNvfp4();
    // Per block f and fragment row h: the row's 32 packed bytes (words
    // 0..7) and its scales.
    auto quadTy = VectorType::get({4}, i32);
    SmallVector<std::array<SmallVector<Value>, 2>> words(blocks);
    SmallVector<std::array<Value, 2>> scales(blocks);
    for (int64_t f = 0; f < blocks; ++f)
      for (int64_t h = 0; h < 2; ++h) {
        Value r = LLVM::AddOp::create(rewriter, loc, r0, c32(64 * f + 8 * h));
        Value off = LLVM::MulOp::create(rewriter, loc, r, c32(32));
        for (int64_t half = 0; half < 2; ++half) {
          Value v = LLVM::LoadOp::create(
              rewriter, loc, quadTy,
              gepBytes(
                  rewriter, loc, packed,
                  LLVM::ZExtOp::create(
                      rewriter, loc, i64,
                      LLVM::AddOp::create(rewriter, loc, off, c32(16 * half)))),
              16);
          for (int64_t w = 0; w < 4; ++w)
            words[f][h].push_back(
                LLVM::ExtractElementOp::create(rewriter, loc, v, c32(w)));
        }
        scales[f][h] = LLVM::ExtractElementOp::create(
            rewriter, loc, adaptor.getScales(), c32(2 * f + h));
      }
    auto scaleByte = [&](OpBuilder &b, Value word, int64_t c) -> Value {
      return LLVM::AndOp::create(
          b, loc, LLVM::LShrOp::create(b, loc, word, i32c(b, loc, 8 * c)),
          i32c(b, loc, 0xFF));
    };
    // The pairs 2^-126 times their e2m1 values (e2m1PairTiny), register
    // (s, f, j) with j = h (K 16s + 2q) or 2 + h (K 16s + 8 + 2q).
    auto at = [&](int64_t s, int64_t f, int64_t j) {
      return (s * blocks + f) * 4 + j;
    };
    SmallVector<Value> tiny(4 * blocks * 4);
    for (int64_t s = 0; s < 4; ++s)
      for (int64_t f = 0; f < blocks; ++f)
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t half = 0; half < 2; ++half) {
            Value byte = NVVM::PermuteOp::create(
                rewriter, loc, i32, words[f][h][2 * s + half], c32(0), select,
                NVVM::PermuteMode::DEFAULT);
            tiny[at(s, f, 2 * half + h)] = e2m1PairTiny(rewriter, loc, byte);
          }
    auto pairTy = VectorType::get({2}, rewriter.getBF16Type());
    // 2^126 in bf16: exponent field 253.
    auto twoTo126 = [&](OpBuilder &b) -> Value {
      return LLVM::BitcastOp::create(b, loc, pairTy, i32c(b, loc, 0x7E807E80));
    };
    // Register (s, f, j) times its block's factor(s).
    auto expand =
        [&](OpBuilder &b, bool twoSteps,
            function_ref<Value(OpBuilder &, int64_t, int64_t, int64_t)>
                factor) {
          SmallVector<Value> regs(tiny.size());
          for (int64_t s = 0; s < 4; ++s)
            for (int64_t f = 0; f < blocks; ++f)
              for (int64_t j = 0; j < 4; ++j) {
                Value v = tiny[at(s, f, j)];
                if (twoSteps)
                  v = LLVM::FMulOp::create(b, loc, v, twoTo126(b));
                regs[at(s, f, j)] =
                    bf16PairTimes(b, loc, v, factor(b, s, f, j % 2));
              }
          return regs;
        };
    SmallVector<Value> regs;
    if (nvfp4) {
      // Step s is 16-value block s, e4m3 scale byte s. The quad's four
      // lanes hold the same rows: lane q converts block q's scale of each
      // (byte q, picked as its packed bytes), times 2^117, and the four
      // exchange them (shfl.sync.idx within the quad). One multiplication
      // a pair then gives v * s * 2^-9 (2^-126 * 2^117), exact in bf16
      // (at most 6 significant bits, 2^-19 to 5.25); the caller scales the
      // sums by 2^9.
      // 2^117 in bf16: exponent field 244.
      Value twoTo117 =
          LLVM::BitcastOp::create(rewriter, loc, pairTy, c32(0x7A007A00));
      SmallVector<std::array<std::array<Value, 4>, 2>> factors(blocks);
      for (int64_t f = 0; f < blocks; ++f)
        for (int64_t h = 0; h < 2; ++h) {
          Value own = LLVM::FMulOp::create(
              rewriter, loc,
              e4m3ScalePair(rewriter, loc,
                            NVVM::PermuteOp::create(
                                rewriter, loc, i32, scales[f][h], c32(0),
                                select, NVVM::PermuteMode::DEFAULT)),
              twoTo117);
          Value bits = LLVM::BitcastOp::create(rewriter, loc, i32, own);
          for (int64_t q = 0; q < 4; ++q)
            factors[f][h][q] = LLVM::BitcastOp::create(
                rewriter, loc, pairTy,
                NVVM::ShflOp::create(
                    rewriter, loc, i32, c32(-1), bits, c32(q),
                    c32((28 << 8) | 0x1f),
                    NVVM::ShflKindAttr::get(rewriter.getContext(),
                                            NVVM::ShflKind::idx),
                    UnitAttr()));
        }
      regs = expand(rewriter, false,
                    [&](OpBuilder &, int64_t s, int64_t f, int64_t h) {
                      return factors[f][h][s];
                    });
    } else {
      // MXFP4: steps 2c and 2c + 1 are 32-value block c, UE8M0 byte c. As
      // moek.dequant_fp4: scales up to 128 (values up to 12) one
      // multiplication by 2^(s - 1) (bf16 exponent field s + 126), larger
      // ones by 2^126 and then the scale; the branch is taken alike by a
      // thread's every register.
      Value largest = c32(0);
      for (int64_t f = 0; f < blocks; ++f)
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t c = 0; c < 2; ++c)
            largest = LLVM::UMaxOp::create(
                rewriter, loc, largest, scaleByte(rewriter, scales[f][h], c));
      Value small = LLVM::ICmpOp::create(
          rewriter, loc, LLVM::ICmpPredicate::ule, largest, c32(128));
      auto ifOp = scf::IfOp::create(rewriter, loc,
                                    SmallVector<Type>(tiny.size(), i32), small,
                                    /*withElse=*/true);
      {
        OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        scf::YieldOp::create(
            tb, loc,
            expand(tb, false,
                   [&](OpBuilder &b, int64_t s, int64_t f, int64_t h) -> Value {
                     Value e = LLVM::AddOp::create(
                         b, loc, scaleByte(b, scales[f][h], s / 2),
                         i32c(b, loc, 126));
                     return LLVM::BitcastOp::create(
                         b, loc, pairTy,
                         LLVM::MulOp::create(b, loc, e,
                                             i32c(b, loc, 0x800080)));
                   }));
      }
      {
        OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
        scf::YieldOp::create(
            eb, loc,
            expand(eb, true,
                   [&](OpBuilder &b, int64_t s, int64_t f, int64_t h) -> Value {
                     return ue8m0ScalePair(b, loc,
                                           scaleByte(b, scales[f][h], s / 2));
                   }));
      }
      regs.assign(ifOp.getResults().begin(), ifOp.getResults().end());
    }
    int64_t n = cast<AccType>(op.getResults().front().getType()).getCols();
    auto accTy = cast<LLVM::LLVMStructType>(
        getTypeConverter()->convertType(op.getResults().front().getType()));
    SmallVector<Value> acc(adaptor.getAccs());
    NVVM::WgmmaFenceAlignedOp::create(rewriter, loc);
    for (int64_t s = 0; s < 4; ++s)
      for (int64_t f = 0; f < blocks; ++f)
        acc[f] = wgmmaRegA(rewriter, loc, accTy, acc[f],
                           ArrayRef<Value>(regs).slice(at(s, f, 0), 4),
                           LLVM::AddOp::create(rewriter, loc, descB,
                                               i64c(rewriter, loc, 2 * s)),
                           n, /*bf16=*/true);
    NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
    rewriter.replaceOp(op, acc);
    return success();
  }
};

struct LoadColScalesLowering : OpConversionPattern<LoadColScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadColScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Element 2j + e: column 8j + 2q + e, as moek.load_rows does rows.
    // More than 4 a thread (64 columns: moek.mma_block_scaled's products):
    // the lane from a fresh %tid.x, else LLVM hoists the rows' addresses
    // out of the K loop, a register pair per element live across it (ptxas
    // spilled with 16). With 4 the hoisted addresses are cheap, and the
    // fresh read (an asm with side effects, which the loads may not cross)
    // made the FP8 x MXFP4 small tiles 6% slower on the H200.
    Location loc = op.getLoc();
    auto vecTy = cast<VectorType>(op.getScales().getType());
    Value last =
        arith::SubIOp::create(rewriter, loc, adaptor.getRowLimit(),
                              arith::ConstantIndexOp::create(rewriter, loc, 1));
    Value q = vecTy.getNumElements() > 4
                  ? Value(LLVM::AndOp::create(rewriter, loc,
                                              freshThreadIdX(rewriter, loc),
                                              i32c(rewriter, loc, 3)))
                  : quadLane(rewriter, loc);
    Value row0 = arith::AddIOp::create(
        rewriter, loc, adaptor.getRow(),
        toIndex(rewriter, loc,
                LLVM::ShlOp::create(rewriter, loc, q, i32c(rewriter, loc, 1))));
    Value result = LLVM::UndefOp::create(rewriter, loc, vecTy);
    for (int64_t i = 0, n = vecTy.getNumElements(); i < n; ++i) {
      Value row = arith::AddIOp::create(
          rewriter, loc, row0,
          arith::ConstantIndexOp::create(rewriter, loc, 8 * (i / 2) + i % 2));
      Value v = loadRowValue(rewriter, loc, adaptor.getPtr(), row,
                             adaptor.getRowLimit(), last,
                             op.getLdAttr().getInt(), adaptor.getCol());
      result = LLVM::InsertElementOp::create(rewriter, loc, result, v,
                                             i32c(rewriter, loc, i));
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct MmaPromoteColsLowering : OpConversionPattern<MmaPromoteColsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaPromoteColsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Value 4j + 2h + e is at column 8j + 2q + e: scale 2j + e.
    Location loc = op.getLoc();
    Value partial = adaptor.getPartial(), cs = adaptor.getColScales();
    rewriter.replaceOp(
        op, mapFragment(rewriter, loc, adaptor.getAcc(),
                        fragmentSize(op.getAcc().getType()),
                        [&](int64_t i, Value a) -> Value {
                          Value p = LLVM::ExtractValueOp::create(
                              rewriter, loc, partial, ArrayRef<int64_t>{i});
                          Value s = LLVM::ExtractElementOp::create(
                              rewriter, loc, cs,
                              i32c(rewriter, loc, 2 * (i / 4) + i % 2));
                          return LLVM::FMAOp::create(rewriter, loc, p, s, a);
                        }));
    return success();
  }
};

struct AccStoreTransposedLowering : OpConversionPattern<AccStoreTransposedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccStoreTransposedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Value 4j + 2h + e of this thread: row r = fragmentRow + 8h, column
    // c = 8j + 2q + e; it becomes row c, column w = col + r of the target
    // fragment: thread 32 (c / 16) + 4 (c % 8) + (w % 8) / 2, value
    // 4 (w / 8) + 2 ((c % 16) / 8) + w % 2, at float v * 2N + thread
    // (moek.acc_load_smem {rows = N}). With c % 8 = 2q + e, c / 16 = j / 2
    // and (c % 16) / 8 = j % 2, the float is base(h, e) + 4N (j % 2) +
    // 32 (j / 2): four run-time bases and constant offsets instead of each
    // value's address computed from scratch.
    Location loc = op.getLoc();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    Type f32 = rewriter.getF32Type();
    int64_t n = op.getAcc().getType().getCols();
    Value q = quadLane(rewriter, loc);
    Value r0 = fragmentRow(rewriter, loc);
    // Without row_max (moek.mma_fp4_bf16's products) the values as they are.
    Value scale[2];
    if (adaptor.getRowMax())
      for (int64_t h = 0; h < 2; ++h)
        scale[h] =
            fp4ColumnScale(rewriter, loc,
                           LLVM::ExtractElementOp::create(
                               rewriter, loc, adaptor.getRowMax(), c32(h)));
    Value base[2][2];
    for (int64_t h = 0; h < 2; ++h) {
      Value w = LLVM::AddOp::create(rewriter, loc, r0,
                                    c32(op.getColAttr().getInt() + 8 * h));
      // (4 (w / 8) + w % 2) * 2N + (w % 8) / 2.
      Value v = LLVM::AddOp::create(
          rewriter, loc,
          LLVM::ShlOp::create(rewriter, loc,
                              LLVM::LShrOp::create(rewriter, loc, w, c32(3)),
                              c32(2)),
          LLVM::AndOp::create(rewriter, loc, w, c32(1)));
      Value wPart = LLVM::AddOp::create(
          rewriter, loc, LLVM::MulOp::create(rewriter, loc, v, c32(2 * n)),
          LLVM::LShrOp::create(rewriter, loc,
                               LLVM::AndOp::create(rewriter, loc, w, c32(7)),
                               c32(1)));
      for (int64_t e = 0; e < 2; ++e)
        base[h][e] = LLVM::AddOp::create(
            rewriter, loc, wPart,
            LLVM::AddOp::create(rewriter, loc,
                                LLVM::ShlOp::create(rewriter, loc, q, c32(3)),
                                c32(4 * e)));
    }
    for (int64_t i = 0, size = fragmentSize(op.getAcc().getType()); i < size;
         ++i) {
      int64_t j = i / 4, h = (i / 2) % 2, e = i % 2;
      Value slot = LLVM::AddOp::create(rewriter, loc, base[h][e],
                                       c32(4 * n * (j % 2) + 32 * (j / 2)));
      Value v = LLVM::ExtractValueOp::create(rewriter, loc, adaptor.getAcc(),
                                             ArrayRef<int64_t>{i});
      if (scale[h])
        v = LLVM::FMulOp::create(rewriter, loc, v, scale[h]);
      LLVM::StoreOp::create(
          rewriter, loc, v,
          LLVM::GEPOp::create(rewriter, loc, adaptor.getPtr().getType(), f32,
                              adaptor.getPtr(),
                              ValueRange{LLVM::ZExtOp::create(
                                  rewriter, loc, rewriter.getI64Type(), slot)}),
          4);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateFp4TransposedPatterns(const TypeConverter &converter,
                                   RewritePatternSet &patterns,
                                   bool tensorMemory) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<Fp4FragmentRowMaxLowering, LoadFp4FragmentScalesLowering,
               Fp4FragmentTablesLowering, LoadColScalesLowering,
               MmaPromoteColsLowering, AccStoreTransposedLowering,
               LoadFp4SliceScalesLowering>(converter, ctx);
  if (!tensorMemory) {
    patterns.add<MmaFp4Lowering, MmaFp4Bf16Lowering>(converter, ctx);
    return;
  }
  // tcgen05 takes A from shared or tensor memory.
  patterns.add<UnsupportedMma<MmaFp4Op>, UnsupportedMma<MmaFp4Bf16Op>>(
      converter, ctx,
      "takes its A operand from registers (wgmma): sm_90a only");
}

} // namespace mlir::moe::kernel::nvvm
