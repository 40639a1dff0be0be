//===- moe-run.cpp - Evaluate a moe function on the CPU ---------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Runs the reference evaluator on one function of a .mlir file:
//
//   moe-run layer.mlir --tokens=16 --seed=1 [--entry=f] [--input=0=x.npy]
//           [--output-dir=out] [--print-hash] [--gpu=<artifact dir>]
//
// Arguments not given with --input are seeded random tensors (see
// makeRandomArgument). Prints one summary line per result; --output-dir
// writes result<i>.npy (and --save-inputs arg<i>.npy). --gpu then runs the
// compiled kernel of the function on the same inputs and compares its
// outputs with the reference's (GpuCheck.h).
//
//===----------------------------------------------------------------------===//

#include "GpuCheck.h"
#include "moe/InitAllDialects.h"
#include "moe/ParserGuard.h"
#include "moe/Reference/Evaluator.h"
#include "moe/Reference/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include "mlir/Support/FileUtilities.h"

#include <chrono>
#include <cstring>
#include <cmath>

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFilename(cl::Positional,
                                          cl::desc("<input .mlir>"),
                                          cl::init("-"));
static cl::opt<std::string>
    entryName("entry", cl::desc("Function to evaluate (default: the first)"),
              cl::init(""));
static cl::opt<int64_t> numTokens("tokens",
                                  cl::desc("Token count T: the size of every "
                                           "dynamic dimension of the arguments"),
                                  cl::init(4));
static cl::opt<uint64_t> seed("seed", cl::desc("Seed of the random arguments"),
                              cl::init(1));
static cl::list<std::string>
    inputs("input", cl::desc("<index>=<file.npy>: take argument <index> from "
                             "a .npy file instead of random values"));
static cl::opt<std::string>
    outputDir("output-dir", cl::desc("Write result<i>.npy files here"),
              cl::init(""));
static cl::opt<bool> saveInputs(
    "save-inputs",
    cl::desc("Also write arg<i>.npy into --output-dir (beware: full size)"),
    cl::init(false));
static cl::opt<bool>
    printHash("print-hash",
              cl::desc("Print a hash of each result's exact values"),
              cl::init(false));

static cl::OptionCategory gpuCategory("GPU check (--gpu)");
static cl::opt<std::string> gpuArtifact(
    "gpu",
    cl::desc("After the reference, run this artifact (a directory with "
             "manifest.json, from moe-translate --moe-to-manifest "
             "--artifact-dir) on the same inputs and compare its outputs; "
             "prints 'gpu: not run: <why>' if there is no driver or GPU"),
    cl::value_desc("artifact dir"), cl::init(""), cl::cat(gpuCategory));
static cl::opt<int32_t> gpuDevice("gpu-device",
                                  cl::desc("CUDA device ordinal for --gpu"),
                                  cl::init(0), cl::cat(gpuCategory));
static cl::opt<double>
    gpuTolerance("gpu-tolerance",
                 cl::desc("Largest relative Frobenius error of a GPU output "
                          "(||gpu - ref|| / ||ref||) that passes"),
                 cl::init(2e-2), cl::cat(gpuCategory));
static cl::opt<bool> gpuRequired(
    "gpu-required",
    cl::desc("Exit with 2 if --gpu cannot run (no driver or GPU) instead of 0"),
    cl::init(false), cl::cat(gpuCategory));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "moe-run: error: " << message << "\n";
  return 1;
}

/// FNV-1a over the float32 bit patterns (or int64 values) of a tensor.
static uint64_t hashTensor(const ::moe::ref::Tensor &t) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  int64_t n = t.getNumElements();
  if (t.isFloat()) {
    std::vector<float> buf(n);
    t.readFloat(0, n, buf.data());
    for (float f : buf) {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      mix(bits, 4);
    }
  } else {
    std::vector<int64_t> buf(n);
    t.readInt(0, n, buf.data());
    for (int64_t v : buf)
      mix(static_cast<uint64_t>(v), 8);
  }
  return h;
}

