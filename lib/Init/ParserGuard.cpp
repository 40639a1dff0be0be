//===- ParserGuard.cpp - Inputs upstream's parser crashes on ----*- C++ -*-===//
//
// Part of the MoE compiler project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "moe/ParserGuard.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir::moe;

namespace {

/// Characters that continue an MLIR bare identifier (`array` and `index`
/// are keywords only as whole identifiers).
bool isIdChar(char c) {
  return llvm::isAlnum(c) || c == '_' || c == '$' || c == '.';
}

/// Skips whitespace and `//` comments from `at`.
size_t skipBlanks(llvm::StringRef s, size_t at) {
  while (at < s.size()) {
    if (llvm::isSpace(s[at])) {
      ++at;
    } else if (s.substr(at).starts_with("//")) {
      at = s.find('\n', at);
      if (at == llvm::StringRef::npos)
        return s.size();
    } else {
      break;
    }
  }
  return at;
}

/// If the keyword `array` ends just before `at` (a bare `array`, not part of
/// a longer name such as `!foo.array` or `my_array`) and is followed by `<`
/// and then `index` as a whole word, returns true.
bool isIndexDenseArray(llvm::StringRef s, size_t start) {
  if (start > 0 && isIdChar(s[start - 1]))
    return false;
  if (!s.substr(start).starts_with("array"))
    return false;
  size_t at = start + 5;
  if (at < s.size() && isIdChar(s[at]))
    return false;
  at = skipBlanks(s, at);
  if (at >= s.size() || s[at] != '<')
    return false;
  at = skipBlanks(s, at + 1);
  if (!s.substr(at).starts_with("index"))
    return false;
  at += 5;
  return at >= s.size() || !isIdChar(s[at]);
}

} // namespace

std::optional<ParserTrap> mlir::moe::findParserTrap(llvm::StringRef source) {
  for (size_t at = 0; at < source.size();) {
    char c = source[at];
    if (c == '/' && source.substr(at).starts_with("//")) {
      at = source.find('\n', at);
      if (at == llvm::StringRef::npos)
        break;
      continue;
    }
    if (c == '"') {
      // A string literal: skip to its closing quote (escapes included); an
      // unterminated one is the lexer's error, not a trap.
      for (++at; at < source.size() && source[at] != '"' && source[at] != '\n';
           ++at)
        if (source[at] == '\\')
          ++at;
      ++at;
      continue;
    }
    if (c == 'a' && isIndexDenseArray(source, at)) {
      llvm::StringRef before = source.take_front(at);
      size_t lineStart = before.rfind('\n');
      unsigned column =
          lineStart == llvm::StringRef::npos ? at + 1 : at - lineStart;
      return ParserTrap{
          at, static_cast<unsigned>(before.count('\n')) + 1, column,
          "a dense array attribute of 'index' elements is not supported: "
          "MLIR 22's parser crashes on it (docs/Robustness.md, U2); "
          "write its elements as i64 (array<i64: ...>)"};
    }
    ++at;
  }
  return std::nullopt;
}

mlir::LogicalResult mlir::moe::emitParserTrap(llvm::StringRef source,
                                              llvm::StringRef name,
                                              MLIRContext *context) {
  std::optional<ParserTrap> trap = findParserTrap(source);
  if (!trap)
    return success();
  return emitError(FileLineColLoc::get(context, name, trap->line, trap->column))
         << trap->message;
}

bool mlir::moe::reportParserTrap(const llvm::MemoryBuffer &buffer,
                                 llvm::raw_ostream &os) {
  std::optional<ParserTrap> trap = findParserTrap(buffer.getBuffer());
  if (!trap)
    return false;
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBuffer(buffer.getMemBufferRef(),
                                       /*RequiresNullTerminator=*/false),
      llvm::SMLoc());
  sourceMgr.PrintMessage(
      os, llvm::SMLoc::getFromPointer(buffer.getBufferStart() + trap->offset),
      llvm::SourceMgr::DK_Error, trap->message);
  return true;
}
