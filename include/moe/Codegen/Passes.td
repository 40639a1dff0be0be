//===- Passes.td - Conversions and codegen pipelines -------*- tablegen -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_CODEGEN_PASSES_TD
#define MOE_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertMoEToMoEKernelPass : Pass<"convert-moe-to-moek", "::mlir::ModuleOp"> {
  let summary = "Generate warp-specialized moek kernels for moe ops";
  let description = [{
    Replaces each supported `moe.expert_matmul` by a `moek.launch` of a
    kernel generated into the `gpu.module @moe_kernels`: a persistent,
    warp-specialized grouped matmul. Warpgroup 0 (40 registers) is the TMA
    producer: one thread walks the output tiles of all experts (device-side
    offsets, so no host synchronization; experts with no rows have no
    tiles) and loads `tile-m x tile-k` slices of the rows and `tile-n x
    tile-k` slices of the expert's weight into a `stages`-deep ring.
    Warpgroups 1 and 2 (232 registers) multiply with wgmma-class MMAs and
    store their rows, masked at the expert's last row, so token counts that
    are not a multiple of the tile need no padding; 64-row accumulators that
    lie wholly past that row issue no MMAs. Cooperative schedule: each
    warpgroup takes half of every tile's rows. Pingpong: each takes whole
    tiles in turn (named barriers order the turns), so one stores while the
    other multiplies. Inside an expert, tiles are ordered by groups of
    `row-group` row blocks that take each column block in turn, so tiles
    running at the same time share a weight panel in L2.

    On sm_100a (`chip=sm_100a`, `single-issuer`, the default) the bf16
    grouped matmul takes Blackwell's shape instead: the producer's ring is
    freed by the MMAs themselves; lane 0 of warp 1 (the producer's
    warpgroup) issues every tile's 128 x `tile-n` MMAs into one of two
    tensor-memory accumulators (`moek.acc_ring_alloc`, `moek.mma_tmem`,
    `moek.mma_release`) and hands it over with the tile index
    (`moek.acc_commit`); warpgroups 1 and 2 store half of its columns each,
    one row per thread (`moek.acc_wait`, `moek.acc_store_rows`,
    `moek.acc_release`), while the next tile's MMAs run. 128-row tiles, no
    pingpong; `single-issuer=false` keeps the sm_90a shape. The FP8
    (`fp8_block`) grouped matmul takes it too: each 128-wide K block's
    product goes into an accumulator of its own (four of 128 x 128), which
    the epilogue warpgroups promote in order into registers by the row's
    and the weight block's scales (`moek.acc_promote_rows`: DeepGEMM's
    promotion, one row per thread) before storing the sum
    (`moek.store_thread_row`). MXFP8 rows by MXFP4 weights (`mxfp8` e4m3
    rows and `mxfp4` e2m1 weights, a UE8M0 scale per 1x32 block on both
    sides: DeepGEMM's Blackwell formats; bf16 output, N and K multiples of
    128) are multiplied by sm_100a's block-scaled MMA only, in this shape
    with 128 x 128 tiles: each stage holds a 128-wide K block of the rows
    (e4m3, 128B swizzle), of the weights in tcgen05's padded 4-bit form
    (TMA's `16U4_ALIGN16B` type: `fp4_padded` in the manifest) and both
    operands' scales, which the 32 lanes of the producer warp copy with
    `cp.async` into `tcgen05.cp`'s layout (`moek.stage_scales`,
    `moek.ring_arrive_copies`; the full barrier counts lane 0's expectation
    and the 32 copy arrivals) while lane 0 issues the TMA copies; tiles
    come from the dynamic scheduler through lane 0 (`moek.fetch_add
    {warp}`). The issuer copies each stage's scale blocks into that stage's
    tensor-memory columns and issues four
    `tcgen05.mma .kind::mxf8f6f4.block_scale.block32`
    (`moek.mma_tmem {a_scales, b_scales}`): the accumulator holds the
    product of the dequantized operands, stored by the epilogue as in the
    bf16 kernel. Elsewhere (sm_90a, `single-issuer=false`) such a matmul is
    left with a remark. `cta-pair`
    (N a multiple of 256) runs it in clusters of two CTAs that share each
    256 x 256 tile: CTA r loads its 128 rows and weight rows [128 r,
    128 r + 128) of the tile into its ring, completing on the even CTA's
    barrier (`moek.tma_load {leader_barrier}`); the even CTA's issuer runs
    one `tcgen05.mma.cta_group::2` (M = 256) per K step over both rings;
    each CTA's epilogue stores its 128 rows. Pairs take tiles in a static
    order (pair p: p, p + P, ...), so the CTAs need not exchange indices.
    The bf16 fused layer (bf16 weights, one GPU) takes the same shape on
    sm_100a: the producer as on sm_90a, the MMA issuer over GEMM1 and GEMM2
    tiles, and an epilogue that applies the activation row by row
    (`moek.acc_store_act_rows`) and signals, or stores GEMM2's rows, then
    the combine (docs/FusedKernel.md, "The single-issuer shape").

    Supported now: bf16 rows and weights, f32 accumulation, bf16 or f32
    output, N a multiple of 8 (the last, partial column block is masked),
    K a multiple of `tile-k`; and FP8 with DeepSeek-V3's block scales
    (`fp8_block` e4m3 rows with 1x128 f32 scales by e4m3 weights with
    128x128 f32 scales, bf16 output, N and K multiples of 128): 128 x 128
    tiles of one 128-wide K block per stage, the cooperative schedule; each
    block's product goes into a partial accumulator that is added to the
    main one times the block's two scales (`moek.load_rows`,
    `moek.mma_promote`), the scales of the next block loaded while the
    MMAs run; the two MMA warpgroups take turns issuing K blocks (named
    barriers 11 and 12), so one promotes while the other's MMAs run; and
    bf16 rows by MXFP4 weights (`mxfp4` e2m1 with a UE8M0 scale per 1x32
    block, bf16 output, K a multiple of 64): the bf16 kernel with 128-wide
    tiles and the cooperative schedule, whose stages hold a third tile,
    the packed weights as TMA copied them (32 bytes a row, unswizzled);
    once a stage is full both MMA warpgroups expand it into the bf16 B
    tile (`moek.dequant_fp4`: each value times its scale, exact in bf16,
    half the 32-value blocks each, then named barrier 7) before their
    MMAs; and bf16 rows by NVFP4 weights (`nvfp4` e2m1 with an e4m3 scale
    per 1x16 block and an optional f32 scale per expert): the same kernel,
    two e4m3 scales a 32-value block (exact in bf16), the expert's scale
    multiplying the accumulators before the store (`moek.acc_scale`); and
    MXFP8 rows by MXFP8 weights (`mxfp8` e4m3 with a UE8M0 scale per 1x32
    block on both sides, bf16 output, K a multiple of 64): the same kernel
    with 128 x 128 tiles only, whose stages hold the rows and the weights
    as e4m3 (64 bytes a row, unswizzled) beside the bf16 tiles; both MMA
    warpgroups expand both (`moek.dequant_mxfp8`: each value times its
    scale, exact in bf16, the rows' scales of rows past the expert's end
    clamped to its last row) before their MMAs.
    Other matmuls are left unchanged with a remark saying why. A `moe.fused_moe` with FP8 rows and activations and
    MXFP4 weights gets the FP8 fused kernel with its weights expanded to
    e4m3 in shared memory (`moek.fp4_row_scale`, `moek.load_fp4_scales`,
    `moek.dequant_fp4_fp8`, `moek.acc_scale_cols`: docs/FusedKernel.md,
    "FP8 x MXFP4"); one with bf16 rows and MXFP4 weights the bf16 fused
    kernel with a packed weight tile per stage expanded to bf16 by both MMA
    warpgroups (`moek.dequant_fp4`, three stages; single GPU); one with
    bf16 rows and NVFP4 weights the same kernel with e4m3 block scales
    (`moek.dequant_fp4 {nvfp4}`) and each expert's global scales
    multiplying GEMM1's and GEMM2's accumulators before their epilogues
    (`moek.acc_scale`); with rows and activations quantized to MXFP8
    (`x_quant`, `act_quant` mxfp8 [1, 32]) the same kernels, whose dispatch
    and GEMM1 epilogue round each 1x32 block to its MXFP8 value, kept in
    bf16 (exact; `moek.dispatch` and `moek.store_act` {mx_round}); and with
    MXFP8 weights (e4m3, UE8M0 scales per 1x32 block) the same kernel with
    an e4m3 weight tile per stage expanded by `moek.dequant_mxfp8`. On
    sm_100a (`single-issuer`) a layer of MXFP8 rows and activations by
    MXFP4 weights with H and I multiples of 128 (one GPU) gets the
    block-scaled single-issuer kernel instead: the rows quantized to e4m3
    and UE8M0 scales by the dispatch (`moek.dispatch {mx_round}` with
    `row_scales`), both GEMMs' scales staged by the producer warp and
    applied by `tcgen05.mma .kind::mxf8f6f4.block_scale`, the activation
    quantized to MXFP8 row by row in GEMM1's epilogue
    (`moek.acc_store_act_rows` with `out_scales`; docs/FusedKernel.md,
    "MXFP8 x MXFP4 in the single-issuer shape").

    The kernel's parameter ABI is recorded on it as `moek.abi`: TMA
    descriptors for the rows (`[M, K]`, box `[tile-k, tile-m]`) and for the
    weights viewed as `[E*N, K]` (box `[tile-k, tile-n]`), then the offsets,
    for FP8 the row and weight scales (MXFP4: the weight scales), the
    output pointer and the
    workspace (the tile scheduler's counter). `moe-translate
    --moe-to-manifest` reads its entries: `tma`, `ptr` (a tensor operand or
    result), `workspace`, `token_count`, and scalars `{kind = "i32" | "i64",
    name = ..., value = ...}` whose value, when not given, the caller passes
    at launch (`moeRtLaunchConfig.scalars`).

    Each supported `moe.fused_moe` becomes one persistent kernel for the
    whole layer (docs/FusedKernel.md): `moek.dispatch` (expert counts,
    offsets, the routed token rows copied expert by expert into the
    workspace, behind two grid barriers); then one list of tiles, GEMM1's
    before GEMM2's, on the same producer and MMA warpgroups as the grouped
    matmul. A GEMM1 tile covers 128 output columns: a 256-wide weight tile of
    the gate's 128 rows and the up projection's 128 rows, so its epilogue
    (`moek.store_act`) applies SwiGLU in registers and stores the
    activation, then `moek.signal`s its row block's readiness counter; the
    producer of a GEMM2 tile `moek.wait_counter`s for every GEMM1 tile of
    its row block, not for a global phase. GEMM2 tiles store their rows;
    after a third grid barrier the MMA warpgroups run `moek.combine` (each
    token's top-k rows summed in f32 in slot order). The workspace (counters
    first, zeroed by the runtime before each launch; offsets, routed rows,
    activations, GEMM2 rows) is sized for `max-tokens`. Supported now: bf16
    tokens and weights, i32 topk_ids, every activation (SwiGLU, clamped
    SwiGLU, GELU-mul, GELU-tanh-mul) with gate/up concatenated or
    interleaved, every router-weight placement, GEMM1/GEMM2 outputs rounded
    to bf16 or f32, H and I multiples of 64. An expert-parallel layer (bf16
    or FP8) in its per-rank form (`moe-expert-parallel`) becomes one kernel per rank
    (docs/ExpertParallel.md): `moek.ep_dispatch` (counts exchanged with
    every rank, rows pushed to their experts' owners), the same tiles on the
    local experts, GEMM2 rows stored back into their source ranks
    (`moek.store_acc_remote`), a bounded wait, the combine; it takes the
    rank, the epoch, the waits' timeout and the wait record as scalars, and
    its workspace must be the rank's share of a symmetric buffer. FP8 layers with
    DeepSeek-V3's recipe (fp8_block rows and activations in 1x128 blocks,
    weights in 128x128 blocks, gate/up concatenated, H and I multiples of
    128) get a kernel of 64-row tiles whose columns the two MMA warpgroups
    split, block-scaled MMAs, a dispatch that quantizes the routed rows and
    a GEMM1 epilogue (`moek.store_act_fp8`) that requantizes the activation
    (docs/FusedKernel.md, "FP8").

    Per-expert biases (`moe.expert_matmul`'s `bias`, `moe.fused_moe`'s
    `w13_bias` and `w2_bias`: gpt-oss) become one more pointer each, the
    launch's operands after the weights' scales, and `moek.acc_add_cols`
    adds the tile's expert's row to the accumulators after the MMAs, before
    the epilogue rounds them (docs/FusedKernel.md, "Per-expert biases"): in
    the fused kernels of bf16 rows (bf16, MXFP4, NVFP4 and MXFP8 weights;
    NVFP4's global scale in the same op) and the cooperative
    grouped matmuls, on sm_90a and sm_100a; sm_100a's bf16 single-issuer
    kernels add them in their tensor-memory epilogue
    (`moek.acc_store_rows`, `moek.acc_store_act_rows` {bias}). The FP8-row
    fused kernels, sm_100a's FP8 and block-scaled single-issuer kernels,
    CTA pairs and the pingpong schedule leave such an op with a remark.

    Routing (`fuse-routing`, on by default): a `moe.route` whose ids and
    weights only a fused layer reads (one GPU, or a rank's per-rank form,
    which routes its own tokens before the exchange) moves into that
    layer's kernel, which then takes the router logits (launch operand 1) and the
    route's bias (operand 2, if any) instead; `moek.route` routes every
    token at the kernel's start (one token a warp) into two buffers at the
    end of the workspace, behind a grid barrier (docs/FusedKernel.md,
    "Routing in the kernel"), a route's shared experts (`shared_experts`)
    as constant slots after the routed ones. Other uses of the ids or
    weights keep the routing outside, with a remark.
  }];
  let dependentDialects = ["::mlir::moe::kernel::MoEKernelDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::NVVM::NVVMDialect"];
  let options = [
    Option<"stages", "stages", "int64_t", "0",
           "Pipeline stages of the ring, or 0: each kernel's default (4; "
           "FP8 x MXFP4 fused layers on sm_90a 6, whose stages hold the "
           "packed weights only; at most 6 there, 2 block-scaled)">,
    Option<"tileM", "tile-m", "int64_t", "0",
           "Rows per tile: 128 (64 per MMA warpgroup), 256 (two 64-row "
           "accumulators per MMA warpgroup, with tile-n = 128), or 0: 128">,
    Option<"tileN", "tile-n", "int64_t", "0",
           "Output columns per tile: 128, 256 (wgmma m64n256k16), or 0: 256 "
           "when it divides N and tile-m is 128, else 128">,
    Option<"pipelineMma", "pipeline-mma", "std::string", "\"auto\"",
           "Grouped matmuls of MMA warpgroups (sm_90a; sm_100a with "
           "single-issuer=false): true keeps one wgmma group in flight "
           "and releases the previous stage after issuing the next stage's "
           "MMAs; false releases each stage once its MMAs are done; auto "
           "(default): false for bf16 operands, true for kernels that "
           "expand FP4 or FP8 operands in shared memory (the expansion of "
           "a stage then overlaps the previous stage's MMAs)">,
    Option<"rowGroup", "row-group", "int64_t", "0",
           "Tile order: row blocks of one expert that take each column block "
           "in turn (moek.grouped_tile row_group); 0: up to 8, as many as "
           "keep the group's rows within 16 MiB">,
    Option<"maxTokens", "max-tokens", "int64_t", "4096",
           "Fused layers: the largest token count T a launch accepts (the "
           "workspace holds T * top_k routed rows)">,
    Option<"fp4StepsPerFence", "fp4-steps-per-fence", "int64_t", "4",
           "FP8 x MXFP4 fused layers on sm_90a: the K steps of a small "
           "tile's moek.mma_fp4 expanded before each wgmma.fence (1, 2 or 4)">,
    Option<"smallTiles", "small-tiles", "bool", "true",
           "Fused layers on sm_90a with FP4 weights (FP8 x MXFP4, bf16 or "
           "MXFP8 rows by MXFP4 or NVFP4) or bf16 weights (one GPU, y "
           "stored by TMA): a tile of at most 16 rows multiplies "
           "transposed, the weights wgmma's A operand (FP4: expanded in "
           "registers, moek.mma_fp4, moek.mma_fp4_bf16; bf16: moek.mma on "
           "64 x 16 accumulators); false: every tile the large way, for "
           "comparisons">,
    Option<"absorbTails", "absorb-tails", "std::string", "\"auto\"",
           "Fused bf16 layers on sm_90a (bf16 weights and rows, one GPU, y "
           "stored by TMA, small-tiles, no biases): an expert's last row "
           "block of at most 16 rows past a full block joins the block "
           "before (moek.grouped_tile tail_rows = 16), whose tile multiplies "
           "those rows transposed (tile 2 of each stage, a 16-row box) "
           "beside its 128 rows. 'auto': where max-tokens * top_k / E <= "
           "192 (H100: DeepSeek-V3 prefill and gpt-oss-120b 2-4% faster; "
           "no gain at Qwen3-30B-A3B's 256 or at 1024 rows an expert); "
           "'true', 'false'">,
    Option<"asyncSignals", "async-signals", "bool", "true",
           "Fused layers on sm_90a with bf16 weights, MMA warpgroups and one "
           "GPU: GEMM1's readiness signals relayed (moek.signal {relayed}) "
           "to warps 1 and 2 of the producer warpgroup, which add them to "
           "the counters (moek.signal_relay), so the MMA warpgroups do not "
           "wait for the add's GPU-scope fence (H100: 0.2-6% faster at "
           "prefill); false: each warpgroup adds its own">,
    Option<"blockScaled", "block-scaled", "bool", "true",
           "FP8 x MXFP4 fused layers on sm_100a: the packed weights "
           "multiplied as tcgen05's block-scaled A operand (moek.unpack_fp4, "
           "moek.mma_block_scaled, .kind::mxf8f6f4); false: expanded to e4m3 "
           "in shared memory (moek.dequant_fp4_fp8, .kind::f8f6f4)">,
    Option<"singleIssuer", "single-issuer", "bool", "true",
           "bf16, fp8_block and MXFP8 x MXFP4 grouped matmuls, bf16 fused "
           "layers (bf16 weights, one GPU) and MXFP8 x MXFP4 fused layers "
           "(H and I multiples of 128, one GPU) on sm_100a: one thread "
           "issues every MMA into "
           "tensor-memory accumulators that epilogue warpgroups drain "
           "(moek.acc_ring_alloc, moek.mma_tmem; 128-row tiles); false: the "
           "sm_90a shape, each MMA warpgroup issuing its own (MXFP8 x MXFP4: "
           "not lowered)">,
    Option<"ctaPair", "cta-pair", "bool", "false",
           "sm_100a single-issuer grouped matmuls (bf16, N a multiple of "
           "256): clusters of two CTAs share each 256 x 256 tile, one "
           "tcgen05.mma.cta_group::2 (M = 256) reading both CTAs' stages; "
           "static tile order">,
    Option<"streamWeights", "stream-weights", "bool", "false",
           "Fused layers: L2 hints on the tile loads, weights evict-first "
           "and token rows evict-last">,
    Option<"wideCluster", "wide-cluster", "bool", "false",
           "bf16 grouped matmuls: the 192-row-tile variant runs in clusters "
           "of two CTAs that take two column tiles of the same rows, each "
           "copying half of the row boxes into both (TMA multicast), in a "
           "static tile order; correct on the H200 but not faster there, so "
           "off by default (bench/results/)">,
    Option<"transposedWide", "transposed-wide", "bool", "false",
           "bf16 grouped matmuls' wide (192-row) variant on sm_90a, without "
           "a bias: "
           "each MMA warpgroup multiplies its 64 of the tile's 128 weight "
           "rows by the tile's tokens (wgmma N = the tokens rounded up to "
           "16), and stores the transposed product by TMA, so an expert's "
           "last rows cost MMAs in steps of 16 tokens, not 64">,
    Option<"narrowTiles", "narrow-tiles", "bool", "true",
           "Grouped matmuls (MMA warpgroups) and bf16 fused layers: the last "
           "column tile of an output whose width is not a multiple of the "
           "tile's multiplies only its valid columns (moek.mma {cols}, "
           "wgmma m64nN); false: the whole tile's columns">,
    Option<"dispatchReadiness", "dispatch-readiness", "bool", "false",
           "bf16 and FP8 fused layers (MMA warpgroups): no grid barrier "
           "after the dispatch; its rows are published per tile-row block "
           "(one GPU, moek.dispatch rows_ready) or per local expert and "
           "source rank "
           "(expert parallelism, moek.ep_dispatch seg_ready), and GEMM1's "
           "producer waits for its tile's rows, so GEMM1 starts while rows "
           "are still arriving; correct on the H200 but not faster there "
           "(bench/results/2026-12-05-kernel-options-h200.md), so off by "
           "default">,
    Option<"gatherRows", "gather-rows", "bool", "false",
           "bf16 and FP8 fused layers on sm_90a on one GPU (MMA "
           "warpgroups; bf16 rows and weights, or FP8 rows and weights with "
           "top_k 2 to 32): no copy of the routed rows; the dispatch "
           "records each row's token (moek.dispatch row_tokens; FP8: each "
           "token's row quantized once) and a producer warp copies GEMM1's "
           "rows from x (FP8: the token rows) into each stage "
           "(moek.load_row_tokens once a tile, moek.gather_rows a stage, "
           "cp.async) beside lane 0's weight boxes; correct on the GPU but "
           "slower at prefill (H100: bf16 1-20%, FP8 2-6%), so off by "
           "default (docs/FusedKernel.md)">,
    Option<"gatherL2Hint", "gather-l2-hint", "std::string",
           "\"evict_last\"",
           "With gather-rows: the L2 eviction priority of the gathered "
           "rows' copies (moek.gather_rows l2_hint): 'evict_last' (a "
           "token's row is read by each of its top_k experts' tiles while "
           "the weights stream through L2), 'evict_first' or 'none'; "
           "on an H100 within 2% of 'none' (docs/FusedKernel.md)">,
    Option<"commOnly", "comm-only", "bool", "false",
           "Expert-parallel layers: a kernel that only communicates (no "
           "GEMMs: each received row goes back as its result), to time the "
           "transfers alone; bf16 layers with bf16 GEMM2 output">,
    Option<"approxActivation", "approx-activation", "bool", "true",
           "Fused layers (moek.store_act, moek.store_act_fp8): the "
           "activation's divisions as a multiplication by rcp.approx (within "
           "2 ulps of f32, before the rounding to bf16); false: the IEEE "
           "division">,
    Option<"fp8TileRows", "fp8-tile-rows", "int64_t", "0",
           "FP8 fused layers (fp8_block weights) on sm_90a on one GPU "
           "without dispatch-readiness: rows per tile, 64 (the two MMA "
           "warpgroups split each tile's 256 columns) or 128 (each takes 64 "
           "rows and all 256 columns in two promoted halves, so a stage's "
           "weights serve twice the rows), or 0 (auto, the default: the "
           "64-row kernel and the 128-row one as a variant the runtime "
           "launches from 64 rows an expert on average, T * K >= 64 E; an "
           "artifact leaves the variant out where ptxas spills in it); the "
           "other FP8 layers keep 64">,
    Option<"fp8StagedScales", "fp8-staged-scales", "bool", "true",
           "The 128-row FP8 fused kernel (fp8-tile-rows): the producer warp "
           "copies each stage's row and weight block scales into the stage "
           "(moek.stage_block_scales; the row scales stored block-major by "
           "the dispatch and GEMM1's epilogue, moek.dispatch and "
           "moek.store_act_fp8 scales_stride) and the MMA warpgroups read "
           "them there (moek.load_staged_scales) instead of loading them "
           "from global memory in the K loop. With fp8-tile-rows=0 the "
           "variants are the staged kernel with 224 consumer registers, "
           "the same with 216, and the plain 128-row kernel, in that "
           "order: the first that ptxas compiles without a spill runs; "
           "false: the plain kernel only">,
    Option<"fp8AsyncSignals", "fp8-async-signals", "bool", "false",
           "The 128-row FP8 fused kernels on sm_90a (one GPU, FP8 weights, "
           "without gather-rows): GEMM1's readiness signals relayed to "
           "warps 1 and 2 of the producer warpgroup, as async-signals does "
           "for bf16 weights (moek.signal relayed, moek.signal_relay). With "
           "fp8-tile-rows=0 and staged scales, the staged kernels with the "
           "relay at 224 and 216 consumer registers come first among the "
           "variants, before those without it; with fp8-tile-rows=128 the "
           "kernel has it. Not yet run on a GPU: off by default">,
    Option<"fuseRoutingOpt", "fuse-routing", "bool", "true",
           "Fused layers: when a moe.route computes the layer's ids and "
           "weights and nothing else reads them, route inside the kernel "
           "(moek.route, one warp per token, then a grid barrier): the "
           "kernel takes the router logits (and the route's bias) instead "
           "of the ids and weights">,
    Option<"phaseTimers", "phase-timers", "bool", "false",
           "Fused layers: record each CTA's nanosecond clock at the phase "
           "boundaries into the workspace (manifest "
           "workspace_timers_offset), for profiling">,
    Option<"schedule", "schedule", "std::string", "\"cooperative\"",
           "cooperative: both MMA warpgroups split each tile; pingpong: they "
           "alternate whole tiles so one's epilogue overlaps the other's MMAs "
           "(128-wide tiles)">,
    Option<"chip", "chip", "std::string", "\"sm_90a\"",
           "Target chip (sm_90a, sm_100a): on sm_90a the FP8 x MXFP4 fused "
           "kernel multiplies tiles of at most 16 rows transposed, the "
           "weights expanded in registers (moek.mma_fp4)">,
  ];
}

def ConvertMoEKernelToNVVMPass : Pass<"convert-moek-to-nvvm", "::mlir::ModuleOp"> {
  let summary = "Lower moek ops to the NVVM and LLVM dialects";
  let description = [{
    Lowers the kernel-level ops inside `llvm.func` kernels to NVVM and LLVM
    dialect ops for one chip; `scf`, `arith` and `index` are left for the
    upstream conversions that follow (see `moek-to-nvvm-pipeline`).

    * `moek.ring_alloc` reserves 1024-byte aligned stages in dynamic shared
      memory (`@moek_dynamic_smem`, aligned at run time) and static barriers,
      initialized by thread 0 before a CTA-wide barrier; the kernel gets a
      `moek.dynamic_smem_bytes` attribute for the launcher.
    * `moek.warp_role` becomes a guard on the warpgroup index, with
      `setmaxnreg` when `max_regs` is given (below 128: decrease).
    * ring ops become `mbarrier` try-wait/arrive/expect-tx on the stage's
      full and empty barriers; `moek.tma_load` a 128B-swizzled TMA copy.
    * sm_90a: `moek.mma` becomes `wgmma.fence`, one `wgmma.mma_async`
      per 32-byte K step (m64nNk16 bf16, m64nNk32 e4m3; with `zero_init`
      the first has scale-d 0) with 128B-swizzle shared-memory
      descriptors, and `wgmma.commit_group`; `moek.mma_wait` a
      `wgmma.wait_group`. The accumulator is the wgmma register fragment.
      `moek.load_rows` loads the two rows a thread holds (branch-free),
      `moek.mma_promote` is one `fma.rn.f32` per fragment value.
    * `moek.store_acc` rounds pairs of columns (`cvt.rn.bf16x2.f32`) and
      stores them, masking rows at or past the limit.
    * `moek.store_acc_tma` (the bf16 grouped matmul's cooperative kernels
      and the bf16 and FP8 fused kernels' GEMM2, with two staging halves a
      warpgroup where the shared memory next to the stages holds 32 KB, one
      where it holds 16 KB, as next to the 192-row variant's five stages): a
      warpgroup's 64 full rows go by `stmatrix.x4` into an 8 KB
      128B-swizzled staging half, `fence.proxy.async`, a named barrier of
      the warpgroup (13 or 14), and one thread's `cp.async.bulk.tensor`
      store per 64 x 64 box of the output's descriptor (its width clips the
      columns), with `cp.async.bulk.wait_group.read` before a half is
      written again; partial rows as `moek.store_acc`.
      `moek.store_acc_tma_wait` (`wait_group 0` and
      `fence.proxy.async.global`) before anyone reads the rows. The grouped
      matmul's bf16 kernels take the output's descriptor as their third
      parameter (the variants share it).
    * `moek.grouped_tile*` scan the device-side expert offsets.
    * sm_100a: everything above but the MMAs is the same code. Each MMA
      warpgroup's accumulator lives in tensor memory: warp 0 allocates the
      kernel's columns at entry (`tcgen05.alloc`) and frees them at every
      return; MMA warpgroup r uses lane half 16 (r % 2) of each warp's slab
      (M = 64, data path layout F) and the `moek.mma` ops of one block take
      consecutive column ranges. The warpgroup's thread 0 issues a
      `moek.mma` as one `tcgen05.mma` (.kind::f16 or ::f8f6f4,
      cta_group::1, M = 64) per 32-byte K step and a `tcgen05.commit` to
      the next of the warpgroup's 8 mbarriers; `moek.mma_wait pending(p)`
      waits, in order, for the commits of all but the last p MMAs, and
      with p = 0 reads the accumulator into the wgmma fragment
      (`tcgen05.ld.16x256b.x1`: the same register layout) and syncs the
      warpgroup (named barrier 13 + r) before its next MMA may overwrite
      it. So `moek.store_acc`, `moek.mma_promote` and the other epilogue
      ops are shared. `moek.mma_block_scaled` (the FP8 x MXFP4 fused
      kernel's) is one M = 128 product over all 128 lanes instead: each MMA
      warpgroup its own columns (N of D, then 4 for A's scale factors and 4
      for B's, the range rounded up to 32 columns); thread 0 copies the scale blocks that `moek.unpack_fp4`
      staged (`tcgen05.cp .32x128b.warpx4`), issues four
      `tcgen05.mma .kind::mxf8f6f4.block_scale.block32` (scale id = K step)
      and commits; `moek.unpack_fp4` stores the weight rows permuted so that
      each 64-row half reads back (`moek.mma_wait`) as a wgmma fragment from
      lane 16 (half). Rejected with a diagnostic: both kinds in one kernel,
      an MMA outside a
      `moek.warp_role` or in a second MMA role, more than 3 MMA
      warpgroups, more than 512 columns, `pending` of 8 or more, an MMA
      accumulating into a register accumulator (`moek.acc_load_smem`,
      `moek.mma_promote`).
    * sm_100a, single issuer: a `moek.acc_ring_alloc` takes the kernel's
      tensor memory (S x C columns, rounded to a power of two) and a
      shared global of 3 S words: per accumulator a full barrier (2
      arrivals), an empty barrier (`consumers`) and a tag. `moek.mma_tmem`
      is one `tcgen05.mma.cta_group::1` (M = 128, N = C) per 32-byte K
      step from the executing thread, the first with the `accumulate`
      predicate; `moek.mma_release` a `tcgen05.commit` to the stage's
      empty barrier; `moek.acc_commit` stores the tag, arrives, and
      commits to the full barrier; `moek.acc_acquire` / `moek.acc_wait`
      wait on the empty / full barrier (then `tcgen05.fence::after`);
      `moek.acc_store_rows` is `tcgen05.ld.32x32b.x32` per 32 columns
      (thread t: lane t), `cvt.rn.bf16x2.f32` and 16-byte stores;
      `moek.acc_store_act_rows` the same per 16 outputs (`.x16` loads of
      the gates and the ups, or one `.x32` of interleaved pairs), with
      `moek.store_act`'s activation code; `moek.acc_promote_rows` `.x32`
      loads, the row's scale (`moek.load_rows`' clamped read) times the
      block's, and one `fma.rn.f32` per value;
      `moek.acc_release` `tcgen05.fence::before` and an arrival. A
      block-scaled `moek.mma_tmem` (`a_scales`, `b_scales`) gets 4 + 4 N /
      128 tensor-memory columns per ring stage after the accumulators
      (`scale_columns`, `scale_stride` on the kernel's `moek.tmem`; more
      than 512 columns in all is an error) and is a
      `fence.proxy.async.shared::cta`, one `tcgen05.cp .32x128b.warpx4` per
      512-byte scale block into the stage's columns and four
      `tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32` (scale
      ids 0-3); `moek.stage_scales` is one 4-byte
      `cp.async.ca.shared.global` per lane and 32 rows;
      `moek.ring_arrive_copies` `cp.async.mbarrier.arrive.noinc` on the
      stage's full barrier (initialized for the ring's `producers`
      arrivals); `moek.fetch_add {warp}` lane 0's atomic and a
      `shfl.sync.idx`. Rejected: a second accumulator ring or a `moek.mma`
      beside one; on sm_90a, the ring and `moek.mma_tmem`. A `cta_pair` ring makes every tcgen05 op
      `cta_group::2`: warp 0 of both CTAs allocates (after a cluster
      barrier at entry, and one before the free); `moek.mma_tmem` has
      M = 256; `moek.mma_release` and `moek.acc_commit` commit with
      multicast mask 0b11 (both CTAs' barriers), the latter also storing
      the tag into the peer (`mapa`, `st.shared::cluster`) and arriving
      there (`mbarrier.arrive.release.cluster`); `moek.acc_release`
      arrives on the even CTA's empty barrier (2 x `consumers` arrivals),
      and `moek.acc_acquire` / `moek.acc_wait` wait with acquire semantics
      at cluster scope (`mbarrier.try_wait.parity.acquire.cluster`);
      `moek.tma_load {leader_barrier}` is `cp.async.bulk.tensor
      ... .cta_group::2` on the even CTA's full barrier (inline PTX: NVVM's
      op takes no shared::cluster barrier).

    Other chips are rejected with a diagnostic.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect"];
  let options = [
    Option<"chip", "chip", "std::string", "\"sm_90a\"",
           "Target chip (sm_90a, sm_100a)">,
  ];
}

#endif // MOE_CODEGEN_PASSES_TD
