#!/usr/bin/env python3
"""Sustained timing of the fused MoE layers, with the board's power and clock.

bench/fused_moe.py times one launch at a time (a synchronization after
each), which leaves the GPU short idle gaps. This launches each layer of
bench/fused_moe.py's cases (bf16, or with --dtype fp8 DeepSeek-V3's FP8
recipe) back to back for --seconds (five launches between
synchronizations), then torch's pipeline of the same case and dtype
(_grouped_mm, or _scaled_grouped_mm with rowwise scales), while `nvidia-smi` samples power.draw and clocks.sm every 50 ms; it
prints the time per launch and the median power and SM clock (past the
first quarter of the samples) and the clock event reasons seen
(`clocks_event_reasons.active`, OR-ed: 0x4 SW power cap, 0x8 HW slowdown,
0x20 SW thermal, 0x40 HW thermal, 0x80 power brake). It only reads the
board's state.

usage: fused_power.py --lib libmoe_cuda_runtime.so --art DIR [--cases ...]
           [--seconds 2] [--dtype bf16|fp8]
(DIR holds make_fused_moe.py's folders fm_e<E>_h<H>_i<I>_k<K>, with --fp8
fm_fp8_e<E>_...)
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from grouped_gemm import CASES  # noqa: E402
from fused_moe import (FP8_BLOCK, artifact, fp8_weights,  # noqa: E402
                       make_case, torch_pipeline, torch_pipeline_fp8)


def sustained(fn, seconds):
    """(ms per call, median W, median MHz, OR of the clock event reasons)
    of fn run back to back."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    smi = subprocess.Popen(
        ["nvidia-smi",
         "--query-gpu=power.draw,clocks.sm,clocks_event_reasons.active",
         "--format=csv,noheader,nounits", "-lms", "50"],
        stdout=subprocess.PIPE, text=True)
    start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
    calls, t0 = 0, time.time()
    start.record()
    while time.time() - t0 < seconds:
        for _ in range(5):
            fn()
        calls += 5
        torch.cuda.synchronize()
    end.record()
    torch.cuda.synchronize()
    smi.terminate()
    rows = [[float(f[0]), float(f[1]), int(f[2], 16)]
            for f in (line.split(",")
                      for line in smi.communicate()[0].strip().splitlines())
            if len(f) == 3]
    rows = rows[len(rows) // 4:] or rows
    reasons = 0
    for r in rows:
        reasons |= r[2]
    return (start.elapsed_time(end) / calls,
            statistics.median(r[0] for r in rows),
            statistics.median(r[1] for r in rows), reasons)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--cases", default="")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp8"])
    a = ap.parse_args()
    moe_runtime.load_library(a.lib)
    print("| case | ours ms | W | SM MHz | reasons | torch ms | W | SM MHz "
          "| reasons | vs torch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, T, H, I, E, K in CASES:
        if a.cases and name not in a.cases.split(","):
            continue
        if a.dtype == "fp8" and (H % FP8_BLOCK or I % FP8_BLOCK):
            print("| %s | skipped: H = %d and I = %d must be multiples of %d "
                  "|" % (name, H, I, FP8_BLOCK), flush=True)
            continue
        x, w13, w2, ids, w = make_case(T, H, I, E, K)
        if a.dtype == "fp8":
            ours_w, peer_w = fp8_weights(w13, w2)
            del w13, w2

            def peer_fn():
                return torch_pipeline_fp8(x, peer_w, ids, w)
        else:
            ours_w = (w13, w2)

            def peer_fn():
                return torch_pipeline(x, w13, w2, ids, w)
        kernel = moe_runtime.Kernel.load(artifact(a.art, E, H, I, K, a.dtype))
        out = torch.empty(T, H, device="cuda", dtype=torch.bfloat16)
        ours = sustained(lambda: kernel.launch(x, ids, w, *ours_w, out),
                         a.seconds)
        peer = sustained(peer_fn, a.seconds)
        print("| %s | %.3f | %.0f | %.0f | %#x | %.3f | %.0f | %.0f | %#x "
              "| %.2fx |" % (name, *ours, *peer, peer[0] / ours[0]),
              flush=True)
        kernel.close()


if __name__ == "__main__":
    main()
