//===- Tcgen05.cpp - Lower moek MMAs to tcgen05 (sm_100a) -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The same kernels on Blackwell's tensor cores (tcgen05.mma, accumulators in
// tensor memory), the single-issuer kernels' accumulator rings and epilogue
// warpgroups, and the planning of each kernel's tensor memory.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace mlir::moe::kernel::nvvm {

//===----------------------------------------------------------------------===//
// MMA (sm_100a: tcgen05)
//===----------------------------------------------------------------------===//

namespace {
//
// The same kernels on Blackwell's tensor cores, with the moek ops' meaning
// kept: each MMA warpgroup's accumulator lives in tensor memory instead of
// registers and comes back into the wgmma register fragment when its last
// MMA is waited for, so the epilogue ops (store_acc, store_act, mma_promote,
// acc_store_smem, ...) are the same code on both chips.
//
//  * Tensor memory: warp 0 allocates the kernel's columns at entry
//    (planTensorMemory) and frees them at exit. An M = 64 tcgen05.mma with
//    cta_group::1 writes its 64 rows to lanes 16w..16w+15 of each warp w's
//    32-lane slab, or to lanes 16..31 of each slab with the address's lane
//    16 (PTX ISA, data path layout F): MMA warpgroup r (0-based) uses lane
//    16 (r % 2) and columns from (r / 2) * the columns one warpgroup needs;
//    the moek.mma ops of one block take consecutive column ranges.
//  * Issue: the warpgroup's thread 0 issues the K steps of a moek.mma
//    (32 bytes of K each, as wgmma) and commits them to one of the
//    warpgroup's kMmaBarriers mbarriers, in turn. Every thread of the
//    warpgroup counts the MMAs issued (`issued`) and waited for
//    (`waited`) in two local variables that LLVM keeps in registers.
//  * moek.mma_wait pending(p) waits, in order, for the commits of MMAs
//    waited .. issued - p - 1: commit j is phase j / kMmaBarriers of
//    barrier j % kMmaBarriers, whose parity cannot alias while fewer than
//    kMmaBarriers MMAs are outstanding (pending(p) needs p < kMmaBarriers;
//    the kernels moe-to-moek generates keep at most 4 outstanding).
//  * pending(0) also reads the accumulator into the fragment (tcgen05.ld
//    .16x256b: register r of repetition j holds row l/4 + 8 (r/2 % 2),
//    column 8j + 2 (l%4) + r%2, exactly the wgmma fragment's value 4j + r),
//    then the warpgroup synchronizes (named barrier 13 + r) so that its
//    next MMA cannot overwrite columns a thread is still reading.
// An accumulator struct carries, after the fragment, its tensor-memory
// address and whether an MMA has written it; mma_zero, acc_load_smem and
// mma_promote give register values (not written), which a moek.mma may
// only take with zero_init or from mma_zero (planTensorMemory checks).

constexpr int64_t kMmaBarriers = 8;
constexpr int64_t kMmaSyncBarrier0 = 13;
/// On a kernel: {slot, bars, columns, per_warpgroup}: the tensor-memory
/// slot and the MMA barriers (shared globals), the columns allocated and
/// the columns of one warpgroup.
constexpr StringLiteral kTmemAttr = "moek.tmem";
/// On a moek.mma: its first column within its warpgroup's columns.
constexpr StringLiteral kTmemColAttr = "moek.tmem_col";
/// On moek.mma and moek.mma_wait: the first warpgroup of their role.
constexpr StringLiteral kMmaFirstAttr = "moek.mma_first";
/// On the two local variables: the MMAs issued and waited for.
constexpr StringLiteral kIssuedAttr = "moek.mma_issued";
constexpr StringLiteral kWaitedAttr = "moek.mma_waited";

struct TensorMemory {
  Value base;           // i32: the allocated columns' address
  Value bars;           // ptr<3>: this warpgroup's kMmaBarriers barriers
  Value rel;            // i32: the warpgroup's index in its role
  Value issued, waited; // ptr: the counters
  int64_t perWarpgroup = 0;
};

/// The tensor-memory state seen from `op` (a moek.mma or moek.mma_wait).
TensorMemory tensorMemoryOf(OpBuilder &b, Location loc, Operation *op) {
  MLIRContext *ctx = b.getContext();
  auto func = op->getParentOfType<LLVM::LLVMFuncOp>();
  auto info = func->getAttrOfType<DictionaryAttr>(kTmemAttr);
  TensorMemory tm;
  Value slot = LLVM::AddressOfOp::create(
      b, loc, ptrTy(ctx, 3),
      cast<FlatSymbolRefAttr>(info.get("slot")).getValue());
  tm.base = LLVM::LoadOp::create(b, loc, b.getI32Type(), slot, 4);
  tm.perWarpgroup = cast<IntegerAttr>(info.get("per_warpgroup")).getInt();
  int64_t first = op->getAttrOfType<IntegerAttr>(kMmaFirstAttr).getInt();
  Value wg = LLVM::UDivOp::create(b, loc, threadIdX(b, loc),
                                  i32c(b, loc, kWarpgroupThreads));
  tm.rel = LLVM::SubOp::create(b, loc, wg, i32c(b, loc, first));
  Value bars = LLVM::AddressOfOp::create(
      b, loc, ptrTy(ctx, 3),
      cast<FlatSymbolRefAttr>(info.get("bars")).getValue());
  tm.bars =
      LLVM::GEPOp::create(b, loc, ptrTy(ctx, 3), b.getI64Type(), bars,
                          ValueRange{LLVM::MulOp::create(
                              b, loc, tm.rel, i32c(b, loc, kMmaBarriers))});
  for (Operation &local : func.getBody().front()) {
    if (local.hasAttr(kIssuedAttr))
      tm.issued = local.getResult(0);
    if (local.hasAttr(kWaitedAttr))
      tm.waited = local.getResult(0);
  }
  return tm;
}

/// i32 `v` as a tensor-memory pointer.
Value tmemPtr(OpBuilder &b, Location loc, Value v) {
  return LLVM::IntToPtrOp::create(b, loc, ptrTy(b.getContext(), 6), v);
}

/// tcgen05's descriptor of the tile at `addr` (swizzledTile; the start
/// address field is 0 in the constant).
Value tcgen05SmemDescriptor(OpBuilder &b, Location loc, Value addr) {
  static const uint64_t constant =
      llvm::cantFail(moe::desc::encodeTcgen05SmemDescriptor(swizzledTile()));
  return descriptorAt(b, loc, addr, constant);
}

/// tcgen05.cp .32x128b.warpx4 of the 512-byte block of UE8M0 scales at
/// `block` (32 rows of 16 bytes, no swizzle: 8-row groups 128 bytes apart;
/// moek.stage_scales' layout) into tensor-memory columns `taddr` .. + 3 of
/// all four lane quadrants.
void copyScaleBlock(OpBuilder &b, Location loc, Value taddr, Value block) {
  static const uint64_t constant = [] {
    moe::desc::SmemMatrix m;
    m.strideByteOffset = 128;
    return llvm::cantFail(moe::desc::encodeTcgen05SmemDescriptor(m));
  }();
  NVVM::Tcgen05CpOp::create(
      b, loc, NVVM::Tcgen05CpShape::SHAPE_32x128b, NVVM::CTAGroupKind::CTA_1,
      NVVM::Tcgen05CpMulticast::WARPX4, NVVM::Tcgen05CpSrcFormatAttr(),
      tmemPtr(b, loc, taddr), descriptorAt(b, loc, block, constant));
}

/// The four instruction descriptors of `.kind::mxf8f6f4` with UE8M0 scales
/// per 32 values (M = 128, N = `n`), K step k taking byte k of each scale
/// word (scale ids k), or the encoder's error.
llvm::Expected<SmallVector<uint32_t, 4>>
mxf8f6f4Descriptors(moe::desc::ElemType a, moe::desc::ElemType b, int64_t n) {
  moe::desc::Tcgen05BlockScaledMma shape;
  shape.kind = moe::desc::BlockScaledKind::MXF8F6F4;
  shape.a = a;
  shape.b = b;
  shape.scale = moe::desc::ScaleType::UE8M0;
  shape.vectorSize = 32;
  shape.m = 128;
  shape.n = n;
  SmallVector<uint32_t, 4> idescs;
  for (unsigned k = 0; k < 4; ++k) {
    shape.scaleIdA = shape.scaleIdB = k;
    llvm::Expected<uint32_t> idesc =
        moe::desc::encodeTcgen05BlockScaledInstrDescriptor(shape);
    if (!idesc)
      return idesc.takeError();
    idescs.push_back(*idesc);
  }
  return idescs;
}

/// Four tcgen05.mma .kind::mxf8f6f4.block_scale.block32 (K = 32 each) of
/// the 128-byte-wide K-major tiles at descriptors `descA`, `descB` into
/// `d`, the scales at `sfa`, `sfb`; the first accumulates if `accumulate`.
void blockScaledMmas(OpBuilder &b, Location loc, Value d, Value descA,
                     Value descB, ArrayRef<uint32_t> idescs, Value accumulate,
                     Value sfa, Value sfb) {
  for (int64_t k = 0; k < 4; ++k) {
    // The descriptors' start address (16-byte units) advances by 2 per
    // 32 bytes of K.
    Value step = i64c(b, loc, 2 * k);
    NVVM::Tcgen05MMABlockScaleOp::create(
        b, loc, NVVM::MMABlockScaleKind::MXF8F6F4, NVVM::CTAGroupKind::CTA_1,
        NVVM::Tcgen05MMABlockScale::BLOCK32,
        NVVM::Tcgen05MMACollectorOp::DISCARD, tmemPtr(b, loc, d),
        LLVM::AddOp::create(b, loc, descA, step),
        LLVM::AddOp::create(b, loc, descB, step),
        i32c(b, loc, static_cast<int64_t>(idescs[k])),
        k == 0 ? accumulate : cst(b, loc, b.getI1Type(), 1),
        tmemPtr(b, loc, sfa), tmemPtr(b, loc, sfb));
  }
}

/// The first column (i32) of `op`'s accumulator within its warpgroup's
/// range: `rangeIndex` ranges of the warpgroup's columns, plus the op's
/// planned column (planTensorMemory).
Value tmemColumn(OpBuilder &b, Location loc, const TensorMemory &tm,
                 Value rangeIndex, Operation *op) {
  return LLVM::AddOp::create(
      b, loc,
      LLVM::MulOp::create(b, loc, rangeIndex, i32c(b, loc, tm.perWarpgroup)),
      i32c(b, loc, op->getAttrOfType<IntegerAttr>(kTmemColAttr).getInt()));
}

/// The warpgroup's thread 0 issues what `issue` builds (after a tcgen05
/// fence) and commits it to the next of the warpgroup's barriers; every
/// thread counts the MMA as issued.
void issueTcgen05(OpBuilder &b, Location loc, const TensorMemory &tm,
                  function_ref<void()> issue) {
  MLIRContext *ctx = b.getContext();
  Value issued = LLVM::LoadOp::create(b, loc, b.getI32Type(), tm.issued);
  Value bar =
      LLVM::GEPOp::create(b, loc, ptrTy(ctx, 3), b.getI64Type(), tm.bars,
                          ValueRange{LLVM::URemOp::create(
                              b, loc, issued, i32c(b, loc, kMmaBarriers))});
  Value t = LLVM::URemOp::create(b, loc, threadIdX(b, loc),
                                 i32c(b, loc, kWarpgroupThreads));
  Value isIssuer =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, t, i32c(b, loc, 0));
  auto ifOp = scf::IfOp::create(b, loc, isIssuer, false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    tcgen05Fence(b, loc, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);
    issue();
    commitMmas(b, loc, bar, /*pair=*/false);
  }
  LLVM::StoreOp::create(b, loc,
                        LLVM::AddOp::create(b, loc, issued, i32c(b, loc, 1)),
                        tm.issued, 4);
}

