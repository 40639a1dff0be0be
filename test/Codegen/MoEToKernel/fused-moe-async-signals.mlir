// async-signals (on by default; sm_90a, bf16 weights, MMA warpgroups, one
// GPU, not with gather-rows): GEMM1's readiness signals are relayed. Each
// MMA warpgroup's moek.signal {relayed} hands the counter index to warp 1
// (warpgroup 1's) or warp 2 (warpgroup 2's) of the producer warpgroup,
// which run moek.signal_relay and make the release add; after its tile
// loop each MMA warpgroup runs moek.signal_end, so its relay returns.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="async-signals=false" | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a async-signals=true" | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="async-signals=true gather-rows=true" | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_90a" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: FileCheck %s --check-prefix=RELAY < %t.ptx
// RUN: FileCheck %s --check-prefix=SIGNAL < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: llvm.func @layer_fused_moe_0(
// CHECK:         moek.warp_role "producer"
// CHECK:           moek.elect_one
// CHECK:           moek.wait_counter %[[READY:[0-9a-z]+]][
// CHECK:           %[[W1:.+]] = moek.in_warp {warp = 1 : i64}
// CHECK-NEXT:      scf.if %[[W1]] {
// CHECK-NEXT:        moek.signal_relay %[[READY]] warpgroup(1)
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[W2:.+]] = moek.in_warp {warp = 2 : i64}
// CHECK-NEXT:      scf.if %[[W2]] {
// CHECK-NEXT:        moek.signal_relay %[[READY]] warpgroup(2)
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK:         moek.warp_role "consumer"
// CHECK:           moek.store_act
// CHECK:           moek.signal %[[READY]][%{{.+}}] {relayed}
// CHECK:         moek.ring_release %{{.+}}[%{{.+}}#0]
// CHECK-NEXT:    moek.signal_end
// CHECK-NEXT:    moek.store_acc_tma_wait
// CHECK:         moek.grid_barrier

// OFF-LABEL: llvm.func @layer_fused_moe_0(
// OFF-NOT:     signal_relay
// OFF-NOT:     relayed
// OFF-NOT:     signal_end
// OFF:         llvm.return

// The relay's global: a word for each warpgroup's index, then its two
// barriers (posted: 128 arrivals, taken: 129), set up with the ring's.
// PTX-LABEL: .entry layer_fused_moe_0(
// PTX:         .shared .align 8 .b8 layer_fused_moe_0_moek_relay[40];
// PTX:         mbarrier.init.shared.b64 [layer_fused_moe_0_moek_relay+8], [[N128:%r[0-9]+]];
// PTX-NEXT:    mbarrier.init.shared.b64 [layer_fused_moe_0_moek_relay+16], [[N128]];
// PTX:         mbarrier.init.shared.b64 [layer_fused_moe_0_moek_relay+24], [[N129:%r[0-9]+]];
// PTX-NEXT:    mbarrier.init.shared.b64 [layer_fused_moe_0_moek_relay+32], [[N129]];
// PTX:         fence.mbarrier_init
// A relay: waits for the posted phase, reads the index, arrives at taken,
// then the release add.
// RELAY:       mbarrier.arrive.shared.b64 {{.*}}, [layer_fused_moe_0_moek_relay+24];
// RELAY:       mbarrier.try_wait.parity.shared.b64
// RELAY:       ld.shared.b32 [[IDX:%r[0-9]+]], [layer_fused_moe_0_moek_relay];
// RELAY:       setp.eq.b32 {{.*}}, [[IDX]], -1;
// RELAY:       mbarrier.arrive.shared.b64 {{.*}}, [layer_fused_moe_0_moek_relay+24];
// RELAY:       fence.acq_rel.gpu;
// RELAY-NEXT:  red.release.gpu.global.add.u32
// An MMA warpgroup's relayed signal: its arrival at taken and the wait for
// that phase, then (the leader's index written) the arrival at posted;
// moek.signal_end: the same with the end mark, -1.
// SIGNAL:      mbarrier.arrive.shared::cta.b64 [[STATE:%rd[0-9]+]], [[[TAKEN:%r[0-9]+]]];
// SIGNAL:      mbarrier.try_wait.shared::cta.b64 P1, [[[TAKEN]]], [[STATE]], 10000000;
// SIGNAL:      mbarrier.arrive.shared.b64
// SIGNAL:      mbarrier.try_wait.shared::cta.b64
// SIGNAL:      st.shared.b32 [%rd{{[0-9]+}}+-4], -1;
// SIGNAL-NEXT: $L__BB
// SIGNAL-NEXT: mbarrier.arrive.shared.b64
// PTXAS: Compiling entry function 'layer_fused_moe_0' for 'sm_90a'
func.func @layer(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
