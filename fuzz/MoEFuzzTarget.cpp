//===- MoEFuzzTarget.cpp - Fuzz the moe front end and evaluator -----------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// LLVMFuzzerTestOneInput: parses the input as a module into a fresh
// MLIRContext, verifies it, runs the moe-graph-optimization-pipeline with
// every diagnostic captured (nothing printed), and, when a function body is
// small enough, evaluates it with the reference evaluator on seeded random
// arguments into which NaN, +-Inf, huge, tiny, zero and out-of-range values
// are injected (the choices come from a hash of the input).
//
// Built twice: linked with libFuzzer (-fsanitize=fuzzer, MOE_BUILD_FUZZERS)
// as moe-fuzz, and with FuzzDriver.cpp as moe-fuzz-driver, a plain program
// that runs the same entry point on files (the lit smoke test uses it).
//
// Excluded inputs (upstream MLIR aborts we cannot fix here) are listed in
// docs/Robustness.md; each is refused by mlir::moe::findParserTrap (the
// same check the tools and the JIT make) before parsing.
//
//===----------------------------------------------------------------------===//

#include "moe/InitAllDialects.h"
#include "moe/ParserGuard.h"
#include "moe/Reference/Evaluator.h"
#include "moe/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <cstdint>
#include <cstdlib>
#include <limits>

using namespace mlir;

namespace {

/// Evaluation caps: the evaluator runs only when every argument and result
/// has fewer elements than this, and all arguments together too.
constexpr int64_t kMaxTensorElements = 1 << 16;
constexpr int64_t kMaxTotalElements = 1 << 18;

uint64_t hashBytes(llvm::StringRef s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

/// splitmix64: the stream of choices made from the input's hash.
struct Choices {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
};

bool shapeFits(Type type, int64_t tokens, int64_t &total) {
  auto shaped = dyn_cast<RankedTensorType>(type);
  if (!shaped)
    return false;
  int64_t n = 1;
  for (int64_t d : shaped.getShape()) {
    int64_t v = ShapedType::isDynamic(d) ? tokens : d;
    if (v < 0 || v > kMaxTensorElements)
      return false;
    n *= std::max<int64_t>(v, 1);
    if (n > kMaxTensorElements)
      return false;
  }
  total += n;
  return total <= kMaxTotalElements;
}

/// Overwrites a few values of a materialized tensor with special values.
void injectSpecials(::moe::ref::Tensor &t, Choices &c) {
  int64_t n = t.getNumElements();
  if (n == 0)
    return;
  unsigned count = c.below(4);
  bool wholeRow = c.below(4) == 0;
  if (t.isFloat()) {
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::max(),
                              -std::numeric_limits<float>::max(),
                              std::numeric_limits<float>::denorm_min(),
                              0.0f,
                              -0.0f,
                              1e30f,
                              -1e-30f,
                              65504.0f,
                              448.0f};
    float v = specials[c.below(std::size(specials))];
    if (wholeRow) {
      int64_t row = t.getRank() ? t.getDim(t.getRank() - 1) : 1;
      int64_t start = row ? (c.below(n / std::max<int64_t>(row, 1)) * row) : 0;
      for (int64_t i = start; i < std::min(n, start + row); ++i)
        t.floats()[i] = v;
    }
    for (unsigned k = 0; k < count; ++k)
      t.floats()[c.below(n)] = specials[c.below(std::size(specials))];
  } else {
    const int64_t specials[] = {-1, -2, 0, 1, 255, 256, 1 << 20,
                                std::numeric_limits<int32_t>::max(),
                                std::numeric_limits<int64_t>::min(),
                                std::numeric_limits<int64_t>::max()};
    int64_t v = specials[c.below(std::size(specials))];
    if (wholeRow) {
      int64_t row = t.getRank() ? t.getDim(t.getRank() - 1) : 1;
      int64_t start = row ? (c.below(n / std::max<int64_t>(row, 1)) * row) : 0;
      for (int64_t i = start; i < std::min(n, start + row); ++i)
        t.ints()[i] = v;
    }
    for (unsigned k = 0; k < count; ++k)
      t.ints()[c.below(n)] = specials[c.below(std::size(specials))];
  }
}

void evaluateSmall(func::FuncOp func, Choices &c) {
  // T in 0..8, sometimes 0 (zero tokens) or 1.
  int64_t tokens = c.below(9);
  int64_t total = 0;
  for (Type t : func.getArgumentTypes())
    if (!shapeFits(t, tokens, total))
      return;
  int64_t resultTotal = 0;
  for (Type t : func.getResultTypes())
    if (!shapeFits(t, tokens, resultTotal))
      return;
  // Every intermediate value too (dispatch/matmul outputs are sized by T*K).
  bool small = true;
  func.walk([&](Operation *op) {
    for (Type t : op->getResultTypes()) {
      int64_t one = 0;
      if (isa<RankedTensorType>(t) && !shapeFits(t, tokens * 64, one))
        small = false;
    }
  });
  if (!small)
    return;

  llvm::SmallVector<::moe::ref::Tensor> args;
  uint64_t seed = c.next();
  bool inject = c.below(2) == 0;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    llvm::Expected<::moe::ref::Tensor> arg =
        ::moe::ref::makeRandomArgument(func, i, tokens, seed);
    if (!arg) {
      llvm::consumeError(arg.takeError());
      return;
    }
    ::moe::ref::Tensor t = arg->materialize();
    if (inject && c.below(3) == 0)
      injectSpecials(t, c);
    args.push_back(std::move(t));
  }
  llvm::Expected<llvm::SmallVector<::moe::ref::Tensor>> results =
      ::moe::ref::evaluate(func, args);
  if (!results)
    llvm::consumeError(results.takeError());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // MLIR's lexer expects a NUL after the buffer (files and MemoryBuffers have
  // one; libFuzzer's data does not): upstream issue U1 of docs/Robustness.md.
  std::string owned(reinterpret_cast<const char *>(data), size);
  llvm::StringRef text(owned.c_str(), size);
  // Inputs upstream's parser crashes on are refused before parsing, as the
  // tools and the JIT refuse them (moe/ParserGuard.h; U2 of
  // docs/Robustness.md). (K1, !moek.ring with a non-integer memory space, is
  // fixed in RingType::verify: test/Fuzz/verifier-overflow.mlir.)
  if (mlir::moe::findParserTrap(text))
    return -1; // not added to the corpus

