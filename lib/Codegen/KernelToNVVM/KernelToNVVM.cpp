//===- KernelToNVVM.cpp - Lower moek to NVVM and LLVM -----------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// convert-moek-to-nvvm for sm_90a: rings become mbarrier-guarded regions of
// dynamic shared memory filled by TMA, MMAs become wgmma with 128-byte
// swizzle descriptors, roles become warpgroup guards with setmaxnreg. The
// encodings follow the kernel that ran on the H200 (shared/research,
// wgmma-e2e.md section 3).
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/Descriptors.h"
#include "moe/Codegen/Passes.h"
#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/DialectConversion.h"

#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOEKERNELTONVVMPASS
#include "moe/Codegen/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe::kernel;

namespace {

constexpr int64_t kWarpgroupThreads = 128;
constexpr StringLiteral kDynamicSmem = "moek_dynamic_smem";
constexpr StringLiteral kSmemOffsetAttr = "moek.smem_offset";
constexpr StringLiteral kBarriersAttr = "moek.barriers";
constexpr StringLiteral kTileTableAttr = "moek.tile_table";
/// The shared-memory table of a moek.dispatch (its CTA's expert offsets).
constexpr StringLiteral kDispatchTableAttr = "moek.dispatch_table";
/// The cluster size of the ring a release or a load uses (planned before
/// the conversion, which replaces the ring's allocation).
constexpr StringLiteral kRingClusterAttr = "moek.ring_cluster";

/// The cluster size recorded on a ring op by planSharedMemory (1 if none).
int64_t ringCluster(Operation *op) {
  auto attr = op->getAttrOfType<IntegerAttr>(kRingClusterAttr);
  return attr ? attr.getInt() : 1;
}

//===----------------------------------------------------------------------===//
// Small builders
//===----------------------------------------------------------------------===//

Value cst(OpBuilder &b, Location loc, Type t, int64_t v) {
  return LLVM::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, v));
}
Value i32c(OpBuilder &b, Location loc, int64_t v) {
  return cst(b, loc, b.getI32Type(), v);
}
Value i64c(OpBuilder &b, Location loc, int64_t v) {
  return cst(b, loc, b.getI64Type(), v);
}
Value toI64(OpBuilder &b, Location loc, Value index) {
  return arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
}
Value toI32(OpBuilder &b, Location loc, Value index) {
  return arith::IndexCastOp::create(b, loc, b.getI32Type(), index);
}
Value toIndex(OpBuilder &b, Location loc, Value v) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}
Value threadIdX(OpBuilder &b, Location loc) {
  return NVVM::ThreadIdXOp::create(b, loc, b.getI32Type());
}
/// A %tid.x read that LLVM does not merge with the kernel's earlier ones,
/// for code at the end of a long kernel: an earlier read reused there
/// keeps it, or a predicate derived from it, live across the whole kernel,
/// which ptxas then spills.
Value freshThreadIdX(OpBuilder &b, Location loc) {
  return LLVM::InlineAsmOp::create(
             b, loc, b.getI32Type(), ValueRange{}, "mov.u32 $0, %tid.x;", "=r",
             /*has_side_effects=*/true, /*is_align_stack=*/false,
             LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}
LLVM::LLVMPointerType ptrTy(MLIRContext *ctx, unsigned space = 0) {
  return LLVM::LLVMPointerType::get(ctx, space);
}
Value gepBytes(OpBuilder &b, Location loc, Value base, Value bytes) {
  return LLVM::GEPOp::create(b, loc, base.getType(), b.getI8Type(), base,
                             ValueRange{bytes});
}
/// `base` plus the i32 byte offset `off`.
Value gepBytesU32(OpBuilder &b, Location loc, Value base, Value off) {
  return gepBytes(b, loc, base,
                  LLVM::ZExtOp::create(b, loc, b.getI64Type(), off));
}

/// `base + index * elemBytes` for a pointer and an index value.
Value elementAddress(OpBuilder &b, Location loc, Value base, Type elem,
                     Value index) {
  return LLVM::GEPOp::create(b, loc, base.getType(), elem, base,
                             ValueRange{toI64(b, loc, index)});
}

/// Inline PTX with side effects (never hoisted or merged), no result.
void ptxVoid(OpBuilder &b, Location loc, StringRef text, StringRef constraints,
             ValueRange operands) {
  LLVM::InlineAsmOp::create(b, loc, TypeRange{}, operands, text, constraints,
                            /*has_side_effects=*/true, /*is_align_stack=*/false,
                            LLVM::TailCallKind::None, LLVM::AsmDialectAttr(),
                            ArrayAttr());
}

/// Named barrier `id` of `threads` threads: barrier.sync (`wait`) or
/// barrier.arrive, without .aligned. A named barrier's warps run different
/// code (one warpgroup's epilogue, the other's MMAs) and reach it at
/// different instructions while the CTA's other warps are at other
/// barriers; .aligned (bar.sync, nvvm.barrier) promises that every thread
/// of the CTA executes the same barrier instruction, and
/// compute-sanitizer's synccheck reports the aligned form there.
void namedBarrier(OpBuilder &b, Location loc, Value id, Value threads,
                  bool wait) {
  LLVM::CallIntrinsicOp::create(
      b, loc,
      b.getStringAttr(wait ? "llvm.nvvm.barrier.cta.sync.count"
                           : "llvm.nvvm.barrier.cta.arrive.count"),
      ValueRange{id, threads});
}

/// A loop annotation that keeps LLVM from unrolling the loop.
LLVM::LoopAnnotationAttr noUnrollAnnotation(MLIRContext *ctx) {
  return LLVM::LoopAnnotationAttr::get(
      ctx, nullptr, nullptr, nullptr,
      LLVM::LoopUnrollAttr::get(ctx, BoolAttr::get(ctx, true), nullptr,
                                nullptr, nullptr, nullptr, nullptr, nullptr),
      nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
      nullptr, nullptr, {});
}

/// The lowered ring: {tiles base, barriers base}, both shared pointers.
LLVM::LLVMStructType ringStructType(MLIRContext *ctx) {
  return LLVM::LLVMStructType::getLiteral(ctx, {ptrTy(ctx, 3), ptrTy(ctx, 3)});
}

/// f32 values of a warpgroup thread's accumulator fragment: rows*cols/128.
int64_t fragmentSize(AccType acc) {
  return acc.getRows() * acc.getCols() / kWarpgroupThreads;
}

/// Per-thread accumulator: the wgmma fragment (fragmentSize f32 values);
/// on sm_100a (`tensorMemory`) followed by the accumulator's tensor-memory
/// address (i32) and whether an MMA has written it (i1): see the tcgen05
/// section.
LLVM::LLVMStructType accStructType(AccType acc, bool tensorMemory = false) {
  MLIRContext *ctx = acc.getContext();
  SmallVector<Type> fields(fragmentSize(acc), Float32Type::get(ctx));
  if (tensorMemory) {
    fields.push_back(IntegerType::get(ctx, 32));
    fields.push_back(IntegerType::get(ctx, 1));
  }
  return LLVM::LLVMStructType::getLiteral(ctx, fields);
}

/// A new accumulator struct of type `structTy` whose fragment is `value(v)`
/// for each value v; a tensor-memory accumulator's address is 0 and it is
/// not written (a register value: see the tcgen05 section).
Value buildAcc(OpBuilder &b, Location loc, LLVM::LLVMStructType structTy,
               int64_t n, function_ref<Value(int64_t)> value) {
  Value acc = LLVM::UndefOp::create(b, loc, structTy);
  for (int64_t v = 0; v < n; ++v)
    acc = LLVM::InsertValueOp::create(b, loc, acc, value(v),
                                      ArrayRef<int64_t>{v});
  if (int64_t(structTy.getBody().size()) > n) {
    acc = LLVM::InsertValueOp::create(b, loc, acc, i32c(b, loc, 0),
                                      ArrayRef<int64_t>{n});
    acc = LLVM::InsertValueOp::create(
        b, loc, acc, cst(b, loc, b.getI1Type(), 0), ArrayRef<int64_t>{n + 1});
  }
  return acc;
}

/// `acc` with each of its `n` fragment values v (index i) replaced by
/// `value(i, v)`; the rest of the struct (a tensor-memory accumulator's
/// address and flag) kept.
Value mapFragment(OpBuilder &b, Location loc, Value acc, int64_t n,
                  function_ref<Value(int64_t, Value)> value) {
  for (int64_t i = 0; i < n; ++i)
    acc = LLVM::InsertValueOp::create(
        b, loc, acc,
        value(i, LLVM::ExtractValueOp::create(b, loc, acc,
                                              ArrayRef<int64_t>{i})),
        ArrayRef<int64_t>{i});
  return acc;
}

/// Per-thread fragment of per-row values of a 64-row accumulator: the
/// thread's two rows (fragmentRow and + 8).
LLVM::LLVMStructType rowsStructType(RowsType rows) {
  MLIRContext *ctx = rows.getContext();
  return LLVM::LLVMStructType::getLiteral(
      ctx, {Float32Type::get(ctx), Float32Type::get(ctx)});
}

/// The first of the 16 rows of a 64-row wgmma fragment that this thread's
/// warp holds (i32): 16 * its warp within the warpgroup.
Value fragmentWarpRow(OpBuilder &b, Location loc) {
  Value t = LLVM::URemOp::create(b, loc, threadIdX(b, loc),
                                 i32c(b, loc, kWarpgroupThreads));
  return LLVM::MulOp::create(
      b, loc, LLVM::UDivOp::create(b, loc, t, i32c(b, loc, 32)),
      i32c(b, loc, 16));
}

/// The first row of a 64-row wgmma fragment that this thread holds (i32):
/// 16 * warp + lane / 4 within its warpgroup; it also holds that row + 8.
Value fragmentRow(OpBuilder &b, Location loc) {
  Value lane = LLVM::URemOp::create(b, loc, threadIdX(b, loc),
                                    i32c(b, loc, 32));
  return LLVM::AddOp::create(
      b, loc, fragmentWarpRow(b, loc),
      LLVM::UDivOp::create(b, loc, lane, i32c(b, loc, 4)));
}

/// Where moek.fp4_row_scale stores the scale of column `c` (i32) of an
/// `n`-column tile: in the order of the wgmma fragment, so that lane l's
/// columns 8j + 2 (l % 4) + e are contiguous, j-major: slot
/// g * (n / 4 + 4) + 2 j + e with g = (c % 8) / 2; the 4-float pad puts the
/// four lane groups in different banks.
int64_t colScaleStride(int64_t n) { return n / 4 + 4; }
Value colScaleSlot(OpBuilder &b, Location loc, Value c, int64_t n) {
  auto k = [&](int64_t v) { return i32c(b, loc, v); };
  Value g = LLVM::LShrOp::create(
      b, loc, LLVM::AndOp::create(b, loc, c, k(7)), k(1));
  Value j = LLVM::LShrOp::create(b, loc, c, k(3));
  return LLVM::AddOp::create(
      b, loc,
      LLVM::AddOp::create(b, loc, LLVM::MulOp::create(b, loc, g, k(colScaleStride(n))),
                          LLVM::ShlOp::create(b, loc, j, k(1))),
      LLVM::AndOp::create(b, loc, c, k(1)));
}

struct RingParts {
  Value tiles, barriers;
  Value stage;  // i64: iter mod S
  Value parity; // i32: (iter / S) mod 2
};

/// Of a running count `iter` (index) over `stages` slots (a ring's stages,
/// an accumulator ring's accumulators): the slot iter mod S and the phase
/// parity (iter / S) mod 2, both i32. In 32 bits (a CTA's counts, its
/// tiles times their K blocks, stay far below 2^32): a 64-bit division by a
/// count that is not a power of two took ~25 instructions, in every K block
/// of every warp.
std::pair<Value, Value> slotAndParity(OpBuilder &b, Location loc, Value iter,
                                      int64_t stages) {
  Value it = toI32(b, loc, iter);
  Value s = i32c(b, loc, stages);
  Value round = LLVM::UDivOp::create(b, loc, it, s);
  return {LLVM::URemOp::create(b, loc, it, s),
          LLVM::AndOp::create(b, loc, round, i32c(b, loc, 1))};
}

RingParts unpackRing(OpBuilder &b, Location loc, Value ring, RingType type,
                     Value iter) {
  RingParts p;
  p.tiles = LLVM::ExtractValueOp::create(b, loc, ring, ArrayRef<int64_t>{0});
  p.barriers = LLVM::ExtractValueOp::create(b, loc, ring, ArrayRef<int64_t>{1});
  auto [stage, parity] = slotAndParity(b, loc, iter, type.getStages());
  p.stage = LLVM::ZExtOp::create(b, loc, b.getI64Type(), stage);
  p.parity = parity;
  return p;
}

/// The full (or empty) barrier of `stage`.
Value barrierOf(OpBuilder &b, Location loc, RingParts &p, RingType type,
                bool empty) {
  Value index = p.stage;
  if (empty)
    index = LLVM::AddOp::create(b, loc, index, i64c(b, loc, type.getStages()));
  return LLVM::GEPOp::create(b, loc, p.barriers.getType(), b.getI64Type(),
                             p.barriers, ValueRange{index});
}

/// Byte address of tile `tile` of the current stage (an unstaged tile's,
/// after the stages, whatever the stage).
Value tileAddress(OpBuilder &b, Location loc, RingParts &p, RingType type,
                  unsigned tile) {
  if (type.isUnstaged(tile))
    return gepBytes(b, loc, p.tiles,
                    i64c(b, loc,
                         type.getStages() * type.getStageBytes() +
                             type.getTileOffset(tile)));
  Value stageBytes = LLVM::MulOp::create(
      b, loc, p.stage, i64c(b, loc, type.getStageBytes()));
  Value offset = LLVM::AddOp::create(b, loc, stageBytes,
                                     i64c(b, loc, type.getTileOffset(tile)));
  return gepBytes(b, loc, p.tiles, offset);
}

void waitParity(OpBuilder &b, Location loc, Value bar, Value parity) {
  NVVM::MBarrierTryWaitParityOp::create(b, loc, bar, parity,
                                        i32c(b, loc, 10000000));
}

//===----------------------------------------------------------------------===//
// tcgen05 and CTA-pair helpers (sm_100a)
//===----------------------------------------------------------------------===//

void tcgen05Fence(OpBuilder &b, Location loc, NVVM::Tcgen05FenceKind kind) {
  NVVM::Tcgen05FenceOp::create(
      b, loc, NVVM::Tcgen05FenceKindAttr::get(b.getContext(), kind));
}

NVVM::CTAGroupKindAttr ctaGroupOf(MLIRContext *ctx, bool pair) {
  return NVVM::CTAGroupKindAttr::get(ctx, pair ? NVVM::CTAGroupKind::CTA_2
                                               : NVVM::CTAGroupKind::CTA_1);
}

/// tcgen05.commit of the executing thread's MMAs to `bar`; in a CTA pair,
/// to the barrier at the same place in both CTAs (multicast mask 0b11).
void commitMmas(OpBuilder &b, Location loc, Value bar, bool pair) {
  Value mask =
      pair ? cst(b, loc, b.getI16Type(), 3) : Value();
  NVVM::Tcgen05CommitOp::create(b, loc, bar, mask,
                                ctaGroupOf(b.getContext(), pair));
}

/// `ptr` (shared memory) in the CTA of cluster rank `rank` (i32).
Value inClusterCta(OpBuilder &b, Location loc, Value ptr, Value rank) {
  return NVVM::MapaOp::create(b, loc, ptrTy(b.getContext(), 7), ptr, rank);
}

/// The cluster rank (i32) of the other CTA of this CTA's pair, and of the
/// pair's even CTA.
Value peerRank(OpBuilder &b, Location loc) {
  return LLVM::XOrOp::create(b, loc, NVVM::ClusterId::create(b, loc, b.getI32Type()),
                             i32c(b, loc, 1));
}
Value leaderRank(OpBuilder &b, Location loc) {
  return LLVM::AndOp::create(b, loc,
                             NVVM::ClusterId::create(b, loc, b.getI32Type()),
                             i32c(b, loc, ~1));
}


//===----------------------------------------------------------------------===//
// Roles and indices
//===----------------------------------------------------------------------===//

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
    Value rel = LLVM::SubOp::create(rewriter, loc, wg, i32c(rewriter, loc, first));
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

/// A barrier across the cluster for every thread, each warp reconverged
/// first: a warp's lanes may arrive from different paths (e.g. the
/// producer's elected lane still in its loop), and the barrier is not
/// .aligned either, which would need the whole warp at once.
void clusterBarrier(OpBuilder &b, Location loc) {
  NVVM::SyncWarpOp::create(b, loc, i32c(b, loc, -1));
  NVVM::ClusterArriveOp::create(b, loc, UnitAttr());
  NVVM::ClusterWaitOp::create(b, loc, UnitAttr());
}

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

//===----------------------------------------------------------------------===//
// Grouped tile scheduling
//===----------------------------------------------------------------------===//

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
void storeTable(OpBuilder &b, Location loc, Value table, Value i, Value v) {
  LLVM::StoreOp::create(b, loc, toI32(b, loc, v), tableSlot(b, loc, table, i));
}
Value loadTable(OpBuilder &b, Location loc, Value table, Value i) {
  return toIndex(b, loc,
                 LLVM::LoadOp::create(b, loc, b.getI32Type(),
                                      tableSlot(b, loc, table, i)));
}

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
    Value rows = arith::MaxUIOp::create(
        b, l, arith::MinUIOp::create(b, l, left, groupV),
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
      mBlock = arith::AddIOp::create(
          b, l, first, arith::RemUIOp::create(b, l, local, rows));
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
      tablePtr = LLVM::AddressOfOp::create(rewriter, loc, ptrTy(getContext(), 3),
                                           table.getValue());
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
                fb, fl, ValueRange{arith::AddIOp::create(fb, fl, acc[0], tiles)});
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
          rewriter, loc, zero, arith::ConstantIndexOp::create(rewriter, loc, steps),
          one, ValueRange{zero, numE},
          [&](OpBuilder &b, Location l, Value, ValueRange it) {
            Value lo = it[0], hi = it[1];
            Value mid = arith::DivUIOp::create(
                b, l, arith::AddIOp::create(b, l, lo, hi),
                arith::ConstantIndexOp::create(b, l, 2));
            Value atMid = loadTable(b, l, tablePtr, mid);
            Value below = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule,
                                                atMid, tile);
            Value open = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::ugt, arith::SubIOp::create(b, l, hi, lo),
                one);
            Value moveLo = arith::AndIOp::create(b, l, below, open);
            Value moveHi = arith::AndIOp::create(
                b, l, open,
                arith::XOrIOp::create(b, l, below,
                                      arith::ConstantIntOp::create(b, l, 1, 1)));
            scf::YieldOp::create(
                b, l,
                ValueRange{arith::SelectOp::create(b, l, moveLo, mid, lo),
                           arith::SelectOp::create(b, l, moveHi, mid, hi)});
          });
      Value expert = search.getResult(0);
      Value rem = arith::SubIOp::create(rewriter, loc, tile,
                                        loadTable(rewriter, loc, tablePtr, expert));
      Value begin = loadOffset(rewriter, loc, offsets, expert);
      Value end = loadOffset(rewriter, loc, offsets,
                             arith::AddIOp::create(rewriter, loc, expert, one));
      auto [row, col] = decodeInExpert(rewriter, loc, rem, begin, end, tileRows,
                                       colTiles, rowGroup, tailRows);
      rewriter.replaceOp(op, {expert, row, end, col});
      return success();
    }
    Value falseV = arith::ConstantIntOp::create(rewriter, loc, 0, 1);
    SmallVector<Value> init = {adaptor.getTile(), falseV, zero, zero, zero,
                               zero};
    auto loop = scf::ForOp::create(
        rewriter, loc, zero, numE, one, init,
        [&](OpBuilder &b, Location l, Value e, ValueRange it) {
          Value rem = it[0], found = it[1];
          Value begin = loadOffset(b, l, offsets, e);
          Value end =
              loadOffset(b, l, offsets, arith::AddIOp::create(b, l, e, one));
          Value n = arith::MulIOp::create(
              b, l, rowBlocks(b, l, begin, end, tileRows, tailRows), colTiles);
          Value inside = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                               rem, n);
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

//===----------------------------------------------------------------------===//
// Rings
//===----------------------------------------------------------------------===//

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
    rewriter.replaceOp(op,
                       dynamicSmemAt(rewriter, op.getLoc(), offsetAttr.getInt()));
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
    std::tie(first, end) = fragmentValues(op.getValues(), op.getAcc().getType());
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

/// moek.signal {relayed}: warpgroup w (1 or 2) hands counter indices to the
/// warp running moek.signal_relay for it through a word of shared memory
/// and two mbarriers, all in the kernel's relay global (planSharedMemory,
/// initialized with the ring's barriers): i64 word 0 holds the two
/// warpgroups' words (i32), words 1 and 2 their `posted` barriers (128
/// arrivals: the warpgroup's threads, once the leader has written the word;
/// the relay waits on it), words 3 and 4 their `taken` barriers (129: the
/// warpgroup's threads and the relay, which arrives once at its start and
/// once after reading each word; the warpgroup waits on the phase it
/// arrived in before the leader writes the next word).
constexpr StringLiteral kRelayAttr = "moek.relay";
constexpr int64_t kRelayWords = 5, kRelayPosted = 1, kRelayTaken = 3;
/// The index a warpgroup posts last (moek.signal_end): no more signals.
constexpr uint32_t kRelayEnd = 0xffffffffu;

/// Word `word` (i64) of the relay global named on `op`, plus `plus` (i64).
Value relayWord(OpBuilder &b, Location loc, Operation *op, int64_t word,
                Value plus = Value()) {
  auto sym = op->getAttrOfType<FlatSymbolRefAttr>(kRelayAttr);
  Value base = LLVM::AddressOfOp::create(b, loc, ptrTy(b.getContext(), 3),
                                         sym.getValue());
  Value at = i64c(b, loc, word);
  if (plus)
    at = LLVM::AddOp::create(b, loc, at, plus);
  return LLVM::GEPOp::create(b, loc, ptrTy(b.getContext(), 3), b.getI64Type(),
                             base, ValueRange{at});
}

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
        int64_t count = s < stages ? op.getProducers()
                        : cluster > 1
                            ? consumers / kWarpgroupThreads * cluster
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
    ring = LLVM::InsertValueOp::create(rewriter, loc, ring, tiles, ArrayRef<int64_t>{0});
    ring = LLVM::InsertValueOp::create(rewriter, loc, ring, bars, ArrayRef<int64_t>{1});
    rewriter.replaceOp(op, ring);
    return success();
  }
};

template <typename OpTy>
struct RingStageLowering : OpConversionPattern<OpTy> {
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
      Value parity = LLVM::XOrOp::create(rewriter, loc, p.parity,
                                         i32c(rewriter, loc, 1));
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
        Value lane = LLVM::URemOp::create(
            rewriter, loc, threadIdX(rewriter, loc),
            i32c(rewriter, loc, kWarpgroupThreads));
        Value signals = LLVM::ZExtOp::create(
            rewriter, loc, rewriter.getI32Type(),
            LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::ult,
                                 lane, i32c(rewriter, loc, cluster)));
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
  Value index = LLVM::AddOp::create(b, loc, p.stage,
                                    i64c(b, loc, 2 * type.getStages()));
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
    Value column = LLVM::MulOp::create(
        rewriter, loc, toI64(rewriter, loc, adaptor.getKb()),
        i64c(rewriter, loc, 4));
    Value laneBytes =
        LLVM::MulOp::create(rewriter, loc, lane, i64c(rewriter, loc, 16));
    Value upper = adaptor.getUpper() ? toI64(rewriter, loc, adaptor.getUpper())
                                     : Value();
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
          LLVM::AddOp::create(
              rewriter, loc,
              LLVM::MulOp::create(rewriter, loc, srcRow,
                                  i64c(rewriter, loc, cols)),
              column));
      Value dst = gepBytes(
          rewriter, loc, tile,
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
    LLVM::StoreOp::create(rewriter, loc, toI64(rewriter, loc, adaptor.getValue()),
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
      int64_t rowBytes =
          tile.getDimSize(1) * tile.getElementTypeBitWidth() / 8;
      dst = LLVM::GEPOp::create(rewriter, loc, dst.getType(),
                                rewriter.getI8Type(), dst,
                                ArrayRef<LLVM::GEPArg>{rowOffset * rowBytes});
    }
    Value dst7 = LLVM::AddrSpaceCastOp::create(rewriter, loc, ptrTy(ctx, 7), dst);
    SmallVector<Value> coords;
    for (Value c : adaptor.getCoords())
      coords.push_back(toI32(rewriter, loc, c));
    Value policy;
    if (std::optional<StringRef> hint = op.getL2Hint())
      policy = l2Policy(rewriter, loc, *hint);
    if (op.getLeaderBarrier()) {
      // A CTA pair: this CTA's copy completes on the even CTA's barrier
      // (a shared::cluster address, which NVVM's op does not take).
      Value bar = inClusterCta(rewriter, loc,
                               barrierOf(rewriter, loc, p, type, false),
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
        barrierOf(rewriter, loc, p, type, false), ValueRange{}, mask,
        policy,
        NVVM::TMALoadModeAttr::get(ctx, NVVM::TMALoadMode::TILE),
        BoolAttr(), NVVM::CTAGroupKindAttr(), Value());
    rewriter.eraseOp(op);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// MMA (sm_90a: wgmma)
//===----------------------------------------------------------------------===//

/// The K-major, 128B-swizzled tile every MMA operand is: leading byte
/// offset 16, stride byte offset 1024 between 8-row groups.
moe::desc::SmemMatrix swizzledTile() {
  moe::desc::SmemMatrix tile;
  tile.leadingByteOffset = 16;
  tile.strideByteOffset = 1024;
  tile.swizzle = moe::desc::Swizzle::B128;
  return tile;
}

/// A shared-memory descriptor of the tile at `addr`: the run-time start
/// address >> 4 in bits 0-13, ORed into `constant` (the other fields;
/// moe/Codegen/Descriptors.h).
Value descriptorAt(OpBuilder &b, Location loc, Value addr, uint64_t constant) {
  Value a = LLVM::PtrToIntOp::create(b, loc, b.getI64Type(), addr);
  Value field = LLVM::AndOp::create(
      b, loc, LLVM::LShrOp::create(b, loc, a, i64c(b, loc, 4)),
      i64c(b, loc, 0x3FFF));
  return LLVM::OrOp::create(b, loc, field,
                            i64c(b, loc, static_cast<int64_t>(constant)));
}

/// wgmma's descriptor of the tile at `addr` (swizzledTile).
Value smemDescriptor(OpBuilder &b, Location loc, Value addr) {
  static const uint64_t constant =
      llvm::cantFail(moe::desc::wgmmaSmemDescriptorConstant(swizzledTile()));
  return descriptorAt(b, loc, addr, constant);
}

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
    Value acc = buildAcc(rewriter, loc, structTy,
                         fragmentSize(op.getAcc().getType()),
                         [&](int64_t) { return zero; });
    rewriter.replaceOp(op, acc);
    return success();
  }
};

/// The shared addresses of a moek.mma's operands in the stage: A's first
/// row (`a_row` rows into tile `a`; 128 bytes, one swizzle span, per row)
/// and tile `b`.
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

/// Whether a moek.mma multiplies e4m3 tiles (else bf16).
bool isFp8Mma(MmaOp op) {
  return isa<Float8E4M3FNType>(
      op.getRing().getType().getTile(op.getAAttr().getInt()).getElementType());
}

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
    auto in = NVVM::WGMMATypesAttr::get(
        ctx, fp8 ? NVVM::WGMMATypes::e4m3 : NVVM::WGMMATypes::bf16);
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
      acc = NVVM::WgmmaMmaAsyncOp::create(rewriter, loc, acc.getType(), acc,
                                          dA, dB, shape, in, in, f32,
                                          scaleOut, one, one, row, col,
                                          NVVM::MMAIntOverflowAttr());
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

