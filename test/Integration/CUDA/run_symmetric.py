#!/usr/bin/env python3
"""Symmetric buffers and wait records of the MoE runtime on several GPUs.

Needs a machine with two or more GPUs that reach each other's memory (NVLink
or PCIe peer access), PyTorch and libmoe_cuda_runtime.so. One process drives
every GPU. It
  1. creates a symmetric buffer over the visible GPUs (or the first
     --ranks N) with moe_runtime.Symmetric.create and checks its addresses
     (distinct, 16-byte aligned) and that every rank's buffer reads as zero;
  2. for every ordered pair (src, dst), src == dst included, launches an
     elementwise copy kernel on GPU src that stores a pattern unique to the
     pair into slot src of rank dst's buffer, through the address
     Symmetric.ptrs[dst] seen as a tensor on GPU src (peer stores);
  3. synchronizes every GPU, then checks on the host that every rank's
     buffer holds exactly the patterns written (and zeros elsewhere), and
     that a kernel on every GPU reads every rank's buffer the same (peer
     loads);
  4. wraps the same addresses with Symmetric.from_pointers and compares;
  5. creates a WaitRecord: a device address, and describe() gives "" while
     no kernel wrote it;
  6. prints PASS/FAIL lines; exit status 0 only if all passed.
With fewer than two GPUs (or no torch) it prints SKIP and exits with 2, or
with 0 if --allow-skip.

usage: run_symmetric.py [--lib build/lib/libmoe_cuda_runtime.so]
                        [--ranks N] [--bytes B] [--allow-skip]
"""

import argparse
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import moe_runtime  # noqa: E402

ROWS = []


def record(label, ok, note=""):
    ROWS.append((label, bool(ok)))
    print("%-4s %-60s %s" % ("PASS" if ok else "FAIL", label, note),
          flush=True)
    return ok


class _CudaArray:
    """A raw device address seen through __cuda_array_interface__ (v3)."""

    def __init__(self, ptr, numel, typestr):
        self.__cuda_array_interface__ = {
            "data": (int(ptr), False),
            "shape": (int(numel),),
            "typestr": typestr,
            "strides": None,
            "version": 3,
        }


def tensor_at(torch, ptr, numel, device, dtype=None):
    """An int32 tensor of `numel` elements at device address `ptr`, as a
    tensor of GPU `device`, so that the kernels of its operations run on
    that GPU (which may hold the memory or reach it as a peer). Nothing is
    copied; the memory is not torch's."""
    dtype = dtype or torch.int32
    dev = torch.device("cuda", device)
    nbytes = numel * torch.empty(0, dtype=dtype).element_size()
    construct = getattr(torch._C, "_construct_storage_from_data_pointer", None)
    if construct is not None:
        storage = construct(int(ptr), dev, nbytes)
        return torch.empty(0, dtype=dtype, device=dev).set_(
            storage, 0, (numel,), (1,))
    # Older torch: the array interface. torch asks the driver which device
    # the address belongs to; a tensor of another device would be a copy.
    with torch.cuda.device(device):
        t = torch.as_tensor(_CudaArray(ptr, numel, "<i4"), device=dev)
    if t.data_ptr() != int(ptr):
        raise RuntimeError("torch copied the buffer at 0x%x instead of "
                           "viewing it on device %d" % (ptr, device))
    return t


def pattern(torch, src, dst, numel, device):
    """The int32 values that GPU src writes into rank dst's buffer."""
    base = (src << 24) | (dst << 16)
    i = torch.arange(numel, dtype=torch.int32, device=device)
    return (i & 0xFFFF) | base


