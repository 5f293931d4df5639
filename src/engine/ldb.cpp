// Logical signatures (.ldb). Semantics follow libclamav (readdb.c load_oneldb and
// lsigattribs, matcher-ac.c cli_ac_chklsig, matcher-byte-comp.c, matcher-pcre.c);
// each ClamAV quirk that is kept on purpose says so where it is implemented.
#include "engine/ldb.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <limits>
#include <utility>

#include "engine/filetype.h"

namespace avkey::engine {
namespace {

constexpr size_t kMaxLdbSubsigs = 64;       // ClamAV MAX_LDB_SUBSIGS
constexpr size_t kMaxMacroGroups = 32;      // ClamAV: "only 32 macro groups"
constexpr size_t kMaxIntermediates = 16;    // ClamAV EXPR_TOKEN_MAX
constexpr uint32_t kMaxHexCompareLen = 18;  // ClamAV CLI_BCOMP_MAX_HEX_BLEN
constexpr int64_t kMaxCompareShift = int64_t{1} << 48;  // same bound as offset.cpp
// Expression operands (indexes or groups) at one level; real signatures use < 100.
constexpr size_t kMaxOperands = 4096;
// Evaluation stack: the emitter orders operands so that a chain needs at most one
// slot more than its deepest operand, and a group one more than its chain, hence
// 2 per nesting level plus slack. Parse() rejects anything that would need more.
constexpr size_t kMaxStack = 2 * LogicExpr::kMaxDepth + 8;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// C-locale isspace.
bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool IsCmp(char c) { return c == '=' || c == '<' || c == '>'; }

// Short quoted excerpt of untrusted text for error messages.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 48;
  std::string out = "'";
  for (char c : s.substr(0, kMax)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > kMax) out += "...";
  out += "'";
  return out;
}

// Plain non-empty decimal number.
bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), IsDigit)) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseDecimal32(std::string_view s, uint32_t* out) {
  uint64_t v = 0;
  if (!ParseDecimal(s, &v) || v > std::numeric_limits<uint32_t>::max()) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// A whole token in C strtol base-0 syntax ("0x1F" hex, "017" octal, "15" decimal),
// as ClamAV reads byte compare numbers. All of `s` must be consumed.
bool ParseCNumber(std::string_view s, bool allow_sign, int64_t* out) {
  bool neg = false;
  if (allow_sign && !s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] == '+' || s[0] == '-') return false;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  const uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (v > limit) return false;
  *out = neg ? static_cast<int64_t>(~v + 1) : static_cast<int64_t>(v);
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// Logical expressions

struct LogicExpr::Node {
  enum class Op : uint8_t { kLeaf, kLeafCmp, kAnd, kOr, kBlockCmp };
  struct Instr {
    Op op;
    char cmp = 0;     // '=', '<', '>' for kLeafCmp / kBlockCmp
    uint8_t idx = 0;  // kLeaf / kLeafCmp
    uint32_t x = 0;   // count operand
    uint32_t y = 0;   // kBlockCmp: minimum distinct subsigs (0 = no check)
  };
  std::vector<Instr> code;  // postfix
  uint32_t stack_need = 0;
};

namespace {

using Instr = LogicExpr::Node::Instr;
using Op = LogicExpr::Node::Op;

bool Compare(char op, uint32_t v, uint32_t x) {
  switch (op) {
    case '=': return v == x;
    case '<': return v < x;
    case '>': return v > x;
  }
  return false;
}

// Postfix code for one subexpression and the evaluation stack it needs.
struct Frag {
  std::vector<Instr> code;
  uint32_t need = 0;
};

// a OP b. Both operators are commutative in value, count and index set, so the
// operand needing more stack goes first (Sethi-Ullman): depth stays logarithmic-ish
// and bounded by the nesting depth, whatever the chain length.
Frag Combine(Frag a, Frag b, Op op) {
  if (a.need < b.need) std::swap(a, b);
  a.need = std::max(a.need, b.need + 1);
  a.code.insert(a.code.end(), b.code.begin(), b.code.end());
  a.code.push_back(Instr{op});
  return a;
}

// x0 o1 (x1 o2 (... ok xk)): ClamAV splits an expression at its first top-level
// operator, so unparenthesised chains group to the right. Built right to left.
Frag RightFold(std::vector<Frag>& xs, const std::vector<Op>& ops, size_t count) {
  Frag acc = std::move(xs[count - 1]);
  for (size_t i = count - 1; i-- > 0;) acc = Combine(std::move(xs[i]), std::move(acc), ops[i]);
  return acc;
}

class ExprParser {
 public:
  ExprParser(std::string_view text, size_t subsig_count)
      : text_(text), limit_(std::min(subsig_count, LogicExpr::kMaxSubsigs)) {}

  bool Run(Frag* out) {
    bool had_op = false;
    if (!ParseSeq(0, /*in_group=*/false, out, &had_op)) return false;
    if (pos_ < text_.size()) {
      if (text_[pos_] == ')') return Error("missing opening parenthesis");
      return Error(std::string("unexpected '") + text_[pos_] + "'");
    }
    return true;
  }

  const std::string& error() const { return error_; }
  size_t max_index() const { return max_index_; }

 private:
  bool Error(std::string what) {
    error_ = what + " at position " + std::to_string(pos_) + " of " + Quote(text_);
    return false;
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  // operand ((& | '|') operand)*. Inside parentheses ClamAV splits at the *last*
  // operator of the group: (x0 o1 ... x(k-1)) ok xk, the left part grouping to the right.
  bool ParseSeq(size_t depth, bool in_group, Frag* out, bool* had_op) {
    std::vector<Frag> xs;
    std::vector<Op> ops;
    xs.emplace_back();
    if (!ParseOperand(depth, &xs.back())) return false;
    while (Peek() == '&' || Peek() == '|') {
      ops.push_back(Peek() == '&' ? Op::kAnd : Op::kOr);
      ++pos_;
      if (AtEnd() || Peek() == ')' || Peek() == '&' || Peek() == '|')
        return Error(std::string("missing right argument of '") + text_[pos_ - 1] + "'");
      if (xs.size() >= kMaxOperands) return Error("too many operands");
      xs.emplace_back();
      if (!ParseOperand(depth, &xs.back())) return false;
    }
    *had_op = !ops.empty();
    if (ops.empty()) {
      *out = std::move(xs[0]);
    } else if (!in_group) {
      *out = RightFold(xs, ops, xs.size());
    } else {
      Frag last = std::move(xs.back());
      Frag left = RightFold(xs, ops, xs.size() - 1);
      *out = Combine(std::move(left), std::move(last), ops.back());
    }
    return true;
  }

  bool ParseOperand(size_t depth, Frag* out) {
    if (AtEnd()) return Error("missing argument");
    const char c = Peek();
    if (c == '(') {
      if (depth + 1 > LogicExpr::kMaxDepth)
        return Error("parentheses nested deeper than " + std::to_string(LogicExpr::kMaxDepth));
      ++pos_;
      if (Peek() == ')') return Error("empty parentheses");
      bool had_op = false;
      if (!ParseSeq(depth + 1, /*in_group=*/true, out, &had_op)) return false;
      if (AtEnd()) return Error("missing closing parenthesis");
      if (Peek() != ')') return Error(std::string("expected ')' but found '") + Peek() + "'");
      ++pos_;
      if (IsCmp(Peek())) {
        // ClamAV only recognises a group modifier when the group holds an operator;
        // "(0)>2" fails to load there ("Missing opening parenthesis").
        if (!had_op) return Error("count modifier on a group without '&' or '|'");
        Instr in{Op::kBlockCmp};
        if (!ParseModifier(&in.cmp, &in.x, &in.y)) return false;
        out->code.push_back(in);
      }
      return true;
    }
    if (IsDigit(c)) {
      size_t start = pos_;
      while (IsDigit(Peek())) ++pos_;
      uint32_t idx = 0;
      if (!ParseDecimal32(text_.substr(start, pos_ - start), &idx) || idx >= limit_) {
        const std::string digits(text_.substr(start, std::min<size_t>(pos_ - start, 20)));
        pos_ = start;
        return Error("subsignature index " + digits + " out of range (" + std::to_string(limit_) +
                     " subsignatures)");
      }
      max_index_ = std::max<size_t>(max_index_, idx + 1);
      Instr in{Op::kLeaf};
      in.idx = static_cast<uint8_t>(idx);
      if (IsCmp(Peek())) {
        in.op = Op::kLeafCmp;
        uint32_t ignored_y = 0;  // ClamAV reads only X for a single subsignature
        if (!ParseModifier(&in.cmp, &in.x, &ignored_y)) return false;
      }
      out->code = {in};
      out->need = 1;
      return true;
    }
    if (c == '&' || c == '|') return Error(std::string("missing left argument of '") + c + "'");
    if (c == ')') return Error("missing opening parenthesis");
    return Error(std::string("can't parse '") + c + "'");
  }

  // =X, <X, >X with optional ,Y.
  bool ParseModifier(char* cmp, uint32_t* x, uint32_t* y) {
    *cmp = Peek();
    ++pos_;
    if (!ParseCount(x, std::string("missing number after '") + *cmp + "'")) return false;
    *y = 0;
    if (Peek() == ',') {
      ++pos_;
      if (!ParseCount(y, "missing number after ','")) return false;
    }
    if (IsCmp(Peek()) || Peek() == ',') return Error("more than one count modifier");
    return true;
  }

  bool ParseCount(uint32_t* out, const std::string& missing) {
    size_t start = pos_;
    while (IsDigit(Peek())) ++pos_;
    if (start == pos_) return Error(missing);
    if (!ParseDecimal32(text_.substr(start, pos_ - start), out)) {
      pos_ = start;
      return Error("count too large");
    }
    return true;
  }

  std::string_view text_;
  size_t limit_;
  size_t pos_ = 0;
  size_t max_index_ = 0;
  std::string error_;
};

}  // namespace

LogicExpr::LogicExpr() = default;
LogicExpr::~LogicExpr() = default;
LogicExpr::LogicExpr(LogicExpr&&) noexcept = default;
LogicExpr& LogicExpr::operator=(LogicExpr&&) noexcept = default;
LogicExpr::LogicExpr(const LogicExpr& other)
    : root_(other.root_ ? std::make_unique<Node>(*other.root_) : nullptr),
      max_index_(other.max_index_) {}
LogicExpr& LogicExpr::operator=(const LogicExpr& other) {
  if (this != &other) *this = LogicExpr(other);
  return *this;
}
LogicExpr::LogicExpr(std::unique_ptr<Node> root, size_t max_index)
    : root_(std::move(root)), max_index_(max_index) {}

size_t LogicExpr::max_index() const { return max_index_; }

Result<LogicExpr> LogicExpr::Parse(std::string_view text, size_t subsig_count) {
  if (text.empty()) return Fail("empty logical expression");
  if (text.size() > kMaxTextLength)
    return Fail("logical expression longer than " + std::to_string(kMaxTextLength) + " characters");
  ExprParser parser(text, subsig_count);
  Frag frag;
  if (!parser.Run(&frag)) return Fail(parser.error());
  if (frag.need > kMaxStack) return Fail("logical expression too complex " + Quote(text));
  auto node = std::make_unique<Node>();
  node->code = std::move(frag.code);
  node->code.shrink_to_fit();
  node->stack_need = frag.need;
  return LogicExpr(std::move(node), parser.max_index());
}

bool LogicExpr::Evaluate(std::span<const uint32_t> counts) const {
  if (!root_) return false;
  // One slot per pending term, as in cli_ac_chklsig: whether it holds, the matches it
  // contributes (ClamAV's unsigned int: wraps) and the set of subsigs behind them.
  struct Slot {
    uint64_t ids;
    uint32_t cnt;
    bool value;
  };
  Slot stack[kMaxStack];
  size_t sp = 0;
  for (const Instr& in : root_->code) {
    switch (in.op) {
      case Op::kLeaf: {
        const uint32_t c = in.idx < counts.size() ? counts[in.idx] : 0;
        stack[sp++] = c ? Slot{uint64_t{1} << in.idx, c, true} : Slot{0, 0, false};
        break;
      }
      case Op::kLeafCmp: {
        // "A=0" holds and contributes A's index with a count of 0 (ClamAV).
        const uint32_t c = in.idx < counts.size() ? counts[in.idx] : 0;
        stack[sp++] = Compare(in.cmp, c, in.x) ? Slot{uint64_t{1} << in.idx, c, true} : Slot{0, 0, false};
        break;
      }
      case Op::kAnd:
      case Op::kOr: {
        const Slot b = stack[--sp];
        Slot& a = stack[sp - 1];
        // A false term carries count 0 and no ids, so summing both sides of a true
        // '|' is what ClamAV's lcnt + rcnt gives.
        const bool v = in.op == Op::kAnd ? (a.value && b.value) : (a.value || b.value);
        a = v ? Slot{a.ids | b.ids, a.cnt + b.cnt, true} : Slot{0, 0, false};
        break;
      }
      case Op::kBlockCmp: {
        Slot& a = stack[sp - 1];
        const bool v = Compare(in.cmp, a.cnt, in.x) &&
                       (in.y == 0 || static_cast<uint32_t>(std::popcount(a.ids)) >= in.y);
        // ClamAV passes the group's count upward but not its subsig ids.
        a = v ? Slot{0, a.cnt, true} : Slot{0, 0, false};
        break;
      }
    }
  }
  return sp == 1 && stack[0].value;
}

// ---------------------------------------------------------------------------
// Byte compare

namespace {

struct TextNumber {
  int64_t value = 0;
  size_t end = 0;  // characters consumed; 0 when there were no digits
  bool overflow = false;
};

// strtol over at most n characters, as ClamAV's cli_strntol: leading whitespace,
// optional sign, "0x" prefix for base 16 (not recognised after a sign, as there),
// digits until the first invalid one. No digits gives 0 with end == 0.
TextNumber ReadTextNumber(const char* s, size_t n, int base) {
  TextNumber r;
  size_t i = 0;
  while (i < n && IsSpace(s[i])) ++i;
  if (i >= n) return r;
  bool neg = false;
  bool sign = false;
  if (s[i] == '-' || s[i] == '+') {
    neg = s[i] == '-';
    sign = true;
    if (++i >= n) return r;
  }
  if (base == 16 && !sign && s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    if (i + 2 >= n) return r;
    i += 2;
  }
  const uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  const uint64_t cutoff = limit / static_cast<uint64_t>(base);
  const uint64_t cutlim = limit % static_cast<uint64_t>(base);
  uint64_t acc = 0;
  int any = 0;
  for (; i < n; ++i) {
    const char c = s[i];
    int d;
    if (IsDigit(c)) {
      d = c - '0';
    } else if (IsAlpha(c)) {
      d = (c >= 'a' ? c - 'a' : c - 'A') + 10;
    } else {
      break;
    }
    if (d >= base) break;
    if (any < 0 || acc > cutoff || (acc == cutoff && static_cast<uint64_t>(d) > cutlim)) {
      any = -1;
    } else {
      any = 1;
      acc = acc * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    }
  }
  if (any < 0) {
    r.overflow = true;
    return r;
  }
  r.value = neg ? static_cast<int64_t>(~acc + 1) : static_cast<int64_t>(acc);
  r.end = any ? i : 0;
  return r;
}

bool IsHexOrX(char c) { return IsHex(c) || c == 'x' || c == 'X'; }

// ClamAV's little-endian reordering of hex text (cli_bcomp_normalize_buffer): pad
// odd lengths with a leading '0', turn a "0x" prefix into 'x' characters, swap the
// order of the two-character groups. A non-hex character zeroes what was built so far.
std::string LittleEndianHex(const char* t, size_t len) {
  if (len == 1) return std::string(1, t[0]);
  const size_t norm = len % 2 ? len + 1 : len;
  const bool prefix = len >= 3 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
  std::string hex(norm, '0');
  if (norm != len) {
    if (prefix) {
      hex[0] = 'x';
      std::copy(t + 2, t + len, hex.begin() + 3);
    } else {
      std::copy(t, t + len, hex.begin() + 1);
    }
  } else {
    std::copy(t, t + len, hex.begin());
    if (prefix) hex[0] = 'x';
  }
  std::string out(norm, '0');
  for (size_t i = 0; i < norm; i += 2) {
    const char hi = hex[norm - i - 2];
    if (!IsHexOrX(hi)) {
      out.assign(norm, '0');
      continue;
    }
    out[i] = hi;
    const char lo = hex[norm - i - 1];
    if (IsHexOrX(lo)) {
      out[i + 1] = lo;
    } else {
      out.assign(norm, '0');
    }
  }
  return out;
}

// Value of the text form (h, d, a) at p[0..n), or nullopt when ClamAV would not
// compare (overflow, 'e' not satisfied, unsupported base/endianness combination).
std::optional<int64_t> TextValue(const ByteCompare& bc, const uint8_t* p, size_t n) {
  const char* t = reinterpret_cast<const char*>(p);
  size_t pad = 0;
  while (pad < n && IsSpace(t[pad])) ++pad;
  t += pad;
  const size_t len = n - pad;
  char base = bc.base;
  if (base == 'a') base = (len >= 3 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) ? 'h' : 'd';
  TextNumber r;
  if (base == 'd') {
    // Decimal is big-endian only; an auto field read as decimal needs 'b'.
    if (bc.little_endian || !bc.big_endian) return std::nullopt;
    r = ReadTextNumber(t, len, 10);
  } else if (base == 'h' && bc.little_endian) {
    const std::string le = LittleEndianHex(t, len);
    r = ReadTextNumber(le.data(), le.size(), 16);
  } else if (base == 'h' && bc.big_endian) {
    r = ReadTextNumber(t, len, 16);
  } else {
    return std::nullopt;
  }
  if (r.overflow) return std::nullopt;
  if (bc.exact && (r.end != len || pad != 0)) return std::nullopt;
  return r.value;
}

}  // namespace

bool EvaluateByteCompare(const ByteCompare& bc, std::span<const uint8_t> data, uint64_t match_start) {
  if (bc.num_bytes == 0 || bc.comparisons.empty()) return false;
  if (match_start > (uint64_t{1} << 62) || bc.offset > kMaxCompareShift || bc.offset < -kMaxCompareShift)
    return false;
  const int64_t pos = static_cast<int64_t>(match_start) + bc.offset;
  // ClamAV: "offset + bm->offset > 0", so a read at file offset 0 never matches.
  if (pos <= 0) return false;
  if (static_cast<uint64_t>(pos) > data.size() || data.size() - static_cast<uint64_t>(pos) < bc.num_bytes)
    return false;
  const uint8_t* p = data.data() + pos;
  int64_t value = 0;
  if (bc.base == 'i') {
    const uint32_t n = bc.num_bytes;
    if (!bc.little_endian && !bc.big_endian) return false;
    if (n != 1 && n != 2 && n != 4 && n != 8) return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; ++i) v = (v << 8) | p[bc.little_endian ? n - 1 - i : i];
    value = static_cast<int64_t>(v);
  } else if (bc.base == 'h' || bc.base == 'd' || bc.base == 'a') {
    std::optional<int64_t> v = TextValue(bc, p, bc.num_bytes);
    if (!v) return false;
    value = *v;
  } else {
    return false;
  }
  for (const ByteCompare::Comparison& c : bc.comparisons) {
    const bool ok = c.op == '<' ? value < c.value : c.op == '>' ? value > c.value : value == c.value;
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// PCRE

class PcreProgram {
 public:
  struct CodeDeleter {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
  };
  std::unique_ptr<pcre2_code, CodeDeleter> code;
  bool global = false;     // g
  bool rolling = false;    // r
  bool encompass = false;  // e
};

struct PcreScratch {
  pcre2_match_data* match_data = nullptr;
  pcre2_match_context* match_context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  PcreScratch() {
    // One ovector pair is enough: only the whole match is used (pcre2_match then
    // returns 0 for patterns with groups, which still means "matched").
    match_data = pcre2_match_data_create(1, nullptr);
    match_context = pcre2_match_context_create(nullptr);
    if (!match_context) return;
    pcre2_set_match_limit(match_context, kPcreMatchLimit);
    pcre2_set_depth_limit(match_context, kPcreDepthLimit);
    // The default JIT stack is 32 KiB on the machine stack; a private one that can
    // grow to 1 MiB avoids most interpreter fallbacks.
    jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    if (jit_stack) pcre2_jit_stack_assign(match_context, nullptr, jit_stack);
  }
  ~PcreScratch() {
    pcre2_match_data_free(match_data);
    pcre2_match_context_free(match_context);
    pcre2_jit_stack_free(jit_stack);
  }
  PcreScratch(const PcreScratch&) = delete;
  PcreScratch& operator=(const PcreScratch&) = delete;
  bool ok() const { return match_data && match_context; }
};

void PcreScratchDeleter::operator()(PcreScratch* scratch) const { delete scratch; }

PcreScratchPtr NewPcreScratch() {
  PcreScratchPtr scratch(new PcreScratch());
  if (!scratch->ok()) return nullptr;
  return scratch;
}

Result<std::shared_ptr<const PcreProgram>> CompilePcre(std::string_view regex, std::string_view flags) {
  if (regex.empty()) return Fail("PCRE pattern cannot be empty");
  auto program = std::make_shared<PcreProgram>();
  uint32_t options = PCRE2_NEVER_UTF;
  for (char c : flags) {
    switch (c) {
      case 'i': options |= PCRE2_CASELESS; break;
      case 's': options |= PCRE2_DOTALL; break;
      case 'm': options |= PCRE2_MULTILINE; break;
      case 'x': options |= PCRE2_EXTENDED; break;
      case 'A': options |= PCRE2_ANCHORED; break;
      case 'E': options |= PCRE2_DOLLAR_ENDONLY; break;
      case 'U': options |= PCRE2_UNGREEDY; break;
      case 'g': program->global = true; break;
      case 'r': program->rolling = true; break;
      case 'e': program->encompass = true; break;
      default:
        return Fail("unknown/extra pcre option " + Quote(std::string_view(&c, 1)));
    }
  }
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  program->code.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(), options,
                                    &error_code, &error_offset, nullptr));
  if (!program->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return Fail("PCRE2 compilation failed at offset " + std::to_string(error_offset) + ": " +
                reinterpret_cast<const char*>(message));
  }
  // Best effort: without JIT support pcre2_match interprets.
  (void)pcre2_jit_compile(program->code.get(), PCRE2_JIT_COMPLETE);
  return std::shared_ptr<const PcreProgram>(std::move(program));
}

uint32_t RunPcre(const PcreSubsig& pcre, const SigOffset& offset, const ExeInfo* exe,
                 std::span<const uint8_t> data, PcreScratch* scratch) {
  const PcreProgram* program = pcre.program.get();
  if (!program || !program->code) return 0;
  if (data.size() > kPcreMaxDataSize) return 0;  // ClamAV PCREMaxFileSize
  PcreScratchPtr local;
  if (!scratch || !scratch->ok()) {
    local = NewPcreScratch();
    if (!local) return 0;
    scratch = local.get();
  }
  const uint64_t size = data.size();
  uint64_t start = 0;
  uint64_t shift = 0;
  bool anchored = false;
  if (!offset.anywhere()) {
    std::optional<OffsetWindow> window = ResolveOffset(offset, size, exe);
    if (!window) return 0;
    start = window->first;
    shift = window->last - window->first;
    anchored = !program->rolling && shift == 0;
  }
  if (start >= size) return 0;  // ClamAV skips a start at or past the end
  uint64_t length = size - start;
  if (program->encompass && shift != 0) length = std::min(shift, length);

  const PCRE2_SPTR subject = data.data() + start;
  const uint32_t options = anchored ? PCRE2_ANCHORED : 0;
  pcre2_match_data* md = scratch->match_data;
  pcre2_match_context* mc = scratch->match_context;
  uint32_t count = 0;
  PCRE2_SIZE pos = 0;
  while (true) {
    int rc = pcre2_match(program->code.get(), subject, length, pos, options, md, mc);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(program->code.get(), subject, length, pos, options | PCRE2_NO_JIT, md, mc);
    if (rc < 0) break;  // no match, or a budget (match/depth/heap limit) was hit
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (!program->encompass && shift != 0 && ov[0] > shift) break;  // started past maxshift
    ++count;
    if (!program->global || count == std::numeric_limits<uint32_t>::max()) break;
    // ClamAV resumes at the end of the match and would spin on an empty match;
    // step over it instead.
    PCRE2_SIZE next = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    pos = std::max(next, pos + 1);
    if (pos >= length) break;
  }
  return count;
}

// ---------------------------------------------------------------------------
// Line parsing

namespace {

std::optional<TargetType> TargetFromNumber(uint64_t n) {
  switch (n) {
    case 0: return TargetType::kAny;
    case 1: return TargetType::kPE;
    case 2: return TargetType::kOLE2;
    case 3: return TargetType::kHTML;
    case 4: return TargetType::kMail;
    case 5: return TargetType::kGraphics;
    case 6: return TargetType::kELF;
    case 7: return TargetType::kText;
    case 9: return TargetType::kMachO;
    case 10: return TargetType::kPDF;
    case 11: return TargetType::kFlash;
    case 12: return TargetType::kJava;
  }
  return std::nullopt;
}

// "X-Y", or a lone "X" meaning X-X.
bool ParseRange(std::string_view s, Range* out) {
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    if (!ParseDecimal(s, &out->min)) return false;
    out->max = out->min;
    return true;
  }
  return ParseDecimal(s.substr(0, dash), &out->min) && ParseDecimal(s.substr(dash + 1), &out->max);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// Splits on `sep` except between unescaped '/' pairs, like ClamAV's cli_ldbtokenize:
// a '/' not preceded by '\' toggles "inside a regex" in fields >= `skip`.
std::vector<std::string_view> SplitOutsideRegex(std::string_view s, char sep, size_t skip) {
  std::vector<std::string_view> out;
  bool in_regex = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!in_regex && s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    } else if (s[i] == '/' && out.size() >= skip && (i == 0 || s[i - 1] != '\\')) {
      in_regex = !in_regex;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

Status ParseTdb(std::string_view text, TargetDescription* tdb) {
  if (text.empty()) return Status::Error("empty target description block");
  bool new_attributes = false;  // anything but Target/Engine
  const std::vector<std::string_view> attrs = Split(text, ',');
  for (size_t i = 0; i < attrs.size(); ++i) {
    const std::string_view attr = attrs[i];
    const size_t colon = attr.find(':');
    if (colon == std::string_view::npos)
      return Status::Error("incorrect format of attribute " + Quote(attr) + " (expected Key:Value)");
    const std::string_view key = attr.substr(0, colon);
    const std::string_view value = attr.substr(colon + 1);
    auto bad_value = [&] { return Status::Error("invalid argument for " + std::string(key) + ": " + Quote(value)); };
    if (key == "Engine") {
      if (i != 0) return Status::Error("the Engine attribute must be on the first position");
      Range r;
      if (!ParseRange(value, &r)) return bad_value();
      tdb->engine = r;
      continue;
    }
    if (key == "Target") {
      uint64_t n = 0;
      if (!ParseDecimal(value, &n)) return bad_value();
      std::optional<TargetType> t = TargetFromNumber(n);
      if (!t) return Status::Error("unsupported target type " + std::string(value));
      tdb->target = t;
      continue;
    }
    static constexpr std::string_view kKnown[] = {"FileSize", "EntryPoint", "NumberOfSections", "Container",
                                                  "Intermediates", "HandlerType", "IconGroup1", "IconGroup2"};
    if (std::find(std::begin(kKnown), std::end(kKnown), key) != std::end(kKnown)) new_attributes = true;
    if (key == "FileSize" || key == "EntryPoint" || key == "NumberOfSections") {
      Range r;
      if (!ParseRange(value, &r)) return bad_value();
      (key == "FileSize" ? tdb->file_size : key == "EntryPoint" ? tdb->entry_point : tdb->number_of_sections) = r;
    } else if (key == "Container" || key == "HandlerType") {
      // Given twice, the last one counts (clamscan 1.4.6).
      if (!IsClTypeName(value)) return Status::Error("unknown file type " + Quote(value) + " in " + std::string(key));
      (key == "Container" ? tdb->container : tdb->handler_type) = std::string(value);
    } else if (key == "Intermediates") {
      // clamscan reads the first 16 names and ignores the rest, unknown names included.
      std::vector<std::string_view> types = Split(value, '>');
      if (types.size() > kMaxIntermediates) types.resize(kMaxIntermediates);
      tdb->intermediates.clear();
      for (std::string_view t : types) {
        if (!IsClTypeName(t)) return Status::Error("unknown file type " + Quote(t) + " in Intermediates");
        tdb->intermediates.emplace_back(t);
      }
    } else if (key == "IconGroup1" || key == "IconGroup2") {
      tdb->icon_group = true;
    } else {
      // clamscan 1.4.6 loads a signature with an attribute it does not know, and that
      // signature then never matches (differential family reject_ldb); so do we.
      tdb->unknown_attribute = true;
    }
  }
  if (new_attributes && (!tdb->engine || tdb->engine->min < 51))
    return Status::Error("signatures using attributes other than Target must have Engine with a minimum level of at least 51");
  if (!tdb->target) return Status::Error("no Target specified");
  if (tdb->icon_group && *tdb->target != TargetType::kPE)
    return Status::Error("IconGroup is only supported in PE (Target:1) signatures");
  if ((tdb->entry_point || tdb->number_of_sections) && *tdb->target != TargetType::kPE &&
      *tdb->target != TargetType::kELF && *tdb->target != TargetType::kMachO)
    return Status::Error("EntryPoint/NumberOfSections is only supported in PE/ELF/Mach-O signatures");
  return Status::Ok();
}

// ${min-max}group$
Status ParseMacro(std::string_view f, size_t index, LdbSubsig* out) {
  if (f.size() < 2 || f.back() != '$') return Status::Error("macro subsignature is missing the '$' terminator");
  std::string_view body = f.substr(1, f.size() - 2);
  const size_t close = body.find('}');
  const size_t dash = body.find('-');
  auto bad = [&] { return Status::Error("invalid macro subsignature format " + Quote(f) + " (expected ${min-max}group$)"); };
  if (body.empty() || body[0] != '{' || close == std::string_view::npos || dash == std::string_view::npos ||
      dash > close)
    return bad();
  if (!ParseDecimal32(body.substr(1, dash - 1), &out->macro.min) ||
      !ParseDecimal32(body.substr(dash + 1, close - dash - 1), &out->macro.max) ||
      !ParseDecimal32(body.substr(close + 1), &out->macro.group))
    return bad();
  if (out->macro.group >= kMaxMacroGroups)
    return Status::Error("only " + std::to_string(kMaxMacroGroups) + " macro groups are supported");
  if (index == 0) return Status::Error("a macro subsignature cannot be the first subsignature");
  out->kind = LdbSubsig::Kind::kMacro;
  out->pattern = std::string(f);
  return Status::Ok();
}

// [Offset:]Trigger/regex/[flags]
Status ParsePcreSubsig(std::string_view f, size_t index, size_t count, LdbSubsig* out) {
  const std::vector<std::string_view> parts = SplitOutsideRegex(f, ':', 0);
  std::string_view sig = f;
  if (parts.size() == 2) {
    Result<SigOffset> off = ParseOffset(parts[0]);
    if (!off) return Status::Error(off.error());
    out->offset = *off;
    sig = parts[1];
  } else if (parts.size() > 2) {
    return Status::Error("':' outside the regex of a PCRE subsignature (modifiers '::' are not supported on PCREs)");
  }
  const size_t first = sig.find('/');
  const size_t last = sig.rfind('/');
  if (first == last) return Status::Error("PCRE subsignature has mismatched '/' delimiter");
  const std::string_view trigger = sig.substr(0, first);
  if (trigger.empty()) return Status::Error("PCRE subsignature must contain a logical trigger");
  PcreSubsig& pcre = *out->pcre;
  pcre.trigger = std::string(trigger);
  pcre.regex = std::string(sig.substr(first + 1, last - first - 1));
  pcre.flags = std::string(sig.substr(last + 1));
  Result<LogicExpr> expr = LogicExpr::Parse(trigger, count);
  if (!expr) return Status::Error("PCRE trigger: " + expr.error());
  const size_t highest = expr->max_index() - 1;
  if (highest > index)
    return Status::Error("PCRE logical trigger refers to subsequent subsignature " + std::to_string(highest));
  if (highest == index) return Status::Error("PCRE logical trigger is self-referential");
  pcre.trigger_expr = std::move(*expr);
  if (pcre.regex.empty()) return Status::Error("PCRE pattern cannot be empty");
  Result<std::shared_ptr<const PcreProgram>> program = CompilePcre(pcre.regex, pcre.flags);
  if (!program) return Status::Error(program.error());
  pcre.program = std::move(*program);
  out->kind = LdbSubsig::Kind::kPcre;
  return Status::Ok();
}

// N(>>off#[h|d|a|i][l|b][e]num_bytes#cmp[,cmp])
Status ParseByteCompare(std::string_view f, size_t index, size_t count, LdbSubsig* out) {
  ByteCompare& bc = *out->byte_compare;
  size_t p = 0;
  while (p < f.size() && IsDigit(f[p])) ++p;
  if (p == 0 || p >= f.size() || f[p] != '(')
    return Status::Error("byte compare reference subsignature id is invalid or not decimal");
  if (!ParseDecimal32(f.substr(0, p), &bc.subsig) || bc.subsig >= count)
    return Status::Error("byte compare refers to subsignature " + std::string(f.substr(0, p)) + " of " +
                         std::to_string(count));
  if (bc.subsig == index) return Status::Error("byte compare refers to itself");
  const size_t close = f.find(')', p);
  if (close == std::string_view::npos) return Status::Error("byte compare ending paren not found");
  if (close + 1 != f.size()) return Status::Error("unexpected text after byte compare ')'");
  const std::vector<std::string_view> params = Split(f.substr(p + 1, close - p - 1), '#');
  if (params.size() != 3)
    return Status::Error("byte compare has " + std::to_string(params.size()) + " parameters, 3 expected");

  const std::string_view shift = params[0];
  if (shift.empty() || shift == "0") {
    bc.offset = 0;
  } else if (shift.starts_with(">>") || shift.starts_with("<<")) {
    int64_t v = 0;
    if (!ParseCNumber(shift.substr(2), false, &v) || v > kMaxCompareShift)
      return Status::Error("byte compare offset " + Quote(shift) + " is invalid");
    bc.offset = shift[0] == '<' ? -v : v;
  } else {
    return Status::Error("byte compare shift operator " + Quote(shift) + " is not valid (>> or <<)");
  }

  const std::string_view opts = params[1];
  size_t i = 0;
  bc.base = 0;
  for (; i < opts.size() && !IsDigit(opts[i]); ++i) {
    const char c = opts[i];
    bool ok = true;
    switch (c) {
      case 'h': case 'i': case 'a':
        ok = bc.base == 0 || bc.base == c;
        bc.base = c;
        break;
      case 'd':  // decimal is big-endian only
        ok = (bc.base == 0 || bc.base == c) && !bc.little_endian;
        bc.base = c;
        bc.big_endian = true;
        break;
      case 'l':
        ok = !bc.big_endian;
        bc.little_endian = true;
        break;
      case 'b':
        ok = !bc.little_endian;
        bc.big_endian = true;
        break;
      case 'e':
        bc.exact = true;
        break;
      default:
        ok = false;
    }
    if (!ok) return Status::Error("byte compare option " + Quote(opts) + " is invalid");
  }
  int64_t len = 0;
  if (!ParseCNumber(opts.substr(i), false, &len) || len <= 0 || len > std::numeric_limits<uint32_t>::max())
    return Status::Error("byte compare length in " + Quote(opts) + " is invalid");
  bc.num_bytes = static_cast<uint32_t>(len);
  if (bc.base == 'i' && len != 1 && len != 2 && len != 4 && len != 8)
    return Status::Error("byte compare raw integer length must be 1, 2, 4 or 8");
  if (bc.base == 'h' && len > kMaxHexCompareLen)
    return Status::Error("byte compare hex length is longer than " + std::to_string(kMaxHexCompareLen));

  const std::vector<std::string_view> cmps = Split(params[2], ',');
  if (cmps.size() > 2) return Status::Error("too many commas in byte compare comparisons");
  for (std::string_view c : cmps) {
    ByteCompare::Comparison comparison{};
    if (c.empty() || !IsCmp(c[0]))
      return Status::Error("byte comparison symbol in " + Quote(c) + " is invalid (>, <, = are supported)");
    comparison.op = c[0];
    if (!ParseCNumber(c.substr(1), true, &comparison.value))
      return Status::Error("byte comparison value in " + Quote(c) + " is invalid");
    bc.comparisons.push_back(comparison);
  }
  out->kind = LdbSubsig::Kind::kByteCompare;
  return Status::Ok();
}

// fuzzy_img#<16 hex>[#distance]
Status ParseFuzzyImage(std::string_view f, LdbSubsig* out) {
  const std::vector<std::string_view> parts = Split(f, '#');
  if (parts.size() < 2 || parts.size() > 3 || parts[1].size() != 16 ||
      !std::all_of(parts[1].begin(), parts[1].end(), IsHex))
    return Status::Error("image fuzzy hash must be fuzzy_img#<16 hex digits>[#distance]");
  if (parts.size() == 3) {
    uint64_t distance = 0;
    if (!ParseDecimal(parts[2], &distance)) return Status::Error("invalid image fuzzy hash distance");
    if (distance != 0) return Status::Error("image fuzzy hash distances other than 0 are not supported");
  }
  out->kind = LdbSubsig::Kind::kFuzzyImage;
  out->pattern = std::string(parts[1]);
  return Status::Ok();
}

// [Offset:]HexPattern[::modifiers]
Status ParseBodySubsig(std::string_view f, LdbSubsig* out) {
  const std::vector<std::string_view> parts = Split(f, ':');
  std::string_view offset_text;
  std::string_view pattern;
  std::string_view mods;
  switch (parts.size()) {
    case 1: pattern = parts[0]; break;
    case 2: offset_text = parts[0]; pattern = parts[1]; break;
    case 3:
      if (!parts[1].empty()) return Status::Error("unexpected ':' (modifiers follow '::')");
      pattern = parts[0];
      mods = parts[2];
      break;
    case 4:
      if (!parts[2].empty()) return Status::Error("unexpected ':' (modifiers follow '::')");
      offset_text = parts[0];
      pattern = parts[1];
      mods = parts[3];
      break;
    default:
      return Status::Error("too many ':' in subsignature");
  }
  if (parts.size() % 2 == 0) {
    Result<SigOffset> off = ParseOffset(offset_text);
    if (!off) return Status::Error(off.error());
    out->offset = *off;
  }
  if (pattern.empty()) return Status::Error("empty hex pattern");
  for (char c : mods) {
    switch (c) {
      case 'i': out->nocase = true; break;
      case 'w': out->wide = true; break;
      case 'a': out->ascii = true; break;
      case 'f': out->fullword = true; break;
      default:
        return Status::Error("invalid subsignature modifier " + Quote(std::string_view(&c, 1)));
    }
  }
  out->kind = LdbSubsig::Kind::kBody;
  out->pattern = std::string(pattern);
  return Status::Ok();
}

// The subsignature kind is chosen as readdb_parse_ldb_subsignature does: '$' first
// = macro, any '/' = PCRE, '(' with two '#' = byte compare, "fuzzy_img#" = image
// hash, otherwise a body pattern.
Status ParseSubsig(std::string_view f, size_t index, size_t count, LdbSubsig* out) {
  if (f[0] == '$') return ParseMacro(f, index, out);
  if (f.find('/') != std::string_view::npos) return ParsePcreSubsig(f, index, count, out);
  if (f.find('(') != std::string_view::npos && f.find('#') != f.rfind('#'))
    return ParseByteCompare(f, index, count, out);
  if (f.starts_with("fuzzy_img#")) return ParseFuzzyImage(f, out);
  return ParseBodySubsig(f, out);
}

}  // namespace

Result<LdbSignature> ParseLdbLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty()) return Fail("empty line");
  const std::vector<std::string_view> fields = SplitOutsideRegex(line, ';', 2);
  if (fields.size() < 4)
    return Fail("invalid ldb signature format (expected Name;TargetDescriptionBlock;LogicalExpression;Subsig0[;Subsig1...])");
  LdbSignature sig;
  if (fields[0].empty()) return Fail("empty signature name");
  sig.name = std::string(fields[0]);
  auto fail = [&](const std::string& what) { return Fail(sig.name + ": " + what); };

  const size_t count = fields.size() - 3;
  if (count > kMaxLdbSubsigs)
    return fail("too many subsignatures (" + std::to_string(count) + ", at most " + std::to_string(kMaxLdbSubsigs) + ")");
  for (size_t i = 0; i < count; ++i) {
    if (!fields[3 + i].empty()) continue;
    if (i + 1 == count) return fail("trailing ';' (empty subsignature " + std::to_string(i) + ")");
    return fail("empty subsignature " + std::to_string(i));
  }

  // ClamAV order: logic, subsignature count, target description, subsignatures.
  if (fields[2].empty()) return fail("empty logical expression");
  sig.expression_text = std::string(fields[2]);
  Result<LogicExpr> expr = LogicExpr::Parse(fields[2], count);
  if (!expr) return fail("logical expression: " + expr.error());
  if (expr->max_index() != count)
    return fail("the number of subsignatures (" + std::to_string(count) +
                ") doesn't match the IDs in the logical expression (highest " +
                std::to_string(expr->max_index() - 1) + ")");
  sig.expression = std::move(*expr);

  if (Status s = ParseTdb(fields[1], &sig.tdb); !s.ok()) return fail("target description block: " + s.message());

  sig.subsigs.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (Status s = ParseSubsig(fields[3 + i], i, count, &sig.subsigs[i]); !s.ok())
      return fail("subsignature " + std::to_string(i) + " " + Quote(fields[3 + i]) + ": " + s.message());
  }
  // The manual: a byte compare may refer to any single non-PCRE, non-byte-compare
  // subsignature (ClamAV runs byte compares before PCREs and never chains them).
  for (size_t i = 0; i < count; ++i) {
    if (sig.subsigs[i].kind != LdbSubsig::Kind::kByteCompare) continue;
    const LdbSubsig::Kind ref = sig.subsigs[sig.subsigs[i].byte_compare->subsig].kind;
    if (ref == LdbSubsig::Kind::kPcre || ref == LdbSubsig::Kind::kByteCompare)
      return fail("subsignature " + std::to_string(i) +
                  ": byte compare must refer to a subsignature that is neither PCRE nor byte compare");
  }
  return sig;
}

