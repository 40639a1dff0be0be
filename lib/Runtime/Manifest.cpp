//===- Manifest.cpp - Parse and check manifest.json -----------------------===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The project builds with -fno-exceptions, where nlohmann/json aborts instead
// of throwing. So nothing here may throw: the text is parsed with
// allow_exceptions = false, every field is found with find() and its type is
// checked before get<>(), and dump() replaces invalid UTF-8.
//
//===----------------------------------------------------------------------===//

#include "moe/Runtime/Manifest.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <limits>
#include <unordered_map>
#include <utility>

using json = nlohmann::json;

namespace moe::runtime {

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

namespace {
struct DTypeEntry {
  moeRtDType dtype;
  const char *name;
  unsigned bits;
};
} // namespace

static constexpr DTypeEntry kDTypes[] = {
    {MOE_RT_DTYPE_BF16, "bf16", 16},
    {MOE_RT_DTYPE_F16, "f16", 16},
    {MOE_RT_DTYPE_F32, "f32", 32},
    {MOE_RT_DTYPE_F8E4M3FN, "f8E4M3FN", 8},
    {MOE_RT_DTYPE_F4E2M1FN, "f4E2M1FN", 4},
    {MOE_RT_DTYPE_F8E8M0FNU, "f8E8M0FNU", 8},
    {MOE_RT_DTYPE_I8, "i8", 8},
    {MOE_RT_DTYPE_UI8, "ui8", 8},
    {MOE_RT_DTYPE_I32, "i32", 32},
    {MOE_RT_DTYPE_I64, "i64", 64},
};

const char *dtypeName(moeRtDType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e.name;
  return "invalid";
}

moeRtDType dtypeFromName(std::string_view name) {
  for (const DTypeEntry &e : kDTypes)
    if (name == e.name)
      return e.dtype;
  return MOE_RT_DTYPE_INVALID;
}

unsigned dtypeBits(moeRtDType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e.bits;
  return 0;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += shape[i] == kDimT ? std::string("T") : std::to_string(shape[i]);
  }
  return s + "]";
}

bool TensorSpec::hasTokenDim() const {
  for (int64_t d : shape)
    if (d == kDimT)
      return true;
  return false;
}

unsigned swizzleBytes(Swizzle s) {
  switch (s) {
  case Swizzle::None:
    return 0;
  case Swizzle::B32:
    return 32;
  case Swizzle::B64:
    return 64;
  case Swizzle::B128:
    return 128;
  }
  return 0;
}

size_t ParamSpec::sizeInBytes() const {
  switch (kind) {
  case ParamKind::TensorMap:
    return 128;
  case ParamKind::Tensor:
  case ParamKind::Workspace:
    return 8;
  case ParamKind::Scalar:
  case ParamKind::TokenCount:
    return type == ScalarType::I32 ? 4 : 8;
  }
  return 0;
}

//===----------------------------------------------------------------------===//
// JSON syntax errors
//===----------------------------------------------------------------------===//

namespace {
/// Only records where the text stops being JSON: allow_exceptions = false
/// gives a discarded value and no reason.
struct SyntaxErrorFinder : nlohmann::json_sax<json> {
  size_t position = 0;
  std::string message;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t &) override { return true; }
  bool string(string_t &) override { return true; }
  bool binary(binary_t &) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t &) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t pos, const std::string &,
                   const nlohmann::detail::exception &ex) override {
    position = pos;
    message = ex.what();
    return false;
  }
};
} // namespace

