//===- MoEToKernel.cpp - Generate moek kernels for moe ops ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// convert-moe-to-moek: builds a warp-specialized, persistent kernel in the
// moek dialect for each supported moe.expert_matmul and moe.fused_moe (the
// routing fused into it where it can be) and replaces the op by a
// moek.launch of it. The kernels themselves are built in the other files of
// this directory.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "moe/Codegen/Passes.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOMOEKERNELPASS
#include "moe/Codegen/Passes.h.inc"
} // namespace mlir::moe

namespace mlir::moe::kernelgen {

namespace {

/// The moe.route that computes `op`'s ids and weights and that nothing else
/// reads, if its routing can run inside `op`'s kernel (moek.route: one GPU
/// or a rank of an expert-parallel layer, which routes its own tokens over
/// every rank's experts before the exchange; at most 1024 experts, top_k
/// and num_groups at most 32, f32, bf16 or f16 logits and an f32 bias; ids
/// of any integer type, the kernel keeping its own in i32); else null and
/// `why` says what stops it (empty when no moe.route feeds `op`).
RouteOp fusableRoute(FusedMoEOp op, std::string &why) {
  auto route = op.getIds().getDefiningOp<RouteOp>();
  if (!route || op.getWeights().getDefiningOp<RouteOp>() != route)
    return {};
  auto stop = [&](const Twine &reason) -> RouteOp {
    why = reason.str();
    return {};
  };
  if (!route.getIds().hasOneUse() || !route.getWeights().hasOneUse())
    return stop("its ids or weights have other uses");
  int64_t e = route.getLogits().getType().getDimSize(1), k = route.getTopK(),
          g = route.getNumGroups();
  // (moe.route's verifier has made the groups equal.)
  if (ShapedType::isDynamic(e) || e > 1024 || k > 32 || g > 32)
    return stop("moek.route takes at most 1024 experts and top_k and "
                "num_groups of at most 32; this route has " +
                Twine(e) + ", " + Twine(k) + " and " + Twine(g));
  Type lt = route.getLogits().getType().getElementType();
  if (!lt.isF32() && !lt.isBF16() && !lt.isF16())
    return stop("its logits are not f32, bf16 or f16");
  return route;
}

/// Moves `route` into the fused kernel `kernel`, whose launch operands 1
/// and 2 were the ids and weights: operand 1 becomes the router logits,
/// operand 2 the route's bias (or is dropped, the operands after it moving
/// down by one). At the kernel's start every warp routes its tokens into
/// two buffers appended to the workspace (moek.route), then a grid barrier
/// (its own counter, in the zeroed first 64 bytes of the workspace, which
/// only the kernel's main counter at 0 and the tile counter at 32 use);
/// the kernel reads those buffers where it read its ids and weights.
void fuseRouting(LLVM::LLVMFuncOp kernel, RouteOp route) {
  MLIRContext *ctx = kernel.getContext();
  OpBuilder b(ctx);
  Location loc = route.getLoc();
  auto abi = kernel->getAttrOfType<ArrayAttr>("moek.abi");
  auto paramOf = [&](function_ref<bool(DictionaryAttr)> is) -> unsigned {
    for (auto [n, entry] : llvm::enumerate(abi))
      if (is(cast<DictionaryAttr>(entry)))
        return n;
    llvm_unreachable("a fused kernel's parameter is missing");
  };
  auto operandIs = [](int64_t n) {
    return [n](DictionaryAttr d) {
      auto o = d.getAs<IntegerAttr>("operand");
      auto kind = d.getAs<StringAttr>("kind");
      return o && o.getInt() == n && kind && kind.getValue() == "ptr";
    };
  };
  auto kindIs = [](StringRef k) {
    return [k](DictionaryAttr d) {
      auto kind = d.getAs<StringAttr>("kind");
      return kind && kind.getValue() == k;
    };
  };
  unsigned idsParam = paramOf(operandIs(1)),
           weightsParam = paramOf(operandIs(2)),
           wsParam = paramOf(kindIs("workspace")),
           tokensParam = paramOf(kindIs("token_count"));
  NamedAttrList ws(kernel->getAttrOfType<DictionaryAttr>("moek.workspace"));
  int64_t maxTokens = cast<IntegerAttr>(ws.get("max_tokens")).getInt();
  // Each token's slots: its top_k experts and the shared ones.
  int64_t k = route.getTopK() + route.getSharedExperts();
  int64_t idsAt =
              llvm::alignTo(cast<IntegerAttr>(ws.get("bytes")).getInt(), 16),
          weightsAt = idsAt + llvm::alignTo(4 * maxTokens * k, 16);
  ws.set("bytes", b.getI64IntegerAttr(weightsAt + 4 * maxTokens * k));
  kernel->setAttr("moek.workspace", ws.getDictionary(ctx));

  Block &entry = kernel.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value wsBase = entry.getArgument(wsParam);
  Value ids = workspacePart(b, loc, wsBase, idsAt),
        weights = workspacePart(b, loc, wsBase, weightsAt);
  Value logits = entry.getArgument(idsParam),
        bias = entry.getArgument(weightsParam);
  logits.replaceAllUsesWith(ids);
  bias.replaceAllUsesWith(weights);
  Value tokens = arith::IndexCastUIOp::create(b, loc, b.getIndexType(),
                                              entry.getArgument(tokensParam));
  mk::RouteOp::create(
      b, loc, logits, route.getBias() ? bias : Value(), ids, weights, tokens,
      b.getI64IntegerAttr(route.getLogits().getType().getDimSize(1)),
      b.getI64IntegerAttr(route.getTopK()),
      b.getI64IntegerAttr(route.getNumGroups()),
      b.getI64IntegerAttr(route.getTopkGroups()),
      b.getStringAttr(stringifyScoring(route.getScoring())),
      route.getRenormalize() ? b.getUnitAttr() : UnitAttr(),
      route.getRoutedScalingFactorAttr(),
      TypeAttr::get(route.getLogits().getType().getElementType()),
      b.getI64IntegerAttr(route.getSharedExperts()),
      route.getSharedWeightAttr());
  int64_t threads =
      cast<IntegerAttr>(
          kernel->getAttrOfType<DictionaryAttr>("moek.launch").get("block"))
          .getInt();
  mk::GridBarrierOp::create(b, loc, workspacePart(b, loc, wsBase, 16),
                            b.getI64IntegerAttr(1), b.getI64IntegerAttr(0),
                            b.getI64IntegerAttr(threads));

  // The parameters: operand 2 is the bias, or gone.
  bool hasBias = bool(route.getBias());
  SmallVector<Attribute> entries;
  for (auto [n, entry] : llvm::enumerate(abi)) {
    if (n == weightsParam && !hasBias)
      continue;
    NamedAttrList d(cast<DictionaryAttr>(entry));
    auto o = dyn_cast_or_null<IntegerAttr>(d.get("operand"));
    if (o && o.getInt() > 2 && !hasBias)
      d.set("operand", b.getI64IntegerAttr(o.getInt() - 1));
    entries.push_back(d.getDictionary(ctx));
  }
  kernel->setAttr("moek.abi", b.getArrayAttr(entries));
  if (hasBias)
    return;
  // Drop the parameter: from the function type, the entry block and the
  // argument attributes (the TMA descriptors' byval and alignment).
  LLVM::LLVMFunctionType type = kernel.getFunctionType();
  SmallVector<Type> params(type.getParams());
  params.erase(params.begin() + weightsParam);
  kernel.setFunctionType(LLVM::LLVMFunctionType::get(type.getReturnType(),
                                                     params, type.isVarArg()));
  entry.eraseArgument(weightsParam);
  if (ArrayAttr argAttrs = kernel.getArgAttrsAttr()) {
    SmallVector<Attribute> attrs(argAttrs.getValue());
    attrs.erase(attrs.begin() + weightsParam);
    kernel.setArgAttrsAttr(b.getArrayAttr(attrs));
  }
}

/// The kernel name for the `index`-th op of its kind: the enclosing
/// function's name (or "moe"), `what`, and the index.
std::string kernelNameFor(Operation *op, StringRef what, unsigned index) {
  auto func = op->getParentOfType<func::FuncOp>();
  return (func ? func.getSymName().str() : std::string("moe")) + "_" +
         what.str() + "_" + std::to_string(index);
}

/// Replaces `op`'s single result `out` by a moek.launch of `kernel` (in the
/// kernel module) on `args`, and erases `op`.
void replaceByLaunch(Operation *op, Value out, LLVM::LLVMFuncOp kernel,
                     ValueRange args) {
  OpBuilder hb(op);
  auto sym =
      SymbolRefAttr::get(hb.getStringAttr(kKernelModule),
                         {FlatSymbolRefAttr::get(kernel.getSymNameAttr())});
  auto launch = mk::LaunchOp::create(hb, op->getLoc(), TypeRange{out.getType()},
                                     sym, args);
  out.replaceAllUsesWith(launch.getResult(0));
  op->erase();
}

/// Whether the string option `option` holds one of `choices`; if not, an
/// error on `module` that names them ("... must be 'a', 'b' or 'c', got
/// 'd'").
bool isOneOf(ModuleOp module, StringRef option, StringRef value,
             ArrayRef<StringRef> choices) {
  if (llvm::is_contained(choices, value))
    return true;
  InFlightDiagnostic diag = module.emitError();
  diag << "convert-moe-to-moek: " << option << " must be ";
  for (size_t i = 0; i < choices.size(); ++i)
    diag << (i == 0                    ? ""
             : i + 1 == choices.size() ? " or "
                                       : ", ")
         << "'" << choices[i] << "'";
  diag << ", got '" << value << "'";
  return false;
}

struct ConvertMoEToMoEKernelPass
    : public mlir::moe::impl::ConvertMoEToMoEKernelPassBase<
          ConvertMoEToMoEKernelPass> {
  using Base::Base;

  /// 1. Collect the expert matmuls of every function.
  /// 2. For each supported one, generate its kernel into @moe_kernels and
  ///    replace it by a moek.launch; remark on the others.
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (stages != 0 && stages < 2) {
      module.emitError() << "convert-moe-to-moek: stages must be >= 2 (or 0, "
                            "each kernel's default), got "
                         << static_cast<int64_t>(stages);
      return signalPassFailure();
    }
    // Each kernel's default, for 0 (the FP8 fused kernel picks its own).
    int64_t ringStages = stages ? int64_t(stages) : kDefaultStages;
    if (!isOneOf(module, "schedule", schedule, {"cooperative", "pingpong"}))
      return signalPassFailure();
    if (schedule == "pingpong" && tileN == 256) {
      module.emitError() << "convert-moe-to-moek: the pingpong schedule "
                            "holds two 64-row accumulators per warpgroup, "
                            "so it takes tile-n = 128";
      return signalPassFailure();
    }
    if (!isOneOf(module, "pipeline-mma", pipelineMma,
                 {"auto", "true", "false"}))
      return signalPassFailure();
    if (rowGroup < 0) {
      module.emitError() << "convert-moe-to-moek: row-group must be >= 0 "
                            "(0: auto), got "
                         << static_cast<int64_t>(rowGroup);
      return signalPassFailure();
    }
    if (tileM != 0 && tileM != 128 && tileM != 256) {
      module.emitError() << "convert-moe-to-moek: tile-m must be 0 (auto), "
                            "128 or 256, got "
                         << static_cast<int64_t>(tileM);
      return signalPassFailure();
    }
    if (tileM == 256 && (tileN == 256 || schedule == "pingpong")) {
      module.emitError() << "convert-moe-to-moek: tile-m = 256 holds two "
                            "64-row accumulators per warpgroup, so it takes "
                            "tile-n = 128 and the cooperative schedule";
      return signalPassFailure();
    }
    if (fp8TileRows != 0 && fp8TileRows != 64 && fp8TileRows != 128) {
      module.emitError() << "convert-moe-to-moek: fp8-tile-rows must be 0 "
                            "(auto), 64 or 128, got "
                         << static_cast<int64_t>(fp8TileRows);
      return signalPassFailure();
    }
    if (tileN != 0 && tileN != 128 && tileN != 256) {
      module.emitError() << "convert-moe-to-moek: tile-n must be 0 (auto), "
                            "128 or 256, got "
                         << static_cast<int64_t>(tileN);
      return signalPassFailure();
    }
    if (chip != "sm_90a" && chip != "sm_100a") {
      module.emitError() << "convert-moe-to-moek: chip '" << chip
                         << "' is not supported (supported: sm_90a, sm_100a)";
      return signalPassFailure();
    }
    if (fp4StepsPerFence != 1 && fp4StepsPerFence != 2 &&
        fp4StepsPerFence != 4) {
      module.emitError() << "convert-moe-to-moek: fp4-steps-per-fence must be "
                            "1, 2 or 4, got "
                         << static_cast<int64_t>(fp4StepsPerFence);
      return signalPassFailure();
    }
    if (!isOneOf(module, "gather-l2-hint", gatherL2Hint,
                 {"evict_last", "evict_first", "none"}) ||
        !isOneOf(module, "absorb-tails", absorbTails,
                 {"auto", "true", "false"}))
      return signalPassFailure();
    StringRef gatherHint =
        gatherL2Hint == "none" ? StringRef() : StringRef(gatherL2Hint);
    if (maxTokens < 1) {
      module.emitError() << "convert-moe-to-moek: max-tokens must be >= 1, "
                            "got "
                         << static_cast<int64_t>(maxTokens);
      return signalPassFailure();
    }
    // Fused layers first: each becomes one kernel.
    SmallVector<FusedMoEOp> layers;
    module.walk([&](FusedMoEOp op) { layers.push_back(op); });
    unsigned fusedCounter = 0;
    for (FusedMoEOp op : layers) {
      // The routing (moe.route) runs inside the kernel, which then takes
      // the router logits instead of the ids and weights.
      RouteOp route;
      std::string whyNotRouted;
      if (fuseRoutingOpt)
        route = fusableRoute(op, whyNotRouted);
      std::string why = unsupportedReason(op, /*idsInKernel=*/bool(route));
      if (!why.empty()) {
        op.emitRemark() << "convert-moe-to-moek: not lowered: " << why;
        continue;
      }
      if (!whyNotRouted.empty())
        op.emitRemark() << "convert-moe-to-moek: the routing stays outside "
                           "the kernel: "
                        << whyNotRouted;
      if (op.getW13Bias() || op.getW2Bias()) {
        // Per-expert biases: added to the register accumulators of the
        // sm_90a kernels of bf16 rows (bf16, FP4 or MXFP8 weights).
        StringRef why;
        if (isFp8BlockLayer(op) || isFp8Mxfp4Layer(op))
          why = "per-expert biases (w13_bias, w2_bias) are not supported by "
                "the FP8-row kernels yet (bf16 rows only)";
        else if (chip == "sm_100a" && singleIssuer && isMxfp8Mxfp4Layer(op) &&
                 !op.isPerRank() && !phaseTimers &&
                 op.getW13().getType().getDimSize(2) % 128 == 0 &&
                 op.getW2().getType().getDimSize(2) % 128 == 0)
          // The bf16 single-issuer kernel's tensor-memory epilogue adds
          // them (moek.acc_store_act_rows and acc_store_rows {bias}); the
          // block-scaled MXFP8 x MXFP4 one does not yet.
          why = "per-expert biases (w13_bias, w2_bias) are not added by "
                "sm_100a's block-scaled MXFP8 x MXFP4 kernel yet "
                "(single-issuer=false takes them)";
        else if (commOnly)
          why = "comm-only kernels multiply nothing, so they take no "
                "per-expert biases";
        if (!why.empty()) {
          op.emitRemark() << "convert-moe-to-moek: not lowered: " << why;
          continue;
        }
      }
      if (commOnly && (!op.isPerRank() || isFp8BlockLayer(op) ||
                       isFp8Mxfp4Layer(op) || !op.getGemm2Type().isBF16())) {
        op.emitError() << "convert-moe-to-moek: comm-only takes the per-rank "
                          "form of a bf16 expert-parallel layer with bf16 "
                          "GEMM2 output (its rows go back as the results)";
        return signalPassFailure();
      }
      std::string name = kernelNameFor(op, "fused_moe", fusedCounter++);
      gpu::GPUModuleOp kernels = getOrCreateKernelModule(module);
      OpBuilder b(kernels.getBodyRegion());
      b.setInsertionPointToEnd(&kernels.getBodyRegion().front());
      SmallVector<Value> args{op.getX(), op.getIds(), op.getWeights(),
                              op.getW13(), op.getW2()};
      LLVM::LLVMFuncOp kernel;
      if (isFp8BlockLayer(op) || isFp8Mxfp4Layer(op)) {
        bool wideApplies =
            fp8WideTilesApply(op, chip == "sm_90a", dispatchReadiness);
        if (fp8TileRows == 128 && !wideApplies)
          op.emitRemark()
              << "convert-moe-to-moek: fp8-tile-rows=128 not applied (it "
                 "takes FP8 weights on sm_90a, one GPU, without "
                 "dispatch-readiness): 64-row tiles";
        auto build = [&](const std::string &kernelName, int64_t tileRows,
                         bool staged, int64_t consumerRegs = 0,
                         bool relay = false) {
          return buildFusedFp8Kernel(
              b, op.getLoc(), kernelName, op, stages, maxTokens, streamWeights,
              /*transposedSmallTiles=*/chip == "sm_90a" && smallTiles,
              fp4StepsPerFence,
              /*blockScaled=*/chip == "sm_100a" && blockScaled, phaseTimers,
              /*storeTma=*/chip == "sm_90a", dispatchReadiness,
              approxActivation, tileRows,
              /*gatherRows=*/chip == "sm_90a" && gatherRows, gatherHint,
              staged, consumerRegs, relay);
        };
        kernel = build(name, fp8TileRows == 128 ? 128 : 64, fp8StagedScales,
                       0, fp8TileRows == 128 && fp8AsyncSignals);
        // Auto (0): the 128-row kernel as a variant that the runtime
        // launches instead from 64 rows an expert on average (T * K >= 64
        // E), where its tiles are full: measured 4-11% faster at prefill,
        // 6-7% slower at decode (bench/results/). With staged scales, that
        // kernel first, then the same with 216 consumer registers, then the
        // plain 128-row kernel, all for the same token counts: an artifact
        // leaves a variant that ptxas spills in out, and the runtime runs
        // the first variant left whose range holds T. (ptxas's allocation
        // of the staged kernel is erratic: at 224 registers it spills 4
        // bytes where top_k < 4, at 216 it spills in some layers that 224
        // compiles cleanly.)
        if (fp8TileRows == 0 && wideApplies) {
          int64_t e = op.getW13().getType().getDimSize(0);
          int64_t k = op.getIds().getType().getDimSize(1);
          SmallVector<Attribute> variants;
          auto addVariant = [&](StringRef suffix, bool staged,
                                int64_t consumerRegs = 0, bool relay = false) {
            LLVM::LLVMFuncOp wide =
                build(name + suffix.str(), 128, staged, consumerRegs, relay);
            SymbolTable(kernels).insert(wide);
            variants.push_back(b.getDictionaryAttr(
                {b.getNamedAttr("kernel",
                                FlatSymbolRefAttr::get(wide.getSymNameAttr())),
                 b.getNamedAttr(
                     "min_tokens",
                     b.getI64IntegerAttr(llvm::divideCeil(64 * e, k)))}));
          };
          if (fp8StagedScales) {
            // The staged kernel at the default consumer registers, then at
            // kFallbackRegs (suffix "_m128s", "r" with the relay, then the
            // register count of the fallback).
            constexpr int64_t kFallbackRegs = 216;
            auto addStaged = [&](bool relay) {
              std::string suffix = relay ? "_m128sr" : "_m128s";
              addVariant(suffix, true, 0, relay);
              addVariant(suffix + std::to_string(kFallbackRegs), true,
                         kFallbackRegs, relay);
            };
            // fp8-async-signals: the staged kernels with relayed readiness
            // signals first (ptxas spills in some shapes' of them, where
            // the ones without the relay run); not with gathered rows,
            // as for bf16 weights.
            if (fp8AsyncSignals && !gatherRows)
              addStaged(/*relay=*/true);
            addStaged(/*relay=*/false);
          }
          addVariant("_m128", false);
          kernel->setAttr("moek.variants", b.getArrayAttr(variants));
        }
        args.append({op.getW13Scales(), op.getW2Scales()});
      } else if (chip == "sm_100a" && singleIssuer && isMxfp8Mxfp4Layer(op) &&
                 !op.isPerRank() && !phaseTimers &&
                 op.getW13().getType().getDimSize(2) % 128 == 0 &&
                 op.getW2().getType().getDimSize(2) % 128 == 0) {
        // MXFP8 x MXFP4 with H and I multiples of 128 (the 128-wide K
        // blocks): every product block-scaled by the tensor cores.
        kernel = buildFusedMxKernel(b, op.getLoc(), name, op, ringStages,
                                    maxTokens, streamWeights);
        args.append({op.getW13Scales(), op.getW2Scales()});
      } else {
        kernel = buildFusedKernel(
            b, op.getLoc(), name, op, ringStages, maxTokens, streamWeights,
            phaseTimers, commOnly,
            /*transposedSmallTiles=*/chip == "sm_90a" && smallTiles,
            /*singleIssuer=*/chip == "sm_100a" && singleIssuer, narrowTiles,
            dispatchReadiness, approxActivation,
            /*gatherRows=*/chip == "sm_90a" && gatherRows, gatherHint,
            /*absorbTails=*/chip == "sm_90a" && smallTiles
                ? StringRef(absorbTails)
                : StringRef("false"),
            /*asyncSignals=*/chip == "sm_90a" && asyncSignals);
        std::optional<QuantScheme> expanded = expandedWeights(op);
        if (expanded)
          args.append({op.getW13Scales(), op.getW2Scales()});
        if (expanded == QuantScheme::nvfp4) {
          if (Value g = op.getW13GlobalScale())
            args.push_back(g);
          if (Value g = op.getW2GlobalScale())
            args.push_back(g);
        }
        for (Value bias : {op.getW13Bias(), op.getW2Bias()})
          if (bias)
            args.push_back(bias);
      }
      SymbolTable(kernels).insert(kernel);
      if (route) {
        fuseRouting(kernel, route);
        if (auto variants = kernel->getAttrOfType<ArrayAttr>("moek.variants"))
          for (Attribute v : variants)
            fuseRouting(SymbolTable(kernels).lookup<LLVM::LLVMFuncOp>(
                            cast<FlatSymbolRefAttr>(
                                cast<DictionaryAttr>(v).get("kernel"))
                                .getValue()),
                        route);
        args[1] = route.getLogits();
        if (Value bias = route.getBias())
          args[2] = bias;
        else
          args.erase(args.begin() + 2);
      }
      replaceByLaunch(op, op.getOut(), kernel, args);
      if (route)
        route.erase();
    }
    SmallVector<ExpertMatmulOp> matmuls;
    module.walk([&](ExpertMatmulOp op) { matmuls.push_back(op); });
    unsigned counter = 0;
    for (ExpertMatmulOp op : matmuls) {
      std::string why = unsupportedReason(op);
      if (!why.empty()) {
        op.emitRemark() << "convert-moe-to-moek: not lowered: " << why;
        continue;
      }
      bool scaled = isFp8Block(op);
      bool mx = isMxfp8Mxfp4(op);
      if (mx && (chip != "sm_100a" || !singleIssuer)) {
        op.emitRemark() << "convert-moe-to-moek: not lowered: MXFP8 rows by "
                           "MXFP4 weights are multiplied by sm_100a's "
                           "block-scaled tcgen05.mma only (chip = sm_100a "
                           "with single-issuer; chip = "
                        << chip
                        << " given); sm_90a takes them in the fused "
                           "layer, expanded to bf16";
        continue;
      }
      if (mx &&
          (tileM == 256 || tileN == 256 || schedule == "pingpong" || ctaPair)) {
        op.emitError() << "convert-moe-to-moek: the MXFP8 x MXFP4 kernel uses "
                          "128 x 128 tiles, its own schedule and no CTA pairs "
                          "(tile-m = "
                       << static_cast<int64_t>(tileM)
                       << ", tile-n = " << static_cast<int64_t>(tileN)
                       << ", schedule = " << schedule << " given)";
        return signalPassFailure();
      }
      if (scaled && (tileM == 256 || tileN == 256 || schedule == "pingpong")) {
        // A block-scaled tile holds a main and a partial accumulator per
        // warpgroup (128 registers for 64 x 128).
        op.emitError() << "convert-moe-to-moek: fp8_block kernels use 128 x "
                          "128 tiles and the cooperative schedule (tile-m = "
                       << static_cast<int64_t>(tileM)
                       << ", tile-n = " << static_cast<int64_t>(tileN)
                       << ", schedule = " << schedule << " given)";
        return signalPassFailure();
      }
      bool fp4 = isMxfp4Weights(op), mxfp8 = isMxfp8(op);
      if ((fp4 || mxfp8) && (tileN == 256 || schedule == "pingpong")) {
        // Both MMA warpgroups expand every stage's weights together.
        op.emitError() << "convert-moe-to-moek: kernels of FP4 weights or "
                          "MXFP8 operands use 128-wide tiles and the "
                          "cooperative schedule "
                          "(tile-n = "
                       << static_cast<int64_t>(tileN)
                       << ", schedule = " << schedule << " given)";
        return signalPassFailure();
      }
      if (mxfp8 && tileM == 256) {
        op.emitError() << "convert-moe-to-moek: kernels of MXFP8 operands use "
                          "128-row tiles (a 256-row stage with its e4m3 and "
                          "bf16 tiles does not fit four times in shared "
                          "memory; tile-m = 256 given)";
        return signalPassFailure();
      }
      // sm_100a, bf16: Blackwell's shape (one MMA issuer, tensor-memory
      // accumulators drained by epilogue warpgroups), 128-row tiles.
      bool single =
          chip == "sm_100a" && singleIssuer && !fp4 && !mxfp8 &&
          (scaled || mx || (!op.getXQuantAttr() && !op.getWQuantAttr()));
      if (single && (tileM == 256 || schedule == "pingpong")) {
        op.emitError() << "convert-moe-to-moek: the sm_100a single-issuer "
                          "kernel uses 128-row tiles and its own schedule "
                          "(tile-m = "
                       << static_cast<int64_t>(tileM)
                       << ", schedule = " << schedule
                       << " given; single-issuer=false keeps the sm_90a "
                          "shape)";
        return signalPassFailure();
      }
      int64_t n = op.getWeight().getType().getDimSize(1);
      if (ctaPair && (!single || scaled || n % 256 != 0)) {
        op.emitError() << "convert-moe-to-moek: cta-pair takes bf16 grouped "
                          "matmuls on sm_100a with single-issuer and N a "
                          "multiple of 256 (256 x 256 tiles; chip = "
                       << chip << ", N = " << n << ")";
        return signalPassFailure();
      }
      // Per-expert biases: added to register accumulators (the cooperative
      // kernels; on sm_100a those of FP4 and MXFP8 weights, or with
      // single-issuer=false).
      // (sm_100a's single-issuer bf16 kernel adds it in its tensor-memory
      // epilogue; not yet the FP8 and block-scaled ones, whose epilogues
      // promote or scale.)
      bool fp4Or8 = isMxfp4Weights(op) || isMxfp8(op);
      bool singleScaled = chip == "sm_100a" && singleIssuer && !fp4Or8 &&
                          (isFp8Block(op) || mx);
      if (op.getBias() && (schedule == "pingpong" || singleScaled || ctaPair)) {
        op.emitRemark() << "convert-moe-to-moek: not lowered: a per-expert "
                           "bias is not added by this kernel yet (chip = "
                        << chip << ", schedule = " << schedule
                        << (singleScaled ? ", the single-issuer FP8 or "
                                           "block-scaled kernel"
                                         : "")
                        << (ctaPair ? ", cta-pair" : "") << ")";
        continue;
      }
      std::string name = kernelNameFor(op, "expert_matmul", counter++);
      KernelConfig config;
      config.singleIssuer = single;
      config.ctaPair = ctaPair;
      config.stages = ringStages;
      // Auto: with bf16 operands each stage is released once its MMAs are
      // done (wait_group 0): keeping a group in flight held the previous
      // stage until the next one was full, a stage fewer in flight while
      // the MMA warpgroups wait on memory; 2-8% slower on the six cases'
      // prefill GEMMs (bench/results/2026-12-04-grouped-gemm-release-h200.md).
      // Kernels that expand FP4 (MXFP4, NVFP4) or FP8 (MXFP8) operands
      // keep the group in flight (the next stage's expansion overlaps it),
      // and so does the pingpong schedule (not measured without).
      config.pipelineMma = pipelineMma == "auto"
                               ? fp4 || mxfp8 || schedule == "pingpong"
                               : pipelineMma == "true";
      config.pingpong = schedule == "pingpong";
      config.narrowTiles = narrowTiles;
      // Auto: 256-wide tiles when they divide N (measured 0-10% faster on
      // the six cases' GEMMs, bench/results/), else 128 (less masked waste).
      auto configure = [&](int64_t m) {
        KernelConfig c = config;
        c.tileM = m;
        c.tileN = tileN ? tileN
                        : (scaled || mx || fp4 || mxfp8 || c.pingpong ||
                                   m >= 192 || n % 256 != 0
                               ? 128
                               : 256);
        c.rowGroup = rowGroup ? rowGroup : autoRowGroup(op, m);
        return c;
      };
      gpu::GPUModuleOp kernels = getOrCreateKernelModule(module);
      OpBuilder b(kernels.getBodyRegion());
      b.setInsertionPointToEnd(&kernels.getBodyRegion().front());
      LLVM::LLVMFuncOp kernel =
          buildKernel(b, op.getLoc(), name, op, configure(tileM ? tileM : 128));
      SymbolTable(kernels).insert(kernel);
      // Auto tile-m with the cooperative schedule: a second kernel of 192-
      // (bf16) or 256-row tiles, which the runtime launches instead when T
      // gives 64 to 192 rows per expert on average (one tile then covers
      // most experts, whose weights are read once: 256-row tiles were
      // 16-21% faster on DeepSeek-V3 prefill's GEMMs, 0-9% slower with 4,
      // 256 or 1024 rows per expert; bench/results/).
      // (Not for MXFP8: two e4m3 tiles beside the bf16 ones make a 256-row
      // stage 72 KB, four of which do not fit.)
      if (!tileM && !config.pingpong && tileN != 256 && !scaled && !mxfp8 &&
          !single) {
        int64_t e = op.getWeight().getType().getDimSize(0);
        // bf16: 192-row tiles in five 40 KB stages (the weights' DRAM
        // stream is bound by the bytes in flight: 2, 3 and 4 stages of 256
        // rows took 9.3, 6.2 and 4.7 ms at DeepSeek-V3 prefill's gate/up
        // GEMM, five of 192 rows 7% less than four of 256; bench/results/
        // 2026-12-04-grouped-gemm-l2-h200.md), which also fit the 128-160
        // rows of its experts better; MXFP4 weights: 256-row tiles in four
        // 48 KB stages (their stage also holds the packed weights). With a
        // single K slice (K = 64) ptxas serializes the 192-row kernel's
        // wgmmas (C7520: its epilogue's one staging half waits in a
        // divergent path), so such a toy K keeps 256-row tiles too.
        int64_t kDim = op.getWeight().getType().getDimSize(2);
        int64_t wideRows = fp4 || kDim <= 64 ? 256 : 192;
        KernelConfig wideConfig = configure(wideRows);
        wideConfig.streamWeights = true;
        // The transposed product: wgmma's (sm_90a) only; sm_100a's MMA
        // warpgroups keep the usual one (not run on a Blackwell yet).
        wideConfig.transposed = transposedWide && chip == "sm_90a";
        // At most (and by default) as many stages as fit in 227 KB.
        int64_t wideStages = wideRows == 192 ? 5 : 4;
        wideConfig.stages =
            stages ? std::min<int64_t>(stages, wideStages) : wideStages;
        // wide-cluster (bf16): in clusters of two CTAs sharing each tile's
        // row boxes, which are then read from L2 once for two column
        // tiles. L2 reads 17% fewer bytes at DeepSeek-V3 prefill, the
        // kernel no faster (bench/results/2026-12-04-grouped-gemm-l2-h200.md).
        wideConfig.clusterCols = wideCluster && !fp4;
        LLVM::LLVMFuncOp wide =
            buildKernel(b, op.getLoc(), name + "_m" + std::to_string(wideRows),
                        op, wideConfig);
        SymbolTable(kernels).insert(wide);
        kernel->setAttr(
            "moek.variants",
            b.getArrayAttr({b.getDictionaryAttr(
                {b.getNamedAttr("kernel",
                                FlatSymbolRefAttr::get(wide.getSymNameAttr())),
                 b.getNamedAttr("min_tokens", b.getI64IntegerAttr(64 * e)),
                 b.getNamedAttr("max_tokens",
                                b.getI64IntegerAttr(192 * e))})}));
      }
      SmallVector<Value> args{op.getX(), op.getWeight(), op.getOffsets()};
      if (scaled || mxfp8 || mx)
        args.append({op.getXScales(), op.getWScales()});
      if (fp4)
        args.push_back(op.getWScales());
      if (isNvfp4Weights(op) && op.getWGlobalScale())
        args.push_back(op.getWGlobalScale());
      if (Value bias = op.getBias())
        args.push_back(bias);
      replaceByLaunch(op, op.getOut(), kernel, args);
    }
  }
};

} // namespace

} // namespace mlir::moe::kernelgen
