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
// CHECK-DAG: "dynamic_smem_bytes": 230400
// CHECK-DAG: "grid": "persistent"
// CHECK-DAG: "content_hash": "sha256:{{[0-9a-f]+}}"
// CHECK-DAG: "swizzle": "128B"

// The 192-row-tile variant, for T with 64 to 192 rows per expert on
// average (E = 256), shares the parameters and the TMA descriptors (64-row
// boxes of the rows, 128-row boxes of the weights, 64 x 64 boxes of the
// output).
// RUN: %python -c "import json, sys; m = json.load(open(sys.argv[1])); print([t['box'] for t in m['tma']]); print(json.dumps(m['variants'], sort_keys=True))" %t.json | FileCheck %s --check-prefix=VAR
// VAR: {{\[}}[64, 64], [128, 64], [64, 64]]
// VAR-NEXT: [{"dynamic_smem_bytes": 222208, "kernel": "deepseek_v3_gate_up_expert_matmul_0_m192", "max_tokens": 49152, "min_tokens": 16384}]

// RT: kernel deepseek_v3_gate_up_expert_matmul_0: 6 params, 3 tensors in, 1 out
// RT-NEXT: T = 16383 runs deepseek_v3_gate_up_expert_matmul_0
// RT-NEXT: T = 16384 runs deepseek_v3_gate_up_expert_matmul_0_m192
// RT-NEXT: T = 49151 runs deepseek_v3_gate_up_expert_matmul_0_m192
// RT-NEXT: T = 49152 runs deepseek_v3_gate_up_expert_matmul_0

// NOLAUNCH: error: moe-to-manifest: expects exactly one moek.launch (run --moe-to-nvvm-pipeline first), found 0

// A variant that names no kernel of the module, or one with another ABI.
// RUN: sed 's/kernel = @deepseek_v3_gate_up_expert_matmul_0_m192/kernel = @missing/' %t.nvvm.mlir | not moe-translate --moe-to-manifest -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADVARIANT
// BADVARIANT: error: moe-to-manifest: malformed moek.variants entry {kernel = @missing, max_tokens = 49152 : i64, min_tokens = 16384 : i64}
// RUN: sed 's/kernel = @deepseek_v3_gate_up_expert_matmul_0_m192/kernel = @deepseek_v3_gate_up_expert_matmul_0/' %t.nvvm.mlir | not moe-translate --moe-to-manifest -o /dev/null 2>&1 | FileCheck %s --check-prefix=SELFVARIANT
// SELFVARIANT: error: moe-to-manifest: a variant must be another kernel than deepseek_v3_gate_up_expert_matmul_0

// Each kernel has its own cluster (moek.launch's optional `cluster`, along
// x): the manifest writes [c, 1, 1] for the primary (launch.cluster) and for
// each variant (variants[i].cluster) when c > 1, and nothing for c = 1 (a
// variant without it runs unclustered, whatever the primary's). Every
// cluster is removed from the input first, so that the cases do not depend
// on which kernels the pipeline makes clustered.
// RUN: sed -E 's/cluster = [0-9]+ : i64, //' %t.nvvm.mlir > %t.nocluster.mlir
// RUN: sed -E '/llvm.func @deepseek_v3_gate_up_expert_matmul_0_m192\(/s/grid = "persistent"/cluster = 2 : i64, grid = "persistent"/' %t.nocluster.mlir | moe-translate --moe-to-manifest -o %t.varcluster.json
// RUN: %python -c "import json, sys; m = json.load(open(sys.argv[1])); print('launch:', json.dumps(m['launch'], sort_keys=True)); [print(json.dumps(v, sort_keys=True)) for v in m['variants']]" %t.varcluster.json | FileCheck %s --check-prefix=VARCLUSTER
// RUN: %if moe-runtime %{ %python %S/Inputs/check_manifest.py %moe_runtime_lib %t.varcluster.json | FileCheck %s --check-prefix=RTCLUSTER %}
// VARCLUSTER: launch: {"block": [384, 1, 1], "dynamic_smem_bytes": {{[0-9]+}}, "grid": "persistent"}
// VARCLUSTER-NEXT: {"cluster": [2, 1, 1], "dynamic_smem_bytes": {{[0-9]+}}, "kernel": "deepseek_v3_gate_up_expert_matmul_0_m192", "max_tokens": 49152, "min_tokens": 16384}
// RTCLUSTER: T = 16384 runs deepseek_v3_gate_up_expert_matmul_0_m192

// A primary in 2-CTA clusters; its unclustered variant gets no "cluster".
// RUN: sed -E '/llvm.func @deepseek_v3_gate_up_expert_matmul_0\(/s/grid = "persistent"/cluster = 2 : i64, grid = "persistent"/' %t.nocluster.mlir | moe-translate --moe-to-manifest -o %t.primarycluster.json
// RUN: %python -c "import json, sys; m = json.load(open(sys.argv[1])); print('launch:', json.dumps(m['launch'], sort_keys=True)); [print(json.dumps(v, sort_keys=True)) for v in m['variants']]" %t.primarycluster.json | FileCheck %s --check-prefix=PRIMARYCLUSTER
// PRIMARYCLUSTER: launch: {"block": [384, 1, 1], "cluster": [2, 1, 1], "dynamic_smem_bytes": {{[0-9]+}}, "grid": "persistent"}
// PRIMARYCLUSTER-NEXT: {"dynamic_smem_bytes": {{[0-9]+}}, "kernel": "deepseek_v3_gate_up_expert_matmul_0_m192", "max_tokens": 49152, "min_tokens": 16384}

// A cluster of 0 or of more than 16 CTAs is an error naming the kernel.
// RUN: sed -E '/llvm.func @deepseek_v3_gate_up_expert_matmul_0_m192\(/s/grid = "persistent"/cluster = 0 : i64, grid = "persistent"/' %t.nocluster.mlir | not moe-translate --moe-to-manifest -o /dev/null 2>&1 | FileCheck %s --check-prefix=CLUSTER0
// CLUSTER0: error: moe-to-manifest: kernel deepseek_v3_gate_up_expert_matmul_0_m192: moek.launch cluster must be an integer from 1 to 16 (CTAs along x), got 0 : i64
// RUN: sed -E '/llvm.func @deepseek_v3_gate_up_expert_matmul_0\(/s/grid = "persistent"/cluster = 17 : i64, grid = "persistent"/' %t.nocluster.mlir | not moe-translate --moe-to-manifest -o /dev/null 2>&1 | FileCheck %s --check-prefix=CLUSTER17
// CLUSTER17: error: moe-to-manifest: kernel deepseek_v3_gate_up_expert_matmul_0: moek.launch cluster must be an integer from 1 to 16 (CTAs along x), got 17 : i64

// Only the cluster may differ: a variant with another block is an error.
// RUN: sed -E '/llvm.func @deepseek_v3_gate_up_expert_matmul_0_m192\(/s/block = 384 : i64/block = 256 : i64/' %t.nocluster.mlir | not moe-translate --moe-to-manifest -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADGEOMETRY
// BADGEOMETRY: error: moe-to-manifest: variant @deepseek_v3_gate_up_expert_matmul_0_m192 must have the parameter ABI and launch geometry (block, grid) of deepseek_v3_gate_up_expert_matmul_0; only its cluster may differ
