// MXFP4 weights expanded to e4m3 for FP8 MMAs (the FP8 kernel's MXFP4
// path), in a small kernel: warpgroup 0 copies the 64 FP8 rows (tile 0) and
// the packed 128 x 128 e2m1 weights (tile 2, 64 bytes a row); warpgroup 1
// loads each row's four UE8M0 scales, expands tile 2 into tile 1 (one weight
// row per thread), multiplies and promotes with row and column scales.
// Lowered for sm_90a: moek.load_fp4_scales is one aligned i32 load of row
// min(row + t, scale_rows - 1); moek.dequant_fp4_fp8 takes m = the largest
// of the four scales, stores the column scale 2^(m - 133) (2^-127 from the
// bits 0x00400000 when m = 0, NaN 0x7FC00000 when m = 255) at the
// fragment-ordered slot of column t (lane groups 36 floats apart), then per
// 32-value block looks up 8 e4m3 bytes of the 20-entry table (entry
// min(m - s, 19)) and expands each packed word with two prmt pairs: the
// magnitudes (nibbles & 0x7777 into the table's two words) and the signs
// (selectors 0xD9C8 / 0xFBEA: bit 7 of bytes of w << 4 and w, masked with
// 0x80808080); it ends with a proxy fence and named barrier 8 over the 128
// threads, before the MMA reads tile 1. moek.mma_promote's col_scales loads
// the lane's column scales four at a time from the same buffer (8 loads for
// 64 values) into the factor of each fma. The PTX assembles for sm_90a and,
// lowered for sm_100a (tcgen05), for sm_100a, without spills.
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.90.mlir
// RUN: FileCheck %s --input-file=%t.90.mlir
// RUN: moe-translate --moe-to-ptx %t.90.mlir -o %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,PTX90 --input-file=%t.90.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.ptx -o %t.90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS90 --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %s -o %t.100.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_100a %t.100.mlir -o %t.100.ptx
// RUN: FileCheck %s --check-prefixes=PTX,PTX100 --input-file=%t.100.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.100.ptx -o %t.100.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS100 --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// Each table load (one per 32-value block and iteration, however many
// blocks an iteration expands) feeds 16 prmt: 4 words, each with a
// magnitude prmt and a sign prmt (0xD9C8 or 0xFBEA) per half.
// RUN: awk '/ld.global.nc.v2.b32/ {t++} /prmt.b32/ {p++} /prmt.b32.*, 0xd9c8U;/ {lo++} /prmt.b32.*, 0xfbeaU;/ {hi++} END {print "tables", t+0; print "prmt", p+0; print "sign-lo", lo+0; print "sign-hi", hi+0}' %t.90.ptx | FileCheck %s --check-prefix=EXPANSION
// RUN: awk '/ld.global.nc.v2.b32/ {t++} /prmt.b32/ {p++} /prmt.b32.*, 0xd9c8U;/ {lo++} /prmt.b32.*, 0xfbeaU;/ {hi++} END {print "tables", t+0; print "prmt", p+0; print "sign-lo", lo+0; print "sign-hi", hi+0}' %t.100.ptx | FileCheck %s --check-prefix=EXPANSION
// EXPANSION:      tables [[#%u,TABLES:]]{{$}}
// EXPANSION-NEXT: prmt [[#mul(TABLES,16)]]{{$}}
// EXPANSION-NEXT: sign-lo [[#mul(TABLES,4)]]{{$}}
// EXPANSION-NEXT: sign-hi [[#mul(TABLES,4)]]{{$}}

