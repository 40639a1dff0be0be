// array<index> in a comment, a string and names that end in `array`:
// parsed as usual (test/Tools/parser-guard.mlir).
#my_array = array<i64: 1>
func.func @accepted(%arg0: !llvm.array<2 x i64>)
    attributes {a = #my_array, b = "array<index>", c = #my_array} {
  return
}
