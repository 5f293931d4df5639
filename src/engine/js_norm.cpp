// JavaScript normalisation as clamscan 1.4.6 does it (see js_norm.h and docs/html.md).
//
// The structure follows libclamav's js-norm.c closely, because its output depends on the
// order things happen in: the tokenizer works piece by piece and keeps its state between
// pieces, names are renamed by a small state machine per function scope, "a"+"b" is folded
// while tokenizing, unescape() is folded before the decoders run, and each decoder's output
// is tokenized again in whatever scope the decoder loop has reached. Every rule here was
// checked against the javascript files clamscan wrote (tests/data/html/js_cases.txt).
#include "engine/js_norm.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace avkey::engine {

namespace {

// Byte classes of the tokenizer's first byte (libclamav's ctype[]).
enum Cls : uint8_t { kWs, kSlash, kOp, kDq, kSq, kDigit, kId, kBrO, kBrC, kCm, kCuO, kCuC, kPaO, kPaC, kDt, kSc, kNa };

constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (auto& c : t) c = kNa;
  t['\t'] = t['\n'] = t['\v'] = t['\r'] = t[' '] = kWs;  // not '\f': it is skipped as "nothing"
  for (char c : std::string_view("!%&*+-:<=>?^|~")) t[static_cast<uint8_t>(c)] = kOp;
  t['"'] = kDq;
  t['\''] = kSq;
  t['/'] = kSlash;
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = kId;
  t['$'] = t['_'] = t['\\'] = kId;
  t['['] = kBrO;
  t[']'] = kBrC;
  t[','] = kCm;
  t['{'] = kCuO;
  t['}'] = kCuC;
  t['('] = kPaO;
  t[')'] = kPaC;
  t['.'] = kDt;
  t[';'] = kSc;
  return t;
}();

// Bytes that continue a name: letters, digits, '$', '_' (and '\\', handled apart).
constexpr bool IsIdChar(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '$' || c == '_';
}
constexpr bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }
constexpr bool IsAlnum(uint8_t c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool IsSpace(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
constexpr int Hex(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
constexpr bool IsXDigit(uint8_t c) { return Hex(c) >= 0; }
constexpr int HexOr0(uint8_t c) { return Hex(c) < 0 ? 0 : Hex(c); }

// UTF-8 of a UTF-16 unit as libclamav writes it (U+0000 becomes 0x01: strings hold no NUL).
void PutUtf8(uint16_t u, std::string* out) {
  if (u == 0) {
    out->push_back('\x01');
  } else if (u < 0x80) {
    out->push_back(static_cast<char>(u));
  } else if (u < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (u >> 6)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xe0 | (u >> 12)));
    out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3f)));
  }
}

struct Word {
  std::string_view text;
  uint8_t kind;  // 0 other, 1 var, 2 function
};
// Reserved words (libclamav's keywords.list, future_reserved_words.list and null/true/false).
constexpr std::array<std::string_view, 59> kKeywords = {
    "abstract", "boolean",   "break",    "byte",       "case",       "catch",     "char",         "class",
    "const",    "continue",  "debugger", "default",    "delete",     "do",        "double",       "else",
    "enum",     "export",    "extends",  "false",      "final",      "finally",   "float",        "for",
    "function", "goto",      "if",       "implements", "import",     "in",        "instanceof",   "int",
    "interface", "long",     "native",   "new",        "null",       "package",   "private",      "protected",
    "public",   "return",    "short",    "static",     "super",      "switch",    "synchronized", "this",
    "throw",    "throws",    "transient", "true",      "try",        "typeof",    "var",          "void",
    "volatile", "while",     "with"};
// Operators, matched longest first (up to 4 bytes).
constexpr std::array<std::string_view, 39> kOperators = {
    "=",  "+",  "===", ">>>", "!==", "<<", "<=", "==", ">=", ">>", "||", "--", "!=", "&&",
    "++", "*=", "/=",  "%=",  "+=",  "-=", "<<=", ">>=", ">>>=", "&=", "^=", "|=", "&", ":",
    "/",  "!",  ">",   "<",   "-",   "*",  "|",  "%",  "?",  "~",  "^"};

const char* FindKeyword(std::string_view w) {
  for (std::string_view k : kKeywords)
    if (k == w) return k.data();
  return nullptr;
}
const char* FindOperator(const uint8_t* p, size_t len) {
  const std::string_view w(reinterpret_cast<const char*>(p), len);
  for (std::string_view k : kOperators)
    if (k == w) return k.data();
  return nullptr;
}

// glibc atoi(): strtol saturating at LONG_MAX, then cut to int.
long Atoi(const std::string& s) {
  unsigned long long v = 0;
  bool sat = false;
  for (char ch : s) {
    if (!IsDigit(static_cast<uint8_t>(ch))) break;
    if (!sat) {
      v = v * 10 + static_cast<unsigned>(ch - '0');
      if (v > static_cast<unsigned long long>(INT64_MAX)) sat = true;
    }
  }
  if (sat) v = static_cast<unsigned long long>(INT64_MAX);
  return static_cast<long>(static_cast<int32_t>(static_cast<uint32_t>(v)));
}

