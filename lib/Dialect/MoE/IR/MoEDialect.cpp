//===- MoEDialect.cpp - The moe dialect -------------------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Dialect registration and the attributes of the moe dialect.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE/IR/MoEDialect.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::moe;

#include "moe/Dialect/MoE/IR/MoEOpsDialect.cpp.inc"
#include "moe/Dialect/MoE/IR/MoEEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "moe/Dialect/MoE/IR/MoEAttrs.cpp.inc"

void MoEDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "moe/Dialect/MoE/IR/MoEAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "moe/Dialect/MoE/IR/MoEOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// QuantAttr
//===----------------------------------------------------------------------===//

LogicalResult QuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                QuantScheme scheme, int64_t blockRows,
                                int64_t blockCols) {
  auto expect = [&](ArrayRef<std::pair<int64_t, int64_t>> allowed,
                    StringRef text) -> LogicalResult {
    for (auto [rows, cols] : allowed)
      if (blockRows == rows && blockCols == cols)
        return success();
    return emitError() << "#moe.quant<" << stringifyQuantScheme(scheme)
                       << "> expects block " << text << ", got [" << blockRows
                       << ", " << blockCols << "]";
  };
  switch (scheme) {
  case QuantScheme::fp8_block:
    return expect({{1, 128}, {128, 128}}, "[1, 128] or [128, 128]");
  case QuantScheme::mxfp8:
  case QuantScheme::mxfp4:
    return expect({{1, 32}}, "[1, 32]");
  case QuantScheme::nvfp4:
    return expect({{1, 16}}, "[1, 16]");
  }
  return emitError() << "unknown quantization scheme";
}

Type QuantAttr::getValueType() const {
  MLIRContext *ctx = getContext();
  switch (getScheme()) {
  case QuantScheme::fp8_block:
  case QuantScheme::mxfp8:
    return Float8E4M3FNType::get(ctx);
  case QuantScheme::mxfp4:
  case QuantScheme::nvfp4:
    return Float4E2M1FNType::get(ctx);
  }
  llvm_unreachable("unknown quantization scheme");
}

Type QuantAttr::getScaleType() const {
  MLIRContext *ctx = getContext();
  switch (getScheme()) {
  case QuantScheme::fp8_block:
    return Float32Type::get(ctx);
  case QuantScheme::mxfp8:
  case QuantScheme::mxfp4:
    return Float8E8M0FNUType::get(ctx);
  case QuantScheme::nvfp4:
    return Float8E4M3FNType::get(ctx);
  }
  llvm_unreachable("unknown quantization scheme");
}

//===----------------------------------------------------------------------===//
// PlacementAttr
//===----------------------------------------------------------------------===//

LogicalResult
PlacementAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      int64_t ranks, int64_t expertsPerRank) {
  if (ranks < 1)
    return emitError() << "#moe.placement expects ranks >= 1, got " << ranks;
  if (expertsPerRank < 1)
    return emitError() << "#moe.placement expects experts_per_rank >= 1, got "
                       << expertsPerRank;
  return success();
}