static std::string describeSyntaxError(std::string_view text) {
  SyntaxErrorFinder finder;
  json::sax_parse(text.begin(), text.end(), &finder);
  size_t line = 1, column = 1;
  for (size_t i = 0; i + 1 < finder.position && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  // nlohmann's message repeats the position; keep its reason only.
  std::string reason = finder.message;
  if (size_t p = reason.find(": syntax error"); p != std::string::npos)
    reason = reason.substr(p + 2);
  return "manifest: not valid JSON at line " + std::to_string(line) +
         ", column " + std::to_string(column) + ": " + reason;
}

//===----------------------------------------------------------------------===//
// Field readers
//===----------------------------------------------------------------------===//

namespace {
/// Reads typed fields of JSON objects; the first failure wins and names the
/// field by its path ("tensors[2].shape[1]").
class Reader {
public:
  explicit Reader(std::string &error) : error(error) {}

  bool fail(const std::string &path, const std::string &what) {
    if (error.empty())
      error = "manifest: " + path + ": " + what;
    return false;
  }

  static std::string describe(const json &v) {
    std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > 40)
      text = text.substr(0, 37) + "...";
    return std::string(v.type_name()) + " " + text;
  }

  bool expectObject(const json &v, const std::string &path) {
    if (v.is_object())
      return true;
    return fail(path, "expected an object, got " + describe(v));
  }

  /// Sets `out` to the member or null; fails if it is missing and required.
  bool member(const json &obj, const char *key, const std::string &path,
              bool required, const json *&out) {
    out = nullptr;
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required)
        return fail(join(path, key), "missing required field");
      return true;
    }
    out = &*it;
    return true;
  }

  bool string(const json &obj, const char *key, const std::string &path,
              bool required, std::string &out) {
    const json *v;
    if (!member(obj, key, path, required, v))
      return false;
    if (!v)
      return true;
    if (!v->is_string())
      return fail(join(path, key), "expected a string, got " + describe(*v));
    out = v->get<std::string>();
    return true;
  }

  bool boolean(const json &obj, const char *key, const std::string &path,
               bool required, bool &out) {
    const json *v;
    if (!member(obj, key, path, required, v))
      return false;
    if (!v)
      return true;
    if (!v->is_boolean())
      return fail(join(path, key), "expected true or false, got " +
                                       describe(*v));
    out = v->get<bool>();
    return true;
  }

  bool integer(const json &v, const std::string &path, int64_t min, int64_t max,
               int64_t &out) {
    if (!v.is_number_integer())
      return fail(path, "expected an integer, got " + describe(v));
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() >
            static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fail(path, "integer out of range: " + describe(v));
    int64_t x = v.get<int64_t>();
    if (x < min || x > max)
      return fail(path, "expected an integer in [" + std::to_string(min) +
                            ", " + std::to_string(max) + "], got " +
                            std::to_string(x));
    out = x;
    return true;
  }

  bool integer(const json &obj, const char *key, const std::string &path,
               bool required, int64_t min, int64_t max, int64_t &out) {
    const json *v;
    if (!member(obj, key, path, required, v))
      return false;
    if (!v)
      return true;
    return integer(*v, join(path, key), min, max, out);
  }

  bool array(const json &v, const std::string &path, size_t minSize,
             size_t maxSize) {
    if (!v.is_array())
      return fail(path, "expected an array, got " + describe(v));
    if (v.size() < minSize || v.size() > maxSize)
      return fail(path,
                  "expected an array of " + std::to_string(minSize) +
                      (minSize == maxSize ? std::string()
                                          : " to " + std::to_string(maxSize)) +
                      " elements, got " + std::to_string(v.size()));
    return true;
  }

  /// A string that must be one of `choices`; `out` is its index.
  bool choice(const json &obj, const char *key, const std::string &path,
              std::initializer_list<const char *> choices, size_t &out) {
    std::string s;
    const json *v;
    if (!member(obj, key, path, false, v))
      return false;
    if (!v)
      return true; // keep the default
    if (!string(obj, key, path, false, s))
      return false;
    size_t i = 0;
    std::string list;
    for (const char *c : choices) {
      if (s == c) {
        out = i;
        return true;
      }
      list += std::string(i ? ", " : "") + "\"" + c + "\"";
      ++i;
    }
    return fail(join(path, key),
                "expected one of " + list + ", got \"" + s + "\"");
  }

  /// 1 to 3 positive dims, padded with 1.
  bool dim3(const json &obj, const char *key, const std::string &path,
            bool required, std::array<uint32_t, 3> &out) {
    const json *v;
    if (!member(obj, key, path, required, v))
      return false;
    if (!v)
      return true;
    std::string p = join(path, key);
    if (!array(*v, p, 1, 3))
      return false;
    out = {1, 1, 1};
    for (size_t i = 0; i < v->size(); ++i) {
      int64_t x;
      if (!integer((*v)[i], index(p, i), 1, std::numeric_limits<int32_t>::max(),
                   x))
        return false;
      out[i] = static_cast<uint32_t>(x);
    }
    return true;
  }

  static std::string join(const std::string &path, const char *key) {
    return path.empty() ? std::string(key) : path + "." + key;
  }
  static std::string index(const std::string &path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

private:
  std::string &error;
};
} // namespace

//===----------------------------------------------------------------------===//
// Sections
//===----------------------------------------------------------------------===//

static bool parseArch(Reader &r, const std::string &path, ChipBuild &image) {
  // sm_<major><minor>[a|f]: sm_90a, sm_100a, sm_120f.
  const std::string &arch = image.arch;
  std::string_view s = arch;
  auto bad = [&] {
    return r.fail(path, "expected sm_<version>[a] such as \"sm_90a\" or "
                        "\"sm_100a\", got \"" +
                            arch + "\"");
  };
  if (s.substr(0, 3) != "sm_")
    return bad();
  s.remove_prefix(3);
  if (!s.empty() && (s.back() == 'a' || s.back() == 'f')) {
    image.archSpecific = true;
    s.remove_suffix(1);
  }
  if (s.size() < 2 || s.size() > 3)
    return bad();
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return bad();
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  image.archMajor = v / 10;
  image.archMinor = v % 10;
  return true;
}

