//===- FusedMoE.cpp - The fused MoE kernels ---------------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The fused MoE layer (moe.fused_moe) in one persistent kernel: which layers
// it takes, its workspace and phase timers, its ABI, expert parallelism
// across GPUs, the bf16 kernel (dispatch, GEMM1 with the activation,
// readiness signals, GEMM2, combine), DeepSeek-V3's FP8 kernel (e4m3 rows
// and weights with block scales, the intermediate requantized in GEMM1's
// epilogue) and the MXFP8 x MXFP4 kernel.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace mlir::moe::kernelgen {

bool isFp8BlockLayer(FusedMoEOp op) {
  auto is = [](QuantAttr q, int64_t rows) {
    return isBlockQuant(q, QuantScheme::fp8_block, rows, 128);
  };
  return is(op.getXQuantAttr(), 1) && is(op.getW13QuantAttr(), 128) &&
         is(op.getActQuantAttr(), 1) && is(op.getW2QuantAttr(), 128);
}

bool isFp8Mxfp4Layer(FusedMoEOp op) {
  auto is = [](QuantAttr q, QuantScheme scheme, int64_t cols) {
    return isBlockQuant(q, scheme, 1, cols);
  };
  return is(op.getXQuantAttr(), QuantScheme::fp8_block, 128) &&
         is(op.getActQuantAttr(), QuantScheme::fp8_block, 128) &&
         is(op.getW13QuantAttr(), QuantScheme::mxfp4, 32) &&
         is(op.getW2QuantAttr(), QuantScheme::mxfp4, 32);
}

bool fp8WideTilesApply(FusedMoEOp op, bool sm90a, bool dispatchReadiness) {
  return !isFp8Mxfp4Layer(op) && sm90a && !dispatchReadiness &&
         !(op.isPerRank() && op.getPlacementAttr().getRanks() > 1);
}

namespace {

/// True if rows or activations quantized as `q` keep their exact values in
/// bf16: none, or MXFP8 in 1x32 blocks (e4m3 times a power of two), which
/// the bf16 kernel rounds to (moek.dispatch and moek.store_act
/// {mx_round}).
bool isBf16OrMxfp8(QuantAttr q) {
  return !q || isBlockQuant(q, QuantScheme::mxfp8, 1, 32);
}

} // namespace

std::optional<QuantScheme> expandedWeights(FusedMoEOp op) {
  if (!isBf16OrMxfp8(op.getXQuantAttr()) ||
      !isBf16OrMxfp8(op.getActQuantAttr()))
    return std::nullopt;
  for (auto [scheme, block] :
       {std::pair(QuantScheme::mxfp4, 32), std::pair(QuantScheme::nvfp4, 16),
        std::pair(QuantScheme::mxfp8, 32)})
    if (isBlockQuant(op.getW13QuantAttr(), scheme, 1, block) &&
        isBlockQuant(op.getW2QuantAttr(), scheme, 1, block))
      return scheme;
  return std::nullopt;
}

std::string unsupportedReason(FusedMoEOp op, bool idsInKernel) {
  if (PlacementAttr p = op.getPlacementAttr()) {
    if (p.getRanks() > 1 && !op.isPerRank())
      return "an expert-parallel layer is lowered in its per-rank form (run "
             "moe-expert-parallel first)";
    if (op.isPerRank() && p.getRanks() > 8)
      return "the expert-parallel fused kernel takes at most 8 ranks";
  }
  RankedTensorType x = op.getX().getType(), w13 = op.getW13().getType(),
                   w2 = op.getW2().getType();
  std::optional<QuantScheme> expanded = expandedWeights(op);
  bool nvfp4 = expanded == QuantScheme::nvfp4,
       mxfp8 = expanded == QuantScheme::mxfp8;
  if (expanded) {
    StringRef what = nvfp4 ? "NVFP4" : mxfp8 ? "MXFP8" : "MXFP4";
    if (!nvfp4 && (op.getW13GlobalScale() || op.getW2GlobalScale()))
      return "MXFP4 weights take no global scale";
    if (op.isPerRank())
      return ("the bf16 x " + what +
              " fused kernel is single-GPU (no expert parallelism yet)")
          .str();
    if (!mxfp8 && (!isa<Float4E2M1FNType>(w13.getElementType()) ||
                   !isa<Float4E2M1FNType>(w2.getElementType())))
      return (what.lower() + " weights must be f4E2M1FN");
  }
  if (!expanded && (op.getXQuantAttr() || op.getW13QuantAttr() ||
                    op.getActQuantAttr() || op.getW2QuantAttr())) {
    if ((!isFp8BlockLayer(op) && !isFp8Mxfp4Layer(op)) ||
        op.getW13GlobalScale() || op.getW2GlobalScale())
      return "a quantized layer must follow DeepSeek-V3's FP8 recipe "
             "(fp8_block rows and activations in [1, 128] blocks, weights in "
             "[128, 128] blocks, or mxfp4 weights in [1, 32] blocks), or have "
             "bf16 or mxfp8 ([1, 32]) rows and activations and mxfp4 "
             "([1, 32]), nvfp4 ([1, 16]) or mxfp8 ([1, 32]) weights, for the "
             "generated fused kernel";
    if (!x.getElementType().isBF16())
      return "the generated fused kernel takes bf16 tokens";
    if (!idsInKernel && !op.getIds().getType().getElementType().isInteger(32))
      return "the generated fused kernel takes i32 topk_ids";
    if (!w13.hasStaticShape() || !w2.hasStaticShape() ||
        ShapedType::isDynamic(op.getIds().getType().getDimSize(1)))
      return "the weight shapes and top_k must be static";
    if (op.getGateUpLayout() != GateUpLayout::concat)
      return "the FP8 fused kernel takes gate/up concatenated (an "
             "interleaved 128-row box would mix gates and ups)";
    auto f = [](Type t) { return t.isBF16() || t.isF32(); };
    if (!f(op.getGemm1Type()) || !op.getActType().isBF16() ||
        !f(op.getGemm2Type()) || !f(op.getOut().getType().getElementType()))
      return "the generated fused kernel rounds GEMM1 and GEMM2 outputs to "
             "bf16 or f32, the activation to bf16, and writes bf16 or f32";
    return "";
  }
  if (!x.getElementType().isBF16() ||
      (!expanded &&
       (!w13.getElementType().isBF16() || !w2.getElementType().isBF16())))
    return "the generated fused kernel takes bf16 tokens and weights (or "
           "mxfp4, nvfp4 or mxfp8 weights)";
  if (!idsInKernel && !op.getIds().getType().getElementType().isInteger(32))
    return "the generated fused kernel takes i32 topk_ids";
  if (!w13.hasStaticShape() || !w2.hasStaticShape() ||
      ShapedType::isDynamic(op.getIds().getType().getDimSize(1)))
    return "the weight shapes and top_k must be static";
  int64_t h = w13.getDimSize(2), i = w2.getDimSize(2);
  if (h % kTileK != 0 || i % kTileK != 0)
    return "H (" + std::to_string(h) + ") and I (" + std::to_string(i) +
           ") must be multiples of the K slice (64)";
  auto f = [](Type t) { return t.isBF16() || t.isF32(); };
  if (!f(op.getGemm1Type()) || !op.getActType().isBF16() ||
      !f(op.getGemm2Type()) || !f(op.getOut().getType().getElementType()))
    return "the generated fused kernel rounds GEMM1 and GEMM2 outputs to bf16 "
           "or f32, the activation to bf16, and writes bf16 or f32";
  return "";
}

namespace {

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
fusedWorkspaceAttrs(OpBuilder &b, const FusedWorkspace &ws, int64_t maxTokens) {
  SmallVector<NamedAttribute> attrs = {
      b.getNamedAttr("bytes", b.getI64IntegerAttr(ws.bytes)),
      b.getNamedAttr("zero_bytes", b.getI64IntegerAttr(ws.zeroBytes)),
      b.getNamedAttr("max_tokens", b.getI64IntegerAttr(maxTokens))};
  if (ws.timers >= 0)
    attrs.push_back(b.getNamedAttr("timers", b.getI64IntegerAttr(ws.timers)));
  return attrs;
}

/// 1 (index) if tile `t` is one of GEMM1's (below `n1`), else 0: the tag
/// of PhaseTimers::traceTile.
Value isGemm1Tag(OpBuilder &b, Location loc, Value t, Value n1) {
  return arith::SelectOp::create(
      b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, t, n1),
      arith::ConstantIndexOp::create(b, loc, 1),
      arith::ConstantIndexOp::create(b, loc, 0));
}

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
                                         int64_t rows, bool interleaved) {
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value base = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, expert, idx(2 * i)),
      arith::MulIOp::create(b, loc, colTile,
                            idx(interleaved ? 2 * rows : rows)));
  return {base,
          arith::AddIOp::create(b, loc, base, idx(interleaved ? rows : i))};
}

/// A fused kernel's tile `t` of the one list: GEMM1's tile `t` if
/// t < n1, else GEMM2's tile t - n1, built by `gemm1` or `gemm2` in the
/// branches of an scf.if that yields the ring iteration they return.
Value buildPerGemm(OpBuilder &ob, Location l, Value t, Value n1,
                   function_ref<Value(OpBuilder &, Value)> gemm1,
                   function_ref<Value(OpBuilder &, Value)> gemm2) {
  Value isGemm1 =
      arith::CmpIOp::create(ob, l, arith::CmpIPredicate::ult, t, n1);
  auto branch =
      scf::IfOp::create(ob, l, TypeRange{ob.getIndexType()}, isGemm1, true);
  {
    OpBuilder tb = OpBuilder::atBlockEnd(branch.thenBlock());
    scf::YieldOp::create(tb, l, ValueRange{gemm1(tb, t)});
  }
  {
    OpBuilder eb = OpBuilder::atBlockEnd(branch.elseBlock());
    Value next = gemm2(eb, arith::SubIOp::create(eb, l, t, n1));
    scf::YieldOp::create(eb, l, ValueRange{next});
  }
  return branch.getResult(0);
}

/// The fused kernel's parameter ABI (see the pass description). `fp8`: the
/// FP8 kernel's, with e4m3 boxes 128 elements (128 bytes) wide, the routed
/// rows and activations in e4m3, and the weight scales (operands 5 and 6)
/// after the tensors. `yTma`: a fifth descriptor, over y (64 x 64 boxes).
ArrayAttr buildFusedAbi(OpBuilder &b, int64_t e, int64_t h, int64_t i,
                        int64_t maxRows, const FusedWorkspace &ws, bool fp8,
                        bool fp4 = false, int64_t globalScales = 0,
                        bool paddedFp4 = false, bool yTma = false,
                        ArrayRef<int64_t> biasOperands = {},
                        int64_t tailRows = 0) {
  int64_t sliceK = fp8 ? kTileKFp8 : kTileK;
  auto entry = [&](ArrayRef<NamedAttribute> attrs) {
    return b.getDictionaryAttr(attrs);
  };
  auto na = [&](StringRef name, Attribute a) {
    return b.getNamedAttr(name, a);
  };
  auto s = [&](StringRef v) { return b.getStringAttr(v); };
  auto n = [&](int64_t v) { return b.getI64IntegerAttr(v); };
  auto i64s = [&](ArrayRef<int64_t> v) { return b.getI64ArrayAttr(v); };
  auto weights = [&](int64_t operand, StringRef view, int64_t rows,
                     int64_t inner) {
    // Block-scaled MMAs (sm_100a): e2m1 in tcgen05's padded form, 64-row
    // boxes (a gate and an up half of a tile), 128B swizzle.
    if (paddedFp4)
      return entry({na("kind", s("tma")), na("operand", n(operand)),
                    na("view", s(view)), na("rows", n(rows)),
                    na("inner", n(inner)), na("box", i64s({sliceK, 64})),
                    na("swizzle", n(128)), na("fp4_padded", b.getUnitAttr())});
    return entry({na("kind", s("tma")), na("operand", n(operand)),
                  na("view", s(view)), na("rows", n(rows)),
                  na("inner", n(inner)), na("box", i64s({sliceK, kWBoxRows})),
                  // Packed e2m1 rows: 64 bytes (FP8 kernel, 128-wide K
                  // slices) in the 64-byte swizzle, 32 bytes (bf16 kernel)
                  // unswizzled.
                  na("swizzle", n(fp4 ? (fp8 ? 64 : 0) : 128))});
  };
  // `bf16`: bf16 64 x 64 boxes in the FP8 kernels too (y by TMA).
  // `descName`: the descriptor's name where it is not the part's (a second
  // descriptor over the same part).
  auto scratch = [&](StringRef name, int64_t offset, int64_t inner,
                     bool bf16 = false, int64_t boxRows = kXBoxRows,
                     StringRef descName = "") {
    bool e4m3 = fp8 && !bf16;
    SmallVector<NamedAttribute> attrs{
        na("kind", s("tma")),
        na("workspace", s(name)),
        na("workspace_offset", n(offset)),
        na("dtype", s(e4m3 ? "f8E4M3FN" : "bf16")),
        na("shape", i64s({maxRows, inner})),
        na("box", i64s({e4m3 ? sliceK : kTileK, boxRows})),
        na("swizzle", n(128))};
    if (!descName.empty())
      attrs.push_back(na("name", s(descName)));
    return entry(attrs);
  };
  auto ptr = [&](StringRef key, int64_t index) {
    return entry({na("kind", s("ptr")), na(key, n(index))});
  };
  SmallVector<Attribute> abi{
      weights(3, "[E*2I, H]", e * 2 * i, h), weights(4, "[E*H, I]", e * h, i),
      scratch("rows", ws.rows, h), scratch("act", ws.act, i)};
  // GEMM2's rows stored by TMA (moek.store_acc_tma).
  if (yTma)
    abi.push_back(scratch("y", ws.y, h, /*bf16=*/true));
  // Absorbed tails: the rows and the activation in boxes of tailRows rows.
  if (tailRows) {
    abi.push_back(scratch("rows", ws.rows, h, false, tailRows, "rows_tail"));
    abi.push_back(scratch("act", ws.act, i, false, tailRows, "act_tail"));
  }
  abi.append({ptr("operand", 0), ptr("operand", 1), ptr("operand", 2)});
  if (fp8 || fp4)
    abi.append({ptr("operand", 5), ptr("operand", 6)});
  // NVFP4: the w13 and w2 global scales ([E] f32) present, in that order.
  for (int64_t g = 0; g < globalScales; ++g)
    abi.push_back(ptr("operand", 7 + g));
  // Per-expert biases: w13's, then w2's, those present.
  for (int64_t operand : biasOperands)
    abi.push_back(ptr("operand", operand));
  abi.append({ptr("result", 0), entry({na("kind", s("workspace"))}),
              entry({na("kind", s("token_count"))})});
  return b.getArrayAttr(abi);
}

} // namespace

Value workspacePart(OpBuilder &b, Location loc, Value base, int64_t offset) {
  Value bytes = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                         b.getI64IntegerAttr(offset));
  return LLVM::GEPOp::create(b, loc, base.getType(), b.getI8Type(), base,
                             ValueRange{bytes});
}

namespace {

/// Index constants made up front, where `b` is: `b` would put one made
/// while a nested builder fills a loop after that loop.
std::map<int64_t, Value> indexConstants(OpBuilder &b, Location loc,
                                        ArrayRef<int64_t> values) {
  std::map<int64_t, Value> constants;
  for (int64_t v : values)
    constants.try_emplace(v, arith::ConstantIndexOp::create(b, loc, v));
  return constants;
}

/// The address of element `i` (index) of the `elem` array at `base`
/// (global memory).
Value globalElement(OpBuilder &b, Location loc, Value base, Type elem,
                    Value i) {
  return LLVM::GEPOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext(), 1), elem, base,
      ValueRange{arith::IndexCastUIOp::create(b, loc, b.getI64Type(), i)});
}

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

