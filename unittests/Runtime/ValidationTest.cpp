//===- ValidationTest.cpp - Launch arguments against a manifest -----------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Through the C API on a kernel created from a manifest alone (no GPU, no
// driver): each bad argument gives its status and a message naming the
// argument with the expected and the actual value. Also the TMA descriptor
// plans (the exact cuTensorMapEncodeTiled arguments) and the grid.
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/Arguments.h"
#include "moe/Runtime/MoERuntime.h"

#include "gtest/gtest.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace moe::runtime;
using json = nlohmann::json;

namespace {

/// The fused-layer manifest of ManifestTest, smaller.
const char *kManifest = R"JSON({
  "version": 1, "kernel": "moe_fused_bf16", "arch": "sm_90a",
  "cubin": "moe_fused_bf16.cubin", "compiler": "test", "content_hash": "h",
  "launch": {"grid": "persistent", "block": [384], "cluster": [2],
             "dynamic_smem_bytes": 132096},
  "workspace_bytes": 4096,
  "max_tokens": 8192,
  "tensors": [
    {"name": "x", "dtype": "bf16", "shape": ["T", 256]},
    {"name": "topk_ids", "dtype": "i32", "shape": ["T", 2]},
    {"name": "w13", "dtype": "bf16", "shape": [4, 512, 256]},
    {"name": "w13_scale", "dtype": "f8E8M0FNU", "shape": [4, 512, 8],
     "alignment": 8},
    {"name": "out", "dtype": "bf16", "shape": ["T", 256], "role": "output"}
  ],
  "tma": [
    {"name": "x_desc", "tensor": "x", "box": [128, 64], "swizzle": "128B",
     "l2_promotion": "256B"},
    {"name": "w13_desc", "tensor": "w13", "rank": 2, "box": [128, 64],
     "swizzle": "128B", "l2_promotion": "256B", "oob_fill":
     "nan_request_zero_fma"}
  ],
  "params": [
    {"kind": "tma", "tma": "x_desc"},
    {"kind": "tma", "tma": "w13_desc"},
    {"kind": "tensor", "tensor": "topk_ids"},
    {"kind": "tensor", "tensor": "w13_scale"},
    {"kind": "tensor", "tensor": "out"},
    {"kind": "workspace"},
    {"kind": "token_count", "type": "i32"},
    {"kind": "i32", "name": "num_experts", "value": 4},
    {"kind": "i64", "name": "timeout_cycles"}
  ]
})JSON";

constexpr uint64_t kBase = 0x7f0000000000ull;

/// A kernel handle for device 0 from a manifest, and valid arguments for T.
class ValidationTest : public ::testing::Test {
protected:
  void SetUp() override { create(kManifest); }
  void TearDown() override { moeRtUnload(kernel); }

  void create(const std::string &text) {
    moeRtUnload(kernel);
    kernel = nullptr;
    ASSERT_EQ(moeRtKernelCreateUnloaded(text.data(), text.size(), 0, &kernel),
              MOE_RT_SUCCESS)
        << moeRtGetLastError();
  }

  static moeRtTensorArg tensor(uint64_t data, moeRtDType dtype,
                               std::vector<int64_t> shape, int32_t device = 0) {
    moeRtTensorArg a;
    EXPECT_EQ(moeRtTensorArgInit(&a, data, dtype,
                                 static_cast<int32_t>(shape.size()),
                                 shape.data(), device),
              MOE_RT_SUCCESS);
    return a;
  }

  void makeArgs(int64_t T) {
    args = {tensor(kBase, MOE_RT_DTYPE_BF16, {T, 256}),
            tensor(kBase + 0x100000, MOE_RT_DTYPE_I32, {T, 2}),
            tensor(kBase + 0x200000, MOE_RT_DTYPE_BF16, {4, 512, 256}),
            tensor(kBase + 0x400000, MOE_RT_DTYPE_F8E8M0FNU, {4, 512, 8}),
            tensor(kBase + 0x500000, MOE_RT_DTYPE_BF16, {T, 256})};
    moeRtLaunchConfigInit(&config);
    config.workspace = kBase + 0x600000;
    config.workspaceBytes = 4096;
    config.scalars = scalars;
    config.numScalars = 1;
  }

  /// Validates; returns the status and leaves the message in `message`.
  moeRtStatus validate() {
    tokens = -42;
    moeRtStatus st =
        moeRtValidateArgs(kernel, args.data(),
                          static_cast<int32_t>(args.size()), &config, &tokens);
    message = moeRtGetLastError();
    return st;
  }

  moeRtKernel kernel = nullptr;
  std::vector<moeRtTensorArg> args;
  moeRtLaunchConfig config;
  int64_t scalars[1] = {1000000};
  int64_t tokens = 0;
  std::string message;
};

TEST_F(ValidationTest, AcceptsValidArguments) {
  makeArgs(16);
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;
  EXPECT_EQ(tokens, 16);
  EXPECT_EQ(message, "");
  config.numTokens = 16;
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;
}

