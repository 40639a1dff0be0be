#!/usr/bin/env python3
"""Benchmark: the generated fused MoE kernel against the PyTorch pipeline.

For the six cases of DESIGN.md section 9 (bf16, SwiGLU, gate/up
concatenated, router weight in the combine), on the same inputs in one
process:
  * routing: softmax top-K of random logits, renormalized (as
    ../shared/bench/peer_baselines.py makes it);
  * peer: the PyTorch `_grouped_mm` pipeline of peer_baselines.py (sort by
    expert, gather, GEMM1, SwiGLU, GEMM2, weighted index_add);
  * ceilings measured in this run (bench/grouped_gemm.py's: read bandwidth,
    bf16 matmul peak); roofline floor = max(FLOPs / matmul peak,
    bytes / read bandwidth), FLOPs = 6 T K H I, bytes = the weights of the
    experts that got tokens + x + out;
  * correctness of both against a float32 reference with the IR's rounding
    points (test/Integration/CUDA/run_fused_moe.py's), before timing;
  * median of 20 timed launches (CUDA events) after 3 warm-ups.
Writes fused_moe.json and fused_moe.md into --out.

Artifacts: test/Integration/CUDA/make_fused_moe.py, one folder per case
(fm_e<E>_h<H>_i<I>_k<K>).

usage: fused_moe.py --lib libmoe_cuda_runtime.so --art DIR --out DIR
                    [--cases NAME,...] [--compare NAME=DIR ...]

--compare times other builds of the same layers (e.g. made with other
--kernel-options) on the same inputs in the same run, for before/after
measurements of an optimization: each is checked like the main one and gets
a column "NAME ms" in the table.
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
import torch.nn.functional as F  # noqa: E402
import moe_runtime  # noqa: E402
from grouped_gemm import CASES, calc_diff, ceilings, timed  # noqa: E402
from run_fused_moe import reference, rel_fro  # noqa: E402


def make_case(T, H, I, E, K, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    x = torch.randn(T, H, device="cuda", dtype=torch.bfloat16, generator=g)
    w13 = torch.randn(E, 2 * I, H, device="cuda", dtype=torch.bfloat16,
                      generator=g) / H ** 0.5
    w2 = torch.randn(E, H, I, device="cuda", dtype=torch.bfloat16,
                     generator=g) / I ** 0.5
    logits = torch.randn(T, E, device="cuda", dtype=torch.float32, generator=g)
    topw, topi = torch.topk(torch.softmax(logits, -1), K, dim=-1)
    topw = (topw / topw.sum(-1, keepdim=True)).float()
    return x, w13, w2, topi.to(torch.int32).contiguous(), topw.contiguous()


def torch_pipeline(x, w13, w2, topi, topw):
    T, H = x.shape
    E, I2, _ = w13.shape
    I = I2 // 2
    K = topi.shape[1]
    flat = topi.flatten().long()
    order = torch.argsort(flat, stable=True)
    offs = torch.cumsum(torch.bincount(flat, minlength=E), 0).to(torch.int32)
    tok = order // K
    h = torch._grouped_mm(x[tok], w13.transpose(1, 2), offs=offs,
                          out_dtype=torch.bfloat16)
    a = F.silu(h[:, :I]) * h[:, I:]
    y = torch._grouped_mm(a, w2.transpose(1, 2), offs=offs,
                          out_dtype=torch.bfloat16)
    y = y.float() * topw.flatten()[order, None]
    out = torch.zeros(T, H, device="cuda", dtype=torch.float32)
    return out.index_add_(0, tok, y).to(torch.bfloat16)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", default="")
    ap.add_argument("--compare", action="append", default=[],
                    metavar="NAME=DIR")
    a = ap.parse_args()
    others = [tuple(c.split("=", 1)) for c in a.compare]
    moe_runtime.load_library(a.lib)
    os.makedirs(a.out, exist_ok=True)
    res = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
           "ceilings": ceilings(), "cases": []}
    c = res["ceilings"]
    print("ceilings", json.dumps(c), flush=True)
    for name, T, H, I, E, K in CASES:
        if a.cases and name not in a.cases.split(","):
            continue
        d = os.path.join(a.art, "fm_e%d_h%d_i%d_k%d" % (E, H, I, K))
        kernel = moe_runtime.Kernel.load(d)
        case = json.load(open(os.path.join(d, "case.json")))
        x, w13, w2, ids, w = make_case(T, H, I, E, K)
        out = torch.full((T, H), float("nan"), device="cuda",
                         dtype=torch.bfloat16)
        kernel.launch(x, ids, w, w13, w2, out)
        peer = torch_pipeline(x, w13, w2, ids, w)
        ref = reference(case, x, ids, w, w13, w2)
        row = {"case": name, "T": T, "H": H, "I": I, "E": E, "K": K,
               "rel_fro": rel_fro(out.float(), ref.float()),
               "calc_diff": calc_diff(out.float(), ref.float()),
               "peer_rel_fro": rel_fro(peer.float(), ref.float())}
        row["correct"] = bool(torch.isfinite(out.float()).all()) and \
            row["rel_fro"] <= 1e-2 and row["calc_diff"] <= 1e-4
        row["ours_ms"] = timed(lambda: kernel.launch(x, ids, w, w13, w2, out))
        for cname, cdir in others:
            other = moe_runtime.Kernel.load(
                os.path.join(cdir, os.path.basename(d)))
            o = torch.full_like(out, float("nan"))
            other.launch(x, ids, w, w13, w2, o)
            ok = bool(torch.isfinite(o.float()).all()) and \
                rel_fro(o.float(), ref.float()) <= 1e-2
            row[cname + "_correct"] = ok
            row[cname + "_ms"] = timed(
                lambda: other.launch(x, ids, w, w13, w2, o))
            del other, o
        row["torch_ms"] = timed(lambda: torch_pipeline(x, w13, w2, ids, w))
        flops = 6 * T * K * H * I
        touched = int(torch.unique(ids).numel())
        nbytes = touched * 3 * H * I * 2 + 2 * T * H * 2
        row["floor_ms"] = max(flops / (c["bf16_TFLOPs"] * 1e9),
                              nbytes / (c["read_GBps"] * 1e6))
        row["speedup"] = row["torch_ms"] / row["ours_ms"]
        row["vs_floor"] = row["ours_ms"] / row["floor_ms"]
        res["cases"].append(row)
        print(json.dumps(row), flush=True)
        del x, w13, w2, ids, w, out, peer, ref
        kernel.close() if hasattr(kernel, "close") else None
        torch.cuda.empty_cache()
    rows = res["cases"]
    if rows:
        prod = 1.0
        for r in rows:
            prod *= r["speedup"]
        res["geomean_speedup"] = prod ** (1.0 / len(rows))
    with open(os.path.join(a.out, "fused_moe.json"), "w") as f:
        json.dump(res, f, indent=1)
    extra = "".join(" %s ms |" % n for n, _ in others)
    lines = ["| case | T | E | K | H | I | ours ms |" + extra +
             " torch ms | floor ms | vs torch | vs floor | rel. err | correct |",
             "|---|---|---|---|---|---|---|" + "---|" * len(others) +
             "---|---|---|---|---|---|"]
    for r in rows:
        cols = "".join(" %.3f%s |" % (r[n + "_ms"],
                                      "" if r[n + "_correct"] else " (WRONG)")
                       for n, _ in others)
        lines.append("| %s | %d | %d | %d | %d | %d | %.3f |%s %.3f | %.3f | "
                     "%.2fx | %.2fx | %.1e | %s |" % (
                         r["case"], r["T"], r["E"], r["K"], r["H"], r["I"],
                         r["ours_ms"], cols, r["torch_ms"], r["floor_ms"],
                         r["speedup"], r["vs_floor"], r["rel_fro"],
                         "yes" if r["correct"] else "NO"))
    if rows:
        lines.append("\nGeometric-mean speedup over torch: %.2fx" %
                     res["geomean_speedup"])
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "fused_moe.md"), "w") as f:
        f.write(text)
    print(text)
    plot(rows, others, os.path.join(a.out, "fused_moe.png"))


def plot(rows, others, path):
    """Bar chart of the times (ours, the compared builds, torch) with the
    floor marked, if matplotlib is there."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib: %s not written" % path)
        return
    if not rows:
        return
    series = [("ours", "ours_ms")] + [(n, n + "_ms") for n, _ in others] + \
        [("torch _grouped_mm pipeline", "torch_ms")]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for j, (label, key) in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(rows))]
        ax.bar(xs, [r[key] / r["floor_ms"] for r in rows], width, label=label)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--",
               label="roofline floor")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["case"] for r in rows])
    ax.set_ylabel("time / roofline floor (lower is better)")
    ax.set_title("Fused MoE layer, bf16, H200")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("wrote", path)


if __name__ == "__main__":
    main()
