#include "scan/szdd.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/extract_test_util.h"

namespace avkey::scan {
namespace {

std::string Header(uint32_t size, char missing = 'e') {
  std::string h("SZDD\x88\xf0\x27\x33" "A", 9);
  h += missing;
  for (int i = 0; i < 4; ++i) h += static_cast<char>(size >> (8 * i));
  return h;
}

class NamedSink : public RecordingSink {
 public:
  using RecordingSink::RecordingSink;
  std::string ContainerName() const override { return "tool.ex_"; }
};

TEST(Szdd, LiteralsAndMatches) {
  // Control 0x07: three literals "abc", then a match at window position 4080 (where
  // "abc" was written), length 3 + 3 = 6 -> "abcabc".
  std::string body = std::string("\x07" "abc", 4) + std::string("\xf0\xf3", 2);
  std::string file = Header(9) + body;
  EXPECT_TRUE(LooksLikeSzdd(AsBytes(file)));
  NamedSink sink;
  ExtractSzdd(AsBytes(file), sink);
  ASSERT_EQ(sink.children.size(), 1u);
  EXPECT_EQ(sink.children[0].name, "tool.exe");
  EXPECT_EQ(sink.children[0].data, "abcabcabc");
  EXPECT_TRUE(sink.problems.empty());
}

TEST(Szdd, WindowStartsWithSpaces) {
  std::string file = Header(4) + std::string("\x00\x00\x01", 3);  // match at 0, length 4
  RecordingSink sink;
  ExtractSzdd(AsBytes(file), sink);
  ASSERT_EQ(sink.children.size(), 1u);
  EXPECT_EQ(sink.children[0].data, "    ");
}

TEST(Szdd, ShortDataIsCorruptAndHugeSizeOverflows) {
  RecordingSink sink;
  ExtractSzdd(AsBytes(Header(100) + "\xff" "ab"), sink);
  EXPECT_TRUE(sink.HasProblem("corrupt-archive"));
  ASSERT_EQ(sink.children.size(), 1u);
  EXPECT_EQ(sink.children[0].data, "ab");
  RecordingSink small(/*room=*/10);
  ExtractSzdd(AsBytes(Header(0xffffffff) + "\xff" "ab"), small);
  EXPECT_EQ(small.overflows, 1);
  EXPECT_FALSE(LooksLikeSzdd(AsBytes("SZDD")));
}

}  // namespace
}  // namespace avkey::scan
