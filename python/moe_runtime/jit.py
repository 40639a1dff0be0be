"""Compile MoE layers on first use, through the compiler's artifact cache.

    from moe_runtime import jit, Kernel
    art = jit.compile(layer_mlir, kernel_options="max-tokens=8192")
    kernel = Kernel.load(art.directory)

`compile` runs `moe-jit` (tools/moe-jit, docs/JIT.md) on the layer: the
first time on a machine it compiles (about a second), afterwards the
compiler's content-hash cache returns the artifact folder without compiling,
and within one process a second call with the same arguments returns the
first call's result without running anything. The compiler runs in its own
process on purpose: the Python process (with torch, and Triton's own LLVM)
never loads LLVM or MLIR, and a static `moe-jit` (scripts/build-static.sh
moe-jit) works on GPU hosts that have no LLVM installed.

`moe-jit` is found through, in order: the `moe_jit` argument, $MOE_JIT, the
build folders of this checkout (build*/bin/), then PATH. A failed
compilation raises JitError with the compiler's message (which step failed
and its diagnostics).

Warm-ups: `compile` never runs during a CUDA graph capture by itself, but it
must not be called inside one either (it may take a second); call it for
every shape a capture will need before capturing (`warm_up`).
"""

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

__all__ = ["Artifact", "JitError", "compile", "find_moe_jit", "warm_up"]


class JitError(RuntimeError):
    """A layer could not be compiled; the message is the compiler's."""


@dataclass(frozen=True)
class Artifact:
    directory: str  # manifest.json, <kernel>.ptx, <kernel>.cubin
    kernel: str
    key: str
    cache: str  # "hit", "miss" or "off" (compiled outside the cache)
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


def compile(source, chip="sm_90a", kernel_options="", cache_dir=None,
            use_cache=True, moe_jit=None, progress=None):
    """Compiles the `moe` dialect text `source` for `chip` (or finds it in
    the cache) and returns its Artifact. `progress(message)`, if given, is
    called before a compilation that is not memoized in this process."""
    memo_key = (source, chip, kernel_options, cache_dir, use_cache)
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    exe = find_moe_jit(moe_jit)
    cmd = [exe, "-", "--chip=" + chip]
    if kernel_options:
        cmd.append("--kernel-options=" + kernel_options)
    if not use_cache:
        cmd.append("--no-cache")
    elif cache_dir:
        cmd.append("--cache-dir=" + cache_dir)
    if progress:
        progress("moe-jit: compiling a layer for %s" % chip)
    p = subprocess.run(cmd, input=source, capture_output=True, text=True)
    if p.returncode != 0:
        raise JitError(p.stderr.strip() or "moe-jit failed (exit status %d)"
                       % p.returncode)
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
    _MEMO[memo_key] = art
    return art


def warm_up(sources, chip="sm_90a", kernel_options="", cache_dir=None,
            moe_jit=None, progress=None):
    """Compiles every layer of `sources` (before a CUDA graph capture that
    will launch them); returns their Artifacts in order. `progress(i, n)` is
    called after each."""
    arts = []
    for i, s in enumerate(sources):
        arts.append(compile(s, chip, kernel_options, cache_dir,
                            moe_jit=moe_jit))
        if progress:
            progress(i + 1, len(sources))
    return arts
