//===- Fp4.cpp - Lower moek FP4 and MXFP8 weight expansion ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// FP4 (MXFP4, NVFP4) and MXFP8 weights expanded in shared memory for the
// tensor cores, their scales, and the accumulator scalings of the FP4
// kernels.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <cmath>

namespace mlir::moe::kernel::nvvm {

Value e2m1PairTiny(OpBuilder &b, Location loc, Value byte) {
  auto i32 = [&](int64_t v) { return i32c(b, loc, v); };
  Value magnitude = LLVM::AndOp::create(
      b, loc, LLVM::MulOp::create(b, loc, byte, i32(0x00040040)),
      i32(0x01C001C0));
  Value sign = LLVM::AndOp::create(
      b, loc, LLVM::MulOp::create(b, loc, byte, i32(0x01001000)),
      i32(int32_t(0x80008000u)));
  return LLVM::BitcastOp::create(b, loc, VectorType::get({2}, b.getBF16Type()),
                                 LLVM::OrOp::create(b, loc, magnitude, sign));
}

namespace {

/// Byte `q` of `word` (i32) alone in the low byte (one prmt: LLVM turned
/// some of the shift-and-mask forms into longer sequences).
Value byteOf(OpBuilder &b, Location loc, Value word, int64_t q) {
  return NVVM::PermuteOp::create(b, loc, b.getI32Type(), word, i32c(b, loc, 0),
                                 i32c(b, loc, 0x4440 | q),
                                 NVVM::PermuteMode::DEFAULT);
}

} // namespace

Value bf16PairTimes(OpBuilder &b, Location loc, Value pair, Value factor) {
  return LLVM::BitcastOp::create(b, loc, b.getI32Type(),
                                 LLVM::FMulOp::create(b, loc, pair, factor));
}

namespace {

/// The bits (i32) of 2^(byte - 127) for a UE8M0 scale byte (i32) in a
/// float format whose exponent field starts at bit `exponentShift` (23:
/// f32, 7: bf16): byte << exponentShift, except 0 (2^-127, a subnormal: the
/// mantissa's top bit) and 255 (NaN: all exponent bits and the top
/// mantissa bit).
Value ue8m0Bits(OpBuilder &b, Location loc, Value byte, int64_t exponentShift) {
  auto c32 = [&](int64_t v) { return i32c(b, loc, v); };
  int64_t half = int64_t(1) << (exponentShift - 1);
  Value bits = LLVM::ShlOp::create(b, loc, byte, c32(exponentShift));
  bits = LLVM::SelectOp::create(
      b, loc,
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, byte, c32(0)),
      c32(half), bits);
  return LLVM::SelectOp::create(
      b, loc,
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, byte, c32(255)),
      c32((int64_t(0xFF) << exponentShift) | half), bits);
}

} // namespace

Value ue8m0ScalePair(OpBuilder &b, Location loc, Value byte) {
  Value bits = ue8m0Bits(b, loc, byte, /*exponentShift=*/7);
  Value pair = LLVM::OrOp::create(
      b, loc, bits, LLVM::ShlOp::create(b, loc, bits, i32c(b, loc, 16)));
  return LLVM::BitcastOp::create(b, loc, VectorType::get({2}, b.getBF16Type()),
                                 pair);
}

namespace {

/// The thread's index among the expansion's threads from `firstThread`,
/// from a fresh %tid.x: from the plain one LLVM hoisted the expansion's row
/// addresses to the kernel's entry, live through the dispatch (ptxas
/// spilled there).
Value expansionThread(OpBuilder &b, Location loc, int64_t firstThread) {
  return LLVM::SubOp::create(b, loc, freshThreadIdX(b, loc),
                             i32c(b, loc, firstThread));
}

/// The source and destination tiles of an expansion (moek.dequant_fp4,
/// moek.dequant_fp4_fp8, moek.dequant_mxfp8) in the stage of its
/// iteration, and the rows of the destination.
template <typename Op, typename Adaptor>
std::tuple<Value, Value, int64_t> expansionTiles(OpBuilder &b, Location loc,
                                                 Op op, Adaptor adaptor) {
  RingType type = op.getRing().getType();
  RingParts p = unpackRing(b, loc, adaptor.getRing(), type, adaptor.getIter());
  return {tileAddress(b, loc, p, type, op.getFromAttr().getInt()),
          tileAddress(b, loc, p, type, op.getToAttr().getInt()),
          type.getTile(op.getToAttr().getInt()).getDimSize(0)};
}

/// After generic-proxy stores into shared memory: a proxy fence, then named
/// barrier `id` over `threads` threads, so that the tensor cores (async
/// proxy) of every one of them see the stores.
void publishToTensorCores(OpBuilder &b, Location loc, int64_t id,
                          int64_t threads) {
  MLIRContext *ctx = b.getContext();
  NVVM::FenceProxyOp::create(
      b, loc, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
      NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
  ctaBarrier(b, loc, id, threads);
}

} // namespace

Value e4m3ScalePair(OpBuilder &b, Location loc, Value byte) {
  auto c = [&](int64_t v) { return i32c(b, loc, v); };
  Value mag = LLVM::AndOp::create(b, loc, byte, c(0x7F));
  Value bits = LLVM::OrOp::create(
      b, loc,
      LLVM::ShlOp::create(b, loc, LLVM::AndOp::create(b, loc, byte, c(0x80)),
                          c(8)),
      LLVM::ShlOp::create(b, loc, mag, c(4)));
  bits = LLVM::SelectOp::create(
      b, loc,
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, mag, c(0x7F)),
      c(0x7FC0), bits);
  auto pairTy = VectorType::get({2}, b.getBF16Type());
  Value tiny = LLVM::BitcastOp::create(
      b, loc, pairTy,
      LLVM::OrOp::create(b, loc, bits,
                         LLVM::ShlOp::create(b, loc, bits, c(16))));
  // 2^120 in bf16: exponent field 247.
  Value twoTo120 = LLVM::BitcastOp::create(b, loc, pairTy, c(0x7B807B80));
  return LLVM::FMulOp::create(b, loc, tiny, twoTo120);
}

namespace {

/// The scale row (i64) of row `r` (i32) of an expansion's `rows`-row tile
/// whose rows start at `row0` (i64): with `upperRow` (index), the tile's
/// upper half from there instead (moek.dequant_fp4 and dequant_mxfp8
/// `upper`). Not clamped: the callers take the minimum with the scales'
/// last row, so that rows past it (a partial last tile) read the last.
Value expansionScaleRow(OpBuilder &b, Location loc, Value r, int64_t rows,
                        Value row0, Value upperRow) {
  Value scaleBase = row0, rowOff = r;
  if (upperRow) {
    Value upper = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::uge, r,
                                       i32c(b, loc, rows / 2));
    scaleBase =
        LLVM::SelectOp::create(b, loc, upper, toI64(b, loc, upperRow), row0);
    rowOff = LLVM::SelectOp::create(
        b, loc, upper, LLVM::SubOp::create(b, loc, r, i32c(b, loc, rows / 2)),
        r);
  }
  return LLVM::AddOp::create(
      b, loc, scaleBase, LLVM::ZExtOp::create(b, loc, b.getI64Type(), rowOff));
}

