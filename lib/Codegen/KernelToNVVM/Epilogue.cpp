//===- Epilogue.cpp - Lower moek accumulator stores -------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Accumulators out of the wgmma fragment: register stores, the TMA
// epilogue through stmatrix (moek.store_acc_tma) and stores into a peer
// GPU's buffer.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace mlir::moe::kernel::nvvm {

namespace {

/// Stores the wgmma m64nN f32 fragment `acc`, converted to `elem`: thread t
/// of the warpgroup (warp w = t/32, lane l = t%32) holds d[4j], d[4j+1] at
/// row 16w + l/4, columns 8j + 2(l%4) and +1, and d[4j+2], d[4j+3] at the
/// same columns, row + 8. Rows `row + r` at or past `rowLimit` are not
/// stored, nor columns at or past `ld`. `rowStart(b, row)` gives the
/// pointer and the element offset of a row's first element.
void storeAccFragment(
    OpBuilder &b, Location loc, Value acc, AccType accType, Type elem,
    int64_t ld, Value tileRow, Value tileCol, Value rowLimit,
    function_ref<std::pair<Value, Value>(OpBuilder &, Value)> rowStart) {
  int64_t elemBytes = elem.isBF16() ? 2 : 4;
  Value lane =
      LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
  Value rowInTile = fragmentRow(b, loc);
  Value colInTile = LLVM::MulOp::create(
      b, loc, LLVM::URemOp::create(b, loc, lane, i32c(b, loc, 4)),
      i32c(b, loc, 2));
  Value row0 =
      arith::AddIOp::create(b, loc, tileRow, toIndex(b, loc, rowInTile));
  Value col0 =
      arith::AddIOp::create(b, loc, tileCol, toIndex(b, loc, colInTile));
  auto vec2f32 = VectorType::get({2}, b.getF32Type());
  auto vec2out = VectorType::get({2}, elem);
  for (int half = 0; half < 2; ++half) {
    Value row = arith::AddIOp::create(
        b, loc, row0, arith::ConstantIndexOp::create(b, loc, 8 * half));
    Value inside =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, row, rowLimit);
    auto ifOp = scf::IfOp::create(b, loc, inside, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    auto [base, rowOffset] = rowStart(b, row);
    Value col0i = toI64(b, loc, col0);
    for (int64_t j = 0; j < accType.getCols() / 8; ++j) {
      Value v = LLVM::UndefOp::create(b, loc, vec2f32);
      for (int e = 0; e < 2; ++e) {
        Value x = LLVM::ExtractValueOp::create(
            b, loc, acc, ArrayRef<int64_t>{4 * j + 2 * half + e});
        v = LLVM::InsertElementOp::create(b, loc, v, x, i32c(b, loc, e));
      }
      if (elem.isBF16())
        v = LLVM::FPTruncOp::create(b, loc, vec2out, v);
      Value index = LLVM::AddOp::create(
          b, loc, rowOffset,
          LLVM::AddOp::create(b, loc, col0i, i64c(b, loc, 8 * j)));
      Value addr = LLVM::GEPOp::create(b, loc, base.getType(), elem, base,
                                       ValueRange{index});
      if (ld % accType.getCols() == 0) {
        LLVM::StoreOp::create(b, loc, v, addr, 2 * elemBytes);
        continue;
      }
      // The last column block of a matrix whose width is not a multiple
      // of the tile: columns at or past ld are not stored.
      Value colJ = LLVM::AddOp::create(b, loc, col0i, i64c(b, loc, 8 * j));
      Value inCols = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt,
                                          colJ, i64c(b, loc, ld));
      auto colIf = scf::IfOp::create(b, loc, inCols, false);
      OpBuilder::InsertionGuard colGuard(b);
      b.setInsertionPoint(colIf.thenBlock()->getTerminator());
      LLVM::StoreOp::create(b, loc, v, addr, 2 * elemBytes);
    }
  }
}

struct StoreAccLowering : OpConversionPattern<StoreAccOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreAccOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t ld = op.getLdAttr().getInt();
    Value out = adaptor.getOut();
    storeAccFragment(rewriter, loc, adaptor.getAcc(), op.getAcc().getType(),
                     op.getElementType(), ld, adaptor.getRow(),
                     adaptor.getCol(), adaptor.getRowLimit(),
                     [&](OpBuilder &b, Value row) -> std::pair<Value, Value> {
                       return {out,
                               LLVM::MulOp::create(b, loc, toI64(b, loc, row),
                                                   i64c(b, loc, ld))};
                     });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

