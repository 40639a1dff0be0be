//===- moe-opt.cpp - The moe optimizer driver -------------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt for MoE layers: parses .mlir, runs passes and named pipelines.
//
//===----------------------------------------------------------------------===//

#include "moe/InitAllDialects.h"
#include "moe/InitAllPasses.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::moe::registerAllDialects(registry);
  mlir::moe::registerAllPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "MoE compiler optimizer driver\n", registry));
}
