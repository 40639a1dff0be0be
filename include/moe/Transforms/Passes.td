//===- Passes.td - Graph-level passes of the moe dialect ---*- tablegen -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TRANSFORMS_PASSES_TD
#define MOE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

def MoEFuseExpertsPass : Pass<"moe-fuse-experts", "func::FuncOp"> {
  let summary = "Fuse dispatch, expert matmuls, activation and combine into moe.fused_moe";
  let description = [{
    Finds each chain

    ```
    dispatch -> [quantize] -> expert_matmul -> activation -> [quantize]
             -> expert_matmul -> combine
    ```

    and replaces it by one `moe.fused_moe` whose attributes record every
    rounding point of the chain (the result element types of the matmuls and
    the activation, the quantization formats), so the fused op computes
    bit-identically the same values.

    Preconditions (otherwise the chain is left unchanged and a remark says
    why): both matmuls read the offsets of the same dispatch and the combine
    its slot map; every intermediate value has no other use; the router
    weight is applied at most once, either to the activation (the dispatch's
    `row_weights`, giving `router_weight = before_down`) or in the combine
    (the dispatch's `weights` operand, `in_combine`); a quantize between two
    ops feeds both its values and its scales to the matmul, in the format the
    matmul names.

    Before:
    ```mlir
    %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 8 : i64} : ...
    %h = moe.expert_matmul %rows, %w13, %offsets : ...
    %a = moe.activation swiglu(concat) %h : ...
    %y = moe.expert_matmul %a, %w2, %offsets : ...
    %out = moe.combine %y, %slots weights(%w) : ...
    ```
    After:
    ```mlir
    %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : ...
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
  let statistics = [
    Statistic<"numFused", "num-fused", "Chains fused into moe.fused_moe">,
    Statistic<"numRejected", "num-rejected", "Combines whose chain was left unfused">,
  ];
}

//===----------------------------------------------------------------------===//
// Expert parallelism
//===----------------------------------------------------------------------===//

def MoEExpertParallelPass : Pass<"moe-expert-parallel", "func::FuncOp"> {
  let summary = "Split an expert-parallel layer into the program of one rank";
  let description = [{
    A `moe.fused_moe` with `placement = #moe.placement<ranks = R,
    experts_per_rank = E_l>` (R > 1) describes the whole layer: its weights
    hold all `R * E_l` experts. This pass rewrites it into the program every
    rank runs (docs/ExpertParallel.md): the weights (`w13`, `w2` and their
    block scales) become the rank's `E_l` experts, so the function's weight
    arguments change type from `[R * E_l, ...]` to `[E_l, ...]` (each rank
    passes its own shard: experts `[r * E_l, (r + 1) * E_l)`); the tokens,
    the routing (global expert ids) and the result keep theirs. The code
    generator turns the per-rank form into one kernel that sends each row
    to its expert's rank and the results back.

    Preconditions (otherwise the op is left unchanged and a remark says
    why): the weights and scales are arguments of the function, used by this
    op only.

    Before:
    ```mlir
    func.func @layer(%x: tensor<?x7168xbf16>, %ids: tensor<?x8xi32>, %w: tensor<?x8xf32>, %w13: tensor<256x4096x7168xbf16>, %w2: tensor<256x7168x2048xbf16>) -> tensor<?x7168xbf16> {
      %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {..., placement = #moe.placement<ranks = 2, experts_per_rank = 128>} : ...
    ```
    After:
    ```mlir
    func.func @layer(%x: tensor<?x7168xbf16>, %ids: tensor<?x8xi32>, %w: tensor<?x8xf32>, %w13: tensor<128x4096x7168xbf16>, %w2: tensor<128x7168x2048xbf16>) -> tensor<?x7168xbf16> {
      %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {..., placement = #moe.placement<ranks = 2, experts_per_rank = 128>} : ...
    ```
  }];
  let dependentDialects = ["::mlir::moe::MoEDialect"];
  let statistics = [
    Statistic<"numSplit", "num-split", "Layers split into their per-rank form">,
  ];
}

#endif // MOE_TRANSFORMS_PASSES_TD