/// "images": builds of the kernel for other chips, each {arch, cubin,
/// dynamic_smem_bytes (optional)}, at most one per arch (the top-level one
/// included).
static bool parseImages(Reader &r, const json &root, Manifest &m) {
  const json *list;
  if (!r.member(root, "images", "", false, list))
    return false;
  if (!list)
    return true;
  if (!r.array(*list, "images", 0, 8))
    return false;
  for (size_t i = 0; i < list->size(); ++i) {
    const json &v = (*list)[i];
    std::string path = "images[" + std::to_string(i) + "]";
    if (!r.expectObject(v, path))
      return false;
    KernelImage image;
    if (!r.string(v, "arch", path, true, image.arch) ||
        !r.string(v, "cubin", path, true, image.cubin) ||
        !parseArch(r, path + ".arch", image))
      return false;
    if (image.cubin.empty())
      return r.fail(path + ".cubin", "must not be empty");
    const json *smem;
    if (!r.member(v, "dynamic_smem_bytes", path, false, smem))
      return false;
    if (smem) {
      int64_t bytes = 0;
      if (!r.integer(*smem, path + ".dynamic_smem_bytes", 0,
                     std::numeric_limits<int32_t>::max(), bytes))
        return false;
      image.dynamicSmemBytes = static_cast<uint32_t>(bytes);
    }
    if (image.arch == m.arch)
      return r.fail(path + ".arch", "\"" + image.arch +
                                        "\" is already the top-level arch");
    for (const KernelImage &other : m.images)
      if (other.arch == image.arch)
        return r.fail(path + ".arch",
                      "duplicate image for \"" + image.arch + "\"");
    m.images.push_back(std::move(image));
  }
  return true;
}

std::vector<KernelImage> kernelImages(const Manifest &m) {
  KernelImage top;
  static_cast<ChipBuild &>(top) = m;
  top.variants = m.variants;
  std::vector<KernelImage> all{top};
  all.insert(all.end(), m.images.begin(), m.images.end());
  return all;
}

void useImage(Manifest &m, size_t index) {
  if (index == 0)
    return;
  const KernelImage &image = m.images.at(index - 1);
  static_cast<ChipBuild &>(m) = image;
  if (image.dynamicSmemBytes)
    m.dynamicSmemBytes = *image.dynamicSmemBytes;
  m.variants = image.variants;
}

/// The rules of a cluster (`launch.cluster` or `variants[i].cluster`, at
/// `path`) against the grid of `launch`, parsed before. A fixed grid that
/// the cluster does not divide is reported at `gridPath`.
static bool checkCluster(Reader &r, const Manifest &m,
                         const std::array<uint32_t, 3> &cluster,
                         const std::string &path, const std::string &gridPath) {
  uint64_t ctas = uint64_t(cluster[0]) * cluster[1] * cluster[2];
  if (ctas > 16)
    return r.fail(path,
                  "a cluster has at most 16 CTAs, got " + std::to_string(ctas));
  if (m.persistentGrid && (cluster[1] != 1 || cluster[2] != 1))
    return r.fail(path, "a persistent grid takes clusters along x only");
  for (int i = 0; i < 3 && !m.persistentGrid; ++i)
    if (m.grid[i] % cluster[i])
      return r.fail(gridPath, "grid dim " + std::to_string(i) + " (" +
                                  std::to_string(m.grid[i]) +
                                  ") is not a multiple of the cluster dim (" +
                                  std::to_string(cluster[i]) + ")");
  return true;
}

static bool parseLaunch(Reader &r, const json &root, Manifest &m) {
  const json *launch;
  if (!r.member(root, "launch", "", true, launch) ||
      !r.expectObject(*launch, "launch"))
    return false;
  const json *grid;
  if (!r.member(*launch, "grid", "launch", true, grid))
    return false;
  if (grid->is_string()) {
    if (grid->get<std::string>() != "persistent")
      return r.fail("launch.grid", "expected an array of dims or "
                                   "\"persistent\", got " +
                                       Reader::describe(*grid));
    m.persistentGrid = true;
  } else if (!grid->is_array()) {
    return r.fail("launch.grid", "expected an array of dims or "
                                 "\"persistent\", got " +
                                     Reader::describe(*grid));
  } else if (!r.dim3(*launch, "grid", "launch", true, m.grid)) {
    return false;
  }
  if (!r.dim3(*launch, "block", "launch", true, m.block) ||
      !r.dim3(*launch, "cluster", "launch", false, m.cluster))
    return false;
  uint64_t threads = uint64_t(m.block[0]) * m.block[1] * m.block[2];
  if (threads > 1024)
    return r.fail("launch.block", "a block has at most 1024 threads, got " +
                                      std::to_string(threads));
  if (!checkCluster(r, m, m.cluster, "launch.cluster", "launch.grid"))
    return false;
  int64_t smem = 0;
  if (!r.integer(*launch, "dynamic_smem_bytes", "launch", true, 0,
                 std::numeric_limits<int32_t>::max(), smem))
    return false;
  m.dynamicSmemBytes = static_cast<uint32_t>(smem);
  return true;
}

/// `name` as a dtype, or an error at `path`.
static bool knownDType(Reader &r, const std::string &name,
                       const std::string &path, moeRtDType &out) {
  out = dtypeFromName(name);
  if (out != MOE_RT_DTYPE_INVALID)
    return true;
  return r.fail(path, "unknown dtype \"" + name +
                          "\" (expected bf16, f16, f32, f8E4M3FN, f4E2M1FN, "
                          "f8E8M0FNU, i8, ui8, i32 or i64)");
}

/// The rule of packed f4E2M1FN (two values a byte) for `shape` at `path`.
static bool checkFp4Shape(Reader &r, const TensorSpec &spec,
                          const std::string &path, const char *what) {
  if (spec.dtype == MOE_RT_DTYPE_F4E2M1FN &&
      (spec.shape.empty() || spec.shape.back() == kDimT ||
       spec.shape.back() % 2))
    return r.fail(path, std::string("an f4E2M1FN ") + what +
                            " packs two values per byte: its innermost dim "
                            "must be static and even, got " +
                            formatShape(spec.shape));
  return true;
}

