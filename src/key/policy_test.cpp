// The policy parser and its signature check; the signature store's generations.
#include "avkey/key/policy.h"

#include <gtest/gtest.h>

#include "avkey/key/crypto.h"
#include "avkey/key/store.h"
#include "key_test_util.h"

namespace avkey::key {
namespace {

using testing::MakeKey;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteFile;

TEST(Policy, EmptyTextGivesSafeDefaults) {
  auto p = ParsePolicy("");
  ASSERT_TRUE(p.has_value()) << p.error();
  EXPECT_EQ(p->action, Action::kReport);
  EXPECT_EQ(p->targets, std::vector<std::string>{"auto"});
  EXPECT_EQ(p->max_age_days, 30u);
  EXPECT_TRUE(p->keep_copy);
  EXPECT_EQ(p->limits.max_depth, 16u);
}

TEST(Policy, EverySettingIsRead) {
  auto p = ParsePolicy(R"(
[scan]
targets = ["/opt", "/home"]
exclude = ["*.iso"]
max_filesize = "2G"
one_file_system = false
[archive]
max_depth = 3
max_unpacked = 1048576
max_entries = 50
max_ratio = 20
max_scantime_ms = 5000
[action]
on_detection = "remove"
keep_copy = false
[signatures]
max_age_days = 7
[inventory]
enabled = false
file_hashes = true
[operator]
asset_tag = "required"
[indicator]
hook = "bin/led"
hook_sha256 = "4f2b8a3c9d0e1f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
)");
  ASSERT_TRUE(p.has_value()) << p.error();
  EXPECT_EQ(p->targets, (std::vector<std::string>{"/opt", "/home"}));
  EXPECT_EQ(p->excludes, std::vector<std::string>{"*.iso"});
  EXPECT_EQ(p->max_file_size, 2ull << 30);
  EXPECT_FALSE(p->one_file_system);
  EXPECT_EQ(p->limits.max_depth, 3u);
  EXPECT_EQ(p->limits.max_unpacked_bytes, 1048576u);
  EXPECT_EQ(p->limits.max_entries, 50u);
  EXPECT_EQ(p->limits.max_ratio, 20u);
  EXPECT_EQ(p->limits.max_time.count(), 5000);
  EXPECT_EQ(p->action, Action::kRemove);
  EXPECT_FALSE(p->keep_copy);
  EXPECT_EQ(p->max_age_days, 7u);
  EXPECT_FALSE(p->inventory);
  EXPECT_TRUE(p->file_hashes);
  EXPECT_EQ(p->asset_tag, "required");
  EXPECT_EQ(p->indicator_hook, "bin/led");
  EXPECT_EQ(p->indicator_hook_sha256, "4f2b8a3c9d0e1f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8");
}

TEST(Policy, ErrorsSayWhereAndWhy) {
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"[action]\non_detection = \"delete\"\n", "avkey.toml:2:16: [action] on_detection must be one of"},
      {"[action]\nkeep_cpy = true\n", "avkey.toml:2:12: [action] keep_cpy is not a policy setting"},
      {"[scanner]\n", "avkey.toml:1:1: [scanner] is not a policy table"},
      {"[archive]\nmax_depth = 65\n", "avkey.toml:2:13: [archive] max_depth must be an integer from 0 to 64"},
      // A float is not read as an integer (toml++ would convert 7e50 with undefined behaviour).
      {"[archive]\nmax_ratio = 7e50\n", "avkey.toml:2:13: [archive] max_ratio must be an integer from 0 to"},
      {"[archive]\nmax_depth = 3.0\n", "avkey.toml:2:13: [archive] max_depth must be an integer from 0 to 64"},
      {"[scan]\nmax_filesize = \"12Q\"\n", "avkey.toml:2:16: [scan] max_filesize"},
      {"[scan]\ntargets = [\"relative/path\"]\n", "is neither \"auto\" nor an absolute path"},
      {"[indicator]\nhook = \"../../usr/bin/x\"\n", "hook must be a path inside the key"},
      {"[indicator]\nhook = \"bin/led\"\n", "hook_sha256 must be the hook's SHA-256"},
      {"[indicator]\nhook = \"bin/led\"\nhook_sha256 = \"ABCD\"\n", "hook_sha256 must be the hook's SHA-256"},
      {"[indicator]\nhook_sha256 = \"4f2b\"\n", "hook_sha256 without a hook"},
      {"[scan\n", "avkey.toml:1:"},
  };
  for (const auto& c : cases) {
    auto p = ParsePolicy(c.text);
    ASSERT_FALSE(p.has_value()) << c.text;
    EXPECT_NE(p.error().find(c.expected), std::string::npos) << p.error();
  }
}

