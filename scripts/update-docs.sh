#!/usr/bin/env bash
# Regenerates the ODS-generated docs (docs/Dialects/*.md, docs/Passes.md,
# docs/CodegenPasses.md)
# from the build tree; test/Docs checks that they are current.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_BUILD_DIR:-$root/build}"
ninja -C "$build" mlir-doc
cp "$build/docs/Dialects/MoE.md" "$root/docs/Dialects/MoE.md"
cp "$build/docs/MoEPasses.md" "$root/docs/Passes.md"
cp "$build/docs/Dialects/MoEKernel.md" "$root/docs/Dialects/MoEKernel.md"
cp "$build/docs/MoECodegenPasses.md" "$root/docs/CodegenPasses.md"
