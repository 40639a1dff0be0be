//===- TranslateRegistration.cpp - moe-translate registrations --*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/Translations.h"
#include "moe/InitAllDialects.h"

#include "mlir/Tools/mlir-translate/Translation.h"

using namespace mlir;

void moe::registerMoETranslations() {
  static TranslateFromMLIRRegistration layerJson(
      "moe-to-layer-json",
      "describe every moe.fused_moe (sizes, formats, rounding points) as JSON",
      [](Operation *op, raw_ostream &os) -> LogicalResult {
        auto module = dyn_cast<ModuleOp>(op);
        if (!module)
          return op->emitError("expects a builtin.module");
        return translateToLayerJson(module, os);
      },
      [](DialectRegistry &registry) { registerAllDialects(registry); });
}
