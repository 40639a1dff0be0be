//===- FuzzDriver.cpp - Run the fuzz target on files, without libFuzzer ---===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// moe-fuzz-driver FILE...: calls LLVMFuzzerTestOneInput on each file (a
// directory: on each regular file in it, recursively). It is built in every
// configuration, so the lit suite runs the fuzz target's code over the seed
// corpus and the regression inputs (test/Fuzz) without clang's fuzzer
// runtime. Prints one line per file and "ran N inputs" at the end.
//
//===----------------------------------------------------------------------===//

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (llvm::sys::fs::is_directory(argv[i])) {
      std::error_code ec;
      for (llvm::sys::fs::recursive_directory_iterator it(argv[i], ec), end;
           it != end && !ec; it.increment(ec))
        if (llvm::sys::fs::is_regular_file(it->path()))
          files.push_back(it->path());
    } else {
      files.push_back(argv[i]);
    }
  }
  unsigned ran = 0;
  for (const std::string &path : files) {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer) {
      llvm::errs() << "moe-fuzz-driver: cannot read " << path << "\n";
      return 1;
    }
    llvm::outs() << "running " << path << "\n";
    llvm::outs().flush();
    LLVMFuzzerTestOneInput(
        reinterpret_cast<const uint8_t *>((*buffer)->getBufferStart()),
        (*buffer)->getBufferSize());
    ++ran;
  }
  llvm::outs() << "ran " << ran << " inputs\n";
  return 0;
}
