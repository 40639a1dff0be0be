//===- EmitPTX.cpp - LLVM+NVVM kernels to PTX and cubin ---------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// emitPTX lowers LLVM + NVVM dialect kernels to PTX in process:
//
//  1. pick the kernels: the one gpu.module (or the one named), else the whole
//     module of llvm.func;
//  2. settle the chip and features from the options and the gpu.module's
//     #nvvm.target (they must agree), and check both against LLVM's NVPTX
//     tables;
//  3. attach #nvvm.target to a gpu.module without one and re-verify, and check
//     every NVVM op's RequiresSM trait against the chip ourselves as well
//     (plain modules, verifyTarget = false): an op the chip lacks must be a
//     diagnostic here, because LLVM would abort in instruction selection;
//  4. convert-nvvm-to-llvm (PTX-builder ops such as wgmma.mma_async become
//     llvm.inline_asm) and reconcile-unrealized-casts;
//  5. translate to LLVM IR, run the O0-O3 middle end (which also inlines
//     helpers; llc alone would not) and the NVPTX AsmPrinter.
//
// Step 5 runs under a fatal-error handler and a CrashRecoveryContext, so a
// "Cannot select" or a PTX-version error in LLVM becomes a diagnostic too,
// and LLVM's own diagnostics (which would exit(1) on an error) are forwarded.
//
// assembleCubin runs ptxas as a subprocess on a temporary .ptx file.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/PTXEmitter.h"

#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/CrashRecoveryContext.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/StringSaver.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Triple.h"

#include <mutex>

using namespace mlir;
using namespace mlir::moe;

static constexpr llvm::StringLiteral kTriple = "nvptx64-nvidia-cuda";
static constexpr llvm::StringLiteral kDefaultChip = "sm_90a";
static constexpr llvm::StringLiteral kDefaultFeatures = "+ptx88";

//===----------------------------------------------------------------------===//
// Selecting the kernels and the target
//===----------------------------------------------------------------------===//

namespace {
/// What emitPTX compiles, and for which target.
struct KernelTarget {
  /// The gpu.module, or the builtin.module itself when it holds llvm.func
  /// directly.
  Operation *root = nullptr;
  gpu::GPUModuleOp gpuModule;
  std::string chip;
  std::string features;
};
} // namespace

/// Returns the NVVM targets of `gpuModule`.
static SmallVector<NVVM::NVVMTargetAttr>
nvvmTargets(gpu::GPUModuleOp gpuModule) {
  SmallVector<NVVM::NVVMTargetAttr> targets;
  if (ArrayAttr attrs = gpuModule.getTargetsAttr())
    for (Attribute attr : attrs)
      if (auto target = dyn_cast<NVVM::NVVMTargetAttr>(attr))
        targets.push_back(target);
  return targets;
}

