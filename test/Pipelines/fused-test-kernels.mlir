// The fused kernels the GPU tests and benchmarks run
// (test/Integration/CUDA/run_fused_moe.py, bench/fused_moe.py), compiled
// here as make_fused_moe.py compiles them for the H200: ptxas must accept
// every one with no spill (--strict). The layers: small ones with each
// router-weight placement, GEMM1 rounded to f32, every activation, gate/up
// interleaved, I not a multiple of 128, E = 1; and the six layers of
// ../shared/DESIGN.md section 9.
// REQUIRES: ptxas
// RUN: rm -rf %t && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t --ptxas %ptxas --strict 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,192,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,256,192,2,in_combine,bf16,gelu_mul,interleaved 8,512,256,2,before_down,bf16,gelu_tanh_mul 8,256,384,2,in_combine,bf16,swiglu,interleaved 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 128,2880,2880,4 | FileCheck %s
// CHECK-COUNT-13: registers {{[0-9]+}}, spill stores 0 B, workspace

// The FP8 layers (DeepSeek-V3's recipe; H and I multiples of 128, gate/up
// concatenated): the small ones with each router placement, every
// activation, f32 GEMM outputs, H an odd multiple of 128, E = 1, and the
// five layers of section 9 that FP8 blocks fit.
// RUN: rm -rf %t.fp8 && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.fp8 --ptxas %ptxas --strict --fp8 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,256,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,512,256,2,in_combine,bf16,gelu_mul 8,512,256,2,before_down,f32/f32,gelu_tanh_mul 8,256,384,2,in_combine,bf16/f32 4,384,256,2 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 | FileCheck %s --check-prefix=FP8
// FP8-COUNT-13: fm_fp8_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// With fp8-tile-rows=0 (the default) each module holds the 128-row
// kernels as alternative variants for the same token counts, the one with
// staged scales (_m128s) first, the same with 216 consumer registers
// (_m128s216) second and the plain one (_m128) last; an artifact names
// the first that ptxas compiles without a spill and compiles none after it
// (make_fused_moe.py counts the kernels that a launch may run). ptxas's
// allocation of the staged kernel is erratic: at 224 registers it spills
// in the layers with top_k < 4 (Mixtral-8x7B of section 9 among them), at
// 216 in DeepSeek-V3's and Qwen3-30B-A3B's, so every layer of this set
// runs a staged kernel but two (4 and 8 experts with H = 256), which run
// the plain one.
// RUN: cd %t.fp8 && grep -l '_m128s"' */manifest.json | FileCheck %s --check-prefix=FP8-STAGED
// FP8-STAGED:      fm_fp8_e128_h2048_i768_k8/manifest.json
// FP8-STAGED-NEXT: fm_fp8_e16_h1024_i384_k4_none_gf32/manifest.json
// FP8-STAGED-NEXT: fm_fp8_e1_h128_i128_k1/manifest.json
// FP8-STAGED-NEXT: fm_fp8_e256_h7168_i2048_k8/manifest.json
// FP8-STAGED-NEXT: fm_fp8_e32_h7168_i2048_k8/manifest.json
// FP8-STAGED-NEXT: fm_fp8_e8_h256_i384_k2_yf32/manifest.json
// FP8-STAGED-NEXT: fm_fp8_e8_h512_i256_k2_before_down_gf32_yf32_gelutanh/manifest.json
// FP8-STAGED-NOT:  manifest.json
// RUN: cd %t.fp8 && grep -l '_m128s216"' */manifest.json | FileCheck %s --check-prefix=FP8-STAGED216
// FP8-STAGED216:      fm_fp8_e4_h384_i256_k2/manifest.json
// FP8-STAGED216-NEXT: fm_fp8_e8_h4096_i14336_k2/manifest.json
// FP8-STAGED216-NEXT: fm_fp8_e8_h512_i256_k2/manifest.json
// FP8-STAGED216-NEXT: fm_fp8_e8_h512_i256_k2_gelu/manifest.json
// FP8-STAGED216-NOT:  manifest.json
// RUN: cd %t.fp8 && grep -l '_m128"' */manifest.json | FileCheck %s --check-prefix=FP8-VARIANT
// FP8-VARIANT:      fm_fp8_e4_h256_i256_k2_before_down/manifest.json
// FP8-VARIANT-NEXT: fm_fp8_e8_h256_i256_k2_clamped/manifest.json
// FP8-VARIANT-NOT:  manifest.json
// Each manifest names one 128-row variant.
// RUN: cd %t.fp8 && grep -c '"kernel": "fm_fused_moe_0_m128' */manifest.json | FileCheck %s --check-prefix=FP8-ONE
// FP8-ONE-COUNT-13: manifest.json:1{{$}}
// FP8-ONE-NOT:      manifest.json
// SwiGLU's 64 divisions a thread (two rows of 32 values) are, with
// approx-activation (the default), multiplications by rcp.approx: 64 in
// each of the module's four kernels (the 64-row one and its three 128-row
// variants), with 64 ex2.approx, and no select of a zero dividend (the IEEE
// division's guard against its slow path, below).
// RUN: grep -c "rcp.approx.ftz.f32" %t.fp8/fm_fp8_e256_h7168_i2048_k8/fm_fused_moe_0.ptx | FileCheck %s --check-prefix=FP8-RCP
// FP8-RCP: {{^}}256{{$}}
// RUN: not grep -q "selp.f32 .*, 0f3F800000, %r" %t.fp8/fm_fp8_e256_h7168_i2048_k8/fm_fused_moe_0.ptx
// With approx-activation=false the divisions are IEEE, and a zero dividend
// (the zero rows past a tile's end) divides 1 instead, through an asm move
// that LLVM cannot fold back, so no division of a zero takes the IEEE
// division's slow path.
// RUN: rm -rf %t.fp8exact && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.fp8exact --ptxas %ptxas --strict --fp8 --kernel-options approx-activation=false 256,7168,2048,8 | FileCheck %s --check-prefix=FP8EXACT
// FP8EXACT: fm_fp8_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: grep -c "selp.f32 .*, 0f3F800000, %r" %t.fp8exact/fm_fp8_e256_h7168_i2048_k8/fm_fused_moe_0.ptx | FileCheck %s --check-prefix=FP8-DIVIDEND
// FP8-DIVIDEND: {{^}}256{{$}}
// fp8-tile-rows=128 (128-row tiles, each MMA warpgroup 64 rows x 256
// columns in two promoted halves; staged scales, the default) alone: ptxas
// accepts them for sm_90a, with a spill of at most 64 bytes in some (the
// two main accumulators and the partial one take 192 of a consumer
// thread's 224 registers: where it spills, the default leaves the variant
// out); on sm_100a it does not apply.
// RUN: rm -rf %t.fp8wide && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.fp8wide --ptxas %ptxas --fp8 --kernel-options fp8-tile-rows=128 8,512,256,2 8,256,256,2,in_combine,bf16,clamped_swiglu 16,1024,384,4,none,f32 256,7168,2048,8 128,2048,768,8 8,4096,14336,2 | FileCheck %s --check-prefix=FP8WIDE
// FP8WIDE-COUNT-6: fm_fp8_{{.*}} registers {{[0-9]+}}, spill stores {{([0-9]|[1-5][0-9]|6[0-4])}} B, workspace
// fp8-tile-rows=0 (auto, the default): one module with the four kernels;
// the manifest names the first 128-row one that compiles without a spill
// as the variant from T = 64 E / K = 256, and the cubin holds that one and
// the 64-row kernel, no other (ptxas -e).
// RUN: grep -o '"min_tokens": *[0-9]*\|"kernel": *"[a-z0-9_]*"' %t.fp8/fm_fp8_e16_h1024_i384_k4_none_gf32/manifest.json | FileCheck %s --check-prefix=FP8AUTO
// FP8AUTO: "kernel": "fm_fused_moe_0"
// FP8AUTO-NEXT: "kernel": "fm_fused_moe_0_m128s"
// FP8AUTO-NEXT: "min_tokens": 256
// FP8AUTO-NOT: "kernel"
// RUN: grep -ao 'fm_fused_moe_0[a-z0-9_]*' %t.fp8/fm_fp8_e16_h1024_i384_k4_none_gf32/fm_fused_moe_0.cubin | env LC_ALL=C sort -u | tr '\n' ' ' | FileCheck %s --check-prefix=FP8AUTO-CUBIN
// FP8AUTO-CUBIN: {{^}}fm_fused_moe_0 fm_fused_moe_0_m128s {{$}}
// moe-translate leaves out a variant that spills, with a remark, and
// assembles the cubin again with the next: here the staged kernel at 224
// registers spills, and the one at 216 does not; the plain one after it is
// not compiled.
// RUN: moe-translate --moe-to-manifest --artifact-dir=%t.fp8drop %t.fp8/fm_fp8_e8_h512_i256_k2/kernel.nvvm.mlir -o %t.fp8drop.json 2>&1 | FileCheck %s --check-prefix=FP8DROP
// RUN: grep -o '"kernel": *"[a-z0-9_]*"' %t.fp8drop.json | FileCheck %s --check-prefix=FP8KEPT
// FP8KEPT: "kernel": "fm_fused_moe_0"
// FP8KEPT-NEXT: "kernel": "fm_fused_moe_0_m128s216"
// FP8KEPT-NOT: "kernel"
// FP8DROP: remark: moe-to-manifest: variant 'fm_fused_moe_0_m128s' left out: ptxas spills {{[1-9][0-9]*}} bytes (stores and loads) in it; its token counts run the next variant that holds them, or 'fm_fused_moe_0'
// FP8DROP-NOT: remark
// RUN: grep -ao 'fm_fused_moe_0[a-z0-9_]*' %t.fp8drop/fm_fused_moe_0.cubin | env LC_ALL=C sort -u | tr '\n' ' ' | FileCheck %s --check-prefix=FP8DROP-CUBIN
// FP8DROP-CUBIN: {{^}}fm_fused_moe_0 fm_fused_moe_0_m128s216 {{$}}
// A variant whose token counts the ones before it hold only in part is
// compiled and named: here the plain kernel from T = 100 (the staged one
// holds T >= 256), while the one at 216 registers, whose T >= 256 the
// staged one holds, is not.
// RUN: sed 's/{kernel = @fm_fused_moe_0_m128, min_tokens = 256 : i64}/{kernel = @fm_fused_moe_0_m128, min_tokens = 100 : i64}/' %t.fp8/fm_fp8_e16_h1024_i384_k4_none_gf32/kernel.nvvm.mlir | moe-translate --moe-to-manifest --artifact-dir=%t.fp8part -o %t.fp8part.json
// RUN: grep -o '"min_tokens": *[0-9]*\|"kernel": *"[a-z0-9_]*"' %t.fp8part.json | FileCheck %s --check-prefix=FP8PART
// FP8PART: "kernel": "fm_fused_moe_0"
// FP8PART-NEXT: "kernel": "fm_fused_moe_0_m128s"
// FP8PART-NEXT: "min_tokens": 256
// FP8PART-NEXT: "kernel": "fm_fused_moe_0_m128"
// FP8PART-NEXT: "min_tokens": 100
// FP8PART-NOT: "kernel"
// RUN: grep -ao 'fm_fused_moe_0[a-z0-9_]*' %t.fp8part/fm_fused_moe_0.cubin | env LC_ALL=C sort -u | tr '\n' ' ' | FileCheck %s --check-prefix=FP8PART-CUBIN
// FP8PART-CUBIN: {{^}}fm_fused_moe_0 fm_fused_moe_0_m128 fm_fused_moe_0_m128s {{$}}
// fp8-async-signals=true puts the staged kernels with relayed readiness
// signals first among the variants: DeepSeek-V3 prefill's spill at 224 and
// 216 registers, so it keeps the staged kernel without the relay; EP8's and
// Mixtral-8x7B's compile at 216, Qwen3-30B-A3B's at 224.
// RUN: rm -rf %t.fp8relay && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.fp8relay --ptxas %ptxas --strict --fp8 --kernel-options fp8-async-signals=true 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 | FileCheck %s --check-prefix=FP8RELAY
// FP8RELAY:      fm_fp8_e256_h7168_i2048_k8 {{.*}} spill stores 0 B, {{.*}}, variant fm_fused_moe_0_m128s{{$}}
// FP8RELAY-NEXT: fm_fp8_e32_h7168_i2048_k8 {{.*}} spill stores 0 B, {{.*}}, variant fm_fused_moe_0_m128sr216{{$}}
// FP8RELAY-NEXT: fm_fp8_e128_h2048_i768_k8 {{.*}} spill stores 0 B, {{.*}}, variant fm_fused_moe_0_m128sr{{$}}
// FP8RELAY-NEXT: fm_fp8_e8_h4096_i14336_k2 {{.*}} spill stores 0 B, {{.*}}, variant fm_fused_moe_0_m128sr216{{$}}
// The default builds no relay into an FP8 kernel.
// RUN: not grep -l _moek_relay %t.fp8/*/fm_fused_moe_0.ptx

