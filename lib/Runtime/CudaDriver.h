//===- CudaDriver.h - The CUDA driver, loaded at run time -------*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The runtime never links libcuda: it dlopen()s libcuda.so.1 on first use and
// resolves each entry point with cuGetProcAddress (falling back to dlsym), so
// the library loads, and its validation runs, on machines without a driver.
// cuda.h is needed at build time only, for the types and the signatures.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_RUNTIME_CUDADRIVER_H
#define MOE_LIB_RUNTIME_CUDADRIVER_H

#include <cuda.h>

#include <string>

namespace moe::runtime {

// Driver functions the runtime calls. Versioned names (cuCtxPushCurrent ->
// cuCtxPushCurrent_v2) follow cuda.h's macros, so each member has the type
// of the function that cuda.h declares.
#define MOE_CUDA_REQUIRED_FUNCTIONS(X)                                         \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDeviceGetName)                                                           \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxPushCurrent)                                                          \
  X(cuCtxPopCurrent)                                                           \
  X(cuModuleLoadData)                                                          \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuFuncGetAttribute)                                                        \
  X(cuFuncSetAttribute)                                                        \
  X(cuLaunchKernelEx)                                                          \
  X(cuTensorMapEncodeTiled)                                                    \
  X(cuPointerGetAttribute)                                                     \
  X(cuCtxSynchronize)                                                          \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyHtoD)                                                              \
  X(cuMemcpyDtoH)                                                              \
  X(cuMemsetD16)                                                               \
  X(cuMemsetD32Async)                                                          \
  X(cuMemsetD8)                                                                \
  X(cuCtxGetDevice)                                                            \
  X(cuDeviceCanAccessPeer)                                                     \
  X(cuMemGetAllocationGranularity)                                             \
  X(cuMemCreate)                                                               \
  X(cuMemRelease)                                                              \
  X(cuMemAddressReserve)                                                       \
  X(cuMemAddressFree)                                                          \
  X(cuMemMap)                                                                  \
  X(cuMemUnmap)                                                                \
  X(cuMemSetAccess)                                                            \
  X(cuMemHostAlloc)                                                            \
  X(cuMemHostGetDevicePointer)                                                 \
  X(cuMemFreeHost)

// Used when present: cuFuncGetParamInfo (CUDA 12.4 and later) checks the
// ABI; cuOccupancyMaxActiveClusters narrows the persistent grid of a
// clustered kernel, which launches without it (on the SM count).
#define MOE_CUDA_OPTIONAL_FUNCTIONS(X)                                         \
  X(cuFuncGetParamInfo)                                                        \
  X(cuOccupancyMaxActiveClusters)

struct CudaDriver {
#define MOE_CUDA_MEMBER(name) decltype(&::name) name = nullptr;
  MOE_CUDA_REQUIRED_FUNCTIONS(MOE_CUDA_MEMBER)
  MOE_CUDA_OPTIONAL_FUNCTIONS(MOE_CUDA_MEMBER)
#undef MOE_CUDA_MEMBER
  int driverVersion = 0;

  /// "cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device kernel image
  /// is invalid)".
  std::string describe(const char *call, CUresult result) const;
};

/// Loads the driver and runs cuInit once per process. Returns null and sets
/// `error` if that is impossible (the failure is remembered).
const CudaDriver *getCudaDriver(std::string &error);

} // namespace moe::runtime

#endif // MOE_LIB_RUNTIME_CUDADRIVER_H
