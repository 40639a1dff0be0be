//===- ManifestTest.cpp - Parsing and checking manifest.json --------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A valid manifest parses into the expected fields; each missing, mistyped
// or out-of-range field gives an error that names it. No GPU needed.
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/Manifest.h"

#include "gtest/gtest.h"

#include <nlohmann/json.hpp>

#include <string>

using namespace moe::runtime;
using json = nlohmann::json;

namespace {

/// The example of docs/Manifest.md: a fused bf16 MoE layer (T tokens, H =
/// 256, I = 256, E = 4, K = 2) on a persistent grid of 2-CTA clusters.
const char *kValidManifest = R"JSON({
  "version": 1,
  "kernel": "moe_fused_bf16",
  "arch": "sm_90a",
  "cubin": "moe_fused_bf16.cubin",
  "compiler": "moe-translate 0.1 (LLVM 22.1.8)",
  "content_hash": "sha256:9f2c",
  "launch": {
    "grid": "persistent",
    "block": [384, 1, 1],
    "cluster": [2, 1, 1],
    "dynamic_smem_bytes": 132096
  },
  "workspace_bytes": 4096,
  "max_tokens": 8192,
  "tensors": [
    {"name": "x", "dtype": "bf16", "shape": ["T", 256], "layout": "row-major",
     "alignment": 16, "role": "input"},
    {"name": "topk_ids", "dtype": "i32", "shape": ["T", 2]},
    {"name": "topk_weights", "dtype": "f32", "shape": ["T", 2]},
    {"name": "w13", "dtype": "bf16", "shape": [4, 512, 256]},
    {"name": "w2", "dtype": "bf16", "shape": [4, 256, 256]},
    {"name": "out", "dtype": "bf16", "shape": ["T", 256], "role": "output"}
  ],
  "tma": [
    {"name": "x_desc", "tensor": "x", "box": [128, 64], "swizzle": "128B",
     "interleave": "none", "l2_promotion": "256B", "oob_fill": "none"},
    {"name": "w13_desc", "tensor": "w13", "rank": 2, "box": [128, 64],
     "swizzle": "128B", "l2_promotion": "256B"},
    {"name": "w2_desc", "tensor": "w2", "rank": 2, "box": [128, 64],
     "swizzle": "128B", "l2_promotion": "256B"}
  ],
  "params": [
    {"kind": "tma", "tma": "x_desc"},
    {"kind": "tma", "tma": "w13_desc"},
    {"kind": "tma", "tma": "w2_desc"},
    {"kind": "tensor", "tensor": "topk_ids"},
    {"kind": "tensor", "tensor": "topk_weights"},
    {"kind": "tensor", "tensor": "out"},
    {"kind": "workspace"},
    {"kind": "token_count", "type": "i32"},
    {"kind": "i32", "name": "num_experts", "value": 4},
    {"kind": "i64", "name": "timeout_cycles"}
  ],
  "layer": {"T": -1, "H": 256, "I": 256, "E": 4, "K": 2}
})JSON";

std::string parseError(const std::string &text) {
  Manifest m;
  std::string error;
  if (parseManifest(text, m, error))
    return "(parsed)";
  return error;
}

TEST(ManifestTest, ParsesValidManifest) {
  Manifest m;
  std::string error;
  ASSERT_TRUE(parseManifest(kValidManifest, m, error)) << error;
  EXPECT_EQ(m.version, 1);
  EXPECT_EQ(m.kernel, "moe_fused_bf16");
  EXPECT_EQ(m.arch, "sm_90a");
  EXPECT_EQ(m.archMajor, 9u);
  EXPECT_EQ(m.archMinor, 0u);
  EXPECT_TRUE(m.archSpecific);
  EXPECT_EQ(m.cubin, "moe_fused_bf16.cubin");
  EXPECT_EQ(m.compiler, "moe-translate 0.1 (LLVM 22.1.8)");
  EXPECT_EQ(m.contentHash, "sha256:9f2c");
  EXPECT_TRUE(m.persistentGrid);
  EXPECT_EQ(m.block, (std::array<uint32_t, 3>{384, 1, 1}));
  EXPECT_EQ(m.cluster, (std::array<uint32_t, 3>{2, 1, 1}));
  EXPECT_EQ(m.dynamicSmemBytes, 132096u);
  EXPECT_EQ(m.workspaceBytes, 4096u);
  EXPECT_EQ(m.maxTokens, 8192);
  EXPECT_TRUE(m.usesTokens);

  ASSERT_EQ(m.tensors.size(), 6u);
  EXPECT_EQ(m.tensors[0].name, "x");
  EXPECT_EQ(m.tensors[0].dtype, MOE_RT_DTYPE_BF16);
  EXPECT_EQ(m.tensors[0].shape, (std::vector<int64_t>{kDimT, 256}));
  EXPECT_EQ(m.tensors[0].alignment, 16u);
  EXPECT_EQ(m.tensors[1].dtype, MOE_RT_DTYPE_I32);
  EXPECT_EQ(m.tensors[3].shape, (std::vector<int64_t>{4, 512, 256}));
  EXPECT_FALSE(m.tensors[3].hasTokenDim());
  EXPECT_EQ(m.tensors[5].role, MOE_RT_ROLE_OUTPUT);

  ASSERT_EQ(m.tensorMaps.size(), 3u);
  const TensorMapSpec &x = m.tensorMaps[0];
  EXPECT_EQ(x.tensor, 0u);
  EXPECT_EQ(x.rank, 2u);
  EXPECT_EQ(x.box, (std::vector<uint32_t>{128, 64}));
  EXPECT_EQ(x.elementStrides, (std::vector<uint32_t>{1, 1}));
  EXPECT_EQ(x.swizzle, Swizzle::B128);
  EXPECT_EQ(x.interleave, Interleave::None);
  EXPECT_EQ(x.l2Promotion, L2Promotion::B256);
  EXPECT_EQ(x.oobFill, OobFill::None);
  EXPECT_EQ(m.tensorMaps[1].tensor, 3u);
  EXPECT_EQ(m.tensorMaps[1].rank, 2u);

  ASSERT_EQ(m.params.size(), 10u);
  EXPECT_EQ(m.params[0].kind, ParamKind::TensorMap);
  EXPECT_EQ(m.params[0].index, 0u);
  EXPECT_EQ(m.params[2].index, 2u);
  EXPECT_EQ(m.params[3].kind, ParamKind::Tensor);
  EXPECT_EQ(m.params[3].index, 1u);
  EXPECT_EQ(m.params[6].kind, ParamKind::Workspace);
  EXPECT_EQ(m.params[7].kind, ParamKind::TokenCount);
  EXPECT_EQ(m.params[7].type, ScalarType::I32);
  EXPECT_EQ(m.params[8].kind, ParamKind::Scalar);
  EXPECT_TRUE(m.params[8].hasValue);
  EXPECT_EQ(m.params[8].value, 4);
  EXPECT_FALSE(m.params[9].hasValue);
  EXPECT_EQ(m.params[9].index, 0u);
  EXPECT_EQ(m.numCallScalars, 1u);
  EXPECT_EQ(m.params[0].sizeInBytes(), 128u);
  EXPECT_EQ(m.params[3].sizeInBytes(), 8u);
  EXPECT_EQ(m.params[7].sizeInBytes(), 4u);
  EXPECT_EQ(m.params[9].sizeInBytes(), 8u);
}

