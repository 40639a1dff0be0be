#!/usr/bin/env bash
# Sets up, builds and runs every test: the lit suite (dialect, passes,
# examples, evaluator) and the GoogleTest unit tests, through check-moe.
# GPU tests report as unsupported (skipped) on machines without a GPU.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOE_BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh" || exit 1

log="$(mktemp)"
/usr/lib/llvm-22/bin/lit -sv "$build/test" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
count() { grep -Eo "^ *$1 *: *[0-9]+" "$log" | grep -Eo '[0-9]+$' || echo 0; }
passed=$(( $(count Passed) + $(count 'Expectedly Failed') ))
failed=$(( $(count Failed) + $(count 'Unexpectedly Passed') + $(count Unresolved) + $(count 'Timed Out') ))
skipped=$(count Unsupported)
rm -f "$log"

# The libFuzzer target, built with ASan + UBSan, on a short run over the
# seeds (docs/Robustness.md); MOE_SKIP_FUZZ=1 skips it.
fuzz_status=0
if [ -z "${MOE_SKIP_FUZZ:-}" ]; then
  echo "== fuzz smoke run (sanitized build in ${MOE_FUZZ_BUILD_DIR:-$root/build-fuzz})"
  MOE_FUZZ_JOBS="${MOE_JOBS:-2}" "$root/fuzz/run-fuzzer.sh" "${MOE_FUZZ_SECONDS:-30}" \
    "${MOE_FUZZ_BUILD_DIR:-$root/build-fuzz}" > "$build.fuzz.log" 2>&1 || fuzz_status=$?
  grep -E 'stat::number_of_executed_units|ERROR|Done|fuzz seeds' "$build.fuzz.log" | tail -5
  if [ "$fuzz_status" -eq 0 ]; then
    passed=$((passed + 1)); echo "fuzz smoke run: passed"
  else
    failed=$((failed + 1)); tail -40 "$build.fuzz.log"; echo "fuzz smoke run: FAILED"
  fi
fi

echo "check-moe: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
