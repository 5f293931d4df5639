// ClamAV 1.4.6's JavaScript normaliser (libclamav/jsparse/js-norm.c), rebuilt so that the
// "javascript" buffer clamscan derives from an HTML file's <script> blocks comes out
// byte-identical (docs/html.md has the rules and the evidence). Internal to the engine.
//
// For every <script> block the HTML normaliser hands over the block's raw bytes (they include
// the closing "</script>"), piece by piece as its 8191-byte chunks go by. At the end of the
// block the pieces are tokenized, identifiers are renamed n000, n001... per function scope,
// strings are unescaped and "a"+"b" folded, unescape("..."), eval("..."), dF("...") and
// the "function(p,a,c,k,e,d)" packer are decoded, and the tokens are written back lower-cased
// between "<script>" and "</script>"; blocks are separated by "\n".
// ClamAV's quirks are kept on purpose (a line comment ends at the first space, a string
// split by a chunk boundary has its escapes decoded per piece, a number or name pending at
// the end of the input is lost): signatures are written against what clamscan produces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace avkey::engine {

// One normaliser per HTML normaliser (not thread-safe). Buffers are reused from file to
// file: after the largest script so far nothing is allocated. Hostile input is bounded by
// budgets (tokens, decodings, scope look-ups); a script that exceeds one is cut short and
// truncated() says so (clamscan has no such limits: a documented difference).
class JsNormalizer {
 public:
  // Starts a new file: the output is emptied.
  void Reset();
  // A <script> block starts (libclamav's cli_js_init).
  void Begin();
  // The next piece of the block's bytes (cli_js_process_buffer). Ignored unless active().
  void Feed(std::span<const uint8_t> piece);
  // The block ended ("</script>" or the end of the HTML): its normalised form is appended
  // to output() (cli_js_parse_done and cli_js_output).
  void End();
  bool active() const { return active_; }
  // Every block of the file so far, "\n"-separated; empty when the file had no script.
  std::span<const uint8_t> output() const { return {out_.data(), out_.size()}; }
  // A budget cut some block of this file short: output() is not what clamscan would write.
  bool truncated() const { return truncated_; }
  // Frees buffers above `keep` bytes (after a huge file).
  void Trim(size_t keep);

  // Budgets per block (decoded bytes: per file). Real scripts stay far below them; they
  // exist so that a 40 MiB file of "a a a ..." or of nested eval() cannot take gigabytes or
  // hours.
  static constexpr size_t kMaxTokens = 2u << 20;          // 32 MiB of tokens
  static constexpr size_t kMaxDecodes = 4096;             // eval/dF/packer expansions
  static constexpr size_t kMaxDecodedBytes = 16u << 20;   // bytes they produce, per file
  static constexpr uint64_t kMaxLookupSteps = 64u << 20;  // scope-chain steps when writing
  static constexpr uint64_t kMaxDecodeWork = 256u << 20;  // tokens moved or searched by decoders

 private:
  enum class Tok : uint8_t {
    kNone,
    kIdentifier,
    kUnnorm,  // a member name (after '.'): never renamed
    kString,
    kInt,
    kFloat,
    kFunction,  // also the end-of-function marker (scope -1), never written
    kVar,
    kDot,
    kPlus,
    kParOpen,
    kParClose,
    kComma,
    kSemicolon,
    kBracketOpen,
    kBracketClose,
    kCurlyOpen,
    kCurlyClose,
    kOther,  // any other keyword or operator: written as its text
  };

  // What a token carries (libclamav's vtype): the rules that look at a token's text accept
  // only some of these.
  enum class Val : uint8_t { kNone, kStatic, kName, kString, kScope, kInt, kFloat };

  enum class Lex : uint8_t {
    kInitial,
    kMultiline,
    kSingleline,
    kNumber,
    kDq,
    kSq,
    kIdentifier,
    kDummy,
  };

  enum class Fsm : uint8_t {
    kBase,
    kInsideVar,
    kInsideInitializer,
    kWaitFunctionName,
    kWaitParameterList,
    kInsideFunctionDecl,
  };

