// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="tile-n=128 pipeline-mma=true" -verify-diagnostics | FileCheck %s --check-prefix=PIPE
// RUN: not moe-opt %s --convert-moe-to-moek="pipeline-mma=yes" 2>&1 | FileCheck %s --check-prefix=PIPEERR
// RUN: not moe-opt %s --convert-moe-to-moek="schedule=roundrobin" 2>&1 | FileCheck %s --check-prefix=SCHEDERR
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="schedule=pingpong" -verify-diagnostics | FileCheck %s --check-prefix=PING
// RUN: not moe-opt %s --convert-moe-to-moek="schedule=pingpong tile-n=256" 2>&1 | FileCheck %s --check-prefix=PINGERR
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="row-group=1" -verify-diagnostics | FileCheck %s --check-prefix=ROW1
// RUN: not moe-opt %s --convert-moe-to-moek="row-group=-1" 2>&1 | FileCheck %s --check-prefix=ROWERR
// RUN: not moe-opt %s --convert-moe-to-moek="tile-n=96" 2>&1 | FileCheck %s --check-prefix=TILEERR
// RUN: not moe-opt %s --convert-moe-to-moek="stages=1" 2>&1 | FileCheck %s --check-prefix=STAGEERR
// RUN: not moe-opt %s --convert-moe-to-moek="chip=sm_80" 2>&1 | FileCheck %s --check-prefix=CHIPERR
// RUN: not moe-opt %s --convert-moe-to-moek="fp4-steps-per-fence=3" 2>&1 | FileCheck %s --check-prefix=FENCEERR
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="tile-m=256" -verify-diagnostics | FileCheck %s --check-prefix=M256
// RUN: not moe-opt %s --convert-moe-to-moek="tile-m=256 tile-n=256" 2>&1 | FileCheck %s --check-prefix=M256ERR
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a" -verify-diagnostics | FileCheck %s --check-prefix=SM100
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="chip=sm_100a single-issuer=false" -verify-diagnostics | FileCheck %s --check-prefix=SM100-WG
// RUN: not moe-opt %s --convert-moe-to-moek="chip=sm_100a tile-m=256" 2>&1 | FileCheck %s --check-prefix=SM100ERR
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="tile-n=128 stages=6" | FileCheck %s --check-prefix=STAGES6
// RUN: not moe-opt %s -split-input-file --convert-moe-to-moek="stages=6" --moek-to-nvvm-pipeline=chip=sm_90a -o /dev/null 2>&1 | FileCheck %s --check-prefix=SMEMERR
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek="wide-cluster=true" -verify-diagnostics | FileCheck %s --check-prefix=WIDECL
// RUN: moe-opt %examples/deepseek-v3-expert-matmul.mlir --convert-moe-to-moek="wide-cluster=true" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx | FileCheck %s --check-prefix=WIDECL-PTX

