//===- Sync.cpp - Lower moek barriers, counters and signals -----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Grid barriers, readiness counters and signals (with their relay to the
// producer warpgroup), the counters of other GPUs, the dynamic scheduler's
// fetch-and-add and the phase timers.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace mlir::moe::kernel::nvvm {

//===----------------------------------------------------------------------===//
// Grid-wide synchronization, counters and the MoE phases
//===----------------------------------------------------------------------===//

namespace {

/// Inline PTX with side effects and one i32 result.
Value ptxI32(OpBuilder &b, Location loc, StringRef text, StringRef constraints,
             ValueRange operands) {
  return LLVM::InlineAsmOp::create(
             b, loc, TypeRange{b.getI32Type()}, operands, text, constraints,
             /*has_side_effects=*/true, /*is_align_stack=*/false,
             LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

Value ptrAsI64(OpBuilder &b, Location loc, Value ptr) {
  return LLVM::PtrToIntOp::create(b, loc, b.getI64Type(), ptr);
}

} // namespace

void releaseAdd(OpBuilder &b, Location loc, Value ptr) {
  ptxVoid(b, loc, "fence.acq_rel.gpu;\nred.release.gpu.global.add.u32 [$0], 1;",
          "l", ValueRange{ptrAsI64(b, loc, ptr)});
}

void spinUntilAtLeast(OpBuilder &b, Location loc, Value ptr, Value target) {
  Value addr = ptrAsI64(b, loc, ptr);
  auto loop = scf::WhileOp::create(b, loc, TypeRange{}, ValueRange{});
  {
    OpBuilder::InsertionGuard g(b);
    Block *before = b.createBlock(&loop.getBefore());
    b.setInsertionPointToStart(before);
    Value v = ptxI32(b, loc, "ld.acquire.gpu.global.u32 $0, [$1];", "=r,l",
                     ValueRange{addr});
    Value below =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, v, target);
    scf::ConditionOp::create(b, loc, below, ValueRange{});
    Block *after = b.createBlock(&loop.getAfter());
    b.setInsertionPointToStart(after);
    scf::YieldOp::create(b, loc, ValueRange{});
  }
}

void ctaBarrier(OpBuilder &b, Location loc, int64_t id, int64_t threads) {
  if (id == 0) {
    NVVM::Barrier0Op::create(b, loc);
    return;
  }
  namedBarrier(b, loc, i32c(b, loc, id), i32c(b, loc, threads),
               /*wait=*/true);
}

void gridBarrier(OpBuilder &b, Location loc, Value counter, int64_t phase,
                 int64_t id, Value threads, int64_t threadsConst) {
  // Every thread's stores before the barrier, ordered for TMA (async proxy)
  // reads after it, in any CTA; and the same fence after it, on the side of
  // the readers.
  auto proxyFence = [&] {
    NVVM::FenceProxyOp::create(
        b, loc,
        NVVM::ProxyKindAttr::get(b.getContext(), NVVM::ProxyKind::async_global),
        NVVM::SharedSpaceAttr());
  };
  proxyFence();
  ctaBarrier(b, loc, id, threadsConst);
  Value tid = threadIdX(b, loc);
  Value leader = LLVM::ICmpOp::create(
      b, loc, LLVM::ICmpPredicate::eq,
      LLVM::URemOp::create(b, loc, tid, threads), i32c(b, loc, 0));
  auto ifOp = scf::IfOp::create(b, loc, leader, false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    releaseAdd(b, loc, counter);
    Value grid = NVVM::GridDimXOp::create(b, loc, b.getI32Type());
    spinUntilAtLeast(b, loc, counter,
                     LLVM::MulOp::create(b, loc, grid, i32c(b, loc, phase)));
  }
  ctaBarrier(b, loc, id, threadsConst);
  proxyFence();
}

namespace {

struct GridBarrierLowering : OpConversionPattern<GridBarrierOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GridBarrierOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t id = op.getIdAttr().getInt();
    // With id 0 the whole block takes part: its size is the leader's modulus.
    Value threads = id == 0 ? NVVM::BlockDimXOp::create(rewriter, loc,
                                                        rewriter.getI32Type())
                                  .getResult()
                            : i32c(rewriter, loc, op.getThreadsAttr().getInt());
    gridBarrier(rewriter, loc, adaptor.getCounter(), op.getPhaseAttr().getInt(),
                id, threads, op.getThreadsAttr().getInt());
    rewriter.eraseOp(op);
    return success();
  }
};

