//===- MoEKernelOps.cpp - The moek dialect ----------------------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Registration, types and verifiers of the kernel-level dialect.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::moe::kernel;

#include "moe/Dialect/MoEKernel/IR/MoEKernelOpsDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "moe/Dialect/MoEKernel/IR/MoEKernelOpsTypes.cpp.inc"

void MoEKernelDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "moe/Dialect/MoEKernel/IR/MoEKernelOpsTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

LogicalResult RingType::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t stages, ArrayRef<Type> tiles,
                               ArrayRef<int64_t> unstaged) {
  if (stages < 1)
    return emitError() << "!moek.ring expects at least one stage, got "
                       << stages;
  if (tiles.empty())
    return emitError() << "!moek.ring expects at least one tile per stage";
  for (size_t j = 0; j < unstaged.size(); ++j) {
    if (unstaged[j] < 0 || unstaged[j] >= int64_t(tiles.size()))
      return emitError() << "!moek.ring expects unstaged tile indices below "
                            "its "
                         << tiles.size() << " tiles, got " << unstaged[j];
    if (j && unstaged[j] <= unstaged[j - 1])
      return emitError() << "!moek.ring expects its unstaged tile indices "
                            "strictly increasing, got "
                         << unstaged[j] << " after " << unstaged[j - 1];
  }
  if (unstaged.size() == tiles.size())
    return emitError() << "!moek.ring expects at least one staged tile";
  // UE8M0 scale blocks (moek.stage_scales): i8 tiles of 4 columns, 128
  // rows (512 bytes) each, after every other tile and 1024 bytes in all,
  // so that each stage's swizzled tiles stay 1024-byte aligned.
  auto isScaleTile = [](MemRefType tile) {
    return tile && tile.getRank() == 2 && tile.hasStaticShape() &&
           tile.getElementType().isInteger(8) && tile.getDimSize(1) == 4 &&
           tile.getDimSize(0) % 128 == 0;
  };
  int64_t scaleBytes = 0;
  for (Type t : tiles) {
    auto tile = dyn_cast<MemRefType>(t);
    if (isScaleTile(tile)) {
      scaleBytes += tile.getNumElements();
      continue;
    }
    if (scaleBytes)
      return emitError() << "!moek.ring expects its scale tiles (i8, 4 "
                            "columns) after every other tile, got "
                         << t << " after one";
  }
  if (scaleBytes % 1024 != 0)
    return emitError() << "!moek.ring expects its scale tiles to take a "
                          "multiple of 1024 bytes a stage (the swizzled "
                          "tiles' alignment), got "
                       << scaleBytes;
  for (Type t : tiles) {
    if (isScaleTile(dyn_cast<MemRefType>(t)))
      continue;
    auto tile = dyn_cast<MemRefType>(t);
    // The memory space may be any attribute: check its kind before reading it
    // as an integer (getMemorySpaceAsInt would assert or read garbage).
    auto space = tile ? dyn_cast_or_null<IntegerAttr>(tile.getMemorySpace())
                      : IntegerAttr();
    if (!tile || tile.getRank() != 2 || !tile.hasStaticShape() || !space ||
        space.getInt() != 3)
      return emitError() << "!moek.ring expects static 2-D tiles in shared "
                            "memory (memref<RxCxT, 3>), got "
                         << t;
    unsigned bits = tile.getElementType().getIntOrFloatBitWidth();
    // One row of a tile is one 128-byte swizzle span; a packed FP4 tile
    // is 64 values, 32 bytes, a row (moek.dequant_fp4's source, copied
    // unswizzled) or 128 values, 64 bytes (moek.dequant_fp4_fp8's, in the
    // 64-byte swizzle); an MXFP8 tile 64 e4m3 values, 64 bytes
    // (moek.dequant_mxfp8's source, copied unswizzled).
    bool packedFp4 = isa<Float4E2M1FNType>(tile.getElementType()) &&
                     (tile.getDimSize(1) == 64 || tile.getDimSize(1) == 128);
    bool mxfp8 = isa<Float8E4M3FNType>(tile.getElementType()) &&
                 tile.getDimSize(1) == 64;
    if (tile.getDimSize(1) * bits != 128 * 8 && !packedFp4 && !mxfp8)
      return emitError() << "!moek.ring expects tile rows of 128 bytes (the "
                            "TMA swizzle span), 64 or 128 f4E2M1FN values, "
                            "or 64 f8E4M3FN values, got "
                         << t;
    if (tile.getDimSize(0) % 8 != 0)
      return emitError() << "!moek.ring expects tile rows in multiples of 8, "
                            "got "
                         << t;
  }
  return success();
}

int64_t RingType::getTileBytes(unsigned i) const {
  MemRefType tile = getTile(i);
  return tile.getNumElements() * tile.getElementType().getIntOrFloatBitWidth() /
         8;
}

int64_t RingType::getStageBytes() const {
  int64_t bytes = 0;
  for (unsigned i = 0, e = getTiles().size(); i < e; ++i)
    if (!isUnstaged(i))
      bytes += getTileBytes(i);
  return bytes;
}

int64_t RingType::getUnstagedBytes() const {
  int64_t bytes = 0;
  for (int64_t i : getUnstaged())
    bytes += getTileBytes(i);
  return bytes;
}

int64_t RingType::getTileOffset(unsigned i) const {
  int64_t offset = 0;
  for (unsigned j = 0; j < i; ++j)
    if (isUnstaged(j) == isUnstaged(i))
      offset += getTileBytes(j);
  return offset;
}

/// `!moek.acc<64x128xf32>`, spelled like a shaped type.
/// `<` dims `x` element type `>`, the body of !moek.acc and !moek.rows.
static ParseResult parseShapeAndElement(AsmParser &parser,
                                        SmallVectorImpl<int64_t> &dims,
                                        Type &elementType) {
  return failure(parser.parseLess() ||
                 parser.parseDimensionList(dims, /*allowDynamic=*/false) ||
                 parser.parseType(elementType) || parser.parseGreater());
}

Type AccType::parse(AsmParser &parser) {
  SmallVector<int64_t, 2> dims;
  Type elementType;
  if (parseShapeAndElement(parser, dims, elementType))
    return {};
  if (dims.size() != 2) {
    parser.emitError(parser.getNameLoc(), "!moek.acc expects RxC dimensions");
    return {};
  }
  return AccType::getChecked(
      [&] { return parser.emitError(parser.getNameLoc()); },
      parser.getContext(), dims[0], dims[1], elementType);
}

void AccType::print(AsmPrinter &printer) const {
  printer << "<" << getRows() << "x" << getCols() << "x" << getElementType()
          << ">";
}

LogicalResult AccType::verify(function_ref<InFlightDiagnostic()> emitError,
                              int64_t rows, int64_t cols, Type elementType) {
  if (!elementType.isF32())
    return emitError() << "!moek.acc expects f32 accumulation, got "
                       << elementType;
  if (rows != 64)
    return emitError() << "!moek.acc expects 64 rows (one warpgroup), got "
                       << rows;
  if (cols < 8 || cols > 256 || cols % 8 != 0)
    return emitError() << "!moek.acc expects 8..256 columns in steps of 8, "
                          "got "
                       << cols;
  return success();
}

/// `!moek.acc_ring<2, 128x256xf32>`.
Type AccRingType::parse(AsmParser &parser) {
  int64_t stages = 0;
  SmallVector<int64_t, 2> dims;
  Type elementType;
  if (parser.parseLess() || parser.parseInteger(stages) ||
      parser.parseComma() ||
      parser.parseDimensionList(dims, /*allowDynamic=*/false) ||
      parser.parseType(elementType) || parser.parseGreater())
    return {};
  if (dims.size() != 2) {
    parser.emitError(parser.getNameLoc(),
                     "!moek.acc_ring expects RxC dimensions");
    return {};
  }
  return AccRingType::getChecked(
      [&] { return parser.emitError(parser.getNameLoc()); },
      parser.getContext(), stages, dims[0], dims[1], elementType);
}

