//===- Common.h - Builders shared by the moek kernels -----------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What more than one file of convert-moe-to-moek uses: the layer predicates
// and constants, the builders of kernel pieces (Common.cpp) and the entry
// points of the kernels each file builds; MoEToKernel.cpp is the pass.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_CODEGEN_MOETOKERNEL_COMMON_H
#define MOE_LIB_CODEGEN_MOETOKERNEL_COMMON_H

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

namespace mlir::moe::kernelgen {

namespace mk = mlir::moe::kernel;

//===----------------------------------------------------------------------===//
// Common.cpp
//===----------------------------------------------------------------------===//

/// K elements per ring stage (one 128-byte swizzle span per tile row): 64
/// of bf16, 128 of e4m3.
constexpr int64_t kTileK = 64, kTileKFp8 = 128, kSliceBytes = 128;
/// Rows per TMA box: 64 of the token rows, 128 of the weights.
constexpr int64_t kXBoxRows = 64, kWBoxRows = 128;
constexpr int64_t kThreads = 384; // producer warpgroup + 2 MMA warpgroups
constexpr StringLiteral kKernelModule = "moe_kernels";

/// True if `q` quantizes with `scheme` in [rows, cols] blocks.
bool isBlockQuant(QuantAttr q, QuantScheme scheme, int64_t rows, int64_t cols);

/// True if `op` multiplies FP8 rows and weights with DeepSeek-V3's block
/// scales (1x128 rows, 128x128 weights).
bool isFp8Block(ExpertMatmulOp op);

/// True if `op` multiplies bf16 rows by NVFP4 weights (e2m1 values with an
/// e4m3 scale per 1x16 block, under an optional f32 scale per expert).
bool isNvfp4Weights(ExpertMatmulOp op);

/// True if `op` multiplies bf16 rows by MXFP4 weights (e2m1 values with a
/// UE8M0 scale per 1x32 block) or NVFP4 ones (isNvfp4Weights), which the
/// kernel expands to bf16 in shared memory (moek.dequant_fp4; NVFP4's
/// global scale multiplies the accumulator before the store).
bool isMxfp4Weights(ExpertMatmulOp op);

/// True if `op` multiplies MXFP8 rows by MXFP8 weights (e4m3 values with a
/// UE8M0 scale per 1x32 block on both sides), which the kernel expands to
/// bf16 in shared memory (moek.dequant_mxfp8, both operands) for bf16 MMAs.
bool isMxfp8(ExpertMatmulOp op);

/// True if `op` multiplies MXFP8 rows by MXFP4 weights (e4m3 and e2m1
/// values, a UE8M0 scale per 1x32 block on both sides: DeepGEMM's formats
/// on Blackwell), which only sm_100a's block-scaled MMA takes
/// (buildBlockScaledKernel).
bool isMxfp8Mxfp4(ExpertMatmulOp op);

/// The element type of a per-expert bias tensor.
Type biasElementType(Value biasTensor);

/// Per-expert biases (gpt-oss): adds row `expert` of `bias` ([E, ld], f32
/// or bf16) to each accumulator of `accs` from column `col` of the row
/// (with `upper`, the second half of the columns from there); nothing
/// without a bias. `inRow`: the caller knows that every column of every
/// tile lies in the row (moek.acc_add_cols {in_row}). `scale`: each value
/// first times it (NVFP4's global scale, in the same op).
void addBias(OpBuilder &b, Location loc, SmallVectorImpl<Value> &accs,
             Value bias, Value biasTensor, Value expert, Value col,
             Value upper = Value(), bool inRow = false, Value scale = Value());

/// After a tile's MMAs: NVFP4's per-expert global scale (`globalScales`,
/// [E] f32, or none) and the per-expert bias (`bias`, or none; as
/// addBias). With a bias, the scale goes into its op (each value times it,
/// then the bias: a separate moek.acc_scale before moek.acc_add_cols made
/// ptxas spill 150-290 bytes in the NVFP4 fused kernel with a partial last
/// tile); without, moek.acc_scale.
void scaleAndAddBias(OpBuilder &b, Location loc, SmallVectorImpl<Value> &accs,
                     Value globalScales, Value bias, Value biasTensor,
                     Value expert, Value col, Value upper = Value(),
                     bool inRow = false);

/// Both MMA warpgroups (threads 128-383) expand stage `iter`'s packed FP4
/// weights (tile 2) into its bf16 weight tile (tile 1), K slice `slice` of
/// 64 values; the scales ([scaleRows, k / 32] UE8M0, NVFP4 [scaleRows,
/// k / 16] e4m3) of the tile's rows from `row` (its upper half from `upper`
/// if given); named barrier 7 over their 256 threads after.
void expandFp4Weights(OpBuilder &b, Location loc, Value ring, Value iter,
                      Value slice, Value scales, Value row, Value upper,
                      int64_t scaleRows, int64_t k, bool nvfp4);

/// The fused kernel's weight expansion of stage `iter`: expandFp4Weights,
/// or with `mxfp8` the e4m3 tile (2) into the bf16 one (1) with UE8M0
/// scales per 1x32 block (moek.dequant_mxfp8, `upper` as dequant_fp4's).
void expandWeights(OpBuilder &b, Location loc, Value ring, Value iter,
                   Value slice, Value scales, Value row, Value upper,
                   int64_t scaleRows, int64_t k, bool nvfp4, bool mxfp8);

/// Why `op` cannot use the generated kernel, or "" if it can.
std::string unsupportedReason(ExpertMatmulOp op);

gpu::GPUModuleOp getOrCreateKernelModule(ModuleOp module);

/// A persistent kernel of kThreads threads named `name` taking `params`,
/// whose first `numTma` parameters are TMA descriptors (128-byte
/// __grid_constant__ values), with its parameter ABI `abi` and its
/// workspace (moek.workspace) `workspace` recorded for the artifact writer.
LLVM::LLVMFuncOp createKernelFunc(OpBuilder &b, Location loc, StringRef name,
                                  ArrayRef<Type> params, unsigned numTma,
                                  ArrayAttr abi,
                                  ArrayRef<NamedAttribute> workspace);

/// The parameter ABI of the generated kernel, for the artifact writer: the
/// two TMA descriptors (`sliceK` elements wide boxes), with `outTma` a third
/// over the output (64 x 64 boxes, for moek.store_acc_tma), the offsets,
/// with `scaled` the row and weight block scales, the output and the
/// workspace.
ArrayAttr buildAbi(OpBuilder &b, int64_t e, int64_t n, int64_t k,
                   int64_t sliceK, bool scaled, bool fp4 = false,
                   bool globalScale = false, bool mxfp8 = false,
                   bool blockScaledFp4 = false, bool outTma = false,
                   int64_t biasOperand = -1);

/// Creates a moek.warp_role over warpgroups [first, first + count) with the
/// register budget `maxRegs` and moves `b` into its body.
void beginRole(OpBuilder &b, Location loc, StringRef name, int64_t first,
               int64_t count, int64_t maxRegs);

/// Inside a producer role: moves `b` into the threads that issue its
/// copies. One elected thread (returns null), or with `warp` the 32 lanes
/// of the warpgroup's warp 0 (returns the lane, a predicate, that tags the
/// stages and issues the TMA copies while every lane copies with cp.async:
/// buildTileLoads' `leader`).
Value beginProducerThreads(OpBuilder &b, Location loc, bool warp);

/// At the end of the producer role's block `producerRole`: warps 1 and 2 of
/// the warpgroup relay MMA warpgroups 1 and 2's readiness signals to the
/// counters `ready` (moek.signal_relay), until each warpgroup's
/// moek.signal_end.
void buildSignalRelays(Location loc, Block *producerRole, Value ready);

/// A producer warp's lanes' shares of tile `d`'s row tokens (`tileRows`
/// rows), loaded once a GEMM1 tile for gatherStageRows; null without
/// `rowTokens`.
Value loadTileTokens(OpBuilder &b, Location loc, Value rowTokens,
                     mk::GroupedTileOp d, int64_t tileRows);

/// A producer warp's work on a GEMM1 stage of gathered rows (iteration
/// `stage`, K slice `ks` of `sliceK` values): its share of its tile's
/// token rows of `x` (`tokens` from loadTileTokens; `hidden` values a row;
/// moek.gather_rows into tile 0, with L2 hint `hint` unless empty), then
/// its copy arrival.
void gatherStageRows(OpBuilder &b, Location loc, Value ring, Value stage,
                     Value ks, Value x, Value tokens, int64_t sliceK,
                     int64_t hidden, StringRef hint);

/// Marks `loop` not to be unrolled by LLVM. MMA K loops: with two
/// accumulators and a short K loop (e.g. 12 slices), an unrolled copy made
/// ptxas serialize the wgmmas (C7520). Producer and pass loops: a fully
/// unrolled 8-slice loop made ptxas spill in the producer's 40 registers.
void disableUnroll(scf::ForOp loop);

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
                     TailBox tail = {});

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
                         bool narrow = false);

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
                          bool producerWarp = false, bool narrow = false);

