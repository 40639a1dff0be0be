//===- Arguments.h - Check launch arguments against a manifest --*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The host-side checks of one launch, kept free of CUDA so that they run (and
// are unit-tested) without a GPU:
//  - validateArguments: each tensor argument against its manifest entry
//    (dtype, rank, shape with T bound at call time, row-major strides,
//    alignment, device, null), then T, the workspace and the call-time
//    scalars. The first problem gives its moeRtStatus and a message naming
//    the argument with the expected and the actual value.
//  - planTensorMap: the exact cuTensorMapEncodeTiled arguments of one TMA
//    descriptor for a validated argument, or for a view of a validated
//    workspace (innermost dim first, byte strides), with the driver's rules
//    checked first so that a failure names the descriptor.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_ARGUMENTS_H
#define MOE_RUNTIME_ARGUMENTS_H

#include "moe/Runtime/Manifest.h"

#include <optional>
#include <string>

namespace moe::runtime {

/// Checks one launch. On success sets `numTokens` (0 when the kernel has no
/// T) and returns MOE_RT_SUCCESS; otherwise returns the error code and sets
/// `error`.
moeRtStatus validateArguments(const Manifest &manifest, int32_t device,
                              const moeRtTensorArg *args, int32_t numArgs,
                              const moeRtLaunchConfig &config,
                              int64_t &numTokens, std::string &error);

/// TMA element types (values of CUtensorMapDataType).
enum class TmaDataType : uint32_t {
  UInt8 = 0,
  UInt16 = 1,
  UInt32 = 2,
  Int32 = 3,
  UInt64 = 4,
  Int64 = 5,
  Float16 = 6,
  Float32 = 7,
  Float64 = 8,
  BFloat16 = 9,
  /// CU_TENSOR_MAP_DATA_TYPE_16U4_ALIGN16B (sm_100 and later).
  U4x16Align16B = 14,
};

/// The arguments of cuTensorMapEncodeTiled, in its order (innermost first).
struct TensorMapPlan {
  TmaDataType dataType = TmaDataType::UInt8;
  uint32_t rank = 0;
  uint64_t globalAddress = 0;
  uint64_t globalDim[kMaxTensorMapRank] = {};
  uint64_t globalStrides[kMaxTensorMapRank - 1] = {}; ///< bytes, dims 1..
  uint32_t boxDim[kMaxTensorMapRank] = {};
  uint32_t elementStrides[kMaxTensorMapRank] = {};
  // The enums keep the values of the CUDA enums of the same names.
  uint32_t interleave = 0;
  uint32_t swizzle = 0;
  uint32_t l2Promotion = 0;
  uint32_t oobFill = 0;
};

/// f4E2M1FN is loaded as bytes (UInt8, the innermost dims halved); f8 types
/// and i8/ui8 as UInt8.
TmaDataType tmaDataType(moeRtDType dtype);

/// Plans tensor descriptor `map` of `manifest` for `arg` (an argument that
/// passed validateArguments). Returns MOE_RT_ERROR_TENSOR_MAP or
/// MOE_RT_ERROR_ARG_ALIGNMENT with a message on failure (TENSOR_MAP for a
/// descriptor over the workspace: plan those with planWorkspaceTensorMap).
moeRtStatus planTensorMap(const Manifest &manifest, const TensorMapSpec &map,
                          const moeRtTensorArg &arg, TensorMapPlan &plan,
                          std::string &error);

/// Plans descriptor `map` over the workspace: base `workspace` (the caller's
/// workspace address, validated) + map.workspaceOffset, dims and strides
/// from map.view's static row-major shape. Fails as planTensorMap does.
moeRtStatus planWorkspaceTensorMap(const Manifest &manifest,
                                   const TensorMapSpec &map, uint64_t workspace,
                                   TensorMapPlan &plan, std::string &error);

/// Either one, as `map` says: over args[map.tensor] or over `workspace`.
moeRtStatus planTensorMap(const Manifest &manifest, const TensorMapSpec &map,
                          const moeRtTensorArg *args, uint64_t workspace,
                          TensorMapPlan &plan, std::string &error);

/// The grid of a launch: the manifest's fixed grid, or for a persistent grid
/// min(numSms, maxSms, maxCtas) rounded down to a multiple of `clusterX`, the
/// x dim of the launched kernel's cluster (a variant's may differ from the
/// primary's; kernelCluster). `maxSms` 0 is no cap. `maxCtas` is how many
/// CTAs of that kernel, in its clusters, the device holds at once
/// (cuOccupancyMaxActiveClusters times the cluster size), std::nullopt if
/// unknown: a cluster sits in one GPC, so not every group of SMs takes one
/// (an H200 holds 30 4-CTA clusters of a kernel of one CTA per SM, not 33),
/// and a persistent grid larger than what is co-resident leaves clusters
/// waiting for a second wave. Returns false if no CTA would be launched.
bool computeGrid(const Manifest &manifest, uint32_t numSms, uint32_t maxSms,
                 uint32_t clusterX, std::optional<uint32_t> maxCtas,
                 uint32_t grid[3], std::string &error);

} // namespace moe::runtime

#endif // MOE_RUNTIME_ARGUMENTS_H
