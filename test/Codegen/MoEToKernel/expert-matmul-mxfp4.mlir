// bf16 rows by MXFP4 weights (e2m1, a UE8M0 scale per 1x32 block): the
// bf16 kernel with a third tile per stage. The producer copies each 64-wide
// K slice of the packed weights (32 bytes a row, unswizzled; the descriptor
// counts bytes, so the slice's coordinate is 32 per slice) into tile 2;
// both MMA warpgroups wait for the stage, expand tile 2 into tile 1 (bf16,
// 128B swizzle) with moek.dequant_fp4 (half the chunks each, named barrier
// 7 over their 256 threads), then multiply as the bf16 kernel does. A
// warpgroup without rows in a tile still expands its share.
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek -verify-diagnostics | FileCheck %s
// The generated kernel parses back (a packed FP4 ring tile is 32 bytes a row).
// RUN: moe-opt %s -split-input-file --convert-moe-to-moek 2>/dev/null | moe-opt -split-input-file -o /dev/null
// RUN: not moe-opt %s --convert-moe-to-moek="schedule=pingpong" 2>&1 | FileCheck %s --check-prefix=PINGERR
// RUN: not moe-opt %s --convert-moe-to-moek="tile-n=256" 2>&1 | FileCheck %s --check-prefix=PINGERR
// The PTX for both chips, through ptxas with no spill.
// RUN: %if ptxas %{ moe-opt %s --split-input-file --moe-to-nvvm-pipeline=chip=sm_90a 2>/dev/null | awk '/^\/\/ -----/{exit} {print}' | moe-translate --moe-to-ptx --chip=sm_90a -o %t.sm90a.ptx && %ptxas -arch=sm_90a -v %t.sm90a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: %if ptxas %{ moe-opt %s --split-input-file --moe-to-nvvm-pipeline=chip=sm_100a 2>/dev/null | awk '/^\/\/ -----/{exit} {print}' | moe-translate --moe-to-ptx --chip=sm_100a -o %t.sm100a.ptx && %ptxas -arch=sm_100a -v %t.sm100a.ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=PTXAS --implicit-check-not="{{[1-9][0-9]*}} bytes spill" %}
// RUN: %if ptxas %{ FileCheck %s --check-prefix=PTX < %t.sm90a.ptx %}

// CHECK-LABEL: func.func @mxfp4
// CHECK:         moek.launch @moe_kernels::@mxfp4_expert_matmul_0(%arg0, %arg1, %arg2, %arg3)
// CHECK:       llvm.func @mxfp4_expert_matmul_0(
// CHECK-SAME:    {box = [64, 128], inner = 256 : i64, kind = "tma", operand = 1 : i64, rows = 2048 : i64, swizzle = 0 : i64, view = "[E*N, K]"}, {kind = "ptr", operand = 2 : i64}, {kind = "ptr", operand = 3 : i64}, {kind = "ptr", result = 0 : i64}, {kind = "workspace"}]
// CHECK:         %[[RING:.+]] = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>, memref<128x64xf4E2M1FN, 3>]>
// CHECK:         moek.warp_role "producer"
// CHECK:           %[[C32:.+]] = arith.constant 32 : index
// CHECK:           %[[KB:.+]] = arith.muli %{{.+}}, %[[C32]] : index
// CHECK:           moek.tma_load %arg1[%[[KB]], %{{.+}}] -> %[[RING]][%{{.+}}] tile 2
// CHECK:         moek.warp_role "consumer"
// CHECK:           moek.ring_wait %[[RING]]
// CHECK:           moek.dequant_fp4 %[[RING]][%{{.+}}] from 2 to 1 scales(%arg3[%{{.+}}, %{{.+}}]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 8 : i64, scale_rows = 2048 : i64, threads = 256 : i64}
// CHECK:           moek.mma %[[RING]][%{{.+}}] a(0, %{{.+}}) b(1)
// The pass loop of a warpgroup without rows expands its share too.
// CHECK:           moek.ring_wait %[[RING]]
// CHECK:           moek.dequant_fp4
// CHECK-NEXT:      moek.ring_release
// CHECK:       llvm.func @mxfp4_expert_matmul_0_m256(

// PINGERR: error: convert-moe-to-moek: kernels of FP4 weights or MXFP8 operands use 128-wide tiles and the cooperative schedule

// Expanding a value: each packed byte alone (prmt), its two magnitudes to
// bf16 bits 6-8 and 22-24 and signs to 15 and 31 (2^-126 times the values),
// then for a block scale 2^(s - 127) with s <= 128 one multiplication by
// 2^(s - 1) (bf16 bits (s + 126) << 7 in both lanes), above by 2^126 and
// then the scale; the tile for the tensor cores after a proxy fence and
// the 256-thread barrier.
// PTX:     prmt.b32 [[BYTE:%r[0-9]+]], {{%r[0-9]+}}, 0, 0x4440U;
// PTX:     mul.lo.s32 {{%r[0-9]+}}, [[BYTE]], 262208;
// PTX:     setp.gt.u16 [[BIG:%p[0-9]+]], {{%rs[0-9]+}}, 128;
// PTX-NEXT: @[[BIG]] bra [[SLOW:\$L__BB[0-9_]+]];
// PTX-NEXT: mad.lo.s32 [[FACTOR:%r[0-9]+]], {{%r[0-9]+}}, 8388736, 1056980736;
// PTX-COUNT-16: mul.rn.bf16x2 {{%r[0-9]+}}, [[FACTOR]], {{%r[0-9]+}};
// PTX:     [[SLOW]]:
// PTX:     mov.b32 [[TWO126:%r[0-9]+]], 2122350208;
// PTX-NEXT: mul.rn.bf16x2 [[T:%r[0-9]+]], {{%r[0-9]+}}, [[TWO126]];
// PTX-NEXT: mul.rn.bf16x2 {{%r[0-9]+}}, [[T]], {{%r[0-9]+}};
// PTX:     fence.proxy.async.shared::cta
// PTX:     barrier.sync 7, 256

// PTXAS: 0 bytes spill stores, 0 bytes spill loads
func.func @mxfp4(%x: tensor<?x256xbf16>, %w: tensor<8x256x256xf4E2M1FN>, %offsets: tensor<9xi32>, %ws: tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16> {
  %y = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {w_quant = #moe.quant<mxfp4, block = [1, 32]>} : (tensor<?x256xbf16>, tensor<8x256x256xf4E2M1FN>, tensor<9xi32>, tensor<8x256x8xf8E8M0FNU>) -> tensor<?x256xbf16>
  return %y : tensor<?x256xbf16>
}
