#!/usr/bin/env python3
"""Compiles grouped-matmul kernels from moe IR into artifact folders.

For each shape E,N,K: writes a moe.expert_matmul function, runs
  moe-opt --moe-to-nvvm-pipeline=chip=<chip> (--chip, default sm_90a)
  moe-translate --moe-to-manifest --artifact-dir=<folder>
which writes manifest.json (docs/Manifest.md), the PTX and the cubin, and
reports ptxas's register and spill counts. Runs where
the compiler is built (no GPU needed); run_grouped_gemm.py runs the result.

Folders: gg_e<E>_n<N>_k<K> (bf16 x and w, bf16 out), with --mxfp4
gg_mxfp4_e<E>_n<N>_k<K> (bf16 x, MXFP4 w: e2m1 with a UE8M0 scale per 1x32
block, w_scales [E, N, K/32]), with --nvfp4 gg_nvfp4_e<E>_n<N>_k<K> (bf16
x, NVFP4 w: e2m1 with an e4m3 scale per 1x16 block, w_scales [E, N, K/16],
and an f32 global scale per expert, w_global_scale [E]), with --mxfp8
gg_mxfp8_e<E>_n<N>_k<K> (MXFP8 x and w: e4m3 with a UE8M0 scale per 1x32
block, x_scales [T, K/32], w_scales [E, N, K/32]), with --mxfp8-mxfp4
gg_mxfp8_mxfp4_e<E>_n<N>_k<K> (MXFP8 x by MXFP4 w, both scales UE8M0 per
1x32 block; sm_100a only), or with --fp8
gg_fp8_e<E>_n<N>_k<K>: DeepSeek-V3's FP8 block-scaled recipe, e4m3 x with
f32 scales per 1x128 block (x_scales [T, K/128]) and e4m3 w with f32 scales
per 128x128 block (w_scales [E, N/128, K/128]), bf16 out; N and K must be
multiples of 128. With --bias bf16|f32 each matmul also adds a
per-expert bias [E, N] of that type (gpt-oss), the launch's argument
after the scales (folder suffix _bias).

usage: make_grouped_gemm.py --bin build/bin --out DIR [--strict] [--fp8]
                            [--mxfp4 | --nvfp4 | --mxfp8 | --mxfp8-mxfp4]
                            [--chip C] [--bias bf16|f32]
                            [E,N,K ...]
"""

import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "scripts"))
from ptxas_report import SMEM_LIMIT, ptxas_resources  # noqa: E402

MLIR = """func.func @gg(%x: tensor<?x{K}xbf16>, %w: tensor<{E}x{N}x{K}xbf16>,
              %offsets: tensor<{E1}xi32>) -> tensor<?x{N}xbf16> {{
  %y = moe.expert_matmul %x, %w, %offsets : (tensor<?x{K}xbf16>, tensor<{E}x{N}x{K}xbf16>, tensor<{E1}xi32>) -> tensor<?x{N}xbf16>
  return %y : tensor<?x{N}xbf16>
}}
"""

# FP8 block-scaled (DeepSeek-V3): KB = K/128, NB = N/128.
MLIR_FP8 = """func.func @gg(%x: tensor<?x{K}xf8E4M3FN>, %w: tensor<{E}x{N}x{K}xf8E4M3FN>,
              %offsets: tensor<{E1}xi32>, %xs: tensor<?x{KB}xf32>,
              %ws: tensor<{E}x{NB}x{KB}xf32>) -> tensor<?x{N}xbf16> {{
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) {{x_quant = #moe.quant<fp8_block, block = [1, 128]>, w_quant = #moe.quant<fp8_block, block = [128, 128]>}} : (tensor<?x{K}xf8E4M3FN>, tensor<{E}x{N}x{K}xf8E4M3FN>, tensor<{E1}xi32>, tensor<?x{KB}xf32>, tensor<{E}x{NB}x{KB}xf32>) -> tensor<?x{N}xbf16>
  return %y : tensor<?x{N}xbf16>
}}
"""
FP8_BLOCK = 128

