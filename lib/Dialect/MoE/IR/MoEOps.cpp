//===- MoEOps.cpp - Operations of the moe dialect ---------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Verifiers of the moe ops. Each diagnostic names the operand, the expected
// shape in the T/H/I/E/K vocabulary with the sizes known so far, and what it
// got. Only static sizes are compared; `?` matches anything.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/IR/MoEOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::moe;

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "[";
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (d == kDyn)
      os << "?";
    else
      os << d;
  });
  os << "]";
  return s;
}

RankedTensorType tensorOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Size of dimension `i` of `v`, kDyn when dynamic.
int64_t dim(Value v, unsigned i) { return tensorOf(v).getDimSize(i); }

/// The static one of two sizes that must agree (kDyn if both are dynamic).
int64_t unify(int64_t a, int64_t b) { return a != kDyn ? a : b; }

/// a * b, kDyn when either is dynamic or the product does not fit int64_t
/// (a size no tensor can have; callers that index rows with i32 reject such
/// sizes through checkRowCount).
int64_t mul(int64_t a, int64_t b) {
  int64_t product;
  if (a == kDyn || b == kDyn || llvm::MulOverflow(a, b, product))
    return kDyn;
  return product;
}

/// moe tensors are dense and row-major: a tensor encoding (a layout, strides,
/// sparsity) would be silently ignored by every lowering and the evaluator.
LogicalResult checkDenseTensors(Operation *op) {
  auto check = [&](Type t, StringRef what, unsigned i) -> LogicalResult {
    auto ranked = dyn_cast<RankedTensorType>(t);
    if (!ranked || !ranked.getEncoding())
      return success();
    return op->emitOpError()
           << "expects " << what << " #" << i
           << " without a tensor encoding (moe tensors are dense and "
              "row-major), got "
           << t;
  };
  for (auto [i, t] : llvm::enumerate(op->getOperandTypes()))
    if (failed(check(t, "operand", i)))
      return failure();
  for (auto [i, t] : llvm::enumerate(op->getResultTypes()))
    if (failed(check(t, "result", i)))
      return failure();
  return success();
}

/// Rows [M = T*K] are indexed by i32 (slot_map, offsets): T*K must fit.
LogicalResult checkRowCount(Operation *op, int64_t t, int64_t k) {
  int64_t m;
  if (t == kDyn || k == kDyn ||
      (!llvm::MulOverflow(t, k, m) && m <= std::numeric_limits<int32_t>::max()))
    return success();
  return op->emitOpError() << "expects T*K rows to fit i32 row indices "
                              "(slot_map and offsets are i32), got T = "
                           << t << ", K = " << k;
}

/// Checks the rank and the static sizes of `v` against `expected` (kDyn
/// entries are unknown). `symbolic` spells the shape, e.g. "[T, H]".
LogicalResult checkShape(Operation *op, StringRef name, Value v,
                         StringRef symbolic, ArrayRef<int64_t> expected) {
  RankedTensorType type = tensorOf(v);
  if (type.getRank() != static_cast<int64_t>(expected.size()))
    return op->emitOpError() << "expects " << name << " of rank "
                             << expected.size() << " " << symbolic << ", got "
                             << type;
  for (auto [actual, want] : llvm::zip(type.getShape(), expected)) {
    if (actual == kDyn || want == kDyn || actual == want)
      continue;
    return op->emitOpError()
           << "expects " << name << " of shape " << symbolic << " = "
           << formatShape(expected) << ", got " << formatShape(type.getShape());
  }
  return success();
}

/// Ids from a moe.route name its E routed experts and its S shared ones:
/// `op`'s `experts` must hold them all (an id past them would mask its
/// slot, silently).
LogicalResult checkRoutedExperts(Operation *op, Value ids, int64_t experts) {
  auto route = ids.getDefiningOp<RouteOp>();
  if (!route)
    return success();
  int64_t routed = dim(route.getLogits(), 1);
  if (routed == kDyn || experts == kDyn ||
      routed + route.getSharedExperts() <= experts)
    return success();
  return op->emitOpError()
         << "expects its experts (" << experts
         << ") to include every expert that its moe.route picks: " << routed
         << " routed + " << route.getSharedExperts() << " shared";
}

