#!/usr/bin/env python3
"""Phase times of a fused MoE kernel built with phase timers.

Build the layers with `make_fused_moe.py --kernel-options phase-timers=true`:
each CTA then writes the GPU's nanosecond clock into the workspace at the
phase boundaries (start, dispatch done, producer done, MMA tiles done, past
the last grid barrier, combine done). This runs each case of
bench/fused_moe.py once (after a warm-up) and prints, in microseconds from
the earliest start: when the dispatch ended (slowest CTA), when the first
and the last CTA finished their tiles, the end of the last grid barrier and
of the combine. The sm_90a kernels also sum their first MMA warpgroup's
tile parts (waiting for a tile's first stage, the prologue, the K loop, the
epilogue; of GEMM1's tiles the exchange, the activation's store, the
signal; bf16 kernels have no prologue and no exchange), printed per tile
after the table. `--dtype fp8` or `fp8-mxfp4`
times those layers (make_fused_moe.py's `--fp8` / `--fp8-mxfp4` builds; weights quantized as
bench/fp4_vs_fp8.py does); `--cases` may name bench/fused_moe.py's decode
cases too. `--trace` adds the per-tile trace (the bf16 and FP8 kernels
on sm_90a): for each tile when the producer started its loads, when the
first MMA warpgroup had its first stage and when it was done with it;
printed per GEMM: the warpgroup's wait for a tile's first stage after
its previous tile, how long after the producer's start the stage was
full, and how often (and by how much) the producer started a tile only
after the warpgroup had finished the one before.

usage: fused_phases.py --lib libmoe_cuda_runtime.so --art DIR [--cases ...]
           [--dtype bf16|fp8|fp8-mxfp4] [--trace]
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "Integration", "CUDA"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from grouped_gemm import CASES  # noqa: E402
from fused_moe import DECODE_CASES, layer_launch  # noqa: E402

# Timer slots per CTA (FusedWorkspace::kTimerSlots), CTAs timed
# (kMaxTimedCtas); the trace after them: kTraceWords words a tile, tiles
# below kMaxTracedTiles.
SLOTS = 16
TIMED_CTAS = 1024
TRACE_WORDS = 4
TRACED_TILES = 65536


def trace_summary(name, tr):
    """Prints the per-tile trace's waits (us) per GEMM."""
    tr = tr[tr[:, 1] > 0]
    if len(tr) == 0:
        return
    start, ready, done, tag = (tr[:, 0].double(), tr[:, 1].double(),
                               tr[:, 2].double(), tr[:, 3])
    cta, gemm1 = tag // 2, tag % 2
    # Each warpgroup's tiles in the order it ran them: by CTA, then by
    # the time it had their first stage.
    by_ready = torch.argsort(ready)
    order = by_ready[torch.argsort(cta[by_ready], stable=True)]
    cta, gemm1 = cta[order], gemm1[order]
    start, ready, done = start[order], ready[order], done[order]
    same = cta[1:] == cta[:-1]
    prev_done = done[:-1][same]
    rows = {"GEMM1": gemm1[1:][same] == 1, "GEMM2": gemm1[1:][same] == 0}
    for gemm, m in rows.items():
        if not m.any():
            continue
        r, p, e = ready[1:][same][m], start[1:][same][m], prev_done[m]
        wait = (r - e) / 1e3
        lead = (r - p) / 1e3
        late = (p - e) / 1e3
        after = late > 0
        print("%-18s %-6s %7d %9.2f %9.2f %9.2f %9.2f %8.1f%% %9.2f" % (
            name, gemm, len(r), float(wait.mean()), float(wait.median()),
            float(torch.quantile(wait, 0.9)), float(lead.mean()),
            100.0 * float(after.double().mean()),
            float(late[after].mean()) if bool(after.any()) else 0.0),
            flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--cases", default="")
    ap.add_argument("--dtype", default="bf16",
                    choices=["bf16", "fp8", "fp8-mxfp4"])
    ap.add_argument("--trace", action="store_true")
    a = ap.parse_args()
    moe_runtime.load_library(a.lib)
    print("%-18s %9s %9s %9s %9s %9s %9s" % (
        "case (us)", "dispatch", "tiles 1st", "tiles all", "producer",
        "barrier", "combine"))
    cases = CASES + DECODE_CASES if a.cases else CASES
    parts = []
    traces = []
    for name, T, H, I, E, K in cases:
        if a.cases and name not in a.cases.split(","):
            continue
        manifest, kernel, ws, args = layer_launch(a.art, T, H, I, E, K,
                                                  a.dtype)
        off = manifest["workspace_timers_offset"]
        for _ in range(2):
            ws[off:].zero_()
            kernel.launch(*args, workspace=ws)
        torch.cuda.synchronize()
        t = ws[off:off + 8 * SLOTS * TIMED_CTAS].view(torch.int64).view(
            TIMED_CTAS, SLOTS)
        if a.trace:
            at = off + 8 * SLOTS * TIMED_CTAS
            traces.append((name, ws[at:at + 8 * TRACE_WORDS * TRACED_TILES]
                           .view(torch.int64).view(TRACED_TILES, TRACE_WORDS)
                           .cpu()))
        t = t[t[:, 0] > 0].double()
        t0 = t[:, 0].min()
        us = (t[:, :6] - t0) / 1e3
        print("%-18s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f" % (
            name, us[:, 1].max(), us[:, 3].min(), us[:, 3].max(),
            us[:, 2].max(), us[:, 4].max(), us[:, 5].max()), flush=True)
        tiles = t[:, 10].sum()
        if tiles > 0:
            # The first MMA warpgroup (sm_90a): its tiles' parts, summed
            # over the CTAs, per tile.
            per = t[:, 6:10].sum(0) / tiles / 1e3
            g1 = t[:, 11].sum()
            # GEMM1's tiles: the whole tile (from its decode), the exchange
            # (barriers 5 and 6), the activation's store, the signal.
            per1 = t[:, 12:16].sum(0) / max(g1, 1) / 1e3
            parts.append((name, tiles / len(t), g1 / len(t), per, per1))
        del kernel, ws, args
        torch.cuda.empty_cache()
    if parts:
        print("\nper tile of the first MMA warpgroup (us): waiting for its "
              "first stage, prologue, K loop, epilogue")
        print("%-18s %9s %9s %9s %9s %9s %9s %9s %9s %9s %9s" % (
            "case", "tiles/CTA", "wait", "prologue", "K loop", "epilogue",
            "GEMM1/CTA", "G1 tile", "exchange", "act", "signal"))
        for name, n, n1, per, per1 in parts:
            print("%-18s %9.1f %9.2f %9.2f %9.2f %9.2f %9.1f %9.2f %9.2f "
                  "%9.2f %9.2f" % (name, n, *per.tolist(), n1,
                                   *per1.tolist()))
    if traces:
        print("\nper-tile trace (us): the first MMA warpgroup's wait for a "
              "tile's first stage after its previous tile (mean, median, "
              "90th percentile), the stage full after the producer's start "
              "(mean), tiles the producer started after the warpgroup's "
              "previous tile was done (share, mean lateness)")
        print("%-18s %-6s %7s %9s %9s %9s %9s %9s %9s" % (
            "case", "GEMM", "tiles", "wait", "median", "p90", "full",
            "late", "by"))
        for name, tr in traces:
            trace_summary(name, tr)


if __name__ == "__main__":
    main()
