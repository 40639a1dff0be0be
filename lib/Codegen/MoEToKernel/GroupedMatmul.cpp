//===- GroupedMatmul.cpp - The grouped expert matmul kernels ----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The warp-specialized grouped expert matmul (moe.expert_matmul): its
// configuration, the tensor-memory and single-issuer forms of sm_100a, the
// block-scaled FP8 kernel and buildKernel, which assembles the kernel of a
// configuration.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace mlir::moe::kernelgen {

namespace {

/// The token granularity of the transposed product's MMAs (wgmma N).
constexpr int64_t kTransposedStep = 16;

/// The MMA issuer's work on one tile of a single-issuer kernel, from ring
/// iteration `i0`: waits for accumulator `j` to be free (moek.acc_acquire),
/// issues each of the tile's `slices` stages' MMAs (moek.mma_tmem, tile 0
/// by tile 1, the first overwriting) and frees the stage when they
/// complete (moek.mma_release: no wait), then commits the accumulator with
/// the tile index `tile` (moek.acc_commit). With `perStage`, each stage's
/// product goes into an accumulator of its own (j, j + 1, ...: the K blocks
/// of a block-scaled tile, promoted by the epilogue). With `blockScales`,
/// the MMAs take the UE8M0 scales of tiles 2 (rows) and 3 (weights).
/// Returns the iteration after the tile.
Value buildTileMmasTmem(OpBuilder &ob, Location loc, Value ring, Value accs,
                        Value i0, Value j, Value tile, Value slices,
                        bool perStage = false, bool blockScales = false) {
  auto idx = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  if (!perStage)
    mk::AccAcquireOp::create(ob, loc, accs, j);
  auto kLoop = scf::ForOp::create(
      ob, loc, idx(ob, 0), slices, idx(ob, 1), ValueRange{},
      [&](OpBuilder &ib, Location il, Value ks, ValueRange) {
        Value i = arith::AddIOp::create(ib, il, i0, ks);
        Value acc = perStage ? arith::AddIOp::create(ib, il, j, ks) : j;
        if (perStage)
          mk::AccAcquireOp::create(ib, il, accs, acc);
        mk::RingWaitOp::create(ib, il, ring, i);
        Value accumulate =
            perStage ? arith::ConstantIntOp::create(ib, il, 0, 1).getResult()
                     : arith::CmpIOp::create(ib, il, arith::CmpIPredicate::ugt,
                                             ks, idx(ib, 0))
                           .getResult();
        mk::MmaTmemOp::create(
            ib, il, ring, i, ib.getI64IntegerAttr(0), ib.getI64IntegerAttr(1),
            accs, acc, accumulate,
            blockScales ? ib.getI64IntegerAttr(2) : IntegerAttr(),
            blockScales ? ib.getI64IntegerAttr(3) : IntegerAttr());
        mk::MmaReleaseOp::create(ib, il, ring, i);
        if (perStage)
          mk::AccCommitOp::create(ib, il, accs, acc, tile);
        scf::YieldOp::create(ib, il);
      });
  disableUnroll(kLoop);
  if (!perStage)
    mk::AccCommitOp::create(ob, loc, accs, j, tile);
  return arith::AddIOp::create(ob, loc, i0, slices);
}

/// The CTA-pair variant of the single-issuer grouped matmul (sm_100a,
/// cta-pair): clusters of two CTAs share each 256 x 256 tile, CTA r holding
/// its rows [128 r, 128 r + 128) and the weight rows [128 r, 128 r + 128)
/// of the tile in its ring, and its 128 rows of the product in its tensor
/// memory; one `tcgen05.mma.cta_group::2` (M = 256) per K step reads both
/// rings. Pairs take tiles in a static order (pair p: tiles p, p + P, ...,
/// P pairs), so both CTAs know every tile without exchanging indices:
///  * producer (thread 0 of each CTA): its boxes of each stage, completing
///    on the even CTA's full barrier (`leader_barrier`), whose producer
///    expects both CTAs' bytes;
///  * MMA issuer (lane 0 of warp 1, even CTA only): as in
///    buildSingleIssuerRoles, its commits reaching both CTAs;
///  * epilogue (warpgroups 1 and 2 of each CTA): its CTA's 128 rows, half
///    of the columns each, released to the even CTA.
void buildCtaPairRoles(OpBuilder &b, Location loc, Value tmapX, Value tmapW,
                       Value offsets, Value out, Type outElem, int64_t e,
                       int64_t n, int64_t k, int64_t stages, int64_t rowGroup,
                       bool streamWeights) {
  MLIRContext *ctx = b.getContext();
  constexpr int64_t kPairRows = 256, kPairCols = 256, kHalf = 128;
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  auto tile = MemRefType::get({kHalf, kTileK}, b.getBF16Type(), AffineMap(),
                              b.getI64IntegerAttr(3));
  auto ringType = mk::RingType::get(ctx, stages, {tile, tile});
  // Each CTA's stages are freed by the MMAs' commit (1 arrival).
  Value ring =
      mk::RingAllocOp::create(b, loc, ringType, b.getI64IntegerAttr(1));
  auto accsType =
      mk::AccRingType::get(ctx, kTmemAccs, kHalf, kPairCols, b.getF32Type());
  auto accsAlloc =
      mk::AccRingAllocOp::create(b, loc, accsType, b.getI64IntegerAttr(256));
  accsAlloc.setCtaPair(true);
  Value accs = accsAlloc;
  // Both CTAs' barriers exist before either signals the other's.
  mk::ClusterSyncOp::create(b, loc);
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(kPairRows),
              colTiles = b.getI64IntegerAttr(n / kPairCols);
  Value numTiles = mk::GroupedTileCountOp::create(
      b, loc, b.getIndexType(), offsets, numE, tileRows, colTiles);
  Value rank = mk::ClusterRankOp::create(b, loc, b.getIndexType());
  Value pair = arith::DivUIOp::create(
      b, loc, mk::BlockIdOp::create(b, loc, b.getIndexType()), idx(b, 2));
  Value pairs = arith::DivUIOp::create(
      b, loc, mk::GridSizeOp::create(b, loc, b.getIndexType()), idx(b, 2));
  Value leader =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rank, idx(b, 0));
  Value cKSlices = idx(b, k / kTileK);
  auto decode = [&](OpBuilder &ob, Value t) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE, tileRows,
                                     colTiles, ob.getI64IntegerAttr(rowGroup));
  };
  // The pair's tiles, in order; `body(tile, args)` returns the next args.
  auto forPairTiles =
      [&](OpBuilder &ob, ValueRange init,
          function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)>
              body) {
        return scf::ForOp::create(
            ob, loc, pair, numTiles, pairs, init,
            [&](OpBuilder &fb, Location, Value t, ValueRange args) {
              scf::YieldOp::create(fb, loc, body(fb, t, args));
            });
      };
  // The 64-row boxes of rows that CTA `r` loads: those holding rows of
  // the expert (at most 2; none when its half lies past the expert's end).
  auto boxesOf = [&](OpBuilder &ob, mk::GroupedTileOp d, Value r) -> Value {
    Value first = arith::AddIOp::create(
        ob, loc, d.getRow(), arith::MulIOp::create(ob, loc, r, idx(ob, kHalf)));
    Value left = arith::MaxSIOp::create(
        ob, loc, arith::SubIOp::create(ob, loc, d.getRowEnd(), first),
        idx(ob, 0));
    return arith::MinUIOp::create(
        ob, loc, arith::CeilDivUIOp::create(ob, loc, left, idx(ob, kXBoxRows)),
        idx(ob, kHalf / kXBoxRows));
  };

  // Producer: thread 0 of each CTA.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, 40);
    Value elected = mk::ElectOneOp::create(b, loc, b.getI1Type());
    auto ifOp = scf::IfOp::create(b, loc, elected, false);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    forPairTiles(
        b, ValueRange{idx(b, 0)}, [&](OpBuilder &ob, Value t, ValueRange args) {
          auto d = decode(ob, t);
          Value row = arith::AddIOp::create(
              ob, loc, d.getRow(),
              arith::MulIOp::create(ob, loc, rank, idx(ob, kHalf)));
          Value wRow = arith::AddIOp::create(
              ob, loc,
              arith::AddIOp::create(
                  ob, loc,
                  arith::MulIOp::create(ob, loc, d.getExpert(), idx(ob, n)),
                  arith::MulIOp::create(ob, loc, d.getColTile(),
                                        idx(ob, kPairCols))),
              arith::MulIOp::create(ob, loc, rank, idx(ob, kHalf)));
          Value boxes = boxesOf(ob, d, rank);
          // Both CTAs' bytes, which the even CTA's barrier counts.
          Value bytes = arith::AddIOp::create(
              ob, loc,
              arith::MulIOp::create(
                  ob, loc,
                  arith::AddIOp::create(ob, loc, boxesOf(ob, d, idx(ob, 0)),
                                        boxesOf(ob, d, idx(ob, 1))),
                  idx(ob, kXBoxRows * kSliceBytes)),
              idx(ob, 2 * kHalf * kSliceBytes));
          auto kLoop = scf::ForOp::create(
              ob, loc, idx(ob, 0), cKSlices, idx(ob, 1), ValueRange{args[0]},
              [&](OpBuilder &ib, Location il, Value ks, ValueRange it) {
                Value i = it[0];
                Value kx = arith::MulIOp::create(ib, il, ks, idx(ib, kTileK));
                mk::RingAcquireOp::create(ib, il, ring, i);
                auto expect = scf::IfOp::create(ib, il, leader, false);
                {
                  OpBuilder eb =
                      OpBuilder::atBlockTerminator(expect.thenBlock());
                  mk::RingExpectOp::create(eb, il, ring, i, bytes);
                }
                auto load = [&](OpBuilder &lb, Value desc, Value r,
                                int64_t tileIdx, int64_t rowOffset,
                                StringRef hint) {
                  auto op = mk::TmaLoadOp::create(
                      lb, il, desc, ValueRange{kx, r}, ring, i,
                      lb.getI64IntegerAttr(tileIdx),
                      lb.getI64IntegerAttr(rowOffset),
                      streamWeights ? lb.getStringAttr(hint) : StringAttr());
                  op.setLeaderBarrier(true);
                };
                for (int64_t box = 0; box < kHalf / kXBoxRows; ++box) {
                  Value has = arith::CmpIOp::create(
                      ib, il, arith::CmpIPredicate::ugt, boxes, idx(ib, box));
                  auto hasIf = scf::IfOp::create(ib, il, has, false);
                  OpBuilder tb =
                      OpBuilder::atBlockTerminator(hasIf.thenBlock());
                  load(tb, tmapX,
                       arith::AddIOp::create(tb, il, row,
                                             idx(tb, box * kXBoxRows)),
                       0, box * kXBoxRows, "evict_last");
                }
                load(ib, tmapW, wRow, 1, 0, "evict_first");
                scf::YieldOp::create(
                    ib, il,
                    ValueRange{arith::AddIOp::create(ib, il, i, idx(ib, 1))});
              });
          disableUnroll(kLoop);
          return SmallVector<Value>{kLoop.getResult(0)};
        });
  }
  // MMA issuer: lane 0 of warp 1 of the even CTA.
  {
    OpBuilder::InsertionGuard g(b);
    auto role = mk::WarpRoleOp::create(b, loc, b.getStringAttr("mma"),
                                       b.getI64IntegerAttr(0),
                                       b.getI64IntegerAttr(1), IntegerAttr());
    b.setInsertionPointToStart(&role.getBody().emplaceBlock());
    Value issuer = arith::AndIOp::create(
        b, loc,
        mk::ElectOneOp::create(b, loc, b.getI1Type(), b.getI64IntegerAttr(1)),
        leader);
    auto ifOp = scf::IfOp::create(b, loc, issuer, false);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    forPairTiles(
        b, ValueRange{idx(b, 0), idx(b, 0)},
        [&](OpBuilder &ob, Value t, ValueRange args) {
          Value j = args[1];
          return SmallVector<Value>{
              buildTileMmasTmem(ob, loc, ring, accs, args[0], j, t, cKSlices),
              arith::AddIOp::create(ob, loc, j, idx(ob, 1))};
        });
  }
  // Epilogue: warpgroups 1 and 2 of each CTA.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "epilogue", 1, 2, 232);
    Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
    Value firstCol = arith::MulIOp::create(b, loc, wg, idx(b, kPairCols / 2));
    forPairTiles(
        b, ValueRange{idx(b, 0)}, [&](OpBuilder &ob, Value t, ValueRange args) {
          Value j = args[0];
          mk::AccWaitOp::create(ob, loc, ob.getIndexType(), accs, j);
          auto d = decode(ob, t);
          Value row = arith::AddIOp::create(
              ob, loc, d.getRow(),
              arith::MulIOp::create(ob, loc, rank, idx(ob, kHalf)));
          Value col = arith::AddIOp::create(
              ob, loc,
              arith::MulIOp::create(ob, loc, d.getColTile(),
                                    idx(ob, kPairCols)),
              firstCol);
          mk::AccStoreRowsOp::create(
              ob, loc, accs, j, firstCol, ob.getI64IntegerAttr(kPairCols / 2),
              out, row, col, d.getRowEnd(), /*bias=*/Value(),
              /*bias_row=*/Value(), TypeAttr::get(outElem),
              ob.getI64IntegerAttr(n), TypeAttr(), IntegerAttr());
          mk::AccReleaseOp::create(ob, loc, accs, j);
          return SmallVector<Value>{
              arith::AddIOp::create(ob, loc, j, idx(ob, 1))};
        });
  }
  // No CTA leaves while its peer may still signal it.
  mk::ClusterSyncOp::create(b, loc);
}

} // namespace

