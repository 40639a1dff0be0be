//===- TranslateRegistration.cpp - moe-translate registrations --*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The translations of moe-translate and their command-line options:
// --moe-to-layer-json, --moe-to-ptx and --moe-to-cubin.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/PTXEmitter.h"
#include "moe/Codegen/Translations.h"
#include "moe/InitAllDialects.h"
#include "moe/ParserGuard.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Tools/ParseUtilities.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

namespace {
/// The options of --moe-to-ptx and --moe-to-cubin. Constructed by
/// registerMoETranslations, before the command line is parsed.
struct PTXTranslationOptions {
  llvm::cl::OptionCategory category{"moe-to-ptx and moe-to-cubin options"};
  llvm::cl::opt<std::string> chip{
      "chip",
      llvm::cl::desc("SM to compile for (default: the gpu.module's "
                     "#nvvm.target chip, else sm_90a)"),
      llvm::cl::value_desc("sm_XX"), llvm::cl::cat(category)};
  llvm::cl::opt<std::string> features{
      "features",
      llvm::cl::desc("NVPTX target features (default: the #nvvm.target's "
                     "features, else +ptx88)"),
      llvm::cl::cat(category)};
  llvm::cl::opt<unsigned> optLevel{
      "opt-level", llvm::cl::desc("LLVM optimization level, 0-3"),
      llvm::cl::init(3), llvm::cl::cat(category)};
  llvm::cl::opt<std::string> gpuModule{
      "gpu-module",
      llvm::cl::desc("the gpu.module to compile when the input holds several"),
      llvm::cl::value_desc("name"), llvm::cl::cat(category)};
  llvm::cl::opt<std::string> ptxas{
      "ptxas",
      llvm::cl::desc("ptxas to run (default: $MOE_PTXAS, $CUDA_HOME/bin/ptxas, "
                     "/usr/local/cuda/bin/ptxas, then PATH)"),
      llvm::cl::value_desc("path"), llvm::cl::cat(category)};
  llvm::cl::opt<std::string> ptxasOptions{
      "ptxas-options", llvm::cl::desc("extra ptxas options, space-separated"),
      llvm::cl::cat(category)};
  llvm::cl::opt<bool> ptxasVerbose{
      "ptxas-verbose",
      llvm::cl::desc("run ptxas with -v and report its output as a remark"),
      llvm::cl::cat(category)};

  llvm::cl::opt<std::string> artifactDir{
      "artifact-dir",
      llvm::cl::desc("moe-to-manifest: also compile the kernel and write "
                     "manifest.json, the PTX and the cubin into this folder"),
      llvm::cl::value_desc("dir"), llvm::cl::cat(category)};

  moe::PTXOptions get() const {
    moe::PTXOptions options;
    options.chip = chip;
    options.features = features;
    options.optLevel = optLevel;
    options.gpuModule = gpuModule;
    options.ptxas = ptxas;
    options.ptxasOptions = ptxasOptions;
    options.ptxasVerbose = ptxasVerbose;
    return options;
  }
};
} // namespace

/// The dialects and LLVM IR translation interfaces every translation here
/// reads (emitPTX adds the interfaces to the context as well, for API
/// callers).
static void registerDialects(DialectRegistry &registry) {
  moe::registerAllDialects(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
}

/// What TranslateFromMLIRRegistration does (parse the input into an op, with
/// an implicit module, verify it, translate it), with the input first checked
/// for what upstream's parser crashes on (moe/ParserGuard.h): that gets an
/// error at its place instead.
static TranslateFunction
fromMLIR(std::function<LogicalResult(Operation *, raw_ostream &)> translate) {
  return [translate](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
                     raw_ostream &os, MLIRContext *context) -> LogicalResult {
    const llvm::MemoryBuffer *buffer =
        sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
    if (failed(moe::emitParserTrap(buffer->getBuffer(),
                                   buffer->getBufferIdentifier(), context)))
      return failure();
    DialectRegistry registry;
    registerDialects(registry);
    context->appendDialectRegistry(registry);
    OwningOpRef<Operation *> op = parseSourceFileForTool(
        sourceMgr, context, /*insertImplicitModule=*/true);
    if (!op || failed(verify(*op)))
      return failure();
    return translate(op.get(), os);
  };
}

static FailureOr<ModuleOp> expectModule(Operation *op, StringRef flag) {
  auto module = dyn_cast<ModuleOp>(op);
  if (!module)
    return op->emitError() << flag << ": expects a builtin.module";
  return module;
}

void moe::registerMoETranslations() {
  static TranslateRegistration layerJson(
      "moe-to-layer-json",
      "describe every moe.fused_moe (sizes, formats, rounding points) as JSON",
      fromMLIR([](Operation *op, raw_ostream &os) -> LogicalResult {
        auto module = dyn_cast<ModuleOp>(op);
        if (!module)
          return op->emitError("expects a builtin.module");
        return translateToLayerJson(module, os);
      }));

  static PTXTranslationOptions ptxOptions;
  static TranslateRegistration toPTX(
      "moe-to-ptx", "compile LLVM+NVVM kernels (in a gpu.module or not) to PTX",
      fromMLIR([](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = expectModule(op, "moe-to-ptx");
        if (failed(module))
          return failure();
        FailureOr<std::string> ptx = emitPTX(*module, ptxOptions.get());
        if (failed(ptx))
          return failure();
        os << *ptx;
        return success();
      }));
  static TranslateRegistration toManifest(
      "moe-to-manifest",
      "write the artifact manifest of the kernel a moek.launch runs "
      "(--artifact-dir: with its PTX and cubin)",
      fromMLIR([](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = expectModule(op, "moe-to-manifest");
        if (failed(module))
          return failure();
        return translateToManifest(*module, os, ptxOptions.get(),
                                   ptxOptions.artifactDir);
      }));
  static TranslateRegistration toCubin(
      "moe-to-cubin",
      "compile LLVM+NVVM kernels to PTX and assemble it with ptxas",
      fromMLIR([](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = expectModule(op, "moe-to-cubin");
        if (failed(module))
          return failure();
        FailureOr<std::string> cubin = emitCubin(*module, ptxOptions.get());
        if (failed(cubin))
          return failure();
        os << *cubin;
        return success();
      }));
}
