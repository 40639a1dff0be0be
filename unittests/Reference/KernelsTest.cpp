//===- KernelsTest.cpp - Reference semantics of the moe ops ---------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Small cases with hand-computed results for every op, plus randomized
// checks of the fast expert_matmul against a direct transcription of its
// documented loop nest.
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Kernels.h"
#include "moe/Reference/Random.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

using namespace moe::ref;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor makeF(ElemKind kind, llvm::ArrayRef<int64_t> shape,
             std::vector<float> values) {
  Tensor t(kind, shape);
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.getNumElements());
  t.floats() = std::move(values);
  return t;
}

Tensor makeI(ElemKind kind, llvm::ArrayRef<int64_t> shape,
             std::vector<int64_t> values) {
  Tensor t(kind, shape);
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.getNumElements());
  t.ints() = std::move(values);
  return t;
}

template <typename T> T unwrap(llvm::Expected<T> v) {
  if (!v) {
    ADD_FAILURE() << llvm::toString(v.takeError());
    return T();
  }
  return std::move(*v);
}

template <typename T> std::string errorOf(llvm::Expected<T> v) {
  if (v) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(v.takeError());
}

Operand plainOp(const Tensor *values) {
  Operand op;
  op.values = values;
  return op;
}

bool sameBits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

void expectFloats(const Tensor &t, const std::vector<float> &expected) {
  ASSERT_EQ(t.floats().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_TRUE(sameBits(t.floats()[i], expected[i]) ||
                (std::isnan(t.floats()[i]) && std::isnan(expected[i])))
        << "index " << i << ": got " << t.floats()[i] << ", expected "
        << expected[i];
}

/// Sets MOE_REF_THREADS for the lifetime of the object.
class ScopedThreads {
public:
  explicit ScopedThreads(unsigned n) {
    if (const char *old = std::getenv("MOE_REF_THREADS"))
      saved = old;
    setenv("MOE_REF_THREADS", std::to_string(n).c_str(), 1);
  }
  ~ScopedThreads() {
    if (saved.empty())
      unsetenv("MOE_REF_THREADS");
    else
      setenv("MOE_REF_THREADS", saved.c_str(), 1);
  }

private:
  std::string saved;
};

//===----------------------------------------------------------------------===//
// gate
//===----------------------------------------------------------------------===//

TEST(GateTest, SmallHandComputed) {
  Tensor x = makeF(ElemKind::BF16, {2, 3}, {1, 2, 3, 0.5f, -1, 4});
  Tensor w = makeF(ElemKind::BF16, {3, 3},
                   {1, 0, -1, /**/ 0.25f, 0.5f, 2, /**/ 0, 0, 0});
  Tensor y = unwrap(gate(x, w, ElemKind::F32));
  ASSERT_EQ(y.getShape(), llvm::ArrayRef<int64_t>({2, 3}));
  // [1,2,3].[1,0,-1] = -2; [1,2,3].[.25,.5,2] = 7.25;
  // [.5,-1,4].[1,0,-1] = -3.5; [.5,-1,4].[.25,.5,2] = 7.625.
  expectFloats(y, {-2, 7.25f, 0, -3.5f, 7.625f, 0});
}

TEST(GateTest, SumsAscendingFromPositiveZero) {
  // ((+0 + 1e8) + 1) + -1e8 = 0 in float32 (1e8 + 1 rounds to 1e8); any
  // other order would give 1.
  Tensor x = makeF(ElemKind::F32, {2, 3}, {1e8f, 1, -1e8f, -0.0f, -0.0f, 0});
  Tensor w = makeF(ElemKind::F32, {1, 3}, {1, 1, 1});
  Tensor y = unwrap(gate(x, w, ElemKind::F32));
  EXPECT_EQ(y.floats()[0], 0.0f);
  // -0 * 1 + -0 * 1 + 0 * 1 from +0.0 is +0.0.
  EXPECT_FALSE(std::signbit(y.floats()[1]));
}

TEST(GateTest, RoundsOnceToOutKind) {
  // 1 + 2^-8 + 2^-9 = 1 + 0.75 ulp(bf16) -> 1 + 2^-7.
  Tensor x = makeF(ElemKind::F32, {1, 3}, {1, 1, 1});
  Tensor w = makeF(ElemKind::F32, {1, 3}, {1, 0.00390625f, 0.001953125f});
  EXPECT_EQ(unwrap(gate(x, w, ElemKind::BF16)).floats()[0], 1.0078125f);
  EXPECT_EQ(unwrap(gate(x, w, ElemKind::F32)).floats()[0], 1.005859375f);
}

TEST(GateTest, ShapeErrors) {
  Tensor x(ElemKind::BF16, {2, 64});
  Tensor w(ElemKind::BF16, {8, 32});
  std::string msg = errorOf(gate(x, w, ElemKind::F32));
  EXPECT_NE(msg.find("gate: w has shape [8, 32], expected [E, 64]"),
            std::string::npos)
      << msg;
  Tensor x3(ElemKind::BF16, {2, 2, 64});
  EXPECT_NE(errorOf(gate(x3, w, ElemKind::F32)).find("gate: x has shape"),
            std::string::npos);
  Tensor wi(ElemKind::I32, {8, 64});
  EXPECT_NE(errorOf(gate(x, wi, ElemKind::F32)).find("w has kind i32"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// route
//===----------------------------------------------------------------------===//

TEST(RouteTest, SoftmaxExactWithRenormalizeAndScaling) {
  // exp(0 - 0) = 1, exp(-inf) = 0: s = [1/3, 1/3, 0, 1/3].
  Tensor logits = makeF(ElemKind::F32, {1, 4}, {0, 0, -kInf, 0});
  RouteParams p;
  p.topK = 2;
  Routing r = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(r.ids.getKind(), ElemKind::I32);
  // Three-way tie: lower indices first.
  EXPECT_EQ(r.ids.ints(), std::vector<int64_t>({0, 1}));
  EXPECT_EQ(r.weights.floats()[0], 1.0f / 3.0f);
  EXPECT_EQ(r.weights.floats()[1], 1.0f / 3.0f);
  // Renormalized: (1/3) / (2/3) = 0.5 exactly, then * 2.5.
  p.renormalize = true;
  p.routedScalingFactor = 2.5f;
  Routing rn = unwrap(route(logits, nullptr, p, ElemKind::I64));
  EXPECT_EQ(rn.ids.getKind(), ElemKind::I64);
  expectFloats(rn.weights, {1.25f, 1.25f});
}

TEST(RouteTest, SoftmaxOrdersByScore) {
  // logits ln(1..4): s = [0.1, 0.2, 0.3, 0.4].
  Tensor logits = makeF(ElemKind::F32, {2, 4},
                        {0.0f, 0.69314718f, 1.09861229f, 1.38629436f,
                         /**/ 1.38629436f, 1.09861229f, 0.69314718f, 0.0f});
  RouteParams p;
  p.topK = 2;
  Routing r = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(r.ids.ints(), std::vector<int64_t>({3, 2, 0, 1}));
  EXPECT_NEAR(r.weights.floats()[0], 0.4f, 1e-6);
  EXPECT_NEAR(r.weights.floats()[1], 0.3f, 1e-6);
  p.renormalize = true;
  p.routedScalingFactor = 2.5f;
  Routing rn = unwrap(route(logits, nullptr, p, ElemKind::I32));
  // [0.4, 0.3] / 0.7 * 2.5 = [10/7, 7.5/7].
  EXPECT_NEAR(rn.weights.floats()[0], 10.0 / 7.0, 1e-6);
  EXPECT_NEAR(rn.weights.floats()[1], 7.5 / 7.0, 1e-6);
  EXPECT_NEAR(rn.weights.floats()[2], 10.0 / 7.0, 1e-6);
}

TEST(RouteTest, SigmoidBiasSelectsButUnbiasedWeights) {
  // s = sigmoid([0, 2, -2, 1]) = [0.5, 0.8808, 0.1192, 0.7311].
  Tensor logits = makeF(ElemKind::BF16, {1, 4}, {0, 2, -2, 1});
  Tensor bias = makeF(ElemKind::F32, {4}, {0, 0, 1, 0});
  RouteParams p;
  p.scoring = Scoring::Sigmoid;
  p.topK = 2;
  Routing plain = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(plain.ids.ints(), std::vector<int64_t>({1, 3}));
  // With the bias, c = [0.5, 0.8808, 1.1192, 0.7311]: expert 2 wins, but its
  // weight is the unbiased 0.1192.
  Routing biased = unwrap(route(logits, &bias, p, ElemKind::I32));
  EXPECT_EQ(biased.ids.ints(), std::vector<int64_t>({2, 1}));
  EXPECT_NEAR(biased.weights.floats()[0], 0.11920292f, 1e-7);
  EXPECT_NEAR(biased.weights.floats()[1], 0.88079708f, 1e-7);
  // sigmoid(0) = 1 / (1 + 1) exactly.
  p.topK = 4;
  Routing all = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(all.weights.floats()[2], 0.5f);
}

TEST(RouteTest, RenormalizeKeepsWeightsWhenSumIsZero) {
  // sigmoid(-inf) = 1 / (1 + inf) = 0: the weights sum to 0 and stay 0
  // (instead of 0 / 0 = NaN); the scaling factor still applies.
  Tensor logits = makeF(ElemKind::F32, {1, 3}, {-kInf, -kInf, -kInf});
  RouteParams p;
  p.scoring = Scoring::Sigmoid;
  p.topK = 2;
  p.renormalize = true;
  p.routedScalingFactor = -1.0f;
  Routing r = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(r.ids.ints(), std::vector<int64_t>({0, 1}));
  expectFloats(r.weights, {-0.0f, -0.0f});
}

TEST(RouteTest, GroupedTopKExcludesLoneHighExpert) {
  // Groups of 2: {0,1} {2,3} {4,5} {6,7}. sigmoid scores:
  //   [0.953, 0.047 | 0.731, 0.731 | 0.622, 0.622 | 0.269, 0.269]
  // group scores (top-2 sums): 1.0, 1.462, 1.245, 0.538 -> keep groups 1, 2.
  // Expert 0 (the best single score) is not eligible.
  Tensor logits =
      makeF(ElemKind::F32, {1, 8}, {3, -3, 1, 1, 0.5f, 0.5f, -1, -1});
  RouteParams p;
  p.scoring = Scoring::Sigmoid;
  p.topK = 2;
  Routing ungrouped = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(ungrouped.ids.ints(), std::vector<int64_t>({0, 2}));
  p.numGroups = 4;
  p.topkGroups = 2;
  Routing r = unwrap(route(logits, nullptr, p, ElemKind::I32));
  // Tie between 2 and 3: lower index first.
  EXPECT_EQ(r.ids.ints(), std::vector<int64_t>({2, 3}));
  EXPECT_NEAR(r.weights.floats()[0], 0.73105858f, 1e-7);
  p.topK = 4;
  Routing r4 = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(r4.ids.ints(), std::vector<int64_t>({2, 3, 4, 5}));
  // Keeping one group only: groups tie -> lower group.
  Tensor flat = makeF(ElemKind::F32, {1, 8}, {0, 0, 0, 0, 0, 0, 0, 0});
  p.topK = 2;
  p.topkGroups = 1;
  Routing rf = unwrap(route(flat, nullptr, p, ElemKind::I32));
  EXPECT_EQ(rf.ids.ints(), std::vector<int64_t>({0, 1}));
}

TEST(RouteTest, NaNLogits) {
  // Sigmoid: a NaN logit gives a NaN score, which ranks below every number.
  Tensor logits = makeF(ElemKind::F32, {1, 4}, {kNaN, 1, 2, 0});
  RouteParams p;
  p.scoring = Scoring::Sigmoid;
  p.topK = 4;
  Routing r = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(r.ids.ints(), std::vector<int64_t>({2, 1, 3, 0}));
  EXPECT_TRUE(std::isnan(r.weights.floats()[3]));
  // Softmax: the max ignores NaN, but the sum includes exp(NaN) = NaN, so
  // every score is NaN: all tie, lower indices first.
  p.scoring = Scoring::Softmax;
  p.topK = 2;
  Routing s = unwrap(route(logits, nullptr, p, ElemKind::I32));
  EXPECT_EQ(s.ids.ints(), std::vector<int64_t>({0, 1}));
  EXPECT_TRUE(std::isnan(s.weights.floats()[0]));
}

TEST(RouteTest, SharedExpertsAfterTheRoutedSlots) {
  // logits ln(1..4): s = [0.1, 0.2, 0.3, 0.4]; two shared experts (4, 5)
  // follow the two routed ones with their own weight, neither renormalized
  // nor scaled.
  Tensor logits = makeF(ElemKind::F32, {2, 4},
                        {0.0f, 0.69314718f, 1.09861229f, 1.38629436f,
                         /**/ 1.38629436f, 1.09861229f, 0.69314718f, 0.0f});
  RouteParams p;
  p.topK = 2;
  p.renormalize = true;
  p.routedScalingFactor = 2.5f;
  p.sharedExperts = 2;
  p.sharedWeight = 0.75f;
  Routing r = unwrap(route(logits, nullptr, p, ElemKind::I64));
  EXPECT_EQ(r.ids.getShape().vec(), std::vector<int64_t>({2, 4}));
  EXPECT_EQ(r.ids.ints(), std::vector<int64_t>({3, 2, 4, 5, 0, 1, 4, 5}));
  EXPECT_NEAR(r.weights.floats()[0], 10.0 / 7.0, 1e-6);
  EXPECT_NEAR(r.weights.floats()[1], 7.5 / 7.0, 1e-6);
  EXPECT_EQ(r.weights.floats()[2], 0.75f);
  EXPECT_EQ(r.weights.floats()[3], 0.75f);
  EXPECT_EQ(r.weights.floats()[6], 0.75f);
  p.sharedExperts = -1;
  EXPECT_NE(errorOf(route(logits, nullptr, p, ElemKind::I32))
                .find("shared_experts"),
            std::string::npos);
}

TEST(RouteTest, Errors) {
  Tensor logits(ElemKind::F32, {2, 8});
  RouteParams p;
  p.topK = 9;
  EXPECT_NE(errorOf(route(logits, nullptr, p, ElemKind::I32)).find("top_k"),
            std::string::npos);
  p.topK = 2;
  Tensor bias(ElemKind::F32, {7});
  EXPECT_NE(errorOf(route(logits, &bias, p, ElemKind::I32))
                .find("route: bias has shape [7], expected [8]"),
            std::string::npos);
  EXPECT_NE(errorOf(route(logits, nullptr, p, ElemKind::F32)).find("id kind"),
            std::string::npos);
  p.numGroups = 4;
  p.topkGroups = 1;
  p.topK = 3; // one kept group holds 2 experts
  EXPECT_NE(errorOf(route(logits, nullptr, p, ElemKind::I32)).find("top_k"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// dispatch
//===----------------------------------------------------------------------===//

TEST(DispatchTest, MaskedOutOfRangeAndEmptyExperts) {
  // T = 3, K = 2, H = 2, E = 4. Valid slots: (0,0)->2, (1,1)->2, (2,0)->0.
  Tensor x = makeF(ElemKind::BF16, {3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor ids = makeI(ElemKind::I32, {3, 2}, {2, -1, 5, 2, 0, -7});
  Tensor w = makeF(ElemKind::F32, {3, 2}, {0.5f, 0.25f, 0.125f, 0.75f, 1, 2});
  Dispatched d = unwrap(dispatch(x, ids, w, 4));
  EXPECT_EQ(d.rows.getKind(), ElemKind::BF16);
  ASSERT_EQ(d.rows.getShape(), llvm::ArrayRef<int64_t>({6, 2}));
  // counts [1, 0, 2, 0].
  EXPECT_EQ(d.offsets.ints(), std::vector<int64_t>({0, 1, 1, 3, 3}));
  EXPECT_EQ(d.offsets.getKind(), ElemKind::I32);
  // Expert 0: token 2; expert 2: token 0 (slot 0), then token 1 (slot 3).
  expectFloats(d.rows, {5, 6, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(d.slotMap.ints(), std::vector<int64_t>({1, -1, -1, 2, 0, -1}));
  expectFloats(d.rowWeights, {1, 0.5f, 0.75f, 0, 0, 0});
}

TEST(DispatchTest, AllTokensOnOneExpert) {
  Tensor x = makeF(ElemKind::F32, {2, 1}, {7, 8});
  Tensor ids = makeI(ElemKind::I64, {2, 2}, {1, 1, 1, 1});
  Tensor w = makeF(ElemKind::F32, {2, 2}, {0.1f, 0.2f, 0.3f, 0.4f});
  Dispatched d = unwrap(dispatch(x, ids, w, 3));
  EXPECT_EQ(d.offsets.ints(), std::vector<int64_t>({0, 0, 4, 4}));
  expectFloats(d.rows, {7, 7, 8, 8});
  EXPECT_EQ(d.slotMap.ints(), std::vector<int64_t>({0, 1, 2, 3}));
  expectFloats(d.rowWeights, {0.1f, 0.2f, 0.3f, 0.4f});
}

TEST(DispatchTest, Errors) {
  Tensor x(ElemKind::F32, {3, 2});
  Tensor ids(ElemKind::I32, {2, 2});
  Tensor w(ElemKind::F32, {3, 2});
  EXPECT_NE(errorOf(dispatch(x, ids, w, 4))
                .find("dispatch: ids has shape [2, 2], expected [3, K]"),
            std::string::npos);
  Tensor idsF(ElemKind::F32, {3, 2});
  EXPECT_NE(errorOf(dispatch(x, idsF, w, 4)).find("ids has kind f32"),
            std::string::npos);
  Tensor ids3(ElemKind::I32, {3, 2});
  Tensor w3(ElemKind::F32, {3, 3});
  EXPECT_NE(errorOf(dispatch(x, ids3, w3, 4)).find("weights has shape"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// expert_matmul
//===----------------------------------------------------------------------===//

/// Wraps a tensor as a generated one and records which elements are read.
class RecordingGenerator : public Generator {
public:
  explicit RecordingGenerator(Tensor source)
      : source(std::move(source)),
        touched(static_cast<size_t>(this->source.getNumElements())) {}
  void fillFloat(int64_t begin, int64_t count, float *out) const override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (int64_t i = begin; i < begin + count; ++i)
        touched[i] = 1;
    }
    source.readFloat(begin, count, out);
  }
  void fillInt(int64_t begin, int64_t count, int64_t *out) const override {
    source.readInt(begin, count, out);
  }
  /// Number of elements in [begin, end) that were read.
  int64_t countRead(int64_t begin, int64_t end) const {
    std::lock_guard<std::mutex> lock(mutex);
    return std::count(touched.begin() + begin, touched.begin() + end, 1);
  }
  void reset() {
    std::lock_guard<std::mutex> lock(mutex);
    std::fill(touched.begin(), touched.end(), 0);
  }

private:
  Tensor source;
  mutable std::mutex mutex;
  mutable std::vector<char> touched;
};

TEST(ExpertMatmulTest, Bf16HandComputed) {
  // M = 5, E = 3 with counts 2, 0, 3; N = 3, K = 4.
  Tensor x = makeF(ElemKind::BF16, {5, 4},
                   {1, 2, 3, 4, /**/ 0.5f, -1,   0,      2, /**/ 1, 1,
                    1, 1, 2, 0, -1,        0.5f, /**/ 0, 0, 0,      0});
  std::vector<float> wv = {
      1, 0, 0, 0, /**/ 0, 1, 0,    1, /**/ 1, 1,  1, 1,  // expert 0
      9, 9, 9, 9, /**/ 9, 9, 9,    9, /**/ 9, 9,  9, 9,  // expert 1
      2, 0, 0, 0, /**/ 0, 0, 0.5f, 0, /**/ 1, -1, 1, -1, // expert 2
  };
  Tensor wm = makeF(ElemKind::BF16, {3, 3, 4}, wv);
  auto rec = std::make_shared<RecordingGenerator>(wm);
  Tensor wg(ElemKind::BF16, {3, 3, 4}, rec);
  Tensor off = makeI(ElemKind::I32, {4}, {0, 2, 2, 5});
  Tensor y =
      unwrap(expertMatmul(plainOp(&x), plainOp(&wg), off, ElemKind::BF16));
  ASSERT_EQ(y.getShape(), llvm::ArrayRef<int64_t>({5, 3}));
  EXPECT_EQ(y.getKind(), ElemKind::BF16);
  expectFloats(y, {1, 6, 10, /**/ 0.5f, 1, 1.5f, /**/ 2, 0.5f, 0,
                   /**/ 4, -0.5f, 0.5f, /**/ 0, 0, 0});
  // Expert 1 has no rows: its weights (flat [12, 24)) were never read.
  EXPECT_EQ(rec->countRead(0, 12), 12);
  EXPECT_EQ(rec->countRead(12, 24), 0);
  EXPECT_EQ(rec->countRead(24, 36), 12);
  rec->reset();
  Tensor off0 = makeI(ElemKind::I32, {4}, {0, 2, 2, 2});
  Tensor y0 =
      unwrap(expertMatmul(plainOp(&x), plainOp(&wg), off0, ElemKind::F32));
  EXPECT_EQ(rec->countRead(0, 36), 12);
  // Rows outside every range are zero.
  expectFloats(y0, {1, 6, 10, 0.5f, 1, 1.5f, 0, 0, 0, 0, 0, 0, 0, 0, 0});
}

TEST(ExpertMatmulTest, BiasAddedBeforeRounding) {
  // M = 3, E = 2 with counts 2, 1; N = 2, K = 1. Expert 0's bias [0.25,
  // -1], expert 1's [3, 2^-9]: 1 + 2^-9 rounds to 1 in bf16, so the bias
  // is added to the f32 product before the single rounding.
  Tensor x = makeF(ElemKind::F32, {3, 1}, {1, 2, 1});
  Tensor w = makeF(ElemKind::F32, {2, 2, 1}, {1, 3, /**/ 5, 1});
  Tensor bias = makeF(ElemKind::BF16, {2, 2}, {0.25f, -1, 3, 0.001953125f});
  Tensor off = makeI(ElemKind::I32, {3}, {0, 2, 3});
  Tensor y = unwrap(
      expertMatmul(plainOp(&x), plainOp(&w), off, ElemKind::F32, &bias));
  expectFloats(y, {1.25f, 2, /**/ 2.25f, 5, /**/ 8, 1.001953125f});
  Tensor yb = unwrap(
      expertMatmul(plainOp(&x), plainOp(&w), off, ElemKind::BF16, &bias));
  expectFloats(yb, {1.25f, 2, /**/ 2.25f, 5, /**/ 8, 1});
  // Rows outside every range stay zero, without the bias.
  Tensor off1 = makeI(ElemKind::I32, {3}, {0, 1, 1});
  Tensor y1 = unwrap(
      expertMatmul(plainOp(&x), plainOp(&w), off1, ElemKind::F32, &bias));
  expectFloats(y1, {1.25f, 2, 0, 0, 0, 0});
  Tensor wrong = makeF(ElemKind::F32, {2, 3}, {0, 0, 0, 0, 0, 0});
  EXPECT_NE(errorOf(expertMatmul(plainOp(&x), plainOp(&w), off, ElemKind::F32,
                                 &wrong))
                .find("bias has shape [2, 3], expected [2, 2] ([E, N])"),
            std::string::npos);
}

TEST(ExpertMatmulTest, OffsetsClampedAndOverlapping) {
  Tensor x = makeF(ElemKind::F32, {3, 1}, {1, 2, 3});
  Tensor w = makeF(ElemKind::F32, {3, 1, 1}, {10, 100, 1000});
  // Expert 0: [-5, 2) -> [0, 2); expert 1: [2, 1) empty; expert 2: [1, 9)
  // -> [1, 3) overlaps expert 0 on row 1: the later expert's result stays.
  Tensor off = makeI(ElemKind::I64, {4}, {-5, 2, 1, 9});
  Tensor y = unwrap(expertMatmul(plainOp(&x), plainOp(&w), off, ElemKind::F32));
  expectFloats(y, {10, 2000, 3000});
}

TEST(ExpertMatmulTest, Fp8BlockScaledOrder) {
  // K = 256: two K-groups of 128. x: 1.0 then 1.5; w column 0: 1.0 then -2.0
  // -> partials p0 = 128, p1 = -384. Scales sx = [0.1, 0.7], sw = [0.3, 1.3].
  const int64_t K = 256;
  std::vector<float> xv(K), wv(2 * K);
  for (int64_t k = 0; k < K; ++k) {
    xv[k] = k < 128 ? 1.0f : 1.5f;
    wv[k] = k < 128 ? 1.0f : -2.0f;    // n = 0
    wv[K + k] = k < 128 ? 0.5f : 0.0f; // n = 1: p0 = 64, p1 = 0
  }
  Tensor x = makeF(ElemKind::F8E4M3FN, {1, K}, xv);
  Tensor w = makeF(ElemKind::F8E4M3FN, {1, 2, K}, wv);
  Tensor xs = makeF(ElemKind::F32, {1, 2}, {0.1f, 0.7f});
  Tensor ws = makeF(ElemKind::F32, {1, 2, 2}, {0.3f, 1.3f, 0.5f, 4.0f});
  Tensor off = makeI(ElemKind::I32, {2}, {0, 1});
  QuantSpec spec{QuantScheme::FP8Block, 1, 128};
  Operand xo{&x, &xs, nullptr, spec}, wo{&w, &ws, nullptr, spec};
  Tensor y = unwrap(expertMatmul(xo, wo, off, ElemKind::F32));
  // acc = (+0 + 128 * (0.1f * 0.3f)) + -384 * (0.7f * 1.3f) = -345.6f
  // (nearest float). Scaling the partial by sx first and then by sw would
  // give the next float down, -345.59998.
  EXPECT_EQ(y.floats()[0], -345.6f);
  float alt = 0.0f + (128.0f * 0.1f) * 0.3f;
  alt = alt + (-384.0f * 0.7f) * 1.3f;
  EXPECT_NE(alt, -345.6f);
  // Column 1: 64 * (0.1f * 0.5f) + 0 * (0.7f * 4) = 3.2f.
  EXPECT_EQ(y.floats()[1], 64.0f * (0.1f * 0.5f));
  EXPECT_NEAR(y.floats()[1], 3.2f, 1e-6);
}

TEST(ExpertMatmulTest, Fp8Weight128x128Blocks) {
  // w blocks 128x128 over N = 256, K = 128: scale rows are n / 128.
  const int64_t K = 128, N = 256;
  Tensor x = makeF(ElemKind::F8E4M3FN, {1, K}, std::vector<float>(K, 1.0f));
  Tensor w =
      makeF(ElemKind::F8E4M3FN, {1, N, K}, std::vector<float>(N * K, 0.5f));
  Tensor xs = makeF(ElemKind::F32, {1, 1}, {2.0f});
  Tensor ws = makeF(ElemKind::F32, {1, 2, 1}, {0.25f, 3.0f});
  Tensor off = makeI(ElemKind::I32, {2}, {0, 1});
  Operand xo{&x, &xs, nullptr, QuantSpec{QuantScheme::FP8Block, 1, 128}};
  Operand wo{&w, &ws, nullptr, QuantSpec{QuantScheme::FP8Block, 128, 128}};
  Tensor y = unwrap(expertMatmul(xo, wo, off, ElemKind::F32));
  // p = 64; columns < 128: 64 * (2 * 0.25) = 32; others 64 * 6 = 384.
  EXPECT_EQ(y.floats()[0], 32.0f);
  EXPECT_EQ(y.floats()[127], 32.0f);
  EXPECT_EQ(y.floats()[128], 384.0f);
  EXPECT_EQ(y.floats()[255], 384.0f);
  // A wrong weight-scale shape is reported with the expected shape.
  Tensor wsBad(ElemKind::F32, {1, 256, 1});
  Operand woBad{&w, &wsBad, nullptr,
                QuantSpec{QuantScheme::FP8Block, 128, 128}};
  std::string msg = errorOf(expertMatmul(xo, woBad, off, ElemKind::F32));
  EXPECT_NE(msg.find("w scales have shape [1, 256, 1], expected [1, 2, 1]"),
            std::string::npos)
      << msg;
}

TEST(ExpertMatmulTest, Mxfp4UE8M0Scales) {
  // K = 64: groups of 32. x: 6 then -1.5; w (n=0): 0.5 then 4.
  // p0 = 32 * 3 = 96, p1 = 32 * -6 = -192.
  const int64_t K = 64;
  std::vector<float> xv(K), wv(3 * K);
  for (int64_t k = 0; k < K; ++k) {
    xv[k] = k < 32 ? 6.0f : -1.5f;
    for (int n = 0; n < 3; ++n)
      wv[n * K + k] = k < 32 ? 0.5f : 4.0f;
  }
  Tensor x = makeF(ElemKind::F4E2M1FN, {1, K}, xv);
  Tensor w = makeF(ElemKind::F4E2M1FN, {1, 3, K}, wv);
  // x scales 2^-2, 2^3; w scales per column: (2^1, 2^0), (2^1, 2^-127), NaN.
  Tensor xs = makeF(ElemKind::F8E8M0FNU, {1, 2}, {0.25f, 8.0f});
  Tensor ws = makeF(ElemKind::F8E8M0FNU, {1, 3, 2},
                    {2.0f, 1.0f, 2.0f, std::ldexp(1.0f, -127), kNaN, 1.0f});
  Tensor off = makeI(ElemKind::I32, {2}, {0, 1});
  QuantSpec spec{QuantScheme::MXFP4, 1, 32};
  Operand xo{&x, &xs, nullptr, spec}, wo{&w, &ws, nullptr, spec};
  Tensor y = unwrap(expertMatmul(xo, wo, off, ElemKind::F32));
  // n=0: 96 * 0.5 + -192 * 8 = 48 - 1536 = -1488.
  EXPECT_EQ(y.floats()[0], -1488.0f);
  // n=1: 48 + -192 * 2^-124 = 48 (the tiny term is lost).
  EXPECT_EQ(y.floats()[1], 48.0f);
  // n=2: a NaN scale (UE8M0 0xFF) poisons the result.
  EXPECT_TRUE(std::isnan(y.floats()[2]));
}

TEST(ExpertMatmulTest, Nvfp4GlobalScales) {
  const int64_t K = 16;
  Tensor x = makeF(ElemKind::F4E2M1FN, {2, K}, std::vector<float>(2 * K, 1));
  Tensor w =
      makeF(ElemKind::F4E2M1FN, {2, 1, K}, std::vector<float>(2 * K, 0.5f));
  Tensor xs = makeF(ElemKind::F8E4M3FN, {2, 1}, {2.0f, 0.5f});
  Tensor ws = makeF(ElemKind::F8E4M3FN, {2, 1, 1}, {1.5f, 3.0f});
  Tensor gx = makeF(ElemKind::F32, {}, {0.25f});
  Tensor gw = makeF(ElemKind::F32, {2}, {10.0f, 100.0f});
  Tensor off = makeI(ElemKind::I32, {3}, {0, 1, 2});
  QuantSpec spec{QuantScheme::NVFP4, 1, 16};
  Operand xo{&x, &xs, &gx, spec}, wo{&w, &ws, &gw, spec};
  Tensor y = unwrap(expertMatmul(xo, wo, off, ElemKind::F32));
  // p = 8. Row 0 (expert 0): 8 * (2 * 1.5) = 24, * 10 * 0.25 = 60.
  // Row 1 (expert 1): 8 * (0.5 * 3) = 12, * 100 * 0.25 = 300.
  expectFloats(y, {60.0f, 300.0f});
  Tensor gwBad = makeF(ElemKind::F32, {3}, {1, 1, 1});
  Operand woBad{&w, &ws, &gwBad, spec};
  EXPECT_NE(errorOf(expertMatmul(xo, woBad, off, ElemKind::F32))
                .find("w global scale has shape [3]"),
            std::string::npos);
}

TEST(ExpertMatmulTest, ShapeAndKindErrors) {
  Tensor x(ElemKind::BF16, {4, 64});
  Tensor w(ElemKind::BF16, {8, 64, 32});
  Tensor off(ElemKind::I32, {9});
  std::string msg =
      errorOf(expertMatmul(plainOp(&x), plainOp(&w), off, ElemKind::BF16));
  EXPECT_NE(
      msg.find("expert_matmul: w has shape [8, 64, 32], expected [E, N, 64]"),
      std::string::npos)
      << msg;
  Tensor w2(ElemKind::BF16, {8, 16, 64});
  Tensor off2(ElemKind::I32, {8});
  msg = errorOf(expertMatmul(plainOp(&x), plainOp(&w2), off2, ElemKind::BF16));
  EXPECT_NE(msg.find("offsets has shape [8], expected [9]"), std::string::npos)
      << msg;
  // A quantized operand with the wrong value kind.
  Tensor xs(ElemKind::F32, {4, 1});
  Operand xo{&x, &xs, nullptr, QuantSpec{QuantScheme::FP8Block, 1, 64}};
  msg = errorOf(expertMatmul(xo, plainOp(&w2), off, ElemKind::BF16));
  EXPECT_NE(msg.find("x has kind bf16, expected f8E4M3FN"), std::string::npos)
      << msg;
}

/// The documented loop nest, transcribed directly (slow).
Tensor naiveExpertMatmul(const Operand &x, const Operand &w,
                         const Tensor &offsets, ElemKind outKind) {
  const int64_t M = x.values->getDim(0), Kd = x.values->getDim(1);
  const int64_t E = w.values->getDim(0), N = w.values->getDim(1);
  Tensor xm = x.values->materialize(), wm = w.values->materialize();
  Tensor y(outKind, {M, N});
  int64_t G = Kd;
  if (x.scales)
    G = std::min(G, x.spec->blockCols);
  if (w.scales)
    G = std::min(G, w.spec->blockCols);
  for (int64_t e = 0; e < E; ++e) {
    int64_t lo = std::clamp<int64_t>(offsets.getInt(e), 0, M);
    int64_t hi = std::clamp<int64_t>(offsets.getInt(e + 1), 0, M);
    for (int64_t r = lo; r < hi; ++r)
      for (int64_t n = 0; n < N; ++n) {
        float acc = 0.0f;
        for (int64_t g = 0; g < Kd / G; ++g) {
          float p = 0.0f;
          for (int64_t k = g * G; k < (g + 1) * G; ++k)
            p = p + xm.floats()[r * Kd + k] * wm.floats()[(e * N + n) * Kd + k];
          if (!x.scales && !w.scales) {
            acc = p;
            continue;
          }
          float sx = 1.0f, sw = 1.0f;
          if (x.scales)
            sx = x.scales->getFloat((r / x.spec->blockRows) *
                                        (Kd / x.spec->blockCols) +
                                    g * G / x.spec->blockCols);
          if (w.scales)
            sw = w.scales->getFloat(
                (e * (N / w.spec->blockRows) + n / w.spec->blockRows) *
                    (Kd / w.spec->blockCols) +
                g * G / w.spec->blockCols);
          acc = acc + p * (sx * sw);
        }
        y.floats()[r * N + n] = roundTo(outKind, acc);
      }
  }
  return y;
}

bool bitwiseEqual(const Tensor &a, const Tensor &b) {
  return a.floats().size() == b.floats().size() &&
         std::memcmp(a.floats().data(), b.floats().data(),
                     a.floats().size() * sizeof(float)) == 0;
}

TEST(ExpertMatmulTest, MatchesDocumentedLoopOnRandomInputs) {
  // Expert sizes cover the skinny (<= 8, <= 16 rows) and packed (> 16 rows,
  // with tails) kernels; N and K are not multiples of the panel widths.
  const int64_t E = 6, N = 83;
  const std::vector<int64_t> off = {0, 1, 9, 9, 23, 53, 60};
  const int64_t M = 61; // row 60 belongs to no expert
  Tensor offsets = makeI(ElemKind::I32, {E + 1}, off);
  struct Case {
    ElemKind xKind, wKind;
    std::optional<QuantSpec> xSpec, wSpec;
    int64_t K;
  };
  const Case cases[] = {
      {ElemKind::BF16, ElemKind::BF16, std::nullopt, std::nullopt, 100},
      {ElemKind::F32, ElemKind::BF16, std::nullopt, std::nullopt, 37},
      {ElemKind::F8E4M3FN, ElemKind::F8E4M3FN,
       QuantSpec{QuantScheme::FP8Block, 1, 128},
       QuantSpec{QuantScheme::FP8Block, 1, 128}, 384},
      {ElemKind::BF16, ElemKind::F8E4M3FN, std::nullopt,
       QuantSpec{QuantScheme::MXFP8, 1, 32}, 96},
      {ElemKind::F8E4M3FN, ElemKind::F8E4M3FN,
       QuantSpec{QuantScheme::FP8Block, 1, 128},
       QuantSpec{QuantScheme::MXFP8, 1, 32}, 256},
      {ElemKind::F4E2M1FN, ElemKind::F4E2M1FN,
       QuantSpec{QuantScheme::NVFP4, 1, 16},
       QuantSpec{QuantScheme::NVFP4, 1, 16}, 64},
  };
  uint64_t stream = 0;
  for (const Case &c : cases) {
    Tensor x = makeRandomTensor(c.xKind, {M, c.K}, 5, ++stream, {});
    Tensor w = makeRandomTensor(c.wKind, {E, N, c.K}, 5, ++stream, {});
    Tensor xs, ws;
    Operand xo = plainOp(&x), wo = plainOp(&w);
    if (c.xSpec) {
      xs = makeRandomTensor(getScaleKind(c.xSpec->scheme),
                            {M, c.K / c.xSpec->blockCols}, 5, ++stream,
                            {Distribution::PositiveScale, 0.5f});
      xo = {&x, &xs, nullptr, c.xSpec};
    }
    if (c.wSpec) {
      ws = makeRandomTensor(getScaleKind(c.wSpec->scheme),
                            {E, N, c.K / c.wSpec->blockCols}, 5, ++stream,
                            {Distribution::PositiveScale, 0.25f});
      wo = {&w, &ws, nullptr, c.wSpec};
    }
    for (ElemKind outKind : {ElemKind::F32, ElemKind::BF16}) {
      Tensor y = unwrap(expertMatmul(xo, wo, offsets, outKind));
      Tensor ref = naiveExpertMatmul(xo, wo, offsets, outKind);
      EXPECT_TRUE(bitwiseEqual(y, ref))
          << "case " << stream << " " << getName(outKind).str();
    }
  }
}

TEST(ExpertMatmulTest, ThreadCountAndGenerationDoNotChangeResults) {
  const int64_t M = 70, K = 256, E = 4, N = 130;
  Tensor x = makeRandomTensor(ElemKind::BF16, {M, K}, 11, 1, {});
  Tensor w = makeRandomTensor(ElemKind::BF16, {E, N, K}, 11, 2, {});
  Tensor wm = w.materialize();
  Tensor off = makeI(ElemKind::I32, {E + 1}, {0, 5, 40, 40, 70});
  Tensor y1, y2, y3;
  {
    ScopedThreads t(1);
    EXPECT_EQ(getNumThreads(), 1u);
    y1 = unwrap(expertMatmul(plainOp(&x), plainOp(&w), off, ElemKind::F32));
  }
  {
    ScopedThreads t(2);
    EXPECT_EQ(getNumThreads(), 2u);
    y2 = unwrap(expertMatmul(plainOp(&x), plainOp(&w), off, ElemKind::F32));
  }
  {
    ScopedThreads t(3);
    y3 = unwrap(expertMatmul(plainOp(&x), plainOp(&wm), off, ElemKind::F32));
  }
  EXPECT_TRUE(bitwiseEqual(y1, y2));
  EXPECT_TRUE(bitwiseEqual(y1, y3));
  // Not all zero: the comparison is meaningful.
  EXPECT_NE(std::count(y1.floats().begin(), y1.floats().end(), 0.0f),
            static_cast<long>(y1.floats().size()));
  // gate is the same GEMM.
  Tensor gw = makeRandomTensor(ElemKind::BF16, {N, K}, 11, 3, {});
  Tensor g1, g2;
  {
    ScopedThreads t(1);
    g1 = unwrap(gate(x, gw, ElemKind::F32));
  }
  {
    ScopedThreads t(2);
    g2 = unwrap(gate(x, gw.materialize(), ElemKind::F32));
  }
  EXPECT_TRUE(bitwiseEqual(g1, g2));
}

//===----------------------------------------------------------------------===//
// activation
//===----------------------------------------------------------------------===//

/// h rows for I = 2: gate values g0, g1 and up values u0, u1 in the layout.
Tensor makeGateUp(GateUpLayout layout, std::vector<float> g,
                  std::vector<float> u) {
  size_t rows = g.size() / 2;
  std::vector<float> h;
  for (size_t r = 0; r < rows; ++r) {
    if (layout == GateUpLayout::Concat)
      h.insert(h.end(), {g[2 * r], g[2 * r + 1], u[2 * r], u[2 * r + 1]});
    else
      h.insert(h.end(), {g[2 * r], u[2 * r], g[2 * r + 1], u[2 * r + 1]});
  }
  return makeF(ElemKind::F32, {static_cast<int64_t>(rows), 4}, h);
}

TEST(ActivationTest, AllKindsBothLayouts) {
  struct Case {
    Activation kind;
    std::vector<float> g, u;
    std::vector<double> expected; // without row weights
  };
  const Case cases[] = {
      // sigmoid(1) * 1 * 2; -2 * sigmoid(-2) * 3; row 2: g = 0 -> 0.
      {Activation::SwiGLU,
       {1, -2, 0, 0},
       {2, 3, 5, -5},
       {1.4621171572600098, -0.7152175321327052, 0, 0}},
      // g = min(10, 7) = 7, u = clamp(-9) = -7: 7 * sigmoid(1.702 * 7) * -6;
      // 0.5 * sigmoid(0.851) * 1.25; NaN gate -> min(NaN, 7) = 7, u = 0.
      {Activation::ClampedSwiGLU,
       {10, 0.5f, kNaN, 0},
       {-9, 0.25f, 0, 100},
       {-41.99971876981991, 0.43798554575797516, 7 / (1 + std::exp(-11.914)),
        0}},
      // 0.5 * g * (1 + erf(g / sqrt 2)) * u.
      {Activation::GeluMul,
       {1, -1, 0, 3},
       {1, 2, 1, 0},
       {0.8413447460685429, -0.31731050786291415, 0, 0}},
      {Activation::GeluTanhMul,
       {1, -1, 0, 3},
       {1, 2, 1, 0},
       {0.841191990607477, -0.3176160187850462, 0, 0}},
  };
  Tensor rw = makeF(ElemKind::F32, {2}, {0.5f, 2.0f});
  for (const Case &c : cases)
    for (GateUpLayout layout :
         {GateUpLayout::Concat, GateUpLayout::Interleaved}) {
      ActivationParams p;
      p.kind = c.kind;
      p.layout = layout;
      Tensor h = makeGateUp(layout, c.g, c.u);
      Tensor a = unwrap(activation(h, nullptr, p, ElemKind::F32));
      ASSERT_EQ(a.getShape(), llvm::ArrayRef<int64_t>({2, 2}));
      for (int i = 0; i < 4; ++i)
        EXPECT_NEAR(a.floats()[i], c.expected[i],
                    1e-6 * std::max(1.0, std::fabs(c.expected[i])))
            << int(c.kind) << " layout " << int(layout) << " i " << i;
      // Row weights multiply after the activation: exact for 0.5 and 2.
      Tensor aw = unwrap(activation(h, &rw, p, ElemKind::F32));
      for (int i = 0; i < 4; ++i)
        EXPECT_EQ(aw.floats()[i], a.floats()[i] * (i < 2 ? 0.5f : 2.0f));
      // bf16 output: one rounding of the f32 result.
      Tensor ab = unwrap(activation(h, &rw, p, ElemKind::BF16));
      for (int i = 0; i < 4; ++i)
        EXPECT_EQ(ab.floats()[i], roundTo(ElemKind::BF16, aw.floats()[i]));
    }
}

TEST(ActivationTest, SwiGLUExactCase) {
  // g = 0: 0 / 2 * u = 0; sign: 0 * -5 = -0.
  ActivationParams p;
  Tensor h = makeF(ElemKind::F32, {1, 2}, {0, -5});
  Tensor a = unwrap(activation(h, nullptr, p, ElemKind::F32));
  EXPECT_EQ(a.floats()[0], 0.0f);
  EXPECT_TRUE(std::signbit(a.floats()[0]));
}

TEST(ActivationTest, Errors) {
  Tensor h(ElemKind::F32, {2, 3});
  EXPECT_NE(errorOf(activation(h, nullptr, {}, ElemKind::F32))
                .find("activation: h has shape [2, 3]"),
            std::string::npos);
  Tensor h2(ElemKind::F32, {2, 4});
  Tensor rw(ElemKind::F32, {3});
  EXPECT_NE(errorOf(activation(h2, &rw, {}, ElemKind::F32))
                .find("row_weights has shape [3], expected [2]"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// combine
//===----------------------------------------------------------------------===//

TEST(CombineTest, WeightedWithMaskedSlots) {
  Tensor y = makeF(ElemKind::BF16, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor map = makeI(ElemKind::I32, {3, 2}, {0, 2, -1, 3, -1, -1});
  Tensor w = makeF(ElemKind::F32, {3, 2}, {0.5f, 0.25f, 1, 2, 3, 4});
  Tensor out = unwrap(combine(y, map, &w, ElemKind::F32));
  ASSERT_EQ(out.getShape(), llvm::ArrayRef<int64_t>({3, 2}));
  // t0: 0.5*[1,2] + 0.25*[5,6]; t1: 2*[7,8]; t2: all slots masked -> +0.
  expectFloats(out, {1.75f, 2.5f, 14, 16, 0, 0});
  EXPECT_FALSE(std::signbit(out.floats()[4]));
  Tensor unweighted = unwrap(combine(y, map, nullptr, ElemKind::BF16));
  expectFloats(unweighted, {6, 8, 7, 8, 0, 0});
}

TEST(CombineTest, AscendingSlotOrder) {
  // ((+0 + 1e8) + 1) + -1e8 = 0; another order would give 1.
  Tensor y = makeF(ElemKind::F32, {3, 1}, {1e8f, 1, -1e8f});
  Tensor map = makeI(ElemKind::I32, {1, 3}, {0, 1, 2});
  EXPECT_EQ(unwrap(combine(y, map, nullptr, ElemKind::F32)).floats()[0], 0.0f);
  Tensor map2 = makeI(ElemKind::I32, {1, 3}, {0, 2, 1});
  EXPECT_EQ(unwrap(combine(y, map2, nullptr, ElemKind::F32)).floats()[0], 1.0f);
}

TEST(CombineTest, Errors) {
  Tensor y(ElemKind::F32, {4, 2});
  Tensor map(ElemKind::I32, {3, 2});
  Tensor w(ElemKind::F32, {3, 3});
  EXPECT_NE(errorOf(combine(y, map, &w, ElemKind::F32))
                .find("combine: weights has shape [3, 3], expected [3, 2]"),
            std::string::npos);
  Tensor mapF(ElemKind::F32, {3, 2});
  EXPECT_NE(errorOf(combine(y, mapF, nullptr, ElemKind::F32))
                .find("slot_map has kind f32"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// quantize / dequantize
//===----------------------------------------------------------------------===//

// Rows of 4 values, one 1x4 block each:
//   0: [1, -2, 0.5, 4]      amax 4
//   1: [0, 0, 0, 0]         all zero
//   2: [NaN, Inf, 1, -3]    amax 3 (non-finite values ignored)
//   3: [1e-5, -2e-5, 0, 0]  amax below FP8Block's 1e-4 clamp
Tensor quantInput() {
  return makeF(
      ElemKind::F32, {4, 4},
      {1, -2, 0.5f, 4, 0, 0, 0, 0, kNaN, kInf, 1, -3, 1e-5f, -2e-5f, 0, 0});
}

TEST(QuantizeTest, FP8Block) {
  QuantSpec spec{QuantScheme::FP8Block, 1, 4};
  Quantized q = unwrap(quantize(quantInput(), spec));
  EXPECT_EQ(q.values.getKind(), ElemKind::F8E4M3FN);
  EXPECT_EQ(q.scales.getKind(), ElemKind::F32);
  ASSERT_EQ(q.scales.getShape(), llvm::ArrayRef<int64_t>({4, 1}));
  EXPECT_FALSE(q.globalScale.has_value());
  // Row 0: scale 4/448, v * 112.  Row 1: a = 1e-4.  Row 2: v * (448/3) =
  // v * 149.33: 1 -> 144 (e4m3 step 16), Inf -> 448, NaN stays NaN.
  // Row 3: a = 1e-4: v * 4.48e6: 44.8 -> 44, -89.6 -> -88.
  expectFloats(q.scales,
               {4.0f / 448.0f, 1e-4f / 448.0f, 3.0f / 448.0f, 1e-4f / 448.0f});
  expectFloats(q.values, {112, -224, 56, 448, 0, 0, 0, 0, kNaN, 448, 144, -448,
                          44, -88, 0, 0});
  Tensor d =
      unwrap(dequantize(q.values, q.scales, nullptr, spec, ElemKind::F32));
  EXPECT_EQ(d.floats()[0], 1.0f);
  EXPECT_EQ(d.floats()[3], 4.0f);
  EXPECT_EQ(d.floats()[9], 3.0f); // Inf saturated to amax
  EXPECT_EQ(d.floats()[10], 144.0f * (3.0f / 448.0f));
  EXPECT_TRUE(std::isnan(d.floats()[8]));
}

TEST(QuantizeTest, MXFP8) {
  QuantSpec spec{QuantScheme::MXFP8, 1, 4};
  Quantized q = unwrap(quantize(quantInput(), spec));
  EXPECT_EQ(q.scales.getKind(), ElemKind::F8E8M0FNU);
  // amax 4: e = ceil(log2(4/448)) = -6; zero block: -127; amax 3: -7;
  // amax 2e-5: 2e-5/448 = 2^-24.4 -> -24.
  expectFloats(q.scales, {std::ldexp(1.0f, -6), std::ldexp(1.0f, -127),
                          std::ldexp(1.0f, -7), std::ldexp(1.0f, -24)});
  // 1e-5 * 2^24 = 167.77 -> 160 (step 16); -2e-5 * 2^24 = -335.5 -> -320
  // (step 32).
  expectFloats(q.values, {64, -128, 32, 256, 0, 0, 0, 0, kNaN, 448, 128, -384,
                          160, -320, 0, 0});
  Tensor d =
      unwrap(dequantize(q.values, q.scales, nullptr, spec, ElemKind::BF16));
  expectFloats(d, {1, -2, 0.5f, 4, 0, 0, 0, 0, kNaN, 3.5f, 1, -3,
                   roundTo(ElemKind::BF16, 160.0f * std::ldexp(1.0f, -24)),
                   roundTo(ElemKind::BF16, -320.0f * std::ldexp(1.0f, -24)), 0,
                   0});
}

TEST(QuantizeTest, MXFP4) {
  QuantSpec spec{QuantScheme::MXFP4, 1, 4};
  Tensor x = makeF(ElemKind::F32, {3, 4},
                   {1, -2, 0.5f, 4, 0.3f, 12, -7, 1, kNaN, kInf, 1, -3});
  Quantized q = unwrap(quantize(x, spec));
  EXPECT_EQ(q.values.getKind(), ElemKind::F4E2M1FN);
  // amax 4: 4/6 -> e = 0; amax 12: 12/6 = 2 -> e = 1; amax 3: 0.5 -> -1.
  expectFloats(q.scales, {1, 2, 0.5f});
  // Row 1 / 2: [0.15, 6, -3.5, 0.5] -> [0, 6, -4 (tie, even), 0.5].
  // Row 2 * 2: NaN -> +6, Inf -> 6, 2, -6.
  expectFloats(q.values, {1, -2, 0.5f, 4, 0, 6, -4, 0.5f, 6, 6, 2, -6});
  Tensor d =
      unwrap(dequantize(q.values, q.scales, nullptr, spec, ElemKind::F32));
  expectFloats(d, {1, -2, 0.5f, 4, 0, 12, -8, 1, 3, 3, 1, -3});
}

TEST(QuantizeTest, NVFP4GlobalScale) {
  QuantSpec spec{QuantScheme::NVFP4, 1, 4};
  Tensor x = makeF(ElemKind::F32, {3, 4},
                   {1, -2, 0.5f, 4, 0.3f, 12, -7, 1, 0, 0, 0, 0});
  Quantized q = unwrap(quantize(x, spec));
  ASSERT_TRUE(q.globalScale.has_value());
  EXPECT_EQ(q.globalScale->getRank(), 0);
  // gs = 12 / 2688.
  const float gs = 12.0f / 2688.0f;
  EXPECT_EQ(q.globalScale->floats()[0], gs);
  EXPECT_EQ(q.scales.getKind(), ElemKind::F8E4M3FN);
  // Row 0: (4/6)/gs = 149.33 -> e4m3 144; d = 144 gs = 0.642857:
  //   v/d = [1.556, -3.111, 0.778, 6.222] -> [1.5, -3, 1, 6].
  // Row 1: (12/6)/gs = 447.99997 -> 448; d = 448 gs = 2:
  //   [0.15, 6, -3.5, 0.5] -> [0, 6, -4, 0.5].
  // Row 2: all zero: scale 0, d = 0, q = 0.
  expectFloats(q.scales, {144, 448, 0});
  expectFloats(q.values, {1.5f, -3, 1, 6, 0, 6, -4, 0.5f, 0, 0, 0, 0});
  Tensor d = unwrap(
      dequantize(q.values, q.scales, &*q.globalScale, spec, ElemKind::F32));
  const float d0 = 144.0f * gs;
  expectFloats(d, {1.5f * d0, -3 * d0, d0, 6 * d0, 0, 12, -8, 1, 0, 0, 0, 0});
  // The global scale is required for NVFP4 and rejected otherwise.
  EXPECT_NE(
      errorOf(dequantize(q.values, q.scales, nullptr, spec, ElemKind::F32))
          .find("global_scale is missing"),
      std::string::npos);
  // An all-zero tensor gets gs = 1.
  Quantized z = unwrap(quantize(Tensor(ElemKind::F32, {1, 4}), spec));
  EXPECT_EQ(z.globalScale->floats()[0], 1.0f);
}

TEST(QuantizeTest, Weight128x128BlocksAndLeadingDims) {
  // [E=2, 2, 4] with 2x2 blocks: scales [2, 1, 2].
  QuantSpec spec{QuantScheme::MXFP8, 2, 2};
  Tensor x =
      makeF(ElemKind::BF16, {2, 2, 4},
            {1, 2, 100, 0, 3, -4, 0, 0, /**/ 0.5f, 0, 0, 0, 0, 0, 0, 448});
  Quantized q = unwrap(quantize(x, spec));
  ASSERT_EQ(q.scales.getShape(), llvm::ArrayRef<int64_t>({2, 1, 2}));
  // Blocks: amax 4 -> 2^-6; amax 100 -> 100/448 = 2^-2.16 -> 2^-2;
  //         amax 0.5 -> 0.5/448 -> 2^-9.8 -> 2^-9; amax 448 -> 2^0.
  expectFloats(q.scales,
               {std::ldexp(1.0f, -6), 0.25f, std::ldexp(1.0f, -9), 1});
  // 100 * 4 = 400 is a tie between 384 and 416 (step 32): even -> 384.
  expectFloats(q.values, {64, 128, 384, 0, 192, -256, 0, 0, /**/ 256, 0, 0, 0,
                          0, 0, 0, 448});
}

TEST(QuantizeTest, Errors) {
  Tensor x(ElemKind::F32, {4, 6});
  QuantSpec spec{QuantScheme::FP8Block, 1, 4};
  EXPECT_NE(errorOf(quantize(x, spec)).find("multiples of the 1x4 block"),
            std::string::npos);
  Tensor v(ElemKind::F32, {8});
  EXPECT_NE(errorOf(quantize(v, spec)).find("expected rank >= 2"),
            std::string::npos);
  Tensor q(ElemKind::F8E4M3FN, {2, 4});
  Tensor s(ElemKind::F8E8M0FNU, {2, 1});
  EXPECT_NE(errorOf(dequantize(q, s, nullptr, spec, ElemKind::F32))
                .find("scales have kind f8E8M0FNU, expected f32"),
            std::string::npos);
  Tensor s2(ElemKind::F32, {2, 2});
  EXPECT_NE(errorOf(dequantize(q, s2, nullptr, spec, ElemKind::F32))
                .find("scales have shape [2, 2], expected [2, 1]"),
            std::string::npos);
}

TEST(QuantizeTest, ElementwiseOpsIndependentOfThreadCount) {
  // Large enough that quantize, dequantize, activation and combine split
  // their work into several chunks.
  Tensor x = makeRandomTensor(ElemKind::BF16, {512, 256}, 3, 1, {});
  Tensor map = makeRandomTensor(ElemKind::I32, {400, 4}, 3, 2,
                                {Distribution::ExpertIds, 1.0f, 512, 0.2});
  Tensor w = makeRandomTensor(ElemKind::F32, {400, 4}, 3, 3,
                              {Distribution::Probability});
  auto run = [&](unsigned threads) {
    ScopedThreads t(threads);
    std::vector<Tensor> out;
    for (QuantScheme scheme :
         {QuantScheme::FP8Block, QuantScheme::MXFP4, QuantScheme::NVFP4}) {
      QuantSpec spec{scheme, 1, scheme == QuantScheme::NVFP4 ? 16 : 32};
      Quantized q = unwrap(quantize(x, spec));
      out.push_back(q.values);
      out.push_back(q.scales);
      const Tensor *gs = q.globalScale ? &*q.globalScale : nullptr;
      out.push_back(
          unwrap(dequantize(q.values, q.scales, gs, spec, ElemKind::BF16)));
    }
    ActivationParams p;
    p.kind = Activation::GeluTanhMul;
    out.push_back(unwrap(activation(x, nullptr, p, ElemKind::BF16)));
    out.push_back(unwrap(combine(x, map, &w, ElemKind::F32)));
    return out;
  };
  std::vector<Tensor> one = run(1), three = run(3);
  ASSERT_EQ(one.size(), three.size());
  for (size_t i = 0; i < one.size(); ++i)
    EXPECT_TRUE(bitwiseEqual(one[i], three[i])) << "output " << i;
}

TEST(QuantFormatsTest, Kinds) {
  EXPECT_EQ(getValueKind(QuantScheme::FP8Block), ElemKind::F8E4M3FN);
  EXPECT_EQ(getValueKind(QuantScheme::MXFP8), ElemKind::F8E4M3FN);
  EXPECT_EQ(getValueKind(QuantScheme::MXFP4), ElemKind::F4E2M1FN);
  EXPECT_EQ(getValueKind(QuantScheme::NVFP4), ElemKind::F4E2M1FN);
  EXPECT_EQ(getScaleKind(QuantScheme::FP8Block), ElemKind::F32);
  EXPECT_EQ(getScaleKind(QuantScheme::MXFP8), ElemKind::F8E8M0FNU);
  EXPECT_EQ(getScaleKind(QuantScheme::MXFP4), ElemKind::F8E8M0FNU);
  EXPECT_EQ(getScaleKind(QuantScheme::NVFP4), ElemKind::F8E4M3FN);
}

} // namespace
