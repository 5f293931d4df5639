// Tests of .cvd/.cld containers: built here with libarchive, loaded through the builder.
#include "engine/cvd.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "avkey/engine/engine.h"

namespace avkey::engine {
namespace {

// A tar (gzip'd when `gz`) holding `files`, behind a 512-byte ClamAV-VDB header.
std::string MakeContainer(const std::vector<std::pair<std::string, std::string>>& files, bool gz,
                          bool break_md5 = false) {
  std::vector<char> buf(1 << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_ustar(a);
  if (gz) archive_write_add_filter_gzip(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  std::string body(buf.data(), used);
  unsigned char md[16];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_md5(), nullptr);
  std::string md5 = fmt::format("{:02x}", fmt::join(md, md + 16, ""));
  if (break_md5) md5[0] = md5[0] == '0' ? '1' : '0';
  std::string header = "ClamAV-VDB:29 Nov 2026 10-00 +0000:7:2:216:" + md5 + ":X:avkey-test:1795860000";
  header.resize(512, ' ');
  return header + body;
}

std::vector<std::string> Scan(const std::shared_ptr<const Database>& db, std::string_view data) {
  Scanner s(db);
  std::vector<Detection> out;
  EXPECT_TRUE(s.Scan({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, {}, &out).ok());
  std::vector<std::string> names;
  for (auto& d : out) names.push_back(d.name);
  return names;
}

TEST(Cvd, HeaderFields) {
  auto h = ParseCvdHeader(MakeContainer({{"x.ndb", "A:0:*:414243\n"}}, true));
  ASSERT_TRUE(h.has_value()) << h.error();
  EXPECT_EQ(h->version, 7u);
  EXPECT_EQ(h->signatures, 2u);
  EXPECT_EQ(h->min_flevel, 216u);
  EXPECT_EQ(h->builder, "avkey-test");
  EXPECT_EQ(h->build_time, 1795860000u);
  EXPECT_FALSE(ParseCvdHeader("ClamAV-VDB:short").has_value());
  EXPECT_FALSE(ParseCvdHeader(std::string(600, 'x')).has_value());
}

TEST(Cvd, GzippedAndPlainContainersLoadWithOfficialNames) {
  for (bool gz : {true, false}) {
    DatabaseBuilder b;
    std::string cvd = MakeContainer({{"COPYING", "text"},
                                     {"test.info", "ClamAV-VDB:...\n"},
                                     {"test.ign2", "Ignored.Sig\n"},
                                     {"test.ndb", "Test.Body-1:0:*:41424344\nIgnored.Sig:0:*:45464748\n"}},
                                    gz);
    ASSERT_TRUE(b.AddSource(gz ? "test.cvd" : "test.cld", cvd, false).ok());
    auto db = b.Build();
    ASSERT_TRUE(db.has_value()) << db.error();
    EXPECT_TRUE((*db)->report().problems.empty()) << (*db)->report().problems[0].reason;
    EXPECT_EQ((*db)->report().body, 1u);
    EXPECT_EQ(Scan(*db, "..ABCDEFGH.."), std::vector<std::string>{"Test.Body-1"});
  }
}

TEST(Cvd, CorruptContainerIsReportedAndSkipped) {
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("bad.cvd", MakeContainer({{"t.ndb", "A:0:*:414243\n"}}, true, true), false).ok());
  ASSERT_TRUE(b.AddSource("ok.ndb", "B:0:*:444546\n", false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value());
  ASSERT_EQ((*db)->report().problems.size(), 1u);
  EXPECT_EQ((*db)->report().problems[0].file, "bad.cvd");
  EXPECT_NE((*db)->report().problems[0].reason.find("MD5"), std::string::npos);
  EXPECT_EQ(Scan(*db, "..ABCDEF.."), std::vector<std::string>{"B.UNOFFICIAL"});
  // Truncated body: MD5 mismatch too, never a crash.
  std::string cvd = MakeContainer({{"t.ndb", "A:0:*:414243\n"}}, true);
  EXPECT_FALSE(ReadCvd(cvd.substr(0, cvd.size() - 10)).has_value());
}

}  // namespace
}  // namespace avkey::engine
