//===- Kernels.h - Reference semantics of the moe dialect -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// One function per `moe` op: the definition of what the op computes, on host
// tensors, with every rounding point explicit. These functions are the oracle
// of every GPU test, so each states its exact order of operations. All
// arithmetic is IEEE float32, no fused multiply-add, sums in the stated
// order. Products of bf16, e4m3 and e2m1 values are exact in float32, so only
// the additions and the stated multiplications round.
//
// Shapes use the vocabulary of docs: T tokens, H hidden, I intermediate, E
// experts, K top-k, M = T*K dispatched rows, N output features.
//
// Every function validates its inputs (ranks, shapes, kinds) and returns an
// llvm::Error naming the offending operand on a mismatch; data-dependent
// cases (expert ids out of range, NaN, zero counts) have defined results and
// never fail.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_REFERENCE_KERNELS_H
#define MOE_REFERENCE_KERNELS_H

#include "moe/Reference/Tensor.h"

#include "llvm/Support/Error.h"

#include <optional>

namespace moe::ref {

//===----------------------------------------------------------------------===//
// Quantization formats
//===----------------------------------------------------------------------===//

/// The block-scaled formats (mirrors moe::QuantScheme).
enum class QuantScheme : uint8_t {
  FP8Block, ///< e4m3 values, f32 scales; blocks 1x128 (activations) or
            ///< 128x128 (weights). DeepSeek-V3.
  MXFP8,    ///< e4m3 values, UE8M0 scales, blocks 1x32.
  MXFP4,    ///< e2m1 values, UE8M0 scales, blocks 1x32.
  NVFP4,    ///< e2m1 values, e4m3 scales, blocks 1x16, plus an f32 global
            ///< scale per tensor (per expert for weights).
};

/// A quantization format with its block shape. The block covers the last two
/// dimensions: `blockRows` along the second-to-last (rows: tokens or output
/// features N) and `blockCols` along the last (the reduction dimension).
struct QuantSpec {
  QuantScheme scheme = QuantScheme::FP8Block;
  int64_t blockRows = 1;
  int64_t blockCols = 128;
};

/// Element kind of the quantized values (F8E4M3FN or F4E2M1FN).
ElemKind getValueKind(QuantScheme scheme);
/// Element kind of the block scales (F32, F8E8M0FNU or F8E4M3FN).
ElemKind getScaleKind(QuantScheme scheme);

/// A quantized (or plain) operand of a matmul. `scales` and `globalScale`
/// are null for a plain operand.
struct Operand {
  const Tensor *values = nullptr;
  const Tensor *scales = nullptr;
  const Tensor *globalScale = nullptr;
  std::optional<QuantSpec> spec;
};

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

/// moe.gate: router logits. x [T, H], w [E, H] -> [T, E] of `outKind`.
/// logits[t][e] = sum over h ascending of x[t][h] * w[e][h] (float32, starting
/// from +0.0), then rounded to `outKind`.
llvm::Expected<Tensor> gate(const Tensor &x, const Tensor &w, ElemKind outKind);

enum class Scoring : uint8_t { Softmax, Sigmoid };

struct RouteParams {
  Scoring scoring = Scoring::Softmax;
  int64_t topK = 1;
  int64_t numGroups = 1;  ///< experts split into this many contiguous groups
  int64_t topkGroups = 1; ///< groups kept before the expert top-k
  bool renormalize = false;
  float routedScalingFactor = 1.0f;
  int64_t sharedExperts = 0; ///< S: slots K..K+S-1 name experts E..E+S-1
  float sharedWeight = 1.0f; ///< the shared slots' weight
};

struct Routing {
  Tensor ids;     ///< [T, K+S], I32 or I64 as requested
  Tensor weights; ///< [T, K+S], F32
};

/// moe.route. logits [T, E] (any float kind), bias [E] F32 or null.
///  1. scores s[e]: softmax: m = max over e (NaN ignored), d = sum over e
///     ascending of exp(l[e] - m), s[e] = exp(l[e] - m) / d; sigmoid:
///     s[e] = 1 / (1 + exp(-l[e])). float32, std::exp.
///  2. selection scores c[e] = s[e] + bias[e] (or s[e]). NaN compares lower
///     than every number; ties go to the lower index.
///  3. if numGroups > 1: group g holds experts [g*E/G, (g+1)*E/G); its score is
///     the sum of its two largest c (the largest if a group has one expert),
///     summed larger first; keep the topkGroups best groups (ties: lower
///     group); experts of other groups are not eligible.
///  4. pick the K eligible experts with the largest c, in descending order of
///     c (slot 0 = best).
///  5. weights w[k] = s[id_k] (the unbiased score). renormalize: w[k] = w[k] /
///     d where d = sum over k ascending of w[k]; if d == 0 the weights stay.
///  6. w[k] = w[k] * routedScalingFactor.
llvm::Expected<Routing> route(const Tensor &logits, const Tensor *bias,
                              const RouteParams &params, ElemKind idKind);

struct Dispatched {
  Tensor rows;       ///< [T*K, H], kind of x: rows grouped by expert
  Tensor offsets;    ///< [E+1] I32: rows of expert e are [off[e], off[e+1])
  Tensor slotMap;    ///< [T, K] I32: the row of slot (t,k), or -1
  Tensor rowWeights; ///< [T*K] F32: topk weight of each row (0 for padding)
};

/// moe.dispatch. x [T, H], ids [T, K] (I32 or I64), weights [T, K] F32.
/// A slot is valid when 0 <= id < numExperts; -1 and every other value
/// (stale, out of range) mark it masked: it gets no row and slotMap -1.
/// Rows are ordered by expert, and within one expert by ascending flat slot
/// index t*K+k. Rows past off[E] are padding: zero, row weight 0.
llvm::Expected<Dispatched> dispatch(const Tensor &x, const Tensor &ids,
                                    const Tensor &weights, int64_t numExperts);

/// moe.expert_matmul. x [M, Kd] (rows grouped by expert), w [E, N, Kd],
/// offsets [E+1] I32 -> y [M, N] of `outKind`.
/// For each expert e and row r in [off[e], off[e+1]) (clamped to [0, M],
/// empty when off[e+1] <= off[e]) and each n:
///   G = the smaller K-block size among the quantized operands (Kd if none);
///   acc = +0.0; for each K-group g ascending:
///     p = +0.0; for k in g ascending: p = p + x[r][k] * w[e][n][k]
///     acc = acc + p * (sx * sw)   (sx, sw: the block scales of x at (r, k)
///                                  and of w at (e, n, k); 1.0 if plain;
///                                  if neither operand has scales, acc = p)
///   acc = acc * gw[e] (if w has a global scale), acc = acc * gx (if x has one)
///   acc = acc + bias[e][n] (if a bias [E, N] is given)
///   y[r][n] = roundTo(outKind, acc)
/// Rows outside every expert's range are zero. A UE8M0 scale decodes to its
/// power of two (NaN for 0xFF). Scale tensors: for blocks 1xB, [.., rows,
/// Kd/B]; for blocks BxB, [.., rows/B, Kd/B]; weight scales lead with E.
llvm::Expected<Tensor> expertMatmul(const Operand &x, const Operand &w,
                                    const Tensor &offsets, ElemKind outKind,
                                    const Tensor *bias = nullptr);

enum class Activation : uint8_t { SwiGLU, ClampedSwiGLU, GeluMul, GeluTanhMul };
enum class GateUpLayout : uint8_t { Concat, Interleaved };

struct ActivationParams {
  Activation kind = Activation::SwiGLU;
  GateUpLayout layout = GateUpLayout::Concat;
  float alpha = 1.702f; ///< ClampedSwiGLU only
  float limit = 7.0f;   ///< ClampedSwiGLU only
};

/// moe.activation. h [M, 2I] -> [M, I] of `outKind`, rowWeights [M] F32 or
/// null. Gate g and up u of column i: Concat: g = h[r][i], u = h[r][I+i];
/// Interleaved: g = h[r][2i], u = h[r][2i+1]. In float32:
///   SwiGLU:        a = (g / (1 + exp(-g))) * u
///   ClampedSwiGLU: g = min(g, limit); u = min(max(u, -limit), limit);
///                  a = (g * (1 / (1 + exp(-alpha * g)))) * (u + 1)
///   GeluMul:       a = (0.5 * g * (1 + erf(g * 0.70710678f))) * u
///   GeluTanhMul:   a = (0.5 * g * (1 + tanh(0.7978845608f * (g + 0.044715f *
///                  g * g * g)))) * u
///   then a = a * rowWeights[r] if given; out = roundTo(outKind, a).
/// (Products evaluated left to right; min/max return the non-NaN operand,
/// like fminf/fmaxf.)
llvm::Expected<Tensor> activation(const Tensor &h, const Tensor *rowWeights,
                                  const ActivationParams &params,
                                  ElemKind outKind);

/// moe.combine. y [M, H], slotMap [T, K] I32, weights [T, K] F32 or null
/// -> [T, H] of `outKind`. out[t][h] = roundTo(outKind, acc) with acc = +0.0
/// and, for k ascending with slotMap[t][k] >= 0: acc = acc + w[t][k] *
/// y[row][h] (or acc + y[row][h] without weights). Deterministic: no other
/// order is ever used.
llvm::Expected<Tensor> combine(const Tensor &y, const Tensor &slotMap,
                               const Tensor *weights, ElemKind outKind);

struct Quantized {
  Tensor values;                     ///< kind getValueKind(scheme), shape of x
  Tensor scales;                     ///< kind getScaleKind(scheme)
  std::optional<Tensor> globalScale; ///< NVFP4 only: [] F32 (rank 0)
};

/// moe.quantize of x (rank >= 2, any float kind) with blocks over the last
/// two dims. amax of a block = largest |v| over its finite values (NaN and
/// Inf ignored), 0 if none.
///   FP8Block: a = max(amax, 1e-4f); scale = a / 448; q = encode(e4m3,
///             v * (448 / a)).  (DeepGEMM's per-token / per-block cast.)
///   MXFP8/MXFP4: e = computeUE8M0Exponent(amax, valueKind); scale = 2^e;
///             q = roundTo(valueKind, (double)v * 2^-e).
///   NVFP4:    gs = amaxT / (448 * 6) over the whole tensor (1.0 if amaxT is
///             0); scale = roundTo(e4m3, (amax / 6) / gs); d = scale * gs;
///             q = d == 0 ? 0 : roundTo(e2m1, v / d).
/// NaN elements stay NaN (e4m3) or become +6 (e2m1); Inf saturates.
llvm::Expected<Quantized> quantize(const Tensor &x, const QuantSpec &spec);

/// moe.dequantize: out = roundTo(outKind, q * s) with s the block scale (for
/// NVFP4 s = scale * gs, computed first).
llvm::Expected<Tensor> dequantize(const Tensor &q, const Tensor &scales,
                                  const Tensor *globalScale,
                                  const QuantSpec &spec, ElemKind outKind);

/// Number of worker threads the kernels use: MOE_REF_THREADS if set, else
/// the hardware concurrency. Results never depend on it.
unsigned getNumThreads();

} // namespace moe::ref

#endif // MOE_REFERENCE_KERNELS_H
