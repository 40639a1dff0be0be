#!/usr/bin/env python3
"""Times our FP8 layer and our FP8 x MXFP4 layer of one shape against each
other, interleaved in the same loop (bench/fused_moe.py times each dtype in
its own loop, so run-to-run drift of the GPU enters their difference).

For each case: the same tokens and routing, FP8 weights (DeepSeek-V3's
128x128 blocks) and MXFP4 weights quantized from the same bf16 weights; both
outputs poisoned, launched and checked against the reference evaluator's
(calc_diff <= 1e-3); then `--rounds` rounds of `--reps` timings each, the
two kernels in alternating order (CUDA events, after warm-up), and the
median of each. Prints a table: ms of each, and FP8 x MXFP4 over FP8 per
round and overall.

usage (from the repository root, on the GPU machine):
  python3 bench/fp4_vs_fp8.py --lib build-rt-standalone/libmoe_cuda_runtime.so \
      --art DIR [--cases qwen3-30b-a3b-decode,dsv3-decode] [--rounds 20]
      [--compare NAME=DIR ...]
with DIR holding make_fused_moe.py's --fp8 and --fp8-mxfp4 builds of the
cases' shapes (fm_fp8_e<E>_h<H>_i<I>_k<K>, fm_fp8mx_...). Each --compare
folder's builds of the same shapes (either dtype, or both) join the same
loop as `<dtype>@NAME`, checked the same way, each reported over FP8.
"""

import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "Integration", "CUDA"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from fused_moe import (DECODE_CASES, artifact, fp8_weights,  # noqa: E402
                       make_case, mxfp4_weights)
from grouped_gemm import CASES, calc_diff  # noqa: E402
from run_fused_moe import reference  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--cases", default="qwen3-30b-a3b-decode,dsv3-decode")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default="")
    ap.add_argument("--compare", action="append", default=[],
                    metavar="NAME=DIR",
                    help="other builds timed in the same loop")
    a = ap.parse_args()
    variants = [("", a.art)]
    for c in a.compare:
        name, sep, folder = c.partition("=")
        if not sep or not name or not folder:
            ap.error("--compare takes NAME=DIR, got %r" % c)
        variants.append(("@" + name, folder))
    moe_runtime.load_library(a.lib)
    wanted = [n for n in a.cases.split(",") if n]
    shapes = {c[0]: c[1:] for c in CASES + DECODE_CASES}
    unknown = [n for n in wanted if n not in shapes]
    if unknown:
        ap.error("unknown cases %s (known: %s)" % (unknown, sorted(shapes)))
    rows = []
    for name in wanted:
        T, H, I, E, K = shapes[name]
        x, w13, w2, ids, w = make_case(T, H, I, E, K)
        fp8_w, _ = fp8_weights(w13, w2)
        mx_w = mxfp4_weights(w13, w2)
        base = dict(E=E, H=H, I=I, K=K, router="in_combine", gemm1="bf16",
                    gemm2="bf16", act="swiglu", layout="concat", fp8=True)
        kernels, args, outs, diffs = {}, {}, {}, {}
        refs = {}
        for tag, folder in variants:
            for dtype, weights in (("fp8", fp8_w), ("fp8-mxfp4", mx_w)):
                d = artifact(folder, E, H, I, K, dtype)
                if tag and not os.path.isdir(d):
                    continue  # a compared folder may hold one dtype
                key = dtype + tag
                kernels[key] = moe_runtime.Kernel.load(d)
                args[key] = (x, ids, w) + tuple(weights)
                if dtype not in refs:
                    layer = dict(base, mxfp4=dtype == "fp8-mxfp4")
                    refs[dtype] = reference(layer, *args[key]).float()
                outs[key] = torch.full((T, H), float("nan"), device="cuda",
                                       dtype=torch.bfloat16)
                kernels[key].launch(*args[key], outs[key])
                torch.cuda.synchronize()
                o = outs[key].float()
                diffs[key] = (calc_diff(o, refs[dtype])
                              if bool(torch.isfinite(o).all())
                              else float("inf"))
        del refs
        names = list(kernels)
        for n in names:  # warm-up
            for _ in range(3):
                kernels[n].launch(*args[n], outs[n])
        torch.cuda.synchronize()
        samples = {n: [] for n in names}
        ratios = {n: [] for n in names if n != "fp8"}
        for r in range(a.rounds):
            order = names if r % 2 == 0 else names[::-1]
            med = {}
            for n in order:
                times = []
                for _ in range(a.reps):
                    s, e = (torch.cuda.Event(enable_timing=True)
                            for _ in range(2))
                    s.record()
                    kernels[n].launch(*args[n], outs[n])
                    e.record()
                    torch.cuda.synchronize()
                    times.append(s.elapsed_time(e))
                samples[n] += times
                med[n] = statistics.median(times)
            for n in ratios:
                ratios[n].append(med[n] / med["fp8"])
        row = {"case": name, "T": T, "H": H, "I": I, "E": E, "K": K,
               "fp8_ms": statistics.median(samples["fp8"]),
               "fp8_mxfp4_ms": statistics.median(samples["fp8-mxfp4"]),
               "round_ratios": ratios["fp8-mxfp4"],
               "ms": {n: statistics.median(v) for n, v in samples.items()},
               "variant_round_ratios": ratios,
               "calc_diff": diffs,
               "correct": all(v <= 1e-3 for v in diffs.values())}
        row["ratio"] = row["fp8_mxfp4_ms"] / row["fp8_ms"]
        rows.append(row)
        print(json.dumps(row), flush=True)
        for k in kernels.values():
            k.close()
        del x, w13, w2, ids, w, fp8_w, mx_w, args, outs
        torch.cuda.empty_cache()
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "fp4_vs_fp8.json"), "w") as f:
            json.dump({"gpu": torch.cuda.get_device_name(0),
                       "torch": torch.__version__, "rounds": a.rounds,
                       "reps": a.reps, "cases": rows}, f, indent=1)
    print("\n| case | kernel | ms | over FP8 | rounds faster than FP8 | "
          "ratio min / max over rounds | correct |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | fp8 | %.3f | 1 | | | %s |" % (
            r["case"], r["fp8_ms"],
            "yes" if r["calc_diff"]["fp8"] <= 1e-3 else "NO"))
        for n, rr in r["variant_round_ratios"].items():
            faster = sum(1 for v in rr if v < 1)
            print("| %s | %s | %.3f | %.3f | %d of %d | %.3f / %.3f | %s |" % (
                r["case"], n, r["ms"][n], r["ms"][n] / r["fp8_ms"], faster,
                len(rr), min(rr), max(rr),
                "yes" if r["calc_diff"][n] <= 1e-3 else "NO"))


if __name__ == "__main__":
    main()
