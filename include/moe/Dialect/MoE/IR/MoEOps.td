//===- MoEOps.td - Operations of the moe dialect -----------*- tablegen -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Graph-level ops. Each op's exact numerics is the function of the same name
// in include/moe/Reference/Kernels.h; the descriptions here state shapes,
// attributes and what the verifier checks.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOE_IR_MOEOPS_TD
#define MOE_DIALECT_MOE_IR_MOEOPS_TD

include "moe/Dialect/MoE/IR/MoEDialect.td"
include "moe/Dialect/MoE/IR/MoEAttrs.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def MoE_FloatTensor : RankedTensorOf<[F32, BF16, F8E4M3FN, F4E2M1FN, F8E8M0FNU]>;
def MoE_IndexTensor : RankedTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// Routing
//===----------------------------------------------------------------------===//

def MoE_GateOp : MoE_Op<"gate", [Pure]> {
  let summary = "Router logits: a dense projection of the tokens onto the experts";
  let description = [{
    `logits[t][e] = sum_h x[t][h] * weight[e][h]`, accumulated in FP32 in
    ascending `h`, rounded to the result element type.

    Shapes: `x [T, H]`, `weight [E, H]` -> `logits [T, E]`.

    ```mlir
    %logits = moe.gate %x, %wg : tensor<?x7168xbf16>, tensor<256x7168xbf16> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor:$x, MoE_FloatTensor:$weight);
  let results = (outs MoE_FloatTensor:$logits);
  let assemblyFormat = [{
    $x `,` $weight attr-dict `:` type($x) `,` type($weight) `->` type($logits)
  }];
  let hasVerifier = 1;
}

def MoE_RouteOp : MoE_Op<"route", [Pure]> {
  let summary = "Top-k routing: scores, optional grouped top-k and bias, weights";
  let description = [{
    Picks `top_k` experts per token from router logits and returns their ids
    and weights, slot 0 being the best.

    1. Scores: `softmax` over the `E` experts, or `sigmoid` per expert.
    2. Selection uses `score + bias[e]` when a `bias` (DeepSeek-V3's
       `e_score_correction_bias`, `[E] f32`) is given; the weights always use
       the unbiased score.
    3. Grouped top-k (`num_groups = G > 1`): the experts are split into `G`
       contiguous groups, a group scores the sum of its two best selection
       scores, and only the `topk_groups` best groups stay eligible.
    4. `renormalize` divides the `K` weights by their sum; then they are
       multiplied by `routed_scaling_factor` (applied here and nowhere else).
    5. Shared experts (`shared_experts = S`, DeepSeek's and Llama 4's
       always-active experts): slots `K .. K+S-1` of every token name experts
       `E .. E+S-1` with the weight `shared_weight` (neither renormalized
       nor scaled), so that the layer that reads the ids (its weights
       holding `E + S` experts) computes the shared experts with the routed
       ones and sums them in its combine, after the routed slots.

    NaN scores lose to every number; ties go to the lower index.

    Shapes: `logits [T, E]`, `bias [E]` -> `ids [T, K+S]` (i32 or i64),
    `weights [T, K+S]` (f32).

    ```mlir
    %ids, %weights = moe.route sigmoid %logits bias(%bias) {top_k = 8 : i64, num_groups = 8 : i64, topk_groups = 4 : i64, renormalize, routed_scaling_factor = 2.5 : f32} : (tensor<?x256xf32>, tensor<256xf32>) -> (tensor<?x8xi32>, tensor<?x8xf32>)
    ```
  }];
  let arguments = (ins MoE_ScoringAttr:$scoring, MoE_FloatTensor:$logits,
                       Optional<RankedTensorOf<[F32]>>:$bias,
                       ConfinedAttr<I64Attr, [IntPositive]>:$top_k,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>, "1">:$num_groups,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>, "1">:$topk_groups,
                       UnitAttr:$renormalize,
                       DefaultValuedAttr<F32Attr, "1.0f">:$routed_scaling_factor,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntNonNegative]>, "0">:$shared_experts,
                       DefaultValuedAttr<F32Attr, "1.0f">:$shared_weight);
  let results = (outs MoE_IndexTensor:$ids, RankedTensorOf<[F32]>:$weights);
  let assemblyFormat = [{
    $scoring $logits (`bias` `(` $bias^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Dispatch and combine
//===----------------------------------------------------------------------===//

def MoE_DispatchOp : MoE_Op<"dispatch", [Pure]> {
  let summary = "Group the token slots by expert";
  let description = [{
    Copies the row of token `t` once for every valid slot `(t, k)` into
    `rows`, grouped by expert (ascending expert, then ascending `t*K + k`).
    `offsets[e]..offsets[e+1]` are the rows of expert `e` (a device-side
    prefix sum: no host synchronization is implied). A slot whose id is
    outside `[0, num_experts)` (`-1` for "no selection", or any stale value)
    is masked: it gets no row and `slot_map` -1. `M = T*K` rows are always
    allocated; rows past `offsets[E]` are padding (zero).

    Shapes: `x [T, H]`, `ids [T, K]`, `weights [T, K] f32` ->
    `rows [M, H]` (element type of `x`), `offsets [E+1] i32`,
    `slot_map [T, K] i32`, `row_weights [M] f32` (the router weight of each
    row, for `moe.activation`).

    ```mlir
    %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %weights {num_experts = 256 : i64} : tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32> -> tensor<?x7168xbf16>, tensor<257xi32>, tensor<?x8xi32>, tensor<?xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor:$x, MoE_IndexTensor:$ids,
                       RankedTensorOf<[F32]>:$weights,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_experts,
                       OptionalAttr<MoE_PlacementAttr>:$placement);
  let results = (outs MoE_FloatTensor:$rows, RankedTensorOf<[I32]>:$offsets,
                      RankedTensorOf<[I32]>:$slot_map,
                      RankedTensorOf<[F32]>:$row_weights);
  let assemblyFormat = [{
    $x `,` $ids `,` $weights attr-dict `:` type($x) `,` type($ids) `,`
    type($weights) `->` type($rows) `,` type($offsets) `,` type($slot_map) `,`
    type($row_weights)
  }];
  let hasVerifier = 1;
}

def MoE_CombineOp : MoE_Op<"combine", [Pure]> {
  let summary = "Sum each token's expert outputs in ascending slot order";
  let description = [{
    `out[t] = sum over k ascending with slot_map[t][k] >= 0 of
    (weights[t][k] *) rows[slot_map[t][k]]`, accumulated in FP32 from +0,
    rounded to the result element type. Deterministic: no atomics, one
    order. With `weights`, the router weight is applied here (`in_combine`);
    without, it was applied earlier or not at all. A token with every slot
    masked gets a zero row.

    Shapes: `rows [M, H]`, `slot_map [T, K] i32`, `weights [T, K] f32` ->
    `out [T, H]`.

    ```mlir
    %out = moe.combine %y, %slot_map weights(%weights) : (tensor<?x7168xbf16>, tensor<?x8xi32>, tensor<?x8xf32>) -> tensor<?x7168xbf16>
    ```
  }];
  let arguments = (ins MoE_FloatTensor:$rows, RankedTensorOf<[I32]>:$slot_map,
                       Optional<RankedTensorOf<[F32]>>:$weights);
  let results = (outs MoE_FloatTensor:$out);
  let assemblyFormat = [{
    $rows `,` $slot_map (`weights` `(` $weights^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Expert compute
//===----------------------------------------------------------------------===//

def MoE_ExpertMatmulOp : MoE_Op<"expert_matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "Grouped matmul: each expert's rows times that expert's weight";
  let description = [{
    For every expert `e` and row `r` in `[offsets[e], offsets[e+1])`:
    `out[r][n] = sum_k x[r][k] * weight[e][n][k]`, FP32 accumulation,
    rounded to the result element type. Rows outside every expert's range
    are zero.

    Quantized operands carry their format (`x_quant`, `w_quant`) and their
    block scales (`x_scales`, `w_scales`, plus `*_global_scale` for NVFP4).
    Each K-group's partial sum is multiplied by the product of its two block
    scales before it is added to the accumulator (DeepGEMM's promotion).

    With a `bias [E, N]` (f32 or bf16; gpt-oss's per-expert biases), each
    result is `acc + bias[e][n]` in FP32 (after the scales) before the
    rounding.

    Shapes: `x [M, K]`, `weight [E, N, K]` (K-major), `offsets [E+1] i32`
    -> `out [M, N]`. Scales: `x_scales [M, K/bk]`; `w_scales [E, N/bn, K/bk]`
    for a `[bn, bk]` block; `x_global_scale []`, `w_global_scale [E]`, f32.

    ```mlir
    %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%ws) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x7168xf8E4M3FN>, tensor<256x4096x7168xf8E4M3FN>, tensor<257xi32>, tensor<?x56xf32>, tensor<256x32x56xf32>) -> tensor<?x4096xbf16>
    ```
  }];
  let arguments = (ins MoE_FloatTensor:$x, MoE_FloatTensor:$weight,
                       RankedTensorOf<[I32]>:$offsets,
                       Optional<MoE_FloatTensor>:$x_scales,
                       Optional<MoE_FloatTensor>:$w_scales,
                       Optional<RankedTensorOf<[F32]>>:$x_global_scale,
                       Optional<RankedTensorOf<[F32]>>:$w_global_scale,
                       Optional<RankedTensorOf<[F32, BF16]>>:$bias,
                       OptionalAttr<MoE_QuantAttr>:$x_quant,
                       OptionalAttr<MoE_QuantAttr>:$w_quant);
  let results = (outs MoE_FloatTensor:$out);
  let assemblyFormat = [{
    $x `,` $weight `,` $offsets (`x_scales` `(` $x_scales^ `)`)?
    (`w_scales` `(` $w_scales^ `)`)?
    (`x_global_scale` `(` $x_global_scale^ `)`)?
    (`w_global_scale` `(` $w_global_scale^ `)`)?
    (`bias` `(` $bias^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MoE_ActivationOp : MoE_Op<"activation", [Pure]> {
  let summary = "Gated activation of the first matmul's output";
  let description = [{
    Splits each row of `input [M, 2*I]` into gate `g` and up `u` halves by
    the explicit `layout` (`concat`: `g_0 .. g_(I-1), u_0 .. u_(I-1)`;
    `interleaved`: `g_0, u_0, g_1, u_1, ...`, gpt-oss) and computes, in
    FP32:
    * `swiglu`: `silu(g) * u`;
    * `clamped_swiglu` (gpt-oss): `g = min(g, limit)`,
      `u = clamp(u, -limit, limit)`, `g * sigmoid(alpha * g) * (u + 1)`;
      `alpha` and `limit` are required;
    * `gelu_mul`: `gelu(g) * u` (erf form); `gelu_tanh_mul`: tanh form.
    With `row_weights [M] f32`, each row is multiplied by its router weight
    here (`before_down`, DeepGEMM's placement). The result is rounded to the
    result element type.

    ```mlir
    %a = moe.activation clamped_swiglu(interleaved) %h {alpha = 1.702 : f32, limit = 7.0 : f32} : (tensor<?x5760xbf16>) -> tensor<?x2880xbf16>
    ```
  }];
  let arguments = (ins MoE_ActivationKindAttr:$kind,
                       MoE_GateUpLayoutAttr:$layout, MoE_FloatTensor:$input,
                       Optional<RankedTensorOf<[F32]>>:$row_weights,
                       OptionalAttr<F32Attr>:$alpha,
                       OptionalAttr<F32Attr>:$limit);
  let results = (outs MoE_FloatTensor:$out);
  let assemblyFormat = [{
    $kind `(` $layout `)` $input (`row_weights` `(` $row_weights^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def MoE_QuantizeOp : MoE_Op<"quantize", [Pure]> {
  let summary = "Block-scaled quantization";
  let description = [{
    Quantizes `input` (rank >= 2) block by block over its last two
    dimensions, in the `format` given (see `#moe.quant`). The scale of a
    block comes from its largest finite magnitude: `fp8_block` uses
    DeepGEMM's `amax / 448` (amax clamped to 1e-4); `mxfp8`/`mxfp4` the
    power of two rounded up so that no element saturates; `nvfp4` an e4m3
    block scale under an f32 per-tensor `global_scale`. Rounding is to
    nearest even with saturation to the largest finite value.

    Shapes: `input [..., R, C]` -> `values [..., R, C]`,
    `scales [..., R/br, C/bc]` for `block = [br, bc]`, `global_scale []`
    (NVFP4 only).

    ```mlir
    %q, %s = moe.quantize #moe.quant<fp8_block, block = [1, 128]> %x : tensor<?x7168xbf16> -> tensor<?x7168xf8E4M3FN>, tensor<?x56xf32>
    ```
  }];
  let arguments = (ins MoE_FloatTensor:$input, MoE_QuantAttr:$format);
  let results = (outs MoE_FloatTensor:$values, MoE_FloatTensor:$scales,
                      Optional<RankedTensorOf<[F32]>>:$global_scale);
  let assemblyFormat = [{
    $format $input attr-dict `:` type($input) `->` type(results)
  }];
  let hasVerifier = 1;
}

def MoE_DequantizeOp : MoE_Op<"dequantize", [Pure]> {
  let summary = "Block-scaled dequantization";
  let description = [{
    `out = values * scale` of each element's block (times `global_scale`
    for NVFP4, multiplied into the block scale first), rounded to the result
    element type. Shapes as for `moe.quantize`.

    ```mlir
    %w = moe.dequantize #moe.quant<mxfp4, block = [1, 32]> %q, %s : (tensor<8x64x128xf4E2M1FN>, tensor<8x64x4xf8E8M0FNU>) -> tensor<8x64x128xbf16>
    ```
  }];
  let arguments = (ins MoE_FloatTensor:$values, MoE_FloatTensor:$scales,
                       Optional<RankedTensorOf<[F32]>>:$global_scale,
                       MoE_QuantAttr:$format);
  let results = (outs MoE_FloatTensor:$out);
  let assemblyFormat = [{
    $format $values `,` $scales (`global_scale` `(` $global_scale^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The whole layer
//===----------------------------------------------------------------------===//

def MoE_FusedMoEOp : MoE_Op<"fused_moe", [Pure, AttrSizedOperandSegments]> {
  let summary = "A whole MoE layer: dispatch, matmul, activation, matmul, combine";
  let description = [{
    The layer that `moe-fuse-experts` forms from the chain
    `dispatch -> [quantize] -> expert_matmul -> activation -> [quantize] ->
    expert_matmul -> combine`, with every rounding point explicit:

    * `x_quant`: if present, the dispatched rows are quantized in this format
      before the first matmul (`w13_quant` then describes `w13`);
    * `gemm1_type`: element type the first matmul's output is rounded to;
    * `activation`, `gate_up_layout`, `alpha`, `limit`: as `moe.activation`;
    * `act_type`: element type the activation's output is rounded to;
      `act_quant`, if present, then quantizes it for the second matmul;
    * `gemm2_type`: element type the second matmul's output is rounded to;
    * the result element type is the precision of the combine's output;
    * `router_weight`: `before_down` (on the activation output, DeepGEMM),
      `in_combine`, or `none`;
    * `w13_bias [E, 2*I]`, `w2_bias [E, H]` (optional, f32 or bf16; gpt-oss):
      added in FP32 to each matmul's result before its rounding, as
      `moe.expert_matmul`'s `bias` (`w13_bias` in the rows' order of `w13`,
      so interleaved with it). With `before_down` the down projection's bias
      is not weighted (the router weight is applied before that matmul).

    Its value is, by definition, the value of that chain (the reference
    evaluator computes it so), which is what makes the fusion checkable.

    Shapes: `x [T, H]`, `ids [T, K]`, `weights [T, K] f32`,
    `w13 [E, 2*I, H]`, `w2 [E, H, I]` (+ block scales as for
    `moe.expert_matmul`) -> `out [T, H]`.

    With `placement = #moe.placement<ranks = R, experts_per_rank = E_l>` the
    experts are spread over R ranks (GPUs). `w13` and `w2` then hold either
    all `R * E_l` experts (the whole layer, as the reference evaluator
    computes it), or only one rank's `E_l` experts: the per-rank form that
    `moe-expert-parallel` makes, which runs once on every rank, each with
    its own tokens, the ids naming global experts `[0, R * E_l)`; the result
    on each rank is the whole layer's value for that rank's tokens.

    ```mlir
    %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x2048xbf16>, tensor<?x8xi32>, tensor<?x8xf32>, tensor<128x1536x2048xbf16>, tensor<128x2048x768xbf16>) -> tensor<?x2048xbf16>
    ```
  }];
  let arguments = (ins MoE_FloatTensor:$x, MoE_IndexTensor:$ids,
                       RankedTensorOf<[F32]>:$weights,
                       MoE_FloatTensor:$w13, MoE_FloatTensor:$w2,
                       Optional<MoE_FloatTensor>:$w13_scales,
                       Optional<MoE_FloatTensor>:$w2_scales,
                       Optional<RankedTensorOf<[F32]>>:$w13_global_scale,
                       Optional<RankedTensorOf<[F32]>>:$w2_global_scale,
                       Optional<RankedTensorOf<[F32, BF16]>>:$w13_bias,
                       Optional<RankedTensorOf<[F32, BF16]>>:$w2_bias,
                       MoE_ActivationKindAttr:$activation,
                       MoE_GateUpLayoutAttr:$gate_up_layout,
                       OptionalAttr<F32Attr>:$alpha,
                       OptionalAttr<F32Attr>:$limit,
                       MoE_RouterWeightAttr:$router_weight,
                       TypeAttr:$gemm1_type, TypeAttr:$act_type,
                       TypeAttr:$gemm2_type,
                       OptionalAttr<MoE_QuantAttr>:$x_quant,
                       OptionalAttr<MoE_QuantAttr>:$w13_quant,
                       OptionalAttr<MoE_QuantAttr>:$act_quant,
                       OptionalAttr<MoE_QuantAttr>:$w2_quant,
                       OptionalAttr<MoE_PlacementAttr>:$placement);
  let results = (outs MoE_FloatTensor:$out);
  let assemblyFormat = [{
    $x `,` $ids `,` $weights `,` $w13 `,` $w2
    (`w13_scales` `(` $w13_scales^ `)`)? (`w2_scales` `(` $w2_scales^ `)`)?
    (`w13_global_scale` `(` $w13_global_scale^ `)`)?
    (`w2_global_scale` `(` $w2_global_scale^ `)`)?
    (`w13_bias` `(` $w13_bias^ `)`)? (`w2_bias` `(` $w2_bias^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getNumExperts() { return getW13().getType().getDimSize(0); }
    /// The per-rank form of an expert-parallel layer: w13 and w2 hold the
    /// `experts_per_rank` experts of one rank, while the ids name global
    /// experts in [0, ranks * experts_per_rank).
    bool isPerRank() {
      auto p = getPlacementAttr();
      return p && p.getRanks() > 1 &&
             getNumExperts() == p.getExpertsPerRank();
    }
  }];
}

#endif // MOE_DIALECT_MOE_IR_MOEOPS_TD