LogicalResult checkRank(Operation *op, StringRef name, Value v, int64_t rank,
                        StringRef symbolic) {
  if (tensorOf(v).getRank() == rank)
    return success();
  return op->emitOpError() << "expects " << name << " of rank " << rank << " "
                           << symbolic << ", got " << v.getType();
}

bool isQuantizedType(Type t) {
  return isa<Float8E4M3FNType, Float4E2M1FNType, Float8E8M0FNUType>(t);
}

/// Accumulator-side precisions: what a matmul, activation or combine can
/// round to.
LogicalResult checkComputeType(Operation *op, StringRef name, Type t) {
  if (isa<Float32Type, BFloat16Type>(t))
    return success();
  return op->emitOpError() << "expects " << name
                           << " element type f32 or bf16 (quantize explicitly "
                              "with moe.quantize), got "
                           << t;
}

std::string formatQuant(QuantAttr q) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << q;
  return s;
}

/// Checks one matmul operand `values [..., R, C]` against its optional format
/// `quant`, its block `scales` and its `globalScale` (expected shape
/// `globalShape`). `rowsAreTokens` requires a [1, bc] block.
LogicalResult verifyQuantOperand(Operation *op, StringRef name, Value values,
                                 QuantAttr quant, StringRef quantName,
                                 Value scales, StringRef scalesName,
                                 Value globalScale, StringRef globalName,
                                 ArrayRef<int64_t> globalShape,
                                 bool rowsAreTokens) {
  Type elem = tensorOf(values).getElementType();
  if (!quant) {
    if (scales)
      return op->emitOpError() << "has " << scalesName << " but no "
                               << quantName << " saying their format";
    if (globalScale)
      return op->emitOpError() << "has " << globalName << " but no "
                               << quantName << " saying its format";
    if (isQuantizedType(elem))
      return op->emitOpError()
             << "expects " << quantName << " for " << name
             << " of element type " << elem
             << " (quantized values need a format and block scales)";
    return success();
  }
  if (elem != quant.getValueType())
    return op->emitOpError()
           << "expects " << name << " of element type "
           << quant.getValueType() << " for " << quantName << " = "
           << formatQuant(quant) << ", got " << elem;
  if (rowsAreTokens && quant.getBlockRows() != 1)
    return op->emitOpError()
           << "expects a [1, " << quant.getBlockCols() << "] block for "
           << name << " (its rows are tokens), got " << formatQuant(quant);
  if (!scales)
    return op->emitOpError() << "expects " << scalesName << " for "
                             << quantName << " = " << formatQuant(quant);
  RankedTensorType vt = tensorOf(values);
  int64_t rank = vt.getRank();
  int64_t rows = vt.getDimSize(rank - 2), cols = vt.getDimSize(rank - 1);
  if (cols != kDyn && cols % quant.getBlockCols() != 0)
    return op->emitOpError()
           << "expects the last dimension of " << name << " (" << cols
           << ") to be a multiple of the block (" << quant.getBlockCols()
           << ") of " << quantName;
  if (rows != kDyn && rows % quant.getBlockRows() != 0)
    return op->emitOpError()
           << "expects dimension " << rank - 2 << " of " << name << " ("
           << rows << ") to be a multiple of the block ("
           << quant.getBlockRows() << ") of " << quantName;
  SmallVector<int64_t> want(vt.getShape());
  want[rank - 2] = rows == kDyn ? kDyn : rows / quant.getBlockRows();
  want[rank - 1] = cols == kDyn ? kDyn : cols / quant.getBlockCols();
  std::string symbolic =
      "[..., rows/" + std::to_string(quant.getBlockRows()) + ", cols/" +
      std::to_string(quant.getBlockCols()) + "]";
  if (failed(checkShape(op, scalesName, scales, symbolic, want)))
    return failure();
  Type scaleElem = tensorOf(scales).getElementType();
  if (scaleElem != quant.getScaleType())
    return op->emitOpError()
           << "expects " << scalesName << " of element type "
           << quant.getScaleType() << " for " << formatQuant(quant)
           << ", got " << scaleElem;
  if (quant.hasGlobalScale() && !globalScale)
    return op->emitOpError() << "expects " << globalName << " for "
                             << formatQuant(quant);
  if (!quant.hasGlobalScale() && globalScale)
    return op->emitOpError() << "has " << globalName << " but "
                             << formatQuant(quant)
                             << " has no global scale";
  if (globalScale)
    return checkShape(op, globalName, globalScale,
                      globalShape.empty() ? "[]" : "[E]", globalShape);
  return success();
}

