//===- Dispatch.cpp - Lower moek dispatches and row copies ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The quantizers (FP8 block scales, MXFP8), the dispatch of token rows into
// an expert-contiguous buffer (moek.dispatch) and its expert-parallel form
// (moek.ep_dispatch).
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <limits>
#include <map>
#include <optional>

namespace mlir::moe::kernel::nvvm {

namespace {

/// Lane `from`'s i32 `v` (`from` an i32), broadcast to the warp.
Value shuffleFrom(OpBuilder &b, Location loc, Value v, Value from) {
  return NVVM::ShflOp::create(
      b, loc, b.getI32Type(), i32c(b, loc, -1), v, from, i32c(b, loc, 0x1f),
      NVVM::ShflKindAttr::get(b.getContext(), NVVM::ShflKind::idx), UnitAttr());
}

} // namespace

Value loadI32Volatile(OpBuilder &b, Location loc, Value ptr) {
  return LLVM::LoadOp::create(b, loc, b.getI32Type(), ptr, /*alignment=*/4,
                              /*isVolatile=*/true);
}

namespace {
/// The pieces a lane loads per step when a row goes to several
/// destinations (moek.dispatch by tokens): each piece is stored k times,
/// and eight pieces' k addresses spilled at h = 7168.
constexpr int64_t kMultiCopyUnroll = 2;

} // namespace

Value maxOverLanes(OpBuilder &b, Location loc, Value v, int64_t width) {
  for (int64_t d = 1; d < width; d *= 2) {
    Value other = NVVM::ShflOp::create(
        b, loc, b.getF32Type(), i32c(b, loc, -1), v, i32c(b, loc, d),
        i32c(b, loc, 0x1f),
        NVVM::ShflKindAttr::get(b.getContext(), NVVM::ShflKind::bfly),
        UnitAttr());
    v = LLVM::MaxNumOp::create(b, loc, v, other);
  }
  return v;
}

Value finiteAbs(OpBuilder &b, Location loc, Value v) {
  Type f32 = b.getF32Type();
  Value a = LLVM::FAbsOp::create(b, loc, v);
  Value inf = LLVM::ConstantOp::create(
      b, loc, f32, b.getF32FloatAttr(std::numeric_limits<float>::infinity()));
  Value finite = LLVM::FCmpOp::create(b, loc, LLVM::FCmpPredicate::olt, a, inf);
  return LLVM::SelectOp::create(
      b, loc, finite, a,
      LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.0f)));
}

std::pair<Value, Value> fp8BlockScale(OpBuilder &b, Location loc, Value amax) {
  Type f32 = b.getF32Type();
  auto f32c = [&](float v) -> Value {
    return LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };
  Value a = LLVM::MaxNumOp::create(b, loc, amax, f32c(1e-4f));
  return {LLVM::FDivOp::create(b, loc, a, f32c(448.0f)),
          LLVM::FDivOp::create(b, loc, f32c(448.0f), a)};
}

Value toE4m3x2(OpBuilder &b, Location loc, Value lo, Value hi) {
  return LLVM::InlineAsmOp::create(
             b, loc, TypeRange{b.getI16Type()}, ValueRange{hi, lo},
             "cvt.rn.satfinite.e4m3x2.f32 $0, $1, $2;", "=h,f,f",
             /*has_side_effects=*/false, /*is_align_stack=*/false,
             LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

Value e4m3PairTimesScale(OpBuilder &b, Location loc, Value pair, Value scale) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  Value halves =
      LLVM::InlineAsmOp::create(
          b, loc, TypeRange{i32}, ValueRange{pair},
          "cvt.rn.f16x2.e4m3x2 $0, $1;", "=r,h",
          /*has_side_effects=*/false, /*is_align_stack=*/false,
          LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
          .getResult(0);
  auto f32x2 = VectorType::get({2}, f32);
  Value wide = LLVM::FPExtOp::create(
      b, loc, f32x2,
      LLVM::BitcastOp::create(b, loc, VectorType::get({2}, b.getF16Type()),
                              halves));
  Value scales = LLVM::InsertElementOp::create(
      b, loc,
      LLVM::InsertElementOp::create(
          b, loc, LLVM::UndefOp::create(b, loc, f32x2), scale, i32c(b, loc, 0)),
      scale, i32c(b, loc, 1));
  return LLVM::BitcastOp::create(
      b, loc, i32,
      LLVM::FPTruncOp::create(b, loc, VectorType::get({2}, b.getBF16Type()),
                              LLVM::FMulOp::create(b, loc, wide, scales)));
}
Mxfp8Block mxfp8Quantize(OpBuilder &b, Location loc, ArrayRef<Value> vals,
                         int64_t width) {
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  auto c = [&](int64_t v) { return i32c(b, loc, v); };
  Value amax = LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.0f));
  for (Value v : vals)
    amax = LLVM::MaxNumOp::create(b, loc, amax, finiteAbs(b, loc, v));
  amax = maxOverLanes(b, loc, amax, width);
  // ceil(log2(q)) from the bits of q = amax / 448 (q >= 0, finite): a
  // normal q = 1.f * 2^(E - 127) gives E - 127, plus 1 unless f = 0; a
  // subnormal (E = 0) at most 2^-126, which clamps to -126 above 2^-127,
  // else to -127 (and q = 0 to -127).
  Value q = LLVM::FDivOp::create(
      b, loc, amax,
      LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(448.0f)));
  Value bits = LLVM::BitcastOp::create(b, loc, i32, q);
  Value exp = LLVM::LShrOp::create(b, loc, bits, c(23));
  Value frac = LLVM::AndOp::create(b, loc, bits, c(0x7FFFFF));
  auto cmp = [&](LLVM::ICmpPredicate p, Value x, Value y) {
    return LLVM::ICmpOp::create(b, loc, p, x, y);
  };
  Value normal = LLVM::AddOp::create(
      b, loc, LLVM::SubOp::create(b, loc, exp, c(127)),
      LLVM::ZExtOp::create(b, loc, i32,
                           cmp(LLVM::ICmpPredicate::ne, frac, c(0))));
  Value sub = LLVM::SelectOp::create(
      b, loc, cmp(LLVM::ICmpPredicate::ugt, frac, c(0x400000)), c(-126),
      c(-127));
  Value e = LLVM::SelectOp::create(
      b, loc, cmp(LLVM::ICmpPredicate::eq, exp, c(0)), sub, normal);
  e = LLVM::SMinOp::create(b, loc, e, c(127));
  // 2^e and 2^-e in f32 (2^-127 is the subnormal 0x00400000).
  auto powerOfTwo = [&](Value x) {
    Value field = LLVM::ShlOp::create(
        b, loc, LLVM::AddOp::create(b, loc, x, c(127)), c(23));
    return LLVM::BitcastOp::create(
        b, loc, f32,
        LLVM::SelectOp::create(b, loc, cmp(LLVM::ICmpPredicate::eq, x, c(-127)),
                               c(0x00400000), field));
  };
  Mxfp8Block block;
  block.exponent = e;
  block.scale = powerOfTwo(e);
  Value inv = powerOfTwo(LLVM::SubOp::create(b, loc, c(0), e));
  for (size_t i = 0; i + 1 < vals.size(); i += 2)
    block.pairs.push_back(
        toE4m3x2(b, loc, LLVM::FMulOp::create(b, loc, vals[i], inv),
                 LLVM::FMulOp::create(b, loc, vals[i + 1], inv)));
  return block;
}

