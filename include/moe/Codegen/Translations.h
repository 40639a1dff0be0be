//===- Translations.h - moe-translate entry points --------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The translations moe-translate offers. Each is a
// TranslateFromMLIRRegistration: --moe-to-layer-json here, --moe-to-ptx and
// --moe-to-cubin on top of moe/Codegen/PTXEmitter.h.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_CODEGEN_TRANSLATIONS_H
#define MOE_CODEGEN_TRANSLATIONS_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::moe {

/// Writes a JSON description of every moe.fused_moe in `module`: its function,
/// the sizes T/H/I/E/K (-1 when dynamic), the activation, layouts, the
/// router-weight placement, every rounding point and quantization format.
/// Fails with a diagnostic if the module holds no moe.fused_moe.
LogicalResult translateToLayerJson(ModuleOp module, llvm::raw_ostream &os);

struct PTXOptions;

/// Writes the manifest (docs/Manifest.md) of the kernel run by the module's
/// one moek.launch, as produced by --moe-to-nvvm-pipeline. With a non-empty
/// `artifactDir`, also compiles the kernel and writes manifest.json,
/// <kernel>.ptx and <kernel>.cubin there.
LogicalResult translateToManifest(ModuleOp module, llvm::raw_ostream &os,
                                  const PTXOptions &ptxOptions,
                                  llvm::StringRef artifactDir);

/// Adds the artifact in `otherDir` (the same kernel compiled for another
/// chip by translateToManifest) to the one in `dir` as an image
/// (docs/Manifest.md, "images"): its PTX and cubin become
/// <kernel>.<arch>.ptx / .cubin in `dir`. Fails if the two manifests differ
/// in anything but arch, cubin and content_hash, or if `dir` already has
/// that arch.
LogicalResult addArtifactImage(Location loc, llvm::StringRef dir,
                               llvm::StringRef otherDir);

/// Registers every moe translation with the global translation registry.
void registerMoETranslations();

} // namespace mlir::moe

#endif // MOE_CODEGEN_TRANSLATIONS_H
