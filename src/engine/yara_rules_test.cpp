// Tests of the libyara wrapper: constructs, externals, per-file error isolation,
// compiled rules, budgets, threads, and a differential test against the yara CLI.
#include "engine/yara_rules.h"

#include "engine/yara_prefilter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

// Counts C++ heap allocations (libyara's own mallocs are not counted, by design: the
// contract is "no allocation beyond what libyara does").
std::atomic<uint64_t> g_allocations{0};

// noinline: inlined into callers, g++ -O2 would pair `new` with free() and warn.
[[gnu::noinline]] void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
// Vectorscan (the YARA prefilter) allocates with the nothrow form: replaced too, or under
// ASan its memory would come from ASan's operator new and go to free() above.
[[gnu::noinline]] void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace avkey::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Wide(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    out += '\0';
  }
  return out;
}

struct Source {
  std::string file;
  std::string text;
};

std::shared_ptr<const YaraRules> Compile(const std::vector<Source>& sources,
                                         std::vector<LoadProblem>* problems = nullptr) {
  std::vector<LoadProblem> local;
  if (problems == nullptr) problems = &local;
  YaraCompiler compiler;
  for (const Source& s : sources) {
    std::string ns = s.file.substr(0, s.file.rfind('.'));
    compiler.AddSource(s.file, ns, s.text, problems);
  }
  auto rules = compiler.Build();
  EXPECT_TRUE(rules.has_value()) << rules.error();
  return rules ? *rules : nullptr;
}

std::vector<std::string> ScanOrDie(YaraScanner& scanner, std::string_view data,
                                   const ScanContext& context = {}, std::string_view filetype = "") {
  std::vector<std::string> matched;
  Status s = scanner.Scan(Bytes(data), context, filetype, &matched);
  EXPECT_TRUE(s.ok()) << s.message();
  return matched;
}

// A temporary directory removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("avkey-yara-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HaveTool(const char* name) {
  std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Runs a shell command, appending its stdout to *out; true when it exited with 0.
bool RunCommand(const std::string& command, std::string* out) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out->append(buf.data(), n);
  int status = ::pclose(pipe);
  return status == 0;
}

// ---- constructs ---------------------------------------------------------------------------