static bool parseTensors(Reader &r, const json &root, Manifest &m,
                         std::unordered_map<std::string, size_t> &byName) {
  const json *tensors;
  if (!r.member(root, "tensors", "", true, tensors) ||
      !r.array(*tensors, "tensors", 0, kMaxParams))
    return false;
  for (size_t i = 0; i < tensors->size(); ++i) {
    const json &t = (*tensors)[i];
    std::string p = Reader::index("tensors", i);
    TensorSpec spec;
    std::string dtype;
    if (!r.expectObject(t, p) || !r.string(t, "name", p, true, spec.name) ||
        !r.string(t, "dtype", p, true, dtype))
      return false;
    if (spec.name.empty())
      return r.fail(p + ".name", "must not be empty");
    if (!byName.emplace(spec.name, i).second)
      return r.fail(p + ".name", "duplicate tensor name \"" + spec.name + "\"");
    if (!knownDType(r, dtype, p + ".dtype", spec.dtype))
      return false;
    const json *shape;
    if (!r.member(t, "shape", p, true, shape) ||
        !r.array(*shape, p + ".shape", 0, MOE_RT_MAX_RANK))
      return false;
    for (size_t d = 0; d < shape->size(); ++d) {
      const json &dim = (*shape)[d];
      std::string dp = Reader::index(p + ".shape", d);
      if (dim.is_string() && dim.get<std::string>() == "T") {
        spec.shape.push_back(kDimT);
        continue;
      }
      bool positive = dim.is_number_unsigned()
                          ? dim.get<uint64_t>() > 0
                          : dim.is_number_integer() && dim.get<int64_t>() > 0;
      if (!positive)
        return r.fail(dp, "expected a positive integer or \"T\", got " +
                              Reader::describe(dim));
      int64_t x;
      if (!r.integer(dim, dp, 1, int64_t(1) << 40, x))
        return false;
      spec.shape.push_back(x);
    }
    if (!checkFp4Shape(r, spec, p + ".shape", "tensor"))
      return false;
    std::string layout = "row-major";
    if (!r.string(t, "layout", p, false, layout))
      return false;
    if (layout != "row-major")
      return r.fail(p + ".layout",
                    "expected \"row-major\", got \"" + layout + "\"");
    int64_t align = 16;
    if (!r.integer(t, "alignment", p, false, 1, 4096, align))
      return false;
    if (align & (align - 1))
      return r.fail(p + ".alignment",
                    "expected a power of two, got " + std::to_string(align));
    spec.alignment = static_cast<uint32_t>(align);
    size_t role = 0;
    if (!r.choice(t, "role", p, {"input", "output", "inout"}, role))
      return false;
    spec.role = static_cast<int32_t>(role);
    m.usesTokens |= spec.hasTokenDim();
    m.tensors.push_back(std::move(spec));
  }
  return true;
}

/// Byte stride of tensor dim `d` (row-major), or -1 if it depends on T.
static int64_t staticByteStride(const TensorSpec &t, size_t d) {
  int64_t elems = 1;
  for (size_t i = d + 1; i < t.shape.size(); ++i) {
    if (t.shape[i] == kDimT)
      return -1;
    elems *= t.shape[i];
  }
  return elems * dtypeBits(t.dtype) / 8;
}

/// The "workspace" object `w` of a descriptor (at `path`): a static view of
/// the caller's workspace, within its workspace_bytes.
static bool parseWorkspaceView(Reader &r, const json &w,
                               const std::string &path, const Manifest &m,
                               const std::string &entry, TensorMapSpec &spec) {
  if (!r.expectObject(w, path))
    return false;
  int64_t offset = 0;
  std::string dtype;
  if (!r.integer(w, "offset", path, true, 0,
                 std::numeric_limits<int64_t>::max(), offset) ||
      !r.string(w, "dtype", path, true, dtype) ||
      !knownDType(r, dtype, path + ".dtype", spec.view.dtype))
    return false;
  if (offset % 16)
    return r.fail(path + ".offset",
                  "expected a multiple of 16 (TMA needs a 16-byte aligned "
                  "base), got " +
                      std::to_string(offset));
  spec.workspaceOffset = static_cast<uint64_t>(offset);
  const json *shape;
  if (!r.member(w, "shape", path, true, shape) ||
      !r.array(*shape, path + ".shape", 1, kMaxTensorMapRank))
    return false;
  for (size_t d = 0; d < shape->size(); ++d) {
    const json &dim = (*shape)[d];
    std::string dp = Reader::index(path + ".shape", d);
    bool positive = dim.is_number_unsigned()
                        ? dim.get<uint64_t>() > 0
                        : dim.is_number_integer() && dim.get<int64_t>() > 0;
    if (!positive)
      return r.fail(dp, "expected a positive integer (a view of the "
                        "workspace is static), got " +
                            Reader::describe(dim));
    int64_t x;
    if (!r.integer(dim, dp, 1, int64_t(1) << 40, x))
      return false;
    spec.view.shape.push_back(x);
  }
  spec.view.name = "workspace";
  if (!checkFp4Shape(r, spec.view, path + ".shape", "view"))
    return false;

  // Its bytes must lie within the workspace the caller is asked for.
  if (m.workspaceBytes == 0)
    return r.fail("workspace_bytes", "must be positive: TMA descriptor \"" +
                                         spec.name + "\" (" + entry +
                                         ") is over the workspace");
  uint64_t bits = dtypeBits(spec.view.dtype), elems = 1, bytes = 0, end = 0;
  bool overflow = false;
  for (int64_t d : spec.view.shape)
    overflow |= __builtin_mul_overflow(elems, static_cast<uint64_t>(d), &elems);
  overflow |= __builtin_mul_overflow(elems, bits, &bytes);
  bytes /= 8; // a packed f4E2M1FN view has an even innermost dim
  overflow |= __builtin_add_overflow(spec.workspaceOffset, bytes, &end);
  if (overflow || end > m.workspaceBytes)
    return r.fail(
        path,
        "the view " + formatShape(spec.view.shape) + " of " + dtype +
            " at offset " + std::to_string(spec.workspaceOffset) +
            (overflow ? std::string(" spans 2^64 bytes or more")
                      : " ends at byte " + std::to_string(end)) +
            ", beyond workspace_bytes = " + std::to_string(m.workspaceBytes));
  return true;
}

