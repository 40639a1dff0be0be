// The artifact manifest of a generated kernel: written by moe-translate from
// the kernel's ABI attributes and the launch's tensor types, and accepted by
// the runtime's manifest parser (no GPU needed for that).
// RUN: moe-opt --moe-to-nvvm-pipeline=chip=sm_90a %examples/deepseek-v3-expert-matmul.mlir -o %t.nvvm.mlir
// RUN: moe-translate --moe-to-manifest %t.nvvm.mlir -o %t.json
// RUN: FileCheck %s < %t.json
// RUN: %if moe-runtime %{ %python %S/Inputs/check_manifest.py %moe_runtime_lib %t.json | FileCheck %s --check-prefix=RT %}
// RUN: %if ptxas %{ moe-translate --moe-to-manifest --artifact-dir=%t.art %t.nvvm.mlir -o /dev/null %}
// RUN: %if ptxas %{ test -s %t.art/deepseek_v3_gate_up_expert_matmul_0.cubin %}
// RUN: %if ptxas %{ diff %t.json %t.art/manifest.json %}
// RUN: not moe-translate --moe-to-manifest %examples/deepseek-v3-expert-matmul.mlir 2>&1 | FileCheck %s --check-prefix=NOLAUNCH

// CHECK-DAG: "arch": "sm_90a"
// CHECK-DAG: "kernel": "deepseek_v3_gate_up_expert_matmul_0"
// CHECK-DAG: "cubin": "deepseek_v3_gate_up_expert_matmul_0.cubin"
// CHECK-DAG: "dynamic_smem_bytes": 197632
// CHECK-DAG: "grid": "persistent"
// CHECK-DAG: "content_hash": "sha256:{{[0-9a-f]+}}"
// CHECK-DAG: "swizzle": "128B"

// The 256-row-tile variant, for T with 64 to 192 rows per expert on
// average (E = 256), shares the parameters and the TMA descriptors (64-row
// boxes of the rows, 128-row boxes of the weights).
// RUN: %python -c "import json, sys; m = json.load(open(sys.argv[1])); print([t['box'] for t in m['tma']]); print(json.dumps(m['variants'], sort_keys=True))" %t.json | FileCheck %s --check-prefix=VAR
// VAR: {{\[}}[64, 64], [128, 64]]
// VAR-NEXT: [{"dynamic_smem_bytes": 197632, "kernel": "deepseek_v3_gate_up_expert_matmul_0_m256", "max_tokens": 49152, "min_tokens": 16384}]

// RT: kernel deepseek_v3_gate_up_expert_matmul_0: 4 params, 3 tensors in, 1 out
// RT-NEXT: T = 16383 runs deepseek_v3_gate_up_expert_matmul_0
// RT-NEXT: T = 16384 runs deepseek_v3_gate_up_expert_matmul_0_m256
// RT-NEXT: T = 49151 runs deepseek_v3_gate_up_expert_matmul_0_m256
// RT-NEXT: T = 49152 runs deepseek_v3_gate_up_expert_matmul_0

// NOLAUNCH: error: moe-to-manifest: expects exactly one moek.launch (run --moe-to-nvvm-pipeline first), found 0

// A variant that names no kernel of the module, or one with another ABI.
// RUN: sed 's/kernel = @deepseek_v3_gate_up_expert_matmul_0_m256/kernel = @missing/' %t.nvvm.mlir | not moe-translate --moe-to-manifest -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADVARIANT
// BADVARIANT: error: moe-to-manifest: malformed moek.variants entry {kernel = @missing, max_tokens = 49152 : i64, min_tokens = 16384 : i64}
// RUN: sed 's/kernel = @deepseek_v3_gate_up_expert_matmul_0_m256/kernel = @deepseek_v3_gate_up_expert_matmul_0/' %t.nvvm.mlir | not moe-translate --moe-to-manifest -o /dev/null 2>&1 | FileCheck %s --check-prefix=SELFVARIANT
// SELFVARIANT: error: moe-to-manifest: a variant must be another kernel than deepseek_v3_gate_up_expert_matmul_0