struct DequantMxfp8Lowering : OpConversionPattern<DequantMxfp8Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantMxfp8Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto [src, dst, rows] = expansionTiles(rewriter, loc, op, adaptor);
    int64_t threads = op.getThreadsAttr().getInt();
    Type i32 = rewriter.getI32Type(), i64 = rewriter.getI64Type();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    auto at = [&](Value base, Value bytes) {
      return gepBytesU32(rewriter, loc, base, bytes);
    };
    Value t = expansionThread(rewriter, loc, op.getFirstThreadAttr().getInt());
    Value row0 = toI64(rewriter, loc, adaptor.getRow());
    Value lastRow = LLVM::SubOp::create(
        rewriter, loc, toI64(rewriter, loc, adaptor.getRowLimit()),
        i64c(rewriter, loc, 1));
    Value kBlock = toI64(rewriter, loc, adaptor.getKBlock());
    auto quadTy = VectorType::get({4}, i32);
    // Block u = t + j * threads: row u / 2, 32-value block u % 2 (32 e4m3
    // bytes at u * 32, one scale, four 16-byte chunks of the bf16 row).
    // Each block's bytes are loaded before its expansion (not all blocks'
    // first, as moek.dequant_fp4 does: a thread's two blocks of a fused
    // layer's 256-row tile are 16 registers, which spilled).
    int64_t blocksPerThread = rows * 2 / threads;
    for (int64_t j = 0; j < blocksPerThread; ++j) {
      Value u = LLVM::AddOp::create(rewriter, loc, t, c32(j * threads));
      Value blockValues[2];
      for (int64_t h = 0; h < 2; ++h)
        blockValues[h] = LLVM::LoadOp::create(
            rewriter, loc, quadTy,
            at(src, LLVM::AddOp::create(
                        rewriter, loc,
                        LLVM::MulOp::create(rewriter, loc, u, c32(32)),
                        c32(16 * h))),
            16);
      Value r = LLVM::LShrOp::create(rewriter, loc, u, c32(1));
      Value blk = LLVM::AndOp::create(rewriter, loc, u, c32(1));
      Value scaleRow =
          LLVM::UMinOp::create(rewriter, loc,
                               expansionScaleRow(rewriter, loc, r, rows, row0,
                                                 adaptor.getUpperRow()),
                               lastRow);
      Value scaleIndex = LLVM::AddOp::create(
          rewriter, loc,
          LLVM::MulOp::create(
              rewriter, loc, scaleRow,
              i64c(rewriter, loc, op.getScaleColsAttr().getInt())),
          LLVM::AddOp::create(rewriter, loc, kBlock,
                              LLVM::ZExtOp::create(rewriter, loc, i64, blk)));
      Value byte = LLVM::ZExtOp::create(
          rewriter, loc, i32,
          LLVM::LoadOp::create(
              rewriter, loc, rewriter.getI8Type(),
              LLVM::GEPOp::create(rewriter, loc, adaptor.getScales().getType(),
                                  rewriter.getI8Type(), adaptor.getScales(),
                                  ValueRange{scaleIndex}),
              1));
      Value scale = LLVM::BitcastOp::create(
          rewriter, loc, rewriter.getF32Type(),
          ue8m0Bits(rewriter, loc, byte, /*exponentShift=*/23));
      for (int64_t h = 0; h < 2; ++h) {
        Value values = blockValues[h];
        // Words 2c and 2c + 1 (8 values) fill 16-byte chunk 4 blk + 2h + c
        // of the bf16 row.
        for (int64_t c = 0; c < 2; ++c) {
          Value chunk = LLVM::UndefOp::create(rewriter, loc, quadTy);
          for (int64_t q = 0; q < 4; ++q) {
            Value word = LLVM::ExtractElementOp::create(rewriter, loc, values,
                                                        c32(2 * c + q / 2));
            Value pair = LLVM::TruncOp::create(
                rewriter, loc, rewriter.getI16Type(),
                LLVM::LShrOp::create(rewriter, loc, word, c32(16 * (q % 2))));
            chunk = LLVM::InsertElementOp::create(
                rewriter, loc, chunk,
                e4m3PairTimesScale(rewriter, loc, pair, scale), c32(q));
          }
          Value kc = LLVM::AddOp::create(
              rewriter, loc, LLVM::MulOp::create(rewriter, loc, blk, c32(4)),
              c32(2 * h + c));
          LLVM::StoreOp::create(
              rewriter, loc, chunk,
              at(dst, bf16SwizzledChunk(rewriter, loc, r, kc)), 16);
        }
      }
    }
    publishToTensorCores(rewriter, loc, op.getBarrierAttr().getInt(), threads);
    rewriter.eraseOp(op);
    return success();
  }
};