TEST(YaraRulesTest, StringsHexRegexConditionsMatchInRuleOrder) {
  auto rules = Compile({{"basic.yar", R"(
rule text_plain { strings: $a = "malware" condition: $a }
rule text_nocase { strings: $a = "EVIL" nocase condition: $a }
rule text_wide { strings: $a = "wide" wide condition: $a }
rule hex_jump { strings: $h = { 4D 5A [2-4] 50 45 } condition: $h }
rule regex_digits { strings: $r = /id=[0-9]{4}\b/ condition: $r }
rule cond_count { strings: $a = "x1" condition: #a >= 3 and filesize < 100 }
rule never { strings: $a = "absent" condition: $a }
)"}});
  ASSERT_NE(rules, nullptr);
  EXPECT_EQ(rules->rule_count(), 7u);
  EXPECT_EQ(rules->set_count(), 1u);
  YaraScanner scanner(rules);
  EXPECT_THAT(ScanOrDie(scanner, "this malware is Evil, id=1234 x1x1x1"),
              ElementsAre("text_plain", "text_nocase", "regex_digits", "cond_count"));
  EXPECT_THAT(ScanOrDie(scanner, std::string("MZ\x90\x00\x00PE ", 8) + Wide("wide")),
              ElementsAre("text_wide", "hex_jump"));
  EXPECT_THAT(ScanOrDie(scanner, "id=12345 x1x1"), IsEmpty());
  EXPECT_THAT(ScanOrDie(scanner, ""), IsEmpty());
}

TEST(YaraRulesTest, PrivateRulesAreNotReportedAndGlobalRulesGateTheirNamespace) {
  auto rules = Compile({{"a.yar", R"(
private rule hidden { strings: $a = "secret" condition: $a }
rule uses_hidden { condition: hidden }
)"},
                        {"b.yar", R"(
global rule big_only { condition: filesize > 10 }
rule b_secret { strings: $a = "secret" condition: $a }
)"}});
  ASSERT_NE(rules, nullptr);
  YaraScanner scanner(rules);
  EXPECT_THAT(ScanOrDie(scanner, "secret"), ElementsAre("uses_hidden"));
  EXPECT_THAT(ScanOrDie(scanner, "a longer secret"), ElementsAre("uses_hidden", "big_only", "b_secret"));
}

TEST(YaraRulesTest, AppendsToExistingMatches) {
  auto rules = Compile({{"a.yar", "rule r { condition: true }"}});
  YaraScanner scanner(rules);
  std::vector<std::string> matched = {"earlier"};
  ASSERT_TRUE(scanner.Scan(Bytes("x"), {}, "", &matched).ok());
  EXPECT_THAT(matched, ElementsAre("earlier", "r"));
}

// ---- externals ----------------------------------------------------------------------------

TEST(YaraRulesTest, ExternalsCarryTheScanContext) {
  auto rules = Compile({{"ext.yar", R"(
rule by_name { condition: filename matches /^invoice.*\.exe$/ }
rule by_ext { condition: extension == ".exe" }
rule by_path { condition: filepath contains "/Downloads/" }
rule by_type { condition: filetype == "PE" }
rule by_owner { condition: owner == "alice" }
)"}});
  ASSERT_NE(rules, nullptr);
  YaraScanner scanner(rules);
  ScanContext hit{"invoice_2024.EXE", "/home/alice/Downloads/invoice_2024.EXE", "alice"};
  ScanContext miss{"notes.txt", "/srv/notes.txt", "bob"};
  EXPECT_THAT(ScanOrDie(scanner, "data", hit, "PE"), ElementsAre("by_ext", "by_path", "by_type", "by_owner"));
  ScanContext lower{"invoice_2024.exe", "/x/Downloads/invoice_2024.exe", "alice"};
  EXPECT_THAT(ScanOrDie(scanner, "data", lower, "PE"),
              ElementsAre("by_name", "by_ext", "by_path", "by_type", "by_owner"));
  // Values change between scans (libyara keeps the previous ones unless told).
  EXPECT_THAT(ScanOrDie(scanner, "data", miss, "ELF"), IsEmpty());
  EXPECT_THAT(ScanOrDie(scanner, "data", lower, "PE"),
              ElementsAre("by_name", "by_ext", "by_path", "by_type", "by_owner"));
  EXPECT_THAT(ScanOrDie(scanner, "data", {}, ""), IsEmpty());
}

TEST(YaraRulesTest, ExtensionFollowsLokiSplitext) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a.exe", ".exe"},     {"A.EXE", ".exe"},   {"archive.tar.GZ", ".gz"}, {".bashrc", ""},
      {"..hidden", ""},      {"..a.b", ".b"},     {"name.", "."},            {"noext", ""},
      {"", ""},              {"...", ""},         {"dir/x.Js", ".js"},
  };
  for (const auto& [name, expected] : cases) {
    auto rules = Compile({{"e.yar", "rule hit { condition: extension == \"" + expected + "\" }"}});
    ASSERT_NE(rules, nullptr);
    YaraScanner scanner(rules);
    ScanContext ctx{name, name, ""};
    EXPECT_THAT(ScanOrDie(scanner, "x", ctx), ElementsAre("hit")) << "name '" << name << "'";
  }
}

// ---- load problems ------------------------------------------------------------------------

TEST(YaraRulesTest, SyntaxErrorLosesOnlyItsRuleAndIsReportedWithItsLine) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_EQ(compiler.AddSource("good1.yar", "good1", "rule good_one { strings: $a = \"one\" condition: $a }",
                               &problems),
            1u);
  EXPECT_EQ(compiler.AddSource("bad.yar", "bad",
                               "rule fine_in_bad { condition: true }\n"
                               "\n"
                               "rule broken { strings: $a = \"xyzzy\" condition: $a and and }\n"
                               "private rule after_bad { strings: $b = \"two\" condition: $b }\n"
                               "rule uses_after_bad { condition: after_bad }\n",
                               &problems),
            3u);
  EXPECT_EQ(compiler.AddSource("good2.yar", "good2",
                               "rule good_two { strings: $a = \"two\" condition: $a }\n"
                               "rule good_three { condition: filesize == 7 }",
                               &problems),
            2u);
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_NE(*built, nullptr);
  EXPECT_EQ((*built)->rule_count(), 6u);  // everything but `broken`

  ASSERT_EQ(problems.size(), 1u) << problems[1].line << ": " << problems[1].reason;
  EXPECT_EQ(problems[0].file, "bad.yar");
  EXPECT_EQ(problems[0].line, 3u);
  EXPECT_THAT(problems[0].reason, AllOf(HasSubstr("syntax error"), HasSubstr("rule 'broken' skipped")));

  YaraScanner scanner(*built);
  EXPECT_THAT(ScanOrDie(scanner, "one two"),
              ElementsAre("good_one", "fine_in_bad", "uses_after_bad", "good_two", "good_three"));
}

// Rules that need a dropped rule or import go too, each reported at its own line; the
// line numbers stay those of the file (dropped text is blanked, not cut).
TEST(YaraRulesTest, RulesNeedingADroppedStatementAreDroppedInTurn) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_EQ(compiler.AddSource("chain.yar", "chain",
                               "import \"no_such_module\"\n"                                  // 1
                               "rule keeps { strings: $a = \"keep\" condition: $a }\n"        // 2
                               "rule needs_module {\n"                                        // 3
                               "  condition: no_such_module.value == 1\n"                     // 4
                               "}\n"                                                          // 5
                               "rule base { condition: undefined_thing }\n"                   // 6
                               "rule on_base { condition: base }\n"                           // 7
                               "rule on_on_base { condition: on_base or keeps }\n"            // 8
                               "rule /* a comment { */ tail { strings: $r = /[}{]\\/x/ condition: $r }\n",  // 9
                               &problems),
            2u);
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_NE(*built, nullptr);
  EXPECT_EQ((*built)->rule_count(), 2u);
  std::vector<uint64_t> lines;
  for (const auto& p : problems) lines.push_back(p.line);
  EXPECT_THAT(lines, ElementsAre(1u, 4u, 6u, 7u, 8u));
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_THAT(problems[0].reason, AllOf(HasSubstr("no_such_module"), HasSubstr("statement skipped")));
  EXPECT_THAT(problems[1].reason, HasSubstr("rule 'needs_module' skipped"));
  EXPECT_THAT(problems[2].reason, AllOf(HasSubstr("undefined_thing"), HasSubstr("rule 'base' skipped")));
  EXPECT_THAT(problems[3].reason, HasSubstr("rule 'on_base' skipped"));
  EXPECT_THAT(problems[4].reason, HasSubstr("rule 'on_on_base' skipped"));
  YaraScanner scanner(*built);
  EXPECT_THAT(ScanOrDie(scanner, "keep }/x"), ElementsAre("keeps", "tail"));
}

// libyara reports every semantic error at once: all those rules go in one round. Past 64
// dropped statements, or for an error in no statement, the file is skipped whole, and its
// errors carry no "skipped; the other rules load" note.
TEST(YaraRulesTest, ManyBadRulesTooManyOrAnErrorOutsideAnyRule) {
  auto bad_rules = [](int n) {
    std::string text;
    for (int i = 0; i < n; ++i) text += "rule r" + std::to_string(i) + " { condition: nope" + std::to_string(i) + " }\n";
    return text + "rule fine { condition: true }\n";
  };
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_EQ(compiler.AddSource("some.yar", "some", bad_rules(64), &problems), 1u);
  ASSERT_EQ(problems.size(), 64u);
  EXPECT_THAT(problems[63].reason, HasSubstr("rule 'r63' skipped"));
  EXPECT_EQ(problems[63].line, 64u);

  problems.clear();
  EXPECT_EQ(compiler.AddSource("many.yar", "many", bad_rules(65), &problems), 0u);
  ASSERT_EQ(problems.size(), 65u);
  for (const auto& p : problems) EXPECT_THAT(p.reason, Not(HasSubstr("skipped"))) << p.line;
  EXPECT_EQ(problems.back().line, 65u);

  problems.clear();
  EXPECT_EQ(compiler.AddSource("stray.yar", "stray", "rule ok { condition: true }\n}\n", &problems), 0u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2u);
  EXPECT_THAT(problems[0].reason, HasSubstr("syntax error"));
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_NE(*built, nullptr);
  EXPECT_EQ((*built)->rule_count(), 1u);
}

TEST(YaraRulesTest, SemanticErrorsWarningsIncludesAndNulBytes) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  // Warning only: the rule loads, the warning is reported with its line.
  EXPECT_EQ(compiler.AddSource("warn.yar", "warn", "\nrule slow { strings: $h = { 01 [0-] 02 } condition: $h }",
                               &problems),
            1u);
  EXPECT_EQ(compiler.AddSource("undef.yar", "undef", "rule u {\n condition: no_such_rule\n}", &problems), 0u);
  // An include, a rule cut short, an unknown module: only that statement is lost.
  EXPECT_EQ(compiler.AddSource("inc.yar", "inc", "rule ok { condition: true }\ninclude \"/etc/passwd\"\n",
                               &problems),
            1u);
  EXPECT_EQ(compiler.AddSource("eof.yar", "eof", "rule ok2 { condition: true }\nrule cut {\n condition: true\n",
                               &problems),
            1u);
  EXPECT_EQ(compiler.AddSource("nul.yar", "nul", std::string("rule n { condition: true }\n\0", 28), &problems),
            0u);
  EXPECT_EQ(compiler.AddSource("module.yar", "module", "import \"no_such_module\"\nrule m { condition: true }",
                               &problems),
            1u);
  // After failures sources are checked in a scratch compiler first: a warning is still
  // reported once.
  EXPECT_EQ(compiler.AddSource("warn2.yar", "warn2", "rule slow2 { strings: $h = { 03 [0-] 04 } condition: $h }",
                               &problems),
            1u);
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_NE(*built, nullptr);
  EXPECT_EQ((*built)->rule_count(), 5u);

  std::map<std::string, LoadProblem> by_file;
  for (const auto& p : problems) by_file.emplace(p.file, p);
  ASSERT_EQ(by_file.size(), 7u);
  EXPECT_EQ(problems.size(), 7u);  // one each
  EXPECT_THAT(by_file["warn2.yar"].reason, HasSubstr("warning: rule slow2"));
  EXPECT_EQ(by_file["warn.yar"].line, 2u);
  EXPECT_THAT(by_file["warn.yar"].reason, AllOf(HasSubstr("warning: "), HasSubstr("rule slow")));
  EXPECT_EQ(by_file["undef.yar"].line, 2u);
  EXPECT_THAT(by_file["undef.yar"].reason, AllOf(HasSubstr("no_such_rule"), HasSubstr("rule 'u' skipped")));
  EXPECT_EQ(by_file["inc.yar"].line, 2u);
  EXPECT_THAT(by_file["inc.yar"].reason, AllOf(HasSubstr("includes are disabled"), HasSubstr("statement skipped")));
  EXPECT_EQ(by_file["eof.yar"].line, 3u);  // libyara says 0: end of file
  EXPECT_THAT(by_file["eof.yar"].reason, AllOf(HasSubstr("syntax error"), HasSubstr("rule 'cut' skipped")));
  EXPECT_EQ(by_file["nul.yar"].line, 2u);
  EXPECT_THAT(by_file["nul.yar"].reason, HasSubstr("NUL"));
  EXPECT_EQ(by_file["module.yar"].line, 1u);
  EXPECT_THAT(by_file["module.yar"].reason, AllOf(HasSubstr("no_such_module"), HasSubstr("statement skipped")));

  YaraScanner scanner(*built);
  EXPECT_THAT(ScanOrDie(scanner, std::string("\x01zz\x02\x03\x04", 6)), ElementsAre("slow", "ok", "ok2", "m", "slow2"));
}

TEST(YaraRulesTest, RuleConflictingWithAnEarlierSourceIsSkippedAndTheRestStillLoad) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_EQ(compiler.AddSource("dir1/same.yar", "same", "rule dup { condition: true }", &problems), 1u);
  // Compiles alone, but repeats a rule name in the same namespace (first failure: the
  // main compiler is rebuilt, and later sources are checked first).
  EXPECT_EQ(compiler.AddSource("dir2/same.yar", "same", "rule other { condition: true }\nrule dup { condition: true }",
                               &problems),
            1u);
  EXPECT_EQ(compiler.AddSource("later.yar", "later", "rule later { condition: true }", &problems), 1u);
  // Checked mode: passes the checker (created after dir1's source), conflicts in main.
  EXPECT_EQ(compiler.AddSource("dir3/same.yar", "same", "rule fresh { condition: true }\n\nrule dup { condition: true }",
                               &problems),
            1u);
  // Checked mode: fails in the checker.
  EXPECT_EQ(compiler.AddSource("broken.yar", "broken", "rule {", &problems), 0u);
  EXPECT_EQ(compiler.AddSource("last.yar", "last", "rule last { condition: true }", &problems), 1u);
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].file, "dir2/same.yar");
  EXPECT_EQ(problems[0].line, 2u);
  EXPECT_THAT(problems[0].reason, HasSubstr("duplicated identifier \"dup\""));
  EXPECT_EQ(problems[1].file, "dir3/same.yar");
  EXPECT_EQ(problems[1].line, 3u);
  EXPECT_THAT(problems[1].reason, AllOf(HasSubstr("\"dup\""), HasSubstr("conflicts with an earlier YARA source")));
  EXPECT_EQ(problems[2].file, "broken.yar");
  EXPECT_EQ(problems[2].line, 1u);
  EXPECT_THAT(problems[0].reason, HasSubstr("rule 'dup' skipped"));
  EXPECT_THAT(problems[1].reason, HasSubstr("rule 'dup' skipped"));
  EXPECT_EQ((*built)->rule_count(), 5u);
  YaraScanner scanner(*built);
  EXPECT_THAT(ScanOrDie(scanner, "x"), ElementsAre("dup", "other", "later", "fresh", "last"));
}

TEST(YaraRulesTest, NothingAddedBuildsNullAndScansNothing) {
  YaraCompiler empty;
  auto built = empty.Build();
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(*built, nullptr);

  YaraCompiler only_comments;
  std::vector<LoadProblem> problems;
  EXPECT_EQ(only_comments.AddSource("c.yar", "c", "// nothing\nimport \"math\"\n", &problems), 0u);
  auto built2 = only_comments.Build();
  ASSERT_TRUE(built2.has_value());
  EXPECT_EQ(*built2, nullptr);
  EXPECT_THAT(problems, IsEmpty());

  YaraScanner scanner(nullptr);
  EXPECT_THAT(ScanOrDie(scanner, "anything"), IsEmpty());
}

