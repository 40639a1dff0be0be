#!/usr/bin/env python3
"""Parses a manifest with the runtime (no GPU) and prints a summary line.

usage: check_manifest.py <libmoe_cuda_runtime.so> <manifest.json>
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "python"))
import moe_runtime  # noqa: E402

lib, path = sys.argv[1], sys.argv[2]
moe_runtime.load_library(lib)
text = open(path).read()
kernel = moe_runtime.Kernel.unloaded(text)
m = json.loads(text)
ins = sum(t.get("role", "input") == "input" for t in m["tensors"])
outs = sum(t.get("role") == "output" for t in m["tensors"])
print("kernel %s: %d params, %d tensors in, %d out" % (
    kernel.name, len(m["params"]), ins, outs))
for v in m.get("variants", []):
    lo, hi = v["min_tokens"], v.get("max_tokens")
    for t in [lo - 1, lo] + ([hi - 1, hi] if hi is not None else []):
        print("T = %d runs %s" % (t, kernel.select(t)))
kernel.close()
