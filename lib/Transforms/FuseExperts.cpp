//===- FuseExperts.cpp - Fuse a MoE chain into moe.fused_moe ----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Rewrites dispatch -> [quantize] -> expert_matmul -> activation ->
// [quantize] -> expert_matmul -> combine into one moe.fused_moe, carrying
// every rounding point of the chain as attributes. Chains that do not match
// exactly are left unchanged with a remark that says why.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "moe-fuse-experts"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFUSEEXPERTSPASS
#include "moe/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// The ops of one matched chain, from the combine back to the dispatch.
struct Chain {
  DispatchOp dispatch;
  QuantizeOp quant1; // optional: quantizes the dispatched rows
  ExpertMatmulOp matmul1;
  ActivationOp activation;
  QuantizeOp quant2; // optional: quantizes the activation
  ExpertMatmulOp matmul2;
  CombineOp combine;
  RouterWeight routerWeight = RouterWeight::none;
};

/// The input of a matmul, seen through an optional quantize: returns the
/// quantize op (or null) and sets `source` to the unquantized value. Fails
/// with `why` set when the quantize does not feed the matmul consistently.
FailureOr<QuantizeOp> lookThroughQuantize(ExpertMatmulOp matmul, Value &source,
                                          std::string &why) {
  auto quant = matmul.getX().getDefiningOp<QuantizeOp>();
  if (!quant) {
    if (matmul.getXQuantAttr()) {
      why = "the quantized input of a moe.expert_matmul does not come from "
            "moe.quantize";
      return failure();
    }
    source = matmul.getX();
    return QuantizeOp();
  }
  if (matmul.getXScales() != quant.getScales() ||
      matmul.getXQuantAttr() != quant.getFormat()) {
    why = "a moe.expert_matmul reads quantized values without the scales and "
          "format of their moe.quantize";
    return failure();
  }
  if (quant.getGlobalScale()) {
    why = "activations with a per-tensor global scale (nvfp4) are not fused";
    return failure();
  }
  source = quant.getInput();
  return quant;
}

/// Matches the chain that ends in `combine`; on failure `why` says why.
FailureOr<Chain> matchChain(CombineOp combine, std::string &why) {
  Chain c;
  c.combine = combine;
  c.matmul2 = combine.getRows().getDefiningOp<ExpertMatmulOp>();
  if (!c.matmul2) {
    why = "the combined rows are not produced by moe.expert_matmul";
    return failure();
  }
  c.dispatch = combine.getSlotMap().getDefiningOp<DispatchOp>();
  if (!c.dispatch) {
    why = "the slot map is not produced by moe.dispatch";
    return failure();
  }
  if (c.matmul2.getOffsets() != c.dispatch.getOffsets()) {
    why = "the second matmul does not use the offsets of the dispatch";
    return failure();
  }
  Value activated;
  FailureOr<QuantizeOp> q2 = lookThroughQuantize(c.matmul2, activated, why);
  if (failed(q2))
    return failure();
  c.quant2 = *q2;
  c.activation = activated.getDefiningOp<ActivationOp>();
  if (!c.activation) {
    why = "the second matmul's input is not produced by moe.activation";
    return failure();
  }
  c.matmul1 = c.activation.getInput().getDefiningOp<ExpertMatmulOp>();
  if (!c.matmul1) {
    why = "the activation's input is not produced by moe.expert_matmul";
    return failure();
  }
  if (c.matmul1.getOffsets() != c.dispatch.getOffsets()) {
    why = "the first matmul does not use the offsets of the dispatch";
    return failure();
  }
  Value dispatched;
  FailureOr<QuantizeOp> q1 = lookThroughQuantize(c.matmul1, dispatched, why);
  if (failed(q1))
    return failure();
  c.quant1 = *q1;
  if (dispatched != c.dispatch.getRows()) {
    why = "the first matmul does not read the rows of the dispatch";
    return failure();
  }

  // The router weight: applied once, on the activation or in the combine.
  Value onActivation = c.activation.getRowWeights();
  Value inCombine = combine.getWeights();
  if (onActivation && inCombine) {
    why = "the router weight is applied twice (in moe.activation and in "
          "moe.combine)";
    return failure();
  }
  if (onActivation) {
    if (onActivation != c.dispatch.getRowWeights()) {
      why = "the activation's row weights are not the dispatch's row_weights";
      return failure();
    }
    c.routerWeight = RouterWeight::before_down;
  } else if (inCombine) {
    if (inCombine != c.dispatch.getWeights()) {
      why = "the combine's weights are not the weights given to the dispatch";
      return failure();
    }
    c.routerWeight = RouterWeight::in_combine;
  }

  // The fused op takes E from the weights and H from x: the chain must agree
  // on them, or fusing would change which slots are computed.
  auto dimOf = [](Value v, unsigned i) {
    return cast<RankedTensorType>(v.getType()).getDimSize(i);
  };
  int64_t e = c.dispatch.getNumExperts();
  if (dimOf(c.matmul1.getWeight(), 0) != e ||
      dimOf(c.matmul2.getWeight(), 0) != e) {
    why = "the expert weights do not have num_experts = " + std::to_string(e) +
          " experts of the dispatch";
    return failure();
  }
  int64_t h = dimOf(c.dispatch.getX(), 1);
  if (ShapedType::isDynamic(h) || dimOf(c.matmul2.getWeight(), 1) != h ||
      dimOf(combine.getOut(), 1) != h) {
    why = "the second matmul does not map back to the hidden size H of x";
    return failure();
  }

  // Every intermediate must be used by the chain alone: the fused op does
  // not materialize them.
  auto usedOnlyBy = [&](Value v, unsigned uses, StringRef name) {
    if (!v || v.use_empty() || static_cast<unsigned>(std::distance(
                                   v.use_begin(), v.use_end())) == uses)
      return true;
    why = ("a value of the chain (" + name + ") is used outside it").str();
    return false;
  };
  unsigned rowWeightUses = c.routerWeight == RouterWeight::before_down ? 1 : 0;
  if (!usedOnlyBy(c.dispatch.getRows(), 1, "dispatched rows") ||
      !usedOnlyBy(c.dispatch.getOffsets(), 2, "expert offsets") ||
      !usedOnlyBy(c.dispatch.getSlotMap(), 1, "slot map") ||
      !usedOnlyBy(c.dispatch.getRowWeights(), rowWeightUses, "row weights") ||
      !usedOnlyBy(c.matmul1.getOut(), 1, "first matmul's output") ||
      !usedOnlyBy(c.activation.getOut(), 1, "activation's output") ||
      !usedOnlyBy(c.matmul2.getOut(), 1, "second matmul's output"))
    return failure();
  for (QuantizeOp q : {c.quant1, c.quant2})
    if (q && (!usedOnlyBy(q.getValues(), 1, "quantized values") ||
              !usedOnlyBy(q.getScales(), 1, "quantization scales")))
      return failure();
  return c;
}

