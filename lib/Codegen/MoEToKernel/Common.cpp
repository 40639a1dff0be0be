//===- Common.cpp - Builders shared by the moek kernels ---------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The pieces every kernel of convert-moe-to-moek is built from: the layer
// predicates, the kernel function and its ABI, warp roles, tile loads and
// the dynamic scheduler's loop, the MMA warpgroups' K loops (plain, scaled,
// in halves, transposed small tiles), turns between warpgroups and the
// staging of stores.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace mlir::moe::kernelgen {

bool isBlockQuant(QuantAttr q, QuantScheme scheme, int64_t rows, int64_t cols) {
  return q && q.getScheme() == scheme && q.getBlockRows() == rows &&
         q.getBlockCols() == cols;
}

bool isFp8Block(ExpertMatmulOp op) {
  return isBlockQuant(op.getXQuantAttr(), QuantScheme::fp8_block, 1, 128) &&
         isBlockQuant(op.getWQuantAttr(), QuantScheme::fp8_block, 128, 128);
}

bool isNvfp4Weights(ExpertMatmulOp op) {
  return !op.getXQuantAttr() &&
         isBlockQuant(op.getWQuantAttr(), QuantScheme::nvfp4, 1, 16) &&
         op.getX().getType().getElementType().isBF16() &&
         isa<Float4E2M1FNType>(op.getWeight().getType().getElementType());
}

bool isMxfp4Weights(ExpertMatmulOp op) {
  return isNvfp4Weights(op) ||
         (!op.getXQuantAttr() &&
          isBlockQuant(op.getWQuantAttr(), QuantScheme::mxfp4, 1, 32) &&
          op.getX().getType().getElementType().isBF16() &&
          isa<Float4E2M1FNType>(op.getWeight().getType().getElementType()));
}

bool isMxfp8(ExpertMatmulOp op) {
  return isBlockQuant(op.getXQuantAttr(), QuantScheme::mxfp8, 1, 32) &&
         isBlockQuant(op.getWQuantAttr(), QuantScheme::mxfp8, 1, 32) &&
         isa<Float8E4M3FNType>(op.getX().getType().getElementType()) &&
         isa<Float8E4M3FNType>(op.getWeight().getType().getElementType());
}

bool isMxfp8Mxfp4(ExpertMatmulOp op) {
  return isBlockQuant(op.getXQuantAttr(), QuantScheme::mxfp8, 1, 32) &&
         isBlockQuant(op.getWQuantAttr(), QuantScheme::mxfp4, 1, 32) &&
         isa<Float8E4M3FNType>(op.getX().getType().getElementType()) &&
         isa<Float4E2M1FNType>(op.getWeight().getType().getElementType());
}

namespace {

/// NVFP4: the f32 scale of expert `expert` in `globalScales` ([E] f32).
Value expertScale(OpBuilder &b, Location loc, Value globalScales,
                  Value expert) {
  return LLVM::LoadOp::create(
      b, loc, b.getF32Type(),
      LLVM::GEPOp::create(b, loc, globalScales.getType(), b.getF32Type(),
                          globalScales,
                          ValueRange{arith::IndexCastOp::create(
                              b, loc, b.getI64Type(), expert)}),
      4);
}

/// NVFP4: multiplies each accumulator of `accs` by the f32 scale of expert
/// `expert` in `globalScales` ([E] f32), once per tile; nothing without.
void scaleByExpert(OpBuilder &b, Location loc, SmallVectorImpl<Value> &accs,
                   Value globalScales, Value expert) {
  if (!globalScales)
    return;
  Value g = expertScale(b, loc, globalScales, expert);
  for (Value &acc : accs)
    acc = mk::AccScaleOp::create(b, loc, acc, g);
}

} // namespace

Type biasElementType(Value biasTensor) {
  return cast<RankedTensorType>(biasTensor.getType()).getElementType();
}

void addBias(OpBuilder &b, Location loc, SmallVectorImpl<Value> &accs,
             Value bias, Value biasTensor, Value expert, Value col, Value upper,
             bool inRow, Value scale) {
  if (!bias)
    return;
  auto type = cast<RankedTensorType>(biasTensor.getType());
  for (Value &acc : accs)
    acc = mk::AccAddColsOp::create(b, loc, acc.getType(), acc, bias, expert,
                                   col, upper, scale,
                                   b.getI64IntegerAttr(type.getDimSize(1)),
                                   TypeAttr::get(biasElementType(biasTensor)),
                                   inRow ? b.getUnitAttr() : UnitAttr());
}

void scaleAndAddBias(OpBuilder &b, Location loc, SmallVectorImpl<Value> &accs,
                     Value globalScales, Value bias, Value biasTensor,
                     Value expert, Value col, Value upper, bool inRow) {
  if (!bias)
    return scaleByExpert(b, loc, accs, globalScales, expert);
  addBias(b, loc, accs, bias, biasTensor, expert, col, upper, inRow,
          globalScales ? expertScale(b, loc, globalScales, expert) : Value());
}

void expandFp4Weights(OpBuilder &b, Location loc, Value ring, Value iter,
                      Value slice, Value scales, Value row, Value upper,
                      int64_t scaleRows, int64_t k, bool nvfp4) {
  int64_t block = nvfp4 ? 16 : 32;
  mk::DequantFp4Op::create(
      b, loc, ring, iter, b.getI64IntegerAttr(2), b.getI64IntegerAttr(1),
      scales, row,
      arith::MulIOp::create(
          b, loc, slice,
          arith::ConstantIndexOp::create(b, loc, kTileK / block)),
      upper, b.getI64IntegerAttr(scaleRows), b.getI64IntegerAttr(k / block),
      b.getI64IntegerAttr(256), b.getI64IntegerAttr(128),
      b.getI64IntegerAttr(7), nvfp4 ? b.getUnitAttr() : UnitAttr());
}