# MXFP4 weights (e2m1, a UE8M0 scale per 1x32 block) with bf16 rows:
# KS = K/32.
MLIR_MXFP4 = """func.func @gg(%x: tensor<?x{K}xbf16>, %w: tensor<{E}x{N}x{K}xf4E2M1FN>,
              %offsets: tensor<{E1}xi32>, %ws: tensor<{E}x{N}x{KS}xf8E8M0FNU>) -> tensor<?x{N}xbf16> {{
  %y = moe.expert_matmul %x, %w, %offsets w_scales(%ws) {{w_quant = #moe.quant<mxfp4, block = [1, 32]>}} : (tensor<?x{K}xbf16>, tensor<{E}x{N}x{K}xf4E2M1FN>, tensor<{E1}xi32>, tensor<{E}x{N}x{KS}xf8E8M0FNU>) -> tensor<?x{N}xbf16>
  return %y : tensor<?x{N}xbf16>
}}
"""

# NVFP4 weights (e2m1, an e4m3 scale per 1x16 block, an f32 scale per
# expert) with bf16 rows: KS = K/16.
MLIR_NVFP4 = """func.func @gg(%x: tensor<?x{K}xbf16>, %w: tensor<{E}x{N}x{K}xf4E2M1FN>,
              %offsets: tensor<{E1}xi32>, %ws: tensor<{E}x{N}x{KS}xf8E4M3FN>,
              %wg: tensor<{E}xf32>) -> tensor<?x{N}xbf16> {{
  %y = moe.expert_matmul %x, %w, %offsets w_scales(%ws) w_global_scale(%wg) {{w_quant = #moe.quant<nvfp4, block = [1, 16]>}} : (tensor<?x{K}xbf16>, tensor<{E}x{N}x{K}xf4E2M1FN>, tensor<{E1}xi32>, tensor<{E}x{N}x{KS}xf8E4M3FN>, tensor<{E}xf32>) -> tensor<?x{N}xbf16>
  return %y : tensor<?x{N}xbf16>
}}
"""

# MXFP8 rows and weights (e4m3, a UE8M0 scale per 1x32 block): KS = K/32.
MLIR_MXFP8 = """func.func @gg(%x: tensor<?x{K}xf8E4M3FN>, %w: tensor<{E}x{N}x{K}xf8E4M3FN>,
              %offsets: tensor<{E1}xi32>, %xs: tensor<?x{KS}xf8E8M0FNU>,
              %ws: tensor<{E}x{N}x{KS}xf8E8M0FNU>) -> tensor<?x{N}xbf16> {{
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) {{x_quant = #moe.quant<mxfp8, block = [1, 32]>, w_quant = #moe.quant<mxfp8, block = [1, 32]>}} : (tensor<?x{K}xf8E4M3FN>, tensor<{E}x{N}x{K}xf8E4M3FN>, tensor<{E1}xi32>, tensor<?x{KS}xf8E8M0FNU>, tensor<{E}x{N}x{KS}xf8E8M0FNU>) -> tensor<?x{N}xbf16>
  return %y : tensor<?x{N}xbf16>
}}
"""

# MXFP8 rows by MXFP4 weights (DeepGEMM's Blackwell formats; sm_100a only):
# KS = K/32.
MLIR_MXFP8_MXFP4 = """func.func @gg(%x: tensor<?x{K}xf8E4M3FN>, %w: tensor<{E}x{N}x{K}xf4E2M1FN>,
              %offsets: tensor<{E1}xi32>, %xs: tensor<?x{KS}xf8E8M0FNU>,
              %ws: tensor<{E}x{N}x{KS}xf8E8M0FNU>) -> tensor<?x{N}xbf16> {{
  %y = moe.expert_matmul %x, %w, %offsets x_scales(%xs) w_scales(%ws) {{x_quant = #moe.quant<mxfp8, block = [1, 32]>, w_quant = #moe.quant<mxfp4, block = [1, 32]>}} : (tensor<?x{K}xf8E4M3FN>, tensor<{E}x{N}x{K}xf4E2M1FN>, tensor<{E1}xi32>, tensor<?x{KS}xf8E8M0FNU>, tensor<{E}x{N}x{KS}xf8E8M0FNU>) -> tensor<?x{N}xbf16>
  return %y : tensor<?x{N}xbf16>
}}
"""