void AccRingType::print(AsmPrinter &printer) const {
  printer << "<" << getStages() << ", " << getRows() << "x" << getCols()
          << "x" << getElementType() << ">";
}

LogicalResult AccRingType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t stages, int64_t rows, int64_t cols,
                                  Type elementType) {
  if (!elementType.isF32())
    return emitError() << "!moek.acc_ring expects f32 accumulation, got "
                       << elementType;
  // tcgen05.mma.cta_group::1 with M = 128: N a multiple of 16 up to 256.
  if (rows != 128)
    return emitError() << "!moek.acc_ring expects 128 rows (one per "
                          "tensor-memory lane), got "
                       << rows;
  if (cols < 32 || cols > 256 || cols % 32 != 0)
    return emitError() << "!moek.acc_ring expects 32..256 columns in steps of "
                          "32 (tcgen05.ld reads 32 at a time), got "
                       << cols;
  if (stages < 1 || stages * cols > 512)
    return emitError() << "!moek.acc_ring expects at least one accumulator "
                          "and at most 512 tensor-memory columns in all, got "
                       << stages << " x " << cols;
  return success();
}

Type RowsType::parse(AsmParser &parser) {
  SmallVector<int64_t, 1> dims;
  Type elementType;
  if (parseShapeAndElement(parser, dims, elementType))
    return {};
  if (dims.size() != 1) {
    parser.emitError(parser.getNameLoc(), "!moek.rows expects one dimension");
    return {};
  }
  return RowsType::getChecked(
      [&] { return parser.emitError(parser.getNameLoc()); },
      parser.getContext(), dims[0], elementType);
}

void RowsType::print(AsmPrinter &printer) const {
  printer << "<" << getRows() << "x" << getElementType() << ">";
}

LogicalResult RowsType::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t rows, Type elementType) {
  if (!elementType.isF32())
    return emitError() << "!moek.rows expects f32 values, got " << elementType;
  if (rows != 64)
    return emitError() << "!moek.rows expects 64 rows (one accumulator), got "
                       << rows;
  return success();
}

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

LogicalResult WarpRoleOp::verify() {
  int64_t first = getFirstAttr().getInt(), count = getCountAttr().getInt();
  if (count < 1 || first < 0)
    return emitOpError() << "expects a non-empty warpgroup range, got ("
                         << first << ", " << count << ")";
  if (IntegerAttr regsAttr = getMaxRegsAttr()) {
    int64_t regs = regsAttr.getInt();
    if (regs < 24 || regs > 256 || regs % 8 != 0)
      return emitOpError() << "expects max_regs in [24, 256], a multiple of "
                              "8 (setmaxnreg), got "
                           << regs;
  }
  if ((*this)->getParentOfType<WarpRoleOp>())
    return emitOpError() << "cannot be nested in another moek.warp_role";
  return success();
}

LogicalResult WarpgroupIndexOp::verify() {
  if (!(*this)->getParentOfType<WarpRoleOp>())
    return emitOpError() << "must be inside a moek.warp_role";
  return success();
}

template <typename OpTy>
static LogicalResult verifyNamedBarrier(OpTy op) {
  int64_t id = op.getIdAttr().getInt(), threads = op.getThreadsAttr().getInt();
  if (id < 1 || id > 15)
    return op.emitOpError() << "expects a barrier id in [1, 15] (0 is the "
                               "CTA-wide barrier), got "
                            << id;
  if (threads < 32 || threads > 1024 || threads % 32 != 0)
    return op.emitOpError() << "expects a thread count in [32, 1024], a "
                               "multiple of 32 (whole warps), got "
                            << threads;
  return success();
}

LogicalResult BarrierArriveOp::verify() { return verifyNamedBarrier(*this); }
LogicalResult BarrierSyncOp::verify() { return verifyNamedBarrier(*this); }

template <typename OpTy>
static LogicalResult verifyGroupedTiling(OpTy op) {
  if (op.getNumExpertsAttr().getInt() < 1 ||
      op.getTileRowsAttr().getInt() < 1 || op.getColTilesAttr().getInt() < 1)
    return op.emitOpError() << "expects num_experts, tile_rows and col_tiles "
                               ">= 1";
  int64_t tail = op.getTailRows();
  if (tail < 0 || tail >= op.getTileRowsAttr().getInt())
    return op.emitOpError()
           << "expects tail_rows in [0, tile_rows), got " << tail;
  return success();
}

LogicalResult GroupedTileCountOp::verify() { return verifyGroupedTiling(*this); }
LogicalResult GroupedTileOp::verify() {
  if (getRowGroup() < 1)
    return emitOpError() << "expects row_group >= 1, got " << getRowGroup();
  return verifyGroupedTiling(*this);
}

LogicalResult RingAllocOp::verify() {
  if ((*this)->getParentOfType<WarpRoleOp>())
    return emitOpError() << "must be outside every moek.warp_role (all "
                            "threads initialize the ring before roles run)";
  if (getConsumersAttr().getInt() < 1)
    return emitOpError() << "expects at least one consumer arrival, got "
                         << getConsumersAttr().getInt();
  int64_t cluster = getCluster();
  if (cluster < 1 || cluster > 16)
    return emitOpError() << "expects a cluster of 1 to 16 CTAs, got "
                         << cluster;
  if (getProducers() < 1)
    return emitOpError() << "expects at least one producer arrival, got "
                         << getProducers();
  if (cluster > 1 && getConsumersAttr().getInt() % 128 != 0)
    return emitOpError() << "with cluster = " << cluster
                         << " expects consumers to be whole warpgroups (a "
                            "multiple of 128), got "
                         << getConsumersAttr().getInt();
  return success();
}

LogicalResult ClusterSyncOp::verify() {
  if ((*this)->getParentOfType<WarpRoleOp>())
    return emitOpError() << "must be outside every moek.warp_role (every "
                            "thread of the cluster takes part)";
  return success();
}

/// An `l2_hint` (moek.tma_load, moek.gather_rows): "evict_first" or
/// "evict_last" when present.
static LogicalResult verifyL2Hint(Operation *op,
                                  std::optional<StringRef> hint) {
  if (hint && *hint != "evict_first" && *hint != "evict_last")
    return op->emitOpError() << "expects l2_hint \"evict_first\" or "
                                "\"evict_last\", got \""
                             << *hint << "\"";
  return success();
}

LogicalResult TmaLoadOp::verify() {
  RingType ring = getRing().getType();
  int64_t tile = getTileAttr().getInt();
  if (tile < 0 || tile >= static_cast<int64_t>(ring.getTiles().size()))
    return emitOpError() << "expects a tile index in [0, "
                         << ring.getTiles().size() << "), got " << tile;
  if (getCoords().empty() || getCoords().size() > 5)
    return emitOpError() << "expects 1 to 5 coordinates, got "
                         << getCoords().size();
  if (failed(verifyL2Hint(*this, getL2Hint())))
    return failure();
  if (getMulticast()) {
    auto alloc = getRing().getDefiningOp<RingAllocOp>();
    if (alloc && alloc.getCluster() < 2)
      return emitOpError() << "multicasts into a ring of one CTA (its "
                              "moek.ring_alloc has no cluster > 1)";
  }
  if (getLeaderBarrier() && getMulticast())
    return emitOpError() << "completes on the CTA pair's even barrier "
                            "(leader_barrier), so it cannot multicast";
  int64_t rowOffset = getRowOffset(), rows = ring.getTile(tile).getDimSize(0);
  if (rowOffset < 0 || rowOffset >= rows || rowOffset % 8 != 0)
    return emitOpError() << "expects row_offset a multiple of 8 in [0, "
                         << rows << "), got " << rowOffset;
  return success();
}