void expandWeights(OpBuilder &b, Location loc, Value ring, Value iter,
                   Value slice, Value scales, Value row, Value upper,
                   int64_t scaleRows, int64_t k, bool nvfp4, bool mxfp8) {
  if (!mxfp8)
    return expandFp4Weights(b, loc, ring, iter, slice, scales, row, upper,
                            scaleRows, k, nvfp4);
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  mk::DequantMxfp8Op::create(
      b, loc, ring, iter, b.getI64IntegerAttr(2), b.getI64IntegerAttr(1),
      scales, row, arith::MulIOp::create(b, loc, slice, c(kTileK / 32)),
      c(scaleRows), upper, b.getI64IntegerAttr(k / 32),
      b.getI64IntegerAttr(256), b.getI64IntegerAttr(128),
      b.getI64IntegerAttr(7));
}

namespace {

/// Why `op`, whose block-scaled operands (`what`: MXFP4 or NVFP4 weights,
/// MXFP8 operands) the kernel expands to bf16 in shared memory, cannot use
/// the generated kernel, or "" if it can.
std::string expandedOperandsReason(ExpertMatmulOp op, StringRef what) {
  RankedTensorType w = op.getWeight().getType();
  if (!w.hasStaticShape())
    return "the weight shape must be static";
  if (w.getDimSize(1) % 8 != 0 || w.getDimSize(2) % kTileK != 0)
    return "with " + what.str() + ", N (" + std::to_string(w.getDimSize(1)) +
           ") must be a multiple of 8 and K (" +
           std::to_string(w.getDimSize(2)) + ") of the K slice (64)";
  if (!op.getOut().getType().getElementType().isBF16())
    return "with " + what.str() + ", the generated kernel writes bf16";
  return "";
}

} // namespace

std::string unsupportedReason(ExpertMatmulOp op) {
  RankedTensorType w = op.getWeight().getType();
  if (isMxfp8Mxfp4(op)) {
    if (op.getXGlobalScale() || op.getWGlobalScale())
      return "MXFP8 rows and MXFP4 weights take no global scale";
    if (!w.hasStaticShape())
      return "the weight shape must be static";
    if (w.getDimSize(1) % 128 != 0 || w.getDimSize(2) % 128 != 0)
      return "with MXFP8 rows by MXFP4 weights, N (" +
             std::to_string(w.getDimSize(1)) + ") and K (" +
             std::to_string(w.getDimSize(2)) +
             ") must be multiples of 128 (the block-scaled tile; TMA's "
             "padded 4-bit rows)";
    if (!op.getOut().getType().getElementType().isBF16())
      return "with MXFP8 rows by MXFP4 weights, the generated kernel writes "
             "bf16";
    return "";
  }
  if (isMxfp8(op)) {
    if (op.getXGlobalScale() || op.getWGlobalScale())
      return "MXFP8 operands take no global scale";
    return expandedOperandsReason(op, "MXFP8 operands");
  }
  if (isMxfp4Weights(op)) {
    if (op.getWGlobalScale() && !isNvfp4Weights(op))
      return "MXFP4 weights take no global scale";
    return expandedOperandsReason(op, "MXFP4 weights");
  }
  if (op.getXQuantAttr() || op.getWQuantAttr()) {
    if (!isFp8Block(op) || op.getXGlobalScale() || op.getWGlobalScale())
      return "the generated kernel takes bf16 operands, fp8_block rows "
             "(block [1, 128]) by fp8_block weights (block [128, 128]), "
             "mxfp8 rows by mxfp8 weights (block [1, 32]), bf16 rows by "
             "mxfp4 (block [1, 32]) or nvfp4 (block [1, 16]) weights, or "
             "(sm_100a) mxfp8 rows by mxfp4 weights";
    if (!w.hasStaticShape())
      return "the weight shape must be static";
    if (w.getDimSize(1) % 128 != 0 || w.getDimSize(2) % 128 != 0)
      return "with fp8_block operands, N (" + std::to_string(w.getDimSize(1)) +
             ") and K (" + std::to_string(w.getDimSize(2)) +
             ") must be multiples of the 128-wide scale blocks";
    if (!op.getOut().getType().getElementType().isBF16())
      return "with fp8_block operands, the generated kernel writes bf16";
    return "";
  }
  if (!op.getX().getType().getElementType().isBF16() ||
      !op.getWeight().getType().getElementType().isBF16())
    return "the generated kernel takes bf16 rows and weights";
  if (!w.hasStaticShape())
    return "the weight shape must be static";
  if (w.getDimSize(1) % 8 != 0)
    return "N (" + std::to_string(w.getDimSize(1)) +
           ") must be a multiple of 8 (the epilogue stores column pairs of "
           "8-column groups)";
  if (w.getDimSize(2) % kTileK != 0)
    return "K (" + std::to_string(w.getDimSize(2)) +
           ") must be a multiple of the K slice (64)";
  return "";
}

gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module) {
  if (auto m = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModule))
    return m;
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  return gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModule);
}

LLVM::LLVMFuncOp createKernelFunc(OpBuilder &b, Location loc, StringRef name,
                                  ArrayRef<Type> params, unsigned numTma,
                                  ArrayAttr abi,
                                  ArrayRef<NamedAttribute> workspace) {
  MLIRContext *ctx = b.getContext();
  auto fnType =
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), params);
  auto func = LLVM::LLVMFuncOp::create(b, loc, name, fnType);
  func->setAttr("nvvm.kernel", b.getUnitAttr());
  func->setAttr("nvvm.maxntid", b.getDenseI32ArrayAttr({kThreads, 1, 1}));
  func->setAttr("nvvm.minctasm", b.getI32IntegerAttr(1));
  func->setAttr("moek.abi", abi);
  func->setAttr("moek.launch",
                b.getDictionaryAttr(
                    {b.getNamedAttr("grid", b.getStringAttr("persistent")),
                     b.getNamedAttr("block", b.getI64IntegerAttr(kThreads))}));
  func->setAttr("moek.workspace", b.getDictionaryAttr(workspace));
  for (unsigned a = 0; a < numTma; ++a) {
    func.setArgAttr(
        a, "llvm.byval",
        TypeAttr::get(LLVM::LLVMArrayType::get(b.getI8Type(), 128)));
    func.setArgAttr(a, "llvm.align", b.getI64IntegerAttr(64));
    func.setArgAttr(a, "nvvm.grid_constant", b.getUnitAttr());
  }
  return func;
}

