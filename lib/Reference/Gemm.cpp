//===- Gemm.cpp - moe.expert_matmul and moe.gate reference ----------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The grouped GEMM of the reference evaluator. The order of float operations
// is exactly the one documented in Kernels.h: every output y[r][n] is one
// sequential chain over k (a product, then an addition, no FMA), so the code
// vectorizes across output columns n (or rows), never across k.
//
// Work is split into items (expert e, panel of output columns); an expert
// with no rows gets no items, so its weights are never read. Two item kinds:
//  - packed (experts with more than 16 rows): the item reads the 64 weight
//    rows w[e][n0 .. n0+64) (one contiguous read: a generated weight is
//    produced one panel at a time, never whole), packs them k-major
//    [Kd][64], and runs a register-blocked micro-kernel of 6 rows x 16
//    columns over K-blocks that are whole K-groups, keeping the running sums
//    in a small buffer between K-blocks (storing and reloading a float does
//    not change it, so the chain per output is the documented one);
//  - skinny (at most 16 rows, the common MoE case): the expert's rows are
//    transposed once, [Kd][8 or 16], and the kernel vectorizes across rows,
//    streaming 12 (or 6) weight rows straight from the generator's output
//    with no packing.
// Items are independent and write disjoint outputs, so results do not
// depend on the thread count or on which thread takes which item.
//
//===----------------------------------------------------------------------===//

#include "Support.h"
#include "moe/Reference/Kernels.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

using namespace moe::ref;
using namespace moe::ref::detail;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Runs fn(item, worker) for item in [0, numItems) on up to `numThreads`
/// workers. Items are taken dynamically; callers make items independent.
template <typename Fn>
void parallelFor(int64_t numItems, unsigned numThreads, Fn fn) {
  unsigned workers =
      static_cast<unsigned>(std::min<int64_t>(numThreads, numItems));
  if (workers <= 1) {
    for (int64_t i = 0; i < numItems; ++i)
      fn(i, 0u);
    return;
  }
  std::atomic<int64_t> next{0};
  auto body = [&](unsigned worker) {
    for (int64_t i = next.fetch_add(1); i < numItems; i = next.fetch_add(1))
      fn(i, worker);
  };
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  for (unsigned t = 1; t < workers; ++t)
    threads.emplace_back(body, t);
  body(0);
  for (std::thread &t : threads)
    t.join();
}

/// A float buffer aligned to 64 bytes.
class AlignedBuffer {
public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer &) = delete;
  AlignedBuffer &operator=(const AlignedBuffer &) = delete;
  ~AlignedBuffer() { std::free(ptr); }
  float *get(size_t n) {
    if (n > capacity) {
      std::free(ptr);
      size_t bytes = ((n * sizeof(float)) + 63) / 64 * 64;
      ptr = static_cast<float *>(std::aligned_alloc(64, bytes));
      if (!ptr)
        llvm::report_fatal_error("expert_matmul: out of memory");
      capacity = n;
    }
    return ptr;
  }

private:
  float *ptr = nullptr;
  size_t capacity = 0;
};

//===----------------------------------------------------------------------===//
// 8-wide float vector (AVX2, or a scalar stand-in with the same operations)
//===----------------------------------------------------------------------===//

#if defined(__AVX2__)
struct V8 {
  __m256 v;
};
inline V8 vzero() { return {_mm256_setzero_ps()}; }
inline V8 vload(const float *p) { return {_mm256_load_ps(p)}; }
inline void vstore(float *p, V8 a) { _mm256_store_ps(p, a.v); }
inline V8 vbroadcast(const float *p) { return {_mm256_broadcast_ss(p)}; }
inline V8 vset1(float a) { return {_mm256_set1_ps(a)}; }
inline V8 vadd(V8 a, V8 b) { return {_mm256_add_ps(a.v, b.v)}; }
inline V8 vmul(V8 a, V8 b) { return {_mm256_mul_ps(a.v, b.v)}; }
#else
struct V8 {
  float v[8];
};
inline V8 vzero() { return {{0, 0, 0, 0, 0, 0, 0, 0}}; }
inline V8 vload(const float *p) {
  V8 r;
  std::memcpy(r.v, p, sizeof(r.v));
  return r;
}
inline void vstore(float *p, V8 a) { std::memcpy(p, a.v, sizeof(a.v)); }
inline V8 vset1(float a) { return {{a, a, a, a, a, a, a, a}}; }
inline V8 vbroadcast(const float *p) { return vset1(*p); }
inline V8 vadd(V8 a, V8 b) {
  for (int i = 0; i < 8; ++i)
    a.v[i] = a.v[i] + b.v[i];
  return a;
}
inline V8 vmul(V8 a, V8 b) {
  for (int i = 0; i < 8; ++i)
    a.v[i] = a.v[i] * b.v[i];
  return a;
}
#endif