TEST(ManifestTest, DefaultsOfOptionalFields) {
  const char *text = R"JSON({
    "version": 1, "kernel": "k", "arch": "sm_100a", "cubin": "k.cubin",
    "compiler": "c", "content_hash": "h",
    "launch": {"grid": [4], "block": [128], "dynamic_smem_bytes": 0},
    "tensors": [{"name": "a", "dtype": "f32", "shape": [8]}],
    "params": [{"kind": "tensor", "tensor": "a"}]
  })JSON";
  Manifest m;
  std::string error;
  ASSERT_TRUE(parseManifest(text, m, error)) << error;
  EXPECT_EQ(m.archMajor, 10u);
  EXPECT_FALSE(m.persistentGrid);
  EXPECT_EQ(m.grid, (std::array<uint32_t, 3>{4, 1, 1}));
  EXPECT_EQ(m.block, (std::array<uint32_t, 3>{128, 1, 1}));
  EXPECT_EQ(m.cluster, (std::array<uint32_t, 3>{1, 1, 1}));
  EXPECT_EQ(m.workspaceBytes, 0u);
  EXPECT_EQ(m.workspaceZeroBytes, 0u);
  EXPECT_EQ(m.maxTokens, MOE_RT_UNBOUNDED_TOKENS);
  EXPECT_EQ(m.tensors[0].alignment, 16u);
  EXPECT_EQ(m.tensors[0].role, MOE_RT_ROLE_INPUT);
  EXPECT_FALSE(m.usesTokens);
  EXPECT_TRUE(m.tensorMaps.empty());
}

TEST(ManifestTest, InvalidJsonNamesThePosition) {
  EXPECT_EQ(parseError("{\n  \"version\": 1,\n}"),
            "manifest: not valid JSON at line 3, column 1: syntax error "
            "while parsing object key - unexpected '}'; expected string "
            "literal");
  EXPECT_NE(parseError("").find("manifest: not valid JSON at line 1"),
            std::string::npos);
  EXPECT_EQ(parseError("[1, 2]"),
            "manifest: (top level): expected an object, got array [1,2]");
}

//===----------------------------------------------------------------------===//
// One broken field at a time
//===----------------------------------------------------------------------===//

struct BrokenField {
  const char *pointer;  ///< JSON pointer of the field
  const char *value;    ///< its new JSON value, or null to remove it
  const char *expected; ///< the whole error message
};

class ManifestFieldTest : public ::testing::TestWithParam<BrokenField> {};

TEST_P(ManifestFieldTest, NamesTheField) {
  const BrokenField &c = GetParam();
  json j = json::parse(kValidManifest);
  json::json_pointer ptr(c.pointer);
  if (c.value)
    j[ptr] = json::parse(c.value);
  else
    j[ptr.parent_pointer()].erase(ptr.back());
  EXPECT_EQ(parseError(j.dump()), c.expected)
      << "field " << c.pointer << " = " << (c.value ? c.value : "(removed)");
}

