#!/usr/bin/env python3
"""Summarizes warp-stall samples per SASS instruction from ncu's source page.

usage (on the GPU machine, after a profile with the SourceCounters section):
  ncu --section WarpStateStats --section SourceCounters -k fm_fused_moe_0 \\
      -c 1 -o prof python3 bench/fused_moe.py ...
  ncu --import prof.ncu-rep --page source --csv --print-source sass > src.csv
  python3 bench/ncu_stalls.py src.csv [--top 45]

Prints the total of each stall reason over the kernel (share of all
samples), then the instructions with the most samples, each with its three
largest reasons and what no listed reason covers (ncu's CSV of CUDA 13.0 has no
column for the wgmma stall, so a QGMMA's samples land there).
"""

import argparse
import collections
import csv


def num(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=45)
    a = ap.parse_args()
    with open(a.csv, newline="") as f:
        rows = list(csv.reader(f))
    head = next(i for i, r in enumerate(rows) if r and "Source" in r)
    hdr, data = rows[head], rows[head + 1:]
    src = hdr.index("Source")
    samples = hdr.index("Warp Stall Sampling (All Samples)")
    reasons = [(i, h) for i, h in enumerate(hdr)
               if h.startswith("stall_") and "Not Issued" not in h]
    total = sum(num(r[samples]) for r in data)
    by_reason = collections.Counter()
    for r in data:
        for i, h in reasons:
            by_reason[h] += num(r[i])
    print("total samples %.0f" % total)
    for h, v in by_reason.most_common():
        if v:
            print("%-26s %10.0f %5.1f%%" % (h, v, 100 * v / max(total, 1)))
    print("\ntop instructions (samples, address, SASS, reasons):")
    for r in sorted(data, key=lambda r: -num(r[samples]))[:a.top]:
        per = sorted(((num(r[i]), h) for i, h in reasons), reverse=True)
        rest = num(r[samples]) - sum(v for v, _ in per)
        named = ", ".join("%s=%.0f" % (h, v) for v, h in per[:3] if v > 0)
        print("%8.0f %s %-60s %s, unlisted=%.0f" % (
            num(r[samples]), r[0][-6:], r[src].strip()[:60], named, rest))


if __name__ == "__main__":
    main()
