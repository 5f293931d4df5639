// ClamAV body (hex) patterns: parsing, anchor selection and exact verification.
// Internal to the engine.
//
// A pattern is compiled into a token sequence. Vectorscan searches only for its
// *anchor* (the longest run of exact bytes); each anchor hit is then verified by
// matching the tokens after the anchor forwards and the tokens before it backwards.
// The two sides are independent given the anchor position, so verification costs
// one bounded walk each way, not a search from every possible start.
#pragma once

#include <bitset>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "avkey/engine/status.h"

namespace avkey::engine {

inline constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();

struct Token {
  enum class Kind : uint8_t {
    kBytes,       // value/mask run (exact bytes, ??, nibbles)
    kSet,         // one byte in set (covers (aa|bb) and !(aa|bb))
    kAltFixed,    // one of several same-length byte strings (or none of them, negated)
    kAltGeneric,  // alternatives of different lengths (each a token sequence)
    kGap,         // min..max arbitrary bytes
    kBoundary,    // (B) at an edge: zero-width, the outside neighbour is a delimiter
    kWordEdge,    // (W) at an edge: zero-width, the outside neighbour is not alphanumeric
    kLine,        // (L): zero-width, at file start/end or next to LF / CRLF
  };
  Kind kind = Kind::kBytes;
  bool negated = false;
  uint32_t min = 0, max = 0;          // kGap
  bool soft = false;                  // kGap from [x-y]: does not split the pattern into parts
  std::vector<uint8_t> value, mask;   // kBytes; kAltFixed: concatenated alternatives
  uint32_t alt_len = 0;               // kAltFixed: length of each alternative
  std::bitset<256> set;               // kSet
  std::vector<std::vector<Token>> alts;  // kAltGeneric
  // kBoundary/kLine: which side of the position is checked (left = the byte before).
  bool check_left = false, check_right = false;
};

using TokenSeq = std::vector<Token>;

struct PatternOptions {
  bool nocase = false;    // ::i
  bool wide = false;      // ::w — each byte followed by 0x00 (wildcards not widened)
  bool fullword = false;  // ::f (with ::w, the neighbours are wide characters)
};

// Parses ClamAV hex-signature syntax. Errors name the problem and position.
Result<TokenSeq> ParseHexPattern(std::string_view text);
// Shortest number of bytes the pattern can match.
uint64_t MinPatternLength(const TokenSeq& seq);
// Widens a pattern (::w): each concrete byte becomes byte, 0x00.
TokenSeq WidenPattern(const TokenSeq& seq);

// The first bytes (at most 4) of every match of a pattern, as value/mask pairs; none
// (len 0) when the pattern starts with anything but a byte run. Plain bytes, kept with
// each offset-pinned signature (Body) so that most starts are refused without the pattern.
struct PatternHead {
  static constexpr size_t kMax = 4;
  uint8_t len = 0;
  uint8_t value[kMax] = {}, mask[kMax] = {};
  // False when no start in [first, last] has these bytes (compared as they are: for a
  // case-insensitive pattern, only with bytes that have no case).
  bool CanMatch(std::span<const uint8_t> data, uint64_t first, uint64_t last) const {
    if (data.size() < len) return false;
    if (last > data.size() - len) last = data.size() - len;
    for (uint64_t at = first; at <= last; ++at) {
      size_t j = 0;
      while (j < len && (data[at + j] & mask[j]) == value[j]) ++j;
      if (j == len) return true;
    }
    return false;
  }
};

// A pattern ready for matching: anchor literal + the two sides.
class BodyPattern {
 public:
  // Splits at the longest exact run; fails when the pattern has no part with two
  // consecutive static bytes (ClamAV: "Can't find a static subpattern of length 2").
  // `lean` keeps only the forward form (for Regex() and Prepare()): a database makes one
  // use of each pattern, and keeping all four forms of every token sequence was most of a
  // large logical set's memory and load time. Otherwise the pattern is ready for all uses.
  static Result<BodyPattern> Compile(TokenSeq seq, const PatternOptions& options, bool lean = false);