TEST(YaraRulesTest, CompilerIsSingleUse) {
  YaraCompiler compiler;
  std::vector<LoadProblem> problems;
  EXPECT_EQ(compiler.AddSource("a.yar", "a", "rule a { condition: true }", &problems), 1u);
  ASSERT_TRUE(compiler.Build().has_value());
  EXPECT_FALSE(compiler.Build().has_value());
  EXPECT_EQ(compiler.AddSource("b.yar", "b", "rule b { condition: true }", &problems), 0u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(compiler.AddSource("c.yar", "c", "rule c { condition: true }", nullptr), 0u);  // null sink ok
}

// ---- compiled rules -----------------------------------------------------------------------

TEST(YaraRulesTest, CompiledRulesLoadAndCombineWithSources) {
  if (!HaveTool("yarac")) GTEST_SKIP() << "yarac not installed";
  TempDir dir;
  WriteFile(dir.path() / "c.yar", R"(
rule compiled_hex { strings: $h = { C0 FF EE } condition: $h }
rule compiled_name { condition: filename == "target.bin" and extension == ".bin" }
rule compiled_never { condition: false }
)");
  std::string out;
  std::string cmd = "yarac -d filename=unset -d extension=unset " + (dir.path() / "c.yar").string() + " " +
                    (dir.path() / "c.yarc").string() + " 2>&1";
  ASSERT_TRUE(RunCommand(cmd, &out)) << out;
  std::string compiled = ReadFile(dir.path() / "c.yarc");
  ASSERT_FALSE(compiled.empty());

  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_TRUE(compiler.AddCompiled("c.yarc", Bytes(compiled), &problems));
  EXPECT_EQ(compiler.AddSource("s.yar", "s", "rule source_rule { strings: $a = \"coffee\" condition: $a }",
                               &problems),
            1u);
  EXPECT_TRUE(compiler.AddCompiled("c2.yarc", Bytes(compiled), &problems));  // a second set
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_NE(*built, nullptr);
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ((*built)->set_count(), 3u);
  EXPECT_EQ((*built)->rule_count(), 7u);
  EXPECT_EQ((*built)->prefiltered_set_count(), 1u);  // the source rules; compiled sets never

  YaraScanner scanner(*built);
  // Source rules first, then each compiled set in the order added.
  ScanContext target{"target.bin", "/tmp/target.bin", ""};
  EXPECT_THAT(ScanOrDie(scanner, "coffee \xC0\xFF\xEE", target),
              ElementsAre("source_rule", "compiled_hex", "compiled_name", "compiled_hex", "compiled_name"));
  ScanContext other{"other.bin", "/tmp/other.bin", ""};
  EXPECT_THAT(ScanOrDie(scanner, "\xC0\xFF\xEE", other), ElementsAre("compiled_hex", "compiled_hex"));
  EXPECT_EQ(scanner.prefilter_skips(), 1u);  // no "coffee": the source set was skipped, not the others

  // Compiled-only: also fine.
  YaraCompiler only;
  ASSERT_TRUE(only.AddCompiled("c.yarc", Bytes(compiled), &problems));
  auto built2 = only.Build();
  ASSERT_TRUE(built2.has_value());
  YaraScanner scanner2(*built2);
  EXPECT_THAT(ScanOrDie(scanner2, "\xC0\xFF\xEE", target), ElementsAre("compiled_hex", "compiled_name"));
}

TEST(YaraRulesTest, UnreadableCompiledRulesAreReportedNotLoaded) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_FALSE(compiler.AddCompiled("junk.yarc", Bytes("definitely not compiled rules"), &problems));
  EXPECT_FALSE(compiler.AddCompiled("empty.yarc", {}, &problems));
  EXPECT_FALSE(compiler.AddCompiled("header.yarc", Bytes("YARA"), &problems));
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].file, "junk.yarc");
  EXPECT_EQ(problems[0].line, 0u);
  EXPECT_THAT(problems[0].reason, HasSubstr("cannot load compiled YARA rules"));
  EXPECT_EQ(compiler.AddSource("ok.yar", "ok", "rule ok { condition: true }", &problems), 1u);
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ((*built)->set_count(), 1u);
}

TEST(YaraRulesTest, TruncatedCompiledRulesAreRejected) {
  if (!HaveTool("yarac")) GTEST_SKIP() << "yarac not installed";
  TempDir dir;
  WriteFile(dir.path() / "t.yar", "rule t { strings: $a = \"abc\" condition: $a }");
  std::string out;
  ASSERT_TRUE(RunCommand("yarac " + (dir.path() / "t.yar").string() + " " + (dir.path() / "t.yarc").string() + " 2>&1",
                  &out))
      << out;
  std::string compiled = ReadFile(dir.path() / "t.yarc");
  // Cuts in the header, in the buffers, and inside the trailing relocation records (a
  // cut on a record boundary cannot be detected: see AddCompiled).
  for (size_t len : {size_t{0}, size_t{8}, size_t{16}, compiled.size() / 2, compiled.size() - 1,
                     compiled.size() - 3}) {
    std::vector<LoadProblem> problems;
    YaraCompiler compiler;
    EXPECT_FALSE(compiler.AddCompiled("t.yarc", Bytes(std::string_view(compiled).substr(0, len)), &problems))
        << len;
    EXPECT_EQ(problems.size(), 1u);
  }
}

// ---- budgets and errors -------------------------------------------------------------------

TEST(YaraRulesTest, TooManyMatchesIsReportedAndTheRuleStillMatchesLikeTheCli) {
  auto rules = Compile({{"many.yar", R"(
rule many { strings: $a = "aa" condition: $a }
rule other { strings: $b = "end" condition: $b }
)"}});
  YaraScanner scanner(rules);
  std::string data(1'100'000, 'a');  // more than YR_MAX_STRING_MATCHES (1,000,000) hits of $a
  data += "end";
  std::vector<std::string> matched;
  Status s = scanner.Scan(Bytes(data), {}, "", &matched);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), AllOf(HasSubstr("$a"), HasSubstr("many"), HasSubstr("1000000")));
  EXPECT_THAT(matched, ElementsAre("many", "other"));
  // The scanner is fine afterwards.
  EXPECT_THAT(ScanOrDie(scanner, "aa end"), ElementsAre("many", "other"));
}

