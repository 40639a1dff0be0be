//===- Compiler.cpp - In-process compilation with a cache -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// See moe/JIT/Compiler.h. The pipeline is moe-opt's and moe-translate's:
// moe-graph-optimization-pipeline, convert-moe-to-moek, moek-to-nvvm-pipeline,
// then translateToManifest with an artifact folder.
//
//===----------------------------------------------------------------------===//

#include "moe/JIT/Compiler.h"

#include "moe/Codegen/PTXEmitter.h"
#include "moe/Codegen/Translations.h"
#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.h"
#include "moe/InitAllDialects.h"
#include "moe/InitAllPasses.h"
#include "moe/ParserGuard.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>
#include <mutex>

using namespace mlir;
using namespace mlir::moe;
using llvm::Expected;
using llvm::StringRef;

namespace {

llvm::Error jitError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Registers the passes and pipelines once per process.
void registerOnce() {
  static std::once_flag flag;
  std::call_once(flag, [] { registerAllPasses(); });
}

/// Collects an MLIR context's diagnostics as text.
struct CollectedDiagnostics {
  std::string text;
  ScopedDiagnosticHandler handler;
  explicit CollectedDiagnostics(MLIRContext &ctx)
      : handler(&ctx, [this](Diagnostic &d) {
          llvm::raw_string_ostream os(text);
          os << d.getLocation() << ": " << d << "\n";
          for (Diagnostic &note : d.getNotes())
            os << note.getLocation() << ": note: " << note << "\n";
          return success();
        }) {}
};

/// The identity of the compiler that runs this code: LLVM's version and the
/// size and modification time of the file that holds it (the executable or
/// the shared library), so that a rebuilt compiler gets new keys.
const std::string &compilerIdentity() {
  static const std::string identity = [] {
    std::string id = std::string("moe-compiler llvm-") + LLVM_VERSION_STRING;
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&compilerIdentity), &info) &&
        info.dli_fname) {
      llvm::sys::fs::file_status status;
      if (!llvm::sys::fs::status(info.dli_fname, status))
        id += " " + std::to_string(status.getSize()) + " " +
              std::to_string(llvm::sys::toTimeT(status.getLastModificationTime()));
    }
    return id;
  }();
  return identity;
}

/// `ptxas --version`'s last line ("Cuda compilation tools, release 13.0,
/// V13.0.88"), or "" when there is no ptxas.
const std::string &ptxasVersion() {
  static const std::string version = []() -> std::string {
    std::string ptxas = findPtxas();
    if (ptxas.empty())
      return "";
    llvm::SmallString<128> out;
    if (llvm::sys::fs::createTemporaryFile("moe-ptxas-version", "txt", out))
      return "";
    std::optional<StringRef> redirects[] = {std::nullopt, StringRef(out),
                                            StringRef(out)};
    int rc = llvm::sys::ExecuteAndWait(ptxas, {ptxas, "--version"},
                                       std::nullopt, redirects);
    auto buffer = llvm::MemoryBuffer::getFile(out);
    llvm::sys::fs::remove(out);
    if (rc != 0 || !buffer)
      return "";
    SmallVector<StringRef> lines;
    (*buffer)->getBuffer().trim().split(lines, '\n');
    return lines.empty() ? "" : lines.back().trim().str();
  }();
  return version;
}

/// Parses the request's source into `ctx`.
Expected<OwningOpRef<ModuleOp>> parse(const jit::CompileRequest &request,
                                      MLIRContext &ctx) {
  CollectedDiagnostics diags(ctx);
  OwningOpRef<ModuleOp> module;
  if (succeeded(emitParserTrap(request.source, request.sourceName, &ctx)))
    module = parseSourceString<ModuleOp>(request.source, ParserConfig(&ctx),
                                         request.sourceName);
  if (!module)
    return jitError("moe-jit: the layer does not parse:\n" + diags.text);
  return std::move(module);
}

void configure(MLIRContext &ctx) {
  DialectRegistry registry;
  registerAllDialects(registry);
  ctx.appendDialectRegistry(registry);
  ctx.loadAllAvailableDialects();
  // The compiler runs inside a host program: no threads of its own.
  ctx.disableMultithreading();
  // Diagnostics name the op's location; the op itself (a whole module for
  // the manifest's) would bury the message.
  ctx.printOpOnDiagnostic(false);
}

