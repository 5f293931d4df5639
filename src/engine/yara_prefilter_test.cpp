// Tests of the YARA prefilter's analysis (which rules are gated, which atoms each string
// gets) and of its Vectorscan literal database. End-to-end checks against libyara and the
// yara CLI are in yara_rules_test.cpp.
#include "engine/yara_prefilter.h"

#include "engine/yara_rules.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace avkey::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::span<const uint8_t> Bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

YaraAtom Cs(std::string s) { return YaraAtom{std::move(s), false}; }
YaraAtom Ci(std::string s) { return YaraAtom{std::move(s), true}; }
std::string W(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    out += '\0';
  }
  return out;
}

// The analysis is only ever given sources libyara compiled: so are the tests' sources.
void ExpectLibyaraCompiles(std::string_view source) {
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  EXPECT_GT(compiler.AddSource("t.yar", "t", source, &problems), 0u) << source;
  for (const auto& p : problems) {
    EXPECT_THAT(p.reason, HasSubstr("warning: ")) << source << "\n" << p.line << ": " << p.reason;
  }
}

// The only rule of `source`; `valid` is what libyara must compile (default: source).
YaraRuleGate OneRule(std::string_view source, std::string_view valid = {}) {
  ExpectLibyaraCompiles(valid.empty() ? source : valid);
  YaraSourceGates g = AnalyseYaraSource(source);
  EXPECT_EQ(g.error, "") << source;
  EXPECT_EQ(g.rules.size(), 1u) << source;
  return g.rules.empty() ? YaraRuleGate{} : g.rules[0];
}

// Strings shared by the condition tests: $c has no atom (xor).
constexpr std::string_view kStrings = R"($a = "alpha" $a2 = "alpine" $b = { 62 72 61 76 6F } $c = "xored" xor)";

// libyara refuses unreferenced strings: it is shown `(condition) and (true or any of them)`,
// which is valid exactly when the condition is.
YaraRuleGate WithCondition(std::string_view condition) {
  return OneRule(
      fmt::format("rule r {{ strings: {} condition: {} }}", kStrings, condition),
      fmt::format("rule r {{ strings: {} condition: ({}) and (true or any of them) }}", kStrings, condition));
}

// ---- conditions ---------------------------------------------------------------------------

TEST(YaraPrefilterTest, GatedConditions) {
  const char* gated[] = {
      "$a",
      "$a at 100",
      "$a at filesize - 300",
      "$a at (1 + 2) * 3",
      "$a in (0..100)",
      "$a in (filesize - 300..filesize)",
      "#a > 0",
      "#a > 5",
      "#a >= 1",
      "#a >= 2",
      "#a == 3",
      "#a != 0",
      "any of ($a*)",
      "any of ($a, $b)",
      "1 of ($a*, $b)",
      "2 of ($a, $c)",  // both must match: $a must
      "all of ($a, $c)",
      "all of them",
      "any of ($a*) in (0..100)",
      "5 of ($a, $b)",  // never true, still needs a match
      "$a and filesize < 10",
      "filesize < 10 and $a",
      "$c and $a",
      "$a or $b",
      "$a or $b or #a2 > 0",
      "($a)",
      "((($a)))",
      "($a or $b) and not $c",
      "not $c and $a",
      "uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and $a at 1234",
      "uint32(0) == 0x464C457F and $a in (filesize - 23448..filesize - 23394)",
      "false",
      "$a and for any i in (1..#a) : (@a[i] > 5)",
      "$a and (for any of them : (true))",
      "$a /* or true */",
      "// or true\n$a",
      "$a // or true\n",
      "filesize < 10 and ($a or ($b and filesize > 1))",
  };
  for (const char* c : gated) {
    YaraRuleGate r = WithCondition(c);
    EXPECT_TRUE(r.gated) << c << ": " << r.why_not;
    EXPECT_EQ(r.why_not, "") << c;
  }
}