struct DequantFp4Lowering : OpConversionPattern<DequantFp4Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantFp4Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto [src, dst, rows] = expansionTiles(rewriter, loc, op, adaptor);
    int64_t threads = op.getThreadsAttr().getInt();
    int64_t scaleCols = op.getScaleColsAttr().getInt();
    Type i32 = rewriter.getI32Type(), i64 = rewriter.getI64Type();
    Value t = LLVM::SubOp::create(
        rewriter, loc, threadIdX(rewriter, loc),
        i32c(rewriter, loc, op.getFirstThreadAttr().getInt()));
    Value row0 = toI64(rewriter, loc, adaptor.getRow());
    Value kBlock = toI64(rewriter, loc, adaptor.getKBlock());
    auto chunkTy = VectorType::get({4}, i32);
    // Block u = t + j * threads: row u / 2, 32-value block u % 2 (16 packed
    // bytes, one scale, four 16-byte chunks of the bf16 row): one load,
    // one scale and four stores per 32 values.
    auto quadTy = VectorType::get({4}, i32);
    // Every block's packed bytes loaded first: ptxas does not move a shared
    // load above the previous block's shared stores (it cannot tell the
    // tiles apart), so the second load's latency was waited for in full.
    int64_t blocksPerThread = rows * 2 / threads;
    SmallVector<Value> packedBlocks;
    for (int64_t j = 0; j < blocksPerThread; ++j) {
      Value u = LLVM::AddOp::create(rewriter, loc, t,
                                    i32c(rewriter, loc, j * threads));
      packedBlocks.push_back(LLVM::LoadOp::create(
          rewriter, loc, quadTy,
          gepBytes(rewriter, loc, src,
                   LLVM::ZExtOp::create(
                       rewriter, loc, i64,
                       LLVM::MulOp::create(rewriter, loc, u,
                                           i32c(rewriter, loc, 16)))),
          16));
    }
    for (int64_t j = 0; j < blocksPerThread; ++j) {
      Value u = LLVM::AddOp::create(rewriter, loc, t,
                                    i32c(rewriter, loc, j * threads));
      Value r = LLVM::LShrOp::create(rewriter, loc, u, i32c(rewriter, loc, 1));
      Value blk = LLVM::AndOp::create(rewriter, loc, u, i32c(rewriter, loc, 1));
      Value packed = packedBlocks[j];
      // Rows past the scales' last (a partial last tile) read the last.
      Value scaleRow = LLVM::UMinOp::create(
          rewriter, loc,
          expansionScaleRow(rewriter, loc, r, rows, row0,
                            adaptor.getUpperRow()),
          i64c(rewriter, loc, op.getScaleRowsAttr().getInt() - 1));
      // NVFP4: two e4m3 scales a 32-value block (one 16-bit load).
      bool nvfp4 = op.getNvfp4();
      Value scaleIndex = LLVM::AddOp::create(
          rewriter, loc,
          LLVM::MulOp::create(rewriter, loc, scaleRow,
                              i64c(rewriter, loc, scaleCols)),
          LLVM::AddOp::create(
              rewriter, loc, kBlock,
              LLVM::MulOp::create(rewriter, loc,
                                  LLVM::ZExtOp::create(rewriter, loc, i64, blk),
                                  i64c(rewriter, loc, nvfp4 ? 2 : 1))));
      Type scaleTy = nvfp4 ? rewriter.getI16Type() : rewriter.getI8Type();
      Value bytes = LLVM::ZExtOp::create(
          rewriter, loc, i32,
          LLVM::LoadOp::create(
              rewriter, loc, scaleTy,
              LLVM::GEPOp::create(rewriter, loc, adaptor.getScales().getType(),
                                  rewriter.getI8Type(), adaptor.getScales(),
                                  ValueRange{scaleIndex}),
              nvfp4 ? 2 : 1));
      // The block's 16 pairs 2^-126 times their values (tinyPairs), then
      // as bf16 chunks, word w of the block (16-byte chunk kc = 4 blk + w of
      // the row; its byte q values 2q and 2q + 1) times factors[w / 2].
      auto pairTy = VectorType::get({2}, rewriter.getBF16Type());
      SmallVector<Value> tinyPairs;
      for (int64_t w = 0; w < 4; ++w) {
        Value word = LLVM::ExtractElementOp::create(rewriter, loc, packed,
                                                    i32c(rewriter, loc, w));
        for (int64_t q = 0; q < 4; ++q)
          tinyPairs.push_back(
              e2m1PairTiny(rewriter, loc, byteOf(rewriter, loc, word, q)));
      }
      auto chunksTimes = [&](OpBuilder &cb, ArrayRef<Value> first,
                             ArrayRef<Value> factors) {
        SmallVector<Value> chunks;
        for (int64_t w = 0; w < 4; ++w) {
          Value chunk = LLVM::UndefOp::create(cb, loc, chunkTy);
          for (int64_t q = 0; q < 4; ++q) {
            Value v = first.empty()
                          ? tinyPairs[4 * w + q]
                          : LLVM::FMulOp::create(cb, loc, tinyPairs[4 * w + q],
                                                 first[w / 2]);
            chunk = LLVM::InsertElementOp::create(
                cb, loc, chunk, bf16PairTimes(cb, loc, v, factors[w / 2]),
                i32c(cb, loc, q));
          }
          chunks.push_back(chunk);
        }
        return chunks;
      };
      // 2^126 in bf16: exponent field 253.
      Value twoTo126 = LLVM::BitcastOp::create(rewriter, loc, pairTy,
                                               i32c(rewriter, loc, 0x7E807E80));
      SmallVector<Value> chunks;
      if (nvfp4) {
        // Times 2^126, then the e4m3 scales (two multiplications: a scale
        // times 2^126 overflows bf16).
        Value scales[2];
        for (int64_t h = 0; h < 2; ++h)
          scales[h] =
              e4m3ScalePair(rewriter, loc,
                            LLVM::AndOp::create(rewriter, loc,
                                                LLVM::LShrOp::create(
                                                    rewriter, loc, bytes,
                                                    i32c(rewriter, loc, 8 * h)),
                                                i32c(rewriter, loc, 0xFF)));
        chunks = chunksTimes(rewriter, {twoTo126, twoTo126}, scales);
      } else {
        // MXFP4, scale 2^(s - 127): for s <= 128 one multiplication by
        // 2^(s - 1) (bf16 exponent field s + 126: a normal number, exact);
        // above, 2^(s - 1) overflows bf16, so by 2^126 then by the scale.
        // The branch is taken by the whole warp unless a block's scale
        // exceeds 2 (weights above 12).
        Value small =
            LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::ule, bytes,
                                 i32c(rewriter, loc, 128));
        auto ifOp = scf::IfOp::create(rewriter, loc,
                                      SmallVector<Type>(4, chunkTy), small,
                                      /*withElse=*/true);
        {
          OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
          Value e = LLVM::AddOp::create(tb, loc, bytes, i32c(tb, loc, 126));
          Value bits = LLVM::MulOp::create(tb, loc, e, i32c(tb, loc, 0x800080));
          Value factor = LLVM::BitcastOp::create(tb, loc, pairTy, bits);
          scf::YieldOp::create(tb, loc, chunksTimes(tb, {}, {factor, factor}));
        }
        {
          OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
          Value scale = ue8m0ScalePair(eb, loc, bytes);
          scf::YieldOp::create(
              eb, loc, chunksTimes(eb, {twoTo126, twoTo126}, {scale, scale}));
        }
        chunks.assign(ifOp.getResults().begin(), ifOp.getResults().end());
      }
      for (int64_t w = 0; w < 4; ++w) {
        Value chunk = chunks[w];
        Value kc = LLVM::AddOp::create(
            rewriter, loc,
            LLVM::MulOp::create(rewriter, loc, blk, i32c(rewriter, loc, 4)),
            i32c(rewriter, loc, w));
        LLVM::StoreOp::create(
            rewriter, loc, chunk,
            gepBytesU32(rewriter, loc, dst,
                        bf16SwizzledChunk(rewriter, loc, r, kc)),
            16);
      }
    }
    // The generic-proxy writes, then visible to the tensor cores (async
    // proxy) of every thread past the barrier.
    publishToTensorCores(rewriter, loc, op.getBarrierAttr().getInt(), threads);
    rewriter.eraseOp(op);
    return success();
  }
};

/// The four UE8M0 block scales of 128-wide K block `kBlock` (index) of
/// weight row `min(row + t, scaleRows - 1)` of `scales` (`[scaleRows,
/// scaleCols]` bytes, scaleCols a multiple of 4) as one aligned word: byte c
/// scales values 32c..32c+31 of the block. `t` (i32) is the thread's row.
Value loadBlockScaleWord(OpBuilder &b, Location loc, Value scales, Value row,
                         Value t, Value kBlock, int64_t scaleRows,
                         int64_t scaleCols) {
  Type i32 = b.getI32Type();
  Value r = LLVM::UMinOp::create(
      b, loc,
      LLVM::AddOp::create(b, loc, toI64(b, loc, row),
                          LLVM::ZExtOp::create(b, loc, b.getI64Type(), t)),
      i64c(b, loc, scaleRows - 1));
  // Word index: (r * scale_cols + 4 * k_block) / 4.
  Value word = LLVM::AddOp::create(
      b, loc, LLVM::MulOp::create(b, loc, r, i64c(b, loc, scaleCols / 4)),
      toI64(b, loc, kBlock));
  Value addr = LLVM::GEPOp::create(b, loc, scales.getType(), i32, scales,
                                   ValueRange{word});
  return LLVM::LoadOp::create(b, loc, i32, addr, 4);
}