uint32_t HashName(int32_t scope, std::string_view name) {
  uint32_t h = 2166136261u ^ (static_cast<uint32_t>(scope) * 0x9E3779B1u);
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

constexpr size_t kFlushSize = 65536;  // libclamav's output buffer

}  // namespace

// ---------------------------------------------------------------- blocks

void JsNormalizer::Reset() {
  out_.clear();
  decoded_bytes_ = 0;  // per file: many small blocks must not each expand a packer to the limit
  truncated_ = false;
  active_ = false;
}

void JsNormalizer::Begin() {
  active_ = true;
  stopped_ = false;
  tokens_.clear();
  scopes_.clear();
  entries_.clear();
  names_.clear();
  if (++gen_ == 0) {  // wrapped: clear the index once every 2^32 blocks
    for (Slot& s : slots_) s.gen = 0;
    gen_ = 1;
  }
  strings_used_ = 0;
  next_id_ = 0;
  decodes_ = 0;
  lookup_steps_ = decode_work_ = 0;
  current_ = -1;
  NewScope();
  state_ = Lex::kInitial;
  lexbuf_.clear();
  in_ = nullptr;
  insize_ = pos_ = 0;
}

void JsNormalizer::Feed(std::span<const uint8_t> piece) {
  if (!active_ || stopped_) return;
  Parse(piece.data(), piece.size());
}

void JsNormalizer::End() {
  if (!active_) return;
  active_ = false;
  if (!stopped_) {
    // An unfinished string is closed, then every unclosed '(' (so the decoders see calls).
    if (state_ == Lex::kDq) Parse(reinterpret_cast<const uint8_t*>("\""), 1);
    else if (state_ == Lex::kSq) Parse(reinterpret_cast<const uint8_t*>("'"), 1);
    size_t balance = 0;
    for (const Token& t : tokens_) {
      if (t.type == Tok::kParOpen) ++balance;
      else if (t.type == Tok::kParClose && balance > 0) --balance;
    }
    Token close;
    close.type = Tok::kParClose;
    close.vt = Val::kStatic;
    close.v.s = ")";
    while (balance-- > 0) AddToken(close);
    RunFolders();
    RunDecoders();
  }
  Write();
}

void JsNormalizer::Trim(size_t keep) {
  auto trim = [keep](auto* v, size_t elem) {
    if (v->capacity() * elem > keep) {
      v->clear();
      v->shrink_to_fit();
    }
  };
  trim(&out_, 1);
  trim(&tokens_, sizeof(Token));
  trim(&nested_, sizeof(Token));
  trim(&scopes_, sizeof(Scope));
  trim(&entries_, sizeof(Entry));
  trim(&names_, 1);
  trim(&split_, sizeof(std::string_view));
  if (slots_.capacity() * sizeof(Slot) > keep) {
    slots_.clear();
    slots_.shrink_to_fit();
  }
  if (strings_.size() * sizeof(std::string) > keep) {
    strings_.clear();
    strings_.shrink_to_fit();
  }
  for (std::string& s : strings_)
    if (s.capacity() > keep) std::string().swap(s);
  for (std::string* s : {&decode_text_, &scratch_, &scratch2_, &lexbuf_})
    if (s->capacity() > keep) std::string().swap(*s);
}

// ---------------------------------------------------------------- tokenizer

bool JsNormalizer::NextToken(Token* t) {
  // libclamav's guard against a token that consumes nothing: skip a byte.
  if (pos_ == lastpos_ && last_state_ == state_) ++pos_;
  lastpos_ = pos_;
  last_state_ = state_;
  *t = Token{};
  auto special = [t](Tok type, const char* s) {
    t->type = type;
    t->vt = Val::kStatic;
    t->v.s = s;
    return true;
  };
  while (pos_ < insize_) {
    switch (state_) {
      case Lex::kInitial: {
        lexbuf_.clear();
        const uint8_t cls = kClass[in_[pos_++]];
        switch (cls) {
          case kWs:
          case kNa:
            continue;
          case kSlash:
            if (pos_ < insize_) {
              if (in_[pos_] == '*') {
                state_ = Lex::kMultiline;
                ++pos_;
                continue;
              }
              if (in_[pos_] == '/') {
                state_ = Lex::kSingleline;
                ++pos_;
                continue;
              }
            }
            --pos_;
            return ParseOperator(t);
          case kOp:
            --pos_;
            return ParseOperator(t);
          case kDq:
            return ParseString(t, '"', Lex::kDq);
          case kSq:
            return ParseString(t, '\'', Lex::kSq);
          case kDigit:
            --pos_;
            return ParseNumber(t);
          case kId:
            --pos_;
            return ParseIdentifier(t);
          case kBrO: return special(Tok::kBracketOpen, "[");
          case kBrC: return special(Tok::kBracketClose, "]");
          case kCm: return special(Tok::kComma, ",");
          case kCuO: return special(Tok::kCurlyOpen, "{");
          case kCuC: return special(Tok::kCurlyClose, "}");
          case kPaO: return special(Tok::kParOpen, "(");
          case kPaC: return special(Tok::kParClose, ")");
          case kDt: return special(Tok::kDot, ".");
          case kSc: return special(Tok::kSemicolon, ";");
        }
        break;
      }
      case Lex::kDq: return ParseString(t, '"', Lex::kDq);
      case Lex::kSq: return ParseString(t, '\'', Lex::kSq);
      case Lex::kIdentifier: return ParseIdentifier(t);
      case Lex::kNumber: return ParseNumber(t);
      case Lex::kMultiline:
        // "*/" split between two pieces is not seen: the comment goes on.
        while (pos_ + 1 < insize_) {
          if (in_[pos_] == '*' && in_[pos_ + 1] == '/') {
            state_ = Lex::kInitial;
            ++pos_;
            break;
          }
          ++pos_;
        }
        ++pos_;
        break;
      case Lex::kSingleline:
        // Ends at the first space, not at the end of the line: the HTML normaliser turned
        // every LF into a space, and libclamav stops at either [observed, js "line comment"].
        while (pos_ < insize_ && in_[pos_] != '\n' && in_[pos_] != ' ') ++pos_;
        state_ = Lex::kInitial;
        break;
      case Lex::kDummy:
        state_ = Lex::kInitial;
        break;
    }
  }
  return false;
}