TEST(YaraPrefilterTest, NotGatedConditions) {
  const char* not_gated[] = {
      "not $a",
      "not ($a)",
      "$a or filesize < 10",
      "filesize < 10 or $a",
      "#a == 0",
      "#a >= 0",
      "#a < 3",
      "#a != 1",
      "#a > 0x0",  // only decimal literals are read
      "#a > 1KB",
      "#a",
      "#a > 0 + 1",
      "@a[1] > 0",
      "!a[1] == 5",
      "for any of them : (# > 0)",
      "for any of them : ($)",
      "for all of ($a*) : ($ at 0)",
      "for any i in (1..#a) : (@a[i] > 5)",
      "true",
      "filesize > 10",
      "uint16(0) == 0x5A4D",
      "none of them",
      "0 of them",
      "defined $a",
      "$c",
      "any of them",         // includes $c, which has no atom
      "1 of ($a, $c)",
      "#c > 0",
      "$a or $c",
      "$c at 0",
  };
  for (const char* c : not_gated) {
    YaraRuleGate r = WithCondition(c);
    EXPECT_FALSE(r.gated) << c;
    EXPECT_NE(r.why_not, "") << c;
  }
}

TEST(YaraPrefilterTest, GatingPicksTheStringsThatMustMatch) {
  // `and`: one side is enough, the better one (longer atoms).
  EXPECT_THAT(WithCondition("$b and $a2").atoms, ElementsAre(Cs("alpine")));
  // `or`: both sides.
  EXPECT_THAT(WithCondition("$a or $b").atoms, UnorderedElementsAre(Cs("alpha"), Cs("bravo")));
  // `all of`: any one member is enough.
  EXPECT_THAT(WithCondition("all of ($a, $a2, $b)").atoms.size(), 1u);
  // `2 of` three: any two of them.
  EXPECT_THAT(WithCondition("2 of ($a, $a2, $b)").atoms.size(), 2u);
  // `2 of ($a, $c)`: $c has no atom, so $a must match.
  EXPECT_THAT(WithCondition("2 of ($a, $c)").atoms, ElementsAre(Cs("alpha")));
  EXPECT_THAT(WithCondition("false").atoms, IsEmpty());
  EXPECT_THAT(WithCondition("not $c").why_not, HasSubstr("not"));
  EXPECT_THAT(WithCondition("$c").why_not, HasSubstr("xor"));
}

TEST(YaraPrefilterTest, RuleReferencesPrivateAndGlobalRules) {
  constexpr std::string_view kSource = R"(
import "pe"
private rule p : tag1 tag2 { strings: $x = "hidden" condition: $x }
global rule g { condition: filesize > 10 }
global private rule gp { strings: $x = "gpgp" condition: $x at 0 }
rule uses_p { condition: p }
rule uses_p_and_string { strings: $y = "visible" condition: p and $y }
rule uses_p_or_string { strings: $y = "visible" condition: p or $y }
rule module { strings: $z = "zzz" condition: pe.number_of_sections > 2 and $z }
rule module_only { condition: pe.number_of_sections > 2 }
)";
  ExpectLibyaraCompiles(kSource);
  YaraSourceGates g = AnalyseYaraSource(kSource);
  ASSERT_EQ(g.error, "");
  ASSERT_EQ(g.rules.size(), 8u);
  EXPECT_TRUE(g.rules[0].is_private);
  EXPECT_TRUE(g.rules[0].gated);
  EXPECT_TRUE(g.rules[1].is_global);
  EXPECT_FALSE(g.rules[1].gated);
  EXPECT_TRUE(g.rules[2].is_global && g.rules[2].is_private && g.rules[2].gated);
  EXPECT_EQ(g.rules[3].name, "uses_p");
  EXPECT_FALSE(g.rules[3].gated);  // a rule reference: not its own string
  EXPECT_TRUE(g.rules[4].gated);
  EXPECT_FALSE(g.rules[5].gated);
  EXPECT_TRUE(g.rules[6].gated);
  EXPECT_FALSE(g.rules[7].gated);
}