static FailureOr<KernelTarget> selectKernels(ModuleOp module,
                                             const PTXOptions &options) {
  KernelTarget kt;
  SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
  if (!options.gpuModule.empty()) {
    auto it = llvm::find_if(gpuModules, [&](gpu::GPUModuleOp m) {
      return m.getSymName() == options.gpuModule;
    });
    if (it == gpuModules.end())
      return emitError(module.getLoc(), "no gpu.module named @")
             << options.gpuModule;
    kt.gpuModule = *it;
  } else if (gpuModules.size() > 1) {
    // Several gpu.modules would give several PTX files (each with its own
    // .version/.target header), so we compile one at a time.
    InFlightDiagnostic diag = emitError(module.getLoc())
                              << "the input holds " << gpuModules.size()
                              << " gpu.modules (";
    llvm::interleaveComma(gpuModules, diag, [&](gpu::GPUModuleOp m) {
      diag << "@" << m.getSymName();
    });
    return diag << "); choose one with --gpu-module=<name>";
  } else if (gpuModules.size() == 1) {
    kt.gpuModule = gpuModules.front();
  }

  kt.root = kt.gpuModule ? kt.gpuModule.getOperation() : module.getOperation();
  if (!kt.gpuModule && module.getOps<LLVM::LLVMFuncOp>().empty())
    return emitError(module.getLoc(),
                     "expects a gpu.module or llvm.func kernels in the LLVM "
                     "and NVVM dialects");

  // The chip and features: the options win, then the #nvvm.target, then the
  // defaults. A chip that differs from the #nvvm.target's is an error: the
  // module was verified against its target, not against the option.
  NVVM::NVVMTargetAttr target;
  if (kt.gpuModule) {
    SmallVector<NVVM::NVVMTargetAttr> targets = nvvmTargets(kt.gpuModule);
    if (kt.gpuModule.getTargetsAttr() && targets.empty())
      return emitError(kt.gpuModule.getLoc(), "gpu.module @")
             << kt.gpuModule.getSymName() << " has no #nvvm.target";
    if (!options.chip.empty() && !targets.empty()) {
      auto it = llvm::find_if(targets, [&](NVVM::NVVMTargetAttr t) {
        return t.getChip() == options.chip;
      });
      if (it == targets.end()) {
        InFlightDiagnostic diag = emitError(kt.gpuModule.getLoc())
                                  << "--chip=" << options.chip
                                  << " differs from the chip of gpu.module @"
                                  << kt.gpuModule.getSymName() << " (";
        llvm::interleaveComma(targets, diag, [&](NVVM::NVVMTargetAttr t) {
          diag << t.getChip();
        });
        return diag << ")";
      }
      target = *it;
    } else if (targets.size() == 1) {
      target = targets.front();
    } else if (targets.size() > 1) {
      InFlightDiagnostic diag = emitError(kt.gpuModule.getLoc())
                                << "gpu.module @" << kt.gpuModule.getSymName()
                                << " has several #nvvm.target (";
      llvm::interleaveComma(
          targets, diag, [&](NVVM::NVVMTargetAttr t) { diag << t.getChip(); });
      return diag << "); choose one with --chip";
    }
    if (target && target.getTriple() != kTriple)
      return emitError(kt.gpuModule.getLoc(),
                       "unsupported #nvvm.target triple '")
             << target.getTriple() << "' (expected '" << kTriple << "')";
  }
  kt.chip = !options.chip.empty() ? options.chip
            : target              ? target.getChip().str()
                                  : kDefaultChip.str();
  kt.features = !options.features.empty() ? options.features
                : target && !target.getFeatures().empty()
                    ? target.getFeatures().str()
                    : kDefaultFeatures.str();
  return kt;
}

//===----------------------------------------------------------------------===//
// Checks before code generation
//===----------------------------------------------------------------------===//

static const llvm::Target *lookupNVPTX(Location loc) {
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(kTriple), error);
  if (!target)
    emitError(loc) << "the NVPTX target is not available: " << error;
  return target;
}

/// Checks the chip and features against LLVM's NVPTX tables: LLVM would only
/// warn on stderr and ignore an unknown one.
static LogicalResult checkChipAndFeatures(const llvm::Target &target,
                                          const KernelTarget &kt,
                                          Location loc) {
  // No CPU and no features here: LLVM would print a warning for a bad one.
  std::unique_ptr<llvm::MCSubtargetInfo> sti(target.createMCSubtargetInfo(
      llvm::Triple(kTriple), /*CPU=*/"", /*Features=*/""));
  if (!sti)
    return emitError(loc) << "cannot create the NVPTX subtarget";
  // checkOpsSupported parses the version after "sm_".
  if (!StringRef(kt.chip).starts_with("sm_") || !sti->isCPUStringValid(kt.chip))
    return emitError(loc) << "unknown chip '" << kt.chip
                          << "' (expected e.g. sm_90a, sm_100a)";
  SmallVector<StringRef> features;
  StringRef(kt.features).split(features, ',', -1, /*KeepEmpty=*/false);
  for (StringRef feature : features) {
    feature = feature.trim();
    if (!feature.consume_front("+") && !feature.consume_front("-"))
      return emitError(loc)
             << "target feature '" << feature << "' must start with '+' or '-'";
    if (!llvm::any_of(sti->getAllProcessorFeatures(),
                      [&](const llvm::SubtargetFeatureKV &kv) {
                        return feature == kv.Key;
                      }))
      return emitError(loc) << "unknown NVPTX target feature '" << feature
                            << "' (PTX ISA versions are e.g. +ptx88, +ptx90)";
  }
  return success();
}