static bool
parseTensorMaps(Reader &r, const json &root, Manifest &m,
                const std::unordered_map<std::string, size_t> &tensorByName,
                std::unordered_map<std::string, size_t> &byName) {
  const json *maps;
  if (!r.member(root, "tma", "", false, maps))
    return false;
  if (!maps)
    return true;
  if (!r.array(*maps, "tma", 0, kMaxTensorMaps))
    return false;
  for (size_t i = 0; i < maps->size(); ++i) {
    const json &t = (*maps)[i];
    std::string p = Reader::index("tma", i);
    TensorMapSpec spec;
    if (!r.expectObject(t, p) || !r.string(t, "name", p, true, spec.name))
      return false;
    if (spec.name.empty())
      return r.fail(p + ".name", "must not be empty");
    if (!byName.emplace(spec.name, i).second)
      return r.fail(p + ".name",
                    "duplicate descriptor name \"" + spec.name + "\"");
    // Over a tensor argument or over a static view of the workspace.
    auto tensorIt = t.find("tensor");
    auto workspaceIt = t.find("workspace");
    bool hasTensor = tensorIt != t.end();
    if (hasTensor && workspaceIt != t.end())
      return r.fail(p, "has both \"tensor\" and \"workspace\"; a descriptor "
                       "is over one of them");
    if (!hasTensor && workspaceIt == t.end())
      return r.fail(p, "needs \"tensor\" (a tensor argument) or "
                       "\"workspace\" (a view of the workspace)");
    std::string tensorName, source;
    if (hasTensor) {
      if (!r.string(t, "tensor", p, true, tensorName))
        return false;
      auto it = tensorByName.find(tensorName);
      if (it == tensorByName.end())
        return r.fail(p + ".tensor", "no tensor named \"" + tensorName + "\"");
      spec.tensor = it->second;
      source = "tensor \"" + tensorName + "\"";
      if (m.tensors[spec.tensor].shape.empty())
        return r.fail(p + ".tensor", source + " has rank 0; a TMA descriptor "
                                              "needs rank 1 to 5");
    } else {
      spec.overWorkspace = true;
      if (!parseWorkspaceView(r, *workspaceIt, p + ".workspace", m, p, spec))
        return false;
      source = "the workspace view";
    }
    // Read only: spec.view is not moved before the push_back below.
    const TensorSpec &tensor = tensorMapSource(m, spec);
    int64_t rank = static_cast<int64_t>(
        std::min<size_t>(tensor.shape.size(), kMaxTensorMapRank));
    if (!r.integer(t, "rank", p, false, 1, rank, rank))
      return false;
    if (tensor.shape.size() > kMaxTensorMapRank && !t.contains("rank"))
      return r.fail(p + ".rank",
                    source + " has rank " +
                        std::to_string(tensor.shape.size()) +
                        "; TMA takes at most 5 dims, so set a rank that "
                        "merges the leading dims");
    spec.rank = static_cast<unsigned>(rank);

    const json *box;
    if (!r.member(t, "box", p, true, box) ||
        !r.array(*box, p + ".box", spec.rank, spec.rank))
      return false;
    for (size_t d = 0; d < box->size(); ++d) {
      int64_t x;
      if (!r.integer((*box)[d], Reader::index(p + ".box", d), 1, 256, x))
        return false;
      spec.box.push_back(static_cast<uint32_t>(x));
    }
    spec.elementStrides.assign(spec.rank, 1);
    const json *estr;
    if (!r.member(t, "element_strides", p, false, estr))
      return false;
    if (estr) {
      if (!r.array(*estr, p + ".element_strides", spec.rank, spec.rank))
        return false;
      for (size_t d = 0; d < estr->size(); ++d) {
        int64_t x;
        if (!r.integer((*estr)[d], Reader::index(p + ".element_strides", d), 1,
                       8, x))
          return false;
        spec.elementStrides[d] = static_cast<uint32_t>(x);
      }
    }
    size_t swz = 0, il = 0, l2 = 0, oob = 0;
    if (!r.choice(t, "swizzle", p, {"none", "32B", "64B", "128B"}, swz) ||
        !r.choice(t, "interleave", p, {"none", "16B", "32B"}, il) ||
        !r.choice(t, "l2_promotion", p, {"none", "64B", "128B", "256B"}, l2) ||
        !r.choice(t, "oob_fill", p, {"none", "nan_request_zero_fma"}, oob))
      return false;
    spec.swizzle = static_cast<Swizzle>(swz);
    spec.interleave = static_cast<Interleave>(il);
    spec.l2Promotion = static_cast<L2Promotion>(l2);
    spec.oobFill = static_cast<OobFill>(oob);
    if (!r.boolean(t, "fp4_padded", p, false, spec.fp4Padded))
      return false;

    // What the driver would reject for any T (cuTensorMapEncodeTiled's
    // rules), reported here against the manifest field.
    unsigned bits = dtypeBits(tensor.dtype);
    uint64_t innerBits = uint64_t(spec.box.back()) * bits;
    if (spec.interleave != Interleave::None && spec.rank < 3)
      return r.fail(p + ".interleave", "an interleaved layout needs a "
                                       "descriptor of rank 3 or more");
    if (innerBits % 8)
      return r.fail(p + ".box", "the innermost box dim of an f4E2M1FN "
                                "tensor must be even (two values a byte)");
    if (spec.fp4Padded) {
      // cuTensorMapEncodeTiled's rules for 16U4_ALIGN16B.
      if (tensor.dtype != MOE_RT_DTYPE_F4E2M1FN)
        return r.fail(p + ".fp4_padded", "takes an f4E2M1FN tensor, not " +
                                             std::string(dtypeName(tensor.dtype)));
      if (spec.box.back() != 128)
        return r.fail(p + ".box", "with fp4_padded the innermost box dim must "
                                  "be 128 values, got " +
                                      std::to_string(spec.box.back()));
      if (spec.swizzle != Swizzle::None && spec.swizzle != Swizzle::B128)
        return r.fail(p + ".swizzle", "with fp4_padded TMA loads only "
                                      "unswizzled or with the 128B swizzle");
      if (spec.interleave != Interleave::None)
        return r.fail(p + ".interleave", "with fp4_padded TMA takes no "
                                         "interleave");
    }
    uint64_t innerBytes = innerBits / 8;
    if (spec.interleave == Interleave::None && innerBytes % 16)
      return r.fail(p + ".box", "the innermost box dim spans " +
                                    std::to_string(innerBytes) +
                                    " bytes; TMA needs a multiple of 16");
    if (spec.interleave == Interleave::None && spec.swizzle != Swizzle::None &&
        innerBytes > swizzleBytes(spec.swizzle))
      return r.fail(p + ".box", "the innermost box dim spans " +
                                    std::to_string(innerBytes) +
                                    " bytes, more than the " +
                                    std::to_string(swizzleBytes(spec.swizzle)) +
                                    "-byte swizzle span");
    size_t merged = tensor.shape.size() - spec.rank; // dims folded into dim 0
    for (size_t d = merged; d + 1 < tensor.shape.size(); ++d) {
      int64_t stride = staticByteStride(tensor, d);
      if (stride >= 0 && stride % 16)
        return r.fail(p, source + " " + formatShape(tensor.shape) +
                             " has a stride of " + std::to_string(stride) +
                             " bytes in dim " + std::to_string(d) +
                             "; TMA needs strides that are multiples of 16 "
                             "bytes");
    }
    m.tensorMaps.push_back(std::move(spec));
  }
  return true;
}