TEST(YaraPrefilterTest, CommentsStringsAndRegexesDoNotConfuseTheReader) {
  constexpr std::string_view kSource = R"(
/* rule fake { condition: true } */
// rule fake2 { condition: true }
rule tricky /* } */ {
  meta:
    description = "condition: true } or $a"
    quote = "a \" b } c"
    n = -1
    flag = true
  strings:
    $a = "x}\"y condition: true" // } or true
    $r = /a\/b}c"d/ /* ) or ( */
    $h = { 41 42 43 }
  condition:
    /* or true */ $a or ($r and $h) // or filesize > 0
}
rule second { strings: $s = "condition:" condition: $s and "str" contains "or true" }
rule third { condition: "}" == "}" }
)";
  ExpectLibyaraCompiles(kSource);
  YaraSourceGates g = AnalyseYaraSource(kSource);
  ASSERT_EQ(g.error, "");
  ASSERT_EQ(g.rules.size(), 3u);
  EXPECT_EQ(g.rules[0].name, "tricky");
  ASSERT_EQ(g.rules[0].strings.size(), 3u);
  EXPECT_THAT(g.rules[0].strings[0].atoms, ElementsAre(Cs("x}\"y condition: ")));  // cut to 16
  EXPECT_THAT(g.rules[0].strings[1].atoms, ElementsAre(Cs("a/b")));  // a stray `}` ends a run
  EXPECT_TRUE(g.rules[0].gated);
  EXPECT_TRUE(g.rules[1].gated);
  EXPECT_FALSE(g.rules[2].gated);
}

TEST(YaraPrefilterTest, UnreadableSourcesGateNothing) {
  // A comment inside a hex string may hide a `}`: the whole source is given up.
  constexpr std::string_view kSource = R"(
rule before { strings: $a = "abc" condition: $a }
rule hexcomment { strings: $h = { 41 /* } */ 42 } condition: $h }
)";
  ExpectLibyaraCompiles(kSource);
  YaraSourceGates g = AnalyseYaraSource(kSource);
  EXPECT_THAT(g.error, HasSubstr("hex string"));
  EXPECT_THAT(g.rules, IsEmpty());
  for (const char* bad : {"rule a { condition: $a", "rule { condition: true }", "include \"x.yar\"",
                          "rule a { strings: $a = \"abc condition: $a }", "rule a { strings: $a = /abc condition: $a }",
                          "rule a { condition: true } /* open", "rule a { strings: $a = \xff condition: $a }"}) {
    YaraSourceGates b = AnalyseYaraSource(bad);
    EXPECT_NE(b.error, "") << bad;
    EXPECT_THAT(b.rules, IsEmpty()) << bad;
  }
  EXPECT_EQ(AnalyseYaraSource("").error, "");
  EXPECT_EQ(AnalyseYaraSource("// nothing\nimport \"math\"\n").error, "");
}

// ---- atoms --------------------------------------------------------------------------------

std::vector<YaraAtom> AtomsOf(std::string_view string_def) {
  YaraRuleGate r = OneRule(fmt::format("rule r {{ strings: $s = {} condition: $s }}", string_def));
  if (r.strings.size() != 1) return {};
  EXPECT_EQ(r.strings[0].atomisable, !r.strings[0].atoms.empty()) << string_def;
  return r.strings[0].atoms;
}

std::string WhyNot(std::string_view string_def) {
  YaraRuleGate r = OneRule(fmt::format("rule r {{ strings: $s = {} condition: $s }}", string_def));
  EXPECT_FALSE(r.gated) << string_def;
  return r.strings.empty() ? "" : r.strings[0].why_not;
}

TEST(YaraPrefilterTest, TextAtoms) {
  EXPECT_THAT(AtomsOf(R"("abc")"), ElementsAre(Cs("abc")));
  EXPECT_THAT(AtomsOf(R"("abc" ascii fullword private)"), ElementsAre(Cs("abc")));
  EXPECT_THAT(AtomsOf(R"("abc" nocase)"), ElementsAre(Ci("abc")));
  EXPECT_THAT(AtomsOf(R"("123" nocase)"), ElementsAre(Cs("123")));  // nothing to fold
  EXPECT_THAT(AtomsOf(R"("abc" wide)"), ElementsAre(Cs(W("abc"))));
  EXPECT_THAT(AtomsOf(R"("abc" wide ascii)"), ElementsAre(Cs("abc"), Cs(W("abc"))));
  EXPECT_THAT(AtomsOf(R"("abc" nocase wide)"), ElementsAre(Ci(W("abc"))));
  EXPECT_THAT(AtomsOf(R"("a\x41\n\t\r\\\"")"), ElementsAre(Cs("aA\n\t\r\\\"")));
  EXPECT_THAT(AtomsOf(R"("0123456789abcdefghij")"), ElementsAre(Cs("0123456789abcdef")));
  EXPECT_THAT(AtomsOf(R"("0123456789abcdefghij" wide)"), ElementsAre(Cs(W("01234567"))));
  // nocase folds ASCII only: the atom is the longest ASCII run.
  EXPECT_THAT(AtomsOf(R"("\xe9t\xe9abc" nocase)"), ElementsAre(Ci("abc")));
  EXPECT_THAT(AtomsOf(R"("\xe9t\xe9abc")"), ElementsAre(Cs("\xe9t\xe9" "abc")));
  EXPECT_THAT(WhyNot(R"("abc" xor)"), HasSubstr("xor"));
  EXPECT_THAT(WhyNot(R"("abc" xor(1-255))"), HasSubstr("xor"));
  EXPECT_THAT(WhyNot(R"("abc" wide xor(3))"), HasSubstr("xor"));
  EXPECT_THAT(WhyNot(R"("abcdef" base64)"), HasSubstr("base64"));
  EXPECT_THAT(WhyNot(R"("abcdef" base64wide)"), HasSubstr("base64"));
  EXPECT_THAT(WhyNot(R"("abcdef" base64("!@#$%^&*(){}[].,|ABCDEFGHIJ\x09LMNOPQRSTUVWXYZabcdefghijklmnopqrstu"))"),
              HasSubstr("base64"));
  EXPECT_THAT(WhyNot(R"("\xe9\xe8" nocase)"), HasSubstr("ASCII"));
}