void buildTmemIssuer(OpBuilder &b, Location loc, Value ring, Value accs,
                     Value total,
                     function_ref<Value(OpBuilder &, Value)> slicesOf,
                     bool perStage, bool blockScales) {
  OpBuilder::InsertionGuard g(b);
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  // Warpgroup 0 again, whose budget the producer's role already set.
  auto role = mk::WarpRoleOp::create(b, loc, b.getStringAttr("mma"),
                                     b.getI64IntegerAttr(0),
                                     b.getI64IntegerAttr(1), IntegerAttr());
  b.setInsertionPointToStart(&role.getBody().emplaceBlock());
  Value issuer =
      mk::ElectOneOp::create(b, loc, b.getI1Type(), b.getI64IntegerAttr(1));
  auto ifOp = scf::IfOp::create(b, loc, issuer, false);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  Type indexTy = b.getIndexType();
  auto loop = scf::WhileOp::create(b, loc, TypeRange{indexTy, indexTy, indexTy},
                                   ValueRange{idx(b, 0), idx(b, 0)});
  {
    Block *before =
        b.createBlock(&loop.getBefore(), {}, {indexTy, indexTy}, {loc, loc});
    OpBuilder bb = OpBuilder::atBlockEnd(before);
    Value i = before->getArgument(0);
    mk::RingWaitOp::create(bb, loc, ring, i);
    Value t = mk::RingTagOp::create(bb, loc, indexTy, ring, i);
    Value more =
        arith::CmpIOp::create(bb, loc, arith::CmpIPredicate::ult, t, total);
    scf::ConditionOp::create(bb, loc, more,
                             ValueRange{i, before->getArgument(1), t});
  }
  {
    Block *after = b.createBlock(&loop.getAfter(), {},
                                 {indexTy, indexTy, indexTy}, {loc, loc, loc});
    OpBuilder ab = OpBuilder::atBlockEnd(after);
    Value j = after->getArgument(1), t = after->getArgument(2);
    Value slices = slicesOf(ab, t);
    Value next = buildTileMmasTmem(ab, loc, ring, accs, after->getArgument(0),
                                   j, t, slices, perStage, blockScales);
    scf::YieldOp::create(
        ab, loc,
        ValueRange{next, arith::AddIOp::create(
                             ab, loc, j, perStage ? slices : idx(ab, 1))});
  }
  b.setInsertionPointAfter(loop);
  // The stop mark: its stage, and an accumulator that tells the epilogue.
  mk::RingReleaseOp::create(b, loc, ring, loop.getResult(0));
  mk::AccAcquireOp::create(b, loc, accs, loop.getResult(1));
  mk::AccCommitOp::create(b, loc, accs, loop.getResult(1), total);
}