const BrokenField kBrokenFields[] = {
    // Missing required fields.
    {"/version", nullptr, "manifest: version: missing required field"},
    {"/kernel", nullptr, "manifest: kernel: missing required field"},
    {"/arch", nullptr, "manifest: arch: missing required field"},
    {"/cubin", nullptr, "manifest: cubin: missing required field"},
    {"/compiler", nullptr, "manifest: compiler: missing required field"},
    {"/content_hash", nullptr,
     "manifest: content_hash: missing required field"},
    {"/launch", nullptr, "manifest: launch: missing required field"},
    {"/launch/grid", nullptr, "manifest: launch.grid: missing required field"},
    {"/launch/block", nullptr,
     "manifest: launch.block: missing required field"},
    {"/launch/dynamic_smem_bytes", nullptr,
     "manifest: launch.dynamic_smem_bytes: missing required field"},
    {"/tensors", nullptr, "manifest: tensors: missing required field"},
    {"/params", nullptr, "manifest: params: missing required field"},
    {"/tensors/0/name", nullptr,
     "manifest: tensors[0].name: missing required field"},
    {"/tensors/2/dtype", nullptr,
     "manifest: tensors[2].dtype: missing required field"},
    {"/tensors/1/shape", nullptr,
     "manifest: tensors[1].shape: missing required field"},
    {"/tma/1/tensor", nullptr,
     "manifest: tma[1]: needs \"tensor\" (a tensor argument) or "
     "\"workspace\" (a view of the workspace)"},
    {"/tma/0/box", nullptr, "manifest: tma[0].box: missing required field"},
    {"/tma/0/name", nullptr, "manifest: tma[0].name: missing required field"},
    {"/params/4/kind", nullptr,
     "manifest: params[4].kind: missing required field"},
    {"/params/0/tma", nullptr,
     "manifest: params[0].tma: missing required field"},
    {"/params/3/tensor", nullptr,
     "manifest: params[3].tensor: missing required field"},
    {"/params/9/name", nullptr,
     "manifest: params[9].name: missing required field"},

    // Wrong types.
    {"/version", "\"1\"",
     "manifest: version: expected an integer, got string \"1\""},
    {"/version", "1.5",
     "manifest: version: expected an integer, got number "
     "1.5"},
    {"/kernel", "5", "manifest: kernel: expected a string, got number 5"},
    {"/arch", "90", "manifest: arch: expected a string, got number 90"},
    {"/launch", "[]", "manifest: launch: expected an object, got array []"},
    {"/launch/grid", "\"all\"",
     "manifest: launch.grid: expected an array of dims or \"persistent\", "
     "got string \"all\""},
    {"/launch/grid", "7",
     "manifest: launch.grid: expected an array of dims "
     "or \"persistent\", got number 7"},
    {"/launch/block", "{\"x\": 1}",
     "manifest: launch.block: expected an array, got object {\"x\":1}"},
    {"/launch/block/0", "\"384\"",
     "manifest: launch.block[0]: expected an integer, got string \"384\""},
    {"/launch/dynamic_smem_bytes", "true",
     "manifest: launch.dynamic_smem_bytes: expected an integer, got boolean "
     "true"},
    {"/tensors", "{}", "manifest: tensors: expected an array, got object {}"},
    {"/tensors/0", "\"x\"",
     "manifest: tensors[0]: expected an object, got string \"x\""},
    {"/tensors/0/shape", "\"T\"",
     "manifest: tensors[0].shape: expected an array, got string \"T\""},
    {"/tensors/0/shape/0", "\"N\"",
     "manifest: tensors[0].shape[0]: expected a positive integer or \"T\", "
     "got string \"N\""},
    {"/tensors/3/alignment", "\"16\"",
     "manifest: tensors[3].alignment: expected an integer, got string "
     "\"16\""},
    {"/tma", "{}", "manifest: tma: expected an array, got object {}"},
    {"/tma/0/box/0", "64.0",
     "manifest: tma[0].box[0]: expected an integer, got number 64.0"},
    {"/tma/0/swizzle", "128",
     "manifest: tma[0].swizzle: expected a string, got number 128"},
    {"/params/0", "[]",
     "manifest: params[0]: expected an object, got array "
     "[]"},
    {"/params/8/value", "\"4\"",
     "manifest: params[8].value: expected an integer, got string \"4\""},
    {"/workspace_bytes", "\"4K\"",
     "manifest: workspace_bytes: expected an integer, got string \"4K\""},
    {"/max_tokens", "[8192]",
     "manifest: max_tokens: expected an integer, got array [8192]"},

    // Wrong values.
    {"/version", "2",
     "manifest: version: unsupported manifest version 2 "
     "(this runtime reads version 1)"},
    {"/kernel", "\"\"", "manifest: kernel: must not be empty"},
    {"/arch", "\"hopper\"",
     "manifest: arch: expected sm_<version>[a] such as \"sm_90a\" or "
     "\"sm_100a\", got \"hopper\""},
    {"/launch/grid", "[0, 1, 1]",
     "manifest: launch.grid[0]: expected an integer in [1, 2147483647], got "
     "0"},
    {"/launch/grid", "[3, 1, 1]",
     "manifest: launch.grid: grid dim 0 (3) is not a multiple of the cluster "
     "dim (2)"},
    {"/launch/block", "[1, 2, 3, 4]",
     "manifest: launch.block: expected an array of 1 to 3 elements, got 4"},
    {"/launch/block", "[1024, 2]",
     "manifest: launch.block: a block has at most 1024 threads, got 2048"},
    {"/launch/cluster", "[2, 2, 1]",
     "manifest: launch.cluster: a persistent grid takes clusters along x "
     "only"},
    {"/launch/cluster", "[32, 1, 1]",
     "manifest: launch.cluster: a cluster has at most 16 CTAs, got 32"},
    {"/launch/dynamic_smem_bytes", "-1",
     "manifest: launch.dynamic_smem_bytes: expected an integer in [0, "
     "2147483647], got -1"},
    {"/max_tokens", "-1",
     "manifest: max_tokens: expected an integer in [0, "
     "9223372036854775807], got -1"},
    {"/tensors/1/name", "\"x\"",
     "manifest: tensors[1].name: duplicate tensor name \"x\""},
    {"/tensors/0/dtype", "\"bfloat16\"",
     "manifest: tensors[0].dtype: unknown dtype \"bfloat16\" (expected bf16, "
     "f16, f32, f8E4M3FN, f4E2M1FN, f8E8M0FNU, i8, ui8, i32 or i64)"},
    {"/tensors/0/shape/1", "-3",
     "manifest: tensors[0].shape[1]: expected a positive integer or \"T\", "
     "got number -3"},
    {"/tensors/0/shape/1", "0",
     "manifest: tensors[0].shape[1]: expected a positive integer or \"T\", "
     "got number 0"},
    {"/tensors/0/shape", "[1, 2, 3, 4, 5, 6, 7, 8, 9]",
     "manifest: tensors[0].shape: expected an array of 0 to 8 elements, got "
     "9"},
    {"/tensors/3/shape", "[4, 512, 100]",
     "manifest: tma[1]: tensor \"w13\" [4, 512, 100] has a stride of 200 "
     "bytes in dim 1; TMA needs strides that are multiples of 16 bytes"},
    {"/tensors/0/layout", "\"column-major\"",
     "manifest: tensors[0].layout: expected \"row-major\", got "
     "\"column-major\""},
    {"/tensors/0/alignment", "24",
     "manifest: tensors[0].alignment: expected a power of two, got 24"},
    {"/tensors/0/role", "\"scratch\"",
     "manifest: tensors[0].role: expected one of \"input\", \"output\", "
     "\"inout\", got \"scratch\""},
    {"/tma/0/tensor", "\"y\"",
     "manifest: tma[0].tensor: no tensor named "
     "\"y\""},
    {"/tma/1/name", "\"x_desc\"",
     "manifest: tma[1].name: duplicate descriptor name \"x_desc\""},
    {"/tma/0/box", "[128]",
     "manifest: tma[0].box: expected an array of 2 elements, got 1"},
    {"/tma/0/box/0", "512",
     "manifest: tma[0].box[0]: expected an integer in [1, 256], got 512"},
    {"/tma/0/box/1", "4",
     "manifest: tma[0].box: the innermost box dim spans 8 bytes; TMA needs a "
     "multiple of 16"},
    {"/tma/0/box/1", "128",
     "manifest: tma[0].box: the innermost box dim spans 256 bytes, more than "
     "the 128-byte swizzle span"},
    {"/tma/0/swizzle", "\"256B\"",
     "manifest: tma[0].swizzle: expected one of \"none\", \"32B\", \"64B\", "
     "\"128B\", got \"256B\""},
    {"/tma/0/interleave", "\"16B\"",
     "manifest: tma[0].interleave: an interleaved layout needs a descriptor "
     "of rank 3 or more"},
    {"/tma/0/l2_promotion", "\"512B\"",
     "manifest: tma[0].l2_promotion: expected one of \"none\", \"64B\", "
     "\"128B\", \"256B\", got \"512B\""},
    {"/tma/0/oob_fill", "\"zero\"",
     "manifest: tma[0].oob_fill: expected one of \"none\", "
     "\"nan_request_zero_fma\", got \"zero\""},
    {"/tma/0/rank", "3",
     "manifest: tma[0].rank: expected an integer in [1, 2], got 3"},
    {"/tma/0/element_strides", "[1, 9]",
     "manifest: tma[0].element_strides[1]: expected an integer in [1, 8], "
     "got 9"},
    {"/params/0/kind", "\"pointer\"",
     "manifest: params[0].kind: expected one of \"tensor\", \"tma\", "
     "\"i32\", \"i64\", \"token_count\", \"workspace\", got \"pointer\""},
    {"/params/0/tma", "\"nope\"",
     "manifest: params[0].tma: no TMA descriptor named \"nope\""},
    {"/params/3/tensor", "\"ids\"",
     "manifest: params[3].tensor: no tensor named \"ids\""},
    {"/params/7/type", "\"u32\"",
     "manifest: params[7].type: expected one of \"i32\", \"i64\", got "
     "\"u32\""},
    {"/params/8/value", "4294967296",
     "manifest: params[8].value: expected an integer in [-2147483648, "
     "2147483647], got 4294967296"},
    {"/workspace_bytes", "0",
     "manifest: workspace_bytes: must be positive: a parameter is the "
     "workspace"},
    {"/params/6", "{\"kind\": \"tensor\", \"tensor\": \"x\"}",
     "manifest: params: workspace_bytes is 4096 but no parameter or TMA "
     "descriptor uses the workspace"},
    // The zeroed prefix of the workspace.
    {"/workspace_zero_bytes", "\"64\"",
     "manifest: workspace_zero_bytes: expected an integer, got string "
     "\"64\""},
    {"/workspace_zero_bytes", "-4",
     "manifest: workspace_zero_bytes: expected an integer in [0, "
     "4294967292], got -4"},
    {"/workspace_zero_bytes", "6",
     "manifest: workspace_zero_bytes: expected a multiple of 4 (it is "
     "zeroed in 32-bit words), got 6"},
    {"/workspace_zero_bytes", "4100",
     "manifest: workspace_zero_bytes: 4100 bytes is more than "
     "workspace_bytes = 4096"},
    // A descriptor is over a tensor or over the workspace, not both.
    {"/tma/1/workspace", R"({"offset": 0, "dtype": "bf16", "shape": [8, 64]})",
     "manifest: tma[1]: has both \"tensor\" and \"workspace\"; a "
     "descriptor is over one of them"},
    // Variants.
    {"/variants", R"("k2")",
     "manifest: variants: expected an array, got string \"k2\""},
    {"/variants", R"([{"min_tokens": 0}])",
     "manifest: variants[0].kernel: missing required field"},
    {"/variants", R"([{"kernel": "moe_fused_bf16", "min_tokens": 0}])",
     "manifest: variants[0].kernel: must name another kernel than "
     "\"kernel\", got \"moe_fused_bf16\""},
    {"/variants", R"([{"kernel": "k2"}])",
     "manifest: variants[0].min_tokens: missing required field"},
    {"/variants", R"([{"kernel": "k2", "min_tokens": -1}])",
     "manifest: variants[0].min_tokens: expected an integer in [0, "
     "9223372036854775807], got -1"},
    {"/variants", R"([{"kernel": "k2", "min_tokens": 64, "max_tokens": 64}])",
     "manifest: variants[0].max_tokens: expected an integer in [65, "
     "9223372036854775807], got 64"},
    {"/variants",
     R"([{"kernel": "k2", "min_tokens": 0}, {"kernel": "k2", "min_tokens": 9}])",
     "manifest: variants[1].kernel: duplicate variant \"k2\""},
    // A variant's cluster follows the rules of launch.cluster.
    {"/variants", R"([{"kernel": "k2", "min_tokens": 0, "cluster": [32]}])",
     "manifest: variants[0].cluster: a cluster has at most 16 CTAs, got 32"},
    {"/variants",
     R"([{"kernel": "k2", "min_tokens": 0}, {"kernel": "k3", "min_tokens": 9,
         "cluster": [2, 2, 1]}])",
     "manifest: variants[1].cluster: a persistent grid takes clusters along x "
     "only"},
    {"/variants", R"([{"kernel": "k2", "min_tokens": 0, "cluster": [0]}])",
     "manifest: variants[0].cluster[0]: expected an integer in [1, "
     "2147483647], got 0"},
    {"/variants", R"([{"kernel": "k2", "min_tokens": 0, "cluster": 2}])",
     "manifest: variants[0].cluster: expected an array, got number 2"},
    {"/variants",
     R"([{"kernel": "k2", "min_tokens": 0, "cluster": [1, 1, 1, 1]}])",
     "manifest: variants[0].cluster: expected an array of 1 to 3 elements, "
     "got 4"},
};

