"""Compile MoE layers on first use, through the compiler's artifact cache.

    from moe_runtime import jit, Kernel
    art = jit.compile(layer_mlir, kernel_options="max-tokens=8192")
    art = jit.compile_layer("E=256,H=7168,I=2048,K=8,precision=fp8")
    kernel = Kernel.load(art.directory)

`compile` runs `moe-jit` (tools/moe-jit, docs/JIT.md) on the layer: the
first time on a machine it compiles (one to three seconds: an FP8 layer on
sm_90a is two kernels), afterwards the compiler's content-hash cache
returns the artifact folder without compiling,
and within one process a second call with the same arguments returns the
first call's result without running anything. The compiler runs in its own
process on purpose: the Python process (with torch, and Triton's own LLVM)
never loads LLVM or MLIR, and a static `moe-jit` (scripts/build-static.sh
moe-jit) works on GPU hosts that have no LLVM installed.

`compile_layer` takes the layer as numbers (moe/JIT/Layer.h's syntax, or
a dict of its fields) and lets the compiler build the module.

A fresh process that asks for a layer compiled before finds it without
running moe-jit: beside the compiler's cache entries, an index
(<cache>/index/) maps a hash of the request as given (the text or the
numbers, the chip, the kernel options, and the size and modification time
of the moe-jit and ptxas files) to the entry moe-jit returned for it. A
change of any of those misses the index, and moe-jit then decides with its
own key (canonical IR, compiler and ptxas versions).

`moe-jit` is found through, in order: the `moe_jit` argument, $MOE_JIT, the
build folders of this checkout (build*/bin/), then PATH. A failed
compilation raises JitError with the compiler's message (which step failed
and its diagnostics).

Warm-ups: `compile` never runs during a CUDA graph capture by itself, but it
must not be called inside one either (it may take a second); call it for
every shape a capture will need before capturing (`warm_up`).
"""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

__all__ = ["Artifact", "JitError", "compile", "compile_layer",
           "find_moe_jit", "layer_spec", "warm_up"]


class JitError(RuntimeError):
    """A layer could not be compiled; the message is the compiler's."""


@dataclass(frozen=True)
class Artifact:
    directory: str  # manifest.json, <kernel>.ptx, <kernel>.cubin
    kernel: str
    key: str
    cache: str  # "hit", "miss", "off" (compiled outside the cache), or
    #             "index" (found through the index, moe-jit not run)
    warnings: tuple = field(default_factory=tuple)


_MEMO = {}
_HERE = os.path.dirname(os.path.abspath(__file__))


