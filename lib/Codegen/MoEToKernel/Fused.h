//===- Fused.h - The pieces both fused kernel files use ---------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What FusedMoE.cpp (the bf16 kernel) and FusedQuantized.cpp (the FP8 and
// MXFP8 kernels) share: the workspace and its phase timers, the per-GEMM
// branch, the ABI, expert parallelism, and the tensor-memory roles of the
// single-issuer kernels.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_CODEGEN_MOETOKERNEL_FUSED_H
#define MOE_LIB_CODEGEN_MOETOKERNEL_FUSED_H

#include "Common.h"

namespace mlir::moe::kernelgen {

/// Byte layout of the fused kernel's workspace, sized for `maxRows` =
/// max_tokens * top_k routed rows. The counters come first: the runtime
/// zeroes [0, zeroBytes) before each launch.
struct FusedWorkspace {
  /// The grid barrier's counter and the dynamic scheduler's next tile share
  /// the first 64 bytes.
  int64_t barrier = 0, nextTile = 32, counts, cursor, ready, zeroBytes, offsets,
          slotRows, rowWeights, rows, act, y, bytes;
  int64_t readyCount;
  /// fp8: routed rows and activations in e4m3 with their 1x128 scales,
  /// readiness counters per 64-row block (the FP8 kernel's tiles).
  int64_t rowScales = -1, actScales = -1;
  /// Expert parallelism over `ranks` > 1 (docs/ExpertParallel.md): `e` is
  /// the global expert count, `localExperts` this rank's; `maxRows` the
  /// rows this rank may receive (ranks * max_tokens * top_k), of which
  /// maxRows / ranks are its own slots. The part from `bases` (the table of
  /// every rank's buffer) on is the rank's share of the symmetric buffer,
  /// which the runtime never zeroes:
  /// the other ranks write its counters, count matrix and rows.
  int64_t bases = -1, counted = -1, rowsDone = -1, combined = -1,
          countMatrix = -1, rowSlots = -1, rowRanks = -1;
  /// The dispatch's block-wise readiness (moek.dispatch rows_ready,
  /// offsets_ready): a counter per row block like `ready`, and a flag;
  /// with expert parallelism (moek.ep_dispatch seg_ready) the flag, and in
  /// the symmetric part a u64 counter per (local expert, source rank) that
  /// the sources add to, and what it had reached before this launch
  /// (`segBase`, written by this rank only).
  int64_t rowsReady = -1, offsetsReady = -1, segReady = -1, segBase = -1;
  FusedWorkspace(int64_t e, int64_t h, int64_t i, int64_t maxRows,
                 int64_t yBytes, bool withTimers, bool fp8 = false,
                 int64_t ranks = 1, int64_t localExperts = 0,
                 bool blockReadiness = false) {
    auto take = [&](int64_t &at, int64_t size, int64_t align) {
      at = llvm::alignTo(end, align);
      end = at + size;
    };
    bool ep = ranks > 1;
    int64_t el = ep ? localExperts : e, slots = maxRows / ranks;
    end = 64; // the grid barrier's counter
    take(counts, 4 * e, 16);
    take(cursor, 4 * e, 16);
    // One counter per row block of every expert: block m of expert e is
    // counter offsets[e] / R + m + e (R = 128 rows, 64 for fp8), which
    // stays below this.
    readyCount = maxRows / (fp8 ? 64 : 128) + el + 1;
    take(ready, 4 * readyCount, 16);
    if (blockReadiness) {
      if (!ep)
        take(rowsReady, 4 * readyCount, 16);
      take(offsetsReady, 4, 16);
    }
    zeroBytes = llvm::alignTo(end, 16);
    take(offsets, 4 * (el + 1), 16);
    take(slotRows, 4 * slots, 16);
    if (ep) {
      take(bases, 8 * 8, 64);
      take(counted, 64, 64);
      rowsDone = counted + 8;
      combined = counted + 16;
      take(countMatrix, 4 * ranks * e, 16);
      if (blockReadiness) {
        take(segReady, 8 * el * ranks, 64);
        take(segBase, 8 * el * ranks, 64);
      }
      take(rowSlots, 4 * maxRows, 16);
      take(rowRanks, 4 * maxRows, 16);
    }
    take(rowWeights, 4 * maxRows, 16);
    int64_t elemBytes = fp8 ? 1 : 2;
    take(rows, elemBytes * maxRows * h, 1024);
    take(act, elemBytes * maxRows * i, 1024);
    if (fp8) {
      take(rowScales, 4 * maxRows * (h / 128), 16);
      take(actScales, 4 * maxRows * (i / 128), 16);
    }
    take(y, yBytes * slots * h, 1024);
    if (withTimers) {
      take(timers, 8 * kTimerSlots * kMaxTimedCtas, 1024);
      take(trace, 8 * kTraceWords * kMaxTracedTiles, 1024);
    }
    bytes = llvm::alignTo(end, 1024);
  }
  /// Phase timers (pass option phase-timers): u64 nanoseconds at
  /// timers[cta * kTimerSlots + slot]; see buildFusedKernel. Right after
  /// them (at a 1024-byte boundary: 128 KB on) the per-tile trace,
  /// trace[tile * kTraceWords + word] (PhaseTimers::traceTile).
  static constexpr int64_t kTimerSlots = 16, kMaxTimedCtas = 1024,
                           kTraceWords = 4, kMaxTracedTiles = 65536;
  int64_t timers = -1, trace = -1;

private:
  int64_t end = 0;
};

/// A fused kernel's workspace attributes (moek.workspace of its entry): its
/// bytes, the bytes zeroed before each launch, the token bound and, with
/// phase timers, their offset.
SmallVector<NamedAttribute>
fusedWorkspaceAttrs(OpBuilder &b, const FusedWorkspace &ws, int64_t maxTokens);

/// 1 (index) if tile `t` is one of GEMM1's (below `n1`), else 0: the tag
/// of PhaseTimers::traceTile.
Value isGemm1Tag(OpBuilder &b, Location loc, Value t, Value n1);

/// A fused kernel's phase timers (pass option phase-timers): slot `slot`
/// of this CTA, written by one lane of each warp that runs stamp() (where
/// `extra` holds): 0 start, 1 dispatch done, 2 producer done, 3 MMA tiles
/// done, 4 past the last grid barrier, 5 combine done. The sm_90a
/// kernels' first MMA warpgroup also sums its tiles' parts (`mode` "sub" at
/// a part's start, "add" at its end, moek.timestamp): 6 waiting for a
/// tile's first stage, 7 the tile's prologue (FP8: decode, scales), 8 its
/// K loop, 9 its epilogue; 10 counts its tiles; of GEMM1's tiles, 11 counts
/// them, 12 sums their whole time, 13 the up accumulator's exchange (FP8),
/// 14 the activation's store and 15 the readiness signal. No timers:
/// stamp() builds nothing.
struct PhaseTimers {
  Value timers, ctaId, trace;
  /// A builder inside `if (elect_one && extra && more)` (`extra` and
  /// `more` where given): the one thread of the warpgroup that stamps.
  static OpBuilder onStampingThread(OpBuilder &ob, Location loc, Value extra,
                                    Value more = Value()) {
    Value cond = mk::ElectOneOp::create(ob, loc, ob.getI1Type());
    for (Value c : {extra, more})
      if (c)
        cond = arith::AndIOp::create(ob, loc, cond, c);
    auto ifOp = scf::IfOp::create(ob, loc, cond, false);
    return OpBuilder::atBlockTerminator(ifOp.thenBlock());
  }
  void stamp(OpBuilder &ob, Location loc, int64_t slot, Value extra = Value(),
             StringRef mode = "store") const {
    if (!timers)
      return;
    OpBuilder tb = onStampingThread(ob, loc, extra);
    Value index = arith::AddIOp::create(
        tb, loc,
        arith::MulIOp::create(tb, loc, ctaId,
                              arith::ConstantIndexOp::create(
                                  tb, loc, FusedWorkspace::kTimerSlots)),
        arith::ConstantIndexOp::create(tb, loc, slot));
    mk::TimestampOp::create(tb, loc, timers, index, mode);
  }
  /// The per-tile trace, for tile indices below kMaxTracedTiles: word
  /// `word` of tile `tile` gets the clock (where `extra` holds): 0 when the
  /// producer starts the tile's loads, 1 when the first MMA warpgroup has
  /// the tile's first stage (its wait done), 2 when it is done with the
  /// tile; with `tag` (the first MMA warpgroup, word 1), word 3 gets 2 x
  /// the CTA's index + `tag` (1 for a GEMM1 tile), so that each wait can
  /// be set against the same warpgroup's previous tile.
  void traceTile(OpBuilder &ob, Location loc, Value tile, int64_t word,
                 Value extra = Value(), Value tag = Value()) const {
    if (!trace)
      return;
    auto idx = [&](OpBuilder &b, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    OpBuilder tb = onStampingThread(
        ob, loc, extra,
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult, tile,
                              idx(ob, FusedWorkspace::kMaxTracedTiles)));
    Value base = arith::MulIOp::create(tb, loc, tile,
                                       idx(tb, FusedWorkspace::kTraceWords));
    mk::TimestampOp::create(tb, loc, trace,
                            arith::AddIOp::create(tb, loc, base, idx(tb, word)),
                            "store");
    if (!tag)
      return;
    Value value = arith::AddIOp::create(
        tb, loc, arith::MulIOp::create(tb, loc, ctaId, idx(tb, 2)), tag);
    Value at = arith::IndexCastUIOp::create(
        tb, loc, tb.getI64Type(),
        arith::AddIOp::create(tb, loc, base, idx(tb, 3)));
    LLVM::StoreOp::create(
        tb, loc, arith::IndexCastUIOp::create(tb, loc, tb.getI64Type(), value),
        LLVM::GEPOp::create(tb, loc, trace.getType(), tb.getI64Type(), trace,
                            ValueRange{at}));
  }
  /// The end of part `from` and the start of part `to` (summed slots:
  /// "add" to `from`, "sub" from `to`).
  void turn(OpBuilder &ob, Location loc, int64_t from, int64_t to,
            Value extra) const {
    stamp(ob, loc, from, extra, "add");
    stamp(ob, loc, to, extra, "sub");
  }
};

/// The first rows, in w13 viewed as [E * 2I, H], of the two weight boxes
/// of `rows` rows each of GEMM1's column tile `colTile` of `expert`:
/// concatenated, the gate's rows of the column block, then the up's (I
/// further); interleaved, 2 * rows consecutive rows (`rows` gate/up pairs).
std::pair<Value, Value> gemm1WeightBoxes(OpBuilder &b, Location loc,
                                         Value expert, Value colTile, int64_t i,
                                         int64_t rows, bool interleaved);

/// A fused kernel's tile `t` of the one list: GEMM1's tile `t` if
/// t < n1, else GEMM2's tile t - n1, built by `gemm1` or `gemm2` in the
/// branches of an scf.if that yields the ring iteration they return.
Value buildPerGemm(OpBuilder &ob, Location l, Value t, Value n1,
                   function_ref<Value(OpBuilder &, Value)> gemm1,
                   function_ref<Value(OpBuilder &, Value)> gemm2);

/// The fused kernel's parameter ABI (see the pass description). `fp8`: the
/// FP8 kernel's, with e4m3 boxes 128 elements (128 bytes) wide, the routed
/// rows and activations in e4m3, and the weight scales (operands 5 and 6)
/// after the tensors. `yTma`: a fifth descriptor, over y (64 x 64 boxes).
ArrayAttr buildFusedAbi(OpBuilder &b, int64_t e, int64_t h, int64_t i,
                        int64_t maxRows, const FusedWorkspace &ws, bool fp8,
                        bool fp4 = false, int64_t globalScales = 0,
                        bool paddedFp4 = false, bool yTma = false,
                        ArrayRef<int64_t> biasOperands = {},
                        int64_t tailRows = 0);

/// Index constants made up front, where `b` is: `b` would put one made
/// while a nested builder fills a loop after that loop.
std::map<int64_t, Value> indexConstants(OpBuilder &b, Location loc,
                                        ArrayRef<int64_t> values);

/// The address of element `i` (index) of the `elem` array at `base`
/// (global memory).
Value globalElement(OpBuilder &b, Location loc, Value base, Type elem, Value i);

/// What expert parallelism adds to a fused kernel (docs/ExpertParallel.md):
/// four scalar parameters after the single-GPU ones (this rank, the epoch,
/// the waits' timeout and the wait record), the symmetric part of the
/// workspace, the dispatch to the experts' owners, GEMM2 rows stored back
/// into their source ranks, and the wait for every rank's results before
/// the combine. With one rank, all of it is the single-GPU kernel's.
struct ExpertParallel {
  int64_t ranks = 1, localExperts = 0;
  Value rank, epoch, timeoutNs, record, bases, combined, rowSlots, rowRanks,
      countMatrix, counted, rowsDone;
  /// Segment readiness (FusedWorkspace::segReady; null without).
  Value segReady, segBase;