FusedMoEOp buildFused(OpBuilder &b, Chain c) {
  MLIRContext *ctx = b.getContext();
  auto typeOf = [](Value v) {
    return TypeAttr::get(cast<RankedTensorType>(v.getType()).getElementType());
  };
  auto formatOf = [](QuantizeOp q) {
    return q ? q.getFormatAttr() : QuantAttr();
  };
  return FusedMoEOp::create(
      b, c.combine.getLoc(), c.combine.getOut().getType(), c.dispatch.getX(),
      c.dispatch.getIds(), c.dispatch.getWeights(), c.matmul1.getWeight(),
      c.matmul2.getWeight(), c.matmul1.getWScales(), c.matmul2.getWScales(),
      c.matmul1.getWGlobalScale(), c.matmul2.getWGlobalScale(),
      c.matmul1.getBias(), c.matmul2.getBias(), c.activation.getKindAttr(), c.activation.getLayoutAttr(),
      c.activation.getAlphaAttr(), c.activation.getLimitAttr(),
      RouterWeightAttr::get(ctx, c.routerWeight), typeOf(c.matmul1.getOut()),
      typeOf(c.activation.getOut()), typeOf(c.matmul2.getOut()),
      formatOf(c.quant1), c.matmul1.getWQuantAttr(), formatOf(c.quant2),
      c.matmul2.getWQuantAttr(), c.dispatch.getPlacementAttr());
}

struct FuseExpertsPass
    : public moe::impl::MoEFuseExpertsPassBase<FuseExpertsPass> {
  using Base::Base;

  /// 1. Collect every moe.combine of the function.
  /// 2. Match the chain that feeds it (matchChain); on a mismatch, emit a
  ///    remark with the reason and leave the IR alone.
  /// 3. Build moe.fused_moe before the combine, replace the combine, and
  ///    erase the chain from the combine backwards (all now dead).
  void runOnOperation() override {
    SmallVector<CombineOp> combines;
    getOperation().walk([&](CombineOp op) { combines.push_back(op); });
    for (CombineOp combine : combines) {
      std::string why;
      FailureOr<Chain> chain = matchChain(combine, why);
      if (failed(chain)) {
        ++numRejected;
        combine.emitRemark() << "moe-fuse-experts: not fused: " << why;
        continue;
      }
      OpBuilder b(combine);
      FusedMoEOp fused = buildFused(b, *chain);
      LLVM_DEBUG(llvm::dbgs() << "fused: " << fused << "\n");
      combine.getOut().replaceAllUsesWith(fused.getOut());
      for (Operation *op :
           {chain->combine.getOperation(), chain->matmul2.getOperation(),
            chain->quant2 ? chain->quant2.getOperation() : nullptr,
            chain->activation.getOperation(), chain->matmul1.getOperation(),
            chain->quant1 ? chain->quant1.getOperation() : nullptr,
            chain->dispatch.getOperation()})
        if (op)
          op->erase();
      ++numFused;
    }
  }
};

} // namespace
