//===- moe-translate.cpp - The moe translation driver -----------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/Translations.h"

#include "mlir/Support/LogicalResult.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::moe::registerMoETranslations();
  return mlir::failed(
      mlir::mlirTranslateMain(argc, argv, "MoE compiler translation driver\n")) ? 1 : 0;
}