/// The tiles of an FP4 expansion (moek.dequant_fp4, moek.dequant_fp4_fp8):
/// `from` an f4E2M1FN tile, `to` one of `dstType` (`dstName`, with its
/// article), both R x `cols`.
template <typename Op>
static LogicalResult verifyFp4Tiles(Op op, Type dstType, StringRef dstName,
                                    int64_t cols) {
  RingType ring = op.getRing().getType();
  int64_t numTiles = ring.getTiles().size();
  int64_t from = op.getFromAttr().getInt(), to = op.getToAttr().getInt();
  if (from < 0 || from >= numTiles || to < 0 || to >= numTiles || from == to)
    return op.emitOpError() << "expects two tile indices in [0, " << numTiles
                            << "), got from = " << from << ", to = " << to;
  MemRefType src = ring.getTile(from), dst = ring.getTile(to);
  if (!isa<Float4E2M1FNType>(src.getElementType()) ||
      dst.getElementType() != dstType)
    return op.emitOpError() << "expands an f4E2M1FN tile into " << dstName
                            << " tile, got " << src.getElementType()
                            << " into " << dst.getElementType();
  if (src.getShape() != dst.getShape() || src.getDimSize(1) != cols)
    return op.emitOpError() << "expects tiles of one shape R x " << cols
                            << ", got " << src.getDimSize(0) << "x"
                            << src.getDimSize(1) << " and "
                            << dst.getDimSize(0) << "x" << dst.getDimSize(1);
  return success();
}

/// first_thread a multiple of 32 (whole warps).
template <typename Op>
static LogicalResult verifyFirstThread(Op op) {
  int64_t first = op.getFirstThreadAttr().getInt();
  if (first < 0 || first % 32 != 0)
    return op.emitOpError() << "expects first_thread a multiple of 32, got "
                            << first;
  return success();
}

/// A `barrier` attribute naming a named barrier, in [1, 15] (0 is the
/// CTA-wide one; the barrier ops' own ids: verifyNamedBarrier).
template <typename Op>
static LogicalResult verifyBarrierAttr(Op op) {
  int64_t barrier = op.getBarrierAttr().getInt();
  if (barrier < 1 || barrier > 15)
    return op.emitOpError() << "expects a named barrier in [1, 15], got "
                            << barrier;
  return success();
}

/// scale_rows >= 1 (rows past it read the last one).
template <typename Op>
static LogicalResult verifyScaleRows(Op op) {
  if (op.getScaleRowsAttr().getInt() < 1)
    return op.emitOpError() << "expects scale_rows >= 1, got "
                            << op.getScaleRowsAttr().getInt();
  return success();
}

LogicalResult DequantFp4Op::verify() {
  if (failed(verifyFp4Tiles(*this, BFloat16Type::get(getContext()), "a bf16",
                            64)))
    return failure();
  int64_t threads = getThreadsAttr().getInt();
  int64_t blocks =
      getRing().getType().getTile(getToAttr().getInt()).getDimSize(0) * 2;
  if (threads <= 0 || threads % 32 != 0 || blocks % threads != 0)
    return emitOpError() << "expects whole warps that divide the tile's "
                         << blocks << " 32-value blocks, got " << threads
                         << " threads";
  if (failed(verifyFirstThread(*this)) || failed(verifyBarrierAttr(*this)) ||
      failed(verifyScaleRows(*this)))
    return failure();
  int64_t perSlice = getNvfp4() ? 4 : 2;
  if (getScaleColsAttr().getInt() < perSlice)
    return emitOpError() << "expects scale_cols >= " << perSlice
                         << " (a 64-wide K slice spans "
                         << (getNvfp4() ? "four 16" : "two 32")
                         << "-value blocks), got "
                         << getScaleColsAttr().getInt();
  return success();
}

LogicalResult DequantMxfp8Op::verify() {
  RingType ring = getRing().getType();
  int64_t numTiles = ring.getTiles().size();
  int64_t from = getFromAttr().getInt(), to = getToAttr().getInt();
  if (from < 0 || from >= numTiles || to < 0 || to >= numTiles || from == to)
    return emitOpError() << "expects two tile indices in [0, " << numTiles
                         << "), got from = " << from << ", to = " << to;
  MemRefType src = ring.getTile(from), dst = ring.getTile(to);
  if (!isa<Float8E4M3FNType>(src.getElementType()) ||
      !dst.getElementType().isBF16())
    return emitOpError() << "expands an f8E4M3FN tile into a bf16 tile, got "
                         << src.getElementType() << " into "
                         << dst.getElementType();
  if (src.getShape() != dst.getShape() || src.getDimSize(1) != 64)
    return emitOpError() << "expects tiles of one shape R x 64, got "
                         << src.getDimSize(0) << "x" << src.getDimSize(1)
                         << " and " << dst.getDimSize(0) << "x"
                         << dst.getDimSize(1);
  int64_t threads = getThreadsAttr().getInt(), blocks = src.getDimSize(0) * 2;
  if (threads <= 0 || threads % 32 != 0 || blocks % threads != 0)
    return emitOpError() << "expects whole warps that divide the tile's "
                         << blocks << " 32-value blocks, got " << threads
                         << " threads";
  if (failed(verifyFirstThread(*this)) || failed(verifyBarrierAttr(*this)))
    return failure();
  if (getScaleColsAttr().getInt() < 2)
    return emitOpError() << "expects scale_cols >= 2 (a 64-wide K slice spans "
                            "two 32-value blocks), got "
                         << getScaleColsAttr().getInt();
  return success();
}

/// Tiles `a` and `b` of an MMA's ring (moek.mma, moek.mma_block_scaled), or
/// an error naming both indices.
template <typename Op>
static FailureOr<std::pair<MemRefType, MemRefType>> mmaTiles(Op op) {
  RingType ring = op.getRing().getType();
  int64_t numTiles = ring.getTiles().size();
  int64_t ia = op.getAAttr().getInt(), ib = op.getBAttr().getInt();
  if (ia < 0 || ia >= numTiles || ib < 0 || ib >= numTiles)
    return op.emitOpError() << "expects tile indices in [0, " << numTiles
                            << "), got a = " << ia << ", b = " << ib;
  return std::make_pair(ring.getTile(ia), ring.getTile(ib));
}

LogicalResult MmaOp::verify() {
  AccType acc = getAcc().getType();
  FailureOr<std::pair<MemRefType, MemRefType>> tiles = mmaTiles(*this);
  if (failed(tiles))
    return failure();
  auto [a, b] = *tiles;
  if (a.getElementType() != b.getElementType())
    return emitOpError() << "expects tiles a and b of one element type, got "
                         << a.getElementType() << " and "
                         << b.getElementType();
  if (!a.getElementType().isBF16() && !isa<Float8E4M3FNType>(a.getElementType()))
    return emitOpError() << "supports bf16 and f8E4M3FN tiles, got "
                         << a.getElementType();
  if (a.getDimSize(1) != b.getDimSize(1))
    return emitOpError() << "expects tiles a and b of one K extent, got "
                         << a.getDimSize(1) << " and " << b.getDimSize(1);
  // An accumulator narrower than tile b multiplies its first rows.
  if (b.getDimSize(0) < acc.getCols())
    return emitOpError() << "expects the accumulator's columns ("
                         << acc.getCols() << ") to be at most tile b's rows ("
                         << b.getDimSize(0) << ")";
  if (a.getDimSize(0) % acc.getRows() != 0)
    return emitOpError() << "expects tile a's rows (" << a.getDimSize(0)
                         << ") to be a multiple of the accumulator's ("
                         << acc.getRows() << ")";
  if (std::optional<int64_t> cols = getCols()) {
    int64_t step = acc.getRows() == 128 ? 16 : 8;
    if (*cols < step || *cols >= acc.getCols() || *cols % step != 0)
      return emitOpError() << "expects cols (" << *cols
                           << ") to be a multiple of " << step
                           << " below the accumulator's columns ("
                           << acc.getCols() << ")";
  }
  return success();
}