INSTANTIATE_TEST_SUITE_P(Fields, ManifestFieldTest,
                         ::testing::ValuesIn(kBrokenFields));

//===----------------------------------------------------------------------===//
// The workspace: its zeroed prefix and TMA descriptors over it
//===----------------------------------------------------------------------===//

/// kValidManifest with the first 64 bytes of the workspace zeroed at each
/// launch and a fourth descriptor, tma[3], over a [16, 64] bf16 view at
/// byte 1024 of the 4096-byte workspace (bytes [1024, 3072)).
json withWorkspaceDescriptor() {
  json j = json::parse(kValidManifest);
  j["workspace_zero_bytes"] = 64;
  j["tma"].push_back(json::parse(R"({
    "name": "h_desc",
    "workspace": {"offset": 1024, "dtype": "bf16", "shape": [16, 64]},
    "box": [16, 64], "swizzle": "128B", "l2_promotion": "256B"})"));
  j["params"].push_back(json::parse(R"({"kind": "tma", "tma": "h_desc"})"));
  return j;
}

TEST(ManifestTest, WorkspaceDescriptor) {
  Manifest m;
  std::string error;
  ASSERT_TRUE(parseManifest(withWorkspaceDescriptor().dump(), m, error))
      << error;
  EXPECT_EQ(m.workspaceBytes, 4096u);
  EXPECT_EQ(m.workspaceZeroBytes, 64u);
  ASSERT_EQ(m.tensorMaps.size(), 4u);
  EXPECT_FALSE(m.tensorMaps[0].overWorkspace);
  const TensorMapSpec &h = m.tensorMaps[3];
  EXPECT_EQ(h.name, "h_desc");
  EXPECT_TRUE(h.overWorkspace);
  EXPECT_EQ(h.workspaceOffset, 1024u);
  EXPECT_EQ(h.view.dtype, MOE_RT_DTYPE_BF16);
  EXPECT_EQ(h.view.shape, (std::vector<int64_t>{16, 64}));
  EXPECT_EQ(h.rank, 2u);
  EXPECT_EQ(h.box, (std::vector<uint32_t>{16, 64}));
  EXPECT_EQ(h.swizzle, Swizzle::B128);
  EXPECT_EQ(h.l2Promotion, L2Promotion::B256);
  EXPECT_EQ(&tensorMapSource(m, h), &h.view);
  EXPECT_EQ(&tensorMapSource(m, m.tensorMaps[1]), &m.tensors[3]);
  ASSERT_EQ(m.params.size(), 11u);
  EXPECT_EQ(m.params[10].kind, ParamKind::TensorMap);
  EXPECT_EQ(m.params[10].index, 3u);

  // The view may end exactly at workspace_bytes, and merge leading dims.
  json j = withWorkspaceDescriptor();
  j["tma"][3]["workspace"]["offset"] = 2048;
  j["tma"][3]["workspace"]["shape"] = json::array({2, 8, 64});
  j["tma"][3]["rank"] = 2;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  EXPECT_EQ(m.tensorMaps[3].view.shape, (std::vector<int64_t>{2, 8, 64}));
  EXPECT_EQ(m.tensorMaps[3].rank, 2u);

  // A kernel that reaches its workspace through descriptors only needs no
  // workspace parameter.
  j = withWorkspaceDescriptor();
  j["params"].erase(6);
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  EXPECT_EQ(m.workspaceBytes, 4096u);
}

