// The key pulled out mid-scan, or failing with EIO or ENOSPC, at every operation in turn
// (issue 7, DESIGN.md §5): whatever operation the key dies at, every original file is in
// place or byte-identical in the quarantine, the journal verifies (a torn tail at most), the
// report names the trouble, and the next run, key back, acknowledges the tear and goes on.
// The same for the signature store: a publish cut at any operation leaves a verified
// generation in use and nothing half-written that a later publish does not clear.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "avkey/engine/engine.h"
#include "avkey/key/crypto.h"
#include "avkey/key/journal.h"
#include "avkey/key/quarantine.h"
#include "avkey/key/session.h"
#include "avkey/key/store.h"
#include "avkey/scan/scan.h"
#include "key/key_test_util.h"

namespace avkey::key {
namespace {
namespace fs = std::filesystem;
using testing::ReadAll;
using testing::TempDir;
using testing::VanishingEnv;
using testing::WriteFile;

const std::string kEicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
const std::string kPolicy =
    "[action]\non_detection = \"quarantine\"\nkeep_copy = true\n"
    "[inventory]\nenabled = true\n";

std::shared_ptr<const engine::Database> Db() {
  static std::shared_ptr<const engine::Database> db = [] {
    engine::DatabaseBuilder b;
    EXPECT_TRUE(engine::AddBuiltinSignatures(&b).ok());
    auto built = b.Build();
    EXPECT_TRUE(built.has_value()) << (built ? "" : built.error());
    return built ? *built : nullptr;
  }();
  return db;
}

// A key with a signed quarantine policy and one generation, and a device tree with four
// infected files (one of 3 MiB, so its copy takes several writes) among clean ones.
struct Rig {
  TempDir dir;
  std::string root = dir / "key";
  std::map<std::string, std::string> planted;  // path -> content

  Rig() {
    testing::MakeKey(dir);
    platform::Env* env = platform::Env::Default();
    EXPECT_TRUE(SignPolicy(env, root, dir / "signer", kPolicy).ok());
    WriteFile(dir / "sigs/site.ndb", "Site.Test.Marker:0:*:61766b6579206661756c742074657374\n");
    auto gen = PublishGeneration(env, root, dir / "signer", {dir / "sigs/site.ndb"}, std::chrono::system_clock::now());
    EXPECT_TRUE(gen.has_value()) << (gen ? "" : gen.error());
    std::string big(3 << 20, 'x');
    big.replace(0, kEicar.size(), kEicar);  // the built-in EICAR signature is anchored at 0
    planted = {{dir / "device/a.com", kEicar},
               {dir / "device/sub/b.txt", kEicar + "\ntrailer\n"},
               {dir / "device/sub/deeper/big.bin", big},
               {dir / "device/c.dat", kEicar + std::string(70000, '\0')}};
    for (const auto& [path, content] : planted) WriteFile(path, content);
    WriteFile(dir / "device/clean.txt", "nothing to see");
    WriteFile(dir / "device/sub/clean.bin", std::string(5000, '\x7f'));
  }

  // One whole key scan through `env`, as RunKeyScan does it. Returns nullopt when the
  // session could not even open (no journal: the scan does not start).
  std::optional<scan::ScanReport> Scan(platform::Env* env) {
    SessionOptions so;
    so.root = root;
    so.paths = {dir / "device"};
    so.jobs = 1;
    auto ks = KeySession::Open(env, so);
    if (!ks) return std::nullopt;
    EXPECT_EQ((*ks)->refusal(), "");
    (void)(*ks)->Start(Db()->identity(), Db()->report().total());
    scan::ScanReport report = scan::RunScan((*ks)->MakeScanOptions(), Db(), (*ks)->Sink(nullptr));
    (*ks)->Finish(&report);
    return report;
  }

  JournalCheck Journal() {
    auto k = OpenKey(root);
    EXPECT_TRUE(k.has_value());
    auto c = CheckJournal(JournalPath(root), k->key_id, k->secret);
    EXPECT_TRUE(c.has_value()) << (c ? "" : c.error());
    return c ? *c : JournalCheck{};
  }

