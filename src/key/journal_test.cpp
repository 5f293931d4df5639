// The journal: what the writer appends, and every tampering `journal verify` must name.
#include "avkey/key/journal.h"

#include <gtest/gtest.h>

#include <vector>

#include "avkey/key/crypto.h"
#include "key_test_util.h"

namespace avkey::key {
namespace {

using testing::MakeKey;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteFile;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = MakeKey(dir_);
    path_ = JournalPath(key_.root);
  }
  // Appends `n` records in one writer session.
  void Write(int n, const std::string& scan = "S-0000000000000001") {
    auto w = JournalWriter::Open(platform::Env::Default(), key_, "D-test");
    ASSERT_TRUE(w.has_value()) << w.error();
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE((*w)->Append(scan, "detection", {{"path", "/f" + std::to_string(i)}, {"n", i}}, i % 2 == 0).ok());
    }
  }
  JournalCheck Check() {
    auto c = CheckJournal(path_, key_.key_id, key_.secret);
    EXPECT_TRUE(c.has_value());
    return c ? *c : JournalCheck{};
  }
  // The single problem found, as "kind@seq".
  std::string OnlyProblem() {
    JournalCheck c = Check();
    std::string all;
    for (const auto& p : c.problems) all += p.kind + "@" + std::to_string(p.seq) + "(" + p.detail + ") ";
    EXPECT_EQ(c.problems.size(), 1u) << all;
    return c.problems.empty() ? "" : c.problems[0].kind + "@" + std::to_string(c.problems[0].seq);
  }
  TempDir dir_;
  KeyInfo key_;
  std::string path_;
};

TEST_F(JournalTest, RecordsFollowTheGrammarAndChain) {
  Write(3);
  Write(2, "S-0000000000000002");  // a second session continues seq and chain
  JournalCheck c = Check();
  EXPECT_TRUE(c.problems.empty());
  ASSERT_EQ(c.records.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(c.records[i].seq, i + 1);
  EXPECT_EQ(c.records[0].prev, JournalGenesis(key_.key_id));
  EXPECT_EQ(c.records[3].prev, Sha256Hex(c.records[2].line));
  EXPECT_EQ(c.records[4].scan, "S-0000000000000002");
  EXPECT_EQ(c.records[1].payload["path"], "/f1");
  // The MAC covers the exact bytes before ,"mac":
  const std::string& l = c.records[0].line;
  EXPECT_EQ(HmacSha256Hex(key_.secret, l.substr(0, l.find(",\"mac\":"))), c.records[0].mac);
  EXPECT_EQ(l.rfind("{\"seq\":1,\"time\":\"", 0), 0u) << l;
  EXPECT_EQ(c.exit_status(), 0);
}

TEST_F(JournalTest, OneWriterPerKey) {
  auto w1 = JournalWriter::Open(platform::Env::Default(), key_, "D-test");
  ASSERT_TRUE(w1.has_value());
  auto w2 = JournalWriter::Open(platform::Env::Default(), key_, "D-test");
  ASSERT_FALSE(w2.has_value());
  EXPECT_NE(w2.error().find("another avkey"), std::string::npos);
}

TEST_F(JournalTest, EditedFieldIsNamed) {
  Write(5);
  auto lines = Lines(ReadAll(path_));
  size_t at = lines[2].find("/f2");
  lines[2].replace(at, 3, "/f9");
  WriteFile(path_, Join(lines));
  EXPECT_EQ(OnlyProblem(), "bad-mac@3");
}

TEST_F(JournalTest, EditWithTheSecretStillBreaksTheChain) {
  Write(5);
  auto lines = Lines(ReadAll(path_));
  // Whoever holds key.secret can recompute record 3's MAC, not record 4's prev.
  std::string l = lines[2];
  l.replace(l.find("/f2"), 3, "/f9");
  std::string covered = l.substr(0, l.find(",\"mac\":"));
  lines[2] = covered + ",\"mac\":\"" + HmacSha256Hex(key_.secret, covered) + "\"}";
  WriteFile(path_, Join(lines));
  EXPECT_EQ(OnlyProblem(), "broken-chain@4");
}

// Found by journal_fuzz: a journal_repair whose "offset" is a string threw out of the reader
// (`avkey journal verify` and the console's import died). It is now a repair that
// acknowledges nothing, and the record is judged like any other.
TEST_F(JournalTest, RepairWithWrongTypesIsNotACrash) {
  Write(2);
  auto lines = Lines(ReadAll(path_));
  std::string l = lines[1];
  size_t type = l.find("\"type\":\"");
  size_t payload_end = l.find(",\"prev\":");
  ASSERT_NE(type, std::string::npos);
  l = l.substr(0, type) + "\"type\":\"journal_repair\",\"payload\":{\"offset\":\"x\",\"length\":-1,\"sha256\":7}" +
      l.substr(payload_end);
  std::string covered = l.substr(0, l.find(",\"mac\":"));
  lines[1] = covered + ",\"mac\":\"" + HmacSha256Hex(key_.secret, covered) + "\"}";
  WriteFile(path_, Join(lines));
  JournalCheck c = Check();
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[1].type, "journal_repair");
  EXPECT_EQ(c.exit_status(), 0) << "MAC and chain are intact; the repair names no tear";
  lines.insert(lines.begin() + 1, "{\"torn");
  WriteFile(path_, Join(lines));
  EXPECT_NE(Check().exit_status(), 0) << "a repair with wrong types acknowledges nothing";
}