/// transposeBack's first half: the products stored transposed.
void storeTransposed(OpBuilder &b, Location loc, ArrayRef<Value> products,
                     ArrayRef<Value> rowMax, Value storeBuf) {
  for (auto [f, product] : llvm::enumerate(products))
    mk::AccStoreTransposedOp::create(
        b, loc, product, storeBuf, rowMax.empty() ? Value() : rowMax[f],
        b.getI64IntegerAttr(64 * int64_t(f)), b.getI64IntegerAttr(128));
}
/// transposeBack's second half: the barrier, the first `rows` rows loaded,
/// the barrier again.
Value loadTransposed(OpBuilder &b, Location loc, int64_t rows, Value loadBuf,
                     int64_t barrier, int64_t threads, mk::AccType accType) {
  mk::BarrierSyncOp::create(b, loc, b.getI64IntegerAttr(barrier),
                            b.getI64IntegerAttr(threads));
  Value acc = mk::AccLoadSmemOp::create(
      b, loc, accType, loadBuf, b.getI64IntegerAttr(rows), DenseI64ArrayAttr());
  mk::BarrierSyncOp::create(b, loc, b.getI64IntegerAttr(barrier),
                            b.getI64IntegerAttr(threads));
  return acc;
}
/// The end of a small tile: its two transposed 64 x R products (weight
/// rows x tokens) stored at columns 0 and 64 of `storeBuf`
/// (moek.acc_store_transposed, each row's column scale from `rowMax` if
/// given), named barrier `barrier` over `threads` threads, the first R rows
/// of an `accType` accumulator loaded from `loadBuf` (moek.acc_load_smem
/// {rows = R}), and the barrier again so that the buffer may be written by
/// the next small tile.
Value transposeBack(OpBuilder &b, Location loc, ArrayRef<Value> products,
                    ArrayRef<Value> rowMax, Value storeBuf, Value loadBuf,
                    int64_t barrier, int64_t threads, mk::AccType accType) {
  storeTransposed(b, loc, products, rowMax, storeBuf);
  return loadTransposed(b, loc,
                        cast<mk::AccType>(products.front().getType()).getCols(),
                        loadBuf, barrier, threads, accType);
}

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
                         function_ref<void(OpBuilder &)> finish) {
  auto accsType = mk::AccRingType::get(b.getContext(), kTmemAccs, 128, cols,
                                       b.getF32Type());
  Value accs =
      mk::AccRingAllocOp::create(b, loc, accsType, b.getI64IntegerAttr(256));
  buildTmemIssuer(
      b, loc, ring, accs, total,
      [&](OpBuilder &ob, Value t) {
        return arith::SelectOp::create(
            ob, loc,
            arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult, t, n1),
            slices1, slices2);
      },
      /*perStage=*/false, blockScales);
  OpBuilder::InsertionGuard g(b);
  beginRole(b, loc, "epilogue", 1, 2, 216);
  Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
  buildTmemEpilogue(b, loc, accs, total, [&](OpBuilder &ob, Value t, Value j) {
    Value isGemm1 =
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult, t, n1);
    auto branch = scf::IfOp::create(ob, loc, isGemm1, true);
    OpBuilder tb = OpBuilder::atBlockTerminator(branch.thenBlock());
    gemm1(tb, t, accs, j, wg);
    OpBuilder eb = OpBuilder::atBlockTerminator(branch.elseBlock());
    gemm2(eb, arith::SubIOp::create(eb, loc, t, n1), accs, j, wg);
  });
  // Phase 3: every row of y is stored (grid barrier 3, epilogue only).
  mk::GridBarrierOp::create(b, loc, barrier, b.getI64IntegerAttr(3),
                            b.getI64IntegerAttr(4), b.getI64IntegerAttr(256));
  finish(b);
}

} // namespace

