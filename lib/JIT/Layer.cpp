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
    if (name == "alpha" || name == "limit") {
      double &v = name == "alpha" ? layer.alpha : layer.limit;
      if (value.getAsDouble(v))
        return layerError(name + " = '" + value + "' is not a number");
      continue;
    }
    std::string *text = llvm::StringSwitch<std::string *>(name)
                            .Case("precision", &layer.precision)
                            .Case("activation", &layer.activation)
                            .Case("layout", &layer.gateUpLayout)
                            .Case("router", &layer.routerWeight)
                            .Case("gemm1", &layer.gemm1Type)
                            .Case("gemm2", &layer.gemm2Type)
                            .Default(nullptr);
    if (!text)
      return layerError("unknown field '" + name +
                        "' (expected E, H, I, K, precision, activation, "
                        "alpha, limit, layout, router, gemm1, gemm2)");
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
  // fp8: DeepSeek-V3's recipe; fp8-mxfp4: the same rows and activation,
  // e2m1 weights with UE8M0 scales per 1x32 block.
  bool mxfp4 = layer.precision == "fp8-mxfp4";
  bool fp8 = mxfp4 || layer.precision == "fp8";
  if (!fp8 && layer.precision != "bf16")
    return layerError("unknown precision '" + layer.precision +
                      "' (expected bf16, fp8 or fp8-mxfp4)");
  if (fp8 && (layer.hidden % kFp8Block || layer.intermediate % kFp8Block))
    return layerError("precision " + layer.precision +
                      " needs H and I that are multiples of 128 (" +
                      (mxfp4 ? "its rows and activation are quantized in "
                               "1x128 blocks"
                             : "its scales cover 128x128 weight blocks") +
                      "): H = " + llvm::Twine(layer.hidden) +
                      ", I = " + llvm::Twine(layer.intermediate));

  int64_t E = layer.experts, H = layer.hidden, I = layer.intermediate,
          K = layer.topK, dyn = ShapedType::kDynamic;
  Type bf16 = BFloat16Type::get(&ctx), f32 = Float32Type::get(&ctx);
  Type weight = mxfp4 ? Type(Float4E2M1FNType::get(&ctx))
                : fp8  ? Type(Float8E4M3FNType::get(&ctx))
                       : bf16;
  SmallVector<Type> inputs = {
      RankedTensorType::get({dyn, H}, bf16),
      RankedTensorType::get({dyn, K}, IntegerType::get(&ctx, 32)),
      RankedTensorType::get({dyn, K}, f32),
      RankedTensorType::get({E, 2 * I, H}, weight),
      RankedTensorType::get({E, H, I}, weight)};
  if (mxfp4) {
    Type ue8m0 = Float8E8M0FNUType::get(&ctx);
    inputs.push_back(
        RankedTensorType::get({E, 2 * I, H / kMxBlock}, ue8m0));
    inputs.push_back(RankedTensorType::get({E, H, I / kMxBlock}, ue8m0));
  } else if (fp8) {
    inputs.push_back(RankedTensorType::get(
        {E, 2 * I / kFp8Block, H / kFp8Block}, f32));
    inputs.push_back(
        RankedTensorType::get({E, H / kFp8Block, I / kFp8Block}, f32));
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
  if (fp8) {
    rows = QuantAttr::get(&ctx, QuantScheme::fp8_block, 1, kFp8Block);
    blocks = mxfp4 ? QuantAttr::get(&ctx, QuantScheme::mxfp4, 1, kMxBlock)
                   : QuantAttr::get(&ctx, QuantScheme::fp8_block, kFp8Block,
                                    kFp8Block);
  }
  FloatAttr alpha, limit;
  if (*activation == ActivationKind::clamped_swiglu) {
    alpha = b.getF32FloatAttr(layer.alpha);
    limit = b.getF32FloatAttr(layer.limit);
  }
  auto op = FusedMoEOp::create(
      b, loc, out, args[0], args[1], args[2], args[3], args[4],
      fp8 ? args[5] : Value(), fp8 ? args[6] : Value(), Value(), Value(),
      *activation, *layout, alpha, limit, *router, gemm1, bf16, gemm2, rows,
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
