// The gate/up grouped matmul of DeepSeek-V3's MoE layer alone: the rows of
// T*K token slots grouped by expert (moe.dispatch's output) times each
// expert's w13 [2*I, H] = [4096, 7168], BF16, FP32 accumulation. This is
// the op the code generator lowers today:
//   moe-opt --moe-to-nvvm-pipeline=chip=sm_90a examples/deepseek-v3-expert-matmul.mlir

func.func @deepseek_v3_gate_up(
    %rows: tensor<?x7168xbf16>,
    %w13: tensor<256x4096x7168xbf16>,
    %offsets: tensor<257xi32>) -> tensor<?x4096xbf16> {
  %h = moe.expert_matmul %rows, %w13, %offsets : (tensor<?x7168xbf16>, tensor<256x4096x7168xbf16>, tensor<257xi32>) -> tensor<?x4096xbf16>
  return %h : tensor<?x4096xbf16>
}
