// A fused layer of bf16 rows and MXFP4 weights (e2m1 with a UE8M0 scale per
// 1x32 block, no quantized activation): the bf16 fused kernel with a third
// tile per stage, the packed weights as TMA copies them (32 bytes a row,
// unswizzled), which both MMA warpgroups expand into the bf16 weight tile
// with moek.dequant_fp4 (named barrier 7 over their 256 threads) before
// their MMAs; three stages (four 56 KB stages and the kernel's static
// shared memory exceed 227 KB). GEMM1's tile is the gate's 128 rows and the
// up's 128 (I rows further, concatenated): the expansion reads the up
// rows' scales from there (`upper`). The kernel takes the two scale
// tensors after the router weights.
// RUN: moe-opt %s --convert-moe-to-moek | FileCheck %s
// RUN: moe-opt %s --convert-moe-to-moek | moe-opt -o /dev/null
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_90a" --moek-to-nvvm-pipeline=chip=sm_90a | moe-translate --moe-to-ptx --chip=sm_90a -o %t.sm90a.ptx
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_100a" --moek-to-nvvm-pipeline=chip=sm_100a | moe-translate --moe-to-ptx --chip=sm_100a -o %t.sm100a.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.sm90a.ptx
// RUN: moe-opt %s --convert-moe-to-moek="chip=sm_90a" --convert-moek-to-nvvm="chip=sm_90a" -o %t.nvvm.mlir
// RUN: FileCheck %s --check-prefix=NVVM < %t.nvvm.mlir
// RUN: grep -A1 'llvm.icmp "uge"' %t.nvvm.mlir | grep -c arith.index_cast | FileCheck %s --check-prefix=NVVM-COUNT
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.sm90a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: %if ptxas %{ %ptxas -arch=sm_100a -v %t.sm100a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}

// CHECK-LABEL: func.func @fm
// CHECK:         moek.launch @moe_kernels::@fm_fused_moe_0(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6)
// CHECK:       llvm.func @fm_fused_moe_0(
// CHECK-SAME:    {box = [64, 128], inner = 512 : i64, kind = "tma", operand = 3 : i64, rows = 4096 : i64, swizzle = 0 : i64, view = "[E*2I, H]"}, {box = [64, 128], inner = 256 : i64, kind = "tma", operand = 4 : i64, rows = 4096 : i64, swizzle = 0 : i64, view = "[E*H, I]"}
// CHECK-SAME:    {kind = "ptr", operand = 0 : i64}, {kind = "ptr", operand = 1 : i64}, {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 5 : i64}, {kind = "ptr", operand = 6 : i64}, {kind = "ptr", result = 0 : i64}
// CHECK:         moek.ring_alloc consumers(256) : !moek.ring<3, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>, memref<256x64xf4E2M1FN, 3>]>
// CHECK:         moek.warp_role "producer"
// The gate's and the up's packed boxes into tile 2 (GEMM1), then w2's two.
// CHECK:           moek.tma_load %arg0[%{{.+}}, %[[GATE:.+]]] -> %{{.+}} tile 2 :
// CHECK-NEXT:      moek.tma_load %arg0[%{{.+}}, %[[UP:.+]]] -> %{{.+}} tile 2 {row_offset = 128 : i64}
// CHECK:           moek.tma_load %arg1[%{{.+}}, %{{.+}}] -> %{{.+}} tile 2 :
// CHECK-NEXT:      moek.tma_load %arg1[%{{.+}}, %{{.+}}] -> %{{.+}} tile 2 {row_offset = 128 : i64}
// CHECK:         moek.warp_role "consumer"
// GEMM1: w13's scales (arg 7, [E * 2I, H / 32]), the up rows' from `upper`.
// CHECK:           moek.dequant_fp4 %{{.+}} from 2 to 1 scales(%arg7[%{{.+}}, %{{.+}}]) upper(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 16 : i64, scale_rows = 4096 : i64, threads = 256 : i64}
// CHECK:           moek.mma
// GEMM2: w2's (arg 8, [E * H, I / 32]).
// CHECK:           moek.dequant_fp4 %{{.+}} from 2 to 1 scales(%arg8[%{{.+}}, %{{.+}}]) upper(%{{.+}}) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 4096 : i64, threads = 256 : i64}
// CHECK:           moek.mma

// moek.dequant_fp4 upper(%u): row r of the 256-row tile reads the scales
// of row (r < 128 ? row + r : u + r - 128), clamped to the last of E * 2I
// (GEMM1) or E * H (GEMM2) = 4096 rows: 8 times (GEMM1 and GEMM2, each in
// the MMA loop and the pass loop of a warpgroup without rows, two 32-value
// blocks a thread).
// NVVM-COUNT: {{^8$}}
// NVVM:         %[[UPPER:[0-9]+]] = llvm.icmp "uge" %[[R:[0-9]+]], %[[HALF:[0-9]+]] : i32
// NVVM-NEXT:    %[[U:[0-9]+]] = arith.index_cast %{{[0-9]+}} : index to i64
// NVVM-NEXT:    %[[BASE:[0-9]+]] = llvm.select %[[UPPER]], %[[U]], %{{[0-9]+}} : i1, i64
// NVVM-NEXT:    %[[HALF2:[0-9]+]] = llvm.mlir.constant(128 : i32) : i32
// NVVM-NEXT:    %[[R_UP:[0-9]+]] = llvm.sub %[[R]], %[[HALF2]] : i32
// NVVM-NEXT:    %[[IDX:[0-9]+]] = llvm.select %[[UPPER]], %[[R_UP]], %[[R]] : i1, i32
// NVVM-NEXT:    %[[IDX64:[0-9]+]] = llvm.zext %[[IDX]] : i32 to i64
// NVVM-NEXT:    %[[SROW:[0-9]+]] = llvm.add %[[BASE]], %[[IDX64]] : i64
// NVVM-NEXT:    %[[LAST:[0-9]+]] = llvm.mlir.constant(4095 : i64) : i64
// NVVM-NEXT:    llvm.intr.umin(%[[SROW]], %[[LAST]]) : (i64, i64) -> i64

// The expansion: the row's scale chosen by its half of the tile (selp),
// times 2^126 and the scale, the proxy fence and barrier 7.
// PTX:     mul.rn.bf16x2
// PTX:     fence.proxy.async.shared::cta
// PTX-NEXT: barrier.sync 7, 256
// PTX:     wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16

// PTXAS: 0 bytes spill stores, 0 bytes spill loads
func.func @fm(%x: tensor<?x512xbf16>, %ids: tensor<?x2xi32>,
              %w: tensor<?x2xf32>, %w13: tensor<8x512x512xf4E2M1FN>,
              %w2: tensor<8x512x256xf4E2M1FN>,
              %w13s: tensor<8x512x16xf8E8M0FNU>,
              %w2s: tensor<8x512x8xf8E8M0FNU>) -> tensor<?x512xbf16> {
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {activation = #moe<activation swiglu>, gate_up_layout = #moe<gate_up_layout concat>, router_weight = #moe<router_weight in_combine>, gemm1_type = bf16, act_type = bf16, gemm2_type = bf16, w13_quant = #moe.quant<mxfp4, block = [1, 32]>, w2_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x512xbf16>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<8x512x512xf4E2M1FN>, tensor<8x512x256xf4E2M1FN>, tensor<8x512x16xf8E8M0FNU>, tensor<8x512x8xf8E8M0FNU>) -> tensor<?x512xbf16>
  return %out : tensor<?x512xbf16>
}
