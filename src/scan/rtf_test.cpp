#include "scan/rtf.h"

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

std::string Hex(const std::string& bytes) {
  std::string h;
  for (unsigned char c : bytes) {
    h += "0123456789abcdef"[c >> 4];
    h += "0123456789abcdef"[c & 15];
    if (h.size() % 64 == 0) h += "\r\n";
  }
  return h;
}

std::string Ole1(const std::string& cls, const std::string& native) {
  return Le32(0x0501) + Le32(2) + Le32(cls.size() + 1) + cls + '\0' + Le32(0) + Le32(0) +
         Le32(native.size()) + native;
}

std::string Package() {
  return std::string("\x02\x00", 2) + "tool.exe" + '\0' + "C:\\tool.exe" + '\0' + Le32(0x00030000) + Le32(3) +
         std::string("t\\\0", 3) + Le32(4) + "MZ!!";
}

TEST(Rtf, PackageAndOtherObjects) {
  std::string rtf = "{\\rtf1\\ansi {\\object\\objemb{\\*\\objclass Package}{\\*\\objdata " + Hex(Ole1("Package", Package())) +
                    "}}{\\object{\\*\\objdata " + Hex(Ole1("Word.Document.8", "NATIVE")) +
                    "}}{\\*\\objdata 41 42 4}{\\objdatax 4142}}";
  ASSERT_TRUE(LooksLikeRtf(AsBytes(rtf)));
  RecordingSink sink;
  ExtractRtf(AsBytes(rtf), sink);
  ASSERT_EQ(sink.children.size(), 3u);
  EXPECT_EQ(sink.children[0].name, "tool.exe");
  EXPECT_EQ(sink.children[0].data, "MZ!!");
  EXPECT_EQ(sink.children[1].name, "objdata-2");
  EXPECT_EQ(sink.children[1].data, "NATIVE");
  EXPECT_EQ(sink.children[2].data, "AB");  // not an OLE1 object: scanned as decoded
}

TEST(Rtf, TruncatedAndOversized) {
  std::string rtf = "{\\rtf1{\\*\\objdata " + Hex(Ole1("Package", Package())) + "}}";
  for (size_t n = 0; n < rtf.size(); ++n) {
    RecordingSink sink;
    ExtractRtf(AsBytes(rtf.substr(0, n)), sink);
  }
  RecordingSink small(/*room=*/8);
  ExtractRtf(AsBytes(rtf), small);
  EXPECT_EQ(small.overflows, 1);
  EXPECT_FALSE(LooksLikeRtf(AsBytes("{\\r")));
}

}  // namespace
}  // namespace avkey::scan