  // What a pattern is verified with: MatchWindow (kWindow), VerifyEnd (kEnd), VerifyAt
  // (kAnchor), or any (kAll). Prepare(use) builds what that use needs from the forward
  // form and drops the forward form unless kWindow or kAll keeps it; call it once, before
  // the pattern is shared between threads. A verifier called for a use the pattern was not
  // prepared for aborts (a programming error, never a silent non-match).
  enum class Use : uint8_t { kAll, kWindow, kEnd, kAnchor };
  void Prepare(Use use);

  // The literal Vectorscan searches for.
  const std::string& anchor() const { return anchor_; }
  // A Vectorscan regex (for HS_FLAG_DOTALL) matching a superset of the pattern:
  // every match of the pattern ends where the regex reports a match end. *exact is
  // set when the regex matches exactly the pattern's bytes (no marker, negated
  // multi-byte alternation or over-long gap was widened to "."). Empty when the
  // pattern can never match (a {n-m} gap with n > m, which clamscan loads).
  std::string Regex(bool* exact) const;
  bool nocase() const { return options_.nocase; }
  // Minimum and maximum total length (max = kUnbounded when it has * or {n-}).
  uint64_t min_length() const { return min_len_; }
  uint64_t max_length() const { return max_len_; }
  // False when some byte every match holds (a value/mask byte of the top-level sequence)
  // is one that `allowed` never admits: the pattern cannot match such a buffer. (Case
  // folding only widens what matches; for ::i, upper case letters count as admitted.)
  // Needs the forward form (any Compile keeps it until Prepare drops it).
  bool CanMatchOnly(bool (*allowed)(uint8_t)) const;

  // State reused across verifications (failure memo); one per thread.
  struct Scratch {
    std::unordered_set<uint64_t> memo;   // failed (token, position) states of bounded gaps
    // Per top-level unbounded gap: it failed from this position, so it fails from
    // every position further on (forwards) or further back (backwards).
    std::vector<uint64_t> gap_fail;
    uint64_t steps = 0;
  };

  // Given an anchor hit ending at `anchor_end`, tells whether the whole pattern
  // matches with its start in [first, last]. On success *start is the latest such start.
  bool VerifyAt(std::span<const uint8_t> data, uint64_t anchor_end, uint64_t first,
                uint64_t last, Scratch* scratch, uint64_t* start = nullptr) const;
  // Given a regex match ending at `end`, tells whether the whole pattern ends there
  // with its start in [first, last]. On success *start is such a start.
  bool VerifyEnd(std::span<const uint8_t> data, uint64_t end, uint64_t first, uint64_t last,
                 Scratch* scratch, uint64_t* start = nullptr) const;
  // The first bytes every match starts with (compared after case folding): the test
  // MatchWindow makes at each start before a full walk.
  const PatternHead& Head() const { return head_; }
  // Tries every start in [first, last] directly (for offset-anchored signatures).
  // Returns the number of starts that match, stopping after `limit`.
  // *first_start (if given) receives the first matching start.
  uint32_t MatchWindow(std::span<const uint8_t> data, uint64_t first, uint64_t last,
                       uint32_t limit, Scratch* scratch, uint64_t* first_start = nullptr) const;

 private:
  TokenSeq forward_;   // whole pattern (for MatchWindow)
  TokenSeq suffix_;    // tokens after the anchor
  TokenSeq prefix_;    // tokens before the anchor, reversed
  TokenSeq reversed_;  // whole pattern, reversed (for VerifyEnd)
  std::string anchor_;
  uint32_t anchor_tok_ = 0, anchor_at_ = 0;  // the anchor: forward_[anchor_tok_].value[anchor_at_...]
  bool has_forward_ = false, has_sides_ = false, has_reversed_ = false;
  PatternOptions options_;
  uint64_t min_len_ = 0, max_len_ = 0;
  bool has_gaps_ = false;
  PatternHead head_;
};

}  // namespace avkey::engine
