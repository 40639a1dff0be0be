//===- Scheduling.cpp - Lower moek roles and tile scheduling ----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Warp roles (warpgroup guards with setmaxnreg), named barriers, cluster
// ranks and syncs, and the grouped tile scheduler (moek.grouped_tile_count,
// moek.grouped_tile): expert offsets to row blocks and tile indices.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <optional>

namespace mlir::moe::kernel::nvvm {

//===----------------------------------------------------------------------===//
// Roles and indices
//===----------------------------------------------------------------------===//

namespace {

struct WarpRoleLowering : OpConversionPattern<WarpRoleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(WarpRoleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t first = op.getFirstAttr().getInt();
    int64_t count = op.getCountAttr().getInt();
    Value tid = threadIdX(rewriter, loc);
    Value wg = LLVM::UDivOp::create(rewriter, loc, tid,
                                    i32c(rewriter, loc, kWarpgroupThreads));
    Value rel =
        LLVM::SubOp::create(rewriter, loc, wg, i32c(rewriter, loc, first));
    // Unsigned compare: warpgroups below `first` wrap around to large values.
    Value inRole = LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::ult,
                                        rel, i32c(rewriter, loc, count));
    op.walk([&](WarpgroupIndexOp idx) {
      // Broadcast from lane 0 so that ptxas sees a warp-uniform value:
      // control flow on a value it thinks divergent makes it serialize the
      // wgmmas behind it (C7520).
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(idx);
      Value uniform = NVVM::ShflOp::create(
          rewriter, loc, rewriter.getI32Type(), i32c(rewriter, loc, -1), rel,
          i32c(rewriter, loc, 0), i32c(rewriter, loc, 0x1f),
          NVVM::ShflKindAttr::get(rewriter.getContext(), NVVM::ShflKind::idx),
          UnitAttr());
      rewriter.replaceOp(idx, toIndex(rewriter, loc, uniform));
    });
    auto ifOp = scf::IfOp::create(rewriter, loc, inRole, /*withElse=*/false);
    Block *then = ifOp.thenBlock();
    rewriter.setInsertionPointToStart(then);
    if (IntegerAttr regs = op.getMaxRegsAttr()) {
      auto action = regs.getInt() < 128 ? NVVM::SetMaxRegisterAction::decrease
                                        : NVVM::SetMaxRegisterAction::increase;
      NVVM::SetMaxRegisterOp::create(
          rewriter, loc, rewriter.getI32IntegerAttr(regs.getInt()),
          NVVM::SetMaxRegisterActionAttr::get(rewriter.getContext(), action));
    }
    Block &body = op.getBody().front();
    rewriter.inlineBlockBefore(&body, then->getTerminator());
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.barrier_arrive / moek.barrier_sync: barrier.arrive / barrier.sync
/// with an id and a thread count (namedBarrier).
template <typename OpTy, bool Wait>
struct NamedBarrierLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value id = i32c(rewriter, loc, op.getIdAttr().getInt());
    Value threads = i32c(rewriter, loc, op.getThreadsAttr().getInt());
    namedBarrier(rewriter, loc, id, threads, Wait);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void clusterBarrier(OpBuilder &b, Location loc) {
  NVVM::SyncWarpOp::create(b, loc, i32c(b, loc, -1));
  NVVM::ClusterArriveOp::create(b, loc, UnitAttr());
  NVVM::ClusterWaitOp::create(b, loc, UnitAttr());
}

namespace {

struct ClusterSyncLowering : OpConversionPattern<ClusterSyncOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ClusterSyncOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    clusterBarrier(rewriter, op.getLoc());
    rewriter.eraseOp(op);
    return success();
  }
};

struct ElectOneLowering : OpConversionPattern<ElectOneOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ElectOneOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value tid = threadIdX(rewriter, loc);
    Value lane = LLVM::URemOp::create(rewriter, loc, tid,
                                      i32c(rewriter, loc, kWarpgroupThreads));
    rewriter.replaceOpWithNewOp<LLVM::ICmpOp>(
        op, LLVM::ICmpPredicate::eq, lane,
        i32c(rewriter, loc, 32 * op.getWarpAttr().getInt()));
    return success();
  }
};

struct InWarpLowering : OpConversionPattern<InWarpOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(InWarpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value lane = LLVM::URemOp::create(rewriter, loc, threadIdX(rewriter, loc),
                                      i32c(rewriter, loc, kWarpgroupThreads));
    rewriter.replaceOpWithNewOp<LLVM::ICmpOp>(
        op, LLVM::ICmpPredicate::eq,
        LLVM::UDivOp::create(rewriter, loc, lane, i32c(rewriter, loc, 32)),
        i32c(rewriter, loc, op.getWarpAttr().getInt()));
    return success();
  }
};