DEFAULT_SHAPES = ["1,128,64", "8,256,512", "256,4096,7168", "256,7168,2048"]
DEFAULT_SHAPES_FP8 = ["1,128,128", "8,256,512", "256,4096,7168",
                      "256,7168,2048"]


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
    return p.stdout


def artifact_name(e, n, k, fp8=False, mxfp4=False, nvfp4=False,
                  mxfp8=False, mxfp8_mxfp4=False):
    return "gg_%se%d_n%d_k%d" % ("fp8_" if fp8 else "mxfp4_" if mxfp4 else
                                 "nvfp4_" if nvfp4 else
                                 "mxfp8_" if mxfp8 else
                                 "mxfp8_mxfp4_" if mxfp8_mxfp4 else "",
                                 e, n, k)


def with_bias(ir, e, n, dtype):
    """`ir` (one moe.expert_matmul function) with a per-expert bias
    [E, N] of `dtype` as its last argument and operand."""
    ty = "tensor<%dx%dx%s>" % (e, n, dtype)
    out = ") -> tensor<?x%dxbf16>" % n
    assert ir.count(out + " {") == 1 and ir.count(out + "\n") == 1
    ir = ir.replace(out + " {", ", %%bias: %s%s {" % (ty, out))
    ir = ir.replace(out + "\n", ", %s%s\n" % (ty, out))
    op = ir[ir.index("moe.expert_matmul"):]
    at = op.index(" {") if " {" in op.split(" : ")[0] else op.index(" : ")
    return ir.replace(op, op[:at] + " bias(%bias)" + op[at:])