void buildTmemEpilogue(OpBuilder &b, Location loc, Value accs, Value total,
                       function_ref<void(OpBuilder &, Value, Value)> body) {
  buildTileIndexLoop(
      b, loc, total,
      [&](OpBuilder &bb, Value j) -> Value {
        return mk::AccWaitOp::create(bb, loc, bb.getIndexType(), accs, j);
      },
      [&](OpBuilder &ab, Value t, Value j) -> Value {
        body(ab, t, j);
        mk::AccReleaseOp::create(ab, loc, accs, j);
        return arith::AddIOp::create(
            ab, loc, j, arith::ConstantIndexOp::create(ab, loc, 1));
      });
}

namespace {

/// The single-issuer roles of the grouped matmul on sm_100a (Blackwell's
/// kernel shape), beside the producer of warpgroup 0: the MMA issuer
/// (buildTmemIssuer: 128 x tileN MMAs, `cKSlices` stages a tile) and the
/// epilogue, warpgroups 1 and 2, half of the tile's columns each
/// (moek.acc_store_rows: thread r stores row r), while the next tile's
/// MMAs run. `blockScales`: the MMAs take the scales of tiles 2 and 3.
template <typename DecodeFn>
void buildSingleIssuerRoles(OpBuilder &b, Location loc, Value ring,
                            Value numTiles, Value cKSlices, int64_t tileN,
                            Value out, Type outElem, int64_t n, DecodeFn decode,
                            bool blockScales = false, Value bias = Value(),
                            Type biasType = Type()) {
  MLIRContext *ctx = b.getContext();
  auto accsType =
      mk::AccRingType::get(ctx, kTmemAccs, 128, tileN, b.getF32Type());
  Value accs =
      mk::AccRingAllocOp::create(b, loc, accsType, b.getI64IntegerAttr(256));
  buildTmemIssuer(
      b, loc, ring, accs, numTiles,
      [&](OpBuilder &, Value) { return cKSlices; }, /*perStage=*/false,
      blockScales);
  OpBuilder::InsertionGuard g(b);
  beginRole(b, loc, "epilogue", 1, 2, 232);
  Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
  Value firstCol = arith::MulIOp::create(
      b, loc, wg, arith::ConstantIndexOp::create(b, loc, tileN / 2));
  buildTmemEpilogue(b, loc, accs, numTiles,
                    [&](OpBuilder &ob, Value t, Value j) {
                      auto d = decode(ob, t);
                      Value col = arith::AddIOp::create(
                          ob, loc,
                          arith::MulIOp::create(
                              ob, loc, d.getColTile(),
                              arith::ConstantIndexOp::create(ob, loc, tileN)),
                          firstCol);
                      // A per-expert bias: the tile's expert's row.
                      mk::AccStoreRowsOp::create(
                          ob, loc, accs, j, firstCol,
                          ob.getI64IntegerAttr(tileN / 2), out, d.getRow(), col,
                          d.getRowEnd(), bias, bias ? d.getExpert() : Value(),
                          TypeAttr::get(outElem), ob.getI64IntegerAttr(n),
                          bias ? TypeAttr::get(biasType) : TypeAttr(),
                          bias ? ob.getI64IntegerAttr(n) : IntegerAttr());
                    });
}

/// The single-issuer roles of the block-scaled FP8 grouped matmul on
/// sm_100a (128 x 128 tiles, one 128-wide K block a stage): the MMA issuer
/// puts each K block's product into an accumulator of its own (four, so
/// that the MMAs run up to three blocks ahead of the epilogue), and the
/// epilogue warpgroups, 64 of the tile's columns each, promote them in
/// order into registers (moek.acc_promote_rows: DeepGEMM's promotion by
/// the row's and the weight block's scales, one row per thread) and store
/// the sum (moek.store_thread_row).
template <typename DecodeFn>
void buildScaledSingleIssuerRoles(OpBuilder &b, Location loc, Value ring,
                                  Value numTiles, Value cKBlocks, Value xs,
                                  Value ws, int64_t nBlocks, int64_t kBlocks,
                                  Value out, Type outElem, int64_t n,
                                  DecodeFn decode) {
  MLIRContext *ctx = b.getContext();
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  auto accsType = mk::AccRingType::get(ctx, 4, 128, 128, b.getF32Type());
  Value accs =
      mk::AccRingAllocOp::create(b, loc, accsType, b.getI64IntegerAttr(256));
  buildTmemIssuer(
      b, loc, ring, accs, numTiles,
      [&](OpBuilder &, Value) { return cKBlocks; }, /*perStage=*/true);
  OpBuilder::InsertionGuard g(b);
  beginRole(b, loc, "epilogue", 1, 2, 192);
  Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
  Value first = arith::MulIOp::create(b, loc, wg, idx(b, 64));
  auto vecTy = VectorType::get({64}, b.getF32Type());
  buildTileIndexLoop(
      b, loc, numTiles,
      [&](OpBuilder &bb, Value j) -> Value {
        return mk::AccWaitOp::create(bb, loc, bb.getIndexType(), accs, j);
      },
      [&](OpBuilder &ob, Value t, Value j) -> Value {
        auto d = decode(ob, t);
        // ws[e][col / 128][kb]: the tile's 128 columns are one N block.
        Value wsBase = arith::MulIOp::create(
            ob, loc,
            arith::AddIOp::create(
                ob, loc,
                arith::MulIOp::create(ob, loc, d.getExpert(), idx(ob, nBlocks)),
                d.getColTile()),
            idx(ob, kBlocks));
        Value zero = arith::ConstantOp::create(
            ob, loc, DenseElementsAttr::get(vecTy, ob.getF32FloatAttr(0.0f)));
        // Block kb's product is accumulator j + kb (its first one waited
        // for by the loop: the wait passes again).
        auto blocks = scf::ForOp::create(
            ob, loc, idx(ob, 0), cKBlocks, idx(ob, 1), ValueRange{zero},
            [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
              Value jj = arith::AddIOp::create(ib, il, j, kb);
              mk::AccWaitOp::create(ib, il, ib.getIndexType(), accs, jj);
              Value v = mk::AccPromoteRowsOp::create(
                  ib, il, vecTy, accs, jj, first, it[0], xs, d.getRow(), kb, ws,
                  arith::AddIOp::create(ib, il, wsBase, kb), d.getRowEnd(),
                  ib.getI64IntegerAttr(kBlocks));
              mk::AccReleaseOp::create(ib, il, accs, jj);
              scf::YieldOp::create(ib, il, ValueRange{v});
            });
        disableUnroll(blocks);
        mk::StoreThreadRowOp::create(
            ob, loc, blocks.getResult(0), out, d.getRow(),
            arith::AddIOp::create(
                ob, loc,
                arith::MulIOp::create(ob, loc, d.getColTile(), idx(ob, 128)),
                first),
            d.getRowEnd(), TypeAttr::get(outElem), ob.getI64IntegerAttr(n));
        return arith::AddIOp::create(ob, loc, j, cKBlocks);
      });
}

} // namespace