SmallVector<Value> mxfp8RoundPairs(OpBuilder &b, Location loc,
                                   ArrayRef<Value> vals, int64_t width) {
  Mxfp8Block block = mxfp8Quantize(b, loc, vals, width);
  SmallVector<Value> pairs;
  for (Value pair : block.pairs)
    pairs.push_back(e4m3PairTimesScale(b, loc, pair, block.scale));
  return pairs;
}

namespace {

/// moek.mma_fp4's K order (`permute_k`): the stored 4-byte word of logical
/// word L (i32, 0..31) of a 128-value block, L = 8q + 2s + e -> 8s + 4e + q:
/// the values thread q of a quad feeds K step s come from one 32-value
/// block, so it expands them from one 16-byte load.
Value permutedKWord(OpBuilder &b, Location loc, Value l) {
  auto c = [&](int64_t v) { return i32c(b, loc, v); };
  Value q = LLVM::LShrOp::create(b, loc, l, c(3));
  Value s =
      LLVM::AndOp::create(b, loc, LLVM::LShrOp::create(b, loc, l, c(1)), c(3));
  Value e = LLVM::AndOp::create(b, loc, l, c(1));
  return LLVM::AddOp::create(
      b, loc,
      LLVM::AddOp::create(b, loc, LLVM::ShlOp::create(b, loc, s, c(3)),
                          LLVM::ShlOp::create(b, loc, e, c(2))),
      q);
}

/// moek.dispatch's quantizing copy of one token row `src` (bf16, `h`
/// values, a multiple of 128) into rows `dstRows` (indices) of `rows`
/// (e4m3) and `scales` (f32, h / 128 per row), by one warp: each lane
/// takes 8 values (16 bytes) of a 256-value step (two 1x128 blocks, one per
/// half-warp), kCopyUnroll steps at a time (kMultiCopyUnroll with several
/// destinations), quantizes them once and stores them into each
/// destination row (with `routed`, only those whose flag is set). With
/// `tokenRow` the values go once into that row of `rows` (a row per token,
/// for moek.gather_rows) and only the scales into each destination row.
/// The trip count is the same for every lane (the block amax is a
/// shuffle over the half-warp); a block past the row end (h an odd
/// multiple of 128) reads the row's last 8 values and stores nothing.
/// `scalesStride` (non-zero): the scales block-major, row r's of block b
/// at scales[b * scalesStride + r] (moek.dispatch {scales_stride}).
void copyQuantized(OpBuilder &b, Location loc, Value src, Value rows,
                   Value scales, ArrayRef<Value> dstRows, Value lane, int64_t h,
                   const std::map<int64_t, Value> &constants, bool permuteK,
                   ArrayRef<Value> routed = {}, Value tokenRow = {},
                   int64_t scalesStride = 0) {
  auto idx = [&](int64_t v) -> Value { return constants.at(v); };
  Type f32 = b.getF32Type(), bf16 = b.getBF16Type();
  auto vec8 = VectorType::get({8}, bf16);
  SmallVector<Value> dstRow, scaleRow;
  for (Value row : dstRows) {
    if (!tokenRow)
      dstRow.push_back(
          elementAddress(b, loc, rows, b.getI8Type(),
                         arith::MulIOp::create(b, loc, row, idx(h))));
    scaleRow.push_back(elementAddress(
        b, loc, scales, f32,
        scalesStride ? row : arith::MulIOp::create(b, loc, row, idx(h / 128))));
  }
  // The values once, into the token's row.
  Value tokenDst =
      tokenRow ? elementAddress(b, loc, rows, b.getI8Type(),
                                arith::MulIOp::create(b, loc, tokenRow, idx(h)))
               : Value();
  Value laneCol = arith::MulIOp::create(b, loc, lane, idx(8));
  Value firstOfBlock = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::eq,
      arith::RemUIOp::create(b, loc, lane, constants.at(16)), idx(0));
  int64_t unroll = dstRows.size() > 1 ? kMultiCopyUnroll : kCopyUnroll;
  auto loop = scf::ForOp::create(
      b, loc, idx(0), idx(h), constants.at(256 * unroll), ValueRange{},
      [&](OpBuilder &pb, Location pl, Value c0, ValueRange) {
        SmallVector<Value> cols, vals, inRow;
        for (int64_t u = 0; u < unroll; ++u) {
          Value c = arith::AddIOp::create(
              pb, pl, arith::AddIOp::create(pb, pl, c0, idx(256 * u)), laneCol);
          cols.push_back(c);
          inRow.push_back(arith::CmpIOp::create(
              pb, pl, arith::CmpIPredicate::ult, c, idx(h)));
          Value safe = arith::MinUIOp::create(pb, pl, c, idx(h - 8));
          vals.push_back(LLVM::LoadOp::create(
              pb, pl, vec8, elementAddress(pb, pl, src, bf16, safe), 16));
        }
        for (int64_t u = 0; u < unroll; ++u) {
          SmallVector<Value> v;
          Value amax =
              LLVM::ConstantOp::create(pb, pl, f32, pb.getF32FloatAttr(0.0f));
          for (int64_t i = 0; i < 8; ++i) {
            v.push_back(
                LLVM::FPExtOp::create(pb, pl, f32,
                                      LLVM::ExtractElementOp::create(
                                          pb, pl, vals[u], i32c(pb, pl, i))));
            amax =
                LLVM::MaxNumOp::create(pb, pl, amax, finiteAbs(pb, pl, v[i]));
          }
          amax = maxOverLanes(pb, pl, amax, 16);
          auto [scale, inv] = fp8BlockScale(pb, pl, amax);
          auto vec4 = VectorType::get({4}, pb.getI16Type());
          Value packed = LLVM::UndefOp::create(pb, pl, vec4);
          for (int64_t i = 0; i < 4; ++i)
            packed = LLVM::InsertElementOp::create(
                pb, pl, packed,
                toE4m3x2(pb, pl, LLVM::FMulOp::create(pb, pl, v[2 * i], inv),
                         LLVM::FMulOp::create(pb, pl, v[2 * i + 1], inv)),
                i32c(pb, pl, i));
          auto st = scf::IfOp::create(pb, pl, inRow[u], false);
          // The 8 values into row `row` (an address), in K order or, with
          // `permuteK`, in moek.mma_fp4's.
          auto storeValues = [&](OpBuilder &sb, Value row) {
            if (!permuteK) {
              LLVM::StoreOp::create(
                  sb, pl, packed,
                  elementAddress(sb, pl, row, sb.getI8Type(), cols[u]), 8);
              return;
            }
            // Logical words 2p and 2p + 1 of the 128-value block, p =
            // (c % 128) / 8: stored words permutedKWord(2p), + 4.
            Value pair = LLVM::BitcastOp::create(
                sb, pl, VectorType::get({2}, sb.getI32Type()), packed);
            Value c = toI32(sb, pl, cols[u]);
            Value base = LLVM::AndOp::create(sb, pl, c, i32c(sb, pl, ~127));
            Value word = permutedKWord(
                sb, pl,
                LLVM::LShrOp::create(
                    sb, pl, LLVM::AndOp::create(sb, pl, c, i32c(sb, pl, 127)),
                    i32c(sb, pl, 2)));
            for (int64_t e = 0; e < 2; ++e) {
              Value off = LLVM::AddOp::create(
                  sb, pl, base,
                  LLVM::ShlOp::create(
                      sb, pl,
                      LLVM::AddOp::create(sb, pl, word, i32c(sb, pl, 4 * e)),
                      i32c(sb, pl, 2)));
              LLVM::StoreOp::create(
                  sb, pl,
                  LLVM::ExtractElementOp::create(sb, pl, pair, i32c(sb, pl, e)),
                  gepBytes(sb, pl, row,
                           LLVM::ZExtOp::create(sb, pl, sb.getI64Type(), off)),
                  4);
            }
          };
          if (tokenDst) {
            OpBuilder sb = OpBuilder::atBlockTerminator(st.thenBlock());
            storeValues(sb, tokenDst);
          }
          for (auto [d, scaleDst] : llvm::enumerate(scaleRow)) {
            OpBuilder sb = OpBuilder::atBlockTerminator(st.thenBlock());
            if (!routed.empty()) {
              auto r = scf::IfOp::create(sb, pl, routed[d], false);
              sb = OpBuilder::atBlockTerminator(r.thenBlock());
            }
            // (With the token's row: only the scales per row.)
            if (!tokenDst)
              storeValues(sb, dstRow[d]);
            auto sc = scf::IfOp::create(sb, pl, firstOfBlock, false);
            OpBuilder scb = OpBuilder::atBlockTerminator(sc.thenBlock());
            Value block = arith::DivUIOp::create(scb, pl, cols[u], idx(128));
            if (scalesStride)
              block = arith::MulIOp::create(
                  scb, pl, block,
                  arith::ConstantIndexOp::create(scb, pl, scalesStride));
            LLVM::StoreOp::create(scb, pl, scale,
                                  elementAddress(scb, pl, scaleDst, f32, block),
                                  4);
          }
        }
        scf::YieldOp::create(pb, pl);
      });
  // Several destinations: a rolled loop (each step already holds k
  // stores a piece).
  if (dstRows.size() > 1)
    loop->setAttr("loop_annotation", noUnrollAnnotation(b.getContext()));
}

} // namespace

