// Which bytes of an HTML file the Scanner matches, as clamscan 1.4.6 does (docs/html.md):
// the normalised nocomment and notags buffers, each a layer of its own, and the raw bytes
// only when the HTML marker was found late, in a GIF or in UTF-16LE. Every expectation
// here was observed with clamscan (tests/differential family "html" checks the same
// against the real clamscan).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "avkey/engine/engine.h"
#include "engine/js_norm.h"

namespace avkey::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Signature hex of a text (the engine's own encoder).
std::string Hex(std::string_view s) {
  return HexString({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

std::string Md5Line(std::string_view data, const char* name) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return Hex(std::string_view(reinterpret_cast<char*>(md), len)) + ":" + std::to_string(data.size()) + ":" + name +
         "\n";
}

std::shared_ptr<const Database> Db(const std::vector<std::pair<std::string, std::string>>& sources,
                                   bool normalize = true) {
  DatabaseBuilder b;
  b.SetTextNormalization(normalize);
  for (const auto& [n, t] : sources) EXPECT_TRUE(b.AddSource(n, t, false).ok()) << n;
  auto db = b.Build();
  EXPECT_TRUE(db.has_value()) << (db ? "" : db.error());
  return *db;
}

std::vector<std::string> Names(const std::shared_ptr<const Database>& db, std::string_view data) {
  Scanner s(db);
  std::vector<Detection> out;
  EXPECT_TRUE(s.Scan({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, {}, &out).ok());
  std::vector<std::string> names;
  for (auto& d : out) {
    std::string n = d.name;
    if (n.size() > 11 && n.compare(n.size() - 11, 11, ".UNOFFICIAL") == 0) n.resize(n.size() - 11);
    names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Ndb(const char* name, int target, std::string_view text, const char* offset = "*") {
  return std::string(name) + ":" + std::to_string(target) + ":" + offset + ":" + Hex(text) + "\n";
}

// The case behind most of these: the page of SPEC e01, reduced.
const std::string kPage =
    "<html><body>\n<!-- RAWONLYCOMMENT -->\n<p CLASS=Foo>UPPERTEXT foo<b>bar</b> zz</p>\n";
const std::string kPageNc = "<html><body><p class=foo>uppertext foo<b>bar</b>zz</p>";
const std::string kPageNt = " uppertext foo bar zz ";

TEST(HtmlScan, EarlyMarkerMatchesOnlyTheBuffers) {
  auto db = Db({{"s.ndb", Ndb("T0_RAW", 0, "RAWONLYCOMMENT") + Ndb("T3_RAW", 3, "CLASS=Foo") +
                              Ndb("T0_UP", 0, "UPPERTEXT") + Ndb("T3_NC", 3, "<p class=foo>") +
                              Ndb("T0_NC", 0, "<p class=foo>") + Ndb("T3_NT", 3, " foo bar ") +
                              Ndb("T0_LOW", 0, "uppertext foo") + Ndb("T7_LOW", 7, "uppertext foo")},
                {"s.hdb", Md5Line(kPage, "H_RAW") + Md5Line(kPageNc, "H_NC") + Md5Line(kPageNt, "H_NT")}});
  EXPECT_THAT(Names(db, kPage), ElementsAre("H_NC", "H_NT", "T0_LOW", "T0_NC", "T3_NC", "T3_NT"));
}

TEST(HtmlScan, LateMarkerScansRawAsTextFirst) {
  // "<html>" ends after byte 1024: the raw bytes are matched as text (target 0 and the raw
  // hash; not target 3, and no target 7 on the normalised text), then the buffers.
  const std::string page = std::string(1100, 'y') + "\n" + kPage;
  auto db = Db({{"s.ndb", Ndb("T0_RAW", 0, "RAWONLYCOMMENT") + Ndb("T3_RAW", 3, "CLASS=Foo") +
                              Ndb("T3_NC", 3, "<p class=foo>") + Ndb("T7_LOW", 7, "uppertext foo")},
                {"s.hdb", Md5Line(page, "H_RAW")}});
  EXPECT_THAT(Names(db, page), ElementsAre("H_RAW", "T0_RAW", "T3_NC"));
}

TEST(HtmlScan, MarkerMustEndWithinTheFirst1024Bytes) {
  auto db = Db({{"s.ndb", Ndb("T0_UP", 0, "UPPERTEXT") + Ndb("T3_LOW", 3, "uppertext")}});
  const auto at = [](size_t n) { return std::string(n, 'y') + "\n<html><p>UPPERTEXT</p>"; };
  EXPECT_THAT(Names(db, at(1017)), ElementsAre("T3_LOW"));  // "<html>" ends at byte 1024
  EXPECT_THAT(Names(db, at(1018)), ElementsAre("T0_UP", "T3_LOW"));
}

TEST(HtmlScan, EachBufferIsALayerOfItsOwn) {
  const std::string page = "<html><P CLASS=Foo>Foo<b>Bar</b></P>";
  // nocomment "<html><p class=foo>foo<b>bar</b></p>", notags " foo bar ".
  auto db = Db({{"s.ndb", Ndb("OFF0_NC", 3, "<html><p", "0") + Ndb("OFF0_NT", 3, " foo", "0") +
                              Ndb("OFF1_NT", 3, "foo bar", "1") + Ndb("EOF_NT", 3, "bar ", "EOF-4") +
                              Ndb("EOF_NC", 3, "</b></p>", "EOF-8") + Ndb("NOT_AT_0", 3, "foo", "0")},
                {"s.ldb", "L_SAME_NC;Target:3;0&1;3c68746d6c3e;666f6f3c623e\n"
                          "L_SAME_NT;Target:3;0&1;20666f6f;62617220\n"
                          "L_CROSS;Target:3;0&1;3c68746d6c3e;20666f6f20\n"
                          "L_T0_CROSS;Target:0;0&1;3c2f703e;2062617220\n"}});
  EXPECT_THAT(Names(db, page),
              ElementsAre("EOF_NC", "EOF_NT", "L_SAME_NC", "L_SAME_NT", "OFF0_NC", "OFF0_NT", "OFF1_NT"));
}

TEST(HtmlScan, TinyBuffersAreScannedAndHashed) {
  auto db = Db({{"s.ndb", Ndb("T3_NT", 3, " ab")}, {"s.hdb", Md5Line(" ab", "H_NT") + Md5Line(" ", "H_SPACE")}});
  EXPECT_THAT(Names(db, "<html>ab"), ElementsAre("H_NT", "T3_NT"));
  EXPECT_THAT(Names(db, "<html><b><b><b>"), ElementsAre("H_SPACE"));
}

TEST(HtmlScan, NotagsOnlyUpTo8MiB) {
  auto db = Db({{"s.ndb", Ndb("T3_NC", 3, "<html>xy") + Ndb("T3_NT", 3, " xy")}});
  const auto page = [](size_t size) {
    std::string p = "<html>xy";
    p.resize(size, 'z');
    return p;
  };
  EXPECT_THAT(Names(db, page(8u << 20)), ElementsAre("T3_NC", "T3_NT"));
  EXPECT_THAT(Names(db, page((8u << 20) + 1)), ElementsAre("T3_NC"));
}

TEST(HtmlScan, NothingAbove40MiB) {
  auto db = Db({{"s.ndb", Ndb("T3_NC", 3, "<html>xy") + Ndb("T0_RAW", 0, "<html>xy")}});
  std::string p = "<html>xy";
  p.resize((40u << 20) + 1, 'z');
  EXPECT_THAT(Names(db, p), IsEmpty());
  p.resize(40u << 20);
  EXPECT_THAT(Names(db, p), ElementsAre("T0_RAW", "T3_NC"));
}

std::string Utf16Le(std::string_view s, bool bom) {
  std::string out = bom ? "\xff\xfe" : "";
  for (char c : s) {
    out += c;
    out += '\0';
  }
  return out;
}

TEST(HtmlScan, Utf16LittleEndianBuffersThenRaw) {
  const std::string page = Utf16Le("<html><body>Hello UTF World <b>x</b></body></html>\n", false);
  auto db = Db({{"s.ndb", Ndb("T0_RAWLE", 0, std::string("H\0e\0l\0l\0o\0", 10)) +
                              Ndb("T3_RAWLE", 3, std::string("H\0e\0l\0l\0o\0", 10)) +
                              Ndb("T3_NC", 3, "<body>hello utf world") + Ndb("T3_NT", 3, " hello utf world ") +
                              Ndb("T0_DEC", 0, "Hello UTF World")},
                {"s.hdb", Md5Line(page, "H_RAW")}});
  EXPECT_THAT(Names(db, page), ElementsAre("H_RAW", "T0_RAWLE", "T3_NC", "T3_NT"));
}

TEST(HtmlScan, Utf16BigEndianWithBomBuffersOnly) {
  std::string page = "\xfe\xff";
  for (char c : std::string_view("<html><body>Hello UTF World <b>x</b></body></html>\n")) {
    page += '\0';
    page += c;
  }
  auto db = Db({{"s.ndb", Ndb("T0_RAWBE", 0, std::string("\0H\0e\0l\0l\0o", 10)) +
                              Ndb("T3_NC", 3, "\xfe\xff<html><body>hello") + Ndb("T3_NT", 3, "\xfe\xfe hello utf")},
                {"s.hdb", Md5Line(page, "H_RAW")}});
  EXPECT_THAT(Names(db, page), ElementsAre("T3_NC", "T3_NT"));
}

TEST(HtmlScan, GifWithMarkerIsAlsoNormalised) {
  const std::string gif = std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00", 13) +
                          "<script>alert(\"GifScript\")</script><p>In Gif</p>\n";
  auto db = Db({{"s.ndb", Ndb("T0_RAW", 0, "alert(\"GifScript\")") + Ndb("T5_RAW", 5, "alert(\"GifScript\")") +
                              Ndb("T3_NC", 3, "alert(\"gifscript\")") + Ndb("T3_NT", 3, " in gif ")}});
  EXPECT_THAT(Names(db, gif), ElementsAre("T0_RAW", "T3_NC", "T3_NT", "T5_RAW"));
  // A PNG is not [observed].
  const std::string png = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + "<p>In Gif</p>";
  EXPECT_THAT(Names(db, png), IsEmpty());
}

TEST(HtmlScan, WithoutNormalisationHtmlIsMatchedRaw) {
  // clamscan --normalize=no: raw bytes with target 3; a late marker leaves the file text.
  auto db = Db({{"s.ndb", Ndb("T3_RAW", 3, "CLASS=Foo") + Ndb("T3_NC", 3, "<p class=foo>") +
                              Ndb("T0_RAW", 0, "RAWONLYCOMMENT")}},
               /*normalize=*/false);
  EXPECT_THAT(Names(db, kPage), ElementsAre("T0_RAW", "T3_RAW"));
  EXPECT_THAT(Names(db, std::string(1100, 'y') + "\n" + kPage), ElementsAre("T0_RAW"));
}

TEST(HtmlScan, AllowListedFileOrBuffer) {
  const std::string sigs = Ndb("T3_NC", 3, "<p class=foo>") + Ndb("T3_NT", 3, " foo bar ");
  EXPECT_THAT(Names(Db({{"s.ndb", sigs}, {"a.fp", Md5Line(kPage, "FP_RAW")}}), kPage), IsEmpty());
  // An allow-listed buffer clears what was found in it [observed]; what the other buffer
  // holds stays, as in ClamAV's layer model, where both are children of the file [inferred].
  EXPECT_THAT(Names(Db({{"s.ndb", sigs}, {"a.fp", Md5Line(kPageNc, "FP_NC")}}), kPage), ElementsAre("T3_NT"));
}

TEST(HtmlScan, YaraSeesTheBuffers) {
  auto db = Db({{"y.yar", "rule Y_RAW { strings: $a = \"RAWONLYCOMMENT\" condition: $a }\n"
                          "rule Y_NC { strings: $a = \"<p class=foo>\" condition: $a }\n"
                          "rule Y_NT { strings: $a = \" foo bar \" condition: $a }\n"}});
  EXPECT_THAT(Names(db, kPage), ElementsAre("YARA.Y_NC", "YARA.Y_NT"));
}

// The javascript buffer (recorded with clamscan: differential family html, js1): scanned as
// HTML (targets 3, 0) and again as text (targets 7, 0), hashed, .ldb counted within it.
TEST(HtmlScan, JavascriptBufferIsScannedAsHtmlAndAsText) {
  const std::string page =
      "<html><body>\n<script>var Secret = unescape(\"%45%76%69%6c\"); eval(\"var q=Secret+1;\"); "
      "// trailing comment here\n</script>\n</body></html>\n";
  const std::string js = "<script>var n000=\"evil\";var n001=n000+1;trailing comment here</script>";
  auto db = Db({{"j.ndb", Ndb("J3", 3, "var n000=\"evil\"") + Ndb("J7", 7, "trailing comment here") +
                              Ndb("J0", 0, "<script>var n000", "0") + Ndb("J7NC", 7, "varsecret=unescape") +
                              Ndb("J3RAW", 3, "Secret = unescape")},
                {"j.hdb", Md5Line(js, "JH")},
                {"j.ldb", "JL;Target:7;0&1;" + Hex("var n000") + ";" + Hex("n001=n000+1") + "\n" +
                              "JX;Target:3;0&1;" + Hex("varsecret") + ";" + Hex("var n001") + "\n"}});
  EXPECT_THAT(Names(db, page), ElementsAre("J0", "J3", "J7", "JH", "JL"));
}

// Microsoft Script Encoder: 'var A = "Evil";' as the encoder writes it.
const std::string kEncodedEvil = "#@~^DwAAAA==-mD~zP{PJA\\bsJpNgQAAA==^#~@";

// In a page, the block is decoded inside the buffers: nocomment and javascript hold the
// script, not the encoded bytes [observed, clamscan 1.4.6 with these signatures].
TEST(HtmlScan, ScriptEncoderBlockIsMatchedDecoded) {
  const std::string page =
      "<html><body>\n<script language=\"JScript.Encode\">" + kEncodedEvil + "</script>\n</body></html>\n";
  auto db = Db({{"s.ndb", Ndb("DEC_NC", 3, "vara=\"evil\";") + Ndb("DEC_JS7", 7, "var n000=\"evil\"") +
                              Ndb("DEC_T0", 0, "vara=\"evil\"") + Ndb("ENC_T0", 0, "-mD~zP{PJA") +
                              Ndb("ENC_T3", 3, "-md~zp{pja")}});
  EXPECT_THAT(Names(db, page), ElementsAre("DEC_JS7", "DEC_NC", "DEC_T0"));
}

// A file that starts with "#@~^" (CL_TYPE_SCRENC): its own bytes as untyped data (target 0,
// not 7), then the decoded file "<script>var A = "Evil";\nTail Text\n</script>" as a file
// of its own, typed HTML: its nocomment, notags and javascript buffers, not its raw bytes
// [observed, clamscan 1.4.6 with these signatures].
TEST(HtmlScan, ScriptEncodedFileIsDecodedIntoAFileOfItsOwn) {
  const std::string file = kEncodedEvil + "\nTail Text\n";
  auto db = Db({{"s.ndb", Ndb("DEC_NC", 3, "vara=\"evil\";") + Ndb("DEC_JS7", 7, "var n000=\"evil\"") +
                              Ndb("ENC_T0", 0, "-mD~zP{PJA") + Ndb("ENC_T3", 3, "-md~zp{pja") +
                              Ndb("DEC_T0", 0, "vara=\"evil\"") + Ndb("DECRAW_T0", 0, "var A = \"Evil\"") +
                              Ndb("DECRAW_T3", 3, "var A = \"Evil\"") + Ndb("TAIL_T0", 0, "Tail Text") +
                              Ndb("TAIL_T7", 7, "tail text") + Ndb("ENC_T7", 7, "-md~zp{pja")}});
  EXPECT_THAT(Names(db, file), ElementsAre("DEC_JS7", "DEC_NC", "DEC_T0", "ENC_T0", "TAIL_T0", "TAIL_T7"));
  // Not at offset 0: an ordinary text file.
  EXPECT_THAT(Names(db, "x" + file), ElementsAre("ENC_T0", "ENC_T7", "TAIL_T0", "TAIL_T7"));
  // An allow-listed hash of the file clears everything; that of the decoded file only what
  // was found in it [observed].
  const std::string sigs = Ndb("ENC_T0", 0, "-mD~zP{PJA") + Ndb("DEC_NC", 3, "vara=\"evil\";");
  EXPECT_THAT(Names(Db({{"s.ndb", sigs}, {"a.fp", Md5Line(file, "FP_FILE")}}), file), IsEmpty());
  EXPECT_THAT(Names(Db({{"s.ndb", sigs}, {"a.fp", Md5Line("<script>" + std::string("var A = \"Evil\";\nTail Text\n") +
                                                               "</script>",
                                                           "FP_DECODED")}}),
                    file),
              ElementsAre("ENC_T0"));
  // clamscan --normalize=no still decodes it; the decoded file is then HTML matched raw.
  auto raw = Db({{"s.ndb", Ndb("DEC_NC", 3, "vara=\"evil\";") + Ndb("ENC_T0", 0, "-mD~zP{PJA") +
                               Ndb("DECRAW_T0", 0, "var A = \"Evil\"") + Ndb("DECRAW_T3", 3, "var A = \"Evil\"") +
                               Ndb("TAIL_T0", 0, "Tail Text") + Ndb("TAIL_T7", 7, "tail text")}},
                /*normalize=*/false);
  EXPECT_THAT(Names(raw, file), ElementsAre("DECRAW_T0", "DECRAW_T3", "ENC_T0", "TAIL_T0"));
}

// A script over a budget of the JavaScript normaliser: what was found stands, and the
// scanner says the layer was matched short (the caller makes it AMBER); the next file
// starts clean.
TEST(HtmlScan, ScriptOverABudgetIsReported) {
  std::string page = "<html><body><p>visible marker</p><script>";
  for (size_t i = 0; i < 3 * JsNormalizer::kMaxDecodes; ++i) page += "eval(\"x\");";
  page += "</script></body></html>\n";
  auto db = Db({{"b.ndb", Ndb("Seen", 3, "visible marker")}});
  Scanner s(db);
  std::vector<Detection> out;
  auto scan = [&](std::string_view data) {
    EXPECT_TRUE(s.Scan({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, {}, &out).ok());
  };
  scan(page);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "Seen.UNOFFICIAL");
  EXPECT_THAT(std::string(s.last_limit()), ::testing::HasSubstr("JavaScript normaliser"));
  scan(kPage);
  EXPECT_TRUE(s.last_limit().empty());
  page.replace(page.find("<script>"), 8, "<p>");  // the same text, no script
  scan(page);
  EXPECT_TRUE(s.last_limit().empty());
}

}  // namespace
}  // namespace avkey::engine
