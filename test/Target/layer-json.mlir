// RUN: moe-opt --moe-fuse-experts %examples/deepseek-v3-fp8.mlir | moe-translate --moe-to-layer-json | FileCheck %s
// RUN: not moe-translate --moe-to-layer-json %examples/deepseek-v3-fp8.mlir 2>&1 | FileCheck %s --check-prefix=UNFUSED
// gpt-oss's expert biases: their element types (null without).
// RUN: moe-opt --moe-fuse-experts %examples/gpt-oss-120b-mxfp4.mlir | moe-translate --moe-to-layer-json | FileCheck %s --check-prefix=BIAS

// CHECK:      "layers": [
// CHECK-DAG:  "E": 256
// CHECK-DAG:  "H": 7168
// CHECK-DAG:  "I": 2048
// CHECK-DAG:  "K": 8
// CHECK-DAG:  "T": -1
// CHECK-DAG:  "activation": "swiglu"
// CHECK-DAG:  "gate_up_layout": "concat"
// CHECK-DAG:  "router_weight": "before_down"
// CHECK-DAG:  "function": "deepseek_v3_fp8"
// CHECK-DAG:  "w13_type": "f8E4M3FN"
// CHECK-DAG:  "w13_bias_type": null
// CHECK-DAG:  "w2_bias_type": null

// BIAS-DAG:   "w13_bias_type": "bf16"
// BIAS-DAG:   "w2_bias_type": "bf16"
// BIAS-DAG:   "gate_up_layout": "interleaved"

// UNFUSED: error: moe-to-layer-json: the module holds no moe.fused_moe