TEST_F(ValidationTest, ZeroTokensIsValid) {
  makeArgs(0);
  args[0].data = 0; // an empty tensor may have no storage
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;
  EXPECT_EQ(tokens, 0);
}

TEST_F(ValidationTest, ArgumentCount) {
  makeArgs(16);
  args.pop_back();
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_COUNT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': expected 5 tensor arguments "
                     "(x, topk_ids, w13, w13_scale, out), got 4");
}

TEST_F(ValidationTest, WrongDtype) {
  makeArgs(16);
  args[0].dtype = MOE_RT_DTYPE_F32;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_DTYPE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'x' (#0): expected "
                     "dtype bf16, got f32");
  args[0].dtype = 99;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_DTYPE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'x' (#0): expected "
                     "dtype bf16, got invalid dtype (99)");
  makeArgs(16);
  args[3].dtype = MOE_RT_DTYPE_F8E4M3FN;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_DTYPE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'w13_scale' (#3): "
                     "expected dtype f8E8M0FNU, got f8E4M3FN");
}

TEST_F(ValidationTest, WrongRank) {
  makeArgs(16);
  args[2] = tensor(kBase + 0x200000, MOE_RT_DTYPE_BF16, {2048, 256});
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_RANK);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'w13' (#2): expected "
                     "rank 3 [4, 512, 256], got rank 2 [2048, 256]");
  args[2].rank = 9;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_RANK);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'w13' (#2): expected "
                     "rank 3 [4, 512, 256], got rank 9");
}

TEST_F(ValidationTest, WrongStaticDim) {
  makeArgs(16);
  args[0] = tensor(kBase, MOE_RT_DTYPE_BF16, {16, 128});
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_SHAPE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'x' (#0): expected "
                     "shape [T, 256], got [16, 128] (dim 1)");
}

TEST_F(ValidationTest, TokenDimsMustAgree) {
  makeArgs(16);
  args[1] = tensor(kBase + 0x100000, MOE_RT_DTYPE_I32, {12, 2});
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_SHAPE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'topk_ids' (#1): dim "
                     "0 of [T, 2] is T = 16 (bound by argument 'x' (#0) dim "
                     "0), got 12 in [12, 2]");
  makeArgs(16);
  config.numTokens = 8;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_SHAPE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'x' (#0): dim 0 of "
                     "[T, 256] is T = 8 (bound by moeRtLaunchConfig.numTokens)"
                     ", got 16 in [16, 256]");
}

TEST_F(ValidationTest, NegativeDim) {
  makeArgs(16);
  args[4].shape[0] = -1;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_SHAPE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'out' (#4): dim 0 is "
                     "negative in [-1, 256]");
}

TEST_F(ValidationTest, NonContiguous) {
  makeArgs(16);
  // x.t() of a [256, 16] tensor: shape [16, 256], strides [1, 16].
  args[0].strides[0] = 1;
  args[0].strides[1] = 16;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_STRIDE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'x' (#0): expected "
                     "contiguous row-major strides [256, 1] (in elements), "
                     "got [1, 16] (dim 0)");
  makeArgs(16);
  args[2].strides[0] = 512 * 512; // a slice of a larger buffer
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_STRIDE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'w13' (#2): expected "
                     "contiguous row-major strides [131072, 256, 1] (in "
                     "elements), got [262144, 256, 1] (dim 0)");
}

TEST_F(ValidationTest, StrideOfSizeOneDimIsFree) {
  makeArgs(1);
  args[0].strides[0] = 12345; // never stepped over, as in torch
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;
}

TEST_F(ValidationTest, Misaligned) {
  makeArgs(16);
  args[4].data += 2; // out[1:] style view of a bf16 buffer
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_ALIGNMENT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'out' (#4): data "
                     "address 0x7f0000500002 is not 16-byte aligned");
  makeArgs(16);
  args[3].data += 8; // w13_scale asks for 8 bytes only
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;
  args[3].data += 4;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_ALIGNMENT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'w13_scale' (#3): "
                     "data address 0x7f000040000c is not 8-byte aligned");
}

TEST_F(ValidationTest, TmaNeedsSixteenByteBase) {
  // The tensor itself only asks for 2 bytes; its descriptor needs 16.
  json j = json::parse(kManifest);
  j["tensors"][0]["alignment"] = 2;
  create(j.dump());
  makeArgs(16);
  args[0].data += 8;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_ALIGNMENT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'x' (#0), TMA "
                     "descriptor 'x_desc': base address 0x7f0000000008 is not "
                     "16-byte aligned, as TMA requires");
}

