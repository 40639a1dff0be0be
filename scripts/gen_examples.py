#!/usr/bin/env python3
"""Writes examples/*.mlir: real models' MoE layers in the moe dialect.

Each model gets three variants, all unfused (the chain that
moe-fuse-experts turns into one moe.fused_moe):
  bf16   BF16 weights and activations, router weight in the combine;
  fp8    FP8 e4m3 weights and activations with block scales (DeepSeek-V3's
         1x128 / 128x128 FP32 recipe, or MXFP8 1x32 UE8M0 where H or I is
         not a multiple of 128), router weight before the down projection
         (DeepGEMM's placement);
  mxfp4  MXFP4 weights (e2m1, 1x32 UE8M0 scales) with BF16 activations;
  nvfp4  NVFP4 weights (e2m1, 1x16 e4m3 scales, an f32 scale per expert)
         with BF16 activations;
  fp8-mxfp4  FP8 activations as in fp8 (1x128) with MXFP4 weights, the
         router weight before the down projection (DeepGEMM's Mega MoE
         combination); only for models whose H and I are multiples of 128.
  mxfp8-nvfp4  FP8 activations as MXFP8 (e4m3, 1x32 UE8M0 scales) with
         NVFP4 weights, the router weight before the down projection (FP8
         activations by FP4 weights that the Hopper kernel multiplies
         exactly); DeepSeek-V3 only.
  mxfp8-mxfp4  MXFP8 activations with MXFP4 weights, UE8M0 scales per 1x32
         block on both sides (DeepGEMM's Mega MoE formats on Blackwell,
         whose tensor cores apply both scales), the router weight before
         the down projection; DeepSeek-V3 only.

Run from the repository root: python3 scripts/gen_examples.py
"""

import os

MODELS = {
    # name: (E, K, H, I, routing, activation)
    "deepseek-v3": dict(E=256, K=8, H=7168, I=2048,
                        route="sigmoid", bias=True, groups=(8, 4),
                        renorm=True, scale=2.5,
                        act="swiglu(concat)", act_attrs=""),
    # DeepSeek-V3 with its shared expert folded in (moe.route
    # shared_experts = 1): 257 experts in the weights, 9 slots a token.
    "deepseek-v3-shared": dict(E=256, K=8, H=7168, I=2048,
                               route="sigmoid", bias=True, groups=(8, 4),
                               renorm=True, scale=2.5, shared=1,
                               act="swiglu(concat)", act_attrs=""),
    "qwen3-30b-a3b": dict(E=128, K=8, H=2048, I=768,
                          route="softmax", bias=False, groups=None,
                          renorm=True, scale=None,
                          act="swiglu(concat)", act_attrs=""),
    "mixtral-8x7b": dict(E=8, K=2, H=4096, I=14336,
                         route="softmax", bias=False, groups=None,
                         renorm=True, scale=None,
                         act="swiglu(concat)", act_attrs=""),
    "gpt-oss-120b": dict(E=128, K=4, H=2880, I=2880,
                         route="softmax", bias=False, groups=None,
                         renorm=True, scale=None, expert_bias=True,
                         act="clamped_swiglu(interleaved)",
                         act_attrs=" {alpha = 1.702000e+00 : f32, limit = 7.000000e+00 : f32}"),
}

SOURCES = {
    "deepseek-v3": "DeepSeek-V3: 256 routed experts, top-8, sigmoid scores with "
                   "e_score_correction_bias, 8 groups of which 4 kept, "
                   "renormalized, routed_scaling_factor 2.5",
    "deepseek-v3-shared": "DeepSeek-V3 with its shared expert: 256 routed "
                          "experts, top-8 (sigmoid, e_score_correction_bias, "
                          "8 groups of which 4 kept, renormalized, "
                          "routed_scaling_factor 2.5) and one shared expert "
                          "(expert 256, every token's ninth slot, weight 1), "
                          "folded into one layer of 257 experts",
    "qwen3-30b-a3b": "Qwen3-30B-A3B: 128 experts, top-8, softmax, norm_topk_prob",
    "mixtral-8x7b": "Mixtral-8x7B: 8 experts, top-2, softmax over the top-2 "
                    "(= softmax then renormalize)",
    "gpt-oss-120b": "gpt-oss-120b: 128 experts, top-4, softmax over the top-4, "
                    "clamped SwiGLU (alpha 1.702, limit 7) on interleaved "
                    "gate/up rows, bf16 expert biases on both projections",
}


def t(shape, elem):
    return "tensor<" + "x".join(str(d) for d in shape) + "x" + elem + ">"