static bool
parseParams(Reader &r, const json &root, Manifest &m,
            const std::unordered_map<std::string, size_t> &tensorByName,
            const std::unordered_map<std::string, size_t> &mapByName) {
  const json *params;
  if (!r.member(root, "params", "", true, params) ||
      !r.array(*params, "params", 0, kMaxParams))
    return false;
  for (size_t i = 0; i < params->size(); ++i) {
    const json &j = (*params)[i];
    std::string p = Reader::index("params", i);
    ParamSpec spec;
    std::string kind;
    if (!r.expectObject(j, p) || !r.string(j, "kind", p, true, kind))
      return false;
    if (kind == "tensor" || kind == "tma") {
      bool isTensor = kind == "tensor";
      const char *key = isTensor ? "tensor" : "tma";
      if (!r.string(j, key, p, true, spec.name))
        return false;
      const auto &names = isTensor ? tensorByName : mapByName;
      auto it = names.find(spec.name);
      if (it == names.end())
        return r.fail(Reader::join(p, key),
                      std::string("no ") +
                          (isTensor ? "tensor" : "TMA descriptor") +
                          " named \"" + spec.name + "\"");
      spec.kind = isTensor ? ParamKind::Tensor : ParamKind::TensorMap;
      spec.index = it->second;
    } else if (kind == "i32" || kind == "i64") {
      spec.kind = ParamKind::Scalar;
      spec.type = kind == "i32" ? ScalarType::I32 : ScalarType::I64;
      if (!r.string(j, "name", p, true, spec.name))
        return false;
      if (spec.name.empty())
        return r.fail(p + ".name", "must not be empty");
      int64_t lo = spec.type == ScalarType::I32
                       ? std::numeric_limits<int32_t>::min()
                       : std::numeric_limits<int64_t>::min();
      int64_t hi = spec.type == ScalarType::I32
                       ? std::numeric_limits<int32_t>::max()
                       : std::numeric_limits<int64_t>::max();
      const json *value;
      if (!r.member(j, "value", p, false, value))
        return false;
      if (value) {
        if (!r.integer(*value, p + ".value", lo, hi, spec.value))
          return false;
        spec.hasValue = true;
      } else {
        spec.index = m.numCallScalars++;
      }
    } else if (kind == "token_count") {
      spec.kind = ParamKind::TokenCount;
      spec.name = "T";
      size_t type = 0;
      if (!r.choice(j, "type", p, {"i32", "i64"}, type))
        return false;
      spec.type = type == 0 ? ScalarType::I32 : ScalarType::I64;
      m.usesTokens = true;
    } else if (kind == "workspace") {
      spec.kind = ParamKind::Workspace;
      spec.name = "workspace";
    } else {
      return r.fail(p + ".kind", "expected one of \"tensor\", \"tma\", "
                                 "\"i32\", \"i64\", \"token_count\", "
                                 "\"workspace\", got \"" +
                                     kind + "\"");
    }
    m.params.push_back(std::move(spec));
  }
  return true;
}

