#!/usr/bin/env python3
"""Runs the peer-exchange kernel (Inputs/peer-exchange.mlir) on R GPUs.

The kernel is compiled here (make mode) and run there (run mode):

  run_peer_exchange.py make --bin build/bin --out DIR      # no GPU needed
  run_peer_exchange.py run --lib libmoe_cuda_runtime.so --art DIR
                        [--ranks R] [--repeats 20] [--timeout-s 1]

run: one process drives R GPUs (all visible ones by default, at least 2).
A symmetric buffer (moe_runtime.Symmetric: CUDA VMM, every GPU mapped on
every other) holds each rank's counter and the words the others send.
With --same-device, the R ranks (default 2) are R kernels on GPU 0, each
on its own stream, their buffers R slices of one VMM allocation on GPU 0:
the same kernel, counters, waits and records, without NVLink (for a
machine with one GPU).
 1. 20 launches (epochs 1..20) of the kernel on every rank at once: after
    each, rank r's out[s] must be exactly epoch * 1000000 + s * 1000 + r
    for every s != r (a lost, stale or misplaced word is caught), and
    out[r] = 0; the counters are never reset between launches.
 2. A dead peer: in a child process, only rank 0 launches, with a 1 s
    timeout; the launch must fail (trap) within the timeout plus a margin,
    and the wait record must say rank 0, phase 1, counter value 0, target
    R - 1, waited >= 1 s.
Prints PASS/FAIL lines; exit status 0 only if every check passed.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

PHASES = ["", "exchange: counters"]  # phase 1 of the kernel's remote_wait
WORDS = 64  # u64 words per rank's buffer: [0] counter, [1 + s] from rank s
ROWS = []


def record(label, ok, note=""):
    ROWS.append(dict(check=label, ok=bool(ok), note=note))
    print("%-4s %-60s %s" % ("PASS" if ok else "FAIL", label, note),
          flush=True)
    return ok


def make(a):
    src = os.path.join(HERE, "Inputs", "peer-exchange.mlir")
    nvvm = os.path.join(a.out, "kernel.nvvm.mlir")
    os.makedirs(a.out, exist_ok=True)
    subprocess.run([os.path.join(a.bin, "moe-opt"),
                    "--moek-to-nvvm-pipeline=chip=sm_90a", src, "-o", nvvm],
                   check=True)
    subprocess.run([os.path.join(a.bin, "moe-translate"), "--moe-to-manifest",
                    "--artifact-dir=" + a.out, nvvm, "-o", os.devnull],
                   check=True)
    print("wrote", a.out)


def setup(a, ranks):
    """(torch, moe_runtime, the symmetric allocation, [kernel per rank],
    [bases tensor per rank], [device per rank], [stream per rank])."""
    import torch
    import moe_runtime
    moe_runtime.load_library(a.lib)
    if a.same_device:
        devices = [0] * ranks
        sym = moe_runtime.Symmetric.create([0], ranks * WORDS * 8)
        ptrs = [sym.ptrs[0] + r * WORDS * 8 for r in range(ranks)]
        kernel = moe_runtime.Kernel.load(a.art, device=0)
        kernels = [kernel] * ranks
    else:
        devices = list(range(ranks))
        sym = moe_runtime.Symmetric.create(devices, WORDS * 8)
        ptrs = list(sym.ptrs[:ranks])
        kernels = [moe_runtime.Kernel.load(a.art, device=d) for d in devices]
    bases = [torch.tensor(ptrs + [0] * (8 - ranks), dtype=torch.int64,
                          device="cuda:%d" % d) for d in devices]
    streams = [torch.cuda.Stream(device=d) for d in devices]
    return torch, moe_runtime, sym, kernels, bases, devices, streams


def launch(torch, kernel, bases, out, rank, ranks, epoch, timeout_ns,
           record_ptr, device, stream):
    with torch.cuda.device(device):
        kernel.launch(bases, out, stream=stream,
                      scalars=(rank, ranks, epoch, timeout_ns, record_ptr))


def run(a):
    import torch
    ranks = a.ranks or (2 if a.same_device else torch.cuda.device_count())
    if ranks < 2:
        print("SKIP: %d GPU(s); the exchange needs 2 or more (or "
              "--same-device)" % ranks)
        sys.exit(2)
    torch, moe_runtime, sym, kernels, bases, devices, streams = setup(
        a, ranks)
    where = "on GPU 0 (same device)" if a.same_device else "on %d GPUs" % (
        ranks)
    wait = moe_runtime.WaitRecord.create()
    timeout_ns = int(30e9)
    ok = True
    for epoch in range(1, a.repeats + 1):
        outs = [torch.full((8,), -1, dtype=torch.int64,
                           device="cuda:%d" % d) for d in devices]
        for d in set(devices):
            torch.cuda.synchronize(d)
        for r in range(ranks):  # asynchronous: every rank runs at once
            launch(torch, kernels[r], bases[r], outs[r], r, ranks, epoch,
                   timeout_ns, wait.device_ptr, devices[r], streams[r])
        for d in set(devices):
            torch.cuda.synchronize(d)
        bad = []
        for r in range(ranks):
            got = outs[r].cpu().tolist()[:ranks]
            want = [0 if s == r else epoch * 1000000 + s * 1000 + r
                    for s in range(ranks)]
            if got != want:
                bad.append("rank %d: %s != %s" % (r, got, want))
        ok &= not bad
        if bad or epoch in (1, a.repeats):
            record("R=%d %s epoch %d: every word from every peer" % (
                ranks, where, epoch), not bad, "; ".join(bad))
    record("R=%d: %d launches, none timed out (wait record unwritten)"
           % (ranks, a.repeats), wait.describe(PHASES) == "",
           wait.describe(PHASES))
    wait.close()

    # The dead peer, in a child process (a trap ends its CUDA context).
    t0 = time.time()
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "dead",
                        "--lib", a.lib, "--art", a.art, "--ranks",
                        str(ranks), "--timeout-s", str(a.timeout_s)] +
                       (["--same-device"] if a.same_device else []),
                       capture_output=True, text=True, timeout=120)
    wall = time.time() - t0
    try:
        result = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {}
    msg = result.get("message", "")
    rec = result.get("record", {})
    record("dead peer: the launch fails instead of hanging",
           result.get("failed") is True,
           "%s (child: %.1f s wall)" % (result.get("error", p.stderr[-300:]),
                                        wall))
    record("dead peer: the wait record names rank 0, phase 1, 0 of %d"
           % (ranks - 1),
           rec.get("rank") == 0 and rec.get("phase") == 1 and
           rec.get("value") == 0 and rec.get("target") == ranks - 1, msg)
    waited = rec.get("elapsedNs", 0) / 1e9
    record("dead peer: gave up after the timeout (%.1f s), not much later"
           % a.timeout_s, a.timeout_s <= waited <= a.timeout_s + 0.5 and
           result.get("seconds", 1e9) <= a.timeout_s + 5,
           "waited %.3f s in the kernel, %.2f s until the error"
           % (waited, result.get("seconds", -1)))
    passed = sum(r["ok"] for r in ROWS)
    print("\n%d of %d checks passed" % (passed, len(ROWS)))
    sys.exit(0 if passed == len(ROWS) else 1)


def dead(a):
    """Child: only rank 0 launches; prints one JSON line."""
    torch, moe_runtime, sym, kernels, bases, devices, streams = setup(
        a, a.ranks)
    wait = moe_runtime.WaitRecord.create()
    out = torch.full((8,), -1, dtype=torch.int64, device="cuda:0")
    torch.cuda.synchronize(0)
    t0 = time.time()
    result = dict(failed=False)
    try:
        launch(torch, kernels[0], bases[0], out, 0, a.ranks, 1,
               int(a.timeout_s * 1e9), wait.device_ptr, 0, streams[0])
        torch.cuda.synchronize(0)
    except Exception as e:  # noqa: BLE001 - the expected failure
        result = dict(failed=True, error="%s: %s" % (
            type(e).__name__, str(e).splitlines()[0][:200]))
    result["seconds"] = time.time() - t0
    result["message"] = wait.describe(PHASES)
    result["record"] = {k: getattr(wait.record, k) for k in (
        "magic", "rank", "phase", "block", "counter", "value", "target",
        "elapsedNs")}
    print(json.dumps(result), flush=True)
    os._exit(0)  # the context is unusable: skip torch's teardown


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("make", "run", "dead"))
    ap.add_argument("--bin")
    ap.add_argument("--out")
    ap.add_argument("--lib")
    ap.add_argument("--art")
    ap.add_argument("--ranks", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--timeout-s", type=float, default=1.0)
    ap.add_argument("--same-device", action="store_true",
                    help="R ranks as R kernels on GPU 0 (one GPU)")
    a = ap.parse_args()
    {"make": make, "run": run, "dead": dead}[a.mode](a)


if __name__ == "__main__":
    main()
