// REQUIRES: mlir-runner
// moek.grouped_tile_count and moek.grouped_tile with tail_rows = 16,
// executed on the CPU (plain index arithmetic once lowered): an expert's
// last row block of at most 16 rows past a full block of 128 joins the
// block before, whose row_end then lies up to 144 rows past its row.
// RUN: moe-opt --convert-moek-to-nvvm %s \
// RUN:   | mlir-opt --convert-scf-to-cf --convert-to-llvm --reconcile-unrealized-casts \
// RUN:   | mlir-runner -e main -entry-point-result=void --shared-libs=%mlir_c_runner_utils \
// RUN:   | FileCheck %s

// Offsets [0, 144, 145, 289, 305, 578]: experts of 144 rows (one block,
// its last 16 rows absorbed), 1 row, 144 rows, 16 rows (one block each)
// and 273 rows (273 - 16 = 257: three blocks, the last of 17 rows, not
// absorbed). Two column blocks, row groups of 2: 7 blocks, 14 tiles
// (without tail_rows: 9 blocks, 18 tiles).
// CHECK:      14
// CHECK-NEXT: 0, 0, 144, 0
// CHECK-NEXT: 0, 0, 144, 1
// CHECK-NEXT: 1, 144, 145, 0
// CHECK-NEXT: 1, 144, 145, 1
// CHECK-NEXT: 2, 145, 289, 0
// CHECK-NEXT: 2, 145, 289, 1
// CHECK-NEXT: 3, 289, 305, 0
// CHECK-NEXT: 3, 289, 305, 1
// CHECK-NEXT: 4, 305, 578, 0
// CHECK-NEXT: 4, 433, 578, 0
// CHECK-NEXT: 4, 305, 578, 1
// CHECK-NEXT: 4, 433, 578, 1
// CHECK-NEXT: 4, 561, 578, 0
// CHECK-NEXT: 4, 561, 578, 1
// CHECK-NOT:  {{[0-9]}}

func.func private @printI64(i64)
func.func private @printNewline()
func.func private @printComma()

// In a nested block: at a function's top level the count would build a
// tile table in shared memory (a kernel's, thread 0's).
llvm.func @count(%offsets: !llvm.ptr) -> i64 {
  %true = arith.constant true
  %n = scf.if %true -> (index) {
    %c = moek.grouped_tile_count %offsets {num_experts = 5 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64, tail_rows = 16 : i64} : !llvm.ptr
    scf.yield %c : index
  } else {
    %z = arith.constant 0 : index
    scf.yield %z : index
  }
  %n64 = arith.index_cast %n : index to i64
  llvm.return %n64 : i64
}

// (expert, first row, row end, column block) of tile %t64.
llvm.func @decode(%offsets: !llvm.ptr, %t64: i64) -> !llvm.struct<(i64, i64, i64, i64)> {
  %t = arith.index_cast %t64 : i64 to index
  %e, %row, %end, %col = moek.grouped_tile %offsets[%t] {num_experts = 5 : i64, tile_rows = 128 : i64, col_tiles = 2 : i64, row_group = 2 : i64, tail_rows = 16 : i64} : !llvm.ptr
  %e64 = arith.index_cast %e : index to i64
  %r64 = arith.index_cast %row : index to i64
  %end64 = arith.index_cast %end : index to i64
  %c64 = arith.index_cast %col : index to i64
  %u = llvm.mlir.undef : !llvm.struct<(i64, i64, i64, i64)>
  %s0 = llvm.insertvalue %e64, %u[0] : !llvm.struct<(i64, i64, i64, i64)>
  %s1 = llvm.insertvalue %r64, %s0[1] : !llvm.struct<(i64, i64, i64, i64)>
  %s2 = llvm.insertvalue %end64, %s1[2] : !llvm.struct<(i64, i64, i64, i64)>
  %s3 = llvm.insertvalue %c64, %s2[3] : !llvm.struct<(i64, i64, i64, i64)>
  llvm.return %s3 : !llvm.struct<(i64, i64, i64, i64)>
}

func.func @main() {
  %c1 = llvm.mlir.constant(1 : i64) : i64
  %buf = llvm.alloca %c1 x !llvm.array<6 x i32> : (i64) -> !llvm.ptr
  %o = llvm.mlir.constant(dense<[0, 144, 145, 289, 305, 578]> : tensor<6xi32>) : !llvm.array<6 x i32>
  llvm.store %o, %buf : !llvm.array<6 x i32>, !llvm.ptr
  %n = llvm.call @count(%buf) : (!llvm.ptr) -> i64
  func.call @printI64(%n) : (i64) -> ()
  func.call @printNewline() : () -> ()
  %lb = arith.constant 0 : index
  %ub = arith.index_cast %n : i64 to index
  %step = arith.constant 1 : index
  scf.for %t = %lb to %ub step %step {
    %ti = arith.index_cast %t : index to i64
    %r = llvm.call @decode(%buf, %ti) : (!llvm.ptr, i64) -> !llvm.struct<(i64, i64, i64, i64)>
    %e = llvm.extractvalue %r[0] : !llvm.struct<(i64, i64, i64, i64)>
    %row = llvm.extractvalue %r[1] : !llvm.struct<(i64, i64, i64, i64)>
    %end = llvm.extractvalue %r[2] : !llvm.struct<(i64, i64, i64, i64)>
    %col = llvm.extractvalue %r[3] : !llvm.struct<(i64, i64, i64, i64)>
    func.call @printI64(%e) : (i64) -> ()
    func.call @printComma() : () -> ()
    func.call @printI64(%row) : (i64) -> ()
    func.call @printComma() : () -> ()
    func.call @printI64(%end) : (i64) -> ()
    func.call @printComma() : () -> ()
    func.call @printI64(%col) : (i64) -> ()
    func.call @printNewline() : () -> ()
  }
  return
}
