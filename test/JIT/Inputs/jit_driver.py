"""Drives moe_runtime.jit for test/JIT/python-jit.test:
jit_driver.py MOE_JIT LAYER.mlir CACHE_DIR"""

import os
import sys

from moe_runtime import jit

exe, layer, cache = sys.argv[1:4]
source = open(layer).read()
a = jit.compile(source, cache_dir=cache, moe_jit=exe)
print("first:", a.cache, a.kernel, ",".join(sorted(os.listdir(a.directory))))
b = jit.compile(source, cache_dir=cache, moe_jit=exe)
print("same process, same layer: the first call's Artifact:", b is a)
jit._MEMO.clear()
c = jit.compile(source, cache_dir=cache, moe_jit=exe)
print("new process state, same layer:", c.cache)
try:
    jit.compile("func.func @f(", cache_dir=cache, moe_jit=exe)
    print("bad layer: no error")
except jit.JitError as e:
    print("bad layer: JitError:", str(e).splitlines()[0])
jit.warm_up([source], cache_dir=cache, moe_jit=exe,
            progress=lambda i, n: print("warm_up: %d/%d" % (i, n)))
# No moe-jit anywhere: not passed, no $MOE_JIT, no build folder, not on PATH.
os.environ.pop("MOE_JIT", None)
os.environ["PATH"] = ""
jit._HERE = "/nonexistent/python/moe_runtime"
jit._MEMO.clear()
try:
    jit.compile(source, cache_dir=cache)
    print("no moe-jit: found one")
except jit.JitError as e:
    print("no moe-jit: JitError:", str(e).split(":")[0])
