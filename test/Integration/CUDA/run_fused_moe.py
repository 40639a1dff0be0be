#!/usr/bin/env python3
"""Runs generated fused MoE kernels on the GPU and checks them.

For each artifact folder made by make_fused_moe.py, launches the kernel
through python/moe_runtime on fresh random inputs and routings (T = 1,
T not a multiple of anything, every token on expert 0, half the experts
without tokens, masked (-1) slots, a NaN in one token's row, "tails":
experts of 129, 144, 145, 128, 16, 17, 1, 0, 136, 272, 273 and 257 rows in
turn, whose last 128-row blocks hold 1 to 17 rows), with the
output poisoned (NaN) first, and compares it with a float32 torch reference
that rounds where the IR says (GEMM1 output, activation, GEMM2 output,
combine in ascending slot order): relative Frobenius error and DeepGEMM's
calc_diff. A NaN token must not reach other tokens.
  bf16 layers: x ~ N(0, 1) and w13, w2 ~ N(0, 1) / sqrt(fan-in), rounded
        to bf16; pass with rel. Frobenius <= 1e-2 and calc_diff <= 1e-4.
  FP8 layers (make_fused_moe.py --fp8; told by the manifest: arg3, w13, is
        f8E4M3FN): x uniform in [-1, 1] in bf16; w13, w2 uniform in
        [-1, 1] / sqrt(fan-in) in float32, cast to e4m3 per 128x128 block
        (run_grouped_gemm.py's quant_block); launched as (x, ids, weights,
        w13, w2, w13_scales, w2_scales, out). The reference quantizes as
        the reference evaluator does (lib/Reference/Kernels.cpp, quantize
        fp8_block): the dispatched rows per 1x128 block, GEMM1 block-scaled
        (the float32 partial sum of each 128-wide k block times
        x_scale * w_scale, added in ascending block order), rounded to
        gemm1_type, the activation rounded to bf16 and quantized per 1x128
        block, GEMM2 block-scaled, rounded to gemm2_type, then the combine;
        pass with calc_diff <= 1e-3 (rel. Frobenius reported). A NaN in x
        is left out of its block's amax and quantizes to NaN, so only its
        token's output is NaN.
  FP8 x MXFP4 layers (make_fused_moe.py --fp8-mxfp4; the manifest's arg3
        is f4E2M1FN): as FP8, with w13, w2 every e2m1 code, packed two a
        byte (uint8 [E, N, K/2], the first value in the low nibble), and
        UE8M0 scales per 1x32 block (float8_e8m0fnu [E, N, K/32]) drawn
        from 7 consecutive powers of two around 1 / (2.5 sqrt(fan-in)) (and
        once from 25, for blocks far below their row's largest: the kernel
        rounds those, docs/FusedKernel.md); the reference multiplies by the
        exactly dequantized weights in 128-wide k blocks. Same bar.
  bf16 x MXFP4 layers (make_fused_moe.py --mxfp4; case.json's fp8 is
        false): bf16 rows as the bf16 layer's, those MXFP4 weights expanded
        to bf16 in the kernel (exact); the reference is the bf16 layer's on
        the exactly dequantized weights, with the bf16 bar.
  bf16 x NVFP4 layers (make_fused_moe.py --nvfp4; the manifest's arg5 is
        f8E4M3FN): as bf16 x MXFP4 with NVFP4 weights: every e2m1 code, an
        e4m3 scale per 1x16 block (float8_e4m3fn [E, N, K/16], bytes 0x01
        to 0x4F: subnormal scales included) and an f32 scale per expert
        around 1 / (16 sqrt(fan-in)) ([E]); launched as (x, ids, weights,
        w13, w2, w13_scales, w2_scales, w13_global, w2_global, out). The
        reference multiplies by the exactly dequantized weights times the
        global scale; the bf16 bar.
  MXFP8 x MXFP4 and MXFP8 x NVFP4 layers (--mxfp8-mxfp4, --mxfp8-nvfp4;
        case.json's mx8): as bf16 x MXFP4 and bf16 x NVFP4 with the
        dispatched rows and the activation (after its bf16 rounding)
        quantized to MXFP8 and dequantized in the reference as the
        reference evaluator does (mx_round: per 1x32 block e =
        ceil(log2(amax / 448)) over the finite values, e4m3 values with
        saturation); the FP8 bar (calc_diff <= 1e-3).
  MXFP8 layers (--mxfp8; case.json's mxfp8): those MXFP8 rows and
        activation by MXFP8 weights: every e4m3 code but NaN, UE8M0 scales
        per 1x32 block from 3 consecutive powers of two around
        1 / (200 sqrt(fan-in)); the reference multiplies by the exactly
        dequantized weights; the FP8 bar.

Routed layers (make_fused_moe.py's softmax and sigmoid fields; case.json's
route): the kernel routes (moek.route) from router logits [T, E] f32,
N(0, 4) (every token's first K experts 20 higher for "one expert", the
second half of the experts 20 lower for "half the experts"; no masked
slots: a route masks none), and, sigmoid, a selection bias [E] uniform in
[0, 0.2]; launched as (x, logits[, bias], w13, ...). The reference routes
by moe.route's rules in float64 and runs the layer on those ids and
weights; a token whose choice is not clear (its last chosen and first
unchosen selection scores, or kept and dropped group scores, within 1e-5:
the kernel's f32 scores with ex2.approx may rank them otherwise) is left
out of the comparison, and the count is printed. With shared experts
(make_fused_moe.py's sharedS) the logits are over the routed experts and
every token's last S slots name the shared ones (weight 0.75), so each
shared expert gets every token.

Per artifact, batch invariance: the first 7 tokens of a batch of 300,
launched alone (T = 7: the artifact's kernel for small T if it has
variants) and among 293 other tokens with other values and routings, must
give bitwise the outputs they get in the first batch.

Then, per artifact, a CUDA graph: the inputs are allocated once (workspace
included, passed explicitly); one launch runs eagerly on a side stream
(torch's warm-up before a capture) with torch's sync debug mode set to
"error" and the stream kept busy by a sleep kernel queued before it: the
call must return before the GPU gets to the kernel (a host synchronization
of any kind, the driver's included, would wait for the sleep); that launch
is captured in a torch.cuda.CUDAGraph (a capture fails on any synchronizing
call) and replayed on three new routings (masked slots, every token on
expert 0, random) and new x values, copied into the captured tensors in
place, with the output poisoned in place before each replay.

Prints a PASS/FAIL table; exit status 0 only if every check passed.

usage: run_fused_moe.py --lib libmoe_cuda_runtime.so --art DIR [--filter S]
                        [--out DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from run_grouped_gemm import (E2M1, FP8_BLOCK, FP8_MAX,  # noqa: E402,F401
                              calc_diff, nvfp4_weights, quant_block,
                              random_e2m1, random_e4m3, reference_fp8,
                              rel_fro)

ROWS = []


def rnd(t, name):
    return t.to(torch.bfloat16).float() if name == "bf16" else t


def w13_arg(kernel):
    """The manifest's index of w13: 3 (x, ids, weights, w13), or 2 for a
    routed kernel without a route bias (x, logits, w13)."""
    t = kernel.tensors
    return 2 if len(t[2]["shape"]) == 3 else 3


def is_fp8(kernel):
    """An FP8 layer: its manifest's w13 is e4m3 (or e2m1: FP8 x MXFP4,
    whose x is quantized as FP8's)."""
    return kernel.tensors[w13_arg(kernel)]["dtype"] in ("f8E4M3FN",
                                                        "f4E2M1FN")


