#!/usr/bin/env python3
"""Fills the git-ignored peers folder of bench/triton_peers.py from a vLLM
source tree (a git checkout, or an unpacked wheel or sdist): never commit
what it writes.

  DIR/vllm/fused_moe_kernel.py  the @triton.jit functions fused_moe_kernel
      and write_zeros_to_output, cut verbatim out of
      <vllm>/model_executor/layers/fused_moe/fused_moe.py, after a header
      naming the file and --commit, with `import triton` and
      `import triton.language as tl` as their only imports;
  DIR/vllm/configs/             vLLM's bf16 tuned configs for the H200
      (configs/E=*,N=*,device_name=NVIDIA_H200.json, no dtype suffix).

usage: fetch_peers.py --vllm <vllm package folder> --out DIR [--commit SHA]
(--vllm is the folder that holds model_executor/, e.g. a checkout's vllm/.)
Needs neither torch nor triton.
"""

import argparse
import ast
import os
import shutil
import sys

FUNCTIONS = ("write_zeros_to_output", "fused_moe_kernel")


def cut_functions(src, names):
    """The source of each top-level function in names, decorators included,
    in the order of src."""
    tree = ast.parse(src)
    lines = src.splitlines(keepends=True)
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            first = min([node.lineno] +
                        [d.lineno for d in node.decorator_list]) - 1
            found[node.name] = (first, "".join(lines[first:node.end_lineno]))
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError("not found at top level: %s" % ", ".join(missing))
    return [text for _, text in sorted(found.values())]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vllm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--commit", default="unknown")
    a = ap.parse_args()
    moe = os.path.join(a.vllm, "model_executor", "layers", "fused_moe")
    src_path = os.path.join(moe, "fused_moe.py")
    if not os.path.exists(src_path):
        sys.exit("%s: no such file (--vllm names the folder holding "
                 "model_executor/)" % src_path)
    with open(src_path) as f:
        src = f.read()
    try:
        parts = cut_functions(src, FUNCTIONS)
    except ValueError as ex:
        sys.exit("%s: %s" % (src_path, ex))
    out = os.path.join(a.out, "vllm")
    os.makedirs(os.path.join(out, "configs"), exist_ok=True)
    header = (
        "# Copied verbatim from vllm-project/vllm by bench/fetch_peers.py\n"
        "#   path:   vllm/model_executor/layers/fused_moe/fused_moe.py\n"
        "#   commit: %s\n"
        "# SPDX-License-Identifier: Apache-2.0\n"
        "# SPDX-FileCopyrightText: Copyright contributors to the vLLM "
        "project\n"
        "import triton\n"
        "import triton.language as tl\n" % a.commit)
    text = header + "".join("\n\n" + p for p in parts)
    ast.parse(text)
    with open(os.path.join(out, "fused_moe_kernel.py"), "w") as f:
        f.write(text)
    configs = sorted(
        n for n in os.listdir(os.path.join(moe, "configs"))
        if n.endswith(",device_name=NVIDIA_H200.json")) \
        if os.path.isdir(os.path.join(moe, "configs")) else []
    for n in configs:
        shutil.copyfile(os.path.join(moe, "configs", n),
                        os.path.join(out, "configs", n))
    print("wrote %s (%s) and %d H200 configs" % (
        os.path.join(out, "fused_moe_kernel.py"), ", ".join(FUNCTIONS),
        len(configs)))


if __name__ == "__main__":
    main()