/// The producer's stop mark after its last tile: one more stage, tagged
/// `total`, with no loads (an arrival expecting 0 bytes completes it). The
/// MMA warpgroups release it after their loop. A producer warp (`leader`:
/// its lane that tags and expects) also makes every lane's copy arrival
/// (moek.ring_arrive_copies: none pending for this stage).
void buildStopMark(OpBuilder &b, Location l, Value ring, Value last,
                   Value total, Value leader = Value());

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
                 bool pipelined, StageHook onFull = nullptr);

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
             int64_t bTile = 1);

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

Turns turnsOf(int64_t warpgroup);

/// Before the MMA warpgroups' tile loop (`second`: the warpgroup index is
/// 1): the second warpgroup gives the first its first turn.
void beginTurns(OpBuilder &b, Location loc, Value second);

/// After the loop: the first warpgroup takes the turn left over.
void endTurns(OpBuilder &b, Location loc, Value second);

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
std::pair<Value, Value> buildScaledMmaLoop(
    OpBuilder &b, Location loc, Value ring, mk::AccType accType, Value aRow,
    Value row, Value rowEnd, const TileScales &scales, Value cKSlices, Value i0,
    int64_t bTile = 1, Turns turns = Turns(), const Fp4Tile *fp4 = nullptr);

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
    int64_t kBlocks, Value cKSlices, Value i0, int64_t scaleTile = -1);

