#include "scan/mime.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/extract_test_util.h"

namespace avkey::scan {
namespace {

std::string Names(void (*f)(std::span<const uint8_t>, ChildSink&), const std::string& in,
                RecordingSink* sink) {
  f(AsBytes(in), *sink);
  std::string names;
  for (const auto& c : sink->children) names += c.name + ";";
  return names;
}

TEST(Base64, DecodesAcrossLineBreaksAndStopsAtPadding) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(DecodeBase64(AsBytes("aGVs\r\nbG8g\nd29y bGQ=garbage"), &out, 100));
  EXPECT_EQ(std::string(out.begin(), out.end()), "hello world");
}

TEST(Base64, RespectsRoom) {
  std::vector<uint8_t> out;
  EXPECT_FALSE(DecodeBase64(AsBytes("aGVsbG8gd29ybGQ="), &out, 4));
  EXPECT_EQ(out.size(), 4u);
}

TEST(QuotedPrintable, HexSoftBreaksAndStrayEquals) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(DecodeQuotedPrintable(AsBytes("a=3Db=\r\nc =ZZ end="), &out, 100));
  EXPECT_EQ(std::string(out.begin(), out.end()), "a=bc =ZZ end");
}

TEST(Uu, DecodesWithAndWithoutEnd) {
  // "Cat" uuencoded: length char '#' (3), then "0V%T".
  std::vector<uint8_t> out;
  size_t used = 0;
  ASSERT_TRUE(DecodeUu(AsBytes("#0V%T\n`\nend\ntrailer"), &out, 100, &used));
  EXPECT_EQ(std::string(out.begin(), out.end()), "Cat");
  EXPECT_EQ(used, 12u);
  out.clear();
  ASSERT_TRUE(DecodeUu(AsBytes("#0V%T\nnot uu line {}\n"), &out, 100, &used));
  EXPECT_EQ(std::string(out.begin(), out.end()), "Cat");
}

TEST(Mail, Detection) {
  EXPECT_TRUE(LooksLikeMail(AsBytes("From: a@b\nSubject: x\n\nbody")));
  EXPECT_TRUE(LooksLikeMail(AsBytes("From a@b Thu Jul 31 13:49:50 2008\nTo: x\n\nbody")));
  EXPECT_FALSE(LooksLikeMail(AsBytes("Hello: world\n\nnot mail")));
  EXPECT_FALSE(LooksLikeMail(AsBytes("just text\n")));
  EXPECT_FALSE(LooksLikeMail(AsBytes(std::string("From: a\0\n\n", 10))));
}

TEST(Mail, MultipartWithEncodings) {
  std::string mail =
      "From: a\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
      "preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
      "--XX\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n"
      "--XX\r\nContent-Transfer-Encoding: quoted-printable\r\n"
      "Content-Disposition: attachment; filename=q.txt\r\n\r\nx=41y\r\n--XX--\r\nepilogue";
  RecordingSink sink;
  EXPECT_EQ(Names(ExtractMail, mail, &sink), "part-1;a.bin;q.txt;");
  EXPECT_EQ(sink.children[0].data, "hello");
  EXPECT_EQ(sink.children[1].data, "hello");
  EXPECT_EQ(sink.children[2].data, "xAy");
}

TEST(Mail, NestedMultipartAndRfc822) {
  std::string mail =
      "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
      "Content-Type: multipart/alternative; boundary=b\n\n--b\n\ninner\n--b--\n"
      "--a\nContent-Type: message/rfc822\n\nSubject: fwd\nContent-Type: text/plain\n\nforwarded\n--a--\n";
  RecordingSink sink;
  EXPECT_EQ(Names(ExtractMail, mail, &sink), "part-1;part-2;");
  EXPECT_EQ(sink.children[0].data, "inner");
  EXPECT_EQ(sink.children[1].data, "forwarded");
}

TEST(Mail, MboxUuencodedMessages) {
  std::string mbox =
      "From x Thu Jul 31 13:49:50 2008\nFrom: x\nContent-Transfer-Encoding: x-uuencode\n\n"
      "begin 644 cat.txt\n#0V%T\n`\nend\n"
      "From y Thu Jul 31 13:49:50 2008\nFrom: y\nContent-Transfer-Encoding: base64\n\nQ2F0\n";
  RecordingSink sink;
  EXPECT_EQ(Names(ExtractMail, mbox, &sink), "cat.txt;part-2;");
  EXPECT_EQ(sink.children[0].data, "Cat");
  EXPECT_EQ(sink.children[1].data, "Cat");
}

TEST(Mail, DeepNestingIsBoundedNotRecursive) {
  std::string mail;
  const int kLevels = 2000;
  for (int i = 0; i < kLevels; ++i) {
    mail += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
  }
  mail += "\nleaf\n";
  RecordingSink sink;
  ExtractMail(AsBytes(mail), sink);
  EXPECT_TRUE(sink.HasProblem("limit-depth"));
  EXPECT_TRUE(sink.children.empty());
}

TEST(Mail, MalformedInputsDoNotCrash) {
  const char* inputs[] = {
      "From: a\nContent-Type: multipart/mixed; boundary=\"\n\n--\n",
      "From: a\nContent-Type: multipart/mixed; boundary=z\n\n--z",
      "From: a\nContent-Type: multipart/mixed\n\nno boundary",
      "From: a\nContent-Transfer-Encoding: quoted-printable\n\n=",
      "From: a\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644",
      "From: a\nContent-Type: message/rfc822\n\n",
      "From \n",
      "From: a\n x\n\tcontinued\n"};
  for (const char* in : inputs) {
    RecordingSink sink;
    ExtractMail(AsBytes(in), sink);
  }
}

TEST(Mail, ChildLargerThanRoomOverflows) {
  RecordingSink sink(/*room=*/3);
  ExtractMail(AsBytes("From: a\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n"), sink);
  EXPECT_EQ(sink.overflows, 1);
  EXPECT_TRUE(sink.children.empty());
}

TEST(Text, UuBlocksAndDataUris) {
  std::string text =
      "some text\nbegin 644 a.txt\n#0V%T\nend\nmore\nbegin 600 b.txt\n#0V%T\n"
      "<a href=\"data:application/octet-stream;base64,aGVsbG8=\">x</a> ;base64,QQ==";
  RecordingSink sink;
  EXPECT_EQ(Names(ExtractText, text, &sink), "a.txt;b.txt;data-1;");
  EXPECT_EQ(sink.children[2].data, "hello");
  EXPECT_TRUE(LooksLikeText(AsBytes(text)));
  EXPECT_FALSE(LooksLikeText(AsBytes(std::string("MZ\0\0", 4))));
}

TEST(Text, RejectsNonUuBegin) {
  RecordingSink sink;
  EXPECT_EQ(Names(ExtractText, "begin here\nbegin 99 x\nbegin 644\n", &sink), "");
}

}  // namespace
}  // namespace avkey::scan
