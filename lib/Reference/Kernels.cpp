//===- Kernels.cpp - Reference semantics of the moe dialect ---------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// route, dispatch, activation, combine, quantize, dequantize. gate and
// expert_matmul are in Gemm.cpp. Every loop follows the order of operations
// documented in Kernels.h.
//
//===----------------------------------------------------------------------===//

#include "Support.h"
#include "moe/Reference/Kernels.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <thread>
#include <vector>

using namespace moe::ref;
using namespace moe::ref::detail;

namespace {

/// The values of a float tensor: its storage if materialized, else a copy.
const float *floatsOf(const Tensor &t, std::vector<float> &storage) {
  if (!t.isGenerated() && t.isFloat())
    return t.floats().data();
  storage.resize(static_cast<size_t>(t.getNumElements()));
  t.readFloat(0, t.getNumElements(), storage.data());
  return storage.data();
}

/// The values of an integer tensor: its storage if materialized, else a copy.
const int64_t *intsOf(const Tensor &t, std::vector<int64_t> &storage) {
  if (!t.isGenerated() && !t.isFloat())
    return t.ints().data();
  storage.resize(static_cast<size_t>(t.getNumElements()));
  t.readInt(0, t.getNumElements(), storage.data());
  return storage.data();
}

/// "<fn>: <name> has shape [..], expected <expected>" unless `t` has rank
/// `rank` and, where `dims` gives a value >= 0, that size.
llvm::Error checkShape(llvm::StringRef fn, llvm::StringRef name,
                       const Tensor &t, llvm::ArrayRef<int64_t> dims,
                       llvm::StringRef expected) {
  bool ok = t.getRank() == static_cast<int64_t>(dims.size());
  for (size_t i = 0; ok && i < dims.size(); ++i)
    ok = dims[i] < 0 || t.getDim(i) == dims[i];
  if (ok)
    return llvm::Error::success();
  return makeError(fn + ": " + name + " has shape " + shapeStr(t.getShape()) +
                   ", expected " + expected);
}

llvm::Error checkFloatKind(llvm::StringRef fn, llvm::StringRef name,
                           ElemKind kind) {
  if (isFloatKind(kind))
    return llvm::Error::success();
  return makeError(fn + ": " + name + " has kind " + getName(kind) +
                   ", expected a float kind");
}

llvm::Error checkIntKind(llvm::StringRef fn, llvm::StringRef name,
                         ElemKind kind) {
  if (!isFloatKind(kind))
    return llvm::Error::success();
  return makeError(fn + ": " + name + " has kind " + getName(kind) +
                   ", expected i32 or i64");
}

/// Runs fn(begin, end) over chunks of [0, n) on up to getNumThreads()
/// workers. Callers write disjoint outputs per index, so results do not
/// depend on the split.
template <typename Fn> void parallelRanges(int64_t n, int64_t grain, Fn fn) {
  const int64_t numChunks = (n + grain - 1) / grain;
  const unsigned workers =
      static_cast<unsigned>(std::min<int64_t>(getNumThreads(), numChunks));
  if (workers <= 1) {
    if (n > 0)
      fn(int64_t(0), n);
    return;
  }
  std::atomic<int64_t> next{0};
  auto body = [&]() {
    for (int64_t c = next.fetch_add(1); c < numChunks; c = next.fetch_add(1))
      fn(c * grain, std::min(n, (c + 1) * grain));
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < workers; ++t)
    threads.emplace_back(body);
  body();
  for (std::thread &t : threads)
    t.join();
}

/// NaN ranks below every number; ties go to the lower index.
bool ranksBefore(float a, int64_t ia, float b, int64_t ib) {
  bool nanA = std::isnan(a), nanB = std::isnan(b);
  if (nanA || nanB) {
    if (nanA && nanB)
      return ia < ib;
    return nanB;
  }
  if (a != b)
    return a > b;
  return ia < ib;
}

} // namespace

