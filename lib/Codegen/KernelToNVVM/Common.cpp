//===- Common.cpp - Builders shared by the moek lowering --------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The small builders every file of convert-moek-to-nvvm uses: constants,
// integer and pointer helpers, the LLVM struct types of rings, accumulators
// and rows, the wgmma fragment layout, a ring's parts (barriers, tags,
// tiles) and the CTA-pair helpers of sm_100a.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace mlir::moe::kernel::nvvm {

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
Value freshThreadIdX(OpBuilder &b, Location loc) {
  return LLVM::InlineAsmOp::create(
             b, loc, b.getI32Type(), ValueRange{}, "mov.u32 $0, %tid.x;", "=r",
             /*has_side_effects=*/true, /*is_align_stack=*/false,
             LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}
LLVM::LLVMPointerType ptrTy(MLIRContext *ctx, unsigned space) {
  return LLVM::LLVMPointerType::get(ctx, space);
}
Value gepBytes(OpBuilder &b, Location loc, Value base, Value bytes) {
  return LLVM::GEPOp::create(b, loc, base.getType(), b.getI8Type(), base,
                             ValueRange{bytes});
}
Value gepBytesU32(OpBuilder &b, Location loc, Value base, Value off) {
  return gepBytes(b, loc, base,
                  LLVM::ZExtOp::create(b, loc, b.getI64Type(), off));
}

Value elementAddress(OpBuilder &b, Location loc, Value base, Type elem,
                     Value index) {
  return LLVM::GEPOp::create(b, loc, base.getType(), elem, base,
                             ValueRange{toI64(b, loc, index)});
}

void ptxVoid(OpBuilder &b, Location loc, StringRef text, StringRef constraints,
             ValueRange operands) {
  LLVM::InlineAsmOp::create(b, loc, TypeRange{}, operands, text, constraints,
                            /*has_side_effects=*/true, /*is_align_stack=*/false,
                            LLVM::TailCallKind::None, LLVM::AsmDialectAttr(),
                            ArrayAttr());
}

void namedBarrier(OpBuilder &b, Location loc, Value id, Value threads,
                  bool wait) {
  LLVM::CallIntrinsicOp::create(
      b, loc,
      b.getStringAttr(wait ? "llvm.nvvm.barrier.cta.sync.count"
                           : "llvm.nvvm.barrier.cta.arrive.count"),
      ValueRange{id, threads});
}

LLVM::LoopAnnotationAttr noUnrollAnnotation(MLIRContext *ctx) {
  return LLVM::LoopAnnotationAttr::get(
      ctx, nullptr, nullptr, nullptr,
      LLVM::LoopUnrollAttr::get(ctx, BoolAttr::get(ctx, true), nullptr, nullptr,
                                nullptr, nullptr, nullptr, nullptr),
      nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
      nullptr, nullptr, {});
}

LLVM::LLVMStructType ringStructType(MLIRContext *ctx) {
  return LLVM::LLVMStructType::getLiteral(ctx, {ptrTy(ctx, 3), ptrTy(ctx, 3)});
}

int64_t fragmentSize(AccType acc) {
  return acc.getRows() * acc.getCols() / kWarpgroupThreads;
}

LLVM::LLVMStructType accStructType(AccType acc, bool tensorMemory) {
  MLIRContext *ctx = acc.getContext();
  SmallVector<Type> fields(fragmentSize(acc), Float32Type::get(ctx));
  if (tensorMemory) {
    fields.push_back(IntegerType::get(ctx, 32));
    fields.push_back(IntegerType::get(ctx, 1));
  }
  return LLVM::LLVMStructType::getLiteral(ctx, fields);
}

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

Value mapFragment(OpBuilder &b, Location loc, Value acc, int64_t n,
                  function_ref<Value(int64_t, Value)> value) {
  for (int64_t i = 0; i < n; ++i)
    acc = LLVM::InsertValueOp::create(
        b, loc, acc,
        value(i,
              LLVM::ExtractValueOp::create(b, loc, acc, ArrayRef<int64_t>{i})),
        ArrayRef<int64_t>{i});
  return acc;
}

LLVM::LLVMStructType rowsStructType(RowsType rows) {
  MLIRContext *ctx = rows.getContext();
  return LLVM::LLVMStructType::getLiteral(
      ctx, {Float32Type::get(ctx), Float32Type::get(ctx)});
}

Value fragmentWarpRow(OpBuilder &b, Location loc) {
  Value t = LLVM::URemOp::create(b, loc, threadIdX(b, loc),
                                 i32c(b, loc, kWarpgroupThreads));
  return LLVM::MulOp::create(b, loc,
                             LLVM::UDivOp::create(b, loc, t, i32c(b, loc, 32)),
                             i32c(b, loc, 16));
}

Value fragmentRow(OpBuilder &b, Location loc) {
  Value lane =
      LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
  return LLVM::AddOp::create(
      b, loc, fragmentWarpRow(b, loc),
      LLVM::UDivOp::create(b, loc, lane, i32c(b, loc, 4)));
}

int64_t colScaleStride(int64_t n) { return n / 4 + 4; }
Value colScaleSlot(OpBuilder &b, Location loc, Value c, int64_t n) {
  auto k = [&](int64_t v) { return i32c(b, loc, v); };
  Value g =
      LLVM::LShrOp::create(b, loc, LLVM::AndOp::create(b, loc, c, k(7)), k(1));
  Value j = LLVM::LShrOp::create(b, loc, c, k(3));
  return LLVM::AddOp::create(
      b, loc,
      LLVM::AddOp::create(b, loc,
                          LLVM::MulOp::create(b, loc, g, k(colScaleStride(n))),
                          LLVM::ShlOp::create(b, loc, j, k(1))),
      LLVM::AndOp::create(b, loc, c, k(1)));
}

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

Value barrierOf(OpBuilder &b, Location loc, RingParts &p, RingType type,
                bool empty) {
  Value index = p.stage;
  if (empty)
    index = LLVM::AddOp::create(b, loc, index, i64c(b, loc, type.getStages()));
  return LLVM::GEPOp::create(b, loc, p.barriers.getType(), b.getI64Type(),
                             p.barriers, ValueRange{index});
}

Value tileAddress(OpBuilder &b, Location loc, RingParts &p, RingType type,
                  unsigned tile) {
  if (type.isUnstaged(tile))
    return gepBytes(b, loc, p.tiles,
                    i64c(b, loc,
                         type.getStages() * type.getStageBytes() +
                             type.getTileOffset(tile)));
  Value stageBytes =
      LLVM::MulOp::create(b, loc, p.stage, i64c(b, loc, type.getStageBytes()));
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

void commitMmas(OpBuilder &b, Location loc, Value bar, bool pair) {
  Value mask = pair ? cst(b, loc, b.getI16Type(), 3) : Value();
  NVVM::Tcgen05CommitOp::create(b, loc, bar, mask,
                                ctaGroupOf(b.getContext(), pair));
}

Value inClusterCta(OpBuilder &b, Location loc, Value ptr, Value rank) {
  return NVVM::MapaOp::create(b, loc, ptrTy(b.getContext(), 7), ptr, rank);
}

Value peerRank(OpBuilder &b, Location loc) {
  return LLVM::XOrOp::create(
      b, loc, NVVM::ClusterId::create(b, loc, b.getI32Type()), i32c(b, loc, 1));
}
Value leaderRank(OpBuilder &b, Location loc) {
  return LLVM::AndOp::create(b, loc,
                             NVVM::ClusterId::create(b, loc, b.getI32Type()),
                             i32c(b, loc, ~1));
}

} // namespace mlir::moe::kernel::nvvm
