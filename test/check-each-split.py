#!/usr/bin/env python3
"""Runs a tool on each `// -----` case of a file on its own and checks that
every case fails cleanly: a non-zero exit status (not a signal, so no crash)
and an `error:` diagnostic on stderr.

usage: check-each-split.py <tool> <file.mlir> [tool args...]
"""

import subprocess
import sys


def main():
    tool, path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    cases = open(path).read().split("// -----")
    bad = []
    for i, case in enumerate(cases):
        if "func.func" not in case:
            continue
        p = subprocess.run([tool, "-", *args], input=case, text=True,
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
