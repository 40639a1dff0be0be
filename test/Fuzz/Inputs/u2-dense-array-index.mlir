// U2 (docs/Robustness.md): upstream MLIR 22 segfaults parsing a dense
// array attribute of index elements; the fuzz target excludes it.
func.func @f() attributes {a = array<index: 1>} {
  return
}