TEST(Policy, NonAsciiOnlyInStringsAndComments) {
  // Regression (key_policy_fuzz): toml++ 3.3.0 hits undefined behaviour on some non-ASCII
  // code points where it expects white space.
  auto bad = ParsePolicy("parg\xef\xbb\xb6[s[]");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("avkey.toml:1:5: a non-ASCII character outside"), std::string::npos) << bad.error();
  // Second find: the look-ahead after a malformed value reaches a later string.
  EXPECT_FALSE(ParsePolicy("[scan]\nexclude =0[\"*\xd2\x90so\"]\n").has_value());
  EXPECT_FALSE(ParsePolicy("[scan]\nexclude = [\"\xff\"]\n").has_value()) << "invalid UTF-8";
  auto ok = ParsePolicy("# Donn\xc3\xa9" "es du service\n[scan]\nexclude = [\"/donn\xc3\xa9" "es/*\", '/caf\xc3\xa9\\\"q', "
                        "\"\xf0\x9f\x98\x80\"]\ntargets = [\"\"\"/x\\\"\xc3\xa9\"\"\"]\n");
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(ok->excludes, (std::vector<std::string>{"/donn\xc3\xa9" "es/*", "/caf\xc3\xa9\\\"q", "\xf0\x9f\x98\x80"}));
  EXPECT_EQ(ok->targets[0], "/x\"\xc3\xa9");
}

TEST(Policy, SignedPolicyLoadsUnsignedOrTamperedIsRefused) {
  TempDir dir;
  KeyInfo k = MakeKey(dir);
  // No policy on the key: defaults, said so.
  auto none = LoadPolicy(k);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->is_default);

  std::string text = "[action]\non_detection = \"quarantine\"\n";
  ASSERT_TRUE(SignPolicy(platform::Env::Default(), k.root, dir / "signer", text).ok());
  auto ok = LoadPolicy(k);
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_FALSE(ok->is_default);
  EXPECT_EQ(ok->policy.action, Action::kQuarantine);
  EXPECT_EQ(ok->sha256, Sha256Hex(text));

  // Tampered: one byte of the policy changed after signing.
  WriteFile(k.root + "/avkey.toml", "[action]\non_detection = \"report\"    \n");
  auto tampered = LoadPolicy(k);
  ASSERT_FALSE(tampered.has_value());
  EXPECT_NE(tampered.error().find("does not verify"), std::string::npos) << tampered.error();

  // Unsigned: the signature removed.
  WriteFile(k.root + "/avkey.toml", text);
  ASSERT_TRUE(LoadPolicy(k).has_value());
  std::filesystem::remove(k.root + "/avkey.toml.sig");
  auto unsigned_policy = LoadPolicy(k);
  ASSERT_FALSE(unsigned_policy.has_value());
  EXPECT_NE(unsigned_policy.error().find("not signed"), std::string::npos) << unsigned_policy.error();

  // Signed by another console.
  TempDir other;
  KeyInfo k2 = MakeKey(other);
  ASSERT_TRUE(SignPolicy(platform::Env::Default(), k2.root, other / "signer", text).ok());
  std::filesystem::copy_file(k2.root + "/avkey.toml.sig", k.root + "/avkey.toml.sig");
  EXPECT_FALSE(LoadPolicy(k).has_value());
  // And the signer of another console cannot sign for this key.
  EXPECT_FALSE(SignPolicy(platform::Env::Default(), k.root, other / "signer", text).ok());
  // A policy the scanner would refuse is never signed.
  EXPECT_FALSE(SignPolicy(platform::Env::Default(), k.root, dir / "signer", "[action]\nx = 1\n").ok());
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = MakeKey(dir_);
    WriteFile(dir_ / "in/a.ndb", "Sig.A:0:*:41414141414141\n");
    WriteFile(dir_ / "in/b.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Sig.B\n");
  }
  int Publish() {
    auto n = PublishGeneration(platform::Env::Default(), key_.root, dir_ / "signer",
                               {dir_ / "in/a.ndb", dir_ / "in/b.hdb"}, std::chrono::system_clock::now());
    EXPECT_TRUE(n.has_value()) << (n ? "" : n.error());
    return n ? *n : 0;
  }
  TempDir dir_;
  KeyInfo key_;
};