void copyRowWarp(OpBuilder &b, Location l, Value src, Value dst, Value lane,
                 int64_t h, const std::map<int64_t, Value> &constants,
                 bool mxRound, Value mxScales) {
  auto idx = [&](int64_t v) -> Value { return constants.at(v); };
  auto vec = VectorType::get({4}, b.getI32Type());
  // With mxRound every lane runs every step (the shuffles need the whole
  // warp: a lane whose first piece lies past a short row, h < 256, would
  // skip the loop), its column added inside.
  Value laneCol = arith::MulIOp::create(b, l, lane, idx(8));
  scf::ForOp::create(
      b, l, mxRound ? idx(0) : laneCol, idx(h), idx(256 * kCopyUnroll),
      ValueRange{}, [&](OpBuilder &pb, Location pl, Value c, ValueRange) {
        if (mxRound)
          c = arith::AddIOp::create(pb, pl, c, laneCol);
        SmallVector<Value> at, vals, inRow;
        for (int64_t u = 0; u < kCopyUnroll; ++u) {
          Value cu = arith::AddIOp::create(pb, pl, c, idx(256 * u));
          inRow.push_back(arith::CmpIOp::create(
              pb, pl, arith::CmpIPredicate::ult, cu, idx(h)));
          at.push_back(cu);
          Value safe = arith::MinUIOp::create(pb, pl, cu, idx(h - 8));
          vals.push_back(LLVM::LoadOp::create(
              pb, pl, vec, elementAddress(pb, pl, src, pb.getBF16Type(), safe),
              16));
        }
        for (int64_t u = 0; u < kCopyUnroll; ++u) {
          // What this lane stores: the 8 bf16 values as loaded, rounded to
          // MXFP8 (bf16 pairs), or quantized (e4m3 pairs and the block's
          // UE8M0 byte, stored by the block's first lane).
          Value piece = vals[u];
          Type elem = pb.getBF16Type();
          int64_t align = 16;
          std::optional<Mxfp8Block> block;
          if (mxRound) {
            Value halves = LLVM::BitcastOp::create(
                pb, pl, VectorType::get({8}, pb.getBF16Type()), piece);
            SmallVector<Value> wide;
            for (int64_t i = 0; i < 8; ++i)
              wide.push_back(
                  LLVM::FPExtOp::create(pb, pl, pb.getF32Type(),
                                        LLVM::ExtractElementOp::create(
                                            pb, pl, halves, i32c(pb, pl, i))));
            SmallVector<Value> pairs;
            if (mxScales) {
              block = mxfp8Quantize(pb, pl, wide, 4);
              pairs = block->pairs;
              piece = LLVM::UndefOp::create(
                  pb, pl, VectorType::get({4}, pb.getI16Type()));
              elem = pb.getI8Type();
              align = 8;
            } else {
              pairs = mxfp8RoundPairs(pb, pl, wide, 4);
              piece = LLVM::UndefOp::create(pb, pl, vec);
            }
            for (auto [i, pair] : llvm::enumerate(pairs))
              piece = LLVM::InsertElementOp::create(pb, pl, piece, pair,
                                                    i32c(pb, pl, i));
          }
          auto st = scf::IfOp::create(pb, pl, inRow[u], false);
          OpBuilder sb = OpBuilder::atBlockTerminator(st.thenBlock());
          LLVM::StoreOp::create(
              sb, pl, piece, elementAddress(sb, pl, dst, elem, at[u]), align);
          if (!block)
            continue;
          Value firstLane = arith::CmpIOp::create(
              sb, pl, arith::CmpIPredicate::eq,
              arith::RemUIOp::create(sb, pl, lane, idx(4)), idx(0));
          auto sc = scf::IfOp::create(sb, pl, firstLane, false);
          OpBuilder scb = OpBuilder::atBlockTerminator(sc.thenBlock());
          LLVM::StoreOp::create(
              scb, pl, block->scaleByte(scb, pl),
              elementAddress(scb, pl, mxScales, scb.getI8Type(),
                             arith::DivUIOp::create(scb, pl, at[u], idx(32))),
              1);
        }
        scf::YieldOp::create(pb, pl);
      });
}

