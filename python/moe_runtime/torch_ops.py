"""The fused MoE layer as a PyTorch custom op, called like vLLM's and
SGLang's `fused_experts`.

    import moe_runtime.torch_ops as moe_ops
    out = moe_ops.fused_experts(hidden_states, w1, w2, topk_weights,
                                topk_ids, activation="silu")
    # the same op, as torch.compile and the dispatcher see it:
    out = torch.ops.moe_compiler.fused_experts(hidden_states, w1, w2,
                                               topk_weights, topk_ids)

Arguments (docs/TorchOp.md has the whole contract):
  hidden_states [T, H] bf16, contiguous
  w1            [E, 2I, H]: bf16, or float8_e4m3fn with w1_scale
                [E, 2I/128, H/128] float32 (DeepSeek-V3's 128x128 blocks)
  w2            [E, H, I]:  bf16, or float8_e4m3fn with w2_scale
                [E, H/128, I/128] float32
  topk_weights  [T, K] float32 (bf16/f16 are converted)
  topk_ids      [T, K] int32 (int64 is converted); -1 masks a slot
  activation    "silu" (SwiGLU, gate/up concatenated), "gelu",
                "gelu_tanh", "swigluoai" (gpt-oss: clamped SwiGLU, alpha
                1.702, limit 7, gate/up interleaved)
  gate_up_layout  "" (the activation's), "concat" or "interleaved"
  router_weight   "in_combine" (vLLM's default), "before_down" or "none"
  w1_bias, w2_bias  per-expert biases (gpt-oss), both or neither: [E, 2I]
                and [E, H], both bfloat16 or both float32, added to each
                matmul's f32 result before its rounding (bf16 weights and
                the FP4/MXFP8 kernels; not with FP8 weights)
returns [T, H] bf16. With FP8 weights the layer quantizes hidden_states
and the activation per 1x128 block itself (vLLM's use_fp8_w8a8 with
block_shape [128, 128] and dynamic activation scales).

The kernel for a layer's shape is compiled on first use (moe_runtime.jit:
one to three seconds, once per machine thanks to the cache) and loaded once
per device. A kernel accepts up to `max_tokens` tokens (its workspace is
sized for them); a call with more tokens than any loaded kernel of its layer
compiles one for the next power of two (at least 256).

Chips: a kernel is compiled for the chip of the device it runs on (sm_90a
on Hopper, sm_100a on Blackwell), or, with $MOE_COMPILER_CHIPS set (e.g.
"sm_90a,sm_100a"), for each listed chip into one artifact whose build for
the device the runtime loads (a cache shared by both kinds of machine).

Kernel options: max-tokens, then $MOE_COMPILER_OPTIONS if set (more
convert-moe-to-moek options, e.g. "gather-rows=true" to try an option that
is off by default; docs/CodegenPasses.md lists them). They are part of the
JIT cache's key, so kernels built with other options are not reused.

CUDA graphs: the op never synchronizes the host, and a capture neither
compiles, loads nor allocates a workspace: call warm_up() for every layer
and the largest T a capture will use first; a capture that would need a
kernel that is not loaded raises an error that says which layer to warm up.
Each kernel has one workspace: launches of one layer on streams that run
at the same time must not overlap.
"""

import os
import threading
from typing import Optional

import torch

from . import Kernel, jit

__all__ = ["fused_experts", "fused_moe", "layer_spec", "route_spec", "warm_up",
           "loaded_kernels", "chips_for", "MIN_MAX_TOKENS"]

FP8_BLOCK = 128
MIN_MAX_TOKENS = 256

# vLLM/SGLang activation names -> (moe activation, gate/up layout).
ACTIVATIONS = {
    "silu": ("swiglu", "concat"),
    "swiglu": ("swiglu", "concat"),
    "gelu": ("gelu_mul", "concat"),
    "gelu_tanh": ("gelu_tanh_mul", "concat"),
    "swigluoai": ("clamped_swiglu", "interleaved"),
}
ROUTER_WEIGHTS = ("in_combine", "before_down", "none")
LAYOUTS = ("concat", "interleaved")

_LOCK = threading.Lock()
_KERNELS = {}  # (spec, device index) -> [Kernel, ...] by max_tokens


def _shape(t):
    return tuple(int(s) for s in t.shape)


