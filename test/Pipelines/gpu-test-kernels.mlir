// The kernels the GPU tests and benchmarks run (test/Integration/CUDA,
// bench/), compiled here as make_grouped_gemm.py compiles them for the H200:
// ptxas must accept every kernel of every artifact (the 128-row kernel and
// its variants) with no spill and no serialized wgmma (--strict). The
// shapes: E = 1 and 8 with short K and a partial column block, and the two
// expert GEMMs of the six layers of ../shared/DESIGN.md section 9.
// REQUIRES: ptxas
// RUN: rm -rf %t && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t --ptxas %ptxas --strict 1,128,64 1,256,128 8,256,512 8,200,512 256,4096,7168 256,7168,2048 32,4096,7168 32,7168,2048 128,1536,2048 128,2048,768 8,28672,4096 8,4096,14336 128,5760,2880 128,2880,2880 | FileCheck %s
// CHECK-COUNT-14: registers, 0 bytes spilled, smem {{[0-9]+$}}

// The FP8 block-scaled kernels (make_grouped_gemm.py --fp8) of the same
// GEMMs where N and K are multiples of 128 (not gpt-oss's).
// RUN: rm -rf %t.fp8 && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.fp8 --ptxas %ptxas --strict --fp8 1,128,128 8,256,512 256,4096,7168 256,7168,2048 32,4096,7168 32,7168,2048 128,1536,2048 128,2048,768 8,28672,4096 8,4096,14336 | FileCheck %s --check-prefix=FP8
// FP8-COUNT-10: gg_fp8_{{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}

// The same kernels for sm_100a (tcgen05, accumulators in tensor memory):
// ptxas -arch=sm_100a accepts every one with no spill.
// RUN: rm -rf %t.sm100 && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.sm100 --ptxas %ptxas --strict --chip sm_100a 1,128,64 1,256,128 8,256,512 8,200,512 256,4096,7168 256,7168,2048 32,4096,7168 32,7168,2048 128,1536,2048 128,2048,768 8,28672,4096 8,4096,14336 128,5760,2880 128,2880,2880 | FileCheck %s --check-prefix=SM100
// SM100-COUNT-14: registers, 0 bytes spilled, smem {{[0-9]+$}}
// RUN: rm -rf %t.sm100.fp8 && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.sm100.fp8 --ptxas %ptxas --strict --chip sm_100a --fp8 1,128,128 8,256,512 256,4096,7168 256,7168,2048 32,4096,7168 32,7168,2048 128,1536,2048 128,2048,768 8,28672,4096 8,4096,14336 | FileCheck %s --check-prefix=SM100-FP8
// SM100-FP8-COUNT-10: gg_fp8_{{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// RUN: grep -l "tcgen05.mma" %t.sm100/*/*.ptx %t.sm100.fp8/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-TC
// SM100-TC: 24
// RUN: not grep -l wgmma %t.sm100/*/*.ptx %t.sm100.fp8/*/*.ptx
// The bf16 kernels above are the single-issuer ones (one thread issues
// M = 128 MMAs into tensor-memory accumulators); in CTA pairs
// (cta-pair=true, N a multiple of 256), every tcgen05 op cta_group::2.
// RUN: grep -l "tcgen05.mma.cta_group::1.kind::f16" %t.sm100/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-SINGLE
// SM100-SINGLE: 14
// The FP8 ones too: the epilogue promotes each K block's product read row
// by row (.32x32b).
// RUN: grep -l "tcgen05.ld.sync.aligned.32x32b" %t.sm100.fp8/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-FP8-SINGLE
// SM100-FP8-SINGLE: 10
// RUN: rm -rf %t.pair && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.pair --ptxas %ptxas --strict --chip sm_100a --kernel-options "chip=sm_100a cta-pair=true" 1,256,128 8,256,512 256,4096,7168 256,7168,2048 32,4096,7168 128,1536,2048 128,2048,768 8,28672,4096 8,4096,14336 | FileCheck %s --check-prefix=PAIR
// PAIR-COUNT-9: registers, 0 bytes spilled, smem {{[0-9]+$}}
// RUN: grep -l "tcgen05.mma.cta_group::2" %t.pair/*/*.ptx | wc -l | FileCheck %s --check-prefix=PAIR-TC
// PAIR-TC: 9
// RUN: not grep -l "cta_group::1\|wgmma" %t.pair/*/*.ptx

