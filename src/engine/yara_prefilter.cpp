// YARA prefilter; the contract is in yara_prefilter.h.
//
// The analysis reads only sources libyara 4.2.3 compiled, so it may trust their syntax; it
// re-lexes them exactly as libyara's lexer.l does where token boundaries matter (comments,
// "..." strings with escapes, /regex/ with \/ escapes, hex strings) and fails the whole
// source where it cannot be sure of a boundary (a comment inside a hex string). Facts
// checked with the yara 4.2.3 CLI: `for any of them : (true)`, `0 of them`, `#a == 0`,
// `none of them` and `defined $a` are true on a file without matches; `3 of ($a)` compiles
// (and is never true); `~` in hex strings is a syntax error; `/a{b/` compiles ({ literal).
#include "engine/yara_prefilter.h"

#include <fmt/format.h>
#include <hs/hs.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <unordered_set>
#include <utility>

namespace avkey::engine {
namespace {

// Nesting beyond these is legal YARA but not worth analysing: the rule is not gated.
constexpr int kMaxConditionDepth = 64;
constexpr int kMaxHexDepth = 16;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsNameChar(char c) { return IsLetter(c) || IsDigit(c) || c == '_'; }
bool IsAsciiLetter(unsigned char c) { return IsLetter(static_cast<char>(c)); }

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// ---- lexer (mirrors libyara 4.2.3's lexer.l where boundaries matter) ----------------------

enum class Tok : uint8_t {
  kEnd,
  kIdent,           // identifiers and keywords
  kStringId,        // $a, $ (anonymous)
  kStringWildcard,  // $a*, $*
  kCount,           // #a
  kOffset,          // @a
  kLength,          // !a
  kNumber,          // 12, 12KB, 0x1f, 0o17, 1.5
  kText,            // "..." (text: between the quotes, escapes undecoded)
  kRegex,           // /.../is (text: between the slashes)
  kHex,             // { ... } (text: between the braces)
  kPunct,           // .. <= >= == != << >> and single characters
  kError,
};

struct Token {
  Token(Tok k = Tok::kEnd, std::string_view t = {}) : kind(k), text(t) {}  // NOLINT: implicit
  Tok kind;
  std::string_view text;
  bool re_nocase = false;  // kRegex: /i
};

bool Is(const Token& t, Tok kind, std::string_view text) { return t.kind == kind && t.text == text; }
bool IsWord(const Token& t, std::string_view word) { return Is(t, Tok::kIdent, word); }
bool IsPunct(const Token& t, std::string_view p) { return Is(t, Tok::kPunct, p); }

bool IsKeyword(std::string_view s) {
  static constexpr std::string_view kKeywords[] = {
      "all",      "and",    "any",     "ascii",    "at",         "base64", "base64wide", "condition",
      "contains", "defined", "endswith", "entrypoint", "false",   "filesize", "for",     "fullword",
      "global",   "icontains", "iendswith", "iequals", "import",  "in",     "include",  "istartswith",
      "matches",  "meta",   "nocase",  "none",     "not",        "of",     "or",         "private",
      "rule",     "startswith", "strings", "them",  "true",       "wide",   "xor"};
  return std::find(std::begin(kKeywords), std::end(kKeywords), s) != std::end(kKeywords);
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  // The next token; `{` is punctuation (hex strings only come from NextStringValue).
  Token Next() {
    if (!SkipSpace()) return Error("unterminated /* comment");
    if (pos_ >= src_.size()) return Token{Tok::kEnd, {}};
    const size_t begin = pos_;
    const char c = src_[pos_];
    if (c == '"') return LexText();
    if (c == '/') return LexRegex();  // comments were skipped: this starts a regex
    if (c == '$') {
      ++pos_;
      while (pos_ < src_.size() && IsNameChar(src_[pos_])) ++pos_;
      if (pos_ < src_.size() && src_[pos_] == '*') return Make(Tok::kStringWildcard, begin, ++pos_);
      return Make(Tok::kStringId, begin, pos_);
    }
    if (c == '!' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '=') return Make(Tok::kPunct, begin, pos_ += 2);
    if (c == '#' || c == '@' || c == '!') {
      ++pos_;
      while (pos_ < src_.size() && IsNameChar(src_[pos_])) ++pos_;
      return Make(c == '#' ? Tok::kCount : c == '@' ? Tok::kOffset : Tok::kLength, begin, pos_);
    }
    if (IsLetter(c) || c == '_') {
      while (pos_ < src_.size() && IsNameChar(src_[pos_])) ++pos_;
      return Make(Tok::kIdent, begin, pos_);
    }
    if (IsDigit(c)) return LexNumber();
    static constexpr std::string_view kTwo[] = {"..", "<=", ">=", "==", "<<", ">>"};
    for (std::string_view two : kTwo) {
      if (src_.substr(pos_, 2) == two) return Make(Tok::kPunct, begin, pos_ += 2);
    }
    if (c >= 32 && c < 127) return Make(Tok::kPunct, begin, ++pos_);
    return Error("unexpected character");
  }

  // After `$x =`: a text, regex or hex string. A hex string is read up to the first `}`
  // and must hold only hex-string characters: libyara allows comments inside, and a
  // comment may hide a `}`, so one makes the source unreadable here (fails safe).
  Token NextStringValue() {
    if (!SkipSpace()) return Error("unterminated /* comment");
    if (pos_ >= src_.size()) return Error("string value expected");
    const char c = src_[pos_];
    if (c == '"' || c == '/') return Next();
    if (c != '{') return Error("string value expected");
    size_t close = src_.find('}', pos_ + 1);
    if (close == std::string_view::npos) return Error("unterminated hex string");
    std::string_view body = src_.substr(pos_ + 1, close - pos_ - 1);
    for (char ch : body) {
      if (IsHexDigit(ch) || std::string_view(" \t\r\n-|?[]()~").find(ch) != std::string_view::npos) continue;
      return Error("hex string with a comment or an unexpected character");
    }
    line_ += static_cast<uint64_t>(std::count(body.begin(), body.end(), '\n'));
    pos_ = close + 1;
    return Token{Tok::kHex, body};
  }

  uint64_t line() const { return line_; }
  const std::string& error() const { return error_; }

 private:
  // Whitespace, // and /* */ comments. False on an unterminated /* comment.
  bool SkipSpace() {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/') {
        size_t nl = src_.find('\n', pos_);
        pos_ = nl == std::string_view::npos ? src_.size() : nl;
      } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '*') {
        size_t end = src_.find("*/", pos_ + 2);
        if (end == std::string_view::npos) return false;
        line_ += static_cast<uint64_t>(std::count(src_.begin() + static_cast<ptrdiff_t>(pos_),
                                                  src_.begin() + static_cast<ptrdiff_t>(end), '\n'));
        pos_ = end + 2;
      } else {
        break;
      }
    }
    return true;
  }

  // "...": an escape takes the next character whatever it is; a newline inside is an error.
  Token LexText() {
    size_t i = pos_ + 1;
    while (i < src_.size() && src_[i] != '"') {
      if (src_[i] == '\n') return Error("newline in a text string");
      i += src_[i] == '\\' ? 2 : 1;
    }
    if (i >= src_.size()) return Error("unterminated text string");
    Token t{Tok::kText, src_.substr(pos_ + 1, i - pos_ - 1)};
    pos_ = i + 1;
    return t;
  }

  // /.../ then the flags lexer.l accepts: i?s?
  Token LexRegex() {
    size_t i = pos_ + 1;
    while (i < src_.size() && src_[i] != '/') {
      if (src_[i] == '\n') return Error("newline in a regular expression");
      if (src_[i] == '\\') {
        if (i + 1 >= src_.size() || src_[i + 1] == '\n') return Error("bad escape in a regular expression");
        i += 2;
      } else {
        ++i;
      }
    }
    if (i >= src_.size() || i == pos_ + 1) return Error("unterminated or empty regular expression");
    Token t{Tok::kRegex, src_.substr(pos_ + 1, i - pos_ - 1)};
    pos_ = i + 1;
    if (pos_ < src_.size() && src_[pos_] == 'i') {
      t.re_nocase = true;
      ++pos_;
    }
    if (pos_ < src_.size() && src_[pos_] == 's') ++pos_;
    return t;
  }

  Token LexNumber() {
    const size_t begin = pos_;
    auto run = [&](auto pred) {
      while (pos_ < src_.size() && pred(src_[pos_])) ++pos_;
    };
    if (src_.substr(pos_, 2) == "0x" && pos_ + 2 < src_.size() && IsHexDigit(src_[pos_ + 2])) {
      pos_ += 2;
      run(IsHexDigit);
    } else if (src_.substr(pos_, 2) == "0o" && pos_ + 2 < src_.size() && src_[pos_ + 2] >= '0' &&
               src_[pos_ + 2] <= '7') {
      pos_ += 2;
      run([](char ch) { return ch >= '0' && ch <= '7'; });
    } else {
      run(IsDigit);
      if (pos_ + 1 < src_.size() && src_[pos_] == '.' && IsDigit(src_[pos_ + 1])) {
        ++pos_;
        run(IsDigit);
      } else if (src_.substr(pos_, 2) == "KB" || src_.substr(pos_, 2) == "MB") {
        pos_ += 2;
      }
    }
    return Make(Tok::kNumber, begin, pos_);
  }

  Token Make(Tok kind, size_t begin, size_t end) const { return Token{kind, src_.substr(begin, end - begin)}; }
  Token Error(std::string message) {
    error_ = std::move(message);
    return Token{Tok::kError, {}};
  }

  std::string_view src_;
  size_t pos_ = 0;
  uint64_t line_ = 1;
  std::string error_;
};