def layer_spec(w1, w2, top_k, activation="silu", w1_scale=None,
               w2_scale=None, gate_up_layout="", router_weight="in_combine",
               w1_bias=None, w2_bias=None, shared_experts=0):
    """The layer's numbers (moe_runtime.jit.compile_layer's syntax) from its
    weights, checked; a bad argument raises ValueError naming it. Works on
    fake tensors (only shapes and dtypes are read). With `shared_experts`
    S, the last S of w1's experts are shared ones (route_spec's shared
    field): the spec's E counts the routed experts, w1's E - S, as
    moe-jit's E does."""
    if w1.dim() != 3 or w2.dim() != 3:
        raise ValueError("fused_experts: w1 must be [E, 2I, H] and w2 "
                         "[E, H, I]; got w1 %s, w2 %s"
                         % (list(w1.shape), list(w2.shape)))
    E, I2, H = _shape(w1)
    I = I2 // 2
    if I2 % 2 or _shape(w2) != (E, H, I):
        raise ValueError("fused_experts: w2 must be [E, H, I] = [%d, %d, %d] "
                         "for w1 [E, 2I, H] = %s; got %s"
                         % (E, H, I, list(w1.shape), list(w2.shape)))
    if int(top_k) <= 0:
        raise ValueError("fused_experts: top_k must be positive, got %s"
                         % top_k)
    if activation not in ACTIVATIONS:
        raise ValueError("fused_experts: activation %r is not one of %s"
                         % (activation, ", ".join(ACTIVATIONS)))
    act, layout = ACTIVATIONS[activation]
    if gate_up_layout:
        if gate_up_layout not in LAYOUTS:
            raise ValueError("fused_experts: gate_up_layout %r is not one of "
                             "%s" % (gate_up_layout, ", ".join(LAYOUTS)))
        layout = gate_up_layout
    if router_weight not in ROUTER_WEIGHTS:
        raise ValueError("fused_experts: router_weight %r is not one of %s"
                         % (router_weight, ", ".join(ROUTER_WEIGHTS)))
    fp8 = w1.dtype == torch.float8_e4m3fn
    if fp8 != (w2.dtype == torch.float8_e4m3fn) or not fp8 and (
            w1.dtype != torch.bfloat16 or w2.dtype != torch.bfloat16):
        raise ValueError("fused_experts: w1 and w2 must both be bfloat16 or "
                         "both float8_e4m3fn; got %s and %s"
                         % (w1.dtype, w2.dtype))
    if fp8:
        if H % FP8_BLOCK or I % FP8_BLOCK:
            raise ValueError("fused_experts: FP8 weights need H and I that "
                             "are multiples of 128 (128x128 scale blocks); "
                             "got H = %d, I = %d" % (H, I))
        for name, s, want in (
                ("w1_scale", w1_scale, (E, I2 // FP8_BLOCK, H // FP8_BLOCK)),
                ("w2_scale", w2_scale, (E, H // FP8_BLOCK, I // FP8_BLOCK))):
            if s is None:
                raise ValueError("fused_experts: FP8 weights need %s "
                                 "(float32 %s, one scale per 128x128 block)"
                                 % (name, list(want)))
            if s.dtype != torch.float32 or _shape(s) != want:
                raise ValueError("fused_experts: %s must be float32 %s; got "
                                 "%s %s" % (name, list(want), s.dtype,
                                            list(s.shape)))
        if layout != "concat":
            raise ValueError("fused_experts: FP8 layers take gate/up "
                             "concatenated (activation %r needs %s)"
                             % (activation, layout))
    elif w1_scale is not None or w2_scale is not None:
        raise ValueError("fused_experts: w1_scale/w2_scale are for "
                         "float8_e4m3fn weights; w1 is %s" % w1.dtype)
    bias = None
    if (w1_bias is None) != (w2_bias is None):
        raise ValueError("fused_experts: w1_bias and w2_bias come together "
                         "(gpt-oss has both); got only %s"
                         % ("w1_bias" if w2_bias is None else "w2_bias"))
    if w1_bias is not None:
        if fp8:
            raise NotImplementedError(
                "fused_experts: per-expert biases with float8_e4m3fn "
                "weights are not supported yet (bf16 weights take them)")
        for name, b, want in (("w1_bias", w1_bias, (E, I2)),
                              ("w2_bias", w2_bias, (E, H))):
            if b.dtype not in (torch.bfloat16, torch.float32) or \
                    _shape(b) != want:
                raise ValueError("fused_experts: %s must be bfloat16 or "
                                 "float32 %s; got %s %s"
                                 % (name, list(want), b.dtype,
                                    list(b.shape)))
        if w1_bias.dtype != w2_bias.dtype:
            raise ValueError("fused_experts: w1_bias and w2_bias must have "
                             "one dtype; got %s and %s"
                             % (w1_bias.dtype, w2_bias.dtype))
        bias = "bf16" if w1_bias.dtype == torch.bfloat16 else "f32"
    spec = "E=%d,H=%d,I=%d,K=%d,precision=%s,activation=%s,layout=%s," \
           "router=%s" % (E - int(shared_experts), H, I, int(top_k),
                          "fp8" if fp8 else "bf16", act, layout,
                          router_weight)
    if act == "clamped_swiglu":
        spec += ",alpha=1.702,limit=7"
    if bias:
        spec += ",bias=" + bias
    return spec


SCORINGS = ("softmax", "sigmoid")
MAX_ROUTED_EXPERTS, MAX_TOPK_GROUPS = 1024, 32


def route_spec(E, top_k, renormalize, scoring_func="softmax",
               num_expert_group=1, topk_group=1, e_score_correction_bias=None,
               routed_scaling_factor=1.0, logits_dtype=torch.float32,
               num_fused_shared_experts=0, shared_experts_weight=1.0):
    """The routing's fields of a layer spec (moe.route in the kernel), for E
    routed experts and num_fused_shared_experts shared ones after them,
    checked; a bad argument raises ValueError naming it."""
    if scoring_func not in SCORINGS:
        raise ValueError("fused_moe: scoring_func %r is not one of %s"
                         % (scoring_func, ", ".join(SCORINGS)))
    K, G, KG = int(top_k), int(num_expert_group), int(topk_group)
    if E > MAX_ROUTED_EXPERTS or not 1 <= K <= min(E, MAX_TOPK_GROUPS):
        raise ValueError("fused_moe: the kernel routes at most %d experts "
                         "and top-%d; got E = %d, topk = %d"
                         % (MAX_ROUTED_EXPERTS, MAX_TOPK_GROUPS, E, K))
    if not 1 <= G <= MAX_TOPK_GROUPS or E % G or not 1 <= KG <= G or \
            KG * (E // G) < K:
        raise ValueError("fused_moe: num_expert_group must divide E = %d "
                         "(at most %d groups) and topk_group's groups must "
                         "hold topk = %d experts; got num_expert_group = %d, "
                         "topk_group = %d" % (E, MAX_TOPK_GROUPS, K, G, KG))
    spec = ",route=%s,logits=%s" % (
        scoring_func, "bf16" if logits_dtype == torch.bfloat16 else "f32")
    if e_score_correction_bias is not None:
        b = e_score_correction_bias
        if b.dtype != torch.float32 or _shape(b) != (E,):
            raise ValueError("fused_moe: e_score_correction_bias must be "
                             "float32 [%d]; got %s %s"
                             % (E, b.dtype, list(b.shape)))
        spec += ",route_bias=f32"
    spec += ",groups=%d,topk_groups=%d,renormalize=%d,scale=%r" % (
        G, KG, 1 if renormalize else 0, float(routed_scaling_factor))
    S = int(num_fused_shared_experts)
    if S < 0:
        raise ValueError("fused_moe: num_fused_shared_experts must be >= 0; "
                         "got %d" % S)
    if S:
        spec += ",shared=%d,shared_weight=%r" % (S,
                                                 float(shared_experts_weight))
    return spec


def _bucket(T):
    """The max_tokens a kernel compiled for T tokens gets."""
    n = MIN_MAX_TOKENS
    while n < T:
        n *= 2
    return n


def loaded_kernels():
    """{(layer spec, device): [max_tokens, ...]} of the kernels loaded."""
    with _LOCK:
        return {k: [x.max_tokens for x in v] for k, v in _KERNELS.items()}


def chips_for(device):
    """The chips kernels for `device` are compiled for: $MOE_COMPILER_CHIPS
    if set, else the device's own ("sm_90a" for compute capability 9.0,
    "sm_100a" for 10.0; moe-jit says which chips it has a lowering for)."""
    chips = os.environ.get("MOE_COMPILER_CHIPS", "").strip()
    if chips:
        return chips
    major, minor = torch.cuda.get_device_capability(device)
    return "sm_%d%da" % (major, minor)


def kernel_options(max_tokens):
    """The kernel options of the op's kernels for `max_tokens` tokens:
    max-tokens, then $MOE_COMPILER_OPTIONS (more convert-moe-to-moek
    options, space-separated) if set."""
    extra = os.environ.get("MOE_COMPILER_OPTIONS", "").strip()
    return ("max-tokens=%d %s" % (max_tokens, extra)).strip()


def _load(spec, device, max_tokens, progress=None):
    """Compiles (through the cache), loads and gives a workspace to the
    kernel of `spec` for `max_tokens` on `device`; returns it."""
    art = jit.compile_layer(spec, chip=chips_for(device),
                            kernel_options=kernel_options(max_tokens),
                            progress=progress)
    kernel = Kernel.load(art.directory, device=device)
    with torch.cuda.device(device):
        kernel._default_workspace()
    with _LOCK:
        kernels = _KERNELS.setdefault((spec, device), [])
        kernels.append(kernel)
        kernels.sort(key=lambda k: k.max_tokens)
    return kernel


def _kernel_for(spec, device, T):
    with _LOCK:
        for k in _KERNELS.get((spec, device), ()):
            if k.max_tokens >= T:
                return k
    if torch.cuda.is_current_stream_capturing():
        raise RuntimeError(
            "moe_compiler::fused_experts: no kernel is loaded for layer %s "
            "with T = %d tokens on cuda:%d, and a CUDA graph capture must "
            "not compile or load one: call moe_runtime.torch_ops.warm_up(["
            "%r], max_tokens=%d) before capturing" % (spec, T, device, spec,
                                                        _bucket(T)))
    return _load(spec, device, _bucket(T))


def warm_up(specs, max_tokens=4096, device=None, progress=True, jobs=None):
    """Compiles and loads the kernel of every layer in `specs` (layer_spec
    strings) for up to `max_tokens` tokens on `device` (default: the
    current CUDA device), with its workspace: afterwards calls with T <=
    max_tokens neither compile nor allocate, and may be captured in a CUDA
    graph. The compilations run in parallel (`jobs` moe-jit processes, as
    jit.warm_up); `progress`: True draws a bar on a terminal (nothing in a
    log), a callable gets (done, total). Returns the kernels."""
    if not isinstance(device, int):
        device = None if device is None else torch.device(device).index
        if device is None:
            device = torch.cuda.current_device()
    options = kernel_options(max_tokens)
    missing = []
    with _LOCK:
        for spec in specs:
            if spec not in missing and not any(
                    k.max_tokens >= max_tokens
                    for k in _KERNELS.get((spec, device), ())):
                missing.append(spec)
    # Compile what is missing in parallel (a bar on a terminal), then load.
    jit.warm_up(missing, chip=chips_for(device), kernel_options=options,
                progress=progress, jobs=jobs)
    for spec in missing:
        _load(spec, device, max_tokens)
    with _LOCK:
        return [next(k for k in _KERNELS[(spec, device)]
                     if k.max_tokens >= max_tokens) for spec in specs]


@torch.library.custom_op("moe_compiler::fused_experts", mutates_args=(),
                         device_types="cuda")
def _fused_experts(hidden_states: torch.Tensor, w1: torch.Tensor,
                   w2: torch.Tensor, topk_weights: torch.Tensor,
                   topk_ids: torch.Tensor, activation: str = "silu",
                   gate_up_layout: str = "", router_weight: str = "in_combine",
                   w1_scale: Optional[torch.Tensor] = None,
                   w2_scale: Optional[torch.Tensor] = None,
                   w1_bias: Optional[torch.Tensor] = None,
                   w2_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    spec = _check(hidden_states, w1, w2, topk_weights, topk_ids, activation,
                  gate_up_layout, router_weight, w1_scale, w2_scale, w1_bias,
                  w2_bias)
    ids = topk_ids if topk_ids.dtype == torch.int32 else topk_ids.to(
        torch.int32)
    weights = topk_weights if topk_weights.dtype == torch.float32 else \
        topk_weights.float()
    return _launch_layer(spec, hidden_states,
                         (ids.contiguous(), weights.contiguous()), w1, w2,
                         w1_scale, w2_scale, w1_bias, w2_bias)


def _launch_layer(spec, hidden_states, routing, w1, w2, w1_scale, w2_scale,
                  w1_bias, w2_bias):
    """Launches the kernel of `spec` (compiled and loaded if needed) on
    (hidden_states, *routing, w1, w2[, scales][, biases], out); returns
    out, a new [T, H] bf16 tensor."""
    T, H = _shape(hidden_states)
    out = torch.empty(T, H, dtype=torch.bfloat16, device=hidden_states.device)
    if T == 0:
        return out
    device = hidden_states.device.index
    if device is None:
        device = torch.cuda.current_device()
    kernel = _kernel_for(spec, device, T)
    scales = (w1_scale, w2_scale) if w1_scale is not None else ()
    biases = (w1_bias.contiguous(), w2_bias.contiguous()) \
        if w1_bias is not None else ()
    kernel.launch(hidden_states, *routing, w1, w2, *scales, *biases, out)
    return out


def _check(hidden_states, w1, w2, topk_weights, topk_ids, activation,
           gate_up_layout, router_weight, w1_scale, w2_scale, w1_bias=None,
           w2_bias=None):
    """The arguments' checks shared by the op and its fake; returns the
    layer spec."""
    if hidden_states.dim() != 2:
        raise ValueError("fused_experts: hidden_states must be [T, H]; got "
                         "%s" % list(hidden_states.shape))
    if hidden_states.dtype != torch.bfloat16:
        raise ValueError("fused_experts: hidden_states must be bfloat16; got "
                         "%s" % hidden_states.dtype)
    if topk_ids.dim() != 2 or topk_weights.shape != topk_ids.shape or \
            topk_ids.shape[0] != hidden_states.shape[0]:
        raise ValueError("fused_experts: topk_ids and topk_weights must both "
                         "be [T, K] with T = hidden_states.shape[0] = %s; got "
                         "%s and %s" % (hidden_states.shape[0],
                                        list(topk_ids.shape),
                                        list(topk_weights.shape)))
    if topk_ids.dtype not in (torch.int32, torch.int64):
        raise ValueError("fused_experts: topk_ids must be int32 or int64; got "
                         "%s" % topk_ids.dtype)
    if not topk_weights.dtype.is_floating_point:
        raise ValueError("fused_experts: topk_weights must be floating "
                         "point; got %s" % topk_weights.dtype)
    spec = layer_spec(w1, w2, topk_ids.shape[1], activation, w1_scale,
                      w2_scale, gate_up_layout, router_weight, w1_bias,
                      w2_bias)
    if int(hidden_states.shape[1]) != int(w1.shape[2]):
        raise ValueError("fused_experts: hidden_states [T, H] has H = %d but "
                         "w1 [E, 2I, H] has H = %d"
                         % (hidden_states.shape[1], w1.shape[2]))
    return spec


@_fused_experts.register_fake
def _(hidden_states, w1, w2, topk_weights, topk_ids, activation="silu",
      gate_up_layout="", router_weight="in_combine", w1_scale=None,
      w2_scale=None, w1_bias=None, w2_bias=None):
    _check(hidden_states, w1, w2, topk_weights, topk_ids, activation,
           gate_up_layout, router_weight, w1_scale, w2_scale, w1_bias,
           w2_bias)
    return hidden_states.new_empty(hidden_states.shape,
                                   dtype=torch.bfloat16)


@torch.library.custom_op("moe_compiler::fused_moe", mutates_args=(),
                         device_types="cuda")
def _fused_moe(hidden_states: torch.Tensor, w1: torch.Tensor,
               w2: torch.Tensor, gating_output: torch.Tensor, topk: int,
               renormalize: bool, activation: str = "silu",
               gate_up_layout: str = "", router_weight: str = "in_combine",
               w1_scale: Optional[torch.Tensor] = None,
               w2_scale: Optional[torch.Tensor] = None,
               w1_bias: Optional[torch.Tensor] = None,
               w2_bias: Optional[torch.Tensor] = None,
               scoring_func: str = "softmax", num_expert_group: int = 1,
               topk_group: int = 1,
               e_score_correction_bias: Optional[torch.Tensor] = None,
               routed_scaling_factor: float = 1.0,
               num_fused_shared_experts: int = 0,
               shared_experts_weight: float = 1.0) -> torch.Tensor:
    spec = _check_routed(hidden_states, w1, w2, gating_output, topk,
                         renormalize, activation, gate_up_layout,
                         router_weight, w1_scale, w2_scale, w1_bias, w2_bias,
                         scoring_func, num_expert_group, topk_group,
                         e_score_correction_bias, routed_scaling_factor,
                         num_fused_shared_experts, shared_experts_weight)
    logits = gating_output if gating_output.dtype in (
        torch.float32, torch.bfloat16) else gating_output.float()
    route_bias = (e_score_correction_bias.contiguous(),) \
        if e_score_correction_bias is not None else ()
    return _launch_layer(spec, hidden_states,
                         (logits.contiguous(),) + route_bias, w1, w2,
                         w1_scale, w2_scale, w1_bias, w2_bias)


def _check_routed(hidden_states, w1, w2, gating_output, topk, renormalize,
                  activation, gate_up_layout, router_weight, w1_scale,
                  w2_scale, w1_bias, w2_bias, scoring_func, num_expert_group,
                  topk_group, e_score_correction_bias, routed_scaling_factor,
                  num_fused_shared_experts, shared_experts_weight):
    """fused_moe's checks, shared by the op and its fake; returns the layer
    spec (layer_spec's and route_spec's fields). With shared experts, w1's
    last num_fused_shared_experts experts are the shared ones and the
    router logits cover the others."""
    if hidden_states.dim() != 2 or hidden_states.dtype != torch.bfloat16:
        raise ValueError("fused_moe: hidden_states must be bfloat16 [T, H]; "
                         "got %s %s" % (hidden_states.dtype,
                                        list(hidden_states.shape)))
    if w1.dim() != 3:
        raise ValueError("fused_moe: w1 must be [E, 2I, H]; got %s"
                         % list(w1.shape))
    S = int(num_fused_shared_experts)
    if not 0 <= S < int(w1.shape[0]):
        raise ValueError("fused_moe: num_fused_shared_experts must be in "
                         "[0, E) with w1's E = %d experts; got %d"
                         % (w1.shape[0], S))
    E = int(w1.shape[0]) - S  # the routed experts
    if gating_output.dim() != 2 or \
            _shape(gating_output) != (int(hidden_states.shape[0]), E) or \
            not gating_output.dtype.is_floating_point:
        raise ValueError("fused_moe: gating_output must be floating point "
                         "[T, E] = [%d, %d]; got %s %s"
                         % (hidden_states.shape[0], E, gating_output.dtype,
                            list(gating_output.shape)))
    spec = layer_spec(w1, w2, topk, activation, w1_scale, w2_scale,
                      gate_up_layout, router_weight, w1_bias, w2_bias, S)
    if int(hidden_states.shape[1]) != int(w1.shape[2]):
        raise ValueError("fused_moe: hidden_states [T, H] has H = %d but "
                         "w1 [E, 2I, H] has H = %d"
                         % (hidden_states.shape[1], w1.shape[2]))
    return spec + route_spec(
        E, topk, renormalize, scoring_func, num_expert_group, topk_group,
        e_score_correction_bias, routed_scaling_factor,
        torch.bfloat16 if gating_output.dtype == torch.bfloat16
        else torch.float32, S, shared_experts_weight)


@_fused_moe.register_fake
def _(hidden_states, w1, w2, gating_output, topk, renormalize,
      activation="silu", gate_up_layout="", router_weight="in_combine",
      w1_scale=None, w2_scale=None, w1_bias=None, w2_bias=None,
      scoring_func="softmax", num_expert_group=1, topk_group=1,
      e_score_correction_bias=None, routed_scaling_factor=1.0,
      num_fused_shared_experts=0, shared_experts_weight=1.0):
    _check_routed(hidden_states, w1, w2, gating_output, topk, renormalize,
                  activation, gate_up_layout, router_weight, w1_scale,
                  w2_scale, w1_bias, w2_bias, scoring_func, num_expert_group,
                  topk_group, e_score_correction_bias, routed_scaling_factor,
                  num_fused_shared_experts, shared_experts_weight)
    return hidden_states.new_empty(hidden_states.shape,
                                   dtype=torch.bfloat16)


def fused_moe(hidden_states, w1, w2, gating_output, topk, renormalize,
              inplace=False, activation="silu", use_grouped_topk=False,
              num_expert_group=None, topk_group=None, scoring_func="softmax",
              e_score_correction_bias=None, routed_scaling_factor=1.0,
              use_fp8_w8a8=False, w1_scale=None, w2_scale=None,
              block_shape=None, gate_up_layout="",
              router_weight="in_combine", w1_bias=None, w2_bias=None,
              num_fused_shared_experts=0, shared_experts_weight=1.0,
              **unused):
    """vLLM's fused_moe signature (the routing from the router logits
    `gating_output` [T, E], then the layer) on moe_compiler::fused_moe: one
    kernel routes and runs the layer (moek.route). Routing: softmax or
    sigmoid scores, DeepSeek-V3's grouped top-k (use_grouped_topk with
    num_expert_group and topk_group) and e_score_correction_bias,
    renormalize, routed_scaling_factor; shared experts folded into the
    layer (num_fused_shared_experts = S: w1 and w2 hold E + S experts, the
    last S on every token with the weight shared_experts_weight, the
    logits [T, E]); the rest as fused_experts. Options the kernel does not
    have raise NotImplementedError."""
    if use_fp8_w8a8 != (w1.dtype == torch.float8_e4m3fn):
        raise ValueError("fused_moe: use_fp8_w8a8=%s but w1 is %s"
                         % (use_fp8_w8a8, w1.dtype))
    if block_shape is not None and list(block_shape) != [FP8_BLOCK,
                                                          FP8_BLOCK]:
        raise NotImplementedError("fused_moe: block_shape %s: only "
                                  "[128, 128] weight blocks are supported"
                                  % (list(block_shape),))
    if use_grouped_topk != (num_expert_group is not None and
                            topk_group is not None):
        raise ValueError("fused_moe: use_grouped_topk=True goes with "
                         "num_expert_group and topk_group (and only then)")
    for name, value in unused.items():
        if value is not None and value is not False:
            raise NotImplementedError(
                "fused_moe: argument %s=%r is not supported" % (name, value))
    out = torch.ops.moe_compiler.fused_moe(
        hidden_states, w1, w2, gating_output, int(topk), bool(renormalize),
        activation, gate_up_layout, router_weight, w1_scale, w2_scale,
        w1_bias, w2_bias, scoring_func,
        int(num_expert_group) if use_grouped_topk else 1,
        int(topk_group) if use_grouped_topk else 1,
        e_score_correction_bias, float(routed_scaling_factor),
        int(num_fused_shared_experts), float(shared_experts_weight))
    if inplace:
        hidden_states.copy_(out)
        return hidden_states
    return out


def fused_experts(hidden_states, w1, w2, topk_weights, topk_ids,
                  inplace=False, activation="silu",
                  apply_router_weight_on_input=False, use_fp8_w8a8=False,
                  w1_scale=None, w2_scale=None, block_shape=None,
                  gate_up_layout="", router_weight="in_combine",
                  w1_bias=None, w2_bias=None, **unused):
    """vLLM's fused_experts signature on moe_compiler::fused_experts.
    Supported: use_fp8_w8a8 with block_shape [128, 128] (or None) and
    dynamic per-token-group activation scales; per-expert biases w1_bias
    and w2_bias with bf16 weights (gpt-oss); `inplace` writes the result
    into hidden_states. Options this kernel does not have (per-tensor or
    channel-wise scales, INT8/INT4 weights, expert maps, router weight on
    the input, biases with FP8 weights) raise NotImplementedError instead
    of being ignored."""
    if apply_router_weight_on_input:
        raise NotImplementedError(
            "fused_experts: apply_router_weight_on_input=True (the router "
            "weight on the layer's input) is not supported; "
            "router_weight='before_down' applies it to the activation")
    if use_fp8_w8a8 != (w1.dtype == torch.float8_e4m3fn):
        raise ValueError("fused_experts: use_fp8_w8a8=%s but w1 is %s"
                         % (use_fp8_w8a8, w1.dtype))
    if block_shape is not None and list(block_shape) != [FP8_BLOCK,
                                                          FP8_BLOCK]:
        raise NotImplementedError("fused_experts: block_shape %s: only "
                                  "[128, 128] weight blocks are supported"
                                  % (list(block_shape),))
    for name, value in unused.items():
        if name == "global_num_experts" and value in (-1, w1.shape[0]):
            continue  # vLLM's default, or all the experts: no expert map
        if value is not None and value is not False:
            raise NotImplementedError(
                "fused_experts: argument %s=%r is not supported" % (name,
                                                                    value))
    out = torch.ops.moe_compiler.fused_experts(
        hidden_states, w1, w2, topk_weights, topk_ids, activation,
        gate_up_layout, router_weight, w1_scale, w2_scale, w1_bias, w2_bias)
    if inplace:
        hidden_states.copy_(out)
        return hidden_states
    return out
