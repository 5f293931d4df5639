// Fuzzes the parsed-signature cache reader (engine/parsed_cache.h). The input is the
// file; its checksum is fixed up first (else nearly every input stops there) and the
// identity it names is the one asked for, so the structure and the index checks behind
// them are what gets exercised. Whatever loads is then used: every name and text read,
// every pattern compiled and every .ldb line parsed, as a scan would.
// Seed: fuzz/seeds/parsed_cache_fuzz/small-set.avkc, written by `avkey db info --db DIR
// --cache CACHE` for a set of one hash, five .ndb lines (anywhere, n+shift, EOF-n, EP+0 with a
// PE target, a nibble at 0: four offset-pinned bodies with heads), four .ldb lines (::wa,
// PCRE, two pinned subsignatures, one broken) and an .fp line (fuzz/make_seeds.py does not
// write it: the layout is avkey's own structs). Write it again after a change of the format
// (last: format 5, 2026-11-30).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/database_impl.h"
#include "engine/file_io.h"
#include "engine/parsed_cache.h"

namespace fs = std::filesystem;
using namespace avkey::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("avkey-parsed-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  std::string file(reinterpret_cast<const char*>(data), size);
  std::string identity(64, '0');
  if (file.size() >= 64) {
    uint64_t meta = 0;
    std::memcpy(&meta, file.data() + 24, 8);
    if (meta <= file.size() && file.size() - meta >= 4 + 64) identity = file.substr(meta + 4, 64);
    const auto sum = CacheChecksum(std::string_view(file).substr(64));
    std::memcpy(file.data() + 40, sum.data(), sum.size());
  }
  for (char& c : identity) {
    if (c == '/' || c == '\0') c = '_';
  }
  const fs::path path = dir / (identity.substr(0, 32) + "-parsed.avkc");
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(file.data(), static_cast<std::streamsize>(file.size()));
  Database::Impl db;
  std::vector<ParsedSourceRecord> sources;
  avkey::Status s = LoadParsedCache(dir, identity, &db, &sources, nullptr, nullptr);
  fs::remove(path);
  if (!s.ok()) return 0;
  db.patterns.Reset(db.bodies.size());
  db.parsed_logicals.Reset(db.logicals.size());
  db.anchor_only.assign(db.bodies.size(), 0);
  size_t sum = 0;
  for (uint32_t i = 0; i < db.sigs.size(); ++i) sum += db.SigName(i).size();
  for (uint32_t i = 0; i < db.bodies.size(); ++i) sum += db.Pattern(i) != nullptr;
  for (uint32_t i = 0; i < db.logicals.size(); ++i) sum += db.Ldb(i) != nullptr;
  return sum == SIZE_MAX ? 1 : 0;
}
