// Every variant of the deepseek-v3 example evaluates bit-identically before and
// after the graph pipeline (moe-fuse-experts), on seeded random inputs.

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-bf16.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-bf16.mlir -o %t.bf16.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.bf16.fused.mlir
// RUN: moe-run %examples/deepseek-v3-bf16.mlir --tokens=3 --seed=7 --print-hash > %t.bf16.before
// RUN: moe-run %t.bf16.fused.mlir --tokens=3 --seed=7 --print-hash > %t.bf16.after
// RUN: FileCheck %s --check-prefix=OUT < %t.bf16.after
// RUN: grep '^result' %t.bf16.before > %t.bf16.before.results
// RUN: grep '^result' %t.bf16.after > %t.bf16.after.results
// RUN: diff %t.bf16.before.results %t.bf16.after.results

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-fp8.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-fp8.mlir -o %t.fp8.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.fp8.fused.mlir
// RUN: moe-run %examples/deepseek-v3-fp8.mlir --tokens=3 --seed=7 --print-hash > %t.fp8.before
// RUN: moe-run %t.fp8.fused.mlir --tokens=3 --seed=7 --print-hash > %t.fp8.after
// RUN: FileCheck %s --check-prefix=OUT < %t.fp8.after
// RUN: grep '^result' %t.fp8.before > %t.fp8.before.results
// RUN: grep '^result' %t.fp8.after > %t.fp8.after.results
// RUN: diff %t.fp8.before.results %t.fp8.after.results

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-mxfp4.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-mxfp4.mlir -o %t.mxfp4.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.mxfp4.fused.mlir
// RUN: moe-run %examples/deepseek-v3-mxfp4.mlir --tokens=3 --seed=7 --print-hash > %t.mxfp4.before
// RUN: moe-run %t.mxfp4.fused.mlir --tokens=3 --seed=7 --print-hash > %t.mxfp4.after
// RUN: FileCheck %s --check-prefix=OUT < %t.mxfp4.after
// RUN: grep '^result' %t.mxfp4.before > %t.mxfp4.before.results
// RUN: grep '^result' %t.mxfp4.after > %t.mxfp4.after.results
// RUN: diff %t.mxfp4.before.results %t.mxfp4.after.results

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-fp8-mxfp4.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-fp8-mxfp4.mlir -o %t.fp8mx.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.fp8mx.fused.mlir
// RUN: moe-run %examples/deepseek-v3-fp8-mxfp4.mlir --tokens=3 --seed=7 --print-hash > %t.fp8mx.before
// RUN: moe-run %t.fp8mx.fused.mlir --tokens=3 --seed=7 --print-hash > %t.fp8mx.after
// RUN: FileCheck %s --check-prefix=OUT < %t.fp8mx.after
// RUN: grep '^result' %t.fp8mx.before > %t.fp8mx.before.results
// RUN: grep '^result' %t.fp8mx.after > %t.fp8mx.after.results
// RUN: diff %t.fp8mx.before.results %t.fp8mx.after.results

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-nvfp4.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-nvfp4.mlir -o %t.nvfp4.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.nvfp4.fused.mlir
// RUN: moe-run %examples/deepseek-v3-nvfp4.mlir --tokens=3 --seed=7 --print-hash > %t.nvfp4.before
// RUN: moe-run %t.nvfp4.fused.mlir --tokens=3 --seed=7 --print-hash > %t.nvfp4.after
// RUN: FileCheck %s --check-prefix=OUT < %t.nvfp4.after
// RUN: grep '^result' %t.nvfp4.before > %t.nvfp4.before.results
// RUN: grep '^result' %t.nvfp4.after > %t.nvfp4.after.results
// RUN: diff %t.nvfp4.before.results %t.nvfp4.after.results

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-mxfp8-mxfp4.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-mxfp8-mxfp4.mlir -o %t.mx8mx.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.mx8mx.fused.mlir
// RUN: moe-run %examples/deepseek-v3-mxfp8-mxfp4.mlir --tokens=3 --seed=7 --print-hash > %t.mx8mx.before
// RUN: moe-run %t.mx8mx.fused.mlir --tokens=3 --seed=7 --print-hash > %t.mx8mx.after
// RUN: FileCheck %s --check-prefix=OUT < %t.mx8mx.after
// RUN: grep '^result' %t.mx8mx.before > %t.mx8mx.before.results
// RUN: grep '^result' %t.mx8mx.after > %t.mx8mx.after.results
// RUN: diff %t.mx8mx.before.results %t.mx8mx.after.results

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-mxfp8-nvfp4.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-mxfp8-nvfp4.mlir -o %t.mx8nv.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.mx8nv.fused.mlir
// RUN: moe-run %examples/deepseek-v3-mxfp8-nvfp4.mlir --tokens=3 --seed=7 --print-hash > %t.mx8nv.before
// RUN: moe-run %t.mx8nv.fused.mlir --tokens=3 --seed=7 --print-hash > %t.mx8nv.after
// RUN: FileCheck %s --check-prefix=OUT < %t.mx8nv.after
// RUN: grep '^result' %t.mx8nv.before > %t.mx8nv.before.results
// RUN: grep '^result' %t.mx8nv.after > %t.mx8nv.after.results
// RUN: diff %t.mx8nv.before.results %t.mx8nv.after.results

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-shared-bf16.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-shared-bf16.mlir -o %t.shared_bf16.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.shared_bf16.fused.mlir
// RUN: moe-run %examples/deepseek-v3-shared-bf16.mlir --tokens=3 --seed=7 --print-hash > %t.shared_bf16.before
// RUN: moe-run %t.shared_bf16.fused.mlir --tokens=3 --seed=7 --print-hash > %t.shared_bf16.after
// RUN: FileCheck %s --check-prefix=OUT < %t.shared_bf16.after
// RUN: grep '^result' %t.shared_bf16.before > %t.shared_bf16.before.results
// RUN: grep '^result' %t.shared_bf16.after > %t.shared_bf16.after.results
// RUN: diff %t.shared_bf16.before.results %t.shared_bf16.after.results

// RUN: moe-opt --verify-roundtrip %examples/deepseek-v3-shared-fp8.mlir -o /dev/null
// RUN: moe-opt --moe-graph-optimization-pipeline %examples/deepseek-v3-shared-fp8.mlir -o %t.shared_fp8.fused.mlir
// RUN: FileCheck %s --check-prefix=IR < %t.shared_fp8.fused.mlir
// RUN: moe-run %examples/deepseek-v3-shared-fp8.mlir --tokens=3 --seed=7 --print-hash > %t.shared_fp8.before
// RUN: moe-run %t.shared_fp8.fused.mlir --tokens=3 --seed=7 --print-hash > %t.shared_fp8.after
// RUN: FileCheck %s --check-prefix=OUT < %t.shared_fp8.after
// RUN: grep '^result' %t.shared_fp8.before > %t.shared_fp8.before.results
// RUN: grep '^result' %t.shared_fp8.after > %t.shared_fp8.after.results
// RUN: diff %t.shared_fp8.before.results %t.shared_fp8.after.results

// IR:      moe.route
// IR:      moe.fused_moe
// IR-NOT:  moe.dispatch
// IR-NOT:  moe.expert_matmul
// IR-NOT:  moe.combine

// The output is a finite bf16 [T, H] tensor with non-zero values.
// OUT-LABEL: moe-run: @
// OUT:       result 0: bf16 [3, [[H:[0-9]+]]]  finite [[N:[0-9]+]]/[[N]]  nonzero {{[1-9][0-9]*}}
