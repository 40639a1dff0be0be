#!/usr/bin/env python3
"""Compiles fused MoE layers (moe.fused_moe) into artifact folders.

For each case E,H,I,K[,router[,gemm[,act[,layout]]]][,fp8]: writes a
moe.fused_moe function, runs
  moe-opt --convert-moe-to-moek="chip=<chip> [<options>]" --moek-to-nvvm-pipeline=chip=<chip>
  (--chip, default sm_90a)
  moe-translate --moe-to-manifest --artifact-dir=<folder>
and reports ptxas's registers and spills; --strict fails on a spill
(stores or loads) or a kernel whose shared memory (dynamic and static)
exceeds the 227 KB a CTA may have. Writes
case.json beside the manifest for run_fused_moe.py. Runs where the
compiler is built (no GPU needed).

  router: in_combine (default), before_down or none
  gemm:   G1 or G1/G2, each bf16 (default) or f32: the precision of GEMM1's
          (and GEMM2's) output, e.g. f32 or bf16/f32
  act:    swiglu (default), clamped_swiglu (alpha 1.702, limit 7),
          gelu_mul or gelu_tanh_mul
  layout: concat (default) or interleaved: gate/up rows of w13
  bias:   a field "bias" after K (anywhere): gpt-oss's per-expert biases,
          w13_bias [E, 2I] bf16 and w2_bias [E, H] f32, launched after the
          weights' scales (folder suffix _bias).
  route:  a field "softmax" or "sigmoid" after K (anywhere): the ids and
          weights come from a moe.route of router logits [T, E] f32 in the
          layer, which convert-moe-to-moek fuses into the kernel (moek.route);
          the kernel takes the logits instead of the ids and weights.
          softmax: Qwen3's (renormalize); sigmoid: DeepSeek-V3's (a
          selection bias [E] f32, launched right after the logits; 8 groups
          of which the best 4 are kept when E is a multiple of 8 and at
          least 16, renormalize, routed_scaling_factor 2.5). Folder suffix
          _route or _routesig. With epR each rank routes its own tokens
          (logits over all E experts) in its kernel.
  shared: a field "sharedS" (S = 1, 2, ...) with a route: S shared experts
          (moe.route shared_experts = S, shared_weight 0.75) after the E
          routed ones: the weights hold E + S experts, every token K + S
          slots (the logits stay [T, E]). Folder suffix _shS.
  epR:    a last field "ep2", "ep4", ...: the layer's E experts spread over
          R ranks (#moe.placement; E a multiple of R), compiled in its
          per-rank form (moe-opt --moe-expert-parallel): the kernel of every
          rank, run by run_ep_fused_moe.py (after fp8 for an FP8 layer:
          8,512,256,2,fp8,ep2).
  fp8:    a last field "fp8" (or --fp8 for every case): DeepSeek-V3's FP8
          layer. bf16 x quantized by the kernel to e4m3 per 1x128 block
          (x_quant), e4m3 w13 [E, 2I, H] and w2 [E, H, I] with f32 scales
          per 128x128 block (w13_scales [E, 2I/128, H/128], w2_scales
          [E, H/128, I/128]), the activation requantized per 1x128 block
          (act_quant), bf16 out. H and I must be multiples of 128, gate/up
          concatenated. The kernel takes (x, ids, weights, w13, w2,
          w13_scales, w2_scales, out).
  fp8mx:  a last field "fp8mx" (or --fp8-mxfp4): the FP8 layer with MXFP4
          weights (DeepGEMM's Mega MoE formats): w13 [E, 2I, H] and w2
          [E, H, I] f4E2M1FN (packed, two values a byte, the first in the
          low nibble), UE8M0 scales per 1x32 block (w13_scales
          [E, 2I, H/32], w2_scales [E, H, I/32]); same launch order.
  mx:     a last field "mx" (or --mxfp4): bf16 rows and activation with
          those MXFP4 weights (expanded to bf16 in the kernel), bf16 out;
          H and I multiples of 64; same launch order.
  nv:     a last field "nv" (or --nvfp4): as mx with NVFP4 weights (e2m1,
          e4m3 scales per 1x16 block: w13_scales [E, 2I, H/16], w2_scales
          [E, H, I/16]) under an f32 scale per expert (w13_global [E],
          w2_global [E]); launched as (x, ids, weights, w13, w2, w13_scales,
          w2_scales, w13_global, w2_global, out).
  mx8mx, mx8nv: a last field (or --mxfp8-mxfp4, --mxfp8-nvfp4): as mx and
          nv with the rows and the activation quantized to MXFP8 inside
          the layer (x_quant and act_quant mxfp8 [1, 32]: e4m3 with a
          UE8M0 scale per 1x32 block); the kernel keeps their exact values
          in bf16. Same launch orders as mx and nv.
  mx8:    a last field "mx8" (or --mxfp8): gpt-oss-120b-fp8's recipe, the
          rows, the activation and the weights MXFP8 (w13 [E, 2I, H] and
          w2 [E, H, I] f8E4M3FN, UE8M0 scales per 1x32 block as mx's);
          same launch order as mx.

Folders: fm_e<E>_h<H>_i<I>_k<K>[_<router>][_g<G1>][_y<G2>][_<act>][_<layout>],
fm_fp8_e<E>_... for FP8 layers, fm_fp8mx_e<E>_... for FP8 x MXFP4,
fm_mx_e<E>_... for bf16 x MXFP4, fm_nv_e<E>_... for bf16 x NVFP4,
fm_mx8mx_e<E>_... and fm_mx8nv_e<E>_... for their MXFP8-activation forms,
fm_mx8_e<E>_... for MXFP8.

--ir-only writes each case's layer.mlir and checks that moe-opt parses and
verifies it, without generating a kernel (no case.json, so run_fused_moe.py
skips the folder): the layers the GPU tests would run, for a lowering
that is not there yet.

usage: make_fused_moe.py --bin build/bin --out DIR [--strict] [--fp8]
           [--fp8-mxfp4 | --mxfp4 | --nvfp4 | --mxfp8-mxfp4 |
            --mxfp8-nvfp4 | --mxfp8] [--chip C]
           [--ir-only] [--kernel-options OPTS] CASE...
"""

