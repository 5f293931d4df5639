// Quarantine: inert copy, verified before removal, byte-identical restore, and what a
// full key does to it.
#include "avkey/key/quarantine.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "avkey/key/crypto.h"
#include "key_test_util.h"

namespace avkey::key {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteFile;

std::string Content(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

class QuarantineTest : public ::testing::Test {
 protected:
  std::string Original(const std::string& name, std::string_view data, mode_t mode = 0750) {
    std::string p = dir_ / ("device/" + name);
    WriteFile(p, data);
    ::chmod(p.c_str(), mode);
    timespec times[2] = {{1700000000, 123456789}, {1600000000, 987654321}};
    ::utimensat(AT_FDCWD, p.c_str(), times, 0);
    return p;
  }
  TempDir dir_;  // first: the members below use it
  Quarantine q_{platform::Env::Default(), dir_ / "key/quarantine"};
  QuarantineContext ctx_{"Sig.Test", "D-1", "host", "S-1", "K-1"};
};

TEST_F(QuarantineTest, PutThenRestoreIsByteIdenticalWithModeAndTimes) {
  std::string data = Content(3 * 1024 * 1024 + 17);  // several copy chunks, odd tail
  std::string p = Original("payload.exe", data);
  auto id = q_.Put(p, ctx_);
  ASSERT_TRUE(id.has_value()) << id.error();
  struct stat st;
  EXPECT_NE(::lstat(p.c_str(), &st), 0) << "original removed";
  auto item = q_.Get(*id);
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->record["sha256"], Sha256Hex(data));
  EXPECT_EQ(item->record["size"], data.size());
  EXPECT_EQ(item->record["mode"], "0750");
  EXPECT_EQ(item->record["signature"], "Sig.Test");

  auto back = q_.Restore(*id);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, p);
  ASSERT_EQ(::lstat(p.c_str(), &st), 0);  // before reading it: reading moves atime
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987654321);
  EXPECT_EQ(st.st_atim.tv_sec, 1700000000);
  EXPECT_EQ(ReadAll(p), data);
  EXPECT_EQ(q_.Get(*id)->record["state"], "restored");
}

TEST_F(QuarantineTest, TheCopyIsInert) {
  // A recognisable pattern must appear neither as is nor under any single-byte XOR.
  std::string marker = "THIS-IS-A-MARKER-THAT-A-SCANNER-WOULD-MATCH";
  std::string data = Content(5000) + marker + Content(100);
  auto id = q_.Put(Original("m.bin", data), ctx_);
  ASSERT_TRUE(id.has_value());
  std::string bin = ReadAll(dir_ / ("key/quarantine/" + *id + ".bin"));
  EXPECT_EQ(bin.substr(0, 8), std::string("AVKEYQ1\0", 8));
  EXPECT_EQ(bin.size(), data.size() + 8);
  for (int k = 0; k < 256; ++k) {
    std::string x = marker;
    for (auto& c : x) c = static_cast<char>(c ^ k);
    EXPECT_EQ(bin.find(x), std::string::npos) << "xor key " << k;
  }
  EXPECT_EQ(bin.find("\x7f" "ELF"), std::string::npos);
}

TEST_F(QuarantineTest, RestoreNeverOverwritesAndCanGoElsewhere) {
  std::string p = Original("a.exe", "payload");
  auto id = q_.Put(p, ctx_);
  ASSERT_TRUE(id.has_value());
  WriteFile(p, "new file at the same path");
  auto refused = q_.Restore(*id);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().find("exists; not overwritten"), std::string::npos);
  EXPECT_EQ(ReadAll(p), "new file at the same path");
  auto elsewhere = q_.Restore(*id, dir_ / "restored.exe");
  ASSERT_TRUE(elsewhere.has_value()) << elsewhere.error();
  EXPECT_EQ(ReadAll(dir_ / "restored.exe"), "payload");
}

TEST_F(QuarantineTest, RestoreDoesNotTrustTheRecord) {
  std::string p = Original("tool", "payload", 06755);
  auto id = q_.Put(p, ctx_);  // ctx_.device is "D-1"
  ASSERT_TRUE(id.has_value());
  auto other = q_.Restore(*id, "", "D-2");
  ASSERT_FALSE(other.has_value());
  EXPECT_NE(other.error().find("quarantined on device D-1"), std::string::npos) << other.error();
  auto back = q_.Restore(*id, "", "D-1");
  ASSERT_TRUE(back.has_value()) << back.error();
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "setuid/setgid never restored";
  // A record rewritten on the key to point somewhere relative is refused.
  std::string jpath = dir_ / ("key/quarantine/" + *id + ".json");
  auto rec = nlohmann::json::parse(ReadAll(jpath));
  rec["original_path"] = "relative/evil";
  rec["state"] = "quarantined";
  WriteFile(jpath, rec.dump());
  EXPECT_FALSE(q_.Restore(*id, "", "D-1").has_value());
}

