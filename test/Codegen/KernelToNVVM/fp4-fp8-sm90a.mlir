// MXFP4 weights expanded to e4m3 for FP8 MMAs (the FP8 kernel's MXFP4
// path), in a small kernel: warpgroup 0 copies the 64 FP8 rows (tile 0) and
// the packed 128 x 128 e2m1 weights (tile 2, 64 bytes a row, 64-byte
// swizzle); warpgroup 1 takes each weight row's largest block scale and
// stores the column scales (tile prologue), then per K block loads the row's
// four UE8M0 scales, expands tile 2 into tile 1 (one weight row per
// thread), multiplies (zero_init) and promotes with the row scales only;
// after the K loop, the column scales multiply the accumulator.
// Lowered for sm_90a:
//  * moek.fp4_row_scale: row min(row + t, 127) of the 224 scale bytes read
//    in 14 16-byte loads, 8 an iteration of a loop LLVM does not unroll
//    (loads past the row's last reread its first), the largest byte m;
//    then named barrier 8 over the 128 threads, and the column scale
//    2^(m - 133) (2^-127 from the bits 0x00400000 when m = 0, NaN
//    0x7FC00000 when m = 255, times 2^-6) stored at column t's
//    fragment-ordered slot ((t % 8) / 2) * 36 + 2 (t / 8) + t % 2;
//  * moek.load_fp4_scales: one aligned i32 load, word min(row + t, 127) *
//    56 + kb;
//  * moek.dequant_fp4_fp8: one 32-value block an iteration of a loop LLVM
//    does not unroll, software-pipelined (block 0's loads before the loop,
//    block min(blk + 1, 3)'s in iteration blk): 16 packed bytes from chunk
//    blk ^ ((t >> 1) & 3) of the row (64-byte swizzle), 8 e4m3 bytes of the
//    20-entry table (entry min(m - s_blk, 19)); each packed word of the
//    block expanded with two prmt pairs: the magnitudes (w & 0x77777777,
//    into the table's two words) and the signs (selectors 0xD9C8 / 0xFBEA:
//    bit 7 of bytes of w << 4 and w, masked with 0x80808080), stored as
//    chunks (2 blk + h) ^ (t & 7), h = 0, 1 (128B swizzle); then a proxy
//    fence and named barrier 8 before the MMA reads tile 1;
//  * moek.mma_promote: one fma a value, factor row scale x 1, no column
//    scale and no shared load;
//  * moek.acc_scale_cols: the lane's column scales, four at a time from lane
//    group (lane % 4) * 36 (8 16-byte loads for 64 values), 64 fmul.
// The PTX assembles for sm_90a and, lowered for sm_100a (tcgen05), for
// sm_100a, without spills.
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.90.mlir
// RUN: FileCheck %s --input-file=%t.90.mlir
// RUN: moe-translate --moe-to-ptx %t.90.mlir -o %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,PTX90 --input-file=%t.90.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.90.ptx -o %t.90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS90 --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_100a %s -o %t.100.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_100a %t.100.mlir -o %t.100.ptx
// RUN: FileCheck %s --check-prefixes=PTX,PTX100 --input-file=%t.100.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.100.ptx -o %t.100.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS100 --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// What the loops leave in the PTX of either chip (no loop unrolled): 8
// 16-byte scale loads and 4 x 4 x 8 byte maxima (the row-max loop's body),
// one 4-byte load of the global table (each of threads 0-39 copies a word to
// the kernel's shared copy at entry), 1 + 1 loads of the shared table (block
// 0's before the expansion loop, the next block's in it), 16 prmt (4 with each sign selector) and two 16-byte stores (the
// expansion's body), the two named barriers 8 (before the column scales,
// after the expansion), 1 + 1 + 8 16-byte shared loads (the packed blocks
// as the table loads, acc_scale_cols), 1 + 64 mul (the column scale,
// acc_scale_cols) and 64 fma (mma_promote).
// RUN: awk '/ld[.]global[.]v4[.]b32/ {q++} /max[.]u32/ {x++} /ld[.]shared[.](v2[.]b32|b64)/ {t++} /ld[.]global[.]nc[.]b32/ {c++} /prmt[.]b32/ {p++} /prmt[.]b32.*, 0xd9c8U;/ {lo++} /prmt[.]b32.*, 0xfbeaU;/ {hi++} /st[.]shared[.]v4[.]b32/ {st++} /barrier[.]sync[ \t]+8, 128;/ {b++} /ld[.]shared[.](v4[.]b32|v2[.]b64)/ {ls++} /mul[.]rn[.]f32/ {m++} /fma[.]rn[.]f32/ {f++} END {print "scale-loads", q+0; print "byte-max", x+0; print "table-copy", c+0; print "tables", t+0; print "prmt", p+0; print "sign-lo", lo+0; print "sign-hi", hi+0; print "e4m3-stores", st+0; print "barriers-8", b+0; print "shared-quads", ls+0; print "mul", m+0; print "fma", f+0}' %t.90.ptx | FileCheck %s --check-prefix=COUNTS
// RUN: awk '/ld[.]global[.]v4[.]b32/ {q++} /max[.]u32/ {x++} /ld[.]shared[.](v2[.]b32|b64)/ {t++} /ld[.]global[.]nc[.]b32/ {c++} /prmt[.]b32/ {p++} /prmt[.]b32.*, 0xd9c8U;/ {lo++} /prmt[.]b32.*, 0xfbeaU;/ {hi++} /st[.]shared[.]v4[.]b32/ {st++} /barrier[.]sync[ \t]+8, 128;/ {b++} /ld[.]shared[.](v4[.]b32|v2[.]b64)/ {ls++} /mul[.]rn[.]f32/ {m++} /fma[.]rn[.]f32/ {f++} END {print "scale-loads", q+0; print "byte-max", x+0; print "table-copy", c+0; print "tables", t+0; print "prmt", p+0; print "sign-lo", lo+0; print "sign-hi", hi+0; print "e4m3-stores", st+0; print "barriers-8", b+0; print "shared-quads", ls+0; print "mul", m+0; print "fma", f+0}' %t.100.ptx | FileCheck %s --check-prefix=COUNTS
// COUNTS:      scale-loads 8{{$}}
// COUNTS-NEXT: byte-max 128{{$}}
// COUNTS-NEXT: table-copy 1{{$}}
// COUNTS-NEXT: tables 2{{$}}
// COUNTS-NEXT: prmt 16{{$}}
// COUNTS-NEXT: sign-lo 4{{$}}
// COUNTS-NEXT: sign-hi 4{{$}}
// COUNTS-NEXT: e4m3-stores 2{{$}}
// COUNTS-NEXT: barriers-8 2{{$}}
// COUNTS-NEXT: shared-quads 10{{$}}
// COUNTS-NEXT: mul 65{{$}}
// COUNTS-NEXT: fma 64{{$}}

// With permute_k (moek.mma_fp4's K order: the large tiles of the sm_90a
// fused kernel), the expansion is unrolled, no loop of its own: the four
// blocks' 16 packed bytes in four 16-byte shared loads and their four
// tables first (no 4-byte shared load: those met 4-way bank conflicts in
// the 64-byte swizzle), then word j of every block, 16 prmt and two
// 16-byte stores for each j = 0..3. The counts are the kernel's: 4 + 8
// 16-byte shared loads (acc_scale_cols' 8), one loop (the K loop).
// RUN: sed 's/{barrier = 8 : i64, first_thread = 128 : i64} : !ring/{barrier = 8 : i64, first_thread = 128 : i64, permute_k} : !ring/' %s | moe-opt --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx -o %t.perm.ptx
// RUN: awk '/ld[.]shared[.]v4[.]b32/ {q++} /ld[.]shared[.](b32|u32)/ {w++} /ld[.]shared[.]v2[.]b32/ {t++} /prmt[.]b32/ {p++} /st[.]shared[.]v4[.]b32/ {st++} /pragma "nounroll"/ {nu++} END {print "quads", q+0; print "words", w+0; print "tables", t+0; print "prmt", p+0; print "stores", st+0; print "loops", nu+0}' %t.perm.ptx | FileCheck %s --check-prefix=PERM
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.perm.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS90 --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PERM:      quads 12{{$}}
// PERM-NEXT: words 0{{$}}
// PERM-NEXT: tables 4{{$}}
// PERM-NEXT: prmt 64{{$}}
// PERM-NEXT: stores 8{{$}}
// PERM-NEXT: loops 1{{$}}

