//===- Artifact.cpp - Kernel artifacts: manifest, PTX, cubin ----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Writes the manifest (docs/Manifest.md) of the kernel that a moek.launch
// runs, from the kernel's moek.abi / moek.launch / moek.dynamic_smem_bytes /
// moek.chip attributes and the launch's tensor types; optionally the PTX and
// cubin next to it. The runtime needs nothing else.
//
//===----------------------------------------------------------------------===//

#include "moe/Codegen/PTXEmitter.h"
#include "moe/Codegen/Translations.h"
#include "moe/Dialect/MoEKernel/IR/MoEKernelOps.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include "llvm/Support/ScopedPrinter.h"

#include <nlohmann/json.hpp>

#include <limits>

using namespace mlir;
using json = nlohmann::json;

/// A tensor of the launch in the manifest's form: dtype and shape, "T" for
/// the dynamic dimension.
static json tensorJson(StringRef name, Type type, StringRef role) {
  auto t = cast<RankedTensorType>(type);
  json shape = json::array();
  for (int64_t d : t.getShape())
    shape.push_back(ShapedType::isDynamic(d) ? json("T") : json(d));
  return json{{"name", name.str()},
              {"dtype", llvm::to_string(t.getElementType())},
              {"shape", shape},
              {"role", role.str()}};
}

/// The CTAs per cluster of a kernel: moek.launch's optional `cluster` (along
/// x; y and z are 1), 1 without it. The runtime launches up to 16.
static FailureOr<int64_t> clusterSize(LLVM::LLVMFuncOp func,
                                      DictionaryAttr geometry) {
  Attribute attr = geometry.get("cluster");
  if (!attr)
    return 1;
  // Read through the APInt: getInt() asserts on signed, unsigned and wide
  // types, and this is user input.
  auto size = dyn_cast<IntegerAttr>(attr);
  int64_t n = 0;
  if (size &&
      (size.getType().isSignlessInteger() || size.getType().isIndex()) &&
      size.getValue().getSignificantBits() <= 64)
    n = size.getValue().getSExtValue();
  if (n < 1 || n > 16)
    return func.emitError() << "moe-to-manifest: kernel " << func.getSymName()
                            << ": moek.launch cluster must be an integer from "
                               "1 to 16 (CTAs along x), got "
                            << attr;
  return n;
}

/// The moek.launch entries other than `cluster`: what a variant must share
/// with the primary kernel (the grid is sized by the runtime for each
/// kernel's cluster, so only the cluster may differ).
static DictionaryAttr withoutCluster(DictionaryAttr geometry) {
  NamedAttrList entries(geometry);
  entries.erase("cluster");
  return entries.getDictionary(geometry.getContext());
}

static std::string contentHash(ModuleOp module, StringRef chip) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, OpPrintingFlags().enableDebugInfo(false));
  os << chip << LLVM_VERSION_STRING;
  llvm::SHA256 sha;
  sha.update(text);
  std::array<uint8_t, 32> digest = sha.final();
  return "sha256:" + llvm::toHex(digest, /*LowerCase=*/true);
}

static FailureOr<std::string> writeFile(Location loc, StringRef dir,
                                        StringRef name, StringRef data) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, name);
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return emitError(loc) << "cannot write " << path << ": " << ec.message();
  os << data;
  return path.str().str();
}

/// Whether the token ranges [from, to) of `held` together hold [lo, hi).
static bool holds(ArrayRef<std::pair<int64_t, int64_t>> held, int64_t lo,
                  int64_t hi) {
  for (bool moved = true; moved && lo < hi;) {
    moved = false;
    for (auto [from, to] : held)
      if (from <= lo && lo < to) {
        lo = to;
        moved = true;
      }
  }
  return lo >= hi;
}

