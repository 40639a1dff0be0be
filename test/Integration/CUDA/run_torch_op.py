#!/usr/bin/env python3
"""The PyTorch custom op moe_compiler::fused_experts on the GPU (issue 8).

With a fresh compiler cache ($MOE_CACHE_DIR = --cache-dir):
 1. DeepSeek-V3-shaped layers (E=256, H=7168, I=2048, K=8), BF16 and FP8
    (w1/w2 e4m3 with 128x128 scales), random weights: the op on fresh
    random inputs and routings (T = 1, 37, 300 with masked slots, 300 on
    one expert, 700 > the first kernel's max_tokens), each against
    run_fused_moe.py's float32 reference (bf16: rel. Frobenius <= 1e-2 and
    calc_diff <= 1e-4; fp8: calc_diff <= 1e-3). The op's output buffer is
    poisoned first (a NaN-filled block of the same size is freed just
    before the call, so the caching allocator hands it to the op). The
    first call compiles (cache miss), later ones do not; vLLM's calling
    conventions (int64 topk_ids, inplace=True) give the same bits.
 2. Times: the cold compile of each layer (moe-jit on an empty cache), a
    cache hit through the index (a fresh process's path: no moe-jit run),
    a cache hit through moe-jit (index removed), and the in-process memo.
 3. torch.library.opcheck on small BF16, FP8 and gpt-oss-style
    (swigluoai: clamped SwiGLU, gate/up interleaved) layers.
 4. CUDA graphs: warm_up(), one capture of the op, three replays on new
    routings and inputs copied in place, each checked; a capture of a
    layer that was not warmed up fails with the error that says so.
 5. Two processes compiling the same new layer at once on an empty cache:
    both succeed, one cache entry.
 6. $MOE_COMPILER_CHIPS=sm_90a,sm_100a: small BF16 and FP8 layers compiled
    into artifacts with both builds; the sm_90a one is loaded and right.
 7. gpt-oss's per-expert biases (w1_bias, w2_bias: bf16, then float32) on
    a small swigluoai layer with I and H not multiples of the tiles, on
    T = 1, 37, 300, against the same reference; one bias alone, biases
    with FP8 weights and a bias of the wrong shape raise.
 8. moe_compiler::fused_moe (vLLM's fused_moe: the routing from the
    router logits inside the kernel): Qwen3's softmax routing (f32 and
    bf16 logits) and DeepSeek-V3's (sigmoid, e_score_correction_bias,
    grouped top-k, routed_scaling_factor 2.5) on small BF16 and FP8
    layers, T = 1, 37, 300, against run_fused_moe.py's float64 routing and
    float32 layer (tokens without a clear choice left out); a shared
    expert folded into the layer (num_fused_shared_experts = 1, weight
    0.75: 16 routed experts + 1); torch.library.opcheck on it; groups that
    do not divide E, a bias of the wrong shape, a negative number of
    shared experts and logits that cover the shared expert raise.
Prints a PASS/FAIL table and the times; writes them as JSON with --out.

usage: run_torch_op.py --lib libmoe_cuda_runtime.so --moe-jit moe-jit
                       --cache-dir DIR [--out FILE] [--small]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.path.join(HERE, "..", "..", "..", "python")
sys.path.insert(0, PYTHON)

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from moe_runtime import jit  # noqa: E402
from run_fused_moe import (calc_diff, reference, rel_fro,  # noqa: E402
                           route_inputs, route_reference, routing, tokens,
                           weights)

ROWS = []
TIMES = {}


def record(label, ok, note=""):
    ROWS.append(dict(check=label, ok=bool(ok), note=note))
    print("%-4s %-66s %s" % ("PASS" if ok else "FAIL", label, note),
          flush=True)
    return ok


def compare(label, out, ref, fp8):
    finite = bool(torch.isfinite(out).all())
    rel, cd = rel_fro(out.float(), ref.float()), calc_diff(out.float(),
                                                           ref.float())
    ok = finite and (cd <= 1e-3 if fp8 else rel <= 1e-2 and cd <= 1e-4)
    return record(label, ok, "rel %.2e calc_diff %.2e%s" % (
        rel, cd, "" if finite else " non-finite"))


def poison_pool(T, H, dev):
    """Frees a NaN-filled [T, H] bf16 block: the caching allocator returns
    it to the next allocation of that size (the op's output)."""
    p = torch.full((T, H), float("nan"), dtype=torch.bfloat16, device=dev)
    del p


def op_args(c, wts):
    w1, w2 = wts[0], wts[1]
    kw = {}
    if c["fp8"]:
        kw = dict(w1_scale=wts[2], w2_scale=wts[3])
    act = {"swiglu": "silu", "clamped_swiglu": "swigluoai"}[c["act"]]
    return w1, w2, act, kw


def call(c, x, ids, w, wts):
    w1, w2, act, kw = op_args(c, wts)
    return torch.ops.moe_compiler.fused_experts(x, w1, w2, w, ids, act,
                                                **kw)


def check_layer(c, gen, dev, ops):
    """Part 1 and 2 for one DeepSeek-V3-shaped layer."""
    name = "%s E=%d H=%d I=%d K=%d" % ("fp8" if c["fp8"] else "bf16",
                                       c["E"], c["H"], c["I"], c["K"])
    wts = weights(c, gen, dev)
    w1, w2, act, kw = op_args(c, wts)
    spec = ops.layer_spec(w1, w2, c["K"], act, kw.get("w1_scale"),
                          kw.get("w2_scale"))
    torch.cuda.synchronize()  # the weights' generation, not the op's time
    # The first call's parts: the compiler, the kernel's load (and its
    # workspace's allocation), the rest (the launch, the sync).
    parts = {}

    def timed(fn, part):
        def wrapper(*args, **kwargs):
            t = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                parts[part] = parts.get(part, 0) + time.time() - t
        return wrapper

    real_compile, real_load = ops.jit.compile_layer, ops._load
    ops.jit.compile_layer = timed(real_compile, "compile")
    ops._load = timed(real_load, "load")
    first = True
    for T, kind in [(1, "random"), (37, "random"), (300, "masked"),
                    (300, "one_expert"), (700, "random")]:
        x = tokens(c, T, gen, dev)
        ids, w = routing(kind, T, c["E"], c["K"], gen, dev)
        poison_pool(T, c["H"], dev)
        t0 = time.time()
        out = call(c, x, ids, w, wts)
        torch.cuda.synchronize()
        dt = time.time() - t0
        if first:
            arts = [v for k, v in jit._MEMO.items() if k[0][1] == spec]
            ops.jit.compile_layer, ops._load = real_compile, real_load
            TIMES[name + ": first call (compile, load, workspace, run)"] = dt
            TIMES[name + ": first call: the compiler (moe-jit process)"] = \
                parts["compile"]
            TIMES[name + ": first call: load and workspace"] = \
                parts["load"] - parts["compile"]
            record("%s: the first call compiled (cache %s)" % (
                name, arts[0].cache if arts else "?"),
                arts and arts[0].cache == "miss")
            first = False
        compare("%s T=%d %s" % (name, T, kind), out,
                reference(c, x, ids, w, *wts), c["fp8"])
        if T == 300 and kind == "masked":
            # vLLM's conventions: int64 ids, the fused_experts wrapper,
            # inplace=True: the same bits.
            ref_out = out.clone()
            again = ops.fused_experts(x.clone(), w1, w2, w, ids.long(),
                                      activation=act,
                                      use_fp8_w8a8=c["fp8"], **kw)
            record("%s T=%d: int64 topk_ids through fused_experts(): same "
                   "bits" % (name, T), torch.equal(again, ref_out))
            xin = x.clone()
            res = ops.fused_experts(xin, w1, w2, w, ids, inplace=True,
                                    activation=act, use_fp8_w8a8=c["fp8"],
                                    **kw)
            record("%s T=%d: inplace=True writes hidden_states" % (name, T),
                   res.data_ptr() == xin.data_ptr() and torch.equal(
                       xin, ref_out))
    # A kernel per power of two that T outgrew: 256 (T = 1, 37), 512 (300),
    # 1024 (700).
    loaded = ops.loaded_kernels().get((spec, torch.cuda.current_device()))
    record("%s: kernels by max_tokens after T = 1, 37, 300, 700: %s"
           % (name, loaded), loaded == [256, 512, 1024])

    # Times of the compiler's cache paths for this layer (max_tokens 256).
    options = "max-tokens=256"
    cold_dir = os.path.join(os.environ["MOE_CACHE_DIR"], "..", "cold-" +
                            ("fp8" if c["fp8"] else "bf16"))
    colds = []
    for _ in range(3):
        shutil.rmtree(cold_dir, ignore_errors=True)
        jit._MEMO.clear()
        t0 = time.time()
        a = jit.compile_layer(spec, kernel_options=options,
                              cache_dir=cold_dir)
        colds.append(time.time() - t0)
    TIMES[name + ": cold compile (moe-jit, empty cache, median of 3)"] = \
        sorted(colds)[1]
    record("%s: cold compile on an empty cache: %s" % (name, a.cache),
           a.cache == "miss", "%s s" % ", ".join("%.2f" % t for t in colds))
    hits = []
    for _ in range(20):
        jit._MEMO.clear()
        t0 = time.perf_counter()
        a = jit.compile_layer(spec, kernel_options=options,
                              cache_dir=cold_dir)
        hits.append(time.perf_counter() - t0)
    TIMES[name + ": cache hit, fresh process path (index, median of 20)"] = \
        sorted(hits)[10]
    record("%s: cache hit through the index: %s" % (name, a.cache),
           a.cache == "index")
    shutil.rmtree(os.path.join(cold_dir, "index"))
    jit._MEMO.clear()
    t0 = time.time()
    a = jit.compile_layer(spec, kernel_options=options, cache_dir=cold_dir)
    TIMES[name + ": cache hit through a moe-jit process"] = time.time() - t0
    record("%s: cache hit through moe-jit: %s" % (name, a.cache),
           a.cache == "hit")
    t0 = time.perf_counter()
    for _ in range(1000):
        jit.compile_layer(spec, kernel_options=options, cache_dir=cold_dir)
    TIMES[name + ": in-process memo"] = (time.perf_counter() - t0) / 1000
    return spec, wts


def check_opcheck(ops, gen, dev):
    for c in [dict(E=8, H=256, I=256, K=2, fp8=False, act="swiglu",
                   router="in_combine", gemm1="bf16", gemm2="bf16",
                   layout="concat"),
              dict(E=8, H=256, I=256, K=2, fp8=True, act="swiglu",
                   router="in_combine", gemm1="bf16", gemm2="bf16",
                   layout="concat"),
              dict(E=8, H=256, I=192, K=2, fp8=False, act="clamped_swiglu",
                   alpha=1.702, limit=7.0, router="in_combine",
                   gemm1="bf16", gemm2="bf16", layout="interleaved")]:
        wts = weights(c, gen, dev)
        w1, w2, act, kw = op_args(c, wts)
        x = tokens(c, 50, gen, dev)
        ids, w = routing("masked", 50, c["E"], c["K"], gen, dev)
        label = "opcheck %s %s" % ("fp8" if c["fp8"] else "bf16", act)
        # opcheck's test_schema compares the inputs before and after with
        # arithmetic that torch does not have for float8_e4m3fn ("mul_cuda"
        # not implemented): for FP8 weights it is left out, and the inputs'
        # bytes are compared here instead.
        tests = ("test_schema", "test_autograd_registration",
                 "test_faketensor", "test_aot_dispatch_dynamic")
        if c["fp8"]:
            tests = tests[1:]
            label += " (without test_schema)"
        inputs = (x, w1, w2, w, ids) + tuple(kw.values())
        before = [t.clone() for t in inputs]
        try:
            torch.library.opcheck(torch.ops.moe_compiler.fused_experts.default,
                                  (x, w1, w2, w, ids, act), kw,
                                  test_utils=tests)
            ok, note = True, ""
        except Exception as e:  # noqa: BLE001 - a failure is a row
            ok, note = False, "%s: %s" % (type(e).__name__, str(e)[:300])
        same = all(torch.equal(a.view(torch.uint8), b.view(torch.uint8))
                   for a, b in zip(inputs, before))
        record(label + ": inputs unchanged", same)
        record(label, ok, note)
        out = call(c, x, ids, w, wts)
        compare(label + ": result", out, reference(c, x, ids, w, *wts),
                c["fp8"])


def check_multi_chip(ops, gen, dev):
    """$MOE_COMPILER_CHIPS=sm_90a,sm_100a: one artifact with both builds
    (docs/Manifest.md, "images"); the runtime loads the device's and the
    result matches the reference."""
    os.environ["MOE_COMPILER_CHIPS"] = "sm_90a,sm_100a"
    try:
        for fp8 in (False, True):
            c = dict(E=4, H=384, I=256, K=2, fp8=fp8, act="swiglu",
                     router="in_combine", gemm1="bf16", gemm2="bf16",
                     layout="concat")
            label = "sm_90a+sm_100a artifact, %s" % ("fp8" if fp8 else "bf16")
            wts = weights(c, gen, dev)
            x = tokens(c, 77, gen, dev)
            ids, w = routing("masked", 77, c["E"], c["K"], gen, dev)
            poison_pool(77, c["H"], dev)
            out = call(c, x, ids, w, wts)
            compare(label + ": result", out, reference(c, x, ids, w, *wts),
                    fp8)
            w1, w2, act, kw = op_args(c, wts)
            spec = ops.layer_spec(w1, w2, c["K"], act, kw.get("w1_scale"),
                                  kw.get("w2_scale"))
            kernel = ops._KERNELS[(spec, torch.cuda.current_device())][0]
            # The artifact (a cache hit): both builds, the sm_100a one as
            # an image.
            art = ops.jit.compile_layer(
                spec, chip="sm_90a,sm_100a",
                kernel_options="max-tokens=%d" % ops._bucket(77))
            with open(os.path.join(art.directory, "manifest.json")) as f:
                images = json.load(f).get("images", [])
            both = [i["arch"] for i in images] == ["sm_100a"] and \
                os.path.exists(os.path.join(art.directory, images[0]["cubin"]))
            record(label + ": the device's build loaded",
                   kernel.arch == "sm_90a" and both,
                   "loaded %s; images %s" % (
                       kernel.arch, [i["arch"] for i in images]))
    finally:
        del os.environ["MOE_COMPILER_CHIPS"]


def check_graph(ops, c, spec, wts, gen, dev, T=200):
    name = "%s graph T=%d" % ("fp8" if c["fp8"] else "bf16", T)
    ops.warm_up([spec], max_tokens=512, progress=False)
    x = tokens(c, T, gen, dev)
    ids, w = routing("random", T, c["E"], c["K"], gen, dev)
    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):  # torch's eager warm-up before a capture
        call(c, x, ids, w, wts)
    torch.cuda.current_stream().wait_stream(s)
    try:
        with torch.cuda.graph(g):
            out = call(c, x, ids, w, wts)
    except Exception as e:  # noqa: BLE001
        return record(name + " capture", False, "%s: %s" % (
            type(e).__name__, e))
    record(name + " capture", True)
    for i, kind in enumerate(("masked", "one_expert", "random")):
        new_ids, new_w = routing(kind, T, c["E"], c["K"], gen, dev)
        ids.copy_(new_ids)
        w.copy_(new_w)
        x.copy_(tokens(c, T, gen, dev))
        out.fill_(float("nan"))
        g.replay()
        torch.cuda.synchronize()
        compare("%s replay %d %s" % (name, i + 1, kind), out,
                reference(c, x, ids, w, *wts), c["fp8"])
    del g


