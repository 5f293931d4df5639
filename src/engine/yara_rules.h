// YARA rules through libyara. Internal to the engine.
// Compilation: one namespace per source file, with the external variables rule sets
// commonly expect (filename, filepath, extension, filetype, owner) declared as strings.
// Rules are immutable and shared; a YaraScanner is per thread.
//
// Prefilter (yara_prefilter.h): when every source rule provably needs one of its own
// strings to match, the sources' string atoms are compiled into a Vectorscan literal
// database, and a scan hands the data to libyara only if one atom occurs in it (see
// YaraPrefilterMode). Results are identical either way; compiled rule files are never
// prefiltered.
//
// libyara is initialised on first use and finalised after the last object holding
// libyara state is gone (and not before static destruction), thread-safely.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/engine.h"
#include "engine/file_io.h"

namespace avkey::engine {

class YaraRules;

// Version of the libyara headers built against ("4.2.3"; libyara has no runtime query).
const char* YaraVersion();

// How the source rules are prefiltered (yara_prefilter.h). Results are identical in every
// mode; only the files libyara is given, and the start-up cost, differ.
enum class YaraPrefilterMode : uint8_t {
  kOff,    // every file goes to libyara
  kAtoms,  // the default: literal atoms (Vectorscan's literal API, ~0.1 s for the 5,003
           // rules of the bench set); weak when the atoms are common in the files scanned
  kExact,  // as kAtoms, but a gating hex string is compiled as a Vectorscan regex matching
           // what it matches (jumps over 64 bytes widened to .*): a file reaches libyara
           // only if such a string occurs in it. Compiling costs ~0.35 ms per hex string
           // with wildcards or jumps (1.8-2.6 s for the bench set): for use with a cache
};

// Collects YARA sources (text) and compiled rule files, then produces YaraRules.
// Not thread-safe; distinct compilers may be used on distinct threads.
//
// A source with errors is skipped whole and never poisons the others, although libyara's
// compiler is unusable after one error: the first failure costs one recompile of the
// sources accepted so far, and each later source is checked in a scratch compiler before
// it joins the rest (details and numbers in yara_rules.cpp). Consequences:
//  * a rule must not refer to rules of another source (namespaces are per file anyway;
//    within one namespace whether it works depends on load order: unsupported);
//  * `include` is disabled (reported as an error): every file is added on its own, and
//    a rule file must not make the scanner read other paths.
class YaraCompiler {
 public:
  YaraCompiler();
  ~YaraCompiler();
  YaraCompiler(const YaraCompiler&) = delete;
  YaraCompiler& operator=(const YaraCompiler&) = delete;

  // Adds rule source text under namespace `ns` (the file's base name). Errors and
  // warnings with line numbers go to *problems (file = `file`; warnings have reasons
  // starting "warning: " and do not skip anything); a source with errors
  // is skipped whole (libyara cannot skip one rule). Returns the number of rules added
  // (private and global rules included). `problems` may be null.
  size_t AddSource(std::string_view file, std::string_view ns, std::string_view text,
                   std::vector<LoadProblem>* problems);
  // Adds already-compiled rules (yarac output of this libyara's version). Returns false
  // with a problem if unreadable. libyara does not validate compiled rules: load only
  // files from a trusted source (ours are signed bundles), never user-supplied ones.
  bool AddCompiled(std::string_view file, std::span<const uint8_t> bytes,
                   std::vector<LoadProblem>* problems);
  // Compiles; nullptr result means no rules were added (not an error). Call once.
  // Also builds the prefilter when it is on and every source rule is gated; a prefilter
  // that cannot be built only leaves it off (the reason is in prefilter_stats()).
  Result<std::shared_ptr<const YaraRules>> Build();