struct Tcgen05MmaLowering : OpConversionPattern<MmaOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    AccType accType = op.getAcc().getType();
    int64_t n = fragmentSize(accType);
    bool fp8 = isFp8Mma(op);
    MemRefType aTile = op.getRing().getType().getTile(op.getAAttr().getInt());
    moe::desc::Tcgen05Mma shape;
    shape.kind = fp8 ? moe::desc::MmaKind::F8F6F4 : moe::desc::MmaKind::F16;
    shape.a = shape.b =
        fp8 ? moe::desc::ElemType::E4M3 : moe::desc::ElemType::BF16;
    shape.m = accType.getRows();
    // {cols = n}: tensor memory's first n columns of the accumulator.
    shape.n = op.getCols().value_or(accType.getCols());
    llvm::Expected<uint32_t> idesc =
        moe::desc::encodeTcgen05InstrDescriptor(shape);
    if (!idesc)
      return op.emitOpError()
             << "has no tcgen05.mma: " << llvm::toString(idesc.takeError());

    Value aBase, bBase;
    std::tie(aBase, bBase) = mmaOperands(rewriter, loc, op, adaptor);
    TensorMemory tm = tensorMemoryOf(rewriter, loc, op);
    // This warpgroup's lane half and column range, and the op's columns.
    Value lane = LLVM::ShlOp::create(
        rewriter, loc,
        LLVM::MulOp::create(
            rewriter, loc,
            LLVM::URemOp::create(rewriter, loc, tm.rel, i32c(rewriter, loc, 2)),
            i32c(rewriter, loc, 16)),
        i32c(rewriter, loc, 16));
    Value col = tmemColumn(
        rewriter, loc, tm,
        LLVM::UDivOp::create(rewriter, loc, tm.rel, i32c(rewriter, loc, 2)),
        op);
    Value taddr = LLVM::AddOp::create(
        rewriter, loc, tm.base, LLVM::AddOp::create(rewriter, loc, lane, col));
    Value accumulate =
        op.getZeroInit()
            ? cst(rewriter, loc, rewriter.getI1Type(), 0)
            : LLVM::ExtractValueOp::create(rewriter, loc, adaptor.getAcc(),
                                           ArrayRef<int64_t>{n + 1});
    // The K steps of the stage.
    issueTcgen05(rewriter, loc, tm, [&] {
      Value descA = tcgen05SmemDescriptor(rewriter, loc, aBase);
      Value descB = tcgen05SmemDescriptor(rewriter, loc, bBase);
      Value d = tmemPtr(rewriter, loc, taddr);
      Value idescV = i32c(rewriter, loc, static_cast<int64_t>(*idesc));
      Value on = cst(rewriter, loc, rewriter.getI1Type(), 1);
      int64_t stepK = fp8 ? 32 : 16;
      for (int64_t k = 0, steps = aTile.getDimSize(1) / stepK; k < steps; ++k) {
        Value step = i64c(rewriter, loc, 2 * k);
        NVVM::Tcgen05MMAOp::create(
            rewriter, loc,
            fp8 ? NVVM::Tcgen05MMAKind::F8F6F4 : NVVM::Tcgen05MMAKind::F16,
            NVVM::CTAGroupKind::CTA_1, NVVM::Tcgen05MMACollectorOp::DISCARD,
            /*aShift=*/false, d,
            LLVM::AddOp::create(rewriter, loc, descA, step),
            LLVM::AddOp::create(rewriter, loc, descB, step), idescV,
            k == 0 ? accumulate : on, Value(), Value());
      }
    });
    Value acc = LLVM::InsertValueOp::create(rewriter, loc, adaptor.getAcc(),
                                            taddr, ArrayRef<int64_t>{n});
    acc = LLVM::InsertValueOp::create(
        rewriter, loc, acc, cst(rewriter, loc, rewriter.getI1Type(), 1),
        ArrayRef<int64_t>{n + 1});
    rewriter.replaceOp(op, acc);
    return success();
  }
};

