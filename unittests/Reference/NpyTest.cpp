//===- NpyTest.cpp - .npy reading and writing -----------------------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Npy.h"
#include "moe/Reference/Random.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

using namespace moe::ref;

namespace {

/// A temporary file path, removed at the end of the test.
class TempPath {
public:
  TempPath() {
    llvm::SmallString<128> p;
    std::error_code ec =
        llvm::sys::fs::createTemporaryFile("moe-npy-test", "npy", p);
    EXPECT_FALSE(ec) << ec.message();
    path = std::string(p);
  }
  ~TempPath() { llvm::sys::fs::remove(path); }
  std::string path;
};

/// Writes a .npy file by hand: the given header dict (padded to 64 bytes)
/// and raw data bytes.
void writeRaw(const std::string &path, const std::string &dict,
              const std::string &data, int major = 1,
              const char *magic = "\x93NUMPY") {
  std::string header = dict;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string file(magic, 6);
  file += static_cast<char>(major);
  file += '\0';
  uint32_t len = static_cast<uint32_t>(header.size());
  file += static_cast<char>(len & 0xFF);
  file += static_cast<char>((len >> 8) & 0xFF);
  if (major != 1) {
    file += static_cast<char>((len >> 16) & 0xFF);
    file += static_cast<char>((len >> 24) & 0xFF);
  }
  file += header;
  file += data;
  std::ofstream os(path, std::ios::binary);
  os.write(file.data(), file.size());
}

template <typename T> std::string bytesOf(const std::vector<T> &values) {
  return std::string(reinterpret_cast<const char *>(values.data()),
                     values.size() * sizeof(T));
}

std::string errorOf(llvm::Expected<Tensor> v) {
  if (v) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(v.takeError());
}

TEST(NpyTest, RoundTripFloat) {
  TempPath tmp;
  Tensor t(ElemKind::BF16, {2, 3});
  t.floats() = {
      1, -2.5f, 0.0078125f, -0.0f, std::numeric_limits<float>::infinity(), 3};
  ASSERT_FALSE(llvm::errorToBool(writeNpy(tmp.path, t)));
  // The header is NumPy's: magic, version 1.0, '<f4', padded with spaces and
  // a newline so that the data starts at a multiple of 64 bytes (here 128:
  // 10 bytes of prefix plus a 60-byte dict).
  auto buf = llvm::MemoryBuffer::getFile(tmp.path);
  ASSERT_TRUE(bool(buf));
  llvm::StringRef bytes = (*buf)->getBuffer();
  EXPECT_EQ(bytes.substr(0, 8), llvm::StringRef("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(bytes.size(), 128u + 6 * 4);
  EXPECT_NE(bytes.find("'descr': '<f4'"), llvm::StringRef::npos);
  EXPECT_NE(bytes.find("'shape': (2, 3)"), llvm::StringRef::npos);
  EXPECT_NE(bytes.find("'fortran_order': False"), llvm::StringRef::npos);
  EXPECT_EQ(bytes[8] | (bytes[9] << 8), 128 - 10); // header length
  EXPECT_EQ(bytes[127], '\n');

  llvm::Expected<Tensor> back = readNpy(tmp.path, ElemKind::BF16, {2, -1});
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->getKind(), ElemKind::BF16);
  EXPECT_EQ(back->getShape(), llvm::ArrayRef<int64_t>({2, 3}));
  EXPECT_EQ(std::memcmp(back->floats().data(), t.floats().data(), 24), 0);
}

TEST(NpyTest, RoundTripIntsAndScalars) {
  TempPath tmp;
  Tensor ids(ElemKind::I32, {4});
  ids.ints() = {3, -1, 0, 2147483647};
  ASSERT_FALSE(llvm::errorToBool(writeNpy(tmp.path, ids)));
  auto buf = llvm::MemoryBuffer::getFile(tmp.path);
  ASSERT_TRUE(bool(buf));
  EXPECT_NE((*buf)->getBuffer().find("'descr': '<i4'"), llvm::StringRef::npos);
  EXPECT_NE((*buf)->getBuffer().find("'shape': (4,)"), llvm::StringRef::npos);
  llvm::Expected<Tensor> back = readNpy(tmp.path, ElemKind::I32, {4});
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->ints(), ids.ints());
  // i64 tensors are written as '<i8' and can be read as i64.
  Tensor big(ElemKind::I64, {2});
  big.ints() = {int64_t(1) << 40, -5};
  ASSERT_FALSE(llvm::errorToBool(writeNpy(tmp.path, big)));
  llvm::Expected<Tensor> big2 = readNpy(tmp.path, ElemKind::I64, {2});
  ASSERT_TRUE(bool(big2));
  EXPECT_EQ(big2->ints(), big.ints());
  // ... but not as i32: the value is out of range.
  std::string msg = errorOf(readNpy(tmp.path, ElemKind::I32, {2}));
  EXPECT_NE(msg.find("element 0"), std::string::npos) << msg;
  // Rank 0.
  Tensor s(ElemKind::F32, {});
  s.floats()[0] = 0.5f;
  ASSERT_FALSE(llvm::errorToBool(writeNpy(tmp.path, s)));
  llvm::Expected<Tensor> s2 = readNpy(tmp.path, ElemKind::F32, {});
  ASSERT_TRUE(bool(s2)) << llvm::toString(s2.takeError());
  EXPECT_EQ(s2->getRank(), 0);
  EXPECT_EQ(s2->floats()[0], 0.5f);
}

TEST(NpyTest, WritesGeneratedTensors) {
  TempPath tmp;
  // Larger than one write chunk.
  Tensor g = makeRandomTensor(ElemKind::F8E4M3FN, {3, 70001}, 1, 2, {});
  ASSERT_FALSE(llvm::errorToBool(writeNpy(tmp.path, g)));
  llvm::Expected<Tensor> back = readNpy(tmp.path, ElemKind::F8E4M3FN, {3, -1});
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  Tensor m = g.materialize();
  EXPECT_EQ(std::memcmp(back->floats().data(), m.floats().data(),
                        m.floats().size() * 4),
            0);
}

TEST(NpyTest, ReadsBf16BitPatterns) {
  TempPath tmp;
  // 0x3F80 = 1, 0xC040 = -3, 0x3F81 = 1 + 2^-7, 0x7FC0 = NaN.
  writeRaw(tmp.path,
           "{'descr': '<u2', 'fortran_order': False, 'shape': (4,), }",
           bytesOf(std::vector<uint16_t>{0x3F80, 0xC040, 0x3F81, 0x7FC0}));
  llvm::Expected<Tensor> t = readNpy(tmp.path, ElemKind::BF16, {4});
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->floats()[0], 1.0f);
  EXPECT_EQ(t->floats()[1], -3.0f);
  EXPECT_EQ(t->floats()[2], 1.0078125f);
  EXPECT_TRUE(std::isnan(t->floats()[3]));
  // '<u2' is not accepted for f32.
  std::string msg = errorOf(readNpy(tmp.path, ElemKind::F32, {4}));
  EXPECT_NE(msg.find("dtype '<u2' cannot be read as f32"), std::string::npos)
      << msg;
}