LogicalResult AccRingAllocOp::verify() {
  int64_t consumers = getConsumersAttr().getInt();
  if (consumers < 1)
    return emitOpError() << "expects at least one consumer thread, got "
                         << consumers;
  return success();
}

/// Tile `index` of `ring` if it is an i8 tile of `rows` x 4 (a multiple
/// of 128 rows: moek.stage_scales' 512-byte blocks), else an error of `op`
/// naming `what`.
static LogicalResult verifyScaleTile(Operation *op, RingType ring,
                                     int64_t index, int64_t rows,
                                     StringRef what) {
  int64_t numTiles = ring.getTiles().size();
  if (index < 0 || index >= numTiles)
    return op->emitOpError() << "expects " << what << " a tile index in [0, "
                             << numTiles << "), got " << index;
  MemRefType tile = ring.getTile(index);
  if (!tile.getElementType().isInteger(8) || tile.getDimSize(1) != 4 ||
      tile.getDimSize(0) % 128 != 0 || (rows && tile.getDimSize(0) < rows))
    return op->emitOpError()
           << "expects " << what << " an i8 tile of 4 columns and "
           << (rows ? "at least " + std::to_string(rows) + " rows"
                    : std::string("a multiple of 128 rows"))
           << " (UE8M0 scales), got " << tile;
  return success();
}

LogicalResult MmaTmemOp::verify() {
  FailureOr<std::pair<MemRefType, MemRefType>> tiles = mmaTiles(*this);
  if (failed(tiles))
    return failure();
  auto [a, b] = *tiles;
  AccRingType accs = getAccs().getType();
  if (getAScalesAttr() || getBScalesAttr()) {
    if (!getAScalesAttr() || !getBScalesAttr())
      return emitOpError() << "expects both a_scales and b_scales, or neither";
    auto alloc = getAccs().getDefiningOp<AccRingAllocOp>();
    if (alloc && alloc.getCtaPair())
      return emitOpError() << "has no block-scaled form for CTA pairs";
    if (!isa<Float8E4M3FNType>(a.getElementType()) || a.getDimSize(0) != 128 ||
        a.getDimSize(1) != 128)
      return emitOpError() << "block-scaled: expects tile a of 128 x 128 "
                              "f8E4M3FN, got "
                           << a;
    int64_t n = accs.getCols();
    if (!b.getElementType().isInteger(8) || b.getDimSize(1) != 128 ||
        b.getDimSize(0) < n)
      return emitOpError() << "block-scaled: expects tile b of i8 (e2m1 in "
                              "tcgen05's padded form), 128 columns and at "
                              "least "
                           << n << " rows, got " << b;
    if (accs.getRows() != 128 || n % 128 != 0 || n > 256)
      return emitOpError() << "block-scaled: expects accumulators of 128 rows "
                              "and 128 or 256 columns, got "
                           << accs;
    RingType ring = getRing().getType();
    if (failed(verifyScaleTile(*this, ring, getAScalesAttr().getInt(), 128,
                               "a_scales")) ||
        failed(verifyScaleTile(*this, ring, getBScalesAttr().getInt(), n,
                               "b_scales")))
      return failure();
    return success();
  }
  if (a.getElementType() != b.getElementType() ||
      (!a.getElementType().isBF16() &&
       !isa<Float8E4M3FNType>(a.getElementType())))
    return emitOpError() << "expects tiles a and b both bf16 or both "
                            "f8E4M3FN, got "
                         << a.getElementType() << " and "
                         << b.getElementType();
  if (a.getDimSize(1) != b.getDimSize(1))
    return emitOpError() << "expects tiles a and b of one K extent, got "
                         << a.getDimSize(1) << " and " << b.getDimSize(1);
  // A CTA pair: each CTA's tile b holds half of B's rows.
  auto alloc = getAccs().getDefiningOp<AccRingAllocOp>();
  int64_t bRows = alloc && alloc.getCtaPair() ? accs.getCols() / 2
                                              : accs.getCols();
  if (a.getDimSize(0) != accs.getRows() || b.getDimSize(0) < bRows)
    return emitOpError() << "expects tile a of the accumulators' "
                         << accs.getRows() << " rows and tile b of at least "
                         << bRows << " rows, got " << a << " and " << b;
  return success();
}

LogicalResult TimestampOp::verify() {
  StringRef mode = getMode();
  if (mode != "store" && mode != "add" && mode != "sub" && mode != "count")
    return emitOpError() << "expects mode \"store\", \"add\", \"sub\" or "
                            "\"count\", got \""
                         << mode << "\"";
  return success();
}

LogicalResult InWarpOp::verify() {
  int64_t warp = getWarpAttr().getInt();
  if (warp < 0 || warp > 3)
    return emitOpError() << "expects a warp of the warpgroup (0 to 3), got "
                         << warp;
  return success();
}

LogicalResult StageScalesOp::verify() {
  if (failed(verifyScaleTile(*this, getRing().getType(),
                             getTileAttr().getInt(), 0, "tile")))
    return failure();
  int64_t cols = getScaleColsAttr().getInt();
  if (cols < 4 || cols % 4 != 0)
    return emitOpError() << "expects scale_cols a positive multiple of 4 "
                            "(whole 128-wide K blocks, 4-byte copies), got "
                         << cols;
  return success();
}

LogicalResult RingArriveCopiesOp::verify() {
  auto alloc = getRing().getDefiningOp<RingAllocOp>();
  if (alloc && alloc.getProducers() < 2)
    return emitOpError() << "expects a ring whose full barriers count more "
                            "than moek.ring_expect's arrival (producers >= 2), "
                            "got producers = "
                         << alloc.getProducers();
  return success();
}
LogicalResult GatherRowsOp::verify() {
  RingType ring = getRing().getType();
  int64_t index = getTileAttr().getInt(),
          numTiles = static_cast<int64_t>(ring.getTiles().size());
  if (index < 0 || index >= numTiles)
    return emitOpError() << "expects a tile index in [0, " << numTiles
                         << "), got " << index;
  MemRefType tile = ring.getTile(index);
  Type elem = tile.getElementType();
  int64_t cols = tile.getDimSize(1);
  if (!((elem.isBF16() && cols == 64) ||
        (isa<Float8E4M3FNType>(elem) && cols == 128)) ||
      tile.getDimSize(0) < 16 || tile.getDimSize(0) % 16 != 0)
    return emitOpError() << "expects a tile of 128-byte rows (bf16 x 64 or "
                            "e4m3 x 128) and a multiple of 16 rows, got "
                         << tile;
  int64_t hidden = getHiddenAttr().getInt();
  if (hidden < cols || hidden % cols != 0)
    return emitOpError() << "expects hidden a positive multiple of the tile's "
                         << cols << " columns (whole K slices), got " << hidden;
  int64_t perLane = tile.getDimSize(0) / 16;
  if (getTokens().getType().getDimSize(0) != perLane)
    return emitOpError() << "expects " << perLane
                         << " tokens a lane (the tile's rows / 16), got "
                         << getTokens().getType();
  if (failed(verifyL2Hint(*this, getL2Hint())))
    return failure();
  return success();
}

LogicalResult ElectOneOp::verify() {
  int64_t warp = getWarpAttr().getInt();
  if (warp < 0 || warp > 3)
    return emitOpError() << "expects a warp of the warpgroup (0 to 3), got "
                         << warp;
  return success();
}

LogicalResult SignalRelayOp::verify() {
  int64_t wg = getWarpgroupAttr().getInt();
  if (wg != 1 && wg != 2)
    return emitOpError() << "expects the warpgroup whose signals it relays "
                            "to be 1 or 2, got "
                         << wg;
  return success();
}

