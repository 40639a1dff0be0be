//===- Activation.cpp - Lower moek activation epilogues ---------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The GEMM1 epilogue: the activations (SwiGLU, clamped SwiGLU, GELU-mul) and
// their stores in bf16 (moek.store_act), with FP8 requantization
// (moek.store_act_fp8), and from tensor memory (moek.acc_store_act_rows).
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <optional>

namespace mlir::moe::kernel::nvvm {

Value ex2(OpBuilder &b, Location loc, Value x) {
  return LLVM::InlineAsmOp::create(
             b, loc, TypeRange{b.getF32Type()}, ValueRange{x},
             "ex2.approx.f32 $0, $1;", "=f,f", /*has_side_effects=*/false,
             /*is_align_stack=*/false, LLVM::TailCallKind::None,
             LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

namespace {

/// n / d in f32 for d >= 1 (or NaN), without a branch: the reciprocal's
/// approximation refined by one Newton step, the quotient corrected by its
/// remainder (Markstein's sequence, as the fast path of the IEEE division
/// that nvcc and LLVM emit, whose FCHK and branch to a slow path
/// serialize a sequence of divisions). `ok` holds where the result is the
/// IEEE division's: d <= 2^100 and, unless n is a constant (`constantN`, 1
/// or 2), |n| <= 2^100 and |n / d| >= 2^-100, so that no step under- or
/// overflows; and d's significand not all ones, the one case where the
/// Newton step may miss the correctly rounded reciprocal (then the
/// quotient can land on the other side of a tie; the host model in
/// unittests/Codegen/DivisionTest.cpp finds no other case with the
/// approximation up to 2 ulps off). Elsewhere (a zero quotient, NaN,
/// infinities, extreme ranges, those divisors) the caller divides again.
std::pair<Value, Value> divideInRange(OpBuilder &b, Location loc, Value n,
                                      Value d, bool constantN) {
  Type f32 = b.getF32Type();
  auto f32c = [&](float v) -> Value {
    return LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };
  auto fma = [&](Value x, Value y, Value z) -> Value {
    return LLVM::FMAOp::create(b, loc, x, y, z);
  };
  Value negD = LLVM::FNegOp::create(b, loc, d);
  Value r0 = NVVM::RcpApproxFtzF32Op::create(b, loc, f32, d);
  Value r1 = fma(r0, fma(negD, r0, f32c(1.0f)), r0);
  Value q0 = LLVM::FMulOp::create(b, loc, n, r1);
  Value q = fma(fma(negD, q0, n), r1, q0);
  auto compare = [&](LLVM::FCmpPredicate p, Value x, float bound) -> Value {
    return LLVM::FCmpOp::create(b, loc, p, x, f32c(bound));
  };
  Value ok = compare(LLVM::FCmpPredicate::ole, d, 0x1p100f);
  Type i32 = b.getI32Type();
  Value significand = LLVM::AndOp::create(
      b, loc, LLVM::BitcastOp::create(b, loc, i32, d), i32c(b, loc, 0x7fffff));
  ok = LLVM::AndOp::create(b, loc, ok,
                           LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne,
                                                significand,
                                                i32c(b, loc, 0x7fffff)));
  if (!constantN) {
    ok =
        LLVM::AndOp::create(b, loc, ok,
                            compare(LLVM::FCmpPredicate::ole,
                                    LLVM::FAbsOp::create(b, loc, n), 0x1p100f));
    ok = LLVM::AndOp::create(b, loc, ok,
                             compare(LLVM::FCmpPredicate::oge,
                                     LLVM::FAbsOp::create(b, loc, q),
                                     0x1p-100f));
  }
  return {q, ok};
}

/// The gated activation `kind` of the f32 values `g` and `u`, with the
/// reference's formulas in its order (lib/Reference/Kernels.cpp; exp as
/// ex2.approx, erf by a polynomial of absolute error below 1.5e-7). With
/// `inRange`, its divisions are divideInRange's, and their `ok` is and-ed
/// into *inRange (true at first): where it ends false, the caller computes
/// the activation again without. With `approx` (moek.store_act {approx}),
/// n / d is n * rcp.approx(d), within 2 ulps of f32 (no fallback: every
/// divisor is at least 1, and 0, NaN and infinities give the division's
/// result).
Value activationOf(OpBuilder &b, Location loc, StringRef kind, float alpha,
                   float limit, Value g, Value u, Value *inRange = nullptr,
                   bool approx = false) {
  Type f32 = b.getF32Type();
  auto f32c = [&](float v) -> Value {
    return LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };
  // Every divisor below is 1 plus a non-negative value.
  auto divide = [&](Value n, Value d) -> Value {
    if (approx) {
      Value r = NVVM::RcpApproxFtzF32Op::create(b, loc, f32, d);
      auto c = n.getDefiningOp<LLVM::ConstantOp>();
      if (c && cast<FloatAttr>(c.getValue()).getValueAsDouble() == 1.0)
        return r;
      return LLVM::FMulOp::create(b, loc, n, r);
    }
    if (!inRange)
      return LLVM::FDivOp::create(b, loc, n, d);
    auto [q, ok] =
        divideInRange(b, loc, n, d, n.getDefiningOp<LLVM::ConstantOp>());
    *inRange = LLVM::AndOp::create(b, loc, *inRange, ok);
    return q;
  };
  auto mul = [&](Value x, Value y) -> Value {
    return LLVM::FMulOp::create(b, loc, x, y);
  };
  auto add = [&](Value x, Value y) -> Value {
    return LLVM::FAddOp::create(b, loc, x, y);
  };
  // 2^(s * log2(e) * x) = exp(s * x).
  auto exp = [&](Value x, float s) -> Value {
    return ex2(b, loc, mul(x, f32c(s * 1.4426950408889634f)));
  };
  // 1 / (1 + exp(-s * x)).
  auto sigmoid = [&](Value x, float s) -> Value {
    return divide(f32c(1.0f), add(f32c(1.0f), exp(x, -s)));
  };
  // erf (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
  auto erf = [&](Value x) -> Value {
    Value ax = LLVM::FAbsOp::create(b, loc, x);
    Value tt = divide(f32c(1.0f), add(f32c(1.0f), mul(f32c(0.3275911f), ax)));
    Value poly = f32c(1.061405429f);
    for (float c : {-1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f})
      poly = add(mul(poly, tt), f32c(c));
    poly = mul(poly, tt);
    Value y = LLVM::FSubOp::create(b, loc, f32c(1.0f),
                                   mul(poly, exp(mul(ax, ax), -1.0f)));
    return LLVM::CopySignOp::create(b, loc, y, x);
  };
  // tanh(x) = 1 - 2 / (exp(2x) + 1).
  auto tanh = [&](Value x) -> Value {
    return LLVM::FSubOp::create(
        b, loc, f32c(1.0f), divide(f32c(2.0f), add(exp(x, 2.0f), f32c(1.0f))));
  };
  if (kind == "clamped_swiglu") {
    g = LLVM::MinNumOp::create(b, loc, g, f32c(limit));
    u = LLVM::MinNumOp::create(
        b, loc, LLVM::MaxNumOp::create(b, loc, u, f32c(-limit)), f32c(limit));
    return mul(mul(g, sigmoid(g, alpha)), add(u, f32c(1.0f)));
  }
  if (kind == "gelu_mul") {
    Value half = mul(f32c(0.5f), g);
    return mul(mul(half, add(f32c(1.0f), erf(mul(g, f32c(0.70710678f))))), u);
  }
  if (kind == "gelu_tanh_mul") {
    Value cube = mul(mul(mul(f32c(0.044715f), g), g), g);
    Value inner = mul(f32c(0.7978845608f), add(g, cube));
    Value half = mul(f32c(0.5f), g);
    return mul(mul(half, add(f32c(1.0f), tanh(inner))), u);
  }
  if (approx)
    return mul(divide(g, add(f32c(1.0f), exp(g, -1.0f))), u);
  // swiglu: g / (1 + exp(-g)) * u. A zero g (the zero rows past a tile's
  // end, many at decode) takes the IEEE division's slow path, a subroutine
  // of ~40 instructions that a warp runs when any lane needs it: a zero g
  // divides 1 instead and keeps its own value, the quotient's (+-0 / d,
  // d = 2), so the result is the division's, bit for bit. (The dividend
  // passes through an asm move: LLVM folds the selects back into g / d.)
  Value zero =
      LLVM::FCmpOp::create(b, loc, LLVM::FCmpPredicate::oeq, g, f32c(0.0f));
  Value safe =
      LLVM::InlineAsmOp::create(
          b, loc, TypeRange{f32},
          ValueRange{LLVM::SelectOp::create(b, loc, zero, f32c(1.0f), g)},
          "mov.b32 $0, $1;", "=f,f", /*has_side_effects=*/false,
          /*is_align_stack=*/false, LLVM::TailCallKind::None,
          LLVM::AsmDialectAttr(), ArrayAttr())
          .getResult(0);
  Value q = divide(safe, add(f32c(1.0f), exp(g, -1.0f)));
  return mul(LLVM::SelectOp::create(b, loc, zero, g, q), u);
}

/// The activations a chunk of chunkedActivations in the bf16 kernels, whose
/// 168 registers a thread hold the 128 accumulator values and, with FP4
/// weights, their expansion's: larger chunks spill. GELU-mul (erf's
/// polynomial) in the bf16 x MXFP4 kernel spilled 60 bytes at 8 and 20 at
/// 4, in the bf16 x NVFP4 one 8 at 2; clamped SwiGLU in gpt-oss-120b's
/// bf16 x MXFP4 and x NVFP4 layers 64 and 72 bytes at 8. So the GELU forms
/// take one at a time, the SwiGLU forms 4. (The FP8 kernel's store takes 8
/// of every form: 32 spilled 216 bytes, 16 up to 28.)
int64_t activationChunk(StringRef kind) {
  return kind.starts_with("gelu") ? 1 : 4;
}

/// value(b, 0) ... value(b, count - 1), the activations of an epilogue,
/// `chunkSize` at a time with divideInRange's divisions (`inRange`, for
/// activationOf): no branch between them, where the IEEE division's FCHK
/// and branch would serialize them. A chunk with any division outside its
/// range is computed again with `inRange` null, the IEEE division (a
/// branch a warp takes only where one of its lanes needs it).
SmallVector<Value>
chunkedActivations(OpBuilder &b, Location loc, int64_t chunkSize, int64_t count,
                   function_ref<Value(OpBuilder &, int64_t, Value *)> value) {
  SmallVector<Value> vals;
  for (int64_t first = 0; first < count; first += chunkSize) {
    int64_t end = std::min(count, first + chunkSize);
    auto compute = [&](OpBuilder &ob, Value *inRange) {
      SmallVector<Value> chunk;
      for (int64_t v = first; v < end; ++v)
        chunk.push_back(value(ob, v, inRange));
      return chunk;
    };
    Value inRange =
        LLVM::ConstantOp::create(b, loc, b.getI1Type(), b.getBoolAttr(true));
    SmallVector<Value> fast = compute(b, &inRange);
    auto again = scf::IfOp::create(b, loc, TypeRange(ValueRange(fast)), inRange,
                                   /*withElseRegion=*/true);
    OpBuilder tb = OpBuilder::atBlockEnd(again.thenBlock());
    scf::YieldOp::create(tb, loc, fast);
    OpBuilder eb = OpBuilder::atBlockEnd(again.elseBlock());
    scf::YieldOp::create(eb, loc, compute(eb, nullptr));
    llvm::append_range(vals, again.getResults());
  }
  return vals;
}

/// value(b, 0) ... value(b, count - 1): with `approx` (every division
/// n * rcp.approx(d), nothing to fall back from) in one sequence, without
/// it chunkedActivations'.
SmallVector<Value>
activationValues(OpBuilder &b, Location loc, bool approx, int64_t chunkSize,
                 int64_t count,
                 function_ref<Value(OpBuilder &, int64_t, Value *)> value) {
  if (!approx)
    return chunkedActivations(b, loc, chunkSize, count, value);
  SmallVector<Value> vals;
  for (int64_t v = 0; v < count; ++v)
    vals.push_back(value(b, v, nullptr));
  return vals;
}

/// Row `row0 + 8 * half` of an epilogue that every lane runs (its quad's
/// shuffles need all of them): the row, whether it lies below `rowLimit`,
/// and its router weight from `rowWeights` (null without), read at
/// min(row, lastRow) so that rows past the limit read the last row's.
std::tuple<Value, Value, Value> epilogueRow(OpBuilder &b, Location loc,
                                            Value row0, int half,
                                            Value rowLimit, Value lastRow,
                                            Value rowWeights) {
  Type f32 = b.getF32Type();
  Value row = arith::AddIOp::create(
      b, loc, row0, arith::ConstantIndexOp::create(b, loc, 8 * half));
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, row, rowLimit);
  Value rw;
  if (rowWeights)
    rw = LLVM::LoadOp::create(
        b, loc, f32,
        elementAddress(b, loc, rowWeights, f32,
                       arith::MinSIOp::create(b, loc, row, lastRow)));
  return {row, inside, rw};
}

struct StoreActFp8Lowering : OpConversionPattern<StoreActFp8Op> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreActFp8Op op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    // Fragment value 4j + 2h + e of both accumulators is at row
    // fragmentRow + 8h, column 8j + 2(l%4) + e: a row's 128 columns are in
    // the 4 lanes of a quad, so its amax is the quad's maximum.
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    Type g1 = op.getGemm1Type();
    int64_t ld = op.getLdAttr().getInt();
    float alpha = op.getAlpha().convertToFloat(),
          limit = op.getLimit().convertToFloat();
    auto toBF16 = [&](OpBuilder &ob, Value x) -> Value {
      return LLVM::FPExtOp::create(
          ob, loc, f32, LLVM::FPTruncOp::create(ob, loc, ob.getBF16Type(), x));
    };
    Value lane =
        LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
    Value quad = LLVM::URemOp::create(b, loc, lane, i32c(b, loc, 4));
    Value row0 = arith::AddIOp::create(b, loc, a.getRow(),
                                       toIndex(b, loc, fragmentRow(b, loc)));
    Value col0 =
        toI64(b, loc,
              arith::AddIOp::create(
                  b, loc, a.getCol(),
                  toIndex(b, loc,
                          LLVM::MulOp::create(b, loc, quad, i32c(b, loc, 2)))));
    Value lastRow = arith::SubIOp::create(
        b, loc, a.getRowLimit(), arith::ConstantIndexOp::create(b, loc, 1));
    Value zero = LLVM::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.0f));
    // The warp's first row of each half (rows warp * 16 + 8 * half + 0..7).
    Value warpRow0 = arith::AddIOp::create(
        b, loc, a.getRow(), toIndex(b, loc, fragmentWarpRow(b, loc)));
    auto warpHasRows = [&](int half) -> Value {
      return arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::slt,
          arith::AddIOp::create(
              b, loc, warpRow0,
              arith::ConstantIndexOp::create(b, loc, 8 * half)),
          a.getRowLimit());
    };
    // With `half`, columns 64 h to 64 h + 63: groups j of 8 h to 8 h + 7.
    std::optional<int64_t> colHalf = op.getHalf();
    int64_t jBegin = colHalf ? 8 * *colHalf : 0,
            jEnd = colHalf ? jBegin + 8 : 16;
    int64_t numVals = 2 * (jEnd - jBegin);
    // Row half `half`'s activations of groups [jBegin, jEnd)
    // (activationValues), rounded to bf16; `rw` its router weight.
    bool approx = op.getApprox();
    auto activations = [&](OpBuilder &ob, int half, Value rw) {
      auto value = [&](OpBuilder &ab, int64_t v, Value *inRange) {
        int64_t j = jBegin + v / 2, e = v % 2;
        auto field = [&](Value acc) -> Value {
          Value x = LLVM::ExtractValueOp::create(
              ab, loc, acc, ArrayRef<int64_t>{4 * j + 2 * half + e});
          return g1.isBF16() ? toBF16(ab, x) : x;
        };
        Value act =
            activationOf(ab, loc, op.getActivation(), alpha, limit,
                         field(a.getGate()), field(a.getUp()), inRange, approx);
        if (rw)
          act = LLVM::FMulOp::create(ab, loc, act, rw);
        return toBF16(ab, act);
      };
      return activationValues(ob, loc, approx, /*chunkSize=*/8, numVals, value);
    };
    // The quad's amax of `vals` (every lane of the warp runs it).
    auto quadAmax = [&](OpBuilder &ob, ArrayRef<Value> vals) {
      Value amax = zero;
      for (Value v : vals)
        amax = LLVM::MaxNumOp::create(ob, loc, amax, finiteAbs(ob, loc, v));
      return maxOverLanes(ob, loc, amax, 4);
    };
    // Quantizes `vals` (groups [jBegin, jEnd) of row `row`) with the block's
    // `amax` and stores them, and the scale if `storeScale`, where `inside`.
    auto quantizeAndStore = [&](OpBuilder &ob, ArrayRef<Value> vals, Value amax,
                                Value row, Value inside, bool storeScale) {
      auto [scale, inv] = fp8BlockScale(ob, loc, amax);
      SmallVector<Value> packed;
      for (int64_t p = 0; p < numVals / 2; ++p)
        packed.push_back(
            toE4m3x2(ob, loc, LLVM::FMulOp::create(ob, loc, vals[2 * p], inv),
                     LLVM::FMulOp::create(ob, loc, vals[2 * p + 1], inv)));
      auto ifOp = scf::IfOp::create(ob, loc, inside, false);
      OpBuilder tb = OpBuilder::atBlockTerminator(ifOp.thenBlock());
      Value rowOffset =
          LLVM::MulOp::create(tb, loc, toI64(tb, loc, row), i64c(tb, loc, ld));
      // Column 8j + 2q (+ 1) is logical word 2j + q / 2 of the block; with
      // permute_k its byte is 4 (8 (j % 4) + 4 (q / 2) + j / 4) + 2 (q % 2):
      // the lane's part, col + 16 (q / 2) + 2 (q % 2), plus a constant.
      Value permutedCol;
      if (op.getPermuteK())
        permutedCol = LLVM::AddOp::create(
            tb, loc, toI64(tb, loc, a.getCol()),
            LLVM::ZExtOp::create(
                tb, loc, tb.getI64Type(),
                LLVM::AddOp::create(
                    tb, loc,
                    LLVM::ShlOp::create(
                        tb, loc,
                        LLVM::LShrOp::create(tb, loc, quad, i32c(tb, loc, 1)),
                        i32c(tb, loc, 4)),
                    LLVM::ShlOp::create(
                        tb, loc,
                        LLVM::AndOp::create(tb, loc, quad, i32c(tb, loc, 1)),
                        i32c(tb, loc, 1)))));
      for (int64_t j = jBegin; j < jEnd; ++j) {
        Value colJ =
            permutedCol
                ? LLVM::AddOp::create(tb, loc, permutedCol,
                                      i64c(tb, loc, 32 * (j % 4) + 4 * (j / 4)))
                : LLVM::AddOp::create(tb, loc, col0, i64c(tb, loc, 8 * j));
        Value index = LLVM::AddOp::create(tb, loc, rowOffset, colJ);
        Value addr =
            LLVM::GEPOp::create(tb, loc, a.getOut().getType(), tb.getI8Type(),
                                a.getOut(), ValueRange{index});
        LLVM::StoreOp::create(tb, loc, packed[j - jBegin], addr, 2);
      }
      if (!storeScale)
        return;
      // The scale, once per row (lane 0 of the quad).
      Value first = LLVM::ICmpOp::create(tb, loc, LLVM::ICmpPredicate::eq, quad,
                                         i32c(tb, loc, 0));
      auto sIf = scf::IfOp::create(tb, loc, first, false);
      OpBuilder sb = OpBuilder::atBlockTerminator(sIf.thenBlock());
      // Row-major (ld / 128 a row) or, with scales_stride, block-major.
      int64_t stride = op.getScalesStrideAttr().getInt();
      Value block = LLVM::UDivOp::create(sb, loc, toI64(sb, loc, a.getCol()),
                                         i64c(sb, loc, 128));
      Value sIndex =
          stride
              ? LLVM::AddOp::create(
                    sb, loc,
                    LLVM::MulOp::create(sb, loc, block, i64c(sb, loc, stride)),
                    toI64(sb, loc, row))
              : LLVM::AddOp::create(
                    sb, loc,
                    LLVM::MulOp::create(sb, loc, toI64(sb, loc, row),
                                        i64c(sb, loc, ld / 128)),
                    block);
      LLVM::StoreOp::create(
          sb, loc, scale,
          LLVM::GEPOp::create(sb, loc, a.getScales().getType(), f32,
                              a.getScales(), ValueRange{sIndex}),
          4);
    };
    if (!colHalf) {
      for (int half = 0; half < 2; ++half) {
        // A warp whose eight rows of this half all lie past the limit skips
        // it (at decode most do: a 64-row tile holds a few rows).
        OpBuilder::InsertionGuard guard(b);
        auto skip = scf::IfOp::create(b, loc, warpHasRows(half),
                                      /*withElseRegion=*/false);
        b.setInsertionPoint(skip.thenBlock()->getTerminator());
        // Every lane of the warp computes (the quad's shuffles need all of
        // them); rows past the limit read the last row's weight and store
        // nothing.
        auto [row, inside, rw] = epilogueRow(
            b, loc, row0, half, a.getRowLimit(), lastRow, a.getRowWeights());
        SmallVector<Value> vals = activations(b, half, rw);
        quantizeAndStore(b, vals, quadAmax(b, vals), row, inside,
                         /*storeScale=*/true);
      }
      rewriter.eraseOp(op);
      return success();
    }
    // Half h of the columns: each row half's activations and the quad's
    // amax over them (a warp without rows in a row half skips its work and
    // yields zeros), the amax into this half's 64 floats of `amax` (row r
    // of the tile at 64 h + r), named barrier with the other half's
    // warpgroup, the row's amax the larger of the two.
    Value rowInTile = fragmentRow(b, loc);
    Value quad0 = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, quad,
                                       i32c(b, loc, 0));
    auto amaxSlot = [&](int64_t h, int half) {
      Value r = LLVM::AddOp::create(b, loc, rowInTile,
                                    i32c(b, loc, 64 * h + 8 * half));
      return LLVM::GEPOp::create(b, loc, a.getAmax().getType(), f32,
                                 a.getAmax(), ValueRange{r});
    };
    for (int half = 0; half < 2; ++half) {
      auto [row, inside, rw] = epilogueRow(b, loc, row0, half, a.getRowLimit(),
                                           lastRow, a.getRowWeights());
      SmallVector<Type> types(numVals + 1, f32);
      auto ifOp = scf::IfOp::create(b, loc, types, warpHasRows(half),
                                    /*withElseRegion=*/true);
      {
        OpBuilder tb = OpBuilder::atBlockEnd(ifOp.thenBlock());
        SmallVector<Value> v = activations(tb, half, rw);
        v.push_back(quadAmax(tb, v));
        scf::YieldOp::create(tb, loc, v);
      }
      OpBuilder eb = OpBuilder::atBlockEnd(ifOp.elseBlock());
      scf::YieldOp::create(eb, loc, SmallVector<Value>(numVals + 1, zero));
      SmallVector<Value> vals(ifOp.getResults().begin(),
                              ifOp.getResults().begin() + numVals);
      Value amax = ifOp.getResult(numVals);
      {
        auto wIf = scf::IfOp::create(b, loc, quad0, false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(wIf.thenBlock()->getTerminator());
        LLVM::StoreOp::create(b, loc, amax, amaxSlot(*colHalf, half), 4);
      }
      namedBarrier(b, loc, i32c(b, loc, op.getBarrierAttr().getInt()),
                   i32c(b, loc, 2 * kWarpgroupThreads), /*wait=*/true);
      Value other =
          LLVM::LoadOp::create(b, loc, f32, amaxSlot(1 - *colHalf, half), 4);
      quantizeAndStore(b, vals, LLVM::MaxNumOp::create(b, loc, amax, other),
                       row, inside, /*storeScale=*/*colHalf == 0);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

struct StoreActLowering : OpConversionPattern<StoreActOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(StoreActOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    // The fragment layout of moek.store_acc: thread t holds d[4j + 2h + e]
    // at row 16w + l/4 + 8h, column 8j + 2(l%4) + e. Concatenated: gate
    // column c < 128 is block j < 16 and its up column c + 128 block j + 16,
    // in the same thread, so each thread makes output columns 8j + 2(l%4)
    // and +1 (j < 16). Interleaved: columns 2p and 2p + 1 are the gate and
    // up of output column p, i.e. e = 0 and 1 of one block j, so each thread
    // makes output column 4j + l%4 (j < 32).
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    Type elem = op.getElementType(), g1 = op.getGemm1Type();
    int64_t elemBytes = elem.isBF16() ? 2 : 4;
    int64_t ld = op.getLdAttr().getInt();
    StringRef kind = op.getActivation();
    bool interleaved = op.getLayout() == "interleaved";
    float alpha = op.getAlpha().convertToFloat(),
          limit = op.getLimit().convertToFloat();
    Value lane =
        LLVM::URemOp::create(b, loc, threadIdX(b, loc), i32c(b, loc, 32));
    Value quad = LLVM::URemOp::create(b, loc, lane, i32c(b, loc, 4));
    Value rowInTile = fragmentRow(b, loc);
    Value colInTile =
        interleaved ? quad : LLVM::MulOp::create(b, loc, quad, i32c(b, loc, 2));
    Value row0 =
        arith::AddIOp::create(b, loc, a.getRow(), toIndex(b, loc, rowInTile));
    Value col0 = toI64(
        b, loc,
        arith::AddIOp::create(b, loc, a.getCol(), toIndex(b, loc, colInTile)));
    auto round = [&](OpBuilder &ob, Value x) -> Value {
      if (!g1.isBF16())
        return x;
      return LLVM::FPExtOp::create(
          ob, loc, f32, LLVM::FPTruncOp::create(ob, loc, ob.getBF16Type(), x));
    };
    Value acc = a.getAcc();
    auto field = [&](OpBuilder &ob, int64_t i) -> Value {
      return round(
          ob, LLVM::ExtractValueOp::create(ob, loc, acc, ArrayRef<int64_t>{i}));
    };
    // Per output group: (fragment index of each gate value, of its up
    // value, column offset of the group): concatenated, pairs of columns;
    // interleaved, single columns.
    int64_t perGroup = interleaved ? 1 : 2;
    int64_t groups = interleaved ? 32 : 16;
    auto vecOut = VectorType::get({perGroup}, elem);
    auto vecF32 = VectorType::get({perGroup}, f32);
    // Element e of output group j in row half `half`: the activation of its
    // gate and up values, times the router weight `rw` if given; a half's
    // 32 values (group v / perGroup, element v % perGroup) kChunk at a time
    // (chunkedActivations).
    // With `approx`, one sequence with no fallback (activationValues).
    bool approx = op.getApprox();
    auto halfValues = [&](int half, Value rw) {
      auto value = [&](OpBuilder &ob, int64_t v, Value *inRange) {
        int64_t j = v / perGroup, e = v % perGroup;
        Value gate = interleaved ? field(ob, 4 * j + 2 * half)
                                 : field(ob, 4 * j + 2 * half + e);
        Value up = interleaved ? field(ob, 4 * j + 2 * half + 1)
                               : field(ob, 4 * (j + 16) + 2 * half + e);
        Value out = activationOf(ob, loc, kind, alpha, limit, gate, up, inRange,
                                 approx);
        return rw ? LLVM::FMulOp::create(ob, loc, out, rw).getResult() : out;
      };
      return activationValues(b, loc, approx, activationChunk(kind), 32, value);
    };
    // Output group j's value (or pair) `stored` of the row at `rowOffset`
    // (elements), unless its column lies past `ld`.
    auto storeGroup = [&](Value rowOffset, int64_t j, Value stored,
                          int64_t bytes) {
      Value colJ = LLVM::AddOp::create(
          b, loc, col0, i64c(b, loc, interleaved ? 4 * j : 8 * j));
      Value addr = LLVM::GEPOp::create(
          b, loc, a.getOut().getType(), elem, a.getOut(),
          ValueRange{LLVM::AddOp::create(b, loc, rowOffset, colJ)});
      Value inCols = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt,
                                          colJ, i64c(b, loc, ld));
      auto colIf = scf::IfOp::create(b, loc, inCols, false);
      OpBuilder cb = OpBuilder::atBlockTerminator(colIf.thenBlock());
      LLVM::StoreOp::create(cb, loc, stored, addr, bytes);
    };
    if (op.getMxRound()) {
      // Each 1x32 block of a row is 8 values of each lane of a quad (groups
      // 4b..4b+3 concatenated, 8b..8b+7 interleaved): every lane computes
      // its values and the blocks' MXFP8 rounding (shuffles need the whole
      // warp), then stores under the row test; rows past the limit read
      // the last row's router weight.
      auto bf16Pair = VectorType::get({2}, b.getBF16Type());
      Value lastRow = arith::SubIOp::create(
          b, loc, a.getRowLimit(), arith::ConstantIndexOp::create(b, loc, 1));
      Value warpRow0 = arith::AddIOp::create(
          b, loc, a.getRow(), toIndex(b, loc, fragmentWarpRow(b, loc)));
      for (int half = 0; half < 2; ++half) {
        // A warp whose eight rows of this half all lie past the limit skips
        // it.
        OpBuilder::InsertionGuard guard(b);
        auto warpHasRows = scf::IfOp::create(
            b, loc,
            arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::slt,
                arith::AddIOp::create(
                    b, loc, warpRow0,
                    arith::ConstantIndexOp::create(b, loc, 8 * half)),
                a.getRowLimit()),
            /*withElseRegion=*/false);
        b.setInsertionPoint(warpHasRows.thenBlock()->getTerminator());
        auto [row, inside, rw] = epilogueRow(
            b, loc, row0, half, a.getRowLimit(), lastRow, a.getRowWeights());
        SmallVector<Value> outs;
        for (Value v : halfValues(half, rw))
          outs.push_back(LLVM::FPExtOp::create(
              b, loc, f32,
              LLVM::FPTruncOp::create(b, loc, b.getBF16Type(), v)));
        SmallVector<Value> pairs;
        for (int64_t blk = 0; blk < 4; ++blk)
          llvm::append_range(
              pairs,
              mxfp8RoundPairs(b, loc, ArrayRef(outs).slice(8 * blk, 8), 4));
        auto ifOp = scf::IfOp::create(b, loc, inside, false);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        Value rowOffset =
            LLVM::MulOp::create(b, loc, toI64(b, loc, row), i64c(b, loc, ld));
        for (int64_t j = 0; j < groups; ++j) {
          Value stored = LLVM::BitcastOp::create(
              b, loc, bf16Pair, pairs[interleaved ? j / 2 : j]);
          if (interleaved)
            stored = LLVM::ExtractElementOp::create(b, loc, stored,
                                                    i32c(b, loc, j % 2));
          storeGroup(rowOffset, j, stored, perGroup * 2);
        }
      }
      rewriter.eraseOp(op);
      return success();
    }
    for (int half = 0; half < 2; ++half) {
      Value row = arith::AddIOp::create(
          b, loc, row0, arith::ConstantIndexOp::create(b, loc, 8 * half));
      Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                           row, a.getRowLimit());
      auto ifOp = scf::IfOp::create(b, loc, inside, false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value rw;
      if (a.getRowWeights())
        rw = LLVM::LoadOp::create(
            b, loc, f32, elementAddress(b, loc, a.getRowWeights(), f32, row));
      Value rowOffset =
          LLVM::MulOp::create(b, loc, toI64(b, loc, row), i64c(b, loc, ld));
      SmallVector<Value> vals = halfValues(half, rw);
      for (int64_t j = 0; j < groups; ++j) {
        Value v = LLVM::UndefOp::create(b, loc, vecF32);
        for (int64_t e = 0; e < perGroup; ++e)
          v = LLVM::InsertElementOp::create(b, loc, v, vals[perGroup * j + e],
                                            i32c(b, loc, e));
        Value stored = v;
        if (!elem.isF32())
          stored = LLVM::FPTruncOp::create(b, loc, vecOut, v);
        if (perGroup == 1)
          stored =
              LLVM::ExtractElementOp::create(b, loc, stored, i32c(b, loc, 0));
        storeGroup(rowOffset, j, stored, perGroup * elemBytes);
      }
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.acc_store_act_rows: thread t's row r = t mod 128 is tensor-memory
/// lane r (accColumns, the warp's lane quarter as moek.acc_store_rows).
/// Per 16 outputs: concatenated, the gate columns and the up columns 128
/// further (one .32x32b.x16 load each); interleaved, the 32 columns of
/// their gate/up pairs (one .x32 load). The loads run on every lane
/// (.sync.aligned); the rest only for rows below the limit.
struct AccStoreActRowsLowering : OpConversionPattern<AccStoreActRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AccStoreActRowsOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    Type elem = op.getElementType(), g1 = op.getGemm1Type();
    int64_t ld = op.getLdAttr().getInt(), cols = op.getColsAttr().getInt();
    bool interleaved = op.getLayout() == "interleaved";
    float alpha = op.getAlpha().convertToFloat(),
          limit = op.getLimit().convertToFloat();
    // Outputs per step: 16 (32 loaded values live at a time).
    constexpr int64_t kChunk = 16;
    Value r, base; // captured by the lambdas below: no structured binding
    std::tie(r, base) =
        threadRowLane(b, loc, op, op.getAccs().getType(), a.getIndex(),
                      arith::ConstantIndexOp::create(b, loc, 0));
    // MXFP8 rows are bytes.
    Type rowElem = isa<Float8E4M3FNType>(elem) ? b.getI8Type() : elem;
    auto [rowBase, inside] = threadRowBase(b, loc, a.getOut(), rowElem,
                                           a.getRow(), r, a.getRowLimit(), ld);
    Value row = arith::AddIOp::create(b, loc, a.getRow(), toIndex(b, loc, r));
    Value first = toI32(b, loc, a.getFirstCol());
    Value col0 = toI64(b, loc, a.getCol());
    // Accumulator value c of v (plus `bias`, before the rounding), rounded
    // to gemm1_type.
    auto value = [&](OpBuilder &ob, Value v, int64_t c,
                     Value bias = Value()) -> Value {
      Value x = LLVM::BitcastOp::create(
          ob, loc, f32,
          LLVM::ExtractElementOp::create(ob, loc, v, i32c(ob, loc, c)));
      if (bias)
        x = LLVM::FAddOp::create(ob, loc, x, bias);
      if (!g1.isBF16())
        return x;
      return LLVM::FPExtOp::create(
          ob, loc, f32, LLVM::FPTruncOp::create(ob, loc, ob.getBF16Type(), x));
    };
    // The up values of output column c: c + C / 2 (concat).
    int64_t upOffset = op.getAccs().getType().getCols() / 2;
    // Output columns first + chunk `width` ...: their gate and up values
    // (interleaved: one load of their pairs; lo and hi the same).
    auto load = [&](int64_t chunk, int64_t width) -> std::pair<Value, Value> {
      Value out0 =
          LLVM::AddOp::create(b, loc, first, i32c(b, loc, width * chunk));
      Value lo, hi;
      if (interleaved) {
        lo = hi = loadLaneColumns(
            b, loc,
            LLVM::AddOp::create(
                b, loc, base,
                LLVM::MulOp::create(b, loc, out0, i32c(b, loc, 2))),
            2 * width);
      } else {
        lo = loadLaneColumns(b, loc, LLVM::AddOp::create(b, loc, base, out0),
                             width);
        hi = loadLaneColumns(
            b, loc,
            LLVM::AddOp::create(
                b, loc, base,
                LLVM::AddOp::create(b, loc, out0, i32c(b, loc, upOffset))),
            width);
      }
      waitLaneLoads(b, loc);
      return {lo, hi};
    };
    // The per-expert bias of output columns o = `out0` + c (c < count): of
    // w13's rows o and o + I (concatenated) or 2o and 2o + 1 (interleaved).
    auto biases = [&](Value out0, int64_t count)
        -> std::pair<SmallVector<Value>, SmallVector<Value>> {
      if (!a.getBias())
        return {};
      Type type = op.getBiasTypeAttr().getValue();
      int64_t bld = op.getBiasLdAttr().getInt();
      Value gate0 = interleaved
                        ? LLVM::MulOp::create(b, loc, out0, i64c(b, loc, 2))
                        : out0;
      Value up0 = LLVM::AddOp::create(b, loc, gate0,
                                      i64c(b, loc, interleaved ? 1 : bld / 2));
      int64_t stride = interleaved ? 2 : 1;
      return {loadBiasColumns(b, loc, a.getBias(), a.getBiasRow(), type, bld,
                              gate0, count, stride),
              loadBiasColumns(b, loc, a.getBias(), a.getBiasRow(), type, bld,
                              up0, count, stride)};
    };
    // Outputs 0 .. count - 1 of the loaded chunk (its first output column
    // `out0`), with the IEEE division (chunkedActivations is measured on
    // the H200 only; no Blackwell GPU has run these kernels).
    auto outputs = [&](Value lo, Value hi, Value rw, int64_t count,
                       Value out0) {
      auto [gb, ub] = biases(out0, count);
      SmallVector<Value> outs;
      for (int64_t c = 0; c < count; ++c) {
        Value g =
            value(b, lo, interleaved ? 2 * c : c, gb.empty() ? Value() : gb[c]);
        Value u = value(b, hi, interleaved ? 2 * c + 1 : c,
                        ub.empty() ? Value() : ub[c]);
        Value o = activationOf(b, loc, op.getActivation(), alpha, limit, g, u);
        outs.push_back(rw ? LLVM::FMulOp::create(b, loc, o, rw).getResult()
                          : o);
      }
      return outs;
    };
    auto rowWeight = [&]() -> Value {
      if (!a.getRowWeights())
        return Value();
      return LLVM::LoadOp::create(
          b, loc, f32, elementAddress(b, loc, a.getRowWeights(), f32, row));
    };
    if (Value scales = a.getOutScales()) {
      // MXFP8: a 1x32 block per step, rounded to bf16, quantized in the
      // thread (the block is its own), 32 e4m3 bytes and the scale byte.
      // No column mask: ld is a multiple of 32, the block inside or out.
      Value scaleRow = elementAddress(
          b, loc, scales, b.getI8Type(),
          arith::MulIOp::create(
              b, loc, row, arith::ConstantIndexOp::create(b, loc, ld / 32)));
      for (int64_t chunk = 0; chunk < cols / 32; ++chunk) {
        auto [lo, hi] = load(chunk, 32);
        auto ifOp = scf::IfOp::create(b, loc, inside, false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        Value rw = rowWeight();
        SmallVector<Value> vals;
        for (Value o : outputs(
                 lo, hi, rw, 32,
                 LLVM::AddOp::create(b, loc, col0, i64c(b, loc, 32 * chunk))))
          vals.push_back(LLVM::FPExtOp::create(
              b, loc, f32,
              LLVM::FPTruncOp::create(b, loc, b.getBF16Type(), o)));
        Mxfp8Block block = mxfp8Quantize(b, loc, vals, 1);
        Value colAt =
            LLVM::AddOp::create(b, loc, col0, i64c(b, loc, 32 * chunk));
        auto vec8 = VectorType::get({8}, b.getI16Type());
        for (int64_t half = 0; half < 2; ++half) {
          Value piece = LLVM::UndefOp::create(b, loc, vec8);
          for (int64_t p = 0; p < 8; ++p)
            piece = LLVM::InsertElementOp::create(
                b, loc, piece, block.pairs[8 * half + p], i32c(b, loc, p));
          LLVM::StoreOp::create(
              b, loc, piece,
              gepBytes(
                  b, loc, rowBase,
                  LLVM::AddOp::create(b, loc, colAt, i64c(b, loc, 16 * half))),
              16);
        }
        LLVM::StoreOp::create(
            b, loc, block.scaleByte(b, loc),
            gepBytes(b, loc, scaleRow,
                     LLVM::UDivOp::create(b, loc, colAt, i64c(b, loc, 32))),
            1);
      }
      rewriter.eraseOp(op);
      return success();
    }
    for (int64_t chunk = 0; chunk < cols / kChunk; ++chunk) {
      Value lo, hi;
      std::tie(lo, hi) = load(chunk, kChunk);
      auto ifOp = scf::IfOp::create(b, loc, inside, false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      SmallVector<Value> vals = outputs(
          lo, hi, rowWeight(), kChunk,
          LLVM::AddOp::create(b, loc, col0, i64c(b, loc, kChunk * chunk)));
      storeRowValues(
          b, loc, elem, rowBase,
          LLVM::AddOp::create(b, loc, col0, i64c(b, loc, kChunk * chunk)),
          kChunk, ld, /*maskCols=*/true,
          [&](int64_t c) -> Value { return vals[c]; });
    }
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateActivationPatterns(const TypeConverter &converter,
                                RewritePatternSet &patterns,
                                bool tensorMemory) {
  patterns.add<StoreActLowering, StoreActFp8Lowering>(converter,
                                                      patterns.getContext());
  if (tensorMemory)
    patterns.add<AccStoreActRowsLowering>(converter, patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
