#!/usr/bin/env python3
"""Runs expert-parallel fused MoE kernels (make_fused_moe.py cases with a
last field epR) on R ranks and checks them against the whole layer.

One process drives the R ranks through moe_runtime.ep.ExpertParallelLayer:
R GPUs (rank r on GPU r), or with --same-device R kernels on GPU 0, each on
its own stream with SMs / R CTAs (so that all of them are resident at
once), for a machine with one GPU. Rank r holds experts
[r E/R, (r + 1) E/R) of the layer's weights (run_fused_moe.py's weights():
bf16, or e4m3 with 128x128 scales for FP8) and its own tokens: T_r
differs per rank.

Checks, each on fresh random inputs with every output poisoned (NaN):
every rank's output against the float32 reference of the whole layer
(run_fused_moe.py's, with all E experts) for that rank's tokens (rel.
Frobenius <= 1e-2, calc_diff <= 1e-4; FP8 layers, with run_fused_moe.py's
FP8 weights, inputs and reference: calc_diff <= 1e-3), with routings: random, masked (-1)
slots, every token on expert 0 (all rows to rank 0), one rank with T = 0,
T = 1 on every rank; the same launch 20 times (epochs) bitwise identical;
and a dead peer (in a child process only rank 0 launches, with a 1 s
timeout): the launch fails with the wait record naming rank 0 and its
phase, instead of hanging. --comm-only: the artifacts only communicate
(each received row comes back as its result); the reference is then each
token's row summed over its valid slots (times the router weights if
in_combine). A routed layer (case.json's route: make_fused_moe.py's
softmax or sigmoid field) routes in each rank's kernel from that rank's
router logits over all E experts (run_fused_moe.py's route_inputs; the
reference routes them in float64 and leaves out tokens without a clear
choice).

usage: run_ep_fused_moe.py --lib libmoe_cuda_runtime.so --art DIR
                           [--same-device] [--filter S]
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

import torch  # noqa: E402
import moe_runtime  # noqa: E402
from run_fused_moe import (calc_diff, reference, rel_fro,  # noqa: E402
                           route_inputs, route_reference, routing, tokens,
                           weights)
from moe_runtime.ep import ExpertParallelLayer  # noqa: E402

ROWS = []


def record(label, ok, note=""):
    ROWS.append(dict(check=label, ok=bool(ok), note=note))
    print("%-4s %-64s %s" % ("PASS" if ok else "FAIL", label, note),
          flush=True)
    return ok


class Ranks:
    """The R ranks of one artifact (moe_runtime.ep.ExpertParallelLayer) with
    the whole layer's weights and each rank's shard."""

    def __init__(self, art, c, same_device, gen):
        self.c = c
        self.R = R = c["ranks"]
        self.E = c["E"]
        self.el = self.E // R
        self.devices = [0] * R if same_device else list(range(R))
        self.layer = ExpertParallelLayer(art, devices=self.devices)
        # The whole layer's weights (w13, w2, and for FP8 their scales), and
        # each rank's experts of each on its GPU.
        self.weights = weights(c, gen, "cuda:0")
        self.shards = [tuple(w[r * self.el:(r + 1) * self.el].to(
            "cuda:%d" % d).contiguous() for w in self.weights)
            for r, d in enumerate(self.devices)]
        for d in set(self.devices):
            torch.cuda.synchronize(d)

    def launch(self, xs, ops, outs, timeout_s=30.0, only=None):
        """Every rank (or those in `only`) once, each on its x, its
        routing operands `ops[r]` and its output; then waits for them."""
        for d in set(self.devices):
            torch.cuda.synchronize(d)
        self.layer.timeout_s = timeout_s
        per_rank = [(xs[r],) + ops[r] + self.shards[r] + (outs[r],)
                    for r in range(self.R)]
        self.layer.launch(per_rank, only=only)
        for d in set(self.devices):
            torch.cuda.synchronize(d)


def inputs(rk, counts, kind, gen):
    """Per rank: x; the kernel's routing operands (ids and weights, or a
    routed layer's logits and route bias); the reference's ids, weights
    and tokens with a clear choice (on cuda:0); the poisoned output."""
    c = rk.c
    xs, ops, refs, outs = [], [], [], []
    for r, d in enumerate(rk.devices):
        dev = "cuda:%d" % d
        T = counts[r]
        xs.append(tokens(c, T, gen, "cuda:0").to(dev))
        if c.get("route"):
            o = route_inputs(c, T, kind, gen, "cuda:0")
            i, w, clear = route_reference(c, *o)
        else:
            i, w = routing(kind, T, rk.E, c["K"], gen, "cuda:0")
            o = (i, w)
            clear = torch.ones(T, dtype=torch.bool, device="cuda:0")
        ops.append(tuple(t.to(dev) for t in o))
        refs.append((i, w, clear))
        outs.append(torch.full((T, c["H"]), float("nan"),
                               dtype=torch.bfloat16, device=dev))
    return xs, ops, refs, outs


def comm_reference(c, x, ids, w):
    """What a comm-only kernel computes: each routed row comes back
    unchanged, so the combine sums the token's own row once per valid slot
    (times the router weight if in_combine), in f32, rounded to bf16."""
    valid = ((ids >= 0) & (ids < c["E"])).float()
    if c["router"] == "in_combine":
        valid = valid * w
    return (x.float() * valid.sum(1, keepdim=True)).to(torch.bfloat16)


def check(rk, name, tokens, kind, gen, comm_only=False):
    xs, ops, refs, outs = inputs(rk, tokens, kind, gen)
    rk.launch(xs, ops, outs)
    ok = True
    notes = []
    for r in range(rk.R):
        if tokens[r] == 0:
            continue
        ids, w, clear = refs[r]
        if comm_only:
            ref = comm_reference(rk.c, xs[r].to("cuda:0"), ids, w)
        else:
            ref = reference(rk.c, xs[r].to("cuda:0"), ids, w, *rk.weights)
        ref = ref[clear]
        o = outs[r].to("cuda:0")[clear].float()
        finite = bool(torch.isfinite(o).all())
        rel, cd = rel_fro(o, ref.float()), calc_diff(o, ref.float())
        if rk.c.get("fp8"):
            ok &= finite and cd <= 1e-3
        else:
            ok &= finite and rel <= 1e-2 and cd <= 1e-4
        notes.append("r%d rel %.1e cd %.1e%s" % (r, rel, cd,
                                                  "" if finite else " NaN"))
    return record("%s T=%s %s" % (name, tokens, kind), ok, "; ".join(notes))


def dead_peer(args, name):
    """Child: only rank 0 launches; prints one JSON line."""
    moe_runtime.load_library(args.lib)
    c = json.load(open(os.path.join(args.art, name, "case.json")))
    gen = torch.Generator(device="cuda").manual_seed(7)
    rk = Ranks(os.path.join(args.art, name), c, args.same_device, gen)
    xs, ops, _, outs = inputs(rk, [16] * rk.R, "random", gen)
    t0 = time.time()
    result = dict(failed=False)
    try:
        rk.launch(xs, ops, outs, timeout_s=1.0, only=[0])
    except Exception as e:  # noqa: BLE001 - the expected failure
        result = dict(failed=True, error=str(e).splitlines()[0][:200])
    result["seconds"] = time.time() - t0
    result["message"] = rk.layer.timeout_message()
    rec = rk.layer.wait.record
    result["rank"], result["phase"] = rec.rank, rec.phase
    print(json.dumps(result), flush=True)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--same-device", action="store_true")
    ap.add_argument("--filter", default="")
    ap.add_argument("--comm-only", action="store_true",
                    help="the artifacts are comm-only kernels (convert-moe-"
                    "to-moek{comm-only}): rows come back unchanged")
    ap.add_argument("--dead-peer-child", default="")
    args = ap.parse_args()
    if args.dead_peer_child:
        dead_peer(args, args.dead_peer_child)
    moe_runtime.load_library(args.lib)
    gen = torch.Generator(device="cuda").manual_seed(1234)
    names = sorted(n for n in os.listdir(args.art)
                   if os.path.exists(os.path.join(args.art, n, "case.json")))
    for name in names:
        c = json.load(open(os.path.join(args.art, name, "case.json")))
        if c.get("ranks", 1) < 2 or (args.filter and args.filter not in name):
            continue
        R = c["ranks"]
        if not args.same_device and torch.cuda.device_count() < R:
            record(name, False, "needs %d GPUs (or --same-device)" % R)
            continue
        rk = Ranks(os.path.join(args.art, name), c, args.same_device, gen)
        where = " (same device)" if args.same_device else ""
        label = name + where
        if args.comm_only:
            label += " comm-only"
        co = args.comm_only
        try:
            check(rk, label, [37 + 50 * r for r in range(R)], "random", gen,
                  co)
            check(rk, label, [1] * R, "random", gen, co)
            check(rk, label, [300] * R, "masked", gen, co)
            check(rk, label, [200 + r for r in range(R)], "one_expert", gen,
                  co)
            check(rk, label, [0] + [64] * (R - 1), "random", gen, co)
            # 20 launches of the same inputs: bitwise identical outputs.
            xs, ops, _, outs = inputs(rk, [129] * R, "random", gen)
            rk.launch(xs, ops, outs)
            first = [o.clone() for o in outs]
            same = True
            for _ in range(19):
                for o in outs:
                    o.fill_(float("nan"))
                rk.launch(xs, ops, outs)
                same &= all(torch.equal(a.view(torch.int16),
                                        b.view(torch.int16))
                            for a, b in zip(outs, first))
            record("%s: 20 launches bitwise identical" % label, same)
        except Exception as e:  # noqa: BLE001 - a failure is a row
            record(label, False, "%s: %s" % (type(e).__name__, e))
            continue
        rk.layer.close()
        # A peer that never launches: the timeout error, not a hang.
        t0 = time.time()
        p = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--lib", args.lib,
             "--art", args.art, "--dead-peer-child", name] +
            (["--same-device"] if args.same_device else []),
            capture_output=True, text=True, timeout=120)
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = dict(error=p.stderr[-300:])
        record("%s: dead peer -> timeout error in %.1f s" % (
            label, time.time() - t0),
            res.get("failed") is True and res.get("rank") == 0 and
            res.get("phase") == 1, res.get("message") or res.get("error"))
    passed = sum(r["ok"] for r in ROWS)
    print("\n%d of %d checks passed" % (passed, len(ROWS)))
    sys.exit(0 if ROWS and passed == len(ROWS) else 1)


if __name__ == "__main__":
    main()