// The table: entry d (8 bytes) is e4m3(m * 2^(6 - d)) for the e2m1
// magnitudes m = 0, 0.5, 1, 1.5, 2, 3, 4, 6 (entry 0: 0, 32, ..., 384;
// from entry 12 on, values below 2^-6 become subnormals, rounded to nearest
// even).
// CHECK:       llvm.mlir.global internal constant @__moe_e2m1_to_e4m3(dense<"0x0060686C7074787C00586064686C70740050585C6064686C00485054585C60640040484C5054585C00384044484C50540030383C4044484C00283034383C40440020282C3034383C00182024282C30340010181C2024282C00081014181C20240004080C1014181C00020406080C1014000102030406080C00000102020304060000000101020203000000000001010200000000000000010000000000000000"> : tensor<160xi8>) {addr_space = 1 : i32, alignment = 8 : i64} : !llvm.array<160 x i8>
// CHECK-LABEL: llvm.func @fp4_fp8
// CHECK-DAG:   %[[SEL_LO:.+]] = llvm.mlir.constant(55752 : i32) : i32
// CHECK-DAG:   %[[SEL_HI:.+]] = llvm.mlir.constant(64490 : i32) : i32
// CHECK-DAG:   %[[NIBBLES:.+]] = llvm.mlir.constant(30583 : i32) : i32
// CHECK-DAG:   %[[SIGN_MASK:.+]] = llvm.mlir.constant(-2139062144 : i32) : i32
// CHECK-DAG:   %[[LAST_ENTRY:.+]] = llvm.mlir.constant(19 : i32) : i32
// CHECK-DAG:   %[[TABLE_ADDR:.+]] = llvm.mlir.addressof @__moe_e2m1_to_e4m3 : !llvm.ptr<1>
// CHECK-DAG:   %[[STRIDE:.+]] = llvm.mlir.constant(36 : i32) : i32
// CHECK-DAG:   %[[TWO_M6:.+]] = llvm.mlir.constant(1.562500e-02 : f32) : f32
// CHECK-DAG:   %[[NAN:.+]] = llvm.mlir.constant(2143289344 : i32) : i32
// CHECK-DAG:   %[[TWO_M127:.+]] = llvm.mlir.constant(4194304 : i32) : i32
// CHECK-DAG:   %[[BAR:.+]] = llvm.mlir.constant(8 : i32) : i32
// CHECK-DAG:   %[[C64:.+]] = llvm.mlir.constant(64 : i32) : i32
// CHECK-DAG:   %[[C128:.+]] = llvm.mlir.constant(128 : i32) : i32
// CHECK-DAG:   %[[LAST_ROW:.+]] = llvm.mlir.constant(127 : i64) : i64
// CHECK-DAG:   %[[WORDS:.+]] = llvm.mlir.constant(2 : i64) : i64
// CHECK-DAG:   %[[TILE1:.+]] = llvm.mlir.constant(8192 : i64) : i64
// CHECK-DAG:   %[[TILE2:.+]] = llvm.mlir.constant(24576 : i64) : i64
// CHECK-DAG:   %[[TID:.+]] = nvvm.read.ptx.sreg.tid.x : i32
// The producer.
// CHECK:       nvvm.cp.async.bulk.tensor.shared.cluster.global
// moek.load_fp4_scales: word (min(row + t, 127) * 8 + 4 kb) / 4.
// CHECK:       %[[T:.+]] = llvm.sub %[[TID]], %[[C128]] : i32
// CHECK-NEXT:  %[[T64:.+]] = llvm.zext %[[T]] : i32 to i64
// CHECK-NEXT:  %[[ROW:.+]] = llvm.add %[[T64]], %{{.+}} : i64
// CHECK-NEXT:  %[[CLAMPED:.+]] = llvm.intr.umin(%[[ROW]], %[[LAST_ROW]]) : (i64, i64) -> i64
// CHECK-NEXT:  %[[ROW_WORDS:.+]] = llvm.mul %[[CLAMPED]], %[[WORDS]] : i64
// CHECK-NEXT:  %[[WORD_AT:.+]] = llvm.add %[[ROW_WORDS]], %{{.+}} : i64
// CHECK-NEXT:  %[[WORD_PTR:.+]] = llvm.getelementptr %arg3[%[[WORD_AT]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i32
// CHECK-NEXT:  %[[W:.+]] = llvm.load %[[WORD_PTR]] {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// moek.dequant_fp4_fp8, after the stage's wait: tile 2 into tile 1.
// CHECK:       nvvm.mbarrier.try_wait.parity
// CHECK-NEXT:  %[[STAGE:.+]] = llvm.mul %{{.+}}, %{{.+}} : i64
// CHECK-NEXT:  %[[SRC_AT:.+]] = llvm.add %[[STAGE]], %[[TILE2]] : i64
// CHECK-NEXT:  %[[SRC:.+]] = llvm.getelementptr %{{.+}}[%[[SRC_AT]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[DST_AT:.+]] = llvm.add %[[STAGE]], %[[TILE1]] : i64
// CHECK-NEXT:  %[[DST:.+]] = llvm.getelementptr %{{.+}}[%[[DST_AT]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK:       %[[M01:.+]] = llvm.intr.umax(%{{.+}}, %{{.+}}) : (i32, i32) -> i32
// CHECK-NEXT:  %[[M23:.+]] = llvm.intr.umax(%{{.+}}, %{{.+}}) : (i32, i32) -> i32
// CHECK-NEXT:  %[[M:.+]] = llvm.intr.umax(%[[M01]], %[[M23]]) : (i32, i32) -> i32
// CHECK-NEXT:  %[[BITS:.+]] = llvm.shl %[[M]], %{{.+}} : i32
// CHECK-NEXT:  %[[IS_ZERO:.+]] = llvm.icmp "eq" %[[M]], %{{.+}} : i32
// CHECK-NEXT:  %[[BITS0:.+]] = llvm.select %[[IS_ZERO]], %[[TWO_M127]], %[[BITS]] : i1, i32
// CHECK-NEXT:  %[[IS_NAN:.+]] = llvm.icmp "eq" %[[M]], %{{.+}} : i32
// CHECK-NEXT:  %[[BITS1:.+]] = llvm.select %[[IS_NAN]], %[[NAN]], %[[BITS0]] : i1, i32
// CHECK-NEXT:  %[[POW:.+]] = llvm.bitcast %[[BITS1]] : i32 to f32
// CHECK-NEXT:  %[[COL_SCALE:.+]] = llvm.fmul %[[POW]], %[[TWO_M6]] : f32
// CHECK:       llvm.mul %{{.+}}, %[[STRIDE]] : i32
// CHECK:       %[[SLOT:.+]] = llvm.getelementptr %[[CS:.+]][%{{.+}}] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  llvm.store %[[COL_SCALE]], %[[SLOT]] {alignment = 4 : i64} : f32, !llvm.ptr<3>
// CHECK-NEXT:  %[[SRC_OFF:.+]] = llvm.mul %[[T]], %[[C64]] : i32
// CHECK-NEXT:  %[[SRC_OFF64:.+]] = llvm.zext %[[SRC_OFF]] : i32 to i64
// CHECK-NEXT:  %[[SRC_ROW:.+]] = llvm.getelementptr %[[SRC]][%[[SRC_OFF64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[DST_OFF:.+]] = llvm.mul %[[T]], %[[C128]] : i32
// CHECK-NEXT:  %[[DST_OFF64:.+]] = llvm.zext %[[DST_OFF]] : i32 to i64
// CHECK-NEXT:  %[[DST_ROW:.+]] = llvm.getelementptr %[[DST]][%[[DST_OFF64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// The loop over the four blocks: 16 packed bytes, the table entry, and the
// first word's eight values.
// CHECK:       %[[PACKED_AT:.+]] = llvm.getelementptr %[[SRC_ROW]][%{{.+}}] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[PACKED:.+]] = llvm.load %[[PACKED_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// CHECK:       %[[D:.+]] = llvm.intr.umin(%{{.+}}, %[[LAST_ENTRY]]) : (i32, i32) -> i32
// CHECK:       %[[ENTRY:.+]] = llvm.getelementptr %[[TABLE_ADDR]][%{{.+}}] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i8
// CHECK-NEXT:  %[[ENTRY_WORDS:.+]] = llvm.load %[[ENTRY]] invariant {alignment = 8 : i64} : !llvm.ptr<1> -> vector<2xi32>
// CHECK-NEXT:  %[[T0:.+]] = llvm.extractelement %[[ENTRY_WORDS]][%{{.+}} : i32] : vector<2xi32>
// CHECK-NEXT:  %[[T1:.+]] = llvm.extractelement %[[ENTRY_WORDS]][%{{.+}} : i32] : vector<2xi32>
// CHECK-NEXT:  %[[W0:.+]] = llvm.extractelement %[[PACKED]][%{{.+}} : i32] : vector<4xi32>
// CHECK-NEXT:  %[[UP:.+]] = llvm.shl %[[W0]], %{{.+}} : i32
// CHECK-NEXT:  %[[LO_NIBBLES:.+]] = llvm.and %[[W0]], %[[NIBBLES]] : i32
// CHECK-NEXT:  %[[LO_MAG:.+]] = nvvm.prmt <default> %[[LO_NIBBLES]], %[[T0]], %[[T1]] : i32
// CHECK-NEXT:  %[[LO_SIGN:.+]] = nvvm.prmt <default> %[[SEL_LO]], %[[UP]], %[[W0]] : i32
// CHECK-NEXT:  %[[LO_SIGN_BITS:.+]] = llvm.and %[[LO_SIGN]], %[[SIGN_MASK]] : i32
// CHECK-NEXT:  llvm.or %[[LO_MAG]], %[[LO_SIGN_BITS]] : i32
// CHECK-NEXT:  %[[W0_HI:.+]] = llvm.lshr %[[W0]], %{{.+}} : i32
// CHECK-NEXT:  %[[HI_NIBBLES:.+]] = llvm.and %[[W0_HI]], %[[NIBBLES]] : i32
// CHECK-NEXT:  %[[HI_MAG:.+]] = nvvm.prmt <default> %[[HI_NIBBLES]], %[[T0]], %[[T1]] : i32
// CHECK-NEXT:  %[[HI_SIGN:.+]] = nvvm.prmt <default> %[[SEL_HI]], %[[UP]], %[[W0]] : i32
// CHECK-NEXT:  %[[HI_SIGN_BITS:.+]] = llvm.and %[[HI_SIGN]], %[[SIGN_MASK]] : i32
// CHECK-NEXT:  llvm.or %[[HI_MAG]], %[[HI_SIGN_BITS]] : i32
// Two swizzled 16-byte chunks of the e4m3 row.
// CHECK:       %[[CHUNK0:.+]] = llvm.getelementptr %[[DST_ROW]][%{{.+}}] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  llvm.store %{{.+}}, %[[CHUNK0]] {alignment = 16 : i64} : vector<4xi32>, !llvm.ptr<3>
// CHECK:       %[[CHUNK1:.+]] = llvm.getelementptr %[[DST_ROW]][%{{.+}}] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  llvm.store %{{.+}}, %[[CHUNK1]] {alignment = 16 : i64} : vector<4xi32>, !llvm.ptr<3>
// The fence and barrier after the last store, then the MMAs on tile 1.
// CHECK:       nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT:  nvvm.barrier id = %[[BAR]] number_of_threads = %[[C128]]
// CHECK-NOT:   llvm.store
// CHECK:       llvm.ptrtoint %[[DST]] : !llvm.ptr<3> to i64
// CHECK:       nvvm.wgmma.fence.aligned
// CHECK:       nvvm.wgmma.mma_async {{.*}}<m = 64, n = 128, k = 32>, D[<f32>, <zero>], A[<e4m3>, <one>, <row>], B[<e4m3>, <one>, <col>]
// CHECK:       nvvm.wgmma.wait.group.sync.aligned 0
// moek.mma_promote with col_scales: lane group l % 4 of the same buffer,
// value 0's factor is row scale x column scale.
// CHECK:       %[[GROUP:.+]] = llvm.mul %{{.+}}, %[[STRIDE]] : i32
// CHECK-NEXT:  %[[GROUP64:.+]] = llvm.zext %[[GROUP]] : i32 to i64
// CHECK-NEXT:  %[[COLS:.+]] = llvm.getelementptr %[[CS]][%[[GROUP64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  %[[ACC0:.+]] = llvm.extractvalue %{{.+}}[0]
// CHECK-NEXT:  %[[P0:.+]] = llvm.extractvalue %{{.+}}[0]
// CHECK-NEXT:  %[[QUAD:.+]] = llvm.load %[[COLS]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NEXT:  %[[CS0:.+]] = llvm.extractelement %[[QUAD]][%{{.+}} : i32] : vector<4xf32>
// CHECK-NEXT:  %[[F0:.+]] = llvm.fmul %{{.+}}, %[[CS0]] : f32
// CHECK-NEXT:  llvm.intr.fma(%[[P0]], %[[F0]], %[[ACC0]]) : (f32, f32, f32) -> f32
// CHECK-COUNT-7: llvm.load %{{.+}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       llvm.fptrunc %{{.+}} : vector<2xf32> to vector<2xbf16>
// CHECK-NOT:   moek.
// CHECK-NOT:   unrealized_conversion_cast

