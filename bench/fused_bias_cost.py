#!/usr/bin/env python3
"""What per-expert biases (gpt-oss: w13_bias, w2_bias) cost the fused layer.

For each folder pair built by make_fused_moe.py with and without the `bias`
field (the same layer otherwise; e.g. gpt-oss-120b's shape,
128,2880,2880,4,in_combine,bf16,clamped_swiglu,interleaved[,bias], and its
MXFP4 form with `mx`): the biased kernel is checked against
run_fused_moe.py's float32 reference on fresh random inputs (its output
poisoned first), then both kernels are timed on the same inputs, in
rotated order (bench/grouped_gemm.py's timed_interleaved), T tokens routed
by softmax top-K of random logits. Prints one row a pair: the two times
and the difference; `--out` writes them as JSON.

Expected (docs/FusedKernel.md, "Per-expert biases"): about nothing; a
GEMM1 or GEMM2 tile adds 32 loads and 128 additions a warpgroup to an
epilogue of several microseconds.

usage: fused_bias_cost.py --lib libmoe_cuda_runtime.so --art DIR
           [--tokens T] [--out FILE]
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
from grouped_gemm import finish, timed_interleaved  # noqa: E402
from run_fused_moe import (reference, routing, tokens,  # noqa: E402
                           weights, within_bars)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True,
                    help="make_fused_moe.py's output folder holding each "
                         "layer with and without _bias")
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    moe_runtime.load_library(a.lib)
    gen = torch.Generator(device="cuda").manual_seed(77)
    rows = []
    names = sorted(os.listdir(a.art))
    for name in names:
        if not name.endswith("_bias") or name[:-len("_bias")] not in names:
            continue
        base = name[:-len("_bias")]
        c = json.load(open(os.path.join(a.art, name, "case.json")))
        kb = moe_runtime.Kernel.load(os.path.join(a.art, name))
        k0 = moe_runtime.Kernel.load(os.path.join(a.art, base))
        T = a.tokens
        x = tokens(c, T, gen, "cuda")
        wts = weights(c, gen, "cuda")
        ids, w = routing("random", T, c["E"], c["K"], gen, "cuda")
        out_b = torch.full((T, c["H"]), float("nan"), dtype=torch.bfloat16,
                           device="cuda")
        out_0 = torch.empty_like(out_b)
        kb.launch(x, ids, w, *wts, out_b)
        torch.cuda.synchronize()
        ref = reference(c, x, ids, w, *wts).float()
        ok, _, rel, cd = within_bars(out_b.float(), ref, c.get("mx8"))
        unbiased = wts[:-2]
        ms = timed_interleaved({
            "bias": lambda: kb.launch(x, ids, w, *wts, out_b),
            "none": lambda: k0.launch(x, ids, w, *unbiased, out_0)})
        row = dict(layer=base, tokens=T, ok=ok, rel_fro=rel, calc_diff=cd,
                   bias_ms=ms["bias"], none_ms=ms["none"],
                   change=ms["bias"] / ms["none"] - 1)
        rows.append(row)
        print("%-4s %-50s T=%d  bias %.3f ms  none %.3f ms  %+.1f%%  "
              "(rel %.1e, calc_diff %.1e)" % (
                  "PASS" if ok else "FAIL", base, T, row["bias_ms"],
                  row["none_ms"], 100 * row["change"], rel, cd), flush=True)
    finish(rows, a.out, "no layer in %s with and without _bias" % a.art)


if __name__ == "__main__":
    main()
