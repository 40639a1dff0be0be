// RUN: moe-opt %s -split-input-file -verify-diagnostics -o /dev/null

// moek.acc_add_cols rejects what its lowering cannot load: an odd row
// length (the columns come in pairs), an element type other than f32 or
// bf16, `upper` on an accumulator without two halves of whole 8-column
// groups; the tensor-memory epilogues' bias without its type or row
// length.

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

// -----

// The tensor-memory epilogue's bias needs its element type and row length.
func.func @rows_bias_type(%accs: !moek.acc_ring<2, 128x256xf32>, %out: !llvm.ptr<1>, %bias: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.acc_store_rows' op expects bias_type f32 or bf16 with a bias, got 'f16'}}
  moek.acc_store_rows %accs[%i] cols(%i, 128), %out[%i, %i] row_limit(%i) bias(%bias[%i]) {bias_ld = 256 : i64, bias_type = f16, element_type = bf16, ld = 256 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
  return
}

// -----

func.func @act_rows_bias_ld(%accs: !moek.acc_ring<2, 128x256xf32>, %out: !llvm.ptr<1>, %bias: !llvm.ptr<1>, %i: index) {
  // expected-error @+1 {{'moek.acc_store_act_rows' op expects a positive bias_ld with a bias}}
  moek.acc_store_act_rows %accs[%i] cols(%i, 64), %out[%i, %i] row_limit(%i) bias(%bias[%i]) {activation = "swiglu", bias_type = bf16, element_type = bf16, gemm1_type = bf16, ld = 128 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
  return
}