// A row of scales not a multiple of 16 bytes (scale_cols = 8: the kernel's
// K of 256): fp4_row_scale reads it in 4-byte loads, 2 of them, still 8 an
// iteration (the 6 past the row reread its first word).
// RUN: sed 's/scale_cols = 224/scale_cols = 8/g' %s | moe-opt --moek-to-nvvm-pipeline=chip=sm_90a | FileCheck %s --check-prefix=WORDS
// WORDS-LABEL: llvm.func @fp4_fp8
// WORDS-DAG:   %[[WORD_BYTES:.+]] = llvm.mlir.constant(4 : i64) : i64
// WORDS-DAG:   %[[SCALE_COLS:.+]] = llvm.mlir.constant(8 : i64) : i64
// WORDS-DAG:   %[[LOADS:.+]] = llvm.mlir.constant(2 : index) : i64
// WORDS-DAG:   %[[PER_ITER:.+]] = llvm.mlir.constant(8 : index) : i64
// WORDS:       %[[ROW_BYTES:.+]] = llvm.mul %{{.+}}, %[[SCALE_COLS]] : i64
// WORDS-NEXT:  %[[ROW_SCALES:.+]] = llvm.getelementptr %arg3[%[[ROW_BYTES]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i8
// WORDS-NEXT:  llvm.br ^[[HEAD:bb[0-9]+]]
// WORDS-NEXT:  ^[[HEAD]](%[[J0:.+]]: i64, %{{.+}}: i32):
// WORDS-NEXT:  %[[MORE:.+]] = llvm.icmp "slt" %[[J0]], %[[LOADS]] : i64
// WORDS-NEXT:  llvm.cond_br %[[MORE]]
// WORDS-NEXT:  ^{{bb[0-9]+}}:
// WORDS-NEXT:  %[[INSIDE:.+]] = llvm.icmp "ult" %[[J0]], %[[LOADS]] : i64
// WORDS-NEXT:  %[[J:.+]] = llvm.select %[[INSIDE]], %[[J0]], %{{.+}} : i1, i64
// WORDS-NEXT:  %[[AT:.+]] = llvm.mul %[[J]], %[[WORD_BYTES]] : i64
// WORDS-NEXT:  %[[PTR:.+]] = llvm.getelementptr %[[ROW_SCALES]][%[[AT]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i8
// WORDS-NEXT:  llvm.load %[[PTR]] {alignment = 4 : i64} : !llvm.ptr<1> -> vector<1xi32>
// WORDS-COUNT-7: llvm.load %{{.+}} {alignment = 4 : i64} : !llvm.ptr<1> -> vector<1xi32>
// WORDS-NOT:   llvm.load
// WORDS:       %[[J0_NEXT:.+]] = llvm.add %[[J0]], %[[PER_ITER]] : i64
// WORDS-NEXT:  llvm.br ^[[HEAD]](%[[J0_NEXT]], %{{.+}} : i64, i32) {loop_annotation = #{{.+}}}
// WORDS-NEXT:  ^{{bb[0-9]+}}:
// WORDS-NEXT:  llvm.call_intrinsic "llvm.nvvm.barrier.cta.sync.count"(%{{.+}}, %{{.+}}) : (i32, i32) -> ()