std::optional<Range> LdbEngineRange(std::string_view line) {
  const size_t first = line.find(';');
  if (first == std::string_view::npos) return std::nullopt;
  std::string_view tdb = line.substr(first + 1);
  tdb = tdb.substr(0, tdb.find(';'));
  tdb = tdb.substr(0, tdb.find(','));
  if (!tdb.starts_with("Engine:")) return std::nullopt;
  Range r;
  if (!ParseRange(tdb.substr(7), &r)) return std::nullopt;
  return r;
}

// The names clamscan 1.4.6 accepts (its libclamav type table; an unknown name makes it
// skip the signature). Matching is exact: "cl_type_zip" is unknown.
bool IsClTypeName(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "7Z", "7ZSFX", "ALZ", "ANY", "APM", "ARJ", "ARJSFX", "AUTOIT", "BINARY_DATA", "BINHEX", "BZ", "CABSFX",
      "CPIO_CRC", "CPIO_NEWC", "CPIO_ODC", "CPIO_OLD", "CRYPTFF", "DMG", "EGG", "EGGSFX", "ELF", "GIF", "GPT",
      "GRAPHICS", "GZ", "HTML", "HTML_UTF16", "HWP3", "HWPOLE2", "IGNORED", "INTERNAL", "ISHIELD_MSI", "ISO9660",
      "JAVA", "JPEG", "LHA_LZH", "LNK", "MACHO", "MACHO_UNIBIN", "MAIL", "MBR", "MHTML", "MSCAB", "MSCHM", "MSEXE",
      "MSOLE2", "MSSZDD", "NULSFT", "OLD_TAR", "ONENOTE", "OOXML_HWP", "OOXML_PPT", "OOXML_WORD", "OOXML_XL",
      "PART_ANY", "PART_HFSPLUS", "PDF", "PNG", "POSIX_TAR", "PS", "PYTHON_COMPILED", "RAR", "RARSFX", "RIFF", "RTF",
      "SCRENC", "SCRIPT", "SFX", "SIS", "SWF", "TEXT_ASCII", "TEXT_UTF16BE", "TEXT_UTF16LE", "TEXT_UTF8", "TIFF",
      "TNEF", "UDF", "UUENCODED", "XAR", "XDP", "XML_HWP", "XML_WORD", "XML_XL", "XZ", "ZIP", "ZIPSFX"};
  constexpr std::string_view kPrefix = "CL_TYPE_";
  if (!name.starts_with(kPrefix)) return false;
  name.remove_prefix(kPrefix.size());
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool ContainersMatch(const TargetDescription& t, std::span<const LayerType> ancestors, bool normalized_layer) {
  constexpr std::string_view kAny = "CL_TYPE_ANY";
  // The next container up from index `i` (exclusive) that is not a normalised layer.
  auto next_real = [&](size_t* i) {
    while (*i > 0) {
      if (!ancestors[--*i].normalized) return true;
    }
    return false;
  };
  if (t.container) {
    size_t i = ancestors.size();
    const std::string_view parent = next_real(&i) ? ancestors[i].type : kAny;
    if (parent != *t.container) return false;
  }
  if (!t.intermediates.empty()) {
    if (ancestors.size() + (normalized_layer ? 1 : 0) < t.intermediates.size()) return false;
    size_t i = ancestors.size();
    for (auto token = t.intermediates.rbegin(); token != t.intermediates.rend(); ++token) {
      if (*token == kAny) continue;
      if (!next_real(&i) || ancestors[i].type != *token) return false;
    }
  }
  return true;
}

}  // namespace avkey::engine
