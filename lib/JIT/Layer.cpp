//===- Layer.cpp - A fused MoE layer described by its numbers ---*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// See moe/JIT/Layer.h. The module is built with the op's builder and checked
// by the verifier, so a layer that would not parse as text is rejected here
// with the verifier's message.
//
//===----------------------------------------------------------------------===//

#include "moe/JIT/Layer.h"

#include "moe/Dialect/MoE/IR/MoEOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::moe;
using llvm::Expected;
using llvm::StringRef;

namespace {

constexpr int64_t kFp8Block = 128;
constexpr int64_t kMxBlock = 32;
constexpr int64_t kNvBlock = 16;

llvm::Error layerError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "moe layer: " + message);
}

/// The element type named `name` (bf16 or f32), or null.
Type floatType(MLIRContext &ctx, StringRef name) {
  if (name == "bf16")
    return BFloat16Type::get(&ctx);
  if (name == "f32")
    return Float32Type::get(&ctx);
  return {};
}

} // namespace

Expected<jit::FusedMoeLayer> jit::parseFusedMoeLayer(StringRef spec) {
  FusedMoeLayer layer;
  struct Size {
    const char *name;
    int64_t *value;
    bool seen;
  } sizes[] = {{"E", &layer.experts, false},
               {"H", &layer.hidden, false},
               {"I", &layer.intermediate, false},
               {"K", &layer.topK, false}};
  SmallVector<StringRef> fields;
  spec.split(fields, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (StringRef field : fields) {
    StringRef name = field.split('=').first.trim();
    StringRef value = field.split('=').second.trim();
    if (value.empty())
      return layerError("field '" + field.trim() + "' has no value (expected "
                        "name=value)");
    auto size = llvm::find_if(sizes, [&](Size &s) { return name == s.name; });
    if (size != std::end(sizes)) {
      if (value.getAsInteger(10, *size->value) || *size->value <= 0)
        return layerError(name + " = '" + value +
                          "' is not a positive integer");
      size->seen = true;
      continue;
    }
    if (name == "alpha" || name == "limit" || name == "scale" ||
        name == "shared_weight") {
      double &v = name == "alpha"   ? layer.alpha
                  : name == "limit" ? layer.limit
                  : name == "scale" ? layer.scale
                                    : layer.sharedWeight;
      if (value.getAsDouble(v))
        return layerError(name + " = '" + value + "' is not a number");
      continue;
    }
    if (name == "groups" || name == "topk_groups") {
      int64_t &v = name == "groups" ? layer.groups : layer.topkGroups;
      if (value.getAsInteger(10, v) || v <= 0)
        return layerError(name + " = '" + value +
                          "' is not a positive integer");
      continue;
    }
    if (name == "shared") {
      if (value.getAsInteger(10, layer.shared) || layer.shared < 0)
        return layerError("shared = '" + value +
                          "' is not a non-negative integer");
      continue;
    }
    if (name == "renormalize") {
      if (value != "0" && value != "1")
        return layerError("renormalize = '" + value + "' (expected 0 or 1)");
      layer.renormalize = value == "1";
      continue;
    }
    std::string *text = llvm::StringSwitch<std::string *>(name)
                            .Case("precision", &layer.precision)
                            .Case("activation", &layer.activation)
                            .Case("layout", &layer.gateUpLayout)
                            .Case("router", &layer.routerWeight)
                            .Case("gemm1", &layer.gemm1Type)
                            .Case("gemm2", &layer.gemm2Type)
                            .Case("bias", &layer.bias)
                            .Case("route", &layer.route)
                            .Case("logits", &layer.logits)
                            .Case("route_bias", &layer.routeBias)
                            .Default(nullptr);
    if (!text)
      return layerError("unknown field '" + name +
                        "' (expected E, H, I, K, precision, activation, "
                        "alpha, limit, layout, router, gemm1, gemm2, bias, "
                        "route, logits, route_bias, groups, topk_groups, "
                        "renormalize, scale, shared, shared_weight)");
    *text = value.str();
  }
  for (const Size &size : sizes)
    if (!size.seen)
      return layerError("'" + spec + "' has no " + size.name +
                        " (E, H, I and K are required)");
  return layer;
}

std::string jit::formatFusedMoeLayer(const FusedMoeLayer &layer) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "E=" << layer.experts << ",H=" << layer.hidden
     << ",I=" << layer.intermediate << ",K=" << layer.topK
     << ",precision=" << layer.precision << ",activation=" << layer.activation;
  if (layer.activation == "clamped_swiglu")
    os << ",alpha=" << layer.alpha << ",limit=" << layer.limit;
  os << ",layout=" << layer.gateUpLayout << ",router=" << layer.routerWeight
     << ",gemm1=" << layer.gemm1Type << ",gemm2=" << layer.gemm2Type;
  if (layer.bias != "none")
    os << ",bias=" << layer.bias;
  if (layer.route != "none") {
    os << ",route=" << layer.route << ",logits=" << layer.logits;
    if (layer.routeBias != "none")
      os << ",route_bias=" << layer.routeBias;
    os << ",groups=" << layer.groups << ",topk_groups=" << layer.topkGroups
       << ",renormalize=" << (layer.renormalize ? 1 : 0)
       << ",scale=" << layer.scale;
    if (layer.shared)
      os << ",shared=" << layer.shared
         << ",shared_weight=" << layer.sharedWeight;
  }
  return text;
}

