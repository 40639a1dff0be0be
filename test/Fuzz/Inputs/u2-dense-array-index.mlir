// U2 (docs/Robustness.md): upstream MLIR 22 segfaults parsing a dense
// array attribute of index elements; the fuzz target, like the tools,
// refuses it before parsing (moe/ParserGuard.h).
func.func @f() attributes {a = array<index: 1>} {
  return
}