/// Checks that the kernels are LLVM and NVVM dialect only: anything else
/// (gpu.func, arith, memref, moek ...) must be lowered first.
static LogicalResult checkDialects(Operation *root) {
  WalkResult result = root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (op == root)
      return WalkResult::advance();
    StringRef ns = op->getName().getDialectNamespace();
    if (ns == "llvm" || ns == "nvvm" || ns == "builtin")
      return WalkResult::advance();
    emitError(op->getLoc())
        << "expects LLVM and NVVM dialect ops only, found '" << op->getName()
        << "'; lower it first (e.g. convert-gpu-to-nvvm, convert-moek-to-nvvm)";
    return WalkResult::interrupt();
  });
  return failure(result.wasInterrupted());
}

/// Checks every NVVM op with a RequiresSM trait against `chip`: the same test
/// as NVVMTargetAttr::verifyTarget, which runs only inside a gpu.module whose
/// target has verifyTarget = true. Reports each unsupported op kind once.
static LogicalResult checkOpsSupported(Operation *root, StringRef chip) {
  const NVVM::NVVMCheckSMVersion targetSM =
      NVVM::NVVMCheckSMVersion::getTargetSMVersionFromStr(chip);
  llvm::StringSet<> reported;
  bool ok = true;
  root->walk([&](NVVM::RequiresSMInterface op) {
    if (op.getRequiredMinSMVersion().isCompatibleWith(targetSM))
      return;
    ok = false;
    if (reported.insert(op->getName().getStringRef()).second)
      op->emitOpError() << "is not supported on " << chip;
  });
  return success(ok);
}

//===----------------------------------------------------------------------===//
// LLVM code generation
//===----------------------------------------------------------------------===//

namespace {
/// Collects LLVM's diagnostics (which by default go to stderr, and exit(1) on
/// an error) as MLIR diagnostics.
struct LLVMDiagnostics {
  Location loc;
  bool hadError = false;

  static void handle(const llvm::DiagnosticInfo *info, void *context) {
    auto *self = static_cast<LLVMDiagnostics *>(context);
    std::string message;
    llvm::raw_string_ostream os(message);
    llvm::DiagnosticPrinterRawOStream printer(os);
    info->print(printer);
    switch (info->getSeverity()) {
    case llvm::DS_Error:
      self->hadError = true;
      emitError(self->loc) << "LLVM: " << message;
      break;
    case llvm::DS_Warning:
      emitWarning(self->loc) << "LLVM: " << message;
      break;
    case llvm::DS_Remark:
      // Optimization remarks: only on request, which we never make.
      break;
    case llvm::DS_Note:
      emitRemark(self->loc) << "LLVM: " << message;
      break;
    }
  }
};

/// The fatal-error handler is process-wide: serialize guarded code generation.
std::mutex guardedCodegenMutex;

void onFatalError(void *userData, const char *reason, bool) {
  *static_cast<std::string *>(userData) = reason;
  // Unwind to RunSafely instead of letting LLVM abort() or exit(1).
  if (llvm::CrashRecoveryContext *crc =
          llvm::CrashRecoveryContext::GetCurrent())
    crc->HandleExit(1);
}
} // namespace

/// Runs `fn`; an LLVM fatal error or a crash inside it becomes an error at
/// `loc` (and `crashed` is set: the caller must then leak what `fn` touched,
/// since the longjmp out of it skipped its destructors).
static LogicalResult runGuarded(Location loc, bool &crashed,
                                function_ref<LogicalResult()> fn) {
  std::lock_guard<std::mutex> lock(guardedCodegenMutex);
  std::string fatal;
  LogicalResult result = failure();
  llvm::CrashRecoveryContext::Enable();
  {
    llvm::ScopedFatalErrorHandler handler(onFatalError, &fatal);
    llvm::CrashRecoveryContext crc;
    crashed = !crc.RunSafely([&] { result = fn(); });
  }
  llvm::CrashRecoveryContext::Disable();
  if (!crashed)
    return result;
  if (fatal.empty())
    return emitError(loc) << "LLVM crashed while generating PTX";
  return emitError(loc) << "LLVM failed to generate PTX: " << fatal;
}