// The FP8 x MXFP4 layers (the FP8 ones with e2m1 weights and UE8M0 scales
// per 1x32 block, expanded to e4m3 in shared memory, or in registers for
// tiles of at most 16 rows, moek.mma_fp4): the same small ones and the four
// of section 9, with no spill.
// RUN: rm -rf %t.fp8mx && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.fp8mx --ptxas %ptxas --strict --fp8-mxfp4 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,256,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,512,256,2,in_combine,bf16,gelu_mul 8,512,256,2,before_down,f32/f32,gelu_tanh_mul 8,256,384,2,in_combine,bf16/f32 4,384,256,2 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 | FileCheck %s --check-prefix=FP8MX
// FP8MX-COUNT-13: fm_fp8mx_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// (4 K steps x 2 weight blocks x GEMM1 and GEMM2 x 2 warpgroups.)
// RUN: grep -c "wgmma.mma_async.sync.aligned.m64n16k32.f32.e4m3.e4m3" %t.fp8mx/fm_fp8mx_e256_h7168_i2048_k8/*.ptx | FileCheck %s --check-prefix=FP8MX-SMALL
// FP8MX-SMALL: {{^32$}}
// RUN: grep -c "prmt.b32" %t.fp8mx/fm_fp8mx_e256_h7168_i2048_k8/*.ptx | FileCheck %s --check-prefix=FP8MX-PRMT
// FP8MX-PRMT: {{[1-9][0-9]*}}
// Named barriers without .aligned (barrier.sync / barrier.arrive): their
// warpgroups reach them at different instructions while other warps are at
// other barriers, which the aligned form (bar.sync) rules out
// (compute-sanitizer's synccheck reported it on FP8 x MXFP4 layers). The
// exchange's barriers 5 and 6 in the FP8 x MXFP4 kernel, no aligned named
// barrier in any fused kernel of any format.
// RUN: grep -c "barrier.sync[[:space:]]*[56], 256;" %t.fp8mx/fm_fp8mx_e256_h7168_i2048_k8/*.ptx | FileCheck %s --check-prefix=FP8MX-NAMED
// FP8MX-NAMED: {{^[1-9][0-9]*$}}
// RUN: not grep -qE "^[[:space:]]*bar[.](sync|arrive)[[:space:]]+[^;]*," %t/*/*.ptx %t.fp8/*/*.ptx %t.fp8mx/*/*.ptx
// small-tiles=false: the large tiles only.
// RUN: rm -rf %t.fp8mx.large && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.fp8mx.large --ptxas %ptxas --strict --fp8-mxfp4 --kernel-options small-tiles=false 256,7168,2048,8 | FileCheck %s --check-prefix=FP8MX-LARGE
// FP8MX-LARGE: fm_fp8mx_e256_h7168_i2048_k8 registers {{[0-9]+}}, spill stores 0 B
// RUN: not grep -q "m64n16k32" %t.fp8mx.large/fm_fp8mx_e256_h7168_i2048_k8/fm_fused_moe_0.ptx