/// Offsets are a device-side prefix sum of E+1 i32 entries; E must be known.
LogicalResult checkOffsets(Operation *op, Value offsets, int64_t numExperts) {
  RankedTensorType type = tensorOf(offsets);
  if (type.getRank() != 1 || type.isDynamicDim(0))
    return op->emitOpError()
           << "expects offsets of static shape [E+1], got " << type;
  if (numExperts != kDyn && numExperts >= (int64_t(1) << 31) - 1)
    return op->emitOpError()
           << "expects E < 2^31 - 1 (offsets are i32), got " << numExperts;
  if (numExperts != kDyn && type.getDimSize(0) != numExperts + 1)
    return op->emitOpError() << "expects offsets of shape [E+1] = ["
                             << numExperts + 1 << "], got " << type;
  return success();
}

/// Elementwise inputs that carry no scales must not be quantized types.
LogicalResult checkUnquantized(Operation *op, StringRef name, Value v) {
  Type elem = tensorOf(v).getElementType();
  if (!isQuantizedType(elem))
    return success();
  return op->emitOpError() << "expects " << name
                           << " of element type f32 or bf16, got " << elem
                           << " (quantized values need a format and scales: "
                              "use moe.dequantize)";
}

LogicalResult verifyPlacement(Operation *op, PlacementAttr placement,
                              int64_t numExperts, bool perRankForm = false) {
  if (!placement || numExperts == kDyn)
    return success();
  // A moe.fused_moe may hold only its rank's experts (the per-rank form
  // that moe-expert-parallel makes).
  if (perRankForm) {
    int64_t perRank = placement.getExpertsPerRank();
    if (numExperts == perRank ||
        numExperts == placement.getRanks() * perRank)
      return success();
    return op->emitOpError()
           << "expects E (" << numExperts
           << ", the experts of w13 and w2) to be ranks * experts_per_rank = "
           << placement.getRanks() << " * " << perRank
           << " (the whole layer) or experts_per_rank = " << perRank
           << " (one rank's experts)";
  }
  if (numExperts % placement.getRanks() != 0)
    return op->emitOpError() << "expects E (" << numExperts
                             << ") to be divisible by the ranks ("
                             << placement.getRanks() << ") of " << placement;
  if (numExperts / placement.getRanks() != placement.getExpertsPerRank())
    return op->emitOpError()
           << "expects E (" << numExperts << ") to equal ranks * "
           << "experts_per_rank = " << placement.getRanks() << " * "
           << placement.getExpertsPerRank();
  return success();
}

LogicalResult verifyActivationAttrs(Operation *op, ActivationKind kind,
                                    std::optional<float> alpha,
                                    std::optional<float> limit) {
  if (kind == ActivationKind::clamped_swiglu) {
    if (!alpha || !limit)
      return op->emitOpError()
             << "expects alpha and limit for clamped_swiglu";
    if (!(*limit > 0.0f) || !std::isfinite(*limit))
      return op->emitOpError() << "expects a finite limit > 0, got "
                               << *limit;
    if (!std::isfinite(*alpha))
      return op->emitOpError() << "expects a finite alpha, got " << *alpha;
    return success();
  }
  if (alpha || limit)
    return op->emitOpError() << "has alpha or limit, which only "
                                "clamped_swiglu takes, with "
                             << stringifyActivationKind(kind);
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// GateOp
//===----------------------------------------------------------------------===//

LogicalResult GateOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  if (failed(checkRank(op, "x", getX(), 2, "[T, H]")) ||
      failed(checkRank(op, "weight", getWeight(), 2, "[E, H]")))
    return failure();
  int64_t t = dim(getX(), 0), h = unify(dim(getX(), 1), dim(getWeight(), 1));
  int64_t e = dim(getWeight(), 0);
  if (failed(checkShape(op, "x", getX(), "[T, H]", {t, h})) ||
      failed(checkShape(op, "weight", getWeight(), "[E, H]", {e, h})) ||
      failed(checkShape(op, "logits", getLogits(), "[T, E]", {t, e})) ||
      failed(checkUnquantized(op, "x", getX())) ||
      failed(checkUnquantized(op, "weight", getWeight())))
    return failure();
  return checkComputeType(op, "logits", getLogits().getType().getElementType());
}

