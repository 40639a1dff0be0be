#!/usr/bin/env python3
"""ptxas's resource report for kernel artifacts, as a Markdown table.

For each artifact folder (manifest.json + <kernel>.ptx, as
make_grouped_gemm.py, make_fused_moe.py or moe-jit write them) runs
`ptxas -arch=<the manifest's arch> -v` on the PTX and prints one row per
kernel entry: registers, spill stores/loads, static shared memory, and the
manifest's dynamic shared memory; the total against the chip's limit
(227 KiB per block on sm_90a and sm_100a).

usage: ptxas_report.py --ptxas PTXAS DIR [DIR ...]
"""

import argparse
import json
import os
import re
import subprocess
import sys

SMEM_LIMIT = 227 * 1024  # bytes of shared memory a block may use


def report(ptxas, d):
    with open(os.path.join(d, "manifest.json")) as f:
        m = json.load(f)
    ptx = os.path.join(d, m["kernel"] + ".ptx")
    r = subprocess.run([ptxas, "-arch=" + m["arch"], "-v", ptx, "-o",
                        os.devnull], capture_output=True, text=True)
    if r.returncode:
        sys.exit("ptxas failed on %s:\n%s" % (d, r.stderr))
    dyn = {m["kernel"]: m["launch"]["dynamic_smem_bytes"]}
    for v in m.get("variants", []):
        dyn[v["kernel"]] = v.get("dynamic_smem_bytes",
                                 m["launch"]["dynamic_smem_bytes"])
    rows = []
    for name, body in re.findall(
            r"Function properties for (\w+)\n(.*?)(?=Function properties|\Z)",
            r.stderr, re.S):
        spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads",
                          body)
        regs = re.search(r"Used (\d+) registers", body)
        smem = re.search(r"(\d+) bytes smem", body)
        static = int(smem.group(1)) if smem else 0
        total = static + dyn.get(name, 0)
        rows.append((os.path.basename(os.path.normpath(d)), name, m["arch"],
                     regs.group(1) if regs else "?",
                     "%s / %s" % spill.groups() if spill else "?",
                     static, dyn.get(name, 0), total, total <= SMEM_LIMIT))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ptxas", default="ptxas")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    print("| artifact | kernel | arch | registers | spill stores / loads (B) "
          "| static smem (B) | dynamic smem (B) | total (B) | within 227 KiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for d in a.dirs:
        for row in report(a.ptxas, d):
            ok &= row[-1] and row[4] == "0 / 0"
            print("| %s | %s | %s | %s | %s | %d | %d | %d | %s |" % (
                row[:8] + ("yes" if row[8] else "**no**",)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