/// Warpgroup `wg`'s (1 or 2, i32) word, an i32 in word 0.
Value relaySlot(OpBuilder &b, Location loc, Operation *op, Value wg) {
  Value base = relayWord(b, loc, op, 0);
  return LLVM::GEPOp::create(
      b, loc, ptrTy(b.getContext(), 3), b.getI32Type(), base,
      ValueRange{LLVM::SubOp::create(b, loc, wg, i32c(b, loc, 1))});
}

/// The warpgroup's side (thread `tid`, in warpgroup 1 or 2): arrive at
/// `taken` and wait for that phase (the relay has read the previous word),
/// the leader writes `value`, every thread arrives at `posted`.
void postToRelay(OpBuilder &b, Location loc, Operation *op, Value tid,
                 Value value) {
  Value wg = LLVM::UDivOp::create(b, loc, tid, i32c(b, loc, kWarpgroupThreads));
  Value wg0 = LLVM::ZExtOp::create(
      b, loc, b.getI64Type(), LLVM::SubOp::create(b, loc, wg, i32c(b, loc, 1)));
  Value taken = LLVM::PtrToIntOp::create(
      b, loc, b.getI32Type(), relayWord(b, loc, op, kRelayTaken, wg0));
  Value state =
      LLVM::InlineAsmOp::create(
          b, loc, b.getI64Type(), ValueRange{taken},
          "mbarrier.arrive.shared::cta.b64 $0, [$1];", "=l,r",
          /*has_side_effects=*/true, /*is_align_stack=*/false,
          LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
          .getResult(0);
  ptxVoid(b, loc,
          "{\n.reg .pred P1;\nLAB_WAIT:\n"
          "mbarrier.try_wait.shared::cta.b64 P1, [$0], $1, 10000000;\n"
          "@P1 bra.uni DONE;\nbra.uni LAB_WAIT;\nDONE:\n}",
          "r,l", ValueRange{taken, state});
  auto ifOp = scf::IfOp::create(b, loc, isWarpgroupLeader(b, loc, tid), false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    LLVM::StoreOp::create(b, loc, value, relaySlot(b, loc, op, wg),
                          /*alignment=*/4);
  }
  NVVM::MBarrierArriveOp::create(b, loc, Type(),
                                 relayWord(b, loc, op, kRelayPosted, wg0),
                                 Value(), NVVM::MemScopeKindAttr());
}

/// moek.signal's named barriers (warpgroup 1 of the CTA, the others).
constexpr int64_t kSignalBarrier1 = 3, kSignalBarrier2 = 15;

struct SignalLowering : OpConversionPattern<SignalOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SignalOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    if (op.getRelayed() && !op->hasAttr(kRelayAttr))
      return rewriter.notifyMatchFailure(op, "relay not planned");
    // Each thread's generic-proxy stores, ordered before later async-proxy
    // (TMA) reads of them.
    NVVM::FenceProxyOp::create(
        rewriter, loc,
        NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_global),
        NVVM::SharedSpaceAttr());
    Value tid = op.getFreshThreadId() ? freshThreadIdX(rewriter, loc)
                                      : threadIdX(rewriter, loc);
    if (op.getRelayed()) {
      postToRelay(rewriter, loc, op, tid,
                  toI32(rewriter, loc, adaptor.getIndex()));
      rewriter.eraseOp(op);
      return success();
    }
    // Named barrier 3 for warpgroup 1 of the CTA, 15 for the others (2):
    // ids no other op uses. (8 + the warpgroup's index, as before, was also
    // the FP8 x MXFP4 kernel's second MMA warpgroup's expansion barrier 9:
    // warps of the first warpgroup waiting here completed that barrier for
    // it.)
    Value wg = LLVM::UDivOp::create(rewriter, loc, tid,
                                    i32c(rewriter, loc, kWarpgroupThreads));
    Value id = LLVM::SelectOp::create(
        rewriter, loc,
        LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::eq, wg,
                             i32c(rewriter, loc, 1)),
        i32c(rewriter, loc, kSignalBarrier1),
        i32c(rewriter, loc, kSignalBarrier2));
    namedBarrier(rewriter, loc, id, i32c(rewriter, loc, kWarpgroupThreads),
                 /*wait=*/true);
    Value first = isWarpgroupLeader(rewriter, loc);
    auto ifOp = scf::IfOp::create(rewriter, loc, first, false);
    OpBuilder::InsertionGuard g(rewriter);
    rewriter.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    releaseAdd(rewriter, loc,
               elementAddress(rewriter, loc, adaptor.getCounters(),
                              rewriter.getI32Type(), adaptor.getIndex()));
    rewriter.eraseOp(op);
    return success();
  }
};

