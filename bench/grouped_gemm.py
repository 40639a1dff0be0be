#!/usr/bin/env python3
"""Benchmark: the generated grouped matmul against torch._grouped_mm.

For the two expert GEMMs (gate/up: N = 2I, K = H; down: N = H, K = I) of the
six cases of DESIGN.md section 9, on the same inputs in one process:
  * routing: T tokens, top-K distinct experts per token, uniformly random
    (seeded), rows grouped by expert;
  * ceilings measured in this run: read bandwidth (the best of four full
    reductions over 4 GiB), copy
    bandwidth (a 4 GiB clone), bf16 matmul peak (8192^3 torch.matmul);
  * roofline floor = max(FLOPs / matmul peak, bytes / read bandwidth), bytes
    = the weights of experts that got rows + the rows + the output;
  * correctness of both against a float32 reference of the same inputs
    (rel. Frobenius error and calc_diff), before timing;
  * median of 20 timed launches (CUDA events) after 3 warm-ups.
Writes grouped_gemm.json and grouped_gemm.md into --out.

Artifacts come from test/Integration/CUDA/make_grouped_gemm.py, one folder
per (E, N, K): gg_e<E>_n<N>_k<K>.

usage: grouped_gemm.py --lib libmoe_cuda_runtime.so --art DIR --out DIR
                       [--compare NAME=DIR ...]

--compare times other builds of the same kernels (e.g. made with other
--kernel-options) on the same inputs in the same run, for before/after
measurements of an optimization: each is checked like the main one and gets
a column "NAME ms" in the table.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402

CASES = [  # name, T, H, I, E, K
    ("dsv3-decode", 128, 7168, 2048, 256, 8),
    ("dsv3-prefill", 4096, 7168, 2048, 256, 8),
    ("dsv3-ep8-prefill", 4096, 7168, 2048, 32, 8),
    ("qwen3-30b-a3b", 4096, 2048, 768, 128, 8),
    ("mixtral-8x7b", 4096, 4096, 14336, 8, 2),
    ("gpt-oss-120b", 4096, 2880, 2880, 128, 4),
]


def timed(fn, reps=20, warm=3):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        s, e = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        ts.append(s.elapsed_time(e))
    ts.sort()
    return ts[len(ts) // 2]


def ceilings():
    n = 2 << 30  # 2 Gi bf16 = 4 GiB
    buf = torch.empty(n, dtype=torch.bfloat16, device="cuda").uniform_()
    # Read bandwidth: the best of several full reductions over the same
    # bytes (one reduction alone understates what a streaming kernel gets).
    readers = {"sum bf16": lambda: buf.sum(),
               "sum f32 view": lambda: buf.view(torch.float32).sum(),
               "amax i32 view": lambda: buf.view(torch.int32).amax(),
               "sum f64 view": lambda: buf.view(torch.float64).sum()}
    read_ms = {name: timed(fn, reps=10) for name, fn in readers.items()}
    copy_ms = timed(lambda: buf.clone(), reps=10)
    del buf
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    mm_ms = timed(lambda: a @ a, reps=10)
    best = min(read_ms.values())
    return {"read_GBps": 2 * n / best / 1e6,
            "read_GBps_each": {k: 2 * n / v / 1e6 for k, v in read_ms.items()},
            "copy_GBps": 2 * 2 * n / copy_ms / 1e6,
            "bf16_TFLOPs": 2 * 8192 ** 3 / mm_ms / 1e9}


def calc_diff(x, y):
    x, y = x.double(), y.double()
    d = (x * x + y * y).sum()
    return float(1 - 2 * (x * y).sum() / d) if d > 0 else 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", required=True)
    p.add_argument("--art", required=True)
    p.add_argument("--out", default=os.environ.get("OUT", "."))
    p.add_argument("--cases", default="",
                   help="comma-separated case names to run (default: all)")
    p.add_argument("--compare", action="append", default=[],
                   metavar="NAME=DIR", help="another artifact folder to time")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    compare = [c.split("=", 1) for c in a.compare]
    if any(len(c) != 2 or not c[0] for c in compare):
        p.error("--compare takes NAME=DIR")
    moe_runtime.load_library(a.lib)
    torch.manual_seed(0)
    ceil = ceilings()
    print("ceilings: read %.0f GB/s, copy %.0f GB/s, bf16 matmul %.0f TFLOP/s"
          % (ceil["read_GBps"], ceil["copy_GBps"], ceil["bf16_TFLOPs"]))
    rows = []
    only = [c for c in a.cases.split(",") if c]
    for name, t, h, i, e, k in CASES:
        if only and name not in only:
            continue
        scores = torch.rand(t, e, device="cuda")
        ids = scores.topk(k, dim=1).indices.flatten()
        counts = torch.bincount(ids, minlength=e).to(torch.int32)
        m = int(counts.sum())
        offsets = torch.zeros(e + 1, dtype=torch.int32, device="cuda")
        offsets[1:] = counts.cumsum(0)
        active = int((counts > 0).sum())
        for gemm, n, kk in (("gate/up", 2 * i, h), ("down", h, i)):
            art = os.path.join(a.art, "gg_e%d_n%d_k%d" % (e, n, kk))
            x = (torch.rand(m, kk, device="cuda") * 2 - 1).bfloat16()
            w = ((torch.rand(e, n, kk, device="cuda") * 2 - 1) / kk ** 0.5).bfloat16()
            out = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device="cuda")
            kernel = moe_runtime.Kernel.load(art)
            kernel.launch(x, w, offsets, out)
            wt = w.transpose(1, 2)
            ends = offsets[1:].contiguous()
            peer = torch._grouped_mm(x, wt, offs=ends, out_dtype=torch.bfloat16)
            torch.cuda.synchronize()
            ref = torch.empty(m, n, dtype=torch.float32, device="cuda")
            off = offsets.tolist()
            for ex in range(e):
                if off[ex + 1] > off[ex]:
                    ref[off[ex]:off[ex + 1]] = x[off[ex]:off[ex + 1]].float() @ w[ex].float().t()
            fro = float((out.double() - ref.double()).norm() / ref.double().norm())
            fro_peer = float((peer.double() - ref.double()).norm() / ref.double().norm())
            cd = calc_diff(out, ref)
            ok = bool(torch.isfinite(out.float()).all()) and fro < 1e-2
            ours_ms = timed(lambda: kernel.launch(x, w, offsets, out))
            compare_ms = {}
            for cname, cdir in compare:
                other = moe_runtime.Kernel.load(
                    os.path.join(cdir, os.path.basename(art)))
                out.fill_(float("nan"))
                other.launch(x, w, offsets, out)
                torch.cuda.synchronize()
                cfro = float((out.double() - ref.double()).norm() / ref.double().norm())
                ok = ok and bool(torch.isfinite(out.float()).all()) and cfro < 1e-2
                compare_ms[cname] = timed(lambda: other.launch(x, w, offsets, out))
                other.close()
            peer_ms = timed(lambda: torch._grouped_mm(x, wt, offs=ends, out_dtype=torch.bfloat16))
            flops = 2.0 * m * n * kk
            bytes_ = active * n * kk * 2 + m * kk * 2 + m * n * 2
            floor_ms = max(flops / ceil["bf16_TFLOPs"] / 1e9,
                           bytes_ / ceil["read_GBps"] / 1e6)
            r = dict(case=name, gemm=gemm, E=e, N=n, K=kk, rows=m,
                     kernel=kernel.select(m),
                     active_experts=active, ours_ms=ours_ms, torch_ms=peer_ms,
                     floor_ms=floor_ms, speedup=peer_ms / ours_ms,
                     vs_floor=ours_ms / floor_ms,
                     ours_TFLOPs=flops / ours_ms / 1e9,
                     ours_GBps=bytes_ / ours_ms / 1e6,
                     rel_fro=fro, rel_fro_torch=fro_peer, calc_diff=cd,
                     correct=ok, compare_ms=compare_ms)
            rows.append(r)
            print("%-17s %-7s %6.3f ms  torch %6.3f ms  floor %6.3f ms  "
                  "%.2fx torch  %.2fx floor  err %.1e %s%s" % (
                      name, gemm, ours_ms, peer_ms, floor_ms, r["speedup"],
                      r["vs_floor"], fro, "ok" if ok else "WRONG",
                      "".join("  %s %.3f ms" % kv for kv in compare_ms.items())))
            kernel.close()
            del x, w, out, ref, peer
            torch.cuda.empty_cache()
    meta = {"date": time.strftime("%Y-%m-%d"),
            "device": torch.cuda.get_device_name(),
            "torch": torch.__version__, "ceilings": ceil}
    with open(os.path.join(a.out, "grouped_gemm.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    lines = ["Ceilings measured in this run: read %.0f GB/s, copy %.0f GB/s, "
             "bf16 matmul %.0f TFLOP/s (%s, torch %s)." % (
                 ceil["read_GBps"], ceil["copy_GBps"], ceil["bf16_TFLOPs"],
                 meta["device"], meta["torch"]), "",
             "| case | GEMM | E | N | K | rows | kernel run | ours ms | torch._grouped_mm ms | floor ms | vs torch | vs floor | ours TFLOP/s | rel. err (ours / torch) | correct |"
             + "".join(" %s ms |" % c[0] for c in compare),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
             + "---|" * len(compare)]
    for r in rows:
        lines.append("| %s | %s | %d | %d | %d | %d | %s | %.3f | %.3f | %.3f | %.2fx | %.2fx | %.0f | %.1e / %.1e | %s |" % (
            r["case"], r["gemm"], r["E"], r["N"], r["K"], r["rows"],
            r["kernel"], r["ours_ms"], r["torch_ms"], r["floor_ms"], r["speedup"],
            r["vs_floor"], r["ours_TFLOPs"], r["rel_fro"], r["rel_fro_torch"],
            "yes" if r["correct"] else "NO")
            + "".join(" %.3f |" % r["compare_ms"][c[0]] for c in compare))
    with open(os.path.join(a.out, "grouped_gemm.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["correct"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