/// moek.stage_block_scales' and moek.load_staged_scales' `rows` (a
/// positive multiple of 32, whole lanes of the staging warp, and at least
/// a 64-row accumulator's) and `tile`: one of the ring's byte scale tiles
/// (i8, 4 columns), large enough for `rows` + 2 words.
template <typename Op> LogicalResult verifyStagedScales(Op op) {
  int64_t rows = op.getRowsAttr().getInt();
  if (rows < 64 || rows % 32 != 0)
    return op.emitOpError() << "expects rows a multiple of 32 and at least "
                               "64 (a 64-row accumulator's), got "
                            << rows;
  RingType ring = op.getRing().getType();
  int64_t index = op.getTileAttr().getInt(),
          numTiles = static_cast<int64_t>(ring.getTiles().size());
  if (index < 0 || index >= numTiles)
    return op.emitOpError()
           << "expects a tile index in [0, " << numTiles << "), got " << index;
  MemRefType tile = ring.getTile(index);
  if (!tile.getElementType().isInteger(8) || tile.getDimSize(1) != 4 ||
      ring.isUnstaged(index) || tile.getNumElements() < 4 * (rows + 2))
    return op.emitOpError() << "expects a staged scale tile (i8, 4 columns) "
                               "of at least "
                            << 4 * (rows + 2) << " bytes, got " << tile;
  return success();
}

LogicalResult StageBlockScalesOp::verify() {
  if (getLdAttr().getInt() < 1 || getKbStride() < 1)
    return emitOpError() << "expects a positive ld and kb_stride, got "
                         << getLdAttr().getInt() << " and " << getKbStride();
  return verifyStagedScales(*this);
}

LogicalResult LoadStagedScalesOp::verify() { return verifyStagedScales(*this); }

LogicalResult LoadRowsOp::verify() {
  if (getLdAttr().getInt() < 1)
    return emitOpError() << "expects a positive ld, got "
                         << getLdAttr().getInt();
  return success();
}

LogicalResult Fp4RowScaleOp::verify() {
  if (failed(verifyScaleRows(*this)))
    return failure();
  int64_t cols = getScaleColsAttr().getInt();
  if (cols < 4 || cols % 4 != 0)
    return emitOpError() << "expects scale_cols a positive multiple of 4 "
                            "(whole 128-wide K blocks), got "
                         << cols;
  int64_t threads = getThreadsAttr().getInt();
  if (threads < 32 || threads > 1024 || threads % 32 != 0)
    return emitOpError() << "expects whole warps, got " << threads
                         << " threads";
  if (failed(verifyFirstThread(*this)))
    return failure();
  int64_t first = getFirstThreadAttr().getInt();
  if (first + threads > 1024)
    return emitOpError() << "expects its threads within a block of 1024, "
                            "got first_thread "
                         << first << " + " << threads << " threads";
  return verifyBarrierAttr(*this);
}

LogicalResult LoadFp4ScalesOp::verify() {
  if (failed(verifyScaleRows(*this)))
    return failure();
  int64_t cols = getScaleColsAttr().getInt();
  if (cols < 4 || cols % 4 != 0)
    return emitOpError() << "expects scale_cols a positive multiple of 4 "
                            "(four 32-value blocks a 128-wide K block, "
                            "loaded as one aligned word), got "
                         << cols;
  return verifyFirstThread(*this);
}

LogicalResult DequantFp4Fp8Op::verify() {
  if (failed(verifyFp4Tiles(*this, Float8E4M3FNType::get(getContext()),
                            "an f8E4M3FN", 128)))
    return failure();
  int64_t rows =
      getRing().getType().getTile(getToAttr().getInt()).getDimSize(0);
  if (rows % 32 != 0)
    return emitOpError() << "expects whole warps (one thread a row), got "
                         << rows << " rows";
  if (failed(verifyFirstThread(*this)))
    return failure();
  return verifyBarrierAttr(*this);
}

/// scale_cols a positive multiple of 4: whole 128-wide K blocks, four
/// 32-value blocks each (one aligned word).
template <typename Op>
static LogicalResult verifyScaleCols(Op op) {
  if (failed(verifyScaleRows(op)))
    return failure();
  int64_t cols = op.getScaleColsAttr().getInt();
  if (cols < 4 || cols % 4 != 0)
    return op.emitOpError() << "expects scale_cols a positive multiple of 4 "
                               "(whole 128-wide K blocks), got "
                            << cols;
  return success();
}

LogicalResult Fp4FragmentRowMaxOp::verify() { return verifyScaleCols(*this); }

LogicalResult LoadFp4FragmentScalesOp::verify() {
  return verifyScaleCols(*this);
}

/// The tiles and results of a transposed small-tile product (moek.mma_fp4,
/// moek.mma_fp4_bf16): tile packed of f4E2M1FN, 64-row blocks by `k`
/// columns; tile b of `bType`, `k` columns; one result a 64-row block (at
/// most the packed tile's), all one 64 x N accumulator type with N a
/// multiple of 16 up to 64 and tile b's rows. `perBlock(blocks)` checks the
/// op's operands of each block.
template <typename Op>
static LogicalResult
verifyTransposedMma(Op op, int64_t k, Type bType, StringRef bName,
                    function_ref<LogicalResult(int64_t)> perBlock) {
  RingType ring = op.getRing().getType();
  int64_t numTiles = ring.getTiles().size();
  int64_t ip = op.getPackedAttr().getInt(), ib = op.getBAttr().getInt();
  if (ip < 0 || ip >= numTiles || ib < 0 || ib >= numTiles)
    return op.emitOpError() << "expects tile indices in [0, " << numTiles
                            << "), got packed = " << ip << ", b = " << ib;
  MemRefType packed = ring.getTile(ip), b = ring.getTile(ib);
  if (!isa<Float4E2M1FNType>(packed.getElementType()) ||
      packed.getDimSize(1) != k || packed.getDimSize(0) % 64 != 0)
    return op.emitOpError() << "expects tile packed of f4E2M1FN, 64-row "
                               "blocks by "
                            << k << " columns, got " << packed;
  if (b.getElementType() != bType || b.getDimSize(1) != k)
    return op.emitOpError() << "expects tile b of " << bName << ", " << k
                            << " columns, got " << b;
  int64_t blocks = op.getResults().size();
  if (blocks < 1 || blocks * 64 > packed.getDimSize(0))
    return op.emitOpError() << "expects one to " << packed.getDimSize(0) / 64
                            << " results (64-row blocks of tile packed), got "
                            << blocks;
  if (failed(perBlock(blocks)))
    return failure();
  AccType acc = cast<AccType>(op.getResults().front().getType());
  if (!llvm::all_equal(op.getResults().getTypes()))
    return op.emitOpError() << "expects results of one accumulator type";
  int64_t n = acc.getCols();
  if (acc.getRows() != 64 || n % 16 != 0 || n > 64 || n > b.getDimSize(0))
    return op.emitOpError() << "expects 64-row accumulators of 16, 32, 48 or "
                               "64 columns, at most tile b's "
                            << b.getDimSize(0) << " rows, got " << acc;
  return success();
}

LogicalResult MmaFp4Op::verify() {
  auto tables = [&](int64_t blocks) -> LogicalResult {
    if (int64_t(getTables().size()) != blocks)
      return emitOpError() << "expects tables for each of its " << blocks
                           << " blocks, got " << getTables().size();
    return success();
  };
  if (failed(verifyTransposedMma(*this, 128,
                                 Float8E4M3FNType::get(getContext()),
                                 "f8E4M3FN", tables)))
    return failure();
  int64_t group = getStepsPerFence();
  if (group != 1 && group != 2 && group != 4)
    return emitOpError() << "expects steps_per_fence 1, 2 or 4, got " << group;
  return success();
}

