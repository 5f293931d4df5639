// NormalizeClamText against the byte-by-byte definition, on inputs built to take every
// path of its 16-byte blocks (prose, runs of spaces across block edges, CRLF, controls,
// bytes >= 0x80, upper case).
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/text_norm.h"

namespace avkey::engine {
namespace {

std::vector<uint8_t> Reference(const std::vector<uint8_t>& in) {
  std::vector<uint8_t> out;
  for (uint8_t c : in) {
    uint8_t m = 0;
    if (c >= '\t' && c <= '\r') m = ' ';
    else if (c >= 0x20 && c < 0x80) m = (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
    if (m == 0) continue;                          // dropped
    if (m == ' ' && !out.empty() && out.back() == ' ') continue;  // a run of spaces: one
    out.push_back(m);
  }
  return out;
}

std::vector<uint8_t> Fast(const std::vector<uint8_t>& in, bool pack) {
  std::vector<uint8_t> out(in.size() + 1);
  out.resize(NormalizeClamText(in, out.data(), pack));
  return out;
}
std::vector<uint8_t> Fast(const std::vector<uint8_t>& in) {
  std::vector<uint8_t> out(in.size() + 1);
  out.resize(NormalizeClamText(in, out.data()));
  return out;
}

TEST(TextNorm, KnownCases) {
  auto run = [](const std::string& s) {
    const std::vector<uint8_t> out = Fast({s.begin(), s.end()});
    return std::string(out.begin(), out.end());
  };
  EXPECT_EQ(run("Hello  World\r\n\tNEXT line"), "hello world next line");
  EXPECT_EQ(run("ABCDEFGHIJKLMNOP QRSTUVWXYZ abcdefghijklmnop"), "abcdefghijklmnop qrstuvwxyz abcdefghijklmnop");
  EXPECT_EQ(run(std::string("0123456789abcde ") + " x"), "0123456789abcde x");  // run across a block edge
  EXPECT_EQ(run(std::string("a\x01" "b\x80\xff" "c\x7f", 7)), "abc\x7f");
  EXPECT_EQ(run(""), "");
}

TEST(TextNorm, MatchesTheDefinitionOnRandomText) {
  std::mt19937 rng(20261130);
  const std::string alphabets[] = {
      "the quick brown fox jumps over the lazy dog THE QUICK BROWN FOX ",  // prose
      "ab \n\r\t  CD\f\v",                                                  // whitespace runs
      std::string("Ab c\x01\x1f\x80\xfe\x7f", 10),                         // controls and high bytes
  };
  for (int round = 0; round < 3000; ++round) {
    const std::string& a = alphabets[round % 3];
    const size_t len = rng() % (round < 2000 ? 80 : 5000);
    std::vector<uint8_t> in(len);
    for (auto& c : in) c = static_cast<uint8_t>(a[rng() % a.size()]);
    if (round % 7 == 0 && len > 0) in[rng() % len] = static_cast<uint8_t>(rng());  // any byte
    ASSERT_EQ(Fast(in), Reference(in)) << "round " << round << " length " << len;
    // Both block paths for runs of spaces: byte by byte, and packed (SSSE3) where it runs.
    ASSERT_EQ(Fast(in, false), Reference(in)) << "round " << round << " length " << len;
    if (TextNormHasPack()) {
      ASSERT_EQ(Fast(in, true), Reference(in)) << "round " << round << " length " << len;
    }
  }
}

// InNormalizedText (what lets the scanner skip patterns in the normalised pass) is the
// set of bytes the normaliser writes: no more (a pattern needing another byte would be
// searched for nothing) and no less (a pattern that can match would be skipped).
TEST(TextNorm, InNormalizedTextIsWhatTheNormaliserWrites) {
  std::set<uint8_t> written;
  for (int b = 0; b < 256; ++b) {
    for (const uint8_t c : Fast({'x', static_cast<uint8_t>(b), 'y'})) written.insert(c);
  }
  for (int c = 0; c < 256; ++c) EXPECT_EQ(InNormalizedText(static_cast<uint8_t>(c)), written.count(c) == 1) << c;
}

}  // namespace
}  // namespace avkey::engine