int64_t autoRowGroup(ExpertMatmulOp op, int64_t tileRows) {
  RankedTensorType x = op.getX().getType();
  int64_t rowBytes =
      x.getDimSize(1) * std::max<int64_t>(1, x.getElementTypeBitWidth() / 8);
  int64_t fit = (int64_t(16) << 20) / std::max<int64_t>(1, tileRows * rowBytes);
  return std::clamp<int64_t>(fit, 1, 8);
}

Value allocBlockScaledRing(OpBuilder &b, Location loc, int64_t stages) {
  auto i8 = b.getIntegerType(8);
  auto tile = [&](int64_t cols, Type elem) {
    return MemRefType::get({128, cols}, elem, AffineMap(),
                           b.getI64IntegerAttr(3));
  };
  auto ringType =
      mk::RingType::get(b.getContext(), stages,
                        {tile(kTileKFp8, b.getType<Float8E4M3FNType>()),
                         tile(kTileKFp8, i8), tile(4, i8), tile(4, i8)});
  auto alloc =
      mk::RingAllocOp::create(b, loc, ringType, b.getI64IntegerAttr(1));
  alloc.setProducers(33);
  return alloc;
}

Value buildBlockScaledTileLoads(OpBuilder &ob, Location loc, Value ring,
                                Value leader, Value tile, Value iter,
                                Value tmapA, Value aScales, Value row,
                                Value rowEnd, Value tmapB, Value bScales,
                                ArrayRef<Value> bRows, int64_t bBoxRows,
                                bool bUpper, int64_t bScaleRows, int64_t kDim,
                                Value slices, bool streamWeights) {
  Value lastRow = arith::SubIOp::create(
      ob, loc, rowEnd, arith::ConstantIndexOp::create(ob, loc, 1));
  auto scales = [&](OpBuilder &hb, Location hl, Value i, Value ks) {
    mk::StageScalesOp::create(hb, hl, ring, i, hb.getI64IntegerAttr(2), aScales,
                              row, ks, Value(), lastRow,
                              hb.getI64IntegerAttr(kDim / 32));
    mk::StageScalesOp::create(
        hb, hl, ring, i, hb.getI64IntegerAttr(3), bScales, bRows[0], ks,
        bUpper ? bRows[1] : Value(),
        arith::ConstantIndexOp::create(hb, hl, bScaleRows - 1),
        hb.getI64IntegerAttr(kDim / 32));
    mk::RingArriveCopiesOp::create(hb, hl, ring, i);
  };
  return buildTileLoads(ob, loc, ring, tmapA, row, rowEnd, 128, tmapB, bRows,
                        slices, iter, streamWeights, tile, kTileKFp8,
                        /*boxPerTile=*/false, /*bTile=*/1,
                        /*bRowBytes=*/kTileKFp8 / 2, /*bPacked=*/false,
                        /*aTile=*/0, /*aRowBytes=*/kSliceBytes, leader, scales,
                        bBoxRows);
}