/// `ptr[min(row, last) * ld + col]` (f32), or 0 when `row` (index) is not
/// below `limit` (last = limit - 1): branch-free (a branch between a wgmma
/// and its wait makes ptxas serialize the wgmmas); the row clamped so the
/// load stays in bounds.
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
    Value last = arith::SubIOp::create(
        rewriter, loc, adaptor.getRowLimit(),
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

/// An MMA op the target chip has no instruction for: an error that names
/// the op and says why (`why`), never a kernel.
template <typename OpTy>
struct UnsupportedMma : OpConversionPattern<OpTy> {
  UnsupportedMma(const TypeConverter &converter, MLIRContext *ctx,
                 StringRef why)
      : OpConversionPattern<OpTy>(converter, ctx), why(why.str()) {}
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor,
                  ConversionPatternRewriter &) const override {
    return op.emitOpError() << why;
  }
  std::string why;
};

//===----------------------------------------------------------------------===//
// MMA (sm_100a: tcgen05)
//===----------------------------------------------------------------------===//
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
  Value base;     // i32: the allocated columns' address
  Value bars;     // ptr<3>: this warpgroup's kMmaBarriers barriers
  Value rel;      // i32: the warpgroup's index in its role
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
  tm.bars = LLVM::GEPOp::create(
      b, loc, ptrTy(ctx, 3), b.getI64Type(), bars,
      ValueRange{LLVM::MulOp::create(b, loc, tm.rel,
                                     i32c(b, loc, kMmaBarriers))});
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
  Value bar = LLVM::GEPOp::create(
      b, loc, ptrTy(ctx, 3), b.getI64Type(), tm.bars,
      ValueRange{LLVM::URemOp::create(b, loc, issued,
                                      i32c(b, loc, kMmaBarriers))});
  Value t = LLVM::URemOp::create(b, loc, threadIdX(b, loc),
                                 i32c(b, loc, kWarpgroupThreads));
  Value isIssuer = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, t,
                                        i32c(b, loc, 0));
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
      return op.emitOpError() << "has no tcgen05.mma: "
                              << llvm::toString(idesc.takeError());

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
      for (int64_t k = 0, steps = aTile.getDimSize(1) / stepK; k < steps;
           ++k) {
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
    acc = LLVM::InsertValueOp::create(rewriter, loc, acc,
                                      cst(rewriter, loc, rewriter.getI1Type(), 1),
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
    Value target =
        LLVM::SubOp::create(rewriter, loc, issued, i32c(rewriter, loc, pending));
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
      Value phase =
          LLVM::UDivOp::create(rewriter, loc, j, i32c(rewriter, loc, kMmaBarriers));
      waitParity(rewriter, loc, bar,
                 LLVM::AndOp::create(rewriter, loc, phase, i32c(rewriter, loc, 1)));
    }
    LLVM::StoreOp::create(
        rewriter, loc,
        LLVM::SMaxOp::create(rewriter, loc, waited, target), tm.waited, 4);
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
    Value taddr = LLVM::AddOp::create(rewriter, loc, tm.base,
                                      tmemColumn(rewriter, loc, tm, tm.rel, op));
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
    auto structTy = cast<LLVM::LLVMStructType>(
        getTypeConverter()->convertType(accType));
    Value zero = LLVM::ConstantOp::create(rewriter, loc, rewriter.getF32Type(),
                                          rewriter.getF32FloatAttr(0.0f));
    SmallVector<Value, 2> results;
    for (int64_t s = 0; s < 2; ++s) {
      Value acc = buildAcc(rewriter, loc, structTy, n,
                           [&](int64_t) { return zero; });
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

//===----------------------------------------------------------------------===//
// Tensor-memory accumulators (sm_100a): one MMA issuer, epilogue warpgroups
//===----------------------------------------------------------------------===//
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
  ptxVoid(b, loc, "mbarrier.arrive.release.cluster.shared::cluster.b64 _, [$0];",
          "l", ValueRange{LLVM::PtrToIntOp::create(b, loc, b.getI64Type(), remote)});
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
template <typename OpTy>
struct AccStageLowering : OpConversionPattern<OpTy> {
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
      return op.emitOpError() << "has no tcgen05.mma: "
                              << llvm::toString(idesc.takeError());
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), ringType, adaptor.getIter());
    Value descA = tcgen05SmemDescriptor(
        rewriter, loc, tileAddress(rewriter, loc, p, ringType,
                                   op.getAAttr().getInt()));
    Value descB = tcgen05SmemDescriptor(
        rewriter, loc, tileAddress(rewriter, loc, p, ringType,
                                   op.getBAttr().getInt()));
    Value d = tmemPtr(rewriter, loc,
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
    Value stage = LLVM::TruncOp::create(rewriter, loc, rewriter.getI32Type(),
                                        p.stage);
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
        rewriter, loc, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
        NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
    copyScaleBlock(rewriter, loc, sfa,
                   tileAddress(rewriter, loc, p, ringType,
                               op.getAScalesAttr().getInt()));
    Value bScales =
        tileAddress(rewriter, loc, p, ringType, op.getBScalesAttr().getInt());
    for (int64_t block = 0; block < n / 128; ++block)
      copyScaleBlock(
          rewriter, loc,
          LLVM::AddOp::create(rewriter, loc, sfb, i32c(rewriter, loc, 4 * block)),
          gepBytes(rewriter, loc, bScales, i64c(rewriter, loc, 512 * block)));
    blockScaledMmas(
        rewriter, loc, accColumns(rewriter, loc, op, accType, adaptor.getIndex()),
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

/// The executing thread's row of a tensor-memory accumulator ring (M = 128:
/// thread t of its warpgroup is row and lane r = t mod 128; warp w mod 4
/// reaches lanes 32 (w mod 4) ..): the row index r (i32) and the address
/// (i32) of lane r, column `firstCol` (index) of accumulator `index mod S`.
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

/// `count` columns (i32 vector) of the executing thread's lane from tensor
/// memory address `taddr` (tcgen05.ld .32x32b: every lane of the warp must
/// run it).
Value loadLaneColumns(OpBuilder &b, Location loc, Value taddr, int64_t count) {
  return NVVM::Tcgen05LdOp::create(
      b, loc, VectorType::get({count}, b.getI32Type()), UnitAttr(),
      NVVM::Tcgen05LdStShapeAttr::get(b.getContext(),
                                      NVVM::Tcgen05LdStShape::SHAPE_32X32B),
      tmemPtr(b, loc, taddr), Value());
}

void waitLaneLoads(OpBuilder &b, Location loc) {
  NVVM::Tcgen05WaitOp::create(
      b, loc,
      NVVM::Tcgen05WaitKindAttr::get(b.getContext(),
                                     NVVM::Tcgen05WaitKind::LOAD));
}

/// Stores `count` f32 values of one row (`value(c)`, c < count, a multiple
/// of 16 bytes' worth) converted to `elem` at `rowBase[col + c]`, in 16-byte
/// pieces; with `maskCols`, pieces at or past column `ld` are not stored.
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

/// The executing thread's row `row + r` of the row-major matrix `out`
/// (`ld` elements a row) and whether it lies below `rowLimit`.
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

/// Each thread's row of an accumulator, 32 columns per tcgen05.ld (thread
/// t's 32 registers are lane t's columns), stored in 16-byte pieces.
/// The per-expert bias of the tensor-memory epilogues (moek.acc_store_rows,
/// moek.acc_store_act_rows `bias`): columns `first + c * stride` (c <
/// count; `first` an i64 column of the row) of row `row` of `vec` ([*, ld]
/// of `type`: f32 or bf16) as f32, every lane loading the same addresses;
/// each column clamped to the row's last (those past it are never stored).
SmallVector<Value> loadBiasColumns(OpBuilder &b, Location loc, Value vec,
                                   Value row, Type type, int64_t ld,
                                   Value first, int64_t count,
                                   int64_t stride = 1) {
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
        LLVM::GEPOp::create(b, loc, vec.getType(), type, vec,
                            ValueRange{LLVM::AddOp::create(b, loc, rowBase,
                                                           clamped)}));
    values.push_back(type.isF32() ? v
                                  : LLVM::FPExtOp::create(b, loc,
                                                          b.getF32Type(), v)
                                        .getResult());
  }
  return values;
}

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
          b, loc, elem, rowBase, chunkCol, 32, ld,
          ld % accType.getCols() != 0, [&](int64_t c) -> Value {
            Value x = LLVM::BitcastOp::create(
                b, loc, b.getF32Type(),
                LLVM::ExtractElementOp::create(b, loc, v, i32c(b, loc, c)));
            return bias.empty() ? x
                                : LLVM::FAddOp::create(b, loc, x, bias[c])
                                      .getResult();
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
    Value ws = LLVM::LoadOp::create(b, loc, f32,
                                    elementAddress(b, loc, a.getWs(), f32,
                                                   a.getW()));
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

//===----------------------------------------------------------------------===//
// Epilogue
//===----------------------------------------------------------------------===//

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
  Value lane = LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
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
    Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                         row, rowLimit);
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
      Value colJ =
          LLVM::AddOp::create(b, loc, col0i, i64c(b, loc, 8 * j));
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
    storeAccFragment(
        rewriter, loc, adaptor.getAcc(), op.getAcc().getType(),
        op.getElementType(), ld, adaptor.getRow(), adaptor.getCol(),
        adaptor.getRowLimit(),
        [&](OpBuilder &b, Value row) -> std::pair<Value, Value> {
          return {out, LLVM::MulOp::create(b, loc, toI64(b, loc, row),
                                           i64c(b, loc, ld))};
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// Whether this thread (`tid`, by default a %tid.x read) is its
/// warpgroup's first (the one that issues and waits for
/// moek.store_acc_tma's bulk stores).
Value isWarpgroupLeader(OpBuilder &b, Location loc, Value tid = Value()) {
  return LLVM::ICmpOp::create(
      b, loc, LLVM::ICmpPredicate::eq,
      LLVM::URemOp::create(b, loc, tid ? tid : threadIdX(b, loc),
                           i32c(b, loc, kWarpgroupThreads)),
      i32c(b, loc, 0));
}

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

/// The byte offset (i32) of 16-byte chunk `kc` of row `r` of a bf16 tile
/// of 64-value rows in the 128B swizzle that moek.mma reads: 128 bytes a
/// row, the chunk at kc ^ (r % 8).
Value bf16SwizzledChunk(OpBuilder &b, Location loc, Value r, Value kc) {
  Value swz = LLVM::XOrOp::create(
      b, loc, kc, LLVM::AndOp::create(b, loc, r, i32c(b, loc, 7)));
  return LLVM::AddOp::create(
      b, loc, LLVM::MulOp::create(b, loc, r, i32c(b, loc, 128)),
      LLVM::MulOp::create(b, loc, swz, i32c(b, loc, 16)));
}

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
      storeAccFragment(eb, loc, a.getAcc(), accType, bf16, ld, a.getRow(),
                       a.getCol(), a.getRowLimit(),
                       [&](OpBuilder &ob, Value row) -> std::pair<Value, Value> {
                         return {out, LLVM::MulOp::create(
                                          ob, loc, toI64(ob, loc, row),
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
        tb, loc,
        LLVM::MulOp::create(tb, loc, warp, i32c(tb, loc, 16)),
        LLVM::AddOp::create(
            tb, loc,
            LLVM::MulOp::create(
                tb, loc, LLVM::URemOp::create(tb, loc, matrix, i32c(tb, loc, 2)),
                i32c(tb, loc, 8)),
            r8));
    Value rowBytes = LLVM::MulOp::create(tb, loc, boxRow, i32c(tb, loc, 128));
    // Group j + matrix / 2 of the lane's address.
    Value groupOfMatrix =
        LLVM::UDivOp::create(tb, loc, matrix, i32c(tb, loc, 2));
    Value barrier = LLVM::TruncOp::create(tb, loc, i32,
                                          toI64(tb, loc, a.getBarrier()));
    Value threads = i32c(tb, loc, kWarpgroupThreads);
    Value rowI32 = LLVM::TruncOp::create(tb, loc, i32, toI64(tb, loc, a.getRow()));
    Value colI32 = LLVM::TruncOp::create(tb, loc, i32, toI64(tb, loc, a.getCol()));
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
            ValueRange{LLVM::AddOp::create(fb, loc, colI32,
                                           i32c(fb, loc, 64 * box)),
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

/// bases[rank] - bases[self]: how far rank `rank`'s symmetric buffer is from
/// this rank's, in bytes (i64).
Value peerShift(OpBuilder &b, Location loc, Value rank, Value bases,
                Value self) {
  Type i64 = b.getI64Type();
  auto base = [&](Value r) -> Value {
    Value at = LLVM::GEPOp::create(b, loc, bases.getType(), i64, bases,
                                   ValueRange{LLVM::ZExtOp::create(b, loc, i64, r)});
    return LLVM::LoadOp::create(b, loc, i64, at, /*alignment=*/8);
  };
  return LLVM::SubOp::create(b, loc, base(rank), base(self));
}

/// bases[rank] - bases[self] + ptr: moek.map_peer.
Value mapPeer(OpBuilder &b, Location loc, Value ptr, Value rank, Value bases,
              Value self) {
  return gepBytes(b, loc, ptr, peerShift(b, loc, rank, bases, self));
}

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

//===----------------------------------------------------------------------===//
// Grid-wide synchronization, counters and the MoE phases
//===----------------------------------------------------------------------===//

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

/// Adds 1 to the u32 at `ptr` with release semantics at GPU scope, after a
/// fence that orders this thread's (and, through a preceding bar.sync, its
/// CTA's) earlier writes before it.
void releaseAdd(OpBuilder &b, Location loc, Value ptr) {
  ptxVoid(b, loc,
          "fence.acq_rel.gpu;\nred.release.gpu.global.add.u32 [$0], 1;", "l",
          ValueRange{ptrAsI64(b, loc, ptr)});
}

/// Spins until the u32 at `ptr` (acquire, GPU scope) is >= `target` (i32).
void spinUntilAtLeast(OpBuilder &b, Location loc, Value ptr, Value target) {
  Value addr = ptrAsI64(b, loc, ptr);
  auto loop = scf::WhileOp::create(b, loc, TypeRange{}, ValueRange{});
  {
    OpBuilder::InsertionGuard g(b);
    Block *before = b.createBlock(&loop.getBefore());
    b.setInsertionPointToStart(before);
    Value v = ptxI32(b, loc, "ld.acquire.gpu.global.u32 $0, [$1];", "=r,l",
                     ValueRange{addr});
    Value below = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, v,
                                       target);
    scf::ConditionOp::create(b, loc, below, ValueRange{});
    Block *after = b.createBlock(&loop.getAfter());
    b.setInsertionPointToStart(after);
    scf::YieldOp::create(b, loc, ValueRange{});
  }
}

/// bar.sync 0 (every thread of the CTA) or named barrier `id` of `threads`
/// (namedBarrier).
void ctaBarrier(OpBuilder &b, Location loc, int64_t id, int64_t threads) {
  if (id == 0) {
    NVVM::Barrier0Op::create(b, loc);
    return;
  }
  namedBarrier(b, loc, i32c(b, loc, id), i32c(b, loc, threads),
               /*wait=*/true);
}

/// The grid barrier: see moek.grid_barrier. The participating threads are
/// `threads` consecutive ones, so exactly one of them has tid % threads == 0
/// and is the CTA's leader (with id 0, `threads` is the block size).
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
      b, loc, LLVM::ICmpPredicate::eq, LLVM::URemOp::create(b, loc, tid, threads),
      i32c(b, loc, 0));
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

struct GridBarrierLowering : OpConversionPattern<GridBarrierOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GridBarrierOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t id = op.getIdAttr().getInt();
    // With id 0 the whole block takes part: its size is the leader's modulus.
    Value threads = id == 0
                        ? NVVM::BlockDimXOp::create(rewriter, loc,
                                                    rewriter.getI32Type())
                              .getResult()
                        : i32c(rewriter, loc, op.getThreadsAttr().getInt());
    gridBarrier(rewriter, loc, adaptor.getCounter(),
                op.getPhaseAttr().getInt(), id, threads,
                op.getThreadsAttr().getInt());
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
        rewriter, loc, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_global),
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
        rewriter, loc, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_global),
        NVVM::SharedSpaceAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Other GPUs
//===----------------------------------------------------------------------===//

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

/// moek.remote_add: `value` added to the u64 at `ptr`, release, system scope.
/// The fence, as in releaseAdd: the writes this thread observed through a
/// barrier with its CTA are ordered before the add too.
void remoteAdd(OpBuilder &b, Location loc, Value ptr, Value value) {
  ptxVoid(b, loc, "fence.acq_rel.sys;\nred.release.sys.global.add.u64 [$0], $1;",
          "l,l", ValueRange{ptrAsI64(b, loc, ptr), value});
}

/// moeRtWaitRecord (include/moe/Runtime/MoERuntime.h): its magic once filled.
constexpr uint32_t kWaitRecordMagic = 0x4d4f4557;

/// moek.remote_wait: the bounded wait.
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
    std::string text =
        "{\n.reg .pred %claimed;\n.reg .b32 %old;\n"
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
      auto ifOp = scf::IfOp::create(rewriter, loc, rewriter.getI32Type(),
                                    first, true);
      {
        OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        scf::YieldOp::create(tb, loc, add(tb));
        OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
        scf::YieldOp::create(eb, loc, i32c(eb, loc, 0));
      }
      old = NVVM::ShflOp::create(rewriter, loc, rewriter.getI32Type(),
                                 i32c(rewriter, loc, -1), ifOp.getResult(0),
                                 i32c(rewriter, loc, 0),
                                 i32c(rewriter, loc, 0x1f),
                                 NVVM::ShflKind::idx, UnitAttr());
    } else {
      old = add(rewriter);
    }
    rewriter.replaceOp(
        op, arith::IndexCastUIOp::create(rewriter, loc,
                                         rewriter.getIndexType(), old));
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

/// Lane `from`'s i32 `v` (`from` an i32), broadcast to the warp.
Value shuffleFrom(OpBuilder &b, Location loc, Value v, Value from) {
  return NVVM::ShflOp::create(
      b, loc, b.getI32Type(), i32c(b, loc, -1), v, from, i32c(b, loc, 0x1f),
      NVVM::ShflKindAttr::get(b.getContext(), NVVM::ShflKind::idx), UnitAttr());
}

/// A volatile i32 load (reads device memory written by other CTAs in this
/// launch, past the L1).
Value loadI32Volatile(OpBuilder &b, Location loc, Value ptr) {
  return LLVM::LoadOp::create(b, loc, b.getI32Type(), ptr, /*alignment=*/4,
                              /*isVolatile=*/true);
}

/// 16-byte pieces each lane of a warp loads before it stores them, when a
/// dispatch copies a token row.
constexpr int64_t kCopyUnroll = 8;
/// The pieces a lane loads per step when a row goes to several
/// destinations (moek.dispatch by tokens): each piece is stored k times,
/// and eight pieces' k addresses spilled at h = 7168.
constexpr int64_t kMultiCopyUnroll = 2;

/// The maximum of f32 `v` over the lanes of each group of `width` lanes
/// (a power of two up to 32) of the warp.
Value maxOverLanes(OpBuilder &b, Location loc, Value v, int64_t width) {
  for (int64_t d = 1; d < width; d *= 2) {
    Value other = NVVM::ShflOp::create(
        b, loc, b.getF32Type(), i32c(b, loc, -1), v, i32c(b, loc, d),
        i32c(b, loc, 0x1f),
        NVVM::ShflKindAttr::get(b.getContext(), NVVM::ShflKind::bfly),
        UnitAttr());
    v = LLVM::MaxNumOp::create(b, loc, v, other);
  }
  return v;
}

/// |v| if finite, else 0: the values an fp8_block amax is taken over.
Value finiteAbs(OpBuilder &b, Location loc, Value v) {
  Type f32 = b.getF32Type();
  Value a = LLVM::FAbsOp::create(b, loc, v);
  Value inf = LLVM::ConstantOp::create(
      b, loc, f32, b.getF32FloatAttr(std::numeric_limits<float>::infinity()));
  Value finite =
      LLVM::FCmpOp::create(b, loc, LLVM::FCmpPredicate::olt, a, inf);
  return LLVM::SelectOp::create(
      b, loc, finite, a,
      LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.0f)));
}

/// The fp8_block scale of a block whose amax is `amax` and the factor its
/// values are multiplied by: a = max(amax, 1e-4), {a / 448, 448 / a}, as
/// the reference's quantize computes them.
std::pair<Value, Value> fp8BlockScale(OpBuilder &b, Location loc, Value amax) {
  Type f32 = b.getF32Type();
  auto f32c = [&](float v) -> Value {
    return LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };
  Value a = LLVM::MaxNumOp::create(b, loc, amax, f32c(1e-4f));
  return {LLVM::FDivOp::create(b, loc, a, f32c(448.0f)),
          LLVM::FDivOp::create(b, loc, f32c(448.0f), a)};
}

/// Two f32 values rounded to e4m3 with saturation (NaN stays NaN), `lo` in
/// the low byte of the i16.
Value toE4m3x2(OpBuilder &b, Location loc, Value lo, Value hi) {
  return LLVM::InlineAsmOp::create(
             b, loc, TypeRange{b.getI16Type()}, ValueRange{hi, lo},
             "cvt.rn.satfinite.e4m3x2.f32 $0, $1, $2;", "=h,f,f",
             /*has_side_effects=*/false, /*is_align_stack=*/false,
             LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

/// Two e4m3 values (the low and high bytes of `pair`, i16) times the f32
/// `scale`, as a bf16x2 pair (i32): cvt.rn.f16x2.e4m3x2 (exact, NaN kept),
/// then in f32 the product (exact: a power of two), rounded to bf16 (exact
/// but for bf16 subnormals: e4m3 has 4 significant bits).
Value e4m3PairTimesScale(OpBuilder &b, Location loc, Value pair, Value scale) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  Value halves = LLVM::InlineAsmOp::create(
                     b, loc, TypeRange{i32}, ValueRange{pair},
                     "cvt.rn.f16x2.e4m3x2 $0, $1;", "=r,h",
                     /*has_side_effects=*/false, /*is_align_stack=*/false,
                     LLVM::TailCallKind::None, LLVM::AsmDialectAttr(),
                     ArrayAttr())
                     .getResult(0);
  auto f32x2 = VectorType::get({2}, f32);
  Value wide = LLVM::FPExtOp::create(
      b, loc, f32x2,
      LLVM::BitcastOp::create(b, loc, VectorType::get({2}, b.getF16Type()),
                              halves));
  Value scales = LLVM::InsertElementOp::create(
      b, loc,
      LLVM::InsertElementOp::create(b, loc, LLVM::UndefOp::create(b, loc, f32x2),
                                    scale, i32c(b, loc, 0)),
      scale, i32c(b, loc, 1));
  return LLVM::BitcastOp::create(
      b, loc, i32,
      LLVM::FPTruncOp::create(b, loc, VectorType::get({2}, b.getBF16Type()),
                              LLVM::FMulOp::create(b, loc, wide, scales)));
}

/// MXFP8 quantization of one 1x32 block held as `vals` (f32, an even
/// count) by each of `width` consecutive lanes, as moe.quantize with mxfp8
/// computes it: the block's shared exponent e (i32) = ceil(log2(amax /
/// 448)) over the block's finite |v| (the f32 quotient; -127 for a zero
/// block; in [-127, 127]: computeUE8M0Exponent), 2^e (f32), and each
/// value times 2^-e rounded to e4m3 with saturation (NaN stays NaN), as
/// e4m3 pairs (i16 each). With width > 1 every lane of the warp must run
/// it (shuffles).
struct Mxfp8Block {
  Value exponent, scale;
  SmallVector<Value> pairs;
  /// The block's UE8M0 scale byte, e + 127 (i8).
  Value scaleByte(OpBuilder &b, Location loc) const {
    return LLVM::TruncOp::create(
        b, loc, b.getI8Type(),
        LLVM::AddOp::create(b, loc, exponent, i32c(b, loc, 127)));
  }
};
Mxfp8Block mxfp8Quantize(OpBuilder &b, Location loc, ArrayRef<Value> vals,
                         int64_t width) {
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  auto c = [&](int64_t v) { return i32c(b, loc, v); };
  Value amax = LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.0f));
  for (Value v : vals)
    amax = LLVM::MaxNumOp::create(b, loc, amax, finiteAbs(b, loc, v));
  amax = maxOverLanes(b, loc, amax, width);
  // ceil(log2(q)) from the bits of q = amax / 448 (q >= 0, finite): a
  // normal q = 1.f * 2^(E - 127) gives E - 127, plus 1 unless f = 0; a
  // subnormal (E = 0) at most 2^-126, which clamps to -126 above 2^-127,
  // else to -127 (and q = 0 to -127).
  Value q = LLVM::FDivOp::create(
      b, loc, amax, LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(448.0f)));
  Value bits = LLVM::BitcastOp::create(b, loc, i32, q);
  Value exp = LLVM::LShrOp::create(b, loc, bits, c(23));
  Value frac = LLVM::AndOp::create(b, loc, bits, c(0x7FFFFF));
  auto cmp = [&](LLVM::ICmpPredicate p, Value x, Value y) {
    return LLVM::ICmpOp::create(b, loc, p, x, y);
  };
  Value normal = LLVM::AddOp::create(
      b, loc, LLVM::SubOp::create(b, loc, exp, c(127)),
      LLVM::ZExtOp::create(b, loc, i32,
                           cmp(LLVM::ICmpPredicate::ne, frac, c(0))));
  Value sub = LLVM::SelectOp::create(
      b, loc, cmp(LLVM::ICmpPredicate::ugt, frac, c(0x400000)), c(-126),
      c(-127));
  Value e = LLVM::SelectOp::create(b, loc, cmp(LLVM::ICmpPredicate::eq, exp, c(0)),
                                   sub, normal);
  e = LLVM::SMinOp::create(b, loc, e, c(127));
  // 2^e and 2^-e in f32 (2^-127 is the subnormal 0x00400000).
  auto powerOfTwo = [&](Value x) {
    Value field = LLVM::ShlOp::create(b, loc, LLVM::AddOp::create(b, loc, x, c(127)),
                                      c(23));
    return LLVM::BitcastOp::create(
        b, loc, f32,
        LLVM::SelectOp::create(b, loc, cmp(LLVM::ICmpPredicate::eq, x, c(-127)),
                               c(0x00400000), field));
  };
  Mxfp8Block block;
  block.exponent = e;
  block.scale = powerOfTwo(e);
  Value inv = powerOfTwo(LLVM::SubOp::create(b, loc, c(0), e));
  for (size_t i = 0; i + 1 < vals.size(); i += 2)
    block.pairs.push_back(
        toE4m3x2(b, loc, LLVM::FMulOp::create(b, loc, vals[i], inv),
                 LLVM::FMulOp::create(b, loc, vals[i + 1], inv)));
  return block;
}

/// Each 1x32 block rounded to its MXFP8 value, as moe.quantize with mxfp8
/// then moe.dequantize compute it (mxfp8Quantize, each e4m3 pair times
/// 2^e), as bf16 pairs (i32; exact but for bf16 subnormals).
SmallVector<Value> mxfp8RoundPairs(OpBuilder &b, Location loc,
                                   ArrayRef<Value> vals, int64_t width) {
  Mxfp8Block block = mxfp8Quantize(b, loc, vals, width);
  SmallVector<Value> pairs;
  for (Value pair : block.pairs)
    pairs.push_back(e4m3PairTimesScale(b, loc, pair, block.scale));
  return pairs;
}

/// moek.mma_fp4's K order (`permute_k`): the stored 4-byte word of logical
/// word L (i32, 0..31) of a 128-value block, L = 8q + 2s + e -> 8s + 4e + q:
/// the values thread q of a quad feeds K step s come from one 32-value
/// block, so it expands them from one 16-byte load.
Value permutedKWord(OpBuilder &b, Location loc, Value l) {
  auto c = [&](int64_t v) { return i32c(b, loc, v); };
  Value q = LLVM::LShrOp::create(b, loc, l, c(3));
  Value s = LLVM::AndOp::create(b, loc, LLVM::LShrOp::create(b, loc, l, c(1)),
                                c(3));
  Value e = LLVM::AndOp::create(b, loc, l, c(1));
  return LLVM::AddOp::create(
      b, loc,
      LLVM::AddOp::create(b, loc, LLVM::ShlOp::create(b, loc, s, c(3)),
                          LLVM::ShlOp::create(b, loc, e, c(2))),
      q);
}