import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "scripts"))
# SMEM_LIMIT: the most shared memory a CTA may have (dynamic and static),
# sm_90a and sm_100a alike.
from ptxas_report import SMEM_LIMIT, ptxas_resources  # noqa: E402

MLIR = """func.func @fm(%x: tensor<?x{H}xbf16>, %ids: tensor<?x{K}xi32>,
              %w: tensor<?x{K}xf32>, %w13: tensor<{E}x{I2}x{H}xbf16>,
              %w2: tensor<{E}x{H}x{I}xbf16>) -> tensor<?x{H}xbf16> {{
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {{activation = #moe<activation {ACT}>, gate_up_layout = #moe<gate_up_layout {LAYOUT}>, router_weight = #moe<router_weight {ROUTER}>, gemm1_type = {G1}, act_type = bf16, gemm2_type = {G2}{EXTRA}}} : (tensor<?x{H}xbf16>, tensor<?x{K}xi32>, tensor<?x{K}xf32>, tensor<{E}x{I2}x{H}xbf16>, tensor<{E}x{H}x{I}xbf16>) -> tensor<?x{H}xbf16>
  return %out : tensor<?x{H}xbf16>
}}
"""

# FP8 (DeepSeek-V3): e4m3 weights with f32 scales per 128x128 block; x and
# the activation quantized per 1x128 block inside the layer. I2 = 2I,
# I2B = 2I/128, HB = H/128, IB = I/128.
# FP8 x MXFP4 (fp8mx): the same with e2m1 weights and UE8M0 scales per
# 1x32 block: W = f4E2M1FN, WQ = mxfp4 [1, 32], S13 = 2I x H/32, S2 = H x
# I/32, ST = f8E8M0FNU.
MLIR_FP8 = """func.func @fm(%x: tensor<?x{H}xbf16>, %ids: tensor<?x{K}xi32>,
              %w: tensor<?x{K}xf32>, %w13: tensor<{E}x{I2}x{H}x{W}>,
              %w2: tensor<{E}x{H}x{I}x{W}>,
              %w13s: tensor<{E}x{S13}x{ST}>,
              %w2s: tensor<{E}x{S2}x{ST}>) -> tensor<?x{H}xbf16> {{
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {{activation = #moe<activation {ACT}>, gate_up_layout = #moe<gate_up_layout {LAYOUT}>, router_weight = #moe<router_weight {ROUTER}>, gemm1_type = {G1}, act_type = bf16, gemm2_type = {G2}, x_quant = #moe.quant<fp8_block, block = [1, 128]>, w13_quant = {WQ}, act_quant = #moe.quant<fp8_block, block = [1, 128]>, w2_quant = {WQ}{EXTRA}}} : (tensor<?x{H}xbf16>, tensor<?x{K}xi32>, tensor<?x{K}xf32>, tensor<{E}x{I2}x{H}x{W}>, tensor<{E}x{H}x{I}x{W}>, tensor<{E}x{S13}x{ST}>, tensor<{E}x{S2}x{ST}>) -> tensor<?x{H}xbf16>
  return %out : tensor<?x{H}xbf16>
}}
"""
FP8_BLOCK = 128

