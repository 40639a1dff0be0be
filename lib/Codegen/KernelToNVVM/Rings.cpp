//===- Rings.cpp - Lower moek rings, stages and TMA loads -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Rings become mbarrier-guarded regions of dynamic shared memory filled by
// TMA: their allocation, the stage ops (acquire, expect, wait, release),
// tags, TMA loads, staged scales, gathered rows and the shared-memory blocks
// handed between warpgroups.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <optional>

namespace mlir::moe::kernel::nvvm {

namespace {

/// Byte `offset` of the dynamic shared memory, whose base is rounded up to
/// 1024 bytes at run time (128B swizzle needs 1024-byte aligned tiles).
Value dynamicSmemAt(OpBuilder &b, Location loc, int64_t offset) {
  MLIRContext *ctx = b.getContext();
  Value dyn = LLVM::AddressOfOp::create(b, loc, ptrTy(ctx, 3), kDynamicSmem);
  Value base = LLVM::PtrToIntOp::create(b, loc, b.getI64Type(), dyn);
  Value aligned = LLVM::AndOp::create(
      b, loc, LLVM::AddOp::create(b, loc, base, i64c(b, loc, 1023)),
      i64c(b, loc, ~int64_t(1023)));
  aligned = LLVM::AddOp::create(b, loc, aligned, i64c(b, loc, offset));
  return LLVM::IntToPtrOp::create(b, loc, ptrTy(ctx, 3), aligned);
}

struct SmemAllocLowering : OpConversionPattern<SmemAllocOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SmemAllocOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto offsetAttr = op->getAttrOfType<IntegerAttr>(kSmemOffsetAttr);
    if (!offsetAttr)
      return rewriter.notifyMatchFailure(op, "shared memory not planned");
    rewriter.replaceOp(
        op, dynamicSmemAt(rewriter, op.getLoc(), offsetAttr.getInt()));
    return success();
  }
};

/// Float `v * 128 + t` of `ptr` for fragment value `v` of warpgroup thread
/// `t` (moek.acc_store_smem): consecutive threads, consecutive words.
Value fragmentSlot(OpBuilder &b, Location loc, Value ptr, int64_t v) {
  Value t = LLVM::URemOp::create(b, loc, threadIdX(b, loc),
                                 i32c(b, loc, kWarpgroupThreads));
  Value index = LLVM::AddOp::create(b, loc, t, i32c(b, loc, v * 128));
  return LLVM::GEPOp::create(b, loc, ptr.getType(), b.getF32Type(), ptr,
                             ValueRange{index});
}

/// The fragment values [first, end) that `values` ([b, e], optional)
/// selects of an accumulator of type `acc`.
std::pair<int64_t, int64_t>
fragmentValues(std::optional<ArrayRef<int64_t>> values, AccType acc) {
  if (values)
    return {(*values)[0], (*values)[1]};
  return {0, fragmentSize(acc)};
}

struct AccStoreSmemLowering : OpConversionPattern<AccStoreSmemOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccStoreSmemOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto [first, end] = fragmentValues(op.getValues(), op.getAcc().getType());
    for (int64_t v = first; v < end; ++v)
      LLVM::StoreOp::create(
          rewriter, loc,
          LLVM::ExtractValueOp::create(rewriter, loc, adaptor.getAcc(),
                                       ArrayRef<int64_t>{v}),
          fragmentSlot(rewriter, loc, adaptor.getPtr(), v), 4);
    rewriter.eraseOp(op);
    return success();
  }
};