// A plain decimal literal (no suffix, no 0x) that fits comfortably; nullopt otherwise.
std::optional<uint64_t> Decimal(const Token& t) {
  if (t.kind != Tok::kNumber || t.text.empty() || t.text.size() > 15) return std::nullopt;
  uint64_t v = 0;
  for (char c : t.text) {
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// ---- atoms ------------------------------------------------------------------------------

using Literals = std::vector<std::string>;

size_t MinLength(const Literals& lits) {
  size_t m = SIZE_MAX;
  for (const auto& l : lits) m = std::min(m, l.size());
  return lits.empty() ? 0 : m;
}

// Atom quality: the shortest literal (up to the length kept) first, then fewer literals.
// Higher is better.
std::pair<size_t, int64_t> Quality(size_t min_length, size_t count) {
  return {std::min(min_length, kMaxYaraAtomLength), -static_cast<int64_t>(count)};
}
std::pair<size_t, int64_t> Quality(const Literals& lits) { return Quality(MinLength(lits), lits.size()); }

std::string Interleave(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    out += c;
    out += '\0';
  }
  return out;
}

// The longest run of bytes < 0x80: what a caseless atom may use (libyara folds case with
// tolower() tables; only ASCII letters fold in the C locale, and Vectorscan's caseless
// flag is ASCII only).
std::string LongestAsciiRun(std::string_view s) {
  std::string_view best, cur;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || static_cast<unsigned char>(s[i]) >= 0x80) {
      cur = s.substr(start, i - start);
      if (cur.size() > best.size()) best = cur;
      start = i + 1;
    }
  }
  return std::string(best);
}

// Adds the atoms for `lits` as the string's forms (ascii and/or wide, caseless or not),
// each cut to kMaxYaraAtomLength.
void AddForms(const Literals& lits, bool ascii, bool wide, bool caseless, std::vector<YaraAtom>* out) {
  auto add = [&](std::string bytes) {
    if (bytes.size() > kMaxYaraAtomLength) bytes.resize(kMaxYaraAtomLength);
    const bool letters =
        std::any_of(bytes.begin(), bytes.end(), [](char c) { return IsAsciiLetter(static_cast<unsigned char>(c)); });
    YaraAtom atom{std::move(bytes), caseless && letters};
    if (std::find(out->begin(), out->end(), atom) == out->end()) out->push_back(std::move(atom));
  };
  for (const auto& lit : lits) {
    if (ascii) add(lit);
    if (wide) add(Interleave(lit.substr(0, (kMaxYaraAtomLength + 1) / 2)));
  }
}