// bf16 rows by MXFP4 weights (make_grouped_gemm.py --mxfp4) for both chips.
// RUN: rm -rf %t.mxfp4 && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.mxfp4 --ptxas %ptxas --strict --mxfp4 1,128,64 1,256,128 8,256,512 8,200,512 256,4096,7168 256,7168,2048 128,1536,2048 128,2048,768 8,28672,4096 8,4096,14336 128,5760,2880 128,2880,2880 | FileCheck %s --check-prefix=MXFP4
// MXFP4-COUNT-12: gg_mxfp4_{{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// RUN: rm -rf %t.mxfp4.sm100 && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.mxfp4.sm100 --ptxas %ptxas --strict --mxfp4 --chip sm_100a 8,256,512 8,200,512 256,4096,7168 128,2880,2880 | FileCheck %s --check-prefix=MXFP4-SM100
// MXFP4-SM100-COUNT-4: gg_mxfp4_{{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// bf16 rows by NVFP4 weights (make_grouped_gemm.py --nvfp4) for both chips.
// RUN: rm -rf %t.nvfp4 && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.nvfp4 --ptxas %ptxas --strict --nvfp4 1,128,64 8,256,512 8,200,512 256,4096,7168 256,7168,2048 128,2048,768 8,4096,14336 | FileCheck %s --check-prefix=NVFP4
// NVFP4-COUNT-7: gg_nvfp4_{{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// RUN: rm -rf %t.nvfp4.sm100 && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.nvfp4.sm100 --ptxas %ptxas --strict --nvfp4 --chip sm_100a 8,256,512 8,200,512 256,4096,7168 | FileCheck %s --check-prefix=NVFP4-SM100
// NVFP4-SM100-COUNT-3: gg_nvfp4_{{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// MXFP8 rows by MXFP4 weights (make_grouped_gemm.py --mxfp8-mxfp4), sm_100a
// only: both operands' UE8M0 scales applied by block-scaled tcgen05.mma in
// the single-issuer shape, every kernel (N and K multiples of 128).
// RUN: rm -rf %t.mx && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.mx --ptxas %ptxas --strict --mxfp8-mxfp4 --chip sm_100a 1,128,128 8,256,512 256,4096,7168 256,7168,2048 128,2048,768 8,4096,14336 | FileCheck %s --check-prefix=MX
// MX-COUNT-6: gg_mxfp8_mxfp4_{{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// RUN: grep -l "tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32" %t.mx/*/*.ptx | wc -l | FileCheck %s --check-prefix=MX-TC
// MX-TC: 6
// RUN: not grep -l wgmma %t.mx/*/*.ptx

// Per-expert biases: the grouped-gemm.test bias set (bf16 biases on bf16
// weights with partial last column tiles; f32 on FP8, MXFP4, NVFP4 (its
// global scale in the bias op) and MXFP8 weights), with no spill.
// RUN: rm -rf %t.bias && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.bias --ptxas %ptxas --strict --bias bf16 1,128,64 8,200,512 128,2880,2880 | FileCheck %s --check-prefix=BIAS
// BIAS-COUNT-3: _bias: kernel {{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// RUN: %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.bias --ptxas %ptxas --strict --bias f32 --fp8 8,256,512 | FileCheck %s --check-prefix=BIAS1
// RUN: %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.bias --ptxas %ptxas --strict --bias f32 --mxfp4 8,200,512 | FileCheck %s --check-prefix=BIAS1
// RUN: %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.bias --ptxas %ptxas --strict --bias f32 --nvfp4 8,200,512 | FileCheck %s --check-prefix=BIAS1
// RUN: %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.bias --ptxas %ptxas --strict --bias f32 --mxfp8 128,2880,2880 | FileCheck %s --check-prefix=BIAS1
// BIAS1: _bias: kernel {{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// sm_100a: the bf16 ones in the single-issuer kernel (its tensor-memory
// epilogue adds the bias: tcgen05.ld .32x32b), MXFP4 weights in the
// register-accumulator shape.
// RUN: rm -rf %t.sm100.bias && %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.sm100.bias --ptxas %ptxas --strict --chip sm_100a --bias bf16 1,128,64 8,200,512 128,2880,2880 | FileCheck %s --check-prefix=SM100-BIAS
// SM100-BIAS-COUNT-3: _bias: kernel {{.*}} registers, 0 bytes spilled, smem {{[0-9]+$}}
// RUN: %python %moe_src_root/test/Integration/CUDA/make_grouped_gemm.py --bin %moe_obj_root/bin --out %t.sm100.bias --ptxas %ptxas --strict --chip sm_100a --bias f32 --mxfp4 8,200,512 | FileCheck %s --check-prefix=BIAS1
// RUN: grep -l "tcgen05.ld.sync.aligned.32x32b" %t.sm100.bias/*/*.ptx | wc -l | FileCheck %s --check-prefix=SM100-BIAS-SINGLE
// SM100-BIAS-SINGLE: 3