template <typename OpTy, typename NVVMOpTy>
struct SregLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value v = NVVMOpTy::create(rewriter, op.getLoc(), rewriter.getI32Type());
    rewriter.replaceOp(op, toIndex(rewriter, op.getLoc(), v));
    return success();
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// Grouped tile scheduling
//===----------------------------------------------------------------------===//

namespace {

/// Loads offsets[e] (i32 in global memory) as an index.
Value loadOffset(OpBuilder &b, Location loc, Value offsets, Value e) {
  Value addr = elementAddress(b, loc, offsets, b.getI32Type(), e);
  Value v = LLVM::LoadOp::create(b, loc, b.getI32Type(), addr);
  return toIndex(b, loc, v);
}

/// Row blocks of expert e: ceil(max(end - begin, 0) / tileRows), or with
/// `tailRows` (moek.grouped_tile_count's tail_rows) ceil(max(rows -
/// tailRows, 1) / tileRows) for rows > 0: a last block of at most tailRows
/// rows past a full one joins the block before.
Value rowBlocks(OpBuilder &b, Location loc, Value begin, Value end,
                int64_t tileRows, int64_t tailRows = 0) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value rows = arith::SubIOp::create(b, loc, end, begin);
  rows = arith::MaxSIOp::create(b, loc, rows, zero);
  if (tailRows > 0) {
    // rows > tailRows ? rows - tailRows : min(rows, 1)
    Value tail = arith::ConstantIndexOp::create(b, loc, tailRows);
    Value over =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rows, tail);
    rows = arith::SelectOp::create(
        b, loc, over, arith::SubIOp::create(b, loc, rows, tail),
        arith::MinUIOp::create(b, loc, rows,
                               arith::ConstantIndexOp::create(b, loc, 1)));
  }
  return arith::CeilDivUIOp::create(
      b, loc, rows, arith::ConstantIndexOp::create(b, loc, tileRows));
}

/// Entry `i` (index) of an i32 tile table in shared memory.
Value tableSlot(OpBuilder &b, Location loc, Value table, Value i) {
  return elementAddress(b, loc, table, b.getI32Type(), i);
}

} // namespace
void storeTable(OpBuilder &b, Location loc, Value table, Value i, Value v) {
  LLVM::StoreOp::create(b, loc, toI32(b, loc, v), tableSlot(b, loc, table, i));
}
Value loadTable(OpBuilder &b, Location loc, Value table, Value i) {
  return toIndex(b, loc,
                 LLVM::LoadOp::create(b, loc, b.getI32Type(),
                                      tableSlot(b, loc, table, i)));
}

namespace {

/// The first row and the column block of tile `rem` of one expert, whose
/// rows are [begin, end): see moek.grouped_tile for the order.
std::pair<Value, Value> decodeInExpert(OpBuilder &b, Location l, Value rem,
                                       Value begin, Value end, int64_t tileRows,
                                       Value colTiles, int64_t rowGroup,
                                       int64_t tailRows) {
  Value tileRowsV = arith::ConstantIndexOp::create(b, l, tileRows);
  Value mBlock, col;
  if (rowGroup == 1) {
    mBlock = arith::DivUIOp::create(b, l, rem, colTiles);
    col = arith::RemUIOp::create(b, l, rem, colTiles);
  } else {
    // Group g holds row blocks [g*G, g*G + rows_g) by every column block,
    // rows_g = min(G, row blocks - g*G); the row block runs fastest.
    Value groupV = arith::ConstantIndexOp::create(b, l, rowGroup);
    Value span = arith::MulIOp::create(b, l, groupV, colTiles);
    Value g = arith::DivUIOp::create(b, l, rem, span);
    Value local = arith::RemUIOp::create(b, l, rem, span);
    Value first = arith::MulIOp::create(b, l, g, groupV);
    Value left = arith::SubIOp::create(
        b, l, rowBlocks(b, l, begin, end, tileRows, tailRows), first);
    // At least 1, so that decoding for an expert without rows (done, and
    // discarded, by the scan without a tile table) never divides by zero.
    Value rows =
        arith::MaxUIOp::create(b, l, arith::MinUIOp::create(b, l, left, groupV),
                               arith::ConstantIndexOp::create(b, l, 1));
    // local / rows and local % rows without a division when they are
    // exact that way: rows <= G, so q = (local * ceil(2^32 / rows)) >> 32
    // (exact for local < 2^32 / G: local < G * colTiles). LLVM made the
    // divisions 16-bit (both operands are small), which ptxas compiles to
    // a subroutine returning through the stack: a spill in the kernels
    // with the most registers live.
    std::optional<int64_t> cols = getConstantIntValue(colTiles);
    if (rowGroup <= 16 && cols && *cols > 0 &&
        rowGroup * rowGroup * *cols < (int64_t(1) << 32)) {
      auto c = [&](int64_t v) -> Value {
        return arith::ConstantIndexOp::create(b, l, v);
      };
      Value m = c((int64_t(1) << 32) / rowGroup +
                  ((int64_t(1) << 32) % rowGroup != 0));
      for (int64_t d = rowGroup - 1; d >= 1; --d)
        m = arith::SelectOp::create(
            b, l,
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, rows, c(d)),
            c((int64_t(1) << 32) / d + ((int64_t(1) << 32) % d != 0)), m);
      Value q = arith::ShRUIOp::create(
          b, l, arith::MulIOp::create(b, l, local, m), c(32));
      mBlock = arith::AddIOp::create(
          b, l, first,
          arith::SubIOp::create(b, l, local,
                                arith::MulIOp::create(b, l, q, rows)));
      col = q;
    } else {
      mBlock = arith::AddIOp::create(b, l, first,
                                     arith::RemUIOp::create(b, l, local, rows));
      col = arith::DivUIOp::create(b, l, local, rows);
    }
  }
  Value row = arith::AddIOp::create(
      b, l, begin, arith::MulIOp::create(b, l, mBlock, tileRowsV));
  return {row, col};
}