TEST_F(JournalTest, DeletedRecordIsNamed) {
  Write(5);
  auto lines = Lines(ReadAll(path_));
  lines.erase(lines.begin() + 2);
  WriteFile(path_, Join(lines));
  JournalCheck c = Check();
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].kind, "seq-gap");
  EXPECT_NE(c.problems[0].detail.find("seq 3 is missing"), std::string::npos) << c.problems[0].detail;
}

TEST_F(JournalTest, DeletedFirstRecordsAreNamed) {
  Write(4);
  auto lines = Lines(ReadAll(path_));
  lines.erase(lines.begin(), lines.begin() + 2);
  WriteFile(path_, Join(lines));
  JournalCheck c = Check();
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_NE(c.problems[0].detail.find("seq 1 to 2 are missing"), std::string::npos) << c.problems[0].detail;
}

TEST_F(JournalTest, ReorderedRecordsAreNamed) {
  Write(5);
  auto lines = Lines(ReadAll(path_));
  std::swap(lines[1], lines[2]);
  WriteFile(path_, Join(lines));
  JournalCheck c = Check();
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].kind, "reordered");
  EXPECT_EQ(c.problems[0].seq, 3u);
  EXPECT_NE(c.problems[0].detail.find("seq 3 and seq 2 swapped"), std::string::npos) << c.problems[0].detail;
}

TEST_F(JournalTest, TruncatedTailIsNamedThenAcknowledged) {
  Write(3);
  std::string text = ReadAll(path_);
  WriteFile(path_, text.substr(0, text.size() - 40));  // cut inside record 3
  JournalCheck c = Check();
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].kind, "torn-tail");
  EXPECT_EQ(c.exit_status(), 2);
  EXPECT_EQ(c.records.size(), 2u);
  // The next writer keeps the torn bytes and says so; the journal is then intact.
  {
    auto w = JournalWriter::Open(platform::Env::Default(), key_, "D-test");
    ASSERT_TRUE(w.has_value());
    EXPECT_TRUE((*w)->repaired());
    ASSERT_TRUE((*w)->Append("S-1", "scan_started", nlohmann::json::object(), true).ok());
  }
  c = Check();
  EXPECT_TRUE(c.problems.empty()) << c.problems[0].kind << " " << c.problems[0].detail;
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_NE(c.notes[0].find("line 3: torn record"), std::string::npos) << c.notes[0];
  ASSERT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.records[2].type, "journal_repair");
  EXPECT_EQ(c.records[2].seq, 3u);
  EXPECT_EQ(c.records[3].seq, 4u);
  EXPECT_NE(ReadAll(path_).find(text.substr(0, text.size() - 40)), std::string::npos) << "torn bytes kept";
}

// The writer's own interrupted repairs (found in review): each must end in an intact
// journal after the next writer, never in a permanent "malformed".
TEST_F(JournalTest, RepairWhoseRecordNeverLandedIsRepairedAgain) {
  Write(2);
  std::string text = ReadAll(path_);
  // A torn record, then only the repair's leading newline made it.
  WriteFile(path_, text + "{\"seq\":3,\"time\"" + "\n");
  Write(1);
  JournalCheck c = Check();
  EXPECT_TRUE(c.problems.empty()) << c.problems[0].kind << ": " << c.problems[0].detail;
  EXPECT_EQ(c.notes.size(), 1u);
}