constexpr int64_t kPanel = 64;   // NB: output columns per work item
constexpr int64_t kStrip = 16;   // columns per micro-kernel call
constexpr int64_t kMaxRows = 6;  // MR
constexpr int64_t kBlockK = 256; // target K-block length

/// p[i][0..16) continues its chain over k in [k0, k1): p = p + a * b.
/// `c` holds the chains (row stride kPanel), `b` the packed panel at the
/// strip's first column (row stride kPanel).
template <int MR>
void kernelPlain(const float *const *a, const float *b, int64_t k0, int64_t k1,
                 float *c) {
  V8 p[MR][2];
  for (int i = 0; i < MR; ++i) {
    p[i][0] = vload(c + i * kPanel);
    p[i][1] = vload(c + i * kPanel + 8);
  }
  for (int64_t k = k0; k < k1; ++k) {
    V8 b0 = vload(b + k * kPanel);
    V8 b1 = vload(b + k * kPanel + 8);
    for (int i = 0; i < MR; ++i) {
      V8 x = vbroadcast(a[i] + k);
      p[i][0] = vadd(p[i][0], vmul(x, b0));
      p[i][1] = vadd(p[i][1], vmul(x, b1));
    }
  }
  for (int i = 0; i < MR; ++i) {
    vstore(c + i * kPanel, p[i][0]);
    vstore(c + i * kPanel + 8, p[i][1]);
  }
}

/// For each K-group [g*G, (g+1)*G) within [k0, k1): p = +0.0, the chain over
/// the group, then acc = acc + p * (sx * sw). `sx[i]` holds the x scales of
/// row i by K-group index (divided by sxDiv), `sw` the w scales of the
/// strip's columns by K-group (row stride kPanel).
template <int MR>
void kernelScaled(const float *const *a, const float *b, int64_t k0, int64_t k1,
                  int64_t groupSize, float *c, const float *const *sx,
                  int64_t sxDiv, const float *sw) {
  for (int64_t g0 = k0; g0 < k1; g0 += groupSize) {
    V8 p[MR][2];
    for (int i = 0; i < MR; ++i)
      p[i][0] = p[i][1] = vzero();
    for (int64_t k = g0, ke = g0 + groupSize; k < ke; ++k) {
      V8 b0 = vload(b + k * kPanel);
      V8 b1 = vload(b + k * kPanel + 8);
      for (int i = 0; i < MR; ++i) {
        V8 x = vbroadcast(a[i] + k);
        p[i][0] = vadd(p[i][0], vmul(x, b0));
        p[i][1] = vadd(p[i][1], vmul(x, b1));
      }
    }
    int64_t g = g0 / groupSize;
    V8 sw0 = vload(sw + g * kPanel);
    V8 sw1 = vload(sw + g * kPanel + 8);
    for (int i = 0; i < MR; ++i) {
      V8 s = vset1(sx[i][g / sxDiv]);
      V8 s0 = vmul(s, sw0), s1 = vmul(s, sw1);
      float *ci = c + i * kPanel;
      vstore(ci, vadd(vload(ci), vmul(p[i][0], s0)));
      vstore(ci + 8, vadd(vload(ci + 8), vmul(p[i][1], s1)));
    }
  }
}

/// Skinny experts (few rows): vectorize across rows instead of columns.
/// `xT` holds the expert's rows transposed, [Kd][RV*8] (zero-padded), and
/// `w[j]` points at weight row n_j (contiguous over k), so the weight needs
/// no packing. out[j][v*8 + lane] continues the chain of (row, n_j) over
/// all of Kd: p = p + x * w.
template <int RV, int NJ>
void skinnyPlain(const float *xT, const float *const *w, int64_t Kd,
                 float *out) {
  V8 p[NJ][RV];
  for (int j = 0; j < NJ; ++j)
    for (int v = 0; v < RV; ++v)
      p[j][v] = vzero();
  for (int64_t k = 0; k < Kd; ++k) {
    V8 xv[RV];
    for (int v = 0; v < RV; ++v)
      xv[v] = vload(xT + k * (RV * 8) + v * 8);
    for (int j = 0; j < NJ; ++j) {
      V8 wb = vbroadcast(w[j] + k);
      for (int v = 0; v < RV; ++v)
        p[j][v] = vadd(p[j][v], vmul(xv[v], wb));
    }
  }
  for (int j = 0; j < NJ; ++j)
    for (int v = 0; v < RV; ++v)
      vstore(out + j * (RV * 8) + v * 8, p[j][v]);
}

