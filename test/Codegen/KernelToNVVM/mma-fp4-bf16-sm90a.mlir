// A tile of few tokens multiplied transposed in the bf16 x FP4 fused
// kernel's small tiles: warpgroup 0 copies 128 bf16 token rows (tile 0, 64
// values a row, 128B swizzle) and 128 packed e2m1 weight rows (tile 1, 32
// bytes a row); warpgroup 1 loads its fragment rows' scales of the first
// slice, then per K slice multiplies each 64-row block of weights (A from
// registers, expanded to bf16) by the first 16 token rows into its running
// accumulators, loading the next slice's scales meanwhile, waits and
// releases the stage; after the K loop it stores both products transposed
// (no row scale) and loads them back as one 64 x 128 accumulator (rows past
// 16 zero), which it stores.
// Lowered for sm_90a:
//  * moek.load_fp4_slice_scales: four 16-bit loads (MXFP4: two UE8M0 bytes
//    a row and slice), rows row + 64 f + 16 warp + lane / 4 (+ 8);
//    NVFP4 (the second kernel): four 32-bit loads;
//  * NVFP4: lane q converts block q's e4m3 scale of each of its four rows
//    (times 2^117) and the quad exchanges them (shfl.sync.idx, width 4),
//    so each pair takes one multiplication (32, and two for each of the
//    four scales);
//  * moek.mma_fp4_bf16: two 16-byte shared loads per row (its 32 bytes),
//    byte lane % 4 of each word by one prmt (its selector 0x4440 | lane % 4
//    in a register), each pair placed by e2m1PairTiny; MXFP4: a branch on
//    the thread's largest scale (<= 128: one multiplication by 2^(s - 1),
//    else by 2^126 and the scale); one wgmma.fence, then per K step and
//    block wgmma m64n16k16 bf16 with four A registers, tile 0's descriptor
//    (+2 a step) and scale-d true (the running accumulators); one commit;
//  * moek.acc_store_transposed without row_max: 8 stores each, no
//    multiplication.
// The PTX assembles for sm_90a without spills. For sm_100a moek.mma_fp4_bf16
// is rejected (tcgen05 takes A from shared or tensor memory).
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.90.mlir
// RUN: moe-translate --moe-to-ptx %t.90.mlir -o %t.90.ptx
// RUN: FileCheck %s --input-file=%t.90.ptx
// RUN: FileCheck %s --check-prefix=LOOP --input-file=%t.90.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.ptx -o %t.90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: not moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %s -o /dev/null 2>&1 | FileCheck %s --check-prefix=SM100
// RUN: awk '/wgmma[.]mma_async[.]sync[.]aligned[.]m64n16k16[.]f32[.]bf16[.]bf16/ {w++} /wgmma[.]fence/ {f++} /wgmma[.]commit_group/ {c++} /prmt[.]b32/ {p++} /ld[.]shared[.]v4[.]b32/ {q++} /ld[.]global[.]u16/ {h++} /ld[.]global[.]b16/ {h++} /st[.]shared[.]f32/ {st++} /st[.]shared[.]b32/ {st++} END {print "wgmma", w+0; print "fence", f+0; print "commit", c+0; print "prmt", p+0; print "packed-loads", q+0; print "scale-loads", h+0; print "transposed-stores", st+0}' %t.90.ptx | FileCheck %s --check-prefix=COUNTS
// COUNTS:      wgmma 8{{$}}
// COUNTS-NEXT: fence 1{{$}}
// COUNTS-NEXT: commit 1{{$}}
// COUNTS-NEXT: prmt 32{{$}}
// COUNTS-NEXT: packed-loads 8{{$}}
// COUNTS-NEXT: scale-loads 8{{$}}
// COUNTS-NEXT: transposed-stores 16{{$}}
// NVFP4: the scales as 32-bit words, no branch on their size.
// RUN: sed -e 's/scale_cols = 64 : i64, scale_rows = 128 : i64}/nvfp4, scale_cols = 128 : i64, scale_rows = 128 : i64}/' -e 's/scales(%w) :/scales(%w) {nvfp4} :/' %s | moe-opt --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx -o %t.90.nv.ptx
// RUN: FileCheck %s --check-prefix=NV --input-file=%t.90.nv.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.nv.ptx -o %t.90.nv.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: .entry mma_fp4_bf16
// The first slice's scales, before the loop.
// CHECK:       ld.global{{(.nc)?}}.{{u|b}}16
// The MMAs of the four K steps, the running accumulators (scale-d true).
// CHECK:       wgmma.fence.sync.aligned;
// CHECK:       setp.ne.b32 p, {{%r[0-9]+}}, 0;
// CHECK-NEXT:  wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 {{[{](%r[0-9]+, ){7}%r[0-9]+}}}, {{[{]}}%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, %rd{{[0-9]+}}, p, 1, 1, 0;
// CHECK:       wgmma.commit_group.sync.aligned;
// CHECK:       wgmma.wait_group.sync.aligned 0;
// CHECK:       barrier.sync 10, 128;
// CHECK:       barrier.sync 10, 128;
// (The loop's first block comes after its MMAs in the PTX's block order.)
// LOOP-DAG:    ld.shared.v4.b32 {{.*}}+16384];
// LOOP-DAG:    ld.shared.v4.b32 {{.*}}+16400];
// LOOP-DAG:    prmt.b32 {{%r[0-9]+}}, {{%r[0-9]+}}, 0, {{%r[0-9]+}};
// MXFP4: the branch on the thread's largest scale, 2^(s - 1) = (s + 126)
// in both bf16 exponent fields.
// LOOP-DAG:    setp.gt.u32 {{%p[0-9]+}}, {{%r[0-9]+}}, 128;
// LOOP-DAG:    mad.lo.s32 {{%r[0-9]+}}, {{%r[0-9]+}}, 8388736, 1056980736;
// NV-LABEL:    .entry mma_fp4_bf16
// NV:          ld.global{{(.nc)?}}.{{u|b}}32
// NV-NOT:      setp.gt.u32 {{%p[0-9]+}}, {{%r[0-9]+}}, 128;
// NV:          wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16
// Each lane's block scale of its four rows, times 2^117, exchanged within
// the quad (width 4: c = 0x1c1f): 16 shuffles; one multiplication a pair.
// RUN: grep -c "shfl.sync.idx.b32 .*, 7199, -1;" %t.90.nv.ptx | FileCheck %s --check-prefix=NV-SHFL
// NV-SHFL: {{^16$}}
// RUN: grep -c "mul.rn.bf16x2" %t.90.nv.ptx | FileCheck %s --check-prefix=NV-MUL
// NV-MUL: {{^40$}}
// PTXAS: Compiling entry function 'mma_fp4_bf16' for 'sm_90a'
// SM100: error: 'moek.mma_fp4_bf16' op takes its A operand from registers (wgmma): sm_90a only

