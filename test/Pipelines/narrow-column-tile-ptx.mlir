// convert-moe-to-moek{narrow-tiles} (the default): the last column tile of
// an output narrower than the tiles takes narrower MMAs (moek.mma {cols}):
// wgmma m64nN over the tile's valid columns, the other N - n columns (which
// nobody stores) not computed. The full-width loop is kept for the other
// tiles; ptxas keeps both asynchronous.
//
// A fused layer of H = I = 320 with interleaved gate/up: GEMM1's tiles of
// 128 output columns (256 weight rows), the third one's first 128 rows
// valid (m64n128k16); GEMM2's tiles of 256 columns of y, the second one 64
// wide (m64n64k16).
// RUN: moe-opt --convert-moe-to-moek="chip=sm_90a" --moek-to-nvvm-pipeline=chip=sm_90a %s -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-ptx --chip=sm_90a %t.nvvm.mlir -o %t.ptx
// RUN: FileCheck %s < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="Performance Loss" --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// PTXAS-COUNT-3: 0 bytes spill stores, 0 bytes spill loads

// CHECK-LABEL: .entry fm_fused_moe_0(
// CHECK-DAG:   wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16
// CHECK-DAG:   wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-DAG:   wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
//
// A grouped matmul of N = 200: 128-column tiles, the second one 72 columns
// wide (m64n72k16), in the 128-row kernel and its 192-row variant.
// CHECK-LABEL: .entry n200_expert_matmul_0(
// CHECK-DAG:   wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-DAG:   wgmma.mma_async.sync.aligned.m64n72k16.f32.bf16.bf16
// CHECK-LABEL: .entry n200_expert_matmul_0_m192(
// CHECK-DAG:   wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-DAG:   wgmma.mma_async.sync.aligned.m64n72k16.f32.bf16.bf16

// Where the width is a multiple of the tiles (DeepSeek-V3's N = 4096), only
// full-width MMAs; and with narrow-tiles=false, none narrower either.
// RUN: moe-opt --convert-moe-to-moek="chip=sm_90a narrow-tiles=true" --moek-to-nvvm-pipeline=chip=sm_90a %examples/deepseek-v3-expert-matmul.mlir | moe-translate --moe-to-ptx --chip=sm_90a | grep -o "m64n[0-9]*k16" | sort -u | FileCheck %s --check-prefix=WHOLE
// RUN: moe-opt --convert-moe-to-moek="chip=sm_90a narrow-tiles=false" %s | FileCheck %s --check-prefix=OFF
// OFF-NOT: moek.mma {{.*}}{cols =
// WHOLE:     m64n256k16
// WHOLE-NOT: k16

// sm_100a with the MMA warpgroups' shape (single-issuer=false): the
// narrower moek.mma becomes a tcgen05.mma of that N (its instruction
// descriptor's N field), which ptxas accepts.
// RUN: moe-opt --convert-moe-to-moek="chip=sm_100a single-issuer=false narrow-tiles=true" %s | FileCheck %s --check-prefix=MOEK
// MOEK-LABEL:   llvm.func @fm_fused_moe_0(
// MOEK:         moek.mma {{.*}} {cols = 128 : i64}
// MOEK:         moek.mma {{.*}} {cols = 64 : i64}
// MOEK-LABEL:   llvm.func @n200_expert_matmul_0(
// MOEK:         moek.mma {{.*}} {cols = 72 : i64}
// MOEK-LABEL:   llvm.func @n200_expert_matmul_0_m192(
// MOEK-COUNT-3: moek.mma {{.*}} {cols = 72 : i64}
// RUN: moe-opt --convert-moe-to-moek="chip=sm_100a single-issuer=false narrow-tiles=true" --moek-to-nvvm-pipeline=chip=sm_100a %s -o %t.100.nvvm.mlir
// RUN: %if ptxas %{ moe-translate --moe-to-ptx --chip=sm_100a %t.100.nvvm.mlir -o %t.100.ptx && %ptxas -arch=sm_100a %t.100.ptx -o %t.100.cubin %}

func.func @n200(%x: tensor<?x512xbf16>, %w: tensor<8x200x512xbf16>, %o: tensor<9xi32>) -> tensor<?x200xbf16> {
  %y = moe.expert_matmul %x, %w, %o : (tensor<?x512xbf16>, tensor<8x200x512xbf16>, tensor<9xi32>) -> tensor<?x200xbf16>
  return %y : tensor<?x200xbf16>
}

func.func @fm(%x: tensor<?x320xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %w13: tensor<8x640x320xbf16>, %w2: tensor<8x320x320xbf16>) -> tensor<?x320xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout interleaved>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16} : (tensor<?x320xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x640x320xbf16>, tensor<8x320x320xbf16>) -> tensor<?x320xbf16>
  return %out : tensor<?x320xbf16>
}