struct LoadFp4ScalesLowering : OpConversionPattern<LoadFp4ScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadFp4ScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value t = LLVM::SubOp::create(
        rewriter, loc, threadIdX(rewriter, loc),
        i32c(rewriter, loc, op.getFirstThreadAttr().getInt()));
    rewriter.replaceOp(
        op, loadBlockScaleWord(rewriter, loc, adaptor.getScales(),
                               adaptor.getRow(), t, adaptor.getKBlock(),
                               op.getScaleRowsAttr().getInt(),
                               op.getScaleColsAttr().getInt()));
    return success();
  }
};

/// e4m3 byte of a float, rounded to nearest even (APFloat's conversion;
/// the table's values stay below 448).
uint8_t e4m3Byte(double x) {
  APFloat v(x);
  bool lost;
  v.convert(APFloat::Float8E4M3FN(), APFloat::rmNearestTiesToEven, &lost);
  return static_cast<uint8_t>(v.bitcastToAPInt().getZExtValue());
}

/// The expansion tables of moek.dequant_fp4_fp8: entry d (0..19), byte m
/// (0..7) is e4m3(e2m1 magnitude m * 2^(6 - d)), one i8 array in global
/// memory of the kernel module, created once.
constexpr int64_t kFp4TableEntries = 20;
Value fp4ExpansionTables(OpBuilder &b, Location loc, Operation *inside) {
  constexpr StringLiteral name = "__moe_e2m1_to_e4m3";
  Operation *table = SymbolTable::getNearestSymbolTable(inside);
  auto i8 = b.getI8Type();
  auto arrayTy = LLVM::LLVMArrayType::get(i8, kFp4TableEntries * 8);
  if (!SymbolTable::lookupSymbolIn(table, name)) {
    static const double magnitudes[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    SmallVector<int8_t> bytes;
    for (int64_t d = 0; d < kFp4TableEntries; ++d)
      for (double v : magnitudes)
        bytes.push_back(
            static_cast<int8_t>(e4m3Byte(v * std::ldexp(1.0, 6 - d))));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&table->getRegion(0).front());
    auto global = LLVM::GlobalOp::create(
        b, loc, arrayTy, /*isConstant=*/true, LLVM::Linkage::Internal, name,
        DenseElementsAttr::get(
            RankedTensorType::get({kFp4TableEntries * 8}, i8),
            ArrayRef<int8_t>(bytes)),
        /*alignment=*/8, /*addrSpace=*/1);
    (void)global;
  }
  return LLVM::AddressOfOp::create(b, loc, ptrTy(b.getContext(), 1), name);
}

/// The K loop of a small tile reads the expansion tables from shared memory:
/// from global memory they shared L1 (what 227 KB of shared memory leave of
/// it) with the weight rows' scale words, a new line per row and stage, and
/// missed; so did the large tiles' expansion (moek.dequant_fp4_fp8). A
/// kernel with either op gets this copy of them, written by its first threads
/// at entry, before a CTA barrier.
constexpr StringLiteral kFp4SharedTables = "__moe_e2m1_to_e4m3_shared";

} // namespace
Value fp4SharedTables(OpBuilder &b, Location loc) {
  return LLVM::AddressOfOp::create(b, loc, ptrTy(b.getContext(), 3),
                                   kFp4SharedTables);
}

void planFp4SharedTables(ModuleOp module) {
  module.walk([&](LLVM::LLVMFuncOp func) {
    if (!func->hasAttr("nvvm.kernel") ||
        !func.walk([](Operation *op) {
               return isa<Fp4FragmentTablesOp, DequantFp4Fp8Op>(op)
                          ? WalkResult::interrupt()
                          : WalkResult::advance();
             })
             .wasInterrupted())
      return;
    MLIRContext *ctx = func.getContext();
    Location loc = func.getLoc();
    OpBuilder b(ctx);
    Operation *symbols = SymbolTable::getNearestSymbolTable(func);
    int64_t words = kFp4TableEntries * 2;
    if (!SymbolTable::lookupSymbolIn(symbols, kFp4SharedTables)) {
      b.setInsertionPointToStart(&symbols->getRegion(0).front());
      LLVM::GlobalOp::create(
          b, loc, LLVM::LLVMArrayType::get(b.getI32Type(), words),
          /*isConstant=*/false, LLVM::Linkage::Internal, kFp4SharedTables,
          Attribute(), /*alignment=*/8, /*addrSpace=*/3);
    }
    b.setInsertionPointToStart(&func.getBody().front());
    Value global = fp4ExpansionTables(b, loc, func);
    Value shared = fp4SharedTables(b, loc);
    Value tid = threadIdX(b, loc);
    auto ifOp =
        scf::IfOp::create(b, loc,
                          LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult,
                                               tid, i32c(b, loc, words)),
                          false);
    {
      OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      Value word = LLVM::LoadOp::create(
          tb, loc, tb.getI32Type(),
          LLVM::GEPOp::create(tb, loc, global.getType(), tb.getI32Type(),
                              global, ValueRange{tid}),
          4);
      LLVM::StoreOp::create(tb, loc, word,
                            LLVM::GEPOp::create(tb, loc, shared.getType(),
                                                tb.getI32Type(), shared,
                                                ValueRange{tid}),
                            4);
    }
    NVVM::Barrier0Op::create(b, loc);
  });
}

Value fp4BlockTable(OpBuilder &b, Location loc, Value tables, Value word,
                    Value blk, Value m) {
  Value sc = LLVM::AndOp::create(
      b, loc,
      LLVM::LShrOp::create(b, loc, word,
                           LLVM::MulOp::create(b, loc, blk, i32c(b, loc, 8))),
      i32c(b, loc, 0xFF));
  Value d = LLVM::UMinOp::create(b, loc, LLVM::SubOp::create(b, loc, m, sc),
                                 i32c(b, loc, kFp4TableEntries - 1));
  auto tab = LLVM::LoadOp::create(
      b, loc, VectorType::get({2}, b.getI32Type()),
      gepBytes(b, loc, tables,
               LLVM::ZExtOp::create(
                   b, loc, b.getI64Type(),
                   LLVM::MulOp::create(b, loc, d, i32c(b, loc, 8)))),
      8);
  if (cast<LLVM::LLVMPointerType>(tables.getType()).getAddressSpace() == 1)
    tab.setInvariant(true);
  return tab;
}

std::pair<Value, Value> e2m1ToE4m3(OpBuilder &b, Location loc, Value w,
                                   Value t0, Value t1) {
  Type i32 = b.getI32Type();
  auto prmt = [&](Value lo, Value hi, Value sel) -> Value {
    return NVVM::PermuteOp::create(b, loc, i32, lo, hi, sel,
                                   NVVM::PermuteMode::DEFAULT);
  };
  Value up = LLVM::ShlOp::create(b, loc, w, i32c(b, loc, 4));
  Value mask = i32c(b, loc, 0x80808080);
  // The magnitudes' selectors: all eight nibbles masked at once (prmt reads
  // the low 16 bits of its selector).
  Value mags = LLVM::AndOp::create(b, loc, w, i32c(b, loc, 0x77777777));
  auto half = [&](Value selectors, int64_t signSel) -> Value {
    Value mag = prmt(t0, t1, selectors);
    Value signs = prmt(up, w, i32c(b, loc, signSel));
    return LLVM::OrOp::create(b, loc, mag,
                              LLVM::AndOp::create(b, loc, signs, mask));
  };
  // Output byte i of the low word: value i's sign is w bit 4i + 3, i.e.
  // bit 7 of byte i/2 of (w << 4) for even i (selector 8 | i/2) and of w
  // for odd i (selector 8 | 4 + i/2).
  Value lo = half(mags, 0xD9C8);
  Value hi = half(LLVM::LShrOp::create(b, loc, mags, i32c(b, loc, 16)), 0xFBEA);
  return {lo, hi};
}