def make(bin_dir, out_dir, e, n, k, ptxas, kernel_options="",
         translate_options="", fp8=False, chip="sm_90a", mxfp4=False,
         nvfp4=False, mxfp8=False, mxfp8_mxfp4=False, bias=None):
    name = artifact_name(e, n, k, fp8, mxfp4, nvfp4, mxfp8, mxfp8_mxfp4)
    if bias:
        name += "_bias"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "layer.mlir")
    if fp8:
        text = MLIR_FP8.format(E=e, N=n, K=k, E1=e + 1, NB=n // FP8_BLOCK,
                               KB=k // FP8_BLOCK)
    elif mxfp4:
        text = MLIR_MXFP4.format(E=e, N=n, K=k, E1=e + 1, KS=k // 32)
    elif nvfp4:
        text = MLIR_NVFP4.format(E=e, N=n, K=k, E1=e + 1, KS=k // 16)
    elif mxfp8:
        text = MLIR_MXFP8.format(E=e, N=n, K=k, E1=e + 1, KS=k // 32)
    elif mxfp8_mxfp4:
        text = MLIR_MXFP8_MXFP4.format(E=e, N=n, K=k, E1=e + 1, KS=k // 32)
    else:
        text = MLIR.format(E=e, N=n, K=k, E1=e + 1)
    if bias:
        text = with_bias(text, e, n, bias)
    with open(src, "w") as f:
        f.write(text)
    nvvm_path = os.path.join(d, "kernel.nvvm.mlir")
    if kernel_options:
        passes = ["--convert-moe-to-moek=" + kernel_options,
                  "--moek-to-nvvm-pipeline=chip=" + chip]
    else:
        passes = ["--moe-to-nvvm-pipeline=chip=" + chip]
    run([os.path.join(bin_dir, "moe-opt"), *passes, src, "-o", nvvm_path])
    run([os.path.join(bin_dir, "moe-translate"), "--moe-to-manifest",
         "--artifact-dir=" + d, *translate_options.split(), nvvm_path, "-o",
         os.devnull])
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    kernel = manifest["kernel"]
    smem = manifest["launch"]["dynamic_smem_bytes"]
    # Every kernel's dynamic shared memory (the variants' too).
    dynamic = {kernel: smem}
    for v in manifest.get("variants", []):
        dynamic[v["kernel"]] = v.get("dynamic_smem_bytes", smem)
    # One entry per kernel of the module (the 128-row kernel and its
    # variants): its registers and spill bytes (stores and loads: ptxas may
    # report loads alone). ptxas reports serialized wgmmas as "info", not as
    # a warning.
    try:
        stderr, kernels = ptxas_resources(ptxas, chip,
                                          os.path.join(d, kernel + ".ptx"))
    except RuntimeError as e:
        print("%s: %s" % (name, e))
        return False
    loss = sorted(set(re.findall(r"\((C\d+)\) Potential Performance Loss",
                                 stderr)))
    spilled = [(f["name"], f["spill_stores"] + f["spill_loads"])
               for f in kernels if f["spill_stores"] or f["spill_loads"]]
    # Dynamic + static shared memory within the 227 KB a CTA may have.
    static = {f["name"]: f["static_smem"] for f in kernels}
    over = ["%s: %d + %s B" % (k, v, static.get(k, "?"))
            for k, v in sorted(dynamic.items())
            if v + int(static.get(k, 0)) > SMEM_LIMIT]
    print("%s: kernel %s, %s registers, %s bytes spilled, smem %d%s%s" % (
        name, kernel, "/".join(str(f["registers"]) for f in kernels) or "?",
        " ".join("%s: %d" % fb for fb in spilled) if spilled else "0", smem,
        ", wgmma SERIALIZED (%s)" % " ".join(loss) if loss else "",
        ", shared memory over %d B: %s" % (SMEM_LIMIT, ", ".join(over))
        if over else ""))
    return not spilled and not loss and not over and bool(kernels)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--ptxas", default="/usr/local/cuda/bin/ptxas")
    p.add_argument("--kernel-options", default="",
                   help="options of convert-moe-to-moek, e.g. 'tile-n=256'")
    p.add_argument("--translate-options", default="",
                   help="options of moe-translate, e.g. '--opt-level=2'")
    p.add_argument("shapes", nargs="*",
                   help="E,N,K (default: %s; with --fp8: %s)" % (
                       " ".join(DEFAULT_SHAPES), " ".join(DEFAULT_SHAPES_FP8)))
    p.add_argument("--fp8", action="store_true",
                   help="FP8 block-scaled kernels (e4m3 x and w, f32 scales "
                        "per 1x128 and 128x128 block) in gg_fp8_e<E>_n<N>_k<K>")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 if any kernel spills, has serialized "
                        "wgmmas or needs more than 227 KB of shared memory")
    p.add_argument("--mxfp4", action="store_true",
                   help="bf16 rows by MXFP4 weights (K a multiple of 64)")
    p.add_argument("--nvfp4", action="store_true",
                   help="bf16 rows by NVFP4 weights (K a multiple of 64)")
    p.add_argument("--mxfp8", action="store_true",
                   help="MXFP8 rows by MXFP8 weights (K a multiple of 64)")
    p.add_argument("--mxfp8-mxfp4", action="store_true",
                   help="MXFP8 rows by MXFP4 weights (sm_100a's block-scaled "
                        "kernel; N and K multiples of 128)")
    p.add_argument("--chip", default="sm_90a",
                   help="the SM to compile for (sm_90a, sm_100a)")
    p.add_argument("--bias", choices=("bf16", "f32"),
                   help="a per-expert bias [E, N] of this type")
    a = p.parse_args()
    shapes = [[int(v) for v in s.split(",")] for s in (
        a.shapes or (DEFAULT_SHAPES_FP8 if a.fp8 else DEFAULT_SHAPES))]
    if a.fp8:
        bad = ["%d,%d,%d" % tuple(s) for s in shapes
               if s[1] % FP8_BLOCK or s[2] % FP8_BLOCK]
        if bad:
            p.error("--fp8: N and K must be multiples of %d: %s" % (
                FP8_BLOCK, " ".join(bad)))
    clean = True
    for e, n, k in shapes:
        clean &= make(a.bin, a.out, e, n, k, a.ptxas, a.kernel_options,
                      a.translate_options, a.fp8, a.chip, a.mxfp4, a.nvfp4,
                      a.mxfp8, a.mxfp8_mxfp4, a.bias)
    if a.strict and not clean:
        sys.exit("make_grouped_gemm: a kernel spills or has serialized "
                 "wgmmas (see above)")


if __name__ == "__main__":
    main()