static LogicalResult generatePTX(llvm::Module &llvmModule,
                                 const llvm::Target &target,
                                 const KernelTarget &kt, unsigned optLevel,
                                 std::unique_ptr<llvm::TargetMachine> &tm,
                                 std::string &ptx) {
  static constexpr llvm::CodeGenOptLevel codegenLevels[] = {
      llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
      llvm::CodeGenOptLevel::Default, llvm::CodeGenOptLevel::Aggressive};
  llvm::Triple triple(kTriple);
  tm.reset(target.createTargetMachine(triple, kt.chip, kt.features,
                                      llvm::TargetOptions(), std::nullopt,
                                      std::nullopt, codegenLevels[optLevel]));
  if (!tm)
    return failure();
  llvmModule.setTargetTriple(triple);
  llvmModule.setDataLayout(tm->createDataLayout());

  // The middle end: inlines helpers and cleans up what the translation left.
  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder pb(tm.get());
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    static const llvm::OptimizationLevel levels[] = {
        llvm::OptimizationLevel::O0, llvm::OptimizationLevel::O1,
        llvm::OptimizationLevel::O2, llvm::OptimizationLevel::O3};
    llvm::ModulePassManager mpm =
        optLevel == 0 ? pb.buildO0DefaultPipeline(levels[0])
                      : pb.buildPerModuleDefaultPipeline(levels[optLevel]);
    mpm.run(llvmModule, mam);
  }

  llvm::SmallString<0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager codegen;
  if (tm->addPassesToEmitFile(codegen, os, nullptr,
                              llvm::CodeGenFileType::AssemblyFile))
    return failure();
  codegen.run(llvmModule);
  ptx = buffer.str().str();
  return success();
}

//===----------------------------------------------------------------------===//
// emitPTX
//===----------------------------------------------------------------------===//

FailureOr<std::string> moe::emitPTX(ModuleOp module,
                                    const PTXOptions &options) {
  MLIRContext *ctx = module.getContext();
  Location loc = module.getLoc();
  if (options.optLevel > 3)
    return emitError(loc) << "opt level must be 0-3, got " << options.optLevel;

  FailureOr<KernelTarget> kt = selectKernels(module, options);
  if (failed(kt))
    return failure();
  loc = kt->root->getLoc();
  const llvm::Target *target = lookupNVPTX(loc);
  if (!target || failed(checkChipAndFeatures(*target, *kt, loc)))
    return failure();

  // A gpu.module without an #nvvm.target gets one, so that the upstream
  // verifier checks its NVVM ops against the chip as well.
  if (kt->gpuModule && !kt->gpuModule.getTargetsAttr()) {
    // The input may use no NVVM op: load the dialect before using its attr.
    ctx->getOrLoadDialect<NVVM::NVVMDialect>();
    auto attr = NVVM::NVVMTargetAttr::get(ctx, options.optLevel, kTriple,
                                          kt->chip, kt->features);
    kt->gpuModule.setTargetsAttr(ArrayAttr::get(ctx, {attr}));
    if (failed(verify(kt->gpuModule)))
      return failure();
  }
  if (failed(checkDialects(kt->root)) ||
      failed(checkOpsSupported(kt->root, kt->chip)))
    return failure();

  // PTX-builder NVVM ops (wgmma.mma_async, mbarrier.try_wait.parity,
  // inline_ptx, predicated ops) have no LLVM IR translation of their own.
  PassManager pm(ctx, kt->root->getName().getStringRef());
  pm.addPass(createConvertNVVMToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(kt->root)))
    return failure();

  // The translation interfaces, for callers that did not register them.
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  registerNVVMDialectTranslation(*ctx);
  registerGPUDialectTranslation(*ctx);

  auto llvmCtx = std::make_unique<llvm::LLVMContext>();
  LLVMDiagnostics diagnostics{loc};
  llvmCtx->setDiagnosticHandlerCallBack(LLVMDiagnostics::handle, &diagnostics);
  std::unique_ptr<llvm::Module> llvmModule;
  std::unique_ptr<llvm::TargetMachine> tm;
  std::string ptx;
  bool crashed = false;
  LogicalResult result = runGuarded(loc, crashed, [&]() -> LogicalResult {
    llvmModule = translateModuleToLLVMIR(
        kt->root, *llvmCtx,
        kt->gpuModule ? kt->gpuModule.getSymName() : StringRef("moe_kernels"));
    if (!llvmModule)
      return emitError(loc) << "failed to translate the kernels to LLVM IR";
    if (failed(
            generatePTX(*llvmModule, *target, *kt, options.optLevel, tm, ptx)))
      return emitError(loc) << "NVPTX code generation failed";
    return success();
  });
  if (crashed) {
    // LLVM's state is unknown after a longjmp out of it: leak it all.
    (void)tm.release();
    (void)llvmModule.release();
    (void)llvmCtx.release();
    return failure();
  }
  if (failed(result))
    return failure();
  if (diagnostics.hadError)
    return emitError(loc) << "NVPTX code generation failed";
  return ptx;
}

