// A dense array attribute of index elements crashes MLIR 22's parser (U2 of
// docs/Robustness.md): moe-opt (a file or standard input), moe-run,
// moe-translate and moe-jit refuse it with an error at its place before
// parsing. Comments, strings and longer names that only contain
// `array<index` are not refused (the second file parses).
// RUN: not moe-opt %s 2>&1 | FileCheck %s
// RUN: not moe-opt < %s 2>&1 | FileCheck %s --check-prefix=STDIN
// STDIN: <stdin>:[[# @LINE + 13]]:47: error: a dense array attribute of 'index' elements
// RUN: not moe-run %s --tokens=1 2>&1 | FileCheck %s
// RUN: not moe-translate --moe-to-layer-json %s 2>&1 | FileCheck %s
// CHECK: parser-guard.mlir:[[# @LINE + 10]]:47: error: a dense array attribute of 'index' elements is not supported: MLIR 22's parser crashes on it (docs/Robustness.md, U2); write its elements as i64 (array<i64: ...>)
// CHECK-NEXT: {{^}}    attributes {note = "array<index: 1>", a = array< index : 1, 2>} {
// CHECK-NEXT: {{^}} ^{{$}}
// RUN: not moe-jit %s --cache-dir=%t 2>&1 | FileCheck %s --check-prefix=JIT
// JIT: error: moe-jit: the layer does not parse:
// JIT-NEXT: loc("{{.*}}parser-guard.mlir":[[# @LINE + 5]]:47): a dense array attribute of 'index' elements
// RUN: moe-opt %S/Inputs/parser-guard-accepted.mlir | FileCheck %s --check-prefix=ACCEPTED
// ACCEPTED: func.func @accepted(%arg0: !llvm.array<2 x i64>) attributes {a = array<i64: 1>, b = "array<index>", c = array<i64: 1>}

func.func @f()
    attributes {note = "array<index: 1>", a = array< index : 1, 2>} {
  return
}