Value isWarpgroupLeader(OpBuilder &b, Location loc, Value tid) {
  return LLVM::ICmpOp::create(
      b, loc, LLVM::ICmpPredicate::eq,
      LLVM::URemOp::create(b, loc, tid ? tid : threadIdX(b, loc),
                           i32c(b, loc, kWarpgroupThreads)),
      i32c(b, loc, 0));
}

namespace {

/// Whether all 64 rows of the warpgroup's part from `row` lie below
/// `rowLimit` (its outputs may leave by TMA boxes).
Value warpgroupRowsBelow(OpBuilder &b, Location loc, Value row,
                         Value rowLimit) {
  return arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ule,
      arith::AddIOp::create(b, loc, row,
                            arith::ConstantIndexOp::create(b, loc, 64)),
      rowLimit);
}

/// Two f32 values rounded to a bf16 pair, as the i32 stmatrix takes.
Value bf16PairBits(OpBuilder &b, Location loc, Value lo, Value hi) {
  Value v = LLVM::UndefOp::create(b, loc, VectorType::get({2}, b.getF32Type()));
  v = LLVM::InsertElementOp::create(b, loc, v, lo, i32c(b, loc, 0));
  v = LLVM::InsertElementOp::create(b, loc, v, hi, i32c(b, loc, 1));
  return LLVM::BitcastOp::create(
      b, loc, b.getI32Type(),
      LLVM::FPTruncOp::create(b, loc, VectorType::get({2}, b.getBF16Type()),
                              v));
}

} // namespace

Value bf16SwizzledChunk(OpBuilder &b, Location loc, Value r, Value kc) {
  Value swz = LLVM::XOrOp::create(
      b, loc, kc, LLVM::AndOp::create(b, loc, r, i32c(b, loc, 7)));
  return LLVM::AddOp::create(
      b, loc, LLVM::MulOp::create(b, loc, r, i32c(b, loc, 128)),
      LLVM::MulOp::create(b, loc, swz, i32c(b, loc, 16)));
}

