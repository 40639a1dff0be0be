// moek.acc_add_cols (per-expert biases) lowered for sm_90a: a thread's
// columns come in pairs (8j + 2 (lane % 4) and the next), one load a pair,
// from one address per half of the columns at immediate offsets:
//  * bf16: a 32-bit load a pair (32 for a 64 x 256 accumulator), the two
//    values widened by shifting the low one up 16 bits and masking the high
//    one (-65536 = 0xffff0000);
//  * f32: a 64-bit load a pair (16 for 64 x 128).
// A tile whose columns may run past the row takes one of two forms, the
// loads unpredicated where they all lie in the row, each predicated on its
// pair's column otherwise (`@p ld.global`: 0 past the row, no out-of-bounds
// load); with `in_row` only the first. Eight pairs between two warp
// barriers (bar.warp.sync: 3 for 32 pairs, 1 for 16, in each form). Each value adds in f32 (one add.rn.f32 a value: 128
// and 64); with `scale`, a mul.rn.f32 a value first (f32_scaled). No
// spill.
// The verifier's checks: test/Dialect/MoEKernel/bias-invalid.mlir.

// RUN: moe-opt --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.mlir
// RUN: moe-translate --moe-to-ptx %t.mlir -o %t.ptx
// RUN: awk '/[.]entry/ {n = $NF} /^[ \t]*ld[.]global[.]b32/ {w[n]++} /^[ \t]*ld[.]global[.]b64/ {v[n]++} /@p ld[.]global/ {g[n]++} /add[.]rn[.]f32/ {a[n]++} /mul[.]rn[.]f32/ {u[n]++} /and[.]b32.*-65536;/ {m[n]++} /bar[.]warp[.]sync/ {s[n]++} END {for (k in a) print k, "b32", w[k]+0, "b64", v[k]+0, "predicated", g[k]+0, "add", a[k]+0, "mul", u[k]+0, "mask", m[k]+0, "sync", s[k]+0}' %t.ptx | sort | FileCheck %s --check-prefix=COUNTS
// RUN: FileCheck %s --input-file=%t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// COUNTS: bf16_in_row( b32 32 b64 0 predicated 0 add 128 mul 0 mask 32 sync 3
// COUNTS: bf16_upper( b32 32 b64 0 predicated 32 add 128 mul 0 mask 32 sync 6
// COUNTS: f32_cols( b32 0 b64 16 predicated 16 add 64 mul 0 mask 0 sync 2
// COUNTS: f32_scaled( b32 0 b64 16 predicated 0 add 64 mul 64 mask 0 sync 1

// bf16_upper: row `expert` of a [E, 768] bias, the first half from column
// %col, the second from %up; bf16_in_row: all in the row, [E, 1024].
// CHECK-LABEL: .entry bf16_upper(
// CHECK-DAG:     ld.global.b32
// CHECK-DAG:     @p ld.global.b32
// CHECK-DAG:     shl.b32 {{.*}}, 16;
// CHECK-DAG:     and.b32 {{.*}}, -65536;
// CHECK-DAG:     add.rn.f32
// CHECK-LABEL: .entry f32_cols(
// CHECK:         ld.global.b64
// CHECK:         @p ld.global.b64

// PTXAS-DAG: Compiling entry function 'bf16_in_row' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'bf16_upper' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'f32_cols' for 'sm_90a'
// PTXAS-DAG: Compiling entry function 'f32_scaled' for 'sm_90a'

gpu.module @kernels {
  llvm.func @bf16_upper(%bias: !llvm.ptr<1>, %out: !llvm.ptr<1>, %e: i32,
                        %c: i32, %u: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c64 = arith.constant 64 : index
    %expert = arith.index_cast %e : i32 to index
    %col = arith.index_cast %c : i32 to index
    %up = arith.index_cast %u : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      %sum = moek.acc_add_cols %acc, %bias[%expert, %col] upper(%up) {element_type = bf16, ld = 768 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
      moek.store_acc %sum, %out[%c0, %c0] row_limit(%c64) {element_type = bf16, ld = 256 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
  llvm.func @bf16_in_row(%bias: !llvm.ptr<1>, %out: !llvm.ptr<1>, %e: i32,
                         %c: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c64 = arith.constant 64 : index
    %expert = arith.index_cast %e : i32 to index
    %col = arith.index_cast %c : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x256xf32>
      %sum = moek.acc_add_cols %acc, %bias[%expert, %col] {element_type = bf16, in_row, ld = 1024 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
      moek.store_acc %sum, %out[%c0, %c0] row_limit(%c64) {element_type = bf16, ld = 256 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
  llvm.func @f32_cols(%bias: !llvm.ptr<1>, %out: !llvm.ptr<1>, %e: i32,
                      %c: i32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c64 = arith.constant 64 : index
    %expert = arith.index_cast %e : i32 to index
    %col = arith.index_cast %c : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      %sum = moek.acc_add_cols %acc, %bias[%expert, %col] {element_type = f32, ld = 2880 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
      moek.store_acc %sum, %out[%c0, %c0] row_limit(%c64) {element_type = f32, ld = 128 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
  llvm.func @f32_scaled(%bias: !llvm.ptr<1>, %out: !llvm.ptr<1>, %e: i32,
                        %c: i32, %g: f32)
      attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>, nvvm.minctasm = 1 : i32} {
    %c0 = arith.constant 0 : index
    %c64 = arith.constant 64 : index
    %expert = arith.index_cast %e : i32 to index
    %col = arith.index_cast %c : i32 to index
    %buf = moek.smem_alloc {bytes = 65536 : i64} : !llvm.ptr<3>
    moek.warp_role "consumer" warpgroups(1, 2) max_regs(232) {
      %acc = moek.acc_load_smem %buf : !llvm.ptr<3> -> !moek.acc<64x128xf32>
      %sum = moek.acc_add_cols %acc, %bias[%expert, %col] scale(%g) {element_type = f32, in_row, ld = 2816 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
      moek.store_acc %sum, %out[%c0, %c0] row_limit(%c64) {element_type = f32, ld = 128 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    }
    llvm.return
  }
}
