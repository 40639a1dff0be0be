#!/usr/bin/env python3
"""What routing inside the fused kernel (moek.route) costs and saves.

For each folder pair built by make_fused_moe.py with and without a route
field (the same layer otherwise; e.g. DeepSeek-V3's shape,
256,7168,2048,8[,sigmoid], and Qwen3-30B-A3B's, 128,2048,768,8[,softmax]):
the routed kernel is checked against run_fused_moe.py's reference (the
float64 routing of route_reference, then the float32 layer) on fresh
random logits with the output poisoned first; then, on the same inputs, in
rotated order (bench/grouped_gemm.py's timed_interleaved):

  fused:    the routed kernel on the logits (one launch);
  ids:      the kernel without routing on ids and weights computed before
            (the layer's time when a framework's router has already run);
  torch+ids: torch ops routing (softmax or sigmoid, the selection bias,
            grouped top-k, top-k, gather, renormalize, scale: about ten
            kernels, as a framework without a fused router runs them),
            then that kernel.

Prints one row a pair and, with --out, writes them as JSON.

Expected (docs/FusedKernel.md, "Routing in the kernel"): fused within a
few microseconds of ids (the routing pass reads T x E x 4 bytes, one token
a warp, then one grid barrier), and below torch+ids by the torch ops'
launches.

usage: fused_route_cost.py --lib libmoe_cuda_runtime.so --art DIR
           [--tokens T,...] [--out FILE]
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
from run_fused_moe import (reference, route_inputs,  # noqa: E402
                           route_reference, tokens, weights, within_bars)


def torch_route(c, logits, bias=None):
    """moe.route with torch ops (float32): ids [T, K] i32, weights f32."""
    E, K = c["E"], c["K"]
    G, KG = c.get("groups", 1), c.get("topk_groups", 1)
    s = logits.softmax(1) if c["route"] == "softmax" else logits.sigmoid()
    sel = s + bias if bias is not None else s
    if G > 1:
        T = logits.shape[0]
        score = sel.view(T, G, E // G).topk(2, dim=2).values.sum(2)
        kept = torch.zeros(T, G, dtype=torch.bool, device=logits.device)
        kept.scatter_(1, score.topk(KG, dim=1).indices, True)
        sel = sel.masked_fill(~kept.repeat_interleave(E // G, 1),
                              float("-inf"))
    ids = sel.topk(K, dim=1).indices
    w = s.gather(1, ids)
    w = w / w.sum(1, keepdim=True) * c.get("scaling", 1.0)
    return ids.to(torch.int32), w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True,
                    help="make_fused_moe.py's output folder holding each "
                         "layer with and without _route / _routesig")
    ap.add_argument("--tokens", default="128,4096")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    moe_runtime.load_library(a.lib)
    gen = torch.Generator(device="cuda").manual_seed(91)
    rows = []
    names = sorted(os.listdir(a.art))
    for name in names:
        suffix = next((s for s in ("_routesig", "_route")
                       if name.endswith(s)), None)
        if not suffix or name[:-len(suffix)] not in names:
            continue
        base = name[:-len(suffix)]
        c = json.load(open(os.path.join(a.art, name, "case.json")))
        kr = moe_runtime.Kernel.load(os.path.join(a.art, name))
        k0 = moe_runtime.Kernel.load(os.path.join(a.art, base))
        for T in (int(t) for t in a.tokens.split(",")):
            x = tokens(c, T, gen, "cuda")
            wts = weights(c, gen, "cuda")
            ops = route_inputs(c, T, "random", gen, "cuda")
            ids, w, clear = route_reference(c, *ops)
            out_r = torch.full((T, c["H"]), float("nan"),
                               dtype=torch.bfloat16, device="cuda")
            out_0 = torch.empty_like(out_r)
            kr.launch(x, *ops, *wts, out_r)
            torch.cuda.synchronize()
            ref = reference(c, x, ids, w, *wts).float()
            ok, _, rel, cd = within_bars(out_r[clear].float(), ref[clear],
                                         c.get("fp8"))
            tids, tw = torch_route(c, *ops)

            def both():
                i, ww = torch_route(c, *ops)
                k0.launch(x, i, ww, *wts, out_0)

            ms = timed_interleaved({
                "fused": lambda: kr.launch(x, *ops, *wts, out_r),
                "ids": lambda: k0.launch(x, tids, tw, *wts, out_0),
                "torch+ids": both})
            row = dict(layer=base, route=c["route"], tokens=T, ok=ok,
                       unclear_tokens=int((~clear).sum()), rel_fro=rel,
                       calc_diff=cd, fused_ms=ms["fused"], ids_ms=ms["ids"],
                       torch_ids_ms=ms["torch+ids"])
            rows.append(row)
            print("%-4s %-28s %-7s T=%-5d fused %.4f ms  ids %.4f ms  "
                  "torch+ids %.4f ms  (rel %.1e, calc_diff %.1e)" % (
                      "PASS" if ok else "FAIL", base, c["route"], T,
                      ms["fused"], ms["ids"], ms["torch+ids"], rel, cd),
                  flush=True)
    finish(rows, a.out, "no layer in %s with and without a route" % a.art)


if __name__ == "__main__":
    main()
