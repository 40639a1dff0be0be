// A fused MXFP8 layer (gpt-oss-120b-fp8's recipe: rows, activation and
// weights e4m3 with a UE8M0 scale per 1x32 block): the bf16 x FP4 fused
// kernel with the rows and the activation rounded to MXFP8 values in bf16
// (moek.dispatch, moek.store_act {mx_round}) and an e4m3 weight tile per
// stage (256 rows of 64 bytes, unswizzled; three stages of 64 KB), which
// both MMA warpgroups expand with moek.dequant_mxfp8, GEMM1's up rows'
// scales from `upper` (I rows past the gate rows, concatenated).
// RUN: moe-opt %s --convert-moe-to-moek | FileCheck %s
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_90a" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.sm90a.ptx
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_100a" --moek-to-nvvm-pipeline=chip=sm_100a | moe-translate --moe-to-ptx --chip=sm_100a -o %t.sm100a.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.sm90a.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.sm90a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.sm100a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: func.func @fm
// CHECK:         moek.launch @moe_kernels::@fm_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6)
// CHECK:       llvm.func @fm_fused_moe_0(
// CHECK-SAME:    {box = [64, 128], inner = 512 : i64, kind = "tma", operand = 3 : i64, rows = 4096 : i64, swizzle = 0 : i64, view = "[E*2I, H]"}
// CHECK:         moek.ring_alloc consumers(256) : !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf8E4M3FN, 3>]>
// CHECK:         moek.dispatch {{.*}} mx_round
// CHECK:         moek.warp_role "consumer"
// CHECK:           moek.dequant_mxfp8 %{{.+}} from 2 to 1 scales(%arg7[%{{.+}}, %{{.+}}]) row_limit(%{{.+}}) upper(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 16 : i64, threads = 256 : i64}
// CHECK:           moek.store_act {{.*}} mx_round
// CHECK:           moek.dequant_mxfp8 %{{.+}} from 2 to 1 scales(%arg8[%{{.+}}, %{{.+}}]) row_limit(%{{.+}}) upper(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, threads = 256 : i64}

// The expansion: e4m3 pairs to f16 and back times the scale, then the fence
// and named barrier 7 before the bf16 wgmmas.
// PTX:      cvt.rn.f16x2.e4m3x2
// PTX:      fence.proxy.async.shared::cta
// PTX-NEXT: barrier.sync 7, 256
// PTX:      wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16

// PTXAS: 0 bytes spill stores, 0 bytes spill loads
func.func @fm(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>,
              %w: tensor<?x2xf32>, %w13: tensor<8x512x512xf8E4M3FN>,
              %w2: tensor<8x512x256xf8E4M3FN>,
              %w13s: tensor<8x512x16xf8E8M0FNU>,
              %w2s: tensor<8x512x8xf8E8M0FNU>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp8, block = [1, 32]>, w2_quant = #moe.quant<mxfp8, block = [1, 32]>, x_quant = #moe.quant<mxfp8, block = [1, 32]>, act_quant = #moe.quant<mxfp8, block = [1, 32]>} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xf8E4M3FN>, tensor<8x512x256xf8E4M3FN>, tensor<8x512x16xf8E8M0FNU>, tensor<8x512x8xf8E8M0FNU>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
