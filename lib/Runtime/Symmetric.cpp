//===- Symmetric.cpp - Symmetric buffers and wait records -----------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Implements the expert-parallel part of include/moe/Runtime/MoERuntime.h.
//
// Symmetric buffers: moeRtSymmetricCreate checks its arguments without the
// driver, then the devices (existence, virtual memory management, peer
// access between every pair), and for each rank creates physical memory on
// its device (cuMemCreate, exportable as a POSIX file descriptor where the
// driver allows), reserves an address range, maps it, grants every device
// of the buffer read/write access (cuMemSetAccess) and zeroes it. Nothing
// multicast. moeRtSymmetricFromPointers only records the addresses of
// buffers that another engine mapped.
//
// Wait records: pinned, portable, device-mapped host memory
// (cuMemHostAlloc), so that the host can read what a kernel wrote before it
// trapped; moeRtWaitRecordDescribe turns one into a sentence without the
// driver.
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/MoERuntime.h"

#include "ApiSupport.h"
#include "CudaDriver.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

using namespace moe::runtime;

static_assert(sizeof(moeRtWaitRecord) == 48,
              "moeRtWaitRecord is the layout that kernels write");
static_assert(offsetof(moeRtWaitRecord, counter) == 16 &&
                  offsetof(moeRtWaitRecord, elapsedNs) == 40,
              "moeRtWaitRecord is the layout that kernels write");

struct moeRtSymmetric_ {
  int32_t numRanks = 0;
  bool owned = false;
  uint64_t bytes = 0;       ///< as requested
  uint64_t mappedBytes = 0; ///< owned: bytes rounded up to the granularity
  uint64_t ptrs[MOE_RT_MAX_RANKS] = {};
  int32_t devices[MOE_RT_MAX_RANKS] = {};

  // Owned buffers: what was created, per rank, so that a failed create and
  // a destroy undo exactly that.
  const CudaDriver *driver = nullptr;
  CUcontext contexts[MOE_RT_MAX_RANKS] = {};
  CUmemGenericAllocationHandle handles[MOE_RT_MAX_RANKS] = {};
  bool created[MOE_RT_MAX_RANKS] = {};  ///< handles[r] holds memory
  bool reserved[MOE_RT_MAX_RANKS] = {}; ///< ptrs[r] is a reserved range
  bool mapped[MOE_RT_MAX_RANKS] = {};   ///< handles[r] is mapped at ptrs[r]
};

//===----------------------------------------------------------------------===//
// Symmetric buffers: arguments
//===----------------------------------------------------------------------===//

static std::string deviceList(const int32_t *devices, int32_t numRanks) {
  std::string s = "[";
  for (int32_t r = 0; r < numRanks; ++r)
    s += (r ? ", " : "") + std::to_string(devices[r]);
  return s + "]";
}

/// "moeRtSymmetricCreate(devices [0, 1], 4096 bytes)", or with the rank
/// count where the device list cannot be read.
static std::string describeCall(const char *call, const int32_t *devices,
                                int32_t numRanks, uint64_t bytes) {
  std::string s = std::string(call) + "(";
  if (devices && numRanks >= 1 && numRanks <= MOE_RT_MAX_RANKS)
    s += "devices " + deviceList(devices, numRanks);
  else
    s += std::to_string(numRanks) + " ranks";
  return s + ", " + std::to_string(bytes) + " bytes)";
}