def run(args, torch):
    count = torch.cuda.device_count()
    ranks = args.ranks or count
    devices = list(range(ranks))
    numel = args.bytes // 4
    slot = numel // ranks  # rank r's buffer: slot s is written by GPU s
    print("%d GPUs visible, %d ranks, %d bytes per rank, %d int32 per slot"
          % (count, ranks, args.bytes, slot), flush=True)

    sym = moe_runtime.Symmetric.create(devices, args.bytes,
                                       library=args.lib)
    try:
        ptrs = list(sym.ptrs)
        record("create: %d ranks on devices %s" % (ranks, devices),
               sym.owned and list(sym.devices) == devices
               and sym.bytes == args.bytes and len(ptrs) == ranks,
               " ".join("0x%x" % p for p in ptrs))
        record("create: addresses distinct and 16-byte aligned",
               len(set(ptrs)) == ranks and all(p and p % 16 == 0
                                               for p in ptrs))
        zero = True
        for r, dev in enumerate(devices):
            view = tensor_at(torch, ptrs[r], numel, dev)
            zero &= bool((view.cpu() == 0).all())
        record("create: every buffer is zero", zero)

        # Peer stores: GPU src writes slot src of every rank's buffer.
        for src in devices:
            with torch.cuda.device(src):
                for dst_rank in range(ranks):
                    dst_view = tensor_at(torch, ptrs[dst_rank], numel, src)
                    values = pattern(torch, src, dst_rank, slot, src)
                    # An elementwise kernel on GPU src (not a copy engine).
                    torch.add(values, 0, out=dst_view[src * slot:
                                                       (src + 1) * slot])
        for dev in devices:
            torch.cuda.synchronize(dev)

        expected = []
        for dst_rank in range(ranks):
            e = torch.zeros(numel, dtype=torch.int32)
            for src in devices:
                e[src * slot:(src + 1) * slot] = pattern(
                    torch, src, dst_rank, slot, "cpu")
            expected.append(e)
        for dst_rank, dev in enumerate(devices):
            got = tensor_at(torch, ptrs[dst_rank], numel, dev).cpu()
            bad = (got != expected[dst_rank]).nonzero()
            note = ""
            if bad.numel():
                i = int(bad[0])
                note = ("%d wrong values; first at %d (slot %d): 0x%x, "
                        "expected 0x%x" % (bad.numel(), i, i // max(1, slot),
                                           int(got[i]) & 0xFFFFFFFF,
                                           int(expected[dst_rank][i])))
            record("stores: rank %d's buffer holds every GPU's pattern"
                   % dst_rank, bad.numel() == 0, note)

        # Peer loads: a kernel on every GPU reads every rank's buffer.
        for reader in devices:
            with torch.cuda.device(reader):
                ok = True
                for owner in range(ranks):
                    view = tensor_at(torch, ptrs[owner], numel, reader)
                    copy = torch.add(view, 0)  # a kernel on GPU reader
                    torch.cuda.synchronize(reader)
                    ok &= bool(torch.equal(copy.cpu(), expected[owner]))
                record("loads: GPU %d reads every rank's buffer" % reader, ok)

        with moe_runtime.Symmetric.from_pointers(
                ptrs, devices, args.bytes, library=args.lib) as wrapped:
            record("from_pointers: same ranks, devices and addresses",
                   not wrapped.owned and list(wrapped.ptrs) == ptrs
                   and list(wrapped.devices) == devices
                   and wrapped.bytes == args.bytes)
    finally:
        sym.close()
    record("close: the buffers are freed", sym._handle is None)

    with torch.cuda.device(devices[-1]):
        with moe_runtime.WaitRecord.create(library=args.lib) as w:
            text = w.describe(["dispatch: counts", "combine"])
            record("wait record: created, unwritten, describes as ''",
                   w.device_ptr != 0 and not w.written and text == "",
                   "device address 0x%x, describe %r" % (w.device_ptr, text))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lib", default=None,
                   help="libmoe_cuda_runtime.so (default: moe_runtime's "
                        "search)")
    p.add_argument("--ranks", type=int, default=0,
                   help="use the first N visible GPUs (default: all)")
    p.add_argument("--bytes", type=int, default=1 << 20,
                   help="bytes per rank (default 1 MiB)")
    p.add_argument("--allow-skip", action="store_true",
                   help="exit 0 (not 2) when there are too few GPUs")
    args = p.parse_args()
    skip_status = 0 if args.allow_skip else 2
    if args.ranks and not 1 <= args.ranks <= moe_runtime.MAX_RANKS:
        p.error("--ranks must be in [1, %d]" % moe_runtime.MAX_RANKS)
    try:
        import torch
    except ImportError:
        print("SKIP: PyTorch is not installed")
        return skip_status
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < 2 or args.ranks > count:
        print("SKIP: %d GPU%s visible; this test needs at least %d"
              % (count, "" if count == 1 else "s", max(2, args.ranks)))
        return skip_status
    if count > moe_runtime.MAX_RANKS and not args.ranks:
        args.ranks = moe_runtime.MAX_RANKS
    ranks = args.ranks or count
    if args.bytes < 4 * ranks or args.bytes % (4 * ranks):
        p.error("--bytes must be a positive multiple of 4 x ranks (%d)"
                % (4 * ranks))
    try:
        run(args, torch)
    except Exception as e:  # noqa: BLE001 - every failure is a row
        traceback.print_exc()
        record("no exception", False, "%s: %s" % (type(e).__name__, e))
    failed = sum(1 for _, ok in ROWS if not ok)
    print("symmetric: %d passed, %d failed" % (len(ROWS) - failed, failed))
    return 1 if failed or not ROWS else 0


if __name__ == "__main__":
    sys.exit(main())
