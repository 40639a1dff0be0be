// RUN: moe-opt %s -split-input-file --convert-moek-to-nvvm=chip=sm_90a -verify-diagnostics

// A relayed signal needs the relay (else no thread would ever add it, and
// the warpgroup would wait forever for the relay to take its index) and a
// ring, whose setup initializes the relay's barriers.
gpu.module @kernels {
  llvm.func @no_relay(%c: !llvm.ptr<1>) attributes {nvvm.kernel} {
    %i = arith.constant 0 : index
    %ring = moek.ring_alloc consumers(256) : !moek.ring<4, [memref<128x64xbf16, 3>, memref<256x64xbf16, 3>]>
    // expected-error @+1 {{'moek.signal' op needs a moek.signal_relay and a moek.ring_alloc (whose barriers' initialization covers the relay's) in its kernel}}
    moek.signal %c[%i] {relayed}
    llvm.return
  }
}

// -----

gpu.module @kernels {
  llvm.func @no_ring(%c: !llvm.ptr<1>) attributes {nvvm.kernel} {
    // expected-error @+1 {{'moek.signal_end' op needs a moek.signal_relay and a moek.ring_alloc}}
    moek.signal_end
    moek.signal_relay %c warpgroup(1)
    llvm.return
  }
}
