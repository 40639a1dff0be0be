"""The Triton peers of DESIGN.md section 9, run from sources fetched into a
git-ignored folder (never committed): bench/fused_moe.py --peers DIR, with
DIR/vllm (vLLM's fused_moe kernel, VllmFusedMoE) and DIR/triton_kernels
(triton_kernels' matmul_ogs, TritonKernelsMoE), each run where it is there.

vLLM. DIR/vllm/fused_moe_kernel.py holds vLLM's `fused_moe_kernel` (and the
`write_zeros_to_output` it calls) copied verbatim from
vllm/model_executor/layers/fused_moe/fused_moe.py, with `import triton` and
`import triton.language as tl` as its only imports; DIR/vllm/configs/ holds
vLLM's tuned config files under their own names
(`E=<E>,N=<I>,device_name=NVIDIA_H200.json`). bench/fetch_peers.py writes
both from a vLLM source tree (the kernel file's header names the commit).

The layer runs as vLLM's fused_experts_impl runs it for bf16 (one chunk:
T <= 16384): moe_align_block_size, the kernel on x and w13 (top_k = K, no
router weight), silu_and_mul (gate = the first I columns), the kernel on
the activation and w2 (top_k = 1, router weight multiplied in f32), the sum
over the K slots. The config: vLLM's tuned file for (E, I) on the H200 if
there is one, the key nearest to T; else vLLM's get_default_config for bf16
(T <= E: 16/32/64 blocks, group 1; else 64/64/32, group 8; Triton's 4 warps
and 3 stages).

What is ours, not vLLM's: moe_align_block_size, silu_and_mul and moe_sum are
vLLM CUDA ops; here the alignment is torch code run once per routing outside
the timing (so the peer's time leaves out vLLM's alignment kernel: it can
only look faster than vLLM is), silu_and_mul is the small Triton kernel
below (silu in f32, rounded to bf16, times the up value, as vLLM's CUDA
kernel), and the sum over the slots is torch's sum over dim 1.

triton_kernels. DIR/triton_kernels/triton_kernels/ is the `triton_kernels`
package of triton-lang/triton (python/triton_kernels/triton_kernels/) at
one commit, as bench/fetch_peers.py --triton writes it (DIR/triton_kernels/
SOURCE names the commit); it is imported with DIR/triton_kernels first on
sys.path, never installed. The layer runs as the package's
bench/bench_mlp.py runs an MoE MLP on one GPU with bf16 weights: per call
the routing structures (topk, then the bitmatrix metadata,
make_ragged_tensor_metadata, RoutingData, GatherIndx and ScatterIndx, as
bench/distributed.py's single-GPU routing builds them), matmul_ogs on x and
w13 with the gather and the fused swiglu (FnSpecs "swiglu",
reduction_n=2), matmul_ogs on the activation and w2 with the scatter, and
the package's reduce over the K slots (in f32, each slot's row rounded to
bf16 before).

What is ours, not bench_mlp.py's: the top-K is ours: topk gets our ids as
y_indx (its own selection skipped, softmax off), as int32 (with int16 ids,
the dtype of topk's own output, its bitmatrix kernel computes 1 << (id %
32) in 16 bits, by our reading of _topk_forward, which is wrong for ids
15-31 of each 32-bit word; measured on an H100: the expert sizes were
wrong wherever E >= 32 and right at E = 8, matmul_ogs faulted at
DeepSeek-V3 prefill and gave garbage at decode, and with int32 ids every
shape tried matched matmul_ogs_torch). topk reads the weights from
a [T, E] f32 tensor that holds them at those ids and 0 elsewhere (made once
per routing from topk_ids/topk_weights, as a router's output would be
given), and the router weights go into the second matmul_ogs as gammas
(bench_mlp.py passes none; each row is scaled in f32 before its rounding).
The weights are in bench_mlp.py's bf16 layout (w [E, K, N] column-major:
our w13 and w2 transposed, as views) but with w13's gate and up rows
interleaved (gate j and up j at 2j and 2j + 1: the fused swiglu reads
them in pairs), a copy made once per weights. The package's swiglu is
gpt-oss's, silu_alpha(g) * (u + 1) with clamps at `limit`: alpha = 1.0,
limit = None (no clamp) and a bias of -1 on the up columns (0 on the gate
ones, made once per weights; bench_mlp.py's biases are random) give
silu(g) * u, in f32 from the f32 accumulator, rounded to bf16 once.

Which commit: the tag v3.6.0 where the Triton repository at hand has
it. The snapshot this was first fetched from had no tags, and
e4e68d1b9c7d (main, 2025-11-23) was taken: the last commit before #8765
renamed matmul_ogs to matmul and changed its API. Evidence that 3.6.0
was cut before that rename, none of it conclusive: TensorRT-LLM's
vendored copy of 3.6.0's triton_kernels has a reduce.py of exactly the
size of main's from 2025-10-29 to 11-23 (13,465 characters without
TensorRT-LLM's header; 25,200 after the rename); an sglang
change for 3.6.0 imports GatherIndx, RoutingData and ScatterIndx from
triton_kernels.matmul_ogs and gives FnSpecs reduction_n, as this commit
has them; 3.6's version bump (main, 11-25) was cherry-picked onto the
release branch. Commits of main between the cut and 11-23 that the tag
may lack, and the branch's own cherry-picks, are not known.

Timed: the routing structures and the two matmul_ogs calls (with the
package's own allocations and its reduce over the slots). Not timed: the
[T, E] weight tensor, the interleaved copy of w13 and the bias.
"""

