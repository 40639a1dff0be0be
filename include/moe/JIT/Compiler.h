//===- Compiler.h - In-process compilation with a cache ---------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The compiler as a library: a MoE layer written in the `moe` dialect goes
// through the whole pipeline in process (graph optimization, kernel
// generation, NVVM, PTX, ptxas) and comes out as an artifact folder
// (manifest.json, <kernel>.ptx, <kernel>.cubin; docs/Manifest.md) that the
// runtime loads. Artifacts are cached under a content hash, so a framework
// that calls the layer once per shape compiles each shape once per machine.
//
// The cache key hashes the canonical IR (the parsed module printed without
// locations: comments, whitespace and SSA names do not matter), the chip,
// the kernel options, the compiler's identity (LLVM's version and the size
// and modification time of the binary that holds this code, so a rebuilt
// compiler never reuses an older one's artifacts) and ptxas's version.
// Shapes that differ only in the token count share one kernel: T is a run
// time value of the kernel.
//
// A miss compiles into a fresh temporary folder inside the cache directory
// and renames it to its key's name, so concurrent processes (one per GPU)
// never see a half-written artifact: the first rename wins, the others
// drop their copy and use the winner's. If the cache directory cannot be
// created or written, the artifact is compiled into a temporary folder
// outside it and a warning says so.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_JIT_COMPILER_H
#define MOE_JIT_COMPILER_H

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::moe::jit {

/// What to compile.
struct CompileRequest {
  /// The layer: a builtin module of `moe` ops whose functions hold one
  /// kernel's worth of work (a moe.fused_moe, the chain that
  /// moe-fuse-experts forms into one, or a moe.expert_matmul).
  std::string source;
  /// The name diagnostics give the source (a file name, say).
  std::string sourceName = "layer";
  /// The SM to compile for ("sm_90a"), or several ("sm_90a,sm_100a"): one
  /// artifact whose manifest lists the first chip's build and the others
  /// as images; the runtime loads the one the device runs.
  std::string chip = "sm_90a";
  /// Options of convert-moe-to-moek, space separated ("max-tokens=8192").
  std::string kernelOptions;
};

/// Where artifacts are cached.
struct CacheOptions {
  /// The cache directory. Empty: $MOE_CACHE_DIR, else
  /// $XDG_CACHE_HOME/moe-compiler, else ~/.cache/moe-compiler.
  std::string directory;
  /// false: compile into a temporary folder every time.
  bool enabled = true;
};

/// A compiled artifact.
struct Artifact {
  /// The folder with manifest.json, <kernel>.ptx and <kernel>.cubin.
  std::string directory;
  /// The kernel's name (the manifest's "kernel").
  std::string kernel;
  /// The cache key (64 hex digits).
  std::string key;
  /// Found in the cache (no compilation happened).
  bool cacheHit = false;
  /// Stored in (or found in) the cache; false when compiled outside it.
  bool cached = false;
  /// Things the caller should know (an unusable cache directory).
  std::vector<std::string> warnings;
};

/// Compiles `request` (or finds it in the cache). Errors name the failing
/// step and carry the compiler's diagnostics.
llvm::Expected<Artifact> compile(const CompileRequest &request,
                                 const CacheOptions &cache = CacheOptions());

/// The cache key of `request`, without compiling (parses the source).
llvm::Expected<std::string> cacheKey(const CompileRequest &request);

/// The cache directory `cache` resolves to.
std::string cacheDirectory(const CacheOptions &cache);

} // namespace mlir::moe::jit

#endif // MOE_JIT_COMPILER_H