std::string keyOf(ModuleOp module, const jit::CompileRequest &request) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, OpPrintingFlags().enableDebugInfo(false));
  llvm::SHA256 sha;
  for (StringRef part : {StringRef(text), StringRef(request.chip),
                         StringRef(request.kernelOptions),
                         StringRef(compilerIdentity()),
                         StringRef(ptxasVersion())}) {
    sha.update(part);
    sha.update(StringRef("\0", 1));
  }
  return llvm::toHex(sha.final(), /*LowerCase=*/true);
}

/// The kernel named by `dir`/manifest.json, or "" if it has no complete
/// artifact (the manifest, and the PTX and cubin it names).
std::string completeArtifact(StringRef dir) {
  llvm::SmallString<256> manifest(dir);
  llvm::sys::path::append(manifest, "manifest.json");
  auto buffer = llvm::MemoryBuffer::getFile(manifest);
  if (!buffer)
    return "";
  // "kernel": "<name>" (the manifest is ours: no JSON parser needed here).
  StringRef text = (*buffer)->getBuffer();
  size_t at = text.find("\"kernel\": \"");
  if (at == StringRef::npos)
    return "";
  StringRef rest = text.drop_front(at + strlen("\"kernel\": \""));
  std::string kernel = rest.take_until([](char c) { return c == '"'; }).str();
  for (StringRef ext : {".ptx", ".cubin"}) {
    llvm::SmallString<256> file(dir);
    llvm::sys::path::append(file, kernel + ext.str());
    if (!llvm::sys::fs::exists(file))
      return "";
  }
  return kernel;
}

/// Runs the pipeline for `chip` on `module` and writes the artifact into
/// `dir`.
llvm::Error compileFor(ModuleOp module, MLIRContext &ctx,
                       const jit::CompileRequest &request, StringRef chip,
                       StringRef dir) {
  registerOnce();
  CollectedDiagnostics diags(ctx);
  PassManager pm(&ctx);
  // The passes of the module-anchored manager (no builtin.module(...)
  // wrapper: that would nest them under the module).
  std::string pipeline = "moe-graph-optimization-pipeline, "
                         "convert-moe-to-moek{chip=" + chip.str() + " " +
                         request.kernelOptions +
                         "}, moek-to-nvvm-pipeline{chip=" + chip.str() + "}";
  std::string parseErrors;
  llvm::raw_string_ostream errs(parseErrors);
  if (failed(parsePassPipeline(pipeline, pm, errs)))
    return jitError("moe-jit: bad kernel options '" + request.kernelOptions +
                   "': " + parseErrors);
  if (failed(pm.run(module)))
    return jitError("moe-jit: code generation failed:\n" + diags.text);
  bool launched = false;
  module.walk([&](moe::kernel::LaunchOp) { launched = true; });
  if (!launched)
    return jitError("moe-jit: no kernel was generated (the remarks say "
                    "why):\n" +
                    diags.text);
  PTXOptions options;
  options.chip = chip.str();
  std::string manifest;
  llvm::raw_string_ostream os(manifest);
  if (failed(translateToManifest(module, os, options, dir)))
    return jitError("moe-jit: the artifact could not be written:\n" +
                   diags.text);
  return llvm::Error::success();
}

/// Compiles `module` for every chip of request.chip ("sm_90a" or a list
/// such as "sm_90a,sm_100a") into one artifact in `dir`: the first chip's
/// build at the top level, the others as images (docs/Manifest.md).
llvm::Error compileInto(ModuleOp module, MLIRContext &ctx,
                        const jit::CompileRequest &request, StringRef dir) {
  SmallVector<StringRef> chips;
  StringRef(request.chip).split(chips, ',');
  if (chips.size() == 1)
    return compileFor(module, ctx, request, chips[0], dir);
  for (auto [i, chip] : llvm::enumerate(chips)) {
    OwningOpRef<ModuleOp> copy(module.clone());
    if (i == 0) {
      if (llvm::Error e = compileFor(*copy, ctx, request, chip, dir))
        return e;
      continue;
    }
    llvm::SmallString<256> other(dir);
    llvm::sys::path::append(other, ".image-" + chip.str());
    CollectedDiagnostics diags(ctx);
    if (llvm::Error e = compileFor(*copy, ctx, request, chip, other))
      return e;
    LogicalResult added = addArtifactImage(module.getLoc(), dir, other);
    llvm::sys::fs::remove_directories(other);
    // Blackwell's own shape may take other parameters than the first
    // chip's build (the MXFP8 x MXFP4 layers' block-scaled kernels): then
    // the warpgroup shape (single-issuer=false), which shares them, unless
    // the request chose the shape.
    if (failed(added) && chip == "sm_100a" &&
        !StringRef(request.kernelOptions).contains("single-issuer")) {
      jit::CompileRequest portable = request;
      portable.kernelOptions += " single-issuer=false";
      OwningOpRef<ModuleOp> again(module.clone());
      if (llvm::Error e = compileFor(*again, ctx, portable, chip, other))
        return e;
      added = addArtifactImage(module.getLoc(), dir, other);
      llvm::sys::fs::remove_directories(other);
    }
    if (failed(added))
      return jitError("moe-jit: the " + chip.str() +
                      " build could not be added:\n" + diags.text);
  }
  return llvm::Error::success();
}

} // namespace

