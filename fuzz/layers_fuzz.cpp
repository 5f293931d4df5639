// libFuzzer target for the container walker (src/scan/layers.h): the input is the whole
// content of one file; LayerScanner scans it with the engine and unpacks every layer that
// libarchive reads (zip, tar, 7z, rar, cab, iso, cpio, ar, lha, xar, warc and the gzip,
// bzip2, xz, zstd, lz4, lzip, lzma, compress, uu, rpm streams), recursively, within small
// budgets so that one input costs milliseconds to a few hundred at worst.
//
// Contract checks beyond memory safety: every incomplete outcome has a known code
// (STYLE.md: a budget is a named outcome, never silent), and the budgets hold.
//   fuzz/run.sh 120 layers_fuzz
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

#include "avkey/engine/engine.h"
#include "scan/layers.h"

namespace {

using avkey::engine::Database;

// Small budgets: depth 4, 64 members, 8 MiB unpacked, ratio 100 past 1 MiB, 5 s (the
// libFuzzer -timeout used by run.sh is 10 s, so a limit-time outcome is not a timeout).
avkey::scan::ArchiveLimits FuzzLimits() {
  avkey::scan::ArchiveLimits l;
  l.max_depth = 4;
  l.max_unpacked_bytes = 8ull << 20;
  l.max_entries = 64;
  l.max_ratio = 100;
  l.ratio_floor_bytes = 1ull << 20;
  l.max_time = std::chrono::milliseconds(5000);
  return l;
}

std::shared_ptr<const Database> BuildDatabase() {
  avkey::engine::DatabaseBuilder b;
  if (!avkey::engine::AddBuiltinSignatures(&b).ok()) __builtin_trap();
  // One body signature that seeds can carry inside archives ("AVKEY-FUZZ-INNER").
  if (!b.AddSource("fuzz.ndb", "Fuzz.Layers.Inner:0:*:41564b45592d46555a5a2d494e4e4552\n", false).ok())
    __builtin_trap();
  auto db = b.Build();
  if (!db) __builtin_trap();
  return *db;
}

bool KnownCode(const std::string& code) {
  static constexpr std::string_view kCodes[] = {
      "permission-denied", "vanished",       "io-error",        "too-large",          "not-found",
      "encrypted",         "limit-depth",    "limit-ratio",     "limit-unpacked",     "limit-entries",
      "limit-time",        "limit-script",   "corrupt-archive", "unsupported-format", "interrupted",
      "scan-error"};
  return std::find(std::begin(kCodes), std::end(kCodes), code) != std::end(kCodes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const avkey::scan::ArchiveLimits limits = FuzzLimits();
  static avkey::scan::LayerScanner* scanner =
      new avkey::scan::LayerScanner(BuildDatabase(), limits, std::stop_token());
  // The top-level name only matters for naming a single compressed stream's member
  // ("x.tgz" -> "x.tar"); vary it without spending input bytes.
  static const std::string kNames[] = {"/fuzz/input", "/fuzz/input.gz", "/fuzz/input.tgz",
                                       "/fuzz/input.tar.xz", "/fuzz/input.Z", "/fuzz/.gz"};
  const std::string& path = kNames[size % (sizeof kNames / sizeof *kNames)];

  avkey::scan::FileResults out;
  scanner->ScanFile(path, "root", std::span<const uint8_t>(data, size), &out);

  for (const auto& item : out.incomplete) {
    if (!KnownCode(item.code)) __builtin_trap();
    if (item.members.size() > limits.max_depth + 1) __builtin_trap();
  }
  for (const auto& d : out.detections) {
    if (d.members.size() > limits.max_depth) __builtin_trap();
    if (d.sha256.size() != 64) __builtin_trap();
  }
  if (out.members > limits.max_entries) __builtin_trap();
  return 0;
}