struct AccLoadSmemLowering : OpConversionPattern<AccLoadSmemOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccLoadSmemOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto structTy = cast<LLVM::LLVMStructType>(
        getTypeConverter()->convertType(op.getAcc().getType()));
    // The first `rows` rows are held by threads t < 2 rows: float
    // v * 2 rows + t (64 rows: moek.acc_store_smem's v * 128 + t); the
    // other threads' rows are 0 (they read a valid slot and drop it: no
    // branch; for 64 rows the clamp and the select fold away).
    int64_t rows = op.getRowsAttr().getInt();
    Type f32 = rewriter.getF32Type();
    Value t = LLVM::URemOp::create(rewriter, loc, threadIdX(rewriter, loc),
                                   i32c(rewriter, loc, kWarpgroupThreads));
    Value inside = LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::ult,
                                        t, i32c(rewriter, loc, 2 * rows));
    Value tt = LLVM::UMinOp::create(rewriter, loc, t,
                                    i32c(rewriter, loc, 2 * rows - 1));
    Value zero = LLVM::ConstantOp::create(rewriter, loc, f32,
                                          rewriter.getF32FloatAttr(0.0f));
    int64_t first, end;
    std::tie(first, end) =
        fragmentValues(op.getValues(), op.getAcc().getType());
    Value acc = buildAcc(
        rewriter, loc, structTy, fragmentSize(op.getAcc().getType()),
        [&](int64_t v) -> Value {
          if (v < first || v >= end)
            return zero;
          Value index = LLVM::AddOp::create(rewriter, loc, tt,
                                            i32c(rewriter, loc, v * 2 * rows));
          Value x = LLVM::LoadOp::create(
              rewriter, loc, f32,
              LLVM::GEPOp::create(rewriter, loc, adaptor.getPtr().getType(),
                                  f32, adaptor.getPtr(), ValueRange{index}),
              4);
          return LLVM::SelectOp::create(rewriter, loc, inside, x, zero);
        });
    rewriter.replaceOp(op, acc);
    return success();
  }
};

} // namespace

Value relayWord(OpBuilder &b, Location loc, Operation *op, int64_t word,
                Value plus) {
  auto sym = op->getAttrOfType<FlatSymbolRefAttr>(kRelayAttr);
  Value base = LLVM::AddressOfOp::create(b, loc, ptrTy(b.getContext(), 3),
                                         sym.getValue());
  Value at = i64c(b, loc, word);
  if (plus)
    at = LLVM::AddOp::create(b, loc, at, plus);
  return LLVM::GEPOp::create(b, loc, ptrTy(b.getContext(), 3), b.getI64Type(),
                             base, ValueRange{at});
}

namespace {

struct RingAllocLowering : OpConversionPattern<RingAllocOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RingAllocOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    RingType type = op.getRing().getType();
    auto offsetAttr = op->getAttrOfType<IntegerAttr>(kSmemOffsetAttr);
    auto barsAttr = op->getAttrOfType<FlatSymbolRefAttr>(kBarriersAttr);
    if (!offsetAttr || !barsAttr)
      return rewriter.notifyMatchFailure(op, "shared memory not planned");

    Value tiles = dynamicSmemAt(rewriter, loc, offsetAttr.getInt());
    Value bars = LLVM::AddressOfOp::create(rewriter, loc, ptrTy(ctx, 3),
                                           barsAttr.getValue());

    // Thread 0 initializes the barriers; everyone waits for it.
    Value tid = threadIdX(rewriter, loc);
    Value isFirst = LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::eq,
                                         tid, i32c(rewriter, loc, 0));
    auto ifOp = scf::IfOp::create(rewriter, loc, isFirst, false);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      int64_t stages = type.getStages();
      for (int64_t s = 0; s < 2 * stages; ++s) {
        Value bar = LLVM::GEPOp::create(rewriter, loc, ptrTy(ctx, 3),
                                        rewriter.getI64Type(), bars,
                                        ValueRange{i64c(rewriter, loc, s)});
        // A ring shared by a cluster: one arrival per consumer warpgroup of
        // every CTA (see RingStageLowering's release).
        int64_t consumers = op.getConsumersAttr().getInt();
        int64_t cluster = op.getCluster();
        int64_t count = s < stages    ? op.getProducers()
                        : cluster > 1 ? consumers / kWarpgroupThreads * cluster
                                      : consumers;
        NVVM::MBarrierInitOp::create(rewriter, loc, bar,
                                     i32c(rewriter, loc, count), Value());
      }
      // The signal relay's barriers (see postToRelay): `posted` of the
      // warpgroup's threads, `taken` of those and the relay's.
      if (op->hasAttr(kRelayAttr))
        for (int64_t word = kRelayPosted; word < kRelayWords; ++word)
          NVVM::MBarrierInitOp::create(
              rewriter, loc, relayWord(rewriter, loc, op, word),
              i32c(rewriter, loc,
                   word < kRelayTaken ? kWarpgroupThreads
                                      : kWarpgroupThreads + 1),
              Value());
      NVVM::FenceMbarrierInitOp::create(rewriter, loc);
      NVVM::FenceProxyOp::create(
          rewriter, loc,
          NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
          NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
    }
    if (op.getCluster() > 1) {
      // Every CTA's barriers exist before any peer signals them.
      clusterBarrier(rewriter, loc);
    } else {
      NVVM::Barrier0Op::create(rewriter, loc);
    }

    Value ring = LLVM::UndefOp::create(rewriter, loc, ringStructType(ctx));
    ring = LLVM::InsertValueOp::create(rewriter, loc, ring, tiles,
                                       ArrayRef<int64_t>{0});
    ring = LLVM::InsertValueOp::create(rewriter, loc, ring, bars,
                                       ArrayRef<int64_t>{1});
    rewriter.replaceOp(op, ring);
    return success();
  }
};

