// Black-box tests of the engine's public contract (include/avkey/engine/engine.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <fmt/format.h>

#include "avkey/engine/engine.h"

namespace avkey::engine {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

// Builds a database from (name, text) sources and returns it, failing the test on error.
std::shared_ptr<const Database> Db(std::initializer_list<std::pair<const char*, const char*>> sources,
                                   LoadReport* report = nullptr) {
  DatabaseBuilder b;
  for (auto [n, t] : sources) EXPECT_TRUE(b.AddSource(n, t, false).ok()) << n;
  auto db = b.Build();
  EXPECT_TRUE(db.has_value()) << (db ? "" : db.error());
  if (report) *report = (*db)->report();
  return *db;
}

std::vector<std::string> Names(const std::shared_ptr<const Database>& db, const std::vector<uint8_t>& data) {
  Scanner s(db);
  std::vector<Detection> out;
  EXPECT_TRUE(s.Scan(data, {}, &out).ok());
  std::vector<std::string> names;
  for (auto& d : out) names.push_back(d.name);
  return names;
}

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Engine, HashBySizeAndType) {
  // Digests of "abcdefgh"; upper-case hex loads too.
  auto db = Db({{"t.hdb",
                 "e8dc4081b13434b45189a720b77b6818:8:Md5Sig\n"
                 "425AF12A0743502B322E93A015BCF868E324D56A:8:Sha1Sig\n"
                 "e8dc4081b13434b45189a720b77b6818:9:WrongSize\n"},
                {"t.hsb", "9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab:*:AnySize:73\n"}});
  EXPECT_EQ(Names(db, Bytes("abcdefgh")),
            (std::vector<std::string>{"AnySize.UNOFFICIAL", "Md5Sig.UNOFFICIAL", "Sha1Sig.UNOFFICIAL"}));
  EXPECT_TRUE(Names(db, Bytes("abcdefgi")).empty());
}

TEST(Engine, WildcardSizeNeedsFlevel73) {
  LoadReport r;
  auto db = Db({{"t.hdb", "900150983cd24fb0d6963f7d28e17f72:*:NoFlevel\n"}}, &r);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].line, 1u);
  EXPECT_NE(r.problems[0].reason.find("at least 73"), std::string::npos);
  EXPECT_EQ(r.hash, 0u);
}

TEST(Engine, BodyPatternTokens) {
  // Inputs are longer than 5 bytes: clamscan does not scan smaller layers.
  auto db = Db({{"t.ndb",
                 "Plain:0:*:41424344\n"
                 "Wild:0:*:4142??44\n"
                 "Nibble:0:*:4142a?4?44\n"
                 "Star:0:*:414243*58595a\n"
                 "Range:0:*:414243{1-3}58595a\n"
                 "Alt:0:*:4142(43|44|45)\n"
                 "NegAlt:0:*:4142!(43|44)\n"
                 "Fixed:0:*:4142(4344|5859)\n"
                 "Generic:0:*:4142(43|4455)46\n"}});
  EXPECT_THAT(Names(db, Bytes("xxABCDxx")),
              ElementsAre("Alt.UNOFFICIAL", "Fixed.UNOFFICIAL", "Plain.UNOFFICIAL", "Wild.UNOFFICIAL"));
  EXPECT_THAT(Names(db, Bytes("ABC..XYZ")), ElementsAre("Alt.UNOFFICIAL", "Range.UNOFFICIAL", "Star.UNOFFICIAL"));
  EXPECT_THAT(Names(db, Bytes("ABC....XYZ")), ElementsAre("Alt.UNOFFICIAL", "Star.UNOFFICIAL"));
  EXPECT_THAT(Names(db, Bytes("..ABDUF")), ElementsAre("Alt.UNOFFICIAL", "Generic.UNOFFICIAL"));
  EXPECT_THAT(Names(db, Bytes("...ABZ")), ElementsAre("NegAlt.UNOFFICIAL"));
  EXPECT_THAT(Names(db, Bytes("..AB\xa7" "E" "D")), ElementsAre("NegAlt.UNOFFICIAL", "Nibble.UNOFFICIAL"));
}

