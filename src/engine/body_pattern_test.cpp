// Unit tests of the body-pattern parser and verifier (internal).
#include "engine/body_pattern.h"
#include "engine/text_norm.h"

#include <gtest/gtest.h>

#include <random>

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

// The scanner skips an offset-pinned body whose head (PatternHead::CanMatch) is at no start
// of its window, without asking the pattern: that must never hide a match.
TEST(BodyPattern, HeadNeverHidesAWindowMatch) {
  const char* kPatterns[] = {"41424344", "4?42??4344", "??4142", "?14?4243{2}4344", "4142*4344",
                             "41(42|43)4344", "(B)414243", "4142", "4142434441424344"};
  std::mt19937 rng(11);
  size_t matched = 0, skipped = 0;  // both outcomes seen: the comparison is not vacuous
  for (const char* text : kPatterns) {
    for (bool wide : {false, true}) {
      PatternOptions o;
      o.wide = wide;
      const BodyPattern p = Compile(text, o);
      const PatternHead h = p.Head();
      EXPECT_EQ(h.len > 0, text[0] != '(') << text;
      BodyPattern::Scratch s;
      for (int round = 0; round < 2000; ++round) {
        std::string data(1 + rng() % 24, 'A');
        for (auto& c : data) c = wide && rng() % 2 ? '\0' : static_cast<char>("ABCDQ"[rng() % 5]);
        const uint64_t first = rng() % 8, last = first + rng() % 6;
        const bool head = h.CanMatch(S(data), first, last);
        const uint32_t n = p.MatchWindow(S(data), first, last, 10, &s);
        if (n > 0) {
          EXPECT_TRUE(head) << text << (wide ? " wide " : " ") << data << " [" << first << "," << last << "]";
        }
        matched += n > 0;
        skipped += !head;
      }
    }
  }
  EXPECT_GT(matched, 200u);
  EXPECT_GT(skipped, 500u);
}

TEST(BodyPattern, MatchWindowCountsStarts) {
  BodyPattern p = Compile("414241");
  BodyPattern::Scratch s;
  EXPECT_EQ(p.MatchWindow(S("ABABABA"), 0, 7, 10, &s), 3u);
  EXPECT_EQ(p.MatchWindow(S("ABABABA"), 1, 3, 10, &s), 1u);
}

// A database compiles patterns lean and prepares each for the one use its scanner makes of
// it; each use must answer exactly as a pattern compiled with all forms.
TEST(BodyPattern, PreparedForOneUseAnswersLikeTheFullPattern) {
  // Over four letters, so that random data over them matches often.
  const char* kPatterns[] = {"414243", "4142??4344{2-5}4241", "4142*4344(41|42)43", "4142{-3}4243!(44|41)42",
                             "(B)414243(B)", "414243{0-}4344", "4142(4344|414243)4241", "4142{1-4}43??4344"};
  std::mt19937 rng(7);
  size_t ends = 0, anchors = 0, windows = 0;  // matches seen: the comparison is not vacuous
  for (const char* text : kPatterns) {
    for (int variant = 0; variant < 3; ++variant) {
      PatternOptions o;
      o.nocase = variant == 1;
      o.wide = variant == 2;
      auto seq = ParseHexPattern(text);
      ASSERT_TRUE(seq.has_value()) << text;
      if (o.wide) *seq = WidenPattern(*seq);
      auto full = BodyPattern::Compile(*seq, o);
      ASSERT_TRUE(full.has_value()) << text << ": " << (full ? "" : full.error());
      BodyPattern window = *BodyPattern::Compile(*seq, o, true);
      BodyPattern end = window, anchor = window;
      window.Prepare(BodyPattern::Use::kWindow);
      end.Prepare(BodyPattern::Use::kEnd);
      anchor.Prepare(BodyPattern::Use::kAnchor);
      BodyPattern::Scratch s1, s2;
      for (int round = 0; round < 300; ++round) {
        // Data made of the pattern's own letters (and NULs when wide), so that it matches often.
        std::string data(20 + rng() % 40, 'A');
        for (auto& c : data) c = o.wide && rng() % 2 ? '\0' : static_cast<char>("ABCDABCD \n"[rng() % 10]);
        if (o.nocase) data[rng() % data.size()] = 'a';
        const uint64_t first = rng() % 4, last = first + rng() % 30;
        const uint32_t n = full->MatchWindow(S(data), first, last, 10, &s1);
        EXPECT_EQ(n, window.MatchWindow(S(data), first, last, 10, &s2)) << text << " " << variant;
        windows += n;
        for (uint64_t at = 0; at <= data.size(); ++at) {
          uint64_t a = 0, b = 0;
          const bool ok = full->VerifyEnd(S(data), at, first, last, &s1, &a);
          ASSERT_EQ(ok, end.VerifyEnd(S(data), at, first, last, &s2, &b)) << text << " " << variant << " end " << at;
          EXPECT_EQ(a, b);
          ends += ok;
          if (at >= full->anchor().size()) {
            const bool hit = full->VerifyAt(S(data), at, first, last, &s1, &a);
            ASSERT_EQ(hit, anchor.VerifyAt(S(data), at, first, last, &s2, &b))
                << text << " " << variant << " anchor end " << at;
            EXPECT_EQ(a, b);
            anchors += hit;
          }
        }
      }
    }
  }
  EXPECT_GT(windows, 50u);
  EXPECT_GT(ends, 50u);
  EXPECT_GT(anchors, 50u);
}

