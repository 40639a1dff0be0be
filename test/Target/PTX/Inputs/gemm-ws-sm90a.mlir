// The warp-specialised 4-stage TMA + wgmma GEMM that ran correctly on an H200
// (shared/research/wgmma-e2e.md): @gemm_ws as written by
// `shared/research/wgmma-e2e/gen_gemm.py 4 gemm.mlir` (its other two kernels
// dropped), moved from a module with llvm.target_triple into a gpu.module
// with an sm_90a #nvvm.target. Input of ../gemm-ws-sm90a.mlir.
module attributes {gpu.container_module} {
  gpu.module @gemm [#nvvm.target<chip = "sm_90a", features = "+ptx88">] {
    // dynamic shared memory (extern .shared [] in PTX); the kernels round its address up to 1024
    llvm.mlir.global external @dsmem() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
    // mbarriers (static shared): up to 2 x 8 stages
    llvm.mlir.global internal @bars() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<16 x i64>
    // ---------------------------------------------------------------------------------------
    // warp-specialised 4-stage kernel (wgmma wait_group 0):
    // 384 threads, grid (N/128, M/128), dyn smem = 4 x 32 KiB + 1 KiB slack.
    // bars[s] = full[s] (count 1 + tx bytes), bars[S+s] = empty[s] (count 256 = all consumer threads)
    llvm.func @gemm_ws(%tmapA: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant}, %tmapB: !llvm.ptr {llvm.byval = !llvm.array<128 x i8>, llvm.align = 64 : i64, nvvm.grid_constant},
                       %C: !llvm.ptr<1>, %M: i32, %N: i32, %K: i32)
        attributes {nvvm.kernel, nvvm.maxntid = array<i32: 384, 1, 1>} {
      %c0 = llvm.mlir.constant(0 : i32) : i32
      %c1 = llvm.mlir.constant(1 : i32) : i32
      %c2 = llvm.mlir.constant(2 : i32) : i32
      %c3 = llvm.mlir.constant(3 : i32) : i32
      %c4 = llvm.mlir.constant(4 : i32) : i32
      %c7 = llvm.mlir.constant(7 : i32) : i32
      %c8 = llvm.mlir.constant(8 : i32) : i32
      %c16 = llvm.mlir.constant(16 : i32) : i32
      %c32 = llvm.mlir.constant(32 : i32) : i32
      %c64 = llvm.mlir.constant(64 : i32) : i32
      %c127 = llvm.mlir.constant(127 : i32) : i32
      %c128 = llvm.mlir.constant(128 : i32) : i32
      %c256 = llvm.mlir.constant(256 : i32) : i32
      %c1023 = llvm.mlir.constant(1023 : i32) : i32
      %cm1024 = llvm.mlir.constant(-1024 : i32) : i32
      %c8192 = llvm.mlir.constant(8192 : i32) : i32
      %c16384 = llvm.mlir.constant(16384 : i32) : i32
      %c32768 = llvm.mlir.constant(32768 : i32) : i32
      %c0_i64 = llvm.mlir.constant(0 : i64) : i64
      %c2_i64 = llvm.mlir.constant(2 : i64) : i64
      %c4_i64 = llvm.mlir.constant(4 : i64) : i64
      %c6_i64 = llvm.mlir.constant(6 : i64) : i64
      %c16383_i64 = llvm.mlir.constant(16383 : i64) : i64
      %cdesc = llvm.mlir.constant(4611686293305360384 : i64) : i64
      %c8_i64e = llvm.mlir.constant(8 : i64) : i64
      %ctx = llvm.mlir.constant(32768 : i32) : i32
      %tid = nvvm.read.ptx.sreg.tid.x : i32
      %bx = nvvm.read.ptx.sreg.ctaid.x : i32
      %by = nvvm.read.ptx.sreg.ctaid.y : i32
      %n0 = llvm.mul %bx, %c128 : i32
      %m0 = llvm.mul %by, %c128 : i32
      %dyn = llvm.mlir.addressof @dsmem : !llvm.ptr<3>
      %dyni = llvm.ptrtoint %dyn : !llvm.ptr<3> to i32
      %dyn1 = llvm.add %dyni, %c1023 : i32
      %basei = llvm.and %dyn1, %cm1024 : i32
      %baseoff = llvm.sub %basei, %dyni : i32
      %base = llvm.getelementptr %dyn[%baseoff] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8
      %bars = llvm.mlir.addressof @bars : !llvm.ptr<3>
      %basei2 = llvm.ptrtoint %base : !llvm.ptr<3> to i32
      %KT = llvm.udiv %K, %c64 : i32
      %is0 = llvm.icmp "eq" %tid, %c0 : i32
      llvm.cond_br %is0, ^init, ^initdone
    ^init:
      %fb0 = llvm.getelementptr %bars[0] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
      nvvm.mbarrier.init %fb0, %c1 : !llvm.ptr<3>, i32
      %eb0 = llvm.getelementptr %bars[4] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
      nvvm.mbarrier.init %eb0, %c256 : !llvm.ptr<3>, i32
      %fb1 = llvm.getelementptr %bars[1] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
      nvvm.mbarrier.init %fb1, %c1 : !llvm.ptr<3>, i32
      %eb1 = llvm.getelementptr %bars[5] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
      nvvm.mbarrier.init %eb1, %c256 : !llvm.ptr<3>, i32
      %fb2 = llvm.getelementptr %bars[2] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
      nvvm.mbarrier.init %fb2, %c1 : !llvm.ptr<3>, i32
      %eb2 = llvm.getelementptr %bars[6] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
      nvvm.mbarrier.init %eb2, %c256 : !llvm.ptr<3>, i32
      %fb3 = llvm.getelementptr %bars[3] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
      nvvm.mbarrier.init %fb3, %c1 : !llvm.ptr<3>, i32
      %eb3 = llvm.getelementptr %bars[7] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i64
      nvvm.mbarrier.init %eb3, %c256 : !llvm.ptr<3>, i32
      nvvm.fence.mbarrier.init
      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
      llvm.br ^initdone
    ^initdone:
      nvvm.barrier0
      %wg = llvm.udiv %tid, %c128 : i32
      %isprod = llvm.icmp "eq" %wg, %c0 : i32
      llvm.cond_br %isprod, ^prod, ^cons
    // ---------------- producer: one thread issues all TMA loads
    ^prod:
      llvm.cond_br %is0, ^ploop(%c0 : i32), ^exit
    ^ploop(%pk: i32):
      %pdone = llvm.icmp "uge" %pk, %KT : i32
      llvm.cond_br %pdone, ^exit, ^pbody
    ^pbody:
      %ps = llvm.urem %pk, %c4 : i32
      %pr = llvm.udiv %pk, %c4 : i32
      %pr1 = llvm.and %pr, %c1 : i32
      %ppar = llvm.xor %pr1, %c1 : i32
      %pes = llvm.add %ps, %c4 : i32
      %pempty = llvm.getelementptr %bars[%pes] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64
      %pfull = llvm.getelementptr %bars[%ps] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64
      llvm.br ^pspin
    ^pspin:
      %pok = nvvm.mbarrier.try_wait %pempty, %ppar : !llvm.ptr<3>, i32 -> i1
      llvm.cond_br %pok, ^pissue, ^pspin
    ^pissue:
      %ptok = nvvm.mbarrier.arrive.expect_tx %pfull, %ctx : !llvm.ptr<3>, i32 -> i64
      %psoff = llvm.mul %ps, %c32768 : i32
      %pA = llvm.getelementptr %base[%psoff] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8
      %pB = llvm.getelementptr %pA[16384] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
      %pA7 = llvm.addrspacecast %pA : !llvm.ptr<3> to !llvm.ptr<7>
      %pB7 = llvm.addrspacecast %pB : !llvm.ptr<3> to !llvm.ptr<7>
      %kc = llvm.mul %pk, %c64 : i32
      nvvm.cp.async.bulk.tensor.shared.cluster.global %pA7, %tmapA, %pfull, box[%kc, %m0] : !llvm.ptr<7>, !llvm.ptr
      nvvm.cp.async.bulk.tensor.shared.cluster.global %pB7, %tmapB, %pfull, box[%kc, %n0] : !llvm.ptr<7>, !llvm.ptr
      %pk1 = llvm.add %pk, %c1 : i32
      llvm.br ^ploop(%pk1 : i32)
    // ---------------- consumers: warpgroup 1 -> rows 0..63, warpgroup 2 -> rows 64..127
    ^cons:
      %cw = llvm.sub %wg, %c1 : i32
      %aoff = llvm.mul %cw, %c8192 : i32
      %zero = llvm.mlir.zero : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      llvm.br ^cloop(%c0, %zero : i32, !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>)
    ^cloop(%kt: i32, %acc: !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>):
      %cdone = llvm.icmp "uge" %kt, %KT : i32
      llvm.cond_br %cdone, ^epi, ^cbody
    ^cbody:
      %s = llvm.urem %kt, %c4 : i32
      %r = llvm.udiv %kt, %c4 : i32
      %par = llvm.and %r, %c1 : i32
      %es = llvm.add %s, %c4 : i32
      %full = llvm.getelementptr %bars[%s] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64
      %empty = llvm.getelementptr %bars[%es] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i64
      %soff = llvm.mul %s, %c32768 : i32
      %sAi = llvm.add %basei2, %soff : i32
      %sAwi = llvm.add %sAi, %aoff : i32
      %sBi = llvm.add %sAi, %c16384 : i32
      %descA_a4 = llvm.lshr %sAwi, %c4 : i32
      %descA_a64 = llvm.zext %descA_a4 : i32 to i64
      %descA_am = llvm.and %descA_a64, %c16383_i64 : i64
      %descA = llvm.or %descA_am, %cdesc : i64
      %descB_a4 = llvm.lshr %sBi, %c4 : i32
      %descB_a64 = llvm.zext %descB_a4 : i32 to i64
      %descB_am = llvm.and %descB_a64, %c16383_i64 : i64
      %descB = llvm.or %descB_am, %cdesc : i64
      llvm.br ^cspin
    ^cspin:
      %ok = nvvm.mbarrier.try_wait %full, %par : !llvm.ptr<3>, i32 -> i1
      llvm.cond_br %ok, ^mma, ^cspin
    ^mma:
      nvvm.wgmma.fence.aligned
      %w_da0 = llvm.add %descA, %c0_i64 : i64
      %w_db0 = llvm.add %descB, %c0_i64 : i64
      %w_0 = nvvm.wgmma.mma_async %w_da0, %w_db0, %acc,
          #nvvm.shape<m = 64, n = 128, k = 16>,
          D [<f32>, #nvvm.wgmma_scale_out<one>],
          A [<bf16>, #nvvm.wgmma_scale_in<one>, <row>],
          B [<bf16>, #nvvm.wgmma_scale_in<one>, <col>]
          : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %w_da1 = llvm.add %descA, %c2_i64 : i64
      %w_db1 = llvm.add %descB, %c2_i64 : i64
      %w_1 = nvvm.wgmma.mma_async %w_da1, %w_db1, %w_0,
          #nvvm.shape<m = 64, n = 128, k = 16>,
          D [<f32>, #nvvm.wgmma_scale_out<one>],
          A [<bf16>, #nvvm.wgmma_scale_in<one>, <row>],
          B [<bf16>, #nvvm.wgmma_scale_in<one>, <col>]
          : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %w_da2 = llvm.add %descA, %c4_i64 : i64
      %w_db2 = llvm.add %descB, %c4_i64 : i64
      %w_2 = nvvm.wgmma.mma_async %w_da2, %w_db2, %w_1,
          #nvvm.shape<m = 64, n = 128, k = 16>,
          D [<f32>, #nvvm.wgmma_scale_out<one>],
          A [<bf16>, #nvvm.wgmma_scale_in<one>, <row>],
          B [<bf16>, #nvvm.wgmma_scale_in<one>, <col>]
          : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %w_da3 = llvm.add %descA, %c6_i64 : i64
      %w_db3 = llvm.add %descB, %c6_i64 : i64
      %w_3 = nvvm.wgmma.mma_async %w_da3, %w_db3, %w_2,
          #nvvm.shape<m = 64, n = 128, k = 16>,
          D [<f32>, #nvvm.wgmma_scale_out<one>],
          A [<bf16>, #nvvm.wgmma_scale_in<one>, <row>],
          B [<bf16>, #nvvm.wgmma_scale_in<one>, <col>]
          : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      %etok = nvvm.mbarrier.arrive %empty : !llvm.ptr<3> -> i64
      %kt1 = llvm.add %kt, %c1 : i32
      llvm.br ^cloop(%kt1, %w_3 : i32, !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>)
    ^epi:
      nvvm.wgmma.wait.group.sync.aligned 0
      %t = llvm.urem %tid, %c128 : i32
      %warp = llvm.udiv %t, %c32 : i32
      %lane = llvm.urem %t, %c32 : i32
      %wr = llvm.mul %warp, %c16 : i32
      %lr = llvm.udiv %lane, %c4 : i32
      %lc = llvm.urem %lane, %c4 : i32
      %lc2 = llvm.mul %lc, %c2 : i32
      %wgr = llvm.mul %cw, %c64 : i32
      %row_a = llvm.add %m0, %wgr : i32
      %row_b = llvm.add %row_a, %wr : i32
      %row = llvm.add %row_b, %lr : i32
      %col = llvm.add %n0, %lc2 : i32
      %N64 = llvm.zext %N : i32 to i64
      %r0_64 = llvm.zext %row : i32 to i64
      %c0_64 = llvm.zext %col : i32 to i64
      %rowoff0 = llvm.mul %r0_64, %N64 : i64
      %idx0 = llvm.add %rowoff0, %c0_64 : i64
      %N8 = llvm.mul %N64, %c8_i64e : i64
      %idx8 = llvm.add %idx0, %N8 : i64
      %p0 = llvm.getelementptr %C[%idx0] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, f32
      %p8 = llvm.getelementptr %C[%idx8] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, f32
      %vundef = llvm.mlir.undef : vector<2xf32>
      %e0_0a = llvm.extractvalue %acc[0] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e0_0b = llvm.extractvalue %acc[1] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v0_0a = llvm.insertelement %e0_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v0_0b = llvm.insertelement %e0_0b, %v0_0a[%c1 : i32] : vector<2xf32>
      %q0_0 = llvm.getelementptr %p0[0] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v0_0b, %q0_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e0_1a = llvm.extractvalue %acc[2] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e0_1b = llvm.extractvalue %acc[3] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v0_1a = llvm.insertelement %e0_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v0_1b = llvm.insertelement %e0_1b, %v0_1a[%c1 : i32] : vector<2xf32>
      %q0_1 = llvm.getelementptr %p8[0] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v0_1b, %q0_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e1_0a = llvm.extractvalue %acc[4] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e1_0b = llvm.extractvalue %acc[5] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v1_0a = llvm.insertelement %e1_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v1_0b = llvm.insertelement %e1_0b, %v1_0a[%c1 : i32] : vector<2xf32>
      %q1_0 = llvm.getelementptr %p0[8] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v1_0b, %q1_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e1_1a = llvm.extractvalue %acc[6] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e1_1b = llvm.extractvalue %acc[7] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v1_1a = llvm.insertelement %e1_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v1_1b = llvm.insertelement %e1_1b, %v1_1a[%c1 : i32] : vector<2xf32>
      %q1_1 = llvm.getelementptr %p8[8] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v1_1b, %q1_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e2_0a = llvm.extractvalue %acc[8] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e2_0b = llvm.extractvalue %acc[9] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v2_0a = llvm.insertelement %e2_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v2_0b = llvm.insertelement %e2_0b, %v2_0a[%c1 : i32] : vector<2xf32>
      %q2_0 = llvm.getelementptr %p0[16] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v2_0b, %q2_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e2_1a = llvm.extractvalue %acc[10] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e2_1b = llvm.extractvalue %acc[11] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v2_1a = llvm.insertelement %e2_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v2_1b = llvm.insertelement %e2_1b, %v2_1a[%c1 : i32] : vector<2xf32>
      %q2_1 = llvm.getelementptr %p8[16] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v2_1b, %q2_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e3_0a = llvm.extractvalue %acc[12] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e3_0b = llvm.extractvalue %acc[13] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v3_0a = llvm.insertelement %e3_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v3_0b = llvm.insertelement %e3_0b, %v3_0a[%c1 : i32] : vector<2xf32>
      %q3_0 = llvm.getelementptr %p0[24] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v3_0b, %q3_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e3_1a = llvm.extractvalue %acc[14] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e3_1b = llvm.extractvalue %acc[15] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v3_1a = llvm.insertelement %e3_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v3_1b = llvm.insertelement %e3_1b, %v3_1a[%c1 : i32] : vector<2xf32>
      %q3_1 = llvm.getelementptr %p8[24] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v3_1b, %q3_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e4_0a = llvm.extractvalue %acc[16] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e4_0b = llvm.extractvalue %acc[17] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v4_0a = llvm.insertelement %e4_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v4_0b = llvm.insertelement %e4_0b, %v4_0a[%c1 : i32] : vector<2xf32>
      %q4_0 = llvm.getelementptr %p0[32] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v4_0b, %q4_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e4_1a = llvm.extractvalue %acc[18] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e4_1b = llvm.extractvalue %acc[19] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v4_1a = llvm.insertelement %e4_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v4_1b = llvm.insertelement %e4_1b, %v4_1a[%c1 : i32] : vector<2xf32>
      %q4_1 = llvm.getelementptr %p8[32] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v4_1b, %q4_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e5_0a = llvm.extractvalue %acc[20] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e5_0b = llvm.extractvalue %acc[21] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v5_0a = llvm.insertelement %e5_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v5_0b = llvm.insertelement %e5_0b, %v5_0a[%c1 : i32] : vector<2xf32>
      %q5_0 = llvm.getelementptr %p0[40] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v5_0b, %q5_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e5_1a = llvm.extractvalue %acc[22] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e5_1b = llvm.extractvalue %acc[23] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v5_1a = llvm.insertelement %e5_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v5_1b = llvm.insertelement %e5_1b, %v5_1a[%c1 : i32] : vector<2xf32>
      %q5_1 = llvm.getelementptr %p8[40] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v5_1b, %q5_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e6_0a = llvm.extractvalue %acc[24] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e6_0b = llvm.extractvalue %acc[25] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v6_0a = llvm.insertelement %e6_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v6_0b = llvm.insertelement %e6_0b, %v6_0a[%c1 : i32] : vector<2xf32>
      %q6_0 = llvm.getelementptr %p0[48] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v6_0b, %q6_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e6_1a = llvm.extractvalue %acc[26] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e6_1b = llvm.extractvalue %acc[27] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v6_1a = llvm.insertelement %e6_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v6_1b = llvm.insertelement %e6_1b, %v6_1a[%c1 : i32] : vector<2xf32>
      %q6_1 = llvm.getelementptr %p8[48] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v6_1b, %q6_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e7_0a = llvm.extractvalue %acc[28] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e7_0b = llvm.extractvalue %acc[29] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v7_0a = llvm.insertelement %e7_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v7_0b = llvm.insertelement %e7_0b, %v7_0a[%c1 : i32] : vector<2xf32>
      %q7_0 = llvm.getelementptr %p0[56] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v7_0b, %q7_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e7_1a = llvm.extractvalue %acc[30] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e7_1b = llvm.extractvalue %acc[31] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v7_1a = llvm.insertelement %e7_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v7_1b = llvm.insertelement %e7_1b, %v7_1a[%c1 : i32] : vector<2xf32>
      %q7_1 = llvm.getelementptr %p8[56] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v7_1b, %q7_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e8_0a = llvm.extractvalue %acc[32] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e8_0b = llvm.extractvalue %acc[33] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v8_0a = llvm.insertelement %e8_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v8_0b = llvm.insertelement %e8_0b, %v8_0a[%c1 : i32] : vector<2xf32>
      %q8_0 = llvm.getelementptr %p0[64] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v8_0b, %q8_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e8_1a = llvm.extractvalue %acc[34] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e8_1b = llvm.extractvalue %acc[35] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v8_1a = llvm.insertelement %e8_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v8_1b = llvm.insertelement %e8_1b, %v8_1a[%c1 : i32] : vector<2xf32>
      %q8_1 = llvm.getelementptr %p8[64] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v8_1b, %q8_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e9_0a = llvm.extractvalue %acc[36] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e9_0b = llvm.extractvalue %acc[37] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v9_0a = llvm.insertelement %e9_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v9_0b = llvm.insertelement %e9_0b, %v9_0a[%c1 : i32] : vector<2xf32>
      %q9_0 = llvm.getelementptr %p0[72] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v9_0b, %q9_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e9_1a = llvm.extractvalue %acc[38] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e9_1b = llvm.extractvalue %acc[39] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v9_1a = llvm.insertelement %e9_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v9_1b = llvm.insertelement %e9_1b, %v9_1a[%c1 : i32] : vector<2xf32>
      %q9_1 = llvm.getelementptr %p8[72] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v9_1b, %q9_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e10_0a = llvm.extractvalue %acc[40] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e10_0b = llvm.extractvalue %acc[41] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v10_0a = llvm.insertelement %e10_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v10_0b = llvm.insertelement %e10_0b, %v10_0a[%c1 : i32] : vector<2xf32>
      %q10_0 = llvm.getelementptr %p0[80] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v10_0b, %q10_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e10_1a = llvm.extractvalue %acc[42] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e10_1b = llvm.extractvalue %acc[43] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v10_1a = llvm.insertelement %e10_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v10_1b = llvm.insertelement %e10_1b, %v10_1a[%c1 : i32] : vector<2xf32>
      %q10_1 = llvm.getelementptr %p8[80] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v10_1b, %q10_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e11_0a = llvm.extractvalue %acc[44] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e11_0b = llvm.extractvalue %acc[45] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v11_0a = llvm.insertelement %e11_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v11_0b = llvm.insertelement %e11_0b, %v11_0a[%c1 : i32] : vector<2xf32>
      %q11_0 = llvm.getelementptr %p0[88] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v11_0b, %q11_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e11_1a = llvm.extractvalue %acc[46] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e11_1b = llvm.extractvalue %acc[47] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v11_1a = llvm.insertelement %e11_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v11_1b = llvm.insertelement %e11_1b, %v11_1a[%c1 : i32] : vector<2xf32>
      %q11_1 = llvm.getelementptr %p8[88] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v11_1b, %q11_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e12_0a = llvm.extractvalue %acc[48] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e12_0b = llvm.extractvalue %acc[49] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v12_0a = llvm.insertelement %e12_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v12_0b = llvm.insertelement %e12_0b, %v12_0a[%c1 : i32] : vector<2xf32>
      %q12_0 = llvm.getelementptr %p0[96] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v12_0b, %q12_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e12_1a = llvm.extractvalue %acc[50] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e12_1b = llvm.extractvalue %acc[51] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v12_1a = llvm.insertelement %e12_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v12_1b = llvm.insertelement %e12_1b, %v12_1a[%c1 : i32] : vector<2xf32>
      %q12_1 = llvm.getelementptr %p8[96] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v12_1b, %q12_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e13_0a = llvm.extractvalue %acc[52] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e13_0b = llvm.extractvalue %acc[53] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v13_0a = llvm.insertelement %e13_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v13_0b = llvm.insertelement %e13_0b, %v13_0a[%c1 : i32] : vector<2xf32>
      %q13_0 = llvm.getelementptr %p0[104] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v13_0b, %q13_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e13_1a = llvm.extractvalue %acc[54] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e13_1b = llvm.extractvalue %acc[55] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v13_1a = llvm.insertelement %e13_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v13_1b = llvm.insertelement %e13_1b, %v13_1a[%c1 : i32] : vector<2xf32>
      %q13_1 = llvm.getelementptr %p8[104] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v13_1b, %q13_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e14_0a = llvm.extractvalue %acc[56] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e14_0b = llvm.extractvalue %acc[57] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v14_0a = llvm.insertelement %e14_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v14_0b = llvm.insertelement %e14_0b, %v14_0a[%c1 : i32] : vector<2xf32>
      %q14_0 = llvm.getelementptr %p0[112] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v14_0b, %q14_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e14_1a = llvm.extractvalue %acc[58] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e14_1b = llvm.extractvalue %acc[59] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v14_1a = llvm.insertelement %e14_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v14_1b = llvm.insertelement %e14_1b, %v14_1a[%c1 : i32] : vector<2xf32>
      %q14_1 = llvm.getelementptr %p8[112] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v14_1b, %q14_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e15_0a = llvm.extractvalue %acc[60] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e15_0b = llvm.extractvalue %acc[61] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v15_0a = llvm.insertelement %e15_0a, %vundef[%c0 : i32] : vector<2xf32>
      %v15_0b = llvm.insertelement %e15_0b, %v15_0a[%c1 : i32] : vector<2xf32>
      %q15_0 = llvm.getelementptr %p0[120] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v15_0b, %q15_0 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      %e15_1a = llvm.extractvalue %acc[62] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %e15_1b = llvm.extractvalue %acc[63] : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
      %v15_1a = llvm.insertelement %e15_1a, %vundef[%c0 : i32] : vector<2xf32>
      %v15_1b = llvm.insertelement %e15_1b, %v15_1a[%c1 : i32] : vector<2xf32>
      %q15_1 = llvm.getelementptr %p8[120] : (!llvm.ptr<1>) -> !llvm.ptr<1>, f32
      llvm.store %v15_1b, %q15_1 {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
      llvm.br ^exit
    ^exit:
      llvm.return
    }
  }
}