std::string mlir::moe::jit::cacheDirectory(const CacheOptions &cache) {
  if (!cache.directory.empty())
    return cache.directory;
  if (std::optional<std::string> dir = llvm::sys::Process::GetEnv("MOE_CACHE_DIR"))
    return *dir;
  llvm::SmallString<256> path;
  if (std::optional<std::string> xdg =
          llvm::sys::Process::GetEnv("XDG_CACHE_HOME")) {
    path = *xdg;
  } else if (llvm::sys::path::home_directory(path)) {
    llvm::sys::path::append(path, ".cache");
  } else {
    llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/false, path);
  }
  llvm::sys::path::append(path, "moe-compiler");
  return path.str().str();
}

Expected<std::string> mlir::moe::jit::cacheKey(const CompileRequest &request) {
  MLIRContext ctx;
  configure(ctx);
  auto module = parse(request, ctx);
  if (!module)
    return module.takeError();
  return keyOf(**module, request);
}

Expected<jit::Artifact> mlir::moe::jit::compile(const CompileRequest &request,
                                               const CacheOptions &cache) {
  MLIRContext ctx;
  configure(ctx);
  auto parsed = parse(request, ctx);
  if (!parsed)
    return parsed.takeError();
  ModuleOp module = **parsed;
  Artifact artifact;
  artifact.key = keyOf(module, request);

  // The cache: a hit, or a place to compile into.
  std::string root = cacheDirectory(cache);
  llvm::SmallString<256> entry(root);
  llvm::sys::path::append(entry, artifact.key);
  bool usable = false;
  if (cache.enabled) {
    if (std::string kernel = completeArtifact(entry); !kernel.empty()) {
      artifact.directory = entry.str().str();
      artifact.kernel = kernel;
      artifact.cacheHit = artifact.cached = true;
      return artifact;
    }
    std::error_code ec = llvm::sys::fs::create_directories(root);
    if (!ec && !llvm::sys::fs::is_directory(root))
      ec = std::make_error_code(std::errc::not_a_directory);
    if (!ec)
      ec = llvm::sys::fs::access(root, llvm::sys::fs::AccessMode::Write);
    if (ec)
      artifact.warnings.push_back("cache directory '" + root +
                                  "' is not usable (" + ec.message() +
                                  "): compiled without caching");
    usable = !ec;
  }

  // A fresh folder: inside the cache (renamed into place afterwards) or a
  // temporary one.
  llvm::SmallString<256> work;
  std::error_code ec;
  if (usable) {
    llvm::SmallString<256> model(root);
    llvm::sys::path::append(model, "tmp-" + artifact.key.substr(0, 16) +
                                       "-%%%%%%%%");
    ec = llvm::sys::fs::createUniqueDirectory(model, work);
    if (ec) {
      artifact.warnings.push_back("cannot write into the cache directory '" +
                                  root + "' (" + ec.message() +
                                  "): compiled without caching");
      usable = false;
    }
  }
  if (!usable) {
    ec = llvm::sys::fs::createUniqueDirectory("moe-jit", work);
    if (ec)
      return jitError("moe-jit: cannot create a temporary directory: " +
                     ec.message());
  }
  if (llvm::Error err = compileInto(module, ctx, request, work)) {
    llvm::sys::fs::remove_directories(work);
    return std::move(err);
  }
  artifact.kernel = completeArtifact(work);
  if (!usable) {
    artifact.directory = work.str().str();
    return artifact;
  }
  // Into place. A concurrent process may have won: then its entry is
  // complete (it was renamed whole) and ours goes.
  ec = llvm::sys::fs::rename(work, entry);
  if (ec) {
    llvm::sys::fs::remove_directories(work);
    std::string kernel = completeArtifact(entry);
    if (kernel.empty())
      return jitError("moe-jit: cannot move the artifact into the cache at '" +
                     entry.str() + "': " + ec.message());
    artifact.kernel = kernel;
  }
  artifact.directory = entry.str().str();
  artifact.cached = true;
  return artifact;
}
