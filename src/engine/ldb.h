// Logical signatures (.ldb): parsing of one line, the logical-expression evaluator,
// byte-compare and PCRE subsignatures. Internal to the engine.
//   Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;...
// Body subsignature patterns are kept as text here; the engine compiles them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/engine.h"
#include "engine/offset.h"

namespace avkey::engine {

// Inclusive range from "X-Y" (a lone "X" gives X-X).
struct Range {
  uint64_t min = 0;
  uint64_t max = UINT64_MAX;
  bool Contains(uint64_t v) const { return v >= min && v <= max; }
};

struct TargetDescription {
  std::optional<Range> engine;  // FLEVEL range ("Engine:81-255"); must come first
  std::optional<TargetType> target;
  std::optional<Range> file_size;
  std::optional<Range> entry_point;
  std::optional<Range> number_of_sections;
  std::optional<std::string> container;       // "CL_TYPE_ZIP": the parent layer's type
  std::vector<std::string> intermediates;     // top-down, the last is the parent; at most 16
  std::optional<std::string> handler_type;    // a known CL_TYPE name: re-scan the layer as it
  bool icon_group = false;                    // IconGroup1/2 present (unsupported: needs .idb)
  bool unknown_attribute = false;             // loads, but never matches (as clamscan)
};

// Whether a layer whose containers are `ancestors` (outermost first) meets the
// Container and Intermediates conditions of `t`, as clamscan 1.4.6 decides:
//  - Container:T is the type of the nearest container that is not a normalised layer;
//    a file itself (no such container) has CL_TYPE_ANY;
//  - Intermediates:A>B>..>P lists the containers top-down, ending at the parent; it
//    needs at least as many containers as tokens (normalised ones count here), then
//    each token other than CL_TYPE_ANY must equal the next container going up from the
//    parent, skipping normalised layers; CL_TYPE_ANY tokens only add to the depth.
// `normalized_layer`: the bytes are a normalised form of that layer (an HTML file's
// buffers), one deeper for Intermediates, with the same containers.
bool ContainersMatch(const TargetDescription& t, std::span<const LayerType> ancestors,
                     bool normalized_layer = false);

// Whether `name` is one of the CL_TYPE_* names clamscan 1.4.6 loads.
bool IsClTypeName(std::string_view name);

// Compiled logical expression over subsignature indexes, with ClamAV's semantics
// (libclamav cli_ac_chklsig):
//  - an index is true when its count is > 0; "A=X" / "A<X" / "A>X" compare the count
//    (",Y" is accepted and ignored on a single index, as ClamAV does);
//  - a true term contributes its match count and its index to the enclosing block;
//    a false term contributes nothing; "A=0" is true and contributes its index;
//  - "(block)=X[,Y]" etc. compare the total count of the block (0 when the block is
//    false) and, when Y > 0, require >= Y distinct indexes; a modified block passes
//    its count but not its indexes further up (ClamAV quirk);
//  - & and | have equal precedence. Unparenthesised chains group like ClamAV's
//    splitter: at top level "a&b|c" is a&(b|c); inside parentheses "(a&b|c)" is
//    (a&b)|c. A modifier on "(x)" without an operator inside is rejected, as in ClamAV.
// Parse is recursive descent with nesting capped at kMaxDepth; Evaluate runs a flat
// postfix program on a small fixed stack (no allocation, no recursion).
// Copyable and movable; a default-constructed LogicExpr evaluates to false.
class LogicExpr {
 public:
  static constexpr size_t kMaxDepth = 64;         // parenthesis nesting
  static constexpr size_t kMaxSubsigs = 64;       // indexes are 0..63
  static constexpr size_t kMaxTextLength = 65536; // longer expressions are rejected

