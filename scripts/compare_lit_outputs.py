#!/usr/bin/env python3
"""Did a change leave every generated kernel as it was? Compares what the lit
suite wrote (the Output folders of a build's test/ tree) before and after.

A refactor of the lowering (code moved between files, a helper merged) must
not change a kernel; the GPU suite cannot run everywhere, but the PTX, MLIR
and LLVM IR the lit suite writes can be compared anywhere:

  scripts/compare_lit_outputs.py save BUILD/test SNAPSHOT   # before
  ... change, rebuild, rerun lit ...
  scripts/compare_lit_outputs.py compare SNAPSHOT BUILD/test  # after

`save` copies each Output folder below BUILD/test into SNAPSHOT (the same
relative paths). `compare` checks every .ptx, .mlir and .ll file of the
snapshot against the file at the same path, and the PTX inside
content-addressed cache folders (below a path component of 64 hex digits, as
the JIT's caches name them) as a multiset of contents per cache, since their
folder names may differ. Files and caches that only the second tree has (a
new test's) are not differences. Cubins are not compared: ptxas writes
different bytes for the same PTX from run to run. Exits 0 when nothing
differs, 1 otherwise, listing each difference.
"""

import argparse
import collections
import hashlib
import os
import re
import shutil
import sys

COMPARED = (".ptx", ".mlir", ".ll")
HASHED = re.compile(r"[0-9a-f]{64}")


def files(root):
    """{relative path: path} of every file below `root`."""
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = path
    return out


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cache_of(rel):
    """The cache folder holding `rel` (the path up to its first component of
    64 hex digits), or None outside a cache."""
    parts = rel.split(os.sep)
    for i, part in enumerate(parts):
        if HASHED.fullmatch(part):
            return os.sep.join(parts[:i])
    return None


def save(tests, snapshot):
    count = 0
    for folder, dirs, _ in os.walk(tests):
        if os.path.basename(folder) == "Output":
            dest = os.path.join(snapshot, os.path.relpath(folder, tests))
            shutil.copytree(folder, dest, dirs_exist_ok=True)
            count += 1
            dirs[:] = []
    if not count:
        sys.exit("%s: no Output folder (has lit run there?)" % tests)
    print("saved %d Output folders to %s" % (count, snapshot))


def compare(snapshot, tests):
    before, after = files(snapshot), files(tests)
    problems = []
    # Per cache folder, the multiset of its PTX contents.
    cached = {"before": collections.defaultdict(collections.Counter),
              "after": collections.defaultdict(collections.Counter)}
    for tag, tree in (("before", before), ("after", after)):
        for rel, path in tree.items():
            cache = cache_of(rel)
            if cache is not None and rel.endswith(".ptx"):
                cached[tag][cache][digest(path)] += 1
    compared = 0
    for rel, path in sorted(before.items()):
        if not rel.endswith(COMPARED) or cache_of(rel) is not None:
            continue
        compared += 1
        if rel not in after:
            problems.append("missing: " + rel)
        elif digest(path) != digest(after[rel]):
            problems.append("differs: " + rel)
    # As by path, only what was there before counts: a cache folder that a
    # new test wrote is not a difference.
    for cache, files_before in sorted(cached["before"].items()):
        files_after = cached["after"].get(cache, collections.Counter())
        gone, new = files_before - files_after, files_after - files_before
        if gone or new:
            problems.append("cached PTX in %s: %d file(s) only before, %d only "
                            "after" % (cache, sum(gone.values()),
                                       sum(new.values())))
    for p in problems:
        print(p)
    print("%d files compared by path, %d cached PTX files by content: %s" %
          (compared, sum(sum(c.values()) for c in cached["before"].values()),
           "%d differences" % len(problems) if problems else "no difference"))
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("save", help="copy the Output folders of TESTS")
    s.add_argument("tests", help="a build's test/ folder, after lit ran")
    s.add_argument("snapshot", help="where to copy them")
    c = sub.add_parser("compare", help="compare a snapshot with TESTS")
    c.add_argument("snapshot")
    c.add_argument("tests")
    args = parser.parse_args()
    if args.mode == "save":
        save(args.tests, args.snapshot)
        return 0
    for path in (args.snapshot, args.tests):
        if not os.path.isdir(path):
            sys.exit("%s: not a folder" % path)
    return compare(args.snapshot, args.tests)


if __name__ == "__main__":
    sys.exit(main())