// The bf16 x MXFP4 layers (bf16 rows, e2m1 weights with UE8M0 scales per
// 1x32 block expanded to bf16 in shared memory by moek.dequant_fp4, or in
// registers for tiles of at most 16 rows, moek.mma_fp4_bf16): the bf16
// layers' shapes, for both chips, with no spill, in three stages (173056
// bytes of dynamic shared memory, and the small tiles' 16 KB on sm_90a).
// RUN: rm -rf %t.mx && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.mx --ptxas %ptxas --strict --mxfp4 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,192,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,256,192,2,in_combine,bf16,gelu_mul,interleaved 8,512,256,2,before_down,bf16,gelu_tanh_mul 8,256,384,2,in_combine,bf16,swiglu,interleaved 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 128,2880,2880,4 | FileCheck %s --check-prefix=MX
// MX-COUNT-13: fm_mx_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: cat %t.mx/*/manifest.json | grep -c '"dynamic_smem_bytes": 189440' | FileCheck %s --check-prefix=MX-SMEM
// MX-SMEM: {{^13$}}
// (4 K steps x 2 weight blocks x GEMM1 and GEMM2; none with small-tiles=false.)
// RUN: grep -c "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16" %t.mx/fm_mx_e256_h7168_i2048_k8/*.ptx | FileCheck %s --check-prefix=MX-SMALL
// MX-SMALL: {{^16$}}
// RUN: rm -rf %t.mx.large && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.mx.large --ptxas %ptxas --strict --mxfp4 --kernel-options small-tiles=false 256,7168,2048,8 | FileCheck %s --check-prefix=MX-LARGE
// MX-LARGE: fm_mx_e256_h7168_i2048_k8 registers {{[0-9]+}}, spill stores 0 B
// RUN: not grep -q "m64n16k16" %t.mx.large/fm_mx_e256_h7168_i2048_k8/fm_fused_moe_0.ptx
// RUN: cat %t.mx.large/*/manifest.json | grep -c '"dynamic_smem_bytes": 173056' | FileCheck %s --check-prefix=MX-LARGE-SMEM
// MX-LARGE-SMEM: {{^1$}}
// RUN: rm -rf %t.sm100.mx && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.mx --ptxas %ptxas --strict --chip sm_100a --mxfp4 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,192,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,256,192,2,in_combine,bf16,gelu_mul,interleaved 8,512,256,2,before_down,bf16,gelu_tanh_mul 8,256,384,2,in_combine,bf16,swiglu,interleaved 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 128,2880,2880,4 | FileCheck %s --check-prefix=SM100-MX
// SM100-MX-COUNT-13: fm_mx_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: grep -l "tcgen05.mma" %t.sm100.mx/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-MX-TC
// SM100-MX-TC: 13

