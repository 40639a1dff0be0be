//===- FusedMoE.cpp - The fused MoE kernel (bf16) ---------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The fused MoE layer (moe.fused_moe) in one persistent kernel: which layers
// it takes, its workspace and phase timers, its ABI, expert parallelism
// across GPUs, and the bf16 kernel (dispatch, GEMM1 with the activation,
// readiness signals, GEMM2, combine), with its FP4-weight and MXFP8-row
// forms.
//
//===----------------------------------------------------------------------===//

#include "Fused.h"

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

Value isGemm1Tag(OpBuilder &b, Location loc, Value t, Value n1) {
  return arith::SelectOp::create(
      b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, t, n1),
      arith::ConstantIndexOp::create(b, loc, 1),
      arith::ConstantIndexOp::create(b, loc, 0));
}

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

ArrayAttr buildFusedAbi(OpBuilder &b, int64_t e, int64_t h, int64_t i,
                        int64_t maxRows, const FusedWorkspace &ws, bool fp8,
                        bool fp4, int64_t globalScales, bool paddedFp4,
                        bool yTma, ArrayRef<int64_t> biasOperands,
                        int64_t tailRows) {
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

Value workspacePart(OpBuilder &b, Location loc, Value base, int64_t offset) {
  Value bytes = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                         b.getI64IntegerAttr(offset));
  return LLVM::GEPOp::create(b, loc, base.getType(), b.getI8Type(), base,
                             ValueRange{bytes});
}

std::map<int64_t, Value> indexConstants(OpBuilder &b, Location loc,
                                        ArrayRef<int64_t> values) {
  std::map<int64_t, Value> constants;
  for (int64_t v : values)
    constants.try_emplace(v, arith::ConstantIndexOp::create(b, loc, v));
  return constants;
}

Value globalElement(OpBuilder &b, Location loc, Value base, Type elem,
                    Value i) {
  return LLVM::GEPOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext(), 1), elem, base,
      ValueRange{arith::IndexCastUIOp::create(b, loc, b.getI64Type(), i)});
}

namespace {

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

} // namespace
Value transposeBack(OpBuilder &b, Location loc, ArrayRef<Value> products,
                    ArrayRef<Value> rowMax, Value storeBuf, Value loadBuf,
                    int64_t barrier, int64_t threads, mk::AccType accType) {
  storeTransposed(b, loc, products, rowMax, storeBuf);
  return loadTransposed(b, loc,
                        cast<mk::AccType>(products.front().getType()).getCols(),
                        loadBuf, barrier, threads, accType);
}
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
    if (relay)
      buildSignalRelays(loc, producerRole, ready);
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

} // namespace mlir::moe::kernelgen
