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
    _, kernel, ws, args = layer_launch(a.art, *cases[a.case], a.dtype)
    for _ in range(a.launches):
        kernel.launch(*args, workspace=ws)
    torch.cuda.synchronize()
    kernel.close()
    print("launched %s %s %d times" % (a.case, a.dtype, a.launches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
