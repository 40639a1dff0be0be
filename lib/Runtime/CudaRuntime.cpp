//===- CudaRuntime.cpp - The C API: load, validate, launch ----------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Implements include/moe/Runtime/MoERuntime.h on the CUDA driver API.
//
// Load: parse the manifest, check the device against its arch, retain the
// device's primary context (the one PyTorch and the CUDA runtime use), load
// the cubin, and for the kernel and each variant: find it, check the
// manifest's parameter ABI against it (cuFuncGetParamInfo: sizes, the
// 64-byte alignment of descriptors, the count), raise its dynamic shared
// memory limit and, if it runs in clusters, check that the device can and
// ask how many of its clusters are co-resident
// (cuOccupancyMaxActiveClusters).
//
// Launch: validate (moe::runtime::validateArguments), select the kernel for
// T, encode each TMA descriptor (over a tensor argument or over the
// workspace) into a 64-byte aligned CUtensorMap on the stack, lay out the
// parameters in ABI order, zero the manifest's workspace_zero_bytes prefix of
// the workspace (cuMemsetD32Async on the launch's stream) and call
// cuLaunchKernelEx with the selected kernel's cluster attribute and
// persistent grid. No allocation on the device, no synchronization: a launch
// (the memset included) can be captured in a CUDA graph.
//
// Device memory: allocation, copies, a 16-bit memset and a synchronize, in the
// primary context of the device (retained once per process), for callers
// without a framework.
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/MoERuntime.h"

#include "ApiSupport.h"
#include "CudaDriver.h"
#include "moe/Runtime/Arguments.h"
#include "moe/Runtime/Manifest.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace moe::runtime;

namespace {
/// One kernel of the module: the manifest's `kernel` or a variant.
struct LoadedFunction {
  CUfunction function = nullptr;
  /// How many of its clusters the device holds at once
  /// (cuOccupancyMaxActiveClusters), for a persistent grid of clusters
  /// (computeGrid); unknown without clusters, for a fixed grid, or if the
  /// driver cannot tell.
  std::optional<uint32_t> maxActiveClusters;
};
} // namespace

struct moeRtKernel_ {
  Manifest manifest;
  int32_t device = 0;
  bool loaded = false;
  const CudaDriver *driver = nullptr;
  CUdevice cuDevice = 0;
  CUcontext context = nullptr;
  CUmodule module = nullptr;
  /// Numbered as selectKernel does: 0 is Manifest::kernel, i + 1 is
  /// Manifest::variants[i].
  std::vector<LoadedFunction> functions;
  int numSms = 0;
};

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

// ApiSupport.h declares these for the other sources of the API.
thread_local std::string moe::runtime::lastError;

moeRtStatus moe::runtime::setError(moeRtStatus code, std::string message) {
  lastError = std::move(message);
  return code;
}

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

extern "C" const char *moeRtGetLastError(void) { return lastError.c_str(); }

extern "C" const char *moeRtStatusName(int32_t status) {
  switch (status) {
#define MOE_RT_CASE(x)                                                         \
  case x:                                                                      \
    return #x;
    MOE_RT_CASE(MOE_RT_SUCCESS)
    MOE_RT_CASE(MOE_RT_ERROR_INVALID_VALUE)
    MOE_RT_CASE(MOE_RT_ERROR_IO)
    MOE_RT_CASE(MOE_RT_ERROR_INVALID_MANIFEST)
    MOE_RT_CASE(MOE_RT_ERROR_DRIVER_UNAVAILABLE)
    MOE_RT_CASE(MOE_RT_ERROR_CUDA)
    MOE_RT_CASE(MOE_RT_ERROR_UNSUPPORTED_DEVICE)
    MOE_RT_CASE(MOE_RT_ERROR_ABI_MISMATCH)
    MOE_RT_CASE(MOE_RT_ERROR_NOT_LOADED)
    MOE_RT_CASE(MOE_RT_ERROR_ARG_COUNT)
    MOE_RT_CASE(MOE_RT_ERROR_ARG_DTYPE)
    MOE_RT_CASE(MOE_RT_ERROR_ARG_RANK)
    MOE_RT_CASE(MOE_RT_ERROR_ARG_SHAPE)
    MOE_RT_CASE(MOE_RT_ERROR_ARG_STRIDE)
    MOE_RT_CASE(MOE_RT_ERROR_ARG_ALIGNMENT)
    MOE_RT_CASE(MOE_RT_ERROR_ARG_DEVICE)
    MOE_RT_CASE(MOE_RT_ERROR_ARG_NULL)
    MOE_RT_CASE(MOE_RT_ERROR_TOKEN_COUNT)
    MOE_RT_CASE(MOE_RT_ERROR_WORKSPACE)
    MOE_RT_CASE(MOE_RT_ERROR_SCALAR)
    MOE_RT_CASE(MOE_RT_ERROR_TENSOR_MAP)
#undef MOE_RT_CASE
  }
  return "unknown";
}

extern "C" const char *moeRtDTypeName(int32_t dtype) {
  return dtypeName(static_cast<moeRtDType>(dtype));
}

extern "C" int32_t moeRtDTypeFromName(const char *name) {
  return name ? dtypeFromName(name) : MOE_RT_DTYPE_INVALID;
}

extern "C" int32_t moeRtDTypeBits(int32_t dtype) {
  return static_cast<int32_t>(dtypeBits(static_cast<moeRtDType>(dtype)));
}

extern "C" int32_t moeRtGetAbiVersion(void) { return MOE_RT_ABI_VERSION; }

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

static bool readFile(const std::string &path, std::vector<char> &out,
                     std::string &error) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    out.insert(out.end(), buf, buf + n);
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad) {
    error = "cannot read '" + path + "'";
    return false;
  }
  return true;
}

