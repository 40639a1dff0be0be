#!/usr/bin/env python3
"""Fills the git-ignored peers folder of bench/triton_peers.py from a vLLM
source tree (a git checkout, or an unpacked wheel or sdist) and from a
Triton repository: never commit what it writes.

  DIR/vllm/fused_moe_kernel.py  the @triton.jit functions fused_moe_kernel
      and write_zeros_to_output, cut verbatim out of
      <vllm>/model_executor/layers/fused_moe/fused_moe.py, after a header
      naming the file and --commit, with `import triton` and
      `import triton.language as tl` as their only imports;
  DIR/vllm/configs/             vLLM's bf16 tuned configs for the H200
      (configs/E=*,N=*,device_name=NVIDIA_H200.json, no dtype suffix);
  DIR/triton_kernels/triton_kernels/  the `triton_kernels` package of
      triton-lang/triton (python/triton_kernels/triton_kernels/, every
      file as it is at --triton-ref), with DIR/triton_kernels/LICENSE
      (the repository's) and DIR/triton_kernels/SOURCE naming the ref, the
      commit and its date; bench/triton_peers.py puts DIR/triton_kernels
      on sys.path.

usage: fetch_peers.py --out DIR
                      [--vllm <vllm package folder> [--commit SHA]]
                      [--triton <triton checkout or git dir>
                       [--triton-ref REF]]
(--vllm is the folder that holds model_executor/, e.g. a checkout's vllm/.
--triton is a Triton checkout or a bare git directory: with --triton-ref
(a tag, branch or commit; e.g. v3.6.0, the tag of the GPU machines'
triton) the package is taken out of that commit with `git archive`; without
it, a checkout's files are copied as they are on disk (the commit named is
the checkout's HEAD, modified or not), and a bare directory gives HEAD.)
Needs neither torch nor triton; --triton needs git.
"""

import argparse
import ast
import io
import os
import shutil
import subprocess
import sys
import tarfile

FUNCTIONS = ("write_zeros_to_output", "fused_moe_kernel")
TK_PATH = "python/triton_kernels/triton_kernels"


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


def fetch_vllm(vllm, out_dir, commit):
    moe = os.path.join(vllm, "model_executor", "layers", "fused_moe")
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
    out = os.path.join(out_dir, "vllm")
    os.makedirs(os.path.join(out, "configs"), exist_ok=True)
    header = (
        "# Copied verbatim from vllm-project/vllm by bench/fetch_peers.py\n"
        "#   path:   vllm/model_executor/layers/fused_moe/fused_moe.py\n"
        "#   commit: %s\n"
        "# SPDX-License-Identifier: Apache-2.0\n"
        "# SPDX-FileCopyrightText: Copyright contributors to the vLLM "
        "project\n"
        "import triton\n"
        "import triton.language as tl\n" % commit)
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


def git(git_dir, *args, text=True):
    r = subprocess.run(["git", "--git-dir=" + git_dir] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        sys.exit("git %s: %s" % (" ".join(args),
                                 r.stderr.decode(errors="replace").strip()))
    return r.stdout.decode().strip() if text else r.stdout


def fetch_triton_kernels(triton, out_dir, ref):
    """Writes out_dir/triton_kernels/{triton_kernels/, LICENSE, SOURCE}
    from the Triton repository `triton` at `ref` (None: a checkout's files
    on disk)."""
    tree = os.path.join(triton, TK_PATH)
    checkout = os.path.exists(os.path.join(triton, ".git"))
    git_dir = os.path.join(triton, ".git") if checkout else triton
    out = os.path.join(out_dir, "triton_kernels")
    pkg = os.path.join(out, "triton_kernels")
    if ref is None and os.path.isdir(tree):
        commit = git(git_dir, "rev-parse", "HEAD") if checkout else "unknown"
        shutil.rmtree(pkg, ignore_errors=True)
        shutil.copytree(tree, pkg, ignore=shutil.ignore_patterns(
            "__pycache__", "*.pyc"))
        if os.path.exists(os.path.join(triton, "LICENSE")):
            shutil.copyfile(os.path.join(triton, "LICENSE"),
                            os.path.join(out, "LICENSE"))
        ref = "(files on disk)"
    else:
        ref = ref or "HEAD"
        commit = git(git_dir, "rev-parse", "--verify", ref + "^{commit}")
        data = git(git_dir, "archive", "--format=tar", commit, TK_PATH,
                   "LICENSE", text=False)
        shutil.rmtree(pkg, ignore_errors=True)
        os.makedirs(pkg)
        n = 0
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for m in tar.getmembers():
                if not m.isfile():
                    continue
                if m.name == "LICENSE":
                    dst = os.path.join(out, "LICENSE")
                else:
                    rel = os.path.relpath(m.name, TK_PATH)
                    if rel.startswith("..") or os.path.isabs(rel):
                        continue
                    dst = os.path.join(pkg, rel)
                    n += 1
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "wb") as f:
                    f.write(tar.extractfile(m).read())
        if not n:
            sys.exit("%s at %s: no %s" % (triton, ref, TK_PATH))
    if not os.path.exists(os.path.join(pkg, "matmul_ogs.py")):
        print("warning: %s has no matmul_ogs.py (bench/triton_peers.py "
              "calls triton_kernels.matmul_ogs)" % pkg)
    date = git(git_dir, "log", "-1", "--format=%cI", commit) \
        if commit != "unknown" else "unknown"
    with open(os.path.join(out, "SOURCE"), "w") as f:
        f.write("triton_kernels copied verbatim by bench/fetch_peers.py\n"
                "  repository: triton-lang/triton\n"
                "  path:       %s\n"
                "  ref:        %s\n"
                "  commit:     %s\n"
                "  date:       %s\n" % (TK_PATH, ref, commit, date))
    files = sum(len(fs) for _, _, fs in os.walk(pkg))
    print("wrote %s (%d files; %s = %s)" % (pkg, files, ref, commit[:12]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vllm")
    ap.add_argument("--out", required=True)
    ap.add_argument("--commit", default="unknown",
                    help="the vLLM commit, for the kernel file's header")
    ap.add_argument("--triton",
                    help="a Triton checkout or bare git directory")
    ap.add_argument("--triton-ref",
                    help="tag, branch or commit of --triton (e.g. v3.6.0)")
    a = ap.parse_args()
    if not a.vllm and not a.triton:
        ap.error("give --vllm, --triton or both")
    if a.triton_ref and not a.triton:
        ap.error("--triton-ref needs --triton")
    if a.vllm:
        fetch_vllm(a.vllm, a.out, a.commit)
    if a.triton:
        fetch_triton_kernels(a.triton, a.out, a.triton_ref)


if __name__ == "__main__":
    main()