namespace {

/// The grouped matmul of MXFP8 rows by MXFP4 weights on sm_100a
/// (DeepGEMM's Blackwell formats; isMxfp8Mxfp4), in the single-issuer
/// shape with the tensor cores applying both operands' UE8M0 scales:
/// 128 x 128 tiles, one 128-wide K block a stage of [rows 128 x 128 e4m3
/// (128B swizzle), weights 128 x 128 i8 (e2m1 in tcgen05's padded form:
/// TMA's 16U4_ALIGN16B, fp4_padded), the rows' scales, the weights'
/// scales (512 bytes each, tcgen05.cp's layout)].
///  * producer warp (warp 0 of warpgroup 0, all lanes): tiles from the
///    dynamic scheduler (moek.fetch_add {warp}); per stage lane 0 tags it,
///    expects its bytes and issues the TMA copies, then every lane copies
///    its share of the rows' and the weights' scales (moek.stage_scales,
///    cp.async) and arrives once they land (moek.ring_arrive_copies): the
///    full barrier counts 1 + 32 arrivals;
///  * MMA issuer (lane 0 of warp 1): per stage, both scale blocks into the
///    stage's tensor-memory columns and four block-scaled MMAs (moek.mma_tmem
///    {a_scales, b_scales}) into one of two 128 x 128 accumulators;
///  * epilogue (warpgroups 1 and 2): 64 columns each, as the bf16 kernel.
/// No promotion: the accumulator holds the product of the dequantized
/// operands.
LLVM::LLVMFuncOp buildBlockScaledKernel(OpBuilder &b, Location loc,
                                        StringRef name, ExpertMatmulOp op,
                                        const KernelConfig &config) {
  MLIRContext *ctx = b.getContext();
  constexpr int64_t kTile = 128;
  RankedTensorType w = op.getWeight().getType();
  int64_t e = w.getDimSize(0), n = w.getDimSize(1), k = w.getDimSize(2);
  Type outElem = op.getOut().getType().getElementType();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  // TMA descriptors of the rows and weights, offsets, the rows' and the
  // weights' scales, output, workspace (the tile counter).
  SmallVector<Type> params{ptr, ptr, gptr, gptr, gptr, gptr, gptr};
  auto func = createKernelFunc(
      b, loc, name, params, /*numTma=*/2,
      buildAbi(b, e, n, k, kTileKFp8, /*scaled=*/false, /*fp4=*/false,
               /*globalScale=*/false, /*mxfp8=*/true,
               /*blockScaledFp4=*/true),
      {b.getNamedAttr("bytes", b.getI64IntegerAttr(256)),
       b.getNamedAttr("zero_bytes", b.getI64IntegerAttr(16))});
  Block *entry = func.addEntryBlock(b);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Value tmapX = entry->getArgument(0), tmapW = entry->getArgument(1);
  Value offsets = entry->getArgument(2), xs = entry->getArgument(3),
        ws = entry->getArgument(4), out = entry->getArgument(5),
        nextTile = entry->getArgument(6);
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  Value ring = allocBlockScaledRing(b, loc, config.stages);
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(kTile),
              colTiles = b.getI64IntegerAttr(n / kTile);
  Value numTiles = mk::GroupedTileCountOp::create(
      b, loc, b.getIndexType(), offsets, numE, tileRows, colTiles);
  auto decode = [&](OpBuilder &ob, Value t) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE, tileRows,
                                     colTiles,
                                     ob.getI64IntegerAttr(config.rowGroup));
  };
  Value cKBlocks = idx(b, k / kTileKFp8);

  // Producer warp.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, 56);
    Value leader = beginProducerThreads(b, loc, /*warp=*/true);
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, numTiles, /*producer=*/true,
        [&](OpBuilder &ob, Value t, Value iter) {
          auto d = decode(ob, t);
          Value wRow = arith::AddIOp::create(
              ob, loc,
              arith::MulIOp::create(ob, loc, d.getExpert(), idx(ob, n)),
              arith::MulIOp::create(ob, loc, d.getColTile(), idx(ob, kTile)));
          return buildBlockScaledTileLoads(
              ob, loc, ring, leader, t, iter, tmapX, xs, d.getRow(),
              d.getRowEnd(), tmapW, ws, {wRow}, kWBoxRows, /*bUpper=*/false,
              e * n, k, cKBlocks, config.streamWeights);
        },
        /*producerWarp=*/true);
    buildStopMark(b, loc, ring, last, numTiles, leader);
  }
  buildSingleIssuerRoles(b, loc, ring, numTiles, cKBlocks, kTile, out, outElem,
                         n, decode, /*blockScales=*/true);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

} // namespace

