// moe-jit (moe/JIT/Compiler.h): a layer compiled once, then found in the
// cache; the key ignores comments, whitespace and SSA names; two processes
// compiling one layer at once both succeed and leave one entry; an unusable
// cache directory degrades to a compilation without caching, with a
// warning; errors say which step failed.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: env MOE_PTXAS=%ptxas moe-jit %s --cache-dir=%t/cache | FileCheck %s --check-prefix=MISS
// MISS:      artifact: {{.*}}cache/[[KEY:[0-9a-f]+]]
// MISS-NEXT: kernel: layer_fused_moe_0
// MISS-NEXT: key: [[KEY]]
// MISS-NEXT: cache: miss
// RUN: env MOE_PTXAS=%ptxas moe-jit %s --cache-dir=%t/cache | FileCheck %s --check-prefix=HIT
// HIT:      artifact: {{.*}}cache/{{[0-9a-f]+}}
// HIT:      cache: hit
// The artifact: the manifest, the PTX and the cubin; nothing else is left
// in the cache (no temporary folder).
// RUN: ls %t/cache/*/ | FileCheck %s --check-prefix=FILES
// FILES:      layer_fused_moe_0.cubin
// FILES-NEXT: layer_fused_moe_0.ptx
// FILES-NEXT: manifest.json
// RUN: ls %t/cache | count 1
// The same layer written differently: the same key.
// RUN: sed -e 's/%%x/%%tokens/g' -e 's/^  /      /' %s | grep -v '^//' > %t/renamed.mlir
// RUN: env MOE_PTXAS=%ptxas moe-jit %t/renamed.mlir --cache-dir=%t/cache | FileCheck %s --check-prefix=HIT
// Repeated calls in one process: the cache, timed.
// RUN: env MOE_PTXAS=%ptxas moe-jit %s --cache-dir=%t/cache --repeat=2 | FileCheck %s --check-prefix=REPEAT
// REPEAT: call 1: {{[0-9.]+}} ms, cache hit
// REPEAT: call 2: {{[0-9.]+}} ms, cache hit
// Other kernel options: another key.
// RUN: env MOE_PTXAS=%ptxas moe-jit %s --cache-dir=%t/cache --kernel-options=max-tokens=64 | FileCheck %s --check-prefix=MISS2
// MISS2: cache: miss
// RUN: ls %t/cache | count 2
// Two processes at once on an empty cache: both succeed, one entry.
// RUN: sh -c 'env MOE_PTXAS=%ptxas moe-jit %s --cache-dir=%t/race > %t/a.txt & env MOE_PTXAS=%ptxas moe-jit %s --cache-dir=%t/race > %t/b.txt & wait'
// RUN: cat %t/a.txt %t/b.txt | FileCheck %s --check-prefix=RACE
// RACE-COUNT-2: kernel: layer_fused_moe_0
// RUN: ls %t/race | count 1
// A cache "directory" that is a file: compiled anyway, not cached.
// RUN: touch %t/file
// RUN: env MOE_PTXAS=%ptxas moe-jit %s --cache-dir=%t/file | FileCheck %s --check-prefix=NOCACHE
// NOCACHE:      warning: cache directory '{{.*}}file' is not usable ({{.*}}): compiled without caching
// NOCACHE:      kernel: layer_fused_moe_0
// NOCACHE:      cache: off
// Errors name the step.
// RUN: not moe-jit %s --cache-dir=%t/cache --kernel-options=tile-n=96 2>&1 | FileCheck %s --check-prefix=BADOPT
// BADOPT: error: moe-jit: code generation failed:
// BADOPT: convert-moe-to-moek: tile-n must be 0 (auto), 128 or 256, got 96
// RUN: echo 'func.func @f(' | not moe-jit --cache-dir=%t/cache 2>&1 | FileCheck %s --check-prefix=PARSE
// PARSE: error: moe-jit: the layer does not parse:
// PARSE-NEXT: loc("<stdin>":1:14): expected non-function type
// A layer the code generator does not lower: the remark says why, with the
// layer's location and without a dump of the module.
// RUN: not moe-jit %S/Inputs/fp8-block-nvfp4.mlir --cache-dir=%t/cache 2>&1 | FileCheck %s --check-prefix=NOKERNEL --implicit-check-not=builtin.module
// NOKERNEL: error: moe-jit: no kernel was generated (the remarks say why):
// NOKERNEL-NEXT: fp8-block-nvfp4.mlir":9:10): convert-moe-to-moek: not lowered: a quantized layer must follow DeepSeek-V3's FP8 recipe (fp8_block rows and activations in [1, 128] blocks, weights in [128, 128] blocks, or mxfp4 weights in [1, 32] blocks), or have bf16 or mxfp8 ([1, 32]) rows and activations and mxfp4 ([1, 32]), nvfp4 ([1, 16]) or mxfp8 ([1, 32]) weights, for the generated fused kernel

func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<4x512x256xbf16>, %w2: tensor<4x256x256xbf16>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 {act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight in_combine>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<4x512x256xbf16>, tensor<4x256x256xbf16>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
