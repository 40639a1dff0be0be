// convert-moe-to-moek{act-tma}: in the bf16 fused kernel whose y leaves by
// TMA, GEMM1's activation rows leave by TMA too: moek.store_act takes the
// act descriptor (its 64 x 64 boxes, 128B swizzle, are the staging's
// layout), the warpgroup's staging and named barrier, and the tile's
// moek.signal waits for the bulk stores first (bulk_stores). Concatenated
// gate/up only: with interleaved gate/up a thread holds single output
// columns, not an accumulator's pairs, and the stores stay as they are.
// Off by default: not yet run on a GPU.
// RUN: moe-opt --convert-moe-to-moek="act-tma=true" %s | FileCheck %s
// RUN: moe-opt --convert-moe-to-moek %s | FileCheck %s --check-prefix=OFF
// RUN: moe-opt --convert-moe-to-moek="act-tma=true" --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS-COUNT-2: 0 bytes spill stores, 0 bytes spill loads
// The deferred form: the pending index lives in a register (no local
// memory), the flush waits for the bulk stores before its release.
// RUN: moe-opt --convert-moe-to-moek="act-tma=true defer-signals=true" --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.defer.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.defer.nvvm.mlir -o %t.defer.ptx
// RUN: FileCheck %s --check-prefix=DEFERPTX --implicit-check-not=.local < %t.defer.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.defer.ptx -o %t.defer.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// DEFERPTX-LABEL: .entry fm_fused_moe_0(
// DEFERPTX:       mbarrier.test_wait.parity.shared::cta.b64
// DEFERPTX:       cp.async.bulk.wait_group 0;
// DEFERPTX-NEXT:  fence.proxy.async.global;
// DEFERPTX:       red.release.gpu.global.add.u32

// CHECK-LABEL: llvm.func @fm_fused_moe_0(
// The act descriptor is parameter 3, y's 4.
// CHECK:         moek.warp_role "consumer"
// CHECK:           moek.store_act %{{.+}} row_weights(%{{.+}}) tma(%arg3, %[[STAGING:.+]], %[[BARRIER:.+]]) {activation = "swiglu", {{.*}}halves = 2 : i64, ld = 256 : i64}
// CHECK-NOT:       moek.store_act
// CHECK:           moek.signal %{{.+}}[%{{.+}}] {bulk_stores}
// CHECK:           moek.store_acc_tma %{{.+}}, %arg4, %[[STAGING]], %{{.+}} barrier(%[[BARRIER]]) {halves = 2 : i64, ld = 512 : i64}

// CHECK-LABEL: llvm.func @il_fused_moe_1(
// CHECK:           moek.store_act %{{.+}} row_limit(%{{[^)]+}}) {activation = "swiglu", {{.*}}layout = "interleaved"
// CHECK-NOT:       bulk_stores
// CHECK:           moek.store_acc_tma

// With defer-signals, the tile's add waits for the warpgroup's next
// moek.signal_flush: before the next GEMM1 tile's stores, before a GEMM2
// tile, before the tile loop would wait for a stage that is not full, and
// after the loop.
// RUN: moe-opt --convert-moe-to-moek="act-tma=true defer-signals=true" %s | FileCheck %s --check-prefix=DEFER
// DEFER-LABEL: llvm.func @fm_fused_moe_0(
// DEFER:         moek.warp_role "consumer"
// DEFER:           %[[FULL:.+]] = moek.ring_ready %{{.+}}[%{{.+}}]
// DEFER:           %[[NOT:.+]] = arith.xori %[[FULL]], %true
// DEFER-NEXT:      scf.if %[[NOT]] {
// DEFER-NEXT:        moek.signal_flush %[[READY:[^ ]+]]
// DEFER:           moek.ring_wait
// DEFER:           moek.signal_flush %[[READY]]
// DEFER-NOT:       moek.signal
// DEFER:           moek.store_act {{.*}} tma(
// DEFER:           moek.signal %[[READY]][%{{.+}}] {bulk_stores, deferred}
// DEFER:           moek.signal_flush %[[READY]]
// DEFER:           moek.store_acc_tma
// DEFER:           moek.ring_release
// DEFER-NEXT:      moek.signal_flush %[[READY]]
// DEFER-NEXT:      moek.store_acc_tma_wait
// The interleaved layer has no TMA stores to wait for: nothing deferred.
// DEFER-LABEL: llvm.func @il_fused_moe_1(
// DEFER-NOT:       signal_flush
// DEFER-NOT:       deferred
// DEFER:           moek.combine

// OFF-NOT: bulk_stores
// OFF-NOT: tma(

func.func @fm(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight before_down>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}

func.func @il(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x512x512xbf16>, %w2: tensor<8x512x256xbf16>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xbf16>, tensor<8x512x256xbf16>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