  // How Build() prefilters the source rules. Default: kAtoms, or what the environment
  // variable AVKEY_YARA_PREFILTER says when the compiler is created ("off" or "0",
  // "atoms", "exact"). kOff exists for differential tests, benchmarks and as a field switch.
  void set_prefilter(YaraPrefilterMode mode);
  // Keeps the compiled source rules and the prefilter's Vectorscan database in the
  // compiled-pattern cache directory (pattern_cache.h), under the identity given to
  // set_cache_identity() before Build(). Call before the first AddSource(): sources are
  // then only recorded, and Build() compiles them only when the cache does not hold them
  // (so AddSource() returns 0, its problems are reported during Build(), and
  // source_rule_count() has the count). A warm start skips libyara's compiler, the
  // prefilter analysis and its compile. With a cache, and no mode chosen by set_prefilter()
  // or the environment, Build() uses kExact: its compile (seconds for thousands of hex
  // strings) is then paid once, and it lets far fewer files through than kAtoms.
  void set_cache(std::filesystem::path dir, bool read_only);
  void set_cache_identity(std::string identity);
  // Cache files must match these pins (DatabaseBuilder::SetTrustedFiles); not owned.
  void set_trusted_files(const TrustedFiles* pins);
  // Also store the prefilter compiled for any CPU (DatabaseBuilder::SetPortableCache).
  void set_portable_cache(bool on);
  // Rules compiled (or loaded) from AddSource() sources so far; after Build(), all of them.
  uint64_t source_rule_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the prefilter made of the source rules (yara_prefilter.h).
struct YaraPrefilterStats {
  uint64_t gated_rules = 0;    // source rules proved false unless one of their own atoms occurs
  uint64_t ungated_rules = 0;  // the others: any one keeps the prefilter off
  size_t atoms = 0;            // distinct literals in the Vectorscan database
  size_t regexes = 0;          // distinct hex-string regexes in it (kExact)
  std::string off_reason;      // why the source rules have no prefilter ("" when they have one):
                               // "file:line: rule NAME: reason" for the first ungated rule
  double analysis_ms = 0;      // reading every accepted source (0 when the prefilter is off)
  double compile_ms = 0;       // the Vectorscan compile
  std::string note;            // e.g. why kExact fell back to atoms
};

// Immutable compiled rules: one libyara rule set for all sources plus one per compiled
// file (libyara cannot merge compiled rule sets). Thread-safe to share.
class YaraRules {
 public:
  ~YaraRules();
  YaraRules(const YaraRules&) = delete;
  YaraRules& operator=(const YaraRules&) = delete;

  // Rules in all sets (private and global rules included).
  uint64_t rule_count() const;
  // Number of libyara rule sets; each costs one pass over the data per scan.
  size_t set_count() const;
  // Number of rule sets with a prefilter (0 or 1: only the source rules can have one).
  size_t prefiltered_set_count() const;
  const YaraPrefilterStats& prefilter_stats() const;
  // The compiled-rules cache (YaraCompiler::set_cache): "disabled", "hit", "miss", or
  // "rejected: <why>" (compiled again), possibly with "; not stored: <why>".
  const std::string& cache_state() const;

 private:
  friend class YaraCompiler;
  friend class YaraScanner;
  struct Impl;
  explicit YaraRules(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Per-thread scanner over shared rules. Not thread-safe; create one per worker.
// Holds one libyara YR_SCANNER per rule set and one Vectorscan scratch per prefilter,
// created once; after warm-up a scan that matches nothing allocates only inside libyara
// (it copies each external variable's value), and a scan its prefilter skips not at all.
//
// External variables per scan: filename = context.file_name, filepath =
// context.file_path, owner = context.owner, filetype = `filetype`, and extension =
// the file name's extension as LOKI/THOR compute it (Python's os.path.splitext, then
// ASCII lowercase): the dot included (".exe"), from the last dot of the base name,
// "" when there is none or the name's only dots are leading (".bashrc"), and "." for
// "name.". Values stop at the first NUL byte (libyara takes C strings).
class YaraScanner {
 public:
  explicit YaraScanner(std::shared_ptr<const YaraRules> rules);  // rules may be null
  ~YaraScanner();
  YaraScanner(const YaraScanner&) = delete;
  YaraScanner& operator=(const YaraScanner&) = delete;

  // Appends the identifiers of matching rules ("rule_name", as the yara CLI prints
  // them) to *matched, in rule order (source rules first, then each compiled file in
  // the order added). filetype is a short string like "PE", "ELF".
  // Errors (a budget was hit, libyara failed) are reported after every rule set has
  // been tried, and what did match is still appended:
  //  * a string with more than 1,000,000 matches is ignored past that point, exactly as
  //    the yara CLI does, so *matched is what `yara` reports; the Status names it;
  //  * a timeout or other libyara error loses that rule set's matches (libyara
  //    evaluates conditions only after the whole buffer was searched).
  // A set its prefilter skips matches nothing and cannot fail (libyara is not run; a
  // condition that would have timed out on that file is not evaluated).
  Status Scan(std::span<const uint8_t> data, const ScanContext& context,
              std::string_view filetype, std::vector<std::string>* matched);

  // Per-scan, per-rule-set time budget; libyara counts whole seconds. 0 (the
  // default) means none.
  void set_timeout(std::chrono::seconds timeout);

  // How many times a rule set was not handed to libyara because no atom of its
  // prefilter occurs in the data (one per set per Scan), since construction.
  uint64_t prefilter_skips() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace avkey::engine
