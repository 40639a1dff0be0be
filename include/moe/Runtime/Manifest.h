//===- Manifest.h - The artifact manifest of a compiled kernel --*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The in-memory form of manifest.json (schema: docs/Manifest.md) and its
// parser. The parser checks every field's presence, type and range and the
// cross references (parameters -> tensors and descriptors, descriptors ->
// tensors or the workspace), so the launch path can trust a parsed Manifest.
// It never throws or aborts: a bad manifest gives `false` and a message
// naming the field, as `tensors[1].shape[0]: expected a positive integer or
// "T", got -3`.
//
// Needs no CUDA and no JSON header (nlohmann/json stays inside Manifest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_MANIFEST_H
#define MOE_RUNTIME_MANIFEST_H

#include "moe/Runtime/MoERuntime.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::runtime {

/// The manifest version this runtime reads.
inline constexpr int64_t kManifestVersion = 1;
/// In TensorSpec::shape: the dynamic token dim T.
inline constexpr int64_t kDimT = MOE_RT_DIM_T;
/// Limits of what one kernel may declare (the launch keeps its parameters on
/// the stack).
inline constexpr size_t kMaxParams = 128;
inline constexpr size_t kMaxTensorMaps = 32;
inline constexpr unsigned kMaxTensorMapRank = 5;

/// "T", or a positive integer.
struct TensorSpec {
  std::string name;
  moeRtDType dtype = MOE_RT_DTYPE_INVALID;
  std::vector<int64_t> shape; ///< kDimT for the dynamic dim
  uint32_t alignment = 16;    ///< bytes, a power of two
  int32_t role = MOE_RT_ROLE_INPUT;
  bool hasTokenDim() const;
};

enum class Swizzle : uint8_t { None, B32, B64, B128 };
enum class Interleave : uint8_t { None, B16, B32 };
enum class L2Promotion : uint8_t { None, B64, B128, B256 };
enum class OobFill : uint8_t { None, NanRequestZeroFma };

/// Bytes of one swizzle span (0 for None).
unsigned swizzleBytes(Swizzle s);

/// One TMA descriptor built on the host, over a tensor argument ("tensor")
/// or over a static view of the workspace ("workspace").
struct TensorMapSpec {
  std::string name;
  /// Over the workspace: the view of `view`, at byte `workspaceOffset` of
  /// the caller's workspace. Else over tensor argument `tensor`.
  bool overWorkspace = false;
  size_t tensor = 0; ///< index into Manifest::tensors (tensor descriptors)
  /// Workspace descriptors: where the view starts in the workspace (a
  /// multiple of 16 bytes).
  uint64_t workspaceOffset = 0;
  /// Workspace descriptors: the view's dtype and static row-major shape
  /// (rank 1 to 5), named "workspace".
  TensorSpec view;
  /// Rank of the descriptor: the tensor's (or view's) rank, or less when the
  /// leading dims are merged (a [E, N, K] weight seen as [E*N, K]).
  unsigned rank = 0;
  /// Box, outermost dim first (as the tensor's shape), in elements.
  std::vector<uint32_t> box;
  /// Traversal strides, outermost first (1 everywhere by default).
  std::vector<uint32_t> elementStrides;
  Swizzle swizzle = Swizzle::None;
  Interleave interleave = Interleave::None;
  L2Promotion l2Promotion = L2Promotion::None;
  OobFill oobFill = OobFill::None;
  /// f4E2M1FN only: TMA's 16U4_ALIGN16B type, which writes each 16 values'
  /// 8 packed bytes followed by 8 bytes of padding (tcgen05's 4-bit operand
  /// form); dims and box count values.
  bool fp4Padded = false;
};

enum class ParamKind : uint8_t {
  Tensor,
  TensorMap,
  Scalar,
  TokenCount,
  Workspace
};
enum class ScalarType : uint8_t { I32, I64 };

/// One kernel parameter, in ABI order.
struct ParamSpec {
  ParamKind kind = ParamKind::Tensor;
  std::string name;
  /// Tensor: index into tensors; TensorMap: into tensorMaps; call-time
  /// Scalar: its slot in moeRtLaunchConfig::scalars.
  size_t index = 0;
  ScalarType type = ScalarType::I64; ///< Scalar and TokenCount
  bool hasValue = false;             ///< Scalar fixed by the compiler
  int64_t value = 0;
  /// Bytes of the parameter in the kernel's parameter buffer.
  size_t sizeInBytes() const;
};

/// Another kernel of the same cubin, parameters, grid and block, that the
/// runtime launches instead when T is in [minTokens, maxTokens).
struct KernelVariant {
  std::string kernel;
  int64_t minTokens = 0;
  int64_t maxTokens = MOE_RT_UNBOUNDED_TOKENS; ///< exclusive; unbounded
  uint32_t dynamicSmemBytes = 0;
  /// Its own cluster: a variant without "cluster" runs unclustered, whatever
  /// the primary kernel's cluster is (the cluster is compiled into a kernel:
  /// one that multicasts to its partner CTA cannot run alone).
  std::array<uint32_t, 3> cluster{1, 1, 1};
};

