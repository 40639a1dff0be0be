// A tile of few tokens multiplied transposed (the FP8 x MXFP4 fused
// kernel's small tiles): warpgroup 0 copies 64 FP8 token rows (tile 0, K in
// moek.mma_fp4's order) and 128 packed e2m1 weight rows (tile 1, 64 bytes a
// row, 64-byte swizzle); warpgroup 1 takes its fragment rows' largest block
// scales, then per K block their four block scales and the 16 tokens'
// scales, multiplies each 64-row block of weights (A from registers) by the
// first 16 token rows, waits, promotes with the tokens' scales; after the
// K loop it stores both products transposed, each weight row's column scale
// applied, and loads them back as one 64 x 128 accumulator (rows past 16
// zero), which it stores.
// Lowered for sm_90a:
//  * moek.fp4_fragment_row_max: rows row + 16 warp + lane / 4 (+ 8), the
//    quad's four lanes each every fourth 16-byte piece of the 224 scale
//    bytes, four a row in flight (one iteration of a loop LLVM does not
//    unroll), then shfl.bfly 1 and 2 for the maximum
//    (two ops x two rows: 8 shuffles);
//  * moek.fp4_fragment_tables: per row the table of block q (entry
//    min(m - s_q, 19), 8 bytes) from the tables' copy in shared memory
//    (160 bytes, written by threads 0-39 at the kernel's entry, then
//    bar.sync 0);
//  * moek.mma_fp4: one 16-byte shared load per row (block lane % 4, chunk
//    q ^ (r / 2 % 4)), each packed word expanded by the four prmt of
//    moek.dequant_fp4_fp8; per K step both blocks' registers, one
//    wgmma.fence (steps_per_fence = 1; with 4, one fence for all), and
//    wgmma m64n16k32 e4m3 per block with four A registers and tile 0's
//    descriptor (+2 a step), the first step with scale-d false; one commit;
//  * moek.load_col_scales: columns 8j + 2 (lane % 4) + e, masked past the
//    row limit; moek.mma_promote_cols: 8 fma a block;
//  * moek.acc_store_transposed: 16 stores, times 2^(m - 133);
//    moek.acc_load_smem {rows = 16}: 64 loads, rows past 16 selected 0.
// The PTX assembles for sm_90a without spills. For sm_100a moek.mma_fp4 is
// rejected (tcgen05 takes A from shared or tensor memory).
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.90.mlir
// RUN: moe-translate --moe-to-ptx %t.90.mlir -o %t.90.ptx
// RUN: FileCheck %s --input-file=%t.90.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.ptx -o %t.90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: not moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %s -o /dev/null 2>&1 | FileCheck %s --check-prefix=SM100
// RUN: awk '/wgmma[.]mma_async[.]sync[.]aligned[.]m64n16k32[.]f32[.]e4m3[.]e4m3/ {w++} /wgmma[.]fence/ {f++} /wgmma[.]commit_group/ {c++} /shfl[.]sync[.]bfly/ {s++} /prmt[.]b32/ {p++} /ld[.]shared[.]v4[.]b32/ {q++} /fma[.]rn[.]f32/ {fm++} /ld[.]shared[.]v2[.]b32/ {t++} /__moe_e2m1_to_e4m3_shared[[]160[]]/ {st++} /ld[.]global[.]v4[.]b32/ {g++} END {print "wgmma", w+0; print "fence", f+0; print "commit", c+0; print "shfl", s+0; print "prmt", p+0; print "packed-loads", q+0; print "fma", fm+0; print "tables", t+0; print "shared-table", st+0; print "scale-pieces", g+0}' %t.90.ptx | FileCheck %s --check-prefix=COUNTS
// COUNTS:      wgmma 8{{$}}
// COUNTS-NEXT: fence 4{{$}}
// COUNTS-NEXT: commit 1{{$}}
// COUNTS-NEXT: shfl 8{{$}}
// COUNTS-NEXT: prmt 64{{$}}
// COUNTS-NEXT: packed-loads 4{{$}}
// COUNTS-NEXT: fma 16{{$}}
// COUNTS-NEXT: tables 4{{$}}
// COUNTS-NEXT: shared-table 1{{$}}
// COUNTS-NEXT: scale-pieces 16{{$}}
// With steps_per_fence = 4: one fence before all eight wgmma.
// RUN: sed 's/steps_per_fence = 1/steps_per_fence = 4/' %s | moe-opt --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx -o %t.90.f4.ptx
// RUN: grep -c "wgmma.fence" %t.90.f4.ptx | FileCheck %s --check-prefix=FENCE4
// FENCE4: {{^}}1{{$}}
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.f4.ptx -o %t.90.f4.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: .entry mma_fp4
// The tables' shared copy first: threads below 40 copy a word each.
// CHECK:       mov.u32 {{%r[0-9]+}}, %tid.x;
// CHECK:       setp.gt.u32 {{%p[0-9]+}}, {{%r[0-9]+}}, 39;
// CHECK:       ld.global{{(.nc)?}}.b32
// CHECK:       st.shared.b32
// CHECK:       bar.sync 0;
// CHECK:       shfl.sync.bfly.b32 {{.+}}, 1, 31, -1;
// CHECK:       shfl.sync.bfly.b32 {{.+}}, 2, 31, -1;
// The first K step: a fresh product (scale-d false), A from four registers.
// CHECK:       wgmma.fence.sync.aligned;
// CHECK:       setp.ne.b32 p, {{%r[0-9]+}}, 0;
// CHECK-NEXT:  wgmma.mma_async.sync.aligned.m64n16k32.f32.e4m3.e4m3 {{[{](%r[0-9]+, ){7}%r[0-9]+}}}, {{[{]}}%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, %rd{{[0-9]+}}, p, 1, 1;
// CHECK:       wgmma.commit_group.sync.aligned;
// CHECK:       wgmma.wait_group.sync.aligned 0;
// CHECK:       barrier.sync 8, 128;
// CHECK:       barrier.sync 8, 128;
// PTXAS: Compiling entry function 'mma_fp4' for 'sm_90a'
// SM100: error: 'moek.mma_fp4' op takes its A operand from registers (wgmma): sm_90a only

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>
gpu.module @kernels {
  llvm.func @mma_fp4(
      %tmap_x: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %tmap_w: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %xs: !llvm.ptr<1>, %ws: !llvm.ptr<1>, %out: !llvm.ptr<1>)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 256, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c11 = arith.constant 11 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %bytes = arith.constant 16384 : index
    %ring = moek.ring_alloc consumers(128) : !ring
    %buf = moek.smem_alloc {bytes = 8192 : i64} : !llvm.ptr<3>
    moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
      %leader = moek.elect_one
      scf.if %leader {
        scf.for %kb = %c0 to %c2 step %c1 {
          %kx = arith.muli %kb, %c128 : index
          %kw = arith.muli %kb, %c64 : index
          moek.ring_acquire %ring[%kb] : !ring
          moek.ring_expect %ring[%kb] bytes(%bytes) : !ring
          moek.tma_load %tmap_x[%kx, %c0] -> %ring[%kb] tile 0 : !llvm.ptr, !ring
          moek.tma_load %tmap_w[%kw, %c0] -> %ring[%kb] tile 1 : !llvm.ptr, !ring
        }
      }
    }
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x16xf32>
      %m0 = moek.fp4_fragment_row_max %ws[%c0] {scale_cols = 224 : i64, scale_rows = 128 : i64} : !llvm.ptr<1> -> vector<2xi32>
      %m1 = moek.fp4_fragment_row_max %ws[%c64] {scale_cols = 224 : i64, scale_rows = 128 : i64} : !llvm.ptr<1> -> vector<2xi32>
      %accs:2 = scf.for %kb = %c0 to %c2 step %c1 iter_args(%a0 = %zero, %a1 = %zero) -> (!moek.acc<64x16xf32>, !moek.acc<64x16xf32>) {
        %w0 = moek.load_fp4_fragment_scales %ws[%c0, %kb] {scale_cols = 224 : i64, scale_rows = 128 : i64} : !llvm.ptr<1> -> vector<2xi32>
        %w1 = moek.load_fp4_fragment_scales %ws[%c64, %kb] {scale_cols = 224 : i64, scale_rows = 128 : i64} : !llvm.ptr<1> -> vector<2xi32>
        %t0 = moek.fp4_fragment_tables %w0, %m0 : vector<4xi32>
        %t1 = moek.fp4_fragment_tables %w1, %m1 : vector<4xi32>
        %s = moek.load_col_scales %xs[%c0, %kb] row_limit(%c11) {acc = !moek.acc<64x16xf32>, ld = 2 : i64} : !llvm.ptr<1> -> vector<4xf32>
        moek.ring_wait %ring[%kb] : !ring
        %p:2 = moek.mma_fp4 %ring[%kb] packed(1, %c0) b(0) tables(%t0, %t1) {steps_per_fence = 1 : i64} : !ring, !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
        %q0 = moek.mma_wait %p#0 pending(0) : !moek.acc<64x16xf32>
        %q1 = moek.mma_wait %p#1 pending(0) : !moek.acc<64x16xf32>
        moek.ring_release %ring[%kb] : !ring
        %b0 = moek.mma_promote_cols %a0, %q0 scales(%s) : !moek.acc<64x16xf32>, vector<4xf32>
        %b1 = moek.mma_promote_cols %a1, %q1 scales(%s) : !moek.acc<64x16xf32>, vector<4xf32>
        scf.yield %b0, %b1 : !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
      }
      moek.acc_store_transposed %accs#0, %buf row_max(%m0 : vector<2xi32>) {col = 0 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
      moek.acc_store_transposed %accs#1, %buf row_max(%m1 : vector<2xi32>) {col = 64 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
      moek.barrier_sync id(8) threads(128)
      %acc = moek.acc_load_smem %buf {rows = 16 : i64} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      moek.barrier_sync id(8) threads(128)
      moek.store_acc %acc, %out[%c0, %c0] row_limit(%c11) {element_type = bf16, ld = 128 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
}