/// The checks that moeRtSymmetricCreate and moeRtSymmetricFromPointers make
/// before anything else: no driver needed.
static moeRtStatus checkRanks(const std::string &what, const int32_t *devices,
                              int32_t numRanks, uint64_t bytes) {
  auto invalid = [&](const std::string &why) {
    return setError(MOE_RT_ERROR_INVALID_VALUE, what + ": " + why);
  };
  if (numRanks < 1 || numRanks > MOE_RT_MAX_RANKS)
    return invalid("numRanks is " + std::to_string(numRanks) + ", not in [1, " +
                   std::to_string(MOE_RT_MAX_RANKS) + "] (MOE_RT_MAX_RANKS)");
  if (!devices)
    return invalid("the device list is null");
  for (int32_t r = 0; r < numRanks; ++r) {
    if (devices[r] < 0)
      return invalid("devices[" + std::to_string(r) + "] = " +
                     std::to_string(devices[r]) + " is not a device ordinal");
    for (int32_t q = 0; q < r; ++q)
      if (devices[q] == devices[r])
        return invalid("devices[" + std::to_string(q) + "] and devices[" +
                       std::to_string(r) + "] are both device " +
                       std::to_string(devices[r]) + " (one rank per device)");
  }
  if (bytes == 0)
    return invalid("bytes is 0");
  return MOE_RT_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Symmetric buffers: allocation
//===----------------------------------------------------------------------===//

/// Undoes what an owned buffer holds (every rank: unmap, release, free the
/// range), after waiting for each device's work if `synchronize`. Goes on
/// after a failure; returns the first one's message ("" if none).
static std::string releaseOwned(moeRtSymmetric_ &s, bool synchronize) {
  std::string first;
  if (!s.driver)
    return first;
  const CudaDriver &d = *s.driver;
  auto note = [&](int32_t r, const char *call, CUresult res) {
    if (res != CUDA_SUCCESS && first.empty())
      first = "rank " + std::to_string(r) + " (device " +
              std::to_string(s.devices[r]) + "): " + d.describe(call, res);
  };
  if (synchronize)
    for (int32_t r = 0; r < s.numRanks; ++r) {
      if (!s.contexts[r] || !(s.created[r] || s.reserved[r]))
        continue;
      ContextScope scope(d);
      CUresult res = scope.push(s.contexts[r]);
      note(r, "cuCtxPushCurrent", res);
      if (res == CUDA_SUCCESS)
        note(r, "cuCtxSynchronize", d.cuCtxSynchronize());
    }
  for (int32_t r = s.numRanks - 1; r >= 0; --r) {
    ContextScope scope(d);
    if (s.contexts[r])
      note(r, "cuCtxPushCurrent", scope.push(s.contexts[r]));
    CUdeviceptr ptr = static_cast<CUdeviceptr>(s.ptrs[r]);
    size_t size = static_cast<size_t>(s.mappedBytes);
    if (s.mapped[r])
      note(r, "cuMemUnmap", d.cuMemUnmap(ptr, size));
    if (s.created[r])
      note(r, "cuMemRelease", d.cuMemRelease(s.handles[r]));
    if (s.reserved[r])
      note(r, "cuMemAddressFree", d.cuMemAddressFree(ptr, size));
    s.mapped[r] = s.created[r] = s.reserved[r] = false;
    s.ptrs[r] = 0;
  }
  return first;
}

/// The allocation properties of pinned device memory on `device`.
static CUmemAllocationProp allocationProp(CUdevice device,
                                          CUmemAllocationHandleType handles) {
  CUmemAllocationProp prop;
  std::memset(&prop, 0, sizeof(prop));
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  prop.requestedHandleTypes = handles;
  return prop;
}

/// Everything of moeRtSymmetricCreate after the argument checks; on failure
/// `s` may hold part of the buffers (the caller releases them).
static moeRtStatus createOwned(const std::string &what, moeRtSymmetric_ &s) {
  std::string error;
  const CudaDriver *drv = getCudaDriver(error);
  if (!drv)
    return setError(MOE_RT_ERROR_DRIVER_UNAVAILABLE, what + ": " + error);
  const CudaDriver &d = *drv;
  s.driver = drv;
  const int32_t n = s.numRanks;

  // The devices: they exist, support virtual memory management, and every
  // one can access every other one's memory.
  int count = 0;
  MOE_RT_CU_CHECK(d, cuDeviceGetCount(&count), MOE_RT_ERROR_CUDA, what + ": ");
  CUdevice cuDevices[MOE_RT_MAX_RANKS] = {};
  std::string names[MOE_RT_MAX_RANKS];
  for (int32_t r = 0; r < n; ++r) {
    const std::string device = "device " + std::to_string(s.devices[r]);
    if (s.devices[r] >= count)
      return setError(MOE_RT_ERROR_INVALID_VALUE,
                      what + ": " + device + " does not exist (" +
                          std::to_string(count) + " devices)");
    MOE_RT_CU_CHECK(d, cuDeviceGet(&cuDevices[r], s.devices[r]),
                    MOE_RT_ERROR_CUDA, what + ": " + device + ": ");
    char name[256] = {0};
    d.cuDeviceGetName(name, sizeof(name) - 1, cuDevices[r]);
    names[r] = device + " (" + name + ")";
    int vmm = 0;
    MOE_RT_CU_CHECK(d,
                    cuDeviceGetAttribute(
                        &vmm,
                        CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
                        cuDevices[r]),
                    MOE_RT_ERROR_CUDA, what + ": " + device + ": ");
    if (!vmm)
      return setError(MOE_RT_ERROR_UNSUPPORTED_DEVICE,
                      what + ": " + names[r] +
                          " does not support virtual memory management "
                          "(CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_"
                          "SUPPORTED is 0)");
  }
  for (int32_t a = 0; a < n; ++a)
    for (int32_t b = 0; b < n; ++b) {
      if (a == b)
        continue;
      int can = 0;
      MOE_RT_CU_CHECK(d,
                      cuDeviceCanAccessPeer(&can, cuDevices[a], cuDevices[b]),
                      MOE_RT_ERROR_CUDA,
                      what + ": device " + std::to_string(s.devices[a]) +
                          " and device " + std::to_string(s.devices[b]) + ": ");
      if (!can)
        return setError(MOE_RT_ERROR_UNSUPPORTED_DEVICE,
                        what + ": " + names[a] +
                            " cannot access the memory of " + names[b] +
                            " (cuDeviceCanAccessPeer is 0)");
    }

  // One size for every rank: the request rounded up to the largest
  // recommended granularity of the devices.
  bool exportable[MOE_RT_MAX_RANKS] = {};
  uint64_t granularity = 1;
  for (int32_t r = 0; r < n; ++r) {
    int fd = 0;
    d.cuDeviceGetAttribute(
        &fd, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED,
        cuDevices[r]);
    exportable[r] = fd != 0;
    CUmemAllocationProp prop = allocationProp(
        cuDevices[r], exportable[r] ? CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR
                                    : CU_MEM_HANDLE_TYPE_NONE);
    size_t g = 0;
    CUresult res = d.cuMemGetAllocationGranularity(
        &g, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED);
    if (res != CUDA_SUCCESS && exportable[r]) {
      prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
      res = d.cuMemGetAllocationGranularity(
          &g, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED);
    }
    if (res != CUDA_SUCCESS)
      return setError(MOE_RT_ERROR_CUDA,
                      what + ": device " + std::to_string(s.devices[r]) + ": " +
                          d.describe("cuMemGetAllocationGranularity", res));
    granularity = std::max<uint64_t>(granularity, g ? g : 1);
  }
  if (s.bytes > UINT64_MAX - (granularity - 1) ||
      (s.bytes + granularity - 1) / granularity * granularity > SIZE_MAX)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what +
                        ": bytes is too large to round up to the "
                        "allocation granularity (" +
                        std::to_string(granularity) + " bytes)");
  s.mappedBytes = (s.bytes + granularity - 1) / granularity * granularity;
  const size_t size = static_cast<size_t>(s.mappedBytes);

  // Every device may read and write every rank's buffer.
  CUmemAccessDesc access[MOE_RT_MAX_RANKS];
  for (int32_t r = 0; r < n; ++r) {
    std::memset(&access[r], 0, sizeof(access[r]));
    access[r].location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    access[r].location.id = cuDevices[r];
    access[r].flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  }

  for (int32_t r = 0; r < n; ++r) {
    const std::string rank = what + ": rank " + std::to_string(r) +
                             " (device " + std::to_string(s.devices[r]) + ", " +
                             std::to_string(size) + " bytes): ";
    if (moeRtStatus st =
            getDeviceContext(what, s.devices[r], drv, s.contexts[r]))
      return st;
    ContextScope scope(d); // this rank's device, until the iteration ends
    if (CUresult res = scope.push(s.contexts[r]); res != CUDA_SUCCESS)
      return setError(MOE_RT_ERROR_CUDA,
                      rank + d.describe("cuCtxPushCurrent", res));
    CUmemAllocationProp prop = allocationProp(
        cuDevices[r], exportable[r] ? CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR
                                    : CU_MEM_HANDLE_TYPE_NONE);
    CUresult res = d.cuMemCreate(&s.handles[r], size, &prop, 0);
    if (res != CUDA_SUCCESS && res != CUDA_ERROR_OUT_OF_MEMORY &&
        exportable[r]) {
      // Not exportable here (a driver or system without the file-descriptor
      // handle): a plain allocation serves one process.
      prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
      res = d.cuMemCreate(&s.handles[r], size, &prop, 0);
    }
    auto failed = [&](const char *call, CUresult res) {
      return setError(MOE_RT_ERROR_CUDA, rank + d.describe(call, res));
    };
    if (res != CUDA_SUCCESS)
      return failed("cuMemCreate", res);
    s.created[r] = true;
    CUdeviceptr ptr = 0;
    res = d.cuMemAddressReserve(&ptr, size, static_cast<size_t>(granularity), 0,
                                0);
    if (res != CUDA_SUCCESS)
      return failed("cuMemAddressReserve", res);
    s.ptrs[r] = static_cast<uint64_t>(ptr);
    s.reserved[r] = true;
    if ((res = d.cuMemMap(ptr, size, 0, s.handles[r], 0)) != CUDA_SUCCESS)
      return failed("cuMemMap", res);
    s.mapped[r] = true;
    if ((res = d.cuMemSetAccess(ptr, size, access, n)) != CUDA_SUCCESS)
      return failed("cuMemSetAccess", res);
    if ((res = d.cuMemsetD8(ptr, 0, size)) != CUDA_SUCCESS)
      return failed("cuMemsetD8", res);
  }
  // The memsets may still run: every buffer is zero once create returns.
  for (int32_t r = 0; r < n; ++r) {
    ContextScope scope(d);
    const std::string rank = what + ": rank " + std::to_string(r) +
                             " (device " + std::to_string(s.devices[r]) + "): ";
    if (CUresult res = scope.push(s.contexts[r]); res != CUDA_SUCCESS)
      return setError(MOE_RT_ERROR_CUDA,
                      rank + d.describe("cuCtxPushCurrent", res));
    if (CUresult res = d.cuCtxSynchronize(); res != CUDA_SUCCESS)
      return setError(MOE_RT_ERROR_CUDA,
                      rank + d.describe("cuCtxSynchronize", res));
  }
  return MOE_RT_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Symmetric buffers: the API
//===----------------------------------------------------------------------===//

extern "C" moeRtStatus moeRtSymmetricCreate(const int32_t *devices,
                                            int32_t numRanks, uint64_t bytes,
                                            moeRtSymmetric *out) {
  lastError.clear();
  const std::string what =
      describeCall("moeRtSymmetricCreate", devices, numRanks, bytes);
  if (!out)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what + ": the handle output is null");
  *out = nullptr;
  if (moeRtStatus st = checkRanks(what, devices, numRanks, bytes))
    return st;
  auto *s = new moeRtSymmetric_();
  s->numRanks = numRanks;
  s->owned = true;
  s->bytes = bytes;
  std::copy(devices, devices + numRanks, s->devices);
  if (moeRtStatus st = createOwned(what, *s)) {
    releaseOwned(*s, /*synchronize=*/true); // the message is createOwned's
    delete s;
    return st;
  }
  *out = s;
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtSymmetricFromPointers(const uint64_t *ptrs,
                                                  const int32_t *devices,
                                                  int32_t numRanks,
                                                  uint64_t bytes,
                                                  moeRtSymmetric *out) {
  lastError.clear();
  const std::string what =
      describeCall("moeRtSymmetricFromPointers", devices, numRanks, bytes);
  if (!out)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what + ": the handle output is null");
  *out = nullptr;
  if (moeRtStatus st = checkRanks(what, devices, numRanks, bytes))
    return st;
  if (!ptrs)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what + ": the pointer list is null");
  for (int32_t r = 0; r < numRanks; ++r) {
    const std::string ptr = "ptrs[" + std::to_string(r) + "]";
    if (ptrs[r] == 0)
      return setError(MOE_RT_ERROR_INVALID_VALUE, what + ": " + ptr + " is 0");
    if (ptrs[r] % 16)
      return setError(MOE_RT_ERROR_INVALID_VALUE,
                      what + ": " + ptr + " = " + hexAddress(ptrs[r]) +
                          " is not 16-byte aligned");
    for (int32_t q = 0; q < r; ++q)
      if (ptrs[q] == ptrs[r])
        return setError(MOE_RT_ERROR_INVALID_VALUE,
                        what + ": ptrs[" + std::to_string(q) + "] and " + ptr +
                            " are both " + hexAddress(ptrs[r]));
  }
  auto *s = new moeRtSymmetric_();
  s->numRanks = numRanks;
  s->owned = false;
  s->bytes = bytes;
  std::copy(devices, devices + numRanks, s->devices);
  std::copy(ptrs, ptrs + numRanks, s->ptrs);
  *out = s;
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtSymmetricGetInfo(moeRtSymmetric s,
                                             moeRtSymmetricInfo *out) {
  lastError.clear();
  if (!s)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "moeRtSymmetricGetInfo: the handle is null");
  if (!out)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    "moeRtSymmetricGetInfo: the info output is null");
  std::memset(out, 0, sizeof(*out));
  out->numRanks = s->numRanks;
  out->owned = s->owned ? 1 : 0;
  out->bytes = s->bytes;
  for (int32_t r = 0; r < s->numRanks; ++r) {
    out->ptrs[r] = s->ptrs[r];
    out->devices[r] = s->devices[r];
  }
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtSymmetricDestroy(moeRtSymmetric s) {
  lastError.clear();
  if (!s)
    return MOE_RT_SUCCESS;
  std::string error;
  if (s->owned)
    error = releaseOwned(*s, /*synchronize=*/true);
  const std::string what =
      describeCall("moeRtSymmetricDestroy", s->devices, s->numRanks, s->bytes);
  delete s;
  if (!error.empty())
    return setError(MOE_RT_ERROR_CUDA, what + ": " + error);
  return MOE_RT_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Wait records
//===----------------------------------------------------------------------===//

namespace {
/// The records of moeRtWaitRecordCreate and the context each was allocated
/// in (a retained primary context, so it outlives the record).
struct WaitRecords {
  std::mutex mutex;
  std::vector<std::pair<const moeRtWaitRecord *, CUcontext>> records;
};
} // namespace

static WaitRecords &waitRecords() {
  static WaitRecords *records = new WaitRecords(); // never destroyed
  return *records;
}

extern "C" moeRtStatus moeRtWaitRecordCreate(moeRtWaitRecord **hostRecord,
                                             uint64_t *devicePtr) {
  lastError.clear();
  std::string what = "moeRtWaitRecordCreate()";
  if (!hostRecord)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what + ": the record output is null");
  if (!devicePtr)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what + ": the device address output is null");
  *hostRecord = nullptr;
  *devicePtr = 0;
  std::string error;
  const CudaDriver *drv = getCudaDriver(error);
  if (!drv)
    return setError(MOE_RT_ERROR_DRIVER_UNAVAILABLE, what + ": " + error);
  const CudaDriver &d = *drv;

  // The current context's device (e.g. torch's current device), else 0.
  int32_t device = 0;
  CUdevice current = 0;
  if (d.cuCtxGetDevice(&current) == CUDA_SUCCESS) {
    int count = 0;
    d.cuDeviceGetCount(&count);
    for (int i = 0; i < count; ++i) {
      CUdevice candidate = 0;
      if (d.cuDeviceGet(&candidate, i) == CUDA_SUCCESS &&
          candidate == current) {
        device = i;
        break;
      }
    }
  }
  what += " on device " + std::to_string(device);
  CUcontext context = nullptr;
  if (moeRtStatus st = getDeviceContext(what, device, drv, context))
    return st;
  ContextScope scope(d);
  if (CUresult r = scope.push(context); r != CUDA_SUCCESS)
    return setError(MOE_RT_ERROR_CUDA,
                    what + ": " + d.describe("cuCtxPushCurrent", r));
  void *host = nullptr;
  if (CUresult r = d.cuMemHostAlloc(&host, sizeof(moeRtWaitRecord),
                                    CU_MEMHOSTALLOC_DEVICEMAP |
                                        CU_MEMHOSTALLOC_PORTABLE);
      r != CUDA_SUCCESS)
    return setError(MOE_RT_ERROR_CUDA,
                    what + ": " + d.describe("cuMemHostAlloc", r));
  std::memset(host, 0, sizeof(moeRtWaitRecord));
  CUdeviceptr dptr = 0;
  if (CUresult r = d.cuMemHostGetDevicePointer(&dptr, host, 0);
      r != CUDA_SUCCESS) {
    d.cuMemFreeHost(host);
    return setError(MOE_RT_ERROR_CUDA,
                    what + ": " + d.describe("cuMemHostGetDevicePointer", r));
  }
  auto *record = static_cast<moeRtWaitRecord *>(host);
  {
    WaitRecords &all = waitRecords();
    std::lock_guard<std::mutex> lock(all.mutex);
    all.records.emplace_back(record, context);
  }
  *hostRecord = record;
  *devicePtr = static_cast<uint64_t>(dptr);
  return MOE_RT_SUCCESS;
}

