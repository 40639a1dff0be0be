#!/usr/bin/env python3
"""Runs the fused MoE kernel under compute-sanitizer on small cases.

For each tool (memcheck, racecheck, synccheck by default), runs
  compute-sanitizer --tool <tool> python3 sanitize_fused_moe.py --driver ...
with a timeout. The driver (this script with --driver) loads every
artifact folder made by make_fused_moe.py (or those --filter names) through
python/moe_runtime and launches each kernel on T = 1, T = 37, T = 37 with
masked (-1) slots and T = 64 with every token on expert 0, in --rounds
rounds on the same workspace (so later rounds run on counters the runtime
zeroed again). Round r caps the persistent grid at the r-th value of
--max-sms, cyclically (default 4,0: 4 CTAs, then one per SM); the kernel's
loops are grid-stride, so any grid works: a small one keeps the
instrumented grid barriers and spin loops short and has each CTA take many
tiles (wrapping its ring of stages), the full one is the grid that runs in
production. Each output is poisoned first and compared with
run_fused_moe.py's reference, so a sanitized run is also checked for
results (FP8 layers, told by the manifest, get run_fused_moe.py's FP8
inputs, reference and bar).

torch runs with PYTORCH_NO_CUDA_MEMORY_CACHING=1: every tensor is its own
allocation, so memcheck sees an access past the end of x, topk_ids,
topk_weights, out or the workspace (the caching allocator would hide it in
a larger block).

Prints one line per tool: "clean", "N errors" (with the sanitizer's raw
summary line, e.g. racecheck's "N hazards displayed (E errors, W
warnings)"), "timed out", or "no summary" (the sanitizer or the driver
failed), and the driver's count of matching launches; the full output is in
<out>/<tool>.log. Nothing is filtered: racecheck may report hazards on
shared memory written by TMA (the async proxy, ordered by mbarriers) and
read by wgmma; a person judges those from the log. memcheck also counts
CUDA API calls that returned an error, and the verdict names them; the
runtime's load-time probe of cuFuncGetParamInfo one past the last
parameter fails by design (one error per Kernel.load): those are named
in the verdict but do not fail it. Exit status 0 only if every tool ran to
its summary with no other error and every launch matched the reference
(racecheck warnings alone fail only with --fail-on-warnings).

usage: sanitize_fused_moe.py --lib libmoe_cuda_runtime.so --art DIR
           [--filter S] [--tools memcheck,racecheck,synccheck]
           [--timeout SECONDS] [--max-sms N[,N...]] [--rounds N]
           [--out DIR]
           [--sanitizer PATH] [--sanitizer-arg ARG]... [--fail-on-warnings]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (T, routing) of each launch; routing() of run_fused_moe.py.
CASES = [(1, "random"), (37, "random"), (37, "masked"), (64, "one_expert")]

DRIVER_LINE = re.compile(r"^driver: (\d+) of (\d+) launches matched")
ERROR_SUMMARY = re.compile(r"ERROR SUMMARY: (\d+) errors?")
# A CUDA API call that returned an error (memcheck's --report-api-errors):
# reported on the host, counted in ERROR SUMMARY with the kernels' errors.
API_ERROR = re.compile(r"^========= Program hit \S+ .* on CUDA API call to "
                       r"(\w+)", re.M)
RACE_SUMMARY = re.compile(r"RACECHECK SUMMARY: (\d+) hazards? displayed "
                          r"\((\d+) errors?, (\d+) warnings?\)")


#===-------------------------------------------------------------------===#
# The driver (run under the sanitizer)
#===-------------------------------------------------------------------===#


def driver(a):
    import torch
    import moe_runtime
    from run_fused_moe import (is_fp8, reference, route_inputs,
                               route_reference, routing, tokens, weights,
                               within_bars)

    moe_runtime.load_library(a.lib)
    gen = torch.Generator(device="cuda").manual_seed(4321)
    dev = "cuda"
    matched = total = 0
    for name in sorted(os.listdir(a.art)):
        d = os.path.join(a.art, name)
        if not os.path.exists(os.path.join(d, "case.json")):
            continue
        if a.filter and not any(f in name for f in a.filter.split(",")):
            continue
        c = json.load(open(os.path.join(d, "case.json")))
        E, H, K = c["E"], c["H"], c["K"]
        kernel = moe_runtime.Kernel.load(d)
        c["fp8"] = is_fp8(kernel)
        ws = torch.zeros(kernel.workspace_bytes, dtype=torch.uint8,
                         device=dev)
        # (w13, w2), and the weight scales of an FP8 layer.
        wts = weights(c, gen, dev)
        for rnd in range(a.rounds):
            max_sms = a.max_sms[rnd % len(a.max_sms)]
            grid = "grid <= %d" % max_sms if max_sms else "full grid"
            for T, kind in CASES:
                x = tokens(c, T, gen, dev)
                # A routed layer (case.json's route) routes in the kernel:
                # it takes the logits; tokens without a clear choice are
                # left out of the comparison (run_fused_moe.py).
                clear = torch.ones(T, dtype=torch.bool, device=dev)
                if c.get("route"):
                    ops = route_inputs(c, T, kind, gen, dev)
                    ids, w, clear = route_reference(c, *ops)
                else:
                    ids, w = routing(kind, T, E, K, gen, dev)
                    ops = [ids, w]
                out = torch.full((T, H), float("nan"), dtype=torch.bfloat16,
                                 device=dev)
                t0 = time.time()
                kernel.launch(x, *ops, *wts, out, workspace=ws,
                              max_sms=max_sms)
                torch.cuda.synchronize()
                dt = time.time() - t0
                ref = reference(c, x, ids, w, *wts)
                ok, _, rel, cd = within_bars(out[clear].float(),
                                             ref[clear].float(), c["fp8"])
                matched += ok
                total += 1
                print("%-8s %s round %d (%s) T=%d %s: rel %.2e calc_diff "
                      "%.2e, %.1f s" % ("ok" if ok else "MISMATCH", name,
                                        rnd + 1, grid, T, kind, rel, cd, dt),
                      flush=True)
        kernel.close()
    print("driver: %d of %d launches matched the reference" % (matched,
                                                                total),
          flush=True)
    return 0 if total and matched == total else 1


#===-------------------------------------------------------------------===#
# The sanitizer runs
#===-------------------------------------------------------------------===#


def find_sanitizer(given):
    for p in (given, os.environ.get("COMPUTE_SANITIZER"),
              shutil.which("compute-sanitizer"),
              "/usr/local/cuda/bin/compute-sanitizer"):
        if p and os.path.exists(p):
            return p
    sys.exit("compute-sanitizer not found (give --sanitizer PATH)")


def run_tool(a, sanitizer, tool, log_path):
    """Runs one tool over the driver; returns (verdict, failed, details)."""
    cmd = [sanitizer, "--tool", tool, "--print-limit", "1000"]
    cmd += a.sanitizer_arg
    cmd += [sys.executable, "-u", os.path.abspath(__file__), "--driver",
            "--lib", a.lib, "--art", a.art,
            "--max-sms", ",".join(str(n) for n in a.max_sms),
            "--rounds", str(a.rounds)]
    if a.filter:
        cmd += ["--filter", a.filter]
    env = dict(os.environ, PYTORCH_NO_CUDA_MEMORY_CACHING="1",
               PYTHONUNBUFFERED="1")
    t0 = time.time()
    timed_out = False
    with open(log_path, "w") as log:
        log.write("+ %s\n" % " ".join(cmd))
        log.flush()
        # Its own process group, so a timeout ends the sanitizer and the
        # driver it started, and only those.
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
        try:
            rc = p.wait(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(p.pid, signal.SIGTERM)
            try:
                rc = p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                rc = p.wait()
    elapsed = time.time() - t0
    text = open(log_path, errors="replace").read()

    driver_note = "driver: no result"
    driver_done = driver_ok = False
    for line in text.splitlines():
        m = DRIVER_LINE.match(line.lstrip("= "))
        if m:
            driver_note = "driver: %s of %s launches matched" % m.groups()
            driver_done = True
            driver_ok = m.group(1) == m.group(2) and m.group(2) != "0"

    summary = None
    errors = warnings = None
    m = RACE_SUMMARY.search(text) if tool == "racecheck" else None
    if m:
        summary = m.group(0)
        errors, warnings = int(m.group(2)), int(m.group(3))
    else:
        m = ERROR_SUMMARY.search(text)
        if m:
            summary = m.group(0)
            errors = int(m.group(1))

    details = "%s; %s; rc %d; %.0f s; log %s" % (
        summary or "no summary", driver_note, rc, elapsed, log_path)
    if timed_out:
        return ("timed out after %d s" % a.timeout, True,
                "%s (try --max-sms 1 or a longer --timeout)" % details)
    if errors is None:
        return "no summary", True, details
    # The runtime's load-time ABI probe (cuFuncGetParamInfo one past the
    # last parameter) returns an error by design, once per kernel load:
    # reported in the verdict, not counted as a failure. Every other error
    # (a kernel's, or another API call's) fails.
    calls = API_ERROR.findall(text) if errors else []
    probes = calls.count("cuFuncGetParamInfo")
    failed = errors - probes > 0 or not driver_ok or (
        a.fail_on_warnings and bool(warnings))
    if errors and errors == probes:
        verdict = ("clean (0 kernel errors; %d expected API error%s: the "
                   "runtime's cuFuncGetParamInfo probe past the last "
                   "parameter)" % (probes, "" if probes == 1 else "s"))
    elif errors:
        verdict = "%d error%s" % (errors, "" if errors == 1 else "s")
        # Which of them are host API calls that returned an error (the
        # rest are the kernels'): named.
        if calls:
            names = sorted(set(calls))
            verdict += " (%d from API calls: %s; %d other)" % (
                len(calls), ", ".join("%s x%d" % (n, calls.count(n))
                                      for n in names),
                max(0, errors - len(calls)))
    elif warnings:
        verdict = "0 errors, %d warning%s" % (warnings,
                                              "" if warnings == 1 else "s")
    else:
        verdict = "clean"
    if not driver_done:
        verdict += ", driver FAILED"
    elif not driver_ok:
        verdict += ", results WRONG"
    return verdict, failed, details


def first_reports(log_path, limit=6):
    """The first distinct report headers of a log, for the summary."""
    seen = []
    pat = re.compile(r"^========= (Invalid|Error|Program hit|Race reported|"
                     r"(Potential )?\w+ hazard|Barrier|Warning|ERROR|"
                     r"Uninitialized|Detected|Divergent|Illegal)")
    for line in open(log_path, errors="replace"):
        line = line.rstrip()
        if pat.match(line) and "SUMMARY" not in line and line not in seen:
            seen.append(line)
            if len(seen) == limit:
                break
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--art", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--tools", default="memcheck,racecheck,synccheck")
    ap.add_argument("--timeout", type=int, default=180,
                    help="seconds per tool (default 180)")
    ap.add_argument("--max-sms", default="4,0",
                    help="caps on the persistent grid, one per round, "
                    "cyclically (0: one CTA per SM; default 4,0)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="times each case runs on the same workspace")
    ap.add_argument("--out", default="",
                    help="folder for the logs (default: a temp dir)")
    ap.add_argument("--sanitizer", default="")
    ap.add_argument("--sanitizer-arg", action="append", default=[],
                    help="one more argument for compute-sanitizer (before "
                    "the program), e.g. --sanitizer-arg=--racecheck-report"
                    " --sanitizer-arg=all")
    ap.add_argument("--fail-on-warnings", action="store_true",
                    help="racecheck warnings fail too")
    ap.add_argument("--driver", action="store_true",
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.lib = os.path.abspath(a.lib)
    a.art = os.path.abspath(a.art)
    a.max_sms = [int(n) for n in a.max_sms.split(",") if n != ""] or [0]
    if a.driver:
        sys.path.insert(0, HERE)
        sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
        sys.exit(driver(a))

    sanitizer = find_sanitizer(a.sanitizer)
    out = a.out
    if not out:
        import tempfile
        out = tempfile.mkdtemp(prefix="moe-sanitize-")
    os.makedirs(out, exist_ok=True)
    results = []
    for tool in [t for t in a.tools.split(",") if t]:
        log_path = os.path.join(out, tool + ".log")
        verdict, failed, details = run_tool(a, sanitizer, tool, log_path)
        results.append(dict(tool=tool, verdict=verdict, failed=failed,
                            details=details))
        print("%-10s %s; %s" % (tool, verdict, details), flush=True)
        if verdict != "clean":
            for line in first_reports(log_path):
                print("           | " + line[:150], flush=True)
    with open(os.path.join(out, "sanitize_fused_moe.json"), "w") as f:
        json.dump(results, f, indent=1)
    bad = [r["tool"] for r in results if r["failed"]]
    print("\nsanitize: %d of %d tools passed%s" % (
        len(results) - len(bad), len(results),
        "" if not bad else " (not: %s)" % ", ".join(bad)))
    sys.exit(1 if bad or not results else 0)


if __name__ == "__main__":
    main()
