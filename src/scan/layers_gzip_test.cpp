// ScanLoneGzip (layers.cpp): a lone gzip member decoded by libdeflate must be scanned
// exactly as libarchive's reading of it would be. Each case scans a .gz twice: as it is
// (libdeflate), and with an empty gzip member appended, which libarchive reads to the same
// content but ScanLoneGzip leaves alone (its member does not fill the input). Detections,
// member chains, container types (an .ldb Container:CL_TYPE_GZ) and incomplete items must
// be the same.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libdeflate.h>

#include <stop_token>
#include <string>
#include <vector>

#include "avkey/engine/engine.h"
#include "scan/layers.h"

namespace avkey::scan {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using Bytes = std::vector<uint8_t>;

Bytes B(std::string_view s) { return {s.begin(), s.end()}; }

std::string Hex(std::string_view s) {
  return engine::HexString({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

Bytes Gzip(const Bytes& data) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  Bytes out(libdeflate_gzip_compress_bound(c, data.size()));
  out.resize(libdeflate_gzip_compress(c, data.data(), data.size(), out.data(), out.size()));
  libdeflate_free_compressor(c);
  EXPECT_FALSE(out.empty());
  return out;
}

Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::shared_ptr<const engine::Database> Db() {
  engine::DatabaseBuilder b;
  EXPECT_TRUE(b.AddSource("t.ndb", "Gz.Body:0:*:" + Hex("GZBODYMARK") + "\n", false).ok());
  EXPECT_TRUE(b.AddSource("t.ldb",
                          "Gz.InGz;Engine:51-255,Target:0,Container:CL_TYPE_GZ;0;" + Hex("GZBODYMARK") + "\n" +
                              "Gz.InZip;Engine:51-255,Target:0,Container:CL_TYPE_ZIP;0;" + Hex("GZBODYMARK") + "\n",
                          false)
                  .ok());
  auto db = b.Build();
  EXPECT_TRUE(db.has_value());
  EXPECT_THAT((*db)->report().problems, IsEmpty());
  return *db;
}

struct Outcome {
  std::vector<std::string> found;       // "member/member/: signature"
  std::vector<std::string> incomplete;  // "member/member/: code"
  uint64_t members = 0;
  uint64_t lone_gzips = 0;
};

Outcome Scan(const Bytes& data, ArchiveLimits limits = {}) {
  static const auto db = Db();
  LayerScanner ls(db, limits, std::stop_token());
  FileResults out;
  const std::string path = "/d/notes.txt.gz";
  ls.ScanFile(path, "", data, &out);
  Outcome o;
  for (const auto& d : out.detections) {
    std::string s;
    for (const auto& m : d.members) s += m + "/";
    o.found.push_back(s + ": " + d.signature);
  }
  for (const auto& i : out.incomplete) {
    std::string s;
    for (const auto& m : i.members) s += m + "/";
    o.incomplete.push_back(s + ": " + i.code);
  }
  std::sort(o.found.begin(), o.found.end());
  o.members = out.members;
  o.lone_gzips = ls.lone_gzips();
  return o;
}

// The .gz as it is against the same content read by libarchive.
Outcome ExpectSameBothWays(const Bytes& gz, const ArchiveLimits& limits = {}) {
  static const Bytes kEmptyMember = Gzip({});
  const Outcome fast = Scan(gz, limits), slow = Scan(Cat(gz, kEmptyMember), limits);
  EXPECT_EQ(slow.lone_gzips, 0u);
  EXPECT_EQ(fast.found, slow.found);
  EXPECT_EQ(fast.incomplete, slow.incomplete);
  EXPECT_EQ(fast.members, slow.members);
  return fast;
}

const Bytes kText = B("release notes\nGZBODYMARK in the second line\nand a third\n");

TEST(LayersLoneGzip, TextIsScannedAsLibarchiveWouldUnderItsName) {
  const Outcome o = ExpectSameBothWays(Gzip(kText));
  EXPECT_EQ(o.lone_gzips, 1u);
  EXPECT_THAT(o.found, ElementsAre("notes.txt/: Gz.Body.UNOFFICIAL", "notes.txt/: Gz.InGz.UNOFFICIAL"));
  EXPECT_THAT(o.incomplete, IsEmpty());
}

TEST(LayersLoneGzip, BinaryAndLargeContent) {
  Bytes big;
  for (uint32_t i = 0; big.size() < (3u << 20); ++i) big.push_back(static_cast<uint8_t>(i * 2654435761u >> 24));
  const Bytes mark = B("GZBODYMARK");
  big.insert(big.begin() + (2u << 20), mark.begin(), mark.end());
  const Outcome o = ExpectSameBothWays(Gzip(big));
  EXPECT_EQ(o.lone_gzips, 1u);
  EXPECT_EQ(o.found.size(), 2u);
}

TEST(LayersLoneGzip, ContentALibarchiveReaderWouldOpenIsLeftToIt) {
  // A gzip of a gzip: libarchive stacks the filters and reads the text as one member.
  const Outcome nested = ExpectSameBothWays(Gzip(Gzip(kText)));
  EXPECT_EQ(nested.lone_gzips, 0u);
  EXPECT_EQ(nested.found.size(), 2u);
}

TEST(LayersLoneGzip, BudgetsAreThoseOfLibarchivesPath) {
  ArchiveLimits shallow;
  shallow.max_depth = 0;
  const Outcome depth = ExpectSameBothWays(Gzip(kText), shallow);
  EXPECT_EQ(depth.lone_gzips, 0u);
  EXPECT_THAT(depth.incomplete, ElementsAre(": limit-depth"));

  Bytes big(3u << 20, 'x');
  ArchiveLimits small;
  small.max_unpacked_bytes = 1u << 20;
  const Outcome unpacked = ExpectSameBothWays(Gzip(big), small);
  EXPECT_EQ(unpacked.lone_gzips, 0u);
  EXPECT_THAT(unpacked.incomplete, ElementsAre("notes.txt/: limit-unpacked"));

  ArchiveLimits one;
  one.max_entries = 1;
  const Outcome entries = ExpectSameBothWays(Gzip(kText), one);
  EXPECT_EQ(entries.lone_gzips, 1u);
  EXPECT_EQ(entries.found.size(), 2u);
}

TEST(LayersLoneGzip, DamageAndLiesAreLeftToLibarchive) {
  const Bytes good = Gzip(kText);
  for (size_t at : {size_t{12}, good.size() / 2, good.size() - 6, good.size() - 2}) {
    Bytes bad = good;
    bad[at] ^= 0x41;  // the data, the CRC or the size
    const Outcome o = Scan(bad);
    EXPECT_EQ(o.lone_gzips, 0u) << at;
  }
  Bytes truncated(good.begin(), good.end() - 3);
  EXPECT_EQ(Scan(truncated).lone_gzips, 0u);
  Bytes trailing = Cat(good, B("trailing bytes"));
  EXPECT_EQ(Scan(trailing).lone_gzips, 0u);
}

}  // namespace
}  // namespace avkey::scan