template <typename OpTy> struct RingStageLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    if constexpr (std::is_same_v<OpTy, RingAcquireOp>) {
      // A fresh barrier is in phase 0, so waiting for parity 1 passes at once.
      Value parity =
          LLVM::XOrOp::create(rewriter, loc, p.parity, i32c(rewriter, loc, 1));
      waitParity(rewriter, loc, barrierOf(rewriter, loc, p, type, true),
                 parity);
    } else if constexpr (std::is_same_v<OpTy, RingExpectOp>) {
      Value bytes = adaptor.getBytes()
                        ? toI32(rewriter, loc, adaptor.getBytes())
                        : i32c(rewriter, loc, type.getStageBytes());
      NVVM::MBarrierArriveExpectTxOp::create(
          rewriter, loc, Type(), barrierOf(rewriter, loc, p, type, false),
          bytes, NVVM::MemScopeKindAttr(), BoolAttr(), Value());
    } else if constexpr (std::is_same_v<OpTy, RingWaitOp>) {
      waitParity(rewriter, loc, barrierOf(rewriter, loc, p, type, false),
                 p.parity);
    } else {
      static_assert(std::is_same_v<OpTy, RingReleaseOp>);
      Value bar = barrierOf(rewriter, loc, p, type, true);
      int64_t cluster = ringCluster(op);
      if (cluster == 1) {
        NVVM::MBarrierArriveOp::create(rewriter, loc, Type(), bar, Value(),
                                       NVVM::MemScopeKindAttr());
      } else {
        // Thread r of each consumer warpgroup arrives for the warpgroup on
        // the barrier of CTA r: its wgmma wait covers the whole
        // warpgroup's reads of the stage. A predicated arrive, not a
        // branch: a branch made the warp diverge around the mbarrier waits
        // that follow (each a bra.uni spin loop), the suspected cause of a
        // hang on the H200 (bench/results/, cluster multicast). The
        // arrive's semantics are the default (release at CTA scope), as in
        // CUTLASS's cluster barriers: the stage's reads were by this
        // warpgroup's wgmmas, complete at its wait; `.release.cluster`
        // fenced every release and made the clustered grouped matmul 1.7x
        // slower (2026-12-04-grouped-gemm-l2-h200.md).
        Value lane =
            LLVM::URemOp::create(rewriter, loc, threadIdX(rewriter, loc),
                                 i32c(rewriter, loc, kWarpgroupThreads));
        Value signals = LLVM::ZExtOp::create(
            rewriter, loc, rewriter.getI32Type(),
            LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::ult, lane,
                                 i32c(rewriter, loc, cluster)));
        Value target = LLVM::URemOp::create(rewriter, loc, lane,
                                            i32c(rewriter, loc, cluster));
        Value remote = inClusterCta(rewriter, loc, bar, target);
        ptxVoid(rewriter, loc,
                "{\n.reg .pred p;\nsetp.ne.b32 p, $1, 0;\n"
                "@p mbarrier.arrive.shared::cluster.b64 _, "
                "[$0];\n}",
                "l,r",
                ValueRange{LLVM::PtrToIntOp::create(
                               rewriter, loc, rewriter.getI64Type(), remote),
                           signals});
      }
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// The tag word of the stage (see moek.ring_set_tag): an i64 slot after the
/// stage's full and empty barriers.
Value tagOf(OpBuilder &b, Location loc, RingParts &p, RingType type) {
  Value index =
      LLVM::AddOp::create(b, loc, p.stage, i64c(b, loc, 2 * type.getStages()));
  return LLVM::GEPOp::create(b, loc, p.barriers.getType(), b.getI64Type(),
                             p.barriers, ValueRange{index});
}

/// cp.async.mbarrier.arrive.noinc on the stage's full barrier: an arrival
/// the ring's `producers` counts, made when the thread's copies complete.
struct RingArriveCopiesLowering : OpConversionPattern<RingArriveCopiesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RingArriveCopiesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    NVVM::CpAsyncMBarrierArriveOp::create(
        rewriter, loc, barrierOf(rewriter, loc, p, type, /*empty=*/false),
        /*noinc=*/true);
    rewriter.eraseOp(op);
    return success();
  }
};