TEST_F(ValidationTest, TmaStrideThatDependsOnT) {
  // x^T as [256, T]: its row stride is 2*T bytes, known only at call time.
  json j = json::parse(kManifest);
  j["tensors"][0]["shape"] = json::array({256, "T"});
  j["tma"][0]["box"] = json::array({64, 64});
  create(j.dump());
  makeArgs(12);
  args[0] = tensor(kBase, MOE_RT_DTYPE_BF16, {256, 12});
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_ALIGNMENT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'x' (#0), TMA "
                     "descriptor 'x_desc': the byte stride of dim 1 "
                     "(innermost first) is 24, not a multiple of 16 as TMA "
                     "requires");
  makeArgs(16);
  args[0] = tensor(kBase, MOE_RT_DTYPE_BF16, {256, 16});
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;
}

TEST_F(ValidationTest, WrongDevice) {
  makeArgs(16);
  args[2].device = 1;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_DEVICE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'w13' (#2): expected "
                     "a tensor on device 0, got one in device 1");
  args[2].device = MOE_RT_DEVICE_HOST;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_DEVICE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'w13' (#2): expected "
                     "a tensor on device 0, got one in host memory");
}

TEST_F(ValidationTest, NullData) {
  makeArgs(16);
  args[1].data = 0;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_NULL);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': argument 'topk_ids' (#1): null "
                     "data address for a tensor of 32 elements");
}

TEST_F(ValidationTest, TokenCount) {
  makeArgs(8193);
  EXPECT_EQ(validate(), MOE_RT_ERROR_TOKEN_COUNT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': T = 8193 (from argument 'x' "
                     "(#0) dim 0) exceeds the kernel's max_tokens = 8192");
  makeArgs(16);
  config.numTokens = -5;
  EXPECT_EQ(validate(), MOE_RT_ERROR_TOKEN_COUNT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': numTokens is -5; expected T >= "
                     "0, or MOE_RT_INFER_TOKENS (-1)");
}

TEST_F(ValidationTest, TokenCountMustFitI32) {
  json j = json::parse(kManifest);
  j.erase("max_tokens");
  create(j.dump());
  makeArgs(int64_t(1) << 31);
  EXPECT_EQ(validate(), MOE_RT_ERROR_TOKEN_COUNT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': T = 2147483648 does not fit "
                     "the kernel's i32 token_count parameter");
}

TEST_F(ValidationTest, UnboundTokens) {
  // T is only a parameter: the caller must say it.
  const char *text = R"JSON({
    "version": 1, "kernel": "k", "arch": "sm_90a", "cubin": "k.cubin",
    "compiler": "c", "content_hash": "h",
    "launch": {"grid": [1], "block": [32], "dynamic_smem_bytes": 0},
    "tensors": [{"name": "buf", "dtype": "f32", "shape": [1024]}],
    "params": [{"kind": "tensor", "tensor": "buf"},
               {"kind": "token_count", "type": "i64"}]
  })JSON";
  create(text);
  args = {tensor(kBase, MOE_RT_DTYPE_F32, {1024})};
  moeRtLaunchConfigInit(&config);
  EXPECT_EQ(validate(), MOE_RT_ERROR_TOKEN_COUNT);
  EXPECT_EQ(message, "kernel 'k': T is not bound: no tensor argument has a T "
                     "dim, so set moeRtLaunchConfig.numTokens");
  config.numTokens = 77;
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;
  EXPECT_EQ(tokens, 77);
}

TEST_F(ValidationTest, Workspace) {
  makeArgs(16);
  config.workspace = 0;
  EXPECT_EQ(validate(), MOE_RT_ERROR_WORKSPACE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': the kernel needs a workspace "
                     "of 4096 bytes; moeRtLaunchConfig.workspace is null");
  makeArgs(16);
  config.workspaceBytes = 1024;
  EXPECT_EQ(validate(), MOE_RT_ERROR_WORKSPACE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': the kernel needs a workspace "
                     "of 4096 bytes, got 1024");
  makeArgs(16);
  config.workspace += 4;
  EXPECT_EQ(validate(), MOE_RT_ERROR_WORKSPACE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': workspace address "
                     "0x7f0000600004 is not 16-byte aligned");
}