/// moek.dispatch's quantizing copy of one token row `src` (bf16, `h`
/// values, a multiple of 128) into rows `dstRows` (indices) of `rows`
/// (e4m3) and `scales` (f32, h / 128 per row), by one warp: each lane
/// takes 8 values (16 bytes) of a 256-value step (two 1x128 blocks, one per
/// half-warp), kCopyUnroll steps at a time (kMultiCopyUnroll with several
/// destinations), quantizes them once and stores them into each
/// destination row (with `routed`, only those whose flag is set). With
/// `tokenRow` the values go once into that row of `rows` (a row per token,
/// for moek.gather_rows) and only the scales into each destination row.
/// The trip count is the same for every lane (the block amax is a
/// shuffle over the half-warp); a block past the row end (h an odd
/// multiple of 128) reads the row's last 8 values and stores nothing.
/// `scalesStride` (non-zero): the scales block-major, row r's of block b
/// at scales[b * scalesStride + r] (moek.dispatch {scales_stride}).
void copyQuantized(OpBuilder &b, Location loc, Value src, Value rows,
                   Value scales, ArrayRef<Value> dstRows, Value lane, int64_t h,
                   const std::map<int64_t, Value> &constants, bool permuteK,
                   ArrayRef<Value> routed = {}, Value tokenRow = {},
                   int64_t scalesStride = 0) {
  auto idx = [&](int64_t v) -> Value { return constants.at(v); };
  Type f32 = b.getF32Type(), bf16 = b.getBF16Type();
  auto vec8 = VectorType::get({8}, bf16);
  SmallVector<Value> dstRow, scaleRow;
  for (Value row : dstRows) {
    if (!tokenRow)
      dstRow.push_back(
          elementAddress(b, loc, rows, b.getI8Type(),
                         arith::MulIOp::create(b, loc, row, idx(h))));
    scaleRow.push_back(elementAddress(
        b, loc, scales, f32,
        scalesStride ? row : arith::MulIOp::create(b, loc, row, idx(h / 128))));
  }
  // The values once, into the token's row.
  Value tokenDst =
      tokenRow ? elementAddress(b, loc, rows, b.getI8Type(),
                                arith::MulIOp::create(b, loc, tokenRow, idx(h)))
               : Value();
  Value laneCol = arith::MulIOp::create(b, loc, lane, idx(8));
  Value firstOfBlock = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::eq,
      arith::RemUIOp::create(b, loc, lane, constants.at(16)), idx(0));
  int64_t unroll = dstRows.size() > 1 ? kMultiCopyUnroll : kCopyUnroll;
  auto loop = scf::ForOp::create(
      b, loc, idx(0), idx(h), constants.at(256 * unroll), ValueRange{},
      [&](OpBuilder &pb, Location pl, Value c0, ValueRange) {
        SmallVector<Value> cols, vals, inRow;
        for (int64_t u = 0; u < unroll; ++u) {
          Value c = arith::AddIOp::create(
              pb, pl, arith::AddIOp::create(pb, pl, c0, idx(256 * u)), laneCol);
          cols.push_back(c);
          inRow.push_back(
              arith::CmpIOp::create(pb, pl, arith::CmpIPredicate::ult, c, idx(h)));
          Value safe = arith::MinUIOp::create(pb, pl, c, idx(h - 8));
          vals.push_back(LLVM::LoadOp::create(
              pb, pl, vec8, elementAddress(pb, pl, src, bf16, safe), 16));
        }
        for (int64_t u = 0; u < unroll; ++u) {
          SmallVector<Value> v;
          Value amax =
              LLVM::ConstantOp::create(pb, pl, f32, pb.getF32FloatAttr(0.0f));
          for (int64_t i = 0; i < 8; ++i) {
            v.push_back(LLVM::FPExtOp::create(
                pb, pl, f32,
                LLVM::ExtractElementOp::create(pb, pl, vals[u],
                                               i32c(pb, pl, i))));
            amax = LLVM::MaxNumOp::create(pb, pl, amax, finiteAbs(pb, pl, v[i]));
          }
          amax = maxOverLanes(pb, pl, amax, 16);
          auto [scale, inv] = fp8BlockScale(pb, pl, amax);
          auto vec4 = VectorType::get({4}, pb.getI16Type());
          Value packed = LLVM::UndefOp::create(pb, pl, vec4);
          for (int64_t i = 0; i < 4; ++i)
            packed = LLVM::InsertElementOp::create(
                pb, pl, packed,
                toE4m3x2(pb, pl, LLVM::FMulOp::create(pb, pl, v[2 * i], inv),
                         LLVM::FMulOp::create(pb, pl, v[2 * i + 1], inv)),
                i32c(pb, pl, i));
          auto st = scf::IfOp::create(pb, pl, inRow[u], false);
          // The 8 values into row `row` (an address), in K order or, with
          // `permuteK`, in moek.mma_fp4's.
          auto storeValues = [&](OpBuilder &sb, Value row) {
            if (!permuteK) {
              LLVM::StoreOp::create(
                  sb, pl, packed,
                  elementAddress(sb, pl, row, sb.getI8Type(), cols[u]), 8);
              return;
            }
            // Logical words 2p and 2p + 1 of the 128-value block, p =
            // (c % 128) / 8: stored words permutedKWord(2p), + 4.
            Value pair = LLVM::BitcastOp::create(
                sb, pl, VectorType::get({2}, sb.getI32Type()), packed);
            Value c = toI32(sb, pl, cols[u]);
            Value base = LLVM::AndOp::create(sb, pl, c, i32c(sb, pl, ~127));
            Value word = permutedKWord(
                sb, pl,
                LLVM::LShrOp::create(
                    sb, pl, LLVM::AndOp::create(sb, pl, c, i32c(sb, pl, 127)),
                    i32c(sb, pl, 2)));
            for (int64_t e = 0; e < 2; ++e) {
              Value off = LLVM::AddOp::create(
                  sb, pl, base,
                  LLVM::ShlOp::create(
                      sb, pl,
                      LLVM::AddOp::create(sb, pl, word, i32c(sb, pl, 4 * e)),
                      i32c(sb, pl, 2)));
              LLVM::StoreOp::create(
                  sb, pl,
                  LLVM::ExtractElementOp::create(sb, pl, pair, i32c(sb, pl, e)),
                  gepBytes(sb, pl, row,
                           LLVM::ZExtOp::create(sb, pl, sb.getI64Type(), off)),
                  4);
            }
          };
          if (tokenDst) {
            OpBuilder sb = OpBuilder::atBlockTerminator(st.thenBlock());
            storeValues(sb, tokenDst);
          }
          for (auto [d, scaleDst] : llvm::enumerate(scaleRow)) {
            OpBuilder sb = OpBuilder::atBlockTerminator(st.thenBlock());
            if (!routed.empty()) {
              auto r = scf::IfOp::create(sb, pl, routed[d], false);
              sb = OpBuilder::atBlockTerminator(r.thenBlock());
            }
            // (With the token's row: only the scales per row.)
            if (!tokenDst)
              storeValues(sb, dstRow[d]);
            auto sc = scf::IfOp::create(sb, pl, firstOfBlock, false);
            OpBuilder scb = OpBuilder::atBlockTerminator(sc.thenBlock());
            Value block = arith::DivUIOp::create(scb, pl, cols[u], idx(128));
            if (scalesStride)
              block = arith::MulIOp::create(
                  scb, pl, block,
                  arith::ConstantIndexOp::create(scb, pl, scalesStride));
            LLVM::StoreOp::create(scb, pl, scale,
                                  elementAddress(scb, pl, scaleDst, f32, block),
                                  4);
          }
        }
        scf::YieldOp::create(pb, pl);
      });
  // Several destinations: a rolled loop (each step already holds k
  // stores a piece).
  if (dstRows.size() > 1)
    loop->setAttr("loop_annotation", noUnrollAnnotation(b.getContext()));
}

/// Copies the bf16 row `src` (h elements) to `dst` with the warp: 16-byte
/// pieces, kCopyUnroll per lane and step, all loaded before any is stored
/// (a load's latency is paid once per step, not per piece); a piece past
/// the row end loads the row's last piece again and is not stored.
/// With `mxRound` (h a multiple of 32), each 1x32 block (a group of four
/// lanes' pieces) rounded to its MXFP8 value (mxfp8RoundPairs); pieces past
/// the row end take part in the shuffles and are not stored. With
/// `mxScales` too, quantized instead: `dst` is the row's e4m3 bytes (8 a
/// piece) and the block's first lane stores its UE8M0 scale, e + 127, at
/// `mxScales[c / 32]`.
void copyRowWarp(OpBuilder &b, Location l, Value src, Value dst, Value lane,
                 int64_t h, const std::map<int64_t, Value> &constants,
                 bool mxRound = false, Value mxScales = Value()) {
  auto idx = [&](int64_t v) -> Value { return constants.at(v); };
  auto vec = VectorType::get({4}, b.getI32Type());
  // With mxRound every lane runs every step (the shuffles need the whole
  // warp: a lane whose first piece lies past a short row, h < 256, would
  // skip the loop), its column added inside.
  Value laneCol = arith::MulIOp::create(b, l, lane, idx(8));
  scf::ForOp::create(
      b, l, mxRound ? idx(0) : laneCol, idx(h), idx(256 * kCopyUnroll),
      ValueRange{},
      [&](OpBuilder &pb, Location pl, Value c, ValueRange) {
        if (mxRound)
          c = arith::AddIOp::create(pb, pl, c, laneCol);
        SmallVector<Value> at, vals, inRow;
        for (int64_t u = 0; u < kCopyUnroll; ++u) {
          Value cu = arith::AddIOp::create(pb, pl, c, idx(256 * u));
          inRow.push_back(arith::CmpIOp::create(
              pb, pl, arith::CmpIPredicate::ult, cu, idx(h)));
          at.push_back(cu);
          Value safe = arith::MinUIOp::create(pb, pl, cu, idx(h - 8));
          vals.push_back(LLVM::LoadOp::create(
              pb, pl, vec, elementAddress(pb, pl, src, pb.getBF16Type(), safe),
              16));
        }
        for (int64_t u = 0; u < kCopyUnroll; ++u) {
          // What this lane stores: the 8 bf16 values as loaded, rounded to
          // MXFP8 (bf16 pairs), or quantized (e4m3 pairs and the block's
          // UE8M0 byte, stored by the block's first lane).
          Value piece = vals[u];
          Type elem = pb.getBF16Type();
          int64_t align = 16;
          std::optional<Mxfp8Block> block;
          if (mxRound) {
            Value halves = LLVM::BitcastOp::create(
                pb, pl, VectorType::get({8}, pb.getBF16Type()), piece);
            SmallVector<Value> wide;
            for (int64_t i = 0; i < 8; ++i)
              wide.push_back(LLVM::FPExtOp::create(
                  pb, pl, pb.getF32Type(),
                  LLVM::ExtractElementOp::create(pb, pl, halves,
                                                 i32c(pb, pl, i))));
            SmallVector<Value> pairs;
            if (mxScales) {
              block = mxfp8Quantize(pb, pl, wide, 4);
              pairs = block->pairs;
              piece = LLVM::UndefOp::create(
                  pb, pl, VectorType::get({4}, pb.getI16Type()));
              elem = pb.getI8Type();
              align = 8;
            } else {
              pairs = mxfp8RoundPairs(pb, pl, wide, 4);
              piece = LLVM::UndefOp::create(pb, pl, vec);
            }
            for (auto [i, pair] : llvm::enumerate(pairs))
              piece = LLVM::InsertElementOp::create(pb, pl, piece, pair,
                                                    i32c(pb, pl, i));
          }
          auto st = scf::IfOp::create(pb, pl, inRow[u], false);
          OpBuilder sb = OpBuilder::atBlockTerminator(st.thenBlock());
          LLVM::StoreOp::create(sb, pl, piece,
                                elementAddress(sb, pl, dst, elem, at[u]),
                                align);
          if (!block)
            continue;
          Value firstLane = arith::CmpIOp::create(
              sb, pl, arith::CmpIPredicate::eq,
              arith::RemUIOp::create(sb, pl, lane, idx(4)), idx(0));
          auto sc = scf::IfOp::create(sb, pl, firstLane, false);
          OpBuilder scb = OpBuilder::atBlockTerminator(sc.thenBlock());
          LLVM::StoreOp::create(
              scb, pl, block->scaleByte(scb, pl),
              elementAddress(scb, pl, mxScales, scb.getI8Type(),
                             arith::DivUIOp::create(scb, pl, at[u], idx(32))),
              1);
        }
        scf::YieldOp::create(pb, pl);
      });
}

/// The next row of expert `id` (i32): its start in the shared `table` plus
/// the expert's `cursor`, which counts the rows handed out (an atomic).
Value takeRow(OpBuilder &b, Location loc, Value cursor, Value table,
              Value id) {
  Type i32 = b.getI32Type();
  Value cur = LLVM::GEPOp::create(b, loc, cursor.getType(), i32, cursor,
                                  ValueRange{id});
  Value n = LLVM::AtomicRMWOp::create(b, loc, LLVM::AtomicBinOp::add, cur,
                                      i32c(b, loc, 1),
                                      LLVM::AtomicOrdering::monotonic);
  Value begin = LLVM::LoadOp::create(
      b, loc, i32,
      LLVM::GEPOp::create(b, loc, table.getType(), i32, table,
                          ValueRange{id}));
  return LLVM::AddOp::create(b, loc, begin, n);
}

/// The end of a dispatch with readiness instead of its last grid barrier:
/// thread 0 (`isThread0`) waits until CTA 0 has published `offsets` by the
/// u32 `flag` (acquire), then the CTA barrier makes them visible to all.
void awaitOffsets(OpBuilder &b, Location loc, Value isThread0, Value flag) {
  auto ifOp = scf::IfOp::create(b, loc, isThread0, false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    spinUntilAtLeast(b, loc, flag, i32c(b, loc, 1));
  }
  NVVM::Barrier0Op::create(b, loc);
}

/// The start both dispatches share: each thread's place in the grid, the
/// slots (T * top_k), and step 1, counting each expert's slots.
struct SlotWalk {
  Value tid, ntid, bid, grid, tokens, slots, gtid, gthreads, ids;
  int64_t experts;

  SlotWalk(OpBuilder &b, Location loc, Value tokens, Value topK, Value ids,
           int64_t experts)
      : tokens(tokens), ids(ids), experts(experts) {
    Type i32 = b.getI32Type();
    tid = toIndex(b, loc, threadIdX(b, loc));
    ntid = toIndex(b, loc, NVVM::BlockDimXOp::create(b, loc, i32));
    bid = toIndex(b, loc, NVVM::BlockIdXOp::create(b, loc, i32));
    grid = toIndex(b, loc, NVVM::GridDimXOp::create(b, loc, i32));
    slots = arith::MulIOp::create(b, loc, tokens, topK);
    gtid = arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, bid, ntid),
                                 tid);
    gthreads = arith::MulIOp::create(b, loc, grid, ntid);
  }

  /// ids[s] as an i32, and whether it names an expert (unsigned < E also
  /// rejects negative ids).
  std::pair<Value, Value> expertOf(OpBuilder &b, Location loc, Value s) const {
    Type i32 = b.getI32Type();
    Value id =
        LLVM::LoadOp::create(b, loc, i32, elementAddress(b, loc, ids, i32, s));
    Value valid = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, id,
                                       i32c(b, loc, experts));
    return {id, valid};
  }

  /// 1. Each expert's slots counted into `counts` (u32 atomics), then grid
  /// barrier `phase`. Returns the block size (i32) for later barriers.
  Value count(OpBuilder &b, Location loc, Value counts, Value barrier,
              int64_t phase) const {
    Type i32 = b.getI32Type();
    scf::ForOp::create(
        b, loc, gtid, slots, gthreads, ValueRange{},
        [&](OpBuilder &fb, Location l, Value s, ValueRange) {
          auto [id, valid] = expertOf(fb, l, s);
          auto ifOp = scf::IfOp::create(fb, l, valid, false);
          OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          Value counter = LLVM::GEPOp::create(tb, l, counts.getType(), i32,
                                              counts, ValueRange{id});
          LLVM::AtomicRMWOp::create(tb, l, LLVM::AtomicBinOp::add, counter,
                                    i32c(tb, l, 1),
                                    LLVM::AtomicOrdering::monotonic);
          scf::YieldOp::create(fb, l);
        });
    Value ntid32 = NVVM::BlockDimXOp::create(b, loc, i32);
    gridBarrier(b, loc, barrier, phase, 0, ntid32, 0);
    return ntid32;
  }

  /// Slot `s` (valid where `inRange`), placed by its lane: the slot's
  /// expert loaded; if it names one, `place` (its `numPlaced` i32 results),
  /// else -1 (and zeros) and, in range, -1 into `slotRows[s]` (a masked
  /// slot). Returns the slot's expert (i32), whether it was routed (i1)
  /// and the placed values.
  std::tuple<Value, Value, SmallVector<Value>> placeSlot(
      OpBuilder &fb, Location l, Value s, Value inRange, Value slotRows,
      unsigned numPlaced,
      function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value)>
          place) const {
    Type i32 = fb.getI32Type();
    auto load = scf::IfOp::create(fb, l, TypeRange{i32, fb.getI1Type()},
                                  inRange, true);
    {
      OpBuilder tb = OpBuilder::atBlockEnd(load.thenBlock());
      auto [id, valid] = expertOf(tb, l, s);
      scf::YieldOp::create(tb, l, ValueRange{id, valid});
    }
    {
      OpBuilder eb = OpBuilder::atBlockEnd(load.elseBlock());
      scf::YieldOp::create(
          eb, l, ValueRange{i32c(eb, l, -1),
                            arith::ConstantIntOp::create(eb, l, 0, 1)});
    }
    Value id = load.getResult(0), valid = load.getResult(1);
    SmallVector<Type> types(numPlaced, i32);
    auto ifOp = scf::IfOp::create(fb, l, types, valid, true);
    {
      OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
      scf::YieldOp::create(tb, l, place(tb, l, s, id));
    }
    {
      OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
      Value masked = i32c(eb, l, -1);
      auto m = scf::IfOp::create(eb, l, inRange, false);
      OpBuilder mb = OpBuilder::atBlockTerminator(m.thenBlock());
      LLVM::StoreOp::create(mb, l, masked,
                            elementAddress(mb, l, slotRows, i32, s));
      SmallVector<Value> none{masked};
      for (unsigned i = 1; i < numPlaced; ++i)
        none.push_back(i32c(eb, l, 0));
      scf::YieldOp::create(eb, l, none);
    }
    return {id, valid, SmallVector<Value>(ifOp.getResults())};
  }

  /// eachSlot's walk by tokens (top_k `k` at most 32): warp w takes tokens
  /// w, w + W, ... (W warps in the grid); lane l < k places the token's
  /// slot l as eachSlot's lanes do (`place`, or -1 into `slotRows` for a
  /// masked slot); then `copy` copies the token's bf16 row in `x` once into
  /// the rows of all its routed slots: it gets the token, and for each of
  /// the k slots whether it was routed and its placed row (shuffled from
  /// its lane). A token's row is read and quantized once instead of k
  /// times. (Batches of 32 / k tokens a warp, as eachSlot's 32 slots,
  /// changed the kernel's code enough that ptxas spilled 8 bytes in the
  /// 128-row FP8 kernel at E = 32, H = 7168.)
  void eachToken(
      OpBuilder &b, Location loc, Value slotRows, Value x, int64_t k, int64_t h,
      const std::map<int64_t, Value> &constants,
      function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value)>
          place,
      function_ref<void(OpBuilder &, Location, Value, Value, Value,
                        ArrayRef<Value>, ArrayRef<Value>)>
          copy) const {
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Type i32 = b.getI32Type();
    // A %tid.x read of its own: a lane index shared with the later phases
    // stayed live across the 128-row FP8 kernel's K loops (a spill).
    Value lane = arith::RemUIOp::create(
        b, loc, toIndex(b, loc, freshThreadIdX(b, loc)), idx(32));
    Value gwarp = arith::DivUIOp::create(b, loc, gtid, idx(32));
    Value nwarps = arith::DivUIOp::create(b, loc, gthreads, idx(32));
    scf::ForOp::create(
        b, loc, gwarp, tokens, nwarps, ValueRange{},
        [&](OpBuilder &fb, Location l, Value token, ValueRange) {
          Value s = arith::AddIOp::create(
              fb, l, arith::MulIOp::create(fb, l, token, idx(k)), lane);
          Value inRange = arith::CmpIOp::create(
              fb, l, arith::CmpIPredicate::ult, lane, idx(k));
          auto [id, valid, placedValues] =
              placeSlot(fb, l, s, inRange, slotRows, 1, place);
          (void)id;
          Value validI32 = arith::ExtUIOp::create(fb, l, i32, valid);
          Value placed = placedValues[0];
          SmallVector<Value> routed, rows;
          for (int64_t i = 0; i < k; ++i) {
            Value from = i32c(fb, l, i);
            routed.push_back(arith::CmpIOp::create(
                fb, l, arith::CmpIPredicate::ne,
                shuffleFrom(fb, l, validI32, from), i32c(fb, l, 0)));
            rows.push_back(shuffleFrom(fb, l, placed, from));
          }
          Value src = elementAddress(
              fb, l, x, fb.getBF16Type(),
              arith::MulIOp::create(fb, l, token, idx(h)));
          copy(fb, l, lane, token, src, routed, rows);
          scf::YieldOp::create(fb, l);
        });
  }

  /// Warp w takes slots w, w + W, w + 2W, ... (W warps in the grid), 32
  /// at a time: lane l runs `place` for the batch's slot l if it is routed
  /// to an expert (it returns `numPlaced` i32 values), or stores -1 into
  /// `slotRows[s]` for a masked slot, so the warp's placements (a load of
  /// the slot's expert, an atomic on its cursor, the row's metadata) are in
  /// flight together; then, one routed slot after the other, every lane
  /// runs `copy` with the token's bf16 row in `x` and that slot's placed
  /// values (shuffled from its lane). (One slot at a time, lane 0 placing
  /// it, spent two or three dependent round trips to memory on each row
  /// before its copy.) `afterBatch`, if given, publishes the batch: every
  /// lane's copies are fenced to the async proxy, the warp synchronizes,
  /// then it runs on each lane whose slot was routed, with the slot's
  /// expert and placed values (a release there covers the warp's rows).
  void eachSlot(
      OpBuilder &b, Location loc, Value slotRows, Value x, int64_t k,
      int64_t h, const std::map<int64_t, Value> &constants, unsigned numPlaced,
      function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value)>
          place,
      function_ref<void(OpBuilder &, Location, Value, Value, ArrayRef<Value>)>
          copy,
      function_ref<void(OpBuilder &, Location, Value, ValueRange)>
          afterBatch = nullptr) const {
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Type i32 = b.getI32Type();
    Value lane = arith::RemUIOp::create(b, loc, tid, idx(32));
    Value gwarp = arith::DivUIOp::create(b, loc, gtid, idx(32));
    Value nwarps = arith::DivUIOp::create(b, loc, gthreads, idx(32));
    Value batch = arith::MulIOp::create(b, loc, nwarps, idx(32));
    Value laneSlot = arith::MulIOp::create(b, loc, lane, nwarps);
    scf::ForOp::create(
        b, loc, gwarp, slots, batch, ValueRange{},
        [&](OpBuilder &fb, Location l, Value s0, ValueRange) {
          Value s = arith::AddIOp::create(fb, l, s0, laneSlot);
          Value inRange =
              arith::CmpIOp::create(fb, l, arith::CmpIPredicate::ult, s, slots);
          Value id, valid;
          SmallVector<Value> placedValues;
          std::tie(id, valid, placedValues) =
              placeSlot(fb, l, s, inRange, slotRows, numPlaced, place);
          // The batch's slots: up to 32, s0 + j W below `slots`.
          Value validI32 = arith::ExtUIOp::create(fb, l, i32, valid);
          Value count = arith::MinUIOp::create(
              fb, l, idx(32),
              arith::CeilDivUIOp::create(
                  fb, l, arith::SubIOp::create(fb, l, slots, s0), nwarps));
          scf::ForOp::create(
              fb, l, idx(0), count, idx(1), ValueRange{},
              [&](OpBuilder &jb, Location jl, Value j, ValueRange) {
                Value from = toI32(jb, jl, j);
                Value routed = arith::CmpIOp::create(
                    jb, jl, arith::CmpIPredicate::ne,
                    shuffleFrom(jb, jl, validI32, from), i32c(jb, jl, 0));
                SmallVector<Value> placed;
                for (Value v : placedValues)
                  placed.push_back(shuffleFrom(jb, jl, v, from));
                auto copyIf = scf::IfOp::create(jb, jl, routed, false);
                OpBuilder cb = OpBuilder::atBlockTerminator(copyIf.thenBlock());
                Value slot = arith::AddIOp::create(
                    cb, jl, s0, arith::MulIOp::create(cb, jl, j, nwarps));
                Value token = arith::DivUIOp::create(cb, jl, slot, idx(k));
                Value src = elementAddress(
                    cb, jl, x, cb.getBF16Type(),
                    arith::MulIOp::create(cb, jl, token, idx(h)));
                copy(cb, jl, lane, src, placed);
                scf::YieldOp::create(jb, jl);
              });
          if (afterBatch) {
            NVVM::FenceProxyOp::create(
                fb, l,
                NVVM::ProxyKindAttr::get(fb.getContext(),
                                         NVVM::ProxyKind::async_global),
                NVVM::SharedSpaceAttr());
            NVVM::SyncWarpOp::create(fb, l, i32c(fb, l, -1));
            auto w = scf::IfOp::create(fb, l, valid, false);
            OpBuilder rb = OpBuilder::atBlockTerminator(w.thenBlock());
            afterBatch(rb, l, id, placedValues);
          }
          scf::YieldOp::create(fb, l);
        });
  }
};