  // Every planted file is in place, unchanged, or restorable byte-identical from the
  // quarantine (restored elsewhere, to leave the key's state as it is).
  void ExpectNothingLost(const std::string& when) {
    Quarantine q(platform::Env::Default(), root + "/quarantine");
    std::vector<std::string> problems;
    auto items = q.List(&problems);
    EXPECT_TRUE(problems.empty()) << when << ": " << problems.front();
    int restored = 0;
    for (const auto& [path, content] : planted) {
      if (fs::exists(path)) {
        EXPECT_EQ(ReadAll(path), content) << when << ": " << path << " changed in place";
        continue;
      }
      std::string sha = Sha256Hex(content);
      auto it = std::find_if(items.begin(), items.end(),
                             [&](const QuarantineItem& i) { return i.record.value("sha256", "") == sha; });
      ASSERT_NE(it, items.end()) << when << ": " << path << " is gone and not in the quarantine";
      std::string to = dir / ("restored-" + std::to_string(restored++));
      auto back = q.Restore(it->id, to);
      ASSERT_TRUE(back.has_value()) << when << ": " << back.error();
      EXPECT_EQ(ReadAll(to), content) << when << ": " << path << " restored differently";
      fs::remove(to);
    }
  }

  // Names on the key that an interrupted write leaves behind.
  std::vector<std::string> Leftovers() {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      std::string name = e.path().filename().string();
      if (name.find(".tmp") != std::string::npos) out.push_back(e.path().string());
    }
    return out;
  }
};

bool Named(const scan::ScanReport& r) {
  if (!r.incomplete.empty()) return true;
  return std::any_of(r.detections.begin(), r.detections.end(),
                     [](const scan::DetectionRecord& d) { return d.action_result == "failed"; });
}

// Cuts the key at operation 1, 1 + stride, 1 + 2 * stride... of a whole quarantining scan.
void KeyDiesAtEveryOperation(int err, int stride) {
  ASSERT_NE(Db(), nullptr);
  int total = 0;
  {
    Rig rig;
    VanishingEnv counting(rig.root, 0);
    auto report = rig.Scan(&counting);
    ASSERT_TRUE(report.has_value());
    EXPECT_EQ(report->detections.size(), 4u);
    EXPECT_TRUE(report->incomplete.empty()) << report->incomplete.front().reason;
    EXPECT_EQ(report->counts.detections, 4u);
    total = counting.ops();
    ASSERT_GT(total, 20) << "the scan should make many writes to the key";
    // Each action record names the hash of the file it removed (docs/key-format.md).
    std::set<std::string> acted, planted;
    for (const auto& [path, content] : rig.planted) planted.insert(Sha256Hex(content));
    for (const auto& r : rig.Journal().records) {
      if (r.type == "action") acted.insert(r.payload.value("sha256", ""));
    }
    EXPECT_EQ(acted, planted);
  }
  int interrupted = 0;
  for (int n = 1; n <= total; n += stride) {
    std::string when = "key gone at operation " + std::to_string(n) + " of " + std::to_string(total) + " (" +
                       std::strerror(err) + ")";
    Rig rig;
    VanishingEnv env(rig.root, n, err);
    auto report = rig.Scan(&env);
    if (report) {
      EXPECT_TRUE(Named(*report)) << when << ": the report does not say the key failed";
      bool all_done = std::all_of(report->detections.begin(), report->detections.end(),
                                  [](const scan::DetectionRecord& d) { return d.resolved(); });
      EXPECT_FALSE(all_done && report->incomplete.empty()) << when;
    }
    interrupted += report.has_value();
    // The key is back.
    int status = rig.Journal().exit_status();
    EXPECT_TRUE(status == 0 || status == 2) << when << ": journal exit status " << status;
    rig.ExpectNothingLost(when);
    auto next = rig.Scan(platform::Env::Default());
    ASSERT_TRUE(next.has_value()) << when;
    for (const auto& i : next->incomplete) ADD_FAILURE() << when << ": next scan: " << i.reason;
    JournalCheck after = rig.Journal();
    EXPECT_EQ(after.exit_status(), 0) << when << ": " << after.problems.front().kind;
    if (status == 2) {
      EXPECT_TRUE(std::any_of(after.records.begin(), after.records.end(),
                              [](const JournalRecord& r) { return r.type == "journal_repair"; }))
          << when << ": the tear is not acknowledged";
    }
    rig.ExpectNothingLost(when + ", after the next scan");
    EXPECT_EQ(rig.Leftovers(), std::vector<std::string>{}) << when;
    for (const auto& [path, content] : rig.planted) EXPECT_FALSE(fs::exists(path)) << when << ": " << path;
    if (::testing::Test::HasFailure()) return;  // one round's story is enough to read
  }
  EXPECT_GT(interrupted, 0);
}

TEST(KeyFaults, KeyPulledMidScanLosesNothing) { KeyDiesAtEveryOperation(EIO, 1); }
// The same paths with another errno: every third operation is enough.
TEST(KeyFaults, FullKeyMidScanLosesNothing) { KeyDiesAtEveryOperation(ENOSPC, 3); }

TEST(KeyFaults, PublishCutAtEveryOperationKeepsAVerifiedGeneration) {
  int total = 0;
  for (int n = 0; n == 0 || n <= total; ++n) {
    std::string when = "publish cut at operation " + std::to_string(n);
    TempDir dir;
    KeyInfo k = testing::MakeKey(dir);
    platform::Env* env = platform::Env::Default();
    WriteFile(dir / "v1.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Old.Sig\n");
    WriteFile(dir / "v2.hdb", "44d88612fea8a8f36de82e1278abb02f:68:New.Sig\n");
    auto now = std::chrono::system_clock::now();
    ASSERT_TRUE(PublishGeneration(env, k.root, dir / "signer", {dir / "v1.hdb"}, now).has_value());
    VanishingEnv cut(k.root, n, EIO);
    auto published = PublishGeneration(&cut, k.root, dir / "signer", {dir / "v2.hdb"}, now);
    if (n == 0) {
      ASSERT_TRUE(published.has_value()) << published.error();
      total = cut.ops();
      continue;
    }
    auto active = SelectGeneration(k);
    ASSERT_TRUE(active.has_value()) << when << ": " << active.error();
    EXPECT_TRUE(active->generation.number == 1 || active->generation.number == 2) << when;
    if (published) {
      EXPECT_EQ(active->generation.number, 2) << when;
    }
    // The next publish, key back, succeeds and leaves nothing half-written.
    auto again = PublishGeneration(env, k.root, dir / "signer", {dir / "v2.hdb"}, now);
    ASSERT_TRUE(again.has_value()) << when << ": " << again.error();
    EXPECT_EQ(SelectGeneration(k)->generation.number, *again);
    for (const auto& e : fs::directory_iterator(k.root + "/signatures")) {
      std::string name = e.path().filename().string();
      EXPECT_EQ(name.find(".tmp"), std::string::npos) << when << ": left " << name;
    }
  }
  EXPECT_GT(total, 5);
}

// A killed process leaves NAME.tmp-PID files and .gen-N.tmp-PID directories; the next scan
// removes those older than ten minutes, never a fresh one (a write may be in progress).
TEST(KeyFaults, LeftoversOfKilledWritesAreRemovedWhenStale) {
  TempDir dir;
  KeyInfo k = testing::MakeKey(dir);
  const std::vector<std::string> stale = {k.root + "/avkey.toml.tmp-4242", k.root + "/signatures/current.tmp-77",
                                          k.root + "/inventory/D-1/S-1.json.gz.tmp-9"};
  const std::vector<std::string> kept = {k.root + "/signatures/current.tmp-78", k.root + "/inventory/D-1/S-2.json.gz",
                                         k.root + "/notes.tmp-x"};
  for (const auto& p : stale) WriteFile(p, "partial");
  for (const auto& p : kept) WriteFile(p, "keep");
  fs::create_directories(k.root + "/signatures/.gen-3.tmp-4242");
  WriteFile(k.root + "/signatures/.gen-3.tmp-4242/main.hdb", "partial");
  auto age = [](const std::string& p) {
    timespec old[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 3600, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), old, AT_SYMLINK_NOFOLLOW), 0) << p;
  };
  for (const auto& p : stale) age(p);
  age(k.root + "/signatures/.gen-3.tmp-4242");
  age(k.root + "/notes.tmp-x");
  EXPECT_EQ(RemoveStaleTemporaries(k.root, std::chrono::minutes(10)), 4);
  for (const auto& p : stale) EXPECT_FALSE(fs::exists(p)) << p;
  EXPECT_FALSE(fs::exists(k.root + "/signatures/.gen-3.tmp-4242"));
  for (const auto& p : kept) EXPECT_TRUE(fs::exists(p)) << p;

  // A device made inventory/ a symlink to somewhere else: nothing there is touched.
  std::string elsewhere = dir / "elsewhere";
  WriteFile(elsewhere + "/D-9/victim.tmp-1", "not the key's");
  age(elsewhere + "/D-9/victim.tmp-1");
  fs::remove_all(k.root + "/inventory");
  fs::create_directory_symlink(elsewhere, k.root + "/inventory");
  EXPECT_EQ(RemoveStaleTemporaries(k.root, std::chrono::minutes(10)), 0);
  EXPECT_TRUE(fs::exists(elsewhere + "/D-9/victim.tmp-1"));
}

}  // namespace
}  // namespace avkey::key
