// .ldb HandlerType in the engine: loading, what a match hands to the caller, and scanning
// bytes as a named type (ScanContext::scan_as). The re-scan itself is src/scan's
// (layers_handler_test.cpp); clamscan's behaviour is in docs/signatures.md.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "avkey/engine/engine.h"

namespace avkey::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

// Typed CL_TYPE_BINARY_DATA by clamscan and avkey (a NUL and no magic).
std::vector<uint8_t> Binary(std::string_view payload) {
  std::string s("\x7f" "AVKH\0\0\0\0", 9);
  for (int i = 0; i < 64; ++i) s += static_cast<char>(i);
  s += payload;
  s += std::string(16, '\0');
  return Bytes(s);
}

std::vector<uint8_t> Text(std::string_view payload) {
  return Bytes(std::string("plain text for the handler test\nline two\n") + std::string(payload) + "\n");
}

// Signature hex of a text (the engine's own encoder).
std::string Hex(std::string_view s) {
  return HexString({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

std::shared_ptr<const Database> Db(const std::string& ldb, const std::string& ndb, LoadReport* report = nullptr) {
  DatabaseBuilder b;
  if (!ldb.empty()) {
    EXPECT_TRUE(b.AddSource("t.ldb", ldb, false).ok());
  }
  if (!ndb.empty()) {
    EXPECT_TRUE(b.AddSource("t.ndb", ndb, false).ok());
  }
  auto db = b.Build();
  EXPECT_TRUE(db.has_value()) << (db ? "" : db.error());
  if (report) *report = (*db)->report();
  return *db;
}

struct Result {
  std::vector<std::string> found;
  std::vector<HandlerMatch> handlers;
};

Result ScanAs(const std::shared_ptr<const Database>& db, const std::vector<uint8_t>& data, std::string_view as = {}) {
  Scanner s(db);
  std::vector<Detection> out;
  ScanContext ctx;
  ctx.scan_as = as;
  EXPECT_TRUE(s.Scan(data, ctx, &out).ok());
  Result r;
  for (const auto& d : out) r.found.push_back(d.name);
  r.handlers.assign(s.handler_matches().begin(), s.handler_matches().end());
  return r;
}

const std::string kToPe = "H.ToPe;Engine:51-255,Target:0,HandlerType:CL_TYPE_MSEXE;0;" + Hex("HDLTOPE") + "\n";

TEST(HandlerType, Loads) {
  LoadReport r;
  Db(kToPe, "", &r);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.logical, 1u);
}

TEST(HandlerType, NeedsEngine51LikeClamscan) {
  // clamscan refuses the whole database (exit 2): "all signatures using new attributes
  // must have the Engine attribute present and set to min_level of at least 51".
  for (const char* tdb : {"Target:0,HandlerType:CL_TYPE_MSEXE", "Engine:50-255,Target:0,HandlerType:CL_TYPE_MSEXE"}) {
    LoadReport r;
    Db(std::string("H;") + tdb + ";0;41424344\n", "", &r);
    ASSERT_EQ(r.problems.size(), 1u) << tdb;
    EXPECT_THAT(r.problems[0].reason, HasSubstr("Engine with a minimum level of at least 51"));
    EXPECT_EQ(r.logical, 0u);
  }
}

TEST(HandlerType, UnknownTypeSkipsTheSignatureWithItsReason) {
  // clamscan skips it silently (lsigattribs returns 1); avkey names it, as for Container.
  LoadReport r;
  Db("H;Engine:51-255,Target:0,HandlerType:CL_TYPE_BOGUS;0;41424344\n", "", &r);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_THAT(r.problems[0].reason, HasSubstr("unknown file type 'CL_TYPE_BOGUS' in HandlerType"));
}

TEST(HandlerType, OutsideTheFlevelRangeIsSkippedNotBroken) {
  LoadReport r;
  Db("H;Engine:220-255,Target:0,HandlerType:CL_TYPE_MSEXE;0;41424344\n", "", &r);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.flevel_skipped, 1u);
}

TEST(HandlerType, AMatchOnTextIsHandedOverNotReported) {
  auto db = Db(kToPe, "");
  Result r = ScanAs(db, Text("HDLTOPE"));
  EXPECT_THAT(r.found, IsEmpty());
  EXPECT_THAT(r.handlers, ElementsAre(HandlerMatch{"H.ToPe.UNOFFICIAL", "CL_TYPE_MSEXE"}));
  EXPECT_THAT(ScanAs(db, Text("HDLTOPx")).handlers, IsEmpty());
}

TEST(HandlerType, BinaryDataAlsoReportsIt) {
  // libclamav matches a CL_TYPE_BINARY_DATA layer a second time (CL_TYPE_OTHER) without the
  // layer's hash, which reports the signature [observed: clamscan prints it on a binary file
  // even when Container:CL_TYPE_ANY keeps it from matching in the re-scan].
  auto db = Db(kToPe, "");
  Result r = ScanAs(db, Binary("HDLTOPE"));
  EXPECT_THAT(r.found, ElementsAre("H.ToPe.UNOFFICIAL"));
  EXPECT_EQ(r.handlers.size(), 1u);
}

TEST(HandlerType, TargetSpecificSignaturesComeFirst) {
  // cli_scan_fmap evaluates the target root's signatures, then the generic root's.
  auto db = Db("G;Engine:51-255,Target:0,HandlerType:CL_TYPE_ZIP;0;" + Hex("HDLBOTH") + "\n" +
                   "T;Engine:51-255,Target:1,HandlerType:CL_TYPE_HTML;0;" + Hex("HDLBOTH") + "\n",
               "");
  Result r = ScanAs(db, Binary("HDLBOTH"), "CL_TYPE_MSEXE");
  EXPECT_THAT(r.handlers, ElementsAre(HandlerMatch{"T.UNOFFICIAL", "CL_TYPE_HTML"},
                                      HandlerMatch{"G.UNOFFICIAL", "CL_TYPE_ZIP"}));
}

TEST(HandlerType, ScanAsAPeAppliesTarget1ToAnyBytes) {
  auto db = Db("", "PeOnly:1:*:" + Hex("PEONLYMARK") + "\n");
  EXPECT_THAT(ScanAs(db, Binary("PEONLYMARK")).found, IsEmpty());
  EXPECT_THAT(ScanAs(db, Binary("PEONLYMARK"), "CL_TYPE_MSEXE").found, ElementsAre("PeOnly.UNOFFICIAL"));
  // Re-typed, the bytes are no longer binary data: no second report of a handler match.
  auto h = Db(kToPe, "");
  Result r = ScanAs(h, Binary("HDLTOPE"), "CL_TYPE_MSEXE");
  EXPECT_THAT(r.found, IsEmpty());
  EXPECT_EQ(r.handlers.size(), 1u);
}

TEST(HandlerType, ScanAsHtmlMatchesTheNormalisedBuffers) {
  auto db = Db("", "HtmlOnly:3:*:" + Hex("htmlonlymark") + "\n");
  const auto text = Text("<B>HtmlOnlyMark</b>");
  EXPECT_THAT(ScanAs(db, text).found, IsEmpty());
  EXPECT_THAT(ScanAs(db, text, "CL_TYPE_HTML").found, ElementsAre("HtmlOnly.UNOFFICIAL"));
  // A HandlerType signature matching a normalised buffer is reported (no hash there).
  auto h = Db("H;Engine:51-255,Target:0,HandlerType:CL_TYPE_MSEXE;0;" + Hex("htmlonlymark") + "\n", "");
  Result r = ScanAs(h, text, "CL_TYPE_HTML");
  EXPECT_THAT(r.found, ElementsAre("H.UNOFFICIAL"));
  EXPECT_THAT(r.handlers, IsEmpty());
}

TEST(HandlerType, ScanAsAnyDetectsTheTypeAgain) {
  auto db = Db("", "PeOnly:1:*:" + Hex("PEONLYMARK") + "\n");
  EXPECT_THAT(ScanAs(db, Binary("PEONLYMARK"), "CL_TYPE_ANY").found, IsEmpty());
  auto h = Db(kToPe, "");
  EXPECT_THAT(ScanAs(h, Binary("HDLTOPE"), "CL_TYPE_ANY").found, ElementsAre("H.ToPe.UNOFFICIAL"));
}

TEST(HandlerType, AllowListedLayerHandsNothingOver) {
  const auto data = Text("HDLTOPE");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr), 1);
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("t.ldb", kToPe, false).ok());
  ASSERT_TRUE(b.AddSource("t.fp", HexString({md, len}) + ":" + std::to_string(data.size()) + ":Fp\n", false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value());
  Scanner s(*db);
  std::vector<Detection> out;
  ASSERT_TRUE(s.Scan(data, {}, &out).ok());
  EXPECT_THAT(s.handler_matches(), IsEmpty());
  ASSERT_TRUE(s.Scan(Text("HDLTOPE and other bytes"), {}, &out).ok());
  EXPECT_EQ(s.handler_matches().size(), 1u);
  // A later Scan() of other bytes forgets the previous matches.
  ASSERT_TRUE(s.Scan(Text("nothing here"), {}, &out).ok());
  EXPECT_THAT(s.handler_matches(), IsEmpty());
}

TEST(HandlerType, ScanAsLeavesNoStateBehind) {
  // A re-scan is the same bytes scanned again as another type; the next layer must match
  // as if it had not happened.
  auto db = Db("Z;Engine:51-255,Target:0,HandlerType:CL_TYPE_ZIP;0;" + Hex("HDLSAME") + "\n",
               "Body:0:*:" + Hex("BODYMARK") + "\n");
  const auto outer = Binary("HDLSAME BODYMARK");
  const auto inner = Binary("BODYMARK");
  EXPECT_THAT(ScanAs(db, inner).found, ElementsAre("Body.UNOFFICIAL"));
  Scanner s(db);
  std::vector<Detection> out;
  for (std::string_view as : {"", "CL_TYPE_ZIP", ""}) {
    ScanContext ctx;
    ctx.scan_as = as;
    ASSERT_TRUE(s.Scan(outer, ctx, &out).ok());
  }
  ASSERT_TRUE(s.Scan(inner, {}, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "Body.UNOFFICIAL");
}

}  // namespace
}  // namespace avkey::engine
