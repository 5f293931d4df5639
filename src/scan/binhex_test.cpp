#include "scan/binhex.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/extract_test_util.h"

namespace avkey::scan {
namespace {

constexpr char kAlphabet[] = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

uint16_t Crc(const std::string& s) {
  uint16_t crc = 0;
  for (unsigned char b : s) {
    crc ^= static_cast<uint16_t>(b << 8);
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
  }
  return crc;
}

std::string Be16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string Be32(uint32_t v) { return Be16(v >> 16) + Be16(v & 0xffff); }

// A BinHex 4.0 file for `name` with data fork `data` (RLE used for runs of 'A').
std::string Make(const std::string& name, const std::string& data, bool break_crc = false) {
  std::string hdr = std::string(1, static_cast<char>(name.size())) + name + '\0' + "TYPECREA" +
                    std::string(2, '\0') + Be32(data.size()) + Be32(0);
  std::string bin = hdr + Be16(Crc(hdr)) + data + Be16(Crc(data) ^ (break_crc ? 1 : 0));
  // RLE: "AAAAAA" -> 'A' 0x90 6.
  std::string rle;
  for (size_t i = 0; i < bin.size();) {
    size_t run = 1;
    while (i + run < bin.size() && bin[i + run] == bin[i] && run < 255) ++run;
    if (bin[i] == '\x90') {
      rle += "\x90";
      rle += '\0';
      i += 1;
    } else if (run >= 4) {
      rle += bin[i];
      rle += '\x90';
      rle += static_cast<char>(run);
      i += run;
    } else {
      rle += bin[i++];
    }
  }
  std::string enc;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : rle) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      enc += kAlphabet[(acc >> bits) & 63];
      if (enc.size() % 65 == 64) enc += '\n';
    }
  }
  if (bits > 0) enc += kAlphabet[(acc << (6 - bits)) & 63];
  return "(This file must be converted with BinHex 4.0)\n:" + enc + ":\n";
}

TEST(BinHex, DecodesDataForkWithRle) {
  std::string data = "MZ" + std::string(300, 'A') + "\x90tail";
  std::string file = Make("tool.exe", data);
  EXPECT_TRUE(LooksLikeBinHex(AsBytes(file)));
  RecordingSink sink;
  ExtractBinHex(AsBytes(file), sink);
  ASSERT_EQ(sink.children.size(), 1u);
  EXPECT_EQ(sink.children[0].name, "tool.exe");
  EXPECT_EQ(sink.children[0].data, data);
  EXPECT_TRUE(sink.problems.empty());
}

TEST(BinHex, CrcMismatchIsCorruptButScanned) {
  RecordingSink sink;
  ExtractBinHex(AsBytes(Make("a", "payload", true)), sink);
  EXPECT_TRUE(sink.HasProblem("corrupt-archive"));
  ASSERT_EQ(sink.children.size(), 1u);
  EXPECT_EQ(sink.children[0].data, "payload");
}

TEST(BinHex, ForkLargerThanRoomOverflows) {
  RecordingSink sink(/*room=*/100);
  ExtractBinHex(AsBytes(Make("a", std::string(1000, 'x'))), sink);
  EXPECT_EQ(sink.overflows, 1);
  EXPECT_TRUE(sink.children.empty());
}

TEST(BinHex, TruncationsAndGarbageNeverCrash) {
  std::string file = Make("name", "some data fork bytes" + std::string(50, 'B'));
  for (size_t n = 0; n < file.size(); ++n) {
    RecordingSink sink;
    ExtractBinHex(AsBytes(file.substr(0, n)), sink);
  }
  RecordingSink sink;
  ExtractBinHex(AsBytes("(This file must be converted with BinHex 4.0)\n:~~~:"), sink);
  EXPECT_TRUE(sink.HasProblem("corrupt-archive"));
}

}  // namespace
}  // namespace avkey::scan