TEST(Engine, Offsets) {
  auto db = Db({{"t.ndb",
                 "At2:0:2:414243\n"
                 "Shift:0:1,2:414243\n"
                 "Eof:0:EOF-4:41424344\n"
                 "Anchored:0:0:414243\n"}});
  EXPECT_THAT(Names(db, Bytes("..ABCDEF")), ElementsAre("At2.UNOFFICIAL", "Shift.UNOFFICIAL"));
  EXPECT_THAT(Names(db, Bytes("..ABCD")), ElementsAre("At2.UNOFFICIAL", "Eof.UNOFFICIAL", "Shift.UNOFFICIAL"));
  EXPECT_THAT(Names(db, Bytes("ABCDEF")), ElementsAre("Anchored.UNOFFICIAL"));
  EXPECT_THAT(Names(db, Bytes("....ABCDEF")), ElementsAre());
}

TEST(Engine, RejectsPatternWithoutTwoStaticBytes) {
  LoadReport r;
  auto db = Db({{"t.ndb", "Bad:0:*:41??43\nGood:0:*:4142??4344\n\n# a comment\n"}}, &r);
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_EQ(r.problems[0].line, 1u);
  EXPECT_NE(r.problems[0].reason.find("static subpattern of length 2"), std::string::npos);
  EXPECT_EQ(r.problems[1].line, 3u);
  EXPECT_EQ(r.problems[1].reason, "blank line");
  EXPECT_EQ(r.body, 1u);
}

TEST(Engine, TargetTypeFiltersPe) {
  auto db = Db({{"t.ndb", "PeOnly:1:*:41424344\nAny:0:*:41424344\n"}});
  EXPECT_THAT(Names(db, Bytes("..ABCD..")), ElementsAre("Any.UNOFFICIAL"));
}

TEST(Engine, IgnoreListAndAllowList) {
  // md5("..ABCDEFGH..") = 9ef35010b136d9f33f74536324c0939f
  auto db = Db({{"t.ign2", "Gone\n"}, {"t.ndb", "Gone:0:*:414243\nKept:0:*:444546\n"}});
  EXPECT_THAT(Names(db, Bytes("..ABCDEFGH..")), ElementsAre("Kept.UNOFFICIAL"));
  auto db2 = Db({{"t.ndb", "Kept:0:*:444546\n"}, {"t.fp", "9ef35010b136d9f33f74536324c0939f:12:Allowed\n"}});
  EXPECT_THAT(Names(db2, Bytes("..ABCDEFGH..")), ElementsAre());
  EXPECT_THAT(Names(db2, Bytes("..ABCDEFGH.")), ElementsAre("Kept.UNOFFICIAL"));
}

TEST(Engine, BuiltinSignaturesDetectEicar) {
  DatabaseBuilder b;
  ASSERT_TRUE(AddBuiltinSignatures(&b).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value()) << db.error();
  EXPECT_TRUE((*db)->report().problems.empty());
  std::string eicar = std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
  EXPECT_THAT(Names(*db, Bytes(eicar + "\n")), ElementsAre("avkey.Test.EICAR"));
  EXPECT_THAT(Names(*db, Bytes(" " + eicar)), ElementsAre());
  std::ifstream in("/usr/share/clamav-testfiles/clam.exe", std::ios::binary);
  if (in) {
    std::vector<uint8_t> clam((std::istreambuf_iterator<char>(in)), {});
    EXPECT_THAT(Names(*db, clam), ElementsAre("avkey.Test.ClamAV-Test-File"));
  }
}

TEST(Engine, IdentityDependsOnContent) {
  DatabaseBuilder a, b, c;
  ASSERT_TRUE(a.AddSource("x.ndb", "A:0:*:4142\n", false).ok());
  ASSERT_TRUE(b.AddSource("x.ndb", "A:0:*:4142\n", false).ok());
  ASSERT_TRUE(c.AddSource("x.ndb", "A:0:*:4143\n", false).ok());
  auto da = a.Build(), db = b.Build(), dc = c.Build();
  EXPECT_EQ((*da)->identity(), (*db)->identity());
  EXPECT_NE((*da)->identity(), (*dc)->identity());
  EXPECT_EQ((*da)->identity().size(), 64u);
}

std::string Md5Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return HexString(std::span<const uint8_t>(md, len));
}