// Text string escapes as lexer.l decodes them; nullopt on any other escape.
std::optional<std::string> DecodeText(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out += raw[i];
      continue;
    }
    if (i + 1 >= raw.size()) return std::nullopt;
    const char e = raw[++i];
    switch (e) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case 'x':
        if (i + 2 >= raw.size() || !IsHexDigit(raw[i + 1]) || !IsHexDigit(raw[i + 2])) return std::nullopt;
        out += static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2]));
        i += 2;
        break;
      default: return std::nullopt;
    }
  }
  return out;
}

// Hex strings: a tree of bytes, masked bytes, jumps and alternatives.
struct HexNode {
  enum Kind : uint8_t { kByte, kMasked, kJump, kAlt } kind = kByte;
  uint8_t byte = 0;  // kByte; kMasked: the fixed nibble's bits
  uint8_t mask = 0;  // kMasked: 0xF0 (high nibble fixed), 0x0F (low), 0 (any byte)
  uint32_t min = 0, max = 0;  // kJump; max == kUnbounded for [n-] and [-]
  std::vector<std::vector<HexNode>> branches;  // kAlt
  static constexpr uint32_t kUnbounded = UINT32_MAX;
};
using HexSeq = std::vector<HexNode>;

class HexParser {
 public:
  explicit HexParser(std::string_view s) : s_(s) {}

  std::optional<HexSeq> Parse() {
    HexSeq top;
    if (!ParseSeq(&top, 0)) return std::nullopt;
    SkipSpace();
    if (pos_ != s_.size() || top.empty()) return std::nullopt;  // a stray `|` or `)`
    return top;
  }

 private:
  void SkipSpace() {
    while (pos_ < s_.size() && std::string_view(" \t\r\n").find(s_[pos_]) != std::string_view::npos) ++pos_;
  }