bool JsNormalizer::ParseString(Token* t, uint8_t quote, Lex continue_state) {
  const uint8_t* start = in_ + pos_;
  const uint8_t* lim = in_ + insize_;
  const uint8_t* end = start;
  for (;;) {
    end = end < lim ? static_cast<const uint8_t*>(std::memchr(end, quote, static_cast<size_t>(lim - end))) : nullptr;
    if (end && end > start && end[-1] == '\\') {  // (so "\\" before the quote escapes it too)
      ++end;
      continue;
    }
    break;
  }
  const size_t len = end ? static_cast<size_t>(end - start) : insize_ - pos_;
  AppendUnescaped(start, len);
  if (!end) {
    pos_ += len;
    state_ = continue_state;  // goes on in the next piece
    return false;
  }
  pos_ += len + 1;
  const int32_t s = NewString();
  strings_[s] = lexbuf_;
  lexbuf_.clear();
  t->type = Tok::kString;
  t->vt = Val::kString;
  t->v.str = s;
  state_ = Lex::kInitial;
  return true;
}

// JavaScript escapes inside a string, decoded per piece (an escape cut by a piece boundary
// is decoded wrongly, as in libclamav). NUL becomes 0x01.
void JsNormalizer::AppendUnescaped(const uint8_t* s, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    int c = s[i];
    if (c == '\\' && i + 1 < len) {
      ++i;
      switch (s[i]) {
        case '0': c = 0; break;
        case 'b': c = 8; break;
        case 't': c = 9; break;
        case 'n': c = 10; break;
        case 'v': c = 11; break;
        case 'f': c = 12; break;
        case 'r': c = 13; break;
        case 'x':
          // A bad second digit makes the whole value -1 (0xFF); too short: the backslash stays.
          if (i + 2 < len) c = (HexOr0(s[i + 1]) << 4) | Hex(s[i + 2]);
          i += 2;
          break;
        case 'u':
          if (i + 4 < len) {
            const int u = (HexOr0(s[i + 1]) << 12) | (HexOr0(s[i + 2]) << 8) | (HexOr0(s[i + 3]) << 4) | Hex(s[i + 4]);
            PutUtf8(static_cast<uint16_t>(u), &lexbuf_);
            i += 4;
            continue;
          }
          break;  // the backslash is written, the 'u' is dropped
        default: c = s[i]; break;
      }
    }
    uint8_t b = static_cast<uint8_t>(c);
    if (b == 0) b = 1;
    lexbuf_.push_back(static_cast<char>(b));
  }
}

bool JsNormalizer::ParseNumber(Token* t) {
  bool is_float = false;  // (not kept between pieces, as in libclamav)
  while (pos_ < insize_) {
    uint8_t c = in_[pos_++];
    if (IsDigit(c)) {
      lexbuf_.push_back(static_cast<char>(c));
      continue;
    }
    if (c == '.' && !is_float) {
      is_float = true;
      lexbuf_.push_back('.');
      continue;
    }
    if ((c == 'e' || c == 'E') && is_float) {
      lexbuf_.push_back(static_cast<char>(c));
      if (pos_ < insize_) {
        c = in_[pos_++];
        if (c == '+' || c == '-' || IsDigit(c)) {
          lexbuf_.push_back(static_cast<char>(c));
          continue;
        }
      }
      // (at the end of the piece this steps back onto the 'e', which is read again)
    }
    --pos_;
    state_ = Lex::kInitial;
    if (is_float) {
      t->type = Tok::kFloat;
      t->vt = Val::kFloat;
      t->v.dval = std::strtod(lexbuf_.c_str(), nullptr);
    } else {
      t->type = Tok::kInt;
      t->vt = Val::kInt;
      t->v.ival = Atoi(lexbuf_);
    }
    return true;
  }
  state_ = Lex::kNumber;
  return false;
}

