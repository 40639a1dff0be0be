#!/usr/bin/env python3
"""Compiles fused MoE layers (moe.fused_moe) into artifact folders.

For each case E,H,I,K[,router[,gemm1[,act[,layout]]]]: writes a moe.fused_moe
function, runs
  moe-opt --convert-moe-to-moek[=<options>] --moek-to-nvvm-pipeline=chip=sm_90a
  moe-translate --moe-to-manifest --artifact-dir=<folder>
and reports ptxas's registers and spills; --strict fails on a spill. Writes
case.json beside the manifest for run_fused_moe.py. Runs where the
compiler is built (no GPU needed).

  router: in_combine (default), before_down or none
  gemm1:  bf16 (default) or f32: the precision of GEMM1's output
  act:    swiglu (default), clamped_swiglu (alpha 1.702, limit 7),
          gelu_mul or gelu_tanh_mul
  layout: concat (default) or interleaved: gate/up rows of w13

usage: make_fused_moe.py --bin build/bin --out DIR [--strict]
           [--kernel-options OPTS] CASE...
"""

import argparse
import json
import os
import re
import subprocess
import sys

MLIR = """func.func @fm(%x: tensor<?x{H}xbf16>, %ids: tensor<?x{K}xi32>,
              %w: tensor<?x{K}xf32>, %w13: tensor<{E}x{I2}x{H}xbf16>,
              %w2: tensor<{E}x{H}x{I}xbf16>) -> tensor<?x{H}xbf16> {{
  %out = moe.fused_moe %x, %ids, %w, %w13, %w2 {{activation = #moe<activation {ACT}>, gate_up_layout = #moe<gate_up_layout {LAYOUT}>, router_weight = #moe<router_weight {ROUTER}>, gemm1_type = {G1}, act_type = bf16, gemm2_type = bf16{EXTRA}}} : (tensor<?x{H}xbf16>, tensor<?x{K}xi32>, tensor<?x{K}xf32>, tensor<{E}x{I2}x{H}xbf16>, tensor<{E}x{H}x{I}xbf16>) -> tensor<?x{H}xbf16>
  return %out : tensor<?x{H}xbf16>
}}
"""


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
    return p.stdout


def parse_case(spec):
    parts = spec.split(",")
    e, h, i, k = (int(v) for v in parts[:4])
    router = parts[4] if len(parts) > 4 else "in_combine"
    gemm1 = parts[5] if len(parts) > 5 else "bf16"
    act = parts[6] if len(parts) > 6 else "swiglu"
    layout = parts[7] if len(parts) > 7 else "concat"
    return dict(E=e, H=h, I=i, K=k, router=router, gemm1=gemm1, act=act,
                layout=layout)


def case_name(c):
    name = "fm_e%d_h%d_i%d_k%d" % (c["E"], c["H"], c["I"], c["K"])
    if c["router"] != "in_combine":
        name += "_" + c["router"]
    if c["gemm1"] != "bf16":
        name += "_g" + c["gemm1"]
    if c["act"] != "swiglu":
        name += "_" + {"clamped_swiglu": "clamped", "gelu_mul": "gelu",
                       "gelu_tanh_mul": "gelutanh"}[c["act"]]
    if c["layout"] != "concat":
        name += "_" + c["layout"]
    return name


def make(bin_dir, out_dir, c, ptxas, kernel_options=""):
    name = case_name(c)
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    extra = ""
    if c["act"] == "clamped_swiglu":
        c["alpha"], c["limit"] = 1.702, 7.0
        extra = ", alpha = 1.702 : f32, limit = 7.0 : f32"
    src = os.path.join(d, "layer.mlir")
    with open(src, "w") as f:
        f.write(MLIR.format(E=c["E"], H=c["H"], I=c["I"], I2=2 * c["I"],
                            K=c["K"], ROUTER=c["router"], G1=c["gemm1"],
                            ACT=c["act"], LAYOUT=c["layout"], EXTRA=extra))
    nvvm = os.path.join(d, "kernel.nvvm.mlir")
    convert = "--convert-moe-to-moek"
    if kernel_options:
        convert += "=" + kernel_options
    run([os.path.join(bin_dir, "moe-opt"), convert,
         "--moek-to-nvvm-pipeline=chip=sm_90a", src, "-o", nvvm])
    run([os.path.join(bin_dir, "moe-translate"), "--moe-to-manifest",
         "--artifact-dir=" + d, nvvm, "-o", os.devnull])
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    kernel = manifest["kernel"]
    report = subprocess.run([ptxas, "-arch=sm_90a", "-v",
                             os.path.join(d, kernel + ".ptx"), "-o",
                             os.devnull], capture_output=True, text=True)
    if report.returncode != 0:
        sys.exit("ptxas failed on %s:\n%s" % (name, report.stderr))
    regs = re.search(r"Used (\d+) registers", report.stderr)
    spills = re.search(r"(\d+) bytes spill stores", report.stderr)
    c["registers"] = int(regs.group(1)) if regs else None
    c["spill_bytes"] = int(spills.group(1)) if spills else None
    c["workspace_bytes"] = manifest.get("workspace_bytes")
    c["max_tokens"] = manifest.get("max_tokens")
    c["name"] = name
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(c, f, indent=1)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ptxas", default="ptxas")
    ap.add_argument("--kernel-options", default="")
    ap.add_argument("--strict", action="store_true",
                    help="fail if a kernel spills")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    bad = []
    for spec in a.cases:
        c = make(a.bin, a.out, parse_case(spec), a.ptxas, a.kernel_options)
        print("%-40s registers %s, spill stores %s B, workspace %.1f MB" % (
            c["name"], c["registers"], c["spill_bytes"],
            (c["workspace_bytes"] or 0) / 1e6))
        if c["spill_bytes"]:
            bad.append(c["name"])
    if a.strict and bad:
        sys.exit("spills in: " + ", ".join(bad))


if __name__ == "__main__":
    main()
