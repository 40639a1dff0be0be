// REQUIRES: mlir-runner
// The tile order of moek.grouped_tile, executed on the CPU: the decoding is
// plain index arithmetic once lowered, so it runs through mlir-runner.
// RUN: moe-opt --convert-moek-to-nvvm %s \
// RUN:   | mlir-opt --convert-scf-to-cf --convert-to-llvm --reconcile-unrealized-casts \
// RUN:   | mlir-runner -e main -entry-point-result=void --shared-libs=%mlir_c_runner_utils \
// RUN:   | FileCheck %s

// Offsets [0, 300, 300, 1400]: expert 0 has 300 rows (3 row blocks of 128,
// one group of 3), expert 1 none, expert 2 has 1100 rows (9 row blocks:
// groups of 4, 4 and 1). Two column blocks. Within a group the row block
// runs fastest; the 24 tiles cover every (row block, column block) once.
// CHECK:      0, 0, 0
// CHECK-NEXT: 0, 128, 0
// CHECK-NEXT: 0, 256, 0
// CHECK-NEXT: 0, 0, 1
// CHECK-NEXT: 0, 128, 1
// CHECK-NEXT: 0, 256, 1
// CHECK-NEXT: 2, 300, 0
// CHECK-NEXT: 2, 428, 0
// CHECK-NEXT: 2, 556, 0
// CHECK-NEXT: 2, 684, 0
// CHECK-NEXT: 2, 300, 1
// CHECK-NEXT: 2, 428, 1
// CHECK-NEXT: 2, 556, 1
// CHECK-NEXT: 2, 684, 1
// CHECK-NEXT: 2, 812, 0
// CHECK-NEXT: 2, 940, 0
// CHECK-NEXT: 2, 1068, 0
// CHECK-NEXT: 2, 1196, 0
// CHECK-NEXT: 2, 812, 1
// CHECK-NEXT: 2, 940, 1
// CHECK-NEXT: 2, 1068, 1
// CHECK-NEXT: 2, 1196, 1
// CHECK-NEXT: 2, 1324, 0
// CHECK-NEXT: 2, 1324, 1
// CHECK-NOT:  {{[0-9]}}

func.func private @printI64(i64)
func.func private @printNewline()
func.func private @printComma()

// (expert, first row, column block) of tile %t64.
llvm.func @decode(%offsets: !llvm.ptr, %t64: i64) -> !llvm.struct<(i64, i64, i64)> {
  %t = arith.index_cast %t64 : i64 to index
  %e, %row, %end, %col = moek.grouped_tile %offsets[%t] {num_experts = 3 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64, row_group = 4 : i64} : !llvm.ptr
  %e64 = arith.index_cast %e : index to i64
  %r64 = arith.index_cast %row : index to i64
  %c64 = arith.index_cast %col : index to i64
  %u = llvm.mlir.undef : !llvm.struct<(i64, i64, i64)>
  %s0 = llvm.insertvalue %e64, %u[0] : !llvm.struct<(i64, i64, i64)>
  %s1 = llvm.insertvalue %r64, %s0[1] : !llvm.struct<(i64, i64, i64)>
  %s2 = llvm.insertvalue %c64, %s1[2] : !llvm.struct<(i64, i64, i64)>
  llvm.return %s2 : !llvm.struct<(i64, i64, i64)>
}

func.func @main() {
  %c1 = llvm.mlir.constant(1 : i64) : i64
  %buf = llvm.alloca %c1 x !llvm.array<4 x i32> : (i64) -> !llvm.ptr
  %o = llvm.mlir.constant(dense<[0, 300, 300, 1400]> : tensor<4xi32>) : !llvm.array<4 x i32>
  llvm.store %o, %buf : !llvm.array<4 x i32>, !llvm.ptr
  %lb = arith.constant 0 : index
  %ub = arith.constant 24 : index
  %step = arith.constant 1 : index
  scf.for %t = %lb to %ub step %step {
    %ti = arith.index_cast %t : index to i64
    %r = llvm.call @decode(%buf, %ti) : (!llvm.ptr, i64) -> !llvm.struct<(i64, i64, i64)>
    %e = llvm.extractvalue %r[0] : !llvm.struct<(i64, i64, i64)>
    %row = llvm.extractvalue %r[1] : !llvm.struct<(i64, i64, i64)>
    %col = llvm.extractvalue %r[2] : !llvm.struct<(i64, i64, i64)>
    func.call @printI64(%e) : (i64) -> ()
    func.call @printComma() : () -> ()
    func.call @printI64(%row) : (i64) -> ()
    func.call @printComma() : () -> ()
    func.call @printI64(%col) : (i64) -> ()
    func.call @printNewline() : () -> ()
  }
  return
}