class WorkspaceDescriptorFieldTest
    : public ::testing::TestWithParam<BrokenField> {};

TEST_P(WorkspaceDescriptorFieldTest, NamesTheField) {
  const BrokenField &c = GetParam();
  json j = withWorkspaceDescriptor();
  json::json_pointer ptr(c.pointer);
  if (c.value)
    j[ptr] = json::parse(c.value);
  else
    j[ptr.parent_pointer()].erase(ptr.back());
  EXPECT_EQ(parseError(j.dump()), c.expected)
      << "field " << c.pointer << " = " << (c.value ? c.value : "(removed)");
}

const BrokenField kBrokenWorkspaceFields[] = {
    {"/tma/3/workspace", nullptr,
     "manifest: tma[3]: needs \"tensor\" (a tensor argument) or "
     "\"workspace\" (a view of the workspace)"},
    {"/tma/3/tensor", "\"x\"",
     "manifest: tma[3]: has both \"tensor\" and \"workspace\"; a "
     "descriptor is over one of them"},
    {"/tma/3/workspace", "\"ws\"",
     "manifest: tma[3].workspace: expected an object, got string \"ws\""},
    {"/tma/3/workspace/offset", nullptr,
     "manifest: tma[3].workspace.offset: missing required field"},
    {"/tma/3/workspace/offset", "8",
     "manifest: tma[3].workspace.offset: expected a multiple of 16 (TMA "
     "needs a 16-byte aligned base), got 8"},
    {"/tma/3/workspace/offset", "-16",
     "manifest: tma[3].workspace.offset: expected an integer in [0, "
     "9223372036854775807], got -16"},
    {"/tma/3/workspace/offset", "\"1024\"",
     "manifest: tma[3].workspace.offset: expected an integer, got string "
     "\"1024\""},
    {"/tma/3/workspace/dtype", nullptr,
     "manifest: tma[3].workspace.dtype: missing required field"},
    {"/tma/3/workspace/dtype", "\"bfloat16\"",
     "manifest: tma[3].workspace.dtype: unknown dtype \"bfloat16\" "
     "(expected bf16, f16, f32, f8E4M3FN, f4E2M1FN, f8E8M0FNU, i8, ui8, i32 "
     "or i64)"},
    {"/tma/3/workspace/shape", nullptr,
     "manifest: tma[3].workspace.shape: missing required field"},
    {"/tma/3/workspace/shape", "[]",
     "manifest: tma[3].workspace.shape: expected an array of 1 to 5 "
     "elements, got 0"},
    {"/tma/3/workspace/shape", "[1, 1, 1, 1, 16, 64]",
     "manifest: tma[3].workspace.shape: expected an array of 1 to 5 "
     "elements, got 6"},
    {"/tma/3/workspace/shape/0", "\"T\"",
     "manifest: tma[3].workspace.shape[0]: expected a positive integer (a "
     "view of the workspace is static), got string \"T\""},
    {"/tma/3/workspace/shape/1", "0",
     "manifest: tma[3].workspace.shape[1]: expected a positive integer (a "
     "view of the workspace is static), got number 0"},
    // Out of the workspace: 16 x 64 bf16 = 2048 bytes from byte 2064.
    {"/tma/3/workspace/offset", "2064",
     "manifest: tma[3].workspace: the view [16, 64] of bf16 at offset 2064 "
     "ends at byte 4112, beyond workspace_bytes = 4096"},
    {"/tma/3/workspace/shape", "[1099511627776, 1099511627776, 64]",
     "manifest: tma[3].workspace: the view [1099511627776, 1099511627776, "
     "64] of bf16 at offset 1024 spans 2^64 bytes or more, beyond "
     "workspace_bytes = 4096"},
    // The zeroed prefix is checked first (workspace_bytes = 0 without it:
    // WorkspaceDescriptorNeedsAWorkspace).
    {"/workspace_bytes", "0",
     "manifest: workspace_zero_bytes: 64 bytes is more than workspace_bytes "
     "= 0"},
    // The rules of tensor descriptors, on the view.
    {"/tma/3/rank", "3",
     "manifest: tma[3].rank: expected an integer in [1, 2], got 3"},
    {"/tma/3/box", "[16]",
     "manifest: tma[3].box: expected an array of 2 elements, got 1"},
    {"/tma/3/box/1", "128",
     "manifest: tma[3].box: the innermost box dim spans 256 bytes, more "
     "than the 128-byte swizzle span"},
    {"/tma/3/box/1", "4",
     "manifest: tma[3].box: the innermost box dim spans 8 bytes; TMA needs "
     "a multiple of 16"},
    {"/tma/3/workspace/shape", "[16, 60]",
     "manifest: tma[3]: the workspace view [16, 60] has a stride of 120 "
     "bytes in dim 0; TMA needs strides that are multiples of 16 bytes"},
    {"/tma/3/interleave", "\"32B\"",
     "manifest: tma[3].interleave: an interleaved layout needs a descriptor "
     "of rank 3 or more"},
    {"/tma/3/workspace/dtype", "\"f4E2M1FN\"", "(parsed)"},
};

