// YARA rules through libyara; the contract is in yara_rules.h.
//
// libyara facts this file is built around (checked against 4.2.3):
//  * yr_compiler_add_string() on a compiler that already saw an error aborts the process
//    (assert in compiler.c), and yr_compiler_get_rules() does too; so a failed compiler is
//    thrown away, never reused.
//  * yr_initialize()/yr_finalize() are reference counted but not thread-safe.
//  * A YR_RULES is read-only during scans: many YR_SCANNERs (one per thread) may share it.
//  * Private rules are never reported to the scan callback; conditions are evaluated after
//    the whole buffer was searched, so an aborted scan reports no rule of that set.
#include "engine/yara_rules.h"

#include <fmt/format.h>
#include <yara.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "engine/pattern_cache.h"
#include "engine/yara_prefilter.h"
#include "engine/yara_source.h"

namespace avkey::engine {
namespace {

// ---- libyara lifetime -------------------------------------------------------------------

// Holders of libyara state counted under a mutex (libyara's own count is unguarded).
// Never destroyed, so a holder that outlives static destruction (a Database kept in a
// static) can still release safely.
struct LibyaraState {
  std::mutex mu;
  int holders = 0;
};

LibyaraState& State() {
  static auto* state = new LibyaraState;  // intentionally leaked, see above
  return *state;
}

int RetainLibyara() {
  LibyaraState& s = State();
  std::lock_guard lock(s.mu);
  if (s.holders == 0) {
    int rc = yr_initialize();
    if (rc != ERROR_SUCCESS) return rc;
  }
  ++s.holders;
  return ERROR_SUCCESS;
}

void ReleaseLibyara() {
  LibyaraState& s = State();
  std::lock_guard lock(s.mu);
  if (--s.holders == 0) yr_finalize();
}

// One share of libyara's initialisation. Every object holding libyara handles owns one,
// declared before the handles so that it is released after them.
class LibyaraRef {
 public:
  LibyaraRef() = default;
  LibyaraRef(LibyaraRef&& other) noexcept : held_(std::exchange(other.held_, false)) {}
  LibyaraRef& operator=(LibyaraRef&& other) noexcept {
    if (this != &other) {
      Reset();
      held_ = std::exchange(other.held_, false);
    }
    return *this;
  }
  ~LibyaraRef() { Reset(); }

  // Initialises libyara if needed. The first call also pins it until static destruction
  // (a function-local static), so objects created and destroyed in a loop (tests, the
  // fuzzer) do not re-initialise libyara each time.
  static Result<LibyaraRef> Acquire();

