#!/usr/bin/env python3
"""How much of a fused layer's timed milliseconds is the launch, not the
kernel.

The benchmarks time one launch between two CUDA events and synchronize
after each (bench/fused_moe.py's timed(), bench/fp4_vs_fp8.py): the GPU
idles from the first event until the host has validated the arguments,
encoded the tensor maps and queued the workspace memset and the kernel, so
that host time is in the measurement. For each case and dtype this prints,
in microseconds per launch:
  synced   one launch between the events, synchronized (as the benchmarks);
  stream   --launches launches queued back to back between the events;
  graph    the same launches captured in one CUDA graph and replayed;
  host     the host's time in Kernel.launch (perf_counter, nothing waited),
           and of its parts: args (the Python TensorArg array),
           config (the Python launch config), C (moeRtLaunch itself:
           validation, tensor maps, memset and launch calls);
the medians of --rounds rounds. `graph` and `stream` (when the host keeps
ahead of the GPU) are the GPU's time per layer: the memset and the kernel.

usage: launch_overhead.py --lib libmoe_cuda_runtime.so --art DIR
           [--cases qwen3-30b-a3b-decode,dsv3-decode] [--dtypes fp8,...]
           [--launches 20] [--rounds 5] [--out DIR]
(DIR holds make_fused_moe.py's builds of the cases' shapes for each dtype:
bf16, --fp8, --fp8-mxfp4.)
"""

import argparse
import ctypes
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "Integration", "CUDA"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from fused_moe import (DECODE_CASES, artifact, layer_weights,  # noqa: E402
                       make_case)
from grouped_gemm import CASES  # noqa: E402


def per_launch_us(fn, launches):
    """Microseconds per call of `fn` over `launches` calls queued between
    two events."""
    s, e = (torch.cuda.Event(enable_timing=True) for _ in range(2))
    s.record()
    for _ in range(launches):
        fn()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) * 1e3 / launches


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--cases", default="qwen3-30b-a3b-decode,dsv3-decode")
    ap.add_argument("--dtypes", default="fp8,fp8-mxfp4")
    ap.add_argument("--launches", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    moe_runtime.load_library(a.lib)
    shapes = {c[0]: c[1:] for c in CASES + DECODE_CASES}
    rows = []
    print("%-22s %-10s %9s %9s %9s %9s %9s %9s %9s" % (
        "case", "dtype", "synced", "stream", "graph", "host", "args",
        "config", "C"))
    for name in a.cases.split(","):
        T, H, I, E, K = shapes[name]
        x, w13, w2, ids, w = make_case(T, H, I, E, K)
        for dtype in a.dtypes.split(","):
            weights = layer_weights(dtype, w13, w2)
            kernel = moe_runtime.Kernel.load(
                artifact(a.art, E, H, I, K, dtype))
            out = torch.empty(T, H, device="cuda", dtype=torch.bfloat16)
            ws = torch.zeros(kernel.workspace_bytes, dtype=torch.uint8,
                             device="cuda")

            def launch():
                kernel.launch(x, ids, w, *weights, out, workspace=ws)

            for _ in range(3):
                launch()
            torch.cuda.synchronize()
            # Captured on a side stream, as torch.cuda.graph does.
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                for _ in range(a.launches):
                    launch()
            graph.replay()
            torch.cuda.synchronize()
            got = {"synced": [], "stream": [], "graph": [], "host": [],
                   "args": [], "config": [], "C": []}
            tensors = (x, ids, w) + tuple(weights) + (out,)
            stream = torch.cuda.current_stream().cuda_stream
            for _ in range(a.rounds):
                got["synced"].append(statistics.median(
                    per_launch_us(launch, 1) for _ in range(a.launches)))
                got["stream"].append(per_launch_us(launch, a.launches))
                got["graph"].append(
                    per_launch_us(graph.replay, 1) / a.launches)
                t0 = time.perf_counter()
                for _ in range(a.launches):
                    launch()
                got["host"].append(
                    (time.perf_counter() - t0) * 1e6 / a.launches)
                torch.cuda.synchronize()
                # The parts, each timed over the same number of calls.
                t0 = time.perf_counter()
                for _ in range(a.launches):
                    array, n, _ = kernel._args(tensors, {})
                got["args"].append(
                    (time.perf_counter() - t0) * 1e6 / a.launches)
                t0 = time.perf_counter()
                for _ in range(a.launches):
                    cfg, keep = kernel._config(None, ws, (), 0, 0)
                got["config"].append(
                    (time.perf_counter() - t0) * 1e6 / a.launches)
                t0 = time.perf_counter()
                for _ in range(a.launches):
                    kernel._lib.moeRtLaunch(kernel._handle, array, n,
                                            ctypes.byref(cfg),
                                            ctypes.c_void_p(stream))
                got["C"].append(
                    (time.perf_counter() - t0) * 1e6 / a.launches)
                torch.cuda.synchronize()
            row = {"case": name, "dtype": dtype, "launches": a.launches}
            row.update({k: statistics.median(v) for k, v in got.items()})
            rows.append(row)
            print("%-22s %-10s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f" % (
                name, dtype, row["synced"], row["stream"], row["graph"],
                row["host"], row["args"], row["config"], row["C"]),
                flush=True)
            del graph, kernel, ws, out, weights
            torch.cuda.empty_cache()
        del x, w13, w2, ids, w
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "launch_overhead.json"), "w") as f:
            json.dump({"gpu": torch.cuda.get_device_name(0),
                       "torch": torch.__version__, "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
