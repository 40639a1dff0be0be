// A kernel that exchanges one u64 with every other rank through symmetric
// buffers (moek.map_peer, moek.remote_add, moek.remote_wait), for the GPU
// test run_peer_exchange.py and the lowering test
// test/Codegen/KernelToNVVM/peer-sm90a.mlir.
//
// Each rank's symmetric buffer holds u64 words: [0] a counter, [1 + s] the
// value rank s sent. Launch `epoch` (1, 2, ...) of rank r stores
// epoch * 1000000 + r * 1000 + p into word 1 + r of every other rank p's
// buffer, adds 1 to p's counter (release, system scope), waits until its own
// counter reaches epoch * (ranks - 1) (acquire, bounded by timeout_ns; on
// expiry it fills the wait record and traps), then copies the words 1 + s
// into out[s] (out[r] = 0). Counters only grow, so nothing is reset between
// launches. Only thread 0 of block 0 works.

module {
  func.func @exchange(%bases: tensor<8xi64>) -> tensor<8xi64> {
    %out = moek.launch @moe_kernels::@peer_exchange(%bases) : (tensor<8xi64>) -> tensor<8xi64>
    return %out : tensor<8xi64>
  }
  gpu.module @moe_kernels {
    llvm.func @peer_exchange(%bases: !llvm.ptr<1>, %out: !llvm.ptr<1>, %rank: i32, %ranks: i32, %epoch: i64, %timeout: i64, %record: i64)
        attributes {nvvm.kernel, nvvm.maxntid = array<i32: 32, 1, 1>,
                    moek.abi = [{kind = "ptr", operand = 0 : i64}, {kind = "ptr", result = 0 : i64},
                                {kind = "i32", name = "rank"}, {kind = "i32", name = "num_ranks"},
                                {kind = "i64", name = "epoch"}, {kind = "i64", name = "timeout_ns"},
                                {kind = "i64", name = "wait_record"}],
                    moek.launch = {block = 32 : i64, grid = "persistent"},
                    moek.dynamic_smem_bytes = 0 : i64} {
      %c0 = llvm.mlir.constant(0 : i32) : i32
      %c1 = llvm.mlir.constant(1 : i32) : i32
      %one = llvm.mlir.constant(1 : i64) : i64
      %million = llvm.mlir.constant(1000000 : i64) : i64
      %thousand = llvm.mlir.constant(1000 : i64) : i64
      %zero64 = llvm.mlir.constant(0 : i64) : i64
      %tid = nvvm.read.ptx.sreg.tid.x : i32
      %bid = nvvm.read.ptx.sreg.ctaid.x : i32
      %either = llvm.or %tid, %bid : i32
      %first = llvm.icmp "eq" %either, %c0 : i32
      llvm.cond_br %first, ^work, ^done
    ^work:
      %rec = llvm.inttoptr %record : i64 to !llvm.ptr<1>
      %rank64 = llvm.zext %rank : i32 to i64
      %selfAt = llvm.getelementptr %bases[%rank64] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i64
      %selfBase = llvm.load %selfAt {alignment = 8 : i64} : !llvm.ptr<1> -> i64
      %mine = llvm.inttoptr %selfBase : i64 to !llvm.ptr<1>
      %slotIndex = llvm.add %rank64, %one : i64
      %slot = llvm.getelementptr %mine[%slotIndex] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i64
      %stamp = llvm.mul %epoch, %million : i64
      %from = llvm.mul %rank64, %thousand : i64
      %base = llvm.add %stamp, %from : i64
      llvm.br ^send(%c0 : i32)
    ^send(%p: i32):
      %more = llvm.icmp "ult" %p, %ranks : i32
      llvm.cond_br %more, ^check, ^wait
    ^check:
      %self = llvm.icmp "eq" %p, %rank : i32
      llvm.cond_br %self, ^next, ^store
    ^store:
      %peerSlot = moek.map_peer %slot to %p bases(%bases) self(%rank)
      %p64 = llvm.zext %p : i32 to i64
      %value = llvm.add %base, %p64 : i64
      llvm.store %value, %peerSlot {alignment = 8 : i64} : i64, !llvm.ptr<1>
      %peerCounter = moek.map_peer %mine to %p bases(%bases) self(%rank)
      moek.remote_add %peerCounter, %one
      llvm.br ^next
    ^next:
      %p1 = llvm.add %p, %c1 : i32
      llvm.br ^send(%p1 : i32)
    ^wait:
      %ranks64 = llvm.zext %ranks : i32 to i64
      %others = llvm.sub %ranks64, %one : i64
      %target = llvm.mul %epoch, %others : i64
      moek.remote_wait %mine geq(%target) timeout_ns(%timeout) record(%rec) rank(%rank) phase(1)
      llvm.br ^read(%c0 : i32)
    ^read(%q: i32):
      %moreQ = llvm.icmp "ult" %q, %ranks : i32
      llvm.cond_br %moreQ, ^copy, ^done
    ^copy:
      %q64 = llvm.zext %q : i32 to i64
      %wordIndex = llvm.add %q64, %one : i64
      %word = llvm.getelementptr %mine[%wordIndex] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i64
      %got = llvm.load %word {alignment = 8 : i64} : !llvm.ptr<1> -> i64
      %isSelf = llvm.icmp "eq" %q, %rank : i32
      %v = llvm.select %isSelf, %zero64, %got : i1, i64
      %dst = llvm.getelementptr %out[%q64] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i64
      llvm.store %v, %dst {alignment = 8 : i64} : i64, !llvm.ptr<1>
      %q1 = llvm.add %q, %c1 : i32
      llvm.br ^read(%q1 : i32)
    ^done:
      llvm.return
    }
  }
}