//===----------------------------------------------------------------------===//
// RouteOp
//===----------------------------------------------------------------------===//

LogicalResult RouteOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  if (failed(checkRank(op, "logits", getLogits(), 2, "[T, E]")))
    return failure();
  if (failed(checkUnquantized(op, "logits", getLogits())))
    return failure();
  int64_t t = dim(getLogits(), 0), e = dim(getLogits(), 1);
  int64_t k = getTopK(), slots = k + getSharedExperts();
  if (getBias() && failed(checkShape(op, "bias", getBias(), "[E]", {e})))
    return failure();
  StringRef idsShape = getSharedExperts() ? "[T, K+S]" : "[T, K]";
  if (failed(checkShape(op, "ids", getIds(), idsShape, {t, slots})) ||
      failed(checkShape(op, "weights", getWeights(), idsShape, {t, slots})))
    return failure();
  int64_t groups = getNumGroups(), keep = getTopkGroups();
  if (keep > groups)
    return emitOpError() << "expects topk_groups (" << keep
                         << ") <= num_groups (" << groups << ")";
  if (e != kDyn) {
    if (k > e)
      return emitOpError() << "expects top_k (" << k
                           << ") <= the number of experts E (" << e << ")";
    if (e % groups != 0)
      return emitOpError() << "expects E (" << e
                           << ") to be divisible by num_groups (" << groups
                           << ")";
    if (k > keep * (e / groups))
      return emitOpError() << "expects top_k (" << k
                           << ") <= the experts in the kept groups, "
                              "topk_groups * E / num_groups = "
                           << keep * (e / groups);
  }
  float scale = getRoutedScalingFactor().convertToFloat();
  if (!(scale > 0.0f) || !std::isfinite(scale))
    return emitOpError() << "expects a finite routed_scaling_factor > 0, got "
                         << scale;
  float shared = getSharedWeight().convertToFloat();
  if (!std::isfinite(shared))
    return emitOpError() << "expects a finite shared_weight, got " << shared;
  return success();
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

LogicalResult DispatchOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  if (failed(checkRank(op, "x", getX(), 2, "[T, H]")) ||
      failed(checkRank(op, "ids", getIds(), 2, "[T, K]")))
    return failure();
  int64_t t = unify(dim(getX(), 0), dim(getIds(), 0));
  int64_t h = dim(getX(), 1), k = dim(getIds(), 1);
  int64_t e = getNumExperts();
  // Offsets and row indices are i32.
  if (e >= (int64_t(1) << 31) - 1)
    return emitOpError() << "expects num_experts < 2^31 - 1 (offsets are "
                            "i32), got "
                         << e;
  if (failed(checkUnquantized(op, "x", getX())))
    return failure();
  if (failed(checkRowCount(op, t, k)))
    return failure();
  int64_t m = mul(t, k);
  if (failed(checkShape(op, "x", getX(), "[T, H]", {t, h})) ||
      failed(checkShape(op, "ids", getIds(), "[T, K]", {t, k})) ||
      failed(checkShape(op, "weights", getWeights(), "[T, K]", {t, k})) ||
      failed(checkShape(op, "rows", getRows(), "[T*K, H]", {m, h})) ||
      failed(checkOffsets(op, getOffsets(), e)) ||
      failed(checkShape(op, "slot_map", getSlotMap(), "[T, K]", {t, k})) ||
      failed(checkShape(op, "row_weights", getRowWeights(), "[T*K]", {m})))
    return failure();
  if (getRows().getType().getElementType() != getX().getType().getElementType())
    return emitOpError() << "expects rows of the element type of x ("
                         << getX().getType().getElementType() << "), got "
                         << getRows().getType().getElementType();
  if (failed(checkRoutedExperts(op, getIds(), e)))
    return failure();
  return verifyPlacement(op, getPlacementAttr(), e);
}