// The table: entry d (8 bytes) is e4m3(m * 2^(6 - d)) for the e2m1
// magnitudes m = 0, 0.5, 1, 1.5, 2, 3, 4, 6 (entry 0: 0, 32, ..., 384;
// from entry 12 on, values below 2^-6 become subnormals, rounded to nearest
// even).
// CHECK:       #[[UNROLL:.+]] = #llvm.loop_unroll<disable = true>
// CHECK:       #[[NO_UNROLL:.+]] = #llvm.loop_annotation<unroll = #[[UNROLL]]>
// CHECK:       llvm.mlir.global internal constant @__moe_e2m1_to_e4m3(dense<"0x0060686C7074787C00586064686C70740050585C6064686C00485054585C60640040484C5054585C00384044484C50540030383C4044484C00283034383C40440020282C3034383C00182024282C30340010181C2024282C00081014181C20240004080C1014181C00020406080C1014000102030406080C00000102020304060000000101020203000000000001010200000000000000010000000000000000"> : tensor<160xi8>) {addr_space = 1 : i32, alignment = 8 : i64} : !llvm.array<160 x i8>
// CHECK-LABEL: llvm.func @fp4_fp8
// CHECK-DAG:   %[[SEL_LO:.+]] = llvm.mlir.constant(55752 : i32) : i32
// CHECK-DAG:   %[[SEL_HI:.+]] = llvm.mlir.constant(64490 : i32) : i32
// CHECK-DAG:   %[[NIBBLES:.+]] = llvm.mlir.constant(2004318071 : i32) : i32
// CHECK-DAG:   %[[SIGN_MASK:.+]] = llvm.mlir.constant(-2139062144 : i32) : i32
// CHECK-DAG:   %[[LAST_ENTRY:.+]] = llvm.mlir.constant(19 : i32) : i32
// CHECK-DAG:   %[[TABLE_ADDR:.+]] = llvm.mlir.addressof @__moe_e2m1_to_e4m3_shared : !llvm.ptr<3>
// CHECK-DAG:   %[[STRIDE:.+]] = llvm.mlir.constant(36 : i32) : i32
// CHECK-DAG:   %[[TWO_M6:.+]] = llvm.mlir.constant(1.562500e-02 : f32) : f32
// CHECK-DAG:   %[[NAN:.+]] = llvm.mlir.constant(2143289344 : i32) : i32
// CHECK-DAG:   %[[TWO_M127:.+]] = llvm.mlir.constant(4194304 : i32) : i32
// CHECK-DAG:   %[[EXP_SHIFT:.+]] = llvm.mlir.constant(23 : i32) : i32
// CHECK-DAG:   %[[BYTE:.+]] = llvm.mlir.constant(255 : i32) : i32
// CHECK-DAG:   %[[C8:.+]] = llvm.mlir.constant(8 : i32) : i32
// CHECK-DAG:   %[[C128:.+]] = llvm.mlir.constant(128 : i32) : i32
// CHECK-DAG:   %[[C64:.+]] = llvm.mlir.constant(64 : i32) : i32
// CHECK-DAG:   %[[C32:.+]] = llvm.mlir.constant(32 : i32) : i32
// CHECK-DAG:   %[[C16:.+]] = llvm.mlir.constant(16 : i32) : i32
// CHECK-DAG:   %[[C7:.+]] = llvm.mlir.constant(7 : i32) : i32
// CHECK-DAG:   %[[C4:.+]] = llvm.mlir.constant(4 : i32) : i32
// With the expanded tile 1 unstaged (held once, after the stages: the FP8 x
// MXFP4 fused kernel's layout), the stages hold tiles 0 and 2 only (16 KB
// a stage), tile 2 is 8 KB into its stage, tile 1 is at 32 KB whatever the
// stage, and the column scales come after the ring's 48 KB.
// RUN: sed 's/memref<128x128xf4E2M1FN, 3>\]>/memref<128x128xf4E2M1FN, 3>], unstaged [1]>/' %s | moe-opt --moek-to-nvvm-pipeline=chip=sm_90a -o %t.unstaged.mlir
// RUN: FileCheck %s --check-prefix=UNSTAGED --input-file=%t.unstaged.mlir
// RUN: moe-translate --moe-to-ptx %t.unstaged.mlir -o %t.unstaged.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.unstaged.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS90 --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// UNSTAGED-DAG: %[[STAGE:.+]] = llvm.mlir.constant(16384 : i64) : i64
// UNSTAGED-DAG: %[[TILE2:.+]] = llvm.mlir.constant(8192 : i64) : i64
// UNSTAGED-DAG: %[[RING:.+]] = llvm.mlir.constant(49152 : i64) : i64
// UNSTAGED:     llvm.add %{{.+}}, %[[RING]] : i64
// UNSTAGED:     llvm.getelementptr %{{.+}}[32768] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
// UNSTAGED-NOT: llvm.mlir.constant(65536 : i64)
// CHECK-DAG:   %[[C3:.+]] = llvm.mlir.constant(3 : i32) : i32
// CHECK-DAG:   %[[C2:.+]] = llvm.mlir.constant(2 : i32) : i32
// CHECK-DAG:   %[[C1:.+]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-DAG:   %[[C0:.+]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-DAG:   %[[ONE:.+]] = llvm.mlir.constant(1.000000e+00 : f32) : f32
// CHECK-DAG:   %[[LAST_ROW:.+]] = llvm.mlir.constant(127 : i64) : i64
// CHECK-DAG:   %[[SCALE_COLS:.+]] = llvm.mlir.constant(224 : i64) : i64
// CHECK-DAG:   %[[SCALE_WORDS:.+]] = llvm.mlir.constant(56 : i64) : i64
// CHECK-DAG:   %[[QUAD_BYTES:.+]] = llvm.mlir.constant(16 : i64) : i64
// CHECK-DAG:   %[[LOADS:.+]] = llvm.mlir.constant(14 : index) : i64
// CHECK-DAG:   %[[PER_ITER:.+]] = llvm.mlir.constant(8 : index) : i64
// CHECK-DAG:   %[[BLOCKS:.+]] = llvm.mlir.constant(4 : index) : i64
// CHECK-DAG:   %[[TILE1:.+]] = llvm.mlir.constant(8192 : i64) : i64
// CHECK-DAG:   %[[TILE2:.+]] = llvm.mlir.constant(24576 : i64) : i64
// CHECK-DAG:   %[[RING_BYTES:.+]] = llvm.mlir.constant(65536 : i64) : i64
// CHECK-DAG:   %[[TID:.+]] = nvvm.read.ptx.sreg.tid.x : i32
// The column scales: after the ring's two 32 KB stages.
// CHECK:       %[[CS_AT:.+]] = llvm.add %{{.+}}, %[[RING_BYTES]] : i64
// CHECK-NEXT:  %[[CS:.+]] = llvm.inttoptr %[[CS_AT]] : i64 to !llvm.ptr<3>
// The producer.
// CHECK:       nvvm.cp.async.bulk.tensor.shared.cluster.global
// moek.fp4_row_scale: row min(row + t, 127), 224 bytes a row.
// CHECK:       %[[T:.+]] = llvm.sub %[[TID]], %[[C128]] : i32
// CHECK-NEXT:  %[[T64:.+]] = llvm.zext %[[T]] : i32 to i64
// CHECK-NEXT:  %[[ROW:.+]] = llvm.add %[[T64]], %{{.+}} : i64
// CHECK-NEXT:  %[[CLAMPED:.+]] = llvm.intr.umin(%[[ROW]], %[[LAST_ROW]]) : (i64, i64) -> i64
// CHECK-NEXT:  %[[ROW_BYTES:.+]] = llvm.mul %[[CLAMPED]], %[[SCALE_COLS]] : i64
// CHECK-NEXT:  %[[ROW_SCALES:.+]] = llvm.getelementptr %arg3[%[[ROW_BYTES]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i8
// CHECK-NEXT:  llvm.br ^[[MAX_HEAD:bb[0-9]+]](%{{.+}}, %[[C0]] : i64, i32)
// CHECK-NEXT:  ^[[MAX_HEAD]](%[[J0:.+]]: i64, %[[M:.+]]: i32):
// CHECK-NEXT:  %[[MORE:.+]] = llvm.icmp "slt" %[[J0]], %[[LOADS]] : i64
// CHECK-NEXT:  llvm.cond_br %[[MORE]], ^[[MAX_BODY:bb[0-9]+]], ^[[MAX_EXIT:bb[0-9]+]]
// CHECK-NEXT:  ^[[MAX_BODY]]:
// Load j0 (past the 14th: the first again), its first word's largest byte.
// CHECK-NEXT:  %[[INSIDE:.+]] = llvm.icmp "ult" %[[J0]], %[[LOADS]] : i64
// CHECK-NEXT:  %[[J:.+]] = llvm.select %[[INSIDE]], %[[J0]], %{{.+}} : i1, i64
// CHECK-NEXT:  %[[QUAD_AT:.+]] = llvm.mul %[[J]], %[[QUAD_BYTES]] : i64
// CHECK-NEXT:  %[[QUAD_PTR:.+]] = llvm.getelementptr %[[ROW_SCALES]][%[[QUAD_AT]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i8
// CHECK-NEXT:  %[[QUAD:.+]] = llvm.load %[[QUAD_PTR]] {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK-NEXT:  %[[WORD:.+]] = llvm.extractelement %[[QUAD]][%[[C0]] : i32] : vector<4xi32>
// CHECK-NEXT:  %[[SH0:.+]] = llvm.lshr %[[WORD]], %[[C0]] : i32
// CHECK-NEXT:  %[[B0:.+]] = llvm.and %[[SH0]], %[[BYTE]] : i32
// CHECK-NEXT:  %[[SH1:.+]] = llvm.lshr %[[WORD]], %[[C8]] : i32
// CHECK-NEXT:  %[[B1:.+]] = llvm.and %[[SH1]], %[[BYTE]] : i32
// CHECK-NEXT:  %[[SH2:.+]] = llvm.lshr %[[WORD]], %[[C16]] : i32
// CHECK-NEXT:  %[[B2:.+]] = llvm.and %[[SH2]], %[[BYTE]] : i32
// CHECK-NEXT:  %[[SH3:.+]] = llvm.lshr %[[WORD]], %{{.+}} : i32
// CHECK-NEXT:  %[[B3:.+]] = llvm.and %[[SH3]], %[[BYTE]] : i32
// CHECK-NEXT:  %[[B01:.+]] = llvm.intr.umax(%[[B0]], %[[B1]]) : (i32, i32) -> i32
// CHECK-NEXT:  %[[B23:.+]] = llvm.intr.umax(%[[B2]], %[[B3]]) : (i32, i32) -> i32
// CHECK-NEXT:  %[[WORD_MAX:.+]] = llvm.intr.umax(%[[B01]], %[[B23]]) : (i32, i32) -> i32
// CHECK-NEXT:  %{{.+}} = llvm.intr.umax(%[[M]], %[[WORD_MAX]]) : (i32, i32) -> i32
// Seven more loads, then the next iteration, 8 loads on.
// CHECK-COUNT-7: llvm.load %{{.+}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK-NOT:   llvm.load
// CHECK:       %[[J0_NEXT:.+]] = llvm.add %[[J0]], %[[PER_ITER]] : i64
// CHECK-NEXT:  llvm.br ^[[MAX_HEAD]](%[[J0_NEXT]], %{{.+}} : i64, i32) {loop_annotation = #[[NO_UNROLL]]}
// CHECK-NEXT:  ^[[MAX_EXIT]]:
// The barrier (no thread still reads the last tile's column scales), then
// the column scale of column t.
// CHECK-NEXT:  llvm.call_intrinsic "llvm.nvvm.barrier.cta.sync.count"(%[[C8]], %[[C128]]) : (i32, i32) -> ()
// CHECK-NEXT:  %[[BITS:.+]] = llvm.shl %[[M]], %[[EXP_SHIFT]] : i32
// CHECK-NEXT:  %[[IS_ZERO:.+]] = llvm.icmp "eq" %[[M]], %[[C0]] : i32
// CHECK-NEXT:  %[[BITS0:.+]] = llvm.select %[[IS_ZERO]], %[[TWO_M127]], %[[BITS]] : i1, i32
// CHECK-NEXT:  %[[IS_NAN:.+]] = llvm.icmp "eq" %[[M]], %[[BYTE]] : i32
// CHECK-NEXT:  %[[BITS1:.+]] = llvm.select %[[IS_NAN]], %[[NAN]], %[[BITS0]] : i1, i32
// CHECK-NEXT:  %[[POW:.+]] = llvm.bitcast %[[BITS1]] : i32 to f32
// CHECK-NEXT:  %[[COL_SCALE:.+]] = llvm.fmul %[[POW]], %[[TWO_M6]] : f32
// CHECK-NEXT:  %[[T_MOD8:.+]] = llvm.and %[[T]], %[[C7]] : i32
// CHECK-NEXT:  %[[GROUP:.+]] = llvm.lshr %[[T_MOD8]], %[[C1]] : i32
// CHECK-NEXT:  %[[PAIR:.+]] = llvm.lshr %[[T]], %[[C3]] : i32
// CHECK-NEXT:  %[[GROUP_AT:.+]] = llvm.mul %[[GROUP]], %[[STRIDE]] : i32
// CHECK-NEXT:  %[[PAIR_AT:.+]] = llvm.shl %[[PAIR]], %[[C1]] : i32
// CHECK-NEXT:  %[[SLOT0:.+]] = llvm.add %[[GROUP_AT]], %[[PAIR_AT]] : i32
// CHECK-NEXT:  %[[ODD:.+]] = llvm.and %[[T]], %[[C1]] : i32
// CHECK-NEXT:  %[[SLOT:.+]] = llvm.add %[[SLOT0]], %[[ODD]] : i32
// CHECK-NEXT:  %[[SLOT64:.+]] = llvm.zext %[[SLOT]] : i32 to i64
// CHECK-NEXT:  %[[SLOT_PTR:.+]] = llvm.getelementptr %[[CS]][%[[SLOT64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  llvm.store %[[COL_SCALE]], %[[SLOT_PTR]] {alignment = 4 : i64} : f32, !llvm.ptr<3>
// CHECK-NEXT:  llvm.br ^[[K_HEAD:bb[0-9]+]](%{{.+}}, %{{.+}} : i64, !llvm.struct<(
// CHECK-NEXT:  ^[[K_HEAD]](%{{.+}}: i64, %[[K_ACC:.+]]: !llvm.struct<(
// CHECK-NEXT:  llvm.icmp "slt"
// CHECK-NEXT:  llvm.cond_br %{{.+}}, ^{{bb[0-9]+}}, ^[[K_EXIT:bb[0-9]+]]
// moek.load_fp4_scales: word min(row + t, 127) * 56 + kb.
// CHECK-NEXT:  ^{{bb[0-9]+}}:
// CHECK-NEXT:  %[[ROW_WORDS:.+]] = llvm.mul %[[CLAMPED]], %[[SCALE_WORDS]] : i64
// CHECK-NEXT:  %[[WORD_AT:.+]] = llvm.add %[[ROW_WORDS]], %{{.+}} : i64
// CHECK-NEXT:  %[[WORD_PTR:.+]] = llvm.getelementptr %arg3[%[[WORD_AT]]] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i32
// CHECK-NEXT:  %[[W:.+]] = llvm.load %[[WORD_PTR]] {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// moek.dequant_fp4_fp8, after the stage's wait: tile 2 into tile 1, the
// packed row's 64-byte swizzle (t >> 1) & 3.
// CHECK:       nvvm.mbarrier.try_wait.parity
// CHECK-NEXT:  %[[STAGE:.+]] = llvm.mul %{{.+}}, %{{.+}} : i64
// CHECK-NEXT:  %[[SRC_AT:.+]] = llvm.add %[[STAGE]], %[[TILE2]] : i64
// CHECK-NEXT:  %[[SRC:.+]] = llvm.getelementptr %{{.+}}[%[[SRC_AT]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[DST_AT:.+]] = llvm.add %[[STAGE]], %[[TILE1]] : i64
// CHECK-NEXT:  %[[DST:.+]] = llvm.getelementptr %{{.+}}[%[[DST_AT]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// A fresh %tid.x (an asm LLVM cannot hoist to the kernel entry).
// CHECK-NEXT:  %[[FRESH_TID:.+]] = llvm.inline_asm has_side_effects "mov.u32 $0, %tid.x;", "=r"  : () -> i32
// CHECK-NEXT:  %[[ET:.+]] = llvm.sub %[[FRESH_TID]], %[[C128]] : i32
// CHECK-NEXT:  %[[SRC_OFF:.+]] = llvm.mul %[[ET]], %[[C64]] : i32
// CHECK-NEXT:  %[[SRC_OFF64:.+]] = llvm.zext %[[SRC_OFF]] : i32 to i64
// CHECK-NEXT:  %[[SRC_ROW:.+]] = llvm.getelementptr %[[SRC]][%[[SRC_OFF64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[DST_OFF:.+]] = llvm.mul %[[ET]], %[[C128]] : i32
// CHECK-NEXT:  %[[DST_OFF64:.+]] = llvm.zext %[[DST_OFF]] : i32 to i64
// CHECK-NEXT:  %[[DST_ROW:.+]] = llvm.getelementptr %[[DST]][%[[DST_OFF64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[ET_MOD8:.+]] = llvm.and %[[ET]], %[[C7]] : i32
// CHECK-NEXT:  %[[HALF_T:.+]] = llvm.lshr %[[ET]], %[[C1]] : i32
// CHECK-NEXT:  %[[LOAD_SWZ:.+]] = llvm.and %[[HALF_T]], %[[C3]] : i32
// Block 0's 16 packed bytes (chunk 0 ^ swizzle) and table entry
// min(m - s_0, 19), before the loop...
// CHECK-NEXT:  %[[CHUNK_0:.+]] = llvm.xor %[[LOAD_SWZ]], %[[C0]] : i32
// CHECK-NEXT:  %[[CHUNK_0_AT:.+]] = llvm.mul %[[CHUNK_0]], %[[C16]] : i32
// CHECK-NEXT:  %[[CHUNK_0_AT64:.+]] = llvm.zext %[[CHUNK_0_AT]] : i32 to i64
// CHECK-NEXT:  %[[PACKED_0_AT:.+]] = llvm.getelementptr %[[SRC_ROW]][%[[CHUNK_0_AT64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[PACKED_0:.+]] = llvm.load %[[PACKED_0_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// CHECK-NEXT:  %[[SHIFT_0:.+]] = llvm.mul %[[C0]], %[[C8]] : i32
// CHECK-NEXT:  %[[SHIFTED_0:.+]] = llvm.lshr %[[W]], %[[SHIFT_0]] : i32
// CHECK-NEXT:  %[[S_0:.+]] = llvm.and %[[SHIFTED_0]], %[[BYTE]] : i32
// CHECK-NEXT:  %[[DIFF_0:.+]] = llvm.sub %[[M]], %[[S_0]] : i32
// CHECK-NEXT:  %[[D_0:.+]] = llvm.intr.umin(%[[DIFF_0]], %[[LAST_ENTRY]]) : (i32, i32) -> i32
// CHECK-NEXT:  %[[ENTRY_0_AT:.+]] = llvm.mul %[[D_0]], %[[C8]] : i32
// CHECK-NEXT:  %[[ENTRY_0_AT64:.+]] = llvm.zext %[[ENTRY_0_AT]] : i32 to i64
// CHECK-NEXT:  %[[ENTRY_0_PTR:.+]] = llvm.getelementptr %[[TABLE_ADDR]][%[[ENTRY_0_AT64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[ENTRY_0:.+]] = llvm.load %[[ENTRY_0_PTR]] {alignment = 8 : i64} : !llvm.ptr<3> -> vector<2xi32>
// CHECK-NEXT:  llvm.br ^[[X_HEAD:bb[0-9]+]](%{{.+}}, %[[PACKED_0]], %[[ENTRY_0]] : i64, vector<4xi32>, vector<2xi32>)
// CHECK-NEXT:  ^[[X_HEAD]](%[[STEP:.+]]: i64, %[[PACKED:.+]]: vector<4xi32>, %[[ENTRY_WORDS:.+]]: vector<2xi32>):
// CHECK-NEXT:  %[[MORE_BLOCKS:.+]] = llvm.icmp "slt" %[[STEP]], %[[BLOCKS]] : i64
// CHECK-NEXT:  llvm.cond_br %[[MORE_BLOCKS]], ^[[X_BODY:bb[0-9]+]], ^[[X_EXIT:bb[0-9]+]]
// CHECK-NEXT:  ^[[X_BODY]]:
// ... then one block an iteration: first the loads of block min(blk + 1,
// 3), the same way...
// CHECK-NEXT:  %[[BLK:.+]] = llvm.trunc %[[STEP]] : i64 to i32
// CHECK-NEXT:  %[[BLK_1:.+]] = llvm.add %[[BLK]], %[[C1]] : i32
// CHECK-NEXT:  %[[NEXT_BLK:.+]] = llvm.intr.umin(%[[BLK_1]], %[[C3]]) : (i32, i32) -> i32
// CHECK-NEXT:  %[[CHUNK:.+]] = llvm.xor %[[LOAD_SWZ]], %[[NEXT_BLK]] : i32
// CHECK-NEXT:  %[[CHUNK_AT:.+]] = llvm.mul %[[CHUNK]], %[[C16]] : i32
// CHECK-NEXT:  %[[CHUNK_AT64:.+]] = llvm.zext %[[CHUNK_AT]] : i32 to i64
// CHECK-NEXT:  %[[NEXT_PACKED_AT:.+]] = llvm.getelementptr %[[SRC_ROW]][%[[CHUNK_AT64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[NEXT_PACKED:.+]] = llvm.load %[[NEXT_PACKED_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// CHECK-NEXT:  %[[SHIFT:.+]] = llvm.mul %[[NEXT_BLK]], %[[C8]] : i32
// CHECK-NEXT:  %[[SHIFTED:.+]] = llvm.lshr %[[W]], %[[SHIFT]] : i32
// CHECK-NEXT:  %[[S:.+]] = llvm.and %[[SHIFTED]], %[[BYTE]] : i32
// CHECK-NEXT:  %[[DIFF:.+]] = llvm.sub %[[M]], %[[S]] : i32
// CHECK-NEXT:  %[[D:.+]] = llvm.intr.umin(%[[DIFF]], %[[LAST_ENTRY]]) : (i32, i32) -> i32
// CHECK-NEXT:  %[[ENTRY_AT:.+]] = llvm.mul %[[D]], %[[C8]] : i32
// CHECK-NEXT:  %[[ENTRY_AT64:.+]] = llvm.zext %[[ENTRY_AT]] : i32 to i64
// CHECK-NEXT:  %[[NEXT_ENTRY_PTR:.+]] = llvm.getelementptr %[[TABLE_ADDR]][%[[ENTRY_AT64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  %[[NEXT_ENTRY:.+]] = llvm.load %[[NEXT_ENTRY_PTR]] {alignment = 8 : i64} : !llvm.ptr<3> -> vector<2xi32>
// ... then this block's expansion, the first word's eight values.
// CHECK-NEXT:  %[[T0:.+]] = llvm.extractelement %[[ENTRY_WORDS]][%[[C0]] : i32] : vector<2xi32>
// CHECK-NEXT:  %[[T1:.+]] = llvm.extractelement %[[ENTRY_WORDS]][%[[C1]] : i32] : vector<2xi32>
// CHECK-NEXT:  %[[W0:.+]] = llvm.extractelement %[[PACKED]][%[[C0]] : i32] : vector<4xi32>
// CHECK-NEXT:  %[[UP:.+]] = llvm.shl %[[W0]], %[[C4]] : i32
// CHECK-NEXT:  %[[MAGS:.+]] = llvm.and %[[W0]], %[[NIBBLES]] : i32
// CHECK-NEXT:  %[[LO_MAG:.+]] = nvvm.prmt <default> %[[MAGS]], %[[T0]], %[[T1]] : i32
// CHECK-NEXT:  %[[LO_SIGN:.+]] = nvvm.prmt <default> %[[SEL_LO]], %[[UP]], %[[W0]] : i32
// CHECK-NEXT:  %[[LO_SIGN_BITS:.+]] = llvm.and %[[LO_SIGN]], %[[SIGN_MASK]] : i32
// CHECK-NEXT:  %[[LO:.+]] = llvm.or %[[LO_MAG]], %[[LO_SIGN_BITS]] : i32
// CHECK-NEXT:  %[[HI_NIBBLES:.+]] = llvm.lshr %[[MAGS]], %[[C16]] : i32
// CHECK-NEXT:  %[[HI_MAG:.+]] = nvvm.prmt <default> %[[HI_NIBBLES]], %[[T0]], %[[T1]] : i32
// CHECK-NEXT:  %[[HI_SIGN:.+]] = nvvm.prmt <default> %[[SEL_HI]], %[[UP]], %[[W0]] : i32
// CHECK-NEXT:  %[[HI_SIGN_BITS:.+]] = llvm.and %[[HI_SIGN]], %[[SIGN_MASK]] : i32
// CHECK-NEXT:  %[[HI:.+]] = llvm.or %[[HI_MAG]], %[[HI_SIGN_BITS]] : i32
// CHECK-NEXT:  %[[V0:.+]] = llvm.insertelement %[[LO]], %{{.+}}[%[[C0]] : i32] : vector<4xi32>
// CHECK-NEXT:  llvm.insertelement %[[HI]], %[[V0]][%[[C1]] : i32] : vector<4xi32>
// The block's two 16-byte chunks of the e4m3 row, 2 blk and 2 blk + 1, at
// (chunk ^ (t & 7)) * 16 (128B swizzle); no other load in the body.
// CHECK-NOT:   llvm.load
// CHECK:       %[[KC0:.+]] = llvm.mul %[[BLK]], %[[C2]] : i32
// CHECK-NEXT:  %[[KC:.+]] = llvm.add %[[KC0]], %[[C0]] : i32
// CHECK-NEXT:  %[[SWZ0:.+]] = llvm.xor %[[ET_MOD8]], %[[KC]] : i32
// CHECK-NEXT:  %[[OUT0:.+]] = llvm.mul %[[SWZ0]], %[[C16]] : i32
// CHECK-NEXT:  %[[OUT0_64:.+]] = llvm.zext %[[OUT0]] : i32 to i64
// CHECK-NEXT:  %[[CHUNK0:.+]] = llvm.getelementptr %[[DST_ROW]][%[[OUT0_64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  llvm.store %{{.+}}, %[[CHUNK0]] {alignment = 16 : i64} : vector<4xi32>, !llvm.ptr<3>
// CHECK-NOT:   llvm.load
// CHECK:       %[[KC1:.+]] = llvm.add %[[KC0]], %[[C1]] : i32
// CHECK-NEXT:  %[[SWZ1:.+]] = llvm.xor %[[ET_MOD8]], %[[KC1]] : i32
// CHECK-NEXT:  %[[OUT1:.+]] = llvm.mul %[[SWZ1]], %[[C16]] : i32
// CHECK-NEXT:  %[[OUT1_64:.+]] = llvm.zext %[[OUT1]] : i32 to i64
// CHECK-NEXT:  %[[CHUNK1:.+]] = llvm.getelementptr %[[DST_ROW]][%[[OUT1_64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK-NEXT:  llvm.store %{{.+}}, %[[CHUNK1]] {alignment = 16 : i64} : vector<4xi32>, !llvm.ptr<3>
// CHECK-NEXT:  %[[STEP_NEXT:.+]] = llvm.add %[[STEP]], %{{.+}} : i64
// CHECK-NEXT:  llvm.br ^[[X_HEAD]](%[[STEP_NEXT]], %[[NEXT_PACKED]], %[[NEXT_ENTRY]] : i64, vector<4xi32>, vector<2xi32>) {loop_annotation = #[[NO_UNROLL]]}
// The fence and barrier after the loop, then the MMAs on tile 1.
// CHECK-NEXT:  ^[[X_EXIT]]:
// CHECK-NEXT:  nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT:  llvm.call_intrinsic "llvm.nvvm.barrier.cta.sync.count"(%[[C8]], %[[C128]]) : (i32, i32) -> ()
// CHECK-NOT:   llvm.store
// CHECK:       llvm.ptrtoint %[[DST]] : !llvm.ptr<3> to i64
// CHECK:       nvvm.wgmma.fence.aligned
// CHECK:       nvvm.wgmma.mma_async {{.*}}<m = 64, n = 128, k = 32>, D[<f32>, <zero>], A[<e4m3>, <one>, <row>], B[<e4m3>, <one>, <col>]
// CHECK-COUNT-3: nvvm.wgmma.mma_async {{.*}}<m = 64, n = 128, k = 32>, D[<f32>, <one>], A[<e4m3>, <one>, <row>], B[<e4m3>, <one>, <col>]
// CHECK:       nvvm.wgmma.wait.group.sync.aligned 0
// moek.mma_promote: row scale x 1 is each value's factor; no column
// scale, no shared load.
// CHECK:       nvvm.mbarrier.arrive
// CHECK-NEXT:  %[[F0:.+]] = llvm.fmul %{{.+}}, %[[ONE]] : f32
// CHECK-NEXT:  %[[F1:.+]] = llvm.fmul %{{.+}}, %[[ONE]] : f32
// CHECK-NEXT:  %[[ACC0:.+]] = llvm.extractvalue %[[K_ACC]][0]
// CHECK-NEXT:  %[[P0:.+]] = llvm.extractvalue %[[PARTIAL:.+]][0]
// CHECK-NEXT:  llvm.intr.fma(%[[P0]], %[[F0]], %[[ACC0]]) : (f32, f32, f32) -> f32
// CHECK:       %[[ACC2:.+]] = llvm.extractvalue %[[K_ACC]][2]
// CHECK-NEXT:  %[[P2:.+]] = llvm.extractvalue %[[PARTIAL]][2]
// CHECK-NEXT:  llvm.intr.fma(%[[P2]], %[[F1]], %[[ACC2]]) : (f32, f32, f32) -> f32
// CHECK-COUNT-61: llvm.intr.fma
// CHECK-NOT:   llvm.load
// CHECK-NOT:   llvm.fmul
// CHECK:       llvm.br ^[[K_HEAD]]
// moek.acc_scale_cols after the K loop: lane group l % 4 of the column
// scales, 16 bytes (the scales of values 4j..4j+7) for each 8 values.
// CHECK-NEXT:  ^[[K_EXIT]]:
// CHECK-NEXT:  %[[LANE:.+]] = llvm.urem %[[TID]], %[[C32]] : i32
// CHECK-NEXT:  %[[LANE_GROUP:.+]] = llvm.urem %[[LANE]], %[[C4]] : i32
// CHECK-NEXT:  %[[LANE_AT:.+]] = llvm.mul %[[LANE_GROUP]], %[[STRIDE]] : i32
// CHECK-NEXT:  %[[LANE_AT64:.+]] = llvm.zext %[[LANE_AT]] : i32 to i64
// CHECK-NEXT:  %[[COLS:.+]] = llvm.getelementptr %[[CS]][%[[LANE_AT64]]] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  %[[Q0:.+]] = llvm.load %[[COLS]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NEXT:  %[[A0:.+]] = llvm.extractvalue %[[K_ACC]][0]
// CHECK-NEXT:  %[[CS0:.+]] = llvm.extractelement %[[Q0]][%[[C0]] : i32] : vector<4xf32>
// CHECK-NEXT:  llvm.fmul %[[A0]], %[[CS0]] : f32
// CHECK-NEXT:  %[[A1:.+]] = llvm.extractvalue %[[K_ACC]][1]
// CHECK-NEXT:  %[[CS1:.+]] = llvm.extractelement %[[Q0]][%[[C1]] : i32] : vector<4xf32>
// CHECK-NEXT:  llvm.fmul %[[A1]], %[[CS1]] : f32
// CHECK-NEXT:  %[[A2:.+]] = llvm.extractvalue %[[K_ACC]][2]
// CHECK-NEXT:  llvm.fmul %[[A2]], %[[CS0]] : f32
// CHECK-NEXT:  %[[A3:.+]] = llvm.extractvalue %[[K_ACC]][3]
// CHECK-NEXT:  llvm.fmul %[[A3]], %[[CS1]] : f32
// CHECK-NEXT:  %[[A4:.+]] = llvm.extractvalue %[[K_ACC]][4]
// CHECK-NEXT:  %[[CS2:.+]] = llvm.extractelement %[[Q0]][%[[C2]] : i32] : vector<4xf32>
// CHECK-NEXT:  llvm.fmul %[[A4]], %[[CS2]] : f32
// CHECK-NEXT:  %[[A5:.+]] = llvm.extractvalue %[[K_ACC]][5]
// CHECK-NEXT:  %[[CS3:.+]] = llvm.extractelement %[[Q0]][%[[C3]] : i32] : vector<4xf32>
// CHECK-NEXT:  llvm.fmul %[[A5]], %[[CS3]] : f32
// CHECK-NEXT:  %[[A6:.+]] = llvm.extractvalue %[[K_ACC]][6]
// CHECK-NEXT:  llvm.fmul %[[A6]], %[[CS2]] : f32
// CHECK-NEXT:  %[[A7:.+]] = llvm.extractvalue %[[K_ACC]][7]
// CHECK-NEXT:  llvm.fmul %[[A7]], %[[CS3]] : f32
// CHECK-NEXT:  %[[Q1_AT:.+]] = llvm.getelementptr %[[COLS]][4] : (!llvm.ptr<3>) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  %[[Q1:.+]] = llvm.load %[[Q1_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NEXT:  %[[A8:.+]] = llvm.extractvalue %[[K_ACC]][8]
// CHECK-NEXT:  %[[CS8:.+]] = llvm.extractelement %[[Q1]][%[[C0]] : i32] : vector<4xf32>
// CHECK-NEXT:  llvm.fmul %[[A8]], %[[CS8]] : f32
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       %[[Q2_AT:.+]] = llvm.getelementptr %[[COLS]][8] : (!llvm.ptr<3>) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  llvm.load %[[Q2_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       %[[Q3_AT:.+]] = llvm.getelementptr %[[COLS]][12] : (!llvm.ptr<3>) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  llvm.load %[[Q3_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       %[[Q4_AT:.+]] = llvm.getelementptr %[[COLS]][16] : (!llvm.ptr<3>) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  llvm.load %[[Q4_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       %[[Q5_AT:.+]] = llvm.getelementptr %[[COLS]][20] : (!llvm.ptr<3>) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  llvm.load %[[Q5_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       %[[Q6_AT:.+]] = llvm.getelementptr %[[COLS]][24] : (!llvm.ptr<3>) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  llvm.load %[[Q6_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       %[[Q7_AT:.+]] = llvm.getelementptr %[[COLS]][28] : (!llvm.ptr<3>) -> !llvm.ptr<3>, f32
// CHECK-NEXT:  llvm.load %[[Q7_AT]] {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xf32>
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       %[[A63:.+]] = llvm.extractvalue %[[K_ACC]][63]
// CHECK-NEXT:  llvm.fmul %[[A63]], %{{.+}} : f32
// CHECK-NOT:   -> vector<4xf32>
// CHECK:       llvm.fptrunc %{{.+}} : vector<2xf32> to vector<2xbf16>
// CHECK-NOT:   moek.
// CHECK-NOT:   unrealized_conversion_cast

// PTX:         .global .align 8 .b8 __moe_e2m1_to_e4m3[160] = {0, 96, 104, 108, 112, 116, 120, 124, 0, 88, 96, 100, 104, 108, 112, 116, 0, 80,
// PTX-LABEL:   .entry fp4_fp8(
// The shared copy of the table, written by threads 0-39 before any role.
// PTX:         setp.gt.u32 [[NOT_COPIER:%p[0-9]+]], %r{{[0-9]+}}, 39;
// PTX-NEXT:    mov.b64 [[TABLE:%rd[0-9]+]], __moe_e2m1_to_e4m3_shared;
// PTX-NEXT:    @[[NOT_COPIER]] bra
// PTX:         ld.global.nc.b32 [[TABLE_WORD:%r[0-9]+]], [%rd{{[0-9]+}}];
// PTX-NEXT:    st.shared.b32 [%rd{{[0-9]+}}], [[TABLE_WORD]];
// PTX:         bar.sync 0;
// moek.fp4_row_scale: the loop's first 16-byte load and its bytes, the
// eighth 112 bytes on, the largest, the barrier and the column scale.
// PTX:         .pragma "nounroll";
// PTX:         ld.global.v4.b32 {[[S0:%r[0-9]+]], %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, [[[SCALES:%rd[0-9]+]]];
// PTX-NEXT:    and.b32 %r{{[0-9]+}}, [[S0]], 255;
// PTX-NEXT:    bfe.u32 %r{{[0-9]+}}, [[S0]], 8, 8;
// PTX-NEXT:    bfe.u32 %r{{[0-9]+}}, [[S0]], 16, 8;
// PTX-NEXT:    shr.u32 %r{{[0-9]+}}, [[S0]], 24;
// PTX:         ld.global.v4.b32 {{.*}}, [[[SCALES]]+16];
// PTX:         ld.global.v4.b32 {{.*}}, [[[SCALES]]+80];
// PTX:         @%p{{[0-9]+}} bra $L__BB0_{{[0-9]+}};
// PTX-NEXT:    barrier.sync 8, 128;
// PTX-NEXT:    shl.b32 [[BITS:%r[0-9]+]], [[M:%r[0-9]+]], 23;
// PTX-NEXT:    setp.eq.b32 [[IS_ZERO:%p[0-9]+]], [[M]], 0;
// PTX-NEXT:    selp.b32 [[BITS0:%r[0-9]+]], 4194304, [[BITS]], [[IS_ZERO]];
// PTX-NEXT:    setp.eq.b32 [[IS_NAN:%p[0-9]+]], [[M]], 255;
// PTX-NEXT:    selp.b32 [[BITS1:%r[0-9]+]], 2143289344, [[BITS0]], [[IS_NAN]];
// PTX-NEXT:    mul.rn.f32 [[COL_SCALE:%r[0-9]+]], [[BITS1]], 0f3C800000;
// PTX-NEXT:    shr.u32 %r{{[0-9]+}}, [[TID:%r[0-9]+]], 1;
// PTX-NEXT:    bfe.u32 [[SWZ:%r[0-9]+]], [[TID]], 1, 2;
// PTX:         mad.lo.s32 %r{{[0-9]+}}, [[SWZ]], 36, %r{{[0-9]+}};
// PTX:         add.s64 [[SLOT:%rd[0-9]+]], [[CS:%rd[0-9]+]], %rd{{[0-9]+}};
// PTX-NEXT:    st.shared.b32 [[[SLOT]]], [[COL_SCALE]];
// moek.dequant_fp4_fp8: block 0's packed bytes at chunk 0 ^ ((t >> 1) & 3)
// (the bits of the column scale's lane group) and its table entry, then the
// loop (64-bit loads on sm_100a, where LLVM carries the vectors as i64):
// block min(blk, 2) + 1's loads, and this block's expansion.
// PTX:         ld.global.b32 [[W:%r[0-9]+]], [%rd{{[0-9]+}}];
// PTX:         mov.u32 [[FRESH:%r[0-9]+]], %tid.x;
// PTX:         and.b32 [[T_MOD8:%r[0-9]+]], [[FRESH]], 7;
// PTX-NEXT:    bfe.u32 [[ESWZ:%r[0-9]+]], [[FRESH]], 1, 2;
// PTX-NEXT:    mul.wide.u32 [[SWZ_AT:%rd[0-9]+]], [[ESWZ]], 16;
// PTX-NEXT:    add.s64 [[PACKED_0_AT:%rd[0-9]+]], %rd{{[0-9]+}}, [[SWZ_AT]];
// PTX90-NEXT:  ld.shared.v4.b32 {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, [[[PACKED_0_AT]]+24576];
// PTX100-NEXT: ld.shared.v2.b64 {%rd{{[0-9]+}}, %rd{{[0-9]+}}}, [[[PACKED_0_AT]]+24576];
// PTX-NEXT:    and.b32 [[S_0:%r[0-9]+]], [[W]], 255;
// PTX-NEXT:    sub.s32 [[DIFF_0:%r[0-9]+]], [[M]], [[S_0]];
// PTX-NEXT:    min.u32 [[D_0:%r[0-9]+]], [[DIFF_0]], 19;
// PTX-NEXT:    mul.wide.u32 [[ENTRY_0_AT:%rd[0-9]+]], [[D_0]], 8;
// PTX-NEXT:    add.s64 [[ENTRY_0:%rd[0-9]+]], [[TABLE]], [[ENTRY_0_AT]];
// PTX90-NEXT:  ld.shared.v2.b32 {%r{{[0-9]+}}, %r{{[0-9]+}}}, [[[ENTRY_0]]];
// PTX100-NEXT: ld.shared.b64 %rd{{[0-9]+}}, [[[ENTRY_0]]];
// PTX:         .pragma "nounroll";
// PTX-NEXT:    cvt.u32.u64 [[BLK:%r[0-9]+]], %rd{{[0-9]+}};
// PTX-NEXT:    min.u32 [[BLK_MIN:%r[0-9]+]], [[BLK]], 2;
// PTX-NEXT:    add.s32 [[NEXT_BLK:%r[0-9]+]], [[BLK_MIN]], 1;
// PTX-NEXT:    xor.b32 [[CHUNK:%r[0-9]+]], [[NEXT_BLK]], [[ESWZ]];
// PTX-NEXT:    mul.wide.u32 [[CHUNK_AT:%rd[0-9]+]], [[CHUNK]], 16;
// PTX-NEXT:    add.s64 [[PACKED_AT:%rd[0-9]+]], %rd{{[0-9]+}}, [[CHUNK_AT]];
// PTX90-NEXT:  ld.shared.v4.b32 {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, [[[PACKED_AT]]+24576];
// PTX100-NEXT: ld.shared.v2.b64 {%rd{{[0-9]+}}, %rd{{[0-9]+}}}, [[[PACKED_AT]]+24576];
// PTX-NEXT:    shl.b32 [[SHIFT:%r[0-9]+]], [[NEXT_BLK]], 3;
// PTX-NEXT:    shr.u32 [[SHIFTED:%r[0-9]+]], [[W]], [[SHIFT]];
// PTX-NEXT:    and.b32 [[S:%r[0-9]+]], [[SHIFTED]], 255;
// PTX-NEXT:    sub.s32 [[DIFF:%r[0-9]+]], [[M]], [[S]];
// PTX-NEXT:    min.u32 [[D:%r[0-9]+]], [[DIFF]], 19;
// PTX-NEXT:    mul.wide.u32 [[ENTRY_AT:%rd[0-9]+]], [[D]], 8;
// PTX-NEXT:    add.s64 [[ENTRY:%rd[0-9]+]], [[TABLE]], [[ENTRY_AT]];
// PTX90-NEXT:  ld.shared.v2.b32 {%r{{[0-9]+}}, %r{{[0-9]+}}}, [[[ENTRY]]];
// PTX100-NEXT: ld.shared.b64 %rd{{[0-9]+}}, [[[ENTRY]]];
// PTX:         shl.b32 [[UP:%r[0-9]+]], [[P0:%r[0-9]+]], 4;
// PTX-NEXT:    and.b32 [[NIBBLES:%r[0-9]+]], [[P0]], 2004318071;
// PTX-NEXT:    prmt.b32 %r{{[0-9]+}}, [[T0:%r[0-9]+]], [[T1:%r[0-9]+]], [[NIBBLES]];
// PTX-NEXT:    prmt.b32 [[SIGN_LO:%r[0-9]+]], [[UP]], [[P0]], 0xd9c8U;
// PTX-NEXT:    and.b32 %r{{[0-9]+}}, [[SIGN_LO]], -2139062144;
// PTX-NEXT:    or.b32
// PTX-NEXT:    shr.u32 [[NIBBLES_HI:%r[0-9]+]], [[NIBBLES]], 16;
// PTX-NEXT:    prmt.b32 %r{{[0-9]+}}, [[T0]], [[T1]], [[NIBBLES_HI]];
// PTX-NEXT:    prmt.b32 [[SIGN_HI:%r[0-9]+]], [[UP]], [[P0]], 0xfbeaU;
// PTX-NEXT:    and.b32 %r{{[0-9]+}}, [[SIGN_HI]], -2139062144;
// The e4m3 chunks at (chunk ^ (t & 7)) * 16 of the row in tile 1.
// PTX:         xor.b32 [[OUT0:%r[0-9]+]], %r{{[0-9]+}}, [[T_MOD8]];
// PTX-NEXT:    mul.wide.u32 [[OUT0_AT:%rd[0-9]+]], [[OUT0]], 16;
// PTX-NEXT:    add.s64 [[CHUNK0:%rd[0-9]+]], %rd{{[0-9]+}}, [[OUT0_AT]];
// PTX-NEXT:    st.shared.v4.b32 [[[CHUNK0]]+8192],
// PTX:         xor.b32 [[OUT1:%r[0-9]+]], %r{{[0-9]+}}, [[T_MOD8]];
// PTX-NEXT:    mul.wide.u32 [[OUT1_AT:%rd[0-9]+]], [[OUT1]], 16;
// PTX-NEXT:    add.s64 [[CHUNK1:%rd[0-9]+]], %rd{{[0-9]+}}, [[OUT1_AT]];
// PTX-NEXT:    st.shared.v4.b32 [[[CHUNK1]]+8192],
// PTX:         fence.proxy.async.shared::cta;
// PTX-NEXT:    barrier.sync 8, 128;
// PTX90:       wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3
// PTX90:       wgmma.wait_group.sync.aligned 0;
// PTX90:       fma.rn.f32 %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}};
// PTX100:      tcgen05.mma.cta_group::1.kind::f8f6f4
// moek.acc_scale_cols: lane group (tid % 4) * 36 floats of the column
// scales, 16 bytes at a time.
// PTX:         and.b32 [[LANE_GROUP:%r[0-9]+]], [[TID]], 3;
// PTX-NEXT:    mul.lo.s32 [[LANE_AT:%r[0-9]+]], [[LANE_GROUP]], 36;
// PTX-NEXT:    mul.wide.u32 [[LANE_BYTES:%rd[0-9]+]], [[LANE_AT]], 4;
// PTX-NEXT:    add.s64 [[COLS:%rd[0-9]+]], [[CS]], [[LANE_BYTES]];
// PTX-NEXT:    ld.shared.v4.b32 {[[CS0:%r[0-9]+]], [[CS1:%r[0-9]+]], [[CS2:%r[0-9]+]], [[CS3:%r[0-9]+]]}, [[[COLS]]];
// PTX-NEXT:    mul.rn.f32 %r{{[0-9]+}}, %r{{[0-9]+}}, [[CS0]];
// PTX-NEXT:    mul.rn.f32 %r{{[0-9]+}}, %r{{[0-9]+}}, [[CS1]];
// PTX-NEXT:    mul.rn.f32 %r{{[0-9]+}}, %r{{[0-9]+}}, [[CS2]];
// PTX-NEXT:    mul.rn.f32 %r{{[0-9]+}}, %r{{[0-9]+}}, [[CS3]];
// PTX-NEXT:    ld.shared.v4.b32 {{.*}}, [[[COLS]]+16];
// PTX:         ld.shared.v4.b32 {{.*}}, [[[COLS]]+112];
// PTX:         cvt.rn.bf16x2.f32

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
    %ring = moek.ring_alloc consumers(128) : !ring
    // The tile's 128 column scales (4 x (32 + 4) floats).
    %cs = moek.smem_alloc {bytes = 576 : i64} : !llvm.ptr<3>
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
      // The tile prologue: each weight row's largest scale (224 bytes, a
      // K of 7168), and the column scales.
      %m = moek.fp4_row_scale %ws[%c0] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 128 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
      %acc = scf.for %kb = %c0 to %c2 step %c1 iter_args(%a = %zero) -> (!moek.acc<64x128xf32>) {
        %w = moek.load_fp4_scales %ws[%c0, %kb] {first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 128 : i64} : !llvm.ptr<1> -> i32
        %s = moek.load_rows %xs[%c0, %kb] row_limit(%c64) {ld = 2 : i64} : !llvm.ptr<1> -> !moek.rows<64xf32>
        moek.ring_wait %ring[%kb] : !ring
        moek.dequant_fp4_fp8 %ring[%kb] from 2 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !ring
        %p = moek.mma %ring[%kb] a(0, %c0) b(1) acc(%a) {zero_init} : !ring, !moek.acc<64x128xf32>
        %pw = moek.mma_wait %p pending(0) : !moek.acc<64x128xf32>
        moek.ring_release %ring[%kb] : !ring
        %a1 = moek.mma_promote %a, %pw scales(%s, %one) : !moek.acc<64x128xf32>, !moek.rows<64xf32>
        scf.yield %a1 : !moek.acc<64x128xf32>
      }
      %scaled = moek.acc_scale_cols %acc col_scales(%cs) : !moek.acc<64x128xf32>, !llvm.ptr<3>
      moek.store_acc %scaled, %out[%c0, %c0] row_limit(%c64) {element_type = bf16, ld = 128 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
}
