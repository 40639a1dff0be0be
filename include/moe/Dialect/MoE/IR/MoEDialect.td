//===- MoEDialect.td - The moe dialect ---------------------*- tablegen -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOE_IR_MOEDIALECT_TD
#define MOE_DIALECT_MOE_IR_MOEDIALECT_TD

include "mlir/IR/OpBase.td"

def MoE_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::mlir::moe";
  let summary = "Graph-level Mixture-of-Experts layers on tensors";
  let description = [{
    The `moe` dialect describes *what* a Mixture-of-Experts layer computes, on
    value-semantics tensors: the router (`moe.gate`, `moe.route`), the
    grouping of token slots by expert (`moe.dispatch`), the grouped expert
    matmuls (`moe.expert_matmul`), the gated activation (`moe.activation`),
    the weighted combine (`moe.combine`), block-scaled quantization
    (`moe.quantize`, `moe.dequantize`) and a whole layer in one op
    (`moe.fused_moe`).

    Vocabulary, everywhere: `T` tokens, `H` hidden size, `I` intermediate size
    per expert, `E` experts, `K` top-k, `M = T*K` dispatched rows, `R` ranks.
    Only `T` (and so `M`) may be dynamic.

    Invariants of the dialect:
    * Every convention that differs between frameworks is an explicit,
      verified attribute or type, never a default: the gate/up layout of the
      first expert weight, the quantization format and block shape of every
      quantized operand, the element type of every rounding point, where the
      router weight is applied, and the expert-parallel placement.
    * Weights are `[E, N, K]`, K-major (each output feature's reduction
      dimension is contiguous), as in vLLM, FlashInfer and DeepGEMM.
    * Accumulation is FP32; the combine sums a token's `K` contributions in
      FP32 in ascending slot order. The exact semantics of every op is the
      reference evaluator (`include/moe/Reference/Kernels.h`).
    * Expert ids outside `[0, E)` (including the `-1` "no selection" marker)
      mask their slot; no op ever reads out of bounds because of them.

    The dialect is independent of the target; kernel-level lowering happens
    in later dialects.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class MoE_Op<string mnemonic, list<Trait> traits = []>
    : Op<MoE_Dialect, mnemonic, traits>;

#endif // MOE_DIALECT_MOE_IR_MOEDIALECT_TD
