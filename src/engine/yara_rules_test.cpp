// Tests of the libyara wrapper: constructs, externals, per-file error isolation,
// compiled rules, budgets, threads, and a differential test against the yara CLI.
#include "engine/yara_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
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

namespace avkey::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

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

TEST(YaraRulesTest, SyntaxErrorIsReportedWithLineAndGoodSourcesStillMatch) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_EQ(compiler.AddSource("good1.yar", "good1", "rule good_one { strings: $a = \"one\" condition: $a }",
                               &problems),
            1u);
  EXPECT_EQ(compiler.AddSource("bad.yar", "bad",
                               "rule fine_in_bad { condition: true }\n"
                               "\n"
                               "rule broken { strings: $a = \"xyzzy\" condition: $a and and }\n",
                               &problems),
            0u);
  EXPECT_EQ(compiler.AddSource("good2.yar", "good2",
                               "rule good_two { strings: $a = \"two\" condition: $a }\n"
                               "rule good_three { condition: filesize == 7 }",
                               &problems),
            2u);
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_NE(*built, nullptr);
  EXPECT_EQ((*built)->rule_count(), 3u);  // nothing of bad.yar, not even its good rule

  ASSERT_EQ(problems.size(), 1u) << problems[1].line << ": " << problems[1].reason;
  EXPECT_EQ(problems[0].file, "bad.yar");
  EXPECT_EQ(problems[0].line, 3u);
  EXPECT_THAT(problems[0].reason, HasSubstr("syntax error"));

  YaraScanner scanner(*built);
  EXPECT_THAT(ScanOrDie(scanner, "one two"), ElementsAre("good_one", "good_two", "good_three"));
}

TEST(YaraRulesTest, SemanticErrorsWarningsIncludesAndNulBytes) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  // Warning only: the rule loads, the warning is reported with its line.
  EXPECT_EQ(compiler.AddSource("warn.yar", "warn", "\nrule slow { strings: $h = { 01 [0-] 02 } condition: $h }",
                               &problems),
            1u);
  EXPECT_EQ(compiler.AddSource("undef.yar", "undef", "rule u {\n condition: no_such_rule\n}", &problems), 0u);
  EXPECT_EQ(compiler.AddSource("inc.yar", "inc", "rule ok { condition: true }\ninclude \"/etc/passwd\"\n",
                               &problems),
            0u);
  EXPECT_EQ(compiler.AddSource("eof.yar", "eof", "rule ok2 { condition: true }\nrule cut {\n condition: true\n",
                               &problems),
            0u);
  EXPECT_EQ(compiler.AddSource("nul.yar", "nul", std::string("rule n { condition: true }\n\0", 28), &problems),
            0u);
  EXPECT_EQ(compiler.AddSource("module.yar", "module", "import \"no_such_module\"\nrule m { condition: true }",
                               &problems),
            0u);
  // After failures sources are checked in a scratch compiler first: a warning is still
  // reported once.
  EXPECT_EQ(compiler.AddSource("warn2.yar", "warn2", "rule slow2 { strings: $h = { 03 [0-] 04 } condition: $h }",
                               &problems),
            1u);
  auto built = compiler.Build();
  ASSERT_TRUE(built.has_value()) << built.error();
  ASSERT_NE(*built, nullptr);
  EXPECT_EQ((*built)->rule_count(), 2u);

  std::map<std::string, LoadProblem> by_file;
  for (const auto& p : problems) by_file.emplace(p.file, p);
  ASSERT_EQ(by_file.size(), 7u);
  EXPECT_EQ(problems.size(), 7u);  // one each
  EXPECT_THAT(by_file["warn2.yar"].reason, HasSubstr("warning: rule slow2"));
  EXPECT_EQ(by_file["warn.yar"].line, 2u);
  EXPECT_THAT(by_file["warn.yar"].reason, AllOf(HasSubstr("warning: "), HasSubstr("rule slow")));
  EXPECT_EQ(by_file["undef.yar"].line, 2u);
  EXPECT_THAT(by_file["undef.yar"].reason, HasSubstr("no_such_rule"));
  EXPECT_EQ(by_file["inc.yar"].line, 2u);
  EXPECT_THAT(by_file["inc.yar"].reason, HasSubstr("includes are disabled"));
  EXPECT_EQ(by_file["eof.yar"].line, 3u);  // libyara says 0: end of file
  EXPECT_THAT(by_file["eof.yar"].reason, HasSubstr("syntax error"));
  EXPECT_EQ(by_file["nul.yar"].line, 2u);
  EXPECT_THAT(by_file["nul.yar"].reason, HasSubstr("NUL"));
  EXPECT_EQ(by_file["module.yar"].line, 1u);
  EXPECT_THAT(by_file["module.yar"].reason, HasSubstr("no_such_module"));

  YaraScanner scanner(*built);
  EXPECT_THAT(ScanOrDie(scanner, std::string("\x01zz\x02\x03\x04", 6)), ElementsAre("slow", "slow2"));
}