/// The manifest's parameter ABI against the kernel's, where the driver can
/// tell (cuFuncGetParamInfo).
static moeRtStatus checkParamAbi(const CudaDriver &d, const Manifest &m,
                                 CUfunction fn) {
  if (!d.cuFuncGetParamInfo)
    return MOE_RT_SUCCESS;
  auto paramName = [&](size_t i) {
    const ParamSpec &p = m.params[i];
    const char *kind = "";
    switch (p.kind) {
    case ParamKind::Tensor:
      kind = "tensor";
      break;
    case ParamKind::TensorMap:
      kind = "tma";
      break;
    case ParamKind::Scalar:
      kind = p.type == ScalarType::I32 ? "i32" : "i64";
      break;
    case ParamKind::TokenCount:
      kind = "token_count";
      break;
    case ParamKind::Workspace:
      kind = "workspace";
      break;
    }
    return "parameter #" + std::to_string(i) + " (" + kind + " '" + p.name +
           "')";
  };
  // The driver reports offsets from the start of its parameter bank, which
  // need not be 64-byte aligned itself (0x30 was seen on an H200): check the
  // offsets relative to the first parameter.
  size_t base = 0;
  for (size_t i = 0; i < m.params.size(); ++i) {
    size_t offset = 0, size = 0;
    CUresult r = d.cuFuncGetParamInfo(fn, i, &offset, &size);
    if (r == CUDA_SUCCESS && i == 0)
      base = offset;
    offset -= base;
    if (r == CUDA_ERROR_NOT_SUPPORTED)
      return MOE_RT_SUCCESS;
    if (r == CUDA_ERROR_INVALID_VALUE)
      return setError(MOE_RT_ERROR_ABI_MISMATCH,
                      "kernel '" + m.kernel + "' takes " + std::to_string(i) +
                          " parameters, the manifest lists " +
                          std::to_string(m.params.size()));
    if (r != CUDA_SUCCESS)
      return setError(MOE_RT_ERROR_CUDA, d.describe("cuFuncGetParamInfo", r));
    size_t want = m.params[i].sizeInBytes();
    if (size != want)
      return setError(MOE_RT_ERROR_ABI_MISMATCH,
                      "kernel '" + m.kernel + "': " + paramName(i) + " is " +
                          std::to_string(want) + " bytes in the manifest, " +
                          std::to_string(size) + " bytes in the cubin");
    if (m.params[i].kind == ParamKind::TensorMap && offset % 64)
      return setError(MOE_RT_ERROR_ABI_MISMATCH,
                      "kernel '" + m.kernel + "': " + paramName(i) +
                          " sits at offset " + std::to_string(offset) +
                          "; a CUtensorMap parameter must be 64-byte aligned "
                          "(.param .align 64 .b8 name[128])");
  }
  size_t offset = 0, size = 0;
  if (d.cuFuncGetParamInfo(fn, m.params.size(), &offset, &size) == CUDA_SUCCESS)
    return setError(
        MOE_RT_ERROR_ABI_MISMATCH,
        "kernel '" + m.kernel + "' takes more parameters than the " +
            std::to_string(m.params.size()) + " that the manifest lists");
  return MOE_RT_SUCCESS;
}

/// Finds k's device and the first build in the manifest (the top-level
/// one, then "images") that it runs; makes that build the manifest's arch,
/// cubin, (if the image has its own) dynamic shared memory and (an image)
/// variants: useImage. Idempotent.
static moeRtStatus selectImage(moeRtKernel_ &k) {
  Manifest &m = k.manifest;
  std::string error;
  const CudaDriver *drv = getCudaDriver(error);
  if (!drv)
    return setError(MOE_RT_ERROR_DRIVER_UNAVAILABLE, error);
  const CudaDriver &d = *drv;
  k.driver = drv;

  int count = 0;
  MOE_RT_CU_CHECK(d, cuDeviceGetCount(&count), MOE_RT_ERROR_CUDA, "");
  if (k.device < 0 || k.device >= count)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "device " + std::to_string(k.device) + " does not exist (" +
                        std::to_string(count) + " devices)");
  MOE_RT_CU_CHECK(d, cuDeviceGet(&k.cuDevice, k.device), MOE_RT_ERROR_CUDA, "");
  int major = 0, minor = 0;
  MOE_RT_CU_CHECK(
      d,
      cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                           k.cuDevice),
      MOE_RT_ERROR_CUDA, "");
  MOE_RT_CU_CHECK(
      d,
      cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                           k.cuDevice),
      MOE_RT_ERROR_CUDA, "");
  std::vector<KernelImage> images = kernelImages(m);
  for (size_t i = 0; i < images.size(); ++i) {
    if (!images[i].runsOn(static_cast<unsigned>(major),
                          static_cast<unsigned>(minor)))
      continue;
    useImage(m, i);
    return MOE_RT_SUCCESS;
  }
  char devName[256] = {0};
  d.cuDeviceGetName(devName, sizeof(devName) - 1, k.cuDevice);
  std::string built;
  for (const KernelImage &image : images)
    built += (built.empty() ? "" : ", ") + image.arch;
  return setError(MOE_RT_ERROR_UNSUPPORTED_DEVICE,
                  "kernel '" + m.kernel + "' is built for " + built +
                      "; device " + std::to_string(k.device) + " (" + devName +
                      ") is sm_" + std::to_string(major) +
                      std::to_string(minor));
}

