//===- Common.h - Builders shared by the moek lowering ----------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What more than one file of convert-moek-to-nvvm uses. Each file of this
// directory lowers one family of moek ops and adds its patterns through its
// populate function (below); KernelToNVVM.cpp is the pass, which plans shared
// and tensor memory and adds them all.
//
//===----------------------------------------------------------------------===//
#ifndef MOE_LIB_CODEGEN_KERNELTONVVM_COMMON_H
#define MOE_LIB_CODEGEN_KERNELTONVVM_COMMON_H

#include "moe/Codegen/Descriptors.h"
#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

#include <map>

namespace mlir::moe::kernel::nvvm {

//===----------------------------------------------------------------------===//
// Common.cpp
//===----------------------------------------------------------------------===//

constexpr int64_t kWarpgroupThreads = 128;
constexpr StringLiteral kDynamicSmem = "moek_dynamic_smem";
constexpr StringLiteral kSmemOffsetAttr = "moek.smem_offset";
constexpr StringLiteral kBarriersAttr = "moek.barriers";
constexpr StringLiteral kTileTableAttr = "moek.tile_table";
/// The shared-memory table of a moek.dispatch (its CTA's expert offsets).
constexpr StringLiteral kDispatchTableAttr = "moek.dispatch_table";
/// The cluster size of the ring a release or a load uses (planned before
/// the conversion, which replaces the ring's allocation).
constexpr StringLiteral kRingClusterAttr = "moek.ring_cluster";

/// The cluster size recorded on a ring op by planSharedMemory (1 if none).
int64_t ringCluster(Operation *op);

Value cst(OpBuilder &b, Location loc, Type t, int64_t v);

Value i32c(OpBuilder &b, Location loc, int64_t v);

Value i64c(OpBuilder &b, Location loc, int64_t v);

Value toI64(OpBuilder &b, Location loc, Value index);

Value toI32(OpBuilder &b, Location loc, Value index);

Value toIndex(OpBuilder &b, Location loc, Value v);

Value threadIdX(OpBuilder &b, Location loc);

/// A %tid.x read that LLVM does not merge with the kernel's earlier ones,
/// for code at the end of a long kernel: an earlier read reused there
/// keeps it, or a predicate derived from it, live across the whole kernel,
/// which ptxas then spills.
Value freshThreadIdX(OpBuilder &b, Location loc);

LLVM::LLVMPointerType ptrTy(MLIRContext *ctx, unsigned space = 0);

Value gepBytes(OpBuilder &b, Location loc, Value base, Value bytes);

/// `base` plus the i32 byte offset `off`.
Value gepBytesU32(OpBuilder &b, Location loc, Value base, Value off);

/// `base + index * elemBytes` for a pointer and an index value.
Value elementAddress(OpBuilder &b, Location loc, Value base, Type elem,
                     Value index);

/// Inline PTX with side effects (never hoisted or merged), no result.
void ptxVoid(OpBuilder &b, Location loc, StringRef text, StringRef constraints,
             ValueRange operands);

/// Named barrier `id` of `threads` threads: barrier.sync (`wait`) or
/// barrier.arrive, without .aligned. A named barrier's warps run different
/// code (one warpgroup's epilogue, the other's MMAs) and reach it at
/// different instructions while the CTA's other warps are at other
/// barriers; .aligned (bar.sync, nvvm.barrier) promises that every thread
/// of the CTA executes the same barrier instruction, and
/// compute-sanitizer's synccheck reports the aligned form there.
void namedBarrier(OpBuilder &b, Location loc, Value id, Value threads,
                  bool wait);

/// A loop annotation that keeps LLVM from unrolling the loop.
LLVM::LoopAnnotationAttr noUnrollAnnotation(MLIRContext *ctx);

/// The lowered ring: {tiles base, barriers base}, both shared pointers.
LLVM::LLVMStructType ringStructType(MLIRContext *ctx);

/// f32 values of a warpgroup thread's accumulator fragment: rows*cols/128.
int64_t fragmentSize(AccType acc);

/// Per-thread accumulator: the wgmma fragment (fragmentSize f32 values);
/// on sm_100a (`tensorMemory`) followed by the accumulator's tensor-memory
/// address (i32) and whether an MMA has written it (i1): see
/// Tcgen05.cpp.
LLVM::LLVMStructType accStructType(AccType acc, bool tensorMemory = false);

/// A new accumulator struct of type `structTy` whose fragment is `value(v)`
/// for each value v; a tensor-memory accumulator's address is 0 and it is
/// not written (a register value: Tcgen05.cpp).
Value buildAcc(OpBuilder &b, Location loc, LLVM::LLVMStructType structTy,
               int64_t n, function_ref<Value(int64_t)> value);

/// `acc` with each of its `n` fragment values v (index i) replaced by
/// `value(i, v)`; the rest of the struct (a tensor-memory accumulator's
/// address and flag) kept.
Value mapFragment(OpBuilder &b, Location loc, Value acc, int64_t n,
                  function_ref<Value(int64_t, Value)> value);

/// Per-thread fragment of per-row values of a 64-row accumulator: the
/// thread's two rows (fragmentRow and + 8).
LLVM::LLVMStructType rowsStructType(RowsType rows);

/// The first of the 16 rows of a 64-row wgmma fragment that this thread's
/// warp holds (i32): 16 * its warp within the warpgroup.
Value fragmentWarpRow(OpBuilder &b, Location loc);

/// The first row of a 64-row wgmma fragment that this thread holds (i32):
/// 16 * warp + lane / 4 within its warpgroup; it also holds that row + 8.
Value fragmentRow(OpBuilder &b, Location loc);

/// Where moek.fp4_row_scale stores the scale of column `c` (i32) of an
/// `n`-column tile: in the order of the wgmma fragment, so that lane l's
/// columns 8j + 2 (l % 4) + e are contiguous, j-major: slot
/// g * (n / 4 + 4) + 2 j + e with g = (c % 8) / 2; the 4-float pad puts the
/// four lane groups in different banks.
int64_t colScaleStride(int64_t n);
Value colScaleSlot(OpBuilder &b, Location loc, Value c, int64_t n);

struct RingParts {
  Value tiles, barriers;
  Value stage;  // i64: iter mod S
  Value parity; // i32: (iter / S) mod 2
};

/// Of a running count `iter` (index) over `stages` slots (a ring's stages,
/// an accumulator ring's accumulators): the slot iter mod S and the phase
/// parity (iter / S) mod 2, both i32. In 32 bits (a CTA's counts, its
/// tiles times their K blocks, stay far below 2^32): a 64-bit division by a
/// count that is not a power of two took ~25 instructions, in every K block
/// of every warp.
std::pair<Value, Value> slotAndParity(OpBuilder &b, Location loc, Value iter,
                                      int64_t stages);

RingParts unpackRing(OpBuilder &b, Location loc, Value ring, RingType type,
                     Value iter);

/// The full (or empty) barrier of `stage`.
Value barrierOf(OpBuilder &b, Location loc, RingParts &p, RingType type,
                bool empty);

/// Byte address of tile `tile` of the current stage (an unstaged tile's,
/// after the stages, whatever the stage).
Value tileAddress(OpBuilder &b, Location loc, RingParts &p, RingType type,
                  unsigned tile);

void waitParity(OpBuilder &b, Location loc, Value bar, Value parity);

void tcgen05Fence(OpBuilder &b, Location loc, NVVM::Tcgen05FenceKind kind);

NVVM::CTAGroupKindAttr ctaGroupOf(MLIRContext *ctx, bool pair);

/// tcgen05.commit of the executing thread's MMAs to `bar`; in a CTA pair,
/// to the barrier at the same place in both CTAs (multicast mask 0b11).
void commitMmas(OpBuilder &b, Location loc, Value bar, bool pair);

/// `ptr` (shared memory) in the CTA of cluster rank `rank` (i32).
Value inClusterCta(OpBuilder &b, Location loc, Value ptr, Value rank);

/// The cluster rank (i32) of the other CTA of this CTA's pair, and of the
/// pair's even CTA.
Value peerRank(OpBuilder &b, Location loc);

Value leaderRank(OpBuilder &b, Location loc);

/// An MMA op the target chip has no instruction for: an error that names
/// the op and says why (`why`), never a kernel.
template <typename OpTy> struct UnsupportedMma : OpConversionPattern<OpTy> {
  UnsupportedMma(const TypeConverter &converter, MLIRContext *ctx,
                 StringRef why)
      : OpConversionPattern<OpTy>(converter, ctx), why(why.str()) {}
  LogicalResult matchAndRewrite(OpTy op, typename OpTy::Adaptor,
                                ConversionPatternRewriter &) const override {
    return op.emitOpError() << why;
  }
  std::string why;
};

//===----------------------------------------------------------------------===//
// Scheduling.cpp
//===----------------------------------------------------------------------===//

/// A barrier across the cluster for every thread, each warp reconverged
/// first: a warp's lanes may arrive from different paths (e.g. the
/// producer's elected lane still in its loop), and the barrier is not
/// .aligned either, which would need the whole warp at once.
void clusterBarrier(OpBuilder &b, Location loc);

void storeTable(OpBuilder &b, Location loc, Value table, Value i, Value v);

Value loadTable(OpBuilder &b, Location loc, Value table, Value i);

//===----------------------------------------------------------------------===//
// Rings.cpp
//===----------------------------------------------------------------------===//

/// moek.signal {relayed}: warpgroup w (1 or 2) hands counter indices to the
/// warp running moek.signal_relay for it through a word of shared memory
/// and two mbarriers, all in the kernel's relay global (planSharedMemory,
/// initialized with the ring's barriers): i64 word 0 holds the two
/// warpgroups' words (i32), words 1 and 2 their `posted` barriers (128
/// arrivals: the warpgroup's threads, once the leader has written the word;
/// the relay waits on it), words 3 and 4 their `taken` barriers (129: the
/// warpgroup's threads and the relay, which arrives once at its start and
/// once after reading each word; the warpgroup waits on the phase it
/// arrived in before the leader writes the next word).
constexpr StringLiteral kRelayAttr = "moek.relay";
constexpr int64_t kRelayWords = 5, kRelayPosted = 1, kRelayTaken = 3;
/// The index a warpgroup posts last (moek.signal_end): no more signals.
constexpr uint32_t kRelayEnd = 0xffffffffu;

/// Word `word` (i64) of the relay global named on `op`, plus `plus` (i64).
Value relayWord(OpBuilder &b, Location loc, Operation *op, int64_t word,
                Value plus = Value());

//===----------------------------------------------------------------------===//
// Wgmma.cpp
//===----------------------------------------------------------------------===//

/// The K-major, 128B-swizzled tile every MMA operand is: leading byte
/// offset 16, stride byte offset 1024 between 8-row groups.
moe::desc::SmemMatrix swizzledTile();

/// A shared-memory descriptor of the tile at `addr`: the run-time start
/// address >> 4 in bits 0-13, ORed into `constant` (the other fields;
/// moe/Codegen/Descriptors.h).
Value descriptorAt(OpBuilder &b, Location loc, Value addr, uint64_t constant);

/// wgmma's descriptor of the tile at `addr` (swizzledTile).
Value smemDescriptor(OpBuilder &b, Location loc, Value addr);

/// The shared addresses of a moek.mma's operands in the stage: A's first
/// row (`a_row` rows into tile `a`; 128 bytes, one swizzle span, per row)
/// and tile `b`.
std::pair<Value, Value> mmaOperands(OpBuilder &b, Location loc, MmaOp op,
                                    MmaOp::Adaptor adaptor);

/// Whether a moek.mma multiplies e4m3 tiles (else bf16).
bool isFp8Mma(MmaOp op);

/// `ptr[min(row, last) * ld + col]` (f32), or 0 when `row` (index) is not
/// below `limit` (last = limit - 1): branch-free (a branch between a wgmma
/// and its wait makes ptxas serialize the wgmmas); the row clamped so the
/// load stays in bounds.
Value loadRowValue(OpBuilder &b, Location loc, Value ptr, Value row,
                   Value limit, Value last, int64_t ld, Value col);

//===----------------------------------------------------------------------===//
// Tcgen05.cpp
//===----------------------------------------------------------------------===//

/// The executing thread's row of a tensor-memory accumulator ring (M = 128:
/// thread t of its warpgroup is row and lane r = t mod 128; warp w mod 4
/// reaches lanes 32 (w mod 4) ..): the row index r (i32) and the address
/// (i32) of lane r, column `firstCol` (index) of accumulator `index mod S`.
std::pair<Value, Value> threadRowLane(OpBuilder &b, Location loc, Operation *op,
                                      AccRingType type, Value index,
                                      Value firstCol);

/// `count` columns (i32 vector) of the executing thread's lane from tensor
/// memory address `taddr` (tcgen05.ld .32x32b: every lane of the warp must
/// run it).
Value loadLaneColumns(OpBuilder &b, Location loc, Value taddr, int64_t count);

void waitLaneLoads(OpBuilder &b, Location loc);

/// Stores `count` f32 values of one row (`value(c)`, c < count, a multiple
/// of 16 bytes' worth) converted to `elem` at `rowBase[col + c]`, in 16-byte
/// pieces; with `maskCols`, pieces at or past column `ld` are not stored.
void storeRowValues(OpBuilder &b, Location loc, Type elem, Value rowBase,
                    Value col, int64_t count, int64_t ld, bool maskCols,
                    function_ref<Value(int64_t)> value);

/// The executing thread's row `row + r` of the row-major matrix `out`
/// (`ld` elements a row) and whether it lies below `rowLimit`.
std::pair<Value, Value> threadRowBase(OpBuilder &b, Location loc, Value out,
                                      Type elem, Value row, Value r,
                                      Value rowLimit, int64_t ld);

/// Each thread's row of an accumulator, 32 columns per tcgen05.ld (thread
/// t's 32 registers are lane t's columns), stored in 16-byte pieces.
/// The per-expert bias of the tensor-memory epilogues (moek.acc_store_rows,
/// moek.acc_store_act_rows `bias`): columns `first + c * stride` (c <
/// count; `first` an i64 column of the row) of row `row` of `vec` ([*, ld]
/// of `type`: f32 or bf16) as f32, every lane loading the same addresses;
/// each column clamped to the row's last (those past it are never stored).
SmallVector<Value> loadBiasColumns(OpBuilder &b, Location loc, Value vec,
                                   Value row, Type type, int64_t ld,
                                   Value first, int64_t count,
                                   int64_t stride = 1);

LogicalResult planTensorMemory(ModuleOp module);

//===----------------------------------------------------------------------===//
// Epilogue.cpp
//===----------------------------------------------------------------------===//

/// Whether this thread (`tid`, by default a %tid.x read) is its
/// warpgroup's first (the one that issues and waits for
/// moek.store_acc_tma's bulk stores).
Value isWarpgroupLeader(OpBuilder &b, Location loc, Value tid = Value());

/// The byte offset (i32) of 16-byte chunk `kc` of row `r` of a bf16 tile
/// of 64-value rows in the 128B swizzle that moek.mma reads: 128 bytes a
/// row, the chunk at kc ^ (r % 8).
Value bf16SwizzledChunk(OpBuilder &b, Location loc, Value r, Value kc);

/// bases[rank] - bases[self]: how far rank `rank`'s symmetric buffer is from
/// this rank's, in bytes (i64).
Value peerShift(OpBuilder &b, Location loc, Value rank, Value bases,
                Value self);

/// bases[rank] - bases[self] + ptr: moek.map_peer.
Value mapPeer(OpBuilder &b, Location loc, Value ptr, Value rank, Value bases,
              Value self);

//===----------------------------------------------------------------------===//
// Sync.cpp
//===----------------------------------------------------------------------===//

/// Adds 1 to the u32 at `ptr` with release semantics at GPU scope, after a
/// fence that orders this thread's (and, through a preceding bar.sync, its
/// CTA's) earlier writes before it.
void releaseAdd(OpBuilder &b, Location loc, Value ptr);

/// Spins until the u32 at `ptr` (acquire, GPU scope) is >= `target` (i32).
void spinUntilAtLeast(OpBuilder &b, Location loc, Value ptr, Value target);

/// bar.sync 0 (every thread of the CTA) or named barrier `id` of `threads`
/// (namedBarrier).
void ctaBarrier(OpBuilder &b, Location loc, int64_t id, int64_t threads);

/// The grid barrier: see moek.grid_barrier. The participating threads are
/// `threads` consecutive ones, so exactly one of them has tid % threads == 0
/// and is the CTA's leader (with id 0, `threads` is the block size).
void gridBarrier(OpBuilder &b, Location loc, Value counter, int64_t phase,
                 int64_t id, Value threads, int64_t threadsConst);

/// moek.remote_add: `value` added to the u64 at `ptr`, release, system scope.
/// The fence, as in releaseAdd: the writes this thread observed through a
/// barrier with its CTA are ordered before the add too.
void remoteAdd(OpBuilder &b, Location loc, Value ptr, Value value);

/// moek.remote_wait: the bounded wait.
void remoteWait(OpBuilder &b, Location loc, Value counter, Value target,
                Value timeout, Value record, Value rank, int64_t phase);

//===----------------------------------------------------------------------===//
// Dispatch.cpp
//===----------------------------------------------------------------------===//

/// A volatile i32 load (reads device memory written by other CTAs in this
/// launch, past the L1).
Value loadI32Volatile(OpBuilder &b, Location loc, Value ptr);

/// 16-byte pieces each lane of a warp loads before it stores them, when a
/// dispatch copies a token row.
constexpr int64_t kCopyUnroll = 8;

/// The maximum of f32 `v` over the lanes of each group of `width` lanes
/// (a power of two up to 32) of the warp.
Value maxOverLanes(OpBuilder &b, Location loc, Value v, int64_t width);

/// |v| if finite, else 0: the values an fp8_block amax is taken over.
Value finiteAbs(OpBuilder &b, Location loc, Value v);

/// The fp8_block scale of a block whose amax is `amax` and the factor its
/// values are multiplied by: a = max(amax, 1e-4), {a / 448, 448 / a}, as
/// the reference's quantize computes them.
std::pair<Value, Value> fp8BlockScale(OpBuilder &b, Location loc, Value amax);

/// Two f32 values rounded to e4m3 with saturation (NaN stays NaN), `lo` in
/// the low byte of the i16.
Value toE4m3x2(OpBuilder &b, Location loc, Value lo, Value hi);

/// Two e4m3 values (the low and high bytes of `pair`, i16) times the f32
/// `scale`, as a bf16x2 pair (i32): cvt.rn.f16x2.e4m3x2 (exact, NaN kept),
/// then in f32 the product (exact: a power of two), rounded to bf16 (exact
/// but for bf16 subnormals: e4m3 has 4 significant bits).
Value e4m3PairTimesScale(OpBuilder &b, Location loc, Value pair, Value scale);

/// MXFP8 quantization of one 1x32 block held as `vals` (f32, an even
/// count) by each of `width` consecutive lanes, as moe.quantize with mxfp8
/// computes it: the block's shared exponent e (i32) = ceil(log2(amax /
/// 448)) over the block's finite |v| (the f32 quotient; -127 for a zero
/// block; in [-127, 127]: computeUE8M0Exponent), 2^e (f32), and each
/// value times 2^-e rounded to e4m3 with saturation (NaN stays NaN), as
/// e4m3 pairs (i16 each). With width > 1 every lane of the warp must run
/// it (shuffles).
struct Mxfp8Block {
  Value exponent, scale;
  SmallVector<Value> pairs;
  /// The block's UE8M0 scale byte, e + 127 (i8).
  Value scaleByte(OpBuilder &b, Location loc) const {
    return LLVM::TruncOp::create(
        b, loc, b.getI8Type(),
        LLVM::AddOp::create(b, loc, exponent, i32c(b, loc, 127)));
  }
};

Mxfp8Block mxfp8Quantize(OpBuilder &b, Location loc, ArrayRef<Value> vals,
                         int64_t width);

/// Each 1x32 block rounded to its MXFP8 value, as moe.quantize with mxfp8
/// then moe.dequantize compute it (mxfp8Quantize, each e4m3 pair times
/// 2^e), as bf16 pairs (i32; exact but for bf16 subnormals).
SmallVector<Value> mxfp8RoundPairs(OpBuilder &b, Location loc,
                                   ArrayRef<Value> vals, int64_t width);

/// Copies the bf16 row `src` (h elements) to `dst` with the warp: 16-byte
/// pieces, kCopyUnroll per lane and step, all loaded before any is stored
/// (a load's latency is paid once per step, not per piece); a piece past
/// the row end loads the row's last piece again and is not stored.
/// With `mxRound` (h a multiple of 32), each 1x32 block (a group of four
/// lanes' pieces) rounded to its MXFP8 value (mxfp8RoundPairs); pieces past
/// the row end take part in the shuffles and are not stored. With
/// `mxScales` too, quantized instead: `dst` is the row's e4m3 bytes (8 a
/// piece) and the block's first lane stores its UE8M0 scale, e + 127, at
/// `mxScales[c / 32]`.
void copyRowWarp(OpBuilder &b, Location l, Value src, Value dst, Value lane,
                 int64_t h, const std::map<int64_t, Value> &constants,
                 bool mxRound = false, Value mxScales = Value());

//===----------------------------------------------------------------------===//
// Activation.cpp
//===----------------------------------------------------------------------===//

/// ex2.approx of an f32.
Value ex2(OpBuilder &b, Location loc, Value x);

//===----------------------------------------------------------------------===//
// Fp4.cpp
//===----------------------------------------------------------------------===//

/// Two e2m1 values as a bf16x2 pair 2^-126 times theirs, exactly: `byte`
/// (i32, only its low 8 bits set) holds them packed (the first in the low
/// nibble). A nibble's magnitude bits x placed at bf16 bits 6-8 read as a
/// value 2^-126 times the e2m1 one (exponent field x >> 1, mantissa top bit
/// x & 1; x < 2 the subnormals 0 and 2^-127), its sign at bit 15. Both
/// nibbles are placed at once: byte * 0x40040 puts the low one at bit 6
/// and the high one at bit 22, byte * 0x1001000 their signs at bits 15 and
/// 31.
Value e2m1PairTiny(OpBuilder &b, Location loc, Value byte);

/// `pair` (bf16x2) times the bf16x2 `factor`, as i32.
Value bf16PairTimes(OpBuilder &b, Location loc, Value pair, Value factor);

/// The bf16x2 pair 2^(byte - 127), 2^(byte - 127) of a UE8M0 scale byte
/// (i32): byte << 7 in each lane, except 0 (2^-127, a bf16 subnormal) and
/// 255 (NaN).
Value ue8m0ScalePair(OpBuilder &b, Location loc, Value byte);

/// The bf16x2 pair s, s of an e4m3 scale byte (i32), exactly: the byte's
/// sign, exponent and mantissa at bf16 bits 15 and 4-14 are s * 2^-120
/// (e4m3 subnormals included, as bf16 subnormals), times 2^120; 0x7F and
/// 0xFF (NaN) give NaN.
Value e4m3ScalePair(OpBuilder &b, Location loc, Value byte);

/// The address of the kernel's shared copy of the tables
/// (planFp4SharedTables, below).
Value fp4SharedTables(OpBuilder &b, Location loc);

void planFp4SharedTables(ModuleOp module);

/// The byte table (2 x i32) of the 32-value block whose UE8M0 scale is byte
/// `blk` (i32) of `word`, in a row whose largest scale is `m`: entry
/// min(m - s, 19) of `tables` (fp4ExpansionTables).
Value fp4BlockTable(OpBuilder &b, Location loc, Value tables, Value word,
                    Value blk, Value m);

/// Eight packed e2m1 values (`w`, value i in nibble i) as eight e4m3 bytes
/// (two words) through the byte table {t0, t1} of their magnitudes: one
/// prmt looks up four magnitudes, a second replicates the four sign bits
/// (bit 3 of each nibble, found at bit 7 of a byte of w << 4 or of w).
std::pair<Value, Value> e2m1ToE4m3(OpBuilder &b, Location loc, Value w,
                                   Value t0, Value t1);

/// The column scale 2^(m - 133) of a UE8M0 row maximum `m` (i32): 2^(m -
/// 127) from its f32 bits (0: 2^-127, a subnormal; 255: NaN), times 2^-6.
Value fp4ColumnScale(OpBuilder &b, Location loc, Value m);

/// The largest of the four bytes of `word` (i32).
Value maxByte(OpBuilder &b, Location loc, Value word);

//===----------------------------------------------------------------------===//
// The patterns of each file
//===----------------------------------------------------------------------===//

/// Warp roles, named barriers, cluster ranks and syncs, special registers
/// and the grouped tile scheduler.
void populateSchedulingPatterns(const TypeConverter &converter,
                                RewritePatternSet &patterns);

/// Rings, their stages and tags, TMA loads, staged scales, gathered rows
/// and the shared-memory blocks between warpgroups.
void populateRingPatterns(const TypeConverter &converter,
                          RewritePatternSet &patterns);

/// The MMAs: wgmma on sm_90a; with `tensorMemory` (sm_100a) only the ops
/// both chips share (zeroed accumulators, per-row vectors, promotion), the
/// MMAs themselves being tcgen05's (populateTensorMemoryPatterns).
void populateMmaPatterns(const TypeConverter &converter,
                         RewritePatternSet &patterns, bool tensorMemory);

/// tcgen05 MMAs and the tensor-memory accumulator rings with `tensorMemory`
/// (sm_100a), errors for their ops without it; the per-thread row stores
/// on both chips.
void populateTensorMemoryPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns,
                                  bool tensorMemory);