static void printSummary(unsigned index, const ::moe::ref::Tensor &t) {
  int64_t n = t.getNumElements();
  llvm::outs() << "result " << index << ": " << ::moe::ref::getName(t.getKind())
               << " [";
  llvm::interleaveComma(t.getShape(), llvm::outs());
  llvm::outs() << "]";
  if (t.isFloat()) {
    std::vector<float> buf(n);
    t.readFloat(0, n, buf.data());
    int64_t finite = 0, nonzero = 0;
    double sumAbs = 0, maxAbs = 0;
    for (float f : buf) {
      if (!std::isfinite(f))
        continue;
      ++finite;
      nonzero += f != 0.0f;
      sumAbs += std::fabs(f);
      maxAbs = std::max(maxAbs, double(std::fabs(f)));
    }
    llvm::outs() << llvm::formatv(
        "  finite {0}/{1}  nonzero {2}  mean|x| {3:e3}  max|x| {4:e3}", finite,
        n, nonzero, finite ? sumAbs / finite : 0.0, maxAbs);
  }
  if (printHash)
    llvm::outs() << llvm::formatv("  hash {0:x16}", hashTensor(t));
  llvm::outs() << "\n";
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "moe reference evaluator: runs a moe function "
                              "on the CPU with bit-exact rounding\n");
  if (numTokens < 1)
    return fail(llvm::formatv("--tokens must be >= 1, got {0}",
                              numTokens.getValue()));

  DialectRegistry registry;
  mlir::moe::registerAllDialects(registry);
  MLIRContext context(registry);
  llvm::SourceMgr sourceMgr;
  std::string errorMessage;
  auto file = openInputFile(inputFilename, &errorMessage);
  if (!file)
    return fail(errorMessage);
  if (mlir::moe::reportParserTrap(*file, llvm::errs()))
    return 1;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1; // the diagnostic handler printed why

  func::FuncOp func;
  module->walk([&](func::FuncOp f) {
    if (!func && !f.isExternal() &&
        (entryName.empty() || f.getSymName() == entryName))
      func = f;
  });
  if (!func)
    return fail(entryName.empty()
                    ? llvm::Twine("the module has no function with a body")
                    : "no function named @" + entryName);

  unsigned numArgs = func.getNumArguments();
  std::vector<std::string> inputFiles(numArgs);
  for (const std::string &spec : inputs) {
    auto [indexText, path] = llvm::StringRef(spec).split('=');
    unsigned index;
    if (path.empty() || indexText.getAsInteger(10, index))
      return fail("--input expects <index>=<file.npy>, got '" + spec + "'");
    if (index >= numArgs)
      return fail(llvm::formatv("--input {0}: @{1} has {2} arguments", index,
                                func.getSymName(), numArgs));
    inputFiles[index] = path.str();
  }

  llvm::SmallVector<::moe::ref::Tensor> args;
  for (unsigned i = 0; i < numArgs; ++i) {
    llvm::Expected<::moe::ref::Tensor> arg = [&]() -> llvm::Expected<::moe::ref::Tensor> {
      if (inputFiles[i].empty())
        return ::moe::ref::makeRandomArgument(func, i, numTokens, seed);
      auto type = cast<RankedTensorType>(func.getArgumentTypes()[i]);
      llvm::Expected<::moe::ref::ElemKind> kind =
          ::moe::ref::getElemKind(type.getElementType());
      if (!kind)
        return kind.takeError();
      llvm::SmallVector<int64_t> shape(type.getShape());
      for (int64_t &d : shape)
        if (ShapedType::isDynamic(d))
          d = -1;
      return ::moe::ref::readNpy(inputFiles[i], *kind, shape);
    }();
    if (!arg)
      return fail(llvm::formatv("argument #{0}: {1}", i,
                                llvm::toString(arg.takeError())));
    args.push_back(std::move(*arg));
  }

  auto start = std::chrono::steady_clock::now();
  llvm::Expected<llvm::SmallVector<::moe::ref::Tensor>> results =
      ::moe::ref::evaluate(func, args);
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  if (!results)
    return fail(llvm::toString(results.takeError()));

  llvm::outs() << llvm::formatv("moe-run: @{0}, T = {1}, seed = {2}, "
                                "evaluated in {3:f2} s\n",
                                func.getSymName(), numTokens.getValue(),
                                seed.getValue(), seconds);
  for (auto [i, t] : llvm::enumerate(*results))
    printSummary(i, t);

  if (!outputDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(outputDir))
      return fail("cannot create " + outputDir + ": " + ec.message());
    auto write = [&](const llvm::Twine &name,
                     const ::moe::ref::Tensor &t) -> bool {
      llvm::SmallString<256> path(outputDir);
      llvm::sys::path::append(path, name);
      if (llvm::Error e = ::moe::ref::writeNpy(path, t)) {
        fail(llvm::toString(std::move(e)));
        return false;
      }
      return true;
    };
    for (auto [i, t] : llvm::enumerate(*results))
      if (!write("result" + llvm::Twine(i) + ".npy", t))
        return 1;
    if (saveInputs)
      for (auto [i, t] : llvm::enumerate(args))
        if (!write("arg" + llvm::Twine(i) + ".npy", t))
          return 1;
  }

  if (!gpuArtifact.empty()) {
    auto typeShape = [](Type type) {
      llvm::SmallVector<int64_t, 4> shape(cast<ShapedType>(type).getShape());
      for (int64_t &d : shape)
        if (ShapedType::isDynamic(d))
          d = -1;
      return shape;
    };
    llvm::SmallVector<::moe::run::GpuOperand> gpuArgs, gpuResults;
    for (auto [t, type] : llvm::zip(args, func.getArgumentTypes()))
      gpuArgs.push_back({&t, typeShape(type)});
    for (auto [t, type] : llvm::zip(*results, func.getResultTypes()))
      gpuResults.push_back({&t, typeShape(type)});
    ::moe::run::GpuCheckOptions options;
    options.artifactDir = gpuArtifact;
    options.device = gpuDevice;
    options.tolerance = gpuTolerance;
    options.required = gpuRequired;
    llvm::outs().flush();
    return ::moe::run::runGpuCheck(options, gpuArgs, gpuResults);
  }
  return 0;
}