/// 4-byte cp.async of `src` (global) to `dst` (shared).
void copyWordAsync(OpBuilder &b, Location loc, Value dst, Value src) {
  NVVM::CpAsyncOp::create(b, loc, dst, src, b.getI32IntegerAttr(4),
                          NVVM::LoadCacheModifierKindAttr::get(
                              b.getContext(), NVVM::LoadCacheModifierKind::CA),
                          Value());
}

/// Lane l of the warp copies rows 32 j + l of the tile's scale words, one
/// 4-byte cp.async each, to byte 512 (j / 4) + 16 l + 4 (j % 4): the
/// 512-byte blocks of tcgen05.cp .32x128b (rows r % 32 = l in bytes
/// 16 l .. 16 l + 15, column (r % 128) / 32 in each 4-byte word).
struct StageScalesLowering : OpConversionPattern<StageScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StageScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RingType type = op.getRing().getType();
    int64_t index = op.getTileAttr().getInt();
    int64_t rows = type.getTile(index).getDimSize(0);
    int64_t cols = op.getScaleColsAttr().getInt();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    Value tile = tileAddress(rewriter, loc, p, type, index);
    Value lane = LLVM::ZExtOp::create(
        rewriter, loc, rewriter.getI64Type(),
        LLVM::URemOp::create(rewriter, loc, threadIdX(rewriter, loc),
                             i32c(rewriter, loc, 32)));
    Value row = toI64(rewriter, loc, adaptor.getRow());
    Value last = toI64(rewriter, loc, adaptor.getLast());
    Value column = LLVM::MulOp::create(rewriter, loc,
                                       toI64(rewriter, loc, adaptor.getKb()),
                                       i64c(rewriter, loc, 4));
    Value laneBytes =
        LLVM::MulOp::create(rewriter, loc, lane, i64c(rewriter, loc, 16));
    Value upper =
        adaptor.getUpper() ? toI64(rewriter, loc, adaptor.getUpper()) : Value();
    for (int64_t j = 0; j < rows / 32; ++j) {
      // With `upper`, the second half of the tile's rows from there.
      bool high = upper && 32 * j >= rows / 2;
      Value r = LLVM::AddOp::create(
          rewriter, loc, high ? upper : row,
          LLVM::AddOp::create(
              rewriter, loc, lane,
              i64c(rewriter, loc, 32 * j - (high ? rows / 2 : 0))));
      Value srcRow = LLVM::UMinOp::create(rewriter, loc, r, last);
      Value src = gepBytes(
          rewriter, loc, adaptor.getScales(),
          LLVM::AddOp::create(rewriter, loc,
                              LLVM::MulOp::create(rewriter, loc, srcRow,
                                                  i64c(rewriter, loc, cols)),
                              column));
      Value dst =
          gepBytes(rewriter, loc, tile,
                   LLVM::AddOp::create(
                       rewriter, loc, laneBytes,
                       i64c(rewriter, loc, 512 * (j / 4) + 4 * (j % 4))));
      copyWordAsync(rewriter, loc, dst, src);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// Lane l copies the scales of rows 32 j + l to word 32 j + l of the
/// tile; lanes 0 and 1 the weight scales w0 and w1 to words rows and
/// rows + 1. Indices in 32 bits, for the producer warp's 40 registers
/// (each lane's row indices are held across its K loop; the fused
/// kernels' scale arrays hold far fewer than 2^31 words).
struct StageBlockScalesLowering : OpConversionPattern<StageBlockScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StageBlockScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    int64_t rows = op.getRowsAttr().getInt(), ld = op.getLdAttr().getInt();
    RingParts p = unpackRing(b, loc, adaptor.getRing(), op.getRing().getType(),
                             adaptor.getIter());
    Value slot = tileAddress(b, loc, p, op.getRing().getType(),
                             op.getTileAttr().getInt());
    Value lane =
        LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
    Value row = toI32(b, loc, adaptor.getRow());
    Value last = toI32(b, loc, adaptor.getLast());
    Value kb = LLVM::MulOp::create(b, loc, toI32(b, loc, adaptor.getKb()),
                                   i32c(b, loc, op.getKbStride()));
    Value four = i32c(b, loc, 4);
    // Element min(row + l + 32 j, last) * ld + kb as
    // min((row + l) * ld + kb + 32 j ld, last * ld + kb): two values a lane
    // for all j (ld > 0).
    auto elementOf = [&](Value r) {
      return LLVM::AddOp::create(
          b, loc, LLVM::MulOp::create(b, loc, r, i32c(b, loc, ld)), kb);
    };
    Value first = elementOf(LLVM::AddOp::create(b, loc, row, lane));
    Value limit = elementOf(last);
    Value laneBytes = LLVM::MulOp::create(b, loc, lane, four);
    for (int64_t j = 0; j < rows / 32; ++j) {
      Value element = LLVM::UMinOp::create(
          b, loc, LLVM::AddOp::create(b, loc, first, i32c(b, loc, 32 * j * ld)),
          limit);
      copyWordAsync(b, loc,
                    gepBytesU32(b, loc, slot,
                                LLVM::AddOp::create(b, loc, laneBytes,
                                                    i32c(b, loc, 128 * j))),
                    gepBytesU32(b, loc, adaptor.getRowsPtr(),
                                LLVM::MulOp::create(b, loc, element, four)));
    }
    auto ifOp =
        scf::IfOp::create(b, loc,
                          LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult,
                                               lane, i32c(b, loc, 2)),
                          /*withElseRegion=*/false);
    OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
    Value w = LLVM::SelectOp::create(
        tb, loc,
        LLVM::ICmpOp::create(tb, loc, LLVM::ICmpPredicate::eq, lane,
                             i32c(tb, loc, 0)),
        toI32(tb, loc, adaptor.getW0()), toI32(tb, loc, adaptor.getW1()));
    copyWordAsync(
        tb, loc,
        gepBytesU32(tb, loc, slot,
                    LLVM::MulOp::create(
                        tb, loc,
                        LLVM::AddOp::create(tb, loc, lane, i32c(tb, loc, rows)),
                        four)),
        gepBytesU32(tb, loc, adaptor.getWeights(),
                    LLVM::MulOp::create(tb, loc, w, four)));
    rewriter.eraseOp(op);
    return success();
  }
};

