//===- Arguments.cpp - Check launch arguments against a manifest ----------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/Arguments.h"

#include <cinttypes>
#include <cstdio>
#include <limits>

namespace moe::runtime {

static std::string hex(uint64_t x) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%" PRIx64, x);
  return buf;
}

static std::string dtypeString(int32_t dtype) {
  moeRtDType d = static_cast<moeRtDType>(dtype);
  if (dtypeBits(d) == 0)
    return "invalid dtype (" + std::to_string(dtype) + ")";
  return dtypeName(d);
}

static std::string formatDims(const int64_t *dims, int32_t rank) {
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i) {
    if (i)
      s += ", ";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

static std::string argName(const TensorSpec &spec, size_t index) {
  return "argument '" + spec.name + "' (#" + std::to_string(index) + ")";
}

static std::string deviceString(int32_t device) {
  if (device == MOE_RT_DEVICE_HOST)
    return "host memory";
  return "device " + std::to_string(device);
}

/// Row-major strides (in elements) of `shape`; false on overflow.
static bool rowMajorStrides(const int64_t *shape, int32_t rank,
                            int64_t *strides, int64_t &numel) {
  int64_t running = 1;
  bool empty = false;
  for (int32_t d = rank - 1; d >= 0; --d) {
    strides[d] = running;
    if (shape[d] == 0)
      empty = true;
    if (shape[d] > 1 && __builtin_mul_overflow(running, shape[d], &running))
      return false;
  }
  numel = empty ? 0 : running;
  return true;
}

moeRtStatus validateArguments(const Manifest &m, int32_t device,
                              const moeRtTensorArg *args, int32_t numArgs,
                              const moeRtLaunchConfig &config,
                              int64_t &numTokens, std::string &error) {
  auto fail = [&](moeRtStatus code, std::string msg) {
    error = std::move(msg);
    return code;
  };
  if (numArgs < 0 || (numArgs > 0 && !args))
    return fail(MOE_RT_ERROR_INVALID_VALUE,
                "the tensor argument array is null or numArgs is negative");
  if (static_cast<size_t>(numArgs) != m.tensors.size()) {
    std::string names;
    for (const TensorSpec &t : m.tensors)
      names += (names.empty() ? "" : ", ") + t.name;
    return fail(MOE_RT_ERROR_ARG_COUNT,
                "expected " + std::to_string(m.tensors.size()) +
                    " tensor arguments (" + names + "), got " +
                    std::to_string(numArgs));
  }
  if (config.flags &
      ~uint32_t(MOE_RT_LAUNCH_CHECK_POINTERS | MOE_RT_LAUNCH_PDL))
    return fail(MOE_RT_ERROR_INVALID_VALUE,
                "unknown launch flags " + hex(config.flags));

  // T is bound by the config, or else by the first T dim met.
  int64_t T = config.numTokens;
  std::string tSource = "moeRtLaunchConfig.numTokens";
  if (T < MOE_RT_INFER_TOKENS)
    return fail(MOE_RT_ERROR_TOKEN_COUNT,
                "numTokens is " + std::to_string(T) +
                    "; expected T >= 0, or MOE_RT_INFER_TOKENS (-1)");
  bool bound = T >= 0;

  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const TensorSpec &s = m.tensors[i];
    const moeRtTensorArg &a = args[i];
    std::string who = argName(s, i);
    int32_t rank = static_cast<int32_t>(s.shape.size());

    if (a.dtype != s.dtype)
      return fail(MOE_RT_ERROR_ARG_DTYPE, who + ": expected dtype " +
                                              dtypeName(s.dtype) + ", got " +
                                              dtypeString(a.dtype));
    if (a.rank < 0 || a.rank > MOE_RT_MAX_RANK)
      return fail(MOE_RT_ERROR_ARG_RANK,
                  who + ": expected rank " + std::to_string(rank) + " " +
                      formatShape(s.shape) + ", got rank " +
                      std::to_string(a.rank));
    if (a.rank != rank)
      return fail(MOE_RT_ERROR_ARG_RANK,
                  who + ": expected rank " + std::to_string(rank) + " " +
                      formatShape(s.shape) + ", got rank " +
                      std::to_string(a.rank) + " " +
                      formatDims(a.shape, a.rank));
    for (int32_t d = 0; d < rank; ++d) {
      int64_t got = a.shape[d];
      if (got < 0)
        return fail(MOE_RT_ERROR_ARG_SHAPE, who + ": dim " + std::to_string(d) +
                                                " is negative in " +
                                                formatDims(a.shape, rank));
      if (s.shape[d] == kDimT) {
        if (!bound) {
          T = got;
          bound = true;
          tSource = who + " dim " + std::to_string(d);
        } else if (got != T) {
          return fail(MOE_RT_ERROR_ARG_SHAPE,
                      who + ": dim " + std::to_string(d) + " of " +
                          formatShape(s.shape) +
                          " is T = " + std::to_string(T) + " (bound by " +
                          tSource + "), got " + std::to_string(got) + " in " +
                          formatDims(a.shape, rank));
        }
      } else if (got != s.shape[d]) {
        return fail(MOE_RT_ERROR_ARG_SHAPE,
                    who + ": expected shape " + formatShape(s.shape) +
                        ", got " + formatDims(a.shape, rank) + " (dim " +
                        std::to_string(d) + ")");
      }
    }

    int64_t expected[MOE_RT_MAX_RANK];
    int64_t numel = 0;
    if (!rowMajorStrides(a.shape, rank, expected, numel))
      return fail(MOE_RT_ERROR_ARG_SHAPE, who + ": the element count of " +
                                              formatDims(a.shape, rank) +
                                              " overflows int64");
    if (numel > 0) {
      for (int32_t d = 0; d < rank; ++d) {
        // A dim of size 1 is never stepped over: its stride is free (as in
        // torch's is_contiguous).
        if (a.shape[d] > 1 && a.strides[d] != expected[d])
          return fail(MOE_RT_ERROR_ARG_STRIDE,
                      who + ": expected contiguous row-major strides " +
                          formatDims(expected, rank) + " (in elements), got " +
                          formatDims(a.strides, rank) + " (dim " +
                          std::to_string(d) + ")");
      }
    }
    if (a.device != device)
      return fail(MOE_RT_ERROR_ARG_DEVICE,
                  who + ": expected a tensor on device " +
                      std::to_string(device) + ", got one in " +
                      deviceString(a.device));
    if (numel > 0 && a.data == 0)
      return fail(MOE_RT_ERROR_ARG_NULL,
                  who + ": null data address for a tensor of " +
                      std::to_string(numel) + " elements");
    if (a.data % s.alignment)
      return fail(MOE_RT_ERROR_ARG_ALIGNMENT,
                  who + ": data address " + hex(a.data) + " is not " +
                      std::to_string(s.alignment) + "-byte aligned");
  }

  if (!m.usesTokens) {
    T = 0;
  } else {
    if (!bound)
      return fail(MOE_RT_ERROR_TOKEN_COUNT,
                  "T is not bound: no tensor argument has a T dim, so set "
                  "moeRtLaunchConfig.numTokens");
    if (m.maxTokens != MOE_RT_UNBOUNDED_TOKENS && T > m.maxTokens)
      return fail(MOE_RT_ERROR_TOKEN_COUNT,
                  "T = " + std::to_string(T) + " (from " + tSource +
                      ") exceeds the kernel's max_tokens = " +
                      std::to_string(m.maxTokens));
    for (const ParamSpec &p : m.params)
      if (p.kind == ParamKind::TokenCount && p.type == ScalarType::I32 &&
          T > std::numeric_limits<int32_t>::max())
        return fail(MOE_RT_ERROR_TOKEN_COUNT,
                    "T = " + std::to_string(T) +
                        " does not fit the kernel's i32 token_count "
                        "parameter");
  }

  if (m.workspaceBytes) {
    if (config.workspace == 0)
      return fail(MOE_RT_ERROR_WORKSPACE,
                  "the kernel needs a workspace of " +
                      std::to_string(m.workspaceBytes) +
                      " bytes; moeRtLaunchConfig.workspace is null");
    if (config.workspaceBytes < m.workspaceBytes)
      return fail(MOE_RT_ERROR_WORKSPACE,
                  "the kernel needs a workspace of " +
                      std::to_string(m.workspaceBytes) + " bytes, got " +
                      std::to_string(config.workspaceBytes));
    if (config.workspace % 16)
      return fail(MOE_RT_ERROR_WORKSPACE, "workspace address " +
                                              hex(config.workspace) +
                                              " is not 16-byte aligned");
  }

  if (config.numScalars < 0 || (config.numScalars > 0 && !config.scalars))
    return fail(MOE_RT_ERROR_INVALID_VALUE,
                "moeRtLaunchConfig.scalars is null or numScalars is negative");
  if (static_cast<size_t>(config.numScalars) != m.numCallScalars) {
    std::string names;
    for (const ParamSpec &p : m.params)
      if (p.kind == ParamKind::Scalar && !p.hasValue)
        names += (names.empty() ? "" : ", ") + p.name;
    return fail(MOE_RT_ERROR_ARG_COUNT,
                "expected " + std::to_string(m.numCallScalars) +
                    " call-time scalars" +
                    (names.empty() ? std::string() : " (" + names + ")") +
                    ", got " + std::to_string(config.numScalars));
  }
  for (const ParamSpec &p : m.params) {
    if (p.kind != ParamKind::Scalar || p.hasValue || p.type != ScalarType::I32)
      continue;
    int64_t v = config.scalars[p.index];
    if (v < std::numeric_limits<int32_t>::min() ||
        v > std::numeric_limits<int32_t>::max())
      return fail(MOE_RT_ERROR_SCALAR,
                  "scalar '" + p.name + "' (#" + std::to_string(p.index) +
                      ") is i32, got " + std::to_string(v));
  }

  // The descriptors: base and stride alignment, dims within TMA's range.
  // Those over the workspace come after its checks above (present, large
  // enough, 16-byte aligned), which they rely on.
  for (const TensorMapSpec &map : m.tensorMaps) {
    if (map.overWorkspace) {
      TensorMapPlan plan;
      if (moeRtStatus st =
              planWorkspaceTensorMap(m, map, config.workspace, plan, error))
        return st;
      continue;
    }
    const moeRtTensorArg &a = args[map.tensor];
    bool empty = false;
    for (int32_t d = 0; d < a.rank; ++d)
      empty |= a.shape[d] == 0;
    if (empty)
      continue; // T = 0 launches nothing
    TensorMapPlan plan;
    if (moeRtStatus st = planTensorMap(m, map, a, plan, error))
      return st;
  }
  numTokens = T;
  return MOE_RT_SUCCESS;
}

