//===- KernelToNVVM.cpp - Lower moek to NVVM and LLVM -----------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// convert-moek-to-nvvm for sm_90a and sm_100a: rings become
// mbarrier-guarded regions of dynamic shared memory filled by TMA, MMAs
// become wgmma (sm_90a) or tcgen05 (sm_100a), roles become warpgroup guards
// with setmaxnreg. The encodings follow the kernel that ran on the H200
// (shared/research, wgmma-e2e.md section 3). This file is the pass: it plans
// shared memory and adds the patterns of the other files of this directory,
// one family of moek ops each.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "moe/Codegen/Passes.h"

#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOEKERNELTONVVMPASS
#include "moe/Codegen/Passes.h.inc"
} // namespace mlir::moe

namespace mlir::moe::kernel::nvvm {

namespace {

/// Lays the rings of each kernel out in dynamic shared memory and creates
/// their barrier globals; records the dynamic shared memory the kernel needs.
LogicalResult planSharedMemory(ModuleOp module) {
  WalkResult result = module.walk([&](LLVM::LLVMFuncOp func) {
    int64_t offset = 0, index = 0;
    Operation *symbolTable = SymbolTable::getNearestSymbolTable(func);
    OpBuilder b(symbolTable->getContext());
    Region &body = symbolTable->getRegion(0);
    auto ensureDynamic = [&] {
      if (SymbolTable::lookupSymbolIn(symbolTable, kDynamicSmem))
        return;
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, func.getLoc(), LLVM::LLVMArrayType::get(b.getI8Type(), 0),
          /*isConstant=*/false, LLVM::Linkage::External, kDynamicSmem,
          Attribute(), /*alignment=*/16, /*addrSpace=*/3);
    };
    // The ring's cluster size, on the ops whose lowering depends on it.
    func.walk([&](Operation *op) {
      Value ring;
      if (auto release = dyn_cast<RingReleaseOp>(op))
        ring = release.getRing();
      else if (auto load = dyn_cast<TmaLoadOp>(op))
        ring = load.getRing();
      if (auto alloc = ring ? ring.getDefiningOp<RingAllocOp>() : nullptr)
        op->setAttr(kRingClusterAttr, b.getI64IntegerAttr(alloc.getCluster()));
    });
    WalkResult r = func.walk([&](RingAllocOp ring) {
      ensureDynamic();
      RingType type = ring.getRing().getType();
      std::string name =
          (func.getSymName() + "_moek_barriers_" + Twine(index++)).str();
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, ring.getLoc(),
          // Full and empty barriers, then one tag word per stage.
          LLVM::LLVMArrayType::get(b.getI64Type(), 3 * type.getStages()),
          /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
          /*alignment=*/8, /*addrSpace=*/3);
      ring->setAttr(kSmemOffsetAttr, b.getI64IntegerAttr(offset));
      ring->setAttr(kBarriersAttr,
                    FlatSymbolRefAttr::get(b.getContext(), name));
      offset += llvm::alignTo(type.getRingBytes(), 1024);
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      return WalkResult::interrupt();
    // The signal relay (moek.signal {relayed}, moek.signal_end,
    // moek.signal_relay): its global, named on those ops and on the ring
    // whose lowering initializes its barriers.
    SmallVector<Operation *> relayOps, rings;
    bool hasRelay = false;
    func.walk([&](Operation *op) {
      if (auto signal = dyn_cast<SignalOp>(op)) {
        if (signal.getRelayed())
          relayOps.push_back(op);
      } else if (isa<SignalEndOp>(op)) {
        relayOps.push_back(op);
      } else if (isa<SignalRelayOp>(op)) {
        relayOps.push_back(op);
        hasRelay = true;
      } else if (isa<RingAllocOp>(op)) {
        rings.push_back(op);
      }
    });
    if (!relayOps.empty()) {
      if (!hasRelay || rings.empty()) {
        relayOps.front()->emitOpError()
            << "needs a moek.signal_relay and a moek.ring_alloc (whose "
               "barriers' initialization covers the relay's) in its kernel";
        return WalkResult::interrupt();
      }
      std::string name = (func.getSymName() + "_moek_relay").str();
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, func.getLoc(),
          LLVM::LLVMArrayType::get(b.getI64Type(), kRelayWords),
          /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
          /*alignment=*/8, /*addrSpace=*/3);
      auto sym = FlatSymbolRefAttr::get(b.getContext(), name);
      for (Operation *op : relayOps)
        op->setAttr(kRelayAttr, sym);
      rings.front()->setAttr(kRelayAttr, sym);
    }
    // Blocks handed between warpgroups, after the rings.
    func.walk([&](SmemAllocOp alloc) {
      ensureDynamic();
      alloc->setAttr(kSmemOffsetAttr, b.getI64IntegerAttr(offset));
      offset += llvm::alignTo(alloc.getBytesAttr().getInt(), 1024);
    });
    // Tile tables: a grouped_tile_count run by every thread of the kernel
    // (at its top level) gets a table in shared memory; the grouped_tile ops
    // on the same offsets and tiling use it.
    int64_t tables = 0;
    func.walk([&](GroupedTileCountOp count) {
      if (count->getBlock() != &func.getBody().front())
        return;
      std::string name =
          (func.getSymName() + "_moek_tiles_" + Twine(tables++)).str();
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, count.getLoc(),
          LLVM::LLVMArrayType::get(b.getI32Type(),
                                   count.getNumExpertsAttr().getInt() + 1),
          /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
          /*alignment=*/4, /*addrSpace=*/3);
      auto sym = FlatSymbolRefAttr::get(b.getContext(), name);
      count->setAttr(kTileTableAttr, sym);
      func.walk([&](GroupedTileOp tile) {
        if (tile.getOffsets() == count.getOffsets() &&
            tile.getNumExpertsAttr() == count.getNumExpertsAttr() &&
            tile.getTileRowsAttr() == count.getTileRowsAttr() &&
            tile.getColTilesAttr() == count.getColTilesAttr() &&
            tile.getTailRows() == count.getTailRows())
          tile->setAttr(kTileTableAttr, sym);
      });
    });
    // Dispatches: each CTA's expert offsets, in shared memory.
    int64_t dispatches = 0;
    auto planTable = [&](Operation *dispatch, int64_t experts) {
      std::string name =
          (func.getSymName() + "_moek_dispatch_" + Twine(dispatches++)).str();
      b.setInsertionPointToStart(&body.front());
      LLVM::GlobalOp::create(
          b, dispatch->getLoc(),
          LLVM::LLVMArrayType::get(b.getI32Type(), experts + 1),
          /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
          /*alignment=*/4, /*addrSpace=*/3);
      dispatch->setAttr(kDispatchTableAttr,
                        FlatSymbolRefAttr::get(b.getContext(), name));
    };
    func.walk([&](DispatchOp dispatch) {
      planTable(dispatch, dispatch.getNumExpertsAttr().getInt());
    });
    func.walk([&](EpDispatchOp dispatch) {
      planTable(dispatch, dispatch.getRanksAttr().getInt() *
                              dispatch.getExpertsPerRankAttr().getInt());
    });
    if (offset > 0) {
      // The run-time 1024-byte alignment of the base may use up to 1 KiB.
      int64_t bytes = offset + 1024;
      // A CTA may have 227 KB of shared memory on sm_90a and sm_100a: a
      // kernel that needs more could never launch.
      if (bytes > kMaxSharedMemory) {
        // At the kernel's location, without the kernel printed after it.
        emitError(func.getLoc())
            << "kernel '" << func.getSymName() << "' needs " << bytes
            << " bytes of dynamic shared memory (its rings and buffers); a "
               "CTA may have "
            << kMaxSharedMemory << " (227 KB): fewer stages or smaller tiles";
        return WalkResult::interrupt();
      }
      func->setAttr("moek.dynamic_smem_bytes", b.getI64IntegerAttr(bytes));
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

struct ConvertMoEKernelToNVVMPass
    : public mlir::moe::impl::ConvertMoEKernelToNVVMPassBase<
          ConvertMoEKernelToNVVMPass> {
  using Base::Base;

  /// 1. Reject chips other than sm_90a and sm_100a.
  /// 2. Plan shared memory: ring offsets and barrier globals per kernel;
  ///    on sm_100a also tensor memory.
  /// 3. Convert the moek ops (and the scf ops whose types carry rings or
  ///    accumulators) with a partial conversion; scf, arith and index stay.
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (chip != "sm_90a" && chip != "sm_100a") {
      module.emitError() << "convert-moek-to-nvvm: chip '" << chip
                         << "' is not supported (supported: sm_90a, sm_100a)";
      return signalPassFailure();
    }
    bool tensorMemory = chip == "sm_100a";
    if (failed(planSharedMemory(module)) ||
        (tensorMemory && failed(planTensorMemory(module))))
      return signalPassFailure();
    planFp4SharedTables(module);
    // Record the chip on every kernel that has moek ops, for the manifest.
    module.walk([&](LLVM::LLVMFuncOp func) {
      if (func->hasAttr("nvvm.kernel") &&
          func.walk([](Operation *op) {
                return isa<MoEKernelDialect>(op->getDialect())
                           ? WalkResult::interrupt()
                           : WalkResult::advance();
              })
              .wasInterrupted())
        func->setAttr("moek.chip", StringAttr::get(func.getContext(), chip));
    });

    MLIRContext *ctx = &getContext();
    TypeConverter converter;
    converter.addConversion([](Type t) { return t; });
    converter.addConversion(
        [ctx](RingType) -> Type { return ringStructType(ctx); });
    converter.addConversion([tensorMemory](AccType t) -> Type {
      return accStructType(t, tensorMemory);
    });
    converter.addConversion(
        [](RowsType t) -> Type { return rowsStructType(t); });
    converter.addConversion(
        [ctx](AccRingType) -> Type { return ptrTy(ctx, 3); });
    auto materialize = [](OpBuilder &b, Type type, ValueRange inputs,
                          Location loc) -> Value {
      return UnrealizedConversionCastOp::create(b, loc, type, inputs)
          .getResult(0);
    };
    converter.addSourceMaterialization(materialize);
    converter.addTargetMaterialization(materialize);

    ConversionTarget target(*ctx);
    target.addIllegalDialect<MoEKernelDialect>();
    target.addLegalDialect<LLVM::LLVMDialect, NVVM::NVVMDialect,
                           arith::ArithDialect>();
    // The host side (launches) stays for the artifact writer.
    target.addLegalOp<UnrealizedConversionCastOp, LaunchOp>();
    RewritePatternSet patterns(ctx);
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                         target);
    populateSchedulingPatterns(converter, patterns);
    populateRingPatterns(converter, patterns);
    populateMmaPatterns(converter, patterns, tensorMemory);
    populateTensorMemoryPatterns(converter, patterns, tensorMemory);
    populateEpiloguePatterns(converter, patterns);
    populateSyncPatterns(converter, patterns);
    populateDispatchPatterns(converter, patterns);
    populateRouteAndCombinePatterns(converter, patterns);
    populateActivationPatterns(converter, patterns, tensorMemory);
    populateFp4Patterns(converter, patterns);
    populateFp4TransposedPatterns(converter, patterns, tensorMemory);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

} // namespace mlir::moe::kernel::nvvm