bool JsNormalizer::ParseIdentifier(Token* t) {
  state_ = Lex::kInitial;
  while (pos_ < insize_) {
    const uint8_t c = in_[pos_++];
    if (IsIdChar(c)) {
      lexbuf_.push_back(static_cast<char>(c));
      continue;
    }
    if (c == '\\') {
      // "\u" keeps the backslash (not the 'u'); any other backslash ends the name, and a
      // byte after it that ends the piece is lost.
      if (pos_ < insize_ && in_[pos_++] == 'u') {
        lexbuf_.push_back('\\');
        continue;
      }
      if (pos_ == insize_) ++pos_;
    }
    state_ = Lex::kInitial;
    --pos_;
    if (const char* kw = FindKeyword(lexbuf_)) {
      const std::string_view k(kw);
      t->type = k == "var" ? Tok::kVar : k == "function" ? Tok::kFunction : Tok::kOther;
      t->vt = Val::kStatic;
      t->v.s = kw;
    } else {
      t->type = Tok::kIdentifier;
    }
    return true;
  }
  state_ = Lex::kIdentifier;
  return false;
}

bool JsNormalizer::ParseOperator(Token* t) {
  for (size_t len = std::min<size_t>(5, insize_ - pos_); len > 0; --len) {
    if (const char* op = FindOperator(in_ + pos_, len)) {
      t->type = len == 1 && op[0] == '+' ? Tok::kPlus : Tok::kOther;
      t->vt = Val::kStatic;
      t->v.s = op;
      pos_ += len;
      return true;
    }
  }
  ++pos_;  // not reached: every operator byte is an operator on its own
  t->type = Tok::kOther;
  return true;
}

// ---------------------------------------------------------------- parser

int32_t JsNormalizer::NewString() {
  if (strings_used_ == strings_.size()) strings_.emplace_back();
  strings_[strings_used_].clear();
  return static_cast<int32_t>(strings_used_++);
}

bool JsNormalizer::CString(const Token& t, std::string_view* s) const {
  switch (t.vt) {
    case Val::kStatic: *s = t.v.s; return true;
    case Val::kName: *s = Name(t.v.name); return true;
    case Val::kString:
      if (t.v.str < 0) return false;
      *s = strings_[static_cast<size_t>(t.v.str)];
      return true;
    default: return false;
  }
}

void JsNormalizer::AddToken(const Token& t) {
  if (tokens_.size() >= kMaxTokens) {
    stopped_ = truncated_ = true;
    return;
  }
  tokens_.push_back(t);
}

int32_t JsNormalizer::NewScope() {
  scopes_.push_back(Scope{current_, Fsm::kBase, Tok::kNone, 0, 0});
  current_ = static_cast<int32_t>(scopes_.size() - 1);
  return current_;
}

int32_t JsNormalizer::FindEntry(int32_t scope, std::string_view name) const {
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  for (size_t i = HashName(scope, name) & mask; slots_[i].gen == gen_; i = (i + 1) & mask) {
    const Entry& e = entries_[static_cast<size_t>(slots_[i].entry)];
    if (e.scope == scope && Name(static_cast<uint32_t>(slots_[i].entry)) == name) return slots_[i].entry;
  }
  return -1;
}

uint32_t JsNormalizer::InsertEntry(int32_t scope, std::string_view name, int64_t id) {
  const int32_t found = FindEntry(scope, name);
  if (found >= 0) {
    entries_[static_cast<size_t>(found)].id = id;  // a declaration renumbers the name
    return static_cast<uint32_t>(found);
  }
  if ((entries_.size() + 1) * 2 > slots_.size()) {
    std::vector<Slot> bigger(std::max<size_t>(256, slots_.size() * 2), Slot{0, 0});
    slots_.swap(bigger);
    const size_t mask = slots_.size() - 1;
    for (size_t e = 0; e < entries_.size(); ++e) {
      size_t i = HashName(entries_[e].scope, Name(static_cast<uint32_t>(e))) & mask;
      while (slots_[i].gen == gen_) i = (i + 1) & mask;
      slots_[i] = Slot{gen_, static_cast<int32_t>(e)};
    }
  }
  const auto e = static_cast<uint32_t>(entries_.size());
  entries_.push_back(Entry{scope, static_cast<uint32_t>(names_.size()), static_cast<uint32_t>(name.size()), id});
  names_.insert(names_.end(), name.begin(), name.end());
  const size_t mask = slots_.size() - 1;
  size_t i = HashName(scope, name) & mask;
  while (slots_[i].gen == gen_) i = (i + 1) & mask;
  slots_[i] = Slot{gen_, static_cast<int32_t>(e)};
  return e;
}

uint32_t JsNormalizer::Declare(int32_t scope, std::string_view name) {
  if (FindEntry(kDeclaredSomewhere, name) < 0) InsertEntry(kDeclaredSomewhere, name, 0);
  return InsertEntry(scope, name, next_id_++);
}

uint32_t JsNormalizer::Use(int32_t scope, std::string_view name) {
  const int32_t found = FindEntry(scope, name);
  return found >= 0 ? static_cast<uint32_t>(found) : InsertEntry(scope, name, -1);
}

