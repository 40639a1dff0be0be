#!/usr/bin/env python3
"""Launches one generated grouped matmul on the inputs of one benchmark case,
for profilers: `ncu --launch-skip 2 --launch-count 1 python3 bench/launch_case.py ...`.

usage: launch_case.py --lib libmoe_cuda_runtime.so --art DIR --case NAME
                      --gemm gate/up|down [--fp8] [--launches 3]
(NAME is a case of bench/grouped_gemm.py; DIR holds gg_e<E>_n<N>_k<K>, or
with --fp8 the FP8 block-scaled gg_fp8_e<E>_n<N>_k<K>, launched on e4m3
inputs and scales as bench/grouped_gemm.py --dtypes fp8 makes them.)
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from grouped_gemm import CASES, fp8_inputs  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", required=True)
    p.add_argument("--art", required=True)
    p.add_argument("--case", required=True, choices=[c[0] for c in CASES])
    p.add_argument("--gemm", required=True, choices=["gate/up", "down"])
    p.add_argument("--fp8", action="store_true",
                   help="the FP8 block-scaled kernel (gg_fp8_...)")
    p.add_argument("--launches", type=int, default=3)
    a = p.parse_args()
    moe_runtime.load_library(a.lib)
    torch.manual_seed(0)
    _, t, h, i, e, k = next(c for c in CASES if c[0] == a.case)
    n, kk = (2 * i, h) if a.gemm == "gate/up" else (h, i)
    ids = torch.rand(t, e, device="cuda").topk(k, dim=1).indices.flatten()
    counts = torch.bincount(ids, minlength=e).to(torch.int32)
    offsets = torch.zeros(e + 1, dtype=torch.int32, device="cuda")
    offsets[1:] = counts.cumsum(0)
    m = int(counts.sum())
    if a.fp8:
        xq, xs, wq, ws = fp8_inputs(m, e, n, kk, None, "cuda")
        args = (xq, wq, offsets, xs, ws)
    else:
        x = (torch.rand(m, kk, device="cuda") * 2 - 1).bfloat16()
        w = ((torch.rand(e, n, kk, device="cuda") * 2 - 1) / kk ** 0.5).bfloat16()
        args = (x, w, offsets)
    out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
    kernel = moe_runtime.Kernel.load(os.path.join(a.art, "gg_%se%d_n%d_k%d" % (
        "fp8_" if a.fp8 else "", e, n, kk)))
    for _ in range(a.launches):
        kernel.launch(*args, out)
    torch.cuda.synchronize()
    kernel.close()
    print("launched %s %s%s %d times (rows %d)" % (
        a.case, a.gemm, " fp8" if a.fp8 else "", a.launches, m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
