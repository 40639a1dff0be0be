#!/usr/bin/env python3
"""Stand-in for a run_*.py script in gpu-tests-split.test: exits 0 when
ART/argv.txt exists and --lib names the library given to the run half, 1
otherwise (--fail: always 1; --sleep S: first sleeps S seconds)."""
import os
import sys
import time

if "--sleep" in sys.argv:
    time.sleep(float(sys.argv[sys.argv.index("--sleep") + 1]))

art = sys.argv[sys.argv.index("--art") + 1]
lib = sys.argv[sys.argv.index("--lib") + 1]
print("art", os.path.exists(os.path.join(art, "argv.txt")), "lib",
      os.path.basename(lib))
sys.exit(1 if "--fail" in sys.argv or
         not os.path.exists(os.path.join(art, "argv.txt")) else 0)