INSTANTIATE_TEST_SUITE_P(Fields, WorkspaceDescriptorFieldTest,
                         ::testing::ValuesIn(kBrokenWorkspaceFields));

TEST(ManifestTest, WorkspaceDescriptorNeedsAWorkspace) {
  json j = withWorkspaceDescriptor();
  j.erase("workspace_zero_bytes");
  j["workspace_bytes"] = 0;
  // The descriptor is reported before the workspace parameter.
  EXPECT_EQ(parseError(j.dump()),
            "manifest: workspace_bytes: must be positive: TMA descriptor "
            "\"h_desc\" (tma[3]) is over the workspace");
  j.erase("workspace_bytes");
  j["params"].erase(6);
  EXPECT_EQ(parseError(j.dump()),
            "manifest: workspace_bytes: must be positive: TMA descriptor "
            "\"h_desc\" (tma[3]) is over the workspace");
}

TEST(ManifestTest, WorkspaceViewOfFp4) {
  json j = withWorkspaceDescriptor();
  j["tma"][3]["workspace"]["dtype"] = "f4E2M1FN";
  j["tma"][3]["workspace"]["shape"] = json::array({16, 63});
  EXPECT_EQ(parseError(j.dump()),
            "manifest: tma[3].workspace.shape: an f4E2M1FN view packs two "
            "values per byte: its innermost dim must be static and even, got "
            "[16, 63]");
  // 16 x 6144 fp4 = 49152 bytes: counted in bytes, not in values.
  j["tma"][3]["workspace"]["shape"] = json::array({16, 6144});
  j["workspace_bytes"] = 1024 + 49152;
  EXPECT_EQ(parseError(j.dump()), "(parsed)");
  j["workspace_bytes"] = 1024 + 49152 - 16;
  EXPECT_EQ(parseError(j.dump()),
            "manifest: tma[3].workspace: the view [16, 6144] of f4E2M1FN at "
            "offset 1024 ends at byte 50176, beyond workspace_bytes = 50160");
}

// One artifact, builds for several chips: the top-level arch and cubin,
// then "images"; a device runs the first build whose arch it has (an "a"
// arch exactly its compute capability).
TEST(ManifestTest, ImagesForOtherChips) {
  json j = json::parse(kValidManifest);
  j["images"] = json::parse(R"([
    {"arch": "sm_100a", "cubin": "moe_fused_bf16.sm_100a.cubin"}
  ])");
  Manifest m;
  std::string error;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  std::vector<KernelImage> images = kernelImages(m);
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].arch, "sm_90a");
  EXPECT_EQ(images[0].cubin, "moe_fused_bf16.cubin");
  EXPECT_EQ(images[1].arch, "sm_100a");
  EXPECT_EQ(images[1].cubin, "moe_fused_bf16.sm_100a.cubin");
  EXPECT_TRUE(images[0].runsOn(9, 0));
  EXPECT_FALSE(images[0].runsOn(10, 0));
  EXPECT_TRUE(images[1].runsOn(10, 0));
  EXPECT_FALSE(images[1].runsOn(10, 3)); // sm_100a is exactly 10.0
  EXPECT_FALSE(images[1].runsOn(12, 0));
  EXPECT_FALSE(images[0].dynamicSmemBytes);
  EXPECT_FALSE(images[1].dynamicSmemBytes);

  // An image with its own dynamic shared memory for `kernel`.
  j["images"][0]["dynamic_smem_bytes"] = 173056;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  images = kernelImages(m);
  ASSERT_EQ(images.size(), 2u);
  EXPECT_FALSE(images[0].dynamicSmemBytes);
  ASSERT_TRUE(images[1].dynamicSmemBytes);
  EXPECT_EQ(*images[1].dynamicSmemBytes, 173056u);

  auto broken = [&](const char *images) {
    json k = json::parse(kValidManifest);
    k["images"] = json::parse(images);
    return parseError(k.dump());
  };
  EXPECT_EQ(broken(R"({"arch": "sm_100a"})"),
            "manifest: images: expected an array, got object "
            "{\"arch\":\"sm_100a\"}");
  EXPECT_EQ(broken(R"([{"cubin": "k.cubin"}])"),
            "manifest: images[0].arch: missing required field");
  EXPECT_EQ(broken(R"([{"arch": "sm_100a"}])"),
            "manifest: images[0].cubin: missing required field");
  EXPECT_EQ(broken(R"([{"arch": "sm_100a", "cubin": ""}])"),
            "manifest: images[0].cubin: must not be empty");
  EXPECT_EQ(broken(R"([{"arch": "blackwell", "cubin": "k.cubin"}])"),
            "manifest: images[0].arch: expected sm_<version>[a] such as "
            "\"sm_90a\" or \"sm_100a\", got \"blackwell\"");
  EXPECT_EQ(broken(R"([{"arch": "sm_90a", "cubin": "k.cubin"}])"),
            "manifest: images[0].arch: \"sm_90a\" is already the top-level "
            "arch");
  EXPECT_EQ(broken(R"([{"arch": "sm_100a", "cubin": "a.cubin"},
                       {"arch": "sm_100a", "cubin": "b.cubin"}])"),
            "manifest: images[1].arch: duplicate image for \"sm_100a\"");
  EXPECT_EQ(broken(R"([{"arch": "sm_100a", "cubin": "k.cubin",
                        "dynamic_smem_bytes": -1}])"),
            "manifest: images[0].dynamic_smem_bytes: expected an integer in "
            "[0, 2147483647], got -1");
}

