// Unit tests of the scan layer's pure helpers (scan.h): sizes, globs, names, verdict.
#include <gtest/gtest.h>

#include "avkey/scan/report.h"
#include "avkey/scan/scan.h"

namespace avkey::scan {
namespace {

TEST(ParseSize, Suffixes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("1K"), 1024u);
  EXPECT_EQ(*ParseSize("100M"), 100u << 20);
  EXPECT_EQ(*ParseSize("100MiB"), 100u << 20);
  EXPECT_EQ(*ParseSize("2g"), 2ull << 30);
  EXPECT_EQ(*ParseSize("1.5K"), 1536u);
  EXPECT_EQ(*ParseSize("0"), 0u);
}

TEST(ParseSize, Errors) {
  EXPECT_FALSE(ParseSize("").has_value());
  EXPECT_FALSE(ParseSize("M").has_value());
  EXPECT_FALSE(ParseSize("10Q").has_value());
  EXPECT_FALSE(ParseSize("-1").has_value());
  EXPECT_FALSE(ParseSize("1e30T").has_value());
}

TEST(MatchesExclude, BaseNameOrWholePath) {
  EXPECT_TRUE(MatchesExclude("/a/b/c.iso", "*.iso"));
  EXPECT_FALSE(MatchesExclude("/a/b.iso/c", "*.iso"));
  EXPECT_TRUE(MatchesExclude("/a/b/", "b"));
  EXPECT_TRUE(MatchesExclude("/data/cache/x/y", "/data/cache/*"));
  EXPECT_FALSE(MatchesExclude("/data/other", "/data/cache/*"));
}

TEST(EscapeName, ValidUtf8Unchanged) {
  EXPECT_EQ(EscapeName("caf\xc3\xa9 \xe2\x82\xac", false), "caf\xc3\xa9 \xe2\x82\xac");
}

TEST(EscapeName, InvalidBytesAndBackslash) {
  EXPECT_EQ(EscapeName("a\xff" "b", false), "a\\xFFb");
  EXPECT_EQ(EscapeName("a\\xFF", false), "a\\\\xFF");  // a literal "\xFF" stays distinguishable
  EXPECT_EQ(EscapeName("\xc3", false), "\\xC3");         // truncated sequence
  EXPECT_EQ(EscapeName("\xc0\xaf", false), "\\xC0\\xAF");  // overlong '/'
  EXPECT_EQ(EscapeName("\xed\xa0\x80", false), "\\xED\\xA0\\x80");  // surrogate
}

TEST(EscapeName, ControlsOnlyForTerminals) {
  EXPECT_EQ(EscapeName("a\x1b[31mb\n", true), "a\\x1B[31mb\\x0A");
  EXPECT_EQ(EscapeName("a\x1b", false), "a\x1b");
  EXPECT_EQ(EscapeName("\xc2\x9b", true), "\\u009B");  // C1 CSI
}

TEST(DisplayPath, JoinsMembers) {
  EXPECT_EQ(DisplayPath("update.zip", {"setup/tool.exe"}, true), "update.zip//setup/tool.exe");
  EXPECT_EQ(DisplayPath("a", {}, true), "a");
}

TEST(Verdict, FollowsDesign) {
  ScanReport r;
  EXPECT_EQ(r.verdict(), Verdict::kBlue);
  r.incomplete.push_back({"x", {}, "too-large", "too-large"});
  EXPECT_EQ(r.verdict(), Verdict::kAmber);
  DetectionRecord d;
  r.detections.push_back(d);
  EXPECT_EQ(r.verdict(), Verdict::kRed);
  r.detections[0].action_result = "quarantined";
  EXPECT_EQ(r.verdict(), Verdict::kGreen);
  r.detections.push_back(d);  // one remains
  EXPECT_EQ(r.verdict(), Verdict::kRed);
  ScanReport interrupted;
  interrupted.interrupted = true;
  EXPECT_EQ(interrupted.verdict(), Verdict::kAmber);
}

TEST(Report, JsonEscapesRawNames) {
  ScanReport r;
  DetectionRecord d;
  d.path = "/x/\xff.exe";
  d.members = {"in\xfe"};
  d.signature = "Sig";
  r.detections.push_back(d);
  std::string json = ReportToJson(r, ReportMeta{});
  EXPECT_NE(json.find(R"("/x/\\xFF.exe")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("in\\xFE")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("verdict": "RED")"), std::string::npos) << json;
}

TEST(Report, Rfc3339) {
  EXPECT_EQ(Rfc3339Utc(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace avkey::scan