namespace {

/// The next row of expert `id` (i32): its start in the shared `table` plus
/// the expert's `cursor`, which counts the rows handed out (an atomic).
Value takeRow(OpBuilder &b, Location loc, Value cursor, Value table, Value id) {
  Type i32 = b.getI32Type();
  Value cur = LLVM::GEPOp::create(b, loc, cursor.getType(), i32, cursor,
                                  ValueRange{id});
  Value n = LLVM::AtomicRMWOp::create(b, loc, LLVM::AtomicBinOp::add, cur,
                                      i32c(b, loc, 1),
                                      LLVM::AtomicOrdering::monotonic);
  Value begin = LLVM::LoadOp::create(
      b, loc, i32,
      LLVM::GEPOp::create(b, loc, table.getType(), i32, table, ValueRange{id}));
  return LLVM::AddOp::create(b, loc, begin, n);
}

/// The end of a dispatch with readiness instead of its last grid barrier:
/// thread 0 (`isThread0`) waits until CTA 0 has published `offsets` by the
/// u32 `flag` (acquire), then the CTA barrier makes them visible to all.
void awaitOffsets(OpBuilder &b, Location loc, Value isThread0, Value flag) {
  auto ifOp = scf::IfOp::create(b, loc, isThread0, false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    spinUntilAtLeast(b, loc, flag, i32c(b, loc, 1));
  }
  NVVM::Barrier0Op::create(b, loc);
}

/// The start both dispatches share: each thread's place in the grid, the
/// slots (T * top_k), and step 1, counting each expert's slots.
struct SlotWalk {
  Value tid, ntid, bid, grid, tokens, slots, gtid, gthreads, ids;
  int64_t experts;

  SlotWalk(OpBuilder &b, Location loc, Value tokens, Value topK, Value ids,
           int64_t experts)
      : tokens(tokens), ids(ids), experts(experts) {
    Type i32 = b.getI32Type();
    tid = toIndex(b, loc, threadIdX(b, loc));
    ntid = toIndex(b, loc, NVVM::BlockDimXOp::create(b, loc, i32));
    bid = toIndex(b, loc, NVVM::BlockIdXOp::create(b, loc, i32));
    grid = toIndex(b, loc, NVVM::GridDimXOp::create(b, loc, i32));
    slots = arith::MulIOp::create(b, loc, tokens, topK);
    gtid = arith::AddIOp::create(b, loc,
                                 arith::MulIOp::create(b, loc, bid, ntid), tid);
    gthreads = arith::MulIOp::create(b, loc, grid, ntid);
  }

  /// ids[s] as an i32, and whether it names an expert (unsigned < E also
  /// rejects negative ids).
  std::pair<Value, Value> expertOf(OpBuilder &b, Location loc, Value s) const {
    Type i32 = b.getI32Type();
    Value id =
        LLVM::LoadOp::create(b, loc, i32, elementAddress(b, loc, ids, i32, s));
    Value valid = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ult, id,
                                       i32c(b, loc, experts));
    return {id, valid};
  }

  /// 1. Each expert's slots counted into `counts` (u32 atomics), then grid
  /// barrier `phase`. Returns the block size (i32) for later barriers.
  Value count(OpBuilder &b, Location loc, Value counts, Value barrier,
              int64_t phase) const {
    Type i32 = b.getI32Type();
    scf::ForOp::create(
        b, loc, gtid, slots, gthreads, ValueRange{},
        [&](OpBuilder &fb, Location l, Value s, ValueRange) {
          auto [id, valid] = expertOf(fb, l, s);
          auto ifOp = scf::IfOp::create(fb, l, valid, false);
          OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
          Value counter = LLVM::GEPOp::create(tb, l, counts.getType(), i32,
                                              counts, ValueRange{id});
          LLVM::AtomicRMWOp::create(tb, l, LLVM::AtomicBinOp::add, counter,
                                    i32c(tb, l, 1),
                                    LLVM::AtomicOrdering::monotonic);
          scf::YieldOp::create(fb, l);
        });
    Value ntid32 = NVVM::BlockDimXOp::create(b, loc, i32);
    gridBarrier(b, loc, barrier, phase, 0, ntid32, 0);
    return ntid32;
  }