// PTX:         .global .align 8 .b8 __moe_e2m1_to_e4m3[160] = {0, 96, 104, 108, 112, 116, 120, 124, 0, 88, 96, 100, 104, 108, 112, 116, 0, 80,
// PTX-LABEL:   .entry fp4_fp8(
// PTX:         ld.global.b32 [[W:%r[0-9]+]], [%rd{{[0-9]+}}];
// PTX:         bfe.u32 %r{{[0-9]+}}, [[W]], 8, 8;
// PTX:         mul.rn.f32 [[COL_SCALE:%r[0-9]+]], %r{{[0-9]+}}, 0f3C800000;
// PTX:         st.shared.b32 [%rd{{[0-9]+}}], [[COL_SCALE]];
// PTX:         ld.global.nc.v2.b32 {[[T0:%r[0-9]+]], [[T1:%r[0-9]+]]}, [%rd{{[0-9]+}}];
// PTX:         prmt.b32 %r{{[0-9]+}}, [[T0]], [[T1]], %r{{[0-9]+}};
// PTX-NEXT:    prmt.b32 %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, 0xd9c8U;
// PTX:         prmt.b32 %r{{[0-9]+}}, [[T0]], [[T1]], %r{{[0-9]+}};
// PTX-NEXT:    prmt.b32 %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, 0xfbeaU;
// PTX:         st.shared.v4.b32
// PTX:         fence.proxy.async.shared::cta;
// PTX-NEXT:    bar.sync 8, 128;
// PTX90:       wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3
// PTX90:       wgmma.wait_group.sync.aligned 0;
// PTX90:       ld.shared.v4.b32 {[[CS0:%r[0-9]+]], %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, [%rd{{[0-9]+}}];
// PTX90-NEXT:  mul.rn.f32 [[F0:%r[0-9]+]], %r{{[0-9]+}}, [[CS0]];
// PTX90-NEXT:  fma.rn.f32 %r{{[0-9]+}}, %r{{[0-9]+}}, [[F0]], %r{{[0-9]+}};
// PTX100:      tcgen05.mma.cta_group::1.kind::f8f6f4