# bf16 x MXFP4 (mx): bf16 rows, e2m1 weights (W = f4E2M1FN, WQ = mxfp4;
# MXFP8: f8E4M3FN, mxfp8) with UE8M0 scales per 1x32 block, no quantized
# activation. S13 = 2I x H/32, S2 = H x I/32.
MLIR_MX = """func.func @fm(%x: tensor<?x{H}xbf16>, %ids: tensor<?x{K}xi32>,
              %w: tensor<?x{K}xf32>, %w13: tensor<{E}x{I2}x{H}x{W}>,
              %w2: tensor<{E}x{H}x{I}x{W}>,
              %w13s: tensor<{E}x{S13}xf8E8M0FNU>,
              %w2s: tensor<{E}x{S2}xf8E8M0FNU>) -> tensor<?x{H}xbf16> {{
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) {{activation = #moe<activation {ACT}>, gate_up_layout = #moe<gate_up_layout {LAYOUT}>, router_weight = #moe<router_weight {ROUTER}>, gemm1_type = {G1}, act_type = bf16, gemm2_type = {G2}, w13_quant = #moe.quant<{WQ}, block = [1, 32]>, w2_quant = #moe.quant<{WQ}, block = [1, 32]>{EXTRA}}} : (tensor<?x{H}xbf16>, tensor<?x{K}xi32>, tensor<?x{K}xf32>, tensor<{E}x{I2}x{H}x{W}>, tensor<{E}x{H}x{I}x{W}>, tensor<{E}x{S13}xf8E8M0FNU>, tensor<{E}x{S2}xf8E8M0FNU>) -> tensor<?x{H}xbf16>
  return %out : tensor<?x{H}xbf16>
}}
"""