// The bf16 x NVFP4 layers (e2m1 weights with e4m3 scales per 1x16 block
// under an f32 scale per expert: moek.dequant_fp4 {nvfp4}, the global
// scales on the accumulators): the same kernel, both chips, no spill.
// RUN: rm -rf %t.nv && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.nv --ptxas %ptxas --strict --nvfp4 8,512,256,2 4,256,256,2,before_down 8,256,192,2,in_combine,bf16,gelu_mul,interleaved 1,128,128,1 256,7168,2048,8 128,2048,768,8 128,2880,2880,4 | FileCheck %s --check-prefix=NV
// NV-COUNT-7: fm_nv_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: rm -rf %t.sm100.nv && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.nv --ptxas %ptxas --strict --chip sm_100a --nvfp4 8,512,256,2 4,256,256,2,before_down 8,256,192,2,in_combine,bf16,gelu_mul,interleaved 1,128,128,1 256,7168,2048,8 128,2048,768,8 128,2880,2880,4 | FileCheck %s --check-prefix=SM100-NV
// SM100-NV-COUNT-7: fm_nv_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: grep -l "tcgen05.mma" %t.sm100.nv/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-NV-TC
// SM100-NV-TC: 7
// RUN: grep -c "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16" %t.nv/fm_nv_e256_h7168_i2048_k8/*.ptx | FileCheck %s --check-prefix=MX-SMALL
// RUN: cat %t.sm100.mx/*/*.ptx %t.sm100.nv/*/*.ptx > %t.sm100.fp4.ptx
// RUN: not grep -q "wgmma" %t.sm100.fp4.ptx
// With the rows and the activation quantized to MXFP8 (x_quant, act_quant
// mxfp8 [1, 32]: moek.dispatch and moek.store_act {mx_round}), by NVFP4, by
// MXFP4 and by MXFP8 weights (moek.dequant_mxfp8, three stages of 64 KB),
// both chips.
// RUN: rm -rf %t.mx8 && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.mx8 --ptxas %ptxas --strict 8,512,256,2,mx8nv 8,256,192,2,before_down,bf16,clamped_swiglu,interleaved,mx8nv 256,7168,2048,8,mx8nv 128,2880,2880,4,mx8nv 8,512,256,2,mx8mx 8,256,192,2,in_combine,bf16,gelu_mul,interleaved,mx8mx 128,2048,768,8,mx8mx 8,512,256,2,mx8 256,7168,2048,8,mx8 128,2880,2880,4,before_down,bf16,clamped_swiglu,interleaved,mx8 | FileCheck %s --check-prefix=MX8
// MX8-COUNT-10: fm_mx8{{(nv|mx)?}}_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: rm -rf %t.sm100.mx8 && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.mx8 --ptxas %ptxas --strict --chip sm_100a 8,512,256,2,mx8nv 8,256,192,2,before_down,bf16,clamped_swiglu,interleaved,mx8nv 256,7168,2048,8,mx8nv 128,2880,2880,4,mx8nv 8,512,256,2,mx8mx 8,256,192,2,in_combine,bf16,gelu_mul,interleaved,mx8mx 128,2048,768,8,mx8mx 8,512,256,2,mx8 256,7168,2048,8,mx8 128,2880,2880,4,before_down,bf16,clamped_swiglu,interleaved,mx8 | FileCheck %s --check-prefix=MX8
// MXFP8 x MXFP4 on sm_100a: layers whose H and I are multiples of 128 take
// the block-scaled single-issuer kernel (both operands' UE8M0 scales
// applied by tcgen05.mma .kind::mxf8f6f4.block_scale, the activation
// quantized to MXFP8 in the epilogue); I = 192 keeps the bf16 kernel.
// RUN: rm -rf %t.sm100.mx8mx && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.mx8mx --ptxas %ptxas --strict --chip sm_100a --mxfp8-mxfp4 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,256,2,in_combine,bf16,clamped_swiglu,interleaved 8,512,256,2,before_down,f32/f32,gelu_tanh_mul 1,128,128,1 256,7168,2048,8 128,2048,768,8 8,4096,14336,2 8,256,192,2,in_combine,bf16,gelu_mul,interleaved | FileCheck %s --check-prefix=SM100-MX8MX
// SM100-MX8MX-COUNT-10: fm_mx8mx_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: grep -l "tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32" %t.sm100.mx8mx/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-MX8MX-BS
// SM100-MX8MX-BS: 9
// RUN: grep -c "tcgen05.mma.cta_group::1.kind::f16" %t.sm100.mx8mx/fm_mx8mx_e8_h256_i192_k2_gelu_interleaved/*.ptx | FileCheck %s --check-prefix=SM100-MX8MX-F16
// SM100-MX8MX-F16: {{[1-9][0-9]*}}