struct DispatchLowering : OpConversionPattern<DispatchOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DispatchOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto tableAttr = op->getAttrOfType<FlatSymbolRefAttr>(kDispatchTableAttr);
    if (!tableAttr)
      return rewriter.notifyMatchFailure(op, "shared memory not planned");
    Type i32 = b.getI32Type();
    int64_t e = op.getNumExpertsAttr().getInt(), k = op.getTopKAttr().getInt(),
            h = op.getHiddenAttr().getInt(), phase = op.getPhaseAttr().getInt();
    // Every constant up front: ops that `b` creates while a nested builder
    // fills a loop would land after that loop.
    std::map<int64_t, Value> constants;
    int64_t blockRows = op.getBlockRowsAttr().getInt();
    for (int64_t v : {int64_t(0), int64_t(1), int64_t(4), int64_t(8),
                      int64_t(16), int64_t(32), int64_t(128), int64_t(256), k,
                      h, e, h - 8, h / 128, h / 32, blockRows})
      constants[v] = arith::ConstantIndexOp::create(b, loc, v);
    for (int64_t u = 1; u <= kCopyUnroll; ++u)
      constants.try_emplace(256 * u, arith::ConstantIndexOp::create(b, loc, 256 * u));
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    SlotWalk walk(b, loc, a.getTokens(), idx(k), a.getIds(), e);
    Value tid = walk.tid, bid = walk.bid;
    Value ntid32 = walk.count(b, loc, a.getCounts(), a.getBarrier(), phase);

    // 2. Thread 0: the prefix sums into this CTA's shared table (CTA 0 also
    // into `offsets` for the tile scheduler).
    Value table = LLVM::AddressOfOp::create(b, loc, ptrTy(ctx, 3),
                                            tableAttr.getValue());
    {
      Value isFirst = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            tid, idx(0));
      auto ifOp = scf::IfOp::create(b, loc, isFirst, false);
      OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      Value isCta0 = arith::CmpIOp::create(tb, loc, arith::CmpIPredicate::eq,
                                           bid, idx(0));
      auto writeBoth = [&](OpBuilder &wb, Value i, Value v) {
        storeTable(wb, loc, table, i, v);
        auto w = scf::IfOp::create(wb, loc, isCta0, false);
        OpBuilder gb = OpBuilder::atBlockTerminator(w.thenBlock());
        LLVM::StoreOp::create(gb, loc, toI32(gb, loc, v),
                              elementAddress(gb, loc, a.getOffsets(), i32, i));
      };
      auto scan = scf::ForOp::create(
          tb, loc, idx(0), idx(e), idx(1), ValueRange{idx(0)},
          [&](OpBuilder &fb, Location l, Value ex, ValueRange acc) {
            writeBoth(fb, ex, acc[0]);
            Value count = loadI32Volatile(
                fb, l, elementAddress(fb, l, a.getCounts(), i32, ex));
            scf::YieldOp::create(
                fb, l,
                ValueRange{arith::AddIOp::create(fb, l, acc[0],
                                                 toIndex(fb, l, count))});
          });
      writeBoth(tb, idx(e), scan.getResult(0));
      // Block-wise readiness: CTA 0 publishes `offsets` (release).
      if (Value flag = a.getOffsetsReady()) {
        auto w = scf::IfOp::create(tb, loc, isCta0, false);
        OpBuilder gb = OpBuilder::atBlockTerminator(w.thenBlock());
        releaseAdd(gb, loc, flag);
      }
    }
    NVVM::Barrier0Op::create(b, loc);

    // Block-wise readiness, after each batch (SlotWalk::eachSlot's
    // afterBatch): each lane whose slot was routed adds 1 (release) to its
    // row's block of B = block_rows rows: offsets[e] / B + (r - offsets[e])
    // / B + e.
    auto signalRows = [&](OpBuilder &rb, Location l, Value id,
                          ValueRange placed) {
      Value begin = loadTable(rb, l, table, toIndex(rb, l, id));
      Value n = arith::SubIOp::create(rb, l, toIndex(rb, l, placed[0]), begin);
      Value block = arith::AddIOp::create(
          rb, l,
          arith::AddIOp::create(
              rb, l, arith::DivUIOp::create(rb, l, begin, idx(blockRows)),
              arith::DivUIOp::create(rb, l, n, idx(blockRows))),
          toIndex(rb, l, id));
      releaseAdd(rb, l,
                 elementAddress(rb, l, a.getRowsReady(), i32, block));
    };

    // 3. A lane takes a row of its slot's expert, the warp copies 16-byte
    // pieces of each token's row into it.
    auto place = [&](OpBuilder &tb, Location l, Value s,
                     Value id) -> SmallVector<Value> {
      Value row = takeRow(tb, l, a.getCursor(), table, id);
      LLVM::StoreOp::create(tb, l, row,
                            elementAddress(tb, l, a.getSlotRows(), i32, s));
      Value w = LLVM::LoadOp::create(
          tb, l, tb.getF32Type(),
          elementAddress(tb, l, a.getWeights(), tb.getF32Type(), s));
      LLVM::StoreOp::create(
          tb, l, w,
          elementAddress(tb, l, a.getRowWeights(), tb.getF32Type(),
                         toIndex(tb, l, row)));
      return {row};
    };
    using PlaceFn =
        function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value)>;
    // Rows gathered by GEMM1 (moek.gather_rows): each placed row records
    // its token.
    auto placeToken = [&](OpBuilder &tb, Location pl, Value slot,
                          Value id) -> SmallVector<Value> {
      SmallVector<Value> row = place(tb, pl, slot, id);
      Value token = toI32(tb, pl, arith::DivUIOp::create(tb, pl, slot, idx(k)));
      LLVM::StoreOp::create(tb, pl, token,
                            elementAddress(tb, pl, a.getRowTokens(), i32,
                                           toIndex(tb, pl, row[0])));
      return row;
    };
    Value rowTokens = a.getRowTokens();
    if (rowTokens && !a.getRowScales()) {
      // bf16 gathered: a thread places a slot and records its row's token;
      // nothing is copied.
      Value always = arith::ConstantIntOp::create(b, loc, 1, 1);
      scf::ForOp::create(
          b, loc, walk.gtid, walk.slots, walk.gthreads, ValueRange{},
          [&](OpBuilder &fb, Location l, Value s, ValueRange) {
            walk.placeSlot(fb, l, s, always, a.getSlotRows(), 1, placeToken);
            scf::YieldOp::create(fb, l);
          });
    } else if (rowTokens || (a.getRowScales() && !a.getRowsReady() &&
                             !op.getMxRound() && k >= 4 && k <= 32)) {
      // FP8 rows by tokens (SlotWalk::eachToken): each token's row read
      // and quantized once, stored into its k rows, or, gathered, into the
      // token's row of `rows` with the scales into each routed row's.
      // Measured on an H100 against the slot walk: the FP8 layers with
      // k = 8 1.1-5.6% faster; with k = 2 (Mixtral) 2.3% slower and the
      // bf16 copies (no quantization to save) up to 0.9% slower, so those
      // keep the slot walk unless gathered
      // (bench/results/2026-12-05-session22-h100.md).
      walk.eachToken(b, loc, a.getSlotRows(), a.getX(), k, h, constants,
                     rowTokens ? PlaceFn(placeToken) : PlaceFn(place),
                     [&](OpBuilder &cb, Location l, Value lane, Value token,
                         Value src, ArrayRef<Value> routed,
                         ArrayRef<Value> placed) {
                       SmallVector<Value> rows;
                       for (Value row : placed)
                         rows.push_back(toIndex(cb, l, row));
                       copyQuantized(cb, l, src, a.getRows(), a.getRowScales(),
                                     rows, lane, h, constants, op.getPermuteK(),
                                     routed, rowTokens ? token : Value(),
                                     op.getScalesStrideAttr().getInt());
                     });
    } else {
      // Slots in batches of 32 per warp (SlotWalk::eachSlot).
      walk.eachSlot(
          b, loc, a.getSlotRows(), a.getX(), k, h, constants, 1, place,
          [&](OpBuilder &cb, Location l, Value lane, Value src,
              ArrayRef<Value> placed) {
            Value row = placed[0];
            Value rows = a.getRows();
            Value dst = elementAddress(
                cb, l, rows, cb.getBF16Type(),
                arith::MulIOp::create(cb, l, toIndex(cb, l, row), idx(h)));
            Value scales = a.getRowScales();
            if (scales && op.getMxRound()) {
              // MXFP8: e4m3 rows, a UE8M0 byte per 1x32 block.
              Value r = toIndex(cb, l, row);
              copyRowWarp(
                  cb, l, src,
                  elementAddress(cb, l, rows, cb.getI8Type(),
                                 arith::MulIOp::create(cb, l, r, idx(h))),
                  lane, h, constants, /*mxRound=*/true,
                  elementAddress(cb, l, scales, cb.getI8Type(),
                                 arith::MulIOp::create(cb, l, r, idx(h / 32))));
              return;
            }
            if (scales) {
              copyQuantized(cb, l, src, rows, scales, toIndex(cb, l, row), lane,
                            h, constants, op.getPermuteK(), /*routed=*/{},
                            /*tokenRow=*/Value(),
                            op.getScalesStrideAttr().getInt());
              return;
            }
            copyRowWarp(cb, l, src, dst, lane, h, constants, op.getMxRound());
          },
          a.getRowsReady()
              ? function_ref<void(OpBuilder &, Location, Value, ValueRange)>(
                    signalRows)
              : nullptr);
    }
    if (Value flag = a.getOffsetsReady()) {
      // 4. No second grid barrier: CTA 0's `offsets` (the flag).
      awaitOffsets(b, loc,
                   arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                         tid, idx(0)),
                   flag);
    } else {
      gridBarrier(b, loc, a.getBarrier(), phase + 1, 0, ntid32, 0);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.ep_dispatch (see its description): count, exchange the counts,
/// place, push the rows to their owners, and wait for everyone's rows.
struct EpDispatchLowering : OpConversionPattern<EpDispatchOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EpDispatchOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto tableAttr = op->getAttrOfType<FlatSymbolRefAttr>(kDispatchTableAttr);
    if (!tableAttr)
      return rewriter.notifyMatchFailure(op, "shared memory not planned");
    Type i32 = b.getI32Type(), f32 = b.getF32Type();
    int64_t ranks = op.getRanksAttr().getInt(),
            el = op.getExpertsPerRankAttr().getInt(), e = ranks * el,
            k = op.getTopKAttr().getInt(), h = op.getHiddenAttr().getInt(),
            phase = op.getPhaseAttr().getInt();
    // Every constant up front (see DispatchLowering).
    std::map<int64_t, Value> constants;
    for (int64_t v : {int64_t(0), int64_t(1), int64_t(8), int64_t(16),
                      int64_t(32), int64_t(128), int64_t(256), k, h, e, el,
                      ranks, ranks * e, h - 8, h / 128})
      constants.try_emplace(v, arith::ConstantIndexOp::create(b, loc, v));
    for (int64_t u = 1; u <= kCopyUnroll; ++u)
      constants.try_emplace(256 * u,
                            arith::ConstantIndexOp::create(b, loc, 256 * u));
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Value self = a.getSelf();
    Value selfIdx = toIndex(b, loc, self);
    Value bases = a.getBases();
    Value target = LLVM::MulOp::create(b, loc, a.getEpoch(), i64c(b, loc, ranks));
    Value one64 = i64c(b, loc, 1);
    SlotWalk walk(b, loc, a.getTokens(), idx(k), a.getIds(), e);
    Value tid = walk.tid, ntid = walk.ntid, bid = walk.bid;
    Value isThread0 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, idx(0));
    Value isCta0 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, bid, idx(0));
    // Thread 0 of every CTA waits for `counter` to reach epoch * ranks, then
    // the CTA goes on.
    auto waitAll = [&](Value counter, int64_t waitPhase) {
      auto w = scf::IfOp::create(b, loc, isThread0, false);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(w.thenBlock()->getTerminator());
        remoteWait(b, loc, counter, target, a.getTimeoutNs(), a.getRecord(),
                   self, waitPhase);
      }
      NVVM::Barrier0Op::create(b, loc);
    };
    // Thread 0 of CTA 0 adds 1 to `counter` on every rank.
    auto signalAll = [&](Value counter) {
      Value lead = arith::AndIOp::create(b, loc, isThread0, isCta0);
      auto w = scf::IfOp::create(b, loc, lead, false);
      OpBuilder tb = OpBuilder::atBlockTerminator(w.thenBlock());
      scf::ForOp::create(tb, loc, idx(0), idx(ranks), idx(1), ValueRange{},
                         [&](OpBuilder &fb, Location l, Value r, ValueRange) {
                           remoteAdd(fb, l,
                                     mapPeer(fb, l, counter, toI32(fb, l, r),
                                             bases, self),
                                     one64);
                           scf::YieldOp::create(fb, l);
                         });
    };

    // 1. Count this rank's slots of each global expert.
    Value ntid32 = walk.count(b, loc, a.getCounts(), a.getBarrier(), phase);

    // 2. CTA 0: this rank's counts into row `self` of every rank's matrix,
    // then `counted` on every rank; every CTA waits for all ranks' counts.
    {
      auto w = scf::IfOp::create(b, loc, isCta0, false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(w.thenBlock()->getTerminator());
      scf::ForOp::create(
          b, loc, tid, idx(ranks * e), ntid, ValueRange{},
          [&](OpBuilder &fb, Location l, Value j, ValueRange) {
            Value r = arith::DivUIOp::create(fb, l, j, idx(e));
            Value ex = arith::RemUIOp::create(fb, l, j, idx(e));
            Value count = loadI32Volatile(
                fb, l, elementAddress(fb, l, a.getCounts(), i32, ex));
            Value local = elementAddress(
                fb, l, a.getCountMatrix(), i32,
                arith::AddIOp::create(
                    fb, l, arith::MulIOp::create(fb, l, selfIdx, idx(e)), ex));
            LLVM::StoreOp::create(
                fb, l, count,
                mapPeer(fb, l, local, toI32(fb, l, r), bases, self));
            scf::YieldOp::create(fb, l);
          });
      NVVM::Barrier0Op::create(b, loc);
    }
    signalAll(a.getCounted());
    waitAll(a.getCounted(), 1);

    // 3. Thread 0 of each CTA: where this rank's rows of each expert start
    // on its owner (the expert's place among the owner's experts, then the
    // rows of the ranks before this one), in the shared table; CTA 0 also
    // writes the local experts' offsets for the tile scheduler.
    Value table = LLVM::AddressOfOp::create(b, loc, ptrTy(ctx, 3),
                                            tableAttr.getValue());
    {
      auto w = scf::IfOp::create(b, loc, isThread0, false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(w.thenBlock()->getTerminator());
      scf::ForOp::create(
          b, loc, idx(0), idx(e), idx(1), ValueRange{idx(0)},
          [&](OpBuilder &fb, Location l, Value ex, ValueRange acc) {
            Value owner = arith::DivUIOp::create(fb, l, ex, idx(el));
            Value local = arith::RemUIOp::create(fb, l, ex, idx(el));
            Value first = arith::CmpIOp::create(
                fb, l, arith::CmpIPredicate::eq, local, idx(0));
            Value run =
                arith::SelectOp::create(fb, l, first, idx(0), acc[0]);
            // before: the rows of ranks < self; total: all ranks'.
            auto sum = scf::ForOp::create(
                fb, l, idx(0), idx(ranks), idx(1),
                ValueRange{idx(0), idx(0)},
                [&](OpBuilder &sb, Location sl, Value r, ValueRange sums) {
                  Value c = toIndex(
                      sb, sl,
                      loadI32Volatile(
                          sb, sl,
                          elementAddress(
                              sb, sl, a.getCountMatrix(), i32,
                              arith::AddIOp::create(
                                  sb, sl,
                                  arith::MulIOp::create(sb, sl, r, idx(e)),
                                  ex))));
                  Value below = arith::CmpIOp::create(
                      sb, sl, arith::CmpIPredicate::ult, r, selfIdx);
                  Value before = arith::AddIOp::create(
                      sb, sl, sums[0],
                      arith::SelectOp::create(sb, sl, below, c, idx(0)));
                  Value total = arith::AddIOp::create(sb, sl, sums[1], c);
                  scf::YieldOp::create(sb, sl, ValueRange{before, total});
                });
            storeTable(fb, l, table, ex,
                       arith::AddIOp::create(fb, l, run, sum.getResult(0)));
            Value next = arith::AddIOp::create(fb, l, run, sum.getResult(1));
            Value mine = arith::AndIOp::create(
                fb, l, isCta0,
                arith::CmpIOp::create(fb, l, arith::CmpIPredicate::eq, owner,
                                      selfIdx));
            auto wr = scf::IfOp::create(fb, l, mine, false);
            OpBuilder tb = OpBuilder::atBlockTerminator(wr.thenBlock());
            LLVM::StoreOp::create(
                tb, l, toI32(tb, l, run),
                elementAddress(tb, l, a.getOffsets(), i32, local));
            LLVM::StoreOp::create(
                tb, l, toI32(tb, l, next),
                elementAddress(tb, l, a.getOffsets(), i32,
                               arith::AddIOp::create(tb, l, local, idx(1))));
            scf::YieldOp::create(fb, l, ValueRange{next});
          });
      // Segment readiness: CTA 0 publishes the local `offsets` (release).
      if (Value flag = a.getOffsetsReady()) {
        auto wr = scf::IfOp::create(b, loc, isCta0, false);
        OpBuilder tb = OpBuilder::atBlockTerminator(wr.thenBlock());
        releaseAdd(tb, loc, flag);
      }
    }
    NVVM::Barrier0Op::create(b, loc);

    // Segment readiness, after each batch (SlotWalk::eachSlot's
    // afterBatch): each lane whose slot was routed adds 1 (release, system
    // scope) to seg_ready[e_l, self] on the slot's owner.
    auto signalRows = [&](OpBuilder &rb, Location l, Value id,
                          ValueRange placed) {
      Value localExpert = arith::RemUIOp::create(rb, l, toIndex(rb, l, id),
                                                 idx(el));
      Value counter = elementAddress(
          rb, l, a.getSegReady(), rb.getI64Type(),
          arith::AddIOp::create(
              rb, l, arith::MulIOp::create(rb, l, localExpert, idx(ranks)),
              selfIdx));
      remoteAdd(rb, l, mapPeer(rb, l, counter, placed[1], bases, self),
                one64);
    };

    // 4. Slots in batches of 32 per warp (SlotWalk::eachSlot): a lane places
    // its slot on the owner and writes its row's weight, slot and source
    // rank there; the warp copies 16-byte pieces of each token's row.
    walk.eachSlot(
        b, loc, a.getSlotRows(), a.getX(), k, h, constants, 2,
        [&](OpBuilder &tb, Location l, Value s,
            Value id) -> SmallVector<Value> {
          Value row = takeRow(tb, l, a.getCursor(), table, id);
          Value s32 = toI32(tb, l, s);
          Value owner = LLVM::UDivOp::create(tb, l, id, i32c(tb, l, el));
          Value rowIdx = toIndex(tb, l, row);
          LLVM::StoreOp::create(tb, l, s32,
                                elementAddress(tb, l, a.getSlotRows(), i32, s));
          // The owner's row metadata: one shift for the three stores.
          Value shift = peerShift(tb, l, owner, bases, self);
          auto remote = [&](Value base, Type elem) {
            return gepBytes(tb, l, elementAddress(tb, l, base, elem, rowIdx),
                            shift);
          };
          Value w = LLVM::LoadOp::create(
              tb, l, f32, elementAddress(tb, l, a.getWeights(), f32, s));
          LLVM::StoreOp::create(tb, l, w, remote(a.getRowWeights(), f32));
          LLVM::StoreOp::create(tb, l, s32, remote(a.getRowSlots(), i32));
          LLVM::StoreOp::create(tb, l, self, remote(a.getRowRanks(), i32));
          return {row, owner};
        },
        [&](OpBuilder &cb, Location l, Value lane, Value src,
            ArrayRef<Value> placed) {
          Value row = placed[0], owner = placed[1];
          Value shift = peerShift(cb, l, owner, bases, self);
          if (Value scales = a.getRowScales()) {
            copyQuantized(cb, l, src, gepBytes(cb, l, a.getRows(), shift),
                          gepBytes(cb, l, scales, shift), toIndex(cb, l, row),
                          lane, h, constants, /*permuteK=*/false);
            return;
          }
          Value dst = gepBytes(
              cb, l,
              elementAddress(
                  cb, l, a.getRows(), cb.getBF16Type(),
                  arith::MulIOp::create(cb, l, toIndex(cb, l, row), idx(h))),
              shift);
          copyRowWarp(cb, l, src, dst, lane, h, constants);
        },
        a.getSegReady()
            ? function_ref<void(OpBuilder &, Location, Value, ValueRange)>(
                  signalRows)
            : nullptr);

    if (Value flag = a.getOffsetsReady()) {
      // No step 5: CTA 0's `offsets` (the flag); the rows are awaited
      // segment by segment.
      awaitOffsets(b, loc, isThread0, flag);
      rewriter.eraseOp(op);
      return success();
    }
    // 5. Every CTA's rows are out: `rows_done` on every rank, then wait for
    // every rank's rows.
    gridBarrier(b, loc, a.getBarrier(), phase + 1, 0, ntid32, 0);
    signalAll(a.getRowsDone());
    waitAll(a.getRowsDone(), 2);
    rewriter.eraseOp(op);
    return success();
  }
};

/// The calling thread's lane, its warp's index over the grid (warps
/// `warps` a CTA, from thread `first`) and the grid's warp count, as index
/// values: the warp-per-row loops of the ops that end a kernel
/// (moek.combine, moek.return_rows). The lane is %laneid, not tid % 32: a
/// lane index shared with the kernel's first phase would stay live
/// (spilled) in between.
struct GridWarps {
  Value lane, warp, count;
};
GridWarps gridWarps(OpBuilder &b, Location loc, int64_t first, int64_t warps) {
  Type i32 = b.getI32Type();
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value tid = toIndex(b, loc, threadIdX(b, loc));
  Value rel = arith::SubIOp::create(b, loc, tid, idx(first));
  Value bid = toIndex(b, loc, NVVM::BlockIdXOp::create(b, loc, i32));
  Value grid = toIndex(b, loc, NVVM::GridDimXOp::create(b, loc, i32));
  return {toIndex(b, loc, NVVM::LaneIdOp::create(b, loc, i32)),
          arith::AddIOp::create(b, loc,
                                arith::MulIOp::create(b, loc, bid, idx(warps)),
                                arith::DivUIOp::create(b, loc, rel, idx(32))),
          arith::MulIOp::create(b, loc, grid, idx(warps))};
}

