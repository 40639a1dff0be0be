#!/usr/bin/env python3
"""Runs generated grouped-matmul kernels on the GPU and checks them.

For each artifact folder made by make_grouped_gemm.py (gg_e<E>_n<N>_k<K>,
gg_fp8_e<E>_n<N>_k<K> from --fp8, gg_mxfp4_e<E>_n<N>_k<K> from --mxfp4 and
gg_nvfp4_e<E>_n<N>_k<K> from --nvfp4, gg_mxfp8_e<E>_n<N>_k<K> from --mxfp8;
a kernel is FP8 if its manifest's arg0 is f8E4M3FN and arg3 f32, MXFP8 if
arg0 is f8E4M3FN and arg3 f8E8M0FNU, MXFP4 if its arg1 is f4E2M1FN),
launches the kernel through python/moe_runtime on
random inputs for several per-expert token counts (0, 1, 63, 65, not
multiples of the tile, all rows on one expert), with the output poisoned
(NaN) first, and compares the rows of every expert with a float32 torch
reference of the same inputs: relative Frobenius error and DeepGEMM's
calc_diff, both reported. Rows past offsets[E] must keep the poison.
  bf16: x in [-1, 1] and w in [-1, 1] / sqrt(K), rounded to bf16; passes
        with rel. Frobenius < 1e-2 and calc_diff < 1e-4.
  fp8:  the same values in float32, cast to e4m3 as DeepGEMM's tests do:
        per 1x128 block of x and 128x128 block of w, scale = amax / 448
        (amax clamped to 1e-4), e4m3 = value / scale; launched as
        (x, w, offsets, x_scales [T, K/128], w_scales [E, N/128, K/128],
        out). The reference adds each 128-wide k-block's float32 partial
        sum times x_scale * w_scale in ascending block order
        (docs/Evaluator.md); passes with calc_diff <= 1e-3.
  mxfp4: x as bf16; every e2m1 code (packed, low nibble first) with UE8M0
        scales 2^-9 .. 2^-5 per 1x32 block (w_scales [E, N, K/32]); the
        reference multiplies by the dequantized weights (exact in bf16), so
        it passes as bf16 does.
  nvfp4: the same with an e4m3 scale per 1x16 block (w_scales [E, N, K/16],
        bytes 0x01..0x4F, subnormal scales included) and an f32 global scale
        per expert (w_global_scale [E]); the reference multiplies by the
        dequantized weights times the global scale (the kernel applies it
        after the sum: a rounding apart); passes as bf16 does.
  mxfp8: every e4m3 code but NaN for x and w, with UE8M0 scales per 1x32
        block (x_scales [T, K/32] 2^-7 .. 2^-3, w_scales [E, N, K/32]
        2^-10 .. 2^-6); the reference multiplies the dequantized values
        (exact in bf16), so it passes as bf16 does.
Then times the big shapes (E >= 256; MXFP8 also E = 128 with K >= 2048,
gpt-oss-120b's) against torch._grouped_mm (bf16; FP4 and MXFP8 on the
dequantized operands in bf16) or torch._scaled_grouped_mm (fp8: rowwise
scales of the same float32 values; n/a where this torch lacks it) on the
same problem. Prints a table; exit
status 0 only if every check passed.

usage: run_grouped_gemm.py --lib libmoe_cuda_runtime.so --art DIR [--out DIR]
                           [--filter PREFIX,...] [--no-bench]
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402

ROWS = []

FP8_BLOCK = 128  # DeepSeek-V3: 1x128 blocks of x, 128x128 blocks of w
FP8_MAX = 448.0  # the largest finite e4m3 value


def calc_diff(x, y):
    x, y = x.double(), y.double()
    denom = (x * x + y * y).sum()
    return float(1 - 2 * (x * y).sum() / denom) if denom > 0 else 0.0


def rel_fro(out, ref):
    n = ref.double().norm()
    return float((out.double() - ref.double()).norm() / n) if n > 0 else 0.0


def reference(x, w, offsets, scale=None):
    """x [rows, K] by each expert's w [N, K] in float32; `scale` ([E]
    float32): each expert's products times its value, after the sum."""
    ref = torch.zeros(x.shape[0], w.shape[1], dtype=torch.float32,
                      device=x.device)
    off = offsets.tolist()
    for e in range(w.shape[0]):
        a, b = off[e], off[e + 1]
        if b > a:
            ref[a:b] = x[a:b].float() @ w[e].float().t()
            if scale is not None:
                ref[a:b] *= scale[e]
    return ref