static moeRtStatus loadImpl(moeRtKernel_ &k, const void *image,
                            size_t imageSize) {
  if (moeRtStatus st = selectImage(k))
    return st;
  const Manifest &m = k.manifest;
  const CudaDriver &d = *k.driver;
  MOE_RT_CU_CHECK(d,
                  cuDeviceGetAttribute(&k.numSms,
                                       CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                       k.cuDevice),
                  MOE_RT_ERROR_CUDA, "");

  MOE_RT_CU_CHECK(d, cuDevicePrimaryCtxRetain(&k.context, k.cuDevice),
                  MOE_RT_ERROR_CUDA, "");
  ContextScope scope(d);
  if (CUresult r = scope.push(k.context); r != CUDA_SUCCESS) {
    d.cuDevicePrimaryCtxRelease(k.cuDevice);
    k.context = nullptr;
    return setError(MOE_RT_ERROR_CUDA, d.describe("cuCtxPushCurrent", r));
  }
  // From here on, a failure releases what was taken (moeRtUnload does it).
  auto fail = [&](moeRtStatus code) {
    if (k.module)
      d.cuModuleUnload(k.module);
    k.module = nullptr;
    d.cuDevicePrimaryCtxRelease(k.cuDevice);
    k.context = nullptr;
    return code;
  };

  // A cubin (ELF) or fatbin goes as is; anything else is taken as PTX text,
  // which the driver wants NUL-terminated.
  const unsigned char *bytes = static_cast<const unsigned char *>(image);
  bool elf = imageSize >= 4 && bytes[0] == 0x7f && bytes[1] == 'E' &&
             bytes[2] == 'L' && bytes[3] == 'F';
  bool fatbin = imageSize >= 4 && bytes[0] == 0x50 && bytes[1] == 0xed &&
                bytes[2] == 0x55 && bytes[3] == 0xba;
  std::string ptx;
  const void *loadFrom = image;
  if (!elf && !fatbin) {
    ptx.assign(static_cast<const char *>(image), imageSize);
    loadFrom = ptx.c_str();
  }
  if (CUresult r = d.cuModuleLoadData(&k.module, loadFrom); r != CUDA_SUCCESS) {
    k.module = nullptr;
    setError(MOE_RT_ERROR_CUDA, "kernel '" + m.kernel + "' (" + m.arch +
                                    ") on device " + std::to_string(k.device) +
                                    ": " + d.describe("cuModuleLoadData", r));
    return fail(MOE_RT_ERROR_CUDA);
  }
  // The kernel and its variants: same parameters, grid and block, each with
  // its own dynamic shared memory and cluster.
  auto prepare = [&](const std::string &name, uint32_t dynamicSmemBytes,
                     const std::array<uint32_t, 3> &cluster,
                     LoadedFunction &loaded) -> moeRtStatus {
    CUfunction &fn = loaded.function;
    if (CUresult r = d.cuModuleGetFunction(&fn, k.module, name.c_str());
        r != CUDA_SUCCESS) {
      return setError(r == CUDA_ERROR_NOT_FOUND ? MOE_RT_ERROR_ABI_MISMATCH
                                                : MOE_RT_ERROR_CUDA,
                      "the cubin has no kernel named '" + name +
                          "': " + d.describe("cuModuleGetFunction", r));
    }
    if (moeRtStatus st = checkParamAbi(d, m, fn))
      return st;
    int maxThreads = 0, staticSmem = 0, optinSmem = 0;
    d.cuFuncGetAttribute(&maxThreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                         fn);
    d.cuFuncGetAttribute(&staticSmem, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, fn);
    d.cuDeviceGetAttribute(
        &optinSmem, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
        k.cuDevice);
    uint64_t threads = uint64_t(m.block[0]) * m.block[1] * m.block[2];
    if (maxThreads > 0 && threads > static_cast<uint64_t>(maxThreads))
      return setError(MOE_RT_ERROR_ABI_MISMATCH,
                      "kernel '" + name + "' allows at most " +
                          std::to_string(maxThreads) +
                          " threads per block (registers or .maxntid); the "
                          "manifest's block has " +
                          std::to_string(threads));
    if (optinSmem > 0 &&
        uint64_t(staticSmem) + dynamicSmemBytes > uint64_t(optinSmem))
      return setError(MOE_RT_ERROR_UNSUPPORTED_DEVICE,
                      "kernel '" + name + "' needs " +
                          std::to_string(dynamicSmemBytes) +
                          " bytes of dynamic shared memory + " +
                          std::to_string(staticSmem) + " static; device " +
                          std::to_string(k.device) + " allows " +
                          std::to_string(optinSmem) + " per block");
    if (dynamicSmemBytes) {
      if (CUresult r = d.cuFuncSetAttribute(
              fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
              static_cast<int>(dynamicSmemBytes));
          r != CUDA_SUCCESS)
        return setError(MOE_RT_ERROR_CUDA,
                        "kernel '" + name + "': " +
                            d.describe("cuFuncSetAttribute(MAX_DYNAMIC_"
                                       "SHARED_SIZE_BYTES)",
                                       r));
    }
    uint64_t clusterCtas = uint64_t(cluster[0]) * cluster[1] * cluster[2];
    if (clusterCtas > 1) {
      int clusterLaunch = 0;
      d.cuDeviceGetAttribute(&clusterLaunch, CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH,
                             k.cuDevice);
      if (!clusterLaunch)
        return setError(MOE_RT_ERROR_UNSUPPORTED_DEVICE,
                        "kernel '" + name + "' launches clusters of " +
                            std::to_string(clusterCtas) + " CTAs; device " +
                            std::to_string(k.device) + " cannot");
      if (clusterCtas > 8) {
        if (CUresult r = d.cuFuncSetAttribute(
                fn, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1);
            r != CUDA_SUCCESS)
          return setError(
              MOE_RT_ERROR_UNSUPPORTED_DEVICE,
              "kernel '" + name + "' launches clusters of " +
                  std::to_string(clusterCtas) + " CTAs (over 8): " +
                  d.describe("cuFuncSetAttribute(NON_PORTABLE_CLUSTER_"
                             "SIZE_ALLOWED)",
                             r));
      }
      // How many of its clusters are co-resident, to size the persistent
      // grid: a cluster sits in one GPC, so with one CTA per SM not every
      // group of SMs takes one (an H200 holds all 66 2-CTA clusters of such
      // a kernel, but only 30 4-CTA ones: 120 CTAs, not 132), and clusters
      // beyond would wait for a second wave. The query takes the launch's
      // block, shared memory and cluster; its grid only has to be whole
      // clusters. Unknown when it fails: the grid is then the SM count. A
      // fixed grid is launched as it is.
      if (m.persistentGrid && d.cuOccupancyMaxActiveClusters) {
        CUlaunchAttribute attr;
        std::memset(&attr, 0, sizeof(attr));
        attr.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
        attr.value.clusterDim.x = cluster[0];
        attr.value.clusterDim.y = cluster[1];
        attr.value.clusterDim.z = cluster[2];
        uint32_t sms = static_cast<uint32_t>(k.numSms);
        CUlaunchConfig lc;
        std::memset(&lc, 0, sizeof(lc));
        lc.gridDimX = sms >= cluster[0] ? sms - sms % cluster[0] : cluster[0];
        lc.gridDimY = lc.gridDimZ = 1;
        lc.blockDimX = m.block[0];
        lc.blockDimY = m.block[1];
        lc.blockDimZ = m.block[2];
        lc.sharedMemBytes = dynamicSmemBytes;
        lc.attrs = &attr;
        lc.numAttrs = 1;
        int active = 0;
        if (d.cuOccupancyMaxActiveClusters(&active, fn, &lc) == CUDA_SUCCESS &&
            active >= 0)
          loaded.maxActiveClusters = static_cast<uint32_t>(active);
      }
    }
    return MOE_RT_SUCCESS;
  };
  k.functions.assign(m.variants.size() + 1, LoadedFunction());
  if (moeRtStatus st =
          prepare(m.kernel, m.dynamicSmemBytes, m.cluster, k.functions[0]))
    return fail(st);
  for (size_t i = 0; i < m.variants.size(); ++i)
    if (moeRtStatus st =
            prepare(m.variants[i].kernel, m.variants[i].dynamicSmemBytes,
                    m.variants[i].cluster, k.functions[i + 1]))
      return fail(st);
  k.loaded = true;
  return MOE_RT_SUCCESS;
}