TEST(BodyPatternDeathTest, AVerifierThePatternWasNotPreparedForAborts) {
  BodyPattern p = *BodyPattern::Compile(*ParseHexPattern("414243"), {}, true);
  p.Prepare(BodyPattern::Use::kWindow);
  BodyPattern::Scratch s;
  EXPECT_DEATH((void)p.VerifyEnd(S("ABC"), 3, 0, 3, &s), "");
  EXPECT_DEATH((void)p.VerifyAt(S("ABC"), 3, 0, 3, &s), "");
  BodyPattern q = *BodyPattern::Compile(*ParseHexPattern("414243"), {}, true);
  q.Prepare(BodyPattern::Use::kEnd);
  EXPECT_DEATH((void)q.MatchWindow(S("ABC"), 0, 3, 1, &s), "");
  bool exact = false;
  EXPECT_DEATH((void)q.Regex(&exact), "");
}

// CanMatchOnly: false only when a byte every match needs is outside the alphabet; what it
// does not look into (alternatives) and case folding (::i) keep it true.
TEST(BodyPattern, CanMatchOnlyNeedsEveryRequiredByteInTheAlphabet) {
  auto text = [](std::string_view hex, PatternOptions o = {}) { return Compile(hex, o).CanMatchOnly(InNormalizedText); };
  EXPECT_TRUE(text("6162636465"));                       // "abcde"
  EXPECT_FALSE(text("4142434445"));                      // "ABCDE": normalised text has no upper case
  EXPECT_TRUE(text("4142434445", {.nocase = true}));     // ::i matches its lower case
  EXPECT_FALSE(text("616263{2-4}6400"));                 // a NUL past a gap
  EXPECT_FALSE(text("6162??63648f"));                    // a byte >= 0x80
  EXPECT_TRUE(text("6162??6364"));
  EXPECT_TRUE(text("61626364?5"));                       // low nibble 5: '%' or 'e'
  EXPECT_FALSE(text("616263648?"));                      // high nibble 8: 0x80-0x8f only
  EXPECT_FALSE(text("61626364", {.wide = true}));        // ::w: a NUL after each byte
  EXPECT_TRUE(text("616263(64|00)65"));                  // alternatives are not looked into
  EXPECT_FALSE(text("616263(64|00)650d"));               // but the bytes beside them are
}

}  // namespace
}  // namespace avkey::engine
