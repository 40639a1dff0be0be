// Per-expert biases (gpt-oss: w13_bias [E, 2I], w2_bias [E, H]; the grouped
// matmul's bias [E, N]). The sm_90a kernels of bf16 rows take each bias as
// one more pointer, the launch's operand after the weights' scales, and add
// the tile's expert's row to the accumulators after the MMAs (and after an
// NVFP4 global scale), before the epilogue rounds them (moek.acc_add_cols):
// GEMM1's before the activation, from the tile's gate rows and, for
// concatenated gate/up, its up rows I further (`upper`); GEMM2's before
// the rows of y are stored; sm_100a's single-issuer kernels add them in
// their tensor-memory epilogues. The FP8-row fused kernels and sm_100a's
// FP8 and block-scaled single-issuer kernels do not add biases yet: a
// remark says so and the op stays.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a" 2>/dev/null | FileCheck %s --check-prefix=SM100
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a" 2>&1 >/dev/null | FileCheck %s --check-prefix=SM100R
// The PTX of these kernels, and ptxas on it: fused-moe-bias-ptx.mlir.

// CHECK-LABEL: func.func @gpt_oss
// CHECK:         moek.launch @moe_kernels::@gpt_oss_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6)
// CHECK:       llvm.func @gpt_oss_fused_moe_0(
// CHECK-SAME:    {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 5 : i64}, {kind = "ptr", operand = 6 : i64}, {kind = "ptr", result = 0 : i64}
// CHECK:         moek.warp_role "consumer"
// GEMM1: interleaved gate/up, the tile's 256 consecutive rows of w13_bias
// (bf16, [E, 2I = 512]): no `upper` needed, it is the next 128.
// CHECK:           moek.acc_add_cols %{{.+}}, %arg{{[0-9]+}}[%expert, %{{.+}}] upper(%{{.+}}) {element_type = bf16, in_row, ld = 512 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
// CHECK:           moek.store_act
// GEMM2: the tile's 256 columns of w2_bias (f32, [E, H = 256]).
// CHECK:           moek.acc_add_cols %{{.+}}, %arg{{[0-9]+}}[%expert, %{{.+}}] {element_type = f32, in_row, ld = 256 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
// CHECK:           moek.store_acc_tma
// On sm_100a the single-issuer kernel's tensor-memory epilogue adds them:
// GEMM1's from w13's rows of each output column (interleaved: 2o, 2o + 1),
// GEMM2's from the stored columns.
// SM100-LABEL: llvm.func @gpt_oss_fused_moe_0(
// SM100: moek.acc_store_act_rows {{.*}} bias(%arg{{[0-9]+}}[%expert]) {{{.*}}bias_ld = 512 : i64, bias_type = bf16, {{.*}}layout = "interleaved"
// SM100: moek.acc_store_rows {{.*}} bias(%arg{{[0-9]+}}[%expert]) {bias_ld = 256 : i64, bias_type = f32, element_type = bf16, ld = 256 : i64}
func.func @gpt_oss(%x: tensor<?x256xbf16>, %ids: tensor<?x4xi32>, %w: tensor<?x4xf32>, %w13: tensor<8x512x256xbf16>, %w2: tensor<8x256x256xbf16>, %b13: tensor<8x512xbf16>, %b2: tensor<8x256xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_bias(%b13) w2_bias(%b2) {activation = #moe<activation clamped_swiglu>, alpha = 1.702 : f32, limit = 7.0 : f32, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x256xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<8x512x256xbf16>, tensor<8x256x256xbf16>, tensor<8x512xbf16>, tensor<8x256xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// gpt-oss's shape in small: I = 192 and H = 320, not multiples of the
// tiles' 128 and 256 columns, so the bias loads take their predicated form
// for a partial last tile (no in_row).
// CHECK-LABEL: func.func @tails
// CHECK:           moek.acc_add_cols %{{.+}}, %arg{{[0-9]+}}[%expert, %{{.+}}] upper(%{{.+}}) {element_type = bf16, ld = 384 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
// CHECK:           moek.acc_add_cols %{{.+}}, %arg{{[0-9]+}}[%expert, %{{.+}}] {element_type = bf16, ld = 320 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
func.func @tails(%x: tensor<?x320xbf16>, %ids: tensor<?x4xi32>, %w: tensor<?x4xf32>, %w13: tensor<8x384x320xbf16>, %w2: tensor<8x320x192xbf16>, %b13: tensor<8x384xbf16>, %b2: tensor<8x320xbf16>) -> tensor<?x320xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_bias(%b13) w2_bias(%b2) {activation = #moe<activation clamped_swiglu>, alpha = 1.702 : f32, limit = 7.0 : f32, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x320xbf16>, tensor<?x4xi32>, tensor<?x4xf32>, tensor<8x384x320xbf16>, tensor<8x320x192xbf16>, tensor<8x384xbf16>, tensor<8x320xbf16>) -> tensor<?x320xbf16>
  return %out : tensor<?x320xbf16>
}

// -----

// NVFP4 weights: the expert's global scale goes into the bias op (each
// value times it, then the bias: moek.acc_scale's rounding, in the same op;
// a separate moek.acc_scale before the bias made ptxas spill 150-290 bytes
// with a partial last tile); GEMM1 without a bias keeps moek.acc_scale.
// CHECK-LABEL: func.func @nvfp4_tails
// CHECK:           %[[G1:.+]] = llvm.load
// CHECK:           moek.acc_scale %{{.+}}, %[[G1]]
// CHECK:           moek.store_act
// CHECK:           %[[G2:.+]] = llvm.load
// CHECK-NOT:       moek.acc_scale
// CHECK:           moek.acc_add_cols %{{.+}}, %arg{{[0-9]+}}[%expert, %{{.+}}] scale(%[[G2]]) {element_type = bf16, ld = 320 : i64}
func.func @nvfp4_tails(%x: tensor<?x320xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x384x320xf4E2M1FN>, %w2: tensor<8x320x192xf4E2M1FN>, %w13s: tensor<8x384x20xf8E4M3FN>, %w2s: tensor<8x320x12xf8E4M3FN>, %g13: tensor<8xf32>, %g2: tensor<8xf32>, %b2: tensor<8x320xbf16>) -> tensor<?x320xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_global_scale(%g13) w2_global_scale(%g2) w2_bias(%b2) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<nvfp4, block = [1, 16]>, w2_quant = #moe.quant<nvfp4, block = [1, 16]>} : (tensor<?x320xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x384x320xf4E2M1FN>, tensor<8x320x192xf4E2M1FN>, tensor<8x384x20xf8E4M3FN>, tensor<8x320x12xf8E4M3FN>, tensor<8xf32>, tensor<8xf32>, tensor<8x320xbf16>) -> tensor<?x320xbf16>
  return %out : tensor<?x320xbf16>
}

// -----

// MXFP4 weights (their scales are operands 5 and 6), concatenated gate/up,
// only w13_bias: operand 7; GEMM1's up half reads I = 256 rows further.
// CHECK-LABEL: func.func @mxfp4_w13_bias
// CHECK:         moek.launch @moe_kernels::@mxfp4_w13_bias_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6, %arg7)
// CHECK:       llvm.func @mxfp4_w13_bias_fused_moe_0(
// CHECK-SAME:    {kind = "ptr", operand = 5 : i64}, {kind = "ptr", operand = 6 : i64}, {kind = "ptr", operand = 7 : i64}, {kind = "ptr", result = 0 : i64}
// CHECK:           moek.acc_add_cols %{{.+}}, %arg{{[0-9]+}}[%expert, %{{.+}}] upper(%{{.+}}) {element_type = f32, in_row, ld = 512 : i64}
// CHECK:           moek.store_act
// CHECK-NOT:       moek.acc_add_cols
// CHECK:           moek.combine
func.func @mxfp4_w13_bias(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xf4E2M1FN>, %w2: tensor<8x512x256xf4E2M1FN>, %w13s: tensor<8x512x16xf8E8M0FNU>, %w2s: tensor<8x512x8xf8E8M0FNU>, %b13: tensor<8x512xf32>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_bias(%b13) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp4, block = [1, 32]>, w2_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xf4E2M1FN>, tensor<8x512x256xf4E2M1FN>, tensor<8x512x16xf8E8M0FNU>, tensor<8x512x8xf8E8M0FNU>, tensor<8x512xf32>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}

// -----

// DeepSeek-V3's FP8 layer with a bias: not lowered (yet), said so.
// CHECK-LABEL: func.func @fp8_bias
// CHECK:         moe.fused_moe
// CHECK-NOT:     moek.launch
func.func @fp8_bias(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>, %b2: tensor<8x256xf32>) -> tensor<?x256xbf16> {
  // expected-remark @+1 {{convert-moe-to-moek: not lowered: per-expert biases (w13_bias, w2_bias) are not supported by the FP8-row kernels yet (bf16 rows only)}}
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w2_bias(%b2) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight before_down>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>, tensor<8x256xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}

// -----

// The grouped matmul, bf16: the bias is operand 3, its tile's columns
// added to each of the kernel's accumulators (both kernels: the 128-row
// one and its 192-row variant).
// CHECK-LABEL: func.func @grouped
// CHECK:         moek.launch @moe_kernels::@grouped_expert_matmul_0(%arg0, %arg1, %arg2, %arg3)
// CHECK:       llvm.func @grouped_expert_matmul_0(
// CHECK-SAME:    {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 3 : i64}, {kind = "ptr", result = 0 : i64}
// CHECK:           moek.acc_add_cols %{{.+}}, %arg{{[0-9]+}}[%{{.+}}, %{{.+}}] {element_type = bf16, in_row, ld = 512 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
// CHECK:           moek.store_acc_tma
// CHECK:       llvm.func @grouped_expert_matmul_0_m192(
// CHECK-COUNT-2:   moek.acc_add_cols %{{.+}} {element_type = bf16, in_row, ld = 512 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
// SM100-LABEL: llvm.func @grouped_expert_matmul_0(
// SM100: moek.acc_store_rows {{.*}} bias(%arg{{[0-9]+}}[%expert]) {bias_ld = 512 : i64, bias_type = bf16, element_type = bf16, ld = 512 : i64}
func.func @grouped(%x: tensor<?x256xbf16>, %w: tensor<8x512x256xbf16>, %offsets: tensor<9xi32>, %bias: tensor<8x512xbf16>) -> tensor<?x512xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets bias(%bias) : (tensor<?x256xbf16>, tensor<8x512x256xbf16>, tensor<9xi32>, tensor<8x512xbf16>) -> tensor<?x512xbf16>
  return %y : tensor<?x512xbf16>
}

