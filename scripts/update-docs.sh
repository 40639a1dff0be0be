#!/usr/bin/env bash
# Regenerates the ODS-generated docs (docs/Dialects/MoE.md, docs/Passes.md)
# from the build tree; test/Docs checks that they are current.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_BUILD_DIR:-$root/build}"
ninja -C "$build" mlir-doc
cp "$build/docs/Dialects/MoE.md" "$root/docs/Dialects/MoE.md"
cp "$build/docs/MoEPasses.md" "$root/docs/Passes.md"
