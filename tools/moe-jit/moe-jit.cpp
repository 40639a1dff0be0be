//===- moe-jit.cpp - Compile a MoE layer through the cache ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The C++ API of moe/JIT/Compiler.h on the command line: compiles a layer
// (or finds it in the cache) and prints where its artifact is.
//
//   moe-jit layer.mlir [--chip=sm_90a[,sm_100a]] [--kernel-options="max-tokens=8192"]
//           [--cache-dir=DIR | --no-cache] [--key-only] [--repeat=N]
//   moe-jit --layer="E=256,H=7168,I=2048,K=8,precision=fp8" [options]
//   moe-jit --layer=... --print-source
//
// --layer builds the layer programmatically (moe/JIT/Layer.h) instead of
// reading a file; --print-source prints its `moe` text and stops.
//
// prints "artifact: DIR", "kernel: NAME", "key: KEY", "cache: hit|miss|off"
// and a "warning: ..." line per warning; exit status 1 with the error on
// failure.
//
//===----------------------------------------------------------------------===//

#include "moe/JIT/Compiler.h"
#include "moe/JIT/Layer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>

namespace cl = llvm::cl;

static cl::opt<std::string> input(cl::Positional, cl::desc("<layer.mlir>"),
                                  cl::init("-"));
static cl::opt<std::string> chip(
    "chip",
    cl::desc("the SM to compile for, or several (sm_90a,sm_100a): one "
             "artifact with a build per chip"),
    cl::init("sm_90a"));
static cl::opt<std::string>
    kernelOptions("kernel-options",
                  cl::desc("options of convert-moe-to-moek, space separated"),
                  cl::init(""));
static cl::opt<std::string>
    cacheDir("cache-dir",
             cl::desc("the cache directory (default: $MOE_CACHE_DIR, "
                      "$XDG_CACHE_HOME/moe-compiler, ~/.cache/moe-compiler)"),
             cl::init(""));
static cl::opt<bool> noCache("no-cache",
                             cl::desc("compile into a temporary directory"),
                             cl::init(false));
static cl::opt<bool> keyOnly("key-only",
                             cl::desc("print the cache key and stop"),
                             cl::init(false));
static cl::opt<std::string>
    layerSpec("layer",
              cl::desc("build the layer from its numbers instead of a file: "
                       "E=..,H=..,I=..,K=..[,precision=bf16|fp8]"
                       "[,activation=..][,layout=..][,router=..]"
                       "[,gemm1=..][,gemm2=..] (docs/JIT.md)"),
              cl::init(""));
static cl::opt<bool>
    printSource("print-source",
                cl::desc("print the layer's moe dialect text and stop"),
                cl::init(false));
static cl::opt<unsigned>
    repeat("repeat",
           cl::desc("call compile() this many times in this process and "
                    "print each call's wall time (the first may compile, "
                    "the others hit the cache)"),
           cl::init(1));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "MoE compiler: compile a layer through the "
                              "artifact cache\n");
  mlir::moe::jit::CompileRequest request;
  if (!layerSpec.empty()) {
    auto source = [&]() -> llvm::Expected<std::string> {
      auto layer = mlir::moe::jit::parseFusedMoeLayer(layerSpec);
      if (!layer)
        return layer.takeError();
      return mlir::moe::jit::fusedMoeLayerSource(*layer);
    }();
    if (!source) {
      llvm::WithColor::error() << llvm::toString(source.takeError()) << "\n";
      return 1;
    }
    request.source = *source;
    request.sourceName = "layer(" + layerSpec + ")";
  } else {
    auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(input);
    if (!buffer) {
      llvm::WithColor::error() << "cannot read '" << input << "': "
                               << buffer.getError().message() << "\n";
      return 1;
    }
    request.source = (*buffer)->getBuffer().str();
    request.sourceName = input == "-" ? "<stdin>" : input.getValue();
  }
  if (printSource) {
    llvm::outs() << request.source;
    return 0;
  }
  request.chip = chip;
  request.kernelOptions = kernelOptions;
  if (keyOnly) {
    llvm::Expected<std::string> key = mlir::moe::jit::cacheKey(request);
    if (!key) {
      llvm::WithColor::error() << llvm::toString(key.takeError()) << "\n";
      return 1;
    }
    llvm::outs() << "key: " << *key << "\n";
    return 0;
  }
  mlir::moe::jit::CacheOptions cache;
  cache.directory = cacheDir;
  cache.enabled = !noCache;
  llvm::Expected<mlir::moe::jit::Artifact> artifact =
      llvm::createStringError(llvm::inconvertibleErrorCode(), "not run");
  for (unsigned r = 0; r < std::max(1u, unsigned(repeat)); ++r) {
    llvm::consumeError(artifact.takeError());
    auto start = std::chrono::steady_clock::now();
    artifact = mlir::moe::jit::compile(request, cache);
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    if (!artifact) {
      llvm::WithColor::error() << llvm::toString(artifact.takeError()) << "\n";
      return 1;
    }
    if (repeat > 1)
      llvm::outs() << "call " << r + 1 << ": "
                   << llvm::format("%.2f", ms) << " ms, cache "
                   << (artifact->cacheHit ? "hit" : "miss") << "\n";
  }
  for (const std::string &w : artifact->warnings)
    llvm::outs() << "warning: " << w << "\n";
  llvm::outs() << "artifact: " << artifact->directory << "\n"
               << "kernel: " << artifact->kernel << "\n"
               << "key: " << artifact->key << "\n"
               << "cache: "
               << (!artifact->cached      ? "off"
                   : artifact->cacheHit ? "hit"
                                        : "miss")
               << "\n";
  return 0;
}