def check_parallel_warm_up(ops):
    """warm_up() of four new layers (and one twice): compiled in parallel,
    loaded once each."""
    specs = ["E=%d,H=512,I=256,K=2,precision=fp8,activation=swiglu,"
             "layout=concat,router=in_combine" % e for e in (4, 5, 6, 7)]
    calls = []
    t0 = time.time()
    kernels = ops.warm_up(specs + specs[:1], max_tokens=128,
                          progress=lambda i, n: calls.append((i, n)))
    TIMES["warm_up(): 4 new FP8 layers, compiled in parallel, loaded"] = \
        time.time() - t0
    dev = torch.cuda.current_device()
    loaded = [ops.loaded_kernels()[(s, dev)] for s in specs]
    record("warm_up() of 4 layers (one twice): 5 kernels returned, each "
           "layer loaded once, progress to 4/4",
           len(kernels) == 5 and kernels[4] is kernels[0] and
           loaded == [[128]] * 4 and calls[-1] == (4, 4),
           "loaded %s, progress %s" % (loaded, calls[-1:]))


def check_capture_without_warm_up(ops, gen, dev):
    c = dict(E=4, H=128, I=128, K=1, fp8=False, act="swiglu",
             router="in_combine", gemm1="bf16", gemm2="bf16",
             layout="concat")
    wts = weights(c, gen, dev)
    x = tokens(c, 8, gen, dev)
    ids, w = routing("random", 8, c["E"], c["K"], gen, dev)
    g = torch.cuda.CUDAGraph()
    message = ""
    try:
        with torch.cuda.graph(g):
            call(c, x, ids, w, wts)
    except RuntimeError as e:
        message = str(e)
    torch.cuda.synchronize()
    record("capture of a layer not warmed up: an error naming warm_up",
           "warm_up" in message and "E=4,H=128" in message,
           message.splitlines()[0][:120] if message else "no error")


