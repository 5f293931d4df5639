// The parsed-signature cache (parsed_cache.h) and lazy compilation of patterns: a warm
// start must give exactly what a parse gives, and refuse a damaged or foreign file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "avkey/engine/engine.h"
#include "engine/database_impl.h"
#include "engine/parsed_cache.h"

namespace avkey::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("avkey-parsed-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void Write(const fs::path& p, std::string_view text) {
  std::ofstream(p, std::ios::binary) << text;
}

// One of every kind the cache holds, a bad line in each text format, an ignore list and
// an allow list, and a YARA file (loaded at every start, not cached).
void WriteSet(const fs::path& dir) {
  Write(dir / "a.hdb",
        "e8dc4081b13434b45189a720b77b6818:8:Hash.Abcdefgh\n"
        "zz:8:Broken.Hash\n"
        "ed076287532e86365e841e92bfc50d8c:12:Hash.Ignored\n");
  Write(dir / "b.ndb",
        "Body.Any:0:*:6e6565646c65{2-4}6f6e65\n"
        "Body.Offset:0:3:4e4545444c45\n"
        "Body.Broken:0:*:6e65zz65\n");
  Write(dir / "c.ldb",
        "Logical.Two;Engine:51-255,Target:0;0&1;6669727374;7365636f6e64::i\n"
        "Logical.Pcre;Engine:81-255,Target:0;0&1;74726967676572;0/tr[i]gger\\d+/\n"
        "Logical.Broken;Target:0;0&1;6669727374\n");
  Write(dir / "d.ign2", "Hash.Ignored\n");
  Write(dir / "e.fp", "0c1b6bc0d3e3c6a4a1b0d5bd7c0a5d24:5:Allowed\n");
  Write(dir / "f.yar", "rule yara_needle { strings: $a = \"yneedle\" condition: $a }\n");
}

const std::vector<std::string> kSamples = {
    "abcdefgh",                      // Hash.Abcdefgh
    "xx needle--one xx",             // Body.Any
    "abcNEEDLE...",                  // Body.Offset
    "first and SECOND",              // Logical.Two
    "trigger trigger42",             // Logical.Pcre
    "a yneedle here",                // YARA
    "Hello World!",                  // ignored hash
    "nothing here at all",
};

struct Loaded {
  std::shared_ptr<const Database> db;
  LoadReport report;
};

Loaded Load(const fs::path& sigs, const fs::path& cache, bool read_only = false) {
  DatabaseBuilder b;
  b.SetCacheDirectory(cache, read_only);
  EXPECT_TRUE(b.AddPath(sigs).ok());
  auto db = b.Build();
  EXPECT_TRUE(db.has_value()) << (db ? "" : db.error());
  return {*db, (*db)->report()};
}

std::vector<std::vector<std::string>> ScanAll(const std::shared_ptr<const Database>& db) {
  Scanner s(db);
  std::vector<std::vector<std::string>> all;
  for (const std::string& sample : kSamples) {
    std::vector<Detection> out;
    EXPECT_TRUE(s.Scan(Bytes(sample), {}, &out).ok()) << sample;
    std::vector<std::string> names;
    for (const Detection& d : out) names.push_back(d.name);
    all.push_back(names);
  }
  return all;
}

std::vector<std::string> Problems(const LoadReport& r) {
  std::vector<std::string> out;
  for (const LoadProblem& p : r.problems) out.push_back(p.file + ":" + std::to_string(p.line) + ": " + p.reason);
  return out;
}

void ExpectSameLoad(const Loaded& a, const Loaded& b) {
  EXPECT_EQ(a.db->identity(), b.db->identity());
  EXPECT_EQ(a.report.hash, b.report.hash);
  EXPECT_EQ(a.report.body, b.report.body);
  EXPECT_EQ(a.report.logical, b.report.logical);
  EXPECT_EQ(a.report.yara, b.report.yara);
  EXPECT_EQ(a.report.allow, b.report.allow);
  EXPECT_EQ(a.report.ignore, b.report.ignore);
  EXPECT_EQ(a.report.files, b.report.files);
  EXPECT_EQ(Problems(a.report), Problems(b.report));
  EXPECT_EQ(ScanAll(a.db), ScanAll(b.db));
}