# bf16 x NVFP4 (nv): e2m1 weights with e4m3 scales per 1x16 block under an
# f32 scale per expert. S13 = 2I x H/16, S2 = H x I/16.
MLIR_NV = """func.func @fm(%x: tensor<?x{H}xbf16>, %ids: tensor<?x{K}xi32>,
              %w: tensor<?x{K}xf32>, %w13: tensor<{E}x{I2}x{H}xf4E2M1FN>,
              %w2: tensor<{E}x{H}x{I}xf4E2M1FN>,
              %w13s: tensor<{E}x{S13}xf8E4M3FN>,
              %w2s: tensor<{E}x{S2}xf8E4M3FN>, %w13g: tensor<{E}xf32>,
              %w2g: tensor<{E}xf32>) -> tensor<?x{H}xbf16> {{
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 w13_scales(%w13s) w2_scales(%w2s) w13_global_scale(%w13g) w2_global_scale(%w2g) {{activation = #moe<activation {ACT}>, gate_up_layout = #moe<gate_up_layout {LAYOUT}>, router_weight = #moe<router_weight {ROUTER}>, gemm1_type = {G1}, act_type = bf16, gemm2_type = {G2}, w13_quant = #moe.quant<nvfp4, block = [1, 16]>, w2_quant = #moe.quant<nvfp4, block = [1, 16]>{EXTRA}}} : (tensor<?x{H}xbf16>, tensor<?x{K}xi32>, tensor<?x{K}xf32>, tensor<{E}x{I2}x{H}xf4E2M1FN>, tensor<{E}x{H}x{I}xf4E2M1FN>, tensor<{E}x{S13}xf8E4M3FN>, tensor<{E}x{S2}xf8E4M3FN>, tensor<{E}xf32>, tensor<{E}xf32>) -> tensor<?x{H}xbf16>
  return %out : tensor<?x{H}xbf16>
}}
"""

# The flags that make every case a quantized layer: (flag, the case's last
# field that does the same, the layer).
FORMAT_FLAGS = (("fp8", "fp8", "an FP8"),
                ("fp8-mxfp4", "fp8mx", "an FP8 x MXFP4"),
                ("mxfp4", "mx", "a bf16 x MXFP4"),
                ("nvfp4", "nv", "a bf16 x NVFP4"),
                ("mxfp8-mxfp4", "mx8mx", "an MXFP8 x MXFP4"),
                ("mxfp8-nvfp4", "mx8nv", "an MXFP8 x NVFP4"),
                ("mxfp8", "mx8", "an MXFP8"))
ROUTERS = ("in_combine", "before_down", "none")
GEMM_TYPES = ("bf16", "f32")
ACTS = {"swiglu": None, "clamped_swiglu": "clamped", "gelu_mul": "gelu",
        "gelu_tanh_mul": "gelutanh"}
LAYOUTS = ("concat", "interleaved")
ROUTES = ("softmax", "sigmoid")