  explicit ExpertParallel(FusedMoEOp op)
      : ranks(op.isPerRank() ? op.getPlacementAttr().getRanks() : 1),
        localExperts(op.getNumExperts()) {}
  bool enabled() const { return ranks > 1; }

  /// The parameters and ABI entries after the single-GPU ones.
  void extend(OpBuilder &b, SmallVectorImpl<Type> &params,
              ArrayAttr &abi) const {
    if (!enabled())
      return;
    params.append(
        {b.getI32Type(), b.getI64Type(), b.getI64Type(), b.getI64Type()});
    SmallVector<Attribute> entries(abi.getValue());
    for (auto [kind, scalar] : {std::pair<StringRef, StringRef>{"i32", "rank"},
                                {"i64", "epoch"},
                                {"i64", "timeout_ns"},
                                {"i64", "wait_record"}})
      entries.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("kind", b.getStringAttr(kind)),
           b.getNamedAttr("name", b.getStringAttr(scalar))}));
    abi = b.getArrayAttr(entries);
  }

  /// Records the workspace's symmetric layout for the artifact writer, and
  /// binds the parameters from `firstArg` on and the workspace parts.
  void bind(OpBuilder &b, Location loc, LLVM::LLVMFuncOp func,
            unsigned firstArg, const FusedWorkspace &ws,
            function_ref<Value(int64_t)> at) {
    if (!enabled())
      return;
    func->setAttr(
        "moek.expert_parallel",
        b.getDictionaryAttr(
            {b.getNamedAttr("ranks", b.getI64IntegerAttr(ranks)),
             b.getNamedAttr("experts_per_rank",
                            b.getI64IntegerAttr(localExperts)),
             // The symmetric part starts with the bases table.
             b.getNamedAttr("symmetric_offset", b.getI64IntegerAttr(ws.bases)),
             b.getNamedAttr("bases_offset", b.getI64IntegerAttr(ws.bases))}));
    Block &entry = func.getBody().front();
    rank = entry.getArgument(firstArg);
    epoch = entry.getArgument(firstArg + 1);
    timeoutNs = entry.getArgument(firstArg + 2);
    record = LLVM::IntToPtrOp::create(
        b, loc, LLVM::LLVMPointerType::get(b.getContext(), 1),
        entry.getArgument(firstArg + 3));
    bases = at(ws.bases);
    combined = at(ws.combined);
    counted = at(ws.counted);
    rowsDone = at(ws.rowsDone);
    countMatrix = at(ws.countMatrix);
    rowSlots = at(ws.rowSlots);
    rowRanks = at(ws.rowRanks);
    if (ws.segReady >= 0) {
      segReady = at(ws.segReady);
      segBase = at(ws.segBase);
    }
  }

  /// The dispatch (grid barriers 1 and 2): to the experts' owners, or the
  /// single-GPU one. `rowScales`: quantize the rows (FP8). `rowsReady` and
  /// `offsetsReady` (single GPU, bf16 rows): no grid barrier 2, the rows
  /// published block by block (moek.dispatch). `rowTokens` (single GPU):
  /// each row's token recorded there for moek.gather_rows; `rows` then
  /// null (bf16: nothing copied) or a row per token (FP8). `scalesStride`
  /// (single GPU, FP8): the scales block-major (moek.dispatch
  /// {scales_stride}).
  void dispatch(OpBuilder &b, Location loc, Value x, Value ids, Value weights,
                Value tokens, Value counts, Value cursor, Value offsets,
                Value slotRows, Value rowWeights, Value rows, Value barrier,
                Value rowScales, int64_t k, int64_t h, bool permuteK = false,
                bool mxRound = false, Value rowsReady = {},
                Value offsetsReady = {}, int64_t blockRows = 128,
                Value rowTokens = {}, int64_t scalesStride = 0) const {
    if (!enabled()) {
      auto op = mk::DispatchOp::create(
          b, loc, x, ids, weights, tokens, counts, cursor, offsets, slotRows,
          rowWeights, rows, rowTokens, barrier, rowScales, rowsReady,
          offsetsReady, b.getI64IntegerAttr(localExperts),
          b.getI64IntegerAttr(k), b.getI64IntegerAttr(h),
          b.getI64IntegerAttr(1));
      op.setPermuteK(permuteK);
      op.setMxRound(mxRound);
      if (rowsReady)
        op.setBlockRows(blockRows);
      if (scalesStride)
        op.setScalesStride(scalesStride);
      return;
    }
    assert(!mxRound && "the expert-parallel dispatch copies bf16 rows");
    assert(!scalesStride && "the expert-parallel dispatch's scales are "
                            "row-major");
    assert(!permuteK && "the expert-parallel dispatch keeps the K order");
    mk::EpDispatchOp::create(
        b, loc, x, ids, weights, tokens, counts, cursor, offsets, slotRows,
        barrier, countMatrix, counted, rowsDone, rows, rowWeights, rowSlots,
        rowRanks, bases, rank, epoch, timeoutNs, record, rowScales, segReady,
        segReady ? offsetsReady : Value(), b.getI64IntegerAttr(ranks),
        b.getI64IntegerAttr(localExperts), b.getI64IntegerAttr(k),
        b.getI64IntegerAttr(h), b.getI64IntegerAttr(1));
  }

  /// Readiness, by the producer before GEMM1 tile `d` of `tileRows` rows:
  /// with expert parallelism the source segments it overlaps (awaitRows),
  /// else its block's counter in `rowsReady` (index `blockIndex()`) until
  /// it holds the tile's rows, min(tileRows, end - row).
  void awaitTileRows(OpBuilder &b, Location loc, Value offsets, Value rowsReady,
                     mk::GroupedTileOp d, int64_t tileRows,
                     function_ref<Value()> blockIndex) const {
    if (enabled()) {
      awaitRows(b, loc, offsets, d.getExpert(), d.getRow(), d.getRowEnd(),
                tileRows);
      return;
    }
    Value rowsInTile = arith::SubIOp::create(
        b, loc,
        arith::MinUIOp::create(
            b, loc, d.getRowEnd(),
            arith::AddIOp::create(
                b, loc, d.getRow(),
                arith::ConstantIndexOp::create(b, loc, tileRows))),
        d.getRow());
    mk::WaitCounterOp::create(b, loc, rowsReady, blockIndex(), rowsInTile);
  }

  /// This rank's first column in the count matrix [ranks, ranks * E_l]
  /// (its experts after those of the ranks before it).
  Value countColumn(OpBuilder &b, Location loc) const {
    return arith::MulIOp::create(
        b, loc, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), rank),
        arith::ConstantIndexOp::create(b, loc, localExperts));
  }

  /// Source rank `source`'s rows (an i32) in count-matrix column `column`
  /// (countColumn + a local expert); `stride` is ranks * E_l (an index).
  Value countAt(OpBuilder &b, Location loc, Value source, Value column,
                Value stride) const {
    Type i32 = b.getI32Type();
    return LLVM::LoadOp::create(
        b, loc, i32,
        globalElement(b, loc, countMatrix, i32,
                      arith::AddIOp::create(
                          b, loc, arith::MulIOp::create(b, loc, source, stride),
                          column)));
  }

  /// Segment readiness, by the producer before a GEMM1 tile of local
  /// expert `expert` whose rows are [row, min(rowEnd, row + tileRows)) of
  /// `offsets`' numbering:
  /// for each source rank whose segment of the expert's rows (source 0's
  /// first, then 1's, ...) overlaps them, wait (phase 4) until its
  /// seg_ready counter has grown by the segment's rows in this launch.
  void awaitRows(OpBuilder &b, Location loc, Value offsets, Value expert,
                 Value row, Value rowEnd, int64_t tileRows) const {
    std::map<int64_t, Value> constants =
        indexConstants(b, loc, {0, 1, tileRows, ranks, ranks * localExperts});
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Type i32 = b.getI32Type(), i64 = b.getI64Type();
    auto element = [&](OpBuilder &ob, Value base, Type elem, Value i) {
      return globalElement(ob, loc, base, elem, i);
    };
    auto loadIndex = [&](OpBuilder &ob, Value base, Value i) -> Value {
      return arith::IndexCastUIOp::create(
          ob, loc, ob.getIndexType(),
          LLVM::LoadOp::create(ob, loc, i32, element(ob, base, i32, i)));
    };
    Value first = loadIndex(b, offsets, expert);
    Value a = arith::SubIOp::create(b, loc, row, first);
    Value end = arith::SubIOp::create(
        b, loc,
        arith::MinUIOp::create(
            b, loc, rowEnd, arith::AddIOp::create(b, loc, row, idx(tileRows))),
        first);
    Value column = arith::AddIOp::create(b, loc, countColumn(b, loc), expert);
    auto loop = scf::ForOp::create(
        b, loc, idx(0), idx(ranks), idx(1), ValueRange{idx(0)},
        [&](OpBuilder &fb, Location l, Value s, ValueRange it) {
          Value count = arith::IndexCastUIOp::create(
              fb, l, fb.getIndexType(),
              countAt(fb, l, s, column, idx(ranks * localExperts)));
          Value segEnd = arith::AddIOp::create(fb, l, it[0], count);
          Value overlaps = arith::AndIOp::create(
              fb, l,
              arith::CmpIOp::create(fb, l, arith::CmpIPredicate::ult, it[0],
                                    end),
              arith::CmpIOp::create(fb, l, arith::CmpIPredicate::ugt, segEnd,
                                    a));
          auto w = scf::IfOp::create(fb, l, overlaps, false);
          {
            OpBuilder wb = OpBuilder::atBlockTerminator(w.thenBlock());
            Value slot = arith::AddIOp::create(
                wb, l, arith::MulIOp::create(wb, l, expert, idx(ranks)), s);
            Value base = LLVM::LoadOp::create(wb, l, i64,
                                              element(wb, segBase, i64, slot));
            Value target = arith::AddIOp::create(
                wb, l, base, arith::IndexCastUIOp::create(wb, l, i64, count));
            mk::RemoteWaitOp::create(wb, l, element(wb, segReady, i64, slot),
                                     target, timeoutNs, record, rank,
                                     wb.getI64IntegerAttr(4));
          }
          scf::YieldOp::create(fb, l, ValueRange{segEnd});
        });
    // Unrolled, the loop's loads and pointers overflowed the producer's
    // registers at four ranks.
    disableUnroll(loop);
  }

  /// Segment readiness (if bound), by the MMA warpgroups between the last
  /// grid barrier (every producer's wait on seg_ready came before its
  /// tiles) and awaitResults: the first MMA thread of CTA 0 (`cta`) moves
  /// each counter's base on by its segment's rows of this launch, the next
  /// launch's starting point. It reads the count matrix before the same
  /// thread tells the other ranks `combined`, after which they may start
  /// their next launch and write the matrix again.
  void advanceBase(OpBuilder &ob, Location loc, Value cta) const {
    if (!segReady)
      return;
    Value lead = arith::AndIOp::create(
        ob, loc,
        arith::CmpIOp::create(
            ob, loc, arith::CmpIPredicate::eq,
            NVVM::ThreadIdXOp::create(ob, loc, ob.getI32Type()),
            arith::ConstantIntOp::create(ob, loc, kThreads / 3, 32)),
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::eq, cta,
                              arith::ConstantIndexOp::create(ob, loc, 0)));
    auto ifOp = scf::IfOp::create(ob, loc, lead, false);
    OpBuilder b = OpBuilder::atBlockTerminator(ifOp.thenBlock());
    std::map<int64_t, Value> constants =
        indexConstants(b, loc, {0, 1, ranks, localExperts * ranks});
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Type i64 = b.getI64Type();
    auto element = [&](OpBuilder &ob, Value base, Type elem, Value i) {
      return globalElement(ob, loc, base, elem, i);
    };
    Value firstColumn = countColumn(b, loc);
    scf::ForOp::create(
        b, loc, idx(0), idx(localExperts * ranks), idx(1), ValueRange{},
        [&](OpBuilder &fb, Location l, Value slot, ValueRange) {
          Value expert = arith::DivUIOp::create(fb, l, slot, idx(ranks));
          Value s = arith::RemUIOp::create(fb, l, slot, idx(ranks));
          Value count = countAt(
              fb, l, s, arith::AddIOp::create(fb, l, firstColumn, expert),
              idx(ranks * localExperts));
          Value at = element(fb, segBase, i64, slot);
          Value base = LLVM::LoadOp::create(fb, l, i64, at);
          LLVM::StoreOp::create(
              fb, l,
              arith::AddIOp::create(fb, l, base,
                                    arith::ExtUIOp::create(fb, l, i64, count)),
              at);
          scf::YieldOp::create(fb, l);
        });
  }

  /// GEMM2 rows of `accs` at `row`, `col`: into y, or back to their
  /// source ranks' slots.
  void storeRows(OpBuilder &b, Location loc, ArrayRef<Value> accs, Value y,
                 Value row, Value col, Value rowEnd, Type yElem,
                 int64_t h) const {
    if (!enabled()) {
      storeAccs(b, loc, accs, y, row, col, rowEnd, yElem, h);
      return;
    }
    for (auto [a, acc] : llvm::enumerate(accs))
      mk::StoreAccRemoteOp::create(
          b, loc, acc, y, accRowOf(b, loc, row, a), col, rowEnd, rowSlots,
          rowRanks, bases, rank, TypeAttr::get(yElem), b.getI64IntegerAttr(h));
  }

  /// After the MMA warpgroups' grid barrier: every row this rank computed
  /// is back with its source; one thread of CTA 0 tells every rank, one
  /// thread per CTA waits until every rank has sent this rank's rows (wait
  /// phase 3), then the MMA warpgroups (named barrier 4) go on to combine.
  void awaitResults(OpBuilder &b, Location loc, Value cta) const {
    if (!enabled())
      return;
    Value firstThread = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        NVVM::ThreadIdXOp::create(b, loc, b.getI32Type()),
        arith::ConstantIntOp::create(b, loc, kThreads / 3, 32));
    Value lead = arith::AndIOp::create(
        b, loc, firstThread,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, cta,
                              arith::ConstantIndexOp::create(b, loc, 0)));
    Value one = arith::ConstantIntOp::create(b, loc, 1, 64);
    auto gptr = LLVM::LLVMPointerType::get(b.getContext(), 1);
    auto signal = scf::IfOp::create(b, loc, lead, false);
    {
      OpBuilder tb = OpBuilder::atBlockTerminator(signal.thenBlock());
      for (int64_t r = 0; r < ranks; ++r)
        mk::RemoteAddOp::create(
            tb, loc,
            mk::MapPeerOp::create(tb, loc, gptr, combined,
                                  arith::ConstantIntOp::create(tb, loc, r, 32),
                                  bases, rank),
            one);
    }
    auto wait = scf::IfOp::create(b, loc, firstThread, false);
    {
      OpBuilder tb = OpBuilder::atBlockTerminator(wait.thenBlock());
      Value target = arith::MulIOp::create(
          tb, loc, epoch, arith::ConstantIntOp::create(tb, loc, ranks, 64));
      mk::RemoteWaitOp::create(tb, loc, combined, target, timeoutNs, record,
                               rank, tb.getI64IntegerAttr(3));
    }
    mk::BarrierSyncOp::create(b, loc, b.getI64IntegerAttr(4),
                              b.getI64IntegerAttr(256));
  }
};