/// The stages of one tile, for a warpgroup without rows in it: waited for
/// (so that each release ends the right phase) and released; with `turns`,
/// its turns taken and passed on.
Value buildPassLoop(OpBuilder &b, Location loc, Value ring, Value cKSlices,
                    Value i0, Turns turns = Turns(),
                    StageHook onFull = nullptr);

/// The first row of 64-row accumulator `a` of a warpgroup whose first
/// accumulator starts at `row` (its accumulators 64 rows apart).
Value accRowOf(OpBuilder &b, Location loc, Value row, unsigned a);

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
                          int64_t colTiles, int64_t validCols);

std::pair<SmallVector<Value>, Value>
buildTileMmas(OpBuilder &b, Location loc, Value ring, mk::AccType accType,
              Value aRow, Value row, Value rowEnd, unsigned numAccs,
              Value cKSlices, Value i0, bool pipelined,
              StageHook onFull = nullptr, NarrowTile narrow = {});

/// The 8 KB staging halves a warpgroup (two MMA warpgroups) of
/// moek.store_acc_tma that the shared memory a CTA may have holds beside
/// `usedBytes` (the ring's stages and their 1 KB of alignment, the other
/// buffers, the static part): 2, 1 or 0 (no TMA stores).
int64_t stagingHalvesBeside(int64_t usedBytes);

/// moek.store_acc_tma's staging for both MMA warpgroups, `halves` 8 KB
/// halves each (warpgroupStaging gives each its part).
Value allocStaging(OpBuilder &b, Location loc, int64_t halves);

/// moek.store_acc_tma's operands for MMA warpgroup `wg` (index, 0 or 1):
/// its part of `staging` (`halves` 8 KB halves a warpgroup) and its named
/// barrier (13 or 14: no other op of the kernels uses them).
std::pair<Value, Value> warpgroupStaging(OpBuilder &b, Location loc,
                                         Value staging, Value wg,
                                         int64_t halves);

/// Stores 64-row accumulators `accs` at rows `row`, `row` + 64, ... and
/// column `col` of the n-column output, rows at or past `rowEnd` masked.
void storeAccs(OpBuilder &b, Location loc, ArrayRef<Value> accs, Value out,
               Value row, Value col, Value rowEnd, Type outElem, int64_t n);

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
        Value hasNext =
            arith::CmpIOp::create(ob, l, arith::CmpIPredicate::ult,
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

//===----------------------------------------------------------------------===//
// GroupedMatmul.cpp
//===----------------------------------------------------------------------===//

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

/// Tensor-memory accumulators of the single-issuer kernel: two, so that the
/// MMAs of one tile run while the epilogue stores the previous one.
constexpr int64_t kTmemAccs = 2;

/// The MMA issuer of a single-issuer kernel (sm_100a), lane 0 of warp 1 of
/// the producer's warpgroup: per tile of the producer's stages (tagged with
/// the tile index, until the stop mark's `total`), buildTileMmasTmem over
/// its `slicesOf(tile)` stages into the next accumulator (`perStage`: one
/// accumulator per stage). After the stop
/// mark (released) it commits one more accumulator tagged `total`.
void buildTmemIssuer(OpBuilder &b, Location loc, Value ring, Value accs,
                     Value total,
                     function_ref<Value(OpBuilder &, Value)> slicesOf,
                     bool perStage = false, bool blockScales = false);

/// The epilogue loop of a single-issuer kernel, in the current role: waits
/// for each accumulator j (moek.acc_wait), runs `body(tile, j)` and frees
/// it (moek.acc_release), until the tag `total`.
void buildTmemEpilogue(OpBuilder &b, Location loc, Value accs, Value total,
                       function_ref<void(OpBuilder &, Value, Value)> body);

/// Auto row_group: the row blocks that share a weight column panel while it
/// is in L2. Up to 8 (Triton's GROUP_M), fewer when the group's activation
/// rows would take more than 16 MiB of the 50 MiB L2.
int64_t autoRowGroup(ExpertMatmulOp op, int64_t tileRows);

/// The ring of the block-scaled (MXFP8 x MXFP4) kernels, `stages` stages of
/// [128 x 128 e4m3 rows, 128 x 128 i8 weights (e2m1, TMA's padded form),
/// the rows' scales and the weights' (128 x 4 bytes each)]; its full
/// barriers count moek.ring_expect's arrival and the producer warp's 32
/// lanes' (buildBlockScaledTileLoads), its empty ones the MMAs' commit.
Value allocBlockScaledRing(OpBuilder &b, Location loc, int64_t stages);

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
                                Value slices, bool streamWeights);