// AddPath reads line formats in 1 MiB pieces: lines cut by a piece boundary, a last line
// without its newline and a line longer than a piece must load exactly as from memory.
TEST(Engine, FileReadInPiecesLoadsAsFromMemory) {
  auto dir = std::filesystem::temp_directory_path() / ("avkey-pieces-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string text;
  std::vector<std::string> samples;
  for (int i = 0; text.size() < (3u << 20); ++i) {
    samples.push_back("sample number " + std::to_string(i));
    text += Md5Hex(samples.back()) + ":" + std::to_string(samples.back().size()) + ":Piece.Test-" +
            std::to_string(i) + std::string(i % 7, 'x') + "\n";
    if (i == 20000) text += std::string((1u << 20) + 300, 'z') + "\n";  // one bad line longer than a piece
  }
  text.pop_back();  // the last line ends without a newline
  const auto path = dir / "pieces.hdb";
  std::ofstream(path, std::ios::binary) << text;

  DatabaseBuilder from_file, from_memory;
  ASSERT_TRUE(from_file.AddPath(path).ok());
  ASSERT_TRUE(from_memory.AddSource(path.string(), text, false).ok());
  auto a = from_file.Build(), b = from_memory.Build();
  ASSERT_TRUE(a && b);
  std::filesystem::remove_all(dir);
  EXPECT_EQ((*a)->identity(), (*b)->identity());
  EXPECT_EQ((*a)->report().hash, samples.size());
  EXPECT_EQ((*a)->report().hash, (*b)->report().hash);
  ASSERT_EQ((*a)->report().problems.size(), 1u);
  EXPECT_EQ((*a)->report().problems[0].line, 20002u);
  EXPECT_EQ((*a)->report().problems[0].line, (*b)->report().problems[0].line);
  // Every line detects its sample, wherever the pieces were cut.
  Scanner scanner(*a);
  std::vector<Detection> out;
  size_t wrong = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    ASSERT_TRUE(scanner.Scan(Bytes(samples[i]), {}, &out).ok());
    std::string name = "Piece.Test-" + std::to_string(i) + std::string(i % 7, 'x') + ".UNOFFICIAL";
    if (out.size() != 1 || out[0].name != name) ++wrong;
  }
  EXPECT_EQ(wrong, 0u);
}

TEST(Engine, UnsupportedTypeIsAnError) {
  DatabaseBuilder b;
  EXPECT_FALSE(b.AddSource("x.txt", "hello", false).ok());
  EXPECT_FALSE(b.AddPath("/nonexistent/path.ndb").ok());
}

}  // namespace
}  // namespace avkey::engine