// PTXAS90: Compiling entry function 'fp4_fp8' for 'sm_90a'
// PTXAS90: 0 bytes spill stores, 0 bytes spill loads
// PTXAS100: Compiling entry function 'fp4_fp8' for 'sm_100a'
// PTXAS100: 0 bytes spill stores, 0 bytes spill loads

!ring = !moek.ring<2, [memref<64x128xf8E4M3FN, 3>, memref<128x128xf8E4M3FN, 3>, memref<128x128xf4E2M1FN, 3>]>

gpu.module @kernels {
  llvm.func @fp4_fp8(
      %tmap_x: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %tmap_w: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
      %xs: !llvm.ptr<1>, %ws: !llvm.ptr<1>, %out: !llvm.ptr<1>)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 256, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    // Tiles 0 and 2 (8 KB each) come by TMA; tile 1 is the expansion's.
    %bytes = arith.constant 16384 : index
    %c144 = arith.constant 144 : i64
    %ring = moek.ring_alloc consumers(128) : !ring
    // Two buffers of 128 column scales (4 x (32 + 4) floats), by K block
    // parity: the next block's expansion may start while a slower thread
    // still promotes with this one's.
    %cs = moek.smem_alloc {bytes = 1152 : i64} : !llvm.ptr<3>
    moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
      %leader = moek.elect_one
      scf.if %leader {
        scf.for %kb = %c0 to %c2 step %c1 {
          %kx = arith.muli %kb, %c128 : index
          %kw = arith.muli %kb, %c64 : index
          moek.ring_acquire %ring[%kb] : !ring
          moek.ring_expect %ring[%kb] bytes(%bytes) : !ring
          moek.tma_load %tmap_x[%kx, %c0] -> %ring[%kb] tile 0 : !llvm.ptr, !ring
          moek.tma_load %tmap_w[%kw, %c0] -> %ring[%kb] tile 2 : !llvm.ptr, !ring
        }
      }
    }
    moek.warp_role "consumer" warpgroups(1, 1) max_regs(232) {
      %one = llvm.mlir.constant(1.0 : f32) : f32
      %zero = moek.mma_zero : !moek.acc<64x128xf32>
      %acc = scf.for %kb = %c0 to %c2 step %c1 iter_args(%a = %zero) -> (!moek.acc<64x128xf32>) {
        %w = moek.load_fp4_scales %ws[%c0, %kb] {first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 128 : i64} : !llvm.ptr<1> -> i32
        %s = moek.load_rows %xs[%c0, %kb] row_limit(%c64) {ld = 2 : i64} : !llvm.ptr<1> -> !moek.rows<64xf32>
        %kb64 = arith.index_cast %kb : index to i64
        %at = arith.muli %kb64, %c144 : i64
        %csk = llvm.getelementptr %cs[%at] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, f32
        moek.ring_wait %ring[%kb] : !ring
        moek.dequant_fp4_fp8 %ring[%kb] from 2 to 1 scales(%w) col_scales(%csk) {barrier = 8 : i64, first_thread = 128 : i64} : !ring, !llvm.ptr<3>
        %p = moek.mma %ring[%kb] a(0, %c0) b(1) acc(%a) {zero_init} : !ring, !moek.acc<64x128xf32>
        %pw = moek.mma_wait %p pending(0) : !moek.acc<64x128xf32>
        moek.ring_release %ring[%kb] : !ring
        %a1 = moek.mma_promote %a, %pw scales(%s, %one) col_scales(%csk) : !moek.acc<64x128xf32>, !moek.rows<64xf32>, !llvm.ptr<3>
        scf.yield %a1 : !moek.acc<64x128xf32>
      }
      moek.store_acc %acc, %out[%c0, %c0] row_limit(%c64) {element_type = bf16, ld = 128 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
}