TEST_F(StoreTest, NoGenerationIsNoTrustedSignatures) {
  auto g = SelectGeneration(key_);
  ASSERT_FALSE(g.has_value());
  EXPECT_NE(g.error().find("no trusted signatures"), std::string::npos);
}

TEST_F(StoreTest, PublishedGenerationVerifiesAndListsItsFiles) {
  EXPECT_EQ(Publish(), 1);
  auto g = SelectGeneration(key_);
  ASSERT_TRUE(g.has_value()) << g.error();
  EXPECT_EQ(g->generation.number, 1);
  ASSERT_EQ(g->generation.files.size(), 2u);
  EXPECT_EQ(ReadAll(g->generation.files[0]), ReadAll(dir_ / "in/a.ndb"));
  EXPECT_TRUE(g->warnings.empty());
  // The third publish keeps only the two newest.
  EXPECT_EQ(Publish(), 2);
  EXPECT_EQ(Publish(), 3);
  EXPECT_EQ(ListGenerations(key_.root), (std::vector<int>{2, 3}));
}

TEST_F(StoreTest, DamagedCurrentFallsBackToTheNewestThatVerifies) {
  Publish();
  Publish();
  WriteFile(key_.root + "/signatures/gen-2/a.ndb", "Sig.A:0:*:42424242424242\n");  // changed content
  auto g = SelectGeneration(key_);
  ASSERT_TRUE(g.has_value()) << g.error();
  EXPECT_EQ(g->generation.number, 1);
  ASSERT_EQ(g->warnings.size(), 1u);
  EXPECT_NE(g->warnings[0].find("gen-2: a.ndb does not match its manifest"), std::string::npos) << g->warnings[0];
}

TEST_F(StoreTest, EveryFormOfTamperingIsRefused) {
  Publish();
  std::string gdir = key_.root + "/signatures/gen-1";
  std::string manifest = ReadAll(gdir + "/manifest.json");
  auto refused = [&](const char* why) {
    auto g = VerifyGeneration(key_, 1);
    EXPECT_FALSE(g.has_value()) << why;
    return g ? std::string() : g.error();
  };
  // A file deleted (a torn copy).
  std::string a = ReadAll(gdir + "/a.ndb");
  std::filesystem::remove(gdir + "/a.ndb");
  EXPECT_NE(refused("missing file").find("a.ndb"), std::string::npos);
  WriteFile(gdir + "/a.ndb", a);
  ASSERT_TRUE(VerifyGeneration(key_, 1).has_value());
  // The manifest edited (e.g. to list a new file's hash).
  WriteFile(gdir + "/manifest.json", manifest + " ");
  EXPECT_NE(refused("edited manifest").find("signature does not verify"), std::string::npos);
  WriteFile(gdir + "/manifest.json", manifest);
  // Unsigned.
  std::string sig = ReadAll(gdir + "/manifest.sig");
  std::filesystem::remove(gdir + "/manifest.sig");
  EXPECT_NE(refused("unsigned").find("not signed"), std::string::npos);
  WriteFile(gdir + "/manifest.sig", sig);
  // A valid generation copied under another number (replaying an old set as new).
  std::filesystem::copy(gdir, key_.root + "/signatures/gen-7");
  auto g7 = VerifyGeneration(key_, 7);
  ASSERT_FALSE(g7.has_value());
  EXPECT_NE(g7.error().find("for generation 1"), std::string::npos) << g7.error();
}