fs::path ParsedFile(const fs::path& cache) {
  for (const auto& e : fs::directory_iterator(cache)) {
    if (e.path().filename().string().ends_with("-parsed.avkc")) return e.path();
  }
  return {};
}

TEST(ParsedCache, WarmStartGivesWhatAParseGives) {
  TempDir sigs("sigs"), cache("cache");
  WriteSet(sigs.path);
  Loaded plain = Load(sigs.path, "");  // no cache at all
  EXPECT_EQ(plain.report.parsed_cache, "disabled");
  Loaded cold = Load(sigs.path, cache.path);
  EXPECT_EQ(cold.report.parsed_cache, "miss");
  ASSERT_FALSE(ParsedFile(cache.path).empty());
  Loaded warm = Load(sigs.path, cache.path);
  EXPECT_EQ(warm.report.parsed_cache, "hit");
  EXPECT_EQ(warm.report.cache_state, "hit");
  ExpectSameLoad(plain, cold);
  ExpectSameLoad(cold, warm);
  // The set really does what the samples say (so the comparison above compares something).
  auto scans = ScanAll(warm.db);
  EXPECT_THAT(scans[0], ::testing::ElementsAre("Hash.Abcdefgh.UNOFFICIAL"));
  EXPECT_THAT(scans[1], ::testing::ElementsAre("Body.Any.UNOFFICIAL"));
  EXPECT_THAT(scans[2], ::testing::ElementsAre("Body.Offset.UNOFFICIAL"));
  EXPECT_THAT(scans[3], ::testing::ElementsAre("Logical.Two.UNOFFICIAL"));
  EXPECT_THAT(scans[4], ::testing::ElementsAre("Logical.Pcre.UNOFFICIAL"));
  EXPECT_THAT(scans[5], ::testing::ElementsAre("YARA.yara_needle.UNOFFICIAL"));
  EXPECT_TRUE(scans[6].empty());
  EXPECT_TRUE(scans[7].empty());
  EXPECT_EQ(warm.report.problems.size(), 3u) << ::testing::PrintToString(Problems(warm.report));
}

TEST(ParsedCache, ProblemsNameTheFilesWhereTheyAreNow) {
  TempDir a("where-a"), b("where-b"), cache("where-cache");
  WriteSet(a.path);
  WriteSet(b.path);
  Loaded first = Load(a.path, cache.path);
  Loaded moved = Load(b.path, cache.path);  // same names and contents: the same identity
  EXPECT_EQ(moved.report.parsed_cache, "hit");
  ASSERT_FALSE(moved.report.problems.empty());
  for (const LoadProblem& p : moved.report.problems) EXPECT_TRUE(p.file.starts_with(b.path.string())) << p.file;
  for (const std::string& f : moved.report.files) EXPECT_TRUE(f.starts_with(b.path.string())) << f;
  ExpectSameLoad(Load(b.path, ""), moved);
}