 private:
  void Reset() {
    if (held_) {
      held_ = false;
      ReleaseLibyara();
    }
  }
  bool held_ = false;
};

std::string_view ErrorText(int code) {
  switch (code) {
    case ERROR_INSUFFICIENT_MEMORY: return "out of memory";
    case ERROR_INVALID_FILE: return "not a compiled YARA rules file";
    case ERROR_CORRUPT_FILE: return "corrupt compiled YARA rules";
    case ERROR_UNSUPPORTED_FILE_VERSION:
      return "compiled by an incompatible YARA version (this is libyara " YR_VERSION
             "; recompile with its yarac or ship the source)";
    case ERROR_COULD_NOT_READ_FILE: return "truncated compiled YARA rules";
    case ERROR_SCAN_TIMEOUT: return "timed out";
    case ERROR_TOO_MANY_MATCHES: return "a string has too many matches";
    case ERROR_CALLBACK_ERROR: return "match callback failed";
    case ERROR_EXEC_STACK_OVERFLOW: return "condition overflowed libyara's stack";
    case ERROR_TOO_MANY_RE_FIBERS: return "regular expression too complex to match";
    case ERROR_INVALID_EXTERNAL_VARIABLE_TYPE: return "external variable has another type";
    case ERROR_INVALID_ARGUMENT: return "invalid argument";
    case ERROR_INTERNAL_FATAL_ERROR: return "libyara internal error";
    case ERROR_BLOCK_NOT_READY: return "data block not ready";
    default: return "libyara error";
  }
}

std::string DescribeError(int code) { return fmt::format("{} (libyara error {})", ErrorText(code), code); }

Result<LibyaraRef> LibyaraRef::Acquire() {
  static const LibyaraRef pin = [] {
    LibyaraRef r;
    r.held_ = RetainLibyara() == ERROR_SUCCESS;
    return r;
  }();
  (void)pin;
  int rc = RetainLibyara();
  if (rc != ERROR_SUCCESS) return Fail("cannot initialise libyara: " + DescribeError(rc));
  LibyaraRef r;
  r.held_ = true;
  return r;
}

// ---- handles -----------------------------------------------------------------------------

struct CompilerDeleter {
  void operator()(YR_COMPILER* c) const { yr_compiler_destroy(c); }
};
using CompilerPtr = std::unique_ptr<YR_COMPILER, CompilerDeleter>;
struct RulesDeleter {
  void operator()(YR_RULES* r) const { yr_rules_destroy(r); }
};
using RulesPtr = std::unique_ptr<YR_RULES, RulesDeleter>;
struct ScannerDeleter {
  void operator()(YR_SCANNER* s) const { yr_scanner_destroy(s); }
};
using ScannerPtr = std::unique_ptr<YR_SCANNER, ScannerDeleter>;

// ---- external variables ------------------------------------------------------------------

enum External : int { kFileName, kFilePath, kExtension, kFileType, kOwner, kExternalCount };
constexpr std::array<const char*, kExternalCount> kExternalNames = {
    "filename", "filepath", "extension", "filetype", "owner"};
constexpr uint8_t kAllExternals = (1u << kExternalCount) - 1;

// Which of our externals `rules` declares as strings (compiled rules may lack some, or
// declare one as an integer: those keep their compiled-in value).
uint8_t StringExternalsOf(const YR_RULES* rules) {
  uint8_t mask = 0;
  for (const YR_EXTERNAL_VARIABLE* e = rules->ext_vars_table; !EXTERNAL_VARIABLE_IS_NULL(e); ++e) {
    if (e->type != EXTERNAL_VARIABLE_TYPE_STRING && e->type != EXTERNAL_VARIABLE_TYPE_MALLOC_STRING) {
      continue;
    }
    for (int i = 0; i < kExternalCount; ++i) {
      if (std::strcmp(e->identifier, kExternalNames[i]) == 0) mask |= 1u << i;
    }
  }
  return mask;
}

// LOKI's `extension`: os.path.splitext(name)[1].lower() (".exe"; "" for ".bashrc").
void ExtensionOf(std::string_view name, std::string* out) {
  out->clear();
  if (size_t slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return;
  size_t first = name.find_first_not_of('.');
  if (first == std::string_view::npos || first > dot) return;  // only leading dots
  out->assign(name.substr(dot));
  for (char& ch : *out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
}

// ---- compilation -------------------------------------------------------------------------

// Where a compiler's messages go (the callback's user_data).
struct CompileLog {
  std::string_view file;
  std::vector<LoadProblem>* problems = nullptr;
  bool record_warnings = true;
  std::string_view error_suffix;  // appended to error reasons
  uint64_t last_line = 0;         // reported for errors libyara puts on line 0 (end of file)
  int errors = 0;
};

void OnCompileMessage(int error_level, const char* /*file_name*/, int line_number,
                      const YR_RULE* rule, const char* message, void* user_data) noexcept {
  auto* log = static_cast<CompileLog*>(user_data);
  bool warning = error_level == YARA_ERROR_LEVEL_WARNING;
  if (!warning) ++log->errors;
  if (log->problems == nullptr || (warning && !log->record_warnings)) return;
  try {
    std::string reason = warning ? "warning: " : "";
    if (rule != nullptr && rule->identifier != nullptr) {
      reason += fmt::format("rule {}: ", rule->identifier);
    }
    reason += message != nullptr ? message : "unknown error";
    if (!warning) reason += log->error_suffix;
    uint64_t line = line_number > 0 ? static_cast<uint64_t>(line_number) : log->last_line;
    log->problems->push_back(LoadProblem{std::string(log->file), line, std::move(reason)});
  } catch (...) {
    // Out of memory while recording: the problem is lost, never thrown into libyara.
  }
}

// A compiler with our externals declared, includes disabled and messages going to *log.
Result<CompilerPtr> NewCompiler(CompileLog* log) {
  YR_COMPILER* raw = nullptr;
  int rc = yr_compiler_create(&raw);
  if (rc != ERROR_SUCCESS) return Fail("cannot create a YARA compiler: " + DescribeError(rc));
  CompilerPtr compiler(raw);
  // No include callback: libyara reports "includes are disabled" at the include line.
  yr_compiler_set_include_callback(raw, nullptr, nullptr, nullptr);
  for (const char* name : kExternalNames) {
    rc = yr_compiler_define_string_variable(raw, name, "");
    if (rc != ERROR_SUCCESS) {
      return Fail(fmt::format("cannot declare YARA external '{}': {}", name, DescribeError(rc)));
    }
  }
  yr_compiler_set_callback(raw, OnCompileMessage, log);
  return compiler;
}

const char* NamespaceOrNull(const std::string& ns) { return ns.empty() ? nullptr : ns.c_str(); }

uint64_t LineOf(std::string_view text, size_t offset) {
  return 1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(offset), '\n');
}

// yr_rules_load_stream() reading from memory, with fread's contract.
struct MemoryReader {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
};

size_t ReadFromMemory(void* ptr, size_t size, size_t count, void* user_data) noexcept {
  auto* reader = static_cast<MemoryReader*>(user_data);
  if (size == 0 || count == 0) return 0;
  size_t items = std::min(count, (reader->bytes.size() - reader->pos) / size);
  if (items == 0) return 0;  // also keeps a null data() away from memcpy
  std::memcpy(ptr, reader->bytes.data() + reader->pos, items * size);
  reader->pos += items * size;
  return items;
}

// What the scan callback collects (its user_data); cleared before each rule set's scan.
struct ScanState {
  std::vector<const YR_RULE*> hits;         // matching rules, in rule order
  std::vector<const YR_STRING*> overflowed;  // strings past YR_MAX_STRING_MATCHES
  bool callback_failed = false;
};

// A source in the main compiler.
struct AcceptedSource {
  std::string ns;
  std::string text;
  std::string file;
  uint64_t rules = 0;  // as libyara counted them
};

// One libyara rule set and how to scan it.
struct RuleSet {
  RulesPtr rules;
  uint8_t externals = 0;  // kExternalNames bits declared as strings
  std::string origin;     // for messages: "source rules" or the compiled file
  std::unique_ptr<const YaraPrefilter> prefilter;  // null: always run libyara
};

}  // namespace

const char* YaraVersion() { return YR_VERSION; }

// ---- YaraRules ---------------------------------------------------------------------------

struct YaraRules::Impl {
  LibyaraRef lib;  // first: released after the sets
  std::vector<RuleSet> sets;
  uint64_t rule_count = 0;
  YaraPrefilterStats prefilter;
  std::string cache_state = "disabled";
};

YaraRules::YaraRules(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
YaraRules::~YaraRules() = default;
uint64_t YaraRules::rule_count() const { return impl_->rule_count; }
size_t YaraRules::set_count() const { return impl_->sets.size(); }
size_t YaraRules::prefiltered_set_count() const {
  return static_cast<size_t>(std::count_if(impl_->sets.begin(), impl_->sets.end(),
                                           [](const RuleSet& set) { return set.prefilter != nullptr; }));
}
const YaraPrefilterStats& YaraRules::prefilter_stats() const { return impl_->prefilter; }
const std::string& YaraRules::cache_state() const { return impl_->cache_state; }

// ---- YaraCompiler ------------------------------------------------------------------------

// Sources go straight into one main compiler while all is well (1x the compile work).
// libyara cannot continue after an error, so the first failure costs one replay of the
// accepted sources into a fresh main compiler, and switches to checked mode: from then
// on each source is first compiled into a scratch "checker" compiler, and reaches main
// only if it passed there. The checker holds the sources accepted since it was created
// (a subset of main's), so what fails there would fail in main too; it is thrown away
// after any failure. Replaying after every failure would be quadratic in the number of
// bad files, and checking every source in a fresh compiler costs 2x the work plus
// libyara's compiler set-up, which dominates for small files. Measured here on 300 files
// x 20 rules: fresh checker per file 1.45 s vs plain libyara 0.46 s; this scheme is on
// par with plain libyara for a clean set, and ~1.5x with one file in ten broken.
struct YaraCompiler::Impl {
  LibyaraRef lib;          // first: released after every handle below
  std::string fatal;       // non-empty once this compiler cannot produce rules
  CompileLog main_log;     // callback targets (stable addresses)
  CompileLog check_log;
  CompilerPtr main;        // every accepted source, compiled together
  CompilerPtr checker;     // checked mode: accepted sources since the last failure
  bool checked_mode = false;
  YaraPrefilterMode prefilter = YaraPrefilterMode::kAtoms;
  bool prefilter_chosen = false;   // by set_prefilter() or AVKEY_YARA_PREFILTER
  std::filesystem::path cache_dir;  // the compiled-pattern cache; empty: none
  std::string identity;             // of the signature set: keys the cache
  bool cache_read_only = false;
  const TrustedFiles* pins = nullptr;  // DatabaseBuilder's, which outlives this compiler's Build()
  bool portable_cache = false;  // also store a prefilter compiled for any CPU
  // With a cache, sources are recorded by AddSource() and compiled by Build() only when the
  // cache does not hold their compiled form.
  bool defer = false;
  struct Pending {
    std::string file, ns, text;
    std::vector<LoadProblem>* problems;
  };
  std::vector<Pending> pending;
  using Accepted = AcceptedSource;
  std::vector<Accepted> accepted;  // replayed into a fresh `main` after a failure; analysed by Build
  uint64_t source_rules = 0;
  std::vector<RuleSet> compiled;   // AddCompiled, in order
  bool built = false;

  // The source rules' prefilter, through the cache when there is one (defined below).
  std::unique_ptr<const YaraPrefilter> CachedPrefilter(const YR_RULES* rules, YaraPrefilterStats* stats);
  // Compiles one source into `main` (AddSource's work; see the comment above Impl).
  size_t Compile(std::string_view file, std::string_view ns, std::string_view text,
                 std::vector<LoadProblem>* problems);
  // One attempt at it; *source_error when libyara refused the text (not for a failure of
  // avkey's own, such as a compiler that cannot be created).
  size_t CompileOnce(std::string_view file, std::string_view ns, std::string_view text,
                     std::vector<LoadProblem>* problems, bool* source_error);
  // The pending sources' compiled rules from the cache: sets `accepted` and `source_rules`
  // and replays each source's load problems. Null on a miss or a rejected file (*why).
  RulesPtr LoadCachedRules(std::string* why);
  // What compiling one pending source gave: what the cache keeps of it.
  struct Outcome {
    bool accepted = false;
    uint64_t rules = 0;
    std::vector<LoadProblem> problems;
  };
  // Stores `rules` (compiled from the pending sources) with each source's outcome.
  Status StoreCachedRules(YR_RULES* rules, const std::vector<Outcome>& outcomes);
  std::string RulesCacheKey() const { return fmt::format("{}-yara{}-rules", identity.substr(0, 32), YR_VERSION); }

  // Replaces `main` (which saw an error and is now unusable) by a compiler holding the
  // accepted sources again. They compiled together before, so this cannot fail short of
  // memory.
  Status RebuildMain() {
    main.reset();
    main_log = CompileLog{};
    auto fresh = NewCompiler(&main_log);
    if (!fresh) return fresh.status();
    for (const Accepted& a : accepted) {
      if (yr_compiler_add_string(fresh->get(), a.text.c_str(), NamespaceOrNull(a.ns)) != 0) {
        return Status::Error("YARA: recompiling the accepted sources failed");
      }
    }
    main = std::move(*fresh);
    return Status::Ok();
  }
};

namespace {

// Adds a source to `compiler` with messages going to *log (set for this call only).
// Returns libyara's error count; reports an error libyara did not pass to the callback.
int AddToCompiler(YR_COMPILER* compiler, CompileLog* log, CompileLog entry, const std::string& text,
                  const std::string& ns) {
  *log = std::move(entry);
  int errors = yr_compiler_add_string(compiler, text.c_str(), NamespaceOrNull(ns));
  if (errors > 0 && log->errors == 0 && log->problems != nullptr) {
    char buffer[256];
    log->problems->push_back(
        LoadProblem{std::string(log->file), 0, yr_compiler_get_error_message(compiler, buffer, sizeof buffer)});
  }
  *log = CompileLog{};
  return errors;
}

}  // namespace

YaraCompiler::YaraCompiler() : impl_(std::make_unique<Impl>()) {
  if (const char* env = std::getenv("AVKEY_YARA_PREFILTER"); env != nullptr) {
    const std::string_view v = env;
    if (v == "0" || v == "off") impl_->prefilter = YaraPrefilterMode::kOff;
    if (v == "exact") impl_->prefilter = YaraPrefilterMode::kExact;
    impl_->prefilter_chosen = v == "0" || v == "off" || v == "exact" || v == "atoms";
  }
  auto lib = LibyaraRef::Acquire();
  if (lib) {
    impl_->lib = std::move(*lib);
  } else {
    impl_->fatal = lib.error();
  }
}

YaraCompiler::~YaraCompiler() = default;

size_t YaraCompiler::AddSource(std::string_view file, std::string_view ns, std::string_view text,
                               std::vector<LoadProblem>* problems) {
  Impl& c = *impl_;
  auto report = [&](uint64_t line, std::string reason) {
    if (problems != nullptr) problems->push_back(LoadProblem{std::string(file), line, std::move(reason)});
  };
  if (c.built) {
    report(0, "YARA source added after the rules were built; skipped");
    return 0;
  }
  if (!c.fatal.empty()) {
    report(0, c.fatal);
    return 0;
  }
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    report(LineOf(text, nul), "NUL byte in YARA source; file skipped");
    return 0;
  }
  if (c.defer) {
    c.pending.push_back(Impl::Pending{std::string(file), std::string(ns), std::string(text), problems});
    return 0;
  }
  return c.Compile(file, ns, text, problems);
}

size_t YaraCompiler::Impl::Compile(std::string_view file, std::string_view ns, std::string_view text,
                                   std::vector<LoadProblem>* problems) {
  // A source libyara refuses loses only the statement its error is in: that rule (or
  // import, include) is blanked out and the rest compiled again, until it compiles. Rules
  // that used a dropped one fail in turn and go too. Past kMaxDropped statements, or for
  // an error in no statement, the whole file is skipped as before.
  constexpr size_t kMaxDropped = 64;
  std::string source(text);
  struct Piece {
    YaraStatement statement;
    uint64_t first_line, last_line;
    bool dropped = false;
  };
  std::vector<Piece> pieces;
  bool split = false;
  std::vector<std::pair<LoadProblem, std::string>> dropped;  // an error, and what it cost
  size_t dropped_statements = 0;
  for (;;) {
    std::vector<LoadProblem> round;
    bool source_error = false;
    const size_t rules = CompileOnce(file, ns, source, &round, &source_error);
    // Each error's statement: the one on its line; of several on one line, the rule
    // libyara names. (libyara stops at a syntax error but reports every semantic one.)
    std::vector<std::pair<size_t, Piece*>> culprits;  // index into round, statement
    if (source_error) {
      if (!split) {  // once: blanking keeps every offset and line
        split = true;
        uint64_t line = 1;
        size_t at = 0;
        auto line_at = [&](size_t offset) {
          line += static_cast<uint64_t>(std::count(source.begin() + static_cast<ptrdiff_t>(at),
                                                   source.begin() + static_cast<ptrdiff_t>(offset), '\n'));
          at = offset;
          return line;
        };
        for (YaraStatement& st : SplitYaraStatements(source)) {
          if (st.end <= st.begin) continue;
          const uint64_t first = line_at(st.begin);
          const uint64_t last = line_at(st.end - 1);
          pieces.push_back({std::move(st), first, last});
        }
      }
      for (size_t e = 0; e < round.size(); ++e) {
        const LoadProblem& error = round[e];
        if (error.reason.starts_with("warning: ")) continue;
        Piece* culprit = nullptr;
        for (Piece& p : pieces) {
          if (p.dropped || p.first_line > error.line || error.line > p.last_line) continue;
          const bool named = p.statement.is_rule && error.reason.starts_with("rule " + p.statement.name + ": ");
          if (culprit == nullptr || named) culprit = &p;
          if (named) break;
        }
        if (culprit == nullptr) {  // an error in no statement: nothing to drop
          culprits.clear();
          break;
        }
        culprits.emplace_back(e, culprit);
      }
    }
    if (!culprits.empty() && dropped_statements + culprits.size() <= kMaxDropped) {
      for (auto [e, culprit] : culprits) {
        const bool again = culprit->dropped;  // a second error in the same statement
        culprit->dropped = true;
        if (!again) {
          BlankOut(&source, culprit->statement);
          ++dropped_statements;
        }
        dropped.emplace_back(std::move(round[e]),
                             culprit->statement.is_rule
                                 ? fmt::format(" (rule '{}' skipped; the file's other rules load)", culprit->statement.name)
                                 : std::string(" (statement skipped; the rules that need it are skipped too)"));
      }
      continue;
    }
    if (problems != nullptr) {
      // When the file is skipped after all, its errors are reported without the notes.
      for (auto& [problem, note] : dropped) {
        if (source_error) note.clear();
        problems->push_back(std::move(problem));
        problems->back().reason += note;
      }
      problems->insert(problems->end(), std::make_move_iterator(round.begin()), std::make_move_iterator(round.end()));
    }
    return rules;
  }
}

size_t YaraCompiler::Impl::CompileOnce(std::string_view file, std::string_view ns, std::string_view text,
                                       std::vector<LoadProblem>* problems, bool* source_error) {
  Impl& c = *this;
  auto report = [&](uint64_t line, std::string reason) {
    if (problems != nullptr) problems->push_back(LoadProblem{std::string(file), line, std::move(reason)});
  };
  if (!c.fatal.empty()) {
    report(0, c.fatal);
    return 0;
  }
  // libyara says line 0 for "unexpected end of file"; the last line is more useful.
  const uint64_t last_line = LineOf(text, text.size()) - (text.ends_with('\n') ? 1 : 0);
  // Kept before compiling, so that `main` never holds a source that could not be replayed.
  c.accepted.push_back(Impl::Accepted{std::string(ns), std::string(text), std::string(file), 0});  // C strings
  const Impl::Accepted& source = c.accepted.back();

  if (c.checked_mode) {
    if (!c.checker) {
      auto fresh = NewCompiler(&c.check_log);
      if (!fresh) {
        c.accepted.pop_back();
        report(0, fresh.error());
        return 0;
      }
      c.checker = std::move(*fresh);
    }
    CompileLog entry{file, problems, /*record_warnings=*/true, {}, last_line, 0};
    if (AddToCompiler(c.checker.get(), &c.check_log, entry, source.text, source.ns) > 0) {
      c.checker.reset();
      c.accepted.pop_back();
      *source_error = true;
      return 0;
    }
  }

  if (!c.main) {
    auto fresh = NewCompiler(&c.main_log);
    if (!fresh) {
      c.fatal = fresh.error();
      c.accepted.pop_back();
      report(0, c.fatal);
      return 0;
    }
    c.main = std::move(*fresh);
  }
  // In checked mode the warnings were reported by the check, and an error here can only
  // be a conflict with a source accepted before the checker was created.
  CompileLog entry{file, problems, /*record_warnings=*/!c.checked_mode,
                   c.checked_mode ? " (conflicts with an earlier YARA source)" : "", last_line, 0};
  const uint32_t before = c.main->next_rule_idx;
  const int errors = AddToCompiler(c.main.get(), &c.main_log, entry, source.text, source.ns);
  const uint32_t after = c.main->next_rule_idx;
  if (errors > 0) {
    c.accepted.pop_back();
    c.checked_mode = true;
    c.checker.reset();  // it may hold the source main just refused
    if (Status s = c.RebuildMain(); !s.ok()) {
      c.fatal = s.message();
      report(0, c.fatal);
      return 0;
    }
    *source_error = true;
    return 0;
  }
  c.source_rules += after - before;
  c.accepted.back().rules = after - before;
  return after - before;
}

void YaraCompiler::set_prefilter(YaraPrefilterMode mode) {
  impl_->prefilter = mode;
  impl_->prefilter_chosen = true;
}

void YaraCompiler::set_cache(std::filesystem::path dir, bool read_only) {
  impl_->cache_dir = std::move(dir);
  impl_->cache_read_only = read_only;
  // Sources added before this were compiled already; only later ones can come from the cache.
  impl_->defer = !impl_->cache_dir.empty() && impl_->accepted.empty() && !impl_->main;
}

void YaraCompiler::set_cache_identity(std::string identity) { impl_->identity = std::move(identity); }
void YaraCompiler::set_trusted_files(const TrustedFiles* pins) { impl_->pins = pins; }
void YaraCompiler::set_portable_cache(bool on) { impl_->portable_cache = on; }

uint64_t YaraCompiler::source_rule_count() const { return impl_->source_rules; }

bool YaraCompiler::AddCompiled(std::string_view file, std::span<const uint8_t> bytes,
                               std::vector<LoadProblem>* problems) {
  Impl& c = *impl_;
  auto report = [&](std::string reason) {
    if (problems != nullptr) problems->push_back(LoadProblem{std::string(file), 0, std::move(reason)});
    return false;
  };
  if (c.built) return report("compiled YARA rules added after the rules were built; skipped");
  if (!c.fatal.empty()) return report(c.fatal);
  MemoryReader reader{bytes, 0};
  YR_STREAM stream{};
  stream.user_data = &reader;
  stream.read = ReadFromMemory;
  YR_RULES* raw = nullptr;
  int rc = yr_rules_load_stream(&stream, &raw);
  if (rc != ERROR_SUCCESS) return report("cannot load compiled YARA rules: " + DescribeError(rc));
  RulesPtr rules(raw);
  // The file ends with 8-byte relocation records read until end of stream, so libyara
  // takes a file cut inside the last record for a complete one (and leaves a pointer
  // unrelocated). Bytes it did not consume mean exactly that. A cut on a record boundary
  // is undetectable here: integrity is the signed bundle's job.
  if (reader.pos != bytes.size()) {
    return report(fmt::format("cannot load compiled YARA rules: {} trailing bytes (truncated or corrupt file)",
                              bytes.size() - reader.pos));
  }
  uint8_t externals = StringExternalsOf(raw);
  c.compiled.push_back(RuleSet{std::move(rules), externals, std::string(file), nullptr});
  return true;
}

namespace {

// Whether libyara compiled `rule` with the strings the analysis read: the same
// identifiers in order (the pieces libyara chains a long hex string into, and
// consecutive anonymous strings, folded), and no nocase, wide, xor or base64 the
// analysis did not see. A mismatch means the analysis misread the source.
bool SameStrings(const YR_RULE* rule, const std::vector<YaraStringInfo>& strings) {
  struct Entry {
    std::string_view id;
    bool nocase = false, wide = false, xor_or_base64 = false;
  };
  auto add = [](std::vector<Entry>* v, Entry e) {
    if (!v->empty() && v->back().id == e.id) {
      v->back().nocase |= e.nocase;
      v->back().wide |= e.wide;
      v->back().xor_or_base64 |= e.xor_or_base64;
    } else {
      v->push_back(e);
    }
  };
  std::vector<Entry> lib, ours;
  const YR_STRING* string = nullptr;
  yr_rule_strings_foreach(rule, string) {
    const int32_t f = static_cast<int32_t>(string->flags);
    add(&lib, Entry{string->identifier, (f & STRING_FLAGS_NO_CASE) != 0, (f & STRING_FLAGS_WIDE) != 0,
                    (f & (STRING_FLAGS_XOR | STRING_FLAGS_BASE64 | STRING_FLAGS_BASE64_WIDE)) != 0});
  }
  for (const YaraStringInfo& s : strings) add(&ours, Entry{s.id, s.nocase, s.wide, s.xor_or_base64});
  if (lib.size() != ours.size()) return false;
  for (size_t i = 0; i < lib.size(); ++i) {
    if (lib[i].id != ours[i].id || (lib[i].nocase && !ours[i].nocase) || (lib[i].wide && !ours[i].wide) ||
        (lib[i].xor_or_base64 && !ours[i].xor_or_base64)) {
      return false;
    }
  }
  return true;
}

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Analyses every accepted source (in compile order, as libyara numbered their rules) and
// compiles the atoms when every rule is gated. Null when the source rules cannot be
// prefiltered; *stats says why.
// `platform`: the CPU to compile for (null: this one).
std::unique_ptr<const YaraPrefilter> BuildPrefilter(const std::vector<AcceptedSource>& accepted, const YR_RULES* rules,
                                                   YaraPrefilterMode mode, YaraPrefilterStats* stats,
                                                   const hs_platform_info_t* platform = nullptr) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<YaraAtom> atoms, exact_atoms;  // kExact: atoms of the strings without a regex
  std::vector<std::string> regexes;
  auto off = [&](std::string reason) {
    if (stats->off_reason.empty()) stats->off_reason = std::move(reason);
  };
  const YR_RULE* lib_rule = rules->rules_table;
  uint64_t lib_index = 0;
  for (const AcceptedSource& source : accepted) {
    YaraSourceGates gates = AnalyseYaraSource(source.text);
    const uint64_t first = lib_index;
    lib_index += source.rules;
    if (!gates.error.empty() || gates.rules.size() != source.rules || lib_index > rules->num_rules) {
      stats->ungated_rules += source.rules;
      off(!gates.error.empty()
              ? fmt::format("{}:{}: not analysed: {}", source.file, gates.error_line, gates.error)
              : fmt::format("{}: analysis read {} rules, libyara compiled {}", source.file, gates.rules.size(),
                            source.rules));
      continue;
    }
    for (size_t i = 0; i < gates.rules.size(); ++i) {
      const YaraRuleGate& rule = gates.rules[i];
      const YR_RULE* lib = lib_rule + first + i;
      if (rule.name != lib->identifier || !SameStrings(lib, rule.strings)) {
        ++stats->ungated_rules;
        off(fmt::format("{}: rule {}: analysis disagrees with libyara on its name or strings", source.file,
                        lib->identifier));
      } else if (!rule.gated) {
        ++stats->ungated_rules;
        off(fmt::format("{}: rule {}: not gated: {}", source.file, rule.name, rule.why_not));
      } else {
        ++stats->gated_rules;
        atoms.insert(atoms.end(), rule.atoms.begin(), rule.atoms.end());
        if (mode == YaraPrefilterMode::kExact) {
          for (size_t s : rule.gating_strings) {
            const YaraStringInfo& string = rule.strings[s];
            if (!string.hex_regex.empty()) {
              regexes.push_back(string.hex_regex);
            } else {
              exact_atoms.insert(exact_atoms.end(), string.atoms.begin(), string.atoms.end());
            }
          }
        }
      }
    }
  }
  stats->analysis_ms = MillisecondsSince(start);
  if (lib_index != rules->num_rules) {
    off(fmt::format("the sources hold {} rules, libyara compiled {}", lib_index, rules->num_rules));
    return nullptr;
  }
  if (stats->ungated_rules > 0) return nullptr;
  if (atoms.empty()) {
    // Every rule is gated by `false`-like conditions: none can ever match. Rare enough
    // not to special-case; libyara runs.
    off("no atoms (no rule can match)");
    return nullptr;
  }
  const auto compile_start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<const YaraPrefilter>> prefilter = Fail("not compiled");
  if (mode == YaraPrefilterMode::kExact) {
    prefilter = YaraPrefilter::Compile(exact_atoms, regexes, platform);
    if (!prefilter) stats->note = "exact mode failed, atoms used: " + prefilter.error();
  }
  if (!prefilter) prefilter = YaraPrefilter::Compile(atoms, {}, platform);
  stats->compile_ms = MillisecondsSince(compile_start);
  if (!prefilter) {
    off(prefilter.error());
    return nullptr;
  }
  stats->atoms = (*prefilter)->atom_count();
  stats->regexes = (*prefilter)->regex_count();
  return std::move(*prefilter);
}

}  // namespace

// BuildPrefilter() through the compiled-pattern cache when the compiler has one. The key
// names the mode and libyara's version (the analysis is checked against libyara's view
// of the rules); the identity and the writer's avkey and Vectorscan versions are checked
// by the cache itself. Only a prefilter is stored: sources whose rules are not all gated
// are analysed again at each start (tens of ms).
std::unique_ptr<const YaraPrefilter> YaraCompiler::Impl::CachedPrefilter(const YR_RULES* rules,
                                                                        YaraPrefilterStats* stats) {
  Impl& c = *this;
  if (c.cache_dir.empty() || c.identity.empty()) return BuildPrefilter(c.accepted, rules, c.prefilter, stats);
  const YaraPrefilterMode mode = c.prefilter_chosen ? c.prefilter : YaraPrefilterMode::kExact;
  const std::string key = fmt::format("{}-yara{}-{}", c.identity.substr(0, 32), YR_VERSION,
                                      mode == YaraPrefilterMode::kExact ? "exact" : "atoms");
  auto cached = LoadCachedVectorscan(c.cache_dir, key, c.identity, 0, c.pins);
  if (cached) {
    stats->gated_rules = c.source_rules;
    stats->note = cached->portable ? "from the compiled-pattern cache, " + cached->State()
                                   : "from the compiled-pattern cache";
    return YaraPrefilter::Adopt(cached->db.release());
  }
  const hs_platform_info_t native = NativePlatform();
  auto built = BuildPrefilter(c.accepted, rules, mode, stats, &native);
  auto store = [&](const YaraPrefilter& p, const hs_platform_info_t& platform) {
    Status st = StoreCachedVectorscan(c.cache_dir, key, c.identity, p.database(), {}, platform);
    if (!st.ok()) stats->note += (stats->note.empty() ? "" : "; ") + ("not cached: " + st.message());
  };
  if (built && !c.cache_read_only) {
    store(*built, native);
    const hs_platform_info_t portable = PortablePlatform();
    if (c.portable_cache && native.cpu_features != portable.cpu_features) {
      YaraPrefilterStats again;  // the same analysis a second time; only the compilation differs
      if (auto p = BuildPrefilter(c.accepted, rules, mode, &again, &portable)) store(*p, portable);
    }
  }
  return built;
}

// The source rules in the cache, after libyara's compiled form (yr_rules_save_stream):
//   u32 sources; per source: u8 accepted, u64 rules, u32 problems, and per problem
//   u64 line, u32 + file, u32 + reason.
// A warm start loads this instead of compiling (5,003 bench rules: ~200 ms of libyara
// compiling). The file is checked like every cache file (pattern_cache.h); the sources
// must be the ones recorded, in order, or it is rejected.
namespace {
template <typename T>
void PutRaw(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}
void PutText(std::string* out, std::string_view text) {
  PutRaw<uint32_t>(out, static_cast<uint32_t>(text.size()));
  out->append(text);
}
size_t WriteToString(const void* ptr, size_t size, size_t count, void* user_data) noexcept {
  try {
    static_cast<std::string*>(user_data)->append(static_cast<const char*>(ptr), size * count);
    return count;
  } catch (...) {
    return 0;
  }
}
}  // namespace

Status YaraCompiler::Impl::StoreCachedRules(YR_RULES* rules, const std::vector<Outcome>& outcomes) {
  std::string primary;
  YR_STREAM stream{};
  stream.user_data = &primary;
  stream.write = WriteToString;
  if (int rc = yr_rules_save_stream(rules, &stream); rc != ERROR_SUCCESS) {
    return Status::Error("cannot save the YARA rules: " + DescribeError(rc));
  }
  std::string rest;
  PutRaw<uint32_t>(&rest, static_cast<uint32_t>(outcomes.size()));
  for (const Outcome& o : outcomes) {
    PutRaw<uint8_t>(&rest, o.accepted ? 1 : 0);
    PutRaw<uint64_t>(&rest, o.rules);
    PutRaw<uint32_t>(&rest, static_cast<uint32_t>(o.problems.size()));
    for (const LoadProblem& p : o.problems) {
      PutRaw<uint64_t>(&rest, p.line);
      PutText(&rest, p.file);
      PutText(&rest, p.reason);
    }
  }
  return StoreCacheFile(cache_dir, RulesCacheKey(), identity, primary, rest);
}

RulesPtr YaraCompiler::Impl::LoadCachedRules(std::string* why) {
  auto file = LoadCacheFile(cache_dir, RulesCacheKey(), identity, pins);
  if (!file) {
    *why = file.error();
    return nullptr;
  }
  ByteReader in{file->rest()};
  std::vector<AcceptedSource> cached_accepted;
  std::vector<std::vector<LoadProblem>> problems(pending.size());
  uint64_t rules_total = 0;
  if (in.Get<uint32_t>() != pending.size()) in.ok = false;
  for (size_t i = 0; i < pending.size() && in.ok; ++i) {
    const bool was_accepted = in.Get<uint8_t>() != 0;
    const uint64_t rules = in.Get<uint64_t>();
    const uint32_t count = in.Get<uint32_t>();
    for (uint32_t k = 0; k < count && in.ok; ++k) {
      LoadProblem p;
      p.line = in.Get<uint64_t>();
      in.Text();  // the file as named when compiled: the same content may sit elsewhere now
      p.file = pending[i].file;
      p.reason = in.Text();
      problems[i].push_back(std::move(p));
    }
    if (was_accepted) {
      cached_accepted.push_back(AcceptedSource{pending[i].ns, std::move(pending[i].text), pending[i].file, rules});
      rules_total += rules;
    }
  }
  if (!in.AtEnd()) {
    *why = "rejected: malformed YARA source list";
    return nullptr;
  }
  const std::string_view primary = file->primary();
  MemoryReader reader{{reinterpret_cast<const uint8_t*>(primary.data()), primary.size()}, 0};
  YR_STREAM stream{};
  stream.user_data = &reader;
  stream.read = ReadFromMemory;
  YR_RULES* raw = nullptr;
  if (int rc = yr_rules_load_stream(&stream, &raw); rc != ERROR_SUCCESS) {
    *why = "rejected: libyara refused it: " + DescribeError(rc);
    return nullptr;
  }
  RulesPtr loaded(raw);
  if (reader.pos != primary.size() || loaded->num_rules != rules_total) {
    *why = "rejected: compiled rules do not match the source list";
    return nullptr;
  }
  accepted = std::move(cached_accepted);
  source_rules = rules_total;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].problems == nullptr) continue;
    for (LoadProblem& p : problems[i]) pending[i].problems->push_back(std::move(p));
  }
  return loaded;
}