TEST(YaraRulesTest, SourceConflictingWithAnEarlierOneIsSkippedAndLaterOnesStillLoad) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_EQ(compiler.AddSource("dir1/same.yar", "same", "rule dup { condition: true }", &problems), 1u);
  // Compiles alone, but repeats a rule name in the same namespace (first failure: the
  // main compiler is rebuilt, and later sources are checked first).
  EXPECT_EQ(compiler.AddSource("dir2/same.yar", "same", "rule other { condition: true }\nrule dup { condition: true }",
                               &problems),
            0u);
  EXPECT_EQ(compiler.AddSource("later.yar", "later", "rule later { condition: true }", &problems), 1u);
  // Checked mode: passes the checker (created after dir1's source), conflicts in main.
  EXPECT_EQ(compiler.AddSource("dir3/same.yar", "same", "rule fresh { condition: true }\n\nrule dup { condition: true }",
                               &problems),
            0u);
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
  EXPECT_EQ((*built)->rule_count(), 3u);
  YaraScanner scanner(*built);
  EXPECT_THAT(ScanOrDie(scanner, "x"), ElementsAre("dup", "later", "last"));
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

  YaraScanner scanner(*built);
  // Source rules first, then each compiled set in the order added.
  ScanContext target{"target.bin", "/tmp/target.bin", ""};
  EXPECT_THAT(ScanOrDie(scanner, "coffee \xC0\xFF\xEE", target),
              ElementsAre("source_rule", "compiled_hex", "compiled_name", "compiled_hex", "compiled_name"));
  ScanContext other{"other.bin", "/tmp/other.bin", ""};
  EXPECT_THAT(ScanOrDie(scanner, "\xC0\xFF\xEE", other), ElementsAre("compiled_hex", "compiled_hex"));

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
    size_t size = pick(3) == 0 ? pick(64) : 64 + pick(3000);
    std::string data(size, '\0');
    bool text = pick(2) == 0;
    for (char& c : data) {
      c = text ? " abcdefghijklmnopqrstuvwxyz\n"[pick(28)] : static_cast<char>(pick(256));
    }
    if (pick(5) == 0 && data.size() >= 2) {
      data[0] = 'M';
      data[1] = 'Z';
    }
    size_t inserts = pick(8);
    for (size_t k = 0; k < inserts; ++k) {
      const std::string& ing = ingredients[pick(ingredients.size())];
      size_t at = data.empty() ? 0 : pick(data.size() + 1);
      data.insert(at, ing);
    }
    if (pick(4) == 0) data = "romeo " + data;
    char name[32];
    std::snprintf(name, sizeof name, "f%02d_gen", i);
    files[name] = data;
  }
  return files;
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

  // The oracle: one thread so that each file's lines come in rule order.
  std::string out;
  std::string cmd = "yara -p 1 -r -N " + rules_path.string() + " " + files_dir.string() + " 2>/dev/null";
  ASSERT_TRUE(RunCommand(cmd, &out)) << "yara failed: " << out;
  std::map<std::string, std::vector<std::string>> expected;
  std::istringstream lines(out);
  std::string line;
  size_t cli_pairs = 0;
  while (std::getline(lines, line)) {
    size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    expected[fs::path(line.substr(space + 1)).filename().string()].push_back(line.substr(0, space));
    ++cli_pairs;
  }

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

}  // namespace
}  // namespace avkey::engine