/// moek.return_rows: one received row per warp, back to its source slot.
struct ReturnRowsLowering : OpConversionPattern<ReturnRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReturnRowsOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type i32 = b.getI32Type();
    int64_t h = op.getHiddenAttr().getInt(),
            first = op.getFirstThreadAttr().getInt(),
            warps = op.getThreadsAttr().getInt() / 32;
    std::map<int64_t, Value> constants;
    for (int64_t v : {int64_t(0), int64_t(8), int64_t(32), h, h - 8, first,
                      warps})
      constants.try_emplace(v, arith::ConstantIndexOp::create(b, loc, v));
    for (int64_t u = 1; u <= kCopyUnroll; ++u)
      constants.try_emplace(256 * u,
                            arith::ConstantIndexOp::create(b, loc, 256 * u));
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    GridWarps g = gridWarps(b, loc, first, warps);
    Value lane = g.lane, gwarp = g.warp, nwarps = g.count;
    Value count = toIndex(
        b, loc,
        loadI32Volatile(b, loc,
                        elementAddress(b, loc, a.getOffsets(), i32,
                                       arith::ConstantIndexOp::create(
                                           b, loc,
                                           op.getExpertsAttr().getInt()))));
    scf::ForOp::create(
        b, loc, gwarp, count, nwarps, ValueRange{},
        [&](OpBuilder &fb, Location l, Value r, ValueRange) {
          Value slot = LLVM::LoadOp::create(
              fb, l, i32, elementAddress(fb, l, a.getSlots(), i32, r));
          Value rank = LLVM::LoadOp::create(
              fb, l, i32, elementAddress(fb, l, a.getRanks(), i32, r));
          Value src =
              elementAddress(fb, l, a.getRows(), fb.getBF16Type(),
                             arith::MulIOp::create(fb, l, r, idx(h)));
          Value dst = mapPeer(
              fb, l,
              elementAddress(fb, l, a.getOut(), fb.getBF16Type(),
                             arith::MulIOp::create(fb, l, toIndex(fb, l, slot),
                                                   idx(h))),
              rank, a.getBases(), a.getSelf());
          copyRowWarp(fb, l, src, dst, lane, h, constants);
          scf::YieldOp::create(fb, l);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

Value ex2(OpBuilder &b, Location loc, Value x);

/// moek.route: one token per warp; lane l holds experts l, l + 32, ... of
/// the token (n = ceil(E / 32) registers each), every ranking a warp-wide
/// butterfly over (score, expert) pairs, so that every lane ends with the
/// same winner.
struct RouteLowering : OpConversionPattern<RouteOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RouteOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type i32 = b.getI32Type(), f32 = b.getF32Type();
    int64_t e = op.getNumExpertsAttr().getInt(), k = op.getTopKAttr().getInt(),
            groups = op.getNumGroupsAttr().getInt(),
            keep = op.getTopkGroupsAttr().getInt();
    int64_t n = llvm::divideCeil(e, 32), groupSize = e / groups;
    bool softmax = op.getScoring() == "softmax";
    Type logitsType = op.getLogitsType();
    float scale = op.getRoutedScalingFactorAttr().getValueAsDouble();
    int64_t shared = op.getSharedExpertsAttr().getInt();
    float sharedWeight = op.getSharedWeightAttr().getValueAsDouble();
    // An expert index no lane holds: a pair with it never wins against one
    // that is held.
    constexpr int64_t kNone = 0x7fffffff;
    auto c32 = [&](OpBuilder &ob, int64_t v) { return i32c(ob, loc, v); };
    auto f32c = [&](OpBuilder &ob, float v) -> Value {
      return LLVM::ConstantOp::create(ob, loc, f32, ob.getF32FloatAttr(v));
    };
    // Every warp of the grid, one token at a time.
    Value tid = threadIdX(b, loc);
    Value lane = LLVM::URemOp::create(b, loc, tid, c32(b, 32));
    Value warpsPerCta = LLVM::UDivOp::create(
        b, loc, NVVM::BlockDimXOp::create(b, loc, i32), c32(b, 32));
    Value gwarp = LLVM::AddOp::create(
        b, loc,
        LLVM::MulOp::create(b, loc, NVVM::BlockIdXOp::create(b, loc, i32),
                            warpsPerCta),
        LLVM::UDivOp::create(b, loc, tid, c32(b, 32)));
    Value nwarps = LLVM::MulOp::create(
        b, loc, NVVM::GridDimXOp::create(b, loc, i32), warpsPerCta);
    scf::ForOp::create(
        b, loc, toIndex(b, loc, gwarp), a.getTokens(),
        toIndex(b, loc, nwarps), ValueRange{},
        [&](OpBuilder &tb, Location l, Value t, ValueRange) {
          auto sel = [&](Value c, Value x, Value y) -> Value {
            return LLVM::SelectOp::create(tb, l, c, x, y);
          };
          auto fcmp = [&](LLVM::FCmpPredicate p, Value x, Value y) -> Value {
            return LLVM::FCmpOp::create(tb, l, p, x, y);
          };
          auto icmp = [&](LLVM::ICmpPredicate p, Value x, Value y) -> Value {
            return LLVM::ICmpOp::create(tb, l, p, x, y);
          };
          auto band = [&](Value x, Value y) -> Value {
            return LLVM::AndOp::create(tb, l, x, y);
          };
          auto bor = [&](Value x, Value y) -> Value {
            return LLVM::OrOp::create(tb, l, x, y);
          };
          auto fadd = [&](Value x, Value y) -> Value {
            return LLVM::FAddOp::create(tb, l, x, y);
          };
          auto bfly = [&](Value v, int64_t offset) -> Value {
            bool isF32 = v.getType() == f32;
            Value bits = isF32 ? LLVM::BitcastOp::create(tb, l, i32, v) : v;
            Value r = NVVM::ShflOp::create(
                tb, l, i32, c32(tb, -1), bits, c32(tb, offset), c32(tb, 0x1f),
                NVVM::ShflKindAttr::get(tb.getContext(), NVVM::ShflKind::bfly),
                UnitAttr());
            return isF32 ? LLVM::BitcastOp::create(tb, l, f32, r) : r;
          };
          // moe.route's order: (x, i) ranks before (y, j), a held expert
          // before one no lane holds (kNone).
          auto before = [&](Value x, Value i, Value y, Value j) -> Value {
            Value nanX = fcmp(LLVM::FCmpPredicate::uno, x, x);
            Value nanY = fcmp(LLVM::FCmpPredicate::uno, y, y);
            Value lower = icmp(LLVM::ICmpPredicate::ult, i, j);
            Value byValue =
                bor(fcmp(LLVM::FCmpPredicate::ogt, x, y),
                    band(fcmp(LLVM::FCmpPredicate::oeq, x, y), lower));
            Value ranked =
                sel(LLVM::XOrOp::create(tb, l, nanX, nanY), nanY,
                    sel(nanX, lower, byValue));
            Value held = icmp(LLVM::ICmpPredicate::ne, i, c32(tb, kNone));
            Value otherUnheld =
                icmp(LLVM::ICmpPredicate::eq, j, c32(tb, kNone));
            return band(held, bor(otherUnheld, ranked));
          };
          // The best (c, expert[, s]) of the lane's experts where `alive`,
          // then of the warp.
          struct Best {
            Value c, id, s;
          };
          auto best = [&](ArrayRef<Value> c, ArrayRef<Value> ids,
                          ArrayRef<Value> s, ArrayRef<Value> alive) -> Best {
            Best r{f32c(tb, 0.0f), c32(tb, kNone), f32c(tb, 0.0f)};
            for (size_t j = 0; j < c.size(); ++j) {
              Value id = sel(alive[j], ids[j], c32(tb, kNone));
              Value take = before(c[j], id, r.c, r.id);
              r = {sel(take, c[j], r.c), sel(take, id, r.id),
                   s.empty() ? r.s : sel(take, s[j], r.s)};
            }
            for (int64_t offset : {16, 8, 4, 2, 1}) {
              Best o{bfly(r.c, offset), bfly(r.id, offset),
                     s.empty() ? r.s : bfly(r.s, offset)};
              Value take = before(o.c, o.id, r.c, r.id);
              r = {sel(take, o.c, r.c), sel(take, o.id, r.id),
                   s.empty() ? r.s : sel(take, o.s, r.s)};
            }
            return r;
          };
          auto reduce = [&](Value v, auto combine) -> Value {
            for (int64_t offset : {16, 8, 4, 2, 1})
              v = combine(v, bfly(v, offset));
            return v;
          };
          // The token's logits; a lane's expert past E reads expert E - 1
          // and is never held.
          Value row = arith::MulIOp::create(
              tb, l, t, arith::ConstantIndexOp::create(tb, l, e));
          SmallVector<Value> expert, inRange, logit;
          for (int64_t j = 0; j < n; ++j) {
            Value ej = LLVM::AddOp::create(tb, l, lane, c32(tb, 32 * j));
            expert.push_back(ej);
            inRange.push_back(
                32 * (j + 1) <= e
                    ? LLVM::ConstantOp::create(tb, l, tb.getI1Type(),
                                               tb.getBoolAttr(true))
                          .getResult()
                    : icmp(LLVM::ICmpPredicate::ult, ej, c32(tb, e)));
            Value at = LLVM::UMinOp::create(tb, l, ej, c32(tb, e - 1));
            Value v = LLVM::LoadOp::create(
                tb, l, logitsType,
                elementAddress(tb, l, a.getLogits(), logitsType,
                               arith::AddIOp::create(tb, l, row,
                                                     toIndex(tb, l, at))));
            logit.push_back(logitsType == f32
                                ? v
                                : LLVM::FPExtOp::create(tb, l, f32, v));
          }
          // 1. Scores.
          SmallVector<Value> s;
          constexpr float kLog2e = 1.4426950408889634f;
          if (softmax) {
            Value m = f32c(tb, -std::numeric_limits<float>::infinity());
            for (int64_t j = 0; j < n; ++j)
              m = sel(inRange[j], LLVM::MaxNumOp::create(tb, l, m, logit[j]),
                      m);
            m = reduce(m, [&](Value x, Value y) -> Value {
              return LLVM::MaxNumOp::create(tb, l, x, y);
            });
            Value d = f32c(tb, 0.0f);
            for (int64_t j = 0; j < n; ++j) {
              s.push_back(ex2(tb, l,
                              LLVM::FMulOp::create(
                                  tb, l, LLVM::FSubOp::create(tb, l, logit[j], m),
                                  f32c(tb, kLog2e))));
              d = fadd(d, sel(inRange[j], s[j], f32c(tb, 0.0f)));
            }
            d = reduce(d, fadd);
            for (int64_t j = 0; j < n; ++j)
              s[j] = LLVM::FDivOp::create(tb, l, s[j], d);
          } else {
            for (int64_t j = 0; j < n; ++j)
              s.push_back(LLVM::FDivOp::create(
                  tb, l, f32c(tb, 1.0f),
                  fadd(f32c(tb, 1.0f),
                       ex2(tb, l,
                           LLVM::FMulOp::create(tb, l, logit[j],
                                                f32c(tb, -kLog2e))))));
          }
          // 2. Selection scores.
          SmallVector<Value> c(s.begin(), s.end());
          if (a.getBias())
            for (int64_t j = 0; j < n; ++j) {
              Value at = LLVM::UMinOp::create(tb, l, expert[j], c32(tb, e - 1));
              c[j] = fadd(s[j], LLVM::LoadOp::create(
                                    tb, l, f32,
                                    elementAddress(tb, l, a.getBias(), f32,
                                                   toIndex(tb, l, at))));
            }
          // 3. Groups: each scored by its two best experts; the experts of
          // the `keep` best groups stay eligible.
          SmallVector<Value> alive(inRange.begin(), inRange.end());
          if (groups > 1) {
            SmallVector<Value> group, groupScore;
            for (int64_t j = 0; j < n; ++j)
              group.push_back(
                  LLVM::UDivOp::create(tb, l, expert[j], c32(tb, groupSize)));
            for (int64_t g = 0; g < groups; ++g) {
              SmallVector<Value> member;
              for (int64_t j = 0; j < n; ++j)
                member.push_back(
                    band(inRange[j],
                         icmp(LLVM::ICmpPredicate::eq, group[j], c32(tb, g))));
              Best first = best(c, expert, {}, member);
              if (groupSize == 1) {
                groupScore.push_back(first.c);
                continue;
              }
              for (int64_t j = 0; j < n; ++j)
                member[j] = band(member[j], icmp(LLVM::ICmpPredicate::ne,
                                                 expert[j], first.id));
              Best second = best(c, expert, {}, member);
              groupScore.push_back(fadd(first.c, second.c));
            }
            // Group g is kept if fewer than `keep` groups rank before it.
            Value mask = c32(tb, 0);
            for (int64_t g = 0; g < groups; ++g) {
              Value ahead = c32(tb, 0);
              for (int64_t h = 0; h < groups; ++h)
                if (h != g)
                  ahead = LLVM::AddOp::create(
                      tb, l, ahead,
                      LLVM::ZExtOp::create(
                          tb, l, i32,
                          before(groupScore[h], c32(tb, h), groupScore[g],
                                 c32(tb, g))));
              Value kept = LLVM::ZExtOp::create(
                  tb, l, i32, icmp(LLVM::ICmpPredicate::ult, ahead,
                                   c32(tb, keep)));
              mask = bor(mask, LLVM::ShlOp::create(tb, l, kept, c32(tb, g)));
            }
            for (int64_t j = 0; j < n; ++j)
              alive[j] = band(
                  alive[j],
                  LLVM::TruncOp::create(
                      tb, l, tb.getI1Type(),
                      LLVM::LShrOp::create(tb, l, mask,
                                           LLVM::UMinOp::create(
                                               tb, l, group[j],
                                               c32(tb, groups - 1)))));
          }
          // 4. The top k, best first; 5. their unbiased scores.
          SmallVector<Value> ids, weights;
          for (int64_t r = 0; r < k; ++r) {
            Best w = best(c, expert, s, alive);
            ids.push_back(w.id);
            weights.push_back(w.s);
            for (int64_t j = 0; j < n; ++j)
              alive[j] = band(alive[j],
                              icmp(LLVM::ICmpPredicate::ne, expert[j], w.id));
          }
          if (op.getRenormalize()) {
            Value d = f32c(tb, 0.0f);
            for (Value w : weights)
              d = fadd(d, w);
            Value divide = fcmp(LLVM::FCmpPredicate::une, d, f32c(tb, 0.0f));
            for (Value &w : weights)
              w = sel(divide, LLVM::FDivOp::create(tb, l, w, d), w);
          }
          // 6. The scaling factor; lane 0 writes the token's slots, the
          // shared experts' after the routed ones.
          auto leader = scf::IfOp::create(
              tb, l, icmp(LLVM::ICmpPredicate::eq, lane, c32(tb, 0)), false);
          OpBuilder wb = OpBuilder::atBlockTerminator(leader.thenBlock());
          for (int64_t r = 0; r < k; ++r)
            weights[r] = LLVM::FMulOp::create(wb, l, weights[r], f32c(wb, scale));
          for (int64_t j = 0; j < shared; ++j) {
            ids.push_back(c32(wb, e + j));
            weights.push_back(f32c(wb, sharedWeight));
          }
          Value slot0 = arith::MulIOp::create(
              wb, l, t, arith::ConstantIndexOp::create(wb, l, k + shared));
          for (auto [r, pair] : llvm::enumerate(llvm::zip(ids, weights))) {
            Value slot = arith::AddIOp::create(
                wb, l, slot0, arith::ConstantIndexOp::create(wb, l, r));
            LLVM::StoreOp::create(wb, l, std::get<0>(pair),
                                  elementAddress(wb, l, a.getIds(), i32, slot));
            LLVM::StoreOp::create(
                wb, l, std::get<1>(pair),
                elementAddress(wb, l, a.getWeights(), f32, slot));
          }
          scf::YieldOp::create(tb, l);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

struct CombineLowering : OpConversionPattern<CombineOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CombineOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type i32 = b.getI32Type(), f32 = b.getF32Type();
    int64_t k = op.getTopKAttr().getInt(), h = op.getHiddenAttr().getInt();
    int64_t first = op.getFirstThreadAttr().getInt(),
            threads = op.getThreadsAttr().getInt();
    Type yElem = op.getYType(), outElem = op.getElementType();
    // Every constant up front (see DispatchLowering).
    std::map<int64_t, Value> constants;
    for (int64_t v : {int64_t(8), int64_t(32), int64_t(256), k, h, first,
                      threads / 32})
      constants[v] = arith::ConstantIndexOp::create(b, loc, v);
    for (int64_t s = 0; s < k; ++s)
      constants.try_emplace(s, arith::ConstantIndexOp::create(b, loc, s));
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    GridWarps g = gridWarps(b, loc, first, threads / 32);
    Value lane = g.lane, gwarp = g.warp, nwarps = g.count;
    auto v8f32 = VectorType::get({8}, f32);
    auto v8y = VectorType::get({8}, yElem);
    auto v8out = VectorType::get({8}, outElem);
    scf::ForOp::create(
        b, loc, gwarp, a.getTokens(), nwarps, ValueRange{},
        [&](OpBuilder &tb, Location l, Value t, ValueRange) {
          // This token's rows and weights, read once per token.
          SmallVector<Value> rows, ws;
          for (int64_t s = 0; s < k; ++s) {
            Value slot = arith::AddIOp::create(
                tb, l, arith::MulIOp::create(tb, l, t, idx(k)), idx(s));
            rows.push_back(LLVM::LoadOp::create(
                tb, l, i32, elementAddress(tb, l, a.getSlotRows(), i32, slot)));
            if (a.getWeights())
              ws.push_back(LLVM::LoadOp::create(
                  tb, l, f32, elementAddress(tb, l, a.getWeights(), f32, slot)));
          }
          scf::ForOp::create(
              tb, l, arith::MulIOp::create(tb, l, lane, idx(8)), idx(h),
              idx(256), ValueRange{},
              [&](OpBuilder &cb, Location cl, Value c, ValueRange) {
                Value zero = LLVM::ConstantOp::create(
                    cb, cl, v8f32,
                    DenseElementsAttr::get(v8f32, cb.getF32FloatAttr(0.0f)));
                // Every slot's row is loaded before any is added (masked
                // slots load row 0 and are dropped by a select, so no NaN of
                // theirs enters), then added in slot order.
                SmallVector<Value> ys;
                for (int64_t s = 0; s < k; ++s) {
                  Value row = LLVM::SMaxOp::create(cb, cl, rows[s],
                                                   i32c(cb, cl, 0));
                  Value at = arith::AddIOp::create(
                      cb, cl,
                      arith::MulIOp::create(cb, cl, toIndex(cb, cl, row),
                                            idx(h)),
                      c);
                  ys.push_back(LLVM::LoadOp::create(
                      cb, cl, v8y, elementAddress(cb, cl, a.getY(), yElem, at),
                      16));
                }
                Value acc = zero;
                for (int64_t s = 0; s < k; ++s) {
                  Value has = LLVM::ICmpOp::create(
                      cb, cl, LLVM::ICmpPredicate::sge, rows[s], i32c(cb, cl, 0));
                  Value y = ys[s];
                  if (yElem != f32)
                    y = LLVM::FPExtOp::create(cb, cl, v8f32, y);
                  Value term = y;
                  if (!ws.empty()) {
                    Value w = LLVM::UndefOp::create(cb, cl, v8f32);
                    for (int64_t i = 0; i < 8; ++i)
                      w = LLVM::InsertElementOp::create(cb, cl, w, ws[s],
                                                        i32c(cb, cl, i));
                    term = LLVM::FMulOp::create(cb, cl, w, y);
                  }
                  acc = LLVM::SelectOp::create(
                      cb, cl, has, LLVM::FAddOp::create(cb, cl, acc, term), acc);
                }
                Value out = acc;
                if (outElem != f32)
                  out = LLVM::FPTruncOp::create(cb, cl, v8out, acc);
                Value at = arith::AddIOp::create(
                    cb, cl, arith::MulIOp::create(cb, cl, t, idx(h)), c);
                LLVM::StoreOp::create(
                    cb, cl, out, elementAddress(cb, cl, a.getOut(), outElem, at),
                    16);
                scf::YieldOp::create(cb, cl);
              });
          scf::YieldOp::create(tb, l);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// ex2.approx of an f32.
Value ex2(OpBuilder &b, Location loc, Value x) {
  return LLVM::InlineAsmOp::create(
             b, loc, TypeRange{b.getF32Type()}, ValueRange{x},
             "ex2.approx.f32 $0, $1;", "=f,f", /*has_side_effects=*/false,
             /*is_align_stack=*/false, LLVM::TailCallKind::None,
             LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

/// n / d in f32 for d >= 1 (or NaN), without a branch: the reciprocal's
/// approximation refined by one Newton step, the quotient corrected by its
/// remainder (Markstein's sequence, as the fast path of the IEEE division
/// that nvcc and LLVM emit, whose FCHK and branch to a slow path
/// serialize a sequence of divisions). `ok` holds where the result is the
/// IEEE division's: d <= 2^100 and, unless n is a constant (`constantN`, 1
/// or 2), |n| <= 2^100 and |n / d| >= 2^-100, so that no step under- or
/// overflows; and d's significand not all ones, the one case where the
/// Newton step may miss the correctly rounded reciprocal (then the
/// quotient can land on the other side of a tie; the host model in
/// unittests/Codegen/DivisionTest.cpp finds no other case with the
/// approximation up to 2 ulps off). Elsewhere (a zero quotient, NaN,
/// infinities, extreme ranges, those divisors) the caller divides again.
std::pair<Value, Value> divideInRange(OpBuilder &b, Location loc, Value n,
                                      Value d, bool constantN) {
  Type f32 = b.getF32Type();
  auto f32c = [&](float v) -> Value {
    return LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };
  auto fma = [&](Value x, Value y, Value z) -> Value {
    return LLVM::FMAOp::create(b, loc, x, y, z);
  };
  Value negD = LLVM::FNegOp::create(b, loc, d);
  Value r0 = NVVM::RcpApproxFtzF32Op::create(b, loc, f32, d);
  Value r1 = fma(r0, fma(negD, r0, f32c(1.0f)), r0);
  Value q0 = LLVM::FMulOp::create(b, loc, n, r1);
  Value q = fma(fma(negD, q0, n), r1, q0);
  auto compare = [&](LLVM::FCmpPredicate p, Value x, float bound) -> Value {
    return LLVM::FCmpOp::create(b, loc, p, x, f32c(bound));
  };
  Value ok = compare(LLVM::FCmpPredicate::ole, d, 0x1p100f);
  Type i32 = b.getI32Type();
  Value significand = LLVM::AndOp::create(
      b, loc, LLVM::BitcastOp::create(b, loc, i32, d), i32c(b, loc, 0x7fffff));
  ok = LLVM::AndOp::create(
      b, loc, ok,
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, significand,
                           i32c(b, loc, 0x7fffff)));
  if (!constantN) {
    ok = LLVM::AndOp::create(
        b, loc, ok,
        compare(LLVM::FCmpPredicate::ole, LLVM::FAbsOp::create(b, loc, n),
                0x1p100f));
    ok = LLVM::AndOp::create(
        b, loc, ok,
        compare(LLVM::FCmpPredicate::oge, LLVM::FAbsOp::create(b, loc, q),
                0x1p-100f));
  }
  return {q, ok};
}

/// The gated activation `kind` of the f32 values `g` and `u`, with the
/// reference's formulas in its order (lib/Reference/Kernels.cpp; exp as
/// ex2.approx, erf by a polynomial of absolute error below 1.5e-7). With
/// `inRange`, its divisions are divideInRange's, and their `ok` is and-ed
/// into *inRange (true at first): where it ends false, the caller computes
/// the activation again without. With `approx` (moek.store_act {approx}),
/// n / d is n * rcp.approx(d), within 2 ulps of f32 (no fallback: every
/// divisor is at least 1, and 0, NaN and infinities give the division's
/// result).
Value activationOf(OpBuilder &b, Location loc, StringRef kind, float alpha,
                   float limit, Value g, Value u, Value *inRange = nullptr,
                   bool approx = false) {
  Type f32 = b.getF32Type();
  auto f32c = [&](float v) -> Value {
    return LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };
  // Every divisor below is 1 plus a non-negative value.
  auto divide = [&](Value n, Value d) -> Value {
    if (approx) {
      Value r = NVVM::RcpApproxFtzF32Op::create(b, loc, f32, d);
      auto c = n.getDefiningOp<LLVM::ConstantOp>();
      if (c && cast<FloatAttr>(c.getValue()).getValueAsDouble() == 1.0)
        return r;
      return LLVM::FMulOp::create(b, loc, n, r);
    }
    if (!inRange)
      return LLVM::FDivOp::create(b, loc, n, d);
    auto [q, ok] =
        divideInRange(b, loc, n, d, n.getDefiningOp<LLVM::ConstantOp>());
    *inRange = LLVM::AndOp::create(b, loc, *inRange, ok);
    return q;
  };
  auto mul = [&](Value x, Value y) -> Value {
    return LLVM::FMulOp::create(b, loc, x, y);
  };
  auto add = [&](Value x, Value y) -> Value {
    return LLVM::FAddOp::create(b, loc, x, y);
  };
  // 2^(s * log2(e) * x) = exp(s * x).
  auto exp = [&](Value x, float s) -> Value {
    return ex2(b, loc, mul(x, f32c(s * 1.4426950408889634f)));
  };
  // 1 / (1 + exp(-s * x)).
  auto sigmoid = [&](Value x, float s) -> Value {
    return divide(f32c(1.0f), add(f32c(1.0f), exp(x, -s)));
  };
  // erf (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
  auto erf = [&](Value x) -> Value {
    Value ax = LLVM::FAbsOp::create(b, loc, x);
    Value tt =
        divide(f32c(1.0f), add(f32c(1.0f), mul(f32c(0.3275911f), ax)));
    Value poly = f32c(1.061405429f);
    for (float c : {-1.453152027f, 1.421413741f, -0.284496736f,
                    0.254829592f})
      poly = add(mul(poly, tt), f32c(c));
    poly = mul(poly, tt);
    Value y = LLVM::FSubOp::create(
        b, loc, f32c(1.0f), mul(poly, exp(mul(ax, ax), -1.0f)));
    return LLVM::CopySignOp::create(b, loc, y, x);
  };
  // tanh(x) = 1 - 2 / (exp(2x) + 1).
  auto tanh = [&](Value x) -> Value {
    return LLVM::FSubOp::create(
        b, loc, f32c(1.0f),
        divide(f32c(2.0f), add(exp(x, 2.0f), f32c(1.0f))));
  };
  if (kind == "clamped_swiglu") {
    g = LLVM::MinNumOp::create(b, loc, g, f32c(limit));
    u = LLVM::MinNumOp::create(
        b, loc, LLVM::MaxNumOp::create(b, loc, u, f32c(-limit)), f32c(limit));
    return mul(mul(g, sigmoid(g, alpha)), add(u, f32c(1.0f)));
  }
  if (kind == "gelu_mul") {
    Value half = mul(f32c(0.5f), g);
    return mul(mul(half, add(f32c(1.0f), erf(mul(g, f32c(0.70710678f))))), u);
  }
  if (kind == "gelu_tanh_mul") {
    Value cube = mul(mul(mul(f32c(0.044715f), g), g), g);
    Value inner = mul(f32c(0.7978845608f), add(g, cube));
    Value half = mul(f32c(0.5f), g);
    return mul(mul(half, add(f32c(1.0f), tanh(inner))), u);
  }
  if (approx)
    return mul(divide(g, add(f32c(1.0f), exp(g, -1.0f))), u);
  // swiglu: g / (1 + exp(-g)) * u. A zero g (the zero rows past a tile's
  // end, many at decode) takes the IEEE division's slow path, a subroutine
  // of ~40 instructions that a warp runs when any lane needs it: a zero g
  // divides 1 instead and keeps its own value, the quotient's (+-0 / d,
  // d = 2), so the result is the division's, bit for bit. (The dividend
  // passes through an asm move: LLVM folds the selects back into g / d.)
  Value zero = LLVM::FCmpOp::create(b, loc, LLVM::FCmpPredicate::oeq, g,
                                    f32c(0.0f));
  Value safe =
      LLVM::InlineAsmOp::create(
          b, loc, TypeRange{f32},
          ValueRange{LLVM::SelectOp::create(b, loc, zero, f32c(1.0f), g)},
          "mov.b32 $0, $1;", "=f,f", /*has_side_effects=*/false,
          /*is_align_stack=*/false, LLVM::TailCallKind::None,
          LLVM::AsmDialectAttr(), ArrayAttr())
          .getResult(0);
  Value q = divide(safe, add(f32c(1.0f), exp(g, -1.0f)));
  return mul(LLVM::SelectOp::create(b, loc, zero, g, q), u);
}

/// The activations a chunk of chunkedActivations in the bf16 kernels, whose
/// 168 registers a thread hold the 128 accumulator values and, with FP4
/// weights, their expansion's: larger chunks spill. GELU-mul (erf's
/// polynomial) in the bf16 x MXFP4 kernel spilled 60 bytes at 8 and 20 at
/// 4, in the bf16 x NVFP4 one 8 at 2; clamped SwiGLU in gpt-oss-120b's
/// bf16 x MXFP4 and x NVFP4 layers 64 and 72 bytes at 8. So the GELU forms
/// take one at a time, the SwiGLU forms 4. (The FP8 kernel's store takes 8
/// of every form: 32 spilled 216 bytes, 16 up to 28.)
int64_t activationChunk(StringRef kind) {
  return kind.starts_with("gelu") ? 1 : 4;
}

/// value(b, 0) ... value(b, count - 1), the activations of an epilogue,
/// `chunkSize` at a time with divideInRange's divisions (`inRange`, for
/// activationOf): no branch between them, where the IEEE division's FCHK
/// and branch would serialize them. A chunk with any division outside its
/// range is computed again with `inRange` null, the IEEE division (a
/// branch a warp takes only where one of its lanes needs it).
SmallVector<Value> chunkedActivations(
    OpBuilder &b, Location loc, int64_t chunkSize, int64_t count,
    function_ref<Value(OpBuilder &, int64_t, Value *)> value) {
  SmallVector<Value> vals;
  for (int64_t first = 0; first < count; first += chunkSize) {
    int64_t end = std::min(count, first + chunkSize);
    auto compute = [&](OpBuilder &ob, Value *inRange) {
      SmallVector<Value> chunk;
      for (int64_t v = first; v < end; ++v)
        chunk.push_back(value(ob, v, inRange));
      return chunk;
    };
    Value inRange = LLVM::ConstantOp::create(b, loc, b.getI1Type(),
                                             b.getBoolAttr(true));
    SmallVector<Value> fast = compute(b, &inRange);
    auto again = scf::IfOp::create(b, loc, TypeRange(ValueRange(fast)),
                                   inRange, /*withElseRegion=*/true);
    OpBuilder tb = OpBuilder::atBlockEnd(again.thenBlock());
    scf::YieldOp::create(tb, loc, fast);
    OpBuilder eb = OpBuilder::atBlockEnd(again.elseBlock());
    scf::YieldOp::create(eb, loc, compute(eb, nullptr));
    llvm::append_range(vals, again.getResults());
  }
  return vals;
}

/// value(b, 0) ... value(b, count - 1): with `approx` (every division
/// n * rcp.approx(d), nothing to fall back from) in one sequence, without
/// it chunkedActivations'.
SmallVector<Value> activationValues(
    OpBuilder &b, Location loc, bool approx, int64_t chunkSize, int64_t count,
    function_ref<Value(OpBuilder &, int64_t, Value *)> value) {
  if (!approx)
    return chunkedActivations(b, loc, chunkSize, count, value);
  SmallVector<Value> vals;
  for (int64_t v = 0; v < count; ++v)
    vals.push_back(value(b, v, nullptr));
  return vals;
}

/// Row `row0 + 8 * half` of an epilogue that every lane runs (its quad's
/// shuffles need all of them): the row, whether it lies below `rowLimit`,
/// and its router weight from `rowWeights` (null without), read at
/// min(row, lastRow) so that rows past the limit read the last row's.
std::tuple<Value, Value, Value> epilogueRow(OpBuilder &b, Location loc,
                                            Value row0, int half,
                                            Value rowLimit, Value lastRow,
                                            Value rowWeights) {
  Type f32 = b.getF32Type();
  Value row = arith::AddIOp::create(
      b, loc, row0, arith::ConstantIndexOp::create(b, loc, 8 * half));
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, row, rowLimit);
  Value rw;
  if (rowWeights)
    rw = LLVM::LoadOp::create(
        b, loc, f32,
        elementAddress(b, loc, rowWeights, f32,
                       arith::MinSIOp::create(b, loc, row, lastRow)));
  return {row, inside, rw};
}

struct StoreActFp8Lowering : OpConversionPattern<StoreActFp8Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreActFp8Op op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    // Fragment value 4j + 2h + e of both accumulators is at row
    // fragmentRow + 8h, column 8j + 2(l%4) + e: a row's 128 columns are in
    // the 4 lanes of a quad, so its amax is the quad's maximum.
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    Type g1 = op.getGemm1Type();
    int64_t ld = op.getLdAttr().getInt();
    float alpha = op.getAlpha().convertToFloat(),
          limit = op.getLimit().convertToFloat();
    auto toBF16 = [&](OpBuilder &ob, Value x) -> Value {
      return LLVM::FPExtOp::create(
          ob, loc, f32, LLVM::FPTruncOp::create(ob, loc, ob.getBF16Type(), x));
    };
    Value lane =
        LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
    Value quad = LLVM::URemOp::create(b, loc, lane, i32c(b, loc, 4));
    Value row0 = arith::AddIOp::create(b, loc, a.getRow(),
                                       toIndex(b, loc, fragmentRow(b, loc)));
    Value col0 = toI64(
        b, loc,
        arith::AddIOp::create(
            b, loc, a.getCol(),
            toIndex(b, loc, LLVM::MulOp::create(b, loc, quad, i32c(b, loc, 2)))));
    Value lastRow = arith::SubIOp::create(
        b, loc, a.getRowLimit(), arith::ConstantIndexOp::create(b, loc, 1));
    Value zero = LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.0f));
    // The warp's first row of each half (rows warp * 16 + 8 * half + 0..7).
    Value warpRow0 = arith::AddIOp::create(
        b, loc, a.getRow(), toIndex(b, loc, fragmentWarpRow(b, loc)));
    auto warpHasRows = [&](int half) -> Value {
      return arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::slt,
          arith::AddIOp::create(
              b, loc, warpRow0,
              arith::ConstantIndexOp::create(b, loc, 8 * half)),
          a.getRowLimit());
    };
    // With `half`, columns 64 h to 64 h + 63: groups j of 8 h to 8 h + 7.
    std::optional<int64_t> colHalf = op.getHalf();
    int64_t jBegin = colHalf ? 8 * *colHalf : 0, jEnd = colHalf ? jBegin + 8 : 16;
    int64_t numVals = 2 * (jEnd - jBegin);
    // Row half `half`'s activations of groups [jBegin, jEnd)
    // (activationValues), rounded to bf16; `rw` its router weight.
    bool approx = op.getApprox();
    auto activations = [&](OpBuilder &ob, int half, Value rw) {
      auto value = [&](OpBuilder &ab, int64_t v, Value *inRange) {
        int64_t j = jBegin + v / 2, e = v % 2;
        auto field = [&](Value acc) -> Value {
          Value x = LLVM::ExtractValueOp::create(
              ab, loc, acc, ArrayRef<int64_t>{4 * j + 2 * half + e});
          return g1.isBF16() ? toBF16(ab, x) : x;
        };
        Value act =
            activationOf(ab, loc, op.getActivation(), alpha, limit,
                         field(a.getGate()), field(a.getUp()), inRange, approx);
        if (rw)
          act = LLVM::FMulOp::create(ab, loc, act, rw);
        return toBF16(ab, act);
      };
      return activationValues(ob, loc, approx, /*chunkSize=*/8, numVals,
                              value);
    };
    // The quad's amax of `vals` (every lane of the warp runs it).
    auto quadAmax = [&](OpBuilder &ob, ArrayRef<Value> vals) {
      Value amax = zero;
      for (Value v : vals)
        amax = LLVM::MaxNumOp::create(ob, loc, amax, finiteAbs(ob, loc, v));
      return maxOverLanes(ob, loc, amax, 4);
    };
    // Quantizes `vals` (groups [jBegin, jEnd) of row `row`) with the block's
    // `amax` and stores them, and the scale if `storeScale`, where `inside`.
    auto quantizeAndStore = [&](OpBuilder &ob, ArrayRef<Value> vals,
                                Value amax, Value row, Value inside,
                                bool storeScale) {
      auto [scale, inv] = fp8BlockScale(ob, loc, amax);
      SmallVector<Value> packed;
      for (int64_t p = 0; p < numVals / 2; ++p)
        packed.push_back(toE4m3x2(
            ob, loc, LLVM::FMulOp::create(ob, loc, vals[2 * p], inv),
            LLVM::FMulOp::create(ob, loc, vals[2 * p + 1], inv)));
      auto ifOp = scf::IfOp::create(ob, loc, inside, false);
      OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      Value rowOffset =
          LLVM::MulOp::create(tb, loc, toI64(tb, loc, row), i64c(tb, loc, ld));
      // Column 8j + 2q (+ 1) is logical word 2j + q / 2 of the block; with
      // permute_k its byte is 4 (8 (j % 4) + 4 (q / 2) + j / 4) + 2 (q % 2):
      // the lane's part, col + 16 (q / 2) + 2 (q % 2), plus a constant.
      Value permutedCol;
      if (op.getPermuteK())
        permutedCol = LLVM::AddOp::create(
            tb, loc, toI64(tb, loc, a.getCol()),
            LLVM::ZExtOp::create(
                tb, loc, tb.getI64Type(),
                LLVM::AddOp::create(
                    tb, loc,
                    LLVM::ShlOp::create(
                        tb, loc,
                        LLVM::LShrOp::create(tb, loc, quad, i32c(tb, loc, 1)),
                        i32c(tb, loc, 4)),
                    LLVM::ShlOp::create(
                        tb, loc,
                        LLVM::AndOp::create(tb, loc, quad, i32c(tb, loc, 1)),
                        i32c(tb, loc, 1)))));
      for (int64_t j = jBegin; j < jEnd; ++j) {
        Value colJ =
            permutedCol
                ? LLVM::AddOp::create(
                      tb, loc, permutedCol,
                      i64c(tb, loc, 32 * (j % 4) + 4 * (j / 4)))
                : LLVM::AddOp::create(tb, loc, col0, i64c(tb, loc, 8 * j));
        Value index = LLVM::AddOp::create(tb, loc, rowOffset, colJ);
        Value addr = LLVM::GEPOp::create(tb, loc, a.getOut().getType(),
                                         tb.getI8Type(), a.getOut(),
                                         ValueRange{index});
        LLVM::StoreOp::create(tb, loc, packed[j - jBegin], addr, 2);
      }
      if (!storeScale)
        return;
      // The scale, once per row (lane 0 of the quad).
      Value first = LLVM::ICmpOp::create(tb, loc, LLVM::ICmpPredicate::eq,
                                         quad, i32c(tb, loc, 0));
      auto sIf = scf::IfOp::create(tb, loc, first, false);
      OpBuilder sb = OpBuilder::atBlockTerminator(sIf.thenBlock());
      // Row-major (ld / 128 a row) or, with scales_stride, block-major.
      int64_t stride = op.getScalesStrideAttr().getInt();
      Value block = LLVM::UDivOp::create(sb, loc, toI64(sb, loc, a.getCol()),
                                         i64c(sb, loc, 128));
      Value sIndex =
          stride
              ? LLVM::AddOp::create(
                    sb, loc,
                    LLVM::MulOp::create(sb, loc, block, i64c(sb, loc, stride)),
                    toI64(sb, loc, row))
              : LLVM::AddOp::create(
                    sb, loc,
                    LLVM::MulOp::create(sb, loc, toI64(sb, loc, row),
                                        i64c(sb, loc, ld / 128)),
                    block);
      LLVM::StoreOp::create(
          sb, loc, scale,
          LLVM::GEPOp::create(sb, loc, a.getScales().getType(), f32,
                              a.getScales(), ValueRange{sIndex}),
          4);
    };
    if (!colHalf) {
      for (int half = 0; half < 2; ++half) {
        // A warp whose eight rows of this half all lie past the limit skips
        // it (at decode most do: a 64-row tile holds a few rows).
        OpBuilder::InsertionGuard guard(b);
        auto skip = scf::IfOp::create(b, loc, warpHasRows(half),
                                      /*withElseRegion=*/false);
        b.setInsertionPoint(skip.thenBlock()->getTerminator());
        // Every lane of the warp computes (the quad's shuffles need all of
        // them); rows past the limit read the last row's weight and store
        // nothing.
        auto [row, inside, rw] = epilogueRow(
            b, loc, row0, half, a.getRowLimit(), lastRow, a.getRowWeights());
        SmallVector<Value> vals = activations(b, half, rw);
        quantizeAndStore(b, vals, quadAmax(b, vals), row, inside,
                         /*storeScale=*/true);
      }
      rewriter.eraseOp(op);
      return success();
    }
    // Half h of the columns: each row half's activations and the quad's
    // amax over them (a warp without rows in a row half skips its work and
    // yields zeros), the amax into this half's 64 floats of `amax` (row r
    // of the tile at 64 h + r), named barrier with the other half's
    // warpgroup, the row's amax the larger of the two.
    Value rowInTile = fragmentRow(b, loc);
    Value quad0 =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, quad, i32c(b, loc, 0));
    auto amaxSlot = [&](int64_t h, int half) {
      Value r = LLVM::AddOp::create(
          b, loc, rowInTile, i32c(b, loc, 64 * h + 8 * half));
      return LLVM::GEPOp::create(b, loc, a.getAmax().getType(), f32,
                                 a.getAmax(), ValueRange{r});
    };
    for (int half = 0; half < 2; ++half) {
      auto [row, inside, rw] = epilogueRow(
          b, loc, row0, half, a.getRowLimit(), lastRow, a.getRowWeights());
      SmallVector<Type> types(numVals + 1, f32);
      auto ifOp = scf::IfOp::create(b, loc, types, warpHasRows(half),
                                    /*withElseRegion=*/true);
      {
        OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        SmallVector<Value> v = activations(tb, half, rw);
        v.push_back(quadAmax(tb, v));
        scf::YieldOp::create(tb, loc, v);
      }
      OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
      scf::YieldOp::create(eb, loc, SmallVector<Value>(numVals + 1, zero));
      SmallVector<Value> vals(ifOp.getResults().begin(),
                              ifOp.getResults().begin() + numVals);
      Value amax = ifOp.getResult(numVals);
      {
        auto wIf = scf::IfOp::create(b, loc, quad0, false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(wIf.thenBlock()->getTerminator());
        LLVM::StoreOp::create(b, loc, amax, amaxSlot(*colHalf, half), 4);
      }
      namedBarrier(b, loc, i32c(b, loc, op.getBarrierAttr().getInt()),
                   i32c(b, loc, 2 * kWarpgroupThreads), /*wait=*/true);
      Value other =
          LLVM::LoadOp::create(b, loc, f32, amaxSlot(1 - *colHalf, half), 4);
      quantizeAndStore(b, vals, LLVM::MaxNumOp::create(b, loc, amax, other),
                       row, inside, /*storeScale=*/*colHalf == 0);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

struct StoreActLowering : OpConversionPattern<StoreActOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreActOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    // The fragment layout of moek.store_acc: thread t holds d[4j + 2h + e]
    // at row 16w + l/4 + 8h, column 8j + 2(l%4) + e. Concatenated: gate
    // column c < 128 is block j < 16 and its up column c + 128 block j + 16,
    // in the same thread, so each thread makes output columns 8j + 2(l%4)
    // and +1 (j < 16). Interleaved: columns 2p and 2p + 1 are the gate and
    // up of output column p, i.e. e = 0 and 1 of one block j, so each thread
    // makes output column 4j + l%4 (j < 32).
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    Type elem = op.getElementType(), g1 = op.getGemm1Type();
    int64_t elemBytes = elem.isBF16() ? 2 : 4;
    int64_t ld = op.getLdAttr().getInt();
    StringRef kind = op.getActivation();
    bool interleaved = op.getLayout() == "interleaved";
    float alpha = op.getAlpha().convertToFloat(),
          limit = op.getLimit().convertToFloat();
    Value lane =
        LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
    Value quad = LLVM::URemOp::create(b, loc, lane, i32c(b, loc, 4));
    Value rowInTile = fragmentRow(b, loc);
    Value colInTile =
        interleaved ? quad : LLVM::MulOp::create(b, loc, quad, i32c(b, loc, 2));
    Value row0 = arith::AddIOp::create(b, loc, a.getRow(),
                                       toIndex(b, loc, rowInTile));
    Value col0 = toI64(b, loc,
                       arith::AddIOp::create(b, loc, a.getCol(),
                                             toIndex(b, loc, colInTile)));
    auto round = [&](OpBuilder &ob, Value x) -> Value {
      if (!g1.isBF16())
        return x;
      return LLVM::FPExtOp::create(
          ob, loc, f32, LLVM::FPTruncOp::create(ob, loc, ob.getBF16Type(), x));
    };
    Value acc = a.getAcc();
    auto field = [&](OpBuilder &ob, int64_t i) -> Value {
      return round(
          ob, LLVM::ExtractValueOp::create(ob, loc, acc, ArrayRef<int64_t>{i}));
    };
    // Per output group: (fragment index of each gate value, of its up
    // value, column offset of the group): concatenated, pairs of columns;
    // interleaved, single columns.
    int64_t perGroup = interleaved ? 1 : 2;
    int64_t groups = interleaved ? 32 : 16;
    auto vecOut = VectorType::get({perGroup}, elem);
    auto vecF32 = VectorType::get({perGroup}, f32);
    // Element e of output group j in row half `half`: the activation of its
    // gate and up values, times the router weight `rw` if given; a half's
    // 32 values (group v / perGroup, element v % perGroup) kChunk at a time
    // (chunkedActivations).
    // With `approx`, one sequence with no fallback (activationValues).
    bool approx = op.getApprox();
    auto halfValues = [&](int half, Value rw) {
      auto value = [&](OpBuilder &ob, int64_t v, Value *inRange) {
        int64_t j = v / perGroup, e = v % perGroup;
        Value gate = interleaved ? field(ob, 4 * j + 2 * half)
                                 : field(ob, 4 * j + 2 * half + e);
        Value up = interleaved ? field(ob, 4 * j + 2 * half + 1)
                               : field(ob, 4 * (j + 16) + 2 * half + e);
        Value out = activationOf(ob, loc, kind, alpha, limit, gate, up,
                                 inRange, approx);
        return rw ? LLVM::FMulOp::create(ob, loc, out, rw).getResult() : out;
      };
      return activationValues(b, loc, approx, activationChunk(kind), 32,
                              value);
    };
    // Output group j's value (or pair) `stored` of the row at `rowOffset`
    // (elements), unless its column lies past `ld`.
    auto storeGroup = [&](Value rowOffset, int64_t j, Value stored,
                          int64_t bytes) {
      Value colJ = LLVM::AddOp::create(
          b, loc, col0, i64c(b, loc, interleaved ? 4 * j : 8 * j));
      Value addr = LLVM::GEPOp::create(
          b, loc, a.getOut().getType(), elem, a.getOut(),
          ValueRange{LLVM::AddOp::create(b, loc, rowOffset, colJ)});
      Value inCols = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt,
                                          colJ, i64c(b, loc, ld));
      auto colIf = scf::IfOp::create(b, loc, inCols, false);
      OpBuilder cb = OpBuilder::atBlockTerminator(colIf.thenBlock());
      LLVM::StoreOp::create(cb, loc, stored, addr, bytes);
    };
    if (op.getMxRound()) {
      // Each 1x32 block of a row is 8 values of each lane of a quad (groups
      // 4b..4b+3 concatenated, 8b..8b+7 interleaved): every lane computes
      // its values and the blocks' MXFP8 rounding (shuffles need the whole
      // warp), then stores under the row test; rows past the limit read
      // the last row's router weight.
      auto bf16Pair = VectorType::get({2}, b.getBF16Type());
      Value lastRow = arith::SubIOp::create(
          b, loc, a.getRowLimit(), arith::ConstantIndexOp::create(b, loc, 1));
      Value warpRow0 = arith::AddIOp::create(
          b, loc, a.getRow(), toIndex(b, loc, fragmentWarpRow(b, loc)));
      for (int half = 0; half < 2; ++half) {
        // A warp whose eight rows of this half all lie past the limit skips
        // it.
        OpBuilder::InsertionGuard guard(b);
        auto warpHasRows = scf::IfOp::create(
            b, loc,
            arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::slt,
                arith::AddIOp::create(
                    b, loc, warpRow0,
                    arith::ConstantIndexOp::create(b, loc, 8 * half)),
                a.getRowLimit()),
            /*withElseRegion=*/false);
        b.setInsertionPoint(warpHasRows.thenBlock()->getTerminator());
        auto [row, inside, rw] = epilogueRow(
            b, loc, row0, half, a.getRowLimit(), lastRow, a.getRowWeights());
        SmallVector<Value> outs;
        for (Value v : halfValues(half, rw))
          outs.push_back(LLVM::FPExtOp::create(
              b, loc, f32,
              LLVM::FPTruncOp::create(b, loc, b.getBF16Type(), v)));
        SmallVector<Value> pairs;
        for (int64_t blk = 0; blk < 4; ++blk)
          llvm::append_range(pairs, mxfp8RoundPairs(
                                        b, loc, ArrayRef(outs).slice(8 * blk, 8),
                                        4));
        auto ifOp = scf::IfOp::create(b, loc, inside, false);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        Value rowOffset = LLVM::MulOp::create(b, loc, toI64(b, loc, row),
                                              i64c(b, loc, ld));
        for (int64_t j = 0; j < groups; ++j) {
          Value stored = LLVM::BitcastOp::create(
              b, loc, bf16Pair, pairs[interleaved ? j / 2 : j]);
          if (interleaved)
            stored = LLVM::ExtractElementOp::create(b, loc, stored,
                                                    i32c(b, loc, j % 2));
          storeGroup(rowOffset, j, stored, perGroup * 2);
        }
      }
      rewriter.eraseOp(op);
      return success();
    }
    for (int half = 0; half < 2; ++half) {
      Value row = arith::AddIOp::create(
          b, loc, row0, arith::ConstantIndexOp::create(b, loc, 8 * half));
      Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                           row, a.getRowLimit());
      auto ifOp = scf::IfOp::create(b, loc, inside, false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value rw;
      if (a.getRowWeights())
        rw = LLVM::LoadOp::create(
            b, loc, f32, elementAddress(b, loc, a.getRowWeights(), f32, row));
      Value rowOffset = LLVM::MulOp::create(b, loc, toI64(b, loc, row),
                                            i64c(b, loc, ld));
      SmallVector<Value> vals = halfValues(half, rw);
      for (int64_t j = 0; j < groups; ++j) {
        Value v = LLVM::UndefOp::create(b, loc, vecF32);
        for (int64_t e = 0; e < perGroup; ++e)
          v = LLVM::InsertElementOp::create(
              b, loc, v, vals[perGroup * j + e], i32c(b, loc, e));
        Value stored = v;
        if (!elem.isF32())
          stored = LLVM::FPTruncOp::create(b, loc, vecOut, v);
        if (perGroup == 1)
          stored = LLVM::ExtractElementOp::create(b, loc, stored,
                                                  i32c(b, loc, 0));
        storeGroup(rowOffset, j, stored, perGroup * elemBytes);
      }
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.acc_store_act_rows: thread t's row r = t mod 128 is tensor-memory
/// lane r (accColumns, the warp's lane quarter as moek.acc_store_rows).
/// Per 16 outputs: concatenated, the gate columns and the up columns 128
/// further (one .32x32b.x16 load each); interleaved, the 32 columns of
/// their gate/up pairs (one .x32 load). The loads run on every lane
/// (.sync.aligned); the rest only for rows below the limit.
struct AccStoreActRowsLowering : OpConversionPattern<AccStoreActRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccStoreActRowsOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    Type elem = op.getElementType(), g1 = op.getGemm1Type();
    int64_t ld = op.getLdAttr().getInt(), cols = op.getColsAttr().getInt();
    bool interleaved = op.getLayout() == "interleaved";
    float alpha = op.getAlpha().convertToFloat(),
          limit = op.getLimit().convertToFloat();
    // Outputs per step: 16 (32 loaded values live at a time).
    constexpr int64_t kChunk = 16;
    Value r, base; // captured by the lambdas below: no structured binding
    std::tie(r, base) =
        threadRowLane(b, loc, op, op.getAccs().getType(), a.getIndex(),
                      arith::ConstantIndexOp::create(b, loc, 0));
    // MXFP8 rows are bytes.
    Type rowElem = isa<Float8E4M3FNType>(elem) ? b.getI8Type() : elem;
    auto [rowBase, inside] = threadRowBase(b, loc, a.getOut(), rowElem, a.getRow(),
                                           r, a.getRowLimit(), ld);
    Value row = arith::AddIOp::create(b, loc, a.getRow(), toIndex(b, loc, r));
    Value first = toI32(b, loc, a.getFirstCol());
    Value col0 = toI64(b, loc, a.getCol());
    // Accumulator value c of v (plus `bias`, before the rounding), rounded
    // to gemm1_type.
    auto value = [&](OpBuilder &ob, Value v, int64_t c,
                     Value bias = Value()) -> Value {
      Value x = LLVM::BitcastOp::create(
          ob, loc, f32,
          LLVM::ExtractElementOp::create(ob, loc, v, i32c(ob, loc, c)));
      if (bias)
        x = LLVM::FAddOp::create(ob, loc, x, bias);
      if (!g1.isBF16())
        return x;
      return LLVM::FPExtOp::create(
          ob, loc, f32, LLVM::FPTruncOp::create(ob, loc, ob.getBF16Type(), x));
    };
    // The up values of output column c: c + C / 2 (concat).
    int64_t upOffset = op.getAccs().getType().getCols() / 2;
    // Output columns first + chunk `width` ...: their gate and up values
    // (interleaved: one load of their pairs; lo and hi the same).
    auto load = [&](int64_t chunk, int64_t width) -> std::pair<Value, Value> {
      Value out0 = LLVM::AddOp::create(b, loc, first,
                                       i32c(b, loc, width * chunk));
      Value lo, hi;
      if (interleaved) {
        lo = hi = loadLaneColumns(
            b, loc,
            LLVM::AddOp::create(
                b, loc, base,
                LLVM::MulOp::create(b, loc, out0, i32c(b, loc, 2))),
            2 * width);
      } else {
        lo = loadLaneColumns(b, loc, LLVM::AddOp::create(b, loc, base, out0),
                             width);
        hi = loadLaneColumns(
            b, loc,
            LLVM::AddOp::create(
                b, loc, base,
                LLVM::AddOp::create(b, loc, out0, i32c(b, loc, upOffset))),
            width);
      }
      waitLaneLoads(b, loc);
      return {lo, hi};
    };
    // The per-expert bias of output columns o = `out0` + c (c < count): of
    // w13's rows o and o + I (concatenated) or 2o and 2o + 1 (interleaved).
    auto biases = [&](Value out0,
                      int64_t count) -> std::pair<SmallVector<Value>,
                                                  SmallVector<Value>> {
      if (!a.getBias())
        return {};
      Type type = op.getBiasTypeAttr().getValue();
      int64_t bld = op.getBiasLdAttr().getInt();
      Value gate0 = interleaved ? LLVM::MulOp::create(b, loc, out0,
                                                      i64c(b, loc, 2))
                                : out0;
      Value up0 = LLVM::AddOp::create(b, loc, gate0,
                                      i64c(b, loc, interleaved ? 1 : bld / 2));
      int64_t stride = interleaved ? 2 : 1;
      return {loadBiasColumns(b, loc, a.getBias(), a.getBiasRow(), type, bld,
                              gate0, count, stride),
              loadBiasColumns(b, loc, a.getBias(), a.getBiasRow(), type, bld,
                              up0, count, stride)};
    };
    // Outputs 0 .. count - 1 of the loaded chunk (its first output column
    // `out0`), with the IEEE division (chunkedActivations is measured on
    // the H200 only; no Blackwell GPU has run these kernels).
    auto outputs = [&](Value lo, Value hi, Value rw, int64_t count,
                       Value out0) {
      auto [gb, ub] = biases(out0, count);
      SmallVector<Value> outs;
      for (int64_t c = 0; c < count; ++c) {
        Value g = value(b, lo, interleaved ? 2 * c : c,
                        gb.empty() ? Value() : gb[c]);
        Value u = value(b, hi, interleaved ? 2 * c + 1 : c,
                        ub.empty() ? Value() : ub[c]);
        Value o = activationOf(b, loc, op.getActivation(), alpha, limit, g, u);
        outs.push_back(rw ? LLVM::FMulOp::create(b, loc, o, rw).getResult()
                          : o);
      }
      return outs;
    };
    auto rowWeight = [&]() -> Value {
      if (!a.getRowWeights())
        return Value();
      return LLVM::LoadOp::create(
          b, loc, f32, elementAddress(b, loc, a.getRowWeights(), f32, row));
    };
    if (Value scales = a.getOutScales()) {
      // MXFP8: a 1x32 block per step, rounded to bf16, quantized in the
      // thread (the block is its own), 32 e4m3 bytes and the scale byte.
      // No column mask: ld is a multiple of 32, the block inside or out.
      Value scaleRow = elementAddress(
          b, loc, scales, b.getI8Type(),
          arith::MulIOp::create(b, loc, row,
                                arith::ConstantIndexOp::create(b, loc, ld / 32)));
      for (int64_t chunk = 0; chunk < cols / 32; ++chunk) {
        auto [lo, hi] = load(chunk, 32);
        auto ifOp = scf::IfOp::create(b, loc, inside, false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        Value rw = rowWeight();
        SmallVector<Value> vals;
        for (Value o : outputs(
                 lo, hi, rw, 32,
                 LLVM::AddOp::create(b, loc, col0, i64c(b, loc, 32 * chunk))))
          vals.push_back(LLVM::FPExtOp::create(
              b, loc, f32,
              LLVM::FPTruncOp::create(b, loc, b.getBF16Type(), o)));
        Mxfp8Block block = mxfp8Quantize(b, loc, vals, 1);
        Value colAt = LLVM::AddOp::create(b, loc, col0, i64c(b, loc, 32 * chunk));
        auto vec8 = VectorType::get({8}, b.getI16Type());
        for (int64_t half = 0; half < 2; ++half) {
          Value piece = LLVM::UndefOp::create(b, loc, vec8);
          for (int64_t p = 0; p < 8; ++p)
            piece = LLVM::InsertElementOp::create(
                b, loc, piece, block.pairs[8 * half + p], i32c(b, loc, p));
          LLVM::StoreOp::create(
              b, loc, piece,
              gepBytes(b, loc, rowBase,
                       LLVM::AddOp::create(b, loc, colAt,
                                           i64c(b, loc, 16 * half))),
              16);
        }
        LLVM::StoreOp::create(
            b, loc, block.scaleByte(b, loc),
            gepBytes(b, loc, scaleRow,
                     LLVM::UDivOp::create(b, loc, colAt, i64c(b, loc, 32))),
            1);
      }
      rewriter.eraseOp(op);
      return success();
    }
    for (int64_t chunk = 0; chunk < cols / kChunk; ++chunk) {
      Value lo, hi;
      std::tie(lo, hi) = load(chunk, kChunk);
      auto ifOp = scf::IfOp::create(b, loc, inside, false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      SmallVector<Value> vals = outputs(
          lo, hi, rowWeight(), kChunk,
          LLVM::AddOp::create(b, loc, col0, i64c(b, loc, kChunk * chunk)));
      storeRowValues(
          b, loc, elem, rowBase,
          LLVM::AddOp::create(b, loc, col0, i64c(b, loc, kChunk * chunk)),
          kChunk, ld, /*maskCols=*/true,
          [&](int64_t c) -> Value { return vals[c]; });
    }
    rewriter.eraseOp(op);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

/// Lays the rings of each kernel out in dynamic shared memory and creates
/// their barrier globals; records the dynamic shared memory the kernel needs.
LogicalResult planSharedMemory(ModuleOp module) {
  WalkResult result = module.walk([&](LLVM::LLVMFuncOp func) {
    int64_t offset = 0, index = 0;
    Operation *symbolTable = SymbolTable::getNearestSymbolTable(func);
    OpBuilder b(symbolTable->getContext());
    Region &body = symbolTable->getRegion(0);
    auto ensureDynamic = [&] {
      if (SymbolTable::lookupSymbolIn(symbolTable, kDynamicSmem))
        return;
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, func.getLoc(), LLVM::LLVMArrayType::get(b.getI8Type(), 0),
          /*isConstant=*/false, LLVM::Linkage::External, kDynamicSmem,
          Attribute(), /*alignment=*/16, /*addrSpace=*/3);
    };
    // The ring's cluster size, on the ops whose lowering depends on it.
    func.walk([&](Operation *op) {
      Value ring;
      if (auto release = dyn_cast<RingReleaseOp>(op))
        ring = release.getRing();
      else if (auto load = dyn_cast<TmaLoadOp>(op))
        ring = load.getRing();
      if (auto alloc = ring ? ring.getDefiningOp<RingAllocOp>() : nullptr)
        op->setAttr(kRingClusterAttr, b.getI64IntegerAttr(alloc.getCluster()));
    });
    WalkResult r = func.walk([&](RingAllocOp ring) {
      ensureDynamic();
      RingType type = ring.getRing().getType();
      std::string name =
          (func.getSymName() + "_moek_barriers_" + Twine(index++)).str();
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, ring.getLoc(),
          // Full and empty barriers, then one tag word per stage.
          LLVM::LLVMArrayType::get(b.getI64Type(), 3 * type.getStages()),
          /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
          /*alignment=*/8, /*addrSpace=*/3);
      ring->setAttr(kSmemOffsetAttr, b.getI64IntegerAttr(offset));
      ring->setAttr(kBarriersAttr, FlatSymbolRefAttr::get(b.getContext(), name));
      offset += llvm::alignTo(type.getRingBytes(), 1024);
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      return WalkResult::interrupt();
    // The signal relay (moek.signal {relayed}, moek.signal_end,
    // moek.signal_relay): its global, named on those ops and on the ring
    // whose lowering initializes its barriers.
    SmallVector<Operation *> relayOps, rings;
    bool hasRelay = false;
    func.walk([&](Operation *op) {
      if (auto signal = dyn_cast<SignalOp>(op)) {
        if (signal.getRelayed())
          relayOps.push_back(op);
      } else if (isa<SignalEndOp>(op)) {
        relayOps.push_back(op);
      } else if (isa<SignalRelayOp>(op)) {
        relayOps.push_back(op);
        hasRelay = true;
      } else if (isa<RingAllocOp>(op)) {
        rings.push_back(op);
      }
    });
    if (!relayOps.empty()) {
      if (!hasRelay || rings.empty()) {
        relayOps.front()->emitOpError()
            << "needs a moek.signal_relay and a moek.ring_alloc (whose "
               "barriers' initialization covers the relay's) in its kernel";
        return WalkResult::interrupt();
      }
      std::string name = (func.getSymName() + "_moek_relay").str();
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, func.getLoc(),
          LLVM::LLVMArrayType::get(b.getI64Type(), kRelayWords),
          /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
          /*alignment=*/8, /*addrSpace=*/3);
      auto sym = FlatSymbolRefAttr::get(b.getContext(), name);
      for (Operation *op : relayOps)
        op->setAttr(kRelayAttr, sym);
      rings.front()->setAttr(kRelayAttr, sym);
    }
    // Blocks handed between warpgroups, after the rings.
    func.walk([&](SmemAllocOp alloc) {
      ensureDynamic();
      alloc->setAttr(kSmemOffsetAttr, b.getI64IntegerAttr(offset));
      offset += llvm::alignTo(alloc.getBytesAttr().getInt(), 1024);
    });
    // Tile tables: a grouped_tile_count run by every thread of the kernel
    // (at its top level) gets a table in shared memory; the grouped_tile ops
    // on the same offsets and tiling use it.
    int64_t tables = 0;
    func.walk([&](GroupedTileCountOp count) {
      if (count->getBlock() != &func.getBody().front())
        return;
      std::string name =
          (func.getSymName() + "_moek_tiles_" + Twine(tables++)).str();
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, count.getLoc(),
          LLVM::LLVMArrayType::get(b.getI32Type(),
                                   count.getNumExpertsAttr().getInt() + 1),
          /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
          /*alignment=*/4, /*addrSpace=*/3);
      auto sym = FlatSymbolRefAttr::get(b.getContext(), name);
      count->setAttr(kTileTableAttr, sym);
      func.walk([&](GroupedTileOp tile) {
        if (tile.getOffsets() == count.getOffsets() &&
            tile.getNumExpertsAttr() == count.getNumExpertsAttr() &&
            tile.getTileRowsAttr() == count.getTileRowsAttr() &&
            tile.getColTilesAttr() == count.getColTilesAttr() &&
            tile.getTailRows() == count.getTailRows())
          tile->setAttr(kTileTableAttr, sym);
      });
    });
    // Dispatches: each CTA's expert offsets, in shared memory.
    int64_t dispatches = 0;
    auto planTable = [&](Operation *dispatch, int64_t experts) {
      std::string name =
          (func.getSymName() + "_moek_dispatch_" + Twine(dispatches++)).str();
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, dispatch->getLoc(),
          LLVM::LLVMArrayType::get(b.getI32Type(), experts + 1),
          /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
          /*alignment=*/4, /*addrSpace=*/3);
      dispatch->setAttr(kDispatchTableAttr,
                        FlatSymbolRefAttr::get(b.getContext(), name));
    };
    func.walk([&](DispatchOp dispatch) {
      planTable(dispatch, dispatch.getNumExpertsAttr().getInt());
    });
    func.walk([&](EpDispatchOp dispatch) {
      planTable(dispatch, dispatch.getRanksAttr().getInt() *
                              dispatch.getExpertsPerRankAttr().getInt());
    });
    if (offset > 0) {
      // The run-time 1024-byte alignment of the base may use up to 1 KiB.
      int64_t bytes = offset + 1024;
      // A CTA may have 227 KB of shared memory on sm_90a and sm_100a: a
      // kernel that needs more could never launch.
      if (bytes > kMaxSharedMemory) {
        // At the kernel's location, without the kernel printed after it.
        emitError(func.getLoc())
            << "kernel '" << func.getSymName() << "' needs " << bytes
            << " bytes of dynamic shared memory (its rings and buffers); a "
               "CTA may have "
            << kMaxSharedMemory << " (227 KB): fewer stages or smaller tiles";
        return WalkResult::interrupt();
      }
      func->setAttr("moek.dynamic_smem_bytes", b.getI64IntegerAttr(bytes));
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

//===----------------------------------------------------------------------===//
// FP4 weights (moek.dequant_fp4)
//===----------------------------------------------------------------------===//

/// Two e2m1 values as a bf16x2 pair 2^-126 times theirs, exactly: `byte`
/// (i32, only its low 8 bits set) holds them packed (the first in the low
/// nibble). A nibble's magnitude bits x placed at bf16 bits 6-8 read as a
/// value 2^-126 times the e2m1 one (exponent field x >> 1, mantissa top bit
/// x & 1; x < 2 the subnormals 0 and 2^-127), its sign at bit 15. Both
/// nibbles are placed at once: byte * 0x40040 puts the low one at bit 6
/// and the high one at bit 22, byte * 0x1001000 their signs at bits 15 and
/// 31.
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

/// Byte `q` of `word` (i32) alone in the low byte (one prmt: LLVM turned
/// some of the shift-and-mask forms into longer sequences).
Value byteOf(OpBuilder &b, Location loc, Value word, int64_t q) {
  return NVVM::PermuteOp::create(b, loc, b.getI32Type(), word,
                                 i32c(b, loc, 0), i32c(b, loc, 0x4440 | q),
                                 NVVM::PermuteMode::DEFAULT);
}

/// `pair` (bf16x2) times the bf16x2 `factor`, as i32.
Value bf16PairTimes(OpBuilder &b, Location loc, Value pair, Value factor) {
  return LLVM::BitcastOp::create(b, loc, b.getI32Type(),
                                 LLVM::FMulOp::create(b, loc, pair, factor));
}

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
      b, loc, LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, byte, c32(0)),
      c32(half), bits);
  return LLVM::SelectOp::create(
      b, loc,
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, byte, c32(255)),
      c32((int64_t(0xFF) << exponentShift) | half), bits);
}

/// The bf16x2 pair 2^(byte - 127), 2^(byte - 127) of a UE8M0 scale byte
/// (i32): byte << 7 in each lane, except 0 (2^-127, a bf16 subnormal) and
/// 255 (NaN).
Value ue8m0ScalePair(OpBuilder &b, Location loc, Value byte) {
  Value bits = ue8m0Bits(b, loc, byte, /*exponentShift=*/7);
  Value pair = LLVM::OrOp::create(
      b, loc, bits, LLVM::ShlOp::create(b, loc, bits, i32c(b, loc, 16)));
  return LLVM::BitcastOp::create(b, loc, VectorType::get({2}, b.getBF16Type()),
                                 pair);
}

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

/// The bf16x2 pair s, s of an e4m3 scale byte (i32), exactly: the byte's
/// sign, exponent and mantissa at bf16 bits 15 and 4-14 are s * 2^-120
/// (e4m3 subnormals included, as bf16 subnormals), times 2^120; 0x7F and
/// 0xFF (NaN) give NaN.
Value e4m3ScalePair(OpBuilder &b, Location loc, Value byte) {
  auto c = [&](int64_t v) { return i32c(b, loc, v); };
  Value mag = LLVM::AndOp::create(b, loc, byte, c(0x7F));
  Value bits = LLVM::OrOp::create(
      b, loc,
      LLVM::ShlOp::create(b, loc, LLVM::AndOp::create(b, loc, byte, c(0x80)),
                          c(8)),
      LLVM::ShlOp::create(b, loc, mag, c(4)));
  bits = LLVM::SelectOp::create(
      b, loc, LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, mag, c(0x7F)),
      c(0x7FC0), bits);
  auto pairTy = VectorType::get({2}, b.getBF16Type());
  Value tiny = LLVM::BitcastOp::create(
      b, loc, pairTy,
      LLVM::OrOp::create(b, loc, bits, LLVM::ShlOp::create(b, loc, bits, c(16))));
  // 2^120 in bf16: exponent field 247.
  Value twoTo120 = LLVM::BitcastOp::create(b, loc, pairTy, c(0x7B807B80));
  return LLVM::FMulOp::create(b, loc, tiny, twoTo120);
}

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
      Value scaleRow = LLVM::UMinOp::create(
          rewriter, loc,
          expansionScaleRow(rewriter, loc, r, rows, row0,
                            adaptor.getUpperRow()),
          lastRow);
      Value scaleIndex = LLVM::AddOp::create(
          rewriter, loc,
          LLVM::MulOp::create(rewriter, loc, scaleRow,
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
            Value word = LLVM::ExtractElementOp::create(
                rewriter, loc, values, c32(2 * c + q / 2));
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
          LLVM::StoreOp::create(rewriter, loc, chunk,
                                at(dst, bf16SwizzledChunk(rewriter, loc, r, kc)),
                                16);
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
            Value v = first.empty() ? tinyPairs[4 * w + q]
                                    : LLVM::FMulOp::create(
                                          cb, loc, tinyPairs[4 * w + q],
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
      Value twoTo126 = LLVM::BitcastOp::create(
          rewriter, loc, pairTy, i32c(rewriter, loc, 0x7E807E80));
      SmallVector<Value> chunks;
      if (nvfp4) {
        // Times 2^126, then the e4m3 scales (two multiplications: a scale
        // times 2^126 overflows bf16).
        Value scales[2];
        for (int64_t h = 0; h < 2; ++h)
          scales[h] = e4m3ScalePair(
              rewriter, loc,
              LLVM::AndOp::create(
                  rewriter, loc,
                  LLVM::LShrOp::create(rewriter, loc, bytes,
                                       i32c(rewriter, loc, 8 * h)),
                  i32c(rewriter, loc, 0xFF)));
        chunks = chunksTimes(rewriter, {twoTo126, twoTo126}, scales);
      } else {
        // MXFP4, scale 2^(s - 127): for s <= 128 one multiplication by
        // 2^(s - 1) (bf16 exponent field s + 126: a normal number, exact);
        // above, 2^(s - 1) overflows bf16, so by 2^126 then by the scale.
        // The branch is taken by the whole warp unless a block's scale
        // exceeds 2 (weights above 12).
        Value small = LLVM::ICmpOp::create(rewriter, loc,
                                           LLVM::ICmpPredicate::ule, bytes,
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
        bytes.push_back(static_cast<int8_t>(e4m3Byte(v * std::ldexp(1.0, 6 - d))));
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
/// The address of the kernel's shared copy of the tables
/// (planFp4SharedTables, below).
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
             }).wasInterrupted())
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
    auto ifOp = scf::IfOp::create(
        b, loc,
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, tid,
                             i32c(b, loc, words)),
        false);
    {
      OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      Value word = LLVM::LoadOp::create(
          tb, loc, tb.getI32Type(),
          LLVM::GEPOp::create(tb, loc, global.getType(), tb.getI32Type(),
                              global, ValueRange{tid}),
          4);
      LLVM::StoreOp::create(
          tb, loc, word,
          LLVM::GEPOp::create(tb, loc, shared.getType(), tb.getI32Type(),
                              shared, ValueRange{tid}),
          4);
    }
    NVVM::Barrier0Op::create(b, loc);
  });
}