// A bf16 grouped matmul becomes a launch of a generated warp-specialized
// kernel: one producer warpgroup (TMA into a 4-stage ring), two MMA
// warpgroups, tiles decoded from the device-side offsets. N = 256 takes
// 256-wide tiles (tile-n = 0: automatic).
// CHECK-LABEL: func.func @lower_bf16_expert_matmul
// CHECK:         %[[Y:.+]] = moek.launch @moe_kernels::@lower_bf16_expert_matmul_expert_matmul_0(%{{.+}}, %{{.+}}, %{{.+}}) : (tensor<?x512xbf16>, tensor<8x256x512xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
// CHECK:         return %[[Y]]
// CHECK:       gpu.module @moe_kernels
// CHECK:         llvm.func @lower_bf16_expert_matmul_expert_matmul_0
// The rows' and weights' descriptors, the output's (64 x 64 boxes, for the
// epilogue's TMA stores), the offsets, the output, the workspace.
// CHECK-SAME:      moek.abi = [{{.*}}kind = "tma"{{.*}}kind = "tma"{{.*}}{box = [64, 64], inner = 256 : i64, kind = "tma", result = 0 : i64, swizzle = 128 : i64, view = "[M, N]"}, {kind = "ptr", operand = 2 : i64}, {kind = "ptr", result = 0 : i64}
// CHECK-SAME:      moek.launch = {block = 384 : i64, grid = "persistent"}
// CHECK-SAME:      moek.variants = [{kernel = @lower_bf16_expert_matmul_expert_matmul_0_m192, max_tokens = 1536 : i64, min_tokens = 512 : i64}]
// CHECK-SAME:      nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>
// CHECK:           moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
// CHECK-NEXT:      %[[STAGING:.+]] = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
// CHECK:           moek.grouped_tile_count {{.*}} {col_tiles = 1 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// CHECK:           moek.warp_role "producer" warpgroups(0, 1) max_regs(40)
// The producer takes tiles from a device counter in the workspace (the
// dynamic tile scheduler) and tags their stages with them.
// CHECK:             moek.fetch_add %arg5[
// CHECK:             moek.grouped_tile {{.*}}row_group = 8 : i64
// The rows come in 64-row boxes; the second only if the tile has rows
// there, and the stage expects the bytes of the boxes loaded.
// CHECK:             %[[BOXES:.+]] = arith.minui
// CHECK:             moek.ring_set_tag
// CHECK-NEXT:        moek.ring_expect {{.*}} bytes(%{{.+}})
// CHECK:             moek.tma_load {{.*}} tile 0 :
// CHECK:             %[[HAS:.+]] = arith.cmpi ugt, %[[BOXES]], %{{.+}} : index
// CHECK-NEXT:        scf.if %[[HAS]] {
// CHECK:               moek.tma_load {{.*}} tile 0 {row_offset = 64 : i64}
// CHECK:             moek.tma_load {{.*}} tile 1 :
// After its last tile the producer fills one more stage, tagged past the
// last tile, with no loads: the stop mark.
// CHECK:           moek.ring_set_tag %{{.+}}[%[[LAST:.+]]#0], %[[NUM:.+]] :
// CHECK:           moek.ring_expect %{{.+}}[%[[LAST]]#0] bytes(%c0
// CHECK:           moek.warp_role "consumer" warpgroups(1, 2) max_regs(232)
// Tiles come from the dynamic scheduler: the MMA warpgroups read the tile
// index from the tag of each tile's first stage, until the stop mark.
// CHECK:             %[[END:.+]]:2 = scf.while
// CHECK:               moek.ring_wait
// CHECK-NEXT:          %[[TILE:.+]] = moek.ring_tag
// CHECK-NEXT:          arith.cmpi ult, %[[TILE]], %[[NUM]] : index
// A warpgroup whose rows all lie past the expert's end skips the MMAs and
// only passes the stages on.
// CHECK:             %[[ACTIVE:.+]] = arith.cmpi ult, %{{.+}}, %{{.+}} : index
// CHECK:             scf.if %[[ACTIVE]] -> (!moek.acc<64x256xf32>, index)
// bf16 operands (pipeline-mma=auto): each stage is released as soon as its
// MMAs are done.
// CHECK:             moek.mma_zero : !moek.acc<64x256xf32>
// CHECK:             moek.ring_wait
// CHECK:             moek.mma %
// CHECK-NEXT:        moek.mma_wait {{.*}} pending(0)
// CHECK-NEXT:        moek.ring_release
// CHECK-NOT:         moek.mma_wait
// CHECK:             } else {
// CHECK-NOT:           moek.mma
// CHECK:               moek.ring_wait
// CHECK-NEXT:          moek.ring_release
// The epilogue: stmatrix into this warpgroup's half of the staging, TMA
// stores through the output's descriptor (moek.store_acc_tma; a tile's
// last, partial 64 rows as moek.store_acc), complete before the end.
// CHECK:             moek.store_acc_tma %{{.+}}, %arg2, %{{.+}}, %arg4[%{{.+}}, %{{.+}}] row_limit(%{{.+}}) barrier(%{{.+}}) {halves = 2 : i64, ld = 256 : i64} : !moek.acc<64x256xf32>
// CHECK:           moek.ring_release %{{.+}}[%[[END]]#0]
// CHECK-NEXT:      moek.store_acc_tma_wait
// tile-m = 256: each MMA warpgroup owns 128 rows as two 64-row accumulators
// by 128 columns; per tile it runs the loop for both, for the first only (the
// second's rows past the end), or none.
// M256-LABEL: func.func @lower_bf16_expert_matmul
// M256-NOT:     moek.variants
// M256:         moek.ring_alloc consumers(256) : !moek.ring<4, [memref<256x64xbf16, 3>, memref<128x64xbf16, 3>]>
// M256:         moek.grouped_tile_count {{.*}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 256 : i64}
// M256:         moek.warp_role "consumer"
// M256:           scf.if {{.*}} -> (!moek.acc<64x128xf32>, !moek.acc<64x128xf32>, index)
// M256:             scf.if {{.*}} -> (!moek.acc<64x128xf32>, !moek.acc<64x128xf32>, index)
// M256:               moek.mma {{.*}} a(0, %{{.+}}) b(1)
// M256-NEXT:          moek.mma {{.*}} a(0, %{{.+}}) b(1)
// M256-NEXT:          moek.mma_wait {{.*}} pending(0)
// M256-NEXT:          moek.mma_wait {{.*}} pending(0)
// M256:             } else {
// M256:               moek.mma {{.*}} a(0, %{{.+}}) b(1)
// M256-NOT:           moek.mma
// M256:               moek.mma_wait {{.*}} pending(0)
// M256:           } else {
// M256-NOT:         moek.mma
// M256:             moek.ring_release
// Both accumulators go by TMA through the warpgroup's staging, the
// second 64 rows below the first.
// M256:           moek.store_acc_tma %[[A:.+]]#0, %arg2, %[[S:.+]], %arg4[%[[R:.+]], %[[C:.+]]] row_limit(%[[END:.+]]) barrier(%[[B:.+]]) {halves = 2 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>
// M256-NEXT:      %[[C64:.+]] = arith.constant 64 : index
// M256-NEXT:      %[[R2:.+]] = arith.addi %[[R]], %[[C64]] : index
// M256-NEXT:      moek.store_acc_tma %[[A]]#1, %arg2, %[[S]], %arg4[%[[R2]], %[[C]]] row_limit(%[[END]]) barrier(%[[B]])
// M256:         moek.store_acc_tma_wait
// M256ERR: error: convert-moe-to-moek: tile-m = 256 holds two 64-row accumulators per warpgroup, so it takes tile-n = 128 and the cooperative schedule
// Auto tile-m: a second kernel of 192-row tiles (five 40 KB stages) with
// the same ABI, which the runtime launches for 64 to 192 rows per expert
// on average (8 experts: T in [512, 1536)).
// Its experts' rows fit one tile, so each weight panel is read once: the
// weights are loaded evict-first and the rows evict-last in L2. Each MMA
// warpgroup holds two 64-row accumulators (rows 0-127 and 128-255 of the
// tile), the tile's row limit ending at its 192nd row, so the second
// warpgroup's second accumulator never runs; one staging half a warpgroup.
// CHECK:         llvm.func @lower_bf16_expert_matmul_expert_matmul_0_m192
// CHECK:           moek.ring_alloc consumers(256) : !moek.ring<5, [memref<192x64xbf16, 3>, memref<128x64xbf16, 3>]>
// CHECK-NEXT:      moek.smem_alloc {bytes = 16384 : i64}
// CHECK:           moek.grouped_tile_count {{.*}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 192 : i64}
// CHECK:             moek.tma_load {{.*}} tile 0 {l2_hint = "evict_last"}
// CHECK:             moek.tma_load {{.*}} tile 0 {l2_hint = "evict_last", row_offset = 128 : i64}
// CHECK:             moek.tma_load {{.*}} tile 1 {l2_hint = "evict_first"}
// CHECK:           moek.warp_role "consumer"
// CHECK:             %[[C192:.+]] = arith.constant 192 : index
// CHECK-NEXT:        %[[TEND:.+]] = arith.addi %{{.+}}, %[[C192]] : index
// CHECK-NEXT:        %[[LIMIT:.+]] = arith.minui %row_end, %[[TEND]] : index
// CHECK:             moek.store_acc_tma {{.*}} row_limit(%[[LIMIT]]) {{.*}} {halves = 1 : i64, ld = 256 : i64} : !moek.acc<64x128xf32>
// pipeline-mma=true: one wgmma group stays in flight; stage i-1 is
// released after stage i's MMAs are issued (none after the first), the
// last after the loop drains.
// PIPE-LABEL: func.func @lower_bf16_expert_matmul
// PIPE:         moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
// PIPE:           moek.mma %
// PIPE-NEXT:      moek.mma_wait {{.*}} pending(1)
// PIPE:           scf.if
// PIPE:             moek.ring_release
// PIPE:           moek.mma_wait {{.*}} pending(0)
// PIPE-NEXT:      arith.subi
// PIPE-NEXT:      moek.ring_release
// PIPEERR: error: convert-moe-to-moek: pipeline-mma must be 'auto', 'true' or 'false', got 'yes'
// SCHEDERR: error: convert-moe-to-moek: schedule must be 'cooperative' or 'pingpong', got 'roundrobin'
// Pingpong: one ring whose stages each MMA warpgroup releases for its own
// tiles (128 arrivals); each warpgroup computes whole tiles with two 64-row
// accumulators, and named barriers 1 and 2 order the two warpgroups' turns.
// PING-LABEL: func.func @lower_bf16_expert_matmul
// PING:         %[[R:.+]] = moek.ring_alloc consumers(128) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
// PING-NOT:     moek.ring_alloc
// PING:         moek.warp_role "consumer" warpgroups(1, 2)
// PING:           moek.barrier_sync id(1) threads(256)
// PING:           moek.barrier_sync id(2) threads(256)
// PING:           moek.mma %[[R]][%{{.+}}] a(0, %{{.+}}) b(1)
// PING-NEXT:      moek.mma %[[R]][%{{.+}}] a(0, %{{.+}}) b(1)
// PING:           moek.barrier_arrive id(2) threads(256)
// PING:           moek.barrier_arrive id(1) threads(256)
// PING-COUNT-2:   moek.store_acc
// PINGERR: error: convert-moe-to-moek: the pingpong schedule holds two 64-row accumulators per warpgroup, so it takes tile-n = 128
// sm_100a (single-issuer): the producer's ring is freed by the MMAs' commits
// (1 arrival); lane 0 of the producer warpgroup's warp 1 issues every tile's
// 128 x 256 MMAs into one of two tensor-memory accumulators and commits it
// with the tile index; warpgroups 1 and 2 store 128 columns each of the
// accumulator's rows. No 256-row variant.
// SM100-LABEL: func.func @lower_bf16_expert_matmul
// SM100-NOT:     moek.variants
// SM100:         %[[R:.+]] = moek.ring_alloc consumers(1) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
// SM100:         moek.warp_role "producer" warpgroups(0, 1) max_regs(40)
// SM100:           moek.fetch_add
// SM100:         %[[ACCS:.+]] = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
// SM100:         moek.warp_role "mma" warpgroups(0, 1) {
// SM100:           moek.elect_one {warp = 1 : i64}
// The issuer's loop carries the ring iteration and the accumulator index.
// SM100:           scf.while
// SM100:             moek.ring_wait %[[R]]
// SM100-NEXT:        %[[TILE:.+]] = moek.ring_tag %[[R]]
// SM100:           ^bb0(%{{.+}}: index, %[[J:.+]]: index, %{{.+}}: index):
// SM100-NEXT:        moek.acc_acquire %[[ACCS]][%[[J]]]
// SM100:             scf.for
// SM100:               moek.ring_wait %[[R]][%[[I:.+]]] :
// SM100:               %[[ON:.+]] = arith.cmpi ugt
// SM100-NEXT:          moek.mma_tmem %[[R]][%[[I]]] a(0) b(1), %[[ACCS]][%[[J]]] accumulate(%[[ON]])
// SM100-NEXT:          moek.mma_release %[[R]][%[[I]]]
// SM100:             moek.acc_commit %[[ACCS]][%[[J]]], %{{.+}} :
// The stop mark: its stage released, an accumulator tagged past the last tile.
// SM100:           moek.ring_release %[[R]]
// SM100:           moek.acc_acquire %[[ACCS]]
// SM100-NEXT:      moek.acc_commit %[[ACCS]][%{{.+}}], %{{.+}} :
// SM100:         moek.warp_role "epilogue" warpgroups(1, 2) max_regs(232)
// SM100:           scf.while
// SM100:             moek.acc_wait %[[ACCS]]
// SM100:             moek.grouped_tile
// SM100:             moek.acc_store_rows %[[ACCS]][%{{.+}}] cols(%{{.+}}, 128), %{{.+}} row_limit(%{{.+}}) {element_type = bf16, ld = 256 : i64}
// SM100-NEXT:        moek.acc_release %[[ACCS]]
// SM100-NOT:     moek.mma {{.*}}acc(
// SM100-WG-LABEL: func.func @lower_bf16_expert_matmul
// SM100-WG:       moek.variants
// SM100-WG:       moek.ring_alloc consumers(256)
// SM100-WG-NOT:   moek.acc_ring_alloc
// SM100-WG:       moek.mma {{.*}}acc(
// SM100ERR: error: convert-moe-to-moek: the sm_100a single-issuer kernel uses 128-row tiles and its own schedule (tile-m = 256, schedule = cooperative given; single-issuer=false keeps the sm_90a shape)
// Six 32 KB stages of 128 x 128 tiles fit; the 192-row variant's 40 KB
// stages only five times (227 KB a CTA). Six 48 KB stages of 128 x 256
// tiles do not fit: an error, not a kernel that cannot launch.
// STAGES6-LABEL: func.func @lower_bf16_expert_matmul
// STAGES6:         moek.ring_alloc consumers(256) : !moek.ring<6, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
// STAGES6:         llvm.func @lower_bf16_expert_matmul_expert_matmul_0_m192
// STAGES6:         moek.ring_alloc consumers(256) : !moek.ring<5, [memref<192x64xbf16, 3>, memref<128x64xbf16, 3>]>
// SMEMERR: error: kernel 'lower_bf16_expert_matmul_expert_matmul_0' needs 295936 bytes of dynamic shared memory (its rings and buffers); a CTA may have 232448 (227 KB): fewer stages or smaller tiles
// wide-cluster: the 256-row variant runs in clusters of two CTAs that
// share a ring; the primary kernel does not. The cluster takes pairs of
// column tiles in a static order (pair c from the cluster's index, by the
// number of clusters), CTA r taking column tile 2 c + r; each CTA copies
// the row boxes r, r + 2 of every stage into both CTAs' rings (multicast)
// and its own weights; the kernel ends with a cluster barrier.
// WIDECL-LABEL: func.func @lower_bf16_expert_matmul
// WIDECL:         llvm.func @lower_bf16_expert_matmul_expert_matmul_0(
// WIDECL-SAME:      moek.launch = {block = 384 : i64, grid = "persistent"}
// WIDECL-NOT:     cluster
// WIDECL:         llvm.func @lower_bf16_expert_matmul_expert_matmul_0_m192(
// WIDECL-SAME:      moek.launch = {block = 384 : i64, cluster = 2 : i64, grid = "persistent"}
// WIDECL:           moek.ring_alloc consumers(256) {cluster = 2 : i64} : !moek.ring<5, [memref<192x64xbf16, 3>, memref<128x64xbf16, 3>]>
// WIDECL:           %[[PAIRS:.+]] = moek.grouped_tile_count {{.*}} {col_tiles = 1 : i64, num_experts = 8 : i64, tile_rows = 192 : i64}
// WIDECL:           %[[BID:.+]] = moek.block_id
// WIDECL-NEXT:      %[[GRID:.+]] = moek.grid_size
// WIDECL-NEXT:      %[[RANK:.+]] = moek.cluster_rank
// WIDECL:             %[[CL:.+]] = arith.divui %[[BID]], %{{.+}} : index
// WIDECL:             %[[NCL:.+]] = arith.divui %[[GRID]], %{{.+}} : index
// WIDECL-NEXT:        scf.for %[[T:.+]] = %[[CL]] to %[[PAIRS]] step %[[NCL]]
// WIDECL:               %[[TWICE:.+]] = arith.muli %col_tile, %{{.+}} : index
// WIDECL-NEXT:          arith.addi %[[TWICE]], %[[RANK]] : index
// WIDECL:               moek.ring_set_tag %{{.+}}, %[[T]]
// WIDECL:               %[[MINE0:.+]] = arith.cmpi eq, %[[RANK]], %c0
// WIDECL-NEXT:          scf.if %[[MINE0]] {
// WIDECL:                 moek.tma_load {{.*}} tile 0 {l2_hint = "evict_last", multicast}
// WIDECL:               %[[MINE1:.+]] = arith.cmpi eq, %[[RANK]], %c1
// WIDECL:               arith.andi %{{.+}}, %[[MINE1]] : i1
// WIDECL:                 moek.tma_load {{.*}} tile 0 {l2_hint = "evict_last", multicast, row_offset = 64 : i64}
// WIDECL:               moek.tma_load {{.*}} tile 1 {l2_hint = "evict_first"}
// WIDECL:           moek.warp_role "consumer"
// WIDECL:             arith.addi %{{.+}}, %[[RANK]] : index
// WIDECL:             moek.store_acc_tma
// WIDECL:           moek.store_acc_tma_wait
// WIDECL:         }
// WIDECL-NEXT:    moek.cluster_sync
// WIDECL-NEXT:    llvm.return
// The PTX: row boxes multicast to both CTAs (mask 3), stages released on
// both CTAs' empty barriers by a predicated remote arrive without a
// cluster-scope release (which fenced every release: 1.7x slower).
// WIDECL-PTX: .entry deepseek_v3_gate_up_expert_matmul_0_m192(
// WIDECL-PTX:   cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster.L2::cache_hint
// WIDECL-PTX:   @p mbarrier.arrive.shared::cluster.b64 _,
// WIDECL-PTX:   barrier.cluster.arrive
// WIDECL-PTX-NEXT: barrier.cluster.wait
// ROW1-LABEL:  func.func @lower_bf16_expert_matmul
// ROW1-NOT:    row_group
// ROW1:        moek.grouped_tile {{.*}}{col_tiles = 1 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// ROWERR: error: convert-moe-to-moek: row-group must be >= 0 (0: auto), got -1
// TILEERR: error: convert-moe-to-moek: tile-n must be 0 (auto), 128 or 256, got 96
// STAGEERR: error: convert-moe-to-moek: stages must be >= 2 (or 0, each kernel's default), got 1
// CHIPERR: error: convert-moe-to-moek: chip 'sm_80' is not supported (supported: sm_90a, sm_100a)
// FENCEERR: error: convert-moe-to-moek: fp4-steps-per-fence must be 1, 2 or 4, got 3
func.func @lower_bf16_expert_matmul(%x: tensor<?x512xbf16>, %w: tensor<8x256x512xbf16>, %offsets: tensor<9xi32>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x512xbf16>, tensor<8x256x512xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}

