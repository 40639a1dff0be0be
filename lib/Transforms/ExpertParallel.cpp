//===- ExpertParallel.cpp - Split an expert-parallel layer per rank -------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Rewrites each moe.fused_moe with a placement over R > 1 ranks from the
// whole layer (all experts' weights) into the per-rank form (one rank's
// experts), changing the types of the function arguments that hold the
// weights. See docs/ExpertParallel.md.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEEXPERTPARALLELPASS
#include "moe/Transforms/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

struct MoEExpertParallelPass
    : public mlir::moe::impl::MoEExpertParallelPassBase<MoEExpertParallelPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<FusedMoEOp> layers;
    func.walk([&](FusedMoEOp op) {
      PlacementAttr p = op.getPlacementAttr();
      if (p && p.getRanks() > 1 && !op.isPerRank())
        layers.push_back(op);
    });
    for (FusedMoEOp op : layers) {
      int64_t perRank = op.getPlacementAttr().getExpertsPerRank();
      // The weights and their scales, block scales [E, ...], global
      // scales per expert [E] (a per-tensor global scale [] stays whole)
      // and biases [E, N]:
      // function arguments of this op only.
      SmallVector<Value> shards = {op.getW13(), op.getW2()};
      for (Value v : {op.getW13Scales(), op.getW2Scales(),
                      op.getW13GlobalScale(), op.getW2GlobalScale(),
                      op.getW13Bias(), op.getW2Bias()})
        if (v && cast<RankedTensorType>(v.getType()).getRank() > 0)
          shards.push_back(v);
      std::string why;
      for (Value v : shards) {
        auto arg = dyn_cast<BlockArgument>(v);
        if (!arg || arg.getOwner() != &func.getBody().front())
          why = "its weights must be arguments of the function";
        else if (!v.hasOneUse())
          why = "its weight arguments must have no other use";
      }
      if (!why.empty()) {
        op.emitRemark() << "moe-expert-parallel: left unchanged: " << why;
        continue;
      }
      SmallVector<Type> inputs(func.getArgumentTypes());
      for (Value v : shards) {
        auto type = cast<RankedTensorType>(v.getType());
        SmallVector<int64_t> shape(type.getShape());
        shape[0] = perRank;
        Type local = type.clone(shape);
        auto arg = cast<BlockArgument>(v);
        arg.setType(local);
        inputs[arg.getArgNumber()] = local;
      }
      func.setFunctionType(
          FunctionType::get(func.getContext(), inputs,
                            func.getFunctionType().getResults()));
      if (failed(verify(op))) {
        signalPassFailure();
        return;
      }
      ++numSplit;
    }
  }
};

} // namespace
