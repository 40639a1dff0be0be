//===- MoEAttrs.td - Attributes of the moe dialect ---------*- tablegen -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Enumerations and attributes that make the conventions of a MoE layer
// explicit: scoring function, activation, gate/up layout, router-weight
// placement, quantization format with block shape, expert placement.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOE_IR_MOEATTRS_TD
#define MOE_DIALECT_MOE_IR_MOEATTRS_TD

include "moe/Dialect/MoE/IR/MoEDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enumerations
//===----------------------------------------------------------------------===//

def MoE_Scoring : I32EnumAttr<"Scoring", "router scoring function", [
    I32EnumAttrCase<"softmax", 0>,
    I32EnumAttrCase<"sigmoid", 1>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}
def MoE_ScoringAttr : EnumAttr<MoE_Dialect, MoE_Scoring, "scoring">;

def MoE_ActivationKind : I32EnumAttr<"ActivationKind", "gated activation", [
    I32EnumAttrCase<"swiglu", 0>,
    I32EnumAttrCase<"clamped_swiglu", 1>,
    I32EnumAttrCase<"gelu_mul", 2>,
    I32EnumAttrCase<"gelu_tanh_mul", 3>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}
def MoE_ActivationKindAttr
    : EnumAttr<MoE_Dialect, MoE_ActivationKind, "activation">;

def MoE_GateUpLayout : I32EnumAttr<"GateUpLayout",
    "order of the gate and up halves in the first expert weight", [
    I32EnumAttrCase<"concat", 0>,
    I32EnumAttrCase<"interleaved", 1>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}
def MoE_GateUpLayoutAttr
    : EnumAttr<MoE_Dialect, MoE_GateUpLayout, "gate_up_layout">;

def MoE_RouterWeight : I32EnumAttr<"RouterWeight",
    "where the router weight of a slot is applied", [
    I32EnumAttrCase<"before_down", 0>,
    I32EnumAttrCase<"in_combine", 1>,
    I32EnumAttrCase<"none", 2>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}
def MoE_RouterWeightAttr
    : EnumAttr<MoE_Dialect, MoE_RouterWeight, "router_weight">;

def MoE_QuantScheme : I32EnumAttr<"QuantScheme", "block-scaled number format", [
    I32EnumAttrCase<"fp8_block", 0>,
    I32EnumAttrCase<"mxfp8", 1>,
    I32EnumAttrCase<"mxfp4", 2>,
    I32EnumAttrCase<"nvfp4", 3>]> {
  let cppNamespace = "::mlir::moe";
  let genSpecializedAttr = 0;
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

class MoE_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<MoE_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def MoE_QuantAttr : MoE_Attr<"Quant", "quant"> {
  let summary = "A block-scaled quantization format and its block shape";
  let description = [{
    The number format of a quantized tensor and the shape of the block that
    shares one scale. The block covers the last two dimensions: `block =
    [rows, cols]`, with `cols` along the reduction (last) dimension.

    | scheme      | values     | scales                     | blocks                 |
    |-------------|------------|----------------------------|------------------------|
    | `fp8_block` | `f8E4M3FN` | `f32`                      | `[1, 128]`, `[128, 128]` |
    | `mxfp8`     | `f8E4M3FN` | `f8E8M0FNU` (UE8M0)        | `[1, 32]`              |
    | `mxfp4`     | `f4E2M1FN` | `f8E8M0FNU` (UE8M0)        | `[1, 32]`              |
    | `nvfp4`     | `f4E2M1FN` | `f8E4M3FN` + `f32` global  | `[1, 16]`              |

    `fp8_block` with `[1, 128]` is DeepSeek-V3's activation format (one scale
    per token per 128 channels) and `[128, 128]` its weight format.

    Example: `#moe.quant<fp8_block, block = [1, 128]>`
  }];
  let parameters = (ins EnumParameter<MoE_QuantScheme>:$scheme,
                        "int64_t":$blockRows, "int64_t":$blockCols);
  let assemblyFormat =
      "`<` $scheme `,` `block` `=` `[` $blockRows `,` $blockCols `]` `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Element type of the quantized values.
    ::mlir::Type getValueType() const;
    /// Element type of the block scales.
    ::mlir::Type getScaleType() const;
    /// True if the format carries a per-tensor f32 global scale (NVFP4).
    bool hasGlobalScale() const { return getScheme() == QuantScheme::nvfp4; }
  }];
}

def MoE_PlacementAttr : MoE_Attr<"Placement", "placement"> {
  let summary = "Expert-parallel placement of the experts over ranks";
  let description = [{
    Experts are split over `ranks` GPUs, `experts_per_rank` (`E_l`)
    consecutive experts each: rank `r` owns experts `[r*E_l, (r+1)*E_l)`.
    An op that carries a placement checks that `ranks * experts_per_rank`
    equals its `E`.

    Example: `#moe.placement<ranks = 8, experts_per_rank = 32>`
  }];
  let parameters = (ins "int64_t":$ranks, "int64_t":$expertsPerRank);
  let assemblyFormat =
      "`<` `ranks` `=` $ranks `,` `experts_per_rank` `=` $expertsPerRank `>`";
  let genVerifyDecl = 1;
}

#endif // MOE_DIALECT_MOE_IR_MOEATTRS_TD