LLVM::LLVMFuncOp
buildFusedKernel(OpBuilder &b, Location loc, StringRef name, FusedMoEOp op,
                 int64_t stages, int64_t maxTokens, bool streamWeights,
                 bool phaseTimers, bool commOnly, bool transposedSmallTiles,
                 bool singleIssuer, bool narrowTiles, bool dispatchReadiness,
                 bool approxActivation, bool gatherRows, StringRef gatherHint,
                 StringRef absorbTails, bool asyncSignals) {
  // MXFP4 or NVFP4 weights: copied packed into tile 2 of each stage,
  // expanded into tile 1 by both MMA warpgroups (moek.dequant_fp4) before
  // their MMAs; NVFP4's global scales multiply the accumulators.
  // MXFP8 weights: the same with e4m3 tiles (64 bytes a row) expanded by
  // moek.dequant_mxfp8.
  std::optional<QuantScheme> expanded = expandedWeights(op);
  bool nvfp4 = expanded == QuantScheme::nvfp4,
       mxfp8W = expanded == QuantScheme::mxfp8;
  bool packed = expanded.has_value(); // a packed weight tile per stage
  bool g13 = nvfp4 && op.getW13GlobalScale(),
       g2 = nvfp4 && op.getW2GlobalScale();
  // Its 56 KB stages (MXFP8: 64 KB): four with the kernel's static shared
  // memory exceed the 227 KB a CTA may have (DeepSeek-V3: 230400 + 3184
  // bytes).
  if (packed)
    stages = std::min<int64_t>(stages, 3);
  MLIRContext *ctx = b.getContext();
  RankedTensorType w13 = op.getW13().getType(), w2 = op.getW2().getType();
  int64_t e = w13.getDimSize(0), h = w13.getDimSize(2), i = w2.getDimSize(2);
  int64_t k = op.getIds().getType().getDimSize(1);
  // Expert parallelism (the per-rank form): `e` experts here, out of
  // ranks * e; this rank may receive every rank's max_tokens * k slots.
  ExpertParallel ep(op);
  int64_t ranks = ep.ranks;
  int64_t maxRows = maxTokens * k * ranks;
  Type yElem = op.getGemm2Type();
  Type outElem = op.getOut().getType().getElementType();
  // sm_100a's single-issuer shape (buildFusedSingleIssuerRoles) for bf16
  // weights on one GPU: the MMAs' commits free the stages (1 arrival).
  bool single = singleIssuer && !expanded && ranks == 1 && !commOnly &&
                !phaseTimers && !op.getActQuantAttr();
  // The dispatch's rows published block by block (one GPU) or segment by
  // segment (expert parallelism), GEMM1's producer waiting for its tile's
  // rows instead of grid barrier 2 (bf16 rows, MMA warpgroups).
  // GEMM1's rows gathered from x by the producer warp (moek.gather_rows)
  // instead of copied by the dispatch (bf16 rows and weights, one GPU, MMA
  // warpgroups): the dispatch records each row's token where the rows
  // would be (the workspace keeps its layout), GEMM2 is unchanged.
  bool gather = gatherRows && !packed && ranks == 1 && !commOnly && !single &&
                !op.getXQuantAttr();
  bool blockReady = dispatchReadiness && !commOnly && !single &&
                    !op.getXQuantAttr() && !gather;
  FusedWorkspace ws(ranks * e, h, i, maxRows, yElem.isBF16() ? 2 : 4,
                    phaseTimers, /*fp8=*/false, ranks, e, blockReady);
  // The producer's registers (the MMA warpgroups get the rest): the waits
  // on the source ranks' segments (ExpertParallel::awaitRows) spilled 8
  // bytes in 40 at four ranks (E = 16, H = 1024); 48 and 224 spill nowhere.
  int64_t producerRegs = blockReady && ranks > 1 ? 48 : 40;
  // GEMM1 tiles: 128 output columns (a gate and an up box of 128 weight
  // rows); GEMM2 tiles: 256 columns.
  int64_t cols1 = llvm::divideCeil(i, 128), cols2 = llvm::divideCeil(h, 256);

  // GEMM2's bf16 rows go into y by TMA, through shared memory next to the
  // ring (moek.store_acc_tma; its descriptor is parameter 4): with bf16
  // weights on one GPU, whose four 48 KB stages (and 1 KB of alignment)
  // leave 33 KB of the 227 KB less the static shared memory, about 12
  // bytes an expert (three prefix sums) and a few hundred more: two 8 KB
  // halves a warpgroup up to about 150 experts, one beyond.
  // Absorbed tails (absorbTails): each stage also holds a 2 KB tile of 16
  // rows (tile 2), and the staging a half a warpgroup less where four
  // 50 KB stages leave no room for two.
  constexpr int64_t kTailRows = 16;
  // 'auto': where an expert has at most 192 rows on average at max-tokens
  // (three H100 runs: 2-4% faster at 128 rows an expert; at 256 (Qwen3)
  // -0.1, -1.6, +4.1%; at 1024 no gain either; docs/FusedKernel.md).
  // (With per-expert biases ptxas spilled 64-164 bytes: not taken.)
  bool absorbAsked = absorbTails == "true";
  bool absorb =
      (absorbAsked || (absorbTails == "auto" && maxTokens * k <= 192 * e)) &&
      transposedSmallTiles && !packed && ranks == 1 && !commOnly && !single &&
      yElem.isBF16() && !op.getXQuantAttr() && !gather && !blockReady &&
      !op.getW13Bias() && !op.getW2Bias();
  auto halvesFor = [&](bool withTail) {
    return stagingHalvesBeside(
        stages * (48 * 1024 + (withTail ? kTailRows * kSliceBytes : 0)) + 1024 +
        12 * (e + 1) + 256);
  };
  int64_t yHalves = halvesFor(absorb);
  if (absorb && yHalves == 0) {
    absorb = false;
    yHalves = halvesFor(false);
  }
  bool yTma = !packed && ranks == 1 && !commOnly && !single && yElem.isBF16() &&
              yHalves > 0;
  absorb = absorb && yTma;
  if (absorbAsked && !absorb && !packed)
    op.emitRemark() << "convert-moe-to-moek: absorb-tails not applied (it "
                       "takes bf16 weights and rows on sm_90a, one GPU, "
                       "small-tiles, bf16 y stored by TMA, without "
                       "gather-rows, dispatch-readiness or biases)";
  int64_t tailRows = absorb ? kTailRows : 0;
  // GEMM1's readiness signals relayed to warps 1 and 2 of the producer
  // warpgroup (moek.signal_relay), which are idle otherwise; where the
  // option does not apply (FP4 or MXFP8 weights, expert parallelism,
  // gather-rows, sm_100a's single issuer) each warpgroup adds its own.
  bool relay =
      asyncSignals && !packed && ranks == 1 && !commOnly && !single && !gather;
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  SmallVector<NamedAttribute> wsAttrs = fusedWorkspaceAttrs(b, ws, maxTokens);
  SmallVector<Type> params{ptr, ptr, ptr, ptr};
  if (yTma)
    params.push_back(ptr);
  if (absorb)
    params.append({ptr, ptr}); // the rows and the activation, 16-row boxes
  params.append({gptr, gptr, gptr});
  if (packed)
    params.append({gptr, gptr});          // w13_scales, w2_scales
  params.append(int64_t(g13) + g2, gptr); // NVFP4: w13, w2 global scales
  // Per-expert biases: the launch's operands after the scales.
  SmallVector<int64_t> biasOperands;
  for (Value bias : {op.getW13Bias(), op.getW2Bias()})
    if (bias)
      biasOperands.push_back(5 + (packed ? 2 : 0) + g13 + g2 +
                             int64_t(biasOperands.size()));
  params.append(biasOperands.size(), gptr);
  params.append({gptr, gptr, b.getI32Type()});
  ArrayAttr abi = buildFusedAbi(b, e, h, i, maxRows, ws, /*fp8=*/false, packed,
                                int64_t(g13) + g2, /*paddedFp4=*/false, yTma,
                                biasOperands, tailRows);
  ep.extend(b, params, abi);
  unsigned numTma = (yTma ? 5 : 4) + (absorb ? 2 : 0);
  auto func = createKernelFunc(b, loc, name, params, numTma, abi, wsAttrs);

  Block *entry = func.addEntryBlock(b);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  // Argument n of the parameters after the descriptors (x is 0).
  auto arg = [&](unsigned n) { return entry->getArgument(numTma + n); };
  Value tmapW13 = entry->getArgument(0), tmapW2 = entry->getArgument(1),
        tmapRows = entry->getArgument(2), tmapAct = entry->getArgument(3),
        tmapY = yTma ? entry->getArgument(4) : Value();
  Value tmapRowsTail = absorb ? entry->getArgument(5) : Value(),
        tmapActTail = absorb ? entry->getArgument(6) : Value();
  unsigned scaleArgs = (packed ? 2 : 0) + g13 + g2;
  unsigned biasArgs = biasOperands.size();
  Value x = arg(0), ids = arg(1), weights = arg(2),
        out = arg(3 + scaleArgs + biasArgs),
        wsBase = arg(4 + scaleArgs + biasArgs);
  Value w13Scales = packed ? arg(3) : Value(),
        w2Scales = packed ? arg(4) : Value();
  Value w13Global = g13 ? arg(5) : Value(),
        w2Global = g2 ? arg(5 + g13) : Value();
  Value w13Bias = op.getW13Bias() ? arg(3 + scaleArgs) : Value(),
        w2Bias = op.getW2Bias() ? arg(3 + scaleArgs + bool(w13Bias)) : Value();
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  Value tokens = arith::IndexCastUIOp::create(b, loc, b.getIndexType(),
                                              arg(5 + scaleArgs + biasArgs));
  auto at = [&](int64_t offset) {
    return workspacePart(b, loc, wsBase, offset);
  };
  Value nextTile = at(ws.nextTile);
  Value barrier = at(ws.barrier), counts = at(ws.counts),
        cursor = at(ws.cursor), ready = at(ws.ready), offsets = at(ws.offsets),
        slotRows = at(ws.slotRows), rowWeights = at(ws.rowWeights),
        rows = at(ws.rows), act = at(ws.act), y = at(ws.y);
  Value ctaId = mk::BlockIdOp::create(b, loc, b.getIndexType());
  PhaseTimers timers{phaseTimers ? at(ws.timers) : Value(), ctaId,
                     phaseTimers ? at(ws.trace) : Value()};

  auto tile = [&](int64_t r) {
    return MemRefType::get({r, kTileK}, b.getBF16Type(), AffineMap(),
                           b.getI64IntegerAttr(3));
  };
  SmallVector<Type> tiles{tile(128), tile(256)};
  if (absorb)
    tiles.push_back(tile(kTailRows));
  if (packed)
    tiles.push_back(MemRefType::get({256, kTileK},
                                    mxfp8W
                                        ? Type(b.getType<Float8E4M3FNType>())
                                        : Type(b.getType<Float4E2M1FNType>()),
                                    AffineMap(), b.getI64IntegerAttr(3)));
  auto ringType = mk::RingType::get(ctx, stages, tiles);
  auto accType = mk::AccType::get(ctx, 64, 256, b.getF32Type());
  auto ringAlloc = mk::RingAllocOp::create(
      b, loc, ringType, b.getI64IntegerAttr(single ? 1 : 256));
  // Gathered rows: every stage's full barrier also counts the 32 lanes'
  // copy arrivals (moek.ring_arrive_copies).
  if (gather)
    ringAlloc.setProducers(33);
  Value ring = ringAlloc;
  // FP4 weights on sm_90a: a tile of at most kSmallRows rows is multiplied
  // transposed (moek.mma_fp4_bf16: each MMA warpgroup's 128 weight rows,
  // expanded in registers, times the tile's first kSmallRows token rows),
  // and the two products go back through this 16 KB buffer into the first
  // warpgroup's accumulator (acc_store_transposed / acc_load_smem {rows}).
  // bf16 weights: the same with moek.mma (m64n16k16, each warpgroup's 128
  // weight rows of tile 1 by tile 0's first kSmallRows rows); the products
  // go back through y's staging (16 KB or more), once both warpgroups' TMA
  // stores of y have read it.
  constexpr int64_t kSmallRows = 16, kTransposeBarrier = 10;
  static_assert(kSmallRows == kTailRows, "a tail goes back as a small tile");
  auto tailAcc = mk::AccType::get(ctx, 64, kSmallRows, b.getF32Type());
  bool bf16Small =
      transposedSmallTiles && !packed && yTma && !op.getXQuantAttr();
  bool smallTiles = (transposedSmallTiles && packed && !mxfp8W) || bf16Small;
  Value yStaging = yTma ? allocStaging(b, loc, yHalves) : Value();
  Value transposeBuf =
      bf16Small ? yStaging
      : smallTiles
          ? mk::SmemAllocOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                                    b.getI64IntegerAttr(kSmallRows * 256 * 4))
          : Value();

  ep.bind(b, loc, func, /*firstArg=*/numTma + 6 + scaleArgs + biasArgs, ws, at);

  // Phase 1: the routed rows, expert by expert (grid barriers 1 and 2); with
  // expert parallelism, to the ranks that own the experts.
  timers.stamp(b, loc, 0);
  // MXFP8 rows (x_quant): each 1x32 block rounded to its MXFP8 value in
  // bf16 (exact).
  Value rowsReady = blockReady && ranks == 1 ? at(ws.rowsReady) : Value();
  ep.dispatch(b, loc, x, ids, weights, tokens, counts, cursor, offsets,
              slotRows, rowWeights, gather ? Value() : rows, barrier, Value(),
              k, h, /*permuteK=*/false, /*mxRound=*/bool(op.getXQuantAttr()),
              rowsReady, blockReady ? at(ws.offsetsReady) : Value(),
              /*blockRows=*/128, gather ? rows : Value());
  timers.stamp(b, loc, 1);
  // The grid barrier before the combine: the third, or the second when the
  // dispatch has none of its own at its end.
  int64_t lastBarrier = blockReady ? 2 : 3;

  // Phase 2: the tiles of GEMM1 then those of GEMM2, one list.
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(128);
  auto count = [&](int64_t cols) -> Value {
    auto op =
        mk::GroupedTileCountOp::create(b, loc, b.getIndexType(), offsets, numE,
                                       tileRows, b.getI64IntegerAttr(cols));
    if (tailRows)
      op.setTailRowsAttr(b.getI64IntegerAttr(tailRows));
    return op;
  };
  Value n1 = count(cols1), n2 = count(cols2);
  // comm-only (expert parallelism, to time the transfers): no tiles; the
  // MMA warpgroups send the received rows back instead.
  Value total = commOnly ? arith::ConstantIndexOp::create(b, loc, 0).getResult()
                         : arith::AddIOp::create(b, loc, n1, n2).getResult();
  int64_t rowGroup = std::clamp<int64_t>(
      (int64_t(16) << 20) / std::max<int64_t>(1, 128 * h * 2), 1, 8);
  auto decode = [&](OpBuilder &ob, Value t, int64_t cols) {
    SmallVector<Type> types(4, ob.getIndexType());
    auto d = mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE,
                                       tileRows, ob.getI64IntegerAttr(cols),
                                       ob.getI64IntegerAttr(rowGroup));
    if (tailRows)
      d.setTailRowsAttr(ob.getI64IntegerAttr(tailRows));
    return d;
  };
  // An absorbed tail: the expert's rows end 1 to kTailRows rows past the
  // tile's 128 (then this is its last block; a block before the last has
  // more than 128 + kTailRows rows after its first).
  auto hasTail = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    Value left = arith::SubIOp::create(ob, loc, d.getRowEnd(), d.getRow());
    return arith::AndIOp::create(
        ob, loc,
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ugt, left,
                              idx(ob, 128)),
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ule, left,
                              idx(ob, 128 + kTailRows)));
  };
  // The readiness counter of a tile's row block (see FusedWorkspace), and
  // its target: every GEMM1 tile of the block, once per MMA warpgroup.
  auto readyIndex = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    return arith::AddIOp::create(
        ob, loc, arith::DivUIOp::create(ob, loc, d.getRow(), idx(ob, 128)),
        d.getExpert());
  };
  Value cH = idx(b, h);
  bool interleaved = op.getGateUpLayout() == GateUpLayout::interleaved;
  Value slices1 = idx(b, h / kTileK), slices2 = idx(b, i / kTileK);
  // The first weight rows of a GEMM1 tile's two 128-row boxes.
  auto gemm1Boxes = [&](OpBuilder &ob,
                        mk::GroupedTileOp d) -> std::pair<Value, Value> {
    return gemm1WeightBoxes(ob, loc, d.getExpert(), d.getColTile(), i, 128,
                            interleaved);
  };
  // The first weight rows of a GEMM2 tile's two 128-row boxes: 256
  // consecutive rows of w2.
  auto gemm2Boxes = [&](OpBuilder &ob,
                        mk::GroupedTileOp d) -> std::pair<Value, Value> {
    Value base = arith::AddIOp::create(
        ob, loc, arith::MulIOp::create(ob, loc, d.getExpert(), cH),
        arith::MulIOp::create(ob, loc, d.getColTile(), idx(ob, 256)));
    return {base, arith::AddIOp::create(ob, loc, base, idx(ob, 128))};
  };

  // A dynamic tile scheduler: the producer fetches the next tile index
  // from a device counter (0, 1, 2, ... across the grid, so a CTA that runs
  // ahead takes more tiles) and tags the tile's stages with it; the MMA
  // warpgroups read the tag of each tile's first stage. The index past the
  // last tile, on one stage without loads, tells them to stop. Indices are
  // handed out in order, so every GEMM1 tile is taken by a running CTA
  // before any GEMM2 tile that waits for it.
  // Producer: warpgroup 0, one thread issues every copy; a GEMM2 tile waits
  // until the GEMM1 tiles of its row block have stored their activations.
  // The weights go to tile 1 (bf16, 128-byte rows) or, expanded weights,
  // tile 2: packed FP4 (32 bytes a row, counted in bytes) or e4m3 (64).
  int64_t bTile = packed ? 2 : 1, bRowBytes = mxfp8W   ? kTileK
                                              : packed ? kTileK / 2
                                                       : kSliceBytes;
  bool bPacked = packed && !mxfp8W;
  // Single issuer: the MMA issuer shares the producer's warpgroup, whose
  // 40 registers made ptxas spill (DeepSeek-V3: 156 bytes); 56 and 216 for
  // the epilogue fit (128 x 56 + 256 x 216 <= 64K).
  // Gathered rows: warp 0 of the producer warpgroup, lane 0 tagging the
  // stages, expecting the weights' bytes and issuing their copies, every
  // lane then copying its share of a GEMM1 stage's rows and arriving once
  // its copies land (a GEMM2 or stop stage: at once).
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, single ? 56 : producerRegs);
    Block *producerRole = b.getInsertionBlock();
    Value leader = beginProducerThreads(b, loc, gather);
    auto arrive = [&](OpBuilder &hb, Location hl, Value st, Value) {
      mk::RingArriveCopiesOp::create(hb, hl, ring, st);
    };
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, total, /*producer=*/true,
        [&](OpBuilder &ob, Value t, Value iter) -> Value {
          Location l = loc;
          timers.traceTile(ob, l, t, 0);
          return buildPerGemm(
              ob, l, t, n1,
              [&](OpBuilder &tb, Value t1) -> Value {
                auto d = decode(tb, t1, cols1);
                if (blockReady)
                  ep.awaitTileRows(tb, l, offsets, rowsReady, d, 128,
                                   [&] { return readyIndex(tb, d); });
                auto [base, up] = gemm1Boxes(tb, d);
                Value tokens =
                    loadTileTokens(tb, l, gather ? rows : Value(), d, 128);
                auto gatherHook = [&](OpBuilder &hb, Location hl, Value st,
                                      Value ks) {
                  gatherStageRows(hb, hl, ring, st, ks, x, tokens, kTileK, h,
                                  gatherHint);
                };
                TailBox tail;
                if (absorb)
                  tail = {tmapRowsTail, hasTail(tb, d), 2, kTailRows};
                Value next = buildTileLoads(
                    tb, l, ring, gather ? Value() : tmapRows, d.getRow(),
                    d.getRowEnd(), 128, tmapW13, {base, up}, slices1, iter,
                    streamWeights, t, kTileK, /*boxPerTile=*/false, bTile,
                    bRowBytes, bPacked, /*aTile=*/0, kSliceBytes, leader,
                    gather ? StageHook(gatherHook) : StageHook(), kWBoxRows,
                    Value(), tail);
                return next;
              },
              [&](OpBuilder &eb, Value t2) -> Value {
                auto d = decode(eb, t2, cols2);
                mk::WaitCounterOp::create(eb, l, ready, readyIndex(eb, d),
                                          idx(eb, 2 * cols1));
                auto [base, second] = gemm2Boxes(eb, d);
                TailBox tail;
                if (absorb)
                  tail = {tmapActTail, hasTail(eb, d), 2, kTailRows};
                Value next = buildTileLoads(
                    eb, l, ring, tmapAct, d.getRow(), d.getRowEnd(), 128,
                    tmapW2, {base, second}, slices2, iter, streamWeights, t,
                    kTileK, /*boxPerTile=*/false, bTile, bRowBytes, bPacked,
                    /*aTile=*/0, kSliceBytes, leader,
                    gather ? StageHook(arrive) : StageHook(), kWBoxRows,
                    Value(), tail);
                return next;
              });
        },
        /*producerWarp=*/gather);
    buildStopMark(b, loc, ring, last, total, leader);
    timers.stamp(b, loc, 2);
    // Warps 1 and 2: the relays of MMA warpgroups 1 and 2's signals.
    if (relay) {
      OpBuilder rb = OpBuilder::atBlockEnd(producerRole);
      for (int64_t w = 1; w <= 2; ++w) {
        Value inWarp = mk::InWarpOp::create(rb, loc, rb.getI1Type(),
                                            rb.getI64IntegerAttr(w));
        auto ifOp = scf::IfOp::create(rb, loc, inWarp, false);
        OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
        mk::SignalRelayOp::create(tb, loc, ready, tb.getI64IntegerAttr(w));
      }
    }
  }

  // Phase 4: each token's rows of y summed (the threads of warpgroups 1
  // and 2).
  auto combine = [&](OpBuilder &ob) {
    Value combineWeights =
        op.getRouterWeight() == RouterWeight::in_combine ? weights : Value();
    mk::CombineOp::create(ob, loc, y, slotRows, combineWeights, out, tokens,
                          ob.getI64IntegerAttr(k), ob.getI64IntegerAttr(h),
                          TypeAttr::get(yElem), TypeAttr::get(outElem),
                          ob.getI64IntegerAttr(128), ob.getI64IntegerAttr(256));
  };
  if (single) {
    // The MMA issuer (128 x 256 MMAs, a GEMM1 or GEMM2 tile's stages) and
    // the epilogue, warpgroups 1 and 2, half of each tile's columns each:
    // GEMM1 tiles end with the activation (64 of the 128 output columns a
    // warpgroup) and a signal, GEMM2 tiles store rows of y (128 columns a
    // warpgroup). Then, after every CTA's last tile, the combine.
    Value rw = op.getRouterWeight() == RouterWeight::before_down ? rowWeights
                                                                 : Value();
    buildFusedTmemRoles(
        b, loc, ring, total, n1, slices1, slices2, 256, /*blockScales=*/false,
        barrier,
        [&](OpBuilder &tb, Value t, Value accs, Value j, Value wg) {
          auto d = decode(tb, t, cols1);
          Value first = arith::MulIOp::create(tb, loc, wg, idx(tb, 64));
          auto store = mk::AccStoreActRowsOp::create(
              tb, loc, accs, j, first, tb.getI64IntegerAttr(64), act,
              d.getRow(),
              arith::AddIOp::create(
                  tb, loc,
                  arith::MulIOp::create(tb, loc, d.getColTile(), idx(tb, 128)),
                  first),
              d.getRowEnd(), rw, /*out_scales=*/Value(), w13Bias,
              w13Bias ? d.getExpert() : Value(),
              tb.getStringAttr(stringifyActivationKind(op.getActivation())),
              tb.getStringAttr(interleaved ? "interleaved" : "concat"),
              TypeAttr::get(op.getGemm1Type()), TypeAttr::get(tb.getBF16Type()),
              tb.getI64IntegerAttr(i), FloatAttr(), FloatAttr(),
              w13Bias ? TypeAttr::get(biasElementType(op.getW13Bias()))
                      : TypeAttr(),
              w13Bias ? tb.getI64IntegerAttr(2 * i) : IntegerAttr());
          if (FloatAttr alpha = op.getAlphaAttr())
            store.setAlphaAttr(alpha);
          if (FloatAttr limit = op.getLimitAttr())
            store.setLimitAttr(limit);
          mk::SignalOp::create(tb, loc, ready, readyIndex(tb, d));
        },
        [&](OpBuilder &eb, Value t2, Value accs, Value j, Value wg) {
          auto d = decode(eb, t2, cols2);
          Value first = arith::MulIOp::create(eb, loc, wg, idx(eb, 128));
          mk::AccStoreRowsOp::create(
              eb, loc, accs, j, first, eb.getI64IntegerAttr(128), y, d.getRow(),
              arith::AddIOp::create(
                  eb, loc,
                  arith::MulIOp::create(eb, loc, d.getColTile(), idx(eb, 256)),
                  first),
              d.getRowEnd(), w2Bias, w2Bias ? d.getExpert() : Value(),
              TypeAttr::get(yElem), eb.getI64IntegerAttr(h),
              w2Bias ? TypeAttr::get(biasElementType(op.getW2Bias()))
                     : TypeAttr(),
              w2Bias ? eb.getI64IntegerAttr(h) : IntegerAttr());
        },
        combine);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }

  // Consumers: warpgroups 1 and 2, half of each tile's rows each. GEMM1
  // tiles end with the activation and a signal; GEMM2 tiles store rows of
  // y. Then, after every CTA's last tile, the combine.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "consumer", 1, 2, producerRegs == 40 ? 232 : 224);
    Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
    Value aRow = arith::MulIOp::create(b, loc, wg, idx(b, 64));
    Value rw = op.getRouterWeight() == RouterWeight::before_down ? rowWeights
                                                                 : Value();
    Value wgStaging, storeBarrier;
    if (yTma)
      std::tie(wgStaging, storeBarrier) =
          warpgroupStaging(b, loc, yStaging, wg, yHalves);
    Type g1 = op.getGemm1Type();
    StringRef actName = stringifyActivationKind(op.getActivation());
    FloatAttr alpha = op.getAlphaAttr(), limit = op.getLimitAttr();
    // A small tile's two products (64 weight rows by kSmallRows tokens
    // each) into the 64 x 256 accumulator through transposeBuf: warpgroup
    // w's products are columns 128 w + 64 f, 64 values a thread of the
    // target fragment further (2048 floats); both warpgroups store, then
    // the first one's rows are loaded.
    auto smallBuf = [&](OpBuilder &bb) -> Value {
      return LLVM::GEPOp::create(
          bb, loc, transposeBuf.getType(), bb.getF32Type(), transposeBuf,
          ValueRange{arith::IndexCastUIOp::create(
              bb, loc, bb.getI64Type(),
              arith::MulIOp::create(bb, loc, wg,
                                    idx(bb, 64 * 2 * kSmallRows)))});
    };
    auto backFromSmall = [&](OpBuilder &bb, ArrayRef<Value> products) -> Value {
      return transposeBack(bb, loc, products, {}, smallBuf(bb), transposeBuf,
                           kTransposeBarrier, 256, accType);
    };
    // With bf16 weights the buffer is y's staging: both warpgroups' stores
    // of y have read it before either writes its products there.
    auto stashInStaging = [&](OpBuilder &bb, ArrayRef<Value> products) {
      mk::StoreAccTmaWaitOp::create(bb, loc, /*read=*/true);
      mk::BarrierSyncOp::create(bb, loc,
                                bb.getI64IntegerAttr(kTransposeBarrier),
                                bb.getI64IntegerAttr(256));
      storeTransposed(bb, loc, products, {}, smallBuf(bb));
    };
    // This warpgroup's two 64-row blocks of tile 1's weight rows (wgmma's A
    // in the transposed products).
    auto weightBlocks = [&](OpBuilder &bb) -> SmallVector<Value> {
      Value first = arith::MulIOp::create(bb, loc, wg, idx(bb, 128));
      return {first, arith::AddIOp::create(bb, loc, first, idx(bb, 64))};
    };
    // A small tile (smallTiles): this warpgroup's 128 weight rows (tile 2
    // rows from 128 wg, the box from `firstRow` in the scales' rows) times
    // the tile's first kSmallRows token rows, accumulated over the K
    // slices; then transposed back into a 64 x 256 accumulator (rows past
    // kSmallRows 0), the first warpgroup's rows. Both warpgroups take this
    // path for the same tiles (the row count decides).
    auto smallTileMmas = [&](OpBuilder &bb, Value scales, Value firstRow,
                             int64_t scaleRows, int64_t kDim, Value slices,
                             Value iter) -> std::pair<Value, Value> {
      Location l = loc;
      auto small = mk::AccType::get(ctx, 64, kSmallRows, bb.getF32Type());
      auto quad = VectorType::get({4}, bb.getI32Type());
      Value c0 = idx(bb, 0), c1 = idx(bb, 1);
      Value lastSlice = arith::SubIOp::create(bb, l, slices, c1);
      auto sliceScales = [&](OpBuilder &ib, Value slice) -> Value {
        auto load = mk::LoadFp4SliceScalesOp::create(
            ib, l, quad, scales, firstRow, slice,
            ib.getI64IntegerAttr(scaleRows),
            ib.getI64IntegerAttr(kDim / (nvfp4 ? 16 : 32)));
        load.setNvfp4(nvfp4);
        return load;
      };
      Value zero = mk::MmaZeroOp::create(bb, l, small);
      Value aRowPacked = arith::MulIOp::create(bb, l, wg, idx(bb, 128));
      // One stage at a time: its MMAs, the next stage's scales loaded
      // meanwhile, the wait, the release. (Keeping one stage's MMAs in
      // flight while the next is expanded gave wrong results on the H200,
      // most likely because wgmma reads its A registers asynchronously and
      // nothing kept the next expansion out of them;
      // bench/results/2026-12-03-fused-moe-fp4-small-tiles-h200.md.)
      auto loop = scf::ForOp::create(
          bb, l, c0, slices, c1,
          ValueRange{zero, zero, sliceScales(bb, c0), iter},
          [&](OpBuilder &ib, Location il, Value ks, ValueRange it) {
            Value i = it[3];
            mk::RingWaitOp::create(ib, il, ring, i);
            auto mma = mk::MmaFp4Bf16Op::create(
                ib, il, TypeRange{small, small}, ring, i,
                ib.getI64IntegerAttr(2), aRowPacked, ib.getI64IntegerAttr(0),
                ValueRange{it[0], it[1]}, it[2]);
            mma.setNvfp4(nvfp4);
            Value next = sliceScales(
                ib,
                arith::MinUIOp::create(
                    ib, il, arith::AddIOp::create(ib, il, ks, c1), lastSlice));
            SmallVector<Value> results;
            for (int64_t f = 0; f < 2; ++f)
              results.push_back(mk::MmaWaitOp::create(ib, il, mma.getResult(f),
                                                      ib.getI64IntegerAttr(0)));
            mk::RingReleaseOp::create(ib, il, ring, i);
            results.push_back(next);
            results.push_back(arith::AddIOp::create(ib, il, i, c1));
            scf::YieldOp::create(ib, il, results);
          });
      disableUnroll(loop);
      SmallVector<Value> products{loop.getResult(0), loop.getResult(1)};
      // NVFP4: the products were 2^-9 times the exact ones.
      if (nvfp4) {
        Value twoTo9 =
            arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(512.0f));
        for (Value &p : products)
          p = mk::AccScaleOp::create(bb, l, p, twoTo9);
      }
      return {backFromSmall(bb, products), loop.getResult(3)};
    };
    // A small tile with bf16 weights: this warpgroup's 128 weight rows
    // (tile 1 from row 128 wg, two 64-row A blocks) by the tile's first
    // kSmallRows token rows (tile 0), then back through y's staging into
    // a 64 x 256 accumulator as above.
    auto bf16SmallTileMmas = [&](OpBuilder &bb, Value slices,
                                 Value iter) -> std::pair<Value, Value> {
      auto [products, next] =
          buildMmaLoop(bb, loc, ring, tailAcc, weightBlocks(bb), slices, iter,
                       /*pipelined=*/true, nullptr, /*cols=*/0, /*aTile=*/1,
                       /*bTile=*/0);
      stashInStaging(bb, products);
      return {loadTransposed(bb, loc, kSmallRows, transposeBuf,
                             kTransposeBarrier, 256, accType),
              next};
    };
    // The MMAs of a tile: buildTileMmas, or with smallTiles the transposed
    // product when the tile has at most kSmallRows rows. `onFull`: what a
    // warpgroup does with each full stage before its MMAs (the expansion
    // of packed weights). `boxes` are the first weight rows of tile 2's two
    // 128-row halves.
    // A GEMM's last column tile narrower than the tile (`validRows` of
    // tile 1's rows, the output's columns left; 0: none) takes narrower
    // MMAs.
    auto narrowLast = [&](OpBuilder &tb, mk::GroupedTileOp d, int64_t tiles,
                          int64_t validRows) {
      return narrowLastTile(tb, loc, d.getColTile(), tiles,
                            narrowTiles ? validRows : 0);
    };
    auto tileMmas =
        [&](OpBuilder &tb, mk::GroupedTileOp d, Value row, Value slices,
            Value iter, StageHook onFull, Value scales,
            std::pair<Value, Value> boxes, int64_t scaleRows, int64_t kDim,
            NarrowTile narrow) -> std::pair<SmallVector<Value>, Value> {
      Location l = loc;
      auto big = [&](OpBuilder &ob) {
        return buildTileMmas(ob, l, ring, accType, aRow, row, d.getRowEnd(), 1,
                             slices, iter, /*pipelined=*/true, onFull, narrow);
      };
      if (!smallTiles)
        return big(tb);
      Value few = arith::CmpIOp::create(
          tb, l, arith::CmpIPredicate::ule, d.getRowEnd(),
          arith::AddIOp::create(tb, l, d.getRow(), idx(tb, kSmallRows)));
      // With absorbed tails, the tile's accumulator and the tail's two
      // transposed products (zero where the tile has no tail).
      SmallVector<Type> types{accType};
      if (absorb)
        types.append(2, tailAcc);
      types.push_back(tb.getIndexType());
      auto ifOp = scf::IfOp::create(tb, l, types, few, true);
      auto yieldWithTail = [&](OpBuilder &yb, ArrayRef<Value> accs,
                               Value next) {
        SmallVector<Value> yield(accs);
        if (absorb && accs.size() == 1)
          yield.append(2, mk::MmaZeroOp::create(yb, l, tailAcc));
        yield.push_back(next);
        scf::YieldOp::create(yb, l, yield);
      };
      if (bf16Small) {
        OpBuilder sb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        auto [acc, next] = bf16SmallTileMmas(sb, slices, iter);
        yieldWithTail(sb, {acc}, next);
      } else {
        OpBuilder sb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        Value firstRow = arith::SelectOp::create(
            sb, l,
            arith::CmpIOp::create(sb, l, arith::CmpIPredicate::eq, wg,
                                  idx(sb, 0)),
            boxes.first, boxes.second);
        auto [acc, next] =
            smallTileMmas(sb, scales, firstRow, scaleRows, kDim, slices, iter);
        scf::YieldOp::create(sb, l, ValueRange{acc, next});
      }
      OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
      if (absorb) {
        // A tile with a tail: its 128 rows as above and, in the same
        // stages, this warpgroup's 128 weight rows by the tail's rows
        // (tile 2), two 64 x kSmallRows products.
        auto tailIf = scf::IfOp::create(eb, l, types, hasTail(eb, d), true);
        {
          OpBuilder wb = OpBuilder::atBlockEnd(tailIf.thenBlock());
          SmallVector<Value> blocks = weightBlocks(wb);
          auto [accs, next] = buildMmaSpecLoop(
              wb, l, ring,
              {MmaSpec{accType, 0, aRow, 1}, MmaSpec{tailAcc, 1, blocks[0], 2},
               MmaSpec{tailAcc, 1, blocks[1], 2}},
              slices, iter, /*pipelined=*/true, onFull);
          yieldWithTail(wb, accs, next);
        }
        {
          OpBuilder nb = OpBuilder::atBlockEnd(tailIf.elseBlock());
          auto [accs, next] = big(nb);
          yieldWithTail(nb, {accs[0]}, next);
        }
        scf::YieldOp::create(eb, l, tailIf.getResults());
      } else {
        auto [accs, next] = big(eb);
        scf::YieldOp::create(eb, l, ValueRange{accs[0], next});
      }
      return {SmallVector<Value>(ifOp.getResults().drop_back()),
              ifOp.getResults().back()};
    };
    // An absorbed tail's end, in two parts: its two products stored
    // transposed into y's staging (once both warpgroups' TMA stores of y
    // have read it; GEMM1 before its own rows' epilogue, which leaves the
    // staging alone, so that the products' registers are free for it),
    // then back into a 64 x 256 accumulator, `finish`ed by the first
    // warpgroup (the tail's rows from the tile's row + 128).
    // `tail`: hasTail of the tile (null without absorbed tails).
    auto tailStash = [&](OpBuilder &tb, Value tail, ArrayRef<Value> accs) {
      if (!tail)
        return;
      auto ifOp = scf::IfOp::create(tb, loc, tail, false);
      OpBuilder bb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      stashInStaging(bb, {accs[1], accs[2]});
    };
    auto tailFinish =
        [&](OpBuilder &tb, mk::GroupedTileOp d, Value tail,
            function_ref<void(OpBuilder &, Value, Value)> finish) {
          if (!tail)
            return;
          auto ifOp = scf::IfOp::create(tb, loc, tail, false);
          OpBuilder bb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          Value acc = loadTransposed(bb, loc, kSmallRows, transposeBuf,
                                     kTransposeBarrier, 256, accType);
          auto only = scf::IfOp::create(
              bb, loc,
              arith::CmpIOp::create(bb, loc, arith::CmpIPredicate::eq, wg,
                                    idx(bb, 0)),
              false);
          OpBuilder ob = OpBuilder::atBlockTerminator(only.thenBlock());
          finish(ob, acc,
                 arith::AddIOp::create(ob, loc, d.getRow(), idx(ob, 128)));
        };
    // The first MMA warpgroup's tile parts (PhaseTimers; no prologue, no
    // exchange: slots 7 and 13 stay zero).
    Value firstWg =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, idx(b, 0));
    timers.stamp(b, loc, 6, firstWg, "sub");
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, total, /*producer=*/false,
        [&](OpBuilder &ob, Value t, Value iter) -> Value {
          Location l = loc;
          timers.turn(ob, l, 6, 8, firstWg);
          timers.traceTile(ob, l, t, 1, firstWg, isGemm1Tag(ob, l, t, n1));
          Value tileEnd = buildPerGemm(
              ob, l, t, n1,
              [&](OpBuilder &tb, Value t1) -> Value {
                timers.stamp(tb, l, 12, firstWg, "sub");
                timers.stamp(tb, l, 11, firstWg, "count");
                auto d = decode(tb, t1, cols1);
                Value row = arith::AddIOp::create(tb, l, d.getRow(), aRow);
                // MXFP4: the scales of the rows the producer loaded (named
                // values: the lambda below captures them).
                std::pair<Value, Value> boxes = gemm1Boxes(tb, d);
                Value base = boxes.first, up = boxes.second;
                auto dequant = [&](OpBuilder &hb, Location hl, Value st,
                                   Value ks) {
                  expandWeights(hb, hl, ring, st, ks, w13Scales, base, up,
                                e * 2 * i, h, nvfp4, mxfp8W);
                };
                // Interleaved gate/up: the last tile's valid weight rows
                // are the first ones (concatenated, its gate and up boxes
                // both run past their halves: all MMAs).
                auto [accs, next] = tileMmas(
                    tb, d, row, slices1, iter,
                    packed ? StageHook(dequant) : StageHook(), w13Scales, boxes,
                    e * 2 * i, h,
                    narrowLast(tb, d, cols1, interleaved ? (2 * i) % 256 : 0));
                timers.turn(tb, l, 8, 9, firstWg);
                // NVFP4's global scale; the bias of the tile's gate and
                // up rows (interleaved: 256 consecutive rows; I a multiple
                // of 128: every tile's rows lie in the row).
                Value first, upper;
                if (w13Bias) {
                  first = arith::MulIOp::create(
                      tb, l, d.getColTile(), idx(tb, interleaved ? 256 : 128));
                  upper = arith::AddIOp::create(tb, l, first,
                                                idx(tb, interleaved ? 128 : i));
                }
                // The bias, then the activation of rows from `at`.
                auto storeAct = [&](OpBuilder &sb, Value acc, Value at) {
                  SmallVector<Value> one{acc};
                  scaleAndAddBias(sb, l, one, w13Global, w13Bias,
                                  op.getW13Bias(), d.getExpert(), first, upper,
                                  i % 128 == 0);
                  auto store = mk::StoreActOp::create(
                      sb, l, one[0], act, at,
                      arith::MulIOp::create(sb, l, d.getColTile(),
                                            idx(sb, 128)),
                      d.getRowEnd(), rw, sb.getStringAttr(actName),
                      sb.getStringAttr(interleaved ? "interleaved" : "concat"),
                      TypeAttr::get(g1), TypeAttr::get(sb.getBF16Type()),
                      sb.getI64IntegerAttr(i), FloatAttr(), FloatAttr());
                  if (alpha)
                    store.setAlphaAttr(alpha);
                  if (limit)
                    store.setLimitAttr(limit);
                  // MXFP8 activations (act_quant): rounded per 1x32 block.
                  store.setMxRound(bool(op.getActQuantAttr()));
                  store.setApprox(approxActivation);
                };
                timers.stamp(tb, l, 14, firstWg, "sub");
                Value tail = absorb ? hasTail(tb, d) : Value();
                tailStash(tb, tail, accs);
                storeAct(tb, accs[0], row);
                tailFinish(tb, d, tail,
                           [&](OpBuilder &sb, Value acc, Value at) {
                             storeAct(sb, acc, at);
                           });
                timers.turn(tb, l, 14, 15, firstWg);
                mk::SignalOp::create(tb, l, ready, readyIndex(tb, d))
                    .setRelayed(relay);
                timers.stamp(tb, l, 15, firstWg, "add");
                timers.stamp(tb, l, 12, firstWg, "add");
                return next;
              },
              [&](OpBuilder &eb, Value t2) -> Value {
                auto d = decode(eb, t2, cols2);
                Value row = arith::AddIOp::create(eb, l, d.getRow(), aRow);
                std::pair<Value, Value> boxes = gemm2Boxes(eb, d);
                Value base = boxes.first, second = boxes.second;
                auto dequant = [&](OpBuilder &hb, Location hl, Value st,
                                   Value ks) {
                  expandWeights(hb, hl, ring, st, ks, w2Scales, base, second,
                                e * h, i, nvfp4, mxfp8W);
                };
                auto [accs, next] = tileMmas(
                    eb, d, row, slices2, iter,
                    packed ? StageHook(dequant) : StageHook(), w2Scales, boxes,
                    e * h, i, narrowLast(eb, d, cols2, h % 256));
                timers.turn(eb, l, 8, 9, firstWg);
                Value col =
                    arith::MulIOp::create(eb, l, d.getColTile(), idx(eb, 256));
                // The bias, then the rows of y from `at`.
                auto storeY = [&](OpBuilder &sb, Value acc, Value at) {
                  SmallVector<Value> one{acc};
                  scaleAndAddBias(sb, l, one, w2Global, w2Bias, op.getW2Bias(),
                                  d.getExpert(), col, Value(), h % 256 == 0);
                  if (yTma)
                    mk::StoreAccTmaOp::create(
                        sb, l, one[0], tmapY, wgStaging, y, at, col,
                        d.getRowEnd(), storeBarrier,
                        sb.getI64IntegerAttr(yHalves), sb.getI64IntegerAttr(h));
                  else
                    ep.storeRows(sb, l, one, y, at, col, d.getRowEnd(), yElem,
                                 h);
                };
                storeY(eb, accs[0], row);
                Value tail = absorb ? hasTail(eb, d) : Value();
                tailStash(eb, tail, accs);
                tailFinish(eb, d, tail, storeY);
                return next;
              });
          timers.traceTile(ob, l, t, 2, firstWg);
          timers.turn(ob, l, 9, 6, firstWg);
          timers.stamp(ob, l, 10, firstWg, "count");
          return tileEnd;
        });
    timers.stamp(b, loc, 6, firstWg, "add");
    // The stop mark's stage.
    mk::RingReleaseOp::create(b, loc, ring, last);
    if (relay)
      mk::SignalEndOp::create(b, loc);
    // y's rows stored by TMA are complete before grid barrier 3.
    if (yTma)
      mk::StoreAccTmaWaitOp::create(b, loc);
    timers.stamp(b, loc, 3, firstWg);
    if (commOnly)
      mk::ReturnRowsOp::create(b, loc, rows, offsets, ep.rowSlots, ep.rowRanks,
                               ep.bases, ep.rank, y, b.getI64IntegerAttr(e),
                               b.getI64IntegerAttr(h), b.getI64IntegerAttr(128),
                               b.getI64IntegerAttr(256));
    // Phase 3: every row of y is stored (grid barrier 3, or 2, consumers
    // only).
    mk::GridBarrierOp::create(b, loc, barrier, b.getI64IntegerAttr(lastBarrier),
                              b.getI64IntegerAttr(4), b.getI64IntegerAttr(256));
    ep.advanceBase(b, loc, ctaId);
    ep.awaitResults(b, loc, ctaId);
    timers.stamp(b, loc, 4, firstWg);
    combine(b);
    timers.stamp(b, loc, 5, firstWg);
  }
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