Result<std::shared_ptr<const YaraRules>> YaraCompiler::Build() {
  Impl& c = *impl_;
  if (c.built) return Fail("YaraCompiler::Build called twice");
  c.built = true;
  if (!c.fatal.empty()) return Fail(c.fatal);
  auto impl = std::make_unique<YaraRules::Impl>();
  auto lib = LibyaraRef::Acquire();
  if (!lib) return Fail(lib.error());
  impl->lib = std::move(*lib);
  RulesPtr source_rules;
  std::vector<Impl::Outcome> outcomes;  // per pending source compiled here, for the cache
  if (c.defer && !c.pending.empty()) {
    std::string why = "disabled (no signature identity)";
    if (!c.identity.empty()) source_rules = c.LoadCachedRules(&why);
    impl->cache_state = source_rules ? "hit" : why;
    if (!source_rules) {
      outcomes.resize(c.pending.size());
      for (size_t i = 0; i < c.pending.size(); ++i) {
        Impl::Pending& p = c.pending[i];
        const size_t problems_before = p.problems != nullptr ? p.problems->size() : 0;
        const size_t accepted_before = c.accepted.size();
        outcomes[i].rules = c.Compile(p.file, p.ns, p.text, p.problems);
        outcomes[i].accepted = c.accepted.size() > accepted_before;
        if (p.problems != nullptr) outcomes[i].problems.assign(p.problems->begin() + problems_before, p.problems->end());
        p.text = {};  // `accepted` holds its own copy
      }
      if (!c.fatal.empty()) return Fail(c.fatal);
    }
  }
  if (!source_rules && c.main && c.source_rules > 0) {
    YR_RULES* raw = nullptr;
    int rc = yr_compiler_get_rules(c.main.get(), &raw);
    if (rc != ERROR_SUCCESS) return Fail("cannot build the YARA rules: " + DescribeError(rc));
    source_rules.reset(raw);
    if (!outcomes.empty() && !c.identity.empty() && !c.cache_read_only) {
      Status st = c.StoreCachedRules(raw, outcomes);
      if (!st.ok()) impl->cache_state += "; not stored: " + st.message();
    }
  }
  if (source_rules) {
    YR_RULES* raw = source_rules.get();
    impl->sets.push_back(RuleSet{std::move(source_rules), kAllExternals, "source rules", nullptr});
    if (c.prefilter != YaraPrefilterMode::kOff) {
      impl->sets.back().prefilter = c.CachedPrefilter(raw, &impl->prefilter);
    } else {
      impl->prefilter.off_reason = "prefilter disabled";
    }
  } else {
    impl->prefilter.off_reason = "no source rules";
  }
  c.main.reset();
  c.accepted = {};
  c.pending = {};
  for (RuleSet& set : c.compiled) impl->sets.push_back(std::move(set));
  c.compiled.clear();
  if (impl->sets.empty()) return std::shared_ptr<const YaraRules>();
  for (const RuleSet& set : impl->sets) impl->rule_count += set.rules->num_rules;
  return std::shared_ptr<const YaraRules>(new YaraRules(std::move(impl)));
}

