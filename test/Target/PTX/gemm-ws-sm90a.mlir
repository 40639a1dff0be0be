// The whole warp-specialised TMA + wgmma GEMM that ran correctly on an H200
// (Inputs/gemm-ws-sm90a.mlir, from shared/research/wgmma-e2e/gen_gemm.py):
// moe-translate --moe-to-ptx gives the same PTX as the research's mlir-opt |
// mlir-translate | opt -O3 | llc chain (compared by hand, comments aside);
// here its key instructions, and ptxas assembles it without spills.

// RUN: moe-translate --moe-to-ptx %S/Inputs/gemm-ws-sm90a.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=HEAD < %t.ptx
// RUN: FileCheck %s --check-prefix=CONSUMER < %t.ptx
// RUN: FileCheck %s --check-prefix=PRODUCER < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a %t.ptx -o %t.cubin %}
// RUN: %if ptxas %{ moe-translate --moe-to-cubin --ptxas-verbose %S/Inputs/gemm-ws-sm90a.mlir -o %t.2.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not=warning %}

// HEAD:       .version 8.8
// HEAD:       .target sm_90a
// HEAD:       .extern .shared .align 16 .b8 dsmem[];
// HEAD-LABEL: .visible .entry gemm_ws(
// HEAD-NEXT:  .param .align 64 .b8 gemm_ws_param_0[128],
// HEAD-NEXT:  .param .align 64 .b8 gemm_ws_param_1[128],
// HEAD:       .maxntid 384, 1, 1
// HEAD:       .shared .align 8 .b8 bars[128];
// HEAD-COUNT-8: mbarrier.init.shared.b64
// HEAD:       fence.mbarrier_init.release.cluster;
// HEAD:       fence.proxy.async.shared::cta;
// HEAD:       bar.sync 0;

// The consumers: wait for the stage, four k16 steps, release the stage.
// CONSUMER:       mbarrier.try_wait.parity.shared.b64
// CONSUMER:       wgmma.fence.sync.aligned;
// CONSUMER-COUNT-4: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CONSUMER:       wgmma.commit_group.sync.aligned;
// CONSUMER:       wgmma.wait_group.sync.aligned 0;
// CONSUMER:       mbarrier.arrive.shared.b64
// CONSUMER:       wgmma.wait_group.sync.aligned 0;
// CONSUMER-COUNT-32: st.global.v2.b32

// The producer: wait for a free stage, expect 32 KiB, two TMA tile loads.
// PRODUCER:       mbarrier.try_wait.parity.shared.b64
// PRODUCER:       mbarrier.arrive.expect_tx.shared.b64
// PRODUCER-COUNT-2: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes

// PTXAS:      remark: ptxas -v:
// PTXAS:      Compiling entry function 'gemm_ws' for 'sm_90a'
// PTXAS:      0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS:      Used {{[0-9]+}} registers, used 1 barriers, 128 bytes smem