LLVM::LLVMFuncOp buildKernel(OpBuilder &b, Location loc, StringRef name,
                             ExpertMatmulOp op, const KernelConfig &config) {
  if (isMxfp8Mxfp4(op))
    return buildBlockScaledKernel(b, loc, name, op, config);
  int64_t stages = config.stages, kTileN = config.tileN, kTileM = config.tileM;
  MLIRContext *ctx = b.getContext();
  RankedTensorType w = op.getWeight().getType();
  int64_t e = w.getDimSize(0), n = w.getDimSize(1), k = w.getDimSize(2);
  Type outElem = op.getOut().getType().getElementType();

  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  bool scaled = isFp8Block(op);
  // MXFP4 weights: copied packed into tile 2 of each stage, expanded into
  // tile 1 by the MMA warpgroups (moek.dequant_fp4) before their MMAs.
  bool fp4 = isMxfp4Weights(op), nvfp4 = isNvfp4Weights(op);
  bool globalScale = nvfp4 && op.getWGlobalScale();
  // MXFP8 rows and weights: copied as e4m3 into tiles 3 and 2, both
  // expanded to bf16 (tiles 0 and 1) by the MMA warpgroups
  // (moek.dequant_mxfp8) before their MMAs.
  bool mxfp8 = isMxfp8(op);
  int64_t sliceK = scaled ? kTileKFp8 : kTileK;
  // The bf16 cooperative kernels store their rows by TMA through shared
  // memory (moek.store_acc_tma, over a third descriptor, the output's):
  // what the 227 KB leave after the stages, 1 KB of alignment and the
  // static shared memory (a prefix sum of 4 bytes an expert and the
  // barriers) holds two 8 KB staging halves a warpgroup (32 KB: four 48 KB
  // stages) or one (16 KB: the 192-row variant's five 40 KB stages).
  // Every bf16 kernel of the family takes the descriptor (a kernel's
  // variants share one parameter ABI); the others ignore it.
  bool outTma = !scaled && !fp4 && !mxfp8 && outElem.isBF16() && n % 8 == 0;
  int64_t stageBytes = (kTileM + kTileN) * sliceK * 2;
  int64_t stagingHalves =
      stagingHalvesBeside(stages * stageBytes + 1024 + 4 * (e + 1) + 256);
  bool storeTma = outTma && !config.pingpong && !config.singleIssuer &&
                  !config.ctaPair && kTileN % 128 == 0 && stagingHalves > 0;
  // The transposed product: bf16 operands and output, no bias (per
  // weight row there), stored by TMA; 64 weight rows a warpgroup.
  bool transposed = config.transposed && storeTma && !op.getBias() &&
                    !config.clusterCols && kTileN == 128 && kTileM == 192;
  // TMA descriptors of the rows and weights[, of the output], offsets,
  // [row scales, weight scales | FP4 weight scales[, NVFP4 global
  // scales],] output, workspace.
  SmallVector<Type> params{ptr, ptr};
  if (outTma)
    params.push_back(ptr);
  params.append({gptr, gptr, gptr});
  if (scaled || mxfp8)
    params.append({gptr, gptr});
  if (fp4)
    params.push_back(gptr);
  if (globalScale)
    params.push_back(gptr);
  // A per-expert bias: the launch's operand after the scales.
  bool bias = bool(op.getBias());
  int64_t biasOperand = 3 + (scaled || mxfp8 ? 2 : 0) + fp4 + globalScale;
  if (bias)
    params.push_back(gptr);
  ArrayAttr abi =
      buildAbi(b, e, n, k, sliceK, scaled, fp4, globalScale, mxfp8,
               /*blockScaledFp4=*/false, outTma, bias ? biasOperand : -1);
  unsigned numTma = outTma ? 3 : 2;
  // Workspace: the tile counter in its first 16 bytes, zeroed before each
  // launch.
  auto func =
      createKernelFunc(b, loc, name, params, numTma, abi,
                       {b.getNamedAttr("bytes", b.getI64IntegerAttr(256)),
                        b.getNamedAttr("zero_bytes", b.getI64IntegerAttr(16))});

  // CTA pairs and shared rings run in clusters of two.
  if (config.ctaPair || config.clusterCols) {
    NamedAttrList launch(func->getAttrOfType<DictionaryAttr>("moek.launch"));
    launch.set("cluster", b.getI64IntegerAttr(2));
    func->setAttr("moek.launch", launch.getDictionary(ctx));
  }
  Block *entry = func.addEntryBlock(b);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Value tmapX = entry->getArgument(0), tmapW = entry->getArgument(1),
        tmapOut = outTma ? entry->getArgument(2) : Value();
  // Argument n after the descriptors (the offsets are 0).
  auto arg = [&](unsigned i) { return entry->getArgument(numTma + i); };
  Value offsets = arg(0);
  unsigned outArg = scaled || mxfp8 || globalScale ? 3 : fp4 ? 2 : 1;
  Value biasArg = bias ? arg(outArg) : Value();
  outArg += bias;
  Value out = arg(outArg);
  Value nextTile = arg(outArg + 1);
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value c0 = idx(0), cTileN = idx(kTileN);
  Value cN = idx(n), cKSlices = idx(k / sliceK);
  // Block-scaled: N and K blocks of the weight scales.
  Value cNBlocks = idx(n / 128), cKBlocks = idx(k / 128);

  if (config.ctaPair) {
    buildCtaPairRoles(b, loc, tmapX, tmapW, offsets, out, outElem, e, n, k,
                      stages, config.rowGroup, config.streamWeights);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }
  Type tileElem =
      scaled ? Type(b.getType<Float8E4M3FNType>()) : b.getBF16Type();
  auto tile = [&](int64_t rows) {
    return MemRefType::get({rows, sliceK}, tileElem, AffineMap(),
                           b.getI64IntegerAttr(3));
  };
  SmallVector<Type> tiles{tile(kTileM), tile(kTileN)};
  if (fp4)
    tiles.push_back(MemRefType::get({kTileN, sliceK},
                                    b.getType<Float4E2M1FNType>(), AffineMap(),
                                    b.getI64IntegerAttr(3)));
  if (mxfp8)
    for (int64_t rows : {kTileN, kTileM})
      tiles.push_back(MemRefType::get({rows, sliceK},
                                      b.getType<Float8E4M3FNType>(),
                                      AffineMap(), b.getI64IntegerAttr(3)));
  auto ringType = mk::RingType::get(ctx, stages, tiles);
  // The transposed product's accumulators: 64 weight rows by the tile's
  // tokens.
  auto accType =
      mk::AccType::get(ctx, 64, transposed ? kTileM : kTileN, b.getF32Type());
  // One ring. Cooperative: both MMA warpgroups read and release every
  // stage (256 arrivals); pingpong: the warpgroup of the stage's tile (128).
  // Single issuer: the MMAs' commit frees each stage (1).
  auto ringAlloc =
      mk::RingAllocOp::create(b, loc, ringType,
                              b.getI64IntegerAttr(config.singleIssuer ? 1
                                                  : config.pingpong   ? 128
                                                                      : 256));
  if (config.clusterCols)
    ringAlloc.setCluster(2);
  Value ring = ringAlloc;
  Value outStaging = storeTma ? allocStaging(b, loc, stagingHalves) : Value();

  // Clusters of two CTAs on column tiles: the scheduler's tiles are pairs
  // of column tiles, CTA r of the cluster taking column tile 2 c + r of
  // pair c. With an odd number of column tiles, the last pair's second is
  // the last column tile again: both CTAs compute it and store the same
  // values (a branch or a select on the rank around the stores instead
  // makes ptxas serialize the wgmmas).
  bool clusterCols = config.clusterCols;
  int64_t nColTiles = llvm::divideCeil(n, kTileN);
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(kTileM),
              colTiles = b.getI64IntegerAttr(
                  clusterCols ? llvm::divideCeil(nColTiles, 2) : nColTiles);
  Value numTiles = mk::GroupedTileCountOp::create(
      b, loc, b.getIndexType(), offsets, numE, tileRows, colTiles);
  Value bid = mk::BlockIdOp::create(b, loc, b.getIndexType());
  Value grid = mk::GridSizeOp::create(b, loc, b.getIndexType());
  Value rank = clusterCols ? mk::ClusterRankOp::create(b, loc, b.getIndexType())
                           : Value();
  // The tile's column tile.
  auto colTileOf = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    if (!clusterCols)
      return d.getColTile();
    Value c = arith::AddIOp::create(
        ob, loc,
        arith::MulIOp::create(ob, loc, d.getColTile(),
                              arith::ConstantIndexOp::create(ob, loc, 2)),
        rank);
    if (nColTiles % 2)
      c = arith::MinUIOp::create(
          ob, loc, c, arith::ConstantIndexOp::create(ob, loc, nColTiles - 1));
    return c;
  };
  auto decode = [&](OpBuilder &ob, Value t) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE, tileRows,
                                     colTiles,
                                     ob.getI64IntegerAttr(config.rowGroup));
  };

  // Producer: warpgroup 0, one thread issues every copy. The block-scaled
  // single-issuer kernel's MMA issuer shares the warpgroup: with 40 to 64
  // registers ptxas spilled (64 bytes; K = 128 with 64), with 72 not; 80
  // (and 192 for the epilogue: 128 x 80 + 256 x 192 <= 64K) for a margin.
  bool wideProducer = config.singleIssuer && scaled;
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, wideProducer ? 80 : 40);
    Value leader = mk::ElectOneOp::create(b, loc, b.getI1Type());
    auto ifOp = scf::IfOp::create(b, loc, leader, false);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    // Loads the K slices of one tile into the ring from iteration `i0`;
    // returns the iteration after the last.
    auto loadTile = [&](OpBuilder &ob, Location l, Value i0,
                        mk::GroupedTileOp d, Value tag) -> Value {
      Value wrow = arith::AddIOp::create(
          ob, l, arith::MulIOp::create(ob, l, d.getExpert(), cN),
          arith::MulIOp::create(ob, l, colTileOf(ob, d), cTileN));
      // The weights in boxes of 128 rows (two for 256-wide tiles), so that
      // every tile shape uses the same TMA descriptors.
      SmallVector<Value> wRows;
      for (int64_t box = 0; box < kTileN / kWBoxRows; ++box)
        wRows.push_back(arith::AddIOp::create(
            ob, l, wrow,
            arith::ConstantIndexOp::create(ob, l, box * kWBoxRows)));
      return buildTileLoads(ob, l, ring, tmapX, d.getRow(), d.getRowEnd(),
                            kTileM, tmapW, wRows, cKSlices, i0,
                            config.streamWeights, tag, sliceK,
                            /*boxPerTile=*/false, fp4 || mxfp8 ? 2 : 1,
                            fp4     ? sliceK / 2
                            : mxfp8 ? sliceK
                                    : kSliceBytes,
                            fp4, /*aTile=*/mxfp8 ? 3 : 0,
                            /*aRowBytes=*/mxfp8 ? sliceK : kSliceBytes,
                            /*leader=*/Value(), /*stageHook=*/nullptr,
                            kWBoxRows, /*shareRank=*/rank);
    };
    if (clusterCols) {
      // The cluster's pairs in a static order (both CTAs take the same
      // ones), each stage tagged with its pair; then the stop mark.
      Value cluster = arith::DivUIOp::create(b, loc, bid, idx(2));
      Value clusters = arith::DivUIOp::create(b, loc, grid, idx(2));
      auto loop = scf::ForOp::create(
          b, loc, cluster, numTiles, clusters, ValueRange{c0},
          [&](OpBuilder &ob, Location l, Value t, ValueRange it) {
            Value end = loadTile(ob, l, it[0], decode(ob, t), t);
            scf::YieldOp::create(ob, l, ValueRange{end});
          });
      buildStopMark(b, loc, ring, loop.getResult(0), numTiles);
    } else if (config.pingpong) {
      // Every tile's K slices, in the CTA's static tile order (the MMA
      // warpgroups alternate tiles), into the one ring.
      scf::ForOp::create(
          b, loc, bid, numTiles, grid, ValueRange{c0},
          [&](OpBuilder &ob, Location l, Value t, ValueRange it) {
            Value end = loadTile(ob, l, it[0], decode(ob, t), Value());
            scf::YieldOp::create(ob, l, ValueRange{end});
          });
    } else {
      // Tiles from the dynamic scheduler, each stage tagged with its tile.
      Value last = buildScheduledTiles(
          b, loc, ring, nextTile, numTiles, /*producer=*/true,
          [&](OpBuilder &ob, Value t, Value iter) {
            return loadTile(ob, loc, iter, decode(ob, t), t);
          });
      buildStopMark(b, loc, ring, last, numTiles);
    }
  }

  if (config.singleIssuer && scaled) {
    buildScaledSingleIssuerRoles(
        b, loc, ring, numTiles, cKSlices, entry->getArgument(3),
        entry->getArgument(4), n / 128, k / kTileKFp8, out, outElem, n, decode);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }
  if (config.singleIssuer) {
    buildSingleIssuerRoles(b, loc, ring, numTiles, cKSlices, kTileN, out,
                           outElem, n, decode,
                           /*blockScales=*/false, biasArg,
                           bias ? biasElementType(op.getBias()) : Type());
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }
  if (config.pingpong) {
    buildPingpongConsumers(b, loc, ring, accType, out, outElem, n, numTiles,
                           bid, grid, cKSlices, cTileN, decode,
                           config.pipelineMma);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }
  // Consumers: warpgroups 1 and 2, half of each tile's rows each.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "consumer", 1, 2, 232);
    Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
    // 192-row tiles: two 64-row accumulators a warpgroup too, the second
    // warpgroup's second past the tile (never active: the tile's row
    // limit below ends at its 192nd row).
    unsigned numAccs = kTileM == 192 ? 2 : kTileM / 128;
    Value aRow = arith::MulIOp::create(b, loc, wg,
                                       idx(kTileM == 192 ? 128 : kTileM / 2));
    Value wgStaging, storeBarrier;
    if (storeTma)
      std::tie(wgStaging, storeBarrier) =
          warpgroupStaging(b, loc, outStaging, wg, stagingHalves);
    Value second =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, idx(1));
    if (scaled)
      beginTurns(b, loc, second);
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, numTiles, /*producer=*/false,
        [&](OpBuilder &ob, Value t, Value iter) {
          Location l = loc;
          auto d = decode(ob, t);
          Value row = arith::AddIOp::create(ob, l, d.getRow(), aRow);
          Value col = arith::MulIOp::create(ob, l, colTileOf(ob, d), cTileN);
          if (scaled) {
            // One 64-row accumulator per warpgroup (128 x 128 tiles); a
            // warpgroup without rows only passes the stages.
            TileScales ts;
            ts.xs = entry->getArgument(3);
            ts.ws = entry->getArgument(4);
            ts.kBlocks = k / kTileKFp8;
            // ws[e][col / 128][0]: the tile's 128 columns are one N block.
            ts.wsBase = arith::MulIOp::create(
                ob, l,
                arith::AddIOp::create(
                    ob, l,
                    arith::MulIOp::create(ob, l, d.getExpert(), cNBlocks),
                    d.getColTile()),
                cKBlocks);
            Value active = arith::CmpIOp::create(
                ob, l, arith::CmpIPredicate::ult, row, d.getRowEnd());
            SmallVector<Type> types{accType, ob.getIndexType()};
            // One copy per warpgroup: the turns' barriers are constants.
            auto perWg = scf::IfOp::create(ob, l, types, second, true);
            for (int64_t w = 0; w < 2; ++w) {
              OpBuilder wb = OpBuilder::atBlockEnd(w == 0 ? perWg.elseBlock()
                                                          : perWg.thenBlock());
              auto ifOp = scf::IfOp::create(wb, l, types, active, true);
              {
                OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
                auto [acc, next] = buildScaledMmaLoop(
                    tb, l, ring, accType, aRow, row, d.getRowEnd(), ts,
                    cKSlices, iter, /*bTile=*/1, turnsOf(w));
                scf::YieldOp::create(tb, l, ValueRange{acc, next});
              }
              {
                OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
                Value next =
                    buildPassLoop(eb, l, ring, cKSlices, iter, turnsOf(w));
                scf::YieldOp::create(
                    eb, l,
                    ValueRange{mk::MmaZeroOp::create(eb, l, accType), next});
              }
              scf::YieldOp::create(wb, l, ifOp.getResults());
            }
            SmallVector<Value> accs{perWg.getResult(0)};
            addBias(ob, l, accs, biasArg, op.getBias(), d.getExpert(), col,
                    Value(), n % kTileN == 0);
            storeAccs(ob, l, accs, out, row, col, d.getRowEnd(), outElem, n);
            return perWg.getResult(1);
          }
          // FP4: both warpgroups expand each stage's weights (tile 2 into
          // tile 1, half the chunks each) before either's MMAs; named
          // barrier 7 joins them. NVFP4: 16-value blocks of e4m3 scales.
          Value wRow =
              fp4 || mxfp8
                  ? arith::AddIOp::create(
                        ob, l, arith::MulIOp::create(ob, l, d.getExpert(), cN),
                        col)
                  : Value();
          Value scales = fp4 ? entry->getArgument(3) : Value();
          auto dequant = [&](OpBuilder &hb, Location hl, Value i, Value ks) {
            expandFp4Weights(hb, hl, ring, i, ks, scales, wRow, Value(), e * n,
                             k, nvfp4);
          };
          // MXFP8: both warpgroups expand the stage's rows (tile 3 into 0,
          // scales from the tile's first row, those of rows past the
          // expert's end clamped to its last) and weights (tile 2 into 1),
          // each followed by named barrier 7 over both.
          Value rowEnd = d.getRowEnd();
          auto dequantMxfp8 = [&](OpBuilder &hb, Location hl, Value i,
                                  Value ks) {
            Value kb = arith::MulIOp::create(
                hb, hl, ks, arith::ConstantIndexOp::create(hb, hl, 2));
            auto expand = [&](int64_t from, int64_t to, Value scalesArg,
                              Value first, Value limit) {
              mk::DequantMxfp8Op::create(
                  hb, hl, ring, i, hb.getI64IntegerAttr(from),
                  hb.getI64IntegerAttr(to), scalesArg, first, kb, limit,
                  /*upper_row=*/Value(), hb.getI64IntegerAttr(k / 32),
                  hb.getI64IntegerAttr(256), hb.getI64IntegerAttr(128),
                  hb.getI64IntegerAttr(7));
            };
            expand(3, 0, entry->getArgument(3), d.getRow(), rowEnd);
            expand(2, 1, entry->getArgument(4), wRow,
                   arith::ConstantIndexOp::create(hb, hl, e * n));
          };
          StageHook hook;
          if (fp4)
            hook = dequant;
          if (mxfp8)
            hook = dequantMxfp8;
          // 64-row accumulators past the expert's last row issue no MMAs
          // (in the last row block of an expert), so the other warpgroup
          // gets the tensor cores to itself.
          Value tileEnd =
              kTileM == 192
                  ? arith::MinUIOp::create(
                        ob, l, rowEnd,
                        arith::AddIOp::create(
                            ob, l, d.getRow(),
                            arith::ConstantIndexOp::create(ob, l, kTileM)))
                  : rowEnd;
          if (transposed) {
            // The transposed product: warpgroup w's 64 weight rows (tile 1
            // from row 64 w) by the tile's tokens (tile 0), over the first
            // N of them, N the tokens rounded up to kTransposedStep (one K
            // loop per N, chosen per tile); stored transposed.
            Value rows = arith::SubIOp::create(ob, l, tileEnd, d.getRow());
            Value wRow = arith::MulIOp::create(ob, l, wg, idx(64));
            // The K loop over the first `cols` tokens (all: no cols).
            auto loopOver = [&](OpBuilder &cb,
                                int64_t cols) -> std::pair<Value, Value> {
              auto [accs, next] = buildMmaLoop(
                  cb, l, ring, accType, {wRow}, cKSlices, iter,
                  config.pipelineMma, nullptr, cols < kTileM ? cols : 0,
                  /*aTile=*/1, /*bTile=*/0);
              return {accs[0], next};
            };
            std::function<std::pair<Value, Value>(OpBuilder &, int64_t)>
                chooseN = [&](OpBuilder &cb,
                              int64_t cols) -> std::pair<Value, Value> {
              if (cols >= kTileM)
                return loopOver(cb, cols);
              Value fits = arith::CmpIOp::create(
                  cb, l, arith::CmpIPredicate::ule, rows,
                  arith::ConstantIndexOp::create(cb, l, cols));
              auto ifOp = scf::IfOp::create(
                  cb, l, TypeRange{accType, cb.getIndexType()}, fits, true);
              {
                OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
                auto [acc, next] = loopOver(tb, cols);
                scf::YieldOp::create(tb, l, ValueRange{acc, next});
              }
              {
                OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
                auto [acc, next] = chooseN(eb, cols + kTransposedStep);
                scf::YieldOp::create(eb, l, ValueRange{acc, next});
              }
              return {ifOp.getResult(0), ifOp.getResult(1)};
            };
            auto mmasAndStore = [&](OpBuilder &cb) -> Value {
              auto [acc, next] = chooseN(cb, kTransposedStep);
              mk::StoreAccTmaOp::create(
                  cb, l, acc, tmapOut, wgStaging, out, d.getRow(),
                  arith::AddIOp::create(cb, l, col, wRow), tileEnd,
                  storeBarrier, cb.getI64IntegerAttr(stagingHalves),
                  cb.getI64IntegerAttr(n), /*transposed=*/cb.getUnitAttr());
              return next;
            };
            // Where the last column tile holds at most 64 weight rows (N =
            // 2880: 64 of 128), the second warpgroup's are all past N: it
            // only passes the stages and stores nothing (the transposed
            // product's form of narrow-tiles, off with it).
            if (!config.narrowTiles || n % kTileN == 0 || n % kTileN > 64)
              return mmasAndStore(ob);
            Value active = arith::CmpIOp::create(
                ob, l, arith::CmpIPredicate::ult,
                arith::AddIOp::create(ob, l, col, wRow), idx(n));
            auto ifOp =
                scf::IfOp::create(ob, l, TypeRange{ob.getIndexType()}, active,
                                  /*withElseRegion=*/true);
            {
              OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
              scf::YieldOp::create(tb, l, mmasAndStore(tb));
            }
            {
              OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
              scf::YieldOp::create(eb, l,
                                   buildPassLoop(eb, l, ring, cKSlices, iter));
            }
            return ifOp.getResult(0);
          }
          // The last column tile of an output narrower than the column
          // tiles: MMAs only over its first columns.
          NarrowTile narrow =
              narrowLastTile(ob, l, colTileOf(ob, d), nColTiles,
                             config.narrowTiles ? n % kTileN : 0);
          auto [accs, next] =
              buildTileMmas(ob, l, ring, accType, aRow, row, tileEnd, numAccs,
                            cKSlices, iter, config.pipelineMma, hook, narrow);
          // NVFP4: the expert's global scale, once per tile; the bias.
          scaleAndAddBias(ob, l, accs,
                          globalScale ? entry->getArgument(4) : Value(),
                          biasArg, op.getBias(), d.getExpert(), col, Value(),
                          n % kTileN == 0);
          if (storeTma)
            for (auto [a, acc] : llvm::enumerate(accs))
              mk::StoreAccTmaOp::create(
                  ob, l, acc, tmapOut, wgStaging, out, accRowOf(ob, l, row, a),
                  col, tileEnd, storeBarrier,
                  ob.getI64IntegerAttr(stagingHalves), ob.getI64IntegerAttr(n));
          else
            storeAccs(ob, l, accs, out, row, col, tileEnd, outElem, n);
          return next;
        });
    // The stop mark's stage.
    mk::RingReleaseOp::create(b, loc, ring, last);
    // The TMA stores complete before the kernel ends (their shared memory
    // read, their writes performed).
    if (storeTma)
      mk::StoreAccTmaWaitOp::create(b, loc);
    if (scaled)
      endTurns(b, loc, second);
  }
  // No CTA leaves while its peer may still copy into its ring or release
  // its stages.
  if (clusterCols)
    mk::ClusterSyncOp::create(b, loc);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

} // namespace mlir::moe::kernelgen