ArrayAttr buildAbi(OpBuilder &b, int64_t e, int64_t n, int64_t k,
                   int64_t sliceK, bool scaled, bool fp4, bool globalScale,
                   bool mxfp8, bool blockScaledFp4, bool outTma,
                   int64_t biasOperand) {
  auto entry = [&](ArrayRef<NamedAttribute> attrs) {
    return b.getDictionaryAttr(attrs);
  };
  auto i64s = [&](ArrayRef<int64_t> v) { return b.getI64ArrayAttr(v); };
  ArrayAttr abi = b.getArrayAttr({
      entry(
          {b.getNamedAttr("kind", b.getStringAttr("tma")),
           b.getNamedAttr("operand", b.getI64IntegerAttr(0)),
           b.getNamedAttr("view", b.getStringAttr("[M, K]")),
           b.getNamedAttr("inner", b.getI64IntegerAttr(k)),
           b.getNamedAttr("box", i64s({sliceK, kXBoxRows})),
           // MXFP8 rows expanded in shared memory: 64 bytes a slice,
           // copied unswizzled (for block-scaled MMAs, 128 bytes in the
           // MMA's swizzle).
           b.getNamedAttr("swizzle", b.getI64IntegerAttr(
                                         mxfp8 && !blockScaledFp4 ? 0 : 128))}),
      entry({b.getNamedAttr("kind", b.getStringAttr("tma")),
             b.getNamedAttr("operand", b.getI64IntegerAttr(1)),
             b.getNamedAttr("view", b.getStringAttr("[E*N, K]")),
             b.getNamedAttr("rows", b.getI64IntegerAttr(e * n)),
             b.getNamedAttr("inner", b.getI64IntegerAttr(k)),
             b.getNamedAttr("box", i64s({sliceK, kWBoxRows})),
             // Packed e2m1 rows are 32 bytes a slice, MXFP8 ones 64:
             // copied unswizzled. For block-scaled MMAs, e2m1 rows in
             // tcgen05's padded form (128 bytes a 128-value slice), 128B
             // swizzle.
             b.getNamedAttr("swizzle",
                            b.getI64IntegerAttr(
                                (fp4 || mxfp8) && !blockScaledFp4 ? 0 : 128))}),
  });
  SmallVector<Attribute> entries(abi.begin(), abi.end());
  if (outTma)
    entries.push_back(
        entry({b.getNamedAttr("kind", b.getStringAttr("tma")),
               b.getNamedAttr("result", b.getI64IntegerAttr(0)),
               b.getNamedAttr("view", b.getStringAttr("[M, N]")),
               b.getNamedAttr("inner", b.getI64IntegerAttr(n)),
               b.getNamedAttr("box", i64s({64, 64})),
               b.getNamedAttr("swizzle", b.getI64IntegerAttr(128))}));
  entries.push_back(entry({b.getNamedAttr("kind", b.getStringAttr("ptr")),
                           b.getNamedAttr("operand", b.getI64IntegerAttr(2))}));
  if (blockScaledFp4) {
    NamedAttrList w(cast<DictionaryAttr>(entries[1]));
    w.set("fp4_padded", b.getUnitAttr());
    entries[1] = w.getDictionary(b.getContext());
  }
  auto ptrTo = [&](StringRef what, int64_t i) {
    entries.push_back(entry({b.getNamedAttr("kind", b.getStringAttr("ptr")),
                             b.getNamedAttr(what, b.getI64IntegerAttr(i))}));
  };
  if (scaled) {
    ptrTo("operand", 3); // x_scales [M, K/128]
    ptrTo("operand", 4); // w_scales [E, N/128, K/128]
  }
  if (mxfp8) {
    ptrTo("operand", 3); // x_scales [M, K/32] UE8M0
    ptrTo("operand", 4); // w_scales [E, N, K/32] UE8M0
  }
  if (fp4)
    ptrTo("operand", 3); // w_scales [E, N, K/32] UE8M0 or [E, N, K/16] e4m3
  if (globalScale)
    ptrTo("operand", 4); // NVFP4: w_global_scale [E], f32
  if (biasOperand >= 0)
    ptrTo("operand", biasOperand); // bias [E, N], f32 or bf16
  ptrTo("result", 0);
  // The dynamic tile scheduler's counter (zeroed by the runtime).
  entries.push_back(
      entry({b.getNamedAttr("kind", b.getStringAttr("workspace"))}));
  return b.getArrayAttr(entries);
}

void beginRole(OpBuilder &b, Location loc, StringRef name, int64_t first,
               int64_t count, int64_t maxRegs) {
  auto role = mk::WarpRoleOp::create(
      b, loc, b.getStringAttr(name), b.getI64IntegerAttr(first),
      b.getI64IntegerAttr(count), b.getI64IntegerAttr(maxRegs));
  b.setInsertionPointToStart(&role.getBody().emplaceBlock());
}

Value beginProducerThreads(OpBuilder &b, Location loc, bool warp) {
  Value inside =
      warp ? mk::InWarpOp::create(b, loc, b.getI1Type()).getResult()
           : mk::ElectOneOp::create(b, loc, b.getI1Type()).getResult();
  auto ifOp = scf::IfOp::create(b, loc, inside, false);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  return warp ? mk::ElectOneOp::create(b, loc, b.getI1Type()).getResult()
              : Value();
}

void buildSignalRelays(Location loc, Block *producerRole, Value ready) {
  OpBuilder b = OpBuilder::atBlockEnd(producerRole);
  for (int64_t w = 1; w <= 2; ++w) {
    Value inWarp =
        mk::InWarpOp::create(b, loc, b.getI1Type(), b.getI64IntegerAttr(w));
    auto ifOp = scf::IfOp::create(b, loc, inWarp, false);
    OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
    mk::SignalRelayOp::create(tb, loc, ready, tb.getI64IntegerAttr(w));
  }
}