//===----------------------------------------------------------------------===//
// CombineOp
//===----------------------------------------------------------------------===//

LogicalResult CombineOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  if (failed(checkRank(op, "rows", getRows(), 2, "[M, H]")) ||
      failed(checkRank(op, "slot_map", getSlotMap(), 2, "[T, K]")) ||
      failed(checkRank(op, "out", getOut(), 2, "[T, H]")) ||
      failed(checkUnquantized(op, "rows", getRows())))
    return failure();
  int64_t t = unify(dim(getSlotMap(), 0), dim(getOut(), 0));
  int64_t k = dim(getSlotMap(), 1);
  int64_t h = unify(dim(getRows(), 1), dim(getOut(), 1));
  if (failed(checkRowCount(op, t, k)))
    return failure();
  if (failed(checkShape(op, "rows", getRows(), "[M = T*K, H]", {mul(t, k), h})) ||
      failed(checkShape(op, "slot_map", getSlotMap(), "[T, K]", {t, k})) ||
      (getWeights() &&
       failed(checkShape(op, "weights", getWeights(), "[T, K]", {t, k}))) ||
      failed(checkShape(op, "out", getOut(), "[T, H]", {t, h})))
    return failure();
  return checkComputeType(op, "out", getOut().getType().getElementType());
}

//===----------------------------------------------------------------------===//
// ExpertMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult ExpertMatmulOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  if (failed(checkRank(op, "x", getX(), 2, "[M, K]")) ||
      failed(checkRank(op, "weight", getWeight(), 3, "[E, N, K]")) ||
      failed(checkRank(op, "out", getOut(), 2, "[M, N]")))
    return failure();
  int64_t m = unify(dim(getX(), 0), dim(getOut(), 0));
  int64_t kd = unify(dim(getX(), 1), dim(getWeight(), 2));
  int64_t e = dim(getWeight(), 0);
  int64_t n = unify(dim(getWeight(), 1), dim(getOut(), 1));
  if (failed(checkShape(op, "x", getX(), "[M, K]", {m, kd})) ||
      failed(checkShape(op, "weight", getWeight(), "[E, N, K]", {e, n, kd})) ||
      failed(checkOffsets(op, getOffsets(), e)) ||
      failed(checkShape(op, "out", getOut(), "[M, N]", {m, n})))
    return failure();
  if (failed(verifyQuantOperand(op, "x", getX(), getXQuantAttr(), "x_quant",
                                getXScales(), "x_scales", getXGlobalScale(),
                                "x_global_scale", {}, /*rowsAreTokens=*/true)) ||
      failed(verifyQuantOperand(op, "weight", getWeight(), getWQuantAttr(),
                                "w_quant", getWScales(), "w_scales",
                                getWGlobalScale(), "w_global_scale", {e},
                                /*rowsAreTokens=*/false)))
    return failure();
  if (getBias() &&
      (failed(checkRank(op, "bias", getBias(), 2, "[E, N]")) ||
       failed(checkShape(op, "bias", getBias(), "[E, N]", {e, n}))))
    return failure();
  return checkComputeType(op, "out", getOut().getType().getElementType());
}

//===----------------------------------------------------------------------===//
// ActivationOp
//===----------------------------------------------------------------------===//