static moeRtStatus createKernel(const char *manifestJson, size_t manifestSize,
                                int32_t device, moeRtKernel *out,
                                moeRtKernel_ *&k) {
  if (!out)
    return setError(MOE_RT_ERROR_INVALID_VALUE, "the kernel output is null");
  *out = nullptr;
  if (!manifestJson)
    return setError(MOE_RT_ERROR_INVALID_VALUE, "the manifest text is null");
  if (device < 0)
    return setError(MOE_RT_ERROR_INVALID_VALUE, "device " +
                                                    std::to_string(device) +
                                                    " is not a device ordinal");
  k = new moeRtKernel_();
  k->device = device;
  std::string error;
  if (!parseManifest(std::string_view(manifestJson, manifestSize), k->manifest,
                     error)) {
    delete k;
    k = nullptr;
    return setError(MOE_RT_ERROR_INVALID_MANIFEST, error);
  }
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtKernelCreateUnloaded(const char *manifestJson,
                                                 size_t manifestSize,
                                                 int32_t device,
                                                 moeRtKernel *kernel) {
  lastError.clear();
  moeRtKernel_ *k = nullptr;
  if (moeRtStatus st =
          createKernel(manifestJson, manifestSize, device, kernel, k))
    return st;
  *kernel = k;
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus
moeRtLoadArtifactFromMemory(const char *manifestJson, size_t manifestSize,
                            const void *image, size_t imageSize, int32_t device,
                            moeRtKernel *kernel) {
  lastError.clear();
  if (!image || imageSize == 0)
    return setError(MOE_RT_ERROR_INVALID_VALUE, "the cubin image is empty");
  moeRtKernel_ *k = nullptr;
  if (moeRtStatus st =
          createKernel(manifestJson, manifestSize, device, kernel, k))
    return st;
  if (moeRtStatus st = loadImpl(*k, image, imageSize)) {
    delete k;
    return st;
  }
  *kernel = k;
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtLoadArtifact(const char *dir, int32_t device,
                                         moeRtKernel *kernel) {
  lastError.clear();
  if (!kernel)
    return setError(MOE_RT_ERROR_INVALID_VALUE, "the kernel output is null");
  *kernel = nullptr;
  if (!dir)
    return setError(MOE_RT_ERROR_INVALID_VALUE, "the directory is null");
  std::string base = dir;
  if (!base.empty() && base.back() != '/')
    base += '/';
  std::vector<char> text, image;
  std::string error;
  if (!readFile(base + "manifest.json", text, error))
    return setError(MOE_RT_ERROR_IO, error);
  moeRtKernel_ *k = nullptr;
  if (moeRtStatus st =
          createKernel(text.data(), text.size(), device, kernel, k))
    return setError(st, base + "manifest.json: " + lastError);
  // The build the device runs, of those the manifest lists.
  if (moeRtStatus st = selectImage(*k)) {
    delete k;
    return st;
  }
  const std::string &cubin = k->manifest.cubin;
  std::string path = cubin[0] == '/' ? cubin : base + cubin;
  if (!readFile(path, image, error)) {
    delete k;
    return setError(MOE_RT_ERROR_IO,
                    "the cubin of " + base + "manifest.json: " + error);
  }
  if (image.empty()) {
    delete k;
    return setError(MOE_RT_ERROR_IO, "the cubin '" + path + "' is empty");
  }
  if (moeRtStatus st = loadImpl(*k, image.data(), image.size())) {
    delete k;
    return st;
  }
  *kernel = k;
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtUnload(moeRtKernel k) {
  lastError.clear();
  if (!k)
    return MOE_RT_SUCCESS;
  moeRtStatus status = MOE_RT_SUCCESS;
  if (k->loaded) {
    const CudaDriver &d = *k->driver;
    ContextScope scope(d);
    if (CUresult r = scope.push(k->context); r != CUDA_SUCCESS) {
      status = setError(MOE_RT_ERROR_CUDA, d.describe("cuCtxPushCurrent", r));
    } else if (CUresult r = d.cuModuleUnload(k->module); r != CUDA_SUCCESS) {
      status = setError(MOE_RT_ERROR_CUDA, d.describe("cuModuleUnload", r));
    }
  }
  if (k->context)
    k->driver->cuDevicePrimaryCtxRelease(k->cuDevice);
  delete k;
  return status;
}

/// The grid that kernel `choice` (selectKernel's numbering) of a loaded
/// `k` launches on: computeGrid with that kernel's cluster and, for a
/// persistent grid of clusters, no more CTAs than are co-resident.
static bool kernelGrid(const moeRtKernel_ &k, size_t choice, uint32_t maxSms,
                       uint32_t grid[3], std::string &error) {
  const Manifest &m = k.manifest;
  uint32_t clusterX = kernelCluster(m, choice)[0];
  std::optional<uint32_t> maxCtas;
  if (choice < k.functions.size())
    if (std::optional<uint32_t> clusters =
            k.functions[choice].maxActiveClusters)
      maxCtas = static_cast<uint32_t>(
          std::min<uint64_t>(uint64_t(*clusters) * clusterX, UINT32_MAX));
  return computeGrid(m, static_cast<uint32_t>(k.numSms), maxSms, clusterX,
                     maxCtas, grid, error);
}

//===----------------------------------------------------------------------===//
// Queries
//===----------------------------------------------------------------------===//

extern "C" moeRtStatus moeRtKernelGetInfo(moeRtKernel k,
                                          moeRtKernelInfo *info) {
  lastError.clear();
  if (!k || !info)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "moeRtKernelGetInfo: null kernel or info");
  const Manifest &m = k->manifest;
  std::memset(info, 0, sizeof(*info));
  info->name = m.kernel.c_str();
  info->arch = m.arch.c_str();
  info->compiler = m.compiler.c_str();
  info->contentHash = m.contentHash.c_str();
  info->device = k->device;
  info->loaded = k->loaded;
  info->numTensors = static_cast<int32_t>(m.tensors.size());
  info->numParams = static_cast<int32_t>(m.params.size());
  info->numScalars = static_cast<int32_t>(m.numCallScalars);
  info->persistentGrid = m.persistentGrid;
  // The primary kernel's (a variant may have another cluster, hence another
  // persistent grid; moeRtKernelSelect names the kernel a launch runs).
  std::string unused;
  if (!m.persistentGrid || !k->loaded ||
      !kernelGrid(*k, 0, 0, info->grid, unused)) {
    for (int i = 0; i < 3; ++i)
      info->grid[i] = m.persistentGrid ? 0 : m.grid[i];
  }
  for (int i = 0; i < 3; ++i) {
    info->block[i] = m.block[i];
    info->cluster[i] = m.cluster[i];
  }
  info->dynamicSmemBytes = m.dynamicSmemBytes;
  info->workspaceBytes = m.workspaceBytes;
  info->workspaceZeroBytes = static_cast<uint32_t>(m.workspaceZeroBytes);
  info->maxTokens = m.maxTokens;
  info->numSms = k->numSms;
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtKernelGetTensorInfo(moeRtKernel k, int32_t index,
                                                moeRtTensorInfo *info) {
  lastError.clear();
  if (!k || !info)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "moeRtKernelGetTensorInfo: null kernel or info");
  const Manifest &m = k->manifest;
  if (index < 0 || static_cast<size_t>(index) >= m.tensors.size())
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "tensor index " + std::to_string(index) +
                        " is out of range: kernel '" + m.kernel + "' has " +
                        std::to_string(m.tensors.size()) + " tensors");
  const TensorSpec &t = m.tensors[index];
  std::memset(info, 0, sizeof(*info));
  info->name = t.name.c_str();
  info->dtype = t.dtype;
  info->rank = static_cast<int32_t>(t.shape.size());
  for (size_t d = 0; d < t.shape.size(); ++d)
    info->shape[d] = t.shape[d];
  info->alignment = t.alignment;
  info->role = t.role;
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtKernelSelect(moeRtKernel k, int64_t numTokens,
                                         const char **kernelName) {
  lastError.clear();
  if (!k || !kernelName)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "moeRtKernelSelect: null kernel or name");
  const Manifest &m = k->manifest;
  if (numTokens < 0)
    return setError(MOE_RT_ERROR_TOKEN_COUNT,
                    "kernel '" + m.kernel + "': T = " +
                        std::to_string(numTokens) + " is negative");
  size_t choice = selectKernel(m, numTokens);
  *kernelName = moe::runtime::kernelName(m, choice).c_str();
  return MOE_RT_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Arguments and launch
//===----------------------------------------------------------------------===//

extern "C" void moeRtLaunchConfigInit(moeRtLaunchConfig *config) {
  if (!config)
    return;
  std::memset(config, 0, sizeof(*config));
  config->numTokens = MOE_RT_INFER_TOKENS;
}

extern "C" moeRtStatus moeRtTensorArgInit(moeRtTensorArg *arg, uint64_t data,
                                          int32_t dtype, int32_t rank,
                                          const int64_t *shape,
                                          int32_t device) {
  lastError.clear();
  if (!arg || rank < 0 || rank > MOE_RT_MAX_RANK || (rank > 0 && !shape))
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "moeRtTensorArgInit: null argument or shape, or rank " +
                        std::to_string(rank) + " outside [0, " +
                        std::to_string(MOE_RT_MAX_RANK) + "]");
  std::memset(arg, 0, sizeof(*arg));
  arg->data = data;
  arg->dtype = dtype;
  arg->rank = rank;
  arg->device = device;
  int64_t stride = 1;
  for (int32_t d = rank - 1; d >= 0; --d) {
    arg->shape[d] = shape[d];
    arg->strides[d] = stride;
    stride *= shape[d] > 1 ? shape[d] : 1;
  }
  return MOE_RT_SUCCESS;
}

static moeRtStatus validate(moeRtKernel k, const moeRtTensorArg *args,
                            int32_t numArgs, const moeRtLaunchConfig *config,
                            int64_t &numTokens) {
  if (!k)
    return setError(MOE_RT_ERROR_INVALID_VALUE, "the kernel handle is null");
  moeRtLaunchConfig defaults;
  moeRtLaunchConfigInit(&defaults);
  std::string error;
  moeRtStatus st =
      validateArguments(k->manifest, k->device, args, numArgs,
                        config ? *config : defaults, numTokens, error);
  if (st)
    return setError(st, "kernel '" + k->manifest.kernel + "': " + error);
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus
moeRtValidateArgs(moeRtKernel k, const moeRtTensorArg *args, int32_t numArgs,
                  const moeRtLaunchConfig *config, int64_t *numTokens) {
  lastError.clear();
  int64_t T = 0;
  if (moeRtStatus st = validate(k, args, numArgs, config, T))
    return st;
  if (numTokens)
    *numTokens = T;
  return MOE_RT_SUCCESS;
}

/// Where each tensor really is, from the driver (MOE_RT_LAUNCH_CHECK_POINTERS).
static moeRtStatus checkPointers(const moeRtKernel_ &k,
                                 const moeRtTensorArg *args) {
  const CudaDriver &d = *k.driver;
  const Manifest &m = k.manifest;
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const moeRtTensorArg &a = args[i];
    if (a.data == 0)
      continue; // empty (validation rejects a null with elements)
    int ordinal = -1;
    CUresult r =
        d.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                                static_cast<CUdeviceptr>(a.data));
    std::string who = "kernel '" + m.kernel + "': argument '" +
                      m.tensors[i].name + "' (#" + std::to_string(i) + ")";
    if (r != CUDA_SUCCESS)
      return setError(
          MOE_RT_ERROR_ARG_DEVICE,
          who + ": the driver does not know address 0x" +
              [&] {
                char buf[24];
                std::snprintf(buf, sizeof(buf), "%llx",
                              (unsigned long long)a.data);
                return std::string(buf);
              }() +
              " (host memory?): " + d.describe("cuPointerGetAttribute", r));
    if (ordinal != k.device)
      return setError(MOE_RT_ERROR_ARG_DEVICE,
                      who + ": the driver puts it on device " +
                          std::to_string(ordinal) + ", expected device " +
                          std::to_string(k.device));
  }
  return MOE_RT_SUCCESS;
}

static CUtensorMapDataType toCu(TmaDataType t) {
  return static_cast<CUtensorMapDataType>(static_cast<uint32_t>(t));
}

static std::string describePlan(const TensorMapPlan &p) {
  auto list = [&](auto *v, unsigned n) {
    std::string s = "{";
    for (unsigned i = 0; i < n; ++i)
      s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "}";
  };
  char addr[24];
  std::snprintf(addr, sizeof(addr), "0x%llx",
                (unsigned long long)p.globalAddress);
  return "dataType=" + std::to_string(static_cast<uint32_t>(p.dataType)) +
         " rank=" + std::to_string(p.rank) + " address=" + addr +
         " globalDim=" + list(p.globalDim, p.rank) +
         " globalStrides=" + list(p.globalStrides, p.rank - 1) +
         " boxDim=" + list(p.boxDim, p.rank) +
         " elementStrides=" + list(p.elementStrides, p.rank) +
         " interleave=" + std::to_string(p.interleave) +
         " swizzle=" + std::to_string(p.swizzle) +
         " l2Promotion=" + std::to_string(p.l2Promotion) +
         " oobFill=" + std::to_string(p.oobFill);
}

extern "C" moeRtStatus moeRtLaunch(moeRtKernel k, const moeRtTensorArg *args,
                                   int32_t numArgs,
                                   const moeRtLaunchConfig *config,
                                   moeRtStream stream) {
  lastError.clear();
  if (!k)
    return setError(MOE_RT_ERROR_INVALID_VALUE, "the kernel handle is null");
  const Manifest &m = k->manifest;
  if (!k->loaded)
    return setError(MOE_RT_ERROR_NOT_LOADED,
                    "kernel '" + m.kernel +
                        "' was created from a manifest alone; load the "
                        "artifact to launch it");
  moeRtLaunchConfig defaults;
  moeRtLaunchConfigInit(&defaults);
  const moeRtLaunchConfig &cfg = config ? *config : defaults;
  int64_t T = 0;
  if (moeRtStatus st = validate(k, args, numArgs, &cfg, T))
    return st;
  // T = 0: every T-sized tensor is empty and the descriptors of those could
  // not even be encoded. Nothing to do, unless other ranks wait for this
  // one (an expert-parallel kernel takes part with no tokens of its own).
  if (m.usesTokens && T == 0 && !m.expertParallel)
    return MOE_RT_SUCCESS;

  const CudaDriver &d = *k->driver;
  ContextScope scope(d);
  if (CUresult r = scope.push(k->context); r != CUDA_SUCCESS)
    return setError(MOE_RT_ERROR_CUDA, d.describe("cuCtxPushCurrent", r));
  if (cfg.flags & MOE_RT_LAUNCH_CHECK_POINTERS)
    if (moeRtStatus st = checkPointers(*k, args))
      return st;

  // The kernel for this T: a variant whose token range holds it, if any.
  // Its cluster sizes the persistent grid and the launch.
  size_t choice = selectKernel(m, T);
  CUfunction function = k->functions[choice].function;
  const std::string &kernelName = moe::runtime::kernelName(m, choice);
  uint32_t smemBytes = kernelDynamicSmemBytes(m, choice);
  const std::array<uint32_t, 3> &cluster = kernelCluster(m, choice);
  uint32_t grid[3];
  std::string error;
  if (!kernelGrid(*k, choice, cfg.maxSms, grid, error))
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "kernel '" + kernelName + "': " + error);

  // The parameter buffer, in ABI order. Every value lives in a slot that
  // outlives the launch call; i32 values sit in the slot's first 4 bytes.
  CUtensorMap maps[kMaxTensorMaps]; // cuda.h aligns the type (64 or more)
  uint64_t values[kMaxParams];
  void *params[kMaxParams];
  size_t numMaps = 0;
  for (size_t i = 0; i < m.params.size(); ++i) {
    const ParamSpec &p = m.params[i];
    params[i] = &values[i];
    auto putScalar = [&](int64_t v) {
      values[i] = 0;
      if (p.type == ScalarType::I32) {
        int32_t v32 = static_cast<int32_t>(v);
        std::memcpy(&values[i], &v32, sizeof(v32));
      } else {
        std::memcpy(&values[i], &v, sizeof(v));
      }
    };
    switch (p.kind) {
    case ParamKind::Tensor:
      values[i] = args[p.index].data;
      break;
    case ParamKind::Workspace:
      values[i] = cfg.workspace;
      break;
    case ParamKind::TokenCount:
      putScalar(T);
      break;
    case ParamKind::Scalar:
      putScalar(p.hasValue ? p.value : cfg.scalars[p.index]);
      break;
    case ParamKind::TensorMap: {
      const TensorMapSpec &spec = m.tensorMaps[p.index];
      TensorMapPlan plan;
      if (moeRtStatus st =
              planTensorMap(m, spec, args, cfg.workspace, plan, error))
        return setError(st, "kernel '" + m.kernel + "': " + error);
      CUtensorMap *map = &maps[numMaps++];
      CUresult r = d.cuTensorMapEncodeTiled(
          map, toCu(plan.dataType), plan.rank,
          reinterpret_cast<void *>(static_cast<uintptr_t>(plan.globalAddress)),
          plan.globalDim, plan.globalStrides, plan.boxDim, plan.elementStrides,
          static_cast<CUtensorMapInterleave>(plan.interleave),
          static_cast<CUtensorMapSwizzle>(plan.swizzle),
          static_cast<CUtensorMapL2promotion>(plan.l2Promotion),
          static_cast<CUtensorMapFloatOOBfill>(plan.oobFill));
      if (r != CUDA_SUCCESS)
        return setError(
            MOE_RT_ERROR_TENSOR_MAP,
            "kernel '" + m.kernel + "': TMA descriptor '" + spec.name +
                (spec.overWorkspace
                     ? "' over the workspace (offset " +
                           std::to_string(spec.workspaceOffset) + ")"
                     : "' of argument '" + m.tensors[spec.tensor].name + "'") +
                ": " + d.describe("cuTensorMapEncodeTiled", r) + " [" +
                describePlan(plan) + "]");
      params[i] = map;
      break;
    }
    }
  }

  CUlaunchAttribute attrs[2];
  unsigned numAttrs = 0;
  bool clustered = uint64_t(cluster[0]) * cluster[1] * cluster[2] > 1;
  if (clustered) {
    attrs[numAttrs].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attrs[numAttrs].value.clusterDim.x = cluster[0];
    attrs[numAttrs].value.clusterDim.y = cluster[1];
    attrs[numAttrs].value.clusterDim.z = cluster[2];
    ++numAttrs;
  }
  if (cfg.flags & MOE_RT_LAUNCH_PDL) {
    attrs[numAttrs].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attrs[numAttrs].value.programmaticStreamSerializationAllowed = 1;
    ++numAttrs;
  }
  // The prefix of the workspace that the kernel expects zeroed (counters,
  // flags), on the launch's stream just before it: stream-ordered, so it is
  // captured with the launch in a CUDA graph. Everything that can reject
  // the call has run by now, so a rejected call zeroes nothing.
  if (m.workspaceZeroBytes)
    MOE_RT_CU_CHECK(d,
                    cuMemsetD32Async(static_cast<CUdeviceptr>(cfg.workspace), 0,
                                     m.workspaceZeroBytes / 4,
                                     reinterpret_cast<CUstream>(stream)),
                    MOE_RT_ERROR_CUDA,
                    "kernel '" + kernelName + "': zeroing the first " +
                        std::to_string(m.workspaceZeroBytes) +
                        " bytes of the workspace: ");

  CUlaunchConfig lc;
  std::memset(&lc, 0, sizeof(lc));
  lc.gridDimX = grid[0];
  lc.gridDimY = grid[1];
  lc.gridDimZ = grid[2];
  lc.blockDimX = m.block[0];
  lc.blockDimY = m.block[1];
  lc.blockDimZ = m.block[2];
  lc.sharedMemBytes = smemBytes;
  lc.hStream = reinterpret_cast<CUstream>(stream);
  lc.attrs = numAttrs ? attrs : nullptr;
  lc.numAttrs = numAttrs;
  MOE_RT_CU_CHECK(
      d, cuLaunchKernelEx(&lc, function, params, nullptr), MOE_RT_ERROR_CUDA,
      "kernel '" + kernelName + "' (grid " + std::to_string(grid[0]) + "x" +
          std::to_string(grid[1]) + "x" + std::to_string(grid[2]) +
          (clustered ? ", cluster " + std::to_string(cluster[0]) + "x" +
                           std::to_string(cluster[1]) + "x" +
                           std::to_string(cluster[2])
                     : std::string()) +
          ", block " + std::to_string(m.block[0]) + "x" +
          std::to_string(m.block[1]) + "x" + std::to_string(m.block[2]) +
          ", T = " + std::to_string(T) + "): ");
  return MOE_RT_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Device memory
//===----------------------------------------------------------------------===//

std::string moe::runtime::hexAddress(uint64_t address) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)address);
  return buf;
}