TEST(YaraRulesTest, TimeoutIsAnErrorWithAClearMessage) {
  auto rules = Compile({{"slow.yar", R"(
rule slow { condition: for all i in (0..2000000000) : (i >= 0) }
rule quick { condition: true }
)"}});
  YaraScanner scanner(rules);
  scanner.set_timeout(std::chrono::seconds(1));
  std::vector<std::string> matched;
  auto start = std::chrono::steady_clock::now();
  Status s = scanner.Scan(Bytes("x"), {}, "", &matched);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("timed out after 1 s"));
  EXPECT_THAT(matched, IsEmpty());
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

// ---- hot path ---------------------------------------------------------------------------

TEST(YaraRulesTest, ScanWithoutMatchesDoesNotAllocateAfterWarmUp) {
  auto rules = Compile({{"a.yar", R"(
rule needle { strings: $a = "needle" condition: $a and filename != "" }
rule by_ext { condition: extension == ".dll" and filetype == "PE" }
)"}});
  YaraScanner scanner(rules);
  std::vector<std::string> matched;
  matched.reserve(4);
  const std::string data(64 * 1024, 'h');
  const std::array<ScanContext, 2> contexts = {ScanContext{"file_a.exe", "/data/dir/file_a.exe", "root"},
                                               ScanContext{"file_b.txt", "/data/dir/file_b.txt", "root"}};
  for (const auto& ctx : contexts) ASSERT_TRUE(scanner.Scan(Bytes(data), ctx, "PE", &matched).ok());  // warm-up
  uint64_t before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) {
    Status s = scanner.Scan(Bytes(data), contexts[i % 2], "PE", &matched);
    if (!s.ok()) ADD_FAILURE() << s.message();
  }
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_THAT(matched, IsEmpty());
  // The counter is live: a match with a long rule name allocates its string.
  before = g_allocations.load();
  ScanContext dll{"x.dll", "/x.dll", ""};
  Status s = scanner.Scan(Bytes("needle"), dll, "PE", &matched);
  uint64_t during_match = g_allocations.load() - before;
  std::string long_name(100, 'x');
  uint64_t with_string = g_allocations.load() - before;
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_THAT(matched, ElementsAre("needle", "by_ext"));
  EXPECT_EQ(during_match, 0u);  // both names fit std::string's inline buffer; vector reserved
  EXPECT_EQ(with_string, 1u);
}

TEST(YaraRulesTest, ScanSkippedByThePrefilterDoesNotAllocate) {
  auto rules = Compile({{"a.yar", R"(
rule needle { strings: $a = "needle" condition: $a and filename != "" }
rule pe_hex { strings: $h = { 4D 5A ?? 00 [2-4] 50 45 } condition: uint16(0) == 0x5A4D and $h }
)"}});
  ASSERT_EQ(rules->prefiltered_set_count(), 1u);
  YaraScanner scanner(rules);
  std::vector<std::string> matched;
  matched.reserve(4);
  const std::string data(64 * 1024, 'h');
  ScanContext ctx{"file_a.exe", "/data/dir/file_a.exe", "root"};
  ASSERT_TRUE(scanner.Scan(Bytes(data), ctx, "PE", &matched).ok());  // warm-up
  const uint64_t before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) {
    Status s = scanner.Scan(Bytes(data), ctx, "PE", &matched);
    if (!s.ok()) ADD_FAILURE() << s.message();
  }
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_EQ(scanner.prefilter_skips(), 1001u);
  EXPECT_THAT(matched, IsEmpty());
  EXPECT_THAT(ScanOrDie(scanner, "a needle", ctx), ElementsAre("needle"));
  EXPECT_EQ(scanner.prefilter_skips(), 1001u);
}

// ---- threads ------------------------------------------------------------------------------

TEST(YaraRulesTest, ScannersOnManyThreadsShareOneRuleSet) {
  auto rules = Compile({{"t.yar", R"(
rule needle { strings: $a = "needle" condition: $a }
rule named { condition: filename == "hay.txt" }
rule hexy { strings: $h = { 00 11 [1-3] 22 } condition: $h }
)"}});
  ASSERT_NE(rules, nullptr);
  constexpr int kThreads = 4;
  constexpr int kScans = 500;
  std::array<int, kThreads> failures{};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      YaraScanner scanner(rules);
      std::vector<std::string> matched;
      for (int i = 0; i < kScans; ++i) {
        matched.clear();
        bool odd = (i + t) % 2 == 1;
        ScanContext ctx{odd ? "hay.txt" : "straw.txt", "/x", ""};
        std::string data = odd ? std::string("a needle\x00\x11\x99\x22", 12) : "nothing";
        if (!scanner.Scan(Bytes(data), ctx, "", &matched).ok()) ++failures[t];
        std::vector<std::string> expected;
        if (odd) expected = {"needle", "named", "hexy"};
        if (matched != expected) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

// ---- differential against the yara CLI ----------------------------------------------------

// ~40 rules of varied constructs, no externals, so `yara` needs no -d.
constexpr std::string_view kDiffRules = R"(
import "math"

rule t_plain { strings: $a = "alpha" condition: $a }
rule t_nocase { strings: $a = "bravo" nocase condition: $a }
rule t_wide { strings: $a = "charlie" wide condition: $a }
rule t_wide_ascii { strings: $a = "delta" wide ascii condition: $a }
rule t_fullword { strings: $a = "echo" fullword condition: $a }
rule t_all_mods { strings: $a = "fox" nocase wide ascii fullword condition: $a }
rule t_xor { strings: $a = "golf" xor condition: $a }
rule t_base64 { strings: $a = "hotel" base64 condition: $a }
rule h_simple { strings: $h = { 4D 5A 90 00 } condition: $h }
rule h_wild { strings: $h = { DE AD ?? EF } condition: $h }
rule h_nibble { strings: $h = { CA F? BA ?E } condition: $h }
rule h_jump { strings: $h = { 11 22 [2-4] 33 44 } condition: $h }
rule h_alt { strings: $h = { AA ( BB | CC DD ) EE } condition: $h }
rule h_open_jump { strings: $h = { 55 66 [4-] 77 88 } condition: $h }
rule r_simple { strings: $r = /ab+c/ condition: $r }
rule r_class { strings: $r = /[0-9]{3}-[0-9]{4}/ condition: $r }
rule r_nocase { strings: $r = /kilo(gram|meter)/ nocase condition: $r }
rule r_word { strings: $r = /\bmike\b/ condition: $r }
rule r_dot { strings: $r = /nov.mber/ condition: $r }
rule r_dotall { strings: $r = /nov.mber/s condition: $r }
rule r_wide { strings: $r = /osc(a|e)r/ wide condition: $r }
rule r_len { strings: $r = /foo[a-z]{0,8}bar/ condition: !r[1] > 8 }
rule c_small { condition: filesize < 64 }
rule c_mz { condition: uint16(0) == 0x5a4d }
rule c_pe { condition: uint16(0) == 0x5a4d and uint32(uint32(0x3c)) == 0x00004550 }
rule c_last_newline { condition: filesize > 0 and uint8(filesize - 1) == 0x0a }
rule c_count { strings: $a = "papa" condition: #a > 2 }
rule c_first_offset { strings: $a = "quebec" condition: @a[1] < 100 }
rule c_at { strings: $a = "romeo" condition: $a at 0 }
rule c_in { strings: $a = "sierra" condition: $a in (0..200) }
rule c_any { strings: $a = "tango" $b = "uniform" $c = { 01 02 03 04 } condition: any of them }
rule c_two_of { strings: $a1 = "victor" $a2 = "whiskey" $a3 = "xray" $b = "yankee" condition: 2 of ($a*) and not $b }
rule c_all_of { strings: $a = "zulu" $b = "alpha" condition: all of them }
rule c_for_any { strings: $a = "papa" condition: for any i in (1..#a) : (@a[i] > 500) }
rule c_for_of { strings: $a = "victor" $b = "tango" condition: for all of them : (# > 1) }
rule c_and_not { strings: $a = "alpha" $b = "bravo" nocase condition: $a and not $b }
rule c_rule_ref { condition: t_plain and c_mz }
private rule p_hidden { strings: $a = "charlie" wide condition: $a }
rule c_uses_private { condition: p_hidden and filesize > 100 }
rule c_entropy { condition: filesize > 512 and math.entropy(0, filesize) > 7.0 }
rule c_none { strings: $a = "never-present-token" condition: $a }
)";

// Byte snippets the generated files are built from, aimed at the rules above (including
// near misses: wrong case, broken words, wrong widths, out-of-range offsets).
std::vector<std::string> DiffIngredients() {
  std::vector<std::string> v = {
      "alpha", "ALPHA", "bRaVo", "bravo", Wide("charlie"), "charlie", Wide("delta"), "delta",
      " echo ", "echoes", Wide("FOX "), " fOx.", "foxes", " hotel ",
      std::string("\x4D\x5A\x90\x00", 4), std::string("\xDE\xAD\x00\xEF", 4), std::string("\xDE\xAD\xEF", 3),
      std::string("\xCA\xF3\xBA\x7E", 4), std::string("\xCA\x03\xBA\x7E", 4),
      std::string("\x11\x22\x00\x00\x00\x33\x44", 7), std::string("\x11\x22\x00\x33\x44", 5),
      std::string("\xAA\xCC\xDD\xEE", 4), std::string("\xAA\xBB\xEE", 3), std::string("\xAA\xCC\xEE", 3),
      std::string("\x55\x66\x01\x02\x03\x04\x05\x77\x88", 9), std::string("\x55\x66\x01\x77\x88", 5),
      "abbbc", "ac", "555-1234", "55-1234", "KILOMETER", "kilogram", " mike ", "mikes", "november",
      "nov\nmber", Wide("oscar"), Wide("oscer"), "oscar", "papa", "papa papa", "quebec", "sierra",
      "tango", "uniform", std::string("\x01\x02\x03\x04", 4), "victor", "whiskey", "xray", "yankee",
      "zulu", "foobazquxbar", "fooabar", "\n"};
  // "golf" xor-encoded with a few keys, and "hotel" inside base64 text.
  for (int key : {0, 1, 0x20, 0x7f, 0xff}) {
    std::string x = "golf";
    for (char& c : x) c = static_cast<char>(c ^ key);
    v.push_back(x);
  }
  v.push_back("aG90ZWw=");                      // base64("hotel")
  v.push_back("dGhlIGhvdGVsIGlzIGNsb3NlZA==");  // base64("the hotel is closed")
  return v;
}

// Generated file content: 0-63 bytes (a third of the time) or 64-3063, random text drawn
// from `alphabet` (28 characters) or random bytes. `pick(n)` draws from 0..n-1.
template <typename Pick>
std::string RandomFill(Pick& pick, const char* alphabet) {
  size_t size = pick(3) == 0 ? pick(64) : 64 + pick(3000);
  std::string data(size, '\0');
  const bool text = pick(2) == 0;
  for (char& c : data) c = text ? alphabet[pick(28)] : static_cast<char>(pick(256));
  return data;
}

// Inserts `count` snippets drawn from `ingredients` at random places of *data.
template <typename Pick>
void InsertSnippets(Pick& pick, const std::vector<std::string>& ingredients, size_t count, std::string* data) {
  for (size_t k = 0; k < count; ++k) {
    const std::string& ing = ingredients[pick(ingredients.size())];
    data->insert(data->empty() ? 0 : pick(data->size() + 1), ing);
  }
}

std::map<std::string, std::string> GenerateDiffFiles() {
  std::mt19937 rng(20240611);
  auto pick = [&](size_t n) { return static_cast<size_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
  const std::vector<std::string> ingredients = DiffIngredients();
  std::map<std::string, std::string> files;
  // Fixed edge cases first.
  files["f00_empty"] = "";
  files["f01_tiny"] = "alpha";
  files["f02_newline"] = "romeo at zero\n";
  files["f03_mz"] = std::string("MZ\x90\x00", 4) + std::string(60, '\0') + "alpha";
  {
    std::string pe(0x200, '\0');
    pe[0] = 'M';
    pe[1] = 'Z';
    pe[0x3c] = static_cast<char>(0x80);
    pe.replace(0x80, 4, std::string("PE\0\0", 4));
    pe += "alpha tango tango victor";
    files["f04_pe"] = pe;
  }
  {
    std::string random(4096, '\0');
    for (char& c : random) c = static_cast<char>(pick(256));
    files["f05_random"] = random;
  }
  files["f06_papa_late"] = std::string(600, '.') + "papa papa papa";
  files["f07_quebec_late"] = std::string(150, ' ') + "quebec sierra";
  files["f08_combo"] = std::string(120, '-') + Wide("charlie") + " zulu alpha victor tango victor tango";
  for (int i = 9; i < 40; ++i) {
    std::string data = RandomFill(pick, " abcdefghijklmnopqrstuvwxyz\n");
    if (pick(5) == 0 && data.size() >= 2) {
      data[0] = 'M';
      data[1] = 'Z';
    }
    InsertSnippets(pick, ingredients, pick(8), &data);
    if (pick(4) == 0) data = "romeo " + data;
    char name[32];
    std::snprintf(name, sizeof name, "f%02d_gen", i);
    files[name] = data;
  }
  return files;
}

// Runs the yara CLI (one thread, so that each file's lines come in rule order) over every
// file of `files_dir`, each rule file in the namespace of its stem (as avkey does); returns
// file name -> rules in order.
std::map<std::string, std::vector<std::string>> YaraCliMatches(const std::vector<fs::path>& rule_files,
                                                               const fs::path& files_dir) {
  std::string out;
  std::string cmd = "yara -p 1 -r -N";
  for (const auto& r : rule_files) cmd += " " + r.stem().string() + ":" + r.string();
  cmd += " " + files_dir.string() + " 2>/dev/null";
  EXPECT_TRUE(RunCommand(cmd, &out)) << "yara failed: " << out;
  std::map<std::string, std::vector<std::string>> matches;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    size_t space = line.find(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    matches[fs::path(line.substr(space + 1)).filename().string()].push_back(line.substr(0, space));
  }
  return matches;
}

TEST(YaraRulesTest, DifferentialAgainstTheYaraCli) {
  if (!HaveTool("yara")) GTEST_SKIP() << "yara CLI not installed";
  TempDir dir;
  const fs::path rules_path = dir.path() / "rules.yar";
  const fs::path files_dir = dir.path() / "files";
  fs::create_directories(files_dir);
  WriteFile(rules_path, kDiffRules);
  const auto files = GenerateDiffFiles();
  for (const auto& [name, data] : files) WriteFile(files_dir / name, data);

  const auto expected = YaraCliMatches({rules_path}, files_dir);
  size_t cli_pairs = 0;
  for (const auto& [f, rs] : expected) cli_pairs += rs.size();

  // avkey.
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  size_t added = compiler.AddSource(rules_path.string(), "rules", kDiffRules, &problems);
  for (const auto& p : problems) EXPECT_THAT(p.reason, HasSubstr("warning: ")) << p.line << ": " << p.reason;
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_NE(*built, nullptr);
  YaraScanner scanner(*built);
  std::map<std::string, std::vector<std::string>> actual;
  size_t avkey_pairs = 0;
  for (const auto& [name, data] : files) {
    std::string path = (files_dir / name).string();
    std::vector<std::string> matched;
    Status s = scanner.Scan(Bytes(data), ScanContext{name, path, ""}, "", &matched);
    ASSERT_TRUE(s.ok()) << name << ": " << s.message();
    avkey_pairs += matched.size();
    if (!matched.empty()) actual[name] = std::move(matched);
  }

  // Identical (file, rule) pairs, and in the same order per file.
  EXPECT_EQ(actual, expected);
  std::set<std::pair<std::string, std::string>> a_pairs, e_pairs;
  for (const auto& [f, rs] : actual) for (const auto& r : rs) a_pairs.emplace(f, r);
  for (const auto& [f, rs] : expected) for (const auto& r : rs) e_pairs.emplace(f, r);
  for (const auto& p : a_pairs) EXPECT_TRUE(e_pairs.count(p)) << "only avkey: " << p.first << " " << p.second;
  for (const auto& p : e_pairs) EXPECT_TRUE(a_pairs.count(p)) << "only yara: " << p.first << " " << p.second;

  // The corpus must exercise the rules, not just agree on silence.
  const size_t public_rules = added - 1;  // p_hidden is never reported
  std::set<std::string> rules_hit;
  for (const auto& p : e_pairs) rules_hit.insert(p.second);
  std::cout << "[ differential ] " << added << " rules (" << public_rules << " reportable), " << files.size()
            << " files, " << public_rules * files.size() << " (file, rule) pairs compared, " << cli_pairs
            << " matches by yara, " << avkey_pairs << " by avkey, " << rules_hit.size()
            << " distinct rules matched\n";
  ::testing::Test::RecordProperty("rules", static_cast<int>(added));
  ::testing::Test::RecordProperty("files", static_cast<int>(files.size()));
  ::testing::Test::RecordProperty("matches", static_cast<int>(cli_pairs));
  EXPECT_GE(added, 40u);
  EXPECT_EQ(files.size(), 40u);
  EXPECT_GE(cli_pairs, 100u);
  EXPECT_GE(rules_hit.size(), public_rules - 1);  // all but c_none
  for (const char* rule : {"t_plain", "t_nocase", "t_wide", "t_wide_ascii", "t_fullword", "t_all_mods", "t_xor",
                           "t_base64", "h_simple", "h_wild", "h_nibble", "h_jump", "h_alt", "h_open_jump",
                           "r_simple", "r_class", "r_nocase", "r_word", "r_dot", "r_dotall", "r_wide", "r_len",
                           "c_small", "c_mz", "c_pe", "c_last_newline", "c_count", "c_first_offset", "c_at",
                           "c_in", "c_any", "c_two_of", "c_all_of", "c_for_any", "c_for_of", "c_and_not",
                           "c_rule_ref", "c_uses_private", "c_entropy"}) {
    EXPECT_EQ(rules_hit.count(rule), 1u) << "no generated file matches " << rule;
  }
  EXPECT_EQ(rules_hit.count("c_none"), 0u);
}


// ---- prefilter ------------------------------------------------------------------------------

// Rules shaped like bench/suite/sigs.py's `yara` set: one hex string cut from random bytes
// with the wildcards that generator uses, PE/ELF header checks, `at` / `in` offsets.
// Rules 0..2 are fixed so tests can aim at them; their fragments go to *fragments.
std::string BenchLikeRules(size_t n, std::vector<std::string>* fragments) {
  std::mt19937 rng(6);
  auto pick = [&](size_t k) { return static_cast<size_t>(std::uniform_int_distribution<size_t>(0, k - 1)(rng)); };
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    std::string frag(16 + pick(24), '\0');
    for (char& c : frag) c = static_cast<char>(1 + pick(255));
    fragments->push_back(frag);
    std::vector<std::string> toks;
    for (unsigned char c : frag) toks.push_back(fmt::format("{:02X}", c));
    const size_t mid = 4 + pick(frag.size() - 8);
    switch (i < 3 ? 0 : pick(5)) {
      case 0: break;
      case 1: toks[mid] = "??"; toks[mid / 2 + 2] = "??"; break;
      case 2: toks[mid] = fmt::format("{:X}?", static_cast<unsigned char>(frag[mid]) >> 4); break;
      case 3:
        toks[mid] = fmt::format("( {} | {:02X} )", toks[mid], static_cast<unsigned char>(frag[mid] ^ 0x5a));
        break;
      default: toks[mid] = fmt::format("{} [0-{}]", toks[mid], 1 + pick(8)); break;
    }
    static const char* kHeads[] = {"", "uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and ",
                                   "uint32(0) == 0x464C457F and "};
    std::string head = kHeads[i < 3 ? i : pick(3)];
    std::string cond;
    switch (i < 3 ? i : pick(5)) {
      case 0: cond = "$a"; break;
      case 1: cond = "$a at 1234"; break;
      case 2: cond = "$a in (filesize - 300..filesize)"; break;
      case 3: cond = fmt::format("$a at filesize - {}", 100 + pick(1000)); break;
      default: cond = fmt::format("$a in ({}..{})", pick(100), 100 + pick(1000)); break;
    }
    std::string hex;
    for (const auto& t : toks) hex += t + " ";
    out += fmt::format("rule Bench_{} {{\n  strings:\n    $a = {{ {}}}\n  condition:\n    {}{}\n}}\n\n", i, hex, head,
                       cond);
  }
  return out;
}

TEST(YaraRulesTest, PrefilterEngagesOnBenchLikeRules) {
  std::vector<std::string> frags;
  const std::string source = BenchLikeRules(500, &frags);
  auto rules = Compile({{"bench.yar", source}});
  ASSERT_NE(rules, nullptr);
  const YaraPrefilterStats& st = rules->prefilter_stats();
  EXPECT_EQ(rules->prefiltered_set_count(), 1u);
  EXPECT_EQ(st.gated_rules, 500u);
  EXPECT_EQ(st.ungated_rules, 0u);
  EXPECT_EQ(st.off_reason, "");
  EXPECT_GE(st.atoms, 490u);  // one per rule, a few alternatives give two

  YaraScanner scanner(rules);
  std::string data(256 * 1024, '\0');
  std::mt19937 rng(1);
  for (char& c : data) c = static_cast<char>(rng());
  EXPECT_THAT(ScanOrDie(scanner, data), IsEmpty());
  EXPECT_EQ(scanner.prefilter_skips(), 1u);
  // Rule 0 (`$a`): anywhere.
  std::string hit0 = data;
  hit0.replace(1000, frags[0].size(), frags[0]);
  EXPECT_THAT(ScanOrDie(scanner, hit0), ElementsAre("Bench_0"));
  EXPECT_EQ(scanner.prefilter_skips(), 1u);
  // Rule 1 (PE and `$a at 1234`): the atom is there but the file is not a PE: libyara runs
  // and says no; then a PE with the fragment at 1234 matches.
  std::string near1 = data;
  near1.replace(1234, frags[1].size(), frags[1]);
  EXPECT_THAT(ScanOrDie(scanner, near1), IsEmpty());
  std::string pe1 = near1;
  pe1.replace(0, 2, "MZ");
  pe1.replace(0x3c, 4, std::string("\x80\0\0\0", 4));
  pe1.replace(0x80, 4, std::string("PE\0\0", 4));
  EXPECT_THAT(ScanOrDie(scanner, pe1), ElementsAre("Bench_1"));
  // Rule 2 (ELF and `in (filesize - 300..filesize)`).
  std::string elf2 = data;
  elf2.replace(0, 4, "\x7f" "ELF");
  elf2.replace(elf2.size() - 400, frags[2].size(), frags[2]);
  EXPECT_THAT(ScanOrDie(scanner, elf2), IsEmpty());  // too early
  elf2.replace(elf2.size() - 200, frags[2].size(), frags[2]);
  EXPECT_THAT(ScanOrDie(scanner, elf2), ElementsAre("Bench_2"));
  EXPECT_EQ(scanner.prefilter_skips(), 1u);
}

TEST(YaraRulesTest, PrefilterIsOffWhenOneRuleIsNotGatedOrWhenSwitchedOff) {
  const std::string gated = R"(
rule g1 { strings: $a = "alpha" condition: $a }
rule g2 { strings: $a = { 41 42 ?? 43 } condition: $a at 0 }
)";
  auto on = Compile({{"g.yar", gated}});
  EXPECT_EQ(on->prefiltered_set_count(), 1u);
  EXPECT_EQ(on->prefilter_stats().gated_rules, 2u);
  EXPECT_GT(on->prefilter_stats().compile_ms, 0.0);

  // One ungated rule in another source keeps the whole source set unfiltered.
  auto mixed = Compile({{"g.yar", gated}, {"u.yar", "rule small { condition: filesize < 10 }"}});
  EXPECT_EQ(mixed->prefiltered_set_count(), 0u);
  EXPECT_EQ(mixed->prefilter_stats().gated_rules, 2u);
  EXPECT_EQ(mixed->prefilter_stats().ungated_rules, 1u);
  EXPECT_THAT(mixed->prefilter_stats().off_reason, AllOf(HasSubstr("u.yar"), HasSubstr("rule small")));
  YaraScanner scanner(mixed);
  EXPECT_THAT(ScanOrDie(scanner, "tiny"), ElementsAre("small"));
  EXPECT_EQ(scanner.prefilter_skips(), 0u);

  // A global rule that is not gated: off as well.
  auto global = Compile({{"g.yar", gated + "global rule big { condition: filesize > 3 }"}});
  EXPECT_EQ(global->prefiltered_set_count(), 0u);

  // A source the analysis cannot read (a comment inside a hex string): off, with the reason.
  auto unread = Compile({{"g.yar", gated}, {"h.yar", "rule h { strings: $h = { 41 /* x */ 42 } condition: $h }"}});
  EXPECT_EQ(unread->prefiltered_set_count(), 0u);
  EXPECT_THAT(unread->prefilter_stats().off_reason, AllOf(HasSubstr("h.yar"), HasSubstr("not analysed")));

  // Switched off.
  YaraCompiler compiler;
  compiler.set_prefilter(YaraPrefilterMode::kOff);
  ASSERT_EQ(compiler.AddSource("g.yar", "g", gated, nullptr), 2u);
  auto off = compiler.Build();
  ASSERT_TRUE(off.has_value());
  EXPECT_EQ((*off)->prefiltered_set_count(), 0u);
  EXPECT_THAT((*off)->prefilter_stats().off_reason, HasSubstr("disabled"));

  // A source rejected by libyara is not analysed; the accepted ones still are.
  std::vector<LoadProblem> problems;
  auto with_bad = Compile({{"g.yar", gated}, {"bad.yar", "rule bad { condition: and }"}}, &problems);
  EXPECT_EQ(with_bad->prefiltered_set_count(), 1u);
  EXPECT_EQ(problems.size(), 1u);
}

// Every rule gated, so the prefilter engages; constructs of every kind it reads. The second
// file has a global rule (gated too) that every rule of its namespace depends on.
constexpr std::string_view kGatedRules = R"(
import "math"
rule g_plain { strings: $a = "alpha" condition: $a }
rule g_nocase { strings: $a = "bravo" nocase condition: $a }
rule g_wide { strings: $a = "charlie" wide condition: $a }
rule g_wide_ascii_nocase { strings: $a = "delta" wide ascii nocase condition: $a }
rule g_fullword { strings: $a = "echo" fullword condition: $a }
rule g_escapes { strings: $a = "fox\x00\"trot\\" condition: $a }
rule g_hex_wild { strings: $h = { DE AD ?? EF BE } condition: $h }
rule g_hex_nibble_jump { strings: $h = { CA F? BA [2-4] BE EF } condition: $h }
rule g_hex_alt { strings: $h = { AA ( BB | CC DD ) EE } condition: $h }
rule g_hex_alt_wild { strings: $h = { ( 11 22 ?? 33 | 44 55 [1-2] 66 ) } condition: $h }
rule g_hex_open_jump { strings: $h = { 55 66 77 [4-] 88 99 } condition: $h }
rule g_hex_nul { strings: $h = { 00 00 13 37 } condition: $h }
rule g_regex { strings: $r = /golf[0-9]+hotel/ condition: $r }
rule g_regex_alt_nocase { strings: $r = /india(x|y)|juliett/i condition: $r }
rule g_regex_wide { strings: $r = /kilo.lima/ wide condition: $r }
rule g_at { strings: $a = "mike" condition: $a at 0 }
rule g_at_eof { strings: $a = "november" condition: $a at filesize - 8 }
rule g_in { strings: $a = "oscar" condition: $a in (10..100) }
rule g_in_eof { strings: $a = "papa" condition: $a in (filesize - 50..filesize) }
rule g_count { strings: $a = "quebec" condition: #a >= 3 }
rule g_count_gt { strings: $a = "romeo" condition: #a > 1 and filesize < 3000 }
rule g_pe { strings: $a = "sierra" condition: uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and $a }
rule g_elf_at { strings: $a = { 7A 7A 7A 01 02 } condition: uint32(0) == 0x464C457F and $a at 64 }
rule g_any { strings: $a = "tango" $b = "uniform" $c = { 01 02 03 04 05 } condition: any of them }
rule g_two_of { strings: $a1 = "victor" $a2 = "whiskey" $a3 = "xray" condition: 2 of ($a*) }
rule g_all_of { strings: $a = "yankee" $b = "zulu" condition: all of them }
rule g_and_not { strings: $a = "alpha" $b = "bravo" condition: $a and not $b }
rule g_or { strings: $a = "amber" $b = { 42 4C 55 45 } condition: $a or $b at 5 }
rule g_xor_and { strings: $a = "crimson" $x = "secret" xor condition: $a and $x }
rule g_two_of_xor { strings: $a = "denim" $x = "hidden" xor condition: 2 of them }
rule g_for_and { strings: $a = "papa" condition: $a and for any i in (1..#a) : (@a[i] > 500) }
rule g_ref { strings: $a = "ember" condition: g_plain and $a }
private rule g_private { strings: $a = "fuchsia" condition: $a }
rule g_uses_private { strings: $a = "garnet" condition: g_private and $a }
rule g_count_or { strings: $a = "lemon" $b = "lime" condition: (#a == 2 or $b) and filesize > 20 }
rule g_entropy { strings: $a = "olive" condition: $a and math.entropy(0, filesize) > 3.0 }
rule g_never { strings: $a = "never-ever" condition: $a and false }
)";
constexpr std::string_view kGatedGlobalRules = R"(
global rule gg_global { strings: $a = "GLOBALKEY" condition: $a }
rule gg_helium { strings: $a = "helium" condition: $a }
rule gg_neon_at { strings: $a = "neon" nocase condition: $a at 0 }
)";

// Snippets aimed at kGatedRules: hits, and near misses whose atom is present while the
// condition is false (wrong case, width, word boundary, offset, count, header, missing
// partner string).
std::vector<std::string> GatedIngredients() {
  std::string xored = "secret", hidden = "hidden";
  for (char& c : xored) c = static_cast<char>(c ^ 0x21);
  for (char& c : hidden) c = static_cast<char>(c ^ 0x7f);
  return {"alpha", "ALPHA", "bRaVo", Wide("charlie"), "charlie", Wide("DeLtA"), "dElta", " echo ", "echoes",
          std::string("fox\0\"trot\\", 10), std::string("fox\0\"trot", 9), std::string("\xDE\xAD\x00\xEF\xBE", 5),
          std::string("\xDE\xAD\xEF\xBE", 4), std::string("\xCA\xF3\xBA\x00\x00\xBE\xEF", 7),
          std::string("\xCA\x03\xBA\x00\x00\xBE\xEF", 7), std::string("\xAA\xCC\xDD\xEE", 4),
          std::string("\xAA\xCC\xEE", 3), std::string("\x11\x22\x99\x33", 4), std::string("\x44\x55\x01\x66", 4),
          std::string("\x44\x55\x66", 3), std::string("\x55\x66\x77\x01\x02\x03\x04\x88\x99", 9),
          std::string("\x55\x66\x77\x88\x99", 5), std::string("\x00\x00\x13\x37", 4), std::string("\x01\x13\x37", 3),
          "golf123hotel", "golfhotel", "INDIAX", "indiaz", "Juliett", Wide("kilo-lima"), "kilo-lima", "mike",
          "november", "oscar", "papa", "quebec", "quebec quebec", "romeo", "romeo romeo", "sierra", "tango",
          "uniform", std::string("\x01\x02\x03\x04\x05", 5), "victor", "whiskey", "xray", "yankee", "zulu", "amber",
          "BLUE", "crimson", xored, "denim", hidden, "ember", "fuchsia", "garnet", "lemon", "lemon lemon", "lime",
          "olive", "never-ever", "GLOBALKEY", "helium", "NEON"};
}

std::map<std::string, std::string> GenerateGatedFiles() {
  std::mt19937 rng(20261129);
  auto pick = [&](size_t n) { return static_cast<size_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
  const std::vector<std::string> ingredients = GatedIngredients();
  std::map<std::string, std::string> files;
  files["e00_empty"] = "";
  files["e01_mike_at_0"] = "mike and more";
  files["e02_mike_at_1"] = " mike and more";
  files["e03_november_end"] = std::string(40, '.') + "november";
  files["e04_november_not_end"] = std::string(40, '.') + "november.";
  files["e05_oscar_in"] = std::string(50, ' ') + "oscar";
  files["e06_oscar_early"] = "oscar" + std::string(50, ' ');
  files["e07_quebec_2"] = "quebec quebec";
  files["e08_quebec_3"] = "quebec quebec quebec";
  {
    std::string pe(0x200, '\0');
    pe.replace(0, 2, "MZ");
    pe[0x3c] = static_cast<char>(0x80);
    pe.replace(0x80, 4, std::string("PE\0\0", 4));
    files["e09_pe_sierra"] = pe + "sierra";
    files["e10_pe_no_sierra"] = pe;
    std::string not_pe = pe;
    not_pe[0x81] = 'X';
    files["e11_not_pe_sierra"] = not_pe + "sierra";
  }
  {
    std::string elf(200, '\0');
    elf.replace(0, 4, "\x7f" "ELF");
    std::string at64 = elf, at65 = elf;
    at64.replace(64, 5, "zzz\x01\x02");
    at65.replace(65, 5, "zzz\x01\x02");
    files["e12_elf_at_64"] = at64;
    files["e13_elf_at_65"] = at65;
  }
  files["e14_global_and_helium"] = "helium GLOBALKEY";
  files["e15_helium_alone"] = "helium";
  files["e16_neon_global"] = "NeOn GLOBALKEY";
  files["e17_amber_blue"] = "12345BLUE amber";
  files["e18_blue_at_5"] = "12345BLUE";
  files["e19_blue_at_6"] = "123456BLUE";
  files["e20_papa_late"] = std::string(600, '.') + "papa";
  files["e21_lemon_2"] = std::string(30, ' ') + "lemon lemon";
  files["e22_ember_alpha"] = "ember alpha";
  files["e23_ember_alone"] = "ember";
  files["e24_fuchsia_garnet"] = "fuchsia garnet";
  files["e25_garnet_alone"] = "garnet";
  files["e26_romeo_2"] = "romeo romeo";
  files["e27_victor_xray"] = "victor, xray";
  files["e28_victor_alone"] = "victor";
  files["e29_yankee_zulu"] = "zulu yankee";
  files["e30_yankee_alone"] = "yankee";
  {
    std::string xored = "secret";
    for (char& c : xored) c = static_cast<char>(c ^ 0x21);
    files["e31_crimson_xor"] = "crimson " + xored;
    files["e32_crimson_alone"] = "crimson secret?";
    std::string hidden = "hidden";
    for (char& c : hidden) c = static_cast<char>(c ^ 0x7f);
    files["e33_denim_xor"] = hidden + " denim";
    files["e34_denim_alone"] = "denim hidden";
  }
  files["e35_olive_varied"] = "olive: the quick brown fox jumps over the lazy dog 0123456789";
  files["e36_olive_flat"] = "olive" + std::string(200, 'o');  // entropy too low
  for (int i = 37; i < 137; ++i) {
    // A third with nothing planted (the prefilter skips most of those), the rest with
    // 1 to 6 snippets.
    std::string data = RandomFill(pick, " etaoinshrdlucmfwypvbgkqjxz\n");
    InsertSnippets(pick, ingredients, i % 3 == 0 ? 0 : 1 + pick(6), &data);
    if (pick(6) == 0) data = "mike " + data;
    if (pick(8) == 0) data = "neon " + data + " GLOBALKEY";
    files[fmt::format("f{:03}_gen", i)] = data;
  }
  return files;
}

TEST(YaraRulesTest, DifferentialGatedRulesAgainstTheYaraCli) {
  if (!HaveTool("yara")) GTEST_SKIP() << "yara CLI not installed";
  TempDir dir;
  const fs::path rules_path = dir.path() / "gated.yar";
  const fs::path global_path = dir.path() / "glob.yar";
  const fs::path files_dir = dir.path() / "files";
  fs::create_directories(files_dir);
  WriteFile(rules_path, kGatedRules);
  WriteFile(global_path, kGatedGlobalRules);
  const auto files = GenerateGatedFiles();
  for (const auto& [name, data] : files) WriteFile(files_dir / name, data);
  const auto expected = YaraCliMatches({rules_path, global_path}, files_dir);

  for (YaraPrefilterMode mode : {YaraPrefilterMode::kAtoms, YaraPrefilterMode::kExact}) {
    SCOPED_TRACE(mode == YaraPrefilterMode::kAtoms ? "atoms" : "exact");
    std::vector<LoadProblem> problems;
    YaraCompiler compiler;
    compiler.set_prefilter(mode);
    size_t added = compiler.AddSource(rules_path.string(), rules_path.stem().string(), kGatedRules, &problems);
    added += compiler.AddSource(global_path.string(), global_path.stem().string(), kGatedGlobalRules, &problems);
    for (const auto& p : problems) EXPECT_THAT(p.reason, HasSubstr("warning: ")) << p.line << ": " << p.reason;
    auto built = compiler.Build();
    ASSERT_TRUE(built.has_value()) << built.error();
    const YaraRules& rules = **built;
    // The point of this test: the prefilter is on for every file below.
    ASSERT_EQ(rules.prefiltered_set_count(), 1u) << rules.prefilter_stats().off_reason;
    EXPECT_EQ(rules.prefilter_stats().gated_rules, added);
    EXPECT_EQ(rules.prefilter_stats().note, "");
    if (mode == YaraPrefilterMode::kExact) {
      EXPECT_EQ(rules.prefilter_stats().regexes, 9u);  // the hex strings that gate
    }

    YaraScanner scanner(*built);
    std::map<std::string, std::vector<std::string>> actual;
    size_t skipped = 0, passed_without_match = 0, passed_with_match = 0;
    for (const auto& [name, data] : files) {
      std::vector<std::string> matched;
      const uint64_t skips = scanner.prefilter_skips();
      Status s = scanner.Scan(Bytes(data), ScanContext{name, (files_dir / name).string(), ""}, "", &matched);
      ASSERT_TRUE(s.ok()) << name << ": " << s.message();
      if (scanner.prefilter_skips() > skips) {
        ++skipped;
        EXPECT_THAT(matched, IsEmpty()) << name;
      } else if (matched.empty()) {
        ++passed_without_match;  // an atom was there, the conditions were false: near misses
      } else {
        ++passed_with_match;
      }
      if (!matched.empty()) actual[name] = std::move(matched);
    }
    EXPECT_EQ(actual, expected);

    std::set<std::string> rules_hit;
    size_t cli_pairs = 0;
    for (const auto& [f, rs] : expected) {
      cli_pairs += rs.size();
      rules_hit.insert(rs.begin(), rs.end());
    }
    std::cout << "[ differential ] gated set, " << (mode == YaraPrefilterMode::kAtoms ? "atoms" : "exact")
              << " mode: " << added << " rules, " << rules.prefilter_stats().atoms << " atoms, "
              << rules.prefilter_stats().regexes << " regexes, " << files.size() << " files: " << skipped
              << " skipped by the prefilter, " << passed_without_match << " passed without a match (near misses), "
              << passed_with_match << " matched; " << cli_pairs << " matches by yara, " << rules_hit.size()
              << " distinct rules\n";
    EXPECT_GE(skipped, 20u);
    EXPECT_GE(passed_without_match, 10u);
    EXPECT_GE(passed_with_match, 40u);
    for (const char* rule :
         {"g_plain", "g_nocase", "g_wide", "g_wide_ascii_nocase", "g_fullword", "g_escapes", "g_hex_wild",
          "g_hex_nibble_jump", "g_hex_alt", "g_hex_alt_wild", "g_hex_open_jump", "g_hex_nul", "g_regex",
          "g_regex_alt_nocase", "g_regex_wide", "g_at", "g_at_eof", "g_in", "g_in_eof", "g_count", "g_count_gt", "g_pe",
          "g_elf_at", "g_any", "g_two_of", "g_all_of", "g_and_not", "g_or", "g_xor_and", "g_two_of_xor", "g_for_and",
          "g_ref", "g_uses_private", "g_count_or", "g_entropy", "gg_global", "gg_helium", "gg_neon_at"}) {
      EXPECT_EQ(rules_hit.count(rule), 1u) << "no generated file matches " << rule;
    }
    EXPECT_EQ(rules_hit.count("g_never"), 0u);
  }
}

// ---- prefilter on == prefilter off, on random gated rule sets ------------------------------

// A random rule set in which every rule is gated, with byte snippets that match its
// strings (or almost: case flipped, widened, cut).
struct RandomGatedSet {
  std::string source;
  size_t rules = 0;
  std::vector<std::string> snippets;
};

RandomGatedSet MakeRandomGatedSet(std::mt19937& rng) {
  auto pick = [&](size_t n) { return static_cast<size_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
  const std::string letters = "abcdXY01";
  auto word = [&](size_t min_len) {
    std::string w;
    for (size_t i = 0, n = min_len + pick(4); i < n; ++i) w += letters[pick(letters.size())];
    return w;
  };
  const uint8_t kHexBytes[] = {0x00, 0x01, 0x61, 0x62, 0x63, 0xff, 0x58};
  RandomGatedSet set;
  set.rules = 20 + pick(15);
  for (size_t r = 0; r < set.rules; ++r) {
    const size_t nstrings = 1 + pick(3);
    std::string strings;
    for (size_t s = 0; s < nstrings; ++s) {
      std::string def, sample;
      switch (pick(3)) {
        case 0: {  // text
          std::string w = word(2);
          def = "\"" + w + "\"";
          const bool wide = pick(3) == 0, nocase = pick(3) == 0;
          if (nocase) def += " nocase";
          if (wide) def += pick(2) == 0 ? " wide" : " wide ascii";
          if (pick(5) == 0) def += " fullword";
          sample = w;
          if (nocase && pick(2) == 0) {
            for (char& c : sample) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          }
          if (wide && pick(2) == 0) sample = Wide(sample);
          break;
        }
        case 1: {  // hex: fixed first and last bytes; ??, nibbles, an alternative, a jump inside
          const size_t n = 3 + pick(5);
          std::vector<std::string> toks;
          for (size_t i = 0; i < n; ++i) {
            const uint8_t b = kHexBytes[pick(sizeof kHexBytes)];
            const bool edge = i == 0 || i + 1 == n;
            switch (edge ? 0 : pick(6)) {
              case 1: toks.push_back("??"); sample += static_cast<char>(letters[pick(letters.size())]); break;
              case 2: toks.push_back(fmt::format("{:X}?", b >> 4)); sample += static_cast<char>(b); break;
              case 3: {
                const uint8_t other = kHexBytes[pick(sizeof kHexBytes)];
                toks.push_back(fmt::format("( {:02X} | {:02X} {:02X} )", b, other, b));
                sample += pick(2) == 0 ? std::string(1, static_cast<char>(b))
                                       : std::string{static_cast<char>(other), static_cast<char>(b)};
                break;
              }
              case 4: toks.push_back(fmt::format("{:02X} [0-2]", b)); sample += static_cast<char>(b); break;
              default: toks.push_back(fmt::format("{:02X}", b)); sample += static_cast<char>(b); break;
            }
          }
          def = "{";
          for (const auto& t : toks) def += " " + t;
          def += " }";
          break;
        }
        default: {  // regex with a literal of 2+ characters somewhere
          std::string w = word(2);
          const char* kPieces[] = {"[0-9]", ".", "c?", "(x|yz)", "d+", "X*"};
          const char* kSamples[] = {"7", "a", "c", "yz", "dd", ""};
          const size_t before = pick(6), after = pick(6);
          def = fmt::format("/{}{}{}/", kPieces[before], w, kPieces[after]);
          sample = kSamples[before] + w + kSamples[after];
          const bool nocase = pick(4) == 0;
          if (nocase) def += pick(2) == 0 ? "i" : " nocase";
          if (pick(4) == 0) {
            def += " wide";
            sample = Wide(sample);
          }
          break;
        }
      }
      strings += fmt::format(" $s{} = {}", s, def);
      set.snippets.push_back(sample);
      if (sample.size() > 1 && pick(3) == 0) set.snippets.push_back(sample.substr(0, sample.size() - 1));
    }
    // A gated expression over the strings, then every string referenced (libyara requires
    // it) without changing the result.
    std::function<std::string(int)> gated = [&](int depth) -> std::string {
      const size_t s = pick(nstrings);
      switch (depth > 2 ? pick(5) : pick(10)) {
        case 0: return fmt::format("$s{}", s);
        case 1: return fmt::format("$s{} at {}", s, pick(12));
        case 2: return fmt::format("$s{} in ({}..{})", s, pick(10), 10 + pick(30));
        case 3: return fmt::format("#s{} {} {}", s, pick(2) == 0 ? ">=" : "==", 1 + pick(2));
        case 4: return pick(3) == 0 ? "all of them" : pick(2) == 0 ? "any of them" : "2 of them";
        case 5: return gated(depth + 1) + " and " + gated(depth + 1);
        case 6: {
          const char* kAny[] = {"not $s0", "filesize > 30", "#s0 == 0", "uint8(0) == 0x61", "true",
                                "for any of them : (# > 1)"};
          return pick(2) == 0 ? gated(depth + 1) + " and " + kAny[pick(6)] : std::string(kAny[pick(6)]) + " and " +
                                                                               gated(depth + 1);
        }
        case 7: return gated(depth + 1) + " or " + gated(depth + 1);
        case 8: return "(" + gated(depth + 1) + ")";
        default: return fmt::format("filesize < {} and $s{}", 20 + pick(100), s);
      }
    };
    const bool global = pick(40) == 0, is_private = pick(8) == 0;
    set.source += fmt::format("{}{}rule r{} {{ strings:{} condition: ({}) and (true or any of them) }}\n",
                              global ? "global " : "", is_private ? "private " : "", r, strings, gated(0));
  }
  if (pick(4) == 0) {
    set.source += "rule all_nul { strings: $z = { 00 00 00 } condition: #z > 2 }\n";
    set.snippets.push_back(std::string(4, '\0'));
    ++set.rules;
  }
  return set;
}

// Whether `atom` occurs in `data` (ASCII case folded when the atom is caseless).
bool ContainsAtom(std::string_view data, const YaraAtom& atom) {
  for (size_t p = 0; p + atom.bytes.size() <= data.size(); ++p) {
    bool same = true;
    for (size_t q = 0; q < atom.bytes.size() && same; ++q) {
      const auto x = static_cast<unsigned char>(data[p + q]), y = static_cast<unsigned char>(atom.bytes[q]);
      same = atom.caseless ? std::tolower(x) == std::tolower(y) : x == y;
    }
    if (same) return true;
  }
  return false;
}

TEST(YaraRulesTest, PrefilterOnAndOffAgreeOnRandomGatedRuleSets) {
  std::mt19937 rng(99);
  auto pick = [&](size_t n) { return static_cast<size_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
  size_t scans = 0, skipped = 0, skipped_exact = 0, matches = 0;
  for (int round = 0; round < 12; ++round) {
    RandomGatedSet set = MakeRandomGatedSet(rng);
    // Off, atoms, exact.
    const YaraPrefilterMode kModes[] = {YaraPrefilterMode::kOff, YaraPrefilterMode::kAtoms, YaraPrefilterMode::kExact};
    std::shared_ptr<const YaraRules> built[3];
    for (int m = 0; m < 3; ++m) {
      std::vector<LoadProblem> problems;
      YaraCompiler compiler;
      compiler.set_prefilter(kModes[m]);
      ASSERT_EQ(compiler.AddSource("r.yar", "r", set.source, &problems), set.rules) << set.source;
      auto b = compiler.Build();
      ASSERT_TRUE(b.has_value()) << b.error();
      built[m] = *b;
    }
    ASSERT_EQ(built[0]->prefiltered_set_count(), 0u);
    for (int m = 1; m < 3; ++m) {
      ASSERT_EQ(built[m]->prefiltered_set_count(), 1u) << built[m]->prefilter_stats().off_reason << "\n" << set.source;
      ASSERT_EQ(built[m]->prefilter_stats().note, "");
    }
    EXPECT_GT(built[2]->prefilter_stats().regexes, 0u);
    YaraScanner off(built[0]), on(built[1]), exact(built[2]);
    // A second oracle, more sensitive than equal results: the atoms prefilter skips an
    // input only if no atom of any rule occurs in it.
    std::vector<YaraAtom> atoms;
    for (const YaraRuleGate& r : AnalyseYaraSource(set.source).rules) {
      atoms.insert(atoms.end(), r.atoms.begin(), r.atoms.end());
    }
    for (int i = 0; i < 250; ++i) {
      // Half the inputs from bytes the atoms are made of, half from others.
      const std::string alphabet = i % 2 == 0 ? std::string("abcdXY01 \0\x01\xff", 13) : std::string("pqrstuvw");
      std::string data(pick(120), ' ');
      for (char& c : data) c = alphabet[pick(alphabet.size())];
      for (size_t k = 0, n = i % 2 == 0 ? pick(5) : pick(2); k < n; ++k) {
        const std::string& snip = set.snippets[pick(set.snippets.size())];
        data.insert(pick(4) == 0 ? std::min<size_t>(data.size(), pick(12)) : pick(data.size() + 1), snip);
      }
      std::vector<std::string> m_off, m_on, m_exact;
      ScanContext ctx{"f.bin", "/f.bin", ""};
      Status s_off = off.Scan(Bytes(data), ctx, "", &m_off);
      const uint64_t skips_before = on.prefilter_skips();
      Status s_on = on.Scan(Bytes(data), ctx, "", &m_on);
      if (on.prefilter_skips() > skips_before) {
        for (const YaraAtom& a : atoms) {
          ASSERT_FALSE(ContainsAtom(data, a)) << "skipped although an atom occurs; round " << round << " input " << i;
        }
      }
      Status s_exact = exact.Scan(Bytes(data), ctx, "", &m_exact);
      ASSERT_TRUE(s_off.ok() && s_on.ok() && s_exact.ok()) << s_off.message() << s_on.message() << s_exact.message();
      ASSERT_EQ(m_on, m_off) << "round " << round << " input " << i << "\n" << set.source;
      ASSERT_EQ(m_exact, m_off) << "exact mode, round " << round << " input " << i << "\n" << set.source;
      ++scans;
      matches += m_on.size();
    }
    skipped += on.prefilter_skips();
    skipped_exact += exact.prefilter_skips();
  }
  std::cout << "[ random ] " << scans << " inputs, " << skipped << " skipped by the atoms prefilter, " << skipped_exact
            << " by the exact one, " << matches << " matches, identical with the prefilter off\n";
  EXPECT_GE(skipped_exact, skipped);
  EXPECT_GT(skipped, scans / 5);
  EXPECT_LT(skipped, scans - scans / 5);
  EXPECT_GT(matches, scans / 10);
}

}  // namespace
}  // namespace avkey::engine
