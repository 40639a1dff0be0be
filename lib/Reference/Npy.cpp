//===- Npy.cpp - .npy files for evaluator inputs and outputs --------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "Support.h"
#include "moe/Reference/Npy.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

using namespace moe::ref;
using namespace moe::ref::detail;
using llvm::StringRef;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct Header {
  std::string descr;
  bool fortranOrder = false;
  llvm::SmallVector<int64_t, 4> shape;
};

/// A parser for the header dict, e.g.
///   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class DictParser {
public:
  explicit DictParser(StringRef text) : rest(text) {}

  llvm::Error parse(Header &header) {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    skipSpace();
    if (!consume('{'))
      return fail("expected '{'");
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(key))
        return fail("expected a quoted key");
      skipSpace();
      if (!consume(':'))
        return fail("expected ':' after '" + key + "'");
      skipSpace();
      if (key == "descr") {
        if (!parseString(header.descr))
          return fail("expected a quoted descr");
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (rest.consume_front("True"))
          header.fortranOrder = true;
        else if (rest.consume_front("False"))
          header.fortranOrder = false;
        else
          return fail("expected True or False for fortran_order");
        haveOrder = true;
      } else if (key == "shape") {
        if (llvm::Error err = parseShape(header.shape))
          return err;
        haveShape = true;
      } else {
        return fail("unexpected key '" + key + "'");
      }
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume('}'))
        break;
      return fail("expected ',' or '}'");
    }
    if (!haveDescr || !haveOrder || !haveShape)
      return fail("missing 'descr', 'fortran_order' or 'shape'");
    return llvm::Error::success();
  }

private:
  llvm::Error fail(const llvm::Twine &what) {
    return makeError("malformed header: " + what);
  }
  void skipSpace() { rest = rest.ltrim(" \t\r\n"); }
  bool consume(char c) { return rest.consume_front(StringRef(&c, 1)); }
  bool parseString(std::string &out) {
    if (rest.empty() || (rest.front() != '\'' && rest.front() != '"'))
      return false;
    char quote = rest.front();
    size_t end = rest.find(quote, 1);
    if (end == StringRef::npos)
      return false;
    out = rest.slice(1, end).str();
    rest = rest.drop_front(end + 1);
    return true;
  }
  llvm::Error parseShape(llvm::SmallVectorImpl<int64_t> &shape) {
    if (!consume('('))
      return fail("expected '(' for shape");
    while (true) {
      skipSpace();
      if (consume(')'))
        return llvm::Error::success();
      size_t len = 0;
      while (len < rest.size() && llvm::isDigit(rest[len]))
        ++len;
      int64_t dim = 0;
      if (len == 0 || rest.take_front(len).getAsInteger(10, dim))
        return fail("expected a dimension in shape");
      shape.push_back(dim);
      rest = rest.drop_front(len);
      // Python writes 'L' suffixes in some old files.
      consume('L');
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume(')'))
        return llvm::Error::success();
      return fail("expected ',' or ')' in shape");
    }
  }

  StringRef rest;
};

enum class Dtype { F4, U2, U1, I4, I8 };

std::optional<Dtype> parseDtype(StringRef descr) {
  if (descr == "<f4")
    return Dtype::F4;
  if (descr == "<u2")
    return Dtype::U2;
  if (descr == "|u1" || descr == "<u1" || descr == "u1")
    return Dtype::U1;
  if (descr == "<i4")
    return Dtype::I4;
  if (descr == "<i8")
    return Dtype::I8;
  return std::nullopt;
}

size_t dtypeSize(Dtype d) {
  switch (d) {
  case Dtype::F4:
  case Dtype::I4:
    return 4;
  case Dtype::U2:
    return 2;
  case Dtype::U1:
    return 1;
  case Dtype::I8:
    return 8;
  }
  return 0;
}

bool isAccepted(ElemKind kind, Dtype d) {
  switch (kind) {
  case ElemKind::F32:
    return d == Dtype::F4;
  case ElemKind::BF16:
    return d == Dtype::U2 || d == Dtype::F4;
  case ElemKind::F8E4M3FN:
  case ElemKind::F8E8M0FNU:
  case ElemKind::F4E2M1FN:
    return d == Dtype::U1 || d == Dtype::F4;
  case ElemKind::I32:
  case ElemKind::I64:
    return d == Dtype::I4 || d == Dtype::I8;
  }
  return false;
}