// ---- YaraScanner -------------------------------------------------------------------------

struct YaraScanner::Impl {
  std::shared_ptr<const YaraRules> rules;  // first: outlives the scanners below
  struct SetScanner {
    const RuleSet* set = nullptr;  // owned by `rules`
    ScannerPtr scanner;
    std::array<std::string, kExternalCount> defined;  // values libyara holds now
    bool primed = false;                              // `defined` is valid
    YaraPrefilter::Scratch prefilter_scratch;         // when set->prefilter
  };
  std::vector<SetScanner> sets;
  std::string fatal;
  int timeout_seconds = 0;
  uint64_t prefilter_skips = 0;

  // Reused by every scan, so that a scan allocates only after growth.
  std::array<std::string, kExternalCount> values;
  ScanState state;

  // Gives libyara the externals that changed since the last scan: libyara copies each
  // value into the heap, and filetype/owner rarely change between files.
  int DefineExternals(SetScanner& s) {
    for (int i = 0; i < kExternalCount; ++i) {
      if ((s.set->externals & (1u << i)) == 0) continue;
      if (s.primed && s.defined[i] == values[i]) continue;
      int rc = yr_scanner_define_string_variable(s.scanner.get(), kExternalNames[i], values[i].c_str());
      if (rc != ERROR_SUCCESS) {
        s.primed = false;
        return rc;
      }
      s.defined[i] = values[i];
    }
    s.primed = true;
    return ERROR_SUCCESS;
  }
};

