// The JavaScript normaliser against the "javascript" files clamscan 1.4.6 wrote
// (tests/data/html/js_cases.txt, recorded by make_js_cases.py there), run the way the scanner
// runs it: through HtmlNormalizer, which hands it each <script> block chunk by chunk.
#include "engine/js_norm.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "engine/html_norm.h"
#include "engine/recorded_buffers_test_util.h"

namespace avkey::engine {
namespace {

using testing::Bytes;
using testing::Show;
using testing::Str;
using testing::Unescape;

struct JsCase {
  std::string name, input, js;
  bool has_js = false;
};

std::vector<JsCase> LoadCases() {
  std::ifstream f(std::string(AVKEY_SOURCE_DIR) + "/tests/data/html/js_cases.txt");
  std::vector<JsCase> cases;
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("case ", 0) == 0) {
      cases.push_back({line.substr(5), "", "", false});
    } else if (line.rfind("in ", 0) == 0 && !cases.empty()) {
      EXPECT_TRUE(Unescape(std::string_view(line).substr(3), &cases.back().input)) << line.substr(0, 80);
    } else if (line.rfind("js ", 0) == 0 && !cases.empty()) {
      if (line != "js none") {
        cases.back().has_js = true;
        EXPECT_TRUE(Unescape(std::string_view(line).substr(3), &cases.back().js)) << line.substr(0, 80);
      }
    }
  }
  return cases;
}

TEST(JsNorm, RecordedClamscanBuffers) {
  const std::vector<JsCase> cases = LoadCases();
  ASSERT_GE(cases.size(), 100u) << "tests/data/html/js_cases.txt missing or truncated";
  HtmlNormalizer norm;  // one for all: nothing may leak from file to file
  size_t passed = 0;
  std::vector<uint8_t> decoded;
  for (const JsCase& c : cases) {
    // Cases sf*: the file clamscan decodes from a "#@~^" file is the one normalised.
    std::span<const uint8_t> in = Bytes(c.input);
    if (c.input.rfind("#@~^", 0) == 0) {
      ASSERT_TRUE(DecodeScriptEncoderFile(in, &decoded)) << c.name;
      in = decoded;
    }
    norm.Run(in);
    const std::string got = Str(norm.javascript());
    EXPECT_EQ(got.empty(), !c.has_js) << c.name;
    EXPECT_EQ(got, c.js) << c.name << "\n  got:  " << Show(got, 600) << "\n  want: " << Show(c.js, 600);
    EXPECT_FALSE(norm.javascript_truncated()) << c.name;
    passed += got == c.js;
  }
  std::printf("js_cases.txt: %zu of %zu recorded cases identical\n", passed, cases.size());
}

std::string Js(std::string_view html) {
  HtmlNormalizer n;
  n.Run(Bytes(html));
  return Str(n.javascript());
}

TEST(JsNorm, NamedRules) {
  // Identifiers declared with var are renamed in order; undeclared ones are kept.
  EXPECT_EQ(Js("<html><script>var a = b; a();</script>\n"), "<script>var n000=b;n000();</script>");
  // A line comment ends at the first space (LF was made a space by the HTML normaliser).
  EXPECT_EQ(Js("<html><script>//one two\nx=1</script>\n"), "<script>two x=1</script>");
  // Strings are folded, unescaped and lower-cased; unescape() and eval() are inlined.
  EXPECT_EQ(Js("<html><script>x = unescape(\"%41\" + \"%42\"); eval(\"Y=1\");</script>\n"),
            "<script>x=\"ab\";y=</script>");  // (a number ending the eval text is lost)
  // Blocks are separated by a newline; a file without <script> has no buffer.
  EXPECT_EQ(Js("<html><script>a</script><script>b</script>\n"), "<script>a</script>\n<script>b</script>");
  EXPECT_EQ(Js("<html><p>var a</p>\n"), "");
}

TEST(JsNorm, ReusedBuffersDoNotLeak) {
  HtmlNormalizer n;
  n.Run(Bytes("<html><script>var a = 'x' + 'y'; function f(b) { return b; }</script>\n"));
  const std::string first = Str(n.javascript());
  n.Run(Bytes("<html><p>nothing</p>\n"));
  EXPECT_EQ(Str(n.javascript()), "");
  n.Run(Bytes("<html><script>var a = 'x' + 'y'; function f(b) { return b; }</script>\n"));
  EXPECT_EQ(Str(n.javascript()), first);
}

TEST(JsNorm, HostileInputStaysWithinBudgets) {
  // Many tokens: cut at kMaxTokens, reported as truncated.
  std::string many = "<html><script>";
  for (size_t i = 0; i < JsNormalizer::kMaxTokens / 2 + 10; ++i) many += "a;";
  many += "</script>\n";
  HtmlNormalizer n;
  n.Run(Bytes(many));
  EXPECT_TRUE(n.javascript_truncated());
  EXPECT_LE(n.javascript().size(), 2 * JsNormalizer::kMaxTokens + 64);
  // Deeply nested functions: every name looked up through every scope.
  std::string deep = "<html><script>var x;";  // (a name declared nowhere is not looked up)
  for (int i = 0; i < 20000; ++i) deep += "function(){";
  for (int i = 0; i < 20000; ++i) deep += "x;";
  deep += "</script>\n";
  n.Run(Bytes(deep));
  EXPECT_TRUE(n.javascript_truncated());
  // Nested eval: each level is decoded once.
  std::string nested = "eval(\"x=1\")";
  for (int i = 0; i < 6; ++i) {
    std::string esc;
    for (char c : nested) esc += c == '"' ? std::string("\\\"") : std::string(1, c);
    nested = "eval(\"" + esc + "\")";
  }
  n.Run(Bytes("<html><script>" + nested + "</script>\n"));
  EXPECT_FALSE(n.javascript_truncated());
  // Many decoder calls in a long block: each would move the whole tail; the work budget
  // ends it early instead of taking minutes.
  std::string evals = "<html><script>";
  for (int i = 0; i < 5000; ++i) evals += "eval(\"x\");";
  for (int i = 0; i < 300000; ++i) evals += "a;";
  evals += "</script>\n";
  n.Run(Bytes(evals));
  EXPECT_TRUE(n.javascript_truncated());
  // unescape() folding is one pass, however many calls.
  std::string unesc = "<html><script>";
  for (int i = 0; i < 200000; ++i) unesc += "unescape(\"%41\");";
  unesc += "</script>\n";
  n.Run(Bytes(unesc));
  EXPECT_FALSE(n.javascript_truncated());
  EXPECT_EQ(Str(n.javascript()).substr(0, 20), "<script>\"a\";\"a\";\"a\";");
}

}  // namespace
}  // namespace avkey::engine