// Each build has its own variants: the top-level ones are the top-level
// build's, an image lists its own (a chip's lowering may have a variant the
// other's has not: sm_90a's 128-row FP8 kernel), and one that lists none
// runs `kernel` for every T.
TEST(ManifestTest, ImagesHaveTheirOwnVariants) {
  json j = json::parse(kValidManifest);
  j["variants"] = json::parse(R"([{"kernel": "k_m128", "min_tokens": 256}])");
  j["images"] = json::parse(R"([
    {"arch": "sm_100a", "cubin": "k.sm_100a.cubin"},
    {"arch": "sm_120a", "cubin": "k.sm_120a.cubin",
     "dynamic_smem_bytes": 100000,
     "variants": [{"kernel": "k_wide", "min_tokens": 64}]}
  ])");
  Manifest m;
  std::string error;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  ASSERT_EQ(m.variants.size(), 1u);
  EXPECT_EQ(kernelImages(m)[0].variants.size(), 1u);
  ASSERT_EQ(m.images.size(), 2u);
  EXPECT_TRUE(m.images[0].variants.empty());
  ASSERT_EQ(m.images[1].variants.size(), 1u);
  // Its dynamic shared memory by default is the image's kernel's.
  EXPECT_EQ(m.images[1].variants[0].dynamicSmemBytes, 100000u);

  Manifest top = m, plain = m, own = m;
  useImage(top, 0);
  EXPECT_EQ(top.arch, "sm_90a");
  ASSERT_EQ(top.variants.size(), 1u);
  EXPECT_EQ(kernelName(top, selectKernel(top, 256)), "k_m128");
  useImage(plain, 1);
  EXPECT_EQ(plain.arch, "sm_100a");
  EXPECT_EQ(plain.cubin, "k.sm_100a.cubin");
  EXPECT_TRUE(plain.variants.empty());
  EXPECT_EQ(kernelName(plain, selectKernel(plain, 100000)), plain.kernel);
  useImage(own, 2);
  EXPECT_EQ(own.arch, "sm_120a");
  EXPECT_EQ(own.dynamicSmemBytes, 100000u);
  EXPECT_EQ(kernelName(own, selectKernel(own, 63)), own.kernel);
  EXPECT_EQ(kernelName(own, selectKernel(own, 64)), "k_wide");

  auto broken = [&](const char *variants) {
    json k = j;
    k["images"][1]["variants"] = json::parse(variants);
    return parseError(k.dump());
  };
  EXPECT_EQ(broken(R"([{"min_tokens": 0}])"),
            "manifest: images[1].variants[0].kernel: missing required field");
  EXPECT_EQ(broken(R"({"kernel": "k_wide"})"),
            "manifest: images[1].variants: expected an array, got object "
            "{\"kernel\":\"k_wide\"}");
  EXPECT_EQ(broken(R"([{"kernel": "k_wide", "min_tokens": 1},
                       {"kernel": "k_wide", "min_tokens": 2}])"),
            "manifest: images[1].variants[1].kernel: duplicate variant "
            "\"k_wide\"");
}

TEST(ManifestTest, VariantsAreSelectedByTokenCount) {
  json j = json::parse(kValidManifest);
  j["variants"] = json::parse(R"([
    {"kernel": "wide", "min_tokens": 512, "max_tokens": 1536,
     "dynamic_smem_bytes": 200000},
    {"kernel": "huge", "min_tokens": 4096}
  ])");
  Manifest m;
  std::string error;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  ASSERT_EQ(m.variants.size(), 2u);
  EXPECT_EQ(m.variants[0].dynamicSmemBytes, 200000u);
  EXPECT_EQ(m.variants[1].dynamicSmemBytes, m.dynamicSmemBytes);
  EXPECT_EQ(m.variants[1].maxTokens, MOE_RT_UNBOUNDED_TOKENS);
  EXPECT_EQ(selectKernel(m, 0), 0u);
  EXPECT_EQ(selectKernel(m, 511), 0u);
  EXPECT_EQ(selectKernel(m, 512), 1u);
  EXPECT_EQ(selectKernel(m, 1535), 1u);
  EXPECT_EQ(selectKernel(m, 1536), 0u);
  EXPECT_EQ(selectKernel(m, 4096), 2u);
  EXPECT_EQ(selectKernel(m, int64_t(1) << 40), 2u);

  // The C API gives the same answer without a driver.
  std::string text = j.dump();
  moeRtKernel k = nullptr;
  ASSERT_EQ(moeRtKernelCreateUnloaded(text.data(), text.size(), 0, &k),
            MOE_RT_SUCCESS)
      << moeRtGetLastError();
  const char *name = nullptr;
  ASSERT_EQ(moeRtKernelSelect(k, 100, &name), MOE_RT_SUCCESS);
  EXPECT_STREQ(name, "moe_fused_bf16");
  ASSERT_EQ(moeRtKernelSelect(k, 1000, &name), MOE_RT_SUCCESS);
  EXPECT_STREQ(name, "wide");
  ASSERT_EQ(moeRtKernelSelect(k, 5000, &name), MOE_RT_SUCCESS);
  EXPECT_STREQ(name, "huge");
  EXPECT_EQ(moeRtKernelSelect(k, -1, &name), MOE_RT_ERROR_TOKEN_COUNT);
  EXPECT_EQ(moeRtKernelSelect(k, 1, nullptr), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(moeRtKernelSelect(nullptr, 1, &name), MOE_RT_ERROR_INVALID_VALUE);
  moeRtUnload(k);
}

// Each variant has its own cluster: the 2-CTA primary of kValidManifest
// may have a variant that runs alone, and an unclustered primary one that
// runs in pairs. A variant without "cluster" runs unclustered; it does not
// inherit the primary's.
TEST(ManifestTest, VariantsHaveTheirOwnCluster) {
  json j = json::parse(kValidManifest);
  j["variants"] = json::parse(R"([
    {"kernel": "pairs", "min_tokens": 512, "max_tokens": 1536,
     "cluster": [4]},
    {"kernel": "alone", "min_tokens": 4096},
    {"kernel": "explicit", "min_tokens": 2048, "max_tokens": 4096,
     "cluster": [2, 1, 1]}
  ])");
  Manifest m;
  std::string error;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  ASSERT_EQ(m.variants.size(), 3u);
  EXPECT_EQ(m.cluster, (std::array<uint32_t, 3>{2, 1, 1}));
  EXPECT_EQ(m.variants[0].cluster, (std::array<uint32_t, 3>{4, 1, 1}));
  EXPECT_EQ(m.variants[1].cluster, (std::array<uint32_t, 3>{1, 1, 1}));
  EXPECT_EQ(m.variants[2].cluster, (std::array<uint32_t, 3>{2, 1, 1}));
  EXPECT_EQ(kernelCluster(m, selectKernel(m, 100)), m.cluster);
  EXPECT_EQ(kernelCluster(m, selectKernel(m, 1000)), m.variants[0].cluster);
  EXPECT_EQ(kernelCluster(m, selectKernel(m, 5000)), m.variants[1].cluster);

  // An unclustered primary with a 2-CTA variant.
  j["launch"].erase("cluster");
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  EXPECT_EQ(m.cluster, (std::array<uint32_t, 3>{1, 1, 1}));
  EXPECT_EQ(m.variants[0].cluster, (std::array<uint32_t, 3>{4, 1, 1}));

  // The C API reports the primary's cluster, whatever the variants have.
  std::string text = j.dump();
  moeRtKernel k = nullptr;
  ASSERT_EQ(moeRtKernelCreateUnloaded(text.data(), text.size(), 0, &k),
            MOE_RT_SUCCESS)
      << moeRtGetLastError();
  moeRtKernelInfo info;
  ASSERT_EQ(moeRtKernelGetInfo(k, &info), MOE_RT_SUCCESS);
  EXPECT_EQ(info.cluster[0], 1u);
  EXPECT_EQ(info.cluster[1], 1u);
  EXPECT_EQ(info.cluster[2], 1u);
  moeRtUnload(k);
}