/// The end of a small tile: its two transposed 64 x R products (weight
/// rows x tokens) stored at columns 0 and 64 of `storeBuf`
/// (moek.acc_store_transposed, each row's column scale from `rowMax` if
/// given), named barrier `barrier` over `threads` threads, the first R rows
/// of an `accType` accumulator loaded from `loadBuf` (moek.acc_load_smem
/// {rows = R}), and the barrier again so that the buffer may be written by
/// the next small tile.
Value transposeBack(OpBuilder &b, Location loc, ArrayRef<Value> products,
                    ArrayRef<Value> rowMax, Value storeBuf, Value loadBuf,
                    int64_t barrier, int64_t threads, mk::AccType accType);

/// The MMA issuer and the epilogue of a single-issuer fused kernel
/// (sm_100a): two 128 x `cols` tensor-memory accumulators (`blockScales`:
/// the MMAs take the scales of ring tiles 2 and 3); tile t < n1 is a GEMM1
/// tile of `slices1` stages, else GEMM2 tile t - n1 of `slices2`. The
/// epilogue warpgroups (1 and 2, 216 registers) run `gemm1(builder, t,
/// accs, j, warpgroup)` or `gemm2(builder, t - n1, accs, j, warpgroup)` on
/// accumulator j of `accs`,
/// then, after every CTA's last tile, grid barrier 3 on `barrier` and
/// `finish` (the combine). Leaves `b` after the epilogue role.
using FusedTileEpilogue =
    function_ref<void(OpBuilder &, Value, Value, Value, Value)>;

void buildFusedTmemRoles(OpBuilder &b, Location loc, Value ring, Value total,
                         Value n1, Value slices1, Value slices2, int64_t cols,
                         bool blockScales, Value barrier,
                         FusedTileEpilogue gemm1, FusedTileEpilogue gemm2,
                         function_ref<void(OpBuilder &)> finish);

} // namespace mlir::moe::kernelgen

#endif // MOE_LIB_CODEGEN_MOETOKERNEL_FUSED_H
