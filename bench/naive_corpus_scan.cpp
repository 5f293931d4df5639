// A body set over a corpus, two ways, on the same in-memory bytes, one thread:
//  - naive: every .ndb pattern of SET as one regex in one Vectorscan block database
//    (naive_regex.h: offsets, targets and ClamAV's exact rules ignored; lines with
//    alternations or negations left out), over every file's raw bytes: no unpacking, no
//    normalisation, no verification. What no exact engine on Vectorscan can beat on that
//    corpus; bench/README.md uses it against issue 6's single-thread target.
//  - exact: every line of SET through avkey's engine (engine::Scanner: type detection,
//    targets, offsets, text/HTML normalisation, verification; nothing unpacked), issue 2's
//    "exact semantics on in-memory data" against that naive floor.
// Only the hs_scan / Scanner::Scan calls are timed; each file is read into memory first.
//   build/bench/naive_corpus_scan /var/tmp/avkey-bench/sets-seed1/body5k/bench.ndb /var/tmp/avkey-bench/corpus-500M
// Options: --exact-only (no naive pass: to profile the engine), --cache DIR (the engine's
// compiled-database cache, so a profile holds no compilation).
#include <hs/hs.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "avkey/engine/engine.h"
#include "naive_regex.h"

namespace {

void ReadFile(const std::filesystem::path& p, std::vector<char>* buf) {
  std::ifstream f(p, std::ios::binary);
  buf->resize(std::filesystem::file_size(p));
  f.read(buf->data(), static_cast<std::streamsize>(buf->size()));
  buf->resize(static_cast<size_t>(f.gcount()));
}

// Seconds spent in scan(bytes) over every file, and the bytes scanned.
template <typename Scan>
double TimeOver(const std::vector<std::filesystem::path>& files, size_t* total, Scan scan) {
  std::vector<char> buf;
  double secs = 0;
  *total = 0;
  for (const auto& p : files) {
    ReadFile(p, &buf);
    const auto t0 = std::chrono::steady_clock::now();
    scan(p, buf);
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    *total += buf.size();
  }
  return secs;
}

// The naive pass: seconds, or a negative number after printing why it could not run.
double Naive(const std::string& ndb, const std::vector<std::filesystem::path>& files, size_t* total) {
  const std::vector<std::string> regexes = avkey::bench::NaiveRegexes(ndb);
  std::string error;
  hs_database_t* db = avkey::bench::CompileNaive(regexes, HS_MODE_BLOCK, &error);
  if (db == nullptr) {
    std::fprintf(stderr, "compile: %s\n", error.c_str());
    return -1;
  }
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  unsigned long long hits = 0;
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
    ++*static_cast<unsigned long long*>(ctx);
    return 0;
  };
  const double secs = TimeOver(files, total, [&](const std::filesystem::path&, const std::vector<char>& buf) {
    hs_scan(db, buf.data(), static_cast<unsigned>(buf.size()), 0, scratch, on_match, &hits);
  });
  std::printf("naive: %zu patterns (of the set's lines without alternations), %zu files, %.1f MB: hs_scan %.2f s "
              "(%.0f MB/s), %llu matches\n",
              regexes.size(), files.size(), *total / 1e6, secs, *total / 1e6 / secs, hits);
  hs_free_scratch(scratch);
  hs_free_database(db);
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool exact_only = false;
  std::string cache;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--exact-only") {
      exact_only = true;
    } else if (args[i] == "--cache" && i + 1 < args.size()) {
      cache = args[++i];
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.size() != 2) {
    std::fprintf(stderr, "usage: naive_corpus_scan SET.ndb CORPUS_DIR [--exact-only] [--cache DIR]\n");
    return 64;
  }
  std::ifstream in(positional[0]);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(positional[1]))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());

  size_t total = 0;
  const double naive = exact_only ? 0 : Naive(text.str(), files, &total);
  if (naive < 0) return 1;

  avkey::engine::DatabaseBuilder builder;
  if (!cache.empty()) builder.SetCacheDirectory(cache);
  if (auto s = builder.AddSource(std::filesystem::path(positional[0]).filename().string(), text.str(), false);
      !s.ok()) {
    std::fprintf(stderr, "load: %s\n", s.message().c_str());
    return 1;
  }
  auto built = builder.Build();
  if (!built) {
    std::fprintf(stderr, "build: %s\n", built.error().c_str());
    return 1;
  }
  avkey::engine::Scanner scanner(*built);
  std::vector<avkey::engine::Detection> out;
  size_t detected = 0, errors = 0;
  const double exact = TimeOver(files, &total, [&](const std::filesystem::path& p, const std::vector<char>& buf) {
    const std::string name = p.filename().string(), path = p.string();
    avkey::engine::ScanContext context;
    context.file_name = name;
    context.file_path = path;
    const auto status =
        scanner.Scan(std::span(reinterpret_cast<const uint8_t*>(buf.data()), buf.size()), context, &out);
    errors += status.ok() ? 0 : 1;
    detected += out.empty() ? 0 : 1;
  });
  std::printf("exact: %u body signatures, %zu files, %.1f MB: Scanner::Scan %.2f s (%.0f MB/s",
              static_cast<unsigned>((*built)->report().body), files.size(), total / 1e6, exact, total / 1e6 / exact);
  if (naive > 0) std::printf(", %.0f%% of naive", 100.0 * naive / exact);
  std::printf("), %zu files detected, %zu scan errors\n", detected, errors);
  return errors == 0 ? 0 : 1;
}
