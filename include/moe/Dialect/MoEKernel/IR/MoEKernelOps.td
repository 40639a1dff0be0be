//===- MoEKernelOps.td - The moek kernel-level dialect -----*- tablegen -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOEKERNEL_IR_MOEKERNELOPS_TD
#define MOE_DIALECT_MOEKERNEL_IR_MOEKERNELOPS_TD

include "mlir/Dialect/LLVMIR/LLVMOpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def MoEKernel_Dialect : Dialect {
  let name = "moek";
  let cppNamespace = "::mlir::moe::kernel";
  let summary = "Kernel-level MoE: warp roles, smem pipelines, tile copies, MMAs";
  let description = [{
    The `moek` dialect describes *how* one persistent GPU kernel computes a
    MoE layer: which warpgroups play which role (TMA producer, MMA consumer,
    dispatch, epilogue), the shared-memory pipelines (rings of stages, each
    with a "full" and an "empty" barrier) that connect them, the tile copies
    that fill the stages, the matrix multiply-accumulates that drain them, and
    the epilogue stores.

    It is independent of the instruction family: `moek.mma` lowers to `wgmma`
    on sm_90a and to `tcgen05.mma` on sm_100a; `moek.tma_load` to the bulk
    tensor copy engine on both. Control flow and index arithmetic are
    upstream `scf` and `arith` ops inside an `llvm.func` kernel (the kernel's
    parameters are already in their ABI form: pointers and TMA descriptors).

    Pipeline protocol (for a ring of `S` stages and a running count `i` of
    stages produced or consumed): the stage is `i mod S`, its phase parity is
    `(i / S) mod 2`. A producer `moek.ring_acquire`s the stage (waits until
    it is empty), `moek.ring_expect`s the bytes its copies bring, and issues
    `moek.tma_load`s that complete on the stage's full barrier. A consumer
    `moek.ring_wait`s for the stage to be full, reads it with `moek.mma`, and
    `moek.ring_release`s it once its MMAs no longer read it.
  }];
  let useDefaultTypePrinterParser = 1;
  // Kernels are llvm.func ops, and the parser builds the global pointer
  // type of ops such as moek.combine, so the LLVM dialect must be loaded.
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

class MoEK_Op<string mnemonic, list<Trait> traits = []>
    : Op<MoEKernel_Dialect, mnemonic, traits>;
class MoEK_Type<string name, string typeMnemonic>
    : TypeDef<MoEKernel_Dialect, name> {
  let mnemonic = typeMnemonic;
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

def MoEK_RingType : MoEK_Type<"Ring", "ring"> {
  let summary = "A shared-memory pipeline of stages, each holding fixed tiles";
  let description = [{
    `!moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>` is a
    ring of 4 stages; each stage holds one 128x64 bf16 tile of each operand,
    laid out with the 128-byte swizzle of TMA (each tile row is one 128-byte
    swizzle span), every tile 1024-byte aligned. Each stage has a full
    barrier (one producer arrival plus the copies' bytes) and an empty
    barrier (`consumers` arrivals).

    `unstaged [1, 2]` lists tiles held once, after the stages, instead of
    once per stage: a consumer's working tile that no copy fills (the FP8 x
    MXFP4 kernel's expanded weights, written and read by one warpgroup
    between a stage's arrival and its release), so that the stages hold
    only what the copies bring and more of them fit.
  }];
  let parameters = (ins "int64_t":$stages, ArrayRefParameter<"::mlir::Type">:$tiles,
                        OptionalArrayRefParameter<"int64_t">:$unstaged);
  let assemblyFormat = [{
    `<` $stages `,` `[` $tiles `]` (`,` `unstaged` `[` $unstaged^ `]`)? `>`
  }];
  let builders = [
    TypeBuilder<(ins "int64_t":$stages, "::llvm::ArrayRef<::mlir::Type>":$tiles), [{
      return $_get($_ctxt, stages, tiles, ::llvm::ArrayRef<int64_t>{});
    }]>
  ];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    ::mlir::MemRefType getTile(unsigned i) const {
      return ::llvm::cast<::mlir::MemRefType>(getTiles()[i]);
    }
    /// Bytes of tile `i`; of one stage (its staged tiles); of the unstaged
    /// tiles; of the whole ring.
    int64_t getTileBytes(unsigned i) const;
    int64_t getStageBytes() const;
    int64_t getUnstagedBytes() const;
    int64_t getRingBytes() const {
      return getStages() * getStageBytes() + getUnstagedBytes();
    }
    bool isUnstaged(unsigned i) const {
      return ::llvm::is_contained(getUnstaged(), int64_t(i));
    }
    /// Tile `i`'s offset in its stage (or, unstaged, from the end of the
    /// stages).
    int64_t getTileOffset(unsigned i) const;
  }];
}

