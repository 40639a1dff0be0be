#!/usr/bin/env python3
"""Runs generated grouped-matmul kernels on the GPU and checks them.

For each artifact folder made by make_grouped_gemm.py (gg_e<E>_n<N>_k<K>),
launches the kernel through python/moe_runtime on random bf16 inputs for
several per-expert token counts (0, 1, 63, 65, not multiples of the tile,
all rows on one expert), with the output poisoned (NaN) first, and compares
the rows of every expert with a float32 torch reference of the same bf16
inputs: relative Frobenius error and DeepGEMM's calc_diff, both reported.
Rows past offsets[E] must keep the poison. Then times the big shapes
against torch._grouped_mm on the same inputs. Prints a table; exit status 0
only if every check passed.

usage: run_grouped_gemm.py --lib libmoe_cuda_runtime.so --art DIR [--out DIR]
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402

ROWS = []


def calc_diff(x, y):
    x, y = x.double(), y.double()
    denom = (x * x + y * y).sum()
    return float(1 - 2 * (x * y).sum() / denom) if denom > 0 else 0.0


def rel_fro(out, ref):
    n = ref.double().norm()
    return float((out.double() - ref.double()).norm() / n) if n > 0 else 0.0


def reference(x, w, offsets):
    ref = torch.zeros(x.shape[0], w.shape[1], dtype=torch.float32,
                      device=x.device)
    off = offsets.tolist()
    for e in range(w.shape[0]):
        a, b = off[e], off[e + 1]
        if b > a:
            ref[a:b] = x[a:b].float() @ w[e].float().t()
    return ref


def check(kernel, e, n, k, counts, label, gen):
    dev = torch.device("cuda")
    m = sum(counts)
    tail = 17  # rows past offsets[E]: must stay poisoned
    rows = max(m + tail, 1)
    x = (torch.rand(rows, k, generator=gen, device=dev) * 2 - 1).bfloat16()
    w = ((torch.rand(e, n, k, generator=gen, device=dev) * 2 - 1) /
         k ** 0.5).bfloat16()
    offsets = torch.zeros(e + 1, dtype=torch.int32)
    offsets[1:] = torch.tensor(counts, dtype=torch.int32).cumsum(0)
    offsets = offsets.to(dev)
    out = torch.full((rows, n), float("nan"), dtype=torch.bfloat16,
                     device=dev)
    kernel.launch(x, w, offsets, out)
    torch.cuda.synchronize()
    ref = reference(x, w, offsets)[:m]
    got = out[:m].float()
    finite = bool(torch.isfinite(got).all()) if m else True
    poison = bool(torch.isnan(out[m:].float()).all())
    fro, cd = rel_fro(got, ref), calc_diff(got, ref)
    ok = finite and poison and fro < 1e-2 and cd < 1e-4
    # Which kernel of the artifact ran (a variant is chosen by T).
    ran = kernel.select(rows)
    variant = ran[len(kernel.name):] if ran != kernel.name else ""
    ROWS.append(("E=%d N=%d K=%d %s%s" % (e, n, k, label,
                                          " [%s]" % variant if variant else ""),
                 m, fro, cd, finite, poison, ok))
    print("%s %s" % ("PASS" if ok else "FAIL", ROWS[-1][0]), flush=True)
    return ok


def bench(kernel, e, n, k, m, gen):
    dev = torch.device("cuda")
    counts = torch.full((e,), m // e, dtype=torch.int32)
    counts[: m % e] += 1
    x = (torch.rand(m, k, generator=gen, device=dev) * 2 - 1).bfloat16()
    w = ((torch.rand(e, n, k, generator=gen, device=dev) * 2 - 1) /
         k ** 0.5).bfloat16()
    offsets = torch.zeros(e + 1, dtype=torch.int32)
    offsets[1:] = counts.cumsum(0)
    offsets = offsets.to(dev)
    out = torch.empty(m, n, dtype=torch.bfloat16, device=dev)
    offs_end = offsets[1:].contiguous()
    wt = w.transpose(1, 2)

    def ours():
        kernel.launch(x, w, offsets, out)

    def peer():
        torch._grouped_mm(x, wt, offs=offs_end, out_dtype=torch.bfloat16)

    res = {}
    for name, fn in (("ours", ours), ("torch._grouped_mm", peer)):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(20):
            s, t = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
                enable_timing=True)
            s.record()
            fn()
            t.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(t))
        times.sort()
        res[name] = times[len(times) // 2]
    flops = 2.0 * m * n * k
    return res, flops


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", required=True)
    p.add_argument("--art", required=True)
    p.add_argument("--out", default=os.environ.get("OUT"))
    p.add_argument("--filter", default="",
                   help="comma-separated prefixes of the artifact folders to run")
    p.add_argument("--no-bench", action="store_true")
    a = p.parse_args()
    prefixes = [f for f in a.filter.split(",") if f]
    gen = torch.Generator(device="cuda")
    gen.manual_seed(1234)
    moe_runtime.load_library(a.lib)
    all_ok = True
    bench_rows = []
    for name in sorted(os.listdir(a.art)):
        d = os.path.join(a.art, name)
        if not os.path.exists(os.path.join(d, "manifest.json")):
            continue
        if prefixes and not any(name.startswith(f) for f in prefixes):
            continue
        e, n, k = (int(v[1:]) for v in name.split("_")[1:])
        kernel = moe_runtime.Kernel.load(d)
        cases = []
        if e == 1:
            cases = [([1], "T=1"), ([64], "T=64"), ([200], "T=200"),
                     ([300], "T=300: a row-block pair and a half-empty one"),
                     ([1000], "T=1000")]
        elif e == 8:
            cases = [([0, 1, 63, 65, 128, 129, 7, 300], "0,1,63,65,..."),
                     ([0] * 7 + [333], "all on the last expert"),
                     ([1000, 0, 0, 0, 0, 0, 0, 0], "all on expert 0"),
                     ([1300, 0, 17, 0, 0, 0, 0, 1100],
                      "11 and 9 row blocks: a full group of 8 and a rest")]
        else:
            g = torch.Generator().manual_seed(e * 7 + n)
            c = torch.randint(0, 17, (e,), generator=g)
            c[::5] = 0
            big = c.clone()
            big[1] = 2100  # 17 row blocks: two groups of 8 and a rest
            mid = torch.randint(50, 150, (e,), generator=g)
            mid[::7] = 0
            # 192 rows per expert and more on average (the clustered
            # variant): 1, 128 and 257 rows (a pair whose second row block
            # is empty, a full pair, a pair and a lone block).
            many = torch.randint(180, 420, (e,), generator=g)
            many[::7] = 0
            many[1], many[2], many[3] = 1, 128, 257
            cases = [(c.tolist(), "random 0..16 per expert, some 0"),
                     (mid.tolist(), "random 50..149 per expert, some 0"),
                     (many.tolist(), "random 180..419 per expert, some 0"),
                     (big.tolist(), "one expert with 17 row blocks"),
                     ([0] * (e - 1) + [300], "all on one expert")]
        for counts, label in cases:
            try:
                all_ok &= check(kernel, e, n, k, counts, label, gen)
            except Exception as ex:  # a failed launch is a failed row
                ROWS.append(("E=%d N=%d K=%d %s" % (e, n, k, label),
                             sum(counts), float("nan"), float("nan"), False,
                             False, False))
                print("error:", ex)
                all_ok = False
        if e >= 256 and not a.no_bench:
            res, flops = bench(kernel, e, n, k, 2048, gen)
            bench_rows.append((name, 2048, res, flops))
        kernel.close()

    lines = ["| case | rows | rel. Frobenius | calc_diff | finite | poison kept | result |",
             "|---|---|---|---|---|---|---|"]
    for r in ROWS:
        lines.append("| %s | %d | %.2e | %.2e | %s | %s | %s |" % (
            r[0], r[1], r[2], r[3], r[4], r[5], "PASS" if r[6] else "FAIL"))
    lines.append("")
    lines.append("| shape | rows | ours ms | torch._grouped_mm ms | ours TFLOP/s | torch TFLOP/s |")
    lines.append("|---|---|---|---|---|---|")
    for name, m, res, flops in bench_rows:
        lines.append("| %s | %d | %.4f | %.4f | %.1f | %.1f |" % (
            name, m, res["ours"], res["torch._grouped_mm"],
            flops / res["ours"] / 1e9, flops / res["torch._grouped_mm"] / 1e9))
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(os.path.join(a.out, "grouped_gemm.md"), "w") as f:
            f.write(text + "\n")
    print("grouped gemm: %d passed, %d failed" % (
        sum(r[6] for r in ROWS), sum(not r[6] for r in ROWS)))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
