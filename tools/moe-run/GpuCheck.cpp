//===- GpuCheck.cpp - Run an artifact on the reference's inputs -----------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The manifest is checked against the function first (no GPU needed), then
// the artifact is loaded; if there is no driver or no suitable GPU, the check
// says so and stops. Inputs are uploaded in chunks: each chunk's values are
// read from the reference's tensors (generated weights are made right there,
// so a 15 GB weight never sits in host memory) and encoded into the dtype's
// bits by all cores, then copied. Outputs are poisoned with NaN bits before
// the launch, read back in chunks and compared with the reference's values in
// double precision.
//
//===----------------------------------------------------------------------===//

#include "GpuCheck.h"

#include "moe/Reference/Kernels.h"
#include "moe/Runtime/MoERuntime.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace moe::run;
using ::moe::ref::ElemKind;
using ::moe::ref::Tensor;

namespace {

/// Elements per upload or download chunk.
constexpr int64_t kChunkElements = int64_t(32) << 20;

int fail(const llvm::Twine &message) {
  llvm::errs() << "moe-run: error: gpu: " << message << "\n";
  return 1;
}

/// Runs fn(lo, hi) over [0, n) split into one piece per thread; the pieces
/// start at multiples of 64 (whole bytes of 4-bit values).
template <typename Fn> void parallelFor(int64_t n, Fn fn) {
  int64_t workers = std::max<int64_t>(1, ::moe::ref::getNumThreads());
  int64_t piece = std::max<int64_t>(64, (n + workers - 1) / workers);
  piece = (piece + 63) / 64 * 64;
  std::vector<std::thread> threads;
  for (int64_t lo = piece; lo < n; lo += piece)
    threads.emplace_back(fn, lo, std::min(n, lo + piece));
  fn(int64_t(0), std::min(n, piece));
  for (std::thread &t : threads)
    t.join();
}

/// Host encodings of a reference kind as the manifest's dtype.
class Codec {
public:
  explicit Codec(ElemKind kind) : kind(kind) {
    bits = ::moe::ref::getBitWidth(kind);
    if (::moe::ref::isFloatKind(kind) && bits <= 8) {
      // Every encoding of an 8- or 4-bit kind, decoded, and the codes
      // sorted by the float bits of their values (NaN codes excluded).
      for (uint32_t code = 0; code < (1u << bits); ++code) {
        float v = ::moe::ref::decode(kind, code);
        decoded[code] = v;
        if (std::isnan(v))
          continue;
        uint32_t key;
        std::memcpy(&key, &v, 4);
        byBits.push_back({key, static_cast<uint8_t>(code)});
      }
      std::sort(byBits.begin(), byBits.end());
    }
  }

  uint64_t bytesFor(int64_t n) const {
    return (static_cast<uint64_t>(n) * bits + 7) / 8;
  }