//===----------------------------------------------------------------------===//
// Formats and threads
//===----------------------------------------------------------------------===//

ElemKind moe::ref::getValueKind(QuantScheme scheme) {
  switch (scheme) {
  case QuantScheme::FP8Block:
  case QuantScheme::MXFP8:
    return ElemKind::F8E4M3FN;
  case QuantScheme::MXFP4:
  case QuantScheme::NVFP4:
    return ElemKind::F4E2M1FN;
  }
  llvm_unreachable("unknown quantization scheme");
}

ElemKind moe::ref::getScaleKind(QuantScheme scheme) {
  switch (scheme) {
  case QuantScheme::FP8Block:
    return ElemKind::F32;
  case QuantScheme::MXFP8:
  case QuantScheme::MXFP4:
    return ElemKind::F8E8M0FNU;
  case QuantScheme::NVFP4:
    return ElemKind::F8E4M3FN;
  }
  llvm_unreachable("unknown quantization scheme");
}

unsigned moe::ref::getNumThreads() {
  // Read on every call, so that tests can change it.
  if (const char *env = std::getenv("MOE_REF_THREADS")) {
    char *end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1)
      return static_cast<unsigned>(std::min<long>(n, 1024));
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

//===----------------------------------------------------------------------===//
// moe.route
//===----------------------------------------------------------------------===//

llvm::Expected<Routing> moe::ref::route(const Tensor &logits,
                                        const Tensor *bias,
                                        const RouteParams &params,
                                        ElemKind idKind) {
  const char *fn = "route";
  if (llvm::Error err = checkShape(fn, "logits", logits, {-1, -1}, "[T, E]"))
    return llvm::Expected<Routing>(std::move(err));
  if (llvm::Error err = checkFloatKind(fn, "logits", logits.getKind()))
    return llvm::Expected<Routing>(std::move(err));
  int64_t T = logits.getDim(0), E = logits.getDim(1);
  if (bias) {
    if (llvm::Error err = checkShape(fn, "bias", *bias, {E},
                                     "[" + std::to_string(E) + "] ([E])"))
      return llvm::Expected<Routing>(std::move(err));
    if (llvm::Error err = checkFloatKind(fn, "bias", bias->getKind()))
      return llvm::Expected<Routing>(std::move(err));
  }
  if (idKind != ElemKind::I32 && idKind != ElemKind::I64)
    return makeError(llvm::Twine("route: id kind is ") + getName(idKind) +
                     ", expected i32 or i64");
  const int64_t K = params.topK, G = params.numGroups,
                keepGroups = params.topkGroups;
  if (K < 1 || K > E)
    return makeError("route: top_k is " + llvm::Twine(K) +
                     ", expected 1 <= top_k <= " + llvm::Twine(E) + " (E)");
  if (G < 1 || G > E)
    return makeError("route: num_groups is " + llvm::Twine(G) +
                     ", expected 1 <= num_groups <= " + llvm::Twine(E) +
                     " (E)");
  if (keepGroups < 1 || keepGroups > G)
    return makeError("route: topk_groups is " + llvm::Twine(keepGroups) +
                     ", expected 1 <= topk_groups <= " + llvm::Twine(G) +
                     " (num_groups)");
  auto groupBegin = [&](int64_t g) { return g * E / G; };
  if (G > 1) {
    std::vector<int64_t> sizes;
    for (int64_t g = 0; g < G; ++g)
      sizes.push_back(groupBegin(g + 1) - groupBegin(g));
    std::sort(sizes.begin(), sizes.end());
    int64_t fewest =
        std::accumulate(sizes.begin(), sizes.begin() + keepGroups, int64_t(0));
    if (fewest < K)
      return makeError("route: top_k is " + llvm::Twine(K) + " but the " +
                       llvm::Twine(keepGroups) + " smallest kept groups hold " +
                       llvm::Twine(fewest) + " experts");
  }

  std::vector<float> logitStorage, biasStorage;
  const float *l = floatsOf(logits, logitStorage);
  const float *b = bias ? floatsOf(*bias, biasStorage) : nullptr;

  const int64_t S = params.sharedExperts, slots = K + S;
  if (S < 0)
    return makeError("route: shared_experts is " + llvm::Twine(S) +
                     ", expected >= 0");
  Routing result{Tensor(idKind, {T, slots}),
                 Tensor(ElemKind::F32, {T, slots})};
  int64_t *ids = result.ids.ints().data();
  float *weights = result.weights.floats().data();

  std::vector<float> s(E), c(E), groupScore(G);
  std::vector<char> eligible(E);
  std::vector<int64_t> order(E), groupOrder(G);
  for (int64_t t = 0; t < T; ++t) {
    const float *lt = l + t * E;
    // 1. Scores.
    if (params.scoring == Scoring::Softmax) {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t e = 0; e < E; ++e)
        if (lt[e] > m)
          m = lt[e];
      float d = 0.0f;
      for (int64_t e = 0; e < E; ++e) {
        s[e] = std::exp(lt[e] - m);
        d = d + s[e];
      }
      for (int64_t e = 0; e < E; ++e)
        s[e] = s[e] / d;
    } else {
      for (int64_t e = 0; e < E; ++e)
        s[e] = 1.0f / (1.0f + std::exp(-lt[e]));
    }
    // 2. Selection scores.
    for (int64_t e = 0; e < E; ++e)
      c[e] = b ? s[e] + b[e] : s[e];
    auto before = [&](int64_t i, int64_t j) {
      return ranksBefore(c[i], i, c[j], j);
    };
    // 3. Groups.
    if (G > 1) {
      for (int64_t g = 0; g < G; ++g) {
        int64_t lo = groupBegin(g), hi = groupBegin(g + 1);
        int64_t first = lo;
        for (int64_t e = lo + 1; e < hi; ++e)
          if (before(e, first))
            first = e;
        if (hi - lo == 1) {
          groupScore[g] = c[first];
          continue;
        }
        int64_t second = -1;
        for (int64_t e = lo; e < hi; ++e)
          if (e != first && (second < 0 || before(e, second)))
            second = e;
        groupScore[g] = c[first] + c[second];
      }
      std::iota(groupOrder.begin(), groupOrder.end(), 0);
      std::partial_sort(groupOrder.begin(), groupOrder.begin() + keepGroups,
                        groupOrder.end(), [&](int64_t g, int64_t h) {
                          return ranksBefore(groupScore[g], g, groupScore[h],
                                             h);
                        });
      std::fill(eligible.begin(), eligible.end(), 0);
      for (int64_t i = 0; i < keepGroups; ++i)
        for (int64_t e = groupBegin(groupOrder[i]);
             e < groupBegin(groupOrder[i] + 1); ++e)
          eligible[e] = 1;
    } else {
      std::fill(eligible.begin(), eligible.end(), 1);
    }
    // 4. Top-k among eligible experts.
    order.clear();
    for (int64_t e = 0; e < E; ++e)
      if (eligible[e])
        order.push_back(e);
    std::partial_sort(order.begin(), order.begin() + K, order.end(), before);
    // 5-6. Weights.
    int64_t *idRow = ids + t * slots;
    float *wRow = weights + t * slots;
    for (int64_t k = 0; k < K; ++k) {
      idRow[k] = order[k];
      wRow[k] = s[order[k]];
    }
    if (params.renormalize) {
      float d = 0.0f;
      for (int64_t k = 0; k < K; ++k)
        d = d + wRow[k];
      if (d != 0.0f)
        for (int64_t k = 0; k < K; ++k)
          wRow[k] = wRow[k] / d;
    }
    for (int64_t k = 0; k < K; ++k)
      wRow[k] = wRow[k] * params.routedScalingFactor;
    // The shared experts, after the routed slots.
    for (int64_t j = 0; j < S; ++j) {
      idRow[K + j] = E + j;
      wRow[K + j] = params.sharedWeight;
    }
  }
  return result;
}