// A fixed grid must be whole clusters of every kernel that it launches.
TEST(ManifestTest, FixedGridIsAMultipleOfEachVariantsCluster) {
  json j = json::parse(kValidManifest);
  j["launch"]["grid"] = json::array({8, 3});
  j["variants"] = json::parse(R"([
    {"kernel": "k2", "min_tokens": 64, "cluster": [4, 3]}
  ])");
  Manifest m;
  std::string error;
  ASSERT_TRUE(parseManifest(j.dump(), m, error)) << error;
  EXPECT_EQ(m.variants[0].cluster, (std::array<uint32_t, 3>{4, 3, 1}));
  j["variants"][0]["cluster"] = json::array({3});
  EXPECT_EQ(parseError(j.dump()),
            "manifest: variants[0].cluster: grid dim 0 (8) is not a multiple "
            "of the cluster dim (3)");
}

TEST(ManifestTest, TmaStridesAreCheckedWhenStatic) {
  json j = json::parse(kValidManifest);
  j["tensors"][0]["shape"] = json::array({"T", 100}); // 200-byte rows
  j["tma"][0]["box"] = json::array({128, 8});
  j["tma"][0]["swizzle"] = "none";
  EXPECT_EQ(parseError(j.dump()),
            "manifest: tma[0]: tensor \"x\" [T, 100] has a stride of 200 bytes "
            "in dim 0; TMA needs strides that are multiples of 16 bytes");
}

TEST(ManifestTest, Fp4BoxMustBeEven) {
  json j = json::parse(kValidManifest);
  j["tensors"][3]["dtype"] = "f4E2M1FN";
  j["tensors"][3]["shape"] = json::array({4, 512, 7});
  EXPECT_EQ(parseError(j.dump()),
            "manifest: tensors[3].shape: an f4E2M1FN tensor packs two values "
            "per byte: its innermost dim must be static and even, got [4, "
            "512, 7]");
  j["tensors"][3]["shape"] = json::array({4, "T"});
  EXPECT_EQ(parseError(j.dump()),
            "manifest: tensors[3].shape: an f4E2M1FN tensor packs two values "
            "per byte: its innermost dim must be static and even, got [4, T]");
  j["tensors"][3]["shape"] = json::array({4, 512, 512});
  j["tma"][1]["box"] = json::array({128, 33});
  j["tma"][1]["swizzle"] = "none";
  EXPECT_EQ(parseError(j.dump()),
            "manifest: tma[1].box: the innermost box dim of an f4E2M1FN tensor "
            "must be even (two values a byte)");
  j["tma"][1]["box"] = json::array({128, 256}); // 128 bytes
  j["tma"][1]["swizzle"] = "128B";
  EXPECT_EQ(parseError(j.dump()), "(parsed)");
}

TEST(ManifestTest, HighRankTensorNeedsMergedDescriptor) {
  json j = json::parse(kValidManifest);
  j["tensors"][3]["shape"] = json::array({2, 2, 2, 2, 128, 256});
  j["tma"][1].erase("rank");
  j["tma"][1]["box"] = json::array({1, 1, 1, 128, 64});
  EXPECT_EQ(parseError(j.dump()),
            "manifest: tma[1].rank: tensor \"w13\" has rank 6; TMA takes at "
            "most 5 dims, so set a rank that merges the leading dims");
  j["tma"][1]["rank"] = 2;
  EXPECT_EQ(parseError(j.dump()),
            "manifest: tma[1].box: expected an array of 2 elements, got 5");
  j["tma"][1]["box"] = json::array({128, 64});
  EXPECT_EQ(parseError(j.dump()), "(parsed)");
}

TEST(ManifestTest, UnknownFieldsAreIgnored) {
  json j = json::parse(kValidManifest);
  j["future_field"] = json::object({{"a", 1}});
  j["tensors"][0]["scale_format"] = "ue8m0";
  EXPECT_EQ(parseError(j.dump()), "(parsed)");
}

TEST(ManifestTest, TooManyParams) {
  json j = json::parse(kValidManifest);
  for (int i = 0; i < 130; ++i)
    j["params"].push_back(json::object(
        {{"kind", "i32"}, {"name", "p" + std::to_string(i)}, {"value", i}}));
  EXPECT_EQ(parseError(j.dump()),
            "manifest: params: expected an array of 0 to 128 elements, got "
            "140");
}

TEST(ManifestTest, InvalidUtf8DoesNotAbort) {
  std::string text = kValidManifest;
  text.replace(text.find("\"sha256:9f2c\""), 13, "\"\xff\xfe\"");
  // nlohmann rejects invalid UTF-8 in strings while parsing.
  EXPECT_NE(parseError(text).find("manifest: not valid JSON"),
            std::string::npos);
}

TEST(ManifestTest, Names) {
  EXPECT_STREQ(dtypeName(MOE_RT_DTYPE_F8E4M3FN), "f8E4M3FN");
  EXPECT_EQ(dtypeFromName("f8E8M0FNU"), MOE_RT_DTYPE_F8E8M0FNU);
  EXPECT_EQ(dtypeFromName("float8"), MOE_RT_DTYPE_INVALID);
  EXPECT_EQ(dtypeBits(MOE_RT_DTYPE_F4E2M1FN), 4u);
  EXPECT_EQ(dtypeBits(MOE_RT_DTYPE_I64), 64u);
  EXPECT_EQ(formatShape({kDimT, 7168}), "[T, 7168]");
  EXPECT_EQ(swizzleBytes(Swizzle::B64), 64u);
}

} // namespace
