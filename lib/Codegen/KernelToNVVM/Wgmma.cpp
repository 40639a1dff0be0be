//===- Wgmma.cpp - Lower moek MMAs to wgmma (sm_90a) ------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// moek.mma on sm_90a: wgmma with 128-byte swizzle descriptors, its waits,
// zeroed accumulators, per-row vectors and the FP8 promotion into the main
// accumulator.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace mlir::moe::kernel::nvvm {

moe::desc::SmemMatrix swizzledTile() {
  moe::desc::SmemMatrix tile;
  tile.leadingByteOffset = 16;
  tile.strideByteOffset = 1024;
  tile.swizzle = moe::desc::Swizzle::B128;
  return tile;
}

Value descriptorAt(OpBuilder &b, Location loc, Value addr, uint64_t constant) {
  Value a = LLVM::PtrToIntOp::create(b, loc, b.getI64Type(), addr);
  Value field = LLVM::AndOp::create(
      b, loc, LLVM::LShrOp::create(b, loc, a, i64c(b, loc, 4)),
      i64c(b, loc, 0x3FFF));
  return LLVM::OrOp::create(b, loc, field,
                            i64c(b, loc, static_cast<int64_t>(constant)));
}

Value smemDescriptor(OpBuilder &b, Location loc, Value addr) {
  static const uint64_t constant =
      llvm::cantFail(moe::desc::wgmmaSmemDescriptorConstant(swizzledTile()));
  return descriptorAt(b, loc, addr, constant);
}

namespace {

struct MmaZeroLowering : OpConversionPattern<MmaZeroOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaZeroOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto structTy = cast<LLVM::LLVMStructType>(
        getTypeConverter()->convertType(op.getAcc().getType()));
    Value zero = LLVM::ConstantOp::create(rewriter, loc, rewriter.getF32Type(),
                                          rewriter.getF32FloatAttr(0.0f));
    Value acc =
        buildAcc(rewriter, loc, structTy, fragmentSize(op.getAcc().getType()),
                 [&](int64_t) { return zero; });
    rewriter.replaceOp(op, acc);
    return success();
  }
};

} // namespace

std::pair<Value, Value> mmaOperands(OpBuilder &b, Location loc, MmaOp op,
                                    MmaOp::Adaptor adaptor) {
  RingType type = op.getRing().getType();
  RingParts p = unpackRing(b, loc, adaptor.getRing(), type, adaptor.getIter());
  Value aBase = tileAddress(b, loc, p, type, op.getAAttr().getInt());
  Value aRowBytes = LLVM::MulOp::create(
      b, loc, toI64(b, loc, adaptor.getARow()), i64c(b, loc, 128));
  return {gepBytes(b, loc, aBase, aRowBytes),
          tileAddress(b, loc, p, type, op.getBAttr().getInt())};
}

bool isFp8Mma(MmaOp op) {
  return isa<Float8E4M3FNType>(
      op.getRing().getType().getTile(op.getAAttr().getInt()).getElementType());
}

namespace {

struct MmaLowering : OpConversionPattern<MmaOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    AccType accType = op.getAcc().getType();
    MemRefType aTile = op.getRing().getType().getTile(op.getAAttr().getInt());
    auto [aBase, bBase] = mmaOperands(rewriter, loc, op, adaptor);
    Value descA = smemDescriptor(rewriter, loc, aBase);
    Value descB = smemDescriptor(rewriter, loc, bBase);

    // One wgmma step covers 32 bytes of K (k16 of bf16, k32 of e4m3).
    bool fp8 = isFp8Mma(op);
    int64_t stepK = fp8 ? 32 : 16;
    // {cols = n}: m64nN over the fragment's first n / 2 values (a 64 x n
    // fragment's registers, in the same order), the rest passed through.
    int64_t cols = op.getCols().value_or(accType.getCols());
    auto shape = NVVM::MMAShapeAttr::get(ctx, 64, cols, stepK);
    auto in = NVVM::WGMMATypesAttr::get(ctx, fp8 ? NVVM::WGMMATypes::e4m3
                                                 : NVVM::WGMMATypes::bf16);
    auto f32 = NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::f32);
    auto one = NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one);
    auto row = NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::row);
    auto col = NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::col);

    NVVM::WgmmaFenceAlignedOp::create(rewriter, loc);
    // zero_init: the first step ignores the accumulator's registers, so
    // they come in undefined: the value whose registers the op was given
    // (a block-scaled loop's last partial product) need not stay live.
    Value acc = op.getZeroInit()
                    ? Value(LLVM::UndefOp::create(rewriter, loc,
                                                  adaptor.getAcc().getType()))
                    : adaptor.getAcc();
    Value whole = acc;
    int64_t narrow = cols < accType.getCols() ? cols / 2 : 0;
    if (narrow) {
      SmallVector<Type> fields(narrow, rewriter.getF32Type());
      auto part = LLVM::LLVMStructType::getLiteral(ctx, fields);
      acc = buildAcc(rewriter, loc, part, narrow, [&](int64_t v) -> Value {
        return LLVM::ExtractValueOp::create(rewriter, loc, whole,
                                            ArrayRef<int64_t>{v});
      });
    }
    // Each step advances 32 bytes inside the swizzled rows: +2 on the
    // descriptor's address field.
    for (int64_t k = 0, steps = aTile.getDimSize(1) / stepK; k < steps; ++k) {
      Value step = i64c(rewriter, loc, 2 * k);
      Value dA = LLVM::AddOp::create(rewriter, loc, descA, step);
      Value dB = LLVM::AddOp::create(rewriter, loc, descB, step);
      // zero_init: the first step ignores the accumulator's registers.
      auto scaleOut = NVVM::WGMMAScaleOutAttr::get(
          ctx, k == 0 && op.getZeroInit() ? NVVM::WGMMAScaleOut::zero
                                          : NVVM::WGMMAScaleOut::one);
      acc = NVVM::WgmmaMmaAsyncOp::create(
          rewriter, loc, acc.getType(), acc, dA, dB, shape, in, in, f32,
          scaleOut, one, one, row, col, NVVM::MMAIntOverflowAttr());
    }
    NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
    if (narrow)
      acc = mapFragment(rewriter, loc, whole, narrow, [&](int64_t v, Value) {
        return LLVM::ExtractValueOp::create(rewriter, loc, acc,
                                            ArrayRef<int64_t>{v});
      });
    rewriter.replaceOp(op, acc);
    return success();
  }
};