TmaDataType tmaDataType(moeRtDType dtype) {
  switch (dtype) {
  case MOE_RT_DTYPE_BF16:
    return TmaDataType::BFloat16;
  case MOE_RT_DTYPE_F16:
    return TmaDataType::Float16;
  case MOE_RT_DTYPE_F32:
    return TmaDataType::Float32;
  case MOE_RT_DTYPE_I32:
    return TmaDataType::Int32;
  case MOE_RT_DTYPE_I64:
    return TmaDataType::Int64;
  default:
    return TmaDataType::UInt8;
  }
}

/// The plan of descriptor `map` over `n` row-major dims `shape` of `dtype`
/// at `address`; a failure's message starts with `who`.
static moeRtStatus planDescriptor(const TensorMapSpec &map, moeRtDType dtype,
                                  const int64_t *shape, int32_t n,
                                  uint64_t address, const std::string &who,
                                  TensorMapPlan &plan, std::string &error) {
  auto fail = [&](moeRtStatus code, std::string msg) {
    error = who + ": " + msg;
    return code;
  };
  const unsigned r = map.rank;
  const bool fp4 = dtype == MOE_RT_DTYPE_F4E2M1FN;
  // Bytes per element, counting an fp4 byte (two values) as one element:
  // the dims and the box of the innermost dim are halved below.
  const uint64_t elemBytes = fp4 ? 1 : dtypeBits(dtype) / 8;

  plan = TensorMapPlan();
  plan.dataType =
      map.fp4Padded ? TmaDataType::U4x16Align16B : tmaDataType(dtype);
  plan.rank = r;
  plan.globalAddress = address;

  // Row-major dims in the order TMA wants (innermost first); the leading
  // n - r + 1 dims of the tensor merge into the outermost one.
  int64_t dims[MOE_RT_MAX_RANK];
  for (int32_t d = 0; d < n; ++d)
    dims[d] = shape[d];
  if (fp4)
    dims[n - 1] /= 2;
  for (unsigned k = 0; k + 1 < r; ++k)
    plan.globalDim[k] = static_cast<uint64_t>(dims[n - 1 - k]);
  uint64_t outer = 1;
  for (int32_t d = 0; d <= n - static_cast<int32_t>(r); ++d)
    if (__builtin_mul_overflow(outer, static_cast<uint64_t>(dims[d]), &outer))
      return fail(MOE_RT_ERROR_TENSOR_MAP, "the merged outer dim overflows");
  plan.globalDim[r - 1] = outer;

  uint64_t stride = elemBytes;
  for (unsigned k = 0; k + 1 < r; ++k) {
    if (__builtin_mul_overflow(stride, plan.globalDim[k], &stride))
      return fail(MOE_RT_ERROR_TENSOR_MAP, "a stride overflows");
    plan.globalStrides[k] = stride;
  }
  for (unsigned k = 0; k < r; ++k) {
    plan.boxDim[k] = map.box[r - 1 - k];
    plan.elementStrides[k] = map.elementStrides[r - 1 - k];
  }
  // 16U4_ALIGN16B counts values (the strides stay in bytes).
  if (fp4 && map.fp4Padded)
    plan.globalDim[0] *= 2;
  else if (fp4)
    plan.boxDim[0] /= 2;
  plan.interleave = static_cast<uint32_t>(map.interleave);
  plan.swizzle = static_cast<uint32_t>(map.swizzle);
  plan.l2Promotion = static_cast<uint32_t>(map.l2Promotion);
  plan.oobFill = static_cast<uint32_t>(map.oobFill);

  // cuTensorMapEncodeTiled's rules, checked here to name the culprit.
  // 16U4_ALIGN16B: 32-byte aligned address and strides, the innermost dim
  // a multiple of 128 values.
  uint64_t addrAlign =
      map.interleave == Interleave::B32 || map.fp4Padded ? 32 : 16;
  if (map.fp4Padded && plan.globalDim[0] % 128)
    return fail(MOE_RT_ERROR_TENSOR_MAP,
                "the innermost dim is " + std::to_string(plan.globalDim[0]) +
                    " values; TMA's padded FP4 type needs a multiple of 128");
  if (plan.globalAddress % addrAlign)
    return fail(MOE_RT_ERROR_ARG_ALIGNMENT,
                "base address " + hex(plan.globalAddress) + " is not " +
                    std::to_string(addrAlign) +
                    "-byte aligned, as TMA requires");
  for (unsigned k = 0; k < r; ++k)
    if (plan.globalDim[k] == 0 || plan.globalDim[k] > (uint64_t(1) << 32))
      return fail(MOE_RT_ERROR_TENSOR_MAP,
                  "dim " + std::to_string(k) + " (innermost first) is " +
                      std::to_string(plan.globalDim[k]) +
                      "; TMA takes 1 to 2^32");
  uint64_t strideAlign =
      map.interleave == Interleave::B32 || map.fp4Padded ? 32 : 16;
  for (unsigned k = 0; k + 1 < r; ++k) {
    if (plan.globalStrides[k] % strideAlign)
      return fail(MOE_RT_ERROR_ARG_ALIGNMENT,
                  "the byte stride of dim " + std::to_string(k + 1) +
                      " (innermost first) is " +
                      std::to_string(plan.globalStrides[k]) +
                      ", not a multiple of " + std::to_string(strideAlign) +
                      " as TMA requires");
    if (plan.globalStrides[k] >= (uint64_t(1) << 40))
      return fail(MOE_RT_ERROR_TENSOR_MAP,
                  "the byte stride of dim " + std::to_string(k + 1) + " is " +
                      std::to_string(plan.globalStrides[k]) +
                      "; TMA takes less than 2^40");
  }
  return MOE_RT_SUCCESS;
}