def is_mxfp4(kernel):
    """An FP8 x MXFP4 layer: its manifest's w13 is e2m1."""
    return kernel.tensors[w13_arg(kernel)]["dtype"] == "f4E2M1FN"


def is_nvfp4(kernel):
    """A bf16 x NVFP4 layer: e2m1 w13 with e4m3 scales (two after it)."""
    return is_mxfp4(kernel) and \
        kernel.tensors[w13_arg(kernel) + 2]["dtype"] == "f8E4M3FN"


def dtype_of(c):
    if c.get("mxfp8"):
        return "mxfp8"
    if c.get("mx8"):
        return "mxfp8-nvfp4" if c.get("nvfp4") else "mxfp8-mxfp4"
    if c.get("nvfp4"):
        return "bf16-nvfp4"
    if c.get("mxfp4"):
        return "fp8-mxfp4" if c.get("fp8") else "bf16-mxfp4"
    return "fp8" if c.get("fp8") else "bf16"


def to_e4m3(t):
    """float32 -> e4m3 as the reference evaluator rounds (nearest even,
    saturating to +-448, NaN stays NaN). torch's cast does not saturate
    (values past 448 may become NaN), hence the clamp, which keeps NaN."""
    return t.clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)


def mx_round(t):
    """float32 [R, C] (C a multiple of 32) rounded per 1x32 block to its
    MXFP8 value as moe.quantize mxfp8 and moe.dequantize compute it
    (lib/Reference: computeUE8M0Exponent): e = ceil(log2(amax / 448)) of
    the f32 quotient, amax over the finite |v| (-127 for a zero block,
    clamped to [-127, 127]), the values times 2^-e rounded to e4m3 with
    saturation (NaN stays NaN), times 2^e."""
    r, c = t.shape
    b = t.float().reshape(r, c // 32, 32)
    amax = torch.where(torch.isfinite(b), b.abs(),
                       torch.zeros_like(b)).amax(-1)
    q = amax / 448.0
    m, ex = torch.frexp(q)
    e = torch.where(m == 0.5, ex - 1, ex)
    e = torch.where(q == 0, torch.full_like(e, -127), e).clamp(-127, 127)
    one = torch.ones_like(q)
    v = to_e4m3(b * torch.ldexp(one, -e)[..., None]).float()
    return (v * torch.ldexp(one, e)[..., None]).reshape(r, c)


def quant_rows_fp8(t):
    """moe.quantize fp8_block with 1x128 blocks of float32 t [R, C], as
    lib/Reference/Kernels.cpp computes it: amax over the block's finite |v|,
    a = max(amax, 1e-4), scale = a / 448 and inv = 448 / a (float32
    divisions: a tensor divisor, since torch turns a division by a scalar
    into a product with its reciprocal), q = e4m3(v * inv). Returns (q
    [R, C] e4m3, scales [R, C/128] float32)."""
    r, cols = t.shape
    v = t.float().reshape(r, cols // FP8_BLOCK, FP8_BLOCK)
    amax = torch.where(torch.isfinite(v), v.abs(),
                       torch.zeros_like(v)).amax(dim=-1)
    a = torch.maximum(amax, torch.full_like(amax, 1e-4))
    m = torch.full_like(a, FP8_MAX)
    scale, inv = a / m, m / a
    return to_e4m3(v * inv[..., None]).reshape(r, cols), scale


def gemm_fp8(xq, xs, wq, ws):
    """Rows xq [M, K] (e4m3, scales xs [M, K/128]) times one expert's wq
    [N, K] (e4m3, scales ws [N/128, K/128]), block-scaled in float32 as
    the reference evaluator adds it (run_grouped_gemm.py's reference_fp8)."""
    offsets = torch.tensor([0, xq.shape[0]], dtype=torch.int32)
    return reference_fp8(xq, xs, wq.unsqueeze(0), ws.unsqueeze(0), offsets)


def reference(c, x, ids, w, w13, w2, *rest):
    """The chain dispatch -> GEMM1 -> activation -> GEMM2 -> combine, in
    float32 with the IR's rounding points; with weight scales (an FP8
    layer), the rows and the activation are quantized per 1x128 block
    before each GEMM and both GEMMs are block-scaled. `rest`: the weights'
    scales and NVFP4 global scales, then (c["bias"]) the per-expert biases
    w13_bias [E, 2I] and w2_bias [E, H], in launch order: each bias added
    in f32 to its GEMM's result before the rounding."""
    b13 = b2 = None
    if c.get("bias"):
        rest, (b13, b2) = rest[:-2], rest[-2:]
    w13_scales, w2_scales, w13_global, w2_global = \
        (list(rest) + [None] * 4)[:4]
    T, K = ids.shape
    H, I = c["H"], c["I"]
    fp8 = c.get("fp8", w13_scales is not None)
    mx = c.get("mxfp4")
    out = torch.zeros(T, H, dtype=torch.float32, device=x.device)
    ys = torch.zeros(T, K, H, dtype=torch.float32, device=x.device)
    for e in range(c["E"]):
        tok, slot = torch.where(ids == e)
        if tok.numel() == 0:
            continue
        rows = mx_round(x[tok].float()) if c.get("mx8") else x[tok].float()
        if c.get("mxfp8"):
            h = rows @ dequant_mxfp8(w13[e], w13_scales[e]).t()
        elif c.get("nvfp4"):
            h = rows @ dequant_nvfp4(w13[e], w13_scales[e],
                                     w13_global[e]).t()
        elif mx and not fp8:
            # bf16 x MXFP4: the exactly dequantized weights.
            h = rows @ dequant_mxfp4(w13[e], w13_scales[e]).t()
        elif mx:
            # The exactly dequantized weights (one expert at a time), in
            # 128-wide k blocks with unit weight scales.
            h = gemm_fp8(*quant_rows_fp8(x[tok].float()),
                         *dequant_unit(w13[e], w13_scales[e]))
        elif fp8:
            h = gemm_fp8(*quant_rows_fp8(x[tok].float()), w13[e],
                         w13_scales[e])
        else:
            h = x[tok].float() @ w13[e].float().t()
        if b13 is not None:
            h = h + b13[e].float()
        h = rnd(h, c["gemm1"])
        if c.get("layout", "concat") == "interleaved":
            g, u = h[:, 0::2], h[:, 1::2]
        else:
            g, u = h[:, :I], h[:, I:]
        if c["act"] == "clamped_swiglu":
            # fmin/fmax as the reference evaluator: a NaN operand yields the
            # other one.
            lim = torch.tensor(c["limit"], device=x.device)
            g = torch.fmin(g, lim)
            u = torch.fmin(torch.fmax(u, -lim), lim)
            a = g * torch.sigmoid(c["alpha"] * g) * (u + 1)
        elif c["act"] == "gelu_mul":
            a = (0.5 * g) * (1 + torch.erf(g * 0.70710678)) * u
        elif c["act"] == "gelu_tanh_mul":
            inner = 0.7978845608 * (g + 0.044715 * g * g * g)
            a = (0.5 * g) * (1 + torch.tanh(inner)) * u
        else:
            a = g / (1 + torch.exp(-g)) * u
        if c["router"] == "before_down":
            a = a * w[tok, slot, None]
        a = rnd(a, "bf16")
        if c.get("mx8"):
            a = mx_round(a)
        if c.get("mxfp8"):
            y = a @ dequant_mxfp8(w2[e], w2_scales[e]).t()
        elif c.get("nvfp4"):
            y = a @ dequant_nvfp4(w2[e], w2_scales[e], w2_global[e]).t()
        elif mx and not fp8:
            y = a @ dequant_mxfp4(w2[e], w2_scales[e]).t()
        elif mx:
            y = gemm_fp8(*quant_rows_fp8(a), *dequant_unit(w2[e], w2_scales[e]))
        elif fp8:
            y = gemm_fp8(*quant_rows_fp8(a), w2[e], w2_scales[e])
        else:
            y = a @ w2[e].float().t()
        if b2 is not None:
            y = y + b2[e].float()
        ys[tok, slot] = rnd(y, c.get("gemm2", "bf16"))
    for k in range(K):
        valid = (ids[:, k] >= 0) & (ids[:, k] < c["E"])
        term = ys[:, k]
        if c["router"] == "in_combine":
            term = term * w[:, k, None]
        out = out + torch.where(valid[:, None], term, torch.zeros_like(term))
    return out.to(torch.bfloat16)


# Rows an expert for the "tails" routing, in turn: 128-row blocks with a
# last block of 1 and 16 rows (absorbed by the block before with
# absorb-tails), 17 (a block of its own), exactly full, small and empty.
TAIL_COUNTS = (129, 144, 145, 128, 16, 17, 1, 0, 136, 272, 273, 257)


def routing(kind, T, E, K, gen, dev):
    if kind == "tails":
        # Expert e takes TAIL_COUNTS[e % 12] slots (fewer once the T K
        # slots run out), slot k of token t being position k T + t: an
        # expert's positions (at most T) never hold two slots of a token.
        ids = torch.full((K * T,), -1, dtype=torch.int32)
        pos = 0
        for e in range(E):
            n = min(TAIL_COUNTS[e % len(TAIL_COUNTS)], T, K * T - pos)
            ids[pos:pos + n] = e
            pos += n
        ids = ids.view(K, T).t().contiguous().to(dev)
        w = torch.rand(T, K, generator=gen, device=dev) + 0.1
        return ids, (w / w.sum(1, keepdim=True)).float().contiguous()
    if kind == "one_expert":
        ids = torch.zeros(T, K, dtype=torch.int32, device=dev)
        ids[:, 1:] = -1  # only slot 0 routes, to expert 0
    else:
        n = E if kind != "half_experts" else max(1, E // 2)
        scores = torch.rand(T, n, generator=gen, device=dev)
        ids = torch.topk(scores, min(K, n), dim=1).indices.to(torch.int32)
        if ids.shape[1] < K:
            ids = torch.cat([ids, torch.full((T, K - ids.shape[1]), -1,
                                             dtype=torch.int32, device=dev)],
                            1)
        if kind == "masked":
            drop = torch.rand(T, K, generator=gen, device=dev) < 0.3
            ids = torch.where(drop, torch.full_like(ids, -1), ids)
    w = torch.rand(T, K, generator=gen, device=dev) + 0.1
    w = (w / w.sum(1, keepdim=True)).float()
    return ids.contiguous(), w.contiguous()


def routed_shape(c):
    """A routed case's route: (E, K, S), its routed experts and top_k
    without the S shared experts that case.json's E and K include."""
    S = c.get("shared", 0)
    return c["E"] - S, c["K"] - S, S


def route_inputs(c, T, kind, gen, dev):
    """A routed case's kernel routing operands: logits [T, E] f32 and,
    sigmoid, the selection bias [E] f32 (see the docstring); E and K
    the route's (without the shared experts)."""
    E, K, _ = routed_shape(c)
    logits = torch.randn(T, E, generator=gen, device=dev) * 2
    if kind == "one_expert":
        logits[:, :K] += 20
    elif kind == "half_experts" and E >= 2 * K:
        logits[:, E // 2:] -= 20
    ops = [logits.contiguous()]
    if c["route"] == "sigmoid":
        ops.append((torch.rand(E, generator=gen, device=dev) * 0.2).float())
    return ops


def route_reference(c, logits, bias=None, clear_margin=1e-5):
    """moe.route in float64 (lib/Reference/Kernels.cpp's rules): ids
    [T, K] i32 and weights [T, K] f32, and a bool [T]: the token's choice
    is clear (no near tie at the boundaries of its groups and experts).
    Shared experts (S): slots K .. K+S-1 name experts E .. E+S-1, with
    the weight shared_weight."""
    E, K, S = routed_shape(c)
    G, KG = c.get("groups", 1), c.get("topk_groups", 1)
    l = logits.double()
    s = torch.softmax(l, 1) if c["route"] == "softmax" else torch.sigmoid(l)
    sel = s + bias.double() if bias is not None else s
    T = l.shape[0]
    clear = torch.ones(T, dtype=torch.bool, device=l.device)
    eligible = sel
    if G > 1:
        groups = sel.view(T, G, E // G)
        score = groups.topk(min(2, E // G), dim=2).values.sum(2)
        order = score.sort(1, descending=True)
        if KG < G:
            clear &= (order.values[:, KG - 1] - order.values[:, KG]) >= \
                clear_margin
        kept = torch.zeros(T, G, dtype=torch.bool, device=l.device)
        kept.scatter_(1, order.indices[:, :KG], True)
        eligible = sel.masked_fill(~kept.repeat_interleave(E // G, 1),
                                   float("-inf"))
    top = eligible.topk(min(K + 1, E), dim=1)
    if K < E:
        nxt = top.values[:, K]
        clear &= ~torch.isfinite(nxt) | \
            ((top.values[:, K - 1] - nxt) >= clear_margin)
    ids = top.indices[:, :K]
    w = s.gather(1, ids)
    w = w / w.sum(1, keepdim=True)  # every routed case renormalizes
    w = w * c.get("scaling", 1.0)
    if S:
        ids = torch.cat([ids, torch.arange(E, E + S, device=l.device)
                         .expand(T, S)], 1)
        w = torch.cat([w, torch.full((T, S), c["shared_weight"],
                                     dtype=w.dtype, device=l.device)], 1)
    return ids.to(torch.int32).contiguous(), w.float().contiguous(), clear


def routed_ids_note(kernel, ws, ids, clear):
    """How many tokens the kernel routed to other experts than the
    reference (as sets; the ids it wrote at the end of the workspace
    `ws`: ids [max_tokens, K] i32, then the weights, docs/FusedKernel.md),
    among the tokens with a clear choice; "" if none."""
    T, K = ids.shape
    n = kernel.max_tokens * K * 4
    w_at = kernel.workspace_bytes - n
    ids_at = w_at - (n + 15) // 16 * 16
    got = ws[ids_at:ids_at + T * K * 4].view(torch.int32).view(T, K)
    differ = (got.sort(1).values != ids.sort(1).values).any(1) & clear
    return " (ids differ on %d tokens)" % int(differ.sum()) \
        if differ.any() else ""


def fp8_weight(e, n, k, gen, dev):
    """e4m3 [E, N, K] and its float32 scales [E, N/128, K/128]: values
    uniform in [-1, 1] / sqrt(K) in float32, cast per 128x128 block, one
    expert at a time."""
    wq = torch.empty(e, n, k, dtype=torch.float8_e4m3fn, device=dev)
    ws = torch.empty(e, n // FP8_BLOCK, k // FP8_BLOCK, dtype=torch.float32,
                     device=dev)
    for i in range(e):
        wf = (torch.rand(n, k, generator=gen, device=dev) * 2 - 1) / k ** 0.5
        wq[i], ws[i] = quant_block(wf, FP8_BLOCK, FP8_BLOCK)
    return wq, ws


def mxfp4_weight(e, n, k, gen, dev, spread):
    """Packed e2m1 [E, N, K/2] (uint8, every code, the first value in the
    low nibble) and UE8M0 scales [E, N, K/32] (float8_e8m0fnu) drawn from
    `spread` consecutive powers of two whose largest is near
    2 / (2.5 sqrt(K))."""
    _, packed = random_e2m1(e, n, k, gen, dev)
    top = 127 + round(-torch.log2(torch.tensor(2.5 * k ** 0.5)).item()) + 1
    sbytes = torch.randint(top - spread + 1, top + 1, (e, n, k // 32),
                           generator=gen, device=dev, dtype=torch.uint8)
    return packed, sbytes.view(torch.float8_e8m0fnu)


def dequant_mxfp4(packed, scales):
    """float32 [E, N, K] of packed e2m1 [E, N, K/2] and UE8M0 [E, N, K/32]
    (exact)."""
    codes = torch.stack([packed & 15, packed >> 4], dim=-1).flatten(-2)
    table = torch.tensor(E2M1, device=packed.device)
    exps = scales.view(torch.uint8).float() - 127
    return table[codes.long()] * torch.pow(2.0, exps).repeat_interleave(
        32, dim=-1)


def mxfp8_weight(e, n, k, gen, dev):
    """e4m3 [E, N, K] (every code but NaN) and UE8M0 scales [E, N, K/32]
    (float8_e8m0fnu) from 3 consecutive powers of two whose largest is
    near 1 / (200 sqrt(K)) (random e4m3 codes have an RMS near 200)."""
    w = random_e4m3((e, n, k), gen, dev)
    top = 127 + round(-torch.log2(torch.tensor(200 * k ** 0.5)).item())
    sbytes = torch.randint(top - 2, top + 1, (e, n, k // 32), generator=gen,
                           device=dev, dtype=torch.uint8)
    return w, sbytes.view(torch.float8_e8m0fnu)


def dequant_mxfp8(w, scales):
    """float32 [N, K] of one expert's e4m3 [N, K] and UE8M0 [N, K/32]
    (exact)."""
    exps = scales.view(torch.uint8).float() - 127
    return w.float() * torch.pow(2.0, exps).repeat_interleave(32, dim=-1)


def dequant_nvfp4(packed, scales, g):
    """float32 [N, K] of one expert's packed e2m1 [N, K/2], e4m3 scales
    [N, K/16] and f32 global scale g (the product rounded once, in
    float32)."""
    codes = torch.stack([packed & 15, packed >> 4], dim=-1).flatten(-2)
    table = torch.tensor(E2M1, device=packed.device)
    return (table[codes.long()] *
            scales.float().repeat_interleave(16, dim=-1)) * g


def dequant_unit(packed, scales):
    """One expert's MXFP4 weights as gemm_fp8 takes them: float32 [N, K]
    and unit scales [N/128, K/128]."""
    wf = dequant_mxfp4(packed, scales)
    n, k = wf.shape
    return wf, torch.ones(n // FP8_BLOCK, k // FP8_BLOCK, device=wf.device)


def weights(c, gen, dev, spread=7):
    """The layer's weight tensors in launch order: (w13, w2), and for an
    FP8 layer (w13, w2, w13_scales, w2_scales); MXFP4 scales from
    `spread` powers of two; then (c["bias"]) the per-expert biases,
    w13_bias [E, 2I] bf16 and w2_bias [E, H] f32, N(0, 1/4)."""
    wts = unbiased_weights(c, gen, dev, spread)
    if not c.get("bias"):
        return wts
    E, H, I = c["E"], c["H"], c["I"]
    b13 = (torch.randn(E, 2 * I, generator=gen, device=dev) / 2).to(
        torch.bfloat16)
    b2 = torch.randn(E, H, generator=gen, device=dev) / 2
    return (*wts, b13, b2)


def unbiased_weights(c, gen, dev, spread=7):
    """weights() without the biases."""
    E, H, I = c["E"], c["H"], c["I"]
    if c.get("mxfp8"):
        w13, w13s = mxfp8_weight(E, 2 * I, H, gen, dev)
        w2, w2s = mxfp8_weight(E, H, I, gen, dev)
        return w13, w2, w13s, w2s
    if c.get("nvfp4"):
        _, w13, w13s, g13 = nvfp4_weights(E, 2 * I, H, gen, dev)
        _, w2, w2s, g2 = nvfp4_weights(E, H, I, gen, dev)
        return w13, w2, w13s, w2s, g13, g2
    if c.get("mxfp4"):
        w13, w13s = mxfp4_weight(E, 2 * I, H, gen, dev, spread)
        w2, w2s = mxfp4_weight(E, H, I, gen, dev, spread)
        return w13, w2, w13s, w2s
    if c.get("fp8"):
        w13, w13s = fp8_weight(E, 2 * I, H, gen, dev)
        w2, w2s = fp8_weight(E, H, I, gen, dev)
        return w13, w2, w13s, w2s
    w13 = (torch.randn(E, 2 * I, H, generator=gen, device=dev) /
           H ** 0.5).to(torch.bfloat16)
    w2 = (torch.randn(E, H, I, generator=gen, device=dev) /
          I ** 0.5).to(torch.bfloat16)
    return w13, w2


def tokens(c, T, gen, dev):
    """x [T, H] bf16: N(0, 1), or uniform in [-1, 1] for an FP8 layer."""
    if c.get("fp8"):
        x = torch.rand(T, c["H"], generator=gen, device=dev) * 2 - 1
    else:
        x = torch.randn(T, c["H"], generator=gen, device=dev)
    return x.to(torch.bfloat16)


def within_bars(o, r, fp8):
    """Output o (float) against reference r by this script's bars: (ok,
    finite, rel. Frobenius error, calc_diff)."""
    finite = bool(torch.isfinite(o).all())
    rel, cd = rel_fro(o, r), calc_diff(o, r)
    ok = finite and (cd <= 1e-3 if fp8 else rel <= 1e-2 and cd <= 1e-4)
    return ok, finite, rel, cd


def compare(label, o, r, extra_ok=True, note="", fp8=False, dtype=None):
    """Records and prints one check: output o against reference r."""
    ok, finite, rel, cd = within_bars(o, r, fp8)
    ok = ok and extra_ok
    ROWS.append(dict(case=label, dtype=dtype or ("fp8" if fp8 else "bf16"),
                     ok=ok, finite=finite, rel_fro=rel, calc_diff=cd))
    print("%-4s %-60s rel %.2e calc_diff %.2e%s%s" % (
        "PASS" if ok else "FAIL", label, rel, cd,
        "" if finite else " (non-finite outputs)", note), flush=True)
    return ok


def check(kernel, c, T, kind, gen, nan_token=None, spread=7):
    dev = "cuda"
    E, H, K = c["E"], c["H"], c["K"]
    x = tokens(c, T, gen, dev)
    wts = weights(c, gen, dev, spread)
    keep = torch.ones(T, dtype=torch.bool, device=dev)
    note = ""
    if c.get("route"):
        ops = route_inputs(c, T, kind, gen, dev)
        ids, w, keep = route_reference(c, *ops)
        if not keep.all():
            note = " (%d of %d tokens with no clear choice left out)" % (
                int((~keep).sum()), T)
    else:
        ids, w = routing(kind, T, E, K, gen, dev)
        ops = [ids, w]
    if nan_token is not None:
        x[nan_token, 3] = float("nan")
    out = torch.full((T, H), float("nan"), dtype=torch.bfloat16, device=dev)
    ws = torch.zeros(kernel.workspace_bytes, dtype=torch.uint8,
                     device=dev) if c.get("route") else None
    kernel.launch(x, *ops, *wts, out, workspace=ws)
    torch.cuda.synchronize()
    ref = reference(c, x, ids, w, *wts)
    label = "%s T=%d %s" % (c["name"], T, kind)
    if c.get("route"):
        note += routed_ids_note(kernel, ws, ids, keep)
    if nan_token is not None:
        keep[nan_token] = False
        label += " nan@%d" % nan_token
    if spread != 7 and c.get("mxfp4") and not c.get("nvfp4"):
        label += " scales 2^%d" % spread
    nan_ok = True
    if nan_token is not None and c["act"] != "clamped_swiglu":
        # The token whose row holds a NaN: its output is NaN (as in the
        # reference), and no other token's is. (Clamped SwiGLU's fmin/fmax
        # turn a NaN into the limit, in the reference too.)
        nan_ok = bool(torch.isnan(out[nan_token].float()).any())
    return compare(label, out[keep].float(), ref[keep].float(), nan_ok,
                   note=note, fp8=c.get("fp8", False) or c.get("mx8", False),
                   dtype=dtype_of(c))


def check_batch_invariance(kernel, c, gen, T=300, t=7):
    """A token's output does not depend on the rest of its batch
    (reinforcement-learning users' ask): the first `t` tokens of a batch
    of T, alone (a batch of t, a launch of its own kernel variant if the
    artifact has one for small T) and among T - t other tokens with other
    values and routings, give bitwise the same outputs."""
    dev = "cuda"
    wts = weights(c, gen, dev)
    routed = bool(c.get("route"))

    def batch(n):
        x = tokens(c, n, gen, dev)
        if routed:
            ops = route_inputs(c, n, "random", gen, dev)
        else:
            ops = list(routing("random", n, c["E"], c["K"], gen, dev))
        return x, ops

    x, ops = batch(T)
    x2, ops2 = batch(T)
    # The second batch: the same first t tokens (rows of x and of the
    # per-token routing operands; a route's bias is the layer's), the rest
    # new.
    def per_token(o):
        return o.dim() == 2 and o.shape[0] == T

    x2[:t] = x[:t]
    for o, o2 in zip(ops, ops2):
        if per_token(o):
            o2[:t] = o[:t]
        else:
            o2.copy_(o)
    runs = [(x, ops), (x[:t].contiguous(),
                       [o[:t].contiguous() if per_token(o) else o
                        for o in ops]), (x2, ops2)]
    outs = []
    for xi, oi in runs:
        out = torch.full((xi.shape[0], c["H"]), float("nan"),
                         dtype=torch.bfloat16, device=dev)
        kernel.launch(xi, *oi, *wts, out)
        outs.append(out[:t])
    torch.cuda.synchronize()
    alone, mixed = torch.equal(outs[0], outs[1]), torch.equal(outs[0], outs[2])
    ok = alone and mixed and bool(torch.isfinite(outs[0].float()).all())
    label = "%s batch invariance: %d of T=%d" % (c["name"], t, T)
    ROWS.append(dict(case=label, dtype=dtype_of(c), ok=ok, finite=ok,
                     rel_fro=None, calc_diff=None))
    print("%-4s %-60s alone %s, among other tokens %s" % (
        "PASS" if ok else "FAIL", label, "same" if alone else "DIFFERENT",
        "same" if mixed else "DIFFERENT"), flush=True)
    return ok


# GPU cycles of the sleep kernel queued before the eager launch of
# check_graph (about 0.1 s at the H200's 1.98 GHz): far longer than a
# launch call takes on the host.
SLEEP_CYCLES = 200_000_000


def fail_row(label, error, fp8=False, dtype=None):
    ROWS.append(dict(case=label, dtype=dtype or ("fp8" if fp8 else "bf16"),
                     ok=False,
                     finite=False, rel_fro=None, calc_diff=None, error=error))
    print("FAIL %-60s %s" % (label, error), flush=True)
    return False


def check_graph(kernel, c, T, gen,
                replays=("masked", "one_expert", "random")):
    """One launch, captured in a CUDA graph and replayed on new routings.

    The inputs, the output and the workspace are allocated once; the graph
    holds their addresses (and T, in the launch's TMA descriptors), so a
    replay reads whatever they hold then. Each replay gets a new routing and
    new x values, copied in place, and a poisoned output."""
    dev = "cuda"
    E, H, K = c["E"], c["H"], c["K"]
    wts = weights(c, gen, dev)
    x = torch.empty(T, H, dtype=torch.bfloat16, device=dev)
    ids = torch.empty(T, K, dtype=torch.int32, device=dev)
    w = torch.empty(T, K, dtype=torch.float32, device=dev)
    # The kernel's routing operands: ids and weights, or (a routed layer)
    # the logits and the route's bias, with the reference's ids and weights
    # in `ids` and `w`.
    ops = [torch.empty_like(o) for o in route_inputs(c, T, "random", gen,
                                                       dev)] \
        if c.get("route") else [ids, w]
    keep = torch.ones(T, dtype=torch.bool, device=dev)
    out = torch.empty(T, H, dtype=torch.bfloat16, device=dev)
    ws = torch.zeros(kernel.workspace_bytes, dtype=torch.uint8, device=dev)

    def refill(kind):
        if c.get("route"):
            new_ops = route_inputs(c, T, kind, gen, dev)
            for o, n in zip(ops, new_ops):
                o.copy_(n)
            new_ids, new_w, clear = route_reference(c, *new_ops)
            keep.copy_(clear)
        else:
            new_ids, new_w = routing(kind, T, E, K, gen, dev)
        ids.copy_(new_ids)
        w.copy_(new_w)
        x.copy_(tokens(c, T, gen, dev))
        out.fill_(float("nan"))

    def launch():
        kernel.launch(x, *ops, *wts, out, workspace=ws)

    def compare_now(label, extra_ok=True, note=""):
        ref = reference(c, x, ids, w, *wts)
        if not keep.all():
            note += " (%d of %d tokens with no clear choice left out)" % (
                int((~keep).sum()), T)
        return compare(label, out[keep].float(), ref[keep].float(), extra_ok,
                       note, fp8=c.get("fp8", False) or c.get("mx8", False),
                       dtype=dtype_of(c))

    base = "%s T=%d graph" % (c["name"], T)

    # 1. Eager, on a side stream (torch's warm-up before a capture). The
    # stream is kept busy by a sleep kernel queued first: a launch call
    # that synchronized the host with the GPU in any way (torch's or the
    # driver's: a stream or context synchronize, a synchronous copy or
    # memset) would return only after the sleep, and the event recorded
    # after the launch would then be complete. torch's sync debug mode
    # ("error") raises on torch-level synchronizations in the call.
    label = base + " warm-up: eager, no host sync"
    refill("random")
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    sleep = getattr(torch.cuda, "_sleep", None)
    mode = torch.cuda.get_sync_debug_mode()

    def set_sync_debug_mode(m):
        with warnings.catch_warnings():  # "a prototype feature"
            warnings.simplefilter("ignore", UserWarning)
            torch.cuda.set_sync_debug_mode(m)

    try:
        with torch.cuda.stream(side):
            if sleep is not None:
                sleep(SLEEP_CYCLES)
            set_sync_debug_mode("error")
            try:
                launch()
            finally:
                set_sync_debug_mode(mode)
            done = torch.cuda.Event()
            done.record()
            busy = not done.query()
    except Exception as e:  # noqa: BLE001 - a failed launch is a row
        torch.cuda.synchronize()
        return fail_row(label, "%s: %s" % (type(e).__name__, e),
                        c.get("fp8", False), dtype_of(c))
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    async_ok = busy or sleep is None
    note = "" if sleep is not None else " (no torch.cuda._sleep: the " \
        "asynchrony was not checked)"
    if not async_ok:
        note = " (the launch call waited for the GPU: a host sync)"
    compare_now(label, async_ok, note)

    # 2. Capture. torch.cuda.graph captures in global mode: a synchronizing
    # or otherwise capture-unsafe call, from this thread or another, fails.
    g = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(g):
            launch()
    except Exception as e:  # noqa: BLE001
        torch.cuda.synchronize()
        return fail_row(base + " capture", "%s: %s" % (type(e).__name__, e),
                        c.get("fp8", False), dtype_of(c))

    # 3. Replays on new routings, new x, a poisoned output: the memset of
    # the workspace's counters is a node of the graph, before the kernel.
    ok = True
    for i, kind in enumerate(replays):
        refill(kind)
        g.replay()
        torch.cuda.synchronize()
        ok &= compare_now("%s replay %d/%d %s" % (base, i + 1, len(replays),
                                                  kind))
    del g
    return ok


def check_with_moe_run(a, tokens=300):
    """--moe-run: each artifact against the C++ reference evaluator
    (`moe-run layer.mlir --gpu=DIR`: its seeded inputs, the layer's value at
    the IR's rounding points, moe.route with std::exp); 0 if every one
    prints an ok line."""
    ok = total = 0
    for name in sorted(os.listdir(a.art)):
        d = os.path.join(a.art, name)
        if not os.path.exists(os.path.join(d, "layer.mlir")) or (
                a.filter and not any(f in name for f in a.filter.split(","))):
            continue
        p = subprocess.run([a.moe_run, os.path.join(d, "layer.mlir"),
                            "--tokens=%d" % tokens, "--gpu=" + d],
                           capture_output=True, text=True, timeout=600)
        lines = [l for l in p.stdout.splitlines() if l.startswith("gpu: ")]
        good = p.returncode == 0 and any(l.endswith("-> ok") for l in lines)
        ok += good
        total += 1
        print("%-4s %-50s moe-run T=%d: %s" % (
            "PASS" if good else "FAIL", name, tokens,
            lines[-1] if lines else p.stderr.strip()[-200:]), flush=True)
    print("\n%d of %d checks passed" % (ok, total))
    return 0 if total and ok == total else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--moe-run", default="",
                    help="instead of the checks above: run each folder's "
                         "layer.mlir through this moe-run with --gpu (the "
                         "C++ reference evaluator's seeded inputs and "
                         "result, T = 300) and pass if it says ok")
    a = ap.parse_args()
    if a.moe_run:
        sys.exit(check_with_moe_run(a))
    moe_runtime.load_library(a.lib)
    gen = torch.Generator(device="cuda").manual_seed(1234)
    for name in sorted(os.listdir(a.art)):
        d = os.path.join(a.art, name)
        if not os.path.exists(os.path.join(d, "case.json")):
            continue
        if a.filter and not any(f in name for f in a.filter.split(",")):
            continue
        c = json.load(open(os.path.join(d, "case.json")))
        try:
            kernel = moe_runtime.Kernel.load(d)
        except Exception as e:  # noqa: BLE001 - a kernel that does not load
            fail_row("%s load" % name, "%s: %s" % (type(e).__name__, e))
            continue
        # (bf16 x MXFP4: e2m1 weights too, but bf16 rows; case.json says.)
        c["fp8"] = is_fp8(kernel) and c.get("fp8", True)
        c["mxfp4"] = is_mxfp4(kernel)
        c["nvfp4"] = is_nvfp4(kernel)
        t0 = time.time()
        for T, kind, nan_token, *extra in [
                (1, "random", None), (37, "random", None),
                (300, "masked", None), (300, "one_expert", None),
                (257, "half_experts", None), (1000, "random", None),
                (300, "tails", None),
                (64, "random", 5),
                # MXFP4: scales over 25 powers of two (blocks that the
                # kernel rounds to e4m3 subnormals or zero).
                (257, "random", None, 25),
                # Launch again on the same workspace: the counters are reset.
                (300, "random", None)]:
            spread = extra[0] if extra else 7
            if spread != 7 and (not c["mxfp4"] or c["nvfp4"]):
                continue
            try:
                check(kernel, c, T, kind, gen, nan_token, spread)
            except Exception as e:  # noqa: BLE001 - a failed launch is a row
                fail_row("%s T=%d %s%s" % (
                    c["name"], T, kind,
                    "" if nan_token is None else " nan@%d" % nan_token),
                         "%s: %s" % (type(e).__name__, e), c["fp8"],
                         dtype_of(c))
        try:
            check_batch_invariance(kernel, c, gen)
        except Exception as e:  # noqa: BLE001 - a failed launch is a row
            fail_row("%s batch invariance" % c["name"],
                     "%s: %s" % (type(e).__name__, e), c["fp8"], dtype_of(c))
        # No host synchronization; captured once, replayed on new routings.
        check_graph(kernel, c, 300, gen)
        print("     %s: %.1f s" % (name, time.time() - t0), flush=True)
    passed = sum(r["ok"] for r in ROWS)
    for dtype in ("bf16", "fp8", "fp8-mxfp4", "bf16-mxfp4", "bf16-nvfp4",
                  "mxfp8-mxfp4", "mxfp8-nvfp4", "mxfp8"):
        rows = [r for r in ROWS if r["dtype"] == dtype]
        if rows:
            print("%s: %d of %d passed" % (dtype, sum(r["ok"] for r in rows),
                                           len(rows)))
    print("\n%d of %d checks passed" % (passed, len(ROWS)))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "fused_moe_checks.json"), "w") as f:
            json.dump(ROWS, f, indent=1)
    sys.exit(0 if ROWS and passed == len(ROWS) else 1)


if __name__ == "__main__":
    main()