// The same layers for sm_100a (tcgen05, accumulators in tensor memory), and
// expert-parallel ones (2 ranks, bf16 and FP8): ptxas -arch=sm_100a accepts
// every kernel with no spill.
// RUN: rm -rf %t.sm100 && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100 --ptxas %ptxas --strict --chip sm_100a 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,192,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,256,192,2,in_combine,bf16,gelu_mul,interleaved 8,512,256,2,before_down,bf16,gelu_tanh_mul 8,256,384,2,in_combine,bf16,swiglu,interleaved 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 128,2880,2880,4 8,512,256,2,ep2 | FileCheck %s --check-prefix=SM100
// SM100-COUNT-14: registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: rm -rf %t.sm100.fp8 && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.fp8 --ptxas %ptxas --strict --chip sm_100a --fp8 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,256,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,512,256,2,in_combine,bf16,gelu_mul 8,512,256,2,before_down,f32/f32,gelu_tanh_mul 8,256,384,2,in_combine,bf16/f32 4,384,256,2 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 8,512,256,2,ep2 | FileCheck %s --check-prefix=SM100-FP8
// SM100-FP8-COUNT-14: fm_fp8_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: grep -l "tcgen05.mma" %t.sm100/*/*.ptx %t.sm100.fp8/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-TC
// SM100-TC: 28
// RUN: not grep -l wgmma %t.sm100/*/*.ptx %t.sm100.fp8/*/*.ptx
// The 13 single-GPU bf16 layers take the single-issuer shape (their
// epilogue reads tensor memory row by row: .32x32b), the 2-rank one the
// warpgroup shape.
// RUN: grep -l "tcgen05.ld.sync.aligned.32x32b" %t.sm100/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-SINGLE
// SM100-SINGLE: 13