def find_moe_jit(path=None):
    """The moe-jit executable to run, or raise JitError."""
    candidates = [path, os.environ.get("MOE_JIT")]
    root = os.path.dirname(os.path.dirname(_HERE))
    candidates += sorted(glob.glob(os.path.join(root, "build*", "bin",
                                                "moe-jit")))
    candidates.append(shutil.which("moe-jit"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise JitError("moe-jit not found: pass moe_jit=, set $MOE_JIT, or build "
                   "it (ninja -C build moe-jit; scripts/build-static.sh "
                   "moe-jit for hosts without LLVM)")


def layer_spec(layer):
    """A layer's numbers as moe-jit --layer takes them: a string is
    returned as is, a dict {"E": 256, "H": 7168, "precision": "fp8", ...}
    is written as "E=256,H=7168,...,precision=fp8" (sizes first)."""
    if isinstance(layer, str):
        return layer
    sizes = [k for k in ("E", "H", "I", "K") if k in layer]
    rest = sorted(k for k in layer if k not in sizes)
    return ",".join("%s=%s" % (k, layer[k]) for k in sizes + rest)


def compile(source, chip="sm_90a", kernel_options="", cache_dir=None,
            use_cache=True, moe_jit=None, progress=None):
    """Compiles the `moe` dialect text `source` for `chip` (or finds it in
    the cache) and returns its Artifact. `progress(message)`, if given, is
    called before a compilation that is not memoized in this process."""
    return _compile(("source", source), chip, kernel_options, cache_dir,
                    use_cache, moe_jit, progress)


def compile_layer(layer, chip="sm_90a", kernel_options="", cache_dir=None,
                  use_cache=True, moe_jit=None, progress=None):
    """Compiles a fused MoE layer given by its numbers (a layer_spec string
    or dict) like compile(); a failure's message names the layer."""
    return _compile(("layer", layer_spec(layer)), chip, kernel_options,
                    cache_dir, use_cache, moe_jit, progress)


def _cache_directory(cache_dir):
    """The cache directory moe-jit uses (jit::cacheDirectory)."""
    if cache_dir:
        return cache_dir
    if os.environ.get("MOE_CACHE_DIR"):
        return os.environ["MOE_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "moe-compiler")


def _find_ptxas():
    """The ptxas moe-jit runs (findPtxas: $MOE_PTXAS, $CUDA_HOME/bin,
    /usr/local/cuda/bin, PATH), or None."""
    candidates = [os.environ.get("MOE_PTXAS")]
    if os.environ.get("CUDA_HOME"):
        candidates.append(os.path.join(os.environ["CUDA_HOME"], "bin",
                                       "ptxas"))
    candidates += ["/usr/local/cuda/bin/ptxas", shutil.which("ptxas")]
    for c in candidates:
        if c and os.path.isfile(c):
            return c
    return None


def _file_identity(path):
    if not path:
        return "none"
    st = os.stat(path)
    return "%s %d %d" % (os.path.realpath(path), st.st_size,
                         int(st.st_mtime))


def _index_path(cache, request, chip, kernel_options, exe):
    h = hashlib.sha256()
    for part in (request[0], request[1], chip, kernel_options,
                 _file_identity(exe), _file_identity(_find_ptxas())):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return os.path.join(cache, "index", h.hexdigest())


def _complete(directory, kernel):
    return all(os.path.isfile(os.path.join(directory, f)) for f in (
        "manifest.json", kernel + ".ptx", kernel + ".cubin"))


def _index_lookup(path, cache):
    try:
        with open(path) as f:
            entry = json.load(f)
        directory = os.path.join(cache, entry["key"])
        if _complete(directory, entry["kernel"]):
            return Artifact(directory, entry["kernel"], entry["key"],
                            "index")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _index_store(path, art):
    """Best effort: an index that cannot be written only costs a moe-jit
    run next time."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path),
                                   prefix="tmp-")
        with os.fdopen(fd, "w") as f:
            json.dump({"key": art.key, "kernel": art.kernel}, f)
        os.replace(tmp, path)  # atomic: readers see all of it or nothing
    except OSError:
        pass


def _compile(request, chip, kernel_options, cache_dir, use_cache, moe_jit,
             progress):
    memo_key = (request, chip, kernel_options, cache_dir, use_cache)
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    exe = find_moe_jit(moe_jit)
    index = None
    if use_cache:
        cache = _cache_directory(cache_dir)
        index = _index_path(cache, request, chip, kernel_options, exe)
        art = _index_lookup(index, cache)
        if art is not None:
            _MEMO[memo_key] = art
            return art
    cmd = [exe, "--chip=" + chip]
    if request[0] == "layer":
        cmd.append("--layer=" + request[1])
        stdin = ""
    else:
        cmd.append("-")
        stdin = request[1]
    if kernel_options:
        cmd.append("--kernel-options=" + kernel_options)
    if not use_cache:
        cmd.append("--no-cache")
    elif cache_dir:
        cmd.append("--cache-dir=" + cache_dir)
    what = "layer " + request[1] if request[0] == "layer" else "a layer"
    if progress:
        progress("moe-jit: compiling %s for %s" % (what, chip))
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        message = p.stderr.strip() or "moe-jit failed (exit status %d)" % (
            p.returncode)
        if request[0] == "layer":
            message = "compiling %s for %s: %s" % (what, chip, message)
        raise JitError(message)
    fields, warnings = {}, []
    for line in p.stdout.splitlines():
        name, _, value = line.partition(": ")
        if name == "warning":
            warnings.append(value)
        else:
            fields[name] = value
    try:
        art = Artifact(fields["artifact"], fields["kernel"], fields["key"],
                       fields["cache"], tuple(warnings))
    except KeyError as e:
        raise JitError("moe-jit printed no %s: %r" % (e, p.stdout)) from None
    for w in warnings:
        print("moe_runtime.jit: warning: " + w, file=sys.stderr)
    if index and art.cache in ("hit", "miss"):
        _index_store(index, art)
    _MEMO[memo_key] = art
    return art


class ProgressBar:
    """A one-line progress bar on a terminal's stderr; silent when stderr
    is not a terminal (a log file, CI), so that logs get no bar lines."""

    def __init__(self, title, stream=None, width=30):
        self.title = title
        self.stream = stream or sys.stderr
        self.width = width
        self.active = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, done, total, what=""):
        if not self.active:
            return
        filled = self.width * done // max(1, total)
        self.stream.write("\r%s [%s%s] %d/%d %s\x1b[K" % (
            self.title, "#" * filled, "." * (self.width - filled), done,
            total, what))
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def warm_up(layers, chip="sm_90a", kernel_options="", cache_dir=None,
            moe_jit=None, progress=True, jobs=None):
    """Compiles every layer of `layers` (moe text, or numbers as
    compile_layer takes them: a dict, or a string that starts with "E=")
    before a CUDA graph capture that will launch them; returns their
    Artifacts in order. Up to `jobs` moe-jit processes run at once (default:
    the CPU count, at most 8): one compilation is single-threaded.
    `progress`: True draws a bar on a terminal (nothing in a log), a
    callable is called as progress(done, total), False is quiet. A failure
    raises JitError naming the layer."""
    from concurrent.futures import ThreadPoolExecutor
    if progress is True:
        progress = ProgressBar("moe_runtime.jit: warm-up")

    def one(layer):
        if isinstance(layer, dict) or layer.lstrip().startswith("E="):
            return compile_layer(layer, chip, kernel_options, cache_dir,
                                 moe_jit=moe_jit)
        return compile(layer, chip, kernel_options, cache_dir,
                       moe_jit=moe_jit)

    jobs = jobs or min(8, os.cpu_count() or 1)
    arts = [None] * len(layers)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, layer) for layer in layers]
        for i, f in enumerate(futures):
            arts[i] = f.result()
            if progress:
                progress(i + 1, len(layers))
    return arts