// -----

// The grouped FP8 matmul (1x128 and 128x128 block scales, operands 3 and
// 4): the bias (operand 5) after the promotion.
// CHECK-LABEL: func.func @grouped_fp8
// CHECK:         moek.launch @moe_kernels::@grouped_fp8_expert_matmul_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5)
// CHECK:       llvm.func @grouped_fp8_expert_matmul_0(
// CHECK-SAME:    {kind = "ptr", operand = 3 : i64}, {kind = "ptr", operand = 4 : i64}, {kind = "ptr", operand = 5 : i64}, {kind = "ptr", result = 0 : i64}
// CHECK:           moek.acc_add_cols %{{.+}} {element_type = f32, in_row, ld = 256 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
// CHECK-NEXT:      moek.store_acc
// sm_100a's FP8 grouped matmul promotes in its epilogue: no bias yet.
// SM100R-DAG: remark: convert-moe-to-moek: not lowered: a per-expert bias is not added by this kernel yet (chip = sm_100a, schedule = cooperative, the single-issuer FP8 or block-scaled kernel)
func.func @grouped_fp8(%x: tensor<?x512xf8E4M3FN>, %w: tensor<8x256x512xf8E4M3FN>, %offsets: tensor<9xi32>, %xs: tensor<?x4xf32>, %ws: tensor<8x2x4xf32>, %bias: tensor<8x256xf32>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) bias(%bias) {x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>} : (tensor<?x512xf8E4M3FN>, tensor<8x256x512xf8E4M3FN>, tensor<9xi32>, tensor<?x4xf32>, tensor<8x2x4xf32>, tensor<8x256xf32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