struct SignalEndLowering : OpConversionPattern<SignalEndOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SignalEndOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    if (!op->hasAttr(kRelayAttr))
      return rewriter.notifyMatchFailure(op, "relay not planned");
    postToRelay(rewriter, loc, op, freshThreadIdX(rewriter, loc),
                i32c(rewriter, loc, static_cast<int32_t>(kRelayEnd)));
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.signal_relay, on lane 0 of the warp (the other lanes go on): arrive
/// at `taken` once, then per posted index: wait for `posted`'s next phase,
/// read the word, stop at kRelayEnd, else arrive at `taken` and add
/// (releaseAdd: its GPU-scope fence orders the warpgroup's stores, which
/// their arrivals at `posted` released). One thread reads the word, so
/// every read of it is released to the warpgroup's next write by the
/// arrival at `taken` that follows it.
struct SignalRelayLowering : OpConversionPattern<SignalRelayOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SignalRelayOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    if (!op->hasAttr(kRelayAttr))
      return rewriter.notifyMatchFailure(op, "relay not planned");
    OpBuilder &b = rewriter;
    OpBuilder::InsertionGuard g(b);
    Value lane0 = LLVM::ICmpOp::create(
        b, loc, LLVM::ICmpPredicate::eq,
        LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32)),
        i32c(b, loc, 0));
    auto lead = scf::IfOp::create(b, loc, lane0, false);
    b.setInsertionPoint(lead.thenBlock()->getTerminator());
    int64_t wg = op.getWarpgroupAttr().getInt();
    Value slot = relaySlot(b, loc, op, i32c(b, loc, wg));
    Value posted = relayWord(b, loc, op, kRelayPosted + wg - 1),
          taken = relayWord(b, loc, op, kRelayTaken + wg - 1);
    auto arriveTaken = [&] {
      NVVM::MBarrierArriveOp::create(b, loc, Type(), taken, Value(),
                                     NVVM::MemScopeKindAttr());
    };
    arriveTaken();
    Value counters = adaptor.getCounters();
    Type i32 = b.getI32Type();
    auto loop = scf::WhileOp::create(b, loc, TypeRange{i32, i32},
                                     ValueRange{i32c(b, loc, 0)});
    Block *before = b.createBlock(&loop.getBefore(), {}, {i32}, {loc});
    b.setInsertionPointToStart(before);
    Value parity = before->getArgument(0);
    waitParity(b, loc, posted, parity);
    Value index = LLVM::LoadOp::create(b, loc, i32, slot, /*alignment=*/4);
    Value more =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, index,
                             i32c(b, loc, static_cast<int32_t>(kRelayEnd)));
    scf::ConditionOp::create(b, loc, more, ValueRange{index, parity});
    Block *after = b.createBlock(&loop.getAfter(), {}, {i32, i32}, {loc, loc});
    b.setInsertionPointToStart(after);
    arriveTaken();
    releaseAdd(b, loc,
               LLVM::GEPOp::create(
                   b, loc, counters.getType(), i32, counters,
                   ValueRange{LLVM::ZExtOp::create(b, loc, b.getI64Type(),
                                                   after->getArgument(0))}));
    scf::YieldOp::create(b, loc,
                         ValueRange{LLVM::XOrOp::create(
                             b, loc, after->getArgument(1), i32c(b, loc, 1))});
    rewriter.eraseOp(op);
    return success();
  }
};