namespace {

/// The entry of a fused kernel with the FP8 parameter layout (four TMA
/// descriptors: w13, w2, the routed rows, the activation; x, topk_ids,
/// topk_weights; w13_scales, w2_scales; out; the workspace; T), and the
/// parts of its workspace `ws` it reads; `b` is left at the start of the
/// entry block (the caller's insertion guard restores it).
struct FusedFp8Entry {
  LLVM::LLVMFuncOp func;
  Value tmapW13, tmapW2, tmapRows, tmapAct, tmapY, x, ids, weights, w13Scales,
      w2Scales, out, wsBase, tokens;
  Value nextTile, barrier, counts, cursor, ready, offsets, slotRows, rowWeights,
      rows, rowScales, act, actScales, y;
};
FusedFp8Entry beginFusedFp8Kernel(OpBuilder &b, Location loc, StringRef name,
                                  ArrayRef<Type> params, ArrayAttr abi,
                                  const FusedWorkspace &ws, int64_t maxTokens,
                                  bool yTma = false) {
  FusedFp8Entry k;
  unsigned numTma = yTma ? 5 : 4;
  k.func = createKernelFunc(b, loc, name, params, numTma, abi,
                            fusedWorkspaceAttrs(b, ws, maxTokens));
  Block *entry = k.func.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  auto arg = [&](unsigned i) { return entry->getArgument(i); };
  k.tmapW13 = arg(0);
  k.tmapW2 = arg(1);
  k.tmapRows = arg(2);
  k.tmapAct = arg(3);
  if (yTma)
    k.tmapY = arg(4);
  // The parameters after the descriptors.
  auto after = [&](unsigned i) { return arg(numTma + i); };
  k.x = after(0);
  k.ids = after(1);
  k.weights = after(2);
  k.w13Scales = after(3);
  k.w2Scales = after(4);
  k.out = after(5);
  k.wsBase = after(6);
  k.tokens = arith::IndexCastUIOp::create(b, loc, b.getIndexType(), after(7));
  auto at = [&](int64_t offset) {
    return workspacePart(b, loc, k.wsBase, offset);
  };
  k.nextTile = at(ws.nextTile);
  k.barrier = at(ws.barrier);
  k.counts = at(ws.counts);
  k.cursor = at(ws.cursor);
  k.ready = at(ws.ready);
  k.offsets = at(ws.offsets);
  k.slotRows = at(ws.slotRows);
  k.rowWeights = at(ws.rowWeights);
  k.rows = at(ws.rows);
  k.rowScales = at(ws.rowScales);
  k.act = at(ws.act);
  k.actScales = at(ws.actScales);
  k.y = at(ws.y);
  return k;
}

} // namespace

