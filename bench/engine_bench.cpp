// Micro benchmarks of the engine: Scanner throughput (bytes/s) for 1k/5k/50k
// generated body signatures over real binaries from /usr, and Database build time.
// Run: build/bench/engine_bench  (see bench/README.md)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <fstream>
#include <random>
#include <string>

#include <hs/hs.h>

#include "avkey/engine/engine.h"
#include "naive_regex.h"
#include "engine/html_norm.h"
#include "engine/text_norm.h"

namespace avkey::engine {
namespace {

// Real ELF binaries and libraries from /usr/bin, then /usr/lib/x86_64-linux-gnu, in name
// order (files under 8 MiB): the first ~32 MiB are the scanned corpus; the next ~16 MiB
// (Foreign()) are never scanned and only give signatures to cut (BM_ScanBodyForeign).
std::vector<uint8_t> ReadBinaries(size_t skip, size_t budget) {
  std::vector<uint8_t> out;
  size_t seen = 0;
  for (const char* dir : {"/usr/bin", "/usr/lib/x86_64-linux-gnu"}) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.is_regular_file(ec) && e.file_size(ec) < (8u << 20)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      if (out.size() > budget) return out;
      const size_t size = std::filesystem::file_size(f, ec);
      if (seen < skip) {  // a file of the part skipped: counted, not read
        seen += ec ? 0 : size;
        continue;
      }
      std::ifstream in(f, std::ios::binary);
      out.insert(out.end(), std::istreambuf_iterator<char>(in), {});
    }
  }
  return out;
}

// ~32 MiB of real binaries: code-like bytes are what body signatures are written against,
// and what makes short anchors hit often.
const std::vector<uint8_t>& Corpus() {
  static const std::vector<uint8_t> corpus = ReadBinaries(0, 32u << 20);
  return corpus;
}

// ~16 MiB of other binaries of the same machine, after those of Corpus().
const std::vector<uint8_t>& Foreign() {
  static const std::vector<uint8_t> foreign = [] {
    const size_t first = Corpus().size();
    return ReadBinaries(first, 16u << 20);
  }();
  return foreign;
}

// Realistic .ndb shapes: 8-40 byte fragments cut from the corpus (so anchors look
// like code), with ?? wildcards, {n-m} gaps and alternations; a few anchored at EOF.
// `c`: the bytes to cut from (default: the scanned corpus itself, where every signature
// occurs once, near-exactly; BM_ScanBodyForeign cuts them from Foreign(), binaries that
// are not scanned, as real signatures come from software that is not on the device).
std::string MakeNdb(size_t count, uint32_t seed, const std::vector<uint8_t>& c = Corpus()) {
  std::mt19937 rng(seed);
  std::string out;
  for (size_t i = 0; i < count;) {
    size_t len = 8 + rng() % 32;
    size_t at = rng() % (c.size() - len);
    // Signature writers pick distinctive bytes: skip fragments of padding and
    // zero runs (fewer than 70% distinct bytes, or over a quarter zeros).
    std::set<uint8_t> distinct(c.begin() + at, c.begin() + at + len);
    if (distinct.size() * 10 < len * 7 || std::count(c.begin() + at, c.begin() + at + len, 0) * 4 > long(len))
      continue;
    std::string hex;
    for (size_t j = 0; j < len; ++j) {
      uint32_t r = rng() % 100;
      if (j > 3 && r < 5) {
        hex += "??";
      } else if (j > 3 && j + 4 < len && r < 7) {
        hex += "{1-8}";
      } else {
        char b[3];
        snprintf(b, sizeof b, "%02x", c[at + j] ^ (j == len / 2 ? 0x5a : 0));  // avoid trivial hits
        hex += b;
      }
    }
    out += "Bench.Sig-" + std::to_string(i) + ":" + std::to_string(i % 10 == 0 ? 1 : 0) + ":*:" + hex + "\n";
    ++i;
  }
  return out;
}

std::shared_ptr<const Database> BuildDb(const std::string& ndb, const std::string& cache = "") {
  DatabaseBuilder b;
  if (!cache.empty()) b.SetCacheDirectory(cache);
  if (!b.AddSource("bench.ndb", ndb, false).ok()) return nullptr;
  auto db = b.Build();
  return db ? *db : nullptr;
}

void ScanBodyOver(benchmark::State& state, const std::vector<uint8_t>& source) {
  static std::map<std::pair<int64_t, const void*>, std::shared_ptr<const Database>> cache;
  auto& db = cache[{state.range(0), &source}];
  if (!db) db = BuildDb(MakeNdb(static_cast<size_t>(state.range(0)), 42, source));
  const auto& corpus = Corpus();
  Scanner scanner(db);
  std::vector<Detection> out;
  constexpr size_t kChunk = 1 << 20;  // scan as 1 MiB "files"
  for (auto _ : state) {
    for (size_t off = 0; off < corpus.size(); off += kChunk) {
      size_t n = std::min(kChunk, corpus.size() - off);
      (void)scanner.Scan(std::span(corpus.data() + off, n), {}, &out);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.size()));
  state.counters["sigs"] = static_cast<double>(db->report().body);
}

