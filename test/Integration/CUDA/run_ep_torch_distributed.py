#!/usr/bin/env python3
"""The expert-parallel fused kernel with one process per GPU: symmetric
buffers from torch.distributed._symmetric_memory (ExpertParallelLayer.
for_rank). Run with torchrun, one process per rank of the artifact:

  torchrun --nproc_per_node=R run_ep_torch_distributed.py \\
      --lib libmoe_cuda_runtime.so --art <an epR artifact folder>

Every process builds the same whole-layer weights (same seed), keeps its
experts' shard, routes its own tokens (T differs per rank), launches its
rank, and checks its output against the float32 reference of the whole
layer (run_fused_moe.py's; bf16: rel. Frobenius <= 1e-2 and calc_diff <=
1e-4, FP8: calc_diff <= 1e-3), over 5 launches with new routings. With
--other-art, rank 1 first brings another layer's artifact and every rank
must refuse it at set-up (ExpertParallelLayer.for_rank(group=...)). Rank 0
prints the table; the exit status is 0 only if every rank passed.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
os.environ.setdefault("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1")
os.environ.setdefault("NVSHMEM_DISABLE_NVLS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from moe_runtime.ep import (ExpertParallelLayer, symmetric_workspace,  # noqa: E402
                            torchrun_init)
from run_fused_moe import (calc_diff, reference, rel_fro,  # noqa: E402
                           routing, tokens, weights)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--other-art", default="",
                    help="another layer's artifact: rank 1 tries it first, "
                    "and every rank must refuse the disagreement")
    a = ap.parse_args()
    rank, world, dev = torchrun_init(a.lib)
    c = json.load(open(os.path.join(a.art, "case.json")))
    if c["ranks"] != world:
        raise SystemExit("the artifact has %d ranks, torchrun started %d"
                         % (c["ranks"], world))
    buf, handle = symmetric_workspace(a.art, dev, dist.group.WORLD)
    dist.barrier()
    # Ranks that disagree on the layer are refused at set-up, on every rank
    # (here rank 1 brings another artifact, when one is given).
    if a.other_art:
        mine = a.other_art if rank == 1 else a.art
        try:
            ExpertParallelLayer.for_rank(mine, rank, list(handle.buffer_ptrs),
                                         group=dist.group.WORLD)
            refused = ""
        except ValueError as e:
            refused = str(e)
        ok = "disagree" in refused
        print("%s rank %d: a disagreeing layer refused at set-up: %s" % (
            "PASS" if ok else "FAIL", rank, refused[:160]), flush=True)
        if not ok:
            raise SystemExit(1)
    layer = ExpertParallelLayer.for_rank(a.art, rank,
                                         list(handle.buffer_ptrs),
                                         group=dist.group.WORLD)
    gen = torch.Generator(device=dev).manual_seed(99)
    full = weights(c, gen, dev)  # the same on every rank
    el = c["E"] // world
    shard = tuple(w[rank * el:(rank + 1) * el].contiguous() for w in full)
    tgen = torch.Generator(device=dev).manual_seed(1000 + rank)
    failures, lines = 0, []
    for i, kind in enumerate(("random", "masked", "one_expert", "random",
                              "random")):
        T = 1 if i == 3 else 50 + 37 * rank + 11 * i
        x = tokens(c, T, tgen, dev)
        ids, w = routing(kind, T, c["E"], c["K"], tgen, dev)
        out = torch.full((T, c["H"]), float("nan"), dtype=torch.bfloat16,
                         device=dev)
        dist.barrier()
        layer.launch_rank(x, ids, w, *shard, out)
        torch.cuda.synchronize()
        ref = reference(c, x, ids, w, *full)
        o = out.float()
        rel, cd = rel_fro(o, ref.float()), calc_diff(o, ref.float())
        ok = bool(torch.isfinite(o).all()) and (
            cd <= 1e-3 if c.get("fp8") else rel <= 1e-2 and cd <= 1e-4)
        failures += not ok
        lines.append("%s rank %d launch %d T=%d %s: rel %.1e calc_diff %.1e"
                     % ("PASS" if ok else "FAIL", rank, i + 1, T, kind, rel,
                        cd))
    gathered = [None] * world
    dist.all_gather_object(gathered, lines)
    total = torch.tensor([failures], device=dev)
    dist.all_reduce(total)
    if rank == 0:
        for ls in gathered:
            print("\n".join(ls))
        print("%s: %d failures over %d ranks" % (
            os.path.basename(a.art.rstrip("/")), int(total), world))
    layer.close()
    dist.destroy_process_group()
    sys.exit(0 if int(total) == 0 else 1)


if __name__ == "__main__":
    main()