namespace {

/// The bf16 pair (an i32) of a wgmma accumulator fragment's 8-column group
/// j, row half h: values 4j + 2h and 4j + 2h + 1.
Value accPairBits(OpBuilder &b, Location loc, Value acc, int64_t j, int64_t h) {
  auto field = [&](int64_t e) -> Value {
    return LLVM::ExtractValueOp::create(b, loc, acc,
                                        ArrayRef<int64_t>{4 * j + 2 * h + e});
  };
  return bf16PairBits(b, loc, field(0), field(1));
}

/// `body` in an scf.if on `first` (the warpgroup's first thread).
void onFirstThread(OpBuilder &b, Location loc, Value first,
                   function_ref<void(OpBuilder &)> body) {
  auto firstIf = scf::IfOp::create(b, loc, first, false);
  OpBuilder fb = OpBuilder::atBlockTerminator(firstIf.thenBlock());
  body(fb);
}

/// The warpgroup's first thread, which issued its bulk (TMA) stores: waits
/// until they have completed and orders them before its later generic
/// memory operations (a release, a barrier).
void awaitBulkStores(OpBuilder &b, Location loc) {
  NVVM::CpAsyncBulkWaitGroupOp::create(b, loc, 0, UnitAttr());
  NVVM::FenceProxyOp::create(
      b, loc,
      NVVM::ProxyKindAttr::get(b.getContext(), NVVM::ProxyKind::async_global),
      NVVM::SharedSpaceAttr());
}

/// moek.store_acc_tma {transposed}: thread l of warp w holds, of token
/// group j (accumulator columns 8j..8j+7), the bf16 pair `pair(j, h)` at
/// weight row (output column) 16w + l/4 + 8h, tokens 8j + 2(l%4) (+1):
/// its part of the 8x8 matrix (j, h), which stmatrix.trans stores
/// transposed: the row that lane r of the matrix addresses receives token
/// 8j + r's eight columns 16w + 8h .. + 7, one 16-byte chunk. One x4
/// stores the matrices (j, 0), (j, 1), (j + 1, 0), (j + 1, 1); the lane's
/// address: row 8 (j % 8 + l / 16) + l % 8 of the 64-token box, chunk
/// (2w + (l / 8) % 2) ^ (l % 8) (the 128-byte swizzle). Blocks with no
/// token below the limit are skipped (they are a suffix); a full block
/// leaves by TMA; a partial one by 16-byte copies from the staging.
void lowerStoreAccTmaTransposed(OpBuilder &b, Location loc, StoreAccTmaOp op,
                                StoreAccTmaOp::Adaptor a) {
  MLIRContext *ctx = b.getContext();
  AccType accType = op.getAcc().getType();
  int64_t ld = op.getLdAttr().getInt();
  int64_t halves = op.getHalvesAttr().getInt();
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  Value tid = freshThreadIdX(b, loc);
  Value lane = LLVM::URemOp::create(b, loc, tid, i32c(b, loc, 32));
  Value wgThread =
      LLVM::URemOp::create(b, loc, tid, i32c(b, loc, kWarpgroupThreads));
  Value warp = LLVM::UDivOp::create(b, loc, wgThread, i32c(b, loc, 32));
  Value first = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, wgThread,
                                     i32c(b, loc, 0));
  // The lane's box row (before the group's 8 (j % 8)) and chunk, in bytes.
  Value laneRow = LLVM::AddOp::create(
      b, loc,
      LLVM::MulOp::create(b, loc,
                          LLVM::UDivOp::create(b, loc, lane, i32c(b, loc, 16)),
                          i32c(b, loc, 8)),
      LLVM::URemOp::create(b, loc, lane, i32c(b, loc, 8)));
  Value laneBytes = bf16SwizzledChunk(
      b, loc, laneRow,
      LLVM::AddOp::create(
          b, loc, LLVM::MulOp::create(b, loc, warp, i32c(b, loc, 2)),
          LLVM::URemOp::create(
              b, loc, LLVM::UDivOp::create(b, loc, lane, i32c(b, loc, 8)),
              i32c(b, loc, 2))));
  Value barrier =
      LLVM::TruncOp::create(b, loc, i32, toI64(b, loc, a.getBarrier()));
  Value threads = i32c(b, loc, kWarpgroupThreads);
  Value row = toI64(b, loc, a.getRow()), col = toI64(b, loc, a.getCol());
  Value limit = toI64(b, loc, a.getRowLimit());
  auto pair = [&](OpBuilder &ob, int64_t j, int64_t h) {
    return accPairBits(ob, loc, a.getAcc(), j, h);
  };
  auto waitReads = [&](OpBuilder &ob) {
    onFirstThread(ob, loc, first, [&](OpBuilder &fb) {
      NVVM::CpAsyncBulkWaitGroupOp::create(fb, loc, 0, fb.getUnitAttr());
    });
  };
  // Two halves: the blocks of an op vary in number, so the previous op's
  // stores must have read both before this one writes (one half: each
  // block waits below).
  if (halves == 2) {
    waitReads(b);
    namedBarrier(b, loc, barrier, threads, /*wait=*/true);
  }
  for (int64_t box = 0; box < accType.getCols() / 64; ++box) {
    Value boxRow = LLVM::AddOp::create(b, loc, row, i64c(b, loc, 64 * box));
    Value has =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt, boxRow, limit);
    auto hasIf = scf::IfOp::create(b, loc, has, false);
    OpBuilder tb = OpBuilder::atBlockTerminator(hasIf.thenBlock());
    Value half = LLVM::GEPOp::create(
        tb, loc, a.getStaging().getType(), tb.getI8Type(), a.getStaging(),
        ArrayRef<LLVM::GEPArg>{int32_t(kStagingHalfBytes * (box % halves))});
    if (halves == 1) {
      waitReads(tb);
      namedBarrier(tb, loc, barrier, threads, /*wait=*/true);
    }
    for (int64_t q = 0; q < 4; ++q) {
      int64_t j = 8 * box + 2 * q;
      Value addr = LLVM::GEPOp::create(
          tb, loc, half.getType(), tb.getI8Type(), half,
          ValueRange{LLVM::AddOp::create(tb, loc, laneBytes,
                                         i32c(tb, loc, 16 * 128 * q))});
      NVVM::StMatrixOp::create(
          tb, loc, addr,
          ValueRange{pair(tb, j, 0), pair(tb, j, 1), pair(tb, j + 1, 0),
                     pair(tb, j + 1, 1)},
          NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::col),
          NVVM::LdStMatrixShapeAttr::get(ctx, 8, 8),
          NVVM::LdStMatrixEltTypeAttr::get(ctx, NVVM::LdStMatrixEltType::B16));
    }
    NVVM::FenceProxyOp::create(
        tb, loc, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
        NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
    if (halves == 2)
      waitReads(tb);
    namedBarrier(tb, loc, barrier, threads, /*wait=*/true);
    Value full = LLVM::ICmpOp::create(
        tb, loc, LLVM::ICmpPredicate::sle,
        LLVM::AddOp::create(tb, loc, boxRow, i64c(tb, loc, 64)), limit);
    auto fullIf = scf::IfOp::create(tb, loc, full, /*withElseRegion=*/true);
    {
      OpBuilder fb = OpBuilder::atBlockTerminator(fullIf.thenBlock());
      onFirstThread(fb, loc, first, [&](OpBuilder &lb) {
        NVVM::CpAsyncBulkTensorSharedCTAToGlobalOp::create(
            lb, loc, a.getTmap(), half,
            ValueRange{LLVM::TruncOp::create(lb, loc, i32, col),
                       LLVM::TruncOp::create(lb, loc, i32, boxRow)},
            Value(), NVVM::TMAStoreMode::TILE, Value());
        NVVM::CpAsyncBulkCommitGroupOp::create(lb, loc);
      });
    }
    {
      // The block's rows below the limit: thread t copies chunks t + 128 q
      // (row / 8, chunk % 8) of the box, a warp four whole rows at a time.
      OpBuilder eb = OpBuilder::atBlockTerminator(fullIf.elseBlock());
      auto vec = VectorType::get({4}, i32);
      for (int64_t q = 0; q < 4; ++q) {
        Value index = LLVM::AddOp::create(eb, loc, wgThread,
                                          i32c(eb, loc, kWarpgroupThreads * q));
        Value r = LLVM::UDivOp::create(eb, loc, index, i32c(eb, loc, 8));
        Value c = LLVM::URemOp::create(eb, loc, index, i32c(eb, loc, 8));
        Value outRow = LLVM::AddOp::create(
            eb, loc, boxRow, LLVM::ZExtOp::create(eb, loc, i64, r));
        Value outCol = LLVM::AddOp::create(
            eb, loc, col,
            LLVM::ZExtOp::create(
                eb, loc, i64,
                LLVM::MulOp::create(eb, loc, c, i32c(eb, loc, 8))));
        Value inside = LLVM::AndOp::create(
            eb, loc,
            LLVM::ICmpOp::create(eb, loc, LLVM::ICmpPredicate::slt, outRow,
                                 limit),
            LLVM::ICmpOp::create(eb, loc, LLVM::ICmpPredicate::slt, outCol,
                                 i64c(eb, loc, ld)));
        auto copyIf = scf::IfOp::create(eb, loc, inside, false);
        OpBuilder cb = OpBuilder::atBlockTerminator(copyIf.thenBlock());
        Value from =
            LLVM::GEPOp::create(cb, loc, half.getType(), cb.getI8Type(), half,
                                ValueRange{bf16SwizzledChunk(cb, loc, r, c)});
        Value v = LLVM::LoadOp::create(cb, loc, vec, from, 16);
        Value to = LLVM::GEPOp::create(
            cb, loc, a.getOut().getType(), cb.getBF16Type(), a.getOut(),
            ValueRange{LLVM::AddOp::create(
                cb, loc,
                LLVM::MulOp::create(cb, loc, outRow, i64c(cb, loc, ld)),
                outCol)});
        LLVM::StoreOp::create(cb, loc, v, to, 16);
      }
    }
  }
}