namespace avkey::engine {
namespace {

// A key is prepared on a recent workstation and scans older devices: with a portable
// build in the cache, a CPU without this one's features still starts warm. Removing the
// builds for this CPU stands in for such a device.
TEST(EngineCache, PortableBuildServesACpuWithoutThisOnesFeatures) {
  auto dir = std::filesystem::temp_directory_path() / ("avkey-portable-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const char* yar = "rule R { strings: $a = \"QRSTUVWX\" condition: $a }\n";
  auto build = [&](bool read_only) {
    DatabaseBuilder b;
    b.SetCacheDirectory(dir, read_only);
    b.SetPortableCache(true);
    EXPECT_TRUE(b.AddSource("c.ndb", "A:0:*:41424344\nB:0:*:4546??4748\n", false).ok());
    EXPECT_TRUE(b.AddSource("r.yar", yar, false).ok());
    auto db = b.Build();
    EXPECT_TRUE(db.has_value()) << (db ? "" : db.error());
    return *db;
  };
  EXPECT_EQ(build(false)->report().cache_state, "miss");
  std::vector<std::string> native, portable;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.ends_with("-parsed.avkc")) continue;  // the parsed tables: for any CPU
    if (n.ends_with("-p0.avkc")) portable.push_back(n);
    else if (n.find("-p") != std::string::npos) native.push_back(n);
  }
  if (native.empty()) GTEST_SKIP() << "this CPU has no optional features: the native build is the portable one";
  EXPECT_EQ(portable.size(), 2u) << "body patterns and YARA prefilter";
  EXPECT_EQ(native.size(), 2u);
  for (const auto& n : native) std::filesystem::remove(dir / n);
  auto listing = [&] {
    std::set<std::string> names;
    for (auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
  };
  const std::set<std::string> before = listing();
  auto db = build(/*read_only=*/true);
  EXPECT_EQ(db->report().cache_state, "hit (portable build: none for this CPU)");
  EXPECT_THAT(db->report().yara_prefilter, testing::HasSubstr("portable build"));
  EXPECT_EQ(Names(db, Bytes("..EFxGH..QRSTUVWX..")),
            (std::vector<std::string>{"B.UNOFFICIAL", "YARA.R.UNOFFICIAL"}));
  EXPECT_EQ(listing(), before) << "a read-only cache was written to";
  std::filesystem::remove_all(dir);
}

TEST(EngineCache, SecondBuildHitsAndCorruptionIsRejected) {
  auto dir = std::filesystem::temp_directory_path() / ("avkey-cache-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto build = [&] {
    DatabaseBuilder b;
    b.SetCacheDirectory(dir);
    EXPECT_TRUE(b.AddSource("c.ndb", "A:0:*:41424344\nB:0:*:45464748\n", false).ok());
    auto db = b.Build();
    EXPECT_TRUE(db.has_value());
    return *db;
  };
  auto first = build();
  EXPECT_EQ(first->report().cache_state, "miss");
  auto second = build();
  EXPECT_EQ(second->report().cache_state, "hit");
  EXPECT_EQ(Names(second, Bytes("..EFGH..")), (std::vector<std::string>{"B.UNOFFICIAL"}));
  // Flip one byte of the payload: detected, rebuilt, still correct.
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-5, std::ios::end);
    f.put('\x5a');
  }
  auto third = build();
  EXPECT_EQ(third->report().cache_state, "rejected: checksum mismatch (corrupt)");
  EXPECT_EQ(Names(third, Bytes("..ABCD..")), (std::vector<std::string>{"A.UNOFFICIAL"}));
  EXPECT_EQ(build()->report().cache_state, "hit");
  std::filesystem::remove_all(dir);
}

// The YARA prefilter (every rule needs one of its strings) is kept in the cache too: the
// second start takes it from there, a corrupt one is rebuilt, and matches never change.
TEST(EngineCache, YaraPrefilterIsCachedAndRebuiltWhenCorrupt) {
  auto dir = std::filesystem::temp_directory_path() / ("avkey-yara-cache-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto build = [&] {
    DatabaseBuilder b;
    b.SetCacheDirectory(dir);
    EXPECT_TRUE(b.AddSource("r.yar",
                            "rule hexy { strings: $h = { 4D 5A ?? 00 [2-4] 50 45 } condition: $h }\n"
                            "rule texty { strings: $t = \"needle\" nocase condition: $t at 3 }\n",
                            false)
                    .ok());
    auto db = b.Build();
    EXPECT_TRUE(db.has_value());
    return *db;
  };
  auto expect_matches = [](const std::shared_ptr<const Database>& db) {
    EXPECT_THAT(Names(db, Bytes(std::string("..MZ\x90\x00" "abPE..", 12))), ElementsAre("YARA.hexy.UNOFFICIAL"));
    EXPECT_THAT(Names(db, Bytes("abcNEEDLE...")), ElementsAre("YARA.texty.UNOFFICIAL"));
    EXPECT_THAT(Names(db, Bytes("abcdNEEDLE..")), ElementsAre());  // atom present, condition false
    EXPECT_THAT(Names(db, Bytes("nothing here")), ElementsAre());
  };
  auto first = build();
  EXPECT_EQ(first->report().yara_prefilter, "on (2 rules gated)");
  EXPECT_EQ(first->report().yara_cache, "miss");
  EXPECT_EQ(first->report().yara, 2u);
  expect_matches(first);
  auto second = build();
  EXPECT_EQ(second->report().yara_prefilter, "on (2 rules gated; from the compiled-pattern cache)");
  EXPECT_EQ(second->report().yara_cache, "hit");
  EXPECT_EQ(second->report().yara, 2u);
  expect_matches(second);
  // Damage both files (the prefilter's and libyara's compiled rules): each is detected,
  // and both are compiled and stored again.
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find("-yara") == std::string::npos) continue;
    ++files;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-5, std::ios::end);
    f.put('\x5a');
  }
  EXPECT_EQ(files, 2u);
  auto third = build();
  EXPECT_EQ(third->report().yara_prefilter, "on (2 rules gated)");
  EXPECT_EQ(third->report().yara_cache, "rejected: checksum mismatch (corrupt)");
  expect_matches(third);
  auto fourth = build();
  EXPECT_EQ(fourth->report().yara_prefilter, "on (2 rules gated; from the compiled-pattern cache)");
  EXPECT_EQ(fourth->report().yara_cache, "hit");
  expect_matches(fourth);
  std::filesystem::remove_all(dir);
}

