// moe-run makes the offsets operand of moe.expert_matmul (an [E+1] integer
// argument) a random grouping of the rows: offsets[0] = 0, nondecreasing,
// offsets[E] = the row count (T), some experts empty; the same for the same
// seed.
// RUN: moe-run %S/Inputs/expert-matmul-small.mlir --tokens=100 --seed=1 --output-dir=%t.out --save-inputs | FileCheck %s
// RUN: %python %S/Inputs/check_offsets.py %t.out/arg2.npy 100 | FileCheck %s --check-prefix=OFFSETS
// RUN: moe-run %S/Inputs/expert-matmul-small.mlir --tokens=3 --seed=7 --output-dir=%t.few --save-inputs
// RUN: %python %S/Inputs/check_offsets.py %t.few/arg2.npy 3 | FileCheck %s --check-prefix=FEW
// RUN: moe-run %S/Inputs/expert-matmul-small.mlir --tokens=100 --seed=1 --print-hash > %t.a
// RUN: moe-run %S/Inputs/expert-matmul-small.mlir --tokens=100 --seed=1 --print-hash > %t.b
// RUN: grep '^result' %t.a > %t.ra
// RUN: grep '^result' %t.b > %t.rb
// RUN: diff %t.ra %t.rb
// The example the code generator compiles (256 experts of 4096 x 7168).
// RUN: moe-run %examples/deepseek-v3-expert-matmul.mlir --tokens=8 | FileCheck %s --check-prefix=DSV3

// CHECK: moe-run: @small_expert_matmul, T = 100, seed = 1
// CHECK: result 0: bf16 [100, 256]  finite 25600/25600

// OFFSETS: offsets [0,
// OFFSETS-SAME: , 100]
// OFFSETS: offsets ok: 8 experts, 100 rows

// 3 rows over 8 experts: at least 5 experts get none.
// FEW: offsets ok: 8 experts, 3 rows, {{[5-7]}} experts without rows

// DSV3: moe-run: @deepseek_v3_gate_up, T = 8
// DSV3: result 0: bf16 [8, 4096]  finite 32768/32768