// A descriptor over the workspace is planned from the workspace's address
// (validated first: present, large enough, aligned) and the view's static
// shape; its errors name the descriptor and the offset.
TEST_F(ValidationTest, WorkspaceDescriptor) {
  json j = json::parse(kManifest);
  j["workspace_zero_bytes"] = 64;
  j["tma"].push_back(json::parse(R"({
    "name": "h_desc",
    "workspace": {"offset": 1024, "dtype": "bf16", "shape": [2, 8, 64]},
    "box": [1, 8, 64], "swizzle": "128B"})"));
  j["params"].push_back(json::parse(R"({"kind": "tma", "tma": "h_desc"})"));
  create(j.dump());
  makeArgs(16);
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;
  // The workspace's own checks come first.
  config.workspaceBytes = 2048;
  EXPECT_EQ(validate(), MOE_RT_ERROR_WORKSPACE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': the kernel needs a workspace "
                     "of 4096 bytes, got 2048");
  makeArgs(16);
  config.workspace += 8;
  EXPECT_EQ(validate(), MOE_RT_ERROR_WORKSPACE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': workspace address "
                     "0x7f0000600008 is not 16-byte aligned");
  // T = 0 launches nothing; the static view still plans.
  makeArgs(0);
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;

  // Interleaved 32B: the base must be 32-byte aligned, which a 16-byte
  // aligned workspace need not be.
  j["tma"][2]["interleave"] = "32B";
  j["tma"][2]["swizzle"] = "none";
  create(j.dump());
  makeArgs(16);
  config.workspace += 16;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_ALIGNMENT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': TMA descriptor 'h_desc' over "
                     "the workspace (offset 1024): base address "
                     "0x7f0000600410 is not 32-byte aligned, as TMA requires");
  config.workspace += 16;
  EXPECT_EQ(validate(), MOE_RT_SUCCESS) << message;

  moeRtKernelInfo info;
  ASSERT_EQ(moeRtKernelGetInfo(kernel, &info), MOE_RT_SUCCESS);
  EXPECT_EQ(info.workspaceBytes, 4096u);
  EXPECT_EQ(info.workspaceZeroBytes, 64u);
}

TEST_F(ValidationTest, Scalars) {
  makeArgs(16);
  config.numScalars = 0;
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_COUNT);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': expected 1 call-time scalars "
                     "(timeout_cycles), got 0");
  config.numScalars = 1;
  config.scalars = nullptr;
  EXPECT_EQ(validate(), MOE_RT_ERROR_INVALID_VALUE);

  json j = json::parse(kManifest);
  j["params"][8]["kind"] = "i32";
  create(j.dump());
  makeArgs(16);
  scalars[0] = int64_t(1) << 33;
  EXPECT_EQ(validate(), MOE_RT_ERROR_SCALAR);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': scalar 'timeout_cycles' (#0) "
                     "is i32, got 8589934592");
}

