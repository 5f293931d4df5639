// YARA prefilter: proves from rule source text that a file cannot match, so that libyara
// is not called for it. Internal to the engine (used by yara_rules.cpp).
//
// Two halves:
//  * Analysis (AnalyseYaraSource): for every string of every rule, "atoms": byte literals
//    such that ANY match of the string contains at least one of them; and for every rule
//    whether it is "gated": its condition is provably false unless one of ITS OWN strings
//    matches somewhere in the data. A gated rule comes with the atoms of the strings that
//    gate it, so: no atom anywhere in the data => the rule does not match.
//  * YaraPrefilter: the atoms of a rule set compiled into one Vectorscan literal
//    database (or, in yara_rules.h's kExact mode, with the gating hex strings as regexes
//    instead of their atoms: YaraStringInfo::hex_regex), and a block scan that stops at
//    the first match.
//
// A rule set may be skipped for a file only if EVERY rule in it (private and global rules
// included) is gated and no atom occurs in the file: then every rule is false, whatever
// rules refer to each other. The analysis is conservative by construction: whatever it
// does not fully understand makes the rule (or the whole source) not gated, never gated.
//
// What is gated (after `condition:`; A, B conditions, N a decimal literal):
//   $a | $a at E | $a in (R) | #a > N (N >= 0) | #a >= N, #a == N (N >= 1) | #a != 0 |
//   Q of S [in (R)] with Q = any | all | N >= 1, S = them | ($a, $b*, ...) |
//   false | (A) | A and B (either gated) | A or B (both gated)
// Everything else is not: not, defined, none/0 of, for-loops (`for any of them : (true)`
// is true with no match), rule references, module calls, filesize/uint checks alone, ...
// A term is gated only through strings that have atoms (see below); `N of S` tolerates
// fewer than N strings without atoms.
//
// Atoms per string:
//   text      the text (or, with nocase, its longest ASCII run, matched caselessly);
//             `wide` -> UTF-16LE interleaved bytes; `wide ascii` -> both forms;
//             xor, base64, base64wide -> none (the string is "unatomisable")
//   hex       the longest fixed byte run, or a fixed run around one alternative made of
//             fixed bytes (one literal per branch), or one literal set per branch of an
//             alternative; jumps, ?? and nibbles break runs
//   regex     a literal run every match must contain (top-level `|`: one run per
//             branch); groups, classes, unknown escapes break runs; a quantified
//             character is dropped; anything odd -> unatomisable
// Atoms are cut to kMaxYaraAtomLength bytes (any piece of an atom is an atom).
// Case folding assumes libyara's C-locale tables (avkey never calls setlocale).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/status.h"
#include "engine/hs_block.h"

struct hs_database;
struct hs_scratch;
struct hs_platform_info;

namespace avkey::engine {

// Longest atom kept. Longer barely helps: on the bench set (bench/suite, 5,003 rules cut
// from the corpus files) 6,762 of 9,736 corpus files contain an atom at 16 bytes, 6,545
// with atoms uncut, because the uncut runs are mostly the unaltered parts of the cut.
inline constexpr size_t kMaxYaraAtomLength = 16;

// One literal that every match of some YARA string contains.
struct YaraAtom {
  std::string bytes;      // never empty
  bool caseless = false;  // ASCII letters match either case (every byte is < 0x80 then)
  bool operator==(const YaraAtom&) const = default;
};

// One string of a rule, as the analysis read it.
struct YaraStringInfo {
  std::string id;                // "$a"; "$" when anonymous
  bool atomisable = false;       // atoms is non-empty and covers every match
  std::vector<YaraAtom> atoms;
  std::string why_not;           // when not atomisable, e.g. "xor modifier"
  std::string hex_regex;         // atomisable hex strings: a Vectorscan regex (HS_FLAG_DOTALL)
                                 // matching at least what the string matches (exact mode)
  bool nocase = false;           // modifiers as written (for cross-checks with libyara)
  bool wide = false;
  bool xor_or_base64 = false;
};

// One rule, as the analysis read it.
struct YaraRuleGate {
  std::string name;
  bool is_private = false;
  bool is_global = false;
  std::vector<YaraStringInfo> strings;  // in declaration order
  bool gated = false;
  std::string why_not;          // when not gated, the first reason ("`not` at top level")
  std::vector<YaraAtom> atoms;  // when gated: the rule is false unless one occurs (may be
                                // empty: the condition can never be true)
  std::vector<size_t> gating_strings;  // when gated: indices of the strings `atoms` come from;
                                       // the rule is false unless one of them matches
};

// A source's analysis. When error is set, the source could not be read (rules is empty):
// none of its rules may be taken as gated.
struct YaraSourceGates {
  std::vector<YaraRuleGate> rules;  // in source order
  std::string error;
  uint64_t error_line = 0;
};

// Analyses one YARA source that libyara compiled (its syntax is trusted to be valid; the
// analysis still fails safe on anything unexpected). Bounded work: linear in the text
// apart from expression nesting, which is capped. Never throws but std::bad_alloc.
YaraSourceGates AnalyseYaraSource(std::string_view text);

// The atoms of one rule set, compiled into a Vectorscan literal database. Immutable and
// shareable; each thread scans with its own Scratch.
class YaraPrefilter {
 public:
  // Per-thread Vectorscan scratch for one prefilter. Movable, not copyable.
  class Scratch {
   public:
    Scratch() = default;
    bool valid() const { return scratch_ != nullptr; }

   private:
    friend class YaraPrefilter;
    struct Deleter {
      void operator()(hs_scratch* s) const;
    };
    std::unique_ptr<hs_scratch, Deleter> scratch_;
    BlockScan block_;  // hs_block.h: matches at the very end are not lost
  };

  enum class Outcome : uint8_t { kNoAtom, kAtomFound, kError };

  // Compiles the atoms and regexes (HS_FLAG_DOTALL syntax, e.g. YaraStringInfo::hex_regex),
  // duplicates removed. Literal API when there are only atoms (fast); the regex API
  // otherwise. Fails when both are empty or Vectorscan refuses one.
  // `platform`: the CPU to compile for (null: this one).
  static Result<std::unique_ptr<const YaraPrefilter>> Compile(std::span<const YaraAtom> atoms,
                                                              std::span<const std::string> regexes = {},
                                                              const hs_platform_info* platform = nullptr);
  // Wraps a database compiled earlier by Compile() (the compiled-pattern cache); takes
  // ownership. Its atom and regex counts are not known (0).
  static std::unique_ptr<const YaraPrefilter> Adopt(hs_database* db);
  const hs_database* database() const { return db_.get(); }
  ~YaraPrefilter();
  YaraPrefilter(const YaraPrefilter&) = delete;
  YaraPrefilter& operator=(const YaraPrefilter&) = delete;

  size_t atom_count() const { return atom_count_; }
  size_t regex_count() const { return regex_count_; }

  // A scratch for this prefilter (allocates); invalid when Vectorscan could not make one.
  Scratch NewScratch() const;
  // Whether any atom occurs in `data`; stops at the first one. Does not allocate.
  // kError (invalid scratch, data longer than 4 GiB - 1, Vectorscan failure) means
  // "unknown": the caller must scan as if an atom had been found.
  Outcome Scan(std::span<const uint8_t> data, Scratch& scratch) const;

 private:
  struct DbDeleter {
    void operator()(hs_database* db) const;
  };
  YaraPrefilter() = default;
  std::unique_ptr<hs_database, DbDeleter> db_;
  size_t atom_count_ = 0;
  size_t regex_count_ = 0;
};

}  // namespace avkey::engine
