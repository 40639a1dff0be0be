//===- LayerJson.cpp - Describe fused MoE layers as JSON --------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The layer description is the part of the artifact manifest that depends
// only on the graph-level IR: what a kernel for this layer must compute.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/Translations.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/ScopedPrinter.h"

#include <nlohmann/json.hpp>

using namespace mlir;
using namespace mlir::moe;
using json = nlohmann::json;

static json quantJson(QuantAttr q) {
  if (!q)
    return nullptr;
  return json{{"scheme", stringifyQuantScheme(q.getScheme()).str()},
              {"block", {q.getBlockRows(), q.getBlockCols()}},
              {"value_type", llvm::to_string(q.getValueType())},
              {"scale_type", llvm::to_string(q.getScaleType())}};
}

static int64_t size(int64_t d) { return ShapedType::isDynamic(d) ? -1 : d; }

LogicalResult moe::translateToLayerJson(ModuleOp module, raw_ostream &os) {
  json layers = json::array();
  module.walk([&](FusedMoEOp op) {
    auto func = op->getParentOfType<func::FuncOp>();
    RankedTensorType w13 = op.getW13().getType();
    json layer{
        {"function", func ? func.getSymName().str() : ""},
        {"T", size(op.getX().getType().getDimSize(0))},
        {"H", size(op.getX().getType().getDimSize(1))},
        {"I", size(op.getW2().getType().getDimSize(2))},
        {"E", size(w13.getDimSize(0))},
        {"K", size(op.getIds().getType().getDimSize(1))},
        {"x_type", llvm::to_string(op.getX().getType().getElementType())},
        {"ids_type", llvm::to_string(op.getIds().getType().getElementType())},
        {"w13_type", llvm::to_string(w13.getElementType())},
        {"w2_type", llvm::to_string(op.getW2().getType().getElementType())},
        {"activation", stringifyActivationKind(op.getActivation()).str()},
        {"gate_up_layout", stringifyGateUpLayout(op.getGateUpLayout()).str()},
        {"router_weight", stringifyRouterWeight(op.getRouterWeight()).str()},
        {"gemm1_type", llvm::to_string(op.getGemm1Type())},
        {"act_type", llvm::to_string(op.getActType())},
        {"gemm2_type", llvm::to_string(op.getGemm2Type())},
        {"out_type", llvm::to_string(op.getOut().getType().getElementType())},
        {"x_quant", quantJson(op.getXQuantAttr())},
        {"w13_quant", quantJson(op.getW13QuantAttr())},
        {"act_quant", quantJson(op.getActQuantAttr())},
        {"w2_quant", quantJson(op.getW2QuantAttr())},
    };
    // Per-expert biases (gpt-oss): their element types, or null.
    auto biasType = [](Value bias) -> json {
      if (!bias)
        return nullptr;
      return llvm::to_string(
          cast<RankedTensorType>(bias.getType()).getElementType());
    };
    layer["w13_bias_type"] = biasType(op.getW13Bias());
    layer["w2_bias_type"] = biasType(op.getW2Bias());
    if (op.getAlpha())
      layer["alpha"] = op.getAlpha()->convertToFloat();
    if (op.getLimit())
      layer["limit"] = op.getLimit()->convertToFloat();
    if (PlacementAttr p = op.getPlacementAttr())
      layer["placement"] = {{"ranks", p.getRanks()},
                            {"experts_per_rank", p.getExpertsPerRank()}};
    else
      layer["placement"] = nullptr;
    layers.push_back(std::move(layer));
  });
  if (layers.empty())
    return module.emitError(
        "moe-to-layer-json: the module holds no moe.fused_moe (run "
        "--moe-fuse-experts first)");
  os << json{{"layers", layers}}.dump(2) << "\n";
  return success();
}