LogicalResult moe::translateToManifest(ModuleOp module, raw_ostream &os,
                                       const PTXOptions &ptxOptions,
                                       StringRef artifactDir) {
  SmallVector<kernel::LaunchOp> launches;
  module.walk([&](kernel::LaunchOp op) { launches.push_back(op); });
  if (launches.size() != 1)
    return module.emitError()
           << "moe-to-manifest: expects exactly one moek.launch (run "
              "--moe-to-nvvm-pipeline first), found "
           << launches.size();
  kernel::LaunchOp launch = launches.front();
  auto func = dyn_cast_or_null<LLVM::LLVMFuncOp>(
      SymbolTable::lookupNearestSymbolFrom(launch, launch.getKernelAttr()));
  if (!func)
    return launch.emitOpError() << "kernel " << launch.getKernelAttr()
                                << " is not an llvm.func";
  auto abi = func->getAttrOfType<ArrayAttr>("moek.abi");
  auto geometry = func->getAttrOfType<DictionaryAttr>("moek.launch");
  auto smem = func->getAttrOfType<IntegerAttr>("moek.dynamic_smem_bytes");
  auto chipAttr = func->getAttrOfType<StringAttr>("moek.chip");
  if (!abi || !geometry || !smem || !chipAttr)
    return func.emitError() << "moe-to-manifest: the kernel lacks moek.abi, "
                               "moek.launch, moek.dynamic_smem_bytes or "
                               "moek.chip (was it lowered by "
                               "--moe-to-nvvm-pipeline?)";
  std::string chip = chipAttr.getValue().str();
  if (!ptxOptions.chip.empty() && ptxOptions.chip != chip)
    return func.emitError() << "moe-to-manifest: the kernel was lowered for "
                            << chip << ", not " << ptxOptions.chip;

  // Tensors: the launch's operands, then its results.
  json tensors = json::array();
  auto argName = [](unsigned i) { return "arg" + std::to_string(i); };
  auto resultName = [](unsigned i) { return "result" + std::to_string(i); };
  for (auto [i, v] : llvm::enumerate(launch.getArgs()))
    tensors.push_back(tensorJson(argName(i), v.getType(), "input"));
  for (auto [i, v] : llvm::enumerate(launch.getResults()))
    tensors.push_back(tensorJson(resultName(i), v.getType(), "output"));

  // Parameters in ABI order, and the TMA descriptors they use.
  json tma = json::array(), params = json::array();
  for (Attribute entryAttr : abi) {
    auto entry = dyn_cast<DictionaryAttr>(entryAttr);
    auto kind = entry ? entry.getAs<StringAttr>("kind") : StringAttr();
    if (!kind)
      return func.emitError() << "moe-to-manifest: malformed moek.abi entry "
                              << entryAttr;
    std::string tensor;
    if (auto operand = entry.getAs<IntegerAttr>("operand"))
      tensor = argName(operand.getInt());
    else if (auto result = entry.getAs<IntegerAttr>("result"))
      tensor = resultName(result.getInt());
    if (kind.getValue() == "tma") {
      auto box = entry.getAs<ArrayAttr>("box");
      auto swizzle = entry.getAs<IntegerAttr>("swizzle");
      // A descriptor over the workspace: a static row-major matrix at a
      // byte offset of it, named by `workspace`.
      auto scratch = entry.getAs<StringAttr>("workspace");
      auto offset = entry.getAs<IntegerAttr>("workspace_offset");
      auto dtype = entry.getAs<StringAttr>("dtype");
      auto shape = entry.getAs<ArrayAttr>("shape");
      bool overWorkspace = scratch && offset && dtype && shape;
      if (!box || box.size() != 2 || !swizzle ||
          (tensor.empty() && !overWorkspace))
        return func.emitError() << "moe-to-manifest: malformed TMA entry "
                                << entry;
      // moek.abi boxes are innermost first; the manifest's outermost first.
      json jbox = json::array();
      for (Attribute d : llvm::reverse(box.getValue()))
        jbox.push_back(cast<IntegerAttr>(d).getInt());
      json desc{{"box", jbox},
                {"swizzle", swizzle.getInt() ? std::to_string(swizzle.getInt()) + "B"
                                           : std::string("none")},
                {"l2_promotion", "256B"}};
      // Packed e2m1 copied into tcgen05's padded 4-bit form.
      if (entry.get("fp4_padded"))
        desc["fp4_padded"] = true;
      std::string name;
      if (overWorkspace) {
        // `name`: a second descriptor over the same part (another box).
        auto named = entry.getAs<StringAttr>("name");
        name = (named ? named : scratch).getValue().str() + "_desc";
        json jshape = json::array();
        for (Attribute d : shape)
          jshape.push_back(cast<IntegerAttr>(d).getInt());
        desc["workspace"] = {{"offset", offset.getInt()},
                             {"dtype", dtype.getValue().str()},
                             {"shape", jshape}};
      } else {
        name = tensor + "_desc";
        desc["tensor"] = tensor;
        desc["rank"] = 2;
      }
      desc["name"] = name;
      tma.push_back(desc);
      params.push_back(json{{"kind", "tma"}, {"tma", name}});
    } else if (kind.getValue() == "ptr" && !tensor.empty()) {
      params.push_back(json{{"kind", "tensor"}, {"tensor", tensor}});
    } else if (kind.getValue() == "workspace") {
      params.push_back(json{{"kind", "workspace"}});
    } else if (kind.getValue() == "token_count") {
      params.push_back(json{{"kind", "token_count"}, {"type", "i32"}});
    } else if ((kind.getValue() == "i32" || kind.getValue() == "i64") &&
               entry.getAs<StringAttr>("name")) {
      // A scalar: the compiler's value, or the caller's at launch.
      json scalar{{"kind", kind.getValue().str()},
                  {"name", entry.getAs<StringAttr>("name").getValue().str()}};
      if (auto value = entry.getAs<IntegerAttr>("value"))
        scalar["value"] = value.getInt();
      params.push_back(scalar);
    } else {
      return func.emitError() << "moe-to-manifest: unknown moek.abi entry "
                              << entry;
    }
  }
  auto block = geometry.getAs<IntegerAttr>("block");
  auto grid = geometry.getAs<StringAttr>("grid");
  if (!block || !grid || grid.getValue() != "persistent")
    return func.emitError() << "moe-to-manifest: unsupported moek.launch "
                            << geometry;
  FailureOr<int64_t> cluster = clusterSize(func, geometry);
  if (failed(cluster))
    return failure();

  // Variants: other kernels of the same ABI, block and grid that the runtime
  // launches instead for some token counts (moek.variants), each with its
  // own cluster.
  json variants = json::array();
  if (auto list = func->getAttrOfType<ArrayAttr>("moek.variants")) {
    for (Attribute a : list) {
      auto entry = dyn_cast<DictionaryAttr>(a);
      auto sym = entry ? entry.getAs<FlatSymbolRefAttr>("kernel")
                       : FlatSymbolRefAttr();
      auto minTokens = entry ? entry.getAs<IntegerAttr>("min_tokens")
                             : IntegerAttr();
      auto maxTokens = entry ? entry.getAs<IntegerAttr>("max_tokens")
                             : IntegerAttr();
      auto other = sym ? dyn_cast_or_null<LLVM::LLVMFuncOp>(
                             SymbolTable::lookupNearestSymbolFrom(func, sym))
                       : LLVM::LLVMFuncOp();
      if (!other || !minTokens)
        return func.emitError() << "moe-to-manifest: malformed moek.variants "
                                   "entry "
                                << a;
      if (other == func)
        return func.emitError() << "moe-to-manifest: a variant must be "
                                   "another kernel than "
                                << func.getSymName();
      auto otherSmem =
          other->getAttrOfType<IntegerAttr>("moek.dynamic_smem_bytes");
      auto otherGeometry = other->getAttrOfType<DictionaryAttr>("moek.launch");
      if (other->getAttr("moek.abi") != abi || !otherGeometry ||
          withoutCluster(otherGeometry) != withoutCluster(geometry) ||
          !otherSmem)
        return other.emitError()
               << "moe-to-manifest: variant " << sym
               << " must have the parameter ABI and launch geometry (block, "
                  "grid) of "
               << func.getSymName() << "; only its cluster may differ";
      FailureOr<int64_t> otherCluster = clusterSize(other, otherGeometry);
      if (failed(otherCluster))
        return failure();
      json v{{"kernel", other.getSymName().str()},
             {"min_tokens", minTokens.getInt()},
             {"dynamic_smem_bytes", otherSmem.getInt()}};
      if (maxTokens)
        v["max_tokens"] = maxTokens.getInt();
      // Written even when the primary has the same: a variant without it
      // runs unclustered (docs/Manifest.md).
      if (*otherCluster > 1)
        v["cluster"] = {*otherCluster, 1, 1};
      variants.push_back(v);
    }
  }

  std::string kernelName = func.getSymName().str();
  json manifest{
      {"version", 1},
      {"kernel", kernelName},
      {"arch", chip},
      {"cubin", kernelName + ".cubin"},
      {"compiler", std::string("moe-translate (LLVM ") + LLVM_VERSION_STRING +
                       ")"},
      {"content_hash", contentHash(module, chip)},
      {"launch",
       {{"grid", "persistent"},
        {"block", {block.getInt(), 1, 1}},
        {"dynamic_smem_bytes", smem.getInt()}}},
      {"tensors", tensors},
      {"tma", tma},
      {"params", params},
  };
  if (*cluster > 1)
    manifest["launch"]["cluster"] = {*cluster, 1, 1};
  // Scratch memory the caller passes (moek.workspace): its size, the prefix
  // the runtime zeroes before each launch, and the largest T it holds.
  if (auto ws = func->getAttrOfType<DictionaryAttr>("moek.workspace")) {
    auto bytes = ws.getAs<IntegerAttr>("bytes");
    auto zero = ws.getAs<IntegerAttr>("zero_bytes");
    auto maxTokens = ws.getAs<IntegerAttr>("max_tokens");
    if (!bytes || !zero)
      return func.emitError() << "moe-to-manifest: malformed moek.workspace "
                              << ws;
    manifest["workspace_bytes"] = bytes.getInt();
    manifest["workspace_zero_bytes"] = zero.getInt();
    if (maxTokens)
      manifest["max_tokens"] = maxTokens.getInt();
    // Profiling builds: where the phase timers are (the runtime ignores it).
    if (auto timers = ws.getAs<IntegerAttr>("timers"))
      manifest["workspace_timers_offset"] = timers.getInt();
  }
  // Expert parallelism (docs/ExpertParallel.md): the workspace must be the
  // rank's share of a symmetric buffer; the runtime ignores this, the
  // caller lays out the buffers and the bases table by it.
  if (auto ep = func->getAttrOfType<DictionaryAttr>("moek.expert_parallel")) {
    json jep = json::object();
    for (NamedAttribute a : ep)
      if (auto v = dyn_cast<IntegerAttr>(a.getValue()))
        jep[a.getName().str()] = v.getInt();
    manifest["expert_parallel"] = jep;
  }
  if (!artifactDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(artifactDir))
      return module.emitError() << "cannot create " << artifactDir << ": "
                                << ec.message();
    PTXOptions options = ptxOptions;
    options.chip = chip;
    FailureOr<std::string> ptx = emitPTX(module, options);
    if (failed(ptx))
      return failure();
    // Variants are alternatives in order (the runtime runs the first whose
    // range holds T), and each is an optimization of some token counts.
    // ptxas compiles the primary kernel and the variants that some T would
    // run: not one whose range the variants before it hold. One that ptxas
    // spills in is left out of the manifest and the cubin, and the build
    // is assembled again with the variants it shadowed. ptxas's register
    // allocation of the largest kernels moves with small changes, so this
    // is decided on each build's own report.
    Location loc = func.getLoc();
    llvm::StringSet<> spilledOut;
    std::string report;
    FailureOr<std::string> cubin = failure();
    json kept;
    for (bool again = true; again;) {
      kept = json::array();
      SmallVector<std::pair<int64_t, int64_t>> held;
      for (json &v : variants) {
        std::string name = v["kernel"].get<std::string>();
        int64_t lo = v["min_tokens"].get<int64_t>();
        int64_t hi = v.value("max_tokens", std::numeric_limits<int64_t>::max());
        if (spilledOut.contains(name) || holds(held, lo, hi))
          continue;
        held.push_back({lo, hi});
        kept.push_back(v);
      }
      options.entries = {kernelName};
      for (json &v : kept)
        options.entries.push_back(v["kernel"].get<std::string>());
      cubin = assembleCubin(*ptx, options, loc,
                            kept.empty() ? nullptr : &report);
      if (failed(cubin))
        return failure();
      again = false;
      for (json &v : kept) {
        std::string name = v["kernel"].get<std::string>();
        std::optional<int64_t> spilled = spilledBytes(report, name);
        if (!spilled)
          return func.emitError() << "moe-to-manifest: ptxas's report does "
                                     "not describe variant '"
                                  << name << "'";
        if (*spilled == 0)
          continue;
        emitRemark(module.getLoc())
            << "moe-to-manifest: variant '" << name << "' left out: ptxas "
            << "spills " << *spilled << " bytes (stores and loads) in it; "
            << "its token counts run the next variant that holds them, or '"
            << kernelName << "'";
        spilledOut.insert(name);
        again = true;
      }
    }
    if (failed(writeFile(loc, artifactDir, kernelName + ".ptx", *ptx)) ||
        failed(writeFile(loc, artifactDir, kernelName + ".cubin", *cubin)))
      return failure();
    variants = kept;
  }
  if (!variants.empty())
    manifest["variants"] = variants;
  std::string text = manifest.dump(2) + "\n";
  if (!artifactDir.empty() &&
      failed(writeFile(func.getLoc(), artifactDir, "manifest.json", text)))
    return failure();
  os << text;
  return success();
}

