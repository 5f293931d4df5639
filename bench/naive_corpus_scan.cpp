// The naive floor of a body set over a corpus: every .ndb pattern of SET as one regex in one
// Vectorscan block database (offsets, targets and ClamAV's exact rules ignored; lines with
// alternations or negations left out), scanned over every file's raw bytes (no unpacking, no
// normalisation, no verification). What no exact engine on Vectorscan can beat on that corpus.
//   g++ -O2 -std=c++20 -o /tmp/naive_corpus_scan tools/naive_corpus_scan.cpp -lhs
//   /tmp/naive_corpus_scan /var/tmp/avkey-bench/sets-seed1/body5k/bench.ndb /var/tmp/avkey-bench/corpus-500M
//   -> "4672 patterns ..., 9392 files, 507.4 MB: hs_scan 0.67 s (763 MB/s), 3 matches" (2026-11-30)
// Not built by CMake: a measurement for bench/README.md, not a test.
#include <hs/hs.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: naive_corpus_scan SET.ndb CORPUS_DIR\n");
    return 64;
  }
  std::ifstream in(argv[1]);
  std::vector<std::string> regexes;
  for (std::string line; std::getline(in, line);) {
    auto hex = line.substr(line.rfind(':') + 1);
    std::string re;
    bool ok = true;
    for (size_t i = 0; i < hex.size();) {
      if (hex[i] == '{') { size_t c = hex.find('}', i); std::string g = hex.substr(i + 1, c - i - 1); auto d = g.find('-');
        if (d == std::string::npos) re += ".{" + g + "}"; else if (d == 0) re += ".{0," + g.substr(1) + "}"; else if (d + 1 == g.size()) re += ".{" + g.substr(0, d) + ",}"; else re += ".{" + g.substr(0, d) + "," + g.substr(d + 1) + "}"; i = c + 1; }
      else if (hex[i] == '*') { re += ".*"; i += 1; }
      else if (hex[i] == '?' ) { re += "."; i += 2; }
      else if (hex[i] == '(' || hex[i] == ')' || hex[i] == '|' || hex[i] == '[' || hex[i] == '!') { ok = false; break; }
      else { re += "\\x" + hex.substr(i, 2); i += 2; }
    }
    if (ok && !re.empty()) regexes.push_back(re);
  }
  std::vector<const char*> e; std::vector<unsigned> f, id;
  for (auto& r : regexes) { e.push_back(r.c_str()); f.push_back(HS_FLAG_DOTALL); id.push_back(id.size()); }
  hs_database_t* db = nullptr; hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(e.data(), f.data(), id.data(), e.size(), HS_MODE_BLOCK, nullptr, &db, &err)) { printf("compile: %s\n", err->message); return 1; }
  hs_scratch_t* s = nullptr; hs_alloc_scratch(db, &s);
  std::vector<std::filesystem::path> files;
  for (auto& p : std::filesystem::recursive_directory_iterator(argv[2])) if (p.is_regular_file()) files.push_back(p.path());
  std::vector<char> buf; size_t total = 0; double secs = 0; unsigned long long hits = 0;
  for (auto& p : files) {
    std::ifstream fi(p, std::ios::binary); buf.assign(std::istreambuf_iterator<char>(fi), {});
    auto t0 = std::chrono::steady_clock::now();
    hs_scan(db, buf.data(), buf.size(), 0, s, [](unsigned, unsigned long long, unsigned long long, unsigned, void* c) { ++*static_cast<unsigned long long*>(c); return 0; }, &hits);
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total += buf.size();
  }
  printf("%zu patterns (of the set's lines without alternations), %zu files, %.1f MB: hs_scan %.2f s (%.0f MB/s), %llu matches\n", regexes.size(), files.size(), total / 1e6, secs, total / 1e6 / secs, hits);
}