struct Tcgen05MmaWaitLowering : OpConversionPattern<MmaWaitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaWaitOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type i32 = rewriter.getI32Type();
    int64_t pending = op.getPendingAttr().getInt();
    TensorMemory tm = tensorMemoryOf(rewriter, loc, op);
    Value issued = LLVM::LoadOp::create(rewriter, loc, i32, tm.issued);
    Value waited = LLVM::LoadOp::create(rewriter, loc, i32, tm.waited);
    Value target = LLVM::SubOp::create(rewriter, loc, issued,
                                       i32c(rewriter, loc, pending));
    // Commits waited .. target - 1, in order (none if target <= waited).
    auto loop = scf::ForOp::create(
        rewriter, loc, toIndex(rewriter, loc, waited),
        arith::MaxSIOp::create(rewriter, loc, toIndex(rewriter, loc, waited),
                               toIndex(rewriter, loc, target)),
        arith::ConstantIndexOp::create(rewriter, loc, 1));
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(loop.getBody()->getTerminator());
      Value j = toI32(rewriter, loc, loop.getInductionVar());
      Value bar = LLVM::GEPOp::create(
          rewriter, loc, ptrTy(ctx, 3), rewriter.getI64Type(), tm.bars,
          ValueRange{LLVM::URemOp::create(rewriter, loc, j,
                                          i32c(rewriter, loc, kMmaBarriers))});
      Value phase = LLVM::UDivOp::create(rewriter, loc, j,
                                         i32c(rewriter, loc, kMmaBarriers));
      waitParity(
          rewriter, loc, bar,
          LLVM::AndOp::create(rewriter, loc, phase, i32c(rewriter, loc, 1)));
    }
    LLVM::StoreOp::create(rewriter, loc,
                          LLVM::SMaxOp::create(rewriter, loc, waited, target),
                          tm.waited, 4);
    if (pending != 0) {
      rewriter.replaceOp(op, adaptor.getAcc());
      return success();
    }

    // All of this warpgroup's MMAs are done: read the accumulator (if an
    // MMA wrote it) into the fragment. Warp w reads its 16 rows from its
    // slab: lane 32 w (+ the accumulator's lane half).
    AccType accType = op.getAcc().getType();
    int64_t n = fragmentSize(accType);
    Value acc = adaptor.getAcc();
    tcgen05Fence(rewriter, loc, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);
    Value taddr =
        LLVM::ExtractValueOp::create(rewriter, loc, acc, ArrayRef<int64_t>{n});
    Value written = LLVM::ExtractValueOp::create(rewriter, loc, acc,
                                                 ArrayRef<int64_t>{n + 1});
    Value warp = LLVM::UDivOp::create(
        rewriter, loc,
        LLVM::URemOp::create(rewriter, loc, threadIdX(rewriter, loc),
                             i32c(rewriter, loc, kWarpgroupThreads)),
        i32c(rewriter, loc, 32));
    Value rowAddr = LLVM::AddOp::create(
        rewriter, loc, taddr,
        LLVM::ShlOp::create(
            rewriter, loc,
            LLVM::MulOp::create(rewriter, loc, warp, i32c(rewriter, loc, 32)),
            i32c(rewriter, loc, 16)));
    // One .x1 load (8 columns, 4 registers) per fragment quad, all in
    // flight before one wait: wider loads make ptxas spill at the kernels'
    // 168-register budget (measured on every example).
    auto shape = NVVM::Tcgen05LdStShapeAttr::get(
        ctx, NVVM::Tcgen05LdStShape::SHAPE_16X256B);
    auto quadTy = VectorType::get({4}, i32);
    for (int64_t j = 0, cols = accType.getCols(); j < cols / 8; ++j) {
      Value v = NVVM::Tcgen05LdOp::create(
          rewriter, loc, quadTy, UnitAttr(), shape,
          tmemPtr(rewriter, loc,
                  LLVM::AddOp::create(rewriter, loc, rowAddr,
                                      i32c(rewriter, loc, 8 * j))),
          Value());
      // Register r of load j is fragment value 4 j + r.
      for (int64_t r = 0; r < 4; ++r) {
        Value x = LLVM::BitcastOp::create(
            rewriter, loc, rewriter.getF32Type(),
            LLVM::ExtractElementOp::create(rewriter, loc, v,
                                           i32c(rewriter, loc, r)));
        Value old = LLVM::ExtractValueOp::create(rewriter, loc, acc,
                                                 ArrayRef<int64_t>{4 * j + r});
        acc = LLVM::InsertValueOp::create(
            rewriter, loc, acc,
            LLVM::SelectOp::create(rewriter, loc, written, x, old),
            ArrayRef<int64_t>{4 * j + r});
      }
    }
    NVVM::Tcgen05WaitOp::create(
        rewriter, loc,
        NVVM::Tcgen05WaitKindAttr::get(ctx, NVVM::Tcgen05WaitKind::LOAD));
    tcgen05Fence(rewriter, loc, NVVM::Tcgen05FenceKind::BEFORE_THREAD_SYNC);
    // Named barrier 13 + r over the warpgroup: no thread's next MMA before
    // every thread has read the columns.
    namedBarrier(rewriter, loc,
                 LLVM::AddOp::create(rewriter, loc, tm.rel,
                                     i32c(rewriter, loc, kMmaSyncBarrier0)),
                 i32c(rewriter, loc, kWarpgroupThreads), /*wait=*/true);
    rewriter.replaceOp(op, acc);
    return success();
  }
};