extern "C" moeRtStatus moeRtWaitRecordDestroy(moeRtWaitRecord *hostRecord) {
  lastError.clear();
  if (!hostRecord)
    return MOE_RT_SUCCESS;
  const std::string what = "moeRtWaitRecordDestroy(" +
                           hexAddress(reinterpret_cast<uintptr_t>(hostRecord)) +
                           ")";
  CUcontext context = nullptr;
  {
    WaitRecords &all = waitRecords();
    std::lock_guard<std::mutex> lock(all.mutex);
    auto it =
        std::find_if(all.records.begin(), all.records.end(),
                     [&](const auto &e) { return e.first == hostRecord; });
    if (it == all.records.end())
      return setError(MOE_RT_ERROR_INVALID_VALUE,
                      what + ": not a record of moeRtWaitRecordCreate (or "
                             "destroyed already)");
    context = it->second;
    all.records.erase(it);
  }
  // A record exists only where the driver loaded.
  std::string error;
  const CudaDriver &d = *getCudaDriver(error);
  ContextScope scope(d);
  if (CUresult r = scope.push(context); r != CUDA_SUCCESS)
    return setError(MOE_RT_ERROR_CUDA,
                    what + ": " + d.describe("cuCtxPushCurrent", r));
  if (CUresult r = d.cuMemFreeHost(hostRecord); r != CUDA_SUCCESS)
    return setError(MOE_RT_ERROR_CUDA,
                    what + ": " + d.describe("cuMemFreeHost", r));
  return MOE_RT_SUCCESS;
}

