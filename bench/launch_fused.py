#!/usr/bin/env python3
"""Launches one fused MoE layer on the inputs of one benchmark case, for
profilers (bench/launch_case.py's counterpart for moe.fused_moe):

  ncu -k regex:fused_moe --launch-skip 2 --launch-count 1 --metrics ... \\
      python3 bench/launch_fused.py --lib LIB --art DIR --case NAME

(the kernel filter matters: building the inputs launches torch's kernels
too). NAME is a case of bench/fused_moe.py (bench/grouped_gemm.py's six and
its decode cases); DIR holds the artifact folders make_fused_moe.py writes
(fm_e<E>_h<H>_i<I>_k<K>, with --dtype fp8 fm_fp8_...), the inputs and
weights made as bench/fused_moe.py makes them.

usage: launch_fused.py --lib libmoe_cuda_runtime.so --art DIR --case NAME
                       [--dtype bf16|fp8] [--launches 3]
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "Integration", "CUDA"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from grouped_gemm import CASES  # noqa: E402
from fused_moe import (DECODE_CASES, artifact, layer_weights,  # noqa: E402
                       make_case)


def main():
    cases = {c[0]: c[1:] for c in CASES + DECODE_CASES}
    p = argparse.ArgumentParser()
    p.add_argument("--lib", required=True)
    p.add_argument("--art", required=True)
    p.add_argument("--case", required=True, choices=sorted(cases))
    p.add_argument("--dtype", default="bf16", choices=["bf16", "fp8"])
    p.add_argument("--launches", type=int, default=3)
    a = p.parse_args()
    moe_runtime.load_library(a.lib)
    T, H, I, E, K = cases[a.case]
    d = artifact(a.art, E, H, I, K, a.dtype)
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    kernel = moe_runtime.Kernel.load(d)
    ws = torch.zeros(manifest["workspace_bytes"], dtype=torch.uint8,
                     device="cuda")
    x, w13, w2, ids, w = make_case(T, H, I, E, K)
    weights = layer_weights(a.dtype, w13, w2)
    out = torch.empty(T, H, device="cuda", dtype=torch.bfloat16)
    for _ in range(a.launches):
        kernel.launch(x, ids, w, *weights, out, workspace=ws)
    torch.cuda.synchronize()
    kernel.close()
    print("launched %s %s %d times (%s)" % (a.case, a.dtype, a.launches, d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