struct GroupedTileCountLowering : OpConversionPattern<GroupedTileCountOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GroupedTileCountOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value numE = arith::ConstantIndexOp::create(
        rewriter, loc, op.getNumExpertsAttr().getInt());
    Value colTiles = arith::ConstantIndexOp::create(
        rewriter, loc, op.getColTilesAttr().getInt());
    int64_t tileRows = op.getTileRowsAttr().getInt();
    int64_t tailRows = op.getTailRows();
    Value offsets = adaptor.getOffsets();
    auto table = op->getAttrOfType<FlatSymbolRefAttr>(kTileTableAttr);
    // With a table: thread 0 writes the prefix sums of the experts' tile
    // counts to shared memory once, so that decoding a tile is a binary
    // search there instead of a scan of the offsets in global memory.
    Value tablePtr;
    if (table)
      tablePtr = LLVM::AddressOfOp::create(
          rewriter, loc, ptrTy(getContext(), 3), table.getValue());
    auto scan = [&](OpBuilder &b, Location l) {
      return scf::ForOp::create(
          b, l, zero, numE, one, ValueRange{zero},
          [&](OpBuilder &fb, Location fl, Value e, ValueRange acc) {
            if (tablePtr)
              storeTable(fb, fl, tablePtr, e, acc[0]);
            Value begin = loadOffset(fb, fl, offsets, e);
            Value next = arith::AddIOp::create(fb, fl, e, one);
            Value end = loadOffset(fb, fl, offsets, next);
            Value tiles = arith::MulIOp::create(
                fb, fl, rowBlocks(fb, fl, begin, end, tileRows, tailRows),
                colTiles);
            scf::YieldOp::create(
                fb, fl,
                ValueRange{arith::AddIOp::create(fb, fl, acc[0], tiles)});
          });
    };
    if (!tablePtr) {
      rewriter.replaceOp(op, scan(rewriter, loc).getResult(0));
      return success();
    }
    Value tid = threadIdX(rewriter, loc);
    Value isFirst = LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::eq,
                                         tid, i32c(rewriter, loc, 0));
    auto ifOp = scf::IfOp::create(rewriter, loc, isFirst, false);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value total = scan(rewriter, loc).getResult(0);
      storeTable(rewriter, loc, tablePtr, numE, total);
    }
    NVVM::Barrier0Op::create(rewriter, loc);
    rewriter.replaceOp(op, loadTable(rewriter, loc, tablePtr, numE));
    return success();
  }
};

