#!/usr/bin/env python3
"""Diagnostic, not the expert-parallel benchmark: what the expert-parallel
protocol costs when no NVLink is involved. On one GPU it times

  single   the single-GPU fused kernel on T tokens (all SMs, and half);
  ep2      the R = 2 expert-parallel kernel of the same layer with its two
           ranks as concurrent kernels on this GPU (half the SMs each), rank
           r with tokens [r T/2, (r+1) T/2) and experts [r E/2, (r+1) E/2):
           the same GEMM work, plus the count exchange, the rows copied to
           their owner (here within the GPU), the waits and the results sent
           back.

  python3 bench/ep_one_gpu_overhead.py --lib LIB --single ART --ep2 ART [--tokens 256,4096]

ART: make_fused_moe.py artifacts of one layer, without and with `ep2`
(max-tokens >= T). Wall time of launch + synchronize, median of 10.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "test", "Integration", "CUDA"))

import json  # noqa: E402
import torch  # noqa: E402
import moe_runtime  # noqa: E402
from moe_runtime.ep import ExpertParallelLayer  # noqa: E402
from run_fused_moe import routing  # noqa: E402


def bench(fn, iters=10):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append((time.perf_counter() - t) * 1e3)
    return sorted(ts)[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--single", required=True)
    ap.add_argument("--ep2", required=True)
    ap.add_argument("--tokens", default="256,4096")
    a = ap.parse_args()
    moe_runtime.load_library(a.lib)
    c = json.load(open(os.path.join(a.single, "case.json")))
    E, H, I, K = c["E"], c["H"], c["I"], c["K"]
    dev = "cuda:0"
    g = torch.Generator(device=dev).manual_seed(1)
    w13 = (torch.randn(E, 2 * I, H, device=dev, generator=g) /
           H ** 0.5).bfloat16()
    w2 = (torch.randn(E, H, I, device=dev, generator=g) / I ** 0.5).bfloat16()
    single = moe_runtime.Kernel.load(a.single)
    layer = ExpertParallelLayer(a.ep2, devices=[0, 0])
    half_sms = single.num_sms // 2
    el = E // 2
    shards = [(w13[:el], w2[:el]), (w13[el:], w2[el:])]
    print("| T | single, all SMs (ms) | single, %d SMs (ms) | EP2 on one GPU "
          "(ms) |" % half_sms)
    print("|---|---|---|---|")
    for T in (int(t) for t in a.tokens.split(",")):
        x = torch.randn(T, H, device=dev, generator=g).bfloat16()
        ids, w = routing("random", T, E, K, g, dev)
        out = torch.empty(T, H, device=dev, dtype=torch.bfloat16)
        t1 = bench(lambda: single.launch(x, ids, w, w13, w2, out))
        t1h = bench(lambda: single.launch(x, ids, w, w13, w2, out,
                                          max_sms=half_sms))
        h = T // 2
        outs = [torch.empty(h, H, device=dev, dtype=torch.bfloat16)
                for _ in range(2)]
        per = [(x[r * h:(r + 1) * h], ids[r * h:(r + 1) * h].contiguous(),
                w[r * h:(r + 1) * h].contiguous()) + shards[r] + (outs[r],)
               for r in range(2)]
        t2 = bench(lambda: layer.launch(per))
        print("| %d | %.3f | %.3f | %.3f |" % (T, t1, t1h, t2), flush=True)
    layer.close()


if __name__ == "__main__":
    main()
