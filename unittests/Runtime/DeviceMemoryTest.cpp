//===- DeviceMemoryTest.cpp - The device-memory calls without a GPU -------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// moeRtDeviceAlloc and friends: bad arguments are rejected before the driver
// is loaded, calls with nothing to do succeed without it, and every other call
// reports MOE_RT_ERROR_DRIVER_UNAVAILABLE with its context when there is no
// driver. The driver is loaded once per process, so these tests point it at
// the same missing library as ValidationTest's MissingDriverIsReported,
// whichever runs first (and they give the same results on a GPU machine).
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/MoERuntime.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <string>

namespace {

void useMissingDriver() {
  setenv("MOE_RT_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
}

bool startsWith(const char *s, const std::string &prefix) {
  return std::string(s).rfind(prefix, 0) == 0;
}

TEST(DeviceMemoryTest, NegativeDeviceIsInvalid) {
  uint64_t p = 1;
  char host[4] = {};
  EXPECT_EQ(moeRtDeviceAlloc(-1, 16, &p), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(), "moeRtDeviceAlloc(device -1, 16 bytes): "
                                    "device -1 is not a device ordinal");
  EXPECT_EQ(moeRtDeviceFree(-2, 0x1000), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(), "moeRtDeviceFree(device -2, 0x1000): "
                                    "device -2 is not a device ordinal");
  EXPECT_EQ(moeRtCopyToDevice(-1, 0x1000, host, 4), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(moeRtCopyFromDevice(-1, host, 0x1000, 4),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(moeRtDeviceMemsetD16(-1, 0x1000, 0xFFFF, 2),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(moeRtDeviceSynchronize(-1), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(), "moeRtDeviceSynchronize(device -1): "
                                    "device -1 is not a device ordinal");
}

TEST(DeviceMemoryTest, NullPointersAreInvalid) {
  char host[4] = {};
  EXPECT_EQ(moeRtDeviceAlloc(0, 16, nullptr), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(), "moeRtDeviceAlloc(device 0, 16 bytes): "
                                    "the address output is null");
  EXPECT_EQ(moeRtCopyToDevice(0, 0x1000, nullptr, 4),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtCopyToDevice(device 0, to 0x1000, 4 bytes): the host "
               "source is null");
  EXPECT_EQ(moeRtCopyToDevice(0, 0, host, 4), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtCopyToDevice(device 0, to 0x0, 4 bytes): the device "
               "address is null");
  EXPECT_EQ(moeRtCopyFromDevice(0, nullptr, 0x1000, 4),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtCopyFromDevice(device 0, from 0x1000, 4 bytes): the host "
               "destination is null");
  EXPECT_EQ(moeRtCopyFromDevice(0, host, 0, 4), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(moeRtDeviceMemsetD16(0, 0, 0xFFFF, 2), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(moeRtDeviceMemsetD16(0, 0x1001, 0xFFFF, 2),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtDeviceMemsetD16(device 0, 0x1001, 2 values = 4 bytes): "
               "the device address is not 2-byte aligned");
}

TEST(DeviceMemoryTest, NothingToDoNeedsNoDriver) {
  useMissingDriver();
  uint64_t p = 1;
  EXPECT_EQ(moeRtDeviceAlloc(0, 0, &p), MOE_RT_SUCCESS);
  EXPECT_EQ(p, 0u);
  EXPECT_EQ(moeRtDeviceFree(0, 0), MOE_RT_SUCCESS);
  EXPECT_EQ(moeRtCopyToDevice(0, 0, nullptr, 0), MOE_RT_SUCCESS);
  EXPECT_EQ(moeRtCopyFromDevice(0, nullptr, 0, 0), MOE_RT_SUCCESS);
  EXPECT_EQ(moeRtDeviceMemsetD16(0, 0, 0, 0), MOE_RT_SUCCESS);
  EXPECT_STREQ(moeRtGetLastError(), "");
}

TEST(DeviceMemoryTest, MissingDriverIsReported) {
  useMissingDriver();
  const std::string noDriver =
      "cannot load the CUDA driver /nonexistent/libcuda.so.1: ";
  uint64_t p = 1;
  char host[4] = {};
  EXPECT_EQ(moeRtDeviceAlloc(0, 4096, &p), MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_EQ(p, 0u);
  EXPECT_TRUE(startsWith(moeRtGetLastError(),
                         "moeRtDeviceAlloc(device 0, 4096 bytes): " + noDriver))
      << moeRtGetLastError();
  EXPECT_EQ(moeRtDeviceFree(1, 0x1000), MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_TRUE(startsWith(moeRtGetLastError(),
                         "moeRtDeviceFree(device 1, 0x1000): " + noDriver))
      << moeRtGetLastError();
  EXPECT_EQ(moeRtCopyToDevice(0, 0x1000, host, 4),
            MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_TRUE(startsWith(moeRtGetLastError(),
                         "moeRtCopyToDevice(device 0, to 0x1000, 4 bytes): " +
                             noDriver))
      << moeRtGetLastError();
  EXPECT_EQ(moeRtCopyFromDevice(0, host, 0x1000, 4),
            MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_EQ(moeRtDeviceMemsetD16(0, 0x1000, 0xFFFF, 2),
            MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_EQ(moeRtDeviceSynchronize(0), MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_TRUE(startsWith(moeRtGetLastError(),
                         "moeRtDeviceSynchronize(device 0): " + noDriver))
      << moeRtGetLastError();
}

} // namespace