moeRtStatus planTensorMap(const Manifest &m, const TensorMapSpec &map,
                          const moeRtTensorArg &arg, TensorMapPlan &plan,
                          std::string &error) {
  if (map.overWorkspace) {
    plan = TensorMapPlan();
    error = "TMA descriptor '" + map.name +
            "' is over the workspace, not over a tensor argument";
    return MOE_RT_ERROR_TENSOR_MAP;
  }
  const TensorSpec &tensor = m.tensors[map.tensor];
  std::string who =
      argName(tensor, map.tensor) + ", TMA descriptor '" + map.name + "'";
  return planDescriptor(map, tensor.dtype, arg.shape, arg.rank, arg.data, who,
                        plan, error);
}

moeRtStatus planWorkspaceTensorMap(const Manifest &m, const TensorMapSpec &map,
                                   uint64_t workspace, TensorMapPlan &plan,
                                   std::string &error) {
  std::string who = "TMA descriptor '" + map.name +
                    "' over the workspace (offset " +
                    std::to_string(map.workspaceOffset) + ")";
  if (!map.overWorkspace) {
    plan = TensorMapPlan();
    error = who + ": it is over a tensor argument";
    return MOE_RT_ERROR_TENSOR_MAP;
  }
  return planDescriptor(map, map.view.dtype, map.view.shape.data(),
                        static_cast<int32_t>(map.view.shape.size()),
                        workspace + map.workspaceOffset, who, plan, error);
}

