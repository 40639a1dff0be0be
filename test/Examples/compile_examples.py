#!/usr/bin/env python3
"""Compiles every example in examples/ for one chip and runs ptxas on it.

For each examples/*.mlir (sorted): the graph pipeline, then
--moe-to-nvvm-pipeline=chip=CHIP; where that leaves no kernel (a fused
layer the code generator does not take), the unfused example through
--moe-to-nvvm-pipeline (its expert matmuls as grouped matmul kernels).
Then moe-translate --moe-to-ptx and ptxas -arch=CHIP -v. Prints one line
an example:

  NAME: graph-optimized|unfused, kernels=N, S B spilled, MMA[, VARIANT
        left out: spills B]
                                  (MMA: tcgen05 or wgmma)
  NAME: not lowered: REASON                          (no kernel either way)

As an artifact (moe-translate --moe-to-manifest --artifact-dir) does, the
variant kernels (moek.variants, alternatives in order) count only where
some T would run them: a variant that ptxas spills in is left out (the line
names it) and the next that holds its token counts counts instead; one
whose token counts the variants before it hold counts neither in N nor in
S.

and exits 1 if a step fails (other than "no kernel") or a kernel's shared
memory (its dynamic bytes and ptxas's static ones) exceeds the 227 KB a
CTA may have.

usage: compile_examples.py --bin DIR --ptxas PTXAS --chip sm_90a|sm_100a
                           --examples DIR --out DIR
"""

import argparse
import glob
import os
import re
import subprocess
import sys


# The most shared memory a CTA may have (dynamic and static), sm_90a and
# sm_100a alike.
SMEM_LIMIT = 232448


def run(cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True)


def covered(held, lo, hi):
    """Whether the token ranges [a, b) of `held` together hold [lo, hi)."""
    moved = True
    while moved and lo < hi:
        moved = False
        for a, b in held:
            if a <= lo < b:
                lo, moved = b, True
    return lo >= hi


def kernels_of(nvvm):
    return len(re.findall(r"llvm\.func @\w+\(.*\).*nvvm\.kernel", nvvm))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--ptxas", required=True)
    ap.add_argument("--chip", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    opt = os.path.join(a.bin, "moe-opt")
    translate = os.path.join(a.bin, "moe-translate")
    pipeline = "--moe-to-nvvm-pipeline=chip=" + a.chip
    os.makedirs(a.out, exist_ok=True)
    status = 0
    for path in sorted(glob.glob(os.path.join(a.examples, "*.mlir"))):
        name = os.path.basename(path)[:-len(".mlir")]
        fused = run([opt, "--moe-graph-optimization-pipeline", path])
        if fused.returncode != 0:
            print("%s: FAILED: graph pipeline: %s" % (name, fused.stderr[:300]))
            status = 1
            continue
        kind, lowered = "graph-optimized", run([opt, pipeline],
                                               stdin=fused.stdout)
        if lowered.returncode == 0 and kernels_of(lowered.stdout) == 0:
            kind, lowered = "unfused", run([opt, pipeline, path])
        if lowered.returncode != 0:
            print("%s: FAILED: %s: %s" % (name, pipeline, lowered.stderr[:300]))
            status = 1
            continue
        kernels = kernels_of(lowered.stdout)
        if kernels == 0:
            why = re.search(r"not lowered: ([^\n]*)", lowered.stderr)
            print("%s: not lowered: %s" % (name, why.group(1) if why else "?"))
            continue
        nvvm = os.path.join(a.out, name + ".nvvm.mlir")
        ptx = os.path.join(a.out, name + ".ptx")
        with open(nvvm, "w") as f:
            f.write(lowered.stdout)
        res = run([translate, "--chip=" + a.chip, "--moe-to-ptx", nvvm,
                   "-o", ptx])
        if res.returncode != 0:
            print("%s: FAILED: moe-to-ptx: %s" % (name, res.stderr[:300]))
            status = 1
            continue
        res = run([a.ptxas, "-arch=" + a.chip, "-v", ptx, "-o",
                   os.path.join(a.out, name + ".cubin")])
        if res.returncode != 0:
            print("%s: FAILED: ptxas: %s" % (name, res.stderr[:300]))
            status = 1
            continue
        # Shared memory: each kernel's dynamic bytes (its moek attribute)
        # and ptxas's static bytes within the 227 KB a CTA may have on
        # both chips.
        dynamic = dict(re.findall(
            r"llvm\.func @(\w+)\([^\n]*moek\.dynamic_smem_bytes = (\d+)",
            lowered.stdout))
        static = dict(re.findall(
            r"Compiling entry function '(\w+)'.*?(\d+) bytes smem",
            res.stderr, re.S))
        over = ["%s: %d + %d B" % (k, int(dynamic[k]), int(static.get(k, 0)))
                for k in sorted(dynamic)
                if int(dynamic[k]) + int(static.get(k, 0)) > SMEM_LIMIT]
        if not dynamic or over:
            print("%s: FAILED: shared memory over %d B (or not found): %s" % (
                name, SMEM_LIMIT, ", ".join(over)))
            status = 1
            continue
        # Spill stores and loads (ptxas may report loads alone) of each
        # kernel; a variant that spills is left out, as in an artifact.
        spills = {f: int(st) + int(ld) for f, st, ld in re.findall(
            r"Function properties for (\w+)\n.*?(\d+) bytes spill stores, "
            r"(\d+) bytes spill loads", res.stderr, re.S)}
        left, unused = [], set()
        for attr in re.findall(r"moek\.variants = \[([^\]]*)\]",
                               lowered.stdout):
            held = []
            for entry in re.findall(r"\{([^}]*)\}", attr):
                v = re.search(r"kernel = @(\w+)", entry).group(1)
                lo = int(re.search(r"min_tokens = (\d+)", entry).group(1))
                hi = re.search(r"max_tokens = (\d+)", entry)
                hi = int(hi.group(1)) if hi else float("inf")
                if covered(held, lo, hi):
                    unused.add(v)
                elif spills.get(v, 0):
                    left.append(v)
                    unused.add(v)
                else:
                    held.append((lo, hi))
        kernels -= len(unused)
        spilled = sum(b for f, b in spills.items() if f not in unused)
        with open(ptx) as f:
            text = f.read()
        mma = ("tcgen05" if "tcgen05.mma" in text else
               "wgmma" if "wgmma.mma_async" in text else "none")
        warned = " (ptxas: %s)" % re.search(r"C75\d\d", res.stderr).group(0) \
            if re.search(r"C75\d\d", res.stderr) else ""
        print("%s: %s, kernels=%d, %d B spilled, %s%s%s" % (
            name, kind, kernels, spilled, mma, warned,
            "".join(", %s left out: spills %d B" % (v, spills[v])
                    for v in left)))
    return status


if __name__ == "__main__":
    sys.exit(main())
