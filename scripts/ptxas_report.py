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


def ptxas_resources(ptxas, arch, ptx):
    """Runs `ptxas -arch=ARCH -v` on the file `ptx`. Returns ptxas's report
    (its stderr) and, in the report's order, one dict a function: name,
    registers, spill_stores, spill_loads (bytes; ptxas may report loads
    without stores) and static_smem (bytes); a number the report lacks is
    None (static_smem: 0). Raises RuntimeError if ptxas fails."""
    r = subprocess.run([ptxas, "-arch=" + arch, "-v", ptx, "-o", os.devnull],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("ptxas failed on %s:\n%s" % (ptx, r.stderr))
    functions = []
    for name, body in re.findall(
            r"Function properties for (\w+)\n(.*?)(?=Function properties|\Z)",
            r.stderr, re.S):
        spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads",
                          body)
        regs = re.search(r"Used (\d+) registers", body)
        smem = re.search(r"(\d+) bytes smem", body)
        functions.append({
            "name": name,
            "registers": int(regs.group(1)) if regs else None,
            "spill_stores": int(spill.group(1)) if spill else None,
            "spill_loads": int(spill.group(2)) if spill else None,
            "static_smem": int(smem.group(1)) if smem else 0})
    return r.stderr, functions


def report(ptxas, d):
    with open(os.path.join(d, "manifest.json")) as f:
        m = json.load(f)
    try:
        _, functions = ptxas_resources(
            ptxas, m["arch"], os.path.join(d, m["kernel"] + ".ptx"))
    except RuntimeError as e:
        sys.exit("%s: %s" % (d, e))
    dyn = {m["kernel"]: m["launch"]["dynamic_smem_bytes"]}
    for v in m.get("variants", []):
        dyn[v["kernel"]] = v.get("dynamic_smem_bytes",
                                 m["launch"]["dynamic_smem_bytes"])
    rows = []
    for f in functions:
        name = f["name"]
        total = f["static_smem"] + dyn.get(name, 0)
        spill = ("%d / %d" % (f["spill_stores"], f["spill_loads"])
                 if f["spill_stores"] is not None else "?")
        rows.append((os.path.basename(os.path.normpath(d)), name, m["arch"],
                     f["registers"] if f["registers"] is not None else "?",
                     spill, f["static_smem"], dyn.get(name, 0), total,
                     total <= SMEM_LIMIT))
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
