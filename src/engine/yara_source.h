// The top-level statements of a YARA source (imports, includes, rules), found by a small
// lexer that knows YARA's comments, text strings, regular expressions and brace nesting.
// The compiler uses it to drop one statement libyara refuses and keep the others (skipping
// only that signature, as with the ClamAV formats). Internal to the engine.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace avkey::engine {

struct YaraStatement {
  size_t begin = 0, end = 0;  // [begin, end) in the text; a rule includes its modifiers
  bool is_rule = false;       // else an import or include
  std::string name;           // a rule's identifier (may be empty when cut short)
};

// In text order. A rule whose braces never close runs to the end of the text. Bytes that
// belong to no statement (stray tokens) are not covered.
std::vector<YaraStatement> SplitYaraStatements(std::string_view text);

// Blanks out a statement: every byte of [begin, end) but newlines becomes a space, so the
// rest keeps its line numbers (and libyara's messages stay true to the file).
void BlankOut(std::string* text, const YaraStatement& s);

}  // namespace avkey::engine
