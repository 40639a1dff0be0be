// The block-scaled MMA of sm_100a's FP8 x MXFP4 fused kernel: warpgroup 0
// copies 64 e4m3 token rows (tile 0) and 128 packed e2m1 weight rows (tile
// 2, 64 bytes a row); warpgroup 1, per K block, stages the weights in
// tcgen05's 4-bit form (moek.unpack_fp4: tile 1, rows permuted) with their
// UE8M0 scales, multiplies them (M = 128) by the 64 token rows (N = 64)
// with the scales applied by the tensor cores (moek.mma_block_scaled),
// reads both 64-row halves back, promotes them by the tokens' scales per
// column, and after the K loop turns the product back into a 64 x 128
// accumulator through shared memory, which it stores.
// Lowered for sm_100a:
//  * tensor memory: 64 columns of D and 4 + 4 of scale factors, all 128
//    lanes, the warpgroup's range rounded up to 96 columns (128
//    allocated);
//  * moek.unpack_fp4: four 16-byte loads of the packed row, eight 16-byte
//    stores (8 bytes of values, 8 of zeros each), the scale word loaded
//    from global memory and stored, 127 x 4 for B, a proxy fence, bar.sync
//    8 over 128 threads;
//  * moek.mma_block_scaled: two tcgen05.cp .32x128b.warpx4 (A's and B's
//    scales, from the 1 KB block: a descriptor of no swizzle and 128-byte
//    8-row groups), four tcgen05.mma .kind::mxf8f6f4.block_scale.block32
//    with the instruction descriptors of scale ids 0..3 (N = 64, M = 128,
//    E2M1 x E4M3, UE8M0), one commit;
//  * each half read back with eight tcgen05.ld .16x256b.x1 (16 in all).
// The PTX assembles for sm_100a without spills; on sm_90a the MMA is
// rejected.
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %s -o %t.mlir
// RUN: FileCheck %s --check-prefix=IR --input-file=%t.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_100a %t.mlir -o %t.ptx
// RUN: FileCheck %s --input-file=%t.ptx --implicit-check-not=wgmma
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: FileCheck %s --check-prefix=SF --input-file=%t.ptx
// RUN: not moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o /dev/null 2>&1 | FileCheck %s --check-prefix=SM90
// RUN: awk '/tcgen05[.]cp[.]cta_group::1[.]32x128b[.]warpx4/ {cp++} /tcgen05[.]mma[.]cta_group::1[.]kind::mxf8f6f4[.]block_scale[.]block32/ {m++} /tcgen05[.]commit/ {c++} /tcgen05[.]ld[.]sync[.]aligned[.]16x256b[.]x1[.]b32/ {ld++} /st[.]shared[.]v2[.]b64/ {st++} END {print "cp", cp+0; print "mma", m+0; print "commit", c+0; print "ld", ld+0; print "chunk-stores", st+0}' %t.ptx | FileCheck %s --check-prefix=COUNTS
// COUNTS:      cp 2{{$}}
// COUNTS-NEXT: mma 4{{$}}
// COUNTS-NEXT: commit 1{{$}}
// COUNTS-NEXT: ld 16{{$}}
// COUNTS-NEXT: chunk-stores 8{{$}}

// IR-LABEL: llvm.func @mma_block_scaled
// IR-SAME:    moek.tmem = {bars = @mma_block_scaled_moek_mma_bars, columns = 128 : i64, per_warpgroup = 96 : i64, slot = @mma_block_scaled_moek_tmem}
// IR-COUNT-2: nvvm.tcgen05.cp %{{.+}}, %{{.+}} {multicast = #nvvm.tcgen05_cp_multicast<warpx4>, shape = #nvvm.tcgen05_cp_shape<shape_32x128b>}
// IR-COUNT-4: nvvm.tcgen05.mma.block_scale {{.*}}blockScale = #nvvm.tcgen05_mma_block_scale<block32>{{.*}}kind = #nvvm.block_scale_kind<mxf8f6f4>

