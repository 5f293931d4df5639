#include "engine/body_pattern.h"

#include <cstdlib>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace avkey::engine {
namespace {

// Bounded work per verification: a pathological pattern (many variable gaps) over
// hostile data cannot stall the scan.
constexpr uint64_t kMaxSteps = 1u << 20;
constexpr uint64_t kNoFail = UINT64_MAX;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Delimiters accepted by (B), as observed on clamscan 1.4.6 (differential family
// ndb_boundary): the sets differ before and after the pattern.
bool IsLeftDelimiter(uint8_t c) {
  return c == ' ' || c == '-' || c == '.' || c == '/' || c == '<' || c == '@' || c == '_';
}
bool IsRightDelimiter(uint8_t c) {
  return c == '\n' || c == '\r' || c == ' ' || c == '"' || c == '\'' || c == '-' || c == '/' || c == '=' ||
         c == '>' || c == '_';
}

bool IsAlnum(uint8_t c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

struct FoldTables {
  std::array<uint8_t, 256> identity, lower;
  FoldTables() {
    for (int i = 0; i < 256; ++i) {
      identity[i] = static_cast<uint8_t>(i);
      lower[i] = static_cast<uint8_t>((i >= 'A' && i <= 'Z') ? i + 32 : i);
    }
  }
};
const FoldTables& Folds() {
  static const FoldTables tables;
  return tables;
}

// Parses one "xy" hex pair (with ? nibbles) at text[i].
bool ParsePair(std::string_view text, size_t i, uint8_t* value, uint8_t* mask) {
  if (i + 1 >= text.size()) return false;
  char a = text[i], b = text[i + 1];
  int hi = a == '?' ? 0 : HexValue(a), lo = b == '?' ? 0 : HexValue(b);
  if (hi < 0 || lo < 0) return false;
  *value = static_cast<uint8_t>(hi << 4 | lo);
  *mask = static_cast<uint8_t>((a == '?' ? 0 : 0xf0) | (b == '?' ? 0 : 0x0f));
  return true;
}

bool ParseUint(std::string_view s, uint32_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool IsPatternDigit(char c) { return HexValue(c) >= 0 || c == '?'; }

// Appends one byte to the bytes token at the end of *seq; a new token gets room for
// `run` bytes. (Grown byte by byte, each token's two vectors were reallocated ~log2(n)
// times: 90% of a 108k-signature set's load-time allocations, heaptrack.)
void AppendByte(TokenSeq* seq, uint8_t value, uint8_t mask, size_t run = 0) {
  if (seq->empty() || seq->back().kind != Token::Kind::kBytes) {
    seq->push_back(Token{});
    seq->back().value.reserve(run);
    seq->back().mask.reserve(run);
  }
  seq->back().value.push_back(value & mask);
  seq->back().mask.push_back(mask);
}

Status Err(std::string_view text, size_t pos, std::string_view why) {
  return Status::Error(std::string(why) + " at position " + std::to_string(pos) + " of '" +
                       std::string(text.substr(0, 80)) + (text.size() > 80 ? "...'" : "'"));
}

// Parses the inside of "( ... )" (without the parentheses) into an alternation token.
Result<Token> ParseGroup(std::string_view text, size_t open, std::string_view inner, bool negated) {
  Token t;
  if (inner == "B" || inner == "W" || inner == "L") {
    if (negated) return Fail(Err(text, open, "a marker cannot be negated").message());
    t.kind = inner == "L" ? Token::Kind::kLine : inner == "B" ? Token::Kind::kBoundary : Token::Kind::kWordEdge;
    return t;
  }
  std::vector<std::string_view> alts;
  size_t start = 0;
  for (size_t i = 0; i <= inner.size(); ++i) {
    if (i == inner.size() || inner[i] == '|') {
      alts.push_back(inner.substr(start, i - start));
      start = i + 1;
    }
  }

  std::vector<TokenSeq> parsed;
  bool fixed = true, single = true;
  size_t len0 = 0;
  for (size_t k = 0; k < alts.size(); ++k) {
    if (alts[k].empty()) return Fail(Err(text, open, "empty alternative").message());
    if (alts[k].find_first_of("()*|!") != std::string_view::npos)
      return Fail(Err(text, open, "nested group or '*' inside an alternation").message());
    auto seq = ParseHexPattern(alts[k]);
    if (!seq) return Fail(Err(text, open, "bad alternative: " + seq.error()).message());
    bool plain = seq->size() == 1 && (*seq)[0].kind == Token::Kind::kBytes;
    size_t len = plain ? (*seq)[0].value.size() : 0;
    if (!plain) fixed = false;
    if (k == 0) len0 = len;
    if (len != len0) fixed = false;
    if (!plain || len != 1 || (*seq)[0].mask[0] != 0xff) single = false;
    parsed.push_back(std::move(*seq));
  }
  if (single) {
    t.kind = Token::Kind::kSet;
    for (const auto& s : parsed) t.set.set(s[0].value[0]);
    if (negated) t.set.flip();
    return t;
  }
  if (fixed) {
    t.kind = Token::Kind::kAltFixed;
    t.negated = negated;
    t.alt_len = static_cast<uint32_t>(len0);
    for (const auto& s : parsed) {
      t.value.insert(t.value.end(), s[0].value.begin(), s[0].value.end());
      t.mask.insert(t.mask.end(), s[0].mask.begin(), s[0].mask.end());
    }
    return t;
  }
  if (negated) return Fail(Err(text, open, "alternatives of different lengths cannot be negated").message());
  t.kind = Token::Kind::kAltGeneric;
  t.alts = std::move(parsed);
  return t;
}

uint64_t MinLength(const TokenSeq& seq) {
  uint64_t n = 0;
  for (const Token& t : seq) {
    switch (t.kind) {
      case Token::Kind::kBytes: n += t.value.size(); break;
      case Token::Kind::kSet: n += 1; break;
      case Token::Kind::kAltFixed: n += t.alt_len; break;
      case Token::Kind::kGap: n += t.min; break;
      case Token::Kind::kAltGeneric: {
        uint64_t m = UINT64_MAX;
        for (const auto& a : t.alts) m = std::min(m, MinLength(a));
        n += m;
        break;
      }
      default: break;
    }
  }
  return n;
}

// The most bytes a match can span (kUnbounded with * or {n-}); each zero-width marker
// counts 2, the neighbours it looks at (a CRLF for (L)), which a regex may include.
uint64_t MaxLength(const TokenSeq& seq) {
  uint64_t n = 0;
  for (const Token& t : seq) {
    uint64_t add = 0;
    switch (t.kind) {
      case Token::Kind::kBytes: add = t.value.size(); break;
      case Token::Kind::kSet: add = 1; break;
      case Token::Kind::kAltFixed: add = t.alt_len; break;
      case Token::Kind::kGap: add = t.max == kUnbounded ? kUnbounded : t.max; break;
      case Token::Kind::kAltGeneric:
        for (const auto& a : t.alts) add = std::max(add, MaxLength(a));
        break;
      case Token::Kind::kBoundary:
      case Token::Kind::kWordEdge:
      case Token::Kind::kLine: add = 2; break;
    }
    if (add >= kUnbounded || n + add >= kUnbounded) return kUnbounded;
    n += add;
  }
  return n;
}

void ReverseInPlace(TokenSeq* seq) {
  std::reverse(seq->begin(), seq->end());
  for (Token& t : *seq) {
    if (t.kind == Token::Kind::kBytes) {
      std::reverse(t.value.begin(), t.value.end());
      std::reverse(t.mask.begin(), t.mask.end());
    } else if (t.kind == Token::Kind::kAltFixed) {
      for (size_t a = 0; a + t.alt_len <= t.value.size(); a += t.alt_len) {
        std::reverse(t.value.begin() + a, t.value.begin() + a + t.alt_len);
        std::reverse(t.mask.begin() + a, t.mask.begin() + a + t.alt_len);
      }
    } else if (t.kind == Token::Kind::kAltGeneric) {
      for (auto& a : t.alts) ReverseInPlace(&a);
    }
  }
}

void FoldCase(TokenSeq* seq) {
  const auto& lower = Folds().lower;
  for (Token& t : *seq) {
    switch (t.kind) {
      case Token::Kind::kBytes:
      case Token::Kind::kAltFixed:
        for (size_t i = 0; i < t.value.size(); ++i)
          if (t.mask[i] == 0xff) t.value[i] = lower[t.value[i]];
        break;
      case Token::Kind::kSet:
        for (int c = 'a'; c <= 'z'; ++c)
          if (t.set.test(c) || t.set.test(c - 32)) t.set.set(c).set(c - 32);
        break;
      case Token::Kind::kAltGeneric:
        for (auto& a : t.alts) FoldCase(&a);
        break;
      default: break;
    }
  }
}

// Continuation: what to match after the current (nested) sequence ends.
struct Cont {
  const TokenSeq* seq;
  size_t index;
  const Cont* next;
};

struct MatchContext {
  const uint8_t* data;
  uint64_t size;
  const uint8_t* fold;
  bool fullword;
  bool wide;
  bool check_window;      // accept only ends (forward) / starts (backward) in [first,last]
  uint64_t first, last;
  const TokenSeq* top;    // the top-level sequence (memo applies to it only)
  bool use_memo;
  BodyPattern::Scratch* scratch;
  uint64_t accepted;      // position accepted (start when backward)
};

template <bool kFwd>
bool Accept(MatchContext& c, uint64_t pos) {
  if (c.check_window && (pos < c.first || pos > c.last)) return false;
  if (c.fullword) {
    if (c.wide) {
      if (kFwd ? (pos + 1 < c.size && IsAlnum(c.data[pos]) && c.data[pos + 1] == 0)
               : (pos >= 2 && IsAlnum(c.data[pos - 2]) && c.data[pos - 1] == 0))
        return false;
    } else if (kFwd ? (pos < c.size && IsAlnum(c.data[pos])) : (pos > 0 && IsAlnum(c.data[pos - 1]))) {
      return false;
    }
  }
  c.accepted = pos;
  return true;
}

template <bool kFwd>
bool Run(MatchContext& c, const TokenSeq& seq, size_t i, uint64_t pos, const Cont* k) {
  for (; i < seq.size(); ++i) {
    if (++c.scratch->steps > kMaxSteps) return false;
    const Token& t = seq[i];
    switch (t.kind) {
      case Token::Kind::kBytes: {
        const size_t n = t.value.size();
        if (kFwd ? (pos + n > c.size) : (pos < n)) return false;
        const uint8_t* p = kFwd ? c.data + pos : c.data + pos - 1;
        for (size_t j = 0; j < n; ++j) {
          uint8_t b = kFwd ? p[j] : *(p - j);
          if ((c.fold[b] & t.mask[j]) != t.value[j]) return false;
        }
        pos = kFwd ? pos + n : pos - n;
        break;
      }
      case Token::Kind::kSet: {
        if (kFwd ? pos >= c.size : pos == 0) return false;
        if (!t.set.test(c.data[kFwd ? pos : pos - 1])) return false;
        pos = kFwd ? pos + 1 : pos - 1;
        break;
      }
      case Token::Kind::kAltFixed: {
        const size_t n = t.alt_len;
        if (kFwd ? (pos + n > c.size) : (pos < n)) return false;
        bool any = false;
        for (size_t a = 0; a + n <= t.value.size() && !any; a += n) {
          bool eq = true;
          for (size_t j = 0; j < n && eq; ++j) {
            uint8_t b = kFwd ? c.data[pos + j] : c.data[pos - 1 - j];
            eq = (c.fold[b] & t.mask[a + j]) == t.value[a + j];
          }
          any = eq;
        }
        if (any == t.negated) return false;
        pos = kFwd ? pos + n : pos - n;
        break;
      }
      case Token::Kind::kAltGeneric: {
        Cont next{&seq, i + 1, k};
        for (const TokenSeq& alt : t.alts)
          if (Run<kFwd>(c, alt, 0, pos, &next)) return true;
        return false;
      }
      case Token::Kind::kGap: {
        const uint64_t room = kFwd ? c.size - pos : pos;
        if (t.min > room) return false;
        const uint64_t max = std::min<uint64_t>(t.max, room);
        const bool top = &seq == c.top;
        const bool unbounded = t.max == kUnbounded && top;
        const bool memo = c.use_memo && top && !unbounded;
        uint64_t key = 0;
        if (unbounded) {
          uint64_t f = c.scratch->gap_fail[i];
          if (f != kNoFail && (kFwd ? pos >= f : pos <= f)) return false;
        }
        if (memo) {
          key = (static_cast<uint64_t>(i) << 44) ^ pos;
          if (c.scratch->memo.count(key)) return false;
        }
        // When the next token starts with an exact byte, jump between its occurrences.
        int want = -1;
        if (i + 1 < seq.size() && seq[i + 1].kind == Token::Kind::kBytes && seq[i + 1].mask[0] == 0xff &&
            c.fold == Folds().identity.data())
          want = seq[i + 1].value[0];
        for (uint64_t g = t.min; g <= max; ++g) {
          uint64_t p = kFwd ? pos + g : pos - g;
          if (want >= 0) {
            if (kFwd) {
              const void* hit = std::memchr(c.data + p, want, c.size - p > max - g + 1 ? max - g + 1 : c.size - p);
              if (!hit) break;
              g += static_cast<const uint8_t*>(hit) - (c.data + p);
              p = pos + g;
            } else if (p == 0 || c.data[p - 1] != want) {
              continue;
            }
          }
          if (Run<kFwd>(c, seq, i + 1, p, k)) return true;
          if (c.scratch->steps > kMaxSteps) return false;
        }
        if (memo) c.scratch->memo.insert(key);
        if (unbounded) {
          uint64_t& f = c.scratch->gap_fail[i];
          f = (f == kNoFail) ? pos : (kFwd ? std::min(f, pos) : std::max(f, pos));
        }
        return false;
      }
      case Token::Kind::kBoundary:
      case Token::Kind::kWordEdge: {
        const bool b = t.kind == Token::Kind::kBoundary;
        if (t.check_left && t.check_right) {
          // In the middle of a pattern the marker stands for one delimiter byte.
          if (kFwd ? pos >= c.size : pos == 0) return false;
          uint8_t ch = c.data[kFwd ? pos : pos - 1];
          if (b ? !(IsLeftDelimiter(ch) || IsRightDelimiter(ch)) : IsAlnum(ch)) return false;
          pos = kFwd ? pos + 1 : pos - 1;
          break;
        }
        if (t.check_left && pos > 0 && (b ? !IsLeftDelimiter(c.data[pos - 1]) : IsAlnum(c.data[pos - 1])))
          return false;
        if (t.check_right && pos < c.size && (b ? !IsRightDelimiter(c.data[pos]) : IsAlnum(c.data[pos])))
          return false;
        break;
      }
      case Token::Kind::kLine: {
        if (t.check_left && t.check_right) {
          // In the middle of a pattern (L) stands for one line-break byte.
          if (kFwd ? pos >= c.size : pos == 0) return false;
          uint8_t ch = c.data[kFwd ? pos : pos - 1];
          if (ch != '\n' && ch != '\r') return false;
          pos = kFwd ? pos + 1 : pos - 1;
          break;
        }
        bool left = pos == 0 || c.data[pos - 1] == '\n';
        bool right = pos == c.size || c.data[pos] == '\n' ||
                     (c.data[pos] == '\r' && pos + 1 < c.size && c.data[pos + 1] == '\n');
        if (t.check_left && !left) return false;
        if (t.check_right && !right) return false;
        break;
      }
    }
  }
  if (k) return Run<kFwd>(c, *k->seq, k->index, pos, k->next);
  return Accept<kFwd>(c, pos);
}

bool CountsAsSplit(const Token& t) {
  return t.kind == Token::Kind::kGap && t.min != t.max && !t.soft;
}

void Reset(BodyPattern::Scratch* s, size_t tokens) {
  s->steps = 0;
  if (!s->memo.empty()) s->memo.clear();
  s->gap_fail.assign(tokens, kNoFail);
}

}  // namespace

uint64_t MinPatternLength(const TokenSeq& seq) { return MinLength(seq); }

Result<TokenSeq> ParseHexPattern(std::string_view text) {
  TokenSeq seq;
  if (text.empty()) return Fail("empty pattern");
  size_t i = 0;
  while (i < text.size()) {
    char ch = text[i];
    if (IsPatternDigit(ch)) {
      uint8_t v, m;
      if (!ParsePair(text, i, &v, &m)) return Fail(Err(text, i, "bad hex byte").message());
      size_t run = 0;  // bytes in the run of hex digits a new token starts with
      if (seq.empty() || seq.back().kind != Token::Kind::kBytes) {
        size_t end = i;
        while (end < text.size() && IsPatternDigit(text[end])) ++end;
        run = (end - i) / 2;
      }
      AppendByte(&seq, v, m, run);
      i += 2;
    } else if (ch == '*') {
      Token t;
      t.kind = Token::Kind::kGap;
      t.min = 0;
      t.max = kUnbounded;
      seq.push_back(std::move(t));
      ++i;
    } else if (ch == '{' || ch == '[') {
      char close = ch == '{' ? '}' : ']';
      size_t end = text.find(close, i);
      if (end == std::string_view::npos) return Fail(Err(text, i, "unterminated range").message());
      std::string_view body = text.substr(i + 1, end - i - 1);
      Token t;
      t.kind = Token::Kind::kGap;
      size_t dash = body.find('-');
      bool ok;
      if (dash == std::string_view::npos) {
        ok = ch == '{' && ParseUint(body, &t.min);
        // clamscan treats {0} as * (differential family ndb_tokens).
        t.max = t.min == 0 ? kUnbounded : t.min;
      } else {
        std::string_view lo = body.substr(0, dash), hi = body.substr(dash + 1);
        ok = (lo.empty() ? (t.min = 0, true) : ParseUint(lo, &t.min)) &&
             (hi.empty() ? (t.max = kUnbounded, true) : ParseUint(hi, &t.max)) &&
             !(lo.empty() && hi.empty());
        if (ch == '[') ok = ok && !lo.empty() && !hi.empty() && t.max <= 32 && t.min <= t.max;
        // ClamAV loads {n-m} with n > m; such a gap never matches.
      }
      t.soft = ch == '[';
      if (!ok) return Fail(Err(text, i, "bad range").message());
      seq.push_back(std::move(t));
      i = end + 1;
    } else if (ch == '(' || (ch == '!' && i + 1 < text.size() && text[i + 1] == '(')) {
      bool negated = ch == '!';
      size_t open = negated ? i + 1 : i;
      size_t end = text.find(')', open);
      if (end == std::string_view::npos) return Fail(Err(text, i, "unterminated group").message());
      auto group = ParseGroup(text, i, text.substr(open + 1, end - open - 1), negated);
      if (!group) return Fail(group.error());
      seq.push_back(std::move(*group));
      i = end + 1;
    } else {
      return Fail(Err(text, i, std::string("unexpected character '") + ch + "'").message());
    }
  }
  // Markers look at the side facing away from the pattern's bytes; in the middle, both.
  for (size_t k = 0; k < seq.size(); ++k) {
    Token& t = seq[k];
    if (t.kind != Token::Kind::kBoundary && t.kind != Token::Kind::kWordEdge && t.kind != Token::Kind::kLine) continue;
    t.check_left = k + 1 < seq.size() || k == 0;
    t.check_right = k > 0;
    if (k == 0) t.check_right = false;
    if (k + 1 == seq.size() && k > 0) t.check_left = false;
  }
  return seq;
}

TokenSeq WidenPattern(const TokenSeq& seq) {
  TokenSeq out;
  for (const Token& t : seq) {
    if (t.kind == Token::Kind::kBytes) {
      for (size_t j = 0; j < t.value.size(); ++j) {
        // ClamAV widens every element, wildcards included (differential family ldb_mod).
        AppendByte(&out, t.value[j], t.mask[j], 2 * t.value.size());
        AppendByte(&out, 0, 0xff);
      }
    } else if (t.kind == Token::Kind::kSet) {
      out.push_back(t);
      AppendByte(&out, 0, 0xff);
    } else if (t.kind == Token::Kind::kAltFixed) {
      Token w = t;
      w.value.clear();
      w.mask.clear();
      for (size_t j = 0; j < t.value.size(); ++j) {
        w.value.push_back(t.value[j]);
        w.mask.push_back(t.mask[j]);
        w.value.push_back(0);
        w.mask.push_back(0xff);
      }
      w.alt_len = t.alt_len * 2;
      out.push_back(std::move(w));
    } else if (t.kind == Token::Kind::kAltGeneric) {
      Token w = t;
      for (auto& a : w.alts) a = WidenPattern(a);
      out.push_back(std::move(w));
    } else {
      out.push_back(t);
    }
  }
  return out;
}

bool BodyPattern::CanMatchOnly(bool (*allowed)(uint8_t)) const {
  if (!has_forward_) std::abort();  // a programming error: Prepare dropped the form
  std::array<bool, 256> ok{};
  for (int c = 0; c < 256; ++c)  // (::i: an upper-case letter matches where its lower case can)
    ok[c] = allowed(static_cast<uint8_t>(c)) ||
            (options_.nocase && c >= 'A' && c <= 'Z' && allowed(static_cast<uint8_t>(c + 32)));
  for (const Token& t : forward_) {
    if (t.kind != Token::Kind::kBytes) continue;  // alternatives, sets, gaps: not looked into
    for (size_t i = 0; i < t.value.size(); ++i) {
      const uint8_t mask = t.mask[i], value = t.value[i];
      bool some = mask == 0xff && ok[value];
      for (int c = 0; c < 256 && !some && mask != 0xff; ++c) some = ok[c] && (c & mask) == value;
      if (!some) return false;
    }
  }
  return true;
}

Result<BodyPattern> BodyPattern::Compile(TokenSeq seq, const PatternOptions& options, bool lean) {
  // Every part between splitting gaps needs two consecutive static bytes, as ClamAV
  // requires; the longest exact run overall becomes the anchor.
  size_t best_tok = 0, best_at = 0, best_len = 0, part_best = 0;
  bool has_gaps = false;
  auto close_part = [&]() -> bool { return part_best >= 2; };
  for (size_t k = 0; k < seq.size(); ++k) {
    const Token& t = seq[k];
    if (CountsAsSplit(t)) {
      has_gaps = true;
      if (!close_part()) return Fail("Can't find a static subpattern of length 2");
      part_best = 0;
      continue;
    }
    if (t.kind != Token::Kind::kBytes) continue;
    size_t run = 0;
    for (size_t j = 0; j <= t.value.size(); ++j) {
      if (j < t.value.size() && t.mask[j] == 0xff) {
        ++run;
        continue;
      }
      part_best = std::max(part_best, run);
      if (run > best_len) {
        best_len = run;
        best_tok = k;
        best_at = j - run;
      }
      run = 0;
    }
  }
  if (!close_part()) return Fail("Can't find a static subpattern of length 2");
  // [x-y] may only join a single byte and a part of two or more bytes.
  for (size_t k = 0; k < seq.size(); ++k) {
    if (seq[k].kind != Token::Kind::kGap || !seq[k].soft) continue;
    auto len = [&](size_t j) -> size_t {
      return j < seq.size() && seq[j].kind == Token::Kind::kBytes ? seq[j].value.size() : 0;
    };
    size_t before = k > 0 ? len(k - 1) : 0, after = len(k + 1);
    if (!((before == 1 && after >= 2) || (before >= 2 && after == 1)))
      return Fail("[x-y] must join a single byte and a subpattern of two or more bytes");
  }

  BodyPattern p;
  p.options_ = options;
  p.has_gaps_ = has_gaps;
  if (options.nocase) FoldCase(&seq);
  p.min_len_ = MinLength(seq);
  p.max_len_ = MaxLength(seq);
  const Token& at = seq[best_tok];
  p.anchor_.assign(at.value.begin() + best_at, at.value.begin() + best_at + best_len);
  p.anchor_tok_ = static_cast<uint32_t>(best_tok);
  p.anchor_at_ = static_cast<uint32_t>(best_at);
  p.forward_ = std::move(seq);
  p.has_forward_ = true;
  if (!p.forward_.empty() && p.forward_[0].kind == Token::Kind::kBytes) {
    const Token& t = p.forward_[0];
    p.head_.len = static_cast<uint8_t>(std::min(t.value.size(), PatternHead::kMax));
    std::copy_n(t.value.begin(), p.head_.len, p.head_.value);
    std::copy_n(t.mask.begin(), p.head_.len, p.head_.mask);
  }
  if (!lean) p.Prepare(Use::kAll);
  return p;
}

void BodyPattern::Prepare(Use use) {
  if (!has_forward_) std::abort();  // prepared twice: the forward form is gone
  const TokenSeq& seq = forward_;
  if ((use == Use::kAll || use == Use::kAnchor) && !has_sides_) {
    const size_t best_tok = anchor_tok_, best_at = anchor_at_, best_len = anchor_.size();
    const Token& at = seq[best_tok];
    for (size_t k = 0; k < best_tok; ++k) prefix_.push_back(seq[k]);
    if (best_at > 0) {
      Token head;
      head.value.assign(at.value.begin(), at.value.begin() + best_at);
      head.mask.assign(at.mask.begin(), at.mask.begin() + best_at);
      prefix_.push_back(std::move(head));
    }
    if (best_at + best_len < at.value.size()) {
      Token tail;
      tail.value.assign(at.value.begin() + best_at + best_len, at.value.end());
      tail.mask.assign(at.mask.begin() + best_at + best_len, at.mask.end());
      suffix_.push_back(std::move(tail));
    }
    for (size_t k = best_tok + 1; k < seq.size(); ++k) suffix_.push_back(seq[k]);
    ReverseInPlace(&prefix_);
    has_sides_ = true;
  }
  if ((use == Use::kAll || use == Use::kEnd) && !has_reversed_) {
    if (use == Use::kEnd) {
      reversed_ = std::move(forward_);  // the forward form is dropped below anyway
    } else {
      reversed_ = forward_;
    }
    ReverseInPlace(&reversed_);
    has_reversed_ = true;
  }
  if (use == Use::kAll || use == Use::kWindow) return;
  TokenSeq().swap(forward_);
  has_forward_ = false;
}

bool BodyPattern::VerifyAt(std::span<const uint8_t> data, uint64_t anchor_end, uint64_t first,
                           uint64_t last, Scratch* scratch, uint64_t* start) const {
  if (!has_sides_) std::abort();  // not prepared for this use (Prepare)
  const uint64_t anchor_start = anchor_end - anchor_.size();
  const uint8_t* fold = options_.nocase ? Folds().lower.data() : Folds().identity.data();
  Reset(scratch, suffix_.size());
  MatchContext fwd{data.data(), data.size(), fold, options_.fullword, options_.wide, false, 0, 0, &suffix_, has_gaps_, scratch, 0};
  if (!Run<true>(fwd, suffix_, 0, anchor_end, nullptr)) return false;
  Reset(scratch, prefix_.size());
  MatchContext back{data.data(), data.size(), fold, options_.fullword, options_.wide, true, first, last, &prefix_, has_gaps_, scratch, 0};
  if (!Run<false>(back, prefix_, 0, anchor_start, nullptr)) return false;
  if (start) *start = back.accepted;
  return true;
}

bool BodyPattern::VerifyEnd(std::span<const uint8_t> data, uint64_t end, uint64_t first, uint64_t last,
                            Scratch* scratch, uint64_t* start) const {
  if (!has_reversed_) std::abort();  // not prepared for this use (Prepare)
  const uint8_t* fold = options_.nocase ? Folds().lower.data() : Folds().identity.data();
  if (options_.fullword) {
    const bool word_after = options_.wide ? (end + 1 < data.size() && IsAlnum(data[end]) && data[end + 1] == 0)
                                          : (end < data.size() && IsAlnum(data[end]));
    if (word_after) return false;
  }
  Reset(scratch, reversed_.size());
  MatchContext back{data.data(), data.size(), fold, options_.fullword, options_.wide, true, first, last, &reversed_, has_gaps_, scratch, 0};
  if (!Run<false>(back, reversed_, 0, end, nullptr)) return false;
  if (start) *start = back.accepted;
  return true;
}

namespace {

// Regex for one byte under a value/mask pair.
void AppendByteRegex(uint8_t value, uint8_t mask, std::string* out) {
  if (mask == 0) {
    *out += '.';
  } else if (mask == 0xff) {
    *out += fmt::format("\\x{:02x}", value);
  } else {
    *out += '[';
    for (int b = 0; b < 256; ++b)
      if ((b & mask) == value) *out += fmt::format("\\x{:02x}", b);
    *out += ']';
  }
}

void AppendSeqRegex(const TokenSeq& seq, std::string* out, bool* exact, bool* never) {
  for (size_t k = 0; k < seq.size(); ++k) {
    const Token& t = seq[k];
    switch (t.kind) {
      case Token::Kind::kBytes:
        for (size_t j = 0; j < t.value.size(); ++j) AppendByteRegex(t.value[j], t.mask[j], out);
        break;
      case Token::Kind::kSet: {
        if (t.set.all()) {
          *out += '.';
          break;
        }
        *out += '[';
        for (int b = 0; b < 256; ++b)
          if (t.set.test(b)) *out += fmt::format("\\x{:02x}", b);
        *out += ']';
        break;
      }
      case Token::Kind::kAltFixed:
        if (t.negated) {
          *out += fmt::format(".{{{}}}", t.alt_len);
          *exact = false;
          break;
        }
        *out += "(?:";
        for (size_t a = 0; a + t.alt_len <= t.value.size(); a += t.alt_len) {
          if (a) *out += '|';
          for (size_t j = 0; j < t.alt_len; ++j) AppendByteRegex(t.value[a + j], t.mask[a + j], out);
        }
        *out += ')';
        break;
      case Token::Kind::kAltGeneric:
        *out += "(?:";
        for (size_t a = 0; a < t.alts.size(); ++a) {
          if (a) *out += '|';
          AppendSeqRegex(t.alts[a], out, exact, never);
        }
        *out += ')';
        break;
      case Token::Kind::kGap:
        // Bounded repeats above a few hundred bytes make Vectorscan's bytecode large;
        // an open-ended repeat is a superset and costs nothing extra to verify.
        if (t.max == kUnbounded || t.max > 256) {
          *out += fmt::format(".{{{},}}", std::min<uint32_t>(t.min, 256));
          if (t.max != kUnbounded || t.min > 256) *exact = false;
        } else if (t.min > t.max) {
          *never = true;  // {n-m} with n > m: clamscan loads it and it never matches
        } else {
          *out += fmt::format(".{{{},{}}}", t.min, t.max);
        }
        break;
      case Token::Kind::kBoundary:
      case Token::Kind::kWordEdge:
      case Token::Kind::kLine:
        if (t.check_left && t.check_right) *out += '.';  // one delimiter byte
        *exact = false;
        break;
    }
  }
}

}  // namespace

std::string BodyPattern::Regex(bool* exact) const {
  if (!has_forward_) std::abort();  // only before Prepare() dropped the forward form
  std::string out;
  *exact = !options_.fullword;
  bool never = false;
  AppendSeqRegex(forward_, &out, exact, &never);
  return never ? std::string() : out;
}

uint32_t BodyPattern::MatchWindow(std::span<const uint8_t> data, uint64_t first, uint64_t last,
                                  uint32_t limit, Scratch* scratch, uint64_t* first_start) const {
  if (!has_forward_) std::abort();  // not prepared for this use (Prepare)
  const uint8_t* fold = options_.nocase ? Folds().lower.data() : Folds().identity.data();
  uint32_t found = 0;
  last = std::min<uint64_t>(last, data.size());
  // Most starts fail on their first bytes: test up to 4 of a leading exact run before
  // setting up a full walk (offset-pinned signatures are tried on every layer).
  const PatternHead& head = head_;
  for (uint64_t start = first; start <= last && found < limit; ++start) {
    if (data.size() - start < min_len_) break;  // min_len_ >= head.len
    size_t j = 0;
    while (j < head.len && (fold[data[start + j]] & head.mask[j]) == head.value[j]) ++j;
    if (j < head.len) continue;
    Reset(scratch, forward_.size());
    MatchContext c{data.data(), data.size(), fold, options_.fullword, options_.wide, false, 0, 0, &forward_, has_gaps_, scratch, 0};
    if (options_.fullword && (options_.wide ? (start >= 2 && IsAlnum(data[start - 2]) && data[start - 1] == 0)
                                            : (start > 0 && IsAlnum(data[start - 1]))))
      continue;
    if (Run<true>(c, forward_, 0, start, nullptr)) {
      if (found == 0 && first_start) *first_start = start;
      ++found;
    }
  }
  return found;
}

}  // namespace avkey::engine