/// The primary context of `device`, retained by the first device-memory call
/// on it and kept until the process ends, so that memory allocated through
/// this API outlives every kernel handle.
moeRtStatus moe::runtime::getDeviceContext(const std::string &what,
                                           int32_t device,
                                           const CudaDriver *&driver,
                                           CUcontext &context) {
  std::string error;
  driver = getCudaDriver(error);
  if (!driver)
    return setError(MOE_RT_ERROR_DRIVER_UNAVAILABLE, what + ": " + error);
  const CudaDriver &d = *driver;
  static std::mutex mutex;
  static std::vector<CUcontext> contexts; // by ordinal; null until retained
  std::lock_guard<std::mutex> lock(mutex);
  if (static_cast<size_t>(device) < contexts.size() && contexts[device]) {
    context = contexts[device];
    return MOE_RT_SUCCESS;
  }
  int count = 0;
  MOE_RT_CU_CHECK(d, cuDeviceGetCount(&count), MOE_RT_ERROR_CUDA, what + ": ");
  if (device >= count)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what + ": device " + std::to_string(device) +
                        " does not exist (" + std::to_string(count) +
                        " devices)");
  CUdevice cuDevice = 0;
  MOE_RT_CU_CHECK(d, cuDeviceGet(&cuDevice, device), MOE_RT_ERROR_CUDA,
                  what + ": ");
  MOE_RT_CU_CHECK(d, cuDevicePrimaryCtxRetain(&context, cuDevice),
                  MOE_RT_ERROR_CUDA, what + ": ");
  if (contexts.size() <= static_cast<size_t>(device))
    contexts.resize(device + 1, nullptr);
  contexts[device] = context;
  return MOE_RT_SUCCESS;
}