LogicalResult ActivationOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  if (failed(checkRank(op, "input", getInput(), 2, "[M, 2*I]")) ||
      failed(checkRank(op, "out", getOut(), 2, "[M, I]")) ||
      failed(checkUnquantized(op, "input", getInput())))
    return failure();
  int64_t m = unify(dim(getInput(), 0), dim(getOut(), 0));
  int64_t twoI = dim(getInput(), 1), i = dim(getOut(), 1);
  if (twoI != kDyn && twoI % 2 != 0)
    return emitOpError() << "expects input of shape [M, 2*I] with an even "
                            "last dimension (gate and up halves), got "
                         << twoI;
  if (twoI != kDyn)
    i = unify(twoI / 2, i);
  if (failed(checkShape(op, "input", getInput(), "[M, 2*I]", {m, mul(i, 2)})) ||
      failed(checkShape(op, "out", getOut(), "[M, I]", {m, i})) ||
      (getRowWeights() &&
       failed(checkShape(op, "row_weights", getRowWeights(), "[M]", {m}))))
    return failure();
  std::optional<float> alpha, limit;
  if (getAlphaAttr())
    alpha = getAlphaAttr().getValueAsDouble();
  if (getLimitAttr())
    limit = getLimitAttr().getValueAsDouble();
  if (failed(verifyActivationAttrs(op, getKind(), alpha, limit)))
    return failure();
  return checkComputeType(op, "out", getOut().getType().getElementType());
}

//===----------------------------------------------------------------------===//
// QuantizeOp / DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  RankedTensorType in = getInput().getType();
  if (in.getRank() < 2)
    return emitOpError() << "expects input of rank >= 2 (blocks cover the last "
                            "two dimensions), got "
                         << in;
  if (isQuantizedType(in.getElementType()))
    return emitOpError() << "expects input of element type f32 or bf16, got "
                         << in.getElementType();
  if (failed(checkShape(op, "values", getValues(), "the shape of input",
                        in.getShape())))
    return failure();
  return verifyQuantOperand(op, "values", getValues(), getFormat(), "format",
                            getScales(), "scales", getGlobalScale(),
                            "global_scale", {}, /*rowsAreTokens=*/false);
}

LogicalResult DequantizeOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  RankedTensorType in = getValues().getType();
  if (in.getRank() < 2)
    return emitOpError() << "expects values of rank >= 2, got " << in;
  if (failed(checkShape(op, "out", getOut(), "the shape of values",
                        in.getShape())))
    return failure();
  if (failed(verifyQuantOperand(op, "values", getValues(), getFormat(),
                                "format", getScales(), "scales",
                                getGlobalScale(), "global_scale", {},
                                /*rowsAreTokens=*/false)))
    return failure();
  return checkComputeType(op, "out", getOut().getType().getElementType());
}

//===----------------------------------------------------------------------===//
// FusedMoEOp
//===----------------------------------------------------------------------===//

