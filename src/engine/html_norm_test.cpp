// HtmlNormalizer against the buffers clamscan 1.4.6 wrote (tests/data/html/cases.txt: 172
// recorded cases, see make_cases.py there), plus named checks of the rules that matter most.
#include "engine/html_norm.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/hash_index.h"
#include "engine/recorded_buffers_test_util.h"

namespace avkey::engine {
namespace {

using testing::Bytes;
using testing::Show;
using testing::Str;
using testing::Unescape;

std::string Md5Hex(std::span<const uint8_t> b) {
  LazyDigests d(b);
  const Digest& m = d.Get(HashType::kMd5);
  std::string hex;
  for (size_t i = 0; i < 16; ++i) {
    char tmp[3];
    std::snprintf(tmp, sizeof tmp, "%02x", m[i]);
    hex += tmp;
  }
  return hex;
}

struct RecordedCase {
  std::string name, input;
  size_t nc_len = 0, nt_len = 0;
  std::string nc_md5, nt_md5;
};

std::vector<RecordedCase> LoadCases() {
  std::ifstream f(std::string(AVKEY_SOURCE_DIR) + "/tests/data/html/cases.txt");
  std::vector<RecordedCase> cases;
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("case ", 0) == 0) {
      cases.push_back({line.substr(5), "", 0, 0, "", ""});
    } else if (line.rfind("in ", 0) == 0 && !cases.empty()) {
      EXPECT_TRUE(Unescape(std::string_view(line).substr(3), &cases.back().input)) << line.substr(0, 80);
    } else if (!cases.empty() && (line.rfind("nocomment ", 0) == 0 || line.rfind("notags ", 0) == 0)) {
      std::istringstream ss(line);
      std::string key;
      size_t len = 0;
      std::string md5;
      ss >> key >> len >> md5;
      if (key == "nocomment") {
        cases.back().nc_len = len;
        cases.back().nc_md5 = md5;
      } else {
        cases.back().nt_len = len;
        cases.back().nt_md5 = md5;
      }
    }
  }
  return cases;
}

TEST(HtmlNorm, RecordedClamscanBuffers) {
  const std::vector<RecordedCase> cases = LoadCases();
  ASSERT_GE(cases.size(), 130u) << "tests/data/html/cases.txt missing or truncated";
  HtmlNormalizer norm;  // one normaliser for all: state must not leak from file to file
  std::vector<uint8_t> decoded;
  for (const RecordedCase& c : cases) {
    // A file that starts with "#@~^" (cases sf*): clamscan normalises the file it decodes
    // from it (DecodeScriptEncoderFile), not the file itself.
    std::span<const uint8_t> in = Bytes(c.input);
    if (c.input.rfind("#@~^", 0) == 0) {
      ASSERT_TRUE(DecodeScriptEncoderFile(in, &decoded)) << c.name;
      in = decoded;
    }
    norm.Run(in);
    EXPECT_EQ(norm.nocomment().size(), c.nc_len) << c.name << " nocomment: " << Show(norm.nocomment());
    EXPECT_EQ(Md5Hex(norm.nocomment()), c.nc_md5) << c.name << " nocomment: " << Show(norm.nocomment());
    EXPECT_EQ(norm.notags().size(), c.nt_len) << c.name << " notags: " << Show(norm.notags());
    EXPECT_EQ(Md5Hex(norm.notags()), c.nt_md5) << c.name << " notags: " << Show(norm.notags());
  }
}

struct Out {
  std::string nc, nt;
  HtmlNormalizer::Stop stop;
};
Out Norm(std::string_view in) {
  HtmlNormalizer n;
  n.Run(Bytes(in));
  return {Str(n.nocomment()), Str(n.notags()), n.stop()};
}