namespace {

int OnScanMessage(YR_SCAN_CONTEXT* /*context*/, int message, void* message_data,
                  void* user_data) noexcept {
  auto* s = static_cast<ScanState*>(user_data);
  try {
    switch (message) {
      case CALLBACK_MSG_RULE_MATCHING:
        s->hits.push_back(static_cast<const YR_RULE*>(message_data));
        break;
      case CALLBACK_MSG_TOO_MANY_MATCHES:
        // As the yara CLI: note it and go on; libyara ignores that string's later matches.
        s->overflowed.push_back(static_cast<const YR_STRING*>(message_data));
        break;
      default:  // module import/imported, console log, scan finished
        break;
    }
    return CALLBACK_CONTINUE;
  } catch (...) {
    s->callback_failed = true;
    return CALLBACK_ERROR;
  }
}

void AppendError(std::string* errors, std::string_view message) {
  if (!errors->empty()) errors->append("; ");
  errors->append(message);
}

}  // namespace

YaraScanner::YaraScanner(std::shared_ptr<const YaraRules> rules) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.rules = std::move(rules);
  if (!s.rules) return;
  s.state.hits.reserve(64);
  s.state.overflowed.reserve(8);
  for (const RuleSet& set : s.rules->impl_->sets) {
    YR_SCANNER* raw = nullptr;
    int rc = yr_scanner_create(set.rules.get(), &raw);
    if (rc != ERROR_SUCCESS) {
      s.fatal = "cannot create a YARA scanner: " + DescribeError(rc);
      s.sets.clear();
      return;
    }
    ScannerPtr scanner(raw);
    yr_scanner_set_callback(raw, OnScanMessage, &s.state);
    yr_scanner_set_flags(raw, SCAN_FLAGS_REPORT_RULES_MATCHING);
    // An invalid scratch (out of memory) only means the set is always handed to libyara.
    YaraPrefilter::Scratch scratch = set.prefilter ? set.prefilter->NewScratch() : YaraPrefilter::Scratch();
    s.sets.push_back(Impl::SetScanner{&set, std::move(scanner), {}, false, std::move(scratch)});
  }
}

