#!/usr/bin/env python3
"""moe_runtime.torch_ops' layer specs and argument checks on stand-in
tensors (Inputs/torch_stub: no torch, no GPU): prints the spec that the
fused_moe op compiles for each layer below, one per line, and the
ValueError of each bad call; then the op's kernel options."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "torch_stub"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
import torch  # noqa: E402  (the stand-in)
import moe_runtime.torch_ops as ops  # noqa: E402

T = torch.Tensor


def routed(name, E, S, H=512, I=256, K=2, fp8=False, logits_e=None, **kw):
    """_check_routed's spec for a layer of E routed and S shared experts
    (w1 and w2 with E + S), or its error."""
    wdt = torch.float8_e4m3fn if fp8 else torch.bfloat16
    w1, w2 = T((E + S, 2 * I, H), wdt), T((E + S, H, I), wdt)
    scales = (T((E + S, 2 * I // 128, H // 128), torch.float32),
              T((E + S, H // 128, I // 128), torch.float32)) if fp8 \
        else (None, None)
    try:
        spec = ops._check_routed(
            T((37, H), torch.bfloat16), w1, w2,
            T((37, E if logits_e is None else logits_e), torch.float32), K,
            True, "silu", "", "in_combine", scales[0], scales[1], None, None,
            kw.get("scoring", "softmax"), 1, 1, None, 1.0, S, 0.5)
        print("%s: %s" % (name, spec))
    except ValueError as e:
        print("%s: ValueError: %s" % (name, e))


routed("routed", 16, 0)
routed("shared", 16, 1)
routed("shared-fp8", 16, 2, fp8=True, scoring="sigmoid")
routed("shared-logits-over-all", 16, 1, logits_e=17)
routed("shared-all", 0, 4)


# The kernel options: max-tokens, and $MOE_COMPILER_OPTIONS after it.
os.environ.pop("MOE_COMPILER_OPTIONS", None)
print("options: %s" % ops.kernel_options(4096))
os.environ["MOE_COMPILER_OPTIONS"] = " gather-rows=true "
print("options-env: %s" % ops.kernel_options(256))