LogicalResult UnpackFp4Op::verify() {
  if (failed(verifyFp4Tiles(*this, IntegerType::get(getContext(), 8), "an i8",
                            128)))
    return failure();
  int64_t rows =
      getRing().getType().getTile(getFromAttr().getInt()).getDimSize(0);
  if (rows != 128)
    return emitOpError() << "expects 128-row tiles (tcgen05's M), got "
                         << rows << " rows";
  if (failed(verifyScaleCols(*this)) || failed(verifyFirstThread(*this)))
    return failure();
  return verifyBarrierAttr(*this);
}

LogicalResult MmaBlockScaledOp::verify() {
  FailureOr<std::pair<MemRefType, MemRefType>> tiles = mmaTiles(*this);
  if (failed(tiles))
    return failure();
  auto [a, b] = *tiles;
  if (!a.getElementType().isInteger(8) || a.getDimSize(0) != 128 ||
      a.getDimSize(1) != 128)
    return emitOpError() << "expects tile a of 128 x 128 i8 (moek.unpack_fp4's "
                            "e2m1 values), got "
                         << a;
  if (!isa<Float8E4M3FNType>(b.getElementType()) || b.getDimSize(1) != 128)
    return emitOpError() << "expects tile b of f8E4M3FN, 128 columns, got "
                         << b;
  AccType acc = getLow().getType();
  int64_t n = acc.getCols();
  if (getHigh().getType() != acc || acc.getRows() != 64 ||
      !acc.getElementType().isF32() || n % 16 != 0 || n > 256 ||
      n > b.getDimSize(0))
    return emitOpError() << "expects two f32 accumulators of 64 rows and a "
                            "multiple of 16 columns, at most tile b's "
                         << b.getDimSize(0) << " rows, got " << acc << " and "
                         << getHigh().getType();
  return success();
}

LogicalResult LoadFp4SliceScalesOp::verify() {
  if (failed(verifyScaleRows(*this)))
    return failure();
  // Two UE8M0 bytes (MXFP4) or four e4m3 bytes (NVFP4) a slice, aligned.
  int64_t cols = getScaleColsAttr().getInt(), per = getNvfp4() ? 4 : 2;
  if (cols < per || cols % per != 0)
    return emitOpError() << "expects scale_cols a positive multiple of "
                         << per << " (whole 64-wide K slices of "
                         << (getNvfp4() ? "16" : "32") << "-value blocks), got "
                         << cols;
  return success();
}

LogicalResult MmaFp4Bf16Op::verify() {
  auto accs = [&](int64_t blocks) -> LogicalResult {
    if (int64_t(getAccs().size()) != blocks ||
        !llvm::equal(getAccs().getTypes(), getResults().getTypes()))
      return emitOpError() << "expects an accumulator of its result type for "
                              "each of its "
                           << blocks << " results, got " << getAccs().size();
    return success();
  };
  return verifyTransposedMma(*this, 64, BFloat16Type::get(getContext()), "bf16",
                             accs);
}

LogicalResult LoadColScalesOp::verify() {
  if (getLdAttr().getInt() < 1)
    return emitOpError() << "expects a positive ld, got "
                         << getLdAttr().getInt();
  auto acc = dyn_cast<AccType>(getAccAttr().getValue());
  if (!acc)
    return emitOpError() << "expects acc an accumulator type, got "
                         << getAccAttr().getValue();
  int64_t n = getScales().getType().getNumElements();
  if (n * 4 != acc.getCols())
    return emitOpError() << "expects " << acc.getCols() / 4
                         << " scales a thread for " << acc.getCols()
                         << " columns, got " << n;
  return success();
}

LogicalResult AccAddColsOp::verify() {
  int64_t ld = getLdAttr().getInt();
  if (ld < 2 || ld % 2 != 0)
    return emitOpError() << "expects a positive even ld (the columns are "
                            "loaded in pairs), got "
                         << ld;
  Type elem = getElementType();
  if (!elem.isF32() && !elem.isBF16())
    return emitOpError() << "expects element_type f32 or bf16, got " << elem;
  if (getAcc().getType().getRows() != 64 || getAcc().getType().getCols() % 8)
    return emitOpError() << "expects a 64-row accumulator whose columns are "
                            "a multiple of 8 (a wgmma fragment), got "
                         << getAcc().getType();
  if (getUpper() && getAcc().getType().getCols() % 16)
    return emitOpError() << "expects an accumulator whose columns are a "
                            "multiple of 16 with `upper` (two halves), got "
                         << getAcc().getType();
  return success();
}

LogicalResult MmaPromoteColsOp::verify() {
  int64_t n = getColScales().getType().getNumElements();
  if (n * 4 != getAcc().getType().getCols())
    return emitOpError() << "expects " << getAcc().getType().getCols() / 4
                         << " column scales a thread for "
                         << getAcc().getType().getCols() << " columns, got "
                         << n;
  return success();
}

LogicalResult AccStoreTransposedOp::verify() {
  int64_t n = getAcc().getType().getCols();
  if (n % 16 != 0 || n > 64)
    return emitOpError() << "expects 16, 32, 48 or 64 columns (the rows of "
                            "the transposed accumulator), got "
                         << n;
  int64_t col = getColAttr().getInt(), cols = getColsAttr().getInt();
  if (cols < 8 || cols > 256 || cols % 8 != 0)
    return emitOpError() << "expects cols in 8..256 in steps of 8, got "
                         << cols;
  if (col < 0 || col % 8 != 0 || col + 64 > cols)
    return emitOpError() << "expects col a multiple of 8 with col + 64 <= "
                         << cols << ", got " << col;
  return success();
}

/// `values = [b, e]` of moek.acc_store_smem and acc_load_smem: a range of
/// the fragment's rows * cols / 128 values a thread.
template <typename Op>
static LogicalResult verifyFragmentValues(Op op, AccType acc) {
  std::optional<ArrayRef<int64_t>> values = op.getValues();
  if (!values)
    return success();
  int64_t n = acc.getRows() * acc.getCols() / 128;
  if (values->size() != 2 || (*values)[0] < 0 || (*values)[0] >= (*values)[1] ||
      (*values)[1] > n)
    return op.emitOpError() << "expects values [b, e] with 0 <= b < e <= " << n
                            << " (the fragment's values a thread)";
  return success();
}

LogicalResult AccStoreSmemOp::verify() {
  return verifyFragmentValues(*this, getAcc().getType());
}

LogicalResult AccLoadSmemOp::verify() {
  int64_t rows = getRowsAttr().getInt();
  if (rows < 16 || rows > 64 || rows % 16 != 0)
    return emitOpError() << "expects rows 16, 32, 48 or 64, got " << rows;
  if (getValues() && rows != 64)
    return emitOpError() << "expects values only with 64 rows, got " << rows;
  return verifyFragmentValues(*this, getAcc().getType());
}

LogicalResult MmaPromoteOp::verify() {
  if (getRowScales().getType().getRows() != getAcc().getType().getRows())
    return emitOpError() << "expects one row scale per accumulator row, got "
                         << getRowScales().getType().getRows() << " for "
                         << getAcc().getType().getRows() << " rows";
  return success();
}

/// The element type and row stride of moek.store_acc and store_acc_remote.
template <typename Op>
static LogicalResult verifyAccStore(Op op) {
  Type elem = op.getElementType();
  if (!elem.isBF16() && !elem.isF32())
    return op.emitOpError() << "stores bf16 or f32, got " << elem;
  // Columns at or past ld are masked, so ld may be below the tile's width.
  int64_t ld = op.getLdAttr().getInt();
  if (ld < 8 || ld % 8 != 0)
    return op.emitOpError() << "expects ld a positive multiple of 8 (column "
                               "pairs of 8-column groups), got "
                            << ld;
  return success();
}

LogicalResult StoreAccOp::verify() { return verifyAccStore(*this); }