// A YARA rule that fails to compile is reported with its line on a cold start and, from
// the cache, identically on a warm one; the other rules (its file's too) are the same both
// times.
TEST(EngineCache, YaraRulesFromTheCacheKeepTheirProblems) {
  auto dir = std::filesystem::temp_directory_path() / ("avkey-yara-rules-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  // The same files under another directory on the warm start (a console's store, then a
  // key): the identity is the same, and problems must name where the file is now.
  auto build = [&](const std::string& where) {
    DatabaseBuilder b;
    b.SetCacheDirectory(dir);
    EXPECT_TRUE(b.AddSource("good.yar", "rule good { strings: $a = \"evil-string\" condition: $a }\n", false).ok());
    EXPECT_TRUE(
        b.AddSource(where + "/bad.yar", "rule ok { condition: true }\nrule broken { condition: $nope }\n", false).ok());
    EXPECT_TRUE(b.AddSource("more.yar", "rule more { strings: $m = { 6D 6F 72 65 } condition: $m }\n", false).ok());
    auto db = b.Build();
    EXPECT_TRUE(db.has_value());
    return *db;
  };
  auto cold = build("/console/store");
  auto warm = build("/media/key");
  EXPECT_EQ(cold->report().yara_cache, "miss");
  EXPECT_EQ(warm->report().yara_cache, "hit");
  ASSERT_EQ(cold->report().problems.size(), 1u);
  EXPECT_EQ(cold->report().problems[0].file, "/console/store/bad.yar");
  ASSERT_EQ(warm->report().problems.size(), 1u);
  EXPECT_EQ(warm->report().problems[0].file, "/media/key/bad.yar");
  for (const auto& db : {cold, warm}) {
    EXPECT_EQ(db->report().yara, 3u);
    EXPECT_EQ(db->report().problems[0].line, 2u);
    EXPECT_THAT(db->report().problems[0].reason, HasSubstr("rule 'broken' skipped"));
    EXPECT_THAT(Names(db, Bytes("..evil-string..more")),
                ElementsAre("YARA.good.UNOFFICIAL", "YARA.more.UNOFFICIAL", "YARA.ok.UNOFFICIAL"));
  }
  EXPECT_EQ(cold->report().problems[0].reason, warm->report().problems[0].reason);
  std::filesystem::remove_all(dir);
}

// One Vectorscan database per target (Database::Impl::hs_dbs): a layer is searched only
// for the patterns its type can match, with the same results as one database; every
// target's file is cached, and a cache missing one of them is compiled again.
TEST(EngineCache, OneDatabasePerTargetCachedTogether) {
  auto dir = std::filesystem::temp_directory_path() / ("avkey-targets-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto build = [&] {
    DatabaseBuilder b;
    b.SetCacheDirectory(dir);
    EXPECT_TRUE(b.AddSource("t.ndb", "Any.A:0:*:41414141\nPe.P:1:*:50505050\nElf.E:6:*:45454545\n", false).ok());
    EXPECT_TRUE(b.AddSource("t.ldb", "Elf.L;Engine:51-255,Target:6;0&1;4c4c4c4c;4d4d4d4d\n", false).ok());
    auto db = b.Build();
    EXPECT_TRUE(db.has_value()) << (db ? "" : db.error());
    return *db;
  };
  std::string elf = "\x7f" "ELF\x02\x01\x01";
  elf += std::string(100, '\0') + "AAAA PPPP EEEE LLLL MMMM";
  const std::string plain = "plain AAAA PPPP EEEE LLLL MMMM";
  const std::vector<std::string> in_elf = {"Any.A.UNOFFICIAL", "Elf.E.UNOFFICIAL", "Elf.L.UNOFFICIAL"};
  auto cold = build();
  EXPECT_EQ(cold->report().cache_state, "miss");
  EXPECT_EQ(cold->report().pattern_targets, (std::vector<uint8_t>{0, 1, 6}));
  EXPECT_EQ(Names(cold, Bytes(elf)), in_elf);
  EXPECT_EQ(Names(cold, Bytes(plain)), std::vector<std::string>{"Any.A.UNOFFICIAL"});
  auto warm = build();
  EXPECT_EQ(warm->report().cache_state, "hit");
  EXPECT_EQ(warm->report().pattern_targets, (std::vector<uint8_t>{0, 1, 6}));
  EXPECT_EQ(Names(warm, Bytes(elf)), in_elf);
  size_t removed = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find("-t6-") != std::string::npos) removed += std::filesystem::remove(e.path());
  }
  EXPECT_GE(removed, 1u);
  auto again = build();
  EXPECT_EQ(again->report().cache_state, "miss");
  EXPECT_EQ(Names(again, Bytes(elf)), in_elf);
  EXPECT_EQ(build()->report().cache_state, "hit");
  std::filesystem::remove_all(dir);
}

