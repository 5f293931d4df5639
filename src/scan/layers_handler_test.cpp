// .ldb HandlerType re-scans in the layer scanner (layers.h): what is reported, how deep,
// and that a signature matching its own re-scan does not recurse. Every expectation here
// was checked against clamscan 1.4.6 (tests/differential/handler_diff.py runs the same
// kinds of case against it).
#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "avkey/engine/engine.h"
#include "scan/layers.h"

namespace avkey::scan {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Signature hex of a text (the engine's own encoder).
std::string Hex(std::string_view s) {
  return engine::HexString({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

std::vector<uint8_t> Binary(std::string_view payload) {
  std::string s("\x7f" "AVKH\0\0\0\0", 9);
  for (int i = 0; i < 64; ++i) s += static_cast<char>(i);
  s += payload;
  s += std::string(16, '\0');
  return {s.begin(), s.end()};
}

std::vector<uint8_t> Text(std::string_view payload) {
  std::string s = "plain text for the handler test\nline two\n" + std::string(payload) + "\n";
  return {s.begin(), s.end()};
}

// A ZIP of `members` (stored), written by libarchive.
std::vector<uint8_t> Zip(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members) {
  std::vector<uint8_t> out(1 << 16);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_set_options(a, "zip:compression=store");
  EXPECT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK);
  for (const auto& [name, data] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    EXPECT_EQ(archive_write_data(a, data.data(), data.size()), static_cast<la_ssize_t>(data.size()));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

std::shared_ptr<const engine::Database> Db(const std::string& ldb, const std::string& ndb) {
  engine::DatabaseBuilder b;
  if (!ldb.empty()) {
    EXPECT_TRUE(b.AddSource("t.ldb", ldb, false).ok());
  }
  if (!ndb.empty()) {
    EXPECT_TRUE(b.AddSource("t.ndb", ndb, false).ok());
  }
  auto db = b.Build();
  EXPECT_TRUE(db.has_value());
  EXPECT_THAT((*db)->report().problems, IsEmpty());
  return *db;
}

FileResults Scan(const std::shared_ptr<const engine::Database>& db, const std::vector<uint8_t>& data,
                 uint32_t max_depth = 16) {
  ArchiveLimits limits;
  limits.max_depth = max_depth;
  LayerScanner ls(db, limits, std::stop_token());
  FileResults out;
  const std::string path = "/f";
  ls.ScanFile(path, "", data, &out);
  return out;
}

// "member/member: signature" for each record (the file's own layer: just the signature).
std::vector<std::string> Found(const FileResults& r) {
  std::vector<std::string> v;
  for (const auto& d : r.detections) {
    std::string s;
    for (const auto& m : d.members) s += m + "/";
    v.push_back(s + d.signature);
  }
  return v;
}

const std::string kToPe = "H.ToPe;Engine:51-255,Target:0,HandlerType:CL_TYPE_MSEXE;0;" + Hex("HDLTOPE") + "\n";
const std::string kPeOnly = "PeOnly:1:*:" + Hex("PEONLYMARK") + "\n";

TEST(LayersHandlerType, ReScanAsAPeFindsWhatOnlyAPeMatches) {
  auto db = Db(kToPe, kPeOnly + "Body:0:*:" + Hex("BODYMARK") + "\n");
  const auto data = Binary("HDLTOPE PEONLYMARK BODYMARK");
  // clamscan --allmatch: Body, PeOnly, Body, H.ToPe, Body, H.ToPe (layer, re-scan, second
  // binary pass); one record each here.
  EXPECT_THAT(Found(Scan(db, data)), UnorderedElementsAre("Body.UNOFFICIAL", "PeOnly.UNOFFICIAL", "H.ToPe.UNOFFICIAL"));
  EXPECT_THAT(Found(Scan(Db("", kPeOnly), data)), IsEmpty());
}

TEST(LayersHandlerType, TextReportsTheSignatureFromItsReScan) {
  auto db = Db(kToPe, kPeOnly);
  EXPECT_THAT(Found(Scan(db, Text("HDLTOPE PEONLYMARK"))),
              UnorderedElementsAre("PeOnly.UNOFFICIAL", "H.ToPe.UNOFFICIAL"));
}

TEST(LayersHandlerType, TheReScanIsInsideTheLayer) {
  // Its Container is the layer's own type, so Container:CL_TYPE_ANY fails there: a text
  // file then reports nothing, binary data reports it from its second pass.
  auto db = Db("R;Engine:51-255,Target:0,Container:CL_TYPE_ANY,HandlerType:CL_TYPE_MSEXE;0;" + Hex("HDLROOT") +
                   "\nInBin;Engine:51-255,Target:0,Container:CL_TYPE_BINARY_DATA;0;" + Hex("HDLROOT") + "\n",
               "");
  EXPECT_THAT(Found(Scan(db, Text("HDLROOT"))), IsEmpty());
  EXPECT_THAT(Found(Scan(db, Binary("HDLROOT"))), UnorderedElementsAre("R.UNOFFICIAL", "InBin.UNOFFICIAL"));
  // A text file's normalised form is matched in a pass of its own without the hash, which
  // reports the signature when its pattern matches there (lower case).
  auto lower = Db("R;Engine:51-255,Target:0,Container:CL_TYPE_ANY,HandlerType:CL_TYPE_MSEXE;0;" + Hex("hdlroot") + "\n",
                  "");
  EXPECT_THAT(Found(Scan(lower, Text("hdlroot"))), ElementsAre("R.UNOFFICIAL"));
  EXPECT_THAT(Found(Scan(lower, Text("HDLROOT"))), ElementsAre("R.UNOFFICIAL"));
}

TEST(LayersHandlerType, TextMatchedOnlyNormalisedIsReportedNotReScanned) {
  // The raw bytes decide the re-scan, the normalised form only reports.
  auto db = Db("P;Engine:51-255,Target:0,HandlerType:CL_TYPE_MSEXE;0;" + Hex("hdlpe") + "\n", kPeOnly);
  EXPECT_THAT(Found(Scan(db, Text("HDLPE PEONLYMARK"))), ElementsAre("P.UNOFFICIAL"));
  EXPECT_THAT(Found(Scan(db, Text("hdlpe PEONLYMARK"))), UnorderedElementsAre("P.UNOFFICIAL", "PeOnly.UNOFFICIAL"));
}

TEST(LayersHandlerType, DepthLimitRefusesTheReScan) {
  auto db = Db(kToPe, kPeOnly);
  FileResults r = Scan(db, Text("HDLTOPE PEONLYMARK"), /*max_depth=*/0);
  EXPECT_THAT(Found(r), IsEmpty());
  ASSERT_EQ(r.incomplete.size(), 1u);
  EXPECT_EQ(r.incomplete[0].code, "limit-depth");
  EXPECT_THAT(Found(Scan(db, Text("HDLTOPE PEONLYMARK"), 1)),
              UnorderedElementsAre("PeOnly.UNOFFICIAL", "H.ToPe.UNOFFICIAL"));
}

TEST(LayersHandlerType, SelfMatchingSignatureReScansOnce) {
  // Re-scanned as the type it already has, the signature matches its own re-scan: that is
  // reported, not re-scanned again (libclamav compares the bytes' hash with the last
  // re-scanned). Two HandlerType signatures: the second is reported on the same bytes.
  auto db = Db("A;Engine:51-255,Target:0,HandlerType:CL_TYPE_ANY;0;" + Hex("HDLSELF") +
                   "\nB;Engine:51-255,Target:0,HandlerType:CL_TYPE_TEXT_ASCII;0;" + Hex("HDLSELF") + "\n",
               "");
  FileResults r = Scan(db, Text("HDLSELF"));
  EXPECT_THAT(Found(r), UnorderedElementsAre("A.UNOFFICIAL", "B.UNOFFICIAL"));
  EXPECT_THAT(r.incomplete, IsEmpty());
}

TEST(LayersHandlerType, MembersAreReScannedAndIdenticalOnesReported) {
  auto db = Db(kToPe, kPeOnly);
  const auto member = Binary("HDLTOPE PEONLYMARK");
  FileResults r = Scan(db, Zip({{"a.bin", member}, {"b.bin", member}}));
  // The stored ZIP holds the marks itself. b.bin has a.bin's bytes, the last re-scanned in
  // this file (its own re-scan is a.bin's child, then a.bin's second pass): reported
  // without a re-scan, so no PeOnly for it [clamscan prints the same names].
  std::set<std::string> names;
  for (const auto& d : r.detections) names.insert(d.signature);
  EXPECT_THAT(names, UnorderedElementsAre("PeOnly.UNOFFICIAL", "H.ToPe.UNOFFICIAL"));
  const auto found = Found(r);
  EXPECT_EQ(std::count(found.begin(), found.end(), "a.bin/PeOnly.UNOFFICIAL"), 1);
  EXPECT_EQ(std::count(found.begin(), found.end(), "b.bin/H.ToPe.UNOFFICIAL"), 1);
}

TEST(LayersHandlerType, ZipReScannedAsZipUnpacksItsMembersAgain) {
  auto db = Db("Z;Engine:51-255,Target:0,HandlerType:CL_TYPE_ZIP;0;" + Hex("HDLSAME") + "\n",
               "Body:0:*:" + Hex("BODYMARK") + "\n");
  // Stored: the ZIP's own bytes hold the mark.
  const std::string mark = "HDLSAME and nothing else";
  auto zip = Zip({{"m.bin", Binary("BODYMARK")}, {"mark.txt", std::vector<uint8_t>(mark.begin(), mark.end())}});
  const FileResults r = Scan(db, zip);
  EXPECT_THAT(r.incomplete, IsEmpty());
  // The members are scanned twice (the file, its re-scan), reported once each.
  EXPECT_THAT(Found(r), UnorderedElementsAre("Body.UNOFFICIAL", "Z.UNOFFICIAL", "m.bin/Body.UNOFFICIAL",
                                             "mark.txt/Z.UNOFFICIAL"));
  EXPECT_EQ(r.members, 4u);
}

}  // namespace
}  // namespace avkey::scan