LogicalResult StoreAccTmaOp::verify() {
  AccType acc = getAcc().getType();
  if (getTransposed()) {
    if (acc.getRows() != 64 || acc.getCols() % 64 != 0 ||
        !acc.getElementType().isF32())
      return emitOpError() << "stores a transposed 64 x C f32 accumulator "
                              "(C a multiple of 64: 64-token blocks, one a "
                              "staging half), got "
                           << acc;
  } else if (acc.getRows() != 64 || acc.getCols() % 128 != 0 ||
             !acc.getElementType().isF32()) {
    return emitOpError() << "stores a warpgroup's 64 x C f32 accumulator "
                            "(C a multiple of 128: pairs of 64-column "
                            "boxes, one a staging half), got "
                         << acc;
  }
  int64_t ld = getLdAttr().getInt();
  if (ld < 8 || ld % 8 != 0)
    return emitOpError() << "expects ld a positive multiple of 8 (column "
                            "pairs of 8-column groups), got "
                         << ld;
  int64_t halves = getHalvesAttr().getInt();
  if (halves != 1 && halves != 2)
    return emitOpError() << "expects 1 or 2 staging halves, got " << halves;
  APInt id;
  if (matchPattern(getBarrier(), m_ConstantInt(&id)))
    if (id.getSExtValue() < 1 || id.getSExtValue() > 15)
      return emitOpError() << "expects a named barrier in [1, 15], got "
                           << id.getSExtValue();
  return success();
}

/// The per-expert bias of moek.acc_store_rows and moek.acc_store_act_rows:
/// with `bias`, an f32 or bf16 `bias_type` and a positive `bias_ld`.
template <typename Op> static LogicalResult verifyRowsBias(Op op) {
  if (!op.getBias())
    return success();
  TypeAttr type = op.getBiasTypeAttr();
  if (!type || !(type.getValue().isF32() || type.getValue().isBF16()))
    return op.emitOpError() << "expects bias_type f32 or bf16 with a bias, got "
                            << (type ? type.getValue() : Type());
  if (!op.getBiasLdAttr() || op.getBiasLdAttr().getInt() < 1)
    return op.emitOpError() << "expects a positive bias_ld with a bias";
  return success();
}

LogicalResult AccStoreRowsOp::verify() {
  if (failed(verifyAccStore(*this)) || failed(verifyRowsBias(*this)))
    return failure();
  int64_t cols = getColsAttr().getInt();
  int64_t accCols = getAccs().getType().getCols();
  if (cols < 32 || cols % 32 != 0 || cols > accCols)
    return emitOpError() << "expects cols a positive multiple of 32 (one "
                            "tcgen05.ld), at most the accumulator's "
                         << accCols << ", got " << cols;
  return success();
}

LogicalResult AccPromoteRowsOp::verify() {
  int64_t cols = getAcc().getType().getDimSize(0);
  int64_t accCols = getAccs().getType().getCols();
  if (cols < 32 || cols % 32 != 0 || cols > accCols)
    return emitOpError() << "expects a vector of a multiple of 32 values (one "
                            "tcgen05.ld), at most the accumulator's "
                         << accCols << " columns, got " << cols;
  if (getLdAttr().getInt() < 1)
    return emitOpError() << "expects a positive ld, got "
                         << getLdAttr().getInt();
  return success();
}

LogicalResult StoreThreadRowOp::verify() {
  if (failed(verifyAccStore(*this)))
    return failure();
  int64_t cols = getValues().getType().getDimSize(0);
  if (cols < 32 || cols % 32 != 0)
    return emitOpError() << "expects a multiple of 32 values, got " << cols;
  return success();
}


LogicalResult GridBarrierOp::verify() {
  int64_t id = getIdAttr().getInt(), threads = getThreadsAttr().getInt();
  if (getPhaseAttr().getInt() < 1)
    return emitOpError() << "expects a phase >= 1 (the barrier's number in "
                            "the kernel), got "
                         << getPhaseAttr().getInt();
  if (id < 0 || id > 15)
    return emitOpError() << "expects a barrier id in [0, 15], got " << id;
  if (threads < 32 || threads > 1024 || threads % 32 != 0)
    return emitOpError() << "expects a thread count in [32, 1024], a "
                            "multiple of 32 (whole warps), got "
                         << threads;
  return success();
}

/// The row copy and the phases of moek.dispatch and moek.ep_dispatch.
template <typename Op>
static LogicalResult verifyDispatchRows(Op op, bool mxScales = false) {
  int64_t hidden = op.getHiddenAttr().getInt();
  if (hidden < 8 || hidden % 8 != 0)
    return op.emitOpError() << "expects hidden a positive multiple of 8 "
                               "(rows are copied in 16-byte pieces), got "
                            << hidden;
  if (op.getPhaseAttr().getInt() < 1)
    return op.emitOpError() << "expects a phase >= 1, got "
                            << op.getPhaseAttr().getInt();
  if (op.getRowScales() && !mxScales && hidden % 128 != 0)
    return op.emitOpError() << "expects hidden a multiple of 128 (1x128 "
                               "blocks) with row_scales, got "
                            << hidden;
  return success();
}

LogicalResult DispatchOp::verify() {
  if (getNumExpertsAttr().getInt() < 1 || getTopKAttr().getInt() < 1)
    return emitOpError() << "expects num_experts and top_k >= 1";
  if (getMxRound() && getPermuteK())
    return emitOpError() << "expects permute_k with the 1x128 FP8 rows only, "
                            "not with mx_round";
  if (getMxRound() && getHiddenAttr().getInt() % 32 != 0)
    return emitOpError() << "expects hidden a multiple of 32 (1x32 blocks) "
                            "with mx_round, got "
                         << getHiddenAttr().getInt();
  if (bool(getRowsReady()) != bool(getOffsetsReady()))
    return emitOpError() << "expects rows_ready and offsets_ready together";
  if (int64_t stride = getScalesStrideAttr().getInt()) {
    if (!getRowScales() || getMxRound())
      return emitOpError() << "expects scales_stride with the 1x128 FP8 "
                              "rows' f32 row_scales only";
    if (stride < 0)
      return emitOpError() << "expects a non-negative scales_stride, got "
                           << stride;
  }
  if (!getRows() && !getRowTokens())
    return emitOpError() << "expects rows (the rows copied) or row_tokens "
                            "(each row's token recorded), or both (FP8 rows "
                            "stored once per token)";
  if (getRowTokens() && bool(getRows()) != bool(getRowScales()))
    return emitOpError() << "expects row_tokens either alone (bf16 rows, not "
                            "copied) or with rows and row_scales (FP8 rows "
                            "quantized once per token)";
  if (getRowTokens() && (getRowsReady() || getMxRound() || getPermuteK()))
    return emitOpError() << "expects row_tokens without rows_ready, "
                            "mx_round or permute_k";
  if (getRowTokens() && getRows() && getTopKAttr().getInt() > 32)
    return emitOpError() << "expects top_k at most 32 with FP8 rows stored "
                            "once per token (a warp's lanes place a token's "
                            "slots), got "
                         << getTopKAttr().getInt();
  int64_t blockRows = getBlockRowsAttr().getInt();
  if (blockRows != 64 && blockRows != 128)
    return emitOpError() << "expects block_rows 64 or 128 (the fused "
                            "kernels' tile rows), got "
                         << blockRows;
  return verifyDispatchRows(*this, getMxRound());
}

LogicalResult EpDispatchOp::verify() {
  if (getRanksAttr().getInt() < 1 || getExpertsPerRankAttr().getInt() < 1 ||
      getTopKAttr().getInt() < 1)
    return emitOpError() << "expects ranks, experts_per_rank and top_k >= 1";
  if (bool(getSegReady()) != bool(getOffsetsReady()))
    return emitOpError() << "expects seg_ready and offsets_ready together";
  return verifyDispatchRows(*this);
}

LogicalResult StoreAccRemoteOp::verify() { return verifyAccStore(*this); }