!ring = !moek.ring<2, [memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
gpu.module @kernels {
  llvm.func @mma_fp4_bf16(
      %tmap_x: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %tmap_w: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %ws: !llvm.ptr<1>, %out: !llvm.ptr<1>)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 256, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c11 = arith.constant 11 : index
    %c64 = arith.constant 64 : index
    %bytes = arith.constant 20480 : index
    %ring = moek.ring_alloc consumers(128) : !ring
    %buf = moek.smem_alloc {bytes = 8192 : i64} : !llvm.ptr<3>
    moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
      %leader = moek.elect_one
      scf.if %leader {
        scf.for %ks = %c0 to %c2 step %c1 {
          %k = arith.muli %ks, %c64 : index
          moek.ring_acquire %ring[%ks] : !ring
          moek.ring_expect %ring[%ks] bytes(%bytes) : !ring
          moek.tma_load %tmap_x[%k, %c0] -> %ring[%ks] tile 0 : !llvm.ptr, !ring
          moek.tma_load %tmap_w[%k, %c0] -> %ring[%ks] tile 1 : !llvm.ptr, !ring
        }
      }
    }
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %zero = moek.mma_zero : !moek.acc<64x16xf32>
      %w0 = moek.load_fp4_slice_scales %ws[%c0, %c0] {scale_cols = 64 : i64, scale_rows = 128 : i64} : !llvm.ptr<1> -> vector<4xi32>
      %accs:3 = scf.for %ks = %c0 to %c2 step %c1 iter_args(%a0 = %zero, %a1 = %zero, %w = %w0) -> (!moek.acc<64x16xf32>, !moek.acc<64x16xf32>, vector<4xi32>) {
        moek.ring_wait %ring[%ks] : !ring
        %p:2 = moek.mma_fp4_bf16 %ring[%ks] packed(1, %c0) b(0) acc(%a0, %a1) scales(%w) : !ring, !moek.acc<64x16xf32>, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
        %next = moek.load_fp4_slice_scales %ws[%c0, %c1] {scale_cols = 64 : i64, scale_rows = 128 : i64} : !llvm.ptr<1> -> vector<4xi32>
        %q0 = moek.mma_wait %p#0 pending(0) : !moek.acc<64x16xf32>
        %q1 = moek.mma_wait %p#1 pending(0) : !moek.acc<64x16xf32>
        moek.ring_release %ring[%ks] : !ring
        scf.yield %q0, %q1, %next : !moek.acc<64x16xf32>, !moek.acc<64x16xf32>, vector<4xi32>
      }
      moek.acc_store_transposed %accs#0, %buf {col = 0 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
      moek.acc_store_transposed %accs#1, %buf {col = 64 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
      moek.barrier_sync id(10) threads(128)
      %acc = moek.acc_load_smem %buf {rows = 16 : i64} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      moek.barrier_sync id(10) threads(128)
      moek.store_acc %acc, %out[%c0, %c0] row_limit(%c11) {element_type = bf16, ld = 128 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
}