// FP8 x MXFP4 for sm_100a, the same layers: ptxas accepts every kernel with
// no spill (stores or loads: --strict), tcgen05 and no wgmma; every MMA is
// the block-scaled one (.kind::mxf8f6f4, the FP4 weights as A with their
// UE8M0 scales copied into tensor memory), none .kind::f8f6f4; with
// block-scaled=false the weights are expanded to e4m3 instead.
// RUN: rm -rf %t.sm100.fp8mx && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.fp8mx --ptxas %ptxas --strict --chip sm_100a --fp8-mxfp4 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,256,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,512,256,2,in_combine,bf16,gelu_mul 8,512,256,2,before_down,f32/f32,gelu_tanh_mul 8,256,384,2,in_combine,bf16/f32 4,384,256,2 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 | FileCheck %s --check-prefix=SM100-FP8MX
// SM100-FP8MX-COUNT-13: fm_fp8mx_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: grep -l "tcgen05.mma" %t.sm100.fp8mx/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-FP8MX-TC
// SM100-FP8MX-TC: 13
// RUN: not grep -l wgmma %t.sm100.fp8mx/*/*.ptx
// RUN: grep -l "tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32" %t.sm100.fp8mx/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-FP8MX-TC
// RUN: grep -l "tcgen05.cp.cta_group::1.32x128b.warpx4" %t.sm100.fp8mx/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-FP8MX-TC
// RUN: not grep -l "kind::f8f6f4" %t.sm100.fp8mx/*/*.ptx
// RUN: rm -rf %t.sm100.fp8mx.exp && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.fp8mx.exp --ptxas %ptxas --strict --chip sm_100a --fp8-mxfp4 --kernel-options block-scaled=false 256,7168,2048,8 | FileCheck %s --check-prefix=SM100-FP8MX-EXP
// SM100-FP8MX-EXP: fm_fp8mx_e256_h7168_i2048_k8 registers {{[0-9]+}}, spill stores 0 B
// RUN: grep -q "kind::f8f6f4" %t.sm100.fp8mx.exp/fm_fp8mx_e256_h7168_i2048_k8/fm_fused_moe_0.ptx
// RUN: not grep -q "block_scale" %t.sm100.fp8mx.exp/fm_fp8mx_e256_h7168_i2048_k8/fm_fused_moe_0.ptx