TEST(YaraPrefilterTest, HexAtoms) {
  EXPECT_THAT(AtomsOf("{ 4D 5A 90 00 }"), ElementsAre(Cs(std::string("MZ\x90\0", 4))));
  EXPECT_THAT(AtomsOf("{ 4d5a ?? 00 11 22 }"), ElementsAre(Cs(std::string("\0\x11\x22", 3))));
  EXPECT_THAT(AtomsOf("{ 11 22 [2-4] 33 44 55 }"), ElementsAre(Cs("\x33\x44\x55")));
  EXPECT_THAT(AtomsOf("{ 11 22 33 [-] 44 55 }"), ElementsAre(Cs("\x11\x22\x33")));
  EXPECT_THAT(AtomsOf("{ 11 22 [4-] 44 55 66 }"), ElementsAre(Cs("\x44\x55\x66")));
  EXPECT_THAT(AtomsOf("{ 4? 5A ?B }"), ElementsAre(Cs("\x5A")));
  // A fixed-bytes alternative with its neighbours: one literal per branch.
  EXPECT_THAT(AtomsOf("{ AA ( BB | CC DD ) EE }"), ElementsAre(Cs("\xAA\xBB\xEE"), Cs("\xAA\xCC\xDD\xEE")));
  // Other alternatives: each branch's own best literal.
  EXPECT_THAT(AtomsOf("{ ( 11 22 ?? 33 | 44 55 [1-2] 66 ) }"), ElementsAre(Cs("\x11\x22"), Cs("\x44\x55")));
  // The longest run wins over an alternative with shorter literals, and long runs are cut.
  EXPECT_THAT(AtomsOf("{ 64 2A 2A 20 73 6F ( 09 | 6D ) 65 20 67 72 6F 75 6E 64 20 72 75 6C 65 73 20 61 62 6F }"),
              ElementsAre(Cs("e ground rules a")));
  // Nested alternatives and jumps inside them.
  EXPECT_THAT(AtomsOf("{ 41 ( 42 [1-2] 43 | 44 ( 45 | 46 ) ) 47 }"), ElementsAre(Cs("A")));
  EXPECT_THAT(AtomsOf("{ ?? ( 41 42 | 43 44 ( 45 | 46 ) ) ?? }"),
              ElementsAre(Cs("AB"), Cs("CDE"), Cs("CDF")));
  EXPECT_THAT(WhyNot("{ ?? ?? }"), HasSubstr("fixed byte"));
  EXPECT_THAT(WhyNot("{ 4? ?5 [2] ?? }"), HasSubstr("fixed byte"));
  EXPECT_THAT(WhyNot("{ ( 41 | ?? ) }"), HasSubstr("fixed byte"));
  EXPECT_THAT(AtomsOf("{ 41 ( 42 | ?? ) }"), ElementsAre(Cs("A")));
}