  /// Encodes values [begin, begin + count) of `t` into `out`; `begin` is a
  /// multiple of 64.
  void encode(const Tensor &t, int64_t begin, int64_t count,
              uint8_t *out) const {
    if (!::moe::ref::isFloatKind(kind)) {
      std::vector<int64_t> v(count);
      t.readInt(begin, count, v.data());
      for (int64_t i = 0; i < count; ++i) {
        if (bits == 32) {
          int32_t x = static_cast<int32_t>(v[i]);
          std::memcpy(out + 4 * i, &x, 4);
        } else {
          std::memcpy(out + 8 * i, &v[i], 8);
        }
      }
      return;
    }
    std::vector<float> v(count);
    t.readFloat(begin, count, v.data());
    if (kind == ElemKind::F32) {
      std::memcpy(out, v.data(), 4 * count);
      return;
    }
    if (kind == ElemKind::BF16) {
      for (int64_t i = 0; i < count; ++i) {
        uint32_t b;
        std::memcpy(&b, &v[i], 4);
        // The reference's values are bf16 values: the low half is zero.
        uint16_t h = (b & 0xFFFF) == 0
                         ? static_cast<uint16_t>(b >> 16)
                         : static_cast<uint16_t>(
                               ::moe::ref::encode(ElemKind::BF16, v[i]));
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    }
    if (bits == 8) {
      for (int64_t i = 0; i < count; ++i)
        out[i] = code(v[i]);
      return;
    }
    // 4 bits: two per byte, the low nibble first.
    for (int64_t i = 0; i < count; i += 2) {
      uint8_t lo = code(v[i]) & 0xF;
      uint8_t hi = i + 1 < count ? code(v[i + 1]) & 0xF : 0;
      out[i / 2] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }

  /// Decodes `count` values (from a multiple of 64) at `in` into `out`.
  void decode(const uint8_t *in, int64_t count, float *out) const {
    if (!::moe::ref::isFloatKind(kind)) {
      for (int64_t i = 0; i < count; ++i) {
        int64_t x;
        if (bits == 32) {
          int32_t x32;
          std::memcpy(&x32, in + 4 * i, 4);
          x = x32;
        } else {
          std::memcpy(&x, in + 8 * i, 8);
        }
        out[i] = static_cast<float>(x);
      }
      return;
    }
    if (kind == ElemKind::F32) {
      std::memcpy(out, in, 4 * count);
      return;
    }
    if (kind == ElemKind::BF16) {
      for (int64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, in + 2 * i, 2);
        uint32_t b = uint32_t(h) << 16;
        std::memcpy(&out[i], &b, 4);
      }
      return;
    }
    for (int64_t i = 0; i < count; ++i)
      out[i] = bits == 8 ? decoded[in[i]]
                         : decoded[(in[i / 2] >> (4 * (i & 1))) & 0xF];
  }

private:
  uint8_t code(float v) const {
    uint32_t key;
    std::memcpy(&key, &v, 4);
    auto it = std::lower_bound(byBits.begin(), byBits.end(),
                               std::make_pair(key, uint8_t(0)));
    if (it != byBits.end() && it->first == key)
      return it->second;
    // Not a value of the kind (the reference's values always are): round.
    if (kind == ElemKind::F8E8M0FNU)
      return 0xFF;
    return static_cast<uint8_t>(::moe::ref::encode(kind, v));
  }

  ElemKind kind;
  unsigned bits = 0;
  float decoded[256] = {};
  std::vector<std::pair<uint32_t, uint8_t>> byBits;
};

/// Device memory freed when the check ends, however it ends.
class DeviceBuffers {
public:
  explicit DeviceBuffers(int32_t device) : device(device) {}
  ~DeviceBuffers() {
    for (uint64_t p : buffers)
      moeRtDeviceFree(device, p);
  }
  moeRtStatus alloc(uint64_t bytes, uint64_t &ptr) {
    moeRtStatus st = moeRtDeviceAlloc(device, bytes, &ptr);
    if (st == MOE_RT_SUCCESS && ptr)
      buffers.push_back(ptr);
    return st;
  }

private:
  int32_t device;
  std::vector<uint64_t> buffers;
};

struct KernelDeleter {
  void operator()(moeRtKernel k) const { moeRtUnload(k); }
};
using KernelHandle = std::unique_ptr<moeRtKernel_, KernelDeleter>;

/// What one manifest tensor stands for.
struct Binding {
  bool isResult = false;
  unsigned index = 0;
  const GpuOperand *operand = nullptr;
  moeRtTensorInfo info;
  uint64_t device = 0; ///< its buffer
};

std::string describeShape(llvm::ArrayRef<int64_t> shape, bool dynamicIsT) {
  std::string s = "[";
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d)
      s += ", ";
    s += dynamicIsT && shape[d] < 0 ? "T" : std::to_string(shape[d]);
  }
  return s + "]";
}