/// The byte table (2 x i32) of the 32-value block whose UE8M0 scale is byte
/// `blk` (i32) of `word`, in a row whose largest scale is `m`: entry
/// min(m - s, 19) of `tables` (fp4ExpansionTables).
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

/// Eight packed e2m1 values (`w`, value i in nibble i) as eight e4m3 bytes
/// (two words) through the byte table {t0, t1} of their magnitudes: one
/// prmt looks up four magnitudes, a second replicates the four sign bits
/// (bit 3 of each nibble, found at bit 7 of a byte of w << 4 or of w).
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

/// The column scale 2^(m - 133) of a UE8M0 row maximum `m` (i32): 2^(m -
/// 127) from its f32 bits (0: 2^-127, a subnormal; 255: NaN), times 2^-6.
Value fp4ColumnScale(OpBuilder &b, Location loc, Value m) {
  Value bits = ue8m0Bits(b, loc, m, /*exponentShift=*/23);
  Type f32 = b.getF32Type();
  return LLVM::FMulOp::create(
      b, loc, LLVM::BitcastOp::create(b, loc, f32, bits),
      LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.015625f)));
}

/// The largest of the four bytes of `word` (i32).
Value maxByte(OpBuilder &b, Location loc, Value word) {
  Value s[4];
  for (int64_t c = 0; c < 4; ++c)
    s[c] = LLVM::AndOp::create(
        b, loc, LLVM::LShrOp::create(b, loc, word, i32c(b, loc, 8 * c)),
        i32c(b, loc, 0xFF));
  return LLVM::UMaxOp::create(b, loc, LLVM::UMaxOp::create(b, loc, s[0], s[1]),
                              LLVM::UMaxOp::create(b, loc, s[2], s[3]));
}

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
        LLVM::AddOp::create(rewriter, loc, toI64(rewriter, loc, adaptor.getRow()),
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
    rewriter.replaceOp(
        op, mapFragment(rewriter, loc, adaptor.getAcc(),
                        fragmentSize(op.getAcc().getType()),
                        [&](int64_t, Value v) -> Value {
                          return LLVM::FMulOp::create(rewriter, loc, v,
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
    Value rowBase = LLVM::MulOp::create(
        rewriter, loc, toI64(rewriter, loc, adaptor.getRow()),
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
            LLVM::ICmpOp::create(
                b, loc, LLVM::ICmpPredicate::slt,
                LLVM::AddOp::create(b, loc, second ? upperBase : base,
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
    Value full = twoHalves ? LLVM::AndOp::create(rewriter, loc,
                                                 below(col, cols / 2),
                                                 below(upper, cols / 2))
                           : below(col, cols);
    auto ifOp = scf::IfOp::create(rewriter, loc,
                                  TypeRange{adaptor.getAcc().getType()}, full,
                                  /*withElseRegion=*/true);
    for (bool guarded : {false, true}) {
      OpBuilder bb = OpBuilder::atBlockEnd(guarded ? ifOp.elseBlock()
                                                   : ifOp.thenBlock());
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
            LLVM::MulOp::create(
                rewriter, loc,
                LLVM::URemOp::create(rewriter, loc, lane, i32c(rewriter, loc, 4)),
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
          LLVM::ExtractValueOp::create(rewriter, loc, acc, ArrayRef<int64_t>{i}),
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
    Value rowDst = bytesAt(dst, LLVM::MulOp::create(rewriter, loc, t, c32(128)));
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
              bytesAt(rowDst,
                      LLVM::ShlOp::create(
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
              LLVM::UMinOp::create(lb, ll,
                                   LLVM::AddOp::create(lb, ll, blk,
                                                       i32c(lb, ll, 1)),
                                   i32c(lb, ll, 3)));
          Value packed = it[0];
          Value t0 = LLVM::ExtractElementOp::create(lb, ll, it[1],
                                                    i32c(lb, ll, 0));
          Value t1 = LLVM::ExtractElementOp::create(lb, ll, it[1],
                                                    i32c(lb, ll, 1));
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
                gepBytes(lb, ll, rowDst, LLVM::ZExtOp::create(lb, ll, i64, off)),
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
    Value stored = add(add(mul(andc(shr(t, 4), 3), 32), mul(shr(t, 6), 16)),
                       andc(t, 15));
    Value rowSrc = gepBytesU32(rewriter, loc, src, mul(t, 64));
    Value rowDst = gepBytesU32(rewriter, loc, dst, mul(stored, 128));
    Value loadSwz = andc(shr(t, 1), 3), storeSwz = andc(stored, 7);
    auto quadTy = VectorType::get({4}, i32);
    Value zero = c32(0);
    for (int64_t blk = 0; blk < 4; ++blk) {
      Value packed = LLVM::LoadOp::create(
          rewriter, loc, quadTy,
          gepBytesU32(rewriter, loc, rowSrc,
                      mul(LLVM::XOrOp::create(rewriter, loc, loadSwz, c32(blk)),
                          16)),
          16);
      for (int64_t g = 0; g < 2; ++g) {
        Value chunk = LLVM::UndefOp::create(rewriter, loc, quadTy);
        for (int64_t w = 0; w < 4; ++w)
          chunk = LLVM::InsertElementOp::create(
              rewriter, loc, chunk,
              w < 2 ? Value(LLVM::ExtractElementOp::create(rewriter, loc,
                                                           packed,
                                                           c32(2 * g + w)))
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
    Value word = loadBlockScaleWord(rewriter, loc, adaptor.getScales(),
                                    adaptor.getRow(), t, adaptor.getKb(),
                                    op.getScaleRowsAttr().getInt(),
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

//===----------------------------------------------------------------------===//
// Transposed MXFP4 products for small tiles (sm_90a: A from registers)
//===----------------------------------------------------------------------===//
//
// A tile of few tokens (moe-to-moek: at most 16) multiplies the expert's
// weights as wgmma's A operand, expanded to e4m3 in each thread's own
// registers, by the tokens as B (m64n16k32): the weights need no
// shared-memory round trip, fence or barrier, and the tensor cores work on
// 16 token columns instead of 64 rows. Each warpgroup thread holds rows
// `16 * warp + lane / 4` and + 8 of the 64-row fragment, and in K step s
// of a 128-wide block the K positions 4q..4q+3 and 16+4q..16+4q+3 (q =
// lane % 4). The token rows are stored in the matching K order
// (`permute_k`, permutedKWord): those positions hold values 8s..8s+7 of
// 32-value block q, so over the four steps each thread expands block q of
// its two rows (one UE8M0 scale, one 16-byte load a row).

/// Lane `lane % 4` of the calling thread (i32).
Value quadLane(OpBuilder &b, Location loc) {
  return LLVM::AndOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 3));
}

/// The weight rows (i64, clamped to `scaleRows - 1`) of the calling
/// thread's A fragment rows of `blocks` 64-row blocks from `row` (index):
/// element 2f + h is row r + 8h of block f.
SmallVector<Value, 4> fragmentWeightRows(OpBuilder &b, Location loc, Value row,
                                         int64_t scaleRows,
                                         int64_t blocks = 1) {
  Value r0 = LLVM::AddOp::create(
      b, loc, toI64(b, loc, row),
      LLVM::ZExtOp::create(b, loc, b.getI64Type(), fragmentRow(b, loc)));
  SmallVector<Value, 4> rows;
  for (int64_t f = 0; f < blocks; ++f)
    for (int64_t h = 0; h < 2; ++h)
      rows.push_back(LLVM::UMinOp::create(
          b, loc, LLVM::AddOp::create(b, loc, r0, i64c(b, loc, 64 * f + 8 * h)),
          i64c(b, loc, scaleRows - 1)));
  return rows;
}

Value pairOf(OpBuilder &b, Location loc, Value v0, Value v1) {
  auto ty = VectorType::get({2}, v0.getType());
  Value v = LLVM::UndefOp::create(b, loc, ty);
  v = LLVM::InsertElementOp::create(b, loc, v, v0, i32c(b, loc, 0));
  return LLVM::InsertElementOp::create(b, loc, v, v1, i32c(b, loc, 1));
}

struct Fp4FragmentRowMaxLowering : OpConversionPattern<Fp4FragmentRowMaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Fp4FragmentRowMaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    int64_t cols = op.getScaleColsAttr().getInt();
    auto rows = fragmentWeightRows(rewriter, loc, adaptor.getRow(),
                                   op.getScaleRowsAttr().getInt());
    Value bases[2];
    for (int64_t h = 0; h < 2; ++h)
      bases[h] = gepBytes(
          rewriter, loc, adaptor.getScales(),
          LLVM::MulOp::create(rewriter, loc, rows[h], i64c(rewriter, loc, cols)));
    // Pieces q, q + 4, ... of each row (16 bytes when the row is a multiple
    // of 16, else 4), kPerIter of a row an iteration all in flight (a
    // piece past the row rereads the first), then the quad's maximum.
    constexpr int64_t kPerIter = 4;
    int64_t width = cols % 16 == 0 ? 4 : 1;
    int64_t pieces = cols / (4 * width);
    int64_t perLane = llvm::divideCeil(pieces, 4);
    auto vecTy = VectorType::get({width}, i32);
    Value q4 = quadLane(rewriter, loc);
    auto loop = scf::ForOp::create(
        rewriter, loc, arith::ConstantIndexOp::create(rewriter, loc, 0),
        arith::ConstantIndexOp::create(rewriter, loc, perLane),
        arith::ConstantIndexOp::create(rewriter, loc, kPerIter),
        ValueRange{i32c(rewriter, loc, 0), i32c(rewriter, loc, 0)},
        [&](OpBuilder &lb, Location ll, Value i0, ValueRange it) {
          SmallVector<Value> vals[2];
          for (int64_t u = 0; u < kPerIter; ++u) {
            // Piece 4 (i0 + u) + q.
            Value j = LLVM::AddOp::create(
                lb, ll,
                LLVM::ShlOp::create(
                    lb, ll,
                    LLVM::AddOp::create(lb, ll, toI32(lb, ll, i0),
                                        i32c(lb, ll, u)),
                    i32c(lb, ll, 2)),
                q4);
            Value inside = LLVM::ICmpOp::create(lb, ll, LLVM::ICmpPredicate::ult,
                                                j, i32c(lb, ll, pieces));
            Value jj = LLVM::SelectOp::create(lb, ll, inside, j, i32c(lb, ll, 0));
            Value off = LLVM::ZExtOp::create(
                lb, ll, lb.getI64Type(),
                LLVM::MulOp::create(lb, ll, jj, i32c(lb, ll, 4 * width)));
            for (int64_t h = 0; h < 2; ++h)
              vals[h].push_back(LLVM::LoadOp::create(
                  lb, ll, vecTy, gepBytes(lb, ll, bases[h], off), 4 * width));
          }
          SmallVector<Value> next;
          for (int64_t h = 0; h < 2; ++h) {
            Value mh = it[h];
            for (Value v : vals[h])
              for (int64_t e = 0; e < width; ++e)
                mh = LLVM::UMaxOp::create(
                    lb, ll, mh,
                    maxByte(lb, ll,
                            LLVM::ExtractElementOp::create(lb, ll, v,
                                                           i32c(lb, ll, e))));
            next.push_back(mh);
          }
          scf::YieldOp::create(lb, ll, next);
        });
    loop->setAttr("loop_annotation", noUnrollAnnotation(rewriter.getContext()));
    Value m[2];
    for (int64_t h = 0; h < 2; ++h) {
      m[h] = loop.getResult(h);
      for (int64_t d = 1; d < 4; d *= 2)
        m[h] = LLVM::UMaxOp::create(
            rewriter, loc, m[h],
            NVVM::ShflOp::create(
                rewriter, loc, i32, i32c(rewriter, loc, -1), m[h],
                i32c(rewriter, loc, d), i32c(rewriter, loc, 0x1f),
                NVVM::ShflKindAttr::get(rewriter.getContext(),
                                        NVVM::ShflKind::bfly),
                UnitAttr()));
    }
    rewriter.replaceOp(op, pairOf(rewriter, loc, m[0], m[1]));
    return success();
  }
};

struct LoadFp4FragmentScalesLowering
    : OpConversionPattern<LoadFp4FragmentScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadFp4FragmentScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    auto rows = fragmentWeightRows(rewriter, loc, adaptor.getRow(),
                                   op.getScaleRowsAttr().getInt());
    Value words[2];
    for (int64_t h = 0; h < 2; ++h) {
      // Word (row * scale_cols + 4 * k_block) / 4.
      Value word = LLVM::AddOp::create(
          rewriter, loc,
          LLVM::MulOp::create(
              rewriter, loc, rows[h],
              i64c(rewriter, loc, op.getScaleColsAttr().getInt() / 4)),
          toI64(rewriter, loc, adaptor.getKBlock()));
      words[h] = LLVM::LoadOp::create(
          rewriter, loc, i32,
          LLVM::GEPOp::create(rewriter, loc, adaptor.getScales().getType(),
                              i32, adaptor.getScales(), ValueRange{word}),
          4);
    }
    rewriter.replaceOp(op, pairOf(rewriter, loc, words[0], words[1]));
    return success();
  }
};

/// wgmma.mma_async m64nNk32 e4m3 (with `bf16`: m64nNk16 bf16, B not
/// transposed) with A from the four registers `a` and B from descriptor
/// `descB`, into `acc` (struct of N/2 f32) or, when `acc` is null, a fresh
/// product (scale-d false).
Value wgmmaRegA(OpBuilder &b, Location loc, LLVM::LLVMStructType accTy,
                Value acc, ArrayRef<Value> a, Value descB, int64_t n,
                bool bf16 = false) {
  int64_t nd = n / 2;
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, $" +
                     std::to_string(nd + (acc ? nd : 0) + 5) +
                     ", 0;\nwgmma.mma_async.sync.aligned.m64n" +
                     std::to_string(n) +
                     (bf16 ? "k16.f32.bf16.bf16 {" : "k32.f32.e4m3.e4m3 {");
  std::string constraints;
  for (int64_t i = 0; i < nd; ++i) {
    text += (i ? ", $" : "$") + std::to_string(i);
    constraints += (i ? ",=f" : "=f");
  }
  SmallVector<Value> operands;
  if (acc)
    for (int64_t i = 0; i < nd; ++i) {
      operands.push_back(
          LLVM::ExtractValueOp::create(b, loc, acc, ArrayRef<int64_t>{i}));
      constraints += "," + std::to_string(i);
    }
  int64_t a0 = nd + (acc ? nd : 0);
  text += "}, {";
  for (int64_t i = 0; i < 4; ++i) {
    text += (i ? ", $" : "$") + std::to_string(a0 + i);
    operands.push_back(a[i]);
    constraints += ",r";
  }
  text += "}, $" + std::to_string(a0 + 4) +
          (bf16 ? ", p, 1, 1, 0;\n}" : ", p, 1, 1;\n}");
  operands.push_back(descB);
  constraints += ",l,r";
  operands.push_back(i32c(b, loc, acc ? 1 : 0));
  return LLVM::InlineAsmOp::create(
             b, loc, TypeRange{accTy}, operands, text, constraints,
             /*has_side_effects=*/true, /*is_align_stack=*/false,
             LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

struct Fp4FragmentTablesLowering
    : OpConversionPattern<Fp4FragmentTablesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Fp4FragmentTablesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value tables = fp4SharedTables(rewriter, loc);
    Value q = quadLane(rewriter, loc);
    Value tab[2];
    for (int64_t h = 0; h < 2; ++h)
      // Block q's table: its scale is byte q of the row's word.
      tab[h] = fp4BlockTable(
          rewriter, loc, tables,
          LLVM::ExtractElementOp::create(rewriter, loc, adaptor.getScales(),
                                         i32c(rewriter, loc, h)),
          q,
          LLVM::ExtractElementOp::create(rewriter, loc, adaptor.getRowMax(),
                                         i32c(rewriter, loc, h)));
    // Row r's two words, then row r + 8's.
    rewriter.replaceOp(op, LLVM::ShuffleVectorOp::create(
                               rewriter, loc, tab[0], tab[1],
                               ArrayRef<int32_t>{0, 1, 2, 3}));
    return success();
  }
};

struct MmaFp4Lowering : OpConversionPattern<MmaFp4Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaFp4Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i64 = rewriter.getI64Type();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    Value packed = tileAddress(rewriter, loc, p, type, op.getPackedAttr().getInt());
    Value descB = smemDescriptor(
        rewriter, loc, tileAddress(rewriter, loc, p, type, op.getBAttr().getInt()));
    Value q = quadLane(rewriter, loc);
    Value r0 = LLVM::AddOp::create(rewriter, loc, toI32(rewriter, loc, adaptor.getARow()),
                                   fragmentRow(rewriter, loc));
    int64_t blocks = op.getResults().size();
    // Per block f and fragment row h (r and r + 8): the row's packed block
    // q (16 bytes).
    SmallVector<std::array<Value, 2>> packedBlock(blocks);
    auto quadTy = VectorType::get({4}, rewriter.getI32Type());
    for (int64_t f = 0; f < blocks; ++f)
      for (int64_t h = 0; h < 2; ++h) {
        Value r = LLVM::AddOp::create(rewriter, loc, r0, c32(64 * f + 8 * h));
        // Block q of the row: 16-byte chunk q at (q ^ (r / 2 % 4)) * 16 (the
        // 64-byte swizzle).
        Value chunk = LLVM::XOrOp::create(
            rewriter, loc, q,
            LLVM::AndOp::create(rewriter, loc,
                                LLVM::LShrOp::create(rewriter, loc, r, c32(1)),
                                c32(3)));
        Value rowBase = gepBytes(
            rewriter, loc, packed,
            LLVM::ZExtOp::create(
                rewriter, loc, i64,
                LLVM::AddOp::create(
                    rewriter, loc, LLVM::MulOp::create(rewriter, loc, r, c32(64)),
                    LLVM::ShlOp::create(rewriter, loc, chunk, c32(4)))));
        packedBlock[f][h] =
            LLVM::LoadOp::create(rewriter, loc, quadTy, rowBase, 16);
      }
    int64_t n = cast<AccType>(op.getResults().front().getType()).getCols();
    auto accTy = cast<LLVM::LLVMStructType>(
        getTypeConverter()->convertType(op.getResults().front().getType()));
    SmallVector<Value> acc(blocks);
    int64_t group = op.getStepsPerFence();
    for (int64_t s0 = 0; s0 < 4; s0 += group) {
      // Registers of step s: (row r, K positions 4q..), (row r + 8, 4q..),
      // (row r, 16 + 4q..), (row r + 8, 16 + 4q..): values 8s..8s+3 and
      // 8s+4..8s+7 of block q (packed word s), where the permuted tile b
      // holds those K indices. The group's registers of every block first,
      // then one fence, then its MMAs.
      SmallVector<std::array<Value, 4>> regs(group * blocks);
      for (int64_t s = s0; s < s0 + group; ++s)
        for (int64_t f = 0; f < blocks; ++f)
          for (int64_t h = 0; h < 2; ++h) {
            auto [lo, hi] = e2m1ToE4m3(
                rewriter, loc,
                LLVM::ExtractElementOp::create(rewriter, loc, packedBlock[f][h],
                                               c32(s)),
                LLVM::ExtractElementOp::create(
                    rewriter, loc, adaptor.getTables()[f], c32(2 * h)),
                LLVM::ExtractElementOp::create(
                    rewriter, loc, adaptor.getTables()[f], c32(2 * h + 1)));
            regs[(s - s0) * blocks + f][h] = lo;
            regs[(s - s0) * blocks + f][2 + h] = hi;
          }
      NVVM::WgmmaFenceAlignedOp::create(rewriter, loc);
      for (int64_t s = s0; s < s0 + group; ++s)
        for (int64_t f = 0; f < blocks; ++f)
          acc[f] = wgmmaRegA(
              rewriter, loc, accTy, acc[f], regs[(s - s0) * blocks + f],
              LLVM::AddOp::create(rewriter, loc, descB, i64c(rewriter, loc, 2 * s)),
              n);
    }
    NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
    rewriter.replaceOp(op, acc);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Transposed FP4 products for small tiles of the bf16 kernel (sm_90a)
//===----------------------------------------------------------------------===//
//
// As moek.mma_fp4, with bf16: a tile of few tokens multiplies the weights
// as wgmma's A operand, expanded to bf16 in each thread's registers, by the
// tokens as B (m64n16k16). In K step s of a 64-wide slice a thread holds,
// for rows r and r + 8 of a 64-row block, K positions 16s + 2q, + 1 and
// 16s + 8 + 2q, + 1 (q = lane % 4): bytes 8s + q and 8s + 4 + q of the
// row's 32 packed bytes, byte q of words 2s and 2s + 1. No K order is
// permuted: the token rows are the kernel's usual tile.

struct LoadFp4SliceScalesLowering : OpConversionPattern<LoadFp4SliceScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadFp4SliceScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    bool nvfp4 = op.getNvfp4();
    int64_t per = nvfp4 ? 4 : 2;
    Type word = nvfp4 ? i32 : rewriter.getI16Type();
    Value slice = toI64(rewriter, loc, adaptor.getSlice());
    Value result = LLVM::UndefOp::create(rewriter, loc,
                                         VectorType::get({4}, i32));
    SmallVector<Value, 4> rows =
        fragmentWeightRows(rewriter, loc, adaptor.getRow(),
                           op.getScaleRowsAttr().getInt(), /*blocks=*/2);
    for (int64_t f = 0; f < 2; ++f) {
      for (int64_t h = 0; h < 2; ++h) {
        Value r = rows[2 * f + h];
        // Element (r * scale_cols + per * slice) / per of per-byte words.
        Value index = LLVM::AddOp::create(
            rewriter, loc,
            LLVM::MulOp::create(
                rewriter, loc, r,
                i64c(rewriter, loc, op.getScaleColsAttr().getInt() / per)),
            slice);
        Value v = LLVM::LoadOp::create(
            rewriter, loc, word,
            LLVM::GEPOp::create(rewriter, loc, adaptor.getScales().getType(),
                                word, adaptor.getScales(), ValueRange{index}),
            per);
        if (!nvfp4)
          v = LLVM::ZExtOp::create(rewriter, loc, i32, v);
        result = LLVM::InsertElementOp::create(rewriter, loc, result, v,
                                               i32c(rewriter, loc, 2 * f + h));
      }
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct MmaFp4Bf16Lowering : OpConversionPattern<MmaFp4Bf16Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaFp4Bf16Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type(), i64 = rewriter.getI64Type();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    RingType type = op.getRing().getType();
    RingParts p =
        unpackRing(rewriter, loc, adaptor.getRing(), type, adaptor.getIter());
    Value packed =
        tileAddress(rewriter, loc, p, type, op.getPackedAttr().getInt());
    Value descB = smemDescriptor(
        rewriter, loc,
        tileAddress(rewriter, loc, p, type, op.getBAttr().getInt()));
    // prmt's selector of byte q alone in the low byte.
    Value select = LLVM::OrOp::create(rewriter, loc, quadLane(rewriter, loc),
                                      c32(0x4440));
    Value r0 = LLVM::AddOp::create(rewriter, loc,
                                   toI32(rewriter, loc, adaptor.getARow()),
                                   fragmentRow(rewriter, loc));
    int64_t blocks = op.getResults().size();
    bool nvfp4 = op.getNvfp4();
    // Per block f and fragment row h: the row's 32 packed bytes (words
    // 0..7) and its scales.
    auto quadTy = VectorType::get({4}, i32);
    SmallVector<std::array<SmallVector<Value>, 2>> words(blocks);
    SmallVector<std::array<Value, 2>> scales(blocks);
    for (int64_t f = 0; f < blocks; ++f)
      for (int64_t h = 0; h < 2; ++h) {
        Value r = LLVM::AddOp::create(rewriter, loc, r0, c32(64 * f + 8 * h));
        Value off = LLVM::MulOp::create(rewriter, loc, r, c32(32));
        for (int64_t half = 0; half < 2; ++half) {
          Value v = LLVM::LoadOp::create(
              rewriter, loc, quadTy,
              gepBytes(rewriter, loc, packed,
                       LLVM::ZExtOp::create(
                           rewriter, loc, i64,
                           LLVM::AddOp::create(rewriter, loc, off,
                                               c32(16 * half)))),
              16);
          for (int64_t w = 0; w < 4; ++w)
            words[f][h].push_back(
                LLVM::ExtractElementOp::create(rewriter, loc, v, c32(w)));
        }
        scales[f][h] = LLVM::ExtractElementOp::create(
            rewriter, loc, adaptor.getScales(), c32(2 * f + h));
      }
    auto scaleByte = [&](OpBuilder &b, Value word, int64_t c) -> Value {
      return LLVM::AndOp::create(
          b, loc, LLVM::LShrOp::create(b, loc, word, i32c(b, loc, 8 * c)),
          i32c(b, loc, 0xFF));
    };
    // The pairs 2^-126 times their e2m1 values (e2m1PairTiny), register
    // (s, f, j) with j = h (K 16s + 2q) or 2 + h (K 16s + 8 + 2q).
    auto at = [&](int64_t s, int64_t f, int64_t j) {
      return (s * blocks + f) * 4 + j;
    };
    SmallVector<Value> tiny(4 * blocks * 4);
    for (int64_t s = 0; s < 4; ++s)
      for (int64_t f = 0; f < blocks; ++f)
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t half = 0; half < 2; ++half) {
            Value byte = NVVM::PermuteOp::create(
                rewriter, loc, i32, words[f][h][2 * s + half], c32(0), select,
                NVVM::PermuteMode::DEFAULT);
            tiny[at(s, f, 2 * half + h)] = e2m1PairTiny(rewriter, loc, byte);
          }
    auto pairTy = VectorType::get({2}, rewriter.getBF16Type());
    // 2^126 in bf16: exponent field 253.
    auto twoTo126 = [&](OpBuilder &b) -> Value {
      return LLVM::BitcastOp::create(b, loc, pairTy, i32c(b, loc, 0x7E807E80));
    };
    // Register (s, f, j) times its block's factor(s).
    auto expand = [&](OpBuilder &b, bool twoSteps,
                      function_ref<Value(OpBuilder &, int64_t, int64_t,
                                         int64_t)>
                          factor) {
      SmallVector<Value> regs(tiny.size());
      for (int64_t s = 0; s < 4; ++s)
        for (int64_t f = 0; f < blocks; ++f)
          for (int64_t j = 0; j < 4; ++j) {
            Value v = tiny[at(s, f, j)];
            if (twoSteps)
              v = LLVM::FMulOp::create(b, loc, v, twoTo126(b));
            regs[at(s, f, j)] =
                bf16PairTimes(b, loc, v, factor(b, s, f, j % 2));
          }
      return regs;
    };
    SmallVector<Value> regs;
    if (nvfp4) {
      // Step s is 16-value block s, e4m3 scale byte s. The quad's four
      // lanes hold the same rows: lane q converts block q's scale of each
      // (byte q, picked as its packed bytes), times 2^117, and the four
      // exchange them (shfl.sync.idx within the quad). One multiplication
      // a pair then gives v * s * 2^-9 (2^-126 * 2^117), exact in bf16
      // (at most 6 significant bits, 2^-19 to 5.25); the caller scales the
      // sums by 2^9.
      // 2^117 in bf16: exponent field 244.
      Value twoTo117 = LLVM::BitcastOp::create(rewriter, loc, pairTy,
                                               c32(0x7A007A00));
      SmallVector<std::array<std::array<Value, 4>, 2>> factors(blocks);
      for (int64_t f = 0; f < blocks; ++f)
        for (int64_t h = 0; h < 2; ++h) {
          Value own = LLVM::FMulOp::create(
              rewriter, loc,
              e4m3ScalePair(rewriter, loc,
                            NVVM::PermuteOp::create(
                                rewriter, loc, i32, scales[f][h], c32(0),
                                select, NVVM::PermuteMode::DEFAULT)),
              twoTo117);
          Value bits = LLVM::BitcastOp::create(rewriter, loc, i32, own);
          for (int64_t q = 0; q < 4; ++q)
            factors[f][h][q] = LLVM::BitcastOp::create(
                rewriter, loc, pairTy,
                NVVM::ShflOp::create(
                    rewriter, loc, i32, c32(-1), bits, c32(q),
                    c32((28 << 8) | 0x1f),
                    NVVM::ShflKindAttr::get(rewriter.getContext(),
                                            NVVM::ShflKind::idx),
                    UnitAttr()));
        }
      regs = expand(rewriter, false,
                    [&](OpBuilder &, int64_t s, int64_t f, int64_t h) {
                      return factors[f][h][s];
                    });
    } else {
      // MXFP4: steps 2c and 2c + 1 are 32-value block c, UE8M0 byte c. As
      // moek.dequant_fp4: scales up to 128 (values up to 12) one
      // multiplication by 2^(s - 1) (bf16 exponent field s + 126), larger
      // ones by 2^126 and then the scale; the branch is taken alike by a
      // thread's every register.
      Value largest = c32(0);
      for (int64_t f = 0; f < blocks; ++f)
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t c = 0; c < 2; ++c)
            largest = LLVM::UMaxOp::create(rewriter, loc, largest,
                                           scaleByte(rewriter, scales[f][h], c));
      Value small = LLVM::ICmpOp::create(rewriter, loc, LLVM::ICmpPredicate::ule,
                                         largest, c32(128));
      auto ifOp = scf::IfOp::create(rewriter, loc,
                                    SmallVector<Type>(tiny.size(), i32), small,
                                    /*withElse=*/true);
      {
        OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        scf::YieldOp::create(
            tb, loc,
            expand(tb, false, [&](OpBuilder &b, int64_t s, int64_t f,
                                  int64_t h) -> Value {
              Value e = LLVM::AddOp::create(
                  b, loc, scaleByte(b, scales[f][h], s / 2), i32c(b, loc, 126));
              return LLVM::BitcastOp::create(
                  b, loc, pairTy,
                  LLVM::MulOp::create(b, loc, e, i32c(b, loc, 0x800080)));
            }));
      }
      {
        OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
        scf::YieldOp::create(
            eb, loc,
            expand(eb, true, [&](OpBuilder &b, int64_t s, int64_t f,
                                 int64_t h) -> Value {
              return ue8m0ScalePair(b, loc, scaleByte(b, scales[f][h], s / 2));
            }));
      }
      regs.assign(ifOp.getResults().begin(), ifOp.getResults().end());
    }
    int64_t n = cast<AccType>(op.getResults().front().getType()).getCols();
    auto accTy = cast<LLVM::LLVMStructType>(
        getTypeConverter()->convertType(op.getResults().front().getType()));
    SmallVector<Value> acc(adaptor.getAccs());
    NVVM::WgmmaFenceAlignedOp::create(rewriter, loc);
    for (int64_t s = 0; s < 4; ++s)
      for (int64_t f = 0; f < blocks; ++f)
        acc[f] = wgmmaRegA(
            rewriter, loc, accTy, acc[f],
            ArrayRef<Value>(regs).slice(at(s, f, 0), 4),
            LLVM::AddOp::create(rewriter, loc, descB,
                                i64c(rewriter, loc, 2 * s)),
            n, /*bf16=*/true);
    NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
    rewriter.replaceOp(op, acc);
    return success();
  }
};

struct LoadColScalesLowering : OpConversionPattern<LoadColScalesOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LoadColScalesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Element 2j + e: column 8j + 2q + e, as moek.load_rows does rows.
    // More than 4 a thread (64 columns: moek.mma_block_scaled's products):
    // the lane from a fresh %tid.x, else LLVM hoists the rows' addresses
    // out of the K loop, a register pair per element live across it (ptxas
    // spilled with 16). With 4 the hoisted addresses are cheap, and the
    // fresh read (an asm with side effects, which the loads may not cross)
    // made the FP8 x MXFP4 small tiles 6% slower on the H200.
    Location loc = op.getLoc();
    auto vecTy = cast<VectorType>(op.getScales().getType());
    Value last = arith::SubIOp::create(
        rewriter, loc, adaptor.getRowLimit(),
        arith::ConstantIndexOp::create(rewriter, loc, 1));
    Value q = vecTy.getNumElements() > 4
                  ? Value(LLVM::AndOp::create(rewriter, loc,
                                              freshThreadIdX(rewriter, loc),
                                              i32c(rewriter, loc, 3)))
                  : quadLane(rewriter, loc);
    Value row0 = arith::AddIOp::create(
        rewriter, loc, adaptor.getRow(),
        toIndex(rewriter, loc,
                LLVM::ShlOp::create(rewriter, loc, q, i32c(rewriter, loc, 1))));
    Value result = LLVM::UndefOp::create(rewriter, loc, vecTy);
    for (int64_t i = 0, n = vecTy.getNumElements(); i < n; ++i) {
      Value row = arith::AddIOp::create(
          rewriter, loc, row0,
          arith::ConstantIndexOp::create(rewriter, loc, 8 * (i / 2) + i % 2));
      Value v = loadRowValue(rewriter, loc, adaptor.getPtr(), row,
                             adaptor.getRowLimit(), last,
                             op.getLdAttr().getInt(), adaptor.getCol());
      result = LLVM::InsertElementOp::create(rewriter, loc, result, v,
                                             i32c(rewriter, loc, i));
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct MmaPromoteColsLowering : OpConversionPattern<MmaPromoteColsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MmaPromoteColsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Value 4j + 2h + e is at column 8j + 2q + e: scale 2j + e.
    Location loc = op.getLoc();
    Value partial = adaptor.getPartial(), cs = adaptor.getColScales();
    rewriter.replaceOp(
        op, mapFragment(rewriter, loc, adaptor.getAcc(),
                        fragmentSize(op.getAcc().getType()),
                        [&](int64_t i, Value a) -> Value {
                          Value p = LLVM::ExtractValueOp::create(
                              rewriter, loc, partial, ArrayRef<int64_t>{i});
                          Value s = LLVM::ExtractElementOp::create(
                              rewriter, loc, cs,
                              i32c(rewriter, loc, 2 * (i / 4) + i % 2));
                          return LLVM::FMAOp::create(rewriter, loc, p, s, a);
                        }));
    return success();
  }
};

struct AccStoreTransposedLowering : OpConversionPattern<AccStoreTransposedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccStoreTransposedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Value 4j + 2h + e of this thread: row r = fragmentRow + 8h, column
    // c = 8j + 2q + e; it becomes row c, column w = col + r of the target
    // fragment: thread 32 (c / 16) + 4 (c % 8) + (w % 8) / 2, value
    // 4 (w / 8) + 2 ((c % 16) / 8) + w % 2, at float v * 2N + thread
    // (moek.acc_load_smem {rows = N}). With c % 8 = 2q + e, c / 16 = j / 2
    // and (c % 16) / 8 = j % 2, the float is base(h, e) + 4N (j % 2) +
    // 32 (j / 2): four run-time bases and constant offsets instead of each
    // value's address computed from scratch.
    Location loc = op.getLoc();
    auto c32 = [&](int64_t v) { return i32c(rewriter, loc, v); };
    Type f32 = rewriter.getF32Type();
    int64_t n = op.getAcc().getType().getCols();
    Value q = quadLane(rewriter, loc);
    Value r0 = fragmentRow(rewriter, loc);
    // Without row_max (moek.mma_fp4_bf16's products) the values as they are.
    Value scale[2];
    if (adaptor.getRowMax())
      for (int64_t h = 0; h < 2; ++h)
        scale[h] = fp4ColumnScale(
            rewriter, loc,
            LLVM::ExtractElementOp::create(rewriter, loc, adaptor.getRowMax(),
                                           c32(h)));
    Value base[2][2];
    for (int64_t h = 0; h < 2; ++h) {
      Value w = LLVM::AddOp::create(rewriter, loc, r0,
                                    c32(op.getColAttr().getInt() + 8 * h));
      // (4 (w / 8) + w % 2) * 2N + (w % 8) / 2.
      Value v = LLVM::AddOp::create(
          rewriter, loc,
          LLVM::ShlOp::create(rewriter, loc,
                              LLVM::LShrOp::create(rewriter, loc, w, c32(3)),
                              c32(2)),
          LLVM::AndOp::create(rewriter, loc, w, c32(1)));
      Value wPart = LLVM::AddOp::create(
          rewriter, loc, LLVM::MulOp::create(rewriter, loc, v, c32(2 * n)),
          LLVM::LShrOp::create(rewriter, loc,
                               LLVM::AndOp::create(rewriter, loc, w, c32(7)),
                               c32(1)));
      for (int64_t e = 0; e < 2; ++e)
        base[h][e] = LLVM::AddOp::create(
            rewriter, loc, wPart,
            LLVM::AddOp::create(
                rewriter, loc, LLVM::ShlOp::create(rewriter, loc, q, c32(3)),
                c32(4 * e)));
    }
    for (int64_t i = 0, size = fragmentSize(op.getAcc().getType()); i < size;
         ++i) {
      int64_t j = i / 4, h = (i / 2) % 2, e = i % 2;
      Value slot = LLVM::AddOp::create(rewriter, loc, base[h][e],
                                       c32(4 * n * (j % 2) + 32 * (j / 2)));
      Value v = LLVM::ExtractValueOp::create(rewriter, loc, adaptor.getAcc(),
                                             ArrayRef<int64_t>{i});
      if (scale[h])
        v = LLVM::FMulOp::create(rewriter, loc, v, scale[h]);
      LLVM::StoreOp::create(
          rewriter, loc, v,
          LLVM::GEPOp::create(rewriter, loc, adaptor.getPtr().getType(), f32,
                              adaptor.getPtr(),
                              ValueRange{LLVM::ZExtOp::create(
                                  rewriter, loc, rewriter.getI64Type(), slot)}),
          4);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// sm_100a: the tensor memory of every kernel with moek.mma ops (see the
/// tcgen05 section): the columns each MMA op writes, the shared slot and
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
    Value isThread0 = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq,
                                           tid, i32c(b, loc, 0));
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
    Value w0 = LLVM::ICmpOp::create(b, l, LLVM::ICmpPredicate::eq, w,
                                    i32c(b, l, 0));
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
    extra.push_back(NamedAttribute(StringAttr::get(ctx, "scale_columns"),
                                   IntegerAttr::get(IntegerType::get(ctx, 64),
                                                    used)));
    extra.push_back(NamedAttribute(StringAttr::get(ctx, "scale_stride"),
                                   IntegerAttr::get(IntegerType::get(ctx, 64),
                                                    stride)));
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
    extra.push_back(NamedAttribute(StringAttr::get(ctx, "cta_pair"),
                                   UnitAttr::get(ctx)));
  allocateTensorMemory(func, columns, barsName, 3 * stages,
                       [&](int64_t i) -> int64_t {
                         return i < stages       ? 2
                                : i < 2 * stages ? consumers
                                                 : 0;
                       },
                       extra, pair);
  alloc->setAttr(kAccBarsAttr, FlatSymbolRefAttr::get(ctx, barsName));
  return success();
}

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
               << "; the first from " << first
               << "): sm_100a supports one";
      first = roleFirst;
      count = role.getCountAttr().getInt();
      op->setAttr(kMmaFirstAttr, IntegerAttr::get(IntegerType::get(ctx, 64),
                                                  first));
      if (auto wait = dyn_cast<MmaWaitOp>(op)) {
        if (wait.getPendingAttr().getInt() >= kMmaBarriers)
          return op->emitOpError()
                 << "waits with " << wait.getPendingAttr().getInt()
                 << " MMAs pending; sm_100a allows fewer than "
                 << kMmaBarriers;
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
    int64_t columns = static_cast<int64_t>(llvm::bit_ceil(static_cast<uint64_t>(
        std::max<int64_t>(32, ranges * perWarpgroup))));
    if (columns > 512)
      return func.emitOpError()
             << "needs " << ranges * perWarpgroup
             << " tensor-memory columns (" << count
             << " MMA warpgroups, " << perWarpgroup
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

struct ConvertMoEKernelToNVVMPass
    : public mlir::moe::impl::ConvertMoEKernelToNVVMPassBase<
          ConvertMoEKernelToNVVMPass> {
  using Base::Base;

  /// 1. Reject chips other than sm_90a and sm_100a.
  /// 2. Plan shared memory: ring offsets and barrier globals per kernel;
  ///    on sm_100a also tensor memory.
  /// 3. Convert the moek ops (and the scf ops whose types carry rings or
  ///    accumulators) with a partial conversion; scf, arith and index stay.
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (chip != "sm_90a" && chip != "sm_100a") {
      module.emitError() << "convert-moek-to-nvvm: chip '" << chip
                         << "' is not supported (supported: sm_90a, sm_100a)";
      return signalPassFailure();
    }
    bool tensorMemory = chip == "sm_100a";
    if (failed(planSharedMemory(module)) ||
        (tensorMemory && failed(planTensorMemory(module))))
      return signalPassFailure();
    planFp4SharedTables(module);
    // Record the chip on every kernel that has moek ops, for the manifest.
    module.walk([&](LLVM::LLVMFuncOp func) {
      if (func->hasAttr("nvvm.kernel") &&
          func.walk([](Operation *op) {
                return isa<MoEKernelDialect>(op->getDialect())
                           ? WalkResult::interrupt()
                           : WalkResult::advance();
              }).wasInterrupted())
        func->setAttr("moek.chip", StringAttr::get(func.getContext(), chip));
    });

    MLIRContext *ctx = &getContext();
    TypeConverter converter;
    converter.addConversion([](Type t) { return t; });
    converter.addConversion(
        [ctx](RingType) -> Type { return ringStructType(ctx); });
    converter.addConversion([tensorMemory](AccType t) -> Type {
      return accStructType(t, tensorMemory);
    });
    converter.addConversion(
        [](RowsType t) -> Type { return rowsStructType(t); });
    converter.addConversion(
        [ctx](AccRingType) -> Type { return ptrTy(ctx, 3); });
    auto materialize = [](OpBuilder &b, Type type, ValueRange inputs,
                          Location loc) -> Value {
      return UnrealizedConversionCastOp::create(b, loc, type, inputs)
          .getResult(0);
    };
    converter.addSourceMaterialization(materialize);
    converter.addTargetMaterialization(materialize);

    ConversionTarget target(*ctx);
    target.addIllegalDialect<MoEKernelDialect>();
    target.addLegalDialect<LLVM::LLVMDialect, NVVM::NVVMDialect,
                           arith::ArithDialect>();
    // The host side (launches) stays for the artifact writer.
    target.addLegalOp<UnrealizedConversionCastOp, LaunchOp>();
    RewritePatternSet patterns(ctx);
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                         target);
    patterns.add<
        WarpRoleLowering, ElectOneLowering,
        SregLowering<BlockIdOp, NVVM::BlockIdXOp>,
        SregLowering<GridSizeOp, NVVM::GridDimXOp>,
        SregLowering<ClusterRankOp, NVVM::ClusterId>, ClusterSyncLowering,
        GroupedTileCountLowering, GroupedTileLowering,
        NamedBarrierLowering<BarrierArriveOp, false>,
        NamedBarrierLowering<BarrierSyncOp, true>, RingAllocLowering,
        RingStageLowering<RingAcquireOp>, RingStageLowering<RingExpectOp>,
        RingStageLowering<RingWaitOp>, RingStageLowering<RingReleaseOp>,
        TmaLoadLowering, MmaZeroLowering, LoadRowsLowering, MmaPromoteLowering,
        SmemAllocLowering, AccStoreSmemLowering, AccLoadSmemLowering,
        StoreActFp8Lowering, StoreAccLowering, StoreAccTmaLowering,
        StoreAccTmaWaitLowering, StoreActLowering, GridBarrierLowering,
        DequantFp4Lowering, DequantFp4Fp8Lowering, DequantMxfp8Lowering,
        LoadFp4ScalesLowering, Fp4RowScaleLowering, AccScaleColsLowering,
        AccScaleLowering, AccAddColsLowering, SignalLowering,
        SignalRelayLowering, SignalEndLowering, WaitCounterLowering,
        TimestampLowering, MapPeerLowering, RemoteAddLowering,
        RemoteWaitLowering, StoreAccRemoteLowering, EpDispatchLowering,
        ReturnRowsLowering, FetchAddLowering, RingSetTagLowering,
        RingTagLowering, InWarpLowering, RingArriveCopiesLowering,
        StageScalesLowering, StageBlockScalesLowering, LoadStagedScalesLowering,
        GatherRowsLowering, LoadRowTokensLowering, DispatchLowering,
        RouteLowering, CombineLowering>(converter, ctx);
    patterns.add<Fp4FragmentRowMaxLowering, LoadFp4FragmentScalesLowering,
                 Fp4FragmentTablesLowering, LoadColScalesLowering,
                 MmaPromoteColsLowering, AccStoreTransposedLowering,
                 LoadFp4SliceScalesLowering, UnpackFp4Lowering,
                 StoreThreadRowLowering>(converter, ctx);
    // tcgen05 takes A from shared or tensor memory, wgmma has no block
    // scales.
    constexpr StringLiteral kRegisterA =
        "takes its A operand from registers (wgmma): sm_90a only";
    if (tensorMemory) {
      patterns.add<Tcgen05MmaLowering, Tcgen05MmaWaitLowering,
                   Tcgen05MmaBlockScaledLowering>(converter, ctx);
      patterns.add<UnsupportedMma<MmaFp4Op>, UnsupportedMma<MmaFp4Bf16Op>>(
          converter, ctx, kRegisterA);
      patterns.add<AccRingAllocLowering, AccStageLowering<AccAcquireOp>,
                   AccStageLowering<AccWaitOp>, AccStageLowering<AccReleaseOp>,
                   AccStageLowering<AccCommitOp>, MmaReleaseLowering,
                   MmaTmemLowering, AccStoreRowsLowering,
                   AccStoreActRowsLowering, AccPromoteRowsLowering>(converter,
                                                                    ctx);
    } else {
      patterns.add<MmaLowering, MmaWaitLowering, MmaFp4Lowering,
                   MmaFp4Bf16Lowering>(converter, ctx);
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
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