TEST(YaraPrefilterTest, RegexAtoms) {
  EXPECT_THAT(AtomsOf("/abc[0-9]+defg/"), ElementsAre(Cs("defg")));
  EXPECT_THAT(AtomsOf("/ab+c/"), ElementsAre(Cs("ab")));
  EXPECT_THAT(AtomsOf("/abc?d/"), ElementsAre(Cs("ab")));
  EXPECT_THAT(AtomsOf("/abcd*e/"), ElementsAre(Cs("abc")));
  EXPECT_THAT(AtomsOf("/x{2,3}yz/"), ElementsAre(Cs("yz")));
  EXPECT_THAT(AtomsOf("/ab{2}cd/"), ElementsAre(Cs("cd")));
  EXPECT_THAT(AtomsOf("/a.bc/"), ElementsAre(Cs("bc")));
  EXPECT_THAT(AtomsOf("/kilo(gram|meter)/i"), ElementsAre(Ci("kilo")));
  EXPECT_THAT(AtomsOf("/kilo(gram|meter)/ nocase"), ElementsAre(Ci("kilo")));
  EXPECT_THAT(AtomsOf("/foo|barbaz/"), ElementsAre(Cs("foo"), Cs("barbaz")));
  EXPECT_THAT(AtomsOf("/(ab)*cd/"), ElementsAre(Cs("cd")));
  EXPECT_THAT(AtomsOf("/[ab|]cd/"), ElementsAre(Cs("cd")));
  EXPECT_THAT(AtomsOf(R"(/a\/b\.c\x41?d/)"), ElementsAre(Cs("a/b.c")));
  EXPECT_THAT(AtomsOf(R"(/\bmike\b/)"), ElementsAre(Cs("mike")));
  EXPECT_THAT(AtomsOf("/osc(a|e)r/ wide"), ElementsAre(Cs(W("osc"))));
  EXPECT_THAT(AtomsOf("/osc(a|e)r/ wide ascii"), ElementsAre(Cs("osc"), Cs(W("osc"))));
  EXPECT_THAT(AtomsOf("/abc+?d/"), ElementsAre(Cs("abc")));
  EXPECT_THAT(WhyNot(R"(/\d+/)"), HasSubstr("literal"));
  EXPECT_THAT(WhyNot("/a{b/"), HasSubstr("{"));
  EXPECT_THAT(WhyNot("/foo|[0-9]+/"), HasSubstr("literal"));
  EXPECT_THAT(WhyNot("/a?b?c?/"), HasSubstr("literal"));
  EXPECT_THAT(WhyNot("/[]a]bc/"), HasSubstr("class"));
}

TEST(YaraPrefilterTest, AnonymousAndWildcardStrings) {
  // (OneRule also checks that libyara compiles each.)
  YaraRuleGate r = OneRule(R"(rule r { strings: $ = "one" $ = "two" $x1 = "three" condition: any of them })");
  EXPECT_TRUE(r.gated);
  EXPECT_THAT(r.atoms, UnorderedElementsAre(Cs("one"), Cs("two"), Cs("three")));
  r = OneRule(R"(rule r { strings: $ = "one" $x1 = "three" $x2 = "four"
                          condition: any of ($x*) and (true or any of them) })");
  EXPECT_THAT(r.atoms, UnorderedElementsAre(Cs("three"), Cs("four")));
  r = OneRule(R"(rule r { strings: $ = "one" $x = "abc" xor condition: any of ($*) })");
  EXPECT_FALSE(r.gated);
}

// Inputs the fuzzer keeps for YaraCompiler, mutated: the reader never crashes, and what it
// reads from garbage is never inconsistent.
TEST(YaraPrefilterTest, SurvivesFuzzSeedsAndMutations) {
  std::vector<std::string> inputs;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(
           std::filesystem::path(AVKEY_SOURCE_DIR) / "fuzz" / "seeds" / "yara_rules_fuzz", ec)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    inputs.push_back(ss.str());
  }
  ASSERT_FALSE(inputs.empty());
  std::mt19937 rng(7);
  const std::string alphabet = "{}()[]|/\\\"*?$#@!=<>.,:-~ \n\tanotrdulefis0123456789ABCDEF";
  size_t analysed = 0;
  for (size_t round = 0; round < 3000; ++round) {
    std::string s = inputs[round % inputs.size()];
    const size_t edits = round < inputs.size() ? 0 : 1 + rng() % 4;
    for (size_t k = 0; k < edits && !s.empty(); ++k) {
      size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        default: s.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    YaraSourceGates g = AnalyseYaraSource(s);
    if (!g.error.empty()) {
      EXPECT_THAT(g.rules, IsEmpty());
      continue;
    }
    ++analysed;
    for (const auto& r : g.rules) {
      if (r.gated) {
        EXPECT_EQ(r.why_not, "");
      }
      for (const auto& a : r.atoms) {
        EXPECT_FALSE(a.bytes.empty());
        EXPECT_LE(a.bytes.size(), kMaxYaraAtomLength);
      }
    }
  }
  EXPECT_GT(analysed, 10u);
}