def run(cmd, note=""):
    """Runs cmd; exits with its stderr (and `note`) if it fails. Returns
    (stdout, stderr)."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), p.stderr, note))
    return p.stdout, p.stderr


def parse_case(spec, fp8=False, mxfp4=False, bf16_mxfp4=False,
               nvfp4=False, mx8=False, mxfp8=False):
    """E,H,I,K[,router[,gemm[,act[,layout]]]][,fp8|fp8mx|mx|nv|mx8mx|mx8nv|
    mx8] -> the case's dict; raises ValueError on a bad spec."""
    parts = spec.split(",")
    bias = "bias" in parts[4:]
    route = [p for p in parts[4:] if p in ROUTES]
    shared = [p for p in parts[4:] if re.fullmatch(r"shared\d+", p)]
    parts = parts[:4] + [p for p in parts[4:]
                         if p != "bias" and p not in ROUTES and
                         p not in shared]
    ranks = 1
    if len(parts) > 4 and re.fullmatch(r"ep\d+", parts[-1]):
        ranks = int(parts[-1][2:])
        parts = parts[:-1]
    if len(parts) > 4 and parts[-1] == "mx8":
        mxfp8 = True
        parts = parts[:-1]
    elif len(parts) > 4 and parts[-1] in ("mx", "nv", "mx8mx", "mx8nv"):
        bf16_mxfp4, nvfp4 = parts[-1].endswith("mx"), parts[-1].endswith("nv")
        mx8 = parts[-1].startswith("mx8")
        parts = parts[:-1]
    elif len(parts) > 4 and parts[-1] in ("fp8", "fp8mx"):
        fp8, mxfp4 = True, mxfp4 or parts[-1] == "fp8mx"
        parts = parts[:-1]
    fp8 = (fp8 or mxfp4) and not bf16_mxfp4 and not nvfp4
    if not 4 <= len(parts) <= 8:
        raise ValueError("expected E,H,I,K[,router[,gemm[,act[,layout]]]]"
                         "[,fp8]")
    e, h, i, k = (int(v) for v in parts[:4])
    router = parts[4] if len(parts) > 4 else "in_combine"
    gemm = (parts[5] if len(parts) > 5 else "bf16").split("/")
    act = parts[6] if len(parts) > 6 else "swiglu"
    layout = parts[7] if len(parts) > 7 else "concat"
    if router not in ROUTERS:
        raise ValueError("router %r: expected one of %s" % (
            router, ", ".join(ROUTERS)))
    if len(gemm) > 2 or any(g not in GEMM_TYPES for g in gemm):
        raise ValueError("gemm %r: expected G1 or G1/G2, each bf16 or f32"
                         % parts[5])
    if act not in ACTS:
        raise ValueError("act %r: expected one of %s" % (
            act, ", ".join(ACTS)))
    if layout not in LAYOUTS:
        raise ValueError("layout %r: expected one of %s" % (
            layout, ", ".join(LAYOUTS)))
    gemm1, gemm2 = gemm[0], gemm[-1] if len(gemm) > 1 else "bf16"
    if fp8:
        if h % FP8_BLOCK or i % FP8_BLOCK:
            raise ValueError("fp8: H = %d and I = %d must be multiples of "
                             "%d" % (h, i, FP8_BLOCK))
        if layout != "concat":
            raise ValueError("fp8: gate/up must be concatenated (layout "
                             "concat)")
    if ranks > 1 and e % ranks:
        raise ValueError("ep%d: E = %d is not a multiple of the ranks"
                         % (ranks, e))
    c = dict(E=e, H=h, I=i, K=k, router=router, gemm1=gemm1,
             gemm2=gemm2, act=act, layout=layout, fp8=fp8)
    if nvfp4:
        c["nvfp4"] = True
    elif mxfp4 or bf16_mxfp4:
        c["mxfp4"] = True
    if mxfp8:
        c["mxfp8"] = c["mx8"] = True
    elif mx8:
        if not (nvfp4 or bf16_mxfp4):
            raise ValueError("MXFP8 rows and activations go with FP4 "
                             "weights (mx8mx, mx8nv)")
        c["mx8"] = True
    if (bf16_mxfp4 or nvfp4 or mxfp8) and (h % 64 or i % 64):
        raise ValueError("%s: H = %d and I = %d must be multiples of 64"
                         % ("nv" if nvfp4 else "mx8" if mxfp8 else "mx", h,
                            i))
    if ranks > 1:
        c["ranks"] = ranks
    if bias:
        c["bias"] = True
    if route:
        if len(route) > 1:
            raise ValueError("one route field (softmax or sigmoid)")
        c["route"] = route[0]
        if route[0] == "sigmoid":
            c["groups"] = 8 if e % 8 == 0 and e >= 16 else 1
            c["topk_groups"] = max(1, c["groups"] // 2)
            c["scaling"] = 2.5
            if c["topk_groups"] * (e // c["groups"]) < k:
                raise ValueError("route: the kept groups hold fewer than K "
                                 "experts")
        else:
            c["groups"], c["topk_groups"], c["scaling"] = 1, 1, 1.0
    if shared:
        n = int(shared[0][6:])
        if len(shared) > 1 or n < 1 or not route or ranks > 1:
            raise ValueError("sharedS: one field, S >= 1, with a route, on "
                             "one GPU")
        # The layer's experts and slots: the routed ones and the shared.
        c.update(shared=n, shared_weight=0.75, E=e + n, K=k + n)
    return c


def case_name(c):
    prefix = ("fp8mx_" if c.get("fp8") else "mx_") if c.get("mxfp4") else \
        "nv_" if c.get("nvfp4") else "fp8_" if c.get("fp8") else ""
    if c.get("mxfp8"):
        prefix = "mx8_"
    elif c.get("mx8"):
        prefix = "mx8" + prefix
    name = "fm_%se%d_h%d_i%d_k%d" % (prefix, c["E"], c["H"], c["I"], c["K"])
    if c["router"] != "in_combine":
        name += "_" + c["router"]
    if c["gemm1"] != "bf16":
        name += "_g" + c["gemm1"]
    if c.get("gemm2", "bf16") != "bf16":
        name += "_y" + c["gemm2"]
    if c["act"] != "swiglu":
        name += "_" + ACTS[c["act"]]
    if c["layout"] != "concat":
        name += "_" + c["layout"]
    if c.get("bias"):
        name += "_bias"
    if c.get("route"):
        name += "_route" if c["route"] == "softmax" else "_routesig"
    if c.get("shared"):
        name += "_sh%d" % c["shared"]
    if c.get("ranks", 1) > 1:
        name += "_ep%d" % c["ranks"]
    return name


def with_route(ir, c):
    """`ir` with @fm's ids and weights made by a moe.route of its router
    logits (and, sigmoid, a selection bias) instead of being arguments;
    with shared experts the route's ids hold K + S slots over E + S
    experts."""
    S = c.get("shared", 0)
    args = "%%ids: tensor<?x%dxi32>,\n              %%w: tensor<?x%dxf32>" % (
        c["K"], c["K"])
    E, K = c["E"] - S, c["K"] - S  # the routed experts, the route's top_k
    assert ir.count(args) == 1
    logits = "%%logits: tensor<?x%dxf32>" % E
    if c["route"] == "sigmoid":
        logits += ", %%rb: tensor<%dxf32>" % E
    ir = ir.replace(args, logits)
    attrs = "top_k = %d : i64, renormalize" % K
    if c["groups"] > 1:
        attrs += ", num_groups = %d : i64, topk_groups = %d : i64" % (
            c["groups"], c["topk_groups"])
    if c["scaling"] != 1.0:
        attrs += ", routed_scaling_factor = %s : f32" % c["scaling"]
    if S:
        attrs += ", shared_experts = %d : i64, shared_weight = %s : f32" % (
            S, c["shared_weight"])
    if c["route"] == "sigmoid":
        op = ("  %%ids, %%w = moe.route sigmoid %%logits bias(%%rb) {%s} : "
              "(tensor<?x%dxf32>, tensor<%dxf32>) -> (tensor<?x%dxi32>, "
              "tensor<?x%dxf32>)\n" % (attrs, E, E, K + S, K + S))
    else:
        op = ("  %%ids, %%w = moe.route softmax %%logits {%s} : "
              "(tensor<?x%dxf32>) -> (tensor<?x%dxi32>, tensor<?x%dxf32>)\n"
              % (attrs, E, K + S, K + S))
    assert ir.count("  %out = moe.fused_moe") == 1
    return ir.replace("  %out = moe.fused_moe", op + "  %out = moe.fused_moe")


def with_biases(ir, c):
    """`ir` with gpt-oss's per-expert biases added to @fm and its op:
    w13_bias [E, 2I] bf16 and w2_bias [E, H] f32, after the other
    operands."""
    b13 = "tensor<%dx%dxbf16>" % (c["E"], 2 * c["I"])
    b2 = "tensor<%dx%dxf32>" % (c["E"], c["H"])
    out = "tensor<?x%dxbf16>" % c["H"]
    sig = ") -> %s {" % out
    assert ir.count(sig) == 1 and ir.count(" {activation") == 1
    ir = ir.replace(sig, ",\n              %%b13: %s, %%b2: %s%s" % (b13, b2, sig))
    ir = ir.replace(" {activation", " w13_bias(%b13) w2_bias(%b2) {activation")
    typed = ") -> %s\n" % out
    assert ir.count(typed) == 1
    return ir.replace(typed, ", %s, %s%s" % (b13, b2, typed))


def layer_ir(c):
    """The moe.fused_moe function @fm of case c."""
    ir = layer_ir_unbiased(c)
    if c.get("bias"):
        ir = with_biases(ir, c)
    return with_route(ir, c) if c.get("route") else ir


def layer_ir_unbiased(c):
    """The moe.fused_moe function @fm of case c, without biases."""
    extra = ""
    if c["act"] == "clamped_swiglu":
        c["alpha"], c["limit"] = 1.702, 7.0
        extra = ", alpha = 1.702 : f32, limit = 7.0 : f32"
    if c.get("mx8"):
        extra += ", x_quant = #moe.quant<mxfp8, block = [1, 32]>, " \
                 "act_quant = #moe.quant<mxfp8, block = [1, 32]>"
    if c.get("ranks", 1) > 1:
        extra += ", placement = #moe.placement<ranks = %d, " \
                 "experts_per_rank = %d>" % (c["ranks"], c["E"] // c["ranks"])
    fields = dict(E=c["E"], H=c["H"], I=c["I"], I2=2 * c["I"], K=c["K"],
                  ROUTER=c["router"], G1=c["gemm1"],
                  G2=c.get("gemm2", "bf16"), ACT=c["act"],
                  LAYOUT=c["layout"], EXTRA=extra)
    if c.get("nvfp4"):
        return MLIR_NV.format(S13="%dx%d" % (2 * c["I"], c["H"] // 16),
                              S2="%dx%d" % (c["H"], c["I"] // 16), **fields)
    if c.get("mxfp8") or (c.get("mxfp4") and not c.get("fp8")):
        return MLIR_MX.format(S13="%dx%d" % (2 * c["I"], c["H"] // 32),
                              S2="%dx%d" % (c["H"], c["I"] // 32),
                              W="f8E4M3FN" if c.get("mxfp8") else "f4E2M1FN",
                              WQ="mxfp8" if c.get("mxfp8") else "mxfp4",
                              **fields)
    if c.get("mxfp4"):
        return MLIR_FP8.format(
            W="f4E2M1FN", ST="f8E8M0FNU",
            WQ="#moe.quant<mxfp4, block = [1, 32]>",
            S13="%dx%d" % (2 * c["I"], c["H"] // 32),
            S2="%dx%d" % (c["H"], c["I"] // 32), **fields)
    if c.get("fp8"):
        return MLIR_FP8.format(
            W="f8E4M3FN", ST="f32",
            WQ="#moe.quant<fp8_block, block = [128, 128]>",
            S13="%dx%d" % (2 * c["I"] // FP8_BLOCK, c["H"] // FP8_BLOCK),
            S2="%dx%d" % (c["H"] // FP8_BLOCK, c["I"] // FP8_BLOCK),
            **fields)
    return MLIR.format(**fields)


def make(bin_dir, out_dir, c, ptxas, kernel_options="", ir_only=False,
         chip="sm_90a"):
    name = case_name(c)
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "layer.mlir")
    with open(src, "w") as f:
        f.write(layer_ir(c))
    c["name"] = name
    if ir_only:
        run([os.path.join(bin_dir, "moe-opt"), src, "-o", os.devnull])
        return c
    nvvm = os.path.join(d, "kernel.nvvm.mlir")
    convert = "--convert-moe-to-moek=chip=" + chip
    if kernel_options:
        convert += " " + kernel_options
    split = ["--moe-expert-parallel"] if c.get("ranks", 1) > 1 else []
    _, log = run([os.path.join(bin_dir, "moe-opt")] + split +
                 [convert, "--moek-to-nvvm-pipeline=chip=" + chip, src, "-o",
                  nvvm])
    # A layer that convert-moe-to-moek does not lower stays a moe.fused_moe
    # with a remark saying why, and moe-translate then finds no moek.launch.
    remarks = [l for l in log.splitlines() if "remark:" in l]
    run([os.path.join(bin_dir, "moe-translate"), "--moe-to-manifest",
         "--artifact-dir=" + d, nvvm, "-o", os.devnull],
        "".join("moe-opt: %s\n" % r for r in remarks))
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    kernel = manifest["kernel"]
    try:
        _, functions = ptxas_resources(ptxas, chip,
                                       os.path.join(d, kernel + ".ptx"))
    except RuntimeError as e:
        sys.exit("%s: %s" % (name, e))
    # The kernels the manifest launches (the kernel and its variants): the
    # most registers and spill bytes of any. (moe-translate leaves a variant
    # that spills out of the manifest; its code stays in the module.)
    launched = {kernel} | {v["kernel"] for v in manifest.get("variants", [])}
    props = [f for f in functions if f["name"] in launched]
    c["registers"] = max(f["registers"] for f in props) if props else None
    c["spill_bytes"] = max(f["spill_stores"] for f in props) if props else None
    # (ptxas may report spill loads without stores: a spill all the same.)
    c["spill_load_bytes"] = (max(f["spill_loads"] for f in props)
                             if props else None)
    c["variants"] = sorted(launched - {kernel})
    # Shared memory: the launch's dynamic bytes and the most static bytes
    # of any of the module's kernels.
    c["smem_bytes"] = manifest["launch"]["dynamic_smem_bytes"] + max(
        [f["static_smem"] for f in functions] + [0])
    c["workspace_bytes"] = manifest.get("workspace_bytes")
    c["max_tokens"] = manifest.get("max_tokens")
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(c, f, indent=1)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ptxas", default="ptxas")
    ap.add_argument("--kernel-options", default="")
    ap.add_argument("--chip", default="sm_90a",
                    help="the SM to compile for (sm_90a, sm_100a)")
    ap.add_argument("--strict", action="store_true",
                    help="fail if a kernel spills")
    for flag, field, what in FORMAT_FLAGS:
        ap.add_argument("--" + flag, action="store_true",
                        help="every case %s layer (as a last field %s)"
                        % (what, field))
    ap.add_argument("--ir-only", action="store_true",
                    help="write and verify layer.mlir only, no kernel")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    cases = []
    for spec in a.cases:
        try:
            cases.append(parse_case(spec, a.fp8, a.fp8_mxfp4,
                                    a.mxfp4 or a.mxfp8_mxfp4,
                                    a.nvfp4 or a.mxfp8_nvfp4,
                                    a.mxfp8_mxfp4 or a.mxfp8_nvfp4,
                                    a.mxfp8))
        except ValueError as e:
            ap.error("case %s: %s" % (spec, e))
    bad = []
    for c in cases:
        c = make(a.bin, a.out, c, a.ptxas, a.kernel_options, a.ir_only,
                 a.chip)
        if a.ir_only:
            print("%-40s %s: verified by moe-opt" % (
                c["name"], os.path.join(a.out, c["name"], "layer.mlir")))
            continue
        print("%-40s registers %s, spill stores %s B, workspace %.1f MB%s" % (
            c["name"], c["registers"], c["spill_bytes"],
            (c["workspace_bytes"] or 0) / 1e6,
            "".join(", variant " + v for v in c["variants"])))
        if c["spill_bytes"] or c["spill_load_bytes"]:
            bad.append(c["name"])
        if c["smem_bytes"] > SMEM_LIMIT:
            bad.append("%s (shared memory %d B > %d B)" % (
                c["name"], c["smem_bytes"], SMEM_LIMIT))
    if a.strict and bad:
        sys.exit("spills or too much shared memory in: " + ", ".join(bad))


if __name__ == "__main__":
    main()
