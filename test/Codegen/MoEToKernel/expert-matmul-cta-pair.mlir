// The sm_100a single-issuer grouped matmul in clusters of two CTAs
// (convert-moe-to-moek cta-pair): each pair takes 256 x 256 tiles in a
// static order; CTA r loads its 128 rows and the tile's weight rows
// [128 r, 128 r + 128) into its ring, completing on the even CTA's
// barrier, which expects both CTAs' bytes; the even CTA's issuer runs one
// tcgen05.mma.cta_group::2 (M = 256) per K step, its commits reaching both
// CTAs; each CTA's epilogue stores its 128 rows and releases the even
// CTA's accumulator.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a cta-pair=true" -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a cta-pair=true" -verify-diagnostics -o %t.all.mlir
// RUN: awk '/^\/\/ -----/{exit} {print}' %t.all.mlir | moe-opt --moek-to-nvvm-pipeline=chip=sm_100a | moe-translate --moe-to-ptx --chip=sm_100a -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=wgmma --implicit-check-not=cta_group::1 < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: not moe-opt %s --convert-moe-to-moek="cta-pair=true" 2>&1 | FileCheck %s --check-prefix=SM90

// CHECK-LABEL: func.func @pair
// CHECK:         llvm.func @pair_expert_matmul_0
// CHECK-SAME:      moek.launch = {block = 384 : i64, cluster = 2 : i64, grid = "persistent"}
// CHECK:           %[[R:.+]] = moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
// CHECK-NEXT:      %[[ACCS:.+]] = moek.acc_ring_alloc {consumers = 256 : i64, cta_pair} : !moek.acc_ring<2, 128x256xf32>
// CHECK-NEXT:      moek.cluster_sync
// CHECK-NEXT:      moek.grouped_tile_count {{.*}} {col_tiles = 16 : i64, num_experts = 256 : i64, tile_rows = 256 : i64}
// CHECK:           %[[RANK:.+]] = moek.cluster_rank
// CHECK:           %[[LEADER:.+]] = arith.cmpi eq, %[[RANK]], %{{.+}} : index
// CHECK:           moek.warp_role "producer" warpgroups(0, 1) max_regs(40)
// CHECK:             moek.ring_acquire %[[R]]
// CHECK-NEXT:        scf.if %[[LEADER]] {
// CHECK-NEXT:          moek.ring_expect %[[R]]
// CHECK:             moek.tma_load {{.*}} tile 0 {leader_barrier}
// CHECK:             moek.tma_load {{.*}} tile 0 {leader_barrier, row_offset = 64 : i64}
// CHECK:             moek.tma_load {{.*}} tile 1 {leader_barrier}
// CHECK:           moek.warp_role "mma" warpgroups(0, 1) {
// CHECK:             %[[ISSUER:.+]] = arith.andi %{{.+}}, %[[LEADER]] : i1
// CHECK-NEXT:        scf.if %[[ISSUER]] {
// CHECK:               moek.acc_acquire %[[ACCS]]
// CHECK:                 moek.mma_tmem %[[R]][%{{.+}}] a(0) b(1), %[[ACCS]]
// CHECK-NEXT:            moek.mma_release %[[R]]
// CHECK:               moek.acc_commit %[[ACCS]]
// CHECK:           moek.warp_role "epilogue" warpgroups(1, 2) max_regs(232)
// CHECK:             moek.acc_wait %[[ACCS]]
// CHECK:             moek.acc_store_rows %[[ACCS]][%{{.+}}] cols(%{{.+}}, 128)
// CHECK-NEXT:        moek.acc_release %[[ACCS]]
// CHECK:           moek.cluster_sync
// CHECK-NEXT:      llvm.return

// Every tcgen05 op is cta_group::2 (--implicit-check-not=cta_group::1).
// PTX:         tcgen05.alloc.cta_group::2.sync.aligned.shared::cta.b32
// PTX:         tcgen05.relinquish_alloc_permit.cta_group::2.sync.aligned;
// PTX:         barrier.cluster.arrive;
// PTX:         mov.u32 %r{{[0-9]+}}, %cluster_ctarank;
// The copies: this CTA's boxes, completing on the even CTA's barrier.
// PTX:         mapa.shared::cluster.u64
// PTX:         cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.cta_group::2 [%rd{{[0-9]+}}], [%rd{{[0-9]+}}, {%r{{[0-9]+}}, %r{{[0-9]+}}}], [%rd{{[0-9]+}}];
// The issuer waits for a drained accumulator with acquire at cluster scope
// (the other CTA's epilogue releases it too).
// PTX:         mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64
// The issuer: M >> 4 = 16 (0x10400490), its stage commits to both CTAs.
// PTX:         mov.b32 [[IDESC:%r[0-9]+]], 272630928;
// PTX-COUNT-4: tcgen05.mma.cta_group::2.kind::f16{{.*}} [[IDESC]], %p{{[0-9]+}};
// PTX-NEXT:    mov.b16 [[MASK:%rs[0-9]+]], 3;
// PTX-NEXT:    tcgen05.commit.cta_group::2.mbarrier::arrive::one.shared::cluster.multicast::cluster.b64 [%rd{{[0-9]+}}+32], [[MASK]];
// The accumulator's tag and arrival in both CTAs, then the commit to both.
// PTX:         st.shared::cluster.b64
// PTX:         mbarrier.arrive.release.cluster.shared::cluster.b64 _,
// PTX:         tcgen05.commit.cta_group::2.mbarrier::arrive::one.shared::cluster.multicast::cluster.b64
// The epilogue releases the even CTA's accumulator.
// PTX:         tcgen05.fence::before_thread_sync;
// PTX:         mbarrier.arrive.release.cluster.shared::cluster.b64 _,
// PTX:         tcgen05.ld.sync.aligned.32x32b.x32.b32
// At the end: both CTAs done, then each frees its columns.
// PTX:         barrier.cluster.wait;
// PTX:         tcgen05.dealloc.cta_group::2.sync.aligned.b32

// PTXAS: 0 bytes spill stores, 0 bytes spill loads

// SM90: error: convert-moe-to-moek: cta-pair takes bf16 grouped matmuls on sm_100a with single-issuer and N a multiple of 256 (256 x 256 tiles; chip = sm_90a, N = 4096)
func.func @pair(%x: tensor<?x7168xbf16>, %w: tensor<256x4096x7168xbf16>, %offsets: tensor<257xi32>) -> tensor<?x4096xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x7168xbf16>, tensor<256x4096x7168xbf16>, tensor<257xi32>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

// -----

// N not a multiple of 256: an error, not a kernel of another shape.
func.func @narrow(%x: tensor<?x512xbf16>, %w: tensor<8x200x512xbf16>, %offsets: tensor<9xi32>) -> tensor<?x200xbf16> {
  // expected-error @+1 {{convert-moe-to-moek: cta-pair takes bf16 grouped matmuls on sm_100a with single-issuer and N a multiple of 256 (256 x 256 tiles; chip = sm_100a, N = 200)}}
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x512xbf16>, tensor<8x200x512xbf16>, tensor<9xi32>) -> tensor<?x200xbf16>
  return %y : tensor<?x200xbf16>
}