/// moek.mma_block_scaled (sm_100a): one M = 128 product over all 128
/// lanes of the warpgroup's columns (planTensorMemory's full-lane layout):
/// D in the op's N columns, A's scale factors in the next 4, B's in the 4
/// after. Stored row L of tile a (moek.unpack_fp4) is lane L, and row
/// 64 s + 16 w + r of the weights is stored row 32 w + 16 s + r, so result
/// s is the accumulator at lane 16 s that moek.mma_wait reads as warp w's
/// 16 fragment rows from lane 32 w + 16 s.
struct Tcgen05MmaBlockScaledLowering : OpConversionPattern<MmaBlockScaledOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaBlockScaledOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    AccType accType = op.getLow().getType();
    int64_t n = fragmentSize(accType), cols = accType.getCols();
    // K step k (32 values) takes byte k of each scale word: the scale
    // ids of its instruction descriptor.
    auto idescs = mxf8f6f4Descriptors(moe::desc::ElemType::E2M1,
                                      moe::desc::ElemType::E4M3, cols);
    if (!idescs)
      return op.emitOpError() << "has no block-scaled tcgen05.mma: "
                              << llvm::toString(idescs.takeError());
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    Value aBase = tileAddress(rewriter, loc, p, type, op.getAAttr().getInt());
    Value bBase = tileAddress(rewriter, loc, p, type, op.getBAttr().getInt());
    TensorMemory tm = tensorMemoryOf(rewriter, loc, op);
    Value taddr = LLVM::AddOp::create(
        rewriter, loc, tm.base, tmemColumn(rewriter, loc, tm, tm.rel, op));
    auto at = [&](int64_t offset) {
      return LLVM::AddOp::create(rewriter, loc, taddr,
                                 i32c(rewriter, loc, offset));
    };
    Value sfa = at(cols), sfb = at(cols + 4);
    issueTcgen05(rewriter, loc, tm, [&] {
      // Both operands' scale blocks into all four lane quadrants.
      for (auto [dst, offset] : {std::pair{sfa, 0}, std::pair{sfb, 512}})
        copyScaleBlock(rewriter, loc, dst,
                       gepBytes(rewriter, loc, adaptor.getSf(),
                                i64c(rewriter, loc, offset)));
      blockScaledMmas(rewriter, loc, taddr,
                      tcgen05SmemDescriptor(rewriter, loc, aBase),
                      tcgen05SmemDescriptor(rewriter, loc, bBase), *idescs,
                      cst(rewriter, loc, rewriter.getI1Type(), 0), sfa, sfb);
    });
    auto structTy =
        cast<LLVM::LLVMStructType>(getTypeConverter()->convertType(accType));
    Value zero = LLVM::ConstantOp::create(rewriter, loc, rewriter.getF32Type(),
                                          rewriter.getF32FloatAttr(0.0f));
    SmallVector<Value, 2> results;
    for (int64_t s = 0; s < 2; ++s) {
      Value acc =
          buildAcc(rewriter, loc, structTy, n, [&](int64_t) { return zero; });
      acc = LLVM::InsertValueOp::create(
          rewriter, loc, acc,
          LLVM::AddOp::create(rewriter, loc, taddr,
                              i32c(rewriter, loc, (16 * s) << 16)),
          ArrayRef<int64_t>{n});
      results.push_back(LLVM::InsertValueOp::create(
          rewriter, loc, acc, cst(rewriter, loc, rewriter.getI1Type(), 1),
          ArrayRef<int64_t>{n + 1}));
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// Tensor-memory accumulators (sm_100a): one MMA issuer, epilogue warpgroups
//===----------------------------------------------------------------------===//

namespace {
//
// The Blackwell shape of a kernel: one thread issues every MMA of the CTA
// into a !moek.acc_ring in tensor memory (M = 128: row r in lane r), and
// epilogue warpgroups drain accumulator j while the MMAs of j + 1 run.
// planTensorMemory allocates the columns and the ring's barriers: a global
// of 3 S i64 words (full barriers, empty barriers, tags), initialized at
// kernel entry (full: 2 arrivals, empty: the consumers); a !moek.acc_ring
// value is that global's address.

/// On a moek.acc_ring_alloc: the symbol of its barriers and tags.
constexpr StringLiteral kAccBarsAttr = "moek.acc_bars";

/// Word `which` (0: full barrier, 1: empty barrier, 2: tag) of accumulator
/// `index mod S`, and the phase parity (index / S) mod 2.
std::pair<Value, Value> accSlot(OpBuilder &b, Location loc, Value accs,
                                AccRingType type, Value index, int64_t which) {
  auto [stage, parity] = slotAndParity(b, loc, index, type.getStages());
  Value slot = LLVM::AddOp::create(b, loc, stage,
                                   i32c(b, loc, which * type.getStages()));
  Value word = LLVM::GEPOp::create(b, loc, accs.getType(), b.getI64Type(), accs,
                                   ValueRange{slot});
  return {word, parity};
}

/// The tensor-memory address (i32) of column 0, lane 0 of accumulator
/// `index mod S`.
Value accColumns(OpBuilder &b, Location loc, Operation *op, AccRingType type,
                 Value index) {
  auto func = op->getParentOfType<LLVM::LLVMFuncOp>();
  auto info = func->getAttrOfType<DictionaryAttr>(kTmemAttr);
  Value slot = LLVM::AddressOfOp::create(
      b, loc, ptrTy(b.getContext(), 3),
      cast<FlatSymbolRefAttr>(info.get("slot")).getValue());
  Value base = LLVM::LoadOp::create(b, loc, b.getI32Type(), slot, 4);
  Value stage = slotAndParity(b, loc, index, type.getStages()).first;
  return LLVM::AddOp::create(
      b, loc, base,
      LLVM::MulOp::create(b, loc, stage, i32c(b, loc, type.getCols())));
}

/// True if `op`'s kernel runs its tensor-memory accumulators as a CTA pair
/// (moek.acc_ring_alloc {cta_pair}, recorded by planAccRing).
bool inCtaPair(Operation *op) {
  auto func = op->getParentOfType<LLVM::LLVMFuncOp>();
  auto info = func->getAttrOfType<DictionaryAttr>(kTmemAttr);
  return info && info.get("cta_pair");
}

/// An arrival with release semantics at cluster scope on the mbarrier at
/// `remote` (a shared::cluster address).
void arriveRemote(OpBuilder &b, Location loc, Value remote) {
  ptxVoid(b, loc,
          "mbarrier.arrive.release.cluster.shared::cluster.b64 _, [$0];", "l",
          ValueRange{LLVM::PtrToIntOp::create(b, loc, b.getI64Type(), remote)});
}

/// waitParity with acquire semantics at cluster scope: the arrival it
/// waits for may come from the other CTA of a pair, with data (the tag)
/// written there before it.
void waitParityCluster(OpBuilder &b, Location loc, Value bar, Value parity) {
  ptxVoid(b, loc,
          "{\n.reg .pred P1;\nLAB_WAIT:\n"
          "mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 P1, [$0], "
          "$1, 10000000;\n@P1 bra.uni DONE;\nbra.uni LAB_WAIT;\nDONE:\n}",
          "r,r",
          ValueRange{LLVM::PtrToIntOp::create(b, loc, b.getI32Type(), bar),
                     parity});
}

struct AccRingAllocLowering : OpConversionPattern<AccRingAllocOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccRingAllocOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto bars = op->getAttrOfType<FlatSymbolRefAttr>(kAccBarsAttr);
    if (!bars)
      return rewriter.notifyMatchFailure(op, "tensor memory not planned");
    rewriter.replaceOpWithNewOp<LLVM::AddressOfOp>(
        op, ptrTy(rewriter.getContext(), 3), bars.getValue());
    return success();
  }
};

/// moek.acc_acquire, moek.acc_wait, moek.acc_release, moek.acc_commit.
template <typename OpTy> struct AccStageLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    AccRingType type = op.getAccs().getType();
    auto slot = [&](int64_t which) {
      return accSlot(rewriter, loc, adaptor.getAccs(), type, adaptor.getIndex(),
                     which);
    };
    auto arrive = [&](Value bar) {
      NVVM::MBarrierArriveOp::create(rewriter, loc, Type(), bar, Value(),
                                     NVVM::MemScopeKindAttr());
    };
    // A pair: the arrivals may come from the other CTA.
    auto wait = inCtaPair(op) ? waitParityCluster : waitParity;
    if constexpr (std::is_same_v<OpTy, AccAcquireOp>) {
      // A fresh accumulator's empty barrier is in phase 0: parity 1 passes.
      auto [bar, parity] = slot(1);
      wait(rewriter, loc, bar,
           LLVM::XOrOp::create(rewriter, loc, parity, i32c(rewriter, loc, 1)));
      tcgen05Fence(rewriter, loc, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);
      rewriter.eraseOp(op);
    } else if constexpr (std::is_same_v<OpTy, AccWaitOp>) {
      auto [bar, parity] = slot(0);
      wait(rewriter, loc, bar, parity);
      tcgen05Fence(rewriter, loc, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);
      Value tag = LLVM::LoadOp::create(rewriter, loc, rewriter.getI64Type(),
                                       slot(2).first, 8, /*isVolatile=*/true);
      rewriter.replaceOp(op, toIndex(rewriter, loc, tag));
    } else if constexpr (std::is_same_v<OpTy, AccReleaseOp>) {
      tcgen05Fence(rewriter, loc, NVVM::Tcgen05FenceKind::BEFORE_THREAD_SYNC);
      // A pair: the even CTA's issuer acquires the accumulator.
      if (inCtaPair(op))
        arriveRemote(rewriter, loc,
                     inClusterCta(rewriter, loc, slot(1).first,
                                  leaderRank(rewriter, loc)));
      else
        arrive(slot(1).first);
      rewriter.eraseOp(op);
    } else {
      static_assert(std::is_same_v<OpTy, AccCommitOp>);
      // The tag, released by an arrival; the MMAs' completion is the other.
      // A pair: both, in both CTAs.
      bool pair = inCtaPair(op);
      Value full = slot(0).first, tagWord = slot(2).first;
      Value tag = toI64(rewriter, loc, adaptor.getTag());
      LLVM::StoreOp::create(rewriter, loc, tag, tagWord, 8);
      arrive(full);
      if (pair) {
        Value peer = peerRank(rewriter, loc);
        LLVM::StoreOp::create(rewriter, loc, tag,
                              inClusterCta(rewriter, loc, tagWord, peer), 8);
        arriveRemote(rewriter, loc, inClusterCta(rewriter, loc, full, peer));
      }
      commitMmas(rewriter, loc, full, pair);
      rewriter.eraseOp(op);
    }
    return success();
  }
};

struct MmaReleaseLowering : OpConversionPattern<MmaReleaseOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaReleaseOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    commitMmas(rewriter, loc, barrierOf(rewriter, loc, p, type, /*empty=*/true),
               inCtaPair(op));
    rewriter.eraseOp(op);
    return success();
  }
};