/// The bulk stores of moek.store_acc_tma:
/// thread l of warp w (of the warpgroup) holds, of 8-column group j, the
/// bf16 pair `pair(j, h)` (an i32) at row 16w + l/4 + 8h, columns
/// 8j + 2(l%4) (+1): exactly its part of the 8x8 matrix (j, h) in
/// stmatrix's layout. One stmatrix.x4 stores the matrices (j, 0), (j, 1),
/// (j + 1, 0), (j + 1, 1), each lane giving a row address of matrix l/8:
/// row 16w + 8h + l%8 of the box, 16-byte chunk j%8 of it, which the
/// 128-byte swizzle moves to chunk (j%8) ^ (row%8) = (j%8) ^ (l%8).
/// Two halves: block b writes half b%2, whose last store (block b - 2, or
/// the previous op's) the first thread waited for before block b - 1's
/// barrier; one half: it waits before each block's first barrier.
struct StoreAccTmaLowering : OpConversionPattern<StoreAccTmaOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreAccTmaOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    if (op.getTransposed()) {
      lowerStoreAccTmaTransposed(b, loc, op, a);
      rewriter.eraseOp(op);
      return success();
    }
    AccType accType = op.getAcc().getType();
    int64_t ld = op.getLdAttr().getInt();
    Type bf16 = b.getBF16Type(), i32 = b.getI32Type();
    Value full = warpgroupRowsBelow(b, loc, a.getRow(), a.getRowLimit());
    auto ifOp = scf::IfOp::create(b, loc, full, /*withElseRegion=*/true);
    {
      // A tile's last rows: moek.store_acc's stores.
      OpBuilder eb = OpBuilder::atBlockTerminator(ifOp.elseBlock());
      Value out = a.getOut();
      storeAccFragment(
          eb, loc, a.getAcc(), accType, bf16, ld, a.getRow(), a.getCol(),
          a.getRowLimit(),
          [&](OpBuilder &ob, Value row) -> std::pair<Value, Value> {
            return {out, LLVM::MulOp::create(ob, loc, toI64(ob, loc, row),
                                             i64c(ob, loc, ld))};
          });
    }
    OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
    // A %tid.x read of its own: the staging addresses derived from the
    // kernel's first one were hoisted out of the tile loop, 64-bit values
    // live across the K loops (spilled in the 128-row FP8 kernel, SASS).
    Value tid = freshThreadIdX(tb, loc);
    Value lane = LLVM::URemOp::create(tb, loc, tid, i32c(tb, loc, 32));
    Value warp = LLVM::URemOp::create(
        tb, loc, LLVM::UDivOp::create(tb, loc, tid, i32c(tb, loc, 32)),
        i32c(tb, loc, 4));
    Value first = isWarpgroupLeader(tb, loc);
    Value matrix = LLVM::UDivOp::create(tb, loc, lane, i32c(tb, loc, 8));
    Value r8 = LLVM::URemOp::create(tb, loc, lane, i32c(tb, loc, 8));
    // The lane's row of the box: 16w + 8 (matrix % 2) + l % 8, in bytes.
    Value boxRow = LLVM::AddOp::create(
        tb, loc, LLVM::MulOp::create(tb, loc, warp, i32c(tb, loc, 16)),
        LLVM::AddOp::create(
            tb, loc,
            LLVM::MulOp::create(
                tb, loc,
                LLVM::URemOp::create(tb, loc, matrix, i32c(tb, loc, 2)),
                i32c(tb, loc, 8)),
            r8));
    Value rowBytes = LLVM::MulOp::create(tb, loc, boxRow, i32c(tb, loc, 128));
    // Group j + matrix / 2 of the lane's address.
    Value groupOfMatrix =
        LLVM::UDivOp::create(tb, loc, matrix, i32c(tb, loc, 2));
    Value barrier =
        LLVM::TruncOp::create(tb, loc, i32, toI64(tb, loc, a.getBarrier()));
    Value threads = i32c(tb, loc, kWarpgroupThreads);
    Value rowI32 =
        LLVM::TruncOp::create(tb, loc, i32, toI64(tb, loc, a.getRow()));
    Value colI32 =
        LLVM::TruncOp::create(tb, loc, i32, toI64(tb, loc, a.getCol()));
    // The bf16 pair of group j, row half h, as an i32.
    auto pair = [&](int64_t j, int64_t h) {
      return accPairBits(tb, loc, a.getAcc(), j, h);
    };
    auto onFirst = [&](function_ref<void(OpBuilder &)> body) {
      onFirstThread(tb, loc, first, body);
    };
    int64_t halves = op.getHalvesAttr().getInt();
    for (int64_t box = 0; box < accType.getCols() / 64; ++box) {
      Value half = LLVM::GEPOp::create(
          tb, loc, a.getStaging().getType(), tb.getI8Type(), a.getStaging(),
          ArrayRef<LLVM::GEPArg>{int32_t(kStagingHalfBytes * (box % halves))});
      if (halves == 1) {
        onFirst([&](OpBuilder &fb) {
          NVVM::CpAsyncBulkWaitGroupOp::create(fb, loc, 0, fb.getUnitAttr());
        });
        namedBarrier(tb, loc, barrier, threads, /*wait=*/true);
      }
      for (int64_t q = 0; q < 4; ++q) {
        int64_t j = 8 * box + 2 * q;
        Value chunk = LLVM::XOrOp::create(
            tb, loc,
            LLVM::AddOp::create(tb, loc, groupOfMatrix, i32c(tb, loc, 2 * q)),
            r8);
        Value addr = LLVM::GEPOp::create(
            tb, loc, half.getType(), tb.getI8Type(), half,
            ValueRange{LLVM::AddOp::create(
                tb, loc, rowBytes,
                LLVM::ShlOp::create(tb, loc, chunk, i32c(tb, loc, 4)))});
        NVVM::StMatrixOp::create(
            tb, loc, addr,
            ValueRange{pair(j, 0), pair(j, 1), pair(j + 1, 0), pair(j + 1, 1)},
            NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::row),
            NVVM::LdStMatrixShapeAttr::get(ctx, 8, 8),
            NVVM::LdStMatrixEltTypeAttr::get(ctx,
                                             NVVM::LdStMatrixEltType::B16));
      }
      // The box's writes, visible to the TMA (async proxy); with two
      // halves, the previous box's store has read the other half, which
      // the next box writes.
      NVVM::FenceProxyOp::create(
          tb, loc, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
          NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
      if (halves == 2)
        onFirst([&](OpBuilder &fb) {
          NVVM::CpAsyncBulkWaitGroupOp::create(fb, loc, 0, fb.getUnitAttr());
        });
      namedBarrier(tb, loc, barrier, threads, /*wait=*/true);
      onFirst([&](OpBuilder &fb) {
        NVVM::CpAsyncBulkTensorSharedCTAToGlobalOp::create(
            fb, loc, a.getTmap(), half,
            ValueRange{
                LLVM::AddOp::create(fb, loc, colI32, i32c(fb, loc, 64 * box)),
                rowI32},
            Value(), NVVM::TMAStoreMode::TILE, Value());
        NVVM::CpAsyncBulkCommitGroupOp::create(fb, loc);
      });
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.store_acc_tma_wait: the warpgroup's first thread.
struct StoreAccTmaWaitLowering : OpConversionPattern<StoreAccTmaWaitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreAccTmaWaitOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    // Every thread of the warpgroup: a thread's wait_group waits for its
    // own bulk groups, none but the first thread's, so no leader predicate
    // (one kept from the kernel's start was the one value ptxas spilled
    // across the 128-row FP8 kernel's tiles, in SASS).
    if (op.getRead())
      NVVM::CpAsyncBulkWaitGroupOp::create(b, loc, 0, b.getUnitAttr());
    else
      awaitBulkStores(b, loc);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

Value peerShift(OpBuilder &b, Location loc, Value rank, Value bases,
                Value self) {
  Type i64 = b.getI64Type();
  auto base = [&](Value r) -> Value {
    Value at =
        LLVM::GEPOp::create(b, loc, bases.getType(), i64, bases,
                            ValueRange{LLVM::ZExtOp::create(b, loc, i64, r)});
    return LLVM::LoadOp::create(b, loc, i64, at, /*alignment=*/8);
  };
  return LLVM::SubOp::create(b, loc, base(rank), base(self));
}

Value mapPeer(OpBuilder &b, Location loc, Value ptr, Value rank, Value bases,
              Value self) {
  return gepBytes(b, loc, ptr, peerShift(b, loc, rank, bases, self));
}

namespace {

struct StoreAccRemoteLowering : OpConversionPattern<StoreAccRemoteOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreAccRemoteOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t ld = op.getLdAttr().getInt();
    Type i32 = rewriter.getI32Type();
    storeAccFragment(
        rewriter, loc, a.getAcc(), op.getAcc().getType(), op.getElementType(),
        ld, a.getRow(), a.getCol(), a.getRowLimit(),
        [&](OpBuilder &b, Value row) -> std::pair<Value, Value> {
          Value slot = LLVM::LoadOp::create(
              b, loc, i32, elementAddress(b, loc, a.getSlots(), i32, row));
          Value rank = LLVM::LoadOp::create(
              b, loc, i32, elementAddress(b, loc, a.getRanks(), i32, row));
          Value local = LLVM::GEPOp::create(
              b, loc, a.getOut().getType(), op.getElementType(), a.getOut(),
              ValueRange{LLVM::MulOp::create(
                  b, loc, LLVM::ZExtOp::create(b, loc, b.getI64Type(), slot),
                  i64c(b, loc, ld))});
          return {mapPeer(b, loc, local, rank, a.getBases(), a.getSelf()),
                  i64c(b, loc, 0)};
        });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateEpiloguePatterns(const TypeConverter &converter,
                              RewritePatternSet &patterns) {
  patterns.add<StoreAccLowering, StoreAccTmaLowering, StoreAccTmaWaitLowering,
               StoreAccRemoteLowering>(converter, patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