struct MmaWaitLowering : OpConversionPattern<MmaWaitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaWaitOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    NVVM::WgmmaWaitGroupSyncOp::create(
        rewriter, op.getLoc(),
        rewriter.getI64IntegerAttr(op.getPendingAttr().getInt()));
    rewriter.replaceOp(op, adaptor.getAcc());
    return success();
  }
};

} // namespace

Value loadRowValue(OpBuilder &b, Location loc, Value ptr, Value row,
                   Value limit, Value last, int64_t ld, Value col) {
  Type f32 = b.getF32Type();
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, row, limit);
  Value safeRow = arith::MinSIOp::create(b, loc, row, last);
  Value index = LLVM::AddOp::create(
      b, loc,
      LLVM::MulOp::create(b, loc, toI64(b, loc, safeRow), i64c(b, loc, ld)),
      toI64(b, loc, col));
  Value v = LLVM::LoadOp::create(
      b, loc, f32,
      LLVM::GEPOp::create(b, loc, ptr.getType(), f32, ptr, ValueRange{index}),
      4);
  return LLVM::SelectOp::create(
      b, loc, inside, v,
      LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.0f)));
}

namespace {

struct LoadRowsLowering : OpConversionPattern<LoadRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadRowsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Rows fragmentRow and + 8; those at or past the limit hold 0.
    Location loc = op.getLoc();
    auto structTy = rowsStructType(op.getResult().getType());
    Value row0 = arith::AddIOp::create(
        rewriter, loc, adaptor.getRow(),
        toIndex(rewriter, loc, fragmentRow(rewriter, loc)));
    Value last =
        arith::SubIOp::create(rewriter, loc, adaptor.getRowLimit(),
                              arith::ConstantIndexOp::create(rewriter, loc, 1));
    Value result = LLVM::UndefOp::create(rewriter, loc, structTy);
    for (int half = 0; half < 2; ++half) {
      Value row = arith::AddIOp::create(
          rewriter, loc, row0,
          arith::ConstantIndexOp::create(rewriter, loc, 8 * half));
      Value v = loadRowValue(rewriter, loc, adaptor.getPtr(), row,
                             adaptor.getRowLimit(), last,
                             op.getLdAttr().getInt(), adaptor.getCol());
      result = LLVM::InsertValueOp::create(rewriter, loc, result, v,
                                           ArrayRef<int64_t>{half});
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct MmaPromoteLowering : OpConversionPattern<MmaPromoteOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaPromoteOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Fragment value 4j + 2h + e is at row fragmentRow + 8h (see
    // StoreAccLowering), so it takes row scale h.
    Location loc = op.getLoc();
    Value partial = adaptor.getPartial();
    Value scales[2];
    for (int h = 0; h < 2; ++h)
      scales[h] = LLVM::FMulOp::create(
          rewriter, loc,
          LLVM::ExtractValueOp::create(rewriter, loc, adaptor.getRowScales(),
                                       ArrayRef<int64_t>{h}),
          adaptor.getScale());
    rewriter.replaceOp(
        op, mapFragment(rewriter, loc, adaptor.getAcc(),
                        fragmentSize(op.getAcc().getType()),
                        [&](int64_t i, Value a) -> Value {
                          Value p = LLVM::ExtractValueOp::create(
                              rewriter, loc, partial, ArrayRef<int64_t>{i});
                          return LLVM::FMAOp::create(rewriter, loc, p,
                                                     scales[(i / 2) % 2], a);
                        }));
    return success();
  }
};

} // namespace

void populateMmaPatterns(const TypeConverter &converter,
                         RewritePatternSet &patterns, bool tensorMemory) {
  patterns.add<MmaZeroLowering, LoadRowsLowering, MmaPromoteLowering>(
      converter, patterns.getContext());
  if (!tensorMemory)
    patterns.add<MmaLowering, MmaWaitLowering>(converter,
                                               patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
