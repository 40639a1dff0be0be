//===- MoEToKernel.cpp - Generate moek kernels for moe ops ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// convert-moe-to-moek: builds a warp-specialized, persistent grouped-matmul
// kernel in the moek dialect for each supported moe.expert_matmul and
// replaces the op by a moek.launch of it.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/Passes.h"
#include "moe/Dialect/MoE/IR/MoEOps.h"
#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include <algorithm>
#include <functional>
#include <tuple>

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOMOEKERNELPASS
#include "moe/Codegen/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;
namespace mk = mlir::moe::kernel;

namespace {

/// K elements per ring stage (one 128-byte swizzle span per tile row): 64
/// of bf16, 128 of e4m3.
constexpr int64_t kTileK = 64, kTileKFp8 = 128, kSliceBytes = 128;
/// Rows per TMA box: 64 of the token rows, 128 of the weights.
constexpr int64_t kXBoxRows = 64, kWBoxRows = 128;
constexpr int64_t kThreads = 384; // producer warpgroup + 2 MMA warpgroups
constexpr StringLiteral kKernelModule = "moe_kernels";

/// True if `q` quantizes with `scheme` in [rows, cols] blocks.
bool isBlockQuant(QuantAttr q, QuantScheme scheme, int64_t rows,
                  int64_t cols) {
  return q && q.getScheme() == scheme && q.getBlockRows() == rows &&
         q.getBlockCols() == cols;
}

/// True if `op` multiplies FP8 rows and weights with DeepSeek-V3's block
/// scales (1x128 rows, 128x128 weights).
bool isFp8Block(ExpertMatmulOp op) {
  return isBlockQuant(op.getXQuantAttr(), QuantScheme::fp8_block, 1, 128) &&
         isBlockQuant(op.getWQuantAttr(), QuantScheme::fp8_block, 128, 128);
}

/// True if `op` multiplies bf16 rows by NVFP4 weights (e2m1 values with an
/// e4m3 scale per 1x16 block, under an optional f32 scale per expert).
bool isNvfp4Weights(ExpertMatmulOp op) {
  return !op.getXQuantAttr() &&
         isBlockQuant(op.getWQuantAttr(), QuantScheme::nvfp4, 1, 16) &&
         op.getX().getType().getElementType().isBF16() &&
         isa<Float4E2M1FNType>(op.getWeight().getType().getElementType());
}

/// True if `op` multiplies bf16 rows by MXFP4 weights (e2m1 values with a
/// UE8M0 scale per 1x32 block) or NVFP4 ones (isNvfp4Weights), which the
/// kernel expands to bf16 in shared memory (moek.dequant_fp4; NVFP4's
/// global scale multiplies the accumulator before the store).
bool isMxfp4Weights(ExpertMatmulOp op) {
  return isNvfp4Weights(op) ||
         (!op.getXQuantAttr() &&
          isBlockQuant(op.getWQuantAttr(), QuantScheme::mxfp4, 1, 32) &&
          op.getX().getType().getElementType().isBF16() &&
          isa<Float4E2M1FNType>(op.getWeight().getType().getElementType()));
}

/// True if `op` multiplies MXFP8 rows by MXFP8 weights (e4m3 values with a
/// UE8M0 scale per 1x32 block on both sides), which the kernel expands to
/// bf16 in shared memory (moek.dequant_mxfp8, both operands) for bf16 MMAs.
bool isMxfp8(ExpertMatmulOp op) {
  return isBlockQuant(op.getXQuantAttr(), QuantScheme::mxfp8, 1, 32) &&
         isBlockQuant(op.getWQuantAttr(), QuantScheme::mxfp8, 1, 32) &&
         isa<Float8E4M3FNType>(op.getX().getType().getElementType()) &&
         isa<Float8E4M3FNType>(op.getWeight().getType().getElementType());
}

/// True if `op` multiplies MXFP8 rows by MXFP4 weights (e4m3 and e2m1
/// values, a UE8M0 scale per 1x32 block on both sides: DeepGEMM's formats
/// on Blackwell), which only sm_100a's block-scaled MMA takes
/// (buildBlockScaledKernel).
bool isMxfp8Mxfp4(ExpertMatmulOp op) {
  return isBlockQuant(op.getXQuantAttr(), QuantScheme::mxfp8, 1, 32) &&
         isBlockQuant(op.getWQuantAttr(), QuantScheme::mxfp4, 1, 32) &&
         isa<Float8E4M3FNType>(op.getX().getType().getElementType()) &&
         isa<Float4E2M1FNType>(op.getWeight().getType().getElementType());
}

/// NVFP4: the f32 scale of expert `expert` in `globalScales` ([E] f32).
Value expertScale(OpBuilder &b, Location loc, Value globalScales,
                  Value expert) {
  return LLVM::LoadOp::create(
      b, loc, b.getF32Type(),
      LLVM::GEPOp::create(b, loc, globalScales.getType(), b.getF32Type(),
                          globalScales,
                          ValueRange{arith::IndexCastOp::create(
                              b, loc, b.getI64Type(), expert)}),
      4);
}

/// NVFP4: multiplies each accumulator of `accs` by the f32 scale of expert
/// `expert` in `globalScales` ([E] f32), once per tile; nothing without.
void scaleByExpert(OpBuilder &b, Location loc, SmallVectorImpl<Value> &accs,
                   Value globalScales, Value expert) {
  if (!globalScales)
    return;
  Value g = expertScale(b, loc, globalScales, expert);
  for (Value &acc : accs)
    acc = mk::AccScaleOp::create(b, loc, acc, g);
}

/// The element type of a per-expert bias tensor.
Type biasElementType(Value biasTensor) {
  return cast<RankedTensorType>(biasTensor.getType()).getElementType();
}

/// Per-expert biases (gpt-oss): adds row `expert` of `bias` ([E, ld], f32
/// or bf16) to each accumulator of `accs` from column `col` of the row
/// (with `upper`, the second half of the columns from there); nothing
/// without a bias. `inRow`: the caller knows that every column of every
/// tile lies in the row (moek.acc_add_cols {in_row}). `scale`: each value
/// first times it (NVFP4's global scale, in the same op).
void addBias(OpBuilder &b, Location loc, SmallVectorImpl<Value> &accs,
             Value bias, Value biasTensor, Value expert, Value col,
             Value upper = Value(), bool inRow = false,
             Value scale = Value()) {
  if (!bias)
    return;
  auto type = cast<RankedTensorType>(biasTensor.getType());
  for (Value &acc : accs)
    acc = mk::AccAddColsOp::create(b, loc, acc.getType(), acc, bias, expert,
                                   col, upper, scale,
                                   b.getI64IntegerAttr(type.getDimSize(1)),
                                   TypeAttr::get(biasElementType(biasTensor)),
                                   inRow ? b.getUnitAttr() : UnitAttr());
}

/// After a tile's MMAs: NVFP4's per-expert global scale (`globalScales`,
/// [E] f32, or none) and the per-expert bias (`bias`, or none; as
/// addBias). With a bias, the scale goes into its op (each value times it,
/// then the bias: a separate moek.acc_scale before moek.acc_add_cols made
/// ptxas spill 150-290 bytes in the NVFP4 fused kernel with a partial last
/// tile); without, moek.acc_scale.
void scaleAndAddBias(OpBuilder &b, Location loc, SmallVectorImpl<Value> &accs,
                     Value globalScales, Value bias, Value biasTensor,
                     Value expert, Value col, Value upper = Value(),
                     bool inRow = false) {
  if (!bias)
    return scaleByExpert(b, loc, accs, globalScales, expert);
  addBias(b, loc, accs, bias, biasTensor, expert, col, upper, inRow,
          globalScales ? expertScale(b, loc, globalScales, expert) : Value());
}

/// Both MMA warpgroups (threads 128-383) expand stage `iter`'s packed FP4
/// weights (tile 2) into its bf16 weight tile (tile 1), K slice `slice` of
/// 64 values; the scales ([scaleRows, k / 32] UE8M0, NVFP4 [scaleRows,
/// k / 16] e4m3) of the tile's rows from `row` (its upper half from `upper`
/// if given); named barrier 7 over their 256 threads after.
void expandFp4Weights(OpBuilder &b, Location loc, Value ring, Value iter,
                      Value slice, Value scales, Value row, Value upper,
                      int64_t scaleRows, int64_t k, bool nvfp4) {
  int64_t block = nvfp4 ? 16 : 32;
  mk::DequantFp4Op::create(
      b, loc, ring, iter, b.getI64IntegerAttr(2), b.getI64IntegerAttr(1),
      scales, row,
      arith::MulIOp::create(
          b, loc, slice, arith::ConstantIndexOp::create(b, loc, kTileK / block)),
      upper, b.getI64IntegerAttr(scaleRows), b.getI64IntegerAttr(k / block),
      b.getI64IntegerAttr(256), b.getI64IntegerAttr(128),
      b.getI64IntegerAttr(7), nvfp4 ? b.getUnitAttr() : UnitAttr());
}

/// The fused kernel's weight expansion of stage `iter`: expandFp4Weights,
/// or with `mxfp8` the e4m3 tile (2) into the bf16 one (1) with UE8M0
/// scales per 1x32 block (moek.dequant_mxfp8, `upper` as dequant_fp4's).
void expandWeights(OpBuilder &b, Location loc, Value ring, Value iter,
                   Value slice, Value scales, Value row, Value upper,
                   int64_t scaleRows, int64_t k, bool nvfp4, bool mxfp8) {
  if (!mxfp8)
    return expandFp4Weights(b, loc, ring, iter, slice, scales, row, upper,
                            scaleRows, k, nvfp4);
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  mk::DequantMxfp8Op::create(
      b, loc, ring, iter, b.getI64IntegerAttr(2), b.getI64IntegerAttr(1),
      scales, row, arith::MulIOp::create(b, loc, slice, c(kTileK / 32)),
      c(scaleRows), upper, b.getI64IntegerAttr(k / 32),
      b.getI64IntegerAttr(256), b.getI64IntegerAttr(128),
      b.getI64IntegerAttr(7));
}

/// Why `op`, whose block-scaled operands (`what`: MXFP4 or NVFP4 weights,
/// MXFP8 operands) the kernel expands to bf16 in shared memory, cannot use
/// the generated kernel, or "" if it can.
std::string expandedOperandsReason(ExpertMatmulOp op, StringRef what) {
  RankedTensorType w = op.getWeight().getType();
  if (!w.hasStaticShape())
    return "the weight shape must be static";
  if (w.getDimSize(1) % 8 != 0 || w.getDimSize(2) % kTileK != 0)
    return "with " + what.str() + ", N (" + std::to_string(w.getDimSize(1)) +
           ") must be a multiple of 8 and K (" +
           std::to_string(w.getDimSize(2)) + ") of the K slice (64)";
  if (!op.getOut().getType().getElementType().isBF16())
    return "with " + what.str() + ", the generated kernel writes bf16";
  return "";
}

/// Why `op` cannot use the generated kernel, or "" if it can.
std::string unsupportedReason(ExpertMatmulOp op) {
  RankedTensorType w = op.getWeight().getType();
  if (isMxfp8Mxfp4(op)) {
    if (op.getXGlobalScale() || op.getWGlobalScale())
      return "MXFP8 rows and MXFP4 weights take no global scale";
    if (!w.hasStaticShape())
      return "the weight shape must be static";
    if (w.getDimSize(1) % 128 != 0 || w.getDimSize(2) % 128 != 0)
      return "with MXFP8 rows by MXFP4 weights, N (" +
             std::to_string(w.getDimSize(1)) + ") and K (" +
             std::to_string(w.getDimSize(2)) +
             ") must be multiples of 128 (the block-scaled tile; TMA's "
             "padded 4-bit rows)";
    if (!op.getOut().getType().getElementType().isBF16())
      return "with MXFP8 rows by MXFP4 weights, the generated kernel writes "
             "bf16";
    return "";
  }
  if (isMxfp8(op)) {
    if (op.getXGlobalScale() || op.getWGlobalScale())
      return "MXFP8 operands take no global scale";
    return expandedOperandsReason(op, "MXFP8 operands");
  }
  if (isMxfp4Weights(op)) {
    if (op.getWGlobalScale() && !isNvfp4Weights(op))
      return "MXFP4 weights take no global scale";
    return expandedOperandsReason(op, "MXFP4 weights");
  }
  if (op.getXQuantAttr() || op.getWQuantAttr()) {
    if (!isFp8Block(op) || op.getXGlobalScale() || op.getWGlobalScale())
      return "the generated kernel takes bf16 operands, fp8_block rows "
             "(block [1, 128]) by fp8_block weights (block [128, 128]), "
             "mxfp8 rows by mxfp8 weights (block [1, 32]), bf16 rows by "
             "mxfp4 (block [1, 32]) or nvfp4 (block [1, 16]) weights, or "
             "(sm_100a) mxfp8 rows by mxfp4 weights";
    if (!w.hasStaticShape())
      return "the weight shape must be static";
    if (w.getDimSize(1) % 128 != 0 || w.getDimSize(2) % 128 != 0)
      return "with fp8_block operands, N (" + std::to_string(w.getDimSize(1)) +
             ") and K (" + std::to_string(w.getDimSize(2)) +
             ") must be multiples of the 128-wide scale blocks";
    if (!op.getOut().getType().getElementType().isBF16())
      return "with fp8_block operands, the generated kernel writes bf16";
    return "";
  }
  if (!op.getX().getType().getElementType().isBF16() ||
      !op.getWeight().getType().getElementType().isBF16())
    return "the generated kernel takes bf16 rows and weights";
  if (!w.hasStaticShape())
    return "the weight shape must be static";
  if (w.getDimSize(1) % 8 != 0)
    return "N (" + std::to_string(w.getDimSize(1)) +
           ") must be a multiple of 8 (the epilogue stores column pairs of "
           "8-column groups)";
  if (w.getDimSize(2) % kTileK != 0)
    return "K (" + std::to_string(w.getDimSize(2)) +
           ") must be a multiple of the K slice (64)";
  return "";
}

gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module) {
  if (auto m = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModule))
    return m;
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  return gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModule);
}

/// A persistent kernel of kThreads threads named `name` taking `params`,
/// whose first `numTma` parameters are TMA descriptors (128-byte
/// __grid_constant__ values), with its parameter ABI `abi` and its
/// workspace (moek.workspace) `workspace` recorded for the artifact writer.
LLVM::LLVMFuncOp createKernelFunc(OpBuilder &b, Location loc, StringRef name,
                                  ArrayRef<Type> params, unsigned numTma,
                                  ArrayAttr abi,
                                  ArrayRef<NamedAttribute> workspace) {
  MLIRContext *ctx = b.getContext();
  auto fnType =
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), params);
  auto func = LLVM::LLVMFuncOp::create(b, loc, name, fnType);
  func->setAttr("nvvm.kernel", b.getUnitAttr());
  func->setAttr("nvvm.maxntid", b.getDenseI32ArrayAttr({kThreads, 1, 1}));
  func->setAttr("nvvm.minctasm", b.getI32IntegerAttr(1));
  func->setAttr("moek.abi", abi);
  func->setAttr("moek.launch",
                b.getDictionaryAttr(
                    {b.getNamedAttr("grid", b.getStringAttr("persistent")),
                     b.getNamedAttr("block", b.getI64IntegerAttr(kThreads))}));
  func->setAttr("moek.workspace", b.getDictionaryAttr(workspace));
  for (unsigned a = 0; a < numTma; ++a) {
    func.setArgAttr(a, "llvm.byval", TypeAttr::get(LLVM::LLVMArrayType::get(
                                         b.getI8Type(), 128)));
    func.setArgAttr(a, "llvm.align", b.getI64IntegerAttr(64));
    func.setArgAttr(a, "nvvm.grid_constant", b.getUnitAttr());
  }
  return func;
}

/// The parameter ABI of the generated kernel, for the artifact writer: the
/// two TMA descriptors (`sliceK` elements wide boxes), with `outTma` a third
/// over the output (64 x 64 boxes, for moek.store_acc_tma), the offsets,
/// with `scaled` the row and weight block scales, the output and the
/// workspace.
ArrayAttr buildAbi(OpBuilder &b, int64_t e, int64_t n, int64_t k,
                   int64_t sliceK, bool scaled, bool fp4 = false,
                   bool globalScale = false, bool mxfp8 = false,
                   bool blockScaledFp4 = false, bool outTma = false,
                   int64_t biasOperand = -1) {
  auto entry = [&](ArrayRef<NamedAttribute> attrs) {
    return b.getDictionaryAttr(attrs);
  };
  auto i64s = [&](ArrayRef<int64_t> v) { return b.getI64ArrayAttr(v); };
  ArrayAttr abi = b.getArrayAttr({
      entry({b.getNamedAttr("kind", b.getStringAttr("tma")),
             b.getNamedAttr("operand", b.getI64IntegerAttr(0)),
             b.getNamedAttr("view", b.getStringAttr("[M, K]")),
             b.getNamedAttr("inner", b.getI64IntegerAttr(k)),
             b.getNamedAttr("box", i64s({sliceK, kXBoxRows})),
             // MXFP8 rows expanded in shared memory: 64 bytes a slice,
             // copied unswizzled (for block-scaled MMAs, 128 bytes in the
             // MMA's swizzle).
             b.getNamedAttr("swizzle", b.getI64IntegerAttr(
                                           mxfp8 && !blockScaledFp4 ? 0 : 128))}),
      entry({b.getNamedAttr("kind", b.getStringAttr("tma")),
             b.getNamedAttr("operand", b.getI64IntegerAttr(1)),
             b.getNamedAttr("view", b.getStringAttr("[E*N, K]")),
             b.getNamedAttr("rows", b.getI64IntegerAttr(e * n)),
             b.getNamedAttr("inner", b.getI64IntegerAttr(k)),
             b.getNamedAttr("box", i64s({sliceK, kWBoxRows})),
             // Packed e2m1 rows are 32 bytes a slice, MXFP8 ones 64:
             // copied unswizzled. For block-scaled MMAs, e2m1 rows in
             // tcgen05's padded form (128 bytes a 128-value slice), 128B
             // swizzle.
             b.getNamedAttr("swizzle",
                            b.getI64IntegerAttr(
                                (fp4 || mxfp8) && !blockScaledFp4 ? 0 : 128))}),
  });
  SmallVector<Attribute> entries(abi.begin(), abi.end());
  if (outTma)
    entries.push_back(
        entry({b.getNamedAttr("kind", b.getStringAttr("tma")),
               b.getNamedAttr("result", b.getI64IntegerAttr(0)),
               b.getNamedAttr("view", b.getStringAttr("[M, N]")),
               b.getNamedAttr("inner", b.getI64IntegerAttr(n)),
               b.getNamedAttr("box", i64s({64, 64})),
               b.getNamedAttr("swizzle", b.getI64IntegerAttr(128))}));
  entries.push_back(entry({b.getNamedAttr("kind", b.getStringAttr("ptr")),
                           b.getNamedAttr("operand", b.getI64IntegerAttr(2))}));
  if (blockScaledFp4) {
    NamedAttrList w(cast<DictionaryAttr>(entries[1]));
    w.set("fp4_padded", b.getUnitAttr());
    entries[1] = w.getDictionary(b.getContext());
  }
  auto ptrTo = [&](StringRef what, int64_t i) {
    entries.push_back(entry({b.getNamedAttr("kind", b.getStringAttr("ptr")),
                             b.getNamedAttr(what, b.getI64IntegerAttr(i))}));
  };
  if (scaled) {
    ptrTo("operand", 3); // x_scales [M, K/128]
    ptrTo("operand", 4); // w_scales [E, N/128, K/128]
  }
  if (mxfp8) {
    ptrTo("operand", 3); // x_scales [M, K/32] UE8M0
    ptrTo("operand", 4); // w_scales [E, N, K/32] UE8M0
  }
  if (fp4)
    ptrTo("operand", 3); // w_scales [E, N, K/32] UE8M0 or [E, N, K/16] e4m3
  if (globalScale)
    ptrTo("operand", 4); // NVFP4: w_global_scale [E], f32
  if (biasOperand >= 0)
    ptrTo("operand", biasOperand); // bias [E, N], f32 or bf16
  ptrTo("result", 0);
  // The dynamic tile scheduler's counter (zeroed by the runtime).
  entries.push_back(entry({b.getNamedAttr("kind", b.getStringAttr("workspace"))}));
  return b.getArrayAttr(entries);
}

/// Creates a moek.warp_role over warpgroups [first, first + count) with the
/// register budget `maxRegs` and moves `b` into its body.
void beginRole(OpBuilder &b, Location loc, StringRef name, int64_t first,
               int64_t count, int64_t maxRegs) {
  auto role = mk::WarpRoleOp::create(
      b, loc, b.getStringAttr(name), b.getI64IntegerAttr(first),
      b.getI64IntegerAttr(count), b.getI64IntegerAttr(maxRegs));
  b.setInsertionPointToStart(&role.getBody().emplaceBlock());
}

/// Inside a producer role: moves `b` into the threads that issue its
/// copies. One elected thread (returns null), or with `warp` the 32 lanes
/// of the warpgroup's warp 0 (returns the lane, a predicate, that tags the
/// stages and issues the TMA copies while every lane copies with cp.async:
/// buildTileLoads' `leader`).
Value beginProducerThreads(OpBuilder &b, Location loc, bool warp) {
  Value inside =
      warp ? mk::InWarpOp::create(b, loc, b.getI1Type()).getResult()
           : mk::ElectOneOp::create(b, loc, b.getI1Type()).getResult();
  auto ifOp = scf::IfOp::create(b, loc, inside, false);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  return warp ? mk::ElectOneOp::create(b, loc, b.getI1Type()).getResult()
              : Value();
}

/// A producer warp's lanes' shares of tile `d`'s row tokens (`tileRows`
/// rows), loaded once a GEMM1 tile for gatherStageRows; null without
/// `rowTokens`.
Value loadTileTokens(OpBuilder &b, Location loc, Value rowTokens,
                     mk::GroupedTileOp d, int64_t tileRows) {
  if (!rowTokens)
    return Value();
  return mk::LoadRowTokensOp::create(
      b, loc, VectorType::get({tileRows / 16}, b.getI32Type()), rowTokens,
      d.getRow(), d.getRowEnd());
}

/// A producer warp's work on a GEMM1 stage of gathered rows (iteration
/// `stage`, K slice `ks` of `sliceK` values): its share of its tile's
/// token rows of `x` (`tokens` from loadTileTokens; `hidden` values a row;
/// moek.gather_rows into tile 0, with L2 hint `hint` unless empty), then
/// its copy arrival.
void gatherStageRows(OpBuilder &b, Location loc, Value ring, Value stage,
                     Value ks, Value x, Value tokens, int64_t sliceK,
                     int64_t hidden, StringRef hint) {
  mk::GatherRowsOp::create(
      b, loc, ring, stage, b.getI64IntegerAttr(0), x, tokens,
      arith::MulIOp::create(b, loc, ks,
                            arith::ConstantIndexOp::create(b, loc, sliceK)),
      b.getI64IntegerAttr(hidden),
      hint.empty() ? StringAttr() : b.getStringAttr(hint));
  mk::RingArriveCopiesOp::create(b, loc, ring, stage);
}

/// Marks `loop` not to be unrolled by LLVM. MMA K loops: with two
/// accumulators and a short K loop (e.g. 12 slices), an unrolled copy made
/// ptxas serialize the wgmmas (C7520). Producer and pass loops: a fully
/// unrolled 8-slice loop made ptxas spill in the producer's 40 registers.
void disableUnroll(scf::ForOp loop) {
  MLIRContext *ctx = loop.getContext();
  loop->setAttr(
      "loop_annotation",
      LLVM::LoopAnnotationAttr::get(
          ctx, /*disableNonforced=*/nullptr, /*vectorize=*/nullptr,
          /*interleave=*/nullptr,
          LLVM::LoopUnrollAttr::get(
              ctx, /*disable=*/BoolAttr::get(ctx, true), /*count=*/nullptr,
              /*runtimeDisable=*/nullptr, /*full=*/nullptr,
              /*followupUnrolled=*/nullptr, /*followupRemainder=*/nullptr,
              /*followupAll=*/nullptr),
          /*unrollAndJam=*/nullptr, /*licm=*/nullptr, /*distribute=*/nullptr,
          /*pipeline=*/nullptr, /*peeled=*/nullptr, /*unswitch=*/nullptr,
          /*mustProgress=*/nullptr, /*isVectorized=*/nullptr,
          /*startLoc=*/nullptr, /*endLoc=*/nullptr, /*parallelAccesses=*/{}));
}

/// Work on a stage, given the ring iteration and the K slice: what an MMA
/// warpgroup does with a full stage before its MMAs (moek.dequant_fp4 of
/// FP4 weights), or what a producer warp adds to a stage it fills (the
/// block scales); null for nothing.
using StageHook = function_ref<void(OpBuilder &, Location, Value, Value)>;

/// A box of rows past a tile's own (buildTileLoads' `tail`).
struct TailBox {
  Value tmap, has;
  int64_t tile = 0, rows = 0;
  explicit operator bool() const { return bool(tmap); }
};

/// The producer's copies of one tile, K slice by K slice, into the ring
/// from iteration `i0`: the 64-row boxes of A (descriptor `tmapA`; none
/// without it, `stageHook` then fills A) from row
/// `aRow` that hold rows below `rowEnd` (at most tileM / 64 of them), and
/// one 128-row box of B (`tmapB`) at each row of `bRows`, all at the
/// slice's column, one after the other in tile 1 (`boxPerTile`: box b in
/// tile 1 + b); with `tag`, each stage is tagged with it (the tile index,
/// for consumers of a dynamic scheduler). `sliceK`: elements per slice.
/// B's boxes go to tile `bTile`, `bRowBytes` a row; `bPacked`: B is packed
/// FP4, whose descriptor's innermost coordinate counts bytes; B's boxes
/// are `bBoxRows` rows (128 by default). A producer
/// warp (`leader`: its one thread that sets the tag, expects the bytes and
/// issues the copies) runs `stageHook` on every lane after each stage's
/// copies. With `shareRank` (the CTA's rank in a cluster of two sharing the
/// ring), A's boxes are shared: CTA r copies boxes r, r + 2, ... into both
/// CTAs' stages (multicast), and each stage still expects all of them.
/// `tail` (set): a box of `tail.rows` rows of A from row aRow + tileM
/// (descriptor `tail.tmap`) into tile `tail.tile` of each stage, when
/// `tail.has` (the tile's rows run past tileM: an absorbed last block).
/// Returns the iteration after the last.
Value buildTileLoads(OpBuilder &ob, Location l, Value ring, Value tmapA,
                     Value aRow, Value rowEnd, int64_t tileM, Value tmapB,
                     ArrayRef<Value> bRows, Value cKSlices, Value i0,
                     bool streamWeights, Value tag = Value(),
                     int64_t sliceK = kTileK, bool boxPerTile = false,
                     int64_t bTile = 1, int64_t bRowBytes = kSliceBytes,
                     bool bPacked = false, int64_t aTile = 0,
                     int64_t aRowBytes = kSliceBytes, Value leader = Value(),
                     StageHook stageHook = nullptr,
                     int64_t bBoxRows = kWBoxRows, Value shareRank = Value(),
                     TailBox tail = {}) {
  auto idx = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, l, v);
  };
  // The rows come in boxes of kXBoxRows (the rows of one accumulator), and
  // only the boxes that hold rows of the expert are loaded (the MMAs of the
  // others are skipped): an expert with 4 rows costs one 8 KB box per
  // stage, not a whole tile.
  // Without `tmapA` the stage hook fills A (moek.gather_rows): only B's
  // bytes are expected.
  Value bytes = idx(ob, int64_t(bRows.size()) * bBoxRows * bRowBytes);
  Value boxes;
  if (tmapA) {
    Value rowsLeft = arith::SubIOp::create(ob, l, rowEnd, aRow);
    boxes = arith::MinUIOp::create(
        ob, l, arith::CeilDivUIOp::create(ob, l, rowsLeft, idx(ob, kXBoxRows)),
        idx(ob, tileM / kXBoxRows));
    bytes = arith::AddIOp::create(
        ob, l,
        arith::MulIOp::create(ob, l, boxes, idx(ob, kXBoxRows * aRowBytes)),
        bytes);
  }
  if (tail)
    bytes = arith::AddIOp::create(
        ob, l, bytes,
        arith::SelectOp::create(ob, l, tail.has, idx(ob, tail.rows * aRowBytes),
                                idx(ob, 0)));
  auto inner = scf::ForOp::create(
      ob, l, idx(ob, 0), cKSlices, idx(ob, 1), ValueRange{i0},
      [&](OpBuilder &wb, Location il, Value ks, ValueRange iit) {
        Value i = iit[0];
        mk::RingAcquireOp::create(wb, il, ring, i);
        // A producer warp: the copies from its leader only.
        OpBuilder ib = wb;
        if (leader) {
          auto only = scf::IfOp::create(wb, il, leader, false);
          ib = OpBuilder::atBlockTerminator(only.thenBlock());
        }
        Value kx = arith::MulIOp::create(ib, il, ks, idx(ib, sliceK));
        if (tag)
          mk::RingSetTagOp::create(ib, il, ring, i, tag);
        mk::RingExpectOp::create(ib, il, ring, i, bytes);
        for (int64_t box = 0; tmapA && box < tileM / kXBoxRows; ++box) {
          auto load = [&](OpBuilder &lb) {
            Value row = arith::AddIOp::create(lb, il, aRow,
                                              idx(lb, box * kXBoxRows));
            auto copy = mk::TmaLoadOp::create(
                lb, il, tmapA, ValueRange{kx, row}, ring, i,
                lb.getI64IntegerAttr(aTile),
                lb.getI64IntegerAttr(box * kXBoxRows),
                streamWeights ? lb.getStringAttr("evict_last") : StringAttr());
            if (shareRank)
              copy.setMulticast(true);
          };
          // Shared boxes: this CTA's share only.
          Value mine =
              shareRank ? arith::CmpIOp::create(ib, il,
                                                arith::CmpIPredicate::eq,
                                                shareRank, idx(ib, box % 2))
                        : Value();
          if (box == 0) { // every tile has rows in its first box
            if (!mine) {
              load(ib);
              continue;
            }
            auto ifOp = scf::IfOp::create(ib, il, mine, false);
            OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
            load(tb);
            continue;
          }
          Value has = arith::CmpIOp::create(ib, il, arith::CmpIPredicate::ugt,
                                            boxes, idx(ib, box));
          if (mine)
            has = arith::AndIOp::create(ib, il, has, mine);
          auto ifOp = scf::IfOp::create(ib, il, has, false);
          OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          load(tb);
        }
        if (tail) {
          auto ifOp = scf::IfOp::create(ib, il, tail.has, false);
          OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          mk::TmaLoadOp::create(
              tb, il, tail.tmap,
              ValueRange{kx,
                         arith::AddIOp::create(tb, il, aRow, idx(tb, tileM))},
              ring, i, tb.getI64IntegerAttr(tail.tile), tb.getI64IntegerAttr(0),
              streamWeights ? tb.getStringAttr("evict_last") : StringAttr());
        }
        // Packed FP4 weights: their descriptor counts bytes (two values).
        Value kxB = bPacked ? arith::MulIOp::create(ib, il, ks,
                                                   idx(ib, sliceK / 2))
                            : kx;
        for (auto [box, bRow] : llvm::enumerate(bRows))
          mk::TmaLoadOp::create(
              ib, il, tmapB, ValueRange{kxB, bRow}, ring, i,
              ib.getI64IntegerAttr(boxPerTile ? bTile + int64_t(box) : bTile),
              ib.getI64IntegerAttr(boxPerTile ? 0 : int64_t(box) * bBoxRows),
              streamWeights ? ib.getStringAttr("evict_first") : StringAttr());
        if (stageHook)
          stageHook(wb, il, i, ks);
        scf::YieldOp::create(wb, il,
                             ValueRange{arith::AddIOp::create(wb, il, i,
                                                              idx(wb, 1))});
      });
  disableUnroll(inner);
  return inner.getResult(0);
}

/// A loop over tile indices: from a counter 0, `fetch(counter)` gives the
/// next tile index; while it is below `total`, `body(tile, counter)` builds
/// the tile and returns the next counter. Returns the counter at the index
/// that stopped it. `narrow`: the comparison in 32 bits (tile counts are
/// far below 2^31): in the FP8 kernel with staged scales, a 64-bit `total`
/// held from the kernel's top into the producer's 40 registers had its
/// high word spilled.
Value buildTileIndexLoop(OpBuilder &ob, Location l, Value total,
                         function_ref<Value(OpBuilder &, Value)> fetch,
                         function_ref<Value(OpBuilder &, Value, Value)> body,
                         bool narrow = false) {
  OpBuilder::InsertionGuard guard(ob);
  Type indexTy = ob.getIndexType();
  Value zero = arith::ConstantIndexOp::create(ob, l, 0);
  auto loop = scf::WhileOp::create(ob, l, TypeRange{indexTy, indexTy},
                                   ValueRange{zero});
  {
    Block *before = ob.createBlock(&loop.getBefore(), {}, {indexTy}, {l});
    OpBuilder bb = OpBuilder::atBlockEnd(before);
    Value i = before->getArgument(0);
    Value t = fetch(bb, i);
    Value more =
        narrow
            ? arith::CmpIOp::create(
                  bb, l, arith::CmpIPredicate::ult,
                  arith::IndexCastUIOp::create(bb, l, bb.getI32Type(), t),
                  arith::IndexCastUIOp::create(bb, l, bb.getI32Type(), total))
            : arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ult, t, total);
    scf::ConditionOp::create(bb, l, more, ValueRange{i, t});
  }
  {
    Block *after =
        ob.createBlock(&loop.getAfter(), {}, {indexTy, indexTy}, {l, l});
    OpBuilder ab = OpBuilder::atBlockEnd(after);
    Value next = body(ab, after->getArgument(1), after->getArgument(0));
    scf::YieldOp::create(ab, l, ValueRange{next});
  }
  return loop.getResult(0);
}

/// The tile loop of a dynamic tile scheduler: the producer fetches tile
/// indices from the device counter `nextTile` (0, 1, 2, ... across the
/// grid, so a CTA that runs ahead takes more tiles) and tags the stages it
/// fills with them (buildTileLoads' `tag`); the MMA warpgroups wait for the
/// next stage and read its tag. Both stop at the first index >= `total`
/// (buildStopMark). `body(tile, iter)` builds one tile from ring iteration
/// `iter` and returns the iteration after it. Returns the ring iteration
/// after the last tile. `narrow`: buildTileIndexLoop's.
Value buildScheduledTiles(OpBuilder &ob, Location l, Value ring, Value nextTile,
                          Value total, bool producer,
                          function_ref<Value(OpBuilder &, Value, Value)> body,
                          bool producerWarp = false, bool narrow = false) {
  Type indexTy = ob.getIndexType();
  return buildTileIndexLoop(
      ob, l, total,
      [&](OpBuilder &bb, Value i) -> Value {
        if (producer)
          return mk::FetchAddOp::create(
              bb, l, indexTy, nextTile,
              arith::ConstantIndexOp::create(bb, l, 0),
              producerWarp ? bb.getUnitAttr() : UnitAttr());
        mk::RingWaitOp::create(bb, l, ring, i);
        return mk::RingTagOp::create(bb, l, indexTy, ring, i);
      },
      body, narrow);
}

/// The producer's stop mark after its last tile: one more stage, tagged
/// `total`, with no loads (an arrival expecting 0 bytes completes it). The
/// MMA warpgroups release it after their loop. A producer warp (`leader`:
/// its lane that tags and expects) also makes every lane's copy arrival
/// (moek.ring_arrive_copies: none pending for this stage).
void buildStopMark(OpBuilder &b, Location l, Value ring, Value last,
                   Value total, Value leader = Value()) {
  mk::RingAcquireOp::create(b, l, ring, last);
  OpBuilder tb = b;
  if (leader) {
    auto only = scf::IfOp::create(b, l, leader, false);
    tb = OpBuilder::atBlockTerminator(only.thenBlock());
  }
  mk::RingSetTagOp::create(tb, l, ring, last, total);
  mk::RingExpectOp::create(tb, l, ring, last,
                           arith::ConstantIndexOp::create(tb, l, 0));
  if (leader)
    mk::RingArriveCopiesOp::create(b, l, ring, last);
}

/// After the MMAs of K slice `ks` (ring iteration `i`) were issued: release
/// the stage that is no longer read. Pipelined: stage i-1 (its MMAs are done
/// once at most one slice's groups are pending), none for the first slice;
/// otherwise stage i itself (its MMAs were waited for).
void releaseAfterIssue(OpBuilder &b, Location loc, Value ring, Value i,
                       Value ks, bool pipelined) {
  if (!pipelined) {
    mk::RingReleaseOp::create(b, loc, ring, i);
    return;
  }
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value notFirst =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, ks, c0);
  auto ifOp = scf::IfOp::create(b, loc, notFirst, false);
  OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
  mk::RingReleaseOp::create(tb, loc, ring,
                            arith::SubIOp::create(tb, loc, i, c1));
}

/// One MMA of a K loop's stage (buildMmaSpecLoop): the accumulator's type,
/// tile `aTile` from row `aRow` (wgmma's A) by tile `bTile` (B), `cols`
/// (0: all) the accumulator columns it computes (moek.mma {cols}).
struct MmaSpec {
  mk::AccType type;
  int64_t aTile;
  Value aRow;
  int64_t bTile;
  int64_t cols = 0;
};

/// The K loop of one MMA warpgroup over one tile: one accumulator per
/// spec, each stage's MMAs in spec order, ring iterations from `i0`.
/// Returns the finished accumulators and the ring iteration after the tile.
std::pair<SmallVector<Value>, Value>
buildMmaSpecLoop(OpBuilder &b, Location loc, Value ring,
                 ArrayRef<MmaSpec> specs, Value cKSlices, Value i0,
                 bool pipelined, StageHook onFull = nullptr) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> init;
  for (const MmaSpec &spec : specs)
    init.push_back(mk::MmaZeroOp::create(b, loc, spec.type));
  init.push_back(i0);
  // One commit group per accumulator and stage.
  int64_t pending = pipelined ? specs.size() : 0;
  auto inner = scf::ForOp::create(
      b, loc, c0, cKSlices, c1, init,
      [&](OpBuilder &ib, Location il, Value ks, ValueRange iit) {
        Value i = iit.back();
        mk::RingWaitOp::create(ib, il, ring, i);
        if (onFull)
          onFull(ib, il, i, ks);
        SmallVector<Value> next;
        for (auto [acc, spec] : llvm::zip(iit.drop_back(), specs)) {
          next.push_back(mk::MmaOp::create(
              ib, il, ring, i, ib.getI64IntegerAttr(spec.aTile), spec.aRow,
              ib.getI64IntegerAttr(spec.bTile), acc, /*zero_init=*/UnitAttr(),
              spec.cols ? ib.getI64IntegerAttr(spec.cols) : IntegerAttr()));
        }
        for (Value &acc : next)
          acc = mk::MmaWaitOp::create(ib, il, acc,
                                      ib.getI64IntegerAttr(pending));
        releaseAfterIssue(ib, il, ring, i, ks, pipelined);
        next.push_back(arith::AddIOp::create(ib, il, i, c1));
        scf::YieldOp::create(ib, il, next);
      });
  disableUnroll(inner);
  SmallVector<Value> accs(inner.getResults().drop_back());
  Value next = inner.getResults().back();
  if (pipelined) {
    // Drain the last groups and release the last stage.
    for (Value &acc : accs)
      acc = mk::MmaWaitOp::create(b, loc, acc, b.getI64IntegerAttr(0));
    mk::RingReleaseOp::create(b, loc, ring,
                              arith::SubIOp::create(b, loc, next, c1));
  }
  return {accs, next};
}

/// The K loop of one cooperative MMA warpgroup over one tile: one 64-row
/// accumulator per row offset in `aRows` (rows of tile 0) by tile 1, ring
/// iterations from `i0`. Returns the finished accumulators and the ring
/// iteration after the tile. `cols` (0: all): the MMAs compute only the
/// accumulators' first `cols` columns (moek.mma {cols}). `aTile`, `bTile`:
/// the tiles the MMAs read (the transposed product: 1 and 0).
std::pair<SmallVector<Value>, Value>
buildMmaLoop(OpBuilder &b, Location loc, Value ring, mk::AccType accType,
             ArrayRef<Value> aRows, Value cKSlices, Value i0, bool pipelined,
             StageHook onFull = nullptr, int64_t cols = 0, int64_t aTile = 0,
             int64_t bTile = 1) {
  SmallVector<MmaSpec> specs;
  for (Value aRow : aRows)
    specs.push_back({accType, aTile, aRow, bTile, cols});
  return buildMmaSpecLoop(b, loc, ring, specs, cKSlices, i0, pipelined, onFull);
}

/// Turns of the two MMA warpgroups of a block-scaled kernel: before
/// issuing a K block's MMAs a warpgroup waits on named barrier `wait`, and
/// after it arrives on `signal` (the other's `wait`), so the two alternate
/// block by block. Each then promotes its block while the other's MMAs run,
/// instead of both promoting at once with the tensor cores idle. The
/// barriers count both warpgroups (256 threads); the second warpgroup
/// arrives once on the first's barrier before its first block and the
/// first waits once more after its last (beginTurns, endTurns).
struct Turns {
  int64_t wait = -1, signal = -1;
  explicit operator bool() const { return wait >= 0; }
};
constexpr int64_t kTurnBarrier0 = 11, kTurnBarrier1 = 12;
Turns turnsOf(int64_t warpgroup) {
  return warpgroup == 0 ? Turns{kTurnBarrier0, kTurnBarrier1}
                        : Turns{kTurnBarrier1, kTurnBarrier0};
}
void waitTurn(OpBuilder &b, Location loc, Turns turns) {
  if (turns)
    mk::BarrierSyncOp::create(b, loc, b.getI64IntegerAttr(turns.wait),
                              b.getI64IntegerAttr(256));
}
void passTurn(OpBuilder &b, Location loc, Turns turns) {
  if (turns)
    mk::BarrierArriveOp::create(b, loc, b.getI64IntegerAttr(turns.signal),
                                b.getI64IntegerAttr(256));
}
/// Before the MMA warpgroups' tile loop (`second`: the warpgroup index is
/// 1): the second warpgroup gives the first its first turn.
void beginTurns(OpBuilder &b, Location loc, Value second) {
  auto ifOp = scf::IfOp::create(b, loc, second, false);
  OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
  passTurn(tb, loc, turnsOf(1));
}
/// After the loop: the first warpgroup takes the turn left over.
void endTurns(OpBuilder &b, Location loc, Value second) {
  auto ifOp = scf::IfOp::create(b, loc, second, true);
  OpBuilder eb = OpBuilder::atBlockTerminator(ifOp.elseBlock());
  waitTurn(eb, loc, turnsOf(0));
}

/// The block scales of a block-scaled (fp8_block) tile: row scales `xs`
/// ([M, kBlocks] f32) and weight scales `ws` from element `wsBase` (one per
/// K block of the tile's 128 columns).
struct TileScales {
  Value xs, ws, wsBase;
  int64_t kBlocks;
};

/// Ring stages when convert-moe-to-moek's `stages` is 0.
constexpr int64_t kDefaultStages = 4;

/// The column scales of one warpgroup's 128 MXFP4 weight rows, in the
/// layout of moek.fp4_row_scale.
constexpr int64_t kColScaleFloats = 4 * (128 / 4 + 4);

/// MXFP4 weights of a block-scaled tile, expanded to e4m3 by the MMA
/// warpgroup before its MMAs (moek.dequant_fp4_fp8): the packed tile
/// `packedTile` of the ring; the UE8M0 scales `scales` ([scaleRows,
/// scaleCols]) of the weight rows from `row`, and `rowMax`, each thread's
/// row's largest (moek.fp4_row_scale); the warpgroup's first thread and
/// named barrier.
struct Fp4Tile {
  Value scales, row, rowMax;
  int64_t scaleRows = 0, scaleCols = 0, packedTile = 0, firstThread = 0,
          barrier = 0;
  bool permuteK = false; // the expanded tile in moek.mma_fp4's K order
};

/// The weight scale of K block `kb` of a block-scaled tile whose first is
/// element `base` of `ws` (f32).
Value loadBlockScale(OpBuilder &b, Location loc, Value ws, Value base,
                     Value kb) {
  Type f32 = b.getF32Type();
  Value index = arith::IndexCastOp::create(
      b, loc, b.getI64Type(), arith::AddIOp::create(b, loc, base, kb));
  return LLVM::LoadOp::create(
      b, loc, f32,
      LLVM::GEPOp::create(b, loc, ws.getType(), f32, ws, ValueRange{index}), 4);
}

/// The K loop of one MMA warpgroup over one block-scaled tile, one K block
/// (128) per stage. Each block's product goes into a fresh partial
/// accumulator (zero_init), is waited for, and is added to the main one
/// times the product of the block's row and weight scales (DeepGEMM's
/// promotion, in the reference evaluator's order). The scales are global
/// loads of a whole L2 round trip, so those of block kb + 1 are loaded
/// while block kb's MMAs run and carried to the next iteration. (Keeping
/// block kb + 1's MMAs in flight while block kb is promoted needs a second
/// partial accumulator, and ptxas then serializes the wgmmas: C7514.)
/// `aRow`: the accumulator's first row in the tile; `row`, `rowEnd`: its
/// first row and the expert's end in the rows; `bTile`: the ring's weight
/// tile; `turns`: this warpgroup's (see Turns). Returns the main
/// accumulator and the ring iteration after the tile.
std::pair<Value, Value> buildScaledMmaLoop(OpBuilder &b, Location loc,
                                           Value ring, mk::AccType accType,
                                           Value aRow, Value row, Value rowEnd,
                                           const TileScales &scales,
                                           Value cKSlices, Value i0,
                                           int64_t bTile = 1,
                                           Turns turns = Turns(),
                                           const Fp4Tile *fp4 = nullptr) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value lastBlock = arith::ConstantIndexOp::create(b, loc, scales.kBlocks - 1);
  Type f32 = b.getF32Type();
  auto rowsType = mk::RowsType::get(b.getContext(), 64, f32);
  // The row scales and the weight scale of K block `kb` (MXFP4: 1, and
  // the row's four block scales).
  auto loadScales = [&](OpBuilder &ib, Value kb) -> std::pair<Value, Value> {
    Value rowScales = mk::LoadRowsOp::create(
        ib, loc, rowsType, scales.xs, row, kb, rowEnd,
        ib.getI64IntegerAttr(scales.kBlocks));
    if (fp4)
      return {rowScales, mk::LoadFp4ScalesOp::create(
                             ib, loc, ib.getI32Type(), fp4->scales, fp4->row,
                             kb, ib.getI64IntegerAttr(fp4->scaleRows),
                             ib.getI64IntegerAttr(fp4->scaleCols),
                             ib.getI64IntegerAttr(fp4->firstThread))};
    return {rowScales, loadBlockScale(ib, loc, scales.ws, scales.wsBase, kb)};
  };
  Value zero = mk::MmaZeroOp::create(b, loc, accType);
  auto [rows0, w0] = loadScales(b, c0);
  auto loop = scf::ForOp::create(
      b, loc, c0, cKSlices, c1, ValueRange{zero, zero, rows0, w0, i0},
      [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
        Value i = it[4];
        mk::RingWaitOp::create(ib, il, ring, i);
        if (fp4) {
          // Expanded outside the turn: while the other warpgroup's MMAs run.
          auto expand = mk::DequantFp4Fp8Op::create(
              ib, il, ring, i, ib.getI64IntegerAttr(fp4->packedTile),
              ib.getI64IntegerAttr(bTile), it[3], fp4->rowMax,
              ib.getI64IntegerAttr(fp4->firstThread),
              ib.getI64IntegerAttr(fp4->barrier));
          expand.setPermuteK(fp4->permuteK);
        }
        waitTurn(ib, il, turns);
        Value partial = mk::MmaOp::create(
            ib, il, ring, i, ib.getI64IntegerAttr(0), aRow,
            ib.getI64IntegerAttr(bTile), it[1],
            /*zero_init=*/ib.getUnitAttr(), /*cols=*/IntegerAttr());
        passTurn(ib, il, turns);
        // The next block's scales (the last block's again after it).
        auto [nextRows, nextW] = loadScales(
            ib, arith::MinUIOp::create(
                    ib, il, arith::AddIOp::create(ib, il, kb, c1), lastBlock));
        partial = mk::MmaWaitOp::create(ib, il, partial,
                                        ib.getI64IntegerAttr(0));
        mk::RingReleaseOp::create(ib, il, ring, i);
        // MXFP4: the weight scales are in the values and the column
        // scales (applied after the loop).
        Value acc = mk::MmaPromoteOp::create(
            ib, il, it[0], partial, it[2],
            fp4 ? Value(LLVM::ConstantOp::create(ib, il, f32,
                                                 ib.getF32FloatAttr(1.0f)))
                : it[3]);
        scf::YieldOp::create(ib, il,
                             ValueRange{acc, partial, nextRows, nextW,
                                        arith::AddIOp::create(ib, il, i, c1)});
      });
  disableUnroll(loop);
  return {loop.getResult(0), loop.getResult(4)};
}

/// The K loop of one MMA warpgroup over one block-scaled tile of 64 rows
/// and two 128-column halves (weight tiles 1 and 2 of the ring), one K
/// block per stage: each half's product goes into the one partial
/// accumulator (zero_init), is waited for and promoted into the half's
/// main accumulator (buildScaledMmaLoop's promotion) before the other
/// half's MMAs reuse it. No turns: the two warpgroups issue as they go,
/// one's MMAs running while the other promotes (with turns, each half a
/// turn, the FP8 layers were 2.4-5.8% slower at prefill:
/// bench/results/2026-12-05-fused-moe-fp8-tile-rows-h200.md). `aRow`: the
/// accumulator's first row in tile 0; `row`, `rowEnd`: its first row and the
/// expert's end in the rows; `wsBase`: each half's first weight scale (one per
/// K block). With `scaleTile` (>= 0: the ring's tile that the producer
/// fills with each stage's scales, moek.stage_block_scales of 128 rows),
/// the block's scales are read from the stage while the first half's MMAs
/// run; otherwise they are global loads, those of block kb + 1 issued
/// while block kb's first half runs and carried to the next iteration.
/// Returns the two main accumulators and the ring iteration after the
/// tile.
std::tuple<Value, Value, Value> buildScaledHalvesLoop(
    OpBuilder &b, Location loc, Value ring, mk::AccType accType, Value aRow,
    Value row, Value rowEnd, Value xs, Value ws, std::array<Value, 2> wsBase,
    int64_t kBlocks, Value cKSlices, Value i0, int64_t scaleTile = -1) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value lastBlock = arith::ConstantIndexOp::create(b, loc, kBlocks - 1);
  Type f32 = b.getF32Type();
  auto rowsType = mk::RowsType::get(b.getContext(), 64, f32);
  // The row scales and the two halves' weight scales of K block `kb`.
  auto loadScales = [&](OpBuilder &ib, Value kb) -> SmallVector<Value> {
    SmallVector<Value> v{mk::LoadRowsOp::create(
        ib, loc, rowsType, xs, row, kb, rowEnd, ib.getI64IntegerAttr(kBlocks))};
    for (Value base : wsBase)
      v.push_back(loadBlockScale(ib, loc, ws, base, kb));
    return v;
  };
  Value zero = mk::MmaZeroOp::create(b, loc, accType);
  bool staged = scaleTile >= 0;
  SmallVector<Value> init{zero, zero, zero};
  if (!staged)
    llvm::append_range(init, loadScales(b, c0));
  init.push_back(i0);
  auto loop = scf::ForOp::create(
      b, loc, c0, cKSlices, c1, init,
      [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
        Value i = it.back();
        mk::RingWaitOp::create(ib, il, ring, i);
        SmallVector<Value> scales, next;
        if (!staged)
          scales.assign(it.begin() + 3, it.begin() + 6);
        Value partial = it[2];
        Value main[2] = {it[0], it[1]};
        for (int64_t half = 0; half < 2; ++half) {
          partial = mk::MmaOp::create(
              ib, il, ring, i, ib.getI64IntegerAttr(0), aRow,
              ib.getI64IntegerAttr(1 + half), partial,
              /*zero_init=*/ib.getUnitAttr(), /*cols=*/IntegerAttr());
          // While the first half's MMAs run: this block's staged scales,
          // or the next block's (the last block's again after it).
          if (half == 0 && staged) {
            auto read = mk::LoadStagedScalesOp::create(
                ib, il, rowsType, f32, f32, ring, i, scaleTile, aRow,
                /*rows=*/128);
            scales.assign(read->result_begin(), read->result_end());
          } else if (half == 0) {
            next = loadScales(
                ib,
                arith::MinUIOp::create(
                    ib, il, arith::AddIOp::create(ib, il, kb, c1), lastBlock));
          }
          partial =
              mk::MmaWaitOp::create(ib, il, partial, ib.getI64IntegerAttr(0));
          if (half == 1)
            mk::RingReleaseOp::create(ib, il, ring, i);
          main[half] = mk::MmaPromoteOp::create(ib, il, main[half], partial,
                                                scales[0], scales[1 + half]);
        }
        SmallVector<Value> results{main[0], main[1], partial};
        llvm::append_range(results, next);
        results.push_back(arith::AddIOp::create(ib, il, i, c1));
        scf::YieldOp::create(ib, il, results);
      });
  disableUnroll(loop);
  return {loop.getResult(0), loop.getResult(1), loop.getResults().back()};
}

/// The stages of one tile, for a warpgroup without rows in it: waited for
/// (so that each release ends the right phase) and released; with `turns`,
/// its turns taken and passed on.
Value buildPassLoop(OpBuilder &b, Location loc, Value ring, Value cKSlices,
                    Value i0, Turns turns = Turns(),
                    StageHook onFull = nullptr) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  auto pass = scf::ForOp::create(
      b, loc, c0, cKSlices, c1, ValueRange{i0},
      [&](OpBuilder &ib, Location il, Value ks, ValueRange iit) {
        mk::RingWaitOp::create(ib, il, ring, iit[0]);
        // Its share of the stage's work all the same.
        if (onFull)
          onFull(ib, il, iit[0], ks);
        // Its turns are taken (and given back) all the same.
        waitTurn(ib, il, turns);
        passTurn(ib, il, turns);
        mk::RingReleaseOp::create(ib, il, ring, iit[0]);
        scf::YieldOp::create(
            ib, il, ValueRange{arith::AddIOp::create(ib, il, iit[0], c1)});
      });
  disableUnroll(pass);
  return pass.getResult(0);
}

/// The first row of 64-row accumulator `a` of a warpgroup whose first
/// accumulator starts at `row` (its accumulators 64 rows apart).
Value accRowOf(OpBuilder &b, Location loc, Value row, unsigned a) {
  if (a == 0)
    return row;
  return arith::AddIOp::create(b, loc, row,
                               arith::ConstantIndexOp::create(b, loc, 64 * a));
}

/// One MMA warpgroup's work on one tile whose rows from `row`
/// (its first accumulator's) end at `rowEnd`: accumulators whose 64 rows all
/// lie past the end issue no MMAs (the active ones are a prefix, so this is
/// one loop per count, chosen per tile: a branch inside the K loop would
/// serialize the wgmmas). Returns the accumulators (zero when skipped) and
/// the next ring iteration. A narrow tile (`narrow`, an i1, set): the MMAs
/// compute only the accumulators' first `narrowCols` columns (the last
/// column tile of an output narrower than the tiles), again one loop per
/// choice.
struct NarrowTile {
  Value narrow;
  int64_t cols = 0;
  explicit operator bool() const { return bool(narrow); }
};
/// The NarrowTile of a GEMM's tiles whose column tile is `colTile` (index)
/// of `colTiles`: the last one takes MMAs over its first `validCols`
/// columns (0: none narrower), a multiple of 8 (wgmma's N step).
NarrowTile narrowLastTile(OpBuilder &b, Location loc, Value colTile,
                          int64_t colTiles, int64_t validCols) {
  NarrowTile narrow;
  if (validCols) {
    narrow.cols = llvm::alignTo(validCols, 8);
    narrow.narrow = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, colTile,
        arith::ConstantIndexOp::create(b, loc, colTiles - 1));
  }
  return narrow;
}

std::pair<SmallVector<Value>, Value>
buildTileMmas(OpBuilder &b, Location loc, Value ring, mk::AccType accType,
              Value aRow, Value row, Value rowEnd, unsigned numAccs,
              Value cKSlices, Value i0, bool pipelined,
              StageHook onFull = nullptr, NarrowTile narrow = {}) {
  // The MMA loop of the first `count` accumulators.
  auto mmaLoop = [&](OpBuilder &ib, unsigned count)
      -> std::pair<SmallVector<Value>, Value> {
    SmallVector<Value> aRows;
    for (unsigned a = 0; a < count; ++a)
      aRows.push_back(accRowOf(ib, loc, aRow, a));
    if (!narrow)
      return buildMmaLoop(ib, loc, ring, accType, aRows, cKSlices, i0,
                          pipelined, onFull);
    SmallVector<Type> types(count, accType);
    types.push_back(ib.getIndexType());
    auto ifOp = scf::IfOp::create(ib, loc, types, narrow.narrow,
                                  /*withElseRegion=*/true);
    for (auto [block, cols] :
         {std::pair(ifOp.thenBlock(), narrow.cols),
          std::pair(ifOp.elseBlock(), int64_t(0))}) {
      OpBuilder bb = OpBuilder::atBlockEnd(block);
      auto [accs, next] = buildMmaLoop(bb, loc, ring, accType, aRows,
                                       cKSlices, i0, pipelined, onFull, cols);
      accs.push_back(next);
      scf::YieldOp::create(bb, loc, accs);
    }
    return {SmallVector<Value>(ifOp.getResults().drop_back()),
            ifOp.getResults().back()};
  };
  // Builds the choice for accumulators [first, numAccs) when the ones
  // before are active.
  std::function<std::pair<SmallVector<Value>, Value>(OpBuilder &, unsigned)>
      build = [&](OpBuilder &ob, unsigned first)
      -> std::pair<SmallVector<Value>, Value> {
    Value firstRow = accRowOf(ob, loc, row, first);
    Value active = arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult,
                                         firstRow, rowEnd);
    SmallVector<Type> types(numAccs, accType);
    types.push_back(ob.getIndexType());
    auto ifOp = scf::IfOp::create(ob, loc, types, active, /*withElse=*/true);
    {
      OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
      auto r = first + 1 == numAccs ? mmaLoop(tb, numAccs)
                                    : build(tb, first + 1);
      SmallVector<Value> yield(r.first);
      yield.push_back(r.second);
      scf::YieldOp::create(tb, loc, yield);
    }
    {
      // Accumulators [0, first) active, the rest skipped.
      OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
      SmallVector<Value> yield;
      Value next;
      if (first == 0) {
        next = buildPassLoop(eb, loc, ring, cKSlices, i0, Turns(), onFull);
      } else {
        std::tie(yield, next) = mmaLoop(eb, first);
      }
      Value zero = mk::MmaZeroOp::create(eb, loc, accType);
      yield.resize(numAccs, zero);
      yield.push_back(next);
      scf::YieldOp::create(eb, loc, yield);
    }
    SmallVector<Value> accs(ifOp.getResults().drop_back());
    return {accs, ifOp.getResults().back()};
  };
  return build(b, 0);
}

/// The 8 KB staging halves a warpgroup (two MMA warpgroups) of
/// moek.store_acc_tma that the shared memory a CTA may have holds beside
/// `usedBytes` (the ring's stages and their 1 KB of alignment, the other
/// buffers, the static part): 2, 1 or 0 (no TMA stores).
int64_t stagingHalvesBeside(int64_t usedBytes) {
  int64_t left = mk::kMaxSharedMemory - usedBytes;
  return left >= 2 * 2 * mk::kStagingHalfBytes ? 2
         : left >= 2 * mk::kStagingHalfBytes   ? 1
                                           : 0;
}

/// moek.store_acc_tma's staging for both MMA warpgroups, `halves` 8 KB
/// halves each (warpgroupStaging gives each its part).
Value allocStaging(OpBuilder &b, Location loc, int64_t halves) {
  return mk::SmemAllocOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext(), 3),
      b.getI64IntegerAttr(2 * halves * mk::kStagingHalfBytes));
}

/// moek.store_acc_tma's operands for MMA warpgroup `wg` (index, 0 or 1):
/// its part of `staging` (`halves` 8 KB halves a warpgroup) and its named
/// barrier (13 or 14: no other op of the kernels uses them).
std::pair<Value, Value> warpgroupStaging(OpBuilder &b, Location loc,
                                         Value staging, Value wg,
                                         int64_t halves) {
  Value part = LLVM::GEPOp::create(
      b, loc, staging.getType(), b.getI8Type(), staging,
      ValueRange{arith::IndexCastUIOp::create(
          b, loc, b.getI64Type(),
          arith::MulIOp::create(
              b, loc, wg,
              arith::ConstantIndexOp::create(b, loc,
                                             halves * mk::kStagingHalfBytes)))});
  Value barrier = arith::AddIOp::create(
      b, loc, wg, arith::ConstantIndexOp::create(b, loc, 13));
  return {part, barrier};
}

/// Stores 64-row accumulators `accs` at rows `row`, `row` + 64, ... and
/// column `col` of the n-column output, rows at or past `rowEnd` masked.
void storeAccs(OpBuilder &b, Location loc, ArrayRef<Value> accs, Value out,
               Value row, Value col, Value rowEnd, Type outElem, int64_t n) {
  for (auto [a, acc] : llvm::enumerate(accs))
    mk::StoreAccOp::create(b, loc, acc, out, accRowOf(b, loc, row, a), col,
                           rowEnd, TypeAttr::get(outElem),
                           b.getI64IntegerAttr(n));
}

/// The MMA warpgroups of the pingpong schedule: warpgroup w takes the
/// CTA's tiles j = w, w+2, ... and computes all 128 rows of each with two
/// 64-row accumulators, so that one stores a tile while the other runs its
/// MMAs. Both read the one ring, whose stages come in tile order: tile j
/// holds ring iterations [j * slices, (j+1) * slices). A warpgroup starts
/// waiting on its tile's stages only after the other one has waited on all
/// of the previous tile's (named barriers 1 and 2), so that no stage it
/// waits on is more than one phase ahead: mbarrier waits see only a phase's
/// parity.
template <typename DecodeFn>
void buildPingpongConsumers(OpBuilder &b, Location loc, Value ring,
                            mk::AccType accType, Value out, Type outElem,
                            int64_t n, Value numTiles, Value bid, Value grid,
                            Value cKSlices, Value cTileN, DecodeFn decode,
                            bool pipelineMma) {
  OpBuilder::InsertionGuard g(b);
  beginRole(b, loc, "consumer", 1, 2, 232);
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value c0 = idx(0), c1 = idx(1), c2 = idx(2);
  Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
  // This CTA's tile count: ceil((numTiles - bid) / grid), 0 if negative.
  Value left = arith::SubIOp::create(
      b, loc, arith::MaxUIOp::create(b, loc, numTiles, bid), bid);
  Value local = arith::CeilDivUIOp::create(b, loc, left, grid);
  Value isSecond =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, c1);
  // Ring iterations are carried from tile to tile (this one's end plus the
  // other warpgroup's tile) rather than computed as j * slices: with the
  // product, ptxas serialized the wgmmas for want of registers (C7511) at
  // power-of-two stage counts.
  scf::ForOp::create(
      b, loc, wg, local, c2,
      ValueRange{arith::MulIOp::create(b, loc, wg, cKSlices)},
      [&](OpBuilder &ob, Location l, Value j, ValueRange it) {
        // Wait for the other warpgroup to be past the previous tile's
        // stages (the first tile has none before it). Warpgroup 0 waits at
        // barrier 2 and signals at 1; warpgroup 1 the other way round.
        auto onBarriers = [&](OpBuilder &bb, bool wait) {
          auto ifOp = scf::IfOp::create(bb, l, isSecond, /*withElse=*/true);
          for (auto [block, id] : {std::pair(ifOp.thenBlock(), wait ? 1 : 2),
                                   std::pair(ifOp.elseBlock(), wait ? 2 : 1)}) {
            OpBuilder ib = OpBuilder::atBlockTerminator(block);
            if (wait)
              mk::BarrierSyncOp::create(ib, l, ib.getI64IntegerAttr(id),
                                        ib.getI64IntegerAttr(256));
            else
              mk::BarrierArriveOp::create(ib, l, ib.getI64IntegerAttr(id),
                                          ib.getI64IntegerAttr(256));
          }
        };
        Value notFirst =
            arith::CmpIOp::create(ob, l, arith::CmpIPredicate::ugt, j, c0);
        {
          auto ifOp = scf::IfOp::create(ob, l, notFirst, false);
          OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          onBarriers(tb, /*wait=*/true);
        }
        Value t = arith::AddIOp::create(ob, l, bid,
                                        arith::MulIOp::create(ob, l, j, grid));
        auto d = decode(ob, t);
        auto [accs, next] =
            buildTileMmas(ob, l, ring, accType, c0, d.getRow(), d.getRowEnd(),
                          /*numAccs=*/2, cKSlices, it[0], pipelineMma);
        // Past this tile's stages (the MMAs drained): let the other
        // warpgroup start on the next tile, if there is one.
        Value hasNext = arith::CmpIOp::create(
            ob, l, arith::CmpIPredicate::ult,
            arith::AddIOp::create(ob, l, j, c1), local);
        {
          auto ifOp = scf::IfOp::create(ob, l, hasNext, false);
          OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          onBarriers(tb, /*wait=*/false);
        }
        storeAccs(ob, l, accs, out, d.getRow(),
                  arith::MulIOp::create(ob, l, d.getColTile(), cTileN),
                  d.getRowEnd(), outElem, n);
        scf::YieldOp::create(
            ob, l, ValueRange{arith::AddIOp::create(ob, l, next, cKSlices)});
      });
}

/// Builds the grouped-matmul kernel; see the pass description.
/// Kernel-shape choices (pass options).
struct KernelConfig {
  int64_t stages = 4;
  int64_t tileN = 128;
  /// Rows per tile: 128 (64 per MMA warpgroup) or 256 (128 per MMA
  /// warpgroup, as two 64-row accumulators).
  int64_t tileM = 128;
  /// Keep one wgmma group in flight: release stage i-1 after issuing the
  /// MMAs of stage i (wait_group 1), instead of waiting for stage i's MMAs.
  bool pipelineMma = true;
  /// Pingpong: each MMA warpgroup computes whole 128-row tiles, alternating
  /// tiles with the other, so one's epilogue overlaps the other's MMAs.
  /// Otherwise (cooperative) both split every tile's rows.
  bool pingpong = false;
  /// Row blocks per group of the tile order (moek.grouped_tile row_group).
  int64_t rowGroup = 1;
  /// L2 hints: weights evict-first, rows evict-last. For tiles that cover
  /// an expert's rows, so that each weight panel is read by one tile.
  bool streamWeights = false;
  /// sm_100a: one thread issues every MMA into tensor-memory accumulators
  /// that epilogue warpgroups drain (buildSingleIssuerRoles).
  bool singleIssuer = false;
  /// With singleIssuer: clusters of two CTAs share each 256 x 256 tile
  /// (buildCtaPairRoles).
  bool ctaPair = false;
  /// Cooperative bf16: clusters of two CTAs take two column tiles of the
  /// same rows, each copying half of the row boxes into both CTAs' rings
  /// (TMA multicast), in a static tile order.
  bool clusterCols = false;
  /// Cooperative: the last column tile of an N that is not a multiple of
  /// tileN multiplies only its valid columns (NarrowTile).
  bool narrowTiles = true;
  /// Cooperative bf16 with TMA stores: each MMA warpgroup multiplies its 64
  /// of the tile's weight rows by the tile's tokens (wgmma's N: the tokens,
  /// rounded up to kTransposedStep), so the MMAs of rows past an expert's
  /// end are at most a step's, not a 64-row accumulator's.
  bool transposed = false;
};

/// The token granularity of the transposed product's MMAs (wgmma N).
constexpr int64_t kTransposedStep = 16;

/// Tensor-memory accumulators of the single-issuer kernel: two, so that the
/// MMAs of one tile run while the epilogue stores the previous one.
constexpr int64_t kTmemAccs = 2;

/// The MMA issuer's work on one tile of a single-issuer kernel, from ring
/// iteration `i0`: waits for accumulator `j` to be free (moek.acc_acquire),
/// issues each of the tile's `slices` stages' MMAs (moek.mma_tmem, tile 0
/// by tile 1, the first overwriting) and frees the stage when they
/// complete (moek.mma_release: no wait), then commits the accumulator with
/// the tile index `tile` (moek.acc_commit). With `perStage`, each stage's
/// product goes into an accumulator of its own (j, j + 1, ...: the K blocks
/// of a block-scaled tile, promoted by the epilogue). With `blockScales`,
/// the MMAs take the UE8M0 scales of tiles 2 (rows) and 3 (weights).
/// Returns the iteration after the tile.
Value buildTileMmasTmem(OpBuilder &ob, Location loc, Value ring, Value accs,
                        Value i0, Value j, Value tile, Value slices,
                        bool perStage = false, bool blockScales = false) {
  auto idx = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  if (!perStage)
    mk::AccAcquireOp::create(ob, loc, accs, j);
  auto kLoop = scf::ForOp::create(
      ob, loc, idx(ob, 0), slices, idx(ob, 1), ValueRange{},
      [&](OpBuilder &ib, Location il, Value ks, ValueRange) {
        Value i = arith::AddIOp::create(ib, il, i0, ks);
        Value acc = perStage ? arith::AddIOp::create(ib, il, j, ks) : j;
        if (perStage)
          mk::AccAcquireOp::create(ib, il, accs, acc);
        mk::RingWaitOp::create(ib, il, ring, i);
        Value accumulate =
            perStage ? arith::ConstantIntOp::create(ib, il, 0, 1).getResult()
                     : arith::CmpIOp::create(ib, il, arith::CmpIPredicate::ugt,
                                             ks, idx(ib, 0))
                           .getResult();
        mk::MmaTmemOp::create(
            ib, il, ring, i, ib.getI64IntegerAttr(0), ib.getI64IntegerAttr(1),
            accs, acc, accumulate,
            blockScales ? ib.getI64IntegerAttr(2) : IntegerAttr(),
            blockScales ? ib.getI64IntegerAttr(3) : IntegerAttr());
        mk::MmaReleaseOp::create(ib, il, ring, i);
        if (perStage)
          mk::AccCommitOp::create(ib, il, accs, acc, tile);
        scf::YieldOp::create(ib, il);
      });
  disableUnroll(kLoop);
  if (!perStage)
    mk::AccCommitOp::create(ob, loc, accs, j, tile);
  return arith::AddIOp::create(ob, loc, i0, slices);
}

/// The CTA-pair variant of the single-issuer grouped matmul (sm_100a,
/// cta-pair): clusters of two CTAs share each 256 x 256 tile, CTA r holding
/// its rows [128 r, 128 r + 128) and the weight rows [128 r, 128 r + 128)
/// of the tile in its ring, and its 128 rows of the product in its tensor
/// memory; one `tcgen05.mma.cta_group::2` (M = 256) per K step reads both
/// rings. Pairs take tiles in a static order (pair p: tiles p, p + P, ...,
/// P pairs), so both CTAs know every tile without exchanging indices:
///  * producer (thread 0 of each CTA): its boxes of each stage, completing
///    on the even CTA's full barrier (`leader_barrier`), whose producer
///    expects both CTAs' bytes;
///  * MMA issuer (lane 0 of warp 1, even CTA only): as in
///    buildSingleIssuerRoles, its commits reaching both CTAs;
///  * epilogue (warpgroups 1 and 2 of each CTA): its CTA's 128 rows, half
///    of the columns each, released to the even CTA.
void buildCtaPairRoles(OpBuilder &b, Location loc, Value tmapX, Value tmapW,
                       Value offsets, Value out, Type outElem, int64_t e,
                       int64_t n, int64_t k, int64_t stages, int64_t rowGroup,
                       bool streamWeights) {
  MLIRContext *ctx = b.getContext();
  constexpr int64_t kPairRows = 256, kPairCols = 256, kHalf = 128;
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  auto tile = MemRefType::get({kHalf, kTileK}, b.getBF16Type(), AffineMap(),
                              b.getI64IntegerAttr(3));
  auto ringType = mk::RingType::get(ctx, stages, {tile, tile});
  // Each CTA's stages are freed by the MMAs' commit (1 arrival).
  Value ring =
      mk::RingAllocOp::create(b, loc, ringType, b.getI64IntegerAttr(1));
  auto accsType =
      mk::AccRingType::get(ctx, kTmemAccs, kHalf, kPairCols, b.getF32Type());
  auto accsAlloc = mk::AccRingAllocOp::create(b, loc, accsType,
                                              b.getI64IntegerAttr(256));
  accsAlloc.setCtaPair(true);
  Value accs = accsAlloc;
  // Both CTAs' barriers exist before either signals the other's.
  mk::ClusterSyncOp::create(b, loc);
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(kPairRows),
              colTiles = b.getI64IntegerAttr(n / kPairCols);
  Value numTiles = mk::GroupedTileCountOp::create(
      b, loc, b.getIndexType(), offsets, numE, tileRows, colTiles);
  Value rank = mk::ClusterRankOp::create(b, loc, b.getIndexType());
  Value pair = arith::DivUIOp::create(
      b, loc, mk::BlockIdOp::create(b, loc, b.getIndexType()), idx(b, 2));
  Value pairs = arith::DivUIOp::create(
      b, loc, mk::GridSizeOp::create(b, loc, b.getIndexType()), idx(b, 2));
  Value leader =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rank, idx(b, 0));
  Value cKSlices = idx(b, k / kTileK);
  auto decode = [&](OpBuilder &ob, Value t) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE,
                                     tileRows, colTiles,
                                     ob.getI64IntegerAttr(rowGroup));
  };
  // The pair's tiles, in order; `body(tile, args)` returns the next args.
  auto forPairTiles =
      [&](OpBuilder &ob, ValueRange init,
          function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)>
              body) {
        return scf::ForOp::create(
            ob, loc, pair, numTiles, pairs, init,
            [&](OpBuilder &fb, Location, Value t, ValueRange args) {
              scf::YieldOp::create(fb, loc, body(fb, t, args));
            });
      };
  // The 64-row boxes of rows that CTA `r` loads: those holding rows of
  // the expert (at most 2; none when its half lies past the expert's end).
  auto boxesOf = [&](OpBuilder &ob, mk::GroupedTileOp d, Value r) -> Value {
    Value first = arith::AddIOp::create(
        ob, loc, d.getRow(), arith::MulIOp::create(ob, loc, r, idx(ob, kHalf)));
    Value left = arith::MaxSIOp::create(
        ob, loc, arith::SubIOp::create(ob, loc, d.getRowEnd(), first),
        idx(ob, 0));
    return arith::MinUIOp::create(
        ob, loc, arith::CeilDivUIOp::create(ob, loc, left, idx(ob, kXBoxRows)),
        idx(ob, kHalf / kXBoxRows));
  };

  // Producer: thread 0 of each CTA.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, 40);
    Value elected = mk::ElectOneOp::create(b, loc, b.getI1Type());
    auto ifOp = scf::IfOp::create(b, loc, elected, false);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    forPairTiles(b, ValueRange{idx(b, 0)}, [&](OpBuilder &ob, Value t,
                                                ValueRange args) {
      auto d = decode(ob, t);
      Value row = arith::AddIOp::create(
          ob, loc, d.getRow(), arith::MulIOp::create(ob, loc, rank, idx(ob, kHalf)));
      Value wRow = arith::AddIOp::create(
          ob, loc,
          arith::AddIOp::create(
              ob, loc, arith::MulIOp::create(ob, loc, d.getExpert(), idx(ob, n)),
              arith::MulIOp::create(ob, loc, d.getColTile(), idx(ob, kPairCols))),
          arith::MulIOp::create(ob, loc, rank, idx(ob, kHalf)));
      Value boxes = boxesOf(ob, d, rank);
      // Both CTAs' bytes, which the even CTA's barrier counts.
      Value bytes = arith::AddIOp::create(
          ob, loc,
          arith::MulIOp::create(
              ob, loc,
              arith::AddIOp::create(ob, loc, boxesOf(ob, d, idx(ob, 0)),
                                    boxesOf(ob, d, idx(ob, 1))),
              idx(ob, kXBoxRows * kSliceBytes)),
          idx(ob, 2 * kHalf * kSliceBytes));
      auto kLoop = scf::ForOp::create(
          ob, loc, idx(ob, 0), cKSlices, idx(ob, 1), ValueRange{args[0]},
          [&](OpBuilder &ib, Location il, Value ks, ValueRange it) {
            Value i = it[0];
            Value kx = arith::MulIOp::create(ib, il, ks, idx(ib, kTileK));
            mk::RingAcquireOp::create(ib, il, ring, i);
            auto expect = scf::IfOp::create(ib, il, leader, false);
            {
              OpBuilder eb = OpBuilder::atBlockTerminator(expect.thenBlock());
              mk::RingExpectOp::create(eb, il, ring, i, bytes);
            }
            auto load = [&](OpBuilder &lb, Value desc, Value r, int64_t tileIdx,
                            int64_t rowOffset, StringRef hint) {
              auto op = mk::TmaLoadOp::create(
                  lb, il, desc, ValueRange{kx, r}, ring, i,
                  lb.getI64IntegerAttr(tileIdx),
                  lb.getI64IntegerAttr(rowOffset),
                  streamWeights ? lb.getStringAttr(hint) : StringAttr());
              op.setLeaderBarrier(true);
            };
            for (int64_t box = 0; box < kHalf / kXBoxRows; ++box) {
              Value has = arith::CmpIOp::create(ib, il, arith::CmpIPredicate::ugt,
                                                boxes, idx(ib, box));
              auto hasIf = scf::IfOp::create(ib, il, has, false);
              OpBuilder tb = OpBuilder::atBlockTerminator(hasIf.thenBlock());
              load(tb, tmapX,
                   arith::AddIOp::create(tb, il, row, idx(tb, box * kXBoxRows)),
                   0, box * kXBoxRows, "evict_last");
            }
            load(ib, tmapW, wRow, 1, 0, "evict_first");
            scf::YieldOp::create(
                ib, il, ValueRange{arith::AddIOp::create(ib, il, i, idx(ib, 1))});
          });
      disableUnroll(kLoop);
      return SmallVector<Value>{kLoop.getResult(0)};
    });
  }
  // MMA issuer: lane 0 of warp 1 of the even CTA.
  {
    OpBuilder::InsertionGuard g(b);
    auto role = mk::WarpRoleOp::create(
        b, loc, b.getStringAttr("mma"), b.getI64IntegerAttr(0),
        b.getI64IntegerAttr(1), IntegerAttr());
    b.setInsertionPointToStart(&role.getBody().emplaceBlock());
    Value issuer = arith::AndIOp::create(
        b, loc,
        mk::ElectOneOp::create(b, loc, b.getI1Type(), b.getI64IntegerAttr(1)),
        leader);
    auto ifOp = scf::IfOp::create(b, loc, issuer, false);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    forPairTiles(b, ValueRange{idx(b, 0), idx(b, 0)},
                 [&](OpBuilder &ob, Value t, ValueRange args) {
      Value j = args[1];
      return SmallVector<Value>{
          buildTileMmasTmem(ob, loc, ring, accs, args[0], j, t, cKSlices),
          arith::AddIOp::create(ob, loc, j, idx(ob, 1))};
    });
  }
  // Epilogue: warpgroups 1 and 2 of each CTA.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "epilogue", 1, 2, 232);
    Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
    Value firstCol = arith::MulIOp::create(b, loc, wg, idx(b, kPairCols / 2));
    forPairTiles(b, ValueRange{idx(b, 0)}, [&](OpBuilder &ob, Value t,
                                                ValueRange args) {
      Value j = args[0];
      mk::AccWaitOp::create(ob, loc, ob.getIndexType(), accs, j);
      auto d = decode(ob, t);
      Value row = arith::AddIOp::create(
          ob, loc, d.getRow(), arith::MulIOp::create(ob, loc, rank, idx(ob, kHalf)));
      Value col = arith::AddIOp::create(
          ob, loc, arith::MulIOp::create(ob, loc, d.getColTile(), idx(ob, kPairCols)),
          firstCol);
      mk::AccStoreRowsOp::create(ob, loc, accs, j, firstCol,
                                 ob.getI64IntegerAttr(kPairCols / 2), out, row,
                                 col, d.getRowEnd(), /*bias=*/Value(),
                                 /*bias_row=*/Value(), TypeAttr::get(outElem),
                                 ob.getI64IntegerAttr(n), TypeAttr(),
                                 IntegerAttr());
      mk::AccReleaseOp::create(ob, loc, accs, j);
      return SmallVector<Value>{arith::AddIOp::create(ob, loc, j, idx(ob, 1))};
    });
  }
  // No CTA leaves while its peer may still signal it.
  mk::ClusterSyncOp::create(b, loc);
}

/// The MMA issuer of a single-issuer kernel (sm_100a), lane 0 of warp 1 of
/// the producer's warpgroup: per tile of the producer's stages (tagged with
/// the tile index, until the stop mark's `total`), buildTileMmasTmem over
/// its `slicesOf(tile)` stages into the next accumulator (`perStage`: one
/// accumulator per stage). After the stop
/// mark (released) it commits one more accumulator tagged `total`.
void buildTmemIssuer(OpBuilder &b, Location loc, Value ring, Value accs,
                     Value total,
                     function_ref<Value(OpBuilder &, Value)> slicesOf,
                     bool perStage = false, bool blockScales = false) {
  OpBuilder::InsertionGuard g(b);
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  // Warpgroup 0 again, whose budget the producer's role already set.
  auto role = mk::WarpRoleOp::create(
      b, loc, b.getStringAttr("mma"), b.getI64IntegerAttr(0),
      b.getI64IntegerAttr(1), IntegerAttr());
  b.setInsertionPointToStart(&role.getBody().emplaceBlock());
  Value issuer =
      mk::ElectOneOp::create(b, loc, b.getI1Type(), b.getI64IntegerAttr(1));
  auto ifOp = scf::IfOp::create(b, loc, issuer, false);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  Type indexTy = b.getIndexType();
  auto loop =
      scf::WhileOp::create(b, loc, TypeRange{indexTy, indexTy, indexTy},
                           ValueRange{idx(b, 0), idx(b, 0)});
  {
    Block *before =
        b.createBlock(&loop.getBefore(), {}, {indexTy, indexTy}, {loc, loc});
    OpBuilder bb = OpBuilder::atBlockEnd(before);
    Value i = before->getArgument(0);
    mk::RingWaitOp::create(bb, loc, ring, i);
    Value t = mk::RingTagOp::create(bb, loc, indexTy, ring, i);
    Value more =
        arith::CmpIOp::create(bb, loc, arith::CmpIPredicate::ult, t, total);
    scf::ConditionOp::create(bb, loc, more,
                             ValueRange{i, before->getArgument(1), t});
  }
  {
    Block *after = b.createBlock(&loop.getAfter(), {},
                                 {indexTy, indexTy, indexTy}, {loc, loc, loc});
    OpBuilder ab = OpBuilder::atBlockEnd(after);
    Value j = after->getArgument(1), t = after->getArgument(2);
    Value slices = slicesOf(ab, t);
    Value next = buildTileMmasTmem(ab, loc, ring, accs, after->getArgument(0),
                                   j, t, slices, perStage, blockScales);
    scf::YieldOp::create(
        ab, loc,
        ValueRange{next, arith::AddIOp::create(ab, loc, j,
                                               perStage ? slices : idx(ab, 1))});
  }
  b.setInsertionPointAfter(loop);
  // The stop mark: its stage, and an accumulator that tells the epilogue.
  mk::RingReleaseOp::create(b, loc, ring, loop.getResult(0));
  mk::AccAcquireOp::create(b, loc, accs, loop.getResult(1));
  mk::AccCommitOp::create(b, loc, accs, loop.getResult(1), total);
}

/// The epilogue loop of a single-issuer kernel, in the current role: waits
/// for each accumulator j (moek.acc_wait), runs `body(tile, j)` and frees
/// it (moek.acc_release), until the tag `total`.
void buildTmemEpilogue(OpBuilder &b, Location loc, Value accs, Value total,
                       function_ref<void(OpBuilder &, Value, Value)> body) {
  buildTileIndexLoop(
      b, loc, total,
      [&](OpBuilder &bb, Value j) -> Value {
        return mk::AccWaitOp::create(bb, loc, bb.getIndexType(), accs, j);
      },
      [&](OpBuilder &ab, Value t, Value j) -> Value {
        body(ab, t, j);
        mk::AccReleaseOp::create(ab, loc, accs, j);
        return arith::AddIOp::create(
            ab, loc, j, arith::ConstantIndexOp::create(ab, loc, 1));
      });
}

/// The single-issuer roles of the grouped matmul on sm_100a (Blackwell's
/// kernel shape), beside the producer of warpgroup 0: the MMA issuer
/// (buildTmemIssuer: 128 x tileN MMAs, `cKSlices` stages a tile) and the
/// epilogue, warpgroups 1 and 2, half of the tile's columns each
/// (moek.acc_store_rows: thread r stores row r), while the next tile's
/// MMAs run. `blockScales`: the MMAs take the scales of tiles 2 and 3.
template <typename DecodeFn>
void buildSingleIssuerRoles(OpBuilder &b, Location loc, Value ring,
                            Value numTiles, Value cKSlices, int64_t tileN,
                            Value out, Type outElem, int64_t n,
                            DecodeFn decode, bool blockScales = false,
                            Value bias = Value(), Type biasType = Type()) {
  MLIRContext *ctx = b.getContext();
  auto accsType =
      mk::AccRingType::get(ctx, kTmemAccs, 128, tileN, b.getF32Type());
  Value accs = mk::AccRingAllocOp::create(b, loc, accsType,
                                          b.getI64IntegerAttr(256));
  buildTmemIssuer(
      b, loc, ring, accs, numTiles,
      [&](OpBuilder &, Value) { return cKSlices; }, /*perStage=*/false,
      blockScales);
  OpBuilder::InsertionGuard g(b);
  beginRole(b, loc, "epilogue", 1, 2, 232);
  Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
  Value firstCol = arith::MulIOp::create(
      b, loc, wg, arith::ConstantIndexOp::create(b, loc, tileN / 2));
  buildTmemEpilogue(b, loc, accs, numTiles,
                    [&](OpBuilder &ob, Value t, Value j) {
    auto d = decode(ob, t);
    Value col = arith::AddIOp::create(
        ob, loc,
        arith::MulIOp::create(ob, loc, d.getColTile(),
                              arith::ConstantIndexOp::create(ob, loc, tileN)),
        firstCol);
    // A per-expert bias: the tile's expert's row.
    mk::AccStoreRowsOp::create(
        ob, loc, accs, j, firstCol, ob.getI64IntegerAttr(tileN / 2), out,
        d.getRow(), col, d.getRowEnd(), bias,
        bias ? d.getExpert() : Value(), TypeAttr::get(outElem),
        ob.getI64IntegerAttr(n), bias ? TypeAttr::get(biasType) : TypeAttr(),
        bias ? ob.getI64IntegerAttr(n) : IntegerAttr());
  });
}

/// The single-issuer roles of the block-scaled FP8 grouped matmul on
/// sm_100a (128 x 128 tiles, one 128-wide K block a stage): the MMA issuer
/// puts each K block's product into an accumulator of its own (four, so
/// that the MMAs run up to three blocks ahead of the epilogue), and the
/// epilogue warpgroups, 64 of the tile's columns each, promote them in
/// order into registers (moek.acc_promote_rows: DeepGEMM's promotion by
/// the row's and the weight block's scales, one row per thread) and store
/// the sum (moek.store_thread_row).
template <typename DecodeFn>
void buildScaledSingleIssuerRoles(OpBuilder &b, Location loc, Value ring,
                                  Value numTiles, Value cKBlocks, Value xs,
                                  Value ws, int64_t nBlocks, int64_t kBlocks,
                                  Value out, Type outElem, int64_t n,
                                  DecodeFn decode) {
  MLIRContext *ctx = b.getContext();
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  auto accsType = mk::AccRingType::get(ctx, 4, 128, 128, b.getF32Type());
  Value accs = mk::AccRingAllocOp::create(b, loc, accsType,
                                          b.getI64IntegerAttr(256));
  buildTmemIssuer(
      b, loc, ring, accs, numTiles,
      [&](OpBuilder &, Value) { return cKBlocks; }, /*perStage=*/true);
  OpBuilder::InsertionGuard g(b);
  beginRole(b, loc, "epilogue", 1, 2, 192);
  Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
  Value first = arith::MulIOp::create(b, loc, wg, idx(b, 64));
  auto vecTy = VectorType::get({64}, b.getF32Type());
  buildTileIndexLoop(
      b, loc, numTiles,
      [&](OpBuilder &bb, Value j) -> Value {
        return mk::AccWaitOp::create(bb, loc, bb.getIndexType(), accs, j);
      },
      [&](OpBuilder &ob, Value t, Value j) -> Value {
        auto d = decode(ob, t);
        // ws[e][col / 128][kb]: the tile's 128 columns are one N block.
        Value wsBase = arith::MulIOp::create(
            ob, loc,
            arith::AddIOp::create(
                ob, loc,
                arith::MulIOp::create(ob, loc, d.getExpert(), idx(ob, nBlocks)),
                d.getColTile()),
            idx(ob, kBlocks));
        Value zero = arith::ConstantOp::create(
            ob, loc, DenseElementsAttr::get(vecTy, ob.getF32FloatAttr(0.0f)));
        // Block kb's product is accumulator j + kb (its first one waited
        // for by the loop: the wait passes again).
        auto blocks = scf::ForOp::create(
            ob, loc, idx(ob, 0), cKBlocks, idx(ob, 1), ValueRange{zero},
            [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
              Value jj = arith::AddIOp::create(ib, il, j, kb);
              mk::AccWaitOp::create(ib, il, ib.getIndexType(), accs, jj);
              Value v = mk::AccPromoteRowsOp::create(
                  ib, il, vecTy, accs, jj, first, it[0], xs, d.getRow(), kb,
                  ws, arith::AddIOp::create(ib, il, wsBase, kb),
                  d.getRowEnd(), ib.getI64IntegerAttr(kBlocks));
              mk::AccReleaseOp::create(ib, il, accs, jj);
              scf::YieldOp::create(ib, il, ValueRange{v});
            });
        disableUnroll(blocks);
        mk::StoreThreadRowOp::create(
            ob, loc, blocks.getResult(0), out, d.getRow(),
            arith::AddIOp::create(
                ob, loc, arith::MulIOp::create(ob, loc, d.getColTile(),
                                               idx(ob, 128)),
                first),
            d.getRowEnd(), TypeAttr::get(outElem), ob.getI64IntegerAttr(n));
        return arith::AddIOp::create(ob, loc, j, cKBlocks);
      });
}

/// Auto row_group: the row blocks that share a weight column panel while it
/// is in L2. Up to 8 (Triton's GROUP_M), fewer when the group's activation
/// rows would take more than 16 MiB of the 50 MiB L2.
int64_t autoRowGroup(ExpertMatmulOp op, int64_t tileRows) {
  RankedTensorType x = op.getX().getType();
  int64_t rowBytes =
      x.getDimSize(1) * std::max<int64_t>(1, x.getElementTypeBitWidth() / 8);
  int64_t fit = (int64_t(16) << 20) / std::max<int64_t>(1, tileRows * rowBytes);
  return std::clamp<int64_t>(fit, 1, 8);
}

/// A producer warp's copies of one tile of a block-scaled (MXFP8 x MXFP4)
/// ring, from ring iteration `iter` (tagged `tile`): per 128-wide K block,
/// lane `leader` copies rows [row, rowEnd) of `tmapA` (e4m3) into tile 0
/// and the `bBoxRows`-row boxes at `bRows` of `tmapB` (e2m1, TMA's padded
/// form) into tile 1, counting the 64 packed bytes a weight row reads
/// (DeepGEMM's sm100 FP8 x FP4 kernels expect half the padded tile), and
/// every lane stages the K block's UE8M0 scales: the rows' from `aScales`
/// (rows past rowEnd clamped to its last) into tile 2, the weights' from
/// `bScales` at bRows[0] (with `bUpper`, the second half from bRows[1];
/// `bScaleRows` rows in all) into tile 3, `kDim / 32` bytes a row, then
/// arrives once its copies land. Returns the iteration after the tile.
Value buildBlockScaledTileLoads(OpBuilder &ob, Location loc, Value ring,
                                Value leader, Value tile, Value iter,
                                Value tmapA, Value aScales, Value row,
                                Value rowEnd, Value tmapB, Value bScales,
                                ArrayRef<Value> bRows, int64_t bBoxRows,
                                bool bUpper, int64_t bScaleRows, int64_t kDim,
                                Value slices, bool streamWeights) {
  Value lastRow = arith::SubIOp::create(
      ob, loc, rowEnd, arith::ConstantIndexOp::create(ob, loc, 1));
  auto scales = [&](OpBuilder &hb, Location hl, Value i, Value ks) {
    mk::StageScalesOp::create(hb, hl, ring, i, hb.getI64IntegerAttr(2),
                              aScales, row, ks, Value(), lastRow,
                              hb.getI64IntegerAttr(kDim / 32));
    mk::StageScalesOp::create(
        hb, hl, ring, i, hb.getI64IntegerAttr(3), bScales, bRows[0], ks,
        bUpper ? bRows[1] : Value(),
        arith::ConstantIndexOp::create(hb, hl, bScaleRows - 1),
        hb.getI64IntegerAttr(kDim / 32));
    mk::RingArriveCopiesOp::create(hb, hl, ring, i);
  };
  return buildTileLoads(ob, loc, ring, tmapA, row, rowEnd, 128, tmapB, bRows,
                        slices, iter, streamWeights, tile, kTileKFp8,
                        /*boxPerTile=*/false, /*bTile=*/1,
                        /*bRowBytes=*/kTileKFp8 / 2, /*bPacked=*/false,
                        /*aTile=*/0, /*aRowBytes=*/kSliceBytes, leader, scales,
                        bBoxRows);
}

/// The grouped matmul of MXFP8 rows by MXFP4 weights on sm_100a
/// (DeepGEMM's Blackwell formats; isMxfp8Mxfp4), in the single-issuer
/// shape with the tensor cores applying both operands' UE8M0 scales:
/// 128 x 128 tiles, one 128-wide K block a stage of [rows 128 x 128 e4m3
/// (128B swizzle), weights 128 x 128 i8 (e2m1 in tcgen05's padded form:
/// TMA's 16U4_ALIGN16B, fp4_padded), the rows' scales, the weights'
/// scales (512 bytes each, tcgen05.cp's layout)].
///  * producer warp (warp 0 of warpgroup 0, all lanes): tiles from the
///    dynamic scheduler (moek.fetch_add {warp}); per stage lane 0 tags it,
///    expects its bytes and issues the TMA copies, then every lane copies
///    its share of the rows' and the weights' scales (moek.stage_scales,
///    cp.async) and arrives once they land (moek.ring_arrive_copies): the
///    full barrier counts 1 + 32 arrivals;
///  * MMA issuer (lane 0 of warp 1): per stage, both scale blocks into the
///    stage's tensor-memory columns and four block-scaled MMAs (moek.mma_tmem
///    {a_scales, b_scales}) into one of two 128 x 128 accumulators;
///  * epilogue (warpgroups 1 and 2): 64 columns each, as the bf16 kernel.
/// No promotion: the accumulator holds the product of the dequantized
/// operands.
LLVM::LLVMFuncOp buildBlockScaledKernel(OpBuilder &b, Location loc,
                                        StringRef name, ExpertMatmulOp op,
                                        const KernelConfig &config) {
  MLIRContext *ctx = b.getContext();
  constexpr int64_t kTile = 128;
  RankedTensorType w = op.getWeight().getType();
  int64_t e = w.getDimSize(0), n = w.getDimSize(1), k = w.getDimSize(2);
  Type outElem = op.getOut().getType().getElementType();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  // TMA descriptors of the rows and weights, offsets, the rows' and the
  // weights' scales, output, workspace (the tile counter).
  SmallVector<Type> params{ptr, ptr, gptr, gptr, gptr, gptr, gptr};
  auto func = createKernelFunc(
      b, loc, name, params, /*numTma=*/2,
      buildAbi(b, e, n, k, kTileKFp8, /*scaled=*/false, /*fp4=*/false,
               /*globalScale=*/false, /*mxfp8=*/true,
               /*blockScaledFp4=*/true),
      {b.getNamedAttr("bytes", b.getI64IntegerAttr(256)),
       b.getNamedAttr("zero_bytes", b.getI64IntegerAttr(16))});
  Block *entry = func.addEntryBlock(b);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Value tmapX = entry->getArgument(0), tmapW = entry->getArgument(1);
  Value offsets = entry->getArgument(2), xs = entry->getArgument(3),
        ws = entry->getArgument(4), out = entry->getArgument(5),
        nextTile = entry->getArgument(6);
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  auto i8 = b.getIntegerType(8);
  auto tile = [&](int64_t cols, Type elem) {
    return MemRefType::get({kTile, cols}, elem, AffineMap(),
                           b.getI64IntegerAttr(3));
  };
  auto ringType = mk::RingType::get(
      ctx, config.stages,
      {tile(kTileKFp8, b.getType<Float8E4M3FNType>()), tile(kTileKFp8, i8),
       tile(4, i8), tile(4, i8)});
  // Full barriers: moek.ring_expect's arrival and the 32 lanes' copies;
  // empty: the MMAs' commit.
  auto alloc = mk::RingAllocOp::create(b, loc, ringType, b.getI64IntegerAttr(1));
  alloc.setProducers(33);
  Value ring = alloc;
  IntegerAttr numE = b.getI64IntegerAttr(e), tileRows = b.getI64IntegerAttr(kTile),
              colTiles = b.getI64IntegerAttr(n / kTile);
  Value numTiles = mk::GroupedTileCountOp::create(b, loc, b.getIndexType(),
                                                  offsets, numE, tileRows,
                                                  colTiles);
  auto decode = [&](OpBuilder &ob, Value t) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE,
                                     tileRows, colTiles,
                                     ob.getI64IntegerAttr(config.rowGroup));
  };
  Value cKBlocks = idx(b, k / kTileKFp8);

  // Producer warp.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, 56);
    Value leader = beginProducerThreads(b, loc, /*warp=*/true);
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, numTiles, /*producer=*/true,
        [&](OpBuilder &ob, Value t, Value iter) {
          auto d = decode(ob, t);
          Value wRow = arith::AddIOp::create(
              ob, loc, arith::MulIOp::create(ob, loc, d.getExpert(), idx(ob, n)),
              arith::MulIOp::create(ob, loc, d.getColTile(), idx(ob, kTile)));
          return buildBlockScaledTileLoads(
              ob, loc, ring, leader, t, iter, tmapX, xs, d.getRow(),
              d.getRowEnd(), tmapW, ws, {wRow}, kWBoxRows, /*bUpper=*/false,
              e * n, k, cKBlocks, config.streamWeights);
        },
        /*producerWarp=*/true);
    buildStopMark(b, loc, ring, last, numTiles, leader);
  }
  buildSingleIssuerRoles(b, loc, ring, numTiles, cKBlocks, kTile, out,
                         outElem, n, decode, /*blockScales=*/true);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

LLVM::LLVMFuncOp buildKernel(OpBuilder &b, Location loc, StringRef name,
                             ExpertMatmulOp op, const KernelConfig &config) {
  if (isMxfp8Mxfp4(op))
    return buildBlockScaledKernel(b, loc, name, op, config);
  int64_t stages = config.stages, kTileN = config.tileN,
          kTileM = config.tileM;
  MLIRContext *ctx = b.getContext();
  RankedTensorType w = op.getWeight().getType();
  int64_t e = w.getDimSize(0), n = w.getDimSize(1), k = w.getDimSize(2);
  Type outElem = op.getOut().getType().getElementType();

  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  bool scaled = isFp8Block(op);
  // MXFP4 weights: copied packed into tile 2 of each stage, expanded into
  // tile 1 by the MMA warpgroups (moek.dequant_fp4) before their MMAs.
  bool fp4 = isMxfp4Weights(op), nvfp4 = isNvfp4Weights(op);
  bool globalScale = nvfp4 && op.getWGlobalScale();
  // MXFP8 rows and weights: copied as e4m3 into tiles 3 and 2, both
  // expanded to bf16 (tiles 0 and 1) by the MMA warpgroups
  // (moek.dequant_mxfp8) before their MMAs.
  bool mxfp8 = isMxfp8(op);
  int64_t sliceK = scaled ? kTileKFp8 : kTileK;
  // The bf16 cooperative kernels store their rows by TMA through shared
  // memory (moek.store_acc_tma, over a third descriptor, the output's):
  // what the 227 KB leave after the stages, 1 KB of alignment and the
  // static shared memory (a prefix sum of 4 bytes an expert and the
  // barriers) holds two 8 KB staging halves a warpgroup (32 KB: four 48 KB
  // stages) or one (16 KB: the 192-row variant's five 40 KB stages).
  // Every bf16 kernel of the family takes the descriptor (a kernel's
  // variants share one parameter ABI); the others ignore it.
  bool outTma = !scaled && !fp4 && !mxfp8 && outElem.isBF16() && n % 8 == 0;
  int64_t stageBytes = (kTileM + kTileN) * sliceK * 2;
  int64_t stagingHalves =
      stagingHalvesBeside(stages * stageBytes + 1024 + 4 * (e + 1) + 256);
  bool storeTma = outTma && !config.pingpong && !config.singleIssuer &&
                  !config.ctaPair && kTileN % 128 == 0 && stagingHalves > 0;
  // The transposed product: bf16 operands and output, no bias (per
  // weight row there), stored by TMA; 64 weight rows a warpgroup.
  bool transposed = config.transposed && storeTma && !op.getBias() &&
                    !config.clusterCols && kTileN == 128 && kTileM == 192;
  // TMA descriptors of the rows and weights[, of the output], offsets,
  // [row scales, weight scales | FP4 weight scales[, NVFP4 global
  // scales],] output, workspace.
  SmallVector<Type> params{ptr, ptr};
  if (outTma)
    params.push_back(ptr);
  params.append({gptr, gptr, gptr});
  if (scaled || mxfp8)
    params.append({gptr, gptr});
  if (fp4)
    params.push_back(gptr);
  if (globalScale)
    params.push_back(gptr);
  // A per-expert bias: the launch's operand after the scales.
  bool bias = bool(op.getBias());
  int64_t biasOperand = 3 + (scaled || mxfp8 ? 2 : 0) + fp4 + globalScale;
  if (bias)
    params.push_back(gptr);
  ArrayAttr abi = buildAbi(b, e, n, k, sliceK, scaled, fp4, globalScale,
                           mxfp8, /*blockScaledFp4=*/false, outTma,
                           bias ? biasOperand : -1);
  unsigned numTma = outTma ? 3 : 2;
  // Workspace: the tile counter in its first 16 bytes, zeroed before each
  // launch.
  auto func = createKernelFunc(
      b, loc, name, params, numTma, abi,
      {b.getNamedAttr("bytes", b.getI64IntegerAttr(256)),
       b.getNamedAttr("zero_bytes", b.getI64IntegerAttr(16))});

  // CTA pairs and shared rings run in clusters of two.
  if (config.ctaPair || config.clusterCols) {
    NamedAttrList launch(func->getAttrOfType<DictionaryAttr>("moek.launch"));
    launch.set("cluster", b.getI64IntegerAttr(2));
    func->setAttr("moek.launch", launch.getDictionary(ctx));
  }
  Block *entry = func.addEntryBlock(b);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Value tmapX = entry->getArgument(0), tmapW = entry->getArgument(1),
        tmapOut = outTma ? entry->getArgument(2) : Value();
  // Argument n after the descriptors (the offsets are 0).
  auto arg = [&](unsigned i) { return entry->getArgument(numTma + i); };
  Value offsets = arg(0);
  unsigned outArg = scaled || mxfp8 || globalScale ? 3 : fp4 ? 2 : 1;
  Value biasArg = bias ? arg(outArg) : Value();
  outArg += bias;
  Value out = arg(outArg);
  Value nextTile = arg(outArg + 1);
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value c0 = idx(0), cTileN = idx(kTileN);
  Value cN = idx(n), cKSlices = idx(k / sliceK);
  // Block-scaled: N and K blocks of the weight scales.
  Value cNBlocks = idx(n / 128), cKBlocks = idx(k / 128);

  if (config.ctaPair) {
    buildCtaPairRoles(b, loc, tmapX, tmapW, offsets, out, outElem, e, n, k,
                      stages, config.rowGroup, config.streamWeights);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }
  Type tileElem = scaled ? Type(b.getType<Float8E4M3FNType>()) : b.getBF16Type();
  auto tile = [&](int64_t rows) {
    return MemRefType::get({rows, sliceK}, tileElem, AffineMap(),
                           b.getI64IntegerAttr(3));
  };
  SmallVector<Type> tiles{tile(kTileM), tile(kTileN)};
  if (fp4)
    tiles.push_back(MemRefType::get({kTileN, sliceK},
                                    b.getType<Float4E2M1FNType>(), AffineMap(),
                                    b.getI64IntegerAttr(3)));
  if (mxfp8)
    for (int64_t rows : {kTileN, kTileM})
      tiles.push_back(MemRefType::get({rows, sliceK},
                                      b.getType<Float8E4M3FNType>(),
                                      AffineMap(), b.getI64IntegerAttr(3)));
  auto ringType = mk::RingType::get(ctx, stages, tiles);
  // The transposed product's accumulators: 64 weight rows by the tile's
  // tokens.
  auto accType =
      mk::AccType::get(ctx, 64, transposed ? kTileM : kTileN, b.getF32Type());
  // One ring. Cooperative: both MMA warpgroups read and release every
  // stage (256 arrivals); pingpong: the warpgroup of the stage's tile (128).
  // Single issuer: the MMAs' commit frees each stage (1).
  auto ringAlloc = mk::RingAllocOp::create(
      b, loc, ringType,
      b.getI64IntegerAttr(config.singleIssuer ? 1
                          : config.pingpong   ? 128
                                              : 256));
  if (config.clusterCols)
    ringAlloc.setCluster(2);
  Value ring = ringAlloc;
  Value outStaging = storeTma ? allocStaging(b, loc, stagingHalves) : Value();

  // Clusters of two CTAs on column tiles: the scheduler's tiles are pairs
  // of column tiles, CTA r of the cluster taking column tile 2 c + r of
  // pair c. With an odd number of column tiles, the last pair's second is
  // the last column tile again: both CTAs compute it and store the same
  // values (a branch or a select on the rank around the stores instead
  // makes ptxas serialize the wgmmas).
  bool clusterCols = config.clusterCols;
  int64_t nColTiles = llvm::divideCeil(n, kTileN);
  IntegerAttr numE = b.getI64IntegerAttr(e), tileRows = b.getI64IntegerAttr(kTileM),
              colTiles = b.getI64IntegerAttr(
                  clusterCols ? llvm::divideCeil(nColTiles, 2) : nColTiles);
  Value numTiles = mk::GroupedTileCountOp::create(b, loc, b.getIndexType(),
                                                  offsets, numE, tileRows,
                                                  colTiles);
  Value bid = mk::BlockIdOp::create(b, loc, b.getIndexType());
  Value grid = mk::GridSizeOp::create(b, loc, b.getIndexType());
  Value rank = clusterCols
                   ? mk::ClusterRankOp::create(b, loc, b.getIndexType())
                   : Value();
  // The tile's column tile.
  auto colTileOf = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    if (!clusterCols)
      return d.getColTile();
    Value c = arith::AddIOp::create(
        ob, loc,
        arith::MulIOp::create(ob, loc, d.getColTile(),
                              arith::ConstantIndexOp::create(ob, loc, 2)),
        rank);
    if (nColTiles % 2)
      c = arith::MinUIOp::create(
          ob, loc, c, arith::ConstantIndexOp::create(ob, loc, nColTiles - 1));
    return c;
  };
  auto decode = [&](OpBuilder &ob, Value t) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE,
                                     tileRows, colTiles,
                                     ob.getI64IntegerAttr(config.rowGroup));
  };

  // Producer: warpgroup 0, one thread issues every copy. The block-scaled
  // single-issuer kernel's MMA issuer shares the warpgroup: with 40 to 64
  // registers ptxas spilled (64 bytes; K = 128 with 64), with 72 not; 80
  // (and 192 for the epilogue: 128 x 80 + 256 x 192 <= 64K) for a margin.
  bool wideProducer = config.singleIssuer && scaled;
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, wideProducer ? 80 : 40);
    Value leader = mk::ElectOneOp::create(b, loc, b.getI1Type());
    auto ifOp = scf::IfOp::create(b, loc, leader, false);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    // Loads the K slices of one tile into the ring from iteration `i0`;
    // returns the iteration after the last.
    auto loadTile = [&](OpBuilder &ob, Location l, Value i0,
                        mk::GroupedTileOp d, Value tag) -> Value {
      Value wrow = arith::AddIOp::create(
          ob, l, arith::MulIOp::create(ob, l, d.getExpert(), cN),
          arith::MulIOp::create(ob, l, colTileOf(ob, d), cTileN));
      // The weights in boxes of 128 rows (two for 256-wide tiles), so that
      // every tile shape uses the same TMA descriptors.
      SmallVector<Value> wRows;
      for (int64_t box = 0; box < kTileN / kWBoxRows; ++box)
        wRows.push_back(arith::AddIOp::create(
            ob, l, wrow, arith::ConstantIndexOp::create(ob, l, box * kWBoxRows)));
      return buildTileLoads(ob, l, ring, tmapX, d.getRow(), d.getRowEnd(),
                            kTileM, tmapW, wRows, cKSlices, i0,
                            config.streamWeights, tag, sliceK,
                            /*boxPerTile=*/false, fp4 || mxfp8 ? 2 : 1,
                            fp4 ? sliceK / 2 : mxfp8 ? sliceK : kSliceBytes,
                            fp4, /*aTile=*/mxfp8 ? 3 : 0,
                            /*aRowBytes=*/mxfp8 ? sliceK : kSliceBytes,
                            /*leader=*/Value(), /*stageHook=*/nullptr,
                            kWBoxRows, /*shareRank=*/rank);
    };
    if (clusterCols) {
      // The cluster's pairs in a static order (both CTAs take the same
      // ones), each stage tagged with its pair; then the stop mark.
      Value cluster = arith::DivUIOp::create(b, loc, bid, idx(2));
      Value clusters = arith::DivUIOp::create(b, loc, grid, idx(2));
      auto loop = scf::ForOp::create(
          b, loc, cluster, numTiles, clusters, ValueRange{c0},
          [&](OpBuilder &ob, Location l, Value t, ValueRange it) {
            Value end = loadTile(ob, l, it[0], decode(ob, t), t);
            scf::YieldOp::create(ob, l, ValueRange{end});
          });
      buildStopMark(b, loc, ring, loop.getResult(0), numTiles);
    } else if (config.pingpong) {
      // Every tile's K slices, in the CTA's static tile order (the MMA
      // warpgroups alternate tiles), into the one ring.
      scf::ForOp::create(
          b, loc, bid, numTiles, grid, ValueRange{c0},
          [&](OpBuilder &ob, Location l, Value t, ValueRange it) {
            Value end = loadTile(ob, l, it[0], decode(ob, t), Value());
            scf::YieldOp::create(ob, l, ValueRange{end});
          });
    } else {
      // Tiles from the dynamic scheduler, each stage tagged with its tile.
      Value last = buildScheduledTiles(
          b, loc, ring, nextTile, numTiles, /*producer=*/true,
          [&](OpBuilder &ob, Value t, Value iter) {
            return loadTile(ob, loc, iter, decode(ob, t), t);
          });
      buildStopMark(b, loc, ring, last, numTiles);
    }
  }

  if (config.singleIssuer && scaled) {
    buildScaledSingleIssuerRoles(b, loc, ring, numTiles, cKSlices,
                                 entry->getArgument(3), entry->getArgument(4),
                                 n / 128, k / kTileKFp8, out, outElem, n,
                                 decode);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }
  if (config.singleIssuer) {
    buildSingleIssuerRoles(
        b, loc, ring, numTiles, cKSlices, kTileN, out, outElem, n, decode,
        /*blockScales=*/false, biasArg,
        bias ? biasElementType(op.getBias()) : Type());
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }
  if (config.pingpong) {
    buildPingpongConsumers(b, loc, ring, accType, out, outElem, n, numTiles,
                           bid, grid, cKSlices, cTileN, decode,
                           config.pipelineMma);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }
  // Consumers: warpgroups 1 and 2, half of each tile's rows each.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "consumer", 1, 2, 232);
    Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
    // 192-row tiles: two 64-row accumulators a warpgroup too, the second
    // warpgroup's second past the tile (never active: the tile's row
    // limit below ends at its 192nd row).
    unsigned numAccs = kTileM == 192 ? 2 : kTileM / 128;
    Value aRow = arith::MulIOp::create(b, loc, wg,
                                       idx(kTileM == 192 ? 128 : kTileM / 2));
    Value wgStaging, storeBarrier;
    if (storeTma)
      std::tie(wgStaging, storeBarrier) =
          warpgroupStaging(b, loc, outStaging, wg, stagingHalves);
    Value second =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, idx(1));
    if (scaled)
      beginTurns(b, loc, second);
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, numTiles, /*producer=*/false,
        [&](OpBuilder &ob, Value t, Value iter) {
          Location l = loc;
          auto d = decode(ob, t);
          Value row = arith::AddIOp::create(ob, l, d.getRow(), aRow);
          Value col = arith::MulIOp::create(ob, l, colTileOf(ob, d), cTileN);
          if (scaled) {
            // One 64-row accumulator per warpgroup (128 x 128 tiles); a
            // warpgroup without rows only passes the stages.
            TileScales ts;
            ts.xs = entry->getArgument(3);
            ts.ws = entry->getArgument(4);
            ts.kBlocks = k / kTileKFp8;
            // ws[e][col / 128][0]: the tile's 128 columns are one N block.
            ts.wsBase = arith::MulIOp::create(
                ob, l,
                arith::AddIOp::create(
                    ob, l,
                    arith::MulIOp::create(ob, l, d.getExpert(), cNBlocks),
                    d.getColTile()),
                cKBlocks);
            Value active = arith::CmpIOp::create(
                ob, l, arith::CmpIPredicate::ult, row, d.getRowEnd());
            SmallVector<Type> types{accType, ob.getIndexType()};
            // One copy per warpgroup: the turns' barriers are constants.
            auto perWg = scf::IfOp::create(ob, l, types, second, true);
            for (int64_t w = 0; w < 2; ++w) {
              OpBuilder wb = OpBuilder::atBlockEnd(w == 0 ? perWg.elseBlock()
                                                          : perWg.thenBlock());
              auto ifOp = scf::IfOp::create(wb, l, types, active, true);
              {
                OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
                auto [acc, next] = buildScaledMmaLoop(
                    tb, l, ring, accType, aRow, row, d.getRowEnd(), ts,
                    cKSlices, iter, /*bTile=*/1, turnsOf(w));
                scf::YieldOp::create(tb, l, ValueRange{acc, next});
              }
              {
                OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
                Value next =
                    buildPassLoop(eb, l, ring, cKSlices, iter, turnsOf(w));
                scf::YieldOp::create(
                    eb, l,
                    ValueRange{mk::MmaZeroOp::create(eb, l, accType), next});
              }
              scf::YieldOp::create(wb, l, ifOp.getResults());
            }
            SmallVector<Value> accs{perWg.getResult(0)};
            addBias(ob, l, accs, biasArg, op.getBias(), d.getExpert(), col,
                    Value(), n % kTileN == 0);
            storeAccs(ob, l, accs, out, row, col, d.getRowEnd(), outElem, n);
            return perWg.getResult(1);
          }
          // FP4: both warpgroups expand each stage's weights (tile 2 into
          // tile 1, half the chunks each) before either's MMAs; named
          // barrier 7 joins them. NVFP4: 16-value blocks of e4m3 scales.
          Value wRow = fp4 || mxfp8
                           ? arith::AddIOp::create(
                                 ob, l,
                                 arith::MulIOp::create(ob, l, d.getExpert(), cN),
                                 col)
                           : Value();
          Value scales = fp4 ? entry->getArgument(3) : Value();
          auto dequant = [&](OpBuilder &hb, Location hl, Value i, Value ks) {
            expandFp4Weights(hb, hl, ring, i, ks, scales, wRow, Value(), e * n,
                             k, nvfp4);
          };
          // MXFP8: both warpgroups expand the stage's rows (tile 3 into 0,
          // scales from the tile's first row, those of rows past the
          // expert's end clamped to its last) and weights (tile 2 into 1),
          // each followed by named barrier 7 over both.
          Value rowEnd = d.getRowEnd();
          auto dequantMxfp8 = [&](OpBuilder &hb, Location hl, Value i,
                                  Value ks) {
            Value kb = arith::MulIOp::create(
                hb, hl, ks, arith::ConstantIndexOp::create(hb, hl, 2));
            auto expand = [&](int64_t from, int64_t to, Value scalesArg,
                              Value first, Value limit) {
              mk::DequantMxfp8Op::create(
                  hb, hl, ring, i, hb.getI64IntegerAttr(from),
                  hb.getI64IntegerAttr(to), scalesArg, first, kb, limit,
                  /*upper_row=*/Value(), hb.getI64IntegerAttr(k / 32),
                  hb.getI64IntegerAttr(256),
                  hb.getI64IntegerAttr(128), hb.getI64IntegerAttr(7));
            };
            expand(3, 0, entry->getArgument(3), d.getRow(), rowEnd);
            expand(2, 1, entry->getArgument(4), wRow,
                   arith::ConstantIndexOp::create(hb, hl, e * n));
          };
          StageHook hook;
          if (fp4)
            hook = dequant;
          if (mxfp8)
            hook = dequantMxfp8;
          // 64-row accumulators past the expert's last row issue no MMAs
          // (in the last row block of an expert), so the other warpgroup
          // gets the tensor cores to itself.
          Value tileEnd =
              kTileM == 192
                  ? arith::MinUIOp::create(
                        ob, l, rowEnd,
                        arith::AddIOp::create(
                            ob, l, d.getRow(),
                            arith::ConstantIndexOp::create(ob, l, kTileM)))
                  : rowEnd;
          if (transposed) {
            // The transposed product: warpgroup w's 64 weight rows (tile 1
            // from row 64 w) by the tile's tokens (tile 0), over the first
            // N of them, N the tokens rounded up to kTransposedStep (one K
            // loop per N, chosen per tile); stored transposed.
            Value rows = arith::SubIOp::create(ob, l, tileEnd, d.getRow());
            Value wRow = arith::MulIOp::create(ob, l, wg, idx(64));
            // The K loop over the first `cols` tokens (all: no cols).
            auto loopOver = [&](OpBuilder &cb,
                                int64_t cols) -> std::pair<Value, Value> {
              auto [accs, next] = buildMmaLoop(
                  cb, l, ring, accType, {wRow}, cKSlices, iter,
                  config.pipelineMma, nullptr, cols < kTileM ? cols : 0,
                  /*aTile=*/1, /*bTile=*/0);
              return {accs[0], next};
            };
            std::function<std::pair<Value, Value>(OpBuilder &, int64_t)>
                chooseN = [&](OpBuilder &cb,
                              int64_t cols) -> std::pair<Value, Value> {
              if (cols >= kTileM)
                return loopOver(cb, cols);
              Value fits = arith::CmpIOp::create(
                  cb, l, arith::CmpIPredicate::ule, rows,
                  arith::ConstantIndexOp::create(cb, l, cols));
              auto ifOp = scf::IfOp::create(
                  cb, l, TypeRange{accType, cb.getIndexType()}, fits, true);
              {
                OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
                auto [acc, next] = loopOver(tb, cols);
                scf::YieldOp::create(tb, l, ValueRange{acc, next});
              }
              {
                OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
                auto [acc, next] = chooseN(eb, cols + kTransposedStep);
                scf::YieldOp::create(eb, l, ValueRange{acc, next});
              }
              return {ifOp.getResult(0), ifOp.getResult(1)};
            };
            auto mmasAndStore = [&](OpBuilder &cb) -> Value {
              auto [acc, next] = chooseN(cb, kTransposedStep);
              mk::StoreAccTmaOp::create(
                  cb, l, acc, tmapOut, wgStaging, out, d.getRow(),
                  arith::AddIOp::create(cb, l, col, wRow), tileEnd,
                  storeBarrier, cb.getI64IntegerAttr(stagingHalves),
                  cb.getI64IntegerAttr(n), /*transposed=*/cb.getUnitAttr());
              return next;
            };
            // Where the last column tile holds at most 64 weight rows (N =
            // 2880: 64 of 128), the second warpgroup's are all past N: it
            // only passes the stages and stores nothing (the transposed
            // product's form of narrow-tiles, off with it).
            if (!config.narrowTiles || n % kTileN == 0 || n % kTileN > 64)
              return mmasAndStore(ob);
            Value active = arith::CmpIOp::create(
                ob, l, arith::CmpIPredicate::ult,
                arith::AddIOp::create(ob, l, col, wRow), idx(n));
            auto ifOp =
                scf::IfOp::create(ob, l, TypeRange{ob.getIndexType()}, active,
                                  /*withElseRegion=*/true);
            {
              OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
              scf::YieldOp::create(tb, l, mmasAndStore(tb));
            }
            {
              OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
              scf::YieldOp::create(eb, l,
                                   buildPassLoop(eb, l, ring, cKSlices, iter));
            }
            return ifOp.getResult(0);
          }
          // The last column tile of an output narrower than the column
          // tiles: MMAs only over its first columns.
          NarrowTile narrow = narrowLastTile(
              ob, l, colTileOf(ob, d), nColTiles,
              config.narrowTiles ? n % kTileN : 0);
          auto [accs, next] = buildTileMmas(
              ob, l, ring, accType, aRow, row, tileEnd, numAccs,
              cKSlices, iter, config.pipelineMma, hook, narrow);
          // NVFP4: the expert's global scale, once per tile; the bias.
          scaleAndAddBias(ob, l, accs,
                          globalScale ? entry->getArgument(4) : Value(),
                          biasArg, op.getBias(), d.getExpert(), col, Value(),
                          n % kTileN == 0);
          if (storeTma)
            for (auto [a, acc] : llvm::enumerate(accs))
              mk::StoreAccTmaOp::create(
                  ob, l, acc, tmapOut, wgStaging, out, accRowOf(ob, l, row, a),
                  col, tileEnd, storeBarrier,
                  ob.getI64IntegerAttr(stagingHalves),
                  ob.getI64IntegerAttr(n));
          else
            storeAccs(ob, l, accs, out, row, col, tileEnd, outElem, n);
          return next;
        });
    // The stop mark's stage.
    mk::RingReleaseOp::create(b, loc, ring, last);
    // The TMA stores complete before the kernel ends (their shared memory
    // read, their writes performed).
    if (storeTma)
      mk::StoreAccTmaWaitOp::create(b, loc);
    if (scaled)
      endTurns(b, loc, second);
  }
  // No CTA leaves while its peer may still copy into its ring or release
  // its stages.
  if (clusterCols)
    mk::ClusterSyncOp::create(b, loc);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

//===----------------------------------------------------------------------===//
// The fused MoE layer
//===----------------------------------------------------------------------===//

/// True if `op` quantizes as DeepSeek-V3 does: fp8_block rows and
/// activations in 1x128 blocks, weights in 128x128 blocks.
bool isFp8BlockLayer(FusedMoEOp op) {
  auto is = [](QuantAttr q, int64_t rows) {
    return isBlockQuant(q, QuantScheme::fp8_block, rows, 128);
  };
  return is(op.getXQuantAttr(), 1) && is(op.getW13QuantAttr(), 128) &&
         is(op.getActQuantAttr(), 1) && is(op.getW2QuantAttr(), 128);
}

/// True if `op` has FP8 rows and activations as in DeepSeek-V3 (fp8_block,
/// 1x128) and MXFP4 weights (e2m1, UE8M0 scales per 1x32 block), which the
/// FP8 kernel expands to e4m3 in shared memory (moek.dequant_fp4_fp8).
bool isFp8Mxfp4Layer(FusedMoEOp op) {
  auto is = [](QuantAttr q, QuantScheme scheme, int64_t cols) {
    return isBlockQuant(q, scheme, 1, cols);
  };
  return is(op.getXQuantAttr(), QuantScheme::fp8_block, 128) &&
         is(op.getActQuantAttr(), QuantScheme::fp8_block, 128) &&
         is(op.getW13QuantAttr(), QuantScheme::mxfp4, 32) &&
         is(op.getW2QuantAttr(), QuantScheme::mxfp4, 32);
}

/// Whether an FP8 fused layer can take 128-row tiles (fp8-tile-rows): FP8
/// (not MXFP4) weights, sm_90a, no dispatch readiness, one GPU.
bool fp8WideTilesApply(FusedMoEOp op, bool sm90a, bool dispatchReadiness) {
  return !isFp8Mxfp4Layer(op) && sm90a && !dispatchReadiness &&
         !(op.isPerRank() && op.getPlacementAttr().getRanks() > 1);
}

/// True if rows or activations quantized as `q` keep their exact values in
/// bf16: none, or MXFP8 in 1x32 blocks (e4m3 times a power of two), which
/// the bf16 kernel rounds to (moek.dispatch and moek.store_act
/// {mx_round}).
bool isBf16OrMxfp8(QuantAttr q) {
  return !q || isBlockQuant(q, QuantScheme::mxfp8, 1, 32);
}

/// The format of `op`'s weights if the bf16 kernel expands them to bf16 in
/// shared memory, as the grouped matmul does, for bf16 (or MXFP8:
/// isBf16OrMxfp8) rows and activations: MXFP4 (e2m1, UE8M0 scales per
/// 1x32 block) or NVFP4 (e2m1, e4m3 scales per 1x16 block, under optional
/// f32 scales per expert that multiply each GEMM's accumulator before its
/// epilogue), both by moek.dequant_fp4, or MXFP8 (e4m3, UE8M0 scales per
/// 1x32 block) by moek.dequant_mxfp8; none otherwise.
std::optional<QuantScheme> expandedWeights(FusedMoEOp op) {
  if (!isBf16OrMxfp8(op.getXQuantAttr()) ||
      !isBf16OrMxfp8(op.getActQuantAttr()))
    return std::nullopt;
  for (auto [scheme, block] : {std::pair(QuantScheme::mxfp4, 32),
                               std::pair(QuantScheme::nvfp4, 16),
                               std::pair(QuantScheme::mxfp8, 32)})
    if (isBlockQuant(op.getW13QuantAttr(), scheme, 1, block) &&
        isBlockQuant(op.getW2QuantAttr(), scheme, 1, block))
      return scheme;
  return std::nullopt;
}

/// Why `op` cannot use the generated fused kernel, or "" if it can.
/// `idsInKernel`: the kernel routes (fuse-routing), so the ids' element type
/// is its own business (i32 in its workspace).
std::string unsupportedReason(FusedMoEOp op, bool idsInKernel) {
  if (PlacementAttr p = op.getPlacementAttr()) {
    if (p.getRanks() > 1 && !op.isPerRank())
      return "an expert-parallel layer is lowered in its per-rank form (run "
             "moe-expert-parallel first)";
    if (op.isPerRank() && p.getRanks() > 8)
      return "the expert-parallel fused kernel takes at most 8 ranks";
  }
  RankedTensorType x = op.getX().getType(), w13 = op.getW13().getType(),
                   w2 = op.getW2().getType();
  std::optional<QuantScheme> expanded = expandedWeights(op);
  bool nvfp4 = expanded == QuantScheme::nvfp4,
       mxfp8 = expanded == QuantScheme::mxfp8;
  if (expanded) {
    StringRef what = nvfp4 ? "NVFP4" : mxfp8 ? "MXFP8" : "MXFP4";
    if (!nvfp4 && (op.getW13GlobalScale() || op.getW2GlobalScale()))
      return "MXFP4 weights take no global scale";
    if (op.isPerRank())
      return ("the bf16 x " + what +
              " fused kernel is single-GPU (no expert parallelism yet)")
          .str();
    if (!mxfp8 && (!isa<Float4E2M1FNType>(w13.getElementType()) ||
                   !isa<Float4E2M1FNType>(w2.getElementType())))
      return (what.lower() + " weights must be f4E2M1FN");
  }
  if (!expanded && (op.getXQuantAttr() || op.getW13QuantAttr() ||
                     op.getActQuantAttr() || op.getW2QuantAttr())) {
    if ((!isFp8BlockLayer(op) && !isFp8Mxfp4Layer(op)) ||
        op.getW13GlobalScale() || op.getW2GlobalScale())
      return "a quantized layer must follow DeepSeek-V3's FP8 recipe "
             "(fp8_block rows and activations in [1, 128] blocks, weights in "
             "[128, 128] blocks, or mxfp4 weights in [1, 32] blocks), or have "
             "bf16 or mxfp8 ([1, 32]) rows and activations and mxfp4 "
             "([1, 32]), nvfp4 ([1, 16]) or mxfp8 ([1, 32]) weights, for the "
             "generated fused kernel";
    if (!x.getElementType().isBF16())
      return "the generated fused kernel takes bf16 tokens";
    if (!idsInKernel && !op.getIds().getType().getElementType().isInteger(32))
      return "the generated fused kernel takes i32 topk_ids";
    if (!w13.hasStaticShape() || !w2.hasStaticShape() ||
        ShapedType::isDynamic(op.getIds().getType().getDimSize(1)))
      return "the weight shapes and top_k must be static";
    if (op.getGateUpLayout() != GateUpLayout::concat)
      return "the FP8 fused kernel takes gate/up concatenated (an "
             "interleaved 128-row box would mix gates and ups)";
    auto f = [](Type t) { return t.isBF16() || t.isF32(); };
    if (!f(op.getGemm1Type()) || !op.getActType().isBF16() ||
        !f(op.getGemm2Type()) || !f(op.getOut().getType().getElementType()))
      return "the generated fused kernel rounds GEMM1 and GEMM2 outputs to "
             "bf16 or f32, the activation to bf16, and writes bf16 or f32";
    return "";
  }
  if (!x.getElementType().isBF16() ||
      (!expanded && (!w13.getElementType().isBF16() ||
                      !w2.getElementType().isBF16())))
    return "the generated fused kernel takes bf16 tokens and weights (or "
           "mxfp4, nvfp4 or mxfp8 weights)";
  if (!idsInKernel && !op.getIds().getType().getElementType().isInteger(32))
    return "the generated fused kernel takes i32 topk_ids";
  if (!w13.hasStaticShape() || !w2.hasStaticShape() ||
      ShapedType::isDynamic(op.getIds().getType().getDimSize(1)))
    return "the weight shapes and top_k must be static";
  int64_t h = w13.getDimSize(2), i = w2.getDimSize(2);
  if (h % kTileK != 0 || i % kTileK != 0)
    return "H (" + std::to_string(h) + ") and I (" + std::to_string(i) +
           ") must be multiples of the K slice (64)";
  auto f = [](Type t) { return t.isBF16() || t.isF32(); };
  if (!f(op.getGemm1Type()) || !op.getActType().isBF16() ||
      !f(op.getGemm2Type()) || !f(op.getOut().getType().getElementType()))
    return "the generated fused kernel rounds GEMM1 and GEMM2 outputs to bf16 "
           "or f32, the activation to bf16, and writes bf16 or f32";
  return "";
}

/// Byte layout of the fused kernel's workspace, sized for `maxRows` =
/// max_tokens * top_k routed rows. The counters come first: the runtime
/// zeroes [0, zeroBytes) before each launch.
struct FusedWorkspace {
  /// The grid barrier's counter and the dynamic scheduler's next tile share
  /// the first 64 bytes.
  int64_t barrier = 0, nextTile = 32, counts, cursor, ready, zeroBytes,
          offsets, slotRows, rowWeights, rows, act, y, bytes;
  int64_t readyCount;
  /// fp8: routed rows and activations in e4m3 with their 1x128 scales,
  /// readiness counters per 64-row block (the FP8 kernel's tiles).
  int64_t rowScales = -1, actScales = -1;
  /// Expert parallelism over `ranks` > 1 (docs/ExpertParallel.md): `e` is
  /// the global expert count, `localExperts` this rank's; `maxRows` the
  /// rows this rank may receive (ranks * max_tokens * top_k), of which
  /// maxRows / ranks are its own slots. The part from `bases` (the table of
  /// every rank's buffer) on is the rank's share of the symmetric buffer,
  /// which the runtime never zeroes:
  /// the other ranks write its counters, count matrix and rows.
  int64_t bases = -1, counted = -1, rowsDone = -1, combined = -1,
          countMatrix = -1, rowSlots = -1, rowRanks = -1;
  /// The dispatch's block-wise readiness (moek.dispatch rows_ready,
  /// offsets_ready): a counter per row block like `ready`, and a flag;
  /// with expert parallelism (moek.ep_dispatch seg_ready) the flag, and in
  /// the symmetric part a u64 counter per (local expert, source rank) that
  /// the sources add to, and what it had reached before this launch
  /// (`segBase`, written by this rank only).
  int64_t rowsReady = -1, offsetsReady = -1, segReady = -1, segBase = -1;
  FusedWorkspace(int64_t e, int64_t h, int64_t i, int64_t maxRows,
                 int64_t yBytes, bool withTimers, bool fp8 = false,
                 int64_t ranks = 1, int64_t localExperts = 0,
                 bool blockReadiness = false) {
    auto take = [&](int64_t &at, int64_t size, int64_t align) {
      at = llvm::alignTo(end, align);
      end = at + size;
    };
    bool ep = ranks > 1;
    int64_t el = ep ? localExperts : e, slots = maxRows / ranks;
    end = 64; // the grid barrier's counter
    take(counts, 4 * e, 16);
    take(cursor, 4 * e, 16);
    // One counter per row block of every expert: block m of expert e is
    // counter offsets[e] / R + m + e (R = 128 rows, 64 for fp8), which
    // stays below this.
    readyCount = maxRows / (fp8 ? 64 : 128) + el + 1;
    take(ready, 4 * readyCount, 16);
    if (blockReadiness) {
      if (!ep)
        take(rowsReady, 4 * readyCount, 16);
      take(offsetsReady, 4, 16);
    }
    zeroBytes = llvm::alignTo(end, 16);
    take(offsets, 4 * (el + 1), 16);
    take(slotRows, 4 * slots, 16);
    if (ep) {
      take(bases, 8 * 8, 64);
      take(counted, 64, 64);
      rowsDone = counted + 8;
      combined = counted + 16;
      take(countMatrix, 4 * ranks * e, 16);
      if (blockReadiness) {
        take(segReady, 8 * el * ranks, 64);
        take(segBase, 8 * el * ranks, 64);
      }
      take(rowSlots, 4 * maxRows, 16);
      take(rowRanks, 4 * maxRows, 16);
    }
    take(rowWeights, 4 * maxRows, 16);
    int64_t elemBytes = fp8 ? 1 : 2;
    take(rows, elemBytes * maxRows * h, 1024);
    take(act, elemBytes * maxRows * i, 1024);
    if (fp8) {
      take(rowScales, 4 * maxRows * (h / 128), 16);
      take(actScales, 4 * maxRows * (i / 128), 16);
    }
    take(y, yBytes * slots * h, 1024);
    if (withTimers) {
      take(timers, 8 * kTimerSlots * kMaxTimedCtas, 1024);
      take(trace, 8 * kTraceWords * kMaxTracedTiles, 1024);
    }
    bytes = llvm::alignTo(end, 1024);
  }
  /// Phase timers (pass option phase-timers): u64 nanoseconds at
  /// timers[cta * kTimerSlots + slot]; see buildFusedKernel. Right after
  /// them (at a 1024-byte boundary: 128 KB on) the per-tile trace,
  /// trace[tile * kTraceWords + word] (PhaseTimers::traceTile).
  static constexpr int64_t kTimerSlots = 16, kMaxTimedCtas = 1024,
                           kTraceWords = 4, kMaxTracedTiles = 65536;
  int64_t timers = -1, trace = -1;

private:
  int64_t end = 0;
};

/// A fused kernel's workspace attributes (moek.workspace of its entry): its
/// bytes, the bytes zeroed before each launch, the token bound and, with
/// phase timers, their offset.
SmallVector<NamedAttribute> fusedWorkspaceAttrs(OpBuilder &b,
                                                const FusedWorkspace &ws,
                                                int64_t maxTokens) {
  SmallVector<NamedAttribute> attrs = {
      b.getNamedAttr("bytes", b.getI64IntegerAttr(ws.bytes)),
      b.getNamedAttr("zero_bytes", b.getI64IntegerAttr(ws.zeroBytes)),
      b.getNamedAttr("max_tokens", b.getI64IntegerAttr(maxTokens))};
  if (ws.timers >= 0)
    attrs.push_back(b.getNamedAttr("timers", b.getI64IntegerAttr(ws.timers)));
  return attrs;
}

/// 1 (index) if tile `t` is one of GEMM1's (below `n1`), else 0: the tag
/// of PhaseTimers::traceTile.
Value isGemm1Tag(OpBuilder &b, Location loc, Value t, Value n1) {
  return arith::SelectOp::create(
      b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, t, n1),
      arith::ConstantIndexOp::create(b, loc, 1),
      arith::ConstantIndexOp::create(b, loc, 0));
}

/// A fused kernel's phase timers (pass option phase-timers): slot `slot`
/// of this CTA, written by one lane of each warp that runs stamp() (where
/// `extra` holds): 0 start, 1 dispatch done, 2 producer done, 3 MMA tiles
/// done, 4 past the last grid barrier, 5 combine done. The sm_90a
/// kernels' first MMA warpgroup also sums its tiles' parts (`mode` "sub" at
/// a part's start, "add" at its end, moek.timestamp): 6 waiting for a
/// tile's first stage, 7 the tile's prologue (FP8: decode, scales), 8 its
/// K loop, 9 its epilogue; 10 counts its tiles; of GEMM1's tiles, 11 counts
/// them, 12 sums their whole time, 13 the up accumulator's exchange (FP8),
/// 14 the activation's store and 15 the readiness signal. No timers:
/// stamp() builds nothing.
struct PhaseTimers {
  Value timers, ctaId, trace;
  /// A builder inside `if (elect_one && extra && more)` (`extra` and
  /// `more` where given): the one thread of the warpgroup that stamps.
  static OpBuilder onStampingThread(OpBuilder &ob, Location loc, Value extra,
                                    Value more = Value()) {
    Value cond = mk::ElectOneOp::create(ob, loc, ob.getI1Type());
    for (Value c : {extra, more})
      if (c)
        cond = arith::AndIOp::create(ob, loc, cond, c);
    auto ifOp = scf::IfOp::create(ob, loc, cond, false);
    return OpBuilder::atBlockTerminator(ifOp.thenBlock());
  }
  void stamp(OpBuilder &ob, Location loc, int64_t slot,
             Value extra = Value(), StringRef mode = "store") const {
    if (!timers)
      return;
    OpBuilder tb = onStampingThread(ob, loc, extra);
    Value index = arith::AddIOp::create(
        tb, loc,
        arith::MulIOp::create(
            tb, loc, ctaId,
            arith::ConstantIndexOp::create(tb, loc,
                                           FusedWorkspace::kTimerSlots)),
        arith::ConstantIndexOp::create(tb, loc, slot));
    mk::TimestampOp::create(tb, loc, timers, index, mode);
  }
  /// The per-tile trace, for tile indices below kMaxTracedTiles: word
  /// `word` of tile `tile` gets the clock (where `extra` holds): 0 when the
  /// producer starts the tile's loads, 1 when the first MMA warpgroup has
  /// the tile's first stage (its wait done), 2 when it is done with the
  /// tile; with `tag` (the first MMA warpgroup, word 1), word 3 gets 2 x
  /// the CTA's index + `tag` (1 for a GEMM1 tile), so that each wait can
  /// be set against the same warpgroup's previous tile.
  void traceTile(OpBuilder &ob, Location loc, Value tile, int64_t word,
                 Value extra = Value(), Value tag = Value()) const {
    if (!trace)
      return;
    auto idx = [&](OpBuilder &b, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    OpBuilder tb = onStampingThread(
        ob, loc, extra,
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult, tile,
                              idx(ob, FusedWorkspace::kMaxTracedTiles)));
    Value base = arith::MulIOp::create(tb, loc, tile,
                                       idx(tb, FusedWorkspace::kTraceWords));
    mk::TimestampOp::create(tb, loc, trace,
                            arith::AddIOp::create(tb, loc, base, idx(tb, word)),
                            "store");
    if (!tag)
      return;
    Value value = arith::AddIOp::create(
        tb, loc, arith::MulIOp::create(tb, loc, ctaId, idx(tb, 2)), tag);
    Value at = arith::IndexCastUIOp::create(
        tb, loc, tb.getI64Type(),
        arith::AddIOp::create(tb, loc, base, idx(tb, 3)));
    LLVM::StoreOp::create(
        tb, loc, arith::IndexCastUIOp::create(tb, loc, tb.getI64Type(), value),
        LLVM::GEPOp::create(tb, loc, trace.getType(), tb.getI64Type(), trace,
                            ValueRange{at}));
  }
  /// The end of part `from` and the start of part `to` (summed slots:
  /// "add" to `from`, "sub" from `to`).
  void turn(OpBuilder &ob, Location loc, int64_t from, int64_t to,
            Value extra) const {
    stamp(ob, loc, from, extra, "add");
    stamp(ob, loc, to, extra, "sub");
  }
};

/// The first rows, in w13 viewed as [E * 2I, H], of the two weight boxes
/// of `rows` rows each of GEMM1's column tile `colTile` of `expert`:
/// concatenated, the gate's rows of the column block, then the up's (I
/// further); interleaved, 2 * rows consecutive rows (`rows` gate/up pairs).
std::pair<Value, Value> gemm1WeightBoxes(OpBuilder &b, Location loc,
                                         Value expert, Value colTile,
                                         int64_t i, int64_t rows,
                                         bool interleaved) {
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value base = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, expert, idx(2 * i)),
      arith::MulIOp::create(b, loc, colTile,
                            idx(interleaved ? 2 * rows : rows)));
  return {base,
          arith::AddIOp::create(b, loc, base, idx(interleaved ? rows : i))};
}

/// A fused kernel's tile `t` of the one list: GEMM1's tile `t` if
/// t < n1, else GEMM2's tile t - n1, built by `gemm1` or `gemm2` in the
/// branches of an scf.if that yields the ring iteration they return.
Value buildPerGemm(OpBuilder &ob, Location l, Value t, Value n1,
                   function_ref<Value(OpBuilder &, Value)> gemm1,
                   function_ref<Value(OpBuilder &, Value)> gemm2) {
  Value isGemm1 =
      arith::CmpIOp::create(ob, l, arith::CmpIPredicate::ult, t, n1);
  auto branch =
      scf::IfOp::create(ob, l, TypeRange{ob.getIndexType()}, isGemm1, true);
  {
    OpBuilder tb = OpBuilder::atBlockEnd(branch.thenBlock());
    scf::YieldOp::create(tb, l, ValueRange{gemm1(tb, t)});
  }
  {
    OpBuilder eb = OpBuilder::atBlockEnd(branch.elseBlock());
    Value next = gemm2(eb, arith::SubIOp::create(eb, l, t, n1));
    scf::YieldOp::create(eb, l, ValueRange{next});
  }
  return branch.getResult(0);
}

/// The fused kernel's parameter ABI (see the pass description). `fp8`: the
/// FP8 kernel's, with e4m3 boxes 128 elements (128 bytes) wide, the routed
/// rows and activations in e4m3, and the weight scales (operands 5 and 6)
/// after the tensors. `yTma`: a fifth descriptor, over y (64 x 64 boxes).
ArrayAttr buildFusedAbi(OpBuilder &b, int64_t e, int64_t h, int64_t i,
                        int64_t maxRows, const FusedWorkspace &ws, bool fp8,
                        bool fp4 = false, int64_t globalScales = 0,
                        bool paddedFp4 = false, bool yTma = false,
                        ArrayRef<int64_t> biasOperands = {},
                        int64_t tailRows = 0) {
  int64_t sliceK = fp8 ? kTileKFp8 : kTileK;
  auto entry = [&](ArrayRef<NamedAttribute> attrs) {
    return b.getDictionaryAttr(attrs);
  };
  auto na = [&](StringRef name, Attribute a) { return b.getNamedAttr(name, a); };
  auto s = [&](StringRef v) { return b.getStringAttr(v); };
  auto n = [&](int64_t v) { return b.getI64IntegerAttr(v); };
  auto i64s = [&](ArrayRef<int64_t> v) { return b.getI64ArrayAttr(v); };
  auto weights = [&](int64_t operand, StringRef view, int64_t rows,
                     int64_t inner) {
    // Block-scaled MMAs (sm_100a): e2m1 in tcgen05's padded form, 64-row
    // boxes (a gate and an up half of a tile), 128B swizzle.
    if (paddedFp4)
      return entry({na("kind", s("tma")), na("operand", n(operand)),
                    na("view", s(view)), na("rows", n(rows)),
                    na("inner", n(inner)), na("box", i64s({sliceK, 64})),
                    na("swizzle", n(128)), na("fp4_padded", b.getUnitAttr())});
    return entry({na("kind", s("tma")), na("operand", n(operand)),
                  na("view", s(view)), na("rows", n(rows)),
                  na("inner", n(inner)), na("box", i64s({sliceK, kWBoxRows})),
                  // Packed e2m1 rows: 64 bytes (FP8 kernel, 128-wide K
                  // slices) in the 64-byte swizzle, 32 bytes (bf16 kernel)
                  // unswizzled.
                  na("swizzle", n(fp4 ? (fp8 ? 64 : 0) : 128))});
  };
  // `bf16`: bf16 64 x 64 boxes in the FP8 kernels too (y by TMA).
  // `descName`: the descriptor's name where it is not the part's (a second
  // descriptor over the same part).
  auto scratch = [&](StringRef name, int64_t offset, int64_t inner,
                     bool bf16 = false, int64_t boxRows = kXBoxRows,
                     StringRef descName = "") {
    bool e4m3 = fp8 && !bf16;
    SmallVector<NamedAttribute> attrs{
        na("kind", s("tma")),
        na("workspace", s(name)),
        na("workspace_offset", n(offset)),
        na("dtype", s(e4m3 ? "f8E4M3FN" : "bf16")),
        na("shape", i64s({maxRows, inner})),
        na("box", i64s({e4m3 ? sliceK : kTileK, boxRows})),
        na("swizzle", n(128))};
    if (!descName.empty())
      attrs.push_back(na("name", s(descName)));
    return entry(attrs);
  };
  auto ptr = [&](StringRef key, int64_t index) {
    return entry({na("kind", s("ptr")), na(key, n(index))});
  };
  SmallVector<Attribute> abi{
      weights(3, "[E*2I, H]", e * 2 * i, h),
      weights(4, "[E*H, I]", e * h, i),
      scratch("rows", ws.rows, h),
      scratch("act", ws.act, i)};
  // GEMM2's rows stored by TMA (moek.store_acc_tma).
  if (yTma)
    abi.push_back(scratch("y", ws.y, h, /*bf16=*/true));
  // Absorbed tails: the rows and the activation in boxes of tailRows rows.
  if (tailRows) {
    abi.push_back(scratch("rows", ws.rows, h, false, tailRows, "rows_tail"));
    abi.push_back(scratch("act", ws.act, i, false, tailRows, "act_tail"));
  }
  abi.append({
      ptr("operand", 0),
      ptr("operand", 1),
      ptr("operand", 2)});
  if (fp8 || fp4)
    abi.append({ptr("operand", 5), ptr("operand", 6)});
  // NVFP4: the w13 and w2 global scales ([E] f32) present, in that order.
  for (int64_t g = 0; g < globalScales; ++g)
    abi.push_back(ptr("operand", 7 + g));
  // Per-expert biases: w13's, then w2's, those present.
  for (int64_t operand : biasOperands)
    abi.push_back(ptr("operand", operand));
  abi.append({ptr("result", 0), entry({na("kind", s("workspace"))}),
              entry({na("kind", s("token_count"))})});
  return b.getArrayAttr(abi);
}

/// Part `offset` of the workspace `base`, as an i64 value: a GEP's constant
/// indices hold only 29 bits (offsets of a few hundred MB would wrap).
Value workspacePart(OpBuilder &b, Location loc, Value base, int64_t offset) {
  Value bytes = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                         b.getI64IntegerAttr(offset));
  return LLVM::GEPOp::create(b, loc, base.getType(), b.getI8Type(), base,
                             ValueRange{bytes});
}

/// Index constants made up front, where `b` is: `b` would put one made
/// while a nested builder fills a loop after that loop.
std::map<int64_t, Value> indexConstants(OpBuilder &b, Location loc,
                                        ArrayRef<int64_t> values) {
  std::map<int64_t, Value> constants;
  for (int64_t v : values)
    constants.try_emplace(v, arith::ConstantIndexOp::create(b, loc, v));
  return constants;
}

/// The address of element `i` (index) of the `elem` array at `base`
/// (global memory).
Value globalElement(OpBuilder &b, Location loc, Value base, Type elem,
                    Value i) {
  return LLVM::GEPOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext(), 1), elem, base,
      ValueRange{arith::IndexCastUIOp::create(b, loc, b.getI64Type(), i)});
}

/// What expert parallelism adds to a fused kernel (docs/ExpertParallel.md):
/// four scalar parameters after the single-GPU ones (this rank, the epoch,
/// the waits' timeout and the wait record), the symmetric part of the
/// workspace, the dispatch to the experts' owners, GEMM2 rows stored back
/// into their source ranks, and the wait for every rank's results before
/// the combine. With one rank, all of it is the single-GPU kernel's.
struct ExpertParallel {
  int64_t ranks = 1, localExperts = 0;
  Value rank, epoch, timeoutNs, record, bases, combined, rowSlots, rowRanks,
      countMatrix, counted, rowsDone;
  /// Segment readiness (FusedWorkspace::segReady; null without).
  Value segReady, segBase;

  explicit ExpertParallel(FusedMoEOp op)
      : ranks(op.isPerRank() ? op.getPlacementAttr().getRanks() : 1),
        localExperts(op.getNumExperts()) {}
  bool enabled() const { return ranks > 1; }

  /// The parameters and ABI entries after the single-GPU ones.
  void extend(OpBuilder &b, SmallVectorImpl<Type> &params,
              ArrayAttr &abi) const {
    if (!enabled())
      return;
    params.append({b.getI32Type(), b.getI64Type(), b.getI64Type(),
                   b.getI64Type()});
    SmallVector<Attribute> entries(abi.getValue());
    for (auto [kind, scalar] :
         {std::pair<StringRef, StringRef>{"i32", "rank"},
          {"i64", "epoch"},
          {"i64", "timeout_ns"},
          {"i64", "wait_record"}})
      entries.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("kind", b.getStringAttr(kind)),
           b.getNamedAttr("name", b.getStringAttr(scalar))}));
    abi = b.getArrayAttr(entries);
  }

  /// Records the workspace's symmetric layout for the artifact writer, and
  /// binds the parameters from `firstArg` on and the workspace parts.
  void bind(OpBuilder &b, Location loc, LLVM::LLVMFuncOp func,
            unsigned firstArg, const FusedWorkspace &ws,
            function_ref<Value(int64_t)> at) {
    if (!enabled())
      return;
    func->setAttr(
        "moek.expert_parallel",
        b.getDictionaryAttr(
            {b.getNamedAttr("ranks", b.getI64IntegerAttr(ranks)),
             b.getNamedAttr("experts_per_rank",
                            b.getI64IntegerAttr(localExperts)),
             // The symmetric part starts with the bases table.
             b.getNamedAttr("symmetric_offset",
                            b.getI64IntegerAttr(ws.bases)),
             b.getNamedAttr("bases_offset", b.getI64IntegerAttr(ws.bases))}));
    Block &entry = func.getBody().front();
    rank = entry.getArgument(firstArg);
    epoch = entry.getArgument(firstArg + 1);
    timeoutNs = entry.getArgument(firstArg + 2);
    record = LLVM::IntToPtrOp::create(
        b, loc, LLVM::LLVMPointerType::get(b.getContext(), 1),
        entry.getArgument(firstArg + 3));
    bases = at(ws.bases);
    combined = at(ws.combined);
    counted = at(ws.counted);
    rowsDone = at(ws.rowsDone);
    countMatrix = at(ws.countMatrix);
    rowSlots = at(ws.rowSlots);
    rowRanks = at(ws.rowRanks);
    if (ws.segReady >= 0) {
      segReady = at(ws.segReady);
      segBase = at(ws.segBase);
    }
  }

  /// The dispatch (grid barriers 1 and 2): to the experts' owners, or the
  /// single-GPU one. `rowScales`: quantize the rows (FP8). `rowsReady` and
  /// `offsetsReady` (single GPU, bf16 rows): no grid barrier 2, the rows
  /// published block by block (moek.dispatch). `rowTokens` (single GPU):
  /// each row's token recorded there for moek.gather_rows; `rows` then
  /// null (bf16: nothing copied) or a row per token (FP8). `scalesStride`
  /// (single GPU, FP8): the scales block-major (moek.dispatch
  /// {scales_stride}).
  void dispatch(OpBuilder &b, Location loc, Value x, Value ids, Value weights,
                Value tokens, Value counts, Value cursor, Value offsets,
                Value slotRows, Value rowWeights, Value rows, Value barrier,
                Value rowScales, int64_t k, int64_t h, bool permuteK = false,
                bool mxRound = false, Value rowsReady = {},
                Value offsetsReady = {}, int64_t blockRows = 128,
                Value rowTokens = {}, int64_t scalesStride = 0) const {
    if (!enabled()) {
      auto op = mk::DispatchOp::create(
          b, loc, x, ids, weights, tokens, counts, cursor, offsets, slotRows,
          rowWeights, rows, rowTokens, barrier, rowScales, rowsReady,
          offsetsReady, b.getI64IntegerAttr(localExperts),
          b.getI64IntegerAttr(k), b.getI64IntegerAttr(h),
          b.getI64IntegerAttr(1));
      op.setPermuteK(permuteK);
      op.setMxRound(mxRound);
      if (rowsReady)
        op.setBlockRows(blockRows);
      if (scalesStride)
        op.setScalesStride(scalesStride);
      return;
    }
    assert(!mxRound && "the expert-parallel dispatch copies bf16 rows");
    assert(!scalesStride && "the expert-parallel dispatch's scales are "
                            "row-major");
    assert(!permuteK && "the expert-parallel dispatch keeps the K order");
    mk::EpDispatchOp::create(
        b, loc, x, ids, weights, tokens, counts, cursor, offsets, slotRows,
        barrier, countMatrix, counted, rowsDone, rows, rowWeights, rowSlots,
        rowRanks, bases, rank, epoch, timeoutNs, record, rowScales,
        segReady, segReady ? offsetsReady : Value(),
        b.getI64IntegerAttr(ranks), b.getI64IntegerAttr(localExperts),
        b.getI64IntegerAttr(k), b.getI64IntegerAttr(h),
        b.getI64IntegerAttr(1));
  }

  /// Readiness, by the producer before GEMM1 tile `d` of `tileRows` rows:
  /// with expert parallelism the source segments it overlaps (awaitRows),
  /// else its block's counter in `rowsReady` (index `blockIndex()`) until
  /// it holds the tile's rows, min(tileRows, end - row).
  void awaitTileRows(OpBuilder &b, Location loc, Value offsets,
                     Value rowsReady, mk::GroupedTileOp d, int64_t tileRows,
                     function_ref<Value()> blockIndex) const {
    if (enabled()) {
      awaitRows(b, loc, offsets, d.getExpert(), d.getRow(), d.getRowEnd(),
                tileRows);
      return;
    }
    Value rowsInTile = arith::SubIOp::create(
        b, loc,
        arith::MinUIOp::create(
            b, loc, d.getRowEnd(),
            arith::AddIOp::create(
                b, loc, d.getRow(),
                arith::ConstantIndexOp::create(b, loc, tileRows))),
        d.getRow());
    mk::WaitCounterOp::create(b, loc, rowsReady, blockIndex(), rowsInTile);
  }

  /// This rank's first column in the count matrix [ranks, ranks * E_l]
  /// (its experts after those of the ranks before it).
  Value countColumn(OpBuilder &b, Location loc) const {
    return arith::MulIOp::create(
        b, loc, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), rank),
        arith::ConstantIndexOp::create(b, loc, localExperts));
  }

  /// Source rank `source`'s rows (an i32) in count-matrix column `column`
  /// (countColumn + a local expert); `stride` is ranks * E_l (an index).
  Value countAt(OpBuilder &b, Location loc, Value source, Value column,
                Value stride) const {
    Type i32 = b.getI32Type();
    return LLVM::LoadOp::create(
        b, loc, i32,
        globalElement(b, loc, countMatrix, i32,
                      arith::AddIOp::create(
                          b, loc, arith::MulIOp::create(b, loc, source, stride),
                          column)));
  }

  /// Segment readiness, by the producer before a GEMM1 tile of local
  /// expert `expert` whose rows are [row, min(rowEnd, row + tileRows)) of
  /// `offsets`' numbering:
  /// for each source rank whose segment of the expert's rows (source 0's
  /// first, then 1's, ...) overlaps them, wait (phase 4) until its
  /// seg_ready counter has grown by the segment's rows in this launch.
  void awaitRows(OpBuilder &b, Location loc, Value offsets, Value expert,
                 Value row, Value rowEnd, int64_t tileRows) const {
    std::map<int64_t, Value> constants = indexConstants(
        b, loc, {0, 1, tileRows, ranks, ranks * localExperts});
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Type i32 = b.getI32Type(), i64 = b.getI64Type();
    auto element = [&](OpBuilder &ob, Value base, Type elem, Value i) {
      return globalElement(ob, loc, base, elem, i);
    };
    auto loadIndex = [&](OpBuilder &ob, Value base, Value i) -> Value {
      return arith::IndexCastUIOp::create(
          ob, loc, ob.getIndexType(),
          LLVM::LoadOp::create(ob, loc, i32, element(ob, base, i32, i)));
    };
    Value first = loadIndex(b, offsets, expert);
    Value a = arith::SubIOp::create(b, loc, row, first);
    Value end = arith::SubIOp::create(
        b, loc,
        arith::MinUIOp::create(
            b, loc, rowEnd, arith::AddIOp::create(b, loc, row, idx(tileRows))),
        first);
    Value column = arith::AddIOp::create(b, loc, countColumn(b, loc), expert);
    auto loop = scf::ForOp::create(
        b, loc, idx(0), idx(ranks), idx(1), ValueRange{idx(0)},
        [&](OpBuilder &fb, Location l, Value s, ValueRange it) {
          Value count = arith::IndexCastUIOp::create(
              fb, l, fb.getIndexType(),
              countAt(fb, l, s, column, idx(ranks * localExperts)));
          Value segEnd = arith::AddIOp::create(fb, l, it[0], count);
          Value overlaps = arith::AndIOp::create(
              fb, l,
              arith::CmpIOp::create(fb, l, arith::CmpIPredicate::ult, it[0],
                                    end),
              arith::CmpIOp::create(fb, l, arith::CmpIPredicate::ugt, segEnd,
                                    a));
          auto w = scf::IfOp::create(fb, l, overlaps, false);
          {
            OpBuilder wb = OpBuilder::atBlockTerminator(w.thenBlock());
            Value slot = arith::AddIOp::create(
                wb, l, arith::MulIOp::create(wb, l, expert, idx(ranks)), s);
            Value base = LLVM::LoadOp::create(wb, l, i64,
                                              element(wb, segBase, i64, slot));
            Value target = arith::AddIOp::create(
                wb, l, base, arith::IndexCastUIOp::create(wb, l, i64, count));
            mk::RemoteWaitOp::create(wb, l, element(wb, segReady, i64, slot),
                                     target, timeoutNs, record, rank,
                                     wb.getI64IntegerAttr(4));
          }
          scf::YieldOp::create(fb, l, ValueRange{segEnd});
        });
    // Unrolled, the loop's loads and pointers overflowed the producer's
    // registers at four ranks.
    disableUnroll(loop);
  }

  /// Segment readiness (if bound), by the MMA warpgroups between the last
  /// grid barrier (every producer's wait on seg_ready came before its
  /// tiles) and awaitResults: the first MMA thread of CTA 0 (`cta`) moves
  /// each counter's base on by its segment's rows of this launch, the next
  /// launch's starting point. It reads the count matrix before the same
  /// thread tells the other ranks `combined`, after which they may start
  /// their next launch and write the matrix again.
  void advanceBase(OpBuilder &ob, Location loc, Value cta) const {
    if (!segReady)
      return;
    Value lead = arith::AndIOp::create(
        ob, loc,
        arith::CmpIOp::create(
            ob, loc, arith::CmpIPredicate::eq,
            NVVM::ThreadIdXOp::create(ob, loc, ob.getI32Type()),
            arith::ConstantIntOp::create(ob, loc, kThreads / 3, 32)),
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::eq, cta,
                              arith::ConstantIndexOp::create(ob, loc, 0)));
    auto ifOp = scf::IfOp::create(ob, loc, lead, false);
    OpBuilder b = OpBuilder::atBlockTerminator(ifOp.thenBlock());
    std::map<int64_t, Value> constants =
        indexConstants(b, loc, {0, 1, ranks, localExperts * ranks});
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Type i64 = b.getI64Type();
    auto element = [&](OpBuilder &ob, Value base, Type elem, Value i) {
      return globalElement(ob, loc, base, elem, i);
    };
    Value firstColumn = countColumn(b, loc);
    scf::ForOp::create(
        b, loc, idx(0), idx(localExperts * ranks), idx(1), ValueRange{},
        [&](OpBuilder &fb, Location l, Value slot, ValueRange) {
          Value expert = arith::DivUIOp::create(fb, l, slot, idx(ranks));
          Value s = arith::RemUIOp::create(fb, l, slot, idx(ranks));
          Value count =
              countAt(fb, l, s, arith::AddIOp::create(fb, l, firstColumn, expert),
                      idx(ranks * localExperts));
          Value at = element(fb, segBase, i64, slot);
          Value base = LLVM::LoadOp::create(fb, l, i64, at);
          LLVM::StoreOp::create(
              fb, l,
              arith::AddIOp::create(fb, l, base,
                                    arith::ExtUIOp::create(fb, l, i64, count)),
              at);
          scf::YieldOp::create(fb, l);
        });
  }

  /// GEMM2 rows of `accs` at `row`, `col`: into y, or back to their
  /// source ranks' slots.
  void storeRows(OpBuilder &b, Location loc, ArrayRef<Value> accs, Value y,
                 Value row, Value col, Value rowEnd, Type yElem,
                 int64_t h) const {
    if (!enabled()) {
      storeAccs(b, loc, accs, y, row, col, rowEnd, yElem, h);
      return;
    }
    for (auto [a, acc] : llvm::enumerate(accs))
      mk::StoreAccRemoteOp::create(
          b, loc, acc, y, accRowOf(b, loc, row, a), col, rowEnd, rowSlots,
          rowRanks, bases, rank, TypeAttr::get(yElem), b.getI64IntegerAttr(h));
  }

  /// After the MMA warpgroups' grid barrier: every row this rank computed
  /// is back with its source; one thread of CTA 0 tells every rank, one
  /// thread per CTA waits until every rank has sent this rank's rows (wait
  /// phase 3), then the MMA warpgroups (named barrier 4) go on to combine.
  void awaitResults(OpBuilder &b, Location loc, Value cta) const {
    if (!enabled())
      return;
    Value firstThread = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        NVVM::ThreadIdXOp::create(b, loc, b.getI32Type()),
        arith::ConstantIntOp::create(b, loc, kThreads / 3, 32));
    Value lead = arith::AndIOp::create(
        b, loc, firstThread,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, cta,
                              arith::ConstantIndexOp::create(b, loc, 0)));
    Value one = arith::ConstantIntOp::create(b, loc, 1, 64);
    auto gptr = LLVM::LLVMPointerType::get(b.getContext(), 1);
    auto signal = scf::IfOp::create(b, loc, lead, false);
    {
      OpBuilder tb = OpBuilder::atBlockTerminator(signal.thenBlock());
      for (int64_t r = 0; r < ranks; ++r)
        mk::RemoteAddOp::create(
            tb, loc,
            mk::MapPeerOp::create(tb, loc, gptr, combined,
                                  arith::ConstantIntOp::create(tb, loc, r, 32),
                                  bases, rank),
            one);
    }
    auto wait = scf::IfOp::create(b, loc, firstThread, false);
    {
      OpBuilder tb = OpBuilder::atBlockTerminator(wait.thenBlock());
      Value target = arith::MulIOp::create(
          tb, loc, epoch, arith::ConstantIntOp::create(tb, loc, ranks, 64));
      mk::RemoteWaitOp::create(tb, loc, combined, target, timeoutNs, record,
                               rank, tb.getI64IntegerAttr(3));
    }
    mk::BarrierSyncOp::create(b, loc, b.getI64IntegerAttr(4),
                              b.getI64IntegerAttr(256));
  }
};

/// transposeBack's first half: the products stored transposed.
void storeTransposed(OpBuilder &b, Location loc, ArrayRef<Value> products,
                     ArrayRef<Value> rowMax, Value storeBuf) {
  for (auto [f, product] : llvm::enumerate(products))
    mk::AccStoreTransposedOp::create(
        b, loc, product, storeBuf, rowMax.empty() ? Value() : rowMax[f],
        b.getI64IntegerAttr(64 * int64_t(f)), b.getI64IntegerAttr(128));
}
/// transposeBack's second half: the barrier, the first `rows` rows loaded,
/// the barrier again.
Value loadTransposed(OpBuilder &b, Location loc, int64_t rows, Value loadBuf,
                     int64_t barrier, int64_t threads, mk::AccType accType) {
  mk::BarrierSyncOp::create(b, loc, b.getI64IntegerAttr(barrier),
                            b.getI64IntegerAttr(threads));
  Value acc = mk::AccLoadSmemOp::create(b, loc, accType, loadBuf,
                                        b.getI64IntegerAttr(rows),
                                        DenseI64ArrayAttr());
  mk::BarrierSyncOp::create(b, loc, b.getI64IntegerAttr(barrier),
                            b.getI64IntegerAttr(threads));
  return acc;
}
/// The end of a small tile: its two transposed 64 x R products (weight
/// rows x tokens) stored at columns 0 and 64 of `storeBuf`
/// (moek.acc_store_transposed, each row's column scale from `rowMax` if
/// given), named barrier `barrier` over `threads` threads, the first R rows
/// of an `accType` accumulator loaded from `loadBuf` (moek.acc_load_smem
/// {rows = R}), and the barrier again so that the buffer may be written by
/// the next small tile.
Value transposeBack(OpBuilder &b, Location loc, ArrayRef<Value> products,
                    ArrayRef<Value> rowMax, Value storeBuf, Value loadBuf,
                    int64_t barrier, int64_t threads, mk::AccType accType) {
  storeTransposed(b, loc, products, rowMax, storeBuf);
  return loadTransposed(b, loc,
                        cast<mk::AccType>(products.front().getType()).getCols(),
                        loadBuf, barrier, threads, accType);
}

/// The MMA issuer and the epilogue of a single-issuer fused kernel
/// (sm_100a): two 128 x `cols` tensor-memory accumulators (`blockScales`:
/// the MMAs take the scales of ring tiles 2 and 3); tile t < n1 is a GEMM1
/// tile of `slices1` stages, else GEMM2 tile t - n1 of `slices2`. The
/// epilogue warpgroups (1 and 2, 216 registers) run `gemm1(builder, t,
/// accs, j, warpgroup)` or `gemm2(builder, t - n1, accs, j, warpgroup)` on
/// accumulator j of `accs`,
/// then, after every CTA's last tile, grid barrier 3 on `barrier` and
/// `finish` (the combine). Leaves `b` after the epilogue role.
using FusedTileEpilogue =
    function_ref<void(OpBuilder &, Value, Value, Value, Value)>;
void buildFusedTmemRoles(OpBuilder &b, Location loc, Value ring, Value total,
                         Value n1, Value slices1, Value slices2, int64_t cols,
                         bool blockScales, Value barrier,
                         FusedTileEpilogue gemm1, FusedTileEpilogue gemm2,
                         function_ref<void(OpBuilder &)> finish) {
  auto accsType = mk::AccRingType::get(b.getContext(), kTmemAccs, 128, cols,
                                       b.getF32Type());
  Value accs =
      mk::AccRingAllocOp::create(b, loc, accsType, b.getI64IntegerAttr(256));
  buildTmemIssuer(
      b, loc, ring, accs, total,
      [&](OpBuilder &ob, Value t) {
        return arith::SelectOp::create(
            ob, loc,
            arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult, t, n1),
            slices1, slices2);
      },
      /*perStage=*/false, blockScales);
  OpBuilder::InsertionGuard g(b);
  beginRole(b, loc, "epilogue", 1, 2, 216);
  Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
  buildTmemEpilogue(b, loc, accs, total, [&](OpBuilder &ob, Value t, Value j) {
    Value isGemm1 =
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult, t, n1);
    auto branch = scf::IfOp::create(ob, loc, isGemm1, true);
    OpBuilder tb = OpBuilder::atBlockTerminator(branch.thenBlock());
    gemm1(tb, t, accs, j, wg);
    OpBuilder eb = OpBuilder::atBlockTerminator(branch.elseBlock());
    gemm2(eb, arith::SubIOp::create(eb, loc, t, n1), accs, j, wg);
  });
  // Phase 3: every row of y is stored (grid barrier 3, epilogue only).
  mk::GridBarrierOp::create(b, loc, barrier, b.getI64IntegerAttr(3),
                            b.getI64IntegerAttr(4), b.getI64IntegerAttr(256));
  finish(b);
}

LLVM::LLVMFuncOp
buildFusedKernel(OpBuilder &b, Location loc, StringRef name, FusedMoEOp op,
                 int64_t stages, int64_t maxTokens, bool streamWeights,
                 bool phaseTimers, bool commOnly = false,
                 bool transposedSmallTiles = false, bool singleIssuer = false,
                 bool narrowTiles = true, bool dispatchReadiness = false,
                 bool approxActivation = true, bool gatherRows = false,
                 StringRef gatherHint = "", StringRef absorbTails = "false",
                 bool asyncSignals = false) {
  // MXFP4 or NVFP4 weights: copied packed into tile 2 of each stage,
  // expanded into tile 1 by both MMA warpgroups (moek.dequant_fp4) before
  // their MMAs; NVFP4's global scales multiply the accumulators.
  // MXFP8 weights: the same with e4m3 tiles (64 bytes a row) expanded by
  // moek.dequant_mxfp8.
  std::optional<QuantScheme> expanded = expandedWeights(op);
  bool nvfp4 = expanded == QuantScheme::nvfp4,
       mxfp8W = expanded == QuantScheme::mxfp8;
  bool packed = expanded.has_value(); // a packed weight tile per stage
  bool g13 = nvfp4 && op.getW13GlobalScale(), g2 = nvfp4 && op.getW2GlobalScale();
  // Its 56 KB stages (MXFP8: 64 KB): four with the kernel's static shared
  // memory exceed the 227 KB a CTA may have (DeepSeek-V3: 230400 + 3184
  // bytes).
  if (packed)
    stages = std::min<int64_t>(stages, 3);
  MLIRContext *ctx = b.getContext();
  RankedTensorType w13 = op.getW13().getType(), w2 = op.getW2().getType();
  int64_t e = w13.getDimSize(0), h = w13.getDimSize(2), i = w2.getDimSize(2);
  int64_t k = op.getIds().getType().getDimSize(1);
  // Expert parallelism (the per-rank form): `e` experts here, out of
  // ranks * e; this rank may receive every rank's max_tokens * k slots.
  ExpertParallel ep(op);
  int64_t ranks = ep.ranks;
  int64_t maxRows = maxTokens * k * ranks;
  Type yElem = op.getGemm2Type();
  Type outElem = op.getOut().getType().getElementType();
  // sm_100a's single-issuer shape (buildFusedSingleIssuerRoles) for bf16
  // weights on one GPU: the MMAs' commits free the stages (1 arrival).
  bool single = singleIssuer && !expanded && ranks == 1 && !commOnly &&
                !phaseTimers && !op.getActQuantAttr();
  // The dispatch's rows published block by block (one GPU) or segment by
  // segment (expert parallelism), GEMM1's producer waiting for its tile's
  // rows instead of grid barrier 2 (bf16 rows, MMA warpgroups).
  // GEMM1's rows gathered from x by the producer warp (moek.gather_rows)
  // instead of copied by the dispatch (bf16 rows and weights, one GPU, MMA
  // warpgroups): the dispatch records each row's token where the rows
  // would be (the workspace keeps its layout), GEMM2 is unchanged.
  bool gather = gatherRows && !packed && ranks == 1 && !commOnly && !single &&
                !op.getXQuantAttr();
  bool blockReady = dispatchReadiness && !commOnly && !single &&
                    !op.getXQuantAttr() && !gather;
  FusedWorkspace ws(ranks * e, h, i, maxRows, yElem.isBF16() ? 2 : 4,
                    phaseTimers, /*fp8=*/false, ranks, e, blockReady);
  // The producer's registers (the MMA warpgroups get the rest): the waits
  // on the source ranks' segments (ExpertParallel::awaitRows) spilled 8
  // bytes in 40 at four ranks (E = 16, H = 1024); 48 and 224 spill nowhere.
  int64_t producerRegs = blockReady && ranks > 1 ? 48 : 40;
  // GEMM1 tiles: 128 output columns (a gate and an up box of 128 weight
  // rows); GEMM2 tiles: 256 columns.
  int64_t cols1 = llvm::divideCeil(i, 128), cols2 = llvm::divideCeil(h, 256);

  // GEMM2's bf16 rows go into y by TMA, through shared memory next to the
  // ring (moek.store_acc_tma; its descriptor is parameter 4): with bf16
  // weights on one GPU, whose four 48 KB stages (and 1 KB of alignment)
  // leave 33 KB of the 227 KB less the static shared memory, about 12
  // bytes an expert (three prefix sums) and a few hundred more: two 8 KB
  // halves a warpgroup up to about 150 experts, one beyond.
  // Absorbed tails (absorbTails): each stage also holds a 2 KB tile of 16
  // rows (tile 2), and the staging a half a warpgroup less where four
  // 50 KB stages leave no room for two.
  constexpr int64_t kTailRows = 16;
  // 'auto': where an expert has at most 192 rows on average at max-tokens
  // (three H100 runs: 2-4% faster at 128 rows an expert; at 256 (Qwen3)
  // -0.1, -1.6, +4.1%; at 1024 no gain either; docs/FusedKernel.md).
  // (With per-expert biases ptxas spilled 64-164 bytes: not taken.)
  bool absorbAsked = absorbTails == "true";
  bool absorb =
      (absorbAsked || (absorbTails == "auto" && maxTokens * k <= 192 * e)) &&
      transposedSmallTiles && !packed && ranks == 1 && !commOnly && !single &&
      yElem.isBF16() && !op.getXQuantAttr() && !gather && !blockReady &&
      !op.getW13Bias() && !op.getW2Bias();
  auto halvesFor = [&](bool withTail) {
    return stagingHalvesBeside(
        stages * (48 * 1024 + (withTail ? kTailRows * kSliceBytes : 0)) + 1024 +
        12 * (e + 1) + 256);
  };
  int64_t yHalves = halvesFor(absorb);
  if (absorb && yHalves == 0) {
    absorb = false;
    yHalves = halvesFor(false);
  }
  bool yTma = !packed && ranks == 1 && !commOnly && !single &&
              yElem.isBF16() && yHalves > 0;
  absorb = absorb && yTma;
  if (absorbAsked && !absorb && !packed)
    op.emitRemark() << "convert-moe-to-moek: absorb-tails not applied (it "
                       "takes bf16 weights and rows on sm_90a, one GPU, "
                       "small-tiles, bf16 y stored by TMA, without "
                       "gather-rows, dispatch-readiness or biases)";
  int64_t tailRows = absorb ? kTailRows : 0;
  // GEMM1's readiness signals relayed to warps 1 and 2 of the producer
  // warpgroup (moek.signal_relay), which are idle otherwise; where the
  // option does not apply (FP4 or MXFP8 weights, expert parallelism,
  // gather-rows, sm_100a's single issuer) each warpgroup adds its own.
  bool relay = asyncSignals && !packed && ranks == 1 && !commOnly && !single &&
               !gather;
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  SmallVector<NamedAttribute> wsAttrs = fusedWorkspaceAttrs(b, ws, maxTokens);
  SmallVector<Type> params{ptr, ptr, ptr, ptr};
  if (yTma)
    params.push_back(ptr);
  if (absorb)
    params.append({ptr, ptr}); // the rows and the activation, 16-row boxes
  params.append({gptr, gptr, gptr});
  if (packed)
    params.append({gptr, gptr}); // w13_scales, w2_scales
  params.append(int64_t(g13) + g2, gptr); // NVFP4: w13, w2 global scales
  // Per-expert biases: the launch's operands after the scales.
  SmallVector<int64_t> biasOperands;
  for (Value bias : {op.getW13Bias(), op.getW2Bias()})
    if (bias)
      biasOperands.push_back(5 + (packed ? 2 : 0) + g13 + g2 +
                             int64_t(biasOperands.size()));
  params.append(biasOperands.size(), gptr);
  params.append({gptr, gptr, b.getI32Type()});
  ArrayAttr abi = buildFusedAbi(b, e, h, i, maxRows, ws, /*fp8=*/false, packed,
                                int64_t(g13) + g2, /*paddedFp4=*/false, yTma,
                                biasOperands, tailRows);
  ep.extend(b, params, abi);
  unsigned numTma = (yTma ? 5 : 4) + (absorb ? 2 : 0);
  auto func = createKernelFunc(b, loc, name, params, numTma, abi, wsAttrs);

  Block *entry = func.addEntryBlock(b);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  // Argument n of the parameters after the descriptors (x is 0).
  auto arg = [&](unsigned n) { return entry->getArgument(numTma + n); };
  Value tmapW13 = entry->getArgument(0), tmapW2 = entry->getArgument(1),
        tmapRows = entry->getArgument(2), tmapAct = entry->getArgument(3),
        tmapY = yTma ? entry->getArgument(4) : Value();
  Value tmapRowsTail = absorb ? entry->getArgument(5) : Value(),
        tmapActTail = absorb ? entry->getArgument(6) : Value();
  unsigned scaleArgs = (packed ? 2 : 0) + g13 + g2;
  unsigned biasArgs = biasOperands.size();
  Value x = arg(0), ids = arg(1), weights = arg(2),
        out = arg(3 + scaleArgs + biasArgs),
        wsBase = arg(4 + scaleArgs + biasArgs);
  Value w13Scales = packed ? arg(3) : Value(),
        w2Scales = packed ? arg(4) : Value();
  Value w13Global = g13 ? arg(5) : Value(), w2Global = g2 ? arg(5 + g13) : Value();
  Value w13Bias = op.getW13Bias() ? arg(3 + scaleArgs) : Value(),
        w2Bias = op.getW2Bias() ? arg(3 + scaleArgs + bool(w13Bias)) : Value();
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  Value tokens = arith::IndexCastUIOp::create(b, loc, b.getIndexType(),
                                              arg(5 + scaleArgs + biasArgs));
  auto at = [&](int64_t offset) {
    return workspacePart(b, loc, wsBase, offset);
  };
  Value nextTile = at(ws.nextTile);
  Value barrier = at(ws.barrier), counts = at(ws.counts),
        cursor = at(ws.cursor), ready = at(ws.ready), offsets = at(ws.offsets),
        slotRows = at(ws.slotRows), rowWeights = at(ws.rowWeights),
        rows = at(ws.rows), act = at(ws.act), y = at(ws.y);
  Value ctaId = mk::BlockIdOp::create(b, loc, b.getIndexType());
  PhaseTimers timers{phaseTimers ? at(ws.timers) : Value(), ctaId,
                     phaseTimers ? at(ws.trace) : Value()};

  auto tile = [&](int64_t r) {
    return MemRefType::get({r, kTileK}, b.getBF16Type(), AffineMap(),
                           b.getI64IntegerAttr(3));
  };
  SmallVector<Type> tiles{tile(128), tile(256)};
  if (absorb)
    tiles.push_back(tile(kTailRows));
  if (packed)
    tiles.push_back(MemRefType::get(
        {256, kTileK},
        mxfp8W ? Type(b.getType<Float8E4M3FNType>())
               : Type(b.getType<Float4E2M1FNType>()),
        AffineMap(), b.getI64IntegerAttr(3)));
  auto ringType = mk::RingType::get(ctx, stages, tiles);
  auto accType = mk::AccType::get(ctx, 64, 256, b.getF32Type());
  auto ringAlloc = mk::RingAllocOp::create(
      b, loc, ringType, b.getI64IntegerAttr(single ? 1 : 256));
  // Gathered rows: every stage's full barrier also counts the 32 lanes'
  // copy arrivals (moek.ring_arrive_copies).
  if (gather)
    ringAlloc.setProducers(33);
  Value ring = ringAlloc;
  // FP4 weights on sm_90a: a tile of at most kSmallRows rows is multiplied
  // transposed (moek.mma_fp4_bf16: each MMA warpgroup's 128 weight rows,
  // expanded in registers, times the tile's first kSmallRows token rows),
  // and the two products go back through this 16 KB buffer into the first
  // warpgroup's accumulator (acc_store_transposed / acc_load_smem {rows}).
  // bf16 weights: the same with moek.mma (m64n16k16, each warpgroup's 128
  // weight rows of tile 1 by tile 0's first kSmallRows rows); the products
  // go back through y's staging (16 KB or more), once both warpgroups' TMA
  // stores of y have read it.
  constexpr int64_t kSmallRows = 16, kTransposeBarrier = 10;
  static_assert(kSmallRows == kTailRows, "a tail goes back as a small tile");
  auto tailAcc = mk::AccType::get(ctx, 64, kSmallRows, b.getF32Type());
  bool bf16Small =
      transposedSmallTiles && !packed && yTma && !op.getXQuantAttr();
  bool smallTiles = (transposedSmallTiles && packed && !mxfp8W) || bf16Small;
  Value yStaging = yTma ? allocStaging(b, loc, yHalves) : Value();
  Value transposeBuf =
      bf16Small ? yStaging
      : smallTiles
          ? mk::SmemAllocOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                                    b.getI64IntegerAttr(kSmallRows * 256 * 4))
          : Value();

  ep.bind(b, loc, func, /*firstArg=*/numTma + 6 + scaleArgs + biasArgs, ws,
          at);

  // Phase 1: the routed rows, expert by expert (grid barriers 1 and 2); with
  // expert parallelism, to the ranks that own the experts.
  timers.stamp(b, loc, 0);
  // MXFP8 rows (x_quant): each 1x32 block rounded to its MXFP8 value in
  // bf16 (exact).
  Value rowsReady = blockReady && ranks == 1 ? at(ws.rowsReady) : Value();
  ep.dispatch(b, loc, x, ids, weights, tokens, counts, cursor, offsets,
              slotRows, rowWeights, gather ? Value() : rows, barrier, Value(),
              k, h, /*permuteK=*/false, /*mxRound=*/bool(op.getXQuantAttr()),
              rowsReady, blockReady ? at(ws.offsetsReady) : Value(),
              /*blockRows=*/128, gather ? rows : Value());
  timers.stamp(b, loc, 1);
  // The grid barrier before the combine: the third, or the second when the
  // dispatch has none of its own at its end.
  int64_t lastBarrier = blockReady ? 2 : 3;

  // Phase 2: the tiles of GEMM1 then those of GEMM2, one list.
  IntegerAttr numE = b.getI64IntegerAttr(e), tileRows = b.getI64IntegerAttr(128);
  auto count = [&](int64_t cols) -> Value {
    auto op =
        mk::GroupedTileCountOp::create(b, loc, b.getIndexType(), offsets, numE,
                                       tileRows, b.getI64IntegerAttr(cols));
    if (tailRows)
      op.setTailRowsAttr(b.getI64IntegerAttr(tailRows));
    return op;
  };
  Value n1 = count(cols1), n2 = count(cols2);
  // comm-only (expert parallelism, to time the transfers): no tiles; the
  // MMA warpgroups send the received rows back instead.
  Value total = commOnly ? arith::ConstantIndexOp::create(b, loc, 0).getResult()
                         : arith::AddIOp::create(b, loc, n1, n2).getResult();
  int64_t rowGroup = std::clamp<int64_t>(
      (int64_t(16) << 20) / std::max<int64_t>(1, 128 * h * 2), 1, 8);
  auto decode = [&](OpBuilder &ob, Value t, int64_t cols) {
    SmallVector<Type> types(4, ob.getIndexType());
    auto d = mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE,
                                       tileRows, ob.getI64IntegerAttr(cols),
                                       ob.getI64IntegerAttr(rowGroup));
    if (tailRows)
      d.setTailRowsAttr(ob.getI64IntegerAttr(tailRows));
    return d;
  };
  // An absorbed tail: the expert's rows end 1 to kTailRows rows past the
  // tile's 128 (then this is its last block; a block before the last has
  // more than 128 + kTailRows rows after its first).
  auto hasTail = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    Value left = arith::SubIOp::create(ob, loc, d.getRowEnd(), d.getRow());
    return arith::AndIOp::create(
        ob, loc,
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ugt, left,
                              idx(ob, 128)),
        arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ule, left,
                              idx(ob, 128 + kTailRows)));
  };
  // The readiness counter of a tile's row block (see FusedWorkspace), and
  // its target: every GEMM1 tile of the block, once per MMA warpgroup.
  auto readyIndex = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    return arith::AddIOp::create(
        ob, loc, arith::DivUIOp::create(ob, loc, d.getRow(), idx(ob, 128)),
        d.getExpert());
  };
  Value cH = idx(b, h);
  bool interleaved = op.getGateUpLayout() == GateUpLayout::interleaved;
  Value slices1 = idx(b, h / kTileK), slices2 = idx(b, i / kTileK);
  // The first weight rows of a GEMM1 tile's two 128-row boxes.
  auto gemm1Boxes = [&](OpBuilder &ob,
                        mk::GroupedTileOp d) -> std::pair<Value, Value> {
    return gemm1WeightBoxes(ob, loc, d.getExpert(), d.getColTile(), i, 128,
                            interleaved);
  };
  // The first weight rows of a GEMM2 tile's two 128-row boxes: 256
  // consecutive rows of w2.
  auto gemm2Boxes = [&](OpBuilder &ob,
                        mk::GroupedTileOp d) -> std::pair<Value, Value> {
    Value base = arith::AddIOp::create(
        ob, loc, arith::MulIOp::create(ob, loc, d.getExpert(), cH),
        arith::MulIOp::create(ob, loc, d.getColTile(), idx(ob, 256)));
    return {base, arith::AddIOp::create(ob, loc, base, idx(ob, 128))};
  };

  // A dynamic tile scheduler: the producer fetches the next tile index
  // from a device counter (0, 1, 2, ... across the grid, so a CTA that runs
  // ahead takes more tiles) and tags the tile's stages with it; the MMA
  // warpgroups read the tag of each tile's first stage. The index past the
  // last tile, on one stage without loads, tells them to stop. Indices are
  // handed out in order, so every GEMM1 tile is taken by a running CTA
  // before any GEMM2 tile that waits for it.
  // Producer: warpgroup 0, one thread issues every copy; a GEMM2 tile waits
  // until the GEMM1 tiles of its row block have stored their activations.
  // The weights go to tile 1 (bf16, 128-byte rows) or, expanded weights,
  // tile 2: packed FP4 (32 bytes a row, counted in bytes) or e4m3 (64).
  int64_t bTile = packed ? 2 : 1,
          bRowBytes = mxfp8W ? kTileK : packed ? kTileK / 2 : kSliceBytes;
  bool bPacked = packed && !mxfp8W;
  // Single issuer: the MMA issuer shares the producer's warpgroup, whose
  // 40 registers made ptxas spill (DeepSeek-V3: 156 bytes); 56 and 216 for
  // the epilogue fit (128 x 56 + 256 x 216 <= 64K).
  // Gathered rows: warp 0 of the producer warpgroup, lane 0 tagging the
  // stages, expecting the weights' bytes and issuing their copies, every
  // lane then copying its share of a GEMM1 stage's rows and arriving once
  // its copies land (a GEMM2 or stop stage: at once).
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, single ? 56 : producerRegs);
    Block *producerRole = b.getInsertionBlock();
    Value leader = beginProducerThreads(b, loc, gather);
    auto arrive = [&](OpBuilder &hb, Location hl, Value st, Value) {
      mk::RingArriveCopiesOp::create(hb, hl, ring, st);
    };
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, total, /*producer=*/true,
        [&](OpBuilder &ob, Value t, Value iter) -> Value {
          Location l = loc;
          timers.traceTile(ob, l, t, 0);
          return buildPerGemm(
              ob, l, t, n1,
              [&](OpBuilder &tb, Value t1) -> Value {
                auto d = decode(tb, t1, cols1);
                if (blockReady)
                  ep.awaitTileRows(tb, l, offsets, rowsReady, d, 128,
                                   [&] { return readyIndex(tb, d); });
                auto [base, up] = gemm1Boxes(tb, d);
                Value tokens =
                    loadTileTokens(tb, l, gather ? rows : Value(), d, 128);
                auto gatherHook = [&](OpBuilder &hb, Location hl, Value st,
                                      Value ks) {
                  gatherStageRows(hb, hl, ring, st, ks, x, tokens, kTileK, h,
                                  gatherHint);
                };
                TailBox tail;
                if (absorb)
                  tail = {tmapRowsTail, hasTail(tb, d), 2, kTailRows};
                Value next = buildTileLoads(
                    tb, l, ring, gather ? Value() : tmapRows, d.getRow(),
                    d.getRowEnd(), 128, tmapW13, {base, up}, slices1, iter,
                    streamWeights, t, kTileK, /*boxPerTile=*/false, bTile,
                    bRowBytes, bPacked, /*aTile=*/0, kSliceBytes, leader,
                    gather ? StageHook(gatherHook) : StageHook(), kWBoxRows,
                    Value(), tail);
                return next;
              },
              [&](OpBuilder &eb, Value t2) -> Value {
                auto d = decode(eb, t2, cols2);
                mk::WaitCounterOp::create(eb, l, ready, readyIndex(eb, d),
                                          idx(eb, 2 * cols1));
                auto [base, second] = gemm2Boxes(eb, d);
                TailBox tail;
                if (absorb)
                  tail = {tmapActTail, hasTail(eb, d), 2, kTailRows};
                Value next = buildTileLoads(
                    eb, l, ring, tmapAct, d.getRow(), d.getRowEnd(), 128,
                    tmapW2, {base, second}, slices2, iter, streamWeights, t,
                    kTileK, /*boxPerTile=*/false, bTile, bRowBytes, bPacked,
                    /*aTile=*/0, kSliceBytes, leader,
                    gather ? StageHook(arrive) : StageHook(), kWBoxRows,
                    Value(), tail);
                return next;
              });
        },
        /*producerWarp=*/gather);
    buildStopMark(b, loc, ring, last, total, leader);
    timers.stamp(b, loc, 2);
    // Warps 1 and 2: the relays of MMA warpgroups 1 and 2's signals.
    if (relay) {
      OpBuilder rb = OpBuilder::atBlockEnd(producerRole);
      for (int64_t w = 1; w <= 2; ++w) {
        Value inWarp = mk::InWarpOp::create(rb, loc, rb.getI1Type(),
                                            rb.getI64IntegerAttr(w));
        auto ifOp = scf::IfOp::create(rb, loc, inWarp, false);
        OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
        mk::SignalRelayOp::create(tb, loc, ready, tb.getI64IntegerAttr(w));
      }
    }
  }

  // Phase 4: each token's rows of y summed (the threads of warpgroups 1
  // and 2).
  auto combine = [&](OpBuilder &ob) {
    Value combineWeights =
        op.getRouterWeight() == RouterWeight::in_combine ? weights : Value();
    mk::CombineOp::create(ob, loc, y, slotRows, combineWeights, out, tokens,
                          ob.getI64IntegerAttr(k), ob.getI64IntegerAttr(h),
                          TypeAttr::get(yElem), TypeAttr::get(outElem),
                          ob.getI64IntegerAttr(128), ob.getI64IntegerAttr(256));
  };
  if (single) {
    // The MMA issuer (128 x 256 MMAs, a GEMM1 or GEMM2 tile's stages) and
    // the epilogue, warpgroups 1 and 2, half of each tile's columns each:
    // GEMM1 tiles end with the activation (64 of the 128 output columns a
    // warpgroup) and a signal, GEMM2 tiles store rows of y (128 columns a
    // warpgroup). Then, after every CTA's last tile, the combine.
    Value rw = op.getRouterWeight() == RouterWeight::before_down ? rowWeights
                                                                 : Value();
    buildFusedTmemRoles(
        b, loc, ring, total, n1, slices1, slices2, 256, /*blockScales=*/false,
        barrier,
        [&](OpBuilder &tb, Value t, Value accs, Value j, Value wg) {
          auto d = decode(tb, t, cols1);
          Value first = arith::MulIOp::create(tb, loc, wg, idx(tb, 64));
          auto store = mk::AccStoreActRowsOp::create(
              tb, loc, accs, j, first, tb.getI64IntegerAttr(64), act,
              d.getRow(),
              arith::AddIOp::create(
                  tb, loc,
                  arith::MulIOp::create(tb, loc, d.getColTile(), idx(tb, 128)),
                  first),
              d.getRowEnd(), rw, /*out_scales=*/Value(), w13Bias,
              w13Bias ? d.getExpert() : Value(),
              tb.getStringAttr(stringifyActivationKind(op.getActivation())),
              tb.getStringAttr(interleaved ? "interleaved" : "concat"),
              TypeAttr::get(op.getGemm1Type()),
              TypeAttr::get(tb.getBF16Type()), tb.getI64IntegerAttr(i),
              FloatAttr(), FloatAttr(),
              w13Bias ? TypeAttr::get(biasElementType(op.getW13Bias()))
                      : TypeAttr(),
              w13Bias ? tb.getI64IntegerAttr(2 * i) : IntegerAttr());
          if (FloatAttr alpha = op.getAlphaAttr())
            store.setAlphaAttr(alpha);
          if (FloatAttr limit = op.getLimitAttr())
            store.setLimitAttr(limit);
          mk::SignalOp::create(tb, loc, ready, readyIndex(tb, d));
        },
        [&](OpBuilder &eb, Value t2, Value accs, Value j, Value wg) {
          auto d = decode(eb, t2, cols2);
          Value first = arith::MulIOp::create(eb, loc, wg, idx(eb, 128));
          mk::AccStoreRowsOp::create(
              eb, loc, accs, j, first, eb.getI64IntegerAttr(128), y,
              d.getRow(),
              arith::AddIOp::create(
                  eb, loc,
                  arith::MulIOp::create(eb, loc, d.getColTile(), idx(eb, 256)),
                  first),
              d.getRowEnd(), w2Bias, w2Bias ? d.getExpert() : Value(),
              TypeAttr::get(yElem), eb.getI64IntegerAttr(h),
              w2Bias ? TypeAttr::get(biasElementType(op.getW2Bias()))
                     : TypeAttr(),
              w2Bias ? eb.getI64IntegerAttr(h) : IntegerAttr());
        },
        combine);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return func;
  }

  // Consumers: warpgroups 1 and 2, half of each tile's rows each. GEMM1
  // tiles end with the activation and a signal; GEMM2 tiles store rows of
  // y. Then, after every CTA's last tile, the combine.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "consumer", 1, 2, producerRegs == 40 ? 232 : 224);
    Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
    Value aRow = arith::MulIOp::create(b, loc, wg, idx(b, 64));
    Value rw = op.getRouterWeight() == RouterWeight::before_down ? rowWeights
                                                                 : Value();
    Value wgStaging, storeBarrier;
    if (yTma)
      std::tie(wgStaging, storeBarrier) =
          warpgroupStaging(b, loc, yStaging, wg, yHalves);
    Type g1 = op.getGemm1Type();
    StringRef actName = stringifyActivationKind(op.getActivation());
    FloatAttr alpha = op.getAlphaAttr(), limit = op.getLimitAttr();
    // A small tile's two products (64 weight rows by kSmallRows tokens
    // each) into the 64 x 256 accumulator through transposeBuf: warpgroup
    // w's products are columns 128 w + 64 f, 64 values a thread of the
    // target fragment further (2048 floats); both warpgroups store, then
    // the first one's rows are loaded.
    auto smallBuf = [&](OpBuilder &bb) -> Value {
      return LLVM::GEPOp::create(
          bb, loc, transposeBuf.getType(), bb.getF32Type(), transposeBuf,
          ValueRange{arith::IndexCastUIOp::create(
              bb, loc, bb.getI64Type(),
              arith::MulIOp::create(bb, loc, wg,
                                    idx(bb, 64 * 2 * kSmallRows)))});
    };
    auto backFromSmall = [&](OpBuilder &bb, ArrayRef<Value> products) -> Value {
      return transposeBack(bb, loc, products, {}, smallBuf(bb), transposeBuf,
                           kTransposeBarrier, 256, accType);
    };
    // With bf16 weights the buffer is y's staging: both warpgroups' stores
    // of y have read it before either writes its products there.
    auto stashInStaging = [&](OpBuilder &bb, ArrayRef<Value> products) {
      mk::StoreAccTmaWaitOp::create(bb, loc, /*read=*/true);
      mk::BarrierSyncOp::create(bb, loc,
                                bb.getI64IntegerAttr(kTransposeBarrier),
                                bb.getI64IntegerAttr(256));
      storeTransposed(bb, loc, products, {}, smallBuf(bb));
    };
    // This warpgroup's two 64-row blocks of tile 1's weight rows (wgmma's A
    // in the transposed products).
    auto weightBlocks = [&](OpBuilder &bb) -> SmallVector<Value> {
      Value first = arith::MulIOp::create(bb, loc, wg, idx(bb, 128));
      return {first, arith::AddIOp::create(bb, loc, first, idx(bb, 64))};
    };
    // A small tile (smallTiles): this warpgroup's 128 weight rows (tile 2
    // rows from 128 wg, the box from `firstRow` in the scales' rows) times
    // the tile's first kSmallRows token rows, accumulated over the K
    // slices; then transposed back into a 64 x 256 accumulator (rows past
    // kSmallRows 0), the first warpgroup's rows. Both warpgroups take this
    // path for the same tiles (the row count decides).
    auto smallTileMmas = [&](OpBuilder &bb, Value scales, Value firstRow,
                             int64_t scaleRows, int64_t kDim, Value slices,
                             Value iter) -> std::pair<Value, Value> {
      Location l = loc;
      auto small = mk::AccType::get(ctx, 64, kSmallRows, bb.getF32Type());
      auto quad = VectorType::get({4}, bb.getI32Type());
      Value c0 = idx(bb, 0), c1 = idx(bb, 1);
      Value lastSlice = arith::SubIOp::create(bb, l, slices, c1);
      auto sliceScales = [&](OpBuilder &ib, Value slice) -> Value {
        auto load = mk::LoadFp4SliceScalesOp::create(
            ib, l, quad, scales, firstRow, slice,
            ib.getI64IntegerAttr(scaleRows),
            ib.getI64IntegerAttr(kDim / (nvfp4 ? 16 : 32)));
        load.setNvfp4(nvfp4);
        return load;
      };
      Value zero = mk::MmaZeroOp::create(bb, l, small);
      Value aRowPacked = arith::MulIOp::create(bb, l, wg, idx(bb, 128));
      // One stage at a time: its MMAs, the next stage's scales loaded
      // meanwhile, the wait, the release. (Keeping one stage's MMAs in
      // flight while the next is expanded gave wrong results on the H200,
      // most likely because wgmma reads its A registers asynchronously and
      // nothing kept the next expansion out of them;
      // bench/results/2026-12-03-fused-moe-fp4-small-tiles-h200.md.)
      auto loop = scf::ForOp::create(
          bb, l, c0, slices, c1,
          ValueRange{zero, zero, sliceScales(bb, c0), iter},
          [&](OpBuilder &ib, Location il, Value ks, ValueRange it) {
            Value i = it[3];
            mk::RingWaitOp::create(ib, il, ring, i);
            auto mma = mk::MmaFp4Bf16Op::create(
                ib, il, TypeRange{small, small}, ring, i,
                ib.getI64IntegerAttr(2), aRowPacked, ib.getI64IntegerAttr(0),
                ValueRange{it[0], it[1]}, it[2]);
            mma.setNvfp4(nvfp4);
            Value next = sliceScales(
                ib, arith::MinUIOp::create(
                        ib, il, arith::AddIOp::create(ib, il, ks, c1),
                        lastSlice));
            SmallVector<Value> results;
            for (int64_t f = 0; f < 2; ++f)
              results.push_back(mk::MmaWaitOp::create(
                  ib, il, mma.getResult(f), ib.getI64IntegerAttr(0)));
            mk::RingReleaseOp::create(ib, il, ring, i);
            results.push_back(next);
            results.push_back(arith::AddIOp::create(ib, il, i, c1));
            scf::YieldOp::create(ib, il, results);
          });
      disableUnroll(loop);
      SmallVector<Value> products{loop.getResult(0), loop.getResult(1)};
      // NVFP4: the products were 2^-9 times the exact ones.
      if (nvfp4) {
        Value twoTo9 = arith::ConstantOp::create(
            bb, l, bb.getF32FloatAttr(512.0f));
        for (Value &p : products)
          p = mk::AccScaleOp::create(bb, l, p, twoTo9);
      }
      return {backFromSmall(bb, products), loop.getResult(3)};
    };
    // A small tile with bf16 weights: this warpgroup's 128 weight rows
    // (tile 1 from row 128 wg, two 64-row A blocks) by the tile's first
    // kSmallRows token rows (tile 0), then back through y's staging into
    // a 64 x 256 accumulator as above.
    auto bf16SmallTileMmas = [&](OpBuilder &bb, Value slices,
                                 Value iter) -> std::pair<Value, Value> {
      auto [products, next] =
          buildMmaLoop(bb, loc, ring, tailAcc, weightBlocks(bb), slices, iter,
                       /*pipelined=*/true, nullptr, /*cols=*/0, /*aTile=*/1,
                       /*bTile=*/0);
      stashInStaging(bb, products);
      return {loadTransposed(bb, loc, kSmallRows, transposeBuf,
                             kTransposeBarrier, 256, accType),
              next};
    };
    // The MMAs of a tile: buildTileMmas, or with smallTiles the transposed
    // product when the tile has at most kSmallRows rows. `onFull`: what a
    // warpgroup does with each full stage before its MMAs (the expansion
    // of packed weights). `boxes` are the first weight rows of tile 2's two
    // 128-row halves.
    // A GEMM's last column tile narrower than the tile (`validRows` of
    // tile 1's rows, the output's columns left; 0: none) takes narrower
    // MMAs.
    auto narrowLast = [&](OpBuilder &tb, mk::GroupedTileOp d, int64_t tiles,
                          int64_t validRows) {
      return narrowLastTile(tb, loc, d.getColTile(), tiles,
                            narrowTiles ? validRows : 0);
    };
    auto tileMmas =
        [&](OpBuilder &tb, mk::GroupedTileOp d, Value row, Value slices,
            Value iter, StageHook onFull, Value scales,
            std::pair<Value, Value> boxes, int64_t scaleRows, int64_t kDim,
            NarrowTile narrow) -> std::pair<SmallVector<Value>, Value> {
      Location l = loc;
      auto big = [&](OpBuilder &ob) {
        return buildTileMmas(ob, l, ring, accType, aRow, row, d.getRowEnd(), 1,
                             slices, iter, /*pipelined=*/true, onFull, narrow);
      };
      if (!smallTiles)
        return big(tb);
      Value few = arith::CmpIOp::create(
          tb, l, arith::CmpIPredicate::ule, d.getRowEnd(),
          arith::AddIOp::create(tb, l, d.getRow(), idx(tb, kSmallRows)));
      // With absorbed tails, the tile's accumulator and the tail's two
      // transposed products (zero where the tile has no tail).
      SmallVector<Type> types{accType};
      if (absorb)
        types.append(2, tailAcc);
      types.push_back(tb.getIndexType());
      auto ifOp = scf::IfOp::create(tb, l, types, few, true);
      auto yieldWithTail = [&](OpBuilder &yb, ArrayRef<Value> accs,
                               Value next) {
        SmallVector<Value> yield(accs);
        if (absorb && accs.size() == 1)
          yield.append(2, mk::MmaZeroOp::create(yb, l, tailAcc));
        yield.push_back(next);
        scf::YieldOp::create(yb, l, yield);
      };
      if (bf16Small) {
        OpBuilder sb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        auto [acc, next] = bf16SmallTileMmas(sb, slices, iter);
        yieldWithTail(sb, {acc}, next);
      } else {
        OpBuilder sb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        Value firstRow = arith::SelectOp::create(
            sb, l,
            arith::CmpIOp::create(sb, l, arith::CmpIPredicate::eq, wg,
                                  idx(sb, 0)),
            boxes.first, boxes.second);
        auto [acc, next] = smallTileMmas(sb, scales, firstRow, scaleRows, kDim,
                                         slices, iter);
        scf::YieldOp::create(sb, l, ValueRange{acc, next});
      }
      OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
      if (absorb) {
        // A tile with a tail: its 128 rows as above and, in the same
        // stages, this warpgroup's 128 weight rows by the tail's rows
        // (tile 2), two 64 x kSmallRows products.
        auto tailIf = scf::IfOp::create(eb, l, types, hasTail(eb, d), true);
        {
          OpBuilder wb = OpBuilder::atBlockEnd(tailIf.thenBlock());
          SmallVector<Value> blocks = weightBlocks(wb);
          auto [accs, next] = buildMmaSpecLoop(
              wb, l, ring,
              {MmaSpec{accType, 0, aRow, 1}, MmaSpec{tailAcc, 1, blocks[0], 2},
               MmaSpec{tailAcc, 1, blocks[1], 2}},
              slices, iter, /*pipelined=*/true, onFull);
          yieldWithTail(wb, accs, next);
        }
        {
          OpBuilder nb = OpBuilder::atBlockEnd(tailIf.elseBlock());
          auto [accs, next] = big(nb);
          yieldWithTail(nb, {accs[0]}, next);
        }
        scf::YieldOp::create(eb, l, tailIf.getResults());
      } else {
        auto [accs, next] = big(eb);
        scf::YieldOp::create(eb, l, ValueRange{accs[0], next});
      }
      return {SmallVector<Value>(ifOp.getResults().drop_back()),
              ifOp.getResults().back()};
    };
    // An absorbed tail's end, in two parts: its two products stored
    // transposed into y's staging (once both warpgroups' TMA stores of y
    // have read it; GEMM1 before its own rows' epilogue, which leaves the
    // staging alone, so that the products' registers are free for it),
    // then back into a 64 x 256 accumulator, `finish`ed by the first
    // warpgroup (the tail's rows from the tile's row + 128).
    // `tail`: hasTail of the tile (null without absorbed tails).
    auto tailStash = [&](OpBuilder &tb, Value tail, ArrayRef<Value> accs) {
      if (!tail)
        return;
      auto ifOp = scf::IfOp::create(tb, loc, tail, false);
      OpBuilder bb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      stashInStaging(bb, {accs[1], accs[2]});
    };
    auto tailFinish =
        [&](OpBuilder &tb, mk::GroupedTileOp d, Value tail,
            function_ref<void(OpBuilder &, Value, Value)> finish) {
          if (!tail)
            return;
          auto ifOp = scf::IfOp::create(tb, loc, tail, false);
          OpBuilder bb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          Value acc = loadTransposed(bb, loc, kSmallRows, transposeBuf,
                                     kTransposeBarrier, 256, accType);
          auto only = scf::IfOp::create(
              bb, loc,
              arith::CmpIOp::create(bb, loc, arith::CmpIPredicate::eq, wg,
                                    idx(bb, 0)),
              false);
          OpBuilder ob = OpBuilder::atBlockTerminator(only.thenBlock());
          finish(ob, acc,
                 arith::AddIOp::create(ob, loc, d.getRow(), idx(ob, 128)));
        };
    // The first MMA warpgroup's tile parts (PhaseTimers; no prologue, no
    // exchange: slots 7 and 13 stay zero).
    Value firstWg =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, idx(b, 0));
    timers.stamp(b, loc, 6, firstWg, "sub");
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, total, /*producer=*/false,
        [&](OpBuilder &ob, Value t, Value iter) -> Value {
          Location l = loc;
          timers.turn(ob, l, 6, 8, firstWg);
          timers.traceTile(ob, l, t, 1, firstWg, isGemm1Tag(ob, l, t, n1));
          Value tileEnd = buildPerGemm(
              ob, l, t, n1,
              [&](OpBuilder &tb, Value t1) -> Value {
                timers.stamp(tb, l, 12, firstWg, "sub");
                timers.stamp(tb, l, 11, firstWg, "count");
                auto d = decode(tb, t1, cols1);
                Value row = arith::AddIOp::create(tb, l, d.getRow(), aRow);
                // MXFP4: the scales of the rows the producer loaded (named
                // values: the lambda below captures them).
                std::pair<Value, Value> boxes = gemm1Boxes(tb, d);
                Value base = boxes.first, up = boxes.second;
                auto dequant = [&](OpBuilder &hb, Location hl, Value st,
                                   Value ks) {
                  expandWeights(hb, hl, ring, st, ks, w13Scales, base, up,
                                e * 2 * i, h, nvfp4, mxfp8W);
                };
                // Interleaved gate/up: the last tile's valid weight rows
                // are the first ones (concatenated, its gate and up boxes
                // both run past their halves: all MMAs).
                auto [accs, next] = tileMmas(
                    tb, d, row, slices1, iter,
                    packed ? StageHook(dequant) : StageHook(), w13Scales, boxes,
                    e * 2 * i, h,
                    narrowLast(tb, d, cols1, interleaved ? (2 * i) % 256 : 0));
                timers.turn(tb, l, 8, 9, firstWg);
                // NVFP4's global scale; the bias of the tile's gate and
                // up rows (interleaved: 256 consecutive rows; I a multiple
                // of 128: every tile's rows lie in the row).
                Value first, upper;
                if (w13Bias) {
                  first = arith::MulIOp::create(
                      tb, l, d.getColTile(),
                      idx(tb, interleaved ? 256 : 128));
                  upper = arith::AddIOp::create(
                      tb, l, first, idx(tb, interleaved ? 128 : i));
                }
                // The bias, then the activation of rows from `at`.
                auto storeAct = [&](OpBuilder &sb, Value acc, Value at) {
                  SmallVector<Value> one{acc};
                  scaleAndAddBias(sb, l, one, w13Global, w13Bias,
                                  op.getW13Bias(), d.getExpert(), first, upper,
                                  i % 128 == 0);
                  auto store = mk::StoreActOp::create(
                      sb, l, one[0], act, at,
                      arith::MulIOp::create(sb, l, d.getColTile(),
                                            idx(sb, 128)),
                      d.getRowEnd(), rw, sb.getStringAttr(actName),
                      sb.getStringAttr(interleaved ? "interleaved" : "concat"),
                      TypeAttr::get(g1), TypeAttr::get(sb.getBF16Type()),
                      sb.getI64IntegerAttr(i), FloatAttr(), FloatAttr());
                  if (alpha)
                    store.setAlphaAttr(alpha);
                  if (limit)
                    store.setLimitAttr(limit);
                  // MXFP8 activations (act_quant): rounded per 1x32 block.
                  store.setMxRound(bool(op.getActQuantAttr()));
                  store.setApprox(approxActivation);
                };
                timers.stamp(tb, l, 14, firstWg, "sub");
                Value tail = absorb ? hasTail(tb, d) : Value();
                tailStash(tb, tail, accs);
                storeAct(tb, accs[0], row);
                tailFinish(tb, d, tail,
                           [&](OpBuilder &sb, Value acc, Value at) {
                             storeAct(sb, acc, at);
                           });
                timers.turn(tb, l, 14, 15, firstWg);
                mk::SignalOp::create(tb, l, ready, readyIndex(tb, d))
                    .setRelayed(relay);
                timers.stamp(tb, l, 15, firstWg, "add");
                timers.stamp(tb, l, 12, firstWg, "add");
                return next;
              },
              [&](OpBuilder &eb, Value t2) -> Value {
                auto d = decode(eb, t2, cols2);
                Value row = arith::AddIOp::create(eb, l, d.getRow(), aRow);
                std::pair<Value, Value> boxes = gemm2Boxes(eb, d);
                Value base = boxes.first, second = boxes.second;
                auto dequant = [&](OpBuilder &hb, Location hl, Value st,
                                   Value ks) {
                  expandWeights(hb, hl, ring, st, ks, w2Scales, base, second,
                                e * h, i, nvfp4, mxfp8W);
                };
                auto [accs, next] = tileMmas(
                    eb, d, row, slices2, iter,
                    packed ? StageHook(dequant) : StageHook(), w2Scales, boxes,
                    e * h, i, narrowLast(eb, d, cols2, h % 256));
                timers.turn(eb, l, 8, 9, firstWg);
                Value col =
                    arith::MulIOp::create(eb, l, d.getColTile(), idx(eb, 256));
                // The bias, then the rows of y from `at`.
                auto storeY = [&](OpBuilder &sb, Value acc, Value at) {
                  SmallVector<Value> one{acc};
                  scaleAndAddBias(sb, l, one, w2Global, w2Bias, op.getW2Bias(),
                                  d.getExpert(), col, Value(), h % 256 == 0);
                  if (yTma)
                    mk::StoreAccTmaOp::create(
                        sb, l, one[0], tmapY, wgStaging, y, at, col,
                        d.getRowEnd(), storeBarrier,
                        sb.getI64IntegerAttr(yHalves), sb.getI64IntegerAttr(h));
                  else
                    ep.storeRows(sb, l, one, y, at, col, d.getRowEnd(), yElem,
                                 h);
                };
                storeY(eb, accs[0], row);
                Value tail = absorb ? hasTail(eb, d) : Value();
                tailStash(eb, tail, accs);
                tailFinish(eb, d, tail, storeY);
                return next;
              });
          timers.traceTile(ob, l, t, 2, firstWg);
          timers.turn(ob, l, 9, 6, firstWg);
          timers.stamp(ob, l, 10, firstWg, "count");
          return tileEnd;
        });
    timers.stamp(b, loc, 6, firstWg, "add");
    // The stop mark's stage.
    mk::RingReleaseOp::create(b, loc, ring, last);
    if (relay)
      mk::SignalEndOp::create(b, loc);
    // y's rows stored by TMA are complete before grid barrier 3.
    if (yTma)
      mk::StoreAccTmaWaitOp::create(b, loc);
    timers.stamp(b, loc, 3, firstWg);
    if (commOnly)
      mk::ReturnRowsOp::create(
          b, loc, rows, offsets, ep.rowSlots, ep.rowRanks, ep.bases, ep.rank,
          y, b.getI64IntegerAttr(e), b.getI64IntegerAttr(h),
          b.getI64IntegerAttr(128), b.getI64IntegerAttr(256));
    // Phase 3: every row of y is stored (grid barrier 3, or 2, consumers
    // only).
    mk::GridBarrierOp::create(b, loc, barrier,
                              b.getI64IntegerAttr(lastBarrier),
                              b.getI64IntegerAttr(4), b.getI64IntegerAttr(256));
    ep.advanceBase(b, loc, ctaId);
    ep.awaitResults(b, loc, ctaId);
    timers.stamp(b, loc, 4, firstWg);
    combine(b);
    timers.stamp(b, loc, 5, firstWg);
  }
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

/// The entry of a fused kernel with the FP8 parameter layout (four TMA
/// descriptors: w13, w2, the routed rows, the activation; x, topk_ids,
/// topk_weights; w13_scales, w2_scales; out; the workspace; T), and the
/// parts of its workspace `ws` it reads; `b` is left at the start of the
/// entry block (the caller's insertion guard restores it).
struct FusedFp8Entry {
  LLVM::LLVMFuncOp func;
  Value tmapW13, tmapW2, tmapRows, tmapAct, tmapY, x, ids, weights, w13Scales,
      w2Scales, out, wsBase, tokens;
  Value nextTile, barrier, counts, cursor, ready, offsets, slotRows,
      rowWeights, rows, rowScales, act, actScales, y;
};
FusedFp8Entry beginFusedFp8Kernel(OpBuilder &b, Location loc, StringRef name,
                                  ArrayRef<Type> params, ArrayAttr abi,
                                  const FusedWorkspace &ws,
                                  int64_t maxTokens, bool yTma = false) {
  FusedFp8Entry k;
  unsigned numTma = yTma ? 5 : 4;
  k.func = createKernelFunc(b, loc, name, params, numTma, abi,
                            fusedWorkspaceAttrs(b, ws, maxTokens));
  Block *entry = k.func.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  auto arg = [&](unsigned i) { return entry->getArgument(i); };
  k.tmapW13 = arg(0);
  k.tmapW2 = arg(1);
  k.tmapRows = arg(2);
  k.tmapAct = arg(3);
  if (yTma)
    k.tmapY = arg(4);
  // The parameters after the descriptors.
  auto after = [&](unsigned i) { return arg(numTma + i); };
  k.x = after(0);
  k.ids = after(1);
  k.weights = after(2);
  k.w13Scales = after(3);
  k.w2Scales = after(4);
  k.out = after(5);
  k.wsBase = after(6);
  k.tokens = arith::IndexCastUIOp::create(b, loc, b.getIndexType(), after(7));
  auto at = [&](int64_t offset) {
    return workspacePart(b, loc, k.wsBase, offset);
  };
  k.nextTile = at(ws.nextTile);
  k.barrier = at(ws.barrier);
  k.counts = at(ws.counts);
  k.cursor = at(ws.cursor);
  k.ready = at(ws.ready);
  k.offsets = at(ws.offsets);
  k.slotRows = at(ws.slotRows);
  k.rowWeights = at(ws.rowWeights);
  k.rows = at(ws.rows);
  k.rowScales = at(ws.rowScales);
  k.act = at(ws.act);
  k.actScales = at(ws.actScales);
  k.y = at(ws.y);
  return k;
}

/// True if `op` has MXFP8 rows and activations and MXFP4 weights (a UE8M0
/// scale per 1x32 block everywhere: DeepGEMM's Blackwell formats).
bool isMxfp8Mxfp4Layer(FusedMoEOp op) {
  auto is = [](QuantAttr q, QuantScheme scheme) {
    return isBlockQuant(q, scheme, 1, 32);
  };
  return is(op.getXQuantAttr(), QuantScheme::mxfp8) &&
         is(op.getActQuantAttr(), QuantScheme::mxfp8) &&
         is(op.getW13QuantAttr(), QuantScheme::mxfp4) &&
         is(op.getW2QuantAttr(), QuantScheme::mxfp4);
}

/// The MXFP8 x MXFP4 fused layer on sm_100a (isMxfp8Mxfp4Layer, one GPU, H
/// and I multiples of 128) in the single-issuer shape, every product
/// block-scaled by the tensor cores (the grouped matmul's
/// buildBlockScaledKernel, over GEMM1 and GEMM2 tiles):
///  * dispatch (all threads): each routed row quantized to MXFP8, e4m3
///    values and UE8M0 scales into the workspace (moek.dispatch {mx_round}
///    with row_scales);
///  * tiles of 128 rows; GEMM1: 64 output columns, the gate's 64 weight
///    rows and the up's (or 64 interleaved pairs) as one 128-row B tile;
///    GEMM2: 128 output columns; one 128-wide K block a stage;
///  * producer warp: the TMA copies from lane 0, the stage's scales from
///    every lane (moek.stage_scales, `upper` for the up rows), a GEMM2
///    tile after its row block's GEMM1 tiles (every lane waits: its copies
///    read the activation's scales);
///  * MMA issuer: moek.mma_tmem {a_scales, b_scales} into two 128 x 128
///    accumulators;
///  * epilogue (warpgroups 1, 2): GEMM1: 32 output columns each, the
///    activation rounded to bf16 and quantized to MXFP8 (one 1x32 block a
///    thread: moek.acc_store_act_rows {out_scales}), then a signal; GEMM2:
///    64 columns of y each; then the combine.
LLVM::LLVMFuncOp buildFusedMxKernel(OpBuilder &b, Location loc, StringRef name,
                                    FusedMoEOp op, int64_t stages,
                                    int64_t maxTokens, bool streamWeights) {
  MLIRContext *ctx = b.getContext();
  constexpr int64_t kTile = 128, kHalf = 64;
  RankedTensorType w13 = op.getW13().getType(), w2 = op.getW2().getType();
  int64_t e = w13.getDimSize(0), h = w13.getDimSize(2), i = w2.getDimSize(2);
  int64_t k = op.getIds().getType().getDimSize(1);
  int64_t maxRows = maxTokens * k;
  Type yElem = op.getGemm2Type();
  Type outElem = op.getOut().getType().getElementType();
  // The FP8 layout: e4m3 rows and activations, and scale arrays of h / 32
  // and i / 32 bytes a row (its 1x128 f32 scales' sizes).
  FusedWorkspace ws(e, h, i, maxRows, yElem.isBF16() ? 2 : 4,
                    /*withTimers=*/false, /*fp8=*/true);
  int64_t cols1 = i / kHalf, cols2 = h / kTile;
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  SmallVector<Type> params{ptr,  ptr,  ptr,  ptr,  gptr, gptr,
                           gptr, gptr, gptr, gptr, gptr, b.getI32Type()};
  ArrayAttr abi = buildFusedAbi(b, e, h, i, maxRows, ws, /*fp8=*/true,
                                /*fp4=*/true, 0, /*paddedFp4=*/true);
  OpBuilder::InsertionGuard guard(b);
  FusedFp8Entry kern =
      beginFusedFp8Kernel(b, loc, name, params, abi, ws, maxTokens);
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };

  // Phase 1: the routed rows, quantized to MXFP8 (grid barriers 1, 2).
  auto dispatch = mk::DispatchOp::create(
      b, loc, kern.x, kern.ids, kern.weights, kern.tokens, kern.counts,
      kern.cursor, kern.offsets, kern.slotRows, kern.rowWeights, kern.rows,
      /*row_tokens=*/Value(), kern.barrier, kern.rowScales,
      /*rows_ready=*/Value(),
      /*offsets_ready=*/Value(), b.getI64IntegerAttr(e), b.getI64IntegerAttr(k),
      b.getI64IntegerAttr(h), b.getI64IntegerAttr(1));
  dispatch.setMxRound(true);

  auto i8 = b.getIntegerType(8);
  auto tile = [&](int64_t cols, Type elem) {
    return MemRefType::get({kTile, cols}, elem, AffineMap(),
                           b.getI64IntegerAttr(3));
  };
  auto ringType =
      mk::RingType::get(ctx, stages,
                        {tile(kTileKFp8, b.getType<Float8E4M3FNType>()),
                         tile(kTileKFp8, i8), tile(4, i8), tile(4, i8)});
  auto alloc =
      mk::RingAllocOp::create(b, loc, ringType, b.getI64IntegerAttr(1));
  alloc.setProducers(33);
  Value ring = alloc;

  // Phase 2: the tiles of GEMM1 then those of GEMM2, one list.
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(kTile);
  Value n1 = mk::GroupedTileCountOp::create(b, loc, b.getIndexType(),
                                            kern.offsets, numE, tileRows,
                                            b.getI64IntegerAttr(cols1));
  Value n2 = mk::GroupedTileCountOp::create(b, loc, b.getIndexType(),
                                            kern.offsets, numE, tileRows,
                                            b.getI64IntegerAttr(cols2));
  Value total = arith::AddIOp::create(b, loc, n1, n2);
  int64_t rowGroup = std::clamp<int64_t>(
      (int64_t(16) << 20) / std::max<int64_t>(1, kTile * h), 1, 8);
  auto decode = [&](OpBuilder &ob, Value t, int64_t cols) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, kern.offsets, t, numE,
                                     tileRows, ob.getI64IntegerAttr(cols),
                                     ob.getI64IntegerAttr(rowGroup));
  };
  auto readyIndex = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    return arith::AddIOp::create(
        ob, loc, arith::DivUIOp::create(ob, loc, d.getRow(), idx(ob, kTile)),
        d.getExpert());
  };
  bool interleaved = op.getGateUpLayout() == GateUpLayout::interleaved;
  Value slices1 = idx(b, h / kTileKFp8), slices2 = idx(b, i / kTileKFp8);

  // Producer warp.
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, 80);
    Value leader = beginProducerThreads(b, loc, /*warp=*/true);
    // One GEMM's tile: A from `tmapA` with its scales `aScales`, B's two
    // 64-row boxes from `first` and `second` of `tmapB` with their scales
    // (`upper`: the second box's scale rows are not after the first's).
    auto gemmTile = [&](OpBuilder &tb, Value t, Value iter, mk::GroupedTileOp d,
                        Value tmapA, Value aScales, Value tmapB, Value bScales,
                        Value first, Value second, bool upper, int64_t kDim,
                        int64_t bRowsTotal, Value slices) -> Value {
      return buildBlockScaledTileLoads(
          tb, loc, ring, leader, t, iter, tmapA, aScales, d.getRow(),
          d.getRowEnd(), tmapB, bScales, {first, second}, kHalf, upper,
          bRowsTotal, kDim, slices, streamWeights);
    };
    Value last = buildScheduledTiles(
        b, loc, ring, kern.nextTile, total, /*producer=*/true,
        [&](OpBuilder &ob, Value t, Value iter) -> Value {
          return buildPerGemm(
              ob, loc, t, n1,
              [&](OpBuilder &tb, Value t1) -> Value {
                auto d = decode(tb, t1, cols1);
                // Two boxes of 64 rows (gate and up, or 64 pairs).
                auto [base, second] =
                    gemm1WeightBoxes(tb, loc, d.getExpert(), d.getColTile(),
                                     i, kHalf, interleaved);
                return gemmTile(tb, t, iter, d, kern.tmapRows, kern.rowScales,
                                kern.tmapW13, kern.w13Scales, base, second,
                                !interleaved, h, e * 2 * i, slices1);
              },
              [&](OpBuilder &eb, Value t2) -> Value {
                auto d = decode(eb, t2, cols2);
                // Every lane: its copies read the activation's scales.
                mk::WaitCounterOp::create(
                    eb, loc, kern.ready, readyIndex(eb, d), idx(eb, 2 * cols1));
                Value base = arith::AddIOp::create(
                    eb, loc,
                    arith::MulIOp::create(eb, loc, d.getExpert(), idx(eb, h)),
                    arith::MulIOp::create(eb, loc, d.getColTile(),
                                          idx(eb, kTile)));
                return gemmTile(
                    eb, t, iter, d, kern.tmapAct, kern.actScales, kern.tmapW2,
                    kern.w2Scales, base,
                    arith::AddIOp::create(eb, loc, base, idx(eb, kHalf)),
                    /*upper=*/false, i, e * h, slices2);
              });
        },
        /*producerWarp=*/true);
    buildStopMark(b, loc, ring, last, total, leader);
  }

  // MMA issuer and epilogue; then phase 4: each token's rows of y summed.
  Value rw = op.getRouterWeight() == RouterWeight::before_down
                 ? kern.rowWeights
                 : Value();
  buildFusedTmemRoles(
      b, loc, ring, total, n1, slices1, slices2, kTile, /*blockScales=*/true,
      kern.barrier,
      [&](OpBuilder &tb, Value t, Value accs, Value j, Value wg) {
        auto d = decode(tb, t, cols1);
        Value first = arith::MulIOp::create(tb, loc, wg, idx(tb, kHalf / 2));
        auto store = mk::AccStoreActRowsOp::create(
            tb, loc, accs, j, first, tb.getI64IntegerAttr(kHalf / 2), kern.act,
            d.getRow(),
            arith::AddIOp::create(
                tb, loc,
                arith::MulIOp::create(tb, loc, d.getColTile(), idx(tb, kHalf)),
                first),
            d.getRowEnd(), rw, kern.actScales, /*bias=*/Value(),
            /*bias_row=*/Value(),
            tb.getStringAttr(stringifyActivationKind(op.getActivation())),
            tb.getStringAttr(interleaved ? "interleaved" : "concat"),
            TypeAttr::get(op.getGemm1Type()),
            TypeAttr::get(tb.getType<Float8E4M3FNType>()),
            tb.getI64IntegerAttr(i), FloatAttr(), FloatAttr(), TypeAttr(),
            IntegerAttr());
        if (FloatAttr alpha = op.getAlphaAttr())
          store.setAlphaAttr(alpha);
        if (FloatAttr limit = op.getLimitAttr())
          store.setLimitAttr(limit);
        mk::SignalOp::create(tb, loc, kern.ready, readyIndex(tb, d));
      },
      [&](OpBuilder &eb, Value t2, Value accs, Value j, Value wg) {
        auto d = decode(eb, t2, cols2);
        Value first = arith::MulIOp::create(eb, loc, wg, idx(eb, kHalf));
        mk::AccStoreRowsOp::create(
            eb, loc, accs, j, first, eb.getI64IntegerAttr(kHalf), kern.y,
            d.getRow(),
            arith::AddIOp::create(
                eb, loc,
                arith::MulIOp::create(eb, loc, d.getColTile(), idx(eb, kTile)),
                first),
            d.getRowEnd(), /*bias=*/Value(), /*bias_row=*/Value(),
            TypeAttr::get(yElem), eb.getI64IntegerAttr(h), TypeAttr(),
            IntegerAttr());
      },
      [&](OpBuilder &ob) {
        mk::CombineOp::create(
            ob, loc, kern.y, kern.slotRows,
            op.getRouterWeight() == RouterWeight::in_combine ? kern.weights
                                                             : Value(),
            kern.out, kern.tokens, ob.getI64IntegerAttr(k),
            ob.getI64IntegerAttr(h), TypeAttr::get(yElem),
            TypeAttr::get(outElem), ob.getI64IntegerAttr(128),
            ob.getI64IntegerAttr(256));
      });
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return kern.func;
}

/// The fused layer with DeepSeek-V3's FP8 recipe (docs/FusedKernel.md):
/// the dispatch quantizes the routed rows (1x128 blocks); every tile has 64
/// rows and splits its columns between the MMA warpgroups, each holding a
/// 64 x 128 main and partial accumulator (block-scaled MMAs). GEMM1: the
/// first warpgroup multiplies by the gate's 128 weight rows, the second by
/// the up's, hands its accumulator over through shared memory, and the
/// first applies the activation, quantizes it per row (one 1x128 block)
/// and signals the 64-row block. GEMM2: 256 columns, 128 per warpgroup,
/// after the block's GEMM1 tiles. Then the combine, as in the bf16 kernel.
/// MXFP4 weights (isFp8Mxfp4Layer): TMA copies them packed into tiles 3
/// and 4, and each MMA warpgroup expands its tile to e4m3 (one weight row
/// per thread) before its MMAs, with the 32-block scales folded into the
/// values relative to the row's largest (read once per tile), which is
/// applied to each column after the K loop. With `blockScaled` (sm_100a)
/// each MMA warpgroup instead stages its packed tile unexpanded with its
/// block scales (moek.unpack_fp4) for tcgen05's block-scaled MMA, the
/// weights as A (M = 128) and the 64 rows as B (moek.mma_block_scaled),
/// promotes each K block's product by the rows' scales per column and
/// turns the product back through shared memory after the K loop. With
/// `fp8TileRows` 128 (FP8 weights, sm_90a, one GPU, no dispatch
/// readiness), tiles of 128 rows: see `wide` below.
LLVM::LLVMFuncOp buildFusedFp8Kernel(
    OpBuilder &b, Location loc, StringRef name, FusedMoEOp op, int64_t stages,
    int64_t maxTokens, bool streamWeights, bool transposedSmallTiles,
    int64_t fp4StepsPerFence, bool blockScaled, bool phaseTimers, bool storeTma,
    bool dispatchReadiness = false, bool approxActivation = true,
    int64_t fp8TileRows = 64, bool gatherRows = false,
    StringRef gatherHint = "", bool stagedScales = false) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType w13 = op.getW13().getType(), w2 = op.getW2().getType();
  int64_t e = w13.getDimSize(0), h = w13.getDimSize(2), i = w2.getDimSize(2);
  int64_t k = op.getIds().getType().getDimSize(1);
  // Expert parallelism: as in buildFusedKernel.
  ExpertParallel ep(op);
  int64_t maxRows = maxTokens * k * ep.ranks;
  Type yElem = op.getGemm2Type();
  Type outElem = op.getOut().getType().getElementType();
  // GEMM1's rows gathered by the producer warp (moek.gather_rows), as in
  // buildFusedKernel: FP8 weights on one GPU, top_k 2 to 32. The dispatch
  // quantizes each token's row once into row t of the rows part of the
  // workspace (T H bytes of its T K H) and each routed row's scales as
  // before; each row's token follows the token rows (4 T K bytes: they
  // fit, (K - 1) H >= 4 K).
  bool gather =
      gatherRows && !isFp8Mxfp4Layer(op) && ep.ranks == 1 && k >= 2 && k <= 32;
  // Readiness instead of grid barrier 2, as in buildFusedKernel (64-row
  // blocks on one GPU: the tiles').
  bool blockReady = dispatchReadiness && !gather;
  FusedWorkspace ws(ep.ranks * e, h, i, maxRows, yElem.isBF16() ? 2 : 4,
                    phaseTimers, /*fp8=*/true, ep.ranks, e, blockReady);
  int64_t producerRegs = blockReady && ep.enabled() ? 48 : 40;
  int64_t hBlocks = h / 128, iBlocks = i / 128;
  bool fp4 = isFp8Mxfp4Layer(op);
  bool scaled = fp4 && blockScaled;
  // 128-row tiles (fp8-tile-rows=128; FP8 weights on sm_90a, one GPU,
  // without dispatch-readiness): MMA warpgroup w takes the tile's rows 64 w
  // to 64 w + 63 and all 256 columns, in two halves through one partial
  // accumulator (buildScaledHalvesLoop), so a stage's weights serve 128
  // rows; GEMM1's warpgroup holds its rows' gate and up columns and
  // computes their activation alone (no exchange), and signals its own
  // 64-row block.
  bool wide = fp8TileRows == 128 &&
              fp8WideTilesApply(op, /*sm90a=*/storeTma, blockReady);
  int64_t tileM = wide ? 128 : 64;
  // Wide tiles with `stagedScales`: the producer warp copies each stage's
  // row and weight scales into the stage's tile 3 (moek.stage_block_scales;
  // 520 bytes in a 1 KB scale tile, which keeps the stages' tiles 1024-byte
  // aligned) and the MMA warpgroups read them there
  // (moek.load_staged_scales), not from global memory in the K loop. (In a
  // buffer of their own, the address held across the K loop made ptxas
  // spill.)
  bool staged = wide && stagedScales;
  // With staged scales the dispatch and GEMM1's epilogue store the row
  // scales block-major (`scalesStride` rows a K block), so that a stage's
  // 128 rows' scales are 512 contiguous bytes: read row-major, they were
  // 128 lines a stage, and copying them cost as much as loading them
  // (bench/results/2026-12-06-fp8-staged-scales.md).
  int64_t scalesStride = staged ? maxRows : 0;
  // `stages` 0: the default. MXFP4 expanded in shared memory (sm_90a):
  // the expanded tiles are unstaged (below), and 24 KB stages: 6 fit.
  // Block-scaled: stages of 56 KB with the packed and byte tiles, 2 fit
  // beside its 64 KB of transposition buffers.
  constexpr int64_t kFp4Stages = 6;
  if (!stages)
    stages = fp4 && !scaled ? kFp4Stages : kDefaultStages;
  if (fp4)
    stages = std::min<int64_t>(stages, scaled ? 2 : kFp4Stages);
  // GEMM1 tiles: 128 activation columns; GEMM2 tiles: 256 output columns.
  int64_t cols1 = iBlocks, cols2 = llvm::divideCeil(h, 256);

  // The up projection's accumulator (or, with splitAct, each warpgroup's
  // half of its own) goes to the other MMA warpgroup through the exchange
  // buffer; with splitAct the 512 bytes after it hold the activation's
  // rows' amax over each warpgroup's 64 columns (store_act_fp8 {half}).
  // FP4 weights keep the first warpgroup's whole-row activation (the
  // split spilled 4 bytes in the FP8 x MXFP4 kernel at E = 1, H = 128).
  bool splitAct = !fp4 && !wide;
  constexpr int64_t kExchangeBytes = 64 * 128 * 4;
  int64_t exchangeBytes =
      wide ? 0 : kExchangeBytes + (splitAct ? 2 * 64 * 4 : 0);
  // GEMM2's bf16 rows go into y by TMA (moek.store_acc_tma, as in the bf16
  // kernel; its descriptor is parameter 4) on one GPU with FP8 weights
  // (`storeTma`: sm_90a): the four 40 KB stages, their 1 KB of alignment,
  // the exchange and the static shared memory (about 12 bytes an expert)
  // leave one 8 KB staging half a warpgroup (two from 32 KB); wide: four
  // 48 KB stages and no exchange.
  constexpr int64_t kScaleTileBytes = 1024;
  int64_t scaleBytes = staged ? stages * kScaleTileBytes : 0;
  int64_t yHalves =
      stagingHalvesBeside(stages * (tileM + 256) * kTileKFp8 + 1024 +
                          exchangeBytes + scaleBytes + 12 * (e + 1) + 256);
  // y's descriptor is a parameter on every chip (one artifact may hold an
  // sm_90a and an sm_100a build of a layer, which must have one ABI:
  // Artifact.cpp), used where the stores are TMA's.
  bool yParam = !fp4 && ep.ranks == 1 && yElem.isBF16() && yHalves > 0;
  bool yTma = yParam && storeTma;
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto gptr = LLVM::LLVMPointerType::get(ctx, 1);
  SmallVector<Type> params{ptr, ptr, ptr, ptr};
  if (yParam)
    params.push_back(ptr);
  params.append({gptr, gptr, gptr, gptr, gptr, gptr, gptr, b.getI32Type()});
  ArrayAttr abi = buildFusedAbi(b, e, h, i, maxRows, ws, /*fp8=*/true, fp4,
                                0, /*paddedFp4=*/false, yParam);
  ep.extend(b, params, abi);
  OpBuilder::InsertionGuard guard(b);
  FusedFp8Entry kernel =
      beginFusedFp8Kernel(b, loc, name, params, abi, ws, maxTokens, yParam);
  LLVM::LLVMFuncOp func = kernel.func;
  Value tmapW13 = kernel.tmapW13, tmapW2 = kernel.tmapW2,
        tmapRows = kernel.tmapRows, tmapAct = kernel.tmapAct,
        tmapY = kernel.tmapY;
  Value x = kernel.x, ids = kernel.ids, weights = kernel.weights,
        w13Scales = kernel.w13Scales, w2Scales = kernel.w2Scales,
        out = kernel.out, tokens = kernel.tokens;
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  auto at = [&](int64_t offset) {
    return workspacePart(b, loc, kernel.wsBase, offset);
  };
  Value nextTile = kernel.nextTile;
  Value barrier = kernel.barrier, counts = kernel.counts,
        cursor = kernel.cursor, ready = kernel.ready, offsets = kernel.offsets,
        slotRows = kernel.slotRows, rowWeights = kernel.rowWeights,
        rows = kernel.rows, rowScales = kernel.rowScales, act = kernel.act,
        actScales = kernel.actScales, y = kernel.y;
  ep.bind(b, loc, func, /*firstArg=*/yParam ? 13 : 12, ws, at);

  auto tile = [&](int64_t r) {
    return MemRefType::get({r, kTileKFp8}, b.getType<Float8E4M3FNType>(),
                           AffineMap(), b.getI64IntegerAttr(3));
  };
  // Tile 0: the 64 (wide: 128) rows; tiles 1 and 2: the two warpgroups'
  // (wide: the two halves') 128 weight rows (MXFP4: expanded from packed
  // tiles 3 and 4).
  SmallVector<Type> tiles{tile(tileM), tile(128), tile(128)};
  // Block-scaled: tiles 1 and 2 hold the e2m1 values in byte containers.
  if (scaled)
    tiles[1] = tiles[2] =
        MemRefType::get({128, kTileKFp8}, b.getI8Type(), AffineMap(),
                        b.getI64IntegerAttr(3));
  if (fp4)
    tiles.append(2, MemRefType::get({128, kTileKFp8},
                                    b.getType<Float4E2M1FNType>(), AffineMap(),
                                    b.getI64IntegerAttr(3)));
  // Staged scales: tile 3, bytes (moek.stage_block_scales).
  constexpr int64_t kScaleTile = 3;
  if (staged)
    tiles.push_back(MemRefType::get({kScaleTileBytes / 4, 4}, b.getI8Type(),
                                    AffineMap(), b.getI64IntegerAttr(3)));
  // MXFP4 expanded in shared memory (sm_90a): each warpgroup expands into
  // its own tile between a stage's arrival and its MMAs' end, so tiles 1
  // and 2 are held once, not per stage (24 KB stages).
  SmallVector<int64_t> unstaged;
  if (fp4 && !scaled)
    unstaged = {1, 2};
  auto ringType = mk::RingType::get(ctx, stages, tiles, unstaged);
  auto accType = mk::AccType::get(ctx, 64, 128, b.getF32Type());
  auto ringAlloc =
      mk::RingAllocOp::create(b, loc, ringType, b.getI64IntegerAttr(256));
  // A producer warp's lanes each arrive once their copies are in.
  bool producerWarp = gather || staged;
  if (producerWarp)
    ringAlloc.setProducers(33);
  Value ring = ringAlloc;
  // The exchange (splitAct above): stored, both wait on named barrier 5
  // ("full"), loaded, both wait on 6 ("empty": the buffer may be written
  // again). A sync on both sides, not arrive/sync, so that racecheck sees
  // the order. With splitAct the two also meet at named barrier 7 for the
  // amax.
  Value exchange =
      exchangeBytes
          ? mk::SmemAllocOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                                    b.getI64IntegerAttr(exchangeBytes))
          : Value();
  constexpr int64_t kFull = 5, kEmpty = 6;
  constexpr int64_t kAmaxBarrier = 7;
  Value yStaging = yTma ? allocStaging(b, loc, yHalves) : Value();
  // MXFP4: each warpgroup's column scales and its named barrier for the
  // expansion (8 + warpgroup).
  Value colScales =
      fp4 && !scaled
          ? mk::SmemAllocOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                                    b.getI64IntegerAttr(2 * kColScaleFloats * 4))
          : Value();
  constexpr int64_t kExpandBarrier = 8;
  // MXFP4 on sm_90a: tiles of at most kSmallRows rows are multiplied
  // transposed (weights x tokens, moek.mma_fp4, weights expanded in
  // registers), and each warpgroup turns its product back through its own
  // 8 KB (acc_store_transposed / acc_load_smem {rows}): the first
  // warpgroup's here, the second's the start of the exchange, which it
  // alone writes (the first reads it between barriers 5 and 6 of the same
  // tile, and the second passes 6 before its next tile).
  constexpr int64_t kSmallRows = 16;
  // (Single GPU: the expert-parallel dispatch stores rows in K order.)
  bool smallTiles = fp4 && transposedSmallTiles && ep.ranks == 1;
  Value transposeBuf =
      smallTiles
          ? mk::SmemAllocOp::create(b, loc, LLVM::LLVMPointerType::get(ctx, 3),
                                    b.getI64IntegerAttr(kSmallRows * 128 * 4))
          : Value();
  // Block-scaled (sm_100a): each warpgroup's 64 x 128 product transposed
  // back through its own 32 KB, and its 1 KB of staged scale factors
  // (moek.unpack_fp4).
  Value scaledBuf, scaleFactors;
  if (scaled) {
    scaledBuf = mk::SmemAllocOp::create(b, loc,
                                        LLVM::LLVMPointerType::get(ctx, 3),
                                        b.getI64IntegerAttr(2 * 64 * 128 * 4));
    scaleFactors = mk::SmemAllocOp::create(
        b, loc, LLVM::LLVMPointerType::get(ctx, 3), b.getI64IntegerAttr(2048));
  }

  PhaseTimers timers{
      phaseTimers ? at(ws.timers) : Value(),
      phaseTimers ? mk::BlockIdOp::create(b, loc, b.getIndexType()) : Value(),
      phaseTimers ? at(ws.trace) : Value()};

  // Phase 1: the routed rows, quantized, expert by expert (with expert
  // parallelism, to the experts' owners).
  timers.stamp(b, loc, 0);
  Value rowsReady =
      blockReady && !ep.enabled() ? at(ws.rowsReady) : Value();
  Value rowTokens =
      gather ? at(ws.rows + llvm::alignTo(maxTokens * h, 16)) : Value();
  ep.dispatch(b, loc, x, ids, weights, tokens, counts, cursor, offsets,
              slotRows, rowWeights, rows, barrier, rowScales, k, h,
              /*permuteK=*/smallTiles, /*mxRound=*/false, rowsReady,
              blockReady ? at(ws.offsetsReady) : Value(), /*blockRows=*/64,
              rowTokens, scalesStride);
  timers.stamp(b, loc, 1);
  int64_t lastBarrier = blockReady ? 2 : 3;

  // Phase 2: GEMM1 tiles then GEMM2 tiles, 64 (wide: 128) rows each.
  IntegerAttr numE = b.getI64IntegerAttr(e),
              tileRows = b.getI64IntegerAttr(tileM);
  Value n1 = mk::GroupedTileCountOp::create(b, loc, b.getIndexType(), offsets,
                                            numE, tileRows,
                                            b.getI64IntegerAttr(cols1));
  Value n2 = mk::GroupedTileCountOp::create(b, loc, b.getIndexType(), offsets,
                                            numE, tileRows,
                                            b.getI64IntegerAttr(cols2));
  Value total = arith::AddIOp::create(b, loc, n1, n2);
  int64_t rowGroup = std::clamp<int64_t>(
      (int64_t(16) << 20) / std::max<int64_t>(1, tileM * h), 1, 8);
  auto decode = [&](OpBuilder &ob, Value t, int64_t cols) {
    SmallVector<Type> types(4, ob.getIndexType());
    return mk::GroupedTileOp::create(ob, loc, types, offsets, t, numE,
                                     tileRows, ob.getI64IntegerAttr(cols),
                                     ob.getI64IntegerAttr(rowGroup));
  };
  // The readiness counter of a 64-row block (see FusedWorkspace).
  auto readyIndex = [&](OpBuilder &ob, mk::GroupedTileOp d) -> Value {
    return arith::AddIOp::create(
        ob, loc, arith::DivUIOp::create(ob, loc, d.getRow(), idx(ob, 64)),
        d.getExpert());
  };
  Value cH = idx(b, h), cI = idx(b, i), c0 = idx(b, 0), c1 = idx(b, 1);
  Value c128 = idx(b, 128), c256 = idx(b, 256);
  Value cHBlocks = idx(b, hBlocks), cIBlocks = idx(b, iBlocks);
  Value c2IBlocks = idx(b, 2 * iBlocks), cLastHBlock = idx(b, hBlocks - 1);
  Value slices1 = cHBlocks, slices2 = cIBlocks;
  // The first of a tile's weight scales (one per K block): w13_scales[e][nb]
  // or w2_scales[e][nb], `perExpert` blocks nb an expert, `kBlocks` K
  // blocks each.
  auto scaleBase = [&](OpBuilder &ob, Value expert, Value perExpert, Value nb,
                       Value kBlocks) -> Value {
    return arith::MulIOp::create(
        ob, loc,
        arith::AddIOp::create(
            ob, loc, arith::MulIOp::create(ob, loc, expert, perExpert), nb),
        kBlocks);
  };
  // GEMM2: the first weight scale of the 128 columns from `col` (a block
  // past H, H an odd multiple of 128, reads the last block's).
  auto w2ScaleBase = [&](OpBuilder &eb, mk::GroupedTileOp d,
                         Value col) -> Value {
    Value nb = arith::MinUIOp::create(
        eb, loc, arith::DivUIOp::create(eb, loc, col, c128), cLastHBlock);
    return scaleBase(eb, d.getExpert(), cHBlocks, nb, cIBlocks);
  };
  // Wide tiles: the first weight scales of the tile's two 128-column
  // halves. GEMM1: w13_scales[e][nb][kb], the gate's block nb the column
  // tile, the up's I / 128 further. GEMM2: columns colTile * 256 + 128 h.
  auto wideScaleBases = [&](OpBuilder &ob, mk::GroupedTileOp d,
                            bool gemm1) -> std::array<Value, 2> {
    if (gemm1)
      return {
          scaleBase(ob, d.getExpert(), c2IBlocks, d.getColTile(), cHBlocks),
          scaleBase(ob, d.getExpert(), c2IBlocks,
                    arith::AddIOp::create(ob, loc, d.getColTile(), cIBlocks),
                    cHBlocks)};
    Value col0 = arith::MulIOp::create(ob, loc, d.getColTile(), c256);
    Value col1 = arith::AddIOp::create(ob, loc, col0, c128);
    return {w2ScaleBase(ob, d, col0), w2ScaleBase(ob, d, col1)};
  };
  // A producer warp's work on a stage of tile `d` (iteration `st`, K block
  // `ks`) beside its leader's TMA copies: the block's scales (staged), the
  // gathered rows (GEMM1 with `gather`: `tokens`), then its lanes' copy
  // arrivals.
  auto stageCopies = [&](OpBuilder &hb, Location hl, Value st, Value ks,
                         mk::GroupedTileOp d, bool gemm1, Value tokens) {
    if (staged) {
      std::array<Value, 2> bases = wideScaleBases(hb, d, gemm1);
      mk::StageBlockScalesOp::create(
          hb, hl, ring, st, kScaleTile, gemm1 ? rowScales : actScales,
          d.getRow(), ks, arith::SubIOp::create(hb, hl, d.getRowEnd(), c1),
          gemm1 ? w13Scales : w2Scales,
          arith::AddIOp::create(hb, hl, bases[0], ks),
          arith::AddIOp::create(hb, hl, bases[1], ks), /*ld=*/1, tileM,
          scalesStride);
    }
    if (gemm1 && gather)
      gatherStageRows(hb, hl, ring, st, ks, rows, tokens, kTileKFp8, h,
                      gatherHint);
    else
      mk::RingArriveCopiesOp::create(hb, hl, ring, st);
  };

  // Producer: warpgroup 0, one thread issues every copy (MXFP4: the packed
  // weights into tiles 3 and 4, 64 bytes a row); with gathered rows or
  // staged scales warp 0, as in buildFusedKernel.
  int64_t bTile = fp4 ? 3 : 1, bRowBytes = fp4 ? kTileKFp8 / 2 : kSliceBytes;
  {
    OpBuilder::InsertionGuard g(b);
    beginRole(b, loc, "producer", 0, 1, producerRegs);
    Value leader = beginProducerThreads(b, loc, producerWarp);
    Value last = buildScheduledTiles(
        b, loc, ring, nextTile, total, /*producer=*/true,
        [&](OpBuilder &ob, Value t, Value iter) -> Value {
          Location l = loc;
          timers.traceTile(ob, l, t, 0);
          return buildPerGemm(
              ob, l, t, n1,
              [&](OpBuilder &tb, Value t1) -> Value {
                auto d = decode(tb, t1, cols1);
                // Readiness: the tile's rows (and scales) are all there.
                if (blockReady)
                  ep.awaitTileRows(tb, l, offsets, rowsReady, d, 64,
                                   [&] { return readyIndex(tb, d); });
                // The gate's 128 rows of the column block, then the up's.
                auto [gate, up] =
                    gemm1WeightBoxes(tb, l, d.getExpert(), d.getColTile(), i,
                                     128, /*interleaved=*/false);
                Value tokens = loadTileTokens(tb, l, rowTokens, d, tileM);
                auto hook = [&](OpBuilder &hb, Location hl, Value st,
                                Value ks) {
                  stageCopies(hb, hl, st, ks, d, /*gemm1=*/true, tokens);
                };
                Value next = buildTileLoads(
                    tb, l, ring, gather ? Value() : tmapRows, d.getRow(),
                    d.getRowEnd(), tileM, tmapW13, {gate, up}, slices1, iter,
                    streamWeights, t, kTileKFp8, /*boxPerTile=*/true, bTile,
                    bRowBytes, fp4, /*aTile=*/0, kSliceBytes, leader,
                    producerWarp ? StageHook(hook) : StageHook());
                return next;
              },
              [&](OpBuilder &eb, Value t2) -> Value {
                auto d = decode(eb, t2, cols2);
                // With splitAct both MMA warpgroups signal each GEMM1 tile
                // of the block, else the first; wide: the tile's two 64-row
                // blocks (the second where the tile has rows in it), each
                // signalled by its warpgroup.
                mk::WaitCounterOp::create(
                    eb, l, ready, readyIndex(eb, d),
                    idx(eb, splitAct ? 2 * cols1 : cols1));
                if (wide) {
                  auto more = scf::IfOp::create(
                      eb, l,
                      arith::CmpIOp::create(
                          eb, l, arith::CmpIPredicate::ult,
                          arith::AddIOp::create(eb, l, d.getRow(), idx(eb, 64)),
                          d.getRowEnd()),
                      false);
                  OpBuilder mb = OpBuilder::atBlockTerminator(more.thenBlock());
                  mk::WaitCounterOp::create(
                      mb, l, ready,
                      arith::AddIOp::create(mb, l, readyIndex(mb, d), c1),
                      idx(mb, cols1));
                }
                Value first = arith::AddIOp::create(
                    eb, l, arith::MulIOp::create(eb, l, d.getExpert(), cH),
                    arith::MulIOp::create(eb, l, d.getColTile(), c256));
                Value second = arith::AddIOp::create(eb, l, first, c128);
                auto hook = [&](OpBuilder &hb, Location hl, Value st,
                                Value ks) {
                  stageCopies(hb, hl, st, ks, d, /*gemm1=*/false, Value());
                };
                Value next = buildTileLoads(
                    eb, l, ring, tmapAct, d.getRow(), d.getRowEnd(), tileM,
                    tmapW2, {first, second}, slices2, iter, streamWeights, t,
                    kTileKFp8,
                    /*boxPerTile=*/true, bTile, bRowBytes, fp4, /*aTile=*/0,
                    kSliceBytes, leader,
                    producerWarp ? StageHook(hook) : StageHook());
                return next;
              });
        },
        producerWarp, /*narrow=*/staged);
    buildStopMark(b, loc, ring, last, total, leader);
    timers.stamp(b, loc, 2);
  }

  // Consumers: warpgroups 1 and 2 (MMA warpgroups 0 and 1), each 128
  // columns of every tile.
  {
    OpBuilder::InsertionGuard g(b);
    // (Staged scales: 224 registers, with which ptxas spilled less in the
    // 128-row kernels than with 232.)
    beginRole(b, loc, "consumer", 1, 2,
              producerRegs == 40 && !staged ? 232 : 224);
    Value wg = mk::WarpgroupIndexOp::create(b, loc, b.getIndexType());
    Value isFirst =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, c0);
    Value second =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, wg, c1);
    // (Wide tiles take no turns: buildScaledHalvesLoop.)
    if (!wide)
      beginTurns(b, loc, second);
    Value wgStaging, storeBarrier;
    if (yTma)
      std::tie(wgStaging, storeBarrier) =
          warpgroupStaging(b, loc, yStaging, wg, yHalves);
    Value rw = op.getRouterWeight() == RouterWeight::before_down ? rowWeights
                                                                 : Value();
    Type g1 = op.getGemm1Type();
    StringRef actName = stringifyActivationKind(op.getActivation());
    FloatAttr alpha = op.getAlphaAttr(), limit = op.getLimitAttr();
    // One warpgroup's block-scaled MMAs of a tile, on weight tile 1 + wg.
    // MXFP4: the UE8M0 scales `scales` ([rows, cols]) of the weight rows
    // from `row` (+ `step` for the second warpgroup).
    struct Fp4Rows {
      Value scales, row, step;
      int64_t rows = 0, cols = 0;
    };
    // A small tile (MXFP4, sm_90a): warpgroup w's 128 weight rows (two
    // 64-row A fragments) times the tile's first kSmallRows token rows,
    // promoted per K block with the tokens' scales; then transposed back
    // into a 64 x 128 accumulator (rows past kSmallRows 0) with each
    // column's scale applied. No turns: both warpgroups skip them alike.
    auto smallTileMmas = [&](OpBuilder &bb, int64_t w, mk::GroupedTileOp d,
                             TileScales ts, Value slices, Value iter,
                             const Fp4Rows &fr) -> std::pair<Value, Value> {
      Location l = loc;
      Value c64 = idx(bb, 64);
      auto small = mk::AccType::get(ctx, 64, kSmallRows, bb.getF32Type());
      Value first =
          w == 0 ? fr.row : arith::AddIOp::create(bb, l, fr.row, fr.step);
      Value rows[2] = {first, arith::AddIOp::create(bb, l, first, c64)};
      auto rowsAttr = bb.getI64IntegerAttr(fr.rows);
      auto colsAttr = bb.getI64IntegerAttr(fr.cols);
      auto i32x2 = VectorType::get({2}, bb.getI32Type());
      Value m[2];
      // The weight rows' block scales of K block kb (two words), the
      // tokens' scales of K block kb.
      auto weightScales = [&](OpBuilder &ib, Value kb) {
        SmallVector<Value> v;
        for (int64_t h = 0; h < 2; ++h)
          v.push_back(mk::LoadFp4FragmentScalesOp::create(
              ib, l, i32x2, fr.scales, rows[h], kb, rowsAttr, colsAttr));
        return v;
      };
      auto tokenScales = [&](OpBuilder &ib, Value kb) -> Value {
        return mk::LoadColScalesOp::create(
            ib, l, VectorType::get({kSmallRows / 4}, ib.getF32Type()), ts.xs,
            d.getRow(), kb, d.getRowEnd(), ib.getI64IntegerAttr(ts.kBlocks),
            TypeAttr::get(small));
      };
      Value lastBlock = idx(bb, ts.kBlocks - 1);
      auto nextBlock = [&](OpBuilder &ib, Value kb, int64_t ahead) -> Value {
        return arith::MinUIOp::create(
            ib, l, arith::AddIOp::create(ib, l, kb, idx(ib, ahead)), lastBlock);
      };
      auto tables = [&](OpBuilder &ib, ValueRange words) {
        SmallVector<Value> t;
        for (int64_t h = 0; h < 2; ++h)
          t.push_back(mk::Fp4FragmentTablesOp::create(ib, l, words[h], m[h]));
        return t;
      };
      Value zero = mk::MmaZeroOp::create(bb, l, small);
      // One stage at a time: its MMAs, then the wait and promotion (issuing
      // the next stage's MMAs first measured slower, across the loop's back
      // edge or within a two-stage iteration: bench/results/). The byte
      // tables of the next stage are looked up during this one's MMAs, from
      // scale words loaded a stage earlier, so that neither load's latency
      // is waited for at the top of an iteration. The first K blocks'
      // scales are loaded before the rows' maxima (their latencies overlap).
      SmallVector<Value> firstWords = weightScales(bb, c0);
      SmallVector<Value> secondWords = weightScales(bb, nextBlock(bb, c0, 1));
      Value firstCols = tokenScales(bb, c0);
      for (int64_t h = 0; h < 2; ++h)
        m[h] = mk::Fp4FragmentRowMaxOp::create(bb, l, i32x2, fr.scales, rows[h],
                                               rowsAttr, colsAttr);
      // Iteration values: the two products, this stage's tables, the next
      // stage's scale words, this stage's token scales, the ring iteration.
      SmallVector<Value> init{zero, zero};
      llvm::append_range(init, tables(bb, firstWords));
      llvm::append_range(init, secondWords);
      init.push_back(firstCols);
      init.push_back(iter);
      if (w == 0)
        timers.turn(bb, l, 7, 8, isFirst);
      auto loop = scf::ForOp::create(
          bb, l, c0, slices, c1, init,
          [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
            Value i = it[7];
            mk::RingWaitOp::create(ib, il, ring, i);
            auto mma = mk::MmaFp4Op::create(
                ib, il, TypeRange{small, small}, ring, i,
                ib.getI64IntegerAttr(3 + w), c0, ib.getI64IntegerAttr(0),
                ValueRange{it[2], it[3]},
                ib.getI64IntegerAttr(fp4StepsPerFence));
            Value partial[2] = {mma.getResult(0), mma.getResult(1)};
            // The next stage's tables and token scales, the scale words of
            // the one after (the last block's again past the end).
            SmallVector<Value> nextTables = tables(ib, it.slice(4, 2));
            SmallVector<Value> ws = weightScales(ib, nextBlock(ib, kb, 2));
            Value cs = tokenScales(ib, nextBlock(ib, kb, 1));
            for (int64_t h = 0; h < 2; ++h)
              partial[h] = mk::MmaWaitOp::create(ib, il, partial[h],
                                                 ib.getI64IntegerAttr(0));
            mk::RingReleaseOp::create(ib, il, ring, i);
            SmallVector<Value> results;
            for (int64_t h = 0; h < 2; ++h)
              results.push_back(mk::MmaPromoteColsOp::create(
                  ib, il, it[h], partial[h], it[6]));
            llvm::append_range(results, nextTables);
            llvm::append_range(results, ws);
            results.push_back(cs);
            results.push_back(arith::AddIOp::create(ib, il, i, c1));
            scf::YieldOp::create(ib, il, results);
          });
      disableUnroll(loop);
      if (w == 0)
        timers.turn(bb, l, 8, 9, isFirst);
      // The products transposed back through warpgroup w's buffer, each
      // column's scale applied.
      Value buf = w == 0 ? transposeBuf : exchange;
      Value acc = transposeBack(bb, l, {loop.getResult(0), loop.getResult(1)},
                                m, buf, buf, kExpandBarrier + w, 128, accType);
      return {acc, loop.getResult(7)};
    };

    // Block-scaled (sm_100a): warpgroup w's 128 weight rows times the
    // tile's 64 rows per K block (moek.unpack_fp4, moek.mma_block_scaled:
    // the block scales in the MMA), each block's two 64-row products
    // promoted by the rows' scales per column; then transposed back into
    // the 64 x 128 accumulator the epilogue takes. No turns (tcgen05's
    // issue is one thread's): both warpgroups skip them alike.
    auto blockScaledMmas = [&](OpBuilder &bb, int64_t w, mk::GroupedTileOp d,
                               TileScales ts, Value slices, Value iter,
                               const Fp4Rows &fr) -> std::pair<Value, Value> {
      Location l = loc;
      auto half = mk::AccType::get(ctx, 64, 64, bb.getF32Type());
      Value first =
          w == 0 ? fr.row : arith::AddIOp::create(bb, l, fr.row, fr.step);
      Value sf = LLVM::GEPOp::create(bb, l, scaleFactors.getType(),
                                     bb.getI8Type(), scaleFactors,
                                     ArrayRef<LLVM::GEPArg>{int32_t(w * 1024)});
      auto tokenScales = [&](OpBuilder &ib, Value kb) -> Value {
        return mk::LoadColScalesOp::create(
            ib, l, VectorType::get({16}, ib.getF32Type()), ts.xs, d.getRow(),
            kb, d.getRowEnd(), ib.getI64IntegerAttr(ts.kBlocks),
            TypeAttr::get(half));
      };
      Value lastBlock = idx(bb, ts.kBlocks - 1);
      Value zero = mk::MmaZeroOp::create(bb, l, half);
      auto loop = scf::ForOp::create(
          bb, l, c0, slices, c1,
          ValueRange{zero, zero, tokenScales(bb, c0), iter},
          [&](OpBuilder &ib, Location il, Value kb, ValueRange it) {
            Value i = it[3];
            mk::RingWaitOp::create(ib, il, ring, i);
            mk::UnpackFp4Op::create(
                ib, il, ring, i, ib.getI64IntegerAttr(3 + w),
                ib.getI64IntegerAttr(1 + w), fr.scales, first, kb, sf,
                ib.getI64IntegerAttr(fr.rows), ib.getI64IntegerAttr(fr.cols),
                ib.getI64IntegerAttr(128 * (1 + w)),
                ib.getI64IntegerAttr(kExpandBarrier + w));
            auto mma = mk::MmaBlockScaledOp::create(
                ib, il, half, half, ring, i, ib.getI64IntegerAttr(1 + w),
                ib.getI64IntegerAttr(0), sf);
            // The next block's row scales (the last block's again).
            Value cs = tokenScales(
                ib, arith::MinUIOp::create(
                        ib, il, arith::AddIOp::create(ib, il, kb, c1),
                        lastBlock));
            // Each half read back and promoted before the next is read.
            SmallVector<Value> results;
            for (Value partial : {mma.getLow(), mma.getHigh()}) {
              Value p = mk::MmaWaitOp::create(ib, il, partial,
                                              ib.getI64IntegerAttr(0));
              results.push_back(mk::MmaPromoteColsOp::create(
                  ib, il, it[results.size()], p, it[2]));
            }
            mk::RingReleaseOp::create(ib, il, ring, i);
            results.push_back(cs);
            results.push_back(arith::AddIOp::create(ib, il, i, c1));
            scf::YieldOp::create(ib, il, results);
          });
      disableUnroll(loop);
      Value buf = LLVM::GEPOp::create(
          bb, l, scaledBuf.getType(), bb.getF32Type(), scaledBuf,
          ArrayRef<LLVM::GEPArg>{int32_t(w * 64 * 128)});
      Value acc = transposeBack(bb, l, {loop.getResult(0), loop.getResult(1)},
                                {}, buf, buf, kExpandBarrier + w, 128, accType);
      return {acc, loop.getResult(3)};
    };

    auto mmas = [&](OpBuilder &ob, mk::GroupedTileOp d, TileScales ts,
                    Value slices, Value iter,
                    const Fp4Rows &fr) -> std::pair<Value, Value> {
      Location l = loc;
      if (scaled) {
        auto branch = scf::IfOp::create(
            ob, l, TypeRange{accType, ob.getIndexType()}, isFirst, true);
        for (int64_t w = 0; w < 2; ++w) {
          OpBuilder bb = OpBuilder::atBlockEnd(w == 0 ? branch.thenBlock()
                                                      : branch.elseBlock());
          auto [acc, next] = blockScaledMmas(bb, w, d, ts, slices, iter, fr);
          scf::YieldOp::create(bb, l, ValueRange{acc, next});
        }
        return {branch.getResult(0), branch.getResult(1)};
      }
      Value few;
      if (smallTiles)
        few = arith::CmpIOp::create(
            ob, l, arith::CmpIPredicate::ule, d.getRowEnd(),
            arith::AddIOp::create(ob, l, d.getRow(), idx(ob, kSmallRows)));
      auto branch = scf::IfOp::create(
          ob, l, TypeRange{accType, ob.getIndexType()}, isFirst, true);
      for (int64_t w = 0; w < 2; ++w) {
        OpBuilder outer = OpBuilder::atBlockEnd(w == 0 ? branch.thenBlock()
                                                       : branch.elseBlock());
        OpBuilder bb = outer;
        scf::IfOp sizeBranch;
        if (smallTiles) {
          sizeBranch = scf::IfOp::create(
              outer, l, TypeRange{accType, outer.getIndexType()}, few, true);
          OpBuilder sb = OpBuilder::atBlockEnd(sizeBranch.thenBlock());
          auto [acc, next] = smallTileMmas(sb, w, d, ts, slices, iter, fr);
          scf::YieldOp::create(sb, l, ValueRange{acc, next});
          bb = OpBuilder::atBlockEnd(sizeBranch.elseBlock());
        }
        Fp4Tile ft;
        Value cs;
        if (fp4) {
          ft.scales = fr.scales;
          ft.row =
              w == 0 ? fr.row : arith::AddIOp::create(bb, l, fr.row, fr.step);
          cs = LLVM::GEPOp::create(
              bb, l, colScales.getType(), bb.getF32Type(), colScales,
              ArrayRef<LLVM::GEPArg>{int32_t(w * kColScaleFloats)});
          // The tile prologue: each row's largest block scale, and the
          // column scales.
          ft.rowMax = mk::Fp4RowScaleOp::create(
              bb, l, bb.getI32Type(), fr.scales, ft.row, cs,
              bb.getI64IntegerAttr(fr.rows), bb.getI64IntegerAttr(fr.cols),
              bb.getI64IntegerAttr(128), bb.getI64IntegerAttr(128 * (1 + w)),
              bb.getI64IntegerAttr(kExpandBarrier + w));
          ft.scaleRows = fr.rows;
          ft.scaleCols = fr.cols;
          ft.packedTile = 3 + w;
          ft.firstThread = 128 * (1 + w);
          ft.barrier = kExpandBarrier + w;
          ft.permuteK = smallTiles;
        }
        if (w == 0)
          timers.turn(bb, l, 7, 8, isFirst);
        auto [acc, next] = buildScaledMmaLoop(
            bb, l, ring, accType, c0, d.getRow(), d.getRowEnd(), ts, slices,
            iter, /*bTile=*/1 + w, turnsOf(w), fp4 ? &ft : nullptr);
        if (w == 0)
          timers.turn(bb, l, 8, 9, isFirst);
        if (fp4)
          acc = mk::AccScaleColsOp::create(bb, l, acc, cs);
        scf::YieldOp::create(bb, l, ValueRange{acc, next});
        if (sizeBranch)
          scf::YieldOp::create(outer, l, sizeBranch.getResults());
      }
      return {branch.getResult(0), branch.getResult(1)};
    };
    // moek.store_act_fp8 of tile `d`'s 128 activation columns for the 64
    // rows from `row`, or of column half `half` with the amax buffer
    // `amax`.
    auto storeActFp8 = [&](OpBuilder &sb, mk::GroupedTileOp d, Value gate,
                           Value up, Value row, Value amax, IntegerAttr half) {
      auto store = mk::StoreActFp8Op::create(
          sb, loc, gate, up, act, row,
          arith::MulIOp::create(sb, loc, d.getColTile(), c128), actScales,
          d.getRowEnd(), rw, amax, sb.getStringAttr(actName), TypeAttr::get(g1),
          sb.getI64IntegerAttr(i), FloatAttr(), FloatAttr(), UnitAttr(), half,
          half ? sb.getI64IntegerAttr(kAmaxBarrier) : IntegerAttr());
      if (alpha)
        store.setAlphaAttr(alpha);
      if (limit)
        store.setLimitAttr(limit);
      store.setPermuteK(smallTiles);
      store.setApprox(approxActivation);
      if (scalesStride)
        store.setScalesStride(scalesStride);
    };
    // GEMM2: the 64 x 128 accumulator's rows from `row` into y at `col`
    // (by TMA where y leaves so).
    auto storeY = [&](OpBuilder &ib, mk::GroupedTileOp d, Value acc, Value row,
                      Value col) {
      if (yTma)
        mk::StoreAccTmaOp::create(ib, loc, acc, tmapY, wgStaging, y, row, col,
                                  d.getRowEnd(), storeBarrier,
                                  ib.getI64IntegerAttr(yHalves),
                                  ib.getI64IntegerAttr(h));
      else
        ep.storeRows(ib, loc, {acc}, y, row, col, d.getRowEnd(), yElem, h);
    };
    // Wide tiles: warpgroup w's two main accumulators (columns 0-127 and
    // 128-255 of the tile) over rows 64 w to 64 w + 63, and the next ring
    // iteration. The second warpgroup, where the tile has no rows of its
    // own, passes the stages. (With the
    // epilogues inside these branches instead, each twice, ptxas spilled
    // 2-3 times more.)
    auto wideMmas = [&](OpBuilder &ob, mk::GroupedTileOp d, Value xs, Value ws,
                        std::array<Value, 2> wsBase, int64_t kBlocks,
                        Value slices, Value iter) -> SmallVector<Value> {
      Location l = loc;
      SmallVector<Type> types{accType, accType, ob.getIndexType()};
      auto branch = scf::IfOp::create(ob, l, types, isFirst, true);
      {
        OpBuilder bb = OpBuilder::atBlockEnd(branch.thenBlock());
        timers.turn(bb, l, 7, 8, isFirst);
        auto [m0, m1, next] = buildScaledHalvesLoop(
            bb, l, ring, accType, c0, d.getRow(), d.getRowEnd(), xs, ws, wsBase,
            kBlocks, slices, iter, staged ? kScaleTile : -1);
        timers.turn(bb, l, 8, 9, isFirst);
        scf::YieldOp::create(bb, l, ValueRange{m0, m1, next});
      }
      OpBuilder bb = OpBuilder::atBlockEnd(branch.elseBlock());
      Value row = arith::AddIOp::create(bb, l, d.getRow(), idx(bb, 64));
      auto has = scf::IfOp::create(
          bb, l, types,
          arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ult, row,
                                d.getRowEnd()),
          true);
      {
        OpBuilder hb = OpBuilder::atBlockEnd(has.thenBlock());
        auto [m0, m1, next] = buildScaledHalvesLoop(
            hb, l, ring, accType, idx(hb, 64), row, d.getRowEnd(), xs, ws,
            wsBase, kBlocks, slices, iter, staged ? kScaleTile : -1);
        scf::YieldOp::create(hb, l, ValueRange{m0, m1, next});
      }
      {
        OpBuilder nb = OpBuilder::atBlockEnd(has.elseBlock());
        Value next = buildPassLoop(nb, l, ring, slices, iter);
        Value zero = mk::MmaZeroOp::create(nb, l, accType);
        scf::YieldOp::create(nb, l, ValueRange{zero, zero, next});
      }
      scf::YieldOp::create(bb, l, has.getResults());
      return SmallVector<Value>(branch.getResults());
    };
    // Wide tiles: this warpgroup's first row, and whether the tile has rows
    // there (always for the first).
    auto wideRows = [&](OpBuilder &ob,
                        mk::GroupedTileOp d) -> std::pair<Value, Value> {
      Value row = arith::AddIOp::create(
          ob, loc, d.getRow(), arith::MulIOp::create(ob, loc, wg, idx(ob, 64)));
      return {row, arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::ult,
                                         row, d.getRowEnd())};
    };
    // The MMA warpgroups' tile loop: `gemm1` or `gemm2` builds a tile's
    // work from the decoded tile and the ring iteration and returns the next
    // (the phase timers' slots around them).
    using TileWork = function_ref<Value(OpBuilder &, mk::GroupedTileOp, Value)>;
    auto consumerTiles = [&](TileWork gemm1, TileWork gemm2) -> Value {
      return buildScheduledTiles(
          b, loc, ring, nextTile, total, /*producer=*/false,
          [&](OpBuilder &ob, Value t, Value iter) -> Value {
            timers.turn(ob, loc, 6, 7, isFirst);
            timers.traceTile(ob, loc, t, 1, isFirst,
                             isGemm1Tag(ob, loc, t, n1));
            Value tileEnd = buildPerGemm(
                ob, loc, t, n1,
                [&](OpBuilder &tb, Value t1) -> Value {
                  timers.stamp(tb, loc, 12, isFirst, "sub");
                  timers.stamp(tb, loc, 11, isFirst, "count");
                  Value next = gemm1(tb, decode(tb, t1, cols1), iter);
                  timers.stamp(tb, loc, 12, isFirst, "add");
                  return next;
                },
                [&](OpBuilder &eb, Value t2) -> Value {
                  return gemm2(eb, decode(eb, t2, cols2), iter);
                });
            timers.traceTile(ob, loc, t, 2, isFirst);
            timers.turn(ob, loc, 9, 6, isFirst);
            timers.stamp(ob, loc, 10, isFirst, "count");
            return tileEnd;
          },
          /*producerWarp=*/false, /*narrow=*/staged);
    };
    auto wideGemm1Tile = [&](OpBuilder &tb, mk::GroupedTileOp d,
                             Value iter) -> Value {
      Location l = loc;
      SmallVector<Value> r = wideMmas(tb, d, rowScales, w13Scales,
                                      wideScaleBases(tb, d, /*gemm1=*/true),
                                      hBlocks, slices1, iter);
      // The tile decoded again for the epilogue: its values kept across the
      // K loops, where the 192 accumulator registers leave 40, were what
      // ptxas spilled (SASS; grouped_tile is not pure, so nothing merges
      // the two decodes).
      d = cast<mk::GroupedTileOp>(tb.clone(*d.getOperation()));
      auto [row, has] = wideRows(tb, d);
      auto ifOp = scf::IfOp::create(tb, l, has, false);
      OpBuilder sb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      timers.stamp(sb, l, 14, isFirst, "sub");
      storeActFp8(sb, d, r[0], r[1], row, Value(), IntegerAttr());
      timers.turn(sb, l, 14, 15, isFirst);
      // This warpgroup's 64-row block.
      mk::SignalOp::create(sb, l, ready,
                           arith::AddIOp::create(sb, l, readyIndex(sb, d), wg),
                           /*fresh_thread_id=*/true);
      timers.stamp(sb, l, 15, isFirst, "add");
      return r[2];
    };
    auto wideGemm2Tile = [&](OpBuilder &eb, mk::GroupedTileOp d,
                             Value iter) -> Value {
      Location l = loc;
      // Columns colTile * 256 + 128 h; a half past H (H an odd
      // multiple of 128) reads the last block's scales and
      // stores nothing.
      auto colsOf = [&](mk::GroupedTileOp t) -> std::array<Value, 2> {
        Value col0 = arith::MulIOp::create(eb, l, t.getColTile(), c256);
        return {col0, arith::AddIOp::create(eb, l, col0, c128)};
      };
      SmallVector<Value> r = wideMmas(eb, d, actScales, w2Scales,
                                      wideScaleBases(eb, d, /*gemm1=*/false),
                                      iBlocks, slices2, iter);
      // Decoded again, as in GEMM1's tiles.
      d = cast<mk::GroupedTileOp>(eb.clone(*d.getOperation()));
      std::array<Value, 2> cols = colsOf(d);
      auto [row, has] = wideRows(eb, d);
      auto ifOp = scf::IfOp::create(eb, l, has, false);
      OpBuilder sb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      for (int64_t half = 0; half < 2; ++half) {
        // (The first half's columns are always below H.)
        OpBuilder ib = sb;
        if (half == 1) {
          auto inside = scf::IfOp::create(
              sb, l,
              arith::CmpIOp::create(sb, l, arith::CmpIPredicate::ult, cols[1],
                                    cH),
              false);
          ib = OpBuilder::atBlockTerminator(inside.thenBlock());
        }
        storeY(ib, d, r[half], row, cols[half]);
      }
      return r[2];
    };
    // The 64-row tiles' work: GEMM1's and GEMM2's, from the decoded tile
    // and the ring iteration; each returns the next iteration.
    auto gemm1Tile = [&](OpBuilder &tb, mk::GroupedTileOp d,
                         Value iter) -> Value {
      Location l = loc;
      // w13_scales[e][nb][0]: the gate's block is the column tile,
      // the up's I / 128 further.
      Value nb = arith::AddIOp::create(
          tb, l, d.getColTile(),
          arith::SelectOp::create(tb, l, isFirst, c0, cIBlocks));
      TileScales ts{rowScales, w13Scales,
                    scaleBase(tb, d.getExpert(), c2IBlocks, nb, cHBlocks),
                    hBlocks};
      // MXFP4: the gate's weight rows, then the up's (I further).
      Fp4Rows fr;
      if (fp4)
        fr = {w13Scales,
              gemm1WeightBoxes(tb, l, d.getExpert(), d.getColTile(), i, 128,
                               /*interleaved=*/false)
                  .first,
              cI, e * 2 * i, h / 32};
      auto [acc, next] = mmas(tb, d, ts, slices1, iter, fr);
      if (!splitAct) {
        // The up's accumulator to the first warpgroup, which applies
        // the activation, quantizes and signals the block.
        auto who = scf::IfOp::create(tb, l, isFirst, true);
        {
          OpBuilder fb = OpBuilder::atBlockTerminator(who.thenBlock());
          timers.stamp(fb, l, 13, isFirst, "sub");
          mk::BarrierSyncOp::create(fb, l, fb.getI64IntegerAttr(kFull),
                                    fb.getI64IntegerAttr(256));
          Value up = mk::AccLoadSmemOp::create(fb, l, accType, exchange);
          mk::BarrierSyncOp::create(fb, l, fb.getI64IntegerAttr(kEmpty),
                                    fb.getI64IntegerAttr(256));
          timers.turn(fb, l, 13, 14, isFirst);
          storeActFp8(fb, d, acc, up, d.getRow(), Value(), IntegerAttr());
          timers.turn(fb, l, 14, 15, isFirst);
          mk::SignalOp::create(fb, l, ready, readyIndex(fb, d));
          timers.stamp(fb, l, 15, isFirst, "add");
        }
        {
          OpBuilder sb = OpBuilder::atBlockTerminator(who.elseBlock());
          mk::AccStoreSmemOp::create(sb, l, acc, exchange, DenseI64ArrayAttr());
          mk::BarrierSyncOp::create(sb, l, sb.getI64IntegerAttr(kFull),
                                    sb.getI64IntegerAttr(256));
          mk::BarrierSyncOp::create(sb, l, sb.getI64IntegerAttr(kEmpty),
                                    sb.getI64IntegerAttr(256));
        }
        return next;
      }
      // Each warpgroup takes 64 of the 128 activation columns: the
      // first the gate's and up's columns 0-63, the second 64-127.
      // Each hands the other the half of its accumulator it
      // lacks (fragment values 32-63 of the gate, 0-31 of the
      // up) through the exchange buffer, both between named
      // barriers 5 and 6; the two meet once more inside
      // store_act_fp8 (barrier 7) for the rows' amax over all 128
      // columns, and each signals the block.
      auto halves = scf::IfOp::create(tb, l, isFirst, true);
      for (int64_t half = 0; half < 2; ++half) {
        OpBuilder hb = OpBuilder::atBlockTerminator(
            half == 0 ? halves.thenBlock() : halves.elseBlock());
        // The first warpgroup (the gate) gives values 32-63, the
        // second (the up) 0-31, and takes the other's.
        auto range = [&](bool given) {
          return hb.getDenseI64ArrayAttr((half == 0) == given
                                             ? ArrayRef<int64_t>{32, 64}
                                             : ArrayRef<int64_t>{0, 32});
        };
        if (half == 0)
          timers.stamp(hb, l, 13, isFirst, "sub");
        mk::AccStoreSmemOp::create(hb, l, acc, exchange, range(/*given=*/true));
        mk::BarrierSyncOp::create(hb, l, hb.getI64IntegerAttr(kFull),
                                  hb.getI64IntegerAttr(256));
        Value other = mk::AccLoadSmemOp::create(hb, l, accType, exchange,
                                                hb.getI64IntegerAttr(64),
                                                range(/*given=*/false));
        if (half == 0)
          timers.turn(hb, l, 13, 14, isFirst);
        Value amaxBuf = LLVM::GEPOp::create(
            hb, l, exchange.getType(), hb.getI8Type(), exchange,
            ArrayRef<LLVM::GEPArg>{int32_t(kExchangeBytes)});
        storeActFp8(hb, d, half == 0 ? acc : other, half == 0 ? other : acc,
                    d.getRow(), amaxBuf, hb.getI64IntegerAttr(half));
      }
      timers.turn(tb, l, 14, 15, isFirst);
      // The exchange and the amax buffer may be written again.
      mk::BarrierSyncOp::create(tb, l, tb.getI64IntegerAttr(kEmpty),
                                tb.getI64IntegerAttr(256));
      mk::SignalOp::create(tb, l, ready, readyIndex(tb, d));
      timers.stamp(tb, l, 15, isFirst, "add");
      return next;
    };
    auto gemm2Tile = [&](OpBuilder &eb, mk::GroupedTileOp d,
                         Value iter) -> Value {
      Location l = loc;
      // Columns colTile * 256 + 128 * wg; a block past H (H an odd
      // multiple of 128) reads the last block's scale and stores
      // nothing.
      Value col = arith::AddIOp::create(
          eb, l, arith::MulIOp::create(eb, l, d.getColTile(), c256),
          arith::MulIOp::create(eb, l, wg, c128));
      TileScales ts{actScales, w2Scales, w2ScaleBase(eb, d, col), iBlocks};
      Fp4Rows fr;
      if (fp4)
        fr = {w2Scales,
              arith::AddIOp::create(
                  eb, l, arith::MulIOp::create(eb, l, d.getExpert(), cH),
                  arith::MulIOp::create(eb, l, d.getColTile(), c256)),
              c128, e * h, i / 32};
      auto [acc, next] = mmas(eb, d, ts, slices2, iter, fr);
      // (moek.store_acc masks no column when ld is a multiple of the
      // accumulator's width.)
      auto inside = scf::IfOp::create(
          eb, l,
          arith::CmpIOp::create(eb, l, arith::CmpIPredicate::ult, col, cH),
          false);
      OpBuilder ib = OpBuilder::atBlockTerminator(inside.thenBlock());
      storeY(ib, d, acc, d.getRow(), col);
      return next;
    };
    timers.stamp(b, loc, 6, isFirst, "sub");
    Value last = wide ? consumerTiles(wideGemm1Tile, wideGemm2Tile)
                      : consumerTiles(gemm1Tile, gemm2Tile);
    timers.stamp(b, loc, 6, isFirst, "add");
    // The stop mark's stage.
    mk::RingReleaseOp::create(b, loc, ring, last);
    if (!wide)
      endTurns(b, loc, second);
    // y's rows stored by TMA are complete before grid barrier 3.
    if (yTma)
      mk::StoreAccTmaWaitOp::create(b, loc);
    timers.stamp(b, loc, 3, isFirst);
    // Phase 3: every row of y is stored (grid barrier 3, or 2, consumers
    // only).
    mk::GridBarrierOp::create(b, loc, barrier,
                              b.getI64IntegerAttr(lastBarrier),
                              b.getI64IntegerAttr(4), b.getI64IntegerAttr(256));
    Value cta = mk::BlockIdOp::create(b, loc, b.getIndexType());
    ep.advanceBase(b, loc, cta);
    ep.awaitResults(b, loc, cta);
    timers.stamp(b, loc, 4, isFirst);
    Value combineWeights =
        op.getRouterWeight() == RouterWeight::in_combine ? weights : Value();
    mk::CombineOp::create(b, loc, y, slotRows, combineWeights, out, tokens,
                          b.getI64IntegerAttr(k), b.getI64IntegerAttr(h),
                          TypeAttr::get(yElem), TypeAttr::get(outElem),
                          b.getI64IntegerAttr(128), b.getI64IntegerAttr(256));
    timers.stamp(b, loc, 5, isFirst);
  }
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return func;
}

/// The moe.route that computes `op`'s ids and weights and that nothing else
/// reads, if its routing can run inside `op`'s kernel (moek.route: one GPU
/// or a rank of an expert-parallel layer, which routes its own tokens over
/// every rank's experts before the exchange; at most 1024 experts, top_k
/// and num_groups at most 32, f32, bf16 or f16 logits and an f32 bias; ids
/// of any integer type, the kernel keeping its own in i32); else null and
/// `why` says what stops it (empty when no moe.route feeds `op`).
RouteOp fusableRoute(FusedMoEOp op, std::string &why) {
  auto route = op.getIds().getDefiningOp<RouteOp>();
  if (!route || op.getWeights().getDefiningOp<RouteOp>() != route)
    return {};
  auto stop = [&](const Twine &reason) -> RouteOp {
    why = reason.str();
    return {};
  };
  if (!route.getIds().hasOneUse() || !route.getWeights().hasOneUse())
    return stop("its ids or weights have other uses");
  int64_t e = route.getLogits().getType().getDimSize(1),
          k = route.getTopK(), g = route.getNumGroups();
  // (moe.route's verifier has made the groups equal.)
  if (ShapedType::isDynamic(e) || e > 1024 || k > 32 || g > 32)
    return stop("moek.route takes at most 1024 experts and top_k and "
                "num_groups of at most 32; this route has " +
                Twine(e) + ", " + Twine(k) + " and " + Twine(g));
  Type lt = route.getLogits().getType().getElementType();
  if (!lt.isF32() && !lt.isBF16() && !lt.isF16())
    return stop("its logits are not f32, bf16 or f16");
  return route;
}

/// Moves `route` into the fused kernel `kernel`, whose launch operands 1
/// and 2 were the ids and weights: operand 1 becomes the router logits,
/// operand 2 the route's bias (or is dropped, the operands after it moving
/// down by one). At the kernel's start every warp routes its tokens into
/// two buffers appended to the workspace (moek.route), then a grid barrier
/// (its own counter, in the zeroed first 64 bytes of the workspace, which
/// only the kernel's main counter at 0 and the tile counter at 32 use);
/// the kernel reads those buffers where it read its ids and weights.
void fuseRouting(LLVM::LLVMFuncOp kernel, RouteOp route) {
  MLIRContext *ctx = kernel.getContext();
  OpBuilder b(ctx);
  Location loc = route.getLoc();
  auto abi = kernel->getAttrOfType<ArrayAttr>("moek.abi");
  auto paramOf = [&](function_ref<bool(DictionaryAttr)> is) -> unsigned {
    for (auto [n, entry] : llvm::enumerate(abi))
      if (is(cast<DictionaryAttr>(entry)))
        return n;
    llvm_unreachable("a fused kernel's parameter is missing");
  };
  auto operandIs = [](int64_t n) {
    return [n](DictionaryAttr d) {
      auto o = d.getAs<IntegerAttr>("operand");
      auto kind = d.getAs<StringAttr>("kind");
      return o && o.getInt() == n && kind && kind.getValue() == "ptr";
    };
  };
  auto kindIs = [](StringRef k) {
    return [k](DictionaryAttr d) {
      auto kind = d.getAs<StringAttr>("kind");
      return kind && kind.getValue() == k;
    };
  };
  unsigned idsParam = paramOf(operandIs(1)),
           weightsParam = paramOf(operandIs(2)),
           wsParam = paramOf(kindIs("workspace")),
           tokensParam = paramOf(kindIs("token_count"));
  NamedAttrList ws(kernel->getAttrOfType<DictionaryAttr>("moek.workspace"));
  int64_t maxTokens = cast<IntegerAttr>(ws.get("max_tokens")).getInt();
  // Each token's slots: its top_k experts and the shared ones.
  int64_t k = route.getTopK() + route.getSharedExperts();
  int64_t idsAt = llvm::alignTo(cast<IntegerAttr>(ws.get("bytes")).getInt(),
                                16),
          weightsAt = idsAt + llvm::alignTo(4 * maxTokens * k, 16);
  ws.set("bytes", b.getI64IntegerAttr(weightsAt + 4 * maxTokens * k));
  kernel->setAttr("moek.workspace", ws.getDictionary(ctx));

  Block &entry = kernel.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value wsBase = entry.getArgument(wsParam);
  Value ids = workspacePart(b, loc, wsBase, idsAt),
        weights = workspacePart(b, loc, wsBase, weightsAt);
  Value logits = entry.getArgument(idsParam),
        bias = entry.getArgument(weightsParam);
  logits.replaceAllUsesWith(ids);
  bias.replaceAllUsesWith(weights);
  Value tokens = arith::IndexCastUIOp::create(
      b, loc, b.getIndexType(), entry.getArgument(tokensParam));
  mk::RouteOp::create(
      b, loc, logits, route.getBias() ? bias : Value(), ids, weights, tokens,
      b.getI64IntegerAttr(route.getLogits().getType().getDimSize(1)),
      b.getI64IntegerAttr(route.getTopK()),
      b.getI64IntegerAttr(route.getNumGroups()),
      b.getI64IntegerAttr(route.getTopkGroups()),
      b.getStringAttr(stringifyScoring(route.getScoring())),
      route.getRenormalize() ? b.getUnitAttr() : UnitAttr(),
      route.getRoutedScalingFactorAttr(),
      TypeAttr::get(route.getLogits().getType().getElementType()),
      b.getI64IntegerAttr(route.getSharedExperts()),
      route.getSharedWeightAttr());
  int64_t threads = cast<IntegerAttr>(
                        kernel->getAttrOfType<DictionaryAttr>("moek.launch")
                            .get("block"))
                        .getInt();
  mk::GridBarrierOp::create(b, loc, workspacePart(b, loc, wsBase, 16),
                            b.getI64IntegerAttr(1), b.getI64IntegerAttr(0),
                            b.getI64IntegerAttr(threads));

  // The parameters: operand 2 is the bias, or gone.
  bool hasBias = bool(route.getBias());
  SmallVector<Attribute> entries;
  for (auto [n, entry] : llvm::enumerate(abi)) {
    if (n == weightsParam && !hasBias)
      continue;
    NamedAttrList d(cast<DictionaryAttr>(entry));
    auto o = dyn_cast_or_null<IntegerAttr>(d.get("operand"));
    if (o && o.getInt() > 2 && !hasBias)
      d.set("operand", b.getI64IntegerAttr(o.getInt() - 1));
    entries.push_back(d.getDictionary(ctx));
  }
  kernel->setAttr("moek.abi", b.getArrayAttr(entries));
  if (hasBias)
    return;
  // Drop the parameter: from the function type, the entry block and the
  // argument attributes (the TMA descriptors' byval and alignment).
  LLVM::LLVMFunctionType type = kernel.getFunctionType();
  SmallVector<Type> params(type.getParams());
  params.erase(params.begin() + weightsParam);
  kernel.setFunctionType(LLVM::LLVMFunctionType::get(
      type.getReturnType(), params, type.isVarArg()));
  entry.eraseArgument(weightsParam);
  if (ArrayAttr argAttrs = kernel.getArgAttrsAttr()) {
    SmallVector<Attribute> attrs(argAttrs.getValue());
    attrs.erase(attrs.begin() + weightsParam);
    kernel.setArgAttrsAttr(b.getArrayAttr(attrs));
  }
}

/// The kernel name for the `index`-th op of its kind: the enclosing
/// function's name (or "moe"), `what`, and the index.
std::string kernelNameFor(Operation *op, StringRef what, unsigned index) {
  auto func = op->getParentOfType<func::FuncOp>();
  return (func ? func.getSymName().str() : std::string("moe")) + "_" +
         what.str() + "_" + std::to_string(index);
}

/// Replaces `op`'s single result `out` by a moek.launch of `kernel` (in the
/// kernel module) on `args`, and erases `op`.
void replaceByLaunch(Operation *op, Value out, LLVM::LLVMFuncOp kernel,
                     ValueRange args) {
  OpBuilder hb(op);
  auto sym = SymbolRefAttr::get(
      hb.getStringAttr(kKernelModule),
      {FlatSymbolRefAttr::get(kernel.getSymNameAttr())});
  auto launch =
      mk::LaunchOp::create(hb, op->getLoc(), TypeRange{out.getType()}, sym, args);
  out.replaceAllUsesWith(launch.getResult(0));
  op->erase();
}

/// Whether the string option `option` holds one of `choices`; if not, an
/// error on `module` that names them ("... must be 'a', 'b' or 'c', got
/// 'd'").
bool isOneOf(ModuleOp module, StringRef option, StringRef value,
             ArrayRef<StringRef> choices) {
  if (llvm::is_contained(choices, value))
    return true;
  InFlightDiagnostic diag = module.emitError();
  diag << "convert-moe-to-moek: " << option << " must be ";
  for (size_t i = 0; i < choices.size(); ++i)
    diag << (i == 0                    ? ""
             : i + 1 == choices.size() ? " or "
                                       : ", ")
         << "'" << choices[i] << "'";
  diag << ", got '" << value << "'";
  return false;
}

struct ConvertMoEToMoEKernelPass
    : public mlir::moe::impl::ConvertMoEToMoEKernelPassBase<
          ConvertMoEToMoEKernelPass> {
  using Base::Base;

  /// 1. Collect the expert matmuls of every function.
  /// 2. For each supported one, generate its kernel into @moe_kernels and
  ///    replace it by a moek.launch; remark on the others.
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (stages != 0 && stages < 2) {
      module.emitError() << "convert-moe-to-moek: stages must be >= 2 (or 0, "
                            "each kernel's default), got "
                         << static_cast<int64_t>(stages);
      return signalPassFailure();
    }
    // Each kernel's default, for 0 (the FP8 fused kernel picks its own).
    int64_t ringStages = stages ? int64_t(stages) : kDefaultStages;
    if (!isOneOf(module, "schedule", schedule, {"cooperative", "pingpong"}))
      return signalPassFailure();
    if (schedule == "pingpong" && tileN == 256) {
      module.emitError() << "convert-moe-to-moek: the pingpong schedule "
                            "holds two 64-row accumulators per warpgroup, "
                            "so it takes tile-n = 128";
      return signalPassFailure();
    }
    if (!isOneOf(module, "pipeline-mma", pipelineMma,
                 {"auto", "true", "false"}))
      return signalPassFailure();
    if (rowGroup < 0) {
      module.emitError() << "convert-moe-to-moek: row-group must be >= 0 "
                            "(0: auto), got "
                         << static_cast<int64_t>(rowGroup);
      return signalPassFailure();
    }
    if (tileM != 0 && tileM != 128 && tileM != 256) {
      module.emitError() << "convert-moe-to-moek: tile-m must be 0 (auto), "
                            "128 or 256, got "
                         << static_cast<int64_t>(tileM);
      return signalPassFailure();
    }
    if (tileM == 256 && (tileN == 256 || schedule == "pingpong")) {
      module.emitError() << "convert-moe-to-moek: tile-m = 256 holds two "
                            "64-row accumulators per warpgroup, so it takes "
                            "tile-n = 128 and the cooperative schedule";
      return signalPassFailure();
    }
    if (fp8TileRows != 0 && fp8TileRows != 64 && fp8TileRows != 128) {
      module.emitError() << "convert-moe-to-moek: fp8-tile-rows must be 0 "
                            "(auto), 64 or 128, got "
                         << static_cast<int64_t>(fp8TileRows);
      return signalPassFailure();
    }
    if (tileN != 0 && tileN != 128 && tileN != 256) {
      module.emitError() << "convert-moe-to-moek: tile-n must be 0 (auto), "
                            "128 or 256, got "
                         << static_cast<int64_t>(tileN);
      return signalPassFailure();
    }
    if (chip != "sm_90a" && chip != "sm_100a") {
      module.emitError() << "convert-moe-to-moek: chip '" << chip
                         << "' is not supported (supported: sm_90a, sm_100a)";
      return signalPassFailure();
    }
    if (fp4StepsPerFence != 1 && fp4StepsPerFence != 2 &&
        fp4StepsPerFence != 4) {
      module.emitError() << "convert-moe-to-moek: fp4-steps-per-fence must be "
                            "1, 2 or 4, got "
                         << static_cast<int64_t>(fp4StepsPerFence);
      return signalPassFailure();
    }
    if (!isOneOf(module, "gather-l2-hint", gatherL2Hint,
                 {"evict_last", "evict_first", "none"}) ||
        !isOneOf(module, "absorb-tails", absorbTails,
                 {"auto", "true", "false"}))
      return signalPassFailure();
    StringRef gatherHint =
        gatherL2Hint == "none" ? StringRef() : StringRef(gatherL2Hint);
    if (maxTokens < 1) {
      module.emitError() << "convert-moe-to-moek: max-tokens must be >= 1, "
                            "got "
                         << static_cast<int64_t>(maxTokens);
      return signalPassFailure();
    }
    // Fused layers first: each becomes one kernel.
    SmallVector<FusedMoEOp> layers;
    module.walk([&](FusedMoEOp op) { layers.push_back(op); });
    unsigned fusedCounter = 0;
    for (FusedMoEOp op : layers) {
      // The routing (moe.route) runs inside the kernel, which then takes
      // the router logits instead of the ids and weights.
      RouteOp route;
      std::string whyNotRouted;
      if (fuseRoutingOpt)
        route = fusableRoute(op, whyNotRouted);
      std::string why = unsupportedReason(op, /*idsInKernel=*/bool(route));
      if (!why.empty()) {
        op.emitRemark() << "convert-moe-to-moek: not lowered: " << why;
        continue;
      }
      if (!whyNotRouted.empty())
        op.emitRemark() << "convert-moe-to-moek: the routing stays outside "
                           "the kernel: "
                        << whyNotRouted;
      if (op.getW13Bias() || op.getW2Bias()) {
        // Per-expert biases: added to the register accumulators of the
        // sm_90a kernels of bf16 rows (bf16, FP4 or MXFP8 weights).
        StringRef why;
        if (isFp8BlockLayer(op) || isFp8Mxfp4Layer(op))
          why = "per-expert biases (w13_bias, w2_bias) are not supported by "
                "the FP8-row kernels yet (bf16 rows only)";
        else if (chip == "sm_100a" && singleIssuer &&
                 isMxfp8Mxfp4Layer(op) && !op.isPerRank() && !phaseTimers &&
                 op.getW13().getType().getDimSize(2) % 128 == 0 &&
                 op.getW2().getType().getDimSize(2) % 128 == 0)
          // The bf16 single-issuer kernel's tensor-memory epilogue adds
          // them (moek.acc_store_act_rows and acc_store_rows {bias}); the
          // block-scaled MXFP8 x MXFP4 one does not yet.
          why = "per-expert biases (w13_bias, w2_bias) are not added by "
                "sm_100a's block-scaled MXFP8 x MXFP4 kernel yet "
                "(single-issuer=false takes them)";
        else if (commOnly)
          why = "comm-only kernels multiply nothing, so they take no "
                "per-expert biases";
        if (!why.empty()) {
          op.emitRemark() << "convert-moe-to-moek: not lowered: " << why;
          continue;
        }
      }
      if (commOnly && (!op.isPerRank() || isFp8BlockLayer(op) ||
                       isFp8Mxfp4Layer(op) ||
                       !op.getGemm2Type().isBF16())) {
        op.emitError() << "convert-moe-to-moek: comm-only takes the per-rank "
                          "form of a bf16 expert-parallel layer with bf16 "
                          "GEMM2 output (its rows go back as the results)";
        return signalPassFailure();
      }
      std::string name = kernelNameFor(op, "fused_moe", fusedCounter++);
      gpu::GPUModuleOp kernels = getOrCreateKernelModule(module);
      OpBuilder b(kernels.getBodyRegion());
      b.setInsertionPointToEnd(&kernels.getBodyRegion().front());
      SmallVector<Value> args{op.getX(), op.getIds(), op.getWeights(),
                              op.getW13(), op.getW2()};
      LLVM::LLVMFuncOp kernel;
      if (isFp8BlockLayer(op) || isFp8Mxfp4Layer(op)) {
        bool wideApplies =
            fp8WideTilesApply(op, chip == "sm_90a", dispatchReadiness);
        if (fp8TileRows == 128 && !wideApplies)
          op.emitRemark()
              << "convert-moe-to-moek: fp8-tile-rows=128 not applied (it "
                 "takes FP8 weights on sm_90a, one GPU, without "
                 "dispatch-readiness): 64-row tiles";
        auto build = [&](const std::string &kernelName, int64_t tileRows,
                         bool staged) {
          return buildFusedFp8Kernel(
              b, op.getLoc(), kernelName, op, stages, maxTokens, streamWeights,
              /*transposedSmallTiles=*/chip == "sm_90a" && smallTiles,
              fp4StepsPerFence,
              /*blockScaled=*/chip == "sm_100a" && blockScaled, phaseTimers,
              /*storeTma=*/chip == "sm_90a", dispatchReadiness,
              approxActivation, tileRows,
              /*gatherRows=*/chip == "sm_90a" && gatherRows, gatherHint,
              staged);
        };
        kernel = build(name, fp8TileRows == 128 ? 128 : 64, fp8StagedScales);
        // Auto (0): the 128-row kernel as a variant that the runtime
        // launches instead from 64 rows an expert on average (T * K >= 64
        // E), where its tiles are full: measured 4-11% faster at prefill,
        // 6-7% slower at decode (bench/results/). With staged scales, that
        // kernel first and the plain 128-row kernel after it, for the same
        // token counts: an artifact leaves a variant that ptxas spills in
        // out, and the runtime runs the first variant left whose range
        // holds T.
        if (fp8TileRows == 0 && wideApplies) {
          int64_t e = op.getW13().getType().getDimSize(0);
          int64_t k = op.getIds().getType().getDimSize(1);
          SmallVector<Attribute> variants;
          auto addVariant = [&](StringRef suffix, bool staged) {
            LLVM::LLVMFuncOp wide = build(name + suffix.str(), 128, staged);
            SymbolTable(kernels).insert(wide);
            variants.push_back(b.getDictionaryAttr(
                {b.getNamedAttr("kernel",
                                FlatSymbolRefAttr::get(wide.getSymNameAttr())),
                 b.getNamedAttr(
                     "min_tokens",
                     b.getI64IntegerAttr(llvm::divideCeil(64 * e, k)))}));
          };
          if (fp8StagedScales)
            addVariant("_m128s", true);
          addVariant("_m128", false);
          kernel->setAttr("moek.variants", b.getArrayAttr(variants));
        }
        args.append({op.getW13Scales(), op.getW2Scales()});
      } else if (chip == "sm_100a" && singleIssuer && isMxfp8Mxfp4Layer(op) &&
                 !op.isPerRank() && !phaseTimers &&
                 op.getW13().getType().getDimSize(2) % 128 == 0 &&
                 op.getW2().getType().getDimSize(2) % 128 == 0) {
        // MXFP8 x MXFP4 with H and I multiples of 128 (the 128-wide K
        // blocks): every product block-scaled by the tensor cores.
        kernel = buildFusedMxKernel(b, op.getLoc(), name, op, ringStages,
                                    maxTokens, streamWeights);
        args.append({op.getW13Scales(), op.getW2Scales()});
      } else {
        kernel = buildFusedKernel(
            b, op.getLoc(), name, op, ringStages, maxTokens, streamWeights,
            phaseTimers, commOnly,
            /*transposedSmallTiles=*/chip == "sm_90a" && smallTiles,
            /*singleIssuer=*/chip == "sm_100a" && singleIssuer, narrowTiles,
            dispatchReadiness, approxActivation,
            /*gatherRows=*/chip == "sm_90a" && gatherRows, gatherHint,
            /*absorbTails=*/chip == "sm_90a" && smallTiles
                ? StringRef(absorbTails)
                : StringRef("false"),
            /*asyncSignals=*/chip == "sm_90a" && asyncSignals);
        std::optional<QuantScheme> expanded = expandedWeights(op);
        if (expanded)
          args.append({op.getW13Scales(), op.getW2Scales()});
        if (expanded == QuantScheme::nvfp4) {
          if (Value g = op.getW13GlobalScale())
            args.push_back(g);
          if (Value g = op.getW2GlobalScale())
            args.push_back(g);
        }
        for (Value bias : {op.getW13Bias(), op.getW2Bias()})
          if (bias)
            args.push_back(bias);
      }
      SymbolTable(kernels).insert(kernel);
      if (route) {
        fuseRouting(kernel, route);
        if (auto variants = kernel->getAttrOfType<ArrayAttr>("moek.variants"))
          for (Attribute v : variants)
            fuseRouting(SymbolTable(kernels).lookup<LLVM::LLVMFuncOp>(
                            cast<FlatSymbolRefAttr>(
                                cast<DictionaryAttr>(v).get("kernel"))
                                .getValue()),
                        route);
        args[1] = route.getLogits();
        if (Value bias = route.getBias())
          args[2] = bias;
        else
          args.erase(args.begin() + 2);
      }
      replaceByLaunch(op, op.getOut(), kernel, args);
      if (route)
        route.erase();
    }
    SmallVector<ExpertMatmulOp> matmuls;
    module.walk([&](ExpertMatmulOp op) { matmuls.push_back(op); });
    unsigned counter = 0;
    for (ExpertMatmulOp op : matmuls) {
      std::string why = unsupportedReason(op);
      if (!why.empty()) {
        op.emitRemark() << "convert-moe-to-moek: not lowered: " << why;
        continue;
      }
      bool scaled = isFp8Block(op);
      bool mx = isMxfp8Mxfp4(op);
      if (mx && (chip != "sm_100a" || !singleIssuer)) {
        op.emitRemark() << "convert-moe-to-moek: not lowered: MXFP8 rows by "
                           "MXFP4 weights are multiplied by sm_100a's "
                           "block-scaled tcgen05.mma only (chip = sm_100a "
                           "with single-issuer; chip = "
                        << chip << " given); sm_90a takes them in the fused "
                                   "layer, expanded to bf16";
        continue;
      }
      if (mx && (tileM == 256 || tileN == 256 || schedule == "pingpong" ||
                 ctaPair)) {
        op.emitError() << "convert-moe-to-moek: the MXFP8 x MXFP4 kernel uses "
                          "128 x 128 tiles, its own schedule and no CTA pairs "
                          "(tile-m = "
                       << static_cast<int64_t>(tileM)
                       << ", tile-n = " << static_cast<int64_t>(tileN)
                       << ", schedule = " << schedule << " given)";
        return signalPassFailure();
      }
      if (scaled && (tileM == 256 || tileN == 256 || schedule == "pingpong")) {
        // A block-scaled tile holds a main and a partial accumulator per
        // warpgroup (128 registers for 64 x 128).
        op.emitError() << "convert-moe-to-moek: fp8_block kernels use 128 x "
                          "128 tiles and the cooperative schedule (tile-m = "
                       << static_cast<int64_t>(tileM)
                       << ", tile-n = " << static_cast<int64_t>(tileN)
                       << ", schedule = " << schedule << " given)";
        return signalPassFailure();
      }
      bool fp4 = isMxfp4Weights(op), mxfp8 = isMxfp8(op);
      if ((fp4 || mxfp8) && (tileN == 256 || schedule == "pingpong")) {
        // Both MMA warpgroups expand every stage's weights together.
        op.emitError() << "convert-moe-to-moek: kernels of FP4 weights or "
                          "MXFP8 operands use 128-wide tiles and the "
                          "cooperative schedule "
                          "(tile-n = "
                       << static_cast<int64_t>(tileN)
                       << ", schedule = " << schedule << " given)";
        return signalPassFailure();
      }
      if (mxfp8 && tileM == 256) {
        op.emitError() << "convert-moe-to-moek: kernels of MXFP8 operands use "
                          "128-row tiles (a 256-row stage with its e4m3 and "
                          "bf16 tiles does not fit four times in shared "
                          "memory; tile-m = 256 given)";
        return signalPassFailure();
      }
      // sm_100a, bf16: Blackwell's shape (one MMA issuer, tensor-memory
      // accumulators drained by epilogue warpgroups), 128-row tiles.
      bool single = chip == "sm_100a" && singleIssuer && !fp4 && !mxfp8 &&
                    (scaled || mx ||
                     (!op.getXQuantAttr() && !op.getWQuantAttr()));
      if (single && (tileM == 256 || schedule == "pingpong")) {
        op.emitError() << "convert-moe-to-moek: the sm_100a single-issuer "
                          "kernel uses 128-row tiles and its own schedule "
                          "(tile-m = "
                       << static_cast<int64_t>(tileM)
                       << ", schedule = " << schedule
                       << " given; single-issuer=false keeps the sm_90a "
                          "shape)";
        return signalPassFailure();
      }
      int64_t n = op.getWeight().getType().getDimSize(1);
      if (ctaPair && (!single || scaled || n % 256 != 0)) {
        op.emitError() << "convert-moe-to-moek: cta-pair takes bf16 grouped "
                          "matmuls on sm_100a with single-issuer and N a "
                          "multiple of 256 (256 x 256 tiles; chip = "
                       << chip << ", N = " << n << ")";
        return signalPassFailure();
      }
      // Per-expert biases: added to register accumulators (the cooperative
      // kernels; on sm_100a those of FP4 and MXFP8 weights, or with
      // single-issuer=false).
      // (sm_100a's single-issuer bf16 kernel adds it in its tensor-memory
      // epilogue; not yet the FP8 and block-scaled ones, whose epilogues
      // promote or scale.)
      bool fp4Or8 = isMxfp4Weights(op) || isMxfp8(op);
      bool singleScaled = chip == "sm_100a" && singleIssuer && !fp4Or8 &&
                          (isFp8Block(op) || mx);
      if (op.getBias() && (schedule == "pingpong" || singleScaled || ctaPair)) {
        op.emitRemark() << "convert-moe-to-moek: not lowered: a per-expert "
                           "bias is not added by this kernel yet (chip = "
                        << chip << ", schedule = " << schedule
                        << (singleScaled ? ", the single-issuer FP8 or "
                                           "block-scaled kernel"
                                         : "")
                        << (ctaPair ? ", cta-pair" : "") << ")";
        continue;
      }
      std::string name = kernelNameFor(op, "expert_matmul", counter++);
      KernelConfig config;
      config.singleIssuer = single;
      config.ctaPair = ctaPair;
      config.stages = ringStages;
      // Auto: with bf16 operands each stage is released once its MMAs are
      // done (wait_group 0): keeping a group in flight held the previous
      // stage until the next one was full, a stage fewer in flight while
      // the MMA warpgroups wait on memory; 2-8% slower on the six cases'
      // prefill GEMMs (bench/results/2026-12-04-grouped-gemm-release-h200.md).
      // Kernels that expand FP4 (MXFP4, NVFP4) or FP8 (MXFP8) operands
      // keep the group in flight (the next stage's expansion overlaps it),
      // and so does the pingpong schedule (not measured without).
      config.pipelineMma = pipelineMma == "auto"
                               ? fp4 || mxfp8 || schedule == "pingpong"
                               : pipelineMma == "true";
      config.pingpong = schedule == "pingpong";
      config.narrowTiles = narrowTiles;
      // Auto: 256-wide tiles when they divide N (measured 0-10% faster on
      // the six cases' GEMMs, bench/results/), else 128 (less masked waste).
      auto configure = [&](int64_t m) {
        KernelConfig c = config;
        c.tileM = m;
        c.tileN = tileN ? tileN
                        : (scaled || mx || fp4 || mxfp8 || c.pingpong ||
                                   m >= 192 ||
                                   n % 256 != 0
                               ? 128
                               : 256);
        c.rowGroup = rowGroup ? rowGroup : autoRowGroup(op, m);
        return c;
      };
      gpu::GPUModuleOp kernels = getOrCreateKernelModule(module);
      OpBuilder b(kernels.getBodyRegion());
      b.setInsertionPointToEnd(&kernels.getBodyRegion().front());
      LLVM::LLVMFuncOp kernel = buildKernel(b, op.getLoc(), name, op,
                                            configure(tileM ? tileM : 128));
      SymbolTable(kernels).insert(kernel);
      // Auto tile-m with the cooperative schedule: a second kernel of 192-
      // (bf16) or 256-row tiles, which the runtime launches instead when T
      // gives 64 to 192 rows per expert on average (one tile then covers
      // most experts, whose weights are read once: 256-row tiles were
      // 16-21% faster on DeepSeek-V3 prefill's GEMMs, 0-9% slower with 4,
      // 256 or 1024 rows per expert; bench/results/).
      // (Not for MXFP8: two e4m3 tiles beside the bf16 ones make a 256-row
      // stage 72 KB, four of which do not fit.)
      if (!tileM && !config.pingpong && tileN != 256 && !scaled && !mxfp8 &&
          !single) {
        int64_t e = op.getWeight().getType().getDimSize(0);
        // bf16: 192-row tiles in five 40 KB stages (the weights' DRAM
        // stream is bound by the bytes in flight: 2, 3 and 4 stages of 256
        // rows took 9.3, 6.2 and 4.7 ms at DeepSeek-V3 prefill's gate/up
        // GEMM, five of 192 rows 7% less than four of 256; bench/results/
        // 2026-12-04-grouped-gemm-l2-h200.md), which also fit the 128-160
        // rows of its experts better; MXFP4 weights: 256-row tiles in four
        // 48 KB stages (their stage also holds the packed weights). With a
        // single K slice (K = 64) ptxas serializes the 192-row kernel's
        // wgmmas (C7520: its epilogue's one staging half waits in a
        // divergent path), so such a toy K keeps 256-row tiles too.
        int64_t kDim = op.getWeight().getType().getDimSize(2);
        int64_t wideRows = fp4 || kDim <= 64 ? 256 : 192;
        KernelConfig wideConfig = configure(wideRows);
        wideConfig.streamWeights = true;
        // The transposed product: wgmma's (sm_90a) only; sm_100a's MMA
        // warpgroups keep the usual one (not run on a Blackwell yet).
        wideConfig.transposed = transposedWide && chip == "sm_90a";
        // At most (and by default) as many stages as fit in 227 KB.
        int64_t wideStages = wideRows == 192 ? 5 : 4;
        wideConfig.stages =
            stages ? std::min<int64_t>(stages, wideStages) : wideStages;
        // wide-cluster (bf16): in clusters of two CTAs sharing each tile's
        // row boxes, which are then read from L2 once for two column
        // tiles. L2 reads 17% fewer bytes at DeepSeek-V3 prefill, the
        // kernel no faster (bench/results/2026-12-04-grouped-gemm-l2-h200.md).
        wideConfig.clusterCols = wideCluster && !fp4;
        LLVM::LLVMFuncOp wide =
            buildKernel(b, op.getLoc(), name + "_m" + std::to_string(wideRows),
                        op, wideConfig);
        SymbolTable(kernels).insert(wide);
        kernel->setAttr(
            "moek.variants",
            b.getArrayAttr({b.getDictionaryAttr(
                {b.getNamedAttr("kernel", FlatSymbolRefAttr::get(
                                              wide.getSymNameAttr())),
                 b.getNamedAttr("min_tokens", b.getI64IntegerAttr(64 * e)),
                 b.getNamedAttr("max_tokens",
                                b.getI64IntegerAttr(192 * e))})}));
      }
      SmallVector<Value> args{op.getX(), op.getWeight(), op.getOffsets()};
      if (scaled || mxfp8 || mx)
        args.append({op.getXScales(), op.getWScales()});
      if (fp4)
        args.push_back(op.getWScales());
      if (isNvfp4Weights(op) && op.getWGlobalScale())
        args.push_back(op.getWGlobalScale());
      if (Value bias = op.getBias())
        args.push_back(bias);
      replaceByLaunch(op, op.getOut(), kernel, args);
    }
  }
};

} // namespace
