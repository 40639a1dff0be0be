//===- ParserGuard.h - Inputs upstream's parser crashes on -------*- C++
//-*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// MLIR 22's parser crashes (SEGV) on some inputs instead of diagnosing them
// (docs/Robustness.md, "Not ours"). The tools and the JIT look for those
// inputs before they parse and report an error instead.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PARSERGUARD_H
#define MOE_PARSERGUARD_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>

namespace llvm {
class MemoryBuffer;
class raw_ostream;
} // namespace llvm

namespace mlir {
class MLIRContext;
namespace moe {

/// An input that upstream's parser would crash on: where it starts (an
/// offset into the source) and why it is refused.
struct ParserTrap {
  size_t offset;
  unsigned line, column; // 1-based
  std::string message;
};

/// Returns the first trap in `source`, skipping comments and string
/// literals. Known traps: U2, a dense array attribute of `index` elements
/// (`array<index>`, `array<index: 1>`), which `Parser::parseDenseArrayAttr`
/// takes for a float type.
std::optional<ParserTrap> findParserTrap(llvm::StringRef source);

/// Emits the first trap of `source` (a buffer named `name`) as an error
/// through `context`'s diagnostics, at its line and column, and fails; succeeds
/// when there is none. For callers with a diagnostic handler (the JIT,
/// moe-translate).
LogicalResult emitParserTrap(llvm::StringRef source, llvm::StringRef name,
                             MLIRContext *context);

/// Prints "<name>:<line>:<col>: error: ..." with the source line for the
/// first trap of `buffer` to `os` and returns true; returns false when there
/// is none. For callers with no context yet (moe-opt, moe-run).
bool reportParserTrap(const llvm::MemoryBuffer &buffer, llvm::raw_ostream &os);

} // namespace moe
} // namespace mlir

#endif // MOE_PARSERGUARD_H
