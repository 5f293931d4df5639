// YARA rules through libyara. Internal to the engine.
// Compilation: one namespace per source file, with the external variables rule sets
// commonly expect (filename, filepath, extension, filetype, owner) declared as strings.
// Rules are immutable and shared; a YaraScanner is per thread.
//
// libyara is initialised on first use and finalised after the last object holding
// libyara state is gone (and not before static destruction), thread-safely.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/engine.h"

namespace avkey::engine {

class YaraRules;

// Version of the libyara headers built against ("4.2.3"; libyara has no runtime query).
const char* YaraVersion();

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
  Result<std::shared_ptr<const YaraRules>> Build();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
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

 private:
  friend class YaraCompiler;
  friend class YaraScanner;
  struct Impl;
  explicit YaraRules(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Per-thread scanner over shared rules. Not thread-safe; create one per worker.
// Holds one libyara YR_SCANNER per rule set, created once; after warm-up a scan
// that matches nothing allocates only inside libyara (it copies each external
// variable's value).
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
  Status Scan(std::span<const uint8_t> data, const ScanContext& context,
              std::string_view filetype, std::vector<std::string>* matched);

  // Per-scan, per-rule-set time budget; libyara counts whole seconds. 0 (the
  // default) means none.
  void set_timeout(std::chrono::seconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace avkey::engine