/// The thread's rows fragmentRow and + 8 of the accumulator from word
/// `row` of the tile, and the two weight scales: ld.shared at 32-bit
/// shared addresses (inline PTX, kept where the op is: after the stage's
/// wait). With LLVM's 64-bit shared pointers the kernel held 64-bit
/// addresses across the K loop, where the 192 accumulator registers leave
/// 40, and ptxas spilled more.
struct LoadStagedScalesLowering : OpConversionPattern<LoadStagedScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadStagedScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    int64_t rows = op.getRowsAttr().getInt();
    Type f32 = b.getF32Type(), i32 = b.getI32Type();
    RingParts p = unpackRing(b, loc, adaptor.getRing(), op.getRing().getType(),
                             adaptor.getIter());
    Value slot = LLVM::TruncOp::create(
        b, loc, i32,
        LLVM::PtrToIntOp::create(b, loc, b.getI64Type(),
                                 tileAddress(b, loc, p, op.getRing().getType(),
                                             op.getTileAttr().getInt())));
    Value rowAddr = LLVM::AddOp::create(
        b, loc, slot,
        LLVM::MulOp::create(b, loc,
                            LLVM::AddOp::create(b, loc,
                                                toI32(b, loc, adaptor.getRow()),
                                                fragmentRow(b, loc)),
                            i32c(b, loc, 4)));
    auto load = [&](TypeRange types, StringRef text, StringRef constraints,
                    Value addr) {
      return LLVM::InlineAsmOp::create(
          b, loc, types, ValueRange{addr}, text, constraints,
          /*has_side_effects=*/true, /*is_align_stack=*/false,
          LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr());
    };
    Value rowPair =
        load(LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32}),
             "ld.shared.f32 $0, [$2];\n\tld.shared.f32 $1, [$2+32];", "=f,=f,r",
             rowAddr)
            .getResult(0);
    Value weights =
        load(LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32}),
             "ld.shared.v2.f32 {$0, $1}, [$2];", "=f,=f,r",
             LLVM::AddOp::create(b, loc, slot, i32c(b, loc, 4 * rows)))
            .getResult(0);
    auto field = [&](Value pair, int64_t k) -> Value {
      return LLVM::ExtractValueOp::create(b, loc, pair, ArrayRef<int64_t>{k});
    };
    Value result = LLVM::UndefOp::create(
        b, loc, rowsStructType(op.getRowScales().getType()));
    for (int64_t half = 0; half < 2; ++half)
      result = LLVM::InsertValueOp::create(b, loc, result, field(rowPair, half),
                                           ArrayRef<int64_t>{half});
    rewriter.replaceOp(op, {result, field(weights, 0), field(weights, 1)});
    return success();
  }
};

