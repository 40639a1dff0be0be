//===- RouteAndCombine.cpp - Lower moek routing and combine -----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Routing in the kernel (moek.route: top-k from logits), rows returned to
// their GPU (moek.return_rows) and the deterministic combine (moek.combine).
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <limits>
#include <map>

namespace mlir::moe::kernel::nvvm {

namespace {

/// The calling thread's lane, its warp's index over the grid (warps
/// `warps` a CTA, from thread `first`) and the grid's warp count, as index
/// values: the warp-per-row loops of the ops that end a kernel
/// (moek.combine, moek.return_rows). The lane is %laneid, not tid % 32: a
/// lane index shared with the kernel's first phase would stay live
/// (spilled) in between.
struct GridWarps {
  Value lane, warp, count;
};
GridWarps gridWarps(OpBuilder &b, Location loc, int64_t first, int64_t warps) {
  Type i32 = b.getI32Type();
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value tid = toIndex(b, loc, threadIdX(b, loc));
  Value rel = arith::SubIOp::create(b, loc, tid, idx(first));
  Value bid = toIndex(b, loc, NVVM::BlockIdXOp::create(b, loc, i32));
  Value grid = toIndex(b, loc, NVVM::GridDimXOp::create(b, loc, i32));
  return {toIndex(b, loc, NVVM::LaneIdOp::create(b, loc, i32)),
          arith::AddIOp::create(b, loc,
                                arith::MulIOp::create(b, loc, bid, idx(warps)),
                                arith::DivUIOp::create(b, loc, rel, idx(32))),
          arith::MulIOp::create(b, loc, grid, idx(warps))};
}

/// moek.return_rows: one received row per warp, back to its source slot.
struct ReturnRowsLowering : OpConversionPattern<ReturnRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReturnRowsOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type i32 = b.getI32Type();
    int64_t h = op.getHiddenAttr().getInt(),
            first = op.getFirstThreadAttr().getInt(),
            warps = op.getThreadsAttr().getInt() / 32;
    std::map<int64_t, Value> constants;
    for (int64_t v :
         {int64_t(0), int64_t(8), int64_t(32), h, h - 8, first, warps})
      constants.try_emplace(v, arith::ConstantIndexOp::create(b, loc, v));
    for (int64_t u = 1; u <= kCopyUnroll; ++u)
      constants.try_emplace(256 * u,
                            arith::ConstantIndexOp::create(b, loc, 256 * u));
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    GridWarps g = gridWarps(b, loc, first, warps);
    Value lane = g.lane, gwarp = g.warp, nwarps = g.count;
    Value count =
        toIndex(b, loc,
                loadI32Volatile(
                    b, loc,
                    elementAddress(b, loc, a.getOffsets(), i32,
                                   arith::ConstantIndexOp::create(
                                       b, loc, op.getExpertsAttr().getInt()))));
    scf::ForOp::create(
        b, loc, gwarp, count, nwarps, ValueRange{},
        [&](OpBuilder &fb, Location l, Value r, ValueRange) {
          Value slot = LLVM::LoadOp::create(
              fb, l, i32, elementAddress(fb, l, a.getSlots(), i32, r));
          Value rank = LLVM::LoadOp::create(
              fb, l, i32, elementAddress(fb, l, a.getRanks(), i32, r));
          Value src = elementAddress(fb, l, a.getRows(), fb.getBF16Type(),
                                     arith::MulIOp::create(fb, l, r, idx(h)));
          Value dst =
              mapPeer(fb, l,
                      elementAddress(fb, l, a.getOut(), fb.getBF16Type(),
                                     arith::MulIOp::create(
                                         fb, l, toIndex(fb, l, slot), idx(h))),
                      rank, a.getBases(), a.getSelf());
          copyRowWarp(fb, l, src, dst, lane, h, constants);
          scf::YieldOp::create(fb, l);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// moek.route: one token per warp; lane l holds experts l, l + 32, ... of
/// the token (n = ceil(E / 32) registers each), every ranking a warp-wide
/// butterfly over (score, expert) pairs, so that every lane ends with the
/// same winner.
struct RouteLowering : OpConversionPattern<RouteOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RouteOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type i32 = b.getI32Type(), f32 = b.getF32Type();
    int64_t e = op.getNumExpertsAttr().getInt(), k = op.getTopKAttr().getInt(),
            groups = op.getNumGroupsAttr().getInt(),
            keep = op.getTopkGroupsAttr().getInt();
    int64_t n = llvm::divideCeil(e, 32), groupSize = e / groups;
    bool softmax = op.getScoring() == "softmax";
    Type logitsType = op.getLogitsType();
    float scale = op.getRoutedScalingFactorAttr().getValueAsDouble();
    int64_t shared = op.getSharedExpertsAttr().getInt();
    float sharedWeight = op.getSharedWeightAttr().getValueAsDouble();
    // An expert index no lane holds: a pair with it never wins against one
    // that is held.
    constexpr int64_t kNone = 0x7fffffff;
    auto c32 = [&](OpBuilder &ob, int64_t v) { return i32c(ob, loc, v); };
    auto f32c = [&](OpBuilder &ob, float v) -> Value {
      return LLVM::ConstantOp::create(ob, loc, f32, ob.getF32FloatAttr(v));
    };
    // Every warp of the grid, one token at a time.
    Value tid = threadIdX(b, loc);
    Value lane = LLVM::URemOp::create(b, loc, tid, c32(b, 32));
    Value warpsPerCta = LLVM::UDivOp::create(
        b, loc, NVVM::BlockDimXOp::create(b, loc, i32), c32(b, 32));
    Value gwarp = LLVM::AddOp::create(
        b, loc,
        LLVM::MulOp::create(b, loc, NVVM::BlockIdXOp::create(b, loc, i32),
                            warpsPerCta),
        LLVM::UDivOp::create(b, loc, tid, c32(b, 32)));
    Value nwarps = LLVM::MulOp::create(
        b, loc, NVVM::GridDimXOp::create(b, loc, i32), warpsPerCta);
    scf::ForOp::create(
        b, loc, toIndex(b, loc, gwarp), a.getTokens(), toIndex(b, loc, nwarps),
        ValueRange{}, [&](OpBuilder &tb, Location l, Value t, ValueRange) {
          auto sel = [&](Value c, Value x, Value y) -> Value {
            return LLVM::SelectOp::create(tb, l, c, x, y);
          };
          auto fcmp = [&](LLVM::FCmpPredicate p, Value x, Value y) -> Value {
            return LLVM::FCmpOp::create(tb, l, p, x, y);
          };
          auto icmp = [&](LLVM::ICmpPredicate p, Value x, Value y) -> Value {
            return LLVM::ICmpOp::create(tb, l, p, x, y);
          };
          auto band = [&](Value x, Value y) -> Value {
            return LLVM::AndOp::create(tb, l, x, y);
          };
          auto bor = [&](Value x, Value y) -> Value {
            return LLVM::OrOp::create(tb, l, x, y);
          };
          auto fadd = [&](Value x, Value y) -> Value {
            return LLVM::FAddOp::create(tb, l, x, y);
          };
          auto bfly = [&](Value v, int64_t offset) -> Value {
            bool isF32 = v.getType() == f32;
            Value bits = isF32 ? LLVM::BitcastOp::create(tb, l, i32, v) : v;
            Value r = NVVM::ShflOp::create(
                tb, l, i32, c32(tb, -1), bits, c32(tb, offset), c32(tb, 0x1f),
                NVVM::ShflKindAttr::get(tb.getContext(), NVVM::ShflKind::bfly),
                UnitAttr());
            return isF32 ? LLVM::BitcastOp::create(tb, l, f32, r) : r;
          };
          // moe.route's order: (x, i) ranks before (y, j), a held expert
          // before one no lane holds (kNone).
          auto before = [&](Value x, Value i, Value y, Value j) -> Value {
            Value nanX = fcmp(LLVM::FCmpPredicate::uno, x, x);
            Value nanY = fcmp(LLVM::FCmpPredicate::uno, y, y);
            Value lower = icmp(LLVM::ICmpPredicate::ult, i, j);
            Value byValue =
                bor(fcmp(LLVM::FCmpPredicate::ogt, x, y),
                    band(fcmp(LLVM::FCmpPredicate::oeq, x, y), lower));
            Value ranked = sel(LLVM::XOrOp::create(tb, l, nanX, nanY), nanY,
                               sel(nanX, lower, byValue));
            Value held = icmp(LLVM::ICmpPredicate::ne, i, c32(tb, kNone));
            Value otherUnheld =
                icmp(LLVM::ICmpPredicate::eq, j, c32(tb, kNone));
            return band(held, bor(otherUnheld, ranked));
          };
          // The best (c, expert[, s]) of the lane's experts where `alive`,
          // then of the warp.
          struct Best {
            Value c, id, s;
          };
          auto best = [&](ArrayRef<Value> c, ArrayRef<Value> ids,
                          ArrayRef<Value> s, ArrayRef<Value> alive) -> Best {
            Best r{f32c(tb, 0.0f), c32(tb, kNone), f32c(tb, 0.0f)};
            for (size_t j = 0; j < c.size(); ++j) {
              Value id = sel(alive[j], ids[j], c32(tb, kNone));
              Value take = before(c[j], id, r.c, r.id);
              r = {sel(take, c[j], r.c), sel(take, id, r.id),
                   s.empty() ? r.s : sel(take, s[j], r.s)};
            }
            for (int64_t offset : {16, 8, 4, 2, 1}) {
              Best o{bfly(r.c, offset), bfly(r.id, offset),
                     s.empty() ? r.s : bfly(r.s, offset)};
              Value take = before(o.c, o.id, r.c, r.id);
              r = {sel(take, o.c, r.c), sel(take, o.id, r.id),
                   s.empty() ? r.s : sel(take, o.s, r.s)};
            }
            return r;
          };
          auto reduce = [&](Value v, auto combine) -> Value {
            for (int64_t offset : {16, 8, 4, 2, 1})
              v = combine(v, bfly(v, offset));
            return v;
          };
          // The token's logits; a lane's expert past E reads expert E - 1
          // and is never held.
          Value row = arith::MulIOp::create(
              tb, l, t, arith::ConstantIndexOp::create(tb, l, e));
          SmallVector<Value> expert, inRange, logit;
          for (int64_t j = 0; j < n; ++j) {
            Value ej = LLVM::AddOp::create(tb, l, lane, c32(tb, 32 * j));
            expert.push_back(ej);
            inRange.push_back(
                32 * (j + 1) <= e
                    ? LLVM::ConstantOp::create(tb, l, tb.getI1Type(),
                                               tb.getBoolAttr(true))
                          .getResult()
                    : icmp(LLVM::ICmpPredicate::ult, ej, c32(tb, e)));
            Value at = LLVM::UMinOp::create(tb, l, ej, c32(tb, e - 1));
            Value v = LLVM::LoadOp::create(
                tb, l, logitsType,
                elementAddress(
                    tb, l, a.getLogits(), logitsType,
                    arith::AddIOp::create(tb, l, row, toIndex(tb, l, at))));
            logit.push_back(
                logitsType == f32 ? v : LLVM::FPExtOp::create(tb, l, f32, v));
          }
          // 1. Scores.
          SmallVector<Value> s;
          constexpr float kLog2e = 1.4426950408889634f;
          if (softmax) {
            Value m = f32c(tb, -std::numeric_limits<float>::infinity());
            for (int64_t j = 0; j < n; ++j)
              m = sel(inRange[j], LLVM::MaxNumOp::create(tb, l, m, logit[j]),
                      m);
            m = reduce(m, [&](Value x, Value y) -> Value {
              return LLVM::MaxNumOp::create(tb, l, x, y);
            });
            Value d = f32c(tb, 0.0f);
            for (int64_t j = 0; j < n; ++j) {
              s.push_back(ex2(
                  tb, l,
                  LLVM::FMulOp::create(tb, l,
                                       LLVM::FSubOp::create(tb, l, logit[j], m),
                                       f32c(tb, kLog2e))));
              d = fadd(d, sel(inRange[j], s[j], f32c(tb, 0.0f)));
            }
            d = reduce(d, fadd);
            for (int64_t j = 0; j < n; ++j)
              s[j] = LLVM::FDivOp::create(tb, l, s[j], d);
          } else {
            for (int64_t j = 0; j < n; ++j)
              s.push_back(LLVM::FDivOp::create(
                  tb, l, f32c(tb, 1.0f),
                  fadd(f32c(tb, 1.0f),
                       ex2(tb, l,
                           LLVM::FMulOp::create(tb, l, logit[j],
                                                f32c(tb, -kLog2e))))));
          }
          // 2. Selection scores.
          SmallVector<Value> c(s.begin(), s.end());
          if (a.getBias())
            for (int64_t j = 0; j < n; ++j) {
              Value at = LLVM::UMinOp::create(tb, l, expert[j], c32(tb, e - 1));
              c[j] = fadd(s[j], LLVM::LoadOp::create(
                                    tb, l, f32,
                                    elementAddress(tb, l, a.getBias(), f32,
                                                   toIndex(tb, l, at))));
            }
          // 3. Groups: each scored by its two best experts; the experts of
          // the `keep` best groups stay eligible.
          SmallVector<Value> alive(inRange.begin(), inRange.end());
          if (groups > 1) {
            SmallVector<Value> group, groupScore;
            for (int64_t j = 0; j < n; ++j)
              group.push_back(
                  LLVM::UDivOp::create(tb, l, expert[j], c32(tb, groupSize)));
            for (int64_t g = 0; g < groups; ++g) {
              SmallVector<Value> member;
              for (int64_t j = 0; j < n; ++j)
                member.push_back(band(inRange[j], icmp(LLVM::ICmpPredicate::eq,
                                                       group[j], c32(tb, g))));
              Best first = best(c, expert, {}, member);
              if (groupSize == 1) {
                groupScore.push_back(first.c);
                continue;
              }
              for (int64_t j = 0; j < n; ++j)
                member[j] = band(member[j], icmp(LLVM::ICmpPredicate::ne,
                                                 expert[j], first.id));
              Best second = best(c, expert, {}, member);
              groupScore.push_back(fadd(first.c, second.c));
            }
            // Group g is kept if fewer than `keep` groups rank before it.
            Value mask = c32(tb, 0);
            for (int64_t g = 0; g < groups; ++g) {
              Value ahead = c32(tb, 0);
              for (int64_t h = 0; h < groups; ++h)
                if (h != g)
                  ahead = LLVM::AddOp::create(
                      tb, l, ahead,
                      LLVM::ZExtOp::create(tb, l, i32,
                                           before(groupScore[h], c32(tb, h),
                                                  groupScore[g], c32(tb, g))));
              Value kept = LLVM::ZExtOp::create(
                  tb, l, i32,
                  icmp(LLVM::ICmpPredicate::ult, ahead, c32(tb, keep)));
              mask = bor(mask, LLVM::ShlOp::create(tb, l, kept, c32(tb, g)));
            }
            for (int64_t j = 0; j < n; ++j)
              alive[j] =
                  band(alive[j],
                       LLVM::TruncOp::create(
                           tb, l, tb.getI1Type(),
                           LLVM::LShrOp::create(
                               tb, l, mask,
                               LLVM::UMinOp::create(tb, l, group[j],
                                                    c32(tb, groups - 1)))));
          }
          // 4. The top k, best first; 5. their unbiased scores.
          SmallVector<Value> ids, weights;
          for (int64_t r = 0; r < k; ++r) {
            Best w = best(c, expert, s, alive);
            ids.push_back(w.id);
            weights.push_back(w.s);
            for (int64_t j = 0; j < n; ++j)
              alive[j] = band(alive[j],
                              icmp(LLVM::ICmpPredicate::ne, expert[j], w.id));
          }
          if (op.getRenormalize()) {
            Value d = f32c(tb, 0.0f);
            for (Value w : weights)
              d = fadd(d, w);
            Value divide = fcmp(LLVM::FCmpPredicate::une, d, f32c(tb, 0.0f));
            for (Value &w : weights)
              w = sel(divide, LLVM::FDivOp::create(tb, l, w, d), w);
          }
          // 6. The scaling factor; lane 0 writes the token's slots, the
          // shared experts' after the routed ones.
          auto leader = scf::IfOp::create(
              tb, l, icmp(LLVM::ICmpPredicate::eq, lane, c32(tb, 0)), false);
          OpBuilder wb = OpBuilder::atBlockTerminator(leader.thenBlock());
          for (int64_t r = 0; r < k; ++r)
            weights[r] =
                LLVM::FMulOp::create(wb, l, weights[r], f32c(wb, scale));
          for (int64_t j = 0; j < shared; ++j) {
            ids.push_back(c32(wb, e + j));
            weights.push_back(f32c(wb, sharedWeight));
          }
          Value slot0 = arith::MulIOp::create(
              wb, l, t, arith::ConstantIndexOp::create(wb, l, k + shared));
          for (auto [r, pair] : llvm::enumerate(llvm::zip(ids, weights))) {
            Value slot = arith::AddIOp::create(
                wb, l, slot0, arith::ConstantIndexOp::create(wb, l, r));
            LLVM::StoreOp::create(wb, l, std::get<0>(pair),
                                  elementAddress(wb, l, a.getIds(), i32, slot));
            LLVM::StoreOp::create(
                wb, l, std::get<1>(pair),
                elementAddress(wb, l, a.getWeights(), f32, slot));
          }
          scf::YieldOp::create(tb, l);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

struct CombineLowering : OpConversionPattern<CombineOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CombineOp op, OpAdaptor a,
                  ConversionPatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    Location loc = op.getLoc();
    Type i32 = b.getI32Type(), f32 = b.getF32Type();
    int64_t k = op.getTopKAttr().getInt(), h = op.getHiddenAttr().getInt();
    int64_t first = op.getFirstThreadAttr().getInt(),
            threads = op.getThreadsAttr().getInt();
    Type yElem = op.getYType(), outElem = op.getElementType();
    // Every constant up front (see DispatchLowering).
    std::map<int64_t, Value> constants;
    for (int64_t v :
         {int64_t(8), int64_t(32), int64_t(256), k, h, first, threads / 32})
      constants[v] = arith::ConstantIndexOp::create(b, loc, v);
    for (int64_t s = 0; s < k; ++s)
      constants.try_emplace(s, arith::ConstantIndexOp::create(b, loc, s));
    auto idx = [&](int64_t v) -> Value { return constants.at(v); };
    GridWarps g = gridWarps(b, loc, first, threads / 32);
    Value lane = g.lane, gwarp = g.warp, nwarps = g.count;
    auto v8f32 = VectorType::get({8}, f32);
    auto v8y = VectorType::get({8}, yElem);
    auto v8out = VectorType::get({8}, outElem);
    scf::ForOp::create(
        b, loc, gwarp, a.getTokens(), nwarps, ValueRange{},
        [&](OpBuilder &tb, Location l, Value t, ValueRange) {
          // This token's rows and weights, read once per token.
          SmallVector<Value> rows, ws;
          for (int64_t s = 0; s < k; ++s) {
            Value slot = arith::AddIOp::create(
                tb, l, arith::MulIOp::create(tb, l, t, idx(k)), idx(s));
            rows.push_back(LLVM::LoadOp::create(
                tb, l, i32, elementAddress(tb, l, a.getSlotRows(), i32, slot)));
            if (a.getWeights())
              ws.push_back(LLVM::LoadOp::create(
                  tb, l, f32,
                  elementAddress(tb, l, a.getWeights(), f32, slot)));
          }
          scf::ForOp::create(
              tb, l, arith::MulIOp::create(tb, l, lane, idx(8)), idx(h),
              idx(256), ValueRange{},
              [&](OpBuilder &cb, Location cl, Value c, ValueRange) {
                Value zero = LLVM::ConstantOp::create(
                    cb, cl, v8f32,
                    DenseElementsAttr::get(v8f32, cb.getF32FloatAttr(0.0f)));
                // Every slot's row is loaded before any is added (masked
                // slots load row 0 and are dropped by a select, so no NaN of
                // theirs enters), then added in slot order.
                SmallVector<Value> ys;
                for (int64_t s = 0; s < k; ++s) {
                  Value row =
                      LLVM::SMaxOp::create(cb, cl, rows[s], i32c(cb, cl, 0));
                  Value at = arith::AddIOp::create(
                      cb, cl,
                      arith::MulIOp::create(cb, cl, toIndex(cb, cl, row),
                                            idx(h)),
                      c);
                  ys.push_back(LLVM::LoadOp::create(
                      cb, cl, v8y, elementAddress(cb, cl, a.getY(), yElem, at),
                      16));
                }
                Value acc = zero;
                for (int64_t s = 0; s < k; ++s) {
                  Value has =
                      LLVM::ICmpOp::create(cb, cl, LLVM::ICmpPredicate::sge,
                                           rows[s], i32c(cb, cl, 0));
                  Value y = ys[s];
                  if (yElem != f32)
                    y = LLVM::FPExtOp::create(cb, cl, v8f32, y);
                  Value term = y;
                  if (!ws.empty()) {
                    Value w = LLVM::UndefOp::create(cb, cl, v8f32);
                    for (int64_t i = 0; i < 8; ++i)
                      w = LLVM::InsertElementOp::create(cb, cl, w, ws[s],
                                                        i32c(cb, cl, i));
                    term = LLVM::FMulOp::create(cb, cl, w, y);
                  }
                  acc = LLVM::SelectOp::create(
                      cb, cl, has, LLVM::FAddOp::create(cb, cl, acc, term),
                      acc);
                }
                Value out = acc;
                if (outElem != f32)
                  out = LLVM::FPTruncOp::create(cb, cl, v8out, acc);
                Value at = arith::AddIOp::create(
                    cb, cl, arith::MulIOp::create(cb, cl, t, idx(h)), c);
                LLVM::StoreOp::create(
                    cb, cl, out,
                    elementAddress(cb, cl, a.getOut(), outElem, at), 16);
                scf::YieldOp::create(cb, cl);
              });
          scf::YieldOp::create(tb, l);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateRouteAndCombinePatterns(const TypeConverter &converter,
                                     RewritePatternSet &patterns) {
  patterns.add<RouteLowering, ReturnRowsLowering, CombineLowering>(
      converter, patterns.getContext());
}

} // namespace mlir::moe::kernel::nvvm
