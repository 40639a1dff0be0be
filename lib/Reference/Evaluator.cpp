//===- Evaluator.cpp - Evaluate moe functions on the CPU --------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Interprets the ops of a func.func with the reference kernels. moe.fused_moe
// is evaluated as the chain it stands for, with the same kernels, so a
// function and its fused form give bit-identical results by construction of
// the semantics, and any difference means the fusion wired something wrong.
//
//===----------------------------------------------------------------------===//

#include "Support.h"
#include "moe/Reference/Evaluator.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "moe/Reference/Kernels.h"
#include "moe/Reference/Random.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace ::moe::ref;
using ::moe::ref::detail::makeError;
using llvm::Error;
using llvm::Expected;

namespace {

std::string describe(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "'" << op->getName() << "' at " << op->getLoc();
  return s;
}

/// The kernel-side format of a quantization attribute (none if `q` is null).
std::optional<QuantSpec> toSpec(mlir::moe::QuantAttr q) {
  if (!q)
    return std::nullopt;
  QuantSpec spec;
  switch (q.getScheme()) {
  case mlir::moe::QuantScheme::fp8_block:
    spec.scheme = QuantScheme::FP8Block;
    break;
  case mlir::moe::QuantScheme::mxfp8:
    spec.scheme = QuantScheme::MXFP8;
    break;
  case mlir::moe::QuantScheme::mxfp4:
    spec.scheme = QuantScheme::MXFP4;
    break;
  case mlir::moe::QuantScheme::nvfp4:
    spec.scheme = QuantScheme::NVFP4;
    break;
  }
  spec.blockRows = q.getBlockRows();
  spec.blockCols = q.getBlockCols();
  return spec;
}

Activation toActivation(mlir::moe::ActivationKind kind) {
  switch (kind) {
  case mlir::moe::ActivationKind::swiglu:
    return Activation::SwiGLU;
  case mlir::moe::ActivationKind::clamped_swiglu:
    return Activation::ClampedSwiGLU;
  case mlir::moe::ActivationKind::gelu_mul:
    return Activation::GeluMul;
  case mlir::moe::ActivationKind::gelu_tanh_mul:
    return Activation::GeluTanhMul;
  }
  llvm_unreachable("unknown activation");
}

ActivationParams toParams(mlir::moe::ActivationKind kind,
                          mlir::moe::GateUpLayout layout, FloatAttr alpha,
                          FloatAttr limit) {
  ActivationParams p;
  p.kind = toActivation(kind);
  p.layout = layout == mlir::moe::GateUpLayout::concat
                 ? GateUpLayout::Concat
                 : GateUpLayout::Interleaved;
  if (alpha)
    p.alpha = alpha.getValue().convertToFloat();
  if (limit)
    p.limit = limit.getValue().convertToFloat();
  return p;
}

float powerOfTwoNear(double x) {
  return static_cast<float>(std::exp2(std::round(std::log2(x))));
}

/// The random distribution of a function argument, from its first use that
/// tells its role. `tokens` is the size of every dynamic dim.
Expected<RandomSpec> inferRandomSpec(BlockArgument arg, int64_t tokens) {
  using namespace mlir::moe;
  RandomSpec activation; // values in [-1, 1]
  // Plain weights: values of about 1/sqrt(fan-in) keep outputs near 1.
  auto weight = [](int64_t fanIn) {
    RandomSpec s;
    s.scale =
        powerOfTwoNear(1.0 / std::sqrt(double(std::max<int64_t>(fanIn, 1))));
    return s;
  };
  auto probability = [] {
    RandomSpec s;
    s.distribution = Distribution::Probability;
    return s;
  };
  auto scaleAround = [](double center) {
    RandomSpec s;
    s.distribution = Distribution::PositiveScale;
    s.scale = powerOfTwoNear(center);
    return s;
  };
  auto ids = [](int64_t numExperts) {
    RandomSpec s;
    s.distribution = Distribution::ExpertIds;
    s.numExperts = numExperts;
    s.maskFraction = 1.0 / 16;
    return s;
  };
  auto maxOf = [](Value v) -> double {
    Type t = cast<RankedTensorType>(v.getType()).getElementType();
    if (isa<Float8E4M3FNType>(t))
      return 448.0;
    if (isa<Float4E2M1FNType>(t))
      return 6.0;
    return 1.0;
  };
  // Scales of a quantized weight: the values are random codes of the whole
  // range, so the scale brings them to about 1/sqrt(fan-in).
  auto weightScale = [&](Value w, int64_t fanIn) {
    return scaleAround(
        2.0 / (maxOf(w) * std::sqrt(double(std::max<int64_t>(fanIn, 1)))));
  };
  // Per-expert biases: small beside the products (about 1) they shift.
  auto bias = [] {
    RandomSpec s;
    s.scale = 0.25f;
    return s;
  };
  auto dimOf = [](Value v, unsigned i) {
    return cast<RankedTensorType>(v.getType()).getDimSize(i);
  };
  // Row offsets of the rows of `x` grouped by expert (moe.expert_matmul).
  auto groupOffsets = [&](Value x) {
    RandomSpec s;
    s.distribution = Distribution::GroupOffsets;
    int64_t rows = dimOf(x, 0);
    s.numRows = ShapedType::isDynamic(rows) ? tokens : rows;
    return s;
  };

  for (OpOperand &use : arg.getUses()) {
    Operation *user = use.getOwner();
    Value v = use.get();
    std::optional<RandomSpec> spec =
        llvm::TypeSwitch<Operation *, std::optional<RandomSpec>>(user)
            .Case([&](GateOp op) -> std::optional<RandomSpec> {
              if (v == op.getWeight())
                return weight(dimOf(v, 1));
              return activation;
            })
            .Case([&](RouteOp op) -> std::optional<RandomSpec> {
              // A correction bias is small beside the scores it shifts.
              RandomSpec s;
              if (v == op.getBias())
                s.scale = 1.0f / 16;
              return s;
            })
            .Case([&](DispatchOp op) -> std::optional<RandomSpec> {
              if (v == op.getIds())
                return ids(op.getNumExperts());
              if (v == op.getWeights())
                return probability();
              return activation;
            })
            .Case([&](ExpertMatmulOp op) -> std::optional<RandomSpec> {
              int64_t kd = dimOf(op.getWeight(), 2);
              if (v == op.getWeight())
                return weight(kd);
              if (v == op.getWScales())
                return weightScale(op.getWeight(), kd);
              if (v == op.getXScales())
                return scaleAround(1.0 / maxOf(op.getX()));
              if (v == op.getXGlobalScale() || v == op.getWGlobalScale())
                return scaleAround(1.0);
              if (v == op.getBias())
                return bias();
              if (v == op.getX())
                return activation;
              if (v == op.getOffsets())
                return groupOffsets(op.getX());
              return std::nullopt;
            })
            .Case([&](FusedMoEOp op) -> std::optional<RandomSpec> {
              int64_t h = dimOf(op.getW13(), 2), i = dimOf(op.getW2(), 2);
              if (v == op.getIds())
                return ids(op.getNumExperts());
              if (v == op.getWeights())
                return probability();
              if (v == op.getW13())
                return weight(h);
              if (v == op.getW2())
                return weight(i);
              if (v == op.getW13Scales())
                return weightScale(op.getW13(), h);
              if (v == op.getW2Scales())
                return weightScale(op.getW2(), i);
              if (v == op.getW13GlobalScale() || v == op.getW2GlobalScale())
                return scaleAround(1.0);
              if (v == op.getW13Bias() || v == op.getW2Bias())
                return bias();
              return activation;
            })
            .Case([&](ActivationOp op) -> std::optional<RandomSpec> {
              if (v == op.getRowWeights())
                return probability();
              return activation;
            })
            .Case([&](CombineOp op) -> std::optional<RandomSpec> {
              if (v == op.getWeights())
                return probability();
              if (v == op.getRows())
                return activation;
              return std::nullopt;
            })
            .Case([&](QuantizeOp) -> std::optional<RandomSpec> {
              return activation;
            })
            .Case([&](DequantizeOp op) -> std::optional<RandomSpec> {
              if (v == op.getScales())
                return scaleAround(1.0 / maxOf(op.getValues()));
              if (v == op.getGlobalScale())
                return scaleAround(1.0);
              return activation;
            })
            .Default([](Operation *) { return std::nullopt; });
    if (spec)
      return *spec;
  }
  if (isa<IntegerType>(cast<ShapedType>(arg.getType()).getElementType()))
    return makeError(llvm::formatv(
        "an integer tensor whose role (expert ids? group offsets?) cannot "
        "be read from its uses; give it with --input={0}=file.npy",
        arg.getArgNumber()));
  return activation;
}

/// Maps SSA values to host tensors while a function is interpreted.
class Interpreter {
public:
  Error run(func::FuncOp func, llvm::ArrayRef<Tensor> args,
            llvm::SmallVectorImpl<Tensor> &results);

private:
  const Tensor &get(Value v) { return values.find(v)->second; }
  const Tensor *getOrNull(Value v) { return v ? &get(v) : nullptr; }
  Error set(Value v, Tensor t, Operation *op);
  Error step(Operation *op);
  Error fusedMoE(mlir::moe::FusedMoEOp op);