Expected<std::string> jit::fusedMoeLayerSource(const FusedMoeLayer &layer) {
  MLIRContext ctx;
  ctx.loadDialect<func::FuncDialect, MoEDialect>();
  ctx.printOpOnDiagnostic(false);

  auto activation = symbolizeActivationKind(layer.activation);
  if (!activation)
    return layerError("unknown activation '" + layer.activation +
                      "' (expected swiglu, clamped_swiglu, gelu_mul or "
                      "gelu_tanh_mul)");
  auto layout = symbolizeGateUpLayout(layer.gateUpLayout);
  if (!layout)
    return layerError("unknown layout '" + layer.gateUpLayout +
                      "' (expected concat or interleaved)");
  auto router = symbolizeRouterWeight(layer.routerWeight);
  if (!router)
    return layerError("unknown router '" + layer.routerWeight +
                      "' (expected in_combine, before_down or none)");
  Type gemm1 = floatType(ctx, layer.gemm1Type);
  Type gemm2 = floatType(ctx, layer.gemm2Type);
  if (!gemm1 || !gemm2)
    return layerError("gemm1 = '" + layer.gemm1Type + "', gemm2 = '" +
                      layer.gemm2Type + "': each must be bf16 or f32");
  // The precision: how the rows and the activation are quantized inside
  // the layer (none, DeepSeek-V3's fp8_block 1x128, or MXFP8 1x32) and the
  // weights' format (none: bf16; fp8_block 128x128 with f32 scales; MXFP4,
  // NVFP4 or MXFP8 with their block scales, NVFP4 with an f32 scale per
  // expert).
  struct Precision {
    StringRef name;
    std::optional<QuantScheme> rows, weights;
  };
  using QS = QuantScheme;
  static const Precision kPrecisions[] = {
      {"bf16", std::nullopt, std::nullopt},
      {"fp8", QS::fp8_block, QS::fp8_block},
      {"fp8-mxfp4", QS::fp8_block, QS::mxfp4},
      {"bf16-mxfp4", std::nullopt, QS::mxfp4},
      {"bf16-nvfp4", std::nullopt, QS::nvfp4},
      {"mxfp8-mxfp4", QS::mxfp8, QS::mxfp4},
      {"mxfp8-nvfp4", QS::mxfp8, QS::nvfp4},
      {"mxfp8", QS::mxfp8, QS::mxfp8}};
  const Precision *prec = nullptr;
  for (const Precision &p : kPrecisions)
    if (p.name == layer.precision)
      prec = &p;
  if (!prec)
    return layerError("unknown precision '" + layer.precision +
                      "' (expected bf16, fp8, fp8-mxfp4, bf16-mxfp4, "
                      "bf16-nvfp4, mxfp8-mxfp4, mxfp8-nvfp4 or mxfp8)");
  bool fp8Rows = prec->rows == QuantScheme::fp8_block,
       fp8Weights = prec->weights == QuantScheme::fp8_block;
  if ((fp8Rows || fp8Weights) &&
      (layer.hidden % kFp8Block || layer.intermediate % kFp8Block))
    return layerError("precision " + layer.precision +
                      " needs H and I that are multiples of 128 (" +
                      (fp8Weights
                           ? "its scales cover 128x128 weight blocks"
                           : "its rows and activation are quantized in "
                             "1x128 blocks") +
                      "): H = " + llvm::Twine(layer.hidden) +
                      ", I = " + llvm::Twine(layer.intermediate));

  // E: the weights' experts, the routed ones and the shared ones (which
  // only a route names: slots K .. K+shared-1).
  int64_t routed = layer.experts, E = routed + layer.shared,
          H = layer.hidden, I = layer.intermediate, K = layer.topK,
          slots = K + layer.shared, dyn = ShapedType::kDynamic;
  Type bf16 = BFloat16Type::get(&ctx), f32 = Float32Type::get(&ctx);
  Type e2m1 = Float4E2M1FNType::get(&ctx), e4m3 = Float8E4M3FNType::get(&ctx),
       ue8m0 = Float8E8M0FNUType::get(&ctx);
  Type weight = bf16, scale;
  // Scale blocks of a weight row: rows x cols.
  int64_t blockRows = 1, blockCols = 1;
  if (prec->weights) {
    switch (*prec->weights) {
    case QuantScheme::fp8_block:
      weight = e4m3, scale = f32, blockRows = blockCols = kFp8Block;
      break;
    case QuantScheme::mxfp4:
      weight = e2m1, scale = ue8m0, blockCols = kMxBlock;
      break;
    case QuantScheme::nvfp4:
      weight = e2m1, scale = e4m3, blockCols = kNvBlock;
      break;
    case QuantScheme::mxfp8:
      weight = e4m3, scale = ue8m0, blockCols = kMxBlock;
      break;
    }
  }
  if (scale && (H % blockCols || I % blockCols))
    return layerError("precision " + layer.precision +
                      " needs H and I that are multiples of its weight "
                      "blocks (" + llvm::Twine(blockCols) + "): H = " +
                      llvm::Twine(layer.hidden) + ", I = " +
                      llvm::Twine(layer.intermediate));
  // The routing: ids and weights, or (route) the router logits and the
  // selection bias that a moe.route turns into them.
  std::optional<Scoring> scoring;
  Type logitsType, routeBiasType;
  if (layer.route != "none") {
    scoring = symbolizeScoring(layer.route);
    if (!scoring)
      return layerError("unknown route '" + layer.route +
                        "' (expected none, softmax or sigmoid)");
    logitsType = floatType(ctx, layer.logits);
    if (!logitsType)
      return layerError("unknown logits '" + layer.logits +
                        "' (expected f32 or bf16: the router logits' "
                        "element type)");
    if (layer.routeBias != "none" && layer.routeBias != "f32")
      return layerError("unknown route_bias '" + layer.routeBias +
                        "' (expected none or f32)");
    if (layer.routeBias == "f32")
      routeBiasType = f32;
  } else if (layer.routeBias != "none" || layer.groups != 1 ||
             layer.topkGroups != 1 || layer.renormalize ||
             layer.scale != 1.0 || layer.shared != 0 ||
             layer.sharedWeight != 1.0) {
    return layerError("route_bias, groups, topk_groups, renormalize, scale, "
                      "shared and shared_weight describe a route "
                      "(route=softmax or sigmoid)");
  }
  SmallVector<Type> inputs = {RankedTensorType::get({dyn, H}, bf16)};
  if (scoring) {
    inputs.push_back(RankedTensorType::get({dyn, routed}, logitsType));
    if (routeBiasType)
      inputs.push_back(RankedTensorType::get({routed}, f32));
  } else {
    inputs.push_back(
        RankedTensorType::get({dyn, K}, IntegerType::get(&ctx, 32)));
    inputs.push_back(RankedTensorType::get({dyn, K}, f32));
  }
  unsigned w13At = inputs.size();
  inputs.push_back(RankedTensorType::get({E, 2 * I, H}, weight));
  inputs.push_back(RankedTensorType::get({E, H, I}, weight));
  if (scale) {
    inputs.push_back(RankedTensorType::get(
        {E, 2 * I / blockRows, H / blockCols}, scale));
    inputs.push_back(
        RankedTensorType::get({E, H / blockRows, I / blockCols}, scale));
  }
  bool global = prec->weights == QuantScheme::nvfp4;
  if (global) {
    inputs.push_back(RankedTensorType::get({E}, f32));
    inputs.push_back(RankedTensorType::get({E}, f32));
  }
  // Per-expert biases: w13_bias [E, 2I], w2_bias [E, H].
  Type biasType;
  if (layer.bias != "none") {
    biasType = floatType(ctx, layer.bias);
    if (!biasType)
      return layerError("unknown bias '" + layer.bias +
                        "' (expected none, bf16 or f32: the element type of "
                        "w13_bias and w2_bias)");
    inputs.push_back(RankedTensorType::get({E, 2 * I}, biasType));
    inputs.push_back(RankedTensorType::get({E, H}, biasType));
  }
  Type out = RankedTensorType::get({dyn, H}, bf16);

  OpBuilder b(&ctx);
  Location loc = NameLoc::get(b.getStringAttr("fused_moe"));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto fn = func::FuncOp::create(b, loc, "fused_moe",
                                 b.getFunctionType(inputs, {out}));
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToEnd(body);
  auto args = body->getArguments();
  QuantAttr rows, blocks;
  if (prec->rows)
    rows = QuantAttr::get(&ctx, *prec->rows, 1, fp8Rows ? kFp8Block : kMxBlock);
  if (prec->weights)
    blocks = QuantAttr::get(&ctx, *prec->weights, blockRows, blockCols);
  FloatAttr alpha, limit;
  if (*activation == ActivationKind::clamped_swiglu) {
    alpha = b.getF32FloatAttr(layer.alpha);
    limit = b.getF32FloatAttr(layer.limit);
  }
  Value ids, weights;
  if (scoring) {
    auto route = RouteOp::create(
        b, loc,
        RankedTensorType::get({dyn, slots}, IntegerType::get(&ctx, 32)),
        RankedTensorType::get({dyn, slots}, f32), *scoring, args[1],
        routeBiasType ? args[2] : Value(), K, layer.groups, layer.topkGroups,
        layer.renormalize, APFloat(float(layer.scale)), layer.shared,
        APFloat(float(layer.sharedWeight)));
    ids = route.getIds();
    weights = route.getWeights();
  } else {
    ids = args[1];
    weights = args[2];
  }
  auto arg = [&](unsigned n) { return args[w13At + n]; };
  auto op = FusedMoEOp::create(
      b, loc, out, args[0], ids, weights, arg(0), arg(1),
      scale ? arg(2) : Value(), scale ? arg(3) : Value(),
      global ? arg(4) : Value(), global ? arg(5) : Value(),
      biasType ? args[args.size() - 2] : Value(),
      biasType ? args[args.size() - 1] : Value(), *activation, *layout, alpha, limit, *router, gemm1, bf16, gemm2, rows,
      blocks, rows, blocks, PlacementAttr());
  func::ReturnOp::create(b, loc, op.getResult());

  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    llvm::raw_string_ostream(diagnostics) << d << "\n";
    return success();
  });
  if (failed(verify(*module)))
    return layerError("'" + formatFusedMoeLayer(layer) +
                      "' is not a valid moe.fused_moe: " +
                      StringRef(diagnostics).trim());
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return text;
}
