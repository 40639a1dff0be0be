// A fused bf16 MoE layer (Qwen3-30B-A3B's shape), from moe IR to PTX: one
// kernel with the dispatch, both GEMMs, SwiGLU and the combine, checked
// where no GPU is.
// RUN: moe-opt --moe-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s < %t.ptx
// RUN: moe-translate --moe-to-manifest %t.nvvm.mlir | FileCheck %s --check-prefix=MANIFEST
// A workspace of gigabytes: its parts' byte offsets must survive (a GEP's
// constant indices hold only 29 bits; GEMM2's rows once wrapped to a
// negative offset and were stored before the workspace). The workspace is
// %arg9 (the fifth descriptor, over y, is %arg4), whose y offset is also
// the descriptor's.
// RUN: moe-opt --convert-moe-to-moek=max-tokens=16384 --moek-to-nvvm-pipeline=chip=sm_90a %s | FileCheck %s --check-prefix=BIG --implicit-check-not="getelementptr %arg9[-"
// BIG:     workspace = "y", workspace_offset = 739253248 : i64
// BIG:     %[[Y:.+]] = llvm.mlir.constant(739253248 : i64) : i64
// BIG:     llvm.getelementptr %arg9[%[[Y]]]

// CHECK:     .target sm_90a
// CHECK:     .entry qwen3_fused_moe_0(
// CHECK-DAG: setmaxnreg.dec.sync.aligned.u32 40
// CHECK-DAG: setmaxnreg.inc.sync.aligned.u32 232
// Dispatch: per-expert counts and row cursors (atomics), 16-byte row copies.
// CHECK-DAG: atom.global.add.u32
// CHECK-DAG: ld.global.v4.b32
// CHECK-DAG: st.global.v4.b32
// Grid barriers and readiness counters: release adds, acquire spins.
// CHECK-DAG: red.release.gpu.global.add.u32
// CHECK-DAG: ld.acquire.gpu.global.u32
// CHECK-DAG: fence.acq_rel.gpu
// Activation stores are fenced to the async proxy before GEMM2's TMA reads.
// CHECK-DAG: fence.proxy.async.global
// CHECK-DAG: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// CHECK-DAG: wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16
// SwiGLU: exp as ex2.
// CHECK-DAG: ex2.approx.f32
// GEMM2's rows: stmatrix into the staging, TMA stores (moek.store_acc_tma),
// all complete before the last grid barrier.
// CHECK-DAG: stmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK-DAG: cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group
// CHECK-DAG: cp.async.bulk.wait_group.read 0;
// CHECK-DAG: cp.async.bulk.wait_group 0;

// ptxas accepts it with no spills and no serialized wgmma.
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS: 0 bytes spill stores, 0 bytes spill loads

// MANIFEST:      "max_tokens": 4096,
// MANIFEST:      "kind": "workspace"
// MANIFEST:      "kind": "token_count"
// MANIFEST:      "name": "rows_desc",
// MANIFEST-NEXT: "swizzle": "128B",
// MANIFEST-NEXT: "workspace": {
// MANIFEST-NEXT:   "dtype": "bf16",
// MANIFEST-NEXT:   "offset": {{[0-9]+}},
// MANIFEST-NEXT:   "shape": [
// MANIFEST-NEXT:     32768,
// MANIFEST-NEXT:     2048
// MANIFEST:      "workspace_bytes": {{[0-9]+}},
// MANIFEST-NEXT: "workspace_zero_bytes": {{[0-9]+}}

func.func @qwen3(%x: tensor<?x2048xbf16>, %ids: tensor<?x8xi32>, %w: tensor<?x8xf32>, %w13: tensor<128x1536x2048xbf16>, %w2: tensor<128x2048x768xbf16>) -> tensor<?x2048xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x2048xbf16>, tensor<?x8xi32>, tensor<?x8xf32>, tensor<128x1536x2048xbf16>, tensor<128x2048x768xbf16>) -> tensor<?x2048xbf16>
  return %out : tensor<?x2048xbf16>
}