  llvm::DenseMap<Value, Tensor> values;
};

Error Interpreter::set(Value v, Tensor t, Operation *op) {
  auto type = cast<RankedTensorType>(v.getType());
  Expected<ElemKind> kind = getElemKind(type.getElementType());
  if (!kind)
    return kind.takeError();
  bool ok = *kind == t.getKind() && type.getRank() == t.getRank();
  for (int64_t i = 0; ok && i < type.getRank(); ++i)
    ok = type.isDynamicDim(i) || type.getDimSize(i) == t.getDim(i);
  if (!ok)
    return makeError(llvm::formatv(
        "{0}: computed a {1} tensor of shape [{2}], which contradicts the "
        "result type {3}",
        describe(op), getName(t.getKind()),
        llvm::make_range(t.getShape().begin(), t.getShape().end()), type));
  values[v] = std::move(t);
  return Error::success();
}

Error Interpreter::fusedMoE(mlir::moe::FusedMoEOp op) {
  using namespace mlir::moe;
  auto kindOf = [](Type t) { return cantFail(getElemKind(t)); };
  auto withContext = [&](Error e) {
    return makeError(describe(op) + ": " + llvm::toString(std::move(e)));
  };
  if (op.isPerRank())
    return makeError(describe(op) +
                     ": the per-rank form of an expert-parallel layer (w13 "
                     "holds one rank's experts) is not evaluated alone: "
                     "evaluate the layer before moe-expert-parallel");
  const Tensor &x = get(op.getX());
  const Tensor &weights = get(op.getWeights());
  Expected<Dispatched> d =
      dispatch(x, get(op.getIds()), weights, op.getNumExperts());
  if (!d)
    return withContext(d.takeError());

  // GEMM1, on the (optionally quantized) dispatched rows.
  std::optional<Quantized> xq;
  Operand a{&d->rows, nullptr, nullptr, std::nullopt};
  if (op.getXQuantAttr()) {
    Expected<Quantized> q = quantize(d->rows, *toSpec(op.getXQuantAttr()));
    if (!q)
      return withContext(q.takeError());
    xq = std::move(*q);
    a = Operand{&xq->values, &xq->scales,
                xq->globalScale ? &*xq->globalScale : nullptr,
                toSpec(op.getXQuantAttr())};
  }
  Operand w13{&get(op.getW13()), getOrNull(op.getW13Scales()),
              getOrNull(op.getW13GlobalScale()), toSpec(op.getW13QuantAttr())};
  Expected<Tensor> h =
      expertMatmul(a, w13, d->offsets, kindOf(op.getGemm1Type()),
                   getOrNull(op.getW13Bias()));
  if (!h)
    return withContext(h.takeError());

  // Activation, with the router weight if it is applied before GEMM2.
  const Tensor *rowWeights = op.getRouterWeight() == RouterWeight::before_down
                                 ? &d->rowWeights
                                 : nullptr;
  Expected<Tensor> act =
      activation(*h, rowWeights,
                 toParams(op.getActivation(), op.getGateUpLayout(),
                          op.getAlphaAttr(), op.getLimitAttr()),
                 kindOf(op.getActType()));
  if (!act)
    return withContext(act.takeError());

  // GEMM2, on the (optionally requantized) activation.
  std::optional<Quantized> aq;
  Operand b{&*act, nullptr, nullptr, std::nullopt};
  if (op.getActQuantAttr()) {
    Expected<Quantized> q = quantize(*act, *toSpec(op.getActQuantAttr()));
    if (!q)
      return withContext(q.takeError());
    aq = std::move(*q);
    b = Operand{&aq->values, &aq->scales,
                aq->globalScale ? &*aq->globalScale : nullptr,
                toSpec(op.getActQuantAttr())};
  }
  Operand w2{&get(op.getW2()), getOrNull(op.getW2Scales()),
             getOrNull(op.getW2GlobalScale()), toSpec(op.getW2QuantAttr())};
  Expected<Tensor> y =
      expertMatmul(b, w2, d->offsets, kindOf(op.getGemm2Type()),
                   getOrNull(op.getW2Bias()));
  if (!y)
    return withContext(y.takeError());

  const Tensor *combineWeights =
      op.getRouterWeight() == RouterWeight::in_combine ? &weights : nullptr;
  Expected<Tensor> out =
      combine(*y, d->slotMap, combineWeights,
              kindOf(op.getOut().getType().getElementType()));
  if (!out)
    return withContext(out.takeError());
  return set(op.getOut(), std::move(*out), op);
}

Error Interpreter::step(Operation *op) {
  using namespace mlir::moe;
  auto kindOf = [](Value v) {
    return cantFail(
        getElemKind(cast<RankedTensorType>(v.getType()).getElementType()));
  };
  auto check = [&](auto expected, auto &&onSuccess) -> Error {
    if (!expected)
      return makeError(describe(op) + ": " +
                       llvm::toString(expected.takeError()));
    return onSuccess(*expected);
  };
  return llvm::TypeSwitch<Operation *, Error>(op)
      .Case([&](GateOp g) {
        return check(
            gate(get(g.getX()), get(g.getWeight()), kindOf(g.getLogits())),
            [&](Tensor &t) { return set(g.getLogits(), std::move(t), op); });
      })
      .Case([&](RouteOp r) {
        RouteParams p;
        p.scoring = r.getScoring() == mlir::moe::Scoring::softmax
                        ? ::moe::ref::Scoring::Softmax
                        : ::moe::ref::Scoring::Sigmoid;
        p.topK = r.getTopK();
        p.numGroups = r.getNumGroups();
        p.topkGroups = r.getTopkGroups();
        p.renormalize = r.getRenormalize();
        p.routedScalingFactor = r.getRoutedScalingFactor().convertToFloat();
        p.sharedExperts = r.getSharedExperts();
        p.sharedWeight = r.getSharedWeight().convertToFloat();
        return check(
            route(get(r.getLogits()), getOrNull(r.getBias()), p,
                  kindOf(r.getIds())),
            [&](Routing &routing) -> Error {
              if (Error e = set(r.getIds(), std::move(routing.ids), op))
                return e;
              return set(r.getWeights(), std::move(routing.weights), op);
            });
      })
      .Case([&](DispatchOp dop) {
        return check(
            dispatch(get(dop.getX()), get(dop.getIds()), get(dop.getWeights()),
                     dop.getNumExperts()),
            [&](Dispatched &d) -> Error {
              if (Error e = set(dop.getRows(), std::move(d.rows), op))
                return e;
              if (Error e = set(dop.getOffsets(), std::move(d.offsets), op))
                return e;
              if (Error e = set(dop.getSlotMap(), std::move(d.slotMap), op))
                return e;
              return set(dop.getRowWeights(), std::move(d.rowWeights), op);
            });
      })
      .Case([&](ExpertMatmulOp m) {
        Operand x{&get(m.getX()), getOrNull(m.getXScales()),
                  getOrNull(m.getXGlobalScale()), toSpec(m.getXQuantAttr())};
        Operand w{&get(m.getWeight()), getOrNull(m.getWScales()),
                  getOrNull(m.getWGlobalScale()), toSpec(m.getWQuantAttr())};
        return check(
            expertMatmul(x, w, get(m.getOffsets()), kindOf(m.getOut()),
                         getOrNull(m.getBias())),
            [&](Tensor &t) { return set(m.getOut(), std::move(t), op); });
      })
      .Case([&](ActivationOp a) {
        return check(
            activation(get(a.getInput()), getOrNull(a.getRowWeights()),
                       toParams(a.getKind(), a.getLayout(), a.getAlphaAttr(),
                                a.getLimitAttr()),
                       kindOf(a.getOut())),
            [&](Tensor &t) { return set(a.getOut(), std::move(t), op); });
      })
      .Case([&](CombineOp c) {
        return check(
            combine(get(c.getRows()), get(c.getSlotMap()),
                    getOrNull(c.getWeights()), kindOf(c.getOut())),
            [&](Tensor &t) { return set(c.getOut(), std::move(t), op); });
      })
      .Case([&](QuantizeOp q) {
        return check(
            quantize(get(q.getInput()), *toSpec(q.getFormat())),
            [&](Quantized &r) -> Error {
              if (Error e = set(q.getValues(), std::move(r.values), op))
                return e;
              if (Error e = set(q.getScales(), std::move(r.scales), op))
                return e;
              if (!q.getGlobalScale())
                return Error::success();
              if (!r.globalScale)
                return makeError(describe(op) +
                                 ": the kernel gave no global scale");
              return set(q.getGlobalScale(), std::move(*r.globalScale), op);
            });
      })
      .Case([&](DequantizeOp dq) {
        return check(
            dequantize(get(dq.getValues()), get(dq.getScales()),
                       getOrNull(dq.getGlobalScale()), *toSpec(dq.getFormat()),
                       kindOf(dq.getOut())),
            [&](Tensor &t) { return set(dq.getOut(), std::move(t), op); });
      })
      .Case([&](FusedMoEOp f) { return fusedMoE(f); })
      .Default([&](Operation *) {
        return makeError(describe(op) +
                         ": the reference evaluator cannot evaluate this op");
      });
}

Error Interpreter::run(func::FuncOp func, llvm::ArrayRef<Tensor> args,
                       llvm::SmallVectorImpl<Tensor> &results) {
  if (func.isExternal())
    return makeError("@" + func.getSymName() + " has no body to evaluate");
  if (!func.getBody().hasOneBlock())
    return makeError("@" + func.getSymName() +
                     " has control flow, which the evaluator does not run");
  Block &body = func.getBody().front();
  if (args.size() != body.getNumArguments())
    return makeError(llvm::formatv("@{0} takes {1} arguments, got {2}",
                                   func.getSymName(), body.getNumArguments(),
                                   args.size()));
  for (auto [arg, tensor] : llvm::zip(body.getArguments(), args))
    if (Error e = set(arg, tensor, func))
      return e;
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        results.push_back(get(v));
      return Error::success();
    }
    for (Value operand : op.getOperands())
      if (!values.count(operand))
        return makeError(describe(&op) + ": an operand is not a tensor the "
                                         "evaluator computed");
    if (Error e = step(&op))
      return e;
  }
  return makeError("@" + func.getSymName() + " has no func.return");
}

} // namespace

