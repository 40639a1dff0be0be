#!/usr/bin/env python3
"""Benchmark: the generated grouped matmul against torch._grouped_mm.

For the two expert GEMMs (gate/up: N = 2I, K = H; down: N = H, K = I) of the
six cases of DESIGN.md section 9, on the same inputs in one process:
  * routing: T tokens, top-K distinct experts per token, uniformly random
    (seeded), rows grouped by expert;
  * ceilings measured in this run: read bandwidth (the best of four full
    reductions over 4 GiB), copy
    bandwidth (a 4 GiB clone), bf16 matmul peak (8192^3 torch.matmul);
    with fp8, also the fp8 matmul peak (8192^3 torch._scaled_mm, e4m3,
    bf16 out, fast accumulation: the better of tensorwise and rowwise
    scales);
  * roofline floor = max(FLOPs / matmul peak, bytes / read bandwidth), bytes
    = the weights of experts that got rows + the rows + the output;
  * correctness of both against a float32 reference of the same inputs
    (rel. Frobenius error and calc_diff), before timing;
  * median of 20 timed launches (CUDA events) after 3 warm-ups.
Writes grouped_gemm.json and grouped_gemm.md into --out.

--dtypes picks the kernels (default bf16):
  bf16: bf16 x and w, against torch._grouped_mm; correct if rel. Frobenius
        error < 1e-2.
  fp8:  DeepSeek-V3's block-scaled FP8 (e4m3 x with f32 scales per 1x128
        block, e4m3 w with f32 scales per 128x128 block, bf16 out; inputs
        and float32 reference as test/Integration/CUDA/run_grouped_gemm.py
        makes them), against torch._scaled_grouped_mm on the same float32
        values cast to e4m3 with rowwise scales (use_fast_accum; n/a where
        this torch cannot run it; its error is against the float32 product
        of its own operands); floor with the fp8 matmul peak and 1 byte per
        e4m3 value + the f32 scales + the bf16 output; correct if
        calc_diff <= 1e-3. GEMMs whose N or K is not a multiple of 128
        (gpt-oss-120b) are skipped.

Artifacts come from test/Integration/CUDA/make_grouped_gemm.py, one folder
per (E, N, K): gg_e<E>_n<N>_k<K>, and gg_fp8_e<E>_n<N>_k<K> (--fp8).

usage: grouped_gemm.py --lib libmoe_cuda_runtime.so --art DIR --out DIR
                       [--cases NAME,...] [--dtypes bf16,fp8]
                       [--compare NAME=DIR ...]

--compare times other builds of the same kernels (e.g. made with other
--kernel-options) on the same inputs in the same run, for before/after
measurements of an optimization: each is checked like the main one and gets
a column "NAME ms" in the table. Ours, the compared builds and torch are
timed in interleaved rounds (5 rounds of 4 launches, the order rotated each
round; the median of each's 20), so that no column gains from being timed
first.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "test", "Integration", "CUDA"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from run_grouped_gemm import (FP8_BLOCK, fp8_inputs,  # noqa: E402
                              reference_fp8)

CASES = [  # name, T, H, I, E, K
    ("dsv3-decode", 128, 7168, 2048, 256, 8),
    ("dsv3-prefill", 4096, 7168, 2048, 256, 8),
    ("dsv3-ep8-prefill", 4096, 7168, 2048, 32, 8),
    ("qwen3-30b-a3b", 4096, 2048, 768, 128, 8),
    ("mixtral-8x7b", 4096, 4096, 14336, 8, 2),
    ("gpt-oss-120b", 4096, 2880, 2880, 128, 4),
]


def timed(fn, reps=20, warm=3, after_warm_up=None):
    """The median of `reps` timings (CUDA events) of fn, after `warm` calls
    and then `after_warm_up()` if given (e.g. a barrier of all ranks)."""
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    if after_warm_up is not None:
        after_warm_up()
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


def finish(rows, out, none_found):
    """A cost bench's end: exits with `none_found` if there are no rows,
    writes them (with the GPU's name) as JSON to `out` if given, and exits
    0 only if every row is ok."""
    if not rows:
        sys.exit(none_found)
    if out:
        with open(out, "w") as f:
            json.dump(dict(gpu=torch.cuda.get_device_name(), rows=rows), f,
                      indent=1)
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


def timed_interleaved(fns, rounds=5, reps=4, warm=3):
    """The median ms of each of `fns` (name -> callable), over `rounds`
    rounds of `reps` timings (CUDA events) each, the callables taken in a
    rotated order each round, after `warm` calls of each; one callable is
    timed as timed() does."""
    names = list(fns)
    if len(names) == 1:
        return {names[0]: timed(fns[names[0]])}
    for n in names:
        for _ in range(warm):
            fns[n]()
    torch.cuda.synchronize()
    samples = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            for _ in range(reps):
                s, e = (torch.cuda.Event(enable_timing=True)
                        for _ in range(2))
                s.record()
                fns[n]()
                e.record()
                torch.cuda.synchronize()
                samples[n].append(s.elapsed_time(e))
    return {n: sorted(v)[len(v) // 2] for n, v in samples.items()}


def fp8_peak(a):
    """The fp8 matmul peak on the square bf16 matrix `a` cast to e4m3:
    torch._scaled_mm with bf16 out and fast accumulation, with tensorwise
    and with rowwise (unit) scales; the better of the two."""
    n = a.shape[0]
    a8 = a.to(torch.float8_e4m3fn)
    # _scaled_mm takes its second operand column-major.
    b8 = a.t().contiguous().to(torch.float8_e4m3fn).t()
    scales = {
        "tensorwise": (torch.ones((), device="cuda"),
                       torch.ones((), device="cuda")),
        "rowwise": (torch.ones(n, 1, device="cuda"),
                    torch.ones(1, n, device="cuda")),
    }
    ms, errors = {}, {}
    for kind, (sa, sb) in scales.items():
        try:
            ms[kind] = timed(lambda: torch._scaled_mm(
                a8, b8, sa, sb, out_dtype=torch.bfloat16,
                use_fast_accum=True), reps=10)
        except Exception as ex:  # a torch or GPU without this FP8 path
            errors[kind] = str(ex).split("\n")[0][:200]
    r = {"fp8_TFLOPs": 2 * n ** 3 / min(ms.values()) / 1e9 if ms else None,
         "fp8_TFLOPs_each": {k: 2 * n ** 3 / v / 1e9 for k, v in ms.items()}}
    if errors:
        r["fp8_errors"] = errors
    return r


def ceilings(fp8=False):
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
    r = {"read_GBps": 2 * n / best / 1e6,
         "read_GBps_each": {k: 2 * n / v / 1e6 for k, v in read_ms.items()},
         "copy_GBps": 2 * 2 * n / copy_ms / 1e6,
         "bf16_TFLOPs": 2 * 8192 ** 3 / mm_ms / 1e9}
    if fp8:
        r.update(fp8_peak(a))
    return r


def calc_diff(x, y):
    x, y = x.double(), y.double()
    d = (x * x + y * y).sum()
    return float(1 - 2 * (x * y).sum() / d) if d > 0 else 0.0


def rel(out, ref):
    return float((out.double() - ref.double()).norm() / ref.double().norm())


def reference_rowwise(xq, xs, wq, ws, offsets):
    """torch._scaled_grouped_mm's problem in float32: e4m3 x and w times
    their row scales (xs [M], ws [E, N])."""
    ref = torch.empty(xq.shape[0], wq.shape[1], dtype=torch.float32,
                      device="cuda")
    x = xq.float() * xs[:, None]
    off = offsets.tolist()
    for ex in range(wq.shape[0]):
        if off[ex + 1] > off[ex]:
            ref[off[ex]:off[ex + 1]] = x[off[ex]:off[ex + 1]] @ (
                wq[ex].float() * ws[ex][:, None]).t()
    return ref


def measure(a, compare, ceil, name, gemm, dtype, e, n, kk, offsets, m,
            active):
    """Checks and times one GEMM (ours, torch, each --compare build) in
    one dtype; returns its row."""
    fp8 = dtype == "fp8"
    art = os.path.join(a.art, "gg_%se%d_n%d_k%d" % (
        "fp8_" if fp8 else "", e, n, kk))
    ends = offsets[1:].contiguous()
    if fp8:
        xq, xs, wq, ws, (pxq, pxs, pwq, pws) = fp8_inputs(
            m, e, n, kk, None, "cuda", rowwise=True)
        args = (xq, wq, offsets, xs, ws)
        pwt = pwq.transpose(1, 2)
        peer_op = "torch._scaled_grouped_mm"

        def peer_fn():
            return torch._scaled_grouped_mm(
                pxq, pwt, pxs, pws, offs=ends, out_dtype=torch.bfloat16,
                use_fast_accum=True)
    else:
        x = (torch.rand(m, kk, device="cuda") * 2 - 1).bfloat16()
        w = ((torch.rand(e, n, kk, device="cuda") * 2 - 1) / kk ** 0.5).bfloat16()
        args = (x, w, offsets)
        wt = w.transpose(1, 2)
        peer_op = "torch._grouped_mm"

        def peer_fn():
            return torch._grouped_mm(x, wt, offs=ends,
                                     out_dtype=torch.bfloat16)
    out = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device="cuda")
    kernel = moe_runtime.Kernel.load(art)
    kernel.launch(*args, out)
    try:
        peer = peer_fn()
        torch.cuda.synchronize()
        peer_err = None
    except Exception as ex:  # e.g. a torch without this FP8 path
        peer, peer_err = None, str(ex).split("\n")[0][:200]
        print("%-17s %-7s %-4s %s: n/a: %s" % (name, gemm, dtype, peer_op,
                                               peer_err))
    torch.cuda.synchronize()
    if fp8:
        ref = reference_fp8(xq, xs, wq, ws, offsets)
        peer_ref = (reference_rowwise(pxq, pxs, pwq, pws, offsets)
                    if peer is not None else None)
    else:
        ref = torch.empty(m, n, dtype=torch.float32, device="cuda")
        off = offsets.tolist()
        for ex in range(e):
            if off[ex + 1] > off[ex]:
                ref[off[ex]:off[ex + 1]] = x[off[ex]:off[ex + 1]].float() @ w[ex].float().t()
        peer_ref = ref

    def correct(o):
        if not bool(torch.isfinite(o.float()).all()):
            return False
        return calc_diff(o, ref) <= 1e-3 if fp8 else rel(o, ref) < 1e-2

    fro = rel(out, ref)
    fro_peer = rel(peer, peer_ref) if peer is not None else None
    cd = calc_diff(out, ref)
    ok = correct(out)
    # Ours, each compared build (checked first) and torch, timed in
    # interleaved rounds: no column gains from its place in the order.
    fns = {"ours": lambda: kernel.launch(*args, out)}
    others = []
    for cname, cdir in compare:
        other = moe_runtime.Kernel.load(
            os.path.join(cdir, os.path.basename(art)))
        others.append(other)
        out.fill_(float("nan"))
        other.launch(*args, out)
        torch.cuda.synchronize()
        ok = ok and correct(out)
        fns[cname] = lambda other=other: other.launch(*args, out)
    if peer is not None:
        fns["torch"] = peer_fn
    ms = timed_interleaved(fns)
    for other in others:
        other.close()
    ours_ms = ms["ours"]
    compare_ms = {cname: ms[cname] for cname, _ in compare}
    peer_ms = ms.get("torch")
    flops = 2.0 * m * n * kk
    if fp8:
        kb, nb = kk // FP8_BLOCK, n // FP8_BLOCK
        bytes_ = (active * (n * kk + nb * kb * 4) + m * (kk + kb * 4) +
                  m * n * 2)
        peak = ceil.get("fp8_TFLOPs")
    else:
        bytes_ = active * n * kk * 2 + m * kk * 2 + m * n * 2
        peak = ceil["bf16_TFLOPs"]
    floor_ms = max(flops / peak / 1e9 if peak else 0.0,
                   bytes_ / ceil["read_GBps"] / 1e6)
    r = dict(case=name, gemm=gemm, dtype=dtype, E=e, N=n, K=kk, rows=m,
             kernel=kernel.select(m),
             active_experts=active, ours_ms=ours_ms, torch_ms=peer_ms,
             torch_op=peer_op, floor_ms=floor_ms,
             speedup=peer_ms / ours_ms if peer_ms is not None else None,
             vs_floor=ours_ms / floor_ms,
             ours_TFLOPs=flops / ours_ms / 1e9,
             ours_GBps=bytes_ / ours_ms / 1e6,
             rel_fro=fro, rel_fro_torch=fro_peer, calc_diff=cd,
             correct=ok, compare_ms=compare_ms)
    if peer_err:
        r["torch_error"] = peer_err
    print("%-17s %-7s %-4s %6.3f ms  torch %s  floor %6.3f ms  "
          "%s torch  %.2fx floor  err %.1e %s%s" % (
              name, gemm, dtype, ours_ms,
              "%6.3f ms" % peer_ms if peer_ms is not None else "   n/a   ",
              floor_ms,
              "%.2fx" % r["speedup"] if peer_ms is not None else "n/a",
              r["vs_floor"], fro, "ok" if ok else "WRONG",
              "".join("  %s %.3f ms" % kv for kv in compare_ms.items())))
    kernel.close()
    return r


def fp8_text(ceil):
    if "fp8_TFLOPs" not in ceil:
        return ""
    if ceil["fp8_TFLOPs"] is None:
        return ", fp8 matmul n/a"
    return ", fp8 matmul %.0f TFLOP/s" % ceil["fp8_TFLOPs"]


def routed_offsets(t, e, k):
    """The routing of the benchmark: each of t tokens picks the top k of e
    uniformly random scores. Returns the expert offsets [e + 1] (i32, on
    the GPU) and the per-expert row counts."""
    ids = torch.rand(t, e, device="cuda").topk(k, dim=1).indices.flatten()
    counts = torch.bincount(ids, minlength=e).to(torch.int32)
    offsets = torch.zeros(e + 1, dtype=torch.int32, device="cuda")
    offsets[1:] = counts.cumsum(0)
    return offsets, counts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", required=True)
    p.add_argument("--art", required=True)
    p.add_argument("--out", default=os.environ.get("OUT", "."))
    p.add_argument("--cases", default="",
                   help="comma-separated case names to run (default: all)")
    p.add_argument("--dtypes", default="bf16",
                   help="comma-separated kernels to run: bf16 "
                        "(gg_e<E>_n<N>_k<K>), fp8 (gg_fp8_e<E>_n<N>_k<K>); "
                        "default bf16")
    p.add_argument("--compare", action="append", default=[],
                   metavar="NAME=DIR", help="another artifact folder to time")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    compare = [c.split("=", 1) for c in a.compare]
    if any(len(c) != 2 or not c[0] for c in compare):
        p.error("--compare takes NAME=DIR")
    dtypes = [d for d in a.dtypes.split(",") if d]
    if not dtypes or any(d not in ("bf16", "fp8") for d in dtypes):
        p.error("--dtypes takes bf16, fp8 or bf16,fp8")
    moe_runtime.load_library(a.lib)
    torch.manual_seed(0)
    ceil = ceilings(fp8="fp8" in dtypes)
    print("ceilings: read %.0f GB/s, copy %.0f GB/s, bf16 matmul %.0f TFLOP/s%s"
          % (ceil["read_GBps"], ceil["copy_GBps"], ceil["bf16_TFLOPs"],
             fp8_text(ceil)))
    rows = []
    only = [c for c in a.cases.split(",") if c]
    for name, t, h, i, e, k in CASES:
        if only and name not in only:
            continue
        offsets, counts = routed_offsets(t, e, k)
        m = int(counts.sum())
        active = int((counts > 0).sum())
        for gemm, n, kk in (("gate/up", 2 * i, h), ("down", h, i)):
            for dtype in dtypes:
                if dtype == "fp8" and (n % FP8_BLOCK or kk % FP8_BLOCK):
                    print("%-17s %-7s fp8  skipped: N = %d and K = %d must be "
                          "multiples of %d" % (name, gemm, n, kk, FP8_BLOCK))
                    continue
                rows.append(measure(a, compare, ceil, name, gemm, dtype, e,
                                    n, kk, offsets, m, active))
                torch.cuda.empty_cache()
    meta = {"date": time.strftime("%Y-%m-%d"),
            "device": torch.cuda.get_device_name(),
            "torch": torch.__version__, "ceilings": ceil}
    with open(os.path.join(a.out, "grouped_gemm.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)

    def num(v, fmt):
        return "n/a" if v is None else fmt % v

    lines = ["Ceilings measured in this run: read %.0f GB/s, copy %.0f GB/s, "
             "bf16 matmul %.0f TFLOP/s%s (%s, torch %s)." % (
                 ceil["read_GBps"], ceil["copy_GBps"], ceil["bf16_TFLOPs"],
                 fp8_text(ceil), meta["device"], meta["torch"]), "",
             "torch: torch._grouped_mm for bf16, torch._scaled_grouped_mm "
             "(rowwise scales) for fp8.", "",
             "| case | GEMM | dtype | E | N | K | rows | kernel run | ours ms | torch ms | floor ms | vs torch | vs floor | ours TFLOP/s | rel. err (ours / torch) | correct |"
             + "".join(" %s ms |" % c[0] for c in compare),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
             + "---|" * len(compare)]
    for r in rows:
        lines.append("| %s | %s | %s | %d | %d | %d | %d | %s | %.3f | %s | %.3f | %s | %.2fx | %.0f | %.1e / %s | %s |" % (
            r["case"], r["gemm"], r["dtype"], r["E"], r["N"], r["K"], r["rows"],
            r["kernel"], r["ours_ms"], num(r["torch_ms"], "%.3f"),
            r["floor_ms"], num(r["speedup"], "%.2fx"),
            r["vs_floor"], r["ours_TFLOPs"], r["rel_fro"],
            num(r["rel_fro_torch"], "%.1e"),
            "yes" if r["correct"] else "NO")
            + "".join(" %.3f |" % r["compare_ms"][c[0]] for c in compare))
    with open(os.path.join(a.out, "grouped_gemm.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["correct"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
