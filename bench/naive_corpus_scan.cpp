// The naive floor of a body set over a corpus: every .ndb pattern of SET as one regex in one
// Vectorscan block database (naive_regex.h: offsets, targets and ClamAV's exact rules ignored;
// lines with alternations or negations left out), scanned over every file's raw bytes (no
// unpacking, no normalisation, no verification). What no exact engine on Vectorscan can beat
// on that corpus; bench/README.md uses it against issue 6's single-thread target.
//   build/bench/naive_corpus_scan /var/tmp/avkey-bench/sets-seed1/body5k/bench.ndb /var/tmp/avkey-bench/corpus-500M
//   -> "4672 patterns ..., 9392 files, 507.4 MB: hs_scan 0.67 s (763 MB/s), 3 matches" (2026-11-30)
#include <hs/hs.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "naive_regex.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: naive_corpus_scan SET.ndb CORPUS_DIR\n");
    return 64;
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<std::string> regexes = avkey::bench::NaiveRegexes(text.str());
  std::string error;
  hs_database_t* db = avkey::bench::CompileNaive(regexes, HS_MODE_BLOCK, &error);
  if (db == nullptr) {
    std::fprintf(stderr, "compile: %s\n", error.c_str());
    return 1;
  }
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(argv[2]))
    if (e.is_regular_file()) files.push_back(e.path());
  std::vector<char> buf;
  size_t total = 0;
  double secs = 0;
  unsigned long long hits = 0;
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
    ++*static_cast<unsigned long long*>(ctx);
    return 0;
  };
  for (const auto& p : files) {
    std::ifstream f(p, std::ios::binary);
    buf.assign(std::istreambuf_iterator<char>(f), {});
    const auto t0 = std::chrono::steady_clock::now();
    hs_scan(db, buf.data(), static_cast<unsigned>(buf.size()), 0, scratch, on_match, &hits);
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total += buf.size();
  }
  std::printf("%zu patterns (of the set's lines without alternations), %zu files, %.1f MB: hs_scan %.2f s "
              "(%.0f MB/s), %llu matches\n",
              regexes.size(), files.size(), total / 1e6, secs, total / 1e6 / secs, hits);
  hs_free_scratch(scratch);
  hs_free_database(db);
}