namespace moe::ref {

Expected<ElemKind> getElemKind(Type type) {
  if (type.isF32())
    return ElemKind::F32;
  if (type.isBF16())
    return ElemKind::BF16;
  if (isa<Float8E4M3FNType>(type))
    return ElemKind::F8E4M3FN;
  if (isa<Float4E2M1FNType>(type))
    return ElemKind::F4E2M1FN;
  if (isa<Float8E8M0FNUType>(type))
    return ElemKind::F8E8M0FNU;
  if (type.isSignlessInteger(32))
    return ElemKind::I32;
  if (type.isSignlessInteger(64))
    return ElemKind::I64;
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return makeError("the reference evaluator has no element kind for " + s);
}

llvm::SmallVector<int64_t> getArgumentShape(func::FuncOp func, unsigned index,
                                            int64_t tokens) {
  auto type = cast<RankedTensorType>(func.getArgumentTypes()[index]);
  llvm::SmallVector<int64_t> shape(type.getShape());
  for (int64_t &d : shape)
    if (ShapedType::isDynamic(d))
      d = tokens;
  return shape;
}

Expected<Tensor> makeRandomArgument(func::FuncOp func, unsigned index,
                                    int64_t tokens, uint64_t seed) {
  auto type = dyn_cast<RankedTensorType>(func.getArgumentTypes()[index]);
  if (!type)
    return makeError(llvm::formatv("argument #{0} of @{1} is not a ranked "
                                   "tensor",
                                   index, func.getSymName()));
  Expected<ElemKind> kind = getElemKind(type.getElementType());
  if (!kind)
    return kind.takeError();
  Expected<RandomSpec> spec =
      inferRandomSpec(func.getBody().front().getArgument(index), tokens);
  if (!spec)
    return spec.takeError();
  return makeRandomTensor(*kind, getArgumentShape(func, index, tokens), seed,
                          index, *spec);
}

Expected<llvm::SmallVector<Tensor>> evaluate(func::FuncOp func,
                                             llvm::ArrayRef<Tensor> args) {
  Interpreter interpreter;
  llvm::SmallVector<Tensor> results;
  if (Error e = interpreter.run(func, args, results))
    return std::move(e);
  return results;
}

} // namespace moe::ref