struct WaitCounterLowering : OpConversionPattern<WaitCounterOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(WaitCounterOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    spinUntilAtLeast(rewriter, loc,
                     elementAddress(rewriter, loc, adaptor.getCounters(),
                                    rewriter.getI32Type(), adaptor.getIndex()),
                     toI32(rewriter, loc, adaptor.getTarget()));
    NVVM::FenceProxyOp::create(
        rewriter, loc,
        NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_global),
        NVVM::SharedSpaceAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// Other GPUs
//===----------------------------------------------------------------------===//

namespace {

/// The place in rank `rank`'s symmetric buffer of `ptr` in `self`'s.
struct MapPeerLowering : OpConversionPattern<MapPeerOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MapPeerOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, mapPeer(rewriter, op.getLoc(), adaptor.getPtr(),
                                   adaptor.getRank(), adaptor.getBases(),
                                   adaptor.getSelf()));
    return success();
  }
};

} // namespace

void remoteAdd(OpBuilder &b, Location loc, Value ptr, Value value) {
  ptxVoid(b, loc,
          "fence.acq_rel.sys;\nred.release.sys.global.add.u64 [$0], $1;", "l,l",
          ValueRange{ptrAsI64(b, loc, ptr), value});
}

namespace {

/// moeRtWaitRecord (include/moe/Runtime/MoERuntime.h): its magic once filled.
constexpr uint32_t kWaitRecordMagic = 0x4d4f4557;

} // namespace

void remoteWait(OpBuilder &b, Location loc, Value counter, Value target,
                Value timeout, Value record, Value rank, int64_t phase) {
  MLIRContext *ctx = b.getContext();
  Type i64 = b.getI64Type();
  Value addr = ptrAsI64(b, loc, counter);
  Value start = NVVM::GlobalTimerOp::create(b, loc, i64);
  Value zero = i64c(b, loc, 0);
  // while (value < target && waited < timeout): reload.
  auto loop =
      scf::WhileOp::create(b, loc, TypeRange{i64, i64}, ValueRange{zero, zero});
  {
    OpBuilder::InsertionGuard g(b);
    Block *before =
        b.createBlock(&loop.getBefore(), {}, {i64, i64}, {loc, loc});
    b.setInsertionPointToStart(before);
    Value v = LLVM::InlineAsmOp::create(
                  b, loc, TypeRange{i64}, ValueRange{addr},
                  "ld.acquire.sys.global.u64 $0, [$1];", "=l,l",
                  /*has_side_effects=*/true, /*is_align_stack=*/false,
                  LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
                  .getResult(0);
    Value now = NVVM::GlobalTimerOp::create(b, loc, i64);
    Value waited = LLVM::SubOp::create(b, loc, now, start);
    Value below =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, v, target);
    Value inTime =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, waited, timeout);
    Value again = LLVM::AndOp::create(b, loc, below, inTime);
    scf::ConditionOp::create(b, loc, again, ValueRange{v, waited});
    Block *after = b.createBlock(&loop.getAfter(), {}, {i64, i64}, {loc, loc});
    b.setInsertionPointToStart(after);
    scf::YieldOp::create(b, loc, after->getArguments());
  }
  Value last = loop.getResult(0);
  Value expired =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, last, target);
  auto ifOp = scf::IfOp::create(b, loc, expired, false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    // The first thread to claim the record (cas 0 -> 1 on its magic) fills
    // it and publishes the magic; the others give it a millisecond. Then
    // every one of them traps.
    Value block = NVVM::BlockIdXOp::create(b, loc, b.getI32Type());
    std::string text = "{\n.reg .pred %claimed;\n.reg .b32 %old;\n"
                       "atom.relaxed.sys.global.cas.b32 %old, [$0], 0, 1;\n"
                       "setp.eq.b32 %claimed, %old, 0;\n"
                       "@%claimed st.relaxed.sys.global.u32 [$0+4], $1;\n"
                       "@%claimed st.relaxed.sys.global.u32 [$0+8], $2;\n"
                       "@%claimed st.relaxed.sys.global.u32 [$0+12], $3;\n"
                       "@%claimed st.relaxed.sys.global.u64 [$0+16], $4;\n"
                       "@%claimed st.relaxed.sys.global.u64 [$0+24], $5;\n"
                       "@%claimed st.relaxed.sys.global.u64 [$0+32], $6;\n"
                       "@%claimed st.relaxed.sys.global.u64 [$0+40], $7;\n"
                       "@%claimed fence.sc.sys;\n"
                       "@%claimed st.release.sys.global.u32 [$0], " +
                       std::to_string(kWaitRecordMagic) +
                       ";\n@%claimed fence.sc.sys;\n"
                       "@!%claimed nanosleep.u32 1000000;\n"
                       "trap;\n}";
    ptxVoid(b, loc, text, "l,r,r,r,l,l,l,l",
            ValueRange{ptrAsI64(b, loc, record), rank, i32c(b, loc, phase),
                       block, addr, last, target, loop.getResult(1)});
  }
  NVVM::FenceProxyOp::create(
      b, loc, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_global),
      NVVM::SharedSpaceAttr());
}