RACE = """import sys
sys.path.insert(0, %r)
from moe_runtime import jit
a = jit.compile_layer(%r, kernel_options="max-tokens=2048", cache_dir=%r)
print(a.cache, a.directory)
"""


def check_two_processes(spec, root):
    d = os.path.join(root, "race")
    shutil.rmtree(d, ignore_errors=True)
    code = RACE % (PYTHON, spec, d)
    procs = [subprocess.Popen([sys.executable, "-c", code],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate() + (p.returncode,) for p in procs]
    entries = [e for e in os.listdir(d) if e != "index"]
    dirs = {r[0].split()[-1] for r in results if r[2] == 0 and r[0]}
    ok = all(r[2] == 0 for r in results) and len(entries) == 1 and \
        len(dirs) == 1
    record("two processes compile one layer at once: both succeed, one "
           "entry", ok, "; ".join(r[0].strip() or r[1].strip()[-200:]
                                  for r in results) + "; entries %s"
           % entries)


def check_bias(ops, gen, dev):
    """Part 7: gpt-oss's per-expert biases through fused_experts."""
    c = dict(E=8, H=320, I=192, K=4, fp8=False, act="clamped_swiglu",
             alpha=1.702, limit=7.0, router="in_combine", gemm1="bf16",
             gemm2="bf16", layout="interleaved", bias=True)
    w13, w2, b13, b2 = weights(c, gen, dev)
    for dt in (torch.bfloat16, torch.float32):
        b1, bb2 = b13.to(dt), b2.to(dt)
        for T in (1, 37, 300):
            x = tokens(c, T, gen, dev)
            ids, w = routing("random", T, c["E"], c["K"], gen, dev)
            label = "biases %s T=%d" % (str(dt).replace("torch.", ""), T)
            try:
                out = ops.fused_experts(x, w13, w2, w, ids,
                                        activation="swigluoai", w1_bias=b1,
                                        w2_bias=bb2)
                torch.cuda.synchronize()
                compare(label, out, reference(c, x, ids, w, w13, w2, b1, bb2),
                        False)
            except Exception as e:  # noqa: BLE001 - a failure is a row
                record(label, False, "%s: %s" % (type(e).__name__, e))
    x = tokens(c, 4, gen, dev)
    ids, w = routing("random", 4, c["E"], c["K"], gen, dev)
    # An FP8 layer (H = I = 256) with biases.
    E, H8, I8 = c["E"], 256, 256
    fp8 = dict(
        w1=torch.zeros(E, 2 * I8, H8, device=dev).to(torch.float8_e4m3fn),
        w2=torch.zeros(E, H8, I8, device=dev).to(torch.float8_e4m3fn),
        use_fp8_w8a8=True,
        w1_scale=torch.ones(E, 2 * I8 // 128, H8 // 128, device=dev),
        w2_scale=torch.ones(E, H8 // 128, I8 // 128, device=dev),
        w1_bias=torch.zeros(E, 2 * I8, device=dev, dtype=torch.bfloat16),
        w2_bias=torch.zeros(E, H8, device=dev, dtype=torch.bfloat16))
    x8 = tokens(dict(c, H=H8), 4, gen, dev)
    bad = [("one bias", ValueError, x, dict(w1=w13, w2=w2, w1_bias=b13)),
           ("wrong shape", ValueError, x,
            dict(w1=w13, w2=w2, w1_bias=b13, w2_bias=b13)),
           ("fp8 weights", NotImplementedError, x8, fp8)]
    for what, error, xin, kw in bad:
        w1_, w2_ = kw.pop("w1"), kw.pop("w2")
        try:
            ops.fused_experts(xin, w1_, w2_, w, ids, activation="silu", **kw)
            record("biases: %s raises" % what, False, "no error")
        except error as e:
            record("biases: %s raises" % what, True,
                   "%s: %s" % (type(e).__name__, str(e)[:60]))
        except Exception as e:  # noqa: BLE001 - the wrong kind is a row
            record("biases: %s raises" % what, False,
                   "%s: %s" % (type(e).__name__, e))


def check_routed(ops, gen, dev):
    """Part 8: the routing in the kernel through fused_moe."""
    base = dict(E=16, H=256, I=256, K=4, act="swiglu", router="in_combine",
                gemm1="bf16", gemm2="bf16", layout="concat")
    cases = [("softmax f32", dict(route="softmax"), {}, torch.float32),
             ("softmax bf16 logits", dict(route="softmax"), {},
              torch.bfloat16),
             ("sigmoid grouped", dict(route="sigmoid", groups=8,
                                      topk_groups=4, scaling=2.5),
              dict(scoring_func="sigmoid", use_grouped_topk=True,
                   num_expert_group=8, topk_group=4,
                   routed_scaling_factor=2.5), torch.float32)]
    for fp8 in (False, True):
        c0 = dict(base, fp8=fp8)
        wts = weights(c0, gen, dev)
        kw8 = dict(use_fp8_w8a8=True, w1_scale=wts[2], w2_scale=wts[3]) \
            if fp8 else {}
        for what, route, kw, ldt in cases:
            c = dict(c0, **route)
            for T in (1, 37, 300):
                label = "fused_moe %s %s T=%d" % ("fp8" if fp8 else "bf16",
                                                  what, T)
                try:
                    x = tokens(c, T, gen, dev)
                    ops_in = route_inputs(c, T, "random", gen, dev)
                    logits = ops_in[0].to(ldt)
                    rb = ops_in[1] if len(ops_in) > 1 else None
                    ids, w, clear = route_reference(c, logits.float(), rb)
                    out = ops.fused_moe(x, wts[0], wts[1], logits, c["K"],
                                        True, e_score_correction_bias=rb,
                                        **kw, **kw8)
                    torch.cuda.synchronize()
                    ref = reference(c, x, ids, w, *wts)
                    compare(label, out[clear], ref[clear], fp8)
                except Exception as e:  # noqa: BLE001 - a failure is a row
                    record(label, False, "%s: %s" % (type(e).__name__, e))
    # A shared expert folded into the layer: w1 and w2 hold 16 + 1
    # experts, the logits 16; every token's fifth slot is expert 16.
    c = dict(base, E=17, K=5, fp8=False, route="softmax", groups=1,
             topk_groups=1, scaling=1.0, shared=1, shared_weight=0.75)
    wts = weights(c, gen, dev)
    for T in (1, 37, 300):
        label = "fused_moe bf16 shared expert T=%d" % T
        try:
            x = tokens(c, T, gen, dev)
            logits = route_inputs(c, T, "random", gen, dev)[0]
            ids, w, clear = route_reference(c, logits)
            out = ops.fused_moe(x, wts[0], wts[1], logits, 4, True,
                                num_fused_shared_experts=1,
                                shared_experts_weight=0.75)
            torch.cuda.synchronize()
            compare(label, out[clear], reference(c, x, ids, w, *wts)[clear],
                    False)
        except Exception as e:  # noqa: BLE001 - a failure is a row
            record(label, False, "%s: %s" % (type(e).__name__, e))
    c = dict(base, fp8=False, route="sigmoid", groups=8, topk_groups=4)
    wts = weights(c, gen, dev)
    x = tokens(c, 8, gen, dev)
    logits, rb = route_inputs(c, 8, "random", gen, dev)
    try:
        torch.library.opcheck(
            torch.ops.moe_compiler.fused_moe,
            (x, wts[0], wts[1], logits, 4, True),
            dict(scoring_func="sigmoid", num_expert_group=8, topk_group=4,
                 e_score_correction_bias=rb, routed_scaling_factor=2.5))
        record("fused_moe opcheck", True)
    except Exception as e:  # noqa: BLE001
        record("fused_moe opcheck", False, "%s: %s" % (type(e).__name__, e))
    for what, kw in (("groups not dividing E",
                      dict(use_grouped_topk=True, num_expert_group=3,
                           topk_group=2)),
                     ("bias of the wrong shape",
                      dict(scoring_func="sigmoid",
                           e_score_correction_bias=rb[:8].contiguous())),
                     ("a negative number of shared experts",
                      dict(num_fused_shared_experts=-1)),
                     ("logits over the shared expert too",
                      dict(num_fused_shared_experts=1))):
        try:
            ops.fused_moe(x, wts[0], wts[1], logits, 4, True, **kw)
            record("fused_moe: %s raises" % what, False, "no error")
        except ValueError as e:
            record("fused_moe: %s raises" % what, True, str(e)[:70])
        except Exception as e:  # noqa: BLE001
            record("fused_moe: %s raises" % what, False,
                   "%s: %s" % (type(e).__name__, e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--moe-jit", required=True)
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--out", default="")
    ap.add_argument("--small", action="store_true",
                    help="a small layer instead of DeepSeek-V3's (quick)")
    a = ap.parse_args()
    root = os.path.abspath(a.cache_dir)
    shutil.rmtree(root, ignore_errors=True)
    os.environ["MOE_CACHE_DIR"] = os.path.join(root, "cache")
    os.environ["MOE_JIT"] = os.path.abspath(a.moe_jit)
    moe_runtime.load_library(a.lib)
    import moe_runtime.torch_ops as ops
    gen = torch.Generator(device="cuda").manual_seed(4321)
    dev = "cuda"
    E, H, I, K = (8, 512, 256, 2) if a.small else (256, 7168, 2048, 8)
    for fp8 in (False, True):
        c = dict(E=E, H=H, I=I, K=K, fp8=fp8, act="swiglu",
                 router="in_combine", gemm1="bf16", gemm2="bf16",
                 layout="concat")
        try:
            spec, wts = check_layer(c, gen, dev, ops)
            check_graph(ops, c, spec, wts, gen, dev)
            if fp8:
                check_two_processes(spec, root)
        except Exception as e:  # noqa: BLE001 - a failure is a row
            record("%s layer" % ("fp8" if fp8 else "bf16"), False,
                   "%s: %s" % (type(e).__name__, e))
        wts = None
        torch.cuda.empty_cache()
    # Each part on its own: one that raises is a FAIL row, the others run.
    for part, args in ((check_opcheck, (ops, gen, dev)),
                       (check_multi_chip, (ops, gen, dev)),
                       (check_parallel_warm_up, (ops,)),
                       (check_capture_without_warm_up, (ops, gen, dev)),
                       (check_bias, (ops, gen, dev)),
                       (check_routed, (ops, gen, dev))):
        try:
            part(*args)
        except Exception as e:  # noqa: BLE001 - a failure is a row
            record(part.__name__, False, "%s: %s" % (type(e).__name__, e))
        torch.cuda.empty_cache()
    print("\ntimes:")
    for k, v in TIMES.items():
        print("  %-70s %9.3f ms" % (k, v * 1e3))
    passed = sum(r["ok"] for r in ROWS)
    print("\n%d of %d checks passed" % (passed, len(ROWS)))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(dict(rows=ROWS, times_s=TIMES), f, indent=1)
    sys.exit(0 if ROWS and passed == len(ROWS) else 1)


if __name__ == "__main__":
    main()