  struct Token {
    Tok type = Tok::kNone;
    Val vt = Val::kNone;
    union {
      const char* s;
      uint32_t name;  // entries_ index
      int32_t str;    // strings_ index, -1: none
      int32_t scope;  // scopes_ index, -1: end of a function
      long ival;
      double dval;
    } v{};
  };
  struct Scope {
    int32_t parent;
    Fsm fsm;
    Tok last_token;
    uint32_t brackets, blocks;
  };
  // Pseudo-scope of entries that only say "this name is declared in some scope".
  static constexpr int32_t kDeclaredSomewhere = -2;
  struct Entry {  // one name in one scope's table (or kDeclaredSomewhere)
    int32_t scope;
    uint32_t off, len;
    int64_t id;  // -1: used but not declared in this scope
  };
  struct Decode {
    size_t begin = 0, end = 0;
    bool append = false;  // the old tokens go, the new ones are added at the end
    bool have_text = false;
  };

  // Tokenizer (libclamav's hand-written yylex).
  bool NextToken(Token* t);
  bool ParseString(Token* t, uint8_t quote, Lex continue_state);
  bool ParseNumber(Token* t);
  bool ParseIdentifier(Token* t);
  bool ParseOperator(Token* t);
  void AppendUnescaped(const uint8_t* s, size_t len);

  // Parser.
  void Parse(const uint8_t* p, size_t n);
  void AddToken(const Token& t);
  int32_t NewScope();
  uint32_t Declare(int32_t scope, std::string_view name);
  uint32_t Use(int32_t scope, std::string_view name);
  int32_t FindEntry(int32_t scope, std::string_view name) const;
  uint32_t InsertEntry(int32_t scope, std::string_view name, int64_t id);
  int64_t Lookup(int32_t scope, std::string_view name);
  std::string_view Name(uint32_t entry) const {
    return {names_.data() + entries_[entry].off, entries_[entry].len};
  }
  int32_t NewString();
  // TOKEN_GET(cstring): the token's text as a C string (empty view with ok=false: NULL).
  bool CString(const Token& t, std::string_view* s) const;

  // Folders and decoders (cli_js_parse_done).
  void RunFolders();
  void RunDecoders();
  void HandleDf(size_t start, Decode* d);
  void HandleEval(size_t start, Decode* d);
  void HandlePacker(size_t start, int32_t name_entry, Decode* d);
  void DecodePacker(const size_t params[6]);
  bool MatchPackerParams(size_t at) const;
  bool ReplaceRange(std::vector<Token>* dst, size_t begin, size_t end, const std::vector<Token>* with);
  void UpdateScope(const Token& t, bool* output);
  static void Unescape(std::string_view in, std::string* out);

  // Writer (cli_js_output).
  void Write();
  void PutRaw(uint8_t c);
  void PutText(std::string_view s);
  uint8_t WriteToken(const Token& t, int32_t scope, uint8_t last);

  // Output of the file.
  std::vector<uint8_t> out_;
  bool truncated_ = false;
  // Block state.
  bool active_ = false;
  bool stopped_ = false;  // a budget was hit in this block: further input is ignored
  std::vector<Token> tokens_, nested_;
  std::vector<Scope> scopes_;
  int32_t current_ = 0;
  std::vector<Entry> entries_;
  struct Slot {
    uint32_t gen;  // slots of an older block (gen != gen_) are empty: no clearing per block
    int32_t entry;
  };
  std::vector<Slot> slots_;  // open-addressing index over entries_ (by scope and name)
  uint32_t gen_ = 0;
  std::vector<char> names_;
  std::vector<std::string> strings_;
  size_t strings_used_ = 0;
  int64_t next_id_ = 0;
  size_t decodes_ = 0, decoded_bytes_ = 0;
  uint64_t lookup_steps_ = 0, decode_work_ = 0;
  std::string decode_text_, scratch_, scratch2_;
  std::vector<std::string_view> split_;
  // Tokenizer state; survives from piece to piece (a string may go on in the next piece).
  const uint8_t* in_ = nullptr;
  size_t insize_ = 0, pos_ = 0, lastpos_ = 0;
  Lex state_{}, last_state_{};
  std::string lexbuf_;
  // Writer state: libclamav writes through a 64 KiB buffer and decides whether to add
  // "</script>" from that buffer's tail, so its fill level is modelled.
  size_t wpos_ = 0;
};

}  // namespace avkey::engine