def quant_for(m, variant):
    """(value type, activation quant, weight quant, scale type, blocks)"""
    if variant == "fp8-mxfp4":
        return dict(vt="f8E4M3FN", st="f32", wvt="f4E2M1FN", wst="f8E8M0FNU",
                    aq="#moe.quant<fp8_block, block = [1, 128]>",
                    wq="#moe.quant<mxfp4, block = [1, 32]>",
                    ab=(1, 128), wb=(1, 32))
    if variant == "fp8":
        if m["H"] % 128 == 0 and m["I"] % 128 == 0:
            return dict(vt="f8E4M3FN", st="f32",
                        aq="#moe.quant<fp8_block, block = [1, 128]>",
                        wq="#moe.quant<fp8_block, block = [128, 128]>",
                        ab=(1, 128), wb=(128, 128))
        return dict(vt="f8E4M3FN", st="f8E8M0FNU",
                    aq="#moe.quant<mxfp8, block = [1, 32]>",
                    wq="#moe.quant<mxfp8, block = [1, 32]>",
                    ab=(1, 32), wb=(1, 32))
    if variant == "mxfp4":
        return dict(vt="f4E2M1FN", st="f8E8M0FNU", aq=None,
                    wq="#moe.quant<mxfp4, block = [1, 32]>",
                    ab=None, wb=(1, 32))
    if variant == "mxfp8-mxfp4":
        return dict(vt="f8E4M3FN", st="f8E8M0FNU", wvt="f4E2M1FN",
                    wst="f8E8M0FNU",
                    aq="#moe.quant<mxfp8, block = [1, 32]>",
                    wq="#moe.quant<mxfp4, block = [1, 32]>",
                    ab=(1, 32), wb=(1, 32))
    if variant == "mxfp8-nvfp4":
        return dict(vt="f8E4M3FN", st="f8E8M0FNU", wvt="f4E2M1FN",
                    wst="f8E4M3FN",
                    aq="#moe.quant<mxfp8, block = [1, 32]>",
                    wq="#moe.quant<nvfp4, block = [1, 16]>",
                    ab=(1, 32), wb=(1, 16), global_scale=True)
    if variant == "nvfp4":
        return dict(vt="f4E2M1FN", st="f8E4M3FN", aq=None,
                    wq="#moe.quant<nvfp4, block = [1, 16]>",
                    ab=None, wb=(1, 16), global_scale=True)
    return None