Value fp4ColumnScale(OpBuilder &b, Location loc, Value m) {
  Value bits = ue8m0Bits(b, loc, m, /*exponentShift=*/23);
  Type f32 = b.getF32Type();
  return LLVM::FMulOp::create(
      b, loc, LLVM::BitcastOp::create(b, loc, f32, bits),
      LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.015625f)));
}

Value maxByte(OpBuilder &b, Location loc, Value word) {
  Value s[4];
  for (int64_t c = 0; c < 4; ++c)
    s[c] = LLVM::AndOp::create(
        b, loc, LLVM::LShrOp::create(b, loc, word, i32c(b, loc, 8 * c)),
        i32c(b, loc, 0xFF));
  return LLVM::UMaxOp::create(b, loc, LLVM::UMaxOp::create(b, loc, s[0], s[1]),
                              LLVM::UMaxOp::create(b, loc, s[2], s[3]));
}

namespace {

struct Fp4RowScaleLowering : OpConversionPattern<Fp4RowScaleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Fp4RowScaleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type(), i64 = rewriter.getI64Type();
    int64_t cols = op.getScaleColsAttr().getInt();
    int64_t threads = op.getThreadsAttr().getInt();
    Value t = LLVM::SubOp::create(
        rewriter, loc, threadIdX(rewriter, loc),
        i32c(rewriter, loc, op.getFirstThreadAttr().getInt()));
    Value row = LLVM::UMinOp::create(
        rewriter, loc,
        LLVM::AddOp::create(rewriter, loc,
                            toI64(rewriter, loc, adaptor.getRow()),
                            LLVM::ZExtOp::create(rewriter, loc, i64, t)),
        i64c(rewriter, loc, op.getScaleRowsAttr().getInt() - 1));
    Value base = gepBytes(
        rewriter, loc, adaptor.getScales(),
        LLVM::MulOp::create(rewriter, loc, row, i64c(rewriter, loc, cols)));
    // 16-byte loads where the rows allow (H / 32 and I / 32 bytes are
    // multiples of 16 for H, I multiples of 512), eight in flight an
    // iteration of a loop LLVM does not unroll.
    int64_t width = cols % 16 == 0 ? 4 : 1, perIter = 8;
    int64_t loads = cols / (4 * width);
    auto vecTy = VectorType::get({width}, i32);
    auto loop = scf::ForOp::create(
        rewriter, loc, arith::ConstantIndexOp::create(rewriter, loc, 0),
        arith::ConstantIndexOp::create(rewriter, loc, loads),
        arith::ConstantIndexOp::create(rewriter, loc, perIter),
        ValueRange{i32c(rewriter, loc, 0)},
        [&](OpBuilder &lb, Location ll, Value j0, ValueRange it) {
          Value m = it[0];
          for (int64_t u = 0; u < perIter; ++u) {
            Value j = arith::AddIOp::create(
                lb, ll, j0, arith::ConstantIndexOp::create(lb, ll, u));
            // Past the row's last load: the first one again.
            Value inside = arith::CmpIOp::create(
                lb, ll, arith::CmpIPredicate::ult, j,
                arith::ConstantIndexOp::create(lb, ll, loads));
            Value jj = arith::SelectOp::create(
                lb, ll, inside, j, arith::ConstantIndexOp::create(lb, ll, 0));
            Value v = LLVM::LoadOp::create(
                lb, ll, vecTy,
                gepBytes(lb, ll, base,
                         LLVM::MulOp::create(lb, ll, toI64(lb, ll, jj),
                                             i64c(lb, ll, 4 * width))),
                4 * width);
            for (int64_t e = 0; e < width; ++e)
              m = LLVM::UMaxOp::create(
                  lb, ll, m,
                  maxByte(lb, ll,
                          LLVM::ExtractElementOp::create(lb, ll, v,
                                                         i32c(lb, ll, e))));
          }
          scf::YieldOp::create(lb, ll, ValueRange{m});
        });
    loop->setAttr("loop_annotation", noUnrollAnnotation(rewriter.getContext()));
    Value m = loop.getResult(0);
    // The previous tile's column scales are read (moek.acc_scale_cols)
    // before each thread gets here.
    ctaBarrier(rewriter, loc, op.getBarrierAttr().getInt(), threads);
    Type f32 = rewriter.getF32Type();
    LLVM::StoreOp::create(
        rewriter, loc, fp4ColumnScale(rewriter, loc, m),
        LLVM::GEPOp::create(
            rewriter, loc, adaptor.getColScales().getType(), f32,
            adaptor.getColScales(),
            ValueRange{LLVM::ZExtOp::create(
                rewriter, loc, i64, colScaleSlot(rewriter, loc, t, threads))}),
        4);
    rewriter.replaceOp(op, m);
    return success();
  }
};

struct AccScaleLowering : OpConversionPattern<AccScaleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccScaleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    rewriter.replaceOp(op, mapFragment(rewriter, loc, adaptor.getAcc(),
                                       fragmentSize(op.getAcc().getType()),
                                       [&](int64_t, Value v) -> Value {
                                         return LLVM::FMulOp::create(
                                             rewriter, loc, v,
                                             adaptor.getScale());
                                       }));
    return success();
  }
};

/// The bias pairs moek.acc_add_cols loads between two warp barriers.
constexpr int64_t kBiasPairsAtOnce = 8;