// CHECK-LABEL: .entry mma_block_scaled
// CHECK:       tcgen05.alloc.cta_group::1.sync.aligned.shared::cta.b32 [mma_block_scaled_moek_tmem], {{%r[0-9]+}};
// The staging: the row's 64 packed bytes, its scale word, B's unit scales.
// (LLVM pairs the words: each 16-value group's two words, then zero.)
// CHECK:       ld.shared.v2.b64
// CHECK:       st.shared.v2.b64 {{.*}}, {{[{]}}%rd{{[0-9]+}}, [[ZERO:%rd[0-9]+]]};
// CHECK:       st.shared.v2.b64 {{.*}}, {{[{]}}%rd{{[0-9]+}}, [[ZERO]]};
// CHECK:       st.shared.{{u|b}}32 {{.*}}, 2139062143;
// CHECK:       fence.proxy.async.shared::cta;
// CHECK:       barrier.sync 8, 128;
// The issue: the scales into tensor memory, then the K steps, ids 0..3.
// CHECK:       tcgen05.cp.cta_group::1.32x128b.warpx4 [[[BASE:%r[0-9]+]]+64], {{%rd[0-9]+}};
// CHECK-NEXT:  tcgen05.cp.cta_group::1.32x128b.warpx4 [[[BASE]]+68], {{%rd[0-9]+}};
// CHECK:       mov.b32 [[D0:%r[0-9]+]], 143655552;
// CHECK-NEXT:  tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32.collector::a::discard [[[BASE]]], {{%rd[0-9]+}}, {{%rd[0-9]+}}, [[D0]], [[[SFA:%r[0-9]+]]], [[[SFB:%r[0-9]+]]], {{%p[0-9]+}};
// CHECK:       mov.b32 [[D1:%r[0-9]+]], 680526480;
// CHECK-NEXT:  tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32.collector::a::discard [[[BASE]]], {{%rd[0-9]+}}, {{%rd[0-9]+}}, [[D1]], [[[SFA:%r[0-9]+]]], [[[SFB:%r[0-9]+]]], {{%p[0-9]+}};
// CHECK:       mov.b32 [[D2:%r[0-9]+]], 1217397408;
// CHECK-NEXT:  tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32.collector::a::discard [[[BASE]]], {{%rd[0-9]+}}, {{%rd[0-9]+}}, [[D2]], [[[SFA:%r[0-9]+]]], [[[SFB:%r[0-9]+]]], {{%p[0-9]+}};
// CHECK:       mov.b32 [[D3:%r[0-9]+]], 1754268336;
// CHECK-NEXT:  tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32.collector::a::discard [[[BASE]]], {{%rd[0-9]+}}, {{%rd[0-9]+}}, [[D3]], [[[SFA:%r[0-9]+]]], [[[SFB:%r[0-9]+]]], {{%p[0-9]+}};
// CHECK:       tcgen05.commit.cta_group::1.mbarrier::arrive::one.shared::cluster.b64
// CHECK:       tcgen05.dealloc.cta_group::1.sync.aligned.b32
// The scale factors' columns: A's at D + 64, B's at D + 68.
// SF:          add.s32 [[SFB:%r[0-9]+]], [[D:%r[0-9]+]], 68;
// SF-NEXT:     add.s32 [[SFA:%r[0-9]+]], [[D]], 64;
// SF:          tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32.collector::a::discard [[[D]]], {{%rd[0-9]+}}, {{%rd[0-9]+}}, {{%r[0-9]+}}, [[[SFA]]], [[[SFB]]], {{%p[0-9]+}};
// PTXAS: Compiling entry function 'mma_block_scaled' for 'sm_100a'
// SM90: error: 'moek.mma_block_scaled' op is a block-scaled tcgen05.mma: sm_100a only

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xi8, 3>, memref<128x128xf4E2M1FN, 3>]>
gpu.module @kernels {
  llvm.func @mma_block_scaled(
      %tmap_x: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %tmap_w: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %ws: !llvm.ptr<1>, %xs: !llvm.ptr<1>, %out: !llvm.ptr<1>)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 256, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c37 = arith.constant 37 : index
    %c128 = arith.constant 128 : index
    %bytes = arith.constant 16384 : index
    %ring = moek.ring_alloc consumers(128) : !ring
    %buf = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
    %sf = moek.smem_alloc {bytes = 1024 : i64} : !llvm.ptr<3>
    moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
      %leader = moek.elect_one
      scf.if %leader {
        scf.for %ks = %c0 to %c2 step %c1 {
          %k = arith.muli %ks, %c128 : index
          moek.ring_acquire %ring[%ks] : !ring
          moek.ring_expect %ring[%ks] bytes(%bytes) : !ring
          moek.tma_load %tmap_x[%k, %c0] -> %ring[%ks] tile 0 : !llvm.ptr, !ring
          moek.tma_load %tmap_w[%k, %c0] -> %ring[%ks] tile 2 : !llvm.ptr, !ring
        }
      }
    }
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x64xf32>
      %s0 = moek.load_col_scales %xs[%c0, %c0] row_limit(%c37) {acc = !moek.acc<64x64xf32>, ld = 2 : i64} : !llvm.ptr<1> -> vector<16xf32>
      %accs:3 = scf.for %ks = %c0 to %c2 step %c1 iter_args(%a0 = %zero, %a1 = %zero, %s = %s0) -> (!moek.acc<64x64xf32>, !moek.acc<64x64xf32>, vector<16xf32>) {
        moek.ring_wait %ring[%ks] : !ring
        moek.unpack_fp4 %ring[%ks] from 2 to 1 scales(%ws[%c0, %ks]) sf(%sf) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 128 : i64} : !ring
        %p:2 = moek.mma_block_scaled %ring[%ks] a(1) b(0) sf(%sf) : !ring, !moek.acc<64x64xf32>, !moek.acc<64x64xf32>
        %next = moek.load_col_scales %xs[%c0, %c1] row_limit(%c37) {acc = !moek.acc<64x64xf32>, ld = 2 : i64} : !llvm.ptr<1> -> vector<16xf32>
        %q0 = moek.mma_wait %p#0 pending(0) : !moek.acc<64x64xf32>
        %q1 = moek.mma_wait %p#1 pending(0) : !moek.acc<64x64xf32>
        moek.ring_release %ring[%ks] : !ring
        %b0 = moek.mma_promote_cols %a0, %q0 scales(%s) : !moek.acc<64x64xf32>, vector<16xf32>
        %b1 = moek.mma_promote_cols %a1, %q1 scales(%s) : !moek.acc<64x64xf32>, vector<16xf32>
        scf.yield %b0, %b1, %next : !moek.acc<64x64xf32>, !moek.acc<64x64xf32>, vector<16xf32>
      }
      moek.acc_store_transposed %accs#0, %buf {col = 0 : i64, cols = 128 : i64} : !moek.acc<64x64xf32>, !llvm.ptr<3>
      moek.acc_store_transposed %accs#1, %buf {col = 64 : i64, cols = 128 : i64} : !moek.acc<64x64xf32>, !llvm.ptr<3>
      moek.barrier_sync id(8) threads(128)
      %acc = moek.acc_load_smem %buf {rows = 64 : i64} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      moek.barrier_sync id(8) threads(128)
      moek.store_acc %acc, %out[%c0, %c0] row_limit(%c37) {element_type = bf16, ld = 128 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
}
