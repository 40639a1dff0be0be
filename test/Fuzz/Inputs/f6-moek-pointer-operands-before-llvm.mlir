// moek.combine's operands are global pointers, a type the parser builds
// itself: with no LLVM type seen before it, the LLVM dialect was not loaded
// and building the type crashed (a null dereference in the type uniquer).
// The moek dialect now loads the LLVM dialect; this is a type error.
func.func @f(%t: index) {
  moek.combine %t, %t out(%t) tokens(%t) {top_k = 2 : i64, hidden = 512 : i64, y_type = bf16, element_type = bf16, first_thread = 128 : i64, threads = 256 : i64}
  return
}