/// Lane 2p + h loads the tokens of tile rows p + 16 j, j < N (a vector
/// of N), 0xFFFFFFFF past row_end.
struct LoadRowTokensLowering : OpConversionPattern<LoadRowTokensOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadRowTokensOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type i32 = b.getI32Type(), i64 = b.getI64Type();
    VectorType type = op.getTokens().getType();
    Value lane =
        LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
    Value pairRow = LLVM::ZExtOp::create(
        b, loc, i64, LLVM::LShrOp::create(b, loc, lane, i32c(b, loc, 1)));
    Value row = toI64(b, loc, adaptor.getRow());
    Value first = LLVM::AddOp::create(b, loc, row, pairRow);
    Value rowEnd = toI64(b, loc, adaptor.getRowEnd());
    Value tokens = LLVM::PoisonOp::create(b, loc, type);
    for (int64_t j = 0; j < type.getDimSize(0); ++j) {
      Value r = LLVM::AddOp::create(b, loc, first, i64c(b, loc, 16 * j));
      Value inside =
          LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, r, rowEnd);
      // Rows past the end load the tile's first row's token (every tile
      // has one) and report none.
      Value from = LLVM::SelectOp::create(b, loc, inside, r, row);
      Value token = LLVM::LoadOp::create(
          b, loc, i32,
          LLVM::GEPOp::create(b, loc, adaptor.getRowTokens().getType(), i32,
                              adaptor.getRowTokens(), ValueRange{from}),
          4);
      token = LLVM::SelectOp::create(b, loc, inside, token, i32c(b, loc, -1));
      tokens =
          LLVM::InsertElementOp::create(b, loc, tokens, token, i32c(b, loc, j));
    }
    rewriter.replaceOp(op, tokens);
    return success();
  }
};

/// The L2 cache policy of an `l2_hint` (the encodings of createpolicy's
/// fractional evict_first / evict_last policies with fraction 1.0), the
/// operand of a copy's `.L2::cache_hint`.
Value l2Policy(OpBuilder &b, Location loc, StringRef hint) {
  return i64c(b, loc,
              int64_t(hint == "evict_first" ? 0x12F0000000000000ull
                                            : 0x14F0000000000000ull));
}