static FailureOr<json> readManifest(Location loc, StringRef dir) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, "manifest.json");
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return emitError(loc) << "cannot read " << path << ": "
                          << buffer.getError().message();
  json j = json::parse((*buffer)->getBuffer().begin(),
                       (*buffer)->getBuffer().end(), nullptr,
                       /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("kernel") ||
      !j.contains("arch"))
    return emitError(loc) << path << " is not a manifest";
  return j;
}

LogicalResult moe::addArtifactImage(Location loc, StringRef dir,
                                    StringRef otherDir) {
  FailureOr<json> primary = readManifest(loc, dir);
  FailureOr<json> other = readManifest(loc, otherDir);
  if (failed(primary) || failed(other))
    return failure();
  std::string kernel = (*primary)["kernel"].get<std::string>();
  std::string arch = (*other)["arch"].get<std::string>();
  // The same kernel, parameters and launch: only the build, the kernel's
  // dynamic shared memory and the variants (a chip's lowering may have some
  // the other's has not) may differ.
  auto comparable = [](json m) {
    for (const char *key :
         {"arch", "cubin", "content_hash", "images", "variants"})
      m.erase(key);
    if (m.contains("launch") && m["launch"].is_object())
      m["launch"].erase("dynamic_smem_bytes");
    return m;
  };
  auto smemOf = [](const json &m) -> json {
    if (!m.contains("launch") || !m["launch"].is_object())
      return json();
    return m["launch"].value("dynamic_smem_bytes", json());
  };
  if (comparable(*primary) != comparable(*other))
    return emitError(loc) << "the " << arch << " build of '" << kernel
                          << "' has another ABI or launch than the "
                          << (*primary)["arch"].get<std::string>()
                          << " build: it cannot be an image of the same "
                             "artifact";
  json images = primary->value("images", json::array());
  if ((*primary)["arch"] == arch)
    return emitError(loc) << "the artifact is already built for " << arch;
  for (const json &image : images)
    if (image.value("arch", "") == arch)
      return emitError(loc) << "the artifact is already built for " << arch;
  for (StringRef ext : {".ptx", ".cubin"}) {
    llvm::SmallString<256> from(otherDir), to(dir);
    llvm::sys::path::append(from, kernel + ext.str());
    llvm::sys::path::append(to, kernel + "." + arch + ext.str());
    if (std::error_code ec = llvm::sys::fs::rename(from, to))
      return emitError(loc) << "cannot move " << from << " to " << to << ": "
                            << ec.message();
  }
  json image{{"arch", arch}, {"cubin", kernel + "." + arch + ".cubin"}};
  if (smemOf(*other) != smemOf(*primary))
    image["dynamic_smem_bytes"] = smemOf(*other);
  // Its own variants: an image without them runs `kernel` for every T
  // (docs/Manifest.md).
  if (other->contains("variants"))
    image["variants"] = (*other)["variants"];
  images.push_back(image);
  (*primary)["images"] = images;
  return success(succeeded(
      writeFile(loc, dir, "manifest.json", primary->dump(2) + "\n")));
}