//===----------------------------------------------------------------------===//
// ptxas
//===----------------------------------------------------------------------===//

static bool isExecutable(StringRef path) {
  return !path.empty() && llvm::sys::fs::exists(path) &&
         !llvm::sys::fs::is_directory(path) && llvm::sys::fs::can_execute(path);
}

std::string moe::findPtxas() {
  if (std::optional<std::string> env = llvm::sys::Process::GetEnv("MOE_PTXAS"))
    if (isExecutable(*env))
      return *env;
  if (std::optional<std::string> home =
          llvm::sys::Process::GetEnv("CUDA_HOME")) {
    SmallString<128> path(*home);
    llvm::sys::path::append(path, "bin", "ptxas");
    if (isExecutable(path))
      return path.str().str();
  }
  if (isExecutable("/usr/local/cuda/bin/ptxas"))
    return "/usr/local/cuda/bin/ptxas";
  if (llvm::ErrorOr<std::string> path = llvm::sys::findProgramByName("ptxas"))
    return *path;
  return "";
}

/// The chip of a PTX file's `.target sm_XX[, ...]` directive.
static std::string ptxTarget(StringRef ptx) {
  for (StringRef line : llvm::split(ptx, '\n')) {
    line = line.trim();
    if (line.consume_front(".target"))
      return line.trim()
          .take_until([](char c) { return c == ',' || llvm::isSpace(c); })
          .str();
  }
  return "";
}

static std::string readFileOrEmpty(StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  return buffer ? (*buffer)->getBuffer().trim().str() : std::string();
}