TEST(NpyTest, ReadsU1Codes) {
  TempPath tmp;
  writeRaw(tmp.path,
           "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
           std::string("\x7E\x01\x38\xFF", 4));
  llvm::Expected<Tensor> e4 = readNpy(tmp.path, ElemKind::F8E4M3FN, {2, 2});
  ASSERT_TRUE(bool(e4)) << llvm::toString(e4.takeError());
  EXPECT_EQ(e4->floats()[0], 448.0f);
  EXPECT_EQ(e4->floats()[1], std::ldexp(1.0f, -9));
  EXPECT_EQ(e4->floats()[2], 1.0f);
  EXPECT_TRUE(std::isnan(e4->floats()[3]));
  llvm::Expected<Tensor> e8 = readNpy(tmp.path, ElemKind::F8E8M0FNU, {2, 2});
  ASSERT_TRUE(bool(e8));
  EXPECT_EQ(e8->floats()[0], 0.5f); // 2^(126 - 127)
  EXPECT_EQ(e8->floats()[1], std::ldexp(1.0f, -126));
  // e2m1: one code per byte in the low nibble; 0x7E is not a code.
  std::string msg = errorOf(readNpy(tmp.path, ElemKind::F4E2M1FN, {2, 2}));
  EXPECT_NE(msg.find("element 0"), std::string::npos) << msg;
  writeRaw(tmp.path,
           "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
           std::string("\x07\x0D\x01", 3));
  llvm::Expected<Tensor> e2 = readNpy(tmp.path, ElemKind::F4E2M1FN, {3});
  ASSERT_TRUE(bool(e2)) << llvm::toString(e2.takeError());
  EXPECT_EQ(e2->floats(), std::vector<float>({6.0f, -3.0f, 0.5f}));
}