Value loadTileTokens(OpBuilder &b, Location loc, Value rowTokens,
                     mk::GroupedTileOp d, int64_t tileRows) {
  if (!rowTokens)
    return Value();
  return mk::LoadRowTokensOp::create(
      b, loc, VectorType::get({tileRows / 16}, b.getI32Type()), rowTokens,
      d.getRow(), d.getRowEnd());
}

void gatherStageRows(OpBuilder &b, Location loc, Value ring, Value stage,
                     Value ks, Value x, Value tokens, int64_t sliceK,
                     int64_t hidden, StringRef hint) {
  mk::GatherRowsOp::create(
      b, loc, ring, stage, b.getI64IntegerAttr(0), x, tokens,
      arith::MulIOp::create(b, loc, ks,
                            arith::ConstantIndexOp::create(b, loc, sliceK)),
      b.getI64IntegerAttr(hidden),
      hint.empty() ? StringAttr() : b.getStringAttr(hint));
  mk::RingArriveCopiesOp::create(b, loc, ring, stage);
}

void disableUnroll(scf::ForOp loop) {
  MLIRContext *ctx = loop.getContext();
  loop->setAttr(
      "loop_annotation",
      LLVM::LoopAnnotationAttr::get(
          ctx, /*disableNonforced=*/nullptr, /*vectorize=*/nullptr,
          /*interleave=*/nullptr,
          LLVM::LoopUnrollAttr::get(
              ctx, /*disable=*/BoolAttr::get(ctx, true), /*count=*/nullptr,
              /*runtimeDisable=*/nullptr, /*full=*/nullptr,
              /*followupUnrolled=*/nullptr, /*followupRemainder=*/nullptr,
              /*followupAll=*/nullptr),
          /*unrollAndJam=*/nullptr, /*licm=*/nullptr, /*distribute=*/nullptr,
          /*pipeline=*/nullptr, /*peeled=*/nullptr, /*unswitch=*/nullptr,
          /*mustProgress=*/nullptr, /*isVectorized=*/nullptr,
          /*startLoc=*/nullptr, /*endLoc=*/nullptr, /*parallelAccesses=*/{}));
}

Value buildTileLoads(OpBuilder &ob, Location l, Value ring, Value tmapA,
                     Value aRow, Value rowEnd, int64_t tileM, Value tmapB,
                     ArrayRef<Value> bRows, Value cKSlices, Value i0,
                     bool streamWeights, Value tag, int64_t sliceK,
                     bool boxPerTile, int64_t bTile, int64_t bRowBytes,
                     bool bPacked, int64_t aTile, int64_t aRowBytes,
                     Value leader, StageHook stageHook, int64_t bBoxRows,
                     Value shareRank, TailBox tail) {
  auto idx = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, l, v);
  };
  // The rows come in boxes of kXBoxRows (the rows of one accumulator), and
  // only the boxes that hold rows of the expert are loaded (the MMAs of the
  // others are skipped): an expert with 4 rows costs one 8 KB box per
  // stage, not a whole tile.
  // Without `tmapA` the stage hook fills A (moek.gather_rows): only B's
  // bytes are expected.
  Value bytes = idx(ob, int64_t(bRows.size()) * bBoxRows * bRowBytes);
  Value boxes;
  if (tmapA) {
    Value rowsLeft = arith::SubIOp::create(ob, l, rowEnd, aRow);
    boxes = arith::MinUIOp::create(
        ob, l, arith::CeilDivUIOp::create(ob, l, rowsLeft, idx(ob, kXBoxRows)),
        idx(ob, tileM / kXBoxRows));
    bytes = arith::AddIOp::create(
        ob, l,
        arith::MulIOp::create(ob, l, boxes, idx(ob, kXBoxRows * aRowBytes)),
        bytes);
  }
  if (tail)
    bytes = arith::AddIOp::create(
        ob, l, bytes,
        arith::SelectOp::create(ob, l, tail.has, idx(ob, tail.rows * aRowBytes),
                                idx(ob, 0)));
  auto inner = scf::ForOp::create(
      ob, l, idx(ob, 0), cKSlices, idx(ob, 1), ValueRange{i0},
      [&](OpBuilder &wb, Location il, Value ks, ValueRange iit) {
        Value i = iit[0];
        mk::RingAcquireOp::create(wb, il, ring, i);
        // A producer warp: the copies from its leader only.
        OpBuilder ib = wb;
        if (leader) {
          auto only = scf::IfOp::create(wb, il, leader, false);
          ib = OpBuilder::atBlockTerminator(only.thenBlock());
        }
        Value kx = arith::MulIOp::create(ib, il, ks, idx(ib, sliceK));
        if (tag)
          mk::RingSetTagOp::create(ib, il, ring, i, tag);
        mk::RingExpectOp::create(ib, il, ring, i, bytes);
        for (int64_t box = 0; tmapA && box < tileM / kXBoxRows; ++box) {
          auto load = [&](OpBuilder &lb) {
            Value row =
                arith::AddIOp::create(lb, il, aRow, idx(lb, box * kXBoxRows));
            auto copy = mk::TmaLoadOp::create(
                lb, il, tmapA, ValueRange{kx, row}, ring, i,
                lb.getI64IntegerAttr(aTile),
                lb.getI64IntegerAttr(box * kXBoxRows),
                streamWeights ? lb.getStringAttr("evict_last") : StringAttr());
            if (shareRank)
              copy.setMulticast(true);
          };
          // Shared boxes: this CTA's share only.
          Value mine =
              shareRank
                  ? arith::CmpIOp::create(ib, il, arith::CmpIPredicate::eq,
                                          shareRank, idx(ib, box % 2))
                  : Value();
          if (box == 0) { // every tile has rows in its first box
            if (!mine) {
              load(ib);
              continue;
            }
            auto ifOp = scf::IfOp::create(ib, il, mine, false);
            OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
            load(tb);
            continue;
          }
          Value has = arith::CmpIOp::create(ib, il, arith::CmpIPredicate::ugt,
                                            boxes, idx(ib, box));
          if (mine)
            has = arith::AndIOp::create(ib, il, has, mine);
          auto ifOp = scf::IfOp::create(ib, il, has, false);
          OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          load(tb);
        }
        if (tail) {
          auto ifOp = scf::IfOp::create(ib, il, tail.has, false);
          OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          mk::TmaLoadOp::create(
              tb, il, tail.tmap,
              ValueRange{kx,
                         arith::AddIOp::create(tb, il, aRow, idx(tb, tileM))},
              ring, i, tb.getI64IntegerAttr(tail.tile), tb.getI64IntegerAttr(0),
              streamWeights ? tb.getStringAttr("evict_last") : StringAttr());
        }
        // Packed FP4 weights: their descriptor counts bytes (two values).
        Value kxB = bPacked
                        ? arith::MulIOp::create(ib, il, ks, idx(ib, sliceK / 2))
                        : kx;
        for (auto [box, bRow] : llvm::enumerate(bRows))
          mk::TmaLoadOp::create(
              ib, il, tmapB, ValueRange{kxB, bRow}, ring, i,
              ib.getI64IntegerAttr(boxPerTile ? bTile + int64_t(box) : bTile),
              ib.getI64IntegerAttr(boxPerTile ? 0 : int64_t(box) * bBoxRows),
              streamWeights ? ib.getStringAttr("evict_first") : StringAttr());
        if (stageHook)
          stageHook(wb, il, i, ks);
        scf::YieldOp::create(
            wb, il, ValueRange{arith::AddIOp::create(wb, il, i, idx(wb, 1))});
      });
  disableUnroll(inner);
  return inner.getResult(0);
}