//===----------------------------------------------------------------------===//
// moe.dispatch
//===----------------------------------------------------------------------===//

llvm::Expected<Dispatched> moe::ref::dispatch(const Tensor &x,
                                              const Tensor &ids,
                                              const Tensor &weights,
                                              int64_t numExperts) {
  const char *fn = "dispatch";
  if (llvm::Error err = checkShape(fn, "x", x, {-1, -1}, "[T, H]"))
    return llvm::Expected<Dispatched>(std::move(err));
  if (llvm::Error err = checkFloatKind(fn, "x", x.getKind()))
    return llvm::Expected<Dispatched>(std::move(err));
  int64_t T = x.getDim(0), H = x.getDim(1);
  if (llvm::Error err =
          checkShape(fn, "ids", ids, {T, -1}, "[" + std::to_string(T) + ", K]"))
    return llvm::Expected<Dispatched>(std::move(err));
  if (llvm::Error err = checkIntKind(fn, "ids", ids.getKind()))
    return llvm::Expected<Dispatched>(std::move(err));
  int64_t K = ids.getDim(1);
  if (llvm::Error err =
          checkShape(fn, "weights", weights, {T, K},
                     "[" + std::to_string(T) + ", " + std::to_string(K) + "]"))
    return llvm::Expected<Dispatched>(std::move(err));
  if (llvm::Error err = checkFloatKind(fn, "weights", weights.getKind()))
    return llvm::Expected<Dispatched>(std::move(err));
  if (numExperts < 1)
    return makeError("dispatch: num_experts is " + llvm::Twine(numExperts) +
                     ", expected >= 1");
  // Rows and offsets are indexed by i32 (the verifier's bound, for dynamic T).
  const int64_t kMaxRows = std::numeric_limits<int32_t>::max();
  if (numExperts >= kMaxRows)
    return makeError("dispatch: num_experts is " + llvm::Twine(numExperts) +
                     ", expected < 2^31 - 1 (offsets are i32)");
  if (K > 0 && T > kMaxRows / K)
    return makeError("dispatch: T*K rows (T = " + llvm::Twine(T) + ", K = " +
                     llvm::Twine(K) +
                     ") do not fit i32 row indices (slot_map is i32)");

  std::vector<int64_t> idStorage;
  std::vector<float> wStorage;
  const int64_t *id = intsOf(ids, idStorage);
  const float *w = floatsOf(weights, wStorage);
  const int64_t M = T * K, E = numExperts;

  Dispatched result{Tensor(x.getKind(), {M, H}), Tensor(ElemKind::I32, {E + 1}),
                    Tensor(ElemKind::I32, {T, K}), Tensor(ElemKind::F32, {M})};
  int64_t *off = result.offsets.ints().data();
  for (int64_t i = 0; i < M; ++i)
    if (id[i] >= 0 && id[i] < E)
      ++off[id[i] + 1];
  for (int64_t e = 0; e < E; ++e)
    off[e + 1] += off[e];
  std::vector<int64_t> next(off, off + E);
  int64_t *slotMap = result.slotMap.ints().data();
  float *rows = result.rows.floats().data();
  float *rowWeights = result.rowWeights.floats().data();
  for (int64_t i = 0; i < M; ++i) {
    if (id[i] < 0 || id[i] >= E) {
      slotMap[i] = -1;
      continue;
    }
    int64_t row = next[id[i]]++;
    slotMap[i] = row;
    rowWeights[row] = w[i];
    x.readFloat((i / K) * H, H, rows + row * H);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// moe.activation
//===----------------------------------------------------------------------===//

llvm::Expected<Tensor> moe::ref::activation(const Tensor &h,
                                            const Tensor *rowWeights,
                                            const ActivationParams &params,
                                            ElemKind outKind) {
  const char *fn = "activation";
  if (llvm::Error err = checkShape(fn, "h", h, {-1, -1}, "[M, 2I]"))
    return llvm::Expected<Tensor>(std::move(err));
  if (llvm::Error err = checkFloatKind(fn, "h", h.getKind()))
    return llvm::Expected<Tensor>(std::move(err));
  int64_t M = h.getDim(0), twoI = h.getDim(1);
  if (twoI % 2 != 0)
    return makeError("activation: h has shape " + shapeStr(h.getShape()) +
                     ", expected [M, 2I] (an even last dimension)");
  if (rowWeights) {
    if (llvm::Error err = checkShape(fn, "row_weights", *rowWeights, {M},
                                     "[" + std::to_string(M) + "] ([M])"))
      return llvm::Expected<Tensor>(std::move(err));
    if (llvm::Error err =
            checkFloatKind(fn, "row_weights", rowWeights->getKind()))
      return llvm::Expected<Tensor>(std::move(err));
  }
  if (!isFloatKind(outKind))
    return makeError(llvm::Twine("activation: result kind is ") +
                     getName(outKind) + ", expected a float kind");
  const int64_t I = twoI / 2;
  std::vector<float> hStorage, rwStorage;
  const float *hv = floatsOf(h, hStorage);
  const float *rw = rowWeights ? floatsOf(*rowWeights, rwStorage) : nullptr;
  Tensor out(outKind, {M, I});
  float *o = out.floats().data();
  const bool interleaved = params.layout == GateUpLayout::Interleaved;
  const float alpha = params.alpha, limit = params.limit;
  parallelRanges(M, std::max<int64_t>(1, 16384 / std::max<int64_t>(I, 1)),
                 [&](int64_t rBegin, int64_t rEnd) {
                   for (int64_t r = rBegin; r < rEnd; ++r) {
                     const float *row = hv + r * twoI;
                     for (int64_t i = 0; i < I; ++i) {
                       float g = interleaved ? row[2 * i] : row[i];
                       float u = interleaved ? row[2 * i + 1] : row[I + i];
                       float a = 0.0f;
                       switch (params.kind) {
                       case Activation::SwiGLU:
                         a = (g / (1.0f + std::exp(-g))) * u;
                         break;
                       case Activation::ClampedSwiGLU: {
                         g = std::fmin(g, limit);
                         u = std::fmin(std::fmax(u, -limit), limit);
                         float sig = 1.0f / (1.0f + std::exp(-alpha * g));
                         a = (g * sig) * (u + 1.0f);
                         break;
                       }
                       case Activation::GeluMul: {
                         float half = 0.5f * g;
                         a = (half * (1.0f + std::erf(g * 0.70710678f))) * u;
                         break;
                       }
                       case Activation::GeluTanhMul: {
                         float cube = 0.044715f * g * g * g;
                         float inner = 0.7978845608f * (g + cube);
                         float half = 0.5f * g;
                         a = (half * (1.0f + std::tanh(inner))) * u;
                         break;
                       }
                       }
                       if (rw)
                         a = a * rw[r];
                       o[r * I + i] = roundTo(outKind, a);
                     }
                   }
                 });
  return out;
}

//===----------------------------------------------------------------------===//
// moe.combine
//===----------------------------------------------------------------------===//

llvm::Expected<Tensor> moe::ref::combine(const Tensor &y, const Tensor &slotMap,
                                         const Tensor *weights,
                                         ElemKind outKind) {
  const char *fn = "combine";
  if (llvm::Error err = checkShape(fn, "y", y, {-1, -1}, "[M, H]"))
    return llvm::Expected<Tensor>(std::move(err));
  if (llvm::Error err = checkFloatKind(fn, "y", y.getKind()))
    return llvm::Expected<Tensor>(std::move(err));
  if (llvm::Error err = checkShape(fn, "slot_map", slotMap, {-1, -1}, "[T, K]"))
    return llvm::Expected<Tensor>(std::move(err));
  if (llvm::Error err = checkIntKind(fn, "slot_map", slotMap.getKind()))
    return llvm::Expected<Tensor>(std::move(err));
  int64_t M = y.getDim(0), H = y.getDim(1);
  int64_t T = slotMap.getDim(0), K = slotMap.getDim(1);
  if (weights) {
    if (llvm::Error err =
            checkShape(fn, "weights", *weights, {T, K},
                       "[" + std::to_string(T) + ", " + std::to_string(K) +
                           "] ([T, K] of slot_map)"))
      return llvm::Expected<Tensor>(std::move(err));
    if (llvm::Error err = checkFloatKind(fn, "weights", weights->getKind()))
      return llvm::Expected<Tensor>(std::move(err));
  }
  if (!isFloatKind(outKind))
    return makeError(llvm::Twine("combine: result kind is ") +
                     getName(outKind) + ", expected a float kind");
  std::vector<float> yStorage, wStorage;
  std::vector<int64_t> mapStorage;
  const float *yv = floatsOf(y, yStorage);
  const int64_t *map = intsOf(slotMap, mapStorage);
  const float *w = weights ? floatsOf(*weights, wStorage) : nullptr;
  Tensor out(outKind, {T, H});
  float *o = out.floats().data();
  parallelRanges(T, std::max<int64_t>(1, 16384 / std::max<int64_t>(H, 1)),
                 [&](int64_t tBegin, int64_t tEnd) {
                   std::vector<float> acc(static_cast<size_t>(H));
                   for (int64_t t = tBegin; t < tEnd; ++t) {
                     std::fill(acc.begin(), acc.end(), 0.0f);
                     for (int64_t k = 0; k < K; ++k) {
                       int64_t row = map[t * K + k];
                       // Masked slots (< 0) contribute nothing; a row past y
                       // (only possible with a corrupted slot map) is treated
                       // as masked too.
                       if (row < 0 || row >= M)
                         continue;
                       const float *yr = yv + row * H;
                       if (w) {
                         float wk = w[t * K + k];
                         for (int64_t i = 0; i < H; ++i)
                           acc[i] = acc[i] + wk * yr[i];
                       } else {
                         for (int64_t i = 0; i < H; ++i)
                           acc[i] = acc[i] + yr[i];
                       }
                     }
                     for (int64_t i = 0; i < H; ++i)
                       o[t * H + i] = roundTo(outKind, acc[i]);
                   }
                 });
  return out;
}

//===----------------------------------------------------------------------===//
// moe.quantize / moe.dequantize
//===----------------------------------------------------------------------===//

namespace {

/// Block geometry over the last two dims of `shape`.
struct BlockGrid {
  int64_t lead = 1; // product of leading dims
  int64_t rows = 0, cols = 0;
  int64_t br = 1, bc = 1;
  int64_t blockRowsN = 0, blockColsN = 0; // number of blocks
  llvm::SmallVector<int64_t, 4> scaleShape;

  /// Calls fn(l, bi, bj, scaleIndex) for every block, rows of blocks in
  /// parallel (blocks are independent).
  template <typename Fn> void forEachBlock(Fn fn) const {
    int64_t grain =
        std::max<int64_t>(1, 16384 / std::max<int64_t>(br * cols, 1));
    parallelRanges(lead * blockRowsN, grain, [&](int64_t begin, int64_t end) {
      for (int64_t lb = begin; lb < end; ++lb)
        for (int64_t bj = 0; bj < blockColsN; ++bj)
          fn(lb / blockRowsN, lb % blockRowsN, bj, lb * blockColsN + bj);
    });
  }
  /// Calls fn(flatIndex) for every element of block (l, bi, bj), row-major.
  template <typename Fn>
  void forEachElement(int64_t l, int64_t bi, int64_t bj, Fn fn) const {
    for (int64_t r = bi * br; r < (bi + 1) * br; ++r)
      for (int64_t c = bj * bc; c < (bj + 1) * bc; ++c)
        fn((l * rows + r) * cols + c);
  }
};

llvm::Expected<BlockGrid> makeGrid(llvm::StringRef fn, llvm::StringRef name,
                                   const Tensor &t, const QuantSpec &spec) {
  if (t.getRank() < 2)
    return makeError(fn + ": " + name + " has shape " + shapeStr(t.getShape()) +
                     ", expected rank >= 2 ([.., rows, cols])");
  if (spec.blockRows < 1 || spec.blockCols < 1)
    return makeError(fn + ": block is " + llvm::Twine(spec.blockRows) + "x" +
                     llvm::Twine(spec.blockCols) +
                     ", expected positive block sizes");
  BlockGrid grid;
  llvm::ArrayRef<int64_t> shape = t.getShape();
  for (int64_t d : shape.drop_back(2))
    grid.lead *= d;
  grid.rows = shape[shape.size() - 2];
  grid.cols = shape.back();
  grid.br = spec.blockRows;
  grid.bc = spec.blockCols;
  if (grid.rows % grid.br != 0 || grid.cols % grid.bc != 0)
    return makeError(fn + ": " + name + " has shape " + shapeStr(shape) +
                     ", expected its last two dims to be multiples of the " +
                     llvm::Twine(grid.br) + "x" + llvm::Twine(grid.bc) +
                     " block");
  grid.blockRowsN = grid.rows / grid.br;
  grid.blockColsN = grid.cols / grid.bc;
  grid.scaleShape.assign(shape.begin(), shape.end() - 2);
  grid.scaleShape.push_back(grid.blockRowsN);
  grid.scaleShape.push_back(grid.blockColsN);
  return grid;
}

} // namespace

llvm::Expected<Quantized> moe::ref::quantize(const Tensor &x,
                                             const QuantSpec &spec) {
  const char *fn = "quantize";
  llvm::Expected<BlockGrid> gridOr = makeGrid(fn, "x", x, spec);
  if (!gridOr)
    return gridOr.takeError();
  const BlockGrid &grid = *gridOr;
  if (llvm::Error err = checkFloatKind(fn, "x", x.getKind()))
    return llvm::Expected<Quantized>(std::move(err));

  std::vector<float> xStorage;
  const float *xv = floatsOf(x, xStorage);
  const ElemKind valueKind = getValueKind(spec.scheme);
  Quantized result{Tensor(valueKind, x.getShape()),
                   Tensor(getScaleKind(spec.scheme), grid.scaleShape),
                   std::nullopt};
  float *q = result.values.floats().data();
  float *scales = result.scales.floats().data();

  float gs = 1.0f;
  if (spec.scheme == QuantScheme::NVFP4) {
    float amaxT = 0.0f;
    for (int64_t i = 0, n = x.getNumElements(); i < n; ++i)
      if (std::isfinite(xv[i]))
        amaxT = std::max(amaxT, std::fabs(xv[i]));
    gs = amaxT == 0.0f ? 1.0f : amaxT / (448.0f * 6.0f);
    result.globalScale = Tensor(ElemKind::F32, {});
    result.globalScale->floats()[0] = gs;
  }

  grid.forEachBlock([&](int64_t l, int64_t bi, int64_t bj, int64_t sIdx) {
    float amax = 0.0f;
    grid.forEachElement(l, bi, bj, [&](int64_t i) {
      if (std::isfinite(xv[i]))
        amax = std::max(amax, std::fabs(xv[i]));
    });
    switch (spec.scheme) {
    case QuantScheme::FP8Block: {
      float a = std::max(amax, 1e-4f);
      scales[sIdx] = a / 448.0f;
      float inv = 448.0f / a;
      grid.forEachElement(l, bi, bj, [&](int64_t i) {
        q[i] = roundTo(ElemKind::F8E4M3FN, xv[i] * inv);
      });
      break;
    }
    case QuantScheme::MXFP8:
    case QuantScheme::MXFP4: {
      int e = computeUE8M0Exponent(amax, valueKind);
      scales[sIdx] = std::ldexp(1.0f, e);
      double inv = std::ldexp(1.0, -e);
      grid.forEachElement(l, bi, bj, [&](int64_t i) {
        q[i] = roundTo(valueKind, static_cast<double>(xv[i]) * inv);
      });
      break;
    }
    case QuantScheme::NVFP4: {
      float scale = roundTo(ElemKind::F8E4M3FN, (amax / 6.0f) / gs);
      scales[sIdx] = scale;
      float d = scale * gs;
      grid.forEachElement(l, bi, bj, [&](int64_t i) {
        q[i] = d == 0.0f ? 0.0f : roundTo(ElemKind::F4E2M1FN, xv[i] / d);
      });
      break;
    }
    }
  });
  return result;
}

llvm::Expected<Tensor> moe::ref::dequantize(const Tensor &q,
                                            const Tensor &scales,
                                            const Tensor *globalScale,
                                            const QuantSpec &spec,
                                            ElemKind outKind) {
  const char *fn = "dequantize";
  llvm::Expected<BlockGrid> gridOr = makeGrid(fn, "q", q, spec);
  if (!gridOr)
    return gridOr.takeError();
  const BlockGrid &grid = *gridOr;
  ElemKind valueKind = getValueKind(spec.scheme);
  if (q.getKind() != valueKind)
    return makeError(llvm::Twine("dequantize: q has kind ") +
                     getName(q.getKind()) + ", expected " + getName(valueKind) +
                     " for " + schemeName(spec.scheme));
  ElemKind scaleKind = getScaleKind(spec.scheme);
  if (scales.getKind() != scaleKind)
    return makeError(llvm::Twine("dequantize: scales have kind ") +
                     getName(scales.getKind()) + ", expected " +
                     getName(scaleKind) + " for " + schemeName(spec.scheme));
  if (scales.getShape() != llvm::ArrayRef<int64_t>(grid.scaleShape))
    return makeError("dequantize: scales have shape " +
                     shapeStr(scales.getShape()) + ", expected " +
                     shapeStr(grid.scaleShape));
  bool perLead = false;
  if (spec.scheme == QuantScheme::NVFP4) {
    if (!globalScale)
      return makeError("dequantize: global_scale is missing, expected [] "
                       "f32 for nvfp4");
    llvm::ArrayRef<int64_t> lead = q.getShape().drop_back(2);
    perLead = !lead.empty() && globalScale->getShape() == lead;
    if (globalScale->getNumElements() != 1 && !perLead)
      return makeError("dequantize: global_scale has shape " +
                       shapeStr(globalScale->getShape()) + ", expected [] or " +
                       shapeStr(lead));
    if (llvm::Error err =
            checkFloatKind(fn, "global_scale", globalScale->getKind()))
      return llvm::Expected<Tensor>(std::move(err));
  } else if (globalScale) {
    return makeError(llvm::Twine("dequantize: global_scale is given, "
                                 "expected none for ") +
                     schemeName(spec.scheme));
  }
  if (!isFloatKind(outKind))
    return makeError(llvm::Twine("dequantize: result kind is ") +
                     getName(outKind) + ", expected a float kind");

  std::vector<float> qStorage, sStorage, gStorage;
  const float *qv = floatsOf(q, qStorage);
  const float *sv = floatsOf(scales, sStorage);
  const float *gv = globalScale ? floatsOf(*globalScale, gStorage) : nullptr;
  Tensor out(outKind, q.getShape());
  float *o = out.floats().data();
  grid.forEachBlock([&](int64_t l, int64_t bi, int64_t bj, int64_t sIdx) {
    float s = sv[sIdx];
    if (gv)
      s = s * gv[perLead ? l : 0];
    grid.forEachElement(l, bi, bj,
                        [&](int64_t i) { o[i] = roundTo(outKind, qv[i] * s); });
  });
  return out;
}