  static DialectRegistry *registry = [] {
    auto *r = new DialectRegistry();
    mlir::moe::registerAllDialects(*r);
    return r;
  }();
  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  // Capture every diagnostic: nothing is printed, nothing aborts.
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error)
      diagnostics += d.str() + "\n";
    return success();
  });

  ParserConfig config(&context);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, config);
  if (!module)
    return 0;
  if (failed(verify(*module)))
    return 0;

  Choices choices{hashBytes(text)};
  // The evaluator reads the IR as written (unfused) ...
  bool evalBefore = choices.below(2) == 0;
  if (evalBefore) {
    unsigned evaluated = 0;
    module->walk([&](func::FuncOp f) {
      if (!f.isExternal() && evaluated++ < 2)
        evaluateSmall(f, choices);
    });
  }

  PassManager pm(&context, ModuleOp::getOperationName());
  mlir::moe::buildGraphOptimizationPipeline(pm);
  // The pipeline's passes never fail on verified IR; a failure is the pass
  // manager's verifier rejecting what a pass produced: a bug.
  if (failed(pm.run(*module))) {
    fprintf(stderr, "moe-fuzz: the pipeline failed on verified IR:\n%s",
            diagnostics.c_str());
    abort();
  }
  // ... and as the pipeline left it (fused).
  if (!evalBefore) {
    unsigned evaluated = 0;
    module->walk([&](func::FuncOp f) {
      if (!f.isExternal() && evaluated++ < 2)
        evaluateSmall(f, choices);
    });
  }
  return 0;
}