struct MmaTmemLowering : OpConversionPattern<MmaTmemOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaTmemOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RingType ringType = op.getRing().getType();
    AccRingType accType = op.getAccs().getType();
    if (op.getAScalesAttr())
      return blockScaled(op, adaptor, rewriter);
    MemRefType aTile = ringType.getTile(op.getAAttr().getInt());
    bool fp8 = isa<Float8E4M3FNType>(aTile.getElementType());
    moe::desc::Tcgen05Mma shape;
    shape.kind = fp8 ? moe::desc::MmaKind::F8F6F4 : moe::desc::MmaKind::F16;
    shape.a = shape.b =
        fp8 ? moe::desc::ElemType::E4M3 : moe::desc::ElemType::BF16;
    // A pair: M = 256 over both CTAs' 128 rows.
    bool pair = inCtaPair(op);
    shape.ctaGroup = pair ? 2 : 1;
    shape.m = shape.ctaGroup * accType.getRows();
    shape.n = accType.getCols();
    llvm::Expected<uint32_t> idesc =
        moe::desc::encodeTcgen05InstrDescriptor(shape);
    if (!idesc)
      return op.emitOpError()
             << "has no tcgen05.mma: " << llvm::toString(idesc.takeError());
    RingParts p = unpackRing(rewriter, loc, adaptor.getRing(), ringType,
                             adaptor.getIter());
    Value descA = tcgen05SmemDescriptor(
        rewriter, loc,
        tileAddress(rewriter, loc, p, ringType, op.getAAttr().getInt()));
    Value descB = tcgen05SmemDescriptor(
        rewriter, loc,
        tileAddress(rewriter, loc, p, ringType, op.getBAttr().getInt()));
    Value d =
        tmemPtr(rewriter, loc,
                accColumns(rewriter, loc, op, accType, adaptor.getIndex()));
    Value idescV = i32c(rewriter, loc, static_cast<int64_t>(*idesc));
    Value on = cst(rewriter, loc, rewriter.getI1Type(), 1);
    // One MMA per 32 bytes of K: the descriptors' start address (16-byte
    // units) advances by 2 within the 128-byte swizzled rows.
    int64_t steps = aTile.getDimSize(1) * aTile.getElementTypeBitWidth() / 256;
    for (int64_t k = 0; k < steps; ++k) {
      Value step = i64c(rewriter, loc, 2 * k);
      NVVM::Tcgen05MMAOp::create(
          rewriter, loc,
          fp8 ? NVVM::Tcgen05MMAKind::F8F6F4 : NVVM::Tcgen05MMAKind::F16,
          pair ? NVVM::CTAGroupKind::CTA_2 : NVVM::CTAGroupKind::CTA_1,
          NVVM::Tcgen05MMACollectorOp::DISCARD,
          /*aShift=*/false, d, LLVM::AddOp::create(rewriter, loc, descA, step),
          LLVM::AddOp::create(rewriter, loc, descB, step), idescV,
          k == 0 ? adaptor.getAccumulate() : on, Value(), Value());
    }
    rewriter.eraseOp(op);
    return success();
  }

  /// MXFP8 rows by e2m1 weights with UE8M0 scales (a_scales, b_scales):
  /// the stage's scale blocks into its tensor-memory columns (planAccRing:
  /// `scale_columns` + stage x `scale_stride`), then four block-scaled
  /// MMAs.
  LogicalResult blockScaled(MmaTmemOp op, OpAdaptor adaptor,
                            ConversionPatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    RingType ringType = op.getRing().getType();
    AccRingType accType = op.getAccs().getType();
    int64_t n = accType.getCols();
    auto idescs = mxf8f6f4Descriptors(moe::desc::ElemType::E4M3,
                                      moe::desc::ElemType::E2M1, n);
    if (!idescs)
      return op.emitOpError() << "has no block-scaled tcgen05.mma: "
                              << llvm::toString(idescs.takeError());
    auto func = op->getParentOfType<LLVM::LLVMFuncOp>();
    auto info = func->getAttrOfType<DictionaryAttr>(kTmemAttr);
    auto first = info ? info.getAs<IntegerAttr>("scale_columns") : nullptr;
    auto stride = info ? info.getAs<IntegerAttr>("scale_stride") : nullptr;
    if (!first || !stride)
      return rewriter.notifyMatchFailure(op, "scale columns not planned");
    RingParts p = unpackRing(rewriter, loc, adaptor.getRing(), ringType,
                             adaptor.getIter());
    Value base = LLVM::LoadOp::create(
        rewriter, loc, rewriter.getI32Type(),
        LLVM::AddressOfOp::create(
            rewriter, loc, ptrTy(ctx, 3),
            cast<FlatSymbolRefAttr>(info.get("slot")).getValue()),
        4);
    Value stage =
        LLVM::TruncOp::create(rewriter, loc, rewriter.getI32Type(), p.stage);
    Value sfa = LLVM::AddOp::create(
        rewriter, loc, base,
        LLVM::AddOp::create(
            rewriter, loc,
            LLVM::MulOp::create(rewriter, loc, stage,
                                i32c(rewriter, loc, stride.getInt())),
            i32c(rewriter, loc, first.getInt())));
    Value sfb = LLVM::AddOp::create(rewriter, loc, sfa, i32c(rewriter, loc, 4));
    // The scales came by cp.async (generic proxy), tcgen05.cp reads them
    // through the async proxy; the stage's full barrier, waited for
    // before, ordered the copies before this fence.
    NVVM::FenceProxyOp::create(
        rewriter, loc,
        NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
        NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
    copyScaleBlock(
        rewriter, loc, sfa,
        tileAddress(rewriter, loc, p, ringType, op.getAScalesAttr().getInt()));
    Value bScales =
        tileAddress(rewriter, loc, p, ringType, op.getBScalesAttr().getInt());
    for (int64_t block = 0; block < n / 128; ++block)
      copyScaleBlock(
          rewriter, loc,
          LLVM::AddOp::create(rewriter, loc, sfb,
                              i32c(rewriter, loc, 4 * block)),
          gepBytes(rewriter, loc, bScales, i64c(rewriter, loc, 512 * block)));
    blockScaledMmas(
        rewriter, loc,
        accColumns(rewriter, loc, op, accType, adaptor.getIndex()),
        tcgen05SmemDescriptor(
            rewriter, loc,
            tileAddress(rewriter, loc, p, ringType, op.getAAttr().getInt())),
        tcgen05SmemDescriptor(
            rewriter, loc,
            tileAddress(rewriter, loc, p, ringType, op.getBAttr().getInt())),
        *idescs, adaptor.getAccumulate(), sfa, sfb);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

std::pair<Value, Value> threadRowLane(OpBuilder &b, Location loc, Operation *op,
                                      AccRingType type, Value index,
                                      Value firstCol) {
  Value r = LLVM::URemOp::create(b, loc, threadIdX(b, loc),
                                 i32c(b, loc, kWarpgroupThreads));
  Value lanes = LLVM::ShlOp::create(
      b, loc, LLVM::AndOp::create(b, loc, r, i32c(b, loc, ~31)),
      i32c(b, loc, 16));
  Value addr = LLVM::AddOp::create(
      b, loc, accColumns(b, loc, op, type, index),
      LLVM::AddOp::create(b, loc, lanes, toI32(b, loc, firstCol)));
  return {r, addr};
}

Value loadLaneColumns(OpBuilder &b, Location loc, Value taddr, int64_t count) {
  return NVVM::Tcgen05LdOp::create(
      b, loc, VectorType::get({count}, b.getI32Type()), UnitAttr(),
      NVVM::Tcgen05LdStShapeAttr::get(b.getContext(),
                                      NVVM::Tcgen05LdStShape::SHAPE_32X32B),
      tmemPtr(b, loc, taddr), Value());
}

void waitLaneLoads(OpBuilder &b, Location loc) {
  NVVM::Tcgen05WaitOp::create(b, loc,
                              NVVM::Tcgen05WaitKindAttr::get(
                                  b.getContext(), NVVM::Tcgen05WaitKind::LOAD));
}

void storeRowValues(OpBuilder &b, Location loc, Type elem, Value rowBase,
                    Value col, int64_t count, int64_t ld, bool maskCols,
                    function_ref<Value(int64_t)> value) {
  Type i32 = b.getI32Type();
  bool bf16 = elem.isBF16();
  int64_t perPiece = bf16 ? 8 : 4; // values per 16 bytes
  auto vec4 = VectorType::get({4}, i32);
  auto vec2f32 = VectorType::get({2}, b.getF32Type());
  auto vec2bf16 = VectorType::get({2}, b.getBF16Type());
  for (int64_t piece = 0; piece < count / perPiece; ++piece) {
    Value data = LLVM::UndefOp::create(b, loc, vec4);
    for (int64_t q = 0; q < 4; ++q) {
      Value x;
      if (bf16) {
        // Columns c, c + 1 as one bf16 pair (cvt.rn.bf16x2.f32).
        int64_t c = piece * perPiece + 2 * q;
        Value pair = LLVM::UndefOp::create(b, loc, vec2f32);
        for (int64_t e = 0; e < 2; ++e)
          pair = LLVM::InsertElementOp::create(b, loc, pair, value(c + e),
                                               i32c(b, loc, e));
        x = LLVM::BitcastOp::create(
            b, loc, i32, LLVM::FPTruncOp::create(b, loc, vec2bf16, pair));
      } else {
        x = LLVM::BitcastOp::create(b, loc, i32, value(piece * perPiece + q));
      }
      data = LLVM::InsertElementOp::create(b, loc, data, x, i32c(b, loc, q));
    }
    Value colOffset =
        LLVM::AddOp::create(b, loc, col, i64c(b, loc, piece * perPiece));
    Value addr = LLVM::GEPOp::create(b, loc, rowBase.getType(), elem, rowBase,
                                     ValueRange{colOffset});
    if (!maskCols) {
      LLVM::StoreOp::create(b, loc, data, addr, 16);
      continue;
    }
    // The last column block of a matrix whose width is not a multiple of
    // the tile: pieces at or past ld are not stored.
    Value inCols = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt,
                                        colOffset, i64c(b, loc, ld));
    auto colIf = scf::IfOp::create(b, loc, inCols, false);
    OpBuilder cb = OpBuilder::atBlockTerminator(colIf.thenBlock());
    LLVM::StoreOp::create(cb, loc, data, addr, 16);
  }
}

std::pair<Value, Value> threadRowBase(OpBuilder &b, Location loc, Value out,
                                      Type elem, Value row, Value r,
                                      Value rowLimit, int64_t ld) {
  Value rowIndex = arith::AddIOp::create(b, loc, row, toIndex(b, loc, r));
  Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                       rowIndex, rowLimit);
  Value base = LLVM::GEPOp::create(
      b, loc, out.getType(), elem, out,
      ValueRange{LLVM::MulOp::create(b, loc, toI64(b, loc, rowIndex),
                                     i64c(b, loc, ld))});
  return {base, inside};
}

