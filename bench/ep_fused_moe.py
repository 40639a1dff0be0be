#!/usr/bin/env python3
"""Benchmark: the expert-parallel fused kernel against NCCL all-to-all +
torch._grouped_mm, one process per GPU, the same inputs in the same run.

  torchrun --nproc_per_node=R bench/ep_fused_moe.py \
      --lib build-rt-standalone/libmoe_cuda_runtime.so --art DIR --out OUT

DIR holds the artifacts of make_fused_moe.py for the cases below, each
compiled with `epR` for this R (and max-tokens at least T):
  fm_e256_h7168_i2048_k8_epR        DeepSeek-V3, T = 512 and 4096 per rank
  fm_e256_h4096_i2048_k6_epR        DeepSeek-V4-Flash, T = 8192 per rank
(--tokens 8,512,1024,2048,4096,8192 runs both shapes at each T: issue 9's
table at R = 8, whose published DeepGEMM/DeepEP figures are in
docs/ExpertParallel.md)
  (fm_fp8_... the same in FP8, with --dtypes bf16,fp8)

Per case and rank: x ~ N(0, 1) bf16, a softmax top-K routing of random
logits (as ../shared/bench/ep_baseline.py), the rank's E / R experts' bf16
weights. Timed (CUDA events, median of 20 after 5 warm-ups, every rank
launching each iteration; the table reports the slowest rank):
  ours          one launch of the expert-parallel kernel (dispatch over
                NVLink, GEMMs, results pushed back, combine);
  ours local    the same kernel with every token routed to its own rank's
                experts (the same rows per rank, no NVLink traffic): the
                compute-side time;
  ours comm     with --art-comm (the same cases compiled with
                --kernel-options="... comm-only=true"): the kernel without
                its GEMMs, every received row sent back as its result: the
                communication-side time;
  nccl full     all_to_all_single dispatch, _grouped_mm GEMM1, SwiGLU,
                GEMM2, all_to_all_single combine, weighted index_add;
  nccl comm     the two all-to-alls alone; nccl compute: the rest.
Writes OUT/ep_fused_moe_w<R>.json and a Markdown table (rank 0).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
os.environ.setdefault("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1")
os.environ.setdefault("NVSHMEM_DISABLE_NVLS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from moe_runtime.ep import (ExpertParallelLayer, symmetric_workspace,  # noqa: E402
                            torchrun_init)

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "Integration", "CUDA"))
from grouped_gemm import timed  # noqa: E402
from run_fused_moe import fp8_weight  # noqa: E402

# (name, H, I, E, K) of the shapes, and issue 5's cases: (shape, T).
SHAPES = {"dsv3": (7168, 2048, 256, 8), "v4-flash": (4096, 2048, 256, 6)}
CASES = [("dsv3", 512), ("dsv3", 4096), ("v4-flash", 8192)]


def timeit(fn):
    """grouped_gemm.timed's median of 20 (5 warm-ups, then a barrier of all
    ranks), of the slowest rank."""
    t = torch.tensor([timed(fn, reps=20, warm=5, after_warm_up=dist.barrier)],
                     device="cuda")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


def nccl_pipeline(x, topi, topw, w13, w2, I, El, world):
    """../shared/bench/ep_baseline.py's pipeline on these inputs."""
    T, K = topi.shape
    H = x.shape[1]
    dev = x.device
    flat = topi.flatten()
    order = torch.argsort(flat, stable=True)
    dest = flat[order] // El
    send = torch.bincount(dest, minlength=world)
    recv = torch.empty_like(send)
    dist.all_to_all_single(recv, send)
    sc, rc = send.tolist(), recv.tolist()
    tok = order // K
    send_x = x[tok]
    send_e = (flat[order] % El).to(torch.int32)
    recv_x = torch.empty(sum(rc), H, device=dev, dtype=torch.bfloat16)
    recv_e = torch.empty(sum(rc), device=dev, dtype=torch.int32)
    dist.all_to_all_single(recv_e, send_e, rc, sc)
    lorder = torch.argsort(recv_e, stable=True)
    loffs = torch.cumsum(torch.bincount(recv_e, minlength=El),
                         0).to(torch.int32)
    back = torch.empty(sum(rc), H, device=dev, dtype=torch.bfloat16)
    ret = torch.empty(sum(sc), H, device=dev, dtype=torch.bfloat16)
    wsorted = topw.flatten()[order, None]

    def dispatch():
        dist.all_to_all_single(recv_x, send_x, rc, sc)

    def compute():
        xs = recv_x[lorder]
        h = torch._grouped_mm(xs, w13.transpose(1, 2), offs=loffs,
                              out_dtype=torch.bfloat16)
        a = F.silu(h[:, :I]) * h[:, I:]
        back[lorder] = torch._grouped_mm(a, w2.transpose(1, 2), offs=loffs,
                                         out_dtype=torch.bfloat16)

    def combine():
        dist.all_to_all_single(ret, back, sc, rc)

    def reduce():
        return torch.zeros(T, H, device=dev, dtype=torch.float32).index_add_(
            0, tok, ret.float() * wsorted)

    return dict(
        full=lambda: (dispatch(), compute(), combine(), reduce()),
        comm=lambda: (dispatch(), combine()),
        compute=lambda: (compute(), reduce()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--cases", default="", help="names like dsv3-4096")
    ap.add_argument("--dtypes", default="bf16",
                    help="bf16 and/or fp8 (our kernel; the NCCL pipeline "
                    "stays bf16)")
    ap.add_argument("--tokens", default="",
                    help="tokens per rank for every shape instead of the "
                    "default cases (issue 9: 8,512,1024,2048,4096,8192)")
    ap.add_argument("--art-comm", default="",
                    help="the comm-only artifacts of the same cases")
    a = ap.parse_args()
    rank, world, dev = torchrun_init(a.lib)
    rows = []
    cases = CASES
    if a.tokens:
        cases = [(shape, int(t)) for shape in SHAPES
                 for t in a.tokens.split(",")]
    for (name, T), dtype in [(c, d) for c in cases
                             for d in a.dtypes.split(",")]:
        H, I, E, K = SHAPES[name]
        label = "%s-%d" % (name, T)
        if a.cases and label not in a.cases.split(","):
            continue
        label += "" if dtype == "bf16" else " " + dtype
        art = os.path.join(a.art, "fm_%se%d_h%d_i%d_k%d_ep%d" % (
            "fp8_" if dtype == "fp8" else "", E, H, I, K, world))
        if not os.path.isdir(art):
            if rank == 0:
                print("skip %s: no artifact %s" % (label, art), flush=True)
            continue
        El = E // world
        g = torch.Generator(device=dev).manual_seed(1234 + rank)
        x = torch.randn(T, H, device=dev, dtype=torch.bfloat16, generator=g)
        wg = torch.Generator(device=dev).manual_seed(77 + rank)
        w13 = (torch.randn(El, 2 * I, H, device=dev, generator=wg) /
               H ** 0.5).to(torch.bfloat16)
        w2 = (torch.randn(El, H, I, device=dev, generator=wg) /
              I ** 0.5).to(torch.bfloat16)
        # Our kernel's weights: these, or e4m3 with 128x128 scales.
        ours_w = (w13, w2)
        if dtype == "fp8":
            q13, s13 = fp8_weight(El, 2 * I, H, wg, dev)
            q2, s2 = fp8_weight(El, H, I, wg, dev)
            ours_w = (q13, q2, s13, s2)
        logits = torch.randn(T, E, device=dev, generator=g)
        topw, topi = torch.topk(torch.softmax(logits, -1), K, dim=-1)
        topw = (topw / topw.sum(-1, keepdim=True)).float().contiguous()
        ids = topi.to(torch.int32).contiguous()
        # The same rows per rank, all on this rank's experts.
        local = (ids % El + rank * El).to(torch.int32)

        buf, handle = symmetric_workspace(art, dev, dist.group.WORLD)
        layer = ExpertParallelLayer.for_rank(art, rank,
                                             list(handle.buffer_ptrs))
        out = torch.empty(T, H, device=dev, dtype=torch.bfloat16)
        t_ours = timeit(lambda: layer.launch_rank(x, ids, topw, *ours_w, out))
        t_local = timeit(lambda: layer.launch_rank(x, local, topw, *ours_w,
                                                   out))
        t_comm_ours = None
        comm_art = os.path.join(a.art_comm, os.path.basename(art)) \
            if a.art_comm and dtype == "bf16" else ""
        if comm_art and os.path.isdir(comm_art):
            comm_layer = ExpertParallelLayer.for_rank(
                comm_art, rank, list(handle.buffer_ptrs))
            t_comm_ours = timeit(lambda: comm_layer.launch_rank(
                x, ids, topw, w13, w2, out))  # comm-only: bf16 layers
            comm_layer.close()
        nccl = nccl_pipeline(x, topi, topw, w13, w2, I, El, world)
        t_full = timeit(nccl["full"])
        t_comm = timeit(nccl["comm"])
        t_comp = timeit(nccl["compute"])
        layer.close()
        del handle, buf
        torch.cuda.empty_cache()
        r = dict(case=label, dtype=dtype, T=T, H=H, I=I, E=E, K=K,
                 world=world,
                 ours_ms=t_ours, ours_local_ms=t_local,
                 ours_comm_ms=t_comm_ours, nccl_full_ms=t_full,
                 nccl_comm_ms=t_comm, nccl_compute_ms=t_comp,
                 speedup=t_full / t_ours,
                 # issue 5's bound: our compute-only and comm-only times
                 # (NCCL's all-to-alls stand in without --art-comm)
                 ours_vs_bound=t_ours / max(
                     t_local, t_comm_ours if t_comm_ours else t_comm))
        rows.append(r)
        if rank == 0:
            print(json.dumps(r), flush=True)
    if rank == 0:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "ep_fused_moe_w%d.json" % world),
                  "w") as f:
            json.dump(dict(gpu=torch.cuda.get_device_name(dev),
                           world=world, rows=rows), f, indent=1)
        print("\n| case | R | ours ms | ours local ms | ours comm ms | nccl "
              "full ms | nccl comm ms | speedup | ours / max(local, comm) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            comm = ("%.3f" % r["ours_comm_ms"] if r["ours_comm_ms"]
                    else "-")
            print("| %s | %d | %.3f | %.3f | %s | %.3f | %.3f | %.2fx | %.2f |"
                  % (r["case"], r["world"], r["ours_ms"], r["ours_local_ms"],
                     comm, r["nccl_full_ms"], r["nccl_comm_ms"],
                     r["speedup"], r["ours_vs_bound"]))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