// Found by quarantine_fuzz: a record member of the wrong type ("mode": 493 instead of
// "0755") threw from inside Restore() and killed `avkey quarantine restore`. Every member is
// now checked when the record is read, and the problem is named.
TEST_F(QuarantineTest, RecordWithWrongTypesIsANamedProblem) {
  auto id = q_.Put(Original("a.exe", "payload"), ctx_);
  ASSERT_TRUE(id.has_value());
  std::string jpath = dir_ / ("key/quarantine/" + *id + ".json");
  const auto good = nlohmann::json::parse(ReadAll(jpath));
  const std::pair<const char*, nlohmann::json> bad[] = {
      {"mode", 493},           {"uid", "root"},         {"atime", "yesterday"}, {"mtime", {{"sec", 1}, {"nsec", -1}}},
      {"size", "40"},          {"sha256", "00"},        {"original_path", 7},   {"state", nullptr},
      {"gid", 1ull << 40},     {"signature", {1, 2}},
  };
  for (const auto& [member, value] : bad) {
    auto rec = good;
    rec[member] = value;
    WriteFile(jpath, rec.dump());
    std::vector<std::string> problems;
    EXPECT_TRUE(q_.List(&problems).empty()) << member;
    ASSERT_EQ(problems.size(), 1u) << member;
    EXPECT_NE(problems[0].find(std::string("'") + member), std::string::npos) << problems[0];
    auto r = q_.Restore(*id, dir_ / "elsewhere");
    ASSERT_FALSE(r.has_value()) << member;
    EXPECT_NE(r.error().find(member), std::string::npos) << r.error();
  }
  WriteFile(jpath, good.dump());
  EXPECT_TRUE(q_.Restore(*id, dir_ / "elsewhere").has_value());
}

TEST_F(QuarantineTest, DamagedCopyIsNotRestored) {
  auto id = q_.Put(Original("a.exe", Content(1000)), ctx_);
  ASSERT_TRUE(id.has_value());
  std::string binp = dir_ / ("key/quarantine/" + *id + ".bin");
  std::string bin = ReadAll(binp);
  bin[500] ^= 1;
  WriteFile(binp, bin);
  auto r = q_.Restore(*id);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("does not match its record"), std::string::npos) << r.error();
  struct stat st;
  EXPECT_NE(::lstat((dir_ / "device/a.exe").c_str(), &st), 0) << "nothing half-restored";
}

TEST_F(QuarantineTest, ListAndPurge) {
  auto a = q_.Put(Original("a", "1"), ctx_);
  auto b = q_.Put(Original("b", "2"), ctx_);
  ASSERT_TRUE(a && b);
  std::vector<std::string> problems;
  EXPECT_EQ(q_.List(&problems).size(), 2u);
  ASSERT_TRUE(q_.Purge(*a).ok());
  auto left = q_.List(&problems);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, *b);
  EXPECT_TRUE(problems.empty());
  EXPECT_FALSE(q_.Get("../../etc/passwd").has_value()) << "ids are checked, not joined blindly";
}

TEST_F(QuarantineTest, FullKeyLosesNothing) {
  // Every write from the first to the fifth fails in turn: the original always stays,
  // and no partial copy or record is left behind.
  std::string data = Content(3 * 1024 * 1024);
  for (int fail_at = 1; fail_at <= 5; ++fail_at) {
    std::string p = Original("big.exe", data);
    testing::FaultEnv env(fail_at, ENOSPC);
    Quarantine q(&env, dir_ / "key/quarantine");
    auto id = q.Put(p, ctx_);
    if (id.has_value()) {
      // Past the last write: a complete quarantine.
      EXPECT_GE(fail_at, 5);
      EXPECT_EQ(ReadAll(dir_ / ("key/quarantine/" + *id + ".bin")).size(), data.size() + 8);
      continue;
    }
    EXPECT_NE(id.error().find("No space left"), std::string::npos) << id.error();
    EXPECT_EQ(ReadAll(p), data) << "fail at write " << fail_at;
    std::vector<std::string> problems;
    EXPECT_TRUE(q.List(&problems).empty());
    EXPECT_TRUE(std::filesystem::is_empty(dir_ / "key/quarantine")) << "fail at write " << fail_at;
  }
}

TEST_F(QuarantineTest, OnlyRegularFilesNeverThroughSymlinks) {
  std::string target = Original("real", "data");
  std::string link = dir_ / "device/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_FALSE(q_.Put(link, ctx_).has_value());
  EXPECT_EQ(ReadAll(target), "data");
  EXPECT_FALSE(q_.Put(dir_ / "device", ctx_).has_value());
  EXPECT_FALSE(q_.Put(dir_ / "device/missing", ctx_).has_value());
}

TEST_F(QuarantineTest, ChangedFileIsLeftInPlace) {
  std::string p = Original("a", "scanned content");
  auto id = q_.Put(p, ctx_, Sha256Hex("other content"));
  ASSERT_FALSE(id.has_value());
  EXPECT_NE(id.error().find("changed since it was scanned"), std::string::npos);
  EXPECT_EQ(ReadAll(p), "scanned content");
}

}  // namespace
}  // namespace avkey::key

namespace avkey::key {
namespace {

TEST(QuarantineRecover, RemovesOnlyUnfinishedWork) {
  testing::TempDir dir;
  std::string q = dir / "q";
  Quarantine quarantine(platform::Env::Default(), q);
  testing::WriteFile(dir / "dev/f", "data");
  auto id = quarantine.Put(dir / "dev/f", {});
  ASSERT_TRUE(id.has_value());
  testing::WriteFile(q + "/Q-20260101T000000Z-00000000.bin", "orphan copy");
  testing::WriteFile(q + "/Q-20260101T000000Z-00000001.bin.tmp", "half copy");
  testing::WriteFile(q + "/Q-20260101T000000Z-00000002.json.tmp-123", "half record");
  testing::WriteFile(q + "/notes.txt", "not ours");
  EXPECT_EQ(quarantine.Recover(), 3);
  std::vector<std::string> problems;
  ASSERT_EQ(quarantine.List(&problems).size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(q + "/" + *id + ".bin"));
  EXPECT_TRUE(std::filesystem::exists(q + "/notes.txt"));
  EXPECT_EQ(quarantine.Recover(), 0);
}

}  // namespace
}  // namespace avkey::key