/// Lanes 2p and 2p + 1 take tile rows q = p + 16 j (R / 16 of them, so
/// q % 8 = p % 8), lane h of the pair the 16-byte pieces c = 2 m + h, m <
/// 4, of each: every copy instruction of the warp reads 32 contiguous bytes
/// (a sector) of 16 rows. Piece c of row q goes to byte 128 q + 16 (c ^ (q
/// % 8)) of the tile: TMA's 128-byte swizzle, which XORs address bits 4-6
/// with bits 7-9 (the tile is 1024-byte aligned); bf16SwizzledChunk's
/// layout, which the FP4 expansions write for wgmma. So a lane's four
/// destinations in a row are fixed offsets from its row's start, and its
/// rows 2048 bytes apart; its four sources 32 bytes apart from the row's
/// first: one address a row from its token (loaded once a tile by
/// moek.load_row_tokens), then four copies. A row without a token
/// (0xFFFFFFFF) reads row 0 of x and copies 0 bytes (zeros). With
/// `l2_hint` each copy carries its policy (`.L2::cache_hint`, which
/// NVVM's cp.async op does not take: an asm a copy).
struct GatherRowsLowering : OpConversionPattern<GatherRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherRowsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    RingType type = op.getRing().getType();
    int64_t index = op.getTileAttr().getInt();
    MemRefType tileType = type.getTile(index);
    int64_t rows = tileType.getDimSize(0);
    int64_t elemBytes = tileType.getElementTypeBitWidth() / 8;
    int64_t rowBytes = elemBytes * op.getHiddenAttr().getInt();
    Type i32 = b.getI32Type(), i64 = b.getI64Type();
    RingParts p =
        unpackRing(b, loc, adaptor.getRing(), type, adaptor.getIter());
    Value tile = tileAddress(b, loc, p, type, index);
    // A %tid.x read of its own: with the kernel's, LLVM hoisted the rows'
    // addresses and sizes out of the K loop, and the producer warp's
    // registers spilled them (268 bytes).
    Value lane =
        LLVM::URemOp::create(b, loc, freshThreadIdX(b, loc), i32c(b, loc, 32));
    Value pair = LLVM::LShrOp::create(b, loc, lane, i32c(b, loc, 1));
    Value half = LLVM::AndOp::create(b, loc, lane, i32c(b, loc, 1));
    // The lane's first tile row p, and its row's start in the tile.
    Value pairRow = LLVM::ZExtOp::create(b, loc, i64, pair);
    Value rowStart = gepBytes(
        b, loc, tile, LLVM::MulOp::create(b, loc, pairRow, i64c(b, loc, 128)));
    // Its four pieces' swizzled places: 16 ((2 m + h) ^ (p % 8)).
    Value rowPhase = LLVM::AndOp::create(b, loc, pair, i32c(b, loc, 7));
    SmallVector<Value> dst;
    for (int64_t m = 0; m < 4; ++m) {
      Value c = LLVM::OrOp::create(b, loc, half, i32c(b, loc, 2 * m));
      Value swizzled = LLVM::ShlOp::create(
          b, loc, LLVM::XOrOp::create(b, loc, c, rowPhase), i32c(b, loc, 4));
      dst.push_back(gepBytes(b, loc, rowStart,
                             LLVM::ZExtOp::create(b, loc, i64, swizzled)));
    }
    // The lane's first source byte in a token row: the K slice's, then its
    // first piece's (16 h).
    Value column = LLVM::AddOp::create(
        b, loc,
        LLVM::MulOp::create(b, loc, toI64(b, loc, adaptor.getK()),
                            i64c(b, loc, elemBytes)),
        LLVM::ZExtOp::create(
            b, loc, i64, LLVM::ShlOp::create(b, loc, half, i32c(b, loc, 4))));
    Value src0 = gepBytes(b, loc, adaptor.getX(), column);
    auto cg = NVVM::LoadCacheModifierKindAttr::get(
        b.getContext(), NVVM::LoadCacheModifierKind::CG);
    Value policy;
    if (std::optional<StringRef> hint = op.getL2Hint())
      policy = l2Policy(b, loc, *hint);
    for (int64_t j = 0; j < rows / 16; ++j) {
      // Each stage takes the token through an asm of its own: the tokens
      // are the same in every stage of the tile, and LLVM would otherwise
      // hoist the rows' 64-bit addresses out of the K loop, more registers
      // than the producer warp has.
      Value token = LLVM::ExtractElementOp::create(b, loc, adaptor.getTokens(),
                                                   i32c(b, loc, j));
      token = LLVM::InlineAsmOp::create(
                  b, loc, i32, ValueRange{token}, "mov.b32 $0, $1;", "=r,r",
                  /*has_side_effects=*/true, /*is_align_stack=*/false,
                  LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
                  .getResult(0);
      Value valid = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, token,
                                         i32c(b, loc, -1));
      Value from =
          LLVM::SelectOp::create(b, loc, valid, token, i32c(b, loc, 0));
      Value src = gepBytes(
          b, loc, src0,
          LLVM::MulOp::create(b, loc, LLVM::ZExtOp::create(b, loc, i64, from),
                              i64c(b, loc, rowBytes)));
      Value size = LLVM::SelectOp::create(b, loc, valid, i32c(b, loc, 16),
                                          i32c(b, loc, 0));
      for (int64_t m = 0; m < 4; ++m) {
        Value to = gepBytes(b, loc, dst[m], i64c(b, loc, 2048 * j));
        Value from = gepBytes(b, loc, src, i64c(b, loc, 32 * m));
        if (!policy) {
          NVVM::CpAsyncOp::create(b, loc, to, from, b.getI32IntegerAttr(16), cg,
                                  size);
          continue;
        }
        LLVM::InlineAsmOp::create(
            b, loc, LLVM::LLVMVoidType::get(b.getContext()),
            ValueRange{LLVM::PtrToIntOp::create(b, loc, i32, to),
                       LLVM::PtrToIntOp::create(b, loc, i64, from), size,
                       policy},
            "cp.async.cg.shared.global.L2::cache_hint [$0], [$1], 16, $2, "
            "$3;",
            "r,l,r,l", /*has_side_effects=*/true, /*is_align_stack=*/false,
            LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr());
      }
    }
    rewriter.eraseOp(op);
    return success();
  }
};