llvm::StringRef acceptedText(ElemKind kind) {
  switch (kind) {
  case ElemKind::F32:
    return "'<f4'";
  case ElemKind::BF16:
    return "'<u2' or '<f4'";
  case ElemKind::F8E4M3FN:
  case ElemKind::F8E8M0FNU:
  case ElemKind::F4E2M1FN:
    return "'|u1' or '<f4'";
  case ElemKind::I32:
  case ElemKind::I64:
    return "'<i4' or '<i8'";
  }
  return "";
}

std::string formatFloat(float v) {
  // %.9g identifies a float32 uniquely.
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v));
  return buf;
}

} // namespace

llvm::Expected<Tensor>
moe::ref::readNpy(StringRef path, ElemKind kind,
                  llvm::ArrayRef<int64_t> expectedShape) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> bufOr =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!bufOr)
    return makeError("cannot read '" + path +
                     "': " + bufOr.getError().message());
  StringRef data = (*bufOr)->getBuffer();
  auto fail = [&](const llvm::Twine &msg) {
    return makeError("'" + path + "': " + msg);
  };

  if (data.size() < kMagicLen + 2 ||
      data.substr(0, kMagicLen) != StringRef(kMagic, kMagicLen))
    return fail("not a .npy file (bad magic)");
  unsigned major = static_cast<unsigned char>(data[kMagicLen]);
  size_t pos = kMagicLen + 2, headerLen = 0;
  if (major == 1) {
    if (data.size() < pos + 2)
      return fail("truncated header");
    headerLen = llvm::support::endian::read16le(data.data() + pos);
    pos += 2;
  } else if (major == 2 || major == 3) {
    if (data.size() < pos + 4)
      return fail("truncated header");
    headerLen = llvm::support::endian::read32le(data.data() + pos);
    pos += 4;
  } else {
    return fail("unsupported .npy format version " + llvm::Twine(major) +
                ", expected 1, 2 or 3");
  }
  if (data.size() < pos + headerLen)
    return fail("truncated header");
  Header header;
  if (llvm::Error err = DictParser(data.substr(pos, headerLen)).parse(header))
    return fail(llvm::toString(std::move(err)));
  pos += headerLen;

  if (header.fortranOrder)
    return fail("fortran_order is True, expected C order");
  std::optional<Dtype> dtype = parseDtype(header.descr);
  if (!dtype || !isAccepted(kind, *dtype))
    return fail("dtype '" + header.descr + "' cannot be read as " +
                getName(kind) + ", expected " + acceptedText(kind));
  bool shapeOk = header.shape.size() == expectedShape.size();
  for (size_t i = 0; shapeOk && i < expectedShape.size(); ++i)
    shapeOk = expectedShape[i] < 0 || expectedShape[i] == header.shape[i];
  if (!shapeOk)
    return fail("has shape " + shapeStr(header.shape) + ", expected " +
                shapeStr(expectedShape));

  int64_t n = 1;
  for (int64_t d : header.shape)
    n *= d;
  size_t itemSize = dtypeSize(*dtype);
  size_t expectedBytes = static_cast<size_t>(n) * itemSize;
  if (data.size() - pos != expectedBytes)
    return fail("has " + llvm::Twine(data.size() - pos) +
                " data bytes, expected " + llvm::Twine(expectedBytes) +
                " for shape " + shapeStr(header.shape));
  const char *p = data.data() + pos;

  Tensor result(kind, header.shape);
  if (!isFloatKind(kind)) {
    int64_t *out = result.ints().data();
    for (int64_t i = 0; i < n; ++i) {
      int64_t v =
          *dtype == Dtype::I4
              ? static_cast<int32_t>(llvm::support::endian::read32le(p + 4 * i))
              : static_cast<int64_t>(
                    llvm::support::endian::read64le(p + 8 * i));
      if (kind == ElemKind::I32 && (v < std::numeric_limits<int32_t>::min() ||
                                    v > std::numeric_limits<int32_t>::max()))
        return fail("element " + llvm::Twine(i) + " (value " + llvm::Twine(v) +
                    ") is out of range for i32");
      out[i] = v;
    }
    return result;
  }

  float *out = result.floats().data();
  switch (*dtype) {
  case Dtype::F4:
    for (int64_t i = 0; i < n; ++i) {
      uint32_t bits = llvm::support::endian::read32le(p + 4 * i);
      float v;
      std::memcpy(&v, &bits, sizeof(v));
      if (kind != ElemKind::F32 && !isRepresentable(kind, v))
        return fail("element " + llvm::Twine(i) + " (value " + formatFloat(v) +
                    ") is not exactly representable as " + getName(kind));
      out[i] = v;
    }
    break;
  case Dtype::U2:
    for (int64_t i = 0; i < n; ++i)
      out[i] = decode(kind, llvm::support::endian::read16le(p + 2 * i));
    break;
  case Dtype::U1:
    for (int64_t i = 0; i < n; ++i) {
      uint8_t bits = static_cast<uint8_t>(p[i]);
      if (kind == ElemKind::F4E2M1FN && bits > 0xF)
        return fail("element " + llvm::Twine(i) + " (byte " +
                    llvm::Twine(unsigned(bits)) +
                    ") is not an f4E2M1FN code, expected one value per byte "
                    "in the low nibble");
      out[i] = decode(kind, bits);
    }
    break;
  case Dtype::I4:
  case Dtype::I8:
    llvm_unreachable("integer dtype for a float kind");
  }
  return result;
}