void BM_ScanBody(benchmark::State& state) { ScanBodyOver(state, Corpus()); }
BENCHMARK(BM_ScanBody)->Arg(1000)->Arg(5000)->Arg(50000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same shapes cut from binaries outside the scanned corpus (Foreign()): shared code
// idioms still hit, but no signature occurs as such.
void BM_ScanBodyForeign(benchmark::State& state) { ScanBodyOver(state, Foreign()); }
BENCHMARK(BM_ScanBodyForeign)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The yardstick of issue 2: the same signatures compiled naively, each whole pattern one
// regex (?? as ".", {n-m} as ".{n,m}"; offsets, target types and ClamAV's exact wildcard
// rules ignored, so it gives wrong answers), into one Vectorscan database, scanned over the
// same 1 MiB "files". Arg 1: 0 stream mode (as the issue measured it), 1 block mode.
// BM_ScanBody / this = what exact semantics cost on top of plain matching.
// BM_NaiveVectorscanForeign: the signatures of BM_ScanBodyForeign.
void NaiveOver(benchmark::State& state, const std::vector<uint8_t>& source) {
  const std::string ndb = MakeNdb(static_cast<size_t>(state.range(0)), 42, source);
  const std::vector<std::string> regexes = bench::NaiveRegexes(ndb);
  const bool block = state.range(1) != 0;
  std::string error;
  hs_database_t* db = bench::CompileNaive(regexes, block ? HS_MODE_BLOCK : HS_MODE_STREAM, &error);
  if (db == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  uint64_t matches = 0;
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
    ++*static_cast<uint64_t*>(ctx);
    return 0;
  };
  const auto& corpus = Corpus();
  constexpr size_t kChunk = 1 << 20;
  for (auto _ : state) {
    for (size_t off = 0; off < corpus.size(); off += kChunk) {
      const auto* p = reinterpret_cast<const char*>(corpus.data() + off);
      const auto n = static_cast<unsigned>(std::min(kChunk, corpus.size() - off));
      if (block) {
        hs_scan(db, p, n, 0, scratch, on_match, &matches);
      } else {
        hs_stream_t* stream = nullptr;
        hs_open_stream(db, 0, &stream);
        hs_scan_stream(stream, p, n, 0, scratch, on_match, &matches);
        hs_close_stream(stream, scratch, on_match, &matches);
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.size()));
  state.SetLabel(block ? "block" : "stream");
  hs_free_scratch(scratch);
  hs_free_database(db);
}
void BM_NaiveVectorscan(benchmark::State& state) { NaiveOver(state, Corpus()); }
BENCHMARK(BM_NaiveVectorscan)
    ->Args({1000, 0})
    ->Args({5000, 0})
    ->Args({5000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
void BM_NaiveVectorscanForeign(benchmark::State& state) { NaiveOver(state, Foreign()); }
BENCHMARK(BM_NaiveVectorscanForeign)->Args({5000, 0})->Args({5000, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

// YARA rules of the suite's `yara` shape (one hex string each, a few ??), from random bytes,
// as signatures of malware are for clean files: none matches the corpus. (Cut from the corpus
// itself, as the suite's set is, every 1 MiB layer holds a match and no mode skips anything:
// measured 123-137 MB/s for all three.) Arg: AVKEY_YARA_PREFILTER mode (0 off, 1 atoms, 2 exact).
std::string MakeYara(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    size_t len = 16 + rng() % 24;
    std::string hex;
    for (size_t j = 0; j < len; ++j) {
      char b[4];
      snprintf(b, sizeof b, "%02X ", static_cast<unsigned>(rng() % 256));
      hex += (j > 3 && rng() % 100 < 5) ? "?? " : b;
    }
    out += "rule r" + std::to_string(i) + " { strings: $a = { " + hex + "} condition: $a }\n";
  }
  return out;
}

void BM_ScanYara(benchmark::State& state) {
  static const char* kModes[] = {"off", "atoms", "exact"};
  ::setenv("AVKEY_YARA_PREFILTER", kModes[state.range(0)], 1);
  DatabaseBuilder b;
  if (!b.AddSource("bench.yar", MakeYara(1000, 7), false).ok()) return state.SkipWithError("rules");
  auto db = b.Build();
  ::unsetenv("AVKEY_YARA_PREFILTER");
  if (!db) return state.SkipWithError(db.error().c_str());
  const auto& corpus = Corpus();
  Scanner scanner(*db);
  std::vector<Detection> out;
  constexpr size_t kChunk = 1 << 20;
  for (auto _ : state) {
    for (size_t off = 0; off < corpus.size(); off += kChunk)
      (void)scanner.Scan(std::span(corpus.data() + off, std::min(kChunk, corpus.size() - off)), {}, &out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.size()));
  state.SetLabel(std::string(kModes[state.range(0)]) + ", 1000 rules, " + (*db)->report().yara_prefilter);
}
BENCHMARK(BM_ScanYara)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The files under `root` named *`ext`, in name order, each read whole, until `budget` bytes.
std::vector<std::vector<uint8_t>> ReadFilesUnder(const char* root, std::string_view ext, size_t budget) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->path().extension() == ext && it->is_regular_file(ec)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::vector<uint8_t>> out;
  size_t total = 0;
  for (auto& f : files) {
    if (total >= budget) break;
    std::ifstream in(f, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    total += out.back().size();
  }
  return out;
}

size_t TotalBytes(const std::vector<std::vector<uint8_t>>& files) {
  size_t n = 0;
  for (const auto& f : files) n += f.size();
  return n;
}

// The HTML pages shipped under /usr/share (Debian package documentation: ~260 files, ~24 MB,
// hand-written and generated pages alike), each as one file, in a fixed order.
const std::vector<std::vector<uint8_t>>& HtmlPages() {
  static const auto pages = ReadFilesUnder("/usr/share", ".html", SIZE_MAX);
  return pages;
}
size_t HtmlBytes() { return TotalBytes(HtmlPages()); }

// Plain text as devices hold it: the C headers under /usr/include (indented source, comments),
// in name order, the first ~16 MiB.
const std::vector<std::vector<uint8_t>>& TextFiles() {
  static const auto files = ReadFilesUnder("/usr/include", ".h", 16u << 20);
  return files;
}

// ClamAV's text normaliser alone (the second pass over every text layer), file by file.
void BM_TextNormalize(benchmark::State& state) {
  const auto& files = TextFiles();
  if (files.empty()) return state.SkipWithError("no .h under /usr/include");
  std::vector<uint8_t> out;
  for (auto _ : state) {
    for (const auto& f : files) {
      if (out.size() < f.size() + 1) out.resize(f.size() + 1);
      benchmark::DoNotOptimize(NormalizeClamText(f, out.data()));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * TotalBytes(files)));
  state.counters["files"] = static_cast<double>(files.size());
}
BENCHMARK(BM_TextNormalize)->Unit(benchmark::kMillisecond)->UseRealTime();

// ClamAV-compatible HTML normalisation alone (both buffers), page by page.
void BM_HtmlNormalize(benchmark::State& state) {
  const auto& pages = HtmlPages();
  if (pages.empty()) return state.SkipWithError("no .html under /usr/share");
  HtmlNormalizer norm;
  for (auto _ : state) {
    for (const auto& p : pages) {
      norm.Run(p);
      benchmark::DoNotOptimize(norm.notags().data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * HtmlBytes()));
  state.counters["files"] = static_cast<double>(pages.size());
}
BENCHMARK(BM_HtmlNormalize)->Unit(benchmark::kMillisecond)->UseRealTime();

// The Scanner over the same pages with 1,000 body signatures: Arg 1 as clamscan (normalised
// buffers), Arg 0 with normalisation off (raw bytes, as before the normaliser existed).
void BM_ScanHtml(benchmark::State& state) {
  const auto& pages = HtmlPages();
  if (pages.empty()) return state.SkipWithError("no .html under /usr/share");
  DatabaseBuilder b;
  b.SetTextNormalization(state.range(0) != 0);
  if (!b.AddSource("bench.ndb", MakeNdb(1000, 42), false).ok()) return state.SkipWithError("sigs");
  auto db = b.Build();
  if (!db) return state.SkipWithError(db.error().c_str());
  Scanner scanner(*db);
  std::vector<Detection> out;
  for (auto _ : state)
    for (const auto& p : pages) (void)scanner.Scan(p, {}, &out);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * HtmlBytes()));
  state.SetLabel(state.range(0) ? "normalised" : "raw");
}
BENCHMARK(BM_ScanHtml)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Load = parse + compile, no cache.
void BM_LoadCold(benchmark::State& state) {
  std::string ndb = MakeNdb(static_cast<size_t>(state.range(0)), 7);
  for (auto _ : state) benchmark::DoNotOptimize(BuildDb(ndb));
}
BENCHMARK(BM_LoadCold)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond)->Iterations(2);

// Load with a warm compiled-pattern cache: parse only, Vectorscan database read from disk.
void BM_LoadWarm(benchmark::State& state) {
  std::string ndb = MakeNdb(static_cast<size_t>(state.range(0)), 7);
  const std::string dir = std::filesystem::temp_directory_path() / "avkey-bench-cache";
  std::filesystem::remove_all(dir);
  BuildDb(ndb, dir);  // fills the cache
  for (auto _ : state) {
    auto db = BuildDb(ndb, dir);
    if (db->report().cache_state != "hit") state.SkipWithError("cache not hit");
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_LoadWarm)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace avkey::engine

BENCHMARK_MAIN();