TEST_F(JournalTest, TornRepairIsAcknowledgedWithTheTearItWasFor) {
  Write(2);
  std::string text = ReadAll(path_);
  WriteFile(path_, text + "{\"seq\":3,\"ti" + "\n" + "{\"seq\":3,\"time\":\"2026");  // tear, torn repair
  Write(1);
  JournalCheck c = Check();
  EXPECT_TRUE(c.problems.empty()) << c.problems[0].kind << ": " << c.problems[0].detail;
  EXPECT_EQ(c.notes.size(), 2u);
  EXPECT_EQ(c.records.back().seq, 5u);  // 2 records, 2 repairs, then the new one
}

TEST_F(JournalTest, RecordMissingOnlyItsNewlineIsCompletedNotCalledTorn) {
  Write(3);
  std::string text = ReadAll(path_);
  WriteFile(path_, text.substr(0, text.size() - 1));
  JournalCheck before = Check();
  ASSERT_EQ(before.problems.size(), 1u);
  EXPECT_EQ(before.problems[0].kind, "torn-tail") << "an unterminated record is not yet a record";
  EXPECT_EQ(before.records.size(), 2u);
  Write(1);
  JournalCheck c = Check();
  EXPECT_TRUE(c.problems.empty()) << c.problems[0].kind << ": " << c.problems[0].detail;
  EXPECT_TRUE(c.notes.empty());
  ASSERT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.records[2].seq, 3u);
  EXPECT_EQ(c.records[3].seq, 4u);
}

TEST_F(JournalTest, TruncationAtARecordBoundaryIsOnlyVisibleToTheConsole) {
  // Documented limit (docs/key-format.md): cutting whole records off the end leaves a
  // valid journal; the console detects it against the last seq it imported.
  Write(3);
  auto lines = Lines(ReadAll(path_));
  lines.pop_back();
  WriteFile(path_, Join(lines));
  JournalCheck c = Check();
  EXPECT_TRUE(c.problems.empty());
  EXPECT_EQ(c.records.back().seq, 2u);
}

TEST_F(JournalTest, JournalFromAnotherKeyIsNamed) {
  Write(2);
  TempDir other;
  KeyInfo k2 = MakeKey(other);
  std::filesystem::copy_file(path_, JournalPath(k2.root));
  auto c = CheckJournal(JournalPath(k2.root), k2.key_id, k2.secret);
  ASSERT_TRUE(c.has_value());
  ASSERT_FALSE(c->problems.empty());
  EXPECT_EQ(c->problems[0].kind, "wrong-key");
  EXPECT_NE(c->problems[0].detail.find(key_.key_id), std::string::npos);
}

TEST_F(JournalTest, GarbageLineIsMalformedNotTorn) {
  Write(2);
  auto lines = Lines(ReadAll(path_));
  lines.insert(lines.begin() + 1, "{\"seq\":99}");
  WriteFile(path_, Join(lines));
  EXPECT_EQ(OnlyProblem(), "malformed@0");
}

TEST_F(JournalTest, FullKeyFailsTheAppendAndLeavesAnAcknowledgeableTear) {
  testing::FaultEnv env(3, ENOSPC);  // the 3rd write (2nd record's) lands half
  {
    auto w = JournalWriter::Open(&env, key_, "D-test");
    ASSERT_TRUE(w.has_value());
    ASSERT_TRUE((*w)->Append("S-1", "scan_started", nlohmann::json::object(), true).ok());
    ASSERT_TRUE((*w)->Append("S-1", "detection", nlohmann::json::object(), true).ok());
    Status s = (*w)->Append("S-1", "detection", nlohmann::json::object(), true);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.message();
    EXPECT_FALSE((*w)->Append("S-1", "scan_finished", nlohmann::json::object(), true).ok()) << "stays failed";
  }
  EXPECT_EQ(Check().exit_status(), 2);
  Write(1);
  JournalCheck c = Check();
  EXPECT_TRUE(c.problems.empty());
  EXPECT_EQ(c.records.back().seq, 4u);  // 2 records, the repair, the new one
}

TEST(JournalLine, RejectsWhatIsNotARecord) {
  for (const char* bad : {"", "{}", "not json", "{\"seq\":1}",
                          "{\"time\":\"x\",\"seq\":1,\"key\":\"k\",\"device\":\"d\",\"scan\":\"s\",\"type\":\"t\","
                          "\"payload\":{},\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\","
                          "\"mac\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"}) {
    EXPECT_FALSE(ParseJournalLine(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace avkey::key
