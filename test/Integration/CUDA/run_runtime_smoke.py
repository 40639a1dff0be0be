#!/usr/bin/env python3
"""GPU smoke test of the MoE runtime (lib/Runtime) and its Python wrapper.

Runs on a machine with an sm_90 GPU, CUDA (ptxas, cuda.h), CMake and
PyTorch; needs no LLVM. It
  1. builds the runtime standalone (cmake -S lib/Runtime), unless --lib;
  2. assembles the hand-written kernels of Inputs/ with ptxas -arch=sm_90a;
  3. writes their manifests (artifact folders under --work);
  4. runs them through python/moe_runtime on torch tensors, poisoning the
     outputs first, and checks the results, that bad arguments are rejected
     without a launch, the TMA descriptor path (one 2D box, with and without
     the 128B swizzle; over a tensor and over the workspace), the zeroed
     workspace prefix (workspace_zero_bytes), CUDA-graph capture and
     load-time checks;
  5. prints a PASS/FAIL table; exit status 0 only if every row passed.

Usage (from the repository root):
  python3 test/Integration/CUDA/run_runtime_smoke.py \
      [--nlohmann-include .device-inc] [--lib build/lib/libmoe_cuda_runtime.so] \
      [--work /tmp/moe-rt-smoke] [--out $OUT]
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
INPUTS = os.path.join(HERE, "Inputs")

RESULTS = []  # (name, status, detail)


def record(name, status, detail=""):
    RESULTS.append((name, status, detail))
    print("%-4s %s%s" % (status, name, (": " + detail) if detail else ""),
          flush=True)


def case(name):
    """Runs fn() as one row: it returns (ok, detail); an exception fails."""

    def wrap(fn):
        try:
            ok, detail = fn()
            record(name, "PASS" if ok else "FAIL", detail)
        except Exception as e:  # noqa: BLE001 - every failure is a row
            record(name, "FAIL", "%s: %s" % (type(e).__name__, e))
            traceback.print_exc()
        return fn

    return wrap


def print_table(out_dir):
    width = max([len(n) for n, _, _ in RESULTS] + [4])
    lines = ["", "%-*s  %-6s  %s" % (width, "test", "result", "detail"),
             "%s  %s  %s" % ("-" * width, "-" * 6, "-" * 40)]
    for name, status, detail in RESULTS:
        if len(detail) > 110:
            detail = detail[:107] + "..."
        lines.append("%-*s  %-6s  %s" % (width, name, status, detail))
    passed = sum(1 for _, s, _ in RESULTS if s == "PASS")
    failed = sum(1 for _, s, _ in RESULTS if s == "FAIL")
    lines.append("")
    lines.append("runtime smoke: %d passed, %d failed, %d rows" %
                 (passed, failed, len(RESULTS)))
    text = "\n".join(lines)
    print(text, flush=True)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "runtime_smoke.txt"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(out_dir, "runtime_smoke.json"), "w") as f:
            json.dump([{"test": n, "result": s, "detail": d}
                       for n, s, d in RESULTS], f, indent=1)
    return failed


#===-------------------------------------------------------------------===#
# Build
#===-------------------------------------------------------------------===#


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def build_runtime(args):
    build = args.build_dir or os.path.join(ROOT, "build-rt-standalone")
    cmd = ["cmake", "-S", os.path.join(ROOT, "lib", "Runtime"), "-B", build,
           "-DCMAKE_BUILD_TYPE=Release"]
    if shutil.which("ninja"):
        cmd += ["-G", "Ninja"]
    inc = args.nlohmann_include
    if not inc and os.path.exists(
            os.path.join(ROOT, ".device-inc", "nlohmann", "json.hpp")):
        inc = os.path.join(ROOT, ".device-inc")
    if inc:
        cmd.append("-DMOE_NLOHMANN_INCLUDE_DIR=" + os.path.abspath(inc))
    if args.cuda_include:
        cmd.append("-DMOE_CUDA_INCLUDE_DIR=" + args.cuda_include)
    run(cmd)
    run(["cmake", "--build", build, "-j", str(os.cpu_count() or 4)])
    lib = os.path.join(build, "libmoe_cuda_runtime.so")
    if not os.path.exists(lib):
        raise RuntimeError("the build made no %s (was cuda.h or "
                           "nlohmann/json.hpp found? see the cmake output)" %
                           lib)
    return lib


def find_ptxas():
    for p in (shutil.which("ptxas"), "/usr/local/cuda/bin/ptxas"):
        if p and os.path.exists(p):
            return p
    raise RuntimeError("ptxas not found")


def assemble(ptxas, name, work):
    cubin = os.path.join(work, name + ".cubin")
    run([ptxas, "-arch=sm_90a", "-v", os.path.join(INPUTS, name + ".ptx"),
         "-o", cubin])
    return cubin


def write_artifact(work, name, manifest, cubin):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    shutil.copy(cubin, os.path.join(d, manifest["cubin"]))
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return d


def base_manifest(kernel, cubin):
    return {
        "version": 1,
        "kernel": kernel,
        "arch": "sm_90a",
        "cubin": cubin,
        "compiler": "hand-written PTX (run_runtime_smoke.py)",
        "content_hash": "none",
    }


def add_t_manifest():
    m = base_manifest("add_t", "add_t.cubin")
    m.update({
        "launch": {"grid": "persistent", "block": [256, 1, 1],
                   "dynamic_smem_bytes": 0},
        "workspace_bytes": 16,
        "tensors": [
            {"name": "a", "dtype": "f32", "shape": ["T"]},
            {"name": "out", "dtype": "f32", "shape": ["T"], "role": "output"},
            {"name": "info", "dtype": "i32", "shape": [2], "role": "output",
             "alignment": 8},
        ],
        "params": [
            {"kind": "tensor", "tensor": "a"},
            {"kind": "tensor", "tensor": "out"},
            {"kind": "tensor", "tensor": "info"},
            {"kind": "workspace"},
            {"kind": "token_count", "type": "i32"},
            {"kind": "i32", "name": "scale", "value": 3},
            {"kind": "i64", "name": "offset"},
        ],
    })
    return m


def tma_manifest(swizzle, swizzled_flag, name="tma_copy"):
    m = base_manifest("tma_copy", "tma_copy.cubin")
    m.update({
        "launch": {"grid": [16, 1, 1], "block": [256, 1, 1],
                   "dynamic_smem_bytes": 2048},
        "max_tokens": 128,
        "tensors": [
            # 4-byte alignment for the tensor: the descriptor's 16-byte
            # rule is then what rejects a misaligned base.
            {"name": "x", "dtype": "f32", "shape": ["T", 32], "alignment": 4},
            {"name": "out", "dtype": "f32", "shape": ["T", 32],
             "role": "output"},
        ],
        "tma": [
            {"name": "x_desc", "tensor": "x", "box": [8, 32],
             "swizzle": swizzle, "interleave": "none", "l2_promotion": "256B",
             "oob_fill": "none"},
        ],
        "params": [
            {"kind": "tma", "tma": "x_desc"},
            {"kind": "tensor", "tensor": "out"},
            {"kind": "token_count", "type": "i32"},
            {"kind": "i32", "name": "swizzled", "value": swizzled_flag},
        ],
    })
    return m


def add_t_zero_manifest():
    # add_t with a 256-byte workspace whose first 64 bytes each launch
    # zeroes before the kernel (which then writes T to its first 4).
    m = add_t_manifest()
    m["workspace_bytes"] = 256
    m["workspace_zero_bytes"] = 64
    return m


# tma_copy reading x [rows, 32] f32 from the workspace at this offset.
WS_OFFSET = 256
WS_ROWS = 128


def tma_workspace_manifest():
    m = tma_manifest("none", 0)
    m.update({
        "workspace_bytes": WS_OFFSET + WS_ROWS * 32 * 4,
        "workspace_zero_bytes": 64,
        "tensors": [
            {"name": "out", "dtype": "f32", "shape": ["T", 32],
             "role": "output"},
        ],
        "tma": [
            {"name": "x_desc",
             "workspace": {"offset": WS_OFFSET, "dtype": "f32",
                           "shape": [WS_ROWS, 32]},
             "box": [8, 32], "swizzle": "none", "l2_promotion": "256B"},
        ],
    })
    return m


#===-------------------------------------------------------------------===#
# Tests
#===-------------------------------------------------------------------===#


def run_tests(rt, torch, work):
    dev = torch.device("cuda", 0)
    nan = float("nan")
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    MoeArgumentError = rt.MoeArgumentError

    k = rt.Kernel.load(os.path.join(work, "add_t"), 0)
    record("load add_t (persistent grid)", "PASS",
           "grid %s, %d SMs" % (k.grid, k.num_sms))

    def inputs(T, tail=64):
        a = torch.randint(-1000, 1000, (T,), device=dev).float()
        out_buf = torch.full((T + tail,), nan, device=dev)
        info = torch.full((2,), -1, dtype=torch.int32, device=dev)
        ws = torch.zeros(4, dtype=torch.int32, device=dev)
        return a, out_buf, info, ws

    def expect_add(a, out_buf, T, offset):
        torch.cuda.synchronize()
        ref = a * 3.0 + float(T) + float(offset)
        got = out_buf[:T]
        bad = int((got != ref).sum())
        tail_ok = bool(torch.isnan(out_buf[T:]).all())
        return bad == 0 and tail_ok, "%d wrong of %d, tail %s" % (
            bad, T, "poisoned" if tail_ok else "OVERWRITTEN")

    for T in (1, 7, 1000, 100000):
        @case("add_t T=%d: out = a*3 + T + offset, tail untouched" % T)
        def _(T=T):
            a, out_buf, info, ws = inputs(T)
            k(a, out_buf[:T], info, workspace=ws, scalars=(-17,))
            ok, detail = expect_add(a, out_buf, T, -17)
            geo = info.tolist()
            ok = ok and geo == [sms, 256] and int(ws[0]) == T
            return ok, "%s; info %s (want [%d, 256]); ws[0] %d" % (
                detail, geo, sms, int(ws[0]))

    @case("add_t by name, default workspace, side stream")
    def _():
        T = 513
        a, out_buf, info, _ = inputs(T)
        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            k.launch(out=out_buf[:T], info=info, a=a, scalars=(5,))
        s.synchronize()
        return expect_add(a, out_buf, T, 5)

    @case("add_t max_sms=8 caps the persistent grid")
    def _():
        T = 5000
        a, out_buf, info, ws = inputs(T)
        k(a, out_buf[:T], info, workspace=ws, scalars=(0,), max_sms=8)
        ok, detail = expect_add(a, out_buf, T, 0)
        return ok and info.tolist()[0] == 8, "%s; grid.x %d" % (
            detail, info.tolist()[0])

    @case("add_t T=0 launches nothing")
    def _():
        a, out_buf, info, ws = inputs(0)
        k(a, out_buf[:0], info, workspace=ws, scalars=(0,))
        torch.cuda.synchronize()
        return info.tolist() == [-1, -1], "info %s" % info.tolist()

    @case("add_t captured in a CUDA graph, replayed on new data")
    def _():
        T = 4096
        a, out_buf, info, ws = inputs(T)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            k(a, out_buf[:T], info, workspace=ws, scalars=(11,))
        a.copy_(torch.randint(-1000, 1000, (T,), device=dev).float())
        out_buf.fill_(nan)
        g.replay()
        return expect_add(a, out_buf, T, 11)

    @case("add_t host launch overhead")
    def _():
        T = 1024
        a, out_buf, info, ws = inputs(T)
        o = out_buf[:T]
        for _ in range(10):
            k(a, o, info, workspace=ws, scalars=(0,))
        torch.cuda.synchronize()
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            k(a, o, info, workspace=ws, scalars=(0,))
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        return True, "%.1f us per Python launch call" % ((t1 - t0) / n * 1e6)

    # Bad arguments: each must raise MoeArgumentError with the runtime's
    # message, and nothing may run (the poisoned outputs stay poisoned).
    T = 64
    a, out_buf, info, ws = inputs(T)
    out = out_buf[:T]
    big = torch.zeros(2 * T + 8, device=dev)
    bad_cases = [
        ("wrong dtype (a f16)", "ARG_DTYPE",
         lambda: k(a.half(), out, info, workspace=ws, scalars=(0,))),
        ("wrong rank (a [T, 1])", "ARG_RANK",
         lambda: k(a.view(T, 1), out, info, workspace=ws, scalars=(0,))),
        ("T disagrees (out has T+1 rows)", "ARG_SHAPE",
         lambda: k(a, out_buf[:T + 1], info, workspace=ws, scalars=(0,))),
        ("static dim (info [3])", "ARG_SHAPE",
         lambda: k(a, out, torch.zeros(3, dtype=torch.int32, device=dev),
                   workspace=ws, scalars=(0,))),
        ("non-contiguous (a[::2])", "ARG_STRIDE",
         lambda: k(big[:2 * T:2], out, info, workspace=ws, scalars=(0,))),
        ("misaligned (a = buf[1:T+1])", "ARG_ALIGNMENT",
         lambda: k(big[1:T + 1], out, info, workspace=ws, scalars=(0,))),
        ("wrong device (a on the CPU)", "ARG_DEVICE",
         lambda: k(a.cpu(), out, info, workspace=ws, scalars=(0,))),
        ("num_tokens disagrees with the tensors", "ARG_SHAPE",
         lambda: k(a, out, info, workspace=ws, scalars=(0,), num_tokens=32)),
        ("missing call-time scalar", "ARG_COUNT",
         lambda: k(a, out, info, workspace=ws)),
        ("workspace too small", "WORKSPACE",
         lambda: k(a, out, info, workspace=ws[:2], scalars=(0,))),
        ("missing tensor", "ARG_COUNT",
         lambda: k(a, out, workspace=ws, scalars=(0,))),
    ]
    for name, code, call in bad_cases:
        @case("rejected without launch: " + name)
        def _(code=code, call=call):
            out_buf.fill_(nan)
            info.fill_(-1)
            torch.cuda.synchronize()
            try:
                call()
            except MoeArgumentError as e:
                torch.cuda.synchronize()
                untouched = bool(torch.isnan(out_buf).all()) and \
                    info.tolist() == [-1, -1]
                ok = e.status_name == "MOE_RT_ERROR_" + code and untouched
                return ok, "%s%s" % (
                    "" if untouched else "OUTPUT CHANGED; ", e)
            return False, "accepted"
    k.close()

    # The TMA path: one 8 x 32 f32 box per CTA, with and without swizzle.
    tk = rt.Kernel.load(os.path.join(work, "tma_plain"), 0)
    sk = rt.Kernel.load(os.path.join(work, "tma_swizzled"), 0)
    mk = rt.Kernel.load(os.path.join(work, "tma_swizzle_unread"), 0)

    def tma_inputs(T, tail=16):
        x = torch.randn(T, 32, device=dev)
        out_buf = torch.full((T + tail, 32), nan, device=dev)
        return x, out_buf

    for kern, label in ((tk, "swizzle none"), (sk, "swizzle 128B")):
        for T in (1, 8, 13, 128):
            @case("tma_copy %s T=%d: out = x, tail untouched" % (label, T))
            def _(kern=kern, T=T):
                x, out_buf = tma_inputs(T)
                kern(x, out_buf[:T])
                torch.cuda.synchronize()
                same = bool(torch.equal(out_buf[:T], x))
                tail = bool(torch.isnan(out_buf[T:]).all())
                return same and tail, "rows %s, tail %s" % (
                    "equal" if same else "DIFFER",
                    "poisoned" if tail else "OVERWRITTEN")

    @case("tma_copy: a 128B-swizzled box read plainly is permuted")
    def _():
        # Proves the descriptor's swizzle reaches the hardware: row 0 is
        # unchanged (chunk ^ 0) and rows 1..7 are permuted.
        T = 8
        x, out_buf = tma_inputs(T)
        mk(x, out_buf[:T])
        torch.cuda.synchronize()
        row0 = bool(torch.equal(out_buf[0], x[0]))
        others = all(not torch.equal(out_buf[r], x[r]) for r in range(1, 8))
        same_set = bool(torch.equal(out_buf[:T].sort(dim=1).values,
                                    x.sort(dim=1).values))
        return row0 and others and same_set, \
            "row 0 %s, rows 1-7 %s, values per row %s" % (
                "same" if row0 else "DIFFERENT",
                "permuted" if others else "NOT permuted",
                "kept" if same_set else "LOST")

    tma_bad = [
        ("T above max_tokens (129)", "TOKEN_COUNT",
         lambda x, o: tk(torch.zeros(129, 32, device=dev),
                         torch.zeros(129, 32, device=dev))),
        ("misaligned TMA base (x = buf[1:])", "ARG_ALIGNMENT",
         lambda x, o: tk(torch.zeros(8 * 32 + 1, device=dev)[1:].view(8, 32),
                         o)),
        ("non-contiguous TMA tensor (x[:, ::2] of [8, 64])", "ARG_STRIDE",
         lambda x, o: tk(torch.zeros(8, 64, device=dev)[:, ::2], o)),
        ("wrong dtype (x bf16)", "ARG_DTYPE",
         lambda x, o: tk(x.bfloat16(), o)),
    ]
    for name, code, call in tma_bad:
        @case("tma rejected without launch: " + name)
        def _(code=code, call=call):
            x, out_buf = tma_inputs(8)
            torch.cuda.synchronize()
            try:
                call(x, out_buf[:8])
            except MoeArgumentError as e:
                torch.cuda.synchronize()
                untouched = bool(torch.isnan(out_buf).all())
                ok = e.status_name == "MOE_RT_ERROR_" + code and untouched
                return ok, "%s%s" % (
                    "" if untouched else "OUTPUT CHANGED; ", e)
            return False, "accepted"
    for kern in (tk, sk, mk):
        kern.close()

    # The workspace: a zeroed prefix and a TMA descriptor over it.
    zk = rt.Kernel.load(os.path.join(work, "add_t_zero"), 0)

    def zero_check(ws, T):
        """ws[0:4] = T (the kernel's write, after the memset), ws[4:64]
        zeroed, ws[64:] untouched (0xFF)."""
        torch.cuda.synchronize()
        head = int(ws[:4].view(torch.int32)[0])
        zeroed = bool((ws[4:64] == 0).all())
        kept = bool((ws[64:] == 0xFF).all())
        return head == T and zeroed and kept, \
            "ws[0:4] %d (want %d), ws[4:64] %s, ws[64:] %s" % (
                head, T, "zero" if zeroed else "NOT ZEROED",
                "kept" if kept else "CHANGED")

    @case("workspace_zero_bytes=64: prefix zeroed before the kernel")
    def _():
        T = 300
        a, out_buf, info, _ = inputs(T)
        ws = torch.full((256,), 0xFF, dtype=torch.uint8, device=dev)
        zk(a, out_buf[:T], info, workspace=ws, scalars=(2,))
        ok, detail = expect_add(a, out_buf, T, 2)
        zok, zdetail = zero_check(ws, T)
        return ok and zok, "%s; %s" % (detail, zdetail)

    @case("workspace_zero_bytes: the memset is captured in a CUDA graph")
    def _():
        T = 77
        a, out_buf, info, _ = inputs(T)
        ws = torch.full((256,), 0xFF, dtype=torch.uint8, device=dev)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            zk(a, out_buf[:T], info, workspace=ws, scalars=(0,))
        ws.fill_(0xFF)
        out_buf.fill_(nan)
        g.replay()
        ok, detail = expect_add(a, out_buf, T, 0)
        zok, zdetail = zero_check(ws, T)
        return ok and zok, "%s; %s" % (detail, zdetail)

    @case("workspace_zero_bytes: validate() zeroes nothing")
    def _():
        T = 8
        a, out_buf, info, _ = inputs(T)
        ws = torch.full((256,), 0xFF, dtype=torch.uint8, device=dev)
        got = zk.validate(a, out_buf[:T], info, workspace=ws, scalars=(0,))
        torch.cuda.synchronize()
        kept = bool((ws == 0xFF).all())
        return got == T and kept, "T %d, workspace %s" % (
            got, "untouched" if kept else "CHANGED")
    zk.close()

    wk = rt.Kernel.load(os.path.join(work, "tma_workspace"), 0)
    for T in (1, 13, 128):
        @case("tma_copy over the workspace (offset %d) T=%d: out = x"
              % (WS_OFFSET, T))
        def _(T=T):
            ws = torch.full((wk.workspace_bytes,), 0xFF, dtype=torch.uint8,
                            device=dev)
            x = torch.randn(T, 32, device=dev)
            ws[WS_OFFSET:WS_OFFSET + T * 32 * 4].view(torch.float32).view(
                T, 32).copy_(x)
            out_buf = torch.full((T + 16, 32), nan, device=dev)
            wk(out_buf[:T], workspace=ws)
            torch.cuda.synchronize()
            same = bool(torch.equal(out_buf[:T], x))
            tail = bool(torch.isnan(out_buf[T:]).all())
            zeroed = bool((ws[:64] == 0).all())
            kept = bool((ws[64:WS_OFFSET] == 0xFF).all())
            return same and tail and zeroed and kept, \
                "rows %s, tail %s, ws[0:64] %s, ws[64:%d] %s" % (
                    "equal" if same else "DIFFER",
                    "poisoned" if tail else "OVERWRITTEN",
                    "zero" if zeroed else "NOT ZEROED", WS_OFFSET,
                    "kept" if kept else "CHANGED")

    @case("tma over the workspace rejected without launch: workspace too "
          "small")
    def _():
        ws = torch.full((wk.workspace_bytes - 16,), 0xFF, dtype=torch.uint8,
                        device=dev)
        out_buf = torch.full((8, 32), nan, device=dev)
        torch.cuda.synchronize()
        try:
            wk(out_buf, workspace=ws)
        except MoeArgumentError as e:
            torch.cuda.synchronize()
            untouched = bool(torch.isnan(out_buf).all()) and bool(
                (ws == 0xFF).all())
            ok = e.status_name == "MOE_RT_ERROR_WORKSPACE" and untouched
            return ok, "%s%s" % ("" if untouched else "MEMORY CHANGED; ", e)
        return False, "accepted"
    wk.close()

    # Load-time checks against the cubin and the device.
    def load_error(name, manifest, code):
        @case("load rejected: " + name)
        def _():
            with open(os.path.join(work, "tma_copy.cubin"), "rb") as f:
                cubin = f.read()
            try:
                rt.Kernel.from_memory(manifest, cubin, 0)
            except rt.MoeRuntimeError as e:
                return e.status_name == "MOE_RT_ERROR_" + code, str(e)
            return False, "loaded"

    m = tma_manifest("none", 0)
    m["params"][0] = {"kind": "tensor", "tensor": "x"}
    load_error("manifest says tensor where the cubin has a CUtensorMap", m,
               "ABI_MISMATCH")
    m = tma_manifest("none", 0)
    m["params"].append({"kind": "i32", "name": "extra", "value": 0})
    load_error("manifest lists more parameters than the kernel", m,
               "ABI_MISMATCH")
    m = tma_manifest("none", 0)
    m["kernel"] = "no_such_kernel"
    load_error("kernel name not in the cubin", m, "ABI_MISMATCH")
    m = tma_manifest("none", 0)
    m["arch"] = "sm_100a"
    load_error("arch sm_100a on an sm_90 device", m, "UNSUPPORTED_DEVICE")
    m = tma_manifest("none", 0)
    m["launch"]["dynamic_smem_bytes"] = 1 << 20
    load_error("1 MiB of dynamic shared memory", m, "UNSUPPORTED_DEVICE")

    # One artifact with builds for several chips ("images"): the runtime
    # loads the one the device runs and never reads the others.
    @case("images: the sm_90a build of an sm_100a + sm_90a artifact")
    def _():
        m = add_t_manifest()
        m["arch"], m["cubin"] = "sm_100a", "add_t.sm_100a.cubin"
        m["images"] = [{"arch": "sm_90a", "cubin": "add_t.cubin"}]
        d = os.path.join(work, "add_t_images")
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(work, "add_t", "add_t.cubin"), d)
        with open(os.path.join(d, "add_t.sm_100a.cubin"), "wb") as f:
            f.write(b"not a cubin: never read on an sm_90 device")
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(m, f, indent=1)
        k = rt.Kernel.load(d, 0)
        arch = k.arch
        k.close()
        return arch == "sm_90a", "loaded the %s build" % arch

    @case("images: no build for the device says which it has")
    def _():
        m = add_t_manifest()
        m["arch"], m["cubin"] = "sm_100a", "add_t.cubin"
        m["images"] = [{"arch": "sm_120a", "cubin": "add_t.cubin"}]
        d = write_artifact(work, "add_t_no_image", m,
                           os.path.join(work, "add_t", "add_t.cubin"))
        try:
            rt.Kernel.load(d, 0)
        except rt.MoeRuntimeError as e:
            return (e.status_name == "MOE_RT_ERROR_UNSUPPORTED_DEVICE" and
                    "built for sm_100a, sm_120a" in str(e)), str(e)
        return False, "loaded"

    @case("load from memory + unload, 100 times")
    def _():
        with open(os.path.join(work, "add_t.cubin"), "rb") as f:
            cubin = f.read()
        for _ in range(100):
            rt.Kernel.from_memory(add_t_manifest(), cubin, 0).close()
        return True, ""

    # Last: a host pointer dressed as a device tensor. Only the driver can
    # tell (check_pointers); without it this would fault on the GPU.
    @case("check_pointers rejects a host pointer claimed as device 0")
    def _():
        kk = rt.Kernel.load(os.path.join(work, "add_t"), 0)
        host = torch.zeros(64)

        class Disguised:
            dtype = host.dtype
            shape = host.shape
            device = torch.device("cuda", 0)

            def data_ptr(self):
                return host.data_ptr()

            def stride(self):
                return host.stride()

        o = torch.full((64,), nan, device=dev)
        info = torch.full((2,), -1, dtype=torch.int32, device=dev)
        try:
            kk(Disguised(), o, info, scalars=(0,), check_pointers=True)
        except MoeArgumentError as e:
            torch.cuda.synchronize()
            return e.status_name == "MOE_RT_ERROR_ARG_DEVICE" and bool(
                torch.isnan(o).all()), str(e)
        finally:
            kk.close()
        return False, "accepted"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lib", help="use this libmoe_cuda_runtime.so; no build")
    p.add_argument("--build-dir", help="standalone build folder "
                   "(default: <repo>/build-rt-standalone)")
    p.add_argument("--nlohmann-include", help="folder holding nlohmann/ "
                   "(default: <repo>/.device-inc if there, else the system)")
    p.add_argument("--cuda-include", help="folder holding cuda.h")
    p.add_argument("--work", help="artifact folder (default: a temp dir)")
    p.add_argument("--out", default=os.environ.get("OUT"),
                   help="write runtime_smoke.{txt,json} here (default: $OUT)")
    args = p.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="moe-rt-smoke-")
    os.makedirs(work, exist_ok=True)
    try:
        lib = args.lib or build_runtime(args)
        record("build libmoe_cuda_runtime.so (standalone)", "PASS", lib)
    except Exception as e:  # noqa: BLE001
        record("build libmoe_cuda_runtime.so (standalone)", "FAIL", str(e))
        return 1 if print_table(args.out) else 1
    try:
        ptxas = find_ptxas()
        add_cubin = assemble(ptxas, "add_t", work)
        tma_cubin = assemble(ptxas, "tma_copy", work)
        write_artifact(work, "add_t", add_t_manifest(), add_cubin)
        write_artifact(work, "add_t_zero", add_t_zero_manifest(), add_cubin)
        write_artifact(work, "tma_workspace", tma_workspace_manifest(),
                       tma_cubin)
        write_artifact(work, "tma_plain", tma_manifest("none", 0), tma_cubin)
        write_artifact(work, "tma_swizzled", tma_manifest("128B", 1),
                       tma_cubin)
        write_artifact(work, "tma_swizzle_unread", tma_manifest("128B", 0),
                       tma_cubin)
        record("ptxas -arch=sm_90a + manifests", "PASS", work)
    except Exception as e:  # noqa: BLE001
        record("ptxas -arch=sm_90a + manifests", "FAIL", str(e))
        print_table(args.out)
        return 1

    sys.path.insert(0, os.path.join(ROOT, "python"))
    import moe_runtime as rt
    rt.load_library(lib)
    try:
        import torch
    except ImportError:
        record("import torch", "FAIL", "PyTorch is needed")
        print_table(args.out)
        return 1
    if not torch.cuda.is_available():
        record("CUDA device", "SKIP", "no GPU visible to torch")
        print_table(args.out)
        return 2
    name = torch.cuda.get_device_name(0)
    cap = torch.cuda.get_device_capability(0)
    record("CUDA device", "PASS", "%s (sm_%d%d), torch %s" % (
        name, cap[0], cap[1], torch.__version__))
    if cap != (9, 0):
        record("sm_90 device", "SKIP", "the kernels are sm_90a")
        print_table(args.out)
        return 2
    try:
        run_tests(rt, torch, work)
    except Exception as e:  # noqa: BLE001
        record("test driver", "FAIL", "%s: %s" % (type(e).__name__, e))
        traceback.print_exc()
    return 1 if print_table(args.out) else 0


if __name__ == "__main__":
    sys.exit(main())