moeRtStatus planTensorMap(const Manifest &m, const TensorMapSpec &map,
                          const moeRtTensorArg *args, uint64_t workspace,
                          TensorMapPlan &plan, std::string &error) {
  if (map.overWorkspace)
    return planWorkspaceTensorMap(m, map, workspace, plan, error);
  return planTensorMap(m, map, args[map.tensor], plan, error);
}

bool computeGrid(const Manifest &m, uint32_t numSms, uint32_t maxSms,
                 uint32_t clusterX, std::optional<uint32_t> maxCtas,
                 uint32_t grid[3], std::string &error) {
  if (!m.persistentGrid) {
    for (int i = 0; i < 3; ++i)
      grid[i] = m.grid[i];
    return true;
  }
  if (clusterX == 0)
    clusterX = 1;
  uint32_t n = numSms;
  if (maxSms && maxSms < n)
    n = maxSms;
  // No more CTAs than can run at once: clusters beyond would wait for a
  // second wave, which in a persistent kernel starts when the work is done.
  bool limitedByOccupancy = maxCtas && *maxCtas < n;
  if (limitedByOccupancy)
    n = *maxCtas;
  n -= n % clusterX;
  if (n == 0) {
    error = "a persistent grid of " + std::to_string(numSms) + " SMs" +
            (maxSms ? " capped at maxSms = " + std::to_string(maxSms)
                    : std::string()) +
            " holds no whole cluster of " + std::to_string(clusterX) + " CTAs" +
            (limitedByOccupancy
                 ? ": the device runs at most " + std::to_string(*maxCtas) +
                       " CTAs of such clusters at once"
                 : std::string());
    return false;
  }
  grid[0] = n;
  grid[1] = grid[2] = 1;
  return true;
}

} // namespace moe::runtime
