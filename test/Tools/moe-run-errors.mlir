// Bad command lines and inputs give a clear error and a non-zero exit.
// RUN: not moe-run %s --tokens=0 2>&1 | FileCheck %s --check-prefix=TOKENS
// RUN: not moe-run %s --entry=nope 2>&1 | FileCheck %s --check-prefix=ENTRY
// RUN: not moe-run %s --input=7=x.npy 2>&1 | FileCheck %s --check-prefix=INDEX
// RUN: not moe-run %s --input=zero 2>&1 | FileCheck %s --check-prefix=SPEC
// RUN: not moe-run %s --input=0=%t.missing.npy 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not moe-run %s --entry=ids_without_role 2>&1 | FileCheck %s --check-prefix=ROLE
// RUN: moe-run %s --tokens=2 --output-dir=%t.out --save-inputs | FileCheck %s --check-prefix=OK
// RUN: moe-run %s --tokens=2 --input=0=%t.out/arg0.npy --input=1=%t.out/arg1.npy --input=2=%t.out/arg2.npy --print-hash > %t.from-files
// RUN: moe-run %s --tokens=2 --print-hash > %t.random
// RUN: grep '^result' %t.from-files > %t.from-files.results
// RUN: grep '^result' %t.random > %t.random.results
// RUN: diff %t.from-files.results %t.random.results

// TOKENS: moe-run: error: --tokens must be >= 1, got 0
// ENTRY: moe-run: error: no function named @nope
// INDEX: moe-run: error: --input 7: @combine_rows has 3 arguments
// SPEC: moe-run: error: --input expects <index>=<file.npy>, got 'zero'
// MISSING: moe-run: error: argument #0: {{.*}}missing.npy
// ROLE: moe-run: error: argument #0: an integer tensor whose role (expert ids? group offsets?) cannot be read from its uses; give it with --input=0=file.npy
// OK: moe-run: @combine_rows, T = 2
// OK: result 0: f32 [2, 16]  finite 32/32

func.func @combine_rows(%x: tensor<?x16xbf16>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> tensor<?x16xf32> {
  %rows, %offsets, %slots, %rw = moe.dispatch %x, %ids, %w {num_experts = 4 : i64} : tensor<?x16xbf16>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x16xbf16>, tensor<5xi32>, tensor<?x2xi32>, tensor<?xf32>
  %out = moe.combine %rows, %slots weights(%w) : (tensor<?x16xbf16>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x16xf32>
  return %out : tensor<?x16xf32>
}

func.func @ids_without_role(%ids: tensor<?x2xi32>) -> tensor<?x2xi32> {
  return %ids : tensor<?x2xi32>
}