bool isMxfp8Mxfp4Layer(FusedMoEOp op) {
  auto is = [](QuantAttr q, QuantScheme scheme) {
    return isBlockQuant(q, scheme, 1, 32);
  };
  return is(op.getXQuantAttr(), QuantScheme::mxfp8) &&
         is(op.getActQuantAttr(), QuantScheme::mxfp8) &&
         is(op.getW13QuantAttr(), QuantScheme::mxfp4) &&
         is(op.getW2QuantAttr(), QuantScheme::mxfp4);
}

LLVM::LLVMFuncOp buildFusedMxKernel(OpBuilder &b, Location loc, StringRef name,
                                    FusedMoEOp op, int64_t stages,
                                    int64_t maxTokens, bool streamWeights) {
  MLIRContext *ctx = b.getContext();
  constexpr int64_t kTile = 128, kHalf = 64;
  RankedTensorType w13 = op.getW13().getType(), w2 = op.getW2().getType();
  int64_t e = w13.getDimSize(0), h = w13.getDimSize(2), i = w2.getDimSize(2);
  int64_t k = op.getIds().getType().getDimSize(1);
  int64_t maxRows = maxTokens * k;
  Type yElem = op.getGemm2Type();
  Type outElem = op.getOut().getType().getElementType();
  // The FP8 layout: e4m3 rows and activations, and scale arrays of h / 32
  // and i / 32 bytes a row (its 1x128 f32 scales' sizes).
  FusedWorkspace ws(e, h, i, maxRows, yElem.isBF16() ? 2 : 4,
                    /*withTimers=*/false, /*fp8=*/true);
  int64_t cols1 = i / kHalf, cols2 = h / kTile;
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  SmallVector<Type> params{ptr,  ptr,  ptr,  ptr,  gptr, gptr,
                           gptr, gptr, gptr, gptr, gptr, b.getI32Type()};
  ArrayAttr abi = buildFusedAbi(b, e, h, i, maxRows, ws, /*fp8=*/true,
                                /*fp4=*/true, 0, /*paddedFp4=*/true);
  OpBuilder::InsertionGuard guard(b);
  FusedFp8Entry kern =
      beginFusedFp8Kernel(b, loc, name, params, abi, ws, maxTokens);
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };

  // Phase 1: the routed rows, quantized to MXFP8 (grid barriers 1, 2).
  auto dispatch = mk::DispatchOp::create(
      b, loc, kern.x, kern.ids, kern.weights, kern.tokens, kern.counts,
      kern.cursor, kern.offsets, kern.slotRows, kern.rowWeights, kern.rows,
      /*row_tokens=*/Value(), kern.barrier, kern.rowScales,
      /*rows_ready=*/Value(),
      /*offsets_ready=*/Value(), b.getI64IntegerAttr(e), b.getI64IntegerAttr(k),
      b.getI64IntegerAttr(h), b.getI64IntegerAttr(1));
  dispatch.setMxRound(true);

  auto i8 = b.getIntegerType(8);
  auto tile = [&](int64_t cols, Type elem) {
    return MemRefType::get({kTile, cols}, elem, AffineMap(),
                           b.getI64IntegerAttr(3));
  };
  auto ringType =
      mk::RingType::get(ctx, stages,
                        {tile(kTileKFp8, b.getType<Float8E4M3FNType>()),
                         tile(kTileKFp8, i8), tile(4, i8), tile(4, i8)});
  auto alloc =
      mk::RingAllocOp::create(b, loc, ringType, b.getI64IntegerAttr(1));
  alloc.setProducers(33);
  Value ring = alloc;

  // Phase 2: the tiles of GEMM1 then those of GEMM2, one list.
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(kTile);
  Value n1 = mk::GroupedTileCountOp::create(b, loc, b.getIndexType(),
                                            kern.offsets, numE, tileRows,
                                            b.getI64IntegerAttr(cols1));
  Value n2 = mk::GroupedTileCountOp::create(b, loc, b.getIndexType(),
                                            kern.offsets, numE, tileRows,
                                            b.getI64IntegerAttr(cols2));
  Value total = arith::AddIOp::create(b, loc, n1, n2);
  int64_t rowGroup = std::clamp<int64_t>(
      (int64_t(16) << 20) / std::max<int64_t>(1, kTile * h), 1, 8);
  auto decode = [&](OpBuilder &ob, Value t, int64_t cols) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, kern.offsets, t, numE,
                                     tileRows, ob.getI64IntegerAttr(cols),
                                     ob.getI64IntegerAttr(rowGroup));
  };
  auto readyIndex = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    return arith::AddIOp::create(
        ob, loc, arith::DivUIOp::create(ob, loc, d.getRow(), idx(ob, kTile)),
        d.getExpert());
  };
  bool interleaved = op.getGateUpLayout() == GateUpLayout::interleaved;
  Value slices1 = idx(b, h / kTileKFp8), slices2 = idx(b, i / kTileKFp8);

  // Producer warp.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, 80);
    Value leader = beginProducerThreads(b, loc, /*warp=*/true);
    // One GEMM's tile: A from `tmapA` with its scales `aScales`, B's two
    // 64-row boxes from `first` and `second` of `tmapB` with their scales
    // (`upper`: the second box's scale rows are not after the first's).
    auto gemmTile = [&](OpBuilder &tb, Value t, Value iter, mk::GroupedTileOp d,
                        Value tmapA, Value aScales, Value tmapB, Value bScales,
                        Value first, Value second, bool upper, int64_t kDim,
                        int64_t bRowsTotal, Value slices) -> Value {
      return buildBlockScaledTileLoads(
          tb, loc, ring, leader, t, iter, tmapA, aScales, d.getRow(),
          d.getRowEnd(), tmapB, bScales, {first, second}, kHalf, upper,
          bRowsTotal, kDim, slices, streamWeights);
    };
    Value last = buildScheduledTiles(
        b, loc, ring, kern.nextTile, total, /*producer=*/true,
        [&](OpBuilder &ob, Value t, Value iter) -> Value {
          return buildPerGemm(
              ob, loc, t, n1,
              [&](OpBuilder &tb, Value t1) -> Value {
                auto d = decode(tb, t1, cols1);
                // Two boxes of 64 rows (gate and up, or 64 pairs).
                auto [base, second] =
                    gemm1WeightBoxes(tb, loc, d.getExpert(), d.getColTile(), i,
                                     kHalf, interleaved);
                return gemmTile(tb, t, iter, d, kern.tmapRows, kern.rowScales,
                                kern.tmapW13, kern.w13Scales, base, second,
                                !interleaved, h, e * 2 * i, slices1);
              },
              [&](OpBuilder &eb, Value t2) -> Value {
                auto d = decode(eb, t2, cols2);
                // Every lane: its copies read the activation's scales.
                mk::WaitCounterOp::create(
                    eb, loc, kern.ready, readyIndex(eb, d), idx(eb, 2 * cols1));
                Value base = arith::AddIOp::create(
                    eb, loc,
                    arith::MulIOp::create(eb, loc, d.getExpert(), idx(eb, h)),
                    arith::MulIOp::create(eb, loc, d.getColTile(),
                                          idx(eb, kTile)));
                return gemmTile(
                    eb, t, iter, d, kern.tmapAct, kern.actScales, kern.tmapW2,
                    kern.w2Scales, base,
                    arith::AddIOp::create(eb, loc, base, idx(eb, kHalf)),
                    /*upper=*/false, i, e * h, slices2);
              });
        },
        /*producerWarp=*/true);
    buildStopMark(b, loc, ring, last, total, leader);
  }

  // MMA issuer and epilogue; then phase 4: each token's rows of y summed.
  Value rw = op.getRouterWeight() == RouterWeight::before_down ? kern.rowWeights
                                                               : Value();
  buildFusedTmemRoles(
      b, loc, ring, total, n1, slices1, slices2, kTile, /*blockScales=*/true,
      kern.barrier,
      [&](OpBuilder &tb, Value t, Value accs, Value j, Value wg) {
        auto d = decode(tb, t, cols1);
        Value first = arith::MulIOp::create(tb, loc, wg, idx(tb, kHalf / 2));
        auto store = mk::AccStoreActRowsOp::create(
            tb, loc, accs, j, first, tb.getI64IntegerAttr(kHalf / 2), kern.act,
            d.getRow(),
            arith::AddIOp::create(
                tb, loc,
                arith::MulIOp::create(tb, loc, d.getColTile(), idx(tb, kHalf)),
                first),
            d.getRowEnd(), rw, kern.actScales, /*bias=*/Value(),
            /*bias_row=*/Value(),
            tb.getStringAttr(stringifyActivationKind(op.getActivation())),
            tb.getStringAttr(interleaved ? "interleaved" : "concat"),
            TypeAttr::get(op.getGemm1Type()),
            TypeAttr::get(tb.getType<Float8E4M3FNType>()),
            tb.getI64IntegerAttr(i), FloatAttr(), FloatAttr(), TypeAttr(),
            IntegerAttr());
        if (FloatAttr alpha = op.getAlphaAttr())
          store.setAlphaAttr(alpha);
        if (FloatAttr limit = op.getLimitAttr())
          store.setLimitAttr(limit);
        mk::SignalOp::create(tb, loc, kern.ready, readyIndex(tb, d));
      },
      [&](OpBuilder &eb, Value t2, Value accs, Value j, Value wg) {
        auto d = decode(eb, t2, cols2);
        Value first = arith::MulIOp::create(eb, loc, wg, idx(eb, kHalf));
        mk::AccStoreRowsOp::create(
            eb, loc, accs, j, first, eb.getI64IntegerAttr(kHalf), kern.y,
            d.getRow(),
            arith::AddIOp::create(
                eb, loc,
                arith::MulIOp::create(eb, loc, d.getColTile(), idx(eb, kTile)),
                first),
            d.getRowEnd(), /*bias=*/Value(), /*bias_row=*/Value(),
            TypeAttr::get(yElem), eb.getI64IntegerAttr(h), TypeAttr(),
            IntegerAttr());
      },
      [&](OpBuilder &ob) {
        mk::CombineOp::create(ob, loc, kern.y, kern.slotRows,
                              op.getRouterWeight() == RouterWeight::in_combine
                                  ? kern.weights
                                  : Value(),
                              kern.out, kern.tokens, ob.getI64IntegerAttr(k),
                              ob.getI64IntegerAttr(h), TypeAttr::get(yElem),
                              TypeAttr::get(outElem), ob.getI64IntegerAttr(128),
                              ob.getI64IntegerAttr(256));
      });
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return kern.func;
}

