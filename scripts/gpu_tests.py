#!/usr/bin/env python3
"""The GPU tests of test/Integration/CUDA, split into a build half that runs
here (it needs moe-opt and ptxas) and a run half that runs on the GPU
machine (it needs torch and the runtime, not LLVM).

lit runs each .test file's RUN lines in one place; the GPU machines have no
LLVM, so this script reads the same RUN lines and runs them in two places:

  prepare (here): runs every command that builds artifacts (make_*.py,
      run_peer_exchange.py make, rm -rf), with %t under --out, and writes
      --out/plan.json, the commands that remain, with paths relative to the
      repository root. --kernel-options adds convert-moe-to-moek options to
      every make_*.py command (merged with the test's own), to run the whole
      GPU suite on kernels built with an option that is not the default.
  run (on the GPU machine, from the repository root, --out carried there):
      runs those commands test by test, writes each test's output into
      --logs, and prints a table: PASS, FAIL, or UNSUPPORTED with the reason
      (too few GPUs for its REQUIRES, or a command that needs a compiler
      tool at run time that --tools does not hold: scripts/build-static.sh
      builds them for machines without LLVM), or NOT RUN past --budget. The exit status is 1 if any
      test failed or did not run.

usage: gpu_tests.py prepare --bin BUILD/bin --out DIR [--ptxas PTXAS]
                            [--kernel-options OPTS] [--filter NAME,...]
                            [--tests DIR]
       gpu_tests.py run --dir DIR --lib libmoe_cuda_runtime.so
                        [--filter NAME,...] [--logs DIR] [--timeout S]
                        [--budget S] [--gpus N] [--tools DIR]
--filter keeps the tests whose file name (without .test) contains one of
the words.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     ".."))
TESTS = os.path.join(ROOT, "test", "Integration", "CUDA")
BUILD_SCRIPTS = ("make_fused_moe.py", "make_grouped_gemm.py")


def parse_test(path):
    """Returns (requires, [command argv, ...]) of a .test file: its REQUIRES
    features and its RUN lines split at '&&'."""
    requires, lines = [], []
    with open(path) as f:
        for raw in f:
            m = re.match(r"\s*#\s*(RUN|REQUIRES):\s*(.*)", raw)
            if not m:
                continue
            if m.group(1) == "REQUIRES":
                requires += [r.strip() for r in m.group(2).split(",")
                             if r.strip()]
                continue
            lines.append(m.group(2).rstrip())
    # A RUN line that ends with '\' continues on the next one.
    joined, cur = [], ""
    for line in lines:
        if line.endswith("\\"):
            cur += line[:-1] + " "
        else:
            joined.append(cur + line)
            cur = ""
    commands = []
    for line in joined:
        for part in line.split("&&"):
            argv = shlex.split(part.strip())
            if argv:
                commands.append(argv)
    return requires, commands


def script_of(argv):
    return next((os.path.basename(a) for a in argv if a.endswith(".py")), "")


def is_build(argv):
    if argv[:2] == ["rm", "-rf"]:
        return True
    script = script_of(argv)
    if script in BUILD_SCRIPTS:
        return True
    return script == "run_peer_exchange.py" and "make" in argv


def substitute(argv, subs):
    out = []
    for a in argv:
        for key in ("%moe_obj_root", "%python", "%ptxas", "%S", "%t"):
            a = a.replace(key, subs[key])
        out.append(a)
    return out


def add_kernel_options(argv, extra):
    """Merges extra into the --kernel-options of a make_*.py command (the
    test's own come first; a later option of the same name wins in
    convert-moe-to-moek)."""
    if not extra:
        return argv
    out, found, i = [], False, 0
    while i < len(argv):
        a = argv[i]
        if a == "--kernel-options" and i + 1 < len(argv):
            out += [a, (argv[i + 1] + " " + extra).strip()]
            found, i = True, i + 2
            continue
        if a.startswith("--kernel-options="):
            out.append(a + " " + extra)
            found = True
        else:
            out.append(a)
        i += 1
    if not found:
        out += ["--kernel-options", extra]
    return out


def selected(name, filt):
    words = [w for w in filt.split(",") if w]
    return not words or any(w in name for w in words)


def prepare(a):
    out = os.path.abspath(a.out)
    tests = os.path.abspath(a.tests)
    if os.path.commonpath([out, ROOT]) != ROOT:
        print("note: --out is outside the repository: the plan names it by "
              "its absolute path (the run half finds it only at that path)")

    def there_path(p):
        return (os.path.relpath(p, ROOT)
                if os.path.commonpath([p, ROOT]) == ROOT else p)

    os.makedirs(out, exist_ok=True)
    plan = {"kernel_options": a.kernel_options, "tests": []}
    failed = []
    for fname in sorted(os.listdir(tests)):
        if not fname.endswith(".test"):
            continue
        name = fname[:-5]
        if not selected(name, a.filter):
            continue
        requires, commands = parse_test(os.path.join(tests, fname))
        tdir = os.path.join(out, name)
        # Here: absolute paths. There: paths relative to the repository root
        # and the runtime library in {lib}.
        here = {"%moe_obj_root": os.path.dirname(os.path.abspath(a.bin)),
                "%python": sys.executable, "%ptxas": a.ptxas,
                "%S": tests, "%t": tdir}
        there = {"%moe_obj_root": "{obj}", "%python": "{python}",
                 "%ptxas": "ptxas", "%S": there_path(tests),
                 "%t": there_path(tdir)}
        runs, ok = [], True
        t0 = time.time()
        for argv in commands:
            if is_build(argv):
                cmd = substitute(argv, here)
                if script_of(cmd) in BUILD_SCRIPTS:
                    cmd = add_kernel_options(cmd, a.kernel_options)
                r = subprocess.run(cmd, cwd=ROOT, capture_output=True,
                                   text=True)
                if r.returncode != 0:
                    ok = False
                    sys.stderr.write("%s: %s\n%s%s" % (
                        name, shlex.join(cmd), r.stdout[-4000:],
                        r.stderr[-4000:]))
                    break
            else:
                runs.append(substitute(argv, there))
        print("%-28s %s (%.0f s)" % (name, "built" if ok else "BUILD FAILED",
                                     time.time() - t0), flush=True)
        if not ok:
            failed.append(name)
            continue
        plan["tests"].append({"name": name, "requires": requires,
                              "commands": runs})
    with open(os.path.join(out, "plan.json"), "w") as f:
        json.dump(plan, f, indent=1)
    # The generated PTX and NVVM IR are not needed there (the cubins are).
    for dirpath, _, files in os.walk(out):
        for fn in files:
            if fn.endswith(".ptx") or fn == "kernel.nvvm.mlir":
                os.remove(os.path.join(dirpath, fn))
    print("plan: %s (%d tests)" % (there_path(os.path.join(out, "plan.json")),
                                   len(plan["tests"])))
    return 1 if failed else 0


def gpu_count():
    try:
        import torch
        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 (no torch: no GPU tests)
        return 0


def unsupported(requires, gpus):
    need = {"cuda": 1, "multi-gpu": 2, "multi-gpu-4": 4, "multi-gpu-8": 8}
    for r in requires:
        if r not in need:
            return "needs lit feature %r" % r
        if gpus < need[r]:
            return "needs %d GPU%s, this machine has %d" % (
                need[r], "s" if need[r] > 1 else "", gpus)
    return None


def run(a):
    path = os.path.join(a.dir, "plan.json")
    if not os.path.exists(path):
        sys.exit("%s: no plan (run `gpu_tests.py prepare --out %s` where the "
                 "compiler is, and carry the folder here)" % (path, a.dir))
    with open(path) as f:
        plan = json.load(f)
    lib = os.path.abspath(a.lib)
    logs = a.logs or os.path.join(a.dir, "logs")
    os.makedirs(logs, exist_ok=True)
    gpus = gpu_count() if a.gpus < 0 else a.gpus
    rows = []
    start = time.time()

    def here(x):
        """A plan argument on this machine: the runtime library where --lib
        says, a compiler tool from --tools if it holds it, this python."""
        x = x.replace("{obj}/lib/libmoe_cuda_runtime.so", lib)
        if a.tools and x.startswith("{obj}/bin/"):
            tool = os.path.join(a.tools, x[len("{obj}/bin/"):])
            if os.path.exists(tool):
                x = tool
        return x.replace("{python}", sys.executable)

    if plan.get("kernel_options"):
        print("kernels built with --kernel-options %r" % plan["kernel_options"])
    for test in plan["tests"]:
        name = test["name"]
        if not selected(name, a.filter):
            continue
        why = unsupported(test["requires"] or ["cuda"], gpus)
        cmds = [[here(x) for x in argv] for argv in test["commands"]]
        missing = [x for argv in cmds for x in argv if "{obj}" in x]
        if missing:
            why = why or "a command needs the compiler (%s)" % missing[0]
        if why:
            rows.append((name, "UNSUPPORTED", 0.0, why))
            continue
        left = a.budget - (time.time() - start) if a.budget > 0 else None
        if left is not None and left <= 0:
            rows.append((name, "NOT RUN", 0.0,
                         "past --budget %d s" % a.budget))
            continue
        t0 = time.time()
        status, detail = "PASS", ""
        with open(os.path.join(logs, name + ".log"), "w") as log:
            for argv in cmds:
                log.write("$ %s\n" % shlex.join(argv))
                log.flush()
                try:
                    limit = a.timeout if left is None else max(
                        1, min(a.timeout,
                               int(a.budget - (time.time() - start))))
                    r = subprocess.run(argv, cwd=ROOT, stdout=log,
                                       stderr=subprocess.STDOUT,
                                       timeout=limit)
                    rc = r.returncode
                except subprocess.TimeoutExpired:
                    rc = "timeout after %d s" % limit
                if rc != 0:
                    status = "FAIL"
                    detail = "%s: %s" % (script_of(argv) or argv[0],
                                         rc if isinstance(rc, str)
                                         else "exit %d" % rc)
                    break
        rows.append((name, status, time.time() - t0, detail))
        print("%-28s %-11s %6.1f s %s" % rows[-1], flush=True)
    print("\n| test | result | s | note |\n|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %.1f | %s |" % r)
    print("\nlogs: %s" % logs)
    return 1 if any(r[1] in ("FAIL", "NOT RUN") for r in rows) else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--bin", required=True,
                   help="the build's bin folder (moe-opt, moe-translate)")
    p.add_argument("--out", required=True)
    p.add_argument("--ptxas", default="ptxas")
    p.add_argument("--kernel-options", default="")
    p.add_argument("--filter", default="")
    p.add_argument("--tests", default=TESTS,
                   help="the folder of .test files (default: %(default)s)")
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--lib", required=True)
    r.add_argument("--filter", default="")
    r.add_argument("--logs", default="")
    r.add_argument("--timeout", type=int, default=900,
                   help="seconds per command")
    r.add_argument("--tools", default="",
                   help="a folder with the compiler's tools built for this "
                        "machine (scripts/build-static.sh moe-jit): "
                        "commands that need one of them run with it")
    r.add_argument("--budget", type=int, default=0,
                   help="seconds for the whole run: tests not started by "
                        "then are NOT RUN, a command still running is "
                        "stopped (0: no limit)")
    r.add_argument("--gpus", type=int, default=-1,
                   help="GPUs to assume (default: torch.cuda.device_count())")
    a = ap.parse_args()
    sys.exit(prepare(a) if a.mode == "prepare" else run(a))


if __name__ == "__main__":
    main()