Value buildTileIndexLoop(OpBuilder &ob, Location l, Value total,
                         function_ref<Value(OpBuilder &, Value)> fetch,
                         function_ref<Value(OpBuilder &, Value, Value)> body,
                         bool narrow) {
  OpBuilder::InsertionGuard guard(ob);
  Type indexTy = ob.getIndexType();
  Value zero = arith::ConstantIndexOp::create(ob, l, 0);
  auto loop = scf::WhileOp::create(ob, l, TypeRange{indexTy, indexTy},
                                   ValueRange{zero});
  {
    Block *before = ob.createBlock(&loop.getBefore(), {}, {indexTy}, {l});
    OpBuilder bb = OpBuilder::atBlockEnd(before);
    Value i = before->getArgument(0);
    Value t = fetch(bb, i);
    Value more =
        narrow
            ? arith::CmpIOp::create(
                  bb, l, arith::CmpIPredicate::ult,
                  arith::IndexCastUIOp::create(bb, l, bb.getI32Type(), t),
                  arith::IndexCastUIOp::create(bb, l, bb.getI32Type(), total))
            : arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ult, t, total);
    scf::ConditionOp::create(bb, l, more, ValueRange{i, t});
  }
  {
    Block *after =
        ob.createBlock(&loop.getAfter(), {}, {indexTy, indexTy}, {l, l});
    OpBuilder ab = OpBuilder::atBlockEnd(after);
    Value next = body(ab, after->getArgument(1), after->getArgument(0));
    scf::YieldOp::create(ab, l, ValueRange{next});
  }
  return loop.getResult(0);
}

Value buildScheduledTiles(OpBuilder &ob, Location l, Value ring, Value nextTile,
                          Value total, bool producer,
                          function_ref<Value(OpBuilder &, Value, Value)> body,
                          bool producerWarp, bool narrow) {
  Type indexTy = ob.getIndexType();
  return buildTileIndexLoop(
      ob, l, total,
      [&](OpBuilder &bb, Value i) -> Value {
        if (producer)
          return mk::FetchAddOp::create(
              bb, l, indexTy, nextTile,
              arith::ConstantIndexOp::create(bb, l, 0),
              producerWarp ? bb.getUnitAttr() : UnitAttr());
        mk::RingWaitOp::create(bb, l, ring, i);
        return mk::RingTagOp::create(bb, l, indexTy, ring, i);
      },
      body, narrow);
}

void buildStopMark(OpBuilder &b, Location l, Value ring, Value last,
                   Value total, Value leader) {
  mk::RingAcquireOp::create(b, l, ring, last);
  OpBuilder tb = b;
  if (leader) {
    auto only = scf::IfOp::create(b, l, leader, false);
    tb = OpBuilder::atBlockTerminator(only.thenBlock());
  }
  mk::RingSetTagOp::create(tb, l, ring, last, total);
  mk::RingExpectOp::create(tb, l, ring, last,
                           arith::ConstantIndexOp::create(tb, l, 0));
  if (leader)
    mk::RingArriveCopiesOp::create(b, l, ring, last);
}

namespace {

/// After the MMAs of K slice `ks` (ring iteration `i`) were issued: release
/// the stage that is no longer read. Pipelined: stage i-1 (its MMAs are done
/// once at most one slice's groups are pending), none for the first slice;
/// otherwise stage i itself (its MMAs were waited for).
void releaseAfterIssue(OpBuilder &b, Location loc, Value ring, Value i,
                       Value ks, bool pipelined) {
  if (!pipelined) {
    mk::RingReleaseOp::create(b, loc, ring, i);
    return;
  }
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value notFirst =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, ks, c0);
  auto ifOp = scf::IfOp::create(b, loc, notFirst, false);
  OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
  mk::RingReleaseOp::create(tb, loc, ring,
                            arith::SubIOp::create(tb, loc, i, c1));
}

} // namespace

