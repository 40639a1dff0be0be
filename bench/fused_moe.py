#!/usr/bin/env python3
"""Benchmark: the generated fused MoE kernel against the PyTorch pipeline.

For the six cases of DESIGN.md section 9 (SwiGLU, gate/up concatenated,
router weight in the combine), and the decode shapes of DECODE_CASES when
--cases names them, on the same inputs in one process:
  * routing: softmax top-K of random logits, renormalized (as
    ../shared/bench/peer_baselines.py makes it);
  * peer: the PyTorch pipeline of peer_baselines.py (sort by expert,
    gather, GEMM1, SwiGLU, GEMM2, weighted index_add) in the layer's dtype;
  * ceilings measured in this run (bench/grouped_gemm.py's: read bandwidth,
    bf16 matmul peak, and with fp8 the fp8 matmul peak); roofline floor =
    max(FLOPs / matmul peak, bytes / read bandwidth), FLOPs = 6 T K H I,
    bytes = the weights of the experts that got tokens + x + out;
  * correctness of ours (and the peer's error) against a float32 reference
    with the IR's rounding points (test/Integration/CUDA/run_fused_moe.py's),
    before timing;
  * median of 20 timed launches (CUDA events) after 3 warm-ups.
Writes fused_moe.json, fused_moe.md and fused_moe.png (with matplotlib)
into --out.

--dtypes picks the layers (default bf16; bf16,fp8 runs both in one run):
  bf16: bf16 x, w13 and w2; peer: torch._grouped_mm; floor with the bf16
        matmul peak and 2 bytes per weight; correct if rel. Frobenius error
        <= 1e-2 and calc_diff <= 1e-4.
  fp8:  DeepSeek-V3's FP8 layer (bf16 x, quantized by the kernel per 1x128
        block; e4m3 w13, w2 with f32 scales per 128x128 block, cast from
        the same bf16 weights as the bf16 row's); peer: peer_baselines.py's
        moe_grouped_fp8, torch._scaled_grouped_mm on the same bf16 weights
        cast to e4m3 with rowwise scales, and the activations cast per row
        (use_fast_accum; n/a where this torch cannot run it), timed with
        the bf16 torch pipeline beside it (column "torch bf16 ms"); floor
        with the fp8 matmul peak and 1 byte per e4m3 weight + the f32
        scales; correct if calc_diff <= 1e-3. "rel. err vs bf16" (ours) and
        the peer's error are against the bf16 layer's float32 reference: what
        FP8 costs in accuracy, for both. Cases whose H or I is not a
        multiple of 128 (gpt-oss-120b) are skipped.
  fp8-mxfp4: the FP8 layer with MXFP4 weights (e2m1, UE8M0 scales per 1x32
        block: DeepGEMM's Mega MoE formats), quantized from the same bf16
        weights (scale: the power of two rounded up so that no value
        saturates, values rounded to the nearest e2m1, ties to even); peer
        and floor as fp8's, with half a byte per weight + a byte per 32.
  bf16-mxfp4: bf16 rows and activation with those MXFP4 weights (gpt-oss's
        recipe), expanded to bf16 in shared memory; peer: the torch bf16
        pipeline on the dequantized weights (exact in bf16; the
        dequantization not timed); reference: the bf16 one on those
        weights, the bf16 bar; floor with the bf16 matmul peak and half a
        byte per weight + a byte per 32. H and I must be multiples of 64
        (gpt-oss-120b runs).
  bf16-nvfp4: as bf16-mxfp4 with NVFP4 weights quantized from the same
        bf16 weights: per expert the f32 global scale amax / (448 * 6), per
        1x16 block the e4m3 scale amax / (6 * global) rounded to nearest,
        the values rounded to the nearest e2m1 (ties to even, saturating);
        the peer runs on those weights dequantized and rounded to bf16; the
        floor counts half a byte per weight + a byte per 16.
  mxfp8-mxfp4, mxfp8-nvfp4: as bf16-mxfp4 and bf16-nvfp4 with the rows and
        the activation quantized to MXFP8 (e4m3, a UE8M0 scale per 1x32
        block) inside the layer; correct if calc_diff <= 1e-3 against the
        reference that rounds them as the evaluator does.
  mxfp8: gpt-oss-120b-fp8's recipe: those MXFP8 rows and activation by
        MXFP8 weights quantized from the same bf16 weights (per 1x32 block
        the scale 2^ceil(log2(amax / 448)), the values to e4m3); peer as
        bf16-mxfp4's; floor with a byte per weight + a byte per 32.

Artifacts: test/Integration/CUDA/make_fused_moe.py, one folder per case:
fm_e<E>_h<H>_i<I>_k<K> (bf16), fm_fp8_e<E>_h<H>_i<I>_k<K> (--fp8),
fm_fp8mx_e<E>_h<H>_i<I>_k<K> (--fp8-mxfp4), fm_mx_e<E>_h<H>_i<I>_k<K>
(--mxfp4), fm_nv_e<E>_h<H>_i<I>_k<K> (--nvfp4), fm_mx8mx_... and
fm_mx8nv_... (--mxfp8-mxfp4, --mxfp8-nvfp4), fm_mx8_... (--mxfp8).

usage: fused_moe.py --lib libmoe_cuda_runtime.so --art DIR --out DIR
                    [--cases NAME,...]
                    [--dtypes bf16,fp8,fp8-mxfp4,bf16-mxfp4,bf16-nvfp4,
                              mxfp8-mxfp4,mxfp8-nvfp4,mxfp8]
                    [--compare NAME=DIR ...] [--peers DIR]

--peers DIR adds the Triton peers fetched into DIR (a git-ignored folder:
bench/fetch_peers.py writes it, bench/triton_peers.py says what it holds)
to the bf16 rows, each where DIR has it: vLLM's Triton fused_moe kernel
(DIR/vllm, column "vLLM Triton ms") and triton_kernels' matmul_ogs MoE MLP
(DIR/triton_kernels, column "triton_kernels ms"), timed in the same
interleaved rounds as ours, checked against the same reference (rel.
Frobenius error <= 1e-2). A triton_kernels that fails (e.g. a package
that does not match the machine's triton) or gives a wrong result is n/a
and not timed, with its error in the JSON (triton_kernels_error), and the
run goes on (a fault inside it, which poisons the CUDA context, still ends
the run).

--compare times other builds of the same layers (e.g. made with other
--kernel-options) on the same inputs in the same run, for before/after
measurements of an optimization: each is checked like the main one and gets
a column "NAME ms" in the table. Ours and the compared builds are timed in
interleaved rounds (5 rounds of 4 launches, the order rotated each round;
the median of each's 20), so that no column gains from being timed first.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "Integration", "CUDA"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import moe_runtime  # noqa: E402
from grouped_gemm import (CASES, calc_diff, ceilings,  # noqa: E402
                          fp8_text, timed, timed_interleaved)
from run_fused_moe import (dequant_mxfp4, dequant_mxfp8,  # noqa: E402
                           dequant_nvfp4, is_fp8, is_mxfp4, is_nvfp4,
                           reference, rel_fro, to_e4m3)
from run_grouped_gemm import (E2M1, FP8_BLOCK, quant_block,  # noqa: E402
                              quant_rowwise)



# Decode shapes beyond DESIGN.md's six, run only when --cases names them:
# a few rows per expert (the FP4 kernels' small tiles).
DECODE_CASES = [  # name, T, H, I, E, K
    ("qwen3-30b-a3b-decode", 128, 2048, 768, 128, 8),
    ("gpt-oss-120b-decode", 128, 2880, 2880, 128, 4),
]

def make_case(T, H, I, E, K, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    x = torch.randn(T, H, device="cuda", dtype=torch.bfloat16, generator=g)
    w13 = torch.randn(E, 2 * I, H, device="cuda", dtype=torch.bfloat16,
                      generator=g) / H ** 0.5
    w2 = torch.randn(E, H, I, device="cuda", dtype=torch.bfloat16,
                     generator=g) / I ** 0.5
    logits = torch.randn(T, E, device="cuda", dtype=torch.float32, generator=g)
    topw, topi = torch.topk(torch.softmax(logits, -1), K, dim=-1)
    topw = (topw / topw.sum(-1, keepdim=True)).float()
    return x, w13, w2, topi.to(torch.int32).contiguous(), topw.contiguous()


def route(topi, E):
    flat = topi.flatten().long()
    order = torch.argsort(flat, stable=True)
    offs = torch.cumsum(torch.bincount(flat, minlength=E), 0).to(torch.int32)
    return order, offs


def torch_pipeline(x, w13, w2, topi, topw):
    T, H = x.shape
    E, I2, _ = w13.shape
    I = I2 // 2
    K = topi.shape[1]
    order, offs = route(topi, E)
    tok = order // K
    h = torch._grouped_mm(x[tok], w13.transpose(1, 2), offs=offs,
                          out_dtype=torch.bfloat16)
    a = F.silu(h[:, :I]) * h[:, I:]
    y = torch._grouped_mm(a, w2.transpose(1, 2), offs=offs,
                          out_dtype=torch.bfloat16)
    y = y.float() * topw.flatten()[order, None]
    out = torch.zeros(T, H, device="cuda", dtype=torch.float32)
    return out.index_add_(0, tok, y).to(torch.bfloat16)


def torch_pipeline_fp8(x, wq, topi, topw):
    """peer_baselines.py's moe_grouped_fp8: the pipeline above with
    torch._scaled_grouped_mm on e4m3 operands with rowwise scales (the
    weights' cast beforehand by fp8_weights, the rows' and the
    activation's here)."""
    q13, s13, q2, s2 = wq
    T, H = x.shape
    E, I2, _ = q13.shape
    I = I2 // 2
    K = topi.shape[1]
    order, offs = route(topi, E)
    tok = order // K
    xq, xs = quant_rowwise(x[tok])
    h = torch._scaled_grouped_mm(xq, q13.transpose(1, 2), xs, s13, offs=offs,
                                 out_dtype=torch.bfloat16, use_fast_accum=True)
    a = F.silu(h[:, :I]) * h[:, I:]
    aq, as_ = quant_rowwise(a)
    y = torch._scaled_grouped_mm(aq, q2.transpose(1, 2), as_, s2, offs=offs,
                                 out_dtype=torch.bfloat16, use_fast_accum=True)
    y = y.float() * topw.flatten()[order, None]
    out = torch.zeros(T, H, device="cuda", dtype=torch.float32)
    return out.index_add_(0, tok, y).to(torch.bfloat16)


def fp8_weights(w13, w2):
    """The bf16 weights cast to e4m3, one expert at a time: ours per
    128x128 block, (w13, w2, w13_scales [E, 2I/128, H/128], w2_scales
    [E, H/128, I/128]); the peer's per row (peer_baselines.py's
    moe_grouped_fp8_prep), (q13, s13 [E, 2I], q2, s2 [E, H])."""
    ours, peer = [], []
    for w in (w13, w2):
        e, n, k = w.shape
        wq = torch.empty(e, n, k, dtype=torch.float8_e4m3fn, device="cuda")
        ws = torch.empty(e, n // FP8_BLOCK, k // FP8_BLOCK,
                         dtype=torch.float32, device="cuda")
        pq = torch.empty_like(wq)
        ps = torch.empty(e, n, dtype=torch.float32, device="cuda")
        for i in range(e):
            wq[i], ws[i] = quant_block(w[i].float(), FP8_BLOCK, FP8_BLOCK)
            pq[i], ps[i] = quant_rowwise(w[i])
        ours.append((wq, ws))
        peer += [pq, ps]
    (w13q, w13s), (w2q, w2s) = ours
    return (w13q, w2q, w13s, w2s), tuple(peer)


def e2m1_packed(q):
    """float32 [N, K] to the nearest e2m1 codes (ties to the even code,
    magnitudes past 6 to 6), packed two a byte (uint8 [N, K/2], the first
    in the low nibble)."""
    grid = torch.tensor(E2M1[:8], device=q.device)
    odd = torch.arange(8, device=q.device) % 2
    dist = (q.abs()[..., None] - grid).abs()
    # Ties to the even code: a tiny penalty on the odd ones.
    code = torch.argmin(dist + odd * 1e-6, dim=-1).to(torch.uint8)
    code |= (q < 0).to(torch.uint8) << 3
    return code[:, 0::2] | (code[:, 1::2] << 4)


def nvfp4_weights(w13, w2):
    """The bf16 weights as NVFP4, one expert at a time: the f32 global
    scale g = amax / (448 * 6), per 1x16 block the e4m3 scale of
    amax / (6 g), the values rounded to e2m1 (e2m1_packed); (w13, w2 packed
    uint8 [E, N, K/2], w13_scales, w2_scales float8_e4m3fn [E, N, K/16],
    w13_global, w2_global float32 [E])."""
    out = []
    for w in (w13, w2):
        e, n, k = w.shape
        packed = torch.empty(e, n, k // 2, dtype=torch.uint8, device="cuda")
        scales = torch.empty(e, n, k // 16, dtype=torch.float8_e4m3fn,
                             device="cuda")
        g = torch.empty(e, dtype=torch.float32, device="cuda")
        for i in range(e):
            v = w[i].float().reshape(n, k // 16, 16)
            g[i] = torch.clamp(v.abs().amax() / (448 * 6), min=2.0**-120)
            s = (v.abs().amax(-1) / (6 * g[i])).to(torch.float8_e4m3fn)
            sf = s.float() * g[i]
            q = torch.where(sf[..., None] > 0, v / sf[..., None],
                            torch.zeros_like(v))
            packed[i] = e2m1_packed(q.reshape(n, k))
            scales[i] = s
        out.append((packed, scales, g))
    (p13, s13, g13), (p2, s2, g2) = out
    return p13, p2, s13, s2, g13, g2


def mxfp8_weights(w13, w2):
    """The bf16 weights as MXFP8, one expert at a time: per 1x32 block the
    scale 2^ceil(log2(amax / 448)) (mx_round's), the values to e4m3; (w13,
    w2 e4m3 [E, N, K], w13_scales, w2_scales float8_e8m0fnu [E, N, K/32])."""
    out = []
    for w in (w13, w2):
        e, n, k = w.shape
        q = torch.empty(e, n, k, dtype=torch.float8_e4m3fn, device="cuda")
        sbytes = torch.empty(e, n, k // 32, dtype=torch.uint8, device="cuda")
        for i in range(e):
            v = w[i].float().reshape(n, k // 32, 32)
            m, ex = torch.frexp(v.abs().amax(-1) / 448.0)
            exp = torch.where(m == 0.5, ex - 1, ex)
            exp = torch.where(m == 0, torch.full_like(exp, -127),
                              exp).clamp(-127, 127)
            q[i] = to_e4m3(v * torch.ldexp(torch.ones_like(m), -exp)[..., None]
                           ).reshape(n, k)
            sbytes[i] = (exp + 127).to(torch.uint8)
        out.append((q, sbytes.view(torch.float8_e8m0fnu)))
    (q13, s13), (q2, s2) = out
    return q13, q2, s13, s2


def mxfp4_weights(w13, w2):
    """The bf16 weights as MXFP4, one expert at a time: per 1x32 block the
    scale 2^ceil(log2(amax / 6)) (no value saturates), the values rounded
    to the nearest e2m1 (e2m1_packed); (w13, w2 packed uint8 [E, N, K/2],
    w13_scales, w2_scales float8_e8m0fnu [E, N, K/32])."""
    out = []
    for w in (w13, w2):
        e, n, k = w.shape
        packed = torch.empty(e, n, k // 2, dtype=torch.uint8, device="cuda")
        sbytes = torch.empty(e, n, k // 32, dtype=torch.uint8, device="cuda")
        for i in range(e):
            v = w[i].float().reshape(n, k // 32, 32)
            amax = v.abs().amax(-1)
            exp = torch.ceil(torch.log2(torch.clamp(amax / 6, min=2.0**-127)))
            exp = torch.clamp(exp, -127, 127)
            q = v / torch.pow(2.0, exp)[..., None]
            packed[i] = e2m1_packed(q.reshape(n, k))
            sbytes[i] = (exp + 127).to(torch.uint8)
        out.append((packed, sbytes.view(torch.float8_e8m0fnu)))
    (p13, s13), (p2, s2) = out
    return p13, p2, s13, s2


def layer_weights(dtype, w13, w2):
    """Our kernel's weight arguments for `dtype` from the bf16 weights:
    (w13, w2) for bf16, FP8 with 128x128 block scales for fp8, MXFP4 for
    fp8-mxfp4 (the kernel's parameter order: w13, w2, then the scales)."""
    if dtype == "fp8":
        return tuple(fp8_weights(w13, w2)[0])
    if dtype == "fp8-mxfp4":
        return tuple(mxfp4_weights(w13, w2))
    if dtype != "bf16":
        raise ValueError("layer_weights: no weights for dtype %r" % dtype)
    return (w13, w2)


def artifact(art, E, H, I, K, dtype):
    prefix = {"fp8": "fp8_", "fp8-mxfp4": "fp8mx_",
              "bf16-mxfp4": "mx_", "bf16-nvfp4": "nv_",
              "mxfp8-mxfp4": "mx8mx_", "mxfp8-nvfp4": "mx8nv_",
              "mxfp8": "mx8_"}.get(dtype, "")
    return os.path.join(art, "fm_%se%d_h%d_i%d_k%d" % (prefix, E, H, I, K))


def layer_launch(art, T, H, I, E, K, dtype):
    """A case's layer ready to launch, for the profiling scripts
    (bench/fused_phases.py, bench/launch_fused.py): its artifact's manifest
    and kernel, a zeroed workspace, and the launch's tensors (x, ids,
    weights, the weight arguments of `dtype`, out) made as here."""
    d = artifact(art, E, H, I, K, dtype)
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    kernel = moe_runtime.Kernel.load(d)
    ws = torch.zeros(manifest["workspace_bytes"], dtype=torch.uint8,
                     device="cuda")
    x, w13, w2, ids, w = make_case(T, H, I, E, K)
    out = torch.empty(T, H, device="cuda", dtype=torch.bfloat16)
    return manifest, kernel, ws, (x, ids, w, *layer_weights(dtype, w13, w2),
                                  out)


def measure(others, ceil, name, d, dtype, data, ref_bf16, bf16_ms,
            peers=""):
    """Checks and times one layer in one dtype: ours, each --compare build,
    the torch pipeline of that dtype (and for fp8 the bf16 one, whose time
    bf16_ms caches per case), and for bf16 with peers the Triton peers of
    bench/triton_peers.py. Returns its row."""
    x, w13, w2, ids, w = data
    T, H = x.shape
    E, I2, _ = w13.shape
    I, K = I2 // 2, ids.shape[1]
    nv = dtype in ("bf16-nvfp4", "mxfp8-nvfp4")
    mx = dtype in ("fp8-mxfp4", "bf16-mxfp4", "mxfp8-mxfp4")
    fp8 = dtype in ("fp8", "fp8-mxfp4")
    mx8 = dtype.startswith("mxfp8")
    mx8w = dtype == "mxfp8"
    layer = dict(E=E, H=H, I=I, K=K, router="in_combine", gemm1="bf16",
                 gemm2="bf16", act="swiglu", layout="concat", fp8=fp8)
    if mx:
        layer["mxfp4"] = True
    if nv:
        layer["nvfp4"] = True
    if mx8:
        layer["mx8"] = True
    if mx8w:
        layer["mxfp8"] = True
    built = os.path.join(d, "case.json")
    if os.path.exists(built):
        built = json.load(open(built))
        diff = {k: built[k] for k in layer if built.get(k, layer[k]) !=
                layer[k]}
        if diff:
            sys.exit("%s was built with %s: the benchmark runs the default "
                     "layer (make_fused_moe.py's E,H,I,K)" % (d, diff))
    kernel = moe_runtime.Kernel.load(d)
    # (bf16 x FP4 has e2m1 weights too: is_fp8 says yes, case.json no.)
    fp4 = mx or nv
    if (is_fp8(kernel) != (fp8 or fp4 or mx8w) or is_mxfp4(kernel) != fp4 or
            is_nvfp4(kernel) != nv):
        sys.exit("%s: its manifest's w13 is %s, expected %s" % (
            d, kernel.tensors[3]["dtype"],
            "f4E2M1FN" if fp4 else "f8E4M3FN" if fp8 else "bf16"))

    def bf16_pipeline():
        return torch_pipeline(x, w13, w2, ids, w)

    if mx8w or nv:
        # Per expert: its weights dequantized and rounded to bf16 (w13, w2).
        if mx8w:
            ours_w = mxfp8_weights(w13, w2)
            q13, q2, s13, s2 = ours_w

            def dequant(i):
                return (dequant_mxfp8(q13[i], s13[i]).to(torch.bfloat16),
                        dequant_mxfp8(q2[i], s2[i]).to(torch.bfloat16))
        else:
            ours_w = nvfp4_weights(w13, w2)
            p13, p2, s13, s2, g13, g2 = ours_w

            def dequant(i):
                return (dequant_nvfp4(p13[i], s13[i], g13[i]).to(torch.bfloat16),
                        dequant_nvfp4(p2[i], s2[i], g2[i]).to(torch.bfloat16))
        args = (x, ids, w) + ours_w
        ref = reference(layer, *args)
        pairs = [dequant(i) for i in range(E)]
        dq13 = torch.stack([p[0] for p in pairs])
        dq2 = torch.stack([p[1] for p in pairs])
        del pairs
        peer_op = "torch._grouped_mm pipeline on the dequantized weights"

        def peer_fn():
            return torch_pipeline(x, dq13, dq2, ids, w)
    elif mx and not fp8:
        ours_w = mxfp4_weights(w13, w2)
        args = (x, ids, w) + ours_w
        ref = reference(layer, *args)
        p13, p2, s13, s2 = ours_w
        dq13 = dequant_mxfp4(p13, s13).to(torch.bfloat16)
        dq2 = dequant_mxfp4(p2, s2).to(torch.bfloat16)
        peer_op = "torch._grouped_mm pipeline on the dequantized weights"

        def peer_fn():
            return torch_pipeline(x, dq13, dq2, ids, w)
    elif fp8:
        ours_w, peer_w = fp8_weights(w13, w2)
        if mx:
            del ours_w
            torch.cuda.empty_cache()
            ours_w = mxfp4_weights(w13, w2)
        args = (x, ids, w) + ours_w
        ref = reference(layer, *args)
        peer_op = "torch._scaled_grouped_mm pipeline (rowwise scales)"

        def peer_fn():
            return torch_pipeline_fp8(x, peer_w, ids, w)
    else:
        args = (x, ids, w, w13, w2)
        ref = ref_bf16
        peer_op = "torch._grouped_mm pipeline"
        peer_fn = bf16_pipeline

    def correct(o):
        o = o.float()
        if not bool(torch.isfinite(o).all()):
            return False
        cd = calc_diff(o, ref.float())
        return cd <= 1e-3 if fp8 or mx8 else (
            rel_fro(o, ref.float()) <= 1e-2 and cd <= 1e-4)

    out = torch.full((T, H), float("nan"), device="cuda",
                     dtype=torch.bfloat16)
    kernel.launch(*args, out)
    try:
        peer = peer_fn()
        torch.cuda.synchronize()
        peer_err = None
    except Exception as ex:  # e.g. a torch without _scaled_grouped_mm
        peer, peer_err = None, str(ex).split("\n")[0][:200]
        print("%-17s %-4s %s: n/a: %s" % (name, dtype, peer_op, peer_err),
              flush=True)
    torch.cuda.synchronize()
    row = {"case": name, "dtype": dtype, "T": T, "H": H, "I": I, "E": E,
           "K": K,
           "rel_fro": rel_fro(out.float(), ref.float()),
           "calc_diff": calc_diff(out.float(), ref.float()),
           # Ours and the peer against the bf16 layer's reference.
           "rel_fro_vs_bf16": rel_fro(out.float(), ref_bf16.float()),
           "peer_rel_fro": (rel_fro(peer.float(), ref_bf16.float())
                            if peer is not None else None),
           "correct": correct(out)}
    # Ours and every --compare build, timed in interleaved rounds (each
    # round in another order): timed one after the other, the first was 2-5%
    # faster than the same kernel timed later
    # (bench/results/2026-12-02-fused-moe-fp8-mxfp4-scale-loads-h200.md).
    fns = {"ours": lambda: kernel.launch(*args, out)}
    loaded = []
    for cname, cdir in others:
        other = moe_runtime.Kernel.load(os.path.join(cdir,
                                                     os.path.basename(d)))
        loaded.append(other)
        o = torch.full_like(out, float("nan"))
        other.launch(*args, o)
        torch.cuda.synchronize()
        row[cname + "_correct"] = correct(o)
        fns[cname] = (lambda k, o: lambda: k.launch(*args, o))(other, o)
    has_vllm, has_tk = peer_kinds(peers)
    if has_vllm and dtype == "bf16":
        # vLLM's Triton fused_moe (bench/triton_peers.py), timed in the same
        # interleaved rounds as ours.
        from triton_peers import VllmFusedMoE
        vllm = VllmFusedMoE(peers, x, w13, w2, ids, w)
        row["vllm_config"] = vllm.config_source
        check_peer(row, "vllm", vllm, ref)
        fns["vllm"] = vllm
    if has_tk and dtype == "bf16":
        # triton_kernels' matmul_ogs MoE MLP (bench/triton_peers.py), timed
        # in the same rounds; n/a, with its error, where it fails.
        try:
            from triton_peers import TritonKernelsMoE
            tk = TritonKernelsMoE(peers, x, w13, w2, ids, w)
            check_peer(row, "triton_kernels", tk, ref)
            if not row["triton_kernels_correct"]:
                # A wrong result is not timed: it may be reading out of
                # bounds, and a fault would end the whole run.
                raise RuntimeError("wrong result (rel. Frobenius error %.3g)"
                                   % row["triton_kernels_rel_fro"])
            fns["triton_kernels"] = tk
        except Exception as ex:  # noqa: BLE001
            tk_failed(row, name, dtype, ex)
    try:
        times = timed_interleaved(fns)
    except Exception as ex:  # noqa: BLE001
        if "triton_kernels" not in fns:
            raise
        # Timed again without it: a failing peer never stops the run.
        fns.pop("triton_kernels")
        tk_failed(row, name, dtype, ex)
        times = timed_interleaved(fns)
    for fname, ms in times.items():
        row[fname + "_ms"] = ms
    fns.pop("vllm", None)
    fns.pop("triton_kernels", None)
    tk = None
    for other in loaded:
        other.close()
    row["torch_op"] = peer_op
    row["torch_ms"] = timed(peer_fn) if peer is not None else None
    if peer_err:
        row["torch_error"] = peer_err
    if dtype == "bf16":
        bf16_ms.setdefault("ms", row["torch_ms"])
    elif "ms" not in bf16_ms:
        try:
            bf16_ms["ms"] = timed(bf16_pipeline)
        except Exception as ex:  # noqa: BLE001
            print("%-17s torch bf16 pipeline: n/a: %s" % (
                name, str(ex).split("\n")[0][:200]), flush=True)
            bf16_ms["ms"] = None
    row["torch_bf16_ms"] = bf16_ms["ms"]

    flops = 6 * T * K * H * I
    touched = int(torch.unique(ids).numel())
    io_bytes = 2 * T * H * 2  # x and out, bf16
    if mx8w:
        # A byte per e4m3 weight + a UE8M0 byte per 32.
        nbytes = touched * (3 * H * I + 3 * H * I // 32) + io_bytes
        peak = ceil["bf16_TFLOPs"]
    elif nv:
        # Half a byte per e2m1 weight + an e4m3 byte per 16.
        nbytes = touched * (3 * H * I // 2 + 3 * H * I // 16) + io_bytes
        peak = ceil["bf16_TFLOPs"]
    elif mx:
        # Half a byte per e2m1 weight + a UE8M0 byte per 32.
        nbytes = touched * (3 * H * I // 2 + 3 * H * I // 32) + io_bytes
        peak = ceil.get("fp8_TFLOPs") if fp8 else ceil["bf16_TFLOPs"]
    elif fp8:
        # 1 byte per e4m3 weight + the f32 scales of its 128x128 blocks.
        scale_bytes = (2 * I // FP8_BLOCK * (H // FP8_BLOCK) +
                       H // FP8_BLOCK * (I // FP8_BLOCK)) * 4
        nbytes = touched * (3 * H * I + scale_bytes) + io_bytes
        peak = ceil.get("fp8_TFLOPs")
    else:
        nbytes = touched * 3 * H * I * 2 + io_bytes
        peak = ceil["bf16_TFLOPs"]
    row["floor_ms"] = max(flops / (peak * 1e9) if peak else 0.0,
                          nbytes / (ceil["read_GBps"] * 1e6))
    row["speedup"] = (row["torch_ms"] / row["ours_ms"]
                      if row["torch_ms"] is not None else None)
    row["speedup_vs_torch_bf16"] = (
        row["torch_bf16_ms"] / row["ours_ms"]
        if row["torch_bf16_ms"] is not None else None)
    row["vs_floor"] = row["ours_ms"] / row["floor_ms"]
    kernel.close()
    return row


def check_peer(row, key, fn, ref):
    """Runs a Triton peer once and records its error against the reference
    (key_rel_fro, key_calc_diff) and key_correct: finite and rel. Frobenius
    error <= 1e-2."""
    o = fn().float()
    torch.cuda.synchronize()
    row[key + "_rel_fro"] = rel_fro(o, ref.float())
    row[key + "_calc_diff"] = calc_diff(o, ref.float())
    row[key + "_correct"] = bool(torch.isfinite(o).all()) and \
        row[key + "_rel_fro"] <= 1e-2


def tk_failed(row, name, dtype, ex):
    """Marks the row's triton_kernels n/a, with the exception's text."""
    row["triton_kernels_ms"] = None
    row["triton_kernels_error"] = "%s: %s" % (
        type(ex).__name__, " ".join(str(ex).split())[:1000])
    for key in ("triton_kernels_rel_fro", "triton_kernels_calc_diff",
                "triton_kernels_correct"):
        row.pop(key, None)
    print("%-17s %-4s triton_kernels: n/a: %s" % (
        name, dtype, row["triton_kernels_error"][:300]), flush=True)
    try:
        torch.cuda.synchronize()
    except Exception:  # noqa: BLE001
        pass


def peer_cell(r, key):
    """A Triton peer's table cell: its time (WRONG where it is not
    correct), n/a where it failed, empty where it did not run."""
    if key + "_ms" not in r:
        return " |"
    if r[key + "_ms"] is None:
        return " n/a |"
    return " %.3f%s |" % (r[key + "_ms"],
                          "" if r[key + "_correct"] else " (WRONG)")


def versus_peer(rows, key):
    """'ours faster on N of M bf16 cases; geometric-mean speedup over it
    X' over the rows where the peer `key` was timed."""
    timed = [r for r in rows if r.get(key + "_ms") is not None]
    g = geomean([r[key + "_ms"] / r["ours_ms"] for r in timed])
    return ("ours faster on %d of %d bf16 cases; geometric-mean speedup "
            "over it %s" % (sum(r["ours_ms"] < r[key + "_ms"] for r in timed),
                            len(timed), "n/a" if g is None else "%.2fx" % g))


def peer_kinds(peers):
    """(vLLM kernel there, triton_kernels there) in the --peers folder."""
    if not peers:
        return False, False
    return (os.path.exists(os.path.join(peers, "vllm", "fused_moe_kernel.py")),
            os.path.isdir(os.path.join(peers, "triton_kernels",
                                       "triton_kernels")))


def vllm_provenance(peers):
    """The commit line of the fetched vLLM kernel (bench/triton_peers.py)."""
    path = os.path.join(peers, "vllm", "fused_moe_kernel.py")
    with open(path) as f:
        for line in f:
            if "commit:" in line:
                return "vLLM " + line.split("commit:", 1)[1].strip()[:12]
    return "vLLM, commit unknown"


def geomean(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    prod = 1.0
    for v in values:
        prod *= v
    return prod ** (1.0 / len(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", default="")
    ap.add_argument("--dtypes", default="bf16",
                    help="comma-separated layers to run: bf16 "
                         "(fm_e<E>_...), fp8 (fm_fp8_e<E>_...), fp8-mxfp4 "
                         "(fm_fp8mx_...), bf16-mxfp4 (fm_mx_...), "
                         "bf16-nvfp4 (fm_nv_...), mxfp8-mxfp4 (fm_mx8mx_...), "
                         "mxfp8-nvfp4 (fm_mx8nv_...), mxfp8 (fm_mx8_...); "
                         "default bf16")
    ap.add_argument("--compare", action="append", default=[],
                    metavar="NAME=DIR")
    ap.add_argument("--peers", default="",
                    help="folder of the fetched Triton peers "
                         "(bench/triton_peers.py): bf16 rows get vLLM's "
                         "Triton fused_moe and triton_kernels' matmul_ogs "
                         "beside ours, each where the folder has it")
    a = ap.parse_args()
    others = [tuple(c.split("=", 1)) for c in a.compare]
    if any(len(c) != 2 or not c[0] for c in others):
        ap.error("--compare takes NAME=DIR")
    dtypes = [d for d in a.dtypes.split(",") if d]
    known = ("bf16", "fp8", "fp8-mxfp4", "bf16-mxfp4", "bf16-nvfp4",
             "mxfp8-mxfp4", "mxfp8-nvfp4", "mxfp8")
    if not dtypes or any(d not in known for d in dtypes):
        ap.error("--dtypes takes %s or a list of them" % ", ".join(known))
    moe_runtime.load_library(a.lib)
    os.makedirs(a.out, exist_ok=True)
    res = {"date": time.strftime("%Y-%m-%d"),
           "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
           "dtypes": dtypes,
           "ceilings": ceilings(fp8=any(d in ("fp8", "fp8-mxfp4")
                                        for d in dtypes)),
           "cases": [], "skipped": []}
    if a.peers:
        has_vllm, has_tk = peer_kinds(a.peers)
        if not (has_vllm or has_tk):
            sys.exit("--peers %s: neither vllm/fused_moe_kernel.py nor "
                     "triton_kernels/triton_kernels/ (bench/fetch_peers.py "
                     "writes them)" % a.peers)
        if has_vllm:
            res["vllm_kernel"] = vllm_provenance(a.peers)
        if has_tk:
            from triton_peers import triton_kernels_source
            commit, ref = triton_kernels_source(a.peers)
            res["triton_kernels"] = "triton %s%s" % (
                commit[:12], "" if commit.startswith(ref) else " = " + ref)
    c = res["ceilings"]
    print("ceilings", json.dumps(c), flush=True)
    only = [n for n in a.cases.split(",") if n]
    for name, T, H, I, E, K in CASES + [c for c in DECODE_CASES
                                         if c[0] in only]:
        if only and name not in only:
            continue
        todo = []
        for dtype in dtypes:
            d = artifact(a.art, E, H, I, K, dtype)
            why = None
            block = 64 if dtype in ("bf16-mxfp4", "bf16-nvfp4", "mxfp8-mxfp4",
                                    "mxfp8-nvfp4", "mxfp8") else FP8_BLOCK
            if dtype != "bf16" and (H % block or I % block):
                why = "H = %d and I = %d must be multiples of %d" % (
                    H, I, block)
            elif not os.path.exists(os.path.join(d, "manifest.json")):
                why = "no artifact %s" % d
            if why:
                print("%-17s %-4s skipped: %s" % (name, dtype, why),
                      flush=True)
                res["skipped"].append({"case": name, "dtype": dtype,
                                       "why": why})
            else:
                todo.append((dtype, d))
        if not todo:
            continue
        data = make_case(T, H, I, E, K)
        x, w13, w2, ids, w = data
        layer = dict(E=E, H=H, I=I, K=K, router="in_combine", gemm1="bf16",
                     gemm2="bf16", act="swiglu", layout="concat")
        ref_bf16 = reference(layer, x, ids, w, w13, w2)
        bf16_ms = {}
        for dtype, d in todo:
            row = measure(others, c, name, d, dtype, data, ref_bf16,
                          bf16_ms, a.peers)
            res["cases"].append(row)
            print(json.dumps(row), flush=True)
            torch.cuda.empty_cache()
        del data, x, w13, w2, ids, w, ref_bf16
        torch.cuda.empty_cache()
    rows = res["cases"]
    res["geomean_speedup_by_dtype"] = {
        dt: geomean([r["speedup"] for r in rows if r["dtype"] == dt])
        for dt in dtypes}
    res["geomean_speedup_vs_torch_bf16_by_dtype"] = {
        dt: geomean([r["speedup_vs_torch_bf16"] for r in rows
                     if r["dtype"] == dt]) for dt in dtypes}
    if len(dtypes) == 1 and rows:
        res["geomean_speedup"] = res["geomean_speedup_by_dtype"][dtypes[0]]
    with open(os.path.join(a.out, "fused_moe.json"), "w") as f:
        json.dump(res, f, indent=1)

    def num(v, fmt):
        return "n/a" if v is None else fmt % v

    peer = any("vllm_ms" in r for r in rows)
    tkp = any("triton_kernels_ms" in r for r in rows)
    extra = "".join(" %s ms |" % n for n, _ in others) + (
        " vLLM Triton ms |" if peer else "") + (
        " triton_kernels ms |" if tkp else "")
    lines = ["Ceilings measured in this run: read %.0f GB/s, bf16 matmul "
             "%.0f TFLOP/s%s (%s, torch %s)." % (
                 c["read_GBps"], c["bf16_TFLOPs"], fp8_text(c), res["gpu"],
                 res["torch"]), "",
             "torch: the `_grouped_mm` pipeline for bf16; for fp8 the "
             "`_scaled_grouped_mm` pipeline with rowwise scales "
             "(peer_baselines.py's moe_grouped_fp8), with the bf16 one "
             "beside it (torch bf16 ms); for bf16-mxfp4 and bf16-nvfp4 the "
             "bf16 pipeline on the dequantized weights. Error vs bf16: against the bf16 "
             "layer's float32 reference (ours / torch).", "",
             "| case | dtype | T | E | K | H | I | ours ms |" + extra +
             " torch ms | torch bf16 ms | floor ms | vs torch |"
             " vs torch bf16 | vs floor | rel. err | calc_diff |"
             " error vs bf16 | correct |",
             "|---|---|---|---|---|---|---|---|" +
             "---|" * (len(others) + peer + tkp) +
             "---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cols = "".join(" %.3f%s |" % (r[n + "_ms"],
                                      "" if r[n + "_correct"] else " (WRONG)")
                       for n, _ in others)
        if peer:
            cols += peer_cell(r, "vllm")
        if tkp:
            cols += peer_cell(r, "triton_kernels")
        lines.append(
            "| %s | %s | %d | %d | %d | %d | %d | %.3f |%s %s | %s | "
            "%.3f | %s | %s | %.2fx | %.1e | %.1e | %.1e / %s | %s |" % (
                r["case"], r["dtype"], r["T"], r["E"], r["K"], r["H"],
                r["I"], r["ours_ms"], cols, num(r["torch_ms"], "%.3f"),
                num(r["torch_bf16_ms"], "%.3f"), r["floor_ms"],
                num(r["speedup"], "%.2fx"),
                num(r["speedup_vs_torch_bf16"], "%.2fx"), r["vs_floor"],
                r["rel_fro"], r["calc_diff"],
                r["rel_fro_vs_bf16"], num(r["peer_rel_fro"], "%.1e"),
                "yes" if r["correct"] else "NO"))
    if res["skipped"]:
        lines.append("")
    for s in res["skipped"]:
        lines.append("- %s %s: skipped (%s)" % (s["case"], s["dtype"],
                                                  s["why"]))
    if rows:
        lines.append("")
    if peer:
        lines.append(
            "vLLM Triton (%s; configs: %s): %s. Its alignment is "
            "made before the timing, so its times leave out that kernel "
            "(bench/triton_peers.py)." % (
                res["vllm_kernel"], ", ".join(
                    "%s %s" % (r["case"], r["vllm_config"])
                    for r in rows if "vllm_ms" in r),
                versus_peer(rows, "vllm")))
    if tkp:
        lines.append(
            "triton_kernels matmul_ogs (%s): %s. Its routing "
            "structures (from our top-K) are built inside the timing, its "
            "w13 interleaved for the fused swiglu before it "
            "(bench/triton_peers.py).%s" % (
                res.get("triton_kernels", "commit unknown"),
                versus_peer(rows, "triton_kernels"),
                "".join(" n/a at %s: %s." % (
                    r["case"], r["triton_kernels_error"][:200])
                        for r in rows if "triton_kernels_error" in r)))
    for dt in dtypes:
        g = res["geomean_speedup_by_dtype"][dt]
        gb = res["geomean_speedup_vs_torch_bf16_by_dtype"][dt]
        if g is None and gb is None:
            continue
        if dt in ("bf16-mxfp4", "bf16-nvfp4", "mxfp8-mxfp4", "mxfp8-nvfp4",
                  "mxfp8"):
            lines.append("Geometric-mean speedup of the %s layers over the "
                         "torch bf16 pipeline on the dequantized weights: %s"
                         % (dt, num(g, "%.2fx")))
        elif dt == "bf16":
            lines.append("Geometric-mean speedup over torch (bf16): %s" %
                         num(g, "%.2fx"))
        else:
            lines.append("Geometric-mean speedup of the %s layers over the "
                         "torch fp8 pipeline: %s; over the torch bf16 "
                         "pipeline: %s" % (dt, num(g, "%.2fx"),
                                           num(gb, "%.2fx")))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "fused_moe.md"), "w") as f:
        f.write(text)
    print(text)
    plot(rows, others, res["gpu"], os.path.join(a.out, "fused_moe.png"))
    return 0 if rows and all(r["correct"] for r in rows) else 1


def plot(rows, others, gpu, path):
    """Bar chart of the times (ours, the compared builds, torch in the
    layer's dtype, and for quantized layers torch bf16 on the bf16
    weights) over the floor, if matplotlib is there."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib: %s not written" % path)
        return
    if not rows:
        return
    quantized = any(r["dtype"] != "bf16" for r in rows)
    series = [("ours", "ours_ms")] + [(n, n + "_ms") for n, _ in others] + \
        [("torch pipeline (the layer's dtype)" if quantized else
          "torch _grouped_mm pipeline", "torch_ms")]
    if any("vllm_ms" in r for r in rows):
        series.append(("vLLM Triton fused_moe", "vllm_ms"))
    if any(r.get("triton_kernels_ms") is not None for r in rows):
        series.append(("triton_kernels matmul_ogs", "triton_kernels_ms"))
    if quantized:
        series.append(("torch bf16 pipeline, bf16 weights (quantized "
                       "layers)", "torch_bf16_ms"))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(10, 1.4 * len(rows)), 4.5))
    for j, (label, key) in enumerate(series):
        xs, ys = [], []
        for i, r in enumerate(rows):
            v = r.get(key)
            if v is None or (key == "torch_bf16_ms" and r["dtype"] == "bf16"):
                continue
            xs.append(i + (j - (len(series) - 1) / 2) * width)
            ys.append(v / r["floor_ms"])
        ax.bar(xs, ys, width, label=label)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--",
               label="roofline floor (the layer's dtype)")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(["%s\n%s" % (r["case"], r["dtype"]) for r in rows])
    ax.set_ylabel("time / roofline floor (lower is better)")
    ax.set_title("Fused MoE layer, %s, %s" % (
        ", ".join(sorted({r["dtype"] for r in rows})), gpu))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("wrote", path)


if __name__ == "__main__":
    sys.exit(main())