LLVM::LLVMFuncOp buildFusedFp8Kernel(
    OpBuilder &b, Location loc, StringRef name, FusedMoEOp op, int64_t stages,
    int64_t maxTokens, bool streamWeights, bool transposedSmallTiles,
    int64_t fp4StepsPerFence, bool blockScaled, bool phaseTimers, bool storeTma,
    bool dispatchReadiness, bool approxActivation, int64_t fp8TileRows,
    bool gatherRows, StringRef gatherHint, bool stagedScales) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType w13 = op.getW13().getType(), w2 = op.getW2().getType();
  int64_t e = w13.getDimSize(0), h = w13.getDimSize(2), i = w2.getDimSize(2);
  int64_t k = op.getIds().getType().getDimSize(1);
  // Expert parallelism: as in buildFusedKernel.
  ExpertParallel ep(op);
  int64_t maxRows = maxTokens * k * ep.ranks;
  Type yElem = op.getGemm2Type();
  Type outElem = op.getOut().getType().getElementType();
  // GEMM1's rows gathered by the producer warp (moek.gather_rows), as in
  // buildFusedKernel: FP8 weights on one GPU, top_k 2 to 32. The dispatch
  // quantizes each token's row once into row t of the rows part of the
  // workspace (T H bytes of its T K H) and each routed row's scales as
  // before; each row's token follows the token rows (4 T K bytes: they
  // fit, (K - 1) H >= 4 K).
  bool gather =
      gatherRows && !isFp8Mxfp4Layer(op) && ep.ranks == 1 && k >= 2 && k <= 32;
  // Readiness instead of grid barrier 2, as in buildFusedKernel (64-row
  // blocks on one GPU: the tiles').
  bool blockReady = dispatchReadiness && !gather;
  FusedWorkspace ws(ep.ranks * e, h, i, maxRows, yElem.isBF16() ? 2 : 4,
                    phaseTimers, /*fp8=*/true, ep.ranks, e, blockReady);
  int64_t producerRegs = blockReady && ep.enabled() ? 48 : 40;
  int64_t hBlocks = h / 128, iBlocks = i / 128;
  bool fp4 = isFp8Mxfp4Layer(op);
  bool scaled = fp4 && blockScaled;
  // 128-row tiles (fp8-tile-rows=128; FP8 weights on sm_90a, one GPU,
  // without dispatch-readiness): MMA warpgroup w takes the tile's rows 64 w
  // to 64 w + 63 and all 256 columns, in two halves through one partial
  // accumulator (buildScaledHalvesLoop), so a stage's weights serve 128
  // rows; GEMM1's warpgroup holds its rows' gate and up columns and
  // computes their activation alone (no exchange), and signals its own
  // 64-row block.
  bool wide = fp8TileRows == 128 &&
              fp8WideTilesApply(op, /*sm90a=*/storeTma, blockReady);
  int64_t tileM = wide ? 128 : 64;
  // Wide tiles with `stagedScales`: the producer warp copies each stage's
  // row and weight scales into the stage's tile 3 (moek.stage_block_scales;
  // 520 bytes in a 1 KB scale tile, which keeps the stages' tiles 1024-byte
  // aligned) and the MMA warpgroups read them there
  // (moek.load_staged_scales), not from global memory in the K loop. (In a
  // buffer of their own, the address held across the K loop made ptxas
  // spill.)
  bool staged = wide && stagedScales;
  // With staged scales the dispatch and GEMM1's epilogue store the row
  // scales block-major (`scalesStride` rows a K block), so that a stage's
  // 128 rows' scales are 512 contiguous bytes: read row-major, they were
  // 128 lines a stage, and copying them cost as much as loading them
  // (bench/results/2026-12-06-fp8-staged-scales.md).
  int64_t scalesStride = staged ? maxRows : 0;
  // `stages` 0: the default. MXFP4 expanded in shared memory (sm_90a):
  // the expanded tiles are unstaged (below), and 24 KB stages: 6 fit.
  // Block-scaled: stages of 56 KB with the packed and byte tiles, 2 fit
  // beside its 64 KB of transposition buffers.
  constexpr int64_t kFp4Stages = 6;
  if (!stages)
    stages = fp4 && !scaled ? kFp4Stages : kDefaultStages;
  if (fp4)
    stages = std::min<int64_t>(stages, scaled ? 2 : kFp4Stages);
  // GEMM1 tiles: 128 activation columns; GEMM2 tiles: 256 output columns.
  int64_t cols1 = iBlocks, cols2 = llvm::divideCeil(h, 256);

  // The up projection's accumulator (or, with splitAct, each warpgroup's
  // half of its own) goes to the other MMA warpgroup through the exchange
  // buffer; with splitAct the 512 bytes after it hold the activation's
  // rows' amax over each warpgroup's 64 columns (store_act_fp8 {half}).
  // FP4 weights keep the first warpgroup's whole-row activation (the
  // split spilled 4 bytes in the FP8 x MXFP4 kernel at E = 1, H = 128).
  bool splitAct = !fp4 && !wide;
  constexpr int64_t kExchangeBytes = 64 * 128 * 4;
  int64_t exchangeBytes =
      wide ? 0 : kExchangeBytes + (splitAct ? 2 * 64 * 4 : 0);
  // GEMM2's bf16 rows go into y by TMA (moek.store_acc_tma, as in the bf16
  // kernel; its descriptor is parameter 4) on one GPU with FP8 weights
  // (`storeTma`: sm_90a): the four 40 KB stages, their 1 KB of alignment,
  // the exchange and the static shared memory (about 12 bytes an expert)
  // leave one 8 KB staging half a warpgroup (two from 32 KB); wide: four
  // 48 KB stages and no exchange.
  constexpr int64_t kScaleTileBytes = 1024;
  int64_t scaleBytes = staged ? stages * kScaleTileBytes : 0;
  int64_t yHalves =
      stagingHalvesBeside(stages * (tileM + 256) * kTileKFp8 + 1024 +
                          exchangeBytes + scaleBytes + 12 * (e + 1) + 256);
  // y's descriptor is a parameter on every chip (one artifact may hold an
  // sm_90a and an sm_100a build of a layer, which must have one ABI:
  // Artifact.cpp), used where the stores are TMA's.
  bool yParam = !fp4 && ep.ranks == 1 && yElem.isBF16() && yHalves > 0;
  bool yTma = yParam && storeTma;
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  SmallVector<Type> params{ptr, ptr, ptr, ptr};
  if (yParam)
    params.push_back(ptr);
  params.append({gptr, gptr, gptr, gptr, gptr, gptr, gptr, b.getI32Type()});
  ArrayAttr abi = buildFusedAbi(b, e, h, i, maxRows, ws, /*fp8=*/true, fp4, 0,
                                /*paddedFp4=*/false, yParam);
  ep.extend(b, params, abi);
  OpBuilder::InsertionGuard guard(b);
  FusedFp8Entry kernel =
      beginFusedFp8Kernel(b, loc, name, params, abi, ws, maxTokens, yParam);
  LLVM::LLVMFuncOp func = kernel.func;
  Value tmapW13 = kernel.tmapW13, tmapW2 = kernel.tmapW2,
        tmapRows = kernel.tmapRows, tmapAct = kernel.tmapAct,
        tmapY = kernel.tmapY;
  Value x = kernel.x, ids = kernel.ids, weights = kernel.weights,
        w13Scales = kernel.w13Scales, w2Scales = kernel.w2Scales,
        out = kernel.out, tokens = kernel.tokens;
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  auto at = [&](int64_t offset) {
    return workspacePart(b, loc, kernel.wsBase, offset);
  };
  Value nextTile = kernel.nextTile;
  Value barrier = kernel.barrier, counts = kernel.counts,
        cursor = kernel.cursor, ready = kernel.ready, offsets = kernel.offsets,
        slotRows = kernel.slotRows, rowWeights = kernel.rowWeights,
        rows = kernel.rows, rowScales = kernel.rowScales, act = kernel.act,
        actScales = kernel.actScales, y = kernel.y;
  ep.bind(b, loc, func, /*firstArg=*/yParam ? 13 : 12, ws, at);

  auto tile = [&](int64_t r) {
    return MemRefType::get({r, kTileKFp8}, b.getType<Float8E4M3FNType>(),
                           AffineMap(), b.getI64IntegerAttr(3));
  };
  // Tile 0: the 64 (wide: 128) rows; tiles 1 and 2: the two warpgroups'
  // (wide: the two halves') 128 weight rows (MXFP4: expanded from packed
  // tiles 3 and 4).
  SmallVector<Type> tiles{tile(tileM), tile(128), tile(128)};
  // Block-scaled: tiles 1 and 2 hold the e2m1 values in byte containers.
  if (scaled)
    tiles[1] = tiles[2] = MemRefType::get({128, kTileKFp8}, b.getI8Type(),
                                          AffineMap(), b.getI64IntegerAttr(3));
  if (fp4)
    tiles.append(2, MemRefType::get({128, kTileKFp8},
                                    b.getType<Float4E2M1FNType>(), AffineMap(),
                                    b.getI64IntegerAttr(3)));
  // Staged scales: tile 3, bytes (moek.stage_block_scales).
  constexpr int64_t kScaleTile = 3;
  if (staged)
    tiles.push_back(MemRefType::get({kScaleTileBytes / 4, 4}, b.getI8Type(),
                                    AffineMap(), b.getI64IntegerAttr(3)));
  // MXFP4 expanded in shared memory (sm_90a): each warpgroup expands into
  // its own tile between a stage's arrival and its MMAs' end, so tiles 1
  // and 2 are held once, not per stage (24 KB stages).
  SmallVector<int64_t> unstaged;
  if (fp4 && !scaled)
    unstaged = {1, 2};
  auto ringType = mk::RingType::get(ctx, stages, tiles, unstaged);
  auto accType = mk::AccType::get(ctx, 64, 128, b.getF32Type());
  auto ringAlloc =
      mk::RingAllocOp::create(b, loc, ringType, b.getI64IntegerAttr(256));
  // A producer warp's lanes each arrive once their copies are in.
  bool producerWarp = gather || staged;
  if (producerWarp)
    ringAlloc.setProducers(33);
  Value ring = ringAlloc;
  // The exchange (splitAct above): stored, both wait on named barrier 5
  // ("full"), loaded, both wait on 6 ("empty": the buffer may be written
  // again). A sync on both sides, not arrive/sync, so that racecheck sees
  // the order. With splitAct the two also meet at named barrier 7 for the
  // amax.
  Value exchange =
      exchangeBytes
          ? mk::SmemAllocOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                                    b.getI64IntegerAttr(exchangeBytes))
          : Value();
  constexpr int64_t kFull = 5, kEmpty = 6;
  constexpr int64_t kAmaxBarrier = 7;
  Value yStaging = yTma ? allocStaging(b, loc, yHalves) : Value();
  // MXFP4: each warpgroup's column scales and its named barrier for the
  // expansion (8 + warpgroup).
  Value colScales = fp4 && !scaled
                        ? mk::SmemAllocOp::create(
                              b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                              b.getI64IntegerAttr(2 * kColScaleFloats * 4))
                        : Value();
  constexpr int64_t kExpandBarrier = 8;
  // MXFP4 on sm_90a: tiles of at most kSmallRows rows are multiplied
  // transposed (weights x tokens, moek.mma_fp4, weights expanded in
  // registers), and each warpgroup turns its product back through its own
  // 8 KB (acc_store_transposed / acc_load_smem {rows}): the first
  // warpgroup's here, the second's the start of the exchange, which it
  // alone writes (the first reads it between barriers 5 and 6 of the same
  // tile, and the second passes 6 before its next tile).
  constexpr int64_t kSmallRows = 16;
  // (Single GPU: the expert-parallel dispatch stores rows in K order.)
  bool smallTiles = fp4 && transposedSmallTiles && ep.ranks == 1;
  Value transposeBuf =
      smallTiles
          ? mk::SmemAllocOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                                    b.getI64IntegerAttr(kSmallRows * 128 * 4))
          : Value();
  // Block-scaled (sm_100a): each warpgroup's 64 x 128 product transposed
  // back through its own 32 KB, and its 1 KB of staged scale factors
  // (moek.unpack_fp4).
  Value scaledBuf, scaleFactors;
  if (scaled) {
    scaledBuf =
        mk::SmemAllocOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                                b.getI64IntegerAttr(2 * 64 * 128 * 4));
    scaleFactors = mk::SmemAllocOp::create(
        b, loc, LLVM::LLVMPointerType::get(ctx, 3), b.getI64IntegerAttr(2048));
  }

  PhaseTimers timers{
      phaseTimers ? at(ws.timers) : Value(),
      phaseTimers ? mk::BlockIdOp::create(b, loc, b.getIndexType()) : Value(),
      phaseTimers ? at(ws.trace) : Value()};

  // Phase 1: the routed rows, quantized, expert by expert (with expert
  // parallelism, to the experts' owners).
  timers.stamp(b, loc, 0);
  Value rowsReady = blockReady && !ep.enabled() ? at(ws.rowsReady) : Value();
  Value rowTokens =
      gather ? at(ws.rows + llvm::alignTo(maxTokens * h, 16)) : Value();
  ep.dispatch(b, loc, x, ids, weights, tokens, counts, cursor, offsets,
              slotRows, rowWeights, rows, barrier, rowScales, k, h,
              /*permuteK=*/smallTiles, /*mxRound=*/false, rowsReady,
              blockReady ? at(ws.offsetsReady) : Value(), /*blockRows=*/64,
              rowTokens, scalesStride);
  timers.stamp(b, loc, 1);
  int64_t lastBarrier = blockReady ? 2 : 3;

  // Phase 2: GEMM1 tiles then GEMM2 tiles, 64 (wide: 128) rows each.
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(tileM);
  Value n1 =
      mk::GroupedTileCountOp::create(b, loc, b.getIndexType(), offsets, numE,
                                     tileRows, b.getI64IntegerAttr(cols1));
  Value n2 =
      mk::GroupedTileCountOp::create(b, loc, b.getIndexType(), offsets, numE,
                                     tileRows, b.getI64IntegerAttr(cols2));
  Value total = arith::AddIOp::create(b, loc, n1, n2);
  int64_t rowGroup = std::clamp<int64_t>(
      (int64_t(16) << 20) / std::max<int64_t>(1, tileM * h), 1, 8);
  auto decode = [&](OpBuilder &ob, Value t, int64_t cols) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE, tileRows,
                                     ob.getI64IntegerAttr(cols),
                                     ob.getI64IntegerAttr(rowGroup));
  };
  // The readiness counter of a 64-row block (see FusedWorkspace).
  auto readyIndex = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    return arith::AddIOp::create(
        ob, loc, arith::DivUIOp::create(ob, loc, d.getRow(), idx(ob, 64)),
        d.getExpert());
  };
  Value cH = idx(b, h), cI = idx(b, i), c0 = idx(b, 0), c1 = idx(b, 1);
  Value c128 = idx(b, 128), c256 = idx(b, 256);
  Value cHBlocks = idx(b, hBlocks), cIBlocks = idx(b, iBlocks);
  Value c2IBlocks = idx(b, 2 * iBlocks), cLastHBlock = idx(b, hBlocks - 1);
  Value slices1 = cHBlocks, slices2 = cIBlocks;
  // The first of a tile's weight scales (one per K block): w13_scales[e][nb]
  // or w2_scales[e][nb], `perExpert` blocks nb an expert, `kBlocks` K
  // blocks each.
  auto scaleBase = [&](OpBuilder &ob, Value expert, Value perExpert, Value nb,
                       Value kBlocks) -> Value {
    return arith::MulIOp::create(
        ob, loc,
        arith::AddIOp::create(
            ob, loc, arith::MulIOp::create(ob, loc, expert, perExpert), nb),
        kBlocks);
  };
  // GEMM2: the first weight scale of the 128 columns from `col` (a block
  // past H, H an odd multiple of 128, reads the last block's).
  auto w2ScaleBase = [&](OpBuilder &eb, mk::GroupedTileOp d,
                         Value col) -> Value {
    Value nb = arith::MinUIOp::create(
        eb, loc, arith::DivUIOp::create(eb, loc, col, c128), cLastHBlock);
    return scaleBase(eb, d.getExpert(), cHBlocks, nb, cIBlocks);
  };
  // Wide tiles: the first weight scales of the tile's two 128-column
  // halves. GEMM1: w13_scales[e][nb][kb], the gate's block nb the column
  // tile, the up's I / 128 further. GEMM2: columns colTile * 256 + 128 h.
  auto wideScaleBases = [&](OpBuilder &ob, mk::GroupedTileOp d,
                            bool gemm1) -> std::array<Value, 2> {
    if (gemm1)
      return {
          scaleBase(ob, d.getExpert(), c2IBlocks, d.getColTile(), cHBlocks),
          scaleBase(ob, d.getExpert(), c2IBlocks,
                    arith::AddIOp::create(ob, loc, d.getColTile(), cIBlocks),
                    cHBlocks)};
    Value col0 = arith::MulIOp::create(ob, loc, d.getColTile(), c256);
    Value col1 = arith::AddIOp::create(ob, loc, col0, c128);
    return {w2ScaleBase(ob, d, col0), w2ScaleBase(ob, d, col1)};
  };
  // A producer warp's work on a stage of tile `d` (iteration `st`, K block
  // `ks`) beside its leader's TMA copies: the block's scales (staged), the
  // gathered rows (GEMM1 with `gather`: `tokens`), then its lanes' copy
  // arrivals.
  auto stageCopies = [&](OpBuilder &hb, Location hl, Value st, Value ks,
                         mk::GroupedTileOp d, bool gemm1, Value tokens) {
    if (staged) {
      std::array<Value, 2> bases = wideScaleBases(hb, d, gemm1);
      mk::StageBlockScalesOp::create(
          hb, hl, ring, st, kScaleTile, gemm1 ? rowScales : actScales,
          d.getRow(), ks, arith::SubIOp::create(hb, hl, d.getRowEnd(), c1),
          gemm1 ? w13Scales : w2Scales,
          arith::AddIOp::create(hb, hl, bases[0], ks),
          arith::AddIOp::create(hb, hl, bases[1], ks), /*ld=*/1, tileM,
          scalesStride);
    }
    if (gemm1 && gather)
      gatherStageRows(hb, hl, ring, st, ks, rows, tokens, kTileKFp8, h,
                      gatherHint);
    else
      mk::RingArriveCopiesOp::create(hb, hl, ring, st);
  };

  // Producer: warpgroup 0, one thread issues every copy (MXFP4: the packed
  // weights into tiles 3 and 4, 64 bytes a row); with gathered rows or
  // staged scales warp 0, as in buildFusedKernel.
  int64_t bTile = fp4 ? 3 : 1, bRowBytes = fp4 ? kTileKFp8 / 2 : kSliceBytes;
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, producerRegs);
    Value leader = beginProducerThreads(b, loc, producerWarp);
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, total, /*producer=*/true,
        [&](OpBuilder &ob, Value t, Value iter) -> Value {
          Location l = loc;
          timers.traceTile(ob, l, t, 0);
          return buildPerGemm(
              ob, l, t, n1,
              [&](OpBuilder &tb, Value t1) -> Value {
                auto d = decode(tb, t1, cols1);
                // Readiness: the tile's rows (and scales) are all there.
                if (blockReady)
                  ep.awaitTileRows(tb, l, offsets, rowsReady, d, 64,
                                   [&] { return readyIndex(tb, d); });
                // The gate's 128 rows of the column block, then the up's.
                auto [gate, up] =
                    gemm1WeightBoxes(tb, l, d.getExpert(), d.getColTile(), i,
                                     128, /*interleaved=*/false);
                Value tokens = loadTileTokens(tb, l, rowTokens, d, tileM);
                auto hook = [&](OpBuilder &hb, Location hl, Value st,
                                Value ks) {
                  stageCopies(hb, hl, st, ks, d, /*gemm1=*/true, tokens);
                };
                Value next = buildTileLoads(
                    tb, l, ring, gather ? Value() : tmapRows, d.getRow(),
                    d.getRowEnd(), tileM, tmapW13, {gate, up}, slices1, iter,
                    streamWeights, t, kTileKFp8, /*boxPerTile=*/true, bTile,
                    bRowBytes, fp4, /*aTile=*/0, kSliceBytes, leader,
                    producerWarp ? StageHook(hook) : StageHook());
                return next;
              },
              [&](OpBuilder &eb, Value t2) -> Value {
                auto d = decode(eb, t2, cols2);
                // With splitAct both MMA warpgroups signal each GEMM1 tile
                // of the block, else the first; wide: the tile's two 64-row
                // blocks (the second where the tile has rows in it), each
                // signalled by its warpgroup.
                mk::WaitCounterOp::create(
                    eb, l, ready, readyIndex(eb, d),
                    idx(eb, splitAct ? 2 * cols1 : cols1));
                if (wide) {
                  auto more = scf::IfOp::create(
                      eb, l,
                      arith::CmpIOp::create(
                          eb, l, arith::CmpIPredicate::ult,
                          arith::AddIOp::create(eb, l, d.getRow(), idx(eb, 64)),
                          d.getRowEnd()),
                      false);
                  OpBuilder mb = OpBuilder::atBlockTerminator(more.thenBlock());
                  mk::WaitCounterOp::create(
                      mb, l, ready,
                      arith::AddIOp::create(mb, l, readyIndex(mb, d), c1),
                      idx(mb, cols1));
                }
                Value first = arith::AddIOp::create(
                    eb, l, arith::MulIOp::create(eb, l, d.getExpert(), cH),
                    arith::MulIOp::create(eb, l, d.getColTile(), c256));
                Value second = arith::AddIOp::create(eb, l, first, c128);
                auto hook = [&](OpBuilder &hb, Location hl, Value st,
                                Value ks) {
                  stageCopies(hb, hl, st, ks, d, /*gemm1=*/false, Value());
                };
                Value next = buildTileLoads(
                    eb, l, ring, tmapAct, d.getRow(), d.getRowEnd(), tileM,
                    tmapW2, {first, second}, slices2, iter, streamWeights, t,
                    kTileKFp8,
                    /*boxPerTile=*/true, bTile, bRowBytes, fp4, /*aTile=*/0,
                    kSliceBytes, leader,
                    producerWarp ? StageHook(hook) : StageHook());
                return next;
              });
        },
        producerWarp, /*narrow=*/staged);
    buildStopMark(b, loc, ring, last, total, leader);
    timers.stamp(b, loc, 2);
  }

  // Consumers: warpgroups 1 and 2 (MMA warpgroups 0 and 1), each 128
  // columns of every tile.
  {
    OpBuilder::InsertionGuard g(b);
    // (Staged scales: 224 registers, with which ptxas spilled less in the
    // 128-row kernels than with 232.)
    beginRole(b, loc, "consumer", 1, 2,
              producerRegs == 40 && !staged ? 232 : 224);
    Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
    Value isFirst =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, c0);
    Value second =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, c1);
    // (Wide tiles take no turns: buildScaledHalvesLoop.)
    if (!wide)
      beginTurns(b, loc, second);
    Value wgStaging, storeBarrier;
    if (yTma)
      std::tie(wgStaging, storeBarrier) =
          warpgroupStaging(b, loc, yStaging, wg, yHalves);
    Value rw = op.getRouterWeight() == RouterWeight::before_down ? rowWeights
                                                                 : Value();
    Type g1 = op.getGemm1Type();
    StringRef actName = stringifyActivationKind(op.getActivation());
    FloatAttr alpha = op.getAlphaAttr(), limit = op.getLimitAttr();
    // One warpgroup's block-scaled MMAs of a tile, on weight tile 1 + wg.
    // MXFP4: the UE8M0 scales `scales` ([rows, cols]) of the weight rows
    // from `row` (+ `step` for the second warpgroup).
    struct Fp4Rows {
      Value scales, row, step;
      int64_t rows = 0, cols = 0;
    };
    // A small tile (MXFP4, sm_90a): warpgroup w's 128 weight rows (two
    // 64-row A fragments) times the tile's first kSmallRows token rows,
    // promoted per K block with the tokens' scales; then transposed back
    // into a 64 x 128 accumulator (rows past kSmallRows 0) with each
    // column's scale applied. No turns: both warpgroups skip them alike.
    auto smallTileMmas = [&](OpBuilder &bb, int64_t w, mk::GroupedTileOp d,
                             TileScales ts, Value slices, Value iter,
                             const Fp4Rows &fr) -> std::pair<Value, Value> {
      Location l = loc;
      Value c64 = idx(bb, 64);
      auto small = mk::AccType::get(ctx, 64, kSmallRows, bb.getF32Type());
      Value first =
          w == 0 ? fr.row : arith::AddIOp::create(bb, l, fr.row, fr.step);
      Value rows[2] = {first, arith::AddIOp::create(bb, l, first, c64)};
      auto rowsAttr = bb.getI64IntegerAttr(fr.rows);
      auto colsAttr = bb.getI64IntegerAttr(fr.cols);
      auto i32x2 = VectorType::get({2}, bb.getI32Type());
      Value m[2];
      // The weight rows' block scales of K block kb (two words), the
      // tokens' scales of K block kb.
      auto weightScales = [&](OpBuilder &ib, Value kb) {
        SmallVector<Value> v;
        for (int64_t h = 0; h < 2; ++h)
          v.push_back(mk::LoadFp4FragmentScalesOp::create(
              ib, l, i32x2, fr.scales, rows[h], kb, rowsAttr, colsAttr));
        return v;
      };
      auto tokenScales = [&](OpBuilder &ib, Value kb) -> Value {
        return mk::LoadColScalesOp::create(
            ib, l, VectorType::get({kSmallRows / 4}, ib.getF32Type()), ts.xs,
            d.getRow(), kb, d.getRowEnd(), ib.getI64IntegerAttr(ts.kBlocks),
            TypeAttr::get(small));
      };
      Value lastBlock = idx(bb, ts.kBlocks - 1);
      auto nextBlock = [&](OpBuilder &ib, Value kb, int64_t ahead) -> Value {
        return arith::MinUIOp::create(
            ib, l, arith::AddIOp::create(ib, l, kb, idx(ib, ahead)), lastBlock);
      };
      auto tables = [&](OpBuilder &ib, ValueRange words) {
        SmallVector<Value> t;
        for (int64_t h = 0; h < 2; ++h)
          t.push_back(mk::Fp4FragmentTablesOp::create(ib, l, words[h], m[h]));
        return t;
      };
      Value zero = mk::MmaZeroOp::create(bb, l, small);
      // One stage at a time: its MMAs, then the wait and promotion (issuing
      // the next stage's MMAs first measured slower, across the loop's back
      // edge or within a two-stage iteration: bench/results/). The byte
      // tables of the next stage are looked up during this one's MMAs, from
      // scale words loaded a stage earlier, so that neither load's latency
      // is waited for at the top of an iteration. The first K blocks'
      // scales are loaded before the rows' maxima (their latencies overlap).
      SmallVector<Value> firstWords = weightScales(bb, c0);
      SmallVector<Value> secondWords = weightScales(bb, nextBlock(bb, c0, 1));
      Value firstCols = tokenScales(bb, c0);
      for (int64_t h = 0; h < 2; ++h)
        m[h] = mk::Fp4FragmentRowMaxOp::create(bb, l, i32x2, fr.scales, rows[h],
                                               rowsAttr, colsAttr);
      // Iteration values: the two products, this stage's tables, the next
      // stage's scale words, this stage's token scales, the ring iteration.
      SmallVector<Value> init{zero, zero};
      llvm::append_range(init, tables(bb, firstWords));
      llvm::append_range(init, secondWords);
      init.push_back(firstCols);
      init.push_back(iter);
      if (w == 0)
        timers.turn(bb, l, 7, 8, isFirst);
      auto loop = scf::ForOp::create(
          bb, l, c0, slices, c1, init,
          [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
            Value i = it[7];
            mk::RingWaitOp::create(ib, il, ring, i);
            auto mma = mk::MmaFp4Op::create(
                ib, il, TypeRange{small, small}, ring, i,
                ib.getI64IntegerAttr(3 + w), c0, ib.getI64IntegerAttr(0),
                ValueRange{it[2], it[3]},
                ib.getI64IntegerAttr(fp4StepsPerFence));
            Value partial[2] = {mma.getResult(0), mma.getResult(1)};
            // The next stage's tables and token scales, the scale words of
            // the one after (the last block's again past the end).
            SmallVector<Value> nextTables = tables(ib, it.slice(4, 2));
            SmallVector<Value> ws = weightScales(ib, nextBlock(ib, kb, 2));
            Value cs = tokenScales(ib, nextBlock(ib, kb, 1));
            for (int64_t h = 0; h < 2; ++h)
              partial[h] = mk::MmaWaitOp::create(ib, il, partial[h],
                                                 ib.getI64IntegerAttr(0));
            mk::RingReleaseOp::create(ib, il, ring, i);
            SmallVector<Value> results;
            for (int64_t h = 0; h < 2; ++h)
              results.push_back(mk::MmaPromoteColsOp::create(
                  ib, il, it[h], partial[h], it[6]));
            llvm::append_range(results, nextTables);
            llvm::append_range(results, ws);
            results.push_back(cs);
            results.push_back(arith::AddIOp::create(ib, il, i, c1));
            scf::YieldOp::create(ib, il, results);
          });
      disableUnroll(loop);
      if (w == 0)
        timers.turn(bb, l, 8, 9, isFirst);
      // The products transposed back through warpgroup w's buffer, each
      // column's scale applied.
      Value buf = w == 0 ? transposeBuf : exchange;
      Value acc = transposeBack(bb, l, {loop.getResult(0), loop.getResult(1)},
                                m, buf, buf, kExpandBarrier + w, 128, accType);
      return {acc, loop.getResult(7)};
    };

    // Block-scaled (sm_100a): warpgroup w's 128 weight rows times the
    // tile's 64 rows per K block (moek.unpack_fp4, moek.mma_block_scaled:
    // the block scales in the MMA), each block's two 64-row products
    // promoted by the rows' scales per column; then transposed back into
    // the 64 x 128 accumulator the epilogue takes. No turns (tcgen05's
    // issue is one thread's): both warpgroups skip them alike.
    auto blockScaledMmas = [&](OpBuilder &bb, int64_t w, mk::GroupedTileOp d,
                               TileScales ts, Value slices, Value iter,
                               const Fp4Rows &fr) -> std::pair<Value, Value> {
      Location l = loc;
      auto half = mk::AccType::get(ctx, 64, 64, bb.getF32Type());
      Value first =
          w == 0 ? fr.row : arith::AddIOp::create(bb, l, fr.row, fr.step);
      Value sf = LLVM::GEPOp::create(bb, l, scaleFactors.getType(),
                                     bb.getI8Type(), scaleFactors,
                                     ArrayRef<LLVM::GEPArg>{int32_t(w * 1024)});
      auto tokenScales = [&](OpBuilder &ib, Value kb) -> Value {
        return mk::LoadColScalesOp::create(
            ib, l, VectorType::get({16}, ib.getF32Type()), ts.xs, d.getRow(),
            kb, d.getRowEnd(), ib.getI64IntegerAttr(ts.kBlocks),
            TypeAttr::get(half));
      };
      Value lastBlock = idx(bb, ts.kBlocks - 1);
      Value zero = mk::MmaZeroOp::create(bb, l, half);
      auto loop = scf::ForOp::create(
          bb, l, c0, slices, c1,
          ValueRange{zero, zero, tokenScales(bb, c0), iter},
          [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
            Value i = it[3];
            mk::RingWaitOp::create(ib, il, ring, i);
            mk::UnpackFp4Op::create(
                ib, il, ring, i, ib.getI64IntegerAttr(3 + w),
                ib.getI64IntegerAttr(1 + w), fr.scales, first, kb, sf,
                ib.getI64IntegerAttr(fr.rows), ib.getI64IntegerAttr(fr.cols),
                ib.getI64IntegerAttr(128 * (1 + w)),
                ib.getI64IntegerAttr(kExpandBarrier + w));
            auto mma = mk::MmaBlockScaledOp::create(
                ib, il, half, half, ring, i, ib.getI64IntegerAttr(1 + w),
                ib.getI64IntegerAttr(0), sf);
            // The next block's row scales (the last block's again).
            Value cs = tokenScales(
                ib,
                arith::MinUIOp::create(
                    ib, il, arith::AddIOp::create(ib, il, kb, c1), lastBlock));
            // Each half read back and promoted before the next is read.
            SmallVector<Value> results;
            for (Value partial : {mma.getLow(), mma.getHigh()}) {
              Value p = mk::MmaWaitOp::create(ib, il, partial,
                                              ib.getI64IntegerAttr(0));
              results.push_back(mk::MmaPromoteColsOp::create(
                  ib, il, it[results.size()], p, it[2]));
            }
            mk::RingReleaseOp::create(ib, il, ring, i);
            results.push_back(cs);
            results.push_back(arith::AddIOp::create(ib, il, i, c1));
            scf::YieldOp::create(ib, il, results);
          });
      disableUnroll(loop);
      Value buf = LLVM::GEPOp::create(
          bb, l, scaledBuf.getType(), bb.getF32Type(), scaledBuf,
          ArrayRef<LLVM::GEPArg>{int32_t(w * 64 * 128)});
      Value acc = transposeBack(bb, l, {loop.getResult(0), loop.getResult(1)},
                                {}, buf, buf, kExpandBarrier + w, 128, accType);
      return {acc, loop.getResult(3)};
    };

    auto mmas = [&](OpBuilder &ob, mk::GroupedTileOp d, TileScales ts,
                    Value slices, Value iter,
                    const Fp4Rows &fr) -> std::pair<Value, Value> {
      Location l = loc;
      if (scaled) {
        auto branch = scf::IfOp::create(
            ob, l, TypeRange{accType, ob.getIndexType()}, isFirst, true);
        for (int64_t w = 0; w < 2; ++w) {
          OpBuilder bb = OpBuilder::atBlockEnd(w == 0 ? branch.thenBlock()
                                                      : branch.elseBlock());
          auto [acc, next] = blockScaledMmas(bb, w, d, ts, slices, iter, fr);
          scf::YieldOp::create(bb, l, ValueRange{acc, next});
        }
        return {branch.getResult(0), branch.getResult(1)};
      }
      Value few;
      if (smallTiles)
        few = arith::CmpIOp::create(
            ob, l, arith::CmpIPredicate::ule, d.getRowEnd(),
            arith::AddIOp::create(ob, l, d.getRow(), idx(ob, kSmallRows)));
      auto branch = scf::IfOp::create(
          ob, l, TypeRange{accType, ob.getIndexType()}, isFirst, true);
      for (int64_t w = 0; w < 2; ++w) {
        OpBuilder outer = OpBuilder::atBlockEnd(w == 0 ? branch.thenBlock()
                                                       : branch.elseBlock());
        OpBuilder bb = outer;
        scf::IfOp sizeBranch;
        if (smallTiles) {
          sizeBranch = scf::IfOp::create(
              outer, l, TypeRange{accType, outer.getIndexType()}, few, true);
          OpBuilder sb = OpBuilder::atBlockEnd(sizeBranch.thenBlock());
          auto [acc, next] = smallTileMmas(sb, w, d, ts, slices, iter, fr);
          scf::YieldOp::create(sb, l, ValueRange{acc, next});
          bb = OpBuilder::atBlockEnd(sizeBranch.elseBlock());
        }
        Fp4Tile ft;
        Value cs;
        if (fp4) {
          ft.scales = fr.scales;
          ft.row =
              w == 0 ? fr.row : arith::AddIOp::create(bb, l, fr.row, fr.step);
          cs = LLVM::GEPOp::create(
              bb, l, colScales.getType(), bb.getF32Type(), colScales,
              ArrayRef<LLVM::GEPArg>{int32_t(w * kColScaleFloats)});
          // The tile prologue: each row's largest block scale, and the
          // column scales.
          ft.rowMax = mk::Fp4RowScaleOp::create(
              bb, l, bb.getI32Type(), fr.scales, ft.row, cs,
              bb.getI64IntegerAttr(fr.rows), bb.getI64IntegerAttr(fr.cols),
              bb.getI64IntegerAttr(128), bb.getI64IntegerAttr(128 * (1 + w)),
              bb.getI64IntegerAttr(kExpandBarrier + w));
          ft.scaleRows = fr.rows;
          ft.scaleCols = fr.cols;
          ft.packedTile = 3 + w;
          ft.firstThread = 128 * (1 + w);
          ft.barrier = kExpandBarrier + w;
          ft.permuteK = smallTiles;
        }
        if (w == 0)
          timers.turn(bb, l, 7, 8, isFirst);
        auto [acc, next] = buildScaledMmaLoop(
            bb, l, ring, accType, c0, d.getRow(), d.getRowEnd(), ts, slices,
            iter, /*bTile=*/1 + w, turnsOf(w), fp4 ? &ft : nullptr);
        if (w == 0)
          timers.turn(bb, l, 8, 9, isFirst);
        if (fp4)
          acc = mk::AccScaleColsOp::create(bb, l, acc, cs);
        scf::YieldOp::create(bb, l, ValueRange{acc, next});
        if (sizeBranch)
          scf::YieldOp::create(outer, l, sizeBranch.getResults());
      }
      return {branch.getResult(0), branch.getResult(1)};
    };
    // moek.store_act_fp8 of tile `d`'s 128 activation columns for the 64
    // rows from `row`, or of column half `half` with the amax buffer
    // `amax`.
    auto storeActFp8 = [&](OpBuilder &sb, mk::GroupedTileOp d, Value gate,
                           Value up, Value row, Value amax, IntegerAttr half) {
      auto store = mk::StoreActFp8Op::create(
          sb, loc, gate, up, act, row,
          arith::MulIOp::create(sb, loc, d.getColTile(), c128), actScales,
          d.getRowEnd(), rw, amax, sb.getStringAttr(actName), TypeAttr::get(g1),
          sb.getI64IntegerAttr(i), FloatAttr(), FloatAttr(), UnitAttr(), half,
          half ? sb.getI64IntegerAttr(kAmaxBarrier) : IntegerAttr());
      if (alpha)
        store.setAlphaAttr(alpha);
      if (limit)
        store.setLimitAttr(limit);
      store.setPermuteK(smallTiles);
      store.setApprox(approxActivation);
      if (scalesStride)
        store.setScalesStride(scalesStride);
    };
    // GEMM2: the 64 x 128 accumulator's rows from `row` into y at `col`
    // (by TMA where y leaves so).
    auto storeY = [&](OpBuilder &ib, mk::GroupedTileOp d, Value acc, Value row,
                      Value col) {
      if (yTma)
        mk::StoreAccTmaOp::create(ib, loc, acc, tmapY, wgStaging, y, row, col,
                                  d.getRowEnd(), storeBarrier,
                                  ib.getI64IntegerAttr(yHalves),
                                  ib.getI64IntegerAttr(h));
      else
        ep.storeRows(ib, loc, {acc}, y, row, col, d.getRowEnd(), yElem, h);
    };
    // Wide tiles: warpgroup w's two main accumulators (columns 0-127 and
    // 128-255 of the tile) over rows 64 w to 64 w + 63, and the next ring
    // iteration. The second warpgroup, where the tile has no rows of its
    // own, passes the stages. (With the
    // epilogues inside these branches instead, each twice, ptxas spilled
    // 2-3 times more.)
    auto wideMmas = [&](OpBuilder &ob, mk::GroupedTileOp d, Value xs, Value ws,
                        std::array<Value, 2> wsBase, int64_t kBlocks,
                        Value slices, Value iter) -> SmallVector<Value> {
      Location l = loc;
      SmallVector<Type> types{accType, accType, ob.getIndexType()};
      auto branch = scf::IfOp::create(ob, l, types, isFirst, true);
      {
        OpBuilder bb = OpBuilder::atBlockEnd(branch.thenBlock());
        timers.turn(bb, l, 7, 8, isFirst);
        auto [m0, m1, next] = buildScaledHalvesLoop(
            bb, l, ring, accType, c0, d.getRow(), d.getRowEnd(), xs, ws, wsBase,
            kBlocks, slices, iter, staged ? kScaleTile : -1);
        timers.turn(bb, l, 8, 9, isFirst);
        scf::YieldOp::create(bb, l, ValueRange{m0, m1, next});
      }
      OpBuilder bb = OpBuilder::atBlockEnd(branch.elseBlock());
      Value row = arith::AddIOp::create(bb, l, d.getRow(), idx(bb, 64));
      auto has = scf::IfOp::create(
          bb, l, types,
          arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ult, row,
                                d.getRowEnd()),
          true);
      {
        OpBuilder hb = OpBuilder::atBlockEnd(has.thenBlock());
        auto [m0, m1, next] = buildScaledHalvesLoop(
            hb, l, ring, accType, idx(hb, 64), row, d.getRowEnd(), xs, ws,
            wsBase, kBlocks, slices, iter, staged ? kScaleTile : -1);
        scf::YieldOp::create(hb, l, ValueRange{m0, m1, next});
      }
      {
        OpBuilder nb = OpBuilder::atBlockEnd(has.elseBlock());
        Value next = buildPassLoop(nb, l, ring, slices, iter);
        Value zero = mk::MmaZeroOp::create(nb, l, accType);
        scf::YieldOp::create(nb, l, ValueRange{zero, zero, next});
      }
      scf::YieldOp::create(bb, l, has.getResults());
      return SmallVector<Value>(branch.getResults());
    };
    // Wide tiles: this warpgroup's first row, and whether the tile has rows
    // there (always for the first).
    auto wideRows = [&](OpBuilder &ob,
                        mk::GroupedTileOp d) -> std::pair<Value, Value> {
      Value row = arith::AddIOp::create(
          ob, loc, d.getRow(), arith::MulIOp::create(ob, loc, wg, idx(ob, 64)));
      return {row, arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult,
                                         row, d.getRowEnd())};
    };
    // The MMA warpgroups' tile loop: `gemm1` or `gemm2` builds a tile's
    // work from the decoded tile and the ring iteration and returns the next
    // (the phase timers' slots around them).
    using TileWork = function_ref<Value(OpBuilder &, mk::GroupedTileOp, Value)>;
    auto consumerTiles = [&](TileWork gemm1, TileWork gemm2) -> Value {
      return buildScheduledTiles(
          b, loc, ring, nextTile, total, /*producer=*/false,
          [&](OpBuilder &ob, Value t, Value iter) -> Value {
            timers.turn(ob, loc, 6, 7, isFirst);
            timers.traceTile(ob, loc, t, 1, isFirst,
                             isGemm1Tag(ob, loc, t, n1));
            Value tileEnd = buildPerGemm(
                ob, loc, t, n1,
                [&](OpBuilder &tb, Value t1) -> Value {
                  timers.stamp(tb, loc, 12, isFirst, "sub");
                  timers.stamp(tb, loc, 11, isFirst, "count");
                  Value next = gemm1(tb, decode(tb, t1, cols1), iter);
                  timers.stamp(tb, loc, 12, isFirst, "add");
                  return next;
                },
                [&](OpBuilder &eb, Value t2) -> Value {
                  return gemm2(eb, decode(eb, t2, cols2), iter);
                });
            timers.traceTile(ob, loc, t, 2, isFirst);
            timers.turn(ob, loc, 9, 6, isFirst);
            timers.stamp(ob, loc, 10, isFirst, "count");
            return tileEnd;
          },
          /*producerWarp=*/false, /*narrow=*/staged);
    };
    auto wideGemm1Tile = [&](OpBuilder &tb, mk::GroupedTileOp d,
                             Value iter) -> Value {
      Location l = loc;
      SmallVector<Value> r = wideMmas(tb, d, rowScales, w13Scales,
                                      wideScaleBases(tb, d, /*gemm1=*/true),
                                      hBlocks, slices1, iter);
      // The tile decoded again for the epilogue: its values kept across the
      // K loops, where the 192 accumulator registers leave 40, were what
      // ptxas spilled (SASS; grouped_tile is not pure, so nothing merges
      // the two decodes).
      d = cast<mk::GroupedTileOp>(tb.clone(*d.getOperation()));
      auto [row, has] = wideRows(tb, d);
      auto ifOp = scf::IfOp::create(tb, l, has, false);
      OpBuilder sb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      timers.stamp(sb, l, 14, isFirst, "sub");
      storeActFp8(sb, d, r[0], r[1], row, Value(), IntegerAttr());
      timers.turn(sb, l, 14, 15, isFirst);
      // This warpgroup's 64-row block.
      mk::SignalOp::create(sb, l, ready,
                           arith::AddIOp::create(sb, l, readyIndex(sb, d), wg),
                           /*fresh_thread_id=*/true);
      timers.stamp(sb, l, 15, isFirst, "add");
      return r[2];
    };
    auto wideGemm2Tile = [&](OpBuilder &eb, mk::GroupedTileOp d,
                             Value iter) -> Value {
      Location l = loc;
      // Columns colTile * 256 + 128 h; a half past H (H an odd
      // multiple of 128) reads the last block's scales and
      // stores nothing.
      auto colsOf = [&](mk::GroupedTileOp t) -> std::array<Value, 2> {
        Value col0 = arith::MulIOp::create(eb, l, t.getColTile(), c256);
        return {col0, arith::AddIOp::create(eb, l, col0, c128)};
      };
      SmallVector<Value> r = wideMmas(eb, d, actScales, w2Scales,
                                      wideScaleBases(eb, d, /*gemm1=*/false),
                                      iBlocks, slices2, iter);
      // Decoded again, as in GEMM1's tiles.
      d = cast<mk::GroupedTileOp>(eb.clone(*d.getOperation()));
      std::array<Value, 2> cols = colsOf(d);
      auto [row, has] = wideRows(eb, d);
      auto ifOp = scf::IfOp::create(eb, l, has, false);
      OpBuilder sb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      for (int64_t half = 0; half < 2; ++half) {
        // (The first half's columns are always below H.)
        OpBuilder ib = sb;
        if (half == 1) {
          auto inside = scf::IfOp::create(
              sb, l,
              arith::CmpIOp::create(sb, l, arith::CmpIPredicate::ult, cols[1],
                                    cH),
              false);
          ib = OpBuilder::atBlockTerminator(inside.thenBlock());
        }
        storeY(ib, d, r[half], row, cols[half]);
      }
      return r[2];
    };
    // The 64-row tiles' work: GEMM1's and GEMM2's, from the decoded tile
    // and the ring iteration; each returns the next iteration.
    auto gemm1Tile = [&](OpBuilder &tb, mk::GroupedTileOp d,
                         Value iter) -> Value {
      Location l = loc;
      // w13_scales[e][nb][0]: the gate's block is the column tile,
      // the up's I / 128 further.
      Value nb = arith::AddIOp::create(
          tb, l, d.getColTile(),
          arith::SelectOp::create(tb, l, isFirst, c0, cIBlocks));
      TileScales ts{rowScales, w13Scales,
                    scaleBase(tb, d.getExpert(), c2IBlocks, nb, cHBlocks),
                    hBlocks};
      // MXFP4: the gate's weight rows, then the up's (I further).
      Fp4Rows fr;
      if (fp4)
        fr = {w13Scales,
              gemm1WeightBoxes(tb, l, d.getExpert(), d.getColTile(), i, 128,
                               /*interleaved=*/false)
                  .first,
              cI, e * 2 * i, h / 32};
      auto [acc, next] = mmas(tb, d, ts, slices1, iter, fr);
      if (!splitAct) {
        // The up's accumulator to the first warpgroup, which applies
        // the activation, quantizes and signals the block.
        auto who = scf::IfOp::create(tb, l, isFirst, true);
        {
          OpBuilder fb = OpBuilder::atBlockTerminator(who.thenBlock());
          timers.stamp(fb, l, 13, isFirst, "sub");
          mk::BarrierSyncOp::create(fb, l, fb.getI64IntegerAttr(kFull),
                                    fb.getI64IntegerAttr(256));
          Value up = mk::AccLoadSmemOp::create(fb, l, accType, exchange);
          mk::BarrierSyncOp::create(fb, l, fb.getI64IntegerAttr(kEmpty),
                                    fb.getI64IntegerAttr(256));
          timers.turn(fb, l, 13, 14, isFirst);
          storeActFp8(fb, d, acc, up, d.getRow(), Value(), IntegerAttr());
          timers.turn(fb, l, 14, 15, isFirst);
          mk::SignalOp::create(fb, l, ready, readyIndex(fb, d));
          timers.stamp(fb, l, 15, isFirst, "add");
        }
        {
          OpBuilder sb = OpBuilder::atBlockTerminator(who.elseBlock());
          mk::AccStoreSmemOp::create(sb, l, acc, exchange, DenseI64ArrayAttr());
          mk::BarrierSyncOp::create(sb, l, sb.getI64IntegerAttr(kFull),
                                    sb.getI64IntegerAttr(256));
          mk::BarrierSyncOp::create(sb, l, sb.getI64IntegerAttr(kEmpty),
                                    sb.getI64IntegerAttr(256));
        }
        return next;
      }
      // Each warpgroup takes 64 of the 128 activation columns: the
      // first the gate's and up's columns 0-63, the second 64-127.
      // Each hands the other the half of its accumulator it
      // lacks (fragment values 32-63 of the gate, 0-31 of the
      // up) through the exchange buffer, both between named
      // barriers 5 and 6; the two meet once more inside
      // store_act_fp8 (barrier 7) for the rows' amax over all 128
      // columns, and each signals the block.
      auto halves = scf::IfOp::create(tb, l, isFirst, true);
      for (int64_t half = 0; half < 2; ++half) {
        OpBuilder hb = OpBuilder::atBlockTerminator(
            half == 0 ? halves.thenBlock() : halves.elseBlock());
        // The first warpgroup (the gate) gives values 32-63, the
        // second (the up) 0-31, and takes the other's.
        auto range = [&](bool given) {
          return hb.getDenseI64ArrayAttr((half == 0) == given
                                             ? ArrayRef<int64_t>{32, 64}
                                             : ArrayRef<int64_t>{0, 32});
        };
        if (half == 0)
          timers.stamp(hb, l, 13, isFirst, "sub");
        mk::AccStoreSmemOp::create(hb, l, acc, exchange, range(/*given=*/true));
        mk::BarrierSyncOp::create(hb, l, hb.getI64IntegerAttr(kFull),
                                  hb.getI64IntegerAttr(256));
        Value other = mk::AccLoadSmemOp::create(hb, l, accType, exchange,
                                                hb.getI64IntegerAttr(64),
                                                range(/*given=*/false));
        if (half == 0)
          timers.turn(hb, l, 13, 14, isFirst);
        Value amaxBuf = LLVM::GEPOp::create(
            hb, l, exchange.getType(), hb.getI8Type(), exchange,
            ArrayRef<LLVM::GEPArg>{int32_t(kExchangeBytes)});
        storeActFp8(hb, d, half == 0 ? acc : other, half == 0 ? other : acc,
                    d.getRow(), amaxBuf, hb.getI64IntegerAttr(half));
      }
      timers.turn(tb, l, 14, 15, isFirst);
      // The exchange and the amax buffer may be written again.
      mk::BarrierSyncOp::create(tb, l, tb.getI64IntegerAttr(kEmpty),
                                tb.getI64IntegerAttr(256));
      mk::SignalOp::create(tb, l, ready, readyIndex(tb, d));
      timers.stamp(tb, l, 15, isFirst, "add");
      return next;
    };
    auto gemm2Tile = [&](OpBuilder &eb, mk::GroupedTileOp d,
                         Value iter) -> Value {
      Location l = loc;
      // Columns colTile * 256 + 128 * wg; a block past H (H an odd
      // multiple of 128) reads the last block's scale and stores
      // nothing.
      Value col = arith::AddIOp::create(
          eb, l, arith::MulIOp::create(eb, l, d.getColTile(), c256),
          arith::MulIOp::create(eb, l, wg, c128));
      TileScales ts{actScales, w2Scales, w2ScaleBase(eb, d, col), iBlocks};
      Fp4Rows fr;
      if (fp4)
        fr = {w2Scales,
              arith::AddIOp::create(
                  eb, l, arith::MulIOp::create(eb, l, d.getExpert(), cH),
                  arith::MulIOp::create(eb, l, d.getColTile(), c256)),
              c128, e * h, i / 32};
      auto [acc, next] = mmas(eb, d, ts, slices2, iter, fr);
      // (moek.store_acc masks no column when ld is a multiple of the
      // accumulator's width.)
      auto inside = scf::IfOp::create(
          eb, l,
          arith::CmpIOp::create(eb, l, arith::CmpIPredicate::ult, col, cH),
          false);
      OpBuilder ib = OpBuilder::atBlockTerminator(inside.thenBlock());
      storeY(ib, d, acc, d.getRow(), col);
      return next;
    };
    timers.stamp(b, loc, 6, isFirst, "sub");
    Value last = wide ? consumerTiles(wideGemm1Tile, wideGemm2Tile)
                      : consumerTiles(gemm1Tile, gemm2Tile);
    timers.stamp(b, loc, 6, isFirst, "add");
    // The stop mark's stage.
    mk::RingReleaseOp::create(b, loc, ring, last);
    if (!wide)
      endTurns(b, loc, second);
    // y's rows stored by TMA are complete before grid barrier 3.
    if (yTma)
      mk::StoreAccTmaWaitOp::create(b, loc);
    timers.stamp(b, loc, 3, isFirst);
    // Phase 3: every row of y is stored (grid barrier 3, or 2, consumers
    // only).
    mk::GridBarrierOp::create(b, loc, barrier, b.getI64IntegerAttr(lastBarrier),
                              b.getI64IntegerAttr(4), b.getI64IntegerAttr(256));
    Value cta = mk::BlockIdOp::create(b, loc, b.getIndexType());
    ep.advanceBase(b, loc, cta);
    ep.awaitResults(b, loc, cta);
    timers.stamp(b, loc, 4, isFirst);
    Value combineWeights =
        op.getRouterWeight() == RouterWeight::in_combine ? weights : Value();
    mk::CombineOp::create(b, loc, y, slotRows, combineWeights, out, tokens,
                          b.getI64IntegerAttr(k), b.getI64IntegerAttr(h),
                          TypeAttr::get(yElem), TypeAttr::get(outElem),
                          b.getI64IntegerAttr(128), b.getI64IntegerAttr(256));
    timers.stamp(b, loc, 5, isFirst);
  }
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

} // namespace mlir::moe::kernelgen
