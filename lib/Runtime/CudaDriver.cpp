//===- CudaDriver.cpp - The CUDA driver, loaded at run time ---------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

namespace moe::runtime {

#define MOE_CUDA_STR_(x) #x
#define MOE_CUDA_STR(x) MOE_CUDA_STR_(x)

std::string CudaDriver::describe(const char *call, CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (cuGetErrorName)
    cuGetErrorName(result, &name);
  if (cuGetErrorString)
    cuGetErrorString(result, &text);
  std::string s = std::string(call) + " failed: ";
  s += name ? name : "CUresult " + std::to_string(static_cast<int>(result));
  if (text)
    s += std::string(" (") + text + ")";
  return s;
}

/// The CUDA version whose signature of `name` cuda.h declares, to ask
/// cuGetProcAddress for. Normally CUDA_VERSION; but CUDA 13 gave the plain
/// names cuCtxSynchronize and cuCtxGetDevice new signatures
/// (cuCtxSynchronize_v2(CUcontext), cuCtxGetDevice_v2(CUdevice *,
/// CUcontext)) while cuda.h still declares the old ones, so those are asked
/// for at the version of the old signature.
static int procVersion(const char *name) {
  if (std::strcmp(name, "cuCtxSynchronize") == 0 ||
      std::strcmp(name, "cuCtxGetDevice") == 0)
    return 2000;
  return CUDA_VERSION;
}

namespace {
struct LoadedDriver {
  CudaDriver driver;
  std::string error; ///< empty if the driver is usable
};
} // namespace

static LoadedDriver *loadDriver() {
  auto *l = new LoadedDriver();
  // MOE_RT_LIBCUDA names another driver library (tests, unusual installs).
  const char *path = std::getenv("MOE_RT_LIBCUDA");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    l->error = std::string("cannot load the CUDA driver ") + path + ": " +
               (why ? why : "unknown error") +
               " (is an NVIDIA driver installed?)";
    return l;
  }
  using GetProcAddress = CUresult (*)(const char *, void **, int, cuuint64_t,
                                      CUdriverProcAddressQueryResult *);
  auto getProc =
      reinterpret_cast<GetProcAddress>(dlsym(handle, "cuGetProcAddress_v2"));
  // cuGetProcAddress gives the version of each function that matches the
  // cuda.h we were built with; dlsym of the versioned name is the fallback.
  auto resolve = [&](const char *base, const char *versioned) -> void * {
    if (getProc) {
      void *fn = nullptr;
      CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SUCCESS;
      if (getProc(base, &fn, procVersion(base), CU_GET_PROC_ADDRESS_DEFAULT,
                  &found) == CUDA_SUCCESS &&
          found == CU_GET_PROC_ADDRESS_SUCCESS && fn)
        return fn;
    }
    return dlsym(handle, versioned);
  };
  CudaDriver &d = l->driver;
  std::string missing;
#define MOE_CUDA_RESOLVE(name)                                                 \
  d.name =                                                                     \
      reinterpret_cast<decltype(d.name)>(resolve(#name, MOE_CUDA_STR(name)));  \
  if (!d.name)                                                                 \
    missing += std::string(missing.empty() ? "" : ", ") + #name;
  MOE_CUDA_REQUIRED_FUNCTIONS(MOE_CUDA_RESOLVE)
#undef MOE_CUDA_RESOLVE
#define MOE_CUDA_RESOLVE_OPTIONAL(name)                                        \
  d.name =                                                                     \
      reinterpret_cast<decltype(d.name)>(resolve(#name, MOE_CUDA_STR(name)));
  MOE_CUDA_OPTIONAL_FUNCTIONS(MOE_CUDA_RESOLVE_OPTIONAL)
#undef MOE_CUDA_RESOLVE_OPTIONAL
  if (!missing.empty()) {
    l->error = std::string("the CUDA driver ") + path + " lacks " + missing +
               " (CUDA 12.0 or later is needed)";
    return l;
  }
  if (CUresult r = d.cuInit(0); r != CUDA_SUCCESS) {
    l->error = d.describe("cuInit", r);
    return l;
  }
  d.cuDriverGetVersion(&d.driverVersion);
  return l;
}

const CudaDriver *getCudaDriver(std::string &error) {
  static LoadedDriver *loaded = loadDriver();
  if (!loaded->error.empty()) {
    error = loaded->error;
    return nullptr;
  }
  return &loaded->driver;
}

} // namespace moe::runtime