std::pair<SmallVector<Value>, Value>
buildMmaSpecLoop(OpBuilder &b, Location loc, Value ring,
                 ArrayRef<MmaSpec> specs, Value cKSlices, Value i0,
                 bool pipelined, StageHook onFull) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> init;
  for (const MmaSpec &spec : specs)
    init.push_back(mk::MmaZeroOp::create(b, loc, spec.type));
  init.push_back(i0);
  // One commit group per accumulator and stage.
  int64_t pending = pipelined ? specs.size() : 0;
  auto inner = scf::ForOp::create(
      b, loc, c0, cKSlices, c1, init,
      [&](OpBuilder &ib, Location il, Value ks, ValueRange iit) {
        Value i = iit.back();
        mk::RingWaitOp::create(ib, il, ring, i);
        if (onFull)
          onFull(ib, il, i, ks);
        SmallVector<Value> next;
        for (auto [acc, spec] : llvm::zip(iit.drop_back(), specs)) {
          next.push_back(mk::MmaOp::create(
              ib, il, ring, i, ib.getI64IntegerAttr(spec.aTile), spec.aRow,
              ib.getI64IntegerAttr(spec.bTile), acc, /*zero_init=*/UnitAttr(),
              spec.cols ? ib.getI64IntegerAttr(spec.cols) : IntegerAttr()));
        }
        for (Value &acc : next)
          acc =
              mk::MmaWaitOp::create(ib, il, acc, ib.getI64IntegerAttr(pending));
        releaseAfterIssue(ib, il, ring, i, ks, pipelined);
        next.push_back(arith::AddIOp::create(ib, il, i, c1));
        scf::YieldOp::create(ib, il, next);
      });
  disableUnroll(inner);
  SmallVector<Value> accs(inner.getResults().drop_back());
  Value next = inner.getResults().back();
  if (pipelined) {
    // Drain the last groups and release the last stage.
    for (Value &acc : accs)
      acc = mk::MmaWaitOp::create(b, loc, acc, b.getI64IntegerAttr(0));
    mk::RingReleaseOp::create(b, loc, ring,
                              arith::SubIOp::create(b, loc, next, c1));
  }
  return {accs, next};
}

std::pair<SmallVector<Value>, Value>
buildMmaLoop(OpBuilder &b, Location loc, Value ring, mk::AccType accType,
             ArrayRef<Value> aRows, Value cKSlices, Value i0, bool pipelined,
             StageHook onFull, int64_t cols, int64_t aTile, int64_t bTile) {
  SmallVector<MmaSpec> specs;
  for (Value aRow : aRows)
    specs.push_back({accType, aTile, aRow, bTile, cols});
  return buildMmaSpecLoop(b, loc, ring, specs, cKSlices, i0, pipelined, onFull);
}

namespace {

constexpr int64_t kTurnBarrier0 = 11, kTurnBarrier1 = 12;

void waitTurn(OpBuilder &b, Location loc, Turns turns) {
  if (turns)
    mk::BarrierSyncOp::create(b, loc, b.getI64IntegerAttr(turns.wait),
                              b.getI64IntegerAttr(256));
}

void passTurn(OpBuilder &b, Location loc, Turns turns) {
  if (turns)
    mk::BarrierArriveOp::create(b, loc, b.getI64IntegerAttr(turns.signal),
                                b.getI64IntegerAttr(256));
}

} // namespace

Turns turnsOf(int64_t warpgroup) {
  return warpgroup == 0 ? Turns{kTurnBarrier0, kTurnBarrier1}
                        : Turns{kTurnBarrier1, kTurnBarrier0};
}

void beginTurns(OpBuilder &b, Location loc, Value second) {
  auto ifOp = scf::IfOp::create(b, loc, second, false);
  OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
  passTurn(tb, loc, turnsOf(1));
}

void endTurns(OpBuilder &b, Location loc, Value second) {
  auto ifOp = scf::IfOp::create(b, loc, second, true);
  OpBuilder eb = OpBuilder::atBlockTerminator(ifOp.elseBlock());
  waitTurn(eb, loc, turnsOf(0));
}

namespace {

/// The weight scale of K block `kb` of a block-scaled tile whose first is
/// element `base` of `ws` (f32).
Value loadBlockScale(OpBuilder &b, Location loc, Value ws, Value base,
                     Value kb) {
  Type f32 = b.getF32Type();
  Value index = arith::IndexCastOp::create(
      b, loc, b.getI64Type(), arith::AddIOp::create(b, loc, base, kb));
  return LLVM::LoadOp::create(
      b, loc, f32,
      LLVM::GEPOp::create(b, loc, ws.getType(), f32, ws, ValueRange{index}), 4);
}

} // namespace