struct AccAddColsLowering : OpConversionPattern<AccAddColsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccAddColsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Value 4j + 2h + e is at column 8j + 2q + e (q = lane % 4): one load
    // of the pair (8j + 2q, + 1) per j, both values of it in the row or
    // neither (ld and the columns even), added to the four values of j
    // right after its load (all loads first held 32-64 registers beside the
    // accumulator: ptxas spilled hundreds of bytes in the bf16 kernels).
    //  * A tile whose columns all lie in the row (every tile but a last,
    //    partial one; always with `in_row`): the pairs from one address
    //    (two with `upper`) at immediate offsets.
    //  * Otherwise the same with each pair past the row 0 instead of
    //    loaded: a predicated load, its flag computed beside it (no
    //    out-of-bounds load; the sums of columns past the row are never
    //    stored). (LLVM sinks the two forms' identical additions below
    //    their join; a warp barrier ending each form did not keep them.)
    // Eight pairs between two warp barriers. (Measured with ptxas: a
    // branch around each load, clamped addresses, or predicated loads for
    // every tile spilled up to 290 bytes in the FP4-weight kernels.)
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type(),
         i64 = rewriter.getI64Type();
    int64_t ld = op.getLdAttr().getInt();
    int64_t cols = op.getAcc().getType().getCols();
    bool bf16 = op.getElementType().isBF16();
    Type elem = bf16 ? Type(rewriter.getBF16Type()) : f32;
    Value vec = adaptor.getVec();
    int64_t n = fragmentSize(op.getAcc().getType());
    bool twoHalves = bool(adaptor.getUpper());
    int64_t half = cols / 16; // the j of column C / 2
    Value pairLane = LLVM::ZExtOp::create(
        rewriter, loc, i64,
        LLVM::ShlOp::create(rewriter, loc,
                            LLVM::AndOp::create(rewriter, loc,
                                                threadIdX(rewriter, loc),
                                                i32c(rewriter, loc, 3)),
                            i32c(rewriter, loc, 1)));
    Value col = toI64(rewriter, loc, adaptor.getCol());
    Value upper = twoHalves ? toI64(rewriter, loc, adaptor.getUpper()) : col;
    Value rowBase = LLVM::MulOp::create(rewriter, loc,
                                        toI64(rewriter, loc, adaptor.getRow()),
                                        i64c(rewriter, loc, ld));
    // Pair j is at column 8 (j - j0(j)) of its half (the first j of it).
    auto j0 = [&](int64_t j) { return twoHalves && j >= half ? half : 0; };
    // The two values of a loaded pair as f32: bf16's are the high halves
    // of theirs (`word` one 32-bit load), f32's one 64-bit load.
    auto widen = [&](OpBuilder &b, Value word) -> std::pair<Value, Value> {
      if (bf16)
        return {LLVM::BitcastOp::create(
                    b, loc, f32,
                    LLVM::ShlOp::create(b, loc, word, i32c(b, loc, 16))),
                LLVM::BitcastOp::create(
                    b, loc, f32,
                    LLVM::AndOp::create(b, loc, word, i32c(b, loc, -65536)))};
      return {LLVM::BitcastOp::create(b, loc, f32,
                                      LLVM::TruncOp::create(b, loc, i32, word)),
              LLVM::BitcastOp::create(
                  b, loc, f32,
                  LLVM::TruncOp::create(
                      b, loc, i32,
                      LLVM::LShrOp::create(b, loc, word, i64c(b, loc, 32))))};
    };
    Type wordTy = bf16 ? i32 : i64;
    auto loadPair = [&](OpBuilder &b, Value ptr) {
      return widen(b, LLVM::LoadOp::create(b, loc, wordTy, ptr, bf16 ? 4 : 8));
    };
    // The pair at `ptr` where `in` (i32) is not 0, else (0, 0).
    auto loadPairIf = [&](OpBuilder &b, Value ptr, Value in) {
      std::string text = std::string("{\n.reg .pred p;\nsetp.ne.b32 p, $2, "
                                     "0;\n") +
                         (bf16 ? "mov.b32 $0, 0;\n@p ld.global.b32 $0, [$1];"
                               : "mov.b64 $0, 0;\n@p ld.global.b64 $0, [$1];") +
                         "\n}";
      return widen(b, LLVM::InlineAsmOp::create(
                          b, loc, TypeRange{wordTy}, ValueRange{ptr, in}, text,
                          bf16 ? "=r,l,r" : "=l,l,r",
                          /*has_side_effects=*/false, /*is_align_stack=*/false,
                          LLVM::TailCallKind::None, LLVM::AsmDialectAttr(),
                          ArrayAttr())
                          .getResult(0));
    };
    // The four values of pair j (times `scale`, if given) plus (lo, hi).
    auto addPair = [&](OpBuilder &b, Value acc, int64_t j,
                       std::pair<Value, Value> v) {
      for (int64_t i = 4 * j; i < 4 * j + 4; ++i) {
        Value old =
            LLVM::ExtractValueOp::create(b, loc, acc, ArrayRef<int64_t>{i});
        if (adaptor.getScale())
          old = LLVM::FMulOp::create(b, loc, old, adaptor.getScale());
        acc = LLVM::InsertValueOp::create(
            b, loc, acc,
            LLVM::FAddOp::create(b, loc, old, i % 2 ? v.second : v.first),
            ArrayRef<int64_t>{i});
      }
      return acc;
    };
    // Every pair of the tile from one address per half, at immediate
    // offsets; `guarded`: each load predicated on its pair's column.
    auto addAll = [&](OpBuilder &b, bool guarded) {
      Value base = LLVM::AddOp::create(b, loc, col, pairLane);
      Value upperBase =
          twoHalves ? LLVM::AddOp::create(b, loc, upper, pairLane) : base;
      auto at = [&](Value first) {
        return LLVM::GEPOp::create(
            b, loc, vec.getType(), elem, vec,
            ValueRange{LLVM::AddOp::create(b, loc, rowBase, first)});
      };
      Value p0 = at(base), p1 = twoHalves ? at(upperBase) : p0;
      Value acc = adaptor.getAcc();
      for (int64_t j = 0; j < n / 4; ++j) {
        // Eight pairs at a time: ptxas moves no load across the warp's
        // barrier, so at most eight are in flight beside the accumulator
        // (it issued all 32 of a 64 x 256 accumulator at once and spilled
        // up to 290 bytes in the NVFP4 kernels).
        if (j && j % kBiasPairsAtOnce == 0)
          NVVM::SyncWarpOp::create(b, loc, i32c(b, loc, -1));
        bool second = twoHalves && j >= half;
        int64_t offset = 8 * (j - j0(j));
        Value ptr =
            LLVM::GEPOp::create(b, loc, vec.getType(), elem, second ? p1 : p0,
                                ArrayRef<LLVM::GEPArg>{int32_t(offset)});
        if (!guarded) {
          acc = addPair(b, acc, j, loadPair(b, ptr));
          continue;
        }
        Value in = LLVM::ZExtOp::create(
            b, loc, i32,
            LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt,
                                 LLVM::AddOp::create(b, loc,
                                                     second ? upperBase : base,
                                                     i64c(b, loc, offset)),
                                 i64c(b, loc, ld)));
        acc = addPair(b, acc, j, loadPairIf(b, ptr, in));
      }
      return acc;
    };
    if (op.getInRow()) {
      rewriter.replaceOp(op, addAll(rewriter, /*guarded=*/false));
      return success();
    }
    // Whether every column of the tile lies in the row.
    auto below = [&](Value first, int64_t span) -> Value {
      return LLVM::ICmpOp::create(
          rewriter, loc, LLVM::ICmpPredicate::sle,
          LLVM::AddOp::create(rewriter, loc, first, i64c(rewriter, loc, span)),
          i64c(rewriter, loc, ld));
    };
    Value full = twoHalves
                     ? LLVM::AndOp::create(rewriter, loc, below(col, cols / 2),
                                           below(upper, cols / 2))
                     : below(col, cols);
    auto ifOp = scf::IfOp::create(rewriter, loc,
                                  TypeRange{adaptor.getAcc().getType()}, full,
                                  /*withElseRegion=*/true);
    for (bool guarded : {false, true}) {
      OpBuilder bb =
          OpBuilder::atBlockEnd(guarded ? ifOp.elseBlock() : ifOp.thenBlock());
      scf::YieldOp::create(bb, loc, addAll(bb, guarded));
    }
    rewriter.replaceOp(op, ifOp.getResult(0));
    return success();
  }
};