FailureOr<std::string>
moe::assembleCubin(StringRef ptx, const PTXOptions &options, Location loc,
                   std::string *report) {
  std::string ptxas = options.ptxas;
  if (ptxas.empty()) {
    ptxas = findPtxas();
    if (ptxas.empty())
      return emitError(loc)
             << "ptxas not found: tried $MOE_PTXAS, $CUDA_HOME/bin/ptxas, "
                "/usr/local/cuda/bin/ptxas and PATH; set --ptxas=<path>";
  } else if (!isExecutable(ptxas)) {
    return emitError(loc) << "ptxas '" << ptxas
                          << "' does not exist or is not executable";
  }
  std::string chip = options.chip.empty() ? ptxTarget(ptx) : options.chip;
  if (chip.empty())
    return emitError(loc) << "no chip given and the PTX has no .target";

  // Temporary files, removed on every return.
  SmallString<128> ptxPath, cubinPath, outPath, errPath;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("moe-kernel", "ptx", fd, ptxPath))
    return emitError(loc) << "cannot create a temporary file: " << ec.message();
  llvm::FileRemover removePtx(ptxPath);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << ptx;
    os.close();
    if (os.has_error())
      return emitError(loc)
             << "cannot write " << ptxPath << ": " << os.error().message();
  }
  for (auto [path, ext] :
       {std::pair{&cubinPath, "cubin"}, std::pair{&outPath, "out"},
        std::pair{&errPath, "err"}})
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("moe-ptxas", ext, *path))
      return emitError(loc)
             << "cannot create a temporary file: " << ec.message();
  llvm::FileRemover removeCubin(cubinPath), removeOut(outPath),
      removeErr(errPath);

  llvm::BumpPtrAllocator alloc;
  llvm::StringSaver saver(alloc);
  SmallVector<const char *> extra;
  llvm::cl::TokenizeGNUCommandLine(options.ptxasOptions, saver, extra);
  std::string arch = "-arch=" + chip;
  SmallVector<StringRef> args = {ptxas, arch};
  if (options.ptxasVerbose || report)
    args.push_back("-v");
  for (const char *arg : extra)
    args.push_back(arg);
  if (!options.entries.empty())
    args.append({"-e", saver.save(llvm::join(options.entries, ","))});
  args.append({ptxPath, "-o", cubinPath});

  std::optional<StringRef> redirects[] = {StringRef(""), StringRef(outPath),
                                          StringRef(errPath)};
  std::string execError;
  bool execFailed = false;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/0, /*MemoryLimit=*/0,
                                     &execError, &execFailed);
  std::string out = readFileOrEmpty(outPath), err = readFileOrEmpty(errPath);
  std::string messages = err;
  if (!out.empty())
    messages += (messages.empty() ? "" : "\n") + out;
  if (execFailed)
    return emitError(loc) << "cannot run ptxas '" << ptxas
                          << "': " << execError;
  if (rc != 0) {
    InFlightDiagnostic diag = emitError(loc)
                              << "ptxas -arch=" << chip << " failed";
    if (rc < 0)
      diag << " (" << execError << ")";
    else
      diag << " with exit code " << rc;
    return diag << (messages.empty() ? "" : ":\n") << messages;
  }
  if (report)
    *report = messages;
  if (options.ptxasVerbose) {
    emitRemark(loc) << "ptxas -v:\n" << messages;
  } else {
    // Without -v asked for, what is more than -v's report is a warning.
    std::string rest;
    for (StringRef line : llvm::split(messages, '\n'))
      if (!line.trim().empty() &&
          !(report && (line.starts_with("ptxas info") ||
                       line.contains("bytes stack frame"))))
        rest += line.str() + "\n";
    if (!rest.empty())
      emitWarning(loc) << "ptxas:\n" << StringRef(rest).rtrim();
  }

  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> cubin =
      llvm::MemoryBuffer::getFile(cubinPath, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!cubin || (*cubin)->getBufferSize() == 0)
    return emitError(loc) << "ptxas wrote no cubin";
  return (*cubin)->getBuffer().str();
}

std::optional<int64_t> moe::spilledBytes(StringRef report, StringRef name) {
  // ptxas info    : Function properties for NAME
  //     S bytes stack frame, T bytes spill stores, U bytes spill loads
  std::string head = ("Function properties for " + name).str();
  for (size_t at = report.find(head); at != StringRef::npos;
       at = report.find(head, at + 1)) {
    StringRef rest = report.drop_front(at + head.size());
    // The name must end there (not a prefix of another kernel's).
    if (rest.empty() || (rest.front() != '\n' && rest.front() != '\r'))
      continue;
    StringRef line = rest.ltrim().split('\n').first;
    int64_t total = 0;
    for (StringRef what : {" bytes spill stores", " bytes spill loads"}) {
      size_t end = line.find(what);
      if (end == StringRef::npos)
        return std::nullopt;
      StringRef digits = line.take_front(end);
      digits = digits.drop_front(digits.find_last_not_of("0123456789") + 1);
      int64_t n;
      if (digits.getAsInteger(10, n))
        return std::nullopt;
      total += n;
    }
    return total;
  }
  return std::nullopt;
}

FailureOr<std::string> moe::emitCubin(ModuleOp module,
                                      const PTXOptions &options) {
  FailureOr<std::string> ptx = emitPTX(module, options);
  if (failed(ptx))
    return failure();
  // ptxas's diagnostics go to the gpu.module compiled, when there is one.
  Location loc = module.getLoc();
  for (auto gpuModule : module.getOps<gpu::GPUModuleOp>())
    if (options.gpuModule.empty() ||
        gpuModule.getSymName() == options.gpuModule)
      loc = gpuModule.getLoc();
  // Without an explicit chip, assembleCubin reads the PTX's .target.
  return assembleCubin(*ptx, options, loc);
}