LLVM::LLVMFuncOp buildKernel(OpBuilder &b, Location loc, StringRef name,
                             ExpertMatmulOp op, const KernelConfig &config);

//===----------------------------------------------------------------------===//
// FusedMoE.cpp
//===----------------------------------------------------------------------===//

/// True if `op` quantizes as DeepSeek-V3 does: fp8_block rows and
/// activations in 1x128 blocks, weights in 128x128 blocks.
bool isFp8BlockLayer(FusedMoEOp op);

/// True if `op` has FP8 rows and activations as in DeepSeek-V3 (fp8_block,
/// 1x128) and MXFP4 weights (e2m1, UE8M0 scales per 1x32 block), which the
/// FP8 kernel expands to e4m3 in shared memory (moek.dequant_fp4_fp8).
bool isFp8Mxfp4Layer(FusedMoEOp op);

/// Whether an FP8 fused layer can take 128-row tiles (fp8-tile-rows): FP8
/// (not MXFP4) weights, sm_90a, no dispatch readiness, one GPU.
bool fp8WideTilesApply(FusedMoEOp op, bool sm90a, bool dispatchReadiness);

/// The format of `op`'s weights if the bf16 kernel expands them to bf16 in
/// shared memory, as the grouped matmul does, for bf16 (or MXFP8:
/// isBf16OrMxfp8) rows and activations: MXFP4 (e2m1, UE8M0 scales per
/// 1x32 block) or NVFP4 (e2m1, e4m3 scales per 1x16 block, under optional
/// f32 scales per expert that multiply each GEMM's accumulator before its
/// epilogue), both by moek.dequant_fp4, or MXFP8 (e4m3, UE8M0 scales per
/// 1x32 block) by moek.dequant_mxfp8; none otherwise.
std::optional<QuantScheme> expandedWeights(FusedMoEOp op);

/// Why `op` cannot use the generated fused kernel, or "" if it can.
/// `idsInKernel`: the kernel routes (fuse-routing), so the ids' element type
/// is its own business (i32 in its workspace).
std::string unsupportedReason(FusedMoEOp op, bool idsInKernel);

/// Part `offset` of the workspace `base`, as an i64 value: a GEP's constant
/// indices hold only 29 bits (offsets of a few hundred MB would wrap).
Value workspacePart(OpBuilder &b, Location loc, Value base, int64_t offset);

LLVM::LLVMFuncOp
buildFusedKernel(OpBuilder &b, Location loc, StringRef name, FusedMoEOp op,
                 int64_t stages, int64_t maxTokens, bool streamWeights,
                 bool phaseTimers, bool commOnly = false,
                 bool transposedSmallTiles = false, bool singleIssuer = false,
                 bool narrowTiles = true, bool dispatchReadiness = false,
                 bool approxActivation = true, bool gatherRows = false,
                 StringRef gatherHint = "", StringRef absorbTails = "false",
                 bool asyncSignals = false);

//===----------------------------------------------------------------------===//
// FusedQuantized.cpp
//===----------------------------------------------------------------------===//

/// True if `op` has MXFP8 rows and activations and MXFP4 weights (a UE8M0
/// scale per 1x32 block everywhere: DeepGEMM's Blackwell formats).
bool isMxfp8Mxfp4Layer(FusedMoEOp op);

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
                                    int64_t maxTokens, bool streamWeights);

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
    StringRef gatherHint = "", bool stagedScales = false,
    int64_t consumerRegs = 0, bool relaySignals = false);

} // namespace mlir::moe::kernelgen

#endif // MOE_LIB_CODEGEN_MOETOKERNEL_COMMON_H