YaraScanner::~YaraScanner() = default;

uint64_t YaraScanner::prefilter_skips() const { return impl_->prefilter_skips; }

void YaraScanner::set_timeout(std::chrono::seconds timeout) {
  Impl& s = *impl_;
  s.timeout_seconds = static_cast<int>(std::clamp<std::chrono::seconds::rep>(timeout.count(), 0, INT_MAX));
  for (Impl::SetScanner& set : s.sets) yr_scanner_set_timeout(set.scanner.get(), s.timeout_seconds);
}

Status YaraScanner::Scan(std::span<const uint8_t> data, const ScanContext& context,
                         std::string_view filetype, std::vector<std::string>* matched) {
  Impl& s = *impl_;
  if (matched == nullptr) return Status::Error("YaraScanner::Scan: no output vector");
  if (!s.fatal.empty()) return Status::Error(s.fatal);
  if (s.sets.empty()) return Status::Ok();
  s.values[kFileName].assign(context.file_name);
  s.values[kFilePath].assign(context.file_path);
  ExtensionOf(context.file_name, &s.values[kExtension]);
  s.values[kFileType].assign(filetype);
  s.values[kOwner].assign(context.owner);
  static constexpr uint8_t kNoData = 0;  // libyara wants a pointer even for 0 bytes
  const uint8_t* bytes = data.empty() ? &kNoData : data.data();

  std::string errors;  // allocates only when something went wrong
  for (Impl::SetScanner& set : s.sets) {
    // No atom in the data: every rule of the set is false (yara_prefilter.h). Anything
    // else, errors included, falls through to libyara.
    if (set.set->prefilter &&
        set.set->prefilter->Scan(data, set.prefilter_scratch) == YaraPrefilter::Outcome::kNoAtom) {
      ++s.prefilter_skips;
      continue;
    }
    int rc = s.DefineExternals(set);
    if (rc != ERROR_SUCCESS) {
      AppendError(&errors, fmt::format("YARA: {}: cannot set external variables: {}", set.set->origin,
                                       DescribeError(rc)));
      continue;
    }
    ScanState& state = s.state;
    state.hits.clear();
    state.overflowed.clear();
    state.callback_failed = false;
    rc = yr_scanner_scan_mem(set.scanner.get(), bytes, data.size());
    for (const YR_RULE* rule : state.hits) matched->emplace_back(rule->identifier);
    const YR_RULES* rules = set.set->rules.get();
    for (const YR_STRING* string : state.overflowed) {
      AppendError(&errors,
                  fmt::format("YARA: string {} of rule {} has more than {} matches; its later "
                              "matches were ignored, as the yara CLI does",
                              string->identifier, rules->rules_table[string->rule_idx].identifier,
                              YR_MAX_STRING_MATCHES));
    }
    if (rc == ERROR_SUCCESS) continue;
    if (rc == ERROR_SCAN_TIMEOUT) {
      AppendError(&errors, fmt::format("YARA: {}: scan timed out after {} s; its rules were not evaluated",
                                       set.set->origin, s.timeout_seconds));
    } else if (rc == ERROR_CALLBACK_ERROR && state.callback_failed) {
      AppendError(&errors, fmt::format("YARA: {}: out of memory collecting matches", set.set->origin));
    } else {
      const YR_RULE* rule = yr_scanner_last_error_rule(set.scanner.get());
      AppendError(&errors, fmt::format("YARA: {}: scan failed{}{}: {}", set.set->origin,
                                       rule != nullptr ? " in rule " : "",
                                       rule != nullptr ? rule->identifier : "", DescribeError(rc)));
    }
  }
  return errors.empty() ? Status::Ok() : Status::Error(std::move(errors));
}

}  // namespace avkey::engine