/// Binds manifest tensor #i to an argument or a result of the function and
/// checks its dtype and shape.
llvm::Error bind(int32_t i, const moeRtTensorInfo &info,
                 llvm::ArrayRef<GpuOperand> args,
                 llvm::ArrayRef<GpuOperand> results, Binding &b) {
  auto error = [&](const llvm::Twine &why) {
    return llvm::createStringError(llvm::Twine("manifest tensor '") +
                                   info.name + "' (#" + llvm::Twine(i) +
                                   "): " + why);
  };
  llvm::StringRef name(info.name);
  b.isResult = name.consume_front("result");
  if (!b.isResult && !name.consume_front("arg"))
    return error("names no function value (expected arg<N> or result<N>)");
  llvm::ArrayRef<GpuOperand> values = b.isResult ? results : args;
  const char *what = b.isResult ? "result" : "argument";
  if (name.empty() || name.getAsInteger(10, b.index))
    return error("names no function value (expected arg<N> or result<N>)");
  if (b.index >= values.size())
    return error(
        llvm::formatv("the function has {0} {1}s", values.size(), what));
  if (info.role != (b.isResult ? MOE_RT_ROLE_OUTPUT : MOE_RT_ROLE_INPUT))
    return error(llvm::formatv("its role is {0}, expected {1}",
                               info.role == MOE_RT_ROLE_INPUT    ? "input"
                               : info.role == MOE_RT_ROLE_OUTPUT ? "output"
                                                                 : "inout",
                               b.isResult ? "output" : "input"));
  b.operand = &values[b.index];
  b.info = info;
  ElemKind kind = b.operand->value->getKind();
  std::string kindName = ::moe::ref::getName(kind).str();
  llvm::SmallVector<int64_t, 8> shape(info.shape, info.shape + info.rank);
  bool same = moeRtDTypeFromName(kindName.c_str()) == info.dtype &&
              shape.size() == b.operand->typeShape.size();
  for (size_t d = 0; same && d < shape.size(); ++d)
    same = shape[d] == MOE_RT_DIM_T ? b.operand->typeShape[d] < 0
                                    : shape[d] == b.operand->typeShape[d];
  if (!same)
    return error(llvm::formatv(
        "{0} {1}, but {2} #{3} of the function is {4} "
        "{5}",
        moeRtDTypeName(info.dtype), describeShape(shape, true), what, b.index,
        kindName, describeShape(b.operand->typeShape, true)));
  return llvm::Error::success();
}

/// Accumulated differences of an output against the reference.
struct Stats {
  double diff2 = 0, ref2 = 0, xy = 0, xxyy = 0, maxAbs = 0;
  int64_t nonFinite = 0; ///< not finite where the reference is finite

  void merge(const Stats &o) {
    diff2 += o.diff2;
    ref2 += o.ref2;
    xy += o.xy;
    xxyy += o.xxyy;
    maxAbs = std::max(maxAbs, o.maxAbs);
    nonFinite += o.nonFinite;
  }
};

/// Uploads the reference's values of `b` into its buffer.
llvm::Error upload(int32_t device, const Binding &b) {
  const Tensor &t = *b.operand->value;
  Codec codec(t.getKind());
  int64_t n = t.getNumElements();
  std::vector<uint8_t> host(codec.bytesFor(std::min(n, kChunkElements)));
  for (int64_t begin = 0; begin < n; begin += kChunkElements) {
    int64_t count = std::min(kChunkElements, n - begin);
    parallelFor(count, [&](int64_t lo, int64_t hi) {
      codec.encode(t, begin + lo, hi - lo, host.data() + codec.bytesFor(lo));
    });
    if (moeRtCopyToDevice(device, b.device + codec.bytesFor(begin), host.data(),
                          codec.bytesFor(count)))
      return llvm::createStringError(moeRtGetLastError());
  }
  return llvm::Error::success();
}

