#!/usr/bin/env python3
"""Launches one generated grouped matmul (bf16) five times on
bench/grouped_gemm.py's routing (softmax top-K of random scores), with
random bf16 operands: a target for ncu, which picks one launch.

usage (on the GPU machine):
  ncu --section WarpStateStats --section SourceCounters --section SpeedOfLight \\
      -k regex:gg_expert -s 2 -c 1 -o prof \\
      python3 bench/ncu_grouped.py LIB ART T E K N KK
  ncu --import prof.ncu-rep --page source --csv --print-source sass > src.csv
  python3 bench/ncu_stalls.py src.csv

T tokens routed to K of E experts; N and KK the GEMM's output columns and
inner dimension (the artifact ART's, e.g. gg_e32_n7168_k2048: E = 32,
N = 7168, KK = 2048).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import torch  # noqa: E402
import moe_runtime  # noqa: E402
from grouped_gemm import routed_offsets  # noqa: E402


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    lib, art = sys.argv[1], sys.argv[2]
    t, e, k, n, kk = map(int, sys.argv[3:8])
    moe_runtime.load_library(lib)
    torch.manual_seed(0)
    offsets, counts = routed_offsets(t, e, k)
    m = int(counts.sum())
    x = (torch.rand(m, kk, device="cuda") * 2 - 1).bfloat16()
    w = ((torch.rand(e, n, kk, device="cuda") * 2 - 1) / kk ** 0.5).bfloat16()
    out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
    kernel = moe_runtime.Kernel.load(art)
    for _ in range(5):
        kernel.launch(x, w, offsets, out)
    torch.cuda.synchronize()
    print("launched %s five times on %d rows" % (art, m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