  LogicExpr();
  ~LogicExpr();
  LogicExpr(const LogicExpr&);
  LogicExpr& operator=(const LogicExpr&);
  LogicExpr(LogicExpr&&) noexcept;
  LogicExpr& operator=(LogicExpr&&) noexcept;
  // Parses "((0|1|2)>5,2)&(3|1)". Every index must be < subsig_count (<= 64).
  static Result<LogicExpr> Parse(std::string_view text, size_t subsig_count);
  // counts[i] = number of matches of subsignature i in this layer; indexes past the
  // end of `counts` count as 0.
  bool Evaluate(std::span<const uint32_t> counts) const;
  // Highest subsignature index referenced + 1 (0 for a default-constructed one).
  size_t max_index() const;

  struct Node;  // the compiled program (defined in ldb.cpp)
 private:
  explicit LogicExpr(std::unique_ptr<Node> root, size_t max_index);
  std::unique_ptr<Node> root_;
  size_t max_index_ = 0;
};

// Byte compare subsignature "N(>>off#[h|d|a|i][l|b][e]num_bytes#cmp[,cmp])"
// (libclamav matcher-byte-comp.c semantics).
struct ByteCompare {
  uint32_t subsig = 0;        // N: the subsignature whose match start is the reference
  int64_t offset = 0;         // >>off (positive) or <<off (negative), from the match start
  char base = 'h';            // 'h' hex text, 'd' decimal text, 'a' auto text, 'i' raw integer;
                              // 0 when none was given (ClamAV loads it but never matches)
  bool little_endian = false; // 'l'
  bool big_endian = false;    // 'b', or implied by 'd'. With neither, h/a/i never match
                              // (ClamAV quirk: its option switch has no default order).
  bool exact = false;         // 'e'
  uint32_t num_bytes = 0;     // i: 1, 2, 4 or 8; h: <= 18
  struct Comparison { char op; int64_t value; };  // op is '<', '>' or '='
  std::vector<Comparison> comparisons;            // 1 or 2; all must hold
};
// True when the bytes at match_start+offset satisfy every comparison. ClamAV uses the
// start of the referenced subsignature's *last* match as match_start. As in ClamAV, the
// read must lie inside `data` and start at a position > 0 (position 0 never matches).
// Text forms skip leading whitespace and read up to num_bytes characters like strtol
// (no digits reads as 0 unless 'e'); 'e' requires all num_bytes to form the number.
bool EvaluateByteCompare(const ByteCompare& bc, std::span<const uint8_t> data, uint64_t match_start);

class PcreProgram;  // compiled pcre2 pattern (shared, immutable, thread-safe)

// ClamAV's defaults (libclamav/default.h): pcre2 match limit, depth ("recursion")
// limit, and the largest layer a PCRE is run on.
inline constexpr uint32_t kPcreMatchLimit = 100000;
inline constexpr uint32_t kPcreDepthLimit = 2000;
inline constexpr uint64_t kPcreMaxDataSize = uint64_t{100} << 20;

// Compiles `regex` with the ClamAV flag letters (i s m x A E U for pcre2, g r e for
// the matcher). (*UTF) is refused (PCRE2_NEVER_UTF), as the ClamAV manual requires.
// JIT-compiled when pcre2 supports it.
Result<std::shared_ptr<const PcreProgram>> CompilePcre(std::string_view regex,
                                                       std::string_view flags);

struct PcreSubsig {
  std::string trigger;           // logical expression over earlier subsigs
  std::optional<LogicExpr> trigger_expr;
  std::string regex;             // as written between the slashes, unescaped "\x3B" kept
  std::string flags;             // g r e i s m x A E U
  std::shared_ptr<const PcreProgram> program;
};
// Runs the PCRE over data honouring offset and flags; returns the number of matches
// (1 at most unless flag 'g'). Match data is per thread: pass a Scratch.
// Semantics (libclamav matcher-pcre.c): no offset = search the whole layer. With an
// offset the subject *starts* at the resolved position (so ^ and lookbehind see it as
// the start); without maxshift and without 'r' the match is anchored there. With a
// maxshift the match must start within it, and with 'e' the subject is cut to
// [start, start+maxshift). 'g' counts successive non-overlapping matches. A match
// that hits the pcre2 match/depth limit counts as no match; layers larger than
// kPcreMaxDataSize are not searched. The trigger is not checked here: the caller
// evaluates pcre.trigger_expr first.
// A PcreScratch (one per thread) owns pcre2 match data, match context and JIT stack.
// NewPcreScratch returns null only when pcre2 cannot allocate; RunPcre also accepts a
// null scratch (slow path).
struct PcreScratch;
// Defined in ldb.cpp so that users of this header need not see PcreScratch.
struct PcreScratchDeleter {
  void operator()(PcreScratch* scratch) const;
};
using PcreScratchPtr = std::unique_ptr<PcreScratch, PcreScratchDeleter>;
PcreScratchPtr NewPcreScratch();
uint32_t RunPcre(const PcreSubsig& pcre, const SigOffset& offset, const ExeInfo* exe,
                 std::span<const uint8_t> data, PcreScratch* scratch);

// A T allocated only once written: reading an empty box gives a default T. For the parts
// of a subsignature most never have (PCRE 136 bytes, byte compare 48): a subsignature
// was 280 bytes with them inline, 112 boxed, times every subsignature of a large .ldb.
template <typename T>
class Box {
 public:
  Box() = default;
  Box(const Box& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  T& operator*() {
    if (!p_) p_ = std::make_unique<T>();
    return *p_;
  }
  const T& operator*() const { return p_ ? *p_ : Empty(); }
  T* operator->() { return &**this; }
  const T* operator->() const { return &**this; }

 private:
  static const T& Empty() {
    static const T empty{};
    return empty;
  }
  std::unique_ptr<T> p_;
};

struct LdbSubsig {
  enum class Kind : uint8_t { kBody, kPcre, kByteCompare, kMacro, kFuzzyImage };
  Kind kind = Kind::kBody;
  SigOffset offset;           // kBody and kPcre
  std::string pattern;        // kBody: the hex pattern text (without "::mods");
                              // kMacro: the whole "${min-max}group$"; kFuzzyImage: 16 hex
  bool nocase = false;        // ::i
  bool wide = false;          // ::w
  bool ascii = false;         // ::a
  bool fullword = false;      // ::f
  Box<PcreSubsig> pcre;            // kPcre
  Box<ByteCompare> byte_compare;   // kByteCompare
  struct Macro {              // kMacro "${min-max}group$": one .ndb sig of macro group
    uint32_t min = 0;         // `group` must start min..max bytes after the previous
    uint32_t max = 0;         // subsignature's match start
    uint32_t group = 0;       // < 32
  } macro;
};

struct LdbSignature {
  std::string name;
  TargetDescription tdb;
  std::string expression_text;
  LogicExpr expression;
  std::vector<LdbSubsig> subsigs;
};

// Parses one .ldb line. A failure names the field and why. Signatures whose Engine
// range excludes `flevel` parse fine; the caller checks tdb.engine.
// Fields are split on ';' except inside a PCRE's /.../ (ClamAV's tokenizer), the
// expression must use exactly the indexes 0..N-1 of the N subsignatures (ClamAV:
// "number of subsignatures doesn't match the IDs"), PCREs are compiled here.
// A trailing "\r" or "\n" is ignored; comment lines are the caller's business.
Result<LdbSignature> ParseLdbLine(std::string_view line);

// The Engine range of a line's target description block, when its first attribute
// is a well-formed "Engine:X-Y". ClamAV checks the FLEVEL range before it parses the
// subsignatures, so a loader can skip out-of-range lines (which may use syntax of a
// later engine) before calling ParseLdbLine and report them as skipped, not broken.
std::optional<Range> LdbEngineRange(std::string_view line);

}  // namespace avkey::engine