// ---- the Vectorscan database ------------------------------------------------------------------

TEST(YaraPrefilterTest, DatabaseFindsAnyAtomAndStopsAtTheFirst) {
  std::vector<YaraAtom> atoms = {Cs("needle"), Ci("HayStack"), Cs(std::string("\0\x01\x02", 3)), Cs("needle")};
  auto p = YaraPrefilter::Compile(atoms);
  ASSERT_TRUE(p.has_value()) << p.error();
  EXPECT_EQ((*p)->atom_count(), 3u);  // duplicates removed
  auto scratch = (*p)->NewScratch();
  ASSERT_TRUE(scratch.valid());
  using O = YaraPrefilter::Outcome;
  EXPECT_EQ((*p)->Scan(Bytes("a needle here"), scratch), O::kAtomFound);
  EXPECT_EQ((*p)->Scan(Bytes("a NEEDLE here"), scratch), O::kNoAtom);
  EXPECT_EQ((*p)->Scan(Bytes("hAYsTACK"), scratch), O::kAtomFound);
  EXPECT_EQ((*p)->Scan(Bytes(std::string("x\0\x01\x02", 4)), scratch), O::kAtomFound);
  EXPECT_EQ((*p)->Scan(Bytes(std::string("x\0\x01\x03", 4)), scratch), O::kNoAtom);
  EXPECT_EQ((*p)->Scan(Bytes(""), scratch), O::kNoAtom);
  EXPECT_EQ((*p)->Scan(Bytes(std::string(100000, 'n') + "needle"), scratch), O::kAtomFound);
  YaraPrefilter::Scratch none;
  EXPECT_EQ((*p)->Scan(Bytes("needle"), none), O::kError);  // unknown: the caller runs libyara

  // Leading NULs are dropped (Vectorscan's literal API refuses them); all-NUL atoms take the
  // regex API.
  std::vector<YaraAtom> nul_atoms = {Cs(std::string("\0\0AB", 4)), Cs(std::string("\0\0", 2)), Ci("xyz")};
  auto q = YaraPrefilter::Compile(nul_atoms);
  ASSERT_TRUE(q.has_value()) << q.error();
  auto qs = (*q)->NewScratch();
  EXPECT_EQ((*q)->Scan(Bytes("..AB.."), qs), O::kAtomFound);
  EXPECT_EQ((*q)->Scan(Bytes(std::string("..\0\0..", 6)), qs), O::kAtomFound);
  EXPECT_EQ((*q)->Scan(Bytes(std::string("..\0.XYZ", 7)), qs), O::kAtomFound);
  EXPECT_EQ((*q)->Scan(Bytes(std::string("..\0.XY.", 7)), qs), O::kNoAtom);

  // Regression: a one-byte pattern through the regex API, past offset 64 (Vectorscan
  // 5.4.9 loses these matches when HS_FLAG_SINGLEMATCH is set).
  std::vector<YaraAtom> one_byte = {Cs("c")};
  std::vector<std::string> regexes = {"\\x00\\x00"};
  auto r = YaraPrefilter::Compile(one_byte, regexes);
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ((*r)->regex_count(), 1u);
  auto rs = (*r)->NewScratch();
  for (size_t len = 1; len < 200; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string data(len, 'u');
      data[pos] = 'c';
      ASSERT_EQ((*r)->Scan(Bytes(data), rs), O::kAtomFound) << "len " << len << " pos " << pos;
    }
  }

  EXPECT_FALSE(YaraPrefilter::Compile({}).has_value());
  std::vector<YaraAtom> empty_atom = {Cs("")};
  EXPECT_FALSE(YaraPrefilter::Compile(empty_atom).has_value());
}

}  // namespace
}  // namespace avkey::engine