// Per-expert biases (gpt-oss): the GPU suite's bias set (fused-moe.test,
// %t.bias) for sm_90a and for sm_100a (the bf16 layers there in the
// single-issuer kernel, its tensor-memory epilogue adding the biases, and
// again with single-issuer=false), all with no spill.
// RUN: rm -rf %t.bias && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.bias --ptxas %ptxas --strict 8,512,256,2,bias 4,256,256,2,before_down,bias 16,1024,384,4,none,f32/f32,bias 8,320,192,2,in_combine,bf16,clamped_swiglu,interleaved,bias 1,128,128,1,bias 128,2880,2880,4,in_combine,bf16,clamped_swiglu,interleaved,bias 8,320,192,2,in_combine,bf16,swiglu,concat,bias,mx 8,512,256,2,before_down,bias,nv 8,320,192,2,in_combine,bf16,clamped_swiglu,interleaved,bias,nv 8,320,192,2,in_combine,bf16,clamped_swiglu,interleaved,bias,mx8 128,2880,2880,4,in_combine,bf16,clamped_swiglu,interleaved,bias,mx | FileCheck %s --check-prefix=BIAS
// BIAS-COUNT-11: _bias{{ +}}registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: rm -rf %t.sm100.bias && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.bias --ptxas %ptxas --strict --chip sm_100a 8,512,256,2,bias 4,256,256,2,before_down,bias 16,1024,384,4,none,f32/f32,bias 8,320,192,2,in_combine,bf16,clamped_swiglu,interleaved,bias 128,2880,2880,4,in_combine,bf16,clamped_swiglu,interleaved,bias 8,320,192,2,in_combine,bf16,swiglu,concat,bias,mx 8,512,256,2,before_down,bias,nv 8,320,192,2,in_combine,bf16,clamped_swiglu,interleaved,bias,nv 8,320,192,2,in_combine,bf16,clamped_swiglu,interleaved,bias,mx8 128,2880,2880,4,in_combine,bf16,clamped_swiglu,interleaved,bias,mx | FileCheck %s --check-prefix=SM100-BIAS
// SM100-BIAS-COUNT-10: _bias{{ +}}registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: rm -rf %t.sm100.bias2 && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.sm100.bias2 --ptxas %ptxas --strict --chip sm_100a --kernel-options single-issuer=false 8,320,192,2,in_combine,bf16,clamped_swiglu,interleaved,bias 128,2880,2880,4,in_combine,bf16,clamped_swiglu,interleaved,bias | FileCheck %s --check-prefix=SM100-BIAS2
// SM100-BIAS2-COUNT-2: _bias{{ +}}registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: grep -l "tcgen05.mma" %t.sm100.bias/*/*.ptx %t.sm100.bias2/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-BIAS-TC
// SM100-BIAS-TC: 12
// The single-issuer kernels (the five bf16 layers) read their rows from
// tensor memory with tcgen05.ld .32x32b.
// RUN: grep -l "tcgen05.ld.sync.aligned.32x32b" %t.sm100.bias/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-BIAS-SINGLE
// SM100-BIAS-SINGLE: 5

