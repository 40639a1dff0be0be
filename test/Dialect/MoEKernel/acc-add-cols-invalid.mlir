// RUN: moe-opt %s -split-input-file -verify-diagnostics -o /dev/null

// moek.acc_add_cols rejects what its lowering cannot load: an odd row
// length (the columns come in pairs), an element type other than f32 or
// bf16, `upper` on an accumulator without two halves of whole 8-column
// groups.

func.func @odd_ld(%acc: !moek.acc<64x128xf32>, %bias: !llvm.ptr<1>, %i: index) -> !moek.acc<64x128xf32> {
  // expected-error @+1 {{'moek.acc_add_cols' op expects a positive even ld (the columns are loaded in pairs), got 2879}}
  %r = moek.acc_add_cols %acc, %bias[%i, %i] {element_type = f32, ld = 2879 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return %r : !moek.acc<64x128xf32>
}

// -----

func.func @f16(%acc: !moek.acc<64x128xf32>, %bias: !llvm.ptr<1>, %i: index) -> !moek.acc<64x128xf32> {
  // expected-error @+1 {{'moek.acc_add_cols' op expects element_type f32 or bf16, got 'f16'}}
  %r = moek.acc_add_cols %acc, %bias[%i, %i] {element_type = f16, ld = 128 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
  return %r : !moek.acc<64x128xf32>
}

// -----

func.func @upper_narrow(%acc: !moek.acc<64x8xf32>, %bias: !llvm.ptr<1>, %i: index) -> !moek.acc<64x8xf32> {
  // expected-error @+1 {{'moek.acc_add_cols' op expects an accumulator whose columns are a multiple of 16 with `upper` (two halves), got '!moek.acc<64x8xf32>'}}
  %r = moek.acc_add_cols %acc, %bias[%i, %i] upper(%i) {element_type = f32, ld = 128 : i64} : !moek.acc<64x8xf32>, !llvm.ptr<1>
  return %r : !moek.acc<64x8xf32>
}