std::pair<Value, Value>
buildScaledMmaLoop(OpBuilder &b, Location loc, Value ring, mk::AccType accType,
                   Value aRow, Value row, Value rowEnd,
                   const TileScales &scales, Value cKSlices, Value i0,
                   int64_t bTile, Turns turns, const Fp4Tile *fp4) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value lastBlock = arith::ConstantIndexOp::create(b, loc, scales.kBlocks - 1);
  Type f32 = b.getF32Type();
  auto rowsType = mk::RowsType::get(b.getContext(), 64, f32);
  // The row scales and the weight scale of K block `kb` (MXFP4: 1, and
  // the row's four block scales).
  auto loadScales = [&](OpBuilder &ib, Value kb) -> std::pair<Value, Value> {
    Value rowScales =
        mk::LoadRowsOp::create(ib, loc, rowsType, scales.xs, row, kb, rowEnd,
                               ib.getI64IntegerAttr(scales.kBlocks));
    if (fp4)
      return {rowScales, mk::LoadFp4ScalesOp::create(
                             ib, loc, ib.getI32Type(), fp4->scales, fp4->row,
                             kb, ib.getI64IntegerAttr(fp4->scaleRows),
                             ib.getI64IntegerAttr(fp4->scaleCols),
                             ib.getI64IntegerAttr(fp4->firstThread))};
    return {rowScales, loadBlockScale(ib, loc, scales.ws, scales.wsBase, kb)};
  };
  Value zero = mk::MmaZeroOp::create(b, loc, accType);
  auto [rows0, w0] = loadScales(b, c0);
  auto loop = scf::ForOp::create(
      b, loc, c0, cKSlices, c1, ValueRange{zero, zero, rows0, w0, i0},
      [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
        Value i = it[4];
        mk::RingWaitOp::create(ib, il, ring, i);
        if (fp4) {
          // Expanded outside the turn: while the other warpgroup's MMAs run.
          auto expand = mk::DequantFp4Fp8Op::create(
              ib, il, ring, i, ib.getI64IntegerAttr(fp4->packedTile),
              ib.getI64IntegerAttr(bTile), it[3], fp4->rowMax,
              ib.getI64IntegerAttr(fp4->firstThread),
              ib.getI64IntegerAttr(fp4->barrier));
          expand.setPermuteK(fp4->permuteK);
        }
        waitTurn(ib, il, turns);
        Value partial = mk::MmaOp::create(
            ib, il, ring, i, ib.getI64IntegerAttr(0), aRow,
            ib.getI64IntegerAttr(bTile), it[1],
            /*zero_init=*/ib.getUnitAttr(), /*cols=*/IntegerAttr());
        passTurn(ib, il, turns);
        // The next block's scales (the last block's again after it).
        auto [nextRows, nextW] = loadScales(
            ib, arith::MinUIOp::create(
                    ib, il, arith::AddIOp::create(ib, il, kb, c1), lastBlock));
        partial =
            mk::MmaWaitOp::create(ib, il, partial, ib.getI64IntegerAttr(0));
        mk::RingReleaseOp::create(ib, il, ring, i);
        // MXFP4: the weight scales are in the values and the column
        // scales (applied after the loop).
        Value acc = mk::MmaPromoteOp::create(
            ib, il, it[0], partial, it[2],
            fp4 ? Value(LLVM::ConstantOp::create(ib, il, f32,
                                                 ib.getF32FloatAttr(1.0f)))
                : it[3]);
        scf::YieldOp::create(ib, il,
                             ValueRange{acc, partial, nextRows, nextW,
                                        arith::AddIOp::create(ib, il, i, c1)});
      });
  disableUnroll(loop);
  return {loop.getResult(0), loop.getResult(4)};
}

std::tuple<Value, Value, Value> buildScaledHalvesLoop(
    OpBuilder &b, Location loc, Value ring, mk::AccType accType, Value aRow,
    Value row, Value rowEnd, Value xs, Value ws, std::array<Value, 2> wsBase,
    int64_t kBlocks, Value cKSlices, Value i0, int64_t scaleTile) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value lastBlock = arith::ConstantIndexOp::create(b, loc, kBlocks - 1);
  Type f32 = b.getF32Type();
  auto rowsType = mk::RowsType::get(b.getContext(), 64, f32);
  // The row scales and the two halves' weight scales of K block `kb`.
  auto loadScales = [&](OpBuilder &ib, Value kb) -> SmallVector<Value> {
    SmallVector<Value> v{mk::LoadRowsOp::create(
        ib, loc, rowsType, xs, row, kb, rowEnd, ib.getI64IntegerAttr(kBlocks))};
    for (Value base : wsBase)
      v.push_back(loadBlockScale(ib, loc, ws, base, kb));
    return v;
  };
  Value zero = mk::MmaZeroOp::create(b, loc, accType);
  bool staged = scaleTile >= 0;
  SmallVector<Value> init{zero, zero, zero};
  if (!staged)
    llvm::append_range(init, loadScales(b, c0));
  init.push_back(i0);
  auto loop = scf::ForOp::create(
      b, loc, c0, cKSlices, c1, init,
      [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
        Value i = it.back();
        mk::RingWaitOp::create(ib, il, ring, i);
        SmallVector<Value> scales, next;
        if (!staged)
          scales.assign(it.begin() + 3, it.begin() + 6);
        Value partial = it[2];
        Value main[2] = {it[0], it[1]};
        for (int64_t half = 0; half < 2; ++half) {
          partial = mk::MmaOp::create(
              ib, il, ring, i, ib.getI64IntegerAttr(0), aRow,
              ib.getI64IntegerAttr(1 + half), partial,
              /*zero_init=*/ib.getUnitAttr(), /*cols=*/IntegerAttr());
          // While the first half's MMAs run: this block's staged scales,
          // or the next block's (the last block's again after it).
          if (half == 0 && staged) {
            auto read = mk::LoadStagedScalesOp::create(
                ib, il, rowsType, f32, f32, ring, i, scaleTile, aRow,
                /*rows=*/128);
            scales.assign(read->result_begin(), read->result_end());
          } else if (half == 0) {
            next = loadScales(
                ib,
                arith::MinUIOp::create(
                    ib, il, arith::AddIOp::create(ib, il, kb, c1), lastBlock));
          }
          partial =
              mk::MmaWaitOp::create(ib, il, partial, ib.getI64IntegerAttr(0));
          if (half == 1)
            mk::RingReleaseOp::create(ib, il, ring, i);
          main[half] = mk::MmaPromoteOp::create(ib, il, main[half], partial,
                                                scales[0], scales[1 + half]);
        }
        SmallVector<Value> results{main[0], main[1], partial};
        llvm::append_range(results, next);
        results.push_back(arith::AddIOp::create(ib, il, i, c1));
        scf::YieldOp::create(ib, il, results);
      });
  disableUnroll(loop);
  return {loop.getResult(0), loop.getResult(1), loop.getResults().back()};
}

Value buildPassLoop(OpBuilder &b, Location loc, Value ring, Value cKSlices,
                    Value i0, Turns turns, StageHook onFull) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  auto pass = scf::ForOp::create(
      b, loc, c0, cKSlices, c1, ValueRange{i0},
      [&](OpBuilder &ib, Location il, Value ks, ValueRange iit) {
        mk::RingWaitOp::create(ib, il, ring, iit[0]);
        // Its share of the stage's work all the same.
        if (onFull)
          onFull(ib, il, iit[0], ks);
        // Its turns are taken (and given back) all the same.
        waitTurn(ib, il, turns);
        passTurn(ib, il, turns);
        mk::RingReleaseOp::create(ib, il, ring, iit[0]);
        scf::YieldOp::create(
            ib, il, ValueRange{arith::AddIOp::create(ib, il, iit[0], c1)});
      });
  disableUnroll(pass);
  return pass.getResult(0);
}