namespace {
/// One device-memory call: its description for messages ("moeRtDeviceAlloc
/// (device 0, 4096 bytes)") and, once entered, the primary context of its
/// device made current until the call returns.
class DeviceCall {
public:
  explicit DeviceCall(std::string what) : what(std::move(what)) {}

  /// Rejects a negative ordinal; the driver checks the rest.
  moeRtStatus checkOrdinal(int32_t device) const {
    if (device < 0)
      return setError(MOE_RT_ERROR_INVALID_VALUE,
                      what + ": device " + std::to_string(device) +
                          " is not a device ordinal");
    return MOE_RT_SUCCESS;
  }
  moeRtStatus invalid(const std::string &why) const {
    return setError(MOE_RT_ERROR_INVALID_VALUE, what + ": " + why);
  }
  /// Loads the driver, checks `device` and pushes its primary context.
  moeRtStatus enter(int32_t device) {
    CUcontext context = nullptr;
    if (moeRtStatus st = getDeviceContext(what, device, driver, context))
      return st;
    scope.emplace(*driver);
    if (CUresult r = scope->push(context); r != CUDA_SUCCESS)
      return check("cuCtxPushCurrent", r);
    return MOE_RT_SUCCESS;
  }
  const CudaDriver &d() const { return *driver; }
  /// MOE_RT_ERROR_CUDA with the call and its error if `r` is an error.
  moeRtStatus check(const char *call, CUresult r) const {
    if (r == CUDA_SUCCESS)
      return MOE_RT_SUCCESS;
    return setError(MOE_RT_ERROR_CUDA, what + ": " + driver->describe(call, r));
  }

private:
  std::string what;
  const CudaDriver *driver = nullptr;
  std::optional<ContextScope> scope;
};
} // namespace