/// The "variants" of `owner` (the manifest, or images[i] at `where`), whose
/// kernel's dynamic shared memory is `smemDefault`, into `out`.
static bool parseVariantList(Reader &r, const json &owner,
                             const std::string &where, const Manifest &m,
                             uint32_t smemDefault,
                             std::vector<KernelVariant> &out) {
  const json *list;
  std::string listPath = where.empty() ? "variants" : where + ".variants";
  if (!r.member(owner, "variants", where, false, list))
    return false;
  if (!list)
    return true;
  if (!list->is_array())
    return r.fail(listPath, "expected an array, got " +
                                Reader::describe(*list));
  if (list->size() > 8)
    return r.fail(listPath, "at most 8 variants, got " +
                                std::to_string(list->size()));
  for (size_t i = 0; i < list->size(); ++i) {
    const json &v = (*list)[i];
    std::string path = listPath + "[" + std::to_string(i) + "]";
    if (!r.expectObject(v, path))
      return false;
    KernelVariant variant;
    int64_t smem = smemDefault;
    if (!r.string(v, "kernel", path, true, variant.kernel) ||
        !r.integer(v, "min_tokens", path, true, 0,
                   std::numeric_limits<int64_t>::max(), variant.minTokens) ||
        !r.integer(v, "dynamic_smem_bytes", path, false, 0,
                   std::numeric_limits<int32_t>::max(), smem))
      return false;
    if (variant.kernel.empty() || variant.kernel == m.kernel)
      return r.fail(path + ".kernel",
                    "must name another kernel than \"kernel\", got \"" +
                        variant.kernel + "\"");
    for (const KernelVariant &other : out)
      if (other.kernel == variant.kernel)
        return r.fail(path + ".kernel",
                      "duplicate variant \"" + variant.kernel + "\"");
    const json *maxTokens;
    if (!r.member(v, "max_tokens", path, false, maxTokens))
      return false;
    if (maxTokens && !maxTokens->is_null() &&
        !r.integer(*maxTokens, path + ".max_tokens",
                   std::min(variant.minTokens,
                            std::numeric_limits<int64_t>::max() - 1) +
                       1,
                   std::numeric_limits<int64_t>::max(), variant.maxTokens))
      return false;
    variant.dynamicSmemBytes = static_cast<uint32_t>(smem);
    // Its own cluster, checked like launch.cluster. Absent means [1, 1, 1],
    // not the primary's: the cluster is compiled into the kernel (TMA
    // multicast, distributed shared memory), so a variant states its own.
    std::string clusterPath = path + ".cluster";
    if (!r.dim3(v, "cluster", path, false, variant.cluster) ||
        !checkCluster(r, m, variant.cluster, clusterPath, clusterPath))
      return false;
    out.push_back(std::move(variant));
  }
  return true;
}

/// The top-level build's variants, then each image's own.
static bool parseVariants(Reader &r, const json &root, Manifest &m) {
  if (!parseVariantList(r, root, "", m, m.dynamicSmemBytes, m.variants))
    return false;
  const json *images;
  if (!r.member(root, "images", "", false, images))
    return false;
  for (size_t i = 0; images && i < m.images.size(); ++i) {
    KernelImage &image = m.images[i];
    if (!parseVariantList(r, (*images)[i],
                          "images[" + std::to_string(i) + "]", m,
                          image.dynamicSmemBytes.value_or(m.dynamicSmemBytes),
                          image.variants))
      return false;
  }
  return true;
}

const TensorSpec &tensorMapSource(const Manifest &m, const TensorMapSpec &map) {
  return map.overWorkspace ? map.view : m.tensors[map.tensor];
}