// Vectorscan 5.4.9 loses some matches that end near the end of the scanned block,
// depending on the buffer's address (hs_block.h). A literal at every position near the
// end of layers of several sizes, at 64 different addresses each: every one is found. So is
// a pattern spanning 186 bytes (the database's longest: BlockScan copies no more of a large
// layer's end than that and the zone).
TEST(ScannerTail, MatchesAtTheVeryEndAreFoundAtEveryAddress) {
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("t.ndb",
                          "Tail.Mark:0:*:424f44594d41524b\nTail.Other:0:*:48444c53414d45\n"
                          "Tail.Span:0:*:535041{180}4e4e4e\n",
                          false)
                  .ok());
  ASSERT_TRUE(b.AddSource("t.ldb", "Tail.Count;Engine:51-255,Target:0;0=1;434f554e544d45\n", false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value()) << db.error();
  Scanner s(*db);
  std::vector<uint8_t> big(1 << 16, 'x');
  int missed = 0, tried = 0, miscounted = 0, spans_missed = 0;
  for (size_t len : {size_t{20}, size_t{97}, size_t{600}, size_t{4100}, size_t{9000}}) {
    for (size_t back = 8; back <= 72 && back <= len; back += 1) {
      for (size_t off = 0; off < 64; ++off) {
        std::fill(big.begin(), big.end(), 'x');
        uint8_t* p = big.data() + 4096 + off;
        std::memcpy(p + len - back, "BODYMARK", 8);
        if (len > 100) std::memcpy(p + len / 2, "COUNTME", 7);  // counted once, not twice
        if (len > 300) {  // SPA, 180 bytes, NNN: ends where BODYMARK starts
          std::memcpy(p + len - back - 186, "SPA", 3);
          std::memcpy(p + len - back - 3, "NNN", 3);
        }
        std::vector<Detection> out;
        ASSERT_TRUE(s.Scan(std::span<const uint8_t>(p, len), {}, &out).ok());
        ++tried;
        auto found = [&](std::string_view name) {
          return std::any_of(out.begin(), out.end(), [&](const Detection& d) { return d.name == name; });
        };
        missed += !found("Tail.Mark.UNOFFICIAL");
        miscounted += (len > 100) != found("Tail.Count.UNOFFICIAL");
        spans_missed += (len > 300) != found("Tail.Span.UNOFFICIAL");
      }
    }
  }
  EXPECT_EQ(missed, 0) << "of " << tried;
  EXPECT_EQ(spans_missed, 0) << "of " << tried;
  EXPECT_EQ(miscounted, 0) << "of " << tried;
}

