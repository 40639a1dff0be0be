#!/usr/bin/env python3
"""Runs a tool on each `// -----` case of a file on its own and checks that
every case fails cleanly: a non-zero exit status (not a signal, so no crash)
and an `error:` diagnostic on stderr.

usage: check-each-split.py <tool> [tool options...] <file.mlir> [tool args...]
(lit may substitute the tool with options, e.g. "moe-opt --verify-roundtrip":
everything before the first existing .mlir file is the tool's command.)
"""

import os
import subprocess
import sys


def main():
    argv = sys.argv[1:]
    at = next(i for i, a in enumerate(argv)
              if a.endswith(".mlir") and os.path.isfile(a))
    tool, path, args = argv[:at], argv[at], argv[at + 1:]
    cases = open(path).read().split("// -----")
    bad = []
    for i, case in enumerate(cases):
        if "func.func" not in case:
            continue
        p = subprocess.run([*tool, "-", *args], input=case,
                           text=True,
                           capture_output=True)
        if p.returncode <= 0 or "error:" not in p.stderr:
            bad.append((i, p.returncode, p.stderr.strip()[-300:]))
    checked = sum("func.func" in c for c in cases)
    print(f"{checked} cases, {checked - len(bad)} rejected cleanly")
    for i, rc, err in bad:
        print(f"case {i}: exit status {rc}: {err}")
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
