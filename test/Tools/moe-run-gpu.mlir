// moe-run --gpu=<artifact dir> runs the compiled kernel of the function on
// the reference's inputs and compares its outputs with the reference's. With
// no driver or GPU it says that it did not run (exit 0; 2 with
// --gpu-required); a moe-run built without the runtime says that instead.
// REQUIRES: ptxas
// RUN: moe-opt --moe-to-nvvm-pipeline=chip=sm_90a %S/Inputs/expert-matmul-small.mlir | moe-translate --moe-to-manifest --artifact-dir=%t.art -o /dev/null

// On any machine: the check passes, or it did not run.
// RUN: moe-run %S/Inputs/expert-matmul-small.mlir --tokens=100 --gpu=%t.art | FileCheck %s --check-prefix=ANY

// No driver (forced), with and without --gpu-required.
// RUN: env MOE_RT_LIBCUDA=/nonexistent/libcuda.so.1 moe-run %S/Inputs/expert-matmul-small.mlir --tokens=100 --gpu=%t.art > %t.nodriver
// RUN: %if moe-runtime %{ FileCheck %s --check-prefix=NODRIVER < %t.nodriver %} %else %{ FileCheck %s --check-prefix=NORUNTIME < %t.nodriver %}
// RUN: env MOE_RT_LIBCUDA=/nonexistent/libcuda.so.1 not moe-run %S/Inputs/expert-matmul-small.mlir --tokens=100 --gpu=%t.art --gpu-required > %t.required
// RUN: %if moe-runtime %{ FileCheck %s --check-prefix=NODRIVER < %t.required %} %else %{ FileCheck %s --check-prefix=NORUNTIME < %t.required %}

// The manifest is checked against the function before anything is loaded.
// RUN: %if moe-runtime %{ not moe-run %S/Inputs/expert-matmul-narrow.mlir --tokens=100 --gpu=%t.art 2>&1 | FileCheck %s --check-prefix=MISMATCH %}
// RUN: %if moe-runtime %{ not moe-run %S/Inputs/expert-matmul-small.mlir --tokens=100 --gpu=%t.missing 2>&1 | FileCheck %s --check-prefix=MISSING %}

// ANY: result 0: bf16 [100, 256]
// ANY: gpu: {{not run: .*|result0 \[100 x 256\] bf16: rel. Frobenius error .* -> ok}}

// NODRIVER: result 0: bf16 [100, 256]
// NODRIVER-NEXT: gpu: not run: cannot load the CUDA driver /nonexistent/libcuda.so.1: {{.*}} (is an NVIDIA driver installed?)
// NODRIVER-NOT: gpu:

// NORUNTIME: gpu: not run: moe-run was built without the CUDA runtime (cuda.h not found, or MOE_ENABLE_CUDA_RUNTIME=OFF)

// MISMATCH: moe-run: error: gpu: {{.*}}manifest.json: manifest tensor 'arg1' (#1): bf16 [8, 256, 128], but argument #1 of the function is bf16 [8, 128, 128]
// MISSING: moe-run: error: gpu: cannot read {{.*}}.missing/manifest.json: No such file or directory