TEST_F(ValidationTest, UnknownFlags) {
  makeArgs(16);
  config.flags = 0x80;
  EXPECT_EQ(validate(), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(message, "kernel 'moe_fused_bf16': unknown launch flags 0x80");
}

TEST_F(ValidationTest, NullArguments) {
  EXPECT_EQ(moeRtValidateArgs(kernel, nullptr, 5, nullptr, nullptr),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(moeRtValidateArgs(nullptr, nullptr, 0, nullptr, nullptr),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(), "the kernel handle is null");
}

TEST_F(ValidationTest, LaunchOfUnloadedKernelLaunchesNothing) {
  makeArgs(16);
  EXPECT_EQ(moeRtLaunch(kernel, args.data(), 5, &config, nullptr),
            MOE_RT_ERROR_NOT_LOADED);
  EXPECT_EQ(std::string(moeRtGetLastError()),
            "kernel 'moe_fused_bf16' was created from a manifest alone; load "
            "the artifact to launch it");
}

TEST_F(ValidationTest, ErrorIsClearedBySuccess) {
  makeArgs(16);
  args[0].dtype = MOE_RT_DTYPE_F32;
  EXPECT_NE(validate(), MOE_RT_SUCCESS);
  EXPECT_STRNE(moeRtGetLastError(), "");
  args[0].dtype = MOE_RT_DTYPE_BF16;
  EXPECT_EQ(validate(), MOE_RT_SUCCESS);
  EXPECT_STREQ(moeRtGetLastError(), "");
}

//===----------------------------------------------------------------------===//
// Queries
//===----------------------------------------------------------------------===//

TEST_F(ValidationTest, KernelInfo) {
  moeRtKernelInfo info;
  ASSERT_EQ(moeRtKernelGetInfo(kernel, &info), MOE_RT_SUCCESS);
  EXPECT_STREQ(info.name, "moe_fused_bf16");
  EXPECT_STREQ(info.arch, "sm_90a");
  EXPECT_STREQ(info.compiler, "test");
  EXPECT_STREQ(info.contentHash, "h");
  EXPECT_EQ(info.device, 0);
  EXPECT_EQ(info.loaded, 0);
  EXPECT_EQ(info.numTensors, 5);
  EXPECT_EQ(info.numParams, 9);
  EXPECT_EQ(info.numScalars, 1);
  EXPECT_EQ(info.persistentGrid, 1);
  EXPECT_EQ(info.grid[0], 0u); // unknown until loaded
  EXPECT_EQ(info.block[0], 384u);
  EXPECT_EQ(info.block[1], 1u);
  EXPECT_EQ(info.cluster[0], 2u);
  EXPECT_EQ(info.dynamicSmemBytes, 132096u);
  EXPECT_EQ(info.workspaceBytes, 4096u);
  EXPECT_EQ(info.workspaceZeroBytes, 0u);
  EXPECT_EQ(info.maxTokens, 8192);

  moeRtTensorInfo t;
  ASSERT_EQ(moeRtKernelGetTensorInfo(kernel, 4, &t), MOE_RT_SUCCESS);
  EXPECT_STREQ(t.name, "out");
  EXPECT_EQ(t.dtype, MOE_RT_DTYPE_BF16);
  EXPECT_EQ(t.rank, 2);
  EXPECT_EQ(t.shape[0], MOE_RT_DIM_T);
  EXPECT_EQ(t.shape[1], 256);
  EXPECT_EQ(t.alignment, 16u);
  EXPECT_EQ(t.role, MOE_RT_ROLE_OUTPUT);
  EXPECT_EQ(moeRtKernelGetTensorInfo(kernel, 5, &t),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(), "tensor index 5 is out of range: kernel "
                                    "'moe_fused_bf16' has 5 tensors");
}

TEST(RuntimeApiTest, Names) {
  EXPECT_STREQ(moeRtStatusName(MOE_RT_ERROR_ARG_STRIDE),
               "MOE_RT_ERROR_ARG_STRIDE");
  EXPECT_STREQ(moeRtStatusName(12345), "unknown");
  EXPECT_STREQ(moeRtDTypeName(MOE_RT_DTYPE_F4E2M1FN), "f4E2M1FN");
  EXPECT_EQ(moeRtDTypeFromName("f8E4M3FN"), MOE_RT_DTYPE_F8E4M3FN);
  EXPECT_EQ(moeRtDTypeFromName(nullptr), MOE_RT_DTYPE_INVALID);
  EXPECT_EQ(moeRtDTypeBits(MOE_RT_DTYPE_BF16), 16);
  EXPECT_EQ(moeRtGetAbiVersion(), MOE_RT_ABI_VERSION);
}

TEST(RuntimeApiTest, BadManifestIsRejectedBeforeTheDriver) {
  moeRtKernel k = reinterpret_cast<moeRtKernel>(0x1);
  const char bytes[] = "\x7f"
                       "ELF";
  EXPECT_EQ(moeRtLoadArtifactFromMemory("{}", 2, bytes, 4, 0, &k),
            MOE_RT_ERROR_INVALID_MANIFEST);
  EXPECT_EQ(k, nullptr);
  EXPECT_STREQ(moeRtGetLastError(),
               "manifest: version: missing required field");
  EXPECT_EQ(moeRtKernelCreateUnloaded(kManifest, 10, -1, &k),
            MOE_RT_ERROR_INVALID_VALUE);
}

TEST(RuntimeApiTest, MissingArtifactIsAnIoError) {
  moeRtKernel k;
  EXPECT_EQ(moeRtLoadArtifact("/nonexistent/artifact", 0, &k), MOE_RT_ERROR_IO);
  EXPECT_STREQ(moeRtGetLastError(),
               "cannot open '/nonexistent/artifact/manifest.json': No such "
               "file or directory");
}

TEST(RuntimeApiTest, MissingDriverIsReported) {
  // The driver is loaded once per process; this is the only test that
  // loads it, and it points it at a library that does not exist.
  setenv("MOE_RT_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  moeRtKernel k;
  const char bytes[] = "\x7f"
                       "ELF";
  EXPECT_EQ(moeRtLoadArtifactFromMemory(kManifest, std::strlen(kManifest),
                                        bytes, 4, 0, &k),
            MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_EQ(std::string(moeRtGetLastError())
                .rfind("cannot load the CUDA driver "
                       "/nonexistent/libcuda.so.1: ",
                       0),
            0u)
      << moeRtGetLastError();
}

//===----------------------------------------------------------------------===//
// TMA descriptor plans and grids (C++ internals)
//===----------------------------------------------------------------------===//

class PlanTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(parseManifest(kManifest, m, error)) << error;
  }
  /// The manifest with weight tensor 2 f4E2M1FN, copied by tensor map 1 in
  /// boxes of `box` ({innermost, rows}); the plan of that map for a
  /// [4, 512, 256] f4E2M1FN argument at kBase, asserted to succeed.
  void planFp4(json &j, json box, TensorMapPlan &p) {
    j["tensors"][2]["dtype"] = "f4E2M1FN";
    j["tma"][1]["box"] = std::move(box);
    std::string error;
    ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
    moeRtTensorArgInit(&fp4Arg, kBase, MOE_RT_DTYPE_F4E2M1FN, 3, fp4Shape, 0);
    ASSERT_EQ(planTensorMap(m, m.tensorMaps[1], fp4Arg, p, error),
              MOE_RT_SUCCESS)
        << error;
  }
  Manifest m;
  moeRtTensorArg fp4Arg;
  int64_t fp4Shape[3] = {4, 512, 256};
};

TEST_F(PlanTest, TokenTensor) {
  moeRtTensorArg a;
  int64_t shape[] = {200, 256};
  moeRtTensorArgInit(&a, kBase, MOE_RT_DTYPE_BF16, 2, shape, 0);
  TensorMapPlan p;
  std::string error;
  ASSERT_EQ(planTensorMap(m, m.tensorMaps[0], a, p, error), MOE_RT_SUCCESS)
      << error;
  // research/wgmma-e2e.md §3.1: innermost first, byte strides from dim 1.
  EXPECT_EQ(p.dataType, TmaDataType::BFloat16);
  EXPECT_EQ(p.rank, 2u);
  EXPECT_EQ(p.globalAddress, kBase);
  EXPECT_EQ(p.globalDim[0], 256u);
  EXPECT_EQ(p.globalDim[1], 200u);
  EXPECT_EQ(p.globalStrides[0], 512u);
  EXPECT_EQ(p.boxDim[0], 64u);
  EXPECT_EQ(p.boxDim[1], 128u);
  EXPECT_EQ(p.elementStrides[0], 1u);
  EXPECT_EQ(p.elementStrides[1], 1u);
  EXPECT_EQ(p.swizzle, 3u);     // CU_TENSOR_MAP_SWIZZLE_128B
  EXPECT_EQ(p.l2Promotion, 3u); // CU_TENSOR_MAP_L2_PROMOTION_L2_256B
  EXPECT_EQ(p.interleave, 0u);
  EXPECT_EQ(p.oobFill, 0u);
}

TEST_F(PlanTest, MergedLeadingDims) {
  moeRtTensorArg a;
  int64_t shape[] = {4, 512, 256};
  moeRtTensorArgInit(&a, kBase, MOE_RT_DTYPE_BF16, 3, shape, 0);
  TensorMapPlan p;
  std::string error;
  ASSERT_EQ(planTensorMap(m, m.tensorMaps[1], a, p, error), MOE_RT_SUCCESS)
      << error;
  EXPECT_EQ(p.rank, 2u);
  EXPECT_EQ(p.globalDim[0], 256u);
  EXPECT_EQ(p.globalDim[1], 2048u); // 4 experts x 512 rows
  EXPECT_EQ(p.globalStrides[0], 512u);
  EXPECT_EQ(p.oobFill, 1u); // CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA
}

TEST_F(PlanTest, Fp4IsLoadedAsBytes) {
  json j = json::parse(kManifest);
  TensorMapPlan p;
  planFp4(j, json::array({128, 256}), p); // 256 fp4 = 128 bytes
  if (HasFatalFailure())
    return;
  EXPECT_EQ(p.dataType, TmaDataType::UInt8);
  EXPECT_EQ(p.globalDim[0], 128u); // bytes
  EXPECT_EQ(p.globalDim[1], 2048u);
  EXPECT_EQ(p.globalStrides[0], 128u);
  EXPECT_EQ(p.boxDim[0], 128u);
  EXPECT_EQ(p.boxDim[1], 128u);
}

// fp4_padded: TMA's 16U4_ALIGN16B type, dims and box in values, strides in
// bytes; its own alignment rules.
TEST_F(PlanTest, Fp4Padded) {
  json j = json::parse(kManifest);
  j["tma"][1]["fp4_padded"] = true;
  TensorMapPlan p;
  planFp4(j, json::array({128, 128}), p);
  if (HasFatalFailure())
    return;
  EXPECT_TRUE(m.tensorMaps[1].fp4Padded);
  EXPECT_EQ(p.dataType, TmaDataType::U4x16Align16B);
  EXPECT_EQ(static_cast<uint32_t>(p.dataType), 14u); // CUDA's enum value
  EXPECT_EQ(p.globalDim[0], 256u); // values
  EXPECT_EQ(p.globalDim[1], 2048u);
  EXPECT_EQ(p.globalStrides[0], 128u); // bytes
  EXPECT_EQ(p.boxDim[0], 128u);
  EXPECT_EQ(p.boxDim[1], 128u);

  // 32-byte alignment of the address, 128-value rows.
  std::string error;
  moeRtTensorArg &a = fp4Arg;
  moeRtTensorArgInit(&a, kBase + 16, MOE_RT_DTYPE_F4E2M1FN, 3, fp4Shape, 0);
  EXPECT_EQ(planTensorMap(m, m.tensorMaps[1], a, p, error),
            MOE_RT_ERROR_ARG_ALIGNMENT);
  EXPECT_NE(error.find("is not 32-byte aligned"), std::string::npos) << error;
  int64_t narrow[] = {4, 512, 192};
  moeRtTensorArgInit(&a, kBase, MOE_RT_DTYPE_F4E2M1FN, 3, narrow, 0);
  EXPECT_EQ(planTensorMap(m, m.tensorMaps[1], a, p, error),
            MOE_RT_ERROR_TENSOR_MAP);
  EXPECT_NE(error.find("needs a multiple of 128"), std::string::npos) << error;

  // Parse-time rules: f4E2M1FN only, a 128-value box, no 64B swizzle.
  j["tma"][1]["box"] = json::array({128, 64});
  EXPECT_FALSE(parseManifest(j.dump(), m, error));
  EXPECT_NE(error.find("must be 128 values"), std::string::npos) << error;
  j["tma"][1]["box"] = json::array({128, 128});
  j["tma"][1]["swizzle"] = "64B";
  EXPECT_FALSE(parseManifest(j.dump(), m, error));
  EXPECT_NE(error.find("128B swizzle"), std::string::npos) << error;
  j["tma"][1]["swizzle"] = "128B";
  j["tensors"][2]["dtype"] = "bf16";
  EXPECT_FALSE(parseManifest(j.dump(), m, error));
  EXPECT_NE(error.find("takes an f4E2M1FN tensor"), std::string::npos) << error;
  j["tensors"][2]["dtype"] = "f4E2M1FN";
  j["tma"][1]["fp4_padded"] = 1;
  EXPECT_FALSE(parseManifest(j.dump(), m, error));
  EXPECT_NE(error.find("expected true or false"), std::string::npos) << error;
}

// A view of the workspace: base = workspace + offset, dims and strides from
// the static shape (innermost first), leading dims merged like a tensor's.
TEST_F(PlanTest, WorkspaceView) {
  json j = json::parse(kManifest);
  j["tma"].push_back(json::parse(R"({
    "name": "h_desc",
    "workspace": {"offset": 1024, "dtype": "bf16", "shape": [2, 8, 64]},
    "rank": 2, "box": [8, 64], "swizzle": "128B", "l2_promotion": "128B"})"));
  std::string error;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  const TensorMapSpec &h = m.tensorMaps[2];
  TensorMapPlan p;
  const uint64_t ws = kBase + 0x600000;
  ASSERT_EQ(planWorkspaceTensorMap(m, h, ws, p, error), MOE_RT_SUCCESS)
      << error;
  EXPECT_EQ(p.dataType, TmaDataType::BFloat16);
  EXPECT_EQ(p.rank, 2u);
  EXPECT_EQ(p.globalAddress, ws + 1024);
  EXPECT_EQ(p.globalDim[0], 64u);
  EXPECT_EQ(p.globalDim[1], 16u); // 2 x 8 rows
  EXPECT_EQ(p.globalStrides[0], 128u);
  EXPECT_EQ(p.boxDim[0], 64u);
  EXPECT_EQ(p.boxDim[1], 8u);
  EXPECT_EQ(p.swizzle, 3u);
  EXPECT_EQ(p.l2Promotion, 2u); // CU_TENSOR_MAP_L2_PROMOTION_L2_128B

  // The dispatching overload takes the workspace for it, the argument for
  // a tensor descriptor.
  TensorMapPlan q;
  ASSERT_EQ(planTensorMap(m, h, nullptr, ws, q, error), MOE_RT_SUCCESS)
      << error;
  EXPECT_EQ(q.globalAddress, ws + 1024);
  moeRtTensorArg a;
  int64_t shape[] = {200, 256};
  moeRtTensorArgInit(&a, kBase, MOE_RT_DTYPE_BF16, 2, shape, 0);
  moeRtTensorArg args[1] = {a};
  ASSERT_EQ(planTensorMap(m, m.tensorMaps[0], args, ws, q, error),
            MOE_RT_SUCCESS)
      << error;
  EXPECT_EQ(q.globalAddress, kBase);
  // Each single-source planner refuses the other kind.
  EXPECT_EQ(planTensorMap(m, h, a, q, error), MOE_RT_ERROR_TENSOR_MAP);
  EXPECT_EQ(error, "TMA descriptor 'h_desc' is over the workspace, not over "
                   "a tensor argument");
  EXPECT_EQ(planWorkspaceTensorMap(m, m.tensorMaps[0], ws, q, error),
            MOE_RT_ERROR_TENSOR_MAP);
}

TEST_F(PlanTest, Fp8IsLoadedAsBytes) {
  EXPECT_EQ(tmaDataType(MOE_RT_DTYPE_F8E4M3FN), TmaDataType::UInt8);
  EXPECT_EQ(tmaDataType(MOE_RT_DTYPE_F8E8M0FNU), TmaDataType::UInt8);
  EXPECT_EQ(tmaDataType(MOE_RT_DTYPE_F32), TmaDataType::Float32);
  EXPECT_EQ(tmaDataType(MOE_RT_DTYPE_I64), TmaDataType::Int64);
}

TEST_F(PlanTest, PersistentGrid) {
  uint32_t grid[3];
  std::string error;
  ASSERT_TRUE(computeGrid(m, 132, 0, 2, std::nullopt, grid, error));
  EXPECT_EQ(grid[0], 132u);
  EXPECT_EQ(grid[1], 1u);
  EXPECT_EQ(grid[2], 1u);
  // maxSms caps the grid, in whole 2-CTA clusters.
  ASSERT_TRUE(computeGrid(m, 132, 7, 2, std::nullopt, grid, error));
  EXPECT_EQ(grid[0], 6u);
  ASSERT_TRUE(computeGrid(m, 132, 200, 2, std::nullopt, grid, error));
  EXPECT_EQ(grid[0], 132u);
  // An odd SM count leaves one SM idle.
  ASSERT_TRUE(computeGrid(m, 131, 0, 2, std::nullopt, grid, error));
  EXPECT_EQ(grid[0], 130u);
  EXPECT_FALSE(computeGrid(m, 132, 1, 2, std::nullopt, grid, error));
  EXPECT_EQ(error, "a persistent grid of 132 SMs capped at maxSms = 1 holds "
                   "no whole cluster of 2 CTAs");
}

// The cluster is the launched kernel's, not the manifest's: a variant may
// run unclustered under a clustered primary, or the other way round.
TEST_F(PlanTest, PersistentGridTakesTheKernelsCluster) {
  uint32_t grid[3];
  std::string error;
  ASSERT_TRUE(computeGrid(m, 131, 0, 1, std::nullopt, grid, error));
  EXPECT_EQ(grid[0], 131u);
  ASSERT_TRUE(computeGrid(m, 131, 0, 4, std::nullopt, grid, error));
  EXPECT_EQ(grid[0], 128u);
  ASSERT_TRUE(computeGrid(m, 132, 63, 4, std::nullopt, grid, error));
  EXPECT_EQ(grid[0], 60u);
  // 0 is taken as no cluster.
  ASSERT_TRUE(computeGrid(m, 131, 0, 0, std::nullopt, grid, error));
  EXPECT_EQ(grid[0], 131u);
}

// No more CTAs than the co-resident clusters hold: on a 132-SM H200 where
// only 60 pairs of SMs take a 2-CTA cluster of a one-CTA-per-SM kernel, the
// grid is 120 CTAs, not 132 (the last 6 clusters would wait for a second
// wave).
TEST_F(PlanTest, PersistentGridIsLimitedToCoresidentClusters) {
  uint32_t grid[3];
  std::string error;
  ASSERT_TRUE(computeGrid(m, 132, 0, 2, 120u, grid, error));
  EXPECT_EQ(grid[0], 120u);
  // The smallest of the three limits wins.
  ASSERT_TRUE(computeGrid(m, 132, 100, 2, 120u, grid, error));
  EXPECT_EQ(grid[0], 100u);
  ASSERT_TRUE(computeGrid(m, 131, 0, 2, 200u, grid, error));
  EXPECT_EQ(grid[0], 130u);
  // A limit that is not whole clusters is rounded down too.
  ASSERT_TRUE(computeGrid(m, 132, 0, 2, 121u, grid, error));
  EXPECT_EQ(grid[0], 120u);
  ASSERT_TRUE(computeGrid(m, 132, 0, 1, 7u, grid, error));
  EXPECT_EQ(grid[0], 7u);
  // No co-resident cluster at all: nothing can run.
  EXPECT_FALSE(computeGrid(m, 132, 0, 2, 0u, grid, error));
  EXPECT_EQ(error, "a persistent grid of 132 SMs holds no whole cluster of 2 "
                   "CTAs: the device runs at most 0 CTAs of such clusters at "
                   "once");
}

TEST_F(PlanTest, FixedGrid) {
  json j = json::parse(kManifest);
  j["launch"]["grid"] = json::array({8, 3});
  std::string error;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  uint32_t grid[3];
  // Launched as it is: neither the SMs nor the occupancy resize it.
  ASSERT_TRUE(computeGrid(m, 132, 2, 2, 4u, grid, error));
  EXPECT_EQ(grid[0], 8u);
  EXPECT_EQ(grid[1], 3u);
  EXPECT_EQ(grid[2], 1u);
}

} // namespace

// Bad-input checklist item 6 (users.md §3.1): a kernel handle reused with a
// changed configuration is rejected even when the new buffers are larger
// than the old ones: more experts (w13 [8, 512, 256] for a kernel compiled
// for E = 4), a larger hidden size, a larger top-k. The configuration is the
// manifest's, never inferred from the caller's buffers.
TEST_F(ValidationTest, Item06ReusedHandleWithChangedConfigurationIsRejected) {
  makeArgs(16);
  args[2] = tensor(kBase + 0x200000, MOE_RT_DTYPE_BF16, {8, 512, 256});
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_SHAPE);
  EXPECT_NE(message.find("argument 'w13' (#2)"), std::string::npos) << message;

  makeArgs(16);
  args[0] = tensor(kBase, MOE_RT_DTYPE_BF16, {16, 512});
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_SHAPE);
  EXPECT_NE(message.find("argument 'x' (#0)"), std::string::npos) << message;

  makeArgs(16);
  args[1] = tensor(kBase + 0x100000, MOE_RT_DTYPE_I32, {16, 4});
  EXPECT_EQ(validate(), MOE_RT_ERROR_ARG_SHAPE);
  EXPECT_NE(message.find("argument 'topk_ids' (#1)"), std::string::npos)
      << message;
}