int64_t JsNormalizer::Lookup(int32_t scope, std::string_view name) {
  // Most names looked up (document, window, ...) are declared nowhere: no walk for them.
  if (FindEntry(kDeclaredSomewhere, name) < 0) return -1;
  for (; scope >= 0; scope = scopes_[static_cast<size_t>(scope)].parent) {
    ++lookup_steps_;
    const int32_t e = FindEntry(scope, name);
    if (e >= 0 && entries_[static_cast<size_t>(e)].id != -1) return entries_[static_cast<size_t>(e)].id;
  }
  return -1;
}

void JsNormalizer::Parse(const uint8_t* p, size_t n) {
  in_ = p;
  insize_ = n;
  pos_ = 0;
  lastpos_ = SIZE_MAX;
  last_state_ = Lex::kDummy;
  Token val;
  while (!stopped_ && NextToken(&val)) {
    const Tok yv = val.type;
    Scope* cur = &scopes_[static_cast<size_t>(current_)];
    switch (yv) {
      case Tok::kVar:
        cur->fsm = Fsm::kInsideVar;
        break;
      case Tok::kIdentifier: {
        const std::string_view text = lexbuf_;
        if (cur->last_token == Tok::kDot) {
          val.type = Tok::kUnnorm;  // a member name is kept as written
          val.vt = Val::kString;
          val.v.str = NewString();
          strings_[static_cast<size_t>(val.v.str)] = text;
          break;
        }
        val.vt = Val::kName;
        switch (cur->fsm) {
          case Fsm::kWaitParameterList:
          case Fsm::kBase:
          case Fsm::kInsideInitializer:
            val.v.name = Use(current_, text);
            break;
          case Fsm::kInsideVar:
          case Fsm::kInsideFunctionDecl:
            val.v.name = Declare(current_, text);
            cur->fsm = Fsm::kInsideInitializer;
            cur->brackets = 0;
            break;
          case Fsm::kWaitFunctionName:
            val.v.name = Declare(current_, text);
            cur->fsm = Fsm::kWaitParameterList;
            break;
        }
        break;
      }
      case Tok::kParOpen:
        if (cur->fsm == Fsm::kWaitFunctionName || cur->fsm == Fsm::kWaitParameterList)
          cur->fsm = Fsm::kInsideFunctionDecl;
        break;
      case Tok::kParClose:
        if (cur->fsm == Fsm::kWaitParameterList) cur->fsm = Fsm::kBase;
        break;
      case Tok::kCurlyOpen:
        if (cur->fsm == Fsm::kWaitFunctionName || cur->fsm == Fsm::kWaitParameterList ||
            cur->fsm == Fsm::kInsideFunctionDecl)
          cur->fsm = Fsm::kBase;
        ++cur->blocks;  // (a body after "var x" or a parameter stays in that state)
        break;
      case Tok::kCurlyClose:
        if (cur->blocks > 0) --cur->blocks;
        if (cur->blocks == 0 && cur->parent >= 0) {
          // The function ends: "}" and then a marker that takes the writer back out.
          AddToken(val);
          val = Token{};
          val.type = Tok::kFunction;
          val.vt = Val::kScope;
          val.v.scope = -1;
          current_ = cur->parent;
          cur = &scopes_[static_cast<size_t>(current_)];
        }
        break;
      case Tok::kBracketOpen:
        ++cur->brackets;
        break;
      case Tok::kBracketClose:
        if (cur->brackets > 0) --cur->brackets;
        break;
      case Tok::kComma:
        if (cur->fsm == Fsm::kInsideInitializer && cur->brackets == 0 && cur->blocks == 0) cur->fsm = Fsm::kInsideVar;
        break;
      case Tok::kSemicolon:
        if (cur->brackets == 0 && cur->blocks == 0) cur->fsm = Fsm::kBase;
        break;
      case Tok::kFunction:
        NewScope();
        cur = &scopes_[static_cast<size_t>(current_)];
        cur->fsm = Fsm::kWaitFunctionName;
        val.vt = Val::kScope;
        val.v.scope = current_;
        break;
      case Tok::kString: {
        const size_t n_tok = tokens_.size();
        if (n_tok > 1 && tokens_[n_tok - 1].type == Tok::kPlus && tokens_[n_tok - 2].type == Tok::kString) {
          // "a" + "b" is one string (whatever comes before the first one).
          const Token& prev = tokens_[n_tok - 2];
          if (prev.vt == Val::kString && prev.v.str >= 0 && prev.v.str != val.v.str)
            strings_[static_cast<size_t>(prev.v.str)] += strings_[static_cast<size_t>(val.v.str)];
          if (static_cast<size_t>(val.v.str) + 1 == strings_used_) --strings_used_;
          tokens_.pop_back();
          continue;
        }
        break;
      }
      default:
        break;
    }
    AddToken(val);
    scopes_[static_cast<size_t>(current_)].last_token = yv;
  }
}

// ---------------------------------------------------------------- folders and decoders