/// Accumulator stores: from registers, by TMA and into a peer's buffer.
void populateEpiloguePatterns(const TypeConverter &converter,
                              RewritePatternSet &patterns);

/// Grid barriers, signals and their relay, counters (this GPU's and
/// peers'), the dynamic scheduler's fetch-and-add and timestamps.
void populateSyncPatterns(const TypeConverter &converter,
                          RewritePatternSet &patterns);

/// The dispatch on one GPU and across GPUs.
void populateDispatchPatterns(const TypeConverter &converter,
                              RewritePatternSet &patterns);

/// Routing, returned rows and the combine.
void populateRouteAndCombinePatterns(const TypeConverter &converter,
                                     RewritePatternSet &patterns);

/// The activation epilogues; the tensor-memory one with `tensorMemory`.
void populateActivationPatterns(const TypeConverter &converter,
                                RewritePatternSet &patterns, bool tensorMemory);

/// FP4 and MXFP8 weights' expansion and scales.
void populateFp4Patterns(const TypeConverter &converter,
                         RewritePatternSet &patterns);

/// The transposed small-tile products (A from registers: wgmma only, an
/// error with `tensorMemory`) and their scales and stores.
void populateFp4TransposedPatterns(const TypeConverter &converter,
                                   RewritePatternSet &patterns,
                                   bool tensorMemory);

} // namespace mlir::moe::kernel::nvvm

#endif // MOE_LIB_CODEGEN_KERNELTONVVM_COMMON_H
