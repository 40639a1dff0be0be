// fp8-async-signals (off by default; sm_90a, FP8 weights, one GPU, not with
// gather-rows): the 128-row FP8 kernels relay GEMM1's readiness signals as
// async-signals does for bf16 weights. Each MMA warpgroup's moek.signal of
// its 64-row block {relayed} hands the index to warp 1 or 2 of the producer
// warpgroup (moek.signal_relay), and moek.signal_end follows its tile loop.
// With fp8-tile-rows=0 the staged kernels with the relay, at 224 and 216
// consumer registers, come first among the variants; the 64-row kernel
// keeps its own signals.
// RUN: moe-opt %s --convert-moe-to-moek="fp8-async-signals=true" | FileCheck %s
// RUN: moe-opt %s --convert-moe-to-moek="fp8-tile-rows=128 fp8-async-signals=true" | FileCheck %s --check-prefix=WIDE
// RUN: moe-opt %s --convert-moe-to-moek | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s --convert-moe-to-moek="fp8-async-signals=true gather-rows=true" | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s --convert-moe-to-moek="fp8-async-signals=true fp8-staged-scales=false" | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s --convert-moe-to-moek="fp8-async-signals=true" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a %t.ptx -o %t.cubin %}

// CHECK-LABEL: llvm.func @layer_fused_moe_0(
// CHECK-SAME:    moek.variants = [{kernel = @layer_fused_moe_0_m128sr, min_tokens = 256 : i64}, {kernel = @layer_fused_moe_0_m128sr216, min_tokens = 256 : i64}, {kernel = @layer_fused_moe_0_m128s, min_tokens = 256 : i64}, {kernel = @layer_fused_moe_0_m128s216, min_tokens = 256 : i64}, {kernel = @layer_fused_moe_0_m128, min_tokens = 256 : i64}]
// CHECK-NOT:     signal_relay
// CHECK-NOT:     relayed
// CHECK-NOT:     signal_end
// CHECK:         llvm.return
// CHECK-LABEL: llvm.func @layer_fused_moe_0_m128sr(
// CHECK:         moek.warp_role "producer"
// CHECK:           moek.stage_block_scales
// CHECK:           %[[W1:.+]] = moek.in_warp {warp = 1 : i64}
// CHECK-NEXT:      scf.if %[[W1]] {
// CHECK-NEXT:        moek.signal_relay %[[READY:[0-9a-z]+]] warpgroup(1)
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[W2:.+]] = moek.in_warp {warp = 2 : i64}
// CHECK-NEXT:      scf.if %[[W2]] {
// CHECK-NEXT:        moek.signal_relay %[[READY]] warpgroup(2)
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(224)
// CHECK:           moek.store_act_fp8
// CHECK:           moek.signal %[[READY]][%{{.+}}] {fresh_thread_id, relayed}
// CHECK:         moek.ring_release %{{.+}}[%{{.+}}#0]
// CHECK-NEXT:    moek.signal_end
// CHECK-NEXT:    moek.store_acc_tma_wait
// CHECK:         moek.grid_barrier
// CHECK-LABEL: llvm.func @layer_fused_moe_0_m128sr216(
// CHECK:         moek.signal_relay
// CHECK:         moek.warp_role "consumer" warpgroups(1, 2) max_regs(216)
// CHECK:         moek.signal {{.*}}relayed
// CHECK:         moek.signal_end
// CHECK-LABEL: llvm.func @layer_fused_moe_0_m128s(
// CHECK-NOT:     signal_relay
// CHECK-NOT:     relayed
// CHECK-NOT:     signal_end
// CHECK:         llvm.return

// WIDE-LABEL: llvm.func @layer_fused_moe_0(
// WIDE-NOT:     moek.variants
// WIDE:         moek.signal_relay
// WIDE:         moek.signal {{.*}}relayed
// WIDE:         moek.signal_end

// OFF-NOT:     signal_relay
// OFF-NOT:     relayed
// OFF-NOT:     signal_end
// OFF-NOT:     _m128sr

// The relay's global and barriers in the relay kernels only.
// PTX-LABEL: .entry layer_fused_moe_0(
// PTX-NOT:     _moek_relay
// PTX-LABEL: .entry layer_fused_moe_0_m128sr(
// PTX:         .shared .align 8 .b8 layer_fused_moe_0_m128sr_moek_relay[40];
// PTX:         fence.acq_rel.gpu;
// PTX-NEXT:    red.release.gpu.global.add.u32
// PTX-LABEL: .entry layer_fused_moe_0_m128sr216(
// PTX:         .shared .align 8 .b8 layer_fused_moe_0_m128sr216_moek_relay[40];
// PTX-LABEL: .entry layer_fused_moe_0_m128s(
// PTX-NOT:     _moek_relay
func.func @layer(%x: tensor<?x256xbf16>, %ids: tensor<?x2xi32>, %weights: tensor<?x2xf32>, %w13: tensor<8x512x256xf8E4M3FN>, %w2: tensor<8x256x256xf8E4M3FN>, %w13s: tensor<8x4x2xf32>, %w2s: tensor<8x2x2xf32>) -> tensor<?x256xbf16> {
  %out = moe.fused_moe %x, %ids, %weights, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {act_quant = #moe.quant<fp8_block, block = [1, 128]>, act_type = bf16, activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, gemm1_type = bf16, gemm2_type = bf16, router_weight = #moe<router_weight before_down>, w13_quant = #moe.quant<fp8_block, block = [128, 128]>, w2_quant = #moe.quant<fp8_block, block = [128, 128]>, x_quant = #moe.quant<fp8_block, block = [1, 128]>} : (tensor<?x256xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x256xf8E4M3FN>, tensor<8x256x256xf8E4M3FN>, tensor<8x4x2xf32>, tensor<8x2x2xf32>) -> tensor<?x256xbf16>
  return %out : tensor<?x256xbf16>
}
