#include "scan/pdf.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/extract_test_util.h"

namespace avkey::scan {
namespace {

// zlib.compress(b"hello hello hello hello")
const std::string kZlib =
    "\x78\x9c\xcb\x48\xcd\xc9\xc9\x57\xc8\x40\x27\x01\x68\x03\x08\xb1";

std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

TEST(Inflate, ZlibAndRawDeflate) {
  std::vector<uint8_t> out;
  EXPECT_EQ(InflateZlib(AsBytes(kZlib), &out, 1000), DecodeStatus::kOk);
  EXPECT_EQ(Str(out), "hello hello hello hello");
  out.clear();
  EXPECT_EQ(InflateZlib(AsBytes(kZlib.substr(2)), &out, 1000), DecodeStatus::kOk);
  EXPECT_EQ(Str(out), "hello hello hello hello");
}

TEST(Inflate, RoomTruncationAndGarbage) {
  std::vector<uint8_t> out;
  EXPECT_EQ(InflateZlib(AsBytes(kZlib), &out, 5), DecodeStatus::kOverflow);
  EXPECT_EQ(Str(out), "hello");
  out.clear();
  EXPECT_EQ(InflateZlib(AsBytes("\x78\x9c\xff\xff\xff\xff garbage"), &out, 1000), DecodeStatus::kCorrupt);
  out.clear();
  EXPECT_NE(InflateZlib(AsBytes(""), &out, 1000), DecodeStatus::kOverflow);
  // Truncated stream: a damaged-data status; never a crash.
  out.clear();
  EXPECT_NE(InflateZlib(AsBytes(kZlib.substr(0, 8)), &out, 1000), DecodeStatus::kOverflow);
}

TEST(AsciiFilters, HexAnd85) {
  std::vector<uint8_t> out;
  EXPECT_EQ(DecodeAsciiHex(AsBytes("68 65\n6c6c6>"), &out, 100), DecodeStatus::kOk);
  EXPECT_EQ(Str(out), "hell`");
  out.clear();
  EXPECT_EQ(DecodeAsciiHex(AsBytes("6x"), &out, 100), DecodeStatus::kCorrupt);
  out.clear();
  EXPECT_EQ(DecodeAscii85(AsBytes("<~BOu!rD]j7BEbo7~>"), &out, 100), DecodeStatus::kOk);
  EXPECT_EQ(Str(out), "hello world");
  out.clear();
  EXPECT_EQ(DecodeAscii85(AsBytes("z~>"), &out, 100), DecodeStatus::kOk);
  EXPECT_EQ(out.size(), 4u);
  out.clear();
  EXPECT_EQ(DecodeAscii85(AsBytes("uuuuu"), &out, 100), DecodeStatus::kCorrupt);
  out.clear();
  EXPECT_EQ(DecodeAscii85(AsBytes("BOu!rD]j7BEbo7"), &out, 3), DecodeStatus::kOverflow);
}

std::string Pdf() {
  std::string pdf = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
  pdf += "4 0 obj\n<< /Length 5 >>\nstream\nplain\nendstream\nendobj\n";
  pdf += "7 0 obj\n<< /Filter /FlateDecode /Length " + std::to_string(kZlib.size()) + " >>\nstream\r\n" +
         kZlib + "\r\nendstream\nendobj\n";
  pdf += "8 0 obj\n<< /Filter [/AHx /Fl] /Length 99 0 R >>\nstream\n";
  for (unsigned char c : kZlib) pdf += "0123456789abcdef"[c >> 4], pdf += "0123456789abcdef"[c & 15];
  pdf += ">\nendstream\nendobj\n";
  pdf += "9 0 obj\n<< /Filter /DCTDecode /Length 1000 >>\nstream\nJPEGDATA\nendstream\nendobj\n";
  pdf += "trailer\n<< /Root 1 0 R >>\n%%EOF\n";
  return pdf;
}

TEST(Pdf, StreamsAreDecodedAndNamed) {
  std::string pdf = Pdf();
  EXPECT_TRUE(LooksLikePdf(AsBytes(pdf)));
  RecordingSink sink;
  ExtractPdf(AsBytes(pdf), sink);
  ASSERT_EQ(sink.children.size(), 4u);
  EXPECT_EQ(sink.children[0].name, "obj-4");
  EXPECT_EQ(sink.children[0].data, "plain");
  EXPECT_EQ(sink.children[1].name, "obj-7");
  EXPECT_EQ(sink.children[1].data, "hello hello hello hello");
  EXPECT_EQ(sink.children[2].name, "obj-8");
  EXPECT_EQ(sink.children[2].data, "hello hello hello hello");
  EXPECT_EQ(sink.children[3].data, "JPEGDATA");  // wrong /Length: ends at endstream
  EXPECT_TRUE(sink.problems.empty());
}

TEST(Pdf, TruncationsNeverCrash) {
  std::string pdf = Pdf();
  for (size_t n = 0; n < pdf.size(); n += 3) {
    RecordingSink sink;
    ExtractPdf(AsBytes(pdf.substr(0, n)), sink);
  }
  RecordingSink sink;
  ExtractPdf(AsBytes("%PDF-1.4\nstream\nendstream stream\r\n stream"), sink);
}

TEST(Pdf, BombStopsAtRoom) {
  RecordingSink sink(/*room=*/10);
  ExtractPdf(AsBytes(Pdf()), sink);
  EXPECT_EQ(sink.overflows, 1);
}

}  // namespace
}  // namespace avkey::scan