// JavaScript unescape(): %XX and %uXXXX; NUL becomes 0x01.
void JsNormalizer::Unescape(std::string_view in, std::string* out) {
  out->clear();
  const size_t len = in.size();
  auto at = [&](size_t k) { return static_cast<uint8_t>(in[k]); };
  for (size_t k = 0; k < len; ++k) {
    uint8_t c = at(k);
    if (c == '%') {
      if (k + 5 >= len || at(k + 1) != 'u' || !IsXDigit(at(k + 2)) || !IsXDigit(at(k + 3)) || !IsXDigit(at(k + 4)) ||
          !IsXDigit(at(k + 5))) {
        if (k + 2 < len && IsXDigit(at(k + 1)) && IsXDigit(at(k + 2))) {
          c = static_cast<uint8_t>((Hex(at(k + 1)) << 4) | Hex(at(k + 2)));
          k += 2;
        }
      } else {
        PutUtf8(static_cast<uint16_t>((Hex(at(k + 2)) << 12) | (Hex(at(k + 3)) << 8) | (Hex(at(k + 4)) << 4) |
                                      Hex(at(k + 5))),
                out);
        k += 5;
        continue;
      }
    }
    if (c == 0) c = 1;
    out->push_back(static_cast<char>(c));
  }
}

bool JsNormalizer::ReplaceRange(std::vector<Token>* dst, size_t begin, size_t end, const std::vector<Token>* with) {
  if (begin >= dst->size() || end > dst->size()) return false;
  dst->erase(dst->begin() + static_cast<ptrdiff_t>(begin), dst->begin() + static_cast<ptrdiff_t>(end));
  if (with) dst->insert(dst->begin() + static_cast<ptrdiff_t>(begin), with->begin(), with->end());
  return true;
}

// unescape("...") becomes the decoded string: the four tokens from "unescape" on are
// replaced, whatever the fourth is (normally ')'), unless fewer than four are left.
// libclamav replaces them one call at a time and goes on after the new string; doing it in
// one compacting pass gives the same tokens without moving the tail for every call.
void JsNormalizer::RunFolders() {
  const size_t n = tokens_.size();
  size_t w = 0;
  for (size_t r = 0; r < n;) {
    std::string_view s;
    if (r + 4 <= n && tokens_[r].type == Tok::kIdentifier && CString(tokens_[r], &s) && s == "unescape" &&
        tokens_[r + 1].type == Tok::kParOpen && tokens_[r + 2].type == Tok::kString && CString(tokens_[r + 2], &s)) {
      Unescape(s, &scratch_);
      Token one;
      one.type = Tok::kString;
      one.vt = Val::kString;
      one.v.str = NewString();
      strings_[static_cast<size_t>(one.v.str)] = scratch_;
      tokens_[w++] = one;
      r += 4;
    } else {
      tokens_[w++] = tokens_[r++];
    }
  }
  tokens_.resize(w);
}

// dF("..."), scriptasylum.com's encoder: the last byte is a digit d; the rest is unescaped,
// d is subtracted from every byte, and the result unescaped again. It goes at the end.
void JsNormalizer::HandleDf(size_t start, Decode* d) {
  Token& t = tokens_[start];
  if (t.type != Tok::kString || t.vt != Val::kString || t.v.str < 0) return;
  std::string& str = strings_[static_cast<size_t>(t.v.str)];
  if (str.empty()) return;
  const auto clast = static_cast<uint8_t>(static_cast<uint8_t>(str.back()) - '0');
  str.pop_back();
  Unescape(str, &scratch_);
  for (char& c : scratch_) c = static_cast<char>(static_cast<uint8_t>(c) - clast);
  if (const size_t z = scratch_.find('\0'); z != std::string::npos) scratch_.resize(z);  // a C string
  Unescape(scratch_, &decode_text_);
  d->begin = start - 2;
  d->end = start + 2;
  d->append = true;
  d->have_text = true;
}

// eval("...") is replaced by the string's tokens.
void JsNormalizer::HandleEval(size_t start, Decode* d) {
  if (start + 1 >= tokens_.size()) return;
  Token& t = tokens_[start];
  if (t.vt == Val::kString && t.v.str >= 0 && tokens_[start + 1].type == Tok::kParClose) {
    decode_text_ = strings_[static_cast<size_t>(t.v.str)];
    t.v.str = -1;
    d->begin = start - 2;
    d->end = start + 2;
    d->have_text = true;
  }
}

// "(p,a,c," after "function [name]": only the first three parameter names are compared.
bool JsNormalizer::MatchPackerParams(size_t at) const {
  if (tokens_[at].type != Tok::kParOpen) return false;
  static constexpr std::array<std::string_view, 3> kNames = {"p", "a", "c"};
  size_t k = 1;
  for (std::string_view want : kNames) {
    if (at + k >= tokens_.size()) return false;
    std::string_view v;
    if (!CString(tokens_[at + k], &v) || tokens_[at + k].type != Tok::kIdentifier || v != want) return false;
    ++k;
    if (at + k >= tokens_.size() || tokens_[at + k].type != Tok::kComma) return false;
    ++k;
  }
  return true;
}