SmallVector<Value> loadBiasColumns(OpBuilder &b, Location loc, Value vec,
                                   Value row, Type type, int64_t ld,
                                   Value first, int64_t count, int64_t stride) {
  Value rowBase =
      LLVM::MulOp::create(b, loc, toI64(b, loc, row), i64c(b, loc, ld));
  SmallVector<Value> values;
  for (int64_t c = 0; c < count; ++c) {
    Value col = LLVM::AddOp::create(b, loc, first, i64c(b, loc, c * stride));
    Value clamped = LLVM::SelectOp::create(
        b, loc,
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt, col,
                             i64c(b, loc, ld)),
        col, i64c(b, loc, ld - 1));
    Value v = LLVM::LoadOp::create(
        b, loc, type,
        LLVM::GEPOp::create(
            b, loc, vec.getType(), type, vec,
            ValueRange{LLVM::AddOp::create(b, loc, rowBase, clamped)}));
    values.push_back(
        type.isF32()
            ? v
            : LLVM::FPExtOp::create(b, loc, b.getF32Type(), v).getResult());
  }
  return values;
}

namespace {

struct AccStoreRowsLowering : OpConversionPattern<AccStoreRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccStoreRowsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    AccRingType accType = op.getAccs().getType();
    Type elem = op.getElementType();
    int64_t ld = op.getLdAttr().getInt(), cols = op.getColsAttr().getInt();
    auto [r, taddr] = threadRowLane(b, loc, op, accType, adaptor.getIndex(),
                                    adaptor.getFirstCol());
    auto [rowBase, inside] =
        threadRowBase(b, loc, adaptor.getOut(), elem, adaptor.getRow(), r,
                      adaptor.getRowLimit(), ld);
    Value col0 = toI64(b, loc, adaptor.getCol());
    for (int64_t chunk = 0; chunk < cols / 32; ++chunk) {
      // Every lane loads (.sync.aligned); only rows inside are stored.
      Value v = loadLaneColumns(
          b, loc, LLVM::AddOp::create(b, loc, taddr, i32c(b, loc, 32 * chunk)),
          32);
      Value chunkCol =
          LLVM::AddOp::create(b, loc, col0, i64c(b, loc, 32 * chunk));
      // The bias of the chunk's columns (the same for every row).
      SmallVector<Value> bias;
      if (adaptor.getBias())
        bias = loadBiasColumns(b, loc, adaptor.getBias(), adaptor.getBiasRow(),
                               op.getBiasTypeAttr().getValue(),
                               op.getBiasLdAttr().getInt(), chunkCol, 32);
      waitLaneLoads(b, loc);
      auto ifOp = scf::IfOp::create(b, loc, inside, false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      storeRowValues(
          b, loc, elem, rowBase, chunkCol, 32, ld, ld % accType.getCols() != 0,
          [&](int64_t c) -> Value {
            Value x = LLVM::BitcastOp::create(
                b, loc, b.getF32Type(),
                LLVM::ExtractElementOp::create(b, loc, v, i32c(b, loc, c)));
            return bias.empty()
                       ? x
                       : LLVM::FAddOp::create(b, loc, x, bias[c]).getResult();
          });
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.acc_promote_rows: the block's product, 32 columns per tcgen05.ld,
/// times the row's and the weight block's scales, added to each value.
struct AccPromoteRowsLowering : OpConversionPattern<AccPromoteRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccPromoteRowsOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    int64_t cols = op.getAcc().getType().getDimSize(0);
    auto [r, taddr] = threadRowLane(b, loc, op, op.getAccs().getType(),
                                    a.getIndex(), a.getFirstCol());
    SmallVector<Value> parts;
    for (int64_t chunk = 0; chunk < cols / 32; ++chunk)
      parts.push_back(loadLaneColumns(
          b, loc, LLVM::AddOp::create(b, loc, taddr, i32c(b, loc, 32 * chunk)),
          32));
    // The row's scale (0 past the limit) while the loads are in flight.
    Value row = arith::AddIOp::create(b, loc, a.getRow(), toIndex(b, loc, r));
    Value last = arith::SubIOp::create(
        b, loc, a.getRowLimit(), arith::ConstantIndexOp::create(b, loc, 1));
    Value xs = loadRowValue(b, loc, a.getXs(), row, a.getRowLimit(), last,
                            op.getLdAttr().getInt(), a.getKb());
    Value ws = LLVM::LoadOp::create(
        b, loc, f32, elementAddress(b, loc, a.getWs(), f32, a.getW()));
    Value scale = LLVM::FMulOp::create(b, loc, xs, ws);
    waitLaneLoads(b, loc);
    Value acc = a.getAcc();
    for (int64_t c = 0; c < cols; ++c) {
      Value p = LLVM::BitcastOp::create(
          b, loc, f32,
          LLVM::ExtractElementOp::create(b, loc, parts[c / 32],
                                         i32c(b, loc, c % 32)));
      Value old = LLVM::ExtractElementOp::create(b, loc, acc, i32c(b, loc, c));
      acc = LLVM::InsertElementOp::create(
          b, loc, acc, LLVM::FMAOp::create(b, loc, p, scale, old),
          i32c(b, loc, c));
    }
    rewriter.replaceOp(op, acc);
    return success();
  }
};

struct StoreThreadRowLowering : OpConversionPattern<StoreThreadRowOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreThreadRowOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type elem = op.getElementType();
    int64_t ld = op.getLdAttr().getInt();
    int64_t cols = op.getValues().getType().getDimSize(0);
    Value r = LLVM::URemOp::create(b, loc, threadIdX(b, loc),
                                   i32c(b, loc, kWarpgroupThreads));
    auto [rowBase, inside] = threadRowBase(b, loc, a.getOut(), elem, a.getRow(),
                                           r, a.getRowLimit(), ld);
    auto ifOp = scf::IfOp::create(b, loc, inside, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    // Where the row's columns lie in the matrix is dynamic: every piece is
    // tested against ld.
    storeRowValues(b, loc, elem, rowBase, toI64(b, loc, a.getCol()), cols, ld,
                   /*maskCols=*/true, [&](int64_t c) -> Value {
                     return LLVM::ExtractElementOp::create(
                         b, loc, a.getValues(), i32c(b, loc, c));
                   });
    rewriter.eraseOp(op);
    return success();
  }
};

