//===- ApiSupport.h - Shared helpers of the C API's sources -----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What the sources that implement MoERuntime.h share (CudaRuntime.cpp,
// Symmetric.cpp): the thread's last error message, the driver-call check,
// a scoped current context and the retained primary context of a device.
// Internal: none of it is exported from libmoe_cuda_runtime.so.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_RUNTIME_APISUPPORT_H
#define MOE_LIB_RUNTIME_APISUPPORT_H

#include "CudaDriver.h"
#include "moe/Runtime/MoERuntime.h"

#include <cstdint>
#include <string>

namespace moe::runtime {

/// The message of the last failed call on this thread (moeRtGetLastError).
/// Every entry point clears it first.
extern thread_local std::string lastError;

/// Sets the thread's message and returns `code`.
moeRtStatus setError(moeRtStatus code, std::string message);

/// "0x7f0000001000".
std::string hexAddress(uint64_t address);

/// The primary context of `device` (an ordinal >= 0), retained by the first
/// call on that device and kept until the process ends. Loads the driver.
/// Errors start with `what` ("moeRtDeviceAlloc(device 0, 16 bytes): ...").
moeRtStatus getDeviceContext(const std::string &what, int32_t device,
                             const CudaDriver *&driver, CUcontext &context);

/// Makes a context current for a scope (push/pop, so the caller's current
/// context is untouched).
class ContextScope {
public:
  explicit ContextScope(const CudaDriver &d) : d(d) {}
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;
  ~ContextScope() {
    if (pushed) {
      CUcontext popped;
      d.cuCtxPopCurrent(&popped);
    }
  }
  CUresult push(CUcontext ctx) {
    CUresult r = d.cuCtxPushCurrent(ctx);
    pushed = r == CUDA_SUCCESS;
    return r;
  }

private:
  const CudaDriver &d;
  bool pushed = false;
};

} // namespace moe::runtime

/// The one driver-call check: returns MOE_RT_ERROR_CUDA (or `code`) from the
/// enclosing function with the call, its error and `context` in the message.
#define MOE_RT_CU_CHECK(drv, call, code, context)                              \
  do {                                                                         \
    CUresult moeRtResult_ = (drv).call;                                        \
    if (moeRtResult_ != CUDA_SUCCESS)                                          \
      return ::moe::runtime::setError(                                         \
          (code), std::string(context) + (drv).describe(#call, moeRtResult_)); \
  } while (false)

#endif // MOE_LIB_RUNTIME_APISUPPORT_H
