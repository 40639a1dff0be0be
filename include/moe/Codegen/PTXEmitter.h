//===- PTXEmitter.h - LLVM+NVVM kernels to PTX and cubin --------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// In-process PTX generation for kernels written in the LLVM and NVVM
// dialects, and cubin assembly with CUDA's ptxas. `moe-translate --moe-to-ptx`
// and `--moe-to-cubin` are thin wrappers around these two functions; the C++
// API and a JIT can call them directly.
//
// Input contract of emitPTX: a builtin.module holding either
//  * gpu.module ops whose bodies are LLVM + NVVM dialect (llvm.func with
//    nvvm.kernel, llvm.mlir.global, ...); exactly one is compiled: the only
//    one, or the one named by PTXOptions::gpuModule; or
//  * LLVM + NVVM dialect ops directly (no gpu.module), compiled as a whole.
//
// Every failure is reported as an MLIR diagnostic; no input makes LLVM abort
// (unsupported ops are rejected by the NVVM SM checks first, and LLVM fatal
// errors during code generation are caught and turned into diagnostics). To
// catch them, emitPTX installs LLVM's process-wide fatal-error handler for
// the duration of code generation (serialized by a mutex) and removes it
// afterwards: a host program must not have its own handler installed then.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_CODEGEN_PTXEMITTER_H
#define MOE_CODEGEN_PTXEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir::moe {

/// Options of the PTX and cubin emitters. Defaults match `moe-translate`.
struct PTXOptions {
  /// The SM to compile for, e.g. "sm_90a", "sm_100a". Empty: the chip of the
  /// gpu.module's #nvvm.target, or "sm_90a" when there is none. When both are
  /// set they must agree.
  std::string chip;
  /// LLVM NVPTX target features. Empty: the #nvvm.target's features, or
  /// "+ptx88" when there are none. The PTX ISA should be pinned: LLVM's
  /// default is the chip's minimum (8.0 for sm_90a), too old for some ops.
  std::string features;
  /// 0-3: the LLVM middle-end pipeline (O0..O3) and the code generator level.
  unsigned optLevel = 3;
  /// The gpu.module to compile when the input holds several; empty: the
  /// input must hold at most one.
  std::string gpuModule;

  /// ptxas to run; empty: findPtxas().
  std::string ptxas;
  /// Extra ptxas command-line options, separated by spaces.
  std::string ptxasOptions;
  /// Run ptxas with -v and report its output as a remark.
  bool ptxasVerbose = false;
  /// The kernels ptxas compiles (its -e): the cubin holds only these.
  /// Empty: every kernel of the PTX.
  SmallVector<std::string> entries;
};

/// Lowers the kernels in `module` to PTX text. Checks every NVVM op against
/// the chip, runs convert-nvvm-to-llvm and reconcile-unrealized-casts on the
/// kernels (in place), then translates them to LLVM IR and runs the LLVM
/// middle end and the NVPTX code generator (triple nvptx64-nvidia-cuda).
FailureOr<std::string> emitPTX(ModuleOp module, const PTXOptions &options);

/// Assembles `ptx` into a cubin for `options.chip` (empty: the PTX's
/// `.target`) with ptxas run as a subprocess. ptxas's messages become
/// diagnostics at `loc`: an error on failure, a warning when it succeeds with
/// messages, a remark with its report under PTXOptions::ptxasVerbose. With
/// `report`, ptxas runs with -v and its report (every kernel's registers and
/// spills) is returned there; its informational lines are then no warning.
FailureOr<std::string> assembleCubin(StringRef ptx, const PTXOptions &options,
                                     Location loc,
                                     std::string *report = nullptr);

/// The bytes that kernel `name` spills (stores plus loads) in a ptxas -v
/// report, or std::nullopt if the report does not describe it.
std::optional<int64_t> spilledBytes(StringRef report, StringRef name);

/// emitPTX, then assembleCubin.
FailureOr<std::string> emitCubin(ModuleOp module, const PTXOptions &options);

/// The ptxas that assembleCubin runs when PTXOptions::ptxas is empty: the
/// first that exists of $MOE_PTXAS, $CUDA_HOME/bin/ptxas,
/// /usr/local/cuda/bin/ptxas, and `ptxas` on PATH. Empty if none does.
std::string findPtxas();

} // namespace mlir::moe

#endif // MOE_CODEGEN_PTXEMITTER_H
