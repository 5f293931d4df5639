#include "scan/tnef.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/extract_test_util.h"

namespace avkey::scan {
namespace {

std::string Le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

std::string Attr(uint8_t level, uint32_t id, const std::string& value) {
  return std::string(1, static_cast<char>(level)) + Le32(id) + Le32(value.size()) + value + "CK";
}

std::string Tnef() {
  return Le32(0x223e9f78) + std::string("\x01\x00", 2) + Attr(1, 0x00089006, std::string("\x01\x00\x00\x00", 4)) +
         Attr(2, 0x00069002, "rend") + Attr(2, 0x0006800f, "first") + Attr(2, 0x00018010, std::string("a.exe\0", 6)) +
         Attr(2, 0x00069002, "rend") + Attr(2, 0x0006800f, "second") + std::string(1, '\0');
}

TEST(Tnef, AttachmentsNamedByTitleEvenWhenTitleFollowsData) {
  std::string t = Tnef();
  ASSERT_TRUE(LooksLikeTnef(AsBytes(t)));
  RecordingSink sink;
  ExtractTnef(AsBytes(t), sink);
  ASSERT_EQ(sink.children.size(), 2u);
  EXPECT_EQ(sink.children[0].name, "a.exe");
  EXPECT_EQ(sink.children[0].data, "first");
  EXPECT_EQ(sink.children[1].name, "attachment-2");
  EXPECT_EQ(sink.children[1].data, "second");
  EXPECT_TRUE(sink.problems.empty());
}

TEST(Tnef, MalformedAttributes) {
  std::string t = Tnef();
  for (size_t n = 0; n < t.size(); ++n) {
    RecordingSink sink;
    ExtractTnef(AsBytes(t.substr(0, n)), sink);
  }
  RecordingSink huge;
  ExtractTnef(AsBytes(Le32(0x223e9f78) + "kk" + "\x02" + Le32(0x0006800f) + Le32(0xffffffff) + "abc"), huge);
  EXPECT_TRUE(huge.HasProblem("corrupt-archive"));
  RecordingSink level;
  ExtractTnef(AsBytes(Le32(0x223e9f78) + "kk" + "\x07" + Le32(1) + Le32(0)), level);
  EXPECT_TRUE(level.HasProblem("corrupt-archive"));
  RecordingSink small(/*room=*/3);
  ExtractTnef(AsBytes(t), small);
  EXPECT_EQ(small.overflows, 1);
}

}  // namespace
}  // namespace avkey::scan