struct AccScaleColsLowering : OpConversionPattern<AccScaleColsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccScaleColsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Value 4j + 2h + e is at column 8j + 2 (lane % 4) + e, whose scale is
    // at slot 2j + e of the lane's group (colScaleSlot): those of j and
    // j + 1 come in one 16-byte load.
    Location loc = op.getLoc();
    Type f32 = rewriter.getF32Type();
    Value cs = adaptor.getColScales();
    Value lane = LLVM::URemOp::create(rewriter, loc, threadIdX(rewriter, loc),
                                      i32c(rewriter, loc, 32));
    int64_t cols = op.getAcc().getType().getCols();
    Value colBase = LLVM::GEPOp::create(
        rewriter, loc, cs.getType(), f32, cs,
        ValueRange{LLVM::ZExtOp::create(
            rewriter, loc, rewriter.getI64Type(),
            LLVM::MulOp::create(rewriter, loc,
                                LLVM::URemOp::create(rewriter, loc, lane,
                                                     i32c(rewriter, loc, 4)),
                                i32c(rewriter, loc, colScaleStride(cols))))});
    // (Each 16-byte load before the values it scales: not mapFragment,
    // which extracts a value first.)
    auto quadTy = VectorType::get({4}, f32);
    Value acc = adaptor.getAcc(), quad;
    for (int64_t i = 0, n = fragmentSize(op.getAcc().getType()); i < n; ++i) {
      int64_t j = i / 4;
      if (i % 8 == 0)
        quad = LLVM::LoadOp::create(
            rewriter, loc, quadTy,
            LLVM::GEPOp::create(rewriter, loc, colBase.getType(), f32, colBase,
                                ArrayRef<LLVM::GEPArg>{int32_t(2 * j)}),
            16);
      Value v = LLVM::FMulOp::create(
          rewriter, loc,
          LLVM::ExtractValueOp::create(rewriter, loc, acc,
                                       ArrayRef<int64_t>{i}),
          LLVM::ExtractElementOp::create(
              rewriter, loc, quad, i32c(rewriter, loc, 2 * (j % 2) + i % 2)));
      acc = LLVM::InsertValueOp::create(rewriter, loc, acc, v,
                                        ArrayRef<int64_t>{i});
    }
    rewriter.replaceOp(op, acc);
    return success();
  }
};