/// Scaled skinny kernel: per K-group, p = +0.0, the chain over the group,
/// acc = acc + p * (sx * sw). `sxT` is [numGroups][RV*8] (the x scale of
/// each row), `sw` is [NJ][numGroups]; `acc` [NJ][RV*8] starts at +0.0.
template <int RV, int NJ>
void skinnyScaled(const float *xT, const float *const *w, int64_t Kd,
                  int64_t groupSize, const float *sxT, const float *sw,
                  int64_t numGroups, float *acc) {
  for (int64_t g0 = 0, g = 0; g0 < Kd; g0 += groupSize, ++g) {
    V8 p[NJ][RV];
    for (int j = 0; j < NJ; ++j)
      for (int v = 0; v < RV; ++v)
        p[j][v] = vzero();
    for (int64_t k = g0, ke = g0 + groupSize; k < ke; ++k) {
      V8 xv[RV];
      for (int v = 0; v < RV; ++v)
        xv[v] = vload(xT + k * (RV * 8) + v * 8);
      for (int j = 0; j < NJ; ++j) {
        V8 wb = vbroadcast(w[j] + k);
        for (int v = 0; v < RV; ++v)
          p[j][v] = vadd(p[j][v], vmul(xv[v], wb));
      }
    }
    for (int j = 0; j < NJ; ++j) {
      V8 swb = vset1(sw[j * numGroups + g]);
      for (int v = 0; v < RV; ++v) {
        V8 sc = vmul(vload(sxT + g * (RV * 8) + v * 8), swb);
        float *a = acc + j * (RV * 8) + v * 8;
        vstore(a, vadd(vload(a), vmul(p[j][v], sc)));
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// The job
//===----------------------------------------------------------------------===//

struct GemmJob {
  const float *x = nullptr; // [M, Kd]
  int64_t M = 0, Kd = 0;
  const Tensor *w = nullptr; // flat (e*N + n)*Kd + k
  int64_t E = 0, N = 0;
  std::vector<int64_t> lo, hi; // per expert: the rows it computes
  std::vector<int32_t> owner;  // per row: the expert whose result it keeps

  bool scaled = false;   // at least one operand has block scales
  int64_t groupSize = 0; // G (Kd if not scaled)
  int64_t numGroups = 1;

  // x scales, materialized: [rows / xsBr, xsCols]; null if x is plain.
  const float *xs = nullptr;
  int64_t xsBr = 1, xsBc = 1, xsCols = 0;
  // w scales [E, wsRows, wsCols]; null if w is plain.
  const Tensor *ws = nullptr;
  int64_t wsBr = 1, wsBc = 1, wsRows = 0, wsCols = 0;

  const float *gw = nullptr; // per expert (gwPerExpert) or a single value
  bool gwPerExpert = false;
  const float *gx = nullptr;
  const float *bias = nullptr; // [E, N]; null without

  ElemKind outKind = ElemKind::F32;
  float *y = nullptr; // [M, N]
};

struct WorkerBuffers {
  std::vector<float> raw;     // nb x Kd weight rows as read
  AlignedBuffer packed;       // Kd x kPanel
  AlignedBuffer acc;          // rows x kPanel
  AlignedBuffer swPanel;      // numGroups x kPanel
  std::vector<float> wsRaw;   // w scale rows of the panel
  std::vector<float> ones;    // numGroups ones (x plain, w scaled)
  AlignedBuffer xT;           // skinny: Kd x (RV*8)
  AlignedBuffer sxT;          // skinny: numGroups x (RV*8)
  std::vector<float> swChunk; // skinny: NJ x numGroups
  std::vector<float> zeros;   // skinny: a zero weight row for padding
  int64_t xTExpert = -1;      // skinny: the expert whose rows xT holds
};

/// packed[k][j] = raw[j][k] for j < nb, 0 for nb <= j < kPanel.
void packPanel(const float *raw, int64_t nb, int64_t Kd, float *packed) {
  int64_t j = 0;
#if defined(__AVX2__)
  int64_t kFull = Kd / 8 * 8;
  for (; j + 8 <= nb; j += 8) {
    const float *src = raw + j * Kd;
    for (int64_t k = 0; k < kFull; k += 8) {
      __m256 r0 = _mm256_loadu_ps(src + 0 * Kd + k);
      __m256 r1 = _mm256_loadu_ps(src + 1 * Kd + k);
      __m256 r2 = _mm256_loadu_ps(src + 2 * Kd + k);
      __m256 r3 = _mm256_loadu_ps(src + 3 * Kd + k);
      __m256 r4 = _mm256_loadu_ps(src + 4 * Kd + k);
      __m256 r5 = _mm256_loadu_ps(src + 5 * Kd + k);
      __m256 r6 = _mm256_loadu_ps(src + 6 * Kd + k);
      __m256 r7 = _mm256_loadu_ps(src + 7 * Kd + k);
      __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
      __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
      __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
      __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44);
      __m256 u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44);
      __m256 u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44);
      __m256 u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44);
      __m256 u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float *dst = packed + k * kPanel + j;
      _mm256_store_ps(dst + 0 * kPanel, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_store_ps(dst + 1 * kPanel, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_store_ps(dst + 2 * kPanel, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_store_ps(dst + 3 * kPanel, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_store_ps(dst + 4 * kPanel, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_store_ps(dst + 5 * kPanel, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_store_ps(dst + 6 * kPanel, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_store_ps(dst + 7 * kPanel, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    for (int64_t k = kFull; k < Kd; ++k)
      for (int64_t jj = j; jj < j + 8; ++jj)
        packed[k * kPanel + jj] = raw[jj * Kd + k];
  }
#endif
  for (; j < nb; ++j)
    for (int64_t k = 0; k < Kd; ++k)
      packed[k * kPanel + j] = raw[j * Kd + k];
  for (int64_t k = 0; k < Kd; ++k)
    for (int64_t jj = nb; jj < kPanel; ++jj)
      packed[k * kPanel + jj] = 0.0f;
}

/// Applies the global scales and the bias, rounds, and stores y[r][n] if
/// expert e owns row r.
inline void storeResult(const GemmJob &job, int64_t e, int64_t r, int64_t n,
                        float v) {
  if (job.owner[r] != e)
    return;
  if (job.gw)
    v = v * job.gw[job.gwPerExpert ? e : 0];
  if (job.gx)
    v = v * *job.gx;
  if (job.bias)
    v = v + job.bias[e * job.N + n];
  job.y[r * job.N + n] = roundTo(job.outKind, v);
}

template <int MR>
void runRows(const GemmJob &job, const float *const *a, const float *packed,
             int64_t k0, int64_t k1, float *c, int64_t numStrips,
             const float *const *sx, int64_t sxDiv, const float *sw) {
  for (int64_t s = 0; s < numStrips; ++s) {
    if (job.scaled)
      kernelScaled<MR>(a, packed + s * kStrip, k0, k1, job.groupSize,
                       c + s * kStrip, sx, sxDiv, sw + s * kStrip);
    else
      kernelPlain<MR>(a, packed + s * kStrip, k0, k1, c + s * kStrip);
  }
}

void runItem(const GemmJob &job, int64_t e, int64_t panel, WorkerBuffers &buf) {
  const int64_t Kd = job.Kd;
  const int64_t n0 = panel * kPanel;
  const int64_t nb = std::min(kPanel, job.N - n0);
  const int64_t r0 = job.lo[e], r1 = job.hi[e];
  const int64_t rows = r1 - r0;
  const int64_t numStrips = (nb + kStrip - 1) / kStrip;

  // Weight rows of the panel: one contiguous read.
  buf.raw.resize(static_cast<size_t>(nb * Kd));
  job.w->readFloat((e * job.N + n0) * Kd, nb * Kd, buf.raw.data());
  float *packed =
      buf.packed.get(static_cast<size_t>(std::max<int64_t>(Kd, 1) * kPanel));
  packPanel(buf.raw.data(), nb, Kd, packed);

  // Scales of the panel's columns by K-group.
  const float *sw = nullptr;
  const float *sxRows[kMaxRows];
  int64_t sxDiv = 1;
  const float *sxBase = nullptr;
  if (job.scaled) {
    float *swp = buf.swPanel.get(static_cast<size_t>(job.numGroups * kPanel));
    std::fill(swp, swp + job.numGroups * kPanel, 1.0f);
    if (job.ws) {
      int64_t sr0 = n0 / job.wsBr, sr1 = (n0 + nb - 1) / job.wsBr + 1;
      buf.wsRaw.resize(static_cast<size_t>((sr1 - sr0) * job.wsCols));
      job.ws->readFloat((e * job.wsRows + sr0) * job.wsCols,
                        (sr1 - sr0) * job.wsCols, buf.wsRaw.data());
      for (int64_t g = 0; g < job.numGroups; ++g) {
        int64_t col = g * job.groupSize / job.wsBc;
        for (int64_t j = 0; j < nb; ++j)
          swp[g * kPanel + j] =
              buf.wsRaw[((n0 + j) / job.wsBr - sr0) * job.wsCols + col];
      }
    }
    sw = swp;
    if (job.xs) {
      sxDiv = job.xsBc / job.groupSize;
    } else {
      buf.ones.assign(static_cast<size_t>(job.numGroups), 1.0f);
      sxBase = buf.ones.data();
    }
  }

  float *acc =
      buf.acc.get(static_cast<size_t>(std::max<int64_t>(rows, 1) * kPanel));
  std::fill(acc, acc + rows * kPanel, 0.0f);

  int64_t blockK = kBlockK;
  if (job.scaled)
    blockK = job.groupSize <= kBlockK
                 ? job.groupSize * (kBlockK / job.groupSize)
                 : job.groupSize;
  for (int64_t k0 = 0; k0 < Kd; k0 += blockK) {
    int64_t k1 = std::min(Kd, k0 + blockK);
    for (int64_t ri = r0; ri < r1; ri += kMaxRows) {
      int64_t mr = std::min(kMaxRows, r1 - ri);
      const float *a[kMaxRows];
      for (int64_t i = 0; i < mr; ++i) {
        a[i] = job.x + (ri + i) * Kd;
        if (job.scaled)
          sxRows[i] =
              job.xs ? job.xs + ((ri + i) / job.xsBr) * job.xsCols : sxBase;
      }
      float *c = acc + (ri - r0) * kPanel;
      switch (mr) {
      case 1:
        runRows<1>(job, a, packed, k0, k1, c, numStrips, sxRows, sxDiv, sw);
        break;
      case 2:
        runRows<2>(job, a, packed, k0, k1, c, numStrips, sxRows, sxDiv, sw);
        break;
      case 3:
        runRows<3>(job, a, packed, k0, k1, c, numStrips, sxRows, sxDiv, sw);
        break;
      case 4:
        runRows<4>(job, a, packed, k0, k1, c, numStrips, sxRows, sxDiv, sw);
        break;
      case 5:
        runRows<5>(job, a, packed, k0, k1, c, numStrips, sxRows, sxDiv, sw);
        break;
      default:
        runRows<6>(job, a, packed, k0, k1, c, numStrips, sxRows, sxDiv, sw);
        break;
      }
    }
  }

  for (int64_t r = r0; r < r1; ++r) {
    const float *c = acc + (r - r0) * kPanel;
    for (int64_t j = 0; j < nb; ++j)
      storeResult(job, e, r, n0 + j, c[j]);
  }
}

constexpr int64_t kSkinnyMaxRows = 16;
constexpr int64_t kSkinnyPanel = 48; // multiple of both 12 and 6

/// An expert with at most kSkinnyMaxRows rows, columns [n0, n0 + nb).
void runItemSkinny(const GemmJob &job, int64_t e, int64_t n0, int64_t nb,
                   WorkerBuffers &buf) {
  const int64_t Kd = job.Kd;
  const int64_t r0 = job.lo[e], r1 = job.hi[e], rows = r1 - r0;
  const int RV = rows <= 8 ? 1 : 2;
  const int64_t W = RV * 8;
  const int64_t NJ = RV == 1 ? 12 : 6;

  // The expert's rows, transposed (kept while a worker stays on expert e).
  float *xT = buf.xT.get(static_cast<size_t>(std::max<int64_t>(Kd, 1) * W));
  if (buf.xTExpert != e) {
    std::fill(xT, xT + Kd * W, 0.0f);
    for (int64_t i = 0; i < rows; ++i) {
      const float *xr = job.x + (r0 + i) * Kd;
      for (int64_t k = 0; k < Kd; ++k)
        xT[k * W + i] = xr[k];
    }
    buf.xTExpert = e;
  }

  const int64_t numGroups = job.numGroups;
  float *sxT = nullptr;
  int64_t sr0 = 0;
  if (job.scaled) {
    sxT = buf.sxT.get(static_cast<size_t>(std::max<int64_t>(numGroups, 1) * W));
    std::fill(sxT, sxT + numGroups * W, 1.0f);
    if (job.xs)
      for (int64_t i = 0; i < rows; ++i) {
        const float *row = job.xs + ((r0 + i) / job.xsBr) * job.xsCols;
        for (int64_t g = 0; g < numGroups; ++g)
          sxT[g * W + i] = row[g * job.groupSize / job.xsBc];
      }
    if (job.ws) {
      sr0 = n0 / job.wsBr;
      int64_t sr1 = (n0 + nb - 1) / job.wsBr + 1;
      buf.wsRaw.resize(static_cast<size_t>((sr1 - sr0) * job.wsCols));
      job.ws->readFloat((e * job.wsRows + sr0) * job.wsCols,
                        (sr1 - sr0) * job.wsCols, buf.wsRaw.data());
    }
    buf.swChunk.resize(static_cast<size_t>(NJ * numGroups));
  }

  alignas(64) float out[12 * 8];
  const float *wRows[12];
  buf.zeros.assign(static_cast<size_t>(Kd), 0.0f);
  for (int64_t j0 = 0; j0 < nb; j0 += NJ) {
    const int64_t nj = std::min(NJ, nb - j0);
    // One row at a time, at a padded stride: rows Kd floats apart would all
    // map to the same L1 sets when Kd*4 is a multiple of 4 KiB (DeepSeek's
    // 7168), and the kernel streams NJ of them at once.
    const int64_t stride = (Kd + 15) / 16 * 16 + 16;
    buf.raw.resize(static_cast<size_t>(nj * stride));
    for (int64_t j = 0; j < nj; ++j)
      job.w->readFloat((e * job.N + n0 + j0 + j) * Kd, Kd,
                       buf.raw.data() + j * stride);
    for (int64_t j = 0; j < NJ; ++j)
      wRows[j] = j < nj ? buf.raw.data() + j * stride : buf.zeros.data();
    if (!job.scaled) {
      if (RV == 1)
        skinnyPlain<1, 12>(xT, wRows, Kd, out);
      else
        skinnyPlain<2, 6>(xT, wRows, Kd, out);
    } else {
      float *sw = buf.swChunk.data();
      for (int64_t j = 0; j < NJ; ++j)
        for (int64_t g = 0; g < numGroups; ++g)
          sw[j * numGroups + g] =
              job.ws && j < nj
                  ? buf.wsRaw[((n0 + j0 + j) / job.wsBr - sr0) * job.wsCols +
                              g * job.groupSize / job.wsBc]
                  : 1.0f;
      std::fill(out, out + NJ * W, 0.0f);
      if (RV == 1)
        skinnyScaled<1, 12>(xT, wRows, Kd, job.groupSize, sxT, sw, numGroups,
                            out);
      else
        skinnyScaled<2, 6>(xT, wRows, Kd, job.groupSize, sxT, sw, numGroups,
                           out);
    }
    for (int64_t j = 0; j < nj; ++j)
      for (int64_t i = 0; i < rows; ++i)
        storeResult(job, e, r0 + i, n0 + j0 + j, out[j * W + i]);
  }
}

struct WorkItem {
  int64_t e, n0, nb;
  bool skinny;
};

void runJob(const GemmJob &job) {
  if (job.M == 0 || job.N == 0)
    return;
  std::vector<WorkItem> items;
  for (int64_t e = 0; e < job.E; ++e) {
    int64_t rows = job.hi[e] - job.lo[e];
    if (rows <= 0)
      continue; // no rows: the weights of e are never read
    bool skinny = rows <= kSkinnyMaxRows;
    int64_t panel = skinny ? kSkinnyPanel : kPanel;
    for (int64_t n0 = 0; n0 < job.N; n0 += panel)
      items.push_back({e, n0, std::min(panel, job.N - n0), skinny});
  }
  unsigned numThreads = getNumThreads();
  std::vector<WorkerBuffers> buffers(
      std::max<int64_t>(1, std::min<int64_t>(numThreads, items.size())));
  parallelFor(static_cast<int64_t>(items.size()), numThreads,
              [&](int64_t i, unsigned worker) {
                const WorkItem &item = items[i];
                if (item.skinny)
                  runItemSkinny(job, item.e, item.n0, item.nb, buffers[worker]);
                else
                  runItem(job, item.e, item.n0 / kPanel, buffers[worker]);
              });
}

/// The values of a float tensor: its storage if materialized, else a copy.
const float *floatsOf(const Tensor &t, std::vector<float> &storage) {
  if (!t.isGenerated())
    return t.floats().data();
  storage.resize(static_cast<size_t>(t.getNumElements()));
  int64_t n = t.getNumElements();
  constexpr int64_t chunk = int64_t(1) << 20;
  int64_t numChunks = (n + chunk - 1) / chunk;
  parallelFor(numChunks, getNumThreads(), [&](int64_t c, unsigned) {
    int64_t begin = c * chunk;
    t.readFloat(begin, std::min(chunk, n - begin), storage.data() + begin);
  });
  return storage.data();
}

/// Checks a quantized operand's spec, values kind, scales and global scale.
/// `leading` are the scale dims before [rows / Br, Kd / Bc].
llvm::Error checkQuantOperand(llvm::StringRef opName, const Operand &op,
                              llvm::ArrayRef<int64_t> leading, int64_t rows,
                              int64_t Kd) {
  const char *fn = "expert_matmul";
  if (!op.scales) {
    if (op.globalScale && !op.globalScale->isFloat())
      return makeError(
          llvm::Twine(fn) + ": " + opName + " global scale has kind " +
          getName(op.globalScale->getKind()) + ", expected a float kind");
    return llvm::Error::success();
  }
  if (!op.spec)
    return makeError(llvm::Twine(fn) + ": " + opName +
                     " has scales but no quantization spec");
  const QuantSpec &spec = *op.spec;
  if (spec.blockRows < 1 || spec.blockCols < 1)
    return makeError(llvm::Twine(fn) + ": " + opName + " has block " +
                     llvm::Twine(spec.blockRows) + "x" +
                     llvm::Twine(spec.blockCols) +
                     ", expected positive block sizes");
  ElemKind valueKind = getValueKind(spec.scheme);
  if (op.values->getKind() != valueKind)
    return makeError(llvm::Twine(fn) + ": " + opName + " has kind " +
                     getName(op.values->getKind()) + ", expected " +
                     getName(valueKind) + " for " + schemeName(spec.scheme));
  ElemKind scaleKind = getScaleKind(spec.scheme);
  if (op.scales->getKind() != scaleKind)
    return makeError(llvm::Twine(fn) + ": " + opName + " scales have kind " +
                     getName(op.scales->getKind()) + ", expected " +
                     getName(scaleKind) + " for " + schemeName(spec.scheme));
  if (rows % spec.blockRows != 0 || Kd % spec.blockCols != 0)
    return makeError(llvm::Twine(fn) + ": " + opName + " block " +
                     llvm::Twine(spec.blockRows) + "x" +
                     llvm::Twine(spec.blockCols) +
                     " does not divide its [rows, Kd] = [" + llvm::Twine(rows) +
                     ", " + llvm::Twine(Kd) + "]");
  llvm::SmallVector<int64_t, 4> expected(leading.begin(), leading.end());
  expected.push_back(rows / spec.blockRows);
  expected.push_back(Kd / spec.blockCols);
  if (op.scales->getShape() != llvm::ArrayRef<int64_t>(expected))
    return makeError(llvm::Twine(fn) + ": " + opName + " scales have shape " +
                     shapeStr(op.scales->getShape()) + ", expected " +
                     shapeStr(expected));
  if (op.globalScale && !op.globalScale->isFloat())
    return makeError(
        llvm::Twine(fn) + ": " + opName + " global scale has kind " +
        getName(op.globalScale->getKind()) + ", expected a float kind");
  return llvm::Error::success();
}

} // namespace

//===----------------------------------------------------------------------===//
// moe.gate
//===----------------------------------------------------------------------===//

llvm::Expected<Tensor> moe::ref::gate(const Tensor &x, const Tensor &w,
                                      ElemKind outKind) {
  if (x.getRank() != 2 || !x.isFloat())
    return makeError("gate: x has shape " + shapeStr(x.getShape()) +
                     " and kind " + getName(x.getKind()) +
                     ", expected [T, H] of a float kind");
  int64_t T = x.getDim(0), H = x.getDim(1);
  if (w.getRank() != 2 || w.getDim(1) != H)
    return makeError("gate: w has shape " + shapeStr(w.getShape()) +
                     ", expected [E, " + llvm::Twine(H) + "]");
  if (!w.isFloat())
    return makeError("gate: w has kind " + getName(w.getKind()) +
                     ", expected a float kind");
  if (!isFloatKind(outKind))
    return makeError(llvm::Twine("gate: result kind is ") + getName(outKind) +
                     ", expected a float kind");
  int64_t E = w.getDim(0);
  Tensor y(outKind, {T, E});
  std::vector<float> xStorage;
  GemmJob job;
  job.x = floatsOf(x, xStorage);
  job.M = T;
  job.Kd = H;
  job.w = &w;
  job.E = 1;
  job.N = E;
  job.lo = {0};
  job.hi = {T};
  job.owner.assign(static_cast<size_t>(T), 0);
  job.groupSize = H;
  job.outKind = outKind;
  job.y = y.floats().data();
  runJob(job);
  return y;
}

//===----------------------------------------------------------------------===//
// moe.expert_matmul
//===----------------------------------------------------------------------===//

llvm::Expected<Tensor> moe::ref::expertMatmul(const Operand &x,
                                              const Operand &w,
                                              const Tensor &offsets,
                                              ElemKind outKind,
                                              const Tensor *bias) {
  if (!x.values)
    return makeError("expert_matmul: x is missing");
  if (!w.values)
    return makeError("expert_matmul: w is missing");
  const Tensor &xv = *x.values, &wv = *w.values;
  if (xv.getRank() != 2)
    return makeError("expert_matmul: x has shape " + shapeStr(xv.getShape()) +
                     ", expected [M, Kd]");
  if (!xv.isFloat())
    return makeError(llvm::Twine("expert_matmul: x has kind ") +
                     getName(xv.getKind()) + ", expected a float kind");
  int64_t M = xv.getDim(0), Kd = xv.getDim(1);
  if (wv.getRank() != 3 || wv.getDim(2) != Kd)
    return makeError("expert_matmul: w has shape " + shapeStr(wv.getShape()) +
                     ", expected [E, N, " + llvm::Twine(Kd) + "]");
  if (!wv.isFloat())
    return makeError(llvm::Twine("expert_matmul: w has kind ") +
                     getName(wv.getKind()) + ", expected a float kind");
  int64_t E = wv.getDim(0), N = wv.getDim(1);
  if (offsets.getRank() != 1 || offsets.getDim(0) != E + 1)
    return makeError("expert_matmul: offsets has shape " +
                     shapeStr(offsets.getShape()) + ", expected [" +
                     llvm::Twine(E + 1) + "] ([E+1])");
  if (offsets.isFloat())
    return makeError(llvm::Twine("expert_matmul: offsets has kind ") +
                     getName(offsets.getKind()) + ", expected i32");
  if (!isFloatKind(outKind))
    return makeError(llvm::Twine("expert_matmul: result kind is ") +
                     getName(outKind) + ", expected a float kind");
  if (llvm::Error err = checkQuantOperand("x", x, {}, M, Kd))
    return llvm::Expected<Tensor>(std::move(err));
  if (llvm::Error err = checkQuantOperand("w", w, {E}, N, Kd))
    return llvm::Expected<Tensor>(std::move(err));

  GemmJob job;
  job.M = M;
  job.Kd = Kd;
  job.w = &wv;
  job.E = E;
  job.N = N;
  job.outKind = outKind;

  // K-groups.
  int64_t G = Kd;
  if (x.scales)
    G = std::min(G, x.spec->blockCols);
  if (w.scales)
    G = std::min(G, w.spec->blockCols);
  job.scaled = x.scales || w.scales;
  if (job.scaled) {
    if ((x.scales && x.spec->blockCols % G != 0) ||
        (w.scales && w.spec->blockCols % G != 0))
      return makeError("expert_matmul: K-blocks of x (" +
                       llvm::Twine(x.scales ? x.spec->blockCols : Kd) +
                       ") and w (" +
                       llvm::Twine(w.scales ? w.spec->blockCols : Kd) +
                       ") are not multiples of the smaller one");
  }
  job.groupSize = std::max<int64_t>(G, 1);
  job.numGroups = Kd / job.groupSize;

  // Global scales.
  std::vector<float> gwStorage, gxStorage;
  if (w.globalScale) {
    int64_t n = w.globalScale->getNumElements();
    bool perExpert = w.globalScale->getRank() == 1 && n == E;
    if (n != 1 && !perExpert)
      return makeError("expert_matmul: w global scale has shape " +
                       shapeStr(w.globalScale->getShape()) + ", expected [" +
                       llvm::Twine(E) + "] ([E]) or []");
    if (!w.globalScale->isFloat())
      return makeError(llvm::Twine("expert_matmul: w global scale has kind ") +
                       getName(w.globalScale->getKind()) +
                       ", expected a float kind");
    gwStorage.resize(static_cast<size_t>(n));
    w.globalScale->readFloat(0, n, gwStorage.data());
    job.gw = gwStorage.data();
    job.gwPerExpert = perExpert;
  }
  if (x.globalScale) {
    if (x.globalScale->getNumElements() != 1)
      return makeError("expert_matmul: x global scale has shape " +
                       shapeStr(x.globalScale->getShape()) + ", expected []");
    if (!x.globalScale->isFloat())
      return makeError(llvm::Twine("expert_matmul: x global scale has kind ") +
                       getName(x.globalScale->getKind()) +
                       ", expected a float kind");
    gxStorage.resize(1);
    x.globalScale->readFloat(0, 1, gxStorage.data());
    job.gx = gxStorage.data();
  }

  // Bias.
  std::vector<float> biasStorage;
  if (bias) {
    if (bias->getRank() != 2 || bias->getDim(0) != E || bias->getDim(1) != N)
      return makeError("expert_matmul: bias has shape " +
                       shapeStr(bias->getShape()) + ", expected [" +
                       llvm::Twine(E) + ", " + llvm::Twine(N) + "] ([E, N])");
    if (!bias->isFloat())
      return makeError(llvm::Twine("expert_matmul: bias has kind ") +
                       getName(bias->getKind()) + ", expected a float kind");
    job.bias = floatsOf(*bias, biasStorage);
  }

  // Scales.
  std::vector<float> xsStorage;
  if (x.scales) {
    job.xs = floatsOf(*x.scales, xsStorage);
    job.xsBr = x.spec->blockRows;
    job.xsBc = x.spec->blockCols;
    job.xsCols = Kd / x.spec->blockCols;
  }
  if (w.scales) {
    job.ws = w.scales;
    job.wsBr = w.spec->blockRows;
    job.wsBc = w.spec->blockCols;
    job.wsRows = N / w.spec->blockRows;
    job.wsCols = Kd / w.spec->blockCols;
  }

  // Row ranges. A row in several experts' ranges keeps the result of the
  // last such expert (the documented loop runs over e ascending).
  std::vector<int64_t> off(static_cast<size_t>(E + 1));
  offsets.readInt(0, E + 1, off.data());
  job.lo.assign(static_cast<size_t>(E), 0);
  job.hi.assign(static_cast<size_t>(E), 0);
  job.owner.assign(static_cast<size_t>(M), -1);
  for (int64_t e = 0; e < E; ++e) {
    int64_t lo = std::clamp<int64_t>(off[e], 0, M);
    int64_t hi = std::clamp<int64_t>(off[e + 1], 0, M);
    for (int64_t r = lo; r < hi; ++r)
      job.owner[r] = static_cast<int32_t>(e);
  }
  for (int64_t e = 0; e < E; ++e) {
    int64_t lo = std::clamp<int64_t>(off[e], 0, M);
    int64_t hi = std::clamp<int64_t>(off[e + 1], 0, M);
    // Shrink to the rows this expert owns; skip it if it owns none.
    while (lo < hi && job.owner[lo] != e)
      ++lo;
    while (hi > lo && job.owner[hi - 1] != e)
      --hi;
    job.lo[e] = lo;
    job.hi[e] = hi;
  }

  Tensor y(outKind, {M, N});
  std::vector<float> xStorage;
  job.x = floatsOf(xv, xStorage);
  job.y = y.floats().data();
  runJob(job);
  return y;
}