import importlib
import importlib.util
import json
import os
import sys
import types

import torch
import triton
import triton.language as tl

_MODULES = {}


def _load(peers_dir):
    path = os.path.join(peers_dir, "vllm", "fused_moe_kernel.py")
    if path not in _MODULES:
        if not os.path.exists(path):
            raise FileNotFoundError(
                "%s: no vLLM kernel (bench/fetch_peers.py writes it)" % path)
        spec = importlib.util.spec_from_file_location("vllm_fused_moe_kernel",
                                                      path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _MODULES[path] = mod
    return _MODULES[path]


# out[r, :] = bf16(silu(h[r, :I])) * h[r, I:] (h: [rows, 2I] bf16), as
# vLLM's silu_and_mul CUDA kernel rounds it.
@triton.jit
def silu_and_mul(h_ptr, out_ptr, I, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < I
    g = tl.load(h_ptr + row * 2 * I + cols, mask=mask).to(tl.float32)
    u = tl.load(h_ptr + row * 2 * I + I + cols, mask=mask)
    s = (g / (1.0 + tl.exp(-g))).to(tl.bfloat16)
    tl.store(out_ptr + row * I + cols,
             (s.to(tl.float32) * u.to(tl.float32)).to(tl.bfloat16),
             mask=mask)


def vllm_config(peers_dir, E, I, T):
    """(config dict, where it came from) as vLLM picks it on an H200 for a
    bf16 layer of E experts, intermediate size I and T tokens."""
    name = "E=%d,N=%d,device_name=NVIDIA_H200.json" % (E, I)
    path = os.path.join(peers_dir, "vllm", "configs", name)
    if os.path.exists(path):
        with open(path) as f:
            table = json.load(f)
        table.pop("triton_version", None)
        table = {int(k): v for k, v in table.items()}
        key = min(table, key=lambda m: abs(m - T))
        return dict(table[key]), "%s[%d]" % (name, key)
    if T <= E:
        cfg = dict(BLOCK_SIZE_M=16, BLOCK_SIZE_N=32, BLOCK_SIZE_K=64,
                   GROUP_SIZE_M=1)
    else:
        cfg = dict(BLOCK_SIZE_M=64, BLOCK_SIZE_N=64, BLOCK_SIZE_K=32,
                   GROUP_SIZE_M=8)
    return cfg, "vLLM's default config"


def align_block_size(topi, E, block_m):
    """moe_align_block_size in torch: (sorted_token_ids, expert_ids,
    num_tokens_post_padded). Expert e's slots (flat indices into topi, in
    ascending order) start at a multiple of block_m; the padding holds
    numel = T * K; expert_ids names each block's expert."""
    flat = topi.flatten().long()
    numel = flat.numel()
    counts = torch.bincount(flat, minlength=E)
    padded = (counts + block_m - 1) // block_m * block_m
    starts = torch.cumsum(padded, 0) - padded
    total = int(padded.sum())
    order = torch.argsort(flat, stable=True)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(numel, device=flat.device) - first[flat[order]]
    sorted_ids = torch.full((max(total, block_m),), numel, dtype=torch.int32,
                            device=flat.device)
    sorted_ids[starts[flat[order]] + rank] = order.to(torch.int32)
    blocks = max(total, block_m) // block_m
    expert_ids = torch.repeat_interleave(
        torch.arange(E, device=flat.device, dtype=torch.int32),
        padded // block_m)
    expert_ids = torch.cat([expert_ids, torch.zeros(
        blocks - expert_ids.numel(), dtype=torch.int32, device=flat.device)])
    post = torch.tensor([total], dtype=torch.int32, device=flat.device)
    return sorted_ids, expert_ids, post


class VllmFusedMoE:
    """vLLM's Triton fused MoE on one bf16 layer's tensors: call() runs the
    layer (the alignment made once in the constructor)."""

    def __init__(self, peers_dir, x, w13, w2, topi, topw):
        self.kernel = _load(peers_dir).fused_moe_kernel
        self.x, self.w13, self.w2 = x, w13, w2
        self.topw = topw.float().contiguous()
        T, H = x.shape
        E, I2, _ = w13.shape
        self.T, self.H, self.E, self.I, self.K = T, H, E, I2 // 2, topi.shape[1]
        self.config, self.config_source = vllm_config(peers_dir, E, self.I, T)
        self.align = align_block_size(topi, E, self.config["BLOCK_SIZE_M"])
        dev = x.device
        self.h = torch.empty(T, self.K, I2, device=dev, dtype=torch.bfloat16)
        self.a = torch.empty(T * self.K, self.I, device=dev,
                             dtype=torch.bfloat16)
        self.y = torch.empty(T, self.K, H, device=dev, dtype=torch.bfloat16)

    def _gemm(self, A, B, C, mul_routed_weight, top_k):
        cfg = dict(self.config)
        sorted_ids, expert_ids, post = self.align
        M = A.size(0)
        EM = sorted_ids.size(0)
        if M < cfg["BLOCK_SIZE_M"]:
            EM = min(EM, M * top_k * cfg["BLOCK_SIZE_M"])
        cdiv = triton.cdiv
        grid = (cdiv(EM, cfg["BLOCK_SIZE_M"]) *
                cdiv(B.size(1), cfg["BLOCK_SIZE_N"]),)
        bk = cfg.pop("BLOCK_SIZE_K")
        cfg["SPLIT_K"] = 1
        self.kernel[grid](
            A, B, C, None, None, None, self.topw, sorted_ids, expert_ids,
            post, B.size(1), B.size(2), EM, M * top_k,
            A.stride(0), A.stride(1), B.stride(0), B.stride(2), B.stride(1),
            C.stride(1), C.stride(2), 0, 0, 0, 0, 0, 0, 0, 0, 0,
            MUL_ROUTED_WEIGHT=mul_routed_weight, top_k=top_k,
            compute_type=tl.bfloat16, use_fp8_w8a8=False,
            use_int8_w8a8=False, use_int8_w8a16=False,
            per_channel_quant=False, HAS_BIAS=False, BLOCK_SIZE_K=bk, **cfg)

    def __call__(self):
        self._gemm(self.x, self.w13, self.h, False, self.K)
        rows = self.T * self.K
        block = 1024
        silu_and_mul[(rows, triton.cdiv(self.I, block))](
            self.h, self.a, self.I, BLOCK=block)
        self._gemm(self.a, self.w2, self.y, True, 1)
        return self.y.sum(dim=1)


def _load_triton_kernels(peers_dir):
    """The modules of the fetched triton_kernels package
    (peers_dir/triton_kernels/triton_kernels), imported from there: a
    namespace with matmul_ogs, swiglu, topk and tensor."""
    root = os.path.abspath(os.path.join(peers_dir, "triton_kernels"))
    if root in _MODULES:
        return _MODULES[root]
    pkg = os.path.join(root, "triton_kernels")
    if not os.path.exists(os.path.join(pkg, "matmul_ogs.py")):
        raise FileNotFoundError(
            "%s: no triton_kernels.matmul_ogs (bench/fetch_peers.py --triton "
            "writes it)" % pkg)
    loaded = sys.modules.get("triton_kernels")
    where = getattr(loaded, "__file__", None) if loaded is not None else None
    if loaded is not None and (
            where is None or os.path.dirname(os.path.abspath(where)) != pkg):
        raise ImportError("another triton_kernels is already imported (%s)"
                          % where)
    if root not in sys.path:
        sys.path.insert(0, root)
    mods = {n: importlib.import_module("triton_kernels." + n)
            for n in ("matmul_ogs", "swiglu", "topk", "tensor")}
    where = os.path.dirname(os.path.abspath(mods["matmul_ogs"].__file__))
    if where != pkg:
        raise ImportError("triton_kernels came from %s, not %s" % (where, pkg))
    _MODULES[root] = types.SimpleNamespace(**mods)
    return _MODULES[root]


def triton_kernels_source(peers_dir):
    """(commit, ref) of the fetched triton_kernels, from the SOURCE file
    bench/fetch_peers.py writes; ("unknown", "unknown") without one."""
    found = {"commit": "unknown", "ref": "unknown"}
    path = os.path.join(peers_dir, "triton_kernels", "SOURCE")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                key, _, value = line.strip().partition(":")
                if key in found and value.strip():
                    found[key] = value.strip()
    return found["commit"], found["ref"]


class TritonKernelsMoE:
    """triton_kernels' matmul_ogs MoE MLP on one bf16 layer's tensors (the
    module docstring says how): call() builds the routing structures from
    our top-K and runs the two matmul_ogs; the weights' relayout is made
    once in the constructor."""

    def __init__(self, peers_dir, x, w13, w2, topi, topw):
        self.tk = tk = _load_triton_kernels(peers_dir)
        mo = tk.matmul_ogs
        T, H = x.shape
        E, I2, _ = w13.shape
        I = I2 // 2
        self.x, self.E, self.K = x, E, topi.shape[1]
        dev = x.device
        # Once per weights: gate and up rows interleaved, then [E, H, 2I]
        # and [E, I, H] column-major views (bench_mlp.py's bf16 layout).
        self.w1 = torch.stack((w13[:, :I], w13[:, I:]), dim=2).reshape(
            E, I2, H).transpose(1, 2)
        self.w2 = w2.transpose(1, 2)
        # swiglu_fn computes silu(g) * (u + 1): -1 on the up columns.
        self.b1 = torch.zeros(E, I2, device=dev, dtype=torch.float32)
        self.b1[:, 1::2] = -1.0
        self.act = mo.FusedActivation(
            mo.FnSpecs("swiglu", tk.swiglu.swiglu_fn, ("alpha", "limit"),
                       reduction_n=2), (1.0, None))
        # Once per routing: the router's output as topk reads it.
        self.probs = torch.zeros(T, E, device=dev, dtype=torch.float32)
        self.probs.scatter_(1, topi.long(), topw.float())
        self.topi = topi.to(torch.int32).contiguous()

    def routing(self):
        """(RoutingData, GatherIndx, ScatterIndx) of our top-K, built as
        the package's bench/distributed.py builds them on one GPU."""
        mo = self.tk.matmul_ogs
        sparse = self.tk.topk.topk(self.probs, self.K, apply_softmax=False,
                                   y_indx=self.topi)
        dispatch = sparse.mask_metadata.row_sorted_indx
        combine = sparse.mask_metadata.col_sorted_indx
        ragged = self.tk.tensor.make_ragged_tensor_metadata(
            sparse.mask_metadata.col_sum, dispatch.shape[0])
        rdata = mo.RoutingData(sparse.vals.flatten()[combine],
                               ragged.slice_sizes, self.E, self.K, ragged)
        return rdata, mo.GatherIndx(combine, dispatch), \
            mo.ScatterIndx(dispatch, combine)

    def __call__(self):
        mo = self.tk.matmul_ogs
        rdata, gather, scatter = self.routing()
        a = mo.matmul_ogs(self.x, self.w1, self.b1, rdata,
                          gather_indx=gather,
                          precision_config=mo.PrecisionConfig(),
                          fused_activation=self.act)
        return mo.matmul_ogs(a, self.w2, None, rdata, scatter_indx=scatter,
                             precision_config=mo.PrecisionConfig(),
                             gammas=rdata.gate_scal)