  bool ParseSeq(HexSeq* out, int depth) {
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] == '|' || s_[pos_] == ')') return true;
      const char c = s_[pos_];
      if (c == '(') {
        if (depth >= kMaxHexDepth) return false;
        ++pos_;
        HexNode alt;
        alt.kind = HexNode::kAlt;
        while (true) {
          HexSeq branch;
          if (!ParseSeq(&branch, depth + 1) || branch.empty()) return false;
          alt.branches.push_back(std::move(branch));
          SkipSpace();
          if (pos_ >= s_.size()) return false;
          if (s_[pos_++] == ')') break;  // else it was `|`
        }
        out->push_back(std::move(alt));
      } else if (c == '[') {
        size_t close = s_.find(']', pos_);
        if (close == std::string_view::npos) return false;
        HexNode jump;
        jump.kind = HexNode::kJump;
        if (!ParseJump(s_.substr(pos_ + 1, close - pos_ - 1), &jump)) return false;
        out->push_back(std::move(jump));
        pos_ = close + 1;
      } else {
        bool negated = c == '~';
        if (negated) ++pos_;
        if (pos_ + 1 >= s_.size()) return false;
        const char a = s_[pos_], b = s_[pos_ + 1];
        if ((!IsHexDigit(a) && a != '?') || (!IsHexDigit(b) && b != '?')) return false;
        HexNode node;
        if (!negated && IsHexDigit(a) && IsHexDigit(b)) {
          node.byte = static_cast<uint8_t>(HexValue(a) * 16 + HexValue(b));
        } else {
          node.kind = HexNode::kMasked;
          if (!negated && IsHexDigit(a)) {
            node.mask = 0xF0;
            node.byte = static_cast<uint8_t>(HexValue(a) << 4);
          } else if (!negated && IsHexDigit(b)) {
            node.mask = 0x0F;
            node.byte = static_cast<uint8_t>(HexValue(b));
          }
        }
        out->push_back(std::move(node));
        pos_ += 2;
      }
    }
  }

  // "n", "n-m", "n-", "-" (spaces allowed around the numbers).
  static bool ParseJump(std::string_view body, HexNode* jump) {
    auto number = [](std::string_view t, uint32_t* v) {
      size_t b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
      if (b == std::string_view::npos) return false;
      t = t.substr(b, e - b + 1);
      if (t.empty() || t.size() > 9) return false;
      *v = 0;
      for (char c : t) {
        if (!IsDigit(c)) return false;
        *v = *v * 10 + static_cast<uint32_t>(c - '0');
      }
      return true;
    };
    size_t dash = body.find('-');
    if (dash == std::string_view::npos) {
      if (!number(body, &jump->min)) return false;
      jump->max = jump->min;
      return true;
    }
    std::string_view lo = body.substr(0, dash), hi = body.substr(dash + 1);
    const bool lo_empty = lo.find_first_not_of(" \t") == std::string_view::npos;
    const bool hi_empty = hi.find_first_not_of(" \t") == std::string_view::npos;
    if (lo_empty) {
      jump->min = 0;
    } else if (!number(lo, &jump->min)) {
      return false;
    }
    if (hi_empty) {
      jump->max = HexNode::kUnbounded;
    } else if (lo_empty || !number(hi, &jump->max) || jump->max < jump->min) {
      return false;
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// A Vectorscan regex (for HS_FLAG_DOTALL) matching at least whatever the hex string
// matches: bytes as \xHH, nibbles as classes, jumps as .{n,m}, or .* when longer than
// kMaxExactJump (a superset, and cheaper to compile), alternatives as (?:a|b).
constexpr uint32_t kMaxExactJump = 64;

void AppendHexRegex(const HexSeq& seq, std::string* out) {
  for (const HexNode& n : seq) {
    switch (n.kind) {
      case HexNode::kByte: *out += fmt::format("\\x{:02x}", n.byte); break;
      case HexNode::kMasked:
        if (n.mask == 0xF0) {
          *out += fmt::format("[\\x{:02x}-\\x{:02x}]", n.byte, n.byte | 0x0F);
        } else if (n.mask == 0x0F) {
          *out += '[';
          for (unsigned hi = 0; hi < 16; ++hi) *out += fmt::format("\\x{:02x}", (hi << 4) | n.byte);
          *out += ']';
        } else {
          *out += '.';
        }
        break;
      case HexNode::kJump:
        if (n.max == HexNode::kUnbounded || n.max > kMaxExactJump) {
          *out += ".*";
        } else if (n.max > 0) {
          *out += fmt::format(".{{{},{}}}", n.min, n.max);
        }
        break;
      case HexNode::kAlt:
        *out += "(?:";
        for (size_t b = 0; b < n.branches.size(); ++b) {
          if (b > 0) *out += '|';
          AppendHexRegex(n.branches[b], out);
        }
        *out += ')';
        break;
    }
  }
}

// An alternative whose every branch is fixed bytes only: it expands to one literal each.
bool IsFixedAlt(const HexNode& n) {
  if (n.kind != HexNode::kAlt) return false;
  for (const auto& b : n.branches) {
    for (const auto& e : b) {
      if (e.kind != HexNode::kByte) return false;
    }
  }
  return true;
}

// The best literal set every match of `seq` contains one of; nullopt when there is none.
// Candidates: each maximal fixed run; each fixed-bytes alternative with up to half an atom
// of fixed bytes on either side (one literal per branch); each other alternative as the
// union of its branches' own best sets.
std::optional<Literals> BestHexLiterals(const HexSeq& seq) {
  std::optional<Literals> best;
  auto consider = [&](Literals c) {
    if (!c.empty() && MinLength(c) > 0 && (!best || Quality(c) > Quality(*best))) best = std::move(c);
  };
  const size_t n = seq.size();
  for (size_t i = 0; i < n;) {
    if (seq[i].kind != HexNode::kByte) {
      ++i;
      continue;
    }
    std::string run;
    while (i < n && seq[i].kind == HexNode::kByte) run += static_cast<char>(seq[i++].byte);
    consider({std::move(run)});
  }
  constexpr size_t kSide = kMaxYaraAtomLength / 2;
  for (size_t k = 0; k < n; ++k) {
    if (seq[k].kind != HexNode::kAlt) continue;
    if (IsFixedAlt(seq[k])) {
      std::string left, right;
      for (size_t j = k; j > 0 && seq[j - 1].kind == HexNode::kByte && left.size() < kSide; --j) {
        left.insert(left.begin(), static_cast<char>(seq[j - 1].byte));
      }
      for (size_t j = k + 1; j < n && seq[j].kind == HexNode::kByte && right.size() < kSide; ++j) {
        right += static_cast<char>(seq[j].byte);
      }
      Literals lits;
      for (const auto& branch : seq[k].branches) {
        std::string lit = left;
        for (const auto& e : branch) lit += static_cast<char>(e.byte);
        lits.push_back(lit + right);
      }
      consider(std::move(lits));
    } else {
      Literals all;
      bool ok = true;
      for (const auto& branch : seq[k].branches) {
        auto sub = BestHexLiterals(branch);
        if (!sub) {
          ok = false;
          break;
        }
        all.insert(all.end(), sub->begin(), sub->end());
      }
      if (ok) consider(std::move(all));
    }
  }
  return best;
}

// Regular expressions (YARA's own dialect). Skips a class starting at `[`; returns the
// index after its `]`, or npos when it is unterminated or starts with a `]` (whose
// meaning we do not rely on).
size_t SkipClass(std::string_view re, size_t pos) {
  size_t i = pos + 1;
  if (i < re.size() && re[i] == '^') ++i;
  if (i < re.size() && re[i] == ']') return std::string_view::npos;
  while (i < re.size()) {
    if (re[i] == '\\') {
      i += 2;
    } else if (re[i] == ']') {
      return i + 1;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

// Skips a group starting at `(`; returns the index after its `)`, or npos.
size_t SkipGroup(std::string_view re, size_t pos) {
  int depth = 0;
  size_t i = pos;
  while (i < re.size()) {
    const char c = re[i];
    if (c == '\\') {
      i += 2;
    } else if (c == '[') {
      i = SkipClass(re, i);
      if (i == std::string_view::npos) return i;
    } else {
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0) return i + 1;
      ++i;
    }
  }
  return std::string_view::npos;
}

// A quantifier `{n}`, `{n,}`, `{,m}`, `{n,m}` at pos: the index after it, or npos when the
// brace is not one (libyara then takes `{` literally; we give up instead).
size_t SkipRepeat(std::string_view re, size_t pos) {
  size_t i = pos + 1;
  bool comma = false, digits = false;
  while (i < re.size() && (IsDigit(re[i]) || (re[i] == ',' && !comma))) {
    if (re[i] == ',') comma = true;
    else digits = true;
    ++i;
  }
  if (i >= re.size() || re[i] != '}' || !digits) return std::string_view::npos;
  return i + 1;
}

// The longest literal run every match of one regex branch (no top-level `|`) contains.
std::optional<std::string> BranchRun(std::string_view re, bool caseless, std::string* why) {
  std::string best, cur;
  bool last_literal = false;  // cur's last byte is the item just read
  auto flush = [&] {
    if (cur.size() > best.size()) best = cur;
    cur.clear();
    last_literal = false;
  };
  auto literal = [&](unsigned char c) {
    if (caseless && c >= 0x80) {
      flush();
      return;
    }
    cur += static_cast<char>(c);
    last_literal = true;
  };
  size_t i = 0;
  while (i < re.size()) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 >= re.size()) {
        *why = "regular expression ends in a backslash";
        return std::nullopt;
      }
      const char e = re[i + 1];
      if (e == 'x' && i + 3 < re.size() && IsHexDigit(re[i + 2]) && IsHexDigit(re[i + 3])) {
        literal(static_cast<unsigned char>(HexValue(re[i + 2]) * 16 + HexValue(re[i + 3])));
        i += 4;
      } else if (IsLetter(e) || IsDigit(e) || static_cast<unsigned char>(e) >= 0x80) {
        flush();  // \w \d \b \n ...: not a literal we rely on
        i += 2;
      } else {
        literal(static_cast<unsigned char>(e));
        i += 2;
      }
    } else if (c == '[' || c == '(') {
      size_t next = c == '[' ? SkipClass(re, i) : SkipGroup(re, i);
      if (next == std::string_view::npos) {
        *why = "regular expression with a class or group we do not read";
        return std::nullopt;
      }
      flush();
      i = next;
    } else if (c == '*' || c == '?' || c == '{' || c == '+') {
      if (c == '{') {
        size_t next = SkipRepeat(re, i);
        if (next == std::string_view::npos) {
          *why = "regular expression with a literal `{`";
          return std::nullopt;
        }
        i = next;
      } else {
        ++i;
      }
      if (c != '+' && last_literal) cur.pop_back();  // optional or repeated: not required as is
      flush();                                        // `+`: the byte stays, the run ends
      if (i < re.size() && re[i] == '?') ++i;         // non-greedy
    } else if (c == '.' || c == '^' || c == '$' || c == ')' || c == ']' || c == '}' || c == '|') {
      flush();
      ++i;
    } else {
      literal(static_cast<unsigned char>(c));
      ++i;
    }
  }
  flush();
  if (best.empty()) {
    *why = "regular expression without a required literal";
    return std::nullopt;
  }
  return best;
}

// Per top-level branch, its required run; nullopt when some branch has none.
std::optional<Literals> RegexLiterals(std::string_view re, bool caseless, std::string* why) {
  Literals out;
  size_t start = 0, i = 0;
  while (i <= re.size()) {
    if (i == re.size() || re[i] == '|') {
      auto run = BranchRun(re.substr(start, i - start), caseless, why);
      if (!run) return std::nullopt;
      out.push_back(std::move(*run));
      start = ++i;
      continue;
    }
    size_t next = i + 1;
    if (re[i] == '\\') {
      next = i + 2;
    } else if (re[i] == '[') {
      next = SkipClass(re, i);
    } else if (re[i] == '(') {
      next = SkipGroup(re, i);
    }
    if (next == std::string_view::npos) {
      *why = "regular expression with a class or group we do not read";
      return std::nullopt;
    }
    i = std::min(next, re.size());
  }
  return out;
}

// Modifiers of one string as written.
struct Modifiers {
  bool ascii = false, wide = false, nocase = false, fullword = false, is_private = false;
  bool xor_ = false, base64 = false, base64wide = false;
};

// Fills info->atoms for a string value with its modifiers.
void ComputeAtoms(const Token& value, const Modifiers& m, YaraStringInfo* info) {
  info->nocase = m.nocase || (value.kind == Tok::kRegex && value.re_nocase);
  info->wide = m.wide;
  info->xor_or_base64 = m.xor_ || m.base64 || m.base64wide;
  auto fail = [&](std::string why) {
    info->atomisable = false;
    info->atoms.clear();
    info->why_not = std::move(why);
  };
  const bool ascii = m.ascii || !m.wide;
  if (value.kind == Tok::kText) {
    if (m.xor_) return fail("xor modifier");
    if (m.base64 || m.base64wide) return fail("base64 modifier");
    auto bytes = DecodeText(value.text);
    if (!bytes) return fail("unknown escape in text string");
    if (bytes->empty()) return fail("empty text string");
    std::string core = info->nocase ? LongestAsciiRun(*bytes) : *bytes;
    if (core.empty()) return fail("nocase text without ASCII bytes");
    AddForms({core}, ascii, m.wide, info->nocase, &info->atoms);
  } else if (value.kind == Tok::kHex) {
    if (m.ascii || m.wide || m.nocase || m.fullword || info->xor_or_base64) return fail("modifier on a hex string");
    auto seq = HexParser(value.text).Parse();
    if (!seq) return fail("hex string we do not read");
    auto lits = BestHexLiterals(*seq);
    if (!lits) return fail("hex string without a fixed byte");
    AddForms(*lits, /*ascii=*/true, /*wide=*/false, /*caseless=*/false, &info->atoms);
    AppendHexRegex(*seq, &info->hex_regex);
  } else if (value.kind == Tok::kRegex) {
    if (info->xor_or_base64) return fail("xor/base64 modifier on a regular expression");
    std::string why;
    auto lits = RegexLiterals(value.text, info->nocase, &why);
    if (!lits) return fail(why);
    AddForms(*lits, ascii, m.wide, info->nocase, &info->atoms);
  } else {
    return fail("unknown string kind");
  }
  info->atomisable = !info->atoms.empty();
  if (!info->atomisable) {
    fail("no atom");
    info->hex_regex.clear();
  }
}

// ---- conditions -------------------------------------------------------------------------

// Whether a condition is false unless one string of a set matches, and which set.
struct Gate {
  bool ok = false;
  std::vector<size_t> strings;  // indices into the rule's strings, sorted, unique
  std::string why;              // when !ok
};

Gate NotGated(std::string why) { return Gate{false, {}, std::move(why)}; }
Gate GatedBy(std::vector<size_t> s) {
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return Gate{true, std::move(s), {}};
}

class ConditionAnalyser {
 public:
  ConditionAnalyser(const std::vector<Token>& toks, const std::vector<YaraStringInfo>& strings)
      : toks_(toks), strings_(strings) {}

  Gate Analyse() {
    // Matching brackets, once; unbalanced means we misread something.
    match_.assign(toks_.size(), SIZE_MAX);
    std::vector<size_t> stack;
    for (size_t i = 0; i < toks_.size(); ++i) {
      if (IsPunct(toks_[i], "(") || IsPunct(toks_[i], "[")) {
        stack.push_back(i);
      } else if (IsPunct(toks_[i], ")") || IsPunct(toks_[i], "]")) {
        if (stack.empty() || toks_[stack.back()].text != (toks_[i].text == ")" ? "(" : "[")) {
          return NotGated("unbalanced brackets");
        }
        match_[stack.back()] = i;
        match_[i] = stack.back();
        stack.pop_back();
      }
    }
    if (!stack.empty()) return NotGated("unbalanced brackets");
    return Term(0, toks_.size(), 0);
  }

 private:
  // Splits [l, r) at top-level `word` tokens.
  std::vector<std::pair<size_t, size_t>> Split(size_t l, size_t r, std::string_view word) const {
    std::vector<std::pair<size_t, size_t>> parts;
    size_t start = l;
    for (size_t i = l; i < r; ++i) {
      if (IsPunct(toks_[i], "(") || IsPunct(toks_[i], "[")) {
        i = match_[i];
      } else if (IsWord(toks_[i], word)) {
        parts.emplace_back(start, i);
        start = i + 1;
      }
    }
    parts.emplace_back(start, r);
    return parts;
  }

  // Quality of gating by a set of strings (all atomisable): the weakest atom decides.
  std::pair<size_t, int64_t> SetQuality(const std::vector<size_t>& set) const {
    size_t min_len = SIZE_MAX, count = 0;
    for (size_t s : set) {
      for (const auto& a : strings_[s].atoms) {
        min_len = std::min(min_len, a.bytes.size());
        ++count;
      }
    }
    return Quality(min_len, count);  // empty set (never true): best of all
  }

  Gate Term(size_t l, size_t r, int depth) const {
    if (depth > kMaxConditionDepth) return NotGated("condition nested too deeply");
    if (l >= r) return NotGated("empty expression");
    if (auto parts = Split(l, r, "or"); parts.size() > 1) {
      std::vector<size_t> all;
      for (auto [pl, pr] : parts) {
        Gate g = Term(pl, pr, depth + 1);
        if (!g.ok) return NotGated("`or` with a side that is not gated: " + g.why);
        all.insert(all.end(), g.strings.begin(), g.strings.end());
      }
      return GatedBy(std::move(all));
    }
    if (auto parts = Split(l, r, "and"); parts.size() > 1) {
      std::optional<Gate> best;
      std::string first_why;
      for (auto [pl, pr] : parts) {
        Gate g = Term(pl, pr, depth + 1);
        if (!g.ok) {
          if (first_why.empty()) first_why = g.why;
        } else if (!best || SetQuality(g.strings) > SetQuality(best->strings)) {
          best = std::move(g);
        }
      }
      if (best) return *best;
      return NotGated(first_why);
    }
    const Token& t = toks_[l];
    const size_t n = r - l;
    if (IsWord(t, "not")) return NotGated("`not`");
    if (IsPunct(t, "(") && match_[l] == r - 1) return Term(l + 1, r - 1, depth + 1);
    if (IsWord(t, "false") && n == 1) return GatedBy({});
    if (t.kind == Tok::kStringId) {
      auto s = Lookup(t.text);
      if (!s) return NotGated(fmt::format("unknown string {}", t.text));
      const bool form = n == 1 || (n >= 3 && IsWord(toks_[l + 1], "at")) ||
                        (n >= 4 && IsWord(toks_[l + 1], "in") && IsPunct(toks_[l + 2], "(") && match_[l + 2] == r - 1);
      if (!form) return NotGated(fmt::format("unsupported use of {}", t.text));
      return Single(*s);
    }
    if (t.kind == Tok::kCount) return CountTerm(l, r);
    if (IsWord(t, "any") || IsWord(t, "all") || t.kind == Tok::kNumber) return OfTerm(l, r);
    return NotGated(fmt::format("`{}` is not a gating expression", t.text));
  }

  Gate Single(size_t s) const {
    if (!strings_[s].atomisable) {
      return NotGated(fmt::format("{} has no atom ({})", strings_[s].id, strings_[s].why_not));
    }
    return GatedBy({s});
  }

  // #a > N (N >= 0), #a >= N, #a == N (N >= 1), #a != 0.
  Gate CountTerm(size_t l, size_t r) const {
    const Token& t = toks_[l];
    if (r - l != 3 || t.text.size() < 2 || toks_[l + 1].kind != Tok::kPunct) {
      return NotGated(fmt::format("unsupported use of {}", t.text));
    }
    auto s = Lookup(fmt::format("${}", t.text.substr(1)));
    auto v = Decimal(toks_[l + 2]);
    if (!s || !v) return NotGated(fmt::format("unsupported use of {}", t.text));
    std::string_view op = toks_[l + 1].text;
    const bool needs_match = op == ">" || ((op == ">=" || op == "==") && *v >= 1) || (op == "!=" && *v == 0);
    if (!needs_match) return NotGated(fmt::format("{} {} {} holds without a match", t.text, op, toks_[l + 2].text));
    return Single(*s);
  }

  // Q of S [in (R)], Q = any | all | N >= 1; S = them | ($a, $b*, ...).
  Gate OfTerm(size_t l, size_t r) const {
    const Token& q = toks_[l];
    if (r - l < 3 || !IsWord(toks_[l + 1], "of")) {
      return NotGated(fmt::format("`{}` is not a gating expression", q.text));
    }
    std::vector<size_t> members;
    size_t end;
    if (IsWord(toks_[l + 2], "them")) {
      for (size_t i = 0; i < strings_.size(); ++i) members.push_back(i);
      end = l + 3;
    } else if (IsPunct(toks_[l + 2], "(")) {
      end = match_[l + 2] + 1;
      if (end > r) return NotGated("unbalanced brackets");
      bool expect_item = true;
      for (size_t i = l + 3; i + 1 < end; ++i) {
        const Token& it = toks_[i];
        if (expect_item && it.kind == Tok::kStringId) {
          auto s = Lookup(it.text);
          if (!s) return NotGated(fmt::format("unknown string {}", it.text));
          members.push_back(*s);
        } else if (expect_item && it.kind == Tok::kStringWildcard) {
          std::string_view prefix = it.text.substr(0, it.text.size() - 1);
          for (size_t k = 0; k < strings_.size(); ++k) {
            if (std::string_view(strings_[k].id).starts_with(prefix)) members.push_back(k);
          }
        } else if (!expect_item && IsPunct(it, ",")) {
        } else {
          return NotGated("set of something other than strings");
        }
        expect_item = !expect_item;
      }
    } else {
      return NotGated("set of something other than strings");
    }
    const bool in_range =
        end + 1 < r && IsWord(toks_[end], "in") && IsPunct(toks_[end + 1], "(") && match_[end + 1] == r - 1;
    if (end != r && !in_range) {
      return NotGated("unsupported `of` expression");
    }
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    if (members.empty()) return NotGated("empty string set");
    uint64_t need_matches;
    if (IsWord(q, "any")) {
      need_matches = 1;
    } else if (IsWord(q, "all")) {
      need_matches = members.size();
    } else {
      auto v = Decimal(q);
      if (!v || *v == 0) return NotGated(fmt::format("`{} of` holds without a match", q.text));
      need_matches = *v;
    }
    // At least need_matches members match, at most `k` of them without atoms: so at least
    // need_matches - k of the atomisable ones A do, and any |A| - (need_matches - k) + 1
    // of A include one of those.
    std::vector<size_t> atomisable;
    for (size_t m : members) {
      if (strings_[m].atomisable) atomisable.push_back(m);
    }
    const uint64_t k = members.size() - atomisable.size();
    if (atomisable.empty() || k >= need_matches) {
      return NotGated(fmt::format("`{} of` may hold through strings without atoms", q.text));
    }
    const uint64_t required = need_matches - k;
    const size_t take = required > atomisable.size() ? 1 : atomisable.size() - static_cast<size_t>(required) + 1;
    std::stable_sort(atomisable.begin(), atomisable.end(), [&](size_t a, size_t b) {
      return SetQuality({a}) > SetQuality({b});
    });
    atomisable.resize(take);
    return GatedBy(std::move(atomisable));
  }

  std::optional<size_t> Lookup(std::string_view id) const {
    if (id == "$") return std::nullopt;  // anonymous: only inside for..of
    for (size_t i = 0; i < strings_.size(); ++i) {
      if (strings_[i].id == id) return i;
    }
    return std::nullopt;
  }

  const std::vector<Token>& toks_;
  const std::vector<YaraStringInfo>& strings_;
  std::vector<size_t> match_;
};

// ---- source -----------------------------------------------------------------------------

bool IsModifierWord(std::string_view w) {
  static constexpr std::string_view kMods[] = {"ascii", "wide",   "nocase",    "fullword",
                                               "private", "xor", "base64", "base64wide"};
  return std::find(std::begin(kMods), std::end(kMods), w) != std::end(kMods);
}

class SourceParser {
 public:
  explicit SourceParser(std::string_view text) : lex_(text) {}

  YaraSourceGates Run() {
    YaraSourceGates out;
    std::string why;
    while (true) {
      Token t = lex_.Next();
      if (t.kind == Tok::kEnd) return out;
      if (t.kind == Tok::kError || !ParseTopLevel(t, &out, &why)) {
        out.rules.clear();
        out.error = t.kind == Tok::kError ? lex_.error() : why.empty() ? lex_.error() : why;
        if (out.error.empty()) out.error = "unreadable source";
        out.error_line = lex_.line();
        return out;
      }
    }
  }

 private:
  // Reads an import or a rule starting at t. False (with *why) when unreadable.
  bool ParseTopLevel(Token t, YaraSourceGates* out, std::string* why) {
    auto fail = [&](std::string w) {
      *why = std::move(w);
      return false;
    };
    if (IsWord(t, "import")) {
      if (lex_.Next().kind != Tok::kText) return fail("import without a module name");
      return true;
    }
    YaraRuleGate rule;
    while (IsWord(t, "private") || IsWord(t, "global")) {
      (IsWord(t, "private") ? rule.is_private : rule.is_global) = true;
      t = lex_.Next();
    }
    if (!IsWord(t, "rule")) return fail("`rule` expected");
    t = lex_.Next();
    if (t.kind != Tok::kIdent || IsKeyword(t.text)) return fail("rule name expected");
    rule.name = std::string(t.text);
    t = lex_.Next();
    if (IsPunct(t, ":")) {
      t = lex_.Next();
      while (t.kind == Tok::kIdent && !IsKeyword(t.text)) t = lex_.Next();
    }
    if (!IsPunct(t, "{")) return fail("`{` expected");
    t = lex_.Next();
    if (IsWord(t, "meta")) {
      if (!IsPunct(lex_.Next(), ":")) return fail("`:` expected after meta");
      t = lex_.Next();
      while (t.kind == Tok::kIdent && !IsWord(t, "strings") && !IsWord(t, "condition")) {
        if (!IsPunct(lex_.Next(), "=")) return fail("`=` expected in meta");
        Token v = lex_.Next();
        if (IsPunct(v, "-")) v = lex_.Next();
        if (v.kind != Tok::kText && v.kind != Tok::kNumber && !IsWord(v, "true") && !IsWord(v, "false")) {
          return fail("meta value expected");
        }
        t = lex_.Next();
      }
    }
    if (IsWord(t, "strings")) {
      if (!IsPunct(lex_.Next(), ":")) return fail("`:` expected after strings");
      t = lex_.Next();
      while (t.kind == Tok::kStringId) {
        YaraStringInfo info;
        info.id = std::string(t.text);
        if (!IsPunct(lex_.Next(), "=")) return fail("`=` expected after " + info.id);
        Token value = lex_.NextStringValue();
        if (value.kind == Tok::kError) return fail(lex_.error());
        Modifiers m;
        t = lex_.Next();
        while (t.kind == Tok::kIdent && IsModifierWord(t.text)) {
          const std::string_view w = t.text;
          if (w == "ascii") m.ascii = true;
          if (w == "wide") m.wide = true;
          if (w == "nocase") m.nocase = true;
          if (w == "fullword") m.fullword = true;
          if (w == "private") m.is_private = true;
          if (w == "xor") m.xor_ = true;
          if (w == "base64") m.base64 = true;
          if (w == "base64wide") m.base64wide = true;
          t = lex_.Next();
          if ((w == "xor" || w == "base64" || w == "base64wide") && IsPunct(t, "(")) {
            // Arguments: numbers, `-`, a text; skipped.
            do {
              t = lex_.Next();
              if (t.kind == Tok::kEnd || t.kind == Tok::kError || IsPunct(t, "{") || IsPunct(t, "}") ||
                  IsPunct(t, "(")) {
                return fail("bad modifier arguments");
              }
            } while (!IsPunct(t, ")"));
            t = lex_.Next();
          }
        }
        ComputeAtoms(value, m, &info);
        rule.strings.push_back(std::move(info));
      }
    }
    if (!IsWord(t, "condition") || !IsPunct(lex_.Next(), ":")) return fail("`condition:` expected");
    std::vector<Token> cond;
    while (true) {
      t = lex_.Next();
      if (t.kind == Tok::kEnd || t.kind == Tok::kError) return fail("rule not closed");
      if (IsPunct(t, "}")) break;  // conditions hold no braces (yara 4.2)
      if (IsPunct(t, "{")) return fail("`{` in a condition");
      cond.push_back(t);
    }
    Gate g = ConditionAnalyser(cond, rule.strings).Analyse();
    rule.gated = g.ok;
    if (g.ok) {
      rule.gating_strings = g.strings;
      for (size_t s : g.strings) {
        for (const auto& a : rule.strings[s].atoms) {
          if (std::find(rule.atoms.begin(), rule.atoms.end(), a) == rule.atoms.end()) rule.atoms.push_back(a);
        }
      }
    } else {
      rule.why_not = std::move(g.why);
    }
    out->rules.push_back(std::move(rule));
    return true;
  }

  Lexer lex_;
};

}  // namespace