extern "C" moeRtStatus moeRtDeviceAlloc(int32_t device, uint64_t bytes,
                                        uint64_t *ptr) {
  lastError.clear();
  DeviceCall call("moeRtDeviceAlloc(device " + std::to_string(device) + ", " +
                  std::to_string(bytes) + " bytes)");
  if (moeRtStatus st = call.checkOrdinal(device))
    return st;
  if (!ptr)
    return call.invalid("the address output is null");
  *ptr = 0;
  if (bytes == 0)
    return MOE_RT_SUCCESS;
  if (moeRtStatus st = call.enter(device))
    return st;
  CUdeviceptr p = 0;
  if (moeRtStatus st = call.check("cuMemAlloc", call.d().cuMemAlloc(&p, bytes)))
    return st;
  *ptr = static_cast<uint64_t>(p);
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtDeviceFree(int32_t device, uint64_t ptr) {
  lastError.clear();
  DeviceCall call("moeRtDeviceFree(device " + std::to_string(device) + ", " +
                  hexAddress(ptr) + ")");
  if (moeRtStatus st = call.checkOrdinal(device))
    return st;
  if (ptr == 0)
    return MOE_RT_SUCCESS;
  if (moeRtStatus st = call.enter(device))
    return st;
  return call.check("cuMemFree",
                    call.d().cuMemFree(static_cast<CUdeviceptr>(ptr)));
}

extern "C" moeRtStatus moeRtCopyToDevice(int32_t device, uint64_t dst,
                                         const void *src, uint64_t bytes) {
  lastError.clear();
  DeviceCall call("moeRtCopyToDevice(device " + std::to_string(device) +
                  ", to " + hexAddress(dst) + ", " + std::to_string(bytes) +
                  " bytes)");
  if (moeRtStatus st = call.checkOrdinal(device))
    return st;
  if (bytes == 0)
    return MOE_RT_SUCCESS;
  if (!src)
    return call.invalid("the host source is null");
  if (dst == 0)
    return call.invalid("the device address is null");
  if (moeRtStatus st = call.enter(device))
    return st;
  return call.check("cuMemcpyHtoD",
                    call.d().cuMemcpyHtoD(static_cast<CUdeviceptr>(dst), src,
                                          static_cast<size_t>(bytes)));
}

extern "C" moeRtStatus moeRtCopyFromDevice(int32_t device, void *dst,
                                           uint64_t src, uint64_t bytes) {
  lastError.clear();
  DeviceCall call("moeRtCopyFromDevice(device " + std::to_string(device) +
                  ", from " + hexAddress(src) + ", " + std::to_string(bytes) +
                  " bytes)");
  if (moeRtStatus st = call.checkOrdinal(device))
    return st;
  if (bytes == 0)
    return MOE_RT_SUCCESS;
  if (!dst)
    return call.invalid("the host destination is null");
  if (src == 0)
    return call.invalid("the device address is null");
  if (moeRtStatus st = call.enter(device))
    return st;
  // cuMemcpyDtoH waits for the work queued before it on the legacy default
  // stream, and returns when the data has arrived.
  return call.check("cuMemcpyDtoH",
                    call.d().cuMemcpyDtoH(dst, static_cast<CUdeviceptr>(src),
                                          static_cast<size_t>(bytes)));
}

extern "C" moeRtStatus moeRtDeviceMemsetD16(int32_t device, uint64_t dst,
                                            uint16_t value, uint64_t count) {
  lastError.clear();
  DeviceCall call("moeRtDeviceMemsetD16(device " + std::to_string(device) +
                  ", " + hexAddress(dst) + ", " + std::to_string(count) +
                  " values = " + std::to_string(2 * count) + " bytes)");
  if (moeRtStatus st = call.checkOrdinal(device))
    return st;
  if (count == 0)
    return MOE_RT_SUCCESS;
  if (dst == 0)
    return call.invalid("the device address is null");
  if (dst % 2)
    return call.invalid("the device address is not 2-byte aligned");
  if (moeRtStatus st = call.enter(device))
    return st;
  return call.check("cuMemsetD16",
                    call.d().cuMemsetD16(static_cast<CUdeviceptr>(dst), value,
                                         static_cast<size_t>(count)));
}

extern "C" moeRtStatus moeRtDeviceSynchronize(int32_t device) {
  lastError.clear();
  DeviceCall call("moeRtDeviceSynchronize(device " + std::to_string(device) +
                  ")");
  if (moeRtStatus st = call.checkOrdinal(device))
    return st;
  if (moeRtStatus st = call.enter(device))
    return st;
  return call.check("cuCtxSynchronize", call.d().cuCtxSynchronize());
}
