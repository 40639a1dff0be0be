//===- FusedQuantized.cpp - The fused MoE kernels of FP8 and MXFP8 -*- C++ -*-//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The fused MoE kernels of the quantized recipes: DeepSeek-V3's FP8 (e4m3
// rows and weights with block scales, the intermediate requantized in
// GEMM1's epilogue; also with MXFP4 weights expanded to e4m3, DeepGEMM's
// formats on Hopper) and MXFP8 x MXFP4 on sm_100a (block-scaled MMAs).
//
//===----------------------------------------------------------------------===//

#include "Fused.h"

namespace mlir::moe::kernelgen {

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

  Value ring = allocBlockScaledRing(b, loc, stages);

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
    bool gatherRows, StringRef gatherHint, bool stagedScales,
    int64_t consumerRegs, bool relaySignals) {
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
  // Wide tiles with `relaySignals`: GEMM1's readiness signals relayed to
  // warps 1 and 2 of the producer warpgroup (moek.signal_relay), as
  // buildFusedKernel's async-signals (not with gathered rows, as there).
  bool relay = wide && relaySignals && !gather && !fp4;
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
    Block *producerRole = b.getInsertionBlock();
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
    if (relay)
      buildSignalRelays(loc, producerRole, ready);
  }

  // Consumers: warpgroups 1 and 2 (MMA warpgroups 0 and 1), each 128
  // columns of every tile.
  {
    OpBuilder::InsertionGuard g(b);
    // (Staged scales: 224 registers, with which ptxas spilled less in the
    // 128-row kernels than with 232; `consumerRegs` sets another count.)
    if (!consumerRegs)
      consumerRegs = producerRegs == 40 && !staged ? 232 : 224;
    beginRole(b, loc, "consumer", 1, 2, consumerRegs);
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
                           /*fresh_thread_id=*/true)
          .setRelayed(relay);
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
    if (relay)
      mk::SignalEndOp::create(b, loc);
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
