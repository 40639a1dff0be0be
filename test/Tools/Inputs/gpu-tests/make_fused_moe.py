#!/usr/bin/env python3
"""Stand-in for make_fused_moe.py in gpu-tests-split.test: writes its
arguments (after --out) into OUT/argv.txt, one per line."""
import os
import sys

out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "argv.txt"), "w") as f:
    f.write("\n".join(sys.argv[1:]) + "\n")