  /// Slot `s` (valid where `inRange`), placed by its lane: the slot's
  /// expert loaded; if it names one, `place` (its `numPlaced` i32 results),
  /// else -1 (and zeros) and, in range, -1 into `slotRows[s]` (a masked
  /// slot). Returns the slot's expert (i32), whether it was routed (i1)
  /// and the placed values.
  std::tuple<Value, Value, SmallVector<Value>> placeSlot(
      OpBuilder &fb, Location l, Value s, Value inRange, Value slotRows,
      unsigned numPlaced,
      function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value)>
          place) const {
    Type i32 = fb.getI32Type();
    auto load =
        scf::IfOp::create(fb, l, TypeRange{i32, fb.getI1Type()}, inRange, true);
    {
      OpBuilder tb = OpBuilder::atBlockEnd(load.thenBlock());
      auto [id, valid] = expertOf(tb, l, s);
      scf::YieldOp::create(tb, l, ValueRange{id, valid});
    }
    {
      OpBuilder eb = OpBuilder::atBlockEnd(load.elseBlock());
      scf::YieldOp::create(
          eb, l,
          ValueRange{i32c(eb, l, -1),
                     arith::ConstantIntOp::create(eb, l, 0, 1)});
    }
    Value id = load.getResult(0), valid = load.getResult(1);
    SmallVector<Type> types(numPlaced, i32);
    auto ifOp = scf::IfOp::create(fb, l, types, valid, true);
    {
      OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
      scf::YieldOp::create(tb, l, place(tb, l, s, id));
    }
    {
      OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
      Value masked = i32c(eb, l, -1);
      auto m = scf::IfOp::create(eb, l, inRange, false);
      OpBuilder mb = OpBuilder::atBlockTerminator(m.thenBlock());
      LLVM::StoreOp::create(mb, l, masked,
                            elementAddress(mb, l, slotRows, i32, s));
      SmallVector<Value> none{masked};
      for (unsigned i = 1; i < numPlaced; ++i)
        none.push_back(i32c(eb, l, 0));
      scf::YieldOp::create(eb, l, none);
    }
    return {id, valid, SmallVector<Value>(ifOp.getResults())};
  }

  /// eachSlot's walk by tokens (top_k `k` at most 32): warp w takes tokens
  /// w, w + W, ... (W warps in the grid); lane l < k places the token's
  /// slot l as eachSlot's lanes do (`place`, or -1 into `slotRows` for a
  /// masked slot); then `copy` copies the token's bf16 row in `x` once into
  /// the rows of all its routed slots: it gets the token, and for each of
  /// the k slots whether it was routed and its placed row (shuffled from
  /// its lane). A token's row is read and quantized once instead of k
  /// times. (Batches of 32 / k tokens a warp, as eachSlot's 32 slots,
  /// changed the kernel's code enough that ptxas spilled 8 bytes in the
  /// 128-row FP8 kernel at E = 32, H = 7168.)
  void eachToken(
      OpBuilder &b, Location loc, Value slotRows, Value x, int64_t k, int64_t h,
      const std::map<int64_t, Value> &constants,
      function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value)>
          place,
      function_ref<void(OpBuilder &, Location, Value, Value, Value,
                        ArrayRef<Value>, ArrayRef<Value>)>
          copy) const {
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Type i32 = b.getI32Type();
    // A %tid.x read of its own: a lane index shared with the later phases
    // stayed live across the 128-row FP8 kernel's K loops (a spill).
    Value lane = arith::RemUIOp::create(
        b, loc, toIndex(b, loc, freshThreadIdX(b, loc)), idx(32));
    Value gwarp = arith::DivUIOp::create(b, loc, gtid, idx(32));
    Value nwarps = arith::DivUIOp::create(b, loc, gthreads, idx(32));
    scf::ForOp::create(
        b, loc, gwarp, tokens, nwarps, ValueRange{},
        [&](OpBuilder &fb, Location l, Value token, ValueRange) {
          Value s = arith::AddIOp::create(
              fb, l, arith::MulIOp::create(fb, l, token, idx(k)), lane);
          Value inRange = arith::CmpIOp::create(
              fb, l, arith::CmpIPredicate::ult, lane, idx(k));
          auto [id, valid, placedValues] =
              placeSlot(fb, l, s, inRange, slotRows, 1, place);
          (void)id;
          Value validI32 = arith::ExtUIOp::create(fb, l, i32, valid);
          Value placed = placedValues[0];
          SmallVector<Value> routed, rows;
          for (int64_t i = 0; i < k; ++i) {
            Value from = i32c(fb, l, i);
            routed.push_back(arith::CmpIOp::create(
                fb, l, arith::CmpIPredicate::ne,
                shuffleFrom(fb, l, validI32, from), i32c(fb, l, 0)));
            rows.push_back(shuffleFrom(fb, l, placed, from));
          }
          Value src =
              elementAddress(fb, l, x, fb.getBF16Type(),
                             arith::MulIOp::create(fb, l, token, idx(h)));
          copy(fb, l, lane, token, src, routed, rows);
          scf::YieldOp::create(fb, l);
        });
  }

  /// Warp w takes slots w, w + W, w + 2W, ... (W warps in the grid), 32
  /// at a time: lane l runs `place` for the batch's slot l if it is routed
  /// to an expert (it returns `numPlaced` i32 values), or stores -1 into
  /// `slotRows[s]` for a masked slot, so the warp's placements (a load of
  /// the slot's expert, an atomic on its cursor, the row's metadata) are in
  /// flight together; then, one routed slot after the other, every lane
  /// runs `copy` with the token's bf16 row in `x` and that slot's placed
  /// values (shuffled from its lane). (One slot at a time, lane 0 placing
  /// it, spent two or three dependent round trips to memory on each row
  /// before its copy.) `afterBatch`, if given, publishes the batch: every
  /// lane's copies are fenced to the async proxy, the warp synchronizes,
  /// then it runs on each lane whose slot was routed, with the slot's
  /// expert and placed values (a release there covers the warp's rows).
  void eachSlot(
      OpBuilder &b, Location loc, Value slotRows, Value x, int64_t k, int64_t h,
      const std::map<int64_t, Value> &constants, unsigned numPlaced,
      function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value)>
          place,
      function_ref<void(OpBuilder &, Location, Value, Value, ArrayRef<Value>)>
          copy,
      function_ref<void(OpBuilder &, Location, Value, ValueRange)> afterBatch =
          nullptr) const {
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Type i32 = b.getI32Type();
    Value lane = arith::RemUIOp::create(b, loc, tid, idx(32));
    Value gwarp = arith::DivUIOp::create(b, loc, gtid, idx(32));
    Value nwarps = arith::DivUIOp::create(b, loc, gthreads, idx(32));
    Value batch = arith::MulIOp::create(b, loc, nwarps, idx(32));
    Value laneSlot = arith::MulIOp::create(b, loc, lane, nwarps);
    scf::ForOp::create(
        b, loc, gwarp, slots, batch, ValueRange{},
        [&](OpBuilder &fb, Location l, Value s0, ValueRange) {
          Value s = arith::AddIOp::create(fb, l, s0, laneSlot);
          Value inRange =
              arith::CmpIOp::create(fb, l, arith::CmpIPredicate::ult, s, slots);
          Value id, valid;
          SmallVector<Value> placedValues;
          std::tie(id, valid, placedValues) =
              placeSlot(fb, l, s, inRange, slotRows, numPlaced, place);
          // The batch's slots: up to 32, s0 + j W below `slots`.
          Value validI32 = arith::ExtUIOp::create(fb, l, i32, valid);
          Value count = arith::MinUIOp::create(
              fb, l, idx(32),
              arith::CeilDivUIOp::create(
                  fb, l, arith::SubIOp::create(fb, l, slots, s0), nwarps));
          scf::ForOp::create(
              fb, l, idx(0), count, idx(1), ValueRange{},
              [&](OpBuilder &jb, Location jl, Value j, ValueRange) {
                Value from = toI32(jb, jl, j);
                Value routed = arith::CmpIOp::create(
                    jb, jl, arith::CmpIPredicate::ne,
                    shuffleFrom(jb, jl, validI32, from), i32c(jb, jl, 0));
                SmallVector<Value> placed;
                for (Value v : placedValues)
                  placed.push_back(shuffleFrom(jb, jl, v, from));
                auto copyIf = scf::IfOp::create(jb, jl, routed, false);
                OpBuilder cb = OpBuilder::atBlockTerminator(copyIf.thenBlock());
                Value slot = arith::AddIOp::create(
                    cb, jl, s0, arith::MulIOp::create(cb, jl, j, nwarps));
                Value token = arith::DivUIOp::create(cb, jl, slot, idx(k));
                Value src = elementAddress(
                    cb, jl, x, cb.getBF16Type(),
                    arith::MulIOp::create(cb, jl, token, idx(h)));
                copy(cb, jl, lane, src, placed);
                scf::YieldOp::create(jb, jl);
              });
          if (afterBatch) {
            NVVM::FenceProxyOp::create(
                fb, l,
                NVVM::ProxyKindAttr::get(fb.getContext(),
                                         NVVM::ProxyKind::async_global),
                NVVM::SharedSpaceAttr());
            NVVM::SyncWarpOp::create(fb, l, i32c(fb, l, -1));
            auto w = scf::IfOp::create(fb, l, valid, false);
            OpBuilder rb = OpBuilder::atBlockTerminator(w.thenBlock());
            afterBatch(rb, l, id, placedValues);
          }
          scf::YieldOp::create(fb, l);
        });
  }
};

