// Unit tests of the body-pattern parser and verifier (internal).
#include "engine/body_pattern.h"

#include <gtest/gtest.h>

namespace avkey::engine {
namespace {

std::span<const uint8_t> S(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

BodyPattern Compile(std::string_view text, PatternOptions o = {}) {
  auto seq = ParseHexPattern(text);
  EXPECT_TRUE(seq.has_value()) << text << ": " << (seq ? "" : seq.error());
  if (o.wide) *seq = WidenPattern(*seq);
  auto p = BodyPattern::Compile(std::move(*seq), o);
  EXPECT_TRUE(p.has_value()) << text << ": " << (p ? "" : p.error());
  return std::move(*p);
}

// Finds every anchor occurrence and verifies it, like the scanner does.
bool Matches(const BodyPattern& p, std::string_view data, uint64_t first = 0, uint64_t last = UINT64_MAX) {
  BodyPattern::Scratch scratch;
  std::string hay(data), needle = p.anchor();
  if (p.nocase()) {
    for (auto& c : hay) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1))
    if (p.VerifyAt(S(data), at + needle.size(), first, last, &scratch)) return true;
  return false;
}

TEST(BodyPattern, AnchorIsLongestExactRun) {
  EXPECT_EQ(Compile("4142??434445*4647").anchor(), "CDE");
  EXPECT_EQ(Compile("41424344").anchor(), "ABCD");
}

TEST(BodyPattern, ParseErrorsNameTheProblem) {
  for (const char* bad : {"", "414", "41zz", "4142{3", "4142{a}", "4142(43", "4142!(43|4455)", "4142[1-40]43"}) {
    auto seq = ParseHexPattern(bad);
    EXPECT_FALSE(seq.has_value()) << bad;
  }
  auto seq = ParseHexPattern("41??43");
  ASSERT_TRUE(seq.has_value());
  auto p = BodyPattern::Compile(std::move(*seq), {});
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error(), "Can't find a static subpattern of length 2");
  // Every part between splitting gaps needs its own static pair.
  auto seq2 = ParseHexPattern("414243*44");
  EXPECT_FALSE(BodyPattern::Compile(std::move(*seq2), {}).has_value());
  // [x-y] joins a single byte to a longer part only; patterns need 3 bytes.
  for (const char* bad : {"4142[1-3]4344"}) {
    auto seq3 = ParseHexPattern(bad);
    ASSERT_TRUE(seq3.has_value()) << bad;
    EXPECT_FALSE(BodyPattern::Compile(std::move(*seq3), {}).has_value()) << bad;
  }
}

TEST(BodyPattern, GapsBothSidesOfAnchor) {
  BodyPattern p = Compile("4142{2-4}434445{-2}4647");
  EXPECT_TRUE(Matches(p, "AB..CDEFG"));
  EXPECT_TRUE(Matches(p, "AB....CDE..FG"));
  EXPECT_FALSE(Matches(p, "AB.CDEFG"));
  EXPECT_FALSE(Matches(p, "AB.....CDEFG"));
  EXPECT_FALSE(Matches(p, "AB..CDE...FG"));
  BodyPattern q = Compile("4142{3-}4344");
  EXPECT_TRUE(Matches(q, "AB.....CD"));
  EXPECT_FALSE(Matches(q, "AB..CD"));
}

TEST(BodyPattern, StartWindowAppliesToWholePattern) {
  BodyPattern p = Compile("4142*434445");
  EXPECT_TRUE(Matches(p, "..AB....CDE", 2, 2));
  EXPECT_FALSE(Matches(p, "..AB....CDE", 0, 1));
}

TEST(BodyPattern, NocaseWideFullword) {
  BodyPattern i = Compile("6162636465", {.nocase = true});
  EXPECT_TRUE(Matches(i, "xxAbCdEyy"));
  BodyPattern w = Compile("616263", {.wide = true});
  EXPECT_TRUE(Matches(w, std::string_view("a\0b\0c\0", 6)));
  EXPECT_FALSE(Matches(w, "abc"));
  BodyPattern f = Compile("616263", {.fullword = true});
  EXPECT_TRUE(Matches(f, "x abc y"));
  EXPECT_TRUE(Matches(f, "abc"));
  EXPECT_FALSE(Matches(f, "xabc y"));
  EXPECT_FALSE(Matches(f, "x abcd"));
}

TEST(BodyPattern, Markers) {
  BodyPattern b = Compile("(B)616263");
  EXPECT_TRUE(Matches(b, " abc"));
  EXPECT_TRUE(Matches(b, "abc"));
  EXPECT_FALSE(Matches(b, "xabc"));
  BodyPattern l = Compile("616263(L)");
  EXPECT_TRUE(Matches(l, "abc\n"));
  EXPECT_TRUE(Matches(l, "abc\r\n"));
  EXPECT_TRUE(Matches(l, "abc"));
  EXPECT_FALSE(Matches(l, "abc\rx"));
}

TEST(BodyPattern, PathologicalGapsAreBounded) {
  // Many unbounded gaps over data full of partial matches must finish quickly.
  BodyPattern p = Compile("4141*4141*4141*4141*4141*4141*4242");
  std::string data(200000, 'A');
  EXPECT_FALSE(Matches(p, data.substr(0, 2000)));
}

TEST(BodyPattern, MatchWindowCountsStarts) {
  BodyPattern p = Compile("414241");
  BodyPattern::Scratch s;
  EXPECT_EQ(p.MatchWindow(S("ABABABA"), 0, 7, 10, &s), 3u);
  EXPECT_EQ(p.MatchWindow(S("ABABABA"), 1, 3, 10, &s), 1u);
}

}  // namespace
}  // namespace avkey::engine