def MoEK_AccType : MoEK_Type<"Acc", "acc"> {
  let summary = "An MMA accumulator fragment owned by one warpgroup";
  let description = [{
    `!moek.acc<64x128xf32>`: a 64x128 FP32 accumulator held by one
    warpgroup (registers for wgmma; tensor memory for tcgen05).
  }];
  let parameters = (ins "int64_t":$rows, "int64_t":$cols, "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def MoEK_RowsType : MoEK_Type<"Rows", "rows"> {
  let summary = "One value per accumulator row, held like the accumulator";
  let description = [{
    `!moek.rows<64xf32>`: one f32 per row of a 64-row accumulator (a block
    scale of each row, say), held by the warpgroup that holds the
    accumulator, each thread the values of the rows it holds (two for a
    wgmma fragment).
  }];
  let parameters = (ins "int64_t":$rows, "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def MoEK_AccRingType : MoEK_Type<"AccRing", "acc_ring"> {
  let summary = "Accumulators in tensor memory, handed from an MMA issuer to an epilogue";
  let description = [{
    `!moek.acc_ring<2, 128x256xf32>`: 2 accumulators of 128 x 256 f32 in
    the CTA's tensor memory (sm_100a), accumulator `j mod S` at columns
    `[(j mod S) * C, (j mod S + 1) * C)`, row `r` in lane `r`. Like a
    `!moek.ring`, each has a full barrier (its MMAs complete, its tag is
    written) and an empty barrier (`consumers` epilogue threads are done
    reading it), so the MMAs of tile `j + 1` run while the epilogue drains
    tile `j`. The protocol, for a running count `j` of tiles:

    ```
    MMA issuer (one thread)          epilogue warpgroups
    acc_acquire %accs[j]             %t = acc_wait %accs[j]
    mma_tmem ... into %accs[j]       acc_store_rows %accs[j] ... (tile %t)
    mma_release (each ring stage)    acc_release %accs[j]
    acc_commit %accs[j], %tile
    ```
  }];
  let parameters = (ins "int64_t":$stages, "int64_t":$rows, "int64_t":$cols,
                        "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Warp roles
//===----------------------------------------------------------------------===//

def MoEK_WarpRoleOp : MoEK_Op<"warp_role", [SingleBlock, NoTerminator]> {
  let summary = "Code run by a range of warpgroups of the CTA";
  let description = [{
    The region runs on warpgroups `[first, first + count)` of the CTA only
    (128 threads each). `max_regs`, if given, moves the register budget of
    those warpgroups (`setmaxnreg`: producers give registers up, MMA
    consumers take them). Inside, `moek.warpgroup_index` is the warpgroup's
    index within the role and `moek.elect_one` picks one thread of it.

    ```mlir
    moek.warp_role "producer" warpgroups(0, 1) max_regs(40) {
      ...
    }
    ```
  }];
  let arguments = (ins StrAttr:$role, I64Attr:$first, I64Attr:$count,
                       OptionalAttr<I64Attr>:$max_regs);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $role `warpgroups` `(` $first `,` $count `)`
    (`max_regs` `(` $max_regs^ `)`)? attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
}

def MoEK_WarpgroupIndexOp : MoEK_Op<"warpgroup_index", [Pure]> {
  let summary = "Index of the executing warpgroup within its role";
  let results = (outs Index:$index);
  let assemblyFormat = "attr-dict";
  let hasVerifier = 1;
}

def MoEK_ElectOneOp : MoEK_Op<"elect_one", []> {
  let summary = "True on exactly one thread of the executing warpgroup";
  let description = [{
    True on lane 0 of warp `warp` (0 to 3, 0 by default) of the executing
    warpgroup: `moek.elect_one {warp = 1}` picks a second thread, in
    another warp, for a second single-thread role (the MMA issuer beside
    the producer).
  }];
  let arguments = (ins DefaultValuedAttr<I64Attr, "0">:$warp);
  let results = (outs I1:$elected);
  let assemblyFormat = "attr-dict";
  let hasVerifier = 1;
}

def MoEK_InWarpOp : MoEK_Op<"in_warp", []> {
  let summary = "True on every lane of one warp of the executing warpgroup";
  let description = [{
    True on the 32 lanes of warp `warp` (0 to 3) of the executing
    warpgroup: a role for a whole warp beside single-thread ones (e.g. the
    producer warp of a block-scaled kernel, whose lanes stage the scale
    factors while lane 0 issues the TMA copies).

    ```mlir
    %w0 = moek.in_warp {warp = 0 : i64}
    ```
  }];
  let arguments = (ins DefaultValuedAttr<I64Attr, "0">:$warp);
  let results = (outs I1:$inside);
  let assemblyFormat = "attr-dict";
  let hasVerifier = 1;
}

def MoEK_BlockIdOp : MoEK_Op<"block_id", [Pure]> {
  let summary = "The CTA's index in the (one-dimensional) grid";
  let results = (outs Index:$index);
  let assemblyFormat = "attr-dict";
}

def MoEK_GridSizeOp : MoEK_Op<"grid_size", [Pure]> {
  let summary = "The number of CTAs of the (one-dimensional) grid";
  let results = (outs Index:$size);
  let assemblyFormat = "attr-dict";
}

def MoEK_ClusterRankOp : MoEK_Op<"cluster_rank", [Pure]> {
  let summary = "The CTA's rank in its cluster (0 without clusters)";
  let results = (outs Index:$rank);
  let assemblyFormat = "attr-dict";
}

def MoEK_ClusterSyncOp : MoEK_Op<"cluster_sync", []> {
  let summary = "Wait for every thread of every CTA of the cluster";
  let description = [{
    A barrier across the cluster, run by all threads of the kernel at its
    top level. At the end of a kernel whose CTAs write into each other's
    shared memory (a ring with `cluster` > 1), it keeps a CTA from exiting
    while a peer may still signal its barriers or multicast into its ring.

    ```mlir
    moek.cluster_sync
    ```
  }];
  let assemblyFormat = "attr-dict";
  let hasVerifier = 1;
}

def MoEK_BarrierArriveOp : MoEK_Op<"barrier_arrive", []> {
  let summary = "Arrive at a named barrier without waiting";
  let description = [{
    The executing threads (whole warps) arrive at hardware barrier `id` of
    the CTA, which completes when `threads` threads have arrived or synced
    at it; they go on without waiting. With `moek.barrier_sync` on the other
    side it orders two warpgroups: one signals, the other waits. Barrier 0
    is the CTA-wide one and is not available.

    ```mlir
    moek.barrier_arrive id(1) threads(256)
    ```
  }];
  let arguments = (ins I64Attr:$id, I64Attr:$threads);
  let assemblyFormat = "`id` `(` $id `)` `threads` `(` $threads `)` attr-dict";
  let hasVerifier = 1;
}

def MoEK_BarrierSyncOp : MoEK_Op<"barrier_sync", []> {
  let summary = "Wait at a named barrier";
  let description = [{
    The executing threads (whole warps) arrive at hardware barrier `id` and
    wait until `threads` threads have arrived (see `moek.barrier_arrive`).
    The participants may reach it at different instructions (PTX
    `barrier.sync id, threads`, not the `.aligned` `bar.sync`).

    ```mlir
    moek.barrier_sync id(1) threads(256)
    ```
  }];
  let arguments = (ins I64Attr:$id, I64Attr:$threads);
  let assemblyFormat = "`id` `(` $id `)` `threads` `(` $threads `)` attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Grid-wide synchronization and counters (device memory)
//===----------------------------------------------------------------------===//

def MoEK_GlobalPtr : LLVM_PointerInAddressSpace<1>;

def MoEK_GridBarrierOp : MoEK_Op<"grid_barrier", []> {
  let summary = "Wait until every CTA of the persistent grid got here";
  let description = [{
    A barrier across the whole grid, for the `threads` executing threads of
    every CTA (named barrier `id` of the CTA; `id = 0` is every thread of
    the CTA). `counter` is a u32 in device memory that is 0 when the kernel
    starts and only grows: the `phase`-th barrier of a kernel (1, 2, ...)
    adds 1 per CTA and waits until it reaches `phase * gridDim.x`, so no
    counter is ever reset during a launch. Writes to device memory before
    the barrier are visible to every thread of the grid after it (a GPU-scope
    release and acquire). Every CTA must be resident at once: the kernel
    runs on a persistent grid of at most one CTA per SM.

    ```mlir
    moek.grid_barrier %counter phase(1) id(0) threads(384)
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$counter, I64Attr:$phase, I64Attr:$id,
                       I64Attr:$threads);
  let assemblyFormat = [{
    $counter `phase` `(` $phase `)` `id` `(` $id `)` `threads` `(` $threads `)`
    attr-dict
  }];
  let hasVerifier = 1;
}

def MoEK_SignalOp : MoEK_Op<"signal", []> {
  let summary = "A warpgroup publishes its stores: add 1 to a counter (release)";
  let description = [{
    Run by all 128 threads of a warpgroup after their stores to device
    memory: once every one of them has got here, one thread adds 1 to the
    u32 `counters[index]` with release semantics at GPU scope. A
    `moek.wait_counter` that sees the new value then sees the stores, also
    through the TMA engine (the stores are fenced to the async proxy).
    Uses named barrier 3 (the CTA's warpgroup 1) or 15 (its other
    warpgroups), which no other op uses. With `fresh_thread_id` the choice
    reads `%tid.x` anew instead of sharing the kernel's first read (which
    is then a value live across the GEMMs: the 128-row FP8 kernel has no
    register to spare for it there, other kernels spilled with the fresh
    read).

    With `relayed` the warpgroup does not add: its leader posts `index` to
    the warp that runs `moek.signal_relay` for it (a word of shared memory
    and two mbarriers of the kernel's relay global: every thread arrives
    at `posted` with release semantics, the relay waits on it), and the
    warpgroup goes on without waiting for the add's fence; each relayed
    signal first waits until the relay has taken the previous one (the
    `taken` barrier). The kernel needs a `moek.signal_relay` for the
    warpgroup and a `moek.ring_alloc`, whose setup initializes the relay's
    barriers.

    ```mlir
    moek.signal %ready[%i]
    moek.signal %ready[%i] {fresh_thread_id}
    moek.signal %ready[%i] {relayed}
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$counters, Index:$index,
                       UnitAttr:$fresh_thread_id, UnitAttr:$relayed);
  let assemblyFormat = "$counters `[` $index `]` attr-dict";
}

def MoEK_SignalRelayOp : MoEK_Op<"signal_relay", []> {
  let summary = "A warp adds 1 to the counters another warpgroup's relayed signals name";
  let description = [{
    Run by the 32 lanes of one warp of a warpgroup other than `warpgroup`
    (1 or 2), whose `moek.signal {relayed}` ops post counter indices to
    it; lane 0 does the work, the other lanes go on. For each posted index
    it adds 1 to the u32 `counters[index]` with release semantics at GPU
    scope (a GPU-scope fence first, which orders the stores the posting
    warpgroup made before its signal: they happen before the mbarrier
    phase that hands the index over). It returns when that warpgroup runs
    `moek.signal_end`. So the fence's wait for the stores to reach the
    GPU's scope is this warp's, not the posting warpgroup's.

    ```mlir
    moek.signal_relay %ready warpgroup(1)
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$counters, I64Attr:$warpgroup);
  let assemblyFormat = "$counters `warpgroup` `(` $warpgroup `)` attr-dict";
  let hasVerifier = 1;
}

def MoEK_SignalEndOp : MoEK_Op<"signal_end", []> {
  let summary = "A warpgroup tells its signal relay that no signal follows";
  let description = [{
    Run by the 128 threads of warpgroup 1 or 2 after their last
    `moek.signal {relayed}` (also when there was none): the warp running
    `moek.signal_relay` for this warpgroup returns.

    ```mlir
    moek.signal_end
    ```
  }];
  let assemblyFormat = "attr-dict";
}

def MoEK_WaitCounterOp : MoEK_Op<"wait_counter", []> {
  let summary = "One thread waits until a counter reaches a target (acquire)";
  let description = [{
    Spins until the u32 `counters[index]` is at least `target` (acquire at
    GPU scope), then fences the async proxy, so that TMA loads issued after
    it read what the signalling warpgroups stored. Run by each thread that
    reads what the counter publishes (the TMA producer's thread; every lane
    of a producer warp that also copies scales).

    ```mlir
    moek.wait_counter %ready[%i] geq(%target)
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$counters, Index:$index, Index:$target);
  let assemblyFormat = [{
    $counters `[` $index `]` `geq` `(` $target `)` attr-dict
  }];
}

//===----------------------------------------------------------------------===//
// Other GPUs: symmetric buffers, counters at system scope, bounded waits
//===----------------------------------------------------------------------===//

def MoEK_MapPeerOp : MoEK_Op<"map_peer", [Pure]> {
  let summary = "The address of the same place in another rank's symmetric buffer";
  let description = [{
    Symmetric buffers have the same layout on every rank; rank `r`'s buffer
    starts at `bases[r]` (a u64 per rank, as mapped in this process: CUDA
    VMM peer mappings or torch's symmetric memory). For `ptr` inside this
    rank's (`self`'s) buffer, the result is the address of the same offset
    in rank `rank`'s buffer: `bases[rank] + (ptr - bases[self])`. Loads and
    stores through it cross NVLink.

    ```mlir
    %p = moek.map_peer %slot to %r bases(%bases) self(%me)
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$ptr, I32:$rank, MoEK_GlobalPtr:$bases,
                       I32:$self);
  let results = (outs MoEK_GlobalPtr:$peer);
  let assemblyFormat = [{
    $ptr `to` $rank `bases` `(` $bases `)` `self` `(` $self `)` attr-dict
  }];
}

def MoEK_RemoteAddOp : MoEK_Op<"remote_add", []> {
  let summary = "Add to a u64 counter at system scope, releasing earlier writes";
  let description = [{
    The executing thread adds `value` to the u64 at `counter` (here or, from
    moek.map_peer, on another GPU) with release semantics at system scope
    (`red.release.sys.global.add.u64`, written as inline PTX: LLVM 22 drops
    the ordering and scope of atomicrmw on NVPTX). A moek.remote_wait on
    any GPU that sees the new value also sees this thread's earlier writes;
    writes of other threads need a barrier with them first.

    ```mlir
    moek.remote_add %counter, %one
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$counter, I64:$value);
  let assemblyFormat = "$counter `,` $value attr-dict";
}

def MoEK_RemoteWaitOp : MoEK_Op<"remote_wait", []> {
  let summary = "Wait, bounded in time, until a u64 counter reaches a target";
  let description = [{
    The executing thread spins until the u64 at `counter` is at least
    `target`, reading it with acquire semantics at system scope
    (`ld.acquire.sys`), so that it then sees what the adding threads wrote
    before their moek.remote_add, on any GPU (TMA loads too: the async proxy
    is fenced after the wait). The wait gives up after `timeout_ns`
    nanoseconds of `%globaltimer`: it then fills the wait record at `record`
    (moeRtWaitRecord of include/moe/Runtime/MoERuntime.h, in host memory
    mapped for the device, so that the host can read it after the kernel
    failed) with `rank`, `phase`, the block, the counter's address, its last
    value, the target and the time waited, if no other thread filled it
    first, and executes `trap`. A peer that never comes therefore ends the
    launch with an error the runtime can explain, never a hang.

    ```mlir
    moek.remote_wait %counter geq(%target) timeout_ns(%ns) record(%rec) rank(%me) phase(1)
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$counter, I64:$target, I64:$timeout_ns,
                       MoEK_GlobalPtr:$record, I32:$rank, I64Attr:$phase);
  let assemblyFormat = [{
    $counter `geq` `(` $target `)` `timeout_ns` `(` $timeout_ns `)`
    `record` `(` $record `)` `rank` `(` $rank `)` `phase` `(` $phase `)`
    attr-dict
  }];
}

def MoEK_FetchAddOp : MoEK_Op<"fetch_add", []> {
  let summary = "Atomically add 1 to a u32 counter; return its old value";
  let description = [{
    A relaxed atomic increment of `counters[index]` at GPU scope by the
    executing thread; the result is the value before it. Increments by one
    thread at a time hand out 0, 1, 2, ... in order, e.g. the tiles of a
    dynamic tile scheduler. With `warp`, the 32 lanes of a warp run it
    together (converged): lane 0 increments once and every lane gets its
    result (`shfl.sync`).

    ```mlir
    %t = moek.fetch_add %next[%c0]
    %u = moek.fetch_add %next[%c0] {warp}
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$counters, Index:$index, UnitAttr:$warp);
  let results = (outs Index:$old);
  let assemblyFormat = "$counters `[` $index `]` attr-dict";
}

def MoEK_TimestampOp : MoEK_Op<"timestamp", []> {
  let summary = "Record the GPU's nanosecond clock (profiling)";
  let description = [{
    The thread that runs it stores `%globaltimer` (u64, nanoseconds, one
    clock for the whole GPU) into `buffer[index]`. For phase timers: guard
    it so that one thread per CTA runs it. `mode` "add" adds the clock to
    `buffer[index]` and "sub" subtracts it (a "sub" at a region's start and
    an "add" at its end sum the region's nanoseconds over its runs);
    "count" adds 1. Those read, modify and write the word: one thread per
    word.

    ```mlir
    moek.timestamp %timers[%i]
    moek.timestamp %timers[%j] {mode = "sub"}
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$buffer, Index:$index,
                   DefaultValuedAttr<StrAttr, "\"store\"">:$mode);
  let assemblyFormat = "$buffer `[` $index `]` attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// MoE phases run by the whole grid
//===----------------------------------------------------------------------===//

def MoEK_DispatchOp : MoEK_Op<"dispatch", [AttrSizedOperandSegments]> {
  let summary = "Gather each expert's token rows into an expert-contiguous buffer";
  let description = [{
    Run by every thread of every CTA (it contains two `moek.grid_barrier`s,
    phases `phase` and `phase + 1`, on `barrier`). With `tokens` = T and the
    routing `ids [T, top_k]` (i32; a slot whose id is outside
    `[0, num_experts)`, such as -1, is masked) and `weights [T, top_k]`
    (f32):

    1. counts the slots of each expert into `counts [E]` (u32, zero at
       entry);
    2. after a grid barrier, writes the exclusive prefix sums to
       `offsets [E+1]` (i32: expert `e` owns rows `[offsets[e],
       offsets[e+1])`);
    3. gives each unmasked slot `s = t * top_k + k` a row `r` of its expert
       (`cursor [E]`, u32, zero at entry, hands them out; the order of the
       rows inside an expert is not fixed), records `slot_rows[s] = r`
       (`-1` for a masked slot) and `row_weights[r] = weights[s]`, and
       copies token row `x[t, 0:hidden]` (bf16) to `rows[r, 0:hidden]`;
       with `row_scales`, quantizes it instead (DeepSeek-V3's 1x128 blocks,
       `hidden` a multiple of 128): per block of 128 values, `amax` over
       the finite `|v|`, `a = max(amax, 1e-4)`, the scale `a / 448` (f32)
       goes to `row_scales[r, block]` (row stride `hidden / 128`) and the
       values `v * (448 / a)`, rounded to e4m3 with saturation, to `rows`
       (one byte each); with `top_k` from 4 to 32 (and neither `rows_ready`
       nor `mx_round`) a warp takes one token at a time, quantizes its row
       once and stores it into the rows of all its routed slots (the slot
       walk otherwise: 32 slots a warp, each row copied on its own);
    4. ends with a grid barrier, after which all of it is visible.

    With `row_tokens` (u32 `[max rows]`; no `rows_ready`, `mx_round` or
    `permute_k`) each placed row `r` records its token, `row_tokens[r] =
    t`, and GEMM1 gathers the token rows itself (moek.gather_rows): bf16
    rows (no `rows`, no `row_scales`) are not copied at all, a thread
    placing a slot (a grid-stride loop over the slots); FP8 rows (`rows`
    and `row_scales`) are quantized once per token into `rows[t]`, each
    routed row getting the scales (`row_scales[r]`), a warp taking a token
    as in the walk by tokens above (`top_k` at most 32).

    With `rows_ready` and `offsets_ready` (u32 counters, zero at entry) there
    is no second grid barrier: the rows are published block by block, so
    that GEMM tiles start while other rows are still being copied. CTA 0
    adds 1 to `offsets_ready` (release, GPU scope) once `offsets` is
    written, and the op ends in each CTA when its thread 0 has seen it
    (acquire) and a CTA barrier: `offsets` is then visible to the CTA.
    Each copied row `r` of expert `e` adds 1 to `rows_ready[b]` for its
    block of `block_rows` rows (B, 128 or 64: the kernel's tile rows),
    `b = offsets[e] / B + (r - offsets[e]) / B + e` (the fused kernels'
    readiness index of the block's first row), after the
    warp's copies were fenced to the async proxy and its metadata
    (`slot_rows`, `row_weights`) written: a `moek.wait_counter` on `b` for
    the block's row count then sees the block's rows, also through TMA.

    With `permute_k` the e4m3 rows (`row_scales` given) are stored with
    each 128-value K block in moek.mma_fp4's K order (see
    moek.dequant_fp4_fp8).

    With `mx_round` (no `row_scales`; `hidden` a multiple of 32) each 1x32
    block of a copied row is rounded to its MXFP8 value, as `moe.quantize`
    with `mxfp8` then `moe.dequantize` compute it, and stored in bf16:
    `e = ceil(log2(amax / 448))` (`amax` over the finite `|v|`, the f32
    quotient; -127 for a zero block; clamped to [-127, 127]), each value
    times `2^-e` rounded to e4m3 with saturation (NaN stays NaN), times
    `2^e`: exact in bf16 unless that is a bf16 subnormal (below 2^-126).
    With `mx_round` and `row_scales` the row is quantized to MXFP8
    instead, as `moe.quantize` with `mxfp8` does: the e4m3 values to `rows`
    (one byte each) and each block's UE8M0 scale `e + 127` to
    `row_scales[r, block]` (one byte, row stride `hidden / 32`).

    With `scales_stride = N` (non-zero; f32 scales, no `mx_round`) the
    scales are stored block-major instead: the scale of row `r` and block `b` at
    `row_scales[b * N + r]`, N at least the rows there may be, so that a
    K block's scales of consecutive rows are contiguous
    (moek.stage_block_scales copies a stage's in a few lines).

    ```mlir
    moek.dispatch %x, %ids, %weights tokens(%T) counts(%c) cursor(%cur) offsets(%off) slot_rows(%sr) row_weights(%rw) rows(%rows) barrier(%bar) {num_experts = 8 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$x, MoEK_GlobalPtr:$ids,
                       MoEK_GlobalPtr:$weights, Index:$tokens,
                       MoEK_GlobalPtr:$counts, MoEK_GlobalPtr:$cursor,
                       MoEK_GlobalPtr:$offsets, MoEK_GlobalPtr:$slot_rows,
                       MoEK_GlobalPtr:$row_weights,
                       Optional<MoEK_GlobalPtr>:$rows,
                       Optional<MoEK_GlobalPtr>:$row_tokens,
                       MoEK_GlobalPtr:$barrier,
                       Optional<MoEK_GlobalPtr>:$row_scales,
                       Optional<MoEK_GlobalPtr>:$rows_ready,
                       Optional<MoEK_GlobalPtr>:$offsets_ready,
                       I64Attr:$num_experts,
                       I64Attr:$top_k, I64Attr:$hidden, I64Attr:$phase,
                       UnitAttr:$permute_k, UnitAttr:$mx_round,
                       DefaultValuedAttr<I64Attr, "128">:$block_rows,
                       DefaultValuedAttr<I64Attr, "0">:$scales_stride);
  let assemblyFormat = [{
    $x `,` $ids `,` $weights `tokens` `(` $tokens `)` `counts` `(` $counts `)`
    `cursor` `(` $cursor `)` `offsets` `(` $offsets `)`
    `slot_rows` `(` $slot_rows `)` `row_weights` `(` $row_weights `)`
    (`rows` `(` $rows^ `)`)? (`row_tokens` `(` $row_tokens^ `)`)?
    (`row_scales` `(` $row_scales^ `)`)?
    (`rows_ready` `(` $rows_ready^ `)` `offsets_ready` `(` $offsets_ready `)`)?
    `barrier` `(` $barrier `)` attr-dict
  }];
  let hasVerifier = 1;
}

def MoEK_EpDispatchOp : MoEK_Op<"ep_dispatch", [AttrSizedOperandSegments]> {
  let summary = "Send each routed token row to the rank that owns its expert";
  let description = [{
    The dispatch of an expert-parallel layer: `ranks` ranks, rank `r` owning
    global experts `[r * experts_per_rank, (r + 1) * experts_per_rank)`; this
    rank is `self`. Run by every thread of every CTA. The operands that
    other ranks write are in this rank's symmetric buffer (the same offsets
    on every rank; `bases` holds every rank's buffer address, as
    moek.map_peer takes it): `count_matrix`, `counted`, `rows_done`,
    `rows`, `row_weights`, `row_slots`, `row_ranks`. With `tokens` = T and
    the routing `ids [T, top_k]` (global expert ids; an id outside
    `[0, ranks * experts_per_rank)` masks its slot) and `weights [T, top_k]`:

    1. counts this rank's slots of each global expert into `counts [E]`
       (u32, zero at entry), then a grid barrier (phase `phase`);
    2. CTA 0 writes `counts` into row `self` of `count_matrix [ranks, E]`
       (i32) on every rank and adds 1 to every rank's `counted` (u64,
       moek.remote_add); every CTA waits until its own `counted` reaches
       `epoch * ranks` (moek.remote_wait, wait phase 1). Every rank now has
       the whole matrix;
    3. from it, each CTA computes where this rank's rows of each expert go
       on the owner (expert by expert, source rank by source rank, in
       ascending order), and CTA 0 writes the local experts' offsets
       `offsets [experts_per_rank + 1]` (i32) for the tile scheduler;
    4. slot by slot (a warp places 32 at once, then copies their rows):
       the slot gets a row of its expert on the owner rank (`cursor [E]`,
       u32, zero at entry), the token's bf16 row is
       stored there (`rows [*, hidden]`), with the slot's router weight
       (`row_weights`, f32), its index `t * top_k + k` (`row_slots`, i32)
       and this rank (`row_ranks`, i32); locally `slot_rows[s] = s`, or -1
       for a masked slot (for the combine, which reads row `s` of the
       results sent back); with `row_scales` the row is quantized on the
       way as moek.dispatch quantizes it (e4m3 values in `rows`, the 1x128
       blocks' f32 scales in `row_scales` of the owner);
    5. a grid barrier (phase `phase + 1`); CTA 0 adds 1 to every rank's
       `rows_done`; every CTA waits until its own reaches `epoch * ranks`
       (wait phase 2). Then every row this rank's experts get is in `rows`.

    With `seg_ready` and `offsets_ready` there is no step 5: the rows are
    published per (local expert, source rank) segment, so that the owner's
    GEMMs start on the segments that are complete. `seg_ready
    [experts_per_rank, ranks]` (u64, in the symmetric buffer, only growing)
    gets, on the owner, 1 added for each row this rank has written there
    (after the warp's copies were fenced to the async proxy and the row's
    metadata written; release at system scope), at `[e_l, self]`; CTA 0 adds
    1 to the local `offsets_ready` (u32, zero at entry) once it has written
    `offsets`, and the op ends in each CTA when its thread 0 has seen it and
    a CTA barrier. A consumer of the rows of local expert `e_l` from source
    `s` waits until `seg_ready[e_l, s]` has grown by
    `count_matrix[s, self * experts_per_rank + e_l]` in this launch.

    Waits give up after `timeout_ns` and record in `record` (moek.remote_wait).

    ```mlir
    moek.ep_dispatch %x, %ids, %weights tokens(%T) counts(%c) cursor(%cur) offsets(%off) slot_rows(%sr) barrier(%bar) count_matrix(%cm) counted(%cd) rows_done(%rd) rows(%rows) row_weights(%rw) row_slots(%rs) row_ranks(%rr) bases(%b) self(%me) epoch(%ep) timeout_ns(%ns) record(%rec) {ranks = 2 : i64, experts_per_rank = 4 : i64, top_k = 2 : i64, hidden = 512 : i64, phase = 1 : i64}
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$x, MoEK_GlobalPtr:$ids,
                       MoEK_GlobalPtr:$weights, Index:$tokens,
                       MoEK_GlobalPtr:$counts, MoEK_GlobalPtr:$cursor,
                       MoEK_GlobalPtr:$offsets, MoEK_GlobalPtr:$slot_rows,
                       MoEK_GlobalPtr:$barrier, MoEK_GlobalPtr:$count_matrix,
                       MoEK_GlobalPtr:$counted, MoEK_GlobalPtr:$rows_done,
                       MoEK_GlobalPtr:$rows, MoEK_GlobalPtr:$row_weights,
                       MoEK_GlobalPtr:$row_slots, MoEK_GlobalPtr:$row_ranks,
                       MoEK_GlobalPtr:$bases, I32:$self, I64:$epoch,
                       I64:$timeout_ns, MoEK_GlobalPtr:$record,
                       Optional<MoEK_GlobalPtr>:$row_scales,
                       Optional<MoEK_GlobalPtr>:$seg_ready,
                       Optional<MoEK_GlobalPtr>:$offsets_ready,
                       I64Attr:$ranks, I64Attr:$experts_per_rank,
                       I64Attr:$top_k, I64Attr:$hidden, I64Attr:$phase);
  let assemblyFormat = [{
    $x `,` $ids `,` $weights `tokens` `(` $tokens `)` `counts` `(` $counts `)`
    `cursor` `(` $cursor `)` `offsets` `(` $offsets `)`
    `slot_rows` `(` $slot_rows `)` `barrier` `(` $barrier `)`
    `count_matrix` `(` $count_matrix `)` `counted` `(` $counted `)`
    `rows_done` `(` $rows_done `)` `rows` `(` $rows `)`
    `row_weights` `(` $row_weights `)` `row_slots` `(` $row_slots `)`
    `row_ranks` `(` $row_ranks `)` `bases` `(` $bases `)` `self` `(` $self `)`
    `epoch` `(` $epoch `)` `timeout_ns` `(` $timeout_ns `)`
    `record` `(` $record `)` (`row_scales` `(` $row_scales^ `)`)?
    (`seg_ready` `(` $seg_ready^ `)` `offsets_ready` `(` $offsets_ready `)`)?
    attr-dict
  }];
  let hasVerifier = 1;
}

def MoEK_ReturnRowsOp : MoEK_Op<"return_rows", []> {
  let summary = "Send every received row back to its source, as its result";
  let description = [{
    The communication of an expert-parallel layer without its compute (the
    kernel that `convert-moe-to-moek{comm-only}` makes, to time the
    transfers alone): each of the `offsets[experts]` rows this rank received
    (`rows`, bf16, `hidden` wide) is stored as row `row_slots[r]` of `out`
    on rank `row_ranks[r]` (moek.map_peer with `bases`, `self`), where the
    GEMM2 epilogue would store its result. Run by threads
    `[first_thread, first_thread + threads)` of every CTA, one row per warp.

    ```mlir
    moek.return_rows %rows, %offsets slots(%s) ranks(%r) bases(%b) self(%me) out(%y) {experts = 4 : i64, hidden = 512 : i64, first_thread = 128 : i64, threads = 256 : i64}
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$rows, MoEK_GlobalPtr:$offsets,
                       MoEK_GlobalPtr:$slots, MoEK_GlobalPtr:$ranks,
                       MoEK_GlobalPtr:$bases, I32:$self, MoEK_GlobalPtr:$out,
                       I64Attr:$experts, I64Attr:$hidden,
                       I64Attr:$first_thread, I64Attr:$threads);
  let assemblyFormat = [{
    $rows `,` $offsets `slots` `(` $slots `)` `ranks` `(` $ranks `)`
    `bases` `(` $bases `)` `self` `(` $self `)` `out` `(` $out `)` attr-dict
  }];
}

def MoEK_RouteOp : MoEK_Op<"route", []> {
  let summary = "Top-k routing of every token from its router logits";
  let description = [{
    `moe.route` inside a fused kernel: for every token `t < tokens`, from
    `logits [T, num_experts]` (`logits_type`: f32, bf16 or f16) and the
    optional selection `bias [num_experts]` (f32), writes the `top_k`
    chosen experts to `ids [T, top_k]` (i32, slot 0 the best) and their
    weights to `weights [T, top_k]` (f32), by moe.route's rules:

    1. scores `s`: `softmax` (the maximum over the non-NaN logits
       subtracted) or `sigmoid`, in f32;
    2. selection scores `c = s + bias[e]` (or `s`); NaN ranks below every
       number, ties go to the lower expert;
    3. with `num_groups = G > 1` (a divisor of `num_experts`): a group
       scores the sum of its two best `c` (its best if it has one expert),
       and only the experts of its `topk_groups` best groups are eligible;
    4. the `top_k` eligible experts of largest `c`, best first;
    5. weights: the unbiased scores, divided by their sum (ascending slot
       order) with `renormalize` unless it is 0, times
       `routed_scaling_factor`;
    6. with `shared_experts = S`, the rows are `top_k + S` slots long and
       slots `top_k + j` hold expert `num_experts + j` with the weight
       `shared_weight`.

    The ids are the reference's wherever no two scores are within the
    exponential's rounding of each other: the scores use the hardware's
    `ex2.approx` (relative error about 2^-22) and a tree-ordered softmax
    sum, not the reference's `std::exp` and ascending sum.

    Run by every thread of every CTA, one token per warp (lane `l` holds
    experts `l, l + 32, ...`); `num_experts` at most 1024, `top_k` and
    `num_groups` at most 32. It writes only `ids` and `weights`; a
    `moek.grid_barrier` after it makes them visible to the grid.

    ```mlir
    moek.route %logits bias(%b) ids(%ids) weights(%w) tokens(%T) {num_experts = 256 : i64, top_k = 8 : i64, num_groups = 8 : i64, topk_groups = 4 : i64, scoring = "sigmoid", renormalize, routed_scaling_factor = 2.5 : f32, logits_type = f32}
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$logits, Optional<MoEK_GlobalPtr>:$bias,
                       MoEK_GlobalPtr:$ids, MoEK_GlobalPtr:$weights,
                       Index:$tokens, I64Attr:$num_experts, I64Attr:$top_k,
                       DefaultValuedAttr<I64Attr, "1">:$num_groups,
                       DefaultValuedAttr<I64Attr, "1">:$topk_groups,
                       StrAttr:$scoring, UnitAttr:$renormalize,
                       DefaultValuedAttr<F32Attr, "1.0f">:$routed_scaling_factor,
                       TypeAttr:$logits_type,
                       DefaultValuedAttr<I64Attr, "0">:$shared_experts,
                       DefaultValuedAttr<F32Attr, "1.0f">:$shared_weight);
  let assemblyFormat = [{
    $logits (`bias` `(` $bias^ `)`)? `ids` `(` $ids `)`
    `weights` `(` $weights `)` `tokens` `(` $tokens `)` attr-dict
  }];
  let hasVerifier = 1;
}

def MoEK_CombineOp : MoEK_Op<"combine", []> {
  let summary = "Sum each token's expert rows in slot order";
  let description = [{
    For every token `t < tokens`:
    `out[t, :] = round(sum over k = 0..top_k-1 in ascending order of
    w[t, k] * y[slot_rows[t * top_k + k], :])` in f32, where masked slots
    (`slot_rows < 0`) add nothing and `w` is `weights` if given, else 1.
    `y` holds `y_type` (bf16 or f32) rows of `hidden` elements, `out` gets
    `element_type`. Deterministic: no atomics. Run by threads
    `[first_thread, first_thread + threads)` of every CTA, one token per warp.

    ```mlir
    moek.combine %y, %slot_rows weights(%w) out(%out) tokens(%T) {top_k = 2 : i64, hidden = 512 : i64, y_type = bf16, element_type = bf16, first_thread = 128 : i64, threads = 256 : i64}
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$y, MoEK_GlobalPtr:$slot_rows,
                       Optional<MoEK_GlobalPtr>:$weights, MoEK_GlobalPtr:$out,
                       Index:$tokens, I64Attr:$top_k, I64Attr:$hidden,
                       TypeAttr:$y_type, TypeAttr:$element_type,
                       I64Attr:$first_thread, I64Attr:$threads);
  let assemblyFormat = [{
    $y `,` $slot_rows (`weights` `(` $weights^ `)`)? `out` `(` $out `)`
    `tokens` `(` $tokens `)` attr-dict
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Tile scheduling over expert groups
//===----------------------------------------------------------------------===//

def MoEK_GroupedTileCountOp : MoEK_Op<"grouped_tile_count", []> {
  let summary = "Number of output tiles of a grouped matmul";
  let description = [{
    With `offsets [E+1]` (i32, device memory: rows of expert `e` are
    `[offsets[e], offsets[e+1])`), counts the tiles of `tile_rows` rows by
    one of `col_tiles` column blocks over all experts:
    `sum_e ceil(rows_e / tile_rows) * col_tiles`. Experts with no rows
    count nothing. With `tail_rows = R` (> 0), an expert's last row block
    of at most R rows past a full block is not a block of its own: the
    block before takes it (`ceil(max(rows_e - R, 1) / tile_rows)` blocks
    for `rows_e > 0`), so that block holds up to `tile_rows + R` rows.

    ```mlir
    %n = moek.grouped_tile_count %offsets {num_experts = 8 : i64, tile_rows = 128 : i64, col_tiles = 4 : i64} : !llvm.ptr<1>
    ```
  }];
  let arguments = (ins LLVM_AnyPointer:$offsets, I64Attr:$num_experts,
                       I64Attr:$tile_rows, I64Attr:$col_tiles,
                       DefaultValuedAttr<I64Attr, "0">:$tail_rows);
  let results = (outs Index:$count);
  let assemblyFormat = "$offsets attr-dict `:` qualified(type($offsets))";
  let hasVerifier = 1;
}

def MoEK_GroupedTileOp : MoEK_Op<"grouped_tile", []> {
  let summary = "Decode a linear tile index of a grouped matmul";
  let description = [{
    Maps `tile` in `[0, grouped_tile_count)` to its expert, the first row of
    its row block (`offsets[e] + m * tile_rows`), the end of the expert's
    rows (`offsets[e+1]`, the masking limit) and its column block.

    Tiles are ordered by expert; inside an expert, by groups of `row_group`
    row blocks (the last group may be smaller), and inside a group by column
    block, then row block. Consecutive tiles, which run at the same time on
    a persistent grid, then read the same weight column panel, so it comes
    from DRAM once per group and from L2 for the other row blocks.
    `row_group = 1` (the default) is plain row-block-major order.
    `tail_rows` as moek.grouped_tile_count's (the same value for both): a
    tile of an expert's last block then has `row_end - row` up to
    `tile_rows + tail_rows`.

    ```mlir
    %e, %row, %end, %col = moek.grouped_tile %offsets[%t] {num_experts = 8 : i64, tile_rows = 128 : i64, col_tiles = 4 : i64, row_group = 8 : i64} : !llvm.ptr<1>
    ```
  }];
  let arguments = (ins LLVM_AnyPointer:$offsets, Index:$tile,
                       I64Attr:$num_experts, I64Attr:$tile_rows,
                       I64Attr:$col_tiles,
                       DefaultValuedAttr<I64Attr, "1">:$row_group,
                       DefaultValuedAttr<I64Attr, "0">:$tail_rows);
  let results = (outs Index:$expert, Index:$row, Index:$row_end,
                      Index:$col_tile);
  let assemblyFormat = "$offsets `[` $tile `]` attr-dict `:` qualified(type($offsets))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shared-memory pipelines
//===----------------------------------------------------------------------===//

def MoEK_RingAllocOp : MoEK_Op<"ring_alloc", []> {
  let summary = "Allocate and initialize a shared-memory pipeline";
  let description = [{
    Reserves the ring's stages in dynamic shared memory and initializes its
    barriers (full: `producers` arrivals, 1 by default: moek.ring_expect's;
    empty: `consumers` arrivals) before any role runs. Must be at the top
    level of the kernel, outside every role. A ring whose stages are also
    filled by copies of other threads (moek.stage_scales) counts their
    moek.ring_arrive_copies in `producers`.

    With `cluster = C` (> 1; the kernel then runs as clusters of C CTAs),
    the ring is shared by the C CTAs of a cluster: a `multicast`
    `moek.tma_load` writes a box into the same stage of every CTA's ring, so
    a stage may be refilled only when the consumers of every CTA are done
    with it. Each `moek.ring_release` then arrives on the empty barrier of
    every CTA of the cluster (once per consumer warpgroup: one thread per
    destination CTA), and the initialization ends with a cluster-wide
    barrier, so that no CTA signals a peer's barriers before they exist.
    The kernel must end with `moek.cluster_sync`.

    ```mlir
    %ring = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<128x64xbf16, 3>]>
    %shared = moek.ring_alloc consumers(256) {cluster = 2 : i64} : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
    ```
  }];
  let arguments = (ins I64Attr:$consumers,
                       DefaultValuedAttr<I64Attr, "1">:$cluster,
                       DefaultValuedAttr<I64Attr, "1">:$producers);
  let results = (outs MoEK_RingType:$ring);
  let assemblyFormat = "`consumers` `(` $consumers `)` attr-dict `:` qualified(type($ring))";
  let hasVerifier = 1;
}

class MoEK_RingStageOp<string mnemonic, string summaryText>
    : MoEK_Op<mnemonic, []> {
  let summary = summaryText;
  let arguments = (ins MoEK_RingType:$ring, Index:$iter);
  let assemblyFormat = "$ring `[` $iter `]` attr-dict `:` qualified(type($ring))";
}

def MoEK_RingAcquireOp : MoEK_RingStageOp<"ring_acquire",
    "Producer: wait until stage iter mod S is empty">;
def MoEK_RingExpectOp : MoEK_Op<"ring_expect", []> {
  let summary = "Producer: arrive on the stage's full barrier, expecting its bytes";
  let description = [{
    Arrives on the full barrier of stage `iter mod S` and sets the bytes the
    stage's TMA loads will deliver: all of its tiles by default, or `bytes`
    when the loads fill only part of them (e.g. only the row boxes of a tile
    that hold rows).

    ```mlir
    moek.ring_expect %ring[%i] : !moek.ring<...>
    moek.ring_expect %ring[%i] bytes(%n) : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter,
                       Optional<Index>:$bytes);
  let assemblyFormat = [{
    $ring `[` $iter `]` (`bytes` `(` $bytes^ `)`)? attr-dict `:` qualified(type($ring))
  }];
}
def MoEK_RingWaitOp : MoEK_RingStageOp<"ring_wait",
    "Consumer: wait until stage iter mod S is full">;
def MoEK_RingReleaseOp : MoEK_RingStageOp<"ring_release",
    "Consumer: arrive on the stage's empty barrier">;

def MoEK_RingArriveCopiesOp : MoEK_Op<"ring_arrive_copies", []> {
  let summary = "Arrive on a stage's full barrier once this thread's copies complete";
  let description = [{
    The executing thread's arrival on the full barrier of stage
    `iter mod S`, made when every `cp.async` copy it issued so far
    (moek.stage_scales, moek.gather_rows) has completed
    (`cp.async.mbarrier.arrive.noinc`): the stage is full once these
    arrivals, moek.ring_expect's and its bytes are in. The ring's
    `producers` counts them.

    ```mlir
    moek.ring_arrive_copies %ring[%i] : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter);
  let assemblyFormat = "$ring `[` $iter `]` attr-dict `:` qualified(type($ring))";
  let hasVerifier = 1;
}

def MoEK_StageScalesOp : MoEK_Op<"stage_scales", []> {
  let summary = "A warp copies UE8M0 block scales into a stage in tcgen05.cp's layout";
  let description = [{
    For a block-scaled moek.mma_tmem (sm_100a). The 32 lanes of the
    executing warp copy, for each row `r` of tile `tile` of stage
    `iter mod S` (an i8 tile of R x 4, R a multiple of 128), the four
    UE8M0 scales of K block `kb` (128 values: bytes `4 kb .. 4 kb + 3`) of
    row `min(row + r, last)` of `scales` (global memory, `scale_cols` bytes
    a row) to byte `512 (r / 128) + 16 (r % 32) + 4 ((r % 128) / 32)` of
    the tile: each 128-row block in the layout that
    `tcgen05.cp .32x128b.warpx4` copies into tensor memory (row r's scales
    in lane r % 32 of every lane quadrant, column (r % 128) / 32, byte j
    for K step j). Lane l copies rows `32 j + l`, 4 bytes each with
    `cp.async` (asynchronous: moek.ring_arrive_copies makes the stage wait
    for them). `last` keeps rows past an expert's end inside `scales`.
    With `upper`, the tile's rows `[R / 2, R)` come from rows `upper ..`
    of `scales` instead (a gate block and its up block, concatenated).

    ```mlir
    moek.stage_scales %ring[%i] tile 2 scales(%xs[%row, %kb]) last(%last) {scale_cols = 224 : i64} : !moek.ring<...>
    moek.stage_scales %ring[%i] tile 3 scales(%ws[%gate, %kb]) upper(%up) last(%last) {scale_cols = 224 : i64} : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$tile,
                       MoEK_GlobalPtr:$scales, Index:$row, Index:$kb,
                       Optional<Index>:$upper, Index:$last,
                       I64Attr:$scale_cols);
  let assemblyFormat = [{
    $ring `[` $iter `]` `tile` $tile `scales` `(` $scales `[` $row `,` $kb `]`
    `)` (`upper` `(` $upper^ `)`)? `last` `(` $last `)` attr-dict `:`
    qualified(type($ring))
  }];
  let hasVerifier = 1;
}

def MoEK_LoadRowTokensOp : MoEK_Op<"load_row_tokens", []> {
  let summary = "A warp loads its lanes' shares of a tile's row tokens";
  let description = [{
    The tokens moek.gather_rows copies, loaded once a tile so that no
    stage waits for them: lane `2p + h` of the executing warp gets, as
    element `j` of its N-vector (N = the tile's rows / 16), the u32 token
    `row_tokens[row + p + 16 j]` of tile row `p + 16 j` where
    `row + p + 16 j < row_end`, and 0xFFFFFFFF (no row) past it.

    ```mlir
    %tok = moek.load_row_tokens row_tokens(%rt) row(%row) row_end(%end) : vector<8xi32>
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$row_tokens, Index:$row,
                       Index:$row_end);
  let results = (outs VectorOfRankAndType<[1], [I32]>:$tokens);
  let assemblyFormat = [{
    `row_tokens` `(` $row_tokens `)` `row` `(` $row `)` `row_end` `(`
    $row_end `)` attr-dict `:` type($tokens)
  }];
}

def MoEK_GatherRowsOp : MoEK_Op<"gather_rows", []> {
  let summary = "A warp copies token rows into a stage's row tile (cp.async)";
  let description = [{
    GEMM1's rows gathered from the tokens instead of a dispatched copy
    (moek.dispatch with `row_tokens`). The 32 lanes of the executing warp
    fill tile `tile` of stage `iter mod S` (128-byte rows: bf16 R x 64 or
    e4m3 R x 128, R a multiple of 16) from their `tokens`
    (moek.load_row_tokens of the tile's rows: R / 16 a lane): tile row
    `q = p + 16 j` gets the C values of `x` (the tile's element type,
    `hidden` a row) at row `tokens[j]` of lanes `2p` and `2p + 1`, columns
    `k .. k + C - 1`, or zeros where that token is 0xFFFFFFFF (no row),
    laid out in the
    128-byte swizzle a TMA box of the tile would have (16-byte piece `c`
    of row `q` at byte `128 q + 16 (c ^ (q % 8))`; the tile is 1024-byte
    aligned). Lane `h` of the pair copies pieces `2m + h` (m < 4) of each
    of its rows, one 16-byte `cp.async` each (each copy instruction of the
    warp reads a whole 32-byte sector of 16 rows). Asynchronous:
    moek.ring_arrive_copies makes the stage wait for them. (The MMA
    warpgroups read the stage after its full barrier with no proxy fence,
    as the cp.async-fed wgmma pipelines of FlashAttention-3's paged KV
    cache and Triton's Hopper matmuls do: docs/FusedKernel.md.) `l2_hint`
    ("evict_last" or "evict_first", as moek.tma_load's) sets the L2
    eviction priority of the lines the copies read (`cp.async ...
    .L2::cache_hint`): a token's row is read again by each of its top_k
    experts' tiles, while the weights stream through L2.

    ```mlir
    moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%tok) k(%kx) {hidden = 7168 : i64} : !moek.ring<...>, vector<8xi32>
    moek.gather_rows %ring[%i] tile 0 x(%x) tokens(%tok) k(%kx) {hidden = 7168 : i64, l2_hint = "evict_last"} : !moek.ring<...>, vector<8xi32>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$tile,
                       MoEK_GlobalPtr:$x,
                       VectorOfRankAndType<[1], [I32]>:$tokens, Index:$k,
                       I64Attr:$hidden, OptionalAttr<StrAttr>:$l2_hint);
  let assemblyFormat = [{
    $ring `[` $iter `]` `tile` $tile `x` `(` $x `)` `tokens` `(` $tokens `)`
    `k` `(` $k `)` attr-dict `:` qualified(type($ring)) `,` type($tokens)
  }];
  let hasVerifier = 1;
}

def MoEK_StageBlockScalesOp : MoEK_Op<"stage_block_scales", []> {
  let summary = "A warp copies a stage's f32 row and weight block scales into the stage (cp.async)";
  let description = [{
    For the block-scaled FP8 K loops of sm_90a (DeepSeek-V3's recipe: one
    f32 scale per row and 128-wide K block, one per 128 x 128 weight
    block): the scales of K block `kb` staged with the stage's tiles, so
    that the MMA warpgroups read them from shared memory
    (moek.load_staged_scales) instead of waiting for global loads. The 32
    lanes of the executing warp fill tile `tile` of stage `iter mod S`, a
    byte tile among the ring's scale tiles (i8, 4 columns) of at least
    `4 (rows + 2)` bytes, as f32: word `r` (r < `rows`) gets
    `rows_ptr[min(row + r, last) * ld + kb * kb_stride]`, words `rows` and
    `rows + 1` get `weights[w0]` and `weights[w1]`. Lane l copies rows
    `32 j + l`, lanes 0 and 1 the weight scales, 4 bytes each with
    `cp.async`: asynchronous, moek.ring_arrive_copies makes the stage wait
    for them. `last` keeps the rows past an expert's end inside `rows_ptr`
    (their products are never stored). `ld = 1` with `kb_stride = N`
    reads block-major scales (moek.dispatch and moek.store_act_fp8 with
    `scales_stride = N`): each copy instruction of the warp then reads 128
    contiguous bytes instead of 32 lines. Indices are computed in 32 bits.

    ```mlir
    moek.stage_block_scales %ring[%i] tile 3 rows(%xs[%row, %kb]) last(%last) weights(%ws[%w0, %w1]) {ld = 56 : i64, rows = 128 : i64} : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$tile,
                       MoEK_GlobalPtr:$rows_ptr, Index:$row, Index:$kb,
                       Index:$last, MoEK_GlobalPtr:$weights, Index:$w0,
                       Index:$w1, I64Attr:$ld, I64Attr:$rows,
                       DefaultValuedAttr<I64Attr, "1">:$kb_stride);
  let assemblyFormat = [{
    $ring `[` $iter `]` `tile` $tile `rows` `(` $rows_ptr `[` $row `,` $kb `]`
    `)` `last` `(` $last `)` `weights` `(` $weights `[` $w0 `,` $w1 `]` `)`
    attr-dict `:` qualified(type($ring))
  }];
  let hasVerifier = 1;
}

def MoEK_LoadStagedScalesOp : MoEK_Op<"load_staged_scales", []> {
  let summary = "An MMA warpgroup reads a stage's block scales (moek.stage_block_scales)";
  let description = [{
    Reads tile `tile` of stage `iter mod S` as moek.stage_block_scales with
    the same `rows` filled it: into the threads that hold each row of the
    64-row accumulator whose first row is word `row` of the tile, that
    row's scale (a `!moek.rows<64xf32>`, for moek.mma_promote), and the two
    weight scales. Only between the stage's moek.ring_wait and its
    moek.ring_release (the producer may refill it after).

    ```mlir
    %rs, %w0, %w1 = moek.load_staged_scales %ring[%i] tile 3 row(%r) {rows = 128 : i64} : !moek.ring<...> -> !moek.rows<64xf32>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$tile,
                       Index:$row, I64Attr:$rows);
  let results = (outs MoEK_RowsType:$row_scales, F32:$w0, F32:$w1);
  let assemblyFormat = [{
    $ring `[` $iter `]` `tile` $tile `row` `(` $row `)` attr-dict `:`
    qualified(type($ring)) `->` qualified(type($row_scales))
  }];
  let hasVerifier = 1;
}

def MoEK_RingSetTagOp : MoEK_Op<"ring_set_tag", []> {
  let summary = "Producer: attach a word to a stage (e.g. its tile index)";
  let description = [{
    Stores `value` (below 2^31) into the tag word of stage `iter mod S`, in
    shared memory beside the stage's barriers. Written after
    `moek.ring_acquire` and before `moek.ring_expect` of the stage, it is
    visible to every consumer once its `moek.ring_wait` of the stage
    returns (the full barrier's completion orders it), and stays until the
    stage is acquired again. A dynamic tile scheduler uses it to tell the
    consumers which tile the producer fetched.

    ```mlir
    moek.ring_set_tag %ring[%i], %tile : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, Index:$value);
  let assemblyFormat = [{
    $ring `[` $iter `]` `,` $value attr-dict `:` qualified(type($ring))
  }];
}

def MoEK_RingTagOp : MoEK_Op<"ring_tag", []> {
  let summary = "Consumer: the word attached to a full stage";
  let description = [{
    Reads the tag of stage `iter mod S` (see `moek.ring_set_tag`); only
    after `moek.ring_wait` of that stage.

    ```mlir
    %tile = moek.ring_tag %ring[%i] : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter);
  let results = (outs Index:$value);
  let assemblyFormat = "$ring `[` $iter `]` attr-dict `:` qualified(type($ring))";
}

def MoEK_TmaLoadOp : MoEK_Op<"tma_load", []> {
  let summary = "Copy one tile from global memory into a ring stage (TMA)";
  let description = [{
    Copies the box at coordinates `(coords...)` (innermost first, in
    elements) of the tensor described by `desc` (a TMA descriptor kernel
    parameter) into tile `tile` of stage `iter mod S`, from its row
    `row_offset` (0 by default; a multiple of 8, the 128B swizzle atom, when
    the box fills only part of the tile), completing on that stage's full
    barrier. Issued by one thread. `l2_hint` ("evict_first" for data read
    once, "evict_last" for data read again soon) sets the L2 eviction
    priority of the lines the copy reads. `multicast` (only on a ring
    allocated with `cluster` > 1) writes the box into the same place of
    every CTA's ring in the cluster and completes on each one's full
    barrier: one L2 read feeds all of them. `leader_barrier` (sm_100a CTA
    pairs, beside a `cta_pair` moek.acc_ring_alloc; no `multicast`)
    completes the copy into this CTA's ring on the full barrier of the
    pair's even CTA instead (`.cta_group::2`), whose MMA issuer reads both
    CTAs' stages; that CTA's `moek.ring_expect` counts both CTAs' bytes,
    and a `moek.cluster_sync` after the rings' allocation keeps the copies
    from reaching a barrier not yet initialized.

    ```mlir
    moek.tma_load %desc[%k, %row] -> %ring[%i] tile 0 : !llvm.ptr, !moek.ring<...>
    moek.tma_load %desc[%k, %row64] -> %ring[%i] tile 0 {row_offset = 64 : i64} : !llvm.ptr, !moek.ring<...>
    moek.tma_load %desc[%k, %n] -> %ring[%i] tile 1 {l2_hint = "evict_first"} : !llvm.ptr, !moek.ring<...>
    moek.tma_load %desc[%k, %n] -> %ring[%i] tile 1 {multicast, row_offset = 128 : i64} : !llvm.ptr, !moek.ring<...>
    ```
  }];
  let arguments = (ins LLVM_AnyPointer:$desc, Variadic<Index>:$coords,
                       MoEK_RingType:$ring, Index:$iter, I64Attr:$tile,
                       DefaultValuedAttr<I64Attr, "0">:$row_offset,
                       OptionalAttr<StrAttr>:$l2_hint,
                       UnitAttr:$multicast, UnitAttr:$leader_barrier);
  let assemblyFormat = [{
    $desc `[` $coords `]` `->` $ring `[` $iter `]` `tile` $tile attr-dict `:`
    qualified(type($desc)) `,` qualified(type($ring))
  }];
  let hasVerifier = 1;
}

def MoEK_DequantFp4Op : MoEK_Op<"dequant_fp4", []> {
  let summary = "Expand an MXFP4 tile of a ring stage into a bf16 tile";
  let description = [{
    Tile `from` of stage `iter mod S` holds R rows of 64 packed e2m1 values
    (32 bytes a row, as TMA copied them without swizzle: two values a byte,
    the first in the low nibble); this writes each value times its UE8M0
    scale, exactly, as bf16 into tile `to` (R rows of 64 bf16 in the 128B
    swizzle that `moek.mma` reads). The scale of row r, K block c (32
    values) is the byte `scales[(row + r) * scale_cols + k_block + c]` in
    global memory (2^(byte - 127); 255 is NaN), for rows below
    `scale_rows`; rows at or past it (a tile past the weights' last row,
    which TMA filled with zeros) read the last row's scales instead. Run
    by the `threads` consecutive threads from `first_thread` together (each
    expands whole 32-value blocks: 16 packed bytes, one scale, four 16-byte
    bf16 chunks), ending with a proxy fence and named barrier `barrier`
    over those threads: afterwards the tile is complete for all of them and
    for the tensor cores. With `nvfp4`, the scales are e4m3 (NVFP4), one
    per 16 values: block c's scale is byte `k_block + c` of the row's
    `scale_cols` (16-value blocks); e4m3 times e2m1 is exact in bf16 (an
    e4m3 NaN gives NaN). NVFP4's global scale is not applied here. With
    `upper(%u)`, the tile's upper R/2 rows come from elsewhere (a fused
    layer's up rows beside its gate rows): row r >= R/2 reads the scales
    of row `u + r - R/2`.

    ```mlir
    moek.dequant_fp4 %ring[%i] from 2 to 1 scales(%ws[%row, %kb]) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 1048576 : i64, threads = 256 : i64} : !moek.ring<...>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$from,
                       I64Attr:$to, MoEK_GlobalPtr:$scales, Index:$row,
                       Index:$k_block, Optional<Index>:$upper_row,
                       I64Attr:$scale_rows, I64Attr:$scale_cols,
                       I64Attr:$threads, I64Attr:$first_thread,
                       I64Attr:$barrier, UnitAttr:$nvfp4);
  let assemblyFormat = [{
    $ring `[` $iter `]` `from` $from `to` $to `scales` `(` $scales `[` $row `,`
    $k_block `]` `)` (`upper` `(` $upper_row^ `)`)? attr-dict `:`
    qualified(type($ring)) `,` qualified(type($scales))
  }];
  let hasVerifier = 1;
}

def MoEK_DequantMxfp8Op : MoEK_Op<"dequant_mxfp8", []> {
  let summary = "Expand an MXFP8 tile of a ring stage into a bf16 tile";
  let description = [{
    Tile `from` of stage `iter mod S` holds R rows of 64 e4m3 values (64
    bytes a row, as TMA copied them without swizzle); this writes each value
    times its UE8M0 scale, exactly, as bf16 into tile `to` (R rows of 64
    bf16 in the 128B swizzle that `moek.mma` reads). The scale of row r, K
    block c (32 values) is the byte `scales[min(row + r, row_limit - 1) *
    scale_cols + k_block + c]` in global memory (2^(byte - 127); 255 is
    NaN): rows at or past `row_limit` (the rows of a tile past the
    operand's last, whose values TMA did not load or filled with zeros)
    read the last row's scales. An e4m3 NaN gives NaN; a product below
    bf16's smallest subnormal (a scale under 2^-124) is rounded. Run by the
    `threads` consecutive threads from `first_thread` together (each
    expands whole 32-value blocks: two 16-byte loads, one scale, four
    16-byte bf16 chunks), ending with a proxy fence and named barrier
    `barrier` over those threads: afterwards the tile is complete for all
    of them and for the tensor cores. Both operands of an MXFP8 grouped
    matmul (rows and weights) are expanded this way. With `upper(%u)`, the
    tile's upper R/2 rows read the scales of rows `u + r - R/2` (a fused
    GEMM1 tile's up box, I rows past its gate box), clamped the same way.

    ```mlir
    moek.dequant_mxfp8 %ring[%i] from 3 to 0 scales(%xs[%row, %kb]) row_limit(%end) {barrier = 7 : i64, first_thread = 128 : i64, scale_cols = 90 : i64, threads = 256 : i64} : !moek.ring<...>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$from,
                       I64Attr:$to, MoEK_GlobalPtr:$scales, Index:$row,
                       Index:$k_block, Index:$row_limit,
                       Optional<Index>:$upper_row,
                       I64Attr:$scale_cols, I64Attr:$threads,
                       I64Attr:$first_thread, I64Attr:$barrier);
  let assemblyFormat = [{
    $ring `[` $iter `]` `from` $from `to` $to `scales` `(` $scales `[` $row `,`
    $k_block `]` `)` `row_limit` `(` $row_limit `)`
    (`upper` `(` $upper_row^ `)`)? attr-dict `:`
    qualified(type($ring)) `,` qualified(type($scales))
  }];
  let hasVerifier = 1;
}

def MoEK_LoadFp4ScalesOp : MoEK_Op<"load_fp4_scales", []> {
  let summary = "Load each thread's row of four UE8M0 block scales";
  let description = [{
    Thread `t` (counted from `first_thread`) loads the four bytes
    `scales[min(row + t, scale_rows - 1) * scale_cols + 4 * k_block + c]`,
    c = 0..3, from global memory: the UE8M0 scales of the four 32-value
    blocks of one 128-wide K block of weight row `row + t`, byte c in bits
    8c..8c+7 of the result, for moek.dequant_fp4_fp8. Rows at or past
    `scale_rows` (a tile past the weights' last row) read the last row's.
    A separate op so that a loop can load the next stage's scales while
    the tensor cores work on the current one.

    ```mlir
    %w = moek.load_fp4_scales %ws[%row, %kb] {first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 1048576 : i64} : !llvm.ptr<1> -> i32
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$scales, Index:$row, Index:$k_block,
                       I64Attr:$scale_rows, I64Attr:$scale_cols,
                       I64Attr:$first_thread);
  let results = (outs I32:$word);
  let assemblyFormat = [{
    $scales `[` $row `,` $k_block `]` attr-dict `:` qualified(type($scales))
    `->` type($word)
  }];
  let hasVerifier = 1;
}

def MoEK_Fp4RowScaleOp : MoEK_Op<"fp4_row_scale", []> {
  let summary = "The largest UE8M0 block scale of each thread's weight row";
  let description = [{
    Thread `t` of the `threads` threads from `first_thread` reads the
    `scale_cols` UE8M0 scale bytes of weight row `min(row + t, scale_rows -
    1)` of `scales` (global memory, `[scale_rows, scale_cols]`) and returns
    the largest, `m` (i32). After named barrier `barrier` over the threads
    (so that no thread still reads the previous tile's column scales), it
    stores the column scale `2^(m - 133)` of column `t` (NaN if `m` is 255,
    a NaN scale) into `col_scales`, in the order in which
    moek.acc_scale_cols reads them (4 * (threads / 4 + 4) f32; column c at
    slot ((c % 8) / 2) * (threads / 4 + 4) + 2 (c / 8) + c % 2). Readers
    must wait for a later barrier of the same threads: in the kernels
    `convert-moe-to-moek` builds, the closing barrier of the tile's first
    moek.dequant_fp4_fp8 (same barrier, `threads` = its R rows; every tile
    has at least one K block). The tile prologue of MXFP4 weights expanded
    by moek.dequant_fp4_fp8.

    ```mlir
    %m = moek.fp4_row_scale %ws[%row] col_scales(%cs) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 1048576 : i64, threads = 128 : i64} : !llvm.ptr<1>, !llvm.ptr<3> -> i32
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$scales, Index:$row,
                       LLVM_PointerInAddressSpace<3>:$col_scales,
                       I64Attr:$scale_rows, I64Attr:$scale_cols,
                       I64Attr:$threads, I64Attr:$first_thread,
                       I64Attr:$barrier);
  let results = (outs I32:$row_max);
  let assemblyFormat = [{
    $scales `[` $row `]` `col_scales` `(` $col_scales `)` attr-dict `:`
    qualified(type($scales)) `,` qualified(type($col_scales)) `->`
    type($row_max)
  }];
  let hasVerifier = 1;
}

def MoEK_DequantFp4Fp8Op : MoEK_Op<"dequant_fp4_fp8", []> {
  let summary = "Expand an MXFP4 tile of a ring stage into an e4m3 tile";
  let description = [{
    Tile `from` of stage `iter mod S` holds R rows of 128 packed e2m1
    values (64 bytes a row, the first value of a byte in its low nibble, in
    the 64-byte swizzle of TMA: 16-byte chunk q of row r at
    `(q ^ (r / 2 % 4)) * 16`); tile `to` gets them as f8E4M3FN (R rows of
    128 bytes in the 128B swizzle that `moek.mma` reads), one row per
    thread: the R threads from `first_thread` run it together, thread `t`
    row `t`. `scales` is the thread's row of four UE8M0 block scales
    (moek.load_fp4_scales: byte c scales values 32c..32c+31) and `row_max`
    the largest block scale of the whole row (moek.fp4_row_scale): value v
    of block c is written as `v * 2^(s_c - row_max + 6)`, which times the
    column scale `2^(row_max - 133)` is `v * 2^(s_c - 127)` exactly while
    `row_max - s_c <= 14` (e4m3 subnormals end there; blocks smaller still
    are rounded to nearest even, and those below `2^(row_max - 146)`
    vanish). The expansion is a byte table per block (`prmt`), chosen by
    `min(row_max - s_c, 19)` from a 20-entry table (the kernel's copy in
    shared memory, written at its entry). Ends with a proxy fence and named
    barrier `barrier` over the R threads.

    With `permute_k` the e4m3 values of each 128-value K block are stored
    in moek.mma_fp4's K order (docs/FusedKernel.md): 4-byte word
    `8s + 4e + q` of the block holds values `32q + 8s + 4e .. + 3` (s, q in
    0..3, e in 0..1).

    ```mlir
    moek.dequant_fp4_fp8 %ring[%i] from 3 to 1 scales(%w) row_max(%m) {barrier = 8 : i64, first_thread = 128 : i64} : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$from,
                       I64Attr:$to, I32:$scales, I32:$row_max,
                       I64Attr:$first_thread, I64Attr:$barrier,
                       UnitAttr:$permute_k);
  let assemblyFormat = [{
    $ring `[` $iter `]` `from` $from `to` $to `scales` `(` $scales `)`
    `row_max` `(` $row_max `)` attr-dict `:` qualified(type($ring))
  }];
  let hasVerifier = 1;
}

// Two i32 (a thread's two fragment rows' scale words or maxima); four
// (their two byte tables).
def MoEK_I32Pair : VectorOfLengthAndType<[2], [I32]>,
    BuildableType<"::mlir::VectorType::get({2}, $_builder.getI32Type())">;
def MoEK_I32Quad : VectorOfLengthAndType<[4], [I32]>,
    BuildableType<"::mlir::VectorType::get({4}, $_builder.getI32Type())">;

def MoEK_Fp4FragmentRowMaxOp : MoEK_Op<"fp4_fragment_row_max", []> {
  let summary = "The largest UE8M0 block scale of the weight rows of a wgmma A fragment";
  let description = [{
    For moek.mma_fp4: weight rows `row + r` (r < 64) are the rows of a
    64-row wgmma A fragment, and the calling warpgroup's thread holds rows
    `r = 16 * warp + lane / 4` and `r + 8`. Element h of the result is the
    largest of the `scale_cols` UE8M0 scale bytes of weight row
    `min(row + r + 8h, scale_rows - 1)` of `scales` (global memory,
    `[scale_rows, scale_cols]`); the four threads of a quad (which hold the
    same rows) each read a quarter and combine theirs with shuffles.

    ```mlir
    %m = moek.fp4_fragment_row_max %ws[%row] {scale_cols = 224 : i64, scale_rows = 1048576 : i64} : !llvm.ptr<1> -> vector<2xi32>
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$scales, Index:$row, I64Attr:$scale_rows,
                       I64Attr:$scale_cols);
  let results = (outs MoEK_I32Pair:$row_max);
  let assemblyFormat = [{
    $scales `[` $row `]` attr-dict `:` qualified(type($scales)) `->`
    type($row_max)
  }];
  let hasVerifier = 1;
}

def MoEK_LoadFp4FragmentScalesOp : MoEK_Op<"load_fp4_fragment_scales", []> {
  let summary = "Load the block scales of the weight rows of a wgmma A fragment";
  let description = [{
    Element h of the result holds the four bytes
    `scales[min(row + r + 8h, scale_rows - 1) * scale_cols + 4 * k_block + c]`
    (c = 0..3, byte c in bits 8c..8c+7), with `r = 16 * warp + lane / 4` of
    the calling warpgroup's thread: the UE8M0 scales of the four 32-value
    blocks of one 128-wide K block of the two weight rows the thread holds
    in moek.mma_fp4's A fragment. A separate op so that a loop can load the
    next stage's scales while the tensor cores work on the current one.

    ```mlir
    %w = moek.load_fp4_fragment_scales %ws[%row, %kb] {scale_cols = 224 : i64, scale_rows = 1048576 : i64} : !llvm.ptr<1> -> vector<2xi32>
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$scales, Index:$row, Index:$k_block,
                       I64Attr:$scale_rows, I64Attr:$scale_cols);
  let results = (outs MoEK_I32Pair:$words);
  let assemblyFormat = [{
    $scales `[` $row `,` $k_block `]` attr-dict `:` qualified(type($scales))
    `->` type($words)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// MMA
//===----------------------------------------------------------------------===//

def MoEK_MmaZeroOp : MoEK_Op<"mma_zero", [Pure]> {
  let summary = "A zero accumulator";
  let results = (outs MoEK_AccType:$acc);
  let assemblyFormat = "attr-dict `:` qualified(type($acc))";
}

def MoEK_MmaOp : MoEK_Op<"mma", [AllTypesMatch<["acc", "result"]>]> {
  let summary = "acc += A * B^T over one ring stage (asynchronous)";
  let description = [{
    Multiplies rows `[a_row, a_row + R)` of tile `a` of stage `iter mod S`
    (R = the accumulator's rows) by the first C rows of tile `b` (C = the
    accumulator's columns, at most tile `b`'s rows: an accumulator narrower
    than tile `b` multiplies its first rows), both K-major, over the tiles'
    whole K extent,
    and adds into `acc`; with `zero_init`, the result is the product alone
    (`acc` only gives the registers). Tiles are bf16 or f8E4M3FN (FP32
    accumulation either way). Issued by the whole warpgroup; asynchronous
    until `moek.mma_wait`.

    With `cols = n` (a multiple of 8 below the accumulator's columns; 16
    for a 128-row tcgen05 accumulator), only the accumulator's first `n`
    columns are computed, from tile `b`'s first `n` rows: a narrower MMA
    (`wgmma` m64nN, tcgen05's N) for the last column tile of a matrix whose
    width is not a multiple of the tile's, whose other columns nobody
    stores. Those columns keep `acc`'s values (undefined with `zero_init`).

    ```mlir
    %acc1 = moek.mma %ring[%i] a(0, %row) b(1) acc(%acc0) : !moek.ring<...>, !moek.acc<64x128xf32>
    %acc2 = moek.mma %ring[%i] a(0, %row) b(1) acc(%acc1) {cols = 64 : i64} : !moek.ring<...>, !moek.acc<64x128xf32>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$a, Index:$a_row,
                       I64Attr:$b, MoEK_AccType:$acc, UnitAttr:$zero_init,
                       OptionalAttr<I64Attr>:$cols);
  let results = (outs MoEK_AccType:$result);
  let assemblyFormat = [{
    $ring `[` $iter `]` `a` `(` $a `,` $a_row `)` `b` `(` $b `)` `acc` `(` $acc `)`
    attr-dict `:` qualified(type($ring)) `,` qualified(type($acc))
  }];
  let hasVerifier = 1;
}

def MoEK_Fp4FragmentTablesOp : MoEK_Op<"fp4_fragment_tables", [Pure]> {
  let summary = "The byte tables that expand a thread's MXFP4 fragment blocks";
  let description = [{
    For the two weight rows h = 0, 1 of the calling thread's A fragment
    (moek.mma_fp4), the eight bytes that expand block q = lane % 4 of the
    K block whose scale words are `scales` (moek.load_fp4_fragment_scales):
    byte c (c = 0..7, words 2h and 2h + 1) is
    `e4m3(e2m1 magnitude c * 2^(6 - min(row_max[h] - s, 19)))` with s the
    block's UE8M0 scale (byte q of `scales[h]`) and `row_max`
    (moek.fp4_fragment_row_max) the row's largest; read from the kernel's
    copy of the constant table in shared memory (made at its entry). A
    separate op so that a loop can look the next K block's tables up while
    the tensor cores work on the current one.

    ```mlir
    %t = moek.fp4_fragment_tables %w, %m : vector<4xi32>
    ```
  }];
  let arguments = (ins MoEK_I32Pair:$scales, MoEK_I32Pair:$row_max);
  let results = (outs MoEK_I32Quad:$tables);
  let assemblyFormat = "$scales `,` $row_max attr-dict `:` type($tables)";
}

def MoEK_MmaFp4Op : MoEK_Op<"mma_fp4", []> {
  let summary = "MXFP4 weights from registers times a token tile (asynchronous)";
  let description = [{
    The transposed product of a small tile, for rows of few tokens: the
    weights are the MMA's A operand, expanded to e4m3 in registers, and the
    tokens its B operand. One result per 64-row block: result f is rows
    `[a_row + 64 f, a_row + 64 f + 64)` of the packed MXFP4 tile `packed`
    of stage `iter mod S` (128 e2m1 values a row, 64 bytes, the 64-byte
    swizzle of moek.dequant_fp4_fp8) times the first N rows of the
    f8E4M3FN tile `b` (N = the accumulator's columns, K-major, 128B
    swizzle), over the tile's K extent (128): result[r][c] = sum over k of
    w[r][k] * b[c][k], a fresh product (not added to anything). Each thread
    expands exactly the values of its own A fragments (rows `16 * warp +
    lane / 4` and + 8 of each block): value v of 32-value block c of a row
    becomes `e4m3(v * 2^(s_c - row_max + 6))`, as in moek.dequant_fp4_fp8,
    through `tables[f]` (moek.fp4_fragment_tables), the byte tables of the
    thread's two rows of block f for this K block. Lane q
    of a quad expands block q of its rows, so tile b must hold its K values
    in the order `permute_k` stores them (moek.dequant_fp4_fp8): K step s
    takes values 8s..8s+7 of each block.

    The four K steps are issued in groups of `steps_per_fence` (1, 2 or 4):
    a group's A registers of every block are expanded, then one
    `wgmma.fence`, then the group's `wgmma.mma_async` (m64nNk32, A from
    registers), step by step, block by block. No shared-memory round trip
    or barrier. Issued by the whole warpgroup; one commit group,
    asynchronous until `moek.mma_wait`. sm_90a only.

    ```mlir
    %p:2 = moek.mma_fp4 %ring[%i] packed(3, %c0) b(0) tables(%t0, %t1) {steps_per_fence = 1 : i64} : !moek.ring<...>, !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$packed,
                       Index:$a_row, I64Attr:$b,
                       Variadic<MoEK_I32Quad>:$tables,
                       DefaultValuedAttr<I64Attr, "1">:$steps_per_fence);
  let results = (outs Variadic<MoEK_AccType>:$results);
  let assemblyFormat = [{
    $ring `[` $iter `]` `packed` `(` $packed `,` $a_row `)` `b` `(` $b `)`
    `tables` `(` $tables `)` attr-dict `:`
    qualified(type($ring)) `,` qualified(type($results))
  }];
  let hasVerifier = 1;
}

def MoEK_LoadFp4SliceScalesOp : MoEK_Op<"load_fp4_slice_scales", []> {
  let summary = "Load the block scales of a thread's four weight rows for one 64-wide K slice";
  let description = [{
    For moek.mma_fp4_bf16: element `2f + h` of the result holds the scales
    of K slice `slice` (64 values) of weight row
    `min(row + 64f + r + 8h, scale_rows - 1)`, `r = 16 * warp + lane / 4`
    of the calling warpgroup's thread (the rows it holds in the A
    fragments of two 64-row blocks): MXFP4, the two UE8M0 bytes
    `scales[row * scale_cols + 2 * slice + c]` (c = 0, 1); NVFP4
    (`nvfp4`), the four e4m3 bytes at `4 * slice + c` (c = 0..3); byte c in
    bits 8c..8c+7. A separate op so that a loop can load the next stage's
    scales while the tensor cores work on the current one.

    ```mlir
    %w = moek.load_fp4_slice_scales %ws[%row, %slice] {scale_cols = 224 : i64, scale_rows = 1048576 : i64} : !llvm.ptr<1> -> vector<4xi32>
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$scales, Index:$row, Index:$slice,
                       I64Attr:$scale_rows, I64Attr:$scale_cols,
                       UnitAttr:$nvfp4);
  let results = (outs MoEK_I32Quad:$words);
  let assemblyFormat = [{
    $scales `[` $row `,` $slice `]` attr-dict `:` qualified(type($scales))
    `->` type($words)
  }];
  let hasVerifier = 1;
}

def MoEK_MmaFp4Bf16Op : MoEK_Op<"mma_fp4_bf16", []> {
  let summary = "FP4 weights from registers, expanded to bf16, times a bf16 token tile (asynchronous)";
  let description = [{
    The transposed product of a small tile in the bf16 x FP4 kernel: the
    weights are the MMA's A operand, expanded to bf16 in registers, and the
    tokens its B operand. Result f is `accs[f]` plus rows
    `[a_row + 64 f, a_row + 64 f + 64)` of the packed FP4 tile `packed` of
    stage `iter mod S` (64 e2m1 values a row, 32 bytes, unswizzled, as
    moek.dequant_fp4 reads it) times the first N rows of the bf16 tile `b`
    (N = the accumulators' columns; 64 values a row, K-major, 128B swizzle),
    over the slice's 64 K values: result[r][c] = accs[f][r][c] + sum over k
    of w[r][k] * b[c][k], w the exactly dequantized weight (MXFP4:
    e2m1 * 2^(s - 127); NVFP4 (`nvfp4`): e2m1 * the e4m3 block scale *
    2^-9, each pair's one multiplication by its scale times 2^117, so the
    caller multiplies the sums by 2^9; the per-expert global scale is the
    caller's too). `scales` are the thread's
    rows' scale bytes of this slice (moek.load_fp4_slice_scales). Each
    thread expands exactly the values of its own A fragments: in K step s
    (16 values), register (row r, K 16s + 2q, + 1) is byte 8s + q of the
    row and (row r, K 16s + 8 + 2q, + 1) byte 8s + 4 + q (q = lane % 4):
    the row's 32 bytes are loaded once (two 16-byte loads) and byte q of
    each word picked out. Per K step: that step's registers of every block,
    one `wgmma.fence`, the blocks' `wgmma.mma_async` m64nNk16 (A from
    registers). No shared-memory round trip or barrier. Issued by the whole
    warpgroup; one commit group, asynchronous until `moek.mma_wait`.
    sm_90a only.

    ```mlir
    %p:2 = moek.mma_fp4_bf16 %ring[%i] packed(2, %c0) b(0) acc(%a0, %a1) scales(%w) : !moek.ring<...>, !moek.acc<64x16xf32>, !moek.acc<64x16xf32> -> !moek.acc<64x16xf32>, !moek.acc<64x16xf32>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$packed,
                       Index:$a_row, I64Attr:$b, Variadic<MoEK_AccType>:$accs,
                       MoEK_I32Quad:$scales, UnitAttr:$nvfp4);
  let results = (outs Variadic<MoEK_AccType>:$results);
  let assemblyFormat = [{
    $ring `[` $iter `]` `packed` `(` $packed `,` $a_row `)` `b` `(` $b `)`
    `acc` `(` $accs `)` `scales` `(` $scales `)` attr-dict `:`
    qualified(type($ring)) `,` qualified(type($accs)) `->`
    qualified(type($results))
  }];
  let hasVerifier = 1;
}

def MoEK_UnpackFp4Op : MoEK_Op<"unpack_fp4", []> {
  let summary = "Stage an MXFP4 tile and its block scales for a block-scaled tcgen05 MMA";
  let description = [{
    For moek.mma_block_scaled (sm_100a). Tile `from` of stage `iter mod S`
    holds 128 rows of 128 packed e2m1 values (64 bytes a row, the first
    value of a byte in its low nibble, in the 64-byte swizzle of
    moek.dequant_fp4_fp8); tile `to` (128 x 128 i8) gets them in the form
    tcgen05.mma `.kind::mxf8f6f4` reads 4-bit operands from shared memory
    (each 16-value group's 8 packed bytes followed by 8 bytes of padding:
    128 values a 128-byte row, in the 128B swizzle), with the rows
    permuted: row `t = 64 s + 16 w + r` (r < 16) is stored as row
    `32 w + 16 s + r`, so that the product's tensor-memory lanes read back
    as two wgmma fragments (moek.mma_block_scaled). The 128 threads from
    `first_thread` run it together, thread `t` row `t`. `sf` (1024 bytes of
    shared memory): bytes `[0, 512)` get the four UE8M0 scales of K block
    `kb` (bytes `4 kb .. 4 kb + 3`) of weight row
    `min(row + t, scale_rows - 1)` of `scales` (global memory,
    `[scale_rows, scale_cols]`), those of stored row L at
    `16 (L % 32) + 4 (L / 32)`, the layout that `tcgen05.cp .32x128b.warpx4`
    copies into tensor memory; bytes `[512, 1024)` get 127 (scale 1, for
    the B operand). Ends with a proxy fence and named barrier `barrier` over
    the 128 threads.

    ```mlir
    moek.unpack_fp4 %ring[%i] from 3 to 1 scales(%ws[%row, %kb]) sf(%sf) {barrier = 8 : i64, first_thread = 128 : i64, scale_cols = 224 : i64, scale_rows = 1048576 : i64} : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$from,
                       I64Attr:$to, MoEK_GlobalPtr:$scales, Index:$row,
                       Index:$kb, LLVM_PointerInAddressSpace<3>:$sf,
                       I64Attr:$scale_rows, I64Attr:$scale_cols,
                       I64Attr:$first_thread, I64Attr:$barrier);
  let assemblyFormat = [{
    $ring `[` $iter `]` `from` $from `to` $to `scales` `(` $scales `[` $row
    `,` $kb `]` `)` `sf` `(` $sf `)` attr-dict `:` qualified(type($ring))
  }];
  let hasVerifier = 1;
}

def MoEK_MmaBlockScaledOp : MoEK_Op<"mma_block_scaled", []> {
  let summary = "Block-scaled MXFP4 weights times an e4m3 token tile on tcgen05 (asynchronous)";
  let description = [{
    The transposed product of sm_100a's FP8 x MXFP4 tiles: tile `a` of
    stage `iter mod S` (moek.unpack_fp4's: 128 weight rows of 128 e2m1
    values, rows permuted) is tcgen05.mma's A operand (M = 128) and the
    first N rows of the f8E4M3FN tile `b` (K-major, 128B swizzle; N = the
    results' columns) its B operand, with the UE8M0 block scales that
    moek.unpack_fp4 staged at `sf`. Result `s` (s = 0, 1) is weight rows
    `[64 s, 64 s + 64)` of the unpermuted tile:
    `result[r][c] = sum over k of w[r][k] * 2^(scale(r, k / 32) - 127) * b[c][k]`,
    a fresh product. Thread 0 of the warpgroup copies both operands' scales
    into the warpgroup's tensor memory (`tcgen05.cp .32x128b.warpx4`),
    issues four `tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale`
    (M = 128, N, K = 32 each, scale id = the K step) and commits them to an
    mbarrier; moek.mma_wait with pending(0) on each result reads it back as
    a 64 x N wgmma fragment (tensor-memory lanes `16 s + 32 w ..`). sm_100a
    only.

    ```mlir
    %p:2 = moek.mma_block_scaled %ring[%i] a(1) b(0) sf(%sf) : !moek.ring<...>, !moek.acc<64x64xf32>, !moek.acc<64x64xf32>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$a,
                       I64Attr:$b, LLVM_PointerInAddressSpace<3>:$sf);
  let results = (outs MoEK_AccType:$low, MoEK_AccType:$high);
  let assemblyFormat = [{
    $ring `[` $iter `]` `a` `(` $a `)` `b` `(` $b `)` `sf` `(` $sf `)`
    attr-dict `:` qualified(type($ring)) `,` qualified(type($low)) `,`
    qualified(type($high))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Tensor-memory accumulators (sm_100a): one MMA issuer, epilogue warpgroups
//===----------------------------------------------------------------------===//

def MoEK_AccRingAllocOp : MoEK_Op<"acc_ring_alloc", []> {
  let summary = "The kernel's tensor-memory accumulators and their barriers";
  let description = [{
    Allocates the accumulators of `!moek.acc_ring` in tensor memory at
    kernel entry (warp 0: `tcgen05.alloc`, freed at exit) with a full
    barrier (two arrivals: the MMAs' commit and the issuer's tag) and an
    empty barrier (`consumers` arrivals) per accumulator; at most one per
    kernel, not beside moek.mma. sm_100a only.

    `cta_pair`: the kernel runs in clusters of two CTAs that share each
    MMA (`tcgen05.mma.cta_group::2`, M = 256: each CTA's ring holds its
    128 rows of A and half of B's rows, each CTA's accumulators its 128
    rows of the product). Every tcgen05 op of the kernel is then
    `cta_group::2`; only the even CTA's MMA issuer issues; the
    accumulators' commits and tags reach both CTAs, and both CTAs'
    epilogues release the even CTA's accumulators (its empty barriers
    count 2 x `consumers`).

    ```mlir
    %accs = moek.acc_ring_alloc {consumers = 256 : i64} : !moek.acc_ring<2, 128x256xf32>
    %pair = moek.acc_ring_alloc {consumers = 256 : i64, cta_pair} : !moek.acc_ring<2, 128x256xf32>
    ```
  }];
  let arguments = (ins I64Attr:$consumers, UnitAttr:$cta_pair);
  let results = (outs MoEK_AccRingType:$accs);
  let assemblyFormat = "attr-dict `:` qualified(type($accs))";
  let hasVerifier = 1;
}

def MoEK_AccAcquireOp : MoEK_Op<"acc_acquire", []> {
  let summary = "MMA issuer: wait until accumulator `j mod S` is drained";
  let description = [{
    Waits on the empty barrier of accumulator `j mod S` for its phase
    `(j / S) mod 2` (a fresh accumulator passes at once), then orders the
    epilogue's reads before the MMAs that follow (`tcgen05.fence`).

    ```mlir
    moek.acc_acquire %accs[%j] : !moek.acc_ring<2, 128x256xf32>
    ```
  }];
  let arguments = (ins MoEK_AccRingType:$accs, Index:$index);
  let assemblyFormat = "$accs `[` $index `]` attr-dict `:` qualified(type($accs))";
}

def MoEK_MmaTmemOp : MoEK_Op<"mma_tmem", []> {
  let summary = "One thread issues a stage's MMAs into a tensor-memory accumulator";
  let description = [{
    `acc[j mod S] (+)= a * b^T` over the K slice of stage `iter mod S`:
    tile `a` (the accumulator's 128 rows, K-major, 128B swizzle) is
    tcgen05.mma's A operand (M = 128), the first C rows of tile `b` its B
    operand (N = C), bf16 (`.kind::f16`) or f8E4M3FN (`.kind::f8f6f4`)
    tiles, f32 accumulation, one `tcgen05.mma.cta_group::1` per 32 bytes of
    K. The first K step overwrites the accumulator unless `accumulate` is
    true (false for a tile's first stage). Asynchronous: issued by the one
    thread that executes it (the MMA issuer); moek.mma_release and
    moek.acc_commit track its completion. With a `cta_pair` ring, one
    `cta_group::2` MMA of M = 256 over both CTAs' stages: tile `b` holds
    C / 2 of B's rows in each CTA (the even CTA the first half), and the
    issuer must be in the even CTA. sm_100a only.

    Block-scaled (`a_scales` and `b_scales`, tile indices, both or
    neither): tile `a` is f8E4M3FN [128, 128] (MXFP8 rows), tile `b` i8
    [N, 128] holding e2m1 values in tcgen05's 4-bit operand form (each 16
    values' 8 packed bytes followed by 8 bytes of padding, as TMA's
    `16U4_ALIGN16B` type writes them; 128B swizzle), and tiles `a_scales`
    ([128, 4] i8) and `b_scales` ([N, 4] i8) their UE8M0 scales per 32
    values in moek.stage_scales' layout. The issuer copies both into the
    stage's tensor-memory columns (`tcgen05.cp .32x128b.warpx4`, after a
    proxy fence: the scales were written by `cp.async`), then issues four
    `tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.block32`
    (K = 32 each, scale ids = the K step): the product of the dequantized
    operands, `sum over k of a[r][k] 2^(sa(r, k/32) - 127) b[c][k]
    2^(sb(c, k/32) - 127)`, accumulated in f32 with no promotion.

    ```mlir
    moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) : !moek.ring<...>, !moek.acc_ring<2, 128x256xf32>
    moek.mma_tmem %ring[%i] a(0) b(1), %accs[%j] accumulate(%acc) {a_scales = 2 : i64, b_scales = 3 : i64} : !moek.ring<...>, !moek.acc_ring<2, 128x128xf32>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter, I64Attr:$a,
                       I64Attr:$b, MoEK_AccRingType:$accs, Index:$index,
                       I1:$accumulate, OptionalAttr<I64Attr>:$a_scales,
                       OptionalAttr<I64Attr>:$b_scales);
  let assemblyFormat = [{
    $ring `[` $iter `]` `a` `(` $a `)` `b` `(` $b `)` `,` $accs `[` $index `]`
    `accumulate` `(` $accumulate `)` attr-dict `:` qualified(type($ring)) `,`
    qualified(type($accs))
  }];
  let hasVerifier = 1;
}

def MoEK_MmaReleaseOp : MoEK_Op<"mma_release", []> {
  let summary = "MMA issuer: free a ring stage once the MMAs issued so far complete";
  let description = [{
    Commits the calling thread's MMAs so far (`tcgen05.commit`) to the
    empty barrier of stage `iter mod S`: the stage is released, with no
    wait, when the MMAs that read it are done. The ring's `consumers` must
    be 1 (this arrival). With a `cta_pair` accumulator ring, the commit
    reaches the stage's empty barrier in both CTAs of the pair. sm_100a
    only.

    ```mlir
    moek.mma_release %ring[%i] : !moek.ring<...>
    ```
  }];
  let arguments = (ins MoEK_RingType:$ring, Index:$iter);
  let assemblyFormat = "$ring `[` $iter `]` attr-dict `:` qualified(type($ring))";
}

def MoEK_AccCommitOp : MoEK_Op<"acc_commit", []> {
  let summary = "MMA issuer: accumulator `j mod S` holds tile `tag` once its MMAs complete";
  let description = [{
    Writes `tag` (the tile index, below 2^31) beside accumulator `j mod S`
    and arrives on its full barrier twice: once now (releasing the tag) and
    once by `tcgen05.commit` when the calling thread's MMAs complete. A tag
    the epilogue takes for the end (past the last tile) may be committed
    with no MMAs. With `cta_pair`, the tag, the arrival and the commit
    reach the accumulator in both CTAs.

    ```mlir
    moek.acc_commit %accs[%j], %tile : !moek.acc_ring<2, 128x256xf32>
    ```
  }];
  let arguments = (ins MoEK_AccRingType:$accs, Index:$index, Index:$tag);
  let assemblyFormat = [{
    $accs `[` $index `]` `,` $tag attr-dict `:` qualified(type($accs))
  }];
}

def MoEK_AccWaitOp : MoEK_Op<"acc_wait", []> {
  let summary = "Epilogue: wait until accumulator `j mod S` is full; its tag";
  let description = [{
    Waits on the full barrier of accumulator `j mod S` for phase
    `(j / S) mod 2` and returns the tag moek.acc_commit wrote.

    ```mlir
    %tile = moek.acc_wait %accs[%j] : !moek.acc_ring<2, 128x256xf32>
    ```
  }];
  let arguments = (ins MoEK_AccRingType:$accs, Index:$index);
  let results = (outs Index:$tag);
  let assemblyFormat = "$accs `[` $index `]` attr-dict `:` qualified(type($accs))";
}

def MoEK_AccStoreRowsOp : MoEK_Op<"acc_store_rows",
    [AttrSizedOperandSegments]> {
  let summary = "Epilogue: each thread stores its row of a tensor-memory accumulator";
  let description = [{
    Thread `t` of the executing warpgroup reads row `r = t mod 128` of
    accumulator `j mod S` (tensor-memory lane `r`: warp `w` reaches lanes
    `32 (w mod 4) ..`), columns `[first_col, first_col + cols)`, 32 at a
    time (`tcgen05.ld .32x32b.x32`), converts them to `element_type` (round
    to nearest even) and stores them into the row-major global matrix `out`
    (row stride `ld` elements) at row `row + r`, columns from `col`, in
    16-byte pieces. Rows at or past `row_limit` are not written, nor
    columns at or past `ld`. `first_col` is a multiple of 32 (a dynamic
    value: warpgroups split the columns). With `bias(%vec[%r])` (a
    per-expert bias, `bias_type` f32 or bf16, rows of `bias_ld` values),
    output column `col + c` first gets `vec[r * bias_ld + col + c]` added
    in f32 (loads clamped into the row: columns past it are not stored).
    sm_100a only.

    ```mlir
    moek.acc_store_rows %accs[%j] cols(%c0, 128), %out[%row, %col] row_limit(%end) {element_type = bf16, ld = 4096 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
    moek.acc_store_rows %accs[%j] cols(%c0, 128), %out[%row, %col] row_limit(%end) bias(%b[%e]) {bias_ld = 4096 : i64, bias_type = bf16, element_type = bf16, ld = 4096 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins MoEK_AccRingType:$accs, Index:$index, Index:$first_col,
                       I64Attr:$cols, LLVM_AnyPointer:$out, Index:$row,
                       Index:$col, Index:$row_limit,
                       Optional<MoEK_GlobalPtr>:$bias,
                       Optional<Index>:$bias_row, TypeAttr:$element_type,
                       I64Attr:$ld, OptionalAttr<TypeAttr>:$bias_type,
                       OptionalAttr<I64Attr>:$bias_ld);
  let assemblyFormat = [{
    $accs `[` $index `]` `cols` `(` $first_col `,` $cols `)` `,` $out `[`
    $row `,` $col `]` `row_limit` `(` $row_limit `)`
    (`bias` `(` $bias^ `[` $bias_row `]` `)`)? attr-dict `:`
    qualified(type($accs)) `,` qualified(type($out))
  }];
  let hasVerifier = 1;
}

def MoEK_AccStoreActRowsOp : MoEK_Op<"acc_store_act_rows",
    [AttrSizedOperandSegments]> {
  let summary = "Epilogue: each thread applies the gated activation to its accumulator row and stores it";
  let description = [{
    moek.store_act for a tensor-memory accumulator of 128 x C (C = 256 or
    128: the gate and the up projection of C / 2 output columns, `layout`
    "concat" or "interleaved" as there), one row per thread: thread `t` of
    the executing warpgroup makes output columns `[first_col, first_col +
    cols)` of row `r = t mod 128` (`first_col` a multiple of 32, dynamic:
    warpgroups split the columns; `cols` a multiple of 32), reading the
    gate and up values (`tcgen05.ld .32x32b`), with the rounding points,
    activations, `alpha`, `limit` and `row_weights` of moek.store_act, and
    stores them at `out[row + r, col + c]` (row stride `ld`) in 16-byte
    pieces, for rows below `row_limit` and columns below `ld`. With
    `out_scales` (`element_type` f8E4M3FN, `ld` a multiple of 32), each
    1x32 block of outputs, rounded to bf16, is quantized to MXFP8 as
    `moe.quantize` with `mxfp8` does it (moek.dispatch {mx_round}'s
    arithmetic, in one thread): its e4m3 values to `out` and its UE8M0
    scale `e + 127` to `out_scales[row + r, (col + c) / 32]` (row stride
    `ld / 32`). With `bias(%vec[%r])` (a per-expert bias of w13's rows,
    `bias_type` f32 or bf16, `bias_ld` = 2I values a row), the gate and up
    values of output column `o = col + c` first get their rows' biases
    added in f32 (rows `o` and `o + bias_ld / 2` concatenated, `2o` and
    `2o + 1` interleaved; loads clamped into the row). sm_100a only.

    ```mlir
    moek.acc_store_act_rows %accs[%j] cols(%c64, 64), %act[%row, %col] row_limit(%end) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 2048 : i64} : !moek.acc_ring<2, 128x256xf32>, !llvm.ptr<1>
    moek.acc_store_act_rows %accs[%j] cols(%c32, 32), %act[%row, %col] row_limit(%end) out_scales(%as) {activation = "swiglu", gemm1_type = bf16, element_type = f8E4M3FN, ld = 2048 : i64} : !moek.acc_ring<2, 128x128xf32>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins MoEK_AccRingType:$accs, Index:$index, Index:$first_col,
                       I64Attr:$cols, LLVM_AnyPointer:$out, Index:$row,
                       Index:$col, Index:$row_limit,
                       Optional<MoEK_GlobalPtr>:$row_weights,
                       Optional<MoEK_GlobalPtr>:$out_scales,
                       Optional<MoEK_GlobalPtr>:$bias,
                       Optional<Index>:$bias_row,
                       StrAttr:$activation,
                       DefaultValuedStrAttr<StrAttr, "concat">:$layout,
                       TypeAttr:$gemm1_type,
                       TypeAttr:$element_type, I64Attr:$ld,
                       DefaultValuedAttr<F32Attr, "1.0f">:$alpha,
                       DefaultValuedAttr<F32Attr, "0.0f">:$limit,
                       OptionalAttr<TypeAttr>:$bias_type,
                       OptionalAttr<I64Attr>:$bias_ld);
  let assemblyFormat = [{
    $accs `[` $index `]` `cols` `(` $first_col `,` $cols `)` `,` $out `[`
    $row `,` $col `]` `row_limit` `(` $row_limit `)`
    (`row_weights` `(` $row_weights^ `)`)?
    (`out_scales` `(` $out_scales^ `)`)?
    (`bias` `(` $bias^ `[` $bias_row `]` `)`)?
    attr-dict `:` qualified(type($accs)) `,` qualified(type($out))
  }];
  let hasVerifier = 1;
}

def MoEK_AccPromoteRowsOp : MoEK_Op<"acc_promote_rows",
    [AllTypesMatch<["acc", "result"]>]> {
  let summary = "Epilogue: add a block's tensor-memory product to each thread's row, times its block scales";
  let description = [{
    DeepGEMM's promotion, one row per thread: thread `t` of the executing
    warpgroup (row `r = t mod 128`, tensor-memory lane `r`) reads columns
    `[first_col, first_col + C)` of accumulator `j mod S` (the product of
    one K block; C = the vector's length, a multiple of 32) and returns
    `acc[c] + partial[r][first_col + c] * (xs[(row + r) * ld + kb] *
    ws[w])` in f32 (the product of the scales rounded first, then one fused
    multiply-add: moek.mma_promote's order). Rows at or past `row_limit`
    take scale 0 (they read row `row_limit - 1`). sm_100a only.

    ```mlir
    %v2 = moek.acc_promote_rows %accs[%j] cols(%c0, %v), %xs[%row, %kb] ws(%ws[%w]) row_limit(%end) {ld = 56 : i64} : !moek.acc_ring<4, 128x128xf32>, vector<64xf32>
    ```
  }];
  let arguments = (ins MoEK_AccRingType:$accs, Index:$index, Index:$first_col,
                       VectorOfRankAndType<[1], [F32]>:$acc,
                       MoEK_GlobalPtr:$xs, Index:$row, Index:$kb,
                       MoEK_GlobalPtr:$ws, Index:$w, Index:$row_limit,
                       I64Attr:$ld);
  let results = (outs VectorOfRankAndType<[1], [F32]>:$result);
  let assemblyFormat = [{
    $accs `[` $index `]` `cols` `(` $first_col `,` $acc `)` `,` $xs `[` $row
    `,` $kb `]` `ws` `(` $ws `[` $w `]` `)` `row_limit` `(` $row_limit `)`
    attr-dict `:` qualified(type($accs)) `,` type($acc)
  }];
  let hasVerifier = 1;
}

def MoEK_StoreThreadRowOp : MoEK_Op<"store_thread_row", []> {
  let summary = "Epilogue: each thread stores its row of values";
  let description = [{
    Thread `t` of the executing warpgroup stores its vector (C values, a
    multiple of 32) converted to `element_type` (round to nearest even) at
    `out[(row + t mod 128) * ld + col + c]`, in 16-byte pieces; rows at or
    past `row_limit` are not written, nor columns at or past `ld`. The
    store of moek.acc_store_rows for values in registers (a promoted
    accumulator, moek.acc_promote_rows).

    ```mlir
    moek.store_thread_row %v, %out[%row, %col] row_limit(%end) {element_type = bf16, ld = 4096 : i64} : vector<64xf32>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins VectorOfRankAndType<[1], [F32]>:$values,
                       LLVM_AnyPointer:$out, Index:$row, Index:$col,
                       Index:$row_limit, TypeAttr:$element_type, I64Attr:$ld);
  let assemblyFormat = [{
    $values `,` $out `[` $row `,` $col `]` `row_limit` `(` $row_limit `)`
    attr-dict `:` type($values) `,` qualified(type($out))
  }];
  let hasVerifier = 1;
}

def MoEK_AccReleaseOp : MoEK_Op<"acc_release", []> {
  let summary = "Epilogue: done reading accumulator `j mod S`";
  let description = [{
    Orders the calling thread's tensor-memory reads (`tcgen05.fence`) and
    arrives on the accumulator's empty barrier (one of its `consumers`);
    with `cta_pair`, on the even CTA's (whose issuer acquires it).

    ```mlir
    moek.acc_release %accs[%j] : !moek.acc_ring<2, 128x256xf32>
    ```
  }];
  let arguments = (ins MoEK_AccRingType:$accs, Index:$index);
  let assemblyFormat = "$accs `[` $index `]` attr-dict `:` qualified(type($accs))";
}

def MoEK_LoadColScalesOp : MoEK_Op<"load_col_scales", []> {
  let summary = "Load one value per accumulator column from a global matrix";
  let description = [{
    Loads `ptr[(row + c) * ld + col]` for each column `c` of the
    accumulator type `acc` that the calling thread holds (columns
    `8j + 2 (lane % 4) + e`, element `2j + e` of the result): the block
    scales of the tokens of a transposed product (moek.mma_fp4). Columns
    with `row + c` at or past `row_limit` hold 0 (they read row
    `row_limit - 1`: `row_limit` must exceed `row`).

    ```mlir
    %s = moek.load_col_scales %xs[%row, %kb] row_limit(%end) {acc = !moek.acc<64x16xf32>, ld = 56 : i64} : !llvm.ptr<1> -> vector<4xf32>
    ```
  }];
  let arguments = (ins MoEK_GlobalPtr:$ptr, Index:$row, Index:$col,
                       Index:$row_limit, I64Attr:$ld, TypeAttr:$acc);
  let results = (outs VectorOfRankAndType<[1], [F32]>:$scales);
  let assemblyFormat = [{
    $ptr `[` $row `,` $col `]` `row_limit` `(` $row_limit `)` attr-dict `:`
    qualified(type($ptr)) `->` type($scales)
  }];
  let hasVerifier = 1;
}

def MoEK_MmaPromoteColsOp : MoEK_Op<"mma_promote_cols",
    [Pure, AllTypesMatch<["acc", "partial", "result"]>]> {
  let summary = "acc + partial * col_scales[col]";
  let description = [{
    `acc[r][c] + partial[r][c] * col_scales[c]` in f32 (one fused
    multiply-add), with `col_scales` the thread's columns'
    (moek.load_col_scales): the promotion of a transposed block-scaled
    product, whose columns are tokens. `partial` must be complete
    (`moek.mma_wait`).

    ```mlir
    %acc1 = moek.mma_promote_cols %acc0, %partial scales(%s) : !moek.acc<64x16xf32>, vector<4xf32>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, MoEK_AccType:$partial,
                       VectorOfRankAndType<[1], [F32]>:$col_scales);
  let results = (outs MoEK_AccType:$result);
  let assemblyFormat = [{
    $acc `,` $partial `scales` `(` $col_scales `)` attr-dict `:`
    qualified(type($acc)) `,` type($col_scales)
  }];
  let hasVerifier = 1;
}

def MoEK_MmaWaitOp : MoEK_Op<"mma_wait", [AllTypesMatch<["acc", "result"]>]> {
  let summary = "Wait until at most `pending` MMA groups are in flight";
  let arguments = (ins MoEK_AccType:$acc, I64Attr:$pending);
  let results = (outs MoEK_AccType:$result);
  let assemblyFormat = "$acc `pending` `(` $pending `)` attr-dict `:` qualified(type($acc))";
}

def MoEK_LoadRowsOp : MoEK_Op<"load_rows", []> {
  let summary = "Load one value per accumulator row from a global matrix";
  let description = [{
    Loads `ptr[(row + r) * ld + col]` for each row `r` of a 64-row
    accumulator held by the calling warpgroup, into the threads that hold
    the row. Rows at or past `row_limit` hold 0 (they read row
    `row_limit - 1` instead: `row_limit` must exceed `row`). For block
    scales of the rows of an MMA (one f32 per row and K block).

    ```mlir
    %s = moek.load_rows %xs[%row, %kb] row_limit(%end) {ld = 56 : i64} : !llvm.ptr<1> -> !moek.rows<64xf32>
    ```
  }];
  let arguments = (ins LLVM_AnyPointer:$ptr, Index:$row, Index:$col,
                       Index:$row_limit, I64Attr:$ld);
  let results = (outs MoEK_RowsType:$result);
  let assemblyFormat = [{
    $ptr `[` $row `,` $col `]` `row_limit` `(` $row_limit `)` attr-dict `:`
    qualified(type($ptr)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def MoEK_MmaPromoteOp : MoEK_Op<"mma_promote",
    [Pure, AllTypesMatch<["acc", "partial", "result"]>]> {
  let summary = "acc + partial * (row_scales[row] * scale)";
  let description = [{
    Adds a scaled partial product to an accumulator, element by element:
    `acc[r][c] + partial[r][c] * (row_scales[r] * scale)` in f32 (the
    product of the scales is rounded first, then one fused multiply-add).
    DeepGEMM's promotion of a block-scaled FP8 MMA: `partial` is the product
    over one K block, `row_scales` the block scales of the rows and `scale`
    the weight block's. `partial` must be complete (`moek.mma_wait`).

    ```mlir
    %acc1 = moek.mma_promote %acc0, %partial scales(%s, %ws) : !moek.acc<64x128xf32>, !moek.rows<64xf32>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, MoEK_AccType:$partial,
                       MoEK_RowsType:$row_scales, F32:$scale);
  let results = (outs MoEK_AccType:$result);
  let assemblyFormat = [{
    $acc `,` $partial `scales` `(` $row_scales `,` $scale `)` attr-dict `:`
    qualified(type($acc)) `,` qualified(type($row_scales))
  }];
  let hasVerifier = 1;
}

def MoEK_AccScaleOp : MoEK_Op<"acc_scale",
    [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "acc * scale";
  let description = [{
    Multiplies every accumulator value by the f32 `scale` (round to
    nearest): NVFP4's per-expert global scale, once per tile.

    ```mlir
    %acc1 = moek.acc_scale %acc0, %g : !moek.acc<64x128xf32>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, F32:$scale);
  let results = (outs MoEK_AccType:$result);
  let assemblyFormat = [{
    $acc `,` $scale attr-dict `:` qualified(type($acc))
  }];
}

def MoEK_AccScaleColsOp : MoEK_Op<"acc_scale_cols",
    [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "acc[r][c] * col_scales[c]";
  let description = [{
    Multiplies each accumulator column by its scale in shared memory, laid
    out as moek.fp4_row_scale stores them (C = the accumulator's columns:
    4 * (C / 4 + 4) f32, column c at slot ((c % 8) / 2) * (C / 4 + 4) +
    2 (c / 8) + c % 2, so that a thread's columns are contiguous): the
    column scales of MXFP4 weights, once per tile.

    ```mlir
    %acc1 = moek.acc_scale_cols %acc0 col_scales(%cs) : !moek.acc<64x128xf32>, !llvm.ptr<3>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc,
                       LLVM_PointerInAddressSpace<3>:$col_scales);
  let results = (outs MoEK_AccType:$result);
  let assemblyFormat = [{
    $acc `col_scales` `(` $col_scales `)` attr-dict `:` qualified(type($acc))
    `,` qualified(type($col_scales))
  }];
}

def MoEK_AccAddColsOp : MoEK_Op<"acc_add_cols",
    [AllTypesMatch<["acc", "result"]>, AttrSizedOperandSegments]> {
  let summary = "acc[r][c] + vec[row][col + c]: a per-column bias";
  let description = [{
    Adds to each accumulator value at column `c` the value
    `vec[row * ld + col + c]` (`element_type` f32 or bf16, widened to f32;
    one rounding, the f32 addition), for the columns with `col + c < ld`;
    the others keep their values (nobody stores them). So a tile's row of a
    per-expert bias `[E, ld]`: `row` the expert, `col` the tile's first
    column. With `upper`, the accumulator's second half of columns (from
    C / 2) reads from `upper` on instead (`vec[row * ld + upper + c - C /
    2]`): a GEMM1 tile of concatenated gate/up weights, whose up half is
    `I` rows further. The thread's columns come in pairs (`8j + 2 (lane %
    4)` and the next), each one load of two values: `ld`, `col` and `upper`
    must be even. The loads are clamped into the row and selected away past
    it; with `in_row` (the caller knows every column lies in the row: a
    width that is a multiple of the tiles') that path is not generated.
    With `scale(%g)`, each value is first multiplied by `g` (NVFP4's
    per-expert global scale, rounded, then the bias added: moek.acc_scale
    then this op, in one). A register accumulator (sm_90a's wgmma
    fragment).

    ```mlir
    %acc1 = moek.acc_add_cols %acc0, %bias[%expert, %col] {element_type = bf16, ld = 5760 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    %acc2 = moek.acc_add_cols %acc0, %bias[%expert, %col] upper(%up) {element_type = f32, ld = 4096 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, MoEK_GlobalPtr:$vec, Index:$row,
                       Index:$col, Optional<Index>:$upper,
                       Optional<F32>:$scale, I64Attr:$ld,
                       TypeAttr:$element_type, UnitAttr:$in_row);
  let results = (outs MoEK_AccType:$result);
  let assemblyFormat = [{
    $acc `,` $vec `[` $row `,` $col `]` (`upper` `(` $upper^ `)`)?
    (`scale` `(` $scale^ `)`)? attr-dict
    `:` qualified(type($acc)) `,` qualified(type($vec))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Epilogue
//===----------------------------------------------------------------------===//

def MoEK_StoreAccOp : MoEK_Op<"store_acc", []> {
  let summary = "Round an accumulator and store its rows below a limit";
  let description = [{
    Converts `acc` to `element_type` (round to nearest even) and stores it
    into the row-major global matrix `out` (row stride `ld` elements) at
    rows `[row, row + R)`, columns `[col, col + C)`; rows at or past
    `row_limit` are not written (masking for token counts that are not a
    multiple of the tile), nor columns at or past `ld` (a last, partial
    column block).

    ```mlir
    moek.store_acc %acc, %out[%row, %col] row_limit(%end) {element_type = bf16, ld = 4096 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, LLVM_AnyPointer:$out, Index:$row,
                       Index:$col, Index:$row_limit, TypeAttr:$element_type,
                       I64Attr:$ld);
  let assemblyFormat = [{
    $acc `,` $out `[` $row `,` $col `]` `row_limit` `(` $row_limit `)`
    attr-dict `:` qualified(type($acc)) `,` qualified(type($out))
  }];
  let hasVerifier = 1;
}

def MoEK_StoreAccTmaOp : MoEK_Op<"store_acc_tma", []> {
  let summary = "Store a warpgroup's accumulator by TMA through shared memory";
  let description = [{
    moek.store_acc of a warpgroup's 64 x C accumulator (C a multiple of
    128) in bf16, asynchronously: when its rows `[row, row + 64)` all lie below
    `row_limit`, each 64-column block goes by `stmatrix` into one of the
    `halves` (1 or 2) 8 KB halves of `staging` (1024-byte aligned; the
    128-byte swizzled layout of a 64 x 64 box of descriptor `tmap`), and
    the warpgroup's first thread stores it with `cp.async.bulk.tensor` to
    columns `col + 64 b`, rows `row` of the matrix `tmap` describes (its
    width clips the columns). Named barrier `barrier` (an index: each
    warpgroup its own; the warpgroup's 128 threads) orders a block's
    writes before its store, and the first thread waits
    (`cp.async.bulk.wait_group.read`) for the store that read a half
    before the warpgroup writes it again: with two halves while the other
    half is written, with one before each block. The stores complete after
    the op: moek.store_acc_tma_wait, by the same warpgroup, before anyone
    reads them. A tile's last rows (some at or past `row_limit`) are
    stored as moek.store_acc does, into `out` (row stride `ld`).

    With `transposed`, the accumulator is the transposed product (a 64 x C
    accumulator of weight rows by tokens, C a multiple of 64; moek.mma
    with the weights as tile a): its column c, rows r, is element
    `[row + c][col + r]` of the output. Each 64-token block goes by
    `stmatrix.trans` into a staging half in the same box layout; a block
    whose rows all lie below `row_limit` leaves by one TMA store, a
    block with some does by 16-byte copies of those rows from the half
    (columns at or past `ld` skipped), and a block with none is skipped.

    ```mlir
    moek.store_acc_tma %acc, %tmap, %staging, %y[%row, %col] row_limit(%end) barrier(%id) {halves = 2 : i64, ld = 2048 : i64} : !moek.acc<64x256xf32>
    moek.store_acc_tma %acc, %tmap, %staging, %y[%row, %col] row_limit(%end) barrier(%id) {halves = 1 : i64, ld = 5760 : i64, transposed} : !moek.acc<64x192xf32>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, LLVM_PointerInAddressSpace<0>:$tmap,
                       LLVM_PointerInAddressSpace<3>:$staging,
                       MoEK_GlobalPtr:$out, Index:$row, Index:$col,
                       Index:$row_limit, Index:$barrier, I64Attr:$halves,
                       I64Attr:$ld, UnitAttr:$transposed);
  let assemblyFormat = [{
    $acc `,` $tmap `,` $staging `,` $out `[` $row `,` $col `]` `row_limit`
    `(` $row_limit `)` `barrier` `(` $barrier `)` attr-dict `:`
    qualified(type($acc))
  }];
  let hasVerifier = 1;
}

def MoEK_StoreAccTmaWaitOp : MoEK_Op<"store_acc_tma_wait", []> {
  let summary = "Wait until a warpgroup's moek.store_acc_tma stores are done";
  let description = [{
    The warpgroup's first thread (the one that issued its
    moek.store_acc_tma stores) waits until they have completed
    (`cp.async.bulk.wait_group 0`) and orders them before its later
    generic memory operations (`fence.proxy.async.global`); a barrier after
    this op (a grid barrier) then publishes the stored rows to every
    thread behind it. Every thread of the warpgroup runs the two
    instructions (a thread's wait is for its own bulk stores: the others
    have none), so no thread index is read: one kept from the kernel's
    start to choose the first thread was a value live across every tile.
    With `read`, it waits only until the stores have read their staging
    (`cp.async.bulk.wait_group.read 0`, no fence): enough before the
    staging is written again, not to publish the rows.

    ```mlir
    moek.store_acc_tma_wait
    moek.store_acc_tma_wait {read}
    ```
  }];
  let arguments = (ins UnitAttr:$read);
  let assemblyFormat = "attr-dict";
}

def MoEK_StoreAccRemoteOp : MoEK_Op<"store_acc_remote", []> {
  let summary = "Store an accumulator's rows into the ranks and rows they came from";
  let description = [{
    moek.store_acc for rows that go back where they came from (the GEMM2
    epilogue of an expert-parallel layer): tile row `r` (below `row_limit`)
    is stored as row `slots[r]` (i32) of the row-major matrix `out` (row
    stride `ld` elements) in the symmetric buffer of rank `ranks[r]` (i32),
    reached as moek.map_peer does (`bases`, `self`); over NVLink for another
    rank. Columns at or past `ld` are not written.

    ```mlir
    moek.store_acc_remote %acc, %y[%row, %col] row_limit(%end) slots(%s) ranks(%r) bases(%b) self(%me) {element_type = bf16, ld = 7168 : i64} : !moek.acc<64x256xf32>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, MoEK_GlobalPtr:$out, Index:$row,
                       Index:$col, Index:$row_limit, MoEK_GlobalPtr:$slots,
                       MoEK_GlobalPtr:$ranks, MoEK_GlobalPtr:$bases,
                       I32:$self, TypeAttr:$element_type, I64Attr:$ld);
  let assemblyFormat = [{
    $acc `,` $out `[` $row `,` $col `]` `row_limit` `(` $row_limit `)`
    `slots` `(` $slots `)` `ranks` `(` $ranks `)` `bases` `(` $bases `)`
    `self` `(` $self `)` attr-dict `:` qualified(type($acc))
  }];
  let hasVerifier = 1;
}

def MoEK_StoreActOp : MoEK_Op<"store_act", []> {
  let summary = "Apply a gated activation to an accumulator and store it";
  let description = [{
    `acc` (64 x 256) holds the gate `g` and the up projection `u` of 128
    output columns: with `layout = "concat"`, columns `[0, 128)` are the
    gates and `[128, 256)` the ups; with `"interleaved"`, columns `2c` and
    `2c + 1` are the gate and the up of output column `c`. Each is first
    rounded to `gemm1_type` (bf16 or f32), then combined as the reference
    evaluator does (in f32): `swiglu` `g / (1 + exp(-g)) * u`;
    `clamped_swiglu` `g = min(g, limit)`, `u = clamp(u, -limit, limit)`,
    `g * sigmoid(alpha * g) * (u + 1)`; `gelu_mul` `0.5 g (1 + erf(g /
    sqrt 2)) * u`; `gelu_tanh_mul` `0.5 g (1 + tanh(0.79788456 (g +
    0.044715 g^3))) * u` (exp as `ex2.approx`, erf by a polynomial of
    absolute error below 1.5e-7); times `row_weights[r]` (f32) when given,
    rounded to `element_type` and stored at `out[r, col + c]` (row stride
    `ld`), for rows below `row_limit` and columns below `ld`. With
    `mx_round` (`element_type` bf16, `ld` a multiple of 32), after that
    rounding each 1x32 block of a row (`col` a multiple of 32) is rounded to
    its MXFP8 value as `moek.dispatch {mx_round}` rounds rows, kept in bf16.
    With `approx`, each division `n / d` of the formulas (every `d` is at
    least 1) is `n * rcp.approx(d)`, within 2 ulps of the f32 quotient,
    before the rounding to `element_type`; without, the IEEE division.

    ```mlir
    moek.store_act %acc, %act[%row, %col] row_limit(%end) {activation = "swiglu", gemm1_type = bf16, element_type = bf16, ld = 2048 : i64} : !moek.acc<64x256xf32>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, LLVM_AnyPointer:$out, Index:$row,
                       Index:$col, Index:$row_limit,
                       Optional<MoEK_GlobalPtr>:$row_weights,
                       StrAttr:$activation,
                       DefaultValuedStrAttr<StrAttr, "concat">:$layout,
                       TypeAttr:$gemm1_type,
                       TypeAttr:$element_type, I64Attr:$ld,
                       DefaultValuedAttr<F32Attr, "1.0f">:$alpha,
                       DefaultValuedAttr<F32Attr, "0.0f">:$limit,
                       UnitAttr:$mx_round, UnitAttr:$approx);
  let assemblyFormat = [{
    $acc `,` $out `[` $row `,` $col `]` `row_limit` `(` $row_limit `)`
    (`row_weights` `(` $row_weights^ `)`)?
    attr-dict `:` qualified(type($acc)) `,` qualified(type($out))
  }];
  let hasVerifier = 1;
}

def MoEK_StoreActFp8Op : MoEK_Op<"store_act_fp8",
    [AllTypesMatch<["gate", "up"]>, AttrSizedOperandSegments]> {
  let summary = "Gated activation of two accumulators, quantized to e4m3";
  let description = [{
    `gate` and `up` (64 x 128 each, held in the same fragment layout) hold
    the gate and the up projection of 128 output columns. As
    `moek.store_act` with the concatenated layout: each value rounded to
    `gemm1_type`, the activation in f32, times `row_weights[r]` when given,
    rounded to bf16; then quantized per row over the 128 columns (one
    DeepSeek-V3 1x128 block): `amax` over the finite `|v|`, `a = max(amax,
    1e-4)`, the scale `a / 448` stored at `scales[r, col / 128]` (row
    stride `ld / 128`), the values `v * (448 / a)` rounded to e4m3 with
    saturation at `out[r, col + c]` (row stride `ld`, one byte each), for
    rows below `row_limit`.

    With `permute_k` each 128-value K block is stored in moek.mma_fp4's
    K order (see moek.dequant_fp4_fp8).

    With `half = h` (0 or 1) and `amax(%buf)`, the op computes and stores
    only columns `[64 h, 64 h + 64)` (fragment values `32 h` to `32 h +
    31`; the other values of `gate` and `up` are not read), and two
    warpgroups, one with each half, run it together on the same rows:
    each writes its rows' amax over its 64 columns into its half of `buf`
    (2 x 64 f32 in shared memory), both meet at named barrier `barrier`
    (their 256 threads), and each takes the larger of the two as the row's
    amax, so both quantize with the block's scale, which half 0 stores.

    With `approx`, the activation's divisions are `moek.store_act
    {approx}`'s (`n * rcp.approx(d)`, within 2 ulps of the f32 quotient,
    before the rounding to bf16); without, the IEEE division.

    With `scales_stride = N` (non-zero) the scales are stored block-major, as
    moek.dispatch's with it: row `r`'s at `scales[(col / 128) * N + r]`.

    ```mlir
    moek.store_act_fp8 %g, %u, %act[%row, %col] scales(%s) row_limit(%end) {activation = "swiglu", gemm1_type = bf16, ld = 2048 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    moek.store_act_fp8 %g, %u, %act[%row, %col] scales(%s) row_limit(%end) amax(%buf) {activation = "swiglu", barrier = 7 : i64, gemm1_type = bf16, half = 1 : i64, ld = 2048 : i64} : !moek.acc<64x128xf32>, !llvm.ptr<1>
    ```
  }];
  let arguments = (ins MoEK_AccType:$gate, MoEK_AccType:$up,
                       MoEK_GlobalPtr:$out, Index:$row, Index:$col,
                       MoEK_GlobalPtr:$scales, Index:$row_limit,
                       Optional<MoEK_GlobalPtr>:$row_weights,
                       Optional<LLVM_PointerInAddressSpace<3>>:$amax,
                       StrAttr:$activation, TypeAttr:$gemm1_type, I64Attr:$ld,
                       DefaultValuedAttr<F32Attr, "1.0f">:$alpha,
                       DefaultValuedAttr<F32Attr, "0.0f">:$limit,
                       UnitAttr:$permute_k,
                       OptionalAttr<I64Attr>:$half,
                       DefaultValuedAttr<I64Attr, "7">:$barrier,
                       UnitAttr:$approx,
                       DefaultValuedAttr<I64Attr, "0">:$scales_stride);
  let assemblyFormat = [{
    $gate `,` $up `,` $out `[` $row `,` $col `]` `scales` `(` $scales `)`
    `row_limit` `(` $row_limit `)` (`row_weights` `(` $row_weights^ `)`)?
    (`amax` `(` $amax^ `)`)?
    attr-dict `:` qualified(type($gate)) `,` qualified(type($out))
  }];
  let hasVerifier = 1;
}

def MoEK_SmemAllocOp : MoEK_Op<"smem_alloc", []> {
  let summary = "A block of dynamic shared memory";
  let description = [{
    `bytes` of the kernel's dynamic shared memory (1024-byte aligned, after
    the rings), for data that warpgroups hand to each other.

    ```mlir
    %buf = moek.smem_alloc {bytes = 32768 : i64} : !llvm.ptr<3>
    ```
  }];
  let arguments = (ins I64Attr:$bytes);
  let results = (outs LLVM_PointerInAddressSpace<3>:$ptr);
  let assemblyFormat = "attr-dict `:` qualified(type($ptr))";
  let hasVerifier = 1;
}

def MoEK_AccStoreSmemOp : MoEK_Op<"acc_store_smem", []> {
  let summary = "Store a warpgroup's accumulator to shared memory";
  let description = [{
    Each thread of the warpgroup stores its fragment at `ptr` (value `v` of
    thread `t` at float `v * 128 + t`), so that `moek.acc_load_smem` in
    another warpgroup gives its thread `t` the same fragment. `ptr` holds
    `rows * cols * 4` bytes. With `values = [b, e]` only values `b <= v <
    e` are stored. Ordering with the reader is the caller's (named
    barriers).

    ```mlir
    moek.acc_store_smem %acc, %buf : !moek.acc<64x128xf32>, !llvm.ptr<3>
    moek.acc_store_smem %acc, %buf {values = array<i64: 32, 64>} : !moek.acc<64x128xf32>, !llvm.ptr<3>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, LLVM_PointerInAddressSpace<3>:$ptr,
                       OptionalAttr<DenseI64ArrayAttr>:$values);
  let assemblyFormat = [{
    $acc `,` $ptr attr-dict `:` qualified(type($acc)) `,` qualified(type($ptr))
  }];
  let hasVerifier = 1;
}

def MoEK_AccStoreTransposedOp : MoEK_Op<"acc_store_transposed", []> {
  let summary = "Store a transposed product, its rows scaled, for moek.acc_load_smem";
  let description = [{
    For a 64 x N accumulator `acc` (weight rows x tokens, moek.mma_fp4),
    stores `acc[r][c] * 2^(m_r - 133)` (`m_r` the row's element of
    `row_max`, moek.fp4_fragment_row_max: MXFP4's column scale; without
    `row_max`, `acc[r][c]`; moek.mma_fp4_bf16's products) as element
    `[c][col + r]` of an N x `cols` matrix at `ptr`, in the layout in which
    `moek.acc_load_smem {rows = N}` loads it as a 64 x `cols` accumulator
    (tokens x weight columns). Ordering with the loads is the caller's
    (named barriers).

    ```mlir
    moek.acc_store_transposed %acc, %buf row_max(%m : vector<2xi32>) {col = 64 : i64, cols = 128 : i64} : !moek.acc<64x16xf32>, !llvm.ptr<3>
    ```
  }];
  let arguments = (ins MoEK_AccType:$acc, LLVM_PointerInAddressSpace<3>:$ptr,
                       Optional<MoEK_I32Pair>:$row_max,
                       I64Attr:$col, I64Attr:$cols);
  let assemblyFormat = [{
    $acc `,` $ptr (`row_max` `(` $row_max^ `:` type($row_max) `)`)? attr-dict
    `:` qualified(type($acc)) `,` qualified(type($ptr))
  }];
  let hasVerifier = 1;
}

def MoEK_AccLoadSmemOp : MoEK_Op<"acc_load_smem", []> {
  let summary = "Load an accumulator stored by moek.acc_store_smem";
  let description = [{
    Thread `t` of the warpgroup loads value `v` of its fragment from float
    `v * 128 + t` of `ptr` (moek.acc_store_smem). With `rows` = R below 64
    only the first R rows are loaded, from the compact layout of
    moek.acc_store_transposed (value `v` of thread `t` at float
    `v * 2R + t`, `R / 16` warps); the other rows are 0. With `values =
    [b, e]` only values `b <= v < e` are loaded (64 rows), the others are 0.

    ```mlir
    %acc = moek.acc_load_smem %buf {rows = 16 : i64} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
    %up = moek.acc_load_smem %buf {values = array<i64: 0, 32>} : !llvm.ptr<3> -> !moek.acc<64x128xf32>
    ```
  }];
  let arguments = (ins LLVM_PointerInAddressSpace<3>:$ptr,
                       DefaultValuedAttr<I64Attr, "64">:$rows,
                       OptionalAttr<DenseI64ArrayAttr>:$values);
  let results = (outs MoEK_AccType:$acc);
  let assemblyFormat = [{
    $ptr attr-dict `:` qualified(type($ptr)) `->` qualified(type($acc))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Host side
//===----------------------------------------------------------------------===//

def MoEK_LaunchOp : MoEK_Op<"launch", []> {
  let summary = "Run a generated kernel on tensors (the host side of a kernel)";
  let description = [{
    Stands for one launch of the kernel `kernel` (a symbol in a
    `gpu.module`) on the tensor operands, producing the result tensors. The
    kernel's parameter ABI (which operand becomes which TMA descriptor or
    pointer) and launch geometry are attributes of the kernel
    (`moek.abi`, `moek.launch`), read by the artifact writer and the runtime.

    ```mlir
    %y = moek.launch @kernels::@expert_matmul(%x, %w, %offsets) : (tensor<?x256xbf16>, tensor<8x256x512xbf16>, tensor<9xi32>) -> tensor<?x256xbf16>
    ```
  }];
  let arguments = (ins SymbolRefAttr:$kernel, Variadic<AnyRankedTensor>:$args);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $kernel `(` $args `)` attr-dict `:` functional-type($args, $results)
  }];
}

#endif // MOE_DIALECT_MOEKERNEL_IR_MOEKERNELOPS_TD