TEST_F(StoreTest, BadFileNamesAreNotPublished) {
  WriteFile(dir_ / "in/manifest.json", "{}");
  EXPECT_FALSE(PublishGeneration(platform::Env::Default(), key_.root, dir_ / "signer", {dir_ / "in/manifest.json"},
                                 std::chrono::system_clock::now())
                   .has_value());
  EXPECT_FALSE(PublishGeneration(platform::Env::Default(), key_.root, dir_ / "signer", {dir_ / "in/missing.ndb"},
                                 std::chrono::system_clock::now())
                   .has_value());
  // A failed publish leaves nothing the scanner could pick up.
  EXPECT_TRUE(ListGenerations(key_.root).empty());
}

TEST_F(StoreTest, ConsoleGenerationInstallsUnchangedNeverBackwards) {
  auto signer = LoadSigner(platform::Env::Default(), dir_ / "signer", "", false);
  ASSERT_TRUE(signer.has_value());
  std::string store = dir_ / "console/signatures";
  for (int i = 0; i < 3; ++i) {
    auto n = BuildGeneration(platform::Env::Default(), store, *signer, {dir_ / "in/a.ndb"},
                             std::chrono::system_clock::now(), 0);
    ASSERT_TRUE(n.has_value()) << n.error();
  }
  EXPECT_EQ(ListGenerationsIn(store), (std::vector<int>{1, 2, 3})) << "the console keeps every generation";
  auto n = InstallGeneration(platform::Env::Default(), key_, store + "/gen-2");
  ASSERT_TRUE(n.has_value()) << n.error();
  EXPECT_EQ(ReadAll(key_.root + "/signatures/gen-2/manifest.json"), ReadAll(store + "/gen-2/manifest.json"));
  ASSERT_TRUE(SelectGeneration(key_).has_value());
  auto older = InstallGeneration(platform::Env::Default(), key_, store + "/gen-1");
  ASSERT_FALSE(older.has_value());
  EXPECT_NE(older.error().find("never installed over a newer one"), std::string::npos) << older.error();
  WriteFile(store + "/gen-3/a.ndb", "Evil:0:*:00\n");
  auto tampered = InstallGeneration(platform::Env::Default(), key_, store + "/gen-3");
  ASSERT_FALSE(tampered.has_value());
  EXPECT_EQ(ListGenerations(key_.root), std::vector<int>{2});
}

TEST_F(StoreTest, PruningNeverFollowsASymlinkAndKeepsAFallback) {
  // A hostile device made gen-1 a symlink to a directory of the console's machine.
  WriteFile(dir_ / "victim/precious", "keep me");
  std::filesystem::create_directories(key_.root + "/signatures");
  std::filesystem::create_directory_symlink(dir_ / "victim", key_.root + "/signatures/gen-1");
  EXPECT_TRUE(ListGenerations(key_.root).empty()) << "a symlink is never a generation";
  EXPECT_EQ(Publish(), 1);  // the symlink named gen-1 is replaced, its target untouched
  EXPECT_EQ(ReadAll(dir_ / "victim/precious"), "keep me");
  // Generations 1, then 5 (numbers skipped): both kept, 5 has its fallback.
  auto signer = LoadSigner(platform::Env::Default(), dir_ / "signer", "", false);
  std::string store = dir_ / "console/signatures";
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(BuildGeneration(platform::Env::Default(), store, *signer, {dir_ / "in/a.ndb"},
                                std::chrono::system_clock::now(), 0).has_value());
  }
  ASSERT_TRUE(InstallGeneration(platform::Env::Default(), key_, store + "/gen-5").has_value());
  EXPECT_EQ(ListGenerations(key_.root), (std::vector<int>{1, 5}));
  EXPECT_EQ(ReadAll(dir_ / "victim/precious"), "keep me");
  // A planted, unverifiable higher-numbered directory does not block the next install.
  std::filesystem::create_directories(key_.root + "/signatures/gen-99");
  EXPECT_EQ(NewestVerifiedGeneration(key_), 5);
}

TEST(KeyTime, RoundTripsAndRejectsJunk) {
  auto t = ParseTime("2026-11-29T04:25:44.123Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(TimeMs(*t), "2026-11-29T04:25:44.123Z");
  EXPECT_EQ(TimeMs(*ParseTime("2026-01-02T03:04:05Z")), "2026-01-02T03:04:05.000Z");
  for (const char* bad : {"2026-11-29", "2026-11-29T04:25:44+01:00", "2026-13-01T00:00:00Z", "junk"}) {
    EXPECT_FALSE(ParseTime(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace avkey::key