/// What makes a build of the kernel one chip's: its arch and its cubin. The
/// manifest's top level is one (`Manifest` derives from it), each entry of
/// "images" another.
struct ChipBuild {
  std::string arch;
  unsigned archMajor = 0, archMinor = 0;
  bool archSpecific = false; ///< "a"/"f" suffix: this exact compute capability
  std::string cubin;

  /// Whether a device of compute capability major.minor runs it.
  bool runsOn(unsigned major, unsigned minor) const {
    return major == archMajor &&
           (archSpecific ? minor == archMinor : minor >= archMinor);
  }
};

/// A build of the kernel for one chip: the top-level "arch" and "cubin", or
/// an entry of "images" (the same kernel, parameters and launch for
/// another chip).
struct KernelImage : ChipBuild {
  /// Its own dynamic shared memory for `kernel` (images only; the kernels of
  /// the chips may lay their shared memory out differently), else the
  /// launch's.
  std::optional<uint32_t> dynamicSmemBytes;
  /// Its own variants (images only: a chip's lowering may have variants
  /// another's has not, e.g. sm_90a's 128-row FP8 kernel); an image that
  /// lists none runs `kernel` for every token count.
  std::vector<KernelVariant> variants;
};

/// The largest workspace_zero_bytes: moeRtKernelInfo reports it in 32 bits.
inline constexpr uint64_t kMaxWorkspaceZeroBytes = 0xFFFFFFFCull;

/// The top-level build's arch and cubin are its ChipBuild part.
struct Manifest : ChipBuild {
  int64_t version = 0;
  std::string kernel;
  /// Builds for other chips ("images"); the runtime loads the first build,
  /// the top-level one included, that the device runs.
  std::vector<KernelImage> images;
  std::string compiler;
  std::string contentHash;

  bool persistentGrid = false;
  std::array<uint32_t, 3> grid{1, 1, 1};
  std::array<uint32_t, 3> block{1, 1, 1};
  std::array<uint32_t, 3> cluster{1, 1, 1};
  uint32_t dynamicSmemBytes = 0;
  uint64_t workspaceBytes = 0;
  /// Bytes at the start of the workspace that each launch zeroes before the
  /// kernel runs (a multiple of 4, at most workspaceBytes).
  uint64_t workspaceZeroBytes = 0;
  int64_t maxTokens = MOE_RT_UNBOUNDED_TOKENS;

  std::vector<TensorSpec> tensors;
  std::vector<TensorMapSpec> tensorMaps;
  std::vector<ParamSpec> params;
  /// Tried in order; the first whose range holds T is launched, else
  /// `kernel`.
  std::vector<KernelVariant> variants;
  size_t numCallScalars = 0;
  /// Some tensor has a T dim or some parameter is T.
  bool usesTokens = false;
  /// An expert-parallel kernel ("expert_parallel"): it is launched at T = 0
  /// too, since the other ranks wait for it.
  bool expertParallel = false;
};

/// Parses `text`. On failure returns false and sets `error` ("manifest: "
/// followed by the field path and what is wrong).
bool parseManifest(std::string_view text, Manifest &manifest,
                   std::string &error);

/// The tensor (or, for a descriptor over the workspace, the view) that
/// descriptor `map` describes.
const TensorSpec &tensorMapSource(const Manifest &manifest,
                                  const TensorMapSpec &map);

/// The builds of the kernel, the top-level one first.
std::vector<KernelImage> kernelImages(const Manifest &manifest);

/// Makes build `index` of kernelImages(manifest) the manifest's: its arch
/// and cubin, its dynamic shared memory if it has its own, and, for an
/// image, its variants in place of the top-level build's.
void useImage(Manifest &manifest, size_t index);

/// The kernel to launch for `numTokens`: 0 for Manifest::kernel, i + 1 for
/// variants[i].
size_t selectKernel(const Manifest &manifest, int64_t numTokens);

/// The name, dynamic shared memory and cluster of kernel `choice` (as
/// selectKernel numbers them).
const std::string &kernelName(const Manifest &manifest, size_t choice);
uint32_t kernelDynamicSmemBytes(const Manifest &manifest, size_t choice);
const std::array<uint32_t, 3> &kernelCluster(const Manifest &manifest,
                                             size_t choice);

/// The MLIR spelling of a dtype and back (MOE_RT_DTYPE_INVALID if unknown).
const char *dtypeName(moeRtDType dtype);
moeRtDType dtypeFromName(std::string_view name);
/// Bits per element; 0 for invalid.
unsigned dtypeBits(moeRtDType dtype);

/// "[T, 7168]" or "[16, 7168]".
std::string formatShape(const std::vector<int64_t> &shape);

} // namespace moe::runtime

#endif // MOE_RUNTIME_MANIFEST_H
