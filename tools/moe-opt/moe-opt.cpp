//===- moe-opt.cpp - The moe optimizer driver -------------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt for MoE layers: parses .mlir, runs passes and named pipelines.
// An input file that upstream's parser would crash on gets an error first
// (moe/ParserGuard.h); standard input is passed on unchecked.
//
//===----------------------------------------------------------------------===//

#include "moe/InitAllDialects.h"
#include "moe/InitAllPasses.h"
#include "moe/ParserGuard.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::moe::registerAllDialects(registry);
  mlir::moe::registerAllPasses();
  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "MoE compiler optimizer driver\n", registry);
  if (inputFilename != "-") {
    auto file = llvm::MemoryBuffer::getFile(inputFilename, /*IsText=*/true);
    if (file && mlir::moe::reportParserTrap(**file, llvm::errs()))
      return 1;
  }
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));
}