// Dean Edwards' packer: function(p,a,c,k,e,d){...}('p', a, c, 'k|k|k'.split('|'), ...):
// every word of p, read as a base-a number, is replaced by that entry of k.
void JsNormalizer::HandlePacker(size_t start, int32_t name_entry, Decode* d) {
  const size_t size = tokens_.size();
  size_t i = start, nesting = 1;
  for (; i < size; ++i) {
    if (tokens_[i].type == Tok::kFunction) {
      if (tokens_[i].v.scope >= 0) ++nesting;
      else --nesting;
      if (nesting == 0) break;
    }
  }
  if (nesting) return;
  int64_t first = -1, last = -1;
  size_t params[6] = {};
  auto read_params = [&]() {
    size_t j = 0;
    for (; j < 6 && i < size; ++j) {
      params[j] = i++;
      const Tok stop = j != 5 ? Tok::kComma : Tok::kParClose;
      while (i < size && tokens_[i].type != stop) ++i;
      ++i;
    }
    if (j == 6) {
      if (first < 0) first = static_cast<int64_t>(params[0]);
      last = static_cast<int64_t>(params[5]);
      DecodePacker(params);
    }
  };
  if (name_entry >= 0) {
    const std::string_view name = Name(static_cast<uint32_t>(name_entry));  // (no entry is added here)
    for (; i + 2 < size; ++i) {
      std::string_view v;
      if (tokens_[i].type == Tok::kIdentifier && CString(tokens_[i], &v) && v == name &&
          tokens_[i + 1].type == Tok::kParOpen) {
        i += 2;
        read_params();
      }
    }
  } else {
    while (i < size && tokens_[i].type != Tok::kParOpen) ++i;
    ++i;
    if (i >= size) return;
    read_params();
  }
  if (first >= 0 && last >= 0) {
    d->begin = static_cast<size_t>(first);
    d->end = static_cast<size_t>(last) + 1;
    if (d->end + 2 < size && tokens_[d->end].type == Tok::kBracketOpen &&
        tokens_[d->end + 1].type == Tok::kBracketClose && tokens_[d->end + 2].type == Tok::kParClose) {
      d->end += 3;
    } else if (d->end < size) {
      ++d->end;
    }
    d->have_text = true;
  }
}

void JsNormalizer::DecodePacker(const size_t params[6]) {
  std::string_view p;
  if (!CString(tokens_[params[0]], &p)) return;
  const Token& ta = tokens_[params[1]];
  const long a = ta.vt == Val::kInt ? ta.v.ival : -1;
  const Token& tk = tokens_[params[3]];
  if (tk.vt != Val::kString || tk.v.str < 0) return;
  std::string& k = strings_[static_cast<size_t>(tk.v.str)];
  scratch2_ = k;
  split_.clear();
  for (size_t b = 0;;) {
    const size_t bar = scratch2_.find('|', b);
    split_.push_back(std::string_view(scratch2_).substr(b, bar == std::string::npos ? std::string::npos : bar - b));
    if (bar == std::string::npos) break;
    b = bar + 1;
  }
  // p may be k itself only in theory; it is read before k is cut below.
  size_t q = 0;
  const size_t n = p.size();
  auto at = [&](size_t x) { return static_cast<uint8_t>(p[x]); };
  while (q < n && decoded_bytes_ + decode_text_.size() < kMaxDecodedBytes) {
    while (q < n && !IsAlnum(at(q))) {
      if (at(q) == '\\' && q + 1 < n && (at(q + 1) == '\'' || at(q + 1) == '"')) ++q;
      else decode_text_.push_back(p[q++]);
    }
    if (q >= n) break;
    uint32_t val = 0;
    const size_t o = q;
    while (q < n && IsAlnum(at(q))) {
      const uint8_t v = at(q++);
      const uint32_t x = v >= 'a' ? 10u + v - 'a' : v >= 'A' ? 36u + v - 'A' : static_cast<uint32_t>(v - '0');
      val = static_cast<uint32_t>(static_cast<int64_t>(val) * a + x);
    }
    if (val >= split_.size() || split_[val].empty()) decode_text_.append(p.substr(o, q - o));
    else decode_text_.append(split_[val]);
  }
  if (decoded_bytes_ + decode_text_.size() >= kMaxDecodedBytes) truncated_ = true;
  // libclamav splits k in place: the token keeps its text up to the first '|'.
  if (const size_t bar = k.find('|'); bar != std::string::npos) k.resize(bar);
}

void JsNormalizer::UpdateScope(const Token& t, bool* output) {
  *output = true;
  if (t.type != Tok::kFunction) return;
  if (t.v.scope >= 0) {
    current_ = t.v.scope;
  } else {
    if (scopes_[static_cast<size_t>(current_)].parent >= 0) current_ = scopes_[static_cast<size_t>(current_)].parent;
    *output = false;  // the end-of-function marker is not written
  }
}

