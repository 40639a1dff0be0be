// The ops for other GPUs, lowered for sm_90a (the kernel of
// test/Integration/CUDA/Inputs/peer-exchange.mlir, which the GPU test runs on
// 2 and 4 GPUs): moek.map_peer is this rank's address moved by the
// difference of two bases; moek.remote_add is a fenced
// red.release.sys.global.add.u64; moek.remote_wait spins on
// ld.acquire.sys.global.u64 bounded by %globaltimer, and on expiry claims
// the wait record (cas 0 -> 1), fills it, publishes its magic ('MOEW') and
// traps. The PTX assembles for sm_90a, and for sm_100a with its target
// changed (none of it is Hopper-specific). The manifest takes the scalars
// from the caller.
// RUN: moe-opt %moe_src_root/test/Integration/CUDA/Inputs/peer-exchange.mlir | moe-opt | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %moe_src_root/test/Integration/CUDA/Inputs/peer-exchange.mlir -o %t.mlir
// RUN: FileCheck %s --input-file=%t.mlir
// RUN: moe-translate --moe-to-ptx %t.mlir | FileCheck %s --check-prefix=PTX
// RUN: rm -rf %t.art && moe-translate --moe-to-manifest --artifact-dir=%t.art %t.mlir -o %t.manifest.json
// RUN: FileCheck %s --check-prefix=MANIFEST --input-file=%t.manifest.json
// RUN: %if ptxas %{ %ptxas -arch=sm_90a %t.art/peer_exchange.ptx -o %t.cubin %}
// RUN: %if ptxas %{ sed 's/^\.target sm_90a/.target sm_100a/' %t.art/peer_exchange.ptx > %t.100.ptx && %ptxas -arch=sm_100a %t.100.ptx -o %t.100.cubin %}

// ROUNDTRIP: moek.map_peer %{{.+}} to %{{.+}} bases(%{{.+}}) self(%{{.+}})
// ROUNDTRIP: moek.remote_add %{{.+}}, %{{.+}}
// ROUNDTRIP: moek.remote_wait %{{.+}} geq(%{{.+}}) timeout_ns(%{{.+}}) record(%{{.+}}) rank(%{{.+}}) phase(1)

// CHECK-LABEL: llvm.func @peer_exchange
// map_peer: bases[p] - bases[self] added to the local address.
// CHECK:       llvm.getelementptr %arg0[%{{.+}}] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i64
// CHECK:       ^bb4:
// CHECK:       %[[PEER:.+]] = llvm.load %[[PEERAT:.+]] {alignment = 8 : i64} : !llvm.ptr<1> -> i64
// CHECK-NEXT:  %[[SELF:.+]] = llvm.load %{{.+}} {alignment = 8 : i64} : !llvm.ptr<1> -> i64
// CHECK-NEXT:  %[[SHIFT:.+]] = llvm.sub %[[PEER]], %[[SELF]] : i64
// CHECK-NEXT:  %[[REMOTE:.+]] = llvm.getelementptr %{{.+}}[%[[SHIFT]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i8
// CHECK:       llvm.store %{{.+}}, %[[REMOTE]]
// CHECK:       llvm.inline_asm has_side_effects "fence.acq_rel.sys;\0Ared.release.sys.global.add.u64 [$0], $1;", "l,l"
// remote_wait: the bounded spin, then the record and the trap.
// CHECK:       %[[START:.+]] = nvvm.read.ptx.sreg.globaltimer : i64
// CHECK:       llvm.inline_asm has_side_effects "ld.acquire.sys.global.u64 $0, [$1];", "=l,l"
// CHECK-NEXT:  %[[NOW:.+]] = nvvm.read.ptx.sreg.globaltimer : i64
// CHECK-NEXT:  %[[WAITED:.+]] = llvm.sub %[[NOW]], %[[START]] : i64
// CHECK-NEXT:  %[[BELOW:.+]] = llvm.icmp "ult"
// CHECK-NEXT:  %[[INTIME:.+]] = llvm.icmp "ult" %[[WAITED]]
// CHECK-NEXT:  llvm.and %[[BELOW]], %[[INTIME]] : i1
// CHECK:       llvm.inline_asm has_side_effects "{\0A.reg .pred %claimed;{{.*}}atom.relaxed.sys.global.cas.b32 %old, [$0], 0, 1;{{.*}}@%claimed st.release.sys.global.u32 [$0], 1297040727;{{.*}}trap;\0A}", "l,r,r,r,l,l,l,l"
// CHECK:       nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.global>}
// CHECK-NOT:   moek.

// PTX:     .entry peer_exchange(
// PTX:     red.release.sys.global.add.u64
// PTX:     mov.u64 {{.+}}, %globaltimer;
// PTX:     ld.acquire.sys.global.u64
// PTX:     trap;

// MANIFEST: "kernel": "peer_exchange"
// MANIFEST: "kind": "i32",
// MANIFEST-NEXT: "name": "rank"
// MANIFEST: "name": "num_ranks"
// MANIFEST: "name": "epoch"
// MANIFEST: "name": "timeout_ns"
// MANIFEST: "name": "wait_record"