TEST(ParsedCache, ChangedSourcesAreParsedAgain) {
  TempDir sigs("changed"), cache("changed-cache");
  WriteSet(sigs.path);
  Loaded first = Load(sigs.path, cache.path);
  Write(sigs.path / "b.ndb", "Body.New:0:*:6e6577626f6479\n");
  Loaded second = Load(sigs.path, cache.path);
  EXPECT_EQ(second.report.parsed_cache, "miss");
  EXPECT_NE(first.db->identity(), second.db->identity());
  Scanner s(second.db);
  std::vector<Detection> out;
  ASSERT_TRUE(s.Scan(Bytes("a newbody here"), {}, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "Body.New.UNOFFICIAL");
}

TEST(ParsedCache, DamageIsDetectedAndTheFileRebuilt) {
  TempDir sigs("damage"), cache("damage-cache");
  WriteSet(sigs.path);
  Loaded cold = Load(sigs.path, cache.path);
  const fs::path file = ParsedFile(cache.path);
  ASSERT_FALSE(file.empty());
  const auto size = fs::file_size(file);
  struct Case {
    const char* what;
    std::function<void()> damage;
    const char* state;
  };
  const std::vector<Case> cases = {
      {"one byte in the tables",
       [&] {
         std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(static_cast<std::streamoff>(size / 2));
         char c = 0;
         f.read(&c, 1);
         f.seekp(static_cast<std::streamoff>(size / 2));
         f.put(static_cast<char>(c ^ 0x40));
       },
       "rejected: checksum mismatch (corrupt)"},
      {"cut short", [&] { fs::resize_file(file, size - 100); }, "rejected: truncated"},
      // The header's fields fill its first 56 bytes: a file of just those, its size fields
      // consistent with 56, once made the reader throw (fuzz/regressions/parsed_cache_fuzz).
      {"header fields only",
       [&] {
         std::string head(56, '\0');
         std::ifstream(file, std::ios::binary).read(head.data(), 56);
         const uint64_t fake[3] = {56, 56, 0};  // size, metadata offset and size
         std::memcpy(head.data() + 16, fake, sizeof fake);
         Write(file, head);
       },
       "rejected: truncated"},
      {"not a cache", [&] { Write(file, "hello"); }, "rejected: not an avkey parsed cache"},
      {"empty", [&] { Write(file, ""); }, "rejected: not an avkey parsed cache"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    c.damage();
    Loaded again = Load(sigs.path, cache.path);
    EXPECT_EQ(again.report.parsed_cache, c.state);
    ExpectSameLoad(cold, again);
    EXPECT_EQ(fs::file_size(file), size) << "written again";
    EXPECT_EQ(Load(sigs.path, cache.path).report.parsed_cache, "hit");
  }
}

// The tables are written byte for byte, so they hold no implicit padding (a static_assert in
// the writer): two builds of the same set give the same file.
TEST(ParsedCache, SameSetSameBytes) {
  TempDir sigs("same"), one("same-1"), two("same-2");
  WriteSet(sigs.path);
  Load(sigs.path, one.path);
  Load(sigs.path, two.path);
  auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  ASSERT_FALSE(ParsedFile(one.path).empty());
  EXPECT_EQ(read(ParsedFile(one.path)), read(ParsedFile(two.path)));
}

TEST(ParsedCache, ReadOnlyCacheIsNeverWritten) {
  TempDir sigs("ro"), cache("ro-cache");
  WriteSet(sigs.path);
  Loaded ro = Load(sigs.path, cache.path, /*read_only=*/true);
  EXPECT_EQ(ro.report.parsed_cache, "miss");
  EXPECT_TRUE(ParsedFile(cache.path).empty());
  Load(sigs.path, cache.path);  // a writable cache fills it
  EXPECT_EQ(Load(sigs.path, cache.path, /*read_only=*/true).report.parsed_cache, "hit");
}

// A file whose checksum is right but whose indexes are not (written by a faulty or
// hostile writer) is refused before a scan could follow them.
TEST(ParsedCache, IndexesOutsideTheTablesAreRefused) {
  TempDir cache("index");
  auto store = [&](auto&& damage) {
    Database::Impl db;
    db.identity = std::string(64, 'a');
    db.sig_names.own = {'N', 'a', 'm', 'e'};
    db.sigs.own.push_back({0, 4, EngineKind::kBody});
    db.texts.own = {'6', '1', '6', '2', '6', '3'};
    Body b;
    b.text_size = 6;
    b.sig = 0;
    db.bodies.own.push_back(b);
    damage(db);
    db.sig_names.Freeze();
    db.sigs.Freeze();
    db.texts.Freeze();
    db.bodies.Freeze();
    db.logicals.Freeze();
    db.hashes.Finalize();
    db.section_hashes.Finalize();
    db.allow.Finalize();
    ASSERT_TRUE(StoreParsedCache(cache.path, db, {}).ok());
  };
  auto load = [&] {
    Database::Impl into;
    std::vector<ParsedSourceRecord> sources;
    return LoadParsedCache(cache.path, std::string(64, 'a'), &into, &sources, nullptr, nullptr);
  };
  store([](Database::Impl&) {});
  EXPECT_TRUE(load().ok()) << load().message();
  store([](Database::Impl& db) { db.bodies.own[0].text_offset = 5; });
  EXPECT_EQ(load().message(), "rejected: a body pattern points outside the tables");
  store([](Database::Impl& db) { db.bodies.own[0].sig = 1; });
  EXPECT_EQ(load().message(), "rejected: a body pattern points outside the tables");
  store([](Database::Impl& db) {
    const uint8_t two = 2;  // neither false nor true
    std::memcpy(&db.bodies.own[0].direct, &two, 1);
  });
  EXPECT_EQ(load().message(), "rejected: a body pattern points outside the tables");
  store([](Database::Impl& db) { db.sigs.own[0].name_size = 5; });
  EXPECT_EQ(load().message(), "rejected: a name lies outside the names");
  store([](Database::Impl& db) { db.hashes.Add(HashType::kMd5, Digest{}, 10, 7); });
  EXPECT_EQ(load().message(), "rejected: a hash table points outside the tables");
  store([](Database::Impl& db) {
    db.logicals.own.push_back(Logical{0, 6, 0, 0, 2, false, false});  // 2 subsigs, 0 slots
  });
  EXPECT_EQ(load().message(), "rejected: the subsignature count does not add up");
  EXPECT_EQ(LoadParsedCache(cache.path, std::string(64, 'b'), nullptr, nullptr, nullptr, nullptr).message(), "miss");
  // Written for no source; asked for with one: refused before anything is taken.
  store([](Database::Impl&) {});
  Database::Impl into;
  std::vector<ParsedSourceRecord> sources;
  const std::vector<bool> one_source = {false};
  EXPECT_EQ(LoadParsedCache(cache.path, std::string(64, 'a'), &into, &sources, &one_source, nullptr).message(),
            "rejected: written for other sources");
  EXPECT_TRUE(into.sigs.empty());
}

// Patterns compile on first use from any thread; every thread sees every match.
TEST(LazyPatterns, ThreadsRacingToCompileAgree) {
  std::string ndb, ldb, sample;
  for (int i = 0; i < 300; ++i) {
    const std::string word = "token" + std::to_string(1000 + i) + "x";
    std::string hex;
    for (unsigned char c : word) hex += fmt::format("{:02x}", c);
    ndb += fmt::format("N.{}:0:*:{}\n", i, hex);
    ldb += fmt::format("L.{};Engine:51-255,Target:0;0&1;{};{}\n", i, hex, "7a7a7a");
    sample += word + " ";
  }
  sample += "zzz";
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("t.ndb", ndb, false).ok());
  ASSERT_TRUE(b.AddSource("t.ldb", ldb, false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value());
  std::vector<std::vector<std::string>> seen(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&, t] {
      Scanner s(*db);
      std::vector<Detection> out;
      EXPECT_TRUE(s.Scan(Bytes(sample), {}, &out).ok());
      for (const Detection& d : out) seen[t].push_back(d.name);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen[0].size(), 600u);
  for (size_t t = 1; t < seen.size(); ++t) EXPECT_EQ(seen[t], seen[0]);
}

// A key's generation pins every file to the signed manifest's size and SHA-256
// (DatabaseBuilder::SetTrustedFiles): the builder checks the bytes it actually loads, so a
// device writing to the key after the manifest was verified changes nothing that is used.
std::string Sha256File(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

// The manifest of every file in `dirs`, as a key's generation lists them.
std::map<std::string, DatabaseBuilder::FileDigest> Manifest(const std::vector<fs::path>& dirs) {
  std::map<std::string, DatabaseBuilder::FileDigest> out;
  for (const fs::path& dir : dirs) {
    for (const auto& e : fs::directory_iterator(dir)) out[e.path().string()] = {fs::file_size(e.path()), Sha256File(e.path())};
  }
  return out;
}

Result<std::shared_ptr<const Database>> LoadPinned(const fs::path& sigs, const fs::path& cache,
                                                  std::map<std::string, DatabaseBuilder::FileDigest> pins,
                                                  std::string* add_error = nullptr) {
  DatabaseBuilder b;
  if (!cache.empty()) b.SetCacheDirectory(cache, /*read_only=*/true);
  b.SetTrustedFiles(std::move(pins));
  Status s = b.AddPath(sigs);
  if (!s.ok()) {
    if (add_error) *add_error = s.message();
    return Fail("AddPath: " + s.message());
  }
  return b.Build();
}

TEST(TrustedFiles, AGenerationAsSignedLoadsWarmAndGivesWhatAParseGives) {
  TempDir sigs("tsigs"), cache("tcache");
  WriteSet(sigs.path);
  Loaded plain = Load(sigs.path, "");
  Load(sigs.path, cache.path);  // the console compiles the generation
  auto pinned = LoadPinned(sigs.path, cache.path, Manifest({sigs.path, cache.path}));
  ASSERT_TRUE(pinned.has_value()) << pinned.error();
  EXPECT_EQ((*pinned)->report().parsed_cache, "hit");
  EXPECT_EQ((*pinned)->report().cache_state, "hit");
  ExpectSameLoad(plain, {*pinned, (*pinned)->report()});
}

TEST(TrustedFiles, CacheFilesThatAreNotAsSignedAreRefusedAndTheSetCompiled) {
  TempDir sigs("tsigs2"), cache("tcache2");
  WriteSet(sigs.path);
  Loaded plain = Load(sigs.path, "");
  Load(sigs.path, cache.path);
  // Each cache file changed after signing (here: listed with another digest), then each
  // one missing from the manifest altogether.
  for (bool listed : {true, false}) {
    auto pins = Manifest({sigs.path, cache.path});
    for (const auto& e : fs::directory_iterator(cache.path)) {
      if (listed) {
        pins[e.path().string()].sha256 = std::string(64, '0');
      } else {
        pins.erase(e.path().string());
      }
    }
    auto db = LoadPinned(sigs.path, cache.path, pins);
    ASSERT_TRUE(db.has_value()) << db.error();
    const std::string why = listed ? "rejected: does not match the signed manifest (changed since it was verified)"
                                   : "rejected: not listed in the signed manifest";
    EXPECT_EQ((*db)->report().parsed_cache, why);
    EXPECT_THAT((*db)->report().cache_state, HasSubstr(why));
    ExpectSameLoad(plain, {*db, (*db)->report()});
  }
}

TEST(TrustedFiles, ASourceThatIsNotAsSignedIsAnError) {
  TempDir sigs("tsigs3");
  WriteSet(sigs.path);
  const fs::path hdb = sigs.path / "a.hdb";
  auto pins = Manifest({sigs.path});
  pins[hdb.string()].sha256 = std::string(64, 'f');
  std::string why;
  EXPECT_FALSE(LoadPinned(sigs.path, "", pins, &why).has_value());
  EXPECT_EQ(why, hdb.string() + ": cannot read: does not match the signed manifest (changed since it was verified)");
  pins.erase(hdb.string());
  EXPECT_FALSE(LoadPinned(sigs.path, "", pins, &why).has_value());
  EXPECT_EQ(why, hdb.string() + ": cannot read: not listed in the signed manifest");
}

// The window the pins close: the sources are verified (AddPath), then the device rewrites
// one before it is parsed. Same size, other content: the parse must not use it. With the
// parsed cache warm only YARA files are read again, and the same holds for them.
TEST(TrustedFiles, ASourceRewrittenAfterItWasVerifiedIsNotLoaded) {
  TempDir sigs("tsigs4"), cache("tcache4");
  WriteSet(sigs.path);
  Load(sigs.path, cache.path);
  for (const auto& [name, warm] : std::vector<std::pair<const char*, bool>>{
           {"a.hdb", false}, {"b.ndb", false}, {"f.yar", false}, {"f.yar", true}}) {
    const fs::path victim = sigs.path / name;
    DatabaseBuilder b;
    auto pins = Manifest({sigs.path});
    if (warm) {
      b.SetCacheDirectory(cache.path, /*read_only=*/true);
      pins.merge(Manifest({cache.path}));
    }
    b.SetTrustedFiles(pins);
    ASSERT_TRUE(b.AddPath(sigs.path).ok());
    std::ifstream in(victim, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    text[text.size() - 2] ^= 1;
    Write(victim, text);
    auto db = b.Build();
    ASSERT_FALSE(db.has_value()) << name;
    if (warm) {
      EXPECT_EQ(b.report().parsed_cache, "hit");
    }
    EXPECT_THAT(db.error(), HasSubstr(victim.string() + ": "));
    EXPECT_THAT(db.error(), HasSubstr("does not match the signed manifest")) << db.error();
    text[text.size() - 2] ^= 1;
    Write(victim, text);
  }
}

}  // namespace
}  // namespace avkey::engine