Value accRowOf(OpBuilder &b, Location loc, Value row, unsigned a) {
  if (a == 0)
    return row;
  return arith::AddIOp::create(b, loc, row,
                               arith::ConstantIndexOp::create(b, loc, 64 * a));
}
NarrowTile narrowLastTile(OpBuilder &b, Location loc, Value colTile,
                          int64_t colTiles, int64_t validCols) {
  NarrowTile narrow;
  if (validCols) {
    narrow.cols = llvm::alignTo(validCols, 8);
    narrow.narrow = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, colTile,
        arith::ConstantIndexOp::create(b, loc, colTiles - 1));
  }
  return narrow;
}

std::pair<SmallVector<Value>, Value>
buildTileMmas(OpBuilder &b, Location loc, Value ring, mk::AccType accType,
              Value aRow, Value row, Value rowEnd, unsigned numAccs,
              Value cKSlices, Value i0, bool pipelined, StageHook onFull,
              NarrowTile narrow) {
  // The MMA loop of the first `count` accumulators.
  auto mmaLoop = [&](OpBuilder &ib,
                     unsigned count) -> std::pair<SmallVector<Value>, Value> {
    SmallVector<Value> aRows;
    for (unsigned a = 0; a < count; ++a)
      aRows.push_back(accRowOf(ib, loc, aRow, a));
    if (!narrow)
      return buildMmaLoop(ib, loc, ring, accType, aRows, cKSlices, i0,
                          pipelined, onFull);
    SmallVector<Type> types(count, accType);
    types.push_back(ib.getIndexType());
    auto ifOp = scf::IfOp::create(ib, loc, types, narrow.narrow,
                                  /*withElseRegion=*/true);
    for (auto [block, cols] : {std::pair(ifOp.thenBlock(), narrow.cols),
                               std::pair(ifOp.elseBlock(), int64_t(0))}) {
      OpBuilder bb = OpBuilder::atBlockEnd(block);
      auto [accs, next] = buildMmaLoop(bb, loc, ring, accType, aRows, cKSlices,
                                       i0, pipelined, onFull, cols);
      accs.push_back(next);
      scf::YieldOp::create(bb, loc, accs);
    }
    return {SmallVector<Value>(ifOp.getResults().drop_back()),
            ifOp.getResults().back()};
  };
  // Builds the choice for accumulators [first, numAccs) when the ones
  // before are active.
  std::function<std::pair<SmallVector<Value>, Value>(OpBuilder &, unsigned)>
      build = [&](OpBuilder &ob,
                  unsigned first) -> std::pair<SmallVector<Value>, Value> {
    Value firstRow = accRowOf(ob, loc, row, first);
    Value active = arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult,
                                         firstRow, rowEnd);
    SmallVector<Type> types(numAccs, accType);
    types.push_back(ob.getIndexType());
    auto ifOp = scf::IfOp::create(ob, loc, types, active, /*withElse=*/true);
    {
      OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
      auto r =
          first + 1 == numAccs ? mmaLoop(tb, numAccs) : build(tb, first + 1);
      SmallVector<Value> yield(r.first);
      yield.push_back(r.second);
      scf::YieldOp::create(tb, loc, yield);
    }
    {
      // Accumulators [0, first) active, the rest skipped.
      OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
      SmallVector<Value> yield;
      Value next;
      if (first == 0) {
        next = buildPassLoop(eb, loc, ring, cKSlices, i0, Turns(), onFull);
      } else {
        std::tie(yield, next) = mmaLoop(eb, first);
      }
      Value zero = mk::MmaZeroOp::create(eb, loc, accType);
      yield.resize(numAccs, zero);
      yield.push_back(next);
      scf::YieldOp::create(eb, loc, yield);
    }
    SmallVector<Value> accs(ifOp.getResults().drop_back());
    return {accs, ifOp.getResults().back()};
  };
  return build(b, 0);
}

int64_t stagingHalvesBeside(int64_t usedBytes) {
  int64_t left = mk::kMaxSharedMemory - usedBytes;
  return left >= 2 * 2 * mk::kStagingHalfBytes ? 2
         : left >= 2 * mk::kStagingHalfBytes   ? 1
                                               : 0;
}

Value allocStaging(OpBuilder &b, Location loc, int64_t halves) {
  return mk::SmemAllocOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext(), 3),
      b.getI64IntegerAttr(2 * halves * mk::kStagingHalfBytes));
}

std::pair<Value, Value> warpgroupStaging(OpBuilder &b, Location loc,
                                         Value staging, Value wg,
                                         int64_t halves) {
  Value part = LLVM::GEPOp::create(
      b, loc, staging.getType(), b.getI8Type(), staging,
      ValueRange{arith::IndexCastUIOp::create(
          b, loc, b.getI64Type(),
          arith::MulIOp::create(b, loc, wg,
                                arith::ConstantIndexOp::create(
                                    b, loc, halves * mk::kStagingHalfBytes)))});
  Value barrier = arith::AddIOp::create(
      b, loc, wg, arith::ConstantIndexOp::create(b, loc, 13));
  return {part, barrier};
}

void storeAccs(OpBuilder &b, Location loc, ArrayRef<Value> accs, Value out,
               Value row, Value col, Value rowEnd, Type outElem, int64_t n) {
  for (auto [a, acc] : llvm::enumerate(accs))
    mk::StoreAccOp::create(b, loc, acc, out, accRowOf(b, loc, row, a), col,
                           rowEnd, TypeAttr::get(outElem),
                           b.getI64IntegerAttr(n));
}

} // namespace mlir::moe::kernelgen