struct DispatchLowering : OpConversionPattern<DispatchOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DispatchOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto tableAttr = op->getAttrOfType<FlatSymbolRefAttr>(kDispatchTableAttr);
    if (!tableAttr)
      return rewriter.notifyMatchFailure(op, "shared memory not planned");
    Type i32 = b.getI32Type();
    int64_t e = op.getNumExpertsAttr().getInt(), k = op.getTopKAttr().getInt(),
            h = op.getHiddenAttr().getInt(), phase = op.getPhaseAttr().getInt();
    // Every constant up front: ops that `b` creates while a nested builder
    // fills a loop would land after that loop.
    std::map<int64_t, Value> constants;
    int64_t blockRows = op.getBlockRowsAttr().getInt();
    for (int64_t v : {int64_t(0), int64_t(1), int64_t(4), int64_t(8),
                      int64_t(16), int64_t(32), int64_t(128), int64_t(256), k,
                      h, e, h - 8, h / 128, h / 32, blockRows})
      constants[v] = arith::ConstantIndexOp::create(b, loc, v);
    for (int64_t u = 1; u <= kCopyUnroll; ++u)
      constants.try_emplace(256 * u,
                            arith::ConstantIndexOp::create(b, loc, 256 * u));
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    SlotWalk walk(b, loc, a.getTokens(), idx(k), a.getIds(), e);
    Value tid = walk.tid, bid = walk.bid;
    Value ntid32 = walk.count(b, loc, a.getCounts(), a.getBarrier(), phase);

    // 2. Thread 0: the prefix sums into this CTA's shared table (CTA 0 also
    // into `offsets` for the tile scheduler).
    Value table =
        LLVM::AddressOfOp::create(b, loc, ptrTy(ctx, 3), tableAttr.getValue());
    {
      Value isFirst =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, idx(0));
      auto ifOp = scf::IfOp::create(b, loc, isFirst, false);
      OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      Value isCta0 =
          arith::CmpIOp::create(tb, loc, arith::CmpIPredicate::eq, bid, idx(0));
      auto writeBoth = [&](OpBuilder &wb, Value i, Value v) {
        storeTable(wb, loc, table, i, v);
        auto w = scf::IfOp::create(wb, loc, isCta0, false);
        OpBuilder gb = OpBuilder::atBlockTerminator(w.thenBlock());
        LLVM::StoreOp::create(gb, loc, toI32(gb, loc, v),
                              elementAddress(gb, loc, a.getOffsets(), i32, i));
      };
      auto scan = scf::ForOp::create(
          tb, loc, idx(0), idx(e), idx(1), ValueRange{idx(0)},
          [&](OpBuilder &fb, Location l, Value ex, ValueRange acc) {
            writeBoth(fb, ex, acc[0]);
            Value count = loadI32Volatile(
                fb, l, elementAddress(fb, l, a.getCounts(), i32, ex));
            scf::YieldOp::create(fb, l,
                                 ValueRange{arith::AddIOp::create(
                                     fb, l, acc[0], toIndex(fb, l, count))});
          });
      writeBoth(tb, idx(e), scan.getResult(0));
      // Block-wise readiness: CTA 0 publishes `offsets` (release).
      if (Value flag = a.getOffsetsReady()) {
        auto w = scf::IfOp::create(tb, loc, isCta0, false);
        OpBuilder gb = OpBuilder::atBlockTerminator(w.thenBlock());
        releaseAdd(gb, loc, flag);
      }
    }
    NVVM::Barrier0Op::create(b, loc);

    // Block-wise readiness, after each batch (SlotWalk::eachSlot's
    // afterBatch): each lane whose slot was routed adds 1 (release) to its
    // row's block of B = block_rows rows: offsets[e] / B + (r - offsets[e])
    // / B + e.
    auto signalRows = [&](OpBuilder &rb, Location l, Value id,
                          ValueRange placed) {
      Value begin = loadTable(rb, l, table, toIndex(rb, l, id));
      Value n = arith::SubIOp::create(rb, l, toIndex(rb, l, placed[0]), begin);
      Value block = arith::AddIOp::create(
          rb, l,
          arith::AddIOp::create(
              rb, l, arith::DivUIOp::create(rb, l, begin, idx(blockRows)),
              arith::DivUIOp::create(rb, l, n, idx(blockRows))),
          toIndex(rb, l, id));
      releaseAdd(rb, l, elementAddress(rb, l, a.getRowsReady(), i32, block));
    };

    // 3. A lane takes a row of its slot's expert, the warp copies 16-byte
    // pieces of each token's row into it.
    auto place = [&](OpBuilder &tb, Location l, Value s,
                     Value id) -> SmallVector<Value> {
      Value row = takeRow(tb, l, a.getCursor(), table, id);
      LLVM::StoreOp::create(tb, l, row,
                            elementAddress(tb, l, a.getSlotRows(), i32, s));
      Value w = LLVM::LoadOp::create(
          tb, l, tb.getF32Type(),
          elementAddress(tb, l, a.getWeights(), tb.getF32Type(), s));
      LLVM::StoreOp::create(tb, l, w,
                            elementAddress(tb, l, a.getRowWeights(),
                                           tb.getF32Type(),
                                           toIndex(tb, l, row)));
      return {row};
    };
    using PlaceFn =
        function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value)>;
    // Rows gathered by GEMM1 (moek.gather_rows): each placed row records
    // its token.
    auto placeToken = [&](OpBuilder &tb, Location pl, Value slot,
                          Value id) -> SmallVector<Value> {
      SmallVector<Value> row = place(tb, pl, slot, id);
      Value token = toI32(tb, pl, arith::DivUIOp::create(tb, pl, slot, idx(k)));
      LLVM::StoreOp::create(tb, pl, token,
                            elementAddress(tb, pl, a.getRowTokens(), i32,
                                           toIndex(tb, pl, row[0])));
      return row;
    };
    Value rowTokens = a.getRowTokens();
    if (rowTokens && !a.getRowScales()) {
      // bf16 gathered: a thread places a slot and records its row's token;
      // nothing is copied.
      Value always = arith::ConstantIntOp::create(b, loc, 1, 1);
      scf::ForOp::create(
          b, loc, walk.gtid, walk.slots, walk.gthreads, ValueRange{},
          [&](OpBuilder &fb, Location l, Value s, ValueRange) {
            walk.placeSlot(fb, l, s, always, a.getSlotRows(), 1, placeToken);
            scf::YieldOp::create(fb, l);
          });
    } else if (rowTokens || (a.getRowScales() && !a.getRowsReady() &&
                             !op.getMxRound() && k >= 4 && k <= 32)) {
      // FP8 rows by tokens (SlotWalk::eachToken): each token's row read
      // and quantized once, stored into its k rows, or, gathered, into the
      // token's row of `rows` with the scales into each routed row's.
      // Measured on an H100 against the slot walk: the FP8 layers with
      // k = 8 1.1-5.6% faster; with k = 2 (Mixtral) 2.3% slower and the
      // bf16 copies (no quantization to save) up to 0.9% slower, so those
      // keep the slot walk unless gathered
      // (bench/results/2026-12-05-session22-h100.md).
      walk.eachToken(b, loc, a.getSlotRows(), a.getX(), k, h, constants,
                     rowTokens ? PlaceFn(placeToken) : PlaceFn(place),
                     [&](OpBuilder &cb, Location l, Value lane, Value token,
                         Value src, ArrayRef<Value> routed,
                         ArrayRef<Value> placed) {
                       SmallVector<Value> rows;
                       for (Value row : placed)
                         rows.push_back(toIndex(cb, l, row));
                       copyQuantized(cb, l, src, a.getRows(), a.getRowScales(),
                                     rows, lane, h, constants, op.getPermuteK(),
                                     routed, rowTokens ? token : Value(),
                                     op.getScalesStrideAttr().getInt());
                     });
    } else {
      // Slots in batches of 32 per warp (SlotWalk::eachSlot).
      walk.eachSlot(
          b, loc, a.getSlotRows(), a.getX(), k, h, constants, 1, place,
          [&](OpBuilder &cb, Location l, Value lane, Value src,
              ArrayRef<Value> placed) {
            Value row = placed[0];
            Value rows = a.getRows();
            Value dst = elementAddress(
                cb, l, rows, cb.getBF16Type(),
                arith::MulIOp::create(cb, l, toIndex(cb, l, row), idx(h)));
            Value scales = a.getRowScales();
            if (scales && op.getMxRound()) {
              // MXFP8: e4m3 rows, a UE8M0 byte per 1x32 block.
              Value r = toIndex(cb, l, row);
              copyRowWarp(
                  cb, l, src,
                  elementAddress(cb, l, rows, cb.getI8Type(),
                                 arith::MulIOp::create(cb, l, r, idx(h))),
                  lane, h, constants, /*mxRound=*/true,
                  elementAddress(cb, l, scales, cb.getI8Type(),
                                 arith::MulIOp::create(cb, l, r, idx(h / 32))));
              return;
            }
            if (scales) {
              copyQuantized(cb, l, src, rows, scales, toIndex(cb, l, row), lane,
                            h, constants, op.getPermuteK(), /*routed=*/{},
                            /*tokenRow=*/Value(),
                            op.getScalesStrideAttr().getInt());
              return;
            }
            copyRowWarp(cb, l, src, dst, lane, h, constants, op.getMxRound());
          },
          a.getRowsReady()
              ? function_ref<void(OpBuilder &, Location, Value, ValueRange)>(
                    signalRows)
              : nullptr);
    }
    if (Value flag = a.getOffsetsReady()) {
      // 4. No second grid barrier: CTA 0's `offsets` (the flag).
      awaitOffsets(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, idx(0)),
          flag);
    } else {
      gridBarrier(b, loc, a.getBarrier(), phase + 1, 0, ntid32, 0);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.ep_dispatch (see its description): count, exchange the counts,
/// place, push the rows to their owners, and wait for everyone's rows.
struct EpDispatchLowering : OpConversionPattern<EpDispatchOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EpDispatchOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto tableAttr = op->getAttrOfType<FlatSymbolRefAttr>(kDispatchTableAttr);
    if (!tableAttr)
      return rewriter.notifyMatchFailure(op, "shared memory not planned");
    Type i32 = b.getI32Type(), f32 = b.getF32Type();
    int64_t ranks = op.getRanksAttr().getInt(),
            el = op.getExpertsPerRankAttr().getInt(), e = ranks * el,
            k = op.getTopKAttr().getInt(), h = op.getHiddenAttr().getInt(),
            phase = op.getPhaseAttr().getInt();
    // Every constant up front (see DispatchLowering).
    std::map<int64_t, Value> constants;
    for (int64_t v : {int64_t(0), int64_t(1), int64_t(8), int64_t(16),
                      int64_t(32), int64_t(128), int64_t(256), k, h, e, el,
                      ranks, ranks * e, h - 8, h / 128})
      constants.try_emplace(v, arith::ConstantIndexOp::create(b, loc, v));
    for (int64_t u = 1; u <= kCopyUnroll; ++u)
      constants.try_emplace(256 * u,
                            arith::ConstantIndexOp::create(b, loc, 256 * u));
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    Value self = a.getSelf();
    Value selfIdx = toIndex(b, loc, self);
    Value bases = a.getBases();
    Value target =
        LLVM::MulOp::create(b, loc, a.getEpoch(), i64c(b, loc, ranks));
    Value one64 = i64c(b, loc, 1);
    SlotWalk walk(b, loc, a.getTokens(), idx(k), a.getIds(), e);
    Value tid = walk.tid, ntid = walk.ntid, bid = walk.bid;
    Value isThread0 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, idx(0));
    Value isCta0 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, bid, idx(0));
    // Thread 0 of every CTA waits for `counter` to reach epoch * ranks, then
    // the CTA goes on.
    auto waitAll = [&](Value counter, int64_t waitPhase) {
      auto w = scf::IfOp::create(b, loc, isThread0, false);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(w.thenBlock()->getTerminator());
        remoteWait(b, loc, counter, target, a.getTimeoutNs(), a.getRecord(),
                   self, waitPhase);
      }
      NVVM::Barrier0Op::create(b, loc);
    };
    // Thread 0 of CTA 0 adds 1 to `counter` on every rank.
    auto signalAll = [&](Value counter) {
      Value lead = arith::AndIOp::create(b, loc, isThread0, isCta0);
      auto w = scf::IfOp::create(b, loc, lead, false);
      OpBuilder tb = OpBuilder::atBlockTerminator(w.thenBlock());
      scf::ForOp::create(
          tb, loc, idx(0), idx(ranks), idx(1), ValueRange{},
          [&](OpBuilder &fb, Location l, Value r, ValueRange) {
            remoteAdd(fb, l,
                      mapPeer(fb, l, counter, toI32(fb, l, r), bases, self),
                      one64);
            scf::YieldOp::create(fb, l);
          });
    };

    // 1. Count this rank's slots of each global expert.
    Value ntid32 = walk.count(b, loc, a.getCounts(), a.getBarrier(), phase);

    // 2. CTA 0: this rank's counts into row `self` of every rank's matrix,
    // then `counted` on every rank; every CTA waits for all ranks' counts.
    {
      auto w = scf::IfOp::create(b, loc, isCta0, false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(w.thenBlock()->getTerminator());
      scf::ForOp::create(
          b, loc, tid, idx(ranks * e), ntid, ValueRange{},
          [&](OpBuilder &fb, Location l, Value j, ValueRange) {
            Value r = arith::DivUIOp::create(fb, l, j, idx(e));
            Value ex = arith::RemUIOp::create(fb, l, j, idx(e));
            Value count = loadI32Volatile(
                fb, l, elementAddress(fb, l, a.getCounts(), i32, ex));
            Value local = elementAddress(
                fb, l, a.getCountMatrix(), i32,
                arith::AddIOp::create(
                    fb, l, arith::MulIOp::create(fb, l, selfIdx, idx(e)), ex));
            LLVM::StoreOp::create(
                fb, l, count,
                mapPeer(fb, l, local, toI32(fb, l, r), bases, self));
            scf::YieldOp::create(fb, l);
          });
      NVVM::Barrier0Op::create(b, loc);
    }
    signalAll(a.getCounted());
    waitAll(a.getCounted(), 1);

    // 3. Thread 0 of each CTA: where this rank's rows of each expert start
    // on its owner (the expert's place among the owner's experts, then the
    // rows of the ranks before this one), in the shared table; CTA 0 also
    // writes the local experts' offsets for the tile scheduler.
    Value table =
        LLVM::AddressOfOp::create(b, loc, ptrTy(ctx, 3), tableAttr.getValue());
    {
      auto w = scf::IfOp::create(b, loc, isThread0, false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(w.thenBlock()->getTerminator());
      scf::ForOp::create(
          b, loc, idx(0), idx(e), idx(1), ValueRange{idx(0)},
          [&](OpBuilder &fb, Location l, Value ex, ValueRange acc) {
            Value owner = arith::DivUIOp::create(fb, l, ex, idx(el));
            Value local = arith::RemUIOp::create(fb, l, ex, idx(el));
            Value first = arith::CmpIOp::create(fb, l, arith::CmpIPredicate::eq,
                                                local, idx(0));
            Value run = arith::SelectOp::create(fb, l, first, idx(0), acc[0]);
            // before: the rows of ranks < self; total: all ranks'.
            auto sum = scf::ForOp::create(
                fb, l, idx(0), idx(ranks), idx(1), ValueRange{idx(0), idx(0)},
                [&](OpBuilder &sb, Location sl, Value r, ValueRange sums) {
                  Value c = toIndex(
                      sb, sl,
                      loadI32Volatile(
                          sb, sl,
                          elementAddress(
                              sb, sl, a.getCountMatrix(), i32,
                              arith::AddIOp::create(
                                  sb, sl,
                                  arith::MulIOp::create(sb, sl, r, idx(e)),
                                  ex))));
                  Value below = arith::CmpIOp::create(
                      sb, sl, arith::CmpIPredicate::ult, r, selfIdx);
                  Value before = arith::AddIOp::create(
                      sb, sl, sums[0],
                      arith::SelectOp::create(sb, sl, below, c, idx(0)));
                  Value total = arith::AddIOp::create(sb, sl, sums[1], c);
                  scf::YieldOp::create(sb, sl, ValueRange{before, total});
                });
            storeTable(fb, l, table, ex,
                       arith::AddIOp::create(fb, l, run, sum.getResult(0)));
            Value next = arith::AddIOp::create(fb, l, run, sum.getResult(1));
            Value mine = arith::AndIOp::create(
                fb, l, isCta0,
                arith::CmpIOp::create(fb, l, arith::CmpIPredicate::eq, owner,
                                      selfIdx));
            auto wr = scf::IfOp::create(fb, l, mine, false);
            OpBuilder tb = OpBuilder::atBlockTerminator(wr.thenBlock());
            LLVM::StoreOp::create(
                tb, l, toI32(tb, l, run),
                elementAddress(tb, l, a.getOffsets(), i32, local));
            LLVM::StoreOp::create(
                tb, l, toI32(tb, l, next),
                elementAddress(tb, l, a.getOffsets(), i32,
                               arith::AddIOp::create(tb, l, local, idx(1))));
            scf::YieldOp::create(fb, l, ValueRange{next});
          });
      // Segment readiness: CTA 0 publishes the local `offsets` (release).
      if (Value flag = a.getOffsetsReady()) {
        auto wr = scf::IfOp::create(b, loc, isCta0, false);
        OpBuilder tb = OpBuilder::atBlockTerminator(wr.thenBlock());
        releaseAdd(tb, loc, flag);
      }
    }
    NVVM::Barrier0Op::create(b, loc);

    // Segment readiness, after each batch (SlotWalk::eachSlot's
    // afterBatch): each lane whose slot was routed adds 1 (release, system
    // scope) to seg_ready[e_l, self] on the slot's owner.
    auto signalRows = [&](OpBuilder &rb, Location l, Value id,
                          ValueRange placed) {
      Value localExpert =
          arith::RemUIOp::create(rb, l, toIndex(rb, l, id), idx(el));
      Value counter = elementAddress(
          rb, l, a.getSegReady(), rb.getI64Type(),
          arith::AddIOp::create(
              rb, l, arith::MulIOp::create(rb, l, localExpert, idx(ranks)),
              selfIdx));
      remoteAdd(rb, l, mapPeer(rb, l, counter, placed[1], bases, self), one64);
    };

    // 4. Slots in batches of 32 per warp (SlotWalk::eachSlot): a lane places
    // its slot on the owner and writes its row's weight, slot and source
    // rank there; the warp copies 16-byte pieces of each token's row.
    walk.eachSlot(
        b, loc, a.getSlotRows(), a.getX(), k, h, constants, 2,
        [&](OpBuilder &tb, Location l, Value s,
            Value id) -> SmallVector<Value> {
          Value row = takeRow(tb, l, a.getCursor(), table, id);
          Value s32 = toI32(tb, l, s);
          Value owner = LLVM::UDivOp::create(tb, l, id, i32c(tb, l, el));
          Value rowIdx = toIndex(tb, l, row);
          LLVM::StoreOp::create(tb, l, s32,
                                elementAddress(tb, l, a.getSlotRows(), i32, s));
          // The owner's row metadata: one shift for the three stores.
          Value shift = peerShift(tb, l, owner, bases, self);
          auto remote = [&](Value base, Type elem) {
            return gepBytes(tb, l, elementAddress(tb, l, base, elem, rowIdx),
                            shift);
          };
          Value w = LLVM::LoadOp::create(
              tb, l, f32, elementAddress(tb, l, a.getWeights(), f32, s));
          LLVM::StoreOp::create(tb, l, w, remote(a.getRowWeights(), f32));
          LLVM::StoreOp::create(tb, l, s32, remote(a.getRowSlots(), i32));
          LLVM::StoreOp::create(tb, l, self, remote(a.getRowRanks(), i32));
          return {row, owner};
        },
        [&](OpBuilder &cb, Location l, Value lane, Value src,
            ArrayRef<Value> placed) {
          Value row = placed[0], owner = placed[1];
          Value shift = peerShift(cb, l, owner, bases, self);
          if (Value scales = a.getRowScales()) {
            copyQuantized(cb, l, src, gepBytes(cb, l, a.getRows(), shift),
                          gepBytes(cb, l, scales, shift), toIndex(cb, l, row),
                          lane, h, constants, /*permuteK=*/false);
            return;
          }
          Value dst =
              gepBytes(cb, l,
                       elementAddress(cb, l, a.getRows(), cb.getBF16Type(),
                                      arith::MulIOp::create(
                                          cb, l, toIndex(cb, l, row), idx(h))),
                       shift);
          copyRowWarp(cb, l, src, dst, lane, h, constants);
        },
        a.getSegReady()
            ? function_ref<void(OpBuilder &, Location, Value, ValueRange)>(
                  signalRows)
            : nullptr);

    if (Value flag = a.getOffsetsReady()) {
      // No step 5: CTA 0's `offsets` (the flag); the rows are awaited
      // segment by segment.
      awaitOffsets(b, loc, isThread0, flag);
      rewriter.eraseOp(op);
      return success();
    }
    // 5. Every CTA's rows are out: `rows_done` on every rank, then wait for
    // every rank's rows.
    gridBarrier(b, loc, a.getBarrier(), phase + 1, 0, ntid32, 0);
    signalAll(a.getRowsDone());
    waitAll(a.getRowsDone(), 2);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateDispatchPatterns(const TypeConverter &converter,
                              RewritePatternSet &patterns) {
  patterns.add<DispatchLowering, EpDispatchLowering>(converter,
                                                     patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