size_t selectKernel(const Manifest &m, int64_t numTokens) {
  for (size_t i = 0; i < m.variants.size(); ++i) {
    const KernelVariant &v = m.variants[i];
    if (numTokens >= v.minTokens &&
        (v.maxTokens == MOE_RT_UNBOUNDED_TOKENS || numTokens < v.maxTokens))
      return i + 1;
  }
  return 0;
}

const std::string &kernelName(const Manifest &m, size_t choice) {
  return choice ? m.variants[choice - 1].kernel : m.kernel;
}

uint32_t kernelDynamicSmemBytes(const Manifest &m, size_t choice) {
  return choice ? m.variants[choice - 1].dynamicSmemBytes : m.dynamicSmemBytes;
}

const std::array<uint32_t, 3> &kernelCluster(const Manifest &m, size_t choice) {
  return choice ? m.variants[choice - 1].cluster : m.cluster;
}

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

bool parseManifest(std::string_view text, Manifest &m, std::string &error) {
  error.clear();
  m = Manifest();
  json root = json::parse(text.begin(), text.end(), nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    error = describeSyntaxError(text);
    return false;
  }
  Reader r(error);
  if (!r.expectObject(root, "(top level)"))
    return false;
  if (!r.integer(root, "version", "", true, 0,
                 std::numeric_limits<int64_t>::max(), m.version))
    return false;
  if (m.version != kManifestVersion)
    return r.fail("version", "unsupported manifest version " +
                                 std::to_string(m.version) +
                                 " (this runtime reads version " +
                                 std::to_string(kManifestVersion) + ")");
  if (!r.string(root, "kernel", "", true, m.kernel) ||
      !r.string(root, "arch", "", true, m.arch) ||
      !r.string(root, "cubin", "", true, m.cubin) ||
      !r.string(root, "compiler", "", true, m.compiler) ||
      !r.string(root, "content_hash", "", true, m.contentHash))
    return false;
  if (m.kernel.empty())
    return r.fail("kernel", "must not be empty");
  if (m.cubin.empty())
    return r.fail("cubin", "must not be empty");
  if (!parseArch(r, "arch", m))
    return false;
  if (!parseImages(r, root, m) || !parseLaunch(r, root, m) ||
      !parseVariants(r, root, m))
    return false;
  int64_t workspace = 0;
  if (!r.integer(root, "workspace_bytes", "", false, 0,
                 std::numeric_limits<int64_t>::max(), workspace))
    return false;
  m.workspaceBytes = static_cast<uint64_t>(workspace);
  int64_t zeroBytes = 0;
  if (!r.integer(root, "workspace_zero_bytes", "", false, 0,
                 static_cast<int64_t>(kMaxWorkspaceZeroBytes), zeroBytes))
    return false;
  if (zeroBytes % 4)
    return r.fail("workspace_zero_bytes",
                  "expected a multiple of 4 (it is zeroed in 32-bit words), "
                  "got " +
                      std::to_string(zeroBytes));
  if (static_cast<uint64_t>(zeroBytes) > m.workspaceBytes)
    return r.fail("workspace_zero_bytes",
                  std::to_string(zeroBytes) +
                      " bytes is more than workspace_bytes = " +
                      std::to_string(m.workspaceBytes));
  m.workspaceZeroBytes = static_cast<uint64_t>(zeroBytes);
  const json *expertParallel;
  if (!r.member(root, "expert_parallel", "", false, expertParallel))
    return false;
  m.expertParallel = expertParallel && expertParallel->is_object();
  const json *maxTokens;
  if (!r.member(root, "max_tokens", "", false, maxTokens))
    return false;
  if (maxTokens && !maxTokens->is_null() &&
      !r.integer(*maxTokens, "max_tokens", 0,
                 std::numeric_limits<int64_t>::max(), m.maxTokens))
    return false;

  std::unordered_map<std::string, size_t> tensorByName, mapByName;
  if (!parseTensors(r, root, m, tensorByName) ||
      !parseTensorMaps(r, root, m, tensorByName, mapByName) ||
      !parseParams(r, root, m, tensorByName, mapByName))
    return false;

  size_t numMaps = 0, workspaces = 0;
  for (const ParamSpec &p : m.params) {
    numMaps += p.kind == ParamKind::TensorMap;
    workspaces += p.kind == ParamKind::Workspace;
  }
  if (numMaps > kMaxTensorMaps)
    return r.fail("params", "at most " + std::to_string(kMaxTensorMaps) +
                                " TMA descriptor parameters");
  if (workspaces > 1)
    return r.fail("params", "at most one workspace parameter");
  if (workspaces && m.workspaceBytes == 0)
    return r.fail("workspace_bytes", "must be positive: a parameter is the "
                                     "workspace");
  bool workspaceMaps = false;
  for (const TensorMapSpec &map : m.tensorMaps)
    workspaceMaps |= map.overWorkspace;
  if (!workspaces && !workspaceMaps && m.workspaceBytes)
    return r.fail("params", "workspace_bytes is " +
                                std::to_string(m.workspaceBytes) +
                                " but no parameter or TMA descriptor uses "
                                "the workspace");
  return true;
}

} // namespace moe::runtime