/// sm_100a: the tensor memory of every kernel with moek.mma ops (see the
/// top of this file): the columns each MMA op writes, the shared slot and
/// barriers, the two counters, the allocation at entry and the release at
/// every return. Errors name what the tcgen05 lowering cannot map.
/// Kernel `func`'s tensor memory: the slot tcgen05.alloc writes (an i32
/// global), `columns` allocated by warp 0 at entry and freed at every
/// return once all threads are done; `barriers` i64 words of shared memory
/// named `barsName` (none if 0), of which thread 0 initializes barrier i
/// to `arrivals(i)` arrivals (0: a plain word) at entry. Records {slot,
/// bars, columns} and `extra` on the kernel (kTmemAttr).
void allocateTensorMemory(LLVM::LLVMFuncOp func, int64_t columns,
                          StringRef barsName, int64_t barriers,
                          function_ref<int64_t(int64_t)> arrivals,
                          ArrayRef<NamedAttribute> extra,
                          bool ctaPair = false) {
  MLIRContext *ctx = func.getContext();
  OpBuilder b(ctx);
  Operation *symbolTable = SymbolTable::getNearestSymbolTable(func);
  b.setInsertionPointToStart(&symbolTable->getRegion(0).front());
  Location loc = func.getLoc();
  std::string slotName = (func.getSymName() + "_moek_tmem").str();
  LLVM::GlobalOp::create(b, loc, LLVM::LLVMArrayType::get(b.getI32Type(), 1),
                         false, LLVM::Linkage::Internal, slotName, Attribute(),
                         4, 3);
  if (barriers > 0)
    LLVM::GlobalOp::create(
        b, loc, LLVM::LLVMArrayType::get(b.getI64Type(), barriers), false,
        LLVM::Linkage::Internal, barsName, Attribute(), 8, 3);
  NamedAttrList info(extra);
  info.append("slot", FlatSymbolRefAttr::get(ctx, slotName));
  if (barriers > 0)
    info.append("bars", FlatSymbolRefAttr::get(ctx, barsName));
  info.append("columns", b.getI64IntegerAttr(columns));
  func->setAttr(kTmemAttr, info.getDictionary(ctx));

  // Entry: warp 0 allocates, thread 0 initializes the barriers; then
  // everyone sees both.
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value slot = LLVM::AddressOfOp::create(b, loc, ptrTy(ctx, 3), slotName);
  Value tid = threadIdX(b, loc);
  Value warp = LLVM::UDivOp::create(b, loc, tid, i32c(b, loc, 32));
  Value isWarp0 = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, warp,
                                       i32c(b, loc, 0));
  // A pair: warp 0 of both CTAs allocates (and frees) together.
  auto group = ctaGroupOf(ctx, ctaPair);
  {
    auto ifOp = scf::IfOp::create(b, loc, isWarp0, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    NVVM::Tcgen05AllocOp::create(b, loc, slot, i32c(b, loc, columns), group);
    NVVM::Tcgen05RelinquishAllocPermitOp::create(b, loc, group);
  }
  if (barriers > 0) {
    Value isThread0 = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, tid,
                                           i32c(b, loc, 0));
    auto ifOp = scf::IfOp::create(b, loc, isThread0, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    Value bars = LLVM::AddressOfOp::create(b, loc, ptrTy(ctx, 3), barsName);
    for (int64_t i = 0; i < barriers; ++i)
      if (int64_t count = arrivals(i))
        NVVM::MBarrierInitOp::create(
            b, loc,
            LLVM::GEPOp::create(b, loc, ptrTy(ctx, 3), b.getI64Type(), bars,
                                ValueRange{i64c(b, loc, i)}),
            i32c(b, loc, count), Value());
    NVVM::FenceMbarrierInitOp::create(b, loc);
  }
  // A pair: the peer's barriers exist before this CTA signals them.
  tcgen05Fence(b, loc, NVVM::Tcgen05FenceKind::BEFORE_THREAD_SYNC);
  if (ctaPair)
    clusterBarrier(b, loc);
  else
    NVVM::Barrier0Op::create(b, loc);
  tcgen05Fence(b, loc, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);

  // Every return: all threads done with tensor memory (a pair: in both
  // CTAs), then warp 0 frees it. Each warp reconverges first (a
  // producer's lanes arrive from different paths).
  SmallVector<LLVM::ReturnOp> returns;
  func.walk([&](LLVM::ReturnOp ret) { returns.push_back(ret); });
  for (LLVM::ReturnOp ret : returns) {
    Location l = ret.getLoc();
    b.setInsertionPoint(ret);
    tcgen05Fence(b, l, NVVM::Tcgen05FenceKind::BEFORE_THREAD_SYNC);
    if (ctaPair) {
      clusterBarrier(b, l);
    } else {
      NVVM::SyncWarpOp::create(b, l, i32c(b, l, -1));
      NVVM::Barrier0Op::create(b, l);
    }
    Value w = LLVM::UDivOp::create(b, l, freshThreadIdX(b, l), i32c(b, l, 32));
    Value w0 =
        LLVM::ICmpOp::create(b, l, LLVM::ICmpPredicate::eq, w, i32c(b, l, 0));
    auto ifOp = scf::IfOp::create(b, l, w0, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    tcgen05Fence(b, l, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);
    Value base = LLVM::LoadOp::create(
        b, l, b.getI32Type(),
        LLVM::AddressOfOp::create(b, l, ptrTy(ctx, 3), slotName), 4);
    NVVM::Tcgen05DeallocOp::create(b, l, tmemPtr(b, l, base),
                                   i32c(b, l, columns), group);
  }
}

/// The tensor memory of a kernel with a !moek.acc_ring (at most one, and no
/// moek.mma beside it): S accumulators of C columns, then the ring's
/// words (full barriers: 2 arrivals, empty: the consumers, tags).
LogicalResult planAccRing(LLVM::LLVMFuncOp func, AccRingAllocOp alloc) {
  Operation *other = nullptr;
  func.walk([&](Operation *op) {
    if ((isa<AccRingAllocOp>(op) && op != alloc) ||
        isa<MmaOp, MmaBlockScaledOp, MmaWaitOp>(op))
      other = op;
  });
  if (other)
    return other->emitOpError()
           << "shares its kernel with a moek.acc_ring_alloc: the sm_100a "
              "lowering gives tensor memory to one accumulator ring";
  AccRingType type = alloc.getAccs().getType();
  int64_t stages = type.getStages();
  int64_t used = stages * type.getCols();
  MLIRContext *ctx = func.getContext();
  SmallVector<NamedAttribute, 3> extra;
  // Block-scaled MMAs: each ring stage's scales get columns of their own
  // after the accumulators (A's 4, B's 4 per 128 columns), so a stage's
  // tcgen05.cp never overwrites scales that an earlier stage's MMAs still
  // read.
  MmaTmemOp scaled;
  func.walk([&](MmaTmemOp op) {
    if (op.getAScalesAttr() && !scaled)
      scaled = op;
  });
  if (scaled) {
    int64_t stride = 4 + 4 * (type.getCols() / 128);
    int64_t ringStages = scaled.getRing().getType().getStages();
    extra.push_back(
        NamedAttribute(StringAttr::get(ctx, "scale_columns"),
                       IntegerAttr::get(IntegerType::get(ctx, 64), used)));
    extra.push_back(
        NamedAttribute(StringAttr::get(ctx, "scale_stride"),
                       IntegerAttr::get(IntegerType::get(ctx, 64), stride)));
    used += ringStages * stride;
  }
  if (used > 512)
    return alloc.emitOpError()
           << "needs " << used
           << " tensor-memory columns (accumulators and the stages' block "
              "scales); a CTA has 512";
  int64_t columns =
      static_cast<int64_t>(llvm::bit_ceil(static_cast<uint64_t>(used)));
  std::string barsName = (func.getSymName() + "_moek_acc_bars").str();
  // A pair: both CTAs' epilogues release the even CTA's accumulators.
  bool pair = alloc.getCtaPair();
  int64_t consumers = alloc.getConsumersAttr().getInt() * (pair ? 2 : 1);
  if (pair)
    extra.push_back(
        NamedAttribute(StringAttr::get(ctx, "cta_pair"), UnitAttr::get(ctx)));
  allocateTensorMemory(
      func, columns, barsName, 3 * stages,
      [&](int64_t i) -> int64_t {
        return i < stages ? 2 : i < 2 * stages ? consumers : 0;
      },
      extra, pair);
  alloc->setAttr(kAccBarsAttr, FlatSymbolRefAttr::get(ctx, barsName));
  return success();
}

} // namespace