// The text runs 16 bytes at a time (SSE2) against their byte-by-byte definition.
TEST(HtmlNorm, TextRunsAsDefined) {
  const auto text = [](uint8_t c) { return c > 0x20 && c < 0x7f && c != '<' && c != '&'; };
  const auto lone = [](uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\f'); };
  // Mostly words and single spaces (the fast path), with everything that ends a run.
  const std::string alphabet = "abcXYZ09.,;:!?-_/()   \t\n\v\f\r<&\x7f\x01\x80\xe9";
  std::mt19937 rng(5);
  size_t long_runs = 0;
  for (int round = 0; round < 4000; ++round) {
    std::vector<uint8_t> buf(1 + rng() % 200);
    const size_t common = round % 2 ? 13 : 6;  // the first bytes of the alphabet, more often
    for (auto& c : buf) c = static_cast<uint8_t>(rng() % 4 ? alphabet[rng() % common] : alphabet[rng() % alphabet.size()]);
    for (size_t i = 0; i < buf.size(); ++i) {
      if (!text(buf[i])) continue;
      size_t want = i;
      while (want < buf.size() &&
             (text(buf[want]) || (want > i && want + 1 < buf.size() && lone(buf[want]) && text(buf[want - 1]) &&
                                  text(buf[want + 1]))))
        ++want;
      ASSERT_EQ(html_text::RunEnd(buf.data(), i, buf.size()), want) << "round " << round << " at " << i;
      long_runs += want - i >= 32;
    }
    std::vector<uint8_t> a(buf.size()), b(buf.size());
    html_text::Map(buf.data(), buf.size(), a.data(), b.data());
    for (size_t q = 0; q < buf.size(); ++q) {
      const uint8_t c = buf[q];
      const uint8_t expect = c >= 'A' && c <= 'Z' ? c + 32 : lone(c) ? ' ' : c;
      ASSERT_EQ(a[q], expect) << int{c};
      ASSERT_EQ(b[q], expect) << int{c};
    }
  }
  EXPECT_GT(long_runs, 1000u);  // the 16-byte path was taken
}

TEST(HtmlNorm, TagsTextAndCase) {
  Out o = Norm("<html><BODY>Hello WORLD</BODY></HTML>\n");
  EXPECT_EQ(o.nc, "<html><body>hello world</body></html>");
  EXPECT_EQ(o.nt, " hello world ");
  o = Norm("<html><p   CLASS = \"X Y\"   id='Z'  >t</p >u< p>v</ P>");
  EXPECT_EQ(o.nc, "<html><p class=\"x y\" id=\"z\">t</p>u<p>v</ p>");
  EXPECT_EQ(o.nt, " t u v ");
}

TEST(HtmlNorm, CommentsEndAtFirstGreaterThan) {
  const Out o = Norm("<html>a<!-- x > y -->b");
  EXPECT_EQ(o.nc, "<html>ay -->b");
  EXPECT_EQ(o.nt, " a y -->b");
}

TEST(HtmlNorm, EntitiesDecodedInNocommentOnly) {
  const Out o = Norm("<html>&amp;&AMP;&apos;&eacute;&#8364;&#x110041;&boxUr;&lang;x");
  EXPECT_EQ(o.nc, "<html>&&amp;'\xe9&#x20ac;A&#x2559;&#x2329;x");
  EXPECT_EQ(o.nt, " x");
}

TEST(HtmlNorm, NumericReferenceOverflowGuard) {
  // libclamav stops accumulating near 2^59: the value so far is written as one byte and the
  // digit that did not fit is dropped (checked against clamscan with random inputs).
  const Out o = Norm("<html>&#99999999999999999999;");
  EXPECT_EQ(o.nc.substr(0, 6), "<html>");
  EXPECT_EQ(o.nc.size(), 9u);  // "<html>" + one byte + "9;"
  EXPECT_EQ(o.nc.substr(7), "9;");
}

TEST(HtmlNorm, HrefAndSrcGoToNotagsInOriginalCase) {
  const Out o = Norm("<html>pre <a href=\"http://EXAMPLE.com/X\" TITLE=T>Link</a> <img src='Pic.JPG'> post");
  EXPECT_EQ(o.nt, " pre http://EXAMPLE.com/X link Pic.JPG post");
}

TEST(HtmlNorm, ScriptBodiesLoseWhitespace) {
  const Out o = Norm("<html><script>var X = 'Y';\nalert(\"Z\")</script>after");
  EXPECT_EQ(o.nc, "<html><script>varx=\"y\";alert(\"z\")</script>after");
  EXPECT_EQ(o.nt, " after");
}

TEST(HtmlNorm, WhitespaceAfterAFullChunkIsLost) {
  std::string in = "<html>" + std::string(8191 - 6, 'a') + " bcd";
  const Out o = Norm(in);
  EXPECT_EQ(o.nc, "<html>" + std::string(8191 - 6, 'a') + "bcd");
}

TEST(HtmlNorm, StyleEndAtChunkStartAbandonsTheFile) {
  // "</style>" ending exactly at the end of the first chunk: the end tag is processed at
  // position 0 of the next one, below strlen("</style>").
  std::string in = "<html><style>" + std::string(8191 - 13 - 8, 'a') + "</style>\nAFTER text";
  const Out o = Norm(in);
  EXPECT_EQ(o.stop, HtmlNormalizer::Stop::kStyleUnderflow);
  EXPECT_EQ(o.nc.size(), 8191u);
  EXPECT_EQ(o.nt, " ");
}

// A Script Encoder block after <script language="JScript.Encode"> is decoded in place and
// the decoded bytes are normalised as the script body [observed, se04 and the se* cases].
// The block below is 'var A = "Evil";' as the Script Encoder writes it.
constexpr char kEncodedEvil[] = "#@~^DwAAAA==-mD~zP{PJA\\bsJpNgQAAA==^#~@";

TEST(HtmlNorm, ScriptEncoderBlockIsDecoded) {
  HtmlNormalizer n;
  n.Run(Bytes(std::string("<html><script language=\"JScript.Encode\">") + kEncodedEvil + "</script>x y"));
  EXPECT_EQ(n.stop(), HtmlNormalizer::Stop::kEnd);
  EXPECT_EQ(Str(n.nocomment()),
            "<html><script language=\"jscript.encode\"><script language=\"javascript\">vara=\"evil\";</script>x y");
  EXPECT_EQ(Str(n.notags()), " x y");
  // The marker is read as "//~^" and the length field ends in LF: a comment to there.
  EXPECT_EQ(Str(n.javascript()), "<script>var n000=\"evil\";</script>");
}

TEST(HtmlNorm, ScriptEncoderChecksumIsNotChecked) {
  // Whatever the 12 bytes after the encoded text hold, they are dropped.
  std::string bad = kEncodedEvil;
  bad.replace(bad.size() - 12, 12, "zzzzzzzzzzzz");
  const Out good = Norm(std::string("<html><script language=\"JScript.Encode\">") + kEncodedEvil + "</script>");
  const Out spoilt = Norm(std::string("<html><script language=\"JScript.Encode\">") + bad + "</script>");
  EXPECT_EQ(good.nc, spoilt.nc);
  EXPECT_EQ(good.nt, spoilt.nt);
}

TEST(HtmlNorm, ScriptEncoderHostileLengthsStayInBounds) {
  // A length far beyond the data decodes to the end of the input; an escape pair reached
  // with one byte left wraps the count. Neither reads past the input.
  HtmlNormalizer n;
  for (const char* len : {"////////", "~~~~~~~~", "AQAAAA==", "AAAAAA=="}) {
    for (const char* body : {"@", "@!", "\xe9", "abc@", "@\xe9"}) {
      const std::string in = std::string("<html><script language=\"JScript.Encode\">#@~^") + len + body;
      n.Run(Bytes(in));
      EXPECT_EQ(n.stop(), HtmlNormalizer::Stop::kEnd) << in;
      EXPECT_LE(n.nocomment().size(), 2 * in.size()) << in;
    }
  }
}

// What clamscan writes for a file that starts with "#@~^" (the sf* cases check the buffers
// of the decoded file). A file that ends inside the length field gets none: clamscan
// --debug shows no scan of a decoded file for "#@~^MwAA", and "html_screnc_decode: missing
// 51 bytes" then a scan of "<script></script>" for "#@~^MwAAAA==".
TEST(HtmlNorm, ScriptEncoderFileDecoding) {
  std::vector<uint8_t> out;
  EXPECT_FALSE(DecodeScriptEncoderFile(Bytes("#@~^MwAA"), &out));
  ASSERT_TRUE(DecodeScriptEncoderFile(Bytes("#@~^MwAAAA=="), &out));
  EXPECT_EQ(Str(out), "<script></script>");
  ASSERT_TRUE(DecodeScriptEncoderFile(Bytes(std::string(kEncodedEvil) + "\nTail"), &out));
  EXPECT_EQ(Str(out), "<script>var A = \"Evil\";\nTail</script>");
}

TEST(HtmlNorm, NulBytesAreDropped) {
  static constexpr char kIn[] = "<html><sc\0ript>var A=1</scr\0ipt>Z";
  const Out o = Norm(std::string(kIn, sizeof kIn - 1));
  EXPECT_EQ(o.nc, "<html><script>vara=1</script>z");
  EXPECT_EQ(o.nt, " z");
}

TEST(HtmlNorm, EntityTable) {
  EXPECT_EQ(LookupHtmlEntity("amp"), 38);
  EXPECT_EQ(LookupHtmlEntity("AMP"), -1);
  EXPECT_EQ(LookupHtmlEntity("apos"), 39);
  EXPECT_EQ(LookupHtmlEntity("Kcy"), 1050);
  EXPECT_EQ(LookupHtmlEntity("thetasym"), 977);
  EXPECT_EQ(LookupHtmlEntity("zwnj"), 8204);
  EXPECT_EQ(LookupHtmlEntity("AElig"), 198);
  EXPECT_EQ(LookupHtmlEntity(""), -1);
  EXPECT_EQ(LookupHtmlEntity("ampx"), -1);
}

TEST(HtmlNorm, TrimFreesLargeBuffers) {
  HtmlNormalizer n;
  std::string big(1 << 20, 'a');
  big.insert(0, "<html>");
  n.Run(Bytes(big));
  EXPECT_EQ(n.nocomment().size(), big.size());
  n.Trim(64 * 1024);
  EXPECT_TRUE(n.nocomment().empty());
  n.Run(Bytes("<html>ab"));
  EXPECT_EQ(Str(n.notags()), " ab");
}

}  // namespace
}  // namespace avkey::engine