struct RingSetTagLowering : OpConversionPattern<RingSetTagOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RingSetTagOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    LLVM::StoreOp::create(rewriter, loc,
                          toI64(rewriter, loc, adaptor.getValue()),
                          tagOf(rewriter, loc, p, type), 8);
    rewriter.eraseOp(op);
    return success();
  }
};

struct RingTagLowering : OpConversionPattern<RingTagOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RingTagOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    // Volatile: the producer rewrites the word each time it fills the
    // stage, and the read must not be merged with an earlier one.
    Value v = LLVM::LoadOp::create(rewriter, loc, rewriter.getI64Type(),
                                   tagOf(rewriter, loc, p, type), 8,
                                   /*isVolatile=*/true);
    rewriter.replaceOp(op, toIndex(rewriter, loc, v));
    return success();
  }
};

struct TmaLoadLowering : OpConversionPattern<TmaLoadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TmaLoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    Value dst = tileAddress(rewriter, loc, p, type, op.getTileAttr().getInt());
    if (int64_t rowOffset = op.getRowOffset()) {
      MemRefType tile = type.getTile(op.getTileAttr().getInt());
      int64_t rowBytes = tile.getDimSize(1) * tile.getElementTypeBitWidth() / 8;
      dst = LLVM::GEPOp::create(rewriter, loc, dst.getType(),
                                rewriter.getI8Type(), dst,
                                ArrayRef<LLVM::GEPArg>{rowOffset * rowBytes});
    }
    Value dst7 =
        LLVM::AddrSpaceCastOp::create(rewriter, loc, ptrTy(ctx, 7), dst);
    SmallVector<Value> coords;
    for (Value c : adaptor.getCoords())
      coords.push_back(toI32(rewriter, loc, c));
    Value policy;
    if (std::optional<StringRef> hint = op.getL2Hint())
      policy = l2Policy(rewriter, loc, *hint);
    if (op.getLeaderBarrier()) {
      // A CTA pair: this CTA's copy completes on the even CTA's barrier
      // (a shared::cluster address, which NVVM's op does not take).
      Value bar =
          inClusterCta(rewriter, loc, barrierOf(rewriter, loc, p, type, false),
                       leaderRank(rewriter, loc));
      Type i64 = rewriter.getI64Type();
      SmallVector<Value> operands{
          LLVM::PtrToIntOp::create(rewriter, loc, i64, dst),
          LLVM::PtrToIntOp::create(rewriter, loc, i64, adaptor.getDesc()),
          LLVM::PtrToIntOp::create(rewriter, loc, i64, bar)};
      std::string text;
      llvm::raw_string_ostream os(text);
      os << "cp.async.bulk.tensor." << coords.size()
         << "d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
            ".cta_group::2"
         << (policy ? ".L2::cache_hint" : "") << " [$0], [$1, {";
      std::string constraints = "l,l,l";
      for (auto [i, c] : llvm::enumerate(coords)) {
        os << (i ? ", " : "") << "$" << (3 + i);
        operands.push_back(c);
        constraints += ",r";
      }
      os << "}], [$2]";
      if (policy) {
        os << ", $" << operands.size();
        operands.push_back(policy);
        constraints += ",l";
      }
      os << ";";
      ptxVoid(rewriter, loc, text, constraints, operands);
      rewriter.eraseOp(op);
      return success();
    }
    // Multicast: the same offset of every CTA of the cluster.
    Value mask;
    if (op.getMulticast())
      mask = cst(rewriter, loc, rewriter.getI16Type(),
                 (int64_t(1) << ringCluster(op)) - 1);
    NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
        rewriter, loc, dst7, adaptor.getDesc(), coords,
        barrierOf(rewriter, loc, p, type, false), ValueRange{}, mask, policy,
        NVVM::TMALoadModeAttr::get(ctx, NVVM::TMALoadMode::TILE), BoolAttr(),
        NVVM::CTAGroupKindAttr(), Value());
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateRingPatterns(const TypeConverter &converter,
                          RewritePatternSet &patterns) {
  patterns
      .add<RingAllocLowering, RingStageLowering<RingAcquireOp>,
           RingStageLowering<RingExpectOp>, RingStageLowering<RingWaitOp>,
           RingStageLowering<RingReleaseOp>, TmaLoadLowering, SmemAllocLowering,
           AccStoreSmemLowering, AccLoadSmemLowering, RingSetTagLowering,
           RingTagLowering, RingArriveCopiesLowering, StageScalesLowering,
           StageBlockScalesLowering, LoadStagedScalesLowering,
           GatherRowsLowering, LoadRowTokensLowering>(converter,
                                                      patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
