// RUN: moe-opt %s -split-input-file -verify-diagnostics
// Regression tests of fuzzer findings (docs/Robustness.md, F1, F2, F5): sizes
// whose products overflow int64 made the verifiers compute T*K, 2*I and
// E+1 with signed overflow (UBSan: MoEOps.cpp mul() and checkOffsets()).
// Now the sizes are checked first; 2*I that does not fit is treated as
// unknown.

// F1: T*K overflows int64 in moe.dispatch.
func.func @f1_dispatch_rows_overflow(%x: tensor<4611686018427387904x4xf32>, %ids: tensor<4611686018427387904x4xi32>, %w: tensor<4611686018427387904x4xf32>) {
  // expected-error @+1 {{'moe.dispatch' op expects T*K rows to fit i32 row indices (slot_map and offsets are i32), got T = 4611686018427387904, K = 4}}
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<4611686018427387904x4xf32>, tensor<4611686018427387904x4xi32>, tensor<4611686018427387904x4xf32> -> tensor<?x4xf32>, tensor<5xi32>, tensor<4611686018427387904x4xi32>, tensor<?xf32>
  return
}

// -----

// F1: T*K overflows int64 in moe.combine.
func.func @f1_combine_rows_overflow(%rows: tensor<?x4xf32>, %slots: tensor<4611686018427387904x4xi32>) {
  // expected-error @+1 {{'moe.combine' op expects T*K rows to fit i32 row indices (slot_map and offsets are i32), got T = 4611686018427387904, K = 4}}
  %out = moe.combine %rows, %slots : (tensor<?x4xf32>, tensor<4611686018427387904x4xi32>) -> tensor<4611686018427387904x4xf32>
  return
}

// -----

// F1: T*K overflows int64 in moe.fused_moe.
func.func @f1_fused_rows_overflow(%x: tensor<4611686018427387904x4xf32>, %ids: tensor<4611686018427387904x2xi32>, %w: tensor<4611686018427387904x2xf32>, %w13: tensor<8x8x4xf32>, %w2: tensor<8x4x4xf32>) {
  // expected-error @+1 {{'moe.fused_moe' op expects T*K rows to fit i32 row indices (slot_map and offsets are i32), got T = 4611686018427387904, K = 2}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<4611686018427387904x4xf32>, tensor<4611686018427387904x2xi32>, tensor<4611686018427387904x2xf32>, tensor<8x8x4xf32>, tensor<8x4x4xf32>) -> tensor<4611686018427387904x4xf32>
  return
}

// -----

// F1: 2*I overflows int64 (moe.activation with a dynamic input): I is
// treated as unknown, no overflow; the op verifies.
func.func @f1_activation_two_i_overflow(%h: tensor<?x?xbf16>) {
  %a = moe.activation swiglu(concat) %h : (tensor<?x?xbf16>) -> tensor<?x4611686018427387904xbf16>
  return
}

// -----

// F1: 2*I overflows int64 in moe.fused_moe (w13 dynamic, w2 huge).
func.func @f1_fused_two_i_overflow(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x?x4xf32>, %w2: tensor<8x4x4611686018427387904xf32>) {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x?x4xf32>, tensor<8x4x4611686018427387904xf32>) -> tensor<?x4xf32>
  return
}

// -----

// F2: E = INT64_MAX experts in moe.expert_matmul: E+1 overflowed.
func.func @f2_matmul_offsets_overflow(%x: tensor<?x4xf32>, %w: tensor<9223372036854775807x4x4xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects E < 2^31 - 1 (offsets are i32), got 9223372036854775807}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x4xf32>, tensor<9223372036854775807x4x4xf32>, tensor<9xi32>) -> tensor<?x4xf32>
  return
}

// -----

// F2: the same bound on the fused op's E.
func.func @f2_fused_huge_e(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<9223372036854775807x8x4xf32>, %w2: tensor<9223372036854775807x4x4xf32>) {
  // expected-error @+1 {{'moe.fused_moe' op expects E < 2^31 - 1 (offsets are i32), got 9223372036854775807}}
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = f32, act_type = f32, gemm2_type = f32} : (tensor<?x4xf32>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<9223372036854775807x8x4xf32>, tensor<9223372036854775807x4x4xf32>) -> tensor<?x4xf32>
  return
}

// -----

// F5: moe.expert_matmul read dimension 0 and 1 of its result before checking
// its rank (assertion in getDimSize; out-of-bounds read in release builds).
func.func @f5_matmul_out_rank(%x: tensor<?x4xf32>, %w: tensor<8x4x4xf32>, %offsets: tensor<9xi32>) {
  // expected-error @+1 {{'moe.expert_matmul' op expects out of rank 2 [M, N], got 'tensor<4xf32>'}}
  %h = moe.expert_matmul %x, %w, %offsets : (tensor<?x4xf32>, tensor<8x4x4xf32>, tensor<9xi32>) -> tensor<4xf32>
  return
}

// -----

// F5: the same in moe.combine.
func.func @f5_combine_out_rank(%rows: tensor<?x4xf32>, %slots: tensor<?x2xi32>) {
  // expected-error @+1 {{'moe.combine' op expects out of rank 2 [T, H], got 'tensor<f32>'}}
  %out = moe.combine %rows, %slots : (tensor<?x4xf32>, tensor<?x2xi32>) -> tensor<f32>
  return
}

// -----

// K1 (found by moe-fuzz): a ring tile whose memory space is not an integer
// made RingType::verify read it as one (a crash); now a diagnostic.
// expected-error @+1 {{!moek.ring expects static 2-D tiles in shared memory (memref<RxCxT, 3>)}}
func.func @k1_ring_memory_space_not_integer(%r: !moek.ring<4, [memref<128x64xbf16, #moe<router_weight none>>]>) {
  return
}