llvm::Error moe::ref::writeNpy(StringRef path, const Tensor &tensor) {
  StringRef descr;
  size_t itemSize;
  switch (tensor.getKind()) {
  case ElemKind::I32:
    descr = "<i4";
    itemSize = 4;
    break;
  case ElemKind::I64:
    descr = "<i8";
    itemSize = 8;
    break;
  default:
    descr = "<f4";
    itemSize = 4;
    break;
  }
  std::string dict =
      "{'descr': '" + descr.str() + "', 'fortran_order': False, 'shape': (";
  for (int64_t d : tensor.getShape())
    dict += std::to_string(d) + ", ";
  if (tensor.getRank() > 1)
    dict.resize(dict.size() - 2);
  else if (tensor.getRank() == 1)
    dict.pop_back(); // "(n,)"
  dict += "), }";
  // Pad with spaces so that the data starts at a multiple of 64 bytes; the
  // header ends with '\n'.
  unsigned major = 1;
  size_t prefix = kMagicLen + 2 + 2;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  if (total - prefix > 65535) {
    major = 2;
    prefix = kMagicLen + 2 + 4;
    total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  }
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';

  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return makeError("cannot write '" + path + "': " + ec.message());
  os.write(kMagic, kMagicLen);
  os << static_cast<char>(major) << static_cast<char>(0);
  char lenBytes[4];
  if (major == 1) {
    llvm::support::endian::write16le(lenBytes,
                                     static_cast<uint16_t>(dict.size()));
    os.write(lenBytes, 2);
  } else {
    llvm::support::endian::write32le(lenBytes,
                                     static_cast<uint32_t>(dict.size()));
    os.write(lenBytes, 4);
  }
  os << dict;

  const int64_t n = tensor.getNumElements();
  constexpr int64_t chunk = int64_t(1) << 16;
  std::vector<char> bytes(static_cast<size_t>(chunk) * itemSize);
  std::vector<float> floats;
  std::vector<int64_t> ints;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    int64_t count = std::min(chunk, n - begin);
    if (tensor.isFloat()) {
      floats.resize(static_cast<size_t>(count));
      tensor.readFloat(begin, count, floats.data());
      for (int64_t i = 0; i < count; ++i) {
        uint32_t bits;
        std::memcpy(&bits, &floats[i], sizeof(bits));
        llvm::support::endian::write32le(bytes.data() + 4 * i, bits);
      }
    } else {
      ints.resize(static_cast<size_t>(count));
      tensor.readInt(begin, count, ints.data());
      for (int64_t i = 0; i < count; ++i) {
        if (itemSize == 4)
          llvm::support::endian::write32le(bytes.data() + 4 * i,
                                           static_cast<uint32_t>(ints[i]));
        else
          llvm::support::endian::write64le(bytes.data() + 8 * i,
                                           static_cast<uint64_t>(ints[i]));
      }
    }
    os.write(bytes.data(), static_cast<size_t>(count) * itemSize);
  }
  os.close();
  if (os.has_error()) {
    std::error_code writeEc = os.error();
    os.clear_error();
    return makeError("cannot write '" + path + "': " + writeEc.message());
  }
  return llvm::Error::success();
}
