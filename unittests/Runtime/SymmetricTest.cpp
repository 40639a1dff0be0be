//===- SymmetricTest.cpp - Symmetric buffers and wait records, no GPU -----===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// moeRtSymmetricCreate and moeRtSymmetricFromPointers reject bad arguments
// before the driver is loaded; moeRtSymmetricFromPointers and GetInfo need no
// driver at all; moeRtWaitRecordDescribe is host code. Calls that need the
// driver report MOE_RT_ERROR_DRIVER_UNAVAILABLE with the same missing library
// as DeviceMemoryTest and ValidationTest (the driver is loaded once per
// process, whichever test runs first).
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/MoERuntime.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void useMissingDriver() {
  setenv("MOE_RT_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
}

bool startsWith(const char *s, const std::string &prefix) {
  return std::string(s).rfind(prefix, 0) == 0;
}

//===----------------------------------------------------------------------===//
// Symmetric buffers
//===----------------------------------------------------------------------===//

TEST(SymmetricTest, CreateRejectsBadArgumentsWithoutDriver) {
  useMissingDriver();
  const int32_t devices[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  moeRtSymmetric s = reinterpret_cast<moeRtSymmetric>(1);

  EXPECT_EQ(moeRtSymmetricCreate(devices, 2, 4096, nullptr),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricCreate(devices [0, 1], 4096 bytes): the handle "
               "output is null");

  EXPECT_EQ(moeRtSymmetricCreate(devices, 0, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(s, nullptr);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricCreate(0 ranks, 4096 bytes): numRanks is 0, not "
               "in [1, 8] (MOE_RT_MAX_RANKS)");
  EXPECT_EQ(moeRtSymmetricCreate(devices, 9, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricCreate(9 ranks, 4096 bytes): numRanks is 9, not "
               "in [1, 8] (MOE_RT_MAX_RANKS)");

  EXPECT_EQ(moeRtSymmetricCreate(nullptr, 2, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricCreate(2 ranks, 4096 bytes): the device list is "
               "null");

  const int32_t duplicate[] = {0, 1, 0};
  EXPECT_EQ(moeRtSymmetricCreate(duplicate, 3, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricCreate(devices [0, 1, 0], 4096 bytes): "
               "devices[0] and devices[2] are both device 0 (one rank per "
               "device)");

  const int32_t negative[] = {0, -1};
  EXPECT_EQ(moeRtSymmetricCreate(negative, 2, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricCreate(devices [0, -1], 4096 bytes): devices[1] "
               "= -1 is not a device ordinal");

  EXPECT_EQ(moeRtSymmetricCreate(devices, 2, 0, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricCreate(devices [0, 1], 0 bytes): bytes is 0");
  EXPECT_EQ(s, nullptr);
}

TEST(SymmetricTest, CreateNeedsTheDriver) {
  useMissingDriver();
  const int32_t devices[] = {0, 1};
  moeRtSymmetric s = reinterpret_cast<moeRtSymmetric>(1);
  EXPECT_EQ(moeRtSymmetricCreate(devices, 2, 4096, &s),
            MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_EQ(s, nullptr);
  EXPECT_TRUE(startsWith(moeRtGetLastError(),
                         "moeRtSymmetricCreate(devices [0, 1], 4096 bytes): "
                         "cannot load the CUDA driver "
                         "/nonexistent/libcuda.so.1: "))
      << moeRtGetLastError();
}

TEST(SymmetricTest, FromPointersRejectsBadArguments) {
  const uint64_t ptrs[] = {0x7f0000000000ull, 0x7f0000200000ull};
  const int32_t devices[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  const uint64_t nine[9] = {0x1000, 0x2000, 0x3000, 0x4000, 0x5000,
                            0x6000, 0x7000, 0x8000, 0x9000};
  moeRtSymmetric s = reinterpret_cast<moeRtSymmetric>(1);

  EXPECT_EQ(moeRtSymmetricFromPointers(ptrs, devices, 2, 4096, nullptr),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricFromPointers(devices [0, 1], 4096 bytes): the "
               "handle output is null");

  EXPECT_EQ(moeRtSymmetricFromPointers(ptrs, devices, 0, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(moeRtSymmetricFromPointers(nine, devices, 9, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricFromPointers(9 ranks, 4096 bytes): numRanks is "
               "9, not in [1, 8] (MOE_RT_MAX_RANKS)");

  const int32_t duplicate[] = {3, 3};
  EXPECT_EQ(moeRtSymmetricFromPointers(ptrs, duplicate, 2, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricFromPointers(devices [3, 3], 4096 bytes): "
               "devices[0] and devices[1] are both device 3 (one rank per "
               "device)");

  EXPECT_EQ(moeRtSymmetricFromPointers(ptrs, devices, 2, 0, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricFromPointers(devices [0, 1], 0 bytes): bytes is "
               "0");

  EXPECT_EQ(moeRtSymmetricFromPointers(nullptr, devices, 2, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricFromPointers(devices [0, 1], 4096 bytes): the "
               "pointer list is null");

  const uint64_t null[] = {0x7f0000000000ull, 0};
  EXPECT_EQ(moeRtSymmetricFromPointers(null, devices, 2, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricFromPointers(devices [0, 1], 4096 bytes): "
               "ptrs[1] is 0");

  const uint64_t misaligned[] = {0x7f0000000008ull, 0x7f0000200000ull};
  EXPECT_EQ(moeRtSymmetricFromPointers(misaligned, devices, 2, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricFromPointers(devices [0, 1], 4096 bytes): "
               "ptrs[0] = 0x7f0000000008 is not 16-byte aligned");

  const uint64_t same[] = {0x7f0000000000ull, 0x7f0000000000ull};
  EXPECT_EQ(moeRtSymmetricFromPointers(same, devices, 2, 4096, &s),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricFromPointers(devices [0, 1], 4096 bytes): "
               "ptrs[0] and ptrs[1] are both 0x7f0000000000");
  EXPECT_EQ(s, nullptr);
}

TEST(SymmetricTest, FromPointersNeedsNoDriver) {
  useMissingDriver();
  const uint64_t ptrs[] = {0x7f0000000000ull, 0x7f0000200000ull,
                           0x7f0000400010ull};
  const int32_t devices[] = {2, 0, 1};
  moeRtSymmetric s = nullptr;
  ASSERT_EQ(moeRtSymmetricFromPointers(ptrs, devices, 3, 1 << 20, &s),
            MOE_RT_SUCCESS)
      << moeRtGetLastError();
  EXPECT_STREQ(moeRtGetLastError(), "");

  moeRtSymmetricInfo info;
  std::memset(&info, 0xab, sizeof(info));
  ASSERT_EQ(moeRtSymmetricGetInfo(s, &info), MOE_RT_SUCCESS);
  EXPECT_EQ(info.numRanks, 3);
  EXPECT_EQ(info.owned, 0);
  EXPECT_EQ(info.bytes, uint64_t(1) << 20);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(info.ptrs[r], ptrs[r]) << r;
    EXPECT_EQ(info.devices[r], devices[r]) << r;
  }
  for (int r = 3; r < MOE_RT_MAX_RANKS; ++r) {
    EXPECT_EQ(info.ptrs[r], 0u) << r;
    EXPECT_EQ(info.devices[r], 0) << r;
  }

  EXPECT_EQ(moeRtSymmetricGetInfo(s, nullptr), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricGetInfo: the info output is null");
  EXPECT_EQ(moeRtSymmetricGetInfo(nullptr, &info), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtSymmetricGetInfo: the handle is null");

  // Not owned: nothing to free, so no driver is needed.
  EXPECT_EQ(moeRtSymmetricDestroy(s), MOE_RT_SUCCESS) << moeRtGetLastError();
  EXPECT_EQ(moeRtSymmetricDestroy(nullptr), MOE_RT_SUCCESS);
}

TEST(SymmetricTest, InfoLayout) {
  EXPECT_EQ(sizeof(moeRtSymmetricInfo), 112u);
  EXPECT_EQ(offsetof(moeRtSymmetricInfo, ptrs), 16u);
  EXPECT_EQ(offsetof(moeRtSymmetricInfo, devices), 80u);
}

//===----------------------------------------------------------------------===//
// Wait records
//===----------------------------------------------------------------------===//

TEST(WaitRecordTest, Layout) {
  // The kernel writes this layout: keep it.
  EXPECT_EQ(sizeof(moeRtWaitRecord), 48u);
  EXPECT_EQ(offsetof(moeRtWaitRecord, magic), 0u);
  EXPECT_EQ(offsetof(moeRtWaitRecord, rank), 4u);
  EXPECT_EQ(offsetof(moeRtWaitRecord, phase), 8u);
  EXPECT_EQ(offsetof(moeRtWaitRecord, block), 12u);
  EXPECT_EQ(offsetof(moeRtWaitRecord, counter), 16u);
  EXPECT_EQ(offsetof(moeRtWaitRecord, value), 24u);
  EXPECT_EQ(offsetof(moeRtWaitRecord, target), 32u);
  EXPECT_EQ(offsetof(moeRtWaitRecord, elapsedNs), 40u);
  EXPECT_EQ(MOE_RT_WAIT_RECORD_MAGIC, 0x4d4f4557u);
  const uint32_t magic = MOE_RT_WAIT_RECORD_MAGIC;
  char bytes[4];
  std::memcpy(bytes, &magic, 4);
  EXPECT_EQ(std::string(bytes, 4), "WEOM"); // 'MOEW', little-endian
}

moeRtWaitRecord filledRecord() {
  moeRtWaitRecord r;
  std::memset(&r, 0, sizeof(r));
  r.magic = MOE_RT_WAIT_RECORD_MAGIC;
  r.rank = 1;
  r.phase = 2;
  r.block = 17;
  r.counter = 0x7f0000001000ull;
  r.value = 3;
  r.target = 4;
  r.elapsedNs = 30000000000ull;
  return r;
}

const char *const kPhases[] = {"dispatch: send", "dispatch: data",
                               "dispatch: counts", "combine"};

TEST(WaitRecordTest, UnwrittenRecordSaysNothing) {
  moeRtWaitRecord r;
  std::memset(&r, 0, sizeof(r));
  r.rank = 5; // written fields without the magic do not count
  char message[256];
  std::memset(message, 'x', sizeof(message));
  EXPECT_EQ(moeRtWaitRecordDescribe(&r, kPhases, 4, message, sizeof(message)),
            MOE_RT_SUCCESS);
  EXPECT_STREQ(message, "");
  EXPECT_STREQ(moeRtGetLastError(), "");
}

TEST(WaitRecordTest, FilledRecord) {
  moeRtWaitRecord r = filledRecord();
  char message[256];
  ASSERT_EQ(moeRtWaitRecordDescribe(&r, kPhases, 4, message, sizeof(message)),
            MOE_RT_SUCCESS);
  EXPECT_STREQ(message,
               "rank 1 timed out in phase 2 ('dispatch: counts') after 30.0 "
               "s: counter 0x7f0000001000 = 3, waited for >= 4 (block 17)");

  r.elapsedNs = 2500000; // 2.5 ms
  r.phase = 0;
  ASSERT_EQ(moeRtWaitRecordDescribe(&r, kPhases, 4, message, sizeof(message)),
            MOE_RT_SUCCESS);
  EXPECT_STREQ(message,
               "rank 1 timed out in phase 0 ('dispatch: send') after 2.5 ms: "
               "counter 0x7f0000001000 = 3, waited for >= 4 (block 17)");

  r.elapsedNs = 900;
  ASSERT_EQ(moeRtWaitRecordDescribe(&r, nullptr, 0, message, sizeof(message)),
            MOE_RT_SUCCESS);
  EXPECT_STREQ(message, "rank 1 timed out in phase 0 after 900 ns: counter "
                        "0x7f0000001000 = 3, waited for >= 4 (block 17)");
}

TEST(WaitRecordTest, PhaseWithoutName) {
  moeRtWaitRecord r = filledRecord();
  r.phase = 7;
  char message[256];
  ASSERT_EQ(moeRtWaitRecordDescribe(&r, kPhases, 4, message, sizeof(message)),
            MOE_RT_SUCCESS);
  EXPECT_STREQ(message, "rank 1 timed out in phase 7 after 30.0 s: counter "
                        "0x7f0000001000 = 3, waited for >= 4 (block 17)");
  // A null name counts as none.
  const char *const names[] = {"a", nullptr};
  r.phase = 1;
  ASSERT_EQ(moeRtWaitRecordDescribe(&r, names, 2, message, sizeof(message)),
            MOE_RT_SUCCESS);
  EXPECT_STREQ(message, "rank 1 timed out in phase 1 after 30.0 s: counter "
                        "0x7f0000001000 = 3, waited for >= 4 (block 17)");
}

TEST(WaitRecordTest, SmallBufferTruncates) {
  moeRtWaitRecord r = filledRecord();
  char message[32];
  std::memset(message, 'x', sizeof(message));
  ASSERT_EQ(moeRtWaitRecordDescribe(&r, kPhases, 4, message, 16),
            MOE_RT_SUCCESS);
  EXPECT_STREQ(message, "rank 1 timed ou");
  EXPECT_EQ(message[16], 'x'); // nothing written past messageBytes
  ASSERT_EQ(moeRtWaitRecordDescribe(&r, kPhases, 4, message, 1),
            MOE_RT_SUCCESS);
  EXPECT_STREQ(message, "");
}

TEST(WaitRecordTest, BadArguments) {
  moeRtWaitRecord r = filledRecord();
  char message[64];
  EXPECT_EQ(moeRtWaitRecordDescribe(nullptr, kPhases, 4, message, 64),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtWaitRecordDescribe: the record is null");
  EXPECT_EQ(moeRtWaitRecordDescribe(&r, kPhases, 4, nullptr, 64),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_EQ(moeRtWaitRecordDescribe(&r, kPhases, 4, message, 0),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(), "moeRtWaitRecordDescribe: the message "
                                    "buffer is null or has 0 bytes");
  EXPECT_EQ(moeRtWaitRecordDescribe(&r, nullptr, 2, message, 64),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtWaitRecordDescribe: 2 phase names in a null list");
  EXPECT_EQ(moeRtWaitRecordDescribe(&r, kPhases, -1, message, 64),
            MOE_RT_ERROR_INVALID_VALUE);
}

TEST(WaitRecordTest, CreateAndDestroyWithoutDriver) {
  useMissingDriver();
  moeRtWaitRecord *record = reinterpret_cast<moeRtWaitRecord *>(1);
  uint64_t ptr = 1;
  EXPECT_EQ(moeRtWaitRecordCreate(nullptr, &ptr), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtWaitRecordCreate(): the record output is null");
  EXPECT_EQ(moeRtWaitRecordCreate(&record, nullptr),
            MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_STREQ(moeRtGetLastError(),
               "moeRtWaitRecordCreate(): the device address output is null");
  EXPECT_EQ(moeRtWaitRecordCreate(&record, &ptr),
            MOE_RT_ERROR_DRIVER_UNAVAILABLE);
  EXPECT_EQ(record, nullptr);
  EXPECT_EQ(ptr, 0u);
  EXPECT_TRUE(startsWith(moeRtGetLastError(),
                         "moeRtWaitRecordCreate(): cannot load the CUDA "
                         "driver /nonexistent/libcuda.so.1: "))
      << moeRtGetLastError();

  EXPECT_EQ(moeRtWaitRecordDestroy(nullptr), MOE_RT_SUCCESS);
  moeRtWaitRecord local;
  EXPECT_EQ(moeRtWaitRecordDestroy(&local), MOE_RT_ERROR_INVALID_VALUE);
  EXPECT_TRUE(startsWith(moeRtGetLastError(), "moeRtWaitRecordDestroy(0x"))
      << moeRtGetLastError();
  EXPECT_NE(std::string(moeRtGetLastError())
                .find("not a record of moeRtWaitRecordCreate"),
            std::string::npos)
      << moeRtGetLastError();
}

} // namespace