/// Reads the output of `b` back and compares it with the reference's.
llvm::Expected<Stats> compare(int32_t device, const Binding &b) {
  const Tensor &ref = *b.operand->value;
  Codec codec(ref.getKind());
  int64_t n = ref.getNumElements();
  std::vector<uint8_t> host(codec.bytesFor(std::min(n, kChunkElements)));
  Stats total;
  for (int64_t begin = 0; begin < n; begin += kChunkElements) {
    int64_t count = std::min(kChunkElements, n - begin);
    if (moeRtCopyFromDevice(device, host.data(),
                            b.device + codec.bytesFor(begin),
                            codec.bytesFor(count)))
      return llvm::createStringError(moeRtGetLastError());
    std::vector<Stats> parts;
    std::mutex mutex;
    parallelFor(count, [&](int64_t lo, int64_t hi) {
      std::vector<float> x(hi - lo), y(hi - lo);
      codec.decode(host.data() + codec.bytesFor(lo), hi - lo, x.data());
      if (ref.isFloat()) {
        ref.readFloat(begin + lo, hi - lo, y.data());
      } else {
        std::vector<int64_t> v(hi - lo);
        ref.readInt(begin + lo, hi - lo, v.data());
        for (int64_t i = 0; i < hi - lo; ++i)
          y[i] = static_cast<float>(v[i]);
      }
      Stats s;
      for (int64_t i = 0; i < hi - lo; ++i) {
        if (!std::isfinite(y[i]))
          continue;
        if (!std::isfinite(x[i])) {
          ++s.nonFinite;
          continue;
        }
        double a = x[i], r = y[i];
        s.diff2 += (a - r) * (a - r);
        s.ref2 += r * r;
        s.xy += a * r;
        s.xxyy += a * a + r * r;
        s.maxAbs = std::max(s.maxAbs, std::fabs(a - r));
      }
      std::lock_guard<std::mutex> lock(mutex);
      parts.push_back(s);
    });
    for (const Stats &s : parts)
      total.merge(s);
  }
  return total;
}

} // namespace