void JsNormalizer::RunDecoders() {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    Decode d;
    decode_text_.clear();
    std::string_view cs;
    const Token& ti = tokens_[i];
    const bool has = CString(ti, &cs);
    if (ti.type == Tok::kFunction && i + 13 < tokens_.size()) {
      // (the function token itself is stepped over: its scope is not entered here)
      int32_t name = -1;
      ++i;
      if (tokens_[i].type == Tok::kIdentifier) {
        name = static_cast<int32_t>(tokens_[i].v.name);
        ++i;
      }
      if (MatchPackerParams(i)) {
        decode_work_ += tokens_.size();  // it searches the rest of the block
        if (++decodes_ > kMaxDecodes || decode_work_ > kMaxDecodeWork) {
          truncated_ = true;
          return;
        }
        HandlePacker(i, name, &d);
      }
    } else if (i + 2 < tokens_.size() && ti.type == Tok::kIdentifier && has && cs == "dF" &&
               tokens_[i + 1].type == Tok::kParOpen) {
      HandleDf(i + 2, &d);
    } else if (i + 2 < tokens_.size() && ti.type == Tok::kIdentifier && has && cs == "eval" &&
               tokens_[i + 1].type == Tok::kParOpen) {
      HandleEval(i + 2, &d);
    }
    if (d.end > d.begin) {
      if (d.end < tokens_.size() && tokens_[d.end].type == Tok::kSemicolon) ++d.end;
      decoded_bytes_ += decode_text_.size();
      decode_work_ += tokens_.size();  // the tail moves
      if (++decodes_ > kMaxDecodes || decoded_bytes_ > kMaxDecodedBytes || decode_work_ > kMaxDecodeWork) {
        truncated_ = true;
        return;
      }
      // The decoded text is tokenized on its own (same tokenizer, current scope), then
      // takes the place of the call or goes at the end.
      nested_.clear();
      std::swap(tokens_, nested_);
      Parse(reinterpret_cast<const uint8_t*>(decode_text_.data()), decode_text_.size());
      std::swap(tokens_, nested_);
      if (!d.append) {
        ReplaceRange(&tokens_, d.begin, d.end, &nested_);
      } else {
        ReplaceRange(&tokens_, d.begin, d.end, nullptr);
        tokens_.insert(tokens_.end(), nested_.begin(), nested_.end());
      }
      if (tokens_.size() > kMaxTokens) {
        tokens_.resize(kMaxTokens);
        stopped_ = truncated_ = true;
        return;
      }
    }
    bool unused;
    if (i < tokens_.size()) UpdateScope(tokens_[i], &unused);
  }
}

// ---------------------------------------------------------------- writer

void JsNormalizer::PutRaw(uint8_t c) {
  if (wpos_ >= kFlushSize) wpos_ = 0;
  out_.push_back(c);
  ++wpos_;
}

// Text is written lower-cased (ASCII), whitespace as a space.
void JsNormalizer::PutText(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    if (wpos_ == kFlushSize) wpos_ = 0;
    out_.push_back(IsSpace(c) ? ' ' : (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c);
    if (++wpos_ == kFlushSize) wpos_ = 0;
  }
}

uint8_t JsNormalizer::WriteToken(const Token& t, int32_t scope, uint8_t last) {
  auto space = [&](uint8_t next) {
    if (IsAlnum(last) && IsAlnum(next)) PutRaw(' ');
  };
  char tmp[64];
  switch (t.type) {
    case Tok::kString: {
      PutRaw('"');
      std::string_view s;
      if (CString(t, &s)) PutText(s);
      PutRaw('"');
      return '"';
    }
    case Tok::kInt:
      space('0');
      std::snprintf(tmp, sizeof tmp, "%ld", t.v.ival);
      PutText(tmp);
      return '0';
    case Tok::kFloat:
      space('0');
      std::snprintf(tmp, sizeof tmp, "%g", t.v.dval);
      PutText(tmp);
      return '0';
    case Tok::kIdentifier: {
      space('a');
      std::string_view s;
      if (CString(t, &s)) {
        const int64_t id = Lookup(scope, s);
        if (id == -1) {
          PutText(s);
        } else {
          std::snprintf(tmp, sizeof tmp, "n%03llu", static_cast<unsigned long long>(id));
          PutText(tmp);
        }
      }
      return 'a';
    }
    case Tok::kFunction:
      space('a');
      PutText("function");
      return 'a';
    default: {
      std::string_view s;
      if (!CString(t, &s)) return 0;
      space(s.empty() ? 0 : static_cast<uint8_t>(s[0]));
      PutText(s);
      return s.empty() ? 0 : static_cast<uint8_t>(s.back());
    }
  }
}

void JsNormalizer::Write() {
  wpos_ = 0;
  if (!out_.empty()) PutRaw('\n');  // blocks after the first are appended to the same file
  PutText("<script>");
  current_ = 0;
  uint8_t last = 0;
  for (const Token& t : tokens_) {
    bool output;
    UpdateScope(t, &output);
    if (!output) continue;
    last = WriteToken(t, current_, last);
    if (lookup_steps_ > kMaxLookupSteps) {
      truncated_ = true;
      break;
    }
  }
  // "</script>" is added unless libclamav's 64 KiB buffer ends with it (it holds the bytes
  // since its last flush, so at a flush boundary it is added again).
  static constexpr std::string_view kEnd = "</script>";
  if (wpos_ < kEnd.size() || std::memcmp(out_.data() + out_.size() - kEnd.size(), kEnd.data(), kEnd.size()) != 0)
    PutText(kEnd);
}

}  // namespace avkey::engine