// A match in the last bytes of a large layer that starts far before them (a `*` or a long
// {n-m} gap) can only come from the scan in place: it is reported (clamscan finds it), and a
// counted subsignature ending there, seen by both scans, is counted once.
TEST(ScannerTail, LongGapMatchesEndingAtTheEndAreFound) {
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("g.ndb",
                          "Gap.Star:0:*:4141414141*4242424242\n"
                          "Gap.Range:0:*:4141414141{100-90000}4242424242\n",
                          false)
                  .ok());
  ASSERT_TRUE(b.AddSource("g.ldb",
                          "Gap.Count;Engine:51-255,Target:0;0=1&1;434f554e544d45;4141414141*4242424242\n", false)
                  .ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value()) << db.error();
  Scanner s(*db);
  int missed = 0, tried = 0;
  for (size_t len : {size_t{5000}, size_t{9000}, size_t{70000}}) {
    for (size_t back = 5; back <= 80; back += 5) {
      std::vector<uint8_t> layer(len, 0x01);
      std::memcpy(layer.data(), "AAAAA", 5);
      std::memcpy(layer.data() + len - back, "BBBBB", 5);
      std::memcpy(layer.data() + len - back - 7, "COUNTME", 7);
      std::vector<Detection> out;
      ASSERT_TRUE(s.Scan(layer, {}, &out).ok());
      std::vector<std::string> names;
      for (const auto& d : out) names.push_back(d.name);
      ++tried;
      missed += names != std::vector<std::string>{"Gap.Range.UNOFFICIAL", "Gap.Star.UNOFFICIAL", "Gap.Count.UNOFFICIAL"} &&
                names != std::vector<std::string>{"Gap.Count.UNOFFICIAL", "Gap.Range.UNOFFICIAL", "Gap.Star.UNOFFICIAL"};
      if (missed == 1 && tried == missed) ADD_FAILURE() << "len " << len << " back " << back << ": " << testing::PrintToString(names);
    }
  }
  EXPECT_EQ(missed, 0) << "of " << tried;
}

// A text layer is matched twice: raw, and in ClamAV's normalised form (lower case, one
// space per whitespace run). The normalised pass searches only the target-0 and target-7
// patterns whose bytes the normaliser can write; here 900 others need a NUL. What can match
// there still does (Txt.Lower, Txt.Seven only match the normalised form), the raw pass is
// untouched (Txt.Upper), and a set with nothing to search for there finds the same raw hits.
TEST(Engine, NormalisedTextPassSearchesWhatCanMatchIt) {
  auto hex = [](std::string_view s) {
    std::string h;
    for (const char c : s) h += fmt::format("{:02x}", static_cast<unsigned char>(c));
    return h;
  };
  // Bin.N<i>: a NUL and six bytes of its own.
  auto bin_bytes = [](uint32_t i) {
    const uint32_t v = 0x9e3779b9u * (i + 1);
    return std::string{'\0', char(v >> 24), char(v >> 16), char(v >> 8), char(v), char(i >> 8), char(i)};
  };
  std::string binary;
  for (uint32_t i = 0; i < 900; ++i) binary += fmt::format("Bin.N{}:0:*:{}\n", i, hex(bin_bytes(i)));
  const std::string text_sigs = "Txt.Lower:0:*:" + hex("ignore_user_abort") + "\nTxt.Seven:7:*:" + hex("target seven") +
                                "\nTxt.Upper:0:*:" + hex("SHOUTED WORDS") + "\n";
  const std::string upper_only = "Txt.Upper:0:*:" + hex("SHOUTED WORDS") + "\n";
  const auto text = Bytes(
      "This is a plain ASCII text file used by the avkey tests.\n"
      "IGNORE_USER_ABORT(x), TARGET   SEVEN and SHOUTED WORDS.\n"
      "It has several lines of ordinary words so that it is typed as text.\n");
  LoadReport report;
  auto both = Db({{"b.ndb", binary.c_str()}, {"t.ndb", text_sigs.c_str()}}, &report);
  EXPECT_EQ(report.normalized_text_patterns, 2u);
  EXPECT_THAT(Names(both, text), ElementsAre("Txt.Lower.UNOFFICIAL", "Txt.Seven.UNOFFICIAL", "Txt.Upper.UNOFFICIAL"));
  auto raw_only = Db({{"b.ndb", binary.c_str()}, {"t.ndb", upper_only.c_str()}}, &report);
  EXPECT_EQ(report.normalized_text_patterns, 0u);
  EXPECT_THAT(Names(raw_only, text), ElementsAre("Txt.Upper.UNOFFICIAL"));
  // A binary layer (it holds a NUL) is matched raw only, with every pattern.
  std::vector<uint8_t> with_nul = text;
  const std::string n7 = bin_bytes(7);
  with_nul.insert(with_nul.end(), n7.begin(), n7.end());
  EXPECT_THAT(Names(raw_only, with_nul), ElementsAre("Bin.N7.UNOFFICIAL", "Txt.Upper.UNOFFICIAL"));
}

}  // namespace
}  // namespace avkey::engine
