// Every example in examples/ through the code generator for both chips, as
// a user would run it: the graph pipeline, then --moe-to-nvvm-pipeline
// (where the fused layer is not one the code generator takes, the unfused
// example, its expert matmuls as grouped matmul kernels), moe-translate
// --moe-to-ptx, ptxas -arch=CHIP -v (test/Examples/compile_examples.py).
// Each kernel is accepted with no spill (stores or loads), its shared
// memory (dynamic and static) within the 227 KB a CTA may have, tcgen05 on
// sm_100a and wgmma on sm_90a, and every example is one fused kernel (gpt-oss-120b-fp8's MXFP8
// rows, activation and weights included: the bf16 kernel with the rows and
// the activation rounded to MXFP8 values and the e4m3 weights expanded,
// moek.dequant_mxfp8; gpt-oss's layers with their expert biases). On
// sm_90a the FP8 layers' modules hold four kernels, the 64-row one and
// three 128-row variants for the same token counts, with staged scales at
// 224 and 216 consumer registers and plain; as in an artifact, only the
// first variant that ptxas compiles without a spill counts (a spilling one
// is left out and the line names it: Mixtral's staged one at 224, whose
// one at 216 then runs), so each is two kernels.
// REQUIRES: ptxas
// RUN: %python %S/compile_examples.py --bin %moe_obj_root/bin --ptxas %ptxas --chip sm_100a --examples %examples --out %t.sm100 | FileCheck %s --check-prefix=SM100 --match-full-lines
// RUN: %python %S/compile_examples.py --bin %moe_obj_root/bin --ptxas %ptxas --chip sm_90a --examples %examples --out %t.sm90 | FileCheck %s --check-prefix=SM90 --match-full-lines
// SM100: deepseek-v3-bf16: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-expert-matmul: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-fp8-mxfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-fp8: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-mxfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-mxfp8-mxfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-mxfp8-nvfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-nvfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-shared-bf16: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: deepseek-v3-shared-fp8: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: gpt-oss-120b-bf16: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: gpt-oss-120b-fp8: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: gpt-oss-120b-mxfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: gpt-oss-120b-nvfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: mixtral-8x7b-bf16: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: mixtral-8x7b-fp8-mxfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: mixtral-8x7b-fp8: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: mixtral-8x7b-mxfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: mixtral-8x7b-nvfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: qwen3-30b-a3b-bf16: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: qwen3-30b-a3b-fp8-mxfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: qwen3-30b-a3b-fp8: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: qwen3-30b-a3b-mxfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM100-NEXT: qwen3-30b-a3b-nvfp4: graph-optimized, kernels=1, 0 B spilled, tcgen05
// SM90: deepseek-v3-bf16: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-expert-matmul: graph-optimized, kernels=2, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-fp8-mxfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-fp8: graph-optimized, kernels=2, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-mxfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-mxfp8-mxfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-mxfp8-nvfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-nvfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-shared-bf16: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: deepseek-v3-shared-fp8: graph-optimized, kernels=2, 0 B spilled, wgmma
// SM90-NEXT: gpt-oss-120b-bf16: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: gpt-oss-120b-fp8: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: gpt-oss-120b-mxfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: gpt-oss-120b-nvfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: mixtral-8x7b-bf16: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: mixtral-8x7b-fp8-mxfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: mixtral-8x7b-fp8: graph-optimized, kernels=2, 0 B spilled, wgmma, mixtral_8x7b_fp8_fused_moe_0_m128s left out: spills 16 B
// SM90-NEXT: mixtral-8x7b-mxfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: mixtral-8x7b-nvfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: qwen3-30b-a3b-bf16: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: qwen3-30b-a3b-fp8-mxfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: qwen3-30b-a3b-fp8: graph-optimized, kernels=2, 0 B spilled, wgmma
// SM90-NEXT: qwen3-30b-a3b-mxfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
// SM90-NEXT: qwen3-30b-a3b-nvfp4: graph-optimized, kernels=1, 0 B spilled, wgmma