TEST(NpyTest, RejectsNonRepresentableF4) {
  TempPath tmp;
  // 1 + 2^-8 is not a bf16 value.
  writeRaw(tmp.path,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
           bytesOf(std::vector<float>{1.0f, 2.0f, 0.5f, 1.00390625f}));
  std::string msg = errorOf(readNpy(tmp.path, ElemKind::BF16, {2, 2}));
  EXPECT_NE(msg.find("element 3 (value 1.00390625) is not exactly "
                     "representable as bf16"),
            std::string::npos)
      << msg;
  // As f32 it is fine.
  EXPECT_TRUE(bool(readNpy(tmp.path, ElemKind::F32, {2, 2})));
  // 2.5 is not an e2m1 value.
  writeRaw(tmp.path,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
           bytesOf(std::vector<float>{6.0f, 2.5f}));
  msg = errorOf(readNpy(tmp.path, ElemKind::F4E2M1FN, {2}));
  EXPECT_NE(msg.find("element 1 (value 2.5)"), std::string::npos) << msg;
  // '<f4' of exact e4m3 values is accepted.
  writeRaw(tmp.path,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
           bytesOf(std::vector<float>{448.0f, -0.001953125f}));
  llvm::Expected<Tensor> ok = readNpy(tmp.path, ElemKind::F8E4M3FN, {2});
  ASSERT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
  EXPECT_EQ(ok->floats()[1], -0.001953125f);
}

TEST(NpyTest, RejectsWrongShape) {
  TempPath tmp;
  writeRaw(tmp.path,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
           bytesOf(std::vector<float>(6, 1.0f)));
  std::string msg = errorOf(readNpy(tmp.path, ElemKind::F32, {2, 4}));
  EXPECT_NE(msg.find("has shape [2, 3], expected [2, 4]"), std::string::npos)
      << msg;
  msg = errorOf(readNpy(tmp.path, ElemKind::F32, {6}));
  EXPECT_NE(msg.find("expected [6]"), std::string::npos) << msg;
  EXPECT_TRUE(bool(readNpy(tmp.path, ElemKind::F32, {-1, 3})));
  // Truncated data.
  writeRaw(tmp.path,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
           bytesOf(std::vector<float>(5, 1.0f)));
  msg = errorOf(readNpy(tmp.path, ElemKind::F32, {2, 3}));
  EXPECT_NE(msg.find("expected 24"), std::string::npos) << msg;
}

TEST(NpyTest, RejectsFortranOrder) {
  TempPath tmp;
  writeRaw(tmp.path,
           "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
           bytesOf(std::vector<float>(4, 1.0f)));
  std::string msg = errorOf(readNpy(tmp.path, ElemKind::F32, {2, 2}));
  EXPECT_NE(msg.find("fortran_order"), std::string::npos) << msg;
}

TEST(NpyTest, RejectsBadMagic) {
  TempPath tmp;
  writeRaw(tmp.path,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
           bytesOf(std::vector<float>(1, 1.0f)), 1, "\x93NUMPZ");
  std::string msg = errorOf(readNpy(tmp.path, ElemKind::F32, {1}));
  EXPECT_NE(msg.find("bad magic"), std::string::npos) << msg;
  msg = errorOf(readNpy(tmp.path + ".missing", ElemKind::F32, {1}));
  EXPECT_NE(msg.find("cannot read"), std::string::npos) << msg;
}

TEST(NpyTest, ReadsVersion2And3Headers) {
  TempPath tmp;
  for (int major : {2, 3}) {
    writeRaw(tmp.path,
             "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (3,)}",
             bytesOf(std::vector<int64_t>{7, -8, 9}), major);
    llvm::Expected<Tensor> t = readNpy(tmp.path, ElemKind::I32, {3});
    ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
    EXPECT_EQ(t->ints(), std::vector<int64_t>({7, -8, 9}));
  }
  writeRaw(tmp.path,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
           bytesOf(std::vector<float>(1, 1.0f)), 4);
  EXPECT_NE(errorOf(readNpy(tmp.path, ElemKind::F32, {1})).find("version 4"),
            std::string::npos);
}

TEST(NpyTest, RejectsUnknownDtype) {
  TempPath tmp;
  writeRaw(tmp.path,
           "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
           bytesOf(std::vector<float>(1, 1.0f)));
  std::string msg = errorOf(readNpy(tmp.path, ElemKind::F32, {1}));
  EXPECT_NE(msg.find("dtype '>f4'"), std::string::npos) << msg;
}

} // namespace