LogicalResult FusedMoEOp::verify() {
  Operation *op = getOperation();
  if (failed(checkDenseTensors(op)))
    return failure();
  if (failed(checkRank(op, "x", getX(), 2, "[T, H]")) ||
      failed(checkRank(op, "ids", getIds(), 2, "[T, K]")) ||
      failed(checkRank(op, "w13", getW13(), 3, "[E, 2*I, H]")) ||
      failed(checkRank(op, "w2", getW2(), 3, "[E, H, I]")))
    return failure();
  int64_t t = unify(dim(getX(), 0), dim(getIds(), 0));
  int64_t k = dim(getIds(), 1);
  int64_t h = unify(dim(getX(), 1), dim(getW13(), 2));
  int64_t e = unify(dim(getW13(), 0), dim(getW2(), 0));
  int64_t twoI = dim(getW13(), 1);
  if (twoI != kDyn && twoI % 2 != 0)
    return emitOpError() << "expects w13 of shape [E, 2*I, H] with an even "
                            "dimension 1 (gate and up halves), got "
                         << twoI;
  int64_t i = unify(twoI == kDyn ? kDyn : twoI / 2, dim(getW2(), 2));
  if (failed(checkRowCount(op, t, k)))
    return failure();
  if (e != kDyn && e >= (int64_t(1) << 31) - 1)
    return emitOpError() << "expects E < 2^31 - 1 (offsets are i32), got "
                         << e;
  if (failed(checkShape(op, "x", getX(), "[T, H]", {t, h})) ||
      failed(checkShape(op, "ids", getIds(), "[T, K]", {t, k})) ||
      failed(checkShape(op, "weights", getWeights(), "[T, K]", {t, k})) ||
      failed(checkShape(op, "w13", getW13(), "[E, 2*I, H]", {e, mul(i, 2), h})) ||
      failed(checkShape(op, "w2", getW2(), "[E, H, I]", {e, h, i})) ||
      failed(checkShape(op, "out", getOut(), "[T, H]", {t, h})))
    return failure();
  if (isQuantizedType(getX().getType().getElementType()))
    return emitOpError() << "expects x of element type f32 or bf16 (x_quant "
                            "quantizes the dispatched rows), got "
                         << getX().getType().getElementType();
  if (auto xq = getXQuantAttr(); xq && xq.getBlockRows() != 1)
    return emitOpError() << "expects a [1, " << xq.getBlockCols()
                         << "] block for x_quant (its rows are tokens), got "
                         << xq;
  if (auto aq = getActQuantAttr(); aq && aq.getBlockRows() != 1)
    return emitOpError() << "expects a [1, " << aq.getBlockCols()
                         << "] block for act_quant (its rows are tokens), got "
                         << aq;
  if (auto xq = getXQuantAttr(); xq && h != kDyn && h % xq.getBlockCols() != 0)
    return emitOpError() << "expects H (" << h
                         << ") to be a multiple of the block of x_quant ("
                         << xq.getBlockCols() << ")";
  if (auto aq = getActQuantAttr(); aq && i != kDyn && i % aq.getBlockCols() != 0)
    return emitOpError() << "expects I (" << i
                         << ") to be a multiple of the block of act_quant ("
                         << aq.getBlockCols() << ")";
  if (failed(verifyQuantOperand(op, "w13", getW13(), getW13QuantAttr(),
                                "w13_quant", getW13Scales(), "w13_scales",
                                getW13GlobalScale(), "w13_global_scale", {e},
                                /*rowsAreTokens=*/false)) ||
      failed(verifyQuantOperand(op, "w2", getW2(), getW2QuantAttr(),
                                "w2_quant", getW2Scales(), "w2_scales",
                                getW2GlobalScale(), "w2_global_scale", {e},
                                /*rowsAreTokens=*/false)))
    return failure();
  if ((getW13Bias() &&
       (failed(checkRank(op, "w13_bias", getW13Bias(), 2, "[E, 2*I]")) ||
        failed(checkShape(op, "w13_bias", getW13Bias(), "[E, 2*I]",
                          {e, mul(i, 2)})))) ||
      (getW2Bias() &&
       (failed(checkRank(op, "w2_bias", getW2Bias(), 2, "[E, H]")) ||
        failed(checkShape(op, "w2_bias", getW2Bias(), "[E, H]", {e, h})))))
    return failure();
  if (getXQuantAttr() && getXQuantAttr().hasGlobalScale())
    return emitOpError() << "does not support x_quant = " << getXQuantAttr()
                         << " (a per-call global scale of the activations)";
  if (getActQuantAttr() && getActQuantAttr().hasGlobalScale())
    return emitOpError() << "does not support act_quant = "
                         << getActQuantAttr()
                         << " (a per-call global scale of the activations)";
  if (failed(checkComputeType(op, "gemm1_type", getGemm1Type())) ||
      failed(checkComputeType(op, "act_type", getActType())) ||
      failed(checkComputeType(op, "gemm2_type", getGemm2Type())) ||
      failed(checkComputeType(op, "out", getOut().getType().getElementType())))
    return failure();
  std::optional<float> alpha, limit;
  if (getAlphaAttr())
    alpha = getAlphaAttr().getValueAsDouble();
  if (getLimitAttr())
    limit = getLimitAttr().getValueAsDouble();
  if (failed(verifyActivationAttrs(op, getActivation(), alpha, limit)))
    return failure();
  int64_t global = e;
  if (auto p = getPlacementAttr(); p && isPerRank())
    global = p.getRanks() * p.getExpertsPerRank();
  if (failed(checkRoutedExperts(op, getIds(), global)))
    return failure();
  return verifyPlacement(op, getPlacementAttr(), e, /*perRankForm=*/true);
}

#define GET_OP_CLASSES
#include "moe/Dialect/MoE/IR/MoEOps.cpp.inc"