LogicalResult planTensorMemory(ModuleOp module) {
  auto result = module.walk([&](LLVM::LLVMFuncOp func) -> WalkResult {
    if (!func->hasAttr("nvvm.kernel") || func.getBody().empty())
      return WalkResult::advance();
    AccRingAllocOp accRing;
    func.walk([&](AccRingAllocOp op) {
      if (!accRing)
        accRing = op;
    });
    if (accRing)
      return failed(planAccRing(func, accRing)) ? WalkResult::interrupt()
                                                : WalkResult::advance();
    SmallVector<Operation *> mmaOps;
    func.walk([&](Operation *op) {
      if (isa<MmaOp, MmaBlockScaledOp, MmaWaitOp>(op))
        mmaOps.push_back(op);
    });
    if (mmaOps.empty())
      return WalkResult::advance();
    MLIRContext *ctx = func.getContext();
    int64_t first = -1, count = 0;
    llvm::DenseMap<Block *, int64_t> used;
    int64_t perWarpgroup = 0;
    // moek.mma: M = 64, two warpgroups a column range (lane halves);
    // moek.mma_block_scaled: M = 128, all lanes, a range each.
    Operation *halfLanes = nullptr, *fullLanes = nullptr;
    for (Operation *op : mmaOps) {
      auto role = op->getParentOfType<WarpRoleOp>();
      if (!role)
        return op->emitOpError()
               << "outside a moek.warp_role has no warpgroup on sm_100a";
      int64_t roleFirst = role.getFirstAttr().getInt();
      if (first >= 0 && roleFirst != first)
        return op->emitOpError()
               << "is in a second MMA role (warpgroups from " << roleFirst
               << "; the first from " << first << "): sm_100a supports one";
      first = roleFirst;
      count = role.getCountAttr().getInt();
      op->setAttr(kMmaFirstAttr,
                  IntegerAttr::get(IntegerType::get(ctx, 64), first));
      if (auto wait = dyn_cast<MmaWaitOp>(op)) {
        if (wait.getPendingAttr().getInt() >= kMmaBarriers)
          return op->emitOpError()
                 << "waits with " << wait.getPendingAttr().getInt()
                 << " MMAs pending; sm_100a allows fewer than " << kMmaBarriers;
        continue;
      }
      int64_t &col = used[op->getBlock()];
      if (auto scaled = dyn_cast<MmaBlockScaledOp>(op)) {
        fullLanes = op;
        op->setAttr(kTmemColAttr,
                    IntegerAttr::get(IntegerType::get(ctx, 64), col));
        // D, then A's and B's scale factors (4 columns each).
        col += scaled.getLow().getType().getCols() + 8;
        perWarpgroup = std::max(perWarpgroup, col);
        continue;
      }
      halfLanes = op;
      auto mma = cast<MmaOp>(op);
      Operation *accDef = mma.getAcc().getDefiningOp();
      if (!mma.getZeroInit() &&
          isa_and_nonnull<AccLoadSmemOp, MmaPromoteOp, AccScaleColsOp,
                          AccScaleOp>(accDef))
        return op->emitOpError()
               << "accumulates into a register accumulator (from "
               << accDef->getName()
               << "): on sm_100a an MMA's accumulator starts at mma_zero or "
                  "zero_init";
      op->setAttr(kTmemColAttr,
                  IntegerAttr::get(IntegerType::get(ctx, 64), col));
      col += mma.getAcc().getType().getCols();
      perWarpgroup = std::max(perWarpgroup, col);
    }
    if (count > 3)
      return func.emitOpError()
             << "has " << count
             << " MMA warpgroups; the sm_100a lowering supports up to 3";
    if (halfLanes && fullLanes)
      return fullLanes->emitOpError()
             << "shares its kernel with a moek.mma (M = 64, lane halves): "
                "the sm_100a lowering lays tensor memory out for one kind";
    int64_t ranges = fullLanes ? count : (count + 1) / 2;
    // Full lanes: each warpgroup's range from a multiple of 32 columns (the
    // allocation granule), so that no D starts at an odd column offset.
    if (fullLanes)
      perWarpgroup = llvm::alignTo(perWarpgroup, 32);
    int64_t columns = static_cast<int64_t>(llvm::bit_ceil(
        static_cast<uint64_t>(std::max<int64_t>(32, ranges * perWarpgroup))));
    if (columns > 512)
      return func.emitOpError()
             << "needs " << ranges * perWarpgroup << " tensor-memory columns ("
             << count << " MMA warpgroups, " << perWarpgroup
             << " columns each); a CTA has 512";

    // The warpgroups' MMA barriers (one arrival each: the commit) and the
    // MMAs' counters.
    OpBuilder b(ctx);
    std::string barsName = (func.getSymName() + "_moek_mma_bars").str();
    allocateTensorMemory(
        func, columns, barsName, count * kMmaBarriers,
        [](int64_t) -> int64_t { return 1; },
        {b.getNamedAttr("per_warpgroup", b.getI64IntegerAttr(perWarpgroup))});
    b.setInsertionPointToStart(&func.getBody().front());
    Location loc = func.getLoc();
    for (StringLiteral name : {kIssuedAttr, kWaitedAttr}) {
      auto local = LLVM::AllocaOp::create(b, loc, ptrTy(ctx), b.getI32Type(),
                                          i32c(b, loc, 1), 4);
      local->setAttr(name, UnitAttr::get(ctx));
      LLVM::StoreOp::create(b, loc, i32c(b, loc, 0), local, 4);
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

void populateTensorMemoryPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns,
                                  bool tensorMemory) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<StoreThreadRowLowering>(converter, ctx);
  if (tensorMemory) {
    patterns.add<Tcgen05MmaLowering, Tcgen05MmaWaitLowering,
                 Tcgen05MmaBlockScaledLowering>(converter, ctx);
    patterns.add<AccRingAllocLowering, AccStageLowering<AccAcquireOp>,
                 AccStageLowering<AccWaitOp>, AccStageLowering<AccReleaseOp>,
                 AccStageLowering<AccCommitOp>, MmaReleaseLowering,
                 MmaTmemLowering, AccStoreRowsLowering, AccPromoteRowsLowering>(
        converter, ctx);
    return;
  }
  patterns.add<UnsupportedMma<MmaBlockScaledOp>>(
      converter, ctx,
      "is a block-scaled tcgen05.mma: sm_100a only (sm_90a expands "
      "MXFP4 weights: moek.dequant_fp4_fp8)");
  // Tensor-memory accumulators: the first op of such a kernel.
  patterns.add<UnsupportedMma<AccRingAllocOp>, UnsupportedMma<MmaTmemOp>>(
      converter, ctx,
      "keeps accumulators in tensor memory: sm_100a only (sm_90a "
      "kernels hold them in registers: moek.mma)");
}

} // namespace mlir::moe::kernel::nvvm