YaraSourceGates AnalyseYaraSource(std::string_view text) { return SourceParser(text).Run(); }

// ---- the Vectorscan database ---------------------------------------------------------------

void YaraPrefilter::Scratch::Deleter::operator()(hs_scratch* s) const { hs_free_scratch(s); }
void YaraPrefilter::DbDeleter::operator()(hs_database* db) const { hs_free_database(db); }

YaraPrefilter::~YaraPrefilter() = default;

// Vectorscan 5.4.9's literal API refuses a literal whose first byte is NUL ("Pure literal
// API doesn't support empty string": it tests expression[0]), so leading NULs are dropped
// (the rest of an atom is an atom too). An all-NUL atom, or any regex, needs the regex
// API, which then compiles the whole set (atoms escaped).
//
// No HS_FLAG_SINGLEMATCH: the scan stops at the first match anyway, the flag doubles the
// compile time of the literal set (bench set, 5,074 atoms: 172 ms with, 92 ms without),
// and Vectorscan 5.4.9's regex API loses matches with it: a one-byte pattern ("\x63")
// with HS_FLAG_SINGLEMATCH misses 9,100 of 19,900 placements of its byte, every one at
// offset 64 or beyond (found by PrefilterOnAndOffAgreeOnRandomGatedRuleSets).
Result<std::unique_ptr<const YaraPrefilter>> YaraPrefilter::Compile(std::span<const YaraAtom> atoms,
                                                                    std::span<const std::string> regexes,
                                                                    const hs_platform_info* platform) {
  std::vector<YaraAtom> unique;
  std::unordered_set<std::string> seen;
  bool all_nul = false;
  for (const YaraAtom& a : atoms) {
    if (a.bytes.empty()) return Fail("YARA prefilter: empty atom");
    size_t skip = a.bytes.find_first_not_of('\0');
    if (skip == std::string::npos) {
      all_nul = true;
      skip = 0;
    }
    std::string key = (a.caseless ? "i" : "c") + a.bytes.substr(skip);
    if (seen.insert(key).second) unique.push_back(YaraAtom{a.bytes.substr(skip), a.caseless});
  }
  std::vector<std::string_view> unique_regexes;
  for (const std::string& r : regexes) {
    if (r.empty()) return Fail("YARA prefilter: empty regex");
    if (seen.insert("r" + r).second) unique_regexes.push_back(r);
  }
  if (unique.empty() && unique_regexes.empty()) return Fail("YARA prefilter: no atoms");
  if (unique.size() + unique_regexes.size() > UINT_MAX) return Fail("YARA prefilter: too many atoms");
  const bool regex_api = all_nul || !unique_regexes.empty();
  std::vector<std::string> escaped;  // regex API only
  std::vector<const char*> exprs;
  std::vector<size_t> lens;
  std::vector<unsigned> flags, ids;
  for (const YaraAtom& a : unique) {
    if (regex_api) {
      escaped.push_back(HsLiteral(a.bytes));
    } else {
      exprs.push_back(a.bytes.data());
      lens.push_back(a.bytes.size());
    }
    flags.push_back(a.caseless ? HS_FLAG_CASELESS : 0u);
    ids.push_back(static_cast<unsigned>(ids.size()));
  }
  for (std::string_view r : unique_regexes) {
    escaped.emplace_back(r);
    flags.push_back(HS_FLAG_DOTALL);
    ids.push_back(static_cast<unsigned>(ids.size()));
  }
  for (const std::string& e : escaped) exprs.push_back(e.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  const unsigned count = static_cast<unsigned>(exprs.size());
  const hs_error_t rc =
      regex_api ? hs_compile_multi(exprs.data(), flags.data(), ids.data(), count, HS_MODE_BLOCK, platform, &db, &err)
              : hs_compile_lit_multi(exprs.data(), flags.data(), ids.data(), lens.data(), count, HS_MODE_BLOCK,
                                     platform, &db, &err);
  if (rc != HS_SUCCESS) {
    std::string msg = err != nullptr && err->message != nullptr ? err->message : "unknown error";
    hs_free_compile_error(err);
    return Fail("YARA prefilter: Vectorscan compile failed: " + msg);
  }
  std::unique_ptr<YaraPrefilter> p(new YaraPrefilter());
  p->db_.reset(db);
  p->atom_count_ = unique.size();
  p->regex_count_ = unique_regexes.size();
  return std::unique_ptr<const YaraPrefilter>(std::move(p));
}

std::unique_ptr<const YaraPrefilter> YaraPrefilter::Adopt(hs_database* db) {
  std::unique_ptr<YaraPrefilter> p(new YaraPrefilter());
  p->db_.reset(db);
  return p;
}

YaraPrefilter::Scratch YaraPrefilter::NewScratch() const {
  Scratch s;
  hs_scratch_t* raw = nullptr;
  if (hs_alloc_scratch(db_.get(), &raw) == HS_SUCCESS) s.scratch_.reset(raw);
  return s;
}

namespace {
int StopAtFirstAtom(unsigned /*id*/, unsigned long long /*from*/, unsigned long long /*to*/, unsigned /*flags*/,
                    void* /*context*/) noexcept {
  return 1;  // terminate the scan: one atom is enough
}
}  // namespace

YaraPrefilter::Outcome YaraPrefilter::Scan(std::span<const uint8_t> data, Scratch& scratch) const {
  if (!scratch.valid() || data.size() > UINT_MAX) return Outcome::kError;
  hs_error_t e = scratch.block_.Scan(db_.get(), scratch.scratch_.get(), data, StopAtFirstAtom, nullptr);
  if (e == HS_SCAN_TERMINATED) return Outcome::kAtomFound;
  if (e == HS_SUCCESS) return Outcome::kNoAtom;
  return Outcome::kError;
}

}  // namespace avkey::engine