struct GroupedTileLowering : OpConversionPattern<GroupedTileOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GroupedTileOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Walk the experts, subtracting each one's tile count from the tile
    // index until it falls inside an expert: results (e, row, end, col).
    Location loc = op.getLoc();
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value numE = arith::ConstantIndexOp::create(
        rewriter, loc, op.getNumExpertsAttr().getInt());
    int64_t tileRows = op.getTileRowsAttr().getInt();
    int64_t tailRows = op.getTailRows();
    Value colTiles = arith::ConstantIndexOp::create(
        rewriter, loc, op.getColTilesAttr().getInt());
    int64_t rowGroup = op.getRowGroup();
    Value offsets = adaptor.getOffsets();
    if (auto table = op->getAttrOfType<FlatSymbolRefAttr>(kTileTableAttr)) {
      // Binary search for the expert e with table[e] <= tile < table[e+1]
      // (such an e has tiles, so empty experts are skipped for free).
      Value tablePtr = LLVM::AddressOfOp::create(
          rewriter, loc, ptrTy(getContext(), 3), table.getValue());
      int64_t e = op.getNumExpertsAttr().getInt();
      int64_t steps = llvm::Log2_64_Ceil(e) + 1;
      Value tile = adaptor.getTile();
      auto search = scf::ForOp::create(
          rewriter, loc, zero,
          arith::ConstantIndexOp::create(rewriter, loc, steps), one,
          ValueRange{zero, numE},
          [&](OpBuilder &b, Location l, Value, ValueRange it) {
            Value lo = it[0], hi = it[1];
            Value mid = arith::DivUIOp::create(
                b, l, arith::AddIOp::create(b, l, lo, hi),
                arith::ConstantIndexOp::create(b, l, 2));
            Value atMid = loadTable(b, l, tablePtr, mid);
            Value below = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule,
                                                atMid, tile);
            Value open =
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::ugt,
                                      arith::SubIOp::create(b, l, hi, lo), one);
            Value moveLo = arith::AndIOp::create(b, l, below, open);
            Value moveHi = arith::AndIOp::create(
                b, l, open,
                arith::XOrIOp::create(
                    b, l, below, arith::ConstantIntOp::create(b, l, 1, 1)));
            scf::YieldOp::create(
                b, l,
                ValueRange{arith::SelectOp::create(b, l, moveLo, mid, lo),
                           arith::SelectOp::create(b, l, moveHi, mid, hi)});
          });
      Value expert = search.getResult(0);
      Value rem = arith::SubIOp::create(
          rewriter, loc, tile, loadTable(rewriter, loc, tablePtr, expert));
      Value begin = loadOffset(rewriter, loc, offsets, expert);
      Value end = loadOffset(rewriter, loc, offsets,
                             arith::AddIOp::create(rewriter, loc, expert, one));
      auto [row, col] = decodeInExpert(rewriter, loc, rem, begin, end, tileRows,
                                       colTiles, rowGroup, tailRows);
      rewriter.replaceOp(op, {expert, row, end, col});
      return success();
    }
    Value falseV = arith::ConstantIntOp::create(rewriter, loc, 0, 1);
    SmallVector<Value> init = {
        adaptor.getTile(), falseV, zero, zero, zero, zero};
    auto loop = scf::ForOp::create(
        rewriter, loc, zero, numE, one, init,
        [&](OpBuilder &b, Location l, Value e, ValueRange it) {
          Value rem = it[0], found = it[1];
          Value begin = loadOffset(b, l, offsets, e);
          Value end =
              loadOffset(b, l, offsets, arith::AddIOp::create(b, l, e, one));
          Value n = arith::MulIOp::create(
              b, l, rowBlocks(b, l, begin, end, tileRows, tailRows), colTiles);
          Value inside =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, rem, n);
          Value notFound = arith::XOrIOp::create(
              b, l, found, arith::ConstantIntOp::create(b, l, 1, 1));
          Value hit = arith::AndIOp::create(b, l, inside, notFound);
          // Decoded whether or not the tile is in this expert (selected
          // below).
          auto [row, col] = decodeInExpert(b, l, rem, begin, end, tileRows,
                                           colTiles, rowGroup, tailRows);
          Value newRem = arith::SelectOp::create(
              b, l, notFound,
              arith::SelectOp::create(b, l, inside, rem,
                                      arith::SubIOp::create(b, l, rem, n)),
              rem);
          Value newFound = arith::OrIOp::create(b, l, found, hit);
          auto pick = [&](Value now, Value before) {
            return arith::SelectOp::create(b, l, hit, now, before).getResult();
          };
          scf::YieldOp::create(b, l,
                               ValueRange{newRem, newFound, pick(e, it[2]),
                                          pick(row, it[3]), pick(end, it[4]),
                                          pick(col, it[5])});
        });
    rewriter.replaceOp(op, {loop.getResult(2), loop.getResult(3),
                            loop.getResult(4), loop.getResult(5)});
    return success();
  }
};

} // namespace

void populateSchedulingPatterns(const TypeConverter &converter,
                                RewritePatternSet &patterns) {
  patterns
      .add<WarpRoleLowering, ElectOneLowering,
           SregLowering<BlockIdOp, NVVM::BlockIdXOp>,
           SregLowering<GridSizeOp, NVVM::GridDimXOp>,
           SregLowering<ClusterRankOp, NVVM::ClusterId>, ClusterSyncLowering,
           GroupedTileCountLowering, GroupedTileLowering,
           NamedBarrierLowering<BarrierArriveOp, false>,
           NamedBarrierLowering<BarrierSyncOp, true>, InWarpLowering>(
          converter, patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
