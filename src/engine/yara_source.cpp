#include "engine/yara_source.h"

namespace avkey::engine {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

class Lexer {
 public:
  explicit Lexer(std::string_view text) : t_(text) {}

  std::vector<YaraStatement> Split() {
    std::vector<YaraStatement> out;
    size_t modifiers = kNone;  // where "private"/"global" before a rule began
    while (SkipSpaceAndComments()) {
      const size_t start = i_;
      if (!IsIdentStart(t_[i_])) {
        // A stray token at the top level: belongs to no statement (libyara refuses it).
        if (t_[i_] == '"') {
          SkipQuoted('"');
        } else {
          ++i_;
        }
        modifiers = kNone;
        continue;
      }
      const std::string_view word = Identifier();
      if (word == "private" || word == "global") {
        if (modifiers == kNone) modifiers = start;
        continue;
      }
      if (word == "import" || word == "include") {
        modifiers = kNone;
        if (SkipSpaceAndComments() && t_[i_] == '"') SkipQuoted('"');
        out.push_back({start, i_, false, {}});
        continue;
      }
      if (word == "rule") {
        YaraStatement s;
        s.begin = modifiers == kNone ? start : modifiers;
        s.is_rule = true;
        modifiers = kNone;
        if (SkipSpaceAndComments() && IsIdentStart(t_[i_])) s.name = std::string(Identifier());
        SkipRuleBody();
        s.end = i_;
        out.push_back(std::move(s));
        continue;
      }
      modifiers = kNone;  // some other identifier: not a statement
    }
    return out;
  }

 private:
  static constexpr size_t kNone = std::string_view::npos;

  std::string_view Identifier() {
    const size_t start = i_;
    while (i_ < t_.size() && IsIdentChar(t_[i_])) ++i_;
    return t_.substr(start, i_ - start);
  }

  // Skips whitespace and comments; false at the end of the text.
  bool SkipSpaceAndComments() {
    while (i_ < t_.size()) {
      const char c = t_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
        ++i_;
      } else if (c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '/') {
        while (i_ < t_.size() && t_[i_] != '\n') ++i_;
      } else if (c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '*') {
        const size_t close = t_.find("*/", i_ + 2);
        i_ = close == std::string_view::npos ? t_.size() : close + 2;
      } else {
        return true;
      }
    }
    return false;
  }

  // A text string or regular expression from its opening delimiter at i_: both end at
  // the next unescaped delimiter, or (unterminated, which libyara refuses) at the line's end.
  void SkipQuoted(char delimiter) {
    ++i_;
    while (i_ < t_.size() && t_[i_] != '\n') {
      if (t_[i_] == '\\') {
        i_ += 2;
        continue;
      }
      if (t_[i_++] == delimiter) return;
    }
    if (i_ > t_.size()) i_ = t_.size();
  }

  // From after a rule's name to after the '}' closing its body (or the end of the text).
  void SkipRuleBody() {
    // The header (tags) up to the opening brace.
    while (SkipSpaceAndComments() && t_[i_] != '{') {
      if (!IsIdentStart(t_[i_])) {
        ++i_;
      } else if (Identifier() == "rule") {  // the next rule: this one has no body at all
        i_ -= 4;
        return;
      }
    }
    int depth = 0;
    std::string_view last_word;  // the last token, when it was an identifier
    while (SkipSpaceAndComments()) {
      const char c = t_[i_];
      if (IsIdentStart(c)) {
        last_word = Identifier();
        continue;
      }
      if (c == '"') {
        SkipQuoted('"');
      } else if (c == '/' && (last_word == "matches" || IsDefinitionEquals())) {
        SkipQuoted('/');  // a regular expression ($a = /.../ or `matches /.../`)
      } else {
        ++i_;
        if (c == '{') ++depth;
        if (c == '}' && --depth == 0) return;
      }
      last_word = {};
    }
  }

  // True when the '/' at i_ follows a lone '=' (a string definition), not "==", "<=" and
  // the like, which take a number.
  bool IsDefinitionEquals() const {
    size_t j = i_;
    while (j > 0 && (t_[j - 1] == ' ' || t_[j - 1] == '\t' || t_[j - 1] == '\r' || t_[j - 1] == '\n')) --j;
    if (j == 0 || t_[j - 1] != '=') return false;
    if (j >= 2) {
      const char before = t_[j - 2];
      if (before == '=' || before == '!' || before == '<' || before == '>') return false;
    }
    return true;
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

std::vector<YaraStatement> SplitYaraStatements(std::string_view text) { return Lexer(text).Split(); }

void BlankOut(std::string* text, const YaraStatement& s) {
  for (size_t i = s.begin; i < s.end && i < text->size(); ++i) {
    if ((*text)[i] != '\n') (*text)[i] = ' ';
  }
}

}  // namespace avkey::engine