/// "30.0 s", "12.5 ms", "900 ns".
static std::string formatDuration(uint64_t ns) {
  char buf[48];
  if (ns >= 1000000000ull)
    std::snprintf(buf, sizeof(buf), "%.1f s", double(ns) / 1e9);
  else if (ns >= 1000000ull)
    std::snprintf(buf, sizeof(buf), "%.1f ms", double(ns) / 1e6);
  else
    std::snprintf(buf, sizeof(buf), "%" PRIu64 " ns", ns);
  return buf;
}

extern "C" moeRtStatus moeRtWaitRecordDescribe(const moeRtWaitRecord *record,
                                               const char *const *phaseNames,
                                               int32_t numPhaseNames,
                                               char *message,
                                               uint64_t messageBytes) {
  lastError.clear();
  const std::string what = "moeRtWaitRecordDescribe";
  if (!record)
    return setError(MOE_RT_ERROR_INVALID_VALUE, what + ": the record is null");
  if (!message || messageBytes == 0)
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what + ": the message buffer is null or has 0 bytes");
  if (numPhaseNames < 0 || (numPhaseNames > 0 && !phaseNames))
    return setError(MOE_RT_ERROR_INVALID_VALUE,
                    what + ": " + std::to_string(numPhaseNames) +
                        " phase names in " +
                        (phaseNames ? "a list" : "a null list"));
  // A device may have written the record (mapped host memory): read magic
  // first and the fields after it, as the kernel writes them in the other
  // order.
  const volatile moeRtWaitRecord *v = record;
  if (v->magic != MOE_RT_WAIT_RECORD_MAGIC) {
    message[0] = '\0';
    return MOE_RT_SUCCESS;
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint32_t rank = v->rank, phase = v->phase, block = v->block;
  const uint64_t counter = v->counter, value = v->value, target = v->target,
                 elapsedNs = v->elapsedNs;

  std::string text = "rank " + std::to_string(rank) + " timed out in phase " +
                     std::to_string(phase);
  if (phase < static_cast<uint32_t>(numPhaseNames) && phaseNames[phase])
    text += std::string(" ('") + phaseNames[phase] + "')";
  text += " after " + formatDuration(elapsedNs) + ": counter " +
          hexAddress(counter) + " = " + std::to_string(value) +
          ", waited for >= " + std::to_string(target) + " (block " +
          std::to_string(block) + ")";
  size_t n = std::min<uint64_t>(text.size(), messageBytes - 1);
  std::memcpy(message, text.data(), n);
  message[n] = '\0';
  return MOE_RT_SUCCESS;
}