LogicalResult RouteOp::verify() {
  int64_t e = getNumExpertsAttr().getInt(), k = getTopKAttr().getInt(),
          g = getNumGroupsAttr().getInt(), kg = getTopkGroupsAttr().getInt();
  if (e < 1 || e > 1024)
    return emitOpError() << "expects 1 <= num_experts <= 1024, got " << e;
  if (k < 1 || k > std::min<int64_t>(e, 32))
    return emitOpError() << "expects 1 <= top_k <= min(num_experts, 32), got "
                         << k;
  if (g < 1 || g > 32 || e % g != 0)
    return emitOpError() << "expects num_groups in [1, 32] dividing "
                            "num_experts ("
                         << e << "), got " << g;
  if (kg < 1 || kg > g || kg * (e / g) < k)
    return emitOpError() << "expects 1 <= topk_groups <= num_groups with at "
                            "least top_k experts in the kept groups, got "
                         << kg;
  if (getScoring() != "softmax" && getScoring() != "sigmoid")
    return emitOpError() << "expects scoring 'softmax' or 'sigmoid', got '"
                         << getScoring() << "'";
  Type t = getLogitsType();
  if (!t.isF32() && !t.isBF16() && !t.isF16())
    return emitOpError() << "expects f32, bf16 or f16 logits, got " << t;
  if (getSharedExpertsAttr().getInt() < 0)
    return emitOpError() << "expects shared_experts >= 0, got "
                         << getSharedExpertsAttr().getInt();
  return success();
}

LogicalResult CombineOp::verify() {
  if (getTopKAttr().getInt() < 1)
    return emitOpError() << "expects top_k >= 1";
  if (getHiddenAttr().getInt() < 8 || getHiddenAttr().getInt() % 8 != 0)
    return emitOpError() << "expects hidden a positive multiple of 8, got "
                         << getHiddenAttr().getInt();
  for (Type t : {getYType(), getElementType()})
    if (!t.isBF16() && !t.isF32())
      return emitOpError() << "expects bf16 or f32 rows, got " << t;
  int64_t first = getFirstThreadAttr().getInt(),
          threads = getThreadsAttr().getInt();
  if (first < 0 || first % 32 != 0 || threads < 32 || threads % 32 != 0 ||
      first + threads > 1024)
    return emitOpError() << "expects whole warps: first_thread and threads "
                            "multiples of 32, threads >= 32, within 1024; "
                            "got "
                         << first << " and " << threads;
  return success();
}

/// The activation, layout and rounding types of moek.store_act and
/// moek.acc_store_act_rows.
template <typename Op>
static bool isMxfp8Store(Op op) {
  if constexpr (std::is_same_v<Op, AccStoreActRowsOp>)
    return bool(op.getOutScales());
  return false;
}

template <typename Op>
static LogicalResult verifyActivationStore(Op op) {
  StringRef act = op.getActivation();
  if (act != "swiglu" && act != "clamped_swiglu" && act != "gelu_mul" &&
      act != "gelu_tanh_mul")
    return op.emitOpError() << "expects activation 'swiglu', "
                               "'clamped_swiglu', 'gelu_mul' or "
                               "'gelu_tanh_mul', got '"
                            << act << "'";
  if (op.getLayout() != "concat" && op.getLayout() != "interleaved")
    return op.emitOpError() << "expects layout 'concat' or 'interleaved', "
                               "got '"
                            << op.getLayout() << "'";
  if (!op.getGemm1Type().isBF16() && !op.getGemm1Type().isF32())
    return op.emitOpError() << "expects bf16 or f32 rounding, got "
                            << op.getGemm1Type();
  Type elem = op.getElementType();
  if (!elem.isBF16() && !elem.isF32() && !isMxfp8Store(op))
    return op.emitOpError() << "expects bf16 or f32 rounding, got " << elem;
  if (op.getLdAttr().getInt() < 8 || op.getLdAttr().getInt() % 8 != 0)
    return op.emitOpError() << "expects ld a positive multiple of 8, got "
                            << op.getLdAttr().getInt();
  return success();
}

LogicalResult AccStoreActRowsOp::verify() {
  AccRingType accs = getAccs().getType();
  int64_t outputs = accs.getCols() / 2;
  if (accs.getCols() != 256 && accs.getCols() != 128)
    return emitOpError() << "expects accumulators of 256 or 128 columns (a "
                            "gate and an up block of 128 or 64), got "
                         << accs;
  int64_t cols = getColsAttr().getInt();
  if (cols < 32 || cols > outputs || cols % 32 != 0)
    return emitOpError() << "expects cols a multiple of 32 up to the "
                         << outputs << " output columns, got " << cols;
  if (getOutScales() && (!isa<Float8E4M3FNType>(getElementType()) ||
                         getLdAttr().getInt() % 32 != 0))
    return emitOpError() << "expects f8E4M3FN elements and ld a multiple of "
                            "32 (1x32 blocks) with out_scales, got "
                         << getElementType() << " and " << getLdAttr().getInt();
  if (!getOutScales() && isa<Float8E4M3FNType>(getElementType()))
    return emitOpError() << "stores f8E4M3FN only with out_scales (MXFP8)";
  if (failed(verifyRowsBias(*this)))
    return failure();
  return verifyActivationStore(*this);
}

LogicalResult StoreActOp::verify() {
  AccType acc = getAcc().getType();
  if (acc.getCols() != 256)
    return emitOpError() << "expects a 64x256 accumulator (a gate and an up "
                            "block of 128 columns), got "
                         << acc;
  if (failed(verifyActivationStore(*this)))
    return failure();
  if (getMxRound() &&
      (!getElementType().isBF16() || getLdAttr().getInt() % 32 != 0))
    return emitOpError() << "expects bf16 elements and ld a multiple of 32 "
                            "(1x32 blocks) with mx_round, got "
                         << getElementType() << " and "
                         << getLdAttr().getInt();
  return success();
}

LogicalResult StoreActFp8Op::verify() {
  if (getScalesStrideAttr().getInt() < 0)
    return emitOpError() << "expects a non-negative scales_stride, got "
                         << getScalesStrideAttr().getInt();
  if (getGate().getType() != getUp().getType() ||
      getGate().getType().getCols() != 128)
    return emitOpError() << "expects 64x128 gate and up accumulators, got "
                         << getGate().getType() << " and "
                         << getUp().getType();
  StringRef act = getActivation();
  if (act != "swiglu" && act != "clamped_swiglu" && act != "gelu_mul" &&
      act != "gelu_tanh_mul")
    return emitOpError() << "expects activation 'swiglu', 'clamped_swiglu', "
                            "'gelu_mul' or 'gelu_tanh_mul', got '"
                         << act << "'";
  if (!getGemm1Type().isBF16() && !getGemm1Type().isF32())
    return emitOpError() << "expects bf16 or f32 rounding, got "
                         << getGemm1Type();
  if (getLdAttr().getInt() < 128 || getLdAttr().getInt() % 128 != 0)
    return emitOpError() << "expects ld a positive multiple of 128 (whole "
                            "1x128 blocks), got "
                         << getLdAttr().getInt();
  std::optional<int64_t> half = getHalf();
  if (half.has_value() != bool(getAmax()))
    return emitOpError() << "expects half and amax together";
  if (half && *half != 0 && *half != 1)
    return emitOpError() << "expects half 0 or 1, got " << *half;
  int64_t barrier = getBarrierAttr().getInt();
  if (half && (barrier < 1 || barrier > 15))
    return emitOpError() << "expects a named barrier in [1, 15], got "
                         << barrier;
  return success();
}

LogicalResult SmemAllocOp::verify() {
  if (getBytesAttr().getInt() < 1)
    return emitOpError() << "expects a positive size, got "
                         << getBytesAttr().getInt();
  return success();
}

#define GET_OP_CLASSES
#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.cpp.inc"
