//===- Layer.h - A fused MoE layer described by its numbers ------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A MoE layer built programmatically: a framework knows its layer as numbers
// (experts, hidden size, ...) and names (activation, precision), not as
// `moe` dialect text. `FusedMoeLayer` holds them, `fusedMoeLayerSource`
// builds the layer's module (one function with one verified moe.fused_moe)
// and prints it as the `source` of a jit::CompileRequest. The same layer as
// text, for command lines and Python ("E=256,H=7168,I=2048,K=8,precision=
// fp8"), is read by `parseFusedMoeLayer` and written by `formatFusedMoeLayer`.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_JIT_LAYER_H
#define MOE_JIT_LAYER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mlir::moe::jit {

/// One moe.fused_moe layer. The function it becomes takes x [T, H] bf16,
/// ids [T, K] i32, weights [T, K] f32, w13 [E, 2I, H], w2 [E, H, I] (bf16;
/// e4m3 for fp8, then also w13_scales [E, 2I/128, H/128] and w2_scales
/// [E, H/128, I/128] f32; e2m1 for fp8-mxfp4, then w13_scales [E, 2I, H/32]
/// and w2_scales [E, H, I/32] UE8M0) and returns out [T, H] bf16; T is
/// dynamic.
struct FusedMoeLayer {
  int64_t experts = 0;      // E
  int64_t hidden = 0;       // H
  int64_t intermediate = 0; // I
  int64_t topK = 0;         // K
  /// "bf16", "fp8": DeepSeek-V3's recipe (x and the activation quantized
  /// per 1x128 block inside the layer, e4m3 weights with f32 scales per
  /// 128x128 block), "fp8-mxfp4": the same x and activation, e2m1
  /// weights (packed two a byte) with UE8M0 scales per 1x32 block;
  /// "bf16-mxfp4", "bf16-nvfp4" (e4m3 scales per 1x16 block and an f32
  /// scale per expert), "mxfp8-mxfp4", "mxfp8-nvfp4" (x and the activation
  /// quantized to MXFP8 per 1x32 block) and "mxfp8" (MXFP8 weights too).
  std::string precision = "bf16";
  /// swiglu, clamped_swiglu (with alpha and limit), gelu_mul, gelu_tanh_mul.
  std::string activation = "swiglu";
  double alpha = 1.702, limit = 7.0; // clamped_swiglu only
  /// concat or interleaved: the order of w13's gate and up rows.
  std::string gateUpLayout = "concat";
  /// in_combine, before_down or none: where the router weight is applied.
  std::string routerWeight = "in_combine";
  /// bf16 or f32: where GEMM1's and GEMM2's outputs are rounded.
  std::string gemm1Type = "bf16", gemm2Type = "bf16";
  /// none, bf16 or f32: per-expert biases (gpt-oss), w13_bias [E, 2I] and
  /// w2_bias [E, H] of this element type, the function's arguments after
  /// the weights' scales.
  std::string bias = "none";
  /// Routing in the layer (moe.route, fused into the kernel): none, softmax
  /// or sigmoid. With one, the function takes the router logits [T, E]
  /// (`logits`: f32 or bf16) and, with `route_bias` f32, DeepSeek-V3's
  /// selection bias [E], in place of ids and weights; `groups`,
  /// `topk_groups`, `renormalize` and `scale` (routed_scaling_factor) are
  /// moe.route's.
  std::string route = "none", logits = "f32", routeBias = "none";
  int64_t groups = 1, topkGroups = 1;
  bool renormalize = false;
  double scale = 1.0;
  /// Shared experts (with a route): `shared` always-active experts after
  /// the E routed ones (the weights, their scales and biases then hold
  /// E + shared experts), each token's slots K .. K+shared-1 with the
  /// weight `shared_weight`.
  int64_t shared = 0;
  double sharedWeight = 1.0;
};

/// Reads "E=..,H=..,I=..,K=..[,precision=..][,activation=..][,alpha=..]
/// [,limit=..][,layout=..][,router=..][,gemm1=..][,gemm2=..][,bias=..]
/// [,route=..][,logits=..][,route_bias=..][,groups=..][,topk_groups=..]
/// [,renormalize=0|1][,scale=..][,shared=..][,shared_weight=..]".
/// Errors name the field and the value.
llvm::Expected<FusedMoeLayer> parseFusedMoeLayer(llvm::StringRef spec);

/// The layer in parseFusedMoeLayer's syntax (every field written, `bias`
/// only when the layer has biases, the routing's only with a route).
std::string formatFusedMoeLayer(const FusedMoeLayer &layer);

/// The layer as `moe` dialect text: a module with `func.func @fused_moe`
/// holding one moe.fused_moe. Errors (an unknown name, a shape the op's
/// verifier rejects) say which field and why.
llvm::Expected<std::string> fusedMoeLayerSource(const FusedMoeLayer &layer);

} // namespace mlir::moe::jit

#endif // MOE_JIT_LAYER_H