struct DequantFp4Fp8Lowering : OpConversionPattern<DequantFp4Fp8Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantFp4Fp8Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto [src, dst, rows] = expansionTiles(rewriter, loc, op, adaptor);
    Type i32 = rewriter.getI32Type(), i64 = rewriter.getI64Type();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    auto bytesAt = [&](Value base, Value off) {
      return gepBytesU32(rewriter, loc, base, off);
    };
    Value t = expansionThread(rewriter, loc, op.getFirstThreadAttr().getInt());
    Value word = adaptor.getScales(), m = adaptor.getRowMax();
    Value tables = fp4SharedTables(rewriter, loc);
    Value rowSrc = bytesAt(src, LLVM::MulOp::create(rewriter, loc, t, c32(64)));
    Value rowDst =
        bytesAt(dst, LLVM::MulOp::create(rewriter, loc, t, c32(128)));
    Value swz = LLVM::AndOp::create(rewriter, loc, t, c32(7));
    // The packed rows are in the 64-byte swizzle: 16-byte chunk q of row t
    // at (q ^ (t / 2 % 4)) * 16, so that the 8 threads of a 128-byte load
    // phase (rows 64 bytes apart) read 8 distinct bank groups; the e4m3
    // stores of the 128-byte swizzle are conflict-free in order too.
    Value loadSwz = LLVM::AndOp::create(
        rewriter, loc, LLVM::LShrOp::create(rewriter, loc, t, c32(1)), c32(3));
    auto quadTy = VectorType::get({4}, i32);
    // Block `blk`'s 16 packed bytes and its byte table {t0, t1}.
    auto loadBlock = [&](OpBuilder &lb, Location ll,
                         Value blk) -> SmallVector<Value> {
      Value packed = LLVM::LoadOp::create(
          lb, ll, quadTy,
          gepBytes(lb, ll, rowSrc,
                   LLVM::ZExtOp::create(
                       lb, ll, i64,
                       LLVM::MulOp::create(
                           lb, ll, LLVM::XOrOp::create(lb, ll, loadSwz, blk),
                           i32c(lb, ll, 16)))),
          16);
      return {packed, fp4BlockTable(lb, ll, tables, word, blk, m)};
    };
    if (op.getPermuteK()) {
      // moek.mma_fp4's K order: stored 16-byte chunk k = 2j + e holds, at
      // word q, values 8j + 4e .. + 3 of block q (packed word j of block q
      // expanded: e = 0 its low half, e = 1 its high). The four blocks'
      // 16 packed bytes and tables loaded first (16-byte loads: 4-byte
      // loads of word j of each block met 4-way bank conflicts in the
      // 64-byte swizzle), then, unrolled, word j of every block expanded
      // and two chunks stored. (A loop over j, with its 4-byte loads, was
      // 8-10% slower on the H200: bench/results/2026-12-02-fused-moe-fp8-
      // mxfp4-prefill-h200.md.)
      SmallVector<Value> packed, tabs;
      for (int64_t blk = 0; blk < 4; ++blk) {
        SmallVector<Value> loaded = loadBlock(rewriter, loc, c32(blk));
        packed.push_back(loaded[0]);
        tabs.push_back(loaded[1]);
      }
      auto element = [&](Value vec, int64_t i) -> Value {
        return LLVM::ExtractElementOp::create(rewriter, loc, vec, c32(i));
      };
      for (int64_t j = 0; j < 4; ++j) {
        Value chunks[2] = {LLVM::UndefOp::create(rewriter, loc, quadTy),
                           LLVM::UndefOp::create(rewriter, loc, quadTy)};
        for (int64_t blk = 0; blk < 4; ++blk) {
          auto [lo, hi] =
              e2m1ToE4m3(rewriter, loc, element(packed[blk], j),
                         element(tabs[blk], 0), element(tabs[blk], 1));
          chunks[0] = LLVM::InsertElementOp::create(rewriter, loc, chunks[0],
                                                    lo, c32(blk));
          chunks[1] = LLVM::InsertElementOp::create(rewriter, loc, chunks[1],
                                                    hi, c32(blk));
        }
        for (int64_t e = 0; e < 2; ++e)
          LLVM::StoreOp::create(
              rewriter, loc, chunks[e],
              bytesAt(rowDst, LLVM::ShlOp::create(
                                  rewriter, loc,
                                  LLVM::XOrOp::create(rewriter, loc, swz,
                                                      c32(2 * j + e)),
                                  c32(4))),
              16);
      }
      publishToTensorCores(rewriter, loc, op.getBarrierAttr().getInt(), rows);
      rewriter.eraseOp(op);
      return success();
    }
    // One 32-value block an iteration of a loop that LLVM does not unroll
    // (all four at once kept too many registers live beside the
    // accumulators: ptxas spilled), the next block's loads issued before
    // this one's expansion (software pipelining; the last iteration loads
    // block 3 again).
    SmallVector<Value> first = loadBlock(rewriter, loc, c32(0));
    auto loop = scf::ForOp::create(
        rewriter, loc, arith::ConstantIndexOp::create(rewriter, loc, 0),
        arith::ConstantIndexOp::create(rewriter, loc, 4),
        arith::ConstantIndexOp::create(rewriter, loc, 1), first,
        [&](OpBuilder &lb, Location ll, Value step, ValueRange it) {
          Value blk = toI32(lb, ll, step);
          SmallVector<Value> next = loadBlock(
              lb, ll,
              LLVM::UMinOp::create(
                  lb, ll, LLVM::AddOp::create(lb, ll, blk, i32c(lb, ll, 1)),
                  i32c(lb, ll, 3)));
          Value packed = it[0];
          Value t0 =
              LLVM::ExtractElementOp::create(lb, ll, it[1], i32c(lb, ll, 0));
          Value t1 =
              LLVM::ExtractElementOp::create(lb, ll, it[1], i32c(lb, ll, 1));
          // 32 values -> two 16-byte chunks of the e4m3 row, chunks 2 blk
          // and 2 blk + 1, at (chunk ^ (t % 8)) * 16 (128B swizzle).
          for (int64_t half = 0; half < 2; ++half) {
            Value chunk = LLVM::UndefOp::create(lb, ll, quadTy);
            for (int64_t j = 0; j < 2; ++j) {
              Value w = LLVM::ExtractElementOp::create(
                  lb, ll, packed, i32c(lb, ll, 2 * half + j));
              auto [lo, hi] = e2m1ToE4m3(lb, ll, w, t0, t1);
              chunk = LLVM::InsertElementOp::create(lb, ll, chunk, lo,
                                                    i32c(lb, ll, 2 * j));
              chunk = LLVM::InsertElementOp::create(lb, ll, chunk, hi,
                                                    i32c(lb, ll, 2 * j + 1));
            }
            Value kc = LLVM::AddOp::create(
                lb, ll, LLVM::MulOp::create(lb, ll, blk, i32c(lb, ll, 2)),
                i32c(lb, ll, half));
            Value off = LLVM::MulOp::create(
                lb, ll, LLVM::XOrOp::create(lb, ll, swz, kc), i32c(lb, ll, 16));
            LLVM::StoreOp::create(
                lb, ll, chunk,
                gepBytes(lb, ll, rowDst,
                         LLVM::ZExtOp::create(lb, ll, i64, off)),
                16);
          }
          scf::YieldOp::create(lb, ll, next);
        });
    loop->setAttr("loop_annotation", noUnrollAnnotation(rewriter.getContext()));
    publishToTensorCores(rewriter, loc, op.getBarrierAttr().getInt(), rows);
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.unpack_fp4: thread t copies packed row t (64 bytes, 64-byte
/// swizzle) into stored row L = 32 (t / 16 % 4) + 16 (t / 64) + t % 16 of
/// the i8 tile, each 16-value group's 8 bytes into the low half of a
/// 16-byte chunk (upper half zero: tcgen05's 4-bit operand form), chunk c
/// at (c ^ L % 8) * 16 (128B swizzle); its row's four scale bytes of the K
/// block into the .32x128b block at 16 (L % 32) + 4 (L / 32), and 127 x 4
/// into the B operand's block.
struct UnpackFp4Lowering : OpConversionPattern<UnpackFp4Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(UnpackFp4Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto [src, dst, rows] = expansionTiles(rewriter, loc, op, adaptor);
    Type i32 = rewriter.getI32Type();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    auto shr = [&](Value v, int64_t n) {
      return LLVM::LShrOp::create(rewriter, loc, v, c32(n));
    };
    auto andc = [&](Value v, int64_t m) {
      return LLVM::AndOp::create(rewriter, loc, v, c32(m));
    };
    auto add = [&](Value x, Value y) {
      return LLVM::AddOp::create(rewriter, loc, x, y);
    };
    auto mul = [&](Value v, int64_t m) {
      return LLVM::MulOp::create(rewriter, loc, v, c32(m));
    };
    Value t = expansionThread(rewriter, loc, op.getFirstThreadAttr().getInt());
    Value stored =
        add(add(mul(andc(shr(t, 4), 3), 32), mul(shr(t, 6), 16)), andc(t, 15));
    Value rowSrc = gepBytesU32(rewriter, loc, src, mul(t, 64));
    Value rowDst = gepBytesU32(rewriter, loc, dst, mul(stored, 128));
    Value loadSwz = andc(shr(t, 1), 3), storeSwz = andc(stored, 7);
    auto quadTy = VectorType::get({4}, i32);
    Value zero = c32(0);
    for (int64_t blk = 0; blk < 4; ++blk) {
      Value packed = LLVM::LoadOp::create(
          rewriter, loc, quadTy,
          gepBytesU32(
              rewriter, loc, rowSrc,
              mul(LLVM::XOrOp::create(rewriter, loc, loadSwz, c32(blk)), 16)),
          16);
      for (int64_t g = 0; g < 2; ++g) {
        Value chunk = LLVM::UndefOp::create(rewriter, loc, quadTy);
        for (int64_t w = 0; w < 4; ++w)
          chunk = LLVM::InsertElementOp::create(
              rewriter, loc, chunk,
              w < 2 ? Value(LLVM::ExtractElementOp::create(
                          rewriter, loc, packed, c32(2 * g + w)))
                    : zero,
              c32(w));
        LLVM::StoreOp::create(
            rewriter, loc, chunk,
            gepBytesU32(rewriter, loc, rowDst,
                        mul(LLVM::XOrOp::create(rewriter, loc, storeSwz,
                                                c32(2 * blk + g)),
                            16)),
            16);
      }
    }
    // The row's four scale bytes of K block kb.
    Value word =
        loadBlockScaleWord(rewriter, loc, adaptor.getScales(), adaptor.getRow(),
                           t, adaptor.getKb(), op.getScaleRowsAttr().getInt(),
                           op.getScaleColsAttr().getInt());
    Value sfOffset = add(mul(andc(stored, 31), 16), mul(shr(stored, 5), 4));
    LLVM::StoreOp::create(rewriter, loc, word,
                          gepBytesU32(rewriter, loc, adaptor.getSf(), sfOffset),
                          4);
    LLVM::StoreOp::create(
        rewriter, loc, c32(0x7F7F7F7F),
        gepBytesU32(rewriter, loc, adaptor.getSf(), add(mul(t, 4), c32(512))),
        4);
    publishToTensorCores(rewriter, loc, op.getBarrierAttr().getInt(), rows);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateFp4Patterns(const TypeConverter &converter,
                         RewritePatternSet &patterns) {
  patterns.add<DequantFp4Lowering, DequantFp4Fp8Lowering, DequantMxfp8Lowering,
               LoadFp4ScalesLowering, Fp4RowScaleLowering, AccScaleColsLowering,
               AccScaleLowering, AccAddColsLowering, UnpackFp4Lowering>(
      converter, patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
