"""Drives moe_runtime.jit for test/JIT/python-jit.test:
jit_driver.py MOE_JIT LAYER.mlir CACHE_DIR"""

import os
import shutil
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
print("new process state, same layer:", c.cache, c.directory == a.directory)
# Without the index, moe-jit runs and finds its cache entry.
shutil.rmtree(os.path.join(cache, "index"))
jit._MEMO.clear()
d = jit.compile(source, cache_dir=cache, moe_jit=exe)
print("no index:", d.cache, d.directory == a.directory)
# A rebuilt moe-jit (here: a copy with another modification time) misses
# the index, and its own key too.
jit._MEMO.clear()
rebuilt = os.path.join(os.path.dirname(cache), "moe-jit-copy")
shutil.copy2(exe, rebuilt)
os.utime(rebuilt, (os.stat(exe).st_atime, os.stat(exe).st_mtime + 10))
e = jit.compile(source, cache_dir=cache, moe_jit=rebuilt)
print("rebuilt moe-jit:", e.cache)
os.remove(rebuilt)
# A layer by its numbers: compiled, then found through the index.
spec = {"E": 4, "H": 256, "I": 256, "K": 2, "precision": "bf16"}
print("layer spec:", jit.layer_spec(spec))
f = jit.compile_layer(spec, cache_dir=cache, moe_jit=exe)
jit._MEMO.clear()
g = jit.compile_layer(spec, cache_dir=cache, moe_jit=exe)
print("layer:", f.cache, f.kernel, g.cache, g.directory == f.directory)
try:
    jit.compile_layer("E=4,H=256,I=256,K=2,activation=relu",
                      cache_dir=cache, moe_jit=exe)
    print("bad layer spec: no error")
except jit.JitError as e:
    print("bad layer spec: JitError:", str(e))
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