namespace {

struct RemoteAddLowering : OpConversionPattern<RemoteAddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RemoteAddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    remoteAdd(rewriter, op.getLoc(), adaptor.getCounter(), adaptor.getValue());
    rewriter.eraseOp(op);
    return success();
  }
};

struct RemoteWaitLowering : OpConversionPattern<RemoteWaitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RemoteWaitOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    remoteWait(rewriter, op.getLoc(), a.getCounter(), a.getTarget(),
               a.getTimeoutNs(), a.getRecord(), a.getRank(),
               op.getPhaseAttr().getInt());
    rewriter.eraseOp(op);
    return success();
  }
};

struct FetchAddLowering : OpConversionPattern<FetchAddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FetchAddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value addr = elementAddress(rewriter, loc, adaptor.getCounters(),
                                rewriter.getI32Type(), adaptor.getIndex());
    auto add = [&](OpBuilder &b) -> Value {
      return LLVM::AtomicRMWOp::create(b, loc, LLVM::AtomicBinOp::add, addr,
                                       i32c(b, loc, 1),
                                       LLVM::AtomicOrdering::monotonic);
    };
    Value old;
    if (op.getWarp()) {
      // Lane 0 increments; shfl.sync hands its result to the warp.
      Value lane = LLVM::URemOp::create(rewriter, loc, threadIdX(rewriter, loc),
                                        i32c(rewriter, loc, 32));
      Value first = LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::eq,
                                         lane, i32c(rewriter, loc, 0));
      auto ifOp =
          scf::IfOp::create(rewriter, loc, rewriter.getI32Type(), first, true);
      {
        OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        scf::YieldOp::create(tb, loc, add(tb));
        OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
        scf::YieldOp::create(eb, loc, i32c(eb, loc, 0));
      }
      old = NVVM::ShflOp::create(
          rewriter, loc, rewriter.getI32Type(), i32c(rewriter, loc, -1),
          ifOp.getResult(0), i32c(rewriter, loc, 0), i32c(rewriter, loc, 0x1f),
          NVVM::ShflKind::idx, UnitAttr());
    } else {
      old = add(rewriter);
    }
    rewriter.replaceOp(op, arith::IndexCastUIOp::create(
                               rewriter, loc, rewriter.getIndexType(), old));
    return success();
  }
};

struct TimestampLowering : OpConversionPattern<TimestampOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TimestampOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i64 = rewriter.getI64Type();
    Value slot = elementAddress(rewriter, loc, adaptor.getBuffer(), i64,
                                adaptor.getIndex());
    StringRef mode = op.getMode();
    Value value = mode == "count"
                      ? i64c(rewriter, loc, 1)
                      : NVVM::GlobalTimerOp::create(rewriter, loc, i64);
    if (mode != "store") {
      Value old = LLVM::LoadOp::create(rewriter, loc, i64, slot, 8,
                                       /*isVolatile=*/true);
      value = mode == "sub"
                  ? LLVM::SubOp::create(rewriter, loc, old, value).getResult()
                  : LLVM::AddOp::create(rewriter, loc, old, value).getResult();
    }
    LLVM::StoreOp::create(rewriter, loc, value, slot, 8, /*isVolatile=*/true);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateSyncPatterns(const TypeConverter &converter,
                          RewritePatternSet &patterns) {
  patterns.add<GridBarrierLowering, SignalLowering, SignalRelayLowering,
               SignalEndLowering, WaitCounterLowering, TimestampLowering,
               MapPeerLowering, RemoteAddLowering, RemoteWaitLowering,
               FetchAddLowering>(converter, patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
