// The fuzz smoke test: the fuzz target (fuzz/MoEFuzzTarget.cpp: parse,
// verify, moe-graph-optimization-pipeline, reference evaluator on small
// functions with NaN/Inf/out-of-range values injected) over its seed corpus,
// every .mlir under test/ and examples/, and the inputs that once crashed it
// (test/Fuzz/Inputs, see docs/Robustness.md). moe-fuzz-driver runs the same
// code as the libFuzzer binary without clang's fuzzer runtime, so CI runs
// it in every configuration; any crash, abort or sanitizer report fails it.
// RUN: %moe_fuzz_driver %moe_src_root/test %moe_src_root/examples | FileCheck %s
// CHECK: ran {{[0-9]+}} inputs
// RUN: %moe_fuzz_driver %S/Inputs | FileCheck %s --check-prefix=REGRESSIONS
// REGRESSIONS: ran {{[0-9]+}} inputs