// Gathered rows (gather-rows=true: no copy of the routed rows, GEMM1's
// producer warp copying them from x into each stage; docs/FusedKernel.md):
// the GPU suite's gather set (fused-moe.test, %t.gather) and the section-9
// bf16 layers, with no spill in the producer warp's 40 registers or the
// MMA warpgroups', every bf16 kernel gathering (32 copies a lane a stage).
// RUN: rm -rf %t.gather && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.gather --ptxas %ptxas --strict --kernel-options gather-rows=true 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,192,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,320,320,2,in_combine,bf16,swiglu,interleaved 8,320,192,2,in_combine,bf16,clamped_swiglu,interleaved,bias 8,512,256,2,softmax,shared1 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 128,2880,2880,4 | FileCheck %s --check-prefix=GATHER
// GATHER-COUNT-13: registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: grep -c "cp.async.cg.shared.global" %t.gather/*/*.ptx | FileCheck %s --check-prefix=GATHER-COPIES
// GATHER-COPIES-COUNT-13: :32{{$}}
// The FP8 set (top_k >= 2 gathers, E = 1 with top_k 1 keeps the copy):
// the staged 128-row kernel at 224 registers compiles without a spill in
// more layers than without gathering (Mixtral-8x7B's too), the one at 216
// runs in the others, and no layer falls back to the plain one; 16 copies
// a lane a stage in the 64-row kernel and 32 in each of the three 128-row
// ones (the PTX holds all four).
// RUN: rm -rf %t.fp8gather && %python %moe_src_root/test/Integration/CUDA/make_fused_moe.py --bin %moe_obj_root/bin --out %t.fp8gather --ptxas %ptxas --strict --fp8 --kernel-options gather-rows=true 8,512,256,2 4,256,256,2,before_down 16,1024,384,4,none,f32 8,256,256,2,in_combine,bf16,clamped_swiglu 1,128,128,1 8,512,256,2,in_combine,bf16,gelu_mul 8,512,256,2,before_down,f32/f32,gelu_tanh_mul 8,256,384,2,in_combine,bf16/f32 4,384,256,2 256,7168,2048,8 32,7168,2048,8 128,2048,768,8 8,4096,14336,2 | FileCheck %s --check-prefix=FP8GATHER
// FP8GATHER-COUNT-13: fm_fp8_{{.*}} registers {{[0-9]+}}, spill stores 0 B, workspace
// RUN: cd %t.fp8gather && not grep -l '_m128"' */manifest.json
// RUN: cd %t.fp8gather && grep -l '_m128s216"' */manifest.json | FileCheck %s --check-prefix=FP8GATHER-STAGED216
// FP8GATHER-STAGED216:      fm_fp8_e4_h384_i256_k2/manifest.json
// FP8GATHER-STAGED216-NEXT: fm_fp8_e8_h512_i256_k2/manifest.json
// FP8GATHER-STAGED216-NEXT: fm_fp8_e8_h512_i256_k2_gelu/manifest.json
// FP8GATHER-STAGED216-NOT:  manifest.json
// RUN: cd %t.fp8gather && grep -l '_m128s"' */manifest.json | FileCheck %s --check-prefix=FP8GATHER-STAGED
// FP8GATHER-STAGED:      fm_fp8_e128_h2048_i768_k8/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e16_h1024_i384_k4_none_gf32/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e1_h128_i128_k1/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e256_h7168_i2048_k8/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e32_h7168_i2048_k8/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e4_h256_i256_k2_before_down/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e8_h256_i256_k2_clamped/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e8_h256_i384_k2_yf32/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e8_h4096_i14336_k2/manifest.json
// FP8GATHER-STAGED-NEXT: fm_fp8_e8_h512_i256_k2_before_down_gf32_yf32_gelutanh/manifest.json
// FP8GATHER-STAGED-NOT:  manifest.json
// RUN: grep -c "cp.async.cg.shared.global" %t.fp8gather/*/*.ptx | FileCheck %s --check-prefix=FP8GATHER-COPIES
// FP8GATHER-COPIES:           fm_fp8_e128_h2048_i768_k8{{.*}}:112{{$}}
// FP8GATHER-COPIES:           fm_fp8_e1_h128_i128_k1{{.*}}:0{{$}}
// FP8GATHER-COPIES:           fm_fp8_e8_h4096_i14336_k2{{.*}}:112{{$}}