def generate(name, m, variant):
    # R routed experts (the gate's and the route's), E = R + S in the
    # weights; Kr routed slots, K = Kr + S a token.
    S = m.get("shared", 0)
    R, Kr = m["E"], m["K"]
    E, K, H, I = R + S, Kr + S, m["H"], m["I"]
    fn = name.replace("-", "_") + "_" + variant.replace("-", "_")
    q = quant_for(m, variant)
    wt = q.get("wvt", q["vt"]) if q else "bf16"
    wst = q.get("wst", q["st"]) if q else None
    args = [("%x", t(["?", H], "bf16")), ("%wg", t([R, H], "bf16"))]
    if m["bias"]:
        args.append(("%bias", t([R], "f32")))
    args.append(("%w13", t([E, 2 * I, H], wt)))
    if q:
        wb = q["wb"]
        args.append(("%w13_scales", t([E, 2 * I // wb[0], H // wb[1]], wst)))
        if q.get("global_scale"):
            args.append(("%w13_global", t([E], "f32")))
    # Expert biases (gpt-oss): w13_bias [E, 2I], w2_bias [E, H], bf16.
    eb = m.get("expert_bias", False)
    if eb:
        args.append(("%w13_bias", t([E, 2 * I], "bf16")))
    args.append(("%w2", t([E, H, I], wt)))
    if q:
        args.append(("%w2_scales", t([E, H // wb[0], I // wb[1]], wst)))
        if q.get("global_scale"):
            args.append(("%w2_global", t([E], "f32")))
    if eb:
        args.append(("%w2_bias", t([E, H], "bf16")))
    b1 = " bias(%w13_bias)" if eb else ""
    b2 = " bias(%w2_bias)" if eb else ""
    b1t = ", " + t([E, 2 * I], "bf16") if eb else ""
    b2t = ", " + t([E, H], "bf16") if eb else ""
    out = t(["?", H], "bf16")
    lines = []
    lines.append(f"// {SOURCES[name]}.")
    desc = {"bf16": "BF16 weights and activations; the router weight is applied in the combine.",
            "fp8": "FP8 e4m3 weights and activations with block scales ("
                   + ("1x128 / 128x128 FP32, DeepSeek-V3's recipe" if q and q['st'] == 'f32'
                      else "MXFP8: 1x32 UE8M0, since H or I is not a multiple of 128")
                   + "); the router weight is applied before the down projection, as DeepGEMM does.",
            "fp8-mxfp4": "FP8 e4m3 activations with 1x128 FP32 block scales and MXFP4 weights (e2m1, 1x32 UE8M0 scales), as in DeepGEMM's Mega MoE; the router weight is applied before the down projection.",
            "nvfp4": "NVFP4 weights (e2m1, 1x16 e4m3 scales under an f32 scale per expert) with BF16 activations; the router weight is applied in the combine.",
            "mxfp8-mxfp4": "FP8 e4m3 activations with 1x32 UE8M0 block scales (MXFP8) and MXFP4 weights (e2m1, 1x32 UE8M0 scales), the formats of DeepGEMM's Mega MoE on Blackwell; the router weight is applied before the down projection.",
            "mxfp8-nvfp4": "FP8 e4m3 activations with 1x32 UE8M0 block scales (MXFP8) and NVFP4 weights (e2m1, 1x16 e4m3 scales under an f32 scale per expert); the router weight is applied before the down projection.",
            "mxfp4": "MXFP4 weights (e2m1, 1x32 UE8M0 scales) with BF16 activations; the router weight is applied in the combine."}[variant]
    if eb:
        desc = desc.replace("the router weight is applied before the down projection, as DeepGEMM does",
                            "the router weight is applied in the combine (the down projection's bias is weighted too)")
    lines.append(f"// {desc}")
    shape = f"E{R}+{S} K{Kr}+{S}" if S else f"E{E} K{K}"
    lines.append(f"// T = {shape} H{H} I{I}; generated by scripts/gen_examples.py.")
    lines.append("")
    sig = ",\n    ".join(f"{a}: {ty}" for a, ty in args)
    lines.append(f"func.func @{fn}(\n    {sig}) -> {out} {{")
    lines.append(f"  %logits = moe.gate %x, %wg : {t(['?', H], 'bf16')}, {t([R, H], 'bf16')} -> {t(['?', R], 'f32')}")
    attrs = [f"top_k = {Kr} : i64"]
    if m["groups"]:
        attrs += [f"num_groups = {m['groups'][0]} : i64", f"topk_groups = {m['groups'][1]} : i64"]
    if m["renorm"]:
        attrs.append("renormalize")
    if m["scale"]:
        attrs.append(f"routed_scaling_factor = {m['scale']:e} : f32")
    if S:
        attrs.append(f"shared_experts = {S} : i64")
    bias = " bias(%bias)" if m["bias"] else ""
    route_in = t(["?", R], "f32") + (", " + t([R], "f32") if m["bias"] else "")
    lines.append(f"  %ids, %weights = moe.route {m['route']} %logits{bias} {{{', '.join(attrs)}}} : "
                 f"({route_in}) -> ({t(['?', K], 'i32')}, {t(['?', K], 'f32')})")
    lines.append(f"  %rows, %offsets, %slot_map, %row_weights = moe.dispatch %x, %ids, %weights {{num_experts = {E} : i64}} : "
                 f"{t(['?', H], 'bf16')}, {t(['?', K], 'i32')}, {t(['?', K], 'f32')} -> "
                 f"{t(['?', H], 'bf16')}, {t([E + 1], 'i32')}, {t(['?', K], 'i32')}, {t(['?'], 'f32')}")
    offs = t([E + 1], "i32")
    if variant in ("fp8", "fp8-mxfp4", "mxfp8-nvfp4", "mxfp8-mxfp4"):
        ab = q["ab"]
        gs = q.get("global_scale")
        g1 = " w_global_scale(%w13_global)" if gs else ""
        g2 = " w_global_scale(%w2_global)" if gs else ""
        gt = ", " + t([E], "f32") if gs else ""
        lines.append(f"  %xq, %xs = moe.quantize {q['aq']} %rows : {t(['?', H], 'bf16')} -> "
                     f"{t(['?', H], q['vt'])}, {t(['?', H // ab[1]], q['st'])}")
        lines.append(f"  %h = moe.expert_matmul %xq, %w13, %offsets x_scales(%xs) w_scales(%w13_scales){g1}{b1} "
                     f"{{w_quant = {q['wq']}, x_quant = {q['aq']}}} : "
                     f"({t(['?', H], q['vt'])}, {t([E, 2 * I, H], wt)}, {offs}, {t(['?', H // ab[1]], q['st'])}, "
                     f"{t([E, 2 * I // q['wb'][0], H // q['wb'][1]], wst)}{gt}{b1t}) -> {t(['?', 2 * I], 'bf16')}")
        if eb:
            # The down projection's bias is weighted too: the router
            # weight in the combine.
            lines.append(f"  %a = moe.activation {m['act']} %h{m['act_attrs']} : "
                         f"({t(['?', 2 * I], 'bf16')}) -> {t(['?', I], 'bf16')}")
        else:
            lines.append(f"  %a = moe.activation {m['act']} %h row_weights(%row_weights){m['act_attrs']} : "
                         f"({t(['?', 2 * I], 'bf16')}, {t(['?'], 'f32')}) -> {t(['?', I], 'bf16')}")
        lines.append(f"  %aq, %as = moe.quantize {q['aq']} %a : {t(['?', I], 'bf16')} -> "
                     f"{t(['?', I], q['vt'])}, {t(['?', I // ab[1]], q['st'])}")
        lines.append(f"  %y = moe.expert_matmul %aq, %w2, %offsets x_scales(%as) w_scales(%w2_scales){g2}{b2} "
                     f"{{w_quant = {q['wq']}, x_quant = {q['aq']}}} : "
                     f"({t(['?', I], q['vt'])}, {t([E, H, I], wt)}, {offs}, {t(['?', I // ab[1]], q['st'])}, "
                     f"{t([E, H // q['wb'][0], I // q['wb'][1]], wst)}{gt}{b2t}) -> {t(['?', H], 'bf16')}")
        if eb:
            lines.append(f"  %out = moe.combine %y, %slot_map weights(%weights) : "
                         f"({t(['?', H], 'bf16')}, {t(['?', K], 'i32')}, {t(['?', K], 'f32')}) -> {out}")
        else:
            lines.append(f"  %out = moe.combine %y, %slot_map : ({t(['?', H], 'bf16')}, {t(['?', K], 'i32')}) -> {out}")
    else:
        if q:
            bc = q["wb"][1]
            g1 = " w_global_scale(%w13_global)" if q.get("global_scale") else ""
            g2 = " w_global_scale(%w2_global)" if q.get("global_scale") else ""
            wscales1 = f" w_scales(%w13_scales){g1} {{w_quant = {q['wq']}}}"
            wscales2 = f" w_scales(%w2_scales){g2} {{w_quant = {q['wq']}}}"
            gt = ", " + t([E], "f32") if q.get("global_scale") else ""
            s1 = ", " + t([E, 2 * I, H // bc], q["st"]) + gt
            s2 = ", " + t([E, H, I // bc], q["st"]) + gt
        else:
            wscales1 = wscales2 = s1 = s2 = ""
        if eb:
            # bias(...) before the attributes, its type last.
            wscales1 = (wscales1.split(" {")[0] + b1 + (" {" + wscales1.split(" {", 1)[1] if " {" in wscales1 else ""))
            wscales2 = (wscales2.split(" {")[0] + b2 + (" {" + wscales2.split(" {", 1)[1] if " {" in wscales2 else ""))
            s1 += b1t
            s2 += b2t
        lines.append(f"  %h = moe.expert_matmul %rows, %w13, %offsets{wscales1} : "
                     f"({t(['?', H], 'bf16')}, {t([E, 2 * I, H], wt)}, {offs}{s1}) -> {t(['?', 2 * I], 'bf16')}")
        lines.append(f"  %a = moe.activation {m['act']} %h{m['act_attrs']} : ({t(['?', 2 * I], 'bf16')}) -> {t(['?', I], 'bf16')}")
        lines.append(f"  %y = moe.expert_matmul %a, %w2, %offsets{wscales2} : "
                     f"({t(['?', I], 'bf16')}, {t([E, H, I], wt)}, {offs}{s2}) -> {t(['?', H], 'bf16')}")
        lines.append(f"  %out = moe.combine %y, %slot_map weights(%weights) : "
                     f"({t(['?', H], 'bf16')}, {t(['?', K], 'i32')}, {t(['?', K], 'f32')}) -> {out}")
    lines.append(f"  return %out : {out}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
    os.makedirs(root, exist_ok=True)
    for name, m in MODELS.items():
        for variant in ("bf16", "fp8", "mxfp4", "nvfp4", "fp8-mxfp4",
                        "mxfp8-nvfp4", "mxfp8-mxfp4"):
            if variant == "fp8-mxfp4" and (m["H"] % 128 or m["I"] % 128):
                continue
            if variant.startswith("mxfp8-") and name != "deepseek-v3":
                continue
            if m.get("shared") and variant not in ("bf16", "fp8"):
                continue
            path = os.path.join(root, f"{name}-{variant}.mlir")
            with open(path, "w") as f:
                f.write(generate(name, m, variant))
            print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
