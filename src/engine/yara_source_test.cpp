#include "engine/yara_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace avkey::engine {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Texts(std::string_view text) {
  std::vector<std::string> out;
  for (const YaraStatement& s : SplitYaraStatements(text)) {
    out.push_back((s.is_rule ? "rule " + s.name + ": " : std::string("stmt: ")) +
                  std::string(text.substr(s.begin, s.end - s.begin)));
  }
  return out;
}

TEST(YaraSourceTest, StatementsWithModifiersTagsAndNestedBraces) {
  EXPECT_THAT(Texts("import \"pe\"\n"
                    "include \"x.yar\"\n"
                    "private global rule a : tag1 tag2 { strings: $h = { 4D 5A [2-4] ( 90 | 91 ) } condition: $h }\n"
                    "rule b{condition:true}"),
              ElementsAre("stmt: import \"pe\"", "stmt: include \"x.yar\"",
                          "rule a: private global rule a : tag1 tag2 { strings: $h = { 4D 5A [2-4] ( 90 | 91 ) } "
                          "condition: $h }",
                          "rule b: rule b{condition:true}"));
}

TEST(YaraSourceTest, BracesInStringsRegexesAndCommentsDoNotCount) {
  const std::string text =
      "rule s { strings: $a = \"}}\\\"{\" $r = /[}]\\/{/ nocase condition: $a and $r matches /}/ }\n"
      "// rule fake { \n"
      "/* rule fake2 { } */\n"
      "rule d { condition: filesize / 2 == 10 and filesize/2 > 1 // }\n"
      "}\n";
  auto st = SplitYaraStatements(text);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].name, "s");
  EXPECT_EQ(text.substr(st[0].end - 3, 3), "/ }");
  EXPECT_EQ(st[1].name, "d");
  EXPECT_EQ(st[1].end, text.size() - 1);  // the '}' on the last line; the comment's is not it
}

TEST(YaraSourceTest, UnterminatedRuleRunsToTheEndAndStrayTokensBelongToNothing) {
  EXPECT_THAT(Texts("} junk 12 \"str\" rule a { condition: true"), ElementsAre("rule a: rule a { condition: true"));
  EXPECT_THAT(Texts("rule a rule b { condition: true }"),
              ElementsAre("rule a: rule a ", "rule b: rule b { condition: true }"));
  EXPECT_THAT(Texts("rule"), ElementsAre("rule : rule"));
  EXPECT_THAT(Texts("rule a : tag"), ElementsAre("rule a: rule a : tag"));  // cut in its header
  EXPECT_THAT(Texts("rule x { strings: $a = \"unterminated\n condition: $a }"),
              ElementsAre("rule x: rule x { strings: $a = \"unterminated\n condition: $a }"));
  EXPECT_TRUE(SplitYaraStatements("").empty());
  EXPECT_TRUE(SplitYaraStatements("/* only a comment").empty());
}

TEST(YaraSourceTest, BlankOutKeepsLinesAndLength) {
  std::string text = "rule a {\n condition: true\n}\nrule b { condition: a }\n";
  auto st = SplitYaraStatements(text);
  ASSERT_EQ(st.size(), 2u);
  BlankOut(&text, st[0]);
  EXPECT_EQ(text, "        \n                \n \nrule b { condition: a }\n");
}

}  // namespace
}  // namespace avkey::engine