int moe::run::runGpuCheck(const GpuCheckOptions &options,
                          llvm::ArrayRef<GpuOperand> args,
                          llvm::ArrayRef<GpuOperand> results) {
  const int32_t device = options.device;
  std::string manifestPath = options.artifactDir + "/manifest.json";
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> text =
      llvm::MemoryBuffer::getFile(manifestPath);
  if (!text)
    return fail("cannot read " + manifestPath + ": " +
                text.getError().message());

  // The manifest against the function: no driver needed.
  moeRtKernel unloadedRaw = nullptr;
  if (moeRtKernelCreateUnloaded((*text)->getBufferStart(),
                                (*text)->getBufferSize(), device, &unloadedRaw))
    return fail(manifestPath + ": " + moeRtGetLastError());
  KernelHandle unloaded(unloadedRaw);
  moeRtKernelInfo kinfo;
  moeRtKernelGetInfo(unloaded.get(), &kinfo);
  std::vector<Binding> bindings(kinfo.numTensors);
  std::vector<bool> argBound(args.size()), resultBound(results.size());
  for (int32_t i = 0; i < kinfo.numTensors; ++i) {
    moeRtTensorInfo info;
    moeRtKernelGetTensorInfo(unloaded.get(), i, &info);
    if (llvm::Error e = bind(i, info, args, results, bindings[i]))
      return fail(manifestPath + ": " + llvm::toString(std::move(e)));
    std::vector<bool> &bound = bindings[i].isResult ? resultBound : argBound;
    if (bound[bindings[i].index])
      return fail(
          llvm::formatv("{0}: two tensors name {1}", manifestPath, info.name));
    bound[bindings[i].index] = true;
  }
  for (size_t i = 0; i < args.size(); ++i)
    if (!argBound[i])
      return fail(llvm::formatv("{0}: no tensor is argument #{1} (arg{1})",
                                manifestPath, i));
  for (size_t i = 0; i < results.size(); ++i)
    if (!resultBound[i])
      return fail(llvm::formatv("{0}: no tensor is result #{1} (result{1})",
                                manifestPath, i));

  // Load. No driver, no such device, or a device of another architecture:
  // the check did not run.
  moeRtKernel kernelRaw = nullptr;
  if (moeRtStatus st =
          moeRtLoadArtifact(options.artifactDir.c_str(), device, &kernelRaw)) {
    if (st == MOE_RT_ERROR_DRIVER_UNAVAILABLE ||
        st == MOE_RT_ERROR_UNSUPPORTED_DEVICE ||
        st == MOE_RT_ERROR_INVALID_VALUE) {
      llvm::outs() << "gpu: not run: " << moeRtGetLastError() << "\n";
      return options.required ? 2 : 0;
    }
    return fail(llvm::Twine("loading ") + options.artifactDir + ": " +
                moeRtGetLastError());
  }
  KernelHandle kernel(kernelRaw);
  moeRtKernelGetInfo(kernel.get(), &kinfo);

  // Buffers: inputs hold the reference's values, outputs NaN bits.
  DeviceBuffers buffers(device);
  std::vector<moeRtTensorArg> launchArgs(bindings.size());
  for (size_t i = 0; i < bindings.size(); ++i) {
    Binding &b = bindings[i];
    const Tensor &t = *b.operand->value;
    Codec codec(t.getKind());
    uint64_t bytes = codec.bytesFor(t.getNumElements());
    if (buffers.alloc((bytes + 1) / 2 * 2, b.device))
      return fail(llvm::Twine(b.info.name) + ": " + moeRtGetLastError());
    if (b.isResult) {
      if (moeRtDeviceMemsetD16(device, b.device, 0xFFFF, (bytes + 1) / 2))
        return fail(llvm::Twine(b.info.name) + ": " + moeRtGetLastError());
    } else if (llvm::Error e = upload(device, b)) {
      return fail(llvm::Twine(b.info.name) + ": " +
                  llvm::toString(std::move(e)));
    }
    llvm::ArrayRef<int64_t> shape = t.getShape();
    if (moeRtTensorArgInit(&launchArgs[i], b.device, b.info.dtype,
                           static_cast<int32_t>(shape.size()), shape.data(),
                           device))
      return fail(moeRtGetLastError());
  }

  moeRtLaunchConfig config;
  moeRtLaunchConfigInit(&config);
  // The kernel's scratch memory (e.g. its tile counter), if it has any; the
  // runtime zeroes what the kernel needs zeroed before the launch.
  if (kinfo.workspaceBytes) {
    if (buffers.alloc(kinfo.workspaceBytes, config.workspace))
      return fail(llvm::Twine("workspace: ") + moeRtGetLastError());
    config.workspaceBytes = kinfo.workspaceBytes;
  }
  int64_t tokens = 0;
  if (moeRtValidateArgs(kernel.get(), launchArgs.data(),
                        static_cast<int32_t>(launchArgs.size()), &config,
                        &tokens) ||
      moeRtLaunch(kernel.get(), launchArgs.data(),
                  static_cast<int32_t>(launchArgs.size()), &config,
                  /*stream=*/nullptr) ||
      moeRtDeviceSynchronize(device))
    return fail(moeRtGetLastError());
  llvm::outs() << llvm::formatv("gpu: {0} ({1}) on device {2} ({3} SMs), "
                                "T = {4}\n",
                                kinfo.name, kinfo.arch, device, kinfo.numSms,
                                tokens);

  // Compare.
  std::vector<std::string> mismatches;
  for (const Binding &b : bindings) {
    if (!b.isResult)
      continue;
    llvm::Expected<Stats> s = compare(device, b);
    if (!s)
      return fail(llvm::Twine(b.info.name) + ": " +
                  llvm::toString(s.takeError()));
    double rel = s->ref2 > 0    ? std::sqrt(s->diff2 / s->ref2)
                 : s->diff2 > 0 ? std::numeric_limits<double>::infinity()
                                : 0.0;
    double calcDiff = s->xxyy > 0 ? 1.0 - 2.0 * s->xy / s->xxyy : 0.0;
    bool ok = s->nonFinite == 0 && rel <= options.tolerance;
    std::string shape;
    for (int64_t d : b.operand->value->getShape())
      shape += (shape.empty() ? "" : " x ") + std::to_string(d);
    llvm::outs() << llvm::formatv(
        "gpu: {0} [{1}] {2}: rel. Frobenius error {3:e1}, calc_diff {4:e1}, "
        "non-finite {5}, max abs diff {6:e1} -> {7}\n",
        b.info.name, shape, moeRtDTypeName(b.info.dtype), rel, calcDiff,
        s->nonFinite, s->maxAbs, ok ? "ok" : "MISMATCH");
    if (!ok)
      mismatches.push_back(
          llvm::formatv(
              "{0} differs from the reference: {1} non-finite values where the "
              "reference is finite, rel. Frobenius error {2:e1} (tolerance "
              "{3:e1})",
              b.info.name, s->nonFinite, rel, options.tolerance)
              .str());
  }
  llvm::outs().flush();
  for (const std::string &m : mismatches)
    fail(m);
  return mismatches.empty() ? 0 : 1;
}