// -----

// N = 200 is not a multiple of the 128-wide tile: two column blocks, the
// second one clipped at column 200 by the epilogue: the TMA stores by the
// output's descriptor, 200 columns wide; a tile's partial rows masked
// (ld = 200).
// CHECK-LABEL: func.func @lower_partial_column_block
// CHECK:         moek.launch
// CHECK:         llvm.func
// CHECK-SAME:      {box = [64, 64], inner = 200 : i64, kind = "tma", result = 0 : i64, swizzle = 128 : i64, view = "[M, N]"}
// CHECK:         moek.grouped_tile_count {{.*}} {col_tiles = 2 : i64, num_experts = 8 : i64, tile_rows = 128 : i64}
// CHECK:         moek.store_acc_tma {{.*}} {halves = 2 : i64, ld = 200 : i64} : !moek.acc<64x128xf32>
func.func @lower_partial_column_block(%x: tensor<?x512xbf16>, %w: tensor<8x200x512xbf16>, %offsets: tensor<9xi32>) -> tensor<?x200xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x512xbf16>, tensor<8x200x512xbf16>, tensor<9xi32>) -> tensor<?x200xbf16>
  return %y : tensor<?x200xbf16>
}

// -----

// N must be a multiple of 8: the epilogue stores 8-column groups.
// CHECK-LABEL: func.func @negative_lower_ragged_n
// CHECK:         moe.expert_matmul
func.func @negative_lower_ragged_n(%x: tensor<?x512xbf16>, %w: tensor<8x196x512xbf16>, %offsets: tensor<9xi32>) -> tensor<?x196xbf16> {
  // expected-remark @+1 {{convert-moe-to-moek: not lowered: N (196) must be a multiple of 8 (the epilogue stores column pairs of 8-column groups)}}
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x512xbf16>, tensor<8x196x512xbf16>, tensor<9xi32>) -> tensor<?x196xbf16>
  return %y : tensor<?x196xbf16>
}

// -----

// Auto tile order: row blocks of 128 x 16384 bf16 take 4 MiB each, so groups
// of 4 keep a group's rows within 16 MiB of L2.
// CHECK-LABEL: func.func @lower_long_rows
// CHECK:         moek.grouped_tile {{.*}}row_group = 4 : i64
func.func @lower_long_rows(%x: tensor<?x16384xbf16>, %w: tensor<8x128x16384xbf16>, %offsets: tensor<9xi32>) -> tensor<?x128xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x16384xbf16>, tensor<8x128x16384xbf16>, tensor<9xi32>) -> tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}