def quant_block(t, bm, bk):
    """Casts float32 t [..., M, K] to e4m3 per bm x bk block as DeepGEMM's
    tests do: scale = amax / 448, amax clamped to 1e-4, e4m3 = t / scale.
    Returns (e4m3 [..., M, K], float32 scales [..., M/bm, K/bk])."""
    *lead, m, k = t.shape
    v = t.reshape(*lead, m // bm, bm, k // bk, bk)
    s = v.abs().amax(dim=(-3, -1)).clamp(min=1e-4) / FP8_MAX
    q = (v / s[..., :, None, :, None]).to(torch.float8_e4m3fn)
    return q.reshape(*lead, m, k), s.contiguous()


def quant_rowwise(t):
    """Casts t [..., R, K] to e4m3 with one float32 scale per row (amax /
    448): the operands of torch._scaled_grouped_mm, as
    ../shared/bench/peer_baselines.py makes them."""
    amax = t.abs().amax(dim=-1, keepdim=True).float().clamp(min=1e-12)
    s = amax / FP8_MAX
    return (t.float() / s).to(torch.float8_e4m3fn), s.squeeze(-1)


def bf16_weights(e, n, k, gen, dev):
    """Random bf16 weights [E, N, K], uniform in [-1, 1] / sqrt(K), made one
    expert at a time: the float32 values of all at once (30 GB at
    DeepSeek-V3's gate/up shape) do not fit beside the rest on an 80 GB
    GPU."""
    w = torch.empty(e, n, k, dtype=torch.bfloat16, device=dev)
    for i in range(e):
        w[i] = ((torch.rand(n, k, generator=gen, device=dev) * 2 - 1) /
                k ** 0.5).bfloat16()
    return w


def fp8_inputs(rows, e, n, k, gen, dev, rowwise=False):
    """Random FP8 block-scaled operands: x uniform in [-1, 1] [rows, K] and
    w uniform in [-1, 1] / sqrt(K) [E, N, K] in float32, cast per 1x128 and
    128x128 block. Returns (xq, xs [rows, K/128], wq, ws [E, N/128, K/128]);
    with rowwise also the same float32 values cast per row for
    torch._scaled_grouped_mm: (xq, xs [rows], wq, ws [E, N])."""
    x = torch.rand(rows, k, generator=gen, device=dev) * 2 - 1
    xq, xs = quant_block(x, 1, FP8_BLOCK)
    wq = torch.empty(e, n, k, dtype=torch.float8_e4m3fn, device=dev)
    ws = torch.empty(e, n // FP8_BLOCK, k // FP8_BLOCK, dtype=torch.float32,
                     device=dev)
    if rowwise:
        pxq, pxs = quant_rowwise(x)
        pwq = torch.empty_like(wq)
        pws = torch.empty(e, n, dtype=torch.float32, device=dev)
    del x
    # One expert at a time: the float32 weights of all would take 4x the
    # memory of the e4m3 ones.
    for i in range(e):
        wf = (torch.rand(n, k, generator=gen, device=dev) * 2 - 1) / k ** 0.5
        wq[i], ws[i] = quant_block(wf, FP8_BLOCK, FP8_BLOCK)
        if rowwise:
            pwq[i], pws[i] = quant_rowwise(wf)
    if rowwise:
        return xq, xs, wq, ws, (pxq, pxs, pwq, pws)
    return xq, xs, wq, ws


def reference_fp8(xq, xs, wq, ws, offsets):
    """The FP8 block-scaled grouped matmul in float32, as the reference
    evaluator computes it (docs/Evaluator.md): for the rows r of expert e,
    out[r][n] = the sum over k-blocks kb, ascending, of
    p_kb * (xs[r][kb] * ws[e][n / 128][kb]), p_kb the float32 sum of the
    block's 128 products x[r][k] * w[e][n][k] (exact: e4m3 values)."""
    num_experts, n, k = wq.shape
    ref = torch.zeros(xq.shape[0], n, dtype=torch.float32, device=xq.device)
    off = offsets.tolist()
    for e in range(num_experts):
        a, b = off[e], off[e + 1]
        if b <= a:
            continue
        x = xq[a:b].float()
        w = wq[e].float()
        wse = ws[e].repeat_interleave(FP8_BLOCK, dim=0)  # [N, K/128]
        acc = torch.zeros(b - a, n, dtype=torch.float32, device=xq.device)
        for kb in range(k // FP8_BLOCK):
            blk = slice(kb * FP8_BLOCK, (kb + 1) * FP8_BLOCK)
            p = x[:, blk] @ w[:, blk].t()
            acc += p * (xs[a:b, kb:kb + 1] * wse[:, kb])
        ref[a:b] = acc
    return ref


E2M1 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
        -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]


def random_e2m1(e, n, k, gen, dev):
    """Every e2m1 code at random: the codes (uint8 [E, N, K]) and the same
    packed two a byte, the first in the low nibble (uint8 [E, N, K/2])."""
    codes = torch.randint(0, 16, (e, n, k), generator=gen, device=dev,
                          dtype=torch.uint8)
    return codes, (codes[..., 0::2] | (codes[..., 1::2] << 4)).contiguous()


def dequant_e2m1(codes, scale_of, block):
    """The e2m1 `codes` (uint8 [E, N, K]) times their block scales
    (`scale_of(i)`: expert i's in float32, [N, K / block]) in bf16, exact
    (a 2-bit by an at most 4-bit mantissa), one expert at a time: the
    float32 values of all at once (30 GB at DeepSeek-V3's gate/up shape)
    do not fit beside the rest on an 80 GB GPU."""
    table = torch.tensor(E2M1, device=codes.device)
    w = torch.empty(codes.shape, dtype=torch.bfloat16, device=codes.device)
    for i in range(codes.shape[0]):
        w[i] = (table[codes[i].long()] *
                scale_of(i).repeat_interleave(block, dim=1)).bfloat16()
    return w


def mxfp4_inputs(rows, e, n, k, gen, dev, wide=False):
    """Random MXFP4 weights: every e2m1 code (packed two a byte, the first
    in the low nibble) with UE8M0 scales 2^-9 .. 2^-5 (bytes 118..122), or
    with `wide` each weight row's from three powers of two at random in
    2^-119 .. 2^13 (bytes 8..140: both of the kernel's expansions, scales
    above 2 and below); x uniform in [-1, 1] as bf16. Returns (x, w packed
    uint8 [E, N, K/2], scales float8_e8m0fnu [E, N, K/32], w dequantized,
    exact in bf16)."""
    x = (torch.rand(rows, k, generator=gen, device=dev) * 2 - 1).bfloat16()
    codes, packed = random_e2m1(e, n, k, gen, dev)
    if wide:
        top = torch.randint(10, 141, (e, n, 1), generator=gen, device=dev)
        sbytes = (top - torch.randint(0, 3, (e, n, k // 32), generator=gen,
                                      device=dev)).to(torch.uint8)
    else:
        sbytes = torch.randint(118, 123, (e, n, k // 32), generator=gen,
                               device=dev, dtype=torch.uint8)
    wf = dequant_e2m1(codes, lambda i: torch.pow(2.0, sbytes[i].float() - 127),
                      32)
    return x, packed, sbytes.view(torch.float8_e8m0fnu), wf


def nvfp4_weights(e, n, k, gen, dev):
    """Random NVFP4 weights: every e2m1 code (packed, low nibble first), an
    e4m3 scale per 1x16 block (bytes 0x01..0x4F: subnormal scales
    included, no NaN) and an f32 global scale per expert around
    1 / (16 sqrt(K)). Returns (codes uint8 [E, N, K], w packed uint8
    [E, N, K/2], scales float8_e4m3fn [E, N, K/16], global scales float32
    [E])."""
    codes, packed = random_e2m1(e, n, k, gen, dev)
    sbytes = torch.randint(0x01, 0x50, (e, n, k // 16), generator=gen,
                           device=dev, dtype=torch.uint8)
    g = (torch.rand(e, generator=gen, device=dev) + 0.5) / (16 * k ** 0.5)
    return codes, packed, sbytes.view(torch.float8_e4m3fn), g.float()


def nvfp4_inputs(rows, e, n, k, gen, dev):
    """x uniform in [-1, 1] as bf16 and NVFP4 weights (nvfp4_weights).
    Returns (x, w packed uint8 [E, N, K/2], scales float8_e4m3fn
    [E, N, K/16], global scales float32 [E], w dequantized without the
    global scale, exact in bf16)."""
    x = (torch.rand(rows, k, generator=gen, device=dev) * 2 - 1).bfloat16()
    codes, packed, scales, g = nvfp4_weights(e, n, k, gen, dev)
    wf = dequant_e2m1(codes, lambda i: scales[i].float(), 16)
    return x, packed, scales, g.float(), wf


def random_e4m3(shape, gen, dev):
    """Every e4m3 code but the two NaNs (0x7F, 0xFF), at random."""
    codes = torch.randint(0, 254, shape, generator=gen, device=dev,
                          dtype=torch.int32)
    codes = codes + (codes >= 0x7F).int()  # skip 0x7F; 0xFE is the last
    return codes.to(torch.uint8).view(torch.float8_e4m3fn)


def mxfp8_inputs(rows, e, n, k, gen, dev):
    """Random MXFP8 rows and weights: every e4m3 code but NaN, UE8M0 scales
    per 1x32 block (x: bytes 120..124, w: 117..121). Returns (x e4m3,
    x scales float8_e8m0fnu [rows, K/32], w e4m3, w scales [E, N, K/32],
    x dequantized in float32, w dequantized in bf16: exact, and made one
    expert at a time, as dequant_e2m1's)."""
    x = random_e4m3((rows, k), gen, dev)
    # One expert at a time: randint's int32 codes of all at once (30 GB at
    # DeepSeek-V3's gate/up shape) do not fit on an 80 GB GPU.
    w = torch.empty(e, n, k, dtype=torch.float8_e4m3fn, device=dev)
    for i in range(e):
        w[i] = random_e4m3((n, k), gen, dev)
    xb = torch.randint(120, 125, (rows, k // 32), generator=gen, device=dev,
                       dtype=torch.uint8)
    wb = torch.randint(117, 122, (e, n, k // 32), generator=gen, device=dev,
                       dtype=torch.uint8)
    xf = x.float() * torch.pow(2.0, xb.float() - 127).repeat_interleave(32, -1)
    wf = torch.empty(e, n, k, dtype=torch.bfloat16, device=dev)
    for i in range(e):
        wf[i] = (w[i].float() * torch.pow(2.0, wb[i].float() - 127)
                 .repeat_interleave(32, -1)).bfloat16()
    return (x, xb.view(torch.float8_e8m0fnu), w,
            wb.view(torch.float8_e8m0fnu), xf, wf)


def is_mxfp8(kernel):
    """MXFP8 rows by MXFP8 weights: arg0 (x) is e4m3 and arg3 (its scales)
    UE8M0."""
    return (kernel.tensors[0]["dtype"] == "f8E4M3FN" and
            kernel.tensors[3]["dtype"] == "f8E8M0FNU")


def dtype_name(fp8, mxfp4, nvfp4, mxfp8):
    """The table's name of a kernel's operand formats."""
    return ("fp8" if fp8 else "mxfp8" if mxfp8 else
            "bf16 x nvfp4" if nvfp4 else "bf16 x mxfp4" if mxfp4 else "bf16")


def is_nvfp4(kernel):
    """bf16 rows by NVFP4 weights: arg1 (w) is f4E2M1FN, arg3 (its scales)
    e4m3."""
    return (kernel.tensors[1]["dtype"] == "f4E2M1FN" and
            kernel.tensors[3]["dtype"] == "f8E4M3FN")


def is_mxfp4(kernel):
    """bf16 rows by MXFP4 weights: its manifest's arg1 (w) is f4E2M1FN."""
    return kernel.tensors[1]["dtype"] == "f4E2M1FN"


def is_fp8(kernel):
    """An FP8 block-scaled grouped matmul: its manifest's arg0 (x) is e4m3."""
    return kernel.tensors[0]["dtype"] == "f8E4M3FN"


def check(kernel, e, n, k, counts, label, gen, fp8=False, mxfp4=False,
          nvfp4=False, mxfp8=False, wide=False, bias=None):
    """One launch on rows grouped by `counts`, against the float32
    reference; `bias` (a torch dtype): a per-expert bias [E, N] of it,
    launched after the scales, added to each row's f32 result."""
    dev = torch.device("cuda")
    m = sum(counts)
    tail = 17  # rows past offsets[E]: must stay poisoned
    rows = max(m + tail, 1)
    if fp8:
        xq, xs, wq, ws = fp8_inputs(rows, e, n, k, gen, dev)
    elif mxfp8:
        xq, xs, wq, ws, xf, wf = mxfp8_inputs(rows, e, n, k, gen, dev)
    elif nvfp4:
        x, wp, wsc, g, wf = nvfp4_inputs(rows, e, n, k, gen, dev)
    elif mxfp4:
        x, wp, wsc, wf = mxfp4_inputs(rows, e, n, k, gen, dev, wide)
    else:
        x = (torch.rand(rows, k, generator=gen, device=dev) * 2 - 1).bfloat16()
        w = bf16_weights(e, n, k, gen, dev)
    offsets = torch.zeros(e + 1, dtype=torch.int32)
    offsets[1:] = torch.tensor(counts, dtype=torch.int32).cumsum(0)
    offsets = offsets.to(dev)
    out = torch.full((rows, n), float("nan"), dtype=torch.bfloat16,
                     device=dev)
    b = (torch.randn(e, n, generator=gen, device=dev) / 2).to(bias) \
        if bias is not None else None
    extra = (b,) if b is not None else ()
    if fp8 or mxfp8:
        kernel.launch(xq, wq, offsets, xs, ws, *extra, out)
    elif nvfp4:
        kernel.launch(x, wp, offsets, wsc, g, *extra, out)
    elif mxfp4:
        kernel.launch(x, wp, offsets, wsc, *extra, out)
    else:
        kernel.launch(x, w, offsets, *extra, out)
    torch.cuda.synchronize()
    if fp8:
        ref = reference_fp8(xq, xs, wq, ws, offsets)[:m]
    elif mxfp8:
        # Both operands' dequantized values are exact in bf16 (and f32).
        ref = reference(xf, wf, offsets)[:m]
    elif nvfp4:
        # e2m1 times e4m3 is exact; the global scale after the sum, as
        # the kernel applies it.
        ref = reference(x, wf, offsets, scale=g)[:m]
    elif mxfp4:
        # The dequantized weights are exact in bf16 (and f32): the products
        # are the bf16 kernel's.
        ref = reference(x, wf, offsets)[:m]
    else:
        ref = reference(x, w, offsets)[:m]
    if b is not None and m:
        # Row r of expert j gets bias[j] (f32, before the output's rounding).
        expert = torch.repeat_interleave(
            torch.arange(e, device=dev),
            torch.tensor(counts, device=dev))
        ref = ref + b.float()[expert]
    got = out[:m].float()
    finite = bool(torch.isfinite(got).all()) if m else True
    poison = bool(torch.isnan(out[m:].float()).all())
    fro, cd = rel_fro(got, ref), calc_diff(got, ref)
    if wide and m:
        # Output columns 2^250 apart: the worst column's error, so that the
        # small ones count.
        g, r = got.double(), ref.double()
        fro = float(((g - r).norm(dim=0) / r.norm(dim=0).clamp_min(1e-300))
                    .max())
        cd = max(calc_diff(got[:, c], ref[:, c]) for c in range(n))
    if fp8:
        ok = finite and poison and cd <= 1e-3
    else:
        ok = finite and poison and fro < 1e-2 and cd < 1e-4
    # Which kernel of the artifact ran (a variant is chosen by T).
    ran = kernel.select(rows)
    variant = ran[len(kernel.name):] if ran != kernel.name else ""
    dtype = dtype_name(fp8, mxfp4, nvfp4, mxfp8)
    ROWS.append(("E=%d N=%d K=%d %s%s" % (e, n, k, label,
                                          " [%s]" % variant if variant else ""),
                 dtype, m, fro, cd, finite, poison, ok))
    print("%s %s %s" % ("PASS" if ok else "FAIL", dtype, ROWS[-1][0]),
          flush=True)
    return ok


def bench(kernel, e, n, k, m, gen, fp8=False, mxfp4=False, nvfp4=False,
          mxfp8=False):
    """Median ms of ours and of torch (None where torch cannot run it) on
    one problem of m rows spread evenly over the experts. MXFP4: torch's
    peer is _grouped_mm on the dequantized weights in bf16 (4x the bytes);
    MXFP8: on both dequantized operands in bf16 (2x the bytes)."""
    dev = torch.device("cuda")
    counts = torch.full((e,), m // e, dtype=torch.int32)
    counts[: m % e] += 1
    if fp8:
        xq, xs, wq, ws, (pxq, pxs, pwq, pws) = fp8_inputs(
            m, e, n, k, gen, dev, rowwise=True)
    elif nvfp4:
        x, wp, wsc, g, w = nvfp4_inputs(m, e, n, k, gen, dev)
        # The peer's weights: times the global scale, rounded to bf16.
        for i in range(e):
            w[i] = (w[i].float() * g[i]).bfloat16()
    elif mxfp4:
        x, wp, wsc, w = mxfp4_inputs(m, e, n, k, gen, dev)
    elif mxfp8:
        xq, xs, wq, ws, xf, wf = mxfp8_inputs(m, e, n, k, gen, dev)
        x, w = xf.bfloat16(), wf
        del xf
    else:
        x = (torch.rand(m, k, generator=gen, device=dev) * 2 - 1).bfloat16()
        w = bf16_weights(e, n, k, gen, dev)
    offsets = torch.zeros(e + 1, dtype=torch.int32)
    offsets[1:] = counts.cumsum(0)
    offsets = offsets.to(dev)
    out = torch.empty(m, n, dtype=torch.bfloat16, device=dev)
    offs_end = offsets[1:].contiguous()

    if fp8:
        pwt = pwq.transpose(1, 2)
        peer_name = "torch._scaled_grouped_mm"

        def ours():
            kernel.launch(xq, wq, offsets, xs, ws, out)

        def peer():
            torch._scaled_grouped_mm(pxq, pwt, pxs, pws, offs=offs_end,
                                     out_dtype=torch.bfloat16,
                                     use_fast_accum=True)
    else:
        wt = w.transpose(1, 2)
        peer_name = "torch._grouped_mm" + (
            " (bf16 weights)" if mxfp4 or nvfp4 else
            " (bf16 rows and weights)" if mxfp8 else "")

        def ours():
            if mxfp8:
                kernel.launch(xq, wq, offsets, xs, ws, out)
            elif nvfp4:
                kernel.launch(x, wp, offsets, wsc, g, out)
            elif mxfp4:
                kernel.launch(x, wp, offsets, wsc, out)
            else:
                kernel.launch(x, w, offsets, out)

        def peer():
            torch._grouped_mm(x, wt, offs=offs_end, out_dtype=torch.bfloat16)

    res = {}
    for name, fn in (("ours", ours), ("torch", peer)):
        try:
            for _ in range(3):
                fn()
            torch.cuda.synchronize()
        except Exception as ex:  # e.g. a torch without this FP8 path
            if name == "ours":
                raise
            print("%s: n/a: %s" % (peer_name, str(ex).split("\n")[0]))
            res[name] = None
            continue
        times = []
        for _ in range(20):
            s, t = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
                enable_timing=True)
            s.record()
            fn()
            t.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(t))
        times.sort()
        res[name] = times[len(times) // 2]
    flops = 2.0 * m * n * k
    return res, flops, peer_name


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", required=True)
    p.add_argument("--art", required=True)
    p.add_argument("--out", default=os.environ.get("OUT"))
    p.add_argument("--filter", default="",
                   help="comma-separated prefixes of the artifact folders to run")
    p.add_argument("--no-bench", action="store_true")
    a = p.parse_args()
    prefixes = [f for f in a.filter.split(",") if f]
    gen = torch.Generator(device="cuda")
    gen.manual_seed(1234)
    moe_runtime.load_library(a.lib)
    all_ok = True
    bench_rows = []
    for name in sorted(os.listdir(a.art)):
        d = os.path.join(a.art, name)
        if not os.path.exists(os.path.join(d, "manifest.json")):
            continue
        if prefixes and not any(name.startswith(f) for f in prefixes):
            continue
        shape = re.match(
            r"gg_(?:fp8_|mxfp4_|nvfp4_|mxfp8_)?e(\d+)_n(\d+)_k(\d+)(_bias)?$",
                         name)
        if not shape:
            continue
        e, n, k = (int(v) for v in shape.groups()[:3])
        kernel = moe_runtime.Kernel.load(d)
        # A per-expert bias: the last input tensor (make_grouped_gemm.py
        # --bias), its dtype the manifest's.
        bias = None
        if shape.group(4):
            inputs = [t for t in kernel.tensors if t["role"] == "input"]
            bias = {"bf16": torch.bfloat16,
                    "f32": torch.float32}[inputs[-1]["dtype"]]
        mxfp8 = is_mxfp8(kernel)
        fp8 = is_fp8(kernel) and not mxfp8
        nvfp4 = is_nvfp4(kernel)
        mxfp4 = is_mxfp4(kernel) and not nvfp4
        dtype = dtype_name(fp8, mxfp4, nvfp4, mxfp8)
        cases = []
        if e == 1:
            cases = [([1], "T=1"), ([64], "T=64"), ([200], "T=200"),
                     ([300], "T=300: a row-block pair and a half-empty one"),
                     ([1000], "T=1000")]
        elif e == 8:
            cases = [([0, 1, 63, 65, 128, 129, 7, 300], "0,1,63,65,..."),
                     ([0] * 7 + [333], "all on the last expert"),
                     ([1000, 0, 0, 0, 0, 0, 0, 0], "all on expert 0"),
                     ([1300, 0, 17, 0, 0, 0, 0, 1100],
                      "11 and 9 row blocks: a full group of 8 and a rest")]
        else:
            g = torch.Generator().manual_seed(e * 7 + n)
            c = torch.randint(0, 17, (e,), generator=g)
            c[::5] = 0
            big = c.clone()
            big[1] = 2100  # 17 row blocks: two groups of 8 and a rest
            mid = torch.randint(50, 150, (e,), generator=g)
            mid[::7] = 0
            # 192 rows per expert and more on average (the clustered
            # variant): 1, 128 and 257 rows (a pair whose second row block
            # is empty, a full pair, a pair and a lone block).
            many = torch.randint(180, 420, (e,), generator=g)
            many[::7] = 0
            many[1], many[2], many[3] = 1, 128, 257
            cases = [(c.tolist(), "random 0..16 per expert, some 0"),
                     (mid.tolist(), "random 50..149 per expert, some 0"),
                     (many.tolist(), "random 180..419 per expert, some 0"),
                     (big.tolist(), "one expert with 17 row blocks"),
                     ([0] * (e - 1) + [300], "all on one expert")]
        if mxfp4 and e == 8:
            cases.append(([0, 1, 63, 65, 128, 129, 7, 300],
                          "scales 2^-119..2^13, per column"))
        for counts, label in cases:
            try:
                all_ok &= check(kernel, e, n, k, counts, label, gen, fp8,
                                mxfp4, nvfp4, mxfp8,
                                wide=label.startswith("scales 2^"),
                                bias=bias)
            except Exception as ex:  # a failed launch is a failed row
                ROWS.append(("E=%d N=%d K=%d %s" % (e, n, k, label),
                             dtype, sum(counts),
                             float("nan"), float("nan"), False, False, False))
                print("error:", ex)
                all_ok = False
        # (MXFP8: gpt-oss-120b's 128 experts too.)
        if (e >= 256 or (mxfp8 and e >= 128 and k >= 2048)) and not bias and \
                not a.no_bench:
            res, flops, peer = bench(kernel, e, n, k, 2048, gen, fp8, mxfp4,
                                     nvfp4, mxfp8)
            bench_rows.append((name, dtype, 2048, res, flops, peer))
        kernel.close()

    lines = ["| case | dtype | rows | rel. Frobenius | calc_diff | finite | poison kept | result |",
             "|---|---|---|---|---|---|---|---|"]
    for r in ROWS:
        lines.append("| %s | %s | %d | %.2e | %.2e | %s | %s | %s |" % (
            r[0], r[1], r[2], r[3], r[4], r[5], r[6],
            "PASS" if r[7] else "FAIL"))
    lines.append("")
    lines.append("| shape | dtype | rows | ours ms | torch ms | ours TFLOP/s | torch TFLOP/s | torch op |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for name, dtype, m, res, flops, peer in bench_rows:
        t = res["torch"]
        lines.append("| %s | %s | %d | %.4f | %s | %.1f | %s | %s |" % (
            name, dtype, m, res["ours"], "n/a" if t is None else "%.4f" % t,
            flops / res["ours"] / 1e9,
            "n/a" if t is None else "%.1f" % (flops / t / 1e9), peer))
    text = "\n".join(lines)
    print(text)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "grouped_gemm.md"), "w") as f:
            f.write(text + "\n")
    print("grouped gemm: %d passed, %d failed" % (
        sum(r[7] for r in ROWS), sum(not r[7] for r in ROWS)))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
